/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *base(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "?";
}

static void site_print(FILE *out, const struct site *s)
{
	const char *name = report_site_name(s);

	fprintf(out, "%s (%s+%#llx%s%s)", base(s->obj), s->sym ? s->sym : "",
		s->off, name ? ": " : "", name ? name : "");
}

/* The call as the program wrote it: waitpid(-1), system(), waitid(P_ALL),
 * syscall(SYS_wait4, -1). */
static void call_print(FILE *out, const struct call *c)
{
	const char *name = c->name ? c->name : "?";
	const struct json *pid = json_get(c->args, "pid");
	const char *idtype = json_str(c->args, "idtype");
	/* syscall(SYS_wait4) takes its arguments inside its parentheses. */
	size_t len = strlen(name);
	bool inner = len && name[len - 1] == ')';
	const char *open = inner ? ", " : "(";

	if (inner)
		len--;
	/* system() and pclose() name their child themselves. */
	if (pid && strcmp(name, "wait") && strcmp(name, "wait3") &&
	    strcmp(name, "system") && strcmp(name, "pclose") &&
	    strcmp(name, "fclose"))
		fprintf(out, "%.*s%s%lld)", (int)len, name, open, pid->integer);
	else if (idtype)
		fprintf(out, "%.*s%s%s)", (int)len, name, open, idtype);
	else
		fprintf(out, "%.*s%s", (int)len, name, inner ? ")" : "()");
}

/* The call and where it was made: waitpid(-1) in prog (+0x1457). */
static void call_in_print(FILE *out, const struct call *c)
{
	call_print(out, c);
	fputs(" in ", out);
	site_print(out, &c->site);
}

static void thread_print(FILE *out, const struct call *c)
{
	fprintf(out, " on thread %lld%s", c->tid,
		c->tid == c->pid ? " (main)" : "");
}

static void status_print(FILE *out, const struct json *status)
{
	const char *how = json_str(status, "how");
	long long sig = json_int(status, "signal", 0);
	const char *name = sigabbrev_np(sig);
	const struct json *core = json_get(status, "core");

	if (!how) {
		fputs("exit not seen", out);
	} else if (!strcmp(how, "exited")) {
		fprintf(out, "exited %lld", json_int(status, "code", 0));
	} else if (!strcmp(how, "killed")) {
		fprintf(out, "killed by SIG%s%s", name ? name : "?",
			core && core->boolean ? " (core dumped)" : "");
	} else {
		fprintf(out, "%s", how);
	}
}

static void spawner_print(FILE *out, const struct kid *k)
{
	if (!k->spawned) {
		fputs("not seen started", out);
		return;
	}
	fprintf(out, "started by %s() in ", k->spawn.name ? k->spawn.name : "?");
	site_print(out, &k->spawn.site);
}

/* A child polled again and again (libuv, multiprocessing) is one child. */
static void lost_end(FILE *out, const struct finding *f)
{
	if (f->failed_waits > 1)
		fprintf(out, " (%zu failed waits for it)", f->failed_waits);
	fputs(".\n", out);
}

