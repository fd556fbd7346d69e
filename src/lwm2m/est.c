/*
 * est.c: EST-coaps (RFC 9148) on the Bootstrap Server's endpoint
 * (lwm2m.h kdc_est_attach(); protocols/lwm2m.md §2.4: a device enrolls
 * its operational certificate over the DTLS session of its manufacturer
 * credential, then re-enrolls over the session of that certificate).
 *
 * Glue only (DESIGN §2): bound the request, check its formats, hand it to
 * core (core.h kdc_core_enroll_sign(): who may ask, the signature; then
 * kdc_core_enroll_commit(): issuance), map the result. Every refusal is an
 * "est.enroll" audit record; a success is core's "cert.issue" record,
 * ending "est=sen|sren|skg by cred=N (kind type)": one record per
 * enrollment, one commit per group a worker took together.
 *
 * An enrollment (a CSR verified, a certificate signed, a commit: some
 * 300 µs) is a job: with a worker pool it runs on a worker with the
 * worker's own core and is answered later (RFC 9148 §4.7: empty ACK,
 * then the 2.04 as a Confirmable response), so the engine thread goes on
 * with handshakes and other requests meanwhile; without a pool, or for a
 * non-confirmable request, the same job runs in the handler.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/pool.h"
#include "crypto/codec.h"
#include "lwm2m/lwm2m.h"
#include "lwm2m/codec.h"
#include "lwm2m/lwm2m_int.h"

#define EST_PREFIX	".well-known/est/"

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
};

/*
 * One enrollment: what the request said and who asked, copied, so a
 * worker needs nothing of the engine's; then the answer.
 */
struct est_job {
	struct kdc_pool_job	 pj;		/* first: the pool's view */
	struct kdc_coap_later	*later;		/* NULL when run in the handler */
	struct kdc_enroll	 en;		/* en.csr points at csr */
	char			 peer[KDC_COAP_ADDR_TEXT];
	int			 content_format;
	int			 accept;
	int			 cf;		/* the answer's Content-Format */
	struct kdc_coap_resp	 resp;		/* payload points into out; the
						 * engine releases the job with
						 * it (coap.h) */
	uint8_t			 out[JOB_OUT_MAX];
	size_t			 csr_len;
	uint8_t			 csr[];
};

static void
job_free(struct est_job *j)
{
	if (j == NULL)
		return;
	kdc_enroll_wipe(&j->en);
	kdc_wipe(j, sizeof(*j) + j->csr_len);
	kdc_free(j);
}

/* The engine is done with the job's answer (sent, or given up): the job,
 * its private key and certificate are wiped with it. */
static void
job_release(void *arg)
{
	job_free(arg);
}

