/*
 * config.c: iotkdc.conf. One table lists every key (section, name, type,
 * default, range, field); the defaults, the parser and the writer all
 * walk that table, so a key is added in one place (Redis standardConfig).
 *
 * inih splits "name = value" and strips comments. It does not give the
 * handler a line number (Debian's libinih is built without
 * INI_HANDLER_LINENO), truncates section names at 50 bytes and folds
 * indented lines into the previous value, so we feed it through our own
 * reader: the reader counts lines, strips leading blanks (no multi-line
 * values), and tracks [section] headers itself, so every error names its
 * line and a long profile name is checked, not cut.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/log.h"
#include "core/config.h"

/* A config file is a few hundred bytes; 1 MiB means someone pointed us
 * at the wrong file. */
#define CONFIG_FILE_MAX		(1024 * 1024)
#define DAY			86400

enum ctype {
	CT_INT,		/* int field, min..max */
	CT_BOOL,	/* int field, 0/1 */
	CT_STRING,	/* char[size], checked by check() */
	CT_ENUM,	/* int-sized field, one of enums[] */
	CT_LIST,	/* char[max][size] + size_t count at off_n */
	CT_DAYS,	/* int64_t seconds, written as days min..max */
	CT_SECONDS,	/* int64_t seconds min..max; "" = unset. When set it
			 * overrides the CT_DAYS key of the same field, in
			 * any order; written only when days cannot say it */
};

enum csect {
	SECT_NONE = 0,
	SECT_KDC,
	SECT_HTTP,
	SECT_CA,
	SECT_COAP,
	SECT_LWM2M,
	SECT_ACE,
	SECT_OCF,
	SECT_TDD,
	SECT_PROFILE,
};

struct enum_val {
	const char	*name;
	int		 val;
};

typedef bool (*check_fn)(const char *v, char *why, size_t why_len);

struct ckey {
	enum csect		 sect;
	const char		*name;
	enum ctype		 type;
	const char		*def;	/* default, in file syntax */
	long			 min;
	long			 max;	/* CT_LIST: max elements */
	size_t			 off;	/* kdc_config/kdc_profile */
	size_t			 size;	/* string/element bytes */
	size_t			 off_n;	/* CT_LIST: the count */
	const struct enum_val	*enums;
	check_fn		 check;	/* CT_STRING, CT_LIST elements */
	const char		*help;
};

static const struct enum_val log_levels[] = {
	{ "err", KDC_LOG_ERR }, { "warn", KDC_LOG_WARN },
	{ "info", KDC_LOG_INFO }, { "debug", KDC_LOG_DEBUG }, { NULL, 0 },
};
static const struct enum_val client_certs[] = {
	{ "none", KDC_CLIENT_CERT_NONE },
	{ "optional", KDC_CLIENT_CERT_OPTIONAL },
	{ "required", KDC_CLIENT_CERT_REQUIRED }, { NULL, 0 },
};
static const struct enum_val on_off[] = {
	{ "on", 1 }, { "off", 0 }, { NULL, 0 },
};
/* Local on purpose: config must not pull the store library in. The
 * strings are the ones kdc_cred_type_str() uses, plus "x509-est": only
 * while parsing or rendering is it a cred_type value (CRED_X509_EST); a
 * parsed profile holds it as cred_type KDC_TYPE_X509 with est set. */
#define CRED_X509_EST	100
static const struct enum_val psk_ids[] = {
	{ "random", KDC_PSK_ID_RANDOM }, { "named", KDC_PSK_ID_NAMED },
	{ NULL, 0 },
};
_Static_assert(sizeof(enum kdc_psk_id) == sizeof(int),
    "enum kdc_psk_id must be int-sized");

static const struct enum_val cred_types[] = {
	{ "psk", KDC_TYPE_PSK }, { "rpk", KDC_TYPE_RPK },
	{ "x509", KDC_TYPE_X509 }, { "x509-est", CRED_X509_EST }, { NULL, 0 },
};

/* Enum fields are written through an int pointer (C11 6.5p7 allows the
 * signed/unsigned variant of the enum's compatible type). */
_Static_assert(sizeof(enum kdc_client_cert) == sizeof(int),
    "enum kdc_client_cert must be int-sized");
_Static_assert(sizeof(enum kdc_cred_type) == sizeof(int),
    "enum kdc_cred_type must be int-sized");

static bool	check_host(const char *, char *, size_t);
static bool	check_address(const char *, char *, size_t);
static bool	check_ca_key(const char *, char *, size_t);
static bool	check_audience(const char *, char *, size_t);
static bool	check_profile_name(const char *, char *, size_t);
static bool	check_ifname(const char *, char *, size_t);

#define CFG(f)	offsetof(struct kdc_config, f)
#define PRO(f)	offsetof(struct kdc_profile, f)
#define FSZ(t, f)	sizeof(((struct t *)0)->f)

