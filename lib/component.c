/* SPDX-License-Identifier: MIT */
/* Async-signal-safe: open, read and close only, into pages mapped once. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "component.h"
#include "sys.h"

/* Executable mappings remembered; a process with more falls back to
 * "same component" for the sites beyond them. */
#define RANGES_MAX 1024

struct range {
	uintptr_t start, end;
	uint64_t object; /* device and inode, or the start of anonymous code */
};

/* Out of .bss, which would otherwise take a mapping of its own in every
 * process, forking or not: made on the first look. */
struct maps {
	struct range ranges[RANGES_MAX];
	char buf[8192];
};

static struct maps *maps;
static size_t nranges;

static uint64_t hex(const char **p)
{
	uint64_t v = 0;

	for (;; (*p)++) {
		char ch = **p;

		if (ch >= '0' && ch <= '9')
			v = v * 16 + (uint64_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v * 16 + (uint64_t)(ch - 'a' + 10);
		else
			return v;
	}
}

static uint64_t dec(const char **p)
{
	uint64_t v = 0;

	for (; **p >= '0' && **p <= '9'; (*p)++)
		v = v * 10 + (uint64_t)(**p - '0');
	return v;
}

/* "start-end perms offset major:minor inode path": executable ones only,
 * since a call site is code. */
static void line_parse(const char *p)
{
	struct range r;
	uint64_t major, minor, inode;
	bool exec;

	if (nranges == RANGES_MAX)
		return;
	r.start = hex(&p);
	if (*p++ != '-')
		return;
	r.end = hex(&p);
	if (*p++ != ' ' || !p[0] || !p[1] || !p[2])
		return;
	exec = p[2] == 'x';
	p += 4;
	while (*p == ' ')
		p++;
	hex(&p); /* offset */
	p++;
	major = hex(&p);
	p++;
	minor = hex(&p);
	p++;
	inode = dec(&p);
	if (!exec)
		return;
	r.object = inode ? (major << 52 | minor << 32) ^ inode : r.start;
	maps->ranges[nranges++] = r;
}

static void ranges_load(void)
{
	int saved_errno = errno;
	size_t have = 0;
	ssize_t n;
	char *buf;
	int fd;

	if (!maps && !(maps = cw__sys_pages(sizeof *maps, false)))
		return;
	buf = maps->buf;
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	nranges = 0;
	while ((n = read(fd, buf + have, sizeof maps->buf - 1 - have)) > 0) {
		char *line = buf, *nl;

		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*nl = '\0';
			line_parse(line);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		/* A line longer than the buffer: drop it. */
		if (have == sizeof maps->buf - 1)
			have = 0;
	}
	cw__sys_close(fd);
out:
	cw__errno_restore(saved_errno);
}

static bool object_of(const void *site, uint64_t *object)
{
	uintptr_t a = (uintptr_t)site;

	for (size_t i = 0; i < nranges; i++) {
		if (a >= maps->ranges[i].start && a < maps->ranges[i].end) {
			*object = maps->ranges[i].object;
			return true;
		}
	}
	return false;
}

CW_PARENT_CODE bool cw__same_component(const void *a, const void *b)
{
	uint64_t oa, ob;

	if (!a || !b || a == b)
		return true;
	/* An object loaded since the last look: look again, once. */
	if (!object_of(a, &oa) || !object_of(b, &ob)) {
		ranges_load();
		if (!object_of(a, &oa) || !object_of(b, &ob))
			return true;
	}
	return oa == ob;
}
