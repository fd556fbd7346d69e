/*
 * lwm2m.h: the LwM2M face. Two parts on one kdc_coap engine:
 *
 * - Bootstrap Server on the "kdc" endpoint (5684): a client-initiated
 *   bootstrap (OMA-TS-LightweightM2M-Core §6.1, protocols/lwm2m.md §2):
 *   POST /bs?ep=NAME[&pct=CF] -> 2.04, then on the same session
 *   Bootstrap-Discover /, Delete /0, Delete /1, Write /0/x, Write /1/x,
 *   Finish (POST /bs). The operational credential is issued `pending`
 *   before the first write and becomes `issued` only when Finish is
 *   acknowledged with 2.04. GET /bspack is left to the engine's 4.04.
 * - Built-in LwM2M Server on the "lwm2m" endpoint (5685): Register
 *   (POST /rd?ep=..&lt=..&lwm2m=..&b=..), Update (POST /rd/ID),
 *   De-register (DELETE /rd/ID), accepted only from a peer authenticated
 *   with the device's current issued operational credential.
 *
 * Everything runs on the engine's thread (coap.h); the face owns no
 * thread and no timer: each bootstrap step is driven by the completion of
 * the previous request, which coap.h promises exactly once.
 */
#ifndef KDC_LWM2M_H
#define KDC_LWM2M_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "coap/coap.h"
#include "core/core.h"
#include "crypto/crypto.h"

/* A whole bootstrap must end within this many seconds of its /bs: the
 * EXCHANGE_LIFETIME of RFC 7252 §4.8.2 (247 s), which is also how long
 * Anjay waits for Finish before giving up itself. */
#define KDC_LWM2M_BS_DEADLINE		247
/* /1/x/1 written at bootstrap unless opts say otherwise: Leshan's and
 * the spec's default lifetime (one day). */
#define KDC_LWM2M_LIFETIME_DEFAULT	86400
/* Registration lifetimes accepted by the built-in server: below 10 s a
 * client would Update faster than a DTLS peer reasonably should; above a
 * year the registration outlives any operational credential we issue. */
#define KDC_LWM2M_LT_MIN		10
#define KDC_LWM2M_LT_MAX		31536000
/* Links read from one Bootstrap-Discover answer: /0, /1 and their
 * instances plus the client's other objects; 256 is ten times what
 * wakaama or Anjay list, and bounds the instance-id search. */
#define KDC_LWM2M_DISCOVER_LINKS_MAX	256

struct kdc_lwm2m;

struct kdc_lwm2m_opts {
	/* /0/x/0 of the account written: the built-in server's URI, e.g.
	 * "coaps://127.0.0.1:5685" (required, copied). */
	const char	*server_uri;
	/* /0/x/4: the server's certificate (DER) for Certificate mode and
	 * its SubjectPublicKeyInfo (DER) for RPK mode (borrowed for the
	 * face's lifetime). A device whose profile wants a mode whose
	 * server key is missing fails its bootstrap with KDC_ERR_CONFIG. */
	const uint8_t	*server_cert;
	size_t		 server_cert_len;
	const uint8_t	*server_spki;
	size_t		 server_spki_len;
	/* Format of the writes when the client sent no pct we can write:
	 * KDC_CF_LWM2M_TLV (0 means that) or KDC_CF_SENML_CBOR. */
	int		 content_format;
	/* Seconds for a whole bootstrap; 0: KDC_LWM2M_BS_DEADLINE. */
	unsigned	 bs_deadline;
	/* /1/x/1 in seconds; 0: KDC_LWM2M_LIFETIME_DEFAULT. */
	uint32_t	 lifetime;
	/* Short Server ID written to /0/x/10 and /1/x/0; 0: 1. */
	uint16_t	 ssid;
	/* Endpoint names (coap.h); NULL: "kdc" and "lwm2m". */
	const char	*bs_endpoint;
	const char	*server_endpoint;
	/*
	 * TESTS ONLY: the name of a NoSec endpoint (KDC_COAP_ACCEPT_NOSEC,
	 * loopback only, coap.h) on which POST "bs" is served too; NULL:
	 * none. A NoSec peer has no identity but the ep it claims, so there
	 * ep alone names the device: it must be registered and not revoked
	 * (else 4.03, audited), and anyone on the host can bootstrap it.
	 * This exists to prove interop with DTLS-less LwM2M 1.0 clients
	 * (coap-node); a NoSec peer on any other endpoint is refused.
	 */
	const char	*nosec_endpoint;
};

/*
 * Register the routes on c: POST "bs" on opts->bs_endpoint (and on
 * opts->nosec_endpoint when set) and POST "rd", POST/DELETE "rd" + one segment (coap.h prefix form) on
 * opts->server_endpoint. core and c are borrowed and must outlive the
 * face. INVALID_ARG without server_uri, with a content_format
 * other than TLV / SenML-CBOR, or with nosec_endpoint naming the
 * bootstrap endpoint; a kdc_coap_route() error as it comes.
 */
kdc_err	kdc_lwm2m_attach(struct kdc_coap *c, struct kdc_core *core,
	    const struct kdc_lwm2m_opts *o, struct kdc_lwm2m **out);

