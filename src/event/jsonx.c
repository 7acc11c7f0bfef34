/* jsonx.c — jansson helpers: typed reads that tolerate bad input, setters that assert,
 * ECOM_JSON_FLAGS serialization and FNV-1a content hashing (see jsonx.h). */
#include "event/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"

const char *jsonx_str(const json_t *obj, const char *key)
{
	json_t *v;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *jsonx_str_or(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = jsonx_str(obj, key);

	return s ? s : dflt;
}

int jsonx_int(const json_t *obj, const char *key, int64_t *out)
{
	json_t *v;

	if (!json_is_object(obj))
		return ECOM_NOT_FOUND;
	v = json_object_get(obj, key);
	if (!v)
		return ECOM_NOT_FOUND;
	if (!json_is_integer(v))
		return ECOM_INVALID;
	*out = (int64_t)json_integer_value(v);
	return ECOM_OK;
}

int64_t jsonx_int_or(const json_t *obj, const char *key, int64_t dflt)
{
	int64_t v;

	return jsonx_int(obj, key, &v) == ECOM_OK ? v : dflt;
}

int jsonx_bool_or(const json_t *obj, const char *key, int dflt)
{
	json_t *v;

	if (!json_is_object(obj))
		return dflt;
	v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

void jsonx_set_new(json_t *obj, const char *key, json_t *val)
{
	int rc;

	ECOM_ASSERT(json_is_object(obj));
	ECOM_ASSERT(val != NULL);
	rc = json_object_set_new_nocheck(obj, key, val); /* key: see jsonx.h */
	ECOM_ASSERT(rc == 0);
}

/* Are the n bytes at s all ASCII (below 0x80)? Eight at a time. */
static int all_ascii(const char *s, size_t n)
{
	uint64_t acc = 0, x;
	size_t i = 0;

	for (; n - i >= 8; i += 8) {
		memcpy(&x, s + i, 8);
		acc |= x;
	}
	for (; i < n; i++)
		acc |= (unsigned char)s[i];
	return (acc & 0x8080808080808080ULL) == 0;
}

json_t *jsonx_string(const char *s)
{
	size_t n = strlen(s);

	/* ASCII without NUL is UTF-8: skip jansson's byte-by-byte check */
	return all_ascii(s, n) ? json_stringn_nocheck(s, n) : json_stringn(s, n);
}

void jsonx_set_str(json_t *obj, const char *key, const char *v)
{
	jsonx_set_new(obj, key, v ? jsonx_string(v) : json_null());
}

void jsonx_set_int(json_t *obj, const char *key, int64_t v)
{
	jsonx_set_new(obj, key, json_integer((json_int_t)v));
}

void jsonx_set_bool(json_t *obj, const char *key, int v)
{
	jsonx_set_new(obj, key, json_boolean(v));
}

json_t *jsonx_loads(const char *buf, size_t len, struct ecom_err *err)
{
	json_error_t jerr;
	json_t *j;

	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!j)
		ecom_err_set(err, ECOM_INVALID, "malformed JSON at %d:%d: %s", jerr.line,
			     jerr.column, jerr.text);
	return j;
}

/* A new container with v's members: copied the same way all the way down (deep), or the
 * members themselves (shallow). A scalar is shared either way. */
static json_t *jsonx_dup(const json_t *v, int deep)
{
	json_t *out, *item;
	const char *key;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		out = json_object();
		ECOM_ASSERT(out);
		json_object_foreach((json_t *)v, key, item)
			ECOM_ASSERT(json_object_set_new_nocheck(
					    out, key, deep ? jsonx_dup(item, 1) : json_incref(item)) ==
				    0);
		return out;
	case JSON_ARRAY:
		out = json_array();
		ECOM_ASSERT(out);
		if (!deep) { /* one allocation of the right size, every item a new reference */
			ECOM_ASSERT(json_array_extend(out, (json_t *)v) == 0);
			return out;
		}
		json_array_foreach(v, i, item)
			ECOM_ASSERT(json_array_append_new(out, jsonx_dup(item, 1)) == 0);
		return out;
	default: /* strings and numbers (immutable here), true, false, null (singletons) */
		out = (json_t *)v;
		json_incref(out);
		return out;
	}
}

