/* test_core_crl.c: kdc_core_crl() (what is listed, the cache, rebuild on
 * revocation by this or another core, on time, cRLNumber increasing) and
 * expiry with a fake clock: refused before the sweep, marked by it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

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

static const uint8_t wkey[32] = { 0x42, 0x17 };
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
	/* the store stamps status_at with the wall clock: stay near it */
	fake_now = (int64_t)time(NULL);
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

/* A device registered for certificates, with an operational X.509
 * credential made by the KDC; returns the credential id. */
static int64_t
x509_device(struct fx *f, const char *id)
{
	struct kdc_device_spec s;
	uint8_t pkcs8[KDC_PRIVKEY_MAX], *cert = NULL;
	size_t pkcs8_len = sizeof(pkcs8), cert_len = 0;
	int64_t cred;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", id);
	s.type = KDC_TYPE_X509;
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_keypair_issue(f->k.core, "t", id, NULL,
	    KDC_TYPE_X509, KDC_CRED_ISSUED, &cred, pkcs8, &pkcs8_len, &cert,
	    &cert_len), KDC_OK);
	kdc_wipe(pkcs8, sizeof(pkcs8));
	kdc_free(cert);
	return cred;
}

static void
serial_of(struct fx *f, int64_t cred, char *out, size_t cap)
{
	struct kdc_cred *c = NULL;

	assert_int_equal(kdc_store_cred_get(f->k.st, cred, &c), KDC_OK);
	assert_true(c->serial[0] != '\0');
	snprintf(out, cap, "%s", c->serial);
	kdc_cred_free(c);
}

struct crl_info {
	unsigned	 n;		/* entries */
	char		 serials[8][41];
	uint64_t	 number;
	int64_t		 this_update;
	int64_t		 next_update;
};

/* Parse a CRL and check its signature against the CA (ca.pem). */
static void
crl_parse(struct fx *f, const uint8_t *der, size_t len,
    struct crl_info *ci)
{
	gnutls_x509_crl_t crl;
	gnutls_x509_crt_t ca;
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	uint8_t *pem, num[20], ser[20];
	size_t pem_len, num_len = sizeof(num), ser_len;
	char path[600];
	unsigned status = 1, crit = 0;
	int n;

	memset(ci, 0, sizeof(*ci));
	snprintf(path, sizeof(path), "%s/ca.pem", f->k.dir);
	assert_non_null(pem = kdc_test_read_file(path, &pem_len));
	assert_int_equal(gnutls_x509_crt_init(&ca), 0);
	{
		gnutls_datum_t p = { pem, (unsigned)pem_len };
		assert_int_equal(gnutls_x509_crt_import(ca, &p,
		    GNUTLS_X509_FMT_PEM), 0);
	}
	assert_int_equal(gnutls_x509_crl_init(&crl), 0);
	assert_int_equal(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER),
	    0);
	assert_int_equal(gnutls_x509_crl_verify(crl, &ca, 1, 0, &status), 0);
	/* the fake clock runs ahead of GnuTLS's wall clock: a thisUpdate in
	 * its future is expected then, and nothing else */
	if (gnutls_x509_crl_get_this_update(crl) > time(NULL))
		status &= ~(unsigned)(GNUTLS_CERT_INVALID |
		    GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE);
	assert_int_equal(status, 0);
	assert_int_equal(gnutls_x509_crl_get_version(crl), 2);
	assert_true((n = gnutls_x509_crl_get_crt_count(crl)) >= 0);
	assert_true(n <= 8);
	ci->n = (unsigned)n;
	for (int i = 0; i < n; i++) {
		time_t t;

		ser_len = sizeof(ser);
		assert_int_equal(gnutls_x509_crl_get_crt_serial(crl,
		    (unsigned)i, ser, &ser_len, &t), 0);
		kdc_hex_encode(ser, ser_len, ci->serials[i]);
		assert_true(t > 0);
	}
	assert_int_equal(gnutls_x509_crl_get_number(crl, num, &num_len,
	    &crit), 0);
	for (size_t i = 0; i < num_len; i++)
		ci->number = (ci->number << 8) | num[i];
	ci->this_update = (int64_t)gnutls_x509_crl_get_this_update(crl);
	ci->next_update = (int64_t)gnutls_x509_crl_get_next_update(crl);
	gnutls_x509_crl_deinit(crl);
	gnutls_x509_crt_deinit(ca);
	free(pem);
}

static int
listed(const struct crl_info *ci, const char *serial)
{
	for (unsigned i = 0; i < ci->n; i++)
		if (strcmp(ci->serials[i], serial) == 0)
			return 1;
	return 0;
}

static void
get_crl(struct kdc_core *core, uint8_t **der, size_t *len)
{
	assert_int_equal(kdc_core_crl(core, der, len), KDC_OK);
	assert_non_null(*der);
	assert_true(*len > 0);
}

