/*
 * codec.h: text encodings of keys and certificates (PEM, base64), on
 * GnuTLS. Part of the crypto module's contract (see crypto.h conventions).
 */
#ifndef KDC_CRYPTO_CODEC_H
#define KDC_CRYPTO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Base64 (RFC 4648, padded) into out (capacity *out_len, set to the bytes
 * written). MALFORMED / TOO_LARGE. */
kdc_err	kdc_base64_decode(const char *in, size_t in_len, uint8_t *out,
	    size_t *out_len);
/* DER -> PEM with the given label ("CERTIFICATE"); heap, NUL-terminated. */
kdc_err	kdc_pem_encode(const char *label, const uint8_t *der, size_t len,
	    char **pem, size_t *pem_len);
/* A public key file (PEM "PUBLIC KEY" or DER SubjectPublicKeyInfo) into
 * SPKI DER (capacity *out_len). MALFORMED if neither parses. */
kdc_err	kdc_spki_load(const uint8_t *buf, size_t len, uint8_t *out,
	    size_t *out_len);

/* The first certificate of a PEM chain (the leaf) as DER, and its
 * SubjectPublicKeyInfo as DER; both heap. MALFORMED if none parses. */
kdc_err	kdc_cert_pem_leaf(const char *pem, size_t len, uint8_t **der,
	    size_t *der_len, uint8_t **spki, size_t *spki_len);

#endif