static const struct ckey keys[] = {
	{ SECT_KDC, "hosts", CT_LIST, "", 0, KDC_CONFIG_HOSTS_MAX,
	    CFG(hosts), FSZ(kdc_config, hosts[0]), CFG(nhosts), NULL,
	    check_host,
	    "Extra host names or addresses for the TLS certificate, comma\n"
	    "# separated, at most 16 (localhost, 127.0.0.1 and ::1 are always\n"
	    "# in)." },
	{ SECT_KDC, "log_level", CT_ENUM, "info", 0, 0,
	    CFG(log_level), 0, 0, log_levels, NULL,
	    "err, warn, info or debug." },
	{ SECT_KDC, "sweep_seconds", CT_INT, KDC_STR(KDC_SWEEP_PERIOD_S), 1,
	    86400, CFG(sweep_seconds), 0, 0, NULL, NULL,
	    "Seconds between sweeps that mark credentials past their\n"
	    "# not_after as expired (and audit it), 1..86400." },

	{ SECT_HTTP, "address", CT_STRING, "127.0.0.1", 0, 0,
	    CFG(http_address), FSZ(kdc_config, http_address), 0, NULL,
	    check_address,
	    "IPv4 or IPv6 address literal to listen on." },
	{ SECT_HTTP, "port", CT_INT, "8443", 1, 65535,
	    CFG(http_port), 0, 0, NULL, NULL,
	    "TCP port, 1..65535." },
	{ SECT_HTTP, "tls12", CT_BOOL, "false", 0, 1,
	    CFG(http_tls12), 0, 0, NULL, NULL,
	    "Also accept TLS 1.2 (true/false). TLS 1.3 is always on." },
	{ SECT_HTTP, "client_cert", CT_ENUM, "optional", 0, 0,
	    CFG(http_client_cert), 0, 0, client_certs, NULL,
	    "Client certificates from the iotkdc CA: none, optional (a "
	    "client may prove who it is with one: the ACE /token endpoint "
	    "on HTTPS needs it) or required." },
	{ SECT_HTTP, "conns_per_address", CT_INT,
	    KDC_STR(KDC_HTTP_CONN_PER_ADDR), 1, KDC_HTTP_CONN_PER_ADDR_MAX,
	    CFG(http_conns_per_address), 0, 0, NULL, NULL,
	    "Concurrent connections one IP address may hold, 1..64 (the\n"
	    "# listener holds 256): one client cannot take every slot." },
	{ SECT_HTTP, "dnssd", CT_ENUM, "on", 0, 0,
	    CFG(http_dnssd), 0, 0, on_off, NULL,
	    "on or off: advertise the Thing Directory ([tdd] enabled) by\n"
	    "# DNS-SD (_directory._sub._wot._tcp, TXT td=/.well-known/wot,\n"
	    "# type=Directory, scheme=https, on this port) through the\n"
	    "# avahi-daemon, on the interface of address (every interface\n"
	    "# for 0.0.0.0 or ::). Without a daemon serve logs it and\n"
	    "# publishes when one starts." },

	{ SECT_CA, "key", CT_STRING, "file", 0, 0,
	    CFG(ca_key), FSZ(kdc_config, ca_key), 0, NULL, check_ca_key,
	    "Where the CA key lives: \"file\" (in the data dir) or a\n"
	    "# PKCS#11 URL (pkcs11:...)." },
	{ SECT_CA, "days", CT_INT, "3650", 1, 36500,
	    CFG(ca_days), 0, 0, NULL, NULL,
	    "Validity of the CA certificate in days, 1..36500." },
	{ SECT_CA, "tls_days", CT_INT, "825", 1, 36500,
	    CFG(tls_days), 0, 0, NULL, NULL,
	    "Validity of the listeners' TLS certificate in days, 1..36500." },

	{ SECT_COAP, "address", CT_STRING, "127.0.0.1", 0, 0,
	    CFG(coap_address), FSZ(kdc_config, coap_address), 0, NULL,
	    check_address,
	    "IPv4 or IPv6 address literal the CoAPS listeners bind." },
	{ SECT_COAP, "port", CT_INT, "5684", 0, 65535,
	    CFG(coap_port), 0, 0, NULL, NULL,
	    "UDP port of the KDC endpoint (/bs, EST, ACE); 0 turns it off." },
	{ SECT_COAP, "lwm2m_port", CT_INT, "5685", 0, 65535,
	    CFG(lwm2m_port), 0, 0, NULL, NULL,
	    "UDP port of the built-in LwM2M Server; 0 turns it off." },
	{ SECT_COAP, "nosec_port", CT_INT, "0", 0, 65535,
	    CFG(nosec_port), 0, 0, NULL, NULL,
	    "TESTS ONLY: plain-CoAP bootstrap listener on a loopback address\n"
	    "# (no DTLS, no authentication). 0 (the default) keeps it off." },
	{ SECT_COAP, "sign_threads", CT_INT, "2", 0, KDC_POOL_THREADS_MAX,
	    CFG(sign_threads), 0, 0, NULL, NULL,
	    "Threads that run EST enrollments (CSR check, signature, store\n"
	    "# commit) beside the CoAP thread, each with its own store\n"
	    "# connection; a thread commits the enrollments it took together\n"
	    "# in one transaction; answers come as separate responses\n"
	    "# (RFC 9148 4.7).\n"
	    "# 0: enroll on the CoAP thread itself. One per CPU is a good start." },
	{ SECT_COAP, "threads", CT_INT, "0", 0, 256,
	    CFG(coap_threads), 0, 0, NULL, NULL,
	    "CoAP engine threads, each with its own UDP socket per endpoint\n"
	    "# (one SO_REUSEPORT group), sessions and store connection; the\n"
	    "# kernel keeps a peer on one thread. 0: one per CPU." },
	{ SECT_COAP, "max_sessions", CT_INT, "1000000", 1, 100000000,
	    CFG(coap_max_sessions), 0, 0, NULL, NULL,
	    "DTLS sessions held at once, all threads (a few hundred bytes\n"
	    "# each once established). When full, the least recently active\n"
	    "# session idle over stale_seconds gives way; if none is, new\n"
	    "# handshakes are refused (logged, rate-limited)." },
	{ SECT_COAP, "max_handshakes", CT_INT, "2048", 1, 1000000,
	    CFG(coap_max_handshakes), 0, 0, NULL, NULL,
	    "Handshakes in progress at once, all threads. Only a ClientHello\n"
	    "# that returned our stateless cookie (a real source address)\n"
	    "# starts one." },
	{ SECT_COAP, "handshake_rate", CT_INT, "20000", 1, 10000000,
	    CFG(coap_handshake_rate), 0, 0, NULL, NULL,
	    "New handshakes started per second, all threads; past it\n"
	    "# cookie-verified ClientHellos are dropped (the peer retries)." },
	{ SECT_COAP, "sessions_per_credential", CT_INT, "8", 1, 100000,
	    CFG(coap_sessions_per_cred), 0, 0, NULL, NULL,
	    "Sessions one credential may hold; a new one past it closes\n"
	    "# that credential's oldest session." },
	{ SECT_COAP, "idle_timeout", CT_INT, "300", 5, 86400 * 7,
	    CFG(coap_idle_timeout), 0, 0, NULL, NULL,
	    "Seconds after which an idle session is dropped (the device\n"
	    "# handshakes again, from the same port if it likes)." },
	{ SECT_COAP, "stale_seconds", CT_INT, "60", 1, 86400 * 7,
	    CFG(coap_stale), 0, 0, NULL, NULL,
	    "A session idle this long may be evicted when the table is full." },
	{ SECT_COAP, "body_timeout", CT_INT, "247", 1, 3600,
	    CFG(coap_body_timeout), 0, 0, NULL, NULL,
	    "Seconds a request body sent block by block (Block1) may take\n"
	    "# between two blocks before it is dropped (RFC 7252\n"
	    "# EXCHANGE_LIFETIME)." },

	{ SECT_LWM2M, "server_uri", CT_STRING, "", 0, 0,
	    CFG(lwm2m_server_uri), FSZ(kdc_config, lwm2m_server_uri), 0, NULL,
	    NULL,
	    "LwM2M Server URI written into /0/x/0 by the Bootstrap Server;\n"
	    "# empty: coaps://<coap address>:<lwm2m_port>." },
	{ SECT_LWM2M, "lifetime", CT_INT, "300", 30, 86400 * 30,
	    CFG(lwm2m_lifetime), 0, 0, NULL, NULL,
	    "Registration lifetime written into /1/x/1, seconds." },
	{ SECT_LWM2M, "bootstrap_timeout", CT_INT, "60", 1, 3600,
	    CFG(lwm2m_bootstrap_timeout), 0, 0, NULL, NULL,
	    "Seconds a bootstrap session may take from /bs to Finish." },

	{ SECT_ACE, "token_lifetime", CT_INT, "3600", 60, 86400 * 7,
	    CFG(ace_token_lifetime), 0, 0, NULL, NULL,
	    "Lifetime of an access token in seconds (exp - iat, expires_in),\n"
	    "# 60..604800." },
	{ SECT_ACE, "refresh_lifetime", CT_INT, "2592000", 300, 86400 * 365,
	    CFG(ace_refresh_lifetime), 0, 0, NULL, NULL,
	    "Lifetime of a refresh token in seconds, 300..31536000 (30 days\n"
	    "# by default); each use rotates it." },
	{ SECT_ACE, "token_retention", CT_INT, "86400", 0, 86400 * 3650,
	    CFG(ace_token_retention), 0, 0, NULL, NULL,
	    "Seconds a token's row is kept after it expired (ace tokens\n"
	    "# lists it; the audit log keeps its issuance for good); the\n"
	    "# sweep deletes it then. 0..315360000." },
	{ SECT_ACE, "key", CT_STRING, "file", 0, 0,
	    CFG(ace_key), FSZ(kdc_config, ace_key), 0, NULL, check_ca_key,
	    "Where the AS signing key lives: \"file\" (as.key in the data\n"
	    "# dir) or a PKCS#11 URL (pkcs11:...)." },

	{ SECT_OCF, "profile", CT_STRING, "default", 0, 0,
	    CFG(ocf_profile), FSZ(kdc_config, ocf_profile), 0, NULL,
	    check_profile_name,
	    "The profile of the devices the KDC onboards as OCF Onboarding\n"
	    "# Tool (iotkdc ocf onboard): a [profile NAME] of this file." },
	{ SECT_OCF, "cert_days", CT_INT, "365", 1, 36500,
	    CFG(ocf_cert_days), 0, 0, NULL, NULL,
	    "Validity of an OCF identity certificate (iotkdc ocf cert) in\n"
	    "# days, 1..36500." },
	{ SECT_OCF, "interface", CT_STRING, "", 0, 0,
	    CFG(ocf_interface), FSZ(kdc_config, ocf_interface), 0, NULL,
	    check_ifname,
	    "The network interface whose link the OCF commands reach\n"
	    "# devices on (multicast discovery; the zone of link-local\n"
	    "# addresses); empty: each command needs --iface IF." },
	{ SECT_OCF, "discovery_window", CT_INT, "2000", 100, 30000,
	    CFG(ocf_discovery_window), 0, 0, NULL, NULL,
	    "Milliseconds the OCF discovery waits for answers to its\n"
	    "# multicast request, 100..30000." },
	{ SECT_OCF, "pin_wait", CT_INT, "120", 1, 3600,
	    CFG(ocf_pin_wait), 0, 0, NULL, NULL,
	    "Seconds `iotkdc ocf onboard --otm rdp` waits for the PIN the\n"
	    "# device shows to be written to --pin-file, 1..3600." },

	{ SECT_TDD, "enabled", CT_BOOL, "true", 0, 1,
	    CFG(tdd_enabled), 0, 0, NULL, NULL,
	    "Serve the Thing Directory (true/false)." },
	{ SECT_TDD, "audience", CT_STRING, "tdd", 0, 0,
	    CFG(tdd_audience), FSZ(kdc_config, tdd_audience), 0, NULL, NULL,
	    "The ACE resource-server audience of the directory: access\n"
	    "# tokens of our AS for it are taken as bearer tokens (register\n"
	    "# it: iotkdc ace rs add tdd ...; grant clients: iotkdc ace\n"
	    "# grant CLIENT tdd SCOPE). Empty: client certificates only." },
	{ SECT_TDD, "basic", CT_BOOL, "false", 0, 1,
	    CFG(tdd_basic), 0, 0, NULL, NULL,
	    "Also take HTTP basic (a user's name and the password set with\n"
	    "# iotkdc user passwd), over TLS, for legacy clients (true/false)." },
	{ SECT_TDD, "max_ttl", CT_INT, "2592000", 60, 86400 * 3650,
	    CFG(tdd_max_ttl), 0, 0, NULL, NULL,
	    "Longest lifetime of a registration in seconds: a longer ttl or\n"
	    "# expires is cut to it, 60..315360000 (30 days by default)." },
	{ SECT_TDD, "retention", CT_INT, "2592000", 60, 86400 * 3650,
	    CFG(tdd_retention), 0, 0, NULL, NULL,
	    "Retention of a TD whose owner's consent names none, seconds\n"
	    "# (30 days): the TD is erased then at the latest." },
	{ SECT_TDD, "retention_max", CT_INT, "31536000", 60, 86400 * 3650,
	    CFG(tdd_retention_max), 0, 0, NULL, NULL,
	    "Longest retention a consent may give, seconds (one year)." },
	{ SECT_TDD, "strict_lint", CT_BOOL, "false", 0, 1,
	    CFG(tdd_strict_lint), 0, 0, NULL, NULL,
	    "Refuse TDs the security lint finds fault with (cleartext\n"
	    "# credentials, psk without DTLS, nosec on a remote URL, ...);\n"
	    "# false: accept them and report the findings." },
	{ SECT_TDD, "rate", CT_INT, "100", 0, 1000000,
	    CFG(tdd_rate), 0, 0, NULL, NULL,
	    "Requests per second one principal may make (0: no limit);\n"
	    "# bursts of twice that." },
	{ SECT_TDD, "events_keep", CT_INT, "10000", 1, 10000000,
	    CFG(tdd_events_keep), 0, 0, NULL, NULL,
	    "Events kept for Last-Event-ID replay." },
	{ SECT_TDD, "result_max", CT_INT, "16777216", 4096, 1 << 30,
	    CFG(tdd_result_max), 0, 0, NULL, NULL,
	    "Bytes a search answer may have; past it the query is refused\n"
	    "# (400: narrow it)." },

	{ SECT_PROFILE, "cred_type", CT_ENUM, "psk", 0, 0,
	    PRO(cred_type), 0, 0, cred_types, NULL,
	    "Operational credential type: psk, rpk, x509, or x509-est (a\n"
	    "# certificate the device enrolls itself over EST after bootstrap,\n"
	    "# LwM2M security mode 4; its key never leaves the device)." },
	{ SECT_PROFILE, "audience", CT_STRING, "lwm2m", 0, 0,
	    PRO(audience), FSZ(kdc_profile, audience), 0, NULL,
	    check_audience,
	    "The primary audience of the operational credentials: lwm2m (the\n"
	    "# built-in LwM2M Server) or one added with iotkdc audience add." },
	{ SECT_PROFILE, "psk_key_bytes", CT_INT,
	    KDC_STR(KDC_PSK_GEN_DEFAULT), KDC_PSK_MIN, KDC_PSK_GEN_MAX,
	    PRO(psk_key_len), 0, 0, NULL, NULL,
	    "Length of an operational PSK in bytes, 16..32. 16 (128 bits)\n"
	    "# is what tinydtls clients (Wakaama, Contiki-NG) hold." },
	{ SECT_PROFILE, "psk_identity", CT_ENUM, "random", 0, 0,
	    PRO(psk_identity), 0, 0, psk_ids, NULL,
	    "Form of an operational PSK identity: random (32 hex digits, fits\n"
	    "# tinydtls' 32 bytes) or named (<device id>#<16 hex>, longer)." },
	{ SECT_PROFILE, "lifetime_days", CT_DAYS, "30", 1, 3650,
	    PRO(lifetime), 0, 0, NULL, NULL,
	    "Lifetime of an operational credential in days, 1..3650." },
	{ SECT_PROFILE, "lifetime_seconds", CT_SECONDS, "", 1, 315360000,
	    PRO(lifetime), 0, 0, NULL, NULL,
	    "TESTS and short-lived credentials: lifetime in seconds,\n"
	    "# 1..315360000; when set it overrides lifetime_days. Empty: unset." },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))
