/*
 * test_core_ocf.c: core/ocf.h over a real store, keyring and CA in a temp
 * dir: the OBT uuid, onboarding records (steps, failures, reruns), the
 * owner PSK, pairwise PSKs, identity certificates (checked with GnuTLS's
 * X.509 parser), the mfgcert chain check (certificates made by openssl),
 * offboarding, and the store's migration from schema 10.
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
#include <gnutls/x509.h>
#include <sqlite3.h>

#include "base/alloc.h"
#include "core/config.h"
#include "core/core.h"
#include "store/ocf.h"
#include "testkdc.h"
#include "testutil.h"

#define EP	"coap://[fe80::1%25eth0]:5683"
#define EPS	"coaps://[fe80::1%25eth0]:49152"

struct fx {
	struct kdc_test_kdc	 k;
	struct kdc_config	 cfg;
	struct kdc_core		*core;
};

static const uint8_t wkey[32] = { 0x0c, 0xf0 };
static int64_t fake_now;

static int64_t
clock_fn(void)
{
	return fake_now;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	kdc_config_defaults(&f->cfg);
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_DB_FILE);
	f->core = f->k.core;
	fake_now = (int64_t)time(NULL);
	kdc_core_set_clock(f->core, clock_fn);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static void
expect_audit(struct fx *f, const char *action, kdc_err outcome,
    const char *want)
{
	struct kdc_audit_rec last;

	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	if (strcmp(last.action, action) != 0)
		fail_msg("last audit %s, want %s", last.action, action);
	assert_string_equal(last.outcome, outcome == KDC_OK ? "ok" :
	    kdc_err_name(outcome));
	if (want != NULL && strstr(last.detail, want) == NULL)
		fail_msg("audit detail \"%s\" lacks \"%s\"", last.detail, want);
}

/* A uuid made up for a device "as discovered": n in every byte but the
 * version ones. */
static void
first_uuid(int n, char out[KDC_OCF_UUID_TEXT + 1])
{
	snprintf(out, KDC_OCF_UUID_TEXT + 1,
	    "%02x%02x%02x%02x-%02x%02x-4%01x%02x-8%01x%02x-"
	    "%02x%02x%02x%02x%02x%02x", n, n, n, n, n, n, n & 15, n, n & 15, n,
	    n, n, n, n, n, n);
}

static void
psk_of(int n, uint8_t psk[KDC_OCF_PSK_LEN])
{
	for (int i = 0; i < KDC_OCF_PSK_LEN; i++)
		psk[i] = (uint8_t)(n * 16 + i + 1);
}

/* begin -> owner_set -> done for the device discovered as first_uuid(n),
 * its owner PSK psk_of(n), mfg_spki (or NULL): its new uuid into nu. */
static void
onboard(struct fx *f, int n, const uint8_t *spki, size_t spki_len,
    char nu[KDC_OCF_UUID_TEXT + 1])
{
	struct kdc_ocf_uuid u;
	uint8_t psk[KDC_OCF_PSK_LEN];
	char first[KDC_OCF_UUID_TEXT + 1];

	first_uuid(n, first);
	psk_of(n, psk);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    spki != NULL ? KDC_OCF_OXM_MFGCERT : KDC_OCF_OXM_RDP, EP, EPS,
	    &u), KDC_OK);
	kdc_ocf_uuid_format(&u, nu);
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, nu, psk,
	    sizeof(psk), spki, spki_len), KDC_OK);
	assert_int_equal(kdc_core_ocf_onboard_done(f->core, "t", nu), KDC_OK);
}

static struct kdc_cred *
cred(struct fx *f, int64_t id)
{
	struct kdc_cred *c = NULL;

	assert_int_equal(kdc_store_cred_get(f->k.st, id, &c), KDC_OK);
	return c;
}

/* The key of a PSK credential, unwrapped as the core does. */
static void
cred_key(struct fx *f, int64_t id, uint8_t out[KDC_OCF_PSK_LEN])
{
	struct kdc_cred *c = cred(f, id);
	uint8_t *key = NULL;
	size_t key_len = 0;
	char aad[32];

	snprintf(aad, sizeof(aad), "cred:%lld", (long long)id);
	assert_int_equal(kdc_unwrap(f->k.kr, aad, strlen(aad), c->wrapped,
	    c->wrapped_len, &key, &key_len), KDC_OK);
	assert_int_equal(key_len, KDC_OCF_PSK_LEN);
	memcpy(out, key, KDC_OCF_PSK_LEN);
	kdc_secret_free(key, key_len);
	kdc_cred_free(c);
}

static struct kdc_device *
dev(struct fx *f, const char *uuid)
{
	struct kdc_device *d = NULL;
	char id[64];

	snprintf(id, sizeof(id), "ocf-%s", uuid);
	assert_int_equal(kdc_core_device_get(f->core, id, &d), KDC_OK);
	return d;
}

/* The credentials of a device (kind -1: any) */
static size_t
ncreds(struct fx *f, const char *uuid, int kind, int status)
{
	struct kdc_device *d = dev(f, uuid);
	struct kdc_cred_filter flt = { d->id, kind, status, 0 };
	struct kdc_cred **v = NULL;
	size_t n = 0;

	assert_int_equal(kdc_core_cred_list(f->core, &flt, &v, &n), KDC_OK);
	kdc_cred_list_free(v, n);
	kdc_device_free(d);
	return n;
}

static uint8_t *
file_in(struct fx *f, const char *name, size_t *len)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", f->k.dir, name);
	return kdc_test_read_file(path, len);
}

/* 1 if the bytes occur in kdc.db or its write-ahead log */
static int
in_db_files(struct fx *f, const uint8_t *b, size_t n)
{
	static const char *const names[] = { "kdc.db", "kdc.db-wal" };
	int found = 0;

	for (size_t i = 0; i < 2; i++) {
		size_t len = 0;
		uint8_t *buf = file_in(f, names[i], &len);

		if (buf != NULL && kdc_test_memmem(buf, len, b, n))
			found = 1;
		free(buf);
	}
	return found;
}

/* ---- the OBT uuid --------------------------------------------------------- */

static void
test_obt_uuid(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_uuid a, b;
	char db[600];

	assert_int_equal(kdc_core_ocf_obt_uuid(f->core, &a), KDC_OK);
	assert_null(memchr(a.b, 0, sizeof(a.b)));
	assert_int_equal(a.b[6] >> 4, 4);	/* v4 */
	assert_int_equal(a.b[8] >> 6, 2);	/* RFC 4122 variant */
	expect_audit(f, "ocf.obt", KDC_OK, "made");
	assert_int_equal(kdc_core_ocf_obt_uuid(f->core, &b), KDC_OK);
	assert_memory_equal(a.b, b.b, sizeof(a.b));
	/* across a reopen of the store */
	kdc_core_free(f->k.core);
	kdc_store_close(f->k.st);
	snprintf(db, sizeof(db), "%s/kdc.db", f->k.dir);
	assert_int_equal(kdc_store_open(db, 0, &f->k.st), KDC_OK);
	assert_int_equal(kdc_core_new(f->k.st, f->k.kr, f->k.ca, &f->cfg,
	    &f->k.core), KDC_OK);
	f->core = f->k.core;
	memset(&b, 0, sizeof(b));
	assert_int_equal(kdc_core_ocf_obt_uuid(f->core, &b), KDC_OK);
	assert_memory_equal(a.b, b.b, sizeof(a.b));
	/* a damaged value is not taken for a uuid */
	assert_int_equal(kdc_store_meta_set(f->k.st, KDC_STORE_OCF_OBT_KEY,
	    "00000000-1111-4111-8111-111111111111"), KDC_OK);
	assert_int_equal(kdc_core_ocf_obt_uuid(f->core, &b),
	    KDC_ERR_STORE_CORRUPT);
}

