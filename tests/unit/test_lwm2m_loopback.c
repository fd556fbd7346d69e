/*
 * test_lwm2m_loopback.c: the LwM2M face on the real kdc_coap engine over
 * DTLS-PSK on loopback, with a small scripted LwM2M client built on
 * libcoap's client API in this process: a whole bootstrap, registration
 * with the credential it wrote, refusal of the manufacturer credential
 * at the LwM2M Server, and a client that goes silent mid-sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <coap3/coap.h>

#include "base/log.h"
#include "coap/coap.h"
#include "core/audit.h"
#include "core/config.h"
#include "core/core.h"
#include "core/lwm2m_reg.h"
#include "lwm2m/codec.h"
#include "lwm2m/lwm2m.h"
#include "testkdc.h"
#include "testutil.h"

#define MFG_IDENT	"mfg-a"
#define MFG_KEY		"manufacturer-key-0123"
#define DEV		"urn:dev:a"

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_config	 cfg;
	struct kdc_coap		*coap;
	struct kdc_lwm2m	*lw;
	int			 port_kdc, port_lwm2m;
};

/* What the scripted client saw and keeps (one client at a time). */
static struct {
	char		 log[1024];	/* "GET /;DELETE /0;..." */
	int		 silent_on_put1;	/* stop answering at PUT /1/x */
	int		 deaf;			/* stop reading at all */
	int		 finished;
	uint8_t		 sec[KDC_COAP_BODY_MAX];
	size_t		 sec_len;
	int		 got;			/* response code to our request */
	char		 location[64];
} cl;

static const uint8_t wkey[32] = { 0x42 };
/* the client's context, freed by teardown if an assertion skipped it */
static coap_context_t *cl_ctx;

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kdc_device_spec s;
	struct kdc_lwm2m_opts o;
	char uri[64];

	kdc_log_set_level(getenv("KDC_TEST_DEBUG") != NULL ? KDC_LOG_DEBUG :
	    KDC_LOG_ERR);
	kdc_config_defaults(&f->cfg);
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_TLS);
	assert_int_equal(kdc_coap_new(f->k.core, &f->cfg, &f->coap), KDC_OK);
	/* short timers: a silent client fails its bootstrap in ~1 s */
	kdc_coap_set_timers(f->coap, 300, 1, 1500);
	f->port_kdc = kdc_test_free_udp_port();
	f->port_lwm2m = kdc_test_free_udp_port();
	assert_int_equal(kdc_coap_listen(f->coap, "kdc", "127.0.0.1",
	    f->port_kdc, KDC_COAP_ACCEPT_MANUFACTURER |
	    KDC_COAP_ACCEPT_OPERATIONAL, f->k.cert_pem, f->k.key_pem), KDC_OK);
	assert_int_equal(kdc_coap_listen(f->coap, "lwm2m", "127.0.0.1",
	    f->port_lwm2m, KDC_COAP_ACCEPT_OPERATIONAL, f->k.cert_pem,
	    f->k.key_pem), KDC_OK);
	snprintf(uri, sizeof(uri), "coaps://127.0.0.1:%d", f->port_lwm2m);
	memset(&o, 0, sizeof(o));
	o.server_uri = uri;
	o.lifetime = 300;
	assert_int_equal(kdc_lwm2m_attach(f->coap, f->k.core, &o, &f->lw),
	    KDC_OK);

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), DEV);
	snprintf(s.psk_identity, sizeof(s.psk_identity), MFG_IDENT);
	s.type = KDC_TYPE_PSK;
	s.psk_len = strlen(MFG_KEY);
	memcpy(s.psk, MFG_KEY, s.psk_len);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	memset(&cl, 0, sizeof(cl));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (cl_ctx != NULL)
		coap_free_context(cl_ctx);	/* its sessions too */
	cl_ctx = NULL;
	kdc_coap_free(f->coap);
	kdc_lwm2m_free(f->lw);
	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
}

/* ---- the scripted LwM2M client ------------------------------------------ */

