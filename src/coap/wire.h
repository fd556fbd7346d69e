/*
 * wire.h: CoAP messages as bytes (RFC 7252 §3, RFC 7959 Block1/Block2/
 * Size1/Size2, RFC 7641 Observe), both ways, with no allocation. The
 * engine's message layer (xl*.c) is its only user in the daemon; the
 * parser reads untrusted bytes through base/buf.h and is fuzzed
 * (fuzz/fuzz_coapwire.c).
 *
 * Parsing never copies: every pointer in struct kdc_coap_wire points
 * into the caller's datagram and lives as long as it does. Options are
 * kept in the order received (which the format makes ascending), at most
 * KDC_COAP_WIRE_OPTS of them; a message with more is refused TOO_LARGE
 * (xl.c answers a CON one 4.00), never cut.
 */
#ifndef KDC_COAP_WIRE_H
#define KDC_COAP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Message types (RFC 7252 §3). */
#define KDC_COAP_CON	0
#define KDC_COAP_NON	1
#define KDC_COAP_ACK	2
#define KDC_COAP_RST	3

/* Option numbers we act on (IANA CoAP Option Numbers). */
#define KDC_OPT_IF_MATCH	1
#define KDC_OPT_URI_HOST	3
#define KDC_OPT_ETAG		4
#define KDC_OPT_IF_NONE_MATCH	5
#define KDC_OPT_OBSERVE		6
#define KDC_OPT_URI_PORT	7
#define KDC_OPT_LOCATION_PATH	8
#define KDC_OPT_URI_PATH	11
#define KDC_OPT_CONTENT_FORMAT	12
#define KDC_OPT_MAX_AGE		14
#define KDC_OPT_URI_QUERY	15
#define KDC_OPT_ACCEPT		17
#define KDC_OPT_LOCATION_QUERY	20
#define KDC_OPT_BLOCK2		23
#define KDC_OPT_BLOCK1		27
#define KDC_OPT_SIZE2		28
#define KDC_OPT_PROXY_URI	35
#define KDC_OPT_PROXY_SCHEME	39
#define KDC_OPT_SIZE1		60
#define KDC_OPT_NO_RESPONSE	258
/* OCF's (OCF Core §12.2.5; coap.h KDC_COAP_OPT_OCF_*): critical, known
 * in answers to our requests (xl_msg.c kdc_coap_xl_answer_ok()) */
#define KDC_OPT_OCF_ACCEPT_VERSION	2049
#define KDC_OPT_OCF_CONTENT_VERSION	2053

/* Options kept per parsed message: a LwM2M or EST request carries < 16. */
#define KDC_COAP_WIRE_OPTS	32
/* A CoAP message we send or accept fits one datagram: our DTLS records
 * carry at most this much plaintext (1152 = the largest block, 1024, and
 * room for header, token and options). */
#define KDC_COAP_DGRAM_MAX	1152

struct kdc_coap_opt {
	uint16_t	 num;
	uint16_t	 len;
	const uint8_t	*val;	/* into the datagram */
};

struct kdc_coap_wire {
	uint8_t			 type;		/* KDC_COAP_CON .. RST */
	uint8_t			 code;		/* class << 5 | detail */
	uint16_t		 mid;
	uint8_t			 token_len;	/* 0..8 */
	uint8_t			 token[8];
	size_t			 nopt;
	struct kdc_coap_opt	 opt[KDC_COAP_WIRE_OPTS];
	const uint8_t		*payload;	/* NULL when none */
	size_t			 payload_len;
	bool			 head_ok;	/* kdc_coap_wire_head_ok() */
};

/*
 * Parse one datagram. KDC_OK; KDC_ERR_MALFORMED (version not 1, token
 * length 9-15, option delta or length nibble 15 outside the payload
 * marker, an option running past the end, an option number over 65535
 * (deltas add up past it), a payload marker with no payload, an empty
 * message (code 0.00) with a token, options or a payload); KDC_ERR_
 * TRUNCATED (shorter than its header or token); KDC_ERR_TOO_LARGE (more
 * than KDC_COAP_WIRE_OPTS options in an otherwise well-formed message:
 * a malformed one is MALFORMED whatever its count).
 *
 * On an error nopt is 0 and payload NULL. kdc_coap_wire_head_ok() says
 * whether the fixed header was readable with version 1: type, code and
 * mid are then valid, so a CON can be rejected with an RST (RFC 7252
 * §4.2: a message format error is rejected, an unknown version silently
 * ignored). token_len bytes of token are valid always; token_len is 0
 * when the token itself was not (length 9-15, cut short). TOO_LARGE
 * comes only after a complete token, so a CON refused TOO_LARGE can get
 * a piggybacked 4.00 carrying its token.
 */
