/*
 * fuzz_csr.c: kdc_ca_sign_csr() on arbitrary bytes (DER or PEM CSRs from a
 * peer, EST /simpleenroll). A CA is created once per process in a temp dir
 * (removed at exit) under a fixed wrapping key.
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

	if (ca == NULL)
		setup();
	if (kdc_ca_sign_csr(ca, data, size, "urn:dev:ops:fuzz", 0,
	    4102444800LL, &is) == KDC_OK)
		kdc_issued_wipe(&is);
	return 0;
}
