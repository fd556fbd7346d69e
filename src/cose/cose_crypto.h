/*
 * cose_crypto.h: the primitives COSE needs, one implementation per build.
 * Hosts: crypto_gnutls.c (Ed25519, HMAC, AEAD on GnuTLS) plus one ES256
 * variant, chosen per target at build time: crypto_openssl.c (OpenSSL 3
 * libcrypto, ~2x nettle's verify: the daemon and the device library's
 * host port) or crypto_gnutls_es256.c (nettle: test_cose_gnutls proves
 * it on every vector). An embedded port brings its own file. cose.c and
 * cwt.c (the portable core) call only these. Keys and messages are the caller's bytes, contiguous; nothing
 * here keeps state between calls. Our side never allocates (the library
 * underneath may). Secrets a function copies are wiped before it returns.
 *
 * Errors: INVALID_ARG (a key or buffer of the wrong length), BAD_SIGNATURE
 * (a signature or tag that does not verify: the only answer for a
 * tampered input), UNSUPPORTED (an alg the backend lacks), CRYPTO (the
 * library failed otherwise).
 */
#ifndef KDC_COSE_CRYPTO_H
#define KDC_COSE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define KDC_CC_P256_LEN		32	/* a P-256 scalar or coordinate */
#define KDC_CC_ED25519_LEN	32	/* an Ed25519 seed or public key */
#define KDC_CC_SIG_LEN		64	/* ES256 r || s; Ed25519 signature */
#define KDC_CC_HMAC_LEN		32	/* HMAC-SHA-256 */

/* Which ES256 variant this build linked: "openssl" or "gnutls" (tests,
 * benchmarks). */
const char	*kdc_cc_es256_impl(void);

/*
 * ECDSA P-256 with SHA-256 over msg; sig is raw r || s (64 bytes, each
 * left-padded to 32), not DER. Signing needs d; x and y may be NULL when
 * the caller has only d (the public point is not needed to sign).
 * Verify: a point off the curve is BAD_SIGNATURE (it verifies nothing).
 */
kdc_err	kdc_cc_es256_sign(const uint8_t d[32], const uint8_t *x,
	    const uint8_t *y, const uint8_t *msg, size_t msg_len,
	    uint8_t sig[64]);
kdc_err	kdc_cc_es256_verify(const uint8_t x[32], const uint8_t y[32],
	    const uint8_t *msg, size_t msg_len, const uint8_t *sig,
	    size_t sig_len);

/* Ed25519 (PureEdDSA, RFC 8032): seed d (32 bytes) signs; x verifies. */
kdc_err	kdc_cc_ed25519_sign(const uint8_t d[32], const uint8_t *msg,
	    size_t msg_len, uint8_t sig[64]);
kdc_err	kdc_cc_ed25519_verify(const uint8_t x[32], const uint8_t *msg,
	    size_t msg_len, const uint8_t *sig, size_t sig_len);

/* HMAC-SHA-256 of msg under k (any length), 32 bytes into mac. */
kdc_err	kdc_cc_hmac256(const uint8_t *k, size_t k_len, const uint8_t *msg,
	    size_t msg_len, uint8_t mac[32]);
/* Compute the HMAC and compare its first tag_len bytes (8 or 32) with
 * tag in constant time: KDC_OK or BAD_SIGNATURE. */
kdc_err	kdc_cc_hmac256_check(const uint8_t *k, size_t k_len,
	    const uint8_t *msg, size_t msg_len, const uint8_t *tag,
	    size_t tag_len);
/* Constant-time equality of a and b (n bytes). */
bool	kdc_cc_equal(const uint8_t *a, const uint8_t *b, size_t n);

/*
 * AEAD with a 16-byte key: KDC_CC_AES_CCM (13-byte nonce, tag 8 or 16)
 * or KDC_CC_AES_GCM (12-byte nonce, tag 16). Seal writes pt_len +
 * tag_len bytes into ct (capacity *ct_len, set to the length). Open
 * reads ct (ciphertext then tag), writes ct_len - tag_len bytes into pt
 * (capacity *pt_len) or, when the tag does not verify, BAD_SIGNATURE
 * with pt wiped.
 */
#define KDC_CC_AES_CCM	1
#define KDC_CC_AES_GCM	2
kdc_err	kdc_cc_aead_seal(int mode, const uint8_t *key, size_t key_len,
	    const uint8_t *nonce, size_t nonce_len, size_t tag_len,
	    const uint8_t *aad, size_t aad_len, const uint8_t *pt,
	    size_t pt_len, uint8_t *ct, size_t *ct_len);
kdc_err	kdc_cc_aead_open(int mode, const uint8_t *key, size_t key_len,
	    const uint8_t *nonce, size_t nonce_len, size_t tag_len,
	    const uint8_t *aad, size_t aad_len, const uint8_t *ct,
	    size_t ct_len, uint8_t *pt, size_t *pt_len);

#endif
