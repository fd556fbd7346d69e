/* test_core_audience.c: the audience registry (add, get, list and the
 * refusals), issuance per audience (one live credential per audience),
 * all-or-none activation, the start check for unregistered audiences. */
#include <setjmp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/core.h"
#include "testutil.h"

struct fx {
	char			*dir;
	struct kdc_config	 cfg;
	struct kdc_keyring	*kr;
	struct kdc_store	*st;
	struct kdc_ca		*ca;
	struct kdc_core		*core;
};

static const uint8_t wkey[32] = { 0x43 };
static int64_t fake_now = 1800000000;

static int64_t
clock_fn(void)
{
	return fake_now;
}

/* Profile default: the built-in lwm2m (psk), ext1 (psk, 32-byte keys,
 * 600 s), broker (rpk), and ghost (never registered) in profile "g". */
static const char conf[] =
    "[lwm2m]\nserver_uri = coaps://kdc.example:5685\n"
    "[profile default]\n"
    "[profile default ext1]\npsk_key_bytes = 32\nlifetime_seconds = 600\n"
    "[profile default broker]\ncred_type = rpk\n"
    "[profile g]\n[profile g ghost]\n";

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_int_equal(kdc_crypto_init(), KDC_OK);
	f->dir = kdc_test_tmpdir();
	assert_int_equal(kdc_config_parse(conf, &f->cfg, err, sizeof(err)),
	    KDC_OK);
	assert_int_equal(kdc_keyring_from_bytes(wkey, &f->kr), KDC_OK);
	assert_int_equal(kdc_store_open(":memory:", 1, &f->st), KDC_OK);
	assert_int_equal(kdc_ca_create(f->dir, f->kr, NULL, 3650), KDC_OK);
	assert_int_equal(kdc_ca_load(f->dir, f->kr, NULL, &f->ca), KDC_OK);
	assert_int_equal(kdc_core_new(f->st, f->kr, f->ca, &f->cfg, &f->core),
	    KDC_OK);
	fake_now = 1800000000;
	kdc_core_set_clock(f->core, clock_fn);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kdc_core_free(f->core);
	kdc_ca_free(f->ca);
	kdc_store_close(f->st);
	kdc_keyring_free(f->kr);
	kdc_test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void
expect_last_audit(struct fx *f, const char *action, const char *subject,
    kdc_err outcome, const char *detail_part)
{
	struct kdc_audit_rec last;

	assert_int_equal(kdc_store_audit_last(f->st, &last), KDC_OK);
	assert_string_equal(last.action, action);
	if (subject != NULL)
		assert_string_equal(last.subject, subject);
	assert_string_equal(last.outcome,
	    outcome == KDC_OK ? "ok" : kdc_err_name(outcome));
	if (detail_part != NULL && strstr(last.detail, detail_part) == NULL)
		fail_msg("audit detail '%s' lacks '%s'", last.detail,
		    detail_part);
}

static size_t
naudiences(struct fx *f)
{
	struct kdc_audience *v = NULL;
	size_t n = 0;

	assert_int_equal(kdc_core_audience_list(f->core, &v, &n), KDC_OK);
	free(v);
	return n;
}

static void
add_ok(struct fx *f, const char *name, const char *kind, const char *uri,
    int ssid)
{
	assert_int_equal(kdc_core_audience_add(f->core, "t", name, kind, uri,
	    ssid), KDC_OK);
	expect_last_audit(f, "audience.add", name, KDC_OK, "kind=");
}

