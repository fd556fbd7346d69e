/*
 * limits.h: every tunable limit of the server, each with why that number.
 */
#ifndef KDC_LIMITS_H
#define KDC_LIMITS_H

/* Device id, e.g. "urn:dev:ops:..." or an LwM2M endpoint name. 255 fits
 * any URN we have seen and a SAN URI in a certificate comfortably. */
#define KDC_DEVID_MAX		255
/* Profile, audience, CA and actor names: short operator-chosen labels. */
#define KDC_NAME_MAX		64
/* PSK identity: RFC 4279 allows 2^16-1, but libcoap 4.3.1 treats it as a
 * C string and RFC 7925 devices use short ids; 128 bytes is plenty. */
#define KDC_PSK_IDENTITY_MAX	128
/* PSK: at least 128 bits (DESIGN §6), at most 64 bytes (RFC 4279 bound). */
#define KDC_PSK_MIN		16
#define KDC_PSK_MAX		64
/* Operational PSKs the KDC generates: a profile's psk_key_bytes, 16 by
 * default (128 bits, DESIGN §6: the most tinydtls clients such as
 * Wakaama and Contiki-NG hold), at most 32 (256 bits). */
#define KDC_PSK_GEN_DEFAULT	16
#define KDC_PSK_GEN_MAX		32
/* tinydtls' DTLS_PSK_MAX_CLIENT_IDENTITY_LEN: the operational PSK
 * identities a profile makes by default fit it. */
#define KDC_PSK_ID_TINYDTLS	32
/* SubjectPublicKeyInfo DER: P-256 is 91 bytes, Ed25519 44; 1 KiB leaves
 * room without admitting RSA-16384 sized junk. */
#define KDC_SPKI_MAX		1024
/* A device certificate or CSR, DER or PEM: 8 KiB is ~10x a P-256 leaf. */
#define KDC_CERT_MAX		8192
#define KDC_CSR_MAX		8192
/* A manufacturer CA file (PEM, may hold a chain). */
#define KDC_CAFILE_MAX		65536
/* One manifest line (JSON object). Bounded before jansson sees it. */
#define KDC_MANIFEST_LINE_MAX	4096
#define KDC_STR_(x)		#x
#define KDC_STR(x)		KDC_STR_(x)
/* A whole manifest file: 1M devices at ~200 bytes per line. */
#define KDC_MANIFEST_MAX	(256L * 1024 * 1024)
/* Serial number of issued certificates: 16 bytes (128 bits, top bit
 * cleared to stay positive: >= 64 random bits per CA/B BR and the issue). */
#define KDC_SERIAL_LEN		16
/* Audit detail text. */
#define KDC_AUDIT_DETAIL_MAX	512
/* Wrapping: version(1) + nonce(12) + tag(16). */
#define KDC_WRAP_OVERHEAD	29
/* Private key PEM/DER at rest (PKCS#8 of P-256 or Ed25519 is < 256 B). */
#define KDC_PRIVKEY_MAX		4096
/* HTTP request body cap before authentication. */
#define KDC_HTTP_BODY_MAX	(64 * 1024)

/* A connection with no traffic at all is dropped after 10 s (MHD's
 * inactivity timeout; it restarts on every byte, so alone it does not stop
 * a slowloris: see the two deadlines below). */
#define KDC_HTTP_CONN_TIMEOUT	10
/* From accept (or from the end of the previous response on a kept-alive
 * connection) to the last header byte: TLS handshake plus request line and
 * headers. An admin client needs ~2 RTT and a few hundred bytes; 10 s
 * leaves room for a slow link. A slowloris (headers trickled one byte at a
 * time) holds a slot at most this long. Enforced by http.c's watchdog. */
#define KDC_HTTP_HEADER_TIMEOUT	10
/* From the last header byte to the end of the response: the body (at most
 * KDC_HTTP_BODY_MAX kept, KDC_HTTP_DRAIN_MAX drained: 1 MiB in 30 s is
 * ~35 KB/s), the handler, and sending the answer. A slow-body client
 * holds a slot at most header + this. */
#define KDC_HTTP_REQUEST_TIMEOUT	30
/* Concurrent connections: far above an admin API's needs, far below
 * what would exhaust descriptors (the CoAP faces share the process). At
 * this limit MHD stops accepting: new connections wait in the kernel's
 * listen backlog until a slot frees. */
