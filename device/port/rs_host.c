/*
 * rs_host.c: the ACE resource server of the host port (kdcdev_host.h,
 * kdcdev_host_rs_serve): libcoap 4.3.1 on GnuTLS, plain CoAP for
 * /authz-info and DTLS-PSK CoAP keyed by the token's kid (RFC 9202). The
 * portable core (ace_rs.c) decides everything; this file moves bytes.
 */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <coap3/coap.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "base/wipe.h"
#include "kdcdev_host.h"

/* A DTLS-RPK session's client key, learnt in its handshake. */
#define RPK_SESSIONS	32
struct rpk_sess {
	coap_session_t		*sess;		/* NULL: free */
	uint8_t			 x[32], y[32];
	uint64_t		 seq;
};

/* The TRL observation (RFC 9770 §6, RFC 7641) at the AS. */
#define TRL_RETRY_MS	2000	/* a new session after a failure */
#define TRL_WAIT_MS	8000	/* for the answer to a GET */
#define TRL_MAXAGE_DEF	60	/* RFC 7252 §5.10.5 default Max-Age */
enum trl_state { TRL_IDLE, TRL_WAIT, TRL_OBSERVING };
struct trl_sub {
	bool			 on;
	coap_address_t		 dst;
	coap_dtls_cpsk_t	 cpsk;
	uint8_t			 id[128], key[64];
	coap_session_t		*sess;
	uint8_t			 token[8];
	enum trl_state		 state;
	bool			 lost;		/* the session failed */
	uint64_t		 retry_at, sent_at, refresh_at;
	unsigned		 refresh_max;	/* seconds, 0: Max-Age only */
	unsigned		 updates;
};

struct rs_srv {
	struct kdcdev_rs	*rs;
	coap_dtls_spsk_t	 spsk;
	uint8_t			 key[16];	/* the key handed to libcoap */
	coap_bin_const_t	 key_bin;
	bool			 locked;	/* the lock's state */
	coap_dtls_pki_t		 pki;
	char			*pem_pub, *pem_key;
	size_t			 pem_pub_len, pem_key_len;
	struct rpk_sess		 rpk[RPK_SESSIONS];
	uint64_t		 rpk_seq;
	struct trl_sub		 trl;
};

