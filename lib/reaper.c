/* SPDX-License-Identifier: MIT */
/*
 * The one owner of children: the table is the truth about them, strategies
 * report their exits into it, and every wait takes from it. Waits may come
 * from signal handlers, so nothing here allocates or takes a lock with
 * signals open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "reaper.h"
#include "strategy.h"
#include "sys.h"

/* How often a blocked wait looks for itself when nothing will wake it:
 * a stop (no watcher reports stops), an unwatched child, or SIGCHLD
 * blocked or ignored in a SIGCHLD-driven mode. */
#define POLL_MS 10
#define THREAD_STACK (64 * 1024)

static const struct cw__strategy *strategy;
static atomic_bool sigchld_relayed;
static _Thread_local sigset_t fork_saved;

/* take_pid()'s answer for a pid the table does not know. */
#define NOT_OURS 1

static void child_unwatch(struct cw__child *c)
{
	if (c->state == CHILD_RUNNING)
		strategy->unwatch(c);
}

void cw__child_exited(struct cw__child *c)
{
	child_unwatch(c);
	cw__table_move(c, CHILD_EXITED);
}

/* Reaped outside the shim: SIG_IGN, SA_NOCLDWAIT or a raw system call. */
void cw__child_vanished(struct cw__child *c)
{
	child_unwatch(c);
	cw__table_remove(c);
}

void cw__child_probe(struct cw__child *c)
{
	siginfo_t si = { 0 };
	int r = cw__sys_waitid(P_PID, c->pid, &si,
			       WEXITED | WNOHANG | WNOWAIT | __WALL, NULL);

	if (r < 0)
		cw__child_vanished(c);
	else if (si.si_pid == c->pid)
		cw__child_exited(c);
}

void cw__children_gone(void)
{
	struct cw__child *c, *tmp;

	cw__list_for_each_safe(c, tmp, &cw__table.running)
		cw__child_vanished(c);
	cw__list_for_each_safe(c, tmp, &cw__table.ready)
	{
		if (c->state == CHILD_EXITED)
			cw__child_vanished(c);
	}
}

void cw__collect_scan(void)
{
	struct cw__child *c, *tmp;
	siginfo_t si = { 0 };
	int r = cw__sys_waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT,
			       NULL);

	if (r == -ECHILD) {
		cw__children_gone();
		return;
	}
	if (r < 0 || si.si_pid == 0)
		return;
	cw__list_for_each_safe(c, tmp, &cw__table.running)
		cw__child_probe(c);
}

