/* SPDX-License-Identifier: MIT */
/*
 * Children count in getrusage(RUSAGE_CHILDREN) and times() once waited
 * for. fast mode reaps as children exit, so what it holds for the program
 * is taken back out until the program's wait consumes it.
 */
#include <errno.h>
#include <sys/time.h>
#include <unistd.h>

#include "reaper.h"
#include "real.h"

/* Nothing is held before the shim starts, nor for a debugger, whose
 * waits are the kernel's; neither check starts the shim. */
static bool holds_nothing(void)
{
	return !cw__reaper_mediating() || atomic_load(&cw__shim_debugging);
}

static long ticks_of(const struct timeval *tv)
{
	long hz = sysconf(_SC_CLK_TCK);

	return tv->tv_sec * hz + tv->tv_usec * hz / 1000000;
}

CW_EXPORT int getrusage(int who, struct rusage *ru)
{
	struct rusage held;
	int r = REAL(getrusage)(who, ru);

	if (r < 0 || who != RUSAGE_CHILDREN || holds_nothing())
		return r;
	cw__reaper_uncounted(&held);
	timersub(&ru->ru_utime, &held.ru_utime, &ru->ru_utime);
	timersub(&ru->ru_stime, &held.ru_stime, &ru->ru_stime);
	ru->ru_minflt -= held.ru_minflt;
	ru->ru_majflt -= held.ru_majflt;
	ru->ru_inblock -= held.ru_inblock;
	ru->ru_oublock -= held.ru_oublock;
	ru->ru_nvcsw -= held.ru_nvcsw;
	ru->ru_nivcsw -= held.ru_nivcsw;
	return r;
}

CW_EXPORT clock_t times(struct tms *buf)
{
	struct rusage held;
	clock_t r = REAL(times)(buf);

	if (r == (clock_t)-1 || holds_nothing())
		return r;
	cw__reaper_uncounted(&held);
	buf->tms_cutime -= ticks_of(&held.ru_utime);
	buf->tms_cstime -= ticks_of(&held.ru_stime);
	return r;
}
