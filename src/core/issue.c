/*
 * issue.c: the issuance pipeline (PSK, key pair, certificate) and the
 * credential lifecycle (activate, revoke, expire).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"

/* ---- issuance and lifecycle ------------------------------------------- */

/* The device, if usable for issuance; refusals audited by the caller. */
kdc_err
core_device_for_issue(struct kdc_core *core, const char *dev_id,
    const char *audience, struct kdc_device **dev,
    const struct kdc_profile **prof)
{
	kdc_err r;

	*prof = NULL;
	if ((r = kdc_core_device_get(core, dev_id, dev)) != KDC_OK)
		return r;
	if ((*dev)->status == KDC_DEV_REVOKED)
		return KDC_ERR_REVOKED;
	return core_profile_audience(core, (*dev)->profile, audience, prof);
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
		r = core_crl_gen_bump(core);
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
 * A credential row and its secret in one go, inside the caller's
 * transaction: the row, then the secret wrapped under the row's id (the
 * AAD binds the two). The manufacturer credential of a new device and
 * every operational credential come through here.
 */
kdc_err
core_cred_insert(struct kdc_core *core, struct kdc_cred *cred,
    const uint8_t *secret, size_t secret_len)
{
	uint8_t *wrapped = NULL;
	size_t wrapped_len = 0, aad_len;
	char aad[32];
	kdc_err r;

	if ((r = kdc_store_cred_add(core->st, cred)) != KDC_OK ||
	    secret_len == 0)
		return r;
	aad_len = core_cred_aad(cred->id, aad, sizeof(aad));
	if ((r = kdc_wrap(core->kr, aad, aad_len, secret, secret_len,
	    &wrapped, &wrapped_len)) == KDC_OK)
		r = kdc_store_cred_set_wrapped(core->st, cred->id, wrapped,
		    wrapped_len);
	kdc_free(wrapped);
	return r;
}

/*
 * The issuance pipeline: one transaction for a new operational
 * credential of iss->dev for the audience of iss->prof. Its status (by
 * mode), what it supersedes, the row and its wrapped secret, the success
 * record iss->action ("cred=N status=S audience=A", then the
 * certificate's serial and not_after, "(issued on first use)", "keygen=kdc"
 * and the note, each when there is one), one COMMIT. Nothing is audited
 * on failure: the caller does. On success iss->cred_id and iss->pending.
 */
