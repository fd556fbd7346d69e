/*
 * jw.h: our own DTLS 1.2 client handshake for one suite,
 * TLS_ECDH_anon_WITH_AES_128_CBC_SHA256 at IoTivity's private code point
 * 0xFF00: OCF's Just Works owner transfer (oic.sec.doxm.jw). No Debian
 * TLS library has that suite (docs/traps.md), so the engine (eng.c) runs
 * this handshake itself for kdc_coap_connect2() KDC_COAP_CLIENT_JW, then
 * hands the session to our record layer (record.h
 * KDC_REC_AES128_CBC_SHA256).
 *
 * THE HANDSHAKE AUTHENTICATES NOBODY: anonymous ECDH, no certificate,
 * no PSK. Whoever answers (or sits on the path) is the peer. It only
 * keeps a passive listener out.
 *
 * Flights (RFC 6347 §4.2.4, RFC 5246 §7.3, RFC 8422):
 *   ClientHello (suites 0xFF00 and the renegotiation SCSV 0x00FF;
 *     supported_groups secp256r1, ec_point_formats uncompressed,
 *     extended_master_secret; never encrypt_then_mac)
 *   [HelloVerifyRequest -> ClientHello with its cookie]
 *   ServerHello, ServerKeyExchange (named_curve secp256r1 and an
 *     uncompressed point, unsigned), ServerHelloDone
 *   ClientKeyExchange, ChangeCipherSpec, Finished (epoch 1)
 *   ChangeCipherSpec, Finished (epoch 1).
 * Finished and the extended master secret's session hash are SHA-256
 * over every handshake message from the ClientHello the server answered
 * (not the first one nor the HelloVerifyRequest) as if each were one
 * fragment: its 12-byte DTLS header (message_seq included, fragment
 * offset 0, fragment length = length) and body (RFC 6347 §4.2.6).
 * The master secret is RFC 7627's when the server echoes
 * extended_master_secret, RFC 5246's otherwise.
 *
 * Input is the peer's: every message is parsed with bounds; a message
 * over KDC_JW_MSG_MAX is refused; fragments are reassembled in order
 * into a fixed buffer (an out-of-order fragment is dropped and comes
 * again with the server's retransmission); nothing is allocated by
 * what a peer announces. ECDH on P-256 through OpenSSL's libcrypto
 * (GnuTLS 3.7.9 has no public raw ECDH; libcrypto is already the
 * daemon's for ECDSA P-256, crypto/p256.h): the server's point must be
 * on the curve (EVP_PKEY_public_check). Keys are wiped at
 * kdc_jw_free(); nothing here logs.
 */
#ifndef KDC_COAP_JW_H
#define KDC_COAP_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "coap/record.h"

#define KDC_JW_SUITE		0xFF00	/* TLS_ECDH_anon_WITH_AES_128_CBC_SHA256 */
#define KDC_JW_MSG_MAX		512	/* a server handshake message's body */
#define KDC_JW_COOKIE_MAX	255
#define KDC_JW_POINT		65	/* uncompressed P-256 point */
#define KDC_JW_KEY_BLOCK	96	/* 2 x (MAC 32 + key 16), no IV */
#define KDC_JW_RTO_MS		1000	/* first retransmission (RFC 6347) */
#define KDC_JW_RTO_MAX_MS	60000
/* A datagram of ours: a flight is at most ClientHello with a 255-byte
 * cookie, or ClientKeyExchange + CCS + Finished (~ 200 bytes). */
#define KDC_JW_OUT_MAX		512

/* Handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2). */
#define KDC_JW_HT_CLIENT_HELLO		1
#define KDC_JW_HT_SERVER_HELLO		2
#define KDC_JW_HT_HELLO_VERIFY		3
#define KDC_JW_HT_SERVER_KX		12
#define KDC_JW_HT_SERVER_DONE		14
#define KDC_JW_HT_CLIENT_KX		16
#define KDC_JW_HT_FINISHED		20

/* ---- the pure parsers (fuzz/fuzz_jw.c, tests/unit/test_coap_jw.c) ---- */

/* A DTLS handshake fragment header (12 bytes) and its fragment. */
struct kdc_jw_frag {
	uint8_t		 type;
	uint32_t	 length;	/* the whole message's */
	uint16_t	 seq;		/* message_seq */
	uint32_t	 off, len;	/* fragment_offset, fragment_length */
	const uint8_t	*data;		/* len bytes */
};

/* One fragment at buf[0, n): KDC_OK and *used (12 + len); KDC_ERR_TRUNCATED
 * (header or fragment past n), KDC_ERR_MALFORMED (off + len > length). */
kdc_err	kdc_jw_frag(const uint8_t *buf, size_t n, struct kdc_jw_frag *f,
	    size_t *used);
/* HelloVerifyRequest body: version then cookie<0..255>, nothing after.
 * KDC_OK (cookie into cookie[KDC_JW_COOKIE_MAX]); KDC_ERR_MALFORMED. */
kdc_err	kdc_jw_parse_hvr(const uint8_t *b, size_t n, uint8_t *cookie,
	    size_t *cookie_len);
