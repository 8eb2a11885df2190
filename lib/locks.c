/* SPDX-License-Identifier: MIT */
/* The shim's locks across fork, in the order of locks.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/single_threaded.h>

#include "locks.h"
#include "sys.h"

CW_HOT static const struct cw__lock_ops *_Atomic ranks[CW_LOCK_RANKS];
CW_HOT static cw__once_t handlers_once;
/* libc runs the handlers below in every fork: set once, while every lock
 * is held, so that a fork that holds them knows whether it was set. */
CW_HOT static atomic_bool armed;
/*
 * From fork's prepare handler to its parent and child handlers: the
 * forking thread's mask, and whether it took the locks. Per thread, as
 * threads may be in fork at once: glibc runs prepare handlers outside its
 * atfork lock.
 *
 * Each is written only when it changed. Every fork leaves the parent's
 * pages write-protected, so a write of the same value to this thread's
 * TLS page would cost a page fault per fork; a loop that forks keeps the
 * same mask and thread count from one fork to the next.
 */
static CW_TLS sigset_t fork_mask;
/* With one thread and every signal blocked, nobody can hold a lock: taking
 * them would only make the parent write, and so copy, the pages they live
 * on after fork, and the child too. */
static CW_TLS bool fork_locked;
/* The ranks this thread took, one bit each: another thread may register a
 * rank, and take its lock, between our prepare and parent handlers (system()
 * registers on first use), and that lock is not ours to release. */
static CW_TLS unsigned fork_taken;
_Static_assert(CW_LOCK_RANKS <= 8 * sizeof fork_taken, "a bit per rank");

CW_PARENT_CODE static void locks_take(void)
{
	bool locked = !__libc_single_threaded;
	unsigned taken = 0;
	sigset_t mask;

	cw__signals_block(&mask);
	if (!cw__signals_equal(&mask, &fork_mask))
		cw__signals_copy(&fork_mask, &mask);
	if (fork_locked != locked)
		fork_locked = locked;
	for (int i = 0; locked && i < CW_LOCK_RANKS; i++) {
		const struct cw__lock_ops *r = ranks[i];

		if (!r)
			continue;
		if (r->mutex)
			pthread_mutex_lock(r->mutex);
		if (r->take)
			r->take();
		taken |= 1u << i;
	}
	if (fork_taken != taken)
		fork_taken = taken;
}

/* Signals stay blocked: see cw__locks_fork. */
CW_PARENT_CODE static void locks_release_held(void)
{
	for (int i = CW_LOCK_RANKS - 1; i >= 0; i--) {
		const struct cw__lock_ops *r = ranks[i];

		if (!(fork_taken & 1u << i))
			continue;
		if (r->release)
			r->release();
		if (r->mutex)
			pthread_mutex_unlock(r->mutex);
	}
}

CW_PARENT_CODE static void locks_release(void)
{
	locks_release_held();
	cw__signals_restore(&fork_mask);
}

/* locked: whether the parent's locks may be held in the child. */
CW_CHILD_CODE static void reset_child(bool locked)
{
	for (int i = 0; i < CW_LOCK_RANKS; i++) {
		const struct cw__lock_ops *r = ranks[i];

		if (r && r->mutex && locked)
			cw__mutex_reset(r->mutex);
		if (r && r->reset)
			r->reset();
	}
}

/* Another thread may have held any lock as _Fork copied the process. */
CW_CHILD_CODE void cw__locks_reset_child(void)
{
	reset_child(true);
}

CW_CHILD_CODE static void locks_child(void)
{
	reset_child(fork_locked);
	cw__signals_restore(&fork_mask);
}

/*
 * Until armed, the fork interposers run the handlers themselves. A fork
 * that takes the locks before this one does runs with them; one that
 * takes them after finds armed set and leaves them to libc, and none can
 * be between the two while this holds them.
 */
static cw__atfork_register *_Atomic arming_with;

CW_PARENT_CODE static void handlers_install(void)
{
	cw__atfork_register *with = atomic_load(&arming_with);

	locks_take();
	if (with(locks_take, locks_release, locks_child, NULL) == 0)
		atomic_store(&armed, true);
	locks_release();
}

CW_PARENT_CODE void cw__locks_arm(cw__atfork_register *with)
{
	atomic_store(&arming_with, with);
	cw__once(&handlers_once, handlers_install);
}

/* No lock to take: off, with neither a trace nor the C API. */
CW_CHILD_CODE static bool ranks_any(void)
{
	for (int i = 0; i < CW_LOCK_RANKS; i++)
		if (atomic_load(&ranks[i]))
			return true;
	return false;
}

/* fork_fn's pid, to created if there is one; errno as fork_fn left it.
 * Never in the child: the creation it ends was counted in the parent's
 * table, and the child's is empty (a count of -1 there would say no fork
 * is under way while one is). */
static pid_t forked(pid_t pid, bool masked,
		    const struct cw__fork_created *created)
{
	int saved_errno = errno;

	if (created)
		created->fn(pid, masked, created->arg);
	cw__errno_restore(saved_errno);
	return pid;
}

/* The child returns here, on the page of the rest it runs. */
CW_CHILD_CODE pid_t cw__locks_fork(pid_t (*fork_fn)(void),
				   const struct cw__fork_created *created)
{
	pid_t pid;

	if (atomic_load(&armed)) {
		pid = fork_fn();
		return pid == 0 ? 0 : forked(pid, false, created);
	}
	if (!ranks_any()) {
		pid = fork_fn();
		/* A rank registered meanwhile may have been taken. */
		if (pid == 0 && ranks_any())
			cw__locks_reset_child();
		return pid == 0 ? 0 : forked(pid, false, created);
	}
	locks_take();
	if (atomic_load(&armed)) {
		locks_release();
		pid = fork_fn();
		return pid == 0 ? 0 : forked(pid, false, created);
	}
	pid = fork_fn();
	if (pid == 0) {
		locks_child();
		return 0;
	}
	locks_release_held();
	pid = forked(pid, true, created);
	cw__signals_restore(&fork_mask);
	return pid;
}

CW_PARENT_CODE void cw__locks_register(enum cw__lock_rank rank,
				       const struct cw__lock_ops *ops)
{
	atomic_store(&ranks[rank], ops);
}
