/* sched.c — binary min-heap of (time_us, seq) events. Sift up/down compare the pair
 * lexicographically; seq is unique, so the order is total and reproducible. */
#include "sim/sched.h"

#include <stdlib.h>

#include "core/ecom.h"

#define SCHED_INITIAL_CAP 256

static int sched_less(const struct sched_event *a, const struct sched_event *b)
{
	if (a->at_us != b->at_us)
		return a->at_us < b->at_us;
	return a->seq < b->seq;
}

static void sched_swap(struct sched_event *a, struct sched_event *b)
{
	struct sched_event t = *a;

	*a = *b;
	*b = t;
}

void sched_init(struct sched *s, size_t max_events)
{
	ECOM_ASSERT(s && max_events > 0);
	s->heap = NULL;
	s->n = 0;
	s->cap = 0;
	s->max = max_events;
	s->next_seq = 0;
	s->pushed = 0;
	s->high_water = 0;
}

void sched_deinit(struct sched *s)
{
	if (!s)
		return;
	free(s->heap);
	s->heap = NULL;
	s->n = s->cap = 0;
}

int sched_push(struct sched *s, int64_t at_us, int kind, int32_t target, int64_t arg)
{
	size_t i;

	ECOM_ASSERT(s);
	if (s->n >= s->max)
		return ECOM_UNAVAILABLE;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : SCHED_INITIAL_CAP;

		if (cap > s->max)
			cap = s->max;
		s->heap = ecom_xrealloc(s->heap, cap * sizeof(*s->heap));
		s->cap = cap;
	}
	i = s->n++;
	s->heap[i] = (struct sched_event){ .at_us = at_us, .seq = s->next_seq++, .kind = kind,
					   .target = target, .arg = arg };
	s->pushed++;
	if (s->n > s->high_water)
		s->high_water = s->n;
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!sched_less(&s->heap[i], &s->heap[parent]))
			break;
		sched_swap(&s->heap[i], &s->heap[parent]);
		i = parent;
	}
	return ECOM_OK;
}

int sched_peek(const struct sched *s, struct sched_event *out)
{
	ECOM_ASSERT(s && out);
	if (s->n == 0)
		return 0;
	*out = s->heap[0];
	return 1;
}

int sched_pop(struct sched *s, struct sched_event *out)
{
	size_t i = 0;

	ECOM_ASSERT(s && out);
	if (s->n == 0)
		return 0;
	*out = s->heap[0];
	s->heap[0] = s->heap[--s->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->n && sched_less(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->n && sched_less(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		sched_swap(&s->heap[i], &s->heap[m]);
		i = m;
	}
	return 1;
}

size_t sched_len(const struct sched *s)
{
	ECOM_ASSERT(s);
	return s->n;
}
