/*
 * test_lwm2m_server.c: the built-in LwM2M Server's registration interface
 * (server.c) against a scripted transport (lwm2m_fake.h) and the real
 * core and store: who may register, Update, De-register, and the checks
 * on what a client sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "core/audit.h"
#include "core/config.h"
#include "core/core.h"
#include "core/lwm2m_reg.h"
#include "lwm2m/lwm2m.h"
#include "testkdc.h"
#include "testutil.h"

#include "lwm2m_fake.h"

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_config	 cfg;
	struct kdc_coap		*coap;
	struct kdc_lwm2m	*lw;
	struct kdc_coap_peer	 mfg;	/* urn:dev:a, manufacturer PSK */
	struct kdc_coap_peer	 op;	/* urn:dev:a, operational PSK */
	struct kdc_coap_peer	 op_b;	/* urn:dev:b, operational PSK */
};

static const uint8_t wkey[32] = { 0x42 };
static int64_t fake_now = 1800000000;

static int64_t
clock_fn(void)
{
	return fake_now;
}

static void
add_device(struct fx *f, const char *dev_id, uint8_t fill,
    struct kdc_coap_peer *mfg, struct kdc_coap_peer *op)
{
	struct kdc_device_spec s;
	struct kdc_cred *cur = NULL;
	struct kdc_device *d = NULL;
	uint8_t psk[KDC_PSK_MAX];
	struct kdc_psk_new pn;
	size_t psk_len = sizeof(psk);
	int64_t op_id;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", dev_id);
	snprintf(s.psk_identity, sizeof(s.psk_identity), "mfg-%s", dev_id);
	s.type = KDC_TYPE_PSK;
	memset(s.psk, fill, 16);
	s.psk[0] ^= 0x5a;
	s.psk_len = 16;
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	memset(mfg, 0, sizeof(*mfg));
	mfg->endpoint = "lwm2m";
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", s.psk_identity,
	    psk, &psk_len, &mfg->auth), KDC_OK);
	assert_int_equal(kdc_core_device_get(f->k.core, dev_id, &d), KDC_OK);
	assert_int_equal(mfg->auth.device, d->id);
	assert_int_equal(kdc_core_psk_issue(f->k.core, "test", dev_id, NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	op_id = pn.cred_id;
	/* the operational PSK's principal, as its handshake would make it */
	assert_int_equal(kdc_core_cred_current(f->k.core, dev_id, NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	assert_int_equal(cur->id, op_id);
	*op = *mfg;
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", cur->identity,
	    psk, &psk_len, &op->auth), KDC_OK);
	assert_int_equal(op->auth.kind, KDC_KIND_OPERATIONAL);
	assert_int_equal(op->auth.cred_id, op_id);
	assert_int_equal(psk_len, pn.psk_len);
	assert_memory_equal(psk, pn.psk, pn.psk_len);
	kdc_cred_free(cur);
	kdc_device_free(d);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kdc_lwm2m_opts o;

	kdc_log_set_level(KDC_LOG_ERR);
	kdc_config_defaults(&f->cfg);
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_NO_CA);
	fake_now = 1800000000;
	kdc_core_set_clock(f->k.core, clock_fn);
	assert_int_equal(kdc_coap_new(f->k.core, &f->cfg, &f->coap), KDC_OK);
	memset(&o, 0, sizeof(o));
	o.server_uri = "coaps://127.0.0.1:5685";
	assert_int_equal(kdc_lwm2m_attach(f->coap, f->k.core, &o, &f->lw),
	    KDC_OK);
	add_device(f, "urn:dev:a", 0x11, &f->mfg, &f->op);
	{
		struct kdc_coap_peer unused;
		add_device(f, "urn:dev:b", 0x22, &unused, &f->op_b);
	}
	fake_nq = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fake_nq, 0);
	kdc_coap_free(f->coap);
	kdc_lwm2m_free(f->lw);
	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
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

