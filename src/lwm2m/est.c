/*
 * est.c: EST-coaps (RFC 9148) on the Bootstrap Server's endpoint
 * (lwm2m.h kdc_est_attach(); protocols/lwm2m.md §2.4: a device enrolls
 * its operational certificate over the DTLS session of its manufacturer
 * credential, then re-enrolls over the session of that certificate).
 *
 * Glue only (DESIGN §2): bound the request, decide who may ask, call
 * core/ (kdc_core_cert_enroll(): the issuance path of `cert sign`, but a
 * certificate that replaces an issued one is pending until the device
 * first uses it), map the result. Every refusal is an "est.enroll" audit
 * record; a success is core's "cert.issue" record, ending "est=sen|sren|
 * skg by cred=N (kind type)": one record and one commit per enrollment.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/alloc.h"
#include "core/log.h"
#include "crypto/codec.h"
#include "lwm2m/lwm2m.h"
#include "lwm2m/codec.h"
#include "lwm2m/lwm2m_int.h"

#define EST_PREFIX	".well-known/est/"

/*
 * The engine copies a response payload when the handler has returned
 * (coap.h: borrowed until then, msg.c resp_fill() right after), and one
 * engine runs on one thread, one handler at a time: a per-thread buffer
 * holds it until the next handler on that thread. Sized for a PKCS#7
 * around one KDC_CERT_MAX certificate.
 */
#define EST_OUT_MAX	(KDC_CERT_MAX + 256)
static _Thread_local uint8_t est_out[EST_OUT_MAX];

/*
 * The /skg response (multipart-core around a PKCS#8 private key and its
 * certificate) is a secret: it has its own per-thread buffer, wiped by
 * the next EST handler on this thread (est_wipe()), since the engine
 * copies it only after the handler has returned.
 */
#define SKG_OUT_MAX	(KDC_PRIVKEY_MAX + KDC_CERT_MAX + 32)
static _Thread_local uint8_t skg_out[SKG_OUT_MAX];
static _Thread_local size_t skg_used;

static void
est_wipe(void)
{
	if (skg_used > 0) {
		kdc_wipe(skg_out, skg_used);
		skg_used = 0;
	}
}

/*
 * RFC 7030 §4.5.2 CsrAttrs: SEQUENCE { ecdsa-with-SHA256,
 * Attribute { id-ecPublicKey, SET { secp256r1 } } }: "sign with
 * ECDSA-SHA256, use a P-256 key" (the §4.5.2 example, with P-256).
 */
static const uint8_t csrattrs[] = {
	0x30, 0x21,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
	0x30, 0x15,
	0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x31, 0x0a,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
};

/* kdc_err -> CoAP code for EST (RFC 9148 §4.5, Table 4). */
static uint8_t
est_code(kdc_err r)
{
	switch (r) {
	case KDC_ERR_TRUNCATED:
	case KDC_ERR_MALFORMED:
	case KDC_ERR_TRAILING:
	case KDC_ERR_INVALID_ARG:
	case KDC_ERR_BAD_SIGNATURE:
	case KDC_ERR_UNSUPPORTED_KEY:
		return KDC_COAP_BAD_REQUEST;
	case KDC_ERR_TOO_LARGE:
		return KDC_COAP_TOO_LARGE;
	case KDC_ERR_UNSUPPORTED:
		return KDC_COAP_UNSUPPORTED_CF;
	case KDC_ERR_UNKNOWN_DEVICE:
	case KDC_ERR_REVOKED:
	case KDC_ERR_EXPIRED:
	case KDC_ERR_NOT_YET_VALID:
	case KDC_ERR_WRONG_TYPE:
	case KDC_ERR_DENIED:
	case KDC_ERR_UNKNOWN_PROFILE:
		return KDC_COAP_FORBIDDEN;
	case KDC_ERR_STORE_BUSY:
		return KDC_COAP_UNAVAILABLE;
	default:
		return KDC_COAP_INTERNAL;
	}
}