void report_finding_print(FILE *out, const struct finding *f)
{
	const struct kid *k = f->kid;

	switch (f->kind) {
	case LOST:
		if (!k->spawned && !k->consumed) {
			call_in_print(out, &f->by);
			fprintf(out, " failed with ECHILD: %lld is not a child "
				"process %lld started", f->child, f->process);
			lost_end(out, f);
			return;
		}
		fprintf(out, "child %lld, ", f->child);
		spawner_print(out, k);
		if (k->consumed) {
			fputs(", was taken by ", out);
			call_in_print(out, &k->consumer);
			thread_print(out, &k->consumer);
		} else if (report_kernel_reaped(f)) {
			fputs(", was reaped by the kernel: SIGCHLD was "
			      "SIG_IGN or SA_NOCLDWAIT", out);
		} else {
			fputs(", was reaped where childwatch cannot see (a raw "
			      "wait4/waitid system call)", out);
		}
		fputs("; ", out);
		call_in_print(out, &f->by);
		fputs(" then failed with ECHILD", out);
		lost_end(out, f);
		return;
	case AVERTED: {
		struct kid owner = { .spawned = true };

		owner.spawn.name = json_str(f->info, "call");
		owner.spawn.site = report_site_of(json_get(f->info, "site"));
		call_in_print(out, &f->by);
		thread_print(out, &f->by);
		fprintf(out, " would have taken child %lld, ", f->child);
		spawner_print(out, &owner);
		fputs("; childwatch kept it for its owner.\n", out);
		return;
	}
	case REPLAYED:
		fprintf(out, "child %lld's status, taken first by ", f->child);
		call_in_print(out, &f->other);
		thread_print(out, &f->other);
		fputs(", was kept and given to ", out);
		call_in_print(out, &f->by);
		fputs(".\n", out);
		return;
	case ZOMBIE:
	case RUNNING:
		fprintf(out, "child %lld of process %lld, ", f->child,
			f->process);
		spawner_print(out, k);
		fputs(f->kind == ZOMBIE ? ", exited and was never waited for"
					: ", was still running",
		      out);
		fprintf(out, " when process %lld exited.\n", f->process);
		return;
	case REPLACED: {
		struct site was = report_site_of(f->info);
		struct site is = report_site_of(f->info2);

		fprintf(out, "process %lld: SIGCHLD handler ", f->process);
		site_print(out, &is);
		fputs(", installed by ", out);
		call_in_print(out, &f->by);
		fputs(", replaced handler ", out);
		site_print(out, &was);
		if (f->other.name) {
			fputs(" installed by ", out);
			call_in_print(out, &f->other);
		}
		fputs(".\n", out);
		return;
	}
	}
}

static void argv_print(FILE *out, const struct json *argv)
{
	for (size_t i = 0; argv && i < argv->len; i++)
		fprintf(out, "%s%s", i ? " " : "",
			argv->items[i].str ? argv->items[i].str : "");
}

static void proc_print(struct report *r, struct proc *p, int depth);

static void kid_print(struct report *r, const struct kid *k, int depth)
{
	struct proc *p = report_proc_find(r, k->pid);
	FILE *out = r->out;

	fprintf(out, "%*s- %lld ", depth * 2, "", k->pid);
	if (k->spawned) {
		fprintf(out, "%s at ", k->spawn.name);
		site_print(out, &k->spawn.site);
	} else {
		fputs("(creation not seen)", out);
	}
	if (k->command)
		fprintf(out, " \"%s\"", k->command);
	fputs(": ", out);
	status_print(out, k->status);
	if (k->consumed) {
		fputs(", consumed by ", out);
		call_print(out, &k->consumer);
		fputs(" at ", out);
		site_print(out, &k->consumer.site);
	} else if (k->vanished) {
		fputs(", reaped outside childwatch's sight", out);
	}
	fputc('\n', out);
	if (p && !p->printed && depth < DEPTH_MAX)
		proc_print(r, p, depth + 2);
}

static void proc_print(struct report *r, struct proc *p, int depth)
{
	FILE *out = r->out;
	size_t shown = 0;

	p->printed = true;
	fprintf(out, "%*s%lld ", depth * 2, "", p->pid);
	if (p->argv)
		argv_print(out, p->argv);
	else
		fputs("(forked, no exec)", out);
	if (p->mode)
		fprintf(out, " [%s]", p->mode);
	fputc('\n', out);
	for (const struct kid *k = p->kids; k; k = k->next) {
		if (++shown > KIDS_LISTED) {
			fprintf(out, "%*s  ... and %zu more children (--json lists all)\n",
				depth * 2, "", p->nkids - KIDS_LISTED);
			break;
		}
		kid_print(r, k, depth + 1);
	}
}

