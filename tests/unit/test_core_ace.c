/*
 * test_core_ace.c: core's ACE Authorization Server (core/ace.h) over a
 * real SQLite store in a temp dir (testkdc.h) and a real AS key: every
 * token decoded with the COSE API and every claim checked, every refusal
 * with its RFC 9200 error, its kdc_err and its audit record, refresh
 * tokens (rotation), introspection, the TRL and its hash (computed here
 * independently with GnuTLS), and the administration calls. Tokens a
 * resource server could forge with the key it shares with the AS, and
 * rows altered under the core (sqlite3 on the store's file), reach the
 * checks that honest use cannot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sqlite3.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "core/ace.h"
#include "core/config.h"
#include "core/core.h"
#include "cose/cose.h"
#include "store/ace.h"
#include "testkdc.h"
#include "testutil.h"

#define LIFETIME	1200
#define RLIFETIME	86400

struct fx {
	struct kdc_test_kdc	 k;
	struct kdc_config	 cfg;
	struct kdc_core		*core;
	struct kdc_principal	 c1;		/* PSK client, grant lock1 "open close" */
	struct kdc_principal	 rs1;		/* the RS lock1 (PSK device) */
	struct kdc_principal	 rs2;		/* the RS lock2 */
	uint8_t			*rs2_spki;	/* lock2's public key */
	size_t			 rs2_spki_len;
	sqlite3			*db;		/* a second connection on kdc.db */
};

static const uint8_t wkey[32] = { 0x42, 0xac };
static const uint8_t rskey1[16] = { 0xa1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	11, 12, 13, 14, 15 };
static const uint8_t rskey2[16] = { 0xa2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	11, 12, 13, 14, 15 };
static int64_t fake_now;

static int64_t
clock_fn(void)
{
	return fake_now;
}

/* ---- helpers ------------------------------------------------------------- */

static void
psk_principal(struct fx *f, const char *id, const char *ident, uint8_t fill,
    struct kdc_principal *who)
{
	struct kdc_device_spec s;
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", id);
	snprintf(s.psk_identity, sizeof(s.psk_identity), "%s", ident);
	s.type = KDC_TYPE_PSK;
	s.psk_len = 16;
	memset(s.psk, fill, s.psk_len);
	s.psk[0] = (uint8_t)(fill ^ 0x5a);
	assert_int_equal(kdc_core_device_add(f->core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_auth_psk(f->core, "t", ident, psk, &psk_len,
	    who), KDC_OK);
}

/* A fresh P-256 key: its SPKI (heap, kdc_free) and point. */
static void
p256_key(uint8_t **spki, size_t *spki_len, uint8_t x[32], uint8_t y[32])
{
	uint8_t pkcs8[512];
	size_t pkcs8_len = sizeof(pkcs8);

	assert_int_equal(kdc_keygen_p256(pkcs8, &pkcs8_len, spki, spki_len),
	    KDC_OK);
	memset(pkcs8, 0, sizeof(pkcs8));
	assert_int_equal(kdc_spki_p256_xy(*spki, *spki_len, x, y), KDC_OK);
}

static void
rpk_principal(struct fx *f, const char *id, const uint8_t *spki,
    size_t spki_len, struct kdc_principal *who)
{
	struct kdc_device_spec s;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", id);
	s.type = KDC_TYPE_RPK;
	memcpy(s.spki, spki, spki_len);
	s.spki_len = spki_len;
	assert_int_equal(kdc_core_device_add(f->core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_auth_spki(f->core, "t", spki, spki_len,
	    who), KDC_OK);
	assert_int_equal(who->spki_len, spki_len);
}

static void
req_init(struct kdc_ace_token_req *q, const char *aud, const char *scope)
{
	memset(q, 0, sizeof(*q));
	q->grant_type = KDC_ACE_GRANT_CLIENT_CREDENTIALS;
	q->req_cnf.kind = KDC_CNF_NONE;
	if (aud != NULL) {
		q->audience = aud;
		q->audience_len = strlen(aud);
	}
	if (scope != NULL) {
		q->scope = scope;
		q->scope_len = strlen(scope);
	}
}

static void
req_ec2(struct kdc_ace_token_req *q, const uint8_t x[32],
    const uint8_t y[32])
{
	memset(&q->req_cnf, 0, sizeof(q->req_cnf));
	q->req_cnf.kind = KDC_CNF_COSE_KEY;
	q->req_cnf.key.kty = KDC_COSE_KTY_EC2;
	q->req_cnf.key.crv = KDC_COSE_CRV_P256;
	q->req_cnf.key.x = x;
	q->req_cnf.key.x_len = 32;
	q->req_cnf.key.y = y;
	q->req_cnf.key.y_len = 32;
}

static struct kdc_ace_token_resp *
resp_new(void)
{
	struct kdc_ace_token_resp *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static void
resp_free(struct kdc_ace_token_resp *r)
{
	kdc_ace_token_resp_wipe(r);
	free(r);
}

static int64_t
db_count(struct fx *f, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void
db_exec(struct fx *f, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(f->db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err != NULL ? err : "?");
}

/* Do the n bytes of needle occur in any column of any row of table? */
static bool
db_has_bytes(struct fx *f, const char *table, const uint8_t *needle,
    size_t n)
{
	char sql[128];
	sqlite3_stmt *s = NULL;
	bool found = false;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT * FROM %s", table);
	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL),
	    SQLITE_OK);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		for (int i = 0; i < sqlite3_column_count(s); i++) {
			const void *b = sqlite3_column_blob(s, i);
			int len = sqlite3_column_bytes(s, i);

			if (b != NULL && kdc_test_memmem(b, (size_t)len,
			    needle, n))
				found = true;
		}
	assert_int_equal(rc, SQLITE_DONE);
	sqlite3_finalize(s);
	return found;
}

static int64_t
ntokens(struct fx *f)
{
	return db_count(f, "SELECT count(*) FROM ace_tokens");
}

/* The last audit record is action on subject with outcome, and its
 * detail has want (NULL: anything). */
static void
expect_audit(struct fx *f, const char *action, const char *subject,
    kdc_err outcome, const char *want)
{
	struct kdc_audit_rec last;

	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	assert_string_equal(last.action, action);
	assert_string_equal(last.outcome, outcome == KDC_OK ? "ok" :
	    kdc_err_name(outcome));
	if (subject != NULL)
		assert_string_equal(last.subject, subject);
	if (want != NULL && strstr(last.detail, want) == NULL)
		fail_msg("audit detail \"%s\" lacks \"%s\"", last.detail, want);
}

/* A refusal: the RFC 9200 error, the kdc_err, no token, nothing
 * recorded, audited with the reason. */
static void
expect_refused(struct fx *f, const struct kdc_principal *who,
    const struct kdc_ace_token_req *q, int ace_error, kdc_err want,
    const char *why)
{
	struct kdc_ace_token_resp *r = resp_new();
	int64_t before = ntokens(f);
	static const uint8_t zero[sizeof(r->access_token)];
	kdc_err got = kdc_core_ace_token(f->core, "test", who, q, r);

	if (got != want || r->error != ace_error)
		fail_msg("want %s/%d (%s), got %s/%d (%s)", kdc_err_name(want),
		    ace_error, why, kdc_err_name(got), r->error,
		    r->error_description != NULL ? r->error_description : "");
	if (ace_error != 0)	/* a server error (5.00) says nothing */
		assert_non_null(r->error_description);
	assert_int_equal(r->access_token_len, 0);
	assert_memory_equal(r->access_token, zero, sizeof(zero));
	assert_int_equal(r->cnf_len, 0);
	assert_int_equal(r->refresh_len, 0);
	assert_int_equal(ntokens(f), before);
	expect_audit(f, "ace.token", who != NULL && who->dev_id[0] != '\0' ?
	    who->dev_id : "?", want, why);
	resp_free(r);
}

static void
issue(struct fx *f, const struct kdc_principal *who,
    const struct kdc_ace_token_req *q, struct kdc_ace_token_resp *r)
{
	kdc_err e = kdc_core_ace_token(f->core, "test", who, q, r);

	if (e != KDC_OK)
		fail_msg("token refused: %s (%d: %s)", kdc_err_name(e),
		    r->error, r->error_description != NULL ?
		    r->error_description : "");
	assert_int_equal(r->error, 0);
	assert_true(r->access_token_len > 0);
}

/* Decrypt a symmetric token with key into pt and decode its claims. */
static void
sym_open(const struct kdc_ace_token_resp *r, const uint8_t key[16],
    uint8_t *pt, struct kdc_cwt *c)
{
	struct kdc_cose_msg m;
	struct kdc_cose_key k;
	uint8_t work[KDC_COSE_WORK_MAX];
	size_t pt_len = KDC_COSE_MSG_MAX;

	assert_int_equal(kdc_cose_parse(r->access_token, r->access_token_len,
	    0, &m), KDC_OK);
	assert_int_equal(m.type, KDC_COSE_ENCRYPT0);
	assert_true(m.tagged);
	assert_true(m.cwt_tagged);
	assert_int_equal(m.alg, KDC_COSE_ALG_CCM_16_64_128);
	assert_int_equal(m.iv_len, 13);
	memset(&k, 0, sizeof(k));
	k.alg = KDC_COSE_ALG_CCM_16_64_128;
	k.k = key;
	k.k_len = 16;
	assert_int_equal(kdc_cose_encrypt0_decrypt(&m, &k, NULL, 0, pt,
	    &pt_len, work, sizeof(work)), KDC_OK);
	assert_int_equal(kdc_cwt_decode(pt, pt_len, c), KDC_OK);
}

/* The AS public key's point, from kdc_core_ace_as_pubkey()'s SPKI. */
static void
as_point(struct fx *f, uint8_t x[32], uint8_t y[32])
{
	uint8_t spki[128];
	size_t spki_len = sizeof(spki);

	assert_int_equal(kdc_core_ace_as_pubkey(f->core, NULL, NULL, spki,
	    &spki_len), KDC_OK);
	assert_int_equal(spki_len, 91);
	assert_int_equal(kdc_spki_p256_xy(spki, spki_len, x, y), KDC_OK);
}

/* Verify an asymmetric token with the AS key and decode its claims. */
static void
asym_open(struct fx *f, const struct kdc_ace_token_resp *r,
    struct kdc_cose_msg *m, struct kdc_cwt *c)
{
	struct kdc_cose_key k;
	uint8_t work[KDC_COSE_WORK_MAX], x[32], y[32];

	as_point(f, x, y);
	assert_int_equal(kdc_cose_parse(r->access_token, r->access_token_len,
	    0, m), KDC_OK);
	assert_int_equal(m->type, KDC_COSE_SIGN1);
	assert_true(m->cwt_tagged);
	assert_int_equal(m->alg, KDC_COSE_ALG_ES256);
	memset(&k, 0, sizeof(k));
	k.alg = KDC_COSE_ALG_ES256;
	k.x = x;
	k.x_len = 32;
	k.y = y;
	k.y_len = 32;
	assert_int_equal(kdc_cose_sign1_verify(m, &k, NULL, 0, work,
	    sizeof(work)), KDC_OK);
	assert_int_equal(kdc_cwt_decode(m->payload, m->payload_len, c),
	    KDC_OK);
}

/* A {1: COSE_Key} cnf value read back. */
static void
cnf_read(const uint8_t *cnf, size_t len, struct kdc_cose_keyinfo *k)
{
	struct kdc_rd rd;

	assert_true(len > 2);
	assert_int_equal(cnf[0], 0xa1);
	assert_int_equal(cnf[1], 0x01);
	kdc_rd_init(&rd, cnf + 2, len - 2);
	memset(k, 0, sizeof(*k));
	assert_int_equal(kdc_cose_key_read(&rd, k), KDC_OK);
	assert_true(kdc_rd_at_end(&rd));
}

/* An Encrypt0 CWT made with an RS's key (what that RS could forge). */
static size_t
forge(const uint8_t key[16], const char *aud, const uint8_t *cti,
    size_t cti_len, uint8_t *out, size_t cap)
{
	struct kdc_cwt c;
	struct kdc_cose_key k;
	struct kdc_cose_hdr_opts o = { .tag = true, .cwt_tag = true };
	uint8_t claims[512], iv[13] = { 9 };
	size_t claims_len = sizeof(claims), len = cap;

	memset(&c, 0, sizeof(c));
	c.has = KDC_CWT_ISS | KDC_CWT_AUD | KDC_CWT_EXP | KDC_CWT_IAT |
	    KDC_CWT_CTI | KDC_CWT_SCOPE;
	c.iss = "iotkdc";
	c.iss_len = 6;
	c.aud = aud;
	c.aud_len = strlen(aud);
	c.iat = fake_now;
	c.exp = fake_now + 3600;
	c.cti = cti;
	c.cti_len = cti_len;
	c.scope = (const uint8_t *)"open";
	c.scope_len = 4;
	c.scope_text = true;
	assert_int_equal(kdc_cwt_encode(&c, claims, &claims_len), KDC_OK);
	memset(&k, 0, sizeof(k));
	k.alg = KDC_COSE_ALG_CCM_16_64_128;
	k.k = key;
	k.k_len = 16;
	assert_int_equal(kdc_cose_encrypt0_encode(&k, &o, iv, sizeof(iv),
	    claims, claims_len, NULL, 0, out, &len), KDC_OK);
	return len;
}

static bool
introspect_active(struct fx *f, const struct kdc_principal *rs,
    const uint8_t *tok, size_t len)
{
	struct kdc_ace_introspection in;

	assert_int_equal(kdc_core_ace_introspect(f->core, "test", rs, tok, len,
	    &in), KDC_OK);
	if (!in.active) {
		/* inactive says nothing else */
		assert_int_equal(in.cti_len, 0);
		assert_int_equal(in.client[0], '\0');
		assert_int_equal(in.cnf_len, 0);
	}
	return in.active;
}

static void
cti_hex(const uint8_t *cti, char hex[33])
{
	kdc_hex_encode(cti, 16, hex);
}

/* The cti of a symmetric token for lock1 (rskey1). */
static void
sym_cti(const struct kdc_ace_token_resp *r, const uint8_t key[16],
    uint8_t cti[16])
{
	uint8_t pt[KDC_COSE_MSG_MAX];
	struct kdc_cwt c;

	sym_open(r, key, pt, &c);
	assert_int_equal(c.cti_len, 16);
	memcpy(cti, c.cti, 16);
}

/* ---- fixture -------------------------------------------------------------- */

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t x[32], y[32], *spki3 = NULL;
	size_t spki3_len = 0;
	char db[600];

	kdc_config_defaults(&f->cfg);
	f->cfg.ace_token_lifetime = LIFETIME;
	f->cfg.ace_refresh_lifetime = RLIFETIME;
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_DB_FILE);
	f->core = f->k.core;
	fake_now = (int64_t)time(NULL);
	kdc_core_set_clock(f->core, clock_fn);
	assert_int_equal(kdc_core_ace_key_load(f->core, f->k.dir), KDC_OK);
	snprintf(db, sizeof(db), "%s/kdc.db", f->k.dir);
	assert_int_equal(sqlite3_open_v2(db, &f->db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(f->db, 5000);

	/* lock1: a shared key; lock2: a shared key and a public key;
	 * pubonly: a public key only */
	p256_key(&f->rs2_spki, &f->rs2_spki_len, x, y);
	p256_key(&spki3, &spki3_len, x, y);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "lock1", rskey1, 16,
	    NULL, 0, KDC_ACE_PROFILE_COAP_DTLS), KDC_OK);
	expect_audit(f, "ace.rs.add", "lock1", KDC_OK, "key=yes pubkey=no");
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "lock2", rskey2, 16,
	    f->rs2_spki, f->rs2_spki_len, KDC_ACE_PROFILE_COAP_DTLS), KDC_OK);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "pubonly", NULL, 0,
	    spki3, spki3_len, KDC_ACE_PROFILE_COAP_DTLS), KDC_OK);
	kdc_free(spki3);
	psk_principal(f, "urn:dev:c1", "c1", 0x11, &f->c1);
	psk_principal(f, "lock1", "rs1", 0x21, &f->rs1);
	psk_principal(f, "lock2", "rs2", 0x22, &f->rs2);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock1", "open close", false), KDC_OK);
	expect_audit(f, "ace.grant", "urn:dev:c1", KDC_OK,
	    "aud=lock1 scope=\"open close\" refresh=no");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	sqlite3_close(f->db);
	kdc_test_kdc_close(&f->k);
	kdc_free(f->rs2_spki);
	free(f);
	return 0;
}