static void
rs_log(struct kdcdev_rs *rs, enum kdcdev_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rs_log(struct kdcdev_rs *rs, enum kdcdev_log_level lvl, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (rs->log == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rs->log(rs->log_arg, lvl, line);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct rpk_sess *
rpk_find(struct rs_srv *s, const coap_session_t *session)
{
	for (size_t i = 0; i < RPK_SESSIONS; i++)
		if (s->rpk[i].sess != NULL && s->rpk[i].sess == session)
			return &s->rpk[i];
	return NULL;
}

static void
rpk_forget(struct rs_srv *s, const coap_session_t *session)
{
	struct rpk_sess *e;

	while ((e = rpk_find(s, session)) != NULL)
		memset(e, 0, sizeof(*e));
}

/* The P-256 point of an SPKI (DER). */
static bool
spki_xy(const uint8_t *der, size_t len, uint8_t x[32], uint8_t y[32])
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	gnutls_datum_t gx = { NULL, 0 }, gy = { NULL, 0 };
	gnutls_ecc_curve_t curve;
	bool ok = false;

	if (gnutls_pubkey_init(&pub) >= 0 &&
	    gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_pubkey_export_ecc_raw2(pub, &curve, &gx, &gy,
	    GNUTLS_EXPORT_FLAG_NO_LZ) >= 0 &&
	    curve == GNUTLS_ECC_CURVE_SECP256R1 && gx.size <= 32 &&
	    gy.size <= 32) {
		memset(x, 0, 32);
		memset(y, 0, 32);
		memcpy(x + 32 - gx.size, gx.data, gx.size);
		memcpy(y + 32 - gy.size, gy.data, gy.size);
		ok = true;
	}
	gnutls_free(gx.data);
	gnutls_free(gy.data);
	gnutls_pubkey_deinit(pub);
	return ok;
}

/*
 * The DTLS-RPK handshake's check of the client's raw public key (RFC
 * 9202 §3.2): libcoap 4.3.1 (GnuTLS) calls the PKI "CN" callback with cn
 * "RPK" and the key's SPKI DER (check_rpk_cert() in coap_gnutls.c); the
 * handshake goes on only if a stored token's cnf is that key. The key is
 * remembered for the session: its requests are checked with it.
 */
static int
on_rs_rpk(const char *cn, const uint8_t *der, size_t der_len,
    coap_session_t *session, unsigned depth, int validated, void *arg)
{
	struct rs_srv *s = arg;
	struct rpk_sess *e = NULL;
	uint8_t x[32], y[32];

	(void)validated;
	rpk_forget(s, session);
	if (depth != 0 || cn == NULL || strcmp(cn, COAP_DTLS_RPK_CERT_CN) != 0) {
		rs_log(s->rs, KDCDEV_LOG_INFO, "DTLS: a client certificate "
		    "(not a raw public key): refused");
		return 0;
	}
	if (!spki_xy(der, der_len, x, y)) {
		rs_log(s->rs, KDCDEV_LOG_INFO, "DTLS: a client raw public key "
		    "that is not P-256: refused");
		return 0;
	}
	if (kdcdev_rs_rpk_lookup(s->rs, x, y) != KDC_OK) {
		rs_log(s->rs, KDCDEV_LOG_INFO, "DTLS: no token for the "
		    "client's raw public key: refused");
		return 0;
	}
	for (size_t i = 0; i < RPK_SESSIONS; i++) {	/* free, else oldest */
		if (s->rpk[i].sess == NULL) {
			e = &s->rpk[i];
			break;
		}
		if (e == NULL || s->rpk[i].seq < e->seq)
			e = &s->rpk[i];
	}
	e->sess = session;
	memcpy(e->x, x, 32);
	memcpy(e->y, y, 32);
	e->seq = ++s->rpk_seq;
	rs_log(s->rs, KDCDEV_LOG_INFO, "DTLS: client raw public key "
	    "accepted (a token's cnf)");
	return 1;
}

/* The DTLS handshake's PSK for the client's psk_identity (RFC 9202 §3.3). */
static const coap_bin_const_t *
on_rs_psk(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
	struct rs_srv *s = arg;
	uint8_t kid[KDCDEV_RS_KID_MAX];
	size_t key_len = sizeof(s->key), kid_len = sizeof(kid);
	kdc_err r;

	rpk_forget(s, session);	/* a PSK session: no client key */
	kdc_wipe(s->key, sizeof(s->key));
	if (identity == NULL || (r = kdcdev_rs_psk_lookup(s->rs, identity->s,
	    identity->length, s->key, &key_len, kid, &kid_len)) != KDC_OK) {
		rs_log(s->rs, KDCDEV_LOG_INFO, "DTLS: no key for a PSK "
		    "identity of %zu bytes", identity != NULL ?
		    identity->length : (size_t)0);
		return NULL;	/* the handshake fails */
	}
	/* libcoap copies the key into the session at once */
	s->key_bin.s = s->key;
	s->key_bin.length = key_len;
	return &s->key_bin;
}

/* The session's PoP kid: its PSK identity names a stored token whose key
 * is still the session's. 0 when none (plain CoAP, or rights ended). */
static size_t
session_kid(struct rs_srv *s, coap_session_t *session, uint8_t *kid,
    size_t kid_cap)
{
	const coap_bin_const_t *id, *sk;
	uint8_t key[16];
	size_t key_len = sizeof(key), kid_len = kid_cap;
	unsigned diff = 0;

	if (coap_session_get_proto(session) != COAP_PROTO_DTLS ||
	    (id = coap_session_get_psk_identity(session)) == NULL ||
	    (sk = coap_session_get_psk_key(session)) == NULL)
		return 0;
	if (kdcdev_rs_psk_lookup(s->rs, id->s, id->length, key, &key_len, kid,
	    &kid_len) != KDC_OK)
		return 0;
	if (sk->length != key_len)
		diff = 1;
	else
		for (size_t i = 0; i < key_len; i++)
			diff |= (unsigned)(key[i] ^ sk->s[i]);
	kdc_wipe(key, sizeof(key));
	return diff == 0 ? kid_len : 0;
}

static void
answer(coap_pdu_t *response, const struct kdcdev_resp *resp)
{
	uint8_t cf[4];

	coap_pdu_set_code(response, (coap_pdu_code_t)resp->code);
	if (resp->content_format >= 0)
		coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
		    coap_encode_var_safe(cf, sizeof(cf),
		    (unsigned)resp->content_format), cf);
	if (resp->out_len > 0)
		coap_add_data(response, resp->out_len, resp->out);
}

static void
on_authz_info(coap_resource_t *res, coap_session_t *session,
    const coap_pdu_t *request, const coap_string_t *query,
    coap_pdu_t *response)
{
	struct rs_srv *s = coap_resource_get_userdata(res);
	struct kdcdev_resp resp;
	coap_opt_iterator_t oi;
	coap_opt_t *opt;
	const uint8_t *data = NULL;
	size_t len = 0, off = 0, total = 0;
	uint8_t out[256];

	(void)session;
	(void)query;
	memset(&resp, 0, sizeof(resp));
	resp.out = out;
	resp.out_cap = sizeof(out);
	if ((opt = coap_check_option(request, COAP_OPTION_CONTENT_FORMAT,
	    &oi)) != NULL && coap_decode_var_bytes(coap_opt_value(opt),
	    coap_opt_length(opt)) != KDCDEV_CF_CWT) {
		coap_pdu_set_code(response, COAP_RESPONSE_CODE(415));
		return;
	}
	if (!coap_get_data_large(request, &len, &data, &off, &total) ||
	    off != 0 || len != total) {
		len = 0;
		data = NULL;
	}
	(void)kdcdev_rs_authz_info(s->rs, data, len, &resp);
	answer(response, &resp);
}

static void
on_lock(coap_resource_t *res, coap_session_t *session,
    const coap_pdu_t *request, const coap_string_t *query,
    coap_pdu_t *response)
{
	struct rs_srv *s = coap_resource_get_userdata(res);
	coap_str_const_t *up = coap_resource_get_uri_path(res);
	struct kdcdev_resp resp;
	uint8_t kid[KDCDEV_RS_KID_MAX], out[256], cf[4];
	char path[64];
	size_t kid_len;
	uint8_t method = (uint8_t)coap_pdu_get_code(request);
	const char *st;
	struct rpk_sess *e;
	kdc_err r;

	(void)query;
	if (up == NULL || up->length >= sizeof(path)) {
		coap_pdu_set_code(response, COAP_RESPONSE_CODE(500));
		return;
	}
	memcpy(path, up->s, up->length);
	path[up->length] = '\0';
	memset(&resp, 0, sizeof(resp));
	resp.out = out;
	resp.out_cap = sizeof(out);
	if (coap_session_get_proto(session) == COAP_PROTO_DTLS &&
	    (e = rpk_find(s, session)) != NULL)
		r = kdcdev_rs_access_rpk(s->rs, e->x, e->y, method, path,
		    &resp);
	else {
		kid_len = session_kid(s, session, kid, sizeof(kid));
		r = kdcdev_rs_access(s->rs, kid, kid_len, method, path, &resp);
	}
	if (r != KDC_OK) {
		rs_log(s->rs, KDCDEV_LOG_INFO, "%s %s refused: %u.%02u",
		    method == KDCDEV_GET ? "GET" : "POST", path,
		    resp.code >> 5, resp.code & 31u);
		answer(response, &resp);
		return;
	}
	if (strcmp(path, "lock/open") == 0 || strcmp(path, "lock/close") == 0) {
		s->locked = strcmp(path, "lock/close") == 0;
		rs_log(s->rs, KDCDEV_LOG_INFO, "lock: %s", s->locked ?
		    "closed" : "opened");
		coap_pdu_set_code(response, COAP_RESPONSE_CODE(204));
		return;
	}
	coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
	if (strcmp(path, "lock") == 0) {
		st = s->locked ? "closed" : "open";
		coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
		    coap_encode_var_safe(cf, sizeof(cf), 0), cf);
		coap_add_data(response, strlen(st), (const uint8_t *)st);
	}
}

