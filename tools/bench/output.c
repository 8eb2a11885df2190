/* SPDX-License-Identifier: MIT */
/*
 * What a run prints: the Markdown tables of the C workloads, with the
 * issue's targets judged, the CSV of every raw figure and the gnuplot plot
 * of the scaling workload. real.c prints its own table.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

void csv_row(struct bench *b, const char *wl, const struct config *c,
		    long param, int rep, double v, const char *unit)
{
	if (!b->csv)
		return;
	if (isnan(v))
		fprintf(b->csv, "%s,%s,%ld,%d,,%s\n", wl, c->name, param,
			rep + 1, unit);
	else
		fprintf(b->csv, "%s,%s,%ld,%d,%.3f,%s\n", wl, c->name, param,
			rep + 1, v, unit);
}

void csv_run(struct bench *b, enum workload wl, const struct config *c,
		    int rep, const struct run *run)
{
	const struct options *o = b->opt;
	const char *name = workload_names[wl];
	long param = workload_count(o, wl);

	if (!run->ok) {
		csv_row(b, name, c, param, rep, NAN, "failed");
		return;
	}
	switch (wl) {
	case WL_SCALE:
		for (int k = 0; k < o->nscale; k++) {
			csv_row(b, "scale", c, o->scale[k], rep, run->v[2 * k],
				"ns/child");
			csv_row(b, "scale-any", c, o->scale[k], rep,
				run->v[2 * k + 1], "ns/child");
		}
		param = o->scale[o->nscale - 1];
		break;
	case WL_MEMORY:
		csv_row(b, name, c, param, rep, run->v[0], "KiB/child");
		csv_row(b, name, c, param, rep, run->v[1], "threads/child");
		csv_row(b, name, c, param, rep, run->v[2], "fds/child");
		csv_row(b, name, c, param, rep, run->v[3], "open() works");
		break;
	case WL_LATENCY:
	case WL_LATENCY_HANDLER:
		csv_row(b, name, c, param, rep, run->v[0], "ns");
		break;
	default:
		csv_row(b, name, c, param, rep, run->v[0], "ns/child");
		break;
	}
	csv_row(b, name, c, param, rep, run->maxrss_kib, "KiB maxrss");
}

/* Median over the repetitions that succeeded of figure k; NAN if none. */
double runs_median(const struct run *runs, int reps, int k)
{
	double *v = malloc(reps * sizeof *v), m;
	int n = 0;

	if (!v)
		return NAN;
	for (int rep = 0; rep < reps; rep++)
		if (runs[rep].ok)
			v[n++] = runs[rep].v[k];
	m = median(v, n);
	free(v);
	return m;
}

static long runs_maxrss(const struct run *runs, int reps)
{
	long most = 0;

	for (int rep = 0; rep < reps; rep++)
		if (runs[rep].ok && runs[rep].maxrss_kib > most)
			most = runs[rep].maxrss_kib;
	return most;
}

static bool mode_is(const struct config *c, const char *mode)
{
	return c->mode && strcmp(c->mode, mode) == 0;
}

/* The limit for this row, or NAN where it sets none. */
static double target_limit(enum workload wl, const struct config *c)
{
	bool mediating = c->mode && strcmp(c->mode, "off") != 0;

	if (!mediating)
		return NAN;
	switch (wl) {
	case WL_FORK:
	case WL_SPAWN:
		return mode_is(c, "threaded") ? 1.15 : 1.05;
	case WL_BATCH:
		return mode_is(c, "threaded") ? 1.15 : 1.10;
	case WL_VFORK:
		return 1.15;
	case WL_SCALE:
		return mode_is(c, "safe") ? 3.0 : 1.2;
	case WL_LATENCY:
	case WL_LATENCY_HANDLER:
		return 1.2;
	case WL_MEMORY:
		/* Past the descriptor limit pidfd falls back to a thread
		 * per child, so the threaded bound applies. */
		return mode_is(c, "threaded") || c->nofile ? 16.0 : 1.0;
	default:
		return NAN;
	}
}

static const char *target_judge(struct bench *b, double limit, double v,
				char *buf, size_t size)
{
	if (isnan(limit))
		return "-";
	if (isnan(v)) {
		b->missed++;
		return "NOT met (failed)";
	}
	if (v <= limit)
		b->met++;
	else
		b->missed++;
	snprintf(buf, size, "%s (<= %g)", v <= limit ? "met" : "NOT met",
		 limit);
	return buf;
}

void cell_print(double v, const char *fmt)
{
	if (isnan(v))
		printf(" failed |");
	else {
		putchar(' ');
		printf(fmt, v);
		printf(" |");
	}
}

/* The row of the empty library, or -1. */
static int empty_config(const struct bench *b)
{
	for (int c = 0; c < b->nconfigs; c++)
		if (strcmp(b->configs[c].name, "empty") == 0)
			return c;
	return -1;
}

