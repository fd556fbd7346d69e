/*
 * auth.c: who a peer is, from what its handshake presented (a PSK
 * identity, a raw public key, a certificate chain); every refusal audited.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"

/* ---- authentication ---------------------------------------------------- */

/*
 * The credentials of OCF (core/ocf.h) authenticate nobody to the KDC's
 * own listeners: an owner PSK (the KDC is the client of owner sessions),
 * the manufacturer key recorded for the mfgcert OTM (the one manufacturer
 * credential that carries its SPKI: auth_spki would find it), and every
 * credential for an OCF audience (a pairwise PSK, an identity
 * certificate), which devices present to each other.
 */
static bool
ocf_only(const struct kdc_cred *cred)
{
	return cred->kind == KDC_KIND_OWNER ||
	    (cred->kind == KDC_KIND_MANUFACTURER &&
	    cred->type == KDC_TYPE_X509 && cred->spki_len > 0) ||
	    strncmp(cred->audience, KDC_OCF_DEVID_PREFIX,
	    strlen(KDC_OCF_DEVID_PREFIX)) == 0;
}

/*
 * Is this credential (and its device) usable now? The refusal, if any,
 * is audited with what was presented.
 */
static kdc_err
cred_usable(struct kdc_core *core, const char *actor, const char *action,
    const char *presented, const struct kdc_cred *cred,
    struct kdc_device **devp)
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
	if (ocf_only(cred))
		r = KDC_ERR_WRONG_TYPE;
	else if (dev->status == KDC_DEV_REVOKED)
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
		core_audit_unauth(core, actor, action, subject, r,
		    "cred=%" PRId64 " status=%s", cred->id,
		    kdc_cred_status_str(cred->status));
	if (r == KDC_OK && devp != NULL) {
		*devp = dev;
		dev = NULL;
	}
	kdc_device_free(dev);
	return r;
}

/* The principal a usable credential and its device make. */
static void
principal_set(struct kdc_principal *who, const struct kdc_cred *cred,
    const struct kdc_device *dev, enum kdc_cred_type type,
    const uint8_t *spki, size_t spki_len)
{
	if (who == NULL)
		return;
	memset(who, 0, sizeof(*who));
	who->type = type;
	who->kind = cred->kind;
	who->cred_id = cred->id;
	who->device = dev->id;
	snprintf(who->dev_id, sizeof(who->dev_id), "%s", dev->dev_id);
	if (cred->kind == KDC_KIND_OPERATIONAL)
		snprintf(who->audience, sizeof(who->audience), "%s",
		    cred->audience);
	if (spki_len > 0 && spki_len <= sizeof(who->spki)) {
		memcpy(who->spki, spki, spki_len);
		who->spki_len = spki_len;
	}
}

kdc_err
kdc_core_auth_psk(struct kdc_core *core, const char *actor,
    const char *identity, uint8_t *psk, size_t *psk_len,
    struct kdc_principal *who)
{
	struct kdc_cred *cred = NULL;
	struct kdc_device *dev = NULL;
	uint8_t *key = NULL;
	size_t key_len = 0, aad_len;
	char aad[32], esc[KDC_PSK_IDENTITY_MAX * 4 + 1];
	kdc_err r;

