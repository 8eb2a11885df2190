/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>

#include "reaper.h"
#include "real.h"

/* vfork itself is in vfork.S; these are its halves that may be C. */

void cw__vfork_begin(void);
pid_t cw__vfork_end(long r);

__attribute__((visibility("hidden"))) void cw__vfork_begin(void)
{
	if (!cw__shim_off())
		cw__child_creating();
}

__attribute__((visibility("hidden"))) pid_t cw__vfork_end(long r)
{
	int saved_errno = errno;

	if (cw__shim_mode != CW_MODE_OFF)
		cw__child_created(r > 0 ? r : -1, CW_OWNER_PROGRAM);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	errno = saved_errno;
	return r;
}

#if !defined(__x86_64__) && !defined(__aarch64__)
/* Elsewhere vfork is fork, as POSIX allows: slower, never wrong. */
CW_EXPORT pid_t vfork(void)
{
	return fork();
}
#endif
