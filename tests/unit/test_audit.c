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

/* ---- the anchor (audit.head) --------------------------------------------- */

static kdc_err
anchor_check(struct fx *f, int64_t *seq, char *why, size_t cap)
{
	return kdc_audit_anchor_check(f->st, f->kr, f->dir, seq, why, cap);
}

/* The tail cut with the meta head set back to the new last record: the
 * chain and the head agree, only the anchor tells. */
static void
test_anchor_detects_tail_cut(void **state)
{
	struct fx *f = *state;
	int64_t seq, bad;
	char why[512];

	/* no anchor yet: nothing to check against */
	assert_int_equal(anchor_check(f, &seq, why, sizeof(why)), KDC_OK);
	assert_int_equal(kdc_audit_anchor(f->st, f->kr, f->dir), KDC_OK);
	assert_int_equal(anchor_check(f, &seq, why, sizeof(why)), KDC_OK);
	assert_int_equal(seq, 5);
	tamper(f, "DELETE FROM audit WHERE seq >= 4; UPDATE meta SET val ="
	    " (SELECT seq || ':' || lower(hex(hash)) FROM audit WHERE seq = 3)"
	    " WHERE key = 'audit_head'");
	assert_int_equal(verify(f, &bad), KDC_OK);	/* the chain alone */
	assert_int_equal(anchor_check(f, &seq, why, sizeof(why)),
	    KDC_ERR_AUDIT_BROKEN);
	assert_int_equal(seq, 5);
	assert_non_null(strstr(why, "record 5 and those after it are gone"));
	/* never written back: the loss stays told */
	assert_int_equal(kdc_audit_anchor(f->st, f->kr, f->dir), KDC_OK);
	assert_int_equal(anchor_check(f, &seq, why, sizeof(why)),
	    KDC_ERR_AUDIT_BROKEN);
	/* and records appended after the cut are other records */
	for (int i = 0; i < 2; i++)
		assert_int_equal(kdc_audit_append(f->st, f->kr, 3000 + i, "cli",
		    "device.add", "urn:dev:y", KDC_OK, "%s", ""), KDC_OK);
	assert_int_equal(anchor_check(f, &seq, why, sizeof(why)),
	    KDC_ERR_AUDIT_BROKEN);
	assert_non_null(strstr(why, "record 5 is not the one"));
}

/* The anchor moves forward with the log; a forged or damaged one fails. */
static void
test_anchor_forward_and_forged(void **state)
{
	struct fx *f = *state;
	char path[600], why[512], *line;
	uint8_t *buf;
	size_t len;
	int64_t seq;

	assert_int_equal(kdc_audit_anchor(f->st, f->kr, f->dir), KDC_OK);
	assert_int_equal(kdc_audit_append(f->st, f->kr, 2000, "http",
	    "cred.revoke", "cred:1", KDC_OK, "%s", ""), KDC_OK);
	assert_int_equal(kdc_audit_anchor(f->st, f->kr, f->dir), KDC_OK);
	assert_int_equal(anchor_check(f, &seq, why, sizeof(why)), KDC_OK);
	assert_int_equal(seq, 6);
	snprintf(path, sizeof(path), "%s/audit.head", f->dir);
	assert_non_null(buf = kdc_test_read_file(path, &len));
	line = (char *)buf;

	/* another key's anchor (another data dir's, or made up) */
	{
		struct kdc_keyring *other;

		assert_int_equal(kdc_keyring_from_bytes(key2, &other), KDC_OK);
		assert_int_equal(kdc_audit_anchor_check(f->st, other, f->dir,
		    &seq, why, sizeof(why)), KDC_ERR_AUDIT_BROKEN);
		assert_non_null(strstr(why, "does not verify"));
		kdc_keyring_free(other);
	}
	/* the seq set back by hand: the MAC no longer verifies */
	assert_non_null(strstr(line, " seq=6 "));
	strstr(line, " seq=6 ")[5] = '5';
	assert_int_equal(kdc_test_write_file(path, line, len), 0);
	assert_int_equal(anchor_check(f, &seq, why, sizeof(why)),
	    KDC_ERR_AUDIT_BROKEN);
	assert_non_null(strstr(why, "does not verify"));
	/* cut short: not an anchor */
	assert_int_equal(kdc_test_write_file(path, line, len - 1), 0);
	assert_int_equal(anchor_check(f, &seq, why, sizeof(why)),
	    KDC_ERR_AUDIT_BROKEN);
	assert_non_null(strstr(why, "not an audit anchor"));
	free(buf);
}

static void
test_anchor_parse(void **state)
{
	static const char h64[] = "00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff";
	char line[256];
	uint8_t hash[32], mac[32];
	int64_t seq;
	int n;

	(void)state;
	n = snprintf(line, sizeof(line), "iotkdc-audit-head-1 seq=42 hash=%s "
	    "mac=%s\n", h64, h64);
	assert_int_equal(kdc_audit_anchor_parse(line, (size_t)n, &seq, hash,
	    mac), KDC_OK);
	assert_int_equal(seq, 42);
	assert_int_equal(hash[1], 0x11);
	/* every byte short of the whole is refused */
	for (int k = 0; k < n; k++)
		assert_int_equal(kdc_audit_anchor_parse(line, (size_t)k, &seq,
		    hash, mac), KDC_ERR_MALFORMED);
	{
		static const char *const bad[] = {
			"iotkdc-audit-head-1 seq=0 hash=",
			"iotkdc-audit-head-1 seq=042 hash=",
			"iotkdc-audit-head-1 seq=1234567890123456789 hash=",
			"iotkdc-audit-head-2 seq=1 hash=",
			"iotkdc-audit-head-1 seq=-1 hash=",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = snprintf(line, sizeof(line), "%s%s mac=%s\n",
			    bad[i], h64, h64);
			assert_int_equal(kdc_audit_anchor_parse(line,
			    (size_t)n, &seq, hash, mac), KDC_ERR_MALFORMED);
			assert_int_equal(seq, 0);
		}
	}
	/* upper-case hex, a trailing byte */
	n = snprintf(line, sizeof(line), "iotkdc-audit-head-1 seq=1 hash=%s "
	    "mac=%s\n", "00112233445566778899AABBCCDDEEFF"
	    "00112233445566778899aabbccddeeff", h64);
	assert_int_equal(kdc_audit_anchor_parse(line, (size_t)n, &seq, hash,
	    mac), KDC_ERR_MALFORMED);
	n = snprintf(line, sizeof(line), "iotkdc-audit-head-1 seq=1 hash=%s "
	    "mac=%s\nx", h64, h64);
	assert_int_equal(kdc_audit_anchor_parse(line, (size_t)n, &seq, hash,
	    mac), KDC_ERR_MALFORMED);
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
		cmocka_unit_test_setup_teardown(test_anchor_detects_tail_cut,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor_forward_and_forged,
		    setup, teardown),
		cmocka_unit_test(test_anchor_parse),
		cmocka_unit_test_setup_teardown(test_append_continues_chain,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
