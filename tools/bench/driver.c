/* SPDX-License-Identifier: MIT */
/*
 * bench: childwatch against bare libc. How a run is structured:
 *
 * The driver (this file) sheds any LD_PRELOAD of its own, then builds one
 * config per measured mode: its name and the environment its processes
 * get (LD_PRELOAD and CHILDWATCH_MODE; LD_PRELOAD of build/empty.so alone
 * for empty, the floor any preloaded library pays; neither for bare).
 *
 * The C micro-workloads (workloads.c) run one after the other. Each
 * measurement is a fresh worker, a re-exec of this program with --run
 * (worker.c), started in the config's environment; it checks that the
 * preload is really there or really absent, runs the workload once and
 * writes its figures to a pipe, and the driver takes its peak RSS from
 * wait4. Repetitions interleave the configs (rep 1: bare, safe, fast, ...;
 * rep 2: bare, safe, ...), so that a machine that slows down over the run
 * slows them all alike, and the tables (output.c) show the median over
 * repetitions and its ratio to bare's.
 *
 * The real programs (real.c) run last, one program after the other. The
 * driver launches each itself, in its own process group, in every config
 * of that table: bare, an empty preloaded library (build/empty.so, the
 * floor of LD_PRELOAD), off and the modes, each checked first by what cat
 * has mapped under it. After one uncounted warm-up run in bare, the
 * repetitions alternate the configs in the same way. Wall time runs from
 * the launch to wait4's return; CPU time is the user and system time wait4
 * reports for the process and every descendant it waited for. A program
 * that is not installed is skipped with the reason; one that exits with
 * any status but 0, in any config, fails the run instead of being timed.
 *
 * Every raw figure goes to the CSV as it comes; the exit status is 1 if
 * any worker or program failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int configs_build(struct bench *b)
{
	const struct options *o = b->opt;
	bool pidfd = false;

	for (int i = 0; i < o->nmodes; i++) {
		struct config *c = &b->configs[b->nconfigs++];
		bool bare = strcmp(o->modes[i], "bare") == 0;
		bool empty = strcmp(o->modes[i], "empty") == 0;

		snprintf(c->name, sizeof c->name, "%s", o->modes[i]);
		snprintf(c->label, sizeof c->label, "%s", o->modes[i]);
		c->lib = bare ? NULL : empty ? b->empty_lib : b->lib;
		c->mode = bare || empty ? NULL : o->modes[i];
		pidfd |= strcmp(o->modes[i], "pidfd") == 0;
	}
	b->nconfigs_memory = b->nconfigs;
	if (pidfd && b->nconfigs < CONFIGS_MAX) {
		struct config *c = &b->configs[b->nconfigs_memory++];

		snprintf(c->name, sizeof c->name, "pidfd-nofile%d",
			 NOFILE_SMALL);
		snprintf(c->label, sizeof c->label, "pidfd (nofile %d)",
			 NOFILE_SMALL);
		c->lib = b->lib;
		c->mode = "pidfd";
		c->nofile = NOFILE_SMALL;
	}
	for (int i = 0; i < b->nconfigs_memory; i++)
		if (config_env(&b->configs[i], o->trace) < 0)
			return -1;
	return 0;
}

static void configs_free(struct bench *b)
{
	for (int i = 0; i < b->nconfigs_memory; i++)
		free(b->configs[i].envp);
}

static int values_expected(const struct bench *b, enum workload wl)
{
	return wl == WL_SCALE ? 2 * b->opt->nscale : wl == WL_MEMORY ? 4 : 1;
}

static int values_parse(const char *s, double *v)
{
	int n = 0;
	char *end;

	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\n' || !*s)
			return *s == '\n' ? n : -1;
		if (n == VALUES_MAX)
			return -1;
		v[n++] = strtod(s, &end);
		if (end == s)
			return -1;
		s = end;
	}
}

static void worker_run(struct bench *b, const struct config *cfg,
		       enum workload wl, int rep, struct run *run)
{
	char count[16], list[LIST_MAX * 12] = "-", nofile[24], buf[1024];
	char *argv[] = { "bench", "--run", (char *)workload_names[wl],
			 (char *)cfg->name, count, list, nofile, NULL };
	struct rusage ru;
	bool in_time;
	int p[2], status;
	pid_t pid;

	snprintf(count, sizeof count, "%d", workload_count(b->opt, wl));
	snprintf(nofile, sizeof nofile, "%ld", cfg->nofile);
	for (int i = 0, len = 0; wl == WL_SCALE && i < b->opt->nscale; i++)
		len += snprintf(list + len, sizeof list - len, "%s%d",
				i ? "," : "", b->opt->scale[i]);
	run->ok = false;
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "bench: pipe: %s\n", strerror(errno));
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* Its own group, so that a timeout kills its children too;
		 * and it dies with the driver rather than run on alone. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (p[1] == REPORT_FD)
			fcntl(p[1], F_SETFD, 0);
		else
			dup2(p[1], REPORT_FD);
		execve("/proc/self/exe", argv, cfg->envp);
		fprintf(stderr, "bench: exec of /proc/self/exe: %s\n",
			strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		fprintf(stderr, "bench: fork of a worker: %s\n",
			strerror(errno));
		close(p[0]);
		return;
	}
	in_time = pipe_read_all(p[0], pid,
				clock_ns() + WORKER_TIMEOUT_S * 1000000000LL,
				buf, sizeof buf);
	close(p[0]);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "bench: wait4 for a worker: %s\n",
				strerror(errno));
			return;
		}
	}
	run->maxrss_kib = ru.ru_maxrss;
	run->nv = values_parse(buf, run->v);
	if (!in_time)
		fprintf(stderr, "bench: %s in %s, rep %d: worker killed after "
				"%d s\n",
			workload_names[wl], cfg->label, rep + 1,
			WORKER_TIMEOUT_S);
	else if (WIFSIGNALED(status))
		fprintf(stderr, "bench: %s in %s, rep %d: worker killed by "
				"signal %d (%s)\n",
			workload_names[wl], cfg->label, rep + 1,
			WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status))
		fprintf(stderr, "bench: %s in %s, rep %d: worker exited with "
				"status %d\n",
			workload_names[wl], cfg->label, rep + 1,
			WEXITSTATUS(status));
	else if (run->nv != values_expected(b, wl))
		fprintf(stderr, "bench: %s in %s, rep %d: worker reported %d "
				"figures, not %d\n",
			workload_names[wl], cfg->label, rep + 1, run->nv,
			values_expected(b, wl));
	else
		run->ok = true;
	if (!run->ok)
		b->failures++;
}

static int reps_of(const struct options *o, enum workload wl)
{
	return wl == WL_SCALE || wl == WL_MEMORY ? o->heavy_reps : o->reps;
}

/* Repetitions interleave the configurations, so that a machine that slows
 * down over the run slows them all alike. */
