/* SPDX-License-Identifier: MIT */
/*
 * A debugger waits for ptrace stops of tasks that need not be its children
 * at all (strace -f follows grandchildren). The table cannot answer for
 * those, so from a program's first ptrace call on the shim steps aside and
 * its waits go straight to the kernel.
 */
#include <stdarg.h>
#include <sys/ptrace.h>

#include "real.h"

CW_EXPORT long ptrace(enum __ptrace_request request, ...)
{
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	cw__real_init();
	if (request != PTRACE_TRACEME)
		atomic_store(&cw__shim_debugging, true);
	return REAL(ptrace)(request, pid, addr, data);
}