static kdc_err
add_res(coap_context_t *ctx, struct rs_srv *s, const char *path,
    coap_method_handler_t fn, bool all_methods)
{
	coap_resource_t *r;
	coap_str_const_t *p;

	if (coap_get_resource_from_uri_path(ctx, coap_make_str_const(path)) !=
	    NULL)
		return KDC_OK;
	if ((p = coap_new_str_const((const uint8_t *)path, strlen(path))) ==
	    NULL)
		return KDC_ERR_NOMEM;
	if ((r = coap_resource_init(p, COAP_RESOURCE_FLAGS_RELEASE_URI)) ==
	    NULL) {
		coap_delete_str_const(p);
		return KDC_ERR_NOMEM;
	}
	coap_resource_set_userdata(r, s);
	coap_register_handler(r, COAP_REQUEST_POST, fn);
	if (all_methods) {	/* the core answers 4.05, after 4.04 */
		coap_register_handler(r, COAP_REQUEST_GET, fn);
		coap_register_handler(r, COAP_REQUEST_PUT, fn);
		coap_register_handler(r, COAP_REQUEST_DELETE, fn);
	}
	coap_add_resource(ctx, r);
	return KDC_OK;
}

/* ==== the TRL observation (RFC 9770 §6, RFC 7641) ======================= */

