/*
 * cose.h: COSE single-recipient messages (RFC 9052/9053: COSE_Sign1,
 * COSE_Mac0, COSE_Encrypt0), COSE_Key, and CWT claims (RFC 8392, with the
 * cnf claim of RFC 8747 and the ACE claims of RFC 9200). Shared by the
 * Authorization Server (src/ace/) and the device library's resource
 * server, so: no allocation, no logging, no POSIX; clean under
 * -Wconversion. Primitives come from cose_crypto.h, one implementation
 * per build (crypto_gnutls.c for the daemon and the host port).
 *
 * Decoding never copies: every pointer in the structs below points into
 * the caller's bytes and lives as long as they do. Decoders read through
 * base's bounded reader, accept definite lengths only (RFC 9052 §3 and
 * RFC 8392 §7 require them where we produce; a token with indefinite
 * lengths is refused MALFORMED), bound nesting at KDC_COSE_DEPTH_MAX and
 * never size anything by a count the input announces.
 *
 * Encoders produce deterministic CBOR (RFC 8949 §4.2.1: shortest heads,
 * map keys in bytewise order of their encodings, so 1..23 before -1..-24
 * before 24..), write into the caller's (out, *out_len) and return
 * TOO_LARGE when it does not fit. An empty protected header is h''.
 *
 * Errors (every function): TRUNCATED, MALFORMED, TRAILING, TOO_LARGE,
 * INVALID_ARG (a caller's mistake: NULL where a value is needed, a key
 * of the wrong length for its alg), UNSUPPORTED (an alg or key type we do
 * not do), BAD_SIGNATURE (a signature, MAC tag or AEAD tag that does not
 * verify: the one answer for every tampered input), CRYPTO (the library
 * failed).
 */
#ifndef KDC_COSE_H
#define KDC_COSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* COSE algorithm identifiers (IANA COSE Algorithms). */
#define KDC_COSE_ALG_ES256		(-7)
#define KDC_COSE_ALG_EDDSA		(-8)
#define KDC_COSE_ALG_A128GCM		1
#define KDC_COSE_ALG_HMAC256_64		4
#define KDC_COSE_ALG_HMAC256_256	5
#define KDC_COSE_ALG_CCM_16_64_128	10
#define KDC_COSE_ALG_CCM_16_128_128	30

/* Message types: their CBOR tags, also their CoAP Content-Formats. */
#define KDC_COSE_ENCRYPT0	16
#define KDC_COSE_MAC0		17
#define KDC_COSE_SIGN1		18
#define KDC_CWT_TAG		61	/* the CWT tag, CoAP Content-Format 61 */

/* COSE_Key labels and values we use (RFC 9052 §7, RFC 9053 §7). */
#define KDC_COSE_KTY_OKP	1
#define KDC_COSE_KTY_EC2	2
#define KDC_COSE_KTY_SYMMETRIC	4
#define KDC_COSE_CRV_P256	1
#define KDC_COSE_CRV_ED25519	6

/* Bounds. A token carries a handful of claims; nothing we make or accept
 * nests deeper than claims -> cnf -> COSE_Key -> value. */
#define KDC_COSE_DEPTH_MAX	8
/* The largest COSE message we make or accept (a CWT with an EC2 cnf and
 * an ES256 signature is ~250 bytes; RFC 9202 tokens ride in one DTLS
 * record). */
#define KDC_COSE_MSG_MAX	1024
/* Scratch a caller provides for verify/decrypt (the Sig_structure,
 * MAC_structure or Enc_structure is built there): message + 32. */
#define KDC_COSE_WORK_MAX	(KDC_COSE_MSG_MAX + 32)

/*
 * A key, borrowed from the caller. Which fields count depends on alg:
 *  ES256: x, y (32 bytes each) to verify; d (32) to sign.
 *  EdDSA (Ed25519): x (32) to verify; d (the 32-byte seed) to sign.
 *  HMAC 256/64, 256/256: k (any length >= 16; RFC 9053 §3.1: 32).
 *  AES-CCM-16-*-128, A128GCM: k (16).
 * kid is what a message made with it names in its header (may be empty).
 */