/* Copy n bytes to the response (est_out). */
static kdc_err
resp_set(struct kdc_coap_resp *resp, uint8_t code, int cf, const uint8_t *p,
    size_t n)
{
	if (n > sizeof(est_out))
		return KDC_ERR_TOO_LARGE;
	memcpy(est_out, p, n);
	resp->code = code;
	resp->content_format = cf;
	resp->payload = est_out;
	resp->payload_len = n;
	return KDC_OK;
}

/* A certificate (DER) as the client asked: 287 as is, 281 in PKCS#7. */
static kdc_err
resp_cert(struct kdc_coap_resp *resp, uint8_t code, int cf,
    const uint8_t *der, size_t len)
{
	const uint8_t *ders[1] = { der };
	size_t lens[1] = { len };
	uint8_t *p7 = NULL;
	size_t p7_len = 0;
	kdc_err r;

	if (cf == KDC_CF_PKIX_CERT)
		return resp_set(resp, code, cf, der, len);
	if ((r = kdc_pkcs7_certs(ders, lens, 1, &p7, &p7_len)) != KDC_OK)
		return r;
	r = resp_set(resp, code, KDC_CF_PKCS7_CERTS, p7, p7_len);
	kdc_free(p7);
	return r;
}

/* Accept of a certificate response: none or 281 -> 281 (RFC 9148 §4.3:
 * "the server SHOULD choose format 281"), 287 -> 287, else -1. */
static int
cert_format(int accept)
{
	if (accept == KDC_CF_NONE || accept == KDC_CF_PKCS7_CERTS)
		return KDC_CF_PKCS7_CERTS;
	if (accept == KDC_CF_PKIX_CERT)
		return KDC_CF_PKIX_CERT;
	return -1;
}

/* ---- GET crts, GET att --------------------------------------------------- */

static void
crts_get(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_core *core = arg;
	char *pem = NULL;
	uint8_t *der = NULL, *spki = NULL;
	size_t pem_len = 0, der_len = 0, spki_len = 0;
	int cf = cert_format(req->accept);
	kdc_err r;

	est_wipe();

	if (cf < 0) {
		kdc_log_debug("peer=%s crts Accept=%d",
		    kdc_coap_peer_addr(peer), req->accept);
		resp->code = KDC_COAP_NOT_ACCEPTABLE;
		return;
	}
	if ((r = kdc_core_ca_pem(core, &pem, &pem_len)) != KDC_OK ||
	    (r = kdc_cert_pem_leaf(pem, pem_len, &der, &der_len, &spki,
	    &spki_len)) != KDC_OK ||
	    (r = resp_cert(resp, KDC_COAP_CONTENT, cf, der, der_len)) !=
	    KDC_OK) {
		kdc_log_err_r(r, "CA certificate for crts");
		resp->code = KDC_COAP_INTERNAL;
	}
	kdc_free(pem);
	kdc_free(der);
	kdc_free(spki);
}

static void
att_get(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	est_wipe();
	(void)arg;
	(void)peer;
	if (req->accept != KDC_CF_NONE && req->accept != KDC_CF_CSRATTRS) {
		resp->code = KDC_COAP_NOT_ACCEPTABLE;
		return;
	}
	(void)resp_set(resp, KDC_COAP_CONTENT, KDC_CF_CSRATTRS, csrattrs,
	    sizeof(csrattrs));
}

/* ---- POST sen, POST sren ------------------------------------------------- */

/*
 * Who may (re-)enroll on this session. sen: the device's manufacturer
 * credential (first enrollment). sren: its current operational
 * certificate, still issued now (superseded or revoked since the
 * handshake: refused). *mfg gets the credential row (for its key).
 */
