/*
 * kdcdev_config.h: compile-time limits of libiotkdc-device.
 *
 * Every buffer of the client core is a fixed array inside the caller's
 * struct kdcdev_lwm2m, sized here. Override any of these with -D (or by
 * including your own definitions before kdcdev.h); each default says why
 * that number.
 */
#ifndef KDCDEV_CONFIG_H
#define KDCDEV_CONFIG_H

/* Security (/0) instances: the bootstrap account, one or two LwM2M
 * servers, and one spare so a re-bootstrap can write before it deletes. */
#ifndef KDCDEV_MAX_SECURITY
#define KDCDEV_MAX_SECURITY	4
#endif

/* Server (/1) instances: the BS account has none; one DM server plus one
 * spare. */
#ifndef KDCDEV_MAX_SERVER
#define KDCDEV_MAX_SERVER	2
#endif

/* /0/x/0 Server URI: "coaps://" + a DNS name (253) would need 261; 128
 * covers every host name we deploy with and keeps the context small. */
#ifndef KDCDEV_URI_MAX
#define KDCDEV_URI_MAX		128
#endif

/* /0/x/3 PSK identity, client SPKI DER or client certificate DER. A P-256
 * certificate with a few extensions is ~600 bytes; RSA-2048 ~ 900. */
#ifndef KDCDEV_IDENTITY_MAX
#define KDCDEV_IDENTITY_MAX	1024
#endif

/* /0/x/4 server SPKI DER, server certificate DER or CA certificate DER. */
#ifndef KDCDEV_SERVER_KEY_MAX
#define KDCDEV_SERVER_KEY_MAX	1024
#endif

/* /0/x/5 PSK (16..64 bytes) or PKCS#8 DER private key: P-256 is 138
 * bytes, P-384 185, Ed25519 48. RSA keys (>1.2 KB) are not supported. */
#ifndef KDCDEV_SECRET_MAX
#define KDCDEV_SECRET_MAX	256
#endif

/* Endpoint client name (ep=): a urn:dev:... or a serial number. */
#ifndef KDCDEV_EP_MAX
#define KDCDEV_EP_MAX		128
#endif

/* /1/x/7 binding: "U", "UQ", "T", "UQS" at most in LwM2M 1.1. */
#ifndef KDCDEV_BINDING_MAX
#define KDCDEV_BINDING_MAX	8
#endif

/* Registration location ("rd/<id>") as returned in Location-Path. */
#ifndef KDCDEV_LOCATION_MAX
#define KDCDEV_LOCATION_MAX	64
#endif

/* Uri-Path segments the core looks at: /oid/iid/rid plus "bs". */
#ifndef KDCDEV_MAX_PATH
#define KDCDEV_MAX_PATH		4
#endif

/* Smallest I/O buffer the caller must give kdcdev_coap_dispatch() and the
 * register builders: one full /0 instance in TLV (3 opaque values at their
 * maxima plus headers) fits in 2560 bytes. */
#ifndef KDCDEV_BUF_MIN
#define KDCDEV_BUF_MIN		2560
#endif

/* Serialized state (kdcdev_state_encode): header + every instance at its
 * maximum size. */
#define KDCDEV_STATE_MAX	(32 + KDCDEV_EP_MAX + KDCDEV_LOCATION_MAX + \
	KDCDEV_MAX_SECURITY * (32 + KDCDEV_URI_MAX + KDCDEV_IDENTITY_MAX + \
	KDCDEV_SERVER_KEY_MAX + KDCDEV_SECRET_MAX) + \
	KDCDEV_MAX_SERVER * (16 + KDCDEV_BINDING_MAX))

/* Log levels compiled in: 0 err, 1 warn, 2 info, 3 debug. Calls above it
 * compile to nothing (libcoap COAP_MAX_LOGGING_LEVEL). */
#ifndef KDCDEV_MAX_LOG_LEVEL
#define KDCDEV_MAX_LOG_LEVEL	3
#endif

#if KDCDEV_MAX_SECURITY < 2 || KDCDEV_MAX_SECURITY > 255
#error "KDCDEV_MAX_SECURITY must be 2..255 (the BS account plus a server)"
#endif
#if KDCDEV_MAX_SERVER < 1 || KDCDEV_MAX_SERVER > 255
#error "KDCDEV_MAX_SERVER must be 1..255"
#endif
#if KDCDEV_SECRET_MAX < 16
#error "KDCDEV_SECRET_MAX must hold at least a 128-bit PSK"
#endif
#if KDCDEV_IDENTITY_MAX > 65535 || KDCDEV_SERVER_KEY_MAX > 65535 || \
    KDCDEV_SECRET_MAX > 65535 || KDCDEV_URI_MAX > 65535
#error "value limits must fit the state file's 16-bit lengths"
#endif
#if KDCDEV_EP_MAX > 255 || KDCDEV_LOCATION_MAX > 255 || KDCDEV_BINDING_MAX > 255
#error "names must fit the state file's 8-bit lengths"
#endif
#if KDCDEV_MAX_PATH < 3
#error "KDCDEV_MAX_PATH must allow /oid/iid/rid"
#endif

/* ---- ACE resource server (kdcdev_rs, ace_rs.c) ---------------------------- */

/* Access tokens the RS keeps (RFC 9200 §5.10.1: at least one; one per PoP
 * key). Each slot is 208 bytes. A lock serves a handful of clients. */
#ifndef KDCDEV_RS_TOKENS
#define KDCDEV_RS_TOKENS	16
#endif

/* Revoked token hashes remembered after a TRL update (RFC 9770), so a
 * revoked token POSTed again is refused: 34 bytes each. */
#ifndef KDCDEV_RS_TRL
#define KDCDEV_RS_TRL		32
#endif

/* PoP key id: the AS makes 16-byte kids (core/ace.h KDC_ACE_KID_MAX);
 * twice that for other ASes. */
#ifndef KDCDEV_RS_KID_MAX
#define KDCDEV_RS_KID_MAX	32
#endif

/* cti: the AS makes 16 bytes; exi tokens carry RS id + counter. */
#ifndef KDCDEV_RS_CTI_MAX
#define KDCDEV_RS_CTI_MAX	32
#endif

/* The RS's audience name (the AS's registered audience, a KDC name). */
#ifndef KDCDEV_RS_AUD_MAX
#define KDCDEV_RS_AUD_MAX	64
#endif

/* Rules of the scope map (kdcdev_rs_rule): scope names are bits of a
 * 32-bit set, so at most 32 distinct names. */
#ifndef KDCDEV_RS_RULES_MAX
#define KDCDEV_RS_RULES_MAX	16
#endif
#if KDCDEV_RS_TOKENS < 1 || KDCDEV_RS_TRL < 1
#error "the RS keeps at least one token and one revoked hash"
#endif
#if KDCDEV_RS_KID_MAX > 255 || KDCDEV_RS_CTI_MAX > 255
#error "kid and cti lengths are stored in 8 bits"
#endif

#endif
