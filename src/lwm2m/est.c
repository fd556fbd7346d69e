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
 *
 * An enrollment (sen, sren, skg: a CSR check, an ECDSA signature and a
 * commit) is a job: with a worker pool it runs on a worker with the
 * worker's own core and is answered later (RFC 9148 §4.7: empty ACK,
 * then the 2.04 as a Confirmable response), so the engine thread goes on
 * with handshakes and other requests meanwhile; without a pool, or for a
 * non-confirmable request, the same job runs in the handler.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/pool.h"
#include "crypto/codec.h"
#include "lwm2m/lwm2m.h"
#include "lwm2m/codec.h"
#include "lwm2m/lwm2m_int.h"

#define EST_PREFIX	".well-known/est/"

/*
 * The engine copies a response payload when the handler has returned
 * (coap.h: borrowed until then, msg.c resp_fill() right after), and one
 * engine runs on one thread, one handler at a time: a per-thread buffer
 * holds the answers of the GET handlers until the next handler on that
 * thread.
 */
#define EST_OUT_MAX	(KDC_CERT_MAX + 256)
static _Thread_local uint8_t est_out[EST_OUT_MAX];

/* A job's answer: a certificate in PKCS#7, or /skg's multipart-core
 * around a PKCS#8 private key and its certificate (a secret: wiped). */
#define JOB_OUT_MAX	(KDC_PRIVKEY_MAX + KDC_CERT_MAX + 256)

/* Seconds a client waits after a 5.03 when every worker is busy and the
 * queue is full (RFC 9148 §4.7: 5.03 with Max-Age, then resend). */
#define EST_RETRY_AFTER	2

struct kdc_est {
	struct kdc_coap	*coap;
	struct kdc_core	*core;		/* the engine thread's */
	struct kdc_pool	*pool;		/* NULL: enroll in the handler */
	struct est_job	*last;		/* run in a handler, answer borrowed
					 * by the engine until the next one */
};

enum est_op { EST_SEN, EST_SREN, EST_SKG };

/*
 * One enrollment: what the request said and who asked, copied, so a
 * worker needs nothing of the engine's; then the answer.
 */
struct est_job {
	struct kdc_pool_job	 pj;		/* first: the pool's view */
	struct kdc_coap_later	*later;		/* NULL when run in the handler */
	enum est_op		 op;
	struct kdc_coap_auth	 auth;
	char			 peer[KDC_COAP_ADDR_TEXT];
	int			 content_format;
	int			 accept;
	struct kdc_coap_resp	 resp;		/* payload points into out */
	uint8_t			 out[JOB_OUT_MAX];
	size_t			 csr_len;
	uint8_t			 csr[];
};

