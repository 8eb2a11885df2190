/* SPDX-License-Identifier: MIT */
/*
 * Two slots hold the program's disposition. A writer (under the lock)
 * fills the one that is not current, then makes it current. Nobody waits:
 * a reader copies the current slot and starts again if a later generation
 * became current meanwhile, for the slot may then have been written under
 * it. A writer must not wait for readers either: the one still copying
 * may be a handler its own handler interrupted (the relay, interrupted by
 * a handler that called sigaction twice, each time with a new generation,
 * waited forever for itself). The slots are copied a word at a time with
 * relaxed atomics, and current orders them, as in a seqlock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "disposition.h"
#include "locks.h"
#include "sys.h"

#define WORDS (sizeof(struct sigaction) / sizeof(unsigned long))
_Static_assert(sizeof(struct sigaction) % sizeof(unsigned long) == 0,
	       "a sigaction is a whole number of words");

/* A sigaction as words, without memcpy (a vfork child may read). */
union words {
	struct sigaction act;
	unsigned long w[WORDS];
};

CW_HOT static _Atomic unsigned long slots[2][WORDS];
/* generation << 1 | RESET: slots[generation & 1] is current, and RESET
 * says SA_RESETHAND has made it SIG_DFL since. */
CW_HOT static atomic_uint current;
#define RESET 1u
CW_HOT static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * The process whose memory this is. gdb's vforked inferior restores the
 * dispositions gdb started with (SIGCHLD at SIG_DFL) before its exec: had
 * it written here, the relay would have stopped calling gdb's handler,
 * which is how gdb learns of ptrace stops, and gdb slept in poll forever.
 *
 * A forked child does not write its pid here until it needs the store: a
 * write in every child would copy this page in every child. Most exec or
 * exit without touching SIGCHLD, and most that touch it (bash's, libuv's,
 * setting SIG_DFL) need only the kernel's disposition changed.
 */
CW_HOT static atomic_int owner;

CW_CHILD_CODE static void slot_write(unsigned slot,
				     const struct sigaction *act)
{
	union words u = { .act = *act };

	/* A reader that sees a word of it then sees the generation that
	 * made this slot not current (the one before this write). */
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < WORDS; i++)
		atomic_store_explicit(&slots[slot][i], u.w[i],
				      memory_order_relaxed);
}

CW_CHILD_CODE CW_RAW_HANDLER struct sigaction
cw__disposition_read(unsigned *gen)
{
	union words u;

	do {
		unsigned slot;

		*gen = atomic_load(&current);
		slot = *gen >> 1 & 1;
		for (size_t i = 0; i < WORDS; i++)
			u.w[i] = atomic_load_explicit(&slots[slot][i],
						      memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
	} while (atomic_load_explicit(&current, memory_order_relaxed) >> 1 !=
		 *gen >> 1);
	if (*gen & RESET)
		u.act.sa_handler = SIG_DFL;
	return u.act;
}

CW_CHILD_CODE CW_RAW_HANDLER bool cw__disposition_current(unsigned gen)
{
	return atomic_load(&current) == gen;
}

CW_RAW_HANDLER bool cw__disposition_reset(unsigned gen)
{
	return atomic_compare_exchange_strong(&current, &gen, gen | RESET);
}

CW_CHILD_CODE void cw__disposition_lock(sigset_t *saved)
{
	cw__signals_block(saved);
	pthread_mutex_lock(&lock);
}

CW_CHILD_CODE void cw__disposition_unlock(const sigset_t *saved)
{
	pthread_mutex_unlock(&lock);
	cw__signals_restore(saved);
}

CW_CHILD_CODE unsigned cw__disposition_swap(const struct sigaction *act,
					    struct sigaction *old)
{
	unsigned cur = atomic_load(&current), next = (cur >> 1) + 1;

	if (act)
		slot_write(next & 1, act);
	/* Only a reader's RESET can change current under us: retried, so
	 * that *old is what the program had when act replaced it. */
	do
		if (old)
			*old = cw__disposition_read(&cur);
	while (act && !atomic_compare_exchange_strong(&current, &cur,
						      next << 1));
	return cur;
}

void cw__disposition_undo(unsigned was)
{
	unsigned next = atomic_load(&current) >> 1;

	atomic_store(&current, (next + 1) << 1 | (was & RESET));
}

CW_PARENT_CODE void cw__disposition_init(const struct sigaction *inherited)
{
	static const struct cw__lock_ops locks = { .mutex = &lock };

	atomic_store(&owner, getpid());
	cw__locks_register(CW_LOCK_SIGCHLD, &locks);
	slot_write(0, inherited);
}

CW_CHILD_CODE bool cw__disposition_borrowed(void)
{
	pid_t self = getpid();
	pid_t was = atomic_load(&owner);
	bool shared;

	if (self == was)
		return false;
	/* A child that has not asked yet, however it was made: a vfork
	 * child shares its parent's memory, a forked one has its own. The
	 * parent, not the owner: the owner may be a grandparent, for a
	 * forked child that never asked and then vforked. Where kcmp is
	 * refused, take the memory as our own. */
	shared = cw__sys_same_memory(self, cw__sys_getppid());
	if (!shared)
		atomic_store(&owner, self);
	return shared;
}
