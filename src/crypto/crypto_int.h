/*
 * crypto_int.h: shared by the .c files of src/crypto only. Nothing outside
 * crypto/ may include it: the key structures below are the custody line.
 */
#ifndef KDC_CRYPTO_INT_H
#define KDC_CRYPTO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "crypto/crypto.h"

/* Wrapping key size and the AES-GCM nonce and tag sizes of the wrap format
 * 0x01 || nonce(12) || ciphertext || tag(16) (crypto.h, kdc_wrap). */
#define KDC_KEYRING_KEY_LEN	32
#define KDC_WRAP_VERSION	0x01
#define KDC_WRAP_NONCE_LEN	12
#define KDC_WRAP_TAG_LEN	16


/* Files of the data dir that crypto/ reads: a PEM chain is a few KiB. */
#define KDC_CRYPTO_FILE_MAX	65536

struct kdc_keyring {
	uint8_t	key[KDC_KEYRING_KEY_LEN];	/* AES-256-GCM wrapping key */
	uint8_t	prk[32];	/* HKDF-Extract(salt, key), for subkeys */
};

/* OpenSSL's EVP_PKEY (its public struct tag), so that only p256.c
 * includes an OpenSSL header. */
struct evp_pkey_st;

struct kdc_ca {
	gnutls_x509_crt_t	 crt;	/* the CA certificate, parsed once */
	gnutls_privkey_t	 key;	/* software or PKCS#11 */
	/* the same file key in OpenSSL, which signs with it (p256.c); NULL
	 * for a PKCS#11 key */
	struct evp_pkey_st	*ossl_key;
	uint8_t			*der;	/* crt as DER (kdc_malloc) */
	size_t			 der_len;
	uint8_t			 skid[64];	/* its subject key id */
	size_t			 skid_len;
	uint8_t			*dn;	/* its subject Name, DER: our issuer */
	size_t			 dn_len;
};

/* The ACE Authorization Server's signing key (askey.c): a P-256 key
 * in GnuTLS (a file or a PKCS#11 object) and, for a file key, the same
 * key in OpenSSL, which signs with it (p256.c). */
struct kdc_as_key {
	gnutls_privkey_t	 key;
	struct evp_pkey_st	*ossl_key;
	uint8_t			 spki[91];	/* canonical P-256 SPKI */
	size_t			 spki_len;
};

/* ---- keys (ca.c): shared by the CA, the TLS and the AS keys -------------- */

/* A fresh ECDSA P-256 key, and its unencrypted PKCS#8 DER (a secret: the
 * caller wipes it with crypto_datum_wipe()). */
kdc_err	crypto_key_generate(gnutls_privkey_t *out, gnutls_datum_t *pkcs8);
/* A privkey from unencrypted PKCS#8 DER (BAD_KEY if it does not parse). */
kdc_err	crypto_key_import(const uint8_t *der, size_t len,
	    gnutls_privkey_t *out);
/* The private key a PKCS#11 URL names (PKCS11 if it cannot be had). */
kdc_err	crypto_key_import_url(const char *url, gnutls_privkey_t *out);
/* The public half; UNSUPPORTED_KEY unless EC P-256, fail otherwise. */
kdc_err	crypto_key_public_p256(gnutls_privkey_t key, kdc_err fail,
	    gnutls_pubkey_t *out);

/* ---- DER (der.c) ---------------------------------------------------------
 * Read through a struct kdc_rd (base/buf.h). der_next() takes the next
 * element if its tag is `tag` (one-octet tags only) and its length is
 * definite, in shortest form and inside the input; val (may be NULL) is
 * then a fresh reader over its contents and rd moves past it. false, rd
 * unchanged (and without a sticky error), otherwise, so a caller may try
 * another tag. der_take() does the same and also borrows the whole
 * element, header included, as *el / *el_len (both may be NULL).
 * kdc_rd_at_end() says whether anything follows.
 */
bool	der_next(struct kdc_rd *rd, uint8_t tag, struct kdc_rd *val);
bool	der_take(struct kdc_rd *rd, uint8_t tag, struct kdc_rd *val,
	    const uint8_t **el, size_t *el_len);

