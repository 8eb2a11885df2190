/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <spawn.h>

#include "reaper.h"
#include "real.h"

typedef int spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *,
		     const posix_spawnattr_t *, char *const[], char *const[]);

/* The pid is needed even when the caller passes NULL for it. */
CW_PARENT_CODE static int
spawn_tracked(spawn_fn *spawn, const struct cw__caller *by, pid_t *pid,
	      const char *path, const posix_spawn_file_actions_t *actions,
	      const posix_spawnattr_t *attr, char *const argv[],
	      char *const envp[])
{
	int saved_errno = errno;
	bool ignoring = cw__sigchld_spawn_begin();
	pid_t child;
	int r;

	cw__child_creating();
	r = spawn(&child, path, actions, attr, argv, envp);
	if (ignoring)
		cw__sigchld_spawn_end();
	/* A child that failed to exec was reaped inside libc already. */
	cw__child_created(r == 0 ? child : -1, CW_OWNER_PROGRAM, by, NULL);
	if (r == 0 && pid)
		*pid = child;
	cw__errno_restore(saved_errno);
	return r;
}

CW_PARENT_CODE CW_EXPORT int
posix_spawn(pid_t *pid, const char *path,
	    const posix_spawn_file_actions_t *actions,
	    const posix_spawnattr_t *attr, char *const argv[],
	    char *const envp[])
{
	if (cw__shim_off())
		return REAL(posix_spawn)(pid, path, actions, attr, argv, envp);
	return spawn_tracked(REAL(posix_spawn), CW_CALLER("posix_spawn"), pid,
			     path, actions, attr, argv, envp);
}

CW_PARENT_CODE CW_EXPORT int
posix_spawnp(pid_t *pid, const char *file,
	     const posix_spawn_file_actions_t *actions,
	     const posix_spawnattr_t *attr, char *const argv[],
	     char *const envp[])
{
	if (cw__shim_off())
		return REAL(posix_spawnp)(pid, file, actions, attr, argv, envp);
	return spawn_tracked(REAL(posix_spawnp), CW_CALLER("posix_spawnp"), pid,
			     file, actions, attr, argv, envp);
}