static void
trl_drop_session(struct rs_srv *s, uint64_t now, unsigned delay_ms)
{
	struct trl_sub *t = &s->trl;

	if (t->sess != NULL)
		coap_session_release(t->sess);
	t->sess = NULL;
	t->state = TRL_IDLE;
	t->lost = false;
	t->retry_at = now + delay_ms;
}

/* GET /trl with Observe: 0 on the session (the same token each time: a
 * registration with a token already observing replaces it). */
static bool
trl_get(struct rs_srv *s, uint64_t now)
{
	struct trl_sub *t = &s->trl;
	coap_pdu_t *pdu;
	uint8_t ob[4];

	if ((pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
	    coap_new_message_id(t->sess),
	    coap_session_max_pdu_size(t->sess))) == NULL)
		return false;
	if (!coap_add_token(pdu, sizeof(t->token), t->token) ||
	    coap_add_option(pdu, COAP_OPTION_OBSERVE,
	    coap_encode_var_safe(ob, sizeof(ob), COAP_OBSERVE_ESTABLISH),
	    ob) == 0 ||
	    coap_add_option(pdu, COAP_OPTION_URI_PATH, 3,
	    (const uint8_t *)"trl") == 0) {
		coap_delete_pdu(pdu);
		return false;
	}
	if (coap_send(t->sess, pdu) == COAP_INVALID_MID)
		return false;
	t->state = TRL_WAIT;
	t->sent_at = now;
	return true;
}

/* Between I/O steps: open the session, (re-)register, give up on a GET
 * that is not answered or a session that failed. */
static void
trl_tick(struct rs_srv *s, coap_context_t *ctx, uint64_t now)
{
	struct trl_sub *t = &s->trl;

	if (!t->on)
		return;
	if (t->lost) {
		rs_log(s->rs, KDCDEV_LOG_WARN, "trl: the session to the AS "
		    "failed; again in %u ms", TRL_RETRY_MS);
		trl_drop_session(s, now, TRL_RETRY_MS);
		return;
	}
	switch (t->state) {
	case TRL_IDLE:
		if (now < t->retry_at)
			return;
		t->retry_at = now + TRL_RETRY_MS;
		if (t->sess == NULL && (t->sess = coap_new_client_session_psk2(
		    ctx, NULL, &t->dst, COAP_PROTO_DTLS, &t->cpsk)) == NULL) {
			rs_log(s->rs, KDCDEV_LOG_WARN, "trl: cannot open a "
			    "session to the AS");
			return;
		}
		if (!trl_get(s, now))
			trl_drop_session(s, now, TRL_RETRY_MS);
		return;
	case TRL_WAIT:
		if (now - t->sent_at < TRL_WAIT_MS)
			return;
		rs_log(s->rs, KDCDEV_LOG_WARN, "trl: no answer from the AS "
		    "in %u ms; a new session", TRL_WAIT_MS);
		trl_drop_session(s, now, 0);
		return;
	case TRL_OBSERVING:
		/* RFC 7641 §3.3.1: the representation is fresh for Max-Age;
		 * past it (a notification may have been lost, the AS may have
		 * forgotten us) register again, which also fetches the list */
		if (now >= t->refresh_at && !trl_get(s, now))
			trl_drop_session(s, now, TRL_RETRY_MS);
		return;
	}
}