/* ---- onboarding ------------------------------------------------------------ */

static void
test_onboard(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_uuid u;
	struct kdc_ocf_device d, *list = NULL;
	struct kdc_device **devs = NULL, *x;
	struct kdc_principal who;
	uint8_t psk[KDC_OCF_PSK_LEN], got[KDC_OCF_PSK_LEN], out[64];
	size_t n = 0, out_len = sizeof(out);
	char first[KDC_OCF_UUID_TEXT + 1], nu[KDC_OCF_UUID_TEXT + 1],
	    upper[KDC_OCF_UUID_TEXT + 1], ident[64], id[64];
	bool listed = false;

	first_uuid(0x31, first);
	psk_of(7, psk);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_OK);
	expect_audit(f, "ocf.onboard.begin", KDC_OK, "otm=1");
	assert_null(memchr(u.b, 0, sizeof(u.b)));
	kdc_ocf_uuid_format(&u, nu);
	assert_string_not_equal(nu, first);
	assert_int_equal(kdc_core_ocf_device_get(f->core, first, &d), KDC_OK);
	assert_int_equal(d.state, KDC_OCF_ONBOARDING);
	assert_string_equal(d.step, "begin");
	assert_string_equal(d.uuid, first);
	assert_string_equal(d.dev_id, "");
	assert_string_equal(d.coaps_ep, EPS);
	/* upper case names the same device */
	for (size_t i = 0; i <= KDC_OCF_UUID_TEXT; i++)
		upper[i] = (char)(first[i] >= 'a' && first[i] <= 'f' ?
		    first[i] - 32 : first[i]);
	assert_int_equal(kdc_core_ocf_step(f->core, "t", upper, "rdp.pin",
	    KDC_OK), KDC_OK);
	expect_audit(f, "ocf.step", KDC_OK, "step=rdp.pin");
	assert_int_equal(kdc_core_ocf_device_get(f->core, first, &d), KDC_OK);
	assert_string_equal(d.step, "rdp.pin");
	/* done before the owner PSK: nothing to finish */
	assert_int_equal(kdc_core_ocf_onboard_done(f->core, "t", first),
	    KDC_ERR_NOT_FOUND);
	expect_audit(f, "ocf.onboard", KDC_ERR_NOT_FOUND, NULL);
	/* an owner PSK for another new uuid than begin made */
	first_uuid(0x77, id);
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, id, psk,
	    sizeof(psk), NULL, 0), KDC_ERR_NOT_FOUND);
	expect_audit(f, "ocf.owner", KDC_ERR_NOT_FOUND, NULL);
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, nu, psk,
	    sizeof(psk), NULL, 0), KDC_OK);
	expect_audit(f, "ocf.owner", KDC_OK, "status=pending");
	/* pending: not usable yet */
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu, got),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_core_ocf_onboard_done(f->core, "t", nu), KDC_OK);
	expect_audit(f, "ocf.onboard", KDC_OK, "owned");
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu, got),
	    KDC_OK);
	assert_memory_equal(got, psk, sizeof(psk));
	/* by its first uuid too, and the record says it all */
	memset(got, 0, sizeof(got));
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", first, got),
	    KDC_OK);
	assert_memory_equal(got, psk, sizeof(psk));
	assert_int_equal(kdc_core_ocf_device_get(f->core, first, &d), KDC_OK);
	assert_int_equal(d.state, KDC_OCF_OWNED);
	assert_string_equal(d.uuid, nu);
	assert_string_equal(d.first_uuid, first);
	assert_string_equal(d.step, "done");
	assert_int_equal(d.err, KDC_OK);
	assert_int_equal(d.otm, KDC_OCF_OXM_RDP);
	assert_int_equal(d.cert_not_after, 0);
	snprintf(id, sizeof(id), "ocf-%s", nu);
	assert_string_equal(d.dev_id, id);
	assert_int_equal(kdc_core_ocf_device_list(f->core, &list, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].uuid, nu);
	kdc_free(list);
	/* a device of the registry like any other, with no manufacturer
	 * credential, and its owner credential issued */
	assert_int_equal(kdc_core_device_list(f->core, &devs, &n), KDC_OK);
	for (size_t i = 0; i < n; i++)
		if (strcmp(devs[i]->dev_id, id) == 0)
			listed = true;
	kdc_device_list_free(devs, n);
	assert_true(listed);
	assert_int_equal(ncreds(f, nu, KDC_KIND_MANUFACTURER, -1), 0);
	assert_int_equal(ncreds(f, nu, KDC_KIND_OWNER, KDC_CRED_ISSUED), 1);
	/* the key is nowhere in clear: not in the database, nor its log, nor
	 * the audit records */
	assert_false(in_db_files(f, psk, sizeof(psk)));
	/* nor does it authenticate anyone to the KDC's listeners: the owner
	 * PSK by its identity, the device through a manufacturer path */
	snprintf(ident, sizeof(ident), "ocf-owner:%s", nu);
	assert_int_equal(kdc_core_auth_psk(f->core, "t", ident, out, &out_len,
	    &who), KDC_ERR_WRONG_TYPE);
	assert_int_equal(who.cred_id, 0);
	out_len = sizeof(out);
	assert_int_equal(kdc_core_auth_mfg_psk(f->core, "t", id, ident,
	    sizeof(ident), out, &out_len, &who), KDC_ERR_WRONG_TYPE);
	/* an owned device is not onboarded again: offboard it first */
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_ERR_EXISTS);
	expect_audit(f, "ocf.onboard.begin", KDC_ERR_EXISTS, NULL);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", nu,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_ERR_EXISTS);
	/* `device revoke` and `device show` take it */
	assert_int_equal(kdc_core_device_revoke(f->core, "t", id), KDC_OK);
	x = dev(f, nu);
	assert_int_equal(x->status, KDC_DEV_REVOKED);
	kdc_device_free(x);
	assert_int_equal(ncreds(f, nu, -1, KDC_CRED_ISSUED), 0);
}

static void
test_bad_args(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_uuid u;
	struct kdc_ocf_device d;
	uint8_t psk[KDC_OCF_PSK_LEN] = { 1 };
	char first[KDC_OCF_UUID_TEXT + 1], long_ep[200];

	first_uuid(0x41, first);
	memset(long_ep, 'a', sizeof(long_ep) - 1);
	memcpy(long_ep, "coaps://", 8);
	long_ep[sizeof(long_ep) - 1] = '\0';
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", "nope",
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_ERR_INVALID_ARG);
	expect_audit(f, "ocf.onboard.begin", KDC_ERR_INVALID_ARG, NULL);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first, 3, EP,
	    EPS, &u), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, "http://x", &u), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EPS, EPS, &u), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, "", &u), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, long_ep, &u), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, "coaps://a b", &u), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_device_get(f->core, first, &d),
	    KDC_ERR_NOT_FOUND);
	/* a coap_ep may be empty */
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_JW, "", EPS, &u), KDC_OK);
	assert_int_equal(kdc_core_ocf_step(f->core, "t", first, "Bad Step",
	    KDC_OK), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_step(f->core, "t", first, "", KDC_OK),
	    KDC_ERR_INVALID_ARG);
	first_uuid(0x42, first);
	assert_int_equal(kdc_core_ocf_step(f->core, "t", first, "x", KDC_OK),
	    KDC_ERR_NOT_FOUND);
	first_uuid(0x41, first);
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, first,
	    psk, 15, NULL, 0), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_set_eps(f->core, first, "", "coap://x"),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_set_eps(f->core, first, "",
	    "coaps://[::1]:7"), KDC_OK);
	assert_int_equal(kdc_core_ocf_device_get(f->core, first, &d), KDC_OK);
	assert_string_equal(d.coaps_ep, "coaps://[::1]:7");
	assert_int_equal(d.otm, KDC_OCF_OXM_JW);
}

