/* SPDX-License-Identifier: MIT */
/*
 * bench: childwatch against bare libc. The driver runs every measurement in
 * a fresh worker, a re-exec of itself with --run, preloaded in one mode or
 * not at all; the worker writes its figures to a pipe and the driver takes
 * its peak RSS from wait4. Every figure is shown as a ratio to bare's from
 * the same run, the median over repetitions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPORT_FD      3
#define WORKER_ALARM_S 300
/* Past the worker's own alarm: only a worker stuck where SIGALRM cannot
 * reach it meets this one. */
#define WORKER_TIMEOUT_S (WORKER_ALARM_S + 30)
#define BATCH		 64
#define SCALE_ROUNDS	 200
/* Where one more fork costs tens of milliseconds, fewer rounds do. */
#define SCALE_ROUNDS_MIN 10
#define SCALE_BUDGET_NS	 (2 * 1000000000LL)
#define LATENCY_ROUNDS	 500
/* Long enough for the waiter to be asleep in waitpid(-1) before the exit. */
#define LATENCY_SETTLE_NS (300 * 1000)
#define MEMORY_SETTLE_NS  (200 * 1000 * 1000)
#define NOFILE_SMALL	  1024
#define LOSSES_SHOWN	  3
#define LIST_MAX	  16
#define VALUES_MAX	  (2 * LIST_MAX)
#define CONFIGS_MAX	  8

extern char **environ;

enum workload {
	WL_FORK,
	WL_VFORK,
	WL_SPAWN,
	WL_BATCH,
	WL_SCALE,
	WL_LATENCY,
	WL_MEMORY,
	WL_COUNT,
};

static const char *const workload_names[WL_COUNT] = {
	[WL_FORK] = "fork",	  [WL_VFORK] = "vfork",
	[WL_SPAWN] = "spawn",	  [WL_BATCH] = "batch",
	[WL_SCALE] = "scale",	  [WL_LATENCY] = "latency",
	[WL_MEMORY] = "memory",
};

static const char *const workload_titles[WL_COUNT] = {
	[WL_FORK] = "serial fork + _exit + waitpid(pid)",
	[WL_VFORK] = "serial vfork + _exit + waitpid(pid)",
	[WL_SPAWN] = "serial posix_spawn(\"/bin/true\") + waitpid(pid)",
	[WL_BATCH] = "batches of 64 concurrent fork + _exit, "
		     "reaped with waitpid(-1)",
	[WL_SCALE] = "one more fork + _exit + wait with N idle children alive",
	[WL_LATENCY] = "exit-to-wake latency of a thread blocked in "
		       "waitpid(-1)",
	[WL_MEMORY] = "RSS, threads and descriptors per live idle child",
};

static const char *const mode_names[] = { "bare",     "safe",  "fast",
					  "threaded", "pidfd", "off" };

struct job {
	enum workload wl;
	const char *config;
	int count;
	int ns[LIST_MAX];
	int nns;
	long nofile;
};

struct losses {
	const char *what;
	int count;
};

/* Live children that sleep reading a pipe until its write end closes. */
struct idle {
	int gate[2];
	pid_t *pids;
	int n;
	char **envp;
	posix_spawn_file_actions_t actions;
};

struct waker {
	sem_t go, done;
	bool stop;
	pid_t got;
	int status, err;
	int64_t woke_ns;
};

typedef pid_t child_start_fn(int code);

static int64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Each child exits with its own code, so a status handed to the wrong wait
 * shows up as a loss. */
static int child_code(int i)
{
	return 1 + i % 250;
}

