/* SPDX-License-Identifier: MIT */
/*
 * childwatch report: reads a CHILDWATCH_TRACE file and says, one sentence a
 * finding, who took whose child. Events from many processes interleave in
 * the file and need not be in causal order (a thief's wait may be written
 * before the spawn it follows), so every event is read first and the
 * findings are joined at the end.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *report_grow(void *array, size_t n, size_t size)
{
	/* Capacity doubles at powers of two: implied by the count. */
	if (n & (n - 1) || (n && n < 8))
		return array;
	array = realloc(array, (n ? n * 2 : 8) * size);
	if (!array) {
		fputs("childwatch: out of memory reading the trace\n", stderr);
		exit(REPORT_ERROR);
	}
	return array;
}

void *report_zalloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p) {
		fputs("childwatch: out of memory reading the trace\n", stderr);
		exit(REPORT_ERROR);
	}
	return p;
}

/* A line is an event when it is a JSON object with the fields every event
 * has; what is not is reported and skipped. */
static const char *event_check(const struct json *ev)
{
	static const char *const ints[] = { "v", "t", "pid", "ppid", "tid" };

	if (ev->type != JSON_OBJ)
		return "not a JSON object";
	if (!json_str(ev, "ev"))
		return "no \"ev\" field";
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
		if (json_int(ev, ints[i], LLONG_MIN) == LLONG_MIN)
			return "an event without its pid, tid or time";
	return NULL;
}

static void line_bad(struct report *r, const char *why)
{
	if (r->nbad < BAD_LINES_LISTED) {
		r->bad[r->nbad].line = r->lines;
		r->bad[r->nbad].why = why;
	}
	r->nbad++;
}

static int trace_read(struct report *r)
{
	FILE *f = fopen(r->path, "r");
	char *text = NULL;
	size_t size = 0;
	ssize_t n;

	if (!f) {
		fprintf(stderr, "childwatch: cannot read trace '%s': %s\n",
			r->path, strerror(errno));
		return -1;
	}
	while ((n = getline(&text, &size, f)) >= 0) {
		const char *why = NULL;
		struct json *ev;

		r->lines++;
		if (n == 0 || text[n - 1] != '\n') {
			line_bad(r, "cut short (no end of line)");
			continue;
		}
		if (memchr(text, '\0', n)) {
			line_bad(r, "binary data");
			continue;
		}
		ev = json_parse(text, n, &why);
		if (ev && (why = event_check(ev))) {
			json_free(ev);
			ev = NULL;
		}
		if (!ev) {
			line_bad(r, why);
			continue;
		}
		r->events = report_grow(r->events, r->nevents, sizeof *r->events);
		r->events[r->nevents++] = ev;
	}
	free(text);
	fclose(f);
	return 0;
}

/* Joins what the events say of each child and process into findings. */
static void report_free(struct report *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		json_free(r->events[i]);
	for (size_t i = 0; i < sizeof r->kids / sizeof *r->kids; i++)
		for (struct kid *k = r->kids[i], *next; k; k = next) {
			next = k->hash_next;
			free(k);
		}
	for (size_t i = 0; i < r->nprocs; i++)
		free(r->proc_list[i]);
	free(r->events);
	free(r->proc_list);
	free(r->findings);
	free(r->sites);
	free(r->latencies);
	free(r->unexplained);
	report_site_names_free();
	free(r);
}

int report_run(const char *path, bool json, FILE *out)
{
	struct report *r = report_zalloc(sizeof *r);
	int status;

	r->path = path;
	r->out = out;
	if (trace_read(r) < 0) {
		report_free(r);
		return REPORT_ERROR;
	}
	if (r->nevents == 0) {
		fprintf(
		    stderr,
		    "childwatch: '%s' holds no trace events (%zu lines, "
		    "%zu unusable); run the program with CHILDWATCH_TRACE=%s "
		    "or childwatch --trace %s\n",
		    path, r->lines, r->nbad, path, path);
		report_free(r);
		return REPORT_ERROR;
	}
	report_analyse(r);
	if (json)
		report_json(r);
	else
		report_text(r);
	status = report_count(r, LOST) || report_count(r, ZOMBIE)
		     ? REPORT_FOUND
		     : REPORT_CLEAN;
	report_free(r);
	return status;
}
