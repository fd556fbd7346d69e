/*
 * coap.h: the CoAP(S) face's transport, as the faces above it see it.
 * The engine is our own on GnuTLS (eng.c, xl*.c, record.c, wire.c;
 * docs/design.md "Transport"); no GnuTLS type crosses this header, so
 * lwm2m/, ace/ and ocf/ never see it (DESIGN §2).
 *
 * Model
 * - One struct kdc_coap is one engine on one thread. Every callback
 *   below runs on that thread, one at a time; the face owns its own
 *   kdc_core (and store connection), so handlers may call core/ without
 *   locks. `serve` runs one engine per core ([coap] threads), each with
 *   its own faces: the engines of a process share each port through
 *   SO_REUSEPORT and the kernel keeps a peer on one of them.
 * - Endpoints: kdc_coap_listen() opens a DTLS endpoint (or, only when a
 *   test configuration asks, a NoSec UDP endpoint on loopback). Each
 *   endpoint has a name ("kdc" on 5684, "lwm2m" on 5685) and an
 *   authentication policy (which credential kinds it accepts).
 * - A peer is an authenticated DTLS session. Its identity was established
 *   by the handshake through core/ (PSK identity, RPK SPKI, certificate
 *   chain), never by anything in a message.
 * - Server side: routes map (endpoint, method, path) to a handler that
 *   fills a response synchronously, or defers it (kdc_coap_defer()) and
 *   answers later from the engine thread: a separate response.
 * - Client side on a server session (LwM2M Bootstrap Server): the face can
 *   send CON requests to the peer and gets exactly one completion per
 *   request: a response, or a failure (RST, timeout, session closed).
 * - Client mode: the engine opens DTLS client sessions itself
 *   (kdc_coap_connect(), kdc_coap_connect2(): PSK, RPK, X.509, the
 *   server's credential decided by the caller; or, asked for explicitly,
 *   an unauthenticated NoSec one: OCF's first unsecured doxm requests),
 *   keeps a TLS PRF output of the handshake when asked (OCF's owner
 *   PSK), and sends plain-CoAP multicast requests on an interface,
 *   collecting the unicast answers for a window (kdc_coap_multicast():
 *   OCF discovery).
 */
#ifndef KDC_COAP_H
#define KDC_COAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/config.h"
#include "core/core.h"
#include "store/store.h"

/* CoAP codes as c.dd packed in one byte: class << 5 | detail. */
#define KDC_COAP_CODE(c, dd)	((uint8_t)(((c) << 5) | (dd)))
#define KDC_COAP_GET		KDC_COAP_CODE(0, 1)
#define KDC_COAP_POST		KDC_COAP_CODE(0, 2)
#define KDC_COAP_PUT		KDC_COAP_CODE(0, 3)
#define KDC_COAP_DELETE		KDC_COAP_CODE(0, 4)
#define KDC_COAP_CREATED	KDC_COAP_CODE(2, 1)
#define KDC_COAP_DELETED	KDC_COAP_CODE(2, 2)
#define KDC_COAP_CHANGED	KDC_COAP_CODE(2, 4)
#define KDC_COAP_CONTENT	KDC_COAP_CODE(2, 5)
#define KDC_COAP_BAD_REQUEST	KDC_COAP_CODE(4, 0)
#define KDC_COAP_UNAUTHORIZED	KDC_COAP_CODE(4, 1)
#define KDC_COAP_FORBIDDEN	KDC_COAP_CODE(4, 3)
#define KDC_COAP_NOT_FOUND	KDC_COAP_CODE(4, 4)
#define KDC_COAP_NOT_ALLOWED	KDC_COAP_CODE(4, 5)
#define KDC_COAP_NOT_ACCEPTABLE	KDC_COAP_CODE(4, 6)
#define KDC_COAP_TOO_LARGE	KDC_COAP_CODE(4, 13)
#define KDC_COAP_UNSUPPORTED_CF	KDC_COAP_CODE(4, 15)
#define KDC_COAP_INTERNAL	KDC_COAP_CODE(5, 0)
#define KDC_COAP_UNAVAILABLE	KDC_COAP_CODE(5, 3)

/* Content-Format numbers we use (IANA CoAP Content-Formats). */
#define KDC_CF_NONE		(-1)
#define KDC_CF_LINK_FORMAT	40
#define KDC_CF_OCTET_STREAM	42
#define KDC_CF_CBOR		60
#define KDC_CF_MULTIPART_CORE	62
#define KDC_CF_SENML_JSON	110
#define KDC_CF_SENML_CBOR	112
#define KDC_CF_PKCS7_CERTS	281
#define KDC_CF_PKCS8		284
#define KDC_CF_CSRATTRS		285
#define KDC_CF_PKCS10		286
#define KDC_CF_PKIX_CERT	287
#define KDC_CF_LWM2M_TLV	11542
#define KDC_CF_OCF_CBOR		10000	/* application/vnd.ocf+cbor */

/* OCF's CoAP options (OCF Core §12.2.5): both odd, so critical. Their
 * value is a 2-byte uint, 0x0800 (2048) for OCF 1.0.0. */