static coap_response_t
on_response(coap_session_t *session, const coap_pdu_t *sent,
    const coap_pdu_t *received, const coap_mid_t mid)
{
	struct rs_srv *s = coap_get_app_data(coap_session_get_context(session));
	struct trl_sub *t;
	coap_bin_const_t tok = coap_pdu_get_token(received);
	coap_opt_iterator_t oi;
	coap_opt_t *opt;
	const uint8_t *data = NULL;
	size_t len = 0, off = 0, total = 0, dropped = 0;
	uint8_t code = (uint8_t)coap_pdu_get_code(received);
	unsigned max_age = TRL_MAXAGE_DEF, refresh;
	bool observing;
	uint64_t now = mono_ms();
	kdc_err r;

	(void)sent;
	(void)mid;
	if (s == NULL || session != s->trl.sess)
		return COAP_RESPONSE_OK;
	t = &s->trl;
	if (tok.length != sizeof(t->token) ||
	    memcmp(tok.s, t->token, sizeof(t->token)) != 0)
		return COAP_RESPONSE_FAIL;	/* not ours: RST */
	if (code != COAP_RESPONSE_CODE(205)) {
		rs_log(s->rs, KDCDEV_LOG_WARN, "trl: the AS answered %u.%02u "
		    "(is this RS registered as device '%s'?); again in %u s",
		    code >> 5, code & 31u, s->rs->aud, TRL_MAXAGE_DEF);
		t->state = TRL_IDLE;
		t->retry_at = now + TRL_MAXAGE_DEF * 1000u;
		return COAP_RESPONSE_OK;
	}
	if ((opt = coap_check_option(received, COAP_OPTION_MAXAGE, &oi)) !=
	    NULL)
		max_age = coap_decode_var_bytes(coap_opt_value(opt),
		    coap_opt_length(opt));
	observing = coap_check_option(received, COAP_OPTION_OBSERVE, &oi) !=
	    NULL;
	if (!coap_get_data_large(received, &len, &data, &off, &total) ||
	    off != 0 || len != total) {
		data = NULL;
		len = 0;
	}
	if ((r = kdcdev_rs_trl_body(s->rs, data, len, &dropped)) != KDC_OK)
		rs_log(s->rs, KDCDEV_LOG_WARN, "trl: the AS's list does not "
		    "parse (%s): ignored", kdc_err_str(r));
	else
		rs_log(s->rs, KDCDEV_LOG_DEBUG, "trl: %s %u from the AS, "
		    "%zu token(s) dropped", observing ? "notification" :
		    "answer", ++t->updates, dropped);
	if (t->state == TRL_WAIT)
		rs_log(s->rs, KDCDEV_LOG_INFO, "trl: %s the AS's token "
		    "revocation list", observing ? "observing" : "polled "
		    "(no Observe in the answer)");
	/* re-register at Max-Age, at least 1 s apart, at most refresh_max */
	refresh = max_age < 1 ? 1 : max_age;
	if (t->refresh_max > 0 && refresh > t->refresh_max)
		refresh = t->refresh_max;
	t->state = TRL_OBSERVING;
	t->refresh_at = now + (uint64_t)refresh * 1000u;
	return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *session, const coap_pdu_t *sent,
    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	struct rs_srv *s = coap_get_app_data(coap_session_get_context(session));

	(void)sent;
	(void)reason;
	(void)mid;
	if (s != NULL && session == s->trl.sess)
		s->trl.lost = true;	/* handled between steps */
}

static int
on_event(coap_session_t *session, const coap_event_t event)
{
	struct rs_srv *s = coap_get_app_data(coap_session_get_context(session));

	if (s == NULL)
		return 0;
	if (session == s->trl.sess) {
		if (event == COAP_EVENT_DTLS_CLOSED ||
		    event == COAP_EVENT_DTLS_ERROR ||
		    event == COAP_EVENT_SESSION_CLOSED ||
		    event == COAP_EVENT_SESSION_FAILED)
			s->trl.lost = true;
		return 0;
	}
	if (event == COAP_EVENT_SERVER_SESSION_DEL ||
	    event == COAP_EVENT_DTLS_CLOSED || event == COAP_EVENT_DTLS_ERROR)
		rpk_forget(s, session);
	return 0;
}