/*
 * Release the face. Call it after kdc_coap_free(): freeing the engine
 * completes every request still outstanding (KDC_ERR_CLOSED, coap.h),
 * which ends its bootstrap as failed and audited; whatever is left is
 * freed here without touching the engine. NULL-safe.
 */
void	kdc_lwm2m_free(struct kdc_lwm2m *lw);

/*
 * Drop the registrations that no longer stand: of a device revoked or
 * deleted, or that has no issued operational credential left (it was
 * revoked; the one a client registers with, server.c). Each drop is
 * audited "lwm2m.drop" and logged at info. For the engine's revocation
 * watch (coap.h kdc_coap_revocation_watch()); engine thread. A store
 * error as it comes (what was dropped stays dropped).
 */
kdc_err	kdc_lwm2m_server_recheck(struct kdc_lwm2m *lw);

/* Bootstrap sessions in progress (tests, metrics). */
size_t	kdc_lwm2m_bs_active(const struct kdc_lwm2m *lw);
/*
 * LwM2M server-initiated bootstrap (LwM2M 1.1 Core §6.1.x): run the
 * Bootstrap Server's sequence (Discover, Delete, Write /0 and /1 per
 * LwM2M audience, Finish) on peer, a session the KDC opened to a device
 * that listens (coap.h kdc_coap_connect(), standing for the device's
 * principal), exactly as after the device's own POST /bs. done(arg, r)
 * is called once when it ends: KDC_OK once Finish was answered 2.04 and
 * the credentials are active, else the step's error (each audited as
 * lwm2m.bootstrap). At once: KDC_ERR_INVALID_ARG, KDC_ERR_NOMEM, or what
 * the first step could not do (done not called then).
 */
kdc_err	kdc_lwm2m_bootstrap_peer(struct kdc_lwm2m *lw,
	    struct kdc_coap_peer *peer, void (*done)(void *arg, kdc_err r),
	    void *arg);

/* ---- EST-coaps (RFC 9148) on the Bootstrap Server's endpoint (est.c) --- */

/*
 * Register the EST-coaps routes on endpoint `endpoint` (NULL: "kdc"),
 * under /.well-known/est/ and nothing else (no short alias paths):
 *   GET  crts  the CA certificate: Accept 281 (PKCS#7 certs-only; also
 *              when no Accept, RFC 9148 §4.3) or 287 (DER) -> 2.05;
 *              any other Accept -> 4.06
 *   GET  att   csrattrs (Content-Format 285): ecdsa-with-SHA256 and an
 *              id-ecPublicKey P-256 attribute -> 2.05
 *   POST sen   simple enroll: Content-Format 286 (PKCS#10 DER), only
 *              from a peer authenticated with its manufacturer
 *              credential; the certificate names the peer's device
 *   POST sren  simple re-enroll: only from a peer authenticated with its
 *              current issued operational certificate
 * sen/sren answer 2.04 with the certificate, 281 by default or 287 when
 * asked (Accept). Refusals: 4.15 other Content-Format, 4.06 other
 * Accept, 4.00 malformed CSR / bad signature / unsupported key, 4.03 a
 * peer not allowed (wrong credential kind or type) or a key the KDC
 * already knows as a manufacturer key, another device's key or a revoked
 * one; each audited as "est.enroll" (core/audit.h), as is each success
 * (the issuance itself is core's "cert.issue").
 *   POST skg   server-side key generation (RFC 9148 §5.8): a CSR naming
 *              the device (its key is ignored); 2.04 multipart-core 62
 *              [284 PKCS#8 key, 287 certificate]
 *   GET crl    the CA's CRL, DER, Content-Format 42
 * /skc is not served (the engine's 4.04).
 *
 * sen, sren and skg are jobs (a CSR check, a signature, a commit): with
 * pool (core/pool.h; its workers have cores of their own) each runs on a
 * worker and is answered later (RFC 9148 §4.7: an empty ACK now, the
 * 2.04 as a Confirmable response when the worker is done), so the engine
 * thread goes on meanwhile; the engine's owner must have the engine
 * watch kdc_pool_fd(pool) and call kdc_pool_drain() (coap.h
 * kdc_coap_watch()). A full queue is answered 5.03 with Max-Age 2, as
 * is a second enrollment on a session whose first still runs. With
 * pool NULL, or for a non-confirmable request, the job runs in the
 * handler with core.
 *
 * c, core and pool are borrowed and must outlive the engine's run.
 * Free order: stop the engine, kdc_pool_free() (answers what is left),
 * kdc_coap_free(), kdc_est_free(). KDC_ERR_INVALID_ARG, KDC_ERR_NOMEM,
 * or a kdc_coap_route() error as it comes (then routes may point at
 * freed memory: the engine must not run).
 */
struct kdc_est;
struct kdc_pool;

kdc_err	kdc_est_attach(struct kdc_coap *c, struct kdc_core *core,
	    const char *endpoint, struct kdc_pool *pool,
	    struct kdc_est **out);
void	kdc_est_free(struct kdc_est *e);

#endif