#define KDC_COAP_OPT_OCF_ACCEPT_VERSION	2049	/* OCF-Accept-Content-Format-Version */
#define KDC_COAP_OPT_OCF_VERSION	2053	/* OCF-Content-Format-Version */
#define KDC_COAP_OCF_VERSION_1_0	0x0800

#define KDC_COAP_PATH_MAX	128	/* "0/65534/65534" and EST paths fit */
#define KDC_COAP_QUERY_MAX	8	/* Uri-Query options kept per message */
#define KDC_COAP_QUERY_LEN	128	/* bytes per Uri-Query option */
#define KDC_COAP_BODY_MAX	8192	/* request body, Block1 joined: a CSR */
#define KDC_COAP_RESP_MAX	(64 * 1024)	/* response body, sent by Block2 */

struct kdc_coap;
struct kdc_coap_peer;

/* Which credentials an endpoint accepts from peers. */
enum kdc_coap_accept {
	KDC_COAP_ACCEPT_MANUFACTURER = 1 << 0,	/* kind manufacturer */
	KDC_COAP_ACCEPT_OPERATIONAL = 1 << 1,	/* kind operational */
	KDC_COAP_ACCEPT_NOSEC = 1 << 2,		/* plain UDP (tests only) */
};

/* What the handshake established about a peer: struct kdc_principal (core.h). */

/* A decoded message. Pointers are borrowed for the callback's duration. */
struct kdc_coap_msg {
	uint8_t		 code;
	char		 path[KDC_COAP_PATH_MAX + 1];	/* Uri-Path joined by '/', no leading '/'; "" is the root */
	char		 query[KDC_COAP_QUERY_MAX][KDC_COAP_QUERY_LEN + 1];
	size_t		 nquery;
	int		 content_format;	/* KDC_CF_NONE if absent */
	int		 accept;		/* KDC_CF_NONE if absent */
	const uint8_t	*payload;
	size_t		 payload_len;
	const char	*location;	/* Location-Path joined by '/' (responses), or NULL */
	uint32_t	 ocf_version;	/* OCF-Content-Format-Version (2053) of
					 * an answer to our request; 0: absent */
};

/*
 * A response the handler fills. The payload is either borrowed (release
 * NULL: valid until the handler returns, the engine copies it) or owned:
 * the engine calls release(release_arg) exactly once, when it no longer
 * needs the bytes (sent whole or by Block2, or given up), whatever
 * happens to the answer; the owner wipes what is secret there. A handler
 * gets an owned buffer from kdc_coap_resp_alloc(), or hands over its own
 * object (an EST job holding a private key) with its own release. So no
 * answer outlives its sending: nothing waits in a handler's buffers for
 * the next request.
 */
struct kdc_coap_resp {
	uint8_t		 code;		/* default 5.00 if left 0 */
	int		 content_format;
	uint32_t	 max_age;	/* Max-Age option, seconds; 0: none */
	char		 location[KDC_COAP_PATH_MAX + 1];	/* Location-Path, "" for none */
	const uint8_t	*payload;
	size_t		 payload_len;
	void		(*release)(void *arg);	/* NULL: borrowed */
	void		*release_arg;
};

/* An owned payload buffer of len bytes for rs (payload, payload_len and
 * release set): the caller fills it; wiped and freed once sent. NULL when
 * out of memory or len is over KDC_COAP_RESP_MAX (rs unchanged). */
uint8_t	*kdc_coap_resp_alloc(struct kdc_coap_resp *rs, size_t len);
/* Give up rs's payload now: its release, if owned; rs has none after. */
void	kdc_coap_resp_release(struct kdc_coap_resp *rs);

/*
 * kdc_err -> CoAP response code: the one table for every CoAP face. A
 * refusal of an authenticated peer (UNKNOWN_DEVICE, REVOKED, EXPIRED,
 * NOT_YET_VALID, WRONG_TYPE, DENIED, UNKNOWN_PROFILE) is 4.03, UNTRUSTED
 * 4.01, UNSUPPORTED 4.15, a bad request 4.00, TOO_LARGE 4.13, NOT_FOUND
 * 4.04, BUSY 5.03, anything else 5.00. KDC_OK gives 2.05: a handler sets
 * its own success code.
 */
uint8_t	kdc_coap_code(kdc_err r);

/* Value of query item `name` ("ep" for "ep=NAME"), or NULL. */
const char	*kdc_coap_msg_query(const struct kdc_coap_msg *m,
		    const char *name);

typedef void (*kdc_coap_handler_fn)(void *arg, struct kdc_coap_peer *peer,
		    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp);

/*
 * Completion of a request sent to a peer: status KDC_OK with the response
 * in rsp, or KDC_ERR_PEER_RESET (the peer answered RST),
 * KDC_ERR_TIMEOUT (no answer after the CoAP retransmissions, or the
 * exchange timer), KDC_ERR_CLOSED (session gone); with our own engine
 * also KDC_ERR_MALFORMED (an answer we cannot decode, a Block2 answer
 * with a gap), KDC_ERR_TOO_LARGE (a Block2 answer past
 * KDC_COAP_RESP_MAX), KDC_ERR_UNSUPPORTED (an answer carrying a critical
 * option we do not know, kdc_coap_request2()), KDC_ERR_NOMEM. Called exactly once; rsp only with
 * KDC_OK.
 */