#define KDC_HTTP_CONN_MAX		256
/* Concurrent connections from one IP address ([http] conns_per_address,
 * at most KDC_HTTP_CONN_PER_ADDR_MAX). An admin tool, a monitoring probe
 * and a browser (6 per host) fit in 16; one address alone can hold at most
 * 1/16 of KDC_HTTP_CONN_MAX, so filling the listener takes 16 addresses
 * that all keep renewing their connections (the deadlines above free every
 * slot within 40 s). */
#define KDC_HTTP_CONN_PER_ADDR	16
/* The highest per-address limit the config accepts: a quarter of the
 * listener, so at least 4 addresses are always needed to fill it. */
#define KDC_HTTP_CONN_PER_ADDR_MAX	(KDC_HTTP_CONN_MAX / 4)
/* Rate-limited warnings (a connection limit reached): at most one line per
 * this many seconds per kind; the lines in between are counted. */
#define KDC_HTTP_WARN_PERIOD	10
/* The deadline watchdog's period: the resolution of the two deadlines. */
#define KDC_HTTP_WATCH_TICK_MS	250
/* The body of a refused request is read (and dropped) up to this size,
 * so the client, still sending, sees the refusal rather than a reset.
 * See answer_now(). */
#define KDC_HTTP_DRAIN_MAX		(1024 * 1024)
/* kdc_http_stop() waits this long for requests in flight. */
#define KDC_HTTP_DRAIN_MS		5000
/* Client chains the listener remembers having verified (http.c
 * chain_cache): a returning client's new connection skips ~200 us of
 * nettle and X.509 parsing. 64 clients reconnecting in turn all hit; one
 * entry is ~100 bytes and its DN. Round-robin beyond that. */
#define KDC_HTTP_CHAIN_CACHE		64

/* Longest device chain kdc_cert_verify_chain() takes, leaf included: a
 * manufacturer PKI is root -> (one or two intermediates) -> device; 8 leaves
 * room and bounds the work a peer can ask for. */
#define KDC_CHAIN_MAX		8

/* ---- CoAP(S) face (src/coap/) ------------------------------------------ */
/* Endpoints per engine: "kdc" and "lwm2m" today, room for a test NoSec one
 * and a few more without a heap list. */
#define KDC_COAP_EP_MAX			8
/* Routes per engine: the faces register a few dozen (EST, ACE, LwM2M). */
#define KDC_COAP_ROUTE_MAX		64
/* DTLS sessions in handshake at once, all threads ([coap] max_handshakes).
 * Only a cookie-verified ClientHello (a real source address) makes one;
 * legitimate peers finish in ~2 RTT, a stuck one is dropped after
 * KDC_COAP_HANDSHAKE_MS. */
#define KDC_COAP_HANDSHAKE_MAX		2048
/* Idle DTLS sessions kept (libcoap drops the oldest idle one beyond).
 * perf.md targets 100k sessions per instance; this is the default cap. */
#define KDC_COAP_IDLE_MAX		100000
/* An idle session is dropped after this many seconds (LwM2M lifetime
 * default 300 s; a device re-handshakes after). */
#define KDC_COAP_SESSION_TIMEOUT	300
/* kdc_coap_run() wakes at least this often to see kdc_coap_stop() and the
 * request deadlines: the stop latency and the deadline resolution. */
#define KDC_COAP_TICK_MS		100
/* Requests in flight to peers (bootstrap writes): each peer rarely has more
 * than one (NSTART = 1); bounds memory if a face misbehaves. */
#define KDC_COAP_PENDING_MAX		4096
/* Deadline of one request to a peer. RFC 7252 EXCHANGE_LIFETIME is 247 s;
 * a bootstrap step that waits longer than 60 s has failed for practical
 * purposes, and libcoap's own give-up (MAX_TRANSMIT_WAIT, 93 s) is later. */
#define KDC_COAP_REQUEST_TIMEOUT_MS	60000
/* Identities and addresses as text in logs. */
#define KDC_COAP_ADDR_TEXT		80
/* Requests answered later (separate responses, RFC 7252 §5.2.2) held at
 * once by an engine: each holds its request and a session reference. */
#define KDC_COAP_LATER_MAX		4096
/* fds an engine polls besides its sockets (a worker pool's eventfd). */
#define KDC_COAP_WATCH_MAX		4
/* Plain-CoAP multicast requests (coap.h kdc_coap_multicast()) in flight
 * at once per engine: each has its own ephemeral socket. OCF discovery
 * sends one per group (ff02::158, 224.0.1.187). */
