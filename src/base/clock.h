/*
 * clock.h: the monotonic clock in milliseconds, for deadlines and
 * intervals (never for wall-clock times: those are time(NULL) seconds).
 */
#ifndef KDC_CLOCK_H
#define KDC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
kdc_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
