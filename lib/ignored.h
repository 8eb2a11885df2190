/* SPDX-License-Identifier: MIT */
#ifndef CW_IGNORED_H
#define CW_IGNORED_H

#include <stdbool.h>

/* The program's SIGCHLD disposition became, or stopped being, SIG_IGN or
 * SA_NOCLDWAIT; its real one is the shim's handler meanwhile. Only once a
 * strategy runs (never under off). */
void cw__wait_sigchld_ignored(bool on);
/* Whether it is so now: the shim reaps each child as it exits. Lock-free. */
bool cw__autoreaping(void);
/* From that handler: reap what exited, keeping each status for one wait
 * for its pid, as the kernel would have reaped it. Async-signal-safe. */
void cw__children_autoreap(void);
/* The same with the table locked. */
void cw__ignored_reap(void);
/* Table locked: a creation is done (autoreap what waited for it). */
void cw__wait_created(void);

#endif