struct kdc_cose_key {
	int		 alg;
	const uint8_t	*k;	size_t	 k_len;
	const uint8_t	*d;	size_t	 d_len;
	const uint8_t	*x;	size_t	 x_len;
	const uint8_t	*y;	size_t	 y_len;
	const uint8_t	*kid;	size_t	 kid_len;
	/* AES-CCM/GCM keys only, optional: the Base IV (RFC 9052 §3.1) a
	 * message with a Partial IV (6) is decrypted with: nonce =
	 * Base IV (left-aligned, zero-padded) XOR Partial IV (right-aligned).
	 * At most the nonce length. Added after the first contract. */
	const uint8_t	*base_iv; size_t base_iv_len;
};

/*
 * A signer whose private key the caller keeps (the AS key lives in
 * crypto/, wrapped on disk or in PKCS#11): sign tbs, write the COSE
 * signature (ES256: raw r || s, 64 bytes; EdDSA: 64 bytes) into sig
 * (capacity *sig_len, set to the length). Returns a kdc_err.
 */
typedef kdc_err (*kdc_cose_sign_fn)(void *arg, const uint8_t *tbs,
    size_t tbs_len, uint8_t *sig, size_t *sig_len);

struct kdc_cose_signer {
	int			 alg;	/* ES256 or EdDSA */
	kdc_cose_sign_fn	 fn;	/* NULL: sign with key.d */
	void			*arg;
	struct kdc_cose_key	 key;	/* kid always; d when fn is NULL */
};

/* What we add to a message we make: the alg always goes in the protected
 * header; kid (from the key) and, for Encrypt0, the IV in the
 * unprotected one. */
struct kdc_cose_hdr_opts {
	bool		 tag;		/* emit the COSE tag (d0/d1/d2) */
	bool		 cwt_tag;	/* emit tag 61 around it (CWT) */
	bool		 kid_protected;	/* kid in the protected header */
};

/* ---- making messages ------------------------------------------------ */

/*
 * Each writes the whole message into (out, *out_len) and, as scratch past
 * the message's end, the structure the signature, MAC or AEAD covers
 * (RFC 9052 §4.4, §6.3, §5.3: the protected header, the external AAD
 * and, for Sign1/Mac0, the payload again), wiped after use. So out needs
 * room for the message plus that structure: KDC_COSE_OUT_ROOM(payload,
 * aad) suffices for any kid of up to 64 bytes; with less, TOO_LARGE (and
 * *out_len 0). The
 * protected header is {1: alg} (+ {4: kid} with kid_protected), the
 * unprotected {4: kid} (kid not protected, non-empty) and, for Encrypt0,
 * {5: IV}: deterministic, labels in order. Errors as above; UNSUPPORTED
 * for an alg that is not of the message's kind; INVALID_ARG for a key of
 * the wrong length (ES256/EdDSA d 32; HMAC k >= 16; AES k 16) or an IV of
 * the wrong length; whatever the signer callback returns.
 */
#define KDC_COSE_OUT_ROOM(payload_len, aad_len) \
	(2 * (size_t)(payload_len) + (size_t)(aad_len) + 512)

kdc_err	kdc_cose_sign1_encode(const struct kdc_cose_signer *s,
	    const struct kdc_cose_hdr_opts *o, const uint8_t *payload,
	    size_t payload_len, const uint8_t *aad, size_t aad_len,
	    uint8_t *out, size_t *out_len);
kdc_err	kdc_cose_mac0_encode(const struct kdc_cose_key *key,
	    const struct kdc_cose_hdr_opts *o, const uint8_t *payload,
	    size_t payload_len, const uint8_t *aad, size_t aad_len,
	    uint8_t *out, size_t *out_len);
/* iv: 13 bytes for AES-CCM-16-*, 12 for A128GCM; the caller makes it
 * (random, or a counter it never repeats under one key). */
kdc_err	kdc_cose_encrypt0_encode(const struct kdc_cose_key *key,
	    const struct kdc_cose_hdr_opts *o, const uint8_t *iv,
	    size_t iv_len, const uint8_t *plaintext, size_t pt_len,
	    const uint8_t *aad, size_t aad_len, uint8_t *out, size_t *out_len);