/* ---- tokens ---------------------------------------------------------------- */

static void
test_symmetric_token(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new();
	struct kdc_cwt c;
	struct kdc_cose_keyinfo rk;
	struct kdc_ace_token_rec rec;
	uint8_t pt[KDC_COSE_MSG_MAX], k[16], kid[8], h[KDC_ACE_TOKEN_HASH_LEN];
	char hex[33];

	req_init(&q, "lock1", "open");
	issue(f, &f->c1, &q, r);
	sym_open(r, rskey1, pt, &c);
	/* every claim */
	assert_true(c.has & KDC_CWT_ISS);
	assert_int_equal(c.iss_len, 6);
	assert_memory_equal(c.iss, "iotkdc", 6);
	assert_true(c.has & KDC_CWT_AUD);
	assert_int_equal(c.aud_len, 5);
	assert_memory_equal(c.aud, "lock1", 5);
	assert_true(c.has & KDC_CWT_SCOPE);
	assert_true(c.scope_text);
	assert_int_equal(c.scope_len, 4);
	assert_memory_equal(c.scope, "open", 4);
	assert_true(c.has & KDC_CWT_IAT);
	assert_int_equal(c.iat, fake_now);
	assert_true(c.has & KDC_CWT_EXP);
	assert_int_equal(c.exp, c.iat + LIFETIME);
	assert_false(c.has & (KDC_CWT_PROFILE | KDC_CWT_CNONCE | KDC_CWT_SUB |
	    KDC_CWT_NBF | KDC_CWT_EXI));
	assert_int_equal(r->expires_in, LIFETIME);
	assert_false(r->has_profile);
	assert_false(r->scope_differs);
	assert_int_equal(r->refresh_len, 0);	/* the grant has no --refresh */
	assert_int_equal(r->rs_cnf_len, 0);
	/* cnf: the symmetric PoP key, the same in the token and the answer */
	assert_true(c.has & KDC_CWT_CNF);
	assert_int_equal(c.cnf.kind, KDC_CNF_COSE_KEY);
	assert_int_equal(c.cnf.key.kty, KDC_COSE_KTY_SYMMETRIC);
	assert_int_equal(c.cnf.key.kid_len, 8);
	assert_int_equal(c.cnf.key.k_len, 16);
	assert_null(c.cnf.key.d);
	cnf_read(r->cnf, r->cnf_len, &rk);
	assert_int_equal(rk.kty, KDC_COSE_KTY_SYMMETRIC);
	assert_int_equal(rk.kid_len, 8);
	assert_int_equal(rk.k_len, 16);
	assert_memory_equal(rk.kid, c.cnf.key.kid, 8);
	assert_memory_equal(rk.k, c.cnf.key.k, 16);
	memcpy(k, rk.k, 16);
	memcpy(kid, rk.kid, 8);
	/* the record: cti 16 bytes, kid, the RFC 9770 hash; no key */
	assert_int_equal(c.cti_len, 16);
	assert_int_equal(kdc_store_ace_token_get(f->k.st, c.cti, c.cti_len,
	    &rec), KDC_OK);
	assert_memory_equal(rec.cti, c.cti, 16);
	assert_int_equal(rec.kind, KDC_ACE_ACCESS);
	assert_int_equal(rec.pop, KDC_ACE_POP_SYMMETRIC);
	assert_int_equal(rec.pop_kid_len, 8);
	assert_memory_equal(rec.pop_kid, kid, 8);
	assert_int_equal(rec.pop_key_len, 0);
	assert_string_equal(rec.client, "urn:dev:c1");
	assert_string_equal(rec.audience, "lock1");
	assert_string_equal(rec.scope, "open");
	assert_int_equal(rec.iat, c.iat);
	assert_int_equal(rec.exp, c.exp);
	assert_int_equal(rec.revoked_at, 0);
	kdc_ace_token_hash(r->access_token, r->access_token_len, h);
	assert_int_equal(rec.hash_len, sizeof(h));
	assert_memory_equal(rec.hash, h, sizeof(h));
	assert_int_equal(db_count(f, "SELECT count(*) FROM ace_tokens WHERE "
	    "length(cti) = 16 AND pop_key IS NULL"), 1);
	assert_false(db_has_bytes(f, "ace_tokens", k, sizeof(k)));
	assert_false(db_has_bytes(f, "audit", k, sizeof(k)));
	/* the RS key is wrapped at rest */
	assert_false(db_has_bytes(f, "ace_rs", rskey1, sizeof(rskey1)));
	cti_hex(c.cti, hex);
	expect_audit(f, "ace.token", "urn:dev:c1", KDC_OK, hex);
	expect_audit(f, "ace.token", "urn:dev:c1", KDC_OK, "pop=symmetric");
	resp_free(r);

	/* no scope: the whole grant, said in the answer; ace_profile asked
	 * (null): answered and in the token */
	r = resp_new();
	req_init(&q, "lock1", NULL);
	q.profile_asked = true;
	issue(f, &f->c1, &q, r);
	sym_open(r, rskey1, pt, &c);
	assert_int_equal(c.scope_len, 10);
	assert_memory_equal(c.scope, "open close", 10);
	assert_true(r->scope_differs);
	assert_string_equal(r->scope, "open close");
	assert_true(r->has_profile);
	assert_int_equal(r->ace_profile, KDC_ACE_PROFILE_COAP_DTLS);
	assert_true(c.has & KDC_CWT_PROFILE);
	assert_int_equal(c.ace_profile, KDC_ACE_PROFILE_COAP_DTLS);
	/* a fresh PoP key and cti each time */
	assert_memory_not_equal(c.cnf.key.k, k, 16);
	assert_memory_not_equal(c.cnf.key.kid, kid, 8);
	/* a scope subset in another order */
	resp_free(r);
	r = resp_new();
	req_init(&q, "lock1", "close open");
	issue(f, &f->c1, &q, r);
	sym_open(r, rskey1, pt, &c);
	assert_memory_equal(c.scope, "close open", 10);
	/* the token does not open with another RS's key */
	{
		struct kdc_cose_msg m;
		struct kdc_cose_key key;
		uint8_t work[KDC_COSE_WORK_MAX];
		size_t pt_len = sizeof(pt);

		assert_int_equal(kdc_cose_parse(r->access_token,
		    r->access_token_len, 0, &m), KDC_OK);
		memset(&key, 0, sizeof(key));
		key.alg = KDC_COSE_ALG_CCM_16_64_128;
		key.k = rskey2;
		key.k_len = 16;
		assert_int_equal(kdc_cose_encrypt0_decrypt(&m, &key, NULL, 0,
		    pt, &pt_len, work, sizeof(work)), KDC_ERR_BAD_SIGNATURE);
	}
	resp_free(r);
}

