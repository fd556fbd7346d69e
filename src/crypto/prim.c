/*
 * prim.c: primitives on top of GnuTLS (constant-time compare, RNG,
 * SHA-256, HMAC, hex) and the small helpers the rest of crypto/ shares.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "base/alloc.h"
#include "base/log.h"
#include "crypto/crypto_int.h"

static pthread_once_t	 init_once = PTHREAD_ONCE_INIT;
static int		 init_rc;

/* GnuTLS's own log lines go to ours, at debug level only. */
static void
gnutls_log_cb(int level, const char *msg)
{
	size_t n = strlen(msg);

	if (n > 0 && msg[n - 1] == '\n')
		n--;
	kdc_log_debug("gnutls level=%d %.*s", level, (int)n, msg);
}

static void
crypto_init_once(void)
{
	init_rc = gnutls_global_init();
	if (init_rc < 0)
		return;
	gnutls_global_set_log_function(gnutls_log_cb);
	/* Level 2 is handshake-level detail; higher levels can dump keys. */
	gnutls_global_set_log_level(kdc_log_get_level() >= KDC_LOG_DEBUG ?
	    2 : 0);
}

kdc_err
kdc_crypto_init(void)
{
	(void)pthread_once(&init_once, crypto_init_once);
	if (init_rc < 0)
		return KDC_CRYPTO_GTERR("gnutls_global_init", init_rc);
	return KDC_OK;
}

bool
kdc_ct_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return true;
	return gnutls_memcmp(a, b, n) == 0;
}

kdc_err
kdc_random(void *buf, size_t n)
{
	int rc;

	if (n == 0)
		return KDC_OK;
	if ((rc = gnutls_rnd(GNUTLS_RND_KEY, buf, n)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_rnd", rc);
	return KDC_OK;
}

void
kdc_sha256(const void *data, size_t len, uint8_t out[32])
{
	static const uint8_t empty;
	int rc;

	/* Only fails for an unknown algorithm: SHA-256 is always there. */
	rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, len > 0 ? data : &empty, len,
	    out);
	if (rc < 0)
		abort();
}

kdc_err
kdc_hmac_sha256(const uint8_t *key, size_t key_len, const void *data,
    size_t len, uint8_t out[32])
{
	static const uint8_t empty;
	int rc;

	rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key_len > 0 ? key : &empty,
	    key_len, len > 0 ? data : &empty, len, out);
	if (rc < 0)
		return KDC_CRYPTO_GTERR("gnutls_hmac_fast", rc);
	return KDC_OK;
}

void
kdc_secret_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	kdc_wipe(p, n);
	kdc_free(p);
}

void
kdc_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

kdc_err
kdc_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t *out_len)
{
	size_t cap = *out_len, n;

	*out_len = 0;
	if (in_len % 2 != 0)
		return KDC_ERR_MALFORMED;
	n = in_len / 2;
	if (n > cap)
		return KDC_ERR_TOO_LARGE;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_nibble(in[2 * i]), lo = hex_nibble(in[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			kdc_wipe(out, i);	/* hex often carries a PSK */
			return KDC_ERR_MALFORMED;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*out_len = n;
	return KDC_OK;
}

/* ---- helpers for the rest of crypto/ ---------------------------------- */

kdc_err
crypto_gnutls_err(const char *func, const char *what, int rc, kdc_err r)
{
	kdc_log_msg(KDC_LOG_DEBUG, func, 0, KDC_OK, "%s failed: %s", what,
	    gnutls_strerror(rc));
	return r;
}

kdc_err
crypto_datum_dup(const gnutls_datum_t *d, uint8_t **out, size_t *out_len)
{
	uint8_t *p;

	*out = NULL;
	*out_len = 0;
	if ((p = kdc_malloc((size_t)d->size + 1)) == NULL)
		return KDC_ERR_NOMEM;
	if (d->size > 0)
		memcpy(p, d->data, d->size);
	p[d->size] = 0;
	*out = p;
	*out_len = d->size;
	return KDC_OK;
}

void
crypto_datum_wipe(gnutls_datum_t *d)
{
	if (d->data != NULL) {
		kdc_wipe(d->data, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

bool
crypto_is_pem(const uint8_t *buf, size_t len)
{
	static const char tag[] = "-----BEGIN";
	const size_t n = sizeof(tag) - 1;

	for (size_t i = 0; i + n <= len; i++)
		if (buf[i] == '-' && memcmp(buf + i, tag, n) == 0)
			return true;
	return false;
}

kdc_err
crypto_serial(uint8_t serial[KDC_SERIAL_LEN])
{
	kdc_err r;

	/* Rejection sampling keeps the serial uniform over the 16-byte
	 * positive integers whose first octet is non-zero. */
	do {
		if ((r = kdc_random(serial, KDC_SERIAL_LEN)) != KDC_OK)
			return r;
		serial[0] &= 0x7f;
	} while (serial[0] == 0);
	return KDC_OK;
}

kdc_err
crypto_key_id(gnutls_pubkey_t pub, uint8_t *id, size_t *id_len)
{
	int rc;

	if ((rc = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA1, id,
	    id_len)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_pubkey_get_key_id", rc);
	return KDC_OK;
}
