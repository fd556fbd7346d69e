/*
 * test_lwm2m_est_blocks.c: EST-coaps /skg (server-side key generation,
 * RFC 9148 §5.8) on the real kdc_coap engine over DTLS-PSK with a
 * libcoap client in this process: the multipart-core answer decoded with
 * kdc_multipart_decode() (a PKCS#8 P-256 key and the certificate of that
 * key, naming the device), its refusals; and raw Block1 (RFC 7959)
 * requests against the engine: a body over KDC_COAP_BODY_MAX (4.13) and
 * a body with a gap (4.08); a CRL larger than one datagram's worth of
 * buffers, by Block2, and one over KDC_COAP_RESP_MAX (5.00).
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
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base/alloc.h"
#include "base/log.h"
#include "coap/coap.h"
#include "core/audit.h"
#include "core/config.h"
#include "core/core.h"
#include "lwm2m/codec.h"
#include "lwm2m/lwm2m.h"
#include "testkdc.h"
#include "testutil.h"

#define MFG_IDENT	"mfg-est"
#define MFG_KEY		"manufacturer-key-est0"
#define DEV		"urn:dev:est"

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_est		*est;
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
	uint8_t		 body[KDC_COAP_RESP_MAX + 1024];
	size_t		 len;
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
	rx.code = coap_pdu_get_code(rcvd);
	return COAP_RESPONSE_OK;
}

static int
setup_mode(void **state, unsigned block_mode)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kdc_device_spec s;
	coap_dtls_cpsk_t cpsk;
	coap_address_t dst;
	char p[512];

	kdc_log_set_level(getenv("KDC_TEST_DEBUG") != NULL ? KDC_LOG_DEBUG :
	    KDC_LOG_ERR);
	kdc_config_defaults(&f->cfg);
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_TLS);
	assert_int_equal(kdc_coap_new(f->k.core, &f->cfg, &f->coap), KDC_OK);
	f->port = kdc_test_free_udp_port();
	assert_int_equal(kdc_coap_listen(f->coap, "kdc", "127.0.0.1", f->port,
	    KDC_COAP_ACCEPT_MANUFACTURER | KDC_COAP_ACCEPT_OPERATIONAL,
	    f->k.cert_pem, f->k.key_pem), KDC_OK);
	assert_int_equal(kdc_est_attach(NULL, f->k.core, NULL, NULL, &f->est),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_est_attach(f->coap, f->k.core, NULL, NULL,
	    &f->est), KDC_OK);

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), DEV);
	snprintf(s.psk_identity, sizeof(s.psk_identity), MFG_IDENT);
	s.type = KDC_TYPE_PSK;
	s.psk_len = strlen(MFG_KEY);
	memcpy(s.psk, MFG_KEY, s.psk_len);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);

	assert_int_equal(kdc_test_sh("cd %s && openssl req -new -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" DEV " -keyout "
	    "k.pem -outform DER -out csr.der 2>/dev/null", f->k.dir), 0);
	snprintf(p, sizeof(p), "%s/csr.der", f->k.dir);
	assert_non_null(f->csr = kdc_test_read_file(p, &f->csr_len));

	assert_non_null(f->cctx = coap_new_context(NULL));
	coap_context_set_block_mode(f->cctx, (uint8_t)block_mode);
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
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	coap_free_context(f->cctx);
	kdc_coap_free(f->coap);
	kdc_est_free(f->est);
	kdc_test_kdc_close(&f->k);
	free(f->csr);
	free(f);
	return 0;
}

/* Send method est/<res> (cf, accept: -1 to omit) and pump engine and
 * client until the response arrives (or 5 s). */
static void
est(struct fx *f, coap_pdu_code_t method, const char *res, int cf,
    int accept, const uint8_t *body, size_t len)
{
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, method, f->cs);
	uint8_t tok[8], b[4];
	size_t tl;
	struct timespec t0, t;

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
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rx.code == 0) {
		kdc_coap_run_once(f->coap, 5);
		coap_io_process(f->cctx, 5);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			fail_msg("no response to %s", res);
	}
}

