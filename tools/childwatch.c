/* SPDX-License-Identifier: MIT */
/*
 * childwatch: run a program with the shim preloaded in a chosen mode, and
 * read the traces it leaves (report, diagnose).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mode.h"
#include "report.h"

#ifndef CW_LIBDIR
#define CW_LIBDIR "/usr/local/lib"
#endif

extern char **environ;

static pid_t child;

static const char usage[] =
	"usage: childwatch [-m|--mode MODE] [-t|--trace FILE] [--] PROGRAM [ARGS...]\n"
	"       childwatch report [--json] FILE\n"
	"       childwatch diagnose [--json] [--keep] [--] PROGRAM [ARGS...]\n"
	"Runs PROGRAM with libchildwatch preloaded, so that one owner reaps\n"
	"its children and no wait can take another's child.\n"
	"  -m, --mode MODE   " CW_MODE_LIST " (default: CHILDWATCH_MODE, or pidfd)\n"
	"  -t, --trace FILE  write the lifecycle of every child, in every\n"
	"                    process of the tree, to FILE (JSON Lines)\n"
	"  -h, --help        this text; childwatch report --help for the others\n"
	"Exits with PROGRAM's status, or 128+N when signal N killed it.\n";

static const char report_usage[] =
	"usage: childwatch report [--json] FILE\n"
	"Reads a trace (CHILDWATCH_TRACE=FILE, or childwatch --trace FILE) and\n"
	"prints the process tree with each child's spawn site, exit and\n"
	"consumer; every lost child with victim and thief; zombies left and\n"
	"children still running at exit; SIGCHLD handlers replaced; counts per\n"
	"call site; exit-to-consumption latency.\n"
	"  --json      the same as one JSON document\n"
	"  -h, --help  this text\n"
	"Exits 0 when nothing was lost or left a zombie, 1 when something was,\n"
	"2 for a usage error or a trace with no events.\n";

static const char diagnose_usage[] =
	"usage: childwatch diagnose [--json] [--keep] [--] PROGRAM [ARGS...]\n"
	"Runs PROGRAM as it is (mode off: nothing mediated) with a temporary\n"
	"trace, then prints the report on stderr: what to run first on a\n"
	"program that loses children.\n"
	"  --json      the report as JSON\n"
	"  --keep      keep the trace and print its path\n"
	"  -h, --help  this text\n"
	"Exits with PROGRAM's status, or 128+N when signal N killed it.\n";

/* The library beside this program (the build tree), or the installed one. */
static int library_find(char *path, size_t size)
{
	char self[PATH_MAX];
	const char *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n > 0) {
		self[n] = '\0';
		dir = dirname(self);
		snprintf(path, size, "%s/libchildwatch.so", dir);
		if (access(path, R_OK) == 0)
			return 0;
		snprintf(path, size, "%s/../lib/libchildwatch.so", dir);
		if (access(path, R_OK) == 0)
			return 0;
	}
	snprintf(path, size, "%s/libchildwatch.so", CW_LIBDIR);
	return access(path, R_OK);
}

