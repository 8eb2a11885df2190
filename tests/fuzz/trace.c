/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: childwatch report over any bytes as a trace file, in
 * both output forms. The input reaches the reader as a file, as a trace
 * does; report's output goes to /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	char path[64];
	int fd = memfd_create("trace", MFD_CLOEXEC);

	/* Paths in the input name real files: run no addr2line on them. */
	report_symbols = false;
	if (!sink)
		sink = fopen("/dev/null", "w");
	if (fd < 0 || !sink || write(fd, data, size) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	report_run(path, false, sink);
	report_run(path, true, sink);
	close(fd);
	return 0;
}
