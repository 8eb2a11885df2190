/* SPDX-License-Identifier: MIT */
/*
 * Async-signal-safe, as POSIX makes wait, waitpid and waitid: what they
 * call in lib/wait.c takes the table lock only with every signal blocked,
 * sleeps only in the kernel (waitid, futex, epoll), and allocates nothing.
 * waitid(P_PIDFD) reads /proc with open and read, also safe.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "reaper.h"
#include "real.h"

/* The options each call accepts, as the kernel checks them. */
#define WAIT4_OPTIONS \
	(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)
#define WAITID_OPTIONS                                                  \
	(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | \
	 __WCLONE | __WALL)

CW_PARENT_CODE pid_t cw__shim_wait4(pid_t pid, int *status, int options,
				    struct rusage *ru,
				    const struct cw__caller *by)
{
	int saved_errno = errno;
	struct cw__wait w = {
		.options = (options & ~WUNTRACED) | WEXITED |
			   (options & WUNTRACED ? WSTOPPED : 0),
		.as = CW_OWNER_PROGRAM,
		.by = *by,
		.args = { .id = pid, .options = options },
	};
	int r;

	if (options & ~WAIT4_OPTIONS) {
		errno = EINVAL;
		return -1;
	}
	if (pid == INT_MIN) {
		errno = ESRCH;
		return -1;
	}
	if (pid > 0) {
		w.idtype = P_PID;
		w.id = pid;
	} else if (pid == -1) {
		w.idtype = P_ALL;
	} else {
		w.idtype = P_PGID;
		w.id = pid == 0 ? getpgrp() : -pid;
	}
	r = cw__wait(&w);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	if (r > 0) {
		if (status)
			*status = cw__wait_status(&w.si);
		if (ru)
			*ru = w.ru;
	}
	cw__errno_restore(saved_errno);
	return r;
}

CW_PARENT_CODE CW_EXPORT pid_t wait4(pid_t pid, int *status, int options,
				     struct rusage *ru)
{
	if (cw__shim_off())
		return REAL(wait4)(pid, status, options, ru);
	return cw__shim_wait4(pid, status, options, ru, CW_CALLER("wait4"));
}

CW_PARENT_CODE CW_EXPORT pid_t wait3(int *status, int options,
				     struct rusage *ru)
{
	if (cw__shim_off())
		return REAL(wait3)(status, options, ru);
	return cw__shim_wait4(-1, status, options, ru, CW_CALLER("wait3"));
}

CW_PARENT_CODE CW_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	if (cw__shim_off())
		return REAL(waitpid)(pid, status, options);
	return cw__shim_wait4(pid, status, options, NULL,
			      CW_CALLER("waitpid"));
}

CW_PARENT_CODE CW_EXPORT pid_t wait(int *status)
{
	if (cw__shim_off())
		return REAL(wait)(status);
	return cw__shim_wait4(-1, status, 0, NULL, CW_CALLER("wait"));
}

CW_PARENT_CODE int cw__shim_waitid(idtype_t idtype, id_t id, siginfo_t *si,
				   int options, struct rusage *ru,
				   const struct cw__caller *by)
{
	int saved_errno = errno;
	struct cw__wait w = {
		.idtype = idtype,
		.id = id,
		.options = options,
		.as = CW_OWNER_PROGRAM,
		.by = *by,
		.args = { true, idtype, id, options },
	};
	int r;

	if ((options & ~WAITID_OPTIONS) ||
	    !(options & (WEXITED | WSTOPPED | WCONTINUED)) ||
	    (idtype != P_ALL && idtype != P_PID && idtype != P_PGID &&
	     idtype != P_PIDFD) ||
	    (idtype == P_PID && (pid_t)id <= 0) ||
	    (idtype != P_ALL && (pid_t)id < 0)) {
		errno = EINVAL;
		return -1;
	}
	if (idtype == P_PGID && id == 0)
		w.id = getpgrp();
	r = cw__wait(&w);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	if (si) {
		if (r > 0)
			*si = w.si;
		else
			memset(si, 0, sizeof *si);
	}
	if (ru)
		*ru = r > 0 ? w.ru : (struct rusage){ 0 };
	cw__errno_restore(saved_errno);
	return 0;
}

CW_PARENT_CODE CW_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *si,
				    int options)
{
	if (cw__shim_off())
		return REAL(waitid)(idtype, id, si, options);
	return cw__shim_waitid(idtype, id, si, options, NULL,
			       CW_CALLER("waitid"));
}