static int
setup(void **state)
{
	return setup_mode(state, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
}

/* The client sees every PDU as it comes (2.31 Continue included). */
static int
setup_raw(void **state)
{
	return setup_mode(state, 0);
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

struct parts {
	size_t		 n;
	int		 cf[4];
	const uint8_t	*p[4];
	size_t		 len[4];
};

static kdc_err
on_part(void *arg, int cf, const uint8_t *part, size_t part_len)
{
	struct parts *ps = arg;

	if (ps->n == 4)
		return KDC_ERR_TOO_LARGE;
	ps->cf[ps->n] = cf;
	ps->p[ps->n] = part;
	ps->len[ps->n] = part_len;
	ps->n++;
	return KDC_OK;
}

static void
test_skg(void **state)
{
	struct fx *f = *state;
	struct parts ps;
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;
	char uri[KDC_DEVID_MAX + 1];
	size_t ulen = sizeof(uri);
	unsigned type = 0, bits = 0;
	uint8_t kid[64], cid[64];
	size_t kid_len = sizeof(kid), cid_len = sizeof(cid);
	struct kdc_cred *cur = NULL;
	long live;

	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_PKCS10, -1, f->csr,
	    f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_CHANGED);
	assert_int_equal(rx.cf, KDC_CF_MULTIPART_CORE);
	expect_last_audit(f, "cert.issue", KDC_OK);
	print_message("skg response: %zu bytes\n", rx.len);

	memset(&ps, 0, sizeof(ps));
	assert_int_equal(kdc_multipart_decode(rx.body, rx.len, on_part, &ps),
	    KDC_OK);
	assert_int_equal(ps.n, 2);
	assert_int_equal(ps.cf[0], KDC_CF_PKCS8);
	assert_int_equal(ps.cf[1], KDC_CF_PKIX_CERT);

	/* a P-256 private key, unencrypted PKCS#8 ... */
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	d.data = (unsigned char *)(uintptr_t)ps.p[0];
	d.size = (unsigned)ps.len[0];
	assert_int_equal(gnutls_x509_privkey_import_pkcs8(key, &d,
	    GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN), 0);
	assert_int_equal(gnutls_x509_privkey_get_pk_algorithm2(key, &bits),
	    GNUTLS_PK_ECDSA);
	assert_int_equal(gnutls_x509_privkey_get_key_id(key, 0, kid,
	    &kid_len), 0);
	/* ... and the certificate of that key, naming the device */
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	d.data = (unsigned char *)(uintptr_t)ps.p[1];
	d.size = (unsigned)ps.len[1];
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER),
	    0);
	assert_int_equal(gnutls_x509_crt_get_key_id(crt, 0, cid, &cid_len), 0);
	assert_int_equal(kid_len, cid_len);
	assert_memory_equal(kid, cid, kid_len);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name2(crt, 0, uri,
	    &ulen, &type, NULL), GNUTLS_SAN_URI);
	assert_string_equal(uri, DEV);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);

	/* the device's current credential, with a key that is not the CSR's */
	assert_int_equal(kdc_core_cred_current(f->k.core, DEV, NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	assert_int_equal(cur->type, KDC_TYPE_X509);
	assert_int_equal(cur->cert_len, ps.len[1]);
	assert_memory_equal(cur->cert, ps.p[1], ps.len[1]);
	kdc_cred_free(cur);

	/*
	 * Accept 62 is fine too. The answer holds a private key: once it is
	 * sent nothing of it is left on the heap (coap.h: responses own
	 * their payload), not even until the next request comes.
	 */
	est(f, COAP_REQUEST_CODE_GET, "att", -1, -1, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_CONTENT);
	live = kdc_alloc_live();
	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_PKCS10,
	    KDC_CF_MULTIPART_CORE, f->csr, f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_CHANGED);
	assert_int_equal(rx.cf, KDC_CF_MULTIPART_CORE);
	print_message("kdc allocations live: %ld before, %ld after\n", live,
	    kdc_alloc_live());
	assert_int_equal(kdc_alloc_live(), live);
}

