/* SPDX-License-Identifier: MIT */
/*
 * SIGCHLD ignored (SIG_IGN or SA_NOCLDWAIT) in the program's view, while
 * the kernel's disposition is the shim's handler: the kernel would reap
 * each child as it exits, and a wait for any child would only wait for
 * the last one to go. The shim reaps instead, and keeps each status as a
 * record for one late wait for that pid: system(), pclose() and a
 * waitpid(pid) get their child's status where bare they get ECHILD.
 */
#include <stdatomic.h>

#include "child.h"
#include "deliver.h"
#include "ignored.h"
#include "sys.h"
#include "trace.h"

CW_HOT static atomic_bool ignored;

CW_PARENT_CODE bool cw__autoreaping(void)
{
	return atomic_load(&ignored);
}

static bool reap_into(struct cw__child *c)
{
	pid_t pgid = cw__sys_getpgid(c->pid);
	siginfo_t si = { 0 };
	struct rusage ru;
	int r = cw__sys_waitid(P_PID, c->pid, &si,
			       WEXITED | WNOHANG | __WALL, &ru);

	if (r < 0 || si.si_pid != c->pid)
		return false;
	cw__trace_reaped(c->pid, &si);
	cw__child_keep(c, &si, &ru);
	c->pgid = pgid;
	return true;
}

void cw__ignored_reap(void)
{
	static const struct cw__caller kernel = { "SIG_IGN", NULL };
	static const struct cw__wait_args none;
	struct cw__child *c, *tmp;

	/* Every exit, not only the kernel's first (collect() in pidfd and
	 * threaded): one SIGCHLD may stand for several. */
	cw__collect_scan();
	cw__for_each_safe(c, tmp, cw__table_ready_first())
	{
		if (c->owner != CW_OWNER_PROGRAM || c->kept_zombie ||
		    c->specific_waiters)
			continue;
		if (c->state == CHILD_EXITED && !reap_into(c)) {
			cw__child_vanished(c);
			continue;
		}
		cw__record_keep(c, &kernel, &none, false);
	}
	/* Zombies the table never knew (a raw clone): the kernel's to reap. */
	for (;;) {
		siginfo_t si = { 0 };
		int r = cw__sys_waitid(P_ALL, 0, &si,
				       WEXITED | WNOHANG | WNOWAIT, NULL);

		if (r < 0 || si.si_pid == 0 ||
		    cw__table_creating())
			break;
		c = cw__table_find(si.si_pid);
		if (c && c->state != CHILD_CONSUMED)
			break;
		cw__sys_waitid(P_PID, si.si_pid, &si, WEXITED | WNOHANG, NULL);
	}
}

void cw__children_autoreap(void)
{
	sigset_t saved;

	if (!atomic_load(&ignored))
		return;
	cw__table_lock(&saved);
	cw__ignored_reap();
	cw__table_unlock(&saved);
}

CW_PARENT_CODE void cw__wait_created(void)
{
	/* Its SIGCHLD may have come before it was known, and gone unheeded. */
	if (atomic_load(&ignored) && !cw__table_creating())
		cw__ignored_reap();
}

CW_CHILD_CODE void cw__wait_sigchld_ignored(bool on)
{
	struct cw__child *c;
	sigset_t saved;

	if (atomic_load(&ignored) == on)
		return;
	cw__table_lock(&saved);
	if (on) {
		cw__collect_scan();
		for (c = cw__table_ready_first(); c; c = c->next)
			c->kept_zombie = true;
	} else {
		cw__ignored_reap();
	}
	atomic_store(&ignored, on);
	cw__table_changed();
	cw__table_unlock(&saved);
}