static kdc_err
enroll_allowed(struct kdc_core *core, const struct kdc_coap_auth *auth,
    bool re, struct kdc_cred **mfg, char *why, size_t why_len)
{
	struct kdc_cred *cred = NULL;
	kdc_err r;

	*mfg = NULL;
	if (auth == NULL || auth->dev_id[0] == '\0' || auth->cred_id == 0) {
		snprintf(why, why_len, "not authenticated");
		return KDC_ERR_DENIED;
	}
	if (!re && auth->kind != KDC_KIND_MANUFACTURER) {
		snprintf(why, why_len, "sen needs the manufacturer "
		    "credential, cred=%" PRId64 " is %s", auth->cred_id,
		    kdc_cred_kind_str(auth->kind));
		return KDC_ERR_WRONG_TYPE;
	}
	if (re && (auth->kind != KDC_KIND_OPERATIONAL ||
	    auth->type != KDC_TYPE_X509)) {
		snprintf(why, why_len, "sren needs the operational "
		    "certificate, cred=%" PRId64 " is %s %s", auth->cred_id,
		    kdc_cred_kind_str(auth->kind),
		    kdc_cred_type_str(auth->type));
		return KDC_ERR_WRONG_TYPE;
	}
	if ((r = kdc_store_cred_get(kdc_core_store(core), auth->cred_id,
	    &cred)) != KDC_OK) {
		snprintf(why, why_len, "cred=%" PRId64 ": %s", auth->cred_id,
		    kdc_err_str(r));
		return r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
	}
	if (cred->device != auth->device || cred->status != KDC_CRED_ISSUED) {
		snprintf(why, why_len, "cred=%" PRId64 " is %s", auth->cred_id,
		    kdc_cred_status_str(cred->status));
		r = cred->status == KDC_CRED_EXPIRED ? KDC_ERR_EXPIRED :
		    KDC_ERR_REVOKED;
		kdc_cred_free(cred);
		return r;
	}
	*mfg = cred;
	return KDC_OK;
}

/*
 * A key the KDC knows already may not be certified again for this
 * device: the manufacturer key of this session (an RPK; a manufacturer
 * certificate's key is not stored, XXX see below), any credential of
 * another device, any manufacturer credential, a revoked key. The same
 * device's own live operational key may be re-certified (RFC 7030 §4.2.2
 * lets a re-enrollment keep its key).
 */
static kdc_err
key_allowed(struct kdc_core *core, const struct kdc_coap_auth *auth,
    const struct kdc_cred *mine, const uint8_t *spki, size_t spki_len,
    char *why, size_t why_len)
{
	struct kdc_cred *cred = NULL;
	uint8_t fp[32];
	kdc_err r;

	if (mine->kind == KDC_KIND_MANUFACTURER && mine->spki != NULL &&
	    mine->spki_len == spki_len &&
	    memcmp(mine->spki, spki, spki_len) == 0) {
		snprintf(why, why_len, "CSR key is the manufacturer key of "
		    "cred=%" PRId64, mine->id);
		return KDC_ERR_DENIED;
	}
	/* a manufacturer certificate's own key is not in its row (the
	 * chain is verified at each handshake): the handshake gives it */
	if (auth->kind == KDC_KIND_MANUFACTURER && auth->spki_len > 0 &&
	    auth->spki_len == spki_len &&
	    memcmp(auth->spki, spki, spki_len) == 0) {
		snprintf(why, why_len, "CSR key is the manufacturer key of "
		    "cred=%" PRId64, auth->cred_id);
		return KDC_ERR_DENIED;
	}
	kdc_sha256(spki, spki_len, fp);
	r = kdc_store_cred_get_by_spki_fp(kdc_core_store(core), fp, &cred);
	if (r == KDC_ERR_NOT_FOUND)
		return KDC_OK;
	if (r != KDC_OK) {
		snprintf(why, why_len, "key lookup: %s", kdc_err_str(r));
		return r;
	}
	r = KDC_OK;
	if (cred->device != auth->device) {
		snprintf(why, why_len, "CSR key is a key of another device "
		    "(cred=%" PRId64 ")", cred->id);
		r = KDC_ERR_DENIED;
	} else if (cred->kind == KDC_KIND_MANUFACTURER) {
		snprintf(why, why_len, "CSR key is the manufacturer key of "
		    "cred=%" PRId64, cred->id);
		r = KDC_ERR_DENIED;
	} else if (cred->status == KDC_CRED_REVOKED) {
		snprintf(why, why_len, "CSR key is the key of revoked "
		    "cred=%" PRId64, cred->id);
		r = KDC_ERR_REVOKED;
	}
	kdc_cred_free(cred);
	return r;
}

