/* SPDX-License-Identifier: MIT */
#ifndef CW_DELIVER_H
#define CW_DELIVER_H

/*
 * Handing a child's event to a wait, and what stays of it: the status kept
 * as a record for one late wait for that pid. Shared by the waits (wait.c)
 * and by reaping for an ignored SIGCHLD (ignored.c). All with the table
 * locked, except where it says.
 */

#include "reaper.h"

bool cw__is_exit(int code);
/* Whether the kernel would give c to w, whoever c's owner. */
bool cw__kernel_match(const struct cw__child *c, const struct cw__wait *w);
/* And whether c is the child of w's owner too. */
bool cw__matches(const struct cw__child *c, const struct cw__wait *w);

/* c's exit, as the kernel reported it. */
void cw__child_keep(struct cw__child *c, const siginfo_t *si,
		    const struct rusage *ru);
/* c's status, kept as taken by a call with args, for one wait for its pid
 * (the creator's alone when for_creator). */
void cw__record_keep(struct cw__child *c, const struct cw__caller *by,
		     const struct cw__wait_args *args, bool for_creator);
/* w took c's exit: c leaves, or stays as a record. */
void cw__consumed(struct cw__child *c, const struct cw__wait *w);
/* Hands c's event to w if it has one w asked for: the pid, 0 when it has
 * none, -ECHILD when c turned out to be gone. */
int cw__deliver(struct cw__child *c, struct cw__wait *w);

/* Unlocked: w reaped in the kernel a pid the table did not know while a
 * creation was under way; keep its status for that creation. */
void cw__early_keep(struct cw__wait *w);
/* c is the record of a child reaped by pid while being created: it
 * becomes the record of the child by created from owner; false when c is
 * no such record. */
bool cw__record_claim(struct cw__child *c, enum cw__owner owner,
		      const struct cw__caller *by);
/* No creation under way: such records nobody claimed go. */
void cw__records_unclaimed_drop(void);

#endif