static void
test_add_list_show(void **state)
{
	struct fx *f = *state;
	struct kdc_audience *v = NULL, a;
	size_t n = 0;

	/* the built-in one is there from the start, not stored */
	assert_int_equal(kdc_core_audience_list(f->core, &v, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "lwm2m");
	assert_int_equal(v[0].kind, KDC_AUD_LWM2M);
	assert_int_equal(v[0].ssid, 1);
	assert_string_equal(v[0].uri, "coaps://kdc.example:5685");
	free(v);

	add_ok(f, "ext1", "lwm2m-external", "coaps://lwm2m.example:5684", 101);
	expect_last_audit(f, "audience.add", "ext1", KDC_OK,
	    "kind=lwm2m-external uri=coaps://lwm2m.example:5684 ssid=101");
	add_ok(f, "broker", "mqtt", "mqtts://broker.example:8883", 0);
	add_ok(f, "rs.1", "ace-rs", "https://rs.example/api", 0);
	add_ok(f, "rs-2", "ace-rs", "coaps://[2001:db8::1]:5684", 0);

	assert_int_equal(kdc_core_audience_list(f->core, &v, &n), KDC_OK);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].name, "lwm2m");	/* built-in first */
	assert_string_equal(v[1].name, "broker");	/* then by name */
	assert_string_equal(v[2].name, "ext1");
	assert_string_equal(v[3].name, "rs-2");
	assert_string_equal(v[4].name, "rs.1");
	free(v);

	assert_int_equal(kdc_core_audience_get(f->core, "ext1", &a), KDC_OK);
	assert_int_equal(a.kind, KDC_AUD_LWM2M_EXTERNAL);
	assert_string_equal(a.uri, "coaps://lwm2m.example:5684");
	assert_int_equal(a.ssid, 101);
	assert_int_equal(a.created, fake_now);
	assert_int_equal(kdc_core_audience_get(f->core, "broker", &a), KDC_OK);
	assert_int_equal(a.kind, KDC_AUD_MQTT);
	assert_int_equal(a.ssid, 0);
	assert_int_equal(kdc_core_audience_get(f->core, "lwm2m", &a), KDC_OK);
	assert_int_equal(a.kind, KDC_AUD_LWM2M);
	assert_int_equal(kdc_core_audience_get(f->core, "nope", &a),
	    KDC_ERR_UNKNOWN_AUDIENCE);
	assert_int_equal(kdc_core_audience_get(f->core, "bad/name", &a),
	    KDC_ERR_UNKNOWN_AUDIENCE);
}

/* Each refusal its own error, audited, and the registry unchanged. */
static void
test_refusals(void **state)
{
	struct fx *f = *state;
	char long_name[KDC_NAME_MAX + 2], long_uri[KDC_AUDIENCE_URI_MAX + 2];
	static const struct {
		const char	*name, *kind, *uri;
		int		 ssid;
		kdc_err		 want;
	} bad[] = {
		/* bad name */
		{ "bad/name", "mqtt", "mqtts://b.example", 0,
		    KDC_ERR_INVALID_ARG },
		{ "", "mqtt", "mqtts://b.example", 0, KDC_ERR_INVALID_ARG },
		{ "a b", "mqtt", "mqtts://b.example", 0, KDC_ERR_INVALID_ARG },
		/* bad kind: unknown, or the built-in's */
		{ "x", "ftp", "mqtts://b.example", 0, KDC_ERR_UNSUPPORTED },
		{ "x", "lwm2m", "coaps://b.example", 1, KDC_ERR_UNSUPPORTED },
		{ "x", "", "mqtts://b.example", 0, KDC_ERR_UNSUPPORTED },
		/* missing or bad uri */
		{ "x", "lwm2m-external", "", 7, KDC_ERR_MALFORMED },
		{ "x", "mqtt", "", 0, KDC_ERR_MALFORMED },
		{ "x", "mqtt", "coaps://b.example", 0, KDC_ERR_MALFORMED },
		{ "x", "lwm2m-external", "coap://b.example", 7,
		    KDC_ERR_MALFORMED },
		{ "x", "ace-rs", "http://rs.example", 0, KDC_ERR_MALFORMED },
		{ "x", "mqtt", "mqtts://u:pw@b.example", 0, KDC_ERR_MALFORMED },
		{ "x", "mqtt", "mqtts://b.example/a b", 0, KDC_ERR_MALFORMED },
		{ "x", "mqtt", "mqtts://", 0, KDC_ERR_MALFORMED },
		{ "x", "mqtt", "mqtts://b.example:8x", 0, KDC_ERR_MALFORMED },
		/* ssid: needed by lwm2m-external, 2..65534; not elsewhere */
		{ "x", "lwm2m-external", "coaps://b.example", 0,
		    KDC_ERR_INVALID_ARG },
		{ "x", "lwm2m-external", "coaps://b.example", 1,
		    KDC_ERR_INVALID_ARG },
		{ "x", "lwm2m-external", "coaps://b.example", 65535,
		    KDC_ERR_INVALID_ARG },
		{ "x", "mqtt", "mqtts://b.example", 5, KDC_ERR_INVALID_ARG },
		/* duplicates: the name (the built-in's too), the ssid */
		{ "lwm2m", "mqtt", "mqtts://b.example", 0, KDC_ERR_EXISTS },
		{ "ext1", "mqtt", "mqtts://b.example", 0, KDC_ERR_EXISTS },
		{ "ext2", "lwm2m-external", "coaps://o.example", 101,
		    KDC_ERR_DUPLICATE_SSID },
	};

	add_ok(f, "ext1", "lwm2m-external", "coaps://lwm2m.example", 101);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kdc_err r = kdc_core_audience_add(f->core, "t", bad[i].name,
		    bad[i].kind, bad[i].uri, bad[i].ssid);

		if (r != bad[i].want)
			fail_msg("case %zu (%s): got %s, want %s", i,
			    bad[i].name, kdc_err_name(r),
			    kdc_err_name(bad[i].want));
		expect_last_audit(f, "audience.add", NULL, bad[i].want, NULL);
	}
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(kdc_core_audience_add(f->core, "t", long_name, "mqtt",
	    "mqtts://b.example", 0), KDC_ERR_INVALID_ARG);
	snprintf(long_uri, sizeof(long_uri), "mqtts://b.example/");
	memset(long_uri + strlen(long_uri), 'p', sizeof(long_uri) - 1 -
	    strlen(long_uri));
	long_uri[sizeof(long_uri) - 1] = '\0';
	assert_int_equal(kdc_core_audience_add(f->core, "t", "x", "mqtt",
	    long_uri, 0), KDC_ERR_MALFORMED);
	/* one byte shorter fits */
	long_uri[sizeof(long_uri) - 2] = '\0';
	add_ok(f, "x", "mqtt", long_uri, 0);
	assert_int_equal(naudiences(f), 3);
	/* a freed ssid is only taken when the row is: ext1 keeps 101 */
	add_ok(f, "ext3", "lwm2m-external", "coaps://o.example", 102);
	assert_int_equal(naudiences(f), 4);
}

