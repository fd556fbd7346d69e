/*
 * csr.c: PKCS#10 CSR (RFC 2986) -> device certificate (RFC 5280), signed
 * by the iotkdc CA. On the enrollment hot path (EST, `cert sign`): the CA
 * certificate and key are parsed once, in kdc_ca_load(), never here.
 *
 * Only the CSR's public key is used, after its self-signature proves
 * possession. Its subject, attributes and requested extensions are
 * ignored: names and usages come from the device record, not the device.
 *
 * Both ends are our own DER (der.c): the request is read by a strict
 * parser of its four fields, and the certificate is one fixed template
 * (the fields and extensions below, in the encodings GnuTLS chose when
 * it built them for us). The two ECDSA P-256 operations are p256.c's
 * (OpenSSL for a file CA key, GnuTLS for a PKCS#11 one; Ed25519 CSRs
 * are verified by GnuTLS here). GnuTLS's generic ASN.1 layer cost ~2/3
 * of the CSR->certificate time (docs/perf.md), which is why it is no
 * longer on this path.
 */
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/utf8.h"
#include "crypto/crypto_int.h"
#include "crypto/p256.h"

/* SubjectPublicKeyInfo of the two accepted keys, up to the key bytes:
 * id-ecPublicKey + prime256v1 with an uncompressed point (65 bytes), and
 * id-Ed25519 (RFC 8410) with its 32 bytes. */
static const uint8_t spki_p256[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07, 0x03, 0x42, 0x00, 0x04,
};
#define SPKI_P256_LEN	(sizeof(spki_p256) + 64)
static const uint8_t spki_ed25519[] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21,
	0x00,
};
#define SPKI_ED25519_LEN	(sizeof(spki_ed25519) + 32)

/* Signature algorithms a CSR may use (the OID's contents) */
static const uint8_t oid_ecdsa_sha256[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t oid_ecdsa_sha384[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t oid_ecdsa_sha512[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 };
static const uint8_t oid_ed25519[] = { 0x2b, 0x65, 0x70 };
static const uint8_t oid_cn[] = { 0x55, 0x04, 0x03 };

enum csr_sig {
	CSR_SIG_ECDSA_SHA256 = 1,
	CSR_SIG_ECDSA_SHA384,
	CSR_SIG_ECDSA_SHA512,
	CSR_SIG_ED25519,
};

/* The certificate's fixed parts, DER. ecdsa-with-SHA256, no parameters
 * (RFC 5758 3.2); extensions: keyUsage critical digitalSignature (RFC
 * 5280 4.2.1.3), basicConstraints critical CA:FALSE (4.2.1.9), extKeyUsage
 * id-kp-clientAuth (4.2.1.12). */
const uint8_t crypto_alg_ecdsa_sha256[12] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03,
	0x02,
};
#define alg_ecdsa_sha256 crypto_alg_ecdsa_sha256
static const uint8_t ext_key_usage[] = {
	0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04,
	0x04, 0x03, 0x02, 0x07, 0x80,
};
static const uint8_t ext_basic_constraints[] = {
	0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04,
	0x02, 0x30, 0x00,
};
static const uint8_t ext_client_auth[] = {
	0x30, 0x13, 0x06, 0x03, 0x55, 0x1d, 0x25, 0x04, 0x0c, 0x30, 0x0a,
	0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02,
};
/* The OCF identity certificate's (OCF Security 1.0 §9.4.2.2, IoTivity's
 * oc_obt_certs.c): keyUsage critical digitalSignature|keyAgreement (bits
 * 0 and 4), extKeyUsage serverAuth, clientAuth and 1.3.6.1.4.1.44924.1.6
 * (OCF identity). */
static const uint8_t ext_key_usage_ocf[] = {
	0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04,
	0x04, 0x03, 0x02, 0x03, 0x88,
};
static const uint8_t ext_eku_ocf[] = {
	0x30, 0x29, 0x06, 0x03, 0x55, 0x1d, 0x25, 0x04, 0x22, 0x30, 0x20,
	0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01,
	0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02,
	0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xde, 0x7c, 0x01,
	0x06,
};
static const uint8_t oid_ski[] = { 0x06, 0x03, 0x55, 0x1d, 0x0e };
static const uint8_t oid_aki[] = { 0x06, 0x03, 0x55, 0x1d, 0x23 };
static const uint8_t oid_san[] = { 0x06, 0x03, 0x55, 0x1d, 0x11 };
static const uint8_t tag_cn[] = { 0x06, 0x03, 0x55, 0x04, 0x03 };
static const uint8_t version_v3[] = { 0xa0, 0x03, 0x02, 0x01, 0x02 };

#define SHA1_LEN	20
/* RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ),
 * followed by ':'. A dev id like "urn:dev:ops:1234" is a URI and goes in a
 * SAN URI too; "00:11:22" (no scheme) is a name only. */
static bool
is_uri(const char *s)
{
	size_t i = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 1; s[i] != '\0' && s[i] != ':'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
			return false;
	}
	if (s[i] != ':')
		return false;
	/* IA5String: ASCII only, no spaces or controls in a URI. */
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static kdc_err
dev_id_check(const char *dev_id)
{
	size_t n;

	if (dev_id == NULL || (n = strlen(dev_id)) == 0 || n > KDC_DEVID_MAX)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dev_id[i] < 0x20 || dev_id[i] == 0x7f)
			return KDC_ERR_INVALID_ARG;
	return KDC_OK;
}