_Static_assert(KDC_HTTP_CONN_PER_ADDR_MAX == 64 && KDC_HTTP_CONN_MAX == 256,
    "the help text of [http] conns_per_address names these numbers");
_Static_assert(NKEYS <= 64, "seen masks are 64 bits");

static const char *sect_names[] = { "", "kdc", "http", "ca", "coap", "lwm2m",
    "ace", "ocf", "tdd", "profile" };
static const char *sect_help[] = {
	"",
	"The KDC as a whole.",
	"The HTTPS listener (admin API, Thing Directory, ACE over HTTP).",
	"The KDC's certificate authority.",
	"The CoAP over DTLS listeners.",
	"LwM2M: what the Bootstrap Server writes, the built-in LwM2M Server.",
	"ACE-OAuth Authorization Server (iotkdc ace ...).",
	"OCF: the KDC as Onboarding Tool and Credential Management Service\n"
	"# (iotkdc ocf ...).",
	"The Thing Directory (W3C WoT Discovery) on the HTTPS listener:\n"
	"# /things, /search/jsonpath, /events, /consent, /.well-known/wot.",
	"",
};

/* ---- value checks ------------------------------------------------------ */

static bool
name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

static bool
check_host(const char *v, char *why, size_t why_len)
{
	size_t n = strlen(v);

	if (n == 0 || n > KDC_NAME_MAX) {
		snprintf(why, why_len, "host name must be 1..%d bytes",
		    KDC_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!isalnum(c) && c != '.' && c != '-' && c != ':') {
			snprintf(why, why_len, "host name may hold only "
			    "letters, digits, '.', '-' and ':'");
			return false;
		}
	}
	return true;
}

