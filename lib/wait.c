/* SPDX-License-Identifier: MIT */
/*
 * Every wait of the program, and of system() and pclose(), takes from the
 * table. Async-signal-safe: waits may come from signal handlers that
 * interrupted anything, so nothing here allocates, starts a thread, or
 * takes the lock with signals open; a blocked wait sleeps in the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "component.h"
#include "deliver.h"
#include "ignored.h"
#include "strategy.h"
#include "sys.h"
#include "trace.h"

/* How often a blocked wait looks for itself when nothing can wake it: only
 * where the kernel gives no pidfds, and only while the kernel's next event
 * is someone else's. */
#define POLL_MS 10

/* take_pid()'s answer for a pid the table does not know. */
#define NOT_OURS 1

static int take_pid(struct cw__wait *w)
{
	struct cw__child *c = cw__table_find(w->id);
	int r;

	if (!c)
		return NOT_OURS;
	if (c->owner != w->as || !cw__matches(c, w))
		return -ECHILD;
	/* Unclaimed yet (no creation site), the record is nobody's. */
	if (c->state == CHILD_CONSUMED && c->for_creator &&
	    (!c->spawned.site ||
	     !cw__same_component(w->by.site, c->spawned.site)))
		return -ECHILD;
	r = cw__deliver(c, w);
	/* Already reaped: no stop or continue can follow. */
	if (r == 0 && c->state >= CHILD_COLLECTED)
		return -ECHILD;
	return r;
}

/* Whether w has a child to wait for at all: else ECHILD, as the kernel,
 * for which a zombie counts only when WEXITED is asked for. */
static bool has_child(const struct cw__wait *w)
{
	const struct cw__child *firsts[] = { cw__table_running_first(),
					     cw__table_ready_first() };
	size_t nlists = w->options & WEXITED ? 2 : 1;
	const struct cw__child *c;

	/* A child another thread is creating exists for the kernel already. */
	if (cw__table_creating())
		return true;
	if (w->idtype == P_ALL && !(w->options & __WNOTHREAD) &&
	    w->as == CW_OWNER_PROGRAM && (w->options & WEXITED))
		return cw__table_program_children();
	for (size_t i = 0; i < nlists; i++)
		for (c = firsts[i]; c; c = c->next)
			if (cw__matches(c, w))
				return true;
	return false;
}

/* Where a plain kernel wait would have taken a child that is not w's to
 * take: its owner's, or that of a wait for this very pid. */
static void theft_note(struct cw__child *c, const struct cw__wait *w)
{
	if (c->theft_traced || c->state == CHILD_RUNNING ||
	    w->as != CW_OWNER_PROGRAM || !cw__trace_on())
		return;
	c->theft_traced = true;
	cw__trace_averted(&w->by, &w->args, c->pid, &c->spawned);
}

/* c is w's to take: w is its owner's wait, and no wait for this very pid
 * is ahead of it. A theft averted is noted on the way. */
CW_PARENT_CODE static bool takeable(struct cw__child *c,
				    const struct cw__wait *w)
{
	if (c->specific_waiters || c->owner != w->as) {
		if (cw__kernel_match(c, w))
			theft_note(c, w);
		return false;
	}
	return cw__kernel_match(c, w);
}

/*
 * The kernel looks at the calling thread's children first, then at each
 * other thread's, in the order the threads were created, from the caller's
 * on: with thread ids handed out in creation order, that is the distance
 * from the caller's id up, wrapping. Children the kernel handed on from a
 * thread that exited are still counted as their creator's.
 */
static uint32_t thread_rank(const struct cw__child *c, pid_t self)
{
	return (uint32_t)(c->creator_tid - self);
}

/* Only the children of one thread, when the process has made children
 * from several. */
struct rank_filter {
	bool on;
	pid_t self;
	uint32_t rank;
};

static bool in_rank(const struct cw__child *c, const struct rank_filter *f)
{
	return !f->on || thread_rank(c, f->self) == f->rank;
}

