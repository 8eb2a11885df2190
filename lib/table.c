/* SPDX-License-Identifier: MIT */
/*
 * The child table. It is used from waits that a signal handler may make,
 * so it never calls malloc: entries and buckets come from mmap.
 */
#include <string.h>
#include <sys/single_threaded.h>

#include "locks.h"
#include "sys.h"
#include "table.h"

/* Consumed statuses kept for late waits, oldest dropped first. */
#define RECORDS_MAX 4096
#define SLAB_BYTES (64 * 1024)
#define BUCKETS_MIN 1024
/* With the table and its first entries, on the page written first. */
#define BUCKETS_FIRST 64

struct cw__list {
	struct cw__child *head, *tail;
	atomic_size_t len; /* read without the lock too */
};

struct cw__table {
	pthread_mutex_t lock;
	/* Bumped on every change a blocked wait may care about; futex word. */
	_Atomic uint32_t seq;
	atomic_uint sleepers; /* threads asleep on seq */
	atomic_uint fd_sleepers; /* and on the wake descriptor */
	struct cw__child **buckets;
	size_t nbuckets;
	struct cw__list running, ready, records;
	struct cw__child *free;
	/* The current slab's entries never used: taken one at a time, so
	 * that a process with one child writes one page of it, not all. */
	struct cw__child *unused, *unused_end;
	uint32_t next_gen;
	/* Children not yet consumed, and those of them the program's: read
	 * without the lock too. */
	atomic_size_t children, program_children;
	size_t unwatched;	 /* running children no watcher reports */
	/* The thread that created every child so far, until a second one
	 * does: waits for any child then follow the kernel's per-thread
	 * order. */
	pid_t one_creator;
	bool many_creators;
	pid_t pid; /* this process's, once a creation asked */
	/* Creations between the kernel's and our table's knowing of a pid. */
	atomic_int creating;
};

#define TABLE_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }

/* The table with its first buckets and entries: for the process that
 * forks once (every sh -c of a build), one mapping, not three, and one
 * page written, not three. */
struct cw__table_first {
	struct cw__table t;
	struct cw__child *buckets[BUCKETS_FIRST];
	struct cw__child slab[SLAB_BYTES / sizeof(struct cw__child)];
};

/*
 * The table, in pages of its own that read as zeros in every child
 * (MADV_WIPEONFORK): there it is an empty table, TABLE_INIT being all
 * zeros, whether the child came from fork, _Fork or a clone the shim never
 * saw. The parent's lock and lists are written for each child it records,
 * and a page shared with a child would be copied when written. Made on
 * first use; spare serves when no such page can be had.
 */
CW_HOT static struct cw__table *_Atomic table;
static struct cw__table spare = TABLE_INIT;
/* An eventfd written on every change while fd_sleepers sleep on it (with
 * pidfds, in one epoll), or -1. Out of the table: a child closes its
 * parent's. */
CW_HOT static _Atomic int wake_fd = -1;

CW_PARENT_CODE static struct cw__table *table_get(void)
{
	struct cw__table *t = atomic_load(&table), *fresh;
	struct cw__table_first *first;

	if (t)
		return t;
	first = cw__sys_pages(sizeof *first, true);
	fresh = first ? &first->t : &spare;
	if (atomic_compare_exchange_strong(&table, &t, fresh))
		return fresh;
	/* A thread, or a handler on this one, made it first. */
	if (first)
		cw__sys_pages_put(first, sizeof *first);
	return t;
}

/* What was mapped with t, or NULL for spare. Read for what it holds, not
 * kept in t: a child's t reads as zeros, and still has it. */
static struct cw__table_first *first_of(struct cw__table *t)
{
	return t == &spare ? NULL : (struct cw__table_first *)t;
}

CW_PARENT_CODE void cw__table_lock(sigset_t *saved)
{
	cw__signals_block(saved);
	pthread_mutex_lock(&table_get()->lock);
}

