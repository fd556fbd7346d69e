/* test_core.c: registry, authentication refusals, issuance, lifecycle,
 * all-or-nothing import, and an allocation-failure loop. */
#include <setjmp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/audit.h"
#include "core/config.h"
#include "core/core.h"
#include "testkdc.h"
#include "testutil.h"

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_config	 cfg;
};

static const uint8_t wkey[32] = { 0x42 };
static int64_t fake_now = 1800000000;

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
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, 0);
	fake_now = 1800000000;
	kdc_core_set_clock(f->k.core, clock_fn);
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

static void
psk_spec(struct kdc_device_spec *s, const char *id, const char *ident,
    uint8_t fill, size_t len)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dev_id, sizeof(s->dev_id), "%s", id);
	snprintf(s->psk_identity, sizeof(s->psk_identity), "%s", ident);
	s->type = KDC_TYPE_PSK;
	memset(s->psk, fill, len);
	s->psk[0] = (uint8_t)(fill ^ 0x5a);
	s->psk_len = len;
}

static size_t
ndevices(struct fx *f)
{
	struct kdc_device **v;
	size_t n;

	assert_int_equal(kdc_core_device_list(f->k.core, &v, &n), KDC_OK);
	kdc_device_list_free(v, n);
	return n;
}

static int64_t
naudit(struct fx *f)
{
	struct kdc_audit_rec last;

	if (kdc_store_audit_last(f->k.st, &last) != KDC_OK)
		return 0;
	return last.seq;
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

static void
test_psk_device_auth(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_cred *cred = NULL;
	struct kdc_principal who;
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);

	psk_spec(&s, "urn:dev:ops:1", "dev1", 0x11, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	expect_last_audit(f, "device.add", KDC_OK);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", "dev1", psk,
	    &psk_len, &who), KDC_OK);
	assert_int_equal(psk_len, 16);
	assert_memory_equal(psk, s.psk, 16);
	assert_int_equal(who.kind, KDC_KIND_MANUFACTURER);
	assert_string_equal(who.dev_id, "urn:dev:ops:1");
	assert_int_equal(kdc_store_cred_get(f->k.st, who.cred_id, &cred),
	    KDC_OK);
	/* at rest the PSK is wrapped, not stored raw */
	assert_false(kdc_test_memmem(cred->wrapped, cred->wrapped_len, s.psk,
	    16));
	kdc_cred_free(cred);
	/* re-adding the id: EXISTS, audited, nothing changes */
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s),
	    KDC_ERR_EXISTS);
	expect_last_audit(f, "device.add", KDC_ERR_EXISTS);
	assert_int_equal(ndevices(f), 1);
}

static void
test_refusals_distinct_and_audited(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);
	int64_t cred_id;
	struct kdc_psk_new pn;

	psk_spec(&s, "urn:dev:ops:2", "dev2", 0x22, 32);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);

	assert_int_equal(kdc_core_auth_psk(f->k.core, "coap", "nobody", psk,
	    &psk_len, NULL), KDC_ERR_UNKNOWN_DEVICE);
	expect_last_audit(f, "auth.psk", KDC_ERR_UNKNOWN_DEVICE);

	/* an operational PSK expires with its lifetime */
	assert_int_equal(kdc_core_psk_issue(f->k.core, "test", "urn:dev:ops:2",
	    NULL, KDC_CRED_ISSUED, &pn), KDC_OK);
	cred_id = pn.cred_id;
	{
		struct kdc_cred *c = NULL;
		assert_int_equal(kdc_store_cred_get(f->k.st, cred_id, &c),
		    KDC_OK);
		psk_len = sizeof(psk);
		assert_int_equal(kdc_core_auth_psk(f->k.core, "coap",
		    c->identity, psk, &psk_len, NULL), KDC_OK);
		assert_int_equal(psk_len, pn.psk_len);
		assert_memory_equal(psk, pn.psk, pn.psk_len);
		assert_string_equal(c->identity, pn.identity);
		fake_now += 31 * 86400;
		psk_len = sizeof(psk);
		assert_int_equal(kdc_core_auth_psk(f->k.core, "coap",
		    c->identity, psk, &psk_len, NULL), KDC_ERR_EXPIRED);
		expect_last_audit(f, "auth.psk", KDC_ERR_EXPIRED);
		kdc_cred_free(c);
	}

	assert_int_equal(kdc_core_device_revoke(f->k.core, "test",
	    "urn:dev:ops:2"), KDC_OK);
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "coap", "dev2", psk,
	    &psk_len, NULL), KDC_ERR_REVOKED);
	expect_last_audit(f, "auth.psk", KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_device_revoke(f->k.core, "test",
	    "urn:dev:ops:2"), KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_device_revoke(f->k.core, "test",
	    "urn:dev:none"), KDC_ERR_UNKNOWN_DEVICE);
	expect_last_audit(f, "device.revoke", KDC_ERR_UNKNOWN_DEVICE);
}

static void
test_bad_specs_change_nothing(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	int64_t before;

	psk_spec(&s, "urn:dev:a", "a", 0x33, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	before = naudit(f);

	psk_spec(&s, "urn:dev:b", "b", 0x44, 15);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s),
	    KDC_ERR_WEAK_PSK);
	psk_spec(&s, "urn:dev:c", "c", 0x33, 16);	/* a's PSK */
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s),
	    KDC_ERR_DUPLICATE_PSK);
	psk_spec(&s, "urn:dev:d", "a", 0x55, 16);	/* a's identity */
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s),
	    KDC_ERR_DUPLICATE_PSK);
	psk_spec(&s, "bad id", "e", 0x66, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s),
	    KDC_ERR_INVALID_ARG);
	psk_spec(&s, "urn:dev:f", "f", 0x77, 16);
	snprintf(s.profile, sizeof(s.profile), "nosuch");
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s),
	    KDC_ERR_UNKNOWN_PROFILE);
	assert_int_equal(ndevices(f), 1);
	/* each refusal left exactly one audit record */
	assert_int_equal(naudit(f), before + 5);
}

static void
test_import_all_or_nothing(void **state)
{
	struct fx *f = *state;
	size_t count, bad;
	char why[256];
	const char *good =
	    "{\"id\":\"urn:dev:m1\",\"psk_identity\":\"m1\","
	    "\"psk\":\"000102030405060708090a0b0c0d0e0f\"}\n"
	    "\n"
	    "{\"id\":\"urn:dev:m2\",\"cert\":true,\"profile\":\"default\"}\n";
	const char *bad3 =
	    "{\"id\":\"urn:dev:n1\",\"psk_identity\":\"n1\","
	    "\"psk\":\"101112131415161718191a1b1c1d1e1f\"}\n"
	    "{\"id\":\"urn:dev:n2\",\"cert\":true}\n"
	    "{\"id\":\"urn:dev:n3\",\"psk_identity\":\"n3\","
	    "\"psk\":\"1011121314151617\"}\n";
	const char *shared =
	    "{\"id\":\"urn:dev:s1\",\"psk_identity\":\"s1\","
	    "\"psk\":\"202122232425262728292a2b2c2d2e2f\"}\n"
	    "{\"id\":\"urn:dev:s2\",\"psk_identity\":\"s2\","
	    "\"psk\":\"202122232425262728292a2b2c2d2e2f\"}\n";

	assert_int_equal(kdc_core_device_import(f->k.core, "test", bad3,
	    strlen(bad3), &count, &bad, why, sizeof(why)), KDC_ERR_WEAK_PSK);
	assert_int_equal(bad, 3);
	assert_int_equal(count, 0);
	assert_int_equal(ndevices(f), 0);
	expect_last_audit(f, "device.import", KDC_ERR_WEAK_PSK);

	assert_int_equal(kdc_core_device_import(f->k.core, "test", shared,
	    strlen(shared), &count, &bad, why, sizeof(why)),
	    KDC_ERR_DUPLICATE_PSK);
	assert_int_equal(bad, 2);
	assert_int_equal(ndevices(f), 0);

	assert_int_equal(kdc_core_device_import(f->k.core, "test", good,
	    strlen(good), &count, &bad, why, sizeof(why)), KDC_OK);
	assert_int_equal(count, 2);
	assert_int_equal(ndevices(f), 2);
	/* again: line 1 is now a duplicate id, nothing changes */
	assert_int_equal(kdc_core_device_import(f->k.core, "test", good,
	    strlen(good), &count, &bad, why, sizeof(why)), KDC_ERR_EXISTS);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(why, "urn:dev:m1"));
	assert_int_equal(ndevices(f), 2);
}

static int
count_live(struct fx *f, int64_t device)
{
	struct kdc_cred_filter flt = { device, KDC_KIND_OPERATIONAL,
	    KDC_CRED_ISSUED, 0 };
	struct kdc_cred **v;
	size_t n;

	assert_int_equal(kdc_core_cred_list(f->k.core, &flt, &v, &n), KDC_OK);
	kdc_cred_list_free(v, n);
	return (int)n;
}

