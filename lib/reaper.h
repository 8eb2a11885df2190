/* SPDX-License-Identifier: MIT */
#ifndef CW_REAPER_H
#define CW_REAPER_H

#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "mode.h"
#include "table.h"
#include "trace.h"

/* One wait, in waitid(2)'s terms. */
struct cw__wait {
	idtype_t idtype; /* P_ALL, P_PID, P_PGID or P_PIDFD */
	id_t id;
	int options; /* waitid(2) options, already validated */
	enum cw__owner as;
	/* For the trace: the call, and its arguments as the program gave them
	 * (waitid's, or wait4's pid and options). */
	struct cw__caller by;
	struct cw__wait_args args;
	siginfo_t si;	  /* out */
	struct rusage ru; /* out */
};

/* Picks the strategy for mode (pidfd falls back to threaded where
 * pidfd_open is refused: see cw__reaper_mode). Never called for off. */
void cw__reaper_init(enum cw__mode mode);
/* Whoever embeds the core starts the reaper on first need (the shim, as
 * the program first concerns itself with children); the C API needs it
 * started before it can tell the mode. NULL where nothing starts it. */
extern void (*cw__reaper_starter)(void);
/* The table across fork: in every mode that keeps one, off when it traces
 * (a forked child must not use its parent's, which is not mapped there). */
void cw__reaper_forks(void);
bool cw__reaper_sigchld_driven(void);
/* The mode in effect, the one place it is kept; CW_MODE_OFF until
 * cw__reaper_init, and for good under off. */
extern enum cw__mode cw__reaper_mode;

/* Children go through the table: every mode but off. */
static inline bool cw__reaper_mediating(void)
{
	return cw__reaper_mode != CW_MODE_OFF;
}
/* The mode the environment asked for: pidfd where it fell back. */
extern enum cw__mode cw__reaper_mode_asked;
/* From the shim's SIGCHLD handler: a child's state changed. Async-signal-
 * safe. */
CW_RAW_HANDLER void cw__reaper_sigchld_heard(void);

/* Bracket every creation of a child: creating() before the kernel call,
 * created() after it, with the pid or -1 when none was created. */
void cw__child_creating(void);
/* command: system()'s or popen()'s, for the trace; NULL otherwise. */
void cw__child_created(pid_t pid, enum cw__owner owner,
		       const struct cw__caller *by, const char *command);
/* The program's fork's, as struct cw__fork_created's fn (locks.h), with
 * by a struct cw__caller. */
void cw__child_forked(pid_t pid, bool masked, const void *by);

/* The program opened pidfd fd for pid: a wait on it still finds the child
 * once fast mode has reaped it and the kernel no longer knows the pid. */
void cw__child_pidfd(pid_t pid, int fd);

/* The pid, 0 (WNOHANG and nothing yet) or -errno. */
int cw__wait(struct cw__wait *w);

/* Sleeps until one of the children w may take exits, or the table moves
 * on from seq: what a SIGCHLD-driven mode's sleepers do where SIGCHLD may
 * never come (every thread of the program blocks it). 0 or -errno. */
int cw__wait_sleep(struct cw__wait *w, uint32_t seq);

/* The wait(2) status word the kernel builds for this siginfo. */
int cw__wait_status(const siginfo_t *si);

/* The rusage of children collected but not yet waited for by the program
 * (fast mode reaps early; getrusage(RUSAGE_CHILDREN) must not show them). */
void cw__reaper_uncounted(struct rusage *ru);

/* The children this process leaves behind, from the table (from /proc
 * under off). */
void cw__reaper_census(struct cw__census *left);

/* In a forked child, from pthread_atfork (or _Fork's interposer). */
void cw__reaper_fork_child(void);

#endif