static kdc_err
trl_setup(struct rs_srv *s, const struct kdcdev_host_rs_opts *o)
{
	struct trl_sub *t = &s->trl;
	struct addrinfo hints, *res = NULL;
	coap_uri_t u;
	char host[256], port[8];

	if (o->trl_as == NULL)
		return KDC_OK;
	if (o->trl_psk_id == NULL || o->trl_psk_id_len == 0 ||
	    o->trl_psk_id_len > sizeof(t->id) || o->trl_psk == NULL ||
	    o->trl_psk_len == 0 || o->trl_psk_len > sizeof(t->key))
		return KDC_ERR_INVALID_ARG;
	if (coap_split_uri((const uint8_t *)o->trl_as, strlen(o->trl_as),
	    &u) < 0 || u.scheme != COAP_URI_SCHEME_COAPS ||
	    u.host.length == 0 || u.host.length >= sizeof(host))
		return KDC_ERR_INVALID_ARG;
	memcpy(host, u.host.s, u.host.length);
	host[u.host.length] = '\0';
	snprintf(port, sizeof(port), "%u", (unsigned)u.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return KDC_ERR_INVALID_ARG;
	coap_address_init(&t->dst);
	t->dst.size = (socklen_t)res->ai_addrlen;
	memcpy(&t->dst.addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	memcpy(t->id, o->trl_psk_id, o->trl_psk_id_len);
	memcpy(t->key, o->trl_psk, o->trl_psk_len);
	t->cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
	t->cpsk.psk_info.identity.s = t->id;
	t->cpsk.psk_info.identity.length = o->trl_psk_id_len;
	t->cpsk.psk_info.key.s = t->key;
	t->cpsk.psk_info.key.length = o->trl_psk_len;
	t->refresh_max = o->trl_refresh;
	if (gnutls_rnd(GNUTLS_RND_NONCE, t->token, sizeof(t->token)) < 0)
		return KDC_ERR_CRYPTO;
	t->on = true;
	return KDC_OK;
}

/* The RS's own raw public key for DTLS-RPK (libcoap wants PEM buffers,
 * NUL included in the length, for an RPK). */
static kdc_err
pem_of(const char *label, const uint8_t *der, size_t len, char **pem,
    size_t *pem_len)
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	gnutls_datum_t out = { NULL, 0 };

	if (gnutls_pem_base64_encode2(label, &in, &out) < 0)
		return KDC_ERR_CRYPTO;
	if ((*pem = malloc(out.size + 1)) == NULL) {
		kdc_wipe(out.data, out.size);
		gnutls_free(out.data);
		return KDC_ERR_NOMEM;
	}
	memcpy(*pem, out.data, out.size);
	(*pem)[out.size] = '\0';
	*pem_len = out.size + 1;
	kdc_wipe(out.data, out.size);
	gnutls_free(out.data);
	return KDC_OK;
}

static kdc_err
rpk_setup(struct rs_srv *s, coap_context_t *ctx,
    const struct kdcdev_host_rs_opts *o)
{
	kdc_err r;

	if (o->rpk_key == NULL)
		return KDC_OK;
	if (o->rpk_spki == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = pem_of("PUBLIC KEY", o->rpk_spki, o->rpk_spki_len,
	    &s->pem_pub, &s->pem_pub_len)) != KDC_OK ||
	    (r = pem_of("PRIVATE KEY", o->rpk_key, o->rpk_key_len,
	    &s->pem_key, &s->pem_key_len)) != KDC_OK)
		return r;
	s->pki.version = COAP_DTLS_PKI_SETUP_VERSION;
	s->pki.verify_peer_cert = 0;	/* no CA: on_rs_rpk decides */
	s->pki.is_rpk_not_cert = 1;	/* asks for the client's key */
	s->pki.validate_cn_call_back = on_rs_rpk;
	s->pki.cn_call_back_arg = s;
	s->pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
	s->pki.pki_key.key.pem_buf.public_cert = (const uint8_t *)s->pem_pub;
	s->pki.pki_key.key.pem_buf.public_cert_len = s->pem_pub_len;
	s->pki.pki_key.key.pem_buf.private_key = (const uint8_t *)s->pem_key;
	s->pki.pki_key.key.pem_buf.private_key_len = s->pem_key_len;
	return coap_context_set_pki(ctx, &s->pki) ? KDC_OK : KDC_ERR_TLS;
}

static kdc_err
bind_ep(coap_context_t *ctx, const char *addr, uint16_t port,
    coap_proto_t proto)
{
	struct addrinfo hints, *res = NULL;
	coap_address_t a;
	char ps[8];

	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(addr, ps, &hints, &res) != 0 || res == NULL)
		return KDC_ERR_INVALID_ARG;
	coap_address_init(&a);
	a.size = (socklen_t)res->ai_addrlen;
	memcpy(&a.addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return coap_new_endpoint(ctx, &a, proto) != NULL ? KDC_OK : KDC_ERR_IO;
}

