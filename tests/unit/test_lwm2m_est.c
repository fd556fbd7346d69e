/*
 * test_lwm2m_est.c: the EST-coaps routes (lwm2m/est.c) on the real
 * kdc_coap engine over DTLS-PSK on loopback, with a libcoap client in
 * this process: crts in both formats and 4.06, att, sen issuing a
 * certificate for the peer's device, and the audited refusals (wrong
 * Content-Format, malformed CSR, sren over the manufacturer credential).
 * sen and its refusals run twice: enrolled in the handler (piggybacked
 * ACK) and on a worker pool (core/pool.h: an empty ACK, then the answer
 * as a Confirmable separate response); a full pool answers 5.03 with
 * Max-Age.
 */
#include <pthread.h>
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
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base/log.h"
#include "coap/coap.h"
#include "core/audit.h"
#include "core/config.h"
#include "core/core.h"
#include "core/pool.h"
#include "lwm2m/lwm2m.h"
#include "testkdc.h"
#include "testutil.h"

#define MFG_IDENT	"mfg-est"
#define MFG_KEY		"manufacturer-key-est0"
#define DEV		"urn:dev:est"

#define WORKERS		2

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_est		*est;
	struct kdc_pool		*pool;
	size_t			 queue_max;	/* 0: no pool */
	struct {
		struct kdc_store	*st;
		struct kdc_ca		*ca;
		struct kdc_core		*core;
	}			 wk[WORKERS];
	struct kdc_config	 cfg;
	struct kdc_coap		*coap;
	int			 port;
	uint8_t			*csr;
	size_t			 csr_len;
	coap_context_t		*cctx;
	coap_session_t		*cs;
};

/* The last response the client got. */
static struct {
	int		 code;
	int		 cf;
	uint8_t		 body[KDC_CERT_MAX + 512];
	size_t		 len;
	int		 type;		/* COAP_MESSAGE_ACK: piggybacked */
	int		 max_age;	/* -1: none */
} rx;

static const uint8_t wkey[32] = { 0x17 };

static coap_response_t
cl_resp(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
    const coap_mid_t mid)
{
	coap_opt_iterator_t it;
	coap_opt_t *o;
	const uint8_t *data = NULL;
	size_t len = 0;

	(void)s;
	(void)sent;
	(void)mid;
	rx.cf = -1;
	if ((o = coap_check_option(rcvd, COAP_OPTION_CONTENT_FORMAT, &it)) !=
	    NULL)
		rx.cf = (int)coap_decode_var_bytes(coap_opt_value(o),
		    coap_opt_length(o));
	rx.len = 0;
	if (coap_get_data(rcvd, &len, &data) && len <= sizeof(rx.body)) {
		memcpy(rx.body, data, len);
		rx.len = len;
	}
	rx.max_age = -1;
	if ((o = coap_check_option(rcvd, COAP_OPTION_MAXAGE, &it)) != NULL)
		rx.max_age = (int)coap_decode_var_bytes(coap_opt_value(o),
		    coap_opt_length(o));
	rx.type = coap_pdu_get_type(rcvd);
	rx.code = coap_pdu_get_code(rcvd);
	return COAP_RESPONSE_OK;
}

static void
pool_drain(void *arg)
{
	(void)kdc_pool_drain(arg);
}

/* queue_max 0: no pool, enrollments in the handler on an in-memory
 * store; else WORKERS workers, each with its own connection to a store
 * file, at most queue_max jobs waiting. */
