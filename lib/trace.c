/* SPDX-License-Identifier: MIT */
/*
 * The trace writer. Every emitter is async-signal-safe and fork-safe (it
 * may run in a SIGCHLD handler's wait or in a vfork child): lines are built
 * in a buffer on the stack and leave in one write(2). The one exception is
 * dladdr(), which takes the loader's recursive lock; a handler that
 * interrupts the same thread inside the loader re-enters it rather than
 * deadlocks.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"
#include "trace.h"

#define LINE_BYTES 4096
/* Room kept after a string for the fields that close the line. */
#define LINE_TAIL 512
/* Pids named in an exit event; the counts are always whole. */

atomic_int cw__trace_fd = -1;

/* The file opened, to tell it from whatever a program that closed our
 * descriptor later got under the same number. */
static dev_t trace_dev;
static ino_t trace_ino;
static const char *trace_mode = "off";
/* Mapped once a trace opens: in .bss, it would take a mapping of its own in
 * every process, traced or not. */
static char *trace_exe = "";

struct line {
	char buf[LINE_BYTES];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (n > sizeof l->buf - l->len)
		n = sizeof l->buf - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_c(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void put_key(struct line *l, const char *key)
{
	put_c(l, ",\"");
	put_c(l, key);
	put_c(l, "\":");
}

static void put_num(struct line *l, long long v)
{
	char digits[24], *p = digits + sizeof digits;
	unsigned long long u =
		v < 0 ? -(unsigned long long)v : (unsigned long long)v;

	do
		*--p = '0' + u % 10;
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	put(l, p, digits + sizeof digits - p);
}

static void put_int(struct line *l, const char *key, long long v)
{
	put_key(l, key);
	put_num(l, v);
}

static void put_bool(struct line *l, const char *key, bool v)
{
	put_key(l, key);
	put_c(l, v ? "true" : "false");
}

/* Length of the well-formed UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
		 : s[0] >= 0xe0			? 3
		 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
						: 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string of s, cut so that LINE_TAIL bytes stay free; bytes that
 * are not UTF-8 become U+FFFD. */
static void put_quoted(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t end = sizeof l->buf - LINE_TAIL;

	put_c(l, "\"");
	while (*p && l->len < end) {
		char esc[7] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
		size_t n;

		if (*p == '"' || *p == '\\') {
			esc[1] = *p++;
			put(l, esc, 2);
		} else if (*p < 0x20) {
			p++;
			put(l, esc, 6);
		} else if (*p < 0x80) {
			put(l, (const char *)p++, 1);
		} else if ((n = utf8_len(p))) {
			put(l, (const char *)p, n);
			p += n;
		} else {
			p++;
			put_c(l, "\\ufffd");
		}
	}
	put_c(l, "\"");
}

static void put_str(struct line *l, const char *key, const char *s)
{
	put_key(l, key);
	if (s)
		put_quoted(l, s);
	else
		put_c(l, "null");
}

/* Where code is: object, dynamic symbol (null for a static function) and
 * offset from the symbol, or from the object's base without one. */
static void put_site(struct line *l, const char *key, const void *addr)
{
	Dl_info info;

	put_key(l, key);
	if (!addr || !dladdr(addr, &info)) {
		put_c(l, "{\"obj\":null,\"sym\":null,\"off\":");
		put_num(l, (long long)(uintptr_t)addr);
		put_c(l, "}");
		return;
	}
	put_c(l, "{\"obj\":");
	/* The main program's link map has no name. */
	put_quoted(l, info.dli_fname && *info.dli_fname ? info.dli_fname
							: trace_exe);
	put_str(l, "sym", info.dli_sname);
	put_int(l, "off",
		(const char *)addr - (const char *)(info.dli_sname
							    ? info.dli_saddr
							    : info.dli_fbase));
	put_c(l, "}");
}

static void put_status(struct line *l, const siginfo_t *si)
{
	put_key(l, "status");
	switch (si->si_code) {
	case CLD_EXITED:
		put_c(l, "{\"how\":\"exited\"");
		put_int(l, "code", si->si_status);
		break;
	case CLD_KILLED:
	case CLD_DUMPED:
		put_c(l, "{\"how\":\"killed\"");
		put_int(l, "signal", si->si_status);
		put_bool(l, "core", si->si_code == CLD_DUMPED);
		break;
	case CLD_STOPPED:
		put_c(l, "{\"how\":\"stopped\"");
		put_int(l, "signal", si->si_status);
		break;
	case CLD_TRAPPED:
		put_c(l, "{\"how\":\"trapped\"");
		put_int(l, "signal", si->si_status);
		break;
	default:
		put_c(l, "{\"how\":\"continued\"");
		break;
	}
	put_c(l, "}");
}

struct flag_name {
	int flag;
	const char *name;
};

static void put_flags(struct line *l, const char *key, int flags,
		      const struct flag_name *names, size_t n)
{
	const char *sep = "[";

	put_key(l, key);
	for (size_t i = 0; i < n; i++) {
		if (!(flags & names[i].flag))
			continue;
		put_c(l, sep);
		put_quoted(l, names[i].name);
		sep = ",";
	}
	put_c(l, *sep == '[' ? "[]" : "]");
}

#define FLAG(f) { f, #f }

static void put_wait_options(struct line *l, int options)
{
	static const struct flag_name names[] = {
		FLAG(WNOHANG),	   FLAG(WUNTRACED),	 FLAG(WEXITED),
		FLAG(WCONTINUED),  FLAG(WNOWAIT),	 FLAG(__WNOTHREAD),
		FLAG(__WCLONE),	   FLAG(__WALL),
	};

	put_flags(l, "options", options, names, sizeof names / sizeof *names);
}

static void put_disposition(struct line *l, const char *key,
			    const struct sigaction *sa)
{
	static const struct flag_name names[] = {
		FLAG(SA_NOCLDSTOP), FLAG(SA_NOCLDWAIT), FLAG(SA_SIGINFO),
		FLAG(SA_ONSTACK),   FLAG(SA_RESTART),	FLAG(SA_NODEFER),
		FLAG(SA_RESETHAND),
	};

	put_key(l, key);
	put_c(l, "{\"handler\":");
	if (sa->sa_handler == SIG_DFL)
		put_c(l, "\"SIG_DFL\"");
	else if (sa->sa_handler == SIG_IGN)
		put_c(l, "\"SIG_IGN\"");
	else
		put_c(l, "\"function\"");
	if (sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN)
		put_site(l, "function", (const void *)sa->sa_handler);
	put_flags(l, "flags", sa->sa_flags, names, sizeof names / sizeof *names);
	put_c(l, "}");
}

static long long clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void line_begin(struct line *l, const char *event)
{
	l->len = 0;
	put_c(l, "{\"v\":");
	put_num(l, CW_TRACE_VERSION);
	put_str(l, "ev", event);
	put_int(l, "t", clock_ns(CLOCK_MONOTONIC));
	put_int(l, "wall", clock_ns(CLOCK_REALTIME));
	put_int(l, "pid", getpid());
	put_int(l, "ppid", getppid());
	put_int(l, "tid", cw__sys_gettid());
	put_str(l, "mode", trace_mode);
}

/* A program may have closed our descriptor and got the number back for a
 * file of its own: never write there. Asked again at every line and never
 * answered by storing -1 in cw__trace_fd: a vfork child (Python's
 * _posixsubprocess after close_fds, posix_spawn's file actions) shares the
 * parent's memory but not its descriptors, and a store made there would
 * end the trace of the parent, which still holds the file. */
static bool trace_still_ours(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == trace_dev &&
	       st.st_ino == trace_ino;
}

static void line_end(struct line *l)
{
	int saved_errno = errno;
	int fd = atomic_load(&cw__trace_fd);

	put_c(l, "}\n");
	/* Cut short: end it as a line still, which the reader reports. */
	if (l->len == sizeof l->buf)
		l->buf[l->len - 1] = '\n';
	if (fd >= 0 && trace_still_ours(fd))
		write(fd, l->buf, l->len);
	cw__errno_restore(saved_errno);
}

void cw__trace_open(const char *path)
{
	int saved_errno = errno;
	struct stat st;
	char *exe;
	ssize_t n;
	int fd;

	exe = cw__sys_pages(PATH_MAX, false);
	if (exe) {
		n = readlink("/proc/self/exe", exe, PATH_MAX - 1);
		exe[n > 0 ? n : 0] = '\0';
		trace_exe = exe;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	if (fd < 0) {
		struct line l = { .len = 0 };

		put_c(&l, "childwatch: cannot trace to '");
		put(&l, path, strnlen(path, PATH_MAX));
		put_c(&l, errno == ELOOP ? "': it is a symbolic link"
			  : errno == EINVAL ? "': not a regular file"
					    : "': ");
		if (errno != ELOOP && errno != EINVAL)
			put_c(&l, strerror(errno));
		put_c(&l, "; set CHILDWATCH_TRACE to a regular file's path\n");
		write(STDERR_FILENO, l.buf, l.len);
		cw__errno_restore(saved_errno);
		return;
	}
	fd = cw__fd_park(fd);
	if (fd >= 0) {
		trace_dev = st.st_dev;
		trace_ino = st.st_ino;
		atomic_store(&cw__trace_fd, fd);
	}
	cw__errno_restore(saved_errno);
}

void cw__trace_start(enum cw__mode asked, enum cw__mode mode,
		     const struct sigaction *inherited)
{
	char args[LINE_BYTES - LINE_TAIL];
	struct line l;
	ssize_t n = 0;
	int fd;

	if (!cw__trace_on())
		return;
	trace_mode = cw__mode_name(mode);
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, args, sizeof args - 1);
		cw__sys_close(fd);
	}
	args[n > 0 ? n : 0] = '\0';
	line_begin(&l, "start");
	put_str(&l, "mode_asked", cw__mode_name(asked));
	put_str(&l, "exe", trace_exe);
	put_key(&l, "argv");
	put_c(&l, "[");
	for (char *a = args; a < args + n && l.len < sizeof l.buf - LINE_TAIL;
	     a += strlen(a) + 1) {
		if (a != args)
			put_c(&l, ",");
		put_quoted(&l, a);
	}
	put_c(&l, "]");
	put_disposition(&l, "sigchld", inherited);
	line_end(&l);
}

static void put_caller(struct line *l, const struct cw__caller *by)
{
	put_str(l, "call", by->call);
	put_site(l, "site", by->site);
}

void cw__trace_spawn(pid_t child, const struct cw__caller *by,
		     const char *command)
{
	struct line l;

	if (!cw__trace_on())
		return;
	line_begin(&l, "spawn");
	put_int(&l, "child", child);
	put_caller(&l, by);
	if (command)
		put_str(&l, "command", command);
	line_end(&l);
}

static void child_event(const char *event, pid_t child, const siginfo_t *si)
{
	struct line l;

	if (!cw__trace_on())
		return;
	line_begin(&l, event);
	put_int(&l, "child", child);
	if (si)
		put_status(&l, si);
	line_end(&l);
}

void cw__trace_exited(pid_t child, const siginfo_t *si)
{
	child_event("child_exit", child, si);
}

void cw__trace_reaped(pid_t child, const siginfo_t *si)
{
	child_event("reap", child, si);
}

void cw__trace_vanished(pid_t child)
{
	child_event("vanished", child, NULL);
}

/* waitid's arguments, or wait4's pid and options. */
static void put_wait_args(struct line *l, const struct cw__wait_args *a)
{
	static const char *const idtypes[] = { "P_ALL", "P_PID", "P_PGID",
					       "P_PIDFD" };
	unsigned idtype = a->idtype;

	put_key(l, "args");
	if (a->waitid) {
		put_c(l, "{\"idtype\":");
		put_quoted(l, idtype < sizeof idtypes / sizeof *idtypes
				      ? idtypes[idtype]
				      : "?");
		put_int(l, "id", a->id);
	} else {
		put_c(l, "{\"pid\":");
		put_num(l, a->id);
	}
	put_wait_options(l, a->options);
	put_c(l, "}");
}

static void wait_begin(struct line *l, const char *event,
		       const struct cw__caller *by,
		       const struct cw__wait_args *args, pid_t child)
{
	line_begin(l, event);
	put_int(l, "child", child);
	put_caller(l, by);
	put_wait_args(l, args);
}

void cw__trace_waited(const struct cw__caller *by,
		      const struct cw__wait_args *args, pid_t child,
		      const siginfo_t *si)
{
	struct line l;
	int code = si->si_code;
	bool exit = code == CLD_EXITED || code == CLD_KILLED ||
		    code == CLD_DUMPED;

	if (!cw__trace_on())
		return;
	wait_begin(&l, "wait", by, args, child);
	put_status(&l, si);
	/* An exit not left for a later wait is consumed: the child is gone. */
	put_bool(&l, "consumed", exit && !(args->options & WNOWAIT));
	line_end(&l);
}

void cw__trace_lost(const struct cw__caller *by,
		    const struct cw__wait_args *args, pid_t child)
{
	struct line l;

	if (!cw__trace_on())
		return;
	wait_begin(&l, "lost", by, args, child);
	put_str(&l, "error", "ECHILD");
	line_end(&l);
}

static void put_who(struct line *l, const char *key,
		    const struct cw__caller *who)
{
	put_key(l, key);
	put_c(l, "{\"call\":");
	put_quoted(l, who->call ? who->call : "unknown");
	put_site(l, "site", who->site);
}

void cw__trace_averted(const struct cw__caller *by,
		       const struct cw__wait_args *args, pid_t child,
		       const struct cw__caller *owner)
{
	struct line l;

	if (!cw__trace_on())
		return;
	wait_begin(&l, "theft_averted", by, args, child);
	put_who(&l, "owner", owner);
	put_c(&l, "}");
	line_end(&l);
}

void cw__trace_replayed(const struct cw__caller *by,
			const struct cw__wait_args *args, pid_t child,
			const struct cw__consumer *taken)
{
	struct line l;

	if (!cw__trace_on())
		return;
	wait_begin(&l, "replay", by, args, child);
	put_who(&l, "consumer", &taken->by);
	put_wait_args(&l, &taken->args);
	put_int(&l, "tid", taken->tid);
	put_c(&l, "}");
	line_end(&l);
}

void cw__trace_sigchld(const struct cw__caller *by,
		       const struct sigaction *old,
		       const struct sigaction *now)
{
	struct line l;

	if (!cw__trace_on())
		return;
	line_begin(&l, "sigchld");
	put_caller(&l, by);
	put_disposition(&l, "old", old);
	put_disposition(&l, "new", now);
	line_end(&l);
}

void cw__trace_exec(const struct cw__caller *by, const char *path,
		    char *const argv[], int error)
{
	struct line l;

	if (!cw__trace_on())
		return;
	line_begin(&l, error ? "exec_failed" : "exec");
	put_caller(&l, by);
	put_str(&l, "path", path);
	put_str(&l, "argv0", argv ? argv[0] : NULL);
	if (error)
		put_str(&l, "error", strerrorname_np(error));
	line_end(&l);
}

static void put_pids(struct line *l, const char *key,
		     const struct cw__pids *p)
{
	put_key(l, key);
	put_c(l, "[");
	for (size_t i = 0; i < p->n && i < CW_PIDS_LISTED; i++) {
		if (i)
			put_c(l, ",");
		put_num(l, p->listed[i]);
	}
	put_c(l, "]");
}

void cw__trace_exit(const struct cw__census *left)
{
	struct line l;

	line_begin(&l, "exit");
	put_int(&l, "running", left->running.n);
	put_pids(&l, "running_pids", &left->running);
	put_int(&l, "unwaited", left->zombies.n);
	put_pids(&l, "unwaited_pids", &left->zombies);
	line_end(&l);
}