typedef void (*kdc_coap_done_fn)(void *arg, struct kdc_coap_peer *peer,
		    kdc_err status, const struct kdc_coap_msg *rsp);

/* Called when a peer's session ends (close_notify, timeout, error), so a
 * face can drop state it keeps for the peer. */
typedef void (*kdc_coap_gone_fn)(void *arg, struct kdc_coap_peer *peer);

/* ---- lifetime ---------------------------------------------------------- */

/*
 * An engine bound to core (borrowed; used only from the engine thread)
 * and cfg. Sets the GnuTLS priority so RFC 7925 suites
 * (TLS_PSK_WITH_AES_128_CCM_8, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8) are
 * offered first, routes GnuTLS's logs into ours. The [coap] limits of
 * cfg (sessions, handshakes, per credential, timeouts) are shared out
 * over [coap] threads engines.
 */
kdc_err	kdc_coap_new(struct kdc_core *core, const struct kdc_config *cfg,
	    struct kdc_coap **out);
/*
 * Open an endpoint called `name` on addr:port (UDP). With accept bits
 * MANUFACTURER/OPERATIONAL it is DTLS 1.2 with HelloVerify cookies,
 * authenticating PSK, RPK and X.509 peers through core/ (cert_pem and
 * key_pem: the server's own certificate chain and key, borrowed until
 * free). With KDC_COAP_ACCEPT_NOSEC it is plain CoAP; refused unless addr
 * is a loopback address.
 */
kdc_err	kdc_coap_listen(struct kdc_coap *c, const char *name,
	    const char *addr, int port, unsigned accept, const char *cert_pem,
	    const char *key_pem);
/* Route method+path (exact; "" is the root) on endpoint `name` (or NULL:
 * every endpoint). Unknown paths get 4.04, wrong methods 4.05.
 * Prefix form: a path whose last segment is a lone '*' (segments "rd",
 * "*") matches every path made of the segments before it plus one or more
 * non-empty segments ("rd/7", "rd/7/x"; not "rd" nor "rd/"); the handler
 * reads the whole path in req->path. An exact route wins over a prefix
 * route. */
kdc_err	kdc_coap_route(struct kdc_coap *c, const char *name, uint8_t method,
	    const char *path, kdc_coap_handler_fn fn, void *arg);
void	kdc_coap_on_gone(struct kdc_coap *c, kdc_coap_gone_fn fn, void *arg);
/* Run the engine until kdc_coap_stop() (from any thread or a signal
 * handler). Returns KDC_OK after a clean stop. */
kdc_err	kdc_coap_run(struct kdc_coap *c);
void	kdc_coap_stop(struct kdc_coap *c);
/*
 * Timers of requests to peers, for tests and tuning: CoAP ACK_TIMEOUT in
 * ms and MAX_RETRANSMIT (0: RFC 7252's 2 s and 4), applied to a request
 * when it is sent, and the per-request deadline in ms (0: keep; default
 * KDC_COAP_REQUEST_TIMEOUT_MS).
 */
void	kdc_coap_set_timers(struct kdc_coap *c, unsigned ack_timeout_ms,
	    unsigned max_retransmit, unsigned request_timeout_ms);
/*
 * Revocation reaching live sessions (docs/design.md): every interval_ms
 * (0: off, the default) the engine reads core's revocation generation
 * (core.h kdc_core_revocation_gen(), one meta read); when it moved (and
 * once at the first poll), every authenticated peer's principal is
 * checked again (core/revoke.h kdc_core_principal_check()) and each one
 * no longer usable (revoked, expired, deleted) is closed: close_notify,
 * requests in flight fail CLOSED, the gone callback runs; each closure is
 * logged at info (rate-limited) and audited "session.close". Then
 * fn(arg) runs on the engine thread (NULL: none): the LwM2M Server drops
 * the registrations of what was revoked. A store error leaves the
 * generation unseen: retried at the next poll.
 */
void	kdc_coap_revocation_watch(struct kdc_coap *c, unsigned interval_ms,
	    void (*fn)(void *arg), void *arg);
/* What an engine has done and holds (tests, the benchmark, logs). */
struct kdc_coap_stats {
	size_t		 sessions;	/* in the table (handshaking included) */
	size_t		 handshaking;
	uint64_t	 hello_verify;	/* HelloVerifyRequests sent */
	uint64_t	 handshakes;	/* started (cookie verified) */
	uint64_t	 established;
	uint64_t	 replaced;	/* RFC 6347 §4.2.8 */
	uint64_t	 refused_busy;	/* a limit refused a new handshake */
	uint64_t	 evicted;	/* stale or over a credential's cap */
	uint64_t	 own_records;	/* sessions handed from GnuTLS to our
					 * record layer (record.h) */
	uint64_t	 mc_requests;	/* multicast requests sent */
	uint64_t	 mc_answers;	/* answers handed to callers */
	uint64_t	 mc_dropped;	/* datagrams on multicast sockets not
					 * taken (kdc_coap_mc_end's over_cap
					 * and dropped) */
};
void	kdc_coap_stats(const struct kdc_coap *c, struct kdc_coap_stats *s);
/* Run for at most timeout_ms (tests); KDC_OK. */
kdc_err	kdc_coap_run_once(struct kdc_coap *c, unsigned timeout_ms);
void	kdc_coap_free(struct kdc_coap *c);