static void
cl_log(const char *what, const coap_string_t *path)
{
	size_t n = strlen(cl.log);

	snprintf(cl.log + n, sizeof(cl.log) - n, "%s /%.*s;", what,
	    path != NULL ? (int)path->length : 0,
	    path != NULL ? (const char *)path->s : "");
}

static void
cl_handler(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp)
{
	static const char links[] = "</>;lwm2m=1.1,</0/0>,</1>;ver=1.1,"
	    "</3/0>";
	coap_string_t *path = coap_get_uri_path(req);
	coap_pdu_code_t code = coap_pdu_get_code(req);
	unsigned char buf[4];
	const uint8_t *data = NULL;
	size_t len = 0;

	(void)r;
	(void)s;
	(void)q;
	(void)coap_get_data(req, &len, &data);
	switch (code) {
	case COAP_REQUEST_CODE_GET:
		cl_log("GET", path);
		coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
		    coap_encode_var_safe(buf, sizeof(buf), 40), buf);
		coap_add_data(resp, sizeof(links) - 1,
		    (const uint8_t *)links);
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
		break;
	case COAP_REQUEST_CODE_DELETE:
		cl_log("DELETE", path);
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_DELETED);
		break;
	case COAP_REQUEST_CODE_PUT:
		cl_log("PUT", path);
		if (path != NULL && path->length > 0 && path->s[0] == '1' &&
		    cl.silent_on_put1) {
			cl.deaf = 1;	/* from now on we read nothing */
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
			break;
		}
		if (path != NULL && path->length > 0 && path->s[0] == '0' &&
		    len <= sizeof(cl.sec)) {
			memcpy(cl.sec, data, len);
			cl.sec_len = len;
		}
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
		break;
	case COAP_REQUEST_CODE_POST:
		cl_log("POST", path);
		cl.finished = 1;
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
		break;
	default:
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_ALLOWED);
	}
	coap_delete_string(path);
}

static coap_response_t
cl_resp(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
    const coap_mid_t mid)
{
	coap_opt_iterator_t it;
	coap_opt_t *opt;
	size_t n = 0;

	(void)s;
	(void)sent;
	(void)mid;
	cl.got = coap_pdu_get_code(rcvd);
	cl.location[0] = '\0';
	coap_option_iterator_init(rcvd, &it, COAP_OPT_ALL);
	while ((opt = coap_option_next(&it)) != NULL) {
		if (it.number != COAP_OPTION_LOCATION_PATH)
			continue;
		n += (size_t)snprintf(cl.location + n, sizeof(cl.location) - n,
		    "%s%.*s", n > 0 ? "/" : "", (int)coap_opt_length(opt),
		    (const char *)coap_opt_value(opt));
		if (n >= sizeof(cl.location))
			break;
	}
	return COAP_RESPONSE_OK;
}

static coap_context_t *
cl_context(void)
{
	coap_context_t *cctx;
	coap_resource_t *r;
	static const coap_request_t methods[] = { COAP_REQUEST_GET,
	    COAP_REQUEST_POST, COAP_REQUEST_PUT, COAP_REQUEST_DELETE };

	assert_non_null(cctx = coap_new_context(NULL));
	/* the root (Discover) and everything else through one handler */
	r = coap_resource_init(coap_make_str_const(""), 0);
	coap_register_request_handler(r, COAP_REQUEST_GET, cl_handler);
	coap_add_resource(cctx, r);
	r = coap_resource_init(coap_make_str_const("bs"), 0);
	coap_register_request_handler(r, COAP_REQUEST_POST, cl_handler);
	coap_add_resource(cctx, r);
	r = coap_resource_unknown_init2(cl_handler, 0);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		coap_register_request_handler(r, methods[i], cl_handler);
	coap_add_resource(cctx, r);
	coap_register_response_handler(cctx, cl_resp);
	cl_ctx = cctx;
	return cctx;
}