static size_t
nregs(struct fx *f)
{
	struct kdc_lwm2m_reg *v = NULL;
	size_t n = 0;

	assert_int_equal(kdc_store_lwm2m_reg_list(f->k.st, &v, &n), KDC_OK);
	kdc_lwm2m_reg_list_free(v);
	return n;
}

#define Q(...)	((const char *const[]){ __VA_ARGS__, NULL })

static uint8_t
reg(struct fx *f, struct kdc_coap_peer *p, const char *const *q, char *loc)
{
	return fake_call(f->coap, p, KDC_COAP_POST, "rd", q, loc,
	    loc != NULL ? KDC_COAP_PATH_MAX + 1 : 0);
}

/* Register, Update, De-register with the operational credential. */
static void
test_lifecycle(void **state)
{
	struct fx *f = *state;
	char loc[KDC_COAP_PATH_MAX + 1];
	struct kdc_lwm2m_reg g;
	int64_t id;

	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a", "lt=300",
	    "lwm2m=1.1", "b=U"), loc), KDC_COAP_CREATED);
	assert_true(strncmp(loc, "rd/", 3) == 0);
	id = strtoll(loc + 3, NULL, 10);
	assert_true(id > 0);
	expect_last_audit(f, "lwm2m.register", KDC_OK);
	assert_int_equal(kdc_store_lwm2m_reg_get(f->k.st, id, &g), KDC_OK);
	assert_string_equal(g.ep, "urn:dev:a");
	assert_int_equal(g.lifetime, 300);
	assert_string_equal(g.version, "1.1");
	assert_string_equal(g.binding, "U");
	assert_string_equal(g.addr, "127.0.0.1:56830");
	assert_int_equal(g.registered, fake_now);

	fake_now += 100;
	assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_POST, loc,
	    NULL, NULL, 0), KDC_COAP_CHANGED);
	assert_int_equal(kdc_store_lwm2m_reg_get(f->k.st, id, &g), KDC_OK);
	assert_int_equal(g.updated, fake_now);
	assert_int_equal(g.lifetime, 300);
	assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_POST, loc,
	    Q("lt=600"), NULL, 0), KDC_COAP_CHANGED);
	assert_int_equal(kdc_store_lwm2m_reg_get(f->k.st, id, &g), KDC_OK);
	assert_int_equal(g.lifetime, 600);

	assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_DELETE, loc,
	    NULL, NULL, 0), KDC_COAP_DELETED);
	expect_last_audit(f, "lwm2m.deregister", KDC_OK);
	assert_int_equal(nregs(f), 0);
	assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_POST, loc,
	    NULL, NULL, 0), KDC_COAP_NOT_FOUND);
	assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_DELETE, loc,
	    NULL, NULL, 0), KDC_COAP_NOT_FOUND);
}

/* Defaults (§6.2.1): lt 86400, binding U; a re-register replaces. */
static void
test_defaults_and_replace(void **state)
{
	struct fx *f = *state;
	char loc1[KDC_COAP_PATH_MAX + 1], loc2[KDC_COAP_PATH_MAX + 1];
	struct kdc_lwm2m_reg *v = NULL;
	size_t n = 0;

	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a"), loc1),
	    KDC_COAP_CREATED);
	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a", "lt=60"), loc2),
	    KDC_COAP_CREATED);
	assert_string_not_equal(loc1, loc2);
	assert_int_equal(kdc_store_lwm2m_reg_list(f->k.st, &v, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].lifetime, 60);
	assert_string_equal(v[0].binding, "U");
	assert_string_equal(v[0].version, "1.0");
	kdc_lwm2m_reg_list_free(v);
	/* the replaced location is gone */
	assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_POST, loc1,
	    NULL, NULL, 0), KDC_COAP_NOT_FOUND);
}

/* The manufacturer credential is for the KDC only. */
static void
test_manufacturer_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(reg(f, &f->mfg, Q("ep=urn:dev:a"), NULL),
	    KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.register", KDC_ERR_WRONG_TYPE);
	assert_int_equal(nregs(f), 0);
}

