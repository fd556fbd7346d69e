/* test_store_ace.c: the ACE AS tables (store/ace.h, schema step 9). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/alloc.h"
#include "store/ace.h"
#include "store/store.h"
#include "testutil.h"

static int64_t
add_device(struct kdc_store *st, const char *dev_id)
{
	struct kdc_device d;

	memset(&d, 0, sizeof(d));
	snprintf(d.dev_id, sizeof(d.dev_id), "%s", dev_id);
	snprintf(d.profile, sizeof(d.profile), "default");
	assert_int_equal(kdc_store_device_add(st, &d), KDC_OK);
	return d.id;
}

static void
add_rs(struct kdc_store *st, const char *aud)
{
	struct kdc_audience a;
	struct kdc_ace_rs_row rs;
	uint8_t spki[91] = { 0x30 };

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", aud);
	a.kind = KDC_AUD_ACE_RS;
	assert_int_equal(kdc_store_audience_add(st, &a), KDC_OK);
	memset(&rs, 0, sizeof(rs));
	snprintf(rs.audience, sizeof(rs.audience), "%s", aud);
	rs.profile = 1;
	rs.spki = spki;
	rs.spki_len = sizeof(spki);
	assert_int_equal(kdc_store_ace_rs_add(st, &rs), KDC_OK);
	assert_true(rs.id > 0);
	/* one RS per audience */
	assert_int_equal(kdc_store_ace_rs_add(st, &rs), KDC_ERR_EXISTS);
}

static int64_t
add_grant(struct kdc_store *st, int64_t dev, const char *aud)
{
	struct kdc_ace_grant_row g;

	memset(&g, 0, sizeof(g));
	g.device = dev;
	snprintf(g.audience, sizeof(g.audience), "%s", aud);
	snprintf(g.scopes, sizeof(g.scopes), "open close");
	g.refresh = true;
	assert_int_equal(kdc_store_ace_grant_add(st, &g), KDC_OK);
	return g.id;
}

static void
add_token(struct kdc_store *st, uint8_t tag, int64_t dev, int64_t grant,
    const char *aud, int64_t exp)
{
	struct kdc_ace_token_rec t;

	memset(&t, 0, sizeof(t));
	memset(t.cti, tag, 16);
	t.cti_len = 16;
	t.device = dev;
	snprintf(t.client, sizeof(t.client), "c%d", (int)dev);
	t.grant = grant;
	snprintf(t.audience, sizeof(t.audience), "%s", aud);
	snprintf(t.scope, sizeof(t.scope), "open");
	t.kind = KDC_ACE_ACCESS;
	t.pop = KDC_ACE_POP_SYMMETRIC;
	t.hash[0] = 1;
	memset(t.hash + 1, tag, 32);
	t.hash_len = 33;
	t.iat = 1000;
	t.exp = exp;
	assert_int_equal(kdc_store_ace_token_add(st, &t), KDC_OK);
}

struct seen {
	uint8_t	tags[16];
	size_t	n;
};

static void
trl_cb(void *arg, const uint8_t *hash, size_t len)
{
	struct seen *s = arg;

	assert_int_equal(len, 33);
	assert_true(s->n < 16);
	s->tags[s->n++] = hash[1];
}

static size_t
trl(struct kdc_store *st, const char *aud, int64_t now, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(kdc_store_ace_trl(st, aud, now, trl_cb, s), KDC_OK);
	return s->n;
}

