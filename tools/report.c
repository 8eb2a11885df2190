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

#include "json.h"
#include "report.h"

/* Unusable lines named one by one; the rest are counted. */
#define BAD_LINES_LISTED 20
/* Children listed under a process in the text tree, and findings of a
 * kind in the text; --json has them all. */
#define KIDS_LISTED 25
#define FINDINGS_LISTED 50

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

struct kid {
	long long parent, pid;
	bool spawned;
	struct call spawn;
	const char *command;
	const struct json *status;
	bool exit_seen;
	long long exit_t;
	bool consumed;
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
	struct {
		bool ignoring; /* SIG_IGN or SA_NOCLDWAIT */
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
	bool ignoring;		 /* SIGCHLD was SIG_IGN at a loss */
	struct kid *kid;
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
};

static void *grow(void *array, size_t n, size_t size)
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

static void *zalloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p) {
		fputs("childwatch: out of memory reading the trace\n", stderr);
		exit(REPORT_ERROR);
	}
	return p;
}

static size_t hash(long long a, long long b)
{
	return (size_t)((unsigned long long)a * 2654435761u ^
			(unsigned long long)b * 40503u);
}

static struct proc *proc_get(struct report *r, long long pid)
{
	size_t b = hash(pid, 0) % (sizeof r->procs / sizeof *r->procs);
	struct proc *p;

	for (p = r->procs[b]; p; p = p->hash_next)
		if (p->pid == pid)
			return p;
	p = zalloc(sizeof *p);
	p->pid = pid;
	p->ppid = -1;
	p->hash_next = r->procs[b];
	r->procs[b] = p;
	r->proc_list = grow(r->proc_list, r->nprocs, sizeof *r->proc_list);
	r->proc_list[r->nprocs++] = p;
	return p;
}

static struct proc *proc_find(struct report *r, long long pid)
{
	size_t b = hash(pid, 0) % (sizeof r->procs / sizeof *r->procs);
	struct proc *p;

	for (p = r->procs[b]; p && p->pid != pid; p = p->hash_next)
		;
	return p;
}

static struct kid *kid_find(const struct report *r, long long parent,
			    long long pid)
{
	size_t b = hash(parent, pid) % (sizeof r->kids / sizeof *r->kids);
	struct kid *k;

	for (k = r->kids[b]; k; k = k->hash_next)
		if (k->parent == parent && k->pid == pid)
			return k;
	return NULL;
}

static struct kid *kid_get(struct report *r, long long parent, long long pid)
{
	size_t b = hash(parent, pid) % (sizeof r->kids / sizeof *r->kids);
	struct proc *p;
	struct kid *k;

	for (k = r->kids[b]; k; k = k->hash_next)
		if (k->parent == parent && k->pid == pid)
			return k;
	k = zalloc(sizeof *k);
	k->parent = parent;
	k->pid = pid;
	k->hash_next = r->kids[b];
	r->kids[b] = k;
	p = proc_get(r, parent);
	if (p->kids_tail)
		p->kids_tail->next = k;
	else
		p->kids = k;
	p->kids_tail = k;
	p->nkids++;
	return k;
}

static struct site site_of(const struct json *v)
{
	struct site s = {
		json_str(v, "obj"),
		json_str(v, "sym"),
		json_int(v, "off", 0),
	};

	return s;
}

static struct call call_of(const struct json *ev)
{
	struct call c = {
		json_str(ev, "call"),
		site_of(json_get(ev, "site")),
		json_int(ev, "pid", 0),
		json_int(ev, "tid", 0),
		json_int(ev, "t", 0),
		json_get(ev, "args"),
	};

	return c;
}

static struct finding *finding_add(struct report *r, enum finding_kind kind,
				   long long process, long long child)
{
	struct finding *f;

	r->findings = grow(r->findings, r->nfindings, sizeof *r->findings);
	f = &r->findings[r->nfindings++];
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->process = process;
	f->child = child;
	return f;
}

static bool same_site(const struct site *a, const struct site *b)
{
	return a->off == b->off &&
	       !strcmp(a->obj ? a->obj : "", b->obj ? b->obj : "") &&
	       !strcmp(a->sym ? a->sym : "", b->sym ? b->sym : "");
}

