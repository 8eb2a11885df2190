/* SPDX-License-Identifier: MIT */
/*
 * The shell children of system() and popen(). Each is a clone child: its
 * exit signal is 0, not SIGCHLD, so the program's own waits (which lack
 * __WALL and __WCLONE) never see it, no SIGCHLD handler hears of it, and the
 * kernel never reaps it for a program that ignores SIGCHLD. Only the wait
 * below, with __WALL, takes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reaper.h"
#include "real.h"
#include "sys.h"

#define STACK_BYTES (64 * 1024)

extern char **environ;

/*
 * libc's clone under the name no sanitizer intercepts. TSan's clone
 * interceptor runs its fork bookkeeping (ForkChildAfter) in the child, which
 * with CLONE_VM is the parent's memory: it reset the parent's thread
 * registry, which TSan then found inconsistent (CHECK failed ...
 * ThreadRegistry::CheckLocked, in another thread, later).
 */
extern int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);

/*
 * Runs in the child, on its own stack in the parent's memory, which is
 * suspended until the exec (CLONE_VFORK): only system calls and the
 * parent's read-only state. Every signal is blocked on entry. Not
 * instrumented: a sanitizer would mark the redzones of this stack in the
 * parent's shadow memory, and the pages, unmapped and later mapped again
 * for the table, would read as a stack overflow (check-asan saw it).
 */
CW_RAW_HANDLER CW_NO_ASAN static bool in_set(const sigset_t *set, int sig)
{
	const unsigned long *words = (const unsigned long *)set;
	unsigned bits = 8 * sizeof *words;

	return words[(sig - 1) / bits] >> ((sig - 1) % bits) & 1;
}

/* Only raw system calls: a sanitizer's interceptors here would change the
 * parent's thread state, in the parent's memory (check-tsan saw its
 * runtime's lock left taken). */
CW_RAW_HANDLER CW_NO_ASAN static int shell_child(void *arg)
{
	struct cw__command *cmd = arg;
	int r = 0;

	/* A handler of the parent must never run here, in its memory. */
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (in_set(&cmd->sigdefault, sig) ||
		    cw__sys_signal_handled(sig))
			cw__sys_signal_set(sig, SIG_DFL);
	}
	/* Exec keeps SIG_IGN, which the relay may stand in for. */
	if (cmd->sigchld_ignored)
		cw__sys_signal_set(SIGCHLD, SIG_IGN);
	if (cmd->dup_from >= 0)
		r = cmd->dup_from == cmd->dup_to
			    ? cw__sys_cloexec_clear(cmd->dup_from)
			    : cw__sys_dup_to(cmd->dup_from, cmd->dup_to);
	if (r >= 0) {
		for (size_t i = 0; i < cmd->nclose; i++)
			if (cmd->close[i] != cmd->dup_to)
				cw__sys_close(cmd->close[i]);
		cw__sys_sigmask_set(&cmd->mask);
		r = cw__sys_execve("/bin/sh", cmd->argv, environ);
	}
	cmd->error = -r;
	cw__sys_exit(127);
}

int cw__command_spawn(pid_t *pid, struct cw__command *cmd)
{
	sigset_t all, saved;
	void *stack;
	pid_t child;

	stack = mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return errno;
	cmd->sigchld_ignored = cw__sigchld_ignored();
	cmd->error = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	child = __clone(shell_child, (char *)stack + STACK_BYTES,
			CLONE_VM | CLONE_VFORK, cmd);
	if (child < 0)
		cmd->error = errno;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	/* What libc's interceptors marked on the child's stack goes with it. */
	cw__asan_forget(stack, STACK_BYTES);
	munmap(stack, STACK_BYTES);
	/* Failed before its exec: reaped here, as posix_spawn does. */
	if (child > 0 && cmd->error) {
		siginfo_t si;

		cw__sys_waitid(P_PID, child, &si, WEXITED | __WALL, NULL);
	}
	if (cmd->error)
		return cmd->error;
	*pid = child;
	return 0;
}

int cw__command_wait(pid_t pid, int *status, const struct cw__caller *by)
{
	struct cw__wait w = {
		.idtype = P_PID,
		.id = pid,
		.options = WEXITED | __WALL,
		.as = CW_OWNER_COMMAND,
		.by = *by,
		.args = { .id = pid },
	};
	int r;

	do
		r = cw__wait(&w);
	while (r == -EINTR);
	if (r < 0)
		return r;
	*status = cw__wait_status(&w.si);
	return 0;
}
