/*
 * crypto.h: everything iotkdc does with keys, on GnuTLS, except ECDSA
 * P-256 on the enrollment hot path (a CSR's signature, the certificate
 * signed with a file CA key), which p256.c does with OpenSSL's libcrypto
 * (faster than nettle here; DESIGN §4). The wrapping
 * key and the CA key are reachable only through these calls (never a
 * global another module can read), so a later split of key custody into
 * its own process is a move, not a rewrite.
 *
 * Conventions: KDC_OK or a negative kdc_err; out-parameters cleared on
 * entry, set on success only; heap results are owned by the caller.
 * Secret heap buffers are released with kdc_secret_free(), which wipes.
 */
#ifndef KDC_CRYPTO_H
#define KDC_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "base/wipe.h"	/* kdc_wipe() */

/* ---- primitives -------------------------------------------------------- */

/* gnutls_global_init() once per process; safe to call repeatedly. */
kdc_err	kdc_crypto_init(void);
/* Constant-time equality of two n-byte buffers (gnutls_memcmp). */
bool	kdc_ct_equal(const void *a, const void *b, size_t n);
/* n bytes from the key-grade RNG. */
kdc_err	kdc_random(void *buf, size_t n);
/* SHA-256 of len bytes. */
void	kdc_sha256(const void *data, size_t len, uint8_t out[32]);
/* HMAC-SHA256. */
kdc_err	kdc_hmac_sha256(const uint8_t *key, size_t key_len, const void *data,
	    size_t len, uint8_t out[32]);
/* Wipe then free. NULL-safe. */
void	kdc_secret_free(void *p, size_t n);
/* Lower-case hex of n bytes into out (capacity >= 2n+1). */
void	kdc_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode hex (either case, even length) into out (capacity *out_len);
 * *out_len set to bytes written. MALFORMED on a non-hex char or odd
 * length, TOO_LARGE if it does not fit. */
kdc_err	kdc_hex_decode(const char *in, size_t in_len, uint8_t *out,
	    size_t *out_len);

/* ---- OCF owner-PSK derivations (crypto/ocf.c) -------------------------- */

/*
 * The TLS 1.2 PRF with SHA-256 (RFC 5246 §5): P_SHA256(secret,
 * label || seed), out_len bytes (at most 1024). On gnutls_hmac; label and
 * seed may be empty. INVALID_ARG (out_len 0 or over 1024, a label over
 * 256 bytes, NULL with a length), CRYPTO.
 */
kdc_err	kdc_tls12_prf_sha256(const uint8_t *secret, size_t secret_len,
	    const void *label, size_t label_len, const void *seed,
	    size_t seed_len, uint8_t *out, size_t out_len);
/*
 * OCF Random PIN (oic.sec.doxm.rdp) PSK, ocf.md §2 (IoTivity-Lite
 * oc_tls_pbkdf2): PBKDF2-HMAC-SHA256(password = the PIN's ASCII bytes,
 * salt = the 16 raw bytes of the device's current deviceuuid, 1000
 * iterations), 16 bytes. INVALID_ARG (an empty PIN), CRYPTO.
 */
#define KDC_OCF_RDP_ITERATIONS	1000
kdc_err	kdc_ocf_rdp_psk(const char *pin, size_t pin_len,
	    const uint8_t devuuid[16], uint8_t psk[16]);
/*
 * OCF owner PSK, ocf.md §2 (IoTivity-Lite oc_sec_derive_owner_psk):
 * the first 16 bytes of P_SHA256(key_block, oxm || obt_uuid ||
 * device_uuid), the OXM string ("oic.sec.doxm.jw", ".rdp", ".mfgcert")
 * as the PRF's label, the two raw 16-byte uuids (the device's NEW one) as
 * its seed. key_block is the session's "key expansion" output (96 bytes
 * for the CBC-SHA256 suites). INVALID_ARG (an empty key block or OXM),
 * CRYPTO.
 */
kdc_err	kdc_ocf_owner_psk(const uint8_t *key_block, size_t key_block_len,
	    const char *oxm, const uint8_t obt_uuid[16],
	    const uint8_t device_uuid[16], uint8_t psk[16]);

/* ---- the wrapping key -------------------------------------------------- */

struct kdc_keyring;

/* Create a new 256-bit wrapping key file at path: mode 0600, O_EXCL
 * (KDC_ERR_EXISTS if present). */
