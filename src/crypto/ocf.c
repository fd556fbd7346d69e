/*
 * ocf.c: the OCF owner-PSK derivations (crypto.h): the TLS 1.2 PRF
 * (P_SHA256) on gnutls_hmac, the Random PIN PSK on gnutls_pbkdf2.
 * Secrets on the stack are wiped before return.
 */
#include <string.h>

#include <gnutls/crypto.h>

#include "base/wipe.h"
#include "crypto/crypto_int.h"

#define PRF_OUT_MAX	1024

/* HMAC-SHA256(secret, a || b) into out[32]. */
static kdc_err
hmac2(const uint8_t *secret, size_t secret_len, const void *a, size_t alen,
    const void *b, size_t blen, uint8_t out[32])
{
	gnutls_hmac_hd_t h;
	int rc;

	rc = gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, secret, secret_len);
	if (rc < 0)
		return KDC_CRYPTO_GTERR("gnutls_hmac_init", rc);
	if ((alen > 0 && (rc = gnutls_hmac(h, a, alen)) < 0) ||
	    (blen > 0 && (rc = gnutls_hmac(h, b, blen)) < 0)) {
		gnutls_hmac_deinit(h, NULL);
		return KDC_CRYPTO_GTERR("gnutls_hmac", rc);
	}
	gnutls_hmac_deinit(h, out);
	return KDC_OK;
}

kdc_err
kdc_tls12_prf_sha256(const uint8_t *secret, size_t secret_len,
    const void *label, size_t label_len, const void *seed, size_t seed_len,
    uint8_t *out, size_t out_len)
{
	uint8_t a[32], blk[32], ls[32 + 256];
	size_t done = 0, n;
	kdc_err r = KDC_OK;

	if (out == NULL || out_len == 0 || out_len > PRF_OUT_MAX ||
	    (secret == NULL && secret_len > 0) ||
	    (label == NULL && label_len > 0) ||
	    (seed == NULL && seed_len > 0) || label_len > 256)
		return KDC_ERR_INVALID_ARG;
	/* A(1) = HMAC(secret, label || seed) */
	if ((r = hmac2(secret, secret_len, label, label_len, seed, seed_len,
	    a)) != KDC_OK)
		goto out;
	while (done < out_len) {
		/* HMAC(secret, A(i) || label || seed) */
		memcpy(ls, a, 32);
		if (label_len > 0)
			memcpy(ls + 32, label, label_len);
		if ((r = hmac2(secret, secret_len, ls, 32 + label_len, seed,
		    seed_len, blk)) != KDC_OK)
			goto out;
		n = out_len - done < 32 ? out_len - done : 32;
		memcpy(out + done, blk, n);
		done += n;
		/* A(i+1) = HMAC(secret, A(i)) */
		if ((r = hmac2(secret, secret_len, a, 32, NULL, 0, a)) != KDC_OK)
			goto out;
	}
out:
	if (r != KDC_OK)
		kdc_wipe(out, out_len);
	kdc_wipe(a, sizeof(a));
	kdc_wipe(blk, sizeof(blk));
	kdc_wipe(ls, sizeof(ls));
	return r;
}

kdc_err
kdc_ocf_rdp_psk(const char *pin, size_t pin_len, const uint8_t devuuid[16],
    uint8_t psk[16])
{
	gnutls_datum_t key, salt;
	int rc;

	if (pin == NULL || pin_len == 0 || devuuid == NULL || psk == NULL)
		return KDC_ERR_INVALID_ARG;
	key.data = (unsigned char *)(uintptr_t)pin;
	key.size = (unsigned)pin_len;
	salt.data = (unsigned char *)(uintptr_t)devuuid;
	salt.size = 16;
	rc = gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &salt,
	    KDC_OCF_RDP_ITERATIONS, psk, 16);
	if (rc < 0) {
		kdc_wipe(psk, 16);
		return KDC_CRYPTO_GTERR("gnutls_pbkdf2", rc);
	}
	return KDC_OK;
}

kdc_err
kdc_ocf_owner_psk(const uint8_t *key_block, size_t key_block_len,
    const char *oxm, const uint8_t obt_uuid[16],
    const uint8_t device_uuid[16], uint8_t psk[16])
{
	uint8_t seed[32];
	kdc_err r;

	if (key_block == NULL || key_block_len == 0 || oxm == NULL ||
	    oxm[0] == '\0' || obt_uuid == NULL || device_uuid == NULL ||
	    psk == NULL)
		return KDC_ERR_INVALID_ARG;
	memcpy(seed, obt_uuid, 16);
	memcpy(seed + 16, device_uuid, 16);
	r = kdc_tls12_prf_sha256(key_block, key_block_len, oxm, strlen(oxm),
	    seed, sizeof(seed), psk, 16);
	kdc_wipe(seed, sizeof(seed));
	return r;
}
