/*
 * test_core_ace_cache.c: the policy rows a core keeps between token
 * requests (core/ace_cache.c, core/ace.c tok_begin()) never outlive what
 * made them usable. A second store handle on the same file with a core of
 * its own is what the CLI is (`iotkdc ace revoke-grant`, `device revoke`,
 * `cred revoke`, `ace grant`): each revocation it commits must be seen by
 * the very next token request of the first core, whose cache holds the
 * rows from the request before. Also: a refusal decided from a kept row
 * is decided again when the generation moved (a grant replaced by a wider
 * one), expiry is checked against the clock, and, to show the cache is in
 * use at all, a change made under the core with no generation bump
 * (sqlite3 on the file: no tool of ours does that) is not seen until the
 * generation moves.
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
#include <sqlite3.h>

#include "core/ace.h"
#include "core/config.h"
#include "core/core.h"
#include "store/store.h"
#include "testkdc.h"
#include "testutil.h"

static const uint8_t wkey[32] = { 0x43, 0xac };
static const uint8_t rskey[16] = { 0xb1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	11, 12, 13, 14, 15 };
static int64_t fake_now;

static int64_t
clock_fn(void)
{
	return fake_now;
}

struct fx {
	struct kdc_test_kdc	 k;		/* the daemon's core */
	struct kdc_config	 cfg;
	struct kdc_store	*st2;		/* the CLI's handle on kdc.db */
	struct kdc_core		*cli;		/* ... and its core */
	sqlite3			*db;		/* raw: changes under the cores */
	struct kdc_principal	 c1;		/* PSK client of lock1 */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kdc_device_spec s;
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);
	char db[600];

	assert_non_null(f);
	kdc_config_defaults(&f->cfg);
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_DB_FILE);
	fake_now = (int64_t)time(NULL);
	kdc_core_set_clock(f->k.core, clock_fn);
	assert_int_equal(kdc_core_ace_key_load(f->k.core, f->k.dir), KDC_OK);
	snprintf(db, sizeof(db), "%s/kdc.db", f->k.dir);
	assert_int_equal(kdc_store_open(db, 0, &f->st2), KDC_OK);
	assert_int_equal(kdc_core_new(f->st2, f->k.kr, f->k.ca, &f->cfg,
	    &f->cli), KDC_OK);
	assert_int_equal(sqlite3_open_v2(db, &f->db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(f->db, 5000);

	assert_int_equal(kdc_core_ace_rs_add(f->k.core, "t", "lock1", rskey,
	    16, NULL, 0, KDC_ACE_PROFILE_COAP_DTLS), KDC_OK);
	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "urn:dev:c1");
	snprintf(s.psk_identity, sizeof(s.psk_identity), "c1");
	s.type = KDC_TYPE_PSK;
	s.psk_len = 16;
	memset(s.psk, 0x31, s.psk_len);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", "c1", psk,
	    &psk_len, &f->c1), KDC_OK);
	assert_int_equal(kdc_core_ace_grant(f->k.core, "t", "urn:dev:c1",
	    "lock1", "open close", false), KDC_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	sqlite3_close(f->db);
	kdc_core_free(f->cli);
	kdc_store_close(f->st2);
	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
}

/* A token request of c1 for lock1 and scope on the daemon's core: its
 * kdc_err; *ace_error the RFC 9200 error (0 on success). */
static kdc_err
ask(struct fx *f, const char *scope, int *ace_error)
{
	struct kdc_ace_token_req q;
	struct kdc_ace_token_resp *r = calloc(1, sizeof(*r));
	kdc_err e;

	assert_non_null(r);
	memset(&q, 0, sizeof(q));
	q.grant_type = KDC_ACE_GRANT_CLIENT_CREDENTIALS;
	q.audience = "lock1";
	q.audience_len = 5;
	q.scope = scope;
	q.scope_len = strlen(scope);
	e = kdc_core_ace_token(f->k.core, "test", &f->c1, &q, r);
	*ace_error = r->error;
	if (e == KDC_OK)
		assert_true(r->access_token_len > 0);
	else
		assert_int_equal(r->access_token_len, 0);
	kdc_ace_token_resp_wipe(r);
	free(r);
	return e;
}

/* The last audit record is a refusal of c1's token with detail why. */
static void
expect_refusal_audited(struct fx *f, kdc_err want, const char *why)
{
	struct kdc_audit_rec last;

	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	assert_string_equal(last.action, "ace.token");
	assert_string_equal(last.subject, "urn:dev:c1");
	assert_string_equal(last.outcome, kdc_err_name(want));
	if (strstr(last.detail, why) == NULL)
		fail_msg("audit detail \"%s\" lacks \"%s\"", last.detail, why);
}

/* Two tokens: the second from the rows the first kept. */
static void
warm(struct fx *f)
{
	int e;

	assert_int_equal(ask(f, "open", &e), KDC_OK);
	assert_int_equal(ask(f, "open", &e), KDC_OK);
	assert_int_equal(e, 0);
}