static bool status_is(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

static pid_t waitpid_nointr(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

static void sem_wait_nointr(sem_t *sem)
{
	while (sem_wait(sem) < 0 && errno == EINTR)
		;
}

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	qsort(v, n, sizeof *v, double_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* pid: the child waited for; -1 for any of them, 0 when the wait returned
 * a child the workload did not create. */
static void loss_note(struct losses *l, pid_t pid, pid_t got, int err,
		      int status, int code)
{
	if (l->count++ >= LOSSES_SHOWN)
		return;
	if (got < 0)
		fprintf(stderr, "bench: %s: wait for child %d failed: %s\n",
			l->what, pid, strerror(err));
	else if (pid == 0)
		fprintf(stderr, "bench: %s: wait returned %d, not a child "
				"of this workload\n",
			l->what, got);
	else if (got != pid)
		fprintf(stderr, "bench: %s: wait for child %d returned %d\n",
			l->what, pid, got);
	else
		fprintf(stderr,
			"bench: %s: child %d: status 0x%x, expected exit %d\n",
			l->what, pid, status, code);
}

static int losses_check(const struct losses *l, int total)
{
	if (!l->count)
		return 0;
	fprintf(stderr, "bench: %s: %d of %d child statuses lost or wrong\n",
		l->what, l->count, total);
	return -1;
}

static int children_none_left(const char *what)
{
	int status;
	pid_t r = waitpid(-1, &status, WNOHANG);

	if (r < 0 && errno == ECHILD)
		return 0;
	fprintf(stderr,
		"bench: %s: children left after the workload "
		"(waitpid(-1, WNOHANG) returned %d)\n",
		what, r);
	return -1;
}

static pid_t start_fork(int code)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(code);
	return pid;
}

/* Out of line: the vforked child borrows this frame and nothing else. */
static __attribute__((noinline)) pid_t start_vfork(int code)
{
	pid_t pid = vfork();

	if (pid == 0)
		_exit(code);
	return pid;
}

static pid_t start_spawn(int code)
{
	static char *const argv[] = { "true", NULL };
	pid_t pid;
	int r;

	(void)code;
	r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
	if (r) {
		errno = r;
		return -1;
	}
	return pid;
}

static int work_serial(const struct job *j, double *out)
{
	child_start_fn *start = j->wl == WL_FORK    ? start_fork :
				j->wl == WL_VFORK   ? start_vfork :
						      start_spawn;
	struct losses l = { workload_names[j->wl], 0 };
	double *ns = calloc(j->count, sizeof *ns);
	int n, r = -1;

	if (!ns) {
		fprintf(stderr, "bench: %s: out of memory\n", l.what);
		return -1;
	}
	for (n = 0; n < j->count; n++) {
		int code = j->wl == WL_SPAWN ? 0 : child_code(n);
		int64_t t0 = clock_ns();
		pid_t pid = start(code), got;
		int status = 0;

		if (pid < 0) {
			fprintf(stderr,
				"bench: %s: creating child %d failed: %s\n",
				l.what, n + 1, strerror(errno));
			goto out_free;
		}
		got = waitpid_nointr(pid, &status);
		ns[n] = clock_ns() - t0;
		if (got != pid || !status_is(status, code))
			loss_note(&l, pid, got, errno, status, code);
	}
	if (losses_check(&l, j->count) < 0 || children_none_left(l.what) < 0)
		goto out_free;
	out[0] = median(ns, n);
	r = 1;
out_free:
	free(ns);
	return r;
}

static int pid_index(const pid_t *pids, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return i;
	return -1;
}

static int batches_of(int children)
{
	return children / BATCH > 0 ? children / BATCH : 1;
}

static int work_batch(const struct job *j, double *out)
{
	int batches = batches_of(j->count);
	struct losses l = { "batch", 0 };
	double *ns = calloc(batches, sizeof *ns);
	pid_t pids[BATCH];
	int r = -1;

	if (!ns) {
		fprintf(stderr, "bench: batch: out of memory\n");
		return -1;
	}
	for (int b = 0; b < batches; b++) {
		int64_t t0 = clock_ns();
		int started, k;

		for (started = 0; started < BATCH; started++) {
			pids[started] = start_fork(child_code(started));
			if (pids[started] < 0)
				break;
		}
		if (started < BATCH) {
			fprintf(stderr,
				"bench: batch: fork %d of %d failed: %s\n",
				started + 1, BATCH, strerror(errno));
			for (k = 0; k < started; k++)
				waitpid_nointr(pids[k], NULL);
			goto out_free;
		}
		for (k = 0; k < BATCH; k++) {
			int status = 0;
			pid_t got = waitpid_nointr(-1, &status);
			int i = got > 0 ? pid_index(pids, BATCH, got) : -1;

			if (got < 0) {
				/* This child and the rest of the batch. */
				loss_note(&l, -1, got, errno, status, 0);
				l.count += BATCH - k - 1;
				break;
			}
			/* Cleared once reaped: a pid handed out twice is a
			 * loss too. */
			if (i < 0 || !status_is(status, child_code(i)))
				loss_note(&l, i < 0 ? 0 : got, got, errno,
					  status, i < 0 ? 0 : child_code(i));
			else
				pids[i] = 0;
		}
		ns[b] = (clock_ns() - t0) / (double)BATCH;
	}
	if (losses_check(&l, batches * BATCH) < 0 ||
	    children_none_left("batch") < 0)
		goto out_free;
	out[0] = median(ns, batches);
	r = 1;
out_free:
	free(ns);
	return r;
}

/* The environment minus any preload and childwatch setting, plus extra
 * (NULL-terminated, at most two entries). */
static char **env_for(char *const *extra)
{
	size_t n = 0, k = 0, more = 0;
	char **envp;

	while (environ[n])
		n++;
	while (extra && extra[more])
		more++;
	envp = calloc(n + more + 1, sizeof *envp);
	if (!envp)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "CHILDWATCH_", 11) != 0)
			envp[k++] = environ[i];
	for (size_t i = 0; i < more; i++)
		envp[k++] = extra[i];
	return envp;
}

/*
 * Idle children are spawned, not forked, and run a fresh image without the
 * shim: a forked child that stays in the parent's image copies whatever
 * the shim keeps per child (the table it resets, threaded mode's stacks),
 * which at 10,000 children exhausts memory before anything is measured.
 * What the parent pays per live child is the same either way.
 */
