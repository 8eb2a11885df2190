/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/uio.h>
#include <string.h>
#include <unistd.h>

#include "reaper.h"
#include "real.h"
#include "sys.h"

#define CW_REAL_DEFINE(when, type, name, params) type(*real_##name) params;
CW_INTERPOSED(CW_REAL_DEFINE)
#undef CW_REAL_DEFINE

bool cw__shim_tracing;
bool cw__shim_constructed;
atomic_bool cw__shim_debugging;

static cw__once_t symbols_once, settings_once, start_once;
/*
 * The thread inside any of the onces, while it is. What the shim calls
 * while it starts (getauxval, dlsym's malloc) may be another
 * library's that calls back into an interposer: a sanitizer's runtime
 * starts up on its first intercepted call and installs its signal handlers
 * with sigaction. Waiting there for the once we are inside would hang for
 * good.
 */
static const void *_Atomic starting;
/* This thread, by the address of its own byte: pthread_self() would bind,
 * and fault in a page of libc's, in every process the shim loads in. */
static CW_TLS char this_thread_byte;
#define THIS_THREAD ((const void *)&this_thread_byte)

static void mode_refuse(const char *value)
{
	static const char head[] = "childwatch: CHILDWATCH_MODE='";
	static const char tail[] = "' is not a mode; set it to one of "
				   CW_MODE_LIST " (unset means pidfd)\n";
	struct iovec iov[] = {
		{ (void *)head, sizeof head - 1 },
		{ (void *)value, strlen(value) },
		{ (void *)tail, sizeof tail - 1 },
	};

	writev(STDERR_FILENO, iov, 3);
	_exit(2);
}

CW_PARENT_CODE void *cw__real_lookup(void **slot, const char *name)
{
	int saved_errno = errno;
	void *fn = dlsym(RTLD_NEXT, name);

	__atomic_store_n(slot, fn, __ATOMIC_RELAXED);
	cw__errno_restore(saved_errno);
	return fn;
}

#define EAGER 1
#define LAZY 0