CW_PARENT_CODE void cw__table_unlock(const sigset_t *saved)
{
	pthread_mutex_unlock(&table_get()->lock);
	cw__signals_restore(saved);
}

CW_PARENT_CODE void cw__table_masked_lock(void)
{
	pthread_mutex_lock(&table_get()->lock);
}

CW_PARENT_CODE void cw__table_masked_unlock(void)
{
	pthread_mutex_unlock(&table_get()->lock);
}

CW_PARENT_CODE uint32_t cw__table_seq(void)
{
	return atomic_load(&table_get()->seq);
}

CW_PARENT_CODE CW_RAW_HANDLER void cw__table_changed(void)
{
	struct cw__table *t = atomic_load(&table);

	/* No table yet: nobody sleeps on it. */
	if (!t)
		return;
	atomic_fetch_add(&t->seq, 1);
	/* A sleeper that registers after this look sees the new seq in its
	 * futex call and does not sleep. */
	if (atomic_load(&t->sleepers))
		cw__futex_wake_all(&t->seq);
	if (atomic_load(&t->fd_sleepers))
		cw__sys_eventfd_signal(atomic_load(&wake_fd));
}

int cw__table_sleep(uint32_t seq, int timeout_ms)
{
	struct cw__table *t = table_get();
	int r;

	atomic_fetch_add(&t->sleepers, 1);
	r = cw__futex_wait(&t->seq, seq, timeout_ms);
	atomic_fetch_sub(&t->sleepers, 1);
	return r;
}

int cw__table_wake_fd(void)
{
	int fd = atomic_load(&wake_fd);

	if (fd < 0) {
		fd = cw__fd_park(cw__sys_eventfd());
		if (fd >= 0)
			atomic_store(&wake_fd, fd);
	}
	return fd;
}

int cw__table_sleep_fd(int ep, uint32_t seq)
{
	struct cw__table *t = table_get();
	int r = 0;

	atomic_fetch_add(&t->fd_sleepers, 1);
	/* A change from here on writes the wake descriptor, which ep holds
	 * edge-triggered: it is seen even if it comes before the sleep. */
	if (atomic_load(&t->seq) == seq)
		r = cw__sys_epoll_wait_one(ep);
	atomic_fetch_sub(&t->fd_sleepers, 1);
	return r < 0 ? r : 0;
}

/* c leaves the running state, or the table: what waits opened on it goes. */
static void child_leave_running(struct cw__child *c)
{
	if (c->wait_fd >= 0) {
		cw__sys_close(c->wait_fd);
		c->wait_fd = -1;
	}
}

static struct cw__list *list_of(enum cw__state state)
{
	switch (state) {
	case CHILD_RUNNING:
		return &table_get()->running;
	case CHILD_CONSUMED:
		return &table_get()->records;
	default:
		return &table_get()->ready;
	}
}

static void list_append(struct cw__list *l, struct cw__child *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->len++;
}

static void list_unlink(struct cw__list *l, struct cw__child *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	l->len--;
}

static size_t bucket_of(pid_t pid, size_t nbuckets)
{
	return (size_t)pid * 2654435761u & (nbuckets - 1);
}

