/* SPDX-License-Identifier: MIT */
/*
 * popen() and pclose(), replaced whole for the reason system() is: glibc's
 * pclose waits with an internal waitpid. Each stream remembers its child,
 * which only its pclose may wait for.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "locks.h"
#include "reaper.h"
#include "real.h"

struct piped {
	struct piped *next;
	FILE *stream;
	int fd;
	pid_t pid;
};

CW_HOT static pthread_mutex_t piped_lock = PTHREAD_MUTEX_INITIALIZER;
static struct piped *piped_head;
/* Streams open from popen(): fclose() looks for them only when some are. */
static atomic_int piped_count;
static pthread_once_t registered = PTHREAD_ONCE_INIT;

/* A forked child keeps the streams: each pclose() there waits for a child
 * the child never had, and gets ECHILD, as glibc's does. */
static void piped_register(void)
{
	static const struct cw__lock_ops locks = { .mutex = &piped_lock };

	cw__locks_register(CW_LOCK_POPEN, &locks);
}

/* POSIX: a child must not keep the streams of earlier popen() calls. Their
 * descriptors, in a new array, or NULL when memory ran out. */
static int *earlier_fds(size_t *n)
{
	struct piped *p;
	int *fds;

	*n = 0;
	for (p = piped_head; p; p = p->next)
		(*n)++;
	fds = malloc((*n ? *n : 1) * sizeof *fds);
	if (!fds)
		return NULL;
	*n = 0;
	for (p = piped_head; p; p = p->next)
		fds[(*n)++] = p->fd;
	return fds;
}

static FILE *popen_mediated(const char *command, const char *mode,
			    const struct cw__caller *by)
{
	char *argv[] = { "sh", "-c", "--", (char *)command, NULL };
	bool reading = mode[0] == 'r';
	bool cloexec = strchr(mode, 'e') != NULL;
	struct cw__command cmd = { .argv = argv };
	int fds[2], parent_end, child_end, target, r, *earlier;
	struct piped *p;
	FILE *stream;
	pid_t pid;

	if ((mode[0] != 'r' && mode[0] != 'w') ||
	    strspn(mode + 1, "e") != strlen(mode + 1)) {
		errno = EINVAL;
		return NULL;
	}
	p = malloc(sizeof *p);
	if (!p)
		return NULL;
	pthread_once(&registered, piped_register);
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto out_free;
	parent_end = fds[reading ? 0 : 1];
	child_end = fds[reading ? 1 : 0];
	target = reading ? STDOUT_FILENO : STDIN_FILENO;

	pthread_mutex_lock(&piped_lock);
	/* The parent's end is close-on-exec until the child is running. */
	cmd.dup_from = child_end;
	cmd.dup_to = target;
	cmd.close = earlier = earlier_fds(&cmd.nclose);
	pthread_sigmask(SIG_SETMASK, NULL, &cmd.mask);
	sigemptyset(&cmd.sigdefault);
	r = ENOMEM;
	if (earlier) {
		cw__child_creating();
		r = cw__command_spawn(&pid, &cmd);
		cw__child_created(r ? -1 : pid, CW_OWNER_COMMAND, by, command);
		free(earlier);
	}
	if (r) {
		pthread_mutex_unlock(&piped_lock);
		errno = r;
		goto out_close;
	}
	close(child_end);
	if (!cloexec)
		fcntl(parent_end, F_SETFD, 0);
	stream = fdopen(parent_end, reading ? "r" : "w");
	if (!stream) {
		pthread_mutex_unlock(&piped_lock);
		close(parent_end);
		cw__command_wait(pid, &r, by);
		goto out_free;
	}
	*p = (struct piped){ piped_head, stream, parent_end, pid };
	piped_head = p;
	atomic_fetch_add(&piped_count, 1);
	pthread_mutex_unlock(&piped_lock);
	return stream;

out_close:
	close(fds[0]);
	close(fds[1]);
out_free:
	free(p);
	return NULL;
}

CW_EXPORT FILE *popen(const char *command, const char *mode)
{
	int saved_errno = errno;
	FILE *stream;

	if (cw__shim_off())
		return REAL(popen)(command, mode);
	stream = popen_mediated(command, mode, CW_CALLER("popen"));
	if (stream)
		cw__errno_restore(saved_errno);
	return stream;
}

static struct piped *piped_take(FILE *stream)
{
	struct piped **pp, *p;

	pthread_mutex_lock(&piped_lock);
	for (pp = &piped_head; *pp && (*pp)->stream != stream;
	     pp = &(*pp)->next)
		;
	p = *pp;
	if (p) {
		*pp = p->next;
		atomic_fetch_sub(&piped_count, 1);
	}
	pthread_mutex_unlock(&piped_lock);
	return p;
}

/* Closes a popen() stream and waits for its child: the status, or -1. */
static int piped_close(struct piped *p, const struct cw__caller *by)
{
	int saved_errno = errno;
	int status, r;

	REAL(fclose)(p->stream);
	r = cw__command_wait(p->pid, &status, by);
	free(p);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	cw__errno_restore(saved_errno);
	return status;
}

CW_EXPORT int pclose(FILE *stream)
{
	struct piped *p;

	if (cw__shim_off() || !(p = piped_take(stream)))
		return REAL(pclose)(stream);
	return piped_close(p, CW_CALLER("pclose"));
}

/* glibc's fclose() of a popen() stream waits for the child and returns its
 * status, as pclose() does; programs rely on it. */
CW_PARENT_CODE CW_EXPORT int fclose(FILE *stream)
{
	struct piped *p;

	/* Before the shim started, no stream is popen()'s. */
	if (atomic_load(&piped_count) == 0 || !(p = piped_take(stream)))
		return REAL(fclose)(stream);
	return piped_close(p, CW_CALLER("fclose"));
}