static void
test_crl_rebuild(void **state)
{
	struct fx *f = *state;
	struct kdc_core *other = NULL;
	struct crl_info ci, prev;
	uint8_t *a = NULL, *b = NULL;
	size_t alen, blen;
	int64_t c1, c2, c3;
	char s1[41], s2[41], s3[41], *gen = NULL;
	struct kdc_psk_new pn;
	int64_t pskcred;

	c1 = x509_device(f, "urn:dev:crl:1");
	c2 = x509_device(f, "urn:dev:crl:2");
	c3 = x509_device(f, "urn:dev:crl:3");
	serial_of(f, c1, s1, sizeof(s1));
	serial_of(f, c2, s2, sizeof(s2));
	serial_of(f, c3, s3, sizeof(s3));
	/* another core on the same store: another thread or process */
	assert_int_equal(kdc_core_new(f->k.st, f->k.kr, f->k.ca, &f->cfg,
	    &other), KDC_OK);
	kdc_core_set_clock(other, clock_fn);

	get_crl(f->k.core, &a, &alen);
	crl_parse(f, a, alen, &ci);
	assert_int_equal(ci.n, 0);
	assert_int_equal(ci.this_update, fake_now);
	assert_int_equal(ci.next_update, fake_now + KDC_CRL_VALIDITY);
	assert_int_equal(ci.number >> 32, 0);
	/* cached: the same bytes (ECDSA signatures are randomised) */
	get_crl(f->k.core, &b, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	kdc_free(b);
	get_crl(other, &b, &blen);
	kdc_free(b);
	prev = ci;

	/* revoke one credential: the next call lists it, in both cores */
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", c1), KDC_OK);
	assert_int_equal(kdc_store_meta_get(f->k.st, "crl_gen", &gen), KDC_OK);
	assert_string_equal(gen, "1");
	kdc_free(gen);
	get_crl(f->k.core, &b, &blen);
	crl_parse(f, b, blen, &ci);
	assert_int_equal(ci.n, 1);
	assert_true(listed(&ci, s1));
	assert_true(ci.number > prev.number);
	kdc_free(b);
	get_crl(other, &b, &blen);
	crl_parse(f, b, blen, &ci);
	assert_int_equal(ci.n, 1);
	assert_true(listed(&ci, s1));
	kdc_free(b);

	/* a refused revocation (already revoked) does not bump */
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", c1),
	    KDC_ERR_REVOKED);
	assert_int_equal(kdc_store_meta_get(f->k.st, "crl_gen", &gen), KDC_OK);
	assert_string_equal(gen, "1");
	kdc_free(gen);

	/* revoking a device revokes its certificate */
	assert_int_equal(kdc_core_device_revoke(other, "t", "urn:dev:crl:2"),
	    KDC_OK);
	get_crl(f->k.core, &b, &blen);
	crl_parse(f, b, blen, &ci);
	assert_int_equal(ci.n, 2);
	assert_true(listed(&ci, s1) && listed(&ci, s2) && !listed(&ci, s3));
	assert_int_equal(ci.number >> 32, 2);
	prev = ci;
	kdc_free(b);

	/* a revoked PSK bumps the generation but adds no entry */
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:crl:3",
	    NULL, KDC_CRED_PENDING, &pn), KDC_OK);
	pskcred = pn.cred_id;
	assert_int_equal(kdc_core_cred_revoke(f->k.core, "t", pskcred), KDC_OK);
	get_crl(f->k.core, &b, &blen);
	crl_parse(f, b, blen, &ci);
	assert_int_equal(ci.n, 2);
	assert_true(ci.number > prev.number);
	kdc_free(b);

	/* time: before the renewal margin, cached; after it, re-signed */
	kdc_free(a);
	get_crl(f->k.core, &a, &alen);
	crl_parse(f, a, alen, &prev);
	fake_now += KDC_CRL_VALIDITY - KDC_CRL_RENEW_BEFORE - 1;
	get_crl(f->k.core, &b, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	kdc_free(b);
	fake_now += 1;
	get_crl(f->k.core, &b, &blen);
	crl_parse(f, b, blen, &ci);
	assert_int_equal(ci.this_update, fake_now);
	assert_true(ci.next_update > prev.next_update);
	assert_true(ci.number > prev.number);
	assert_int_equal(ci.n, 2);
	kdc_free(b);

	/* once their certificates expire, entries leave the CRL */
	fake_now += 31 * 86400;
	get_crl(f->k.core, &b, &blen);
	crl_parse(f, b, blen, &ci);
	assert_int_equal(ci.n, 0);
	kdc_free(b);
	kdc_free(a);
	kdc_core_free(other);
}

/* A renewed certificate's predecessor goes on the CRL, so a relying party
 * outside the KDC refuses it too. */
