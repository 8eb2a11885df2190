/* SPDX-License-Identifier: MIT */
/*
 * system(), replaced whole: glibc's waits for its child with an internal
 * waitpid that no interposer sees, so another thread's waitpid(-1) could
 * take the child from under it, and a SIGCHLD at SIG_IGN loses its status.
 * This one owns its child, a clone child (command.c), through the table.
 * POSIX: SIGINT and SIGQUIT ignored and SIGCHLD blocked while it waits;
 * the shell gets the caller's mask and dispositions back.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "locks.h"
#include "reaper.h"
#include "real.h"

extern char **environ;

/* Concurrent system() calls share one ignoring of SIGINT and SIGQUIT. */
CW_HOT static pthread_mutex_t quiet_lock = PTHREAD_MUTEX_INITIALIZER;
CW_HOT static int quiet_count;
static struct sigaction quiet_int, quiet_quit;

/* The child runs no system() of its parent's other threads. */
CW_CHILD_CODE static void quiet_reset(void)
{
	if (quiet_count)
		quiet_count = 0;
}

static void quiet_register(void)
{
	static const struct cw__lock_ops locks = {
		.mutex = &quiet_lock,
		.reset = quiet_reset,
	};

	cw__locks_register(CW_LOCK_SYSTEM, &locks);
}

static void quiet_begin(struct sigaction *intr, struct sigaction *quit)
{
	static pthread_once_t registered = PTHREAD_ONCE_INIT;
	struct sigaction ign = { .sa_handler = SIG_IGN };

	pthread_once(&registered, quiet_register);
	pthread_mutex_lock(&quiet_lock);
	if (quiet_count++ == 0) {
		sigemptyset(&ign.sa_mask);
		REAL(sigaction)(SIGINT, &ign, &quiet_int);
		REAL(sigaction)(SIGQUIT, &ign, &quiet_quit);
	}
	*intr = quiet_int;
	*quit = quiet_quit;
	pthread_mutex_unlock(&quiet_lock);
}

static void quiet_end(void)
{
	pthread_mutex_lock(&quiet_lock);
	if (--quiet_count == 0) {
		REAL(sigaction)(SIGINT, &quiet_int, NULL);
		REAL(sigaction)(SIGQUIT, &quiet_quit, NULL);
	}
	pthread_mutex_unlock(&quiet_lock);
}

static int shell_run(const char *command, const struct cw__caller *by)
{
	char *argv[] = { "sh", "-c", "--", (char *)command, NULL };
	struct cw__command cmd = { .argv = argv, .dup_from = -1 };
	struct sigaction intr, quit;
	sigset_t chld;
	int saved_errno = errno;
	pid_t pid;
	int status, r;

	quiet_begin(&intr, &quit);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &cmd.mask);

	sigemptyset(&cmd.sigdefault);
	if (intr.sa_handler != SIG_IGN)
		sigaddset(&cmd.sigdefault, SIGINT);
	if (quit.sa_handler != SIG_IGN)
		sigaddset(&cmd.sigdefault, SIGQUIT);

	cw__child_creating();
	r = cw__command_spawn(&pid, &cmd);
	cw__child_created(r == 0 ? pid : -1, CW_OWNER_COMMAND, by, command);
	if (r == 0) {
		r = -cw__command_wait(pid, &status, by);
		if (r)
			status = -1;
	} else {
		status = 127 << 8;
	}

	quiet_end();
	pthread_sigmask(SIG_SETMASK, &cmd.mask, NULL);
	errno = r ? r : saved_errno;
	return status;
}

CW_EXPORT int system(const char *command)
{
	const struct cw__caller *by = CW_CALLER("system");

	if (cw__shim_off())
		return REAL(system)(command);
	if (!command)
		return shell_run("exit 0", by) == 0;
	return shell_run(command, by);
}
