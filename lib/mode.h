/* SPDX-License-Identifier: MIT */
#ifndef CW_MODE_H
#define CW_MODE_H

#include <stdbool.h>

/* Who notices and reaps children: asyncio's child watchers, plus "off". */
enum cw__mode {
	CW_MODE_OFF,
	CW_MODE_SAFE,
	CW_MODE_FAST,
	CW_MODE_THREADED,
	CW_MODE_PIDFD,
};

#define CW_MODE_DEFAULT CW_MODE_PIDFD
#define CW_MODE_LIST "safe, fast, threaded, pidfd, off"

/* 0 and *mode set, or -EINVAL for a name that is not a mode. */
int cw__mode_parse(const char *name, enum cw__mode *mode);
const char *cw__mode_name(enum cw__mode mode);

#endif