kdc_err
core_issue(struct kdc_core *core, const char *actor, struct issuance *iss)
{
	struct kdc_cred cred;
	const char *audience = iss->prof->audience;
	uint8_t fp[32], sfp[32];
	char cert[96] = "";
	kdc_err r;

	iss->cred_id = 0;
	iss->pending = false;
	if (iss->mode == ISSUE_BAD)
		return KDC_ERR_INVALID_ARG;
	memset(&cred, 0, sizeof(cred));
	cred.device = iss->dev->id;
	cred.kind = KDC_KIND_OPERATIONAL;
	cred.type = iss->type;
	snprintf(cred.audience, sizeof(cred.audience), "%s", audience);
	if (iss->secret_len > 0) {
		/* the keyed fingerprint finds a PSK without unwrapping it */
		if (!iss->no_fp) {
			if ((r = kdc_keyring_mac(core->kr, "psk-fp",
			    iss->secret, iss->secret_len, sfp)) != KDC_OK)
				return r;
			cred.secret_fp = sfp;
			cred.secret_fp_len = sizeof(sfp);
		}
		snprintf(cred.identity, sizeof(cred.identity), "%s",
		    iss->identity);
	}
	if (iss->spki_len > 0) {
		kdc_sha256(iss->spki, iss->spki_len, fp);
		cred.spki = (uint8_t *)(uintptr_t)iss->spki;
		cred.spki_len = iss->spki_len;
		cred.spki_fp = fp;
		cred.spki_fp_len = sizeof(fp);
	}
	if (iss->is != NULL) {
		cred.cert = iss->is->cert;
		cred.cert_len = iss->is->cert_len;
		snprintf(cred.serial, sizeof(cred.serial), "%s",
		    iss->is->serial);
		snprintf(cert, sizeof(cert), " serial=%s not_after=%" PRId64,
		    iss->is->serial, iss->not_after);
	}
	cred.not_before = iss->not_before;
	cred.not_after = iss->not_after;
	cred.created = kdc_core_now(core);
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		return r;
	if ((r = issue_status(core, iss->dev->id, audience, iss->mode,
	    &cred)) != KDC_OK ||
	    (r = make_room(core, iss->dev->id, audience, cred.status)) !=
	    KDC_OK ||
	    (r = core_cred_insert(core, &cred, iss->secret,
	    iss->secret_len)) != KDC_OK ||
	    (r = AUDIT(core, actor, iss->action, iss->dev->dev_id, KDC_OK,
	    "cred=%" PRId64 " audience=%s%s status=%s%s%s%s%s", cred.id,
	    audience, cert, kdc_cred_status_str(cred.status),
	    cred.on_use ? " (issued on first use)" : "",
	    iss->keygen ? " keygen=kdc" : "", iss->note != NULL ? " " : "",
	    iss->note != NULL ? iss->note : "")) != KDC_OK) {
		kdc_store_rollback(core->st);
		return r;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		return r;
	core->issued_unsynced = true;	/* kdc_core_sync() before it leaves */
	iss->cred_id = cred.id;
	iss->pending = cred.status == KDC_CRED_PENDING;
	return KDC_OK;
}

/* The request for a certificate the CA signed (is) for dev. */
void
core_issuance_cert(struct issuance *iss, const struct kdc_device *dev,
    const struct kdc_profile *prof, const struct kdc_issued *is,
    int64_t not_before, int64_t not_after, enum issue_mode mode)
{
	memset(iss, 0, sizeof(*iss));
	iss->dev = dev;
	iss->prof = prof;
	iss->type = KDC_TYPE_X509;
	iss->mode = mode;
	iss->action = "cert.issue";
	iss->spki = is->spki;
	iss->spki_len = is->spki_len;
	iss->is = is;
	iss->not_before = not_before;
	iss->not_after = not_after;
}

kdc_err
kdc_core_cert_sign(struct kdc_core *core, const char *actor,
    const char *dev_id, const char *audience, const uint8_t *csr,
    size_t csr_len, unsigned days,
    int64_t *cred_id, uint8_t **cert, size_t *cert_len)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	struct kdc_issued is;
	struct issuance iss;
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
	if ((r = core_device_for_issue(core, dev_id, audience, &dev,
	    &prof)) != KDC_OK)
		goto refused;
	life = days != 0 ? (int64_t)days * 86400 : prof->lifetime;
	if ((r = kdc_ca_sign_csr(core->ca, csr, csr_len, dev->dev_id, now,
	    now + life, &is)) != KDC_OK)
		goto refused;
	core_issuance_cert(&iss, dev, prof, &is, now, now + life, ISSUE_NOW);
	if ((r = core_issue(core, actor, &iss)) != KDC_OK)
		goto refused;
	*cred_id = iss.cred_id;
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

/*
 * A new operational PSK identity, by the profile's form. "random" (the
 * default): 32 lowercase hex digits, 128 random bits, which fits the 32
 * bytes tinydtls (Wakaama, Contiki-NG, many Cortex-M clients) holds and
 * names nothing. "named": "<dev_id>#<16 hex>", readable in a capture but
 * over 32 bytes for most device ids.
 */
static kdc_err
psk_identity_new(const struct kdc_profile *prof, const char *dev_id,
    char out[KDC_PSK_IDENTITY_MAX + 1])
{
	uint8_t rnd[16];
	char hex[33];
	kdc_err r;

	if ((r = kdc_random(rnd, sizeof(rnd))) != KDC_OK)
		return r;
	kdc_hex_encode(rnd, sizeof(rnd), hex);
	kdc_wipe(rnd, sizeof(rnd));
	if (prof->psk_identity == KDC_PSK_ID_NAMED)
		/* the identity names the device; the random part keeps it
		 * unique */
		snprintf(out, KDC_PSK_IDENTITY_MAX + 1, "%.*s#%.16s",
		    (int)(KDC_PSK_IDENTITY_MAX - 17), dev_id, hex);
	else
		snprintf(out, KDC_PSK_IDENTITY_MAX + 1, "%s", hex);
	return KDC_OK;
}

kdc_err
kdc_core_psk_issue(struct kdc_core *core, const char *actor,
    const char *dev_id, const char *audience, enum kdc_cred_status status,
    struct kdc_psk_new *out)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	struct issuance iss;
	uint8_t key[KDC_PSK_GEN_MAX];
	size_t key_len = 0;
	char identity[KDC_PSK_IDENTITY_MAX + 1];
	int64_t now = kdc_core_now(core);
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if (status != KDC_CRED_ISSUED && status != KDC_CRED_PENDING) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = core_device_for_issue(core, dev_id, audience, &dev,
	    &prof)) != KDC_OK)
		goto refused;
	key_len = prof->psk_key_len;
	if (key_len < KDC_PSK_MIN || key_len > sizeof(key)) {
		r = KDC_ERR_CONFIG;
		goto refused;
	}
	if ((r = kdc_random(key, key_len)) != KDC_OK ||
	    (r = psk_identity_new(prof, dev->dev_id, identity)) != KDC_OK)
		goto refused;
	memset(&iss, 0, sizeof(iss));
	iss.dev = dev;
	iss.prof = prof;
	iss.type = KDC_TYPE_PSK;
	iss.mode = status == KDC_CRED_ISSUED ? ISSUE_NOW : ISSUE_PENDING;
	iss.action = "psk.issue";
	iss.identity = identity;
	iss.secret = key;
	iss.secret_len = key_len;
	iss.not_before = now;
	iss.not_after = now + prof->lifetime;
	if ((r = core_issue(core, actor, &iss)) != KDC_OK)
		goto refused;
	out->cred_id = iss.cred_id;
	snprintf(out->identity, sizeof(out->identity), "%s", identity);
	memcpy(out->psk, key, key_len);
	out->psk_len = key_len;
	goto out;
