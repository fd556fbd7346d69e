/*
 * crypto_gnutls_es256.c: ES256 of cose_crypto.h on GnuTLS (nettle): the
 * portable variant (a host without OpenSSL; test_cose_gnutls proves it
 * on every vector). The daemon and the device library's host port take
 * crypto_openssl.c instead (~2x faster verify). ECDSA signatures cross as
 * raw r || s: GnuTLS speaks DER, so sign decodes its DER with
 * gnutls_decode_rs_value() and verify encodes ours with
 * gnutls_encode_rs_value().
 */
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "cose/cose_crypto.h"

const char *
kdc_cc_es256_impl(void)
{
	return "gnutls";
}

static gnutls_datum_t
datum(const uint8_t *p, size_t n)
{
	gnutls_datum_t d;

	d.data = (unsigned char *)(uintptr_t)p;
	d.size = (unsigned)n;
	return d;
}

/* A DER-decoded integer (maybe with a leading 0) into 32 bytes,
 * left-padded. */
static bool
int_to32(const gnutls_datum_t *v, uint8_t out[32])
{
	const uint8_t *p = v->data;
	size_t n = v->size;

	while (n > 0 && *p == 0) {
		p++;
		n--;
	}
	if (n > 32)
		return false;
	memset(out, 0, 32 - n);
	memcpy(out + 32 - n, p, n);
	return true;
}

/* 32 bytes without their leading zeros (at least one byte left). */
static gnutls_datum_t
strip32(const uint8_t *p)
{
	size_t n = 32;

	while (n > 1 && *p == 0) {
		p++;
		n--;
	}
	return datum(p, n);
}

kdc_err
kdc_cc_es256_sign(const uint8_t d[32], const uint8_t *x, const uint8_t *y,
    const uint8_t *msg, size_t msg_len, uint8_t sig[64])
{
	/* GnuTLS imports a point with the scalar; signing uses only the
	 * scalar, so without the caller's point we give the generator
	 * (any point will do: it is never used to sign) */
	static const uint8_t gx[32] = {
		0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc,
		0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81,
		0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98,
		0xc2, 0x96 };
	static const uint8_t gy[32] = {
		0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7,
		0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57,
		0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf,
		0x51, 0xf5 };
	gnutls_privkey_t pk = NULL;
	gnutls_datum_t gx_d, gy_d, k_d, data, der = { NULL, 0 };
	gnutls_datum_t r = { NULL, 0 }, s = { NULL, 0 };
	kdc_err ret = KDC_ERR_CRYPTO;

	memset(sig, 0, 64);
	if (d == NULL || (msg == NULL && msg_len > 0))
		return KDC_ERR_INVALID_ARG;
	gx_d = datum(x != NULL && y != NULL ? x : gx, 32);
	gy_d = datum(x != NULL && y != NULL ? y : gy, 32);
	k_d = datum(d, 32);
	data = datum(msg, msg_len);
	if (gnutls_privkey_init(&pk) < 0)
		goto out;
	if (gnutls_privkey_import_ecc_raw(pk, GNUTLS_ECC_CURVE_SECP256R1,
	    &gx_d, &gy_d, &k_d) < 0) {
		ret = KDC_ERR_INVALID_ARG;
		goto out;
	}
	if (gnutls_privkey_sign_data2(pk, GNUTLS_SIGN_ECDSA_SHA256, 0, &data,
	    &der) < 0)
		goto out;
	if (gnutls_decode_rs_value(&der, &r, &s) < 0 ||
	    !int_to32(&r, sig) || !int_to32(&s, sig + 32))
		goto out;
	ret = KDC_OK;
out:
	gnutls_free(der.data);
	gnutls_free(r.data);
	gnutls_free(s.data);
	if (pk != NULL)
		gnutls_privkey_deinit(pk);	/* GnuTLS zeroes the scalar */
	if (ret != KDC_OK)
		memset(sig, 0, 64);
	return ret;
}

kdc_err
kdc_cc_es256_verify(const uint8_t x[32], const uint8_t y[32],
    const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t x_d, y_d, r, s, data, der = { NULL, 0 };
	kdc_err ret = KDC_ERR_CRYPTO;

	if (x == NULL || y == NULL || (msg == NULL && msg_len > 0))
		return KDC_ERR_INVALID_ARG;
	if (sig == NULL || sig_len != 64)
		return KDC_ERR_BAD_SIGNATURE;
	x_d = datum(x, 32);
	y_d = datum(y, 32);
	r = strip32(sig);
	s = strip32(sig + 32);
	data = datum(msg, msg_len);
	if (gnutls_pubkey_init(&pub) < 0)
		goto out;
	if (gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1,
	    &x_d, &y_d) < 0) {
		ret = KDC_ERR_INVALID_ARG;
		goto out;
	}
	if (gnutls_encode_rs_value(&der, &r, &s) < 0)
		goto out;
	ret = gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0,
	    &data, &der) < 0 ? KDC_ERR_BAD_SIGNATURE : KDC_OK;
out:
	gnutls_free(der.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return ret;
}

