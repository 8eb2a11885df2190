/* SPDX-License-Identifier: MIT */
/* libFuzzer target: CHILDWATCH_MODE's parser over any string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = malloc(size + 1);
	enum cw__mode mode;

	if (!value)
		return 0;
	memcpy(value, data, size);
	value[size] = '\0';
	if (cw__mode_parse(value, &mode) == 0 &&
	    strcmp(cw__mode_name(mode), value) != 0)
		abort();
	free(value);
	return 0;
}