static void
test_lifecycle_one_live(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_device *d;
	struct kdc_psk_new pn;
	int64_t a, b, p;
	size_t n;

	psk_spec(&s, "urn:dev:l", "l", 0x12, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	assert_int_equal(kdc_core_device_get(f->k.core, "urn:dev:l", &d),
	    KDC_OK);
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:l", NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	a = pn.cred_id;
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:l", NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	b = pn.cred_id;
	assert_true(b > a);	/* a new row, the first superseded */
	assert_int_equal(count_live(f, d->id), 1);
	/* a pending one coexists until activated, then supersedes */
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:l", NULL,
	    KDC_CRED_PENDING, &pn), KDC_OK);
	p = pn.cred_id;
	assert_int_equal(count_live(f, d->id), 1);
	assert_int_equal(kdc_core_cred_activate(f->k.core, "t", p), KDC_OK);
	assert_int_equal(count_live(f, d->id), 1);
	{
		struct kdc_cred *c;
		assert_int_equal(kdc_store_cred_get(f->k.st, b, &c), KDC_OK);
		assert_int_equal(c->status, KDC_CRED_SUPERSEDED);
		kdc_cred_free(c);
	}
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", p), KDC_OK);
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", p),
	    KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", 99999),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(count_live(f, d->id), 0);
	/* activation recorded as the caller's event: one record, in the
	 * activation's transaction */
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:l", NULL,
	    KDC_CRED_PENDING, &pn), KDC_OK);
	p = pn.cred_id;
	{
		struct kdc_audit_rec before, last;
		char want[64];

		assert_int_equal(kdc_store_audit_last(f->k.st, &before),
		    KDC_OK);
		assert_int_equal(kdc_core_cred_activate_as(f->k.core, "t", p,
		    "lwm2m.bootstrap", "urn:dev:l", "type=psk cf=112"), KDC_OK);
		assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
		assert_int_equal(last.seq, before.seq + 1);
		assert_string_equal(last.action, "lwm2m.bootstrap");
		assert_string_equal(last.subject, "urn:dev:l");
		assert_string_equal(last.outcome, "ok");
		snprintf(want, sizeof(want), "type=psk cf=112 activated cred=%"
		    PRId64 " ", p);
		assert_non_null(strstr(last.detail, want));
		/* not pending any more: refused, as a cred.activate record */
		assert_int_equal(kdc_core_cred_activate_as(f->k.core, "t", p,
		    "lwm2m.bootstrap", "urn:dev:l", NULL), KDC_ERR_INVALID_ARG);
		expect_last_audit(f, "cred.activate", KDC_ERR_INVALID_ARG);
	}
	assert_int_equal(count_live(f, d->id), 1);
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", p), KDC_OK);
	/* expiry sweep */
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:l", NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	a = pn.cred_id;
	fake_now += 40 * 86400;
	assert_int_equal(kdc_core_expire(f->k.core, "t", &n), KDC_OK);
	assert_int_equal(n, 1);
	expect_last_audit(f, "cred.expire", KDC_OK);
	kdc_device_free(d);
}

static void
test_cert_sign(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	uint8_t *csr, *cert = NULL;
	size_t csr_len, cert_len;
	int64_t id;
	char path[600];

	snprintf(path, sizeof(path), "%s/csr.pem", f->k.dir);
	assert_int_equal(kdc_test_sh("openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout %s/k.pem "
	    "-out %s 2>/dev/null", f->k.dir, path), 0);
	assert_non_null(csr = kdc_test_read_file(path, &csr_len));
	assert_int_equal(kdc_core_cert_sign(f->k.core, "t", "urn:dev:nobody",
	    NULL, csr, csr_len, 0, &id, &cert, &cert_len),
	    KDC_ERR_UNKNOWN_DEVICE);
	expect_last_audit(f, "cert.issue", KDC_ERR_UNKNOWN_DEVICE);
	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "urn:dev:c1");
	s.type = KDC_TYPE_X509;
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_cert_sign(f->k.core, "t", "urn:dev:c1", NULL,
	    csr, csr_len, 7, &id, &cert, &cert_len), KDC_OK);
	assert_true(id > 0);
	assert_true(cert_len > 200);
	free(cert);
	cert = NULL;
	/* a corrupted CSR is refused and nothing is issued */
	csr[csr_len / 2] ^= 0x01;
	assert_int_not_equal(kdc_core_cert_sign(f->k.core, "t", "urn:dev:c1",
	    NULL, csr, csr_len, 7, &id, &cert, &cert_len), KDC_OK);
	assert_null(cert);
	csr[csr_len / 2] ^= 0x01;
	assert_int_equal(kdc_core_device_revoke(f->k.core, "t", "urn:dev:c1"),
	    KDC_OK);
	assert_int_equal(kdc_core_cert_sign(f->k.core, "t", "urn:dev:c1", NULL,
	    csr, csr_len, 7, &id, &cert, &cert_len), KDC_ERR_REVOKED);
	free(csr);
}

/* The status of credential id. */
static enum kdc_cred_status
status_of(struct fx *f, int64_t id)
{
	struct kdc_cred *c = NULL;
	enum kdc_cred_status st;

	assert_int_equal(kdc_store_cred_get(f->k.st, id, &c), KDC_OK);
	st = c->status;
	kdc_cred_free(c);
	return st;
}

/* Certificates authenticate through kdc_core_auth_cert_verified() (what
 * the HTTPS listener's faces call) rather than kdc_core_auth_cert(): the
 * *_verified tests run the same cases through it. */
static bool auth_verified;

static kdc_err
auth_cert(struct kdc_core *core, const char *actor,
    const uint8_t *const *certs, const size_t *lens, size_t n,
    struct kdc_principal *who)
{
	return auth_verified ? kdc_core_auth_cert_verified(core, actor, certs,
	    lens, n, who) : kdc_core_auth_cert(core, actor, certs, lens, n,
	    who);
}

/* Authenticate with one certificate: the credential id, or 0 if refused
 * (*r gets the result). */
static int64_t
auth_by(struct fx *f, const uint8_t *der, size_t len, kdc_err *r)
{
	const uint8_t *chain[1] = { der };
	size_t chain_len[1] = { len };
	struct kdc_principal who;
	struct kdc_cred *c = NULL;
	int64_t id = 0;

	*r = auth_cert(f->k.core, "t", chain, chain_len, 1, &who);
	if (*r == KDC_OK) {
		assert_int_equal(kdc_store_cred_get(f->k.st, who.cred_id, &c),
		    KDC_OK);
		assert_int_equal(c->status, KDC_CRED_ISSUED);
		id = c->id;
	} else
		assert_int_equal(who.cred_id, 0);
	kdc_cred_free(c);
	return id;
}

/* who a manufacturer PSK or an operational certificate row proves */
static void
who_of(struct kdc_principal *who, const struct kdc_cred *c, const char *dev_id)
{
	memset(who, 0, sizeof(*who));
	who->type = c->type;
	who->kind = c->kind;
	who->cred_id = c->id;
	who->device = c->device;
	snprintf(who->dev_id, sizeof(who->dev_id), "%s", dev_id);
	snprintf(who->audience, sizeof(who->audience), "%s", c->audience);
}

/* An enrollment request: op by who over csr, its record ending note. */
static void
enroll_set(struct kdc_enroll *e, enum kdc_enroll_op op,
    const struct kdc_principal *who, const uint8_t *csr, size_t csr_len,
    const char *note)
{
	memset(e, 0, sizeof(*e));
	e->op = op;
	e->who = *who;
	e->csr = csr;
	e->csr_len = csr_len;
	if (note != NULL)
		snprintf(e->note, sizeof(e->note), "%s", note);
}

/* An EST sen by who (kdc_core_enroll()); *cert a heap copy. */
static kdc_err
enroll_sen(struct fx *f, const struct kdc_principal *who, const uint8_t *csr,
    size_t csr_len, const char *note, int64_t *id, uint8_t **cert,
    size_t *cert_len, bool *pending)
{
	struct kdc_enroll e;
	kdc_err r;

	enroll_set(&e, KDC_ENROLL_SEN, who, csr, csr_len, note);
	*cert = NULL;
	if ((r = kdc_core_enroll(f->k.core, "t", &e)) == KDC_OK) {
		assert_non_null(*cert = malloc(e.is.cert_len));
		memcpy(*cert, e.is.cert, e.is.cert_len);
		*cert_len = e.is.cert_len;
	}
	*id = e.cred_id;
	*pending = e.pending;
	kdc_enroll_wipe(&e);
	return r;
}

/*
 * EST enrollment (kdc_core_enroll(), sen): the first certificate is
 * issued at once; one with a new
 * key, while that one is issued, stays pending (on_use) and the old one
 * keeps authenticating, until the new one first authenticates: then it is
 * issued and the old one superseded. A retry supersedes an unused pending
 * one; a re-enrollment of the same key is issued at once; a revoked
 * pending one never goes live.
 */