void
kdc_issued_wipe(struct kdc_issued *is)
{
	if (is == NULL)
		return;
	kdc_free(is->cert);
	kdc_free(is->spki);
	memset(is, 0, sizeof(*is));
}

/* The rest of rd (not consumed) is exactly want[0, n). */
static bool
oid_is(const struct kdc_rd *oid, const uint8_t *want, size_t n)
{
	struct kdc_rd t = *oid;
	const uint8_t *p;

	return kdc_rd_remaining(&t) == n && kdc_rd_view(&t, n, &p) &&
	    memcmp(p, want, n) == 0;
}

/* A SubjectPublicKeyInfo: one of the two canonical forms, else
 * UNSUPPORTED_KEY if it is a well-formed SPKI of another key, MALFORMED
 * if it is none. */
static kdc_err
spki_kind(const uint8_t *p, size_t n, enum kdc_key_alg *alg)
{
	struct kdc_rd rd, spki, algid;

	if (n == SPKI_P256_LEN && memcmp(p, spki_p256,
	    sizeof(spki_p256)) == 0) {
		*alg = KDC_KEY_P256;
		return KDC_OK;
	}
	if (n == SPKI_ED25519_LEN && memcmp(p, spki_ed25519,
	    sizeof(spki_ed25519)) == 0) {
		*alg = KDC_KEY_ED25519;
		return KDC_OK;
	}
	kdc_rd_init(&rd, p, n);
	if (!der_next(&rd, 0x30, &spki) || !kdc_rd_at_end(&rd) ||
	    !der_next(&spki, 0x30, &algid) || !der_next(&algid, 0x06, NULL) ||
	    !der_next(&spki, 0x03, NULL) || !kdc_rd_at_end(&spki))
		return KDC_ERR_MALFORMED;
	return KDC_ERR_UNSUPPORTED_KEY;
}

/*
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo, signature-
 * Algorithm, signature BIT STRING }; the info is SEQUENCE { version 0,
 * subject Name, subjectPKInfo, attributes [0] }. Nothing may follow any of
 * them.
 */
