/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define REAL_N	     200
#define REAL_N_SMOKE 3

const char *const workload_names[WL_COUNT] = {
	[WL_FORK] = "fork",	  [WL_VFORK] = "vfork",
	[WL_SPAWN] = "spawn",	  [WL_BATCH] = "batch",
	[WL_SCALE] = "scale",	  [WL_LATENCY] = "latency",
	[WL_LATENCY_HANDLER] = "latency-handler",
	[WL_MEMORY] = "memory",	  [WL_REAL] = "real",
};

const char *const workload_titles[WL_COUNT] = {
	[WL_FORK] = "serial fork + _exit + waitpid(pid)",
	[WL_VFORK] = "serial vfork + _exit + waitpid(pid)",
	[WL_SPAWN] = "serial posix_spawn(\"/bin/true\") + waitpid(pid)",
	[WL_BATCH] = "batches of 64 concurrent fork + _exit, "
		     "reaped with waitpid(-1)",
	[WL_SCALE] = "one more fork + _exit + wait with N idle children alive",
	[WL_LATENCY] = "exit-to-wake latency of a thread blocked in "
		       "waitpid(-1)",
	[WL_LATENCY_HANDLER] = "the same, the program handling SIGCHLD (a "
			       "handler that does nothing)",
	[WL_MEMORY] = "RSS, threads and descriptors per live idle child",
	[WL_REAL] = "real programs as whole process trees",
};

static const char *const mode_names[] = { "bare",     "empty", "safe", "fast",
					  "threaded", "pidfd", "off" };

static const char usage_text[] =
	"usage: bench [OPTIONS]\n"
	"Measures childwatch against bare libc; prints a Markdown table per\n"
	"workload, writes every raw figure to a CSV file and, with gnuplot on\n"
	"PATH, plots the scaling workload.\n"
	"  --workloads LIST  fork,vfork,spawn,batch,scale,latency,\n"
	"                    latency-handler,memory,real\n"
	"                    (default: all); real is the table of real "
	"programs\n"
	"  --modes LIST      bare,empty,safe,fast,threaded,pidfd,off "
	"(default: all\n"
	"                    but off; bare is always measured, as the "
	"baseline;\n"
	"                    empty preloads an empty library, the floor of\n"
	"                    LD_PRELOAD; the real programs always add empty "
	"and off)\n"
	"  --programs LIST   real programs: true,bash,dash,make,ninja,xargs,\n"
	"                    python3,perl-system,perl-backticks,node-sync,\n"
	"                    node-async,pipeline (default: all installed)\n"
	"  --real-n N        children each real program starts per run "
	"(200)\n"
	"  --reps N          repetitions, each a fresh worker or program run;\n"
	"                    medians shown (5)\n"
	"  --heavy-reps N    repetitions of scale and memory, whose workers "
	"each\n"
	"                    start --live or max(--scale) children (2)\n"
	"  --children N      children per repetition for fork, vfork, spawn "
	"and\n"
	"                    batch; the latencies use at most 500 of them\n"
	"                    (2000)\n"
	"  --scale LIST      idle children alive in the scaling workload\n"
	"                    (0,100,1000,10000); 200 timed rounds each, or as "
	"many\n"
	"                    as fit in 2 s (at least 10)\n"
	"  --live N          idle children in the memory workload (10000)\n"
	"  --csv FILE        raw figures (bench.csv beside this program)\n"
	"  --plot FILE       scaling plot (bench-scale.png beside this "
	"program)\n"
	"  --trace FILE      preloaded workers trace to FILE (the cost of\n"
	"                    CHILDWATCH_TRACE); an absolute path\n"
	"  --smoke           tiny sizes (reps 1, heavy reps 1, children 50, "
	"scale 0,50,\n"
	"                    live 200, real-n 3),"
	"\n"
	"                    output to bench-smoke.* unless --csv/--plot say;\n"
	"                    exits 0 only if every workload ran and lost no "
	"status\n"
	"  -h, --help        this text\n"
	"Exits 1 when a worker failed or lost a child's status, or a real "
	"program\n"
	"failed, 2 on a usage error.\n";

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return -1;
}

int int_parse(const char *s, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || end == s || *end || *v < min || *v > max ? -1 : 0;
}

int int_list_parse(const char *s, int *v, int max)
{
	char buf[256], *save, *tok;
	int n = 0;
	long x;

	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == max || int_parse(tok, 0, 1000000, &x) < 0)
			return -1;
		v[n++] = x;
	}
	return n ? n : -1;
}

int workload_parse(const char *s)
{
	for (int i = 0; i < WL_COUNT; i++)
		if (strcmp(s, workload_names[i]) == 0)
			return i;
	return -1;
}

/* A list of names into a set of their indexes, as find gives them. */
static int set_parse(const char *opt, const char *s, int (*find)(const char *),
		     unsigned *set)
{
	char buf[256], *save, *tok;
	int i;

	if (strlen(s) >= sizeof buf)
		return usage_error("%s: list too long", opt);
	strcpy(buf, s);
	*set = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		i = find(tok);
		if (i < 0)
			return usage_error("%s: no '%s'", opt, tok);
		*set |= 1u << i;
	}
	return *set ? 0 : usage_error("%s: empty list", opt);
}