static int
setup_with(void **state, size_t queue_max)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kdc_device_spec s;
	coap_dtls_cpsk_t cpsk;
	coap_address_t dst;
	char p[512];

	*state = f;
	kdc_log_set_level(getenv("KDC_TEST_DEBUG") != NULL ? KDC_LOG_DEBUG :
	    KDC_LOG_ERR);
	kdc_config_defaults(&f->cfg);
	f->queue_max = queue_max;
	/* the workers open the same file: a store on disk then */
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_TLS |
	    (queue_max > 0 ? KDC_TEST_DB_FILE : 0));
	snprintf(p, sizeof(p), "%s/kdc.db", f->k.dir);
	assert_int_equal(kdc_coap_new(f->k.core, &f->cfg, &f->coap), KDC_OK);
	f->port = kdc_test_free_udp_port();
	assert_int_equal(kdc_coap_listen(f->coap, "kdc", "127.0.0.1", f->port,
	    KDC_COAP_ACCEPT_MANUFACTURER | KDC_COAP_ACCEPT_OPERATIONAL,
	    f->k.cert_pem, f->k.key_pem), KDC_OK);
	if (queue_max > 0) {
		struct kdc_core *cores[WORKERS];

		for (size_t i = 0; i < WORKERS; i++) {
			assert_int_equal(kdc_store_open(p, 0, &f->wk[i].st),
			    KDC_OK);
			assert_int_equal(kdc_ca_load(f->k.dir, f->k.kr, NULL,
			    &f->wk[i].ca), KDC_OK);
			assert_int_equal(kdc_core_new(f->wk[i].st, f->k.kr,
			    f->wk[i].ca, &f->cfg, &f->wk[i].core), KDC_OK);
			cores[i] = f->wk[i].core;
		}
		assert_int_equal(kdc_pool_new(cores, WORKERS, queue_max,
		    &f->pool), KDC_OK);
		assert_int_equal(kdc_coap_watch(f->coap, kdc_pool_fd(f->pool),
		    pool_drain, f->pool), KDC_OK);
	}
	assert_int_equal(kdc_est_attach(NULL, f->k.core, NULL, NULL, &f->est),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_est_attach(f->coap, f->k.core, NULL, f->pool,
	    &f->est), KDC_OK);

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), DEV);
	snprintf(s.psk_identity, sizeof(s.psk_identity), MFG_IDENT);
	s.type = KDC_TYPE_PSK;
	s.psk_len = strlen(MFG_KEY);
	memcpy(s.psk, MFG_KEY, s.psk_len);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);

	assert_int_equal(kdc_test_sh("cd %s && openssl req -new -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout "
	    "k.pem -outform DER -out csr.der 2>/dev/null", f->k.dir), 0);
	snprintf(p, sizeof(p), "%s/csr.der", f->k.dir);
	assert_non_null(f->csr = kdc_test_read_file(p, &f->csr_len));

	assert_non_null(f->cctx = coap_new_context(NULL));
	coap_context_set_block_mode(f->cctx, COAP_BLOCK_USE_LIBCOAP |
	    COAP_BLOCK_SINGLE_BODY);
	coap_register_response_handler(f->cctx, cl_resp);
	coap_address_init(&dst);
	dst.addr.sin.sin_family = AF_INET;
	dst.addr.sin.sin_port = htons((uint16_t)f->port);
	dst.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.size = sizeof(dst.addr.sin);
	memset(&cpsk, 0, sizeof(cpsk));
	cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
	cpsk.psk_info.identity.s = (const uint8_t *)MFG_IDENT;
	cpsk.psk_info.identity.length = strlen(MFG_IDENT);
	cpsk.psk_info.key.s = (const uint8_t *)MFG_KEY;
	cpsk.psk_info.key.length = strlen(MFG_KEY);
	assert_non_null(f->cs = coap_new_client_session_psk2(f->cctx, NULL,
	    &dst, COAP_PROTO_DTLS, &cpsk));
	return 0;
}

static int
setup(void **state)
{
	return setup_with(state, 0);
}

static int
setup_pool(void **state)
{
	return setup_with(state, 16);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	coap_free_context(f->cctx);
	kdc_pool_free(f->pool);		/* lwm2m.h: pool, engine, est */
	kdc_coap_free(f->coap);
	kdc_est_free(f->est);
	for (size_t i = 0; i < WORKERS; i++) {
		kdc_core_free(f->wk[i].core);
		kdc_ca_free(f->wk[i].ca);
		kdc_store_close(f->wk[i].st);
	}
	kdc_test_kdc_close(&f->k);
	free(f->csr);
	free(f);
	return 0;
}

/* Send method est/<res> (cf, accept: -1 to omit) and pump engine and
 * client until the response arrives (or 5 s). */
