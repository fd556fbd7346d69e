/*
 * fuzz_pubkey.c: the key and certificate files a user hands us, through
 * our wrappers around GnuTLS's parsers: a CA certificate for `mfg-ca add`
 * (kdc_cacert_parse), a public key file for an RPK device
 * (kdc_spki_load, then kdc_spki_check on what it gives), a PEM chain's
 * leaf (kdc_cert_pem_leaf). Checked: what is accepted comes out as DER
 * that is accepted again, to the same bytes. Seeds: fuzz/corpus/pubkey/
 * (fuzz/seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "crypto/codec.h"
#include "crypto/crypto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
cacert(const uint8_t *data, size_t size)
{
	uint8_t *der = NULL, *der2 = NULL;
	size_t len = 0, len2 = 0;

	if (kdc_cacert_parse(data, size, &der, &len) != KDC_OK) {
		if (der != NULL || len != 0)
			abort();
		return;
	}
	if (der == NULL || len == 0 ||
	    kdc_cacert_parse(der, len, &der2, &len2) != KDC_OK ||
	    len2 != len || memcmp(der, der2, len) != 0)
		abort();
	kdc_free(der);
	kdc_free(der2);
}

static void
spki(const uint8_t *data, size_t size)
{
	uint8_t out[KDC_SPKI_MAX], again[KDC_SPKI_MAX];
	size_t len = sizeof(out), len2 = sizeof(again);
	enum kdc_key_alg alg;

	(void)kdc_spki_check(data, size, &alg);
	if (kdc_spki_load(data, size, out, &len) != KDC_OK)
		return;
	if (len == 0 || len > sizeof(out) ||
	    kdc_spki_load(out, len, again, &len2) != KDC_OK || len2 != len ||
	    memcmp(out, again, len) != 0)
		abort();
	(void)kdc_spki_check(out, len, &alg);
}

static void
leaf(const uint8_t *data, size_t size)
{
	char *pem;
	uint8_t *der = NULL, *key = NULL;
	size_t len = 0, key_len = 0;

	if ((pem = malloc(size + 1)) == NULL)
		return;
	memcpy(pem, data, size);
	pem[size] = '\0';
	if (kdc_cert_pem_leaf(pem, size, &der, &len, &key, &key_len) ==
	    KDC_OK && (der == NULL || len == 0 || key == NULL ||
	    key_len == 0))
		abort();
	kdc_free(der);
	kdc_free(key);
	free(pem);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (kdc_crypto_init() != KDC_OK)
		abort();
	cacert(data, size);
	spki(data, size);
	leaf(data, size);
	return 0;
}
