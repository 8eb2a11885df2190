/* SPDX-License-Identifier: MIT */
/* A child's event handed to a wait, and the records kept for late waits.
 * Async-signal-safe, as the waits that call it. */
#include <errno.h>
#include <string.h>

#include "child.h"
#include "component.h"
#include "deliver.h"
#include "sys.h"
#include "trace.h"

static pid_t pgid_of(const struct cw__child *c)
{
	if (c->state == CHILD_COLLECTED || c->state == CHILD_CONSUMED)
		return c->pgid;
	return cw__sys_getpgid(c->pid);
}

/* Whether the kernel would give c to w, whoever c's owner. */
CW_PARENT_CODE bool cw__kernel_match(const struct cw__child *c,
				     const struct cw__wait *w)
{
	if ((w->options & __WNOTHREAD) &&
	    !pthread_equal(c->creator, pthread_self()))
		return false;
	return w->idtype != P_PGID || pgid_of(c) == (pid_t)w->id;
}

CW_PARENT_CODE bool cw__matches(const struct cw__child *c,
				  const struct cw__wait *w)
{
	return c->owner == w->as && cw__kernel_match(c, w);
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

void cw__child_keep(struct cw__child *c, const siginfo_t *si,
		       const struct rusage *ru)
{
	c->code = si->si_code;
	c->status = si->si_status;
	c->uid = si->si_uid;
	c->ru = *ru;
}

CW_PARENT_CODE bool cw__is_exit(int code)
{
	return code == CLD_EXITED || code == CLD_KILLED || code == CLD_DUMPED;
}

/* c's status, kept as taken by a call with args, for one wait for its pid
 * (the creator's alone when for_creator). */
void cw__record_keep(struct cw__child *c, const struct cw__caller *by,
			const struct cw__wait_args *args, bool for_creator)
{
	c->taken.by = *by;
	c->taken.args = *args;
	c->taken.tid = cw__trace_on() ? cw__sys_gettid() : 0;
	c->for_creator = for_creator;
	cw__table_move(c, CHILD_CONSUMED);
}

/*
 * w took c's exit (w->si). Who else may still have it, once:
 * - taken by a wait for any child: one late wait for this very pid,
 *   whoever makes it (the thief could not have known whose it was);
 * - taken by a wait for this pid from a component (loaded object) other
 *   than the one that created c: the creator's next wait for the pid.
 *   Any other wait for it, the taker's own again included, gets ECHILD,
 *   as bare: a loop that waits until ECHILD never sees a status twice.
 */
CW_PARENT_CODE void cw__consumed(struct cw__child *c, const struct cw__wait *w)
{
	bool by_pid = w->idtype == P_PID;

	if (c->owner != CW_OWNER_PROGRAM || c->state == CHILD_CONSUMED ||
	    (by_pid && cw__same_component(w->by.site, c->spawned.site))) {
		cw__table_remove(c);
		return;
	}
	cw__child_keep(c, &w->si, &w->ru);
	cw__record_keep(c, &w->by, &w->args, by_pid);
}

/* Hands c's event to w if it has one w asked for: the pid, 0 when it has
 * none, -ECHILD when c turned out to be gone. */
CW_PARENT_CODE int cw__deliver(struct cw__child *c, struct cw__wait *w)
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
		/* Without WEXITED the kernel does not see a zombie: ECHILD
		 * then says nothing of whether the child is still there. */
		if (r < 0) {
			if (w->options & WEXITED)
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
		if (c->state == CHILD_CONSUMED)
			cw__trace_replayed(&w->by, &w->args, c->pid, &c->taken);
	}
	if ((w->options & WNOWAIT) || !cw__is_exit(w->si.si_code))
		return pid;
	cw__child_unwatch(c);
	cw__consumed(c, w);
	return pid;
}

/* Records of children reaped by pid while their creation was under way. */
static size_t early_records;

/*
 * w reaped, in the kernel, a pid the table did not know while a creation
 * was under way: a SIGCHLD handler that waits for si_pid can run before
 * fork() returns in its parent. The creation may be that child's: keep its
 * status, to be claimed when the creation registers the pid.
 */
void cw__early_keep(struct cw__wait *w)
{
	struct cw__child *c;
	sigset_t saved;

	cw__table_lock(&saved);
	c = cw__table_find(w->id);
	/* Registered meanwhile: it is that child, and w took its exit. */
	if (c && (c->state == CHILD_RUNNING || c->state == CHILD_EXITED)) {
		cw__child_unwatch(c);
		cw__consumed(c, w);
		goto out_unlock;
	}
	if (c)
		goto out_unlock;
	c = cw__table_add(w->id, CW_OWNER_PROGRAM, 0);
	if (!c)
		goto out_unlock;
	cw__child_keep(c, &w->si, &w->ru);
	cw__record_keep(c, &w->by, &w->args, true);
	early_records++;
out_unlock:
	cw__table_unlock(&saved);
}

bool cw__record_claim(struct cw__child *c, enum cw__owner owner,
		      const struct cw__caller *by)
{
	if (c->state != CHILD_CONSUMED || !c->for_creator || c->spawned.site)
		return false;
	early_records--;
	if (cw__same_component(c->taken.by.site, by->site)) {
		cw__table_remove(c);
		return true;
	}
	c->spawned = *by;
	c->owner = owner;
	return true;
}

CW_PARENT_CODE void cw__records_unclaimed_drop(void)
{
	struct cw__child *c, *tmp;

	if (!early_records)
		return;
	cw__for_each_safe(c, tmp, cw__table_records_first())
	{
		if (c->for_creator && !c->spawned.site)
			cw__table_remove(c);
	}
	early_records = 0;
}
