/* jalloc.c — a size-class allocator for jansson's many small blocks, for the simulator's
 * long single-threaded runs. A run allocates and frees millions of JSON values, strings,
 * hashtable buckets and pairs; through malloc each free had to find the block's size
 * (malloc_usable_size: the chunk header, often a cache miss) and each block carried an
 * 8-byte header.
 * Here requests of up to JALLOC_MAX bytes come from one reserved span of address space cut
 * into a region per 16-byte size class: class c (1..JALLOC_CLASSES) lives in region c and
 * hands out blocks of 16*c bytes, first from its free list, then by bumping into fresh
 * pages. A pointer's class is its offset in the span divided by the region size: a free
 * reads nothing but the list head. Larger requests, and any class whose region is used up,
 * go to malloc; a pointer outside the span goes to free(), so blocks jansson allocated before
 * the install are fine.
 * The other direction is not: free() must never see a block from the span. The only jansson
 * call that hands its memory to the caller is json_dumps, and everything the simulator runs
 * uses jsonx_dumps_flags (malloc'd text) instead.
 * The span is reserved with MAP_NORESERVE, so only touched pages cost memory, and memory on
 * the lists is never returned to the system, which a run that ends in seconds does not need.
 * Single-threaded by design (the simulator has one thread). Not installed under
 * AddressSanitizer (it would hide use-after-free of JSON values); without the reservation
 * (no mmap, or it is refused) nothing is installed either. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "cli/cli.h"

#define JALLOC_MAX 512                       /* bytes; larger requests go to malloc */
#define JALLOC_CLASSES (JALLOC_MAX / 16)      /* classes 1..32 */
#define JALLOC_REGION_SHIFT 28               /* 256 MiB of address space per class */
#define JALLOC_REGION ((uintptr_t)1 << JALLOC_REGION_SHIFT)
#define JALLOC_SPAN (JALLOC_REGION * (JALLOC_CLASSES + 1)) /* region 0 unused */

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

struct jalloc_class {
	struct jalloc_free *list; /* freed blocks of this class */
	char *bump, *end;         /* the region's untouched rest */
};

static uintptr_t jalloc_base;
static struct jalloc_class jalloc_cls[JALLOC_CLASSES + 1];

static void *jalloc_malloc(size_t n)
{
	if (n - 1 < JALLOC_MAX) { /* 1..JALLOC_MAX; n == 0 wraps round to malloc */
		size_t c = (n + 15) >> 4;
		struct jalloc_class *k = &jalloc_cls[c];
		struct jalloc_free *b = k->list;

		if (b) {
			k->list = b->next;
			return b;
		}
		if ((size_t)(k->end - k->bump) >= c * 16) {
			void *p = k->bump;

			k->bump += c * 16;
			return p;
		}
	}
	return malloc(n);
}

static void jalloc_free_fn(void *p)
{
	uintptr_t off = (uintptr_t)p - jalloc_base;

	if (off < JALLOC_SPAN) {
		struct jalloc_free *b = p;
		struct jalloc_class *k = &jalloc_cls[off >> JALLOC_REGION_SHIFT];

		b->next = k->list;
		k->list = b;
		return;
	}
	free(p);
}

void cli_jansson_cache_install(void)
{
	void *span;

	if (JALLOC_UNDER_ASAN || jalloc_base)
		return;
	span = mmap(NULL, JALLOC_SPAN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (span == MAP_FAILED)
		return; /* plain malloc then: slower, same results */
	jalloc_base = (uintptr_t)span;
	for (size_t c = 1; c <= JALLOC_CLASSES; c++) {
		jalloc_cls[c].bump = (char *)span + c * JALLOC_REGION;
		jalloc_cls[c].end = jalloc_cls[c].bump + JALLOC_REGION;
	}
	json_set_alloc_funcs(jalloc_malloc, jalloc_free_fn);
}