int cw__thread_start(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	if (pthread_attr_init(&attr))
		return -ENOMEM;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	r = pthread_create(&thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return -r;
}

static pid_t pgid_of(const struct cw__child *c)
{
	if (c->state == CHILD_COLLECTED || c->state == CHILD_CONSUMED)
		return c->pgid;
	return cw__sys_getpgid(c->pid);
}

static bool matches(const struct cw__child *c, const struct cw__wait *w)
{
	if (c->owner != w->as)
		return false;
	if ((w->options & __WNOTHREAD) && c->creator != cw__sys_gettid())
		return false;
	return w->idtype != P_PGID || pgid_of(c) == (pid_t)w->id;
}

static void si_from_child(siginfo_t *si, const struct cw__child *c)
{
	memset(si, 0, sizeof *si);
	si->si_signo = SIGCHLD;
	si->si_code = c->code;
	si->si_pid = c->pid;
	si->si_uid = c->uid;
	si->si_status = c->status;
}

static void child_keep(struct cw__child *c, const siginfo_t *si,
		       const struct rusage *ru)
{
	c->code = si->si_code;
	c->status = si->si_status;
	c->uid = si->si_uid;
	c->ru = *ru;
}

static bool is_exit(int code)
{
	return code == CLD_EXITED || code == CLD_KILLED || code == CLD_DUMPED;
}

/* Hands c's event to w if it has one w asked for: the pid, 0 when it has
 * none, -ECHILD when c turned out to be gone. */
static int deliver(struct cw__child *c, struct cw__wait *w)
{
	pid_t pid = c->pid;
	int r;

	if (c->state == CHILD_RUNNING || c->state == CHILD_EXITED) {
		/* The kernel still holds the child: let it answer exactly
		 * as it would have answered the program. */
		w->si.si_pid = 0;
		r = cw__sys_waitid(P_PID, pid, &w->si,
				   (w->options & ~__WNOTHREAD) | WNOHANG,
				   &w->ru);
		if (r < 0) {
			cw__child_vanished(c);
			return -ECHILD;
		}
		if (w->si.si_pid != pid)
			return 0;
	} else {
		if (!(w->options & WEXITED))
			return 0;
		si_from_child(&w->si, c);
		w->ru = c->ru;
	}
	if ((w->options & WNOWAIT) || !is_exit(w->si.si_code))
		return pid;
	child_unwatch(c);
	/* A late wait for this very pid still gets the status it would have
	 * had, had nobody else waited first. */
	if (c->owner == CW_OWNER_PROGRAM && c->state != CHILD_CONSUMED &&
	    w->idtype != P_PID) {
		child_keep(c, &w->si, &w->ru);
		cw__table_move(c, CHILD_CONSUMED);
	} else {
		cw__table_remove(c);
	}
	return pid;
}

static int take_pid(struct cw__wait *w)
{
	struct cw__child *c = cw__table_find(w->id);
	int r;

	if (!c)
		return NOT_OURS;
	if (c->owner != w->as || !matches(c, w))
		return -ECHILD;
	r = deliver(c, w);
	/* Already reaped: no stop or continue can follow. */
	if (r == 0 && c->state >= CHILD_COLLECTED)
		return -ECHILD;
	return r;
}

static bool has_child(const struct cw__wait *w)
{
	const struct cw__list *lists[] = { &cw__table.running,
					   &cw__table.ready };
	const struct cw__child *c;

	/* A child another thread is creating exists for the kernel already. */
	if (atomic_load(&cw__table.creating) > 0)
		return true;
	if (w->idtype == P_ALL && !(w->options & __WNOTHREAD) &&
	    w->as == CW_OWNER_PROGRAM)
		return cw__table.program_children > 0;
	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
		for (c = lists[i]->head; c; c = c->next)
			if (matches(c, w))
				return true;
	return false;
}

static int take_from(struct cw__list *list, struct cw__wait *w)
{
	struct cw__child *c, *tmp;
	int r;

	cw__list_for_each_safe(c, tmp, list)
	{
		if (c->specific_waiters || !matches(c, w))
			continue;
		r = deliver(c, w);
		if (r > 0)
			return r;
	}
	return 0;
}

static int take_any(struct cw__wait *w)
{
	int r = 0;

	if (w->options & WEXITED)
		r = take_from(&cw__table.ready, w);
	if (!r && (w->options & (WSTOPPED | WCONTINUED)))
		r = take_from(&cw__table.running, w);
	if (r)
		return r;
	return has_child(w) ? 0 : -ECHILD;
}

static int take(struct cw__wait *w)
{
	int r;

	if (w->idtype == P_PID)
		return take_pid(w);
	r = take_any(w);
	if (r == 0 || r == -ECHILD) {
		strategy->collect();
		r = take_any(w);
	}
	return r;
}

/* mask: the caller's own signal mask. */
static int poll_timeout(const struct cw__wait *w, const sigset_t *mask)
{
	if (cw__table.unwatched || (w->options & (WSTOPPED | WCONTINUED)))
		return POLL_MS;
	if (strategy->sigchld_driven && (!atomic_load(&sigchld_relayed) ||
					 sigismember(mask, SIGCHLD)))
		return POLL_MS;
	return -1;
}

/*
 * Sleeps until the table may hold an answer for w. A wait for one pid
 * sleeps in the kernel on that pid without reaping, so EINTR and
 * SA_RESTART are exactly the kernel's; a wait for any child sleeps on the
 * table's sequence word. Called and returns with the table locked.
 */
static int block(struct cw__wait *w, sigset_t *saved)
{
	uint32_t seq = atomic_load(&cw__table.seq);
	int timeout = w->idtype == P_PID ? -1 : poll_timeout(w, saved);
	siginfo_t si;
	int r;

	cw__table_unlock(saved);
	if (w->idtype == P_PID)
		r = cw__sys_waitid(P_PID, w->id, &si,
				   (w->options & ~(WNOHANG | __WNOTHREAD)) |
					   WNOWAIT,
				   NULL);
	else
		r = cw__futex_wait(&cw__table.seq, seq, timeout);
	cw__table_lock(saved);
	return r == -EINTR ? -EINTR : 0;
}

static int pidfd_pid(int pidfd)
{
	char path[64], buf[512], *p;
	int fd, n;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -EBADF;
	n = read(fd, buf, sizeof buf - 1);
	cw__sys_close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strstr(buf, "\nPid:");
	if (!p)
		return -EINVAL;
	n = atoi(p + 5);
	return n > 0 ? n : -ECHILD;
}

static int wait_kernel(struct cw__wait *w)
{
	int r = cw__sys_waitid(w->idtype, w->id, &w->si, w->options, &w->ru);

	return r < 0 ? r : w->si.si_pid;
}

/*
 * __WCLONE alone asks for clone children, which the shim never creates; a
 * wait for any child with __WALL is a debugger's or a thread library's,
 * for tracees that need not be children at all. Only the kernel knows
 * those, so it answers, once the statuses fast mode holds are handed out.
 */
static bool kernel_answers(const struct cw__wait *w)
{
	if ((w->options & (__WCLONE | __WALL)) == __WCLONE)
		return true;
	return w->idtype != P_PID && (w->options & __WALL);
}

static int take_collected(struct cw__wait *w)
{
	struct cw__child *c, *tmp;
	sigset_t saved;
	int r = 0;

	cw__table_lock(&saved);
	cw__list_for_each_safe(c, tmp, &cw__table.ready)
	{
		if (c->state == CHILD_COLLECTED && !c->specific_waiters &&
		    matches(c, w) && (r = deliver(c, w)) > 0)
			break;
	}
	cw__table_unlock(&saved);
	return r > 0 ? r : 0;
}

static void waiter_count(pid_t pid, uint32_t gen, int delta)
{
	struct cw__child *c = cw__table_find(pid);

	if (!c || c->gen != gen)
		return;
	c->specific_waiters += delta;
	if (!c->specific_waiters)
		cw__table_changed();
}

int cw__wait(struct cw__wait *w)
{
	struct cw__child *c;
	sigset_t saved;
	uint32_t gen = 0;
	int r;

	if (kernel_answers(w)) {
		r = take_collected(w);
		return r ? r : wait_kernel(w);
	}
	if (w->idtype == P_PIDFD) {
		r = pidfd_pid(w->id);
		if (r < 0)
			return r;
		w->idtype = P_PID;
		w->id = r;
	}
	memset(&w->si, 0, sizeof w->si);
	cw__table_lock(&saved);
	if (w->idtype == P_PID && (c = cw__table_find(w->id))) {
		gen = c->gen;
		waiter_count(w->id, gen, 1);
	}
	for (;;) {
		r = take(w);
		if (r != 0 || (w->options & WNOHANG))
			break;
		if (block(w, &saved) == -EINTR) {
			r = take(w);
			if (r == 0)
				r = -EINTR;
			break;
		}
	}
	if (gen)
		waiter_count(w->id, gen, -1);
	cw__table_unlock(&saved);
	if (r == NOT_OURS)
		r = wait_kernel(w);
	return r;
}

int cw__wait_status(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_KILLED:
		return si->si_status & 0x7f;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	case CLD_CONTINUED:
		return 0xffff;
	default: /* CLD_STOPPED, CLD_TRAPPED */
		return (si->si_status & 0xff) << 8 | 0x7f;
	}
}

