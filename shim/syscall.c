/* SPDX-License-Identifier: MIT */
/*
 * syscall(2) itself, and pidfd_open: GLib and tokio wait for children with
 * syscall(SYS_waitid, ...) and pidfds rather than libc's wait wrappers.
 * Those waits are mediated as the wrappers are; every other number goes
 * straight through. A pidfd does not reap, so opening one needs no
 * mediation, only remembering which child it names: fast mode may reap the
 * child before the program's waitid(P_PIDFD), and the kernel then no
 * longer says whose pidfd it was. A process copied by a raw fork or clone
 * starts the shim afresh, as after _Fork: its parent's table is not its
 * own, nor mapped in it.
 */
#include <linux/sched.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include "locks.h"
#include "reaper.h"
#include "real.h"
#include "sys.h"

static int pidfd_opened(pid_t pid, int fd)
{
	if (fd >= 0 && !cw__shim_off())
		cw__child_pidfd(pid, fd);
	return fd;
}

/* A new process (not a thread, nor a vfork sharing our memory) starts
 * with its parent's table reset. */
static long copied(long number, const long *a)
{
	unsigned long flags = number == SYS_clone3 ?
				      ((const struct clone_args *)a[0])->flags :
			      number == SYS_clone ? (unsigned long)a[0] : 0;
	long r = REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);

	if (r == 0 && !(flags & CLONE_VM))
		cw__locks_reset_child();
	return r;
}

/* Where the core makes its own system calls through libc's syscall(),
 * interposing it would bring them back here. */
#if CW_SYS_RAW
CW_EXPORT long syscall(long number, ...)
{
	long a[6];
	va_list ap;

	/* As libc's does: six arguments, whatever the call takes. */
	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (number) {
	case SYS_wait4:
		if (cw__shim_off())
			break;
		return cw__shim_wait4(a[0], (int *)a[1], a[2],
				      (struct rusage *)a[3],
				      CW_CALLER("syscall(SYS_wait4)"));
	case SYS_waitid:
		if (cw__shim_off())
			break;
		return cw__shim_waitid(a[0], a[1], (siginfo_t *)a[2], a[3],
				       (struct rusage *)a[4],
				       CW_CALLER("syscall(SYS_waitid)"));
	case SYS_pidfd_open:
		return pidfd_opened(a[0], REAL(syscall)(number, a[0], a[1]));
	case SYS_fork:
	case SYS_clone:
	case SYS_clone3:
		/* Started first, the shim knows the child for one it did not
		 * see created, not for one inherited across exec. */
		cw__real_init();
		return copied(number, a);
	}
	return REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
#endif

/* glibc 2.36 has a wrapper; where it has none, nothing calls this. */
CW_EXPORT int pidfd_open(pid_t pid, unsigned int flags)
{
	cw__real_init();
	if (!REAL(pidfd_open))
		return REAL(syscall)(SYS_pidfd_open, pid, flags);
	return pidfd_opened(pid, REAL(pidfd_open)(pid, flags));
}
