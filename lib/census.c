/* SPDX-License-Identifier: MIT */
/*
 * The exit census: which children a process leaves behind, running or
 * exited and never waited for, for the trace's last line.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "child.h"
#include "reaper.h"
#include "sys.h"

static void pids_add(struct cw__pids *p, pid_t pid)
{
	if (p->n < CW_PIDS_LISTED)
		p->listed[p->n] = pid;
	p->n++;
}

/* A zombie still holds its status for a wait. */
static bool is_zombie(pid_t pid)
{
	siginfo_t si = { 0 };

	return cw__sys_waitid(P_PID, pid, &si,
			      WEXITED | WNOHANG | WNOWAIT | __WALL, NULL) == 0 &&
	       si.si_pid == pid;
}

/* Without a table (off), the kernel's list of each thread's children. */
static void children_from_proc(struct cw__pids *running, struct cw__pids *zombies)
{
	char path[300], buf[4096];
	struct dirent *e;
	DIR *tasks = opendir("/proc/self/task");

	if (!tasks)
		return;
	while ((e = readdir(tasks))) {
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/children",
			 e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		cw__sys_close(fd);
		buf[n > 0 ? n : 0] = '\0';
		for (char *p = buf, *end; *p; p = end) {
			pid_t pid = strtol(p, &end, 10);

			if (end == p)
				break;
			pids_add(is_zombie(pid) ? zombies : running, pid);
		}
	}
	closedir(tasks);
}

static void children_from_table(struct cw__pids *running, struct cw__pids *zombies)
{
	const struct cw__child *c;
	sigset_t saved;

	cw__table_lock(&saved);
	/* Every exit, not just the kernel's first: the census is exact. */
	cw__collect_scan();
	for (c = cw__table_running_first(); c; c = c->next)
		pids_add(running, c->pid);
	for (c = cw__table_ready_first(); c; c = c->next)
		pids_add(zombies, c->pid);
	cw__table_unlock(&saved);
}

void cw__reaper_census(struct cw__census *left)
{
	*left = (struct cw__census){ 0 };
	if (!cw__reaper_mediating())
		children_from_proc(&left->running, &left->zombies);
	else
		children_from_table(&left->running, &left->zombies);
}