/*
 * A writer that fills buf[0, cap) back to front: what is written sits at
 * buf[pos, cap). Write an element's contents, last part first, then
 * der_wrap() it with the mark (w->pos) taken before them. A write that
 * does not fit (or a length over 16 MiB - 1, the most der_next() reads)
 * sets bad; later writes do nothing. der_put_time(): UTCTime or GeneralizedTime (RFC 5280
 * 4.1.2.5); false and bad for a time outside the years 1-9999.
 */
struct der_wr {
	uint8_t	*buf;
	size_t	 pos;	/* starts at the capacity */
	bool	 bad;
};
/* A writer over a fresh kdc_malloc'd buffer of cap bytes: the buffer
 * (the caller's to free), NULL out of memory. */
uint8_t	*der_wr_new(struct der_wr *w, size_t cap);
void	der_put(struct der_wr *w, const void *p, size_t n);
void	der_put_hdr(struct der_wr *w, uint8_t tag, size_t len);
void	der_wrap(struct der_wr *w, uint8_t tag, size_t mark);
bool	der_put_time(struct der_wr *w, int64_t t);

/*
 * tbs signed ECDSA-SHA256 by the CA key and wrapped as RFC 5280 signs
 * both certificates (4.1) and CRLs (5.1): SEQUENCE { tbs,
 * ecdsa-with-SHA256, BIT STRING signature }. *der heap, caller frees.
 * alg_ecdsa_sha256 is that AlgorithmIdentifier (no parameters).
 */
extern const uint8_t crypto_alg_ecdsa_sha256[12];
/* The authorityKeyIdentifier extension (RFC 5280 4.2.1.1, not critical):
 * keyIdentifier = the CA's subject key id; certificates and CRLs carry
 * the same one. */
void	crypto_put_aki(struct der_wr *w, const struct kdc_ca *ca);
kdc_err	crypto_sign_tbs(struct kdc_ca *ca, const uint8_t *tbs, size_t tbs_len,
	    uint8_t **der, size_t *len);

/*
 * Map a GnuTLS error to `r` (KDC_ERR_CRYPTO, KDC_ERR_PKCS11, ...) and log
 * it at debug level with gnutls_strerror(). Never called with secrets.
 */
kdc_err	crypto_gnutls_err(const char *func, const char *what, int rc,
	    kdc_err r);
#define KDC_CRYPTO_GTERR(what, rc)						\
	crypto_gnutls_err(__func__, (what), (rc), KDC_ERR_CRYPTO)
#define KDC_CRYPTO_GTERR_AS(what, rc, r)					\
	crypto_gnutls_err(__func__, (what), (rc), (r))

/* Copy a gnutls-allocated datum into a kdc_malloc buffer, with a NUL after
 * it (not counted). The datum is left alone. */
kdc_err	crypto_datum_dup(const gnutls_datum_t *d, uint8_t **out,
	    size_t *out_len);
/* Wipe then gnutls_free a datum's data; NULL-safe. */
void	crypto_datum_wipe(gnutls_datum_t *d);

/* True if buf looks like PEM ("-----BEGIN" somewhere in it). */
bool	crypto_is_pem(const uint8_t *buf, size_t len);

/*
 * Files. crypto_file_read: the whole file, at most max bytes (TOO_LARGE
 * beyond), kdc_malloc with a NUL after it; IO if unreadable. NOT_FOUND if
 * it does not exist.
 * Writes: base/file.h.
 */
kdc_err	crypto_file_read(const char *path, size_t max, uint8_t **out,
	    size_t *out_len);
/* dir + "/" + name into a kdc_malloc string; NULL on NOMEM. */
char	*crypto_path(const char *dir, const char *name);

/* Random certificate serial: KDC_SERIAL_LEN bytes, positive (top bit
 * clear) and with a non-zero first byte, so it always encodes as exactly
 * KDC_SERIAL_LEN DER bytes (no leading zero octet, never zero). */
kdc_err	crypto_serial(uint8_t serial[KDC_SERIAL_LEN]);

/* Subject key id of a public key (SHA-1 of the key bits, RFC 5280
 * 4.2.1.2 method 1) into id (capacity *id_len). */
kdc_err	crypto_key_id(gnutls_pubkey_t pub, uint8_t *id, size_t *id_len);


/* Make sure the PKCS#11 subsystem is set up (once per process), honouring
 * IOTKDC_PKCS11_MODULE (crypto.h). */
kdc_err	crypto_pkcs11_setup(void);

#endif
