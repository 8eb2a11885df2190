/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool status_is(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

pid_t waitpid_nointr(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	qsort(v, n, sizeof *v, double_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The environment minus any preload and childwatch setting, plus extra
 * (NULL-terminated). */
char **env_for(char *const *extra)
{
	size_t n = 0, k = 0, more = 0;
	char **envp;

	while (environ[n])
		n++;
	while (extra && extra[more])
		more++;
	envp = calloc(n + more + 1, sizeof *envp);
	if (!envp)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "CHILDWATCH_", 11) != 0)
			envp[k++] = environ[i];
	for (size_t i = 0; i < more; i++)
		envp[k++] = extra[i];
	return envp;
}

/* The first executable name in a directory on PATH, into path. */
bool path_find(const char *name, char path[PATH_MAX])
{
	const char *dirs = getenv("PATH");

	while (dirs && *dirs) {
		size_t len = strcspn(dirs, ":");

		snprintf(path, PATH_MAX, "%.*s/%s", (int)len, dirs, name);
		if (len && access(path, X_OK) == 0)
			return true;
		dirs += len + (dirs[len] == ':');
	}
	return false;
}

/* Reads fd until EOF into buf, NUL-terminated and cut to size; false, with
 * pid's process group killed, if EOF did not come by the deadline. */
bool pipe_read_all(int fd, pid_t pid, int64_t deadline, char *buf,
		   size_t size)
{
	size_t len = 0;
	char sink[256];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left_ms = (deadline - clock_ns()) / 1000000;
		ssize_t n;

		if (left_ms <= 0) {
			kill(-pid, SIGKILL);
			buf[len] = '\0';
			return false;
		}
		if (poll(&pfd, 1, left_ms) <= 0)
			continue;
		if (len < size - 1)
			n = read(fd, buf + len, size - 1 - len);
		else
			n = read(fd, sink, sizeof sink);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < size - 1)
			len += n;
	}
	buf[len] = '\0';
	return true;
}

/* The environment of a config's processes, from its lib and mode. */
int config_env(struct config *c, const char *trace)
{
	char *vars[4] = { NULL }, **v = vars;

	if (c->lib) {
		snprintf(c->preload, sizeof c->preload, "LD_PRELOAD=%s",
			 c->lib);
		*v++ = c->preload;
	}
	if (c->mode) {
		snprintf(c->mode_var, sizeof c->mode_var,
			 "CHILDWATCH_MODE=%s", c->mode);
		*v++ = c->mode_var;
		if (trace) {
			snprintf(c->trace_var, sizeof c->trace_var,
				 "CHILDWATCH_TRACE=%s", trace);
			*v++ = c->trace_var;
		}
	}
	c->envp = env_for(vars);
	if (c->envp)
		return 0;
	fprintf(stderr, "bench: out of memory\n");
	return -1;
}
