/*
 * fuzz_csr.c: our DER CSR parser (kdc_csr_parse, kdc_csr_cn, kdc_csr_spki)
 * and kdc_ca_sign_csr() on arbitrary bytes (DER or PEM CSRs from a peer,
 * EST /simpleenroll). Every view the parser gives must lie inside the
 * input. A CA is created once per process in a temp dir (removed at exit)
 * under a fixed wrapping key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"

static struct kdc_ca	*ca;
static char		 dir[] = "/tmp/kdcfuzz.XXXXXX";

static void
cleanup(void)
{
	char p[sizeof(dir) + 16];

	kdc_ca_free(ca);
	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/ca.key", dir);
	(void)unlink(p);
	(void)rmdir(dir);
}

static void
setup(void)
{
	static const uint8_t key[32] = { 0x6b, 0x64, 0x63 };
	struct kdc_keyring *kr = NULL;

	if (mkdtemp(dir) == NULL || kdc_crypto_init() != KDC_OK ||
	    kdc_keyring_from_bytes(key, &kr) != KDC_OK ||
	    kdc_ca_create(dir, kr, NULL, 30) != KDC_OK ||
	    kdc_ca_load(dir, kr, NULL, &ca) != KDC_OK)
		abort();
	kdc_keyring_free(kr);
	atexit(cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kdc_issued is;
	struct kdc_csr c;
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	char cn[64];

	if (ca == NULL)
		setup();
	if (kdc_csr_parse(data, size, &c) == KDC_OK) {
		const uint8_t *end = data + size;

		if (c.info < data || c.info + c.info_len > end ||
		    c.subject < data || c.subject + c.subject_len > end ||
		    c.spki < data || c.spki + c.spki_len > end ||
		    c.sig < data || c.sig + c.sig_len > end)
			abort();
		(void)kdc_csr_cn(&c, cn, sizeof(cn));
		(void)kdc_csr_verify(&c);
	}
	if (kdc_csr_spki(data, size, &spki, &spki_len) == KDC_OK)
		free(spki);
	if (kdc_ca_sign_csr(ca, data, size, "urn:dev:ops:fuzz", 0,
	    4102444800LL, &is) == KDC_OK)
		kdc_issued_wipe(&is);
	return 0;
}
