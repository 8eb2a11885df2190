/* SPDX-License-Identifier: MIT */
/*
 * pidfd: one thread sleeps in epoll over a pidfd per live child. A pidfd
 * names one process, never a later one that reuses its pid, and readiness
 * says which child exited without a scan. A child whose pidfd cannot be
 * had (no descriptors left) is watched by a thread of its own.
 *
 * A program may close every descriptor it did not open (a daemon's close
 * loop, close_range) or dup2 over ours: the epoll instance then reports
 * nothing more. Its thread looks once a second, and when the descriptor is
 * no longer ours its children become unwatched: waits then poll and probe
 * them, and the next child gets a new instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "child.h"
#include "strategy.h"
#include "sys.h"

#define EVENTS_MAX 64
/* How often the thread checks that its descriptor is still its own. */
#define CHECK_MS 1000

CW_HOT static int epoll_fd = -1;
CW_HOT static bool thread_running;

static void ready_handle(const struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		struct cw__child *c = cw__table_running(ev[i].data.u64);

		if (c)
			cw__child_probe(c);
	}
}

/* fd is still the close-on-exec epoll instance made here: another file,
 * or none, says the program closed it or put something else there. */
static bool epoll_ours(int fd)
{
	struct stat st;
	int flags = fcntl(fd, F_GETFD);

	return flags >= 0 && (flags & FD_CLOEXEC) && fstat(fd, &st) == 0 &&
	       (st.st_mode & S_IFMT) == 0; /* an anonymous inode */
}

/* The instance at fd is lost: nothing it watched is watched any more. Its
 * descriptors are not closed, their numbers may be the program's now. */
static void epoll_abandon(int fd)
{
	struct cw__child *c;

	if (fd != epoll_fd)
		return;
	for (c = cw__table_running_first(); c; c = c->next) {
		if (c->pidfd < 0)
			continue;
		c->pidfd = -1;
		cw__table_unwatched(c);
	}
	epoll_fd = -1;
	thread_running = false;
}

static void *epoll_thread(void *arg)
{
	struct epoll_event ev[EVENTS_MAX];
	sigset_t saved;
	int fd = (int)(intptr_t)arg;
	bool lost;
	int n;

	do {
		n = epoll_wait(fd, ev, EVENTS_MAX, CHECK_MS);
		lost = (n < 0 && errno != EINTR) || (n == 0 && !epoll_ours(fd));
		cw__table_lock(&saved);
		if (lost)
			epoll_abandon(fd);
		else if (n > 0)
			ready_handle(ev, n);
		cw__table_unlock(&saved);
	} while (!lost);
	return NULL;
}

static bool epoll_ready(void)
{
	if (epoll_fd < 0)
		epoll_fd = cw__fd_park(epoll_create1(EPOLL_CLOEXEC));
	if (epoll_fd >= 0 && !thread_running)
		thread_running = cw__thread_start(epoll_thread,
						  (void *)(intptr_t)epoll_fd) == 0;
	return thread_running;
}

static void pidfd_watch(struct cw__child *c)
{
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.u64 = cw__table_key(c),
	};
	int fd;

	if (!epoll_ready())
		goto fallback;
	fd = cw__sys_pidfd_open(c->pid);
	if (fd < 0)
		goto fallback;
	fd = cw__fd_park(fd);
	if (fd < 0)
		goto fallback;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		/* EBADF, EINVAL: the instance's number is not ours any more. */
		if (errno == EBADF || errno == EINVAL)
			epoll_abandon(epoll_fd);
		cw__sys_close(fd);
		goto fallback;
	}
	c->pidfd = fd;
	cw__table_watched(c);
	return;
fallback:
	cw__strategy_threaded.watch(c);
}

CW_PARENT_CODE static void pidfd_unwatch(struct cw__child *c)
{
	if (c->pidfd >= 0) {
		cw__sys_close(c->pidfd);
		c->pidfd = -1;
	}
}

/* The exits of watched children that the thread has not handled yet. */
static void pidfd_drain(void)
{
	struct epoll_event ev[EVENTS_MAX];
	int n = 0;

	if (epoll_fd < 0)
		return;
	do {
		n = epoll_wait(epoll_fd, ev, EVENTS_MAX, 0);
		if (n > 0)
			ready_handle(ev, n);
	} while (n == EVENTS_MAX);
	if (n < 0 && errno != EINTR)
		epoll_abandon(epoll_fd);
}

static void pidfd_collect(void)
{
	pidfd_drain();
	/* Children no thread or pidfd reports (none was needed, none could
	 * be had, or the program closed ours). */
	cw__collect_unwatched();
}

/*
 * The parent's epoll instance is shared with it: let go. Its pidfds are
 * left open, close-on-exec: closing thousands of them one by one would
 * delay every forked child by milliseconds.
 */
CW_CHILD_CODE static void pidfd_forked(void)
{
	if (epoll_fd >= 0) {
		cw__sys_close(epoll_fd);
		epoll_fd = -1;
	}
	if (thread_running)
		thread_running = false;
}

/* Readiness is set as a watched child exits; children nobody watches are
 * caught up with as threaded does, from the kernel's own pick. */
CW_PARENT_CODE static bool pidfd_catch_up(idtype_t idtype, id_t id)
{
	pidfd_drain();
	return cw__catch_up_kernel(idtype, id);
}

const struct cw__strategy cw__strategy_pidfd = {
	.watch = pidfd_watch,
	.unwatch = pidfd_unwatch,
	.collect = pidfd_collect,
	.catch_up = pidfd_catch_up,
	.forked = pidfd_forked,
	.sigchld_driven = false,
};
