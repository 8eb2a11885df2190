/* SPDX-License-Identifier: MIT */
/*
 * The real programs: shells, build tools and interpreters run whole, as a
 * user runs them, with every process of the tree under the config's
 * preload. The driver launches them itself; driver.c says how a run goes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define REAL_TIMEOUT_S 120
#define REAL_ARGS_MAX  4
#define SH_LOOP                                                               \
	"i=0; while [ $i -lt %d ]; do /bin/true || exit 1; i=$((i + 1)); done"

struct real_prog {
	const char *name;
	const char *exe; /* looked up on PATH unless absolute */
	/* printf formats, each given the iteration count */
	const char *args[REAL_ARGS_MAX];
	const char *what;
	int div; /* iterations: N / div (0: 1), at least 1 */
	bool launches; /* the driver launches exe itself, N times */
	/* An interpreter's arguments that print its own path: a version
	 * manager's shim on PATH would otherwise be timed with it. */
	const char *which[2];
	/* A file the program reads from its working directory: stdin, or
	 * one that write_input writes. */
	const char *input;
	bool input_is_stdin;
	void (*write_input)(FILE *f, int n);
};

static void make_write(FILE *f, int n)
{
	fputs(".PHONY: all", f);
	for (int i = 0; i < n; i++)
		fprintf(f, " t%d", i);
	fputs("\nall:", f);
	for (int i = 0; i < n; i++)
		fprintf(f, " t%d", i);
	fputs("\n", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "t%d:\n\t/bin/true\n", i);
}

/* The outputs are never made, so that every run builds them all again. */
static void ninja_write(FILE *f, int n)
{
	fputs("rule true\n  command = /bin/true\n", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "build o%d: true\n", i);
}

static void lines_write(FILE *f, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(f, "%d\n", i);
}

static const struct real_prog progs[] = {
	{ .name = "true", .exe = "/bin/true", .launches = true,
	  .what = "launched N times by the driver" },
	{ .name = "bash", .exe = "bash", .args = { "-c", SH_LOOP },
	  .what = "N runs of /bin/true" },
	{ .name = "dash", .exe = "dash", .args = { "-c", SH_LOOP },
	  .what = "N runs of /bin/true" },
	{ .name = "make", .exe = "make", .args = { "-r", "-s", "-j2" },
	  .what = "N phony targets, each /bin/true", .input = "Makefile",
	  .write_input = make_write },
	{ .name = "ninja", .exe = "ninja", .args = { "-j2" },
	  .what = "N targets, each /bin/true (through sh)",
	  .input = "build.ninja", .write_input = ninja_write },
	{ .name = "xargs", .exe = "xargs",
	  .args = { "-P2", "-n1", "/bin/true" },
	  .what = "N lines on stdin", .input = "lines",
	  .input_is_stdin = true, .write_input = lines_write },
	{ .name = "python3", .exe = "python3",
	  .args = { "-c", "import subprocess; [subprocess.run([\"/bin/true\"], "
			  "check=True) for _ in range(%d)]" },
	  .what = "N calls of subprocess.run",
	  .which = { "-c", "import sys; print(sys.executable)" } },
	{ .name = "perl-system", .exe = "perl",
	  .args = { "-e", "for (1 .. %d) { system(\"/bin/true\") == 0 or "
			  "die \"status $?\" }" },
	  .what = "N calls of system()", .which = { "-e", "print $^X" } },
	{ .name = "perl-backticks", .exe = "perl",
	  .args = { "-e", "for (1 .. %d) { my $out = `/bin/true`; $? == 0 or "
			  "die \"status $?\" }" },
	  .what = "N backticks", .which = { "-e", "print $^X" } },
	{ .name = "node-sync", .exe = "node",
	  .args = { "-e", "const cp = require(\"child_process\"); "
			  "for (let i = 0; i < %d; i++) "
			  "cp.execFileSync(\"/bin/true\");" },
	  .what = "N calls of execFileSync",
	  .which = { "-e", "console.log(process.execPath)" } },
	{ .name = "node-async", .exe = "node",
	  .args = { "-e", "const cp = require(\"child_process\"); let n = %d; "
			  "const next = () => { if (n-- > 0) "
			  "cp.execFile(\"/bin/true\", (e) => { if (e) throw e; "
			  "next(); }); }; next();" },
	  .what = "N calls of execFile, each from the last one's callback",
	  .which = { "-e", "console.log(process.execPath)" } },
	{ .name = "pipeline", .exe = "bash",
	  .args = { "-c", "set -o pipefail; i=0; while [ $i -lt %d ]; do "
			  "seq 100 | sort -r | uniq | wc -l >/dev/null || "
			  "exit 1; i=$((i + 1)); done" },
	  .what = "N/4 pipelines of 4 processes", .div = 4 },
};

