/* SPDX-License-Identifier: MIT */
#ifndef CW_DISPOSITION_H
#define CW_DISPOSITION_H

/*
 * SIGCHLD's disposition as the program sees it, kept apart from the one
 * the kernel holds (the shim's relay may stand in for it). The relay reads
 * it at any moment on any thread: reading is lock-free and async-signal-
 * safe. Writers take the lock, with every signal blocked, so never on a
 * thread a relay interrupted.
 *
 * Each value has a generation: a writer publishes a new one, a relay that
 * ran a SA_RESETHAND handler marks the one it read as reset to SIG_DFL (as
 * the kernel would), and whoever installs the kernel's disposition from a
 * generation checks afterwards that it is still current.
 */

#include <signal.h>
#include <stdbool.h>

/* The program's disposition; *gen gets the generation it is. */
struct sigaction cw__disposition_read(unsigned *gen);
/* Whether gen is still current. */
bool cw__disposition_current(unsigned gen);
/* A SA_RESETHAND handler of generation gen ran: that generation is SIG_DFL
 * from now on. False when gen was no longer current. */
bool cw__disposition_reset(unsigned gen);

void cw__disposition_lock(sigset_t *saved);
void cw__disposition_unlock(const sigset_t *saved);
/* Locked. Publishes act (NULL: none) as the program's disposition; *old
 * (if not NULL) gets the one it replaced. Returns the generation that was
 * current, for cw__disposition_undo(). */
unsigned cw__disposition_swap(const struct sigaction *act,
			      struct sigaction *old);
/* Locked. The kernel refused what the last swap published: the value of
 * generation was back makes current again, untouched. */
void cw__disposition_undo(unsigned was);

/* At start, before any relay can run: what the process inherited. Also
 * registers the lock with fork's. */
void cw__disposition_init(const struct sigaction *inherited);

/*
 * Whether this process runs in memory that belongs to another: a vfork
 * child, until it execs or exits. Whatever it wrote here its parent would
 * read as its own disposition, so such a child sets the kernel's directly,
 * as it would bare, and leaves the store alone.
 */
bool cw__disposition_borrowed(void);

#endif
