/*
 * rs_host.c: the ACE resource server of the host port (kdcdev_host.h,
 * kdcdev_host_rs_serve): libcoap 4.3.1 on GnuTLS, plain CoAP for
 * /authz-info and DTLS-PSK CoAP keyed by the token's kid (RFC 9202). The
 * portable core (ace_rs.c) decides everything; this file moves bytes.
 */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <coap3/coap.h>

#include "base/wipe.h"
#include "kdcdev_host.h"

struct rs_srv {
	struct kdcdev_rs	*rs;
	coap_dtls_spsk_t	 spsk;
	uint8_t			 key[16];	/* the key handed to libcoap */
	coap_bin_const_t	 key_bin;
	bool			 locked;	/* the lock's state */
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

/* The DTLS handshake's PSK for the client's psk_identity (RFC 9202 §3.3). */
static const coap_bin_const_t *
on_rs_psk(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
	struct rs_srv *s = arg;
	uint8_t kid[KDCDEV_RS_KID_MAX];
	size_t key_len = sizeof(s->key), kid_len = sizeof(kid);
	kdc_err r;

	(void)session;
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
	kid_len = session_kid(s, session, kid, sizeof(kid));
	if (kdcdev_rs_access(s->rs, kid, kid_len, method, path, &resp) !=
	    KDC_OK) {
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
    uint16_t coap_port, uint16_t coaps_port, kdcdev_host_ready_fn ready,
    void *ready_arg, const volatile int *stop, unsigned timeout_ms)
{
	struct rs_srv s;
	coap_context_t *ctx = NULL;
	char where[128];
	uint64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
	kdc_err r;

	memset(&s, 0, sizeof(s));
	s.rs = rs;
	s.locked = true;
	if (addr == NULL || (coap_port == 0 && coaps_port == 0))
		return KDC_ERR_INVALID_ARG;
	r = KDC_ERR_NOMEM;
	if ((ctx = coap_new_context(NULL)) == NULL)
		goto out;
	coap_context_set_block_mode(ctx,
	    COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	if (coaps_port != 0) {
		s.spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
		s.spsk.validate_id_call_back = on_rs_psk;
		s.spsk.id_call_back_arg = &s;
		r = KDC_ERR_TLS;
		if (!coap_context_set_psk2(ctx, &s.spsk))
			goto out;
	}
	if ((r = add_res(ctx, &s, "authz-info", on_authz_info, false)) !=
	    KDC_OK)
		goto out;
	for (size_t i = 0; i < rs->nrules; i++)
		if ((r = add_res(ctx, &s, rs->rules[i].path, on_lock, true)) !=
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
	rs_log(rs, KDCDEV_LOG_INFO, "resource server %s listening on %s",
	    rs->aud, where);
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
	if (ctx != NULL)
		coap_free_context(ctx);
	kdc_wipe(&s, sizeof(s));
	return r;
}
