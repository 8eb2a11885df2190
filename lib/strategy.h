/* SPDX-License-Identifier: MIT */
#ifndef CW_STRATEGY_H
#define CW_STRATEGY_H

#include <stdbool.h>
#include <sys/wait.h>

#include "table.h"

/*
 * How a strategy notices exits: the contract, one hook a line. Every
 * strategy observes without reaping where it can (the zombie keeps its pid
 * until the program's wait consumes it); fast reaps at once and keeps the
 * status. A fork arms nothing: watch is only for children that need an
 * asynchronous notice, blocked waits sleep in the kernel (wait.c). What
 * the strategies share is in child.h. All hooks run with the table locked.
 */
struct cw__strategy {
	/* Report c's exit to the table from now on (the C API's children). */
	void (*watch)(struct cw__child *c);
	/* Let go of what watch took for c. */
	void (*unwatch)(struct cw__child *c);
	/* Find exits that happened but were not reported yet. */
	void (*collect)(void);
	/* Before a wait for any child: report what the kernel would give.
	 * False when collect() could find no exit for that wait. */
	bool (*catch_up)(idtype_t idtype, id_t id);
	/* In a forked child, before the table is reset. */
	void (*forked)(void);
	/* Exits arrive as SIGCHLD, through the shim's handler. */
	bool sigchld_driven;
};

extern const struct cw__strategy cw__strategy_safe;
extern const struct cw__strategy cw__strategy_fast;
extern const struct cw__strategy cw__strategy_threaded;
extern const struct cw__strategy cw__strategy_pidfd;

/* The strategy of the mode in effect (reaper.c). */
extern const struct cw__strategy *cw__strategy;
#endif