/* A step fails: FAILED with the step and why; a rerun restarts, and its
 * owner_set deletes what the unfinished run registered. */
static void
test_failure_and_rerun(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_uuid u;
	struct kdc_ocf_device d;
	struct kdc_device *x = NULL;
	struct kdc_audience a;
	uint8_t psk[KDC_OCF_PSK_LEN], got[KDC_OCF_PSK_LEN];
	char first[KDC_OCF_UUID_TEXT + 1], nu1[KDC_OCF_UUID_TEXT + 1],
	    nu2[KDC_OCF_UUID_TEXT + 1], id[64];

	first_uuid(0x51, first);
	psk_of(1, psk);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_OK);
	kdc_ocf_uuid_format(&u, nu1);
	assert_int_equal(kdc_core_ocf_step(f->core, "t", first, "rdp.hs",
	    KDC_ERR_UNTRUSTED), KDC_OK);
	expect_audit(f, "ocf.step", KDC_ERR_UNTRUSTED, "step=rdp.hs");
	assert_int_equal(kdc_core_ocf_device_get(f->core, first, &d), KDC_OK);
	assert_int_equal(d.state, KDC_OCF_FAILED);
	assert_string_equal(d.step, "rdp.hs");
	assert_int_equal(d.err, KDC_ERR_UNTRUSTED);
	/* a failed onboarding takes no owner PSK */
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, nu1, psk,
	    sizeof(psk), NULL, 0), KDC_ERR_NOT_FOUND);

	/* rerun: restarted, a new uuid; this time it fails after the owner
	 * PSK was recorded */
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_OK);
	expect_audit(f, "ocf.onboard.begin", KDC_OK, "rerun");
	kdc_ocf_uuid_format(&u, nu1);
	assert_int_equal(kdc_core_ocf_device_get(f->core, first, &d), KDC_OK);
	assert_int_equal(d.state, KDC_OCF_ONBOARDING);
	assert_string_equal(d.step, "begin");
	assert_int_equal(d.err, KDC_OK);
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, nu1, psk,
	    sizeof(psk), NULL, 0), KDC_OK);
	assert_int_equal(kdc_core_ocf_step(f->core, "t", nu1, "pstat.rfnop",
	    KDC_ERR_IO), KDC_OK);
	assert_int_equal(kdc_core_ocf_device_get(f->core, nu1, &d), KDC_OK);
	assert_int_equal(d.state, KDC_OCF_FAILED);
	assert_string_equal(d.step, "pstat.rfnop");
	snprintf(id, sizeof(id), "ocf-%s", nu1);
	assert_int_equal(kdc_core_device_get(f->core, id, &x), KDC_OK);
	kdc_device_free(x);
	x = NULL;
	assert_int_equal(kdc_core_audience_get(f->core, id, &a), KDC_OK);
	assert_int_equal(a.kind, KDC_AUD_OCF_DEVICE);
	assert_string_equal(a.uri, EPS);
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu1, got),
	    KDC_ERR_NOT_FOUND);

	/* a second rerun: the first run's device, credentials and audience
	 * go at its owner_set, the same owner PSK may be used again */
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_OK);
	kdc_ocf_uuid_format(&u, nu2);
	assert_string_not_equal(nu1, nu2);
	assert_int_equal(kdc_core_device_get(f->core, id, &x), KDC_OK);
	kdc_device_free(x);
	x = NULL;
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, nu2, psk,
	    sizeof(psk), NULL, 0), KDC_OK);
	assert_int_equal(kdc_core_device_get(f->core, id, &x),
	    KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(kdc_core_audience_get(f->core, id, &a),
	    KDC_ERR_UNKNOWN_AUDIENCE);
	assert_int_equal(kdc_core_ocf_onboard_done(f->core, "t", nu2), KDC_OK);
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu2, got),
	    KDC_OK);
	assert_memory_equal(got, psk, sizeof(psk));
	/* a step failing on an owned device leaves it owned */
	assert_int_equal(kdc_core_ocf_step(f->core, "t", nu2, "cms.cred",
	    KDC_ERR_IO), KDC_OK);
	assert_int_equal(kdc_core_ocf_device_get(f->core, nu2, &d), KDC_OK);
	assert_int_equal(d.state, KDC_OCF_OWNED);
	assert_int_equal(d.err, KDC_ERR_IO);
	assert_int_equal(kdc_core_ocf_step(f->core, "t", nu2, "cms.cred",
	    KDC_OK), KDC_OK);
	assert_int_equal(kdc_core_ocf_device_get(f->core, nu2, &d), KDC_OK);
	assert_int_equal(d.err, KDC_OK);
}

static void
test_owner_psk_refused(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_uuid u;
	uint8_t got[KDC_OCF_PSK_LEN];
	char first[KDC_OCF_UUID_TEXT + 1], nu[KDC_OCF_UUID_TEXT + 1], id[64];
	static const uint8_t zero[KDC_OCF_PSK_LEN];

	/* unknown */
	first_uuid(0x61, first);
	memset(got, 0xee, sizeof(got));
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", first, got),
	    KDC_ERR_NOT_FOUND);
	expect_audit(f, "ocf.owner_psk", KDC_ERR_NOT_FOUND, NULL);
	assert_memory_equal(got, zero, sizeof(got));
	/* not owned (begun only) */
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_OK);
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", first, got),
	    KDC_ERR_NOT_FOUND);
	/* revoked through the registry */
	onboard(f, 0x62, NULL, 0, nu);
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu, got),
	    KDC_OK);
	expect_audit(f, "ocf.owner_psk", KDC_OK, NULL);
	snprintf(id, sizeof(id), "ocf-%s", nu);
	assert_int_equal(kdc_core_device_revoke(f->core, "t", id), KDC_OK);
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu, got),
	    KDC_ERR_REVOKED);
	expect_audit(f, "ocf.owner_psk", KDC_ERR_REVOKED, NULL);
	assert_memory_equal(got, zero, sizeof(got));
	/* only the owner credential revoked */
	onboard(f, 0x63, NULL, 0, nu);
	{
		struct kdc_device *d = dev(f, nu);
		struct kdc_cred_filter flt = { d->id, KDC_KIND_OWNER, -1, 0 };
		struct kdc_cred **v = NULL;
		size_t n = 0;

		assert_int_equal(kdc_core_cred_list(f->core, &flt, &v, &n),
		    KDC_OK);
		assert_int_equal(n, 1);
		assert_int_equal(kdc_core_cred_revoke(f->core, "t", v[0]->id),
		    KDC_OK);
		kdc_cred_list_free(v, n);
		kdc_device_free(d);
	}
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu, got),
	    KDC_ERR_REVOKED);
	/* a damaged row */
	onboard(f, 0x64, NULL, 0, nu);
	{
		sqlite3 *db;
		char path[600], sql[256];

		snprintf(path, sizeof(path), "%s/kdc.db", f->k.dir);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		snprintf(sql, sizeof(sql), "UPDATE credentials SET wrapped ="
		    " zeroblob(60) WHERE identity = 'ocf-owner:%s'", nu);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_changes(db), 1);
		sqlite3_close(db);
	}
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu, got),
	    KDC_ERR_BAD_KEY);
	expect_audit(f, "ocf.owner_psk", KDC_ERR_BAD_KEY, NULL);
}

/* ---- CMS ---------------------------------------------------------------------- */