static void
test_skg_refused(void **state)
{
	struct fx *f = *state;
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	uint8_t *other, *bad;
	size_t other_len;
	char p[512];

	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_OCTET_STREAM, -1, f->csr,
	    f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_UNSUPPORTED_CF);
	expect_last_audit(f, "est.enroll", KDC_ERR_UNSUPPORTED);
	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_PKCS10, KDC_CF_PKIX_CERT,
	    f->csr, f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_NOT_ACCEPTABLE);
	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_PKCS10, -1, junk,
	    sizeof(junk));
	assert_int_equal(rx.code, KDC_COAP_BAD_REQUEST);
	expect_last_audit(f, "est.enroll", KDC_ERR_MALFORMED);
	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_PKCS10, -1, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_BAD_REQUEST);

	/* the CSR's signature broken */
	assert_non_null(bad = malloc(f->csr_len));
	memcpy(bad, f->csr, f->csr_len);
	bad[f->csr_len - 3] ^= 0x01;
	bad[f->csr_len - 2] ^= 0x01;
	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_PKCS10, -1, bad,
	    f->csr_len);
	assert_int_equal(rx.code, KDC_COAP_BAD_REQUEST);
	expect_last_audit(f, "est.enroll", KDC_ERR_BAD_SIGNATURE);
	free(bad);

	/* a CSR naming another device */
	assert_int_equal(kdc_test_sh("cd %s && openssl req -new -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=urn:dev:other "
	    "-keyout k2.pem -outform DER -out other.der 2>/dev/null", f->k.dir),
	    0);
	snprintf(p, sizeof(p), "%s/other.der", f->k.dir);
	assert_non_null(other = kdc_test_read_file(p, &other_len));
	est(f, COAP_REQUEST_CODE_POST, "skg", KDC_CF_PKCS10, -1, other,
	    other_len);
	assert_int_equal(rx.code, KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "est.enroll", KDC_ERR_DENIED);
	free(other);
	/* nothing was issued by any of these */
	{
		struct kdc_cred *cur = NULL;

		assert_int_equal(kdc_core_cred_current(f->k.core, DEV, NULL,
		    KDC_CRED_ISSUED, &cur), KDC_ERR_NOT_FOUND);
		kdc_cred_free(cur);
	}
}

/* ---- raw Block1 ----------------------------------------------------------- */

/*
 * POST est/sen carrying block num of body (block size 16 << szx, more
 * flag), with token tok, and Size1 (the whole length) if size1; pump
 * until the response; its code, 0 if none came within 2 s.
 */
static int
raw_block(struct fx *f, const uint8_t *tok, size_t tl, unsigned num,
    int more, unsigned szx, const uint8_t *body, size_t len, int size1)
{
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON,
	    COAP_REQUEST_CODE_POST, f->cs);
	size_t bs = (size_t)16 << szx, off = (size_t)num * bs, n;
	uint8_t b[4];
	struct timespec t0, t;

	assert_non_null(pdu);
	assert_true(off < len);
	n = len - off < bs ? len - off : bs;
	coap_add_token(pdu, tl, tok);
	coap_add_option(pdu, COAP_OPTION_URI_PATH, 11,
	    (const uint8_t *)".well-known");
	coap_add_option(pdu, COAP_OPTION_URI_PATH, 3, (const uint8_t *)"est");
	coap_add_option(pdu, COAP_OPTION_URI_PATH, 3, (const uint8_t *)"sen");
	coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
	    coap_encode_var_safe(b, sizeof(b), KDC_CF_PKCS10), b);
	coap_add_option(pdu, COAP_OPTION_BLOCK1,
	    coap_encode_var_safe(b, sizeof(b),
	    (num << 4) | (more ? 8u : 0u) | szx), b);
	if (size1)
		coap_add_option(pdu, COAP_OPTION_SIZE1,
		    coap_encode_var_safe(b, sizeof(b), (unsigned)len), b);
	assert_true(coap_add_data(pdu, n, body + off));
	memset(&rx, 0, sizeof(rx));
	assert_int_not_equal(coap_send(f->cs, pdu), COAP_INVALID_MID);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rx.code == 0) {
		kdc_coap_run_once(f->coap, 5);
		coap_io_process(f->cctx, 5);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 2)
			return 0;	/* no response (an empty ACK) */
	}
	return rx.code;
}

/* A body over KDC_COAP_BODY_MAX in 512-byte blocks: 2.31 for each block
 * but the last (or an early 4.13), 4.13 at the end; nothing audited as
 * an enrollment. */
