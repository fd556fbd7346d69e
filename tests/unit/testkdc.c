/* testkdc.c: see testkdc.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testkdc.h"
#include "testutil.h"

void
kdc_test_kdc_open(struct kdc_test_kdc *k, const uint8_t wkey[32],
    const struct kdc_config *cfg, unsigned flags)
{
	char db[600];

	memset(k, 0, sizeof(*k));
	assert_int_equal(kdc_crypto_init(), KDC_OK);
	k->dir = kdc_test_tmpdir();
	assert_int_equal(kdc_keyring_from_bytes(wkey, &k->kr), KDC_OK);
	snprintf(db, sizeof(db), "%s/kdc.db", k->dir);
	assert_int_equal(kdc_store_open(flags & KDC_TEST_DB_FILE ? db :
	    ":memory:", 1, &k->st), KDC_OK);
	if (!(flags & KDC_TEST_NO_CA)) {
		assert_int_equal(kdc_ca_create(k->dir, k->kr, NULL, 3650),
		    KDC_OK);
		assert_int_equal(kdc_ca_load(k->dir, k->kr, NULL, &k->ca),
		    KDC_OK);
	}
	assert_int_equal(kdc_core_new(k->st, k->kr, k->ca, cfg, &k->core),
	    KDC_OK);
	if (flags & KDC_TEST_TLS) {
		assert_non_null(k->ca);
		assert_int_equal(kdc_tls_cert_create(k->dir, k->kr, k->ca,
		    NULL, 0, 30), KDC_OK);
		assert_int_equal(kdc_tls_cert_load(k->dir, k->kr,
		    &k->cert_pem, &k->key_pem, &k->key_len), KDC_OK);
	}
}

void
kdc_test_kdc_close(struct kdc_test_kdc *k)
{
	kdc_core_free(k->core);
	kdc_ca_free(k->ca);
	kdc_store_close(k->st);
	kdc_keyring_free(k->kr);
	if (k->dir != NULL)
		kdc_test_rmtree(k->dir);
	free(k->dir);
	free(k->cert_pem);
	if (k->key_pem != NULL)
		kdc_secret_free(k->key_pem, k->key_len);
	memset(k, 0, sizeof(*k));
}