CW_PARENT_CODE static void symbols_resolve(void)
{
#define CW_REAL_RESOLVE(when, type, name, params) \
	if (when)                                   \
		cw__real_lookup((void **)&real_##name, #name);
	CW_INTERPOSED(CW_REAL_RESOLVE)
#undef CW_REAL_RESOLVE
}

CW_PARENT_CODE static void real_symbols(void)
{
	atomic_store(&starting, THIS_THREAD);
	symbols_resolve();
	atomic_store(&starting, 0);
}

/* What the environment asks for: read as the shim loads, so that a bad
 * CHILDWATCH_MODE is refused by every program, forking or not. */
static enum cw__mode mode_asked = CW_MODE_DEFAULT;

/* Read in every process: on the page the loader writes anyway, where
 * .rodata would cost each a page fault of its own. */
CW_HOT static char mode_variable[] = "CHILDWATCH_MODE";
CW_HOT static char trace_variable[] = "CHILDWATCH_TRACE";

/*
 * getenv's answer, read in every process with no call into libc: getenv,
 * secure_getenv and the lazy binding of each run code on pages of libc's
 * that a process which never forks (most of a shell's) would not touch.
 */
CW_START_CODE static const char *env_value(const char *name)
{
	for (char **entry = environ; *entry; entry++) {
		const char *v = *entry, *n = name;

		while (*n && *v == *n)
			v++, n++;
		if (!*n && *v == '=')
			return v + 1;
	}
	return NULL;
}

/*
 * Whether the kernel made this a set-user-ID program (AT_SECURE), which
 * reads neither variable, as with secure_getenv: its caller picks neither
 * its mode nor a file for it to write. Asked only where a variable
 * matters: a bad mode about to be refused, a trace about to be opened, a
 * mode about to be used. Not of the environment, which the program may
 * have cleared by then.
 */
static bool secure(void)
{
	return getauxval(AT_SECURE) != 0;
}

CW_START_CODE static void settings_read(void)
{
	const char *mode, *trace;

	atomic_store(&starting, THIS_THREAD);
	mode = env_value(mode_variable);
	if (mode && cw__mode_parse(mode, &mode_asked) < 0 && !secure())
		mode_refuse(mode);
	trace = env_value(trace_variable);
	if (trace && *trace) {
		int saved_errno = errno;

		if (!secure()) {
			cw__trace_open(trace);
			cw__shim_tracing = cw__trace_on();
		}
		cw__errno_restore(saved_errno);
	}
	atomic_store(&starting, 0);
}

CW_PARENT_CODE static void shim_start(void)
{
	int saved_errno = errno;
	struct sigaction inherited = { .sa_handler = SIG_DFL };

	atomic_store(&starting, THIS_THREAD);
	if (mode_asked != CW_MODE_DEFAULT && secure())
		mode_asked = CW_MODE_DEFAULT;
	/* Before the reaper installs its own: a forked or exec'd process
	 * inherits SIG_IGN, and the report needs it to name the kernel as
	 * what reaped a child this process then cannot wait for. */
	if (cw__shim_tracing)
		REAL(sigaction)(SIGCHLD, NULL, &inherited);
	if (mode_asked != CW_MODE_OFF) {
		cw__reaper_init(mode_asked);
		cw__sigchld_init();
	} else if (cw__shim_tracing) {
		cw__reaper_forks();
	}
	if (cw__shim_tracing)
		cw__trace_start(mode_asked, cw__reaper_mode, &inherited);
	atomic_store(&starting, 0);
	cw__errno_restore(saved_errno);
}

CW_CHILD_CODE void cw__real_init(void)
{
	/* Called back from our own start: the symbols are resolved again
	 * (dlsym's lock is recursive; the values are the same), and until
	 * shim_start has set the mode the call goes straight to libc. */
	if (atomic_load_explicit(&starting, memory_order_relaxed) ==
	    THIS_THREAD) {
		symbols_resolve();
		return;
	}
	cw__once(&symbols_once, real_symbols);
	/* A program's preinit functions (a sanitizer's runtime installing its
	 * signal handlers, say) run before libc has set environ, when
	 * CHILDWATCH_MODE cannot be read: until then the mode stays off and
	 * every call goes straight to libc. Children made that early are
	 * adopted when the reaper starts. */
	if (environ) {
		cw__once(&settings_once, settings_read);
		cw__once(&start_once, shim_start);
	}
}

/* The program has installed a signal handler. */
static bool handler_installed;

CW_CHILD_CODE void cw__shim_handler_coming(cw__handler handler)
{
	if (handler == SIG_DFL || handler == SIG_IGN || handler == SIG_HOLD)
		return;
	/* Read first: in a forked child, a write copies the page. */
	if (!handler_installed)
		handler_installed = true;
	cw__real_init();
}

/*
 * Most exec'd programs never create a child, wait for one, or install a
 * signal handler. So the shim starts at the first call that concerns
 * children (cw__real_init), not here: a process that makes none pays for
 * no lookup, system call or written page of the shim's. A handler, for any
 * signal, may call an interposer at any instruction, where the start
 * (dlsym, opendir) must not run: installing one starts the shim first, or
 * here for one installed while the shim read its settings (a sanitizer's
 * runtime starting up, start_reentry's library). The trace records every
 * process from its start.
 */
__attribute__((constructor)) static void real_constructor(void)
{
	if (environ)
		cw__once(&settings_once, settings_read);
	if (cw__shim_tracing || handler_installed)
		cw__real_init();
	cw__reaper_starter = cw__real_init;
	cw__shim_constructed = true;
}

/* exit(), not _exit(): what the process leaves behind, for the trace. */
__attribute__((destructor)) static void real_destructor(void)
{
	struct cw__census left;

	if (!cw__trace_on())
		return;
	cw__reaper_census(&left);
	cw__trace_exit(&left);
}
