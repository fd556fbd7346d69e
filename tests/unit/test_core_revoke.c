/* test_core_revoke.c: kdc_core_revocation_gen() moves with every
 * revocation (and supersede), and kdc_core_principal_check() says which
 * live sessions a revocation ends: revoked credential or device, expired,
 * deleted; a superseded credential's session may finish. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "core/config.h"
#include "core/core.h"
#include "core/revoke.h"
#include "testkdc.h"
#include "testutil.h"

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_config	 cfg;
	struct kdc_core		*core;	/* k.core */
};

static const uint8_t wkey[32] = { 0x42, 0x18 };
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
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, 0);
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

/* A PSK device; returns its row id, *mfg its manufacturer credential. */
static int64_t
psk_device(struct fx *f, const char *id, const char *ident, int64_t *mfg)
{
	struct kdc_device_spec s;
	struct kdc_device *d = NULL;
	struct kdc_cred_filter flt = { 0, KDC_KIND_MANUFACTURER, -1, 0 };
	struct kdc_cred **v = NULL;
	size_t n = 0;
	int64_t row;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", id);
	s.type = KDC_TYPE_PSK;
	snprintf(s.psk_identity, sizeof(s.psk_identity), "%s", ident);
	s.psk_len = 16;
	memset(s.psk, ident[strlen(ident) - 1], s.psk_len);
	s.psk[0] = (uint8_t)strlen(ident);
	assert_int_equal(kdc_core_device_add(f->core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_device_get(f->core, id, &d), KDC_OK);
	row = d->id;
	kdc_device_free(d);
	flt.device = row;
	assert_int_equal(kdc_core_cred_list(f->core, &flt, &v, &n), KDC_OK);
	assert_int_equal(n, 1);
	*mfg = v[0]->id;
	kdc_cred_list_free(v, n);
	return row;
}

static int64_t
gen(struct fx *f)
{
	int64_t g = -1;

	assert_int_equal(kdc_core_revocation_gen(f->core, &g), KDC_OK);
	return g;
}

static void
test_principal(void **state)
{
	struct fx *f = *state;
	struct kdc_psk_new pn;
	int64_t mfg1, mfg2, op1, op2, dev1, dev2, g;

	dev1 = psk_device(f, "urn:dev:rv:1", "rv1", &mfg1);
	dev2 = psk_device(f, "urn:dev:rv:2", "rv2", &mfg2);
	assert_int_equal(gen(f), 0);
	assert_int_equal(kdc_core_principal_check(f->core, mfg1, dev1),
	    KDC_OK);
	/* a credential of another device, ids that name nothing */
	assert_int_equal(kdc_core_principal_check(f->core, mfg2, dev1),
	    KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(kdc_core_principal_check(f->core, mfg1, 9999),
	    KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(kdc_core_principal_check(f->core, 0, dev1),
	    KDC_ERR_INVALID_ARG);

	/* a renewal supersedes: the generation moves, the old session may
	 * finish */
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:rv:1", NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	op1 = pn.cred_id;
	kdc_psk_new_wipe(&pn);
	g = gen(f);
	assert_int_equal(kdc_core_psk_issue(f->core, "t", "urn:dev:rv:1", NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	op2 = pn.cred_id;
	kdc_psk_new_wipe(&pn);
	assert_true(gen(f) > g);
	assert_int_equal(kdc_core_principal_check(f->core, op1, dev1),
	    KDC_OK);
	assert_int_equal(kdc_core_principal_check(f->core, op2, dev1),
	    KDC_OK);

	/* cred revoke: that credential only */
	g = gen(f);
	assert_int_equal(kdc_core_cred_revoke(f->core, "t", op2), KDC_OK);
	assert_int_equal(gen(f), g + 1);
	assert_int_equal(kdc_core_principal_check(f->core, op2, dev1),
	    KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_principal_check(f->core, mfg1, dev1),
	    KDC_OK);

	/* past not_after */
	{
		struct kdc_cred_filter flt = { dev1, -1, -1, 0 };
		struct kdc_cred **v = NULL;
		size_t n = 0;
		int64_t na = 0;

		assert_int_equal(kdc_core_cred_list(f->core, &flt, &v, &n),
		    KDC_OK);
		for (size_t i = 0; i < n; i++)
			if (v[i]->id == op1)
				na = v[i]->not_after;
		kdc_cred_list_free(v, n);
		assert_true(na != 0);	/* the profile's lifetime */
		fake_now = na;
		assert_int_equal(kdc_core_principal_check(f->core, op1, dev1),
		    KDC_ERR_EXPIRED);
		fake_now = (int64_t)time(NULL);
	}

	/* a device marked revoked (its credentials left alone): refused
	 * on the device alone */
	assert_int_equal(kdc_store_device_set_status(f->k.st, dev2,
	    KDC_DEV_REVOKED), KDC_OK);
	assert_int_equal(kdc_core_principal_check(f->core, mfg2, dev2),
	    KDC_ERR_REVOKED);
	assert_int_equal(kdc_store_device_set_status(f->k.st, dev2,
	    KDC_DEV_ACTIVE), KDC_OK);

	/* device revoke: every credential of the device */
	g = gen(f);
	assert_int_equal(kdc_core_device_revoke(f->core, "t", "urn:dev:rv:1"),
	    KDC_OK);
	assert_int_equal(gen(f), g + 1);
	assert_int_equal(kdc_core_principal_check(f->core, mfg1, dev1),
	    KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_principal_check(f->core, op1, dev1),
	    KDC_ERR_REVOKED);
	assert_int_equal(kdc_core_principal_check(f->core, mfg2, dev2),
	    KDC_OK);

	/* deleted */
	assert_int_equal(kdc_core_device_delete(f->core, "t", "urn:dev:rv:2"),
	    KDC_OK);
	assert_int_equal(kdc_core_principal_check(f->core, mfg2, dev2),
	    KDC_ERR_UNKNOWN_DEVICE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_principal, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
