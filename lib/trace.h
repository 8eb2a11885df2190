/* SPDX-License-Identifier: MIT */
#ifndef CW_TRACE_H
#define CW_TRACE_H

/*
 * The lifecycle trace (CHILDWATCH_TRACE): one JSON line per event, formatted
 * on the stack and written with one write(2) to an O_APPEND file that every
 * process of a tree shares. Emitters may run in signal handlers and in a
 * vfork child: nothing here allocates or takes a lock of its own. The
 * format is documented in the README, "Trace format".
 */

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "caller.h"
#include "mode.h"

#define CW_TRACE_VERSION 1

/* The trace's descriptor, or -1: tracing off costs one load and a branch.
 * Every event checks it; the fork and wait path checks it first, so that
 * a process that does not trace runs no page of this file's code. */
extern atomic_int cw__trace_fd;

static inline bool cw__trace_on(void)
{
	return atomic_load_explicit(&cw__trace_fd, memory_order_relaxed) >= 0;
}

/* Opens path for appending; a warning on stderr and no trace when it
 * cannot be (a symlink is refused). */
void cw__trace_open(const char *path);
/* inherited: SIGCHLD's disposition as the process found it. */
void cw__trace_start(enum cw__mode asked, enum cw__mode mode,
		     const struct sigaction *inherited);
void cw__trace_spawn(pid_t child, const struct cw__caller *by,
		     const char *command);
/* The kernel reported c's exit (si), before anyone consumed it. */
void cw__trace_exited(pid_t child, const siginfo_t *si);
/* fast mode's watcher reaped c ahead of its waiter. */
void cw__trace_reaped(pid_t child, const siginfo_t *si);
/* Reaped outside the shim: a raw system call, SIG_IGN or SA_NOCLDWAIT. */
void cw__trace_vanished(pid_t child);
/* A wait (by, args) returned child's event si to its caller. */
void cw__trace_waited(const struct cw__caller *by,
		      const struct cw__wait_args *args, pid_t child,
		      const siginfo_t *si);
/* A wait for child failed with ECHILD. */
void cw__trace_lost(const struct cw__caller *by,
		    const struct cw__wait_args *args, pid_t child);
/* A wait for any child would have taken child, which owner created. */
void cw__trace_averted(const struct cw__caller *by,
		       const struct cw__wait_args *args, pid_t child,
		       const struct cw__caller *owner);
/* A wait for child gets the status an earlier wait for any child took. */
void cw__trace_replayed(const struct cw__caller *by,
			const struct cw__wait_args *args, pid_t child,
			const struct cw__consumer *taken);
/* The program's SIGCHLD disposition changed from old to now. */
void cw__trace_sigchld(const struct cw__caller *by,
		       const struct sigaction *old,
		       const struct sigaction *now);
void cw__trace_exec(const struct cw__caller *by, const char *path,
		    char *const argv[], int error);
/* The pids of children in one state, the first CW_PIDS_LISTED listed. */
#define CW_PIDS_LISTED 64
struct cw__pids {
	pid_t listed[CW_PIDS_LISTED];
	size_t n;
};

/* What a process leaves behind as it exits (reaper.c gathers it). */
struct cw__census {
	struct cw__pids running, zombies;
};

void cw__trace_exit(const struct cw__census *left);

#endif
