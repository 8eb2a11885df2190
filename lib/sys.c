/* SPDX-License-Identifier: MIT */
/* Async-signal-safe: everything here is a bare system call. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/kcmp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

/* Where the shim's own descriptors start, limits allowing. */
#define PARK_FLOOR_MAX 1024

#if CW_SYS_RAW
/*
 * The kernel's calling convention, without libc's syscall(): the shim
 * interposes that one (programs wait through it), and its own calls must
 * not come back into itself. No errno is touched: -errno is returned.
 */
CW_RAW_HANDLER static long raw6(long n, long a, long b, long c, long d,
				  long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long r;

	__asm__ __volatile__("syscall"
			     : "=a"(r)
			     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10),
			       "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
	return r;
#else /* __aarch64__ */
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ __volatile__("svc 0"
			     : "+r"(x0)
			     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4),
			       "r"(x5)
			     : "memory", "cc");
	return x0;
#endif
}
#else
/* Elsewhere libc's syscall(), which the shim then does not interpose. */
CW_RAW_HANDLER static long raw6(long n, long a, long b, long c, long d,
				  long e, long f)
{
	int saved_errno = errno;
	long r = syscall(n, a, b, c, d, e, f);

	if (r == -1)
		r = -errno;
	cw__errno_restore(saved_errno);
	return r;
}
#endif

#define RAW_(n, a, b, c, d, e, f, ...)                                   \
	raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), \
	     (long)(f))
#define RAW(...) RAW_(__VA_ARGS__, 0, 0, 0, 0, 0, 0)

CW_PARENT_CODE int cw__sys_waitid(idtype_t idtype, id_t id, siginfo_t *si,
				  int options, struct rusage *ru)
{
	return RAW(SYS_waitid, idtype, id, si, options, ru);
}

int cw__sys_pidfd_open(pid_t pid)
{
	return RAW(SYS_pidfd_open, pid, 0);
}

CW_PARENT_CODE pid_t cw__sys_getpgid(pid_t pid)
{
	return RAW(SYS_getpgid, pid);
}

int cw__sys_epoll_create(void)
{
	return RAW(SYS_epoll_create1, EPOLL_CLOEXEC);
}

int cw__sys_epoll_add(int ep, int fd, bool edge)
{
	struct epoll_event ev = { .events = EPOLLIN | (edge ? EPOLLET : 0) };

	return RAW(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, fd, &ev);
}

int cw__sys_epoll_wait_one(int ep)
{
	struct epoll_event ev;

	return RAW(SYS_epoll_pwait, ep, &ev, 1, -1, NULL, _NSIG / 8);
}

int cw__sys_eventfd(void)
{
	return RAW(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
}

CW_RAW_HANDLER void cw__sys_eventfd_signal(int fd)
{
	uint64_t one = 1;

	RAW(SYS_write, fd, &one, sizeof one);
}

int cw__futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, timeout_ms % 1000 * 1000000L };

	return RAW(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected,
		   timeout_ms < 0 ? NULL : &ts);
}

CW_RAW_HANDLER void cw__futex_wake_all(_Atomic uint32_t *word)
{
	RAW(SYS_futex, word, FUTEX_WAKE_PRIVATE, 0x7fffffff);
}

enum { ONCE_NEW, ONCE_RUNNING, ONCE_WAITED, ONCE_DONE };

CW_START_CODE void cw__once(cw__once_t *once, void (*fn)(void))
{
	uint32_t state = ONCE_NEW;

	if (atomic_load(once) == ONCE_DONE)
		return;
	if (atomic_compare_exchange_strong(once, &state, ONCE_RUNNING)) {
		fn();
		if (atomic_exchange(once, ONCE_DONE) == ONCE_WAITED)
			cw__futex_wake_all(once);
		return;
	}
	while (state != ONCE_DONE) {
		if (state == ONCE_RUNNING &&
		    !atomic_compare_exchange_strong(once, &state, ONCE_WAITED))
			continue;
		cw__futex_wait(once, ONCE_WAITED, -1);
		state = atomic_load(once);
	}
}

/* The kernel's mask is _NSIG bits, the front of a sigset_t: the rest is
 * never read or written. */