static void
test_cnonce(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new();
	struct kdc_cwt c;
	uint8_t pt[KDC_COSE_MSG_MAX], nonce[KDC_ACE_CNONCE_MAX + 1];

	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(0xc0 + i);
	req_init(&q, "lock1", "open");
	q.cnonce = nonce;
	q.cnonce_len = 8;
	issue(f, &f->c1, &q, r);
	sym_open(r, rskey1, pt, &c);
	assert_true(c.has & KDC_CWT_CNONCE);
	assert_int_equal(c.cnonce_len, 8);
	assert_memory_equal(c.cnonce, nonce, 8);
	resp_free(r);
	/* the bound itself is taken */
	r = resp_new();
	q.cnonce_len = KDC_ACE_CNONCE_MAX;
	issue(f, &f->c1, &q, r);
	sym_open(r, rskey1, pt, &c);
	assert_int_equal(c.cnonce_len, KDC_ACE_CNONCE_MAX);
	assert_memory_equal(c.cnonce, nonce, KDC_ACE_CNONCE_MAX);
	resp_free(r);
	/* one past it is not */
	q.cnonce_len = KDC_ACE_CNONCE_MAX + 1;
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "cnonce too long");
}

static void
test_asymmetric_token(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new();
	struct kdc_principal c2;
	struct kdc_cose_msg m;
	struct kdc_cwt c;
	struct kdc_cose_keyinfo rk;
	struct kdc_ace_token_rec rec;
	uint8_t *spki = NULL, x[32], y[32], rx[32], ry[32], cose[256],
	    askid[32];
	size_t spki_len = 0, cose_len = sizeof(cose);
	uint8_t d[32], aspki[128];
	size_t aspki_len = sizeof(aspki);

	p256_key(&spki, &spki_len, x, y);
	rpk_principal(f, "urn:dev:c2", spki, spki_len, &c2);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c2",
	    "lock2", "open", false), KDC_OK);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c2",
	    "lock1", "open", false), KDC_OK);

	/* lock2 has a public key: rs_cnf carries it */
	req_init(&q, "lock2", "open");
	req_ec2(&q, x, y);
	issue(f, &c2, &q, r);
	asym_open(f, r, &m, &c);
	assert_memory_equal(c.iss, "iotkdc", 6);
	assert_int_equal(c.aud_len, 5);
	assert_memory_equal(c.aud, "lock2", 5);
	assert_memory_equal(c.scope, "open", 4);
	assert_int_equal(c.iat, fake_now);
	assert_int_equal(c.exp, fake_now + LIFETIME);
	assert_int_equal(c.cti_len, 16);
	assert_int_equal(c.cnf.kind, KDC_CNF_COSE_KEY);
	assert_int_equal(c.cnf.key.kty, KDC_COSE_KTY_EC2);
	assert_int_equal(c.cnf.key.crv, KDC_COSE_CRV_P256);
	assert_int_equal(c.cnf.key.x_len, 32);
	assert_int_equal(c.cnf.key.y_len, 32);
	assert_memory_equal(c.cnf.key.x, x, 32);
	assert_memory_equal(c.cnf.key.y, y, 32);
	assert_null(c.cnf.key.d);
	/* the kid in the header: the AS key's (first 8 bytes of SHA-256 of
	 * its SPKI), as its COSE_Key says */
	assert_int_equal(kdc_core_ace_as_pubkey(f->core, cose, &cose_len,
	    aspki, &aspki_len), KDC_OK);
	kdc_sha256(aspki, aspki_len, d);
	assert_int_equal(m.kid_len, 8);
	assert_memory_equal(m.kid, d, 8);
	{
		struct kdc_rd rd;

		kdc_rd_init(&rd, cose, cose_len);
		assert_int_equal(kdc_cose_key_read(&rd, &rk), KDC_OK);
		assert_int_equal(rk.kid_len, 8);
		memcpy(askid, rk.kid, 8);
		assert_memory_equal(askid, d, 8);
	}
	assert_int_equal(r->cnf_len, 0);	/* the client has its key */
	assert_int_equal(r->expires_in, LIFETIME);
	assert_true(r->rs_cnf_len > 0);
	cnf_read(r->rs_cnf, r->rs_cnf_len, &rk);
	assert_int_equal(kdc_spki_p256_xy(f->rs2_spki, f->rs2_spki_len, rx,
	    ry), KDC_OK);
	assert_int_equal(rk.kty, KDC_COSE_KTY_EC2);
	assert_int_equal(rk.crv, KDC_COSE_CRV_P256);
	assert_memory_equal(rk.x, rx, 32);
	assert_memory_equal(rk.y, ry, 32);
	assert_int_equal(kdc_store_ace_token_get(f->k.st, c.cti, c.cti_len,
	    &rec), KDC_OK);
	assert_int_equal(rec.pop, KDC_ACE_POP_ASYMMETRIC);
	assert_string_equal(rec.client, "urn:dev:c2");
	expect_audit(f, "ace.token", "urn:dev:c2", KDC_OK, "pop=asymmetric");
	/* a byte of the signed payload changed: the signature fails */
	{
		struct kdc_cose_key k;
		uint8_t work[KDC_COSE_WORK_MAX];

		memset(&k, 0, sizeof(k));
		as_point(f, rx, ry);
		k.alg = KDC_COSE_ALG_ES256;
		k.x = rx;
		k.x_len = 32;
		k.y = ry;
		k.y_len = 32;
		((uint8_t *)(uintptr_t)m.payload)[3] ^= 1;
		assert_int_equal(kdc_cose_sign1_verify(&m, &k, NULL, 0, work,
		    sizeof(work)), KDC_ERR_BAD_SIGNATURE);
	}
	resp_free(r);

	/* lock1 has no public key: no rs_cnf; the token still a Sign1 */
	r = resp_new();
	req_init(&q, "lock1", "open");
	req_ec2(&q, x, y);
	issue(f, &c2, &q, r);
	asym_open(f, r, &m, &c);
	assert_memory_equal(c.aud, "lock1", 5);
	assert_int_equal(r->rs_cnf_len, 0);
	assert_int_equal(r->cnf_len, 0);
	resp_free(r);

	/* without an AS key: BAD_KEY-like server error, never a token */
	kdc_core_ace_set_key(f->core, NULL);
	r = resp_new();
	assert_int_not_equal(kdc_core_ace_token(f->core, "test", &c2, &q, r),
	    KDC_OK);
	assert_int_equal(r->access_token_len, 0);
	assert_int_equal(kdc_core_ace_as_pubkey(f->core, cose, &cose_len,
	    NULL, NULL), KDC_ERR_NOT_FOUND);
	resp_free(r);
	kdc_free(spki);
}

/* ---- refusals -------------------------------------------------------------- */