static void
sql(struct fx *f, const char *q)
{
	char *err = NULL;

	if (sqlite3_exec(f->db, q, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", q, err != NULL ? err : "?");
}

/* `iotkdc ace revoke-grant` in another process: the next request has no
 * grant. */
static void
test_grant_revoked_elsewhere(void **state)
{
	struct fx *f = *state;
	int e;

	warm(f);
	assert_int_equal(kdc_core_ace_grant_revoke(f->cli, "cli",
	    "urn:dev:c1", "lock1"), KDC_OK);
	assert_int_equal(ask(f, "open", &e), KDC_ERR_DENIED);
	assert_int_equal(e, KDC_ACE_UNAUTHORIZED_CLIENT);
	expect_refusal_audited(f, KDC_ERR_DENIED, "no grant");
	/* and a grant given again is seen too (nothing refused is kept) */
	assert_int_equal(kdc_core_ace_grant(f->cli, "cli", "urn:dev:c1",
	    "lock1", "close", false), KDC_OK);
	assert_int_equal(ask(f, "close", &e), KDC_OK);
	assert_int_equal(ask(f, "open", &e), KDC_ERR_DENIED);
	assert_int_equal(e, KDC_ACE_INVALID_SCOPE);
}

/* `iotkdc device revoke`: the client is no longer valid. */
static void
test_device_revoked_elsewhere(void **state)
{
	struct fx *f = *state;
	int e;

	warm(f);
	assert_int_equal(kdc_core_device_revoke(f->cli, "cli", "urn:dev:c1"),
	    KDC_OK);
	assert_int_equal(ask(f, "open", &e), KDC_ERR_REVOKED);
	assert_int_equal(e, KDC_ACE_INVALID_CLIENT);
	expect_refusal_audited(f, KDC_ERR_REVOKED, "no longer valid");
}

/* `iotkdc cred revoke` of the credential the client authenticated with. */
static void
test_cred_revoked_elsewhere(void **state)
{
	struct fx *f = *state;
	int e;

	warm(f);
	assert_int_equal(kdc_core_cred_revoke(f->cli, "cli", f->c1.cred_id),
	    KDC_OK);
	assert_int_equal(ask(f, "open", &e), KDC_ERR_REVOKED);
	assert_int_equal(e, KDC_ACE_INVALID_CLIENT);
}

/* `iotkdc device delete`: the rows are gone. */
static void
test_device_deleted_elsewhere(void **state)
{
	struct fx *f = *state;
	int e;

	warm(f);
	assert_int_equal(kdc_core_device_delete(f->cli, "cli", "urn:dev:c1"),
	    KDC_OK);
	assert_int_not_equal(ask(f, "open", &e), KDC_OK);
	assert_int_equal(e, KDC_ACE_INVALID_CLIENT);
}

/* A grant replaced by a wider one: the refusal the kept (narrower) grant
 * would give is decided again from the store; replaced by a narrower one:
 * the scope it dropped is refused at once. */
static void
test_grant_replaced_elsewhere(void **state)
{
	struct fx *f = *state;
	int e;

	warm(f);
	assert_int_equal(kdc_core_ace_grant(f->cli, "cli", "urn:dev:c1",
	    "lock1", "open close lock", false), KDC_OK);
	assert_int_equal(ask(f, "lock", &e), KDC_OK);
	assert_int_equal(ask(f, "lock", &e), KDC_OK);
	assert_int_equal(kdc_core_ace_grant(f->cli, "cli", "urn:dev:c1",
	    "lock1", "close", false), KDC_OK);
	assert_int_equal(ask(f, "lock", &e), KDC_ERR_DENIED);
	assert_int_equal(e, KDC_ACE_INVALID_SCOPE);
	expect_refusal_audited(f, KDC_ERR_DENIED, "scope not granted");
	assert_int_equal(ask(f, "close", &e), KDC_OK);
}

/* A credential's end is its not_after, checked on the clock at every
 * request (no revocation marks it). */
static void
test_expiry_on_the_clock(void **state)
{
	struct fx *f = *state;
	char q[160];
	int e;

	snprintf(q, sizeof(q), "UPDATE credentials SET not_after = %lld"
	    " WHERE id = %lld", (long long)(fake_now + 60),
	    (long long)f->c1.cred_id);
	sql(f, q);
	warm(f);
	fake_now += 59;
	assert_int_equal(ask(f, "open", &e), KDC_OK);
	fake_now += 1;
	assert_int_equal(ask(f, "open", &e), KDC_ERR_EXPIRED);
	assert_int_equal(e, KDC_ACE_INVALID_CLIENT);
	expect_refusal_audited(f, KDC_ERR_EXPIRED, "no longer valid");
}

/* The cache is in use, and keyed by the generation: a grant revoked under
 * the core without the bump every tool of ours makes is not seen (the
 * kept row answers) until the generation moves. */
static void
test_generation_is_the_key(void **state)
{
	struct fx *f = *state;
	int e;

	warm(f);
	sql(f, "UPDATE ace_grants SET revoked_at = 1 WHERE revoked_at = 0");
	assert_int_equal(ask(f, "open", &e), KDC_OK);
	sql(f, "INSERT INTO meta(key, val) VALUES('crl_gen', '1')"
	    " ON CONFLICT(key) DO UPDATE SET val = val + 1");
	assert_int_equal(ask(f, "open", &e), KDC_ERR_DENIED);
	assert_int_equal(e, KDC_ACE_UNAUTHORIZED_CLIENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_grant_revoked_elsewhere,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_revoked_elsewhere,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cred_revoked_elsewhere,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_deleted_elsewhere,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_replaced_elsewhere,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_on_the_clock,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation_is_the_key,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
