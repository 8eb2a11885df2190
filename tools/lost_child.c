/* SPDX-License-Identifier: MIT */
/*
 * lost_child: the bug childwatch cures, in one program. A legacy "zombie
 * reaper" thread loops on waitpid(-1) while the main thread runs commands
 * with system(), popen() and fork()+waitpid(pid). Bare, the reaper takes
 * their children and their waits fail with ECHILD.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 20

static void *zombie_reaper(void *arg)
{
	const struct timespec idle = { .tv_nsec = 200 * 1000 };

	(void)arg;
	for (;;)
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			nanosleep(&idle, NULL);
	return NULL;
}

static int via_system(void)
{
	return system("exit 3");
}

static int via_popen(void)
{
	FILE *f = popen("exit 3", "r");

	return f ? pclose(f) : -1;
}

static int via_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		usleep(5000);
		_exit(3);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid ? status : -1;
}

static int report(const char *call, int (*run)(void))
{
	int lost = 0, err = 0;

	for (int i = 0; i < ROUNDS; i++) {
		int status;

		errno = 0;
		status = run();
		if (status == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 3) {
			lost++;
			err = errno;
		}
	}
	if (lost)
		printf("  %-24s %2d of %d statuses lost (%s)\n", call, lost,
		       ROUNDS, err ? strerror(err) : "wrong status");
	else
		printf("  %-24s all %d statuses delivered\n", call, ROUNDS);
	return lost;
}

int main(void)
{
	pthread_t reaper;
	int lost = 0;

	pthread_create(&reaper, NULL, zombie_reaper, NULL);
	lost += report("system()", via_system);
	lost += report("popen()/pclose()", via_popen);
	lost += report("fork()+waitpid(pid)", via_fork);
	return lost ? 1 : 0;
}
