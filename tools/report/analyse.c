/* SPDX-License-Identifier: MIT */
/* Joins what the events say of each child and process into findings. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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
	p = report_zalloc(sizeof *p);
	p->pid = pid;
	p->ppid = -1;
	p->hash_next = r->procs[b];
	r->procs[b] = p;
	r->proc_list = report_grow(r->proc_list, r->nprocs, sizeof *r->proc_list);
	r->proc_list[r->nprocs++] = p;
	return p;
}

struct proc *report_proc_find(struct report *r, long long pid)
{
	size_t b = hash(pid, 0) % (sizeof r->procs / sizeof *r->procs);
	struct proc *p;

	for (p = r->procs[b]; p && p->pid != pid; p = p->hash_next)
		;
	return p;
}

struct kid *report_kid_find(const struct report *r, long long parent,
			    long long pid)
{
	size_t b = hash(parent, pid) % (sizeof r->kids / sizeof *r->kids);
	struct kid *k;

	for (k = r->kids[b]; k; k = k->hash_next)
		if (k->parent == parent && k->pid == pid)
			return k;
	return NULL;
}

struct kid *report_kid_get(struct report *r, long long parent, long long pid)
{
	size_t b = hash(parent, pid) % (sizeof r->kids / sizeof *r->kids);
	struct proc *p;
	struct kid *k;

	for (k = r->kids[b]; k; k = k->hash_next)
		if (k->parent == parent && k->pid == pid)
			return k;
	k = report_zalloc(sizeof *k);
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

struct site report_site_of(const struct json *v)
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
		report_site_of(json_get(ev, "site")),
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

	r->findings = report_grow(r->findings, r->nfindings, sizeof *r->findings);
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
	r->sites = report_grow(r->sites, r->nsites, sizeof *r->sites);
	r->sites[r->nsites++] = (struct site_count){ kind, c->name, c->site, 1 };
}

static bool has_flag(const struct json *flags, const char *name)
{
	for (size_t i = 0; flags && i < flags->len; i++)
		if (flags->items[i].str && !strcmp(flags->items[i].str, name))
			return true;
	return false;
}

static struct disposition disposition_of(const struct json *sa)
{
	const char *handler = json_str(sa, "handler");
	struct disposition d = { .known = handler != NULL };

	d.sig_ign = handler && !strcmp(handler, "SIG_IGN");
	d.ignoring =
	    d.sig_ign || has_flag(json_get(sa, "flags"), "SA_NOCLDWAIT");
	return d;
}

/* exec resets a handler and every flag, and keeps SIG_IGN. */
static struct disposition disposition_exec(struct disposition d)
{
	d.ignoring = d.sig_ign;
	return d;
}

