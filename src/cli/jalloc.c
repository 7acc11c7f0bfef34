/* jalloc.c — a free-list cache in front of malloc for jansson's many small blocks, for the
 * simulator's long single-threaded runs. glibc's own per-thread cache holds 7 blocks per
 * size; past that a free goes through its bins and a run that frees and reallocates
 * millions of small JSON values spends a fifth of its time inside malloc and free. Here a
 * freed block of usable size <= JALLOC_CACHED_MAX goes onto a list for its size and the
 * next request of that size takes it back.
 * Compatible with malloc/free in both directions: every block comes from malloc, a block is
 * filed by malloc_usable_size (so blocks jansson allocated before the install, or strings it
 * returns that callers free() themselves, are fine), and a request is only served from the
 * list whose blocks glibc would have handed out for that size anyway. Memory on the lists is
 * never returned to the system, which a run that ends in seconds does not need.
 * Not installed under AddressSanitizer (it would hide use-after-free of JSON values). */
#include <jansson.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli/cli.h"

#define JALLOC_CACHED_MAX 1024 /* usable bytes; larger blocks go straight to free() */
#define JALLOC_CLASSES (JALLOC_CACHED_MAX / 16 + 1)

#if defined(__SANITIZE_ADDRESS__)
#define JALLOC_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JALLOC_UNDER_ASAN 1
#endif
#endif
#ifndef JALLOC_UNDER_ASAN
#define JALLOC_UNDER_ASAN 0
#endif

struct jalloc_free {
	struct jalloc_free *next;
};

static struct jalloc_free *jalloc_lists[JALLOC_CLASSES];

/* glibc x86-64/aarch64: chunks are 16-byte multiples of at least 32 bytes, 8 of which are
 * the header, so a request of n bytes gets max(24, roundup(n + 8, 16) - 8) usable bytes.
 * Blocks of one usable size are interchangeable; the class is usable / 16. */
static size_t jalloc_usable_for(size_t n)
{
	size_t u = ((n + 8 + 15) & ~(size_t)15) - 8;

	return u < 24 ? 24 : u;
}

static void *jalloc_malloc(size_t n)
{
	size_t u = jalloc_usable_for(n);

	if (u <= JALLOC_CACHED_MAX) {
		struct jalloc_free **list = &jalloc_lists[u / 16];
		struct jalloc_free *b = *list;

		if (b) {
			*list = b->next;
			return b;
		}
	}
	return malloc(n);
}

static void jalloc_free_fn(void *p)
{
	size_t u;

	if (!p)
		return;
	u = malloc_usable_size(p);
	/* Only sizes a request can map to (24, 40, 56, ...): anything else is freed. */
	if (u <= JALLOC_CACHED_MAX && u >= 24 && u % 16 == 8) {
		struct jalloc_free *b = p;

		b->next = jalloc_lists[u / 16];
		jalloc_lists[u / 16] = b;
		return;
	}
	free(p);
}

void cli_jansson_cache_install(void)
{
	if (JALLOC_UNDER_ASAN)
		return;
	json_set_alloc_funcs(jalloc_malloc, jalloc_free_fn);
}
