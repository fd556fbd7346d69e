/*
 * enroll.c: EST enrollment (RFC 9148 sen, sren, skg) in three steps,
 * core.h kdc_core_enroll().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"

/* ---- EST enrollment (core.h kdc_core_enroll()) -------------------------- */

const char *
kdc_enroll_op_str(enum kdc_enroll_op op)
{
	return op == KDC_ENROLL_SREN ? "sren" : op == KDC_ENROLL_SKG ? "skg" :
	    "sen";
}

/* The rule of the table (authz.c) an enrollment asks under. */
static enum kdc_action
enroll_action(enum kdc_enroll_op op)
{
	return op == KDC_ENROLL_SREN ? KDC_ACT_REENROLL :
	    op == KDC_ENROLL_SKG ? KDC_ACT_SKG : KDC_ACT_ENROLL;
}

/* Who may ask on this session (kdc_authorize()'s rule, audited by the
 * caller); *mine gets the credential row (for its key). */
static kdc_err
enroll_allowed(struct kdc_core *core, struct kdc_enroll *e,
    struct kdc_cred **mine)
{
	return core_authorize(core, &e->who, enroll_action(e->op), NULL,
	    e->why, sizeof(e->why), mine);
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
	const struct kdc_principal *who = &e->who;
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
	/* EST enrolls for the profile's primary audience only (NULL): the
	 * one x509-est is allowed on (config.h) */
	if ((r = core_device_for_issue(core, e->who.dev_id, NULL, dev,
	    prof)) != KDC_OK)
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
	/* the primary audience, as in step 1 */
	if ((r = core_device_for_issue(core, e->who.dev_id, NULL, &dev,
	    &prof)) != KDC_OK) {
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
	struct issuance iss;
	kdc_err r;

	*wrote = false;
	e->cred_id = 0;
	e->pending = false;
	if ((r = enroll_policy(core, e, skg ? NULL : e->is.spki,
	    e->is.spki_len, &dev, &prof)) != KDC_OK)
		goto out;
	*wrote = true;
	core_issuance_cert(&iss, dev, prof, &e->is, e->not_before,
	    e->not_after, ISSUE_ON_USE);
	iss.keygen = skg;
	iss.note = e->note[0] != '\0' ? e->note : NULL;
	r = core_issue(core, actor, &iss);
	e->cred_id = iss.cred_id;
	e->pending = iss.pending;
	if (r != KDC_OK)
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