static void
test_tables(void **state)
{
	struct kdc_store *st = NULL;
	struct kdc_ace_grant_row g;
	struct kdc_ace_token_rec t, *v = NULL;
	struct seen s;
	uint8_t cti[16];
	size_t n = 0;
	int64_t d1, d2, g1, g2;

	(void)state;
	assert_int_equal(kdc_store_open(":memory:", 1, &st), KDC_OK);
	assert_int_equal(kdc_store_schema_version(st), 12);
	d1 = add_device(st, "c1");
	d2 = add_device(st, "c2");
	add_rs(st, "lock");
	add_rs(st, "lamp");
	g1 = add_grant(st, d1, "lock");
	g2 = add_grant(st, d2, "lock");
	/* one live grant per pair; an unknown audience is refused */
	{
		struct kdc_ace_grant_row x;

		memset(&x, 0, sizeof(x));
		x.device = d1;
		snprintf(x.audience, sizeof(x.audience), "lock");
		snprintf(x.scopes, sizeof(x.scopes), "open");
		assert_int_equal(kdc_store_ace_grant_add(st, &x),
		    KDC_ERR_EXISTS);
		snprintf(x.audience, sizeof(x.audience), "nowhere");
		assert_int_equal(kdc_store_ace_grant_add(st, &x),
		    KDC_ERR_NOT_FOUND);
	}
	assert_int_equal(kdc_store_ace_grant_get(st, d1, "lock", &g), KDC_OK);
	assert_int_equal(g.id, g1);
	assert_string_equal(g.scopes, "open close");
	assert_true(g.refresh);

	add_token(st, 0xa1, d1, g1, "lock", 5000);
	add_token(st, 0xa2, d1, g1, "lock", 5000);
	add_token(st, 0xb1, d2, g2, "lock", 5000);
	add_token(st, 0xb2, d2, g2, "lock", 1500);	/* expires at 1500 */
	add_token(st, 0xc1, d1, 0, "lamp", 5000);
	memset(cti, 0xa1, 16);
	assert_int_equal(kdc_store_ace_token_get(st, cti, 16, &t), KDC_OK);
	assert_int_equal(t.device, d1);
	assert_int_equal(t.grant, g1);
	assert_int_equal(t.hash_len, 33);
	assert_int_equal(t.revoked_at, 0);
	assert_int_equal(trl(st, "lock", 1200, &s), 0);

	/* one token */
	assert_int_equal(kdc_store_ace_token_revoke(st, cti, 16, 1100),
	    KDC_OK);
	assert_int_equal(kdc_store_ace_token_revoke(st, cti, 16, 1100),
	    KDC_ERR_REVOKED);
	memset(cti, 0xee, 16);
	assert_int_equal(kdc_store_ace_token_revoke(st, cti, 16, 1100),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(trl(st, "lock", 1200, &s), 1);
	assert_int_equal(s.tags[0], 0xa1);
	assert_int_equal(trl(st, "lamp", 1200, &s), 0);

	/* a grant, with its tokens (and only its) */
	assert_int_equal(kdc_store_ace_grant_revoke(st, g2, 1100, &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_int_equal(kdc_store_ace_grant_revoke(st, g2, 1100, &n),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_ace_grant_get(st, d2, "lock", &g),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(trl(st, "lock", 1200, &s), 3);
	/* an expired one leaves the TRL */
	assert_int_equal(trl(st, "lock", 1600, &s), 2);

	/* a device's tokens, every audience */
	assert_int_equal(kdc_store_ace_tokens_revoke_device(st, d1, 1300, &n),
	    KDC_OK);
	assert_int_equal(n, 2);		/* a2 and c1; a1 was revoked */
	assert_int_equal(trl(st, "lamp", 1600, &s), 1);
	assert_int_equal(s.tags[0], 0xc1);

	/* list: all, and active (none left) */
	assert_int_equal(kdc_store_ace_token_list(st, false, 1200, &v, &n),
	    KDC_OK);
	assert_int_equal(n, 5);
	kdc_free(v);
	assert_int_equal(kdc_store_ace_token_list(st, true, 1200, &v, &n),
	    KDC_OK);
	assert_int_equal(n, 0);
	kdc_free(v);

	/* the device deleted: its grant goes, its revoked tokens stay (TRL:
	 * a1, a2 of c1, b1, b2 of the revoked grant) */
	assert_int_equal(kdc_store_device_delete(st, d1), KDC_OK);
	assert_int_equal(kdc_store_ace_grant_get_id(st, g1, &g),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(trl(st, "lock", 1200, &s), 4);
	memset(cti, 0xa2, 16);
	assert_int_equal(kdc_store_ace_token_get(st, cti, 16, &t), KDC_OK);
	assert_int_equal(t.device, 0);
	assert_int_equal(t.grant, 0);
	assert_string_equal(t.client, "c1");
	assert_int_not_equal(t.revoked_at, 0);
	kdc_store_close(st);
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* A schema-8 store (the ACE tables dropped, version set back) migrates
 * to 9 with its devices and audiences kept. */
static void
test_migrate_from_8(void **state)
{
	struct kdc_store *st = NULL;
	struct kdc_device *d = NULL;
	struct kdc_audience a;
	char *dir = kdc_test_tmpdir(), path[512];
	int64_t dev;

	(void)state;
	snprintf(path, sizeof(path), "%s/iotkdc.db", dir);
	assert_int_equal(kdc_store_open(path, 1, &st), KDC_OK);
	dev = add_device(st, "urn:dev:old");
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "old-rs");
	a.kind = KDC_AUD_ACE_RS;
	snprintf(a.uri, sizeof(a.uri), "coaps://rs.example");
	assert_int_equal(kdc_store_audience_add(st, &a), KDC_OK);
	kdc_store_close(st);
	st = NULL;
	raw_exec(path, "BEGIN; DROP TABLE tdd_events; DROP TABLE tdd_readers; DROP TABLE tdd_things; DROP TABLE principal_groups; DROP TABLE users;"
	    " DROP TABLE ocf_devices;"
	    "DROP INDEX cred_ocf_audience; DROP TABLE ace_tokens;"
	    "DROP TABLE ace_grants; DROP TABLE ace_rs;"
	    "PRAGMA user_version = 8; COMMIT;");

	assert_int_equal(kdc_store_open(path, 0, &st), KDC_OK);
	assert_int_equal(kdc_store_schema_version(st), 12);
	assert_int_equal(kdc_store_device_get(st, "urn:dev:old", &d), KDC_OK);
	assert_int_equal(d->id, dev);
	kdc_device_free(d);
	assert_int_equal(kdc_store_audience_get(st, "old-rs", &a), KDC_OK);
	assert_string_equal(a.uri, "coaps://rs.example");
	/* the new tables work on the old rows */
	{
		struct kdc_ace_rs_row rs, *got = NULL;
		uint8_t w[45] = { 1 };

		memset(&rs, 0, sizeof(rs));
		snprintf(rs.audience, sizeof(rs.audience), "old-rs");
		rs.profile = 1;
		rs.key_wrapped = w;
		rs.key_wrapped_len = sizeof(w);
		assert_int_equal(kdc_store_ace_rs_add(st, &rs), KDC_OK);
		assert_int_equal(kdc_store_ace_rs_get(st, "old-rs", &got),
		    KDC_OK);
		assert_int_equal(got->key_wrapped_len, sizeof(w));
		assert_null(got->spki);
		kdc_ace_rs_row_free(got);
	}
	add_grant(st, dev, "old-rs");
	kdc_store_close(st);
	kdc_test_rmtree(dir);
	free(dir);
}

/* A token of kind k with hash byte tag (and cti byte ctag). */
static kdc_err
put_token(struct kdc_store *st, int64_t dev, int64_t grant, uint8_t ctag,
    uint8_t tag, enum kdc_ace_token_kind k)
{
	struct kdc_ace_token_rec t;

	memset(&t, 0, sizeof(t));
	memset(t.cti, ctag, 16);
	t.cti_len = 16;
	t.device = dev;
	snprintf(t.client, sizeof(t.client), "c");
	t.grant = grant;
	snprintf(t.audience, sizeof(t.audience), "lock");
	snprintf(t.scope, sizeof(t.scope), "open");
	t.kind = k;
	t.pop = KDC_ACE_POP_SYMMETRIC;
	memset(t.hash, tag, 32);
	t.hash_len = 32;
	t.iat = 1000;
	t.exp = 5000;
	return kdc_store_ace_token_add(st, &t);
}

/* The hash index (schema 10) holds refresh tokens: one found by its
 * hash, a second with the same hash refused; an access token's hash is
 * neither indexed nor found. A schema-9 store (its index on every
 * token) migrates to it, its rows kept. */
static void
test_hash_index(void **state)
{
	struct kdc_store *st = NULL;
	struct kdc_ace_token_rec t;
	char *dir = kdc_test_tmpdir(), path[512];
	uint8_t h[32];
	int64_t dev, g;

	(void)state;
	snprintf(path, sizeof(path), "%s/iotkdc.db", dir);
	assert_int_equal(kdc_store_open(path, 1, &st), KDC_OK);
	dev = add_device(st, "urn:dev:h");
	add_rs(st, "lock");
	g = add_grant(st, dev, "lock");
	assert_int_equal(put_token(st, dev, g, 1, 0x11, KDC_ACE_REFRESH),
	    KDC_OK);
	kdc_store_close(st);
	st = NULL;
	raw_exec(path, "BEGIN; DROP TABLE tdd_events; DROP TABLE tdd_readers; DROP TABLE tdd_things; DROP TABLE principal_groups; DROP TABLE users;"
	    " DROP TABLE ocf_devices;"
	    "DROP INDEX cred_ocf_audience; DROP INDEX ace_token_hash;"
	    "CREATE UNIQUE INDEX ace_token_hash ON ace_tokens(hash);"
	    "PRAGMA user_version = 9; COMMIT;");

	assert_int_equal(kdc_store_open(path, 0, &st), KDC_OK);
	assert_int_equal(kdc_store_schema_version(st), 12);
	memset(h, 0x11, sizeof(h));
	assert_int_equal(kdc_store_ace_token_by_hash(st, h, 32, &t), KDC_OK);
	assert_int_equal(t.cti[0], 1);
	assert_int_equal(t.kind, KDC_ACE_REFRESH);
	assert_int_equal(put_token(st, dev, g, 2, 0x11, KDC_ACE_REFRESH),
	    KDC_ERR_EXISTS);
	/* access tokens: not in the index, so not found by hash */
	assert_int_equal(put_token(st, dev, g, 3, 0x33, KDC_ACE_ACCESS),
	    KDC_OK);
	assert_int_equal(put_token(st, dev, g, 4, 0x33, KDC_ACE_ACCESS),
	    KDC_OK);
	memset(h, 0x33, sizeof(h));
	assert_int_equal(kdc_store_ace_token_by_hash(st, h, 32, &t),
	    KDC_ERR_NOT_FOUND);
	memset(h, 0x11, sizeof(h));
	assert_int_equal(kdc_store_ace_token_by_hash(st, h, 32, &t), KDC_OK);
	kdc_store_close(st);
	kdc_test_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_migrate_from_8),
		cmocka_unit_test(test_hash_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
