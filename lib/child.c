/* SPDX-License-Identifier: MIT */
/* What the strategies share (child.h). */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "child.h"
#include "strategy.h"
#include "sys.h"
#include "trace.h"

#define THREAD_STACK (64 * 1024)

CW_PARENT_CODE void cw__child_unwatch(struct cw__child *c)
{
	if (c->state == CHILD_RUNNING)
		cw__strategy->unwatch(c);
}

void cw__child_exited(struct cw__child *c)
{
	cw__child_unwatch(c);
	cw__table_move(c, CHILD_EXITED);
}

/* Reaped outside the shim: SIG_IGN, SA_NOCLDWAIT or a raw system call. */
void cw__child_vanished(struct cw__child *c)
{
	cw__trace_vanished(c->pid);
	cw__child_unwatch(c);
	if (c->owner != CW_OWNER_WATCHER) {
		cw__table_remove(c);
		return;
	}
	/* A watcher's handler still gets a call, with asyncio's 255 for a
	 * status that could not be had. */
	memset(&c->ru, 0, sizeof c->ru);
	c->code = CLD_EXITED;
	c->status = 255;
	cw__table_move(c, CHILD_COLLECTED);
}

CW_PARENT_CODE void cw__child_exit_seen(struct cw__child *c,
					const siginfo_t *si)
{
	if (cw__trace_on())
		cw__trace_exited(c->pid, si);
	cw__child_exited(c);
}

CW_PARENT_CODE void cw__child_probe(struct cw__child *c)
{
	siginfo_t si = { 0 };
	int r = cw__sys_waitid(P_PID, c->pid, &si,
			       WEXITED | WNOHANG | WNOWAIT | __WALL, NULL);

	/* A wait for this very pid may have reaped it, outside the lock: that
	 * wait brings the table up to date itself. */
	if (r < 0 && !c->specific_waiters)
		cw__child_vanished(c);
	else if (r == 0 && si.si_pid == c->pid)
		cw__child_exit_seen(c, &si);
}

/* system()'s and popen()'s children are clone children, which the
 * kernel's answer for a wait without __WALL leaves out. */
static bool gone_with_the_rest(const struct cw__child *c)
{
	return !c->specific_waiters && c->owner != CW_OWNER_COMMAND;
}

CW_PARENT_CODE void cw__children_gone(void)
{
	struct cw__child *c, *tmp;

	cw__for_each_safe(c, tmp, cw__table_running_first())
	{
		if (gone_with_the_rest(c))
			cw__child_vanished(c);
	}
	cw__for_each_safe(c, tmp, cw__table_ready_first())
	{
		if (c->state == CHILD_EXITED && gone_with_the_rest(c))
			cw__child_vanished(c);
	}
}

pid_t cw__kernel_next_exit(idtype_t idtype, id_t id, siginfo_t *si)
{
	int r;

	memset(si, 0, sizeof *si);
	r = cw__sys_waitid(idtype, id, si, WEXITED | WNOHANG | WNOWAIT, NULL);
	return r < 0 ? r : si->si_pid;
}


static void scan_running(void)
{
	struct cw__child *c, *tmp;

	cw__for_each_safe(c, tmp, cw__table_running_first())
		cw__child_probe(c);
}

CW_PARENT_CODE void cw__collect_scan(void)
{
	siginfo_t si;
	pid_t r = cw__kernel_next_exit(P_ALL, 0, &si);

	if (r == -ECHILD)
		cw__children_gone();
	else if (r > 0)
		scan_running();
}

void cw__collect_unwatched(void)
{
	if (cw__table_unwatched_any())
		cw__collect_picked();
}

void cw__collect_picked(void)
{
	siginfo_t si;
	pid_t r = cw__kernel_next_exit(P_ALL, 0, &si);
	struct cw__child *c;

	if (r == -ECHILD) {
		cw__children_gone();
		return;
	}
	if (r <= 0)
		return;
	c = cw__table_find(r);
	/* The peek said all a probe would. */
	if (c && c->state == CHILD_RUNNING) {
		cw__child_exit_seen(c, &si);
		return;
	}
	/* The kernel's first exit is one the table holds already and nobody
	 * took, or one it never saw: exits behind it only a scan finds. */
	scan_running();
}

CW_PARENT_CODE bool cw__catch_up_heard(idtype_t idtype, id_t id)
{
	(void)idtype;
	(void)id;
	if (atomic_load(&cw__sigchld_uncollected) &&
	    atomic_exchange(&cw__sigchld_uncollected, false)) {
		cw__strategy->collect();
		return false;
	}
	/* No SIGCHLD yet is no exit yet only where SIGCHLD is not blocked. */
	return true;
}

CW_PARENT_CODE bool cw__catch_up_kernel(idtype_t idtype, id_t id)
{
	siginfo_t si;
	pid_t pid = cw__kernel_next_exit(idtype, id, &si);
	struct cw__child *c;

	/* None of w's children has exited: nor has any a collect could
	 * report to w. */
	if (pid == 0)
		return false;
	if (pid < 0)
		return true;
	c = cw__table_find(pid);
	if (c && c->state == CHILD_RUNNING)
		cw__child_exit_seen(c, &si);
	return true;
}

void cw__watch_by_sigchld(struct cw__child *c)
{
	cw__table_watched(c);
}

CW_PARENT_CODE void cw__unwatch_nothing(struct cw__child *c)
{
	(void)c;
}

CW_CHILD_CODE void cw__forked_nothing(void)
{
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