static void
test_cert_enroll_on_use(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	
	struct kdc_principal who;
	uint8_t *csr[3], *cert[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
	uint8_t psk[KDC_PSK_MAX];
	size_t csr_len[3], cert_len[6], psk_len = sizeof(psk);
	int64_t id[6];
	bool pending = true;
	char path[600];
	kdc_err r;

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/e%d.csr", f->k.dir, i);
		assert_int_equal(kdc_test_sh("openssl req -new -newkey ec "
		    "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x "
		    "-keyout %s/e%d.key -outform DER -out %s 2>/dev/null",
		    f->k.dir, i, path), 0);
		assert_non_null(csr[i] = kdc_test_read_file(path,
		    &csr_len[i]));
	}
	memset(&s, 0, sizeof(s));
	psk_spec(&s, "urn:dev:e1", "e1", 0x33, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	/* every request over the manufacturer PSK (sen) */
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", "e1", psk, &psk_len,
	    &who), KDC_OK);
	assert_string_equal(who.dev_id, "urn:dev:e1");
	

	/* nothing issued yet: issued at once; one record, with the note */
	assert_int_equal(enroll_sen(f, &who,
	    csr[0], csr_len[0], "est=sen by cred=7", &id[0], &cert[0],
	    &cert_len[0], &pending), KDC_OK);
	assert_false(pending);
	assert_int_equal(status_of(f, id[0]), KDC_CRED_ISSUED);
	{
		struct kdc_audit_rec last;

		assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
		assert_string_equal(last.action, "cert.issue");
		assert_string_equal(last.outcome, "ok");
		assert_non_null(strstr(last.detail, "status=issued "
		    "est=sen by cred=7"));
	}

	/* a new key while one is issued: pending, the old one still works */
	assert_int_equal(enroll_sen(f, &who,
	    csr[1], csr_len[1], NULL, &id[1], &cert[1], &cert_len[1], &pending),
	    KDC_OK);
	assert_true(pending);
	assert_int_equal(status_of(f, id[1]), KDC_CRED_PENDING);
	assert_int_equal(auth_by(f, cert[0], cert_len[0], &r), id[0]);
	assert_int_equal(status_of(f, id[1]), KDC_CRED_PENDING);

	/* the answer was lost, the device asks again: the unused pending one
	 * is superseded by a new pending one and cannot go live any more */
	assert_int_equal(enroll_sen(f, &who,
	    csr[2], csr_len[2], NULL, &id[2], &cert[2], &cert_len[2], &pending),
	    KDC_OK);
	assert_true(pending);
	assert_int_equal(status_of(f, id[1]), KDC_CRED_SUPERSEDED);
	assert_int_equal(status_of(f, id[0]), KDC_CRED_ISSUED);
	assert_int_equal(auth_by(f, cert[1], cert_len[1], &r), 0);
	assert_int_equal(r, KDC_ERR_REVOKED);

	/* first use of the new one: issued, the old one superseded */
	assert_int_equal(auth_by(f, cert[2], cert_len[2], &r), id[2]);
	expect_last_audit(f, "cred.activate", KDC_OK);
	assert_int_equal(status_of(f, id[2]), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, id[0]), KDC_CRED_SUPERSEDED);
	assert_int_equal(auth_by(f, cert[0], cert_len[0], &r), 0);
	assert_int_equal(r, KDC_ERR_REVOKED);
	/* used again: stays issued, no second activation */
	assert_int_equal(auth_by(f, cert[2], cert_len[2], &r), id[2]);
	expect_last_audit(f, "auth.cert", KDC_ERR_REVOKED);

	/* a pending one, then the same key as the issued one again (renewal
	 * without rekey): issued at once, and the pending one is superseded,
	 * so it can never go live after it */
	assert_int_equal(enroll_sen(f, &who,
	    csr[0], csr_len[0], NULL, &id[5], &cert[5], &cert_len[5], &pending),
	    KDC_OK);
	assert_true(pending);
	assert_int_equal(enroll_sen(f, &who,
	    csr[2], csr_len[2], NULL, &id[3], &cert[3], &cert_len[3], &pending),
	    KDC_OK);
	assert_false(pending);
	assert_int_equal(status_of(f, id[3]), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, id[2]), KDC_CRED_SUPERSEDED);
	assert_int_equal(status_of(f, id[5]), KDC_CRED_SUPERSEDED);
	assert_int_equal(auth_by(f, cert[5], cert_len[5], &r), 0);
	assert_int_equal(status_of(f, id[3]), KDC_CRED_ISSUED);

	/* a pending one that is revoked never goes live */
	assert_int_equal(enroll_sen(f, &who,
	    csr[1], csr_len[1], NULL, &id[4], &cert[4], &cert_len[4], &pending),
	    KDC_OK);
	assert_true(pending);
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", id[4]), KDC_OK);
	assert_int_equal(auth_by(f, cert[4], cert_len[4], &r), 0);
	assert_int_equal(r, KDC_ERR_REVOKED);
	assert_int_equal(status_of(f, id[3]), KDC_CRED_ISSUED);

	for (int i = 0; i < 6; i++)
		free(cert[i]);
	for (int i = 0; i < 3; i++)
		free(csr[i]);
}

static uint8_t *
sh_der(struct fx *f, const char *name, size_t *len)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", f->k.dir, name);
	return kdc_test_read_file(path, len);
}

static kdc_err
auth_one(struct fx *f, const uint8_t *der, size_t len, struct kdc_principal *c)
{
	const uint8_t *certs[1] = { der };
	size_t lens[1] = { len };

	return auth_cert(f->k.core, "test", certs, lens, 1, c);
}


static uint8_t *
csr_file(struct fx *f, const char *name, const char *cn, size_t *len)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s.csr", f->k.dir, name);
	assert_int_equal(kdc_test_sh("openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=%s -keyout %s/%s.key "
	    "-outform DER -out %s 2>/dev/null", cn, f->k.dir, name, path), 0);
	return kdc_test_read_file(path, len);
}

/* one kdc_core_enroll(); refusals change nothing, not even the audit log
 * (the face records them) */
static kdc_err
enroll(struct fx *f, enum kdc_enroll_op op, const struct kdc_principal *who,
    const uint8_t *csr, size_t csr_len, struct kdc_enroll *e)
{
	int64_t seq = naudit(f);
	kdc_err r;

	enroll_set(e, op, who, csr, csr_len, "est=test");
	r = kdc_core_enroll(f->k.core, "t", e);
	if (r != KDC_OK) {
		assert_int_equal(naudit(f), seq);
		assert_null(e->is.cert);
		assert_int_equal(e->pkcs8_len, 0);
		assert_int_equal(e->cred_id, 0);
		assert_true(e->why[0] != '\0');
	} else {
		assert_int_equal(naudit(f), seq + 1);
		expect_last_audit(f, "cert.issue", KDC_OK);
		assert_non_null(e->is.cert);
		assert_true(e->cred_id > 0);
	}
	return r;
}

/*
 * The EST policy in core: who may ask (sen over the manufacturer
 * credential, sren over the current certificate, skg over either), which
 * keys may be certified, skg's CSR naming the device, a revoked asker.
 */
static void
test_enroll_policy(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_cred *op = NULL;
	struct kdc_principal who, who2, nobody, whop;
	struct kdc_enroll e;
	uint8_t psk[KDC_PSK_MAX], *a, *b, *x, *skg;
	size_t psk_len, a_len, b_len, x_len, skg_len;

	psk_spec(&s, "urn:dev:p1", "p1", 0x41, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	psk_spec(&s, "urn:dev:p2", "p2", 0x42, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", "p1", psk, &psk_len,
	    &who), KDC_OK);
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", "p2", psk, &psk_len,
	    &who2), KDC_OK);
	assert_string_equal(who.dev_id, "urn:dev:p1");
	assert_string_equal(who2.dev_id, "urn:dev:p2");
	memset(&nobody, 0, sizeof(nobody));
	assert_non_null(a = csr_file(f, "a", "x", &a_len));
	assert_non_null(b = csr_file(f, "b", "x", &b_len));
	assert_non_null(x = csr_file(f, "x", "x", &x_len));
	assert_non_null(skg = csr_file(f, "s", "urn:dev:p1", &skg_len));

	/* not authenticated; sren over the manufacturer credential */
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &nobody, a, a_len, &e),
	    KDC_ERR_DENIED);
	assert_int_equal(enroll(f, KDC_ENROLL_SREN, &who, a, a_len, &e),
	    KDC_ERR_WRONG_TYPE);
	/* a CSR cut short: its outer length no longer fits */
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, a, a_len - 1, &e),
	    KDC_ERR_MALFORMED);

	/* sen: issued at once, named after the device whatever the CSR says */
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, a, a_len, &e),
	    KDC_OK);
	assert_false(e.pending);
	assert_int_equal(kdc_store_cred_get(f->k.st, e.cred_id, &op), KDC_OK);
	assert_int_equal(op->status, KDC_CRED_ISSUED);
	assert_memory_equal(op->cert, e.is.cert, e.is.cert_len);
	kdc_enroll_wipe(&e);
	assert_null(e.is.cert);

	/* a CSR naming another registered device: refused, whatever its key;
	 * naming this device: issued (and the fresh key stays unused here) */
	{
		uint8_t *o, *self;
		size_t o_len, self_len;

		assert_non_null(o = csr_file(f, "o", "urn:dev:p2", &o_len));
		assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, o, o_len, &e),
		    KDC_ERR_DENIED);
		assert_non_null(strstr(e.why, "another device (CN=urn:dev:p2)"));
		assert_non_null(self = csr_file(f, "self", "urn:dev:p1",
		    &self_len));
		assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, self, self_len,
		    &e), KDC_OK);
		kdc_enroll_wipe(&e);
		/* back to the key of a, for the checks below */
		assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, a, a_len, &e),
		    KDC_OK);
		kdc_enroll_wipe(&e);
		kdc_cred_free(op);
		op = NULL;
		assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:p1",
		    NULL, KDC_CRED_ISSUED, &op), KDC_OK);
		free(o);
		free(self);
	}

	/* that key for another device: refused; sen over a certificate:
	 * refused */
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who2, a, a_len, &e),
	    KDC_ERR_DENIED);
	assert_non_null(strstr(e.why, "another device"));
	who_of(&whop, op, "urn:dev:p1");
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &whop, b, b_len, &e),
	    KDC_ERR_WRONG_TYPE);

	/* sren over the certificate, a new key: pending until first use;
	 * skg over it: a CSR naming CN=x is refused, one naming the device
	 * gets a key made by the KDC and a certificate */
	assert_int_equal(enroll(f, KDC_ENROLL_SREN, &whop, b, b_len, &e),
	    KDC_OK);
	assert_true(e.pending);
	assert_int_equal(e.pkcs8_len, 0);
	kdc_enroll_wipe(&e);
	assert_int_equal(enroll(f, KDC_ENROLL_SKG, &whop, x, x_len, &e),
	    KDC_ERR_DENIED);
	assert_non_null(strstr(e.why, "CN=x"));
	assert_int_equal(enroll(f, KDC_ENROLL_SKG, &whop, skg, skg_len, &e),
	    KDC_OK);
	assert_true(e.pending);
	assert_true(e.pkcs8_len > 0);
	kdc_enroll_wipe(&e);
	assert_int_equal(e.pkcs8_len, 0);

	/* the certificate revoked: no more sren with it */
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", op->id), KDC_OK);
	assert_int_equal(enroll(f, KDC_ENROLL_SREN, &whop, x, x_len, &e),
	    KDC_ERR_REVOKED);
	/* its key is a revoked key now, for a sen of the same device */
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, a, a_len, &e),
	    KDC_ERR_REVOKED);
	/* the device revoked: its manufacturer credential asks in vain */
	assert_int_equal(kdc_core_device_revoke(f->k.core, "t", "urn:dev:p1"),
	    KDC_OK);
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, x, x_len, &e),
	    KDC_ERR_REVOKED);

	
	
	kdc_cred_free(op);
	free(a);
	free(b);
	free(x);
	free(skg);
}

