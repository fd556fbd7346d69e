/*
 * test_ocf_obt.c: the refusals of kdc_ocf_obt_onboard() that come before
 * any packet (ocf/obt.h), over a real core in a temp dir. The CLI refuses
 * `--otm jw` without --unauthenticated (and --unauthenticated with another
 * OTM) before it calls the OBT, so test_ocf_jw.sh cannot see the OBT's
 * own check: here it is called directly. The device "found" is on a
 * loopback port nobody listens on: had the check let the call through,
 * the answer would be a network error, not DENIED / INVALID_ARG.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "core/config.h"
#include "core/core.h"
#include "core/ocf.h"
#include "ocf/obt.h"
#include "testkdc.h"
#include "testutil.h"

#define UUID	"6b1c2a4e-0d3f-4a5b-9c7d-8e9f0a1b2c3d"

static const uint8_t wkey[32] = { 0x0b, 0x7e };

struct fx {
	struct kdc_test_kdc	 k;
	struct kdc_config	 cfg;
	struct kdc_ocf_obt	*o;
	struct kdc_ocf_found	 f;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	kdc_config_defaults(&f->cfg);
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_DB_FILE);
	assert_int_equal(kdc_ocf_obt_new(f->k.core, &f->cfg, "lo", 500,
	    &f->o), KDC_OK);
	strcpy(f->f.uuid, UUID);
	strcpy(f->f.addr, "127.0.0.1");
	f->f.coap_port = 9;		/* discard: nobody there */
	f->f.coaps_port = 9;
	f->f.doxm_ok = true;
	f->f.oxms[0] = KDC_OCF_OXM_JW;
	f->f.oxms[1] = KDC_OCF_OXM_RDP;
	f->f.n_oxms = 2;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kdc_ocf_obt_free(f->o);
	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
}

static void
assert_nothing_recorded(struct fx *f)
{
	struct kdc_ocf_device *v = NULL;
	size_t n = 99;

	assert_int_equal(kdc_core_ocf_device_list(f->k.core, &v, &n), KDC_OK);
	assert_int_equal(n, 0);
	kdc_free(v);
}

/* Just Works without op.unauthenticated: DENIED, why names Just Works. */
static void
test_jw_needs_consent(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_onboard_opts op;
	char nu[KDC_OCF_UUID_TEXT + 1], why[256];

	memset(&op, 0, sizeof(op));
	op.uuid = UUID;
	op.otm = KDC_OCF_OXM_JW;
	op.found = &f->f;
	assert_int_equal(kdc_ocf_obt_onboard(f->o, &op, nu, why, sizeof(why)),
	    KDC_ERR_DENIED);
	assert_non_null(strstr(why, "Just Works authenticates nobody"));
	assert_string_equal(nu, "");
	assert_nothing_recorded(f);
}

/* op.unauthenticated with another OTM: INVALID_ARG. */
static void
test_unauthenticated_jw_only(void **state)
{
	struct fx *f = *state;
	struct kdc_ocf_onboard_opts op;
	char nu[KDC_OCF_UUID_TEXT + 1], why[256];

	memset(&op, 0, sizeof(op));
	op.uuid = UUID;
	op.otm = KDC_OCF_OXM_RDP;
	op.pin_file = "/nonexistent/pin";
	op.found = &f->f;
	op.unauthenticated = true;
	assert_int_equal(kdc_ocf_obt_onboard(f->o, &op, nu, why, sizeof(why)),
	    KDC_ERR_INVALID_ARG);
	assert_non_null(strstr(why, "Just Works only"));
	assert_nothing_recorded(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_jw_needs_consent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unauthenticated_jw_only,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