static void site_count(struct report *r, const char *kind,
		       const struct call *c)
{
	struct site_count *s;

	for (size_t i = 0; i < r->nsites; i++) {
		s = &r->sites[i];
		if (s->kind == kind && !strcmp(s->call ? s->call : "",
					       c->name ? c->name : "") &&
		    same_site(&s->site, &c->site)) {
			s->n++;
			return;
		}
	}
	r->sites = grow(r->sites, r->nsites, sizeof *r->sites);
	r->sites[r->nsites++] = (struct site_count){ kind, c->name, c->site, 1 };
}

static void on_sigchld(struct report *r, struct proc *p,
		       const struct json *ev)
{
	const struct json *old = json_get(ev, "old"), *now = json_get(ev, "new");
	const struct json *flags = json_get(now, "flags");
	const char *was = json_str(old, "handler"), *is = json_str(now, "handler");
	struct finding *f;

	p->sigchld.ignoring = is && !strcmp(is, "SIG_IGN");
	for (size_t i = 0; flags && i < flags->len; i++)
		if (flags->items[i].str &&
		    !strcmp(flags->items[i].str, "SA_NOCLDWAIT"))
			p->sigchld.ignoring = true;
	/* A handler replacing another: a component silently took SIGCHLD
	 * from one that expected it. Inherited over fork, it is the same. */
	if (was && is && !strcmp(was, "function") && !strcmp(is, "function")) {
		struct site a = site_of(json_get(old, "function"));
		struct site b = site_of(json_get(now, "function"));

		if (!same_site(&a, &b)) {
			f = finding_add(r, REPLACED, p->pid, 0);
			f->by = call_of(ev);
			f->other = p->sigchld.installer;
			f->info = json_get(old, "function");
			f->info2 = json_get(now, "function");
		}
	}
	p->sigchld.installer = call_of(ev);
}

static void on_event(struct report *r, const struct json *ev)
{
	const char *name = json_str(ev, "ev");
	long long pid = json_int(ev, "pid", -1);
	long long child = json_int(ev, "child", -1);
	struct proc *p = proc_get(r, pid);
	struct finding *f;
	struct kid *k;

	if (p->ppid < 0)
		p->ppid = json_int(ev, "ppid", -1);
	if (!strcmp(name, "start")) {
		p->exe = json_str(ev, "exe");
		p->argv = json_get(ev, "argv");
		p->mode = json_str(ev, "mode");
		p->ppid = json_int(ev, "ppid", -1);
		p->exited = false;
	} else if (!strcmp(name, "exit")) {
		p->exited = true;
		p->exit = ev;
	} else if (!strcmp(name, "spawn")) {
		k = kid_get(r, pid, child);
		k->spawned = true;
		k->spawn = call_of(ev);
		k->command = json_str(ev, "command");
		site_count(r, "spawn", &k->spawn);
	} else if (!strcmp(name, "child_exit") || !strcmp(name, "reap")) {
		k = kid_get(r, pid, child);
		k->status = json_get(ev, "status");
		if (!k->exit_seen) {
			k->exit_seen = true;
			k->exit_t = json_int(ev, "t", 0);
		}
	} else if (!strcmp(name, "wait")) {
		const struct json *consumed = json_get(ev, "consumed");

		if (!consumed || !consumed->boolean)
			return;
		k = kid_get(r, pid, child);
		k->consumed = true;
		k->consumer = call_of(ev);
		k->status = json_get(ev, "status");
		site_count(r, "wait", &k->consumer);
	} else if (!strcmp(name, "vanished")) {
		kid_get(r, pid, child)->vanished = true;
	} else if (!strcmp(name, "lost")) {
		f = finding_add(r, LOST, pid, child);
		f->by = call_of(ev);
		f->ignoring = p->sigchld.ignoring;
	} else if (!strcmp(name, "theft_averted")) {
		f = finding_add(r, AVERTED, pid, child);
		f->by = call_of(ev);
		f->info = json_get(ev, "owner");
	} else if (!strcmp(name, "replay")) {
		const struct json *consumer = json_get(ev, "consumer");

		f = finding_add(r, REPLAYED, pid, child);
		f->by = call_of(ev);
		f->other.name = json_str(consumer, "call");
		f->other.site = site_of(json_get(consumer, "site"));
		f->other.tid = json_int(consumer, "tid", 0);
		f->other.args = json_get(consumer, "args");
		f->other.pid = pid;
	} else if (!strcmp(name, "sigchld")) {
		on_sigchld(r, p, ev);
	}
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
		r->events = grow(r->events, r->nevents, sizeof *r->events);
		r->events[r->nevents++] = ev;
	}
	free(text);
	fclose(f);
	return 0;
}

