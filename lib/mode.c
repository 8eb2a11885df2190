/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "mode.h"
#include "sys.h"

/* Compared in every process that sets CHILDWATCH_MODE: kept with the
 * shim's other start-up state (see CW_HOT), not in .rodata. */
CW_HOT static char mode_names[][sizeof "threaded"] = {
	[CW_MODE_OFF] = "off",
	[CW_MODE_SAFE] = "safe",
	[CW_MODE_FAST] = "fast",
	[CW_MODE_THREADED] = "threaded",
	[CW_MODE_PIDFD] = "pidfd",
};

/* strcmp's answer, without libc: in every process that sets
 * CHILDWATCH_MODE, its lazy binding and code would be pages of libc's that
 * most never otherwise run. */
CW_START_CODE static bool names_equal(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

CW_START_CODE int cw__mode_parse(const char *name, enum cw__mode *mode)
{
	for (unsigned i = 0; i < sizeof mode_names / sizeof *mode_names; i++) {
		if (names_equal(name, mode_names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *cw__mode_name(enum cw__mode mode)
{
	return mode_names[mode];
}