static void
enroll(struct kdc_core *core, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp, bool re)
{
	const struct kdc_coap_auth *auth = kdc_coap_peer_auth(peer);
	const char *op = re ? "sren" : "sen";
	const char *subject;
	struct kdc_cred *mine = NULL;
	uint8_t *spki = NULL, *cert = NULL;
	size_t spki_len = 0, cert_len = 0;
	int64_t cred_id = 0;
	bool pending = false;
	int cf = cert_format(req->accept);
	char why[256], note[128];
	kdc_err r, ar;

	est_wipe();
	why[0] = '\0';
	subject = auth != NULL && auth->dev_id[0] != '\0' ? auth->dev_id :
	    kdc_coap_peer_addr(peer);
	if ((r = enroll_allowed(core, auth, re, &mine, why, sizeof(why))) !=
	    KDC_OK)
		goto refused;
	if (req->content_format != KDC_CF_PKCS10) {
		r = KDC_ERR_UNSUPPORTED;
		snprintf(why, sizeof(why), "Content-Format %d, want %d",
		    req->content_format, KDC_CF_PKCS10);
		goto refused;
	}
	if (cf < 0) {
		resp->code = KDC_COAP_NOT_ACCEPTABLE;
		r = KDC_ERR_UNSUPPORTED;
		snprintf(why, sizeof(why), "Accept %d", req->accept);
		goto audit;
	}
	if ((r = kdc_csr_spki(req->payload, req->payload_len, &spki,
	    &spki_len)) != KDC_OK) {
		snprintf(why, sizeof(why), "CSR of %zu bytes: %s",
		    req->payload_len, kdc_err_str(r));
		goto refused;
	}
	if ((r = key_allowed(core, auth, mine, spki, spki_len, why,
	    sizeof(why))) != KDC_OK)
		goto refused;
	/* live on first use while the device has an issued one: a lost
	 * answer leaves the device its current certificate. Success is one
	 * record, core's cert.issue, ending with this note. */
	snprintf(note, sizeof(note), "est=%s by cred=%" PRId64 " (%s %s) "
	    "cf=%d", op, auth->cred_id, kdc_cred_kind_str(auth->kind),
	    kdc_cred_type_str(auth->type), cf);
	if ((r = kdc_core_cert_enroll(core, KDC_LWM2M_ACTOR, auth->dev_id,
	    req->payload, req->payload_len, note, &cred_id, &cert, &cert_len,
	    &pending)) != KDC_OK) {
		snprintf(why, sizeof(why), "issue: %s", kdc_err_str(r));
		goto refused;
	}
	/* RFC 9148 §4.5: 2.04 with the certificate */
	if ((r = resp_cert(resp, KDC_COAP_CHANGED, cf, cert, cert_len)) !=
	    KDC_OK) {
		/* issued but not deliverable: the device retries (the next
		 * issuance supersedes this one) */
		kdc_log_err_r(r, "dev=%s cred=%" PRId64 ": response", subject,
		    cred_id);
		snprintf(why, sizeof(why), "cred=%" PRId64 " issued, response "
		    "failed: %s", cred_id, kdc_err_str(r));
		resp->code = KDC_COAP_INTERNAL;
		goto audit;
	}
	kdc_log_debug("dev=%s %s: cred=%" PRId64 "%s", subject, op, cred_id,
	    pending ? " pending until first use" : "");
	goto done;
refused:
	resp->code = est_code(r);
	kdc_log_debug("peer=%s %s refused: %s", kdc_coap_peer_addr(peer), op,
	    why);
audit:
	ar = kdc_core_audit(core, KDC_LWM2M_ACTOR, "est.enroll", subject, r,
	    auth == NULL || auth->dev_id[0] == '\0', "%s: %s", op, why);
	if (ar != KDC_OK)
		kdc_log_err_r(ar, "audit append failed action=est.enroll");
done:
	kdc_cred_free(mine);
	kdc_free(spki);
	kdc_free(cert);
}

static void
sen_post(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	enroll(arg, peer, req, resp, false);
}

static void
sren_post(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	enroll(arg, peer, req, resp, true);
}

/* ---- POST skg ------------------------------------------------------------ */

/*
 * The CSR of a /skg request only proves the request (RFC 9148 §5.8: the
 * server ignores its key): it must carry a valid self-signature and name
 * the peer's own device in its subject CN (4.03 for another device).
 * XXX the signature check uses GnuTLS here; it belongs in crypto/est.c
 * (a kdc_csr_verify()) next to kdc_csr_spki().
 */