static void
test_refusals(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_principal c2, c3, nobody;
	uint8_t *spki = NULL, x[32], y[32], *ospki = NULL, ox[32], oy[32];
	size_t spki_len = 0, ospki_len = 0;
	static const uint8_t k16[16] = { 1 }, kid[4] = { 1, 2, 3, 4 };
	char longaud[KDC_NAME_MAX + 2], longscope[KDC_ACE_SCOPE_MAX + 2];

	/* not authenticated */
	memset(&nobody, 0, sizeof(nobody));
	req_init(&q, "lock1", "open");
	expect_refused(f, &nobody, &q, KDC_ACE_INVALID_CLIENT, KDC_ERR_DENIED,
	    "not authenticated");
	expect_refused(f, NULL, &q, KDC_ACE_INVALID_CLIENT, KDC_ERR_DENIED,
	    "not authenticated");
	/* an operational PSK of another audience is a secret that service
	 * holds too: it may not get tokens (authz.c ace-token); one of the
	 * built-in LwM2M Server (ours) may */
	c3 = f->c1;
	c3.kind = KDC_KIND_OPERATIONAL;
	c3.type = KDC_TYPE_PSK;
	snprintf(c3.audience, sizeof(c3.audience), "mqtt");
	req_init(&q, "lock1", "open");
	expect_refused(f, &c3, &q, KDC_ACE_UNAUTHORIZED_CLIENT, KDC_ERR_DENIED,
	    "PSK shared with audience mqtt");
	snprintf(c3.audience, sizeof(c3.audience), "%s", KDC_AUDIENCE_BUILTIN);
	{
		struct kdc_ace_token_resp *ok = resp_new();

		assert_int_equal(kdc_core_ace_token(f->k.core, "test", &c3, &q,
		    ok), KDC_OK);
		resp_free(ok);
	}
	/* no grant for this client and RS */
	req_init(&q, "lock2", "open");
	expect_refused(f, &f->c1, &q, KDC_ACE_UNAUTHORIZED_CLIENT,
	    KDC_ERR_DENIED, "no grant");
	/* an unknown audience: an unknown scope */
	req_init(&q, "nosuchrs", "open");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "unknown audience");
	/* an audience that is no name, and one that is a name but no RS */
	req_init(&q, "bad name", "open");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "unknown audience");
	req_init(&q, "lwm2m", "open");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "unknown audience");
	/* no audience at all */
	req_init(&q, NULL, "open");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "no audience");
	/* an audience over the bound, or with a NUL inside */
	memset(longaud, 'a', sizeof(longaud) - 1);
	longaud[sizeof(longaud) - 1] = '\0';
	req_init(&q, longaud, "open");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "audience too long");
	req_init(&q, "lock1", "open");
	q.audience = "lock1\0x";
	q.audience_len = 7;
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "audience too long");
	/* a scope outside the grant, a bad scope, one over the bound */
	req_init(&q, "lock1", "open read");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "scope not granted");
	req_init(&q, "lock1", "open  close");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "scope not granted");
	req_init(&q, "lock1", "ope");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "scope not granted");
	memset(longscope, 'o', sizeof(longscope) - 1);
	longscope[sizeof(longscope) - 1] = '\0';
	req_init(&q, "lock1", longscope);
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "scope too long");
	/* grant types: client_credentials (2) and refresh_token (3) only */
	req_init(&q, "lock1", "open");
	q.grant_type = 1;
	expect_refused(f, &f->c1, &q, KDC_ACE_UNSUPPORTED_GRANT_TYPE,
	    KDC_ERR_DENIED, "grant_type");
	q.grant_type = 0;
	expect_refused(f, &f->c1, &q, KDC_ACE_UNSUPPORTED_GRANT_TYPE,
	    KDC_ERR_DENIED, "grant_type");
	q.grant_type = 99;
	expect_refused(f, &f->c1, &q, KDC_ACE_UNSUPPORTED_GRANT_TYPE,
	    KDC_ERR_DENIED, "grant_type");
	q.grant_type = 4;
	expect_refused(f, &f->c1, &q, KDC_ACE_UNSUPPORTED_GRANT_TYPE,
	    KDC_ERR_DENIED, "grant_type");
	/* another profile than coap_dtls */
	req_init(&q, "lock1", "open");
	q.profile_other = true;
	expect_refused(f, &f->c1, &q, KDC_ACE_INCOMPATIBLE_PROFILES,
	    KDC_ERR_DENIED, "profile");
	/* symmetric PoP to an RS without a shared key */
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "pubonly", "open", false), KDC_OK);
	req_init(&q, "pubonly", "open");
	expect_refused(f, &f->c1, &q, KDC_ACE_UNSUPPORTED_POP_KEY,
	    KDC_ERR_DENIED, "no symmetric PoP");
	/* req_cnf: a symmetric key, a kid, an encrypted key */
	req_init(&q, "lock1", "open");
	q.req_cnf.kind = KDC_CNF_COSE_KEY;
	q.req_cnf.key.kty = KDC_COSE_KTY_SYMMETRIC;
	q.req_cnf.key.k = k16;
	q.req_cnf.key.k_len = sizeof(k16);
	expect_refused(f, &f->c1, &q, KDC_ACE_UNSUPPORTED_POP_KEY,
	    KDC_ERR_DENIED, "a symmetric key is not accepted");
	req_init(&q, "lock1", "open");
	q.req_cnf.kind = KDC_CNF_KID;
	q.req_cnf.kid = kid;
	q.req_cnf.kid_len = sizeof(kid);
	expect_refused(f, &f->c1, &q, KDC_ACE_UNSUPPORTED_POP_KEY,
	    KDC_ERR_DENIED, "only a COSE_Key or none");
	q.req_cnf.kind = KDC_CNF_ENC_KEY;
	q.req_cnf.raw = kid;
	q.req_cnf.raw_len = sizeof(kid);
	expect_refused(f, &f->c1, &q, KDC_ACE_UNSUPPORTED_POP_KEY,
	    KDC_ERR_DENIED, "only a COSE_Key or none");

	/* asymmetric: the client's key, and only that */
	p256_key(&spki, &spki_len, x, y);
	p256_key(&ospki, &ospki_len, ox, oy);
	rpk_principal(f, "urn:dev:c2", spki, spki_len, &c2);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c2",
	    "lock1", "open", false), KDC_OK);
	req_init(&q, "lock1", "open");
	req_ec2(&q, ox, oy);		/* another key than its own */
	expect_refused(f, &c2, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "not the key the client authenticated with");
	req_ec2(&q, x, oy);		/* half of it */
	expect_refused(f, &c2, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "not the key the client authenticated with");
	req_ec2(&q, ox, y);
	expect_refused(f, &c2, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "not the key the client authenticated with");
	/* a PSK client proves no key */
	req_ec2(&q, x, y);
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "did not authenticate with a key");
	/* keys that are not EC2 P-256 public keys */
	req_ec2(&q, x, y);
	q.req_cnf.key.crv = KDC_COSE_CRV_ED25519;
	expect_refused(f, &c2, &q, KDC_ACE_UNSUPPORTED_POP_KEY, KDC_ERR_DENIED,
	    "only an EC2 P-256 public key");
	req_ec2(&q, x, y);
	q.req_cnf.key.kty = KDC_COSE_KTY_OKP;
	expect_refused(f, &c2, &q, KDC_ACE_UNSUPPORTED_POP_KEY, KDC_ERR_DENIED,
	    "only an EC2 P-256 public key");
	req_ec2(&q, x, y);
	q.req_cnf.key.d = k16;		/* a private key sent along */
	q.req_cnf.key.d_len = 16;
	expect_refused(f, &c2, &q, KDC_ACE_UNSUPPORTED_POP_KEY, KDC_ERR_DENIED,
	    "only an EC2 P-256 public key");
	req_ec2(&q, x, y);
	q.req_cnf.key.y = NULL;		/* y_len still 32 */
	expect_refused(f, &c2, &q, KDC_ACE_UNSUPPORTED_POP_KEY, KDC_ERR_DENIED,
	    "only an EC2 P-256 public key");
	req_ec2(&q, x, y);
	q.req_cnf.key.x_len = 31;
	expect_refused(f, &c2, &q, KDC_ACE_UNSUPPORTED_POP_KEY, KDC_ERR_DENIED,
	    "only an EC2 P-256 public key");
	req_ec2(&q, x, y);
	q.req_cnf.key.x = NULL;
	expect_refused(f, &c2, &q, KDC_ACE_UNSUPPORTED_POP_KEY, KDC_ERR_DENIED,
	    "only an EC2 P-256 public key");
	req_ec2(&q, x, y);
	q.req_cnf.key.y_len = 33;
	expect_refused(f, &c2, &q, KDC_ACE_UNSUPPORTED_POP_KEY, KDC_ERR_DENIED,
	    "only an EC2 P-256 public key");

	/* the grant revoked: no token any more */
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", "urn:dev:c2",
	    "lock1"), KDC_OK);
	req_init(&q, "lock1", "open");
	req_ec2(&q, x, y);
	expect_refused(f, &c2, &q, KDC_ACE_UNAUTHORIZED_CLIENT, KDC_ERR_DENIED,
	    "no grant");

	/* the client's device revoked after its handshake */
	psk_principal(f, "urn:dev:c3", "c3", 0x33, &c3);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c3",
	    "lock1", "open", false), KDC_OK);
	req_init(&q, "lock1", "open");
	{
		struct kdc_ace_token_resp *r = resp_new();

		issue(f, &c3, &q, r);
		resp_free(r);
	}
	assert_int_equal(kdc_core_device_revoke(f->core, "t", "urn:dev:c3"),
	    KDC_OK);
	expect_refused(f, &c3, &q, KDC_ACE_INVALID_CLIENT, KDC_ERR_REVOKED,
	    "no longer valid");
	/* and deleted: the same */
	assert_int_equal(kdc_core_device_delete(f->core, "t", "urn:dev:c3"),
	    KDC_OK);
	expect_refused(f, &c3, &q, KDC_ACE_INVALID_CLIENT,
	    KDC_ERR_UNKNOWN_DEVICE, "no longer valid");

	/* an RS row with a profile the AS does not speak (only a damaged or
	 * future row has one: rs_add takes coap_dtls alone) */
	db_exec(f, "UPDATE ace_rs SET profile = 2 WHERE audience = 'lock1'");
	req_init(&q, "lock1", "open");
	expect_refused(f, &f->c1, &q, KDC_ACE_INCOMPATIBLE_PROFILES,
	    KDC_ERR_DENIED, "profile");
	kdc_free(spki);
	kdc_free(ospki);
}

/* ---- refresh tokens -------------------------------------------------------- */

/* The sweep's purge: rows of tokens expired longer than [ace]
 * token_retention go, the others stay (an unexpired refresh token, a
 * token expired more recently than the retention). */
