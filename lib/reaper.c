/* SPDX-License-Identifier: MIT */
/*
 * The one owner of children: picks the strategy, registers every child the
 * program creates, and keeps the table right across fork and exec.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "locks.h"
#include "deliver.h"
#include "ignored.h"
#include "reaper.h"
#include "child.h"
#include "strategy.h"
#include "sys.h"

CW_HOT const struct cw__strategy *cw__strategy;
CW_HOT enum cw__mode cw__reaper_mode = CW_MODE_OFF;
CW_HOT enum cw__mode cw__reaper_mode_asked = CW_MODE_OFF;
CW_HOT atomic_bool cw__sigchld_uncollected;
CW_HOT void (*cw__reaper_starter)(void);

CW_PARENT_CODE void cw__child_creating(void)
{
	cw__table_creating_begin();
}

/* masked: every signal is blocked already (fork's, see locks.h). */
CW_PARENT_CODE static void child_enter(pid_t pid, enum cw__owner owner,
				       const struct cw__caller *by, bool masked)
{
	struct cw__child *c;
	sigset_t saved;

	if (!cw__reaper_mediating()) {
		cw__table_creating_end();
		return;
	}
	/* Nothing is armed for the child here: a fork may come from a signal
	 * handler that interrupted malloc or pthread_create, and most children
	 * are waited for in the kernel anyway. Watchers are armed for the
	 * children that need an asynchronous notice (the C API's). */
	if (masked)
		cw__table_masked_lock();
	else
		cw__table_lock(&saved);
	c = pid > 0 ? cw__table_find(pid) : NULL;
	if (pid > 0 && !(c && cw__record_claim(c, owner, by))) {
		c = cw__table_add(pid, owner, pthread_self());
		if (c) {
			c->spawned = *by;
			cw__table_creator(c);
		}
	}
	if (cw__table_creating_end())
		cw__records_unclaimed_drop();
	cw__wait_created();
	cw__table_changed();
	if (masked)
		cw__table_masked_unlock();
	else
		cw__table_unlock(&saved);
}

static void created(pid_t pid, enum cw__owner owner,
		    const struct cw__caller *by, const char *command,
		    bool masked)
{
	if (pid > 0 && cw__trace_on())
		cw__trace_spawn(pid, by, command);
	child_enter(pid, owner, by, masked);
}

CW_PARENT_CODE void cw__child_created(pid_t pid, enum cw__owner owner,
				      const struct cw__caller *by,
				      const char *command)
{
	created(pid, owner, by, command, false);
}

CW_PARENT_CODE void cw__child_forked(pid_t pid, bool masked, const void *by)
{
	created(pid, CW_OWNER_PROGRAM, by, NULL, masked);
}

void cw__child_pidfd(pid_t pid, int fd)
{
	struct cw__child *c;
	sigset_t saved;

	if (!cw__reaper_mediating())
		return;
	cw__table_lock(&saved);
	c = cw__table_find(pid);
	if (c)
		c->program_pidfd = fd;
	cw__table_unlock(&saved);
}

void cw__reaper_uncounted(struct rusage *ru)
{
	const struct cw__child *c;
	sigset_t saved;

	memset(ru, 0, sizeof *ru);
	cw__table_lock(&saved);
	for (c = cw__table_ready_first(); c; c = c->next) {
		if (c->state != CHILD_COLLECTED)
			continue;
		timeradd(&ru->ru_utime, &c->ru.ru_utime, &ru->ru_utime);
		timeradd(&ru->ru_stime, &c->ru.ru_stime, &ru->ru_stime);
		ru->ru_minflt += c->ru.ru_minflt;
		ru->ru_majflt += c->ru.ru_majflt;
		ru->ru_inblock += c->ru.ru_inblock;
		ru->ru_oublock += c->ru.ru_oublock;
		ru->ru_nvcsw += c->ru.ru_nvcsw;
		ru->ru_nivcsw += c->ru.ru_nivcsw;
	}
	cw__table_unlock(&saved);
}

/* Under off too: the trace keeps the table, and the parent's is not mapped
 * in the child. */
CW_CHILD_CODE void cw__reaper_fork_child(void)
{
	if (cw__strategy)
		cw__strategy->forked();
	cw__table_reset();
}

CW_CHILD_CODE bool cw__reaper_sigchld_driven(void)
{
	return cw__strategy && cw__strategy->sigchld_driven;
}

CW_PARENT_CODE CW_RAW_HANDLER void cw__reaper_sigchld_heard(void)
{
	atomic_store(&cw__sigchld_uncollected, true);
	cw__table_changed();
}

static pid_t parent_of(const char *pid)
{
	char path[300], buf[512], *p;
	int fd, n;

	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	cw__sys_close(fd);
	buf[n > 0 ? n : 0] = '\0';
	/* "pid (comm) state ppid": comm may hold anything but the last ')'. */
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? atoi(p + 3) : 0;
}

/*
 * Children an exec'd image inherits are still this process's children.
 * Most programs start with none, which one wait tells at no cost; only
 * then is /proc searched for them.
 */
CW_PARENT_CODE static void adopt_children(void)
{
	/* The image before exec traced their creation. */
	static const struct cw__caller inherited = { "exec", NULL };
	siginfo_t si;
	struct dirent *e;
	DIR *proc;

	if (cw__sys_waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT,
			   NULL) == -ECHILD)
		return;
	proc = opendir("/proc");
	if (!proc)
		return;
	while ((e = readdir(proc))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' ||
		    parent_of(e->d_name) != getpid())
			continue;
		cw__child_creating();
		child_enter(atoi(e->d_name), CW_OWNER_PROGRAM, &inherited,
			    false);
	}
	closedir(proc);
}

CW_PARENT_CODE void cw__reaper_init(enum cw__mode mode)
{
	static const struct cw__strategy *const strategies[] = {
		[CW_MODE_SAFE] = &cw__strategy_safe,
		[CW_MODE_FAST] = &cw__strategy_fast,
		[CW_MODE_THREADED] = &cw__strategy_threaded,
		[CW_MODE_PIDFD] = &cw__strategy_pidfd,
	};

	cw__reaper_mode_asked = mode;
	/* Where pidfds are refused, pidfd watches each child it is asked to
	 * with a thread, as threaded does: the probe only tells the trace,
	 * and every process of a shell script would pay for it. */
	if (mode == CW_MODE_PIDFD && cw__trace_on()) {
		int fd = cw__sys_pidfd_open(getpid());

		if (fd < 0)
			mode = CW_MODE_THREADED;
		else
			cw__sys_close(fd);
	}
	cw__strategy = strategies[mode];
	cw__reaper_mode = mode;
	cw__reaper_forks();
	adopt_children();
}

void cw__reaper_forks(void)
{
	static const struct cw__lock_ops table_locks = {
		.take = cw__table_masked_lock,
		.release = cw__table_masked_unlock,
		.reset = cw__reaper_fork_child,
	};

	cw__locks_register(CW_LOCK_TABLE, &table_locks);
}