/*
 * Poll fd in the loop: cb(arg) runs on the engine thread whenever fd is
 * readable (level-triggered: cb must drain it). For a worker pool's
 * eventfd (core/pool.h). KDC_ERR_TOO_LARGE past KDC_COAP_WATCH_MAX,
 * KDC_ERR_INVALID_ARG, KDC_ERR_IO (epoll_ctl).
 */
kdc_err	kdc_coap_watch(struct kdc_coap *c, int fd, void (*cb)(void *arg),
	    void *arg);

/* ---- client mode ----------------------------------------------------------- */

/* A PSK we hold for a peer we connect to (copied by kdc_coap_connect()). */
struct kdc_coap_client_psk {
	const char	*identity;
	const uint8_t	*key;
	size_t		 key_len;
};

/* How a kdc_coap_connect() ended: KDC_OK with the established peer (valid
 * for the call; kdc_coap_peer_hold() to keep it), or peer NULL and
 * KDC_ERR_TIMEOUT (no handshake within KDC_COAP_HANDSHAKE_MS), KDC_ERR_TLS
 * (refused, e.g. the other side does not know the PSK), KDC_ERR_CLOSED
 * (the engine stopped, or the session was closed before it finished). */
typedef void (*kdc_coap_connect_fn)(void *arg, struct kdc_coap_peer *peer,
		    kdc_err status);

/*
 * Open a DTLS 1.2 client session to addr:port (an IPv4 or IPv6 literal)
 * with a PSK whose identity is text (kdc_coap_connect2() with
 * KDC_COAP_CLIENT_PSK, RFC 7925's suites and who required), from an
 * ephemeral UDP socket of this engine (not the
 * listeners' SO_REUSEPORT group: the answers come back to this engine).
 * who is the principal the session stands for (the device whose
 * credential it is): kdc_coap_peer_auth() returns it; requests go out
 * with kdc_coap_request() as on a server session. fn is called exactly
 * once, later, from the engine thread. At once: KDC_ERR_INVALID_ARG,
 * KDC_ERR_EXISTS (a session to addr:port is open), KDC_ERR_NOMEM,
 * KDC_ERR_IO (no socket), KDC_ERR_TLS (GnuTLS setup); fn is then not
 * called. The LwM2M server-initiated bootstrap is its first user.
 */
kdc_err	kdc_coap_connect(struct kdc_coap *c, const char *addr, int port,
	    const struct kdc_coap_client_psk *psk,
	    const struct kdc_principal *who, kdc_coap_connect_fn fn, void *arg);

/*
 * Client sessions with other keys (kdc_coap_connect2()): what the KDC
 * presents and how it decides about the server.
 */
enum kdc_coap_client_cred {
	KDC_COAP_CLIENT_PSK = 1,	/* a PSK: binary identity of any bytes */
	KDC_COAP_CLIENT_RPK,		/* ECDHE_ECDSA, raw public keys (RFC 7250) */
	KDC_COAP_CLIENT_X509,		/* ECDHE_ECDSA, X.509 certificates */
	/* plain CoAP over UDP, no DTLS: UNAUTHENTICATED. Anyone on the path
	 * can read, forge or change what goes either way; the peer is only
	 * an address. For OCF's unsecured first steps (GET and POST
	 * /oic/sec/doxm before the DTLS onboarding session) and nothing
	 * else; refused unless o->unauthenticated says the caller means it. */
	KDC_COAP_CLIENT_NOSEC,
	/* OCF Just Works (oic.sec.doxm.jw): DTLS 1.2 with IoTivity's private
	 * suite 0xFF00, TLS_ECDH_anon_WITH_AES_128_CBC_SHA256, on a
	 * handshake of our own (jw.h; no Debian TLS library has the suite).
	 * AUTHENTICATES NOBODY: anonymous ECDH, no certificate, no PSK;
	 * whoever answers, or sits on the path and answers first, is the
	 * peer, and a man in the middle reads and changes everything. It
	 * keeps only a passive listener out. Refused unless
	 * o->unauthenticated says the caller means it (an operator who
	 * asked for JW for this one device). o->suites is ignored (one
	 * suite); o->who must be NULL; a PRF output may be kept (the owner
	 * PSK starts from the key_block, 96 bytes for this suite). */
	KDC_COAP_CLIENT_JW,
};

/* Which random comes first in the seed of a PRF output a client session
 * keeps (kdc_coap_client_opts prf_*). */
enum kdc_coap_prf_seed {
	/* PRF(master_secret, label, client_random || server_random): an
	 * RFC 5705 exporter without context */
	KDC_COAP_PRF_CLIENT_FIRST = 0,
	/* PRF(master_secret, label, server_random || client_random): TLS
	 * 1.2's key expansion order; with label "key expansion" the
	 * session's key_block (RFC 5246 §6.3), where OCF's owner PSK starts
	 * (OCF Security §7.3.2 oc_sec_derive_owner_psk) */
	KDC_COAP_PRF_SERVER_FIRST,
};

