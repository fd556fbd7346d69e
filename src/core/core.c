/*
 * core.c: device registry and credential lifecycle. Talks to the store
 * and crypto/ only; every grant, change and refusal is audited.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/audit.h"
#include "core/core.h"
#include "core/log.h"
#include "core/manifest.h"

struct kdc_core {
	struct kdc_store		*st;
	struct kdc_keyring		*kr;
	struct kdc_ca			*ca;
	const struct kdc_config		*cfg;
	int64_t				(*now)(void);
	/* token bucket for audited refusals of unauthenticated peers */
	int64_t				 unauth_at;	/* last refill, s */
	long				 unauth_tokens;
	long				 unauth_dropped;	/* since last record */
	/* the last CRL built (kdc_core_crl), for revocation generation
	 * crl_gen, valid until crl_next */
	uint8_t				*crl;
	size_t				 crl_len;
	int64_t				 crl_gen;
	int64_t				 crl_next;
};

#define CHECK_LABEL	"wrapkey-check"
/* Store meta key: bumped in the transaction of every revocation, so every
 * core (each thread, each process) sees that its cached CRL is stale. */
#define CRL_GEN_KEY	"crl_gen"

static int64_t
wall_clock(void)
{
	return (int64_t)time(NULL);
}

int64_t
kdc_core_now(const struct kdc_core *core)
{
	return core->now();
}

void
kdc_core_set_clock(struct kdc_core *core, int64_t (*now)(void))
{
	core->now = now != NULL ? now : wall_clock;
}

/* Append an audit record; a failure to audit is logged, and returned. */
#define AUDIT(core, actor, action, subject, outcome, ...)		\
	audit_rec((core), (actor), (action), (subject), (outcome),	\
	    __VA_ARGS__)