static int idle_open(struct idle *idle, int most)
{
	*idle = (struct idle){ .gate = { -1, -1 } };
	idle->pids = calloc(most > 0 ? most : 1, sizeof *idle->pids);
	idle->envp = env_for(NULL);
	if (!idle->pids || !idle->envp) {
		fprintf(stderr, "bench: out of memory\n");
		return -1;
	}
	/* Touch the pid array now, or its pages count as the shim's. */
	memset(idle->pids, 0xff, (most > 0 ? most : 1) * sizeof *idle->pids);
	if (pipe2(idle->gate, O_CLOEXEC) < 0) {
		fprintf(stderr, "bench: pipe: %s\n", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&idle->actions);
	posix_spawn_file_actions_adddup2(&idle->actions, idle->gate[0], 0);
	return 0;
}

static int idle_start(struct idle *idle, int n, const char *what)
{
	static char *const argv[] = { "bench", "--idle", NULL };

	for (; idle->n < n; idle->n++) {
		int r = posix_spawn(&idle->pids[idle->n], "/proc/self/exe",
				    &idle->actions, NULL, argv, idle->envp);

		if (r) {
			fprintf(stderr,
				"bench: %s: spawn of idle child %d of %d "
				"failed: %s\n",
				what, idle->n + 1, n, strerror(r));
			return -1;
		}
	}
	return 0;
}

/* Lets them all go and checks each one's status; frees the set. */
static void idle_release(struct idle *idle, struct losses *l)
{
	if (idle->gate[0] >= 0) {
		close(idle->gate[1]);
		close(idle->gate[0]);
		posix_spawn_file_actions_destroy(&idle->actions);
	}
	for (int i = 0; i < idle->n; i++) {
		int status = 0;
		pid_t got = waitpid_nointr(idle->pids[i], &status);

		if (got != idle->pids[i] || !status_is(status, 0))
			loss_note(l, idle->pids[i], got, errno, status, 0);
	}
	free(idle->pids);
	free(idle->envp);
	*idle = (struct idle){ .gate = { -1, -1 } };
}

static int idle_main(void)
{
	char byte;
	ssize_t r;

	while ((r = read(0, &byte, 1)) < 0 && errno == EINTR)
		;
	return r == 0 ? 0 : 1;
}

static double scale_round(pid_t target, int code, struct losses *l)
{
	int64_t t0 = clock_ns();
	pid_t pid = start_fork(code), got;
	int status = 0;

	if (pid < 0)
		return -1;
	got = waitpid_nointr(target ? target : pid, &status);
	if (got != pid || !status_is(status, code))
		loss_note(l, pid, got, errno, status, code);
	return clock_ns() - t0;
}

/* Two figures per N: the wait for the pid, then the wait for any child,
 * which is where a scan over the live children shows. The idle set grows
 * from one N to the next. */
static int work_scale(const struct job *j, double *out)
{
	struct losses l = { "scale", 0 };
	double *by_pid = calloc(j->count, sizeof *by_pid);
	double *by_any = calloc(j->count, sizeof *by_any);
	struct idle idle;
	int rounds = 0, r = -1;

	if (idle_open(&idle, j->ns[j->nns - 1]) < 0 || !by_pid || !by_any) {
		if (!by_pid || !by_any)
			fprintf(stderr, "bench: scale: out of memory\n");
		goto out_release;
	}
	for (int k = 0; k < j->nns; k++) {
		int64_t t0;
		int i;

		if (idle_start(&idle, j->ns[k], "scale") < 0)
			goto out_release;
		t0 = clock_ns();
		for (i = 0; i < j->count; i++) {
			if (i >= SCALE_ROUNDS_MIN &&
			    clock_ns() - t0 > SCALE_BUDGET_NS)
				break;
			by_pid[i] = scale_round(0, child_code(i), &l);
			by_any[i] = scale_round(-1, child_code(i + 1), &l);
			if (by_pid[i] < 0 || by_any[i] < 0) {
				fprintf(stderr, "bench: scale: fork with %d "
						"idle children failed: %s\n",
					j->ns[k], strerror(errno));
				goto out_release;
			}
		}
		rounds += i;
		out[2 * k] = median(by_pid, i);
		out[2 * k + 1] = median(by_any, i);
	}
	r = 2 * j->nns;
out_release:
	idle_release(&idle, &l);
	if (losses_check(&l, j->ns[j->nns - 1] + 2 * rounds) < 0 ||
	    children_none_left("scale") < 0)
		r = -1;
	free(by_any);
	free(by_pid);
	return r;
}

static void *latency_waiter(void *arg)
{
	struct waker *w = arg;

	for (;;) {
		sem_wait_nointr(&w->go);
		if (w->stop)
			return NULL;
		w->got = waitpid_nointr(-1, &w->status);
		w->woke_ns = clock_ns();
		w->err = errno;
		sem_post(&w->done);
	}
}

static int work_latency(const struct job *j, double *out)
{
	struct losses l = { "latency", 0 };
	double *ns = calloc(j->count, sizeof *ns);
	_Atomic int64_t *exit_ns = mmap(NULL, sizeof *exit_ns,
					PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct waker w = { .stop = false };
	bool forked_all = true;
	pthread_t waiter;
	int n = 0, r = -1, err;

	if (!ns || exit_ns == MAP_FAILED) {
		fprintf(stderr, "bench: latency: out of memory\n");
		goto out_free;
	}
	sem_init(&w.go, 0, 0);
	sem_init(&w.done, 0, 0);
	err = pthread_create(&waiter, NULL, latency_waiter, &w);
	if (err) {
		fprintf(stderr, "bench: latency: pthread_create: %s\n",
			strerror(err));
		goto out_free;
	}
	for (int i = 0; i < j->count; i++) {
		int code = child_code(i);
		pid_t pid = fork();

		if (pid == 0) {
			sleep_ns(LATENCY_SETTLE_NS);
			atomic_store(exit_ns, clock_ns());
			_exit(code);
		}
		if (pid < 0) {
			fprintf(stderr, "bench: latency: fork: %s\n",
				strerror(errno));
			forked_all = false;
			break;
		}
		sem_post(&w.go);
		sem_wait_nointr(&w.done);
		if (w.got != pid || !status_is(w.status, code))
			loss_note(&l, pid, w.got, w.err, w.status, code);
		else
			ns[n++] = w.woke_ns - atomic_load(exit_ns);
	}
	w.stop = true;
	sem_post(&w.go);
	pthread_join(waiter, NULL);
	if (!forked_all || losses_check(&l, j->count) < 0 ||
	    children_none_left("latency") < 0)
		goto out_free;
	out[0] = median(ns, n);
	r = 1;
out_free:
	if (exit_ns != MAP_FAILED)
		munmap(exit_ns, sizeof *exit_ns);
	free(ns);
	return r;
}

/* Opened before the children start: with the descriptors all taken, the
 * figures must still be readable. */
struct usage {
	int statm;
	DIR *task, *fd;
};

static int usage_open(struct usage *u)
{
	u->statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	u->task = opendir("/proc/self/task");
	u->fd = opendir("/proc/self/fd");
	if (u->statm >= 0 && u->task && u->fd)
		return 0;
	fprintf(stderr, "bench: memory: cannot open /proc/self: %s\n",
		strerror(errno));
	return -1;
}

static void usage_close(struct usage *u)
{
	if (u->statm >= 0)
		close(u->statm);
	if (u->task)
		closedir(u->task);
	if (u->fd)
		closedir(u->fd);
}

static long dir_entries(DIR *d)
{
	struct dirent *e;
	long n = 0;

	rewinddir(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	return n;
}

/* v: RSS in KiB, threads, descriptors. */
static int usage_take(struct usage *u, long *v)
{
	char buf[256];
	ssize_t n = pread(u->statm, buf, sizeof buf - 1, 0);
	long size, resident;

	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "%ld %ld", &size, &resident) != 2) {
		fprintf(stderr, "bench: memory: unreadable /proc/self/statm\n");
		return -1;
	}
	v[0] = resident * (sysconf(_SC_PAGESIZE) / 1024);
	v[1] = dir_entries(u->task);
	v[2] = dir_entries(u->fd);
	return 0;
}

/* Whether the program can still open a file with its children alive. */
static bool open_works(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int work_memory(const struct job *j, double *out)
{
	struct usage u = { .statm = -1 };
	struct losses l = { "memory", 0 };
	long before[3], after[3];
	struct idle idle;
	int r = -1;

	if (idle_open(&idle, j->count) < 0 || usage_open(&u) < 0 ||
	    usage_take(&u, before) < 0 ||
	    idle_start(&idle, j->count, "memory") < 0)
		goto out_release;
	sleep_ns(MEMORY_SETTLE_NS);
	if (usage_take(&u, after) < 0)
		goto out_release;
	for (int k = 0; k < 3; k++)
		out[k] = (after[k] - before[k]) / (double)j->count;
	out[3] = open_works();
	r = 4;
out_release:
	idle_release(&idle, &l);
	usage_close(&u);
	if (losses_check(&l, j->count) < 0 ||
	    children_none_left("memory") < 0)
		r = -1;
	return r;
}

/* 0 raises the soft limit to the hard one. */
static int nofile_set(long nofile)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		goto fail;
	if (nofile > 0 && (rlim_t)nofile < rl.rlim_max)
		rl.rlim_cur = nofile;
	else
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return 0;
fail:
	fprintf(stderr, "bench: RLIMIT_NOFILE: %s\n", strerror(errno));
	return -1;
}

/* A preload that failed to load would time bare libc under a mode's name. */
static int preload_check(const char *config)
{
	bool want = strcmp(config, "bare") != 0, have = false;
	char line[4096];
	FILE *maps = fopen("/proc/self/maps", "re");

	if (!maps) {
		fprintf(stderr, "bench: /proc/self/maps: %s\n",
			strerror(errno));
		return -1;
	}
	while (!have && fgets(line, sizeof line, maps))
		have = strstr(line, "/libchildwatch.so") != NULL;
	fclose(maps);
	if (want == have)
		return 0;
	fprintf(stderr, "bench: worker for %s %s libchildwatch.so loaded\n",
		config, have ? "has" : "does not have");
	return -1;
}

static int int_parse(const char *s, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || end == s || *end || *v < min || *v > max ? -1 : 0;
}

static int int_list_parse(const char *s, int *v, int max)
{
	char buf[256], *save, *tok;
	int n = 0;
	long x;

	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == max || int_parse(tok, 0, 1000000, &x) < 0)
			return -1;
		v[n++] = x;
	}
	return n ? n : -1;
}