/* Grows the buckets as children accumulate; without memory, chains grow. */
static void buckets_fit(size_t want)
{
	struct cw__table *t = table_get();
	struct cw__table_first *first = first_of(t);
	size_t n;
	struct cw__child **nb;

	if (!t->nbuckets && first) {
		t->buckets = first->buckets;
		t->nbuckets = BUCKETS_FIRST;
	}
	if (t->nbuckets >= want)
		return;
	n = t->nbuckets > BUCKETS_MIN ? t->nbuckets : BUCKETS_MIN;
	while (n < want)
		n *= 2;
	nb = cw__sys_pages(n * sizeof *nb, true);
	if (!nb)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct cw__child *c, *next;

		for (c = t->buckets[i]; c; c = next) {
			size_t b = bucket_of(c->pid, n);

			next = c->hash_next;
			c->hash_next = nb[b];
			nb[b] = c;
		}
	}
	if (t->buckets && !(first && t->buckets == first->buckets))
		cw__sys_pages_put(t->buckets, t->nbuckets * sizeof *t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

static struct cw__child *child_alloc(void)
{
	struct cw__table *t = table_get();
	struct cw__child *c = t->free;

	if (c) {
		t->free = c->next;
		return c;
	}
	if (t->unused == t->unused_end) {
		struct cw__table_first *first = first_of(t);
		/* No entry taken yet: the slab mapped with t is whole. */
		struct cw__child *slab = !t->unused && first
						 ? first->slab
						 : cw__sys_pages(SLAB_BYTES, true);

		if (!slab)
			return NULL;
		t->unused = slab;
		t->unused_end = slab + SLAB_BYTES / sizeof *slab;
	}
	return t->unused++;
}

CW_PARENT_CODE struct cw__child *cw__table_find(pid_t pid)
{
	struct cw__table *t = table_get();
	struct cw__child *c;

	if (!t->nbuckets)
		return NULL;
	c = t->buckets[bucket_of(pid, t->nbuckets)];
	while (c && c->pid != pid)
		c = c->hash_next;
	return c;
}

CW_PARENT_CODE struct cw__child *cw__table_running_first(void)
{
	return table_get()->running.head;
}

CW_PARENT_CODE struct cw__child *cw__table_ready_first(void)
{
	return table_get()->ready.head;
}

struct cw__child *cw__table_records_first(void)
{
	return table_get()->records.head;
}

/* None makes the table: where there is none, there is no child. */
CW_PARENT_CODE bool cw__table_children(void)
{
	struct cw__table *t = atomic_load(&table);

	return t && atomic_load(&t->children) > 0;
}

CW_PARENT_CODE bool cw__table_program_children(void)
{
	struct cw__table *t = atomic_load(&table);

	return t && atomic_load(&t->program_children) > 0;
}

CW_PARENT_CODE bool cw__table_ready_none(void)
{
	struct cw__table *t = atomic_load(&table);

	return !t || atomic_load(&t->ready.len) == 0;
}

bool cw__table_unwatched_any(void)
{
	return table_get()->unwatched > 0;
}

/* With one thread, the process's first, whose id is the pid: asked once
 * per process, as a child's table is a new one. */
static pid_t creator_tid(struct cw__table *t)
{
	if (!__libc_single_threaded)
		return cw__sys_gettid();
	if (!t->pid)
		t->pid = cw__sys_getpid();
	return t->pid;
}

CW_PARENT_CODE void cw__table_creator(struct cw__child *c)
{
	struct cw__table *t = table_get();
	pid_t tid = creator_tid(t);

	c->creator_tid = tid;
	if (!t->one_creator)
		t->one_creator = tid;
	else if (t->one_creator != tid)
		t->many_creators = true;
}

CW_PARENT_CODE bool cw__table_many_creators(void)
{
	return table_get()->many_creators;
}

CW_PARENT_CODE void cw__table_creating_begin(void)
{
	atomic_fetch_add(&table_get()->creating, 1);
}

CW_PARENT_CODE bool cw__table_creating_end(void)
{
	return atomic_fetch_sub(&table_get()->creating, 1) == 1;
}

CW_PARENT_CODE bool cw__table_creating(void)
{
	struct cw__table *t = atomic_load(&table);

	return t && atomic_load(&t->creating) > 0;
}

uint64_t cw__table_key(const struct cw__child *c)
{
	return (uint64_t)c->gen << 32 | (uint32_t)c->pid;
}

struct cw__child *cw__table_running(uint64_t key)
{
	struct cw__child *c = cw__table_find((pid_t)(key & 0xffffffff));

	if (c && c->gen == key >> 32 && c->state == CHILD_RUNNING)
		return c;
	return NULL;
}

static size_t live_count(void)
{
	const struct cw__table *t = table_get();

	return t->running.len + t->ready.len + t->records.len;
}

CW_PARENT_CODE struct cw__child *cw__table_add(pid_t pid, enum cw__owner owner,
					       pthread_t creator)
{
	struct cw__table *t = table_get();
	struct cw__child *c = cw__table_find(pid);
	size_t b;

	if (c)
		cw__table_remove(c);
	buckets_fit(live_count() + 1);
	c = child_alloc();
	if (!c || !t->nbuckets)
		return NULL;
	memset(c, 0, sizeof *c);
	c->pid = pid;
	c->owner = owner;
	c->creator = creator;
	c->gen = ++t->next_gen;
	c->pidfd = -1;
	c->program_pidfd = -1;
	c->wait_fd = -1;
	c->state = CHILD_RUNNING;
	b = bucket_of(pid, t->nbuckets);
	c->hash_next = t->buckets[b];
	t->buckets[b] = c;
	list_append(&t->running, c);
	t->unwatched++;
	t->children++;
	if (owner == CW_OWNER_PROGRAM)
		t->program_children++;
	return c;
}

CW_PARENT_CODE void cw__table_move(struct cw__child *c, enum cw__state state)
{
	struct cw__table *t = table_get();

	if (c->state == CHILD_RUNNING && !c->watched)
		t->unwatched--;
	if (state != CHILD_RUNNING)
		child_leave_running(c);
	list_unlink(list_of(c->state), c);
	if (state == CHILD_CONSUMED)
		t->children--;
	if (state == CHILD_CONSUMED && c->owner == CW_OWNER_PROGRAM)
		t->program_children--;
	c->state = state;
	list_append(list_of(state), c);
	if (t->records.len > RECORDS_MAX)
		cw__table_remove(t->records.head);
	cw__table_changed();
}

CW_PARENT_CODE void cw__table_remove(struct cw__child *c)
{
	struct cw__table *t = table_get();
	struct cw__child **pp = &t->buckets[bucket_of(c->pid, t->nbuckets)];

	while (*pp != c)
		pp = &(*pp)->hash_next;
	*pp = c->hash_next;
	if (c->state == CHILD_RUNNING && !c->watched)
		t->unwatched--;
	child_leave_running(c);
	if (c->state != CHILD_CONSUMED)
		t->children--;
	if (c->state != CHILD_CONSUMED && c->owner == CW_OWNER_PROGRAM)
		t->program_children--;
	list_unlink(list_of(c->state), c);
	c->next = t->free;
	t->free = c;
	cw__table_changed();
}

void cw__table_own(struct cw__child *c, enum cw__owner owner)
{
	struct cw__table *t = table_get();
	bool counted = c->state != CHILD_CONSUMED;

	if (counted && c->owner == CW_OWNER_PROGRAM)
		t->program_children--;
	c->owner = owner;
	if (counted && owner == CW_OWNER_PROGRAM)
		t->program_children++;
	cw__table_changed();
}

void cw__table_watched(struct cw__child *c)
{
	if (!c->watched) {
		c->watched = true;
		table_get()->unwatched--;
	}
}

void cw__table_unwatched(struct cw__child *c)
{
	if (c->watched) {
		c->watched = false;
		table_get()->unwatched++;
		cw__table_changed();
	}
}

CW_CHILD_CODE void cw__table_reset(void)
{
	int fd = atomic_load(&wake_fd);

	/* The table's own page is empty here already (see table). */
	if (atomic_load(&table) == &spare)
		spare = (struct cw__table)TABLE_INIT;
	/* Shared with the parent: its sleepers are not ours to wake. Written
	 * only when set, for a write copies the page in every child. */
	if (fd >= 0) {
		cw__sys_close(fd);
		atomic_store(&wake_fd, -1);
	}
}
