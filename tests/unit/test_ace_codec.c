/*
 * test_ace_codec.c: the AS's CBOR codec (src/ace/codec.c) against the
 * RFC 9200/9201/9202 payloads (the bytes of shared/vectors' rfc920x.json,
 * copied below), every request truncated at every byte, each refusal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ace/ace.h"
#include "crypto/crypto.h"

static size_t
unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;

	assert_true(n <= cap);
	assert_int_equal(kdc_hex_decode(h, strlen(h), out, &n), KDC_OK);
	return n;
}

/* RFC 9200 Figure 4 (our deterministic encoding of its diagnostic):
 * {24: "myclient", 5: "tempSensor4711"} */
#define FIG4 "a2056e74656d7053656e736f72343731311818686d79636c69656e74"
/* RFC 9200 Figure 5 / RFC 9201 Figure 1: req_cnf with an EC2 COSE_Key */
#define FIG5 "a204a101a501020241112001215820bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff22582020138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e1818686d79636c69656e74"
/* RFC 9200 Figure 6: req_cnf by kid, audience, scope */
#define FIG6 "a404a10348ea483475724cd775056876616c76653432340964726561641818686d79636c69656e74"
/* RFC 9202 Figure 5: {5: "smokeSensor1807"} */
#define R9202_FIG5 "a1056f736d6f6b6553656e736f7231383037"
/* RFC 9200 Figure 9: {11: h'ee08f4757250e375', 33: 2} */
#define FIG9 "a20b48ee08f4757250e375182102"
/* RFC 9202 Figure 8: {30: 1} */
#define R9202_FIG8 "a1181e01"
/* RFC 9201 Figure 2: {1: h'4a5015df686428', 8: {1: {1: 4, 2: h'dfd1aa97',
 * -1: h'849b...7108' (17 bytes)}}} */
#define R9201_FIG2 "a201474a5015df68642808a101a301040244dfd1aa972051849b5786457c1491be3a76dcea6c427108"
#define R9201_FIG2_CNF "a101a301040244dfd1aa972051849b5786457c1491be3a76dcea6c427108"
/* RFC 9200 Figure 7: {1: token, 2: 3600, 8: cnf, 38: 1} */
#define FIG7 "a401464a5015df686402190e1008a101a301040244dfd1aa97204f849b5786457c1491be3a76dcea6c42182601"
#define FIG7_CNF "a101a301040244dfd1aa97204f849b5786457c1491be3a76dcea6c42"
/* RFC 9201 Figure 4: {3: "tempSensor4711", 8: cnf (EC2), 9: "read", 10: true} */
#define R9201_FIG4 "a4036e74656d7053656e736f723437313108a101a501020241112001215820bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff22582020138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e0964726561640af5"
/* RFC 9200 Figure 10: {8: cnf, 9: "read", 10: true, 38: 1} */
#define FIG10 "a408a101a301040244dfd1aa97204f849b5786457c1491be3a76dcea6c420964726561640af5182601"