void cw__child_creating(void)
{
	atomic_fetch_add(&cw__table.creating, 1);
}

void cw__child_created(pid_t pid, enum cw__owner owner)
{
	struct cw__child *c;
	sigset_t saved;

	cw__table_lock(&saved);
	if (pid > 0) {
		c = cw__table_add(pid, owner, cw__sys_gettid());
		if (c)
			strategy->watch(c);
	}
	atomic_fetch_sub(&cw__table.creating, 1);
	cw__table_changed();
	cw__table_unlock(&saved);
}

void cw__reaper_uncounted(struct rusage *ru)
{
	const struct cw__child *c;
	sigset_t saved;

	memset(ru, 0, sizeof *ru);
	cw__table_lock(&saved);
	for (c = cw__table.ready.head; c; c = c->next) {
		if (c->state != CHILD_COLLECTED)
			continue;
		timeradd(&ru->ru_utime, &c->ru.ru_utime, &ru->ru_utime);
		timeradd(&ru->ru_stime, &c->ru.ru_stime, &ru->ru_stime);
		ru->ru_minflt += c->ru.ru_minflt;
		ru->ru_majflt += c->ru.ru_majflt;
		ru->ru_inblock += c->ru.ru_inblock;
		ru->ru_oublock += c->ru.ru_oublock;
		ru->ru_nvcsw += c->ru.ru_nvcsw;
		ru->ru_nivcsw += c->ru.ru_nivcsw;
	}
	cw__table_unlock(&saved);
}

