/* SPDX-License-Identifier: MIT */
/*
 * sigaction and friends for SIGCHLD, over the store of the disposition the
 * program sees (lib/disposition.c). In the SIGCHLD-driven modes (safe, fast)
 * the shim's relay is always the real handler. Other modes leave SIGCHLD
 * to the kernel untouched, except while the program ignores it (SIG_IGN,
 * SA_NOCLDWAIT): the kernel would then reap every child the moment it
 * exits, and lose the status of a child system(), pclose() or a
 * waitpid(pid) is waiting for. The relay is the real handler then too,
 * and reaps as the kernel would, keeping each status for its pid.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "disposition.h"
#include "ignored.h"
#include "reaper.h"
#include "real.h"
#include "sys.h"

/* siginterrupt(SIGCHLD, 1): signal() then installs without SA_RESTART. */
static bool interrupting;

/* posix_spawn() calls under way while SIGCHLD is ignored (see
 * cw__sigchld_spawn_begin): the real disposition is SIG_IGN meanwhile. */
static int spawning;

static void relay(int sig, siginfo_t *si, void *uc);

CW_RAW_HANDLER static bool ignoring(const struct sigaction *prog)
{
	return prog->sa_handler == SIG_IGN || (prog->sa_flags & SA_NOCLDWAIT);
}

/* The real disposition that gives the program the one it asked for. */
CW_CHILD_CODE CW_RAW_HANDLER static struct sigaction
real_for(const struct sigaction *prog)
{
	struct sigaction act = *prog;
	int kept = SA_RESTART | SA_NODEFER | SA_ONSTACK | SA_NOCLDSTOP;

	if (!ignoring(prog) && !cw__reaper_sigchld_driven())
		return act;
	act.sa_sigaction = relay;
	act.sa_flags = (prog->sa_flags & kept) | SA_SIGINFO;
	/* The program expects no interruptions from a default or ignored
	 * SIGCHLD. */
	if (prog->sa_handler == SIG_DFL || prog->sa_handler == SIG_IGN)
		act.sa_flags |= SA_RESTART;
	return act;
}

/* Makes prog the program's disposition in the kernel, the kernel's
 * before it to *was unless NULL. Change lock held. */
CW_CHILD_CODE static int real_install(const struct sigaction *prog,
				      struct sigaction *was)
{
	struct sigaction real = real_for(prog);

	if (spawning && prog->sa_handler == SIG_IGN) {
		real = *prog;
		real.sa_flags &= ~SA_NOCLDWAIT;
	}
	return REAL(sigaction)(SIGCHLD, &real, was);
}

/*
 * After a SA_RESETHAND handler ran, the kernel's flags must become those of
 * SIG_DFL (SA_RESTART: it interrupts nothing). A writer publishes before it
 * installs, so either its install comes after ours, or we see its
 * generation and install from it.
 */
CW_RAW_HANDLER static void kernel_follow(void)
{
	struct sigaction prog, real;
	unsigned cur;

	do {
		prog = cw__disposition_read(&cur);
		real = real_for(&prog);
		REAL(sigaction)(SIGCHLD, &real, NULL);
	} while (!cw__disposition_current(cur));
}

/*
 * The kernel's handler, entered with no sanitizer runtime in between: it
 * must not be instrumented (see CW_RAW_HANDLER). Under TSan, the program's
 * handler it calls is TSan's own, which defers the program's.
 */
CW_PARENT_CODE CW_RAW_HANDLER static void
relay(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	struct sigaction act;
	unsigned cur;

	cw__reaper_sigchld_heard();
	act = cw__disposition_read(&cur);
	if (ignoring(&act))
		cw__children_autoreap();
	do {
		act = cw__disposition_read(&cur);
		if (act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN) {
			cw__errno_restore(saved_errno);
			return;
		}
		/* One delivery gets a SA_RESETHAND handler, as in the kernel;
		 * the real one stays ours. */
	} while ((act.sa_flags & SA_RESETHAND) && !cw__disposition_reset(cur));
	if (act.sa_flags & SA_RESETHAND)
		kernel_follow();
	cw__errno_restore(saved_errno);
	if (act.sa_flags & SA_SIGINFO)
		act.sa_sigaction(sig, si, uc);
	else
		act.sa_handler(sig);
}

/* disposition_swap in a vfork child, or where the store need not change:
 * the kernel's disposition only. Returns -1, or whether the relay stood in
 * (*old is then the program's, from the store). */
