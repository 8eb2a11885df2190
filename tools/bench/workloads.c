/* SPDX-License-Identifier: MIT */
/*
 * The C micro-workloads, each run in a worker. Every one checks each
 * child's status as well as timing it: a mode that hands a status to the
 * wrong wait, or loses it, fails the workload.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Where one more fork costs tens of milliseconds, fewer rounds do. */
#define SCALE_ROUNDS_MIN 10
/* Long enough for the waiter to be asleep in waitpid(-1) before the exit. */
#define LATENCY_SETTLE_NS (300 * 1000)
#define MEMORY_SETTLE_NS  (200 * 1000 * 1000)
#define LOSSES_SHOWN	  3

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

/* Each child exits with its own code, so a status handed to the wrong wait
 * shows up as a loss. */
static int child_code(int i)
{
	return 1 + i % 250;
}

static void sem_wait_nointr(sem_t *sem)
{
	while (sem_wait(sem) < 0 && errno == EINTR)
		;
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

/* The median of ns[0..n) as the one figure, if no status was lost and no
 * child is left; else -1. */
static int work_result(const struct losses *l, int total, double *ns, int n,
		       double *out)
{
	if (losses_check(l, total) < 0 || children_none_left(l->what) < 0)
		return -1;
	out[0] = median(ns, n);
	return 1;
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
	r = work_result(&l, j->count, ns, n, out);
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

int batches_of(int children)
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
	r = work_result(&l, batches * BATCH, ns, batches, out);
out_free:
	free(ns);
	return r;
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

int idle_main(void)
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

static volatile sig_atomic_t sigchld_handled_any;

static void sigchld_handled(int sig)
{
	(void)sig;
	sigchld_handled_any = 1;
}

/*
 * The waiter sleeps while the main thread, which forked, sleeps too. With
 * a SIGCHLD handler (the program's, or safe's and fast's relay), each exit
 * also wakes a thread to run it: what the second table measures, bare as
 * well.
 */
static int work_latency(const struct job *j, double *out)
{
	struct losses l = { workload_names[j->wl], 0 };
	double *ns = calloc(j->count, sizeof *ns);
	_Atomic int64_t *exit_ns = mmap(NULL, sizeof *exit_ns,
					PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct waker w = { .stop = false };
	bool forked_all = true;
	pthread_t waiter;
	int n = 0, r = -1, err;

	if (!ns || exit_ns == MAP_FAILED) {
		fprintf(stderr, "bench: %s: out of memory\n", l.what);
		goto out_free;
	}
	if (j->wl == WL_LATENCY_HANDLER) {
		struct sigaction sa = { .sa_handler = sigchld_handled,
					.sa_flags = SA_RESTART };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGCHLD, &sa, NULL);
	}
	sem_init(&w.go, 0, 0);
	sem_init(&w.done, 0, 0);
	err = pthread_create(&waiter, NULL, latency_waiter, &w);
	if (err) {
		fprintf(stderr, "bench: %s: pthread_create: %s\n", l.what,
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
			fprintf(stderr, "bench: %s: fork: %s\n", l.what,
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
	/* Else the table would time the plain workload under this name. */
	if (j->wl == WL_LATENCY_HANDLER && !sigchld_handled_any)
		fprintf(stderr, "bench: latency-handler: SIGCHLD's handler "
				"never ran\n");
	else if (forked_all)
		r = work_result(&l, j->count, ns, n, out);
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

int work_run(const struct job *j, double *out)
{
	static int (*const work[WL_COUNT])(const struct job *, double *) = {
		[WL_FORK] = work_serial,     [WL_VFORK] = work_serial,
		[WL_SPAWN] = work_serial,    [WL_BATCH] = work_batch,
		[WL_SCALE] = work_scale,     [WL_LATENCY] = work_latency,
		[WL_LATENCY_HANDLER] = work_latency, [WL_MEMORY] = work_memory,
	};

	return work[j->wl] ? work[j->wl](j, out) : -1;
}