void cw__reaper_fork_prepare(void)
{
	if (strategy)
		cw__table_lock(&fork_saved);
}

void cw__reaper_fork_parent(void)
{
	if (strategy)
		cw__table_unlock(&fork_saved);
}

void cw__reaper_fork_child(void)
{
	if (!strategy)
		return;
	strategy->forked();
	cw__table_reset();
	cw__signals_restore(&fork_saved);
}

bool cw__reaper_sigchld_driven(void)
{
	return strategy && strategy->sigchld_driven;
}

void cw__reaper_sigchld_relayed(bool relayed)
{
	atomic_store(&sigchld_relayed, relayed);
	cw__table_changed();
}

static pid_t parent_of(const char *pid)
{
	char path[300], buf[512], *p;
	int fd, n;

	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	cw__sys_close(fd);
	buf[n > 0 ? n : 0] = '\0';
	/* "pid (comm) state ppid": comm may hold anything but the last ')'. */
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? atoi(p + 3) : 0;
}

/*
 * Children an exec'd image inherits are still this process's children.
 * Most programs start with none, which one wait tells at no cost; only
 * then is /proc searched for them.
 */
static void adopt_children(void)
{
	siginfo_t si;
	struct dirent *e;
	DIR *proc;

	if (cw__sys_waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT,
			   NULL) == -ECHILD)
		return;
	proc = opendir("/proc");
	if (!proc)
		return;
	while ((e = readdir(proc))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' ||
		    parent_of(e->d_name) != getpid())
			continue;
		cw__child_creating();
		cw__child_created(atoi(e->d_name), CW_OWNER_PROGRAM);
	}
	closedir(proc);
}

enum cw__mode cw__reaper_init(enum cw__mode mode)
{
	static const struct cw__strategy *const strategies[] = {
		[CW_MODE_SAFE] = &cw__strategy_safe,
		[CW_MODE_FAST] = &cw__strategy_fast,
		[CW_MODE_THREADED] = &cw__strategy_threaded,
		[CW_MODE_PIDFD] = &cw__strategy_pidfd,
	};

	if (mode == CW_MODE_PIDFD) {
		int fd = cw__sys_pidfd_open(getpid());

		if (fd < 0)
			mode = CW_MODE_THREADED;
		else
			cw__sys_close(fd);
	}
	strategy = strategies[mode];
	pthread_atfork(cw__reaper_fork_prepare, cw__reaper_fork_parent,
		       cw__reaper_fork_child);
	adopt_children();
	return mode;
}