static void
test_pairwise(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_uuid u;
	struct kdc_cred *c;
	uint8_t psk[KDC_OCF_PSK_LEN], k0[KDC_OCF_PSK_LEN], k1[KDC_OCF_PSK_LEN];
	char a[KDC_OCF_UUID_TEXT + 1], b[KDC_OCF_UUID_TEXT + 1],
	    c3[KDC_OCF_UUID_TEXT + 1], d4[KDC_OCF_UUID_TEXT + 1],
	    fa[KDC_OCF_UUID_TEXT + 1], aud[64],
	    peers[KDC_OCF_PAIRS_MAX][KDC_OCF_UUID_TEXT + 1];
	int64_t ids[2], old[2], second[2];
	size_t n;

	onboard(f, 0x71, NULL, 0, a);
	onboard(f, 0x72, NULL, 0, b);
	onboard(f, 0x73, NULL, 0, c3);
	first_uuid(0x71, fa);
	first_uuid(0x74, d4);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", d4,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_OK);

	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", a, b, ids, psk),
	    KDC_OK);
	expect_audit(f, "ocf.pair", KDC_OK, "status=pending");
	c = cred(f, ids[0]);
	snprintf(aud, sizeof(aud), "ocf-%s", b);
	assert_string_equal(c->audience, aud);
	assert_int_equal(c->kind, KDC_KIND_OPERATIONAL);
	assert_int_equal(c->type, KDC_TYPE_PSK);
	assert_int_equal(c->status, KDC_CRED_PENDING);
	kdc_cred_free(c);
	c = cred(f, ids[1]);
	snprintf(aud, sizeof(aud), "ocf-%s", a);
	assert_string_equal(c->audience, aud);
	kdc_cred_free(c);
	/* one key, the one handed back, wrapped at rest */
	cred_key(f, ids[0], k0);
	cred_key(f, ids[1], k1);
	assert_memory_equal(k0, psk, sizeof(psk));
	assert_memory_equal(k1, psk, sizeof(psk));
	assert_false(in_db_files(f, psk, sizeof(psk)));
	/* live (pending) pairs are listed */
	assert_int_equal(kdc_core_ocf_pairs(f->core, a, peers, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(peers[0], b);
	assert_int_equal(kdc_core_ocf_pair_done(f->core, "t", ids), KDC_OK);
	expect_audit(f, "ocf.pair_done", KDC_OK, "activated");
	c = cred(f, ids[1]);
	assert_int_equal(c->status, KDC_CRED_ISSUED);
	kdc_cred_free(c);
	assert_int_equal(kdc_core_ocf_pairs(f->core, b, peers, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(peers[0], a);

	/* again: new ones supersede the old ones once done */
	old[0] = ids[0];
	old[1] = ids[1];
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", b, a, ids, psk),
	    KDC_OK);
	assert_int_equal(kdc_core_ocf_pair_done(f->core, "t", ids), KDC_OK);
	second[0] = ids[0];
	second[1] = ids[1];
	c = cred(f, old[0]);
	assert_int_equal(c->status, KDC_CRED_SUPERSEDED);
	kdc_cred_free(c);
	/* pair_done takes pairwise credentials only, and not twice */
	assert_int_equal(kdc_core_ocf_pair_done(f->core, "t", ids),
	    KDC_ERR_INVALID_ARG);
	{
		struct kdc_device *d = dev(f, a);
		struct kdc_cred_filter flt = { d->id, KDC_KIND_OWNER, -1, 0 };
		struct kdc_cred **v = NULL;
		int64_t mixed[2];

		assert_int_equal(kdc_core_cred_list(f->core, &flt, &v, &n),
		    KDC_OK);
		assert_int_equal(n, 1);
		/* an owner credential (made pending again) with a pending
		 * pairwise one: neither is activated */
		assert_int_equal(kdc_store_cred_set_status(f->k.st, v[0]->id,
		    KDC_CRED_PENDING), KDC_OK);
		assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", a, b,
		    mixed, psk), KDC_OK);
		mixed[1] = v[0]->id;
		assert_int_equal(kdc_core_ocf_pair_done(f->core, "t", mixed),
		    KDC_ERR_INVALID_ARG);
		expect_audit(f, "ocf.pair_done", KDC_ERR_INVALID_ARG, NULL);
		c = cred(f, mixed[0]);
		assert_int_equal(c->status, KDC_CRED_PENDING);
		kdc_cred_free(c);
		assert_int_equal(kdc_store_cred_set_status(f->k.st, v[0]->id,
		    KDC_CRED_ISSUED), KDC_OK);
		kdc_cred_list_free(v, n);
		kdc_device_free(d);
	}

	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", a, c3, ids,
	    psk), KDC_OK);
	assert_int_equal(kdc_core_ocf_pairs(f->core, a, peers, &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_true((strcmp(peers[0], b) == 0 && strcmp(peers[1], c3) == 0) ||
	    (strcmp(peers[0], c3) == 0 && strcmp(peers[1], b) == 0));

	/* refusals: the same device (by either of its uuids), one not
	 * owned, one revoked */
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", a, a, ids, psk),
	    KDC_ERR_INVALID_ARG);
	expect_audit(f, "ocf.pair", KDC_ERR_INVALID_ARG, NULL);
	assert_int_equal(ids[0], 0);
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", fa, a, ids,
	    psk), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", a, d4, ids,
	    psk), KDC_ERR_NOT_FOUND);
	expect_audit(f, "ocf.pair", KDC_ERR_NOT_FOUND, NULL);
	snprintf(aud, sizeof(aud), "ocf-%s", c3);
	assert_int_equal(kdc_core_device_revoke(f->core, "t", aud), KDC_OK);
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", c3, b, ids,
	    psk), KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", b, c3, ids,
	    psk), KDC_ERR_REVOKED);
	expect_audit(f, "ocf.pair", KDC_ERR_REVOKED, NULL);
	/* a pairwise PSK authenticates nobody to the KDC */
	{
		struct kdc_principal who;
		uint8_t out[64];
		size_t out_len = sizeof(out);

		c = cred(f, second[0]);
		assert_int_equal(c->type, KDC_TYPE_PSK);
		assert_int_equal(kdc_core_auth_psk(f->core, "t", c->identity,
		    out, &out_len, &who), KDC_ERR_WRONG_TYPE);
		kdc_cred_free(c);
	}
}

/* A CSR by openssl over a fresh key (ec or rsa), subject subj; DER. */
static uint8_t *
csr_make(struct fx *f, const char *name, const char *alg, const char *subj,
    size_t *len)
{
	char path[600];

	assert_int_equal(kdc_test_sh("cd %s && openssl req -new -newkey %s "
	    "-nodes -subj '%s' -keyout %s.key -outform DER -out %s.csr "
	    "2>/dev/null", f->k.dir, alg, subj, name, name), 0);
	snprintf(path, sizeof(path), "%s/%s.csr", f->k.dir, name);
	return kdc_test_read_file(path, len);
}