kdc_err	kdc_keyring_create(const char *path);
/* Load the key at path. KDC_ERR_IO if unreadable, KDC_ERR_BAD_KEY if the
 * file is not a key of ours (wrong size), KDC_ERR_CONFIG if group/other
 * can read it. */
kdc_err	kdc_keyring_load(const char *path, struct kdc_keyring **out);
/* A keyring from 32 raw bytes (tests, benches). */
kdc_err	kdc_keyring_from_bytes(const uint8_t key[32], struct kdc_keyring **out);
/* Wipes the key. NULL-safe. */
void	kdc_keyring_free(struct kdc_keyring *kr);

/*
 * AES-256-GCM wrap of pt under the keyring, binding aad (e.g. the row id).
 * Output: 0x01 || nonce(12) || ciphertext || tag(16), pt_len +
 * KDC_WRAP_OVERHEAD bytes, heap, caller frees (not secret).
 */
kdc_err	kdc_wrap(const struct kdc_keyring *kr, const void *aad, size_t aad_len,
	    const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len);
/* Inverse; KDC_ERR_BAD_KEY if the tag fails (wrong key, wrong aad, or a
 * changed byte), MALFORMED if too short or an unknown version. *out is a
 * secret: release with kdc_secret_free(*out, *out_len). */
kdc_err	kdc_unwrap(const struct kdc_keyring *kr, const void *aad,
	    size_t aad_len, const uint8_t *in, size_t in_len, uint8_t **out,
	    size_t *out_len);
/* HMAC-SHA256 of data under a subkey derived from the wrapping key for
 * `label` (HKDF-SHA256, info = label). Used for PSK fingerprints
 * ("psk-fp") and the audit chain ("audit"). */
kdc_err	kdc_keyring_mac(const struct kdc_keyring *kr, const char *label,
	    const void *data, size_t len, uint8_t out[32]);

/* ---- public keys and certificates (parsing untrusted input) ------------ */

enum kdc_key_alg {
	KDC_KEY_P256 = 1,
	KDC_KEY_ED25519 = 2,
};

/* Check that der is a SubjectPublicKeyInfo of an accepted key (P-256 or
 * Ed25519): MALFORMED if it does not parse, UNSUPPORTED_KEY otherwise.
 * Also MALFORMED: trailing bytes or any non-canonical encoding (the SPKI
 * is compared byte for byte as an identity), an EC point off the curve.
 * TOO_LARGE over KDC_SPKI_MAX. alg may be NULL. */
kdc_err	kdc_spki_check(const uint8_t *der, size_t len, enum kdc_key_alg *alg);

/* Parse a CA certificate (PEM or DER, first certificate of a PEM file) for
 * `mfg-ca add`: MALFORMED if it does not parse, UNTRUSTED if it is not a CA
 * (basicConstraints CA:TRUE) or its self-signature fails when self-issued.
 * *der is the DER, heap. */
kdc_err	kdc_cacert_parse(const uint8_t *buf, size_t len, uint8_t **der,
	    size_t *der_len);

/* Verify a device certificate chain (DER certs, leaf first) against the
 * given manufacturer CA DERs at time `now`. On success *dev_id is the SAN
 * URI of the leaf, else its CN (heap, caller frees); *spki the leaf's SPKI
 * DER (heap). UNTRUSTED if it does not chain, EXPIRED / NOT_YET_VALID.
 * Also UNTRUSTED: a leaf that is a CA (basicConstraints CA:TRUE), or whose
 * extendedKeyUsage lacks clientAuth (no EKU is fine). Every certificate,
 * the anchor too, must be valid at `now` (checked by us: GnuTLS 3.7 has
 * no per-call verification time). MALFORMED if a certificate does not
 * parse or the leaf names no usable id (no SAN URI and no CN, or over
 * KDC_DEVID_MAX); TOO_LARGE over KDC_CERT_MAX or KDC_CHAIN_MAX certs. */
kdc_err	kdc_cert_verify_chain(const uint8_t *const *certs, const size_t *lens,
	    size_t ncerts, const uint8_t *const *cas, const size_t *ca_lens,
	    size_t ncas, int64_t now, char **dev_id, uint8_t **spki,
	    size_t *spki_len);
/* The same for the chain of a TLS server when server is true (OCF's
 * mfgcert OTM: the device is the DTLS server): its extendedKeyUsage, if
 * any, must list serverAuth instead. */