/* Joins what the events say of each child and process into findings. */
static void analyse(struct report *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		on_event(r, r->events[i]);
	for (size_t i = 0; i < r->nfindings; i++) {
		struct finding *f = &r->findings[i];

		if (f->kind == REPLACED)
			continue;
		f->kid = kid_get(r, f->process, f->child);
		if (f->kind == LOST && f->kid->consumed)
			f->other = f->kid->consumer;
	}
	for (size_t i = 0; i < r->nprocs; i++) {
		struct proc *p = r->proc_list[i];
		const struct json *zombies = json_get(p->exit, "unwaited_pids");
		const struct json *running = json_get(p->exit, "running_pids");

		for (size_t j = 0; zombies && j < zombies->len; j++)
			finding_add(r, ZOMBIE, p->pid, zombies->items[j].integer)
				->kid = kid_get(r, p->pid,
						zombies->items[j].integer);
		for (size_t j = 0; running && j < running->len; j++)
			finding_add(r, RUNNING, p->pid, running->items[j].integer)
				->kid = kid_get(r, p->pid,
						running->items[j].integer);
		for (struct kid *k = p->kids; k; k = k->next) {
			if (!k->exit_seen || !k->consumed ||
			    k->consumer.t < k->exit_t)
				continue;
			r->latencies = grow(r->latencies, r->nlatencies,
					    sizeof *r->latencies);
			r->latencies[r->nlatencies++] =
				k->consumer.t - k->exit_t;
		}
	}
}

static size_t count(const struct report *r, enum finding_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nfindings; i++)
		n += r->findings[i].kind == kind;
	return n;
}

/* ---- Words ---- */

static const char *base(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "?";
}

static void site_print(FILE *out, const struct site *s)
{
	fprintf(out, "%s (%s+%#llx)", base(s->obj), s->sym ? s->sym : "",
		s->off);
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

static void finding_print(FILE *out, const struct finding *f)
{
	const struct kid *k = f->kid;

	switch (f->kind) {
	case LOST:
		if (!k->spawned && !k->consumed) {
			call_print(out, &f->by);
			fputs(" in ", out);
			site_print(out, &f->by.site);
			fprintf(out, " failed with ECHILD: %lld is not a child "
				"process %lld started.\n", f->child, f->process);
			return;
		}
		fprintf(out, "child %lld, ", f->child);
		spawner_print(out, k);
		if (k->consumed) {
			fputs(", was taken by ", out);
			call_print(out, &k->consumer);
			fputs(" in ", out);
			site_print(out, &k->consumer.site);
			thread_print(out, &k->consumer);
		} else if (f->ignoring) {
			fputs(", was reaped by the kernel: SIGCHLD was "
			      "SIG_IGN or SA_NOCLDWAIT", out);
		} else {
			fputs(", was reaped where childwatch cannot see (a raw "
			      "wait4/waitid system call)", out);
		}
		fputs("; ", out);
		call_print(out, &f->by);
		fputs(" in ", out);
		site_print(out, &f->by.site);
		fputs(" then failed with ECHILD.\n", out);
		return;
	case AVERTED: {
		struct kid owner = { .spawned = true };

		owner.spawn.name = json_str(f->info, "call");
		owner.spawn.site = site_of(json_get(f->info, "site"));
		call_print(out, &f->by);
		fputs(" in ", out);
		site_print(out, &f->by.site);
		thread_print(out, &f->by);
		fprintf(out, " would have taken child %lld, ", f->child);
		spawner_print(out, &owner);
		fputs("; childwatch kept it for its owner.\n", out);
		return;
	}
	case REPLAYED:
		fprintf(out, "child %lld's status, taken first by ", f->child);
		call_print(out, &f->other);
		fputs(" in ", out);
		site_print(out, &f->other.site);
		thread_print(out, &f->other);
		fputs(", was kept and given to ", out);
		call_print(out, &f->by);
		fputs(" in ", out);
		site_print(out, &f->by.site);
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
		struct site was = site_of(f->info), is = site_of(f->info2);

		fprintf(out, "process %lld: SIGCHLD handler ", f->process);
		site_print(out, &is);
		fputs(", installed by ", out);
		call_print(out, &f->by);
		fputs(" in ", out);
		site_print(out, &f->by.site);
		fputs(", replaced handler ", out);
		site_print(out, &was);
		if (f->other.name) {
			fputs(" installed by ", out);
			call_print(out, &f->other);
			fputs(" in ", out);
			site_print(out, &f->other.site);
		}
		fputs(".\n", out);
		return;
	}
	}
}