static void
test_cert_sign(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_device d;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dt;
	struct kdc_cred *c;
	uint8_t *csr, *cert = NULL;
	size_t csr_len, cert_len, sz;
	unsigned ku, crit, ca;
	int64_t id;
	char a[KDC_OCF_UUID_TEXT + 1], b[KDC_OCF_UUID_TEXT + 1], subj[64],
	    cn[64], oid[64];
	bool eku_server = false, eku_client = false, eku_ocf = false;

	onboard(f, 0x81, NULL, 0, a);
	onboard(f, 0x82, NULL, 0, b);
	snprintf(subj, sizeof(subj), "/CN=uuid:%s", a);
	assert_non_null(csr = csr_make(f, "a", "ec -pkeyopt "
	    "ec_paramgen_curve:P-256", subj, &csr_len));
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, csr, csr_len,
	    &id, &cert, &cert_len), KDC_OK);
	expect_audit(f, "ocf.cert", KDC_OK, "audience=ocf-identity");
	assert_non_null(cert);
	c = cred(f, id);
	assert_string_equal(c->audience, KDC_OCF_AUD_IDENTITY);
	assert_int_equal(c->type, KDC_TYPE_X509);
	assert_int_equal(c->status, KDC_CRED_PENDING);
	assert_int_equal(c->not_after - c->not_before, 365 * 86400);
	kdc_cred_free(c);
	assert_int_equal(kdc_core_ocf_device_get(f->core, a, &d), KDC_OK);
	assert_int_equal(d.cert_not_after, fake_now + 365 * 86400);
	/* the device took it: issued */
	assert_int_equal(kdc_core_ocf_cert_done(f->core, "t", id), KDC_OK);
	c = cred(f, id);
	assert_int_equal(c->status, KDC_CRED_ISSUED);
	kdc_cred_free(c);
	/* a renewal without rekey: issued at once, the old one superseded;
	 * cert_done then leaves it as it is */
	{
		uint8_t *cert2 = NULL;
		size_t cert2_len;
		int64_t id2;

		fake_now += 86400;
		assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, csr,
		    csr_len, &id2, &cert2, &cert2_len), KDC_OK);
		assert_true(id2 != id);
		c = cred(f, id2);
		assert_int_equal(c->status, KDC_CRED_ISSUED);
		kdc_cred_free(c);
		c = cred(f, id);
		assert_int_equal(c->status, KDC_CRED_SUPERSEDED);
		kdc_cred_free(c);
		assert_int_equal(kdc_core_ocf_cert_done(f->core, "t", id2),
		    KDC_OK);
		/* a superseded one, or no identity certificate: refused */
		assert_int_equal(kdc_core_ocf_cert_done(f->core, "t", id),
		    KDC_ERR_INVALID_ARG);
		assert_int_equal(kdc_core_ocf_cert_done(f->core, "t", 999999),
		    KDC_ERR_NOT_FOUND);
		kdc_free(cert2);
		fake_now -= 86400;
		assert_int_equal(kdc_core_ocf_device_get(f->core, a, &d),
		    KDC_OK);
	}

	/* what a device and IoTivity check */
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	dt.data = cert;
	dt.size = (unsigned)cert_len;
	assert_int_equal(gnutls_x509_crt_import(crt, &dt, GNUTLS_X509_FMT_DER),
	    0);
	sz = sizeof(cn);
	assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt,
	    GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &sz), 0);
	assert_string_equal(cn, subj + 4);
	assert_int_equal(gnutls_x509_crt_get_key_usage(crt, &ku, &crit), 0);
	assert_true(crit);
	assert_int_equal(ku, GNUTLS_KEY_DIGITAL_SIGNATURE |
	    GNUTLS_KEY_KEY_AGREEMENT);
	for (unsigned i = 0;; i++) {
		sz = sizeof(oid);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &sz,
		    NULL) < 0)
			break;
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) == 0)
			eku_server = true;
		else if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0)
			eku_client = true;
		else if (strcmp(oid, "1.3.6.1.4.1.44924.1.6") == 0)
			eku_ocf = true;
		else
			fail_msg("unexpected EKU %s", oid);
	}
	assert_true(eku_server && eku_client && eku_ocf);
	assert_int_equal(gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca,
	    NULL), 0);
	assert_int_equal(ca, 0);
	/* and our CA signed it */
	{
		gnutls_x509_crt_t cacrt;
		gnutls_datum_t pem;
		char path[600];
		size_t pl;
		unsigned vs = 0;

		snprintf(path, sizeof(path), "%s/ca.pem", f->k.dir);
		assert_non_null(pem.data = kdc_test_read_file(path, &pl));
		pem.size = (unsigned)pl;
		assert_int_equal(gnutls_x509_crt_init(&cacrt), 0);
		assert_int_equal(gnutls_x509_crt_import(cacrt, &pem,
		    GNUTLS_X509_FMT_PEM), 0);
		assert_int_equal(gnutls_x509_crt_verify(crt, &cacrt, 1, 0, &vs),
		    0);
		assert_int_equal(vs, 0);
		gnutls_x509_crt_deinit(cacrt);
		free(pem.data);
	}
	gnutls_x509_crt_deinit(crt);
	kdc_free(cert);
	cert = NULL;

	/* the same CSR in PEM, as IoTivity sends it (its NUL included):
	 * the same key, certified again for its own device */
	{
		uint8_t *pem;
		size_t pem_len;

		assert_int_equal(kdc_test_sh("cd %s && openssl req -in a.csr "
		    "-inform DER -out a.pem && printf '\\0' >> a.pem",
		    f->k.dir), 0);
		assert_non_null(pem = file_in(f, "a.pem", &pem_len));
		assert_int_equal(pem[pem_len - 1], 0);
		assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, pem,
		    pem_len, &id, &cert, &cert_len), KDC_OK);
		kdc_free(cert);
		cert = NULL;
		free(pem);
	}
	/* the same CSR for the other device: it names a */
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", b, csr, csr_len,
	    &id, &cert, &cert_len), KDC_ERR_DENIED);
	expect_audit(f, "ocf.cert", KDC_ERR_DENIED, NULL);
	assert_null(cert);
	assert_int_equal(id, 0);
	/* a bad signature */
	csr[csr_len - 3] ^= 0x01;
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, csr, csr_len,
	    &id, &cert, &cert_len), KDC_ERR_BAD_SIGNATURE);
	free(csr);
	/* no CN, a CN of a longer name */
	assert_non_null(csr = csr_make(f, "n", "ec -pkeyopt "
	    "ec_paramgen_curve:P-256", "/O=x", &csr_len));
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, csr, csr_len,
	    &id, &cert, &cert_len), KDC_ERR_DENIED);
	free(csr);
	snprintf(subj, sizeof(subj), "/CN=uuid:%sx", a);
	assert_non_null(csr = csr_make(f, "l", "ec -pkeyopt "
	    "ec_paramgen_curve:P-256", subj, &csr_len));
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, csr, csr_len,
	    &id, &cert, &cert_len), KDC_ERR_DENIED);
	free(csr);
	/* an RSA key */
	snprintf(subj, sizeof(subj), "/CN=uuid:%s", a);
	assert_non_null(csr = csr_make(f, "r", "rsa:2048", subj, &csr_len));
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, csr, csr_len,
	    &id, &cert, &cert_len), KDC_ERR_UNSUPPORTED_KEY);
	expect_audit(f, "ocf.cert", KDC_ERR_UNSUPPORTED_KEY, NULL);
	free(csr);
	/* Ed25519 */
	assert_non_null(csr = csr_make(f, "e", "ed25519", subj, &csr_len));
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, csr, csr_len,
	    &id, &cert, &cert_len), KDC_ERR_UNSUPPORTED_KEY);
	free(csr);
	/* garbage */
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a,
	    (const uint8_t *)"xyz", 3, &id, &cert, &cert_len),
	    KDC_ERR_MALFORMED);
	/* b's key certified for b: then a CSR over it for a is another
	 * device's key */
	snprintf(subj, sizeof(subj), "/CN=uuid:%s", b);
	assert_non_null(csr = csr_make(f, "b", "ec -pkeyopt "
	    "ec_paramgen_curve:P-256", subj, &csr_len));
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", b, csr, csr_len,
	    &id, &cert, &cert_len), KDC_OK);
	kdc_free(cert);
	cert = NULL;
	free(csr);
	assert_int_equal(kdc_test_sh("cd %s && openssl req -new -key b.key "
	    "-subj /CN=uuid:%s -outform DER -out ab.csr", f->k.dir, a), 0);
	assert_non_null(csr = file_in(f, "ab.csr", &csr_len));
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", a, csr, csr_len,
	    &id, &cert, &cert_len), KDC_ERR_DENIED);
	free(csr);
	/* not owned */
	first_uuid(0x83, subj);
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", subj,
	    (const uint8_t *)"x", 1, &id, &cert, &cert_len),
	    KDC_ERR_NOT_FOUND);
}