static void
est_send(struct fx *f, coap_pdu_code_t method, const char *res, int cf,
    int accept, const uint8_t *body, size_t len)
{
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, method, f->cs);
	uint8_t tok[8], b[4];
	size_t tl;

	assert_non_null(pdu);
	coap_session_new_token(f->cs, &tl, tok);
	coap_add_token(pdu, tl, tok);
	coap_add_option(pdu, COAP_OPTION_URI_PATH, 11,
	    (const uint8_t *)".well-known");
	coap_add_option(pdu, COAP_OPTION_URI_PATH, 3, (const uint8_t *)"est");
	coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(res),
	    (const uint8_t *)res);
	if (cf >= 0)
		coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
		    coap_encode_var_safe(b, sizeof(b), (unsigned)cf), b);
	if (accept >= 0)
		coap_add_option(pdu, COAP_OPTION_ACCEPT,
		    coap_encode_var_safe(b, sizeof(b), (unsigned)accept), b);
	if (len > 0)
		assert_true(coap_add_data_large_request(f->cs, pdu, len, body,
		    NULL, NULL));
	memset(&rx, 0, sizeof(rx));
	assert_int_not_equal(coap_send(f->cs, pdu), COAP_INVALID_MID);
}

/* Pump engine and client until a response arrives (or 5 s). */
static void
wait_response(struct fx *f, const char *what)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rx.code == 0) {
		kdc_coap_run_once(f->coap, 5);
		coap_io_process(f->cctx, 5);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			fail_msg("no response to %s", what);
	}
}

static void
est(struct fx *f, coap_pdu_code_t method, const char *res, int cf,
    int accept, const uint8_t *body, size_t len)
{
	est_send(f, method, res, cf, accept, body, len);
	wait_response(f, res);
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

/* The CA certificate as DER. */
static void
ca_der(struct fx *f, uint8_t **der, size_t *len)
{
	assert_int_equal(kdc_ca_cert_der(f->k.ca, der, len), KDC_OK);
}

static void
test_crts(void **state)
{
	struct fx *f = *state;
	uint8_t *der = NULL, *p7 = NULL;
	size_t der_len = 0, p7_len = 0;
	const uint8_t *ders[1];

	ca_der(f, &der, &der_len);
	est(f, COAP_REQUEST_CODE_GET, "crts", -1, KDC_CF_PKIX_CERT, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_CONTENT);
	assert_int_equal(rx.cf, KDC_CF_PKIX_CERT);
	assert_int_equal(rx.len, der_len);
	assert_memory_equal(rx.body, der, der_len);

	ders[0] = der;
	assert_int_equal(kdc_pkcs7_certs(ders, &der_len, 1, &p7, &p7_len),
	    KDC_OK);
	est(f, COAP_REQUEST_CODE_GET, "crts", -1, -1, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_CONTENT);
	assert_int_equal(rx.cf, KDC_CF_PKCS7_CERTS);
	assert_int_equal(rx.len, p7_len);
	assert_memory_equal(rx.body, p7, p7_len);

	est(f, COAP_REQUEST_CODE_GET, "crts", -1, KDC_CF_CBOR, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_NOT_ACCEPTABLE);
	est(f, COAP_REQUEST_CODE_POST, "crts", -1, -1, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_NOT_ALLOWED);
	/* skg is served (test_lwm2m_est_blocks.c); this CSR names CN=x */
	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_PKCS10, -1, f->csr,
	    f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_FORBIDDEN);
	free(der);
	free(p7);
}

static void
test_att(void **state)
{
	struct fx *f = *state;

	est(f, COAP_REQUEST_CODE_GET, "att", -1, -1, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_CONTENT);
	assert_int_equal(rx.cf, KDC_CF_CSRATTRS);
	assert_true(rx.len > 2 && rx.body[0] == 0x30 &&
	    rx.body[1] == rx.len - 2);
	est(f, COAP_REQUEST_CODE_GET, "att", -1, KDC_CF_PKIX_CERT, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_NOT_ACCEPTABLE);
}

