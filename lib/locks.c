/* SPDX-License-Identifier: MIT */
/* The shim's locks across fork, in the order of locks.h. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "locks.h"
#include "sys.h"

static const struct cw__lock_ops *_Atomic ranks[CW_LOCK_RANKS];
static cw__once_t handlers_once;
/* The forking thread's mask, while fork holds every lock. */
static sigset_t fork_mask;

static void locks_take(void)
{
	cw__signals_block(&fork_mask);
	for (int i = 0; i < CW_LOCK_RANKS; i++) {
		const struct cw__lock_ops *r = ranks[i];

		if (r && r->mutex)
			pthread_mutex_lock(r->mutex);
		if (r && r->take)
			r->take();
	}
}

static void locks_release(void)
{
	for (int i = CW_LOCK_RANKS - 1; i >= 0; i--) {
		const struct cw__lock_ops *r = ranks[i];

		if (r && r->release)
			r->release();
		if (r && r->mutex)
			pthread_mutex_unlock(r->mutex);
	}
	cw__signals_restore(&fork_mask);
}

void cw__locks_reset_child(void)
{
	for (int i = 0; i < CW_LOCK_RANKS; i++) {
		const struct cw__lock_ops *r = ranks[i];

		if (r && r->mutex)
			pthread_mutex_init(r->mutex, NULL);
		if (r && r->reset)
			r->reset();
	}
}

static void locks_child(void)
{
	cw__locks_reset_child();
	cw__signals_restore(&fork_mask);
}

static void handlers_install(void)
{
	pthread_atfork(locks_take, locks_release, locks_child);
}

void cw__locks_register(enum cw__lock_rank rank,
			const struct cw__lock_ops *ops)
{
	cw__once(&handlers_once, handlers_install);
	atomic_store(&ranks[rank], ops);
}