_Static_assert(_NSIG / 8 == sizeof(unsigned long), "a word of signals");
#define SIGBIT(sig) (1UL << ((sig) - 1))

CW_CHILD_CODE void cw__signals_block(sigset_t *old)
{
	/* sigfillset's, in 8 bytes of stack rather than 128, and not
	 * static: a forked child would fault in the page of read-only data
	 * it lives on. Every signal but glibc's own two, 32 and 33 (thread
	 * cancellation, and setuid's broadcast to every thread, which must
	 * never wait for ours). */
	unsigned long all = ~(SIGBIT(32) | SIGBIT(33));

	RAW(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, _NSIG / 8);
}

CW_CHILD_CODE void cw__signals_restore(const sigset_t *old)
{
	RAW(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, _NSIG / 8);
}

CW_PARENT_CODE bool cw__signals_equal(const sigset_t *a, const sigset_t *b)
{
	return !memcmp(a, b, _NSIG / 8);
}

CW_PARENT_CODE void cw__signals_copy(sigset_t *to, const sigset_t *from)
{
	memcpy(to, from, _NSIG / 8);
}

CW_PARENT_CODE void cw__signals_add(sigset_t *set, int sig)
{
	unsigned long word;

	memcpy(&word, set, sizeof word);
	word |= SIGBIT(sig);
	memcpy(set, &word, sizeof word);
}

/* The kernel's struct sigaction, as rt_sigaction takes it. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
#if defined(__x86_64__)
	void (*restorer)(void);
#endif
	uint64_t mask;
};

CW_RAW_HANDLER bool cw__sys_signal_handled(int sig)
{
	struct kernel_sigaction old = { 0 };

	return RAW(SYS_rt_sigaction, sig, NULL, &old, 8) == 0 &&
	       old.handler != SIG_DFL && old.handler != SIG_IGN;
}

CW_RAW_HANDLER int cw__sys_signal_set(int sig, void (*handler)(int))
{
	struct kernel_sigaction act = { .handler = handler };

	return RAW(SYS_rt_sigaction, sig, &act, NULL, 8);
}

CW_RAW_HANDLER int cw__sys_sigmask_set(const sigset_t *mask)
{
	return RAW(SYS_rt_sigprocmask, SIG_SETMASK, mask, NULL, _NSIG / 8);
}

CW_RAW_HANDLER int cw__sys_cloexec_clear(int fd)
{
	return RAW(SYS_fcntl, fd, F_SETFD, 0);
}

CW_RAW_HANDLER int cw__sys_dup_to(int from, int to)
{
	return RAW(SYS_dup3, from, to, 0);
}

CW_RAW_HANDLER int cw__sys_execve(const char *path, char *const argv[],
				  char *const envp[])
{
	return RAW(SYS_execve, path, argv, envp);
}

CW_RAW_HANDLER _Noreturn void cw__sys_exit(int code)
{
	for (;;)
		RAW(SYS_exit, code);
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

CW_CHILD_CODE bool cw__sys_same_memory(pid_t a, pid_t b)
{
	return RAW(SYS_kcmp, a, b, KCMP_VM, 0, 0) == 0;
}

pid_t cw__sys_gettid(void)
{
	return RAW(SYS_gettid);
}

CW_PARENT_CODE pid_t cw__sys_getpid(void)
{
	return RAW(SYS_getpid);
}

CW_PARENT_CODE void *cw__sys_pages(size_t bytes, bool wipe_on_fork)
{
	long p = RAW(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p < 0 && p >= -4095)
		return NULL;
	if (wipe_on_fork && RAW(SYS_madvise, p, bytes, MADV_WIPEONFORK) < 0) {
		RAW(SYS_munmap, p, bytes);
		return NULL;
	}
	return (void *)p;
}

void cw__sys_pages_put(void *p, size_t bytes)
{
	RAW(SYS_munmap, p, bytes);
}

CW_CHILD_CODE pid_t cw__sys_getppid(void)
{
	return RAW(SYS_getppid);
}

CW_PARENT_CODE CW_RAW_HANDLER int cw__sys_close(int fd)
{
	/* Linux releases the descriptor even when close reports EINTR, so a
	 * retry could close a number another thread just got: never retry. */
	return RAW(SYS_close, fd);
}