kdc_err	kdc_cert_verify_chain_for(const uint8_t *const *certs,
	    const size_t *lens, size_t ncerts, const uint8_t *const *cas,
	    const size_t *ca_lens, size_t ncas, int64_t now, bool server,
	    char **dev_id, uint8_t **spki, size_t *spki_len);

/*
 * The SubjectPublicKeyInfo element of a DER certificate, its bytes as
 * they stand (*spki points into der: no copy, no allocation). Strict DER
 * (one encoding per value, der.c) for the path down to it; nothing is
 * verified, and what follows the SPKI is not read. For the keys our CA
 * certifies (the canonical SPKI of their CSR) these are the bytes whose
 * SHA-256 the store indexes credentials by. TOO_LARGE over KDC_CERT_MAX,
 * MALFORMED otherwise.
 */
kdc_err	kdc_cert_spki(const uint8_t *der, size_t len, const uint8_t **spki,
	    size_t *spki_len);

/* ---- the iotkdc CA ----------------------------------------------------- */

struct kdc_ca;

/*
 * Create the CA in dir: an ECDSA P-256 self-signed root, valid `days`,
 * subject "CN=iotkdc root CA". With key_url == NULL the key is generated
 * and written wrapped (AAD "ca.key") to dir/ca.key; otherwise key_url is
 * a PKCS#11 URL of an existing EC P-256 private key in a token
 * ("pkcs11:token=...;object=...;pin-value=..."), and only the certificate
 * is written; kr may then be NULL. Writes dir/ca.pem. KDC_ERR_EXISTS if
 * ca.pem exists (or ca.key, left by an interrupted create). INVALID_ARG if
 * days is 0 or over 36500, UNSUPPORTED_KEY if the token key is not P-256.
 *
 * PKCS#11 modules: by default GnuTLS loads every module p11-kit is
 * configured with (/usr/share/p11-kit/modules; Debian's softhsm2 package
 * registers SoftHSM there). If the environment variable
 * IOTKDC_PKCS11_MODULE names a module (path of a .so), only that module is
 * loaded (gnutls_pkcs11_add_provider). Read once per process, at the first
 * call with a key_url; set it (and e.g. SOFTHSM2_CONF) before that.
 */
kdc_err	kdc_ca_create(const char *dir, const struct kdc_keyring *kr,
	    const char *key_url, unsigned days);
/* Load the CA made by kdc_ca_create() (same key_url). BAD_KEY if the
 * wrapped key does not open or is not the certificate's key; PKCS11 if the
 * token or object is missing or the PIN is wrong; IO if ca.pem (or ca.key)
 * cannot be read. The kdc_ca keeps the parsed certificate and key for
 * kdc_ca_sign_csr(); a P-256 file key is also imported into OpenSSL,
 * which signs device certificates and CRLs with it (p256.h; BAD_KEY if
 * OpenSSL reads another public key than the certificate's), and wiped
 * with the kdc_ca by kdc_ca_free(). Use one kdc_ca from one thread at a
 * time (GnuTLS does not promise concurrent signing with one key object). */
kdc_err	kdc_ca_load(const char *dir, const struct kdc_keyring *kr,
	    const char *key_url, struct kdc_ca **out);
void	kdc_ca_free(struct kdc_ca *ca);
/* The CA certificate, PEM (NUL-terminated, *len without the NUL) or DER;
 * heap, caller frees. */
kdc_err	kdc_ca_cert_pem(const struct kdc_ca *ca, char **pem, size_t *len);
kdc_err	kdc_ca_cert_der(const struct kdc_ca *ca, uint8_t **der, size_t *len);

/*
 * Create the listeners' TLS certificate: a fresh ECDSA P-256 key, a
 * certificate signed by the CA with EKU serverAuth, SAN DNS localhost,
 * IP 127.0.0.1 and ::1, plus each name in hosts (DNS, or IP if it parses
 * as one), valid `days`. Writes dir/server.pem (leaf then CA) and
 * dir/server.key (wrapped, AAD "server.key"), each replaced atomically
 * (write, fsync, rename) if present, so this also renews. INVALID_ARG for
 * an empty host, one over 253 bytes or with spaces/control characters.
 */
kdc_err	kdc_tls_cert_create(const char *dir, const struct kdc_keyring *kr,
	    struct kdc_ca *ca, const char *const *hosts, size_t nhosts,
	    unsigned days);