static coap_session_t *
cl_session(coap_context_t *cctx, int port, const char *ident,
    const uint8_t *key, size_t key_len)
{
	coap_dtls_cpsk_t cpsk;
	coap_address_t dst;

	coap_address_init(&dst);
	dst.addr.sin.sin_family = AF_INET;
	dst.addr.sin.sin_port = htons((uint16_t)port);
	dst.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.size = sizeof(dst.addr.sin);
	memset(&cpsk, 0, sizeof(cpsk));
	cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
	cpsk.psk_info.identity.s = (const uint8_t *)ident;
	cpsk.psk_info.identity.length = strlen(ident);
	cpsk.psk_info.key.s = key;
	cpsk.psk_info.key.length = key_len;
	return coap_new_client_session_psk2(cctx, NULL, &dst, COAP_PROTO_DTLS,
	    &cpsk);
}

/* POST path?queries (NULL-terminated) on cs. */
static void
cl_post(coap_session_t *cs, const char *path, const char *const *queries)
{
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST,
	    cs);
	uint8_t tok[8];
	size_t tl;

	assert_non_null(pdu);
	coap_session_new_token(cs, &tl, tok);
	coap_add_token(pdu, tl, tok);
	for (const char *seg = path, *end; *seg != '\0'; seg = end) {
		size_t n = strcspn(seg, "/");
		coap_add_option(pdu, COAP_OPTION_URI_PATH, n,
		    (const uint8_t *)seg);
		end = seg + n + (seg[n] == '/');
	}
	for (; queries != NULL && *queries != NULL; queries++)
		coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(*queries),
		    (const uint8_t *)*queries);
	cl.got = 0;
	assert_int_not_equal(coap_send(cs, pdu), COAP_INVALID_MID);
}

/* Run engine and client, one thread, until *until or ms pass. */
static void
pump(struct fx *f, coap_context_t *cctx, int ms, const int *until)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		kdc_coap_run_once(f->coap, 5);
		if (cctx != NULL && !cl.deaf)
			coap_io_process(cctx, 5);
		if (until != NULL && *until != 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return;
	}
}

/* Pump until the KDC ended the bootstrap session. */
static void
pump_bs_end(struct fx *f, coap_context_t *cctx, int ms)
{
	for (int waited = 0; waited < ms; waited += 50) {
		pump(f, cctx, 50, NULL);
		if (kdc_lwm2m_bs_active(f->lw) == 0)
			return;
	}
}

static void
expect_last_audit(struct fx *f, const char *action, kdc_err outcome)
{
	struct kdc_audit_rec last;

	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	assert_string_equal(last.action, action);
	assert_string_equal(last.outcome,
	    outcome == KDC_OK ? "ok" : kdc_err_name(outcome));
}

