/* SPDX-License-Identifier: MIT */
#ifndef CW_SHIM_REAL_H
#define CW_SHIM_REAL_H

#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "mode.h"
#include "reaper.h"
#include "trace.h"

#define CW_EXPORT __attribute__((visibility("default")))

typedef void (*cw__handler)(int);

/*
 * Every libc function the shim interposes: when it is looked up, type,
 * name, parameters. EAGER ones are looked up as the shim starts: they may
 * be called from a signal handler or a vfork child, where dlsym (which
 * takes the loader's lock and may allocate) must not run. LAZY ones are
 * looked up on first use, so that a process that never calls them (most
 * exec'd programs call none) does not pay for the lookup.
 */
#define CW_INTERPOSED(X)                                                      \
	X(EAGER, pid_t, fork, (void))                                          \
	X(EAGER, pid_t, _Fork, (void))                                         \
	X(LAZY, int, daemon, (int, int))                                       \
	X(LAZY, pid_t, forkpty,                                                \
	  (int *, char *, const struct termios *, const struct winsize *))     \
	X(LAZY, int, __register_atfork,                                        \
	  (void (*)(void), void (*)(void), void (*)(void), void *))            \
	X(LAZY, int, posix_spawn,                                              \
	  (pid_t *, const char *, const posix_spawn_file_actions_t *,          \
	   const posix_spawnattr_t *, char *const[], char *const[]))           \
	X(LAZY, int, posix_spawnp,                                             \
	  (pid_t *, const char *, const posix_spawn_file_actions_t *,          \
	   const posix_spawnattr_t *, char *const[], char *const[]))           \
	X(EAGER, pid_t, wait, (int *))                                         \
	X(EAGER, pid_t, waitpid, (pid_t, int *, int))                          \
	X(EAGER, pid_t, wait3, (int *, int, struct rusage *))                  \
	X(EAGER, pid_t, wait4, (pid_t, int *, int, struct rusage *))           \
	X(EAGER, int, waitid, (idtype_t, id_t, siginfo_t *, int))              \
	X(LAZY, int, system, (const char *))                                   \
	X(LAZY, FILE *, popen, (const char *, const char *))                   \
	X(LAZY, int, pclose, (FILE *))                                         \
	X(LAZY, int, fclose, (FILE *))                                         \
	X(EAGER, int, sigaction,                                               \
	  (int, const struct sigaction *, struct sigaction *))                 \
	X(EAGER, cw__handler, signal, (int, cw__handler))                      \
	X(EAGER, cw__handler, bsd_signal, (int, cw__handler))                  \
	X(EAGER, cw__handler, sysv_signal, (int, cw__handler))                 \
	X(EAGER, cw__handler, sigset, (int, cw__handler))                      \
	X(LAZY, int, sigignore, (int))                                         \
	X(LAZY, int, siginterrupt, (int, int))                                 \
	X(LAZY, int, getrusage, (int, struct rusage *))                        \
	X(EAGER, clock_t, times, (struct tms *))                               \
	X(LAZY, long, ptrace, (int, pid_t, void *, void *))                    \
	X(EAGER, int, execve, (const char *, char *const[], char *const[]))    \
	X(EAGER, int, execvpe, (const char *, char *const[], char *const[]))   \
	X(EAGER, int, fexecve, (int, char *const[], char *const[]))            \
	X(EAGER, long, syscall, (long, ...))                                   \
	X(LAZY, int, pidfd_open, (pid_t, unsigned int))

#define CW_REAL_DECLARE(when, type, name, params) \
	extern type(*real_##name) params;
CW_INTERPOSED(CW_REAL_DECLARE)
#undef CW_REAL_DECLARE

/* Looks name up in the objects after the shim and stores it in *slot. */
void *cw__real_lookup(void **slot, const char *name);

static inline void *cw__real_get(void **slot, const char *name)
{
	void *fn = __atomic_load_n(slot, __ATOMIC_RELAXED);

	return fn ? fn : cw__real_lookup(slot, name);
}

/* The libc function the shim stands in front of. */
#define REAL(name) \
	((__typeof__(real_##name))cw__real_get((void **)&real_##name, #name))

/* Resolves the real functions and reads the mode, once; every interposer
 * calls it first, since another library's constructor may fork before
 * ours has run. */
void cw__real_init(void);

/* CHILDWATCH_TRACE was opened: set once, at start. */
extern bool cw__shim_tracing;
/* The shim's constructor has run. */
extern bool cw__shim_constructed;
/* Called before the program installs a signal handler, for any signal:
 * the shim starts first (real.c). SIG_DFL, SIG_IGN and SIG_HOLD are none. */
void cw__shim_handler_coming(cw__handler handler);
/* The program traces processes: its waits are the kernel's (ptrace.c). */
extern atomic_bool cw__shim_debugging;

/* The shim mediates, or traces only (off): its calls go through the core. */
static inline bool cw__shim_active(void)
{
	cw__real_init();
	return cw__reaper_mediating() || cw__shim_tracing;
}

static inline bool cw__shim_off(void)
{
	return !cw__shim_active() || atomic_load(&cw__shim_debugging);
}

/* The caller of the interposer this appears in, for the trace. Only in the
 * exported function itself: the return address is that frame's. */
#define CW_CALLER(name) \
	(&(const struct cw__caller){ name, __builtin_return_address(0) })

/* sigchld.c: take over SIGCHLD's real disposition for SIGCHLD-driven modes. */
void cw__sigchld_init(void);
/* Around an exec: SIGCHLD really ignored if the program ignores it. */
void cw__sigchld_exec_begin(void);
void cw__sigchld_exec_failed(void);
/* Around posix_spawn: the same for the image it starts. */
bool cw__sigchld_spawn_begin(void);
void cw__sigchld_spawn_end(void);
/* wait.c: the wait4 and waitid system calls, mediated (syscall.c too). */
pid_t cw__shim_wait4(pid_t pid, int *status, int options, struct rusage *ru,
		     const struct cw__caller *by);
int cw__shim_waitid(idtype_t idtype, id_t id, siginfo_t *si, int options,
		    struct rusage *ru, const struct cw__caller *by);
/* command.c: the shell child of system() and popen(), as posix_spawn
 * would start it from these settings. */
struct cw__command {
	char **argv;	    /* for /bin/sh */
	sigset_t mask;	    /* the child's signal mask */
	sigset_t sigdefault; /* signals it starts with at SIG_DFL */
	int dup_from, dup_to; /* one descriptor to move, or dup_from -1 */
	const int *close;   /* descriptors it must not keep */
	size_t nclose;
	/* Filled by cw__command_spawn. */
	bool sigchld_ignored;
	int error;
};
/* 0 or an error number, as posix_spawn. */
int cw__command_spawn(pid_t *pid, struct cw__command *cmd);
/* system.c and popen.c: wait for a child they own, retrying EINTR. */
int cw__command_wait(pid_t pid, int *status, const struct cw__caller *by);
/* sigchld.c: the program ignores SIGCHLD (SIG_IGN). */
bool cw__sigchld_ignored(void);

#endif
