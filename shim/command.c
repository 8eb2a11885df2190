/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "reaper.h"
#include "real.h"

int cw__command_wait(pid_t pid, int *status, const struct cw__caller *by)
{
	struct cw__wait w = {
		.idtype = P_PID,
		.id = pid,
		.options = WEXITED,
		.as = CW_OWNER_COMMAND,
		.by = *by,
		.args = { .id = pid },
	};
	int r;

	do
		r = cw__wait(&w);
	while (r == -EINTR);
	if (r < 0)
		return r;
	*status = cw__wait_status(&w.si);
	return 0;
}
