/*
 * issue.c: the issuance pipeline (PSK, key pair, certificate) and the
 * credential lifecycle (activate, revoke, expire).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/core_int.h"
#include "core/log.h"

/* ---- issuance and lifecycle ------------------------------------------- */

/* The device, if usable for issuance; refusals audited by the caller. */
kdc_err
core_device_for_issue(struct kdc_core *core, const char *dev_id,
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
 * The issuance transaction of a signed certificate (is) for dev: its
 * status by mode, what it supersedes, the row, the success record
 * "cert.issue" (note at its end; keygen: the KDC made the key). Nothing
 * is audited on failure: the caller does.
 */
kdc_err
core_cert_store(struct kdc_core *core, const char *actor,
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
	if ((r = core_device_for_issue(core, dev_id, &dev, &prof)) != KDC_OK)
		goto refused;
	life = days != 0 ? (int64_t)days * 86400 : prof->lifetime;
	if ((r = kdc_ca_sign_csr(core->ca, csr, csr_len, dev->dev_id, now,
	    now + life, &is)) != KDC_OK ||
	    (r = core_cert_store(core, actor, dev, prof, &is, now, now + life,
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
	if ((r = core_device_for_issue(core, dev_id, &dev, &prof)) != KDC_OK)
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
	aad_len = core_cred_aad(cred.id, aad, sizeof(aad));
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
	if ((r = core_device_for_issue(core, dev_id, &dev, &prof)) != KDC_OK)
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