static kdc_err
skg_csr_check(const char *dev_id, const uint8_t *csr, size_t len, char *why,
    size_t why_len)
{
	gnutls_x509_crq_t crq;
	gnutls_datum_t d;
	char cn[KDC_DEVID_MAX + 2];
	size_t cn_len = sizeof(cn);
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	kdc_err r;
	int g;

	if ((r = kdc_csr_spki(csr, len, &spki, &spki_len)) != KDC_OK) {
		snprintf(why, why_len, "CSR of %zu bytes: %s", len,
		    kdc_err_str(r));
		return r;
	}
	kdc_free(spki);
	if (gnutls_x509_crq_init(&crq) < 0) {
		snprintf(why, why_len, "gnutls_x509_crq_init");
		return KDC_ERR_NOMEM;
	}
	d.data = (unsigned char *)(uintptr_t)csr;
	d.size = (unsigned)len;
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER) < 0) {
		snprintf(why, why_len, "CSR of %zu bytes: %s", len,
		    kdc_err_str(KDC_ERR_MALFORMED));
		r = KDC_ERR_MALFORMED;
	} else if (gnutls_x509_crq_verify(crq, 0) < 0) {
		snprintf(why, why_len, "CSR signature does not verify");
		r = KDC_ERR_BAD_SIGNATURE;
	} else if ((g = gnutls_x509_crq_get_dn_by_oid(crq,
	    GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len)) < 0 ||
	    cn_len != strlen(dev_id) || memcmp(cn, dev_id, cn_len) != 0) {
		if (g < 0)
			snprintf(why, why_len, "CSR has no subject CN, want "
			    "CN=%s", dev_id);
		else
			snprintf(why, why_len, "CSR names another device "
			    "(CN=%.*s)", (int)(cn_len < 64 ? cn_len : 64), cn);
		r = KDC_ERR_DENIED;
	}
	gnutls_x509_crq_deinit(crq);
	return r;
}

/*
 * POST skg (RFC 9148 §5.8): enroll with a key pair the KDC makes, for
 * devices too weak to make their own. Who may ask: as sen over the
 * manufacturer credential, as sren over the current operational
 * certificate. Answers 2.04 multipart-core (62) [284 PKCS#8 private key,
 * 287 certificate]. The private key is not kept by the KDC.
 */