#define REAL_COUNT (int)(sizeof progs / sizeof *progs)

/* A program as this run uses it. */
struct real_use {
	const struct real_prog *p;
	char path[PATH_MAX];
	char argbuf[REAL_ARGS_MAX][1024];
	char *argv[REAL_ARGS_MAX + 2];
	int iters;
	const char *skip; /* why it is not measured, or NULL */
};

struct real_ctx {
	struct bench *b;
	struct config configs[CONFIGS_MAX];
	int nconfigs;
	char dir[PATH_MAX]; /* the programs' working directory */
	int null_fd;
};

int real_find(const char *name)
{
	for (int i = 0; i < REAL_COUNT; i++)
		if (strcmp(name, progs[i].name) == 0)
			return i;
	return -1;
}

/* Starts path in its own process group, so that a timeout kills its
 * descendants too, in the scratch directory, with stdin from in (or
 * /dev/null) and stdout to out. */
static int real_spawn(const struct real_ctx *x, const char *path,
		      char *const argv[], char *const envp[], const char *in,
		      int out, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawn_file_actions_addchdir_np(&fa, x->dir);
	posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	r = posix_spawn(pid, path, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/* Reaps pid, killing its group at the deadline: -ETIMEDOUT then. */
static int real_wait(pid_t pid, int64_t deadline, int *status,
		     struct rusage *ru)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);
	bool late = false;

	while (fd >= 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left_ms = (deadline - clock_ns()) / 1000000;
		int r;

		if (left_ms <= 0) {
			late = true;
			kill(-pid, SIGKILL);
			break;
		}
		r = poll(&pfd, 1, left_ms);
		if (r > 0 || (r < 0 && errno != EINTR))
			break;
	}
	if (fd >= 0)
		close(fd);
	while (wait4(pid, status, 0, ru) < 0)
		if (errno != EINTR)
			return -errno;
	return late ? -ETIMEDOUT : 0;
}

/* Runs argv to its end with stdout into buf: 0 if it exited 0. */
static int real_capture(const struct real_ctx *x, const char *path,
			char *const argv[], char *const envp[], char *buf,
			size_t size)
{
	int64_t deadline = clock_ns() + REAL_TIMEOUT_S * 1000000000LL;
	struct rusage ru;
	int p[2], r, status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	r = real_spawn(x, path, argv, envp, NULL, p[1], &pid);
	close(p[1]);
	if (r == 0 && !pipe_read_all(p[0], pid, deadline, buf, size))
		r = -ETIMEDOUT;
	close(p[0]);
	if (r == 0 || r == -ETIMEDOUT) {
		int w = real_wait(pid, deadline, &status, &ru);

		r = r ? r : w ? w : status_is(status, 0) ? 0 : -ECHILD;
	}
	return r;
}

/* A preload that failed to load would time bare libc under a mode's name;
 * cat shows what its own process has mapped. */
static int real_preload_check(struct real_ctx *x, const struct config *c)
{
	static char *const argv[] = { "cat", "/proc/self/maps", NULL };
	char maps[64 * 1024];
	const char *libs[] = { x->b->lib, x->b->empty_lib };
	int r = real_capture(x, "/bin/cat", argv, c->envp, maps, sizeof maps);

	if (r < 0) {
		fprintf(stderr, "bench: real: cat /proc/self/maps in %s: %s\n",
			c->label, strerror(-r));
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		bool want = c->lib && strcmp(c->lib, libs[i]) == 0;
		bool have = strstr(maps, libs[i]) != NULL;

		if (want != have) {
			fprintf(stderr, "bench: real: %s %s %s loaded\n",
				c->label, have ? "has" : "does not have",
				libs[i]);
			return -1;
		}
	}
	return 0;
}

