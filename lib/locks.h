/* SPDX-License-Identifier: MIT */
#ifndef CW_LOCKS_H
#define CW_LOCKS_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * Every lock of the shim, in the one order in which they nest: a lock is
 * only ever taken while holding locks of lower rank. fork() takes them all
 * in this order before the kernel copies the process, releases them in
 * the parent and resets them in the child, so that a child never inherits
 * a lock some other thread of its parent held (musl's fork.c does the
 * same with libc's own locks).
 */
enum cw__lock_rank {
	CW_LOCK_API,	 /* the C API: current watcher, watchers, loops */
	CW_LOCK_POPEN,	 /* popen()'s list of streams, held across its spawn */
	CW_LOCK_SYSTEM,	 /* system()'s shared ignoring of SIGINT and SIGQUIT */
	CW_LOCK_SIGCHLD, /* the program's SIGCHLD disposition (safe, fast) */
	CW_LOCK_TABLE,	 /* the child table */
	CW_LOCK_RANKS,
};

/* What fork does with the locks of one rank: a mutex alone, or take and
 * release for several; each runs with every signal blocked in the forking
 * thread. */
struct cw__lock_ops {
	pthread_mutex_t *mutex;
	void (*take)(void);
	void (*release)(void);
	/* In the child, once the mutex is new: the other locks freed, and
	 * the state that belongs to the parent's other threads forgotten. */
	void (*reset)(void);
};

void cw__locks_register(enum cw__lock_rank rank,
			const struct cw__lock_ops *ops);

/* What a fork's parent does with the pid (or -1) before fork returns:
 * masked says every signal is still blocked, as fork left them. */
struct cw__fork_created {
	void (*fn)(pid_t pid, bool masked, const void *arg);
	const void *arg;
};

/*
 * fork_fn (libc's fork), with the locks taken before it and released or
 * reset after, unless libc's own fork handlers already do so. Most
 * processes never fork, and fork handlers registered at start would cost
 * every one of them the pages libc writes to keep them. In the parent,
 * created (if not NULL) runs before the signals open again, so that it
 * needs no mask change of its own.
 */
pid_t cw__locks_fork(pid_t (*fork_fn)(void),
		     const struct cw__fork_created *created);

/* libc's __register_atfork, which pthread_atfork calls. */
typedef int cw__atfork_register(void (*prepare)(void), void (*parent)(void),
				void (*child)(void), void *dso);

/*
 * Registers the fork handlers with libc, once: from then on every fork
 * runs them, the forks libc makes itself (daemon, forkpty) included, and
 * they run before those the program registers after, as they did when
 * registered at start. Not async-signal-safe.
 */
void cw__locks_arm(cw__atfork_register *with);

/*
 * A lock of the parent's, new in the child. An assignment, not
 * pthread_mutex_init(): a libc function the parent never called is bound
 * lazily in every child, and the loader's lookup faults in pages of its own.
 */
static inline void cw__mutex_reset(pthread_mutex_t *m)
{
	*m = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
}

/* _Fork runs no fork handlers: what its child must reset all the same. */
void cw__locks_reset_child(void);

#endif
