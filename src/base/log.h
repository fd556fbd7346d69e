/*
 * log.h: operator logs, one line per event, to stderr, fields as key=value.
 * Never pass a secret; log key ids or fingerprint prefixes instead.
 * Peer-supplied strings go through kdc_log_escape() first.
 */
#ifndef KDC_LOG_H
#define KDC_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum kdc_log_level {
	KDC_LOG_ERR = 0,
	KDC_LOG_WARN,
	KDC_LOG_INFO,
	KDC_LOG_DEBUG,
};

/* Messages above lvl are dropped. Default KDC_LOG_INFO. Any thread may
 * set it while others log (`serve` does on SIGHUP). */
void	kdc_log_set_level(enum kdc_log_level lvl);
int	kdc_log_get_level(void);
/* Parse "err|warn|info|debug"; returns -1 if unknown. */
int	kdc_log_level_parse(const char *s);

/* with_r: append ": <kdc_err_str(r)>". Use the macros below. */
void	kdc_log_msg(enum kdc_log_level lvl, const char *func, int with_r,
	    kdc_err r, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/*
 * Copy s into out (capacity out_len, always NUL-terminated), replacing
 * bytes outside printable ASCII, '"' and '\\' with \xNN. Returns out.
 */
char	*kdc_log_escape(const void *s, size_t len, char *out, size_t out_len);

/*
 * A token bucket for log lines a peer can cause (refused handshakes,
 * closed sessions): at most `burst` lines at once, refilled at `rate` per
 * second. The caller owns it (zeroed: full on first use) and serialises
 * its use (one per engine thread). kdc_log_limit_take() returns 1 when a
 * line may be written now, 0 when it is to be dropped; on 1, *dropped
 * (optional) is how many were dropped since the last line written, which
 * that line should say. now is a monotonic clock in seconds.
 */
struct kdc_log_limit {
	int64_t		 at;		/* last refill, s; 0: never used */
	unsigned	 tokens;
	unsigned long	 dropped;	/* since the last line written */
};

int	kdc_log_limit_take(struct kdc_log_limit *l, int64_t now,
	    unsigned rate, unsigned burst, unsigned long *dropped);

#define kdc_log_err(...)	kdc_log_msg(KDC_LOG_ERR, __func__, 0, KDC_OK, __VA_ARGS__)
#define kdc_log_warn(...)	kdc_log_msg(KDC_LOG_WARN, __func__, 0, KDC_OK, __VA_ARGS__)
#define kdc_log_info(...)	kdc_log_msg(KDC_LOG_INFO, __func__, 0, KDC_OK, __VA_ARGS__)
#define kdc_log_debug(...)	kdc_log_msg(KDC_LOG_DEBUG, __func__, 0, KDC_OK, __VA_ARGS__)
#define kdc_log_err_r(r, ...)	kdc_log_msg(KDC_LOG_ERR, __func__, 1, (r), __VA_ARGS__)
#define kdc_log_warn_r(r, ...)	kdc_log_msg(KDC_LOG_WARN, __func__, 1, (r), __VA_ARGS__)
#define kdc_log_info_r(r, ...)	kdc_log_msg(KDC_LOG_INFO, __func__, 1, (r), __VA_ARGS__)
#define kdc_log_debug_r(r, ...)	kdc_log_msg(KDC_LOG_DEBUG, __func__, 1, (r), __VA_ARGS__)

#endif
