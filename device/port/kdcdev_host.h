/*
 * kdcdev_host.h: the host (POSIX) port of libiotkdc-device. It moves the
 * core's requests over libcoap 4.3.1 (GnuTLS backend: DTLS with PSK, RPK
 * or X.509), and keeps the state in a file. Unlike the core, this port
 * allocates (libcoap and GnuTLS do); it is not meant for microcontrollers.
 *
 * Every call runs its own libcoap context to completion or to timeout_ms
 * (an overall deadline, CoAP retransmissions included) and returns a
 * kdc_err: KDC_ERR_TIMEOUT, _TLS (handshake or credential setup),
 * _PEER_RESET, _PEER_ERROR (a 4.xx/5.xx answer; *code says which),
 * _CLOSED, _INVALID_ARG (bad URI or account), _IO, or KDC_OK. Failures are
 * also recorded as the context's sticky error where a context is given.
 */
#ifndef KDCDEV_HOST_H
#define KDCDEV_HOST_H

#include "kdcdev.h"

/* Route libcoap's and GnuTLS's log lines (level 0..3 as kdcdev's) into the
 * context's log callback; call once before anything else. */
void	kdcdev_host_init(int verbosity);

/*
 * Client-initiated bootstrap (LwM2M 1.1 Core §5.2.7.1) with the bootstrap
 * account of c: DTLS to its URI, CON POST /bs?ep=..&pct=pct (pct < 0:
 * none), expect 2.04, then answer the server's requests through
 * kdcdev_bs_handle() until Bootstrap-Finish was answered 2.04. KDC_OK
 * means c->bs_finished is set; the caller saves the state.
 */
/* Fault injection for tests: stop answering a bootstrap server at its
 * first Write (PUT) or at Finish (POST /bs), and from then on. */
enum kdcdev_fault {
	KDCDEV_FAULT_NONE = 0,
	KDCDEV_FAULT_AT_WRITE,
	KDCDEV_FAULT_AT_FINISH,
};
void	kdcdev_host_fault(enum kdcdev_fault f);

kdc_err	kdcdev_host_bootstrap(struct kdcdev_lwm2m *c, int32_t pct,
	    unsigned timeout_ms);

/*
 * Server-initiated bootstrap (LwM2M 1.1 Core, "Server Initiated Bootstrap"):
 * listen for DTLS 1.2 on udp addr:port (a numeric IPv4 or IPv6 address)
 * as the server, accepting exactly the PSK identity and key of c's
 * bootstrap account (mode PSK), and answer the Bootstrap Server's
 * Discover, Delete, Write (Block1 joined by libcoap) and Finish through
 * kdcdev_bs_handle(), as kdcdev_host_bootstrap() does after its /bs
 * request. Once bound, ready(ready_arg, "ADDR:PORT") is called (may be
 * NULL). KDC_OK means Finish was answered 2.04 (c->bs_finished); the
 * caller saves the state. Errors: KDC_ERR_INVALID_ARG (no PSK bootstrap
 * account, bad address or port 0), _IO (cannot bind), _TLS (context
 * setup, or a handshake failed: a wrong key), _DENIED (a client offered
 * another PSK identity), _PEER_ERROR (we refused one of the server's
 * requests, 4.xx/5.xx: nobody retries it for us), _TIMEOUT (no Finish
 * within timeout_ms, counted from the call), _UNSUPPORTED (the server
 * account was written in security mode 4, which needs the EST exchange
 * of the client-initiated bootstrap). A session the server closes before
 * Finish is not an error: it may come back on another one.
 */
typedef void (*kdcdev_host_ready_fn)(void *arg, const char *where);
kdc_err	kdcdev_host_listen(struct kdcdev_lwm2m *c, const char *addr,
	    uint16_t port, kdcdev_host_ready_fn ready, void *ready_arg,
	    unsigned timeout_ms);

/*
 * Register with the LwM2M server account of c (kdcdev_dm_account()),
 * lifetime 0 = /1/x/1; then, when deregister is set, De-register on the
 * same DTLS session. The location the server gave ("rd/ID") is copied
 * into loc (capacity loc_cap, may be NULL) before any De-register; c->location
 * keeps it while registered.
 */
kdc_err	kdcdev_host_register(struct kdcdev_lwm2m *c, uint32_t lifetime,
	    bool deregister, char *loc, size_t loc_cap, unsigned timeout_ms);

