/*
 * p256.h: ECDSA P-256 on the enrollment hot path, and the one place that
 * chooses the library for it (DESIGN §4 as amended by issue 14 §2).
 *
 *  - verifying a CSR's self-signature (public data only): OpenSSL 3
 *    libcrypto (the point into a copy of the P-256 parameters, then
 *    EVP_DigestVerify), ~2x nettle's speed here;
 *  - signing a TBSCertificate / TBSCertList with the CA key: OpenSSL when
 *    the key is a file (ca.key, imported once at kdc_ca_load() into an
 *    EVP_PKEY kept with the CA), GnuTLS when it is a PKCS#11 object (the
 *    token does the math; p11-kit is reached through GnuTLS only).
 *
 * Everything else (TLS, DTLS, X.509 building, Ed25519, PKCS#11, wrapping)
 * stays on GnuTLS. Nothing outside crypto/ calls these but the bench and
 * the tests, for kdc_p256_force_gnutls() alone; the rest of the code
 * calls crypto.h. No OpenSSL or GnuTLS type appears here.
 */
#ifndef KDC_CRYPTO_P256_H
#define KDC_CRYPTO_P256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct kdc_ca;

/* An ECDSA signature in DER (Ecdsa-Sig-Value): 72 bytes for P-256; room
 * for P-521 (139) so a CA key GnuTLS signs with never needs more. */
#define KDC_P256_SIG_MAX	144

/* The message digest a CSR's ecdsa-with-SHAxxx names. */
enum kdc_p256_hash {
	KDC_P256_SHA256 = 1,
	KDC_P256_SHA384,
	KDC_P256_SHA512,
};

/*
 * Verify an ECDSA signature (DER) over data with the P-256 key of spki,
 * the canonical SubjectPublicKeyInfo kdc_csr_parse() isolated (91 bytes,
 * uncompressed point). KDC_OK if it verifies; BAD_SIGNATURE if it does
 * not, if the signature is not DER, or if the point is off the curve (or
 * the SPKI is not a P-256 key); INVALID_ARG for an unknown hash; NOMEM.
 */
kdc_err	crypto_p256_verify(const uint8_t *spki, size_t spki_len,
	    enum kdc_p256_hash hash, const uint8_t *data, size_t len,
	    const uint8_t *sig, size_t sig_len);

/*
 * At kdc_ca_load() of a file key: import the unencrypted PKCS#8 DER (the
 * secret the caller still holds and wipes) into OpenSSL, kept with ca,
 * after checking that OpenSSL reads the same public key as the CA
 * certificate's (ca->crt). A key that is not EC P-256 is left to GnuTLS
 * (KDC_OK, nothing kept). BAD_KEY if OpenSSL refuses the key or reads
 * another public key; NOMEM; CRYPTO. The key is never written anywhere.
 */
kdc_err	crypto_p256_ca_key_load(struct kdc_ca *ca, const uint8_t *pkcs8,
	    size_t pkcs8_len);
/* Free what crypto_p256_ca_key_load() kept: EVP_PKEY_free(), which
 * clears the private scalar (BN_clear_free). NULL-safe. */
void	crypto_p256_ca_key_free(struct kdc_ca *ca);

/*
 * Sign data (SHA-256, ECDSA) with the CA key: through OpenSSL if
 * crypto_p256_ca_key_load() kept a key, else through GnuTLS (ca->key:
 * PKCS#11, or any key OpenSSL was not given). The DER signature into sig
 * (capacity *sig_len, set to the length). TOO_LARGE if it does not fit;
 * CRYPTO if signing fails.
 */
kdc_err	crypto_p256_ca_sign(struct kdc_ca *ca, const uint8_t *data,
	    size_t len, uint8_t *sig, size_t *sig_len);

/*
 * The AS key (crypto.h kdc_as_key_*): import the PKCS#8 DER of a file key
 * into OpenSSL after checking it reads the public key spki (the
 * canonical SPKI GnuTLS exported); *out NULL (KDC_OK) for a key that is
 * not P-256. BAD_KEY, NOMEM as crypto_p256_ca_key_load().
 */
struct evp_pkey_st;
kdc_err	crypto_p256_key_import(const uint8_t *pkcs8, size_t pkcs8_len,
	    const uint8_t *spki, size_t spki_len, struct evp_pkey_st **out);
void	crypto_p256_key_free(struct evp_pkey_st *k);
/* ECDSA P-256 SHA-256 over data with k (OpenSSL) if not NULL, else gk (a
 * gnutls_privkey_t, as void *: GnuTLS, PKCS#11), as COSE wants it: raw
 * r || s (RFC 9053 §2.1), 64 bytes. CRYPTO. */
kdc_err	crypto_p256_sign_raw(struct evp_pkey_st *k, void *gk,
	    const uint8_t *data, size_t len, uint8_t rs[64]);

/*
 * Bench and tests only: with on, both calls above take the GnuTLS path
 * (nettle) even where OpenSSL would be used, so one run can compare the
 * two. Process-wide; not a configuration: the daemon never calls it.
 */
void	kdc_p256_force_gnutls(bool on);
/* Whether the last crypto_p256_ca_sign() / crypto_p256_verify() of this
 * thread went through OpenSSL (tests: which path was exercised). */
bool	kdc_p256_last_was_openssl(void);

#endif
