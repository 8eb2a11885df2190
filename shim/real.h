/* SPDX-License-Identifier: MIT */
#ifndef CW_SHIM_REAL_H
#define CW_SHIM_REAL_H

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
#include "trace.h"

#define CW_EXPORT __attribute__((visibility("default")))

typedef void (*cw__handler)(int);

/* Every libc function the shim interposes: type, name, parameters. */
#define CW_INTERPOSED(X)                                                       \
	X(pid_t, fork, (void))                                                 \
	X(pid_t, _Fork, (void))                                                \
	X(int, posix_spawn,                                                    \
	  (pid_t *, const char *, const posix_spawn_file_actions_t *,          \
	   const posix_spawnattr_t *, char *const[], char *const[]))           \
	X(int, posix_spawnp,                                                   \
	  (pid_t *, const char *, const posix_spawn_file_actions_t *,          \
	   const posix_spawnattr_t *, char *const[], char *const[]))           \
	X(pid_t, wait, (int *))                                                \
	X(pid_t, waitpid, (pid_t, int *, int))                                 \
	X(pid_t, wait3, (int *, int, struct rusage *))                         \
	X(pid_t, wait4, (pid_t, int *, int, struct rusage *))                  \
	X(int, waitid, (idtype_t, id_t, siginfo_t *, int))                     \
	X(int, system, (const char *))                                         \
	X(FILE *, popen, (const char *, const char *))                         \
	X(int, pclose, (FILE *))                                               \
	X(int, fclose, (FILE *))                                               \
	X(int, sigaction, (int, const struct sigaction *, struct sigaction *)) \
	X(cw__handler, signal, (int, cw__handler))                             \
	X(cw__handler, bsd_signal, (int, cw__handler))                         \
	X(cw__handler, sysv_signal, (int, cw__handler))                        \
	X(cw__handler, sigset, (int, cw__handler))                             \
	X(int, sigignore, (int))                                               \
	X(int, siginterrupt, (int, int))                                       \
	X(int, getrusage, (int, struct rusage *))                              \
	X(clock_t, times, (struct tms *))                                      \
	X(long, ptrace, (int, pid_t, void *, void *))                          \
	X(int, execve, (const char *, char *const[], char *const[]))           \
	X(int, execvpe, (const char *, char *const[], char *const[]))          \
	X(int, fexecve, (int, char *const[], char *const[]))                   \
	X(long, syscall, (long, ...))                                          \
	X(int, pidfd_open, (pid_t, unsigned int))

#define CW_REAL_DECLARE(type, name, params) extern type(*real_##name) params;
CW_INTERPOSED(CW_REAL_DECLARE)
#undef CW_REAL_DECLARE

/* Resolves the real functions and reads the mode, once; every interposer
 * calls it first, since another library's constructor may fork before
 * ours has run. */
void cw__real_init(void);

/* The mode in effect; CW_MODE_OFF sends every call straight to libc,
 * unless the calls are traced. */
extern enum cw__mode cw__shim_mode;
/* CHILDWATCH_TRACE was opened: set once, at start. */
extern bool cw__shim_tracing;
/* The program traces processes: its waits are the kernel's (ptrace.c). */
extern atomic_bool cw__shim_debugging;

/* The shim mediates, or traces only (off): its calls go through the core. */
static inline bool cw__shim_active(void)
{
	cw__real_init();
	return cw__shim_mode != CW_MODE_OFF || cw__shim_tracing;
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