static struct cw__child *oldest_exit(const struct cw__wait *w,
				     const struct rank_filter *f)
{
	struct cw__child *c, *oldest = NULL;

	for (c = cw__table_ready_first(); c; c = c->next)
		if (in_rank(c, f) && takeable(c, w) &&
		    (!oldest || c->gen < oldest->gen) &&
		    !(cw__autoreaping() && c->owner == CW_OWNER_PROGRAM &&
		      !c->kept_zombie))
			oldest = c;
	return oldest;
}

/*
 * Within one thread's children, a wait for any child takes the child the
 * kernel would: the kernel looks at them in the order they were created,
 * and takes the first with an event asked for, an exit or a stop alike.
 */
CW_PARENT_CODE static int take_ranked(struct cw__wait *w,
				      const struct rank_filter *f)
{
	bool stops = w->options & (WSTOPPED | WCONTINUED);
	struct cw__child *c, *tmp, *exit;
	int r;

	for (;;) {
		exit = w->options & WEXITED ? oldest_exit(w, f) : NULL;
		if (stops) {
			cw__for_each_safe(c, tmp, cw__table_running_first())
			{
				if (exit && c->gen > exit->gen)
					break;
				if (in_rank(c, f) && takeable(c, w) &&
				    (r = cw__deliver(c, w)) > 0)
					return r;
			}
		}
		/* An exit that turned out to be gone (-ECHILD) left the
		 * table: look again. */
		if (!exit || (r = cw__deliver(exit, w)) == 0)
			break;
		if (r > 0)
			return r;
	}
	return 0;
}

/* The lowest rank from f->rank on among the children w may see, in f. */
static bool rank_next(const struct cw__wait *w, struct rank_filter *f)
{
	const struct cw__child *firsts[] = { cw__table_running_first(),
					     cw__table_ready_first() };
	const struct cw__child *c;
	uint32_t best = 0, r;
	bool found = false;

	for (size_t i = 0; i < 2; i++) {
		for (c = firsts[i]; c; c = c->next) {
			r = thread_rank(c, f->self);
			if (r < f->rank || (found && r >= best) ||
			    !cw__kernel_match(c, w))
				continue;
			best = r;
			found = true;
		}
	}
	f->rank = best;
	return found;
}

CW_PARENT_CODE static int take_any(struct cw__wait *w)
{
	struct rank_filter f = { .on = cw__table_many_creators() };
	int r;

	if (!f.on) {
		r = take_ranked(w, &f);
	} else {
		f.self = cw__sys_gettid();
		for (r = 0; r == 0 && rank_next(w, &f); f.rank++) {
			r = take_ranked(w, &f);
			if (r || f.rank == UINT32_MAX)
				break;
		}
	}
	if (r)
		return r;
	return has_child(w) ? 0 : -ECHILD;
}

/* block()'s answers besides 0 and -EINTR: the kernel says no child is left
 * at all; the kernel's next event is one w may take, and the table has it. */
#define NONE_LEFT 1
#define PICKED 2

/*
 * Whether the table's answer for w stands without asking the kernel first.
 * Just picked by the kernel: an exit older still would have come after the
 * peek that answered, and the wait may end with the pick. About to block,
 * with no exit in the table to put in the kernel's order: block()'s peek
 * is the kernel's answer, and a peek before it would only say it twice.
 * Not in safe and fast, whose catch_up is the collect a SIGCHLD asks for.
 */
static bool kernel_asked(const struct cw__wait *w, int woke)
{
	return woke == PICKED ||
	       (woke == 0 && !(w->options & WNOHANG) &&
		!cw__strategy->sigchld_driven && !cw__table_ready_first());
}

/* woke: block()'s answer before this look, 0 for the first. */
CW_PARENT_CODE static int take(struct cw__wait *w, int woke)
{
	bool more;
	int r;

	if (w->idtype == P_PID)
		return take_pid(w);
	if (cw__autoreaping() && w->as == CW_OWNER_PROGRAM)
		cw__ignored_reap();
	/* No child at all may be one collect() has yet to find. */
	if (kernel_asked(w, woke) && (r = take_any(w)) != -ECHILD)
		return r;
	more = cw__strategy->catch_up(w->idtype, w->id);
	r = take_any(w);
	if (more && (r == 0 || r == -ECHILD)) {
		cw__strategy->collect();
		r = take_any(w);
	}
	return r;
}