#define KDC_COAP_MC_MAX			4
/* Answers handed to the caller per multicast request (the rest counted
 * and dropped): a discovery on one link of a site. */
#define KDC_COAP_MC_ANSWERS_MAX		256
/* The longest window a multicast request may wait for answers (RFC 7252
 * §8.2 Leisure defaults to 5 s; a caller wanting more sends again). */
#define KDC_COAP_MC_WINDOW_MAX_MS	60000
/* Addresses (prefixes) of the request's interface an answer may come
 * from, besides IPv6 link-local ones. */
#define KDC_COAP_MC_PREFIX_MAX		16
/* CoAP engine threads ([coap] threads bounded by this). */
#define KDC_COAP_THREADS_MAX		64
/* Sessions held at once, all engine threads ([coap] max_sessions). With
 * our record layer an idle session costs a few hundred bytes: 1M fit in
 * well under 2 GiB. Past it, stale sessions give way, else new
 * handshakes are refused. */
#define KDC_COAP_SESSIONS_MAX		1000000
/* New handshakes per second, all threads ([coap] handshake_rate): ~4x
 * what 2 cores complete, so only a flood of cookie-verified hellos (real
 * source addresses) meets it. */
#define KDC_COAP_HANDSHAKE_RATE		20000
/* Sessions one credential may hold ([coap] sessions_per_credential):
 * past it its least recently made session is closed. A device needs one
 * or two (a bootstrap overlapping a registration); a probe held 4,000
 * with one manufacturer credential. */
#define KDC_COAP_SESSIONS_PER_CRED	8
/* A session idle this long may be evicted when the table is full
 * ([coap] stale_seconds; Californium's threshold is 30 min, ours is
 * shorter: KDC-face sessions live seconds). */
#define KDC_COAP_STALE_S		60
/* A handshake that has not finished after this long is dropped (GnuTLS
 * total timeout; RFC 6347 retransmissions 1, 2, 4, 8 s fit). */
#define KDC_COAP_HANDSHAKE_MS		15000
/* DTLS 1.2 session ticket lifetime (resumption for RPK/X.509 devices);
 * every resumed session is checked against the store again anyway. */
#define KDC_COAP_TICKET_S		3600
/* The datagram size GnuTLS fills with a flight (IPv4/Ethernet path less
 * headers; larger flights go out record by record). */
#define KDC_COAP_DTLS_MTU		1400
/* Our message layer (coap/xl.h), RFC 7252 §4.8 transmission parameters:
 * ACK_TIMEOUT and MAX_RETRANSMIT as the RFC gives them (a CON is given up
 * after ~45-93 s), EXCHANGE_LIFETIME for what a retransmission may still
 * ask for (a dedup entry, a stalled Block1 body, a Block2 answer). */
#define KDC_COAP_ACK_TIMEOUT_MS		2000
#define KDC_COAP_MAX_RETRANSMIT		4
#define KDC_COAP_EXCHANGE_LIFETIME_MS	247000
/* The largest CoAP message we send (one DTLS record's plaintext; we
 * accept up to wire.h's KDC_COAP_DGRAM_MAX, 1152): a libcoap 4.3.1 peer
 * takes at most its MTU 1152 less its GnuTLS DTLS overhead 37, and
 * answers a longer message with an RST of MID 0 (docs/traps.md). A
 * 1024-byte block still fits with 78 bytes of header, token, options. */
#define KDC_COAP_SEND_MAX		1115
/* Block1 bodies being joined at once per engine: each at most
 * KDC_COAP_BODY_MAX (8 KiB), so at most 8 MiB; one per peer. */
#define KDC_COAP_BODIES_MAX		1024
/* Max-Age of the 5.03 a peer gets when KDC_COAP_BODIES_MAX bodies are
 * being joined: long enough for most to finish (a 8 KiB CSR is 8 round
 * trips), short enough for a device to retry soon. */
#define KDC_COAP_BODIES_RETRY_S		5
/* Answers kept per engine for retransmitted CONs (a ring, each a datagram
 * of at most 1152 bytes, usually < 300): at 5,000 requests/s it covers
 * ~6.5 s, the first two retransmissions (2-3 s, 6-9 s) of a lost answer;
 * at most ~38 MiB. */
#define KDC_COAP_DEDUP_MAX		32768
/* Observations (RFC 7641) per engine: the ACE token revocation list is
 * observed by resource servers, a few hundred at most; each costs ~1.2 KB
 * (its request kept to run again), so at most ~5 MB. */
