/* SPDX-License-Identifier: MIT */
#ifndef CW_CALLER_H
#define CW_CALLER_H

/*
 * Who made a call, as the table keeps it and the trace prints it: plain
 * values, so that the trace needs nothing of the table's.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <sys/wait.h>

/* Who made a call: its name and the address it returns to. */
struct cw__caller {
	const char *call;
	const void *site;
};

/* A wait's arguments as the program gave them: waitid's, or wait4's pid
 * (in id) and options. */
struct cw__wait_args {
	bool waitid;
	idtype_t idtype;
	long id;
	int options;
};

/* The wait that consumed a child: the call, its arguments, and its thread
 * (0 when not traced). */
struct cw__consumer {
	struct cw__caller by;
	struct cw__wait_args args;
	pid_t tid;
};

#endif
