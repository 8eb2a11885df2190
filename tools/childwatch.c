/* SPDX-License-Identifier: MIT */
/* childwatch: run a program with the shim preloaded in a chosen mode. */
#include <errno.h>
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

#ifndef CW_LIBDIR
#define CW_LIBDIR "/usr/local/lib"
#endif

extern char **environ;

static pid_t child;

static const char usage[] =
	"usage: childwatch [-m|--mode MODE] [--] PROGRAM [ARGS...]\n"
	"Runs PROGRAM with libchildwatch preloaded, so that one owner reaps\n"
	"its children and no wait can take another's child.\n"
	"  -m, --mode MODE  " CW_MODE_LIST " (default: CHILDWATCH_MODE, or pidfd)\n"
	"  -h, --help       this text\n"
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sigaction fwd = { .sa_handler = forward };
	const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
	char lib[PATH_MAX];
	enum cw__mode mode;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "+m:h", longopts, NULL)) != -1) {
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
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "childwatch: no program given; try: childwatch -- PROGRAM [ARGS...]\n");
		return 2;
	}
	if (library_find(lib, sizeof lib) < 0) {
		fprintf(stderr, "childwatch: libchildwatch.so not found beside %s or in %s; run make, or make install\n",
			argv[0], CW_LIBDIR);
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
	errno = posix_spawnp(&child, argv[optind], NULL, NULL, argv + optind,
			     environ);
	if (errno) {
		fprintf(stderr, "childwatch: cannot run '%s': %s\n",
			argv[optind], strerror(errno));
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