/*
 * The kernel's next event for w belongs to someone else, or to a child the
 * shim never saw created, and may stay there (a popen() child nobody has
 * pclosed yet, a child only a raw wait4 will reap): a peek would return it
 * again at once. Sleep instead on what can still bring w an answer: the
 * exit of each child w may take, through a pidfd, and any change to the
 * table, through its wake descriptor. Only system calls: a wait may run in
 * a signal handler. Called and returns with the table locked.
 */
static int block_behind(struct cw__wait *w, uint32_t seq, sigset_t *saved)
{
	struct cw__child *c;
	int ep, wake, r = 0;

	ep = cw__sys_epoll_create();
	wake = cw__table_wake_fd();
	if (ep < 0 || wake < 0 || cw__sys_epoll_add(ep, wake, true) < 0)
		goto poll;
	for (c = cw__table_running_first(); c; c = c->next) {
		if (!takeable(c, w))
			continue;
		if (c->wait_fd < 0)
			c->wait_fd = cw__fd_park(cw__sys_pidfd_open(c->pid));
		/* Without a pidfd (an old kernel, no descriptor left), only
		 * looking again will tell. */
		if (c->wait_fd < 0 ||
		    cw__sys_epoll_add(ep, c->wait_fd, false) < 0)
			goto poll;
	}
	cw__table_unlock(saved);
	r = cw__table_sleep_fd(ep, seq);
	cw__table_lock(saved);
	cw__sys_close(ep);
	return r == -EINTR ? -EINTR : 0;
poll:
	if (ep >= 0)
		cw__sys_close(ep);
	cw__table_unlock(saved);
	r = cw__table_sleep(seq, POLL_MS);
	cw__table_lock(saved);
	return r == -EINTR ? -EINTR : 0;
}

static int block_until_changed(uint32_t seq, sigset_t *saved)
{
	int r;

	cw__table_unlock(saved);
	r = cw__table_sleep(seq, -1);
	cw__table_lock(saved);
	return r == -EINTR ? -EINTR : 0;
}

/*
 * The kernel's first event for w, left in place, asked unlocked: the kernel
 * sleeps until there is one, whatever the signal mask and disposition, and
 * the table, locked again, then says whose it is. seq is the table's
 * sequence when w last looked at it. Returns with the table locked.
 */
CW_PARENT_CODE static int peek_then_lock(struct cw__wait *w, uint32_t seq,
					 sigset_t *saved)
{
	int peek = (w->options & (WEXITED | WSTOPPED | WCONTINUED |
				  __WNOTHREAD | __WALL | __WCLONE)) | WNOWAIT;
	siginfo_t si = { 0 };
	struct cw__child *c;
	int r;

	r = cw__sys_waitid(w->idtype, w->id, &si, peek, NULL);
	cw__table_lock(saved);
	if (r == -EINTR)
		return -EINTR;
	/* A child created since is not in the peek's answer. */
	if (cw__table_seq() != seq)
		return 0;
	if (r == -ECHILD && !cw__table_creating()) {
		if (w->idtype == P_ALL && !(w->options & __WNOTHREAD))
			cw__children_gone();
		return NONE_LEFT;
	}
	if (r < 0 || si.si_pid == 0)
		return 0;
	c = cw__table_find(si.si_pid);
	/* A child another thread is creating, or one a wait for its pid is
	 * about to take: the table changes as soon as that is done. */
	if ((!c || c->state == CHILD_CONSUMED) &&
	    cw__table_creating())
		return block_until_changed(seq, saved);
	if (c && c->specific_waiters)
		return block_until_changed(seq, saved);
	if (!c || c->state == CHILD_CONSUMED) {
		/* fast adopts children it never saw created. */
		cw__strategy->collect();
		c = cw__table_find(si.si_pid);
		if (!c || c->state == CHILD_CONSUMED)
			return block_behind(w, seq, saved);
	}
	if (c->state == CHILD_RUNNING && cw__is_exit(si.si_code))
		cw__child_exit_seen(c, &si);
	if (takeable(c, w))
		return PICKED;
	return block_behind(w, seq, saved);
}

