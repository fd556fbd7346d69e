/*
 * askey.c: the ACE Authorization Server's signing key (crypto.h
 * kdc_as_key_*): ECDSA P-256, a file `as.key` in the data dir wrapped
 * like the CA key (AES-256-GCM under the keyring, AAD "as.key"), or a
 * PKCS#11 object. The key helpers are ca.c's (crypto_key_*); a file key
 * also signs through OpenSSL (p256.c), a PKCS#11 key through GnuTLS.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "crypto/crypto_int.h"
#include "crypto/p256.h"

#define AS_KEY_FILE	"as.key"
#define AS_KEY_AAD	"as.key"

kdc_err
kdc_as_key_create(const char *dir, const struct kdc_keyring *kr)
{
	gnutls_datum_t pkcs8 = { NULL, 0 };
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	uint8_t *wrapped = NULL;
	size_t wrapped_len = 0;
	char *path = NULL;
	struct stat sb;
	kdc_err r;

	if (dir == NULL || kr == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	if ((path = crypto_path(dir, AS_KEY_FILE)) == NULL)
		return KDC_ERR_NOMEM;
	if (stat(path, &sb) == 0) {
		r = KDC_ERR_EXISTS;
		goto out;
	}
	if ((r = crypto_key_generate(&key, &pkcs8)) != KDC_OK ||
	    (r = crypto_key_public_p256(key, KDC_ERR_CRYPTO, &pub)) !=
	    KDC_OK ||
	    (r = kdc_wrap(kr, AS_KEY_AAD, strlen(AS_KEY_AAD), pkcs8.data,
	    pkcs8.size, &wrapped, &wrapped_len)) != KDC_OK)
		goto out;
	r = kdc_file_create_atomic(path, wrapped, wrapped_len, 0600);
out:
	crypto_datum_wipe(&pkcs8);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
	kdc_free(wrapped);
	kdc_free(path);
	return r;
}

kdc_err
kdc_as_key_load(const char *dir, const struct kdc_keyring *kr,
    const char *key_url, struct kdc_as_key **out)
{
	struct kdc_as_key *k = NULL;
	gnutls_pubkey_t pub = NULL;
	uint8_t *wrapped = NULL, *pkcs8 = NULL;
	size_t wrapped_len = 0, pkcs8_len = 0, n;
	char *path = NULL;
	kdc_err r;
	int rc;

	*out = NULL;
	if ((key_url == NULL && (dir == NULL || kr == NULL)))
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	if ((k = kdc_calloc(1, sizeof(*k))) == NULL)
		return KDC_ERR_NOMEM;
	if (key_url != NULL) {
		if ((r = crypto_key_import_url(key_url, &k->key)) != KDC_OK)
			goto out;
	} else {
		if ((path = crypto_path(dir, AS_KEY_FILE)) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		if ((r = crypto_file_read(path, KDC_PRIVKEY_MAX +
		    KDC_WRAP_OVERHEAD, &wrapped, &wrapped_len)) != KDC_OK ||
		    (r = kdc_unwrap(kr, AS_KEY_AAD, strlen(AS_KEY_AAD),
		    wrapped, wrapped_len, &pkcs8, &pkcs8_len)) != KDC_OK ||
		    (r = crypto_key_import(pkcs8, pkcs8_len, &k->key)) !=
		    KDC_OK)
			goto out;
	}
	if ((r = crypto_key_public_p256(k->key, key_url != NULL ?
	    KDC_ERR_PKCS11 : KDC_ERR_BAD_KEY, &pub)) != KDC_OK)
		goto out;
	n = sizeof(k->spki);
	if ((rc = gnutls_pubkey_export(pub, GNUTLS_X509_FMT_DER, k->spki,
	    &n)) < 0 || n != sizeof(k->spki)) {
		r = rc < 0 ? KDC_CRYPTO_GTERR("gnutls_pubkey_export", rc) :
		    KDC_ERR_BAD_KEY;
		goto out;
	}
	k->spki_len = n;
	if (pkcs8 != NULL && (r = crypto_p256_key_import(pkcs8, pkcs8_len,
	    k->spki, k->spki_len, &k->ossl_key)) != KDC_OK)
		goto out;
	*out = k;
	k = NULL;
	r = KDC_OK;
out:
	kdc_secret_free(pkcs8, pkcs8_len);
	kdc_free(wrapped);
	kdc_free(path);
	gnutls_pubkey_deinit(pub);
	kdc_as_key_free(k);
	return r;
}

void
kdc_as_key_free(struct kdc_as_key *k)
{
	if (k == NULL)
		return;
	crypto_p256_key_free(k->ossl_key);
	gnutls_privkey_deinit(k->key);
	kdc_free(k);
}

kdc_err
kdc_as_key_sign(struct kdc_as_key *k, const uint8_t *data, size_t len,
    uint8_t rs[64])
{
	if (k == NULL || (data == NULL && len > 0))
		return KDC_ERR_INVALID_ARG;
	return crypto_p256_sign_raw(k->ossl_key, k->key, data, len, rs);
}

kdc_err
kdc_as_key_pub(const struct kdc_as_key *k, uint8_t x[32], uint8_t y[32],
    uint8_t *spki, size_t *spki_len)
{
	if (k == NULL)
		return KDC_ERR_INVALID_ARG;
	if (spki != NULL) {
		if (*spki_len < k->spki_len)
			return KDC_ERR_TOO_LARGE;
		memcpy(spki, k->spki, k->spki_len);
		*spki_len = k->spki_len;
	}
	return kdc_spki_p256_xy(k->spki, k->spki_len, x, y);
}

/* The canonical P-256 SPKI: 27 bytes of header (SEQUENCE, id-ecPublicKey,
 * prime256v1, BIT STRING, 0x04), then x and y. */
static const uint8_t p256_head[27] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07, 0x03, 0x42, 0x00, 0x04,
};

kdc_err
kdc_spki_p256_xy(const uint8_t *spki, size_t len, uint8_t x[32],
    uint8_t y[32])
{
	if (spki == NULL || len != sizeof(p256_head) + 64 ||
	    memcmp(spki, p256_head, sizeof(p256_head)) != 0)
		return KDC_ERR_UNSUPPORTED_KEY;
	if (x != NULL)
		memcpy(x, spki + sizeof(p256_head), 32);
	if (y != NULL)
		memcpy(y, spki + sizeof(p256_head) + 32, 32);
	return KDC_OK;
}

kdc_err
kdc_p256_xy_spki(const uint8_t x[32], const uint8_t y[32], uint8_t *spki,
    size_t *spki_len)
{
	if (*spki_len < sizeof(p256_head) + 64)
		return KDC_ERR_TOO_LARGE;
	memcpy(spki, p256_head, sizeof(p256_head));
	memcpy(spki + sizeof(p256_head), x, 32);
	memcpy(spki + sizeof(p256_head) + 32, y, 32);
	*spki_len = sizeof(p256_head) + 64;
	return kdc_spki_check(spki, *spki_len, NULL);
}
