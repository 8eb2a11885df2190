/* SPDX-License-Identifier: MIT */
/*
 * The child table. It is used from waits that a signal handler may make,
 * so it never calls malloc: entries and buckets come from mmap.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "locks.h"
#include "sys.h"
#include "table.h"

/* Consumed statuses kept for late waits, oldest dropped first. */
#define RECORDS_MAX 4096
#define SLAB_BYTES (64 * 1024)
#define BUCKETS_MIN 1024

struct cw__list {
	struct cw__child *head, *tail;
	size_t len;
};

struct cw__table {
	pthread_mutex_t lock;
	/* Bumped on every change a blocked wait may care about; futex word. */
	_Atomic uint32_t seq;
	atomic_uint sleepers; /* threads asleep on seq */
	/* An eventfd written on every change while fd_sleepers sleep on it
	 * (with pidfds, in one epoll), or -1. */
	_Atomic int wake_fd;
	atomic_uint fd_sleepers;
	struct cw__child **buckets;
	size_t nbuckets;
	struct cw__list running, ready, records;
	struct cw__child *free;
	uint32_t next_gen;
	size_t program_children; /* the program's, not yet consumed */
	size_t unwatched;	 /* running children no watcher reports */
	/* The thread that created every child so far, until a second one
	 * does: waits for any child then follow the kernel's per-thread
	 * order. */
	pid_t one_creator;
	bool many_creators;
	/* Creations between the kernel's and our table's knowing of a pid. */
	atomic_int creating;
};


CW_HOT static struct cw__table cw__table = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake_fd = -1,
};

/*
 * Entries and buckets stay out of forked children (MADV_DONTFORK): a child
 * starts a table of its own and never reads its parent's, and pages fork
 * does not share are pages the parent does not copy when it next writes
 * them, as it does on each child it records. A child made past fork and
 * _Fork (a raw clone) is reset by the syscall() interposer.
 */
static void *pages_get(size_t bytes)
{
	int saved_errno = errno;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		madvise(p, bytes, MADV_DONTFORK);
	cw__errno_restore(saved_errno);
	return p == MAP_FAILED ? NULL : p;
}

static void pages_put(void *p, size_t bytes)
{
	int saved_errno = errno;

	munmap(p, bytes);
	cw__errno_restore(saved_errno);
}

void cw__table_lock(sigset_t *saved)
{
	cw__signals_block(saved);
	pthread_mutex_lock(&cw__table.lock);
}

void cw__table_unlock(const sigset_t *saved)
{
	pthread_mutex_unlock(&cw__table.lock);
	cw__signals_restore(saved);
}

void cw__table_fork_take(void)
{
	pthread_mutex_lock(&cw__table.lock);
}

void cw__table_fork_release(void)
{
	pthread_mutex_unlock(&cw__table.lock);
}

uint32_t cw__table_seq(void)
{
	return atomic_load(&cw__table.seq);
}

CW_RAW_HANDLER void cw__table_changed(void)
{
	atomic_fetch_add(&cw__table.seq, 1);
	/* A sleeper that registers after this look sees the new seq in its
	 * futex call and does not sleep. */
	if (atomic_load(&cw__table.sleepers))
		cw__futex_wake_all(&cw__table.seq);
	if (atomic_load(&cw__table.fd_sleepers))
		cw__sys_eventfd_signal(atomic_load(&cw__table.wake_fd));
}

int cw__table_sleep(uint32_t seq, int timeout_ms)
{
	int r;

	atomic_fetch_add(&cw__table.sleepers, 1);
	r = cw__futex_wait(&cw__table.seq, seq, timeout_ms);
	atomic_fetch_sub(&cw__table.sleepers, 1);
	return r;
}

int cw__table_wake_fd(void)
{
	int fd = atomic_load(&cw__table.wake_fd);

	if (fd < 0) {
		fd = cw__fd_park(cw__sys_eventfd());
		if (fd >= 0)
			atomic_store(&cw__table.wake_fd, fd);
	}
	return fd;
}