/* Resource rid of the security write the client kept. */
static int
sec_res(uint16_t rid, const uint8_t **v, size_t *len)
{
	struct kdc_rd rd;
	struct kdc_tlv t;

	kdc_rd_init(&rd, cl.sec, cl.sec_len);
	while (kdc_tlv_next(&rd, &t) == KDC_OK)
		if (t.id == rid) {
			*v = t.value;
			*len = t.len;
			return 0;
		}
	return -1;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_bootstrap_then_register(void **state)
{
	struct fx *f = *state;
	coap_context_t *cctx = cl_context();
	coap_session_t *cs;
	const uint8_t *idv = NULL, *keyv = NULL;
	size_t idl = 0, keyl = 0;
	char ident[KDC_PSK_IDENTITY_MAX + 1], q[300];
	struct kdc_lwm2m_reg *v = NULL;
	size_t n = 0;

	assert_non_null(cs = cl_session(cctx, f->port_kdc, MFG_IDENT,
	    (const uint8_t *)MFG_KEY, strlen(MFG_KEY)));
	cl_post(cs, "bs", (const char *const[]){ "ep=" DEV, "pct=11542",
	    NULL });
	pump(f, cctx, 5000, &cl.finished);
	if (!cl.finished)
		print_message("client saw: %s\n", cl.log);
	assert_int_equal(cl.got, COAP_RESPONSE_CODE_CHANGED);
	assert_true(cl.finished);
	pump_bs_end(f, cctx, 3000);
	assert_string_equal(cl.log,
	    "GET /;DELETE /0;DELETE /1;PUT /0/1;PUT /1/0;POST /bs;");
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK);
	coap_session_release(cs);

	/* the client uses what it was written */
	assert_int_equal(sec_res(3, &idv, &idl), 0);
	assert_int_equal(sec_res(5, &keyv, &keyl), 0);
	assert_true(idl < sizeof(ident));
	memcpy(ident, idv, idl);
	ident[idl] = '\0';
	assert_non_null(cs = cl_session(cctx, f->port_lwm2m, ident, keyv,
	    keyl));
	snprintf(q, sizeof(q), "ep=%s", DEV);
	cl_post(cs, "rd", (const char *const[]){ q, "lt=300", "lwm2m=1.1",
	    "b=U", NULL });
	pump(f, cctx, 5000, &cl.got);
	assert_int_equal(cl.got, COAP_RESPONSE_CODE_CREATED);
	assert_true(strncmp(cl.location, "rd/", 3) == 0);
	assert_int_equal(kdc_store_lwm2m_reg_list(f->k.st, &v, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].ep, DEV);
	kdc_lwm2m_reg_list_free(v);
	/* Update on the location */
	cl_post(cs, cl.location, NULL);
	pump(f, cctx, 5000, &cl.got);
	assert_int_equal(cl.got, COAP_RESPONSE_CODE_CHANGED);
	coap_session_release(cs);

	/* the manufacturer credential does not get a registration */
	assert_non_null(cs = cl_session(cctx, f->port_lwm2m, MFG_IDENT,
	    (const uint8_t *)MFG_KEY, strlen(MFG_KEY)));
	cl_post(cs, "rd", (const char *const[]){ q, NULL });
	pump(f, cctx, 3000, &cl.got);
	assert_true(cl.got != COAP_RESPONSE_CODE_CREATED);
	coap_session_release(cs);
	coap_free_context(cctx);
	cl_ctx = NULL;
	pump(f, NULL, 100, NULL);
}

/* The client stops answering after Write /0: failed and audited,
 * nothing issued, the written key is not usable. */
static void
test_client_goes_silent(void **state)
{
	struct fx *f = *state;
	coap_context_t *cctx = cl_context();
	coap_session_t *cs;
	struct kdc_cred *cur = NULL;

	cl.silent_on_put1 = 1;
	assert_non_null(cs = cl_session(cctx, f->port_kdc, MFG_IDENT,
	    (const uint8_t *)MFG_KEY, strlen(MFG_KEY)));
	cl_post(cs, "bs", (const char *const[]){ "ep=" DEV, NULL });
	pump(f, cctx, 3000, &cl.deaf);
	assert_true(cl.deaf);
	pump_bs_end(f, NULL, 8000);
	assert_int_equal(kdc_lwm2m_bs_active(f->lw), 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_TIMEOUT);
	assert_int_equal(kdc_core_cred_current(f->k.core, DEV, NULL,
	    KDC_CRED_ISSUED, &cur), KDC_ERR_NOT_FOUND);
	coap_session_release(cs);
	coap_free_context(cctx);
	cl_ctx = NULL;
}

/* ep of another device over this device's DTLS session: 4.03. */
static void
test_ep_mismatch(void **state)
{
	struct fx *f = *state;
	coap_context_t *cctx = cl_context();
	coap_session_t *cs;

	assert_non_null(cs = cl_session(cctx, f->port_kdc, MFG_IDENT,
	    (const uint8_t *)MFG_KEY, strlen(MFG_KEY)));
	cl_post(cs, "bs", (const char *const[]){ "ep=urn:dev:other", NULL });
	pump(f, cctx, 5000, &cl.got);
	assert_int_equal(cl.got, COAP_RESPONSE_CODE_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_DENIED);
	assert_string_equal(cl.log, "");
	coap_session_release(cs);
	coap_free_context(cctx);
	cl_ctx = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bootstrap_then_register,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_goes_silent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ep_mismatch, setup,
		    teardown),
	};

	coap_startup();
	coap_set_log_level(LOG_EMERG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
