/* SPDX-License-Identifier: MIT */
#ifndef CW_CHILD_H
#define CW_CHILD_H

/* What the strategies share: how a child's exit enters the table. */

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "table.h"

/* SIGCHLD came since the last collect(): an exit may wait there. */
extern atomic_bool cw__sigchld_uncollected;

/* c leaves the running state: its watcher lets go. */
void cw__child_unwatch(struct cw__child *c);
void cw__child_exited(struct cw__child *c);
void cw__child_vanished(struct cw__child *c);
/* The kernel says no child is left: every exit was reaped elsewhere. */
void cw__children_gone(void);
/* Peek at c's exit without reaping it; marks it exited or vanished. */
void cw__child_probe(struct cw__child *c);
/* c exited, as a peek that reaped nothing (si) says: marks it exited. */
void cw__child_exit_seen(struct cw__child *c, const siginfo_t *si);
/* The exit a wait for (idtype, id) would take, without reaping it, in si:
 * its pid, 0 for none yet, or -errno. */
pid_t cw__kernel_next_exit(idtype_t idtype, id_t id, siginfo_t *si);
/* Probe every running child: the O(n) scan, skipped when no child of the
 * process is a zombie at all. */
void cw__collect_scan(void);
/* collect() where nothing reports every exit: the kernel's first exit,
 * and the scan only when that one hides the others. */
void cw__collect_picked(void);
/* cw__collect_picked for the children no watcher reports, if any. */
void cw__collect_unwatched(void);
/* catch_up where nothing reports every exit: the kernel says which exit
 * it would pick, in one peek that reaps nothing. */
bool cw__catch_up_kernel(idtype_t idtype, id_t id);
/* catch_up when SIGCHLD reports: collect() once a SIGCHLD came, and
 * then no other. */
bool cw__catch_up_heard(idtype_t idtype, id_t id);
/* Hooks for strategies that need no more: SIGCHLD watches every child;
 * nothing to let go of at exit or in a forked child. */
void cw__watch_by_sigchld(struct cw__child *c);
void cw__unwatch_nothing(struct cw__child *c);
void cw__forked_nothing(void);
/* Start a thread for the shim's own use, with a small stack. Called with
 * the table locked, hence every signal blocked: the thread inherits that
 * mask and never takes one of the program's signals. */
int cw__thread_start(void *(*fn)(void *), void *arg);

#endif
