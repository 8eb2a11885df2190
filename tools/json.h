/* SPDX-License-Identifier: MIT */
#ifndef CW_JSON_H
#define CW_JSON_H

/*
 * A JSON reader for one trace line: strict (RFC 8259), bounded in depth,
 * and whole or nothing, so that a line cut short or garbage is an error
 * with a reason rather than a partial value.
 */

#include <stdbool.h>
#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_type type;
	bool boolean;
	bool integral;	  /* the number had no fraction or exponent */
	long long integer; /* when integral and in range */
	double number;
	char *str; /* NUL-terminated, UTF-8 */
	/* Arrays and objects: len items; objects have keys[i] too. */
	size_t len;
	struct json *items;
	char **keys;
};

/* Parses text[0..n) into a tree that json_free releases: NULL with *error
 * set to a reason when it is not one whole JSON value. */
struct json *json_parse(const char *text, size_t n, const char **error);
void json_free(struct json *v);

/* obj[key], or NULL when obj is not an object or has no such key. */
const struct json *json_get(const struct json *obj, const char *key);
/* The string at obj[key], or NULL. */
const char *json_str(const struct json *obj, const char *key);
/* The integer at obj[key], or fallback. */
long long json_int(const struct json *obj, const char *key,
		   long long fallback);

#endif
