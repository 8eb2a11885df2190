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

/* The child touches nothing here, errno included: each page it writes is
 * copied. The parent's errno is fork's. */
static void child_created(pid_t pid, const struct cw__caller *by)
{
	int saved_errno = errno;

	cw__child_created(pid, CW_OWNER_PROGRAM, by, NULL);
	cw__errno_restore(saved_errno);
}

/* The fork handlers of locks.c take the shim's locks and reset the child. */
CW_CHILD_CODE CW_EXPORT pid_t fork(void)
{
	pid_t pid;

	if (cw__shim_off())
		return REAL(fork)();
	cw__child_creating();
	pid = REAL(fork)();
	if (pid != 0)
		child_created(pid, CW_CALLER("fork"));
	return pid;
}

/* _Fork runs no atfork handlers, so it resets the child itself. */
CW_CHILD_CODE CW_EXPORT pid_t _Fork(void)
{
	pid_t pid;

	if (cw__shim_off())
		return REAL(_Fork)();
	cw__child_creating();
	pid = REAL(_Fork)();
	if (pid == 0)
		cw__locks_reset_child();
	else
		child_created(pid, CW_CALLER("_Fork"));
	return pid;
}
