/* test_formats.c — the hand-written formatters on the simulator's hot path produce exactly
 * the bytes of the printf/jansson calls they replace: ISO timestamps, UUIDs, and compact
 * JSON (jsonx_dumps_fast vs json_dumps with ECOM_JSON_FLAGS), over edge cases and a few
 * thousand seeded random values; and jsonx's copy-on-write helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "event/event.h"
#include "event/jsonx.h"

#define FORMATS_RANDOM_N 5000

/* The reference: what clock_format_iso printed with snprintf. */
static void iso_reference(int64_t wall_ms, char out[64])
{
	int64_t days = wall_ms >= 0 ? wall_ms / 86400000 : -((-wall_ms + 86399999) / 86400000);
	int64_t rem = wall_ms - days * 86400000;
	/* civil_from_days (Howard Hinnant), as in src/core/clock.c */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);

	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)(y % 10000), m, d,
		 (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
		 (int)(rem % 1000));
}

static void test_iso(void **state)
{
	static const int64_t fixed[] = { 0, 1, 999, 1000, 86399999, 86400000,
					 1767225600000LL, 951782400000LL /* 2000-02-29 */,
					 4102444799999LL, 253402300799999LL /* 9999-12-31 */ };
	struct rng r;
	char got[25], want[64];

	(void)state;
	rng_seed(&r, 42);
	for (size_t i = 0; i < ECOM_ARRAY_LEN(fixed) + FORMATS_RANDOM_N; i++) {
		int64_t t = i < ECOM_ARRAY_LEN(fixed)
				    ? fixed[i]
				    : (int64_t)rng_below(&r, (uint64_t)253402300799999LL);

		clock_format_iso(t, got);
		iso_reference(t, want);
		assert_string_equal(got, want);
	}
}

static void test_uuid(void **state)
{
	struct rng a, b;
	char got[37], want[37];

	(void)state;
	rng_seed(&a, 7);
	rng_seed(&b, 7);
	for (int i = 0; i < FORMATS_RANDOM_N; i++) {
		uint64_t hi = rng_next(&b), lo = rng_next(&b);

		hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
		lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
		snprintf(want, sizeof(want), "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
			 (unsigned)((hi >> 16) & 0xffff), (unsigned)(hi & 0xffff),
			 (unsigned)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffULL));
		rng_uuid(&a, got);
		assert_string_equal(got, want);
	}
}

static void same_as_jansson(json_t *j)
{
	char *ref = json_dumps(j, ECOM_JSON_FLAGS);
	size_t len = 0;
	char *got = jsonx_dumps_fast(j, &len), *again;
	int exact = -1;

	assert_non_null(ref);
	assert_string_equal(got, ref);
	assert_int_equal(len, strlen(ref));
	/* the walk that serializes also says whether the text parses back to j */
	again = jsonx_dumps_fast_exact(j, NULL, &exact);
	assert_string_equal(again, ref);
	assert_int_equal(exact, jsonx_wire_exact(j));
	free(ref);
	free(got);
	free(again);
}