static kdc_err
csr_parse(const uint8_t *der, size_t len, struct kdc_csr *out)
{
	struct kdc_rd rd, req, info, sigalg, oid, sig, f;
	static const uint8_t v0[] = { 0x00 };
	uint8_t unused;
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if (der == NULL || len == 0)
		return KDC_ERR_MALFORMED;
	if (len > KDC_CSR_MAX)
		return KDC_ERR_TOO_LARGE;
	kdc_rd_init(&rd, der, len);
	if (!der_next(&rd, 0x30, &req) || !kdc_rd_at_end(&rd))
		return KDC_ERR_MALFORMED;
	if (!der_take(&req, 0x30, &info, &out->info, &out->info_len))
		return KDC_ERR_MALFORMED;
	/* version 0 */
	if (!der_next(&info, 0x02, &f) || !oid_is(&f, v0, 1))
		return KDC_ERR_MALFORMED;
	if (!der_take(&info, 0x30, NULL, &out->subject, &out->subject_len) ||
	    !der_take(&info, 0x30, NULL, &out->spki, &out->spki_len))
		return KDC_ERR_MALFORMED;
	/* attributes [0] IMPLICIT SET OF: present (maybe empty) or, as
	 * some encoders do, left out */
	if (!kdc_rd_at_end(&info) && (!der_next(&info, 0xa0, NULL) ||
	    !kdc_rd_at_end(&info)))
		return KDC_ERR_MALFORMED;
	if ((r = spki_kind(out->spki, out->spki_len, &out->alg)) != KDC_OK)
		return r;
	/* AlgorithmIdentifier without parameters (RFC 5758 3.2, RFC 8410 3) */
	if (!der_next(&req, 0x30, &sigalg) || !der_next(&sigalg, 0x06, &oid) ||
	    !kdc_rd_at_end(&sigalg))
		return KDC_ERR_MALFORMED;
	/* BIT STRING, no unused bits, at least one octet of signature */
	if (!der_next(&req, 0x03, &sig) || !kdc_rd_at_end(&req) ||
	    !kdc_rd_u8(&sig, &unused) || unused != 0x00 ||
	    kdc_rd_at_end(&sig))
		return KDC_ERR_MALFORMED;
	out->sig_len = kdc_rd_remaining(&sig);
	(void)kdc_rd_view(&sig, out->sig_len, &out->sig);
	if (out->alg == KDC_KEY_P256 && oid_is(&oid, oid_ecdsa_sha256,
	    sizeof(oid_ecdsa_sha256)))
		out->sig_alg = CSR_SIG_ECDSA_SHA256;
	else if (out->alg == KDC_KEY_P256 && oid_is(&oid, oid_ecdsa_sha384,
	    sizeof(oid_ecdsa_sha384)))
		out->sig_alg = CSR_SIG_ECDSA_SHA384;
	else if (out->alg == KDC_KEY_P256 && oid_is(&oid, oid_ecdsa_sha512,
	    sizeof(oid_ecdsa_sha512)))
		out->sig_alg = CSR_SIG_ECDSA_SHA512;
	else if (out->alg == KDC_KEY_ED25519 && oid_is(&oid, oid_ed25519,
	    sizeof(oid_ed25519)))
		out->sig_alg = CSR_SIG_ED25519;
	else
		return KDC_ERR_BAD_SIGNATURE;	/* nothing we can verify */
	return KDC_OK;
}