CW_CHILD_CODE static int kernel_swap(const struct sigaction *act,
				     struct sigaction *old)
{
	struct sigaction was;
	unsigned cur;

	if (REAL(sigaction)(SIGCHLD, act, &was) < 0)
		return -1;
	if (old)
		*old = was.sa_sigaction == relay ? cw__disposition_read(&cur)
						 : was;
	return was.sa_sigaction == relay;
}

/*
 * Whether the kernel holds what the program sees, before act and after it:
 * no relay stands in, outside safe and fast, unless the program ignores
 * SIGCHLD. The store's handler is then only a hint, which nothing reads
 * but whether it ignores (an old disposition comes from the kernel, which
 * may have reset a SA_RESETHAND handler since), and need not be written.
 * *gen is the store's generation as read.
 */
CW_CHILD_CODE static bool kernel_exact(const struct sigaction *act,
				       unsigned *gen)
{
	struct sigaction prog;

	if (cw__reaper_sigchld_driven() || (act && ignoring(act)))
		return false;
	prog = cw__disposition_read(gen);
	return !ignoring(&prog);
}

CW_CHILD_CODE static int disposition_swap(const struct sigaction *act,
					  struct sigaction *old)
{
	sigset_t saved;
	unsigned was, gen;
	int r = 0;

	/*
	 * Such a change is the kernel's alone, as bare: no lock, and no write
	 * that would copy the store's page in a forked child (bash's and
	 * libuv's reset SIGCHLD before they exec). A writer that published
	 * meanwhile, or whose relay stood in still, may have made the program
	 * ignore SIGCHLD or be taking the relay down: act is published after
	 * it, under the lock.
	 */
	if (kernel_exact(act, &gen)) {
		r = kernel_swap(act, old);
		if (r < 0)
			return r;
		if (!act || (r == 0 && cw__disposition_current(gen)))
			return 0;
		old = NULL;
	} else if (cw__disposition_borrowed()) {
		return kernel_swap(act, old) < 0 ? -1 : 0;
	}
	cw__disposition_lock(&saved);
	was = cw__disposition_swap(act, old);
	/* The kernel holds it as the program gave it, and may have reset a
	 * SA_RESETHAND handler since: asked with the install, if any. */
	if (old && (ignoring(old) || cw__reaper_sigchld_driven()))
		old = NULL;
	/* Installed once published (see kernel_follow). Refused, the slot
	 * before it, untouched, is made current again. */
	if (act) {
		/* Exits the kernel holds now stay for the program's waits;
		 * those from here on are reaped, and the other way round. */
		cw__wait_sigchld_ignored(ignoring(act));
		r = real_install(act, old);
		if (r < 0)
			cw__disposition_undo(was);
	} else if (old) {
		REAL(sigaction)(SIGCHLD, NULL, old);
	}
	cw__disposition_unlock(&saved);
	return r;
}

CW_PARENT_CODE void cw__sigchld_init(void)
{
	struct sigaction inherited = { .sa_handler = SIG_DFL };
	/* SIG_IGN survives exec; anything else arrives as SIG_DFL. */
	bool known = REAL(sigaction)(SIGCHLD, NULL, &inherited) == 0;

	cw__disposition_init(&inherited);
	/* Where the kernel has what the program should see already (SIG_DFL
	 * outside safe and fast, as in most processes), it is only noted:
	 * no relay runs yet, and no writer came before this one. */
	if (known && real_for(&inherited).sa_handler != inherited.sa_handler)
		disposition_swap(&inherited, NULL);
}

static bool mediated(int sig)
{
	if (sig != SIGCHLD)
		return false;
	cw__real_init();
	return cw__reaper_mediating();
}

/* errno is left alone: nothing on the way sets it but the kernel's refusal,
 * which is the caller's, and the shim's start keeps it. Reading it would
 * cost a child that resets SIGCHLD before it execs (bash's) the fault of
 * libc's page of __errno_location. */
CW_CHILD_CODE static int sigaction_do(int sig, const struct sigaction *act,
				      struct sigaction *old)
{
	if (act)
		cw__shim_handler_coming(act->sa_handler);
	if (!mediated(sig))
		return REAL(sigaction)(sig, act, old);
	return disposition_swap(act, old) < 0 ? -1 : 0;
}