/* ---- Text ---- */

static void argv_print(FILE *out, const struct json *argv)
{
	for (size_t i = 0; argv && i < argv->len; i++)
		fprintf(out, "%s%s", i ? " " : "",
			argv->items[i].str ? argv->items[i].str : "");
}

/* Past this a pid reused around the tree would print forever. */
#define DEPTH_MAX 40

static void proc_print(struct report *r, struct proc *p, int depth);

static void kid_print(struct report *r, const struct kid *k, int depth)
{
	struct proc *p = proc_find(r, k->pid);
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

static int latency_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static long long percentile(const struct report *r, int pct)
{
	size_t i = (r->nlatencies * pct + 99) / 100;

	return r->latencies[i ? i - 1 : 0];
}

static void section_print(const struct report *r, enum finding_kind kind,
			  const char *title)
{
	size_t n = count(r, kind), shown = 0;

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
		finding_print(r->out, &r->findings[i]);
	}
}

static void text_print(struct report *r)
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
	fputs("\nProcesses\n", out);
	/* Roots: processes whose creation the trace does not show. */
	for (size_t i = 0; i < r->nprocs; i++) {
		struct proc *p = r->proc_list[i];

		if (!p->printed && !kid_find(r, p->ppid, p->pid))
			proc_print(r, p, 1);
	}
	section_print(r, LOST, "Lost children");
	section_print(r, AVERTED, "Thefts averted");
	section_print(r, REPLAYED, "Statuses kept for a late waiter");
	section_print(r, ZOMBIE, "Zombies left (exited, never waited for)");
	section_print(r, RUNNING, "Children still running at exit");
	section_print(r, REPLACED, "SIGCHLD handlers replaced");
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
			r->nlatencies, percentile(r, 50) / 1e3,
			percentile(r, 90) / 1e3, percentile(r, 99) / 1e3,
			r->latencies[r->nlatencies - 1] / 1e3);
	fprintf(out, "\nVerdict: %zu lost, %zu zombies left, %zu thefts averted\n",
		count(r, LOST), count(r, ZOMBIE), count(r, AVERTED));
}

/* ---- JSON ---- */

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

static void json_print(const struct report *r)
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
		finding_print(mem, f);
		fclose(mem);
		if (size && sentence[size - 1] == '\n')
			sentence[size - 1] = '\0';
		fprintf(out, "%s{\"kind\":\"%s\",\"process\":%lld,\"child\":%lld,\"by\":",
			i ? "," : "", kinds[f->kind], f->process, f->child);
		jcall(out, &f->by);
		fputs(",\"other\":", out);
		jcall(out, &f->other);
		fputs(",\"sentence\":", out);
		jstr(out, sentence);
		fputc('}', out);
		free(sentence);
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
			percentile(r, 50), percentile(r, 90), percentile(r, 99),
			r->latencies[r->nlatencies - 1]);
	fprintf(out, "},\"lost\":%zu,\"zombies\":%zu,\"theft_averted\":%zu}\n",
		count(r, LOST), count(r, ZOMBIE), count(r, AVERTED));
}

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
	free(r);
}

int report_run(const char *path, bool json, FILE *out)
{
	struct report *r = zalloc(sizeof *r);
	int status;

	r->path = path;
	r->out = out;
	if (trace_read(r) < 0) {
		report_free(r);
		return REPORT_ERROR;
	}
	if (r->nevents == 0) {
		fprintf(stderr, "childwatch: '%s' holds no trace events (%zu lines, "
			"%zu unusable); run the program with CHILDWATCH_TRACE=%s "
			"or childwatch --trace %s\n",
			path, r->lines, r->nbad, path, path);
		report_free(r);
		return REPORT_ERROR;
	}
	analyse(r);
	if (r->nlatencies)
		qsort(r->latencies, r->nlatencies, sizeof *r->latencies,
		      latency_cmp);
	if (json)
		json_print(r);
	else
		text_print(r);
	status = count(r, LOST) || count(r, ZOMBIE) ? REPORT_FOUND
						     : REPORT_CLEAN;
	report_free(r);
	return status;
}