	if (who != NULL)
		memset(who, 0, sizeof(*who));
	kdc_log_escape(identity, strlen(identity), esc, sizeof(esc));
	r = kdc_store_cred_get_by_identity(core->st, identity, &cred);
	if (r == KDC_ERR_NOT_FOUND || (r == KDC_OK &&
	    cred->type != KDC_TYPE_PSK)) {
		r = KDC_ERR_UNKNOWN_DEVICE;
		core_audit_unauth(core, actor, "auth.psk", esc, r, "identity=%s",
		    esc);
		goto out;
	}
	if (r != KDC_OK ||
	    (r = cred_usable(core, actor, "auth.psk", identity, cred, &dev))
	    != KDC_OK)
		goto out;
	aad_len = core_cred_aad(cred->id, aad, sizeof(aad));
	if ((r = kdc_unwrap(core->kr, aad, aad_len, cred->wrapped,
	    cred->wrapped_len, &key, &key_len)) != KDC_OK) {
		/* a damaged or altered row: audited here, logged (rate
		 * limited, with the peer) by the face */
		core_audit_unauth(core, actor, "auth.psk", dev->dev_id, r,
		    "cred=%" PRId64 " identity=%s: stored key does not unwrap",
		    cred->id, esc);
		goto out;
	}
	if (key_len > *psk_len) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(psk, key, key_len);
	*psk_len = key_len;
	principal_set(who, cred, dev, KDC_TYPE_PSK, NULL, 0);
out:
	kdc_secret_free(key, key_len);
	kdc_cred_free(cred);
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_auth_spki(struct kdc_core *core, const char *actor,
    const uint8_t *spki, size_t spki_len, struct kdc_principal *who)
{
	struct kdc_cred *cred = NULL;
	struct kdc_device *dev = NULL;
	uint8_t fp[32];
	char hex[17];
	kdc_err r;

	if (who != NULL)
		memset(who, 0, sizeof(*who));
	if (spki_len > KDC_SPKI_MAX)
		return KDC_ERR_TOO_LARGE;
	kdc_sha256(spki, spki_len, fp);
	kdc_hex_encode(fp, 8, hex);
	r = kdc_store_cred_get_by_spki_fp(core->st, fp, &cred);
	if (r == KDC_ERR_NOT_FOUND) {
		r = KDC_ERR_UNKNOWN_DEVICE;
		core_audit_unauth(core, actor, "auth.rpk", hex, r,
		    "spki_sha256=%s..", hex);
		goto out;
	}
	if (r != KDC_OK ||
	    (r = cred_usable(core, actor, "auth.rpk", hex, cred, &dev)) !=
	    KDC_OK)
		goto out;
	principal_set(who, cred, dev, KDC_TYPE_RPK, spki, spki_len);
out:
	kdc_cred_free(cred);
	kdc_device_free(dev);
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

/*
 * The operational X.509 credential we issued for the key whose SPKI DER
 * this is, if any (NOT_FOUND, *cred NULL: not one of ours), judged:
 * *rp the verdict (cred_usable(), an EST certificate's first use
 * activated), *cred and *dev (when usable) for the principal.
 */
static kdc_err
op_cert_find(struct kdc_core *core, const char *actor, const char *esc,
    const uint8_t *spki, size_t spki_len, struct kdc_cred **credp,
    struct kdc_device **devp, kdc_err *rp)
{
	struct kdc_cred *cred = NULL;
	uint8_t fp[32];
	kdc_err r;

	*credp = NULL;
	*devp = NULL;
	kdc_sha256(spki, spki_len, fp);
	r = kdc_store_cred_get_by_spki_fp(core->st, fp, &cred);
	if (r != KDC_OK)
		return r;
	if (cred->kind != KDC_KIND_OPERATIONAL ||
	    cred->type != KDC_TYPE_X509) {
		kdc_cred_free(cred);
		return KDC_ERR_NOT_FOUND;
	}
	if (cred->status == KDC_CRED_PENDING && cred->on_use) {
		/* an EST certificate's first use: judged as the issued one
		 * it becomes, then activated (the one it replaces superseded
		 * in the same transaction) */
		cred->status = KDC_CRED_ISSUED;
		if ((*rp = cred_usable(core, actor, "auth.cert", esc, cred,
		    devp)) == KDC_OK)
			*rp = kdc_core_cred_activate(core, actor, cred->id);
	} else
		*rp = cred_usable(core, actor, "auth.cert", esc, cred, devp);
	*credp = cred;
	return KDC_OK;
}

kdc_err
kdc_core_auth_cert(struct kdc_core *core, const char *actor,
    const uint8_t *const *certs, const size_t *lens, size_t ncerts,
    struct kdc_principal *who)
{
	struct anchors a;
	struct kdc_cred *cred = NULL;
	struct kdc_device *dev = NULL;
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	char *dev_id = NULL, esc[KDC_DEVID_MAX * 4 + 1];
	kdc_err r, verdict = KDC_OK;

	if (who != NULL)
		memset(who, 0, sizeof(*who));
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
	r = op_cert_find(core, actor, esc, spki, spki_len, &cred, &dev,
	    &verdict);
	if (r == KDC_OK) {
		r = verdict;
		goto done;
	}
	if (r != KDC_ERR_NOT_FOUND)
		goto out;
	/* a manufacturer certificate: the device it names */
	if ((r = mfg_x509_cred(core, dev_id, &cred)) != KDC_OK)
		goto refused;
	r = cred_usable(core, actor, "auth.cert", esc, cred, &dev);
done:
	if (r == KDC_OK)
		principal_set(who, cred, dev, KDC_TYPE_X509, spki, spki_len);
	goto out;
refused:
	core_audit_unauth(core, actor, "auth.cert", esc, r, "%s",
	    kdc_err_str(r));
out:
	anchors_free(&a);
	kdc_cred_free(cred);
	kdc_device_free(dev);
	kdc_free(dev_id);
	kdc_free(spki);
	return r;
}

kdc_err
kdc_core_auth_cert_verified(struct kdc_core *core, const char *actor,
    const uint8_t *const *certs, const size_t *lens, size_t ncerts,
    struct kdc_principal *who)
{
	struct kdc_cred *cred = NULL;
	struct kdc_device *dev = NULL;
	const uint8_t *spki;
	size_t spki_len;
	kdc_err r, verdict = KDC_OK;

	if (who != NULL)
		memset(who, 0, sizeof(*who));
	if (ncerts == 0 || certs == NULL || lens == NULL ||
	    kdc_cert_spki(certs[0], lens[0], &spki, &spki_len) != KDC_OK ||
	    spki_len > KDC_SPKI_MAX)
		goto whole;
	r = op_cert_find(core, actor, "-", spki, spki_len, &cred, &dev,
	    &verdict);
	if (r == KDC_ERR_NOT_FOUND)
		goto whole;
	if (r == KDC_OK && (r = verdict) == KDC_OK)
		principal_set(who, cred, dev, KDC_TYPE_X509, spki, spki_len);
	kdc_cred_free(cred);
	kdc_device_free(dev);
	return r;
whole:
	/* not a certificate of ours (or not one we can read): the whole
	 * verification, against our CA and the manufacturer CAs */
	return kdc_core_auth_cert(core, actor, certs, lens, ncerts, who);
}

kdc_err
kdc_core_auth_mfg_psk(struct kdc_core *core, const char *actor,
    const char *dev_id, char *identity, size_t identity_cap, uint8_t *psk,
    size_t *psk_len, struct kdc_principal *who)
{
	struct kdc_cred_filter f;
	struct kdc_device *d = NULL;
	struct kdc_cred **v = NULL;
	size_t n = 0;
	kdc_err r;

	if (identity == NULL || identity_cap == 0)
		return KDC_ERR_INVALID_ARG;
	identity[0] = '\0';
	if ((r = kdc_core_device_get(core, dev_id, &d)) != KDC_OK)
		return r;
	if (d->status == KDC_DEV_REVOKED) {
		kdc_device_free(d);
		return KDC_ERR_REVOKED;
	}
	memset(&f, 0, sizeof(f));
	f.device = d->id;
	f.kind = KDC_KIND_MANUFACTURER;
	f.status = KDC_CRED_ISSUED;
	kdc_device_free(d);
	if ((r = kdc_store_cred_list(core->st, &f, &v, &n)) != KDC_OK)
		return r;
	r = KDC_ERR_WRONG_TYPE;
	for (size_t i = 0; i < n; i++)
		if (v[i]->type == KDC_TYPE_PSK && v[i]->identity[0] != '\0' &&
		    strlen(v[i]->identity) < identity_cap) {
			snprintf(identity, identity_cap, "%s", v[i]->identity);
			r = KDC_OK;
			break;
		}
	kdc_cred_list_free(v, n);
	if (r != KDC_OK)
		return r;
	return kdc_core_auth_psk(core, actor, identity, psk, psk_len, who);
}