static void on_sigchld(struct report *r, struct proc *p,
		       const struct json *ev)
{
	const struct json *old = json_get(ev, "old"), *now = json_get(ev, "new");
	const char *was = json_str(old, "handler"), *is = json_str(now, "handler");
	struct finding *f;

	p->sigchld.now = disposition_of(now);
	p->sigchld.changed = true;
	/* A handler replacing another: a component silently took SIGCHLD
	 * from one that expected it. Inherited over fork, it is the same. */
	if (was && is && !strcmp(was, "function") && !strcmp(is, "function")) {
		struct site a = report_site_of(json_get(old, "function"));
		struct site b = report_site_of(json_get(now, "function"));

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

static void on_start(struct proc *p, const struct json *ev)
{
	const struct json *inherited = json_get(ev, "sigchld");

	p->exe = json_str(ev, "exe");
	p->argv = json_get(ev, "argv");
	p->mode = json_str(ev, "mode");
	p->ppid = json_int(ev, "ppid", -1);
	p->exited = false;
	p->execed = true;
	/* Traces written before start recorded it have no "sigchld". */
	if (inherited)
		p->sigchld.now = disposition_of(inherited);
	else if (p->sigchld.now.known)
		p->sigchld.now = disposition_exec(p->sigchld.now);
	p->sigchld.changed = false;
}

/* A wait's args name child by its pid. */
static bool waits_by_pid(const struct json *args, long long child)
{
	const char *idtype = json_str(args, "idtype");

	if (idtype)
		return !strcmp(idtype, "P_PID") &&
		       json_int(args, "id", -1) == child;
	return json_int(args, "pid", -1) == child;
}

/* Two sites in one loaded object: one component. */
static bool same_object(const struct site *a, const struct site *b)
{
	return a->obj && b->obj && !strcmp(a->obj, b->obj);
}

/* A child is counted once however many waits for it failed (libuv and
 * multiprocessing poll each of theirs again and again). A wait that fails
 * after its own component consumed the child by pid lost nothing: it had
 * the status (a loop that waits until ECHILD), as bare. */
static void on_lost(struct report *r, struct proc *p, const struct json *ev)
{
	long long child = json_int(ev, "child", -1);
	struct kid *k = report_kid_get(r, p->pid, child);
	struct call by = call_of(ev);
	struct finding *f;

	if (k->consumed && k->consumer_by_pid &&
	    same_object(&k->consumer.site, &by.site))
		return;
	r->failed_waits++;
	if (k->lost) {
		r->findings[k->lost - 1].failed_waits++;
		return;
	}
	f = finding_add(r, LOST, p->pid, child);
	f->by = by;
	f->at = p->sigchld.now;
	f->failed_waits = 1;
	k->lost = r->nfindings;
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
		on_start(p, ev);
	} else if (!strcmp(name, "exit")) {
		p->exited = true;
		p->exit = ev;
	} else if (!strcmp(name, "spawn")) {
		k = report_kid_get(r, pid, child);
		k->spawned = true;
		k->spawn = call_of(ev);
		k->command = json_str(ev, "command");
		k->inherited = p->sigchld.now;
		site_count(r, "spawn", &k->spawn);
	} else if (!strcmp(name, "child_exit") || !strcmp(name, "reap")) {
		k = report_kid_get(r, pid, child);
		k->evidence = true;
		k->status = json_get(ev, "status");
		if (!k->exit_seen) {
			k->exit_seen = true;
			k->exit_t = json_int(ev, "t", 0);
		}
	} else if (!strcmp(name, "wait")) {
		const struct json *consumed = json_get(ev, "consumed");

		k = report_kid_get(r, pid, child);
		k->evidence = true;
		if (!consumed || !consumed->boolean)
			return;
		k->consumed = true;
		k->consumer = call_of(ev);
		k->consumer_by_pid = waits_by_pid(json_get(ev, "args"), child);
		k->status = json_get(ev, "status");
		site_count(r, "wait", &k->consumer);
	} else if (!strcmp(name, "vanished")) {
		k = report_kid_get(r, pid, child);
		k->vanished = true;
		k->evidence = true;
	} else if (!strcmp(name, "lost")) {
		on_lost(r, p, ev);
	} else if (!strcmp(name, "theft_averted")) {
		f = finding_add(r, AVERTED, pid, child);
		f->by = call_of(ev);
		f->info = json_get(ev, "owner");
	} else if (!strcmp(name, "replay")) {
		const struct json *consumer = json_get(ev, "consumer");

		f = finding_add(r, REPLAYED, pid, child);
		f->by = call_of(ev);
		f->other.name = json_str(consumer, "call");
		f->other.site = report_site_of(json_get(consumer, "site"));
		f->other.tid = json_int(consumer, "tid", 0);
		f->other.args = json_get(consumer, "args");
		f->other.pid = pid;
	} else if (!strcmp(name, "sigchld")) {
		on_sigchld(r, p, ev);
	}
}

static int latency_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* SIGCHLD's disposition as q found it when it began: its start says so,
 * else its parent's when it spawned q, else (a parent that never changed
 * its own) the one its parent began with. */