refused:
	(void)AUDIT(core, actor, "psk.issue", dev_id, r, "%s",
	    kdc_err_str(r));
out:
	kdc_wipe(key, sizeof(key));
	kdc_device_free(dev);
	return r;
}

void
kdc_psk_new_wipe(struct kdc_psk_new *p)
{
	if (p != NULL)
		kdc_wipe(p, sizeof(*p));
}

kdc_err
kdc_core_keypair_issue(struct kdc_core *core, const char *actor,
    const char *dev_id, const char *audience, enum kdc_cred_type type,
    enum kdc_cred_status status,
    int64_t *cred_id, uint8_t *pkcs8, size_t *pkcs8_len, uint8_t **pub,
    size_t *pub_len)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	struct kdc_issued is;
	struct issuance iss;
	uint8_t *spki = NULL;
	size_t spki_len = 0, cap = *pkcs8_len;
	int64_t now = kdc_core_now(core);
	enum issue_mode mode = mode_of(status);
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
	if ((r = core_device_for_issue(core, dev_id, audience, &dev,
	    &prof)) != KDC_OK)
		goto refused;
	*pkcs8_len = cap;
	if ((r = kdc_keygen_p256(pkcs8, pkcs8_len, &spki, &spki_len)) !=
	    KDC_OK)
		goto refused;
	if (type == KDC_TYPE_X509) {
		if ((r = kdc_ca_sign_spki(core->ca, spki, spki_len,
		    dev->dev_id, now, now + prof->lifetime, &is)) != KDC_OK)
			goto refused;
		core_issuance_cert(&iss, dev, prof, &is, now,
		    now + prof->lifetime, mode);
	} else {
		memset(&iss, 0, sizeof(iss));
		iss.dev = dev;
		iss.prof = prof;
		iss.type = KDC_TYPE_RPK;
		iss.mode = mode;
		iss.action = action;
		iss.spki = spki;
		iss.spki_len = spki_len;
		iss.not_before = now;
		iss.not_after = now + prof->lifetime;
	}
	iss.keygen = true;
	if ((r = core_issue(core, actor, &iss)) != KDC_OK)
		goto refused;
	*cred_id = iss.cred_id;
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
kdc_core_cred_current(struct kdc_core *core, const char *dev_id,
    const char *audience, enum kdc_cred_status status,
    struct kdc_cred **out)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	kdc_err r;

	*out = NULL;
	if (status != KDC_CRED_ISSUED && status != KDC_CRED_PENDING)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		return r;
	if ((prof = kdc_config_profile_audience(core_cfg(core), dev->profile,
	    audience)) == NULL)
		r = kdc_config_profile(core_cfg(core), dev->profile) == NULL ?
		    KDC_ERR_UNKNOWN_PROFILE : KDC_ERR_UNKNOWN_AUDIENCE;
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
	return kdc_core_cred_activate_set(core, actor, &cred_id, 1, action,
	    subject, note);
}