/* Which suites the ClientHello offers, in order (DTLS 1.2 only). */
enum kdc_coap_suites {
	/* RFC 7925: TLS_PSK_WITH_AES_128_CCM_8 (PSK) or
	 * TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (RPK, X.509) first, then other
	 * AEAD suites */
	KDC_COAP_SUITES_RFC7925 = 0,
	/* OCF onboarding (OCF Security §7.3): PSK:
	 * TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256 (0xC037, Random PIN OTM and
	 * owner sessions) first, then the PSK suites of RFC7925; RPK/X.509:
	 * TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, _AES_128_CCM, _AES_256_CCM_8,
	 * _AES_256_CCM (0xC0AC-0xC0AF, the mfgcert OTM). GnuTLS 3.7.9 has no
	 * ECDH_anon suite with SHA-256 (OCF Just Works' private 0xFF00) and
	 * no ECDHE_PSK CCM suite (docs/traps.md). */
	KDC_COAP_SUITES_OCF,
};

/*
 * The server's credential at handshake time, for the caller to decide:
 * type KDC_COAP_CLIENT_RPK with n 1 and der[0] its SubjectPublicKeyInfo,
 * or KDC_COAP_CLIENT_X509 with the chain as sent (leaf first, n at most
 * KDC_CHAIN_MAX; a longer chain is refused without calling). Borrowed
 * for the call. KDC_OK accepts; anything else refuses: the handshake
 * fails and the connect callback gets that code (KDC_ERR_UNTRUSTED, ...)
 * as its status. Called at most once per session, from the engine
 * thread, inside the handshake (no engine call from it).
 */
typedef kdc_err (*kdc_coap_server_check_fn)(void *arg,
		    enum kdc_coap_client_cred type, const uint8_t *const *der,
		    const size_t *len, size_t n);

struct kdc_coap_client_opts {
	enum kdc_coap_client_cred cred;
	enum kdc_coap_suites suites;
	/* KDC_COAP_CLIENT_PSK: identity of 1..KDC_PSK_IDENTITY_MAX bytes
	 * (any bytes: OCF's are a raw 16-byte UUID) and key of
	 * 1..KDC_PSK_MAX bytes; copied */
	const uint8_t	*psk_identity;
	size_t		 psk_identity_len;
	const uint8_t	*psk_key;
	size_t		 psk_key_len;
	/* RPK and X.509: what the KDC presents if the server asks, or
	 * NULL/NULL for nothing. cert_pem: RPK, our SubjectPublicKeyInfo
	 * ("PUBLIC KEY"); X.509, our chain, leaf first. key_pem: its
	 * private key (PKCS#8 or SEC1 PEM). Copied (GnuTLS's copy is freed
	 * with the session; the caller wipes its own). */
	const char	*cert_pem;
	const char	*key_pem;
	/* RPK and X.509: required, decides about the server */
	kdc_coap_server_check_fn check;
	void		*check_arg;
	/* the principal the session stands for (kdc_coap_peer_auth()), or
	 * NULL: none (an OCF device not yet in the store); NULL for NoSec */
	const struct kdc_principal *who;
	/* KDC_COAP_CLIENT_NOSEC and KDC_COAP_CLIENT_JW: must be true (the
	 * caller asks for an unauthenticated session knowingly); false for
	 * the others */
	bool		 unauthenticated;
	/* DTLS: a TLS 1.2 PRF output to keep (prf_len 1..KDC_COAP_PRF_MAX;
	 * 0: none): PRF(master_secret, prf_label, randoms in prf_seed's
	 * order), the session's own PRF hash, computed when the handshake
	 * ends (GnuTLS's session is freed once our record layer takes over,
	 * docs/design.md "Transport") and kept with the peer, wiped at its
	 * end; read with kdc_coap_peer_prf(). prf_label of
	 * 1..KDC_COAP_PRF_LABEL_MAX bytes, copied. PRF output is a stream:
	 * its first n bytes do not depend on prf_len, so a caller that
	 * learns the length it needs only after the handshake (a key_block
	 * per suite, kdc_coap_peer_suite()) asks for the most. */
	const char	*prf_label;
	size_t		 prf_label_len;
	enum kdc_coap_prf_seed prf_seed;
	size_t		 prf_len;
};