/*
 * Sleeps until the table may hold an answer for w, a wait for any child
 * that found none: on a peek (a peek that reaps nothing wakes on the first
 * event the kernel would give w). Called and returns with the table locked.
 */
static int block(struct cw__wait *w, sigset_t *saved)
{
	uint32_t seq = cw__table_seq();

	cw__table_unlock(saved);
	return peek_then_lock(w, seq, saved);
}

/* A child fast mode reaped, named by the program's pidfd: the newest, as
 * the descriptor number may have served an older one. */
static int pidfd_collected(int pidfd)
{
	const struct cw__child *c, *found = NULL;
	sigset_t saved;
	int pid;

	cw__table_lock(&saved);
	for (c = cw__table_ready_first(); c; c = c->next)
		if (c->state == CHILD_COLLECTED && c->program_pidfd == pidfd &&
		    (!found || c->gen > found->gen))
			found = c;
	pid = found ? found->pid : -ECHILD;
	cw__table_unlock(&saved);
	return pid;
}

/* Out of line: its buffers would otherwise sit in every wait's frame, one
 * more stack page that a parent writes, and so copies, while its child
 * lives (bash's wait after each fork). */
static __attribute__((noinline)) int pidfd_pid(int pidfd)
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
	/* -1: the process was reaped, perhaps by fast mode for the program. */
	if (n == -1)
		return pidfd_collected(pidfd);
	return n > 0 ? n : -ECHILD;
}

static int wait_kernel(struct cw__wait *w)
{
	int r = cw__sys_waitid(w->idtype, w->id, &w->si, w->options, &w->ru);

	return r < 0 ? r : w->si.si_pid;
}

/*
 * __WCLONE alone asks for clone children, which the shim creates only for
 * system() and popen(), whose waits ask by pid with __WALL; a
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

/* A status fast mode collected that w may have: cw__matches leaves the
 * pid to the caller, who usually found the child by it. */
static int take_collected(struct cw__wait *w)
{
	struct cw__child *c, *tmp;
	sigset_t saved;
	int r = 0;

	cw__table_lock(&saved);
	cw__for_each_safe(c, tmp, cw__table_ready_first())
	{
		if (c->state == CHILD_COLLECTED && !c->specific_waiters &&
		    (w->idtype != P_PID || c->pid == (pid_t)w->id) &&
		    cw__matches(c, w) && (r = cw__deliver(c, w)) > 0)
			break;
	}
	cw__table_unlock(&saved);
	return r > 0 ? r : 0;
}

/* The kernel still holds c, and w may have it. */
static bool kernel_holds(const struct cw__child *c, const struct cw__wait *w)
{
	return (c->state == CHILD_RUNNING || c->state == CHILD_EXITED) &&
	       c->owner == w->as && cw__matches(c, w);
}

/*
 * The common case, a blocking wait for one child the kernel still holds,
 * in one system call: wait for it in the kernel exactly as the program
 * asked, then bring the table up to date. Registered as the child's
 * specific waiter, no wait for any child takes it meanwhile, and the
 * watchers only look. ECHILD means someone else reaped it (fast's sweep
 * keeps the status, a raw wait4 does not): answer 0 and let the table
 * tell. Called and returns with the table locked.
 */
