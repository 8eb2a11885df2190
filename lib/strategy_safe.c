/* SPDX-License-Identifier: MIT */
/*
 * safe: asyncio's SafeChildWatcher. SIGCHLD wakes the waits; they probe
 * each child the shim saw created, and only those, with a per-pid wait
 * that does not reap.
 */
#include "child.h"
#include "strategy.h"

const struct cw__strategy cw__strategy_safe = {
	.watch = cw__watch_by_sigchld,
	.unwatch = cw__unwatch_nothing,
	.collect = cw__collect_scan,
	.catch_up = cw__catch_up_heard,
	.forked = cw__forked_nothing,
	.sigchld_driven = true,
};