/*
 * kdc_coap_connect() with the credential of o: a DTLS 1.2 client session
 * to addr:port (an IPv4 or IPv6 literal; an IPv6 link-local one with its
 * zone, "fe80::1%eth0", as kdc_coap_multicast() reports it). As
 * kdc_coap_connect() otherwise: fn is called exactly once, later, with
 * KDC_OK and the established peer, or peer NULL and KDC_ERR_TIMEOUT,
 * KDC_ERR_TLS (the handshake failed: a wrong PSK, no common suite, ...),
 * the check's own refusal code (the server's credential refused by
 * o->check), KDC_ERR_UNTRUSTED (an RPK/X.509 handshake that ended
 * without the check having accepted a server credential), KDC_ERR_TLS
 * also when the PRF output asked for could not be computed, or
 * KDC_ERR_CLOSED. At once, fn then not called: KDC_ERR_INVALID_ARG (o
 * NULL, an unknown cred or suites, a PSK identity or key empty or over
 * its maximum, an RPK/X.509 session without check, cert_pem without
 * key_pem or the reverse, NOSEC or JW without o->unauthenticated or
 * unauthenticated with another cred, NOSEC or JW with who, NOSEC with a
 * PRF asked for,
 * prf_len over KDC_COAP_PRF_MAX or a prf_label empty or over
 * KDC_COAP_PRF_LABEL_MAX when prf_len is set, an unknown prf_seed, an
 * address that does not parse, an unknown zone), KDC_ERR_EXISTS (a
 * session to addr:port is open: one per 4-tuple), KDC_ERR_NOMEM,
 * KDC_ERR_IO (no socket), KDC_ERR_TLS (GnuTLS setup, e.g.
 * cert_pem/key_pem that do not load or do not match).
 *
 * KDC_COAP_CLIENT_NOSEC: no handshake; the peer is plain UDP to
 * addr:port from the same ephemeral socket (so only datagrams from that
 * address and port reach it), fn gets it with KDC_OK on the engine's
 * next step, and kdc_coap_request()/kdc_coap_request2() work on it as on
 * a DTLS session (CON, retransmissions, Block1/Block2, separate
 * answers). kdc_coap_peer_auth() gives it no principal, kdc_coap_peer_
 * suite() 0, kdc_coap_peer_prf() nothing. Like any client session it is
 * closed when idle past [coap] idle_timeout with nothing in flight.
 *
 * KDC_COAP_CLIENT_JW: the ClientHello leaves in this call; our flights
 * are retransmitted on the engine's timers (1 s, doubling) until
 * KDC_COAP_HANDSHAKE_MS. fn gets KDC_OK once the server's Finished
 * verified (the session then runs on our record layer, AES-128-CBC
 * HMAC-SHA256 MAC-then-encrypt, with the 64-record replay window:
 * kdc_coap_request()/request2() as on any session; a record that does
 * not authenticate is dropped), KDC_ERR_TLS for any failure of the
 * handshake (a server alert, a wrong Finished, a suite, extension,
 * curve or point we did not offer or that is off the curve, a message
 * that does not parse), KDC_ERR_TIMEOUT, KDC_ERR_NOMEM, KDC_ERR_CLOSED
 * (kdc_coap_peer_close() or the engine freed). kdc_coap_peer_suite() is
 * 0xFF00; kdc_coap_peer_auth() gives an empty principal (nobody);
 * kdc_coap_peer_prf() the output asked for, from the session's master
 * secret (RFC 7627's extended one when the server echoed
 * extended_master_secret, which we always offer).
 */
kdc_err	kdc_coap_connect2(struct kdc_coap *c, const char *addr, int port,
	    const struct kdc_coap_client_opts *o, kdc_coap_connect_fn fn,
	    void *arg);

/*
 * The PRF output a client session kept (kdc_coap_client_opts prf_*):
 * its first len bytes into out. KDC_OK; KDC_ERR_NOT_FOUND (none was
 * asked for, or not an established client session: a server session,
 * NoSec), KDC_ERR_INVALID_ARG (len 0 or over the prf_len asked for).
 * The caller wipes out after use: it is key material.
 */
kdc_err	kdc_coap_peer_prf(const struct kdc_coap_peer *p, uint8_t *out,
	    size_t len);
/* The negotiated DTLS cipher suite's IANA number (0xC037 for
 * TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256), known from the handshake's
 * end; 0 for NoSec, or before. */
uint16_t kdc_coap_peer_suite(const struct kdc_coap_peer *p);

/* ---- plain-CoAP multicast requests (OCF discovery) ---------------------- */

/*
 * One unicast answer to a multicast request: the responder's address as
 * text ("192.0.2.7", "fe80::2%eth0": IPv6 link-local with its zone, so
 * kdc_coap_connect2() takes it back), its UDP port, and the decoded
 * message (code, Content-Format, payload; only the first block of a
 * Block2 answer). Borrowed for the call.
 */
typedef void (*kdc_coap_mc_fn)(void *arg, const char *addr, int port,
		    const struct kdc_coap_msg *rsp);

/* How a multicast request ended. */
struct kdc_coap_mc_end {
	unsigned	 answers;	/* handed to the answer callback */
	unsigned	 over_cap;	/* good answers past max_answers: dropped */
	unsigned	 dropped;	/* not ours or not on the link: wrong
					 * token, another interface or prefix,
					 * malformed, not a response, unknown
					 * critical option, duplicate */
};
/* Called exactly once per request, after its window, from the engine
 * thread: status KDC_OK (the window ended), or KDC_ERR_CLOSED (the
 * engine was freed first). e is borrowed for the call. */
typedef void (*kdc_coap_mc_done_fn)(void *arg, kdc_err status,
		    const struct kdc_coap_mc_end *e);