json_t *jsonx_copy(const json_t *v)
{
	return jsonx_dup(v, 1);
}

json_t *jsonx_shallow(const json_t *v)
{
	ECOM_ASSERT(json_is_object(v) || json_is_array(v));
	return jsonx_dup(v, 0);
}

static int jsonx_shared(const json_t *v)
{
	return v->refcount > 1;
}

/* The container v itself while private; a new shallow copy (a new reference, for the caller
 * to put in v's place) while shared; NULL for a scalar or nothing. */
static json_t *jsonx_private(json_t *v)
{
	if (!json_is_object(v) && !json_is_array(v))
		return NULL;
	return jsonx_shared(v) ? jsonx_shallow(v) : v;
}

json_t *jsonx_own(json_t *parent, const char *key)
{
	json_t *v = json_object_get(parent, key), *own = jsonx_private(v);

	if (own && own != v)
		ECOM_ASSERT(json_object_set_new_nocheck(parent, key, own) == 0);
	return own;
}

json_t *jsonx_own_at(json_t *array, size_t i)
{
	json_t *v = json_array_get(array, i), *own = jsonx_private(v);

	if (own && own != v)
		ECOM_ASSERT(json_array_set_new(array, i, own) == 0);
	return own;
}

/* Makes every container below v (private itself) private. */
static void jsonx_own_below(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, key, item) {
			json_t *own = jsonx_own(v, key);

			if (own)
				jsonx_own_below(own);
		}
	} else if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++) {
			json_t *own = jsonx_own_at(v, i);

			if (own)
				jsonx_own_below(own);
		}
	}
}

json_t *jsonx_own_deep(json_t *parent, const char *key)
{
	json_t *v = jsonx_own(parent, key);

	if (v)
		jsonx_own_below(v);
	return v;
}

int jsonx_wire_exact(const json_t *j)
{
	const char *key;
	json_t *item;
	char buf[64];
	size_t i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)j, key, item) if (!jsonx_wire_exact(item)) return 0;
		return 1;
	case JSON_ARRAY:
		json_array_foreach(j, i, item) if (!jsonx_wire_exact(item)) return 0;
		return 1;
	case JSON_STRING:
		return strlen(json_string_value(j)) == json_string_length(j);
	case JSON_REAL:
		/* jansson prints reals with "%.15g" (ECOM_JSON_FLAGS) and reads them with strtod. */
		snprintf(buf, sizeof(buf), "%.15g", json_real_value(j));
		return strtod(buf, NULL) == json_real_value(j);
	default:
		return 1;
	}
}

struct jsonx_out {
	char *p;
	size_t n, cap;
	int inexact; /* a string holds a NUL byte or a real does not survive "%.15g" */
};

static void out_reserve(struct jsonx_out *o, size_t n)
{
	if (o->n + n <= o->cap)
		return;
	while (o->n + n > o->cap)
		o->cap = o->cap ? o->cap * 2 : 512;
	o->p = ecom_xrealloc(o->p, o->cap);
}

static void out_put(struct jsonx_out *o, const char *s, size_t n)
{
	out_reserve(o, n);
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

/* Does any of the 8 bytes at p need an escape in a JSON string (< 0x20, '"' or '\\')?
 * The usual "has a zero byte" tests: no misses; a rare false alarm only costs the
 * byte-by-byte look the caller then takes. */
static int word_needs_escape(const char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x, q, b;

	memcpy(&x, p, 8);
	q = x ^ (ones * '"');
	b = x ^ (ones * '\\');
	return ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) != 0;
}

static void out_string(struct jsonx_out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;

	out_reserve(o, len + 2);
	o->p[o->n++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c;
		char esc[6] = { '\\', 0, '0', '0', 0, 0 };
		size_t n = 2;

		/* eight bytes at a time while none of them needs an escape */
		while (len - i >= 8 && !word_needs_escape(s + i))
			i += 8;
		if (i == len)
			break;
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		out_put(o, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default: /* other control characters: \u00XX, upper-case hex like jansson */
			if (c == 0)
				o->inexact = 1; /* parsed back, the C string would end here */
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
			break;
		}
		out_put(o, esc, n);
	}
	out_put(o, s + run, len - run);
	out_put(o, "\"", 1);
}

