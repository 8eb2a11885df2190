/* SPDX-License-Identifier: MIT */
#ifndef CW_REPORT_INTERNAL_H
#define CW_REPORT_INTERNAL_H

/*
 * What the stages of childwatch report share: read.c reads the trace into
 * events, analyse.c joins them into processes, children and findings,
 * text.c and json.c render them.
 */
#include <stdbool.h>
#include <stdio.h>

#include "json.h"
#include "report.h"

#define BAD_LINES_LISTED 20
/* Children listed under a process in the text tree, and findings of a
 * kind in the text; --json has them all. */
#define KIDS_LISTED 25
#define FINDINGS_LISTED 50
/* Past this a pid reused around the tree would loop forever. */
#define DEPTH_MAX 40

struct site {
	const char *obj, *sym;
	long long off;
};

/* One call as the trace saw it. */
struct call {
	const char *name;
	struct site site;
	long long pid, tid, t;
	const struct json *args;
};

/* SIGCHLD's disposition as far as the trace tells it. */
struct disposition {
	bool known;
	bool ignoring; /* SIG_IGN or SA_NOCLDWAIT: the kernel reaps */
	bool sig_ign;  /* SIG_IGN itself, which survives an exec */
};

struct kid {
	long long parent, pid;
	bool spawned;
	struct call spawn;
	struct disposition inherited; /* the parent's at the spawn */
	/* A line other than spawn shows it is a child: its exit or wait, its
	 * parent's exit, its own events' ppid. */
	bool evidence;
	size_t lost; /* its LOST finding's index + 1, or 0 */
	const char *command;
	const struct json *status;
	bool exit_seen;
	long long exit_t;
	bool consumed;
	bool consumer_by_pid; /* the consuming wait named the pid */
	struct call consumer;
	bool vanished;
	struct kid *next; /* in its parent's list, in spawn order */
	struct kid *hash_next;
};

struct proc {
	long long pid, ppid;
	const char *exe, *mode;
	const struct json *argv;
	bool exited;
	const struct json *exit; /* the exit event */
	bool execed;		 /* has a start event: an image of its own */
	struct {
		struct disposition now;
		bool changed; /* by the process itself, since it started */
		struct call installer;
	} sigchld;
	bool printed; /* in the text tree already */
	struct kid *kids, *kids_tail;
	size_t nkids;
	struct proc *hash_next;
};

enum finding_kind { LOST, AVERTED, REPLAYED, ZOMBIE, RUNNING, REPLACED };

struct finding {
	enum finding_kind kind;
	long long process, child;
	struct call by;		 /* the victim's call, thief, late waiter */
	struct call other;	 /* the consumer or the replaced installer */
	const struct json *info; /* the owner (averted), the handlers */
	const struct json *info2;
	struct disposition at; /* SIGCHLD's at the (first) loss */
	size_t failed_waits;   /* LOST: the waits for the child that failed */
	struct kid *kid;
};

/* Children of a process that its trace shows but no spawn line explains:
 * the trace missed events. */
struct unexplained {
	struct proc *proc;
	size_t n;
	long long first[8];
};

struct site_count {
	const char *kind, *call;
	struct site site;
	size_t n;
};

struct report {
	const char *path;
	FILE *out;
	struct json **events;
	size_t nevents, lines;
	struct {
		size_t line;
		const char *why;
	} bad[BAD_LINES_LISTED];
	size_t nbad;
	struct proc *procs[4096];
	struct kid *kids[16384];
	struct proc **proc_list;
	size_t nprocs;
	struct finding *findings;
	size_t nfindings;
	struct site_count *sites;
	size_t nsites;
	long long *latencies;
	size_t nlatencies;
	struct unexplained *unexplained;
	size_t nunexplained;
	size_t failed_waits;
};

void *report_grow(void *array, size_t n, size_t size);
void *report_zalloc(size_t size);

void report_analyse(struct report *r);
size_t report_count(const struct report *r, enum finding_kind kind);
/* Whether the kernel reaped the child of f (SIG_IGN or SA_NOCLDWAIT). */
bool report_kernel_reaped(const struct finding *f);
struct proc *report_proc_find(struct report *r, long long pid);
struct kid *report_kid_find(const struct report *r, long long parent,
			    long long pid);
struct kid *report_kid_get(struct report *r, long long parent, long long pid);
struct site report_site_of(const struct json *v);
/* The latencies sorted: the pct-th percentile. */
long long report_percentile(const struct report *r, int pct);

/* What a site's offset is, for a site with no dynamic symbol: "func at
 * file.c:42", or how to find out; NULL when nothing can be said. */
const char *report_site_name(const struct site *s);
void report_site_names_free(void);

/* One sentence a finding, for the text and for --json. */
void report_finding_print(FILE *out, const struct finding *f);
void report_text(struct report *r);
void report_json(const struct report *r);

#endif