void table_time(struct bench *b, enum workload wl, struct run *runs)
{
	bool latency = wl == WL_LATENCY || wl == WL_LATENCY_HANDLER;
	const struct options *o = b->opt;
	double bare = runs_median(runs, o->reps, 0);
	int e = empty_config(b);
	double empty = e < 0 ? NAN : runs_median(runs + e * o->reps, o->reps, 0);
	char buf[64];

	printf("### %s: %s\n\n", workload_names[wl], workload_titles[wl]);
	if (wl == WL_BATCH)
		printf("%d batches per rep", batches_of(o->children));
	else
		printf("%d %s per rep", workload_count(o, wl),
		       latency ? "exits" : "children");
	printf(", median of %d reps; ratio to bare's median%s.\n\n", o->reps,
	       e < 0 ? "" : " and to empty's (an empty preloaded library)");
	printf("| config | %s | ratio to bare |%s peak RSS (KiB) | target |\n",
	       latency ? "median exit-to-wake (ns)" :
				  "median ns/child",
	       e < 0 ? "" : " ratio to empty |");
	printf("|---|--:|--:|%s--:|---|\n", e < 0 ? "" : "--:|");
	for (int c = 0; c < b->nconfigs; c++) {
		const struct run *r = runs + c * o->reps;
		double med = runs_median(r, o->reps, 0), ratio = med / bare;

		printf("| %s |", b->configs[c].label);
		cell_print(med, "%.0f");
		cell_print(ratio, "%.2f");
		if (e >= 0)
			cell_print(med / empty, "%.2f");
		printf(" %ld | %s |\n", runs_maxrss(r, o->reps),
		       target_judge(b, target_limit(wl, &b->configs[c]), ratio,
				    buf, sizeof buf));
	}
	printf("\n");
}

static void table_scale_one(struct bench *b, struct run *runs, int kind)
{
	const struct options *o = b->opt;
	int first = 0, last = o->nscale - 1;
	double bare_ratio = NAN;
	char buf[64];

	printf("### scale, %s: %s\n\n", kind ? "waitpid(-1)" : "waitpid(pid)",
	       workload_titles[WL_SCALE]);
	printf("ns per child, median of up to %d rounds (as many as fit in "
	       "%lld s) per rep and of %d reps; "
	       "growth = cost at N=%d / cost at N=%d; vs bare = growth / "
	       "bare's growth.\n\n",
	       workload_count(o, WL_SCALE), SCALE_BUDGET_NS / 1000000000,
	       o->heavy_reps, o->scale[last], o->scale[first]);
	printf("| config |");
	for (int k = 0; k < o->nscale; k++)
		printf(" N=%d |", o->scale[k]);
	printf(" growth | vs bare | peak RSS (KiB) | target |\n|---|");
	for (int k = 0; k < o->nscale; k++)
		printf("--:|");
	printf("--:|--:|--:|---|\n");
	for (int c = 0; c < b->nconfigs; c++) {
		const struct run *r = runs + c * o->heavy_reps;
		double *med = b->scale_med[kind][c], growth;

		for (int k = 0; k < o->nscale; k++)
			med[k] = runs_median(r, o->heavy_reps, 2 * k + kind);
		growth = med[last] / med[first];
		if (c == 0)
			bare_ratio = growth;
		printf("| %s |", b->configs[c].label);
		for (int k = 0; k < o->nscale; k++)
			cell_print(med[k], "%.0f");
		cell_print(growth, "%.2f");
		cell_print(growth / bare_ratio, "%.2f");
		printf(" %ld | %s |\n", runs_maxrss(r, o->heavy_reps),
		       target_judge(b, target_limit(WL_SCALE, &b->configs[c]),
				    growth / bare_ratio, buf, sizeof buf));
	}
	printf("\n");
}

void table_scale(struct bench *b, struct run *runs)
{
	table_scale_one(b, runs, 0);
	table_scale_one(b, runs, 1);
	b->scale_done = true;
}