/* NoSec, another device's ep, a superseded operational credential. */
static void
test_other_refusals(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_peer nosec;
	struct kdc_psk_new pn;

	memset(&nosec, 0, sizeof(nosec));
	nosec.endpoint = "lwm2m";
	assert_int_equal(reg(f, &nosec, Q("ep=urn:dev:a"), NULL),
	    KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.register", KDC_ERR_DENIED);
	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:b"), NULL),
	    KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.register", KDC_ERR_DENIED);
	/* a renewal supersedes the credential this session was made with */
	assert_int_equal(kdc_core_psk_issue(f->k.core, "test", "urn:dev:a",
	    NULL, KDC_CRED_ISSUED, &pn), KDC_OK);
	assert_true(pn.cred_id != f->op.auth.cred_id);
	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a"), NULL),
	    KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.register", KDC_ERR_REVOKED);
	assert_int_equal(nregs(f), 0);
}

/* One device cannot update or delete another's registration. */
static void
test_foreign_registration(void **state)
{
	struct fx *f = *state;
	char loc[KDC_COAP_PATH_MAX + 1];

	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a"), loc),
	    KDC_COAP_CREATED);
	assert_int_equal(fake_call(f->coap, &f->op_b, KDC_COAP_POST, loc,
	    NULL, NULL, 0), KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.update", KDC_ERR_DENIED);
	assert_int_equal(fake_call(f->coap, &f->op_b, KDC_COAP_DELETE, loc,
	    NULL, NULL, 0), KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.deregister", KDC_ERR_DENIED);
	assert_int_equal(fake_call(f->coap, &f->mfg, KDC_COAP_DELETE, loc,
	    NULL, NULL, 0), KDC_COAP_FORBIDDEN);
	assert_int_equal(nregs(f), 1);
}

/* Bad query values and paths. */
static void
test_bad_input(void **state)
{
	struct fx *f = *state;
	char loc[KDC_COAP_PATH_MAX + 1], path[KDC_COAP_PATH_MAX + 2];
	static const char *const bad_lt[] = {
		"lt=", "lt=abc", "lt=5", "lt=-300", "lt=99999999999",
		"lt=31536001", "lt= 300",
	};

	for (size_t i = 0; i < sizeof(bad_lt) / sizeof(bad_lt[0]); i++)
		assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a", bad_lt[i]),
		    NULL), KDC_COAP_BAD_REQUEST);
	assert_int_equal(reg(f, &f->op, Q("lt=300"), NULL),
	    KDC_COAP_BAD_REQUEST);
	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a", "b=X"), NULL),
	    KDC_COAP_BAD_REQUEST);
	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a", "lwm2m=1.1;x"),
	    NULL), KDC_COAP_BAD_REQUEST);
	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a",
	    "lwm2m=1.1.1.1.1.1.1.1.1"), NULL), KDC_COAP_BAD_REQUEST);
	assert_int_equal(nregs(f), 0);
	assert_int_equal(reg(f, &f->op, Q("ep=urn:dev:a", "lt=10"), loc),
	    KDC_COAP_CREATED);
	assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_POST, loc,
	    Q("lt=9"), NULL, 0), KDC_COAP_BAD_REQUEST);
	static const char *const bad_path[] = {
		"rd/abc", "rd/0", "rd/-1", "rd/1/2", "rd/99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad_path) / sizeof(bad_path[0]); i++)
		assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_POST,
		    bad_path[i], NULL, NULL, 0), KDC_COAP_NOT_FOUND);
	snprintf(path, sizeof(path), "%s9", loc);	/* no such id */
	assert_int_equal(fake_call(f->coap, &f->op, KDC_COAP_DELETE, path,
	    NULL, NULL, 0), KDC_COAP_NOT_FOUND);
	assert_int_equal(nregs(f), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_defaults_and_replace,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_manufacturer_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_foreign_registration,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
