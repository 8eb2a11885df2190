/* SPDX-License-Identifier: MIT */
#ifndef CW_REPORT_H
#define CW_REPORT_H

#include <stdbool.h>
#include <stdio.h>

/* The exit statuses of childwatch report. */
#define REPORT_CLEAN 0	/* nothing lost, no zombie left */
#define REPORT_FOUND 1	/* a child lost or a zombie left */
#define REPORT_ERROR 2	/* unreadable trace, or no event in it */

/*
 * Reads the trace at path and writes what it shows to out: the process
 * tree, every lost child with victim and thief, zombies and children left
 * running, SIGCHLD handlers replaced, call-site counts and latencies. Lines
 * that are not events are reported with their numbers and skipped.
 */
int report_run(const char *path, bool json, FILE *out);

/* Whether sites without a symbol are named from the object's symbol table
 * or debug info (addr2line); the fuzzer turns it off. */
extern bool report_symbols;

#endif
