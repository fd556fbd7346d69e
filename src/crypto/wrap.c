/*
 * wrap.c: the wrapping key (keyring), AES-256-GCM wrap/unwrap of secrets
 * at rest, and HKDF-derived MAC subkeys (RFC 5869).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "base/alloc.h"
#include "base/log.h"
#include "crypto/crypto_int.h"

/* HKDF-Extract salt (RFC 5869 2.2): a fixed, versioned label so subkeys of
 * this scheme can never collide with a later one. */
static const char hkdf_salt[] = "iotkdc keyring v1";

/* ---- the keyring ------------------------------------------------------ */

kdc_err
kdc_keyring_from_bytes(const uint8_t key[32], struct kdc_keyring **out)
{
	struct kdc_keyring *kr = NULL;
	gnutls_datum_t k, salt;
	kdc_err r;
	int rc;

	*out = NULL;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	if ((kr = kdc_malloc(sizeof(*kr))) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(kr->key, key, sizeof(kr->key));
	k.data = kr->key;
	k.size = sizeof(kr->key);
	salt.data = (unsigned char *)(uintptr_t)hkdf_salt;
	salt.size = sizeof(hkdf_salt) - 1;
	if ((rc = gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &k, &salt,
	    kr->prk)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_hkdf_extract", rc);
		goto out;
	}
	*out = kr;
	kr = NULL;
	r = KDC_OK;
out:
	kdc_keyring_free(kr);
	return r;
}

void
kdc_keyring_free(struct kdc_keyring *kr)
{
	kdc_secret_free(kr, sizeof(*kr));
}

kdc_err
kdc_keyring_create(const char *path)
{
	uint8_t key[KDC_KEYRING_KEY_LEN];
	kdc_err r;

	if ((r = kdc_crypto_init()) != KDC_OK ||
	    (r = kdc_random(key, sizeof(key))) != KDC_OK)
		goto out;
	r = kdc_file_create_atomic(path, key, sizeof(key), 0600);
out:
	kdc_wipe(key, sizeof(key));
	return r;
}

kdc_err
kdc_keyring_load(const char *path, struct kdc_keyring **out)
{
	uint8_t key[KDC_KEYRING_KEY_LEN];
	struct stat st;
	size_t got = 0;
	kdc_err r;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return KDC_ERR_IO;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		r = KDC_ERR_IO;
		goto out;
	}
	/* Like ssh with a private key: refuse rather than use a key others
	 * may have read or replaced. */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		kdc_log_debug("wrapping key file is accessible by group/other "
		    "(mode %03o); chmod 600 it", (unsigned)st.st_mode & 0777);
		r = KDC_ERR_CONFIG;
		goto out;
	}
	if (st.st_size != (off_t)sizeof(key)) {
		r = KDC_ERR_BAD_KEY;
		goto out;
	}
	while (got < sizeof(key)) {
		ssize_t n = read(fd, key + got, sizeof(key) - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = KDC_ERR_IO;
			goto out;
		}
		got += (size_t)n;
	}
	r = kdc_keyring_from_bytes(key, out);
out:
	kdc_wipe(key, sizeof(key));
	close(fd);
	return r;
}

/* ---- AES-256-GCM wrap -------------------------------------------------- */