static void
test_block1_too_large(void **state)
{
	struct fx *f = *state;
	static uint8_t body[KDC_COAP_BODY_MAX + 512];
	const uint8_t tok[4] = { 0xb1, 0x0c, 0x00, 0x01 };
	unsigned nblocks = (unsigned)(sizeof(body) / 512);
	int code = 0;
	struct kdc_audit_rec last;

	memset(body, 0x30, sizeof(body));
	for (unsigned i = 0; i < nblocks; i++) {
		code = raw_block(f, tok, sizeof(tok), i, i + 1 < nblocks, 5,
		    body, sizeof(body), 1);
		if (code != COAP_RESPONSE_CODE(231))
			break;
	}
	assert_int_equal(code, KDC_COAP_TOO_LARGE);
	if (kdc_store_audit_last(f->k.st, &last) == KDC_OK)
		assert_string_not_equal(last.action, "est.enroll");

	/* the engine still serves this session: the CSR in 64-byte blocks */
	{
		const uint8_t tok2[4] = { 0xb1, 0x0c, 0x00, 0x02 };
		unsigned n = (unsigned)((f->csr_len + 63) / 64);

		for (unsigned i = 0; i < n; i++) {
			code = raw_block(f, tok2, sizeof(tok2), i, i + 1 < n,
			    2, f->csr, f->csr_len, 1);
			if (i + 1 < n)
				assert_int_equal(code, COAP_RESPONSE_CODE(231));
		}
		assert_int_equal(code, KDC_COAP_CHANGED);
		expect_last_audit(f, "cert.issue", KDC_OK);
	}
}

/*
 * Block 0, then block 2: a body with a gap. The engine joins a body in
 * order only (xl_srv.c): the out-of-order block gets 4.08 Request Entity
 * Incomplete (RFC 7959 §2.9.2) and the partial body is dropped. What
 * matters too: the handler never sees the partial body (nothing enrolled,
 * nothing audited) and the session goes on serving a whole body.
 */
static void
test_block1_gap(void **state)
{
	struct fx *f = *state;
	const uint8_t tok[4] = { 0xb1, 0x0c, 0x00, 0x03 };
	const uint8_t tok2[4] = { 0xb1, 0x0c, 0x00, 0x04 };
	unsigned n = (unsigned)((f->csr_len + 63) / 64);
	struct kdc_audit_rec before, after;
	struct kdc_cred *cur = NULL;
	int code;

	assert_true(n >= 4);
	memset(&before, 0, sizeof(before));
	(void)kdc_store_audit_last(f->k.st, &before);
	code = raw_block(f, tok, sizeof(tok), 0, 1, 2, f->csr, f->csr_len,
	    1);
	assert_int_equal(code, COAP_RESPONSE_CODE(231));
	code = raw_block(f, tok, sizeof(tok), 2, 1, 2, f->csr, f->csr_len,
	    1);
	assert_int_equal(code, COAP_RESPONSE_CODE(408));
	/* the rest of that body finds no transfer under way: 4.08 too */
	code = raw_block(f, tok, sizeof(tok), n - 1, 0, 2, f->csr,
	    f->csr_len, 1);
	assert_int_equal(code, COAP_RESPONSE_CODE(408));
	memset(&after, 0, sizeof(after));
	(void)kdc_store_audit_last(f->k.st, &after);
	assert_int_equal(after.seq, before.seq);
	assert_int_equal(kdc_core_cred_current(f->k.core, DEV, NULL,
	    KDC_CRED_ISSUED, &cur), KDC_ERR_NOT_FOUND);
	kdc_cred_free(cur);

	/* the same body whole, on a new token: enrolled */
	for (unsigned i = 0; i < n; i++)
		code = raw_block(f, tok2, sizeof(tok2), i, i + 1 < n, 2,
		    f->csr, f->csr_len, 1);
	assert_int_equal(code, KDC_COAP_CHANGED);
	expect_last_audit(f, "cert.issue", KDC_OK);
}

/*
 * Block1 without Size1 (RFC 7959 makes Size1 optional): the engine joins
 * the body all the same, bounded by the route's limit as it grows
 * (xl_srv.c), and the handler sees it whole. A block other than 0 with no transfer
 * under way: 4.08, and no handler call.
 */
