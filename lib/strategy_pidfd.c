/* SPDX-License-Identifier: MIT */
/*
 * pidfd: one thread sleeps in epoll over a pidfd per live child. A pidfd
 * names one process, never a later one that reuses its pid, and readiness
 * says which child exited without a scan. A child whose pidfd cannot be
 * had (no descriptors left) is watched by a thread of its own.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "strategy.h"
#include "sys.h"

#define EVENTS_MAX 64

static int epoll_fd = -1;
static bool thread_running;

static void ready_handle(const struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		pid_t pid = (pid_t)(ev[i].data.u64 & 0xffffffff);
		uint32_t gen = ev[i].data.u64 >> 32;
		struct cw__child *c = cw__table_find(pid);

		if (c && c->gen == gen && c->state == CHILD_RUNNING)
			cw__child_probe(c);
	}
}

static void *epoll_thread(void *arg)
{
	struct epoll_event ev[EVENTS_MAX];
	sigset_t saved;
	int fd = (int)(intptr_t)arg;
	int n;

	for (;;) {
		n = epoll_wait(fd, ev, EVENTS_MAX, -1);
		if (n < 0 && errno != EINTR)
			return NULL;
		cw__table_lock(&saved);
		ready_handle(ev, n > 0 ? n : 0);
		cw__table_unlock(&saved);
	}
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
		.data.u64 = (uint64_t)c->gen << 32 | (uint32_t)c->pid,
	};
	int fd;

	if (!epoll_ready())
		goto fallback;
	fd = cw__sys_pidfd_open(c->pid);
	if (fd < 0)
		goto fallback;
	fd = cw__fd_park(fd);
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		cw__sys_close(fd);
		goto fallback;
	}
	c->pidfd = fd;
	cw__table_watched(c);
	return;
fallback:
	cw__strategy_threaded.watch(c);
}

static void pidfd_unwatch(struct cw__child *c)
{
	if (c->pidfd >= 0) {
		cw__sys_close(c->pidfd);
		c->pidfd = -1;
	}
}

static void pidfd_collect(void)
{
	struct epoll_event ev[EVENTS_MAX];
	int n;

	if (epoll_fd < 0)
		return;
	do {
		n = epoll_wait(epoll_fd, ev, EVENTS_MAX, 0);
		if (n > 0)
			ready_handle(ev, n);
	} while (n == EVENTS_MAX);
}

/*
 * The parent's epoll instance is shared with it: let go. Its pidfds are
 * left open, close-on-exec: closing thousands of them one by one would
 * delay every forked child by milliseconds.
 */
static void pidfd_forked(void)
{
	if (epoll_fd >= 0)
		cw__sys_close(epoll_fd);
	epoll_fd = -1;
	thread_running = false;
}

const struct cw__strategy cw__strategy_pidfd = {
	.watch = pidfd_watch,
	.unwatch = pidfd_unwatch,
	.collect = pidfd_collect,
	.forked = pidfd_forked,
	.sigchld_driven = false,
};
