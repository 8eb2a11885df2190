/* SPDX-License-Identifier: MIT */
/*
 * Names the function, and the file and line, of a site the trace could
 * only give as an offset: dladdr sees dynamic symbols alone, so a static
 * function, or any function of an executable not linked with -rdynamic,
 * is "prog (+0x1457)". The shim stays as it is; the CLI reads the object's
 * ELF headers and, when it has a symbol table or debug info, asks
 * addr2line, or says how to when there is none on PATH.
 */
#include <elf.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

bool report_symbols = true;

struct named {
	char *obj;
	long long off;
	char *text; /* NULL: nothing to say */
};

static struct named *cache;
static size_t ncache;

static bool read_at(int fd, void *buf, size_t n, off_t at)
{
	return pread(fd, buf, n, at) == (ssize_t)n;
}

/* The address the loader mapped at dladdr's base (the lowest PT_LOAD's,
 * to the page), and whether there is anything to name functions by. */
static bool elf_inspect(const char *path, unsigned long long *base)
{
	unsigned long long lowest = ~0ULL;
	long page = sysconf(_SC_PAGESIZE);
	bool named = false;
	Elf64_Ehdr eh;
	Elf64_Shdr names;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (!read_at(fd, &eh, sizeof eh, 0) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shstrndx >= eh.e_shnum ||
	    !read_at(fd, &names, sizeof names,
		     eh.e_shoff + (off_t)eh.e_shstrndx * eh.e_shentsize))
		goto out_close;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (!read_at(fd, &ph, sizeof ph,
			     eh.e_phoff + (off_t)i * eh.e_phentsize))
			goto out_close;
		if (ph.p_type == PT_LOAD && ph.p_vaddr < lowest)
			lowest = ph.p_vaddr;
	}
	for (unsigned i = 0; i < eh.e_shnum && !named; i++) {
		Elf64_Shdr sh;
		char name[16] = "";

		if (!read_at(fd, &sh, sizeof sh,
			     eh.e_shoff + (off_t)i * eh.e_shentsize))
			goto out_close;
		if (pread(fd, name, sizeof name - 1,
			  names.sh_offset + sh.sh_name) < 0)
			goto out_close;
		named =
		    sh.sh_type == SHT_SYMTAB || !strcmp(name, ".debug_info");
	}
	*base = lowest == ~0ULL ? 0 : lowest & ~(unsigned long long)(page - 1);
out_close:
	close(fd);
	return named;
}

static bool on_path(const char *program)
{
	const char *path = getenv("PATH");
	char full[4096];

	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, ":");

		snprintf(full, sizeof full, "%.*s/%s", (int)n, n ? p : ".",
			 program);
		if (access(full, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* addr2line -f -e obj addr: the function on one line, file:line on the
 * next ("??" for what it does not know). */
static char *addr2line(const char *obj, unsigned long long addr)
{
	char hex[32], out[1024],
	    *argv[] = {"addr2line", "-f", "-C", "-e", (char *)obj, hex, NULL};
	posix_spawn_file_actions_t fa;
	char *func, *loc, *text = NULL;
	size_t got = 0;
	ssize_t n;
	int pipefd[2], status;
	pid_t pid;

	snprintf(hex, sizeof hex, "%#llx", addr);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null",
					 O_WRONLY, 0);
	status = posix_spawnp(&pid, "addr2line", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	while (status == 0 && got < sizeof out - 1 &&
	       (n = read(pipefd[0], out + got, sizeof out - 1 - got)) > 0)
		got += n;
	close(pipefd[0]);
	if (status != 0 || waitpid(pid, &status, 0) < 0 || status != 0)
		return NULL;
	out[got] = '\0';
	func = strtok(out, "\n");
	loc = strtok(NULL, "\n");
	if (!func || !strcmp(func, "??"))
		return NULL;
	if (loc)
		loc[strcspn(loc, " ")] = '\0';
	if (loc && strncmp(loc, "??", 2)) {
		const char *slash = strrchr(loc, '/');

		if (asprintf(&text, "%s at %s", func, slash ? slash + 1 : loc) <
		    0)
			text = NULL;
	} else {
		text = strdup(func);
	}
	return text;
}

static char *name_site(const struct site *s)
{
	unsigned long long base = 0, addr;
	char *text = NULL;

	if (!elf_inspect(s->obj, &base))
		return NULL;
	/* The offset is of a return address: the call is the byte before. */
	addr = base + (unsigned long long)s->off - 1;
	if (on_path("addr2line"))
		return addr2line(s->obj, addr);
	if (asprintf(&text, "addr2line -f -e %s %#llx names it", s->obj, addr) <
	    0)
		return NULL;
	return text;
}

const char *report_site_name(const struct site *s)
{
	struct named *n;

	/* A relative path (the program's argv[0]) is taken from where the
	 * report runs, which is where the program ran as often as not. */
	if (!report_symbols || s->sym || !s->obj || !*s->obj || s->off <= 0)
		return NULL;
	for (size_t i = 0; i < ncache; i++)
		if (cache[i].off == s->off && !strcmp(cache[i].obj, s->obj))
			return cache[i].text;
	cache = report_grow(cache, ncache, sizeof *cache);
	n = &cache[ncache++];
	n->obj = strdup(s->obj);
	n->off = s->off;
	n->text = n->obj ? name_site(s) : NULL;
	if (!n->obj)
		ncache--;
	return n->obj ? n->text : NULL;
}

void report_site_names_free(void)
{
	for (size_t i = 0; i < ncache; i++) {
		free(cache[i].obj);
		free(cache[i].text);
	}
	free(cache);
	cache = NULL;
	ncache = 0;
}