/* Load them: *cert_pem (chain) and *key_pem (PKCS#8 PEM, a secret: free
 * with kdc_secret_free(*key_pem, *key_len)). NUL-terminated; *key_len is
 * without the NUL. BAD_KEY if server.key does not open under kr;
 * MALFORMED if server.pem is not a PEM chain that parses; TLS if its
 * leaf is not server.key's (another data dir's); IO if either is
 * missing or unreadable. */
kdc_err	kdc_tls_cert_load(const char *dir, const struct kdc_keyring *kr,
	    char **cert_pem, char **key_pem, size_t *key_len);

/*
 * Whether the leaf (first certificate) of the PEM chain cert_pem (len
 * bytes) names host in its subjectAltName, as a TLS client checks it
 * (RFC 6125, gnutls_x509_crt_check_hostname2()): an address literal
 * against the iPAddress names (::1 and 0:0:0:0:0:0:0:1 alike), a DNS
 * name against the dNSNames, any case, no wildcards. KDC_OK if it does,
 * NOT_FOUND if not, MALFORMED if no certificate parses, INVALID_ARG for
 * an empty host.
 */
kdc_err	kdc_tls_cert_names_host(const char *cert_pem, size_t len,
	    const char *host);
/* The leaf's subjectAltName DNS names and IP addresses (text form), in
 * the certificate's order, ", "-separated into out (capacity cap,
 * NUL-terminated). MALFORMED if no certificate parses (or a name is over
 * 253 bytes), TOO_LARGE if they do not fit cap (out is then ""). */
kdc_err	kdc_tls_cert_names(const char *cert_pem, size_t len, char *out,
	    size_t cap);

/* A certificate the CA issued. Heap fields, free with kdc_issued_wipe(). */
struct kdc_issued {
	uint8_t	*cert;		/* DER */
	size_t	 cert_len;
	uint8_t	*spki;		/* the subject's SubjectPublicKeyInfo DER */
	size_t	 spki_len;
	char	 serial[2 * KDC_SERIAL_LEN + 1];	/* lower-case hex */
};
void	kdc_issued_wipe(struct kdc_issued *is);

/*
 * Issue a device certificate from a PKCS#10 CSR (DER or PEM, <=
 * KDC_CSR_MAX). Checks the CSR's self-signature (BAD_SIGNATURE), its key
 * (P-256 or Ed25519, else UNSUPPORTED_KEY); MALFORMED if it does not parse.
 * The certificate: subject CN=dev_id, SAN URI dev_id (when dev_id is a
 * URI, i.e. has a ':' scheme; always CN), EKU clientAuth, keyUsage
 * digitalSignature, not CA, random positive serial of KDC_SERIAL_LEN
 * bytes, validity [not_before, not_after], signed ECDSA-SHA256 by the CA.
 * "A URI" means an RFC 3986 scheme before the first ':' and printable
 * ASCII throughout ("urn:dev:ops:1234" yes, "00:11:22" no). TOO_LARGE over
 * KDC_CSR_MAX; INVALID_ARG if dev_id is empty, over KDC_DEVID_MAX or has
 * control characters, or not_after <= not_before. Only the CSR's key is
 * used: its subject and requested extensions are ignored. On error *out
 * is zeroed (kdc_issued_wipe() on it is harmless).
 */
kdc_err	kdc_ca_sign_csr(struct kdc_ca *ca, const uint8_t *csr, size_t csr_len,
	    const char *dev_id, int64_t not_before, int64_t not_after,
	    struct kdc_issued *out);

/* The same certificate from a bare SubjectPublicKeyInfo (DER; P-256 or
 * Ed25519) instead of a CSR: for key pairs the KDC made itself. */
kdc_err	kdc_ca_sign_spki(struct kdc_ca *ca, const uint8_t *spki,
	    size_t spki_len, const char *dev_id, int64_t not_before,
	    int64_t not_after, struct kdc_issued *out);