/* Activate one credential (pending -> issued, superseding the issued one
 * of its audience) inside the caller's transaction; " cred=N
 * audience=A" appended to det (capacity cap, at *o). */
static kdc_err
activate_one(struct kdc_core *core, int64_t cred_id, char *det, size_t cap,
    size_t *o)
{
	struct kdc_cred *cred = NULL;
	kdc_err r;

	if ((r = kdc_store_cred_get(core->st, cred_id, &cred)) != KDC_OK)
		return r;
	if (cred->status != KDC_CRED_PENDING)
		r = KDC_ERR_INVALID_ARG;
	else if ((r = supersede(core, cred->device, cred->audience,
	    KDC_CRED_ISSUED)) == KDC_OK &&
	    (r = kdc_store_cred_set_status(core->st, cred_id,
	    KDC_CRED_ISSUED)) == KDC_OK && *o < cap)
		*o += (size_t)snprintf(det + *o, cap - *o, " cred=%" PRId64
		    " audience=%s", cred_id, cred->audience);
	kdc_cred_free(cred);
	return r;
}

kdc_err
kdc_core_cred_activate_set(struct kdc_core *core, const char *actor,
    const int64_t *ids, size_t n, const char *action, const char *subject,
    const char *note)
{
	char cred_subject[32], det[KDC_AUDIT_DETAIL_MAX + 1];
	size_t o = 0, i = 0;
	kdc_err r;

	snprintf(cred_subject, sizeof(cred_subject), "cred:%" PRId64,
	    n > 0 ? ids[0] : 0);
	if (action == NULL || subject == NULL) {
		action = "cred.activate";
		subject = cred_subject;
	}
	if (n == 0) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	o = (size_t)snprintf(det, sizeof(det), "%s%sactivated",
	    note != NULL ? note : "", note != NULL ? " " : "");
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		return r;
	for (i = 0; i < n; i++)
		if ((r = activate_one(core, ids[i], det, sizeof(det), &o)) !=
		    KDC_OK)
			break;
	/* all of them or none: a refusal of one undoes the others */
	if (r != KDC_OK || (r = AUDIT(core, actor, action, subject, KDC_OK,
	    "%s", det)) != KDC_OK) {
		kdc_store_rollback(core->st);
		if (i < n)
			snprintf(cred_subject, sizeof(cred_subject),
			    "cred:%" PRId64, ids[i]);
		goto refused;
	}
	return kdc_store_commit(core->st);
refused:
	(void)AUDIT(core, actor, "cred.activate", cred_subject, r, "%s",
	    kdc_err_str(r));
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
	    (r = core_crl_gen_bump(core)) != KDC_OK ||
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

