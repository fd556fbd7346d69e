/*
 * p11.c: bring up GnuTLS's PKCS#11 layer, once per process.
 *
 * By default GnuTLS (3.7) loads every module p11-kit is configured with
 * (the *.module files in /usr/share/p11-kit/modules; Debian's softhsm2 package installs
 * one), the same as its automatic initialisation on first use. When
 * IOTKDC_PKCS11_MODULE names a module (.so path) we load only that one,
 * for tokens p11-kit does not know about. Either way this must run before
 * any other PKCS#11 call, which is why the CA functions call it first.
 */
#include <pthread.h>
#include <stdlib.h>

#include <gnutls/pkcs11.h>

#include "base/log.h"
#include "crypto/crypto_int.h"

static pthread_once_t	 p11_once = PTHREAD_ONCE_INIT;
static kdc_err		 p11_r = KDC_OK;

static void
p11_init_once(void)
{
	const char *mod = getenv("IOTKDC_PKCS11_MODULE");
	int rc;

	if ((p11_r = kdc_crypto_init()) != KDC_OK)
		return;
	if (mod == NULL || *mod == '\0') {
		if ((rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_AUTO,
		    NULL)) < 0)
			p11_r = KDC_CRYPTO_GTERR_AS("gnutls_pkcs11_init", rc,
			    KDC_ERR_PKCS11);
		return;
	}
	if ((rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL)) < 0) {
		p11_r = KDC_CRYPTO_GTERR_AS("gnutls_pkcs11_init", rc,
		    KDC_ERR_PKCS11);
		return;
	}
	if ((rc = gnutls_pkcs11_add_provider(mod, NULL)) < 0) {
		kdc_log_err("cannot load PKCS#11 module from "
		    "IOTKDC_PKCS11_MODULE: %s", gnutls_strerror(rc));
		p11_r = KDC_ERR_PKCS11;
	}
}

kdc_err
crypto_pkcs11_setup(void)
{
	(void)pthread_once(&p11_once, p11_init_once);
	return p11_r;
}
