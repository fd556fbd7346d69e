/*
 * ace.h: the ACE-OAuth Authorization Server face (RFC 9200 §5.8 /token,
 * §5.9 /introspect, RFC 9770 /trl) on the KDC's CoAPS endpoint and on
 * HTTPS. Glue: the codec below bounds and decodes what a client sends and
 * encodes core's answer; core/ace.h decides, makes and records tokens.
 *
 * The codec (codec.c, library kdc_ace_codec, fuzzed by fuzz/fuzz_ace.c)
 * reads untrusted bytes through base's bounded reader: definite lengths
 * only, at most KDC_ACE_MAP_MAX entries per map, nesting bounded by the
 * COSE_Key reader's, no allocation, every pointer a view into the
 * caller's bytes. It writes deterministic CBOR (keys in ascending order
 * of their encodings) into the caller's buffer.
 */
#ifndef KDC_ACE_H
#define KDC_ACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/ace.h"

/* CoAP Content-Formats (IANA): application/ace+cbor (RFC 9200 §8.16),
 * application/cwt (RFC 8392 §9.3), application/ace-trl+cbor (RFC 9770). */
#define KDC_CF_ACE_CBOR		19
#define KDC_CF_CWT		61
#define KDC_CF_ACE_TRL_CBOR	262

/* Entries of a request map we read (RFC 9200 Table 5 has 20 names). */
#define KDC_ACE_MAP_MAX		24

/*
 * Decode a token request (RFC 9200 §5.8.1) into req (views into buf).
 * KDC_OK; MALFORMED (not a map, a known parameter of the wrong type, a
 * duplicate key, indefinite lengths, text that is not UTF-8), TRUNCATED,
 * TRAILING, TOO_LARGE (a map past KDC_ACE_MAP_MAX, a scope past
 * KDC_ACE_SCOPE_MAX), UNSUPPORTED (a binary (AIF) scope: we grant text
 * scopes). Unknown parameters are skipped. client_id (24) is read and
 * ignored: the client is who its DTLS/TLS credential proves.
 */
kdc_err	kdc_ace_token_req_parse(const uint8_t *buf, size_t len,
	    struct kdc_ace_token_req *req);

/* The 2.01 Access Information map of resp (RFC 9200 §5.8.2). */
kdc_err	kdc_ace_token_resp_encode(const struct kdc_ace_token_resp *resp,
	    uint8_t *out, size_t *out_len);

/* An error map {30: error, ?31: description} (RFC 9200 §5.8.3). */
kdc_err	kdc_ace_error_encode(int error, const char *description,
	    uint8_t *out, size_t *out_len);

/* An introspection request (RFC 9200 §5.9.1): {11: token bstr,
 * ?33: token_type_hint}. token views into buf. Errors as above;
 * MALFORMED without a token. */
kdc_err	kdc_ace_introspect_req_parse(const uint8_t *buf, size_t len,
	    const uint8_t **token, size_t *token_len);

/* The introspection response (RFC 9200 §5.9.2): {10: false} when
 * inactive, else active with aud, exp, iat, cti, cnf, scope, client_id,
 * ace_profile. */
kdc_err	kdc_ace_introspection_encode(const struct kdc_ace_introspection *in,
	    uint8_t *out, size_t *out_len);

/* The TRL's full set (RFC 9770 §6.1): {0: [hash bstr, ...]}. */
kdc_err	kdc_ace_trl_encode(const uint8_t (*hashes)[KDC_ACE_TOKEN_HASH_LEN],
	    size_t n, uint8_t *out, size_t *out_len);

/* ---- the face ------------------------------------------------------- */

struct kdc_coap;
struct kdc_core;
struct kdc_http;
struct kdc_ace;

/*
 * Serve /token (POST), /introspect (POST) and /trl (GET, Observe) on the
 * CoAP endpoint `endpoint` of c, for peers core authenticated there.
 * core is the engine thread's. *out is freed with kdc_ace_free() after
 * the engine. NOMEM, what kdc_coap_route() refuses.
 */
kdc_err	kdc_ace_attach(struct kdc_coap *c, struct kdc_core *core,
	    const char *endpoint, struct kdc_ace **out);
/* The revocation generation moved (engine thread, between steps): notify
 * /trl observers if their list may have changed. */
void	kdc_ace_revoked(struct kdc_ace *a);
void	kdc_ace_free(struct kdc_ace *a);

/* POST /token and /introspect on HTTPS (the same CBOR bodies,
 * application/ace+cbor), the client authenticated by its TLS client
 * certificate. core is the listener thread's. */
kdc_err	kdc_ace_http_routes(struct kdc_http *h, struct kdc_core *core);

#endif /* KDC_ACE_H */
