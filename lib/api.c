/* SPDX-License-Identifier: MIT */
/*
 * The public watcher API (childwatch.h) on top of the one reaper: a child
 * given to a watcher changes owner in the table, so that only the
 * watcher's dispatcher thread, which waits for "any child of the watcher",
 * can take its exit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "childwatch.h"
#include "locks.h"
#include "reaper.h"
#include "child.h"
#include "strategy.h"
#include "sys.h"

#define CW_API __attribute__((visibility("default")))

struct handler {
	struct handler *next;
	pid_t pid;
	cw_callback *cb;
	void *arg;
};

struct pending {
	struct pending *next;
	cw_watcher *watcher;
	cw_callback *cb;
	pid_t pid;
	int returncode;
	void *arg;
};

struct cw_loop {
	struct cw_loop *all_next;
	pthread_mutex_t lock;
	struct pending *head, **tail;
	int fd;
};

struct cw_watcher {
	/* Open watchers only. A closed one is kept, never freed, so that
	 * later calls can refuse it, but fork no longer takes its lock. */
	struct cw_watcher *all_next;
	pthread_mutex_t lock; /* taken before the table's, never after */
	struct handler *handlers;
	cw_loop *loop;
	pthread_t thread;
	bool thread_running;
	atomic_bool closing;
};

CW_HOT static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static cw_watcher *current;
/* Every watcher and loop, for fork; taken after current_lock. */
CW_HOT static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static cw_watcher *all_watchers;
static cw_loop *all_loops;

/* Fork takes the API's locks in their order: current_lock, all_lock, each
 * watcher's, each loop's. */
static void api_take(void)
{
	pthread_mutex_lock(&current_lock);
	pthread_mutex_lock(&all_lock);
	for (cw_watcher *w = all_watchers; w; w = w->all_next)
		pthread_mutex_lock(&w->lock);
	for (cw_loop *l = all_loops; l; l = l->all_next)
		pthread_mutex_lock(&l->lock);
}

static void api_release(void)
{
	for (cw_loop *l = all_loops; l; l = l->all_next)
		pthread_mutex_unlock(&l->lock);
	for (cw_watcher *w = all_watchers; w; w = w->all_next)
		pthread_mutex_unlock(&w->lock);
	pthread_mutex_unlock(&all_lock);
	pthread_mutex_unlock(&current_lock);
}

/* No dispatcher thread crosses fork: cw_close() in the child must not
 * join one, and the next handler added starts one of the child's own. */
CW_CHILD_CODE static void api_reset(void)
{
	cw__mutex_reset(&current_lock);
	cw__mutex_reset(&all_lock);
	for (cw_watcher *w = all_watchers; w; w = w->all_next) {
		cw__mutex_reset(&w->lock);
		w->thread_running = false;
	}
	for (cw_loop *l = all_loops; l; l = l->all_next)
		cw__mutex_reset(&l->lock);
}

static void api_register(void)
{
	static const struct cw__lock_ops locks = {
		.take = api_take,
		.release = api_release,
		.reset = api_reset,
	};

	cw__locks_register(CW_LOCK_API, &locks);
}

static void api_start(void)
{
	static pthread_once_t registered = PTHREAD_ONCE_INIT;

	pthread_once(&registered, api_register);
}

static int returncode_of(const siginfo_t *si)
{
	return si->si_code == CLD_EXITED ? si->si_status : -si->si_status;
}