static kdc_err
audit_rec(struct kdc_core *core, const char *actor, const char *action,
    const char *subject, kdc_err outcome, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static kdc_err
audit_rec(struct kdc_core *core, const char *actor, const char *action,
    const char *subject, kdc_err outcome, const char *fmt, ...)
{
	char detail[KDC_AUDIT_DETAIL_MAX + 1];
	va_list ap;
	kdc_err r;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r = kdc_audit_append(core->st, core->kr, kdc_core_now(core), actor,
	    action, subject, outcome, "%s", detail);
	if (r != KDC_OK)
		kdc_log_err_r(r, "audit append failed action=%s", action);
	return r;
}

/*
 * A refusal of a peer that has not authenticated (auth.*). Anyone can
 * cause these, so they are audited through a token bucket
 * (KDC_AUDIT_UNAUTH_RATE per second, KDC_AUDIT_UNAUTH_BURST at once): a
 * flood of bad handshakes cannot fill the disk. What the bucket drops is
 * counted, and the next record that is written says how many.
 */
static void
audit_unauth(struct kdc_core *core, const char *actor, const char *action,
    const char *subject, kdc_err outcome, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
audit_unauth(struct kdc_core *core, const char *actor, const char *action,
    const char *subject, kdc_err outcome, const char *fmt, ...)
{
	char detail[KDC_AUDIT_DETAIL_MAX + 1];
	int64_t now = kdc_core_now(core);
	va_list ap;

	if (now != core->unauth_at) {
		int64_t dt = now > core->unauth_at ? now - core->unauth_at : 1;
		core->unauth_tokens += (long)(dt > KDC_AUDIT_UNAUTH_BURST ?
		    KDC_AUDIT_UNAUTH_BURST : dt) * KDC_AUDIT_UNAUTH_RATE;
		if (core->unauth_tokens > KDC_AUDIT_UNAUTH_BURST)
			core->unauth_tokens = KDC_AUDIT_UNAUTH_BURST;
		core->unauth_at = now;
	}
	if (core->unauth_tokens == 0) {
		if (core->unauth_dropped++ == 0)
			kdc_log_warn("refusals of unauthenticated peers are "
			    "over %d/s: auditing a sample", KDC_AUDIT_UNAUTH_RATE);
		return;
	}
	core->unauth_tokens--;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (core->unauth_dropped > 0) {
		size_t n = strlen(detail);
		snprintf(detail + n, sizeof(detail) - n, " (+%ld not recorded)",
		    core->unauth_dropped);
		core->unauth_dropped = 0;
	}
	(void)audit_rec(core, actor, action, subject, outcome, "%s", detail);
}

kdc_err
kdc_core_audit(struct kdc_core *core, const char *actor, const char *action,
    const char *subject, kdc_err outcome, int unauth, const char *fmt, ...)
{
	char detail[KDC_AUDIT_DETAIL_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (unauth && outcome != KDC_OK) {
		audit_unauth(core, actor, action, subject, outcome, "%s",
		    detail);
		return KDC_OK;
	}
	return audit_rec(core, actor, action, subject, outcome, "%s", detail);
}

/* The wrapping AAD of a credential row: its id. */
static size_t
cred_aad(int64_t id, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "cred:%" PRId64, id);

	return n < 0 ? 0 : (size_t)n;
}

/* The revocation generation in the store's meta (0 if never set). */
static kdc_err
crl_gen_get(struct kdc_core *core, int64_t *gen)
{
	char *v = NULL, *end;
	long long x;
	kdc_err r;

	*gen = 0;
	r = kdc_store_meta_get(core->st, CRL_GEN_KEY, &v);
	if (r == KDC_ERR_NOT_FOUND)
		return KDC_OK;
	if (r != KDC_OK)
		return r;
	x = strtoll(v, &end, 10);
	r = (end == v || *end != '\0' || x < 0) ? KDC_ERR_STORE_CORRUPT :
	    KDC_OK;
	kdc_free(v);
	if (r == KDC_OK)
		*gen = (int64_t)x;
	return r;
}

/* Bump it; call inside the revocation's transaction. */
static kdc_err
crl_gen_bump(struct kdc_core *core)
{
	char buf[24];
	int64_t gen;
	kdc_err r;

	if ((r = crl_gen_get(core, &gen)) != KDC_OK)
		return r;
	snprintf(buf, sizeof(buf), "%" PRId64, gen + 1);
	return kdc_store_meta_set(core->st, CRL_GEN_KEY, buf);
}

/* ---- lifetime ---------------------------------------------------------- */

static kdc_err
check_keyring(struct kdc_core *core)
{
	uint8_t mac[32];
	char hex[65], *have = NULL;
	kdc_err r;

	if ((r = kdc_keyring_mac(core->kr, CHECK_LABEL, "iotkdc", 6, mac))
	    != KDC_OK)
		return r;
	kdc_hex_encode(mac, sizeof(mac), hex);
	r = kdc_store_meta_get(core->st, CHECK_LABEL, &have);
	if (r == KDC_ERR_NOT_FOUND)
		return kdc_store_meta_set(core->st, CHECK_LABEL, hex);
	if (r != KDC_OK)
		return r;
	r = strcmp(have, hex) == 0 ? KDC_OK : KDC_ERR_BAD_KEY;
	kdc_free(have);
	return r;
}

kdc_err
kdc_core_new(struct kdc_store *st, struct kdc_keyring *kr, struct kdc_ca *ca,
    const struct kdc_config *cfg, struct kdc_core **out)
{
	struct kdc_core *core;
	kdc_err r;

	*out = NULL;
	if ((core = kdc_calloc(1, sizeof(*core))) == NULL)
		return KDC_ERR_NOMEM;
	core->st = st;
	core->kr = kr;
	core->ca = ca;
	core->cfg = cfg;
	core->now = wall_clock;
	core->unauth_tokens = KDC_AUDIT_UNAUTH_BURST;
	if ((r = kdc_store_begin(st)) != KDC_OK)
		goto out;
	if ((r = check_keyring(core)) != KDC_OK) {
		kdc_store_rollback(st);
		goto out;
	}
	for (size_t i = 0; i < cfg->nprofiles; i++)
		if ((r = kdc_store_profile_put(st, &cfg->profiles[i])) !=
		    KDC_OK) {
			kdc_store_rollback(st);
			goto out;
		}
	if ((r = kdc_store_commit(st)) != KDC_OK)
		goto out;
	*out = core;
	core = NULL;
out:
	kdc_free(core);
	return r;
}

void
kdc_core_free(struct kdc_core *core)
{
	if (core == NULL)
		return;
	kdc_free(core->crl);
	kdc_free(core);
}

/* ---- registry ---------------------------------------------------------- */

/* Device ids: URI-ish printable ASCII (RFC 3986 unreserved, sub-delims,
 * ':' '@' '/' '%'), so they are safe in a SAN URI, a CN, logs and paths. */
static int
id_char_ok(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-._~:@/%!$&'()*+,;=", c) != NULL;
}

static int
name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > KDC_NAME_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._", *s) != NULL))
			return 0;
	return 1;
}

kdc_err
kdc_device_spec_check(const struct kdc_device_spec *spec)
{
	size_t n = strnlen(spec->dev_id, sizeof(spec->dev_id));

	if (n == 0 || n > KDC_DEVID_MAX)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		if (!id_char_ok((unsigned char)spec->dev_id[i]))
			return KDC_ERR_INVALID_ARG;
	if (spec->profile[0] != '\0' && !name_ok(spec->profile))
		return KDC_ERR_INVALID_ARG;
	switch (spec->type) {
	case KDC_TYPE_PSK:
		n = strnlen(spec->psk_identity, sizeof(spec->psk_identity));
		if (n == 0 || n > KDC_PSK_IDENTITY_MAX)
			return KDC_ERR_INVALID_ARG;
		for (size_t i = 0; i < n; i++)
			if (spec->psk_identity[i] < 0x21 ||
			    spec->psk_identity[i] > 0x7e)
				return KDC_ERR_INVALID_ARG;
		if (spec->psk_len < KDC_PSK_MIN)
			return KDC_ERR_WEAK_PSK;
		if (spec->psk_len > KDC_PSK_MAX)
			return KDC_ERR_TOO_LARGE;
		return KDC_OK;
	case KDC_TYPE_RPK: {
		enum kdc_key_alg alg;
		return kdc_spki_check(spec->spki, spec->spki_len, &alg);
	}
	case KDC_TYPE_X509:
		return KDC_OK;
	}
	return KDC_ERR_INVALID_ARG;
}

/* Insert device + manufacturer credential; no transaction, no audit. */
static kdc_err
device_insert(struct kdc_core *core, const struct kdc_device_spec *spec)
{
	struct kdc_device dev;
	struct kdc_cred cred;
	uint8_t fp[32], sfp[32], *wrapped = NULL;
	size_t wrapped_len = 0, aad_len;
	char aad[32];
	kdc_err r;

	memset(&dev, 0, sizeof(dev));
	memset(&cred, 0, sizeof(cred));
	snprintf(dev.dev_id, sizeof(dev.dev_id), "%s", spec->dev_id);
	snprintf(dev.profile, sizeof(dev.profile), "%s",
	    spec->profile[0] != '\0' ? spec->profile : "default");
	if (kdc_config_profile(core->cfg, dev.profile) == NULL)
		return KDC_ERR_UNKNOWN_PROFILE;
	dev.status = KDC_DEV_ACTIVE;
	dev.created = kdc_core_now(core);
	if ((r = kdc_store_device_add(core->st, &dev)) != KDC_OK)
		return r;

	cred.device = dev.id;
	cred.kind = KDC_KIND_MANUFACTURER;
	cred.type = spec->type;
	cred.status = KDC_CRED_ISSUED;
	cred.created = dev.created;
	if (spec->type == KDC_TYPE_PSK) {
		snprintf(cred.identity, sizeof(cred.identity), "%s",
		    spec->psk_identity);
		if ((r = kdc_keyring_mac(core->kr, "psk-fp", spec->psk,
		    spec->psk_len, fp)) != KDC_OK)
			goto out;
		r = kdc_store_cred_find_secret_fp(core->st, fp, sizeof(fp), 0);
		if (r == KDC_OK)
			r = KDC_ERR_DUPLICATE_PSK;
		if (r != KDC_ERR_NOT_FOUND)
			goto out;
		cred.secret_fp = fp;
		cred.secret_fp_len = sizeof(fp);
	} else if (spec->type == KDC_TYPE_RPK) {
		kdc_sha256(spec->spki, spec->spki_len, sfp);
		cred.spki = (uint8_t *)(uintptr_t)spec->spki;
		cred.spki_len = spec->spki_len;
		cred.spki_fp = sfp;
		cred.spki_fp_len = sizeof(sfp);
	}
	if ((r = kdc_store_cred_add(core->st, &cred)) != KDC_OK)
		goto out;
	if (spec->type == KDC_TYPE_PSK) {
		aad_len = cred_aad(cred.id, aad, sizeof(aad));
		if ((r = kdc_wrap(core->kr, aad, aad_len, spec->psk,
		    spec->psk_len, &wrapped, &wrapped_len)) != KDC_OK ||
		    (r = kdc_store_cred_set_wrapped(core->st, cred.id, wrapped,
		    wrapped_len)) != KDC_OK)
			goto out;
	}
out:
	kdc_free(wrapped);
	return r;
}

kdc_err
kdc_core_device_add(struct kdc_core *core, const char *actor,
    const struct kdc_device_spec *spec)
{
	kdc_err r;

	if ((r = kdc_device_spec_check(spec)) != KDC_OK)
		goto refused;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		return r;
	if ((r = device_insert(core, spec)) != KDC_OK ||
	    (r = AUDIT(core, actor, "device.add", spec->dev_id, KDC_OK,
	    "type=%s", kdc_cred_type_str(spec->type))) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	return kdc_store_commit(core->st);
refused:
	(void)AUDIT(core, actor, "device.add", spec->dev_id, r, "%s",
	    kdc_err_str(r));
	return r;
}

kdc_err
kdc_core_device_import(struct kdc_core *core, const char *actor,
    const char *buf, size_t len, size_t *count, size_t *bad_line, char *why,
    size_t why_len)
{
	struct kdc_device_spec *spec;
	const char *line;
	size_t off = 0, line_len, lineno = 0, n = 0;
	kdc_err r;

	*count = 0;
	*bad_line = 0;
	if (why_len > 0)
		why[0] = '\0';
	if (len > KDC_MANIFEST_MAX)
		return KDC_ERR_TOO_LARGE;
	if ((spec = kdc_malloc(sizeof(*spec))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto out;
	while (kdc_manifest_next_line(buf, len, &off, &line, &line_len)) {
		lineno++;
		if (kdc_manifest_line_blank(line, line_len))
			continue;
		r = kdc_manifest_parse_line(line, line_len, spec, why,
		    why_len);
		if (r == KDC_OK && (r = device_insert(core, spec)) != KDC_OK)
			snprintf(why, why_len, "%s %s", spec->dev_id,
			    r == KDC_ERR_EXISTS ? "is already registered" :
			    kdc_err_str(r));
		kdc_wipe(spec, sizeof(*spec));
		if (r != KDC_OK) {
			*bad_line = lineno;
			break;
		}
		n++;
	}
	if (r == KDC_OK && n == 0) {
		r = KDC_ERR_MALFORMED;
		snprintf(why, why_len, "manifest holds no devices");
	}
	if (r == KDC_OK && (r = AUDIT(core, actor, "device.import", "-",
	    KDC_OK, "devices=%zu", n)) == KDC_OK &&
	    (r = kdc_store_commit(core->st)) == KDC_OK) {
		*count = n;
		goto out;
	}
	kdc_store_rollback(core->st);
	(void)AUDIT(core, actor, "device.import", "-", r, "line %zu: %s",
	    *bad_line, why);
out:
	kdc_free(spec);
	return r;
}

kdc_err
kdc_core_device_get(struct kdc_core *core, const char *dev_id,
    struct kdc_device **out)
{
	kdc_err r = kdc_store_device_get(core->st, dev_id, out);

	return r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
}

kdc_err
kdc_core_device_get_by_id(struct kdc_core *core, int64_t id,
    struct kdc_device **out)
{
	kdc_err r = kdc_store_device_get_by_id(core->st, id, out);

	return r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
}

kdc_err
kdc_core_auth_of(struct kdc_core *core, const struct kdc_cred *cred,
    enum kdc_cred_type type, const uint8_t *spki, size_t spki_len,
    struct kdc_auth *out)
{
	struct kdc_device *dev = NULL;
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if (spki_len > sizeof(out->spki))
		return KDC_ERR_TOO_LARGE;
	if ((r = kdc_core_device_get_by_id(core, cred->device, &dev)) !=
	    KDC_OK)
		return r;
	if (spki_len > 0)
		memcpy(out->spki, spki, spki_len);
	out->spki_len = spki_len;
	out->type = type;
	out->kind = cred->kind;
	out->cred_id = cred->id;
	out->device = cred->device;
	snprintf(out->dev_id, sizeof(out->dev_id), "%s", dev->dev_id);
	kdc_device_free(dev);
	return KDC_OK;
}

kdc_err
kdc_core_device_profile(struct kdc_core *core, const char *dev_id,
    struct kdc_profile *out)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	kdc_err r;

	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		return r;
	prof = kdc_config_profile(core->cfg, dev->profile[0] != '\0' ?
	    dev->profile : "default");
	kdc_device_free(dev);
	if (prof == NULL)
		return KDC_ERR_UNKNOWN_PROFILE;
	*out = *prof;
	return KDC_OK;
}

kdc_err
kdc_core_audit_verify(struct kdc_core *core, int64_t *count,
    int64_t *bad_seq, char *why, size_t why_len)
{
	return kdc_audit_verify(core->st, core->kr, count, bad_seq, why,
	    why_len);
}

kdc_err
kdc_core_audit_foreach(struct kdc_core *core, int64_t from_seq,
    kdc_store_audit_fn fn, void *arg)
{
	return kdc_store_audit_foreach(core->st, from_seq, fn, arg);
}

/* ---- LwM2M Server registrations --------------------------------------- */

kdc_err
kdc_core_lwm2m_reg_put(struct kdc_core *core, struct kdc_lwm2m_reg *reg)
{
	return kdc_store_lwm2m_reg_put(core->st, reg);
}

kdc_err
kdc_core_lwm2m_reg_get(struct kdc_core *core, int64_t id,
    struct kdc_lwm2m_reg *out)
{
	return kdc_store_lwm2m_reg_get(core->st, id, out);
}

kdc_err
kdc_core_lwm2m_reg_touch(struct kdc_core *core, int64_t id, int64_t now,
    int64_t lifetime, const char *binding, const char *addr)
{
	return kdc_store_lwm2m_reg_touch(core->st, id, now, lifetime, binding,
	    addr);
}

kdc_err
kdc_core_lwm2m_reg_delete(struct kdc_core *core, int64_t id)
{
	return kdc_store_lwm2m_reg_delete(core->st, id);
}

kdc_err
kdc_core_lwm2m_reg_list(struct kdc_core *core, struct kdc_lwm2m_reg **out,
    size_t *n)
{
	return kdc_store_lwm2m_reg_list(core->st, out, n);
}

kdc_err
kdc_core_device_list(struct kdc_core *core, struct kdc_device ***out,
    size_t *n)
{
	return kdc_store_device_list(core->st, out, n);
}

/* Set every live credential of a device to `status`. */
static kdc_err
device_creds_set(struct kdc_core *core, int64_t device,
    enum kdc_cred_status from, enum kdc_cred_status to)
{
	struct kdc_cred_filter f = { device, -1, (int)from, 0 };
	struct kdc_cred **v = NULL;
	size_t n = 0;
	kdc_err r;

	if ((r = kdc_store_cred_list(core->st, &f, &v, &n)) != KDC_OK)
		return r;
	for (size_t i = 0; i < n && r == KDC_OK; i++)
		r = kdc_store_cred_set_status(core->st, v[i]->id, to);
	kdc_cred_list_free(v, n);
	return r;
}

kdc_err
kdc_core_device_revoke(struct kdc_core *core, const char *actor,
    const char *dev_id)
{
	struct kdc_device *dev = NULL;
	kdc_err r;

	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		goto refused;
	if (dev->status == KDC_DEV_REVOKED) {
		r = KDC_ERR_REVOKED;
		goto refused;
	}
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto out;
	if ((r = kdc_store_device_set_status(core->st, dev->id,
	    KDC_DEV_REVOKED)) != KDC_OK ||
	    (r = device_creds_set(core, dev->id, KDC_CRED_ISSUED,
	    KDC_CRED_REVOKED)) != KDC_OK ||
	    (r = device_creds_set(core, dev->id, KDC_CRED_PENDING,
	    KDC_CRED_REVOKED)) != KDC_OK ||
	    (r = crl_gen_bump(core)) != KDC_OK ||
	    (r = AUDIT(core, actor, "device.revoke", dev_id, KDC_OK,
	    "credentials revoked")) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	r = kdc_store_commit(core->st);
	goto out;
refused:
	(void)AUDIT(core, actor, "device.revoke", dev_id, r, "%s",
	    kdc_err_str(r));
out:
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_device_delete(struct kdc_core *core, const char *actor,
    const char *dev_id)
{
	struct kdc_device *dev = NULL;
	kdc_err r;

	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		goto refused;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto out;
	if ((r = kdc_store_device_delete(core->st, dev->id)) != KDC_OK ||
	    (r = AUDIT(core, actor, "device.delete", dev_id, KDC_OK,
	    "device and credentials deleted")) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	r = kdc_store_commit(core->st);
	goto out;
refused:
	(void)AUDIT(core, actor, "device.delete", dev_id, r, "%s",
	    kdc_err_str(r));
out:
	kdc_device_free(dev);
	return r;
}

/* ---- authentication ---------------------------------------------------- */

/*
 * Is this credential (and its device) usable now? The refusal, if any,
 * is audited with what was presented.
 */
static kdc_err
cred_usable(struct kdc_core *core, const char *actor, const char *action,
    const char *presented, const struct kdc_cred *cred)
{
	struct kdc_device *dev = NULL;
	int64_t now = kdc_core_now(core);
	const char *subject = presented;
	kdc_err r;

	if ((r = kdc_store_device_get_by_id(core->st, cred->device, &dev))
	    != KDC_OK) {
		r = r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
		goto out;
	}
	subject = dev->dev_id;
	if (dev->status == KDC_DEV_REVOKED)
		r = KDC_ERR_REVOKED;
	else if (cred->status == KDC_CRED_REVOKED ||
	    cred->status == KDC_CRED_SUPERSEDED)
		r = KDC_ERR_REVOKED;
	else if (cred->status == KDC_CRED_EXPIRED ||
	    (cred->not_after != 0 && now >= cred->not_after))
		r = KDC_ERR_EXPIRED;
	else if (cred->status == KDC_CRED_PENDING ||
	    (cred->not_before != 0 && now < cred->not_before))
		r = KDC_ERR_NOT_YET_VALID;
out:
	if (r != KDC_OK)
		audit_unauth(core, actor, action, subject, r,
		    "cred=%" PRId64 " status=%s", cred->id,
		    kdc_cred_status_str(cred->status));
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_auth_psk(struct kdc_core *core, const char *actor,
    const char *identity, uint8_t *psk, size_t *psk_len,
    struct kdc_cred **out)
{
	struct kdc_cred *cred = NULL;
	uint8_t *key = NULL;
	size_t key_len = 0, aad_len;
	char aad[32], esc[KDC_PSK_IDENTITY_MAX * 4 + 1];
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	r = kdc_store_cred_get_by_identity(core->st, identity, &cred);
	if (r == KDC_ERR_NOT_FOUND || (r == KDC_OK &&
	    cred->type != KDC_TYPE_PSK)) {
		r = KDC_ERR_UNKNOWN_DEVICE;
		kdc_log_escape(identity, strlen(identity), esc, sizeof(esc));
		audit_unauth(core, actor, "auth.psk", esc, r, "identity=%s",
		    esc);
		goto out;
	}
	if (r != KDC_OK ||
	    (r = cred_usable(core, actor, "auth.psk", identity, cred)) !=
	    KDC_OK)
		goto out;
	aad_len = cred_aad(cred->id, aad, sizeof(aad));
	if ((r = kdc_unwrap(core->kr, aad, aad_len, cred->wrapped,
	    cred->wrapped_len, &key, &key_len)) != KDC_OK)
		goto out;
	if (key_len > *psk_len) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(psk, key, key_len);
	*psk_len = key_len;
	if (out != NULL) {
		*out = cred;
		cred = NULL;
	}
out:
	kdc_secret_free(key, key_len);
	kdc_cred_free(cred);
	return r;
}

kdc_err
kdc_core_auth_spki(struct kdc_core *core, const char *actor,
    const uint8_t *spki, size_t spki_len, struct kdc_cred **out)
{
	struct kdc_cred *cred = NULL;
	uint8_t fp[32];
	char hex[17];
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	kdc_sha256(spki, spki_len, fp);
	kdc_hex_encode(fp, 8, hex);
	r = kdc_store_cred_get_by_spki_fp(core->st, fp, &cred);
	if (r == KDC_ERR_NOT_FOUND) {
		r = KDC_ERR_UNKNOWN_DEVICE;
		audit_unauth(core, actor, "auth.rpk", hex, r, "spki_sha256=%s..",
		    hex);
		goto out;
	}
	if (r != KDC_OK ||
	    (r = cred_usable(core, actor, "auth.rpk", hex, cred)) != KDC_OK)
		goto out;
	if (out != NULL) {
		*out = cred;
		cred = NULL;
	}
out:
	kdc_cred_free(cred);
	return r;
}

/* The anchors a client certificate may chain to: our CA and every
 * manufacturer CA. Caller frees with anchors_free(). */
struct anchors {
	struct kdc_mfg_ca	**mfg;
	size_t			  nmfg;
	uint8_t			 *own;
	size_t			  own_len;
	const uint8_t		**der;
	size_t			 *len;
	size_t			  n;
};

static void
anchors_free(struct anchors *a)
{
	kdc_mfg_ca_list_free(a->mfg, a->nmfg);
	kdc_free(a->own);
	kdc_free(a->der);
	kdc_free(a->len);
}

static kdc_err
anchors_load(struct kdc_core *core, struct anchors *a)
{
	kdc_err r;

	memset(a, 0, sizeof(*a));
	if ((r = kdc_store_mfg_ca_list(core->st, &a->mfg, &a->nmfg)) != KDC_OK)
		return r;
	if (core->ca != NULL &&
	    (r = kdc_ca_cert_der(core->ca, &a->own, &a->own_len)) != KDC_OK)
		return r;
	if ((a->der = kdc_calloc(a->nmfg + 1, sizeof(*a->der))) == NULL ||
	    (a->len = kdc_calloc(a->nmfg + 1, sizeof(*a->len))) == NULL)
		return KDC_ERR_NOMEM;
	if (a->own != NULL) {
		a->der[a->n] = a->own;
		a->len[a->n++] = a->own_len;
	}
	for (size_t i = 0; i < a->nmfg; i++) {
		a->der[a->n] = a->mfg[i]->cert;
		a->len[a->n++] = a->mfg[i]->cert_len;
	}
	return KDC_OK;
}

/* The device's manufacturer credential of type x509. */
static kdc_err
mfg_x509_cred(struct kdc_core *core, const char *dev_id,
    struct kdc_cred **out)
{
	struct kdc_cred_filter f = { 0, KDC_KIND_MANUFACTURER, -1, 0 };
	struct kdc_device *dev = NULL;
	struct kdc_cred **v = NULL;
	size_t n = 0;
	kdc_err r;

	*out = NULL;
	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		return r;
	f.device = dev->id;
	kdc_device_free(dev);
	if ((r = kdc_store_cred_list(core->st, &f, &v, &n)) != KDC_OK)
		return r;
	r = KDC_ERR_WRONG_TYPE;
	for (size_t i = 0; i < n; i++)
		if (v[i]->type == KDC_TYPE_X509) {
			*out = v[i];
			v[i] = NULL;
			r = KDC_OK;
			break;
		}
	kdc_cred_list_free(v, n);
	return r;
}

kdc_err
kdc_core_auth_cert(struct kdc_core *core, const char *actor,
    const uint8_t *const *certs, const size_t *lens, size_t ncerts,
    struct kdc_cred **out)
{
	struct anchors a;
	struct kdc_cred *cred = NULL;
	uint8_t *spki = NULL, fp[32];
	size_t spki_len = 0;
	char *dev_id = NULL, esc[KDC_DEVID_MAX * 4 + 1];
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	snprintf(esc, sizeof(esc), "-");
	if ((r = anchors_load(core, &a)) != KDC_OK)
		goto out;
	r = kdc_cert_verify_chain(certs, lens, ncerts, a.der, a.len, a.n,
	    kdc_core_now(core), &dev_id, &spki, &spki_len);
	if (dev_id != NULL)
		kdc_log_escape(dev_id, strlen(dev_id), esc, sizeof(esc));
	if (r != KDC_OK)
		goto refused;
	/* an operational certificate we issued: found by its key */
	kdc_sha256(spki, spki_len, fp);
	r = kdc_store_cred_get_by_spki_fp(core->st, fp, &cred);
	if (r == KDC_OK && cred->kind == KDC_KIND_OPERATIONAL &&
	    cred->type == KDC_TYPE_X509) {
		if (cred->status == KDC_CRED_PENDING && cred->on_use) {
			/* an EST certificate's first use: judged as the
			 * issued one it becomes, then activated (the one it
			 * replaces superseded in the same transaction) */
			cred->status = KDC_CRED_ISSUED;
			if ((r = cred_usable(core, actor, "auth.cert", esc,
			    cred)) == KDC_OK)
				r = kdc_core_cred_activate(core, actor,
				    cred->id);
			goto done;
		}
		r = cred_usable(core, actor, "auth.cert", esc, cred);
		goto done;
	}
	kdc_cred_free(cred);
	cred = NULL;
	if (r != KDC_OK && r != KDC_ERR_NOT_FOUND)
		goto out;
	/* a manufacturer certificate: the device it names */
	if ((r = mfg_x509_cred(core, dev_id, &cred)) != KDC_OK)
		goto refused;
	r = cred_usable(core, actor, "auth.cert", esc, cred);
done:
	if (r == KDC_OK && out != NULL) {
		*out = cred;
		cred = NULL;
	}
	goto out;
refused:
	audit_unauth(core, actor, "auth.cert", esc, r, "%s",
	    kdc_err_str(r));
out:
	anchors_free(&a);
	kdc_cred_free(cred);
	kdc_free(dev_id);
	kdc_free(spki);
	return r;
}

/* ---- issuance and lifecycle ------------------------------------------- */

/* The device, if usable for issuance; refusals audited by the caller. */
static kdc_err
device_for_issue(struct kdc_core *core, const char *dev_id,
    struct kdc_device **dev, const struct kdc_profile **prof)
{
	kdc_err r;

	*prof = NULL;
	if ((r = kdc_core_device_get(core, dev_id, dev)) != KDC_OK)
		return r;
	if ((*dev)->status == KDC_DEV_REVOKED)
		return KDC_ERR_REVOKED;
	if ((*prof = kdc_config_profile(core->cfg, (*dev)->profile)) == NULL)
		return KDC_ERR_UNKNOWN_PROFILE;
	return KDC_OK;
}

/* Supersede the credentials of device+audience in `status`. */
static kdc_err
supersede(struct kdc_core *core, int64_t device, const char *audience,
    enum kdc_cred_status status)
{
	size_t n;
	kdc_err r;

	/* a superseded certificate goes on the CRL: a new generation */
	if ((r = kdc_store_cred_supersede(core->st, device, audience, status,
	    &n)) == KDC_OK && n > 0)
		r = crl_gen_bump(core);
	return r;
}

/*
 * The status of a new operational credential (cred, its spki_fp set).
 * ISSUED and PENDING are taken as asked. ON_USE (EST): pending and
 * flagged to go live at its first authentication while the device has an
 * issued one for the audience (that one stays usable until then), else
 * issued at once. Also at once when the issued one has the same key (a
 * renewal without rekey): certificates authenticate by their key, so the
 * device keeps working with either certificate. Inside the caller's
 * transaction.
 */
enum issue_mode { ISSUE_NOW, ISSUE_PENDING, ISSUE_ON_USE, ISSUE_BAD };

/* The mode for a caller's status: ISSUED or PENDING, else ISSUE_BAD. */
static enum issue_mode
mode_of(enum kdc_cred_status status)
{
	return status == KDC_CRED_ISSUED ? ISSUE_NOW :
	    status == KDC_CRED_PENDING ? ISSUE_PENDING : ISSUE_BAD;
}

static kdc_err
issue_status(struct kdc_core *core, int64_t device, const char *audience,
    enum issue_mode mode, struct kdc_cred *cred)
{
	struct kdc_cred *live = NULL;
	kdc_err r;

	cred->on_use = false;
	cred->status = mode == ISSUE_PENDING ? KDC_CRED_PENDING :
	    KDC_CRED_ISSUED;
	if (mode != ISSUE_ON_USE)
		return KDC_OK;
	r = kdc_store_cred_get_live(core->st, device, audience,
	    KDC_CRED_ISSUED, &live);
	if (r == KDC_ERR_NOT_FOUND)
		return KDC_OK;
	if (r == KDC_OK && !(live->spki_fp != NULL &&
	    live->spki_fp_len == cred->spki_fp_len &&
	    memcmp(live->spki_fp, cred->spki_fp, cred->spki_fp_len) == 0)) {
		cred->status = KDC_CRED_PENDING;
		cred->on_use = true;
	}
	kdc_cred_free(live);
	return r;
}

/* Make room for a new credential in `status`: an issued one supersedes
 * the issued one and any pending one (an unfinished bootstrap, an EST
 * certificate never used), which could otherwise go live after it; a
 * pending one supersedes only the pending one. */
static kdc_err
make_room(struct kdc_core *core, int64_t device, const char *audience,
    enum kdc_cred_status status)
{
	kdc_err r;

	if (status == KDC_CRED_ISSUED &&
	    (r = supersede(core, device, audience, KDC_CRED_PENDING)) !=
	    KDC_OK)
		return r;
	return supersede(core, device, audience, status);
}

/*
 * The issuance transaction of a signed certificate (is) for dev: its
 * status by mode, what it supersedes, the row, the success record
 * "cert.issue" (note at its end; keygen: the KDC made the key). Nothing
 * is audited on failure: the caller does.
 */
static kdc_err
cert_store(struct kdc_core *core, const char *actor,
    const struct kdc_device *dev, const struct kdc_profile *prof,
    const struct kdc_issued *is, int64_t not_before, int64_t not_after,
    enum issue_mode mode, bool keygen, const char *note, int64_t *cred_id,
    bool *pending)
{
	struct kdc_cred cred;
	uint8_t fp[32];
	kdc_err r;

	memset(&cred, 0, sizeof(cred));
	cred.device = dev->id;
	cred.kind = KDC_KIND_OPERATIONAL;
	cred.type = KDC_TYPE_X509;
	snprintf(cred.audience, sizeof(cred.audience), "%s", prof->audience);
	kdc_sha256(is->spki, is->spki_len, fp);
	cred.spki = is->spki;
	cred.spki_len = is->spki_len;
	cred.spki_fp = fp;
	cred.spki_fp_len = sizeof(fp);
	cred.cert = is->cert;
	cred.cert_len = is->cert_len;
	snprintf(cred.serial, sizeof(cred.serial), "%s", is->serial);
	cred.not_before = not_before;
	cred.not_after = not_after;
	cred.created = kdc_core_now(core);
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		return r;
	if ((r = issue_status(core, dev->id, prof->audience, mode, &cred)) !=
	    KDC_OK ||
	    (r = make_room(core, dev->id, prof->audience, cred.status))
	    != KDC_OK ||
	    (r = kdc_store_cred_add(core->st, &cred)) != KDC_OK ||
	    (r = AUDIT(core, actor, "cert.issue", dev->dev_id, KDC_OK,
	    "cred=%" PRId64 " serial=%s audience=%s not_after=%" PRId64
	    " status=%s%s%s%s%s", cred.id, is->serial, prof->audience,
	    cred.not_after, kdc_cred_status_str(cred.status),
	    cred.on_use ? " (issued on first use)" : "",
	    keygen ? " keygen=kdc" : "",
	    note != NULL ? " " : "", note != NULL ? note : "")) != KDC_OK) {
		kdc_store_rollback(core->st);
		return r;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		return r;
	*cred_id = cred.id;
	if (pending != NULL)
		*pending = cred.status == KDC_CRED_PENDING;
	return KDC_OK;
}

kdc_err
kdc_core_cert_sign(struct kdc_core *core, const char *actor,
    const char *dev_id, const uint8_t *csr, size_t csr_len, unsigned days,
    int64_t *cred_id, uint8_t **cert, size_t *cert_len)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	struct kdc_issued is;
	int64_t now = kdc_core_now(core), life;
	kdc_err r;

	*cred_id = 0;
	*cert = NULL;
	*cert_len = 0;
	memset(&is, 0, sizeof(is));
	if (core->ca == NULL) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if (days > 36500) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = device_for_issue(core, dev_id, &dev, &prof)) != KDC_OK)
		goto refused;
	life = days != 0 ? (int64_t)days * 86400 : prof->lifetime;
	if ((r = kdc_ca_sign_csr(core->ca, csr, csr_len, dev->dev_id, now,
	    now + life, &is)) != KDC_OK ||
	    (r = cert_store(core, actor, dev, prof, &is, now, now + life,
	    ISSUE_NOW, false, NULL, cred_id, NULL)) != KDC_OK)
		goto refused;
	*cert = is.cert;
	*cert_len = is.cert_len;
	is.cert = NULL;
	is.cert_len = 0;
	goto out;
refused:
	(void)AUDIT(core, actor, "cert.issue", dev_id, r, "%s",
	    kdc_err_str(r));
out:
	kdc_issued_wipe(&is);
	kdc_device_free(dev);
	return r;
}

/* ---- EST enrollment (core.h kdc_core_enroll()) -------------------------- */

const char *
kdc_enroll_op_str(enum kdc_enroll_op op)
{
	return op == KDC_ENROLL_SREN ? "sren" : op == KDC_ENROLL_SKG ? "skg" :
	    "sen";
}

/*
 * Who may ask on this session: the manufacturer credential for sen (and
 * skg by it), the current operational certificate for sren (and skg by
 * it), still issued now (superseded or revoked since the handshake:
 * refused). *mine gets the credential row (for its key).
 */
static kdc_err
enroll_allowed(struct kdc_core *core, struct kdc_enroll *e,
    struct kdc_cred **mine)
{
	const struct kdc_auth *who = &e->who;
	struct kdc_cred *cred = NULL;
	bool re = e->op == KDC_ENROLL_SREN || (e->op == KDC_ENROLL_SKG &&
	    who->kind == KDC_KIND_OPERATIONAL);
	kdc_err r;

	*mine = NULL;
	if (who->dev_id[0] == '\0' || who->cred_id == 0) {
		snprintf(e->why, sizeof(e->why), "not authenticated");
		return KDC_ERR_DENIED;
	}
	if (!re && who->kind != KDC_KIND_MANUFACTURER) {
		snprintf(e->why, sizeof(e->why), "%s needs the manufacturer "
		    "credential, cred=%" PRId64 " is %s", kdc_enroll_op_str(e->op),
		    who->cred_id, kdc_cred_kind_str(who->kind));
		return KDC_ERR_WRONG_TYPE;
	}
	if (re && (who->kind != KDC_KIND_OPERATIONAL ||
	    who->type != KDC_TYPE_X509)) {
		snprintf(e->why, sizeof(e->why), "%s needs the operational "
		    "certificate, cred=%" PRId64 " is %s %s",
		    kdc_enroll_op_str(e->op), who->cred_id,
		    kdc_cred_kind_str(who->kind), kdc_cred_type_str(who->type));
		return KDC_ERR_WRONG_TYPE;
	}
	if ((r = kdc_store_cred_get(core->st, who->cred_id, &cred)) !=
	    KDC_OK) {
		snprintf(e->why, sizeof(e->why), "cred=%" PRId64 ": %s",
		    who->cred_id, kdc_err_str(r));
		return r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
	}
	if (cred->device != who->device || cred->status != KDC_CRED_ISSUED) {
		snprintf(e->why, sizeof(e->why), "cred=%" PRId64 " is %s",
		    who->cred_id, kdc_cred_status_str(cred->status));
		r = cred->status == KDC_CRED_EXPIRED ? KDC_ERR_EXPIRED :
		    KDC_ERR_REVOKED;
		kdc_cred_free(cred);
		return r;
	}
	*mine = cred;
	return KDC_OK;
}

/*
 * A key the KDC knows already may not be certified again for this
 * device: the manufacturer key of this session (its row's for an RPK;
 * the handshake's for a manufacturer certificate, whose key is not
 * stored), any credential of another device, any manufacturer
 * credential, a revoked key. The device's own live operational key may be
 * certified again.
 */
static kdc_err
key_allowed(struct kdc_core *core, struct kdc_enroll *e,
    const struct kdc_cred *mine, const uint8_t *spki, size_t spki_len)
{
	const struct kdc_auth *who = &e->who;
	struct kdc_cred *cred = NULL;
	uint8_t fp[32];
	kdc_err r;

	if (mine->kind == KDC_KIND_MANUFACTURER && mine->spki != NULL &&
	    mine->spki_len == spki_len &&
	    memcmp(mine->spki, spki, spki_len) == 0) {
		snprintf(e->why, sizeof(e->why), "CSR key is the manufacturer "
		    "key of cred=%" PRId64, mine->id);
		return KDC_ERR_DENIED;
	}
	if (who->kind == KDC_KIND_MANUFACTURER && who->spki_len > 0 &&
	    who->spki_len == spki_len &&
	    memcmp(who->spki, spki, spki_len) == 0) {
		snprintf(e->why, sizeof(e->why), "CSR key is the manufacturer "
		    "key of cred=%" PRId64, who->cred_id);
		return KDC_ERR_DENIED;
	}
	kdc_sha256(spki, spki_len, fp);
	r = kdc_store_cred_get_by_spki_fp(core->st, fp, &cred);
	if (r == KDC_ERR_NOT_FOUND)
		return KDC_OK;
	if (r != KDC_OK) {
		snprintf(e->why, sizeof(e->why), "key lookup: %s",
		    kdc_err_str(r));
		return r;
	}
	if (cred->device != who->device) {
		snprintf(e->why, sizeof(e->why), "CSR key is a key of another "
		    "device (cred=%" PRId64 ")", cred->id);
		r = KDC_ERR_DENIED;
	} else if (cred->kind == KDC_KIND_MANUFACTURER) {
		snprintf(e->why, sizeof(e->why), "CSR key is the manufacturer "
		    "key of cred=%" PRId64, cred->id);
		r = KDC_ERR_DENIED;
	} else if (cred->status == KDC_CRED_REVOKED) {
		snprintf(e->why, sizeof(e->why), "CSR key is the key of "
		    "revoked cred=%" PRId64, cred->id);
		r = KDC_ERR_REVOKED;
	}
	kdc_cred_free(cred);
	return r;
}

/*
 * Step 1's checks again in step 3: who asks, the key certified (spki,
 * NULL for skg), the device and its profile.
 */
static kdc_err
enroll_policy(struct kdc_core *core, struct kdc_enroll *e,
    const uint8_t *spki, size_t spki_len, struct kdc_device **dev,
    const struct kdc_profile **prof)
{
	struct kdc_cred *mine = NULL;
	kdc_err r;

	if ((r = enroll_allowed(core, e, &mine)) == KDC_OK && spki != NULL)
		r = key_allowed(core, e, mine, spki, spki_len);
	kdc_cred_free(mine);
	if (r != KDC_OK)
		return r;
	if ((r = device_for_issue(core, e->who.dev_id, dev, prof)) != KDC_OK)
		snprintf(e->why, sizeof(e->why), "device: %s",
		    kdc_err_str(r));
	return r;
}

/* A CSR's CN as the audit text may show it: printable ASCII only. */
static const char *
cn_shown(const char *cn)
{
	for (const char *p = cn; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "<not printable>";
	return cn;
}

/*
 * sen/sren: the certificate names the authenticated device whatever the
 * CSR asks for, but a CSR whose subject CN names another registered
 * device is a request for that device: DENIED. A CN that names no
 * device (a PSK identity, a model name), or none at all, is overridden.
 */
static kdc_err
csr_names_other(struct kdc_core *core, struct kdc_enroll *e,
    const struct kdc_csr *c)
{
	struct kdc_device *other = NULL;
	char cn[KDC_DEVID_MAX + 2];
	kdc_err r;

	/* a CN that does not fit a device id (or holds a NUL) names no
	 * device */
	if (kdc_csr_cn(c, cn, sizeof(cn)) != KDC_OK ||
	    strcmp(cn, e->who.dev_id) == 0)
		return KDC_OK;
	r = kdc_store_device_get(core->st, cn, &other);
	kdc_device_free(other);
	if (r == KDC_ERR_NOT_FOUND)
		return KDC_OK;
	if (r != KDC_OK) {
		snprintf(e->why, sizeof(e->why), "device lookup: %s",
		    kdc_err_str(r));
		return r;
	}
	snprintf(e->why, sizeof(e->why), "CSR names another device "
	    "(CN=%.64s)", cn_shown(cn));
	return KDC_ERR_DENIED;
}

static kdc_err
enroll_check(struct kdc_core *core, struct kdc_enroll *e)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof = NULL;
	struct kdc_cred *mine = NULL;
	struct kdc_csr c;
	int64_t now;
	kdc_err r;

	e->why[0] = '\0';
	if (core->ca == NULL) {
		snprintf(e->why, sizeof(e->why), "no CA");
		return KDC_ERR_INVALID_ARG;
	}
	/* who asks first: a stranger learns nothing of the CSR's fate */
	if ((r = enroll_allowed(core, e, &mine)) != KDC_OK)
		goto out;
	/* one parse for the checks; the signature (and a P-256 point off
	 * the curve) is step 2's, kdc_ca_sign_csr() */
	if (e->op != KDC_ENROLL_SKG) {
		if ((r = kdc_csr_parse(e->csr, e->csr_len, &c)) != KDC_OK) {
			snprintf(e->why, sizeof(e->why), "CSR of %zu bytes: %s",
			    e->csr_len, kdc_err_str(r));
			goto out;
		}
		if ((r = csr_names_other(core, e, &c)) != KDC_OK ||
		    (r = key_allowed(core, e, mine, c.spki, c.spki_len)) !=
		    KDC_OK)
			goto out;
	}
	if ((r = device_for_issue(core, e->who.dev_id, &dev, &prof)) !=
	    KDC_OK) {
		snprintf(e->why, sizeof(e->why), "device: %s",
		    kdc_err_str(r));
		goto out;
	}
	now = kdc_core_now(core);
	e->not_before = now;
	e->not_after = now + prof->lifetime;
out:
	kdc_cred_free(mine);
	kdc_device_free(dev);
	return r;
}

/* skg's CSR only proves the request (RFC 9148 §5.8: its key is ignored):
 * it must verify and name the device in its subject CN. */
static kdc_err
skg_csr_check(struct kdc_enroll *e)
{
	char cn[KDC_DEVID_MAX + 2];
	struct kdc_csr c;
	kdc_err r;

	if ((r = kdc_csr_parse(e->csr, e->csr_len, &c)) != KDC_OK) {
		snprintf(e->why, sizeof(e->why), "CSR of %zu bytes: %s",
		    e->csr_len, kdc_err_str(r));
		return r;
	}
	if ((r = kdc_csr_verify(&c)) != KDC_OK) {
		snprintf(e->why, sizeof(e->why), "CSR signature does not "
		    "verify");
		return r;
	}
	if ((r = kdc_csr_cn(&c, cn, sizeof(cn))) != KDC_OK) {
		snprintf(e->why, sizeof(e->why), "CSR has no usable subject CN "
		    "(%s), want CN=%.64s", kdc_err_str(r), e->who.dev_id);
		return KDC_ERR_DENIED;
	}
	if (strcmp(cn, e->who.dev_id) == 0)
		return KDC_OK;
	snprintf(e->why, sizeof(e->why), "CSR names another device "
	    "(CN=%.64s)", cn_shown(cn));
	return KDC_ERR_DENIED;
}

static kdc_err
enroll_sign(struct kdc_core *core, struct kdc_enroll *e)
{
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	kdc_err r;

	if (e->op != KDC_ENROLL_SKG) {
		if ((r = kdc_ca_sign_csr(core->ca, e->csr, e->csr_len,
		    e->who.dev_id, e->not_before, e->not_after, &e->is)) !=
		    KDC_OK)
			snprintf(e->why, sizeof(e->why), "CSR: %s",
			    kdc_err_str(r));
		return r;
	}
	if ((r = skg_csr_check(e)) != KDC_OK)
		return r;
	e->pkcs8_len = sizeof(e->pkcs8);
	if ((r = kdc_keygen_p256(e->pkcs8, &e->pkcs8_len, &spki, &spki_len))
	    != KDC_OK ||
	    (r = kdc_ca_sign_spki(core->ca, spki, spki_len, e->who.dev_id,
	    e->not_before, e->not_after, &e->is)) != KDC_OK) {
		snprintf(e->why, sizeof(e->why), "keygen: %s", kdc_err_str(r));
		kdc_wipe(e->pkcs8, sizeof(e->pkcs8));
		e->pkcs8_len = 0;
	}
	kdc_free(spki);
	return r;
}

/*
 * Step 3's work inside a transaction the caller opened: the checks again
 * on what was signed (a revocation since step 1 wins), then issuance.
 * *wrote says whether a failure came from the writes (the transaction is
 * then rolled back whole, store.h) or from the checks (nothing written).
 */
static kdc_err
enroll_issue(struct kdc_core *core, const char *actor, struct kdc_enroll *e,
    bool *wrote)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof = NULL;
	bool skg = e->op == KDC_ENROLL_SKG;
	kdc_err r;

	*wrote = false;
	e->cred_id = 0;
	e->pending = false;
	if ((r = enroll_policy(core, e, skg ? NULL : e->is.spki,
	    e->is.spki_len, &dev, &prof)) != KDC_OK)
		goto out;
	*wrote = true;
	if ((r = cert_store(core, actor, dev, prof, &e->is, e->not_before,
	    e->not_after, ISSUE_ON_USE, skg, e->note[0] != '\0' ? e->note :
	    NULL, &e->cred_id, &e->pending)) != KDC_OK)
		snprintf(e->why, sizeof(e->why), "issue: %s", kdc_err_str(r));
out:
	kdc_device_free(dev);
	return r;
}

/* Step 3 of one enrollment in a transaction of its own. */
static kdc_err
enroll_commit(struct kdc_core *core, const char *actor,
    struct kdc_enroll *e)
{
	bool wrote;
	kdc_err r;

	if ((r = kdc_store_begin(core->st)) != KDC_OK) {
		snprintf(e->why, sizeof(e->why), "store: %s", kdc_err_str(r));
		return r;
	}
	if ((r = enroll_issue(core, actor, e, &wrote)) != KDC_OK) {
		kdc_store_rollback(core->st);
		return r;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK) {
		e->cred_id = 0;
		snprintf(e->why, sizeof(e->why), "issue: %s", kdc_err_str(r));
	}
	return r;
}

/* The end of an enrollment: nothing of a refused one is kept. */
static void
enroll_end(struct kdc_enroll *e, kdc_err r)
{
	e->status = r;
	e->ready = false;
	if (r != KDC_OK) {
		e->cred_id = 0;
		e->pending = false;
		kdc_issued_wipe(&e->is);
		kdc_wipe(e->pkcs8, sizeof(e->pkcs8));
		e->pkcs8_len = 0;
	}
}

kdc_err
kdc_core_enroll_sign(struct kdc_core *core, struct kdc_enroll *e)
{
	kdc_err r;

	if (core == NULL || e == NULL)
		return KDC_ERR_INVALID_ARG;
	e->cred_id = 0;
	e->pending = false;
	e->ready = false;
	if ((r = enroll_check(core, e)) != KDC_OK ||
	    (r = enroll_sign(core, e)) != KDC_OK) {
		enroll_end(e, r);
		return r;
	}
	e->status = KDC_OK;
	e->ready = true;
	return KDC_OK;
}

/*
 * Group commit: the ready ones in one transaction, each refused alone by
 * its checks; a failed write (or COMMIT) undoes the group, and each is
 * then committed in a transaction of its own, so one bad row costs the
 * others nothing but time.
 */
void
kdc_core_enroll_commit(struct kdc_core *core, const char *actor,
    struct kdc_enroll *const *es, size_t n)
{
	size_t ready = 0, i;
	bool whole, wrote;
	kdc_err r;

	if (core == NULL || es == NULL)
		return;
	for (i = 0; i < n; i++)
		if (es[i]->ready)
			ready++;
	if (ready > 1 && kdc_store_begin(core->st) == KDC_OK) {
		whole = true;
		for (i = 0; i < n && whole; i++) {
			if (!es[i]->ready)
				continue;
			es[i]->status = enroll_issue(core, actor, es[i], &wrote);
			if (es[i]->status != KDC_OK && wrote)
				whole = false;
		}
		if (!whole)
			kdc_store_rollback(core->st);
		else if ((r = kdc_store_commit(core->st)) != KDC_OK) {
			kdc_log_warn_r(r, "enroll: group commit of %zu", ready);
			whole = false;
		}
		if (whole) {
			for (i = 0; i < n; i++)
				if (es[i]->ready)
					enroll_end(es[i], es[i]->status);
			return;
		}
	}
	for (i = 0; i < n; i++)
		if (es[i]->ready)
			enroll_end(es[i], enroll_commit(core, actor, es[i]));
}

kdc_err
kdc_core_enroll(struct kdc_core *core, const char *actor,
    struct kdc_enroll *e)
{
	kdc_err r;

	if ((r = kdc_core_enroll_sign(core, e)) != KDC_OK)
		return r;
	kdc_core_enroll_commit(core, actor, &e, 1);
	return e->status;
}

void
kdc_enroll_wipe(struct kdc_enroll *e)
{
	if (e == NULL)
		return;
	kdc_issued_wipe(&e->is);
	kdc_wipe(e->pkcs8, sizeof(e->pkcs8));
	e->pkcs8_len = 0;
}

kdc_err
kdc_core_psk_issue(struct kdc_core *core, const char *actor,
    const char *dev_id, enum kdc_cred_status status, int64_t *cred_id,
    uint8_t psk[KDC_PSK_GEN_LEN])
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	struct kdc_cred cred;
	uint8_t key[KDC_PSK_GEN_LEN], fp[32], rnd[8], *wrapped = NULL;
	size_t wrapped_len = 0, aad_len;
	char aad[32], rhex[17];
	int64_t now = kdc_core_now(core);
	kdc_err r;

	*cred_id = 0;
	if (status != KDC_CRED_ISSUED && status != KDC_CRED_PENDING) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = device_for_issue(core, dev_id, &dev, &prof)) != KDC_OK)
		goto refused;
	if ((r = kdc_random(key, sizeof(key))) != KDC_OK ||
	    (r = kdc_random(rnd, sizeof(rnd))) != KDC_OK ||
	    (r = kdc_keyring_mac(core->kr, "psk-fp", key, sizeof(key), fp))
	    != KDC_OK)
		goto refused;
	kdc_hex_encode(rnd, sizeof(rnd), rhex);
	memset(&cred, 0, sizeof(cred));
	cred.device = dev->id;
	cred.kind = KDC_KIND_OPERATIONAL;
	cred.type = KDC_TYPE_PSK;
	cred.status = status;
	snprintf(cred.audience, sizeof(cred.audience), "%s", prof->audience);
	/* the identity names the device; the random part keeps it unique */
	snprintf(cred.identity, sizeof(cred.identity), "%.*s#%s",
	    (int)(KDC_PSK_IDENTITY_MAX - 17), dev->dev_id, rhex);
	cred.secret_fp = fp;
	cred.secret_fp_len = sizeof(fp);
	cred.not_before = now;
	cred.not_after = now + prof->lifetime;
	cred.created = now;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto out;
	if ((r = make_room(core, dev->id, prof->audience, status)) != KDC_OK ||
	    (r = kdc_store_cred_add(core->st, &cred)) != KDC_OK)
		goto fail;
	aad_len = cred_aad(cred.id, aad, sizeof(aad));
	if ((r = kdc_wrap(core->kr, aad, aad_len, key, sizeof(key), &wrapped,
	    &wrapped_len)) != KDC_OK ||
	    (r = kdc_store_cred_set_wrapped(core->st, cred.id, wrapped,
	    wrapped_len)) != KDC_OK ||
	    (r = AUDIT(core, actor, "psk.issue", dev->dev_id, KDC_OK,
	    "cred=%" PRId64 " status=%s audience=%s", cred.id,
	    kdc_cred_status_str(status), prof->audience)) != KDC_OK)
		goto fail;
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto out;
	memcpy(psk, key, sizeof(key));
	*cred_id = cred.id;
	goto out;
fail:
	kdc_store_rollback(core->st);
refused:
	(void)AUDIT(core, actor, "psk.issue", dev_id, r, "%s",
	    kdc_err_str(r));
out:
	kdc_wipe(key, sizeof(key));
	kdc_free(wrapped);
	kdc_device_free(dev);
	return r;
}

static kdc_err
keypair_new(struct kdc_core *core, const char *actor, const char *dev_id,
    enum kdc_cred_type type, enum issue_mode mode, int64_t *cred_id,
    uint8_t *pkcs8, size_t *pkcs8_len, uint8_t **pub, size_t *pub_len)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	struct kdc_issued is;
	struct kdc_cred cred;
	uint8_t *spki = NULL, fp[32];
	size_t spki_len = 0, cap = *pkcs8_len;
	int64_t now = kdc_core_now(core);
	const char *action = type == KDC_TYPE_X509 ? "cert.issue" : "rpk.issue";
	kdc_err r;

	*cred_id = 0;
	*pkcs8_len = 0;
	*pub = NULL;
	*pub_len = 0;
	memset(&is, 0, sizeof(is));
	if ((type != KDC_TYPE_RPK && type != KDC_TYPE_X509) ||
	    mode == ISSUE_BAD || (type == KDC_TYPE_X509 && core->ca == NULL)) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = device_for_issue(core, dev_id, &dev, &prof)) != KDC_OK)
		goto refused;
	*pkcs8_len = cap;
	if ((r = kdc_keygen_p256(pkcs8, pkcs8_len, &spki, &spki_len)) !=
	    KDC_OK)
		goto refused;
	if (type == KDC_TYPE_X509 && (r = kdc_ca_sign_spki(core->ca, spki,
	    spki_len, dev->dev_id, now, now + prof->lifetime, &is)) != KDC_OK)
		goto refused;

	memset(&cred, 0, sizeof(cred));
	cred.device = dev->id;
	cred.kind = KDC_KIND_OPERATIONAL;
	cred.type = type;
	snprintf(cred.audience, sizeof(cred.audience), "%s", prof->audience);
	kdc_sha256(spki, spki_len, fp);
	cred.spki = spki;
	cred.spki_len = spki_len;
	cred.spki_fp = fp;
	cred.spki_fp_len = sizeof(fp);
	cred.cert = is.cert;
	cred.cert_len = is.cert_len;
	snprintf(cred.serial, sizeof(cred.serial), "%s", is.serial);
	cred.not_before = now;
	cred.not_after = now + prof->lifetime;
	cred.created = now;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	if ((r = issue_status(core, dev->id, prof->audience, mode, &cred)) !=
	    KDC_OK ||
	    (r = make_room(core, dev->id, prof->audience, cred.status)) !=
	    KDC_OK ||
	    (r = kdc_store_cred_add(core->st, &cred)) != KDC_OK ||
	    (r = AUDIT(core, actor, action, dev->dev_id, KDC_OK,
	    "cred=%" PRId64 " status=%s audience=%s keygen=kdc", cred.id,
	    kdc_cred_status_str(cred.status), prof->audience)) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	*cred_id = cred.id;
	if (type == KDC_TYPE_X509) {
		*pub = is.cert;
		*pub_len = is.cert_len;
		is.cert = NULL;
	} else {
		*pub = spki;
		*pub_len = spki_len;
		spki = NULL;
	}
	goto out;
refused:
	if (*pkcs8_len > 0)
		kdc_wipe(pkcs8, *pkcs8_len);
	*pkcs8_len = 0;
	(void)AUDIT(core, actor, action, dev_id, r, "%s", kdc_err_str(r));
out:
	kdc_issued_wipe(&is);
	kdc_free(spki);
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_keypair_issue(struct kdc_core *core, const char *actor,
    const char *dev_id, enum kdc_cred_type type, enum kdc_cred_status status,
    int64_t *cred_id, uint8_t *pkcs8, size_t *pkcs8_len, uint8_t **pub,
    size_t *pub_len)
{
	return keypair_new(core, actor, dev_id, type, mode_of(status),
	    cred_id, pkcs8, pkcs8_len, pub, pub_len);
}

kdc_err
kdc_core_cred_current(struct kdc_core *core, const char *dev_id,
    enum kdc_cred_status status, struct kdc_cred **out)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	kdc_err r;

	*out = NULL;
	if (status != KDC_CRED_ISSUED && status != KDC_CRED_PENDING)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		return r;
	if ((prof = kdc_config_profile(core->cfg, dev->profile)) == NULL)
		r = KDC_ERR_UNKNOWN_PROFILE;
	else
		r = kdc_store_cred_get_live(core->st, dev->id, prof->audience,
		    status, out);
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_cred_activate(struct kdc_core *core, const char *actor,
    int64_t cred_id)
{
	return kdc_core_cred_activate_as(core, actor, cred_id, NULL, NULL,
	    NULL);
}

kdc_err
kdc_core_cred_activate_as(struct kdc_core *core, const char *actor,
    int64_t cred_id, const char *action, const char *subject,
    const char *note)
{
	struct kdc_cred *cred = NULL;
	char cred_subject[32];
	kdc_err r;

	snprintf(cred_subject, sizeof(cred_subject), "cred:%" PRId64,
	    cred_id);
	if (action == NULL || subject == NULL) {
		action = "cred.activate";
		subject = cred_subject;
	}
	if ((r = kdc_store_cred_get(core->st, cred_id, &cred)) != KDC_OK)
		goto refused;
	if (cred->status != KDC_CRED_PENDING) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto out;
	if ((r = supersede(core, cred->device, cred->audience,
	    KDC_CRED_ISSUED)) != KDC_OK ||
	    (r = kdc_store_cred_set_status(core->st, cred_id,
	    KDC_CRED_ISSUED)) != KDC_OK ||
	    (r = AUDIT(core, actor, action, subject, KDC_OK,
	    "%s%sactivated cred=%" PRId64 " audience=%s", note != NULL ? note :
	    "", note != NULL ? " " : "", cred_id, cred->audience)) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	r = kdc_store_commit(core->st);
	goto out;
refused:
	(void)AUDIT(core, actor, "cred.activate", cred_subject, r, "%s",
	    kdc_err_str(r));
out:
	kdc_cred_free(cred);
	return r;
}

kdc_err
kdc_core_cred_revoke(struct kdc_core *core, const char *actor,
    int64_t cred_id)
{
	struct kdc_cred *cred = NULL;
	char subject[32];
	kdc_err r;

	snprintf(subject, sizeof(subject), "cred:%" PRId64, cred_id);
	if ((r = kdc_store_cred_get(core->st, cred_id, &cred)) != KDC_OK)
		goto refused;
	if (cred->status == KDC_CRED_REVOKED) {
		r = KDC_ERR_REVOKED;
		goto refused;
	}
	/* one transaction: the status, the CRL generation and the record */
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto out;
	if ((r = kdc_store_cred_set_status(core->st, cred_id,
	    KDC_CRED_REVOKED)) != KDC_OK ||
	    (r = crl_gen_bump(core)) != KDC_OK ||
	    (r = AUDIT(core, actor, "cred.revoke", subject, KDC_OK,
	    "kind=%s type=%s%s%s", kdc_cred_kind_str(cred->kind),
	    kdc_cred_type_str(cred->type), cred->serial[0] != '\0' ?
	    " serial=" : "", cred->serial)) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	r = kdc_store_commit(core->st);
	goto out;
refused:
	(void)AUDIT(core, actor, "cred.revoke", subject, r, "%s",
	    kdc_err_str(r));
out:
	kdc_cred_free(cred);
	return r;
}

kdc_err
kdc_core_cred_list(struct kdc_core *core, const struct kdc_cred_filter *f,
    struct kdc_cred ***out, size_t *n)
{
	return kdc_store_cred_list(core->st, f, out, n);
}

kdc_err
kdc_core_expire(struct kdc_core *core, const char *actor, size_t *n)
{
	int64_t *ids = NULL;
	size_t k = 0;
	char subject[32];
	kdc_err r;

	*n = 0;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		return r;
	if ((r = kdc_store_cred_expire(core->st, kdc_core_now(core), &ids,
	    &k)) != KDC_OK)
		goto fail;
	for (size_t i = 0; i < k; i++) {
		snprintf(subject, sizeof(subject), "cred:%" PRId64, ids[i]);
		if ((r = AUDIT(core, actor, "cred.expire", subject, KDC_OK,
		    "past not_after")) != KDC_OK)
			goto fail;
	}
	if ((r = kdc_store_commit(core->st)) == KDC_OK)
		*n = k;
	kdc_free(ids);
	return r;
fail:
	kdc_store_rollback(core->st);
	kdc_free(ids);
	return r;
}

/* ---- the CRL ----------------------------------------------------------- */

/*
 * Build the CRL for generation gen at now: every revoked or superseded
 * operational X.509 credential we issued, at its status_at. A superseded
 * certificate is listed too: our faces refuse it already, and so must a
 * relying party outside the KDC (a broker, an external LwM2M server) that
 * only has the CRL. An entry whose certificate has expired is left out
 * (RFC 5280 3.3 allows it; a relying party refuses an expired certificate
 * anyway), which bounds the CRL.
 */
static kdc_err
crl_build(struct kdc_core *core, int64_t gen, int64_t now, uint8_t **der,
    size_t *len)
{
	struct kdc_crl_entry *v = NULL;
	const char **serials = NULL;
	int64_t *at = NULL;
	size_t n = 0;
	uint64_t number;
	kdc_err r;

	if ((r = kdc_store_crl_entries(core->st, now, &v, &n)) != KDC_OK)
		goto out;
	if (n > 0 && ((serials = kdc_calloc(n, sizeof(*serials))) == NULL ||
	    (at = kdc_calloc(n, sizeof(*at))) == NULL)) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		serials[i] = v[i].serial;
		at[i] = v[i].revoked_at > 0 ? v[i].revoked_at : now;
	}
	/*
	 * RFC 5280 5.2.3: the number increases with every CRL we issue. The
	 * generation alone would repeat across the daily re-signing and
	 * between the cores of different threads, so it is the high half
	 * and thisUpdate (32 bits to 2106) the low half: a new revocation
	 * or a later second gives a larger number; the same generation in
	 * the same second is the same content.
	 */
	number = ((uint64_t)gen << 32) | (uint32_t)now;
	r = kdc_ca_crl(core->ca, serials, at, n, now, now + KDC_CRL_VALIDITY,
	    number, der, len);
out:
	kdc_free(serials);
	kdc_free(at);
	kdc_free(v);
	return r;
}

kdc_err
kdc_core_crl(struct kdc_core *core, uint8_t **der, size_t *len)
{
	uint8_t *fresh = NULL, *copy;
	size_t fresh_len = 0;
	int64_t gen, now = kdc_core_now(core);
	kdc_err r;

	*der = NULL;
	*len = 0;
	if (core->ca == NULL)
		return KDC_ERR_NOT_FOUND;
	if ((r = crl_gen_get(core, &gen)) != KDC_OK)
		return r;
	if (core->crl == NULL || gen != core->crl_gen ||
	    now >= core->crl_next - KDC_CRL_RENEW_BEFORE ||
	    now < core->crl_next - KDC_CRL_VALIDITY) {
		/* (the last test: the clock went back past thisUpdate) */
		if ((r = crl_build(core, gen, now, &fresh, &fresh_len)) !=
		    KDC_OK)
			return r;
		kdc_free(core->crl);
		core->crl = fresh;
		core->crl_len = fresh_len;
		core->crl_gen = gen;
		core->crl_next = now + KDC_CRL_VALIDITY;
		kdc_log_debug("crl built gen=%" PRId64 " bytes=%zu", gen,
		    fresh_len);
	}
	if ((copy = kdc_malloc(core->crl_len)) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(copy, core->crl, core->crl_len);
	*der = copy;
	*len = core->crl_len;
	return KDC_OK;
}

/* ---- CAs --------------------------------------------------------------- */

kdc_err
kdc_core_mfg_ca_add(struct kdc_core *core, const char *actor,
    const char *name, const uint8_t *buf, size_t len)
{
	struct kdc_mfg_ca ca;
	uint8_t *der = NULL, fp[32];
	size_t der_len = 0;
	char hex[17];
	kdc_err r;

	memset(&ca, 0, sizeof(ca));
	if (!name_ok(name)) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if (len > KDC_CAFILE_MAX) {
		r = KDC_ERR_TOO_LARGE;
		goto refused;
	}
	if ((r = kdc_cacert_parse(buf, len, &der, &der_len)) != KDC_OK)
		goto refused;
	snprintf(ca.name, sizeof(ca.name), "%s", name);
	ca.cert = der;
	ca.cert_len = der_len;
	ca.created = kdc_core_now(core);
	kdc_sha256(der, der_len, fp);
	kdc_hex_encode(fp, 8, hex);
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto out;
	if ((r = kdc_store_mfg_ca_add(core->st, &ca)) != KDC_OK ||
	    (r = AUDIT(core, actor, "mfg-ca.add", name, KDC_OK,
	    "sha256=%s..", hex)) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	r = kdc_store_commit(core->st);
	goto out;
refused:
	(void)AUDIT(core, actor, "mfg-ca.add", name, r, "%s", kdc_err_str(r));
out:
	kdc_free(der);
	return r;
}

kdc_err
kdc_core_ca_pem(struct kdc_core *core, char **pem, size_t *len)
{
	*pem = NULL;
	*len = 0;
	if (core->ca == NULL)
		return KDC_ERR_NOT_FOUND;
	return kdc_ca_cert_pem(core->ca, pem, len);
}

kdc_err
kdc_core_health(struct kdc_core *core)
{
	return kdc_store_ping(core->st);
}
