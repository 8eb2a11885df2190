/* SPDX-License-Identifier: MIT */
/*
 * Async-signal-safe, as POSIX makes _Fork (and glibc fork, short of its
 * atfork lock): a handler may call these at any instruction of the program,
 * libc or the shim. So they only count a creation (an atomic), and write
 * the child into the table, whose lock is never held with signals open and
 * whose entries come from mmap. No malloc, no thread, no pidfd: anything
 * asynchronous is armed later, by a caller that may (the C API).
 */
#include <errno.h>
#include <unistd.h>

#include "locks.h"
#include "reaper.h"
#include "real.h"

/* The fork handlers of locks.c take the shim's locks and reset the child. */
CW_EXPORT pid_t fork(void)
{
	pid_t pid;
	int saved_errno;

	if (cw__shim_off())
		return REAL(fork)();
	cw__child_creating();
	pid = REAL(fork)();
	saved_errno = errno;
	if (pid != 0)
		cw__child_created(pid, CW_OWNER_PROGRAM, CW_CALLER("fork"),
				  NULL);
	errno = saved_errno;
	return pid;
}

/* _Fork runs no atfork handlers, so it resets the child itself. */
CW_EXPORT pid_t _Fork(void)
{
	pid_t pid;
	int saved_errno;

	if (cw__shim_off())
		return REAL(_Fork)();
	cw__child_creating();
	pid = REAL(_Fork)();
	saved_errno = errno;
	if (pid == 0)
		cw__locks_reset_child();
	else
		cw__child_created(pid, CW_OWNER_PROGRAM, CW_CALLER("_Fork"),
				  NULL);
	errno = saved_errno;
	return pid;
}
