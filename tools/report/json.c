/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void jstr(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void jsite(FILE *out, const struct site *s)
{
	fputs("{\"obj\":", out);
	jstr(out, s->obj);
	fputs(",\"sym\":", out);
	jstr(out, s->sym);
	fprintf(out, ",\"off\":%lld}", s->off);
}

static void jcall(FILE *out, const struct call *c)
{
	if (!c->name) {
		fputs("null", out);
		return;
	}
	fputs("{\"call\":", out);
	jstr(out, c->name);
	fputs(",\"site\":", out);
	jsite(out, &c->site);
	fprintf(out, ",\"tid\":%lld}", c->tid);
}

/* The status object as the trace had it, re-emitted field by field. */
static void jstatus(FILE *out, const struct json *status)
{
	const struct json *core = json_get(status, "core");

	if (!json_str(status, "how")) {
		fputs("null", out);
		return;
	}
	fputs("{\"how\":", out);
	jstr(out, json_str(status, "how"));
	if (json_get(status, "code"))
		fprintf(out, ",\"code\":%lld", json_int(status, "code", 0));
	if (json_get(status, "signal"))
		fprintf(out, ",\"signal\":%lld", json_int(status, "signal", 0));
	if (core)
		fprintf(out, ",\"core\":%s", core->boolean ? "true" : "false");
	fputc('}', out);
}

void report_json(const struct report *r)
{
	static const char *const kinds[] = {
		[LOST] = "lost",	 [AVERTED] = "theft_averted",
		[REPLAYED] = "replayed", [ZOMBIE] = "zombie",
		[RUNNING] = "running",	 [REPLACED] = "handler_replaced",
	};
	FILE *out = r->out;
	char *sentence;
	size_t size;

	fputs("{\"trace\":", out);
	jstr(out, r->path);
	fprintf(out, ",\"events\":%zu,\"skipped\":[", r->nevents);
	for (size_t i = 0; i < r->nbad && i < BAD_LINES_LISTED; i++) {
		fprintf(out, "%s{\"line\":%zu,\"why\":", i ? "," : "",
			r->bad[i].line);
		jstr(out, r->bad[i].why);
		fputc('}', out);
	}
	fprintf(out, "],\"skipped_count\":%zu,\"processes\":[", r->nbad);
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct proc *p = r->proc_list[i];

		fprintf(out, "%s{\"pid\":%lld,\"ppid\":%lld,\"exe\":",
			i ? "," : "", p->pid, p->ppid);
		jstr(out, p->exe);
		fputs(",\"mode\":", out);
		jstr(out, p->mode);
		fprintf(out, ",\"exited\":%s,\"children\":[",
			p->exited ? "true" : "false");
		for (const struct kid *k = p->kids; k; k = k->next) {
			fprintf(out, "%s{\"pid\":%lld,\"spawn\":",
				k == p->kids ? "" : ",", k->pid);
			jcall(out, k->spawned ? &k->spawn : &(struct call){ 0 });
			fputs(",\"command\":", out);
			jstr(out, k->command);
			fputs(",\"status\":", out);
			jstatus(out, k->status);
			fputs(",\"consumer\":", out);
			jcall(out, k->consumed ? &k->consumer
					       : &(struct call){ 0 });
			fprintf(out, ",\"vanished\":%s}",
				k->vanished ? "true" : "false");
		}
		fputs("]}", out);
	}
	fputs("],\"findings\":[", out);
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct finding *f = &r->findings[i];
		FILE *mem = open_memstream(&sentence, &size);

		if (!mem)
			exit(REPORT_ERROR);
		report_finding_print(mem, f);
		fclose(mem);
		if (size && sentence[size - 1] == '\n')
			sentence[size - 1] = '\0';
		fprintf(out, "%s{\"kind\":\"%s\",\"process\":%lld,\"child\":%lld,\"by\":",
			i ? "," : "", kinds[f->kind], f->process, f->child);
		jcall(out, &f->by);
		fputs(",\"other\":", out);
		jcall(out, &f->other);
		if (f->kind == LOST)
			fprintf(out,
				",\"failed_waits\":%zu,\"kernel_reaped\":%s",
				f->failed_waits,
				report_kernel_reaped(f) ? "true" : "false");
		fputs(",\"sentence\":", out);
		jstr(out, sentence);
		fputc('}', out);
		free(sentence);
	}
	fputs("],\"missed_spawns\":[", out);
	for (size_t i = 0; i < r->nunexplained; i++) {
		const struct unexplained *u = &r->unexplained[i];

		fprintf(out, "%s{\"pid\":%lld,\"children\":%zu,\"first\":[",
			i ? "," : "", u->proc->pid, u->n);
		for (size_t j = 0;
		     j < u->n && j < sizeof u->first / sizeof *u->first; j++)
			fprintf(out, "%s%lld", j ? "," : "", u->first[j]);
		fputs("]}", out);
	}
	fputs("],\"sites\":[", out);
	for (size_t i = 0; i < r->nsites; i++) {
		fprintf(out, "%s{\"kind\":\"%s\",\"call\":", i ? "," : "",
			r->sites[i].kind);
		jstr(out, r->sites[i].call);
		fputs(",\"site\":", out);
		jsite(out, &r->sites[i].site);
		fprintf(out, ",\"count\":%zu}", r->sites[i].n);
	}
	fprintf(out, "],\"latency_ns\":{\"count\":%zu", r->nlatencies);
	if (r->nlatencies)
		fprintf(out, ",\"p50\":%lld,\"p90\":%lld,\"p99\":%lld,\"max\":%lld",
			report_percentile(r, 50), report_percentile(r, 90),
			report_percentile(r, 99),
			r->latencies[r->nlatencies - 1]);
	fprintf(out,
		"},\"lost\":%zu,\"failed_waits\":%zu,\"zombies\":%zu,"
		"\"theft_averted\":%zu}\n",
		report_count(r, LOST), r->failed_waits, report_count(r, ZOMBIE),
		report_count(r, AVERTED));
}