/* The configs real_configs_build puts first, then the modes asked. */
enum { REAL_BARE, REAL_EMPTY, REAL_OFF, REAL_FIXED };

static int real_configs_build(struct real_ctx *x)
{
	const struct options *o = x->b->opt;
	const char *fixed[] = { [REAL_BARE] = "bare", [REAL_EMPTY] = "empty",
				[REAL_OFF] = "off" };

	for (int i = 0; i < REAL_FIXED; i++) {
		struct config *c = &x->configs[x->nconfigs++];

		snprintf(c->name, sizeof c->name, "%s", fixed[i]);
		c->lib = i == REAL_BARE  ? NULL :
			 i == REAL_EMPTY ? x->b->empty_lib :
					   x->b->lib;
		c->mode = i == REAL_OFF ? "off" : NULL;
	}
	for (int i = 0; i < o->nmodes && x->nconfigs < CONFIGS_MAX; i++) {
		struct config *c = &x->configs[x->nconfigs];

		if (!strcmp(o->modes[i], "bare") ||
		    !strcmp(o->modes[i], "empty") || !strcmp(o->modes[i], "off"))
			continue;
		snprintf(c->name, sizeof c->name, "%s", o->modes[i]);
		c->lib = x->b->lib;
		c->mode = o->modes[i];
		x->nconfigs++;
	}
	for (int i = 0; i < x->nconfigs; i++) {
		struct config *c = &x->configs[i];

		snprintf(c->label, sizeof c->label, "%s", c->name);
		if (config_env(c, NULL) < 0 || real_preload_check(x, c) < 0)
			return -1;
	}
	return 0;
}