/*
 * Send a plain-CoAP (NoSec) request to a multicast group on interface
 * ifname, and collect the unicast answers for window_ms: OCF discovery,
 * `GET /oic/res?rt=oic.r.doxm` to ff02::158 and 224.0.1.187 port 5683.
 *
 * The request is NON (RFC 7252 §8.1) with a fresh random 8-byte token
 * and MID, sent once from an ephemeral UDP socket of this engine with
 * IPV6_MULTICAST_IF / IP_MULTICAST_IF on ifname and a hop limit of 1.
 * method is a request code (GET, POST, PUT, DELETE; no payload), path
 * as kdc_coap_request()'s ("" for none), query NULL or "" for none or
 * items joined by '&' ("rt=oic.r.doxm"), each one Uri-Query option.
 *
 * Every datagram arriving on that socket within the window is an answer
 * only if it came in on ifname, from an address on its link (IPv6
 * link-local, or inside a prefix of one of ifname's own addresses),
 * parses (wire.h, at most a datagram: longer ones are cut and dropped),
 * is a NON or CON response (a CON one is acknowledged) carrying the
 * request's token, has no critical option we do not know (OCF's 2049
 * and 2053 are known), and was not handed already (same address, port
 * and MID). on_answer gets the first max_answers of them (0: 
 * KDC_COAP_MC_ANSWERS_MAX, at most that); everything else is counted
 * (struct kdc_coap_mc_end, kdc_coap_stats()) and dropped. Then done is
 * called once. Callbacks run on the engine thread; they may call
 * kdc_coap_connect2() or kdc_coap_multicast().
 *
 * At once, no callback then: KDC_OK (sent), KDC_ERR_INVALID_ARG (group
 * not a multicast IPv4/IPv6 literal, port outside 1..65535, method not
 * a request code, window_ms 0 or over KDC_COAP_MC_WINDOW_MAX_MS,
 * max_answers over KDC_COAP_MC_ANSWERS_MAX, a path or query that does
 * not encode (an empty segment or item, over 255 bytes, more than
 * KDC_COAP_QUERY_MAX items), on_answer or done NULL), KDC_ERR_NOT_FOUND
 * (no interface ifname, or it has no address of the group's family),
 * KDC_ERR_BUSY (KDC_COAP_MC_MAX requests in flight in this engine),
 * KDC_ERR_IO (socket, socket option or send failed).
 */
kdc_err	kdc_coap_multicast(struct kdc_coap *c, const char *ifname,
	    const char *group, int port, uint8_t method, const char *path,
	    const char *query, unsigned window_ms, unsigned max_answers,
	    kdc_coap_mc_fn on_answer, kdc_coap_mc_done_fn done, void *arg);

/* ---- answers that come later ------------------------------------------- */

/*
 * A handler that cannot answer at once (it hands the work to a thread,
 * core/pool.h) calls kdc_coap_defer() and returns leaving resp alone. The
 * engine acknowledges the request now with an empty ACK (RFC 7252
 * §5.2.2; RFC 9148 §4.7 for EST) and sends what kdc_coap_later_answer()
 * gives as a Confirmable response with the request's token (block-wise
 * if large) on its next step. A retransmission of the request meanwhile
 * gets the empty ACK again, never a second handler call.
 *
 * kdc_coap_defer() returns NULL (the handler then answers at once)
 * outside a handler, for a non-confirmable request, past
 * KDC_COAP_LATER_MAX held, or on NOMEM. The later holds the peer (its
 * auth stays readable) until answered.
 */
struct kdc_coap_later;

struct kdc_coap_later *kdc_coap_defer(struct kdc_coap_peer *p);
/* The peer the deferred request came from. */
struct kdc_coap_peer *kdc_coap_later_peer(const struct kdc_coap_later *l);
/* Requests of this peer deferred and not yet answered. */
unsigned kdc_coap_peer_laters(const struct kdc_coap_peer *p);
/*
 * Engine thread only, between engine steps (from a watch callback, or
 * once the engine has stopped; never from inside a handler), exactly once
 * per later: the answer (rs as a handler fills it; a borrowed payload is
 * copied, an owned one taken over, and released once sent). l belongs to
 * the engine after this call. If the peer's session ended meanwhile
 * (closed by the peer, or by a revocation), the answer is dropped (an
 * owned payload released). Laters still
 * unanswered when the engine is freed are dropped with it (their peers
 * get nothing).
 */
void	kdc_coap_later_answer(struct kdc_coap_later *l,
	    const struct kdc_coap_resp *rs);
/* Inside the handler that deferred: take it back (l is freed); the
 * handler then answers in resp as usual. Ignored for any other later. */
void	kdc_coap_later_cancel(struct kdc_coap_later *l);

/* ---- Observe (RFC 7641), server side: our own engine only --------------- */

/*
 * Inside a GET handler whose request carries Observe: 0 (and no Block1,
 * no Block2 past block 0): make the peer an observer of the request's
 * path, keyed by the peer and the request's token (a registration with a
 * token already observing replaces it). If the handler's answer is a
 * 2.xx it goes out with an Observe sequence number; anything else (or a
 * deferred answer) makes no observation. KDC_OK (also when called again
 * while the handler runs for a notification); KDC_ERR_INVALID_ARG
 * outside such a handler; KDC_ERR_BUSY past KDC_COAP_OBSERVERS_MAX
 * observations in the engine; KDC_ERR_NOMEM.
 *
 * An observation ends when the peer sends a GET with Observe: 1 for it,
 * answers a notification with RST, leaves one unacknowledged through
 * the retransmissions, gets a non-2.xx notification, or its session ends.
 */