static void
test_sen(void **state)
{
	struct fx *f = *state;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;
	char uri[KDC_DEVID_MAX + 1];
	size_t ulen = sizeof(uri);
	unsigned type = 0;
	struct kdc_cred *cur = NULL;

	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, KDC_CF_PKIX_CERT,
	    f->csr, f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_CHANGED);
	assert_int_equal(rx.cf, KDC_CF_PKIX_CERT);
	/* in the handler: piggybacked; on a worker: a separate response */
	assert_int_equal(rx.type, f->pool == NULL ? COAP_MESSAGE_ACK :
	    COAP_MESSAGE_CON);
	expect_last_audit(f, "cert.issue", KDC_OK);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	d.data = rx.body;
	d.size = (unsigned)rx.len;
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER),
	    0);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name2(crt, 0, uri,
	    &ulen, &type, NULL), GNUTLS_SAN_URI);
	assert_string_equal(uri, DEV);
	gnutls_x509_crt_deinit(crt);
	assert_int_equal(kdc_core_cred_current(f->k.core, DEV, NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	assert_int_equal(cur->type, KDC_TYPE_X509);
	assert_int_equal(cur->cert_len, rx.len);
	assert_memory_equal(cur->cert, rx.body, rx.len);
	kdc_cred_free(cur);

	/* default format: PKCS#7 (RFC 9148 §4.3) */
	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, -1, f->csr,
	    f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_CHANGED);
	assert_int_equal(rx.cf, KDC_CF_PKCS7_CERTS);
}

static void
test_sen_refused(void **state)
{
	struct fx *f = *state;
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };

	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_OCTET_STREAM, -1, f->csr,
	    f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_UNSUPPORTED_CF);
	expect_last_audit(f, "est.enroll", KDC_ERR_UNSUPPORTED);
	est(f, COAP_REQUEST_CODE_POST, "sen", -1, -1, f->csr, f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_UNSUPPORTED_CF);
	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, KDC_CF_CBOR,
	    f->csr, f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_NOT_ACCEPTABLE);
	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, -1, junk,
	    sizeof(junk));
	assert_int_equal(rx.code, KDC_COAP_BAD_REQUEST);
	expect_last_audit(f, "est.enroll", KDC_ERR_MALFORMED);
	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, -1, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_BAD_REQUEST);
	/* re-enroll needs the operational certificate, not this PSK */
	est(f, COAP_REQUEST_CODE_POST, "sren", KDC_CF_PKCS10, -1, f->csr,
	    f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "est.enroll", KDC_ERR_WRONG_TYPE);
}

/* A job that holds its worker until the test lets it go. */
struct blocker {
	struct kdc_pool_job	 pj;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	bool			 running, release, done;
};

static void
blocker_run(struct kdc_pool_job *pj, struct kdc_core *core)
{
	struct blocker *b = (struct blocker *)pj;

	(void)core;
	pthread_mutex_lock(&b->mu);
	b->running = true;
	pthread_cond_broadcast(&b->cv);
	while (!b->release)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

static void
blocker_done(struct kdc_pool_job *pj)
{
	((struct blocker *)pj)->done = true;
}

static void
blocker_init(struct blocker *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->pj.run = blocker_run;
	b->pj.done = blocker_done;
}

/* Hold every worker with a blocker (each running before the next). */
static void
hold_workers(struct fx *f, struct blocker *b)
{
	for (size_t i = 0; i < WORKERS; i++) {
		blocker_init(&b[i]);
		assert_int_equal(kdc_pool_submit(f->pool, &b[i].pj), KDC_OK);
		pthread_mutex_lock(&b[i].mu);
		while (!b[i].running)
			pthread_cond_wait(&b[i].cv, &b[i].mu);
		pthread_mutex_unlock(&b[i].mu);
	}
}

static void
release_blockers(struct blocker *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&b[i].mu);
		b[i].release = true;
		pthread_cond_broadcast(&b[i].cv);
		pthread_mutex_unlock(&b[i].mu);
	}
}

/* After release_blockers(): pump the engine (which drains the pool)
 * until every blocker is done, then free them. */
static void
blockers_destroy(struct fx *f, struct blocker *b, size_t n)
{
	struct timespec t0, t;
	size_t done = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (done < n) {
		done = 0;
		for (size_t i = 0; i < n; i++)
			done += b[i].done;
		if (f->coap != NULL)
			kdc_coap_run_once(f->coap, 2);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			fail_msg("blockers not drained");
	}
	for (size_t i = 0; i < n; i++) {
		pthread_cond_destroy(&b[i].cv);
		pthread_mutex_destroy(&b[i].mu);
	}
}

/* POST sen with the CSR, not waited for; then pump until the engine has
 * deferred it (a job waits in the pool behind the blockers). */