static bool
check_address(const char *v, char *why, size_t why_len)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
		return true;
	snprintf(why, why_len, "not an IPv4 or IPv6 address literal");
	return false;
}

static bool
check_ca_key(const char *v, char *why, size_t why_len)
{
	if (strcmp(v, "file") == 0)
		return true;
	if (strncmp(v, "pkcs11:", 7) == 0 && v[7] != '\0') {
		for (const char *p = v; *p != '\0'; p++)
			if (!isgraph((unsigned char)*p)) {
				snprintf(why, why_len, "PKCS#11 URL holds a "
				    "blank or control character");
				return false;
			}
		return true;
	}
	snprintf(why, why_len, "must be \"file\" or a PKCS#11 URL "
	    "(pkcs11:...)");
	return false;
}

static bool
check_audience(const char *v, char *why, size_t why_len)
{
	size_t n = strlen(v);

	if (n == 0 || n > KDC_NAME_MAX) {
		snprintf(why, why_len, "audience must be 1..%d bytes",
		    KDC_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!isalnum(c) && strchr("_.-:/", c) == NULL) {
			snprintf(why, why_len, "audience may hold only "
			    "letters, digits and _ . - : /");
			return false;
		}
	}
	return true;
}

/* A network interface name: "" or 1..15 of [A-Za-z0-9._-] (IFNAMSIZ). */
static bool
check_ifname(const char *v, char *why, size_t why_len)
{
	size_t n = strlen(v);

	if (n < 16 && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n)
		return true;
	snprintf(why, why_len, "an interface name: at most 15 of "
	    "[A-Za-z0-9._-]");
	return false;
}

static bool
check_profile_name(const char *v, char *why, size_t why_len)
{
	if (!name_ok(v, KDC_NAME_MAX)) {
		snprintf(why, why_len, "a profile name is 1..%d letters, digits"
		    " and _ . -", KDC_NAME_MAX);
		return false;
	}
	return true;
}

/* ---- typed set / format ------------------------------------------------ */

static bool
parse_long(const char *v, long *out)
{
	char *end;
	long n;

	if (*v == '\0' || isspace((unsigned char)*v))
		return false;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = n;
	return true;
}

static bool
parse_bool(const char *v, int *out)
{
	static const char *yes[] = { "true", "yes", "1" };
	static const char *no[] = { "false", "no", "0" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return true;
		}
	}
	return false;
}

static void
enum_names(const struct enum_val *e, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (; e->name != NULL; e++) {
		int w = snprintf(buf + o, len - o, "%s%s", o ? "|" : "",
		    e->name);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

static bool
set_string(char *dst, size_t size, const char *v, check_fn check, char *why,
    size_t why_len)
{
	if (strlen(v) >= size) {
		snprintf(why, why_len, "longer than %zu bytes", size - 1);
		return false;
	}
	if (check != NULL && !check(v, why, why_len))
		return false;
	memset(dst, 0, size);
	memcpy(dst, v, strlen(v));
	return true;
}

/* Set key k of base (a kdc_config or kdc_profile) from its text v. */
static bool
set_value(const struct ckey *k, void *base, const char *v, char *why,
    size_t why_len)
{
	char *field = (char *)base + k->off;
	char names[128];
	long n;
	int b;

	switch (k->type) {
	case CT_INT:
	case CT_DAYS:
		if (!parse_long(v, &n)) {
			snprintf(why, why_len, "not an integer");
			return false;
		}
		if (n < k->min || n > k->max) {
			snprintf(why, why_len, "%ld out of range %ld..%ld", n,
			    k->min, k->max);
			return false;
		}
		if (k->type == CT_INT)
			*(int *)(void *)field = (int)n;
		else
			*(int64_t *)(void *)field = (int64_t)n * DAY;
		return true;
	case CT_SECONDS:
		if (*v == '\0')
			return true;	/* unset: lifetime_days decides */
		if (!parse_long(v, &n)) {
			snprintf(why, why_len, "not an integer");
			return false;
		}
		if (n < k->min || n > k->max) {
			snprintf(why, why_len, "%ld out of range %ld..%ld", n,
			    k->min, k->max);
			return false;
		}
		*(int64_t *)(void *)field = (int64_t)n;
		return true;
	case CT_BOOL:
		if (!parse_bool(v, &b)) {
			snprintf(why, why_len, "not a boolean "
			    "(true/false/yes/no/1/0)");
			return false;
		}
		*(int *)(void *)field = b;
		return true;
	case CT_ENUM:
		for (const struct enum_val *e = k->enums; e->name != NULL; e++)
			if (strcmp(v, e->name) == 0) {
				*(int *)(void *)field = e->val;
				return true;
			}
		enum_names(k->enums, names, sizeof(names));
		snprintf(why, why_len, "must be one of %s", names);
		return false;
	case CT_STRING:
		return set_string(field, k->size, v, k->check, why, why_len);
	case CT_LIST: {
		size_t *count = (size_t *)(void *)((char *)base + k->off_n);
		char item[KDC_NAME_MAX + 2];
		const char *p = v;
		size_t cnt = 0;

		/* Check everything before touching the field. */
		while (*p != '\0') {
			const char *e = strchr(p, ',');
			size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

			while (len > 0 && isspace((unsigned char)*p)) {
				p++;
				len--;
			}
			while (len > 0 && isspace((unsigned char)p[len - 1]))
				len--;
			if (cnt == (size_t)k->max) {
				snprintf(why, why_len, "more than %ld entries",
				    k->max);
				return false;
			}
			if (len >= sizeof(item) || len >= k->size) {
				snprintf(why, why_len, "entry %zu longer than "
				    "%zu bytes", cnt + 1, k->size - 1);
				return false;
			}
			memcpy(item, p, len);
			item[len] = '\0';
			if (k->check != NULL && !k->check(item, why, why_len))
				return false;
			cnt++;
			if (e == NULL)
				break;
			p = e + 1;
			if (*p == '\0') {
				snprintf(why, why_len, "empty entry after ','");
				return false;
			}
		}
		memset(field, 0, k->size * (size_t)k->max);
		p = v;
		for (size_t i = 0; i < cnt; i++) {
			const char *e = strchr(p, ',');
			size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

			while (len > 0 && isspace((unsigned char)*p)) {
				p++;
				len--;
			}
			while (len > 0 && isspace((unsigned char)p[len - 1]))
				len--;
			memcpy(field + i * k->size, p, len);
			if (e != NULL)
				p = e + 1;
		}
		*count = cnt;
		return true;
	}
	}
	return false;
}

/* Does the CT_DAYS key on the field of the CT_SECONDS key s hold secs
 * exactly? Then s is written empty (unset). */
static bool
days_say(const struct ckey *s, int64_t secs)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == CT_DAYS && keys[i].sect == s->sect &&
		    keys[i].off == s->off)
			return secs % DAY == 0 && secs / DAY >= keys[i].min &&
			    secs / DAY <= keys[i].max;
	return false;
}