/* ---- the mfgcert OTM ------------------------------------------------------ */

static kdc_err
mfg_check(struct fx *f, const uint8_t *der, size_t len, uint8_t *spki,
    size_t *spki_len)
{
	const uint8_t *certs[1] = { der };
	size_t lens[1] = { len };

	*spki_len = KDC_SPKI_MAX;
	return kdc_core_ocf_mfg_check(f->core, "t", certs, lens, 1, spki,
	    spki_len);
}

static void
test_mfg_check(void **state)
{
	struct fx *f = *state;
	uint8_t *ca, *leaf, *rogue, *want, *rsa, spki[KDC_SPKI_MAX], psk[16];
	size_t ca_len, leaf_len, rogue_len, want_len, rsa_len, spki_len;
	struct kdc_principal who;
	struct kdc_ocf_uuid u;
	uint8_t *csr, *cert = NULL;
	size_t csr_len, cert_len;
	int64_t id;
	char nu[KDC_OCF_UUID_TEXT + 1], first[KDC_OCF_UUID_TEXT + 1],
	    subj[64];

	assert_int_equal(kdc_test_sh(
	    "cd %s && openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=mfgca -days 30 "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign "
	    "-keyout mca.key -out mca.pem 2>/dev/null && "
	    "printf 'extendedKeyUsage=serverAuth,clientAuth\\n' > ext && "
	    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -subj /CN=uuid:11111111-2222-4333-8444-555555555555 "
	    "-keyout m.key -out m.csr 2>/dev/null && "
	    "openssl x509 -req -in m.csr -CA mca.pem -CAkey mca.key "
	    "-CAcreateserial -days 10 -extfile ext -outform DER -out m.der "
	    "2>/dev/null && openssl pkey -in m.key -pubout -outform DER "
	    "-out m.spki && "
	    "openssl req -new -newkey rsa:2048 -nodes -subj /CN=rsa "
	    "-keyout r.key -out r.csr 2>/dev/null && "
	    "openssl x509 -req -in r.csr -CA mca.pem -CAkey mca.key "
	    "-CAcreateserial -days 10 -extfile ext -outform DER -out r.der "
	    "2>/dev/null && "
	    "openssl req -new -newkey ed25519 -nodes -subj /CN=ed "
	    "-keyout e.key -out e.csr 2>/dev/null && "
	    "openssl x509 -req -in e.csr -CA mca.pem -CAkey mca.key "
	    "-CAcreateserial -days 10 -extfile ext -outform DER -out e.der "
	    "2>/dev/null && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -subj /CN=rogue -days 5 -keyout g.key -outform DER "
	    "-out g.der 2>/dev/null && "
	    /* EKU serverAuth only (the device is the DTLS server) and
	     * clientAuth only */
	    "printf 'extendedKeyUsage=serverAuth\\n' > exts && "
	    "printf 'extendedKeyUsage=clientAuth\\n' > extc && "
	    "openssl x509 -req -in m.csr -CA mca.pem -CAkey mca.key "
	    "-CAcreateserial -days 10 -extfile exts -outform DER -out s.der "
	    "2>/dev/null && "
	    "openssl x509 -req -in m.csr -CA mca.pem -CAkey mca.key "
	    "-CAcreateserial -days 10 -extfile extc -outform DER -out c.der "
	    "2>/dev/null", f->k.dir), 0);
	fake_now = (int64_t)time(NULL) + 60;
	assert_non_null(ca = file_in(f, "mca.pem", &ca_len));
	assert_non_null(leaf = file_in(f, "m.der", &leaf_len));
	assert_non_null(rogue = file_in(f, "g.der", &rogue_len));
	assert_non_null(want = file_in(f, "m.spki", &want_len));
	assert_non_null(rsa = file_in(f, "r.der", &rsa_len));

	/* no manufacturer CA yet */
	assert_int_equal(mfg_check(f, leaf, leaf_len, spki, &spki_len),
	    KDC_ERR_UNTRUSTED);
	expect_audit(f, "ocf.mfg_check", KDC_ERR_UNTRUSTED, NULL);
	assert_int_equal(spki_len, 0);
	assert_int_equal(kdc_core_mfg_ca_add(f->core, "t", "acme", ca,
	    ca_len), KDC_OK);
	assert_int_equal(mfg_check(f, leaf, leaf_len, spki, &spki_len),
	    KDC_OK);
	assert_int_equal(spki_len, want_len);
	assert_memory_equal(spki, want, want_len);
	/* our own CA is no manufacturer CA; another CA's leaf is untrusted */
	assert_int_equal(mfg_check(f, rogue, rogue_len, spki, &spki_len),
	    KDC_ERR_UNTRUSTED);
	assert_int_equal(mfg_check(f, rsa, rsa_len, spki, &spki_len),
	    KDC_ERR_UNSUPPORTED_KEY);
	/* the device is the server of the OTM's handshake: serverAuth is
	 * what its EKU must allow, clientAuth alone is not enough */
	{
		size_t sl, cl;
		uint8_t *sv = file_in(f, "s.der", &sl), *cv = file_in(f,
		    "c.der", &cl);

		assert_non_null(sv);
		assert_non_null(cv);
		assert_int_equal(mfg_check(f, sv, sl, spki, &spki_len), KDC_OK);
		assert_int_equal(mfg_check(f, cv, cl, spki, &spki_len),
		    KDC_ERR_UNTRUSTED);
		free(sv);
		free(cv);
	}
	/* a key our CA would certify, but not one OCF's suites take */
	{
		size_t ed_len;
		uint8_t *ed = file_in(f, "e.der", &ed_len);

		assert_non_null(ed);
		assert_int_equal(mfg_check(f, ed, ed_len, spki, &spki_len),
		    KDC_ERR_UNSUPPORTED_KEY);
		free(ed);
	}
	/* out of its validity */
	fake_now += 20 * 86400;
	assert_int_equal(mfg_check(f, leaf, leaf_len, spki, &spki_len),
	    KDC_ERR_EXPIRED);
	expect_audit(f, "ocf.mfg_check", KDC_ERR_EXPIRED, NULL);
	fake_now -= 20 * 86400;

	/* the key becomes the device's manufacturer credential */
	assert_int_equal(mfg_check(f, leaf, leaf_len, spki, &spki_len),
	    KDC_OK);
	psk_of(9, psk);
	first_uuid(0x91, first);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_MFGCERT, EP, EPS, &u), KDC_OK);
	kdc_ocf_uuid_format(&u, nu);
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, nu, psk,
	    sizeof(psk), spki, spki_len), KDC_OK);
	expect_audit(f, "ocf.owner", KDC_OK, "manufacturer_key=x509");
	assert_int_equal(kdc_core_ocf_onboard_done(f->core, "t", nu), KDC_OK);
	assert_int_equal(ncreds(f, nu, KDC_KIND_MANUFACTURER, KDC_CRED_ISSUED),
	    1);
	/* which authenticates nobody to the KDC */
	assert_int_equal(kdc_core_auth_spki(f->core, "t", spki, spki_len,
	    &who), KDC_ERR_WRONG_TYPE);
	/* nor may it be certified, nor be another device's */
	snprintf(subj, sizeof(subj), "/CN=uuid:%s", nu);
	assert_int_equal(kdc_test_sh("cd %s && openssl req -new -key m.key "
	    "-subj %s -outform DER -out mm.csr", f->k.dir, subj), 0);
	assert_non_null(csr = file_in(f, "mm.csr", &csr_len));
	assert_int_equal(kdc_core_ocf_cert_sign(f->core, "t", nu, csr,
	    csr_len, &id, &cert, &cert_len), KDC_ERR_DENIED);
	free(csr);
	first_uuid(0x92, first);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_MFGCERT, EP, EPS, &u), KDC_OK);
	kdc_ocf_uuid_format(&u, subj);
	psk_of(10, psk);
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", first, subj, psk,
	    sizeof(psk), spki, spki_len), KDC_ERR_DENIED);
	expect_audit(f, "ocf.owner", KDC_ERR_DENIED, NULL);
	/* a revoked device's key is refused at the handshake */
	snprintf(subj, sizeof(subj), "ocf-%s", nu);
	assert_int_equal(kdc_core_device_revoke(f->core, "t", subj), KDC_OK);
	assert_int_equal(mfg_check(f, leaf, leaf_len, spki, &spki_len),
	    KDC_ERR_REVOKED);
	expect_audit(f, "ocf.mfg_check", KDC_ERR_REVOKED, NULL);
	free(ca);
	free(leaf);
	free(rogue);
	free(want);
	free(rsa);
}