static void
test_purge(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new();
	int64_t t0 = fake_now;
	size_t n = 99;

	f->cfg.ace_token_retention = 1000;
	req_init(&q, "lock1", "open");
	issue(f, &f->c1, &q, r);
	issue(f, &f->c1, &q, r);
	assert_int_equal(ntokens(f), 2);
	/* nothing has expired yet, nor expired longer than the retention */
	assert_int_equal(kdc_core_ace_purge(f->k.core, "t", &n), KDC_OK);
	assert_int_equal(n, 0);
	fake_now = t0 + LIFETIME + 1000 - 1;
	assert_int_equal(kdc_core_ace_purge(f->k.core, "t", &n), KDC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ntokens(f), 2);
	/* one second later both are gone, audited */
	fake_now = t0 + LIFETIME + 1000 + 1;
	assert_int_equal(kdc_core_ace_purge(f->k.core, "t", &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ntokens(f), 0);
	expect_audit(f, "ace.purge", "-", KDC_OK, "tokens=2");
	/* a token issued now stays while it is alive */
	issue(f, &f->c1, &q, r);
	fake_now += LIFETIME / 2;
	assert_int_equal(kdc_core_ace_purge(f->k.core, "t", &n), KDC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ntokens(f), 1);
	fake_now = t0;
	resp_free(r);
}

static void
test_refresh(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new(), *r2 = resp_new(),
	    *r3 = resp_new();
	struct kdc_principal c4;
	struct kdc_cwt c;
	struct kdc_cose_keyinfo k1, k2;
	uint8_t pt[KDC_COSE_MSG_MAX], R1[32], R2[32], pk[16], kid[8],
	    junk[32] = { 7 };

	/* the grant of c1 has no --refresh: no refresh token */
	req_init(&q, "lock1", "open");
	issue(f, &f->c1, &q, r);
	assert_int_equal(r->refresh_len, 0);
	assert_int_equal(db_count(f, "SELECT count(*) FROM ace_tokens WHERE "
	    "kind = 'refresh'"), 0);
	resp_free(r);
	r = resp_new();

	psk_principal(f, "urn:dev:c4", "c4", 0x44, &c4);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c4",
	    "lock1", "open close", true), KDC_OK);
	expect_audit(f, "ace.grant", "urn:dev:c4", KDC_OK, "refresh=yes");
	req_init(&q, "lock1", "open");
	issue(f, &c4, &q, r);
	assert_int_equal(r->refresh_len, 32);
	memcpy(R1, r->refresh, 32);
	cnf_read(r->cnf, r->cnf_len, &k1);
	memcpy(pk, k1.k, 16);
	memcpy(kid, k1.kid, 8);
	/* the refresh row: SHA-256 of the value, never the value; the PoP
	 * key wrapped */
	assert_int_equal(db_count(f, "SELECT count(*) FROM ace_tokens WHERE "
	    "kind = 'refresh' AND client = 'urn:dev:c4' AND revoked_at = 0"),
	    1);
	assert_false(db_has_bytes(f, "ace_tokens", R1, 32));
	assert_false(db_has_bytes(f, "ace_tokens", pk, 16));
	assert_false(db_has_bytes(f, "audit", R1, 32));
	{
		uint8_t h[32];

		kdc_sha256(R1, 32, h);
		assert_true(db_has_bytes(f, "ace_tokens", h, 32));
	}

	/* refresh: the same audience and PoP key, a new refresh token */
	memset(&q, 0, sizeof(q));
	q.grant_type = KDC_ACE_GRANT_REFRESH_TOKEN;
	q.refresh = R1;
	q.refresh_len = 32;
	issue(f, &c4, &q, r2);
	sym_open(r2, rskey1, pt, &c);
	assert_memory_equal(c.aud, "lock1", 5);
	assert_int_equal(c.scope_len, 10);	/* no scope: the whole grant */
	assert_int_equal(c.cnf.key.k_len, 16);
	assert_memory_equal(c.cnf.key.k, pk, 16);
	assert_memory_equal(c.cnf.key.kid, kid, 8);
	cnf_read(r2->cnf, r2->cnf_len, &k2);
	assert_memory_equal(k2.k, pk, 16);
	assert_memory_equal(k2.kid, kid, 8);
	assert_int_equal(r2->refresh_len, 32);
	memcpy(R2, r2->refresh, 32);
	assert_memory_not_equal(R1, R2, 32);
	expect_audit(f, "ace.token", "urn:dev:c4", KDC_OK,
	    "grant_type=refresh_token refresh=yes");
	/* with the audience named (the same) and a narrower scope */
	{
		struct kdc_ace_token_resp *r4 = resp_new();
		uint8_t R3[32];

		q.refresh = R2;
		q.audience = "lock1";
		q.audience_len = 5;
		q.scope = "close";
		q.scope_len = 5;
		issue(f, &c4, &q, r4);
		sym_open(r4, rskey1, pt, &c);
		assert_memory_equal(c.scope, "close", 5);
		assert_memory_equal(c.cnf.key.k, pk, 16);
		memcpy(R3, r4->refresh, 32);
		memcpy(R2, R3, 32);
		resp_free(r4);
	}

	/* rotation: R1 was used, it is refused now */
	memset(&q, 0, sizeof(q));
	q.grant_type = KDC_ACE_GRANT_REFRESH_TOKEN;
	q.refresh = R1;
	q.refresh_len = 32;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "revoked (or was used already)");
	/* R2 (the current one) by another client */
	q.refresh = R2;
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "belongs to another client");
	/* with another audience */
	q.audience = "lock2";
	q.audience_len = 5;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the audience");
	q.audience = "lock";
	q.audience_len = 4;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the audience");
	q.audience = NULL;
	q.audience_len = 0;
	/* with a req_cnf (another PoP key) */
	q.req_cnf.kind = KDC_CNF_KID;
	q.req_cnf.kid = kid;
	q.req_cnf.kid_len = 8;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the PoP key");
	q.req_cnf.kind = KDC_CNF_NONE;
	/* a scope beyond the grant */
	q.scope = "open read";
	q.scope_len = 9;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "scope not granted");
	q.scope = NULL;
	q.scope_len = 0;
	/* no refresh token, a short one, an unknown one */
	q.refresh = NULL;
	q.refresh_len = 0;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "no valid refresh token");
	q.refresh = R2;
	q.refresh_len = 31;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "no valid refresh token");
	q.refresh = junk;
	q.refresh_len = 32;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "unknown refresh token");
	/* the lookup by hash takes refresh rows only (an access row with
	 * that hash: a damaged row, or a SHA-256 collision) */
	db_exec(f, "UPDATE ace_tokens SET kind = 'access' WHERE kind = "
	    "'refresh' AND revoked_at = 0 AND client = 'urn:dev:c4'");
	q.refresh = R2;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "unknown refresh token");
	db_exec(f, "UPDATE ace_tokens SET kind = 'refresh' WHERE length(hash) "
	    "= 32");
	/* R2 still good */
	issue(f, &c4, &q, r3);
	assert_int_equal(r3->refresh_len, 32);
	memcpy(R2, r3->refresh, 32);

	/* the refresh token expires with [ace] refresh_lifetime */
	fake_now += RLIFETIME;
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "expired");
	fake_now -= 1;
	q.refresh = R2;
	{
		struct kdc_ace_token_resp *r4 = resp_new();

		issue(f, &c4, &q, r4);
		memcpy(R2, r4->refresh, 32);
		resp_free(r4);
	}

	/* the refresh row's PoP key, wrapped but of the wrong length (a
	 * damaged row): BAD_KEY, a server error, no token */
	{
		sqlite3_stmt *s = NULL;
		uint8_t saved[128], rcti[16], *w = NULL;
		size_t saved_len, w_len = 0;
		char aad[64], h[33];
		int64_t gid;

		assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT cti, pop_key, "
		    "grant_id FROM ace_tokens WHERE kind = 'refresh' AND "
		    "revoked_at = 0", -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		memcpy(rcti, sqlite3_column_blob(s, 0), 16);
		saved_len = (size_t)sqlite3_column_bytes(s, 1);
		assert_true(saved_len > 16 && saved_len <= sizeof(saved));
		memcpy(saved, sqlite3_column_blob(s, 1), saved_len);
		gid = sqlite3_column_int64(s, 2);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		cti_hex(rcti, h);
		snprintf(aad, sizeof(aad), "ace-pop:%s", h);
		assert_int_equal(kdc_wrap(f->k.kr, aad, strlen(aad), pk, 15, &w,
		    &w_len), KDC_OK);
		assert_int_equal(sqlite3_prepare_v2(f->db, "UPDATE ace_tokens "
		    "SET pop_key = ? WHERE cti = ?", -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, w, (int)w_len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, rcti, 16, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		kdc_free(w);
		expect_refused(f, &c4, &q, 0, KDC_ERR_BAD_KEY, NULL);
		assert_int_equal(sqlite3_prepare_v2(f->db, "UPDATE ace_tokens "
		    "SET pop_key = ? WHERE cti = ?", -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, saved, (int)saved_len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, rcti, 16, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		/* its grant row gone (grant_id NULL): invalid_grant */
		db_exec(f, "UPDATE ace_tokens SET grant_id = NULL WHERE kind = "
		    "'refresh' AND revoked_at = 0");
		expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT,
		    KDC_ERR_DENIED, "the grant was revoked");
		{
			char sql[160];

			snprintf(sql, sizeof(sql), "UPDATE ace_tokens SET "
			    "grant_id = %lld WHERE kind = 'refresh' AND "
			    "revoked_at = 0", (long long)gid);
			db_exec(f, sql);
		}
		/* mended: taken again */
		{
			struct kdc_ace_token_resp *r4 = resp_new();

			issue(f, &c4, &q, r4);
			memcpy(R2, r4->refresh, 32);
			resp_free(r4);
		}
		q.refresh = R2;
	}

	/* an RS that lost its shared key (a damaged row): the refresh of a
	 * symmetric token is refused, not encrypted to nothing */
	db_exec(f, "UPDATE ace_rs SET spki = x'30', key_wrapped = NULL "
	    "WHERE audience = 'lock1'");
	{
		struct kdc_ace_rs_row *row = NULL;

		assert_int_equal(kdc_store_ace_rs_get(f->k.st, "lock1", &row),
		    KDC_OK);
		assert_null(row->key_wrapped);
		kdc_ace_rs_row_free(row);
	}
	expect_refused(f, &c4, &q, KDC_ACE_UNSUPPORTED_POP_KEY, KDC_ERR_DENIED,
	    "no symmetric PoP");

	/* the grant revoked: its refresh tokens with it */
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", "urn:dev:c4",
	    "lock1"), KDC_OK);
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "revoked");
	/* even if the refresh row were not revoked with it (defence in
	 * depth: the grant is read again) */
	db_exec(f, "UPDATE ace_tokens SET revoked_at = 0 WHERE kind = "
	    "'refresh'");
	expect_refused(f, &c4, &q, KDC_ACE_INVALID_GRANT, KDC_ERR_DENIED,
	    "the grant was revoked");
	resp_free(r);
	resp_free(r2);
	resp_free(r3);
}

