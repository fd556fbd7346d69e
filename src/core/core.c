/*
 * core.c: the core's lifetime, clock and audit, and the CAs it
 * borrows. The other rooms are listed in core_int.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/audit.h"
#include "core/core_int.h"

#define CHECK_LABEL	"wrapkey-check"

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
kdc_err
core_audit_rec(struct kdc_core *core, const char *actor, const char *action,
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
void
core_audit_unauth(struct kdc_core *core, const char *actor, const char *action,
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
	(void)core_audit_rec(core, actor, action, subject, outcome, "%s", detail);
}

kdc_err
kdc_core_audit(struct kdc_core *core, const char *actor, const char *action,
    const char *subject, kdc_err outcome, const char *fmt, ...)
{
	char detail[KDC_AUDIT_DETAIL_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return core_audit_rec(core, actor, action, subject, outcome, "%s",
	    detail);
}

void
kdc_core_audit_peer(struct kdc_core *core, const char *actor,
    const char *action, const char *subject, kdc_err outcome,
    const char *fmt, ...)
{
	char detail[KDC_AUDIT_DETAIL_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (outcome == KDC_OK)
		(void)core_audit_rec(core, actor, action, subject, outcome,
		    "%s", detail);
	else
		core_audit_unauth(core, actor, action, subject, outcome, "%s",
		    detail);
}

/* The wrapping AAD of a credential row: its id. */
size_t
core_cred_aad(int64_t id, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "cred:%" PRId64, id);

	return n < 0 ? 0 : (size_t)n;
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
	if ((r = kdc_store_commit(st)) != KDC_OK)
		goto out;
	*out = core;
	core = NULL;
out:
	kdc_free(core);
	return r;
}

void
kdc_core_follow_config(struct kdc_core *core,
    _Atomic(const struct kdc_config *) *live)
{
	core->live = live;
}

void
kdc_core_free(struct kdc_core *core)
{
	if (core == NULL)
		return;
	kdc_free(core->crl);
	core_ace_cache_free(core);
	if (core->as_key_owned)
		kdc_as_key_free(core->as_key);
	kdc_free(core);
}

kdc_err
kdc_core_audit_verify(struct kdc_core *core, int64_t *count,
    int64_t *bad_seq, char *why, size_t why_len)
{
	return kdc_audit_verify(core->st, core->kr, count, bad_seq, why,
	    why_len);
}

kdc_err
kdc_core_audit_anchor(struct kdc_core *core, const char *dir)
{
	return kdc_audit_anchor(core->st, core->kr, dir);
}

kdc_err
kdc_core_audit_anchor_check(struct kdc_core *core, const char *dir,
    int64_t *seq, char *why, size_t why_len)
{
	return kdc_audit_anchor_check(core->st, core->kr, dir, seq, why,
	    why_len);
}

kdc_err
kdc_core_audit_foreach(struct kdc_core *core, int64_t from_seq,
    kdc_store_audit_fn fn, void *arg)
{
	return kdc_store_audit_foreach(core->st, from_seq, fn, arg);
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
	if (!core_name_ok(name)) {
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
	kdc_err r;

	if ((r = kdc_store_ping(core->st)) != KDC_OK)
		return r;
	return kdc_store_write_state(NULL);
}

kdc_err
kdc_core_defer_sync(struct kdc_core *core, bool on)
{
	return kdc_store_defer_sync(core->st, on);
}

kdc_err
kdc_core_batch_begin(struct kdc_core *core)
{
	return kdc_store_batch_begin(core->st);
}

kdc_err
kdc_core_batch_end(struct kdc_core *core)
{
	kdc_err r;

	if ((r = kdc_store_batch_end(core->st)) != KDC_OK)
		core_ace_cache_drop(core);	/* may hold rows rolled back */
	return r;
}

/* Forced when an issuance is waiting; else only past the store's delay. */
kdc_err
kdc_core_sync_all(struct kdc_core *core)
{
	kdc_err r;

	if ((r = kdc_store_sync(core->st, true)) == KDC_OK)
		core->issued_unsynced = false;
	return r;
}

kdc_err
kdc_core_sync(struct kdc_core *core)
{
	kdc_err r;

	if ((r = kdc_store_sync(core->st, core->issued_unsynced)) == KDC_OK)
		core->issued_unsynced = false;
	return r;
}
