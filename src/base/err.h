/*
 * err.h: the one error type of iotkdc.
 *
 * KDC_OK is 0; errors are negative and grouped by range:
 *   -1 .. -19  codec and generic
 *   -20 .. -39 policy refusals (each one is audited where it happens)
 *   -40 ..     store, crypto and system
 * Faces translate a kdc_err into their protocol's code through one table
 * each; everything below the faces passes errors up unchanged.
 */
#ifndef KDC_ERR_H
#define KDC_ERR_H

typedef enum {
	KDC_OK			= 0,

	KDC_ERR_TRUNCATED	= -1,	/* input ended early */
	KDC_ERR_MALFORMED	= -2,	/* input does not parse */
	KDC_ERR_TRAILING	= -3,	/* bytes after a complete item */
	KDC_ERR_TOO_LARGE	= -4,	/* over a limit, or output does not fit */
	KDC_ERR_INVALID_ARG	= -5,	/* caller passed a bad value */
	KDC_ERR_NOMEM		= -6,	/* allocation failed */
	KDC_ERR_NOT_FOUND	= -7,	/* no such row / object */
	KDC_ERR_EXISTS		= -8,	/* already there (unique id, name) */
	KDC_ERR_UNSUPPORTED	= -9,	/* valid but not implemented */
	KDC_ERR_REPLAY		= -10,	/* a record or message seen before */
	KDC_ERR_EXHAUSTED	= -11,	/* a counter would wrap (sequence numbers) */

	KDC_ERR_UNKNOWN_DEVICE	= -20,	/* no such device / credential */
	KDC_ERR_REVOKED		= -21,	/* device or credential revoked */
	KDC_ERR_EXPIRED		= -22,	/* credential past not_after */
	KDC_ERR_WRONG_TYPE	= -23,	/* credential of another type/kind */
	KDC_ERR_NOT_YET_VALID	= -24,	/* credential before not_before */
	KDC_ERR_DUPLICATE_PSK	= -25,	/* PSK (or identity) shared with another device */
	KDC_ERR_WEAK_PSK	= -26,	/* PSK shorter than 128 bits */
	KDC_ERR_BAD_SIGNATURE	= -27,	/* CSR or certificate signature does not verify */
	KDC_ERR_UNSUPPORTED_KEY	= -28,	/* key algorithm or curve not accepted */
	KDC_ERR_LIVE_CRED	= -29,	/* a live credential already exists for device+audience */
	KDC_ERR_UNKNOWN_PROFILE	= -30,	/* profile not in iotkdc.conf */
	KDC_ERR_UNTRUSTED	= -31,	/* certificate does not chain to a trusted CA */
	KDC_ERR_DENIED		= -32,	/* authenticated but not authorized */
	KDC_ERR_UNKNOWN_AUDIENCE = -33,	/* audience not registered, or not in the device's profile */
	KDC_ERR_DUPLICATE_SSID	= -34,	/* LwM2M Short Server ID taken by another audience */

	KDC_ERR_STORE		= -40,	/* database failure */
	KDC_ERR_STORE_BUSY	= -41,	/* database locked past the timeout */
	KDC_ERR_STORE_CORRUPT	= -42,	/* not an iotkdc database, or damaged */
	KDC_ERR_STORE_VERSION	= -43,	/* schema newer than this binary */
	KDC_ERR_CRYPTO		= -44,	/* crypto library failure */
	KDC_ERR_BAD_KEY		= -45,	/* wrapped data does not open with this key */
	KDC_ERR_IO		= -46,	/* file or socket I/O */
	KDC_ERR_CONFIG		= -47,	/* bad configuration */
	KDC_ERR_AUDIT_BROKEN	= -48,	/* audit chain does not verify */
	KDC_ERR_PKCS11		= -49,	/* PKCS#11 token or object failure */
	KDC_ERR_TLS		= -50,	/* TLS setup failure */
	KDC_ERR_TIMEOUT		= -51,	/* peer did not answer in time */
	KDC_ERR_PEER_RESET	= -52,	/* peer answered RST */
	KDC_ERR_CLOSED		= -53,	/* session or connection closed */
	KDC_ERR_PEER_ERROR	= -54,	/* peer answered with an error code */
	KDC_ERR_BUSY		= -55,	/* at capacity now: try again later */
	KDC_ERR_WRONG_KEY	= -56,	/* peer named a known credential but did not prove its key */
	KDC_ERR_STORE_GONE	= -57,	/* the store's file was removed or replaced under us */
	KDC_ERR_NOSPACE		= -58,	/* no space left on the disk (or over quota) */
} kdc_err;

/* Human text for r, e.g. "device is revoked". Never NULL. */
const char	*kdc_err_str(kdc_err r);
/* Symbolic name without prefix, e.g. "REVOKED", as used in vector files. */
const char	*kdc_err_name(kdc_err r);
/* Inverse of kdc_err_name(); returns 1 (not a kdc_err) if unknown. */
int		 kdc_err_from_name(const char *name);

#endif