static void
test_refresh_asymmetric(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new();
	struct kdc_principal c5, c5other;
	struct kdc_cose_msg m;
	struct kdc_cwt c;
	uint8_t *spki = NULL, *ospki = NULL, x[32], y[32], ox[32], oy[32],
	    R[32];
	size_t spki_len = 0, ospki_len = 0;

	p256_key(&spki, &spki_len, x, y);
	p256_key(&ospki, &ospki_len, ox, oy);
	rpk_principal(f, "urn:dev:c5", spki, spki_len, &c5);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c5",
	    "lock2", "open", true), KDC_OK);
	req_init(&q, "lock2", "open");
	req_ec2(&q, x, y);
	issue(f, &c5, &q, r);
	assert_int_equal(r->refresh_len, 32);
	memcpy(R, r->refresh, 32);
	resp_free(r);

	memset(&q, 0, sizeof(q));
	q.grant_type = KDC_ACE_GRANT_REFRESH_TOKEN;
	q.refresh = R;
	q.refresh_len = 32;
	/* the same device on a session keyed with another key (as an
	 * operational RPK would be): it does not prove the PoP key */
	c5other = c5;
	memcpy(c5other.spki, ospki, ospki_len);
	c5other.spki_len = ospki_len;
	expect_refused(f, &c5other, &q, KDC_ACE_INVALID_REQUEST,
	    KDC_ERR_DENIED, "no proof of possession of the PoP key");
	/* another key in req_cnf */
	req_ec2(&q, ox, oy);
	expect_refused(f, &c5, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the PoP key");
	req_ec2(&q, x, oy);
	expect_refused(f, &c5, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the PoP key");
	req_ec2(&q, ox, y);
	expect_refused(f, &c5, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the PoP key");
	req_ec2(&q, x, y);		/* its own point, but not a COSE_Key */
	q.req_cnf.kind = KDC_CNF_KID;
	expect_refused(f, &c5, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the PoP key");
	/* its own key, but with lengths that are not P-256's */
	req_ec2(&q, x, y);
	q.req_cnf.key.x_len = 31;
	expect_refused(f, &c5, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the PoP key");
	req_ec2(&q, x, y);
	q.req_cnf.key.y_len = 33;
	expect_refused(f, &c5, &q, KDC_ACE_INVALID_REQUEST, KDC_ERR_DENIED,
	    "may not change the PoP key");
	q.req_cnf.kind = KDC_CNF_NONE;
	/* the same device on a session with no key (a PSK) */
	c5other = c5;
	c5other.spki_len = 0;
	expect_refused(f, &c5other, &q, KDC_ACE_INVALID_REQUEST,
	    KDC_ERR_DENIED, "no proof of possession of the PoP key");
	/* a session keyed with (x, p - y): the same x, another point */
	{
		static const uint8_t p[32] = {
			0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		uint8_t ny[32];
		int borrow = 0;
		size_t nlen = sizeof(c5other.spki);

		for (int i = 31; i >= 0; i--) {
			int v = p[i] - y[i] - borrow;

			borrow = v < 0;
			ny[i] = (uint8_t)(v + (borrow ? 256 : 0));
		}
		c5other = c5;
		assert_int_equal(kdc_p256_xy_spki(x, ny, c5other.spki, &nlen),
		    KDC_OK);
		c5other.spki_len = nlen;
		expect_refused(f, &c5other, &q, KDC_ACE_INVALID_REQUEST,
		    KDC_ERR_DENIED, "no proof of possession of the PoP key");
	}
	/* a damaged refresh row (its point not 64 bytes): STORE_CORRUPT */
	db_exec(f, "UPDATE ace_tokens SET pop_key = substr(pop_key, 1, 32) "
	    "WHERE kind = 'refresh' AND revoked_at = 0");
	expect_refused(f, &c5, &q, 0, KDC_ERR_STORE_CORRUPT, NULL);
	{
		sqlite3_stmt *s = NULL;
		uint8_t xy[64];

		memcpy(xy, x, 32);
		memcpy(xy + 32, y, 32);
		assert_int_equal(sqlite3_prepare_v2(f->db, "UPDATE ace_tokens "
		    "SET pop_key = ? WHERE kind = 'refresh' AND revoked_at = 0",
		    -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, xy, 64, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
	}
	/* its own key named again: taken; none: taken */
	req_ec2(&q, x, y);
	r = resp_new();
	issue(f, &c5, &q, r);
	asym_open(f, r, &m, &c);
	assert_memory_equal(c.aud, "lock2", 5);
	assert_memory_equal(c.cnf.key.x, x, 32);
	assert_memory_equal(c.cnf.key.y, y, 32);
	assert_true(r->rs_cnf_len > 0);
	memcpy(R, r->refresh, 32);
	resp_free(r);
	q.req_cnf.kind = KDC_CNF_NONE;
	r = resp_new();
	issue(f, &c5, &q, r);
	asym_open(f, r, &m, &c);
	assert_memory_equal(c.cnf.key.x, x, 32);
	resp_free(r);
	kdc_free(spki);
	kdc_free(ospki);
}

/* ---- introspection --------------------------------------------------------- */

static void
test_introspect(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new(), *r2 = resp_new();
	struct kdc_ace_introspection in;
	struct kdc_cwt c;
	uint8_t pt[KDC_COSE_MSG_MAX], tok[KDC_COSE_MSG_MAX], cti[16],
	    garbage[64];
	size_t len;
	char hex[33];

	req_init(&q, "lock1", "open");
	q.profile_asked = true;
	issue(f, &f->c1, &q, r);
	sym_open(r, rskey1, pt, &c);
	memcpy(cti, c.cti, 16);
	assert_int_equal(kdc_core_ace_introspect(f->core, "test", &f->rs1,
	    r->access_token, r->access_token_len, &in), KDC_OK);
	assert_true(in.active);
	assert_string_equal(in.client, "urn:dev:c1");
	assert_string_equal(in.audience, "lock1");
	assert_string_equal(in.scope, "open");
	assert_int_equal(in.iat, fake_now);
	assert_int_equal(in.exp, fake_now + LIFETIME);
	assert_int_equal(in.cti_len, 16);
	assert_memory_equal(in.cti, cti, 16);
	assert_int_equal(in.ace_profile, KDC_ACE_PROFILE_COAP_DTLS);
	/* cnf: the kid only, never the key */
	assert_int_equal(in.cnf_len, 3 + 8);
	assert_int_equal(in.cnf[0], 0xa1);
	assert_int_equal(in.cnf[1], 0x03);
	assert_int_equal(in.cnf[2], 0x48);
	assert_memory_equal(in.cnf + 3, c.cnf.key.kid, 8);

	/* not a registered RS: DENIED, audited */
	assert_int_equal(kdc_core_ace_introspect(f->core, "test", &f->c1,
	    r->access_token, r->access_token_len, &in), KDC_ERR_DENIED);
	assert_false(in.active);
	expect_audit(f, "ace.introspect", "urn:dev:c1", KDC_ERR_DENIED,
	    "not a registered resource server");
	assert_int_equal(kdc_core_ace_introspect(f->core, "test", NULL,
	    r->access_token, r->access_token_len, &in), KDC_ERR_DENIED);
	{
		struct kdc_principal nobody;

		memset(&nobody, 0, sizeof(nobody));
		snprintf(nobody.dev_id, sizeof(nobody.dev_id), "lock1");
		assert_int_equal(kdc_core_ace_introspect(f->core, "test",
		    &nobody, r->access_token, r->access_token_len, &in),
		    KDC_ERR_DENIED);
		nobody = f->rs1;
		snprintf(nobody.dev_id, sizeof(nobody.dev_id), "lock 1");
		assert_int_equal(kdc_core_ace_introspect(f->core, "test",
		    &nobody, r->access_token, r->access_token_len, &in),
		    KDC_ERR_DENIED);
	}

	{
		struct kdc_principal plain;

		psk_principal(f, "plaindev", "plain", 0x77, &plain);
		assert_int_equal(kdc_core_ace_introspect(f->core, "test",
		    &plain, r->access_token, r->access_token_len, &in),
		    KDC_ERR_DENIED);
		expect_audit(f, "ace.introspect", "plaindev", KDC_ERR_DENIED,
		    "not a registered resource server");
		assert_int_equal(kdc_core_ace_trl(f->core, &plain, NULL, 0,
		    &len, &in.iat), KDC_ERR_DENIED);
	}

	/* a token for another RS: inactive (lock2 cannot open it; a Sign1
	 * one for lock2 is not lock1's) */
	assert_false(introspect_active(f, &f->rs2, r->access_token,
	    r->access_token_len));
	/* tampered: every byte flipped in turn */
	for (size_t i = 0; i < r->access_token_len; i++) {
		memcpy(tok, r->access_token, r->access_token_len);
		tok[i] ^= 0x01;
		assert_false(introspect_active(f, &f->rs1, tok,
		    r->access_token_len));
	}
	/* truncated at every length */
	for (size_t i = 0; i < r->access_token_len; i++)
		assert_false(introspect_active(f, &f->rs1, r->access_token, i));
	/* garbage, nothing, too much */
	memset(garbage, 0xd8, sizeof(garbage));
	assert_false(introspect_active(f, &f->rs1, garbage, sizeof(garbage)));
	assert_false(introspect_active(f, &f->rs1, NULL, 0));
	assert_false(introspect_active(f, &f->rs1, r->access_token,
	    KDC_COSE_MSG_MAX + 1));
	/* the same token still active after all that */
	assert_true(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));

	/* what lock1 could forge with its own key: an unknown cti, a
	 * refresh row's cti, another audience's token's cti, a short cti,
	 * another aud: all inactive */
	len = forge(rskey1, "lock1", (const uint8_t *)"0123456789abcdef", 16,
	    tok, sizeof(tok));
	assert_false(introspect_active(f, &f->rs1, tok, len));
	len = forge(rskey1, "lock1", cti, 8, tok, sizeof(tok));
	assert_false(introspect_active(f, &f->rs1, tok, len));
	len = forge(rskey1, "lock2", cti, 16, tok, sizeof(tok));
	assert_false(introspect_active(f, &f->rs1, tok, len));
	len = forge(rskey1, "lock", cti, 16, tok, sizeof(tok));
	assert_false(introspect_active(f, &f->rs1, tok, len));
	len = forge(rskey1, "lock1x", cti, 16, tok, sizeof(tok));
	assert_false(introspect_active(f, &f->rs1, tok, len));
	/* (the forgery itself is right: with lock1's aud and the real cti it
	 * is "active", which is what a shared key allows) */
	len = forge(rskey1, "lock1", cti, 16, tok, sizeof(tok));
	assert_true(introspect_active(f, &f->rs1, tok, len));
	{
		struct kdc_principal c6;
		uint8_t cti2[16], rcti[16];
		sqlite3_stmt *s = NULL;

		/* a token of lock2 (its cti), presented in a token lock1
		 * made */
		assert_int_equal(kdc_core_ace_grant(f->core, "t",
		    "urn:dev:c1", "lock2", "open", false), KDC_OK);
		req_init(&q, "lock2", "open");
		issue(f, &f->c1, &q, r2);
		sym_cti(r2, rskey2, cti2);
		assert_true(introspect_active(f, &f->rs2, r2->access_token,
		    r2->access_token_len));
		len = forge(rskey1, "lock1", cti2, 16, tok, sizeof(tok));
		assert_false(introspect_active(f, &f->rs1, tok, len));
		/* a refresh row's cti */
		psk_principal(f, "urn:dev:c6", "c6", 0x66, &c6);
		assert_int_equal(kdc_core_ace_grant(f->core, "t",
		    "urn:dev:c6", "lock1", "open", true), KDC_OK);
		req_init(&q, "lock1", "open");
		resp_free(r2);
		r2 = resp_new();
		issue(f, &c6, &q, r2);
		assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT cti FROM "
		    "ace_tokens WHERE kind = 'refresh'", -1, &s, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_int_equal(sqlite3_column_bytes(s, 0), 16);
		memcpy(rcti, sqlite3_column_blob(s, 0), 16);
		sqlite3_finalize(s);
		len = forge(rskey1, "lock1", rcti, 16, tok, sizeof(tok));
		assert_false(introspect_active(f, &f->rs1, tok, len));
	}

	/* expiry: active until exp, inactive from exp on */
	fake_now += LIFETIME - 1;
	assert_true(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));
	fake_now += 1;
	assert_false(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));
	fake_now -= LIFETIME;

	/* revoked token */
	cti_hex(cti, hex);
	assert_int_equal(kdc_core_ace_token_revoke(f->core, "t", hex), KDC_OK);
	expect_audit(f, "ace.token.revoke", hex, KDC_OK, NULL);
	assert_false(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));
	resp_free(r);
	resp_free(r2);
}

static void
test_introspect_revocations(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new(), *r2 = resp_new(),
	    *r3 = resp_new();
	struct kdc_principal c7;
	struct kdc_cose_msg m;
	struct kdc_cwt c;
	uint8_t *spki = NULL, x[32], y[32];
	size_t spki_len = 0;

	/* revoked grant */
	req_init(&q, "lock1", "open");
	issue(f, &f->c1, &q, r);
	assert_true(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", "urn:dev:c1",
	    "lock1"), KDC_OK);
	expect_audit(f, "ace.grant.revoke", "urn:dev:c1", KDC_OK,
	    "tokens revoked=1");
	assert_false(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));
	/* even with the token row not revoked (the grant is read too) */
	db_exec(f, "UPDATE ace_tokens SET revoked_at = 0");
	assert_false(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));

	/* revoked device (asymmetric token, Sign1) */
	p256_key(&spki, &spki_len, x, y);
	rpk_principal(f, "urn:dev:c7", spki, spki_len, &c7);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c7",
	    "lock2", "open", false), KDC_OK);
	req_init(&q, "lock2", "open");
	req_ec2(&q, x, y);
	issue(f, &c7, &q, r2);
	{
		struct kdc_ace_introspection in;
		struct kdc_cose_keyinfo k;

		assert_int_equal(kdc_core_ace_introspect(f->core, "test",
		    &f->rs2, r2->access_token, r2->access_token_len, &in),
		    KDC_OK);
		assert_true(in.active);
		assert_string_equal(in.client, "urn:dev:c7");
		/* cnf: the client's public key */
		cnf_read(in.cnf, in.cnf_len, &k);
		assert_int_equal(k.kty, KDC_COSE_KTY_EC2);
		assert_memory_equal(k.x, x, 32);
		assert_memory_equal(k.y, y, 32);
	}
	/* lock1 is not its audience */
	assert_false(introspect_active(f, &f->rs1, r2->access_token,
	    r2->access_token_len));
	/* a Sign1 token is inactive without the AS key to check it */
	kdc_core_ace_set_key(f->core, NULL);
	assert_false(introspect_active(f, &f->rs2, r2->access_token,
	    r2->access_token_len));
	assert_int_equal(kdc_core_ace_key_load(f->core, f->k.dir), KDC_OK);
	assert_true(introspect_active(f, &f->rs2, r2->access_token,
	    r2->access_token_len));
	/* a signature byte flipped */
	asym_open(f, r2, &m, &c);
	r2->access_token[r2->access_token_len - 1] ^= 0x80;
	assert_false(introspect_active(f, &f->rs2, r2->access_token,
	    r2->access_token_len));
	r2->access_token[r2->access_token_len - 1] ^= 0x80;
	assert_true(introspect_active(f, &f->rs2, r2->access_token,
	    r2->access_token_len));
	assert_int_equal(kdc_core_device_revoke(f->core, "t", "urn:dev:c7"),
	    KDC_OK);
	assert_false(introspect_active(f, &f->rs2, r2->access_token,
	    r2->access_token_len));
	db_exec(f, "UPDATE ace_tokens SET revoked_at = 0");
	assert_false(introspect_active(f, &f->rs2, r2->access_token,
	    r2->access_token_len));
	/* a deleted device: its rows lose their device */
	assert_int_equal(kdc_core_device_delete(f->core, "t", "urn:dev:c7"),
	    KDC_OK);
	db_exec(f, "UPDATE ace_tokens SET revoked_at = 0");
	assert_int_equal(db_count(f, "SELECT count(*) FROM ace_tokens WHERE "
	    "device IS NULL"), 1);
	assert_false(introspect_active(f, &f->rs2, r2->access_token,
	    r2->access_token_len));
	/* a grant row gone (its token's grant NULL): inactive */
	req_init(&q, "lock2", "open");
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock2", "open", false), KDC_OK);
	issue(f, &f->c1, &q, r3);
	assert_true(introspect_active(f, &f->rs2, r3->access_token,
	    r3->access_token_len));
	db_exec(f, "PRAGMA foreign_keys = ON; UPDATE ace_tokens SET "
	    "grant_id = NULL WHERE client = 'urn:dev:c1' AND audience = "
	    "'lock2'");
	assert_false(introspect_active(f, &f->rs2, r3->access_token,
	    r3->access_token_len));
	kdc_free(spki);
	resp_free(r);
	resp_free(r2);
	resp_free(r3);
}