static void
test_crl_lists_superseded(void **state)
{
	struct fx *f = *state;
	struct crl_info ci;
	uint8_t pkcs8[KDC_PRIVKEY_MAX], *der = NULL, *cert = NULL;
	size_t pkcs8_len = sizeof(pkcs8), len = 0, cert_len = 0;
	char old_serial[41], new_serial[41];
	int64_t old_cred, new_cred;

	old_cred = x509_device(f, "urn:dev:crl:renewed");
	serial_of(f, old_cred, old_serial, sizeof(old_serial));
	get_crl(f->k.core, &der, &len);
	crl_parse(f, der, len, &ci);
	assert_false(listed(&ci, old_serial));
	kdc_free(der);

	assert_int_equal(kdc_core_keypair_issue(f->k.core, "t",
	    "urn:dev:crl:renewed", NULL, KDC_TYPE_X509, KDC_CRED_ISSUED,
	    &new_cred, pkcs8, &pkcs8_len, &cert, &cert_len), KDC_OK);
	kdc_wipe(pkcs8, sizeof(pkcs8));
	kdc_free(cert);
	serial_of(f, new_cred, new_serial, sizeof(new_serial));
	get_crl(f->k.core, &der, &len);
	crl_parse(f, der, len, &ci);
	assert_true(listed(&ci, old_serial));
	assert_false(listed(&ci, new_serial));
	kdc_free(der);
}

static void
test_crl_no_ca(void **state)
{
	struct fx *f = *state;
	struct kdc_core *noca = NULL;
	uint8_t *der = (uint8_t *)1;
	size_t len = 1;

	assert_int_equal(kdc_core_new(f->k.st, f->k.kr, NULL, &f->cfg, &noca),
	    KDC_OK);
	assert_int_equal(kdc_core_crl(noca, &der, &len), KDC_ERR_NOT_FOUND);
	assert_null(der);
	assert_int_equal(len, 0);
	kdc_core_free(noca);
}

/* Every allocation of a rebuild failing in turn: OK or NOMEM, no leak. */
static void
test_crl_alloc_failures(void **state)
{
	struct fx *f = *state;
	struct kdc_core *c = NULL;
	uint8_t *der;
	size_t len;
	long n;
	int done = 0;

	(void)x509_device(f, "urn:dev:crl:oom");
	assert_int_equal(kdc_core_device_revoke(f->k.core, "t",
	    "urn:dev:crl:oom"), KDC_OK);
	kdc_log_set_level((enum kdc_log_level)-1);
	for (n = 1; n < 1000 && !done; n++) {
		kdc_err r;

		assert_int_equal(kdc_core_new(f->k.st, f->k.kr, f->k.ca,
		    &f->cfg, &c), KDC_OK);
		kdc_alloc_fail_after(n);
		r = kdc_core_crl(c, &der, &len);
		if (!kdc_alloc_faulted()) {
			assert_int_equal(r, KDC_OK);
			done = 1;
		} else if (r != KDC_OK && r != KDC_ERR_NOMEM)
			fail_msg("allocation %ld: got %s", n, kdc_err_name(r));
		kdc_alloc_fail_after(0);
		if (r == KDC_OK)
			kdc_free(der);
		kdc_core_free(c);
	}
	kdc_log_set_level(KDC_LOG_INFO);
	assert_true(done);
}

/* Expiry with a fake clock: refused at once, marked by the sweep. */
static void
test_expiry_sweep(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	struct kdc_cred *c = NULL;
	struct kdc_audit_rec last;
	struct kdc_psk_new pn;
	uint8_t got[KDC_PSK_MAX];
	size_t got_len = sizeof(got), n = 99;
	int64_t id;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "urn:dev:exp");
	snprintf(s.psk_identity, sizeof(s.psk_identity), "exp");
	s.type = KDC_TYPE_PSK;
	memset(s.psk, 0x3c, 16);
	s.psk_len = 16;
	assert_int_equal(kdc_core_device_add(f->k.core, "t", &s), KDC_OK);
	assert_int_equal(kdc_core_psk_issue(f->k.core, "t", "urn:dev:exp", NULL,
	    KDC_CRED_ISSUED, &pn), KDC_OK);
	id = pn.cred_id;
	assert_int_equal(kdc_store_cred_get(f->k.st, id, &c), KDC_OK);
	assert_int_equal(kdc_core_expire(f->k.core, "sweep", &n), KDC_OK);
	assert_int_equal(n, 0);

	/* one second past not_after: refused before any sweep */
	fake_now = c->not_after;
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", c->identity, got,
	    &got_len, NULL), KDC_ERR_EXPIRED);
	assert_int_equal(kdc_core_expire(f->k.core, "sweep", &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	assert_string_equal(last.action, "cred.expire");
	assert_string_equal(last.actor, "sweep");
	kdc_cred_free(c);
	assert_int_equal(kdc_store_cred_get(f->k.st, id, &c), KDC_OK);
	assert_int_equal(c->status, KDC_CRED_EXPIRED);
	got_len = sizeof(got);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "t", c->identity, got,
	    &got_len, NULL), KDC_ERR_EXPIRED);
	kdc_cred_free(c);
	/* idempotent */
	assert_int_equal(kdc_core_expire(f->k.core, "sweep", &n), KDC_OK);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crl_rebuild, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_lists_superseded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_no_ca, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_alloc_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expiry_sweep, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