static void section_print(const struct report *r, enum finding_kind kind,
			  const char *title)
{
	size_t n = report_count(r, kind), shown = 0;

	if (!n)
		return;
	fprintf(r->out, "\n%s (%zu)\n", title, n);
	for (size_t i = 0; i < r->nfindings; i++) {
		if (r->findings[i].kind != kind)
			continue;
		if (++shown > FINDINGS_LISTED) {
			fprintf(r->out, "  ... and %zu more (--json lists all)\n",
				n - FINDINGS_LISTED);
			break;
		}
		fputs("  ", r->out);
		report_finding_print(r->out, &r->findings[i]);
	}
}

/* The trace's check of itself: children no spawn line explains. */
static void check_print(const struct report *r)
{
	FILE *out = r->out;

	if (r->nunexplained)
		fputs("\nWarning: the trace missed events; findings may be "
		      "incomplete\n",
		      out);
	for (size_t i = 0; i < r->nunexplained; i++) {
		const struct unexplained *u = &r->unexplained[i];
		size_t listed = sizeof u->first / sizeof *u->first;

		fprintf(out,
			"  process %lld (%s) has %zu %s that no spawn line "
			"explains (pids ",
			u->proc->pid,
			u->proc->exe ? base(u->proc->exe) : "forked", u->n,
			u->n == 1 ? "child" : "children");
		for (size_t j = 0; j < u->n && j < listed; j++)
			fprintf(out, "%s%lld", j ? " " : "", u->first[j]);
		fputs(u->n > listed ? " ...)" : ")", out);
		fputs(": their exit, wait or start lines are in the trace, "
		      "their creation is not (made by a raw clone system call, "
		      "or the trace was cut off).\n",
		      out);
	}
}

void report_text(struct report *r)
{
	FILE *out = r->out;

	fprintf(out, "childwatch report: %s: %zu events from %zu processes\n",
		r->path, r->nevents, r->nprocs);
	for (size_t i = 0; i < r->nbad && i < BAD_LINES_LISTED; i++)
		fprintf(out, "  line %zu skipped: %s\n", r->bad[i].line,
			r->bad[i].why);
	if (r->nbad > BAD_LINES_LISTED)
		fprintf(out, "  ... %zu more lines skipped\n",
			r->nbad - BAD_LINES_LISTED);
	check_print(r);
	fprintf(out, "\nVerdict: %zu lost", report_count(r, LOST));
	if (r->failed_waits > report_count(r, LOST))
		fprintf(out, " (%zu failed waits)", r->failed_waits);
	fprintf(out, ", %zu zombies left, %zu thefts averted\n",
		report_count(r, ZOMBIE), report_count(r, AVERTED));
	section_print(r, LOST, "Lost children");
	section_print(r, AVERTED, "Thefts averted");
	section_print(r, REPLAYED, "Statuses kept for a late waiter");
	section_print(r, ZOMBIE, "Zombies left (exited, never waited for)");
	section_print(r, RUNNING, "Children still running at exit");
	section_print(r, REPLACED, "SIGCHLD handlers replaced");
	/* The tree of a long run is long: after what is wrong in it. */
	fputs("\nProcesses\n", out);
	/* Roots: processes whose parent the trace does not show. */
	for (size_t i = 0; i < r->nprocs; i++) {
		struct proc *p = r->proc_list[i];

		if (!p->printed && !report_kid_find(r, p->ppid, p->pid))
			proc_print(r, p, 1);
	}
	if (r->nsites)
		fputs("\nCall sites\n", out);
	for (size_t i = 0; i < r->nsites; i++) {
		const struct site_count *s = &r->sites[i];

		fprintf(out, "  %6zu %-5s %-12s ", s->n, s->kind,
			s->call ? s->call : "?");
		site_print(out, &s->site);
		fputc('\n', out);
	}
	if (r->nlatencies)
		fprintf(out,
			"\nExit to consumption (%zu children): p50 %.1f us, "
			"p90 %.1f us, p99 %.1f us, max %.1f us\n",
			r->nlatencies, report_percentile(r, 50) / 1e3,
			report_percentile(r, 90) / 1e3,
			report_percentile(r, 99) / 1e3,
			r->latencies[r->nlatencies - 1] / 1e3);
}