/* ---- reading messages ----------------------------------------------- */

/* A parsed message: views into the caller's bytes. */
struct kdc_cose_msg {
	int		 type;		/* KDC_COSE_SIGN1 / MAC0 / ENCRYPT0 */
	bool		 tagged;	/* carried its COSE tag */
	bool		 cwt_tagged;	/* carried tag 61 */
	int		 alg;		/* from the protected header; 0 if none */
	const uint8_t	*prot;		size_t	 prot_len;	/* bstr content as received */
	const uint8_t	*kid;		size_t	 kid_len;	/* protected or unprotected */
	const uint8_t	*iv;		size_t	 iv_len;
	const uint8_t	*partial_iv;	size_t	 partial_iv_len;
	const uint8_t	*payload;	size_t	 payload_len;	/* ciphertext+tag for Encrypt0 */
	const uint8_t	*sig;		size_t	 sig_len;	/* signature or MAC tag */
};

/*
 * Parse one COSE message: optionally tag 61, then the COSE tag (16/17/18)
 * or, untagged, the type the caller expects (expect_type 0: the message
 * must be tagged). Headers: alg (1), crit (2), content type (3), kid (4),
 * IV (5), Partial IV (6); other labels are skipped (bounded). Nothing is
 * verified. Refusals:
 *  MALFORMED: untagged with expect_type 0; tagged as another type than
 *    expected; any other tag (0 too); an alg, or crit, in the unprotected
 *    bucket; a label twice (in one bucket or across both); an empty crit,
 *    or one naming a label absent from the protected bucket; IV and
 *    Partial IV together; a label that is not an int or text; indefinite
 *    lengths; a protected bstr that is not one map.
 *  UNSUPPORTED: COSE_Encrypt/Mac/Sign (tags 96/97/98); crit naming a
 *    label we do not process; an alg as text or outside int range; a
 *    detached (nil) payload.
 *  TOO_LARGE: nesting beyond KDC_COSE_DEPTH_MAX, more than 32 labels in
 *    one map. TRAILING: bytes after the message.
 */
kdc_err	kdc_cose_parse(const uint8_t *buf, size_t len, int expect_type,
	    struct kdc_cose_msg *m);

/* Verify a parsed Sign1 / Mac0 with key (whose alg must equal m->alg:
 * otherwise UNSUPPORTED, never a downgrade). work: scratch of
 * KDC_COSE_WORK_MAX bytes. */
kdc_err	kdc_cose_sign1_verify(const struct kdc_cose_msg *m,
	    const struct kdc_cose_key *key, const uint8_t *aad, size_t aad_len,
	    uint8_t *work, size_t work_cap);
kdc_err	kdc_cose_mac0_verify(const struct kdc_cose_msg *m,
	    const struct kdc_cose_key *key, const uint8_t *aad, size_t aad_len,
	    uint8_t *work, size_t work_cap);
/* Decrypt a parsed Encrypt0 into pt (capacity *pt_len). The nonce is the
 * IV, or (RFC 9052 §3.1) the key's base IV with the Partial IV - only the
 * full-IV form is required; a message with neither is MALFORMED. On any
 * failure pt is wiped. */
kdc_err	kdc_cose_encrypt0_decrypt(const struct kdc_cose_msg *m,
	    const struct kdc_cose_key *key, const uint8_t *aad, size_t aad_len,
	    uint8_t *pt, size_t *pt_len, uint8_t *work, size_t work_cap);

/* ---- COSE_Key (RFC 9052 §7) ----------------------------------------- */

struct kdc_cose_keyinfo {
	int		 kty;		/* 1 OKP, 2 EC2, 4 Symmetric */
	int		 crv;		/* 0 if absent */
	int		 alg;		/* 0 if absent */
	const uint8_t	*kid;	size_t	 kid_len;
	const uint8_t	*x;	size_t	 x_len;
	const uint8_t	*y;	size_t	 y_len;	/* EC2; y as bstr only (no point compression) */
	const uint8_t	*k;	size_t	 k_len;	/* Symmetric */
	const uint8_t	*d;	size_t	 d_len;	/* never put in a token: encode refuses it */
};