static void test_json(void **state)
{
	static const double reals[] = { 0.1, 12.34, 20.0, -0.5, 1e20, 1.5e-7, 123456789012345.6,
					5e-324, 1.7976931348623157e308, -2.5e-300, 0.0, 100.0 };
	static const json_int_t ints[] = { 0, -1, 9, 10, -10, INT64_MAX, INT64_MIN, 1767225600000 };
	json_t *j = json_object(), *arr = json_array(), *nested;
	struct rng r;

	(void)state;
	same_as_jansson(j);
	same_as_jansson(arr);
	for (size_t i = 0; i < ECOM_ARRAY_LEN(reals); i++)
		json_array_append_new(arr, json_real(reals[i]));
	for (size_t i = 0; i < ECOM_ARRAY_LEN(ints); i++)
		json_array_append_new(arr, json_integer(ints[i]));
	json_array_append_new(arr, json_true());
	json_array_append_new(arr, json_false());
	json_array_append_new(arr, json_null());
	json_array_append_new(arr, json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 /slash"));
	json_array_append_new(arr, json_string("quote\" back\\ \b\f\n\r\t \x01\x1f\x7f"));
	json_array_append_new(arr, json_stringn("nul\0inside", 10));
	json_object_set_new(j, "list", arr);
	json_object_set_new(j, "k\"ey\n", json_string(""));
	nested = json_pack("{s:{s:[{}, [], {s:i}]}}", "a", "b", "c", 1);
	json_object_set_new(j, "nested", nested);
	same_as_jansson(j);
	json_decref(j);
	/* Strings scanned eight bytes at a time: one byte that needs an escape (or a
	 * non-ASCII byte, which does not) at every position of strings of 0..40 bytes, so
	 * it falls in every lane of a word and in the byte-wise tail. */
	{
		static const char specials[] = { '"', '\\', '\n', '\x01', '\x1f', ' ', '\x7f' };

		for (size_t len = 0; len <= 40; len++) {
			for (size_t at = 0; at < len || (len == 0 && at == 0); at++) {
				for (size_t k = 0; k < ECOM_ARRAY_LEN(specials) + 1; k++) {
					char buf[48];

					memset(buf, 'a' + (int)(len % 26), len);
					if (len > 0)
						buf[at] = k < ECOM_ARRAY_LEN(specials) ? specials[k]
										     : '\xc3';
					if (k == ECOM_ARRAY_LEN(specials) && at + 1 < len)
						buf[at + 1] = '\xa9'; /* "é" */
					else if (k == ECOM_ARRAY_LEN(specials))
						continue; /* a lone lead byte is not UTF-8 */
					j = json_array();
					json_array_append_new(j, json_stringn(buf, len));
					same_as_jansson(j);
					json_decref(j);
					if (len == 0)
						break;
				}
			}
		}
	}
	/* jsonx_string: ASCII takes the quick path, other UTF-8 jansson's check; not UTF-8 is
	 * refused exactly as json_string refuses it. */
	{
		static const char *const ok[] = { "", "a", "0123456789abcdef01234567", "caf\xc3\xa9",
						  "0123456\xe2\x82\xac", "\x7f\x01" };
		static const char *const bad[] = { "\xc3", "0123456789ab\xff", "\x80" "abc" };

		for (size_t i = 0; i < ECOM_ARRAY_LEN(ok); i++) {
			json_t *a = jsonx_string(ok[i]), *b = json_string(ok[i]);

			assert_non_null(a);
			assert_true(json_equal(a, b));
			json_decref(a);
			json_decref(b);
		}
		for (size_t i = 0; i < ECOM_ARRAY_LEN(bad); i++) {
			assert_null(json_string(bad[i]));
			assert_null(jsonx_string(bad[i]));
		}
	}
	/* Exactness, found while serializing: a NUL byte in a string, or a real that "%.15g"
	 * does not print exactly, makes the text parse back to something else. */
	{
		json_t *doc;
		char *t;
		int exact = -1;

		doc = json_pack("{s:s, s:f, s:[i, f]}", "s", "plain", "r", 0.5, "a", 7, 1e20);
		t = jsonx_dumps_fast_exact(doc, NULL, &exact);
		assert_int_equal(exact, 1);
		free(t);
		json_object_set_new(doc, "nul", json_stringn("a\0b", 3));
		t = jsonx_dumps_fast_exact(doc, NULL, &exact);
		assert_int_equal(exact, 0);
		free(t);
		json_object_del(doc, "nul");
		json_array_append_new(json_object_get(doc, "a"), json_real(0.1 + 0.2));
		t = jsonx_dumps_fast_exact(doc, NULL, &exact);
		assert_int_equal(exact, 0); /* 0.30000000000000004 prints as 0.3 */
		free(t);
		json_decref(doc);
	}
	/* Random reals and integers, one document each. */
	rng_seed(&r, 99);
	for (int i = 0; i < FORMATS_RANDOM_N; i++) {
		uint64_t bits = rng_next(&r);
		double d;

		memcpy(&d, &bits, sizeof(d));
		j = json_object();
		if (d == d && d - d == 0) /* finite: jansson refuses NaN and infinities */
			json_object_set_new(j, "d", json_real(d));
		json_object_set_new(j, "c", json_real((double)(int64_t)rng_below(&r, 1000000) / 100));
		json_object_set_new(j, "i", json_integer((json_int_t)rng_next(&r)));
		same_as_jansson(j);
		json_decref(j);
	}
}

/* jsonx_copy shares scalars; jsonx_shallow / jsonx_own* copy a container only while shared,
 * and the other holder never sees a change made through what they return. */
static void test_copy_on_write(void **state)
{
	json_t *stored = json_pack("{s:s, s:{s:i, s:[i]}, s:[{s:i}], s:i}", "id", "o1", "inner",
				   "n", 1, "list", 1, "rows", "q", 1, "n", 5);
	json_t *before = jsonx_copy(stored), *mine, *inner, *rows, *row, *again;

	(void)state;
	assert_non_null(stored);
	assert_ptr_equal(json_object_get(before, "id"), json_object_get(stored, "id"));
	assert_ptr_not_equal(json_object_get(before, "inner"), json_object_get(stored, "inner"));
	mine = jsonx_shallow(stored);
	assert_ptr_not_equal(mine, stored);
	assert_ptr_equal(json_object_get(mine, "inner"), json_object_get(stored, "inner"));
	/* shared: replaced by a copy in mine; private: itself */
	inner = jsonx_own(mine, "inner");
	assert_ptr_not_equal(inner, json_object_get(stored, "inner"));
	assert_ptr_equal(jsonx_own(mine, "inner"), inner);
	json_object_set_new(inner, "n", json_integer(2));
	/* one level only: inner's list is still the stored one until taken */
	assert_ptr_equal(json_object_get(inner, "list"),
			 json_object_get(json_object_get(stored, "inner"), "list"));
	json_array_append_new(jsonx_own(inner, "list"), json_integer(2));
	rows = jsonx_own(mine, "rows");
	row = jsonx_own_at(rows, 0);
	assert_ptr_not_equal(row, json_array_get(json_object_get(stored, "rows"), 0));
	json_object_set_new(row, "q", json_integer(9));
	assert_null(jsonx_own(mine, "n"));
	assert_null(jsonx_own(mine, "missing"));
	assert_null(jsonx_own_at(rows, 5));
	assert_true(json_equal(stored, before));
	assert_int_equal(json_integer_value(json_object_get(inner, "n")), 2);
	assert_int_equal(json_array_size(json_object_get(inner, "list")), 2);
	/* deep: every container below becomes private */
	again = jsonx_shallow(stored);
	inner = jsonx_own_deep(again, "inner");
	assert_int_equal(inner->refcount, 1);
	assert_int_equal(json_object_get(inner, "list")->refcount, 1);
	json_array_clear(json_object_get(inner, "list"));
	assert_true(json_equal(stored, before));
	json_decref(again);
	json_decref(mine);
	json_decref(before);
	json_decref(stored);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_copy_on_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
