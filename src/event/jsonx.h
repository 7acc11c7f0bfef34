/* jsonx.h — small jansson helpers every module uses: typed field reads with defaults,
 * setters that never leak a reference, the one serialization we write (ECOM_JSON_FLAGS),
 * and a stable content hash. Reads never assert on bad data (it comes from the wire);
 * NULL objects read as "absent". Setters and dumps assert on programmer errors. */
#ifndef ECOM_JSONX_H
#define ECOM_JSONX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ecom.h"

/* The string at obj[key], borrowed from obj; NULL if obj is not an object, the key is
 * absent, or the value is not a string. */
const char *jsonx_str(const json_t *obj, const char *key);
/* Same, with a default for absent / not a string. */
const char *jsonx_str_or(const json_t *obj, const char *key, const char *dflt);

/* obj[key] as an integer (JSON integers only; 2.0 is not an integer here).
 * ECOM_OK and *out set; ECOM_NOT_FOUND if absent; ECOM_INVALID if present but not an
 * integer (null included). *out is untouched unless ECOM_OK. */
int jsonx_int(const json_t *obj, const char *key, int64_t *out);
/* obj[key] as an integer, or dflt when absent or not an integer. */
int64_t jsonx_int_or(const json_t *obj, const char *key, int64_t dflt);
/* obj[key] as 0/1, or dflt when absent or not a boolean. */
int jsonx_bool_or(const json_t *obj, const char *key, int dflt);

/* Setters: obj must be an object. v == NULL stores JSON null (a string v is checked to be
 * UTF-8). key must be valid UTF-8 and is not checked again: every caller passes a C literal
 * or the value of a jansson string (jansson checked it when the string was made). */
void jsonx_set_str(json_t *obj, const char *key, const char *v);
/* json_string(s), with a quicker check for the common all-ASCII string: NULL when s is
 * not UTF-8, like json_string. */
json_t *jsonx_string(const char *s);
void jsonx_set_int(json_t *obj, const char *key, int64_t v);
void jsonx_set_bool(json_t *obj, const char *key, int v);
/* Stores val (STOLEN) at obj[key]; asserts on failure (e.g. val NULL). */
void jsonx_set_new(json_t *obj, const char *key, json_t *val);

/* Parses a JSON document of any type. New reference, or NULL with err naming the
 * position ("malformed JSON at 1:5: ..."). Duplicate object keys are rejected. */
json_t *jsonx_loads(const char *buf, size_t len, struct ecom_err *err);
/* A copy of a tree's containers (no cycles by construction: jansson cannot build one through
 * the setters we use) without json_deep_copy's cycle check, which costs more than the copy.
 * Strings and numbers are shared, not copied: nothing in ecom changes a scalar in place
 * (json_string_set, json_integer_set and friends are never used), so a shared scalar is as
 * good as a copy. Same key order. New reference. */
json_t *jsonx_copy(const json_t *v);

/* ---- copy on write ---------------------------------------------------------------------
 * A tree may share containers with another (a store hands out documents whose top level is
 * new and whose members are the stored ones). Jansson's reference count tells who else
 * holds a container: more than one reference means shared. Before changing a member of a
 * private container in place, take it with jsonx_own*: a shared member is replaced by a
 * copy first, so the other holders never see the change. Members replaced wholesale
 * (json_object_set_new) need nothing. */
/* A new container holding the same members (each one a new reference). New reference. */
json_t *jsonx_shallow(const json_t *v);
/* parent[key] (an object or array), replaced in parent by a shallow copy when shared; the
 * result may be changed in place (its own members may still be shared). parent must be
 * private. Borrowed reference; NULL when absent or not a container. */
json_t *jsonx_own(json_t *parent, const char *key);
/* The same for array element i. */
json_t *jsonx_own_at(json_t *array, size_t i);
/* jsonx_own, then the same at every depth below: the whole member may be changed in place.
 * For small members changed at depth (a few lines, a few ledger rows). */
json_t *jsonx_own_deep(json_t *parent, const char *key);
/* 1 when dumping j with ECOM_JSON_FLAGS and parsing the text with jsonx_loads gives a tree
 * json_equal to j: every real prints and parses back to itself at 15 digits, and no string
 * holds a NUL byte. (Integers, keys and other strings always round-trip.) */
int jsonx_wire_exact(const json_t *j);
/* malloc'd compact text with ECOM_JSON_FLAGS (any JSON value, not only containers);
 * caller frees. Same value => same bytes. */
char *jsonx_dumps(const json_t *j);
/* json_dumps(j, flags), but the text is always malloc'd (free() it), whatever allocator
 * jansson was given (the simulator's jalloc hands out blocks free() must not see). NULL
 * when j is NULL or jansson refuses it (a bare scalar without JSON_ENCODE_ANY). Use this,
 * never json_dumps, anywhere the simulator runs. */
char *jsonx_dumps_flags(const json_t *j, size_t flags);
/* The same bytes as json_dumps(j, ECOM_JSON_FLAGS) for an object or array of valid UTF-8
 * strings, without jansson's per-container cycle bookkeeping and printf per integer (the
 * relay serializes every event with it). *len = strlen of the result. malloc'd; never NULL.
 * Debug builds (ECOM_CHECK_HANDOFF) compare with json_dumps and abort on a difference. */
char *jsonx_dumps_fast(const json_t *j, size_t *len);
/* The same, and *exact = jsonx_wire_exact(j), found in the same walk (debug builds check
 * it against jsonx_wire_exact). */
char *jsonx_dumps_fast_exact(const json_t *j, size_t *len, int *exact);

/* FNV-1a 64 over bytes, continuing from h (start with JSONX_FNV_OFFSET). */
#define JSONX_FNV_OFFSET 0xcbf29ce484222325ULL
uint64_t jsonx_fnv1a(uint64_t h, const void *p, size_t n);
/* FNV-1a 64 of the ECOM_JSON_FLAGS | JSON_SORT_KEYS serialization: equal for equal
 * values whatever their key order. For trace hashing. */
uint64_t jsonx_hash(const json_t *j);

#endif