static void
put_value(FILE *f, const struct ckey *k, const void *base)
{
	const char *field = (const char *)base + k->off;
	int v;

	switch (k->type) {
	case CT_INT:
		fprintf(f, "%d", *(const int *)(const void *)field);
		break;
	case CT_DAYS: {
		/* clamped: a lifetime days cannot say is in CT_SECONDS */
		long long d = (long long)(*(const int64_t *)(const void *)
		    field / DAY);

		fprintf(f, "%lld", d < k->min ? (long long)k->min :
		    d > k->max ? (long long)k->max : d);
		break;
	}
	case CT_SECONDS: {
		int64_t secs = *(const int64_t *)(const void *)field;

		if (!days_say(k, secs))
			fprintf(f, "%lld", (long long)secs);
		break;
	}
	case CT_BOOL:
		fputs(*(const int *)(const void *)field ? "true" : "false", f);
		break;
	case CT_ENUM:
		v = *(const int *)(const void *)field;
		for (const struct enum_val *e = k->enums; e->name != NULL; e++)
			if (e->val == v) {
				fputs(e->name, f);
				break;
			}
		break;
	case CT_STRING:
		fputs(field, f);
		break;
	case CT_LIST: {
		size_t n = *(const size_t *)(const void *)
		    ((const char *)base + k->off_n);

		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%s", i ? "," : "", field + i * k->size);
		break;
	}
	}
}

/* ---- defaults ---------------------------------------------------------- */

static void
profile_defaults(struct kdc_profile *p, const char *name)
{
	char why[128];
	bool ok;

	memset(p, 0, sizeof(*p));
	assert(strlen(name) <= KDC_NAME_MAX);
	memcpy(p->name, name, strlen(name));
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].sect != SECT_PROFILE)
			continue;
		ok = set_value(&keys[i], p, keys[i].def, why, sizeof(why));
		assert(ok);
		(void)ok;
	}
}

void
kdc_config_defaults(struct kdc_config *cfg)
{
	char why[128];
	bool ok;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].sect == SECT_PROFILE)
			continue;
		ok = set_value(&keys[i], cfg, keys[i].def, why, sizeof(why));
		assert(ok);	/* the table's own defaults are valid */
		(void)ok;
	}
	profile_defaults(&cfg->profiles[0], "default");
	cfg->nprofiles = 1;
}

const struct kdc_profile *
kdc_config_profile(const struct kdc_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nprofiles && i < KDC_CONFIG_PROFILES_MAX;
	    i++)
		if (strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}

size_t
kdc_config_profile_audiences(const struct kdc_config *cfg, const char *name,
    const struct kdc_profile **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nprofiles && i < KDC_CONFIG_PROFILES_MAX;
	    i++)
		if (strcmp(cfg->profiles[i].name, name) == 0) {
			if (n < max)
				out[n] = &cfg->profiles[i];
			n++;
		}
	return n;
}

const struct kdc_profile *
kdc_config_profile_audience(const struct kdc_config *cfg, const char *name,
    const char *audience)
{
	const struct kdc_profile *prof = kdc_config_profile(cfg, name);

	if (prof == NULL || audience == NULL)
		return prof;
	for (size_t i = 0; i < cfg->nprofiles && i < KDC_CONFIG_PROFILES_MAX;
	    i++)
		if (strcmp(cfg->profiles[i].name, name) == 0 &&
		    strcmp(cfg->profiles[i].audience, audience) == 0)
			return &cfg->profiles[i];
	return NULL;
}

/* ---- parser ------------------------------------------------------------ */

struct pctx {
	const char		*file;	/* for messages */
	const char		*next;	/* unread text */
	int			 line;	/* the line inih works on */
	bool			 failed;
	char			*err;
	size_t			 err_len;
	struct kdc_config	*cfg;
	enum csect		 sect;
	struct kdc_profile	*prof;	/* when sect == SECT_PROFILE */
	bool			 extra;	/* prof is a [profile NAME AUD] entry */
	uint64_t		 seen;	/* keys set outside profiles */
	uint64_t		 pseen[KDC_CONFIG_PROFILES_MAX];
	/* per profile: the fields a CT_SECONDS key set (as key bits) */
	uint64_t		 pover[KDC_CONFIG_PROFILES_MAX];
};

static void
fail(struct pctx *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct pctx *p, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (p->failed)
		return;		/* the first error wins */
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->err != NULL && p->err_len > 0)
		snprintf(p->err, p->err_len, "%s:%d: %s", p->file, p->line,
		    why);
}

static char *
esc(const char *s, char *buf, size_t len)
{
	return kdc_log_escape(s, strlen(s), buf, len);
}

/*
 * The entry of profile name for audience aud (NULL: its primary entry,
 * the first of the name), made with the defaults if new (an extra entry
 * with aud as its audience). NULL after a failure.
 */
static struct kdc_profile *
profile_entry(struct pctx *p, const char *name, const char *aud)
{
	struct kdc_config *cfg = p->cfg;
	struct kdc_profile *prof;
	bool primary = true;

	for (size_t i = 0; i < cfg->nprofiles; i++) {
		if (strcmp(cfg->profiles[i].name, name) != 0)
			continue;
		if (aud == NULL)
			return &cfg->profiles[i];
		/* an extra entry: never the primary, whatever its audience */
		if (!primary && strcmp(cfg->profiles[i].audience, aud) == 0)
			return &cfg->profiles[i];
		primary = false;
	}
	if (cfg->nprofiles == KDC_CONFIG_PROFILES_MAX) {
		fail(p, "more than %d profiles (each [profile NAME "
		    "AUDIENCE] counts as one)", KDC_CONFIG_PROFILES_MAX);
		return NULL;
	}
	prof = &cfg->profiles[cfg->nprofiles++];
	profile_defaults(prof, name);
	if (aud != NULL)
		snprintf(prof->audience, sizeof(prof->audience), "%s", aud);
	return prof;
}