/* ---- the TRL ---------------------------------------------------------------- */

static void
b64url(const uint8_t *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = a[acc >> bits & 63];
		}
	}
	if (bits > 0)
		out[o++] = a[acc << (6 - bits) & 63];
	out[o] = '\0';
}

/* The RFC 9770 §4 hash, computed here with GnuTLS. */
static void
hash_ref(const uint8_t *tok, size_t len, uint8_t out[33])
{
	char *text = malloc(len * 4 / 3 + 4);

	assert_non_null(text);
	b64url(tok, len, text);
	out[0] = 0x01;
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, text,
	    strlen(text), out + 1), 0);
	free(text);
}

static void
test_token_hash(void **state)
{
	uint8_t in[8] = { 0xfb, 0xff, 0xbf, 0x00, 0x3e, 0x3f, 0x40, 0xff };
	uint8_t a[33], b[33], *big;
	char text[16];

	(void)state;
	/* our base64url first: RFC 4648 §10 style vectors, no padding */
	b64url((const uint8_t *)"foobar", 6, text);
	assert_string_equal(text, "Zm9vYmFy");
	b64url((const uint8_t *)"fooba", 5, text);
	assert_string_equal(text, "Zm9vYmE");
	b64url((const uint8_t *)"foob", 4, text);
	assert_string_equal(text, "Zm9vYg");
	b64url(in, 3, text);
	assert_string_equal(text, "-_-_");
	/* every padding case */
	for (size_t n = 0; n <= sizeof(in); n++) {
		kdc_ace_token_hash(in, n, a);
		hash_ref(in, n, b);
		assert_memory_equal(a, b, 33);
	}
	/* the empty string's hash, fixed */
	kdc_ace_token_hash(in, 0, a);
	assert_int_equal(a[0], 1);
	assert_int_equal(a[1], 0xe3);
	assert_int_equal(a[2], 0xb0);
	/* longer than any token we make */
	big = malloc(3 * KDC_COSE_MSG_MAX + 1);
	assert_non_null(big);
	for (size_t i = 0; i < 3 * KDC_COSE_MSG_MAX + 1; i++)
		big[i] = (uint8_t)(i * 7);
	kdc_ace_token_hash(big, 3 * KDC_COSE_MSG_MAX + 1, a);
	hash_ref(big, 3 * KDC_COSE_MSG_MAX + 1, b);
	assert_memory_equal(a, b, 33);
	free(big);
}

