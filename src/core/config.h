/*
 * config.h: iotkdc.conf, parsed once (inih) into a struct that is const
 * from then on. One table in config.c lists every key with its type,
 * default and range; an unknown key or an out-of-range value is an error
 * that names the line.
 *
 *   [kdc]      hosts = name[,name...]   extra names for the TLS cert
 *              log_level = err|warn|info|debug
 *              sweep_seconds = 1..86400 (60)  expiry sweep period
 *   [http]     address, port (8443), tls12 (false), client_cert
 *              (none|optional|required), conns_per_address (16),
 *              dnssd (on|off: the directory advertised by DNS-SD)
 *   [ca]       key = file | pkcs11:...  ; days (3650); tls_days (825)
 *   [coap]     address, port (5684), lwm2m_port (5685), nosec_port (0),
 *              sign_threads (2), threads (0: CPUs), max_sessions,
 *              max_handshakes, handshake_rate, sessions_per_credential,
 *              idle_timeout, stale_seconds, body_timeout
 *   [lwm2m]    server_uri, lifetime (300), bootstrap_timeout (60)
 *   [tdd]      enabled, max_ttl, retention, retention_max, strict_lint,
 *              rate, events_keep, result_max (the Thing Directory)
 *   [profile NAME]  cred_type = psk|rpk|x509 ; audience ; lifetime_days ;
 *              lifetime_seconds (tests, short-lived credentials: when set,
 *              overrides lifetime_days)
 *   [profile NAME AUDIENCE]  one more audience of profile NAME: the same
 *              keys but audience (named by the header). cred_type
 *              x509-est is for the primary audience only.
 *
 * cfg->profiles[] holds one entry per (profile, audience): a profile's
 * first entry is its primary one ("audience =" of [profile NAME], the
 * entry kdc_config_profile() returns), then its extra entries.
 */
#ifndef KDC_CONFIG_H
#define KDC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "store/store.h"

#define KDC_CONFIG_PROFILES_MAX	32
#define KDC_CONFIG_HOSTS_MAX	16

enum kdc_client_cert {
	KDC_CLIENT_CERT_NONE = 0,
	KDC_CLIENT_CERT_OPTIONAL,
	KDC_CLIENT_CERT_REQUIRED,
};

struct kdc_config {
	char			hosts[KDC_CONFIG_HOSTS_MAX][KDC_NAME_MAX + 1];
	size_t			nhosts;
	int			log_level;
	int			sweep_seconds;	/* serve's expiry sweep */
	char			http_address[KDC_NAME_MAX + 1];
	int			http_port;
	int			http_tls12;
	enum kdc_client_cert	http_client_cert;
	int			http_conns_per_address;
	int			http_dnssd;	/* 1: DNS-SD (tdd/dnssd.h) */
	char			ca_key[512];	/* "file" or a PKCS#11 URL */
	int			ca_days;
	int			tls_days;
	char			coap_address[KDC_NAME_MAX + 1];
	int			coap_port;	/* 0: off */
	int			lwm2m_port;	/* 0: off */
	int			nosec_port;	/* tests only; 0: off */
	int			sign_threads;	/* EST workers; 0: none */
	int			coap_threads;	/* engine threads; 0: CPUs */
	int			coap_max_sessions;
	int			coap_max_handshakes;
	int			coap_handshake_rate;
	int			coap_sessions_per_cred;
	int			coap_idle_timeout;	/* seconds */
	int			coap_stale;		/* seconds */
	int			coap_body_timeout;	/* seconds */
	char			lwm2m_server_uri[256];	/* "" = derived */
	int			lwm2m_lifetime;
	int			lwm2m_bootstrap_timeout;
	int			ace_token_lifetime;	/* seconds */
	int			ace_refresh_lifetime;	/* seconds */
	int			ace_token_retention;	/* seconds kept after exp */
	char			ace_key[512];	/* "file" or a PKCS#11 URL */
	char			ocf_profile[KDC_NAME_MAX + 1];	/* OCF
					 * devices' profile (core/ocf.h) */
	int			ocf_cert_days;	/* identity certificates */
	char			ocf_interface[16];	/* the link the OBT
					 * reaches devices on ("": --iface) */
	int			ocf_discovery_window;	/* ms */
	int			ocf_pin_wait;	/* s, Random PIN OTM */
	int			tdd_enabled;	/* [tdd] (core/tdd.h) */
	char			tdd_audience[KDC_NAME_MAX + 1];
	int			tdd_basic;
	int			tdd_max_ttl;
	int			tdd_retention;
	int			tdd_retention_max;
	int			tdd_strict_lint;
	int			tdd_rate;
	int			tdd_events_keep;
	int			tdd_result_max;
	struct kdc_profile	profiles[KDC_CONFIG_PROFILES_MAX];
	size_t			nprofiles;
};

/* Fill cfg with the defaults (one "default" profile: psk, audience
 * "lwm2m", 30 days). */
void	kdc_config_defaults(struct kdc_config *cfg);
/* Parse path over the defaults. On error returns KDC_ERR_CONFIG (or IO)
 * and writes "FILE:LINE: reason" into err (capacity err_len). A file of
 * 0 bytes, or one group or other may write, is KDC_ERR_CONFIG ("FILE:
 * reason"). */
kdc_err	kdc_config_load(const char *path, struct kdc_config *cfg, char *err,
	    size_t err_len);
/* Parse a config held in memory (same rules; used by tests and fuzzing). */
kdc_err	kdc_config_parse(const char *text, struct kdc_config *cfg, char *err,
	    size_t err_len);
/*
 * Write cfg as a commented iotkdc.conf to path, mode 0600, all or nothing
 * (kdc_file_create_atomic()): KDC_OK; KDC_ERR_EXISTS if path is there
 * already; KDC_ERR_INVALID_ARG for a cfg the parser would not give back
 * as it is (a field out of its bounds, a value that does not round-trip)
 * or a path too long; KDC_ERR_NOMEM; KDC_ERR_IO for a failed write.
 */
kdc_err	kdc_config_write(const char *path, const struct kdc_config *cfg);
/*
 * What differs between a and b, key by key (the walk covers every key of
 * the table, so a new key is compared without more code): fn(section,
 * key, arg) for each key whose value differs, section "kdc", "http",
 * "ca", "coap", "lwm2m", "ace", "ocf", "profile NAME" or "profile NAME
 * AUDIENCE"
 * (entries are matched by name, and extra entries by audience too;
 * lifetime_days and lifetime_seconds share one value, reported as
 * lifetime_days). A profile in only one of them is reported once, key
 * NULL. fn may be NULL. Returns the number of differences: 0 when the
 * two configs behave the same.
 */
typedef void (*kdc_config_diff_fn)(const char *section, const char *key,
	    void *arg);
size_t	kdc_config_diff(const struct kdc_config *a, const struct kdc_config *b,
	    kdc_config_diff_fn fn, void *arg);
/* The profile called name (its primary entry), or NULL. */
const struct kdc_profile *
	kdc_config_profile(const struct kdc_config *cfg, const char *name);
/* Every entry of profile name, primary first: the first max into
 * out[]; returns how many there are (0: no such profile). */
size_t	kdc_config_profile_audiences(const struct kdc_config *cfg,
	    const char *name, const struct kdc_profile **out, size_t max);
/* The entry of profile name for audience (NULL: the primary entry); NULL
 * if the profile does not exist or does not list that audience. */
const struct kdc_profile *
	kdc_config_profile_audience(const struct kdc_config *cfg,
	    const char *name, const char *audience);

#endif