static int modes_parse(const char *s, struct options *o)
{
	size_t nnames = sizeof mode_names / sizeof *mode_names;

	o->modes[0] = mode_names[0];
	o->nmodes = 1;
	while (*s) {
		size_t len = strcspn(s, ",");
		size_t i = 0;
		bool dup = false;

		while (i < nnames && (strlen(mode_names[i]) != len ||
				      strncmp(s, mode_names[i], len) != 0))
			i++;
		if (i == nnames)
			return usage_error("--modes: no mode '%.*s'", (int)len,
					   s);
		for (int k = 0; k < o->nmodes; k++)
			dup |= o->modes[k] == mode_names[i];
		if (!dup)
			o->modes[o->nmodes++] = mode_names[i];
		s += len + (s[len] == ',');
	}
	return 0;
}

static int count_parse(const char *opt, const char *s, int *v)
{
	long x;

	if (int_parse(s, 1, 1000000, &x) < 0)
		return usage_error("--%s: '%s' is not a count from 1 to "
				   "1000000", opt, s);
	*v = x;
	return 0;
}

int workload_count(const struct options *o, enum workload wl)
{
	switch (wl) {
	case WL_SCALE:
		return o->children < SCALE_ROUNDS ? o->children : SCALE_ROUNDS;
	case WL_LATENCY:
	case WL_LATENCY_HANDLER:
		return o->children < LATENCY_ROUNDS ? o->children :
						      LATENCY_ROUNDS;
	case WL_MEMORY:
		return o->live;
	case WL_REAL:
		return o->real_n;
	default:
		return o->children;
	}
}

/* Smoke sizes for what the command line left at its default. */
static void smoke_sizes(struct options *o, int *const *counts,
			const bool *given)
{
	const int smoke[] = { 1, 1, 50, 200, REAL_N_SMOKE };

	for (int i = 0; i < 5; i++)
		*counts[i] = given[i] ? *counts[i] : smoke[i];
	if (!given[5]) {
		o->scale[1] = 50;
		o->nscale = 2;
	}
}

int options_parse(struct options *o, int argc, char **argv)
{
	/* The counts first, in the order of counts[] below and of the
	 * options table. */
	enum { O_REPS = 256, O_HEAVY_REPS, O_CHILDREN, O_LIVE, O_REAL_N,
	       O_SCALE, O_WORKLOADS, O_MODES, O_PROGRAMS, O_CSV, O_PLOT,
	       O_TRACE, O_SMOKE };
	static const struct option longopts[] = {
		{ "reps", required_argument, NULL, O_REPS },
		{ "heavy-reps", required_argument, NULL, O_HEAVY_REPS },
		{ "children", required_argument, NULL, O_CHILDREN },
		{ "live", required_argument, NULL, O_LIVE },
		{ "real-n", required_argument, NULL, O_REAL_N },
		{ "scale", required_argument, NULL, O_SCALE },
		{ "workloads", required_argument, NULL, O_WORKLOADS },
		{ "modes", required_argument, NULL, O_MODES },
		{ "programs", required_argument, NULL, O_PROGRAMS },
		{ "csv", required_argument, NULL, O_CSV },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "trace", required_argument, NULL, O_TRACE },
		{ "smoke", no_argument, NULL, O_SMOKE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int *counts[] = { &o->reps, &o->heavy_reps, &o->children, &o->live,
			  &o->real_n };
	/* Which of the counts and the scale list the command line gave. */
	bool given[6] = { false };
	int c, r = 0;

	*o = (struct options){ .workloads = (1u << WL_COUNT) - 1,
			       .programs = ~0u,
			       .modes = { mode_names[0], mode_names[1],
					  mode_names[2], mode_names[3],
					  mode_names[4], mode_names[5] },
			       .nmodes = 6,
			       .reps = 5,
			       .heavy_reps = 2,
			       .children = 2000,
			       .live = 10000,
			       .real_n = REAL_N,
			       .scale = { 0, 100, 1000, 10000 },
			       .nscale = 4 };
	while (r == 0 &&
	       (c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case O_REPS:
		case O_HEAVY_REPS:
		case O_CHILDREN:
		case O_LIVE:
		case O_REAL_N:
			r = count_parse(longopts[c - O_REPS].name, optarg,
					counts[c - O_REPS]);
			given[c - O_REPS] = true;
			break;
		case O_SCALE:
			o->nscale = int_list_parse(optarg, o->scale, LIST_MAX);
			if (o->nscale < 0)
				r = usage_error("--scale: '%s' is not a list "
						"of counts", optarg);
			given[c - O_REPS] = true;
			break;
		case O_WORKLOADS:
			r = set_parse("--workloads", optarg, workload_parse,
				      &o->workloads);
			break;
		case O_MODES:
			r = modes_parse(optarg, o);
			break;
		case O_PROGRAMS:
			r = set_parse("--programs", optarg, real_find,
				      &o->programs);
			break;
		case O_CSV:
			o->csv = optarg;
			break;
		case O_TRACE:
			o->trace = optarg;
			break;
		case O_PLOT:
			o->plot = optarg;
			break;
		case O_SMOKE:
			o->smoke = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (r < 0)
		return -1;
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->smoke)
		smoke_sizes(o, counts, given);
	for (int i = 1; i < o->nscale; i++)
		if (o->scale[i] <= o->scale[i - 1])
			return usage_error("--scale: counts must rise");
	return 0;
}