static struct handler **handler_find(cw_watcher *w, pid_t pid)
{
	struct handler **pp = &w->handlers;

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static void loop_push(cw_loop *loop, struct pending *p)
{
	uint64_t one = 1;

	pthread_mutex_lock(&loop->lock);
	p->next = NULL;
	*loop->tail = p;
	loop->tail = &p->next;
	pthread_mutex_unlock(&loop->lock);
	if (write(loop->fd, &one, sizeof one) < 0) {
		/* The counter is saturated: it is readable anyway. */
	}
}

/* Runs (or queues) the handler for pid once, and forgets it. */
static void handler_fire(cw_watcher *w, pid_t pid, int returncode)
{
	struct handler **pp, *h;
	struct pending *p = NULL;

	pthread_mutex_lock(&w->lock);
	pp = handler_find(w, pid);
	h = *pp;
	if (h) {
		*pp = h->next;
		if (w->loop && (p = malloc(sizeof *p))) {
			*p = (struct pending){ NULL, w, h->cb, pid, returncode,
					       h->arg };
			loop_push(w->loop, p);
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (h && !p)
		h->cb(pid, returncode, h->arg);
	free(h);
}

/* The exit of one of w's children, if one has come: its pid, or 0. Each
 * is asked for by pid, so that the program's children are left to the
 * program's own waits. */
static pid_t dispatch_one(cw_watcher *w, siginfo_t *si)
{
	struct handler *h;
	pid_t pid = 0;

	pthread_mutex_lock(&w->lock);
	for (h = w->handlers; h && !pid; h = h->next) {
		struct cw__wait wt = {
			.idtype = P_PID,
			.id = h->pid,
			.options = WEXITED | WNOHANG,
			.as = CW_OWNER_WATCHER,
			.by = { "cw_watcher", NULL },
			.args = { .waitid = true, .idtype = P_PID, .id = h->pid,
				  .options = WEXITED | WNOHANG },
		};

		if (cw__wait(&wt) > 0) {
			pid = h->pid;
			*si = wt.si;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return pid;
}

static void *dispatcher(void *arg)
{
	struct cw__wait any = {
		.idtype = P_ALL,
		.options = WEXITED,
		.as = CW_OWNER_WATCHER,
	};
	cw_watcher *w = arg;

	for (;;) {
		/* Read before looking at anything, closing included, so
		 * that no change slips between: cw_close sets closing, then
		 * bumps seq. */
		uint32_t seq = cw__table_seq();
		siginfo_t si;
		pid_t pid;

		if (atomic_load(&w->closing))
			break;
		pid = dispatch_one(w, &si);
		if (pid > 0)
			handler_fire(w, pid, returncode_of(&si));
		else if (cw__strategy->sigchld_driven)
			/* SIGCHLD may never come: every thread of the
			 * program may block it, and ours block every
			 * signal. */
			cw__wait_sleep(&any, seq);
		else
			cw__table_sleep(seq, -1);
	}
	return NULL;
}

static int dispatcher_start(cw_watcher *w)
{
	sigset_t saved;
	int r;

	if (w->thread_running)
		return 0;
	/* The thread inherits the mask: it must never take the program's
	 * signals. */
	cw__signals_block(&saved);
	r = pthread_create(&w->thread, NULL, dispatcher, w);
	cw__signals_restore(&saved);
	w->thread_running = r == 0;
	return -r;
}

CW_API cw_watcher *cw_watcher_new(const char *mode)
{
	enum cw__mode asked;
	cw_watcher *w;

	if (cw__reaper_starter)
		cw__reaper_starter();
	if (!cw__reaper_mediating()) {
		errno = ENOTSUP;
		return NULL;
	}
	/* pidfd refused by the kernel runs as threaded: either name fits. */
	if (mode && (cw__mode_parse(mode, &asked) < 0 ||
		     (asked != cw__reaper_mode &&
		      asked != cw__reaper_mode_asked))) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	api_start();
	pthread_mutex_lock(&all_lock);
	w->all_next = all_watchers;
	all_watchers = w;
	pthread_mutex_unlock(&all_lock);
	return w;
}

/* Gives c to w; a status a wait for any child took first is handed over
 * as if it had just arrived. Table locked. */
static int child_take_over(pid_t pid, int *consumed_rc)
{
	struct cw__child *c = cw__table_find(pid);
	siginfo_t si;

	if (!c) {
		/* A child the shim never saw created is adopted, if it is
		 * one. */
		if (cw__sys_waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT,
				   NULL) < 0)
			return -ECHILD;
		c = cw__table_add(pid, CW_OWNER_PROGRAM, 0);
		if (!c)
			return -ENOMEM;
	}
	if (c->owner == CW_OWNER_COMMAND)
		return -ECHILD;
	/* Reaped behind the shim's back (a raw wait4): no longer a child. */
	if (c->state == CHILD_RUNNING || c->state == CHILD_EXITED) {
		if (cw__sys_waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT,
				   NULL) < 0) {
			cw__child_vanished(c);
			return -ECHILD;
		}
	}
	if (c->state == CHILD_CONSUMED) {
		*consumed_rc = c->code == CLD_EXITED ? c->status : -c->status;
		cw__table_remove(c);
		return 0;
	}
	cw__table_own(c, CW_OWNER_WATCHER);
	/* The dispatcher sleeps until a watcher reports the exit: armed here,
	 * where the program called the API, never in a fork. */
	if (c->state == CHILD_RUNNING && !c->watched)
		cw__strategy->watch(c);
	return 0;
}

CW_API int cw_add_child_handler(cw_watcher *w, pid_t pid, cw_callback *cb,
				void *arg)
{
	int consumed_rc = INT32_MIN;
	struct handler **pp, *h;
	sigset_t saved;
	int r = 0;

	if (!w || !cb || pid <= 0)
		return -EINVAL;
	if (atomic_load(&w->closing))
		return -EBADF;
	pthread_mutex_lock(&w->lock);
	/* Closed since: cw_close's dispatcher must be the last. */
	if (atomic_load(&w->closing)) {
		r = -EBADF;
		goto out_unlock;
	}
	pp = handler_find(w, pid);
	if (*pp) {
		(*pp)->cb = cb;
		(*pp)->arg = arg;
		goto out_unlock;
	}
	h = malloc(sizeof *h);
	if (!h) {
		r = -ENOMEM;
		goto out_unlock;
	}
	cw__table_lock(&saved);
	r = child_take_over(pid, &consumed_rc);
	cw__table_unlock(&saved);
	if (r < 0) {
		free(h);
		goto out_unlock;
	}
	*h = (struct handler){ w->handlers, pid, cb, arg };
	w->handlers = h;
	r = dispatcher_start(w);
out_unlock:
	pthread_mutex_unlock(&w->lock);
	if (consumed_rc != INT32_MIN)
		handler_fire(w, pid, consumed_rc);
	return r;
}

/* The child goes back to the program's own waits. w locked. */
static void child_give_back(pid_t pid)
{
	struct cw__child *c;
	sigset_t saved;

	cw__table_lock(&saved);
	c = cw__table_find(pid);
	if (c && c->owner == CW_OWNER_WATCHER) {
		cw__table_own(c, CW_OWNER_PROGRAM);
		/* The program's own waits need no watcher. */
		if (c->state == CHILD_RUNNING)
			cw__strategy->unwatch(c);
	}
	cw__table_unlock(&saved);
}

CW_API int cw_remove_child_handler(cw_watcher *w, pid_t pid)
{
	struct handler **pp, *h;

	if (!w || atomic_load(&w->closing))
		return 0;
	pthread_mutex_lock(&w->lock);
	pp = handler_find(w, pid);
	h = *pp;
	if (h) {
		*pp = h->next;
		child_give_back(pid);
	}
	pthread_mutex_unlock(&w->lock);
	free(h);
	return h != NULL;
}

CW_API int cw_attach_loop(cw_watcher *w, cw_loop *loop)
{
	if (!w)
		return -EINVAL;
	if (atomic_load(&w->closing))
		return -EBADF;
	pthread_mutex_lock(&w->lock);
	w->loop = loop;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

/* No callback of w may run once cw_close returns. */
static void loop_forget(cw_loop *loop, cw_watcher *w)
{
	struct pending **pp, *p;

	pthread_mutex_lock(&loop->lock);
	for (pp = &loop->head; (p = *pp);) {
		if (p->watcher == w) {
			*pp = p->next;
			free(p);
		} else {
			pp = &p->next;
		}
	}
	loop->tail = pp;
	pthread_mutex_unlock(&loop->lock);
}

CW_API void cw_close(cw_watcher *w)
{
	struct handler *h, *next;
	cw_watcher **pp;
	bool running;

	if (!w || atomic_exchange(&w->closing, true))
		return;
	cw__table_changed();
	/* An add in flight finishes first; any later one sees closing. */
	pthread_mutex_lock(&w->lock);
	running = w->thread_running;
	w->thread_running = false;
	pthread_mutex_unlock(&w->lock);
	if (running)
		pthread_join(w->thread, NULL);
	pthread_mutex_lock(&w->lock);
	for (h = w->handlers; h; h = next) {
		next = h->next;
		child_give_back(h->pid);
		free(h);
	}
	w->handlers = NULL;
	if (w->loop)
		loop_forget(w->loop, w);
	w->loop = NULL;
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_lock(&current_lock);
	if (current == w)
		current = NULL;
	pthread_mutex_unlock(&current_lock);
	pthread_mutex_lock(&all_lock);
	for (pp = &all_watchers; *pp != w; pp = &(*pp)->all_next)
		;
	*pp = w->all_next;
	pthread_mutex_unlock(&all_lock);
}

CW_API cw_watcher *cw_get_child_watcher(void)
{
	cw_watcher *w;

	pthread_mutex_lock(&current_lock);
	if (!current)
		current = cw_watcher_new(NULL);
	w = current;
	pthread_mutex_unlock(&current_lock);
	return w;
}

CW_API int cw_set_child_watcher(cw_watcher *w)
{
	if (w && atomic_load(&w->closing))
		return -EBADF;
	pthread_mutex_lock(&current_lock);
	current = w;
	pthread_mutex_unlock(&current_lock);
	return 0;
}

CW_API cw_loop *cw_loop_new(void)
{
	cw_loop *loop = calloc(1, sizeof *loop);

	if (!loop)
		return NULL;
	loop->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->fd >= 0)
		loop->fd = cw__fd_park(loop->fd);
	else
		loop->fd = -errno;
	if (loop->fd < 0) {
		errno = -loop->fd;
		free(loop);
		return NULL;
	}
	pthread_mutex_init(&loop->lock, NULL);
	loop->tail = &loop->head;
	api_start();
	pthread_mutex_lock(&all_lock);
	loop->all_next = all_loops;
	all_loops = loop;
	pthread_mutex_unlock(&all_lock);
	return loop;
}

CW_API int cw_loop_fd(cw_loop *loop)
{
	return loop->fd;
}

CW_API int cw_loop_dispatch(cw_loop *loop)
{
	struct pending *p, *next;
	uint64_t count;
	int n = 0;

	pthread_mutex_lock(&loop->lock);
	p = loop->head;
	loop->head = NULL;
	loop->tail = &loop->head;
	if (read(loop->fd, &count, sizeof count) < 0) {
		/* Nothing was pending: EAGAIN. */
	}
	pthread_mutex_unlock(&loop->lock);
	for (; p; p = next, n++) {
		next = p->next;
		p->cb(p->pid, p->returncode, p->arg);
		free(p);
	}
	return n;
}

CW_API void cw_loop_free(cw_loop *loop)
{
	struct pending *p, *next;
	cw_loop **pp;

	if (!loop)
		return;
	pthread_mutex_lock(&all_lock);
	for (pp = &all_loops; *pp != loop; pp = &(*pp)->all_next)
		;
	*pp = loop->all_next;
	pthread_mutex_unlock(&all_lock);
	for (p = loop->head; p; p = next) {
		next = p->next;
		free(p);
	}
	cw__sys_close(loop->fd);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}
