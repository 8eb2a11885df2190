/* SPDX-License-Identifier: MIT */
#ifndef CHILDWATCH_H
#define CHILDWATCH_H

/*
 * childwatch: asyncio's child-watcher interface in C.
 *
 * A watcher calls a handler once for each child it is given, with the
 * child's return code, however the child ends and whoever else in the
 * process waits for children. There is one reaper per process: every
 * watcher uses the mode the process runs in (CHILDWATCH_MODE, pidfd by
 * default), and the same library serves preloaded (LD_PRELOAD) and linked
 * (-lchildwatch) programs. See childwatch(3).
 */

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_watcher cw_watcher;
typedef struct cw_loop cw_loop;

/*
 * returncode: the exit code, or -N when signal N killed the child
 * (asyncio's rule); 255 when its status could not be had because it was
 * reaped outside every interposed path. Runs on the watcher's own thread,
 * or in cw_loop_dispatch() when a loop is attached: it must be thread-safe.
 */
typedef void cw_callback(pid_t pid, int returncode, void *arg);

/* "safe" "fast" "threaded" "pidfd", or NULL for the process's mode. NULL
 * with errno set on failure: EINVAL for a mode that is not a mode or not
 * the one the process runs in, ENOTSUP when the process runs with "off". */
cw_watcher *cw_watcher_new(const char *mode);

/* Call cb(pid, returncode, arg) once pid exits, even if it already has.
 * A second call for the same pid replaces the first. 0, or -ECHILD when pid
 * is not a child of this process, -EBADF when w is closed, -EINVAL for a
 * NULL w or cb. */
int cw_add_child_handler(cw_watcher *w, pid_t pid, cw_callback *cb,
			 void *arg);

/* 1 when a handler was removed, 0 when pid had none. */
int cw_remove_child_handler(cw_watcher *w, pid_t pid);

/* Run the callbacks through loop (NULL: on the watcher's own thread).
 * Attaching again first detaches; callbacks already queued on the old loop
 * stay there. 0, -EINVAL for a NULL w, or -EBADF when w is closed. */
int cw_attach_loop(cw_watcher *w, cw_loop *loop);

/* Stops the watcher: no callback runs after it returns, and its thread is
 * gone. Children with handlers go back to the program's own waits. The
 * watcher's few bytes are never freed, so that later calls with it are
 * refused rather than undefined; closing again does nothing. */
void cw_close(cw_watcher *w);

/* The process-wide watcher, made on first use in the process's mode. */
cw_watcher *cw_get_child_watcher(void);
/* Makes w the process-wide watcher (NULL: none); 0, or -EBADF when w is
 * closed. */
int cw_set_child_watcher(cw_watcher *w);

/* A loop is a queue of callbacks plus a descriptor that is readable while
 * the queue is not empty. NULL with errno set on failure. */
cw_loop *cw_loop_new(void);
/* Readable when callbacks are pending: add it to poll/epoll/your loop. */
int cw_loop_fd(cw_loop *loop);
/* Runs the pending callbacks in the calling thread; returns how many ran. */
int cw_loop_dispatch(cw_loop *loop);
/* Frees the loop; detach it from every watcher first. */
void cw_loop_free(cw_loop *loop);

#ifdef __cplusplus
}
#endif

#endif