/* ServerHello body: version DTLS 1.2, random, session id <= 32, suite
 * 0xFF00, compression null, extensions each at most once and only those
 * we offered (renegotiation_info empty, ec_point_formats listing
 * uncompressed, extended_master_secret empty; RFC 5246 §7.4.1.4 else).
 * KDC_OK with random[32] and *ems; KDC_ERR_MALFORMED (framing),
 * KDC_ERR_UNSUPPORTED (another version, suite, compression, an
 * extension not offered or a bad value). */
kdc_err	kdc_jw_parse_sh(const uint8_t *b, size_t n, uint8_t *random,
	    bool *ems);
/* ServerKeyExchange body for ECDH_anon: curve_type named_curve (3),
 * secp256r1 (23), a 65-byte uncompressed point, no signature. KDC_OK
 * (point[KDC_JW_POINT]); KDC_ERR_MALFORMED; KDC_ERR_UNSUPPORTED
 * (another curve type, curve or point format). Whether the point is on
 * the curve is checked when it is used (kdc_jw_input()). */
kdc_err	kdc_jw_parse_ske(const uint8_t *b, size_t n, uint8_t *point);

/* ---- the handshake ----------------------------------------------------- */

struct kdc_jw;

/* A new client handshake (its random and first flight made):
 * KDC_OK, KDC_ERR_NOMEM, KDC_ERR_CRYPTO (no random). */
kdc_err	kdc_jw_new(struct kdc_jw **out);
/* Wipe and free (NULL-safe). */
void	kdc_jw_free(struct kdc_jw *j);

/* The current flight as one datagram into out (cap >= KDC_JW_OUT_MAX),
 * fresh record sequence numbers each time (the first ClientHello, and
 * each retransmission: RFC 6347 §4.2.4). The retransmission timer
 * doubles (kdc_jw_rto_ms()). KDC_OK with *len (0: nothing to send, the
 * handshake is done); KDC_ERR_TOO_LARGE; KDC_ERR_CRYPTO;
 * KDC_ERR_EXHAUSTED. */
kdc_err	kdc_jw_flight(struct kdc_jw *j, uint8_t *out, size_t cap,
	    size_t *len);
/* When the current flight goes again, in ms from its last sending
 * (KDC_JW_RTO_MS, doubled at each kdc_jw_flight() up to KDC_JW_RTO_MAX_MS). */
unsigned kdc_jw_rto_ms(const struct kdc_jw *j);

/*
 * One datagram from the server (buf is modified: records open in place).
 * KDC_OK: taken or dropped (what does not parse or belongs to no
 * expected message is dropped, as DTLS does); *out_len > 0 when a
 * flight must go now (out, cap >= KDC_JW_OUT_MAX): our next one, or our
 * last one again when the server sent its previous flight again (RFC
 * 6347 §4.2.4: ours was lost; at most once per datagram); *done once the
 * server's Finished verified. A fatal error ends the handshake, with a
 * fatal alert in out when one is owed (*out_len): KDC_ERR_TLS (the
 * server's alert, a wrong Finished, a point off the curve, ECDH
 * failed), KDC_ERR_UNSUPPORTED (the server chose what we did not offer),
 * KDC_ERR_MALFORMED (a whole message that does not parse, or over
 * KDC_JW_MSG_MAX), KDC_ERR_CRYPTO, KDC_ERR_INVALID_ARG (called after
 * done or after a fatal error).
 */
kdc_err	kdc_jw_input(struct kdc_jw *j, uint8_t *buf, size_t len,
	    uint8_t *out, size_t cap, size_t *out_len, bool *done);

/* After done: the record state for the session (epoch 1, the server's
 * Finished counted in the read window), KDC_OK; KDC_ERR_INVALID_ARG
 * before. */
kdc_err	kdc_jw_export(const struct kdc_jw *j, struct kdc_rec *r);
/* After done: did the server echo extended_master_secret? */
bool	kdc_jw_ems(const struct kdc_jw *j);
/*
 * After done: PRF_SHA256(master_secret, label, seed) (RFC 5246 §5) with
 * seed client_random || server_random (server_first false) or
 * server_random || client_random (true: "key expansion" gives the
 * key_block). label 1..64 bytes, len 1..KDC_COAP_PRF_MAX (limits.h).
 * KDC_OK; KDC_ERR_INVALID_ARG (before done, or a bad length);
 * KDC_ERR_CRYPTO.
 */
kdc_err	kdc_jw_prf(const struct kdc_jw *j, const char *label,
	    size_t label_len, bool server_first, uint8_t *out, size_t len);

/* PRF_SHA256(secret, label, seed) into out (the TLS 1.2 PRF; exposed for
 * the unit test's RFC vectors). label + seed at most 192 bytes. */
kdc_err	kdc_jw_p_sha256(const uint8_t *secret, size_t secret_len,
	    const char *label, size_t label_len, const uint8_t *seed,
	    size_t seed_len, uint8_t *out, size_t len);

#endif