#define KDC_COAP_OBSERVERS_MAX		4096

/* ---- worker pool (core/pool.h) ----------------------------------------- */
/* Worker threads per pool ([coap] sign_threads is bounded by this). */
#define KDC_POOL_THREADS_MAX		64
/* Jobs waiting for a worker: at ~400 µs a job and 2 workers, 256 is
 * ~50 ms of work; past it the EST face answers 5.03 with Max-Age (RFC
 * 9148 §4.7) instead of queueing without bound. */
#define KDC_POOL_QUEUE_MAX		256
/* Jobs a pool worker takes at once (pool.h batch): one group commit */
#define KDC_POOL_BATCH_MAX		8

/* A request body the KDC sends to a device (kdc_coap_request), sent
 * block-wise when larger than a datagram: a Bootstrap-Write of /0 with a
 * certificate, a PKCS#8 key and the server certificate is ~1.5 KiB. */
#define KDC_COAP_REQ_BODY_MAX	16384
/* Options of our own a request carries (coap.h kdc_coap_request2():
 * OCF's 2049/2053), and the bytes of each one's value. */
#define KDC_COAP_REQ_OPTS_MAX	4
#define KDC_COAP_REQ_OPT_LEN	16
/* A TLS PRF output a client session keeps from its handshake
 * (kdc_coap_client_opts prf_*): OCF's largest key_block is 96 bytes
 * (2 x (32 MAC + 16 key) for the CBC-SHA256 suites). */
#define KDC_COAP_PRF_MAX	128
#define KDC_COAP_PRF_LABEL_MAX	64

/* Audited refusals of unauthenticated peers (failed handshakes): 20 a
 * second, bursts of 100. A record is ~300 bytes: a flood costs at most
 * ~0.5 GB a day instead of whatever the attacker's bandwidth allows; the
 * operator log and the "+N not recorded" note keep the count. */
#define KDC_AUDIT_UNAUTH_RATE	20
#define KDC_AUDIT_UNAUTH_BURST	100
/* Info lines a peer can cause (refused handshakes, sessions closed): 5 per
 * second, bursts of 20, per engine (base/log.h kdc_log_limit); the next
 * line written says how many were dropped. */
#define KDC_LOG_PEER_RATE	5
#define KDC_LOG_PEER_BURST	20

/* ---- revocation and expiry ---------------------------------------------- */
/* How often `serve`'s CoAP engine reads the store's revocation generation
 * (core/revoke.h): a revocation closes live sessions within this (plus
 * one engine tick). One indexed meta read each time. */
#define KDC_REVOCATION_POLL_MS	200
/* A CRL's nextUpdate is thisUpdate + 1 day (RFC 5280 5.1.2.5). A relying
 * party that caches the CRL until nextUpdate sees a revocation at most a
 * day late even if it never refetches, and the CRL is rebuilt on every
 * revocation anyway: a short window costs one ECDSA signature a day. */
#define KDC_CRL_VALIDITY	86400
/* The cached CRL is re-signed once less than this is left before its
 * nextUpdate, so what we serve is always valid for >= 12 h: a party that
 * fetches just before a rebuild is not left with a stale CRL at once. */
#define KDC_CRL_RENEW_BEFORE	(KDC_CRL_VALIDITY / 2)
/* Default period of `serve`'s expiry sweep ([kdc] sweep_seconds): a
 * credential past not_after is refused at authentication anyway (core
 * checks not_after), so the sweep only marks rows and audits; a minute
 * keeps `cred list` current without measurable load. */
#define KDC_SWEEP_PERIOD_S	60

/* A store connection that defers its syncs (serve's CoAP thread) syncs a
 * commit that issued nothing (an activation, a registration, an audit
 * record) at most this late: what a power loss may take of them. Issued
 * credentials are synced before they leave, whatever this says. 50 ms is
 * ~100 fdatasyncs' worth of load at most, and below an operator's notice. */
#define KDC_STORE_SYNC_DELAY_MS	50

/* ---- DNS-SD (tdd/dnssd.h) ----------------------------------------------- */
/* With no D-Bus system bus (no avahi-daemon can be there either), serve
 * tries to reach it again this often: one failed connect() to a Unix
 * socket each time, and an operator who starts avahi-daemon sees the
 * directory advertised within 5 s. (A bus without the daemon needs no
 * polling: Avahi's client waits for the daemon's name on the bus.) */
#define KDC_DNSSD_RETRY_MS	5000

#endif
