/* test_audit.c: the hash chain detects edits, removals and reordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/audit.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
	char			*dir;
	char			 db[512];
	struct kdc_keyring	*kr;
	struct kdc_store	*st;
};

static const uint8_t key1[32] = { 1, 2, 3 };
static const uint8_t key2[32] = { 9, 9, 9 };

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(kdc_crypto_init(), KDC_OK);
	f->dir = kdc_test_tmpdir();
	snprintf(f->db, sizeof(f->db), "%s/a.db", f->dir);
	assert_int_equal(kdc_keyring_from_bytes(key1, &f->kr), KDC_OK);
	assert_int_equal(kdc_store_open(f->db, 1, &f->st), KDC_OK);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(kdc_audit_append(f->st, f->kr, 1000 + i, "cli",
		    "device.add", "urn:dev:x", i == 3 ? KDC_ERR_REVOKED : KDC_OK,
		    "n=%d", i), KDC_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kdc_store_close(f->st);
	kdc_keyring_free(f->kr);
	kdc_test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static kdc_err
verify(struct fx *f, int64_t *bad)
{
	int64_t count;
	char why[256];

	return kdc_audit_verify(f->st, f->kr, &count, bad, why, sizeof(why));
}

/* Edit the database behind the store's back, as an attacker with the
 * sqlite3 CLI would, then reopen. */
static void
tamper(struct fx *f, const char *sql)
{
	kdc_store_close(f->st);
	f->st = NULL;
	assert_int_equal(kdc_test_sh("sqlite3 '%s' \"%s\"", f->db, sql), 0);
	assert_int_equal(kdc_store_open(f->db, 0, &f->st), KDC_OK);
}

static void
test_intact(void **state)
{
	struct fx *f = *state;
	struct kdc_audit_rec last;
	int64_t count, bad;
	char why[256];

	assert_int_equal(kdc_audit_verify(f->st, f->kr, &count, &bad, why,
	    sizeof(why)), KDC_OK);
	assert_int_equal(count, 5);
	assert_int_equal(kdc_store_audit_last(f->st, &last), KDC_OK);
	assert_int_equal(last.seq, 5);
	assert_string_equal(last.outcome, "ok");
}

static void
test_edit_detected(void **state)
{
	struct fx *f = *state;
	int64_t bad = 0;

	tamper(f, "UPDATE audit SET outcome='ok' WHERE seq=3");
	assert_int_equal(verify(f, &bad), KDC_ERR_AUDIT_BROKEN);
	assert_int_equal(bad, 3);
}

static void
test_delete_middle_detected(void **state)
{
	struct fx *f = *state;
	int64_t bad = 0;

	tamper(f, "DELETE FROM audit WHERE seq=2");
	assert_int_equal(verify(f, &bad), KDC_ERR_AUDIT_BROKEN);
	assert_int_equal(bad, 2);
}

static void
test_delete_tail_detected(void **state)
{
	struct fx *f = *state;
	int64_t bad = 0;

	tamper(f, "DELETE FROM audit WHERE seq=5");
	assert_int_equal(verify(f, &bad), KDC_ERR_AUDIT_BROKEN);
	assert_int_equal(bad, 5);
}

static void
test_reorder_detected(void **state)
{
	struct fx *f = *state;
	int64_t bad = 0;

	/* swap the contents of records 2 and 4 */
	tamper(f, "UPDATE audit SET seq=-2 WHERE seq=2; "
	    "UPDATE audit SET seq=2 WHERE seq=4; "
	    "UPDATE audit SET seq=4 WHERE seq=-2;");
	assert_int_equal(verify(f, &bad), KDC_ERR_AUDIT_BROKEN);
	assert_int_equal(bad, 2);
}

static void
test_rehash_without_key_fails(void **state)
{
	struct fx *f = *state;
	struct kdc_keyring *other;
	int64_t count, bad = 0;
	char why[256];

	/* a chain made with another key does not verify with ours */
	assert_int_equal(kdc_keyring_from_bytes(key2, &other), KDC_OK);
	assert_int_equal(kdc_audit_verify(f->st, other, &count, &bad, why,
	    sizeof(why)), KDC_ERR_AUDIT_BROKEN);
	assert_int_equal(bad, 1);
	kdc_keyring_free(other);
}

static void
test_append_continues_chain(void **state)
{
	struct fx *f = *state;
	int64_t bad;

	assert_int_equal(kdc_audit_append(f->st, f->kr, 2000, "http",
	    "cred.revoke", "cred:1", KDC_OK, "%s", ""), KDC_OK);
	assert_int_equal(verify(f, &bad), KDC_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_detected, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_middle_detected,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_tail_detected,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reorder_detected, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rehash_without_key_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_continues_chain,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