/*
 * An OCF identity certificate (OCF Security §9.4.2.2, as IoTivity-Lite
 * checks it) from a device's /oic/sec/csr (PKCS#10, DER or PEM as
 * IoTivity sends it by default, <= KDC_CSR_MAX): the CSR parsed
 * and its self-signature verified as kdc_ca_sign_csr() does, its key
 * ECDSA P-256 (else UNSUPPORTED_KEY), its subject's first CN exactly
 * "uuid:<uuid>" (uuid: 36-character text; another CN or none: DENIED).
 * The certificate: subject CN=uuid:<uuid>, no SAN, keyUsage critical
 * digitalSignature|keyAgreement, extKeyUsage serverAuth, clientAuth and
 * 1.3.6.1.4.1.44924.1.6 (OCF identity), not CA, serial and signature as
 * kdc_ca_sign_csr(). INVALID_ARG, TOO_LARGE, MALFORMED, BAD_SIGNATURE as
 * there.
 */
kdc_err	kdc_ca_sign_ocf_identity(struct kdc_ca *ca, const uint8_t *csr,
	    size_t csr_len, const char *uuid, int64_t not_before,
	    int64_t not_after, struct kdc_issued *out);

/*
 * The CA's CRL (RFC 5280 5): X.509 v2, DER, signed ECDSA-SHA256 by the
 * CA key, issuer = the CA's subject, with authorityKeyIdentifier (the CA's
 * subject key id) and cRLNumber = crl_number. Entry i revokes the serial
 * serials_hex[i] (hex, either case, 1..20 bytes, as the certificate
 * encodes it) at revoked_at[i] (> 0). n may be 0 (an empty CRL). *der is
 * heap, caller frees. INVALID_ARG if ca is NULL, this_update <= 0,
 * next_update <= this_update, or an entry is empty, not hex, too long or
 * has revoked_at <= 0; TOO_LARGE past ~390,000 entries (a DER length
 * over 16 MiB). Linear in n (DER written by crypto/der.c).
 */
kdc_err	kdc_ca_crl(struct kdc_ca *ca, const char *const *serials_hex,
	    const int64_t *revoked_at, size_t n, int64_t this_update,
	    int64_t next_update, uint64_t crl_number, uint8_t **der,
	    size_t *len);

/*
 * A fresh ECDSA P-256 key pair: the private key as unencrypted PKCS#8 DER
 * into pkcs8 (capacity *pkcs8_len, set to the length; a secret the caller
 * wipes), the public key as SPKI DER in *spki (heap).
 */
kdc_err	kdc_keygen_p256(uint8_t *pkcs8, size_t *pkcs8_len, uint8_t **spki,
	    size_t *spki_len);

/* ---- the ACE Authorization Server's key (crypto/askey.c) -------------- */

/*
 * An ECDSA P-256 key that signs access tokens (COSE_Sign1, ES256), kept
 * like the CA key: dir/as.key wrapped under kr (AAD "as.key"), or a
 * PKCS#11 object. create: EXISTS if as.key is there. load: key_url NULL
 * for the file (NOT_FOUND when as.key is missing: a data dir made before
 * ACE; the caller creates it), else a PKCS#11 URL (as kdc_ca_load());
 * BAD_KEY if it does not unwrap, UNSUPPORTED_KEY if not P-256. A file key
 * signs through OpenSSL (p256.c), a token key through GnuTLS.
 */
struct kdc_as_key;
kdc_err	kdc_as_key_create(const char *dir, const struct kdc_keyring *kr);
kdc_err	kdc_as_key_load(const char *dir, const struct kdc_keyring *kr,
	    const char *key_url, struct kdc_as_key **out);
void	kdc_as_key_free(struct kdc_as_key *k);
/* ES256 over data: raw r || s (COSE, RFC 9053 §2.1). */
kdc_err	kdc_as_key_sign(struct kdc_as_key *k, const uint8_t *data,
	    size_t len, uint8_t rs[64]);
/* Its public key: the point (x, y) and, if spki is not NULL, the SPKI DER
 * (capacity *spki_len, 91 bytes; TOO_LARGE). */
kdc_err	kdc_as_key_pub(const struct kdc_as_key *k, uint8_t x[32],
	    uint8_t y[32], uint8_t *spki, size_t *spki_len);
/* The point of a canonical P-256 SPKI (what kdc_spki_check() accepts):
 * UNSUPPORTED_KEY for any other key or encoding. x, y may be NULL. */
kdc_err	kdc_spki_p256_xy(const uint8_t *spki, size_t len, uint8_t x[32],
	    uint8_t y[32]);
/* The SPKI of a P-256 point (capacity *spki_len >= 91): MALFORMED off the
 * curve (kdc_spki_check()). */