/* signal() with BSD semantics, as glibc gives it. */
CW_PARENT_CODE static cw__handler handler_install(cw__handler handler,
						  int flags, bool mask_self)
{
	struct sigaction act = { .sa_handler = handler, .sa_flags = flags };
	struct sigaction old;

	if (handler == SIG_ERR || handler == SIG_HOLD) {
		errno = EINVAL;
		return SIG_ERR;
	}
	/* The initializer emptied sa_mask. Not sigemptyset and sigaddset:
	 * a child that resets its signals with signal() before it execs
	 * (libuv's) would often be the first to call them, and the loader's
	 * lazy binding of each looks through every library of the program,
	 * faulting in their symbol tables. */
	if (mask_self)
		cw__signals_add(&act.sa_mask, SIGCHLD);
	if (disposition_swap(&act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

CW_PARENT_CODE static cw__handler signal_do(int sig, cw__handler handler)
{
	cw__shim_handler_coming(handler);
	if (!mediated(sig))
		return REAL(signal)(sig, handler);
	return handler_install(handler, interrupting ? 0 : SA_RESTART, true);
}

static cw__handler bsd_signal_do(int sig, cw__handler handler)
{
	cw__shim_handler_coming(handler);
	if (!mediated(sig))
		return REAL(bsd_signal)(sig, handler);
	return signal_do(sig, handler);
}

static cw__handler sysv_signal_do(int sig, cw__handler handler)
{
	cw__shim_handler_coming(handler);
	if (!mediated(sig))
		return REAL(sysv_signal)(sig, handler);
	return handler_install(handler, SA_RESETHAND | SA_NODEFER, false);
}

static cw__handler sigset_do(int sig, cw__handler handler)
{
	sigset_t set, was;
	cw__handler old;

	cw__shim_handler_coming(handler);
	if (!mediated(sig))
		return REAL(sigset)(sig, handler);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (handler == SIG_HOLD) {
		struct sigaction cur;

		disposition_swap(NULL, &cur);
		pthread_sigmask(SIG_BLOCK, &set, &was);
		return sigismember(&was, SIGCHLD) ? SIG_HOLD : cur.sa_handler;
	}
	old = handler_install(handler, 0, false);
	if (old == SIG_ERR)
		return SIG_ERR;
	pthread_sigmask(SIG_UNBLOCK, &set, &was);
	return sigismember(&was, SIGCHLD) ? SIG_HOLD : old;
}

static int sigignore_do(int sig)
{
	if (!mediated(sig))
		return REAL(sigignore)(sig);
	return handler_install(SIG_IGN, 0, false) == SIG_ERR ? -1 : 0;
}

static int siginterrupt_do(int sig, int flag)
{
	struct sigaction act;

	if (!mediated(sig))
		return REAL(siginterrupt)(sig, flag);
	disposition_swap(NULL, &act);
	if (!cw__disposition_borrowed())
		interrupting = flag;
	if (flag)
		act.sa_flags &= ~SA_RESTART;
	else
		act.sa_flags |= SA_RESTART;
	return disposition_swap(&act, NULL);
}

/* For the trace: SIGCHLD's disposition as the program sees it. */
static void disposition_read(struct sigaction *sa)
{
	if (mediated(SIGCHLD))
		disposition_swap(NULL, sa);
	else
		REAL(sigaction)(SIGCHLD, NULL, sa);
}

CW_CHILD_CODE static bool trace_begin(int sig, struct sigaction *before)
{
	if (sig != SIGCHLD)
		return false;
	cw__real_init();
	if (!cw__trace_on())
		return false;
	disposition_read(before);
	return true;
}

static void trace_end(const struct cw__caller *by,
		      const struct sigaction *before)
{
	int saved_errno = errno;
	struct sigaction now;

	disposition_read(&now);
	if (now.sa_handler != before->sa_handler ||
	    now.sa_flags != before->sa_flags)
		cw__trace_sigchld(by, before, &now);
	cw__errno_restore(saved_errno);
}

/* Every way to set SIGCHLD's disposition, traced: a query changes nothing
 * and leaves no event. */
#define SIGCHLD_TRACED(name, sig, call)                                  \
	({                                                               \
		struct sigaction before_;                                \
		bool traced_ = trace_begin(sig, &before_);               \
		__typeof__(call) r_ = call;                              \
		if (traced_)                                             \
			trace_end(CW_CALLER(name), &before_);            \
		r_;                                                      \
	})

CW_CHILD_CODE CW_EXPORT int sigaction(int sig, const struct sigaction *act,
				      struct sigaction *old)
{
	return SIGCHLD_TRACED("sigaction", sig, sigaction_do(sig, act, old));
}

CW_PARENT_CODE CW_EXPORT cw__handler signal(int sig, cw__handler handler)
{
	return SIGCHLD_TRACED("signal", sig, signal_do(sig, handler));
}

CW_EXPORT cw__handler bsd_signal(int sig, cw__handler handler)
{
	return SIGCHLD_TRACED("bsd_signal", sig, bsd_signal_do(sig, handler));
}

CW_EXPORT cw__handler sysv_signal(int sig, cw__handler handler)
{
	return SIGCHLD_TRACED("sysv_signal", sig, sysv_signal_do(sig, handler));
}

CW_EXPORT cw__handler sigset(int sig, cw__handler handler)
{
	return SIGCHLD_TRACED("sigset", sig, sigset_do(sig, handler));
}

CW_EXPORT int sigignore(int sig)
{
	return SIGCHLD_TRACED("sigignore", sig, sigignore_do(sig));
}

CW_EXPORT int siginterrupt(int sig, int flag)
{
	return SIGCHLD_TRACED("siginterrupt", sig, siginterrupt_do(sig, flag));
}

/*
 * An exec'd image inherits SIG_IGN, never a handler: where the program
 * ignores SIGCHLD and the relay stands in for it, exec must find SIG_IGN.
 * Called in the process about to exec (a fork or vfork child has its own
 * dispositions); cw__sigchld_exec_failed() puts the relay back.
 */
CW_CHILD_CODE void cw__sigchld_exec_begin(void)
{
	struct sigaction real, ign = { .sa_handler = SIG_IGN };
	unsigned cur;

	/* The program's view first: it costs no system call, and the
	 * kernel's matters only where the program ignores SIGCHLD. */
	if (!cw__reaper_mediating() ||
	    cw__disposition_read(&cur).sa_handler != SIG_IGN ||
	    REAL(sigaction)(SIGCHLD, NULL, &real) < 0 ||
	    real.sa_sigaction != relay)
		return;
	sigemptyset(&ign.sa_mask);
	REAL(sigaction)(SIGCHLD, &ign, NULL);
}

void cw__sigchld_exec_failed(void)
{
	struct sigaction prog, real;
	unsigned cur;

	if (!cw__reaper_mediating())
		return;
	prog = cw__disposition_read(&cur);
	if (prog.sa_handler != SIG_IGN)
		return;
	real = real_for(&prog);
	REAL(sigaction)(SIGCHLD, &real, NULL);
}

/*
 * posix_spawn's child sets every handled signal to SIG_DFL before its
 * exec, and libc's exec is not ours to interpose: while the program ignores
 * SIGCHLD, the real disposition is SIG_IGN for the length of the spawn, so
 * that the new image inherits it. A child of the program that exits in
 * that window is reaped by the kernel, as bare. Returns whether
 * cw__sigchld_spawn_end() must follow.
 */
CW_PARENT_CODE bool cw__sigchld_spawn_begin(void)
{
	struct sigaction prog;
	sigset_t saved;
	unsigned cur;
	bool ign;

	/* Most programs do not ignore SIGCHLD: they pay no lock and no
	 * getpid here. Whoever changes the disposition during the spawn
	 * races with it as bare, with the lock or without. */
	if (!cw__sigchld_ignored() || cw__disposition_borrowed())
		return false;
	cw__disposition_lock(&saved);
	prog = cw__disposition_read(&cur);
	ign = prog.sa_handler == SIG_IGN;
	if (ign && spawning++ == 0)
		real_install(&prog, NULL);
	cw__disposition_unlock(&saved);
	return ign;
}

void cw__sigchld_spawn_end(void)
{
	sigset_t saved;
	unsigned cur;

	cw__disposition_lock(&saved);
	if (--spawning == 0) {
		struct sigaction prog = cw__disposition_read(&cur);

		real_install(&prog, NULL);
	}
	cw__disposition_unlock(&saved);
}

bool cw__sigchld_ignored(void)
{
	unsigned cur;

	return mediated(SIGCHLD) && cw__disposition_read(&cur).sa_handler == SIG_IGN;
}