/* An RPK device: a P-256 key in dir/name.pem, its SPKI (DER) in spki,
 * and a CSR (DER, CN=x) over that same key returned. */
static uint8_t *
rpk_key_and_csr(struct fx *f, const char *name, uint8_t *spki,
    size_t *spki_len, size_t *csr_len)
{
	char path[600];
	uint8_t *pub;
	size_t pub_len;

	assert_int_equal(kdc_test_sh("cd %s && openssl genpkey -algorithm EC "
	    "-pkeyopt ec_paramgen_curve:P-256 -out %s.pem 2>/dev/null && "
	    "openssl pkey -in %s.pem -pubout -outform DER -out %s.spki && "
	    "openssl req -new -key %s.pem -subj /CN=x -outform DER "
	    "-out %s.csr 2>/dev/null", f->k.dir, name, name, name, name, name),
	    0);
	snprintf(path, sizeof(path), "%s/%s.spki", f->k.dir, name);
	assert_non_null(pub = kdc_test_read_file(path, &pub_len));
	assert_true(pub_len <= KDC_SPKI_MAX);
	memcpy(spki, pub, pub_len);
	*spki_len = pub_len;
	free(pub);
	snprintf(path, sizeof(path), "%s/%s.csr", f->k.dir, name);
	return kdc_test_read_file(path, csr_len);
}

/*
 * A manufacturer key is never certified as an operational key, whoever
 * asks: sen over the manufacturer RPK itself with a CSR over that key
 * (the session's key), and sren over the operational certificate the
 * device got since with a CSR over its manufacturer key (the store's
 * manufacturer row: neither the session's credential nor the handshake
 * is a manufacturer one then).
 */
static void
test_enroll_refuses_manufacturer_key(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_cred *op = NULL;
	struct kdc_principal who, whop;
	struct kdc_enroll e;
	uint8_t *mcsr, *fresh;
	size_t mcsr_len, fresh_len;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "urn:dev:r1");
	s.type = KDC_TYPE_RPK;
	assert_non_null(mcsr = rpk_key_and_csr(f, "m", s.spki, &s.spki_len,
	    &mcsr_len));
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_auth_spki(f->k.core, "t", s.spki, s.spki_len,
	    &who), KDC_OK);
	assert_int_equal(who.kind, KDC_KIND_MANUFACTURER);
	assert_int_equal(who.spki_len, s.spki_len);

	/* sen over the manufacturer RPK, CSR over the same key */
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, mcsr, mcsr_len, &e),
	    KDC_ERR_DENIED);
	assert_non_null(strstr(e.why, "manufacturer key"));
	/* the same with a handshake that did not give its key (the row's
	 * key decides) */
	who.spki_len = 0;
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, mcsr, mcsr_len, &e),
	    KDC_ERR_DENIED);
	assert_non_null(strstr(e.why, "manufacturer key"));

	/* a fresh key: issued; over that certificate (sren) the manufacturer
	 * key is refused still, a fresh one is not */
	assert_non_null(fresh = csr_file(f, "f", "x", &fresh_len));
	assert_int_equal(enroll(f, KDC_ENROLL_SEN, &who, fresh, fresh_len,
	    &e), KDC_OK);
	kdc_enroll_wipe(&e);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:r1", NULL,
	    KDC_CRED_ISSUED, &op), KDC_OK);
	assert_int_equal(op->kind, KDC_KIND_OPERATIONAL);
	who_of(&whop, op, "urn:dev:r1");
	assert_int_equal(enroll(f, KDC_ENROLL_SREN, &whop, mcsr, mcsr_len,
	    &e), KDC_ERR_DENIED);
	assert_non_null(strstr(e.why, "manufacturer key"));
	kdc_enroll_wipe(&e);
	assert_int_equal(enroll(f, KDC_ENROLL_SREN, &whop, fresh, fresh_len,
	    &e), KDC_OK);
	kdc_enroll_wipe(&e);

	kdc_cred_free(op);
	free(mcsr);
	free(fresh);
}

/*
 * A revoked device authenticates with nothing, even when one of its
 * credential rows still says issued (a state kdc_core_device_revoke()
 * never leaves, but a crash between two writes or a hand-edited store
 * could): the device row decides, REVOKED, audited.
 */
static void
test_auth_device_revoked_cred_issued(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_device *dev = NULL;
	struct kdc_principal who, again;
	uint8_t psk[KDC_PSK_MAX], *csr, *cert = NULL;
	size_t psk_len = sizeof(psk), csr_len, cert_len = 0;
	int64_t id = 0;
	bool pending = true;
	kdc_err r;

	psk_spec(&s, "urn:dev:v1", "v1", 0x61, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", "v1", psk, &psk_len,
	    &who), KDC_OK);
	assert_non_null(csr = csr_file(f, "v", "x", &csr_len));
	assert_int_equal(enroll_sen(f, &who, csr, csr_len, NULL, &id, &cert,
	    &cert_len, &pending), KDC_OK);
	assert_false(pending);
	assert_int_equal(auth_by(f, cert, cert_len, &r), id);

	/* the device row revoked behind core's back, its rows untouched */
	assert_int_equal(kdc_store_device_get(f->k.st, "urn:dev:v1", &dev),
	    KDC_OK);
	assert_int_equal(kdc_store_device_set_status(f->k.st, dev->id,
	    KDC_DEV_REVOKED), KDC_OK);
	assert_int_equal(status_of(f, who.cred_id), KDC_CRED_ISSUED);
	assert_int_equal(status_of(f, id), KDC_CRED_ISSUED);

	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", "v1", psk, &psk_len,
	    &again), KDC_ERR_REVOKED);
	expect_last_audit(f, "auth.psk", KDC_ERR_REVOKED);
	assert_int_equal(auth_by(f, cert, cert_len, &r), 0);
	assert_int_equal(r, KDC_ERR_REVOKED);
	expect_last_audit(f, "auth.cert", KDC_ERR_REVOKED);

	kdc_device_free(dev);
	free(csr);
	free(cert);
}

/*
 * kdc_core_auth_cert_verified(): the leaf's key found as an operational
 * credential of ours, its signature NOT checked (the listener did, as
 * core.h says): a certificate of the same key signed by someone else
 * passes here and only here; a leaf it cannot read, or one no
 * credential of ours has the key of, takes the whole verification.
 */