/* A "[...]" line: switch sections. Empty [profile X] sections still
 * create the profile with its defaults. */
static void
section_begin(struct pctx *p, const char *line)
{
	const char *end = strchr(line, ']');
	char name[2 * KDC_NAME_MAX + 32], e[4 * sizeof(name) + 1];
	const char *s = line + 1;
	char *pname, *aud;
	size_t len;

	if (end == NULL) {
		fail(p, "section header without ']'");
		return;
	}
	while (s < end && isspace((unsigned char)*s))
		s++;
	len = (size_t)(end - s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= sizeof(name)) {
		fail(p, "section name too long");
		return;
	}
	memcpy(name, s, len);
	name[len] = '\0';

	p->prof = NULL;
	for (int i = SECT_KDC; i < SECT_PROFILE; i++)
		if (strcmp(name, sect_names[i]) == 0) {
			p->sect = (enum csect)i;
			return;
		}
	if (strncmp(name, "profile", 7) != 0 ||
	    !isspace((unsigned char)name[7])) {
		fail(p, "unknown section [%s]", esc(name, e, sizeof(e)));
		return;
	}
	pname = name + 7;
	while (isspace((unsigned char)*pname))
		pname++;
	/* "[profile NAME AUD]": an extra audience of profile NAME */
	aud = pname;
	while (*aud != '\0' && !isspace((unsigned char)*aud))
		aud++;
	if (*aud != '\0') {
		*aud++ = '\0';
		while (isspace((unsigned char)*aud))
			aud++;
	}
	if (!name_ok(pname, KDC_NAME_MAX)) {
		fail(p, "bad profile name \"%s\": 1..%d of A-Z a-z 0-9 _ . -",
		    esc(pname, e, sizeof(e)), KDC_NAME_MAX);
		return;
	}
	if (*aud != '\0' && !name_ok(aud, KDC_NAME_MAX)) {
		fail(p, "bad audience name \"%s\" in [profile %s ...]: "
		    "1..%d of A-Z a-z 0-9 _ . -", esc(aud, e, sizeof(e)), pname,
		    KDC_NAME_MAX);
		return;
	}
	p->sect = SECT_PROFILE;
	p->extra = *aud != '\0';
	/* the primary entry is the first of the name: made first */
	if ((p->prof = profile_entry(p, pname, NULL)) == NULL || !p->extra)
		return;
	p->prof = profile_entry(p, pname, aud);
}

/*
 * inih's line source: one line per call, so p->line is the line inih is
 * working on when it calls handler(). Leading blanks are dropped (inih
 * would fold an indented line into the previous value).
 */
static char *
reader(char *str, int num, void *stream)
{
	struct pctx *p = stream;
	const char *s = p->next, *nl;
	size_t len;

	if (p->failed || *s == '\0')
		return NULL;
	nl = strchr(s, '\n');
	len = nl != NULL ? (size_t)(nl - s) + 1 : strlen(s);
	p->next = s + len;
	p->line++;
	if (p->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;		/* UTF-8 BOM */
		len -= 3;
	}
	while (len > 0 && *s != '\n' && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	/* inih needs room for the NUL; longer lines it would split. */
	if (num < 2 || len > (size_t)num - 2) {
		fail(p, "line longer than %d bytes", num - 2);
		return NULL;
	}
	memcpy(str, s, len);
	str[len] = '\0';
	if (str[0] == '[') {
		section_begin(p, str);
		if (p->failed)
			return NULL;
	}
	return str;
}

/* Is k a CT_DAYS key whose field a CT_SECONDS key in over (key bits)
 * has set? */
static bool
overridden(const struct ckey *k, uint64_t over)
{
	if (k->type != CT_DAYS)
		return false;
	for (size_t i = 0; i < NKEYS; i++)
		if ((over & (UINT64_C(1) << i)) && keys[i].off == k->off &&
		    keys[i].sect == k->sect)
			return true;
	return false;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct pctx *p = user;
	const struct ckey *k = NULL;
	char why[256], e[256];
	struct kdc_profile scratch;
	uint64_t *seen;
	void *base;
	size_t i;

	(void)section;		/* truncated by inih; p->sect is exact */
	if (p->failed)
		return 0;
	if (p->sect == SECT_NONE) {
		fail(p, "key \"%s\" before any [section]",
		    esc(name, e, sizeof(e)));
		return 0;
	}
	for (i = 0; i < NKEYS; i++)
		if (keys[i].sect == p->sect &&
		    strcmp(keys[i].name, name) == 0) {
			k = &keys[i];
			break;
		}
	if (k == NULL) {
		fail(p, "unknown key \"%s\" in [%s]", esc(name, e, sizeof(e)),
		    sect_names[p->sect]);
		return 0;
	}
	if (p->sect == SECT_PROFILE && p->extra &&
	    strcmp(k->name, "audience") == 0) {
		fail(p, "audience is named by the section header "
		    "[profile NAME AUDIENCE]");
		return 0;
	}
	seen = p->sect == SECT_PROFILE ?
	    &p->pseen[p->prof - p->cfg->profiles] : &p->seen;
	if (*seen & (UINT64_C(1) << i)) {
		fail(p, "duplicate key \"%s\"", k->name);
		return 0;
	}
	*seen |= UINT64_C(1) << i;
	base = p->sect == SECT_PROFILE ? (void *)p->prof : (void *)p->cfg;
	if (p->sect == SECT_PROFILE && overridden(k,
	    p->pover[p->prof - p->cfg->profiles])) {
		/* a CT_SECONDS key set this field: check, do not apply */
		memcpy(&scratch, p->prof, sizeof(scratch));
		base = &scratch;
	}
	if (!set_value(k, base, value, why, sizeof(why))) {
		fail(p, "%s: %s", k->name, why);
		return 0;
	}
	if (p->sect == SECT_PROFILE && k->type == CT_SECONDS && *value != '\0')
		p->pover[p->prof - p->cfg->profiles] |= UINT64_C(1) << i;
	return 1;
}

/* Index of the primary entry of profile i's name. */
static size_t
primary_of(const struct kdc_config *cfg, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(cfg->profiles[j].name, cfg->profiles[i].name) == 0)
			return j;
	return i;
}

/* After the whole file: a profile names each audience once (its primary
 * "audience =" may not repeat an extra section's), and x509-est, which
 * EST enrolls for the primary audience, is for primary entries only. */
static bool
profiles_ok(struct pctx *p, const struct kdc_config *cfg)
{
	for (size_t i = 0; i < cfg->nprofiles; i++) {
		const struct kdc_profile *x = &cfg->profiles[i];

		if (primary_of(cfg, i) == i)
			continue;
		if (x->est) {
			fail(p, "[profile %s %s]: cred_type x509-est is for "
			    "the profile's primary audience only", x->name,
			    x->audience);
			return false;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->profiles[j].name, x->name) == 0 &&
			    strcmp(cfg->profiles[j].audience, x->audience) ==
			    0) {
				fail(p, "profile %s lists audience %s twice",
				    x->name, x->audience);
				return false;
			}
	}
	return true;
}