static void
device(struct fx *f, const char *id, const char *profile, uint8_t fill)
{
	struct kdc_device_spec s;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", id);
	snprintf(s.profile, sizeof(s.profile), "%s", profile);
	snprintf(s.psk_identity, sizeof(s.psk_identity), "%s-mfg", id);
	s.type = KDC_TYPE_PSK;
	memset(s.psk, fill, 16);
	s.psk_len = 16;
	assert_int_equal(kdc_core_device_add(f->core, "t", &s), KDC_OK);
}

static enum kdc_cred_status
status_of(struct fx *f, int64_t id)
{
	struct kdc_cred *c = NULL;
	enum kdc_cred_status st;

	assert_int_equal(kdc_store_cred_get(f->st, id, &c), KDC_OK);
	st = c->status;
	kdc_cred_free(c);
	return st;
}

/* Two audiences, two live credentials; re-issuing one supersedes only
 * that audience's. */
static void
test_issue_per_audience(void **state)
{
	struct fx *f = *state;
	struct kdc_psk_new a1, e1, e2;
	struct kdc_cred *c = NULL;
	struct kdc_device_audience da[8];
	uint8_t pk8[KDC_PRIVKEY_MAX], *pub = NULL;
	size_t pk8_len = sizeof(pk8), pub_len = 0, n = 0;
	int64_t rpk_id;
	char why[256];

	device(f, "urn:dev:a", "default", 0x31);
	/* ext1 and broker are listed, not registered yet */
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:a", "ext1",
	    KDC_CRED_ISSUED, &e1), KDC_ERR_UNKNOWN_AUDIENCE);
	expect_last_audit(f, "psk.issue", "urn:dev:a",
	    KDC_ERR_UNKNOWN_AUDIENCE, NULL);
	assert_int_equal(kdc_core_device_audiences(f->core, "urn:dev:a", da,
	    8, &n), KDC_ERR_UNKNOWN_AUDIENCE);
	add_ok(f, "ext1", "lwm2m-external", "coaps://lwm2m.example", 101);
	add_ok(f, "broker", "mqtt", "mqtts://broker.example", 0);

	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:a", NULL,
	    KDC_CRED_ISSUED, &a1), KDC_OK);
	expect_last_audit(f, "psk.issue", "urn:dev:a", KDC_OK,
	    "audience=lwm2m");
	assert_int_equal(a1.psk_len, 16);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:a", "ext1",
	    KDC_CRED_ISSUED, &e1), KDC_OK);
	expect_last_audit(f, "psk.issue", "urn:dev:a", KDC_OK,
	    "audience=ext1");
	/* the ext1 entry's settings, not the primary's */
	assert_int_equal(e1.psk_len, 32);
	assert_int_equal(kdc_store_cred_get(f->st, e1.cred_id, &c), KDC_OK);
	assert_string_equal(c->audience, "ext1");
	assert_int_equal(c->not_after, fake_now + 600);
	kdc_cred_free(c);
	/* both live, one per audience */
	assert_int_equal(status_of(f, a1.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, e1.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(kdc_core_cred_current(f->core, "urn:dev:a", NULL,
	    KDC_CRED_ISSUED, &c), KDC_OK);
	assert_int_equal(c->id, a1.cred_id);
	kdc_cred_free(c);
	assert_int_equal(kdc_core_cred_current(f->core, "urn:dev:a", "ext1",
	    KDC_CRED_ISSUED, &c), KDC_OK);
	assert_int_equal(c->id, e1.cred_id);
	kdc_cred_free(c);
	/* again for ext1: only ext1's is superseded */
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:a", "ext1",
	    KDC_CRED_ISSUED, &e2), KDC_OK);
	assert_int_equal(status_of(f, e1.cred_id), KDC_CRED_SUPERSEDED);
	assert_int_equal(status_of(f, e2.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, a1.cred_id), KDC_CRED_ISSUED);
	/* the broker's entry: an RPK, its own audience */
	assert_int_equal(kdc_core_keypair_issue(f->core, "t", "urn:dev:a",
	    "broker", KDC_TYPE_RPK, KDC_CRED_ISSUED, &rpk_id, pk8, &pk8_len,
	    &pub, &pub_len), KDC_OK);
	free(pub);
	assert_int_equal(kdc_store_cred_get(f->st, rpk_id, &c), KDC_OK);
	assert_string_equal(c->audience, "broker");
	kdc_cred_free(c);
	assert_int_equal(status_of(f, e2.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, a1.cred_id), KDC_CRED_ISSUED);

	/* an audience the profile does not list: refused, audited, nothing
	 * issued or superseded */
	add_ok(f, "other", "mqtt", "mqtts://o.example", 0);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:a", "other",
	    KDC_CRED_ISSUED, &e1), KDC_ERR_UNKNOWN_AUDIENCE);
	expect_last_audit(f, "psk.issue", "urn:dev:a",
	    KDC_ERR_UNKNOWN_AUDIENCE, NULL);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:a", "nope",
	    KDC_CRED_ISSUED, &e1), KDC_ERR_UNKNOWN_AUDIENCE);
	pk8_len = sizeof(pk8);
	assert_int_equal(kdc_core_keypair_issue(f->core, "t", "urn:dev:a",
	    "other", KDC_TYPE_RPK, KDC_CRED_ISSUED, &rpk_id, pk8, &pk8_len,
	    &pub, &pub_len), KDC_ERR_UNKNOWN_AUDIENCE);
	expect_last_audit(f, "rpk.issue", "urn:dev:a",
	    KDC_ERR_UNKNOWN_AUDIENCE, NULL);
	assert_int_equal(kdc_core_cred_current(f->core, "urn:dev:a", "other",
	    KDC_CRED_ISSUED, &c), KDC_ERR_UNKNOWN_AUDIENCE);
	assert_int_equal(status_of(f, e2.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, a1.cred_id), KDC_CRED_ISSUED);

	/* the built-in LwM2M Server takes its own audience's credential
	 * only: ext1's authenticates, but may not register there */
	{
		struct kdc_principal who;
		struct kdc_cred *row = NULL;
		uint8_t psk[KDC_PSK_MAX];
		size_t psk_len = sizeof(psk);
		char why2[256];

		assert_int_equal(kdc_store_cred_get(f->st, e2.cred_id, &row),
		    KDC_OK);
		assert_int_equal(kdc_core_auth_psk(f->core, "t", row->identity,
		    psk, &psk_len, &who), KDC_OK);
		kdc_cred_free(row);
		assert_string_equal(who.audience, "ext1");
		assert_int_equal(kdc_authorize(f->core, "t", &who,
		    KDC_ACT_REGISTER, "urn:dev:a", NULL, why2, sizeof(why2)),
		    KDC_ERR_DENIED);
		assert_non_null(strstr(why2, "audience ext1"));
		expect_last_audit(f, "authz.register", NULL, KDC_ERR_DENIED,
		    NULL);
		assert_int_equal(kdc_store_cred_get(f->st, a1.cred_id, &row),
		    KDC_OK);
		psk_len = sizeof(psk);
		assert_int_equal(kdc_core_auth_psk(f->core, "t", row->identity,
		    psk, &psk_len, &who), KDC_OK);
		kdc_cred_free(row);
		assert_int_equal(kdc_authorize(f->core, "t", &who,
		    KDC_ACT_REGISTER, "urn:dev:a", NULL, NULL, 0), KDC_OK);
	}

	/* the device's audiences, primary first */
	assert_int_equal(kdc_core_device_audiences(f->core, "urn:dev:a", da,
	    8, &n), KDC_OK);
	assert_int_equal(n, 3);
	assert_string_equal(da[0].aud.name, "lwm2m");
	assert_string_equal(da[1].aud.name, "ext1");
	assert_int_equal(da[1].aud.ssid, 101);
	assert_int_equal(da[1].prof.psk_key_len, 32);
	assert_string_equal(da[2].aud.name, "broker");
	assert_int_equal(da[2].prof.cred_type, KDC_TYPE_RPK);
	assert_int_equal(kdc_core_device_audiences(f->core, "urn:dev:a", da,
	    2, &n), KDC_ERR_TOO_LARGE);

	/* profile g names ghost, never registered: serve's check says so */
	assert_int_equal(kdc_core_audiences_check(f->core, why, sizeof(why)),
	    KDC_ERR_UNKNOWN_AUDIENCE);
	assert_non_null(strstr(why, "profile g names audience ghost"));
	device(f, "urn:dev:g", "g", 0x32);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:g", "ghost",
	    KDC_CRED_ISSUED, &e1), KDC_ERR_UNKNOWN_AUDIENCE);
	add_ok(f, "ghost", "ace-rs", "coaps://rs.example", 0);
	assert_int_equal(kdc_core_audiences_check(f->core, why, sizeof(why)),
	    KDC_OK);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:g", "ghost",
	    KDC_CRED_ISSUED, &e1), KDC_OK);
	kdc_psk_new_wipe(&a1);
	kdc_psk_new_wipe(&e1);
	kdc_psk_new_wipe(&e2);
}

