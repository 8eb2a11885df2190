/* SPDX-License-Identifier: MIT */
/*
 * The worker: the driver re-executes itself as bench --run WORKLOAD CONFIG
 * COUNT LIST NOFILE, with the config's environment, and the worker runs the
 * workload once and writes its figures as one line to fd 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

/* 0 raises the soft limit to the hard one. */
static int nofile_set(long nofile)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		goto fail;
	if (nofile > 0 && (rlim_t)nofile < rl.rlim_max)
		rl.rlim_cur = nofile;
	else
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return 0;
fail:
	fprintf(stderr, "bench: RLIMIT_NOFILE: %s\n", strerror(errno));
	return -1;
}

/* A preload that failed to load would time bare libc under a mode's name,
 * and the wrong library the other's cost. */
static int preload_check(const char *config)
{
	static const char *const libs[] = { "/libchildwatch.so", "/empty.so" };
	bool want[2] = { strcmp(config, "bare") && strcmp(config, "empty"),
			 !strcmp(config, "empty") };
	bool have[2] = { false, false };
	char line[4096];
	FILE *maps = fopen("/proc/self/maps", "re");

	if (!maps) {
		fprintf(stderr, "bench: /proc/self/maps: %s\n",
			strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, maps))
		for (int i = 0; i < 2; i++)
			have[i] |= strstr(line, libs[i]) != NULL;
	fclose(maps);
	for (int i = 0; i < 2; i++) {
		if (want[i] == have[i])
			continue;
		fprintf(stderr, "bench: worker for %s %s %s loaded\n", config,
			have[i] ? "has" : "does not have", libs[i] + 1);
		return -1;
	}
	return 0;
}

/* --run WORKLOAD CONFIG COUNT LIST NOFILE, as worker_run() builds it. */
static int job_parse(struct job *j, int argc, char **argv)
{
	long count;
	int wl;

	if (argc != 5 || (wl = workload_parse(argv[0])) < 0 || wl == WL_REAL ||
	    int_parse(argv[2], 1, INT_MAX, &count) < 0 ||
	    int_parse(argv[4], 0, INT_MAX, &j->nofile) < 0)
		return -1;
	j->wl = wl;
	j->config = argv[1];
	j->count = count;
	j->nns = 0;
	if (wl == WL_SCALE &&
	    (j->nns = int_list_parse(argv[3], j->ns, LIST_MAX)) < 0)
		return -1;
	return 0;
}

int worker_main(int argc, char **argv)
{
	double v[VALUES_MAX];
	char line[VALUES_MAX * 24];
	size_t len = 0;
	struct job j;
	int n;

	if (job_parse(&j, argc, argv) < 0) {
		fprintf(stderr, "bench: --run is the driver's own option\n");
		return 2;
	}
	alarm(WORKER_ALARM_S);
	if (fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "bench: worker has no report pipe on fd %d\n",
			REPORT_FD);
		return 2;
	}
	if (preload_check(j.config) < 0)
		return 2;
	if ((j.wl == WL_SCALE || j.wl == WL_MEMORY || j.nofile) &&
	    nofile_set(j.nofile) < 0)
		return 2;
	n = work_run(&j, v);
	if (n < 0)
		return 1;
	for (int i = 0; i < n; i++)
		len += snprintf(line + len, sizeof line - len, "%s%.3f",
				i ? " " : "", v[i]);
	line[len++] = '\n';
	if (write(REPORT_FD, line, len) != (ssize_t)len) {
		fprintf(stderr, "bench: worker: report write: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}