static int preload_add(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *value;
	int r;

	if (!old || !*old)
		return setenv("LD_PRELOAD", lib, 1);
	if (asprintf(&value, "%s %s", lib, old) < 0)
		return -1;
	r = setenv("LD_PRELOAD", value, 1);
	free(value);
	return r;
}

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/* Spawns PROGRAM with the shim preloaded; its status as childwatch's. */
static int program_run(char **argv)
{
	struct sigaction fwd = { .sa_handler = forward };
	const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
	char lib[PATH_MAX];
	int status;

	if (!argv[0]) {
		fprintf(stderr, "childwatch: no program given; try: childwatch -- PROGRAM [ARGS...]\n");
		return 2;
	}
	if (library_find(lib, sizeof lib) < 0) {
		fprintf(stderr, "childwatch: libchildwatch.so not found beside this program or in %s; run make, or make install\n",
			CW_LIBDIR);
		return 2;
	}
	if (preload_add(lib) < 0) {
		perror("childwatch: LD_PRELOAD");
		return 2;
	}
	/* The program is the one that should hear the terminal's signals;
	 * we only pass on those aimed at us alone. */
	sigemptyset(&fwd.sa_mask);
	for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
		sigaction(forwarded[i], &fwd, NULL);
	errno = posix_spawnp(&child, argv[0], NULL, NULL, argv, environ);
	if (errno) {
		fprintf(stderr, "childwatch: cannot run '%s': %s\n", argv[0],
			strerror(errno));
		return errno == ENOENT ? 127 : 126;
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			perror("childwatch: waitpid");
			return 2;
		}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * A fresh, empty trace at path, named absolutely in CHILDWATCH_TRACE so
 * that processes that change directory still find it. A symbolic link is
 * refused, as the shim refuses it.
 */
static int trace_prepare(const char *path)
{
	char abs[PATH_MAX];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      0600);

	if (fd < 0) {
		fprintf(stderr, "childwatch: cannot write trace '%s': %s\n",
			path, errno == ELOOP ? "it is a symbolic link"
					     : strerror(errno));
		return -1;
	}
	close(fd);
	if (!realpath(path, abs)) {
		fprintf(stderr, "childwatch: trace '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	return setenv("CHILDWATCH_TRACE", abs, 1);
}

/*
 * The options report and diagnose share; keep is NULL for report, which
 * has no --keep. -1 to go on, or the status to exit with.
 */
static int options_read(int argc, char **argv, const char *command,
			const char *usage_text, bool *json, bool *keep)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (opt == 'j') {
			*json = true;
		} else if (opt == 'k' && keep) {
			*keep = true;
		} else if (opt == 'h') {
			fputs(usage_text, stdout);
			return 0;
		} else {
			fprintf(stderr, "childwatch %s: unknown option '%s'; see childwatch %s --help\n",
				command, argv[optind - 1], command);
			return 2;
		}
	}
	return -1;
}

static int report_main(int argc, char **argv)
{
	bool json = false;
	int r = options_read(argc, argv, "report", report_usage, &json, NULL);

	if (r >= 0)
		return r;
	if (argc - optind != 1) {
		fprintf(stderr, "childwatch: report takes one trace file; try: childwatch report FILE\n");
		return REPORT_ERROR;
	}
	return report_run(argv[optind], json, stdout);
}

static int diagnose_main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	bool json = false, keep = false;
	char path[PATH_MAX];
	int fd, status;
	int r = options_read(argc, argv, "diagnose", diagnose_usage, &json,
			     &keep);

	if (r >= 0)
		return r;
	if (optind == argc) {
		fprintf(stderr, "childwatch: no program given; try: childwatch diagnose -- PROGRAM [ARGS...]\n");
		return 2;
	}
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(path, sizeof path, "%s/childwatch-trace.XXXXXX", tmp);
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "childwatch: cannot create a trace in %s: %s; set TMPDIR to a writable directory\n",
			tmp, strerror(errno));
		return 2;
	}
	close(fd);
	setenv("CHILDWATCH_MODE", "off", 1);
	if (trace_prepare(path) < 0)
		return 2;
	status = program_run(argv + optind);
	fflush(stdout);
	report_run(path, json, stderr);
	if (keep)
		fprintf(stderr, "childwatch: trace kept in %s\n", path);
	else
		unlink(path);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "trace", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum cw__mode mode;
	int opt;

	if (argc > 1 && !strcmp(argv[1], "report"))
		return report_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "diagnose"))
		return diagnose_main(argc - 1, argv + 1);
	while ((opt = getopt_long(argc, argv, "+m:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (cw__mode_parse(optarg, &mode) < 0) {
				fprintf(stderr,
					"childwatch: '%s' is not a mode; use one of %s\n",
					optarg, CW_MODE_LIST);
				return 2;
			}
			setenv("CHILDWATCH_MODE", optarg, 1);
			break;
		case 't':
			if (trace_prepare(optarg) < 0)
				return 2;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	return program_run(argv + optind);
}