static void workload_run(struct bench *b, enum workload wl)
{
	const struct options *o = b->opt;
	int nc = wl == WL_MEMORY ? b->nconfigs_memory : b->nconfigs;
	int reps = reps_of(o, wl);
	struct run *runs = calloc(nc * reps, sizeof *runs);
	int64_t t0 = clock_ns();

	if (!runs) {
		fprintf(stderr, "bench: out of memory\n");
		b->failures++;
		return;
	}
	for (int rep = 0; rep < reps; rep++) {
		for (int c = 0; c < nc; c++) {
			struct run *run = &runs[c * reps + rep];

			worker_run(b, &b->configs[c], wl, rep, run);
			csv_run(b, wl, &b->configs[c], rep, run);
		}
	}
	fprintf(stderr, "bench: %s: %d workers in %.1f s\n",
		workload_names[wl], nc * reps, (clock_ns() - t0) / 1e9);
	if (wl == WL_SCALE)
		table_scale(b, runs);
	else if (wl == WL_MEMORY)
		table_memory(b, runs);
	else
		table_time(b, wl, runs);
	fflush(stdout);
	free(runs);
}

/* The driver itself must not be mediated, whatever the caller preloaded. */
static void preload_shed(char **argv)
{
	const char *preload = getenv("LD_PRELOAD");

	if (!preload || !*preload)
		return;
	unsetenv("LD_PRELOAD");
	execv("/proc/self/exe", argv);
	fprintf(stderr, "bench: re-exec without LD_PRELOAD: %s\n",
		strerror(errno));
	exit(1);
}

