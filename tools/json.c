/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Deeper than any trace line; keeps hostile input off the stack. */
#define DEPTH_MAX 32

struct parser {
	const char *p, *end;
	const char *error;
	int depth;
};

/* Whatever was expected, input that ends first was cut short. */
static bool fail(struct parser *ps, const char *why)
{
	if (!ps->error)
		ps->error = ps->p >= ps->end ? "cut short" : why;
	return false;
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "not a JSON value");
	ps->p += n;
	return true;
}

static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | cp >> 6;
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | cp >> 12;
		out[1] = 0x80 | (cp >> 6 & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | cp >> 18;
	out[1] = 0x80 | (cp >> 12 & 0x3f);
	out[2] = 0x80 | (cp >> 6 & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* \uXXXX at ps->p (past the "\u"), with a following low surrogate. */
static bool unicode_escape(struct parser *ps, uint32_t *cp)
{
	int hi, lo;

	if (ps->end - ps->p < 4 || (hi = hex4(ps->p)) < 0)
		return fail(ps, "bad \\u escape");
	ps->p += 4;
	*cp = hi;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(ps, "lone low surrogate");
	if (hi < 0xd800 || hi > 0xdbff)
		return true;
	if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
	    (lo = hex4(ps->p + 2)) < 0xdc00 || lo > 0xdfff)
		return fail(ps, "lone high surrogate");
	ps->p += 6;
	*cp = 0x10000 + ((uint32_t)(hi - 0xd800) << 10) + (lo - 0xdc00);
	return true;
}

static bool string(struct parser *ps, char **out)
{
	/* Unescaped text is never longer than its escaped form. */
	const char *close;
	char *s, *o;

	ps->p++; /* the opening quote */
	for (close = ps->p; close < ps->end && *close != '"'; close++)
		if (*close == '\\')
			close++;
	if (close >= ps->end) {
		ps->p = ps->end;
		return fail(ps, "unterminated string");
	}
	o = s = malloc(close - ps->p + 1);
	if (!s)
		return fail(ps, "out of memory");
	while (ps->p < close) {
		unsigned char c = *ps->p++;
		uint32_t cp = 0;

		if (c < 0x20) {
			free(s);
			return fail(ps, "control character in string");
		}
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		switch (*ps->p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (!unicode_escape(ps, &cp) || cp == 0) {
				free(s);
				return fail(ps, "bad \\u escape");
			}
			o += utf8_put(o, cp);
			break;
		default:
			free(s);
			return fail(ps, "bad escape in string");
		}
	}
	*o = '\0';
	ps->p = close + 1;
	*out = s;
	return true;
}

static bool number(struct parser *ps, struct json *v)
{
	const char *start = ps->p;
	char buf[64], *end;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return fail(ps, "not a JSON value");
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	v->integral = true;
	if (ps->p < ps->end && *ps->p == '.') {
		v->integral = false;
		if (++ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		v->integral = false;
		if (++ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if ((size_t)(ps->p - start) >= sizeof buf)
		return fail(ps, "number too long");
	memcpy(buf, start, ps->p - start);
	buf[ps->p - start] = '\0';
	v->type = JSON_NUM;
	v->number = strtod(buf, NULL);
	if (v->integral) {
		errno = 0;
		v->integer = strtoll(buf, &end, 10);
		v->integral = errno == 0;
	}
	return true;
}

static bool value(struct parser *ps, struct json *v);

static bool push(struct parser *ps, struct json *v, char *key)
{
	size_t n = v->len + 1;
	struct json *items;

	/* Grow by doubling: capacity is implied by len. */
	if ((n & (n - 1)) == 0 || v->len == 0) {
		size_t cap = n < 4 ? 4 : n * 2;

		items = realloc(v->items, cap * sizeof *items);
		if (!items)
			return fail(ps, "out of memory");
		v->items = items;
		if (v->type == JSON_OBJ) {
			char **keys = realloc(v->keys, cap * sizeof *keys);

			if (!keys)
				return fail(ps, "out of memory");
			v->keys = keys;
		}
	}
	memset(&v->items[v->len], 0, sizeof *v->items);
	if (v->type == JSON_OBJ)
		v->keys[v->len] = key;
	v->len++;
	return value(ps, &v->items[v->len - 1]);
}

static bool container(struct parser *ps, struct json *v, char close)
{
	bool obj = close == '}';

	if (++ps->depth > DEPTH_MAX)
		return fail(ps, "nested too deeply");
	v->type = obj ? JSON_OBJ : JSON_ARR;
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return true;
	}
	for (;;) {
		char *key = NULL;

		skip_space(ps);
		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"')
				return fail(ps, "expected a key");
			if (!string(ps, &key))
				return false;
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				return fail(ps, "expected ':'");
			}
			ps->p++;
		}
		if (!push(ps, v, key)) {
			/* push owns key once it is in keys[] */
			if (v->len == 0 || (obj && v->keys[v->len - 1] != key))
				free(key);
			return false;
		}
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return true;
		}
		return fail(ps, ps->p >= ps->end ? "cut short"
						 : "expected ',' or a close");
	}
}

static bool value(struct parser *ps, struct json *v)
{
	skip_space(ps);
	if (ps->p >= ps->end)
		return fail(ps, "cut short");
	switch (*ps->p) {
	case '{':
		return container(ps, v, '}');
	case '[':
		return container(ps, v, ']');
	case '"':
		v->type = JSON_STR;
		return string(ps, &v->str);
	case 't':
		v->type = JSON_BOOL;
		v->boolean = true;
		return literal(ps, "true");
	case 'f':
		v->type = JSON_BOOL;
		return literal(ps, "false");
	case 'n':
		v->type = JSON_NULL;
		return literal(ps, "null");
	default:
		return number(ps, v);
	}
}

static void json_release(struct json *v)
{
	for (size_t i = 0; i < v->len; i++) {
		json_release(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
}

void json_free(struct json *v)
{
	if (!v)
		return;
	json_release(v);
	free(v);
}

struct json *json_parse(const char *text, size_t n, const char **error)
{
	struct parser ps = { text, text + n, NULL, 0 };
	struct json *v = calloc(1, sizeof *v);

	if (!v) {
		*error = "out of memory";
		return NULL;
	}
	if (value(&ps, v)) {
		skip_space(&ps);
		if (ps.p == ps.end)
			return v;
		fail(&ps, "text after the value");
	}
	*error = ps.error;
	json_free(v);
	return NULL;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->len; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

const char *json_str(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	return v && v->type == JSON_STR ? v->str : NULL;
}

long long json_int(const struct json *obj, const char *key,
		   long long fallback)
{
	const struct json *v = json_get(obj, key);

	return v && v->type == JSON_NUM && v->integral ? v->integer : fallback;
}