static void
test_block1_no_size1(void **state)
{
	struct fx *f = *state;
	const uint8_t tok[4] = { 0xb1, 0x0c, 0x00, 0x05 };
	const uint8_t tok2[4] = { 0xb1, 0x0c, 0x00, 0x06 };
	const uint8_t tok3[4] = { 0xb1, 0x0c, 0x00, 0x07 };
	struct kdc_audit_rec before, after;
	int code;

	/* a lone block 0 without More is a whole body (first: libcoap keeps
	 * an abandoned transfer per resource for a while, and a later block
	 * 0 of another token would join it) */
	code = raw_block(f, tok3, sizeof(tok3), 0, 0, 6, f->csr, f->csr_len,
	    0);
	assert_int_equal(code, KDC_COAP_CHANGED);
	expect_last_audit(f, "cert.issue", KDC_OK);

	memset(&before, 0, sizeof(before));
	(void)kdc_store_audit_last(f->k.st, &before);
	code = raw_block(f, tok2, sizeof(tok2), 2, 1, 2, f->csr, f->csr_len,
	    1);
	assert_int_equal(code, COAP_RESPONSE_CODE(408));
	memset(&after, 0, sizeof(after));
	(void)kdc_store_audit_last(f->k.st, &after);
	assert_int_equal(after.seq, before.seq);

	/* a whole body in blocks, no Size1 anywhere: joined and enrolled */
	for (unsigned i = 0, n = (unsigned)((f->csr_len + 63) / 64); i < n;
	    i++) {
		code = raw_block(f, tok, sizeof(tok), i, i + 1 < n, 2, f->csr,
		    f->csr_len, 0);
		if (i + 1 < n)
			assert_int_equal(code, COAP_RESPONSE_CODE(231));
	}
	assert_int_equal(code, KDC_COAP_CHANGED);
	expect_last_audit(f, "cert.issue", KDC_OK);
}

/* Issue a certificate for DEV from f->csr and revoke it, n times: n
 * entries on the CRL. */
static void
revoke_n(struct fx *f, int n)
{
	for (int i = 0; i < n; i++) {
		uint8_t *cert = NULL;
		size_t cert_len = 0;
		int64_t id = 0;

		assert_int_equal(kdc_core_cert_sign(f->k.core, "test", DEV,
		    NULL, f->csr, f->csr_len, 1, &id, &cert, &cert_len),
		    KDC_OK);
		free(cert);
		assert_int_equal(kdc_core_cred_revoke(f->k.core, "test", id),
		    KDC_OK);
	}
}

/*
 * GET crl with 300 entries (~12 KB, more than the 8 KB the handler once
 * copied into): the whole CRL by Block2, signed by the CA, every entry
 * there. Past KDC_COAP_RESP_MAX: 5.00, and the HTTPS URL in the log.
 */
static void
test_crl_large(void **state)
{
	struct fx *f = *state;
	gnutls_x509_crl_t crl;
	gnutls_x509_crt_t ca;
	gnutls_datum_t d;
	uint8_t *ca_der = NULL, *der = NULL;
	size_t ca_len = 0, len = 0;
	unsigned verify = 1;

	revoke_n(f, 300);
	est(f, COAP_REQUEST_CODE_GET, "crl", -1, -1, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_CONTENT);
	assert_int_equal(rx.cf, KDC_CF_OCTET_STREAM);
	print_message("CRL of 300 entries: %zu bytes\n", rx.len);
	assert_true(rx.len > KDC_CERT_MAX + 256);
	assert_int_equal(gnutls_x509_crl_init(&crl), 0);
	d.data = rx.body;
	d.size = (unsigned)rx.len;
	assert_int_equal(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER),
	    0);
	assert_int_equal(gnutls_x509_crl_get_crt_count(crl), 300);
	assert_int_equal(kdc_ca_cert_der(f->k.ca, &ca_der, &ca_len), KDC_OK);
	assert_int_equal(gnutls_x509_crt_init(&ca), 0);
	d.data = ca_der;
	d.size = (unsigned)ca_len;
	assert_int_equal(gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_DER),
	    0);
	assert_int_equal(gnutls_x509_crl_verify(crl, &ca, 1, 0, &verify), 0);
	assert_int_equal(verify, 0);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crl_deinit(crl);
	free(ca_der);

	/* grow it past what a CoAP answer may carry */
	while (len <= KDC_COAP_RESP_MAX) {
		revoke_n(f, 100);
		free(der);
		assert_int_equal(kdc_core_crl(f->k.core, &der, &len), KDC_OK);
	}
	free(der);
	est(f, COAP_REQUEST_CODE_GET, "crl", -1, -1, NULL, 0);
	assert_int_equal(rx.code, KDC_COAP_INTERNAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_skg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_skg_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_block1_too_large,
		    setup_raw, teardown),
		cmocka_unit_test_setup_teardown(test_block1_gap, setup_raw,
		    teardown),
		cmocka_unit_test_setup_teardown(test_block1_no_size1,
		    setup_raw, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