static void
job_free(struct est_job *j)
{
	if (j == NULL)
		return;
	kdc_wipe(j, sizeof(*j) + j->csr_len);
	kdc_free(j);
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

/* Copy n bytes to the response, in buf (capacity cap). */
static kdc_err
resp_set(struct kdc_coap_resp *resp, uint8_t *buf, size_t cap, uint8_t code,
    int cf, const uint8_t *p, size_t n)
{
	if (n > cap)
		return KDC_ERR_TOO_LARGE;
	memcpy(buf, p, n);
	resp->code = code;
	resp->content_format = cf;
	resp->payload = buf;
	resp->payload_len = n;
	return KDC_OK;
}

/* A certificate (DER) as the client asked: 287 as is, 281 in PKCS#7. */
static kdc_err
resp_cert(struct kdc_coap_resp *resp, uint8_t *buf, size_t cap, uint8_t code,
    int cf, const uint8_t *der, size_t len)
{
	const uint8_t *ders[1] = { der };
	size_t lens[1] = { len };
	uint8_t *p7 = NULL;
	size_t p7_len = 0;
	kdc_err r;

	if (cf == KDC_CF_PKIX_CERT)
		return resp_set(resp, buf, cap, code, cf, der, len);
	if ((r = kdc_pkcs7_certs(ders, lens, 1, &p7, &p7_len)) != KDC_OK)
		return r;
	r = resp_set(resp, buf, cap, code, KDC_CF_PKCS7_CERTS, p7, p7_len);
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

/* The answer of the last job run in a handler was borrowed by the engine
 * until the handler returned: wipe it (it may hold a private key). */
static void
est_release_last(struct kdc_est *e)
{
	job_free(e->last);
	e->last = NULL;
}

/* ---- GET crts, GET att --------------------------------------------------- */

static void
crts_get(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_est *e = arg;
	struct kdc_core *core = e->core;
	char *pem = NULL;
	uint8_t *der = NULL, *spki = NULL;
	size_t pem_len = 0, der_len = 0, spki_len = 0;
	int cf = cert_format(req->accept);
	kdc_err r;

	est_release_last(e);

	if (cf < 0) {
		kdc_log_debug("peer=%s crts Accept=%d",
		    kdc_coap_peer_addr(peer), req->accept);
		resp->code = KDC_COAP_NOT_ACCEPTABLE;
		return;
	}
	if ((r = kdc_core_ca_pem(core, &pem, &pem_len)) != KDC_OK ||
	    (r = kdc_cert_pem_leaf(pem, pem_len, &der, &der_len, &spki,
	    &spki_len)) != KDC_OK ||
	    (r = resp_cert(resp, est_out, sizeof(est_out), KDC_COAP_CONTENT,
	    cf, der, der_len)) !=
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
	est_release_last(arg);
	(void)peer;
	if (req->accept != KDC_CF_NONE && req->accept != KDC_CF_CSRATTRS) {
		resp->code = KDC_COAP_NOT_ACCEPTABLE;
		return;
	}
	(void)resp_set(resp, est_out, sizeof(est_out), KDC_COAP_CONTENT,
	    KDC_CF_CSRATTRS, csrattrs, sizeof(csrattrs));
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

/*
 * sen, sren on a worker or in the handler: who may ask, the CSR's key,
 * issuance (core's cert.issue record), the answer in j->resp.
 */
static void
enroll_run(struct est_job *j, struct kdc_core *core)
{
	const struct kdc_coap_auth *auth = &j->auth;
	bool re = j->op == EST_SREN;
	const char *op = re ? "sren" : "sen";
	const char *subject;
	struct kdc_cred *mine = NULL;
	uint8_t *spki = NULL, *cert = NULL;
	size_t spki_len = 0, cert_len = 0;
	int64_t cred_id = 0;
	bool pending = false;
	int cf = cert_format(j->accept);
	char why[256], note[128];
	kdc_err r, ar;

	why[0] = '\0';
	subject = auth->dev_id[0] != '\0' ? auth->dev_id : j->peer;
	if ((r = enroll_allowed(core, auth, re, &mine, why, sizeof(why))) !=
	    KDC_OK)
		goto refused;
	if (j->content_format != KDC_CF_PKCS10) {
		r = KDC_ERR_UNSUPPORTED;
		snprintf(why, sizeof(why), "Content-Format %d, want %d",
		    j->content_format, KDC_CF_PKCS10);
		goto refused;
	}
	if (cf < 0) {
		j->resp.code = KDC_COAP_NOT_ACCEPTABLE;
		r = KDC_ERR_UNSUPPORTED;
		snprintf(why, sizeof(why), "Accept %d", j->accept);
		goto audit;
	}
	if ((r = kdc_csr_spki(j->csr, j->csr_len, &spki, &spki_len)) !=
	    KDC_OK) {
		snprintf(why, sizeof(why), "CSR of %zu bytes: %s", j->csr_len,
		    kdc_err_str(r));
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
	    j->csr, j->csr_len, note, &cred_id, &cert, &cert_len, &pending)) !=
	    KDC_OK) {
		snprintf(why, sizeof(why), "issue: %s", kdc_err_str(r));
		goto refused;
	}
	/* RFC 9148 §4.5: 2.04 with the certificate */
	if ((r = resp_cert(&j->resp, j->out, sizeof(j->out), KDC_COAP_CHANGED,
	    cf, cert, cert_len)) != KDC_OK) {
		/* issued but not deliverable: the device retries (the next
		 * issuance supersedes this one) */
		kdc_log_err_r(r, "dev=%s cred=%" PRId64 ": response", subject,
		    cred_id);
		snprintf(why, sizeof(why), "cred=%" PRId64 " issued, response "
		    "failed: %s", cred_id, kdc_err_str(r));
		j->resp.code = KDC_COAP_INTERNAL;
		goto audit;
	}
	kdc_log_debug("dev=%s %s: cred=%" PRId64 "%s", subject, op, cred_id,
	    pending ? " pending until first use" : "");
	goto done;
refused:
	j->resp.code = est_code(r);
	kdc_log_debug("peer=%s %s refused: %s", j->peer, op, why);
audit:
	ar = kdc_core_audit(core, KDC_LWM2M_ACTOR, "est.enroll", subject, r,
	    auth->dev_id[0] == '\0', "%s: %s", op, why);
	if (ar != KDC_OK)
		kdc_log_err_r(ar, "audit append failed action=est.enroll");
done:
	kdc_cred_free(mine);
	kdc_free(spki);
	kdc_free(cert);
}

/* ---- POST skg ------------------------------------------------------------ */

/*
 * The CSR of a /skg request only proves the request (RFC 9148 §5.8: the
 * server ignores its key): it must carry a valid self-signature and name
 * the peer's own device in its subject CN (4.03 for another device).
 */
static kdc_err
skg_csr_check(const char *dev_id, const uint8_t *csr, size_t len, char *why,
    size_t why_len)
{
	char cn[KDC_DEVID_MAX + 2];
	struct kdc_csr c;
	kdc_err r;

	if ((r = kdc_csr_parse(csr, len, &c)) != KDC_OK) {
		snprintf(why, why_len, "CSR of %zu bytes: %s", len,
		    kdc_err_str(r));
		return r;
	}
	if ((r = kdc_csr_verify(&c)) != KDC_OK) {
		snprintf(why, why_len, "CSR signature does not verify");
		return r;
	}
	if ((r = kdc_csr_cn(&c, cn, sizeof(cn))) != KDC_OK) {
		snprintf(why, why_len, "CSR has no usable subject CN (%s), "
		    "want CN=%.64s", kdc_err_str(r), dev_id);
		return KDC_ERR_DENIED;
	}
	if (strcmp(cn, dev_id) != 0) {
		bool shown = true;

		/* the peer's bytes go into the audit text: printable only */
		for (const char *p = cn; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				shown = false;
		snprintf(why, why_len, "CSR names another device (CN=%.64s)",
		    shown ? cn : "<not printable>");
		return KDC_ERR_DENIED;
	}
	return KDC_OK;
}

static void
skg_run(struct est_job *j, struct kdc_core *core)
{
	const struct kdc_coap_auth *auth = &j->auth;
	const char *subject;
	struct kdc_cred *mine = NULL;
	uint8_t pkcs8[KDC_PRIVKEY_MAX], *cert = NULL;
	size_t pkcs8_len = sizeof(pkcs8), cert_len = 0, out_len;
	int64_t cred_id = 0;
	bool re, pending = false;
	char why[256], note[128];
	kdc_err r, ar;

	why[0] = '\0';
	subject = auth->dev_id[0] != '\0' ? auth->dev_id : j->peer;
	re = auth->kind == KDC_KIND_OPERATIONAL;
	if ((r = enroll_allowed(core, auth, re, &mine, why, sizeof(why))) !=
	    KDC_OK)
		goto refused;
	if (j->content_format != KDC_CF_PKCS10) {
		r = KDC_ERR_UNSUPPORTED;
		snprintf(why, sizeof(why), "Content-Format %d, want %d",
		    j->content_format, KDC_CF_PKCS10);
		goto refused;
	}
	if (j->accept != KDC_CF_NONE && j->accept != KDC_CF_MULTIPART_CORE) {
		j->resp.code = KDC_COAP_NOT_ACCEPTABLE;
		r = KDC_ERR_UNSUPPORTED;
		snprintf(why, sizeof(why), "Accept %d", j->accept);
		goto audit;
	}
	if ((r = skg_csr_check(auth->dev_id, j->csr, j->csr_len, why,
	    sizeof(why))) != KDC_OK)
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

		out_len = sizeof(j->out);
		r = kdc_multipart_encode(cfs, parts, lens, 2, j->out,
		    &out_len);
	}
	if (r != KDC_OK) {
		/* issued but not deliverable: the device retries (the next
		 * issuance supersedes this one) */
		kdc_log_err_r(r, "dev=%s cred=%" PRId64 ": skg response",
		    subject, cred_id);
		kdc_wipe(j->out, sizeof(j->out));
		snprintf(why, sizeof(why), "cred=%" PRId64 " issued, "
		    "response failed: %s", cred_id, kdc_err_str(r));
		j->resp.code = KDC_COAP_INTERNAL;
		goto audit;
	}
	j->resp.code = KDC_COAP_CHANGED;
	j->resp.content_format = KDC_CF_MULTIPART_CORE;
	j->resp.payload = j->out;
	j->resp.payload_len = out_len;
	kdc_log_debug("dev=%s skg: cred=%" PRId64 "%s", subject, cred_id,
	    pending ? " pending until first use" : "");
	goto done;		/* core's cert.issue record tells it */
refused:
	j->resp.code = est_code(r);
	kdc_log_debug("peer=%s skg refused: %s", j->peer, why);
audit:
	ar = kdc_core_audit(core, KDC_LWM2M_ACTOR, "est.enroll", subject, r,
	    auth->dev_id[0] == '\0', "skg: %s", why);
	if (ar != KDC_OK)
		kdc_log_err_r(ar, "audit append failed action=est.enroll");
done:
	kdc_wipe(pkcs8, sizeof(pkcs8));
	kdc_cred_free(mine);
	kdc_free(cert);
}

/* ---- jobs ---------------------------------------------------------------- */

/* 5.03 with Max-Age (RFC 9148 §4.7): try again in EST_RETRY_AFTER s. */
static void
answer_busy(struct kdc_coap_resp *resp)
{
	resp->code = KDC_COAP_UNAVAILABLE;
	resp->max_age = EST_RETRY_AFTER;
}

/* On a worker (or in the handler): the enrollment the job names. */
static void
job_run(struct kdc_pool_job *pj, struct kdc_core *core)
{
	struct est_job *j = (struct est_job *)pj;

	if (j->op == EST_SKG)
		skg_run(j, core);
	else
		enroll_run(j, core);
}

/* On the engine thread (kdc_pool_drain()): answer and forget the job. A
 * job the pool never ran (it was stopped first) is answered 5.03. */
static void
job_done(struct kdc_pool_job *pj)
{
	struct est_job *j = (struct est_job *)pj;

	if (!pj->ran) {
		memset(&j->resp, 0, sizeof(j->resp));
		j->resp.content_format = KDC_CF_NONE;
		answer_busy(&j->resp);
	}
	kdc_coap_later_answer(j->later, &j->resp);
	job_free(j);
}

static struct est_job *
job_new(struct kdc_coap_peer *peer, const struct kdc_coap_msg *req,
    enum est_op op)
{
	const struct kdc_coap_auth *auth = kdc_coap_peer_auth(peer);
	struct est_job *j;

	if ((j = kdc_calloc(1, sizeof(*j) + req->payload_len)) == NULL)
		return NULL;
	j->pj.run = job_run;
	j->pj.done = job_done;
	j->op = op;
	if (auth != NULL)
		j->auth = *auth;
	snprintf(j->peer, sizeof(j->peer), "%s", kdc_coap_peer_addr(peer));
	j->content_format = req->content_format;
	j->accept = req->accept;
	j->csr_len = req->payload_len;
	if (req->payload_len > 0)
		memcpy(j->csr, req->payload, req->payload_len);
	j->resp.content_format = KDC_CF_NONE;
	return j;
}

/*
 * sen, sren, skg: to a worker, answered later; in the handler without a
 * pool (or when the request cannot wait: non-confirmable). A full queue,
 * or a second enrollment from a session whose first is still running,
 * is answered 5.03 with Max-Age (RFC 9148 §4.7: the client resends).
 */
static void
enroll_post(struct kdc_est *e, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp,
    enum est_op op)
{
	struct est_job *j;
	kdc_err r;

	est_release_last(e);
	if (e->pool != NULL && kdc_coap_peer_laters(peer) > 0) {
		/* one enrollment at a time per session: a device cannot fill
		 * the workers' queue for every other device */
		kdc_log_debug("peer=%s est: an enrollment of this session is "
		    "running: 5.03, Max-Age %d", kdc_coap_peer_addr(peer),
		    EST_RETRY_AFTER);
		answer_busy(resp);
		return;
	}
	if ((j = job_new(peer, req, op)) == NULL) {
		kdc_log_err("peer=%s est: out of memory",
		    kdc_coap_peer_addr(peer));
		resp->code = KDC_COAP_INTERNAL;
		return;
	}
	if (e->pool != NULL && kdc_pool_full(e->pool)) {
		/* only this thread submits: not full now means the submit
		 * below is taken */
		kdc_log_warn("peer=%s est: every worker busy and %d waiting: "
		    "5.03, Max-Age %d", j->peer, KDC_POOL_QUEUE_MAX,
		    EST_RETRY_AFTER);
		job_free(j);
		answer_busy(resp);
		return;
	}
	if (e->pool != NULL && (j->later = kdc_coap_defer(peer)) != NULL) {
		if ((r = kdc_pool_submit(e->pool, &j->pj)) == KDC_OK)
			return;		/* job_done() answers */
		/* not full (above) and the pool outlives the engine's run:
		 * not expected; answered now */
		kdc_log_warn_r(r, "peer=%s est: pool refused the job: 5.03",
		    j->peer);
		kdc_coap_later_cancel(j->later);
		job_free(j);
		answer_busy(resp);
		return;
	}
	job_run(&j->pj, e->core);
	*resp = j->resp;	/* payload in j->out until the next handler */
	e->last = j;
}

static void
sen_post(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	enroll_post(arg, peer, req, resp, EST_SEN);
}

static void
sren_post(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	enroll_post(arg, peer, req, resp, EST_SREN);
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
	enroll_post(arg, peer, req, resp, EST_SKG);
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
	struct kdc_est *e = arg;
	uint8_t *der = NULL;
	size_t len = 0;
	kdc_err r;

	est_release_last(e);
	(void)req;
	if ((r = kdc_core_crl(e->core, &der, &len)) != KDC_OK ||
	    (r = resp_set(resp, est_out, sizeof(est_out), KDC_COAP_CONTENT,
	    KDC_CF_OCTET_STREAM, der, len)) != KDC_OK) {
		kdc_log_err_r(r, "CRL for peer=%s", kdc_coap_peer_addr(peer));
		resp->code = est_code(r);
	}
	kdc_free(der);
}

/* ---- lifetime ------------------------------------------------------------ */

kdc_err
kdc_est_attach(struct kdc_coap *c, struct kdc_core *core, const char *endpoint,
    struct kdc_pool *pool, struct kdc_est **out)
{
	const char *ep = endpoint != NULL ? endpoint : "kdc";
	struct kdc_est *e;
	kdc_err r;

	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	*out = NULL;
	if (c == NULL || core == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((e = kdc_calloc(1, sizeof(*e))) == NULL)
		return KDC_ERR_NOMEM;
	e->coap = c;
	e->core = core;
	e->pool = pool;
	if ((r = kdc_coap_route(c, ep, KDC_COAP_GET, EST_PREFIX "crts",
	    crts_get, e)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_GET, EST_PREFIX "att",
	    att_get, e)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_POST, EST_PREFIX "sen",
	    sen_post, e)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_POST, EST_PREFIX "sren",
	    sren_post, e)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_POST, EST_PREFIX "skg",
	    skg_post, e)) != KDC_OK ||
	    (r = kdc_coap_route(c, ep, KDC_COAP_GET, EST_PREFIX "crl",
	    crl_get, e)) != KDC_OK)
		goto fail;
	*out = e;
	return KDC_OK;
fail:
	/* routes already made point at e: the engine must not run */
	kdc_free(e);
	return r;
}

void
kdc_est_free(struct kdc_est *e)
{
	if (e == NULL)
		return;
	est_release_last(e);
	kdc_free(e);
}
