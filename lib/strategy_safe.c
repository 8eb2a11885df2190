/* SPDX-License-Identifier: MIT */
/*
 * safe: asyncio's SafeChildWatcher. SIGCHLD wakes the waits; they probe
 * each child the shim saw created, and only those, with a per-pid wait
 * that does not reap.
 */
#include "strategy.h"

static void safe_watch(struct cw__child *c)
{
	cw__table_watched(c);
}

static void safe_unwatch(struct cw__child *c)
{
	(void)c;
}

static void safe_forked(void)
{
}

const struct cw__strategy cw__strategy_safe = {
	.watch = safe_watch,
	.unwatch = safe_unwatch,
	.collect = cw__collect_scan,
	.forked = safe_forked,
	.sigchld_driven = true,
};
