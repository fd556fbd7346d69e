/* test_store_lwm2m.c: LwM2M registrations in the store (schema step 2). */
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
#include "store/lwm2m_reg.h"
#include "store/store.h"
#include "store/store_int.h"
#include "testutil.h"

static struct kdc_store *
open_mem(void)
{
	struct kdc_store *st = NULL;

	assert_int_equal(kdc_store_open(":memory:", 1, &st), KDC_OK);
	return st;
}

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

static struct kdc_lwm2m_reg
mk_reg(int64_t dev, const char *ep, int64_t lt, int64_t at)
{
	struct kdc_lwm2m_reg g;

	memset(&g, 0, sizeof(g));
	g.device = dev;
	snprintf(g.ep, sizeof(g.ep), "%s", ep);
	g.lifetime = lt;
	snprintf(g.version, sizeof(g.version), "1.1");
	snprintf(g.binding, sizeof(g.binding), "U");
	snprintf(g.addr, sizeof(g.addr), "127.0.0.1:5683");
	g.registered = at;
	return g;
}

static void
test_schema_version(void **state)
{
	struct kdc_store *st = open_mem();

	(void)state;
	assert_int_equal(kdc_store_schema_version(st), 12);
	kdc_store_close(st);
}

/* A store made by a version-1 binary is migrated on open, keeping rows. */
static void
test_migrate_from_1(void **state)
{
	char *dir = kdc_test_tmpdir(), path[512];
	struct kdc_store *st = NULL;
	struct kdc_device *d = NULL;
	struct kdc_lwm2m_reg g;
	struct kdc_cred *c = NULL;
	sqlite3 *db;
	int64_t dev;

	(void)state;
	snprintf(path, sizeof(path), "%s/v1.db", dir);
	st = open_mem();
	kdc_store_close(st);
	assert_int_equal(kdc_store_open(path, 1, &st), KDC_OK);
	kdc_store_close(st);
	/* turn it back into a version-1 file */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE tdd_events; DROP TABLE tdd_readers; DROP TABLE tdd_things;"
	    "DROP TABLE principal_groups; DROP TABLE users;"
	    "DROP TABLE ocf_devices;"
	    "DROP INDEX cred_ocf_audience; DROP TABLE ace_tokens;"
	    "DROP TABLE ace_grants; DROP TABLE ace_rs; DROP TABLE audiences;"
	    "DROP INDEX cred_ended; DROP INDEX cred_crl;"
	    "DROP TABLE lwm2m_regs;"
	    "CREATE TABLE profiles(name TEXT PRIMARY KEY NOT NULL,"
	    " cred_type TEXT NOT NULL, audience TEXT NOT NULL DEFAULT '',"
	    " lifetime INTEGER NOT NULL DEFAULT 0);"
	    "ALTER TABLE credentials DROP COLUMN on_use;"
	    "INSERT INTO profiles(name, cred_type) VALUES('default','psk');"
	    "INSERT INTO devices(dev_id, profile, created)"
	    " VALUES('urn:dev:old', 'default', 1);"
	    "INSERT INTO credentials(device, kind, type, status, audience,"
	    " created, status_at) VALUES(1, 'operational', 'x509', 'pending',"
	    " 'lwm2m', 1, 1);"
	    "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(kdc_store_open(path, 0, &st), KDC_OK);
	assert_int_equal(kdc_store_schema_version(st), 12);
	assert_int_equal(kdc_store_device_get(st, "urn:dev:old", &d), KDC_OK);
	dev = d->id;
	kdc_device_free(d);
	/* a credential from before migration 4 is not activated by use */
	assert_int_equal(kdc_store_cred_get_live(st, dev, "lwm2m",
	    KDC_CRED_PENDING, &c), KDC_OK);
	assert_false(c->on_use);
	kdc_cred_free(c);
	g = mk_reg(dev, "urn:dev:old", 300, 0);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g), KDC_OK);
	kdc_store_close(st);
	kdc_test_rmtree(dir);
	free(dir);
}

static void
test_put_get_touch_delete(void **state)
{
	struct kdc_store *st = open_mem();
	struct kdc_lwm2m_reg g, got;
	int64_t dev = add_device(st, "urn:dev:a");

	(void)state;
	g = mk_reg(dev, "urn:dev:a", 300, 1000);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g), KDC_OK);
	assert_true(g.id > 0);
	assert_int_equal(g.updated, 1000);
	assert_int_equal(kdc_store_lwm2m_reg_get(st, g.id, &got), KDC_OK);
	assert_string_equal(got.ep, "urn:dev:a");
	assert_int_equal(got.device, dev);
	assert_int_equal(got.lifetime, 300);
	assert_string_equal(got.version, "1.1");
	assert_string_equal(got.binding, "U");
	assert_string_equal(got.addr, "127.0.0.1:5683");
	assert_int_equal(got.registered, 1000);
	assert_int_equal(got.updated, 1000);

	/* update: time always, other fields only when given */
	assert_int_equal(kdc_store_lwm2m_reg_touch(st, g.id, 2000, 0, NULL,
	    NULL), KDC_OK);
	assert_int_equal(kdc_store_lwm2m_reg_get(st, g.id, &got), KDC_OK);
	assert_int_equal(got.updated, 2000);
	assert_int_equal(got.registered, 1000);
	assert_int_equal(got.lifetime, 300);
	assert_string_equal(got.binding, "U");
	assert_int_equal(kdc_store_lwm2m_reg_touch(st, g.id, 3000, 600, "UQ",
	    "[::1]:9"), KDC_OK);
	assert_int_equal(kdc_store_lwm2m_reg_get(st, g.id, &got), KDC_OK);
	assert_int_equal(got.lifetime, 600);
	assert_string_equal(got.binding, "UQ");
	assert_string_equal(got.addr, "[::1]:9");

	assert_int_equal(kdc_store_lwm2m_reg_delete(st, g.id), KDC_OK);
	assert_int_equal(kdc_store_lwm2m_reg_get(st, g.id, &got),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_lwm2m_reg_delete(st, g.id),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_lwm2m_reg_touch(st, g.id, 1, 0, NULL, NULL),
	    KDC_ERR_NOT_FOUND);
	kdc_store_close(st);
}