static void
test_auth_cert_verified_trust(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_principal c;
	uint8_t *csr, *op = NULL, *self;
	size_t csr_len, op_len, self_len;
	const uint8_t *certs[1];
	size_t lens[1];
	int64_t id;

	assert_int_equal(kdc_test_sh(
	    "cd %s && openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=v -keyout v.key "
	    "-outform DER -out v.csr 2>/dev/null && openssl x509 -req "
	    "-inform DER -in v.csr -signkey v.key -days 5 -outform DER "
	    "-out vself.der 2>/dev/null && openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=w -days 5 "
	    "-keyout w.key -outform DER -out wself.der 2>/dev/null && "
	    "openssl pkey -in w.key -pubout -outform DER -out w.spki",
	    f->k.dir), 0);
	fake_now = (int64_t)time(NULL) + 60;
	assert_non_null(csr = sh_der(f, "v.csr", &csr_len));
	assert_non_null(self = sh_der(f, "vself.der", &self_len));
	psk_spec(&s, "urn:dev:v", "v", 0x51, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	/* not yet ours: the whole path, UNTRUSTED either way */
	auth_verified = true;
	assert_int_equal(auth_one(f, self, self_len, &c), KDC_ERR_UNTRUSTED);
	expect_last_audit(f, "auth.cert", KDC_ERR_UNTRUSTED);
	assert_int_equal(kdc_core_cert_sign(f->k.core, "t", "urn:dev:v", NULL,
	    csr, csr_len, 5, &id, &op, &op_len), KDC_OK);
	assert_int_equal(auth_one(f, op, op_len, &c), KDC_OK);
	assert_int_equal(c.cred_id, id);
	/* the same key in a self-signed certificate: refused by the whole
	 * verification, found by its key here */
	auth_verified = false;
	assert_int_equal(auth_one(f, self, self_len, &c), KDC_ERR_UNTRUSTED);
	auth_verified = true;
	assert_int_equal(auth_one(f, self, self_len, &c), KDC_OK);
	assert_int_equal(c.cred_id, id);
	assert_string_equal(c.dev_id, "urn:dev:v");
	assert_int_equal(c.kind, KDC_KIND_OPERATIONAL);
	assert_int_equal(c.type, KDC_TYPE_X509);
	{	/* who.spki: the leaf's SPKI, as the whole path gives it */
		struct kdc_principal w;

		auth_verified = false;
		assert_int_equal(auth_one(f, op, op_len, &w), KDC_OK);
		auth_verified = true;
		assert_int_equal(c.spki_len, w.spki_len);
		assert_memory_equal(c.spki, w.spki, w.spki_len);
	}
	/* a leaf cut short: not readable, the whole path says MALFORMED */
	certs[0] = op;
	lens[0] = op_len - 1;
	assert_int_equal(kdc_core_auth_cert_verified(f->k.core, "t", certs,
	    lens, 1, &c), KDC_ERR_MALFORMED);
	assert_int_equal(c.cred_id, 0);
	assert_int_equal(kdc_core_auth_cert_verified(f->k.core, "t", certs,
	    lens, 0, &c), KDC_ERR_INVALID_ARG);
	/* a key the store knows, but as a raw public key (a manufacturer
	 * RPK), not as a certificate we issued: not found here, UNTRUSTED */
	{
		uint8_t *spki, *wself;
		size_t spki_len, wself_len;

		assert_non_null(spki = sh_der(f, "w.spki", &spki_len));
		assert_non_null(wself = sh_der(f, "wself.der", &wself_len));
		memset(&s, 0, sizeof(s));
		snprintf(s.dev_id, sizeof(s.dev_id), "urn:dev:w");
		s.type = KDC_TYPE_RPK;
		assert_true(spki_len <= sizeof(s.spki));
		memcpy(s.spki, spki, spki_len);
		s.spki_len = spki_len;
		assert_int_equal(kdc_core_device_add(f->k.core, "t", &s),
		    KDC_OK);
		assert_int_equal(kdc_core_auth_spki(f->k.core, "t", spki,
		    spki_len, &c), KDC_OK);
		assert_int_equal(auth_one(f, wself, wself_len, &c),
		    KDC_ERR_UNTRUSTED);
		assert_int_equal(c.cred_id, 0);
		free(spki);
		free(wself);
	}
	auth_verified = false;
	free(csr);
	free(op);
	free(self);
}

/* The certificate cases of the tests above through
 * kdc_core_auth_cert_verified(): the same answers, audited alike. */
static void test_auth_cert(void **state);

static void
test_auth_cert_verified(void **state)
{
	auth_verified = true;
	test_auth_cert(state);
	auth_verified = false;
}

static void
test_cert_enroll_on_use_verified(void **state)
{
	auth_verified = true;
	test_cert_enroll_on_use(state);
	auth_verified = false;
}

static void
test_auth_device_revoked_verified(void **state)
{
	auth_verified = true;
	test_auth_device_revoked_cred_issued(state);
	auth_verified = false;
}

static void
test_auth_cert(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_principal c;
	uint8_t *csr, *op = NULL, *mfg, *mfgca, *other, *pskdev;
	size_t csr_len, op_len, mfg_len, mfgca_len, other_len, pskdev_len;
	int64_t id;
	const char *d = f->k.dir;

	/* a manufacturer CA and device certificates, made by openssl */
	assert_int_equal(kdc_test_sh(
	    "cd %s && openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=mfgca -days 30 "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign "
	    "-keyout mca.key -out mca.pem 2>/dev/null && "
	    "for n in 1 2 3; do openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=d$n -keyout d$n.key "
	    "-out d$n.csr 2>/dev/null && printf "
	    "'subjectAltName=URI:urn:dev:m:'$n'\nextendedKeyUsage=clientAuth\n' "
	    "> e$n && openssl x509 -req -in d$n.csr -CA mca.pem -CAkey "
	    "mca.key -CAcreateserial -days 10 -extfile e$n -outform DER "
	    "-out d$n.der 2>/dev/null || exit 1; done && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -subj /CN=rogue -days 5 -addext "
	    "subjectAltName=URI:urn:dev:m:1 -keyout r.key -outform DER "
	    "-out r.der 2>/dev/null", d), 0);
	/* openssl stamped notBefore with its own clock: be a little after */
	fake_now = (int64_t)time(NULL) + 60;
	assert_non_null(mfgca = sh_der(f, "mca.pem", &mfgca_len));
	assert_non_null(mfg = sh_der(f, "d1.der", &mfg_len));
	assert_non_null(other = sh_der(f, "r.der", &other_len));
	assert_non_null(pskdev = sh_der(f, "d3.der", &pskdev_len));

	/* not yet trusted */
	assert_int_equal(auth_one(f, mfg, mfg_len, &c), KDC_ERR_UNTRUSTED);
	expect_last_audit(f, "auth.cert", KDC_ERR_UNTRUSTED);
	assert_int_equal(kdc_core_mfg_ca_add(f->k.core, "test", "acme", mfgca,
	    mfgca_len), KDC_OK);
	/* trusted, but no such device yet */
	assert_int_equal(auth_one(f, mfg, mfg_len, &c),
	    KDC_ERR_UNKNOWN_DEVICE);
	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "urn:dev:m:1");
	s.type = KDC_TYPE_X509;
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	assert_int_equal(auth_one(f, mfg, mfg_len, &c), KDC_OK);
	assert_int_equal(c.kind, KDC_KIND_MANUFACTURER);
	assert_string_equal(c.dev_id, "urn:dev:m:1");
	/* a device registered with a PSK cannot use a certificate */
	psk_spec(&s, "urn:dev:m:3", "m3", 0x31, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	assert_int_equal(auth_one(f, pskdev, pskdev_len, &c),
	    KDC_ERR_WRONG_TYPE);
	/* a self-made certificate naming a registered device */
	assert_int_equal(auth_one(f, other, other_len, &c), KDC_ERR_UNTRUSTED);
	/* after the validity: expired */
	fake_now += 20 * 86400;
	assert_int_equal(auth_one(f, mfg, mfg_len, &c), KDC_ERR_EXPIRED);
	fake_now -= 20 * 86400;

	/* an operational certificate we issued, then revoked */
	{
		char path[600];
		snprintf(path, sizeof(path), "%s/d2.csr", d);
		assert_non_null(csr = kdc_test_read_file(path, &csr_len));
	}
	assert_int_equal(kdc_core_cert_sign(f->k.core, "t", "urn:dev:m:1", NULL,
	    csr, csr_len, 5, &id, &op, &op_len), KDC_OK);
	assert_int_equal(auth_one(f, op, op_len, &c), KDC_OK);
	assert_int_equal(c.kind, KDC_KIND_OPERATIONAL);
	assert_int_equal(c.cred_id, id);
	assert_true(c.spki_len > 0);
	/* past its 5 days at the core's clock: expired */
	fake_now += 6 * 86400;
	assert_int_equal(auth_one(f, op, op_len, &c), KDC_ERR_EXPIRED);
	assert_int_equal(c.cred_id, 0);
	fake_now -= 6 * 86400;
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", id), KDC_OK);
	assert_int_equal(auth_one(f, op, op_len, &c), KDC_ERR_REVOKED);
	expect_last_audit(f, "auth.cert", KDC_ERR_REVOKED);
	/* a revoked device: its manufacturer certificate is refused too */
	assert_int_equal(kdc_core_device_revoke(f->k.core, "t", "urn:dev:m:1"),
	    KDC_OK);
	assert_int_equal(auth_one(f, mfg, mfg_len, &c), KDC_ERR_REVOKED);
	assert_int_equal(c.cred_id, 0);
	free(csr);
	free(op);
	free(mfg);
	free(mfgca);
	free(other);
	free(pskdev);
}

static void
test_keypair_issue(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_cred *c = NULL;
	uint8_t pk8[KDC_PRIVKEY_MAX], *pub = NULL;
	size_t pk8_len = sizeof(pk8), pub_len = 0;
	int64_t rpk_id, x_id;

	psk_spec(&s, "urn:dev:kp", "kp", 0x61, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	/* RPK, pending until activated: not usable, not "current issued" */
	assert_int_equal(kdc_core_keypair_issue(f->k.core, "t", "urn:dev:kp",
	    NULL, KDC_TYPE_RPK, KDC_CRED_PENDING, &rpk_id, pk8, &pk8_len, &pub,
	    &pub_len), KDC_OK);
	assert_true(pk8_len > 100);
	assert_int_equal(pk8[0], 0x30);		/* a DER SEQUENCE */
	assert_int_equal(kdc_core_auth_spki(f->k.core, "t", pub, pub_len, NULL),
	    KDC_ERR_NOT_YET_VALID);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:kp", NULL,
	    KDC_CRED_ISSUED, &c), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:kp", NULL,
	    KDC_CRED_PENDING, &c), KDC_OK);
	assert_int_equal(c->id, rpk_id);
	assert_null(c->wrapped);		/* the private key is not kept */
	kdc_cred_free(c);
	assert_int_equal(kdc_core_cred_activate(f->k.core, "t", rpk_id),
	    KDC_OK);
	{
		struct kdc_principal who;

		assert_int_equal(kdc_core_auth_spki(f->k.core, "t", pub,
		    pub_len, &who), KDC_OK);
		assert_int_equal(who.kind, KDC_KIND_OPERATIONAL);
		assert_int_equal(who.cred_id, rpk_id);
		assert_memory_equal(who.spki, pub, pub_len);
	}
	free(pub);
	pub = NULL;

	/* X.509 issued at once: supersedes the RPK for the same audience,
	 * and its certificate authenticates as the operational credential */
	pk8_len = sizeof(pk8);
	assert_int_equal(kdc_core_keypair_issue(f->k.core, "t", "urn:dev:kp",
	    NULL, KDC_TYPE_X509, KDC_CRED_ISSUED, &x_id, pk8, &pk8_len, &pub,
	    &pub_len), KDC_OK);
	assert_int_equal(kdc_store_cred_get(f->k.st, rpk_id, &c), KDC_OK);
	assert_int_equal(c->status, KDC_CRED_SUPERSEDED);
	kdc_cred_free(c);
	{
		const uint8_t *certs[1] = { pub };
		size_t lens[1] = { pub_len };
		struct kdc_principal who;

		assert_int_equal(kdc_core_auth_cert(f->k.core, "t", certs, lens,
		    1, &who), KDC_OK);
		assert_int_equal(who.cred_id, x_id);
	}
	free(pub);
	/* refusals */
	pk8_len = sizeof(pk8);
	assert_int_equal(kdc_core_keypair_issue(f->k.core, "t", "urn:dev:none",
	    NULL, KDC_TYPE_RPK, KDC_CRED_PENDING, &rpk_id, pk8, &pk8_len, &pub,
	    &pub_len), KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(pk8_len, 0);
	assert_null(pub);
	pk8_len = sizeof(pk8);
	assert_int_equal(kdc_core_keypair_issue(f->k.core, "t", "urn:dev:kp",
	    NULL, KDC_TYPE_PSK, KDC_CRED_PENDING, &rpk_id, pk8, &pk8_len, &pub,
	    &pub_len), KDC_ERR_INVALID_ARG);
	/* only issued or pending: nothing made, the refusal audited */
	pk8_len = sizeof(pk8);
	assert_int_equal(kdc_core_keypair_issue(f->k.core, "t", "urn:dev:kp",
	    NULL, KDC_TYPE_RPK, KDC_CRED_REVOKED, &rpk_id, pk8, &pk8_len, &pub,
	    &pub_len), KDC_ERR_INVALID_ARG);
	assert_int_equal(pk8_len, 0);
	assert_null(pub);
	expect_last_audit(f, "rpk.issue", KDC_ERR_INVALID_ARG);
}

