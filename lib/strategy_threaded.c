/* SPDX-License-Identifier: MIT */
/*
 * threaded: asyncio's ThreadedChildWatcher. A thread per live child sleeps
 * in a per-pid wait that does not reap, and reports the exit.
 */
#include <errno.h>
#include <stdint.h>

#include "child.h"
#include "strategy.h"
#include "sys.h"

_Static_assert(sizeof(uintptr_t) >= 8, "a pid and a generation in a pointer");

static void *child_thread(void *arg)
{
	uint64_t key = (uintptr_t)arg;
	pid_t pid = (pid_t)(key & 0xffffffff);
	struct cw__child *c;
	sigset_t saved;
	siginfo_t si;
	int r;

	do
		r = cw__sys_waitid(P_PID, pid, &si,
				   WEXITED | WNOWAIT | __WALL, NULL);
	while (r == -EINTR);
	cw__table_lock(&saved);
	c = cw__table_running(key);
	if (c)
		cw__child_probe(c);
	cw__table_unlock(&saved);
	return NULL;
}

static void threaded_watch(struct cw__child *c)
{
	uintptr_t key = cw__table_key(c);

	if (cw__thread_start(child_thread, (void *)key) == 0)
		cw__table_watched(c);
}

const struct cw__strategy cw__strategy_threaded = {
	.watch = threaded_watch,
	/* A thread ends by itself once its child has exited, and none
	 * survives fork. */
	.unwatch = cw__unwatch_nothing,
	.collect = cw__collect_unwatched,
	.catch_up = cw__catch_up_kernel,
	.forked = cw__forked_nothing,
	.sigchld_driven = false,
};