/* ---- offboarding ---------------------------------------------------------- */

static void
test_offboard(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_device d;
	struct kdc_device *x;
	struct kdc_ocf_uuid u;
	struct kdc_cred *c;
	uint8_t psk[KDC_OCF_PSK_LEN];
	char a[KDC_OCF_UUID_TEXT + 1], b[KDC_OCF_UUID_TEXT + 1],
	    c3[KDC_OCF_UUID_TEXT + 1], fa[KDC_OCF_UUID_TEXT + 1],
	    peers[KDC_OCF_PAIRS_MAX][KDC_OCF_UUID_TEXT + 1];
	int64_t ab[2], ac[2], bc[2];
	size_t n;

	onboard(f, 0xa1, NULL, 0, a);
	onboard(f, 0xa2, NULL, 0, b);
	onboard(f, 0xa3, NULL, 0, c3);
	first_uuid(0xa1, fa);
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", a, b, ab, psk),
	    KDC_OK);
	assert_int_equal(kdc_core_ocf_pair_done(f->core, "t", ab), KDC_OK);
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", c3, a, ac, psk),
	    KDC_OK);	/* left pending */
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", b, c3, bc, psk),
	    KDC_OK);
	assert_int_equal(kdc_core_ocf_pair_done(f->core, "t", bc), KDC_OK);

	assert_int_equal(kdc_core_ocf_offboard(f->core, "t", a), KDC_OK);
	expect_audit(f, "ocf.offboard", KDC_OK, "2 credential(s)");
	assert_int_equal(kdc_core_ocf_device_get(f->core, a, &d), KDC_OK);
	assert_int_equal(d.state, KDC_OCF_OFFBOARDED);
	x = dev(f, a);
	assert_int_equal(x->status, KDC_DEV_REVOKED);
	kdc_device_free(x);
	/* everything a held, everything others held for a */
	assert_int_equal(ncreds(f, a, -1, KDC_CRED_ISSUED), 0);
	assert_int_equal(ncreds(f, a, -1, KDC_CRED_PENDING), 0);
	for (int i = 0; i < 2; i++) {
		c = cred(f, ab[i]);
		assert_int_equal(c->status, KDC_CRED_REVOKED);
		kdc_cred_free(c);
		c = cred(f, ac[i]);
		assert_int_equal(c->status, KDC_CRED_REVOKED);
		kdc_cred_free(c);
		/* the pair without a stays */
		c = cred(f, bc[i]);
		assert_int_equal(c->status, KDC_CRED_ISSUED);
		kdc_cred_free(c);
	}
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", a, psk),
	    KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_ocf_pairs(f->core, b, peers, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(peers[0], c3);
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", a, b, ab, psk),
	    KDC_ERR_REVOKED);
	/* the offboarded device's peers are those its offboarding revoked
	 * a key of (the deletions on them may be retried): b and c3 */
	assert_int_equal(kdc_core_ocf_pairs(f->core, a, peers, &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_true((strcmp(peers[0], b) == 0 && strcmp(peers[1], c3) == 0) ||
	    (strcmp(peers[0], c3) == 0 && strcmp(peers[1], b) == 0));
	/* twice: nothing left to revoke */
	assert_int_equal(kdc_core_ocf_offboard(f->core, "t", fa), KDC_OK);
	expect_audit(f, "ocf.offboard", KDC_OK, "0 credential(s)");
	/* unknown */
	first_uuid(0xaf, c3);
	assert_int_equal(kdc_core_ocf_offboard(f->core, "t", c3),
	    KDC_ERR_NOT_FOUND);
	expect_audit(f, "ocf.offboard", KDC_ERR_NOT_FOUND, NULL);
	/* `device revoke` of an OCF device (not an offboarding): the
	 * pairwise keys others hold for it revoked as well */
	{
		char d4[KDC_OCF_UUID_TEXT + 1], id4[KDC_DEVID_MAX + 1];
		int64_t b4[2];

		onboard(f, 0xa4, NULL, 0, d4);
		assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", b, d4,
		    b4, psk), KDC_OK);
		assert_int_equal(kdc_core_ocf_pair_done(f->core, "t", b4),
		    KDC_OK);
		snprintf(id4, sizeof(id4), "%s%s", KDC_OCF_DEVID_PREFIX, d4);
		assert_int_equal(kdc_core_device_revoke(f->core, "t", id4),
		    KDC_OK);
		for (int i = 0; i < 2; i++) {
			c = cred(f, b4[i]);
			assert_int_equal(c->status, KDC_CRED_REVOKED);
			kdc_cred_free(c);
		}
		/* the pair without it stays */
		c = cred(f, bc[0]);
		assert_int_equal(c->status, KDC_CRED_ISSUED);
		kdc_cred_free(c);
	}
	/* the reset device may be onboarded again */
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", fa,
	    KDC_OCF_OXM_RDP, EP, EPS, &u), KDC_OK);
	kdc_ocf_uuid_format(&u, c3);
	psk_of(0x55, psk);	/* psk_of(n) repeats every 16 n */
	assert_int_equal(kdc_core_ocf_owner_set(f->core, "t", fa, c3, psk,
	    sizeof(psk), NULL, 0), KDC_OK);
	assert_int_equal(kdc_core_ocf_onboard_done(f->core, "t", c3), KDC_OK);
	/* the old device stays in the registry, revoked */
	x = dev(f, a);
	assert_int_equal(x->status, KDC_DEV_REVOKED);
	kdc_device_free(x);
}

/* ---- no key in the audit log --------------------------------------------- */

struct scan {
	const uint8_t	*key;
	char		 hex[2 * KDC_OCF_PSK_LEN + 1];
	int		 hits;
	int		 ocf;
};

static kdc_err
scan_rec(const struct kdc_audit_rec *rec, void *arg)
{
	struct scan *s = arg;

	if (strncmp(rec->action, "ocf.", 4) == 0)
		s->ocf++;
	if (strstr(rec->detail, s->hex) != NULL || kdc_test_memmem(
	    rec->detail, strlen(rec->detail), s->key, KDC_OCF_PSK_LEN))
		s->hits++;
	return KDC_OK;
}

static void
test_audit_has_no_key(void **state)
{
	struct fx *f = *state;
	struct scan s;
	uint8_t psk[KDC_OCF_PSK_LEN], pw[KDC_OCF_PSK_LEN];
	char a[KDC_OCF_UUID_TEXT + 1], b[KDC_OCF_UUID_TEXT + 1];
	int64_t ids[2];
	int64_t count, bad;
	char why[128];

	onboard(f, 0xb1, NULL, 0, a);
	onboard(f, 0xb2, NULL, 0, b);
	assert_int_equal(kdc_core_ocf_pair_issue(f->core, "t", a, b, ids, pw),
	    KDC_OK);
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", a, psk), KDC_OK);
	assert_int_equal(kdc_core_ocf_offboard(f->core, "t", a), KDC_OK);
	for (int k = 0; k < 2; k++) {
		memset(&s, 0, sizeof(s));
		s.key = k == 0 ? psk : pw;
		kdc_hex_encode(s.key, KDC_OCF_PSK_LEN, s.hex);
		assert_int_equal(kdc_core_audit_foreach(f->core, 1, scan_rec,
		    &s), KDC_OK);
		assert_int_equal(s.hits, 0);
		assert_true(s.ocf >= 8);
	}
	assert_int_equal(kdc_core_audit_verify(f->core, &count, &bad, why,
	    sizeof(why)), KDC_OK);
}