static kdc_err
aead_open(const struct kdc_keyring *kr, gnutls_aead_cipher_hd_t *h)
{
	gnutls_datum_t k;
	int rc;

	/* A handle per call: GnuTLS handles are not safe to share between
	 * threads, and the key schedule is cheap next to a store write. */
	k.data = (unsigned char *)(uintptr_t)kr->key;
	k.size = sizeof(kr->key);
	if ((rc = gnutls_aead_cipher_init(h, GNUTLS_CIPHER_AES_256_GCM,
	    &k)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_aead_cipher_init", rc);
	return KDC_OK;
}

kdc_err
kdc_wrap(const struct kdc_keyring *kr, const void *aad, size_t aad_len,
    const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len)
{
	gnutls_aead_cipher_hd_t h = NULL;
	static const uint8_t empty;
	uint8_t *buf = NULL;
	size_t len, ct_len;
	kdc_err r;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (pt_len > SIZE_MAX - KDC_WRAP_OVERHEAD)
		return KDC_ERR_TOO_LARGE;
	len = pt_len + KDC_WRAP_OVERHEAD;
	if ((buf = kdc_malloc(len)) == NULL)
		return KDC_ERR_NOMEM;
	buf[0] = KDC_WRAP_VERSION;
	/* Random 96-bit nonces: safe for far more than 2^32 wraps under one
	 * key (NIST SP 800-38D 8.3), and no counter state to lose. */
	if ((r = kdc_random(buf + 1, KDC_WRAP_NONCE_LEN)) != KDC_OK ||
	    (r = aead_open(kr, &h)) != KDC_OK)
		goto out;
	ct_len = len - 1 - KDC_WRAP_NONCE_LEN;
	rc = gnutls_aead_cipher_encrypt(h, buf + 1, KDC_WRAP_NONCE_LEN,
	    aad_len > 0 ? aad : &empty, aad_len, KDC_WRAP_TAG_LEN,
	    pt_len > 0 ? pt : &empty, pt_len, buf + 1 + KDC_WRAP_NONCE_LEN,
	    &ct_len);
	if (rc < 0 || ct_len != pt_len + KDC_WRAP_TAG_LEN) {
		r = KDC_CRYPTO_GTERR("gnutls_aead_cipher_encrypt", rc);
		goto out;
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
	r = KDC_OK;
out:
	if (h != NULL)
		gnutls_aead_cipher_deinit(h);
	kdc_free(buf);
	return r;
}

kdc_err
kdc_unwrap(const struct kdc_keyring *kr, const void *aad, size_t aad_len,
    const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	gnutls_aead_cipher_hd_t h = NULL;
	static const uint8_t empty;
	uint8_t *buf = NULL;
	size_t pt_len, cap = 0;
	kdc_err r;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (in_len < KDC_WRAP_OVERHEAD)
		return KDC_ERR_MALFORMED;
	if (in[0] != KDC_WRAP_VERSION)
		return KDC_ERR_MALFORMED;
	cap = pt_len = in_len - KDC_WRAP_OVERHEAD;
	/* +1: never a zero-size buffer, and room for a NUL for callers that
	 * wrapped text. */
	if ((buf = kdc_malloc(cap + 1)) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = aead_open(kr, &h)) != KDC_OK)
		goto out;
	rc = gnutls_aead_cipher_decrypt(h, in + 1, KDC_WRAP_NONCE_LEN,
	    aad_len > 0 ? aad : &empty, aad_len, KDC_WRAP_TAG_LEN,
	    in + 1 + KDC_WRAP_NONCE_LEN, in_len - 1 - KDC_WRAP_NONCE_LEN,
	    buf, &pt_len);
	if (rc == GNUTLS_E_DECRYPTION_FAILED) {
		r = KDC_ERR_BAD_KEY;
		goto out;
	}
	if (rc < 0 || pt_len != cap) {
		r = KDC_CRYPTO_GTERR("gnutls_aead_cipher_decrypt", rc);
		goto out;
	}
	buf[pt_len] = 0;
	*out = buf;
	*out_len = pt_len;
	buf = NULL;
	r = KDC_OK;
out:
	if (h != NULL)
		gnutls_aead_cipher_deinit(h);
	kdc_secret_free(buf, cap + 1);
	return r;
}

/* ---- MAC subkeys --------------------------------------------------------- */

kdc_err
kdc_keyring_mac(const struct kdc_keyring *kr, const char *label,
    const void *data, size_t len, uint8_t out[32])
{
	uint8_t subkey[32];
	gnutls_datum_t prk, info;
	kdc_err r;
	int rc;

	if (label == NULL || *label == '\0')
		return KDC_ERR_INVALID_ARG;
	prk.data = (unsigned char *)(uintptr_t)kr->prk;
	prk.size = sizeof(kr->prk);
	info.data = (unsigned char *)(uintptr_t)label;
	info.size = (unsigned)strlen(label);
	/* HKDF-Expand(PRK, info = label, L = 32), RFC 5869 2.3. */
	if ((rc = gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &prk, &info, subkey,
	    sizeof(subkey))) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_hkdf_expand", rc);
		goto out;
	}
	r = kdc_hmac_sha256(subkey, sizeof(subkey), data, len, out);
out:
	kdc_wipe(subkey, sizeof(subkey));
	return r;
}