/* A flood of bad handshakes is audited through a token bucket. */
static void
test_unauth_refusals_rate_limited(void **state)
{
	struct fx *f = *state;
	struct kdc_audit_rec last;
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len;
	int64_t before = naudit(f);

	for (int i = 0; i < 1000; i++) {
		psk_len = sizeof(psk);
		assert_int_equal(kdc_core_auth_psk(f->k.core, "coap", "flood",
		    psk, &psk_len, NULL), KDC_ERR_UNKNOWN_DEVICE);
	}
	assert_int_equal(naudit(f) - before, KDC_AUDIT_UNAUTH_BURST);
	fake_now += 1;
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "coap", "flood", psk,
	    &psk_len, NULL), KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	assert_non_null(strstr(last.detail, "+900 not recorded"));
	assert_int_equal(naudit(f) - before, KDC_AUDIT_UNAUTH_BURST + 1);
	/* administrative refusals are never sampled */
	for (int i = 0; i < 200; i++)
		assert_int_equal(kdc_core_device_revoke(f->k.core, "cli",
		    "urn:dev:none"), KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(naudit(f) - before, KDC_AUDIT_UNAUTH_BURST + 201);
}

static void
test_wrong_key_refused(void **state)
{
	struct fx *f = *state;
	struct kdc_keyring *other;
	struct kdc_core *c2 = NULL;
	const uint8_t k2[32] = { 7 };

	assert_int_equal(kdc_keyring_from_bytes(k2, &other), KDC_OK);
	assert_int_equal(kdc_core_new(f->k.st, other, NULL, &f->cfg, &c2),
	    KDC_ERR_BAD_KEY);
	assert_null(c2);
	kdc_keyring_free(other);
}

/* ---- allocation failures --------------------------------------------- */

static sqlite3_mem_methods sqlite_default;

static void *
fault_malloc(int n)
{
	return kdc_alloc_fault() ? NULL : sqlite_default.xMalloc(n);
}

static void *
fault_realloc(void *p, int n)
{
	return kdc_alloc_fault() ? NULL : sqlite_default.xRealloc(p, n);
}

/* Route SQLite's allocations through the same fault hook as ours. */
static void
install_sqlite_fault_hook(void)
{
	static sqlite3_mem_methods m;

	sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default);
	m = sqlite_default;
	m.xMalloc = fault_malloc;
	m.xRealloc = fault_realloc;
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK)
		abort();
}

/* The core's steps with the n-th allocation from the store's opening on
 * failing (the opening itself, the schema's migrations, has its own walk
 * in test_store.c: here it would be ~20,000 of SQLite's allocations
 * before the first of the core's). */
static kdc_err
sequence(struct fx *f, long n)
{
	struct kdc_store *st = NULL;
	struct kdc_core *core = NULL;
	struct kdc_device_spec s;
	uint8_t psk[KDC_PSK_MAX];
	struct kdc_psk_new pn;
	size_t psk_len = sizeof(psk);
	kdc_err r;

	psk_spec(&s, "urn:dev:oom", "oom", 0x99, 16);
	kdc_alloc_fail_after(0);
	if ((r = kdc_store_open(":memory:", 1, &st)) != KDC_OK)
		return r;
	kdc_alloc_fail_after(n);
	if ((r = kdc_core_new(st, f->k.kr, NULL, &f->cfg, &core)) != KDC_OK ||
	    (r = kdc_core_device_add(core, "t", &s)) != KDC_OK ||
	    (r = kdc_core_auth_psk(core, "t", "oom", psk, &psk_len, NULL)) !=
	    KDC_OK ||
	    (r = kdc_core_psk_issue(core, "t", "urn:dev:oom", NULL,
	    KDC_CRED_PENDING, &pn)) != KDC_OK ||
	    (r = kdc_core_cred_activate(core, "t", pn.cred_id)) != KDC_OK ||
	    (r = kdc_core_device_revoke(core, "t", "urn:dev:oom")) != KDC_OK)
		goto out;
out:
	kdc_core_free(core);
	kdc_store_close(st);
	return r;
}

/*
 * What the faces read through core instead of the store: a device by row
 * id, who an authenticated credential names, the profile a device is
 * issued under (the configuration's, as issuance uses it), the audit
 * chain.
 */
