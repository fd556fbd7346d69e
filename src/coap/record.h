/*
 * record.h: our own DTLS 1.2 record layer for established sessions
 * (RFC 6347 §4.1; AEAD records as RFC 5246 §6.2.3.3, RFC 6655 for CCM),
 * so that the engine can free a session's GnuTLS state after the
 * handshake and keep an idle session in a few hundred bytes.
 *
 * After a handshake ends and the peer's first application record has
 * arrived (proof that it holds our Finished), kdc_rec_export() reads
 * both directions' keys, salts (implicit nonce part) and sequence
 * numbers from GnuTLS (gnutls_record_get_state()) and the cipher
 * negotiated; the engine then gnutls_deinit()s the session and protects
 * every later record with kdc_rec_seal()/kdc_rec_open(). Records sealed
 * here are byte-identical to GnuTLS's own for the same state.
 *
 * Ciphers: AES-128-CCM-8 (RFC 7925's suites), AES-128-CCM, AES-256-CCM,
 * AES-128-GCM, AES-256-GCM; 8-byte explicit nonce = epoch||seq48. Other
 * suites (CHACHA20-POLY1305: its nonce is implicit) are refused
 * KDC_ERR_UNSUPPORTED by kdc_rec_export(): the engine then keeps that
 * session's GnuTLS state (it still works, it only costs more memory).
 *
 * Keys are secrets: kdc_rec_wipe() zeroes a state; nothing here logs.
 * No allocation; the AEAD key schedule is done per call (the state holds
 * raw keys only, so 1M idle sessions cost ~100 MB, not a cipher context
 * each).
 */
#ifndef KDC_COAP_RECORD_H
#define KDC_COAP_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* DTLS record header: type(1) version(2) epoch(2) seq(6) length(2). */
#define KDC_REC_HDR		13
/* Content types (RFC 5246 §6.2.1). */
#define KDC_REC_CCS		20
#define KDC_REC_ALERT		21
#define KDC_REC_HANDSHAKE	22
#define KDC_REC_APPDATA		23

enum kdc_rec_cipher {
	KDC_REC_NONE = 0,
	KDC_REC_AES128_CCM8,
	KDC_REC_AES128_CCM,
	KDC_REC_AES256_CCM,
	KDC_REC_AES128_GCM,
	KDC_REC_AES256_GCM,
};

struct kdc_rec_dir {
	uint8_t		 key[32];
	uint8_t		 salt[4];	/* the implicit nonce part */
	uint64_t	 seq;		/* the next (write) / highest seen
					 * (read) 48-bit sequence number */
};

struct kdc_rec {
	uint8_t			 cipher;	/* enum kdc_rec_cipher */
	uint16_t		 epoch;		/* both directions' (1 after a
						 * first handshake) */
	struct kdc_rec_dir	 rd, wr;
	/* RFC 6347 §4.1.2.6 anti-replay: rd.seq is the right edge, bit i
	 * of window set = rd.seq - i was received (64 records). */
	uint64_t		 window;
	bool			 seen;		/* a record was accepted */
};

/*
 * From an established GnuTLS DTLS 1.2 session (gnutls_session_t passed
 * as void * so this header needs no GnuTLS): KDC_OK,
 * KDC_ERR_UNSUPPORTED (a cipher not above; nothing exported),
 * KDC_ERR_TLS (GnuTLS refused to export: handshake not complete).
 * The replay window starts with the read sequence number GnuTLS last
 * accepted as its right edge.
 */
kdc_err	kdc_rec_export(struct kdc_rec *r, void *gnutls_session);

/*
 * Parse the header of the record at buf[0, len) (one of possibly several
 * in a datagram): type, epoch, 48-bit sequence number and the length of
 * the whole record (header + fragment) in *rec_len. KDC_ERR_TRUNCATED
 * (header or fragment past len), KDC_ERR_MALFORMED (version not DTLS
 * 1.0/1.2: 0xfeff/0xfefd, or fragment length over 2^14 + 2048).
 */
kdc_err	kdc_rec_header(const uint8_t *buf, size_t len, uint8_t *type,
	    uint16_t *epoch, uint64_t *seq, size_t *rec_len);

/*
 * Open one record in place (buf[0, rec_len) as kdc_rec_header() framed
 * it): authenticate, decrypt, then apply the replay window (only a
 * record that authenticates moves it). On KDC_OK *pt points into buf at
 * the plaintext (*pt_len bytes) and *type is its content type.
 * Refusals, each leaving the state unchanged: KDC_ERR_MALFORMED (shorter
 * than nonce + tag, wrong epoch), KDC_ERR_REPLAY (seen, or left of the
 * window), KDC_ERR_CRYPTO (does not authenticate: the caller drops it
 * silently, RFC 6347 §4.1.2.7). buf's bytes are undefined after a
 * failed open.
 */
kdc_err	kdc_rec_open(struct kdc_rec *r, uint8_t *buf, size_t rec_len,
	    uint8_t *type, const uint8_t **pt, size_t *pt_len);

/*
 * Seal pt (pt_len <= 2^14) as one record of `type` into out (cap
 * bytes): header, explicit nonce, ciphertext, tag. KDC_OK with
 * *out_len; KDC_ERR_TOO_LARGE (cap too small), KDC_ERR_EXHAUSTED (the
 * write sequence number would wrap: the session must end). Consumes one
 * write sequence number on success only.
 */
kdc_err	kdc_rec_seal(struct kdc_rec *r, uint8_t type, const uint8_t *pt,
	    size_t pt_len, uint8_t *out, size_t cap, size_t *out_len);
/* Bytes kdc_rec_seal() adds to a plaintext: header + nonce + tag. */
size_t	kdc_rec_overhead(const struct kdc_rec *r);

void	kdc_rec_wipe(struct kdc_rec *r);

#endif
