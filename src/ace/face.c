/*
 * face.c: the Authorization Server on CoAPS and HTTPS (ace.h). Glue: the
 * peer's principal and the bounded request go to core (core/ace.h), its
 * answer back as RFC 9200 CBOR. An answer carrying a PoP key is an owned
 * payload, wiped once sent.
 */
#include <stdio.h>
#include <string.h>

#include "ace/ace.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/wipe.h"
#include "coap/coap.h"
#include "core/core.h"
#include "http/http.h"

/* The TRL we send in one answer (35 bytes each: 63 KiB, under
 * KDC_COAP_RESP_MAX; RFC 9770's diff queries are for more). */
#define TRL_MAX		1800

struct kdc_ace {
	struct kdc_coap	*coap;
	struct kdc_core	*core;
	char		 endpoint[32];
};

/* An RFC 9200 error answer: {30: code[, 31: text]}. */
static void
error_coap(struct kdc_coap_resp *resp, uint8_t code, int error,
    const char *desc)
{
	uint8_t buf[160], *p;
	size_t n = sizeof(buf);

	resp->code = code;
	if (kdc_ace_error_encode(error, desc, buf, &n) != KDC_OK ||
	    (p = kdc_coap_resp_alloc(resp, n)) == NULL)
		return;			/* the code alone */
	memcpy(p, buf, n);
	resp->content_format = KDC_CF_ACE_CBOR;
}

/* The CoAP/HTTP-neutral outcome of a token request: status class and
 * the body to send (owned by the caller's buffer). */
struct outcome {
	int		 status;	/* 201, 400, 401, 403, 500 */
	uint8_t		 body[KDC_COSE_MSG_MAX + 512];
	size_t		 len;
};

static void
outcome_error(struct outcome *o, int status, int error, const char *desc)
{
	o->status = status;
	o->len = sizeof(o->body);
	if (kdc_ace_error_encode(error, desc, o->body, &o->len) != KDC_OK)
		o->len = 0;
}

/* The token endpoint's logic, shared by both bindings. */
static void
token(struct kdc_core *core, const char *actor,
    const struct kdc_principal *who, const uint8_t *body, size_t len,
    struct outcome *o)
{
	struct kdc_ace_token_req req;
	struct kdc_ace_token_resp *tr;
	kdc_err r;

	o->len = 0;
	if (who == NULL || who->cred_id == 0) {
		outcome_error(o, 401, KDC_ACE_INVALID_CLIENT,
		    "authenticate with your DTLS/TLS credential");
		return;
	}
	if ((r = kdc_ace_token_req_parse(body, len, &req)) != KDC_OK) {
		if (r == KDC_ERR_UNSUPPORTED)
			outcome_error(o, 400, KDC_ACE_INVALID_SCOPE,
			    "binary scopes are not supported");
		else
			outcome_error(o, 400, KDC_ACE_INVALID_REQUEST,
			    kdc_err_str(r));
		return;
	}
	if ((tr = kdc_calloc(1, sizeof(*tr))) == NULL) {
		o->status = 500;
		return;
	}
	r = kdc_core_ace_token(core, actor, who, &req, tr);
	if (r == KDC_OK) {
		o->status = 201;
		o->len = sizeof(o->body);
		if (kdc_ace_token_resp_encode(tr, o->body, &o->len) != KDC_OK) {
			kdc_wipe(o->body, sizeof(o->body));
			o->len = 0;
			o->status = 500;
		}
	} else if (r == KDC_ERR_DENIED && tr->error != 0) {
		outcome_error(o, tr->error == KDC_ACE_INVALID_CLIENT ? 401 :
		    400, tr->error, tr->error_description);
	} else if (r == KDC_ERR_REVOKED || r == KDC_ERR_EXPIRED ||
	    r == KDC_ERR_UNKNOWN_DEVICE) {
		outcome_error(o, 401, KDC_ACE_INVALID_CLIENT, kdc_err_str(r));
	} else {
		kdc_log_warn_r(r, "ace: token for %s", who->dev_id);
		o->status = 500;
	}
	kdc_ace_token_resp_wipe(tr);
	kdc_free(tr);
}

/* /introspect, shared likewise. */
static void
introspect(struct kdc_core *core, const char *actor,
    const struct kdc_principal *who, const uint8_t *body, size_t len,
    struct outcome *o)
{
	struct kdc_ace_introspection in;
	const uint8_t *tok;
	size_t tok_len;
	kdc_err r;