kdc_err
kdc_csr_parse(const uint8_t *der, size_t len, struct kdc_csr *out)
{
	kdc_err r;

	if ((r = csr_parse(der, len, out)) != KDC_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

/* The key of a parsed CSR as a GnuTLS public key. MALFORMED if GnuTLS
 * refuses the point. */
static kdc_err
csr_pubkey(const struct kdc_csr *c, gnutls_pubkey_t *out)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t x, y;
	int rc;

	*out = NULL;
	if ((rc = gnutls_pubkey_init(&pub)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_pubkey_init", rc);
	if (c->alg == KDC_KEY_P256) {
		x.data = (unsigned char *)(uintptr_t)c->spki + sizeof(spki_p256);
		x.size = 32;
		y.data = x.data + 32;
		y.size = 32;
		rc = gnutls_pubkey_import_ecc_raw(pub,
		    GNUTLS_ECC_CURVE_SECP256R1, &x, &y);
	} else {
		x.data = (unsigned char *)(uintptr_t)c->spki +
		    sizeof(spki_ed25519);
		x.size = 32;
		rc = gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_ED25519,
		    &x, NULL);
	}
	if (rc < 0) {
		gnutls_pubkey_deinit(pub);
		return KDC_ERR_MALFORMED;
	}
	*out = pub;
	return KDC_OK;
}

kdc_err
kdc_csr_verify(const struct kdc_csr *c)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t data, sig;
	kdc_err r;

	switch (c->sig_alg) {
	/* P-256: p256.c chooses the library (OpenSSL) */
	case CSR_SIG_ECDSA_SHA256:
		return crypto_p256_verify(c->spki, c->spki_len,
		    KDC_P256_SHA256, c->info, c->info_len, c->sig, c->sig_len);
	case CSR_SIG_ECDSA_SHA384:
		return crypto_p256_verify(c->spki, c->spki_len,
		    KDC_P256_SHA384, c->info, c->info_len, c->sig, c->sig_len);
	case CSR_SIG_ECDSA_SHA512:
		return crypto_p256_verify(c->spki, c->spki_len,
		    KDC_P256_SHA512, c->info, c->info_len, c->sig, c->sig_len);
	case CSR_SIG_ED25519:
		break;		/* GnuTLS, below */
	default:
		return KDC_ERR_INVALID_ARG;	/* not from kdc_csr_parse */
	}
	if ((r = csr_pubkey(c, &pub)) != KDC_OK)
		return r;
	data.data = (unsigned char *)(uintptr_t)c->info;
	data.size = (unsigned)c->info_len;
	sig.data = (unsigned char *)(uintptr_t)c->sig;
	sig.size = (unsigned)c->sig_len;
	r = gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_EDDSA_ED25519, 0,
	    &data, &sig) < 0 ? KDC_ERR_BAD_SIGNATURE : KDC_OK;
	gnutls_pubkey_deinit(pub);
	return r;
}

/* The key of a request, read before issuance so the face can refuse a
 * key it already knows: parsed, and a P-256 point checked to be on the
 * curve (the signature is checked at issuance). */
kdc_err
kdc_csr_spki(const uint8_t *csr, size_t len, uint8_t **spki, size_t *spki_len)
{
	gnutls_pubkey_t pub = NULL;
	struct kdc_csr c;
	uint8_t *p;
	kdc_err r;
	int rc;

	*spki = NULL;
	*spki_len = 0;
	if ((r = kdc_csr_parse(csr, len, &c)) != KDC_OK)
		return r;
	if (c.alg == KDC_KEY_P256) {
		if ((r = csr_pubkey(&c, &pub)) != KDC_OK)
			return r;
		rc = gnutls_pubkey_verify_params(pub);
		gnutls_pubkey_deinit(pub);
		if (rc < 0)
			return KDC_ERR_MALFORMED;
	}
	if ((p = kdc_malloc(c.spki_len)) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(p, c.spki, c.spki_len);
	*spki = p;
	*spki_len = c.spki_len;
	return KDC_OK;
}

kdc_err
kdc_csr_cn(const struct kdc_csr *c, char *cn, size_t cap)
{
	struct kdc_rd rd, name, rdn, atv, oid, val;
	const uint8_t *v;
	size_t n;

	if (cap == 0)
		return KDC_ERR_INVALID_ARG;
	cn[0] = '\0';
	kdc_rd_init(&rd, c->subject, c->subject_len);
	if (!der_next(&rd, 0x30, &name))
		return KDC_ERR_MALFORMED;
	while (!kdc_rd_at_end(&name)) {
		if (!der_next(&name, 0x31, &rdn))
			return KDC_ERR_MALFORMED;
		while (!kdc_rd_at_end(&rdn)) {
			if (!der_next(&rdn, 0x30, &atv) ||
			    !der_next(&atv, 0x06, &oid))
				return KDC_ERR_MALFORMED;
			if (!oid_is(&oid, oid_cn, sizeof(oid_cn)))
				continue;
			/* UTF8String, PrintableString or IA5String */
			if (!der_next(&atv, 0x0c, &val) &&
			    !der_next(&atv, 0x13, &val) &&
			    !der_next(&atv, 0x16, &val))
				return KDC_ERR_MALFORMED;
			n = kdc_rd_remaining(&val);
			if (!kdc_rd_at_end(&atv) || n >= cap ||
			    !kdc_rd_view(&val, n, &v) ||
			    memchr(v, '\0', n) != NULL)
				return KDC_ERR_MALFORMED;
			memcpy(cn, v, n);
			cn[n] = '\0';
			return KDC_OK;
		}
	}
	return KDC_ERR_NOT_FOUND;
}

/* X.520 PrintableString characters (X.680 41.4) */
static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(" '()+,-./:=?", *s)
		    != NULL))
			return false;
	return true;
}