static int workload_parse(const char *s)
{
	for (int i = 0; i < WL_COUNT; i++)
		if (strcmp(s, workload_names[i]) == 0)
			return i;
	return -1;
}

/* --run WORKLOAD CONFIG COUNT LIST NOFILE, as worker_run() builds it. */
static int job_parse(struct job *j, int argc, char **argv)
{
	long count;
	int wl;

	if (argc != 5 || (wl = workload_parse(argv[0])) < 0 ||
	    int_parse(argv[2], 1, INT_MAX, &count) < 0 ||
	    int_parse(argv[4], 0, INT_MAX, &j->nofile) < 0)
		return -1;
	j->wl = wl;
	j->config = argv[1];
	j->count = count;
	j->nns = 0;
	if (wl == WL_SCALE &&
	    (j->nns = int_list_parse(argv[3], j->ns, LIST_MAX)) < 0)
		return -1;
	return 0;
}

static int worker_main(int argc, char **argv)
{
	static int (*const work[WL_COUNT])(const struct job *, double *) = {
		[WL_FORK] = work_serial,     [WL_VFORK] = work_serial,
		[WL_SPAWN] = work_serial,    [WL_BATCH] = work_batch,
		[WL_SCALE] = work_scale,     [WL_LATENCY] = work_latency,
		[WL_MEMORY] = work_memory,
	};
	double v[VALUES_MAX];
	char line[VALUES_MAX * 24];
	size_t len = 0;
	struct job j;
	int n;

	if (job_parse(&j, argc, argv) < 0) {
		fprintf(stderr, "bench: --run is the driver's own option\n");
		return 2;
	}
	alarm(WORKER_ALARM_S);
	if (fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "bench: worker has no report pipe on fd %d\n",
			REPORT_FD);
		return 2;
	}
	if (preload_check(j.config) < 0)
		return 2;
	if ((j.wl == WL_SCALE || j.wl == WL_MEMORY || j.nofile) &&
	    nofile_set(j.nofile) < 0)
		return 2;
	n = work[j.wl](&j, v);
	if (n < 0)
		return 1;
	for (int i = 0; i < n; i++)
		len += snprintf(line + len, sizeof line - len, "%s%.3f",
				i ? " " : "", v[i]);
	line[len++] = '\n';
	if (write(REPORT_FD, line, len) != (ssize_t)len) {
		fprintf(stderr, "bench: worker: report write: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}

struct config {
	char name[32];	/* in the CSV and on the worker's command line */
	char label[32]; /* in the tables */
	const char *mode; /* CHILDWATCH_MODE, NULL for bare */
	long nofile;	  /* 0: the worker keeps or raises its own */
	char preload[PATH_MAX + 16], mode_var[48], trace_var[PATH_MAX + 32];
	char **envp;
};

struct options {
	unsigned workloads;
	const char *modes[CONFIGS_MAX];
	int nmodes;
	int reps, heavy_reps, children, live;
	int scale[LIST_MAX];
	int nscale;
	const char *csv, *plot;
	const char *trace; /* CHILDWATCH_TRACE for the preloaded workers */
	bool smoke;
};

struct run {
	bool ok;
	int nv;
	double v[VALUES_MAX];
	long maxrss_kib;
};

struct bench {
	const struct options *opt;
	struct config configs[CONFIGS_MAX];
	int nconfigs;	     /* the time workloads' rows */
	int nconfigs_memory; /* plus the small descriptor limit row */
	char lib[PATH_MAX];
	FILE *csv;
	int failures, met, missed;
	/* Scale medians per wait kind and config, for the plot. */
	double scale_med[2][CONFIGS_MAX][LIST_MAX];
	bool scale_done;
};

static const char usage_text[] =
	"usage: bench [OPTIONS]\n"
	"Measures childwatch against bare libc; prints a Markdown table per\n"
	"workload, writes every raw figure to a CSV file and, with gnuplot on\n"
	"PATH, plots the scaling workload.\n"
	"  --workloads LIST  fork,vfork,spawn,batch,scale,latency,memory "
	"(default: all)\n"
	"  --modes LIST      bare,safe,fast,threaded,pidfd,off "
	"(default: all but off;\n"
	"                    bare is always measured, as the baseline)\n"
	"  --reps N          repetitions, each a fresh worker; medians shown "
	"(5)\n"
	"  --heavy-reps N    repetitions of scale and memory, whose workers "
	"each\n"
	"                    start --live or max(--scale) children (2)\n"
	"  --children N      children per repetition for fork, vfork, spawn "
	"and\n"
	"                    batch; latency uses at most 500 of them (2000)\n"
	"  --scale LIST      idle children alive in the scaling workload\n"
	"                    (0,100,1000,10000); 200 timed rounds each, or as "
	"many\n"
	"                    as fit in 2 s (at least 10)\n"
	"  --live N          idle children in the memory workload (10000)\n"
	"  --csv FILE        raw figures (bench.csv beside this program)\n"
	"  --plot FILE       scaling plot (bench-scale.png beside this "
	"program)\n"
	"  --trace FILE      preloaded workers trace to FILE (the cost of\n"
	"                    CHILDWATCH_TRACE); an absolute path\n"
	"  --smoke           tiny sizes (reps 1, heavy reps 1, children 50, "
	"scale 0,50,\n"
	"                    live 200),"
	"\n"
	"                    output to bench-smoke.* unless --csv/--plot say;\n"
	"                    exits 0 only if every workload ran and lost no "
	"status\n"
	"  -h, --help        this text\n"
	"Exits 1 when a worker failed or lost a child's status, 2 on a usage "
	"error.\n";

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return -1;
}

static int workloads_parse(const char *s, unsigned *set)
{
	char buf[256], *save, *tok;
	int wl;

	if (strlen(s) >= sizeof buf)
		return usage_error("--workloads: list too long");
	strcpy(buf, s);
	*set = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		wl = workload_parse(tok);
		if (wl < 0)
			return usage_error("--workloads: no workload '%s'",
					   tok);
		*set |= 1u << wl;
	}
	return *set ? 0 : usage_error("--workloads: empty list");
}