kdc_err	kdc_coap_observe(struct kdc_coap_peer *p);
/*
 * The resource at path (exact, as the observers asked for it; on
 * endpoint `name`, or NULL: every endpoint) changed: for each observer,
 * its route's handler runs again with the request it registered with
 * (path, query, Accept; no payload) and the answer goes to it as a
 * Confirmable notification with its token and the next sequence number
 * (Block2 when large: the rest is fetched from the kept answer). A
 * notification still unacknowledged is replaced by the new one (RFC 7641
 * §4.5.2). Engine thread, between steps, never from a handler. Returns
 * the number of notifications made.
 */
unsigned kdc_coap_notify(struct kdc_coap *c, const char *name,
	    const char *path);

/* ---- peers ------------------------------------------------------------- */

const struct kdc_principal *kdc_coap_peer_auth(const struct kdc_coap_peer *p);
/* Which endpoint ("kdc", "lwm2m", ...) the peer came in on. */
const char *kdc_coap_peer_endpoint(const struct kdc_coap_peer *p);
/* Remote address as text, for logs. */
const char *kdc_coap_peer_addr(const struct kdc_coap_peer *p);
/* Keep a peer beyond the callback (a bootstrap session); balanced by
 * kdc_coap_peer_release(). */
void	kdc_coap_peer_hold(struct kdc_coap_peer *p);
void	kdc_coap_peer_release(struct kdc_coap_peer *p);
/* End the peer's session at the engine's next step (or at
 * kdc_coap_free()): close_notify if established, requests in flight end
 * with KDC_ERR_CLOSED, the gone callback runs. For a client session the
 * caller is done with (OCF: the onboarding session after RFNOP; the
 * unsecured one after the first steps). Safe from callbacks; a closed
 * peer is ignored. */
void	kdc_coap_peer_close(struct kdc_coap_peer *p);
/* Per-peer data slot for the face (one pointer). */
void	kdc_coap_peer_set_data(struct kdc_coap_peer *p, void *data);
void	*kdc_coap_peer_get_data(const struct kdc_coap_peer *p);

/*
 * Send a CON request to the peer: method, path ("0/1", "" for the root,
 * "bs"), content_format and accept (KDC_CF_NONE to omit), payload (copied).
 * On KDC_OK, done is called exactly once, later, from the engine thread
 * (never from inside this call). A payload larger than a datagram is
 * sent by Block1 (RFC 7959), a large answer fetched by Block2. On an
 * error done is not called: KDC_ERR_TOO_LARGE if the payload exceeds
 * KDC_COAP_REQ_BODY_MAX or KDC_COAP_PENDING_MAX requests are in flight,
 * KDC_ERR_CLOSED if the session is gone or not established,
 * KDC_ERR_INVALID_ARG (a path over KDC_COAP_PATH_MAX, with a leading or
 * an empty segment), KDC_ERR_NOMEM.
 */
kdc_err	kdc_coap_request(struct kdc_coap_peer *p, uint8_t method,
	    const char *path, int content_format, int accept,
	    const uint8_t *payload, size_t len, kdc_coap_done_fn done,
	    void *arg);

/* An option of the caller's own on a request (kdc_coap_request2()):
 * OCF's version options 2049/2053 with KDC_COAP_OCF_VERSION_1_0. */
struct kdc_coap_reqopt {
	uint16_t	 num;
	const uint8_t	*val;
	size_t		 len;	/* 0..KDC_COAP_REQ_OPT_LEN */
};

struct kdc_coap_req {
	uint8_t		 method;
	const char	*path;		/* as kdc_coap_request()'s */
	const char	*query;		/* NULL or "": none; else items joined
					 * by '&' ("rt=oic.r.doxm"), each one
					 * Uri-Query option */
	int		 content_format;	/* KDC_CF_NONE: none */
	int		 accept;		/* KDC_CF_NONE: none */
	const uint8_t	*payload;	/* copied */
	size_t		 len;
	const struct kdc_coap_reqopt *opts;	/* copied; any order */
	size_t		 nopts;
};

/*
 * kdc_coap_request() with a query and options of the caller's own (OCF:
 * Content-Format 10000 and 2049/2053 = 0x0800). Every message of the
 * request (Block1 blocks, Block2 follow-ups, retransmissions) carries
 * them all. As kdc_coap_request() otherwise; also KDC_ERR_INVALID_ARG
 * for rq NULL, a query item empty or over 255 bytes, more than
 * KDC_COAP_QUERY_MAX items, more than KDC_COAP_REQ_OPTS_MAX options, a
 * value over KDC_COAP_REQ_OPT_LEN bytes (or len without val), and an
 * option number 0 or one the engine writes or acts on itself (Observe,
 * Uri-Path, Content-Format, Max-Age, Uri-Query, Accept, Location-*,
 * Block1/2, Size1/2: give those through the fields above).
 *
 * Answers, to either call: RFC 7252 §5.4.1, an answer carrying a
 * critical option we do not know is rejected (a CON one with RST) and
 * done gets KDC_ERR_UNSUPPORTED; OCF's 2049 and 2053 are known, 2053's
 * value is in rsp->ocf_version.
 */
kdc_err	kdc_coap_request2(struct kdc_coap_peer *p,
	    const struct kdc_coap_req *rq, kdc_coap_done_fn done, void *arg);

#endif
