/*
 * kdcdev_int.h: shared by the .c files of libiotkdc-device only.
 */
#ifndef KDCDEV_INT_H
#define KDCDEV_INT_H

#include <stdarg.h>

#include "base/buf.h"
#include "base/wipe.h"
#include "kdcdev.h"

void	kdcdev_logf(const struct kdcdev_lwm2m *c, enum kdcdev_log_level lvl,
	    const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

#if KDCDEV_MAX_LOG_LEVEL >= 0
#define kdcdev_log_err(c, ...)	kdcdev_logf((c), KDCDEV_LOG_ERR, __func__, __VA_ARGS__)
#else
#define kdcdev_log_err(c, ...)	((void)(c))
#endif
#if KDCDEV_MAX_LOG_LEVEL >= 1
#define kdcdev_log_warn(c, ...)	kdcdev_logf((c), KDCDEV_LOG_WARN, __func__, __VA_ARGS__)
#else
#define kdcdev_log_warn(c, ...)	((void)(c))
#endif
#if KDCDEV_MAX_LOG_LEVEL >= 2
#define kdcdev_log_info(c, ...)	kdcdev_logf((c), KDCDEV_LOG_INFO, __func__, __VA_ARGS__)
#else
#define kdcdev_log_info(c, ...)	((void)(c))
#endif
#if KDCDEV_MAX_LOG_LEVEL >= 3
#define kdcdev_log_debug(c, ...) kdcdev_logf((c), KDCDEV_LOG_DEBUG, __func__, __VA_ARGS__)
#else
#define kdcdev_log_debug(c, ...) ((void)(c))
#endif

/* Incremental SHA-256 (sha256.c). */
struct kdcdev_sha256_ctx {
	uint32_t	h[8];
	uint64_t	n;		/* bytes hashed */
	uint8_t		buf[64];
	size_t		fill;
};
void	kdcdev_sha256_init(struct kdcdev_sha256_ctx *s);
void	kdcdev_sha256_update(struct kdcdev_sha256_ctx *s, const void *data,
	    size_t len);
/* Writes the digest and wipes s. */
void	kdcdev_sha256_final(struct kdcdev_sha256_ctx *s, uint8_t out[32]);

/* Secrets are zeroed with base's kdc_wipe(), shared with the server. */

#endif