kdc_err	kdc_coap_wire_parse(const uint8_t *buf, size_t len,
	    struct kdc_coap_wire *m);
bool	kdc_coap_wire_head_ok(const struct kdc_coap_wire *m);

/* First option `num` at or after index *iter (start with 0); *iter moves
 * past it. NULL when there is none (*iter is then nopt). */
const struct kdc_coap_opt *kdc_coap_wire_opt(const struct kdc_coap_wire *m,
	    uint16_t num, size_t *iter);
/* An option's value as an unsigned integer (RFC 7252 §3.2 uint, 0-4
 * bytes; Observe 0-3): KDC_OK, KDC_ERR_MALFORMED when longer. */
kdc_err	kdc_coap_opt_uint(const struct kdc_coap_opt *o, uint32_t *v);
/* Critical (odd number) and not one we act on (list above, except the
 * proxy ones): what RFC 7252 §5.4.1 answers 4.02 for. So 9, 13, 35
 * (Proxy-Uri), 39 (Proxy-Scheme) are; 6 (Observe), 258 (No-Response)
 * and every even number are not. */
bool	kdc_coap_opt_unknown_critical(uint16_t num);

/* Block1/Block2 value (RFC 7959 §2.2): num, more, szx (0..6: size
 * 16 << szx). KDC_ERR_MALFORMED for szx 7 (BERT, not ours) or a value
 * over 3 bytes. */
struct kdc_coap_block {
	uint32_t	 num;
	bool		 more;
	uint8_t		 szx;
};
kdc_err	kdc_coap_block_get(const struct kdc_coap_opt *o,
	    struct kdc_coap_block *b);
/* Encoded value into v[3], returns its length 0..3, shortest (num 0,
 * more false, szx 0 is zero bytes). num < 2^20 and szx < 7, asserted. */
size_t	kdc_coap_block_put(const struct kdc_coap_block *b, uint8_t v[3]);

/*
 * Writer: build a message into the caller's buffer. Options must be
 * added in ascending number order (equal numbers repeat), each at most
 * 65535 bytes long, none after the payload; a smaller number, a longer
 * value, a buffer too small, a token over 8 bytes, a type over 3: sticky
 * error, the message is unusable (kdc_coap_wb_end() returns it). The
 * payload comes last, once (a marker 0xFF is written only when
 * len > 0). An empty message (code 0.00) carries no token, option or
 * payload (RFC 7252 §4.1): kdc_coap_wb_end() refuses one that does.
 */
struct kdc_coap_wb {
	uint8_t		*buf;
	size_t		 cap;
	size_t		 len;
	uint16_t	 last;	/* last option number written */
	bool		 body;	/* payload added: no more options */
	kdc_err		 err;
};
void	kdc_coap_wb_init(struct kdc_coap_wb *w, uint8_t *buf, size_t cap,
	    uint8_t type, uint8_t code, uint16_t mid, const uint8_t *token,
	    size_t token_len);
void	kdc_coap_wb_opt(struct kdc_coap_wb *w, uint16_t num, const void *val,
	    size_t len);
/* Shortest unsigned encoding (0 is zero bytes). */
void	kdc_coap_wb_opt_uint(struct kdc_coap_wb *w, uint16_t num, uint32_t v);
/* A '/'-separated path as repeated options (Uri-Path, Location-Path);
 * "" adds none; an empty segment ("a//b", and so a leading or trailing
 * '/') or one over 255 bytes (RFC 7252 §5.10) is KDC_ERR_INVALID_ARG. */
void	kdc_coap_wb_path(struct kdc_coap_wb *w, uint16_t num,
	    const char *path);
/* A query as Uri-Query options: NULL or "" adds none, else items joined
 * by '&', each one option; an empty item, one over 255 bytes, or more
 * than max_items of them is KDC_ERR_INVALID_ARG. */
void	kdc_coap_wb_query(struct kdc_coap_wb *w, const char *query,
	    size_t max_items);
void	kdc_coap_wb_payload(struct kdc_coap_wb *w, const void *p, size_t len);
/* KDC_OK and *len the message's length, or the sticky error
 * (KDC_ERR_TOO_LARGE when it did not fit, KDC_ERR_INVALID_ARG) and *len
 * 0. */
kdc_err	kdc_coap_wb_end(struct kdc_coap_wb *w, size_t *len);

#endif