static int self_dir(char *dir, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n < 0) {
		fprintf(stderr, "bench: /proc/self/exe: %s\n", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	snprintf(dir, size, "%s", dirname(self));
	return 0;
}

static int path_beside(char path[PATH_MAX], const char *dir, const char *stem,
		       const char *suffix)
{
	if (snprintf(path, PATH_MAX, "%s/%s%s", dir, stem, suffix) < PATH_MAX)
		return 0;
	fprintf(stderr, "bench: %s/%s%s: path too long\n", dir, stem, suffix);
	return -1;
}

static bool lib_missing(const char *lib, bool needed)
{
	if (!needed || access(lib, R_OK) == 0)
		return false;
	fprintf(stderr, "bench: %s: %s (run make first)\n", lib,
		strerror(errno));
	return true;
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX], csv[PATH_MAX], plot[PATH_MAX];
	struct bench b = { .nconfigs = 0 };
	const char *stem;
	struct options o;
	int r = 1;
	int64_t t0 = clock_ns();
	bool mediated = false, empty;

	if (argc > 1 && strcmp(argv[1], "--run") == 0)
		return worker_main(argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "--idle") == 0)
		return idle_main();
	preload_shed(argv);
	if (options_parse(&o, argc, argv) < 0)
		return 2;
	if (self_dir(dir, sizeof dir) < 0)
		return 1;
	/* A smoke run leaves a real run's results alone. */
	stem = o.smoke ? "bench-smoke" : "bench";
	if (path_beside(csv, dir, stem, ".csv") < 0 ||
	    path_beside(plot, dir, stem, "-scale.png") < 0 ||
	    path_beside(b.lib, dir, "libchildwatch", ".so") < 0 ||
	    path_beside(b.empty_lib, dir, "empty", ".so") < 0)
		return 1;
	o.csv = o.csv ? o.csv : csv;
	o.plot = o.plot ? o.plot : plot;
	b.opt = &o;
	empty = o.workloads & 1u << WL_REAL;
	for (int i = 0; i < o.nmodes; i++) {
		mediated |= strcmp(o.modes[i], "bare") != 0 &&
			    strcmp(o.modes[i], "empty") != 0;
		empty |= strcmp(o.modes[i], "empty") == 0;
	}
	if (lib_missing(b.lib, mediated || o.workloads & 1u << WL_REAL) ||
	    lib_missing(b.empty_lib, empty))
		return 1;
	if (configs_build(&b) < 0)
		goto out_free;
	b.csv = fopen(o.csv, "we");
	if (!b.csv) {
		fprintf(stderr, "bench: %s: %s\n", o.csv, strerror(errno));
		goto out_free;
	}
	fputs("workload,config,param,rep,value,unit\n", b.csv);
	header_print(&b, argc, argv);
	for (int wl = 0; wl < WL_REAL; wl++)
		if (o.workloads & 1u << wl)
			workload_run(&b, wl);
	if (o.workloads & 1u << WL_REAL)
		real_table(&b);
	if (fclose(b.csv) != 0) {
		fprintf(stderr, "bench: %s: %s\n", o.csv, strerror(errno));
		b.failures++;
	}
	plot_render(&b);
	if (o.workloads & ~(1u << WL_REAL))
		printf("Targets: %d met, %d NOT met. ", b.met, b.missed);
	printf("Wall time %.0f s.\n", (clock_ns() - t0) / 1e9);
	if (b.failures)
		fprintf(stderr, "bench: %d failure%s: see the lines above\n",
			b.failures, b.failures == 1 ? "" : "s");
	else
		r = 0;
out_free:
	configs_free(&b);
	return r;
}