	o->len = 0;
	if (who == NULL || who->cred_id == 0) {
		o->status = 401;
		return;
	}
	if ((r = kdc_ace_introspect_req_parse(body, len, &tok, &tok_len)) !=
	    KDC_OK) {
		outcome_error(o, 400, KDC_ACE_INVALID_REQUEST, kdc_err_str(r));
		return;
	}
	memset(&in, 0, sizeof(in));
	r = kdc_core_ace_introspect(core, actor, who, tok, tok_len, &in);
	if (r == KDC_ERR_DENIED) {
		o->status = 403;	/* RFC 9200 §5.9.3: no payload */
		return;
	}
	if (r != KDC_OK) {
		kdc_log_warn_r(r, "ace: introspection for %s", who->dev_id);
		o->status = 500;
		return;
	}
	o->status = 201;
	o->len = sizeof(o->body);
	if (kdc_ace_introspection_encode(&in, o->body, &o->len) != KDC_OK) {
		o->len = 0;
		o->status = 500;
	}
}

/* ---- CoAP ----------------------------------------------------------- */

static uint8_t
status_coap(int status)
{
	switch (status) {
	case 201:	return KDC_COAP_CREATED;
	case 400:	return KDC_COAP_BAD_REQUEST;
	case 401:	return KDC_COAP_UNAUTHORIZED;
	case 403:	return KDC_COAP_FORBIDDEN;
	default:	return KDC_COAP_INTERNAL;
	}
}

/* Answer o on CoAP: its body as an owned payload (a PoP key may be in
 * it: wiped once sent), o wiped. */
static void
answer_coap(struct outcome *o, struct kdc_coap_resp *resp)
{
	uint8_t *p;

	resp->code = status_coap(o->status);
	if (o->len > 0 && (p = kdc_coap_resp_alloc(resp, o->len)) != NULL) {
		memcpy(p, o->body, o->len);
		resp->content_format = KDC_CF_ACE_CBOR;
	} else if (o->len > 0) {
		resp->code = KDC_COAP_INTERNAL;
	}
	kdc_wipe(o->body, o->len);
}

/* The payload must be ace+cbor (or carry no Content-Format). */
static int
cf_ok(const struct kdc_coap_msg *req)
{
	return req->content_format == KDC_CF_NONE ||
	    req->content_format == KDC_CF_ACE_CBOR;
}

/* POST /token and /introspect: the body bounded and typed, the
 * endpoint's logic, the outcome as an owned answer. */
static void
post_coap(struct kdc_ace *a, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp,
    void (*fn)(struct kdc_core *, const char *,
    const struct kdc_principal *, const uint8_t *, size_t,
    struct outcome *))
{
	struct outcome *o;

	if (!cf_ok(req)) {
		error_coap(resp, KDC_COAP_UNSUPPORTED_CF,
		    KDC_ACE_INVALID_REQUEST, "send application/ace+cbor");
		return;
	}
	if ((o = kdc_malloc(sizeof(*o))) == NULL) {
		resp->code = KDC_COAP_UNAVAILABLE;
		return;
	}
	fn(a->core, "coap", kdc_coap_peer_auth(peer), req->payload,
	    req->payload_len, o);
	/* no Max-Age: a token answer is not to be cached at all (RFC 9202
	 * §3 asks for none longer than expires_in) */
	answer_coap(o, resp);
	kdc_free(o);
}

static void
hnd_token(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	post_coap(arg, peer, req, resp, token);
}

static void
hnd_introspect(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	post_coap(arg, peer, req, resp, introspect);
}

/* GET /trl (RFC 9770 §6): the full set of this RS's revoked, unexpired
 * tokens' hashes; Observe-able: a revocation notifies. */