kdc_err	kdc_p256_xy_spki(const uint8_t x[32], const uint8_t y[32],
	    uint8_t *spki, size_t *spki_len);

/* ---- PKCS#10 requests (crypto/csr.c) ------------------------------------ */

/*
 * A CSR (RFC 2986) read by our own strict DER parser: views into the
 * caller's bytes, which must outlive it; nothing is allocated.
 */
struct kdc_csr {
	const uint8_t	*info;		/* certificationRequestInfo, as signed */
	size_t		 info_len;
	const uint8_t	*subject;	/* its subject Name, DER */
	size_t		 subject_len;
	const uint8_t	*spki;		/* its SubjectPublicKeyInfo, canonical */
	size_t		 spki_len;
	const uint8_t	*sig;		/* the signature BIT STRING's bits */
	size_t		 sig_len;
	enum kdc_key_alg alg;
	int		 sig_alg;	/* opaque, for kdc_csr_verify() */
};

/*
 * Parse a DER CSR (<= KDC_CSR_MAX): version 0, any subject, attributes
 * [0] present or not, nothing trailing anywhere, definite shortest-form
 * lengths. The key must be P-256 (uncompressed point) or Ed25519 in the
 * canonical SPKI, else UNSUPPORTED_KEY (a well-formed SPKI of another
 * key) or MALFORMED. The signature algorithm must fit the key
 * (ecdsa-with-SHA256/384/512, Ed25519), else BAD_SIGNATURE. Does not
 * check the signature, nor that a P-256 point is on the curve. TOO_LARGE
 * over KDC_CSR_MAX, MALFORMED for anything else (out zeroed).
 */
kdc_err	kdc_csr_parse(const uint8_t *der, size_t len, struct kdc_csr *out);
/* Proof of possession (RFC 2986 3): the request's self-signature, with
 * its own key. BAD_SIGNATURE if it does not verify or the point is off
 * the curve. */
kdc_err	kdc_csr_verify(const struct kdc_csr *csr);
/* The first commonName of the request's subject (UTF8String,
 * PrintableString or IA5String) into cn (capacity cap, NUL-terminated).
 * NOT_FOUND if there is none; MALFORMED if the Name does not parse or the
 * CN has a NUL or does not fit. */
kdc_err	kdc_csr_cn(const struct kdc_csr *csr, char *cn, size_t cap);

/*
 * The SubjectPublicKeyInfo (DER, heap, caller frees) of a PKCS#10 CSR in
 * DER (RFC 9148 Content-Format 286: DER only, PEM is MALFORMED).
 * kdc_csr_parse()'s verdict, then MALFORMED for a P-256 point off the
 * curve (as kdc_spki_check()). The self-signature is checked by
 * kdc_ca_sign_csr() (or kdc_csr_verify()).
 */
kdc_err	kdc_csr_spki(const uint8_t *csr, size_t len, uint8_t **spki,
	    size_t *spki_len);

/* ---- EST-coaps helpers (crypto/est.c) ---------------------------------- */

/*
 * A PKCS#7 (CMS) certs-only SignedData (RFC 7030 §4.1.3, RFC 9148
 * Content-Format 281), DER, heap (caller frees), holding the n
 * certificates ders[i] (DER, lens[i] bytes each, 1 <= n <=
 * KDC_CHAIN_MAX). MALFORMED if a certificate does not parse,
 * INVALID_ARG for n out of range.
 */
kdc_err	kdc_pkcs7_certs(const uint8_t *const *ders, const size_t *lens,
	    size_t n, uint8_t **out, size_t *out_len);

/* ---- passwords (pw.c, libsodium) --------------------------------------- */

#define KDC_PW_HASH_MAX	128	/* an encoded Argon2id string, NUL included */
#define KDC_PW_MIN	12	/* bytes of a password at least */
#define KDC_PW_MAX	1024

/* Argon2id (libsodium's interactive limits: 2 passes, 64 MiB) of pw into
 * out. INVALID_ARG for a length outside KDC_PW_MIN..KDC_PW_MAX; CRYPTO;
 * NOMEM. */
kdc_err	kdc_pw_hash(const char *pw, size_t len, char out[KDC_PW_HASH_MAX]);
/* Does pw match hash? false for an empty hash. */
bool	kdc_pw_verify(const char *hash, const char *pw, size_t len);

#endif
