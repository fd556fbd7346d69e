/*
 * renew.c: when to renew an operational credential (issue 4 §2): at a
 * fraction of its lifetime, moved at random by up to a fraction of that
 * delay so that a fleet issued in one second does not come back in one
 * second. Integer arithmetic only (no FPU on many devices), no overflow
 * for any int64 validity.
 */
#include "kdcdev.h"

#define LIMIT_S	((int64_t)1 << 50)	/* seconds (~35 My): every sum below
					 * stays under 2^62 ms */

/* a * n / d for 0 <= a, 0 <= n <= d <= 65536, without overflowing a * n */
static int64_t
scale(int64_t a, uint32_t n, uint32_t d)
{
	return (a / (int64_t)d) * (int64_t)n +
	    ((a % (int64_t)d) * (int64_t)n) / (int64_t)d;
}

int64_t
kdcdev_renew_at_ms(int64_t not_before, int64_t not_after,
    uint16_t fraction_pm, uint16_t jitter_pm, uint32_t rnd)
{
	int64_t life_ms, base, span, off, at, last;
	uint32_t r16 = rnd >> 16;	/* 0..65535, uniform */

	/* seconds beyond +-2^50 are no validity we could ever meet: clamp
	 * them (so * 1000 cannot overflow) */
	if (not_before < -LIMIT_S)
		not_before = -LIMIT_S;
	if (not_before > LIMIT_S)
		not_before = LIMIT_S;
	if (not_after < -LIMIT_S)
		not_after = -LIMIT_S;
	if (not_after > LIMIT_S)
		not_after = LIMIT_S;
	if (not_after <= not_before)
		return not_before * 1000;
	if (fraction_pm == 0)
		fraction_pm = 1;
	if (fraction_pm > 999)
		fraction_pm = 999;
	if (jitter_pm > 999)
		jitter_pm = 999;
	life_ms = (not_after - not_before) * 1000;
	base = scale(life_ms, fraction_pm, 1000);
	span = scale(base, jitter_pm, 1000);
	/* off uniform in [-span, +span] */
	off = scale(2 * span, r16, 65535) - span;
	at = not_before * 1000 + base + off;
	/* never before issuance, never later than 1 s before expiry */
	last = not_after * 1000 - (life_ms > 2000 ? 1000 : life_ms / 2);
	if (at < not_before * 1000)
		at = not_before * 1000;
	if (at > last)
		at = last;
	return at;
}