void
crypto_put_aki(struct der_wr *w, const struct kdc_ca *ca)
{
	size_t m = w->pos;

	der_put(w, ca->skid, ca->skid_len);
	der_put_hdr(w, 0x80, ca->skid_len);	/* keyIdentifier [0] */
	der_wrap(w, 0x30, m);
	der_wrap(w, 0x04, m);
	der_put(w, oid_aki, sizeof(oid_aki));
	der_wrap(w, 0x30, m);
}

kdc_err
crypto_sign_tbs(struct kdc_ca *ca, const uint8_t *tbs, size_t tbs_len,
    uint8_t **der, size_t *len)
{
	uint8_t sig[KDC_P256_SIG_MAX], *buf;
	size_t sig_len = sizeof(sig), cap, m;
	struct der_wr w;
	kdc_err r;

	*der = NULL;
	*len = 0;
	if (tbs_len > 0xffffff - 256)
		return KDC_ERR_TOO_LARGE;
	/* p256.c chooses the library: OpenSSL for a file key */
	if ((r = crypto_p256_ca_sign(ca, tbs, tbs_len, sig, &sig_len)) !=
	    KDC_OK)
		return r;
	cap = tbs_len + sizeof(alg_ecdsa_sha256) + sig_len + 16;
	if ((buf = der_wr_new(&w, cap)) == NULL)
		return KDC_ERR_NOMEM;
	m = w.pos;
	der_put(&w, sig, sig_len);
	der_put(&w, "", 1);		/* no unused bits */
	der_wrap(&w, 0x03, m);
	der_put(&w, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256));
	der_put(&w, tbs, tbs_len);
	der_wrap(&w, 0x30, cap);
	if (w.bad) {
		kdc_free(buf);
		return KDC_ERR_TOO_LARGE;	/* cap above is wrong */
	}
	memmove(buf, buf + w.pos, cap - w.pos);
	*der = buf;
	*len = cap - w.pos;
	return KDC_OK;
}

/*
 * The device certificate for spki (canonical P-256 or Ed25519, checked by
 * the caller): CN and SAN URI from dev_id, clientAuth, signed by the CA.
 * TBSCertificate (RFC 5280 4.1), extensions in the order GnuTLS wrote
 * them: subjectKeyIdentifier (SHA-1 of the SPKI, as GnuTLS computes key
 * ids), subjectAltName, keyUsage, basicConstraints, extKeyUsage,
 * authorityKeyIdentifier (the CA's subject key id).
 */
static kdc_err
sign_spki(struct kdc_ca *ca, const uint8_t *spki, size_t spki_len,
    const char *dev_id, bool ocf, int64_t not_before, int64_t not_after,
    struct kdc_issued *out)
{
	size_t id_len = strlen(dev_id), cap, m, m2, cert_len = 0;
	uint8_t serial[KDC_SERIAL_LEN], ski[SHA1_LEN], *buf = NULL,
	    *cert = NULL, *spki_copy = NULL;
	struct der_wr w;
	kdc_err r;
	int rc;

