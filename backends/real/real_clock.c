/* real_clock.c — struct eclock over clock_gettime and an rng seeded from getrandom(2).
 * Both calls are infallible on Linux for these arguments; a failure is a broken system,
 * so it asserts rather than returning an error nobody could handle. */
#include "backends/real/real_clock.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/ecom.h"

#define REAL_RNG_READ_TRIES 16 /* getrandom may be interrupted by a signal */

static int64_t real_read_ns(clockid_t id)
{
	struct timespec ts;
	int rc = clock_gettime(id, &ts);

	ECOM_ASSERT(rc == 0);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_now_us(struct eclock *c)
{
	(void)c;
	return real_read_ns(CLOCK_MONOTONIC) / 1000;
}

static int64_t real_wall_ms(struct eclock *c)
{
	(void)c;
	return real_read_ns(CLOCK_REALTIME) / 1000000;
}

static const struct eclock_ops real_clock_ops = {
	.name = "real",
	.now_us = real_now_us,
	.wall_ms = real_wall_ms,
};

void real_clock_init(struct real_clock *c)
{
	ECOM_ASSERT(c);
	c->base.ops = &real_clock_ops;
}

void real_rng_seed(struct rng *r)
{
	uint64_t s[4];
	size_t got = 0;

	ECOM_ASSERT(r);
	for (int i = 0; i < REAL_RNG_READ_TRIES && got < sizeof(s); i++) {
		ssize_t n = getrandom((char *)s + got, sizeof(s) - got, 0);

		if (n > 0)
			got += (size_t)n;
		else
			ECOM_ASSERT(n < 0 && errno == EINTR);
	}
	ECOM_ASSERT(got == sizeof(s));
	/* xoshiro's state must not be all zero; 256 random bits make that impossible in
	 * practice, but the generator would be stuck forever, so rule it out. */
	if ((s[0] | s[1] | s[2] | s[3]) == 0)
		s[0] = 1;
	memcpy(r->s, s, sizeof(s));
}