/* Pending credentials of two audiences activate together or not at
 * all. */
static void
test_activate_all_or_none(void **state)
{
	struct fx *f = *state;
	struct kdc_psk_new p1, p2, live;
	int64_t ids[2];

	add_ok(f, "ext1", "lwm2m-external", "coaps://lwm2m.example", 101);
	add_ok(f, "broker", "mqtt", "mqtts://broker.example", 0);
	device(f, "urn:dev:b", "default", 0x41);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:b", NULL,
	    KDC_CRED_ISSUED, &live), KDC_OK);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:b", NULL,
	    KDC_CRED_PENDING, &p1), KDC_OK);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:b", "ext1",
	    KDC_CRED_ISSUED, &p2), KDC_OK);

	/* the second is not pending: none is activated */
	ids[0] = p1.cred_id;
	ids[1] = p2.cred_id;
	assert_int_equal(kdc_core_cred_activate_set(f->core, "t", ids, 2,
	    "lwm2m.bootstrap", "urn:dev:b", "note"), KDC_ERR_INVALID_ARG);
	expect_last_audit(f, "cred.activate", NULL, KDC_ERR_INVALID_ARG,
	    NULL);
	{
		struct kdc_audit_rec last;
		char want[32];

		assert_int_equal(kdc_store_audit_last(f->st, &last), KDC_OK);
		snprintf(want, sizeof(want), "cred:%" PRId64, p2.cred_id);
		assert_string_equal(last.subject, want);
	}
	assert_int_equal(status_of(f, p1.cred_id), KDC_CRED_PENDING);
	assert_int_equal(status_of(f, live.cred_id), KDC_CRED_ISSUED);
	/* an unknown one likewise */
	ids[1] = 999999;
	assert_int_equal(kdc_core_cred_activate_set(f->core, "t", ids, 2,
	    NULL, NULL, NULL), KDC_ERR_NOT_FOUND);
	assert_int_equal(status_of(f, p1.cred_id), KDC_CRED_PENDING);
	assert_int_equal(status_of(f, live.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(kdc_core_cred_activate_set(f->core, "t", ids, 0,
	    NULL, NULL, NULL), KDC_ERR_INVALID_ARG);

	/* two pending ones: both go live in one record */
	kdc_psk_new_wipe(&p2);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:b", "ext1",
	    KDC_CRED_PENDING, &p2), KDC_OK);
	ids[1] = p2.cred_id;
	assert_int_equal(kdc_core_cred_activate_set(f->core, "t", ids, 2,
	    "lwm2m.bootstrap", "urn:dev:b", "note"), KDC_OK);
	{
		char want[128];

		snprintf(want, sizeof(want), "note activated cred=%" PRId64
		    " audience=lwm2m cred=%" PRId64 " audience=ext1",
		    p1.cred_id, p2.cred_id);
		expect_last_audit(f, "lwm2m.bootstrap", "urn:dev:b", KDC_OK,
		    want);
	}
	assert_int_equal(status_of(f, p1.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, p2.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, live.cred_id), KDC_CRED_SUPERSEDED);
	kdc_psk_new_wipe(&p1);
	kdc_psk_new_wipe(&p2);
	kdc_psk_new_wipe(&live);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_list_show, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_issue_per_audience, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_activate_all_or_none,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