static int modes_parse(const char *s, struct options *o)
{
	size_t nnames = sizeof mode_names / sizeof *mode_names;

	o->modes[0] = mode_names[0];
	o->nmodes = 1;
	while (*s) {
		size_t len = strcspn(s, ",");
		size_t i = 0;
		bool dup = false;

		while (i < nnames && (strlen(mode_names[i]) != len ||
				      strncmp(s, mode_names[i], len) != 0))
			i++;
		if (i == nnames)
			return usage_error("--modes: no mode '%.*s'", (int)len,
					   s);
		for (int k = 0; k < o->nmodes; k++)
			dup |= o->modes[k] == mode_names[i];
		if (!dup)
			o->modes[o->nmodes++] = mode_names[i];
		s += len + (s[len] == ',');
	}
	return 0;
}

static int count_parse(const char *opt, const char *s, int *v)
{
	long x;

	if (int_parse(s, 1, 1000000, &x) < 0)
		return usage_error("%s: '%s' is not a count from 1 to 1000000",
				   opt, s);
	*v = x;
	return 0;
}

static int options_parse(struct options *o, int argc, char **argv)
{
	enum { O_WORKLOADS = 256, O_MODES, O_REPS, O_HEAVY_REPS, O_CHILDREN,
	       O_SCALE, O_LIVE, O_CSV, O_PLOT, O_TRACE, O_SMOKE };
	static const struct option longopts[] = {
		{ "workloads", required_argument, NULL, O_WORKLOADS },
		{ "modes", required_argument, NULL, O_MODES },
		{ "reps", required_argument, NULL, O_REPS },
		{ "heavy-reps", required_argument, NULL, O_HEAVY_REPS },
		{ "children", required_argument, NULL, O_CHILDREN },
		{ "scale", required_argument, NULL, O_SCALE },
		{ "live", required_argument, NULL, O_LIVE },
		{ "csv", required_argument, NULL, O_CSV },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "trace", required_argument, NULL, O_TRACE },
		{ "smoke", no_argument, NULL, O_SMOKE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool reps = false, heavy = false, children = false, scale = false;
	bool live = false;
	int c, r = 0;

	*o = (struct options){ .workloads = (1u << WL_COUNT) - 1,
			       .modes = { mode_names[0], mode_names[1],
					  mode_names[2], mode_names[3],
					  mode_names[4] },
			       .nmodes = 5,
			       .reps = 5,
			       .heavy_reps = 2,
			       .children = 2000,
			       .live = 10000,
			       .scale = { 0, 100, 1000, 10000 },
			       .nscale = 4 };
	while (r == 0 &&
	       (c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case O_WORKLOADS:
			r = workloads_parse(optarg, &o->workloads);
			break;
		case O_MODES:
			r = modes_parse(optarg, o);
			break;
		case O_REPS:
			r = count_parse("--reps", optarg, &o->reps);
			reps = true;
			break;
		case O_HEAVY_REPS:
			r = count_parse("--heavy-reps", optarg, &o->heavy_reps);
			heavy = true;
			break;
		case O_CHILDREN:
			r = count_parse("--children", optarg, &o->children);
			children = true;
			break;
		case O_SCALE:
			o->nscale = int_list_parse(optarg, o->scale, LIST_MAX);
			if (o->nscale < 0)
				r = usage_error("--scale: '%s' is not a list "
						"of counts", optarg);
			scale = true;
			break;
		case O_LIVE:
			r = count_parse("--live", optarg, &o->live);
			live = true;
			break;
		case O_CSV:
			o->csv = optarg;
			break;
		case O_TRACE:
			o->trace = optarg;
			break;
		case O_PLOT:
			o->plot = optarg;
			break;
		case O_SMOKE:
			o->smoke = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (r < 0)
		return -1;
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->smoke) {
		o->reps = reps ? o->reps : 1;
		o->heavy_reps = heavy ? o->heavy_reps : 1;
		o->children = children ? o->children : 50;
		o->live = live ? o->live : 200;
		if (!scale) {
			o->scale[1] = 50;
			o->nscale = 2;
		}
	}
	for (int i = 1; i < o->nscale; i++)
		if (o->scale[i] <= o->scale[i - 1])
			return usage_error("--scale: counts must rise");
	return 0;
}

static int configs_build(struct bench *b)
{
	const struct options *o = b->opt;
	bool pidfd = false;

	for (int i = 0; i < o->nmodes; i++) {
		struct config *c = &b->configs[b->nconfigs++];
		bool bare = strcmp(o->modes[i], "bare") == 0;

		snprintf(c->name, sizeof c->name, "%s", o->modes[i]);
		snprintf(c->label, sizeof c->label, "%s", o->modes[i]);
		c->mode = bare ? NULL : o->modes[i];
		pidfd |= strcmp(o->modes[i], "pidfd") == 0;
	}
	b->nconfigs_memory = b->nconfigs;
	if (pidfd && b->nconfigs < CONFIGS_MAX) {
		struct config *c = &b->configs[b->nconfigs_memory++];

		snprintf(c->name, sizeof c->name, "pidfd-nofile%d",
			 NOFILE_SMALL);
		snprintf(c->label, sizeof c->label, "pidfd (nofile %d)",
			 NOFILE_SMALL);
		c->mode = "pidfd";
		c->nofile = NOFILE_SMALL;
	}
	for (int i = 0; i < b->nconfigs_memory; i++) {
		struct config *c = &b->configs[i];
		char *vars[] = { c->preload, c->mode_var,
				 o->trace ? c->trace_var : NULL, NULL };

		snprintf(c->preload, sizeof c->preload, "LD_PRELOAD=%s",
			 b->lib);
		snprintf(c->mode_var, sizeof c->mode_var, "CHILDWATCH_MODE=%s",
			 c->mode ? c->mode : "");
		snprintf(c->trace_var, sizeof c->trace_var,
			 "CHILDWATCH_TRACE=%s", o->trace ? o->trace : "");
		c->envp = env_for(c->mode ? vars : NULL);
		if (!c->envp) {
			fprintf(stderr, "bench: out of memory\n");
			return -1;
		}
	}
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

static int workload_count(const struct options *o, enum workload wl)
{
	switch (wl) {
	case WL_SCALE:
		return o->children < SCALE_ROUNDS ? o->children : SCALE_ROUNDS;
	case WL_LATENCY:
		return o->children < LATENCY_ROUNDS ? o->children :
						      LATENCY_ROUNDS;
	case WL_MEMORY:
		return o->live;
	default:
		return o->children;
	}
}

/* Reads the worker's line until EOF; false if it outlived its time. */
static bool report_read(int fd, pid_t pid, char *buf, size_t size)
{
	int64_t deadline = clock_ns() + WORKER_TIMEOUT_S * 1000000000LL;
	size_t len = 0;
	char sink[256];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left_ms = (deadline - clock_ns()) / 1000000;
		ssize_t n;

		if (left_ms <= 0) {
			kill(-pid, SIGKILL);
			buf[len] = '\0';
			return false;
		}
		if (poll(&pfd, 1, left_ms) <= 0)
			continue;
		if (len < size - 1)
			n = read(fd, buf + len, size - 1 - len);
		else
			n = read(fd, sink, sizeof sink);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < size - 1)
			len += n;
	}
	buf[len] = '\0';
	return true;
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
	in_time = report_read(p[0], pid, buf, sizeof buf);
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

static void csv_row(struct bench *b, const char *wl, const struct config *c,
		    long param, int rep, double v, const char *unit)
{
	if (!b->csv)
		return;
	if (isnan(v))
		fprintf(b->csv, "%s,%s,%ld,%d,,%s\n", wl, c->name, param,
			rep + 1, unit);
	else
		fprintf(b->csv, "%s,%s,%ld,%d,%.3f,%s\n", wl, c->name, param,
			rep + 1, v, unit);
}

static void csv_run(struct bench *b, enum workload wl, const struct config *c,
		    int rep, const struct run *run)
{
	const struct options *o = b->opt;
	const char *name = workload_names[wl];
	long param = workload_count(o, wl);

	if (!run->ok) {
		csv_row(b, name, c, param, rep, NAN, "failed");
		return;
	}
	switch (wl) {
	case WL_SCALE:
		for (int k = 0; k < o->nscale; k++) {
			csv_row(b, "scale", c, o->scale[k], rep, run->v[2 * k],
				"ns/child");
			csv_row(b, "scale-any", c, o->scale[k], rep,
				run->v[2 * k + 1], "ns/child");
		}
		param = o->scale[o->nscale - 1];
		break;
	case WL_MEMORY:
		csv_row(b, name, c, param, rep, run->v[0], "KiB/child");
		csv_row(b, name, c, param, rep, run->v[1], "threads/child");
		csv_row(b, name, c, param, rep, run->v[2], "fds/child");
		csv_row(b, name, c, param, rep, run->v[3], "open() works");
		break;
	case WL_LATENCY:
		csv_row(b, name, c, param, rep, run->v[0], "ns");
		break;
	default:
		csv_row(b, name, c, param, rep, run->v[0], "ns/child");
		break;
	}
	csv_row(b, name, c, param, rep, run->maxrss_kib, "KiB maxrss");
}

/* Median over the repetitions that succeeded of figure k; NAN if none. */
static double runs_median(const struct run *runs, int reps, int k)
{
	double *v = malloc(reps * sizeof *v), m;
	int n = 0;

	if (!v)
		return NAN;
	for (int rep = 0; rep < reps; rep++)
		if (runs[rep].ok)
			v[n++] = runs[rep].v[k];
	m = median(v, n);
	free(v);
	return m;
}

static long runs_maxrss(const struct run *runs, int reps)
{
	long most = 0;

	for (int rep = 0; rep < reps; rep++)
		if (runs[rep].ok && runs[rep].maxrss_kib > most)
			most = runs[rep].maxrss_kib;
	return most;
}

static bool mode_is(const struct config *c, const char *mode)
{
	return c->mode && strcmp(c->mode, mode) == 0;
}

/* The limit for this row, or NAN where it sets none. */
static double target_limit(enum workload wl, const struct config *c)
{
	bool mediating = c->mode && strcmp(c->mode, "off") != 0;

	if (!mediating)
		return NAN;
	switch (wl) {
	case WL_FORK:
	case WL_SPAWN:
	case WL_BATCH:
		return mode_is(c, "threaded") ? 1.15 : 1.05;
	case WL_VFORK:
		return 1.15;
	case WL_SCALE:
		return mode_is(c, "safe") ? 3.0 : 1.2;
	case WL_LATENCY:
		return 1.5;
	case WL_MEMORY:
		/* Past the descriptor limit pidfd falls back to a thread
		 * per child, so the threaded bound applies. */
		return mode_is(c, "threaded") || c->nofile ? 16.0 : 1.0;
	default:
		return NAN;
	}
}

static const char *target_judge(struct bench *b, double limit, double v,
				char *buf, size_t size)
{
	if (isnan(limit))
		return "-";
	if (isnan(v)) {
		b->missed++;
		return "NOT met (failed)";
	}
	if (v <= limit)
		b->met++;
	else
		b->missed++;
	snprintf(buf, size, "%s (<= %g)", v <= limit ? "met" : "NOT met",
		 limit);
	return buf;
}

static void cell_print(double v, const char *fmt)
{
	if (isnan(v))
		printf(" failed |");
	else {
		putchar(' ');
		printf(fmt, v);
		printf(" |");
	}
}

static void table_time(struct bench *b, enum workload wl, struct run *runs)
{
	const struct options *o = b->opt;
	double bare = runs_median(runs, o->reps, 0);
	char buf[64];

	printf("### %s: %s\n\n", workload_names[wl], workload_titles[wl]);
	if (wl == WL_BATCH)
		printf("%d batches per rep", batches_of(o->children));
	else
		printf("%d %s per rep", workload_count(o, wl),
		       wl == WL_LATENCY ? "exits" : "children");
	printf(", median of %d reps; ratio to bare's median.\n\n", o->reps);
	printf("| config | %s | ratio to bare | peak RSS (KiB) | target |\n",
	       wl == WL_LATENCY ? "median exit-to-wake (ns)" :
				  "median ns/child");
	printf("|---|--:|--:|--:|---|\n");
	for (int c = 0; c < b->nconfigs; c++) {
		const struct run *r = runs + c * o->reps;
		double med = runs_median(r, o->reps, 0), ratio = med / bare;

		printf("| %s |", b->configs[c].label);
		cell_print(med, "%.0f");
		cell_print(ratio, "%.2f");
		printf(" %ld | %s |\n", runs_maxrss(r, o->reps),
		       target_judge(b, target_limit(wl, &b->configs[c]), ratio,
				    buf, sizeof buf));
	}
	printf("\n");
}

static void table_scale_one(struct bench *b, struct run *runs, int kind)
{
	const struct options *o = b->opt;
	int first = 0, last = o->nscale - 1;
	double bare_ratio = NAN;
	char buf[64];

	printf("### scale, %s: %s\n\n", kind ? "waitpid(-1)" : "waitpid(pid)",
	       workload_titles[WL_SCALE]);
	printf("ns per child, median of up to %d rounds (as many as fit in "
	       "%lld s) per rep and of %d reps; "
	       "growth = cost at N=%d / cost at N=%d; vs bare = growth / "
	       "bare's growth.\n\n",
	       workload_count(o, WL_SCALE), SCALE_BUDGET_NS / 1000000000,
	       o->heavy_reps, o->scale[last], o->scale[first]);
	printf("| config |");
	for (int k = 0; k < o->nscale; k++)
		printf(" N=%d |", o->scale[k]);
	printf(" growth | vs bare | peak RSS (KiB) | target |\n|---|");
	for (int k = 0; k < o->nscale; k++)
		printf("--:|");
	printf("--:|--:|--:|---|\n");
	for (int c = 0; c < b->nconfigs; c++) {
		const struct run *r = runs + c * o->heavy_reps;
		double *med = b->scale_med[kind][c], growth;

		for (int k = 0; k < o->nscale; k++)
			med[k] = runs_median(r, o->heavy_reps, 2 * k + kind);
		growth = med[last] / med[first];
		if (c == 0)
			bare_ratio = growth;
		printf("| %s |", b->configs[c].label);
		for (int k = 0; k < o->nscale; k++)
			cell_print(med[k], "%.0f");
		cell_print(growth, "%.2f");
		cell_print(growth / bare_ratio, "%.2f");
		printf(" %ld | %s |\n", runs_maxrss(r, o->heavy_reps),
		       target_judge(b, target_limit(WL_SCALE, &b->configs[c]),
				    growth / bare_ratio, buf, sizeof buf));
	}
	printf("\n");
}

static void table_memory(struct bench *b, struct run *runs)
{
	const struct options *o = b->opt;
	char buf[64];

	printf("### memory: %s\n\n", workload_titles[WL_MEMORY]);
	printf("%d idle children; the parent's growth in RSS, threads and "
	       "descriptors divided by their number, median of %d reps; "
	       "whether the program could still open a file with them "
	       "alive.\n\n",
	       o->live, o->heavy_reps);
	printf("| config | RSS (KiB/child) | threads/child | fds/child | "
	       "open() | peak RSS (KiB) | target |\n");
	printf("|---|--:|--:|--:|---|--:|---|\n");
	for (int c = 0; c < b->nconfigs_memory; c++) {
		const struct run *r = runs + c * o->heavy_reps;
		double rss = runs_median(r, o->heavy_reps, 0);
		double opens = runs_median(r, o->heavy_reps, 3);
		const char *judged;

		printf("| %s |", b->configs[c].label);
		cell_print(rss, "%.2f");
		cell_print(runs_median(r, o->heavy_reps, 1), "%.3f");
		cell_print(runs_median(r, o->heavy_reps, 2), "%.3f");
		printf(" %s |", isnan(opens) ? "failed" : opens == 1 ? "works" :
							      "EMFILE");
		judged = target_judge(b,
				      target_limit(WL_MEMORY, &b->configs[c]),
				      opens == 1 ? rss : NAN, buf, sizeof buf);
		if (opens == 0 && strcmp(judged, "-") != 0)
			judged = "NOT met (EMFILE)";
		printf(" %ld | %s |\n", runs_maxrss(r, o->heavy_reps), judged);
	}
	printf("\n");
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
	if (wl == WL_SCALE) {
		table_scale_one(b, runs, 0);
		table_scale_one(b, runs, 1);
		b->scale_done = true;
	} else if (wl == WL_MEMORY) {
		table_memory(b, runs);
	} else {
		table_time(b, wl, runs);
	}
	fflush(stdout);
	free(runs);
}

static bool program_on_path(const char *name)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];

	while (path && *path) {
		size_t len = strcspn(path, ":");

		snprintf(dir, sizeof dir, "%.*s/%s", (int)len, path, name);
		if (len && access(dir, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/* A gnuplot single-quoted string: a quote inside is written twice. */
static void gnuplot_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static void plot_script(const struct bench *b, FILE *f)
{
	const struct options *o = b->opt;
	static const char *const kinds[] = { "waitpid(pid)", "waitpid(-1)" };

	fputs("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
	      "\tset terminal pngcairo size 1280,560 noenhanced\n"
	      "} else {\n"
	      "\tset terminal png size 1280,560 noenhanced\n"
	      "}\n",
	      f);
	fputs("set output ", f);
	gnuplot_quote(f, o->plot);
	fputs("\nset logscale xy\nset grid\nset key top left\n"
	      "set format x '%.0f'\nset format y '%.0f'\n"
	      "set xlabel 'live idle children (N=0 plotted at 1)'\n"
	      "set ylabel 'microseconds per fork + _exit + wait'\n",
	      f);
	for (int kind = 0; kind < 2; kind++) {
		for (int c = 0; c < b->nconfigs; c++) {
			fprintf(f, "$d%d_%d << EOD\n", kind, c);
			for (int k = 0; k < o->nscale; k++)
				if (!isnan(b->scale_med[kind][c][k]))
					fprintf(f, "%d %.0f\n",
						o->scale[k] ? o->scale[k] : 1,
						b->scale_med[kind][c][k]);
			fputs("EOD\n", f);
		}
	}
	fputs("set multiplot layout 1,2 title 'childwatch: cost of one more "
	      "child against live children'\n",
	      f);
	for (int kind = 0; kind < 2; kind++) {
		fprintf(f, "set title '%s'\nplot ", kinds[kind]);
		for (int c = 0; c < b->nconfigs; c++)
			fprintf(f, "%s$d%d_%d using 1:($2/1000) with "
				   "linespoints lw 2 title '%s'",
				c ? ", " : "", kind, c, b->configs[c].label);
		fputs("\n", f);
	}
	fputs("unset multiplot\n", f);
}

static void plot_render(struct bench *b)
{
	const char *tmpdir = getenv("TMPDIR");
	char script[PATH_MAX];
	int fd, status;
	pid_t pid;
	FILE *f;

	if (!b->scale_done)
		return;
	if (!program_on_path("gnuplot")) {
		fprintf(stderr, "bench: gnuplot is not on PATH, so no plot "
				"(Debian: apt-get install gnuplot-nox)\n");
		return;
	}
	snprintf(script, sizeof script, "%s/bench-plot-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	fd = mkstemp(script);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "bench: plot script %s: %s\n", script,
			strerror(errno));
		b->failures++;
		return;
	}
	plot_script(b, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "bench: plot script %s: %s\n", script,
			strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		fprintf(stderr, "bench: exec gnuplot: %s\n", strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid_nointr(pid, &status) < 0 ||
	    !status_is(status, 0)) {
		fprintf(stderr, "bench: gnuplot failed to render %s\n",
			b->opt->plot);
		goto fail;
	}
	unlink(script);
	fprintf(stderr, "bench: plot in %s\n", b->opt->plot);
	return;
fail:
	unlink(script);
	b->failures++;
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

static void header_print(const struct bench *b, int argc, char **argv)
{
	const struct options *o = b->opt;
	struct utsname u;

	uname(&u);
	printf("## childwatch benchmark\n\n`bench");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("` on Linux %s %s, %ld CPUs: %d reps (%d for scale and memory), "
	       "%d children, scale ",
	       u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), o->reps,
	       o->heavy_reps, o->children);
	for (int k = 0; k < o->nscale; k++)
		printf("%s%d", k ? "," : "", o->scale[k]);
	printf(", %d live. Every worker is a fresh process; bare has no "
	       "LD_PRELOAD.\n\n",
	       o->live);
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX], csv[PATH_MAX], plot[PATH_MAX];
	struct bench b = { .nconfigs = 0 };
	const char *stem;
	struct options o;
	int r = 1;
	int64_t t0 = clock_ns();
	bool mediated = false;

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
	    path_beside(b.lib, dir, "libchildwatch", ".so") < 0)
		return 1;
	o.csv = o.csv ? o.csv : csv;
	o.plot = o.plot ? o.plot : plot;
	b.opt = &o;
	for (int i = 0; i < o.nmodes; i++)
		mediated |= strcmp(o.modes[i], "bare") != 0;
	if (mediated && access(b.lib, R_OK) < 0) {
		fprintf(stderr, "bench: %s: %s (run make first)\n", b.lib,
			strerror(errno));
		return 1;
	}
	if (configs_build(&b) < 0)
		goto out_free;
	b.csv = fopen(o.csv, "we");
	if (!b.csv) {
		fprintf(stderr, "bench: %s: %s\n", o.csv, strerror(errno));
		goto out_free;
	}
	fputs("workload,config,param,rep,value,unit\n", b.csv);
	header_print(&b, argc, argv);
	for (int wl = 0; wl < WL_COUNT; wl++)
		if (o.workloads & 1u << wl)
			workload_run(&b, wl);
	if (fclose(b.csv) != 0) {
		fprintf(stderr, "bench: %s: %s\n", o.csv, strerror(errno));
		b.failures++;
	}
	plot_render(&b);
	printf("Targets: %d met, %d NOT met. Wall time %.0f s.\n", b.met,
	       b.missed, (clock_ns() - t0) / 1e9);
	if (b.failures)
		fprintf(stderr, "bench: %d failure%s: see the lines above\n",
			b.failures, b.failures == 1 ? "" : "s");
	else
		r = 0;
out_free:
	configs_free(&b);
	return r;
}
