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
	rc = json_object_set_new(obj, key, val);
	ECOM_ASSERT(rc == 0);
}

void jsonx_set_str(json_t *obj, const char *key, const char *v)
{
	jsonx_set_new(obj, key, v ? json_string(v) : json_null());
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

json_t *jsonx_copy(const json_t *v)
{
	json_t *out, *item;
	const char *key;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		out = json_object();
		ECOM_ASSERT(out);
		json_object_foreach((json_t *)v, key, item)
			ECOM_ASSERT(json_object_set_new_nocheck(out, key, jsonx_copy(item)) == 0);
		return out;
	case JSON_ARRAY:
		out = json_array();
		ECOM_ASSERT(out);
		json_array_foreach(v, i, item)
			ECOM_ASSERT(json_array_append_new(out, jsonx_copy(item)) == 0);
		return out;
	case JSON_STRING:
		out = json_stringn_nocheck(json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		out = json_integer(json_integer_value(v));
		break;
	case JSON_REAL:
		out = json_real(json_real_value(v));
		break;
	default: /* true, false, null: jansson's singletons */
		out = (json_t *)v;
		json_incref(out);
		break;
	}
	ECOM_ASSERT(out);
	return out;
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

char *jsonx_dumps(const json_t *j)
{
	char *s;

	ECOM_ASSERT(j != NULL);
	s = json_dumps(j, ECOM_JSON_FLAGS | JSON_ENCODE_ANY);
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
	s = json_dumps(j, ECOM_JSON_FLAGS | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	ECOM_ASSERT(s != NULL);
	h = jsonx_fnv1a(JSONX_FNV_OFFSET, s, strlen(s));
	free(s);
	return h;
}
