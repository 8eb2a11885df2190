/* SPDX-License-Identifier: MIT */
#ifndef CW_SYS_H
#define CW_SYS_H

/*
 * Raw system calls the core needs. They bypass libc (and therefore every
 * interposer) and return 0 / a value, or -errno; they never touch errno.
 */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

/* Where the core makes system calls itself, without libc's syscall(). */
#if defined(__x86_64__) || defined(__aarch64__)
#define CW_SYS_RAW 1
#else
#define CW_SYS_RAW 0
#endif

/*
 * Code the kernel enters as a signal handler with no sanitizer runtime in
 * between, at any instruction of any thread: ThreadSanitizer's runtime
 * must not run there. It defers the handlers it knows of to safe points;
 * entered directly, even in a thread that had not yet set up its state,
 * its instrumentation crashed the process (check-tsan, hammer in safe).
 */
#if defined(__has_attribute) && __has_attribute(disable_sanitizer_instrumentation)
#define CW_RAW_HANDLER __attribute__((disable_sanitizer_instrumentation))
#else
#define CW_RAW_HANDLER __attribute__((no_sanitize("thread")))
#endif

/* Code that runs on a stack AddressSanitizer did not set up (a clone
 * child's in the parent's memory), and forgetting what it marked there. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CW_NO_ASAN __attribute__((no_sanitize_address))
#define cw__asan_forget(p, n) __asan_unpoison_memory_region((p), (n))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define CW_NO_ASAN __attribute__((no_sanitize_address))
#define cw__asan_forget(p, n) __asan_unpoison_memory_region((p), (n))
#endif
#endif
#ifndef CW_NO_ASAN
#define CW_NO_ASAN
#define cw__asan_forget(p, n) ((void)(p), (void)(n))
#endif

/*
 * State written in every process: at start (the mode, the strategy, the
 * locks' registry) and in every forked child (its locks, what it forgets
 * of its parent); and what every process reads as the shim loads (the
 * names of its variables and modes). Kept together, so that a process
 * touches one page of the shim's rather than one per module: a page
 * touched is a fault, and faults are most of what a fork costs. The
 * linker places this section right after .data, on the one writable page,
 * which the loader writes anyway (the Makefile links without RELRO); that
 * is where the build puts it today (readelf -S), not a promise of the ABI.
 */
#define CW_HOT __attribute__((section("cw_hot")))
/*
 * Code by who runs it, each on as few pages as it fits: a page of code a
 * process runs is a fault too, and on a host that shadows page tables a
 * trip to the hypervisor. shim/layout.ld lays them out in this order.
 * Every process runs the start, as the shim loads; a forked child what it
 * runs before it execs; a process that makes children and waits for them
 * the parent's path, in whatever mode. A bash running commands runs seven
 * pages of the shim's code so; scattered over .text, the same functions
 * were on twelve.
 */
#define CW_START_CODE __attribute__((section(".text.startup.cw")))
#define CW_CHILD_CODE __attribute__((section(".text.hot.cw_child")))
#define CW_PARENT_CODE __attribute__((section(".text.hot.cw_parent")))

/* Initial-exec: no allocation, so safe in a handler. */
#define CW_TLS __thread __attribute__((tls_model("initial-exec")))

/* errno back as it was, written only if it changed: after a fork, a write
 * to the thread's page copies it. */
#define cw__errno_restore(saved)                                          \
	do {                                                              \
		if (errno != (saved))                                     \
			errno = (saved);                                  \
	} while (0)

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* waitid(2) as the kernel has it: with the rusage that glibc's wrapper drops. */
int cw__sys_waitid(idtype_t idtype, id_t id, siginfo_t *si, int options,
		   struct rusage *ru);
int cw__sys_pidfd_open(pid_t pid);
pid_t cw__sys_getpgid(pid_t pid);
/* Not libc's: a child that called it first would bind it lazily, and
 * the loader's lookup faults in pages of its own (ten per bash command). */
pid_t cw__sys_getppid(void);
pid_t cw__sys_gettid(void);
pid_t cw__sys_getpid(void);
/*
 * Zeroed memory of its own, NULL if none. wipe_on_fork: it reads as zeros
 * again in a child (MADV_WIPEONFORK), and the parent does not copy it when
 * it next writes there. Not MADV_DONTFORK, which leaves the child no
 * mapping there: valgrind's leak check, which still believes in the
 * mapping, took a fault on every word of it in every forked child, and
 * 3 s per child to end.
 */
void *cw__sys_pages(size_t bytes, bool wipe_on_fork);
void cw__sys_pages_put(void *p, size_t bytes);
/* a and b share one address space (kcmp KCMP_VM); false if refused. */
bool cw__sys_same_memory(pid_t a, pid_t b);

/* epoll and eventfd, for waits that must sleep on several children. */
int cw__sys_epoll_create(void);
/* Readable input on fd wakes ep; edge: once per new event, never drained. */
int cw__sys_epoll_add(int ep, int fd, bool edge);
int cw__sys_epoll_wait_one(int ep);
int cw__sys_eventfd(void);
CW_RAW_HANDLER void cw__sys_eventfd_signal(int fd);

/* Wait while *word == expected; timeout_ms < 0 waits without limit. */
int cw__futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms);
CW_RAW_HANDLER void cw__futex_wake_all(_Atomic uint32_t *word);

/* pthread_once without its system calls: glibc's wakes waiters with a
 * futex call every time, though there are none but in a race. */
typedef _Atomic uint32_t cw__once_t;
void cw__once(cw__once_t *once, void (*fn)(void));

/* Block every signal in the calling thread, keeping the old mask. */
void cw__signals_block(sigset_t *old);
void cw__signals_restore(const sigset_t *old);
/* On masks cw__signals_block wrote: only the kernel's part is compared or
 * copied. */
bool cw__signals_equal(const sigset_t *a, const sigset_t *b);
void cw__signals_copy(sigset_t *to, const sigset_t *from);
/* sigaddset for a valid signal, with no call into libc. */
void cw__signals_add(sigset_t *set, int sig);

/*
 * For a clone child that runs in its parent's memory until it execs: the
 * calls it needs, made without libc, whose wrappers a sanitizer intercepts
 * with state that belongs to the parent's thread. A handler is only ever
 * SIG_DFL or SIG_IGN here, so the kernel's layout needs no restorer.
 */
CW_RAW_HANDLER bool cw__sys_signal_handled(int sig);
CW_RAW_HANDLER int cw__sys_signal_set(int sig, void (*handler)(int));
CW_RAW_HANDLER int cw__sys_sigmask_set(const sigset_t *mask);
CW_RAW_HANDLER int cw__sys_cloexec_clear(int fd);
CW_RAW_HANDLER int cw__sys_dup_to(int from, int to);
CW_RAW_HANDLER int cw__sys_execve(const char *path, char *const argv[],
				  char *const envp[]);
CW_RAW_HANDLER _Noreturn void cw__sys_exit(int code);

/* A descriptor for the shim's own use: close-on-exec, moved out of the low
 * numbers the program would get next. Consumes fd; returns the new one,
 * or -EMFILE when there is no room out there (fd is closed then too). */
int cw__fd_park(int fd);
CW_RAW_HANDLER int cw__sys_close(int fd);

#endif