static struct disposition inherited(struct report *r, const struct proc *q,
				    int depth)
{
	struct disposition none = { .known = false }, d = none;
	const struct kid *k = report_kid_find(r, q->ppid, q->pid);
	const struct proc *parent = report_proc_find(r, q->ppid);

	if (depth > DEPTH_MAX)
		return none;
	if (k && k->spawned && k->inherited.known)
		d = k->inherited;
	else if (parent && parent != q && !parent->sigchld.changed)
		d = inherited(r, parent, depth + 1);
	return d.known && q->execed ? disposition_exec(d) : d;
}

bool report_kernel_reaped(const struct finding *f)
{
	return f->at.known && f->at.ignoring;
}

/* The exit event's lists: zombies and children left running. */
static void exit_findings(struct report *r, struct proc *p)
{
	static const struct {
		const char *key;
		enum finding_kind kind;
	} lists[] = {{"unwaited_pids", ZOMBIE}, {"running_pids", RUNNING}};

	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
		const struct json *pids = json_get(p->exit, lists[i].key);

		for (size_t j = 0; pids && j < pids->len; j++) {
			long long pid = pids->items[j].integer;
			struct finding *f =
			    finding_add(r, lists[i].kind, p->pid, pid);

			f->kid = report_kid_get(r, p->pid, pid);
			f->kid->evidence = true;
		}
	}
}

/* A process whose parent is in the trace belongs under it in the tree,
 * spawn line or not; without one it is a sign of events missed. */
static void adopt(struct report *r, struct proc *p)
{
	struct proc *parent = report_proc_find(r, p->ppid);

	if (parent && parent != p)
		report_kid_get(r, p->ppid, p->pid)->evidence = true;
}

static void check_spawns(struct report *r, struct proc *p)
{
	struct unexplained u = { .proc = p };

	for (const struct kid *k = p->kids; k; k = k->next) {
		if (k->spawned || !k->evidence)
			continue;
		if (u.n < sizeof u.first / sizeof *u.first)
			u.first[u.n] = k->pid;
		u.n++;
	}
	if (!u.n)
		return;
	r->unexplained = report_grow(r->unexplained, r->nunexplained,
				     sizeof *r->unexplained);
	r->unexplained[r->nunexplained++] = u;
}

static void latencies_add(struct report *r, const struct proc *p)
{
	for (const struct kid *k = p->kids; k; k = k->next) {
		if (!k->exit_seen || !k->consumed || k->consumer.t < k->exit_t)
			continue;
		r->latencies = report_grow(r->latencies, r->nlatencies,
					   sizeof *r->latencies);
		r->latencies[r->nlatencies++] = k->consumer.t - k->exit_t;
	}
}

/* Joins what the events say of each child and process into findings. */
void report_analyse(struct report *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		on_event(r, r->events[i]);
	for (size_t i = 0; i < r->nfindings; i++) {
		struct finding *f = &r->findings[i];

		if (f->kind == REPLACED)
			continue;
		f->kid = report_kid_get(r, f->process, f->child);
		if (f->kind != LOST)
			continue;
		if (f->kid->consumed)
			f->other = f->kid->consumer;
		/* It had not set SIGCHLD itself: a forked worker ignores
		 * it if its parent did when it forked. */
		if (!f->at.known)
			f->at = inherited(r, report_proc_find(r, f->process),
					  0);
	}
	for (size_t i = 0; i < r->nprocs; i++) {
		exit_findings(r, r->proc_list[i]);
		adopt(r, r->proc_list[i]);
	}
	for (size_t i = 0; i < r->nprocs; i++) {
		check_spawns(r, r->proc_list[i]);
		latencies_add(r, r->proc_list[i]);
	}
	if (r->nlatencies)
		qsort(r->latencies, r->nlatencies, sizeof *r->latencies,
		      latency_cmp);
}

size_t report_count(const struct report *r, enum finding_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nfindings; i++)
		n += r->findings[i].kind == kind;
	return n;
}

long long report_percentile(const struct report *r, int pct)
{
	size_t i = (r->nlatencies * pct + 99) / 100;

	return r->latencies[i ? i - 1 : 0];
}