static void
test_replace_list_cascade(void **state)
{
	struct kdc_store *st = open_mem();
	struct kdc_lwm2m_reg g1, g2, g3, *v = NULL;
	int64_t a = add_device(st, "urn:dev:a"), b = add_device(st, "urn:dev:b");
	size_t n = 0;

	(void)state;
	g1 = mk_reg(b, "urn:dev:b", 300, 0);
	g2 = mk_reg(a, "urn:dev:a", 300, 0);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g1), KDC_OK);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g2), KDC_OK);
	/* a new registration of the same endpoint replaces the old one */
	g3 = mk_reg(a, "urn:dev:a", 900, 0);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g3), KDC_OK);
	assert_int_not_equal(g3.id, g2.id);
	assert_int_equal(kdc_store_lwm2m_reg_get(st, g2.id, &g1),
	    KDC_ERR_NOT_FOUND);

	assert_int_equal(kdc_store_lwm2m_reg_list(st, &v, &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].ep, "urn:dev:a");
	assert_int_equal(v[0].lifetime, 900);
	assert_string_equal(v[1].ep, "urn:dev:b");
	kdc_lwm2m_reg_list_free(v);

	/* deleting the device drops its registration */
	assert_int_equal(kdc_store_device_delete(st, a), KDC_OK);
	assert_int_equal(kdc_store_lwm2m_reg_list(st, &v, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].ep, "urn:dev:b");
	kdc_lwm2m_reg_list_free(v);
	kdc_store_close(st);
}

static void
test_refusals(void **state)
{
	struct kdc_store *st = open_mem();
	struct kdc_lwm2m_reg g, *v = NULL;
	int64_t a = add_device(st, "urn:dev:a");
	size_t n = 0;
	char longb[64];

	(void)state;
	g = mk_reg(a, "urn:dev:a", 0, 0);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g), KDC_ERR_INVALID_ARG);
	g = mk_reg(a, "", 300, 0);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g), KDC_ERR_INVALID_ARG);
	g = mk_reg(a + 100, "urn:dev:x", 300, 0);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_lwm2m_reg_list(st, &v, &n), KDC_OK);
	assert_int_equal(n, 0);
	kdc_lwm2m_reg_list_free(v);
	g = mk_reg(a, "urn:dev:a", 300, 0);
	assert_int_equal(kdc_store_lwm2m_reg_put(st, &g), KDC_OK);
	memset(longb, 'U', sizeof(longb) - 1);
	longb[sizeof(longb) - 1] = '\0';
	assert_int_equal(kdc_store_lwm2m_reg_touch(st, g.id, 1, 0, longb,
	    NULL), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_lwm2m_reg_touch(st, g.id, 1, -1, NULL,
	    NULL), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_lwm2m_reg_list(NULL, &v, &n),
	    KDC_ERR_INVALID_ARG);
	kdc_store_close(st);
}

/* Every allocation failure ends in OK or NOMEM, never a crash or leak. */
static void
test_alloc_failures(void **state)
{
	(void)state;
	for (long k = 1; k < 200; k++) {
		struct kdc_store *st = open_mem();
		struct kdc_lwm2m_reg g, *v = NULL;
		int64_t a = add_device(st, "urn:dev:a");
		size_t n = 0;
		kdc_err r;

		g = mk_reg(a, "urn:dev:a", 300, 0);
		assert_int_equal(kdc_store_lwm2m_reg_put(st, &g), KDC_OK);
		kdc_alloc_fail_after(k);
		r = kdc_store_lwm2m_reg_list(st, &v, &n);
		kdc_alloc_fail_after(0);
		assert_true(r == KDC_OK || r == KDC_ERR_NOMEM);
		if (r == KDC_OK)
			assert_int_equal(n, 1);
		kdc_lwm2m_reg_list_free(v);
		kdc_store_close(st);
		if (r == KDC_OK)
			break;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_version),
		cmocka_unit_test(test_migrate_from_1),
		cmocka_unit_test(test_put_get_touch_delete),
		cmocka_unit_test(test_replace_list_cascade),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