kdc_err	kdc_cose_key_encode(const struct kdc_cose_keyinfo *k, uint8_t *out,
	    size_t *out_len);
/*
 * kdc_cose_key_encode: deterministic (1 kty, 2 kid, 3 alg, -1 crv|k, -2 x,
 * -3 y); INVALID_ARG for a d (a private key never goes out), for
 * parameters that are not the key type's, a Symmetric key with neither k
 * nor kid (without k it is a reference by kid, RFC 9202 Figure 9);
 * UNSUPPORTED for another kty.
 * kdc_cose_key_read: one COSE_Key map from rd's position (views into its
 * bytes; labels in any order; unknown labels skipped, bounded). MALFORMED
 * for a missing kty, a duplicate label, parameters of another key type,
 * an empty k/x/y, crv 0, an EC2 key without y, a Symmetric one with
 * neither k nor kid; UNSUPPORTED for another kty, a text kty/alg/crv or a
 * compressed y. The failure is also recorded in rd.
 */
struct kdc_rd;
kdc_err	kdc_cose_key_read(struct kdc_rd *rd, struct kdc_cose_keyinfo *k);

/* ---- CWT claims (RFC 8392 §3, RFC 8747, RFC 9200 §5.10) ------------- */

/* cnf (RFC 8747 §3): exactly one of these. */
#define KDC_CNF_NONE		0
#define KDC_CNF_COSE_KEY	1	/* key in clear (symmetric only inside an encrypted CWT) */
#define KDC_CNF_ENC_KEY		2	/* Encrypted_COSE_Key: the untagged COSE_Encrypt0 bytes */
#define KDC_CNF_KID		3
#define KDC_CNF_OSC		4	/* RFC 9203 OSCORE_Input_Material: raw is the map (added) */

struct kdc_cnf {
	int			 kind;		/* KDC_CNF_* */
	struct kdc_cose_keyinfo	 key;		/* COSE_KEY */
	const uint8_t		*raw;	size_t	 raw_len;	/* ENC_KEY: the COSE_Encrypt0 array; OSC: the map */
	const uint8_t		*kid;	size_t	 kid_len;	/* KID */
};

#define KDC_CWT_ISS	(1u << 1)
#define KDC_CWT_SUB	(1u << 2)
#define KDC_CWT_AUD	(1u << 3)
#define KDC_CWT_EXP	(1u << 4)
#define KDC_CWT_NBF	(1u << 5)
#define KDC_CWT_IAT	(1u << 6)
#define KDC_CWT_CTI	(1u << 7)
#define KDC_CWT_CNF	(1u << 8)
#define KDC_CWT_SCOPE	(1u << 9)
#define KDC_CWT_PROFILE	(1u << 10)	/* ace_profile (38) */
#define KDC_CWT_CNONCE	(1u << 11)	/* cnonce (39) */
#define KDC_CWT_EXI	(1u << 12)	/* exi (40) */

struct kdc_cwt {
	uint32_t	 has;		/* KDC_CWT_* bits of the claims present */
	const char	*iss;	size_t	 iss_len;
	const char	*sub;	size_t	 sub_len;
	const char	*aud;	size_t	 aud_len;
	int64_t		 exp, nbf, iat;	/* NumericDate; a float is truncated (A.7) */
	const uint8_t	*cti;	size_t	 cti_len;
	const uint8_t	*scope;	size_t	 scope_len;
	bool		 scope_text;	/* tstr (else bstr, e.g. AIF) */
	struct kdc_cnf	 cnf;
	int64_t		 ace_profile;
	const uint8_t	*cnonce; size_t	 cnonce_len;
	uint64_t	 exi;
};

/* Encode the claims set (a CBOR map, deterministic) that has names. */
kdc_err	kdc_cwt_encode(const struct kdc_cwt *c, uint8_t *out, size_t *out_len);
/* Decode a claims set. Unknown claims are skipped (bounded); a known claim
 * of the wrong type, a duplicate key, a text claim that is not UTF-8:
 * MALFORMED. Checks nothing against time or audience (the caller does). */
kdc_err	kdc_cwt_decode(const uint8_t *buf, size_t len, struct kdc_cwt *c);

#endif /* KDC_COSE_H */
