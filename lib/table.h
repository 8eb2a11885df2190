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
#include "trace.h"

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
	struct cw__caller spawned, taken;
	struct cw__wait_args taken_args;
	pid_t taken_tid;
	bool theft_traced; /* one theft-averted event per child */
	/* CHILD_CONSUMED by another component's wait for this pid: kept for
	 * the creating component's wait alone. */
	bool for_creator;
	/* Exited while SIGCHLD was not ignored: a wait for any child may
	 * still take it once the program ignores SIGCHLD, as the kernel's. */
	bool kept_zombie;
};

struct cw__list {
	struct cw__child *head, *tail;
	size_t len;
};

struct cw__table {
	pthread_mutex_t lock;
	/* Bumped on every change a blocked wait may care about; futex word. */
	_Atomic uint32_t seq;
	atomic_uint sleepers; /* threads asleep on seq */
	/* An eventfd written on every change while fd_sleepers sleep on it
	 * (with pidfds, in one epoll), or -1. */
	_Atomic int wake_fd;
	atomic_uint fd_sleepers;
	struct cw__child **buckets;
	size_t nbuckets;
	struct cw__list running, ready, records;
	struct cw__child *free;
	uint32_t next_gen;
	size_t program_children; /* the program's, not yet consumed */
	size_t unwatched;	 /* running children no watcher reports */
	/* The thread that created every child so far, until a second one
	 * does: waits for any child then follow the kernel's per-thread
	 * order. */
	pid_t one_creator;
	bool many_creators;
	/* Creations between the kernel's and our table's knowing of a pid. */
	atomic_int creating;
};

extern struct cw__table cw__table;

/*
 * The lock is taken with every signal blocked: the program's SIGCHLD
 * handler may call waitpid(), and that must not find the lock held by the
 * very thread it interrupted.
 */
void cw__table_lock(sigset_t *saved);
void cw__table_unlock(const sigset_t *saved);
/* For fork (locks.c), which has blocked every signal itself. */
void cw__table_fork_take(void);
void cw__table_fork_release(void);

/* Everything below runs with the lock held. */
struct cw__child *cw__table_find(pid_t pid);
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

#define cw__list_for_each_safe(c, tmp, list)                              \
	for ((c) = (list)->head; (c) && ((tmp) = (c)->next, 1); (c) = (tmp))

#endif