int cw__table_sleep_fd(int ep, uint32_t seq)
{
	int r = 0;

	atomic_fetch_add(&cw__table.fd_sleepers, 1);
	/* A change from here on writes the wake descriptor, which ep holds
	 * edge-triggered: it is seen even if it comes before the sleep. */
	if (atomic_load(&cw__table.seq) == seq)
		r = cw__sys_epoll_wait_one(ep);
	atomic_fetch_sub(&cw__table.fd_sleepers, 1);
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
		return &cw__table.running;
	case CHILD_CONSUMED:
		return &cw__table.records;
	default:
		return &cw__table.ready;
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
	struct cw__table *t = &cw__table;
	size_t n = t->nbuckets ? t->nbuckets : BUCKETS_MIN;
	struct cw__child **nb;

	while (n < want)
		n *= 2;
	if (n == t->nbuckets)
		return;
	nb = pages_get(n * sizeof *nb);
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
	if (t->buckets)
		pages_put(t->buckets, t->nbuckets * sizeof *t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

static struct cw__child *child_alloc(void)
{
	struct cw__table *t = &cw__table;
	struct cw__child *c;

	if (!t->free) {
		struct cw__child *slab = pages_get(SLAB_BYTES);

		if (!slab)
			return NULL;
		for (size_t i = 0; i < SLAB_BYTES / sizeof *slab; i++) {
			slab[i].next = t->free;
			t->free = &slab[i];
		}
	}
	c = t->free;
	t->free = c->next;
	return c;
}

struct cw__child *cw__table_find(pid_t pid)
{
	struct cw__child *c;

	if (!cw__table.nbuckets)
		return NULL;
	c = cw__table.buckets[bucket_of(pid, cw__table.nbuckets)];
	while (c && c->pid != pid)
		c = c->hash_next;
	return c;
}

struct cw__child *cw__table_running_first(void)
{
	return cw__table.running.head;
}

struct cw__child *cw__table_ready_first(void)
{
	return cw__table.ready.head;
}

struct cw__child *cw__table_records_first(void)
{
	return cw__table.records.head;
}

bool cw__table_program_children(void)
{
	return cw__table.program_children > 0;
}

bool cw__table_unwatched_any(void)
{
	return cw__table.unwatched > 0;
}

void cw__table_creator(struct cw__child *c, pid_t tid)
{
	c->creator_tid = tid;
	if (!cw__table.one_creator)
		cw__table.one_creator = tid;
	else if (cw__table.one_creator != tid)
		cw__table.many_creators = true;
}

bool cw__table_many_creators(void)
{
	return cw__table.many_creators;
}

void cw__table_creating_begin(void)
{
	atomic_fetch_add(&cw__table.creating, 1);
}

bool cw__table_creating_end(void)
{
	return atomic_fetch_sub(&cw__table.creating, 1) == 1;
}

bool cw__table_creating(void)
{
	return atomic_load(&cw__table.creating) > 0;
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
	return cw__table.running.len + cw__table.ready.len +
	       cw__table.records.len;
}

struct cw__child *cw__table_add(pid_t pid, enum cw__owner owner,
				pthread_t creator)
{
	struct cw__table *t = &cw__table;
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
	if (owner == CW_OWNER_PROGRAM)
		t->program_children++;
	return c;
}

void cw__table_move(struct cw__child *c, enum cw__state state)
{
	struct cw__table *t = &cw__table;

	if (c->state == CHILD_RUNNING && !c->watched)
		t->unwatched--;
	if (state != CHILD_RUNNING)
		child_leave_running(c);
	list_unlink(list_of(c->state), c);
	if (state == CHILD_CONSUMED && c->owner == CW_OWNER_PROGRAM)
		t->program_children--;
	c->state = state;
	list_append(list_of(state), c);
	if (t->records.len > RECORDS_MAX)
		cw__table_remove(t->records.head);
	cw__table_changed();
}

void cw__table_remove(struct cw__child *c)
{
	struct cw__table *t = &cw__table;
	struct cw__child **pp = &t->buckets[bucket_of(c->pid, t->nbuckets)];

	while (*pp != c)
		pp = &(*pp)->hash_next;
	*pp = c->hash_next;
	if (c->state == CHILD_RUNNING && !c->watched)
		t->unwatched--;
	child_leave_running(c);
	if (c->state != CHILD_CONSUMED && c->owner == CW_OWNER_PROGRAM)
		t->program_children--;
	list_unlink(list_of(c->state), c);
	c->next = t->free;
	t->free = c;
	cw__table_changed();
}

void cw__table_own(struct cw__child *c, enum cw__owner owner)
{
	bool counted = c->state != CHILD_CONSUMED;

	if (counted && c->owner == CW_OWNER_PROGRAM)
		cw__table.program_children--;
	c->owner = owner;
	if (counted && owner == CW_OWNER_PROGRAM)
		cw__table.program_children++;
	cw__table_changed();
}

void cw__table_watched(struct cw__child *c)
{
	if (!c->watched) {
		c->watched = true;
		cw__table.unwatched--;
	}
}

void cw__table_unwatched(struct cw__child *c)
{
	if (c->watched) {
		c->watched = false;
		cw__table.unwatched++;
		cw__table_changed();
	}
}

CW_CHILD_CODE void cw__table_reset(void)
{
	struct cw__table *t = &cw__table;

	/* The parent's entries and buckets are not mapped here (see
	 * pages_get): the child starts a table of its own. */
	cw__mutex_reset(&t->lock);
	memset(&t->running, 0, sizeof t->running);
	memset(&t->ready, 0, sizeof t->ready);
	memset(&t->records, 0, sizeof t->records);
	t->free = NULL;
	t->buckets = NULL;
	t->nbuckets = 0;
	t->program_children = 0;
	t->unwatched = 0;
	t->one_creator = 0;
	t->many_creators = false;
	atomic_store(&t->creating, 0);
	/* Shared with the parent: its sleepers are not ours to wake. */
	if (atomic_load(&t->wake_fd) >= 0)
		cw__sys_close(atomic_load(&t->wake_fd));
	atomic_store(&t->wake_fd, -1);
	atomic_store(&t->fd_sleepers, 0);
	atomic_store(&t->sleepers, 0);
}
