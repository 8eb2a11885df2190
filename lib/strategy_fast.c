/* SPDX-License-Identifier: MIT */
/*
 * fast: asyncio's FastChildWatcher. SIGCHLD wakes the waits; one
 * waitpid(-1)-style sweep reaps whatever exited, at a cost that does not
 * grow with the number of live children, and keeps each status for
 * whoever asks for it.
 */
#include <errno.h>

#include "child.h"
#include "strategy.h"
#include "sys.h"
#include "trace.h"

/* Reaps one zombie into c; false when it was gone already. */
static bool collect_one(struct cw__child *c)
{
	pid_t pgid = cw__sys_getpgid(c->pid);
	siginfo_t si = { 0 };
	struct rusage ru;
	int r = cw__sys_waitid(P_PID, c->pid, &si, WEXITED | WNOHANG | __WALL,
			       &ru);

	if (r < 0 || si.si_pid != c->pid)
		return false;
	if (cw__trace_on()) {
		cw__trace_exited(c->pid, &si);
		cw__trace_reaped(c->pid, &si);
	}
	c->code = si.si_code;
	c->status = si.si_status;
	c->uid = si.si_uid;
	c->pgid = pgid;
	c->ru = ru;
	cw__table_move(c, CHILD_COLLECTED);
	return true;
}

CW_PARENT_CODE static void fast_collect(void)
{
	for (;;) {
		siginfo_t si = { 0 };
		struct cw__child *c;
		/* Peek first: the zombie at the head may belong to a creation
		 * still under way, whose owner must be known before anyone
		 * can take it. */
		int r = cw__sys_waitid(P_ALL, 0, &si,
				       WEXITED | WNOHANG | WNOWAIT, NULL);

		if (r == -ECHILD)
			cw__children_gone();
		if (r < 0 || si.si_pid == 0)
			return;
		c = cw__table_find(si.si_pid);
		if (!c || c->state == CHILD_CONSUMED) {
			if (cw__table_creating())
				return;
			/* A child the shim never saw created: fast collects
			 * every child, and keeps it for the program. */
			c = cw__table_add(si.si_pid, CW_OWNER_PROGRAM, 0);
			if (!c)
				return;
			cw__table_watched(c);
		}
		if (!collect_one(c))
			cw__child_vanished(c);
	}
}

const struct cw__strategy cw__strategy_fast = {
	.watch = cw__watch_by_sigchld,
	.unwatch = cw__unwatch_nothing,
	.collect = fast_collect,
	.catch_up = cw__catch_up_heard,
	.forked = cw__forked_nothing,
	.sigchld_driven = true,
};