void table_memory(struct bench *b, struct run *runs)
{
	const struct options *o = b->opt;
	char buf[64];

	printf("### memory: %s\n\n", workload_titles[WL_MEMORY]);
	printf("%d idle children; the parent's growth in RSS, threads and "
	       "descriptors divided by their number, median of %d reps; "
	       "whether the program could still open a file with them "
	       "alive.\n\n",
	       o->live, o->heavy_reps);
	printf("| config | RSS (KiB/child) | threads/child | fds/child | "
	       "open() | peak RSS (KiB) | target |\n");
	printf("|---|--:|--:|--:|---|--:|---|\n");
	for (int c = 0; c < b->nconfigs_memory; c++) {
		const struct run *r = runs + c * o->heavy_reps;
		double rss = runs_median(r, o->heavy_reps, 0);
		double opens = runs_median(r, o->heavy_reps, 3);
		const char *judged;

		printf("| %s |", b->configs[c].label);
		cell_print(rss, "%.2f");
		cell_print(runs_median(r, o->heavy_reps, 1), "%.3f");
		cell_print(runs_median(r, o->heavy_reps, 2), "%.3f");
		printf(" %s |", isnan(opens) ? "failed" : opens == 1 ? "works" :
							      "EMFILE");
		judged = target_judge(b,
				      target_limit(WL_MEMORY, &b->configs[c]),
				      opens == 1 ? rss : NAN, buf, sizeof buf);
		if (opens == 0 && strcmp(judged, "-") != 0)
			judged = "NOT met (EMFILE)";
		printf(" %ld | %s |\n", runs_maxrss(r, o->heavy_reps), judged);
	}
	printf("\n");
}

/* A gnuplot single-quoted string: a quote inside is written twice. */
static void gnuplot_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static void plot_script(const struct bench *b, FILE *f)
{
	const struct options *o = b->opt;
	static const char *const kinds[] = { "waitpid(pid)", "waitpid(-1)" };

	fputs("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
	      "\tset terminal pngcairo size 1280,560 noenhanced\n"
	      "} else {\n"
	      "\tset terminal png size 1280,560 noenhanced\n"
	      "}\n",
	      f);
	fputs("set output ", f);
	gnuplot_quote(f, o->plot);
	fputs("\nset logscale xy\nset grid\nset key top left\n"
	      "set format x '%.0f'\nset format y '%.0f'\n"
	      "set xlabel 'live idle children (N=0 plotted at 1)'\n"
	      "set ylabel 'microseconds per fork + _exit + wait'\n",
	      f);
	for (int kind = 0; kind < 2; kind++) {
		for (int c = 0; c < b->nconfigs; c++) {
			fprintf(f, "$d%d_%d << EOD\n", kind, c);
			for (int k = 0; k < o->nscale; k++)
				if (!isnan(b->scale_med[kind][c][k]))
					fprintf(f, "%d %.0f\n",
						o->scale[k] ? o->scale[k] : 1,
						b->scale_med[kind][c][k]);
			fputs("EOD\n", f);
		}
	}
	fputs("set multiplot layout 1,2 title 'childwatch: cost of one more "
	      "child against live children'\n",
	      f);
	for (int kind = 0; kind < 2; kind++) {
		fprintf(f, "set title '%s'\nplot ", kinds[kind]);
		for (int c = 0; c < b->nconfigs; c++)
			fprintf(f, "%s$d%d_%d using 1:($2/1000) with "
				   "linespoints lw 2 title '%s'",
				c ? ", " : "", kind, c, b->configs[c].label);
		fputs("\n", f);
	}
	fputs("unset multiplot\n", f);
}

void plot_render(struct bench *b)
{
	const char *tmpdir = getenv("TMPDIR");
	char script[PATH_MAX], gnuplot[PATH_MAX];
	int fd, status;
	pid_t pid;
	FILE *f;

	if (!b->scale_done)
		return;
	if (!path_find("gnuplot", gnuplot)) {
		fprintf(stderr, "bench: gnuplot is not on PATH, so no plot "
				"(Debian: apt-get install gnuplot-nox)\n");
		return;
	}
	snprintf(script, sizeof script, "%s/bench-plot-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	fd = mkstemp(script);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "bench: plot script %s: %s\n", script,
			strerror(errno));
		b->failures++;
		return;
	}
	plot_script(b, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "bench: plot script %s: %s\n", script,
			strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid == 0) {
		execl(gnuplot, "gnuplot", script, (char *)NULL);
		fprintf(stderr, "bench: exec gnuplot: %s\n", strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid_nointr(pid, &status) < 0 ||
	    !status_is(status, 0)) {
		fprintf(stderr, "bench: gnuplot failed to render %s\n",
			b->opt->plot);
		goto fail;
	}
	unlink(script);
	fprintf(stderr, "bench: plot in %s\n", b->opt->plot);
	return;
fail:
	unlink(script);
	b->failures++;
}

void header_print(const struct bench *b, int argc, char **argv)
{
	const struct options *o = b->opt;
	struct utsname u;

	uname(&u);
	printf("## childwatch benchmark\n\n`bench");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("` on Linux %s %s, %ld CPUs: %d reps (%d for scale and memory), "
	       "%d children, scale ",
	       u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), o->reps,
	       o->heavy_reps, o->children);
	for (int k = 0; k < o->nscale; k++)
		printf("%s%d", k ? "," : "", o->scale[k]);
	printf(", %d live, real programs %d children each. Every worker is a "
	       "fresh process; bare has no LD_PRELOAD.\n\n",
	       o->live, o->real_n);
}