static void
skg_post(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_core *core = arg;
	const struct kdc_coap_auth *auth = kdc_coap_peer_auth(peer);
	const char *subject;
	struct kdc_cred *mine = NULL;
	uint8_t pkcs8[KDC_PRIVKEY_MAX], *cert = NULL;
	size_t pkcs8_len = sizeof(pkcs8), cert_len = 0, out_len;
	int64_t cred_id = 0;
	bool re, pending = false;
	char why[256], note[128];
	kdc_err r, ar;

	est_wipe();
	why[0] = '\0';
	subject = auth != NULL && auth->dev_id[0] != '\0' ? auth->dev_id :
	    kdc_coap_peer_addr(peer);
	re = auth != NULL && auth->kind == KDC_KIND_OPERATIONAL;
	if ((r = enroll_allowed(core, auth, re, &mine, why, sizeof(why))) !=
	    KDC_OK)
		goto refused;
	if (req->content_format != KDC_CF_PKCS10) {
		r = KDC_ERR_UNSUPPORTED;
		snprintf(why, sizeof(why), "Content-Format %d, want %d",
		    req->content_format, KDC_CF_PKCS10);
		goto refused;
	}
	if (req->accept != KDC_CF_NONE &&
	    req->accept != KDC_CF_MULTIPART_CORE) {
		resp->code = KDC_COAP_NOT_ACCEPTABLE;
		r = KDC_ERR_UNSUPPORTED;
		snprintf(why, sizeof(why), "Accept %d", req->accept);
		goto audit;
	}
	if ((r = skg_csr_check(auth->dev_id, req->payload, req->payload_len,
	    why, sizeof(why))) != KDC_OK)
		goto refused;
	snprintf(note, sizeof(note), "est=skg by cred=%" PRId64 " (%s %s)",
	    auth->cred_id, kdc_cred_kind_str(auth->kind),
	    kdc_cred_type_str(auth->type));
	if ((r = kdc_core_keypair_enroll(core, KDC_LWM2M_ACTOR, auth->dev_id,
	    note, &cred_id, pkcs8, &pkcs8_len, &cert, &cert_len, &pending)) !=
	    KDC_OK) {
		snprintf(why, sizeof(why), "keygen/issue: %s", kdc_err_str(r));
		goto refused;
	}
	{
		static const int cfs[2] = { KDC_CF_PKCS8, KDC_CF_PKIX_CERT };
		const uint8_t *parts[2] = { pkcs8, cert };
		size_t lens[2] = { pkcs8_len, cert_len };

		out_len = sizeof(skg_out);
		r = kdc_multipart_encode(cfs, parts, lens, 2, skg_out,
		    &out_len);
	}
	if (r != KDC_OK) {
		/* issued but not deliverable: the device retries (the next
		 * issuance supersedes this one) */
		kdc_log_err_r(r, "dev=%s cred=%" PRId64 ": skg response",
		    subject, cred_id);
		kdc_wipe(skg_out, sizeof(skg_out));
		snprintf(why, sizeof(why), "cred=%" PRId64 " issued, "
		    "response failed: %s", cred_id, kdc_err_str(r));
		resp->code = KDC_COAP_INTERNAL;
		goto audit;
	}
	skg_used = out_len;
	resp->code = KDC_COAP_CHANGED;
	resp->content_format = KDC_CF_MULTIPART_CORE;
	resp->payload = skg_out;
	resp->payload_len = out_len;
	kdc_log_debug("dev=%s skg: cred=%" PRId64 "%s", subject, cred_id,
	    pending ? " pending until first use" : "");
	goto done;		/* core's cert.issue record tells it */
refused:
	resp->code = est_code(r);
	kdc_log_debug("peer=%s skg refused: %s", kdc_coap_peer_addr(peer),
	    why);
audit:
	ar = kdc_core_audit(core, KDC_LWM2M_ACTOR, "est.enroll", subject, r,
	    auth == NULL || auth->dev_id[0] == '\0', "skg: %s", why);
	if (ar != KDC_OK)
		kdc_log_err_r(ar, "audit append failed action=est.enroll");
done:
	kdc_wipe(pkcs8, sizeof(pkcs8));
	kdc_cred_free(mine);
	kdc_free(cert);
}

/*
 * GET crl: the CA's current CRL, DER (the same as https://HOST/crl).
 * application/pkix-crl has no CoAP Content-Format number, so this is
 * application/octet-stream (42). It must fit one response (no Block2 yet):
 * est_out holds some two hundred entries.
 */
static void
crl_get(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_core *core = arg;
	uint8_t *der = NULL;
	size_t len = 0;
	kdc_err r;

	est_wipe();

	(void)req;
	if ((r = kdc_core_crl(core, &der, &len)) != KDC_OK ||
	    (r = resp_set(resp, KDC_COAP_CONTENT, KDC_CF_OCTET_STREAM, der,
	    len)) != KDC_OK) {
		kdc_log_err_r(r, "CRL for peer=%s", kdc_coap_peer_addr(peer));
		resp->code = est_code(r);
	}
	kdc_free(der);
}

/* ---- lifetime ------------------------------------------------------------ */

kdc_err
kdc_est_attach(struct kdc_coap *c, struct kdc_core *core, const char *endpoint)
{
	const char *ep = endpoint != NULL ? endpoint : "kdc";
	kdc_err r;

	if (c == NULL || core == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_coap_route(c, ep, KDC_COAP_GET, EST_PREFIX "crts",
	    crts_get, core)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_GET, EST_PREFIX "att",
	    att_get, core)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_POST, EST_PREFIX "sen",
	    sen_post, core)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_POST, EST_PREFIX "sren",
	    sren_post, core)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_POST, EST_PREFIX "skg",
	    skg_post, core)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_GET, EST_PREFIX "crl",
	    crl_get, core)) != KDC_OK)
		return r;
	return KDC_OK;
}