static void
test_token_requests(void **state)
{
	struct kdc_ace_token_req q;
	uint8_t b[256];
	size_t n;

	(void)state;
	n = unhex(FIG4, b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	assert_int_equal(q.audience_len, 14);
	assert_memory_equal(q.audience, "tempSensor4711", 14);
	assert_int_equal(q.grant_type, KDC_ACE_GRANT_CLIENT_CREDENTIALS);
	assert_int_equal(q.req_cnf.kind, KDC_CNF_NONE);
	assert_int_equal(q.scope_len, 0);

	n = unhex(R9202_FIG5, b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	assert_memory_equal(q.audience, "smokeSensor1807", 15);

	n = unhex(FIG6, b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	assert_memory_equal(q.audience, "valve424", 8);
	assert_int_equal(q.scope_len, 4);
	assert_memory_equal(q.scope, "read", 4);
	assert_int_equal(q.req_cnf.kind, KDC_CNF_KID);
	assert_int_equal(q.req_cnf.kid_len, 8);
	assert_int_equal(q.req_cnf.kid[0], 0xea);
}

static void
test_token_request_cose_key(void **state)
{
	struct kdc_ace_token_req q;
	uint8_t b[256];
	size_t n;

	(void)state;
	n = unhex(FIG5, b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	assert_int_equal(q.req_cnf.kind, KDC_CNF_COSE_KEY);
	assert_int_equal(q.req_cnf.key.kty, KDC_COSE_KTY_EC2);
	assert_int_equal(q.req_cnf.key.crv, KDC_COSE_CRV_P256);
	assert_int_equal(q.req_cnf.key.x_len, 32);
	assert_int_equal(q.req_cnf.key.y_len, 32);
	assert_int_equal(q.req_cnf.key.x[0], 0xba);
	assert_int_equal(q.req_cnf.key.kid_len, 1);
}

/* Every proper prefix of a request fails, cleanly. */
static void
test_truncations(void **state)
{
	const char *v[] = { FIG4, FIG5, FIG6, R9202_FIG5 };
	struct kdc_ace_token_req q;
	const uint8_t *tok;
	uint8_t b[256];
	size_t n, tl;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = unhex(v[i], b, sizeof(b));
		for (size_t k = 0; k < n; k++)
			assert_int_not_equal(kdc_ace_token_req_parse(b, k, &q),
			    KDC_OK);
	}
	n = unhex(FIG9, b, sizeof(b));
	assert_int_equal(kdc_ace_introspect_req_parse(b, n, &tok, &tl), KDC_OK);
	assert_int_equal(tl, 8);
	assert_int_equal(tok[0], 0xee);
	for (size_t k = 0; k < n; k++)
		assert_int_not_equal(kdc_ace_introspect_req_parse(b, k, &tok,
		    &tl), KDC_OK);
}

static void
test_refusals(void **state)
{
	struct kdc_ace_token_req q;
	const uint8_t *tok;
	uint8_t b[256];
	size_t n, tl;

	(void)state;
	/* duplicate audience */
	n = unhex("a205617805617a", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_ERR_MALFORMED);
	/* a binary (AIF) scope */
	n = unhex("a2056178094101", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q),
	    KDC_ERR_UNSUPPORTED);
	/* audience as bytes */
	n = unhex("a1054178", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_ERR_MALFORMED);
	/* text that is not UTF-8 */
	n = unhex("a10561ff", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_ERR_MALFORMED);
	/* a map announcing more entries than we read (no allocation by the
	 * count: refused before any entry) */
	n = unhex("b90fff", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_ERR_TOO_LARGE);
	/* indefinite-length map */
	n = unhex("bf056178ff", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_ERR_MALFORMED);
	/* trailing bytes */
	n = unhex("a105617800", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_ERR_TRAILING);
	/* not a map */
	n = unhex("8105", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_ERR_MALFORMED);
	/* req_cnf with two members */
	n = unhex("a104a2034101034102", b, sizeof(b));
	assert_int_not_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	/* ace_profile null asks; 2 (coap_oscore) is another profile */
	n = unhex("a11826f6", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	assert_true(q.profile_asked);
	assert_false(q.profile_other);
	n = unhex("a1182602", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	assert_true(q.profile_other);
	/* grant_type refresh_token with its token */
	n = unhex("a2182103182542abcd", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	assert_int_equal(q.grant_type, KDC_ACE_GRANT_REFRESH_TOKEN);
	assert_int_equal(q.refresh_len, 2);
	/* an unknown parameter is skipped, nested */
	n = unhex("a2056178186382a10101f6", b, sizeof(b));
	assert_int_equal(kdc_ace_token_req_parse(b, n, &q), KDC_OK);
	/* introspection without a token */
	n = unhex("a1182102", b, sizeof(b));
	assert_int_equal(kdc_ace_introspect_req_parse(b, n, &tok, &tl),
	    KDC_ERR_MALFORMED);
}

static void
test_encodings(void **state)
{
	static struct kdc_ace_token_resp tr;
	struct kdc_ace_introspection in;
	uint8_t want[256], got[2048];
	size_t wn, gn;

	(void)state;
	/* RFC 9202 Figure 8 */
	wn = unhex(R9202_FIG8, want, sizeof(want));
	gn = sizeof(got);
	assert_int_equal(kdc_ace_error_encode(KDC_ACE_INVALID_REQUEST, NULL,
	    got, &gn), KDC_OK);
	assert_int_equal(gn, wn);
	assert_memory_equal(got, want, wn);

	/* RFC 9201 Figure 2: access_token and cnf */
	memset(&tr, 0, sizeof(tr));
	tr.access_token_len = unhex("4a5015df686428", tr.access_token,
	    sizeof(tr.access_token));
	tr.cnf_len = unhex(R9201_FIG2_CNF, tr.cnf, sizeof(tr.cnf));
	wn = unhex(R9201_FIG2, want, sizeof(want));
	gn = sizeof(got);
	assert_int_equal(kdc_ace_token_resp_encode(&tr, got, &gn), KDC_OK);
	assert_int_equal(gn, wn);
	assert_memory_equal(got, want, wn);

	/* RFC 9200 Figure 7: with expires_in and ace_profile */
	memset(&tr, 0, sizeof(tr));
	tr.access_token_len = unhex("4a5015df6864", tr.access_token,
	    sizeof(tr.access_token));
	tr.expires_in = 3600;
	tr.cnf_len = unhex(FIG7_CNF, tr.cnf, sizeof(tr.cnf));
	tr.has_profile = true;
	tr.ace_profile = KDC_ACE_PROFILE_COAP_DTLS;
	wn = unhex(FIG7, want, sizeof(want));
	gn = sizeof(got);
	assert_int_equal(kdc_ace_token_resp_encode(&tr, got, &gn), KDC_OK);
	assert_int_equal(gn, wn);
	assert_memory_equal(got, want, wn);

	/* RFC 9201 Figure 4: audience, an EC2 cnf, scope */
	memset(&in, 0, sizeof(in));
	in.active = true;
	snprintf(in.audience, sizeof(in.audience), "tempSensor4711");
	snprintf(in.scope, sizeof(in.scope), "read");
	in.cnf_len = unhex("a101a501020241112001215820bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff22582020138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e",
	    in.cnf, sizeof(in.cnf));
	wn = unhex(R9201_FIG4, want, sizeof(want));
	gn = sizeof(got);
	assert_int_equal(kdc_ace_introspection_encode(&in, got, &gn), KDC_OK);
	assert_int_equal(gn, wn);
	assert_memory_equal(got, want, wn);

	/* RFC 9200 Figure 10 */
	memset(&in, 0, sizeof(in));
	in.active = true;
	snprintf(in.scope, sizeof(in.scope), "read");
	in.ace_profile = 1;
	in.cnf_len = unhex("a101a301040244dfd1aa97204f849b5786457c1491be3a76dcea6c42",
	    in.cnf, sizeof(in.cnf));
	wn = unhex(FIG10, want, sizeof(want));
	gn = sizeof(got);
	assert_int_equal(kdc_ace_introspection_encode(&in, got, &gn), KDC_OK);
	assert_int_equal(gn, wn);
	assert_memory_equal(got, want, wn);

	/* inactive: {10: false} */
	memset(&in, 0, sizeof(in));
	gn = sizeof(got);
	assert_int_equal(kdc_ace_introspection_encode(&in, got, &gn), KDC_OK);
	assert_int_equal(gn, 3);
	assert_memory_equal(got, "\xa1\x0a\xf4", 3);

	/* an answer that does not fit is TOO_LARGE, never cut */
	gn = 2;
	assert_int_equal(kdc_ace_error_encode(1, "x", got, &gn),
	    KDC_ERR_TOO_LARGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_requests),
		cmocka_unit_test(test_token_request_cose_key),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_encodings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