static void
test_face_reads(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_device *d = NULL, *byid = NULL;
	struct kdc_profile prof;
	struct kdc_cred *cred = NULL;
	struct kdc_principal who;
	uint8_t psk[KDC_PSK_MAX], big[KDC_SPKI_MAX + 1] = { 0 };
	size_t psk_len;
	int64_t count = 0, bad = 0;
	char why[128];

	psk_spec(&s, "urn:dev:r1", "r1", 0x71, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_device_get(f->k.core, "urn:dev:r1", &d),
	    KDC_OK);
	assert_int_equal(kdc_core_device_get_by_id(f->k.core, d->id, &byid),
	    KDC_OK);
	assert_string_equal(byid->dev_id, "urn:dev:r1");
	kdc_device_free(byid);
	byid = NULL;
	assert_int_equal(kdc_core_device_get_by_id(f->k.core, d->id + 1000,
	    &byid), KDC_ERR_UNKNOWN_DEVICE);
	assert_null(byid);
	assert_int_equal(kdc_core_device_profile(f->k.core, "urn:dev:r1",
	    &prof), KDC_OK);
	assert_string_equal(prof.name, d->profile[0] != '\0' ? d->profile :
	    "default");
	assert_int_equal(prof.lifetime,
	    kdc_config_profile(&f->cfg, prof.name)->lifetime);
	assert_int_equal(prof.cred_type,
	    kdc_config_profile(&f->cfg, prof.name)->cred_type);
	assert_int_equal(kdc_core_device_profile(f->k.core, "urn:dev:none",
	    &prof), KDC_ERR_UNKNOWN_DEVICE);
	/* who a peer is once its credential authenticated it */
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", "r1", psk, &psk_len,
	    &who), KDC_OK);
	assert_int_equal(kdc_store_cred_get_by_identity(f->k.st, "r1", &cred),
	    KDC_OK);
	assert_string_equal(who.dev_id, "urn:dev:r1");
	assert_int_equal(who.device, d->id);
	assert_int_equal(who.cred_id, cred->id);
	assert_int_equal(who.kind, KDC_KIND_MANUFACTURER);
	assert_int_equal(who.type, KDC_TYPE_PSK);
	assert_int_equal(who.spki_len, 0);
	assert_string_equal(who.audience, "");
	/* a key over KDC_SPKI_MAX is refused before any lookup */
	assert_int_equal(kdc_core_auth_spki(f->k.core, "t", big, sizeof(big),
	    &who), KDC_ERR_TOO_LARGE);
	assert_int_equal(who.dev_id[0], '\0');
	kdc_cred_free(cred);
	kdc_device_free(d);
	assert_int_equal(kdc_core_audit_verify(f->k.core, &count, &bad, why,
	    sizeof(why)), KDC_OK);
	assert_int_equal(count, naudit(f));
}

/* steps 1-2 of a sen by who over csr, for a group commit */
static void
group_sign(struct fx *f, struct kdc_enroll *e, const struct kdc_principal *who,
    const uint8_t *csr, size_t csr_len, kdc_err want)
{
	enroll_set(e, KDC_ENROLL_SEN, who, csr, csr_len, "est=group");
	assert_int_equal(kdc_core_enroll_sign(f->k.core, e), want);
	assert_int_equal(e->ready, want == KDC_OK);
}

static void
group_who(struct fx *f, const char *dev_id, const char *ident, uint8_t fill,
    struct kdc_principal *who)
{
	struct kdc_device_spec s;
	
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);

	psk_spec(&s, dev_id, ident, fill, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", ident, psk, &psk_len,
	    who), KDC_OK);
	assert_string_equal(who->dev_id, dev_id);
	
}

/*
 * Group commit (kdc_core_enroll_sign() + kdc_core_enroll_commit()): the
 * outcome of each enrollment is that of one kdc_core_enroll() after the
 * other, in order: a device revoked between the steps is refused alone
 * (nothing of it kept), a second enrollment of a device in the same
 * group sees the first (pending on first use), one not ready is left
 * alone; one cert.issue record per certificate.
 */
static void
test_enroll_group(void **state)
{
	struct fx *f = *state;
	struct kdc_principal w1, w2, w3, nobody;
	struct kdc_enroll e[5], *es[5];
	struct kdc_cred *cur = NULL;
	uint8_t *c[4];
	size_t c_len[4];
	int64_t seq;
	char name[8];

	group_who(f, "urn:dev:g1", "g1", 0x51, &w1);
	group_who(f, "urn:dev:g2", "g2", 0x52, &w2);
	group_who(f, "urn:dev:g3", "g3", 0x53, &w3);
	memset(&nobody, 0, sizeof(nobody));
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		assert_non_null(c[i] = csr_file(f, name, "x", &c_len[i]));
	}
	group_sign(f, &e[0], &w1, c[0], c_len[0], KDC_OK);
	group_sign(f, &e[1], &w2, c[1], c_len[1], KDC_OK);
	group_sign(f, &e[2], &w3, c[2], c_len[2], KDC_OK);
	group_sign(f, &e[3], &w1, c[3], c_len[3], KDC_OK);
	group_sign(f, &e[4], &nobody, c[3], c_len[3], KDC_ERR_DENIED);
	assert_int_equal(e[4].status, KDC_ERR_DENIED);
	/* between the steps */
	assert_int_equal(kdc_core_device_revoke(f->k.core, "t", "urn:dev:g3"),
	    KDC_OK);
	seq = naudit(f);
	for (int i = 0; i < 5; i++)
		es[i] = &e[i];
	kdc_core_enroll_commit(f->k.core, "t", es, 5);
	assert_int_equal(naudit(f), seq + 3);
	expect_last_audit(f, "cert.issue", KDC_OK);
	for (int i = 0; i < 5; i++)
		assert_false(e[i].ready);
	/* g1: the first issued at once, the second pending on first use */
	assert_int_equal(e[0].status, KDC_OK);
	assert_false(e[0].pending);
	assert_int_equal(e[3].status, KDC_OK);
	assert_true(e[3].pending);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:g1", NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	assert_int_equal(cur->id, e[0].cred_id);
	kdc_cred_free(cur);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:g1", NULL,
	    KDC_CRED_PENDING, &cur), KDC_OK);
	assert_int_equal(cur->id, e[3].cred_id);
	kdc_cred_free(cur);
	assert_int_equal(e[1].status, KDC_OK);
	assert_true(e[1].cred_id > 0);
	assert_non_null(e[1].is.cert);
	/* g3 refused alone, nothing of it kept */
	assert_int_not_equal(e[2].status, KDC_OK);
	assert_int_equal(e[2].cred_id, 0);
	assert_null(e[2].is.cert);
	assert_true(e[2].why[0] != '\0');
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:g3", NULL,
	    KDC_CRED_ISSUED, &cur), KDC_ERR_NOT_FOUND);
	/* not ready: left as it was */
	assert_int_equal(e[4].status, KDC_ERR_DENIED);
	assert_int_equal(e[4].cred_id, 0);
	for (int i = 0; i < 5; i++)
		kdc_enroll_wipe(&e[i]);
	for (int i = 0; i < 4; i++)
		free(c[i]);
}

/*
 * A write that fails inside a group commit (a trigger refusing one
 * certificate's row, set from another connection) undoes the group; each
 * is then committed alone: the others are issued, the refused one is
 * not, and the audit log has one record per certificate issued.
 */
static void
test_enroll_group_write_fails(void **state)
{
	struct fx *f = *state;
	struct kdc_store *st = NULL;
	struct kdc_core *core = NULL, *keep = f->k.core;
	struct kdc_principal w[3];
	struct kdc_enroll e[3], *es[3];
	struct kdc_store *keep_st = f->k.st;
	uint8_t *c[3];
	size_t c_len[3];
	int64_t seq;
	char path[600], name[8], ident[8], dev[16];

	snprintf(path, sizeof(path), "%s/group.db", f->k.dir);
	assert_int_equal(kdc_store_open(path, 1, &st), KDC_OK);
	assert_int_equal(kdc_core_new(st, f->k.kr, f->k.ca, &f->cfg, &core),
	    KDC_OK);
	kdc_core_set_clock(core, clock_fn);
	f->k.core = core;
	f->k.st = st;
	for (int i = 0; i < 3; i++) {
		snprintf(dev, sizeof(dev), "urn:dev:f%d", i);
		snprintf(ident, sizeof(ident), "f%d", i);
		group_who(f, dev, ident, (uint8_t)(0x61 + i), &w[i]);
		snprintf(name, sizeof(name), "f%d", i);
		assert_non_null(c[i] = csr_file(f, name, "x", &c_len[i]));
		group_sign(f, &e[i], &w[i], c[i], c_len[i], KDC_OK);
		es[i] = &e[i];
	}
	assert_int_equal(kdc_test_sh("sqlite3 %s \"CREATE TRIGGER boom BEFORE "
	    "INSERT ON credentials WHEN NEW.serial = '%s' BEGIN SELECT "
	    "RAISE(ABORT, 'test'); END;\"", path, e[1].is.serial), 0);
	seq = naudit(f);
	kdc_log_set_level((enum kdc_log_level)-1);	/* expected failure */
	kdc_core_enroll_commit(core, "t", es, 3);
	kdc_log_set_level(KDC_LOG_INFO);
	assert_int_equal(e[0].status, KDC_OK);
	assert_true(e[0].cred_id > 0);
	assert_int_not_equal(e[1].status, KDC_OK);
	assert_int_equal(e[1].cred_id, 0);
	assert_null(e[1].is.cert);
	assert_int_equal(e[2].status, KDC_OK);
	assert_true(e[2].cred_id > 0);
	assert_int_equal(naudit(f), seq + 2);
	for (int i = 0; i < 3; i++) {
		kdc_enroll_wipe(&e[i]);
		free(c[i]);
	}
	f->k.core = keep;
	f->k.st = keep_st;
	kdc_core_free(core);
	kdc_store_close(st);
}

static void
test_alloc_failures(void **state)
{
	struct fx *f = *state;
	long n;
	int done = 0;

	kdc_log_set_level((enum kdc_log_level)-1);	/* expected failures */
	for (n = 1; n < 20000 && !done; n++) {
		kdc_err r;

		r = sequence(f, n);
		if (!kdc_alloc_faulted()) {
			assert_int_equal(r, KDC_OK);
			done = 1;
		} else if (r != KDC_OK && r != KDC_ERR_NOMEM)
			fail_msg("allocation %ld failed: got %s, want OK or "
			    "NOMEM", n, kdc_err_name(r));
	}
	kdc_alloc_fail_after(0);
	kdc_log_set_level(KDC_LOG_INFO);
	assert_true(done);
	print_message("allocation-failure runs: %ld\n", n - 1);
}