static int real_input_write(const struct real_ctx *x, const struct real_use *u)
{
	char path[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", x->dir, u->p->input);
	f = fopen(path, "we");
	if (f) {
		u->p->write_input(f, u->iters);
		if (fclose(f) == 0)
			return 0;
	}
	fprintf(stderr, "bench: real: %s: %s\n", path, strerror(errno));
	return -1;
}

/* Finds the program and builds its command line; u->skip says why not. */
static int real_use_init(struct real_ctx *x, struct real_use *u,
			 const struct real_prog *p)
{
	int n = x->b->opt->real_n / (p->div ? p->div : 1), k = 0;

	*u = (struct real_use){ .p = p };
	u->iters = n > 0 ? n : 1;
	if (p->exe[0] == '/')
		snprintf(u->path, sizeof u->path, "%s", p->exe);
	if (p->exe[0] == '/' ? access(u->path, X_OK) < 0 :
			       !path_find(p->exe, u->path)) {
		u->skip = "not installed";
		return 0;
	}
	if (p->which[0]) {
		char *argv[] = { (char *)p->exe, (char *)p->which[0],
				 (char *)p->which[1], NULL };
		char out[PATH_MAX];

		if (real_capture(x, u->path, argv, x->configs[0].envp, out,
				 sizeof out) < 0 ||
		    !*out) {
			u->skip = "does not run";
			return 0;
		}
		out[strcspn(out, "\n")] = '\0';
		snprintf(u->path, sizeof u->path, "%s", out);
	}
	u->argv[k++] = (char *)p->exe;
	for (int i = 0; i < REAL_ARGS_MAX && p->args[i]; i++) {
		snprintf(u->argbuf[i], sizeof u->argbuf[i], p->args[i],
			 u->iters);
		u->argv[k++] = u->argbuf[i];
	}
	u->argv[k] = NULL;
	return p->write_input ? real_input_write(x, u) : 0;
}

static double timeval_ms(struct timeval tv)
{
	return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

/* One run of u in c: v[0] its wall time, v[1] its tree's CPU time (ms). */
static void real_measure(struct real_ctx *x, const struct real_use *u,
			 const struct config *c, int rep, struct run *run)
{
	int launches = u->p->launches ? u->iters : 1;
	int64_t t0 = clock_ns();
	int64_t deadline = t0 + REAL_TIMEOUT_S * 1000000000LL;
	const char *in = u->p->input_is_stdin ? u->p->input : NULL;
	double cpu = 0;

	*run = (struct run){ .ok = false };
	for (int i = 0; i < launches; i++) {
		struct rusage ru;
		int r, status = 0;
		pid_t pid;

		r = real_spawn(x, u->path, u->argv, c->envp, in, x->null_fd,
			       &pid);
		if (r == 0)
			r = real_wait(pid, deadline, &status, &ru);
		if (r < 0 || !status_is(status, 0)) {
			fprintf(stderr, "bench: real: %s in %s, %s %d: ",
				u->p->name, c->label,
				rep < 0 ? "warm-up" : "rep", rep + 1);
			if (r == -ETIMEDOUT)
				fprintf(stderr, "killed after %d s\n",
					REAL_TIMEOUT_S);
			else if (r < 0)
				fprintf(stderr, "%s\n", strerror(-r));
			else if (WIFSIGNALED(status))
				fprintf(stderr, "killed by signal %d (%s)\n",
					WTERMSIG(status),
					strsignal(WTERMSIG(status)));
			else
				fprintf(stderr, "exited with status %d\n",
					WEXITSTATUS(status));
			return;
		}
		cpu += timeval_ms(ru.ru_utime) + timeval_ms(ru.ru_stime);
	}
	run->v[0] = (clock_ns() - t0) / 1e6;
	run->v[1] = cpu;
	run->nv = 2;
	run->ok = true;
}

/* The command as a Markdown code span; its scripts hold no single quote. */
static void real_legend(const struct real_use *u)
{
	printf("- %s: %s", u->p->name, u->p->what);
	if (u->skip) {
		printf(", skipped: %s is %s\n", u->p->exe, u->skip);
		return;
	}
	printf(", ``");
	for (int i = 0; u->argv[i]; i++)
		printf(strchr(u->argv[i], ' ') ? " '%s'" : " %s", u->argv[i]);
	if (u->p->input_is_stdin)
		printf(" <%s", u->p->input);
	printf(" `` (%s)\n", u->path);
}

/*
 * runs' CPU time over empty's, rep by rep: the host's drift between reps,
 * larger here than what is measured, cancels in each pair. The median of
 * the ratios, and the order statistics n/2 -+ 1.96 sqrt(n)/2, which hold it
 * whatever the distribution with at least 95 % confidence from 6 reps on
 * (96.5 % at 15); below 6 they are the extremes (94 % at 5, 88 % at 4).
 */
static void paired_print(const struct run *runs, const struct run *empty,
			 int reps)
{
	double *v = malloc(reps * sizeof *v), m;
	int n = 0, lo, hi;

	for (int rep = 0; v && rep < reps; rep++)
		if (runs[rep].ok && empty[rep].ok)
			v[n++] = runs[rep].v[1] / empty[rep].v[1];
	m = v ? median(v, n) : NAN;
	if (isnan(m)) {
		cell_print(m, "");
	} else {
		lo = (int)lround(n / 2.0 - 0.98 * sqrt(n)) - 1;
		hi = (int)lround(1 + n / 2.0 + 0.98 * sqrt(n)) - 1;
		printf(" %.3f (%.3f to %.3f) |", m, v[lo < 0 ? 0 : lo],
		       v[hi < n ? hi : n - 1]);
	}
	free(v);
}

static void real_rows(struct real_ctx *x, const struct real_use *u,
		      struct run *runs)
{
	int reps = x->b->opt->reps;
	double base[2][2];

	for (int k = 0; k < 2; k++) {
		base[k][0] = runs_median(runs + REAL_BARE * reps, reps, k);
		base[k][1] = runs_median(runs + REAL_EMPTY * reps, reps, k);
	}
	for (int c = 0; c < x->nconfigs; c++) {
		printf("| %s | %s |", u->p->name, x->configs[c].label);
		for (int k = 0; k < 2; k++) {
			double m = runs_median(runs + c * reps, reps, k);

			cell_print(m, "%.1f");
			cell_print(m / base[k][0], "%.2f");
			cell_print(m / base[k][1], "%.2f");
		}
		paired_print(runs + c * reps, runs + REAL_EMPTY * reps, reps);
		printf("\n");
	}
}

static void real_program(struct real_ctx *x, const struct real_use *u)
{
	const struct options *o = x->b->opt;
	char name[64];
	struct run *runs = calloc(x->nconfigs * o->reps, sizeof *runs);
	int64_t t0 = clock_ns();

	if (!runs) {
		fprintf(stderr, "bench: out of memory\n");
		x->b->failures++;
		return;
	}
	snprintf(name, sizeof name, "real-%s", u->p->name);
	/* Not counted: the first config timed would pay for loading the
	 * program's files into the page cache. */
	if (!o->smoke) {
		real_measure(x, u, &x->configs[0], -1, runs);
		x->b->failures += !runs->ok;
	}
	for (int rep = 0; rep < o->reps; rep++) {
		/* Each config first in turn: none always runs just after
		 * the same one, or on a host just warmed up. */
		for (int k = 0; k < x->nconfigs; k++) {
			int c = (k + rep) % x->nconfigs;
			struct run *run = &runs[c * o->reps + rep];
			const struct config *cfg = &x->configs[c];

			real_measure(x, u, cfg, rep, run);
			x->b->failures += !run->ok;
			csv_row(x->b, name, cfg, u->iters, rep,
				run->ok ? run->v[0] : NAN,
				run->ok ? "ms wall" : "failed");
			if (run->ok)
				csv_row(x->b, name, cfg, u->iters, rep,
					run->v[1], "ms cpu");
		}
	}
	fprintf(stderr, "bench: real %s: %d runs in %.1f s\n", u->p->name,
		x->nconfigs * o->reps, (clock_ns() - t0) / 1e9);
	real_rows(x, u, runs);
	fflush(stdout);
	free(runs);
}

static void real_dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

static void real_header(const struct real_ctx *x)
{
	const struct options *o = x->b->opt;

	printf("### real: %s\n\n", workload_titles[WL_REAL]);
	printf("N = %d; median of %d reps, the configs taking turns within "
	       "each, each first in turn. Wall: from the launch to wait4's "
	       "return. CPU: user + system time of the program and of every "
	       "descendant it waited for (wait4's rusage). Both in ms, and as "
	       "ratios of the medians to bare's and to empty's (an empty "
	       "library preloaded: the cost of LD_PRELOAD itself). Paired: "
	       "the median of the CPU ratios to empty rep by rep, and the "
	       "interval that holds it with 95 %% confidence (from 6 reps; "
	       "below, the extremes, with less).\n\n",
	       o->real_n, o->reps);
}

void real_table(struct bench *b)
{
	struct real_ctx x = { .b = b, .null_fd = -1 };
	struct real_use *uses = calloc(REAL_COUNT, sizeof *uses);
	const char *tmp = getenv("TMPDIR");
	int i;

	snprintf(x.dir, sizeof x.dir, "%s/bench-real-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	x.null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (!uses || x.null_fd < 0 || !mkdtemp(x.dir)) {
		fprintf(stderr, "bench: real: setup: %s\n", strerror(errno));
		x.dir[0] = '\0';
		goto fail;
	}
	if (real_configs_build(&x) < 0)
		goto fail;
	real_header(&x);
	for (i = 0; i < REAL_COUNT; i++) {
		if (!(b->opt->programs & 1u << i))
			continue;
		if (real_use_init(&x, &uses[i], &progs[i]) < 0)
			goto fail;
		if (uses[i].skip)
			fprintf(stderr, "bench: real %s: skipped, %s is %s\n",
				progs[i].name, progs[i].exe, uses[i].skip);
		real_legend(&uses[i]);
	}
	printf("\n| program | config | wall (ms) | / bare | / empty | "
	       "CPU (ms) | / bare | / empty | CPU / empty, paired |\n"
	       "|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
	for (i = 0; i < REAL_COUNT; i++)
		if (uses[i].p && !uses[i].skip)
			real_program(&x, &uses[i]);
	printf("\n");
	goto out;
fail:
	b->failures++;
out:
	for (i = 0; i < x.nconfigs; i++)
		free(x.configs[i].envp);
	if (x.dir[0])
		real_dir_remove(x.dir);
	if (x.null_fd >= 0)
		close(x.null_fd);
	free(uses);
}