/*
 * One request over the security account sec (any mode; its uri is the
 * target): method on path ('/'-separated), answer code in *code and up
 * to *out_len payload bytes in out (*out_len updated). For tools and tests.
 */
kdc_err	kdcdev_host_request(const struct kdcdev_security *sec, uint8_t method,
	    const char *path, uint8_t *code, uint8_t *out, size_t *out_len,
	    unsigned timeout_ms);

/*
 * The same with a whole request m (method, path, query, Content-Format,
 * payload; kdcdev_msg's fields): for the ACE client (POST /token with an
 * ace+cbor body, POST /authz-info with a CWT). A payload longer than
 * *out_len is cut to it (the caller's parser sees a truncated body).
 */
kdc_err	kdcdev_host_exchange(const struct kdcdev_security *sec,
	    const struct kdcdev_msg *m, uint8_t *code, uint8_t *out,
	    size_t *out_len, unsigned timeout_ms);

/*
 * The ACE resource server (kdcdev.h "ACE resource server") on UDP: plain
 * CoAP on addr:coap_port and DTLS CoAP on addr:coaps_port (either port 0:
 * not opened). Resources: POST /authz-info on both (RFC 9202 §3.3 lets
 * the client POST its token unprotected; the token protects itself) and
 * every path of rs's scope map, whose requests are checked with
 * kdcdev_rs_access() for the kid of the session's PSK, or with
 * kdcdev_rs_access_rpk() for the client's raw public key (plain CoAP or
 * a DTLS session without either: 4.01 with the creation hints).
 * DTLS-PSK: the handshake's PSK is kdcdev_rs_psk_lookup()'s for the
 * client's psk_identity; an unknown kid fails the handshake. DTLS-RPK
 * (RFC 7250, when opts gives the RS's own key): the client must present
 * a raw public key that kdcdev_rs_rpk_lookup() knows (a stored token's
 * cnf), else the handshake fails (access_denied). Before each request
 * the session's key is checked against the stored tokens again (a token
 * that expired, was revoked or superseded ends the session's rights).
 * The resources act on a lock (the scope map's lock/open, lock/close,
 * lock): POST lock/open and lock/close answer 2.04 and set its state,
 * GET lock answers 2.05 "open" or "closed" (text/plain); any other path
 * of a custom scope map answers 2.05 with no payload once allowed.
 *
 * TRL (RFC 9770, when opts->trl_as is set): the RS opens a DTLS-PSK
 * session to the AS (coaps://HOST:PORT) with trl_psk_id / trl_psk (the
 * RS is a device of the AS named after its audience) and GETs /trl with
 * Observe: 0; each answer and notification (a full set) goes through
 * kdcdev_rs_trl_body(), which drops revoked tokens at once and logs each
 * at info with its hash. It registers again (the same token) when the
 * answer's Max-Age (default 60 s; at most trl_refresh seconds when that
 * is nonzero) has passed, which re-fetches the list and revives an
 * observation the AS lost; a GET unanswered in 8 s, a failed session or
 * a retransmission timeout makes a new session (2 s later); a 4.xx
 * answer is logged and retried after 60 s. A TRL failure never stops
 * the resource server.
 *
 * ready(arg, "ADDR coap PORT coaps PORT2") once bound (may be NULL).
 * Serves until *stop becomes nonzero (checked every 200 ms; may be NULL)
 * or timeout_ms passes (0: no deadline): KDC_OK. INVALID_ARG for a bad
 * address, both ports 0, an RPK key without coaps_port or SPKI, a bad
 * trl_as URI (coaps:// only) or PSK; IO when a port cannot be bound, TLS
 * when the DTLS context cannot be made (e.g. a key libcoap refuses),
 * NOMEM. opts may be NULL (PSK only, no TRL); its keys are copied.
 */
struct kdcdev_host_rs_opts {
	/* the RS's own key for DTLS-RPK: PKCS#8 DER and SPKI DER (P-256);
	 * rpk_key NULL: PSK only */
	const uint8_t	*rpk_key;	size_t	 rpk_key_len;
	const uint8_t	*rpk_spki;	size_t	 rpk_spki_len;
	/* the TRL subscription; trl_as NULL: none */
	const char	*trl_as;
	const uint8_t	*trl_psk_id;	size_t	 trl_psk_id_len;
	const uint8_t	*trl_psk;	size_t	 trl_psk_len;
	unsigned	 trl_refresh;	/* seconds; 0: Max-Age only */
};
kdc_err	kdcdev_host_rs_serve(struct kdcdev_rs *rs, const char *addr,
	    uint16_t coap_port, uint16_t coaps_port,
	    const struct kdcdev_host_rs_opts *opts,
	    kdcdev_host_ready_fn ready, void *ready_arg,
	    const volatile int *stop, unsigned timeout_ms);