/*
 * The one authorization decision: each rule of the table refuses what it
 * must, with the distinct error, and audits the refusal naming the rule.
 */
static void
test_authorize(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_principal mfg, op, nobody;
	struct kdc_cred *cur = NULL;
	struct kdc_audit_rec last;
	uint8_t psk[KDC_PSK_MAX];
	struct kdc_psk_new pn;
	size_t psk_len = sizeof(psk);
	int64_t op_id, n0;
	char why[256];

	psk_spec(&s, "urn:dev:z1", "z1", 0x61, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", "z1", psk, &psk_len,
	    &mfg), KDC_OK);
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:z1", NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	op_id = pn.cred_id;
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:z1", NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", cur->identity, psk,
	    &psk_len, &op), KDC_OK);
	assert_int_equal(op.cred_id, op_id);
	assert_string_equal(op.audience, cur->audience);
	memset(&nobody, 0, sizeof(nobody));

	/* allowed */
	assert_int_equal(kdc_authorize(f->k.core, "t", &mfg, KDC_ACT_BOOTSTRAP,
	    "urn:dev:z1", NULL, NULL, 0), KDC_OK);
	assert_int_equal(kdc_authorize(f->k.core, "t", &op, KDC_ACT_REGISTER,
	    "urn:dev:z1", NULL, NULL, 0), KDC_OK);
	assert_int_equal(kdc_authorize(f->k.core, "t", &mfg, KDC_ACT_ENROLL,
	    NULL, NULL, NULL, 0), KDC_OK);
	assert_int_equal(kdc_authorize(f->k.core, "t", &op, KDC_ACT_CRL_READ,
	    NULL, NULL, NULL, 0), KDC_OK);
	n0 = naudit(f);

	/* nobody: DENIED, audited under the caller's action */
	assert_int_equal(kdc_authorize(f->k.core, "t", &nobody,
	    KDC_ACT_BOOTSTRAP, "urn:dev:z1", "lwm2m.bootstrap", why,
	    sizeof(why)), KDC_ERR_DENIED);
	assert_non_null(strstr(why, "rule=bootstrap"));
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_DENIED);
	assert_int_equal(kdc_authorize(f->k.core, "t", NULL, KDC_ACT_CRL_READ,
	    NULL, NULL, NULL, 0), KDC_ERR_DENIED);
	expect_last_audit(f, "authz.crl-read", KDC_ERR_DENIED);
	/* another device's name */
	assert_int_equal(kdc_authorize(f->k.core, "t", &mfg, KDC_ACT_BOOTSTRAP,
	    "urn:dev:other", NULL, why, sizeof(why)), KDC_ERR_DENIED);
	assert_non_null(strstr(why, "ep=urn:dev:other"));
	expect_last_audit(f, "authz.bootstrap", KDC_ERR_DENIED);
	/* the wrong kind: a manufacturer credential does not register, an
	 * operational PSK neither enrolls (sen) nor re-enrolls (sren) */
	assert_int_equal(kdc_authorize(f->k.core, "t", &mfg, KDC_ACT_REGISTER,
	    NULL, NULL, NULL, 0), KDC_ERR_WRONG_TYPE);
	expect_last_audit(f, "authz.register", KDC_ERR_WRONG_TYPE);
	assert_int_equal(kdc_authorize(f->k.core, "t", &op, KDC_ACT_ENROLL,
	    NULL, NULL, NULL, 0), KDC_ERR_WRONG_TYPE);
	assert_int_equal(kdc_authorize(f->k.core, "t", &op, KDC_ACT_REENROLL,
	    NULL, NULL, NULL, 0), KDC_ERR_WRONG_TYPE);
	assert_int_equal(kdc_authorize(f->k.core, "t", &op, KDC_ACT_SKG,
	    NULL, NULL, NULL, 0), KDC_ERR_WRONG_TYPE);
	/* past not_after, before the sweep marked it: EXPIRED */
	fake_now = cur->not_after;
	assert_int_equal(kdc_authorize(f->k.core, "t", &op, KDC_ACT_REGISTER,
	    NULL, NULL, why, sizeof(why)), KDC_ERR_EXPIRED);
	assert_non_null(strstr(why, "past not_after"));
	fake_now = cur->not_after - 1;
	assert_int_equal(kdc_authorize(f->k.core, "t", &op, KDC_ACT_REGISTER,
	    NULL, NULL, NULL, 0), KDC_OK);
	/* a principal whose audience is not its credential's */
	{
		struct kdc_principal other = op;

		snprintf(other.audience, sizeof(other.audience), "mqtt");
		assert_int_equal(kdc_authorize(f->k.core, "t", &other,
		    KDC_ACT_REGISTER, NULL, NULL, NULL, 0), KDC_ERR_REVOKED);
	}
	/* superseded by a new issue, then a revoked manufacturer row */
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:z1", NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	op_id = pn.cred_id;
	assert_int_equal(kdc_authorize(f->k.core, "t", &op, KDC_ACT_REGISTER,
	    NULL, NULL, NULL, 0), KDC_ERR_REVOKED);
	expect_last_audit(f, "authz.register", KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", mfg.cred_id),
	    KDC_OK);
	assert_int_equal(kdc_authorize(f->k.core, "t", &mfg, KDC_ACT_ENROLL,
	    NULL, NULL, NULL, 0), KDC_ERR_REVOKED);
	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	assert_non_null(strstr(last.detail, "rule=enroll"));
	/* every refusal above left one record */
	assert_true(naudit(f) > n0 + 10);
	kdc_cred_free(cur);
}

/*
 * Operational PSKs by the profile: the default fits tinydtls (a 16-byte
 * key, 32 random hex digits of identity, each issuance a new one); a
 * profile may ask for a longer key and the named identity; a key length
 * out of range is refused, nothing issued.
 */
static void
test_psk_profile(void **state)
{
	struct fx *f = *state;
	struct kdc_profile *prof = &f->cfg.profiles[0];
	struct kdc_device_spec s;
	struct kdc_psk_new a, b;
	struct kdc_cred *c = NULL;
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);

	psk_spec(&s, "urn:dev:tiny", "tiny", 0x71, 16);
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:tiny",
	    NULL, KDC_CRED_ISSUED, &a), KDC_OK);
	assert_int_equal(a.psk_len, KDC_PSK_GEN_DEFAULT);
	assert_int_equal(strlen(a.identity), KDC_PSK_ID_TINYDTLS);
	assert_int_equal(strspn(a.identity, "0123456789abcdef"),
	    KDC_PSK_ID_TINYDTLS);
	/* the identity and key handed back are the row's */
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", a.identity, psk,
	    &psk_len, NULL), KDC_OK);
	assert_int_equal(psk_len, a.psk_len);
	assert_memory_equal(psk, a.psk, a.psk_len);
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:tiny",
	    NULL, KDC_CRED_ISSUED, &b), KDC_OK);
	assert_string_not_equal(a.identity, b.identity);
	assert_memory_not_equal(a.psk, b.psk, a.psk_len);

	/* a profile's choice: 32 bytes and the named form */
	prof->psk_key_len = KDC_PSK_GEN_MAX;
	prof->psk_identity = KDC_PSK_ID_NAMED;
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:tiny",
	    NULL, KDC_CRED_ISSUED, &a), KDC_OK);
	assert_int_equal(a.psk_len, KDC_PSK_GEN_MAX);
	assert_int_equal(strncmp(a.identity, "urn:dev:tiny#", 13), 0);
	assert_int_equal(strlen(a.identity), 13 + 16);
	assert_int_equal(kdc_store_cred_get(f->k.st, a.cred_id, &c), KDC_OK);
	assert_string_equal(c->identity, a.identity);
	kdc_cred_free(c);
	/* out of range: refused and audited, the live one stays */
	prof->psk_key_len = KDC_PSK_MIN - 1;
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:tiny",
	    NULL, KDC_CRED_ISSUED, &b), KDC_ERR_CONFIG);
	expect_last_audit(f, "psk.issue", KDC_ERR_CONFIG);
	assert_int_equal(b.cred_id, 0);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:tiny", NULL,
	    KDC_CRED_ISSUED, &c), KDC_OK);
	assert_int_equal(c->id, a.cred_id);
	kdc_cred_free(c);
	kdc_psk_new_wipe(&a);
	kdc_psk_new_wipe(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_psk_device_auth, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_refusals_distinct_and_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_specs_change_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_all_or_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_one_live, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_sign, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cert_enroll_on_use, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_face_reads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_enroll_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_enroll_group_write_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_enroll_policy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_enroll_refuses_manufacturer_key, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_device_revoked_cred_issued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_cert, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_auth_cert_verified, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_auth_cert_verified_trust,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_enroll_on_use_verified,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_device_revoked_verified,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_keypair_issue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_unauth_refusals_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_authorize, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_psk_profile, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failures, setup,
		    teardown),
	};

	install_sqlite_fault_hook();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