static int wait_held(struct cw__wait *w, uint32_t gen, sigset_t *saved)
{
	struct cw__child *c;
	int r;

	cw__table_unlock(saved);
	r = cw__sys_waitid(P_PID, w->id, &w->si, w->options & ~__WNOTHREAD,
			   &w->ru);
	cw__table_lock(saved);
	if (r == -ECHILD)
		return 0;
	if (r < 0)
		return r;
	if (w->si.si_pid && cw__is_exit(w->si.si_code) &&
	    !(w->options & WNOWAIT)) {
		c = cw__table_find(w->id);
		if (c && c->gen == gen) {
			cw__child_unwatch(c);
			cw__consumed(c, w);
		}
	}
	return w->si.si_pid;
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

static int wait_traced(struct cw__wait *w, int r)
{
	pid_t child = w->idtype == P_PID ? (pid_t)w->id : 0;

	if (r > 0)
		cw__trace_waited(&w->by, &w->args, r, &w->si);
	else if (r == -ECHILD && child > 0)
		cw__trace_lost(&w->by, &w->args, child);
	return r;
}

/*
 * A wait for any of the program's children, for exits only, in pidfd and
 * threaded (whose watchers only look at the program's children) with
 * SIGCHLD not ignored: while the table holds no exit, its first look, under
 * the lock, would only say whether the program has children.
 */
static bool kernel_first(const struct cw__wait *w)
{
	return w->idtype == P_ALL && w->as == CW_OWNER_PROGRAM &&
	       (w->options & (WEXITED | WSTOPPED | WCONTINUED |
			      __WNOTHREAD)) == WEXITED &&
	       !cw__strategy->sigchld_driven && !cw__autoreaping();
}

/*
 * That look, without the lock: -ECHILD for no child at all (with one of
 * another owner's, the look notes a theft a plain wait would have made),
 * else 1 with the table locked and *woke the peek's answer for a wait that
 * may block, or 0 where the table must look. Read unlocked, what changes
 * after a reading could as well have changed after the locked look: a
 * creation under way is read before the counts, as it ends after its child
 * is counted, and the sequence before the exits, as each change to them
 * bumps it.
 */
static int look_unlocked(struct cw__wait *w, int *woke, sigset_t *saved)
{
	bool creating = cw__table_creating();
	uint32_t seq;

	if (!creating && !cw__table_children())
		return -ECHILD;
	if ((w->options & WNOHANG) ||
	    (!creating && !cw__table_program_children()))
		return 0;
	seq = cw__table_seq();
	if (!cw__table_ready_none())
		return 0;
	*woke = peek_then_lock(w, seq, saved);
	return 1;
}

static int wait_mediated(struct cw__wait *w)
{
	struct cw__child *c;
	sigset_t saved;
	uint32_t gen = 0;
	int r, woke = 0;

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
	r = kernel_first(w) ? look_unlocked(w, &woke, &saved) : 0;
	if (r < 0)
		return r;
	if (r == 0)
		cw__table_lock(&saved);
	/* A wait that may block does so unlocked, for its one child; one that
	 * cannot block takes it below, in a lock it holds only once. */
	if (w->idtype == P_PID && !(w->options & WNOHANG) &&
	    (c = cw__table_find(w->id))) {
		gen = c->gen;
		waiter_count(w->id, gen, 1);
		r = kernel_holds(c, w) ? wait_held(w, gen, &saved) : 0;
		if (r != 0)
			goto out;
	}
	for (;;) {
		if (woke == -EINTR || woke == NONE_LEFT) {
			r = take(w, woke);
			if (r == 0)
				r = woke == -EINTR ? -EINTR : -ECHILD;
			break;
		}
		r = take(w, woke);
		if (r != 0 || (w->options & WNOHANG))
			break;
		woke = block(w, &saved);
	}
out:
	if (gen)
		waiter_count(w->id, gen, -1);
	cw__table_unlock(&saved);
	if (r == NOT_OURS) {
		bool creating = cw__table_creating();

		r = wait_kernel(w);
		/* A child made by a fork the shim did not see (forkpty's,
		 * daemon's) that fast adopted and reaped while the kernel
		 * had us wait: its status is in the table now. */
		if (r == -ECHILD)
			r = take_collected(w) ?: -ECHILD;
		if (creating && r > 0 && w->idtype == P_PID &&
		    cw__is_exit(w->si.si_code) && !(w->options & WNOWAIT))
			cw__early_keep(w);
	}
	return r;
}

/* Under off the shim only traces: the kernel answers every wait. */
CW_PARENT_CODE int cw__wait(struct cw__wait *w)
{
	int r = !cw__reaper_mediating() ? wait_kernel(w)
					       : wait_mediated(w);

	return cw__trace_on() ? wait_traced(w, r) : r;
}

int cw__wait_sleep(struct cw__wait *w, uint32_t seq)
{
	sigset_t saved;
	int r;

	cw__table_lock(&saved);
	r = block_behind(w, seq, &saved);
	cw__table_unlock(&saved);
	return r;
}

CW_PARENT_CODE int cw__wait_status(const siginfo_t *si)
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