static kdc_err
parse(const char *file, const char *text, struct kdc_config *cfg, char *err,
    size_t err_len)
{
	struct kdc_config *tmp = NULL;
	struct pctx *p = NULL;
	kdc_err r;
	int rc;

	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if ((tmp = kdc_malloc(sizeof(*tmp))) == NULL ||
	    (p = kdc_calloc(1, sizeof(*p))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	kdc_config_defaults(tmp);
	p->file = file;
	p->next = text;
	p->err = err;
	p->err_len = err_len;
	p->cfg = tmp;

	rc = ini_parse_stream(reader, p, handler, p);
	if (rc == -2) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if (!p->failed && rc != 0) {
		/* inih's own complaint: no '=' or ':' on a line */
		p->line = rc;
		fail(p, "syntax error (expected name = value or [section])");
	}
	if (p->failed) {
		r = KDC_ERR_CONFIG;
		goto out;
	}
	for (size_t i = 0; i < tmp->nprofiles; i++)
		if ((int)tmp->profiles[i].cred_type == CRED_X509_EST) {
			tmp->profiles[i].cred_type = KDC_TYPE_X509;
			tmp->profiles[i].est = true;
		}
	if (!profiles_ok(p, tmp)) {
		r = KDC_ERR_CONFIG;
		goto out;
	}
	memcpy(cfg, tmp, sizeof(*cfg));
	r = KDC_OK;
out:
	kdc_free(tmp);
	kdc_free(p);
	return r;
}

kdc_err
kdc_config_parse(const char *text, struct kdc_config *cfg, char *err,
    size_t err_len)
{
	return parse("<config>", text, cfg, err, err_len);
}

kdc_err
kdc_config_load(const char *path, struct kdc_config *cfg, char *err,
    size_t err_len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	kdc_err r;
	int fd;

	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		r = KDC_ERR_IO;
		goto syserr;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "%s: not a regular file of at "
			    "most %d bytes", path, CONFIG_FILE_MAX);
		r = KDC_ERR_CONFIG;
		goto out;
	}
	/* the config chooses the CA key and the listeners: one that group
	 * or other may write is refused, also on a reload (SIGHUP) */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "%s: mode %04o: group or other "
			    "may write it; refusing. chmod 600 %s", path,
			    (unsigned)st.st_mode & 07777, path);
		r = KDC_ERR_CONFIG;
		goto out;
	}
	/* 0 bytes is a write cut short, not a choice of every default */
	if (st.st_size == 0) {
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "%s: empty (0 bytes); restore it "
			    "from a backup, or write the settings it should "
			    "hold", path);
		r = KDC_ERR_CONFIG;
		goto out;
	}
	if ((buf = kdc_malloc((size_t)st.st_size + 1)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = KDC_ERR_IO;
			goto syserr;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (memchr(buf, '\0', got) != NULL) {
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "%s: contains a NUL byte", path);
		r = KDC_ERR_CONFIG;
		goto out;
	}
	r = parse(path, buf, cfg, err, err_len);
	goto out;
syserr:
	if (err != NULL && err_len > 0)
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
out:
	if (fd != -1)
		close(fd);
	kdc_free(buf);
	return r;
}

/* ---- writer ------------------------------------------------------------ */

static bool
strfield_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* Every string field of base's keys (sect SECT_PROFILE: a kdc_profile;
 * SECT_NONE: every other section's, a kdc_config) ends within its field,
 * every list within its bounds. */
static bool
fields_ok(enum csect sect, const void *base)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct ckey *k = &keys[i];
		const char *field = (const char *)base + k->off;
		size_t n;

		if ((sect == SECT_PROFILE) != (k->sect == SECT_PROFILE))
			continue;
		if (k->type == CT_STRING && !strfield_ok(field, k->size))
			return false;
		if (k->type != CT_LIST)
			continue;
		n = *(const size_t *)(const void *)((const char *)base +
		    k->off_n);
		if (n > (size_t)k->max)
			return false;
		for (size_t j = 0; j < n; j++)
			if (!strfield_ok(field + j * k->size, k->size))
				return false;
	}
	return true;
}

/* ---- comparing ----------------------------------------------------- */

/* The key an earlier entry of the table already compares (CT_SECONDS
 * shares its field with a CT_DAYS key): skipped by the comparison. */
static bool
field_seen(size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (keys[j].sect == keys[i].sect && keys[j].off == keys[i].off)
			return true;
	return false;
}

/* The int a CT_ENUM field holds; for a profile's cred_type, x509 with est
 * set is its own value (the file's "x509-est"). */
static int
enum_value(const struct ckey *k, const void *base)
{
	int v = *(const int *)(const void *)((const char *)base + k->off);

	if (k->enums == cred_types && v == KDC_TYPE_X509 &&
	    ((const struct kdc_profile *)base)->est)
		return CRED_X509_EST;
	return v;
}

/* Does key k hold the same value in a and b (two kdc_config or two
 * kdc_profile)? Strings compare up to their field's size. */
static bool
key_same(const struct ckey *k, const void *a, const void *b)
{
	const char *x = (const char *)a + k->off;
	const char *y = (const char *)b + k->off;

	switch (k->type) {
	case CT_INT:
	case CT_BOOL:
		return *(const int *)(const void *)x ==
		    *(const int *)(const void *)y;
	case CT_ENUM:
		return enum_value(k, a) == enum_value(k, b);
	case CT_DAYS:
	case CT_SECONDS:
		return *(const int64_t *)(const void *)x ==
		    *(const int64_t *)(const void *)y;
	case CT_STRING:
		return strncmp(x, y, k->size) == 0;
	case CT_LIST: {
		size_t n = *(const size_t *)(const void *)
		    ((const char *)a + k->off_n);

		if (n != *(const size_t *)(const void *)
		    ((const char *)b + k->off_n))
			return false;
		for (size_t i = 0; i < n && i < (size_t)k->max; i++)
			if (strncmp(x + i * k->size, y + i * k->size,
			    k->size) != 0)
				return false;
		return true;
	}
	}
	return false;
}

/* The keys of section s that differ between a and b, each given to fn. */
static size_t
diff_section(enum csect s, const char *sname, const void *a, const void *b,
    kdc_config_diff_fn fn, void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].sect != s || field_seen(i) ||
		    key_same(&keys[i], a, b))
			continue;
		n++;
		if (fn != NULL)
			fn(sname, keys[i].name, arg);
	}
	return n;
}

/* Is entry i of cfg the first of its name (its profile's primary one,
 * [profile NAME])? Names compare up to their field's size. */
static bool
entry_primary(const struct kdc_config *cfg, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strncmp(cfg->profiles[j].name, cfg->profiles[i].name,
		    sizeof(cfg->profiles[j].name)) == 0)
			return false;
	return true;
}

