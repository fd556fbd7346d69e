/* log.c: the operator log on stderr. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

/* atomic: `serve` sets it on SIGHUP while every thread logs */
static atomic_int log_level = KDC_LOG_INFO;
static const char *lvl_name[] = { "error", "warn", "info", "debug" };

void
kdc_log_set_level(enum kdc_log_level lvl)
{
	atomic_store_explicit(&log_level, (int)lvl, memory_order_relaxed);
}

int
kdc_log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
kdc_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, lvl_name[i]) == 0)
			return i;
	if (strcmp(s, "err") == 0)
		return KDC_LOG_ERR;
	return -1;
}

void
kdc_log_msg(enum kdc_log_level lvl, const char *func, int with_r, kdc_err r,
    const char *fmt, ...)
{
	char msg[1024], ts[32];
	struct tm tm;
	time_t now;
	va_list ap;

	if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* one fprintf: one write, so concurrent lines do not interleave */
	if (with_r)
		fprintf(stderr, "%s %s %s: %s: %s\n", ts, lvl_name[lvl], func,
		    msg, kdc_err_str(r));
	else
		fprintf(stderr, "%s %s %s: %s\n", ts, lvl_name[lvl], func, msg);
}

char *
kdc_log_escape(const void *s, size_t len, char *out, size_t out_len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s;
	size_t o = 0;

	if (out_len == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			if (o + 1 >= out_len)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= out_len)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
	return out;
}

int
kdc_log_limit_take(struct kdc_log_limit *l, int64_t now, unsigned rate,
    unsigned burst, unsigned long *dropped)
{
	if (dropped != NULL)
		*dropped = 0;
	if (l->at == 0 || now < l->at) {
		l->tokens = burst;	/* first use, or a clock that stepped */
		l->at = now;
	} else if (now > l->at) {
		int64_t add = (now - l->at) * (int64_t)rate;

		l->tokens = add >= (int64_t)burst - l->tokens ? burst :
		    l->tokens + (unsigned)add;
		l->at = now;
	}
	if (l->tokens == 0) {
		l->dropped++;
		return 0;
	}
	l->tokens--;
	if (dropped != NULL)
		*dropped = l->dropped;
	l->dropped = 0;
	return 1;
}
