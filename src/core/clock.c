/* clock.c — the manual clock (simulator, tests) and ISO-8601 formatting done with plain
 * civil-date arithmetic (Howard Hinnant's days_from_civil), so no timezone state is read. */
#include "core/clock.h"

#include <stdio.h>
#include <string.h>

#include "core/ecom.h"

static int64_t manual_now_us(struct eclock *c)
{
	return ((struct manual_clock *)c)->now_us;
}

static int64_t manual_wall_ms(struct eclock *c)
{
	struct manual_clock *m = (struct manual_clock *)c;

	return m->wall_epoch_ms + m->now_us / 1000;
}

static const struct eclock_ops manual_ops = {
	.name = "manual",
	.now_us = manual_now_us,
	.wall_ms = manual_wall_ms,
};

void manual_clock_init(struct manual_clock *c, int64_t wall_epoch_ms)
{
	c->base.ops = &manual_ops;
	c->now_us = 0;
	c->wall_epoch_ms = wall_epoch_ms;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void clock_format_iso(int64_t wall_ms, char out[25])
{
	static const char pattern[] = "0000-00-00T00:00:00.000Z";
	static const unsigned char at[7] = { 0, 5, 8, 11, 14, 17, 20 };
	static const unsigned char width[7] = { 4, 2, 2, 2, 2, 2, 3 };
	int64_t days = floor_div(wall_ms, 86400000);
	int64_t rem = wall_ms - days * 86400000;
	int64_t y;
	int m, d, v[7];

	civil_from_days(days, &y, &m, &d);
	v[0] = (int)(y % 10000);
	v[1] = m;
	v[2] = d;
	v[3] = (int)(rem / 3600000);
	v[4] = (int)(rem / 60000 % 60);
	v[5] = (int)(rem / 1000 % 60);
	v[6] = (int)(rem % 1000);
	if (v[0] < 0) { /* "%04d" of a negative year: let printf place the sign */
		char tmp[64];

		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", v[0], v[1], v[2],
			 v[3], v[4], v[5], v[6]);
		memcpy(out, tmp, 24);
		out[24] = '\0';
		return;
	}
	/* The text of "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", digit by digit: every event
	 * carries a timestamp, and printf was a measurable part of a simulated delivery. */
	memcpy(out, pattern, sizeof(pattern));
	for (int i = 0; i < 7; i++)
		for (int k = width[i] - 1; k >= 0; k--, v[i] /= 10)
			out[at[i] + k] = (char)('0' + v[i] % 10);
}

/* n ASCII digits at s, as a number; -1 if any is not a digit (sscanf would take signs and
 * spaces, letting "T-1:00:00Z" through). */
static int parse_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int days_in_month(int y, int m)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : mdays[m - 1];
}

#define CLOCK_ISO_FRAC_DIGITS_MAX 9

int clock_parse_iso(const char *s, int64_t *wall_ms)
{
	int y, mo, d, h, mi, sec, ms = 0, n = 19;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return ECOM_INVALID;
	y = parse_digits(s, 4);
	mo = parse_digits(s + 5, 2);
	d = parse_digits(s + 8, 2);
	h = parse_digits(s + 11, 2);
	mi = parse_digits(s + 14, 2);
	sec = parse_digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return ECOM_INVALID;
	if (s[n] == '.') {
		int digits = 0;

		n++;
		while (s[n] >= '0' && s[n] <= '9' && digits < CLOCK_ISO_FRAC_DIGITS_MAX) {
			if (digits < 3)
				ms = ms * 10 + (s[n] - '0');
			digits++;
			n++;
		}
		if (digits == 0)
			return ECOM_INVALID;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (s[n] != 'Z' || s[n + 1] != '\0')
		return ECOM_INVALID;
	*wall_ms = days_from_civil(y, mo, d) * 86400000 + (int64_t)h * 3600000 +
		   (int64_t)mi * 60000 + (int64_t)sec * 1000 + ms;
	return ECOM_OK;
}