static void
test_trl(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *t1 = resp_new(), *t2 = resp_new(),
	    *t3 = resp_new();
	uint8_t hashes[4][KDC_ACE_TOKEN_HASH_LEN], h[33], cti[16];
	size_t n = 99;
	int64_t gen0, gen1, gen2, g;
	char hex[33];

	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock2", "open", false), KDC_OK);
	req_init(&q, "lock1", "open");
	issue(f, &f->c1, &q, t1);
	issue(f, &f->c1, &q, t2);
	req_init(&q, "lock2", "open");
	issue(f, &f->c1, &q, t3);

	/* nothing revoked: empty */
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs1, hashes, 4, &n,
	    &gen0), KDC_OK);
	assert_int_equal(n, 0);
	/* a client is no RS */
	assert_int_equal(kdc_core_ace_trl(f->core, &f->c1, hashes, 4, &n, &g),
	    KDC_ERR_DENIED);
	assert_int_equal(n, 0);

	/* t1 revoked: on lock1's TRL, not on lock2's; gen moved */
	sym_cti(t1, rskey1, cti);
	cti_hex(cti, hex);
	assert_int_equal(kdc_core_ace_token_revoke(f->core, "t", hex), KDC_OK);
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs1, hashes, 4, &n,
	    &gen1), KDC_OK);
	assert_true(gen1 > gen0);
	assert_int_equal(n, 1);
	hash_ref(t1->access_token, t1->access_token_len, h);
	assert_memory_equal(hashes[0], h, 33);
	kdc_ace_token_hash(t1->access_token, t1->access_token_len, h);
	assert_memory_equal(hashes[0], h, 33);
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs2, hashes, 4, &n, &g),
	    KDC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(g, gen1);
	/* capacity 0: TOO_LARGE (the caller pages) */
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs1, hashes, 0, &n, &g),
	    KDC_ERR_TOO_LARGE);
	/* revoking it again: REVOKED, gen unchanged */
	assert_int_equal(kdc_core_ace_token_revoke(f->core, "t", hex),
	    KDC_ERR_REVOKED);
	expect_audit(f, "ace.token.revoke", hex, KDC_ERR_REVOKED, NULL);

	/* t3 (lock2) revoked: lock2's TRL has it alone */
	sym_cti(t3, rskey2, cti);
	cti_hex(cti, hex);
	assert_int_equal(kdc_core_ace_token_revoke(f->core, "t", hex), KDC_OK);
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs2, hashes, 4, &n,
	    &gen2), KDC_OK);
	assert_true(gen2 > gen1);
	assert_int_equal(n, 1);
	hash_ref(t3->access_token, t3->access_token_len, h);
	assert_memory_equal(hashes[0], h, 33);
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs1, hashes, 4, &n, &g),
	    KDC_OK);
	assert_int_equal(n, 1);
	hash_ref(t1->access_token, t1->access_token_len, h);
	assert_memory_equal(hashes[0], h, 33);

	/* the grant revoked: t2 joins */
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", "urn:dev:c1",
	    "lock1"), KDC_OK);
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs1, hashes, 4, &n, &g),
	    KDC_OK);
	assert_true(g > gen2);
	assert_int_equal(n, 2);
	hash_ref(t2->access_token, t2->access_token_len, h);
	assert_true(memcmp(hashes[0], h, 33) == 0 ||
	    memcmp(hashes[1], h, 33) == 0);

	/* a damaged row (a hash that is not 33 bytes) is not published */
	db_exec(f, "UPDATE ace_tokens SET hash = substr(hash, 1, 32) WHERE "
	    "audience = 'lock2' AND kind = 'access' AND revoked_at <> 0");
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs2, hashes, 4, &n, &g),
	    KDC_OK);
	assert_int_equal(n, 0);

	/* an RS whose own device is revoked may no longer ask */
	assert_int_equal(kdc_core_device_revoke(f->core, "t", "lock2"), KDC_OK);
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs2, hashes, 4, &n, &g),
	    KDC_ERR_REVOKED);
	assert_int_equal(n, 0);
	{
		struct kdc_ace_introspection in;

		assert_int_equal(kdc_core_ace_introspect(f->core, "test",
		    &f->rs2, t3->access_token, t3->access_token_len, &in),
		    KDC_ERR_REVOKED);
		assert_false(in.active);
		expect_audit(f, "ace.introspect", "lock2", KDC_ERR_REVOKED,
		    NULL);
	}

	/* expired ones drop off */
	fake_now += LIFETIME;
	assert_int_equal(kdc_core_ace_trl(f->core, &f->rs1, hashes, 4, &n, &g),
	    KDC_OK);
	assert_int_equal(n, 0);
	resp_free(t1);
	resp_free(t2);
	resp_free(t3);
}

/* ---- administration -------------------------------------------------------- */

struct tok_seen {
	size_t	 n, active, refresh;
	char	 last_cti[33];
};

static kdc_err
tok_cb(void *arg, const struct kdc_ace_token_row *t)
{
	struct tok_seen *s = arg;

	s->n++;
	if (t->revoked_at == 0)
		s->active++;
	if (strcmp(t->kind, "refresh") == 0)
		s->refresh++;
	snprintf(s->last_cti, sizeof(s->last_cti), "%s", t->cti_hex);
	return KDC_OK;
}

struct rs_seen {
	size_t	 n;
	bool	 lock2_both;
};

static kdc_err
rs_cb(void *arg, const struct kdc_ace_rs_info *rs)
{
	struct rs_seen *s = arg;

	s->n++;
	if (strcmp(rs->audience, "lock2") == 0)
		s->lock2_both = rs->has_key && rs->has_pubkey;
	return KDC_OK;
}

static void
test_admin(void **state)
{
	struct fx *f = *state;
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = resp_new();
	struct tok_seen s;
	struct rs_seen rs;
	uint8_t junk[91] = { 0x30, 0x59 }, cti[16];
	char hex[33];
	struct kdc_audience a;

	/* rs add refusals, each audited */
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "lock1", rskey1, 16,
	    NULL, 0, 1), KDC_ERR_EXISTS);
	expect_audit(f, "ace.rs.add", "lock1", KDC_ERR_EXISTS, NULL);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "lock9", rskey1, 15,
	    NULL, 0, 1), KDC_ERR_INVALID_ARG);
	expect_audit(f, "ace.rs.add", "lock9", KDC_ERR_INVALID_ARG, NULL);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "lock9", NULL, 0,
	    NULL, 0, 1), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "lock9", rskey1, 16,
	    NULL, 0, 2), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "lock9", NULL, 0,
	    junk, sizeof(junk), 1), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "lwm2m", rskey1, 16,
	    NULL, 0, 1), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "bad name", rskey1,
	    16, NULL, 0, 1), KDC_ERR_INVALID_ARG);
	expect_audit(f, "ace.rs.add", "?", KDC_ERR_INVALID_ARG, NULL);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", NULL, rskey1, 16,
	    NULL, 0, 1), KDC_ERR_INVALID_ARG);
	/* an audience of another kind keeps it */
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "broker");
	a.kind = KDC_AUD_MQTT;
	snprintf(a.uri, sizeof(a.uri), "mqtts://broker.example:8883");
	assert_int_equal(kdc_store_audience_add(f->k.st, &a), KDC_OK);
	assert_int_equal(kdc_core_ace_rs_add(f->core, "t", "broker", rskey1,
	    16, NULL, 0, 1), KDC_ERR_EXISTS);
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(kdc_core_ace_rs_list(f->core, rs_cb, &rs), KDC_OK);
	assert_int_equal(rs.n, 3);
	assert_true(rs.lock2_both);

	/* grant refusals */
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:none",
	    "lock1", "open", false), KDC_ERR_UNKNOWN_DEVICE);
	expect_audit(f, "ace.grant", "urn:dev:none", KDC_ERR_UNKNOWN_DEVICE,
	    NULL);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "nosuch", "open", false), KDC_ERR_UNKNOWN_AUDIENCE);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "broker", "open", false), KDC_ERR_UNKNOWN_AUDIENCE);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "bad name", "open", false), KDC_ERR_UNKNOWN_AUDIENCE);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", NULL, "lock1",
	    "open", false), KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock1", "open  close", false), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock1", "", false), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock1", NULL, false), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock1", "open\"", false), KDC_ERR_INVALID_ARG);
	expect_audit(f, "ace.grant", "urn:dev:c1", KDC_ERR_INVALID_ARG, NULL);
	assert_false(kdc_ace_scope_ok("open "));
	assert_false(kdc_ace_scope_ok(" open"));
	assert_false(kdc_ace_scope_ok("a\\b"));
	assert_false(kdc_ace_scope_ok("a\tb"));
	assert_true(kdc_ace_scope_ok("a b c"));
	{
		char many[64] = "";

		for (int i = 0; i < 17; i++)
			strcat(many, i ? " s" : "s");
		assert_false(kdc_ace_scope_ok(many));	/* 17 tokens */
		many[strlen(many) - 2] = '\0';
		assert_true(kdc_ace_scope_ok(many));	/* 16 */
	}
	{
		char tok65[70];

		memset(tok65, 'x', 65);
		tok65[65] = '\0';
		assert_false(kdc_ace_scope_ok(tok65));
		tok65[64] = '\0';
		assert_true(kdc_ace_scope_ok(tok65));
	}

	/* a second grant replaces the first, revoking its tokens */
	req_init(&q, "lock1", "close");
	issue(f, &f->c1, &q, r);
	sym_cti(r, rskey1, cti);
	cti_hex(cti, hex);
	assert_true(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock1", "open", false), KDC_OK);
	expect_audit(f, "ace.grant", "urn:dev:c1", KDC_OK,
	    "replaced the previous grant");
	assert_false(introspect_active(f, &f->rs1, r->access_token,
	    r->access_token_len));
	req_init(&q, "lock1", "close");
	expect_refused(f, &f->c1, &q, KDC_ACE_INVALID_SCOPE, KDC_ERR_DENIED,
	    "scope not granted");
	assert_int_equal(db_count(f, "SELECT count(*) FROM ace_grants WHERE "
	    "revoked_at = 0"), 1);

	/* tokens: all, active only */
	memset(&s, 0, sizeof(s));
	assert_int_equal(kdc_core_ace_tokens(f->core, false, tok_cb, &s),
	    KDC_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.last_cti, hex);
	memset(&s, 0, sizeof(s));
	assert_int_equal(kdc_core_ace_tokens(f->core, true, tok_cb, &s),
	    KDC_OK);
	assert_int_equal(s.n, 0);

	/* grant revoke / token revoke refusals */
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", "urn:dev:c1",
	    "lock2"), KDC_ERR_NOT_FOUND);
	expect_audit(f, "ace.grant.revoke", "urn:dev:c1", KDC_ERR_NOT_FOUND,
	    NULL);
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", "urn:dev:no",
	    "lock1"), KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", "urn:dev:c1",
	    "bad name"), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", NULL,
	    "lock1"), KDC_ERR_NOT_FOUND);
	expect_audit(f, "ace.grant.revoke", "?", KDC_ERR_NOT_FOUND, NULL);
	assert_int_equal(kdc_core_ace_grant_revoke(f->core, "t", "urn:dev:c1",
	    NULL), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_core_ace_token_revoke(f->core, "t",
	    "00112233445566778899aabbccddeeff"), KDC_ERR_NOT_FOUND);
	expect_audit(f, "ace.token.revoke", "00112233445566778899aabbccddeeff",
	    KDC_ERR_NOT_FOUND, NULL);
	assert_int_equal(kdc_core_ace_token_revoke(f->core, "t", "0011"),
	    KDC_ERR_NOT_FOUND);
	expect_audit(f, "ace.token.revoke", "?", KDC_ERR_NOT_FOUND, NULL);
	assert_int_equal(kdc_core_ace_token_revoke(f->core, "t",
	    "zz112233445566778899aabbccddeeff"), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_core_ace_token_revoke(f->core, "t", NULL),
	    KDC_ERR_NOT_FOUND);
	/* a revoked device gets no grant */
	assert_int_equal(kdc_core_device_revoke(f->core, "t", "urn:dev:c1"),
	    KDC_OK);
	assert_int_equal(kdc_core_ace_grant(f->core, "t", "urn:dev:c1",
	    "lock2", "open", false), KDC_ERR_REVOKED);
	expect_audit(f, "ace.grant", "urn:dev:c1", KDC_ERR_REVOKED, NULL);
	resp_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_symmetric_token, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cnonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asymmetric_token, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_asymmetric, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_introspect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_introspect_revocations,
		    setup, teardown),
		cmocka_unit_test(test_token_hash),
		cmocka_unit_test_setup_teardown(test_trl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