static void
sen_deferred(struct fx *f)
{
	est_send(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, -1, f->csr,
	    f->csr_len);
	for (int i = 0; i < 2000 && kdc_pool_busy(f->pool) < WORKERS + 1;
	    i++) {
		kdc_coap_run_once(f->coap, 2);
		coap_io_process(f->cctx, 2);
	}
	assert_int_equal(kdc_pool_busy(f->pool), WORKERS + 1);
	assert_int_equal(rx.code, 0);	/* only the empty ACK so far */
}

/* Every worker busy and the queue full: sen is answered 5.03 with
 * Max-Age at once (RFC 9148 §4.7), nothing issued, and served again
 * once the workers are free. */
static void
test_sen_pool_full(void **state)
{
	struct fx *f = *state;
	struct blocker b[WORKERS + 1];
	struct kdc_cred *cur = NULL;

	hold_workers(f, b);
	/* queue_max 1: a third blocker waits, the queue is full */
	blocker_init(&b[WORKERS]);
	assert_int_equal(kdc_pool_submit(f->pool, &b[WORKERS].pj), KDC_OK);
	assert_true(kdc_pool_full(f->pool));
	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, KDC_CF_PKIX_CERT,
	    f->csr, f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_UNAVAILABLE);
	assert_int_equal(rx.max_age, 2);
	assert_int_equal(rx.type, COAP_MESSAGE_ACK);	/* at once */
	assert_int_equal(kdc_core_cred_current(f->k.core, DEV, NULL,
	    KDC_CRED_ISSUED, &cur), KDC_ERR_NOT_FOUND);
	release_blockers(b, WORKERS + 1);
	blockers_destroy(f, b, WORKERS + 1);
	assert_int_equal(kdc_pool_busy(f->pool), 0);
	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, KDC_CF_PKIX_CERT,
	    f->csr, f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_CHANGED);
	assert_int_equal(rx.type, COAP_MESSAGE_CON);
}

static int
setup_pool_tiny(void **state)
{
	return setup_with(state, 1);
}

/* One enrollment at a time per session: a second sen while the first is
 * deferred is answered 5.03 with Max-Age at once; the first completes. */
static void
test_sen_one_per_session(void **state)
{
	struct fx *f = *state;
	struct blocker b[WORKERS];

	hold_workers(f, b);
	sen_deferred(f);
	est(f, COAP_REQUEST_CODE_POST, "sen", KDC_CF_PKCS10, KDC_CF_PKIX_CERT,
	    f->csr, f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_UNAVAILABLE);
	assert_int_equal(rx.max_age, 2);
	assert_int_equal(rx.type, COAP_MESSAGE_ACK);
	assert_int_equal(kdc_pool_busy(f->pool), WORKERS + 1);
	release_blockers(b, WORKERS);
	memset(&rx, 0, sizeof(rx));
	wait_response(f, "the deferred sen");	/* its separate 2.04 */
	assert_int_equal(rx.code, KDC_COAP_CHANGED);
	assert_int_equal(rx.type, COAP_MESSAGE_CON);
	blockers_destroy(f, b, WORKERS);
}

/*
 * Shutdown with an enrollment deferred and queued behind busy workers:
 * the empty ACK went out, then the pool is freed (the job answered 5.03
 * unrun, or run if a worker got to it first) and the engine freed with
 * that answer not yet sent. Nothing may leak or be used after free (the
 * sanitizer build runs this) and the store stays consistent.
 */
static void
test_shutdown_deferred(void **state)
{
	struct fx *f = *state;
	struct blocker b[WORKERS];
	int64_t count = 0, bad = 0;
	char why[256];

	hold_workers(f, b);
	sen_deferred(f);
	release_blockers(b, WORKERS);
	/* the serve order (lwm2m.h): pool, engine; teardown frees the rest */
	kdc_pool_free(f->pool);
	f->pool = NULL;
	kdc_coap_free(f->coap);
	f->coap = NULL;
	blockers_destroy(f, b, WORKERS);
	assert_int_equal(kdc_audit_verify(f->k.st, f->k.kr, &count, &bad, why,
	    sizeof(why)), KDC_OK);
	assert_true(count > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_att, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sen_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sen, setup_pool,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sen_refused, setup_pool,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sen_pool_full,
		    setup_pool_tiny, teardown),
		cmocka_unit_test_setup_teardown(test_sen_one_per_session,
		    setup_pool, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_deferred,
		    setup_pool, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
