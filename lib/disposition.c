/* SPDX-License-Identifier: MIT */
/*
 * Two slots hold the program's disposition. A writer fills the one that is
 * not current, once no reader is copying from it, then makes it current. A
 * reader never waits for anything (it may have interrupted another
 * reader's copy on the same thread): it announces itself on its slot, and
 * starts again if that slot stopped being current meanwhile.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "disposition.h"
#include "locks.h"
#include "sys.h"

CW_HOT static struct sigaction slots[2];
CW_HOT static atomic_uint copying[2];
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
 */
CW_HOT static atomic_int owner;

CW_RAW_HANDLER struct sigaction cw__disposition_read(unsigned *gen)
{
	struct sigaction act;
	unsigned slot;

	for (;;) {
		slot = atomic_load(&current) >> 1 & 1;
		atomic_fetch_add(&copying[slot], 1);
		*gen = atomic_load(&current);
		if ((*gen >> 1 & 1) == slot)
			break;
		atomic_fetch_sub(&copying[slot], 1);
	}
	act = slots[slot];
	atomic_fetch_sub(&copying[slot], 1);
	if (*gen & RESET)
		act.sa_handler = SIG_DFL;
	return act;
}

CW_RAW_HANDLER bool cw__disposition_current(unsigned gen)
{
	return atomic_load(&current) == gen;
}

CW_RAW_HANDLER bool cw__disposition_reset(unsigned gen)
{
	return atomic_compare_exchange_strong(&current, &gen, gen | RESET);
}

void cw__disposition_lock(sigset_t *saved)
{
	cw__signals_block(saved);
	pthread_mutex_lock(&lock);
}

void cw__disposition_unlock(const sigset_t *saved)
{
	pthread_mutex_unlock(&lock);
	cw__signals_restore(saved);
}

unsigned cw__disposition_swap(const struct sigaction *act,
			      struct sigaction *old)
{
	unsigned cur = atomic_load(&current), next = (cur >> 1) + 1;

	if (act) {
		/* Readers still copying it are on other threads, and leave. */
		while (atomic_load(&copying[next & 1]))
			sched_yield();
		slots[next & 1] = *act;
	}
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

/* A child has one thread: no reader of the others is copying any more. */
CW_CHILD_CODE static void owner_forked(void)
{
	atomic_store(&owner, getpid());
	for (int i = 0; i < 2; i++)
		if (atomic_load(&copying[i]))
			atomic_store(&copying[i], 0);
}

void cw__disposition_init(const struct sigaction *inherited)
{
	static const struct cw__lock_ops locks = {
		.mutex = &lock,
		.reset = owner_forked,
	};

	atomic_store(&owner, getpid());
	cw__locks_register(CW_LOCK_SIGCHLD, &locks);
	slots[0] = *inherited;
}

bool cw__disposition_borrowed(void)
{
	pid_t self = getpid();
	pid_t was = atomic_load(&owner);
	bool shared;

	if (self == was)
		return false;
	/* fork's handler renamed the owner already; only a child made
	 * without it (_Fork, a raw clone) gets here with memory of its own.
	 * Where kcmp is refused, take the memory as our own. */
	shared = cw__sys_same_memory(self, was);
	if (!shared)
		owner_forked();
	return shared;
}
