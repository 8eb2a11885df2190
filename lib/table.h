/* SPDX-License-Identifier: MIT */
#ifndef CW_TABLE_H
#define CW_TABLE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sys.h"
#include "caller.h"

/* Whose child it is: only the owner's waits may see it. */
enum cw__owner {
	CW_OWNER_PROGRAM,
	CW_OWNER_COMMAND, /* system() and popen(): their own wait only */
	CW_OWNER_WATCHER, /* given to a cw_watcher: its dispatcher only */
};

enum cw__state {
	CHILD_RUNNING,	 /* no exit seen yet (stops are left in the kernel) */
	CHILD_EXITED,	 /* a zombie: the kernel holds its status and its pid */
	CHILD_COLLECTED, /* reaped by the watcher; the status is kept here */
	CHILD_CONSUMED,	 /* a wait took it; kept for one late wait for this
			    very pid (see for_creator) */
};

struct cw__child {
	struct cw__child *hash_next;
	struct cw__child *prev, *next; /* in the list of its state */
	pid_t pid;
	pthread_t creator; /* for __WNOTHREAD; 0 for an adopted child */
	pid_t creator_tid; /* the kernel's parent thread, for waits' order */
	pid_t pgid;    /* at collection: getpgid() fails once it is reaped */
	uint32_t gen;  /* tells a reused pid's entry from the old one */
	unsigned char owner, state;
	bool watched;	       /* a watcher will report the exit */
	int pidfd;	       /* pidfd mode's descriptor, or -1 */
	int program_pidfd;     /* the program's last pidfd_open() of it, or -1 */
	int wait_fd;	       /* a pidfd for waits blocked behind others' */
	int specific_waiters;  /* waits for this pid, which go first */
	int code, status, uid; /* siginfo of the exit, once collected */
	struct rusage ru;
	/* For the trace: who created it; who consumed it (CHILD_CONSUMED). */
	struct cw__caller spawned;
	struct cw__consumer taken;
	bool theft_traced; /* one theft-averted event per child */
	/* CHILD_CONSUMED by another component's wait for this pid: kept for
	 * the creating component's wait alone. */
	bool for_creator;
	/* Exited while SIGCHLD was not ignored: a wait for any child may
	 * still take it once the program ignores SIGCHLD, as the kernel's. */
	bool kept_zombie;
};


/*
 * The lock is taken with every signal blocked: the program's SIGCHLD
 * handler may call waitpid(), and that must not find the lock held by the
 * very thread it interrupted.
 */
void cw__table_lock(sigset_t *saved);
void cw__table_unlock(const sigset_t *saved);
/* For a caller that has blocked every signal itself: fork's (locks.c). */
void cw__table_masked_lock(void);
void cw__table_masked_unlock(void);

/* Everything below runs with the lock held, except where it says. */
struct cw__child *cw__table_find(pid_t pid);
/* The table's lists, each oldest first: the running children; those that
 * exited (CHILD_EXITED, CHILD_COLLECTED); records (CHILD_CONSUMED). */
struct cw__child *cw__table_running_first(void);
struct cw__child *cw__table_ready_first(void);
struct cw__child *cw__table_records_first(void);
/* Whether the table has children not consumed yet, whether the program
 * has, and whether the table holds no exit (the ready list is empty): all
 * three without the lock too, as a snapshot. Whether some running child
 * has no watcher to report its exit. */
bool cw__table_children(void);
bool cw__table_program_children(void);
bool cw__table_ready_none(void);
bool cw__table_unwatched_any(void);
/* c was created by the calling thread; whether children so far came from
 * more than one thread (waits for any child then follow the kernel's
 * per-thread order). */
void cw__table_creator(struct cw__child *c);
bool cw__table_many_creators(void);

/* Creations between the kernel's and the table's knowing of a pid, counted
 * without the lock: a handler's fork may come at any time. _end says
 * whether it was the last one under way. */
void cw__table_creating_begin(void);
bool cw__table_creating_end(void);
bool cw__table_creating(void);
/* A child's pid and generation in one word, for a watcher to carry
 * (an epoll event, a thread's argument); and the running child it names,
 * or NULL once that child has left or its pid serves another. */
uint64_t cw__table_key(const struct cw__child *c);
struct cw__child *cw__table_running(uint64_t key);
/* NULL when memory ran out. A stale entry for the same pid is dropped.
 * Waiters are not woken: the caller does, once the child is ready. */
struct cw__child *cw__table_add(pid_t pid, enum cw__owner owner,
				pthread_t creator);
void cw__table_move(struct cw__child *c, enum cw__state state);
void cw__table_remove(struct cw__child *c);
/* c changes hands (a handler is added to or removed from a watcher). */
void cw__table_own(struct cw__child *c, enum cw__owner owner);
/* A watcher took charge of reporting c's exit, or lost it. */
void cw__table_watched(struct cw__child *c);
void cw__table_unwatched(struct cw__child *c);

/* Wake every blocked wait to look again. Async-signal-safe, lock-free. */
CW_RAW_HANDLER void cw__table_changed(void);
/* The count of changes, read before looking, to sleep on. Lock-free. */
uint32_t cw__table_seq(void);
/* Sleep until seq moves on from the value read before looking (or
 * timeout_ms passes; < 0: no limit). Without the lock. 0 or -errno. */
int cw__table_sleep(uint32_t seq, int timeout_ms);

/* The table's wake descriptor, made on first use; -errno. Locked. */
int cw__table_wake_fd(void);
/* cw__table_sleep() on epoll instance ep, which holds the wake descriptor
 * among others: until one is ready or seq moves on. Without the lock. */
int cw__table_sleep_fd(int ep, uint32_t seq);

/* In a forked child: the parent's children are not ours. */
void cw__table_reset(void);

/* From first on, where the body may remove c. */
#define cw__for_each_safe(c, tmp, first)                                  \
	for ((c) = (first); (c) && ((tmp) = (c)->next, 1); (c) = (tmp))

#endif