/* ---- schema 10 -> 11 ------------------------------------------------------- */

static void
test_migrate_from_10(void **state)
{
	struct kdc_store *st = NULL;
	struct kdc_audience aud;
	struct kdc_device dv, *d = NULL;
	struct kdc_ocf_row row;
	sqlite3 *db;
	char *dir = kdc_test_tmpdir(), path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/iotkdc.db", dir);
	assert_int_equal(kdc_store_open(path, 1, &st), KDC_OK);
	memset(&dv, 0, sizeof(dv));
	snprintf(dv.dev_id, sizeof(dv.dev_id), "urn:dev:old");
	snprintf(dv.profile, sizeof(dv.profile), "default");
	assert_int_equal(kdc_store_device_add(st, &dv), KDC_OK);
	memset(&aud, 0, sizeof(aud));
	snprintf(aud.name, sizeof(aud.name), "old-rs");
	aud.kind = KDC_AUD_ACE_RS;
	snprintf(aud.uri, sizeof(aud.uri), "coaps://rs.example");
	assert_int_equal(kdc_store_audience_add(st, &aud), KDC_OK);
	kdc_store_close(st);
	st = NULL;
	/* back to schema 10: its audiences CHECK, no OCF table or index */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = OFF; BEGIN;"
	    "DROP TABLE tdd_events; DROP TABLE tdd_readers; DROP TABLE tdd_things;"
	    "DROP TABLE principal_groups; DROP TABLE users;"
	    "DROP TABLE ocf_devices; DROP INDEX cred_ocf_audience;"
	    "CREATE TABLE a10(name TEXT PRIMARY KEY NOT NULL,"
	    "  kind TEXT NOT NULL"
	    "    CHECK (kind IN ('lwm2m-external','mqtt','ace-rs')),"
	    "  uri TEXT NOT NULL DEFAULT '',"
	    "  ssid INTEGER CHECK (ssid IS NULL OR ssid BETWEEN 1 AND 65534),"
	    "  created INTEGER NOT NULL);"
	    "INSERT INTO a10 SELECT * FROM audiences;"
	    "DROP TABLE audiences; ALTER TABLE a10 RENAME TO audiences;"
	    "CREATE UNIQUE INDEX audiences_ssid ON audiences(ssid)"
	    "  WHERE ssid IS NOT NULL;"
	    "PRAGMA user_version = 10; COMMIT;", NULL, NULL, NULL), SQLITE_OK);
	/* a version-10 store refuses the new kind */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO audiences(name,"
	    " kind, created) VALUES('x', 'ocf-device', 1)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(kdc_store_open(path, 0, &st), KDC_OK);
	assert_int_equal(kdc_store_schema_version(st), 12);
	assert_int_equal(kdc_store_device_get(st, "urn:dev:old", &d), KDC_OK);
	assert_int_equal(d->id, dv.id);
	kdc_device_free(d);
	assert_int_equal(kdc_store_audience_get(st, "old-rs", &aud), KDC_OK);
	assert_int_equal(aud.kind, KDC_AUD_ACE_RS);
	assert_string_equal(aud.uri, "coaps://rs.example");
	/* the new kind and table work */
	memset(&aud, 0, sizeof(aud));
	snprintf(aud.name, sizeof(aud.name), "ocf-x");
	aud.kind = KDC_AUD_OCF_DEVICE;
	snprintf(aud.uri, sizeof(aud.uri), "coaps://[::1]:1");
	assert_int_equal(kdc_store_audience_add(st, &aud), KDC_OK);
	memset(&row, 0, sizeof(row));
	first_uuid(0x12, row.first_uuid);
	first_uuid(0x12, row.uuid);
	row.device = dv.id;
	row.otm = 1;
	snprintf(row.step, sizeof(row.step), "begin");
	assert_int_equal(kdc_store_ocf_put(st, &row), KDC_OK);
	assert_true(row.id > 0);
	assert_int_equal(kdc_store_ocf_get_by_device(st, dv.id, &row), KDC_OK);
	assert_string_equal(row.step, "begin");
	/* the foreign keys hold after the rebuild */
	assert_int_equal(kdc_store_check(st, NULL, 0), KDC_OK);
	kdc_store_close(st);
	kdc_test_rmtree(dir);
	free(dir);
}

/* The owner PSK made by core from the DOC's key_block: the first 16 bytes
 * of P_SHA256(key_block, OXM || OBT uuid || new uuid), computed here from
 * the RFC 5246 definition on GnuTLS's HMAC (not our PRF), for the OTM
 * the onboarding began with. */
static void
test_owner_derive(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_uuid u, obt;
	uint8_t kb[96], seed[16 + 32], a1[32], blk[32 + sizeof(seed)], want[32],
	    got[KDC_OCF_PSK_LEN];
	char first[KDC_OCF_UUID_TEXT + 1], nu[KDC_OCF_UUID_TEXT + 1];

	for (size_t i = 0; i < sizeof(kb); i++)
		kb[i] = (uint8_t)(i * 7 + 1);
	first_uuid(0xd1, first);
	assert_int_equal(kdc_core_ocf_onboard_begin(f->core, "t", first,
	    KDC_OCF_OXM_JW, EP, EPS, &u), KDC_OK);
	kdc_ocf_uuid_format(&u, nu);
	assert_int_equal(kdc_core_ocf_owner_derive(f->core, "t", first, nu, kb,
	    sizeof(kb), NULL, 0), KDC_OK);
	assert_int_equal(kdc_core_ocf_onboard_done(f->core, "t", nu), KDC_OK);
	assert_int_equal(kdc_core_ocf_owner_psk(f->core, "t", nu, got),
	    KDC_OK);
	assert_int_equal(kdc_core_ocf_obt_uuid(f->core, &obt), KDC_OK);
	memcpy(seed, "oic.sec.doxm.jw", 15);
	memcpy(seed + 15, obt.b, 16);
	memcpy(seed + 31, u.b, 16);
	/* P_SHA256: A(1) = HMAC(secret, seed); out = HMAC(secret, A(1) ||
	 * seed) */
	assert_int_equal(gnutls_hmac_fast(GNUTLS_MAC_SHA256, kb, sizeof(kb),
	    seed, 47, a1), 0);
	memcpy(blk, a1, 32);
	memcpy(blk + 32, seed, 47);
	assert_int_equal(gnutls_hmac_fast(GNUTLS_MAC_SHA256, kb, sizeof(kb),
	    blk, 32 + 47, want), 0);
	assert_memory_equal(got, want, KDC_OCF_PSK_LEN);
	/* refused: no key block, an unknown onboarding */
	assert_int_equal(kdc_core_ocf_owner_derive(f->core, "t", first, nu,
	    NULL, 0, NULL, 0), KDC_ERR_INVALID_ARG);
	first_uuid(0xd2, first);
	assert_int_equal(kdc_core_ocf_owner_derive(f->core, "t", first, nu, kb,
	    sizeof(kb), NULL, 0), KDC_ERR_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_obt_uuid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_onboard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_derive, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_and_rerun, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_owner_psk_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pairwise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_sign, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mfg_check, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_offboard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_has_no_key, setup,
		    teardown),
		cmocka_unit_test(test_migrate_from_10),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
