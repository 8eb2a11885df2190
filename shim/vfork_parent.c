/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>

#include "reaper.h"
#include "real.h"

/* vfork itself is in vfork.S; these are its halves that may be C. */

void cw__vfork_begin(void);
pid_t cw__vfork_end(long r, const void *site);

/* Both halves ask the same question, of what never changes after start,
 * so that every creation begun is ended. */
CW_PARENT_CODE __attribute__((visibility("hidden"))) void
cw__vfork_begin(void)
{
	if (cw__shim_active())
		cw__child_creating();
}

/* site: where vfork returns to, which only the assembly knows. */
CW_PARENT_CODE __attribute__((visibility("hidden"))) pid_t
cw__vfork_end(long r, const void *site)
{
	const struct cw__caller by = { "vfork", site };
	int saved_errno = errno;

	if (cw__shim_active())
		cw__child_created(r > 0 ? r : -1, CW_OWNER_PROGRAM, &by, NULL);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	cw__errno_restore(saved_errno);
	return r;
}

#if !defined(__x86_64__) && !defined(__aarch64__)
/* Elsewhere vfork is fork, as POSIX allows: slower, never wrong. */
CW_EXPORT pid_t vfork(void)
{
	return fork();
}
#endif
