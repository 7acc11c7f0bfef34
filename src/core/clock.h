/* clock.h — the clock interface. Service code never reads the time any other way.
 * Real backend (backends/real): CLOCK_MONOTONIC for now_us, CLOCK_REALTIME for wall_ms.
 * Simulated (sim/): virtual time advanced by the scheduler; wall_ms = a fixed epoch + now. */
#ifndef ECOM_CLOCK_H
#define ECOM_CLOCK_H

#include <stdint.h>

struct eclock;

struct eclock_ops {
	const char *name;
	/* Monotonic microseconds since an arbitrary origin. Never blocks, never fails. */
	int64_t (*now_us)(struct eclock *c);
	/* Unix epoch milliseconds, for event timestamps only (never for ordering). */
	int64_t (*wall_ms)(struct eclock *c);
};

struct eclock {
	const struct eclock_ops *ops;
};

static inline int64_t clock_now_us(struct eclock *c) { return c->ops->now_us(c); }
static inline int64_t clock_wall_ms(struct eclock *c) { return c->ops->wall_ms(c); }

/* A clock whose time is set by its owner: the simulator's, and the unit tests'. */
struct manual_clock {
	struct eclock base;
	int64_t now_us;
	int64_t wall_epoch_ms; /* wall_ms() = wall_epoch_ms + now_us / 1000 */
};
void manual_clock_init(struct manual_clock *c, int64_t wall_epoch_ms);

/* Formats epoch ms as ISO-8601 UTC with milliseconds, as JavaScript's toISOString()
 * does ("2026-01-01T00:00:00.000Z"). out must hold 25 bytes. Pure arithmetic: no libc tz. */
void clock_format_iso(int64_t wall_ms, char out[25]);
/* Parses that format (also accepts no milliseconds). ECOM_OK or ECOM_INVALID. */
int clock_parse_iso(const char *s, int64_t *wall_ms);

#endif
