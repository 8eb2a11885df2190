/* SPDX-License-Identifier: MIT */
/*
 * Async-signal-safe, as POSIX makes _Fork (and glibc fork, short of its
 * atfork lock): a handler may call these at any instruction of the program,
 * libc or the shim. So they only count a creation (an atomic), and write
 * the child into the table, whose lock is never held with signals open and
 * whose entries come from mmap. No malloc, no thread, no pidfd: anything
 * asynchronous is armed later, by a caller that may (the C API).
 */
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

#include "locks.h"
#include "reaper.h"
#include "real.h"

/*
 * locks.c takes the shim's locks and resets the child, tracing or not, and
 * has the parent record the child before it opens the signals again. The
 * child touches nothing here, errno included: each page it writes is
 * copied.
 */
CW_CHILD_CODE CW_EXPORT pid_t fork(void)
{
	const struct cw__caller *by = CW_CALLER("fork");
	const struct cw__fork_created created = { cw__child_forked, by };

	if (cw__shim_off())
		return cw__locks_fork(REAL(fork), NULL);
	cw__child_creating();
	return cw__locks_fork(REAL(fork), &created);
}

/* _Fork runs no atfork handlers, so it resets the child itself. */
CW_CHILD_CODE CW_EXPORT pid_t _Fork(void)
{
	int saved_errno;
	pid_t pid;

	if (cw__shim_off())
		return REAL(_Fork)();
	cw__child_creating();
	pid = REAL(_Fork)();
	if (pid == 0) {
		cw__locks_reset_child();
		return 0;
	}
	saved_errno = errno;
	cw__child_created(pid, CW_OWNER_PROGRAM, CW_CALLER("_Fork"), NULL);
	cw__errno_restore(saved_errno);
	return pid;
}

/*
 * Forks the shim does not see: libc's own, in daemon() and forkpty(). From
 * the first of them on, libc runs the shim's fork handlers in every fork.
 */
static void arm_for_libc_forks(void)
{
	if (cw__shim_active())
		cw__locks_arm(REAL(__register_atfork));
}

CW_EXPORT int daemon(int nochdir, int noclose)
{
	arm_for_libc_forks();
	return REAL(daemon)(nochdir, noclose);
}

CW_EXPORT pid_t forkpty(int *master, char *name, const struct termios *term,
			const struct winsize *size)
{
	arm_for_libc_forks();
	return REAL(forkpty)(master, name, term, size);
}

/*
 * pthread_atfork's: the program's handlers run in the order it registers
 * them, and the shim's, registered first, reset its state in a child
 * before any of the program's runs, whatever they call.
 *
 * Until the shim's constructor has run, registrations are libc's alone,
 * in the order they always had. A sanitizer's runtime registers its own
 * as it starts, from the first instrumented call in the shim, before the
 * shim has any state: so, in a sanitizer's build, nothing here is
 * instrumented, and nothing it calls then is.
 */
CW_PARENT_CODE
__attribute__((no_sanitize("address", "thread", "undefined"))) CW_EXPORT int
__register_atfork(void (*prepare)(void), void (*parent)(void),
		  void (*child)(void), void *dso)
{
	cw__atfork_register *libc;

	if (!cw__shim_constructed) {
		libc = (cw__atfork_register *)dlsym(RTLD_NEXT,
						    "__register_atfork");
		return libc ? libc(prepare, parent, child, dso) : ENOMEM;
	}
	arm_for_libc_forks();
	return REAL(__register_atfork)(prepare, parent, child, dso);
}