/* Write the state atomically (temp file, fsync, rename) with mode 0600. */
kdc_err	kdcdev_host_state_save(const struct kdcdev_lwm2m *c,
	    const char *path);
/* Read and decode the state file into c (kdcdev_state_decode()). A file
 * larger than KDCDEV_STATE_MAX is KDC_ERR_TOO_LARGE. */
kdc_err	kdcdev_host_state_load(struct kdcdev_lwm2m *c, const char *path);

/*
 * Key and certificate files (PEM or DER) to the DER the objects hold:
 * a private key to PKCS#8 DER plus its SubjectPublicKeyInfo DER (for
 * RPK); a certificate to DER. Sizes in/out as the codecs do.
 */
kdc_err	kdcdev_host_load_key(const char *file, uint8_t *pkcs8,
	    size_t *pkcs8_len, uint8_t *spki, size_t *spki_len);
kdc_err	kdcdev_host_load_cert(const char *file, uint8_t *der, size_t *der_len);
/* A public key (SPKI PEM/DER) or a certificate file to SPKI DER. */
kdc_err	kdcdev_host_load_pubkey(const char *file, uint8_t *spki,
	    size_t *spki_len);

/*
 * EST-coaps enrollment (RFC 9148) over the security account sec (its uri
 * is the KDC endpoint, coaps://HOST:PORT): generate a fresh P-256 key on
 * the device (GnuTLS), build a PKCS#10 CSR (subject CN = ep, ECDSA-SHA256)
 * and CON POST it (Content-Format 286, Accept 287; Block1 by libcoap when
 * over 1 KiB) to /.well-known/est/sen with the manufacturer credential, or
 * with re set to /.well-known/est/sren with the current operational
 * certificate (sec->mode KDCDEV_MODE_CERT, else KDC_ERR_INVALID_ARG).
 * KDC_OK: the DER certificate, checked to be for the new key, in cert
 * (*cert_len updated) and the new key as PKCS#8 DER in key (*key_len); the
 * key never leaves the device. The answer's code goes to *code (may be
 * NULL); 4.xx/5.xx is KDC_ERR_PEER_ERROR, a non-certificate answer
 * KDC_ERR_MALFORMED. logc (may be NULL) only lends its log callback: no
 * sticky error is set, so a renewal loop may simply call again.
 * A certificate that replaces an issued one stays pending at the KDC until
 * the device first authenticates with it (the old one works until then):
 * on success this call uses it once (GET /crts over a new DTLS session,
 * the server checked against sec's server key or the CA from /crts), so a
 * renewal takes effect at once; if that fails, the next use does it.
 */
kdc_err	kdcdev_host_enroll(struct kdcdev_lwm2m *logc,
	    const struct kdcdev_security *sec, const char *ep, bool re,
	    uint8_t *cert, size_t *cert_len, uint8_t *key, size_t *key_len,
	    uint8_t *code, unsigned timeout_ms);
/* Validity (Unix seconds; either may be NULL) and serial (upper-case hex,
 * NUL-terminated, capacity serial_cap; may be NULL) of a DER certificate. */
kdc_err	kdcdev_host_cert_info(const uint8_t *der, size_t len,
	    int64_t *not_before, int64_t *not_after, char *serial,
	    size_t serial_cap);
/* Write DER as PEM under label ("CERTIFICATE", "PRIVATE KEY") to path
 * atomically (temp file, fsync, rename); mode 0600 when secret, else 0644. */
kdc_err	kdcdev_host_write_pem(const char *path, const char *label,
	    const uint8_t *der, size_t len, bool secret);

/* ==== OCF device (kdcdev_ocf.h; port/ocf_host.c) ========================= */

#include "kdcdev_ocf.h"

