/*
 * est.c: EST-coaps (RFC 9148) on the Bootstrap Server's endpoint
 * (lwm2m.h kdc_est_attach(); protocols/lwm2m.md §2.4: a device enrolls
 * its operational certificate over the DTLS session of its manufacturer
 * credential, then re-enrolls over the session of that certificate).
 *
 * Glue only (DESIGN §2): bound the request, decide who may ask, call
 * core/ (kdc_core_cert_sign(): the same issuance path as `cert sign`),
 * map the result. Every refusal is an "est.enroll" audit record.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "crypto/codec.h"
#include "lwm2m/lwm2m.h"
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
	/* XXX a manufacturer certificate's own key is not in its row (the
	 * chain is verified at each handshake) and coap.h does not expose
	 * the peer's certificate: that key is caught only if it is also
	 * known as a credential below. */
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
	int cf = cert_format(req->accept);
	char why[256];
	kdc_err r, ar;

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
	if ((r = kdc_core_cert_sign(core, KDC_LWM2M_ACTOR, auth->dev_id,
	    req->payload, req->payload_len, 0, &cred_id, &cert, &cert_len)) !=
	    KDC_OK) {
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
	snprintf(why, sizeof(why), "by cred=%" PRId64 " (%s %s): cred=%"
	    PRId64 " cf=%d", auth->cred_id, kdc_cred_kind_str(auth->kind),
	    kdc_cred_type_str(auth->type), cred_id, cf);
	goto audit;
refused:
	resp->code = est_code(r);
	kdc_log_debug("peer=%s %s refused: %s", kdc_coap_peer_addr(peer), op,
	    why);
audit:
	ar = kdc_core_audit(core, KDC_LWM2M_ACTOR, "est.enroll", subject, r,
	    auth == NULL || auth->dev_id[0] == '\0', "%s: %s", op, why);
	if (ar != KDC_OK)
		kdc_log_err_r(ar, "audit append failed action=est.enroll");
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
	    (r = kdc_coap_route(c, ep, KDC_COAP_GET, EST_PREFIX "crl",
	    crl_get, core)) != KDC_OK)
		return r;
	return KDC_OK;
}