/* The job's answer, with the job as the payload's owner. */
static void
job_answer(struct est_job *j, struct kdc_coap_resp *into)
{
	j->resp.release = job_release;
	j->resp.release_arg = j;
	*into = j->resp;
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


/* Copy n bytes to the response, in buf (capacity cap), or in a buffer the
 * response owns when buf is NULL. */
static kdc_err
resp_set(struct kdc_coap_resp *resp, uint8_t *buf, size_t cap, uint8_t code,
    int cf, const uint8_t *p, size_t n)
{
	if (buf == NULL) {
		if ((buf = kdc_coap_resp_alloc(resp, n)) == NULL)
			return KDC_ERR_NOMEM;
		cap = n;
	}
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

	if (cf < 0) {
		kdc_log_debug("peer=%s crts Accept=%d",
		    kdc_coap_peer_addr(peer), req->accept);
		resp->code = KDC_COAP_NOT_ACCEPTABLE;
		return;
	}
	if ((r = kdc_core_ca_pem(core, &pem, &pem_len)) != KDC_OK ||
	    (r = kdc_cert_pem_leaf(pem, pem_len, &der, &der_len, &spki,
	    &spki_len)) != KDC_OK ||
	    (r = resp_cert(resp, NULL, 0, KDC_COAP_CONTENT, cf, der,
	    der_len)) != KDC_OK) {
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
	if (resp_set(resp, NULL, 0, KDC_COAP_CONTENT, KDC_CF_CSRATTRS,
	    csrattrs, sizeof(csrattrs)) != KDC_OK)
		resp->code = KDC_COAP_INTERNAL;
}

/* ---- POST sen, sren, skg ------------------------------------------------ */

/* What the request asks for, before core sees it: the CSR's format and
 * an answer format we can give (*code: the answer if not kdc_coap_code()). */
static kdc_err
formats_ok(struct est_job *j, uint8_t *code)
{
	*code = 0;
	if (j->content_format != KDC_CF_PKCS10) {
		snprintf(j->en.why, sizeof(j->en.why), "Content-Format %d, "
		    "want %d", j->content_format, KDC_CF_PKCS10);
		return KDC_ERR_UNSUPPORTED;
	}
	if (j->cf < 0) {
		snprintf(j->en.why, sizeof(j->en.why), "Accept %d", j->accept);
		*code = KDC_COAP_NOT_ACCEPTABLE;
		return KDC_ERR_UNSUPPORTED;
	}
	return KDC_OK;
}

/* The 2.04: the certificate (sen, sren: RFC 9148 §4.5), or multipart-core
 * [284 PKCS#8 private key, 287 certificate] (skg: §5.8). */
static kdc_err
answer(struct est_job *j)
{
	static const int cfs[2] = { KDC_CF_PKCS8, KDC_CF_PKIX_CERT };
	const uint8_t *parts[2] = { j->en.pkcs8, j->en.is.cert };
	size_t lens[2] = { j->en.pkcs8_len, j->en.is.cert_len };
	size_t out_len = sizeof(j->out);
	kdc_err r;

	if (j->en.op != KDC_ENROLL_SKG)
		return resp_cert(&j->resp, j->out, sizeof(j->out),
		    KDC_COAP_CHANGED, j->cf, j->en.is.cert, j->en.is.cert_len);
	if ((r = kdc_multipart_encode(cfs, parts, lens, 2, j->out,
	    &out_len)) != KDC_OK) {
		kdc_wipe(j->out, sizeof(j->out));
		return r;
	}
	j->resp.code = KDC_COAP_CHANGED;
	j->resp.content_format = KDC_CF_MULTIPART_CORE;
	j->resp.payload = j->out;
	j->resp.payload_len = out_len;
	return KDC_OK;
}

/* A refusal: the answer's code (code, or kdc_coap_code(r)), an est.enroll
 * record. */
static void
refused(struct est_job *j, struct kdc_core *core, kdc_err r, uint8_t code)
{
	const struct kdc_principal *who = &j->en.who;
	const char *op = kdc_enroll_op_str(j->en.op);
	kdc_err ar;

	memset(&j->resp, 0, sizeof(j->resp));
	j->resp.content_format = KDC_CF_NONE;
	j->resp.code = code != 0 ? code : kdc_coap_code(r);
	kdc_log_debug("peer=%s %s refused: %s", j->peer, op, j->en.why);
	ar = KDC_OK;
	if (who->dev_id[0] == '\0')	/* nobody: sampled */
		kdc_core_audit_peer(core, KDC_LWM2M_ACTOR, "est.enroll",
		    j->peer, r, "%s: %s", op, j->en.why);
	else
		ar = kdc_core_audit(core, KDC_LWM2M_ACTOR, "est.enroll",
		    who->dev_id, r, "%s: %s", op, j->en.why);
	if (ar != KDC_OK)
		kdc_log_err_r(ar, "audit append failed action=est.enroll");
}

/*
 * sen, sren, skg on a worker or in the handler, first half: the formats,
 * core's steps 1-2 (who asks, the signature). A refusal is answered here.
 */
static void
enroll_sign(struct est_job *j, struct kdc_core *core)
{
	uint8_t code;
	kdc_err r;

	if ((r = formats_ok(j, &code)) != KDC_OK) {
		refused(j, core, r, code);
		return;
	}
	if ((r = kdc_core_enroll_sign(core, &j->en)) != KDC_OK)
		refused(j, core, r, 0);
}

/*
 * Second half, the pool's batch() for the jobs a worker took together
 * (pool.h; one job when run in the handler): core's step 3 for all in
 * one transaction (their cert.issue records), then each answer.
 */
static void
job_batch(struct kdc_pool_job **pjs, size_t n, struct kdc_core *core)
{
	struct kdc_enroll *es[KDC_POOL_BATCH_MAX] = { NULL };
	struct est_job *js[KDC_POOL_BATCH_MAX], *j;
	size_t i, m;
	kdc_err r;

	for (i = 0, m = 0; i < n && m < KDC_POOL_BATCH_MAX; i++) {
		j = (struct est_job *)pjs[i];	/* pj is its first member */
		if (j->en.ready) {
			js[m] = j;
			es[m++] = &j->en;
		}
	}
	kdc_core_enroll_commit(core, KDC_LWM2M_ACTOR, es, m);
	for (i = 0; i < m; i++) {
		j = js[i];
		if ((r = j->en.status) != KDC_OK) {
			refused(j, core, r, 0);
			continue;
		}
		if ((r = answer(j)) != KDC_OK) {
			/* issued but not deliverable: the device retries
			 * (the next issuance supersedes this one) */
			kdc_log_err_r(r, "dev=%s cred=%" PRId64 ": response",
			    j->en.who.dev_id, j->en.cred_id);
			snprintf(j->en.why, sizeof(j->en.why), "cred=%" PRId64
			    " issued, response failed: %s", j->en.cred_id,
			    kdc_err_str(r));
			refused(j, core, r, KDC_COAP_INTERNAL);
			continue;
		}
		kdc_log_debug("dev=%s %s: cred=%" PRId64 "%s",
		    j->en.who.dev_id, kdc_enroll_op_str(j->en.op),
		    j->en.cred_id, j->en.pending ? " pending until first use" :
		    "");
	}
}

/* ---- jobs ---------------------------------------------------------------- */

/* 5.03 with Max-Age (RFC 9148 §4.7): try again in EST_RETRY_AFTER s. */
static void
answer_busy(struct kdc_coap_resp *resp)
{
	resp->code = KDC_COAP_UNAVAILABLE;
	resp->max_age = EST_RETRY_AFTER;
}

/* On a worker (or in the handler): the enrollment the job names, steps
 * 1-2; job_batch() (above) commits. */
static void
job_run(struct kdc_pool_job *pj, struct kdc_core *core)
{
	enroll_sign((struct est_job *)pj, core);
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
	job_answer(j, &j->resp);
	kdc_coap_later_answer(j->later, &j->resp);	/* releases j */
}

static struct est_job *
job_new(struct kdc_coap_peer *peer, const struct kdc_coap_msg *req,
    enum kdc_enroll_op op)
{
	const struct kdc_principal *auth = kdc_coap_peer_auth(peer);
	struct est_job *j;
	size_t n;

	if ((j = kdc_calloc(1, sizeof(*j) + req->payload_len)) == NULL)
		return NULL;
	j->pj.run = job_run;
	j->pj.batch = job_batch;
	j->pj.done = job_done;
	j->en.op = op;
	if (auth != NULL)
		j->en.who = *auth;
	snprintf(j->peer, sizeof(j->peer), "%s", kdc_coap_peer_addr(peer));
	j->content_format = req->content_format;
	j->accept = req->accept;
	if (op != KDC_ENROLL_SKG)
		j->cf = cert_format(req->accept);
	else
		j->cf = req->accept == KDC_CF_NONE ||
		    req->accept == KDC_CF_MULTIPART_CORE ?
		    KDC_CF_MULTIPART_CORE : -1;
	j->csr_len = req->payload_len;
	if (req->payload_len > 0)
		memcpy(j->csr, req->payload, req->payload_len);
	j->en.csr = j->csr;
	j->en.csr_len = j->csr_len;
	snprintf(j->en.note, sizeof(j->en.note), "est=%s by cred=%" PRId64
	    " (%s %s)", kdc_enroll_op_str(op), j->en.who.cred_id,
	    kdc_cred_kind_str(j->en.who.kind),
	    kdc_cred_type_str(j->en.who.type));
	n = strlen(j->en.note);
	if (op != KDC_ENROLL_SKG && j->cf >= 0)
		snprintf(j->en.note + n, sizeof(j->en.note) - n, " cf=%d",
		    j->cf);
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
    enum kdc_enroll_op op)
{
	struct est_job *j;
	kdc_err r;

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
	job_batch((struct kdc_pool_job *[]){ &j->pj }, 1, e->core);
	/* the answer carries the certificate: durable first, when this
	 * core defers its syncs (core.h kdc_core_sync()) */
	if ((r = kdc_core_sync(e->core)) != KDC_OK) {
		kdc_log_err_r(r, "peer=%s est: store sync: 5.00", j->peer);
		job_free(j);
		resp->code = KDC_COAP_INTERNAL;
		return;
	}
	job_answer(j, resp);	/* the engine releases j once it is sent */
}

static void
sen_post(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	enroll_post(arg, peer, req, resp, KDC_ENROLL_SEN);
}

static void
sren_post(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	enroll_post(arg, peer, req, resp, KDC_ENROLL_SREN);
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
	enroll_post(arg, peer, req, resp, KDC_ENROLL_SKG);
}

static void
crl_release(void *der)
{
	kdc_free(der);
}

/*
 * GET crl: the CA's current CRL, DER (the same as https://HOST/crl).
 * application/pkix-crl has no CoAP Content-Format number, so this is
 * application/octet-stream (42). Sent by Block2 like every large answer,
 * up to KDC_COAP_RESP_MAX (some 1,600 entries of ~40 bytes); a larger CRL
 * is 5.00 here, with the HTTPS URL in the log (it has no such bound).
 */
static void
crl_get(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_est *e = arg;
	uint8_t *der = NULL;
	size_t len = 0;
	kdc_err r;

	(void)req;
	if ((r = kdc_core_crl(e->core, &der, &len)) != KDC_OK) {
		kdc_log_err_r(r, "CRL for peer=%s", kdc_coap_peer_addr(peer));
		resp->code = kdc_coap_code(r);
		return;
	}
	if (len > KDC_COAP_RESP_MAX) {
		kdc_log_err("CRL for peer=%s: %zu bytes, over the %d a CoAP "
		    "answer may carry: 5.00 (GET https://HOST:PORT/crl serves "
		    "it)", kdc_coap_peer_addr(peer), len, KDC_COAP_RESP_MAX);
		kdc_free(der);
		resp->code = KDC_COAP_INTERNAL;
		return;
	}
	resp->code = KDC_COAP_CONTENT;
	resp->content_format = KDC_CF_OCTET_STREAM;
	resp->payload = der;
	resp->payload_len = len;
	resp->release = crl_release;
	resp->release_arg = der;
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
	kdc_free(e);
}