/* The entry of cfg that is entry i of a: the primary entry of the same
 * profile, or its extra entry for the same audience ([profile NAME
 * AUDIENCE]); NULL if none. */
static const struct kdc_profile *
profile_named(const struct kdc_config *cfg, const struct kdc_config *a,
    size_t i)
{
	const struct kdc_profile *x = &a->profiles[i];
	bool primary = entry_primary(a, i);

	for (size_t j = 0; j < cfg->nprofiles && j < KDC_CONFIG_PROFILES_MAX;
	    j++) {
		const struct kdc_profile *y = &cfg->profiles[j];

		if (strncmp(y->name, x->name, sizeof(y->name)) != 0 ||
		    entry_primary(cfg, j) != primary)
			continue;
		if (primary || strncmp(y->audience, x->audience,
		    sizeof(y->audience)) == 0)
			return y;
	}
	return NULL;
}

/* "profile NAME", or "profile NAME AUDIENCE" for an extra entry. */
static void
entry_sname(const struct kdc_config *a, size_t i, char *buf, size_t cap)
{
	const struct kdc_profile *x = &a->profiles[i];

	if (entry_primary(a, i))
		snprintf(buf, cap, "profile %.*s", KDC_NAME_MAX, x->name);
	else
		snprintf(buf, cap, "profile %.*s %.*s", KDC_NAME_MAX, x->name,
		    KDC_NAME_MAX, x->audience);
}

/* Profile entries of a missing from b, as "profile NAME [AUDIENCE]" with
 * key NULL. */
static size_t
diff_missing(const struct kdc_config *a, const struct kdc_config *b,
    kdc_config_diff_fn fn, void *arg)
{
	char sname[2 * KDC_NAME_MAX + 16];
	size_t n = 0;

	for (size_t i = 0; i < a->nprofiles && i < KDC_CONFIG_PROFILES_MAX;
	    i++) {
		if (profile_named(b, a, i) != NULL)
			continue;
		n++;
		if (fn != NULL) {
			entry_sname(a, i, sname, sizeof(sname));
			fn(sname, NULL, arg);
		}
	}
	return n;
}

size_t
kdc_config_diff(const struct kdc_config *a, const struct kdc_config *b,
    kdc_config_diff_fn fn, void *arg)
{
	char sname[2 * KDC_NAME_MAX + 16];
	size_t n = 0;

	for (int s = SECT_KDC; s < SECT_PROFILE; s++)
		n += diff_section((enum csect)s, sect_names[s], a, b, fn, arg);
	n += diff_missing(a, b, fn, arg);
	n += diff_missing(b, a, fn, arg);
	for (size_t i = 0; i < a->nprofiles && i < KDC_CONFIG_PROFILES_MAX;
	    i++) {
		const struct kdc_profile *x = &a->profiles[i];
		const struct kdc_profile *y = profile_named(b, a, i);

		if (y == NULL)
			continue;
		entry_sname(a, i, sname, sizeof(sname));
		n += diff_section(SECT_PROFILE, sname, x, y, fn, arg);
	}
	return n;
}

/* The keys of section s of base, but the key named skip (may be NULL). */
static void
put_section(FILE *f, enum csect s, const void *base, const char *skip)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].sect != s || (skip != NULL &&
		    strcmp(keys[i].name, skip) == 0))
			continue;
		fprintf(f, "# %s\n%s =", keys[i].help, keys[i].name);
		if ((keys[i].type != CT_LIST || *(const size_t *)(const void *)
		    ((const char *)base + keys[i].off_n) > 0) &&
		    (keys[i].type != CT_SECONDS || !days_say(&keys[i],
		    *(const int64_t *)(const void *)((const char *)base +
		    keys[i].off))))
			fputc(' ', f);
		put_value(f, &keys[i], base);
		fputc('\n', f);
	}
}

/* Render cfg as text (heap, NUL-terminated). */
static kdc_err
render(const struct kdc_config *cfg, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	*out = NULL;
	*out_len = 0;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return KDC_ERR_NOMEM;
	fprintf(f, "# iotkdc.conf: read at startup; SIGHUP applies [kdc] "
	    "log_level and\n# sweep_seconds (the rest needs a restart). '#' "
	    "or ';' starts a comment line.\n# Unknown keys and out-of-range "
	    "values stop the server.\n");
	for (int s = SECT_KDC; s < SECT_PROFILE; s++) {
		fprintf(f, "\n# %s\n[%s]\n", sect_help[s], sect_names[s]);
		put_section(f, (enum csect)s, cfg, NULL);
	}
	fprintf(f, "\n# Device profiles: [profile NAME]. Devices name one; "
	    "\"default\" if they do not.\n# [profile NAME AUDIENCE]: one "
	    "more audience a device of profile NAME\n# gets credentials for "
	    "(the same keys but audience).\n");
	for (size_t i = 0; i < cfg->nprofiles; i++) {
		struct kdc_profile pr = cfg->profiles[i];

		if (pr.est && pr.cred_type == KDC_TYPE_X509)
			pr.cred_type = (enum kdc_cred_type)CRED_X509_EST;
		if (primary_of(cfg, i) == i) {
			fprintf(f, "\n[profile %s]\n", pr.name);
			put_section(f, SECT_PROFILE, &pr, NULL);
		} else {
			fprintf(f, "\n[profile %s %s]\n", pr.name,
			    pr.audience);
			put_section(f, SECT_PROFILE, &pr, "audience");
		}
	}
	if (fclose(f) != 0) {
		free(buf);	/* open_memstream's buffer is plain malloc */
		return KDC_ERR_NOMEM;
	}
	*out = buf;
	*out_len = len;
	return KDC_OK;
}

kdc_err
kdc_config_write(const char *path, const struct kdc_config *cfg)
{
	struct kdc_config *back = NULL;
	char *text = NULL, err[256];
	size_t len = 0;
	kdc_err r;

	/* The struct came from a caller: make sure the writer stays inside
	 * its arrays before rendering. */
	if (cfg->nprofiles > KDC_CONFIG_PROFILES_MAX ||
	    !fields_ok(SECT_NONE, cfg)) {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	for (size_t i = 0; i < cfg->nprofiles; i++)
		if (!strfield_ok(cfg->profiles[i].name,
		    sizeof(cfg->profiles[i].name)) ||
		    !fields_ok(SECT_PROFILE, &cfg->profiles[i])) {
			r = KDC_ERR_INVALID_ARG;
			goto out;
		}
	if ((r = render(cfg, &text, &len)) != KDC_OK)
		goto out;
	/* Never write a file the server would refuse to start with. */
	if ((back = kdc_malloc(sizeof(*back))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((r = kdc_config_parse(text, back, err, sizeof(err))) != KDC_OK) {
		if (r == KDC_ERR_CONFIG) {
			kdc_log_debug("does not round-trip: %s", err);
			r = KDC_ERR_INVALID_ARG;
		}
		goto out;
	}
	if (kdc_config_diff(cfg, back, NULL, NULL) != 0 ||
	    cfg->nprofiles != back->nprofiles) {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	r = kdc_file_create_atomic(path, text, len, 0600);
out:
	free(text);
	kdc_free(back);
	return r;
}
