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
 * Ciphers: AES-128-CCM-8 (RFC 7925's suites), AES-256-CCM-8,
 * AES-128-CCM, AES-256-CCM, AES-128-GCM, AES-256-GCM; 8-byte explicit
 * nonce = epoch||seq48 (what GnuTLS sends; on open the nonce is taken
 * from the record, as GnuTLS does, the sequence number of the header
 * goes into the AAD and the replay window). Other
 * suites (CHACHA20-POLY1305: its nonce is implicit) are refused
 * KDC_ERR_UNSUPPORTED by kdc_rec_export(): the engine then keeps that
 * session's GnuTLS state (it still works, it only costs more memory).
 *
 * Keys are secrets: kdc_rec_wipe() zeroes a state; nothing here logs.
 * No allocation of ours; the AEAD key schedule is done per call (the
 * state holds raw keys only, so 1M idle sessions cost ~100 MB, not a
 * cipher context each): GnuTLS allocates and frees one AEAD handle per
 * kdc_rec_seal()/kdc_rec_open().
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
	KDC_REC_AES256_CCM8,
	/* AES-128-CBC with HMAC-SHA256, MAC-then-encrypt (RFC 5246
	 * §6.2.3.2; no encrypt_then_mac): only our own Just Works
	 * handshake (jw.h, suite 0xFF00) makes it, never kdc_rec_export().
	 * Record: header | IV(16, random per record) | AES-CBC(plaintext ||
	 * HMAC(32) || padding); the MAC covers epoch||seq48 || type ||
	 * version || plaintext length || plaintext. Keys in cbc_key (AES)
	 * and mac (HMAC), which share their bytes with key and salt. */
	KDC_REC_AES128_CBC_SHA256,
};

struct kdc_rec_dir {
	union {
		struct {		/* AEAD */
			uint8_t	 key[32];
			uint8_t	 salt[4];	/* the implicit nonce part */
		};
		struct {		/* KDC_REC_AES128_CBC_SHA256: 16 bytes
					 * more than AEAD's, not 64 (an idle
					 * server session's state: 136 bytes) */
			uint8_t	 cbc_key[16];	/* AES-128 */
			uint8_t	 mac[32];	/* HMAC-SHA256 */
		};
	};
	uint64_t	 seq;		/* the next (write) / highest
					 * accepted (read) 48-bit sequence
					 * number, without the epoch */
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
 * KDC_ERR_UNSUPPORTED (a cipher not above, or not DTLS 1.2; nothing
 * exported), KDC_ERR_TLS (GnuTLS refused to export, or no cipher yet,
 * or read and write epochs differ: handshake not complete),
 * KDC_ERR_INVALID_ARG (NULL session). On any error *r is zeroed.
 * gnutls_record_get_state() gives epoch||seq48 as one 64-bit number
 * (the epoch in its top 16 bits): write = the next to send, read = the
 * last record GnuTLS accepted plus one (GnuTLS 3.7.9 lib/record.c;
 * checked by the unit test). That last record is the replay window's
 * right edge and the whole window counts as seen (GnuTLS does not
 * export its window): nothing GnuTLS may have delivered opens again; a
 * genuine record older than the edge that GnuTLS never saw is refused
 * REPLAY too (a loss, which DTLS tolerates). Call it after
 * gnutls_handshake() returned 0 and the peer's first application
 * record was read.
 */
kdc_err	kdc_rec_export(struct kdc_rec *r, void *gnutls_session);

/*
 * Parse the header of the record at buf[0, len) (one of possibly several
 * in a datagram): type, epoch, 48-bit sequence number and the length of
 * the whole record (header + fragment) in *rec_len. KDC_ERR_TRUNCATED
 * (header or fragment past len), KDC_ERR_MALFORMED (version not DTLS
 * 1.0/1.2: 0xfeff/0xfefd, or fragment length over 2^14 + 2048). The
 * next record of the datagram, if any, starts at buf + *rec_len.
 */
kdc_err	kdc_rec_header(const uint8_t *buf, size_t len, uint8_t *type,
	    uint16_t *epoch, uint64_t *seq, size_t *rec_len);

/*
 * Open one record in place (buf[0, rec_len) as kdc_rec_header() framed
 * it): authenticate, decrypt, then apply the replay window (only a
 * record that authenticates moves it). On KDC_OK *pt points into buf at
 * the plaintext (*pt_len bytes) and *type is its content type.
 * Refusals, each leaving the state unchanged: KDC_ERR_TRUNCATED (the
 * header's length runs past rec_len), KDC_ERR_MALFORMED (header does
 * not parse or frames another length than rec_len, version not 0xfefd,
 * wrong epoch, shorter than nonce + tag, plaintext over 2^14),
 * KDC_ERR_REPLAY (seen, or 64 or more behind the right edge; checked
 * before decryption, and the window moves only for a record that
 * authenticates), KDC_ERR_CRYPTO (does not authenticate, or GnuTLS
 * failed: the caller drops it silently, RFC 6347 §4.1.2.7; CBC: a bad
 * padding or a bad MAC, one answer for both, the MAC computed in
 * either case as RFC 5246 §6.2.3.2 asks; a CBC fragment that is not
 * IV + whole blocks holding at least a MAC and a padding byte is
 * KDC_ERR_MALFORMED),
 * KDC_ERR_INVALID_ARG (r has no cipher). buf's bytes are undefined
 * after a failed open (a plaintext that did not authenticate is zeroed).
 */
kdc_err	kdc_rec_open(struct kdc_rec *r, uint8_t *buf, size_t rec_len,
	    uint8_t *type, const uint8_t **pt, size_t *pt_len);

/*
 * Seal pt (pt_len <= 2^14) as one record of `type` into out (cap
 * bytes; out must not overlap pt): header (version 0xfefd, r->epoch,
 * wr.seq), explicit nonce, ciphertext, tag. KDC_OK with *out_len;
 * KDC_ERR_TOO_LARGE (pt_len over 2^14, or cap too small),
 * KDC_ERR_EXHAUSTED (wr.seq past 2^48 - 2, the last one usable: a
 * GnuTLS peer drops 2^48 - 1; the session must end), KDC_ERR_CRYPTO (GnuTLS failed), KDC_ERR_INVALID_ARG
 * (r has no cipher). Consumes one write sequence number on success only.
 */
kdc_err	kdc_rec_seal(struct kdc_rec *r, uint8_t type, const uint8_t *pt,
	    size_t pt_len, uint8_t *out, size_t cap, size_t *out_len);
/* Bytes kdc_rec_seal() adds to a plaintext at most: header + nonce +
 * tag (CBC: header + IV + MAC + up to one block of padding). */
size_t	kdc_rec_overhead(const struct kdc_rec *r);

void	kdc_rec_wipe(struct kdc_rec *r);

#endif