	if (!kdc_utf8_valid((const uint8_t *)dev_id, id_len))
		return KDC_ERR_INVALID_ARG;
	if ((r = crypto_serial(serial)) != KDC_OK)
		return r;
	if ((rc = gnutls_hash_fast(GNUTLS_DIG_SHA1, spki, spki_len, ski)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_hash_fast", rc);
	/* every variable part, plus 512 for the fixed parts (~95 bytes)
	 * and the ~30 headers (<= 4 bytes each); a miscount is TOO_LARGE,
	 * never an overflow (der_wr) */
	cap = 512 + sizeof(ext_eku_ocf) + 2 * id_len + spki_len + ca->dn_len +
	    ca->skid_len +
	    sizeof(ski) + KDC_SERIAL_LEN;
	if ((buf = der_wr_new(&w, cap)) == NULL)
		return KDC_ERR_NOMEM;

	/* extensions [3], last first */
	m = w.pos;
	crypto_put_aki(&w, ca);
	if (ocf)
		der_put(&w, ext_eku_ocf, sizeof(ext_eku_ocf));
	else
		der_put(&w, ext_client_auth, sizeof(ext_client_auth));
	der_put(&w, ext_basic_constraints, sizeof(ext_basic_constraints));
	if (ocf)
		der_put(&w, ext_key_usage_ocf, sizeof(ext_key_usage_ocf));
	else
		der_put(&w, ext_key_usage, sizeof(ext_key_usage));
	/* an OCF identity certificate names its device in the CN alone */
	if (!ocf && is_uri(dev_id)) {
		m2 = w.pos;
		der_put(&w, dev_id, id_len);
		der_put_hdr(&w, 0x86, id_len);	/* uniformResourceIdentifier */
		der_wrap(&w, 0x30, m2);
		der_wrap(&w, 0x04, m2);
		der_put(&w, oid_san, sizeof(oid_san));
		der_wrap(&w, 0x30, m2);
	}
	m2 = w.pos;
	der_put(&w, ski, sizeof(ski));
	der_put_hdr(&w, 0x04, sizeof(ski));
	der_wrap(&w, 0x04, m2);
	der_put(&w, oid_ski, sizeof(oid_ski));
	der_wrap(&w, 0x30, m2);
	der_wrap(&w, 0x30, m);
	der_wrap(&w, 0xa3, m);
	der_put(&w, spki, spki_len);
	/* subject: CN=dev_id */
	m = w.pos;
	der_put(&w, dev_id, id_len);
	der_put_hdr(&w, printable(dev_id) ? 0x13 : 0x0c, id_len);
	der_put(&w, tag_cn, sizeof(tag_cn));
	der_wrap(&w, 0x30, m);
	der_wrap(&w, 0x31, m);
	der_wrap(&w, 0x30, m);
	m = w.pos;
	if (!der_put_time(&w, not_after) || !der_put_time(&w, not_before)) {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	der_wrap(&w, 0x30, m);
	der_put(&w, ca->dn, ca->dn_len);
	der_put(&w, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256));
	der_put(&w, serial, sizeof(serial));	/* positive, minimal */
	der_put_hdr(&w, 0x02, sizeof(serial));
	der_put(&w, version_v3, sizeof(version_v3));
	der_wrap(&w, 0x30, cap);
	if (w.bad) {
		r = KDC_ERR_TOO_LARGE;	/* cap above is wrong */
		goto out;
	}
	if ((r = crypto_sign_tbs(ca, buf + w.pos, cap - w.pos, &cert,
	    &cert_len)) != KDC_OK)
		goto out;
	if ((spki_copy = kdc_malloc(spki_len)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	memcpy(spki_copy, spki, spki_len);
	memset(out, 0, sizeof(*out));
	out->cert = cert;
	out->cert_len = cert_len;
	out->spki = spki_copy;
	out->spki_len = spki_len;
	kdc_hex_encode(serial, sizeof(serial), out->serial);
	cert = NULL;
	spki_copy = NULL;
	r = KDC_OK;
out:
	kdc_free(buf);
	kdc_free(cert);
	kdc_free(spki_copy);
	return r;
}

/* A PEM request (`iotkdc cert sign` takes files as openssl and certtool
 * write them, text before the block included) as DER, gnutls_malloc'd. */
static kdc_err
csr_pem_decode(const uint8_t *pem, size_t len, gnutls_datum_t *der)
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)pem, (unsigned)len };

	if (gnutls_pem_base64_decode2("NEW CERTIFICATE REQUEST", &in,
	    der) == 0 || gnutls_pem_base64_decode2("CERTIFICATE REQUEST", &in,
	    der) == 0)
		return KDC_OK;
	return KDC_ERR_MALFORMED;
}

kdc_err
kdc_ca_sign_csr(struct kdc_ca *ca, const uint8_t *csr, size_t csr_len,
    const char *dev_id, int64_t not_before, int64_t not_after,
    struct kdc_issued *out)
{
	gnutls_datum_t der = { NULL, 0 };
	struct kdc_csr c;
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if (ca == NULL || (csr == NULL && csr_len > 0) ||
	    not_after <= not_before)
		return KDC_ERR_INVALID_ARG;
	if ((r = dev_id_check(dev_id)) != KDC_OK)
		return r;
	if (csr_len > KDC_CSR_MAX)
		return KDC_ERR_TOO_LARGE;
	if (csr_len == 0)
		return KDC_ERR_MALFORMED;
	if (crypto_is_pem(csr, csr_len)) {
		if ((r = csr_pem_decode(csr, csr_len, &der)) != KDC_OK)
			return r;
		csr = der.data;
		csr_len = der.size;
	}
	/* the key before the signature: no point verifying with a key we
	 * will refuse anyway */
	if ((r = kdc_csr_parse(csr, csr_len, &c)) == KDC_OK &&
	    (r = kdc_csr_verify(&c)) == KDC_OK)
		r = sign_spki(ca, c.spki, c.spki_len, dev_id, false,
		    not_before, not_after, out);
	gnutls_free(der.data);
	return r;
}

kdc_err
kdc_ca_sign_spki(struct kdc_ca *ca, const uint8_t *spki, size_t spki_len,
    const char *dev_id, int64_t not_before, int64_t not_after,
    struct kdc_issued *out)
{
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if (ca == NULL || spki == NULL || not_after <= not_before)
		return KDC_ERR_INVALID_ARG;
	if ((r = dev_id_check(dev_id)) != KDC_OK)
		return r;
	/* canonical, on the curve, an accepted key */
	if ((r = kdc_spki_check(spki, spki_len, NULL)) != KDC_OK)
		return r;
	return sign_spki(ca, spki, spki_len, dev_id, false, not_before,
	    not_after, out);
}

kdc_err
kdc_ca_sign_ocf_identity(struct kdc_ca *ca, const uint8_t *csr,
    size_t csr_len, const char *uuid, int64_t not_before, int64_t not_after,
    struct kdc_issued *out)
{
	gnutls_datum_t der = { NULL, 0 };
	struct kdc_csr c;
	char want[5 + 36 + 1], cn[5 + 36 + 2];
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if (ca == NULL || csr == NULL || uuid == NULL || strlen(uuid) != 36 ||
	    not_after <= not_before)
		return KDC_ERR_INVALID_ARG;
	if (csr_len > KDC_CSR_MAX)
		return KDC_ERR_TOO_LARGE;
	/* IoTivity's /oic/sec/csr says PEM by default */
	if (crypto_is_pem(csr, csr_len)) {
		if ((r = csr_pem_decode(csr, csr_len, &der)) != KDC_OK)
			return r;
		csr = der.data;
		csr_len = der.size;
	}
	if ((r = kdc_csr_parse(csr, csr_len, &c)) != KDC_OK)
		goto out;
	if (c.alg != KDC_KEY_P256) {
		r = KDC_ERR_UNSUPPORTED_KEY;
		goto out;
	}
	if ((r = kdc_csr_verify(&c)) != KDC_OK)
		goto out;
	snprintf(want, sizeof(want), "uuid:%s", uuid);
	r = kdc_csr_cn(&c, cn, sizeof(cn));
	if (r == KDC_ERR_NOT_FOUND || (r == KDC_OK && strcmp(cn, want) != 0))
		r = KDC_ERR_DENIED;
	if (r == KDC_OK)
		r = sign_spki(ca, c.spki, c.spki_len, want, true, not_before,
		    not_after, out);
out:
	gnutls_free(der.data);
	return r;
}
