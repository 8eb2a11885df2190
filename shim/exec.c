/* SPDX-License-Identifier: MIT */
/*
 * The exec family, for the trace, and for SIGCHLD: an ignored SIGCHLD is
 * really SIG_IGN again for the new image (sigchld.c). The event goes out
 * before the image is replaced, and a second one if it was not. May run
 * in a vfork child.
 * The l-forms gather their arguments and take the v-forms' path, as libc's
 * do, so their own symbols never reach libc.
 */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "real.h"

extern char **environ;

CW_CHILD_CODE static bool exec_begin(const struct cw__caller *by,
				     const char *path, char *const argv[])
{
	/* Before the shim started, SIGCHLD is as the program left it, and
	 * there is no trace (real.c). */
	cw__sigchld_exec_begin();
	if (!cw__trace_on())
		return false;
	cw__trace_exec(by, path, argv, 0);
	return true;
}

static void exec_failed(const struct cw__caller *by, const char *path,
			char *const argv[])
{
	int saved_errno = errno;

	cw__trace_exec(by, path, argv, errno);
	cw__errno_restore(saved_errno);
}

#define EXEC_TRACED(name, path, argv, call)                      \
	({                                                       \
		const struct cw__caller *by_ = CW_CALLER(name);  \
		bool traced_ = exec_begin(by_, path, argv);      \
		int r_ = call;                                   \
		int errno_ = errno;                              \
		cw__sigchld_exec_failed();                       \
		errno = errno_;                                  \
		if (traced_)                                     \
			exec_failed(by_, path, argv);            \
		r_;                                              \
	})

CW_CHILD_CODE CW_EXPORT int execve(const char *path, char *const argv[],
				   char *const envp[])
{
	return EXEC_TRACED("execve", path, argv, REAL(execve)(path, argv, envp));
}

CW_CHILD_CODE CW_EXPORT int execv(const char *path, char *const argv[])
{
	return EXEC_TRACED("execv", path, argv,
			   REAL(execve)(path, argv, environ));
}

CW_CHILD_CODE CW_EXPORT int execvpe(const char *file, char *const argv[],
				    char *const envp[])
{
	return EXEC_TRACED("execvpe", file, argv,
			   REAL(execvpe)(file, argv, envp));
}

CW_CHILD_CODE CW_EXPORT int execvp(const char *file, char *const argv[])
{
	return EXEC_TRACED("execvp", file, argv,
			   REAL(execvpe)(file, argv, environ));
}

CW_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	return EXEC_TRACED("fexecve", NULL, argv, REAL(fexecve)(fd, argv, envp));
}

/* The arguments after arg0 up to the NULL, counted on a copy of ap. */
static size_t args_count(const char *arg0, va_list ap)
{
	va_list aq;
	size_t n = 0;

	if (!arg0)
		return 0;
	va_copy(aq, ap);
	for (n = 1; va_arg(aq, const char *); n++)
		;
	va_end(aq);
	return n;
}

/* Fills argv (room for n + 1) and leaves ap past the terminating NULL. */
static void args_fill(char **argv, size_t n, const char *arg0, va_list *ap)
{
	argv[0] = (char *)arg0;
	for (size_t i = 1; i < n; i++)
		argv[i] = va_arg(*ap, char *);
	if (n)
		(void)va_arg(*ap, char *);
	argv[n] = NULL;
}

/* argv lives in the interposer's frame: the l-forms are macros over it. */
#define ARGV_FROM_VA(argv, arg0, ap)                 \
	size_t argc_ = args_count(arg0, ap);         \
	char *argv[argc_ + 1];                       \
	args_fill(argv, argc_, arg0, &ap)

CW_EXPORT int execl(const char *path, const char *arg0, ...)
{
	va_list ap;

	va_start(ap, arg0);
	ARGV_FROM_VA(argv, arg0, ap);
	va_end(ap);
	return EXEC_TRACED("execl", path, argv,
			   REAL(execve)(path, argv, environ));
}

CW_EXPORT int execlp(const char *file, const char *arg0, ...)
{
	va_list ap;

	va_start(ap, arg0);
	ARGV_FROM_VA(argv, arg0, ap);
	va_end(ap);
	return EXEC_TRACED("execlp", file, argv,
			   REAL(execvpe)(file, argv, environ));
}

CW_EXPORT int execle(const char *path, const char *arg0, ...)
{
	char *const *envp;
	va_list ap;

	va_start(ap, arg0);
	ARGV_FROM_VA(argv, arg0, ap);
	envp = va_arg(ap, char *const *);
	va_end(ap);
	return EXEC_TRACED("execle", path, argv, REAL(execve)(path, argv, envp));
}