static void out_integer(struct jsonx_out *o, json_int_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	out_put(o, p, (size_t)(buf + sizeof(buf) - p));
}

/* jansson's real format at precision 15: "%.15g", ".0" when it reads like an integer, and
 * the exponent without '+' or leading zeros. */
static void out_real(struct jsonx_out *o, double v)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%.15g", v);
	char *e;

	ECOM_ASSERT(n > 0 && (size_t)n < sizeof(buf) - 3);
	if (strtod(buf, NULL) != v)
		o->inexact = 1;
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	e = strchr(buf, 'e');
	if (e) {
		char *start = e + 1, *end = e + 2;

		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, (size_t)(buf + n - end) + 1);
			n -= (int)(end - start);
		}
	}
	out_put(o, buf, (size_t)n);
}

static void out_value(struct jsonx_out *o, const json_t *j)
{
	const char *key;
	json_t *item;
	size_t i;
	int first = 1;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		out_put(o, "{", 1);
		json_object_foreach((json_t *)j, key, item) {
			if (!first)
				out_put(o, ",", 1);
			first = 0;
			out_string(o, key, strlen(key));
			out_put(o, ":", 1);
			out_value(o, item);
		}
		out_put(o, "}", 1);
		return;
	case JSON_ARRAY:
		out_put(o, "[", 1);
		json_array_foreach(j, i, item) {
			if (i)
				out_put(o, ",", 1);
			out_value(o, item);
		}
		out_put(o, "]", 1);
		return;
	case JSON_STRING:
		out_string(o, json_string_value(j), json_string_length(j));
		return;
	case JSON_INTEGER:
		out_integer(o, json_integer_value(j));
		return;
	case JSON_REAL:
		out_real(o, json_real_value(j));
		return;
	case JSON_TRUE:
		out_put(o, "true", 4);
		return;
	case JSON_FALSE:
		out_put(o, "false", 5);
		return;
	default:
		out_put(o, "null", 4);
		return;
	}
}

char *jsonx_dumps_fast(const json_t *j, size_t *len)
{
	return jsonx_dumps_fast_exact(j, len, NULL);
}

char *jsonx_dumps_fast_exact(const json_t *j, size_t *len, int *exact)
{
	struct jsonx_out o = { NULL, 0, 0, 0 };

	ECOM_ASSERT(json_is_object(j) || json_is_array(j));
	out_value(&o, j);
	out_reserve(&o, 1);
	o.p[o.n] = '\0';
#ifdef ECOM_CHECK_HANDOFF
	{
		char *ref = jsonx_dumps_flags(j, ECOM_JSON_FLAGS);

		ECOM_ASSERT(ref && strcmp(ref, o.p) == 0 &&
			    "jsonx_dumps_fast differs from json_dumps");
		free(ref);
	}
#endif
	if (exact) {
		*exact = !o.inexact;
#ifdef ECOM_CHECK_HANDOFF
		ECOM_ASSERT(*exact == jsonx_wire_exact(j) && "the walk's exactness is wrong");
#endif
	}
	if (len)
		*len = o.n;
	return o.p;
}

static int dump_to_out(const char *buf, size_t size, void *data)
{
	out_put(data, buf, size);
	return 0;
}

char *jsonx_dumps_flags(const json_t *j, size_t flags)
{
	struct jsonx_out o = { NULL, 0, 0, 0 };

	if (!j || json_dump_callback(j, dump_to_out, &o, flags) != 0) {
		free(o.p);
		return NULL;
	}
	out_reserve(&o, 1);
	o.p[o.n] = '\0';
	return o.p;
}

char *jsonx_dumps(const json_t *j)
{
	char *s;

	ECOM_ASSERT(j != NULL);
	s = jsonx_dumps_flags(j, ECOM_JSON_FLAGS | JSON_ENCODE_ANY);
	ECOM_ASSERT(s != NULL);
	return s;
}

uint64_t jsonx_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t jsonx_hash(const json_t *j)
{
	char *s;
	uint64_t h;

	ECOM_ASSERT(j != NULL);
	s = jsonx_dumps_flags(j, ECOM_JSON_FLAGS | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	ECOM_ASSERT(s != NULL);
	h = jsonx_fnv1a(JSONX_FNV_OFFSET, s, strlen(s));
	free(s);
	return h;
}