/*
 * The OCF server (issue 16 §2): loads state_file (a new device in RFOTM
 * when it does not exist; saved atomically, mode 0600, after every
 * change) and serves until *stop (checked every 200 ms):
 *   - plain CoAP on addr:port (0: ephemeral), unsecured requests;
 *   - DTLS 1.2 on addr:sport (0: ephemeral), GnuTLS directly, cookies
 *     before any state, at most 8 sessions. In RFOTM one DOC: oxmsel 1
 *     ECDHE-PSK-AES128-CBC-SHA256 with identity "oic.sec.doxm.rdp" and
 *     the PBKDF2 key of the displayed PIN; oxmsel 2 ECDHE-ECDSA-AES-CCM
 *     with the manufacturer certificate (no client certificate asked);
 *     none while oxmsel is 4. Closing the DOC (alert, error, 60 s idle)
 *     while still in RFOTM hard-resets the device. Later: ECDHE-PSK/PSK
 *     sessions whose identity is the client's raw 16-byte uuid, keyed by
 *     the credtype-1 cred of that subject; and, once the device holds an
 *     identity certificate (cred credusage cert, for its own key) and a
 *     trustca cred, ECDHE-ECDSA sessions: the client's certificate is
 *     required, its chain must verify under the trustca creds and its CN
 *     be uuid:<uuid> (that uuid is the peer), else the session ends.
 *   - with iface: ff02::158 (and 224.0.1.187 when iface has IPv4) on
 *     5683 (SO_REUSEADDR/SO_REUSEPORT: several devices coexist), answering
 *     GET /oic/res (rt= filter; as an unsecured request: in RFPRO/RFNOP
 *     only with an anon-clear ACE for it, as the OBT's default ACL gives)
 *     and, while unowned, GET /oic/sec/doxm (no query or owned=FALSE),
 *     with a unicast NON of its own MID (over IPv6 from the coap socket,
 *     the port its eps name; over IPv4 from 5683); nothing otherwise,
 *     errors included.
 * CoAP: CON answered piggybacked, a duplicate CON (same MID, same peer)
 * gets the cached answer; Block1 reassembled up to 4096 bytes (4.13
 * beyond, 4.08 out of order); answers over 1024 bytes as Block2 (SZX 6,
 * or the client's smaller one); unknown critical options 4.02; OCF
 * version options below 2048 4.15.
 * ready(ready_arg, "uuid=UUID coap=PORT coaps=PORT") once listening.
 * Errors: INVALID_ARG (neither pin_file nor mfg_cert, mfg_cert without
 * mfg_key, a bad addr), IO (cannot bind), TLS (the manufacturer
 * certificate does not load), a state file error (kdcdev_ocf_state_decode).
 */
struct kdcdev_host_ocf_opts {
	const char		*state_file;
	const char		*pin_file;	/* RDP: the PIN is written here */
	const char		*mfg_cert;	/* PEM, with mfg_key: mfgcert */
	const char		*mfg_key;
	const char		*iface;		/* multicast; NULL: none */
	const char		*addr;		/* numeric, "::" any */
	uint16_t		 port, sport;
	int			 verbose;	/* 0..2: log lines on stderr */
	/* fault for tests: after answering this many requests over a DOC,
	 * close it (close_notify), as a device that gives up mid-OTM; 0:
	 * never */
	unsigned		 close_doc_after;
	kdcdev_host_ready_fn	 ready;
	void			*ready_arg;
	const volatile int	*stop;
};
kdc_err	kdcdev_host_ocf_serve(const struct kdcdev_host_ocf_opts *o);

/* The OCF state file (kdcdev_ocf_state_encode), atomically with mode 0600;
 * load: NOT_FOUND when the file does not exist. */
kdc_err	kdcdev_host_ocf_save(const struct kdcdev_ocf *d, const char *path);
kdc_err	kdcdev_host_ocf_load(struct kdcdev_ocf *d, const char *path);

/*
 * The client side for tests (ocf-get/ocf-post): one DTLS-PSK session to
 * peer ("ADDR:PORT", "[V6]:PORT") as the device of state_file: identity
 * its raw deviceuuid, key the credtype-1 cred whose subject is peer_uuid;
 * one CON request (method, path, payload as CF 10000), its answer code
 * and up to *out_len payload bytes. Errors: NOT_FOUND (no state file, or
 * no cred for peer_uuid), INVALID_ARG, IO, TLS (handshake refused),
 * TIMEOUT, CLOSED.
 */
kdc_err	kdcdev_host_ocf_request(const char *state_file, const char *peer,
	    const char *peer_uuid, uint8_t method, const char *path,
	    const uint8_t *payload, size_t payload_len, uint8_t *code,
	    uint8_t *out, size_t *out_len, unsigned timeout_ms);

#endif