static void
hnd_trl(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_ace *a = arg;
	const struct kdc_principal *who = kdc_coap_peer_auth(peer);
	uint8_t (*h)[KDC_ACE_TOKEN_HASH_LEN] = NULL, *p;
	size_t n = 0, len;
	int64_t gen;
	kdc_err r;

	(void)req;
	if (who == NULL || who->cred_id == 0) {
		resp->code = KDC_COAP_UNAUTHORIZED;
		return;
	}
	if ((h = kdc_calloc(TRL_MAX, sizeof(*h))) == NULL) {
		resp->code = KDC_COAP_UNAVAILABLE;
		return;
	}
	r = kdc_core_ace_trl(a->core, who, h, TRL_MAX, &n, &gen);
	if (r == KDC_ERR_DENIED) {
		resp->code = KDC_COAP_FORBIDDEN;
		goto out;
	}
	if (r != KDC_OK) {
		kdc_log_warn_r(r, "ace: TRL for %s", who->dev_id);
		resp->code = kdc_coap_code(r);
		goto out;
	}
	len = 4 + n * (KDC_ACE_TOKEN_HASH_LEN + 2) + 8;
	if ((p = kdc_coap_resp_alloc(resp, len)) == NULL) {
		resp->code = KDC_COAP_UNAVAILABLE;
		goto out;
	}
	if (kdc_ace_trl_encode((const uint8_t (*)[KDC_ACE_TOKEN_HASH_LEN])h,
	    n, p, &len) != KDC_OK) {
		kdc_coap_resp_release(resp);
		resp->code = KDC_COAP_INTERNAL;
		goto out;
	}
	resp->payload_len = len;
	resp->content_format = KDC_CF_ACE_TRL_CBOR;
	resp->code = KDC_COAP_CONTENT;
	/* a registration (Observe: 0) keeps it: anything else is no
	 * observation request, which is fine */
	(void)kdc_coap_observe(peer);
out:
	kdc_free(h);
}

kdc_err
kdc_ace_attach(struct kdc_coap *c, struct kdc_core *core,
    const char *endpoint, struct kdc_ace **out)
{
	struct kdc_ace *a;
	kdc_err r;

	*out = NULL;
	if ((a = kdc_calloc(1, sizeof(*a))) == NULL)
		return KDC_ERR_NOMEM;
	a->coap = c;
	a->core = core;
	snprintf(a->endpoint, sizeof(a->endpoint), "%s", endpoint);
	if ((r = kdc_coap_route(c, endpoint, KDC_COAP_POST, "token",
	    hnd_token, a)) != KDC_OK ||
	    (r = kdc_coap_route(c, endpoint, KDC_COAP_POST, "introspect",
	    hnd_introspect, a)) != KDC_OK ||
	    (r = kdc_coap_route(c, endpoint, KDC_COAP_GET, "trl", hnd_trl,
	    a)) != KDC_OK) {
		kdc_free(a);
		return r;
	}
	*out = a;
	return KDC_OK;
}

void
kdc_ace_revoked(struct kdc_ace *a)
{
	if (a != NULL)
		(void)kdc_coap_notify(a->coap, a->endpoint, "trl");
}

void
kdc_ace_free(struct kdc_ace *a)
{
	kdc_free(a);
}

/* ---- HTTPS ---------------------------------------------------------- */

/* The client's principal from its TLS certificate chain. The listener
 * hands a chain over only once it verified it against its trust_pem
 * (http.h), which serve.c sets to our CA alone: core need not verify the
 * signature again, only find the credential (kdc_core_auth_cert_verified,
 * whose header states the trust argument). */
static kdc_err
http_who(struct kdc_core *core, const struct kdc_http_req *req,
    struct kdc_principal *who)
{
	memset(who, 0, sizeof(*who));
	if (req->nclient_certs == 0)
		return KDC_ERR_UNTRUSTED;
	return kdc_core_auth_cert_verified(core, "https", req->client_certs,
	    req->client_cert_lens, req->nclient_certs, who);
}

static void
http_answer(struct outcome *o, struct kdc_http_resp *resp)
{
	if (kdc_http_resp_set(resp, o->status, o->len > 0 ?
	    "application/ace+cbor" : "", o->body, o->len) != KDC_OK)
		resp->status = 500;
	kdc_wipe(o->body, o->len);
}

static void
http_do(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp,
    void (*fn)(struct kdc_core *, const char *,
    const struct kdc_principal *, const uint8_t *, size_t,
    struct outcome *))
{
	struct kdc_core *core = arg;
	struct kdc_principal who;
	struct outcome *o;

	if ((o = kdc_malloc(sizeof(*o))) == NULL) {
		resp->status = 503;
		return;
	}
	if (http_who(core, req, &who) != KDC_OK) {
		memset(&who, 0, sizeof(who));	/* answered 401 below */
	}
	fn(core, "https", &who, req->body, req->body_len, o);
	http_answer(o, resp);
	kdc_free(o);
}

static void
http_token(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	http_do(arg, req, resp, token);
}

static void
http_introspect(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	http_do(arg, req, resp, introspect);
}

kdc_err
kdc_ace_http_routes(struct kdc_http *h, struct kdc_core *core)
{
	kdc_err r;

	if ((r = kdc_http_route(h, "POST", "/token", http_token, core)) !=
	    KDC_OK)
		return r;
	return kdc_http_route(h, "POST", "/introspect", http_introspect, core);
}
