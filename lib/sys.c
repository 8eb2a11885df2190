/* SPDX-License-Identifier: MIT */
/* Async-signal-safe: everything here is a bare system call. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

/* Where the shim's own descriptors start, limits allowing. */
#define PARK_FLOOR_MAX 1024

static long syscall_result(long r)
{
	return r == -1 ? -errno : r;
}

/* syscall(2) sets errno; the core must leave the program's errno alone. */
#define RAW(...)                                                  \
	({                                                        \
		int saved_errno_ = errno;                         \
		long r_ = syscall_result(syscall(__VA_ARGS__));   \
		errno = saved_errno_;                             \
		r_;                                               \
	})

int cw__sys_waitid(idtype_t idtype, id_t id, siginfo_t *si, int options,
		   struct rusage *ru)
{
	return RAW(SYS_waitid, idtype, id, si, options, ru);
}

int cw__sys_pidfd_open(pid_t pid)
{
	return RAW(SYS_pidfd_open, pid, 0);
}

pid_t cw__sys_getpgid(pid_t pid)
{
	return RAW(SYS_getpgid, pid);
}

int cw__futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, timeout_ms % 1000 * 1000000L };

	return RAW(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected,
		   timeout_ms < 0 ? NULL : &ts);
}

void cw__futex_wake_all(_Atomic uint32_t *word)
{
	RAW(SYS_futex, word, FUTEX_WAKE_PRIVATE, 0x7fffffff);
}

void cw__signals_block(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	RAW(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, _NSIG / 8);
}

void cw__signals_restore(const sigset_t *old)
{
	RAW(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, _NSIG / 8);
}

int cw__fd_park(int fd)
{
	struct rlimit rl;
	long floor = PARK_FLOOR_MAX;
	int parked;

	if (fd < 0)
		return fd;
	/* At most half the limit, so that the program keeps the low half.
	 * Not higher than needed either: every fork copies the descriptor
	 * table up to the highest open number. */
	if (RAW(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 &&
	    (long)rl.rlim_cur / 2 < floor)
		floor = rl.rlim_cur / 2;
	parked = RAW(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor);
	RAW(SYS_close, fd);
	/* No room up there: the caller falls back rather than take one of
	 * the program's numbers. */
	return parked < 0 ? -EMFILE : parked;
}

pid_t cw__sys_gettid(void)
{
	return RAW(SYS_gettid);
}

int cw__sys_close(int fd)
{
	/* Linux releases the descriptor even when close reports EINTR, so a
	 * retry could close a number another thread just got: never retry. */
	return RAW(SYS_close, fd);
}