kdc_err
kdcdev_host_rs_serve(struct kdcdev_rs *rs, const char *addr,
    uint16_t coap_port, uint16_t coaps_port,
    const struct kdcdev_host_rs_opts *opts, kdcdev_host_ready_fn ready,
    void *ready_arg, const volatile int *stop, unsigned timeout_ms)
{
	static const struct kdcdev_host_rs_opts none;
	struct rs_srv *s;
	coap_context_t *ctx = NULL;
	char where[128];
	uint64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
	kdc_err r;

	if (opts == NULL)
		opts = &none;
	if (addr == NULL || (coap_port == 0 && coaps_port == 0) ||
	    (opts->rpk_key != NULL && coaps_port == 0))
		return KDC_ERR_INVALID_ARG;
	/* on the heap: the callbacks keep pointers into it, and it holds
	 * keys (wiped at the end) */
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KDC_ERR_NOMEM;
	s->rs = rs;
	s->locked = true;
	if ((r = trl_setup(s, opts)) != KDC_OK)
		goto out;
	r = KDC_ERR_NOMEM;
	if ((ctx = coap_new_context(NULL)) == NULL)
		goto out;
	coap_set_app_data(ctx, s);
	coap_context_set_block_mode(ctx,
	    COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	coap_register_response_handler(ctx, on_response);
	coap_register_nack_handler(ctx, on_nack);
	coap_register_event_handler(ctx, on_event);
	if (coaps_port != 0) {
		s->spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
		s->spsk.validate_id_call_back = on_rs_psk;
		s->spsk.id_call_back_arg = s;
		r = KDC_ERR_TLS;
		if (!coap_context_set_psk2(ctx, &s->spsk))
			goto out;
		if ((r = rpk_setup(s, ctx, opts)) != KDC_OK)
			goto out;
	}
	if ((r = add_res(ctx, s, "authz-info", on_authz_info, false)) !=
	    KDC_OK)
		goto out;
	for (size_t i = 0; i < rs->nrules; i++)
		if ((r = add_res(ctx, s, rs->rules[i].path, on_lock, true)) !=
		    KDC_OK)
			goto out;
	if (coap_port != 0 &&
	    (r = bind_ep(ctx, addr, coap_port, COAP_PROTO_UDP)) != KDC_OK)
		goto out;
	if (coaps_port != 0 &&
	    (r = bind_ep(ctx, addr, coaps_port, COAP_PROTO_DTLS)) != KDC_OK)
		goto out;
	snprintf(where, sizeof(where), "%s coap %u coaps %u", addr,
	    (unsigned)coap_port, (unsigned)coaps_port);
	rs_log(rs, KDCDEV_LOG_INFO, "resource server %s listening on %s%s%s",
	    rs->aud, where, opts->rpk_key != NULL ? " (PSK and RPK)" : "",
	    s->trl.on ? ", observing the TRL" : "");
	if (ready != NULL)
		ready(ready_arg, where);
	r = KDC_OK;
	while (stop == NULL || *stop == 0) {
		uint64_t now = mono_ms();
		uint32_t wait = 200;

		if (deadline != 0 && now >= deadline)
			break;
		if (deadline != 0 && deadline - now < wait)
			wait = (uint32_t)(deadline - now);
		trl_tick(s, ctx, now);
		if (coap_io_process(ctx, wait) < 0) {
			r = KDC_ERR_IO;
			break;
		}
	}
out:
	if (r == KDC_ERR_IO)
		rs_log(rs, KDCDEV_LOG_ERR, "cannot serve on %s ports %u/%u",
		    addr != NULL ? addr : "", (unsigned)coap_port,
		    (unsigned)coaps_port);
	if (s->trl.sess != NULL)
		coap_session_release(s->trl.sess);
	if (ctx != NULL)
		coap_free_context(ctx);
	if (s->pem_pub != NULL) {
		kdc_wipe(s->pem_pub, s->pem_pub_len);
		free(s->pem_pub);
	}
	if (s->pem_key != NULL) {
		kdc_wipe(s->pem_key, s->pem_key_len);
		free(s->pem_key);
	}
	kdc_wipe(s, sizeof(*s));
	free(s);
	return r;
}
