/*
 * registry.c: devices and their manufacturer credentials (add,
 * import, look up, revoke, delete).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"
#include "core/manifest.h"

/* ---- registry ---------------------------------------------------------- */

/* Device ids: URI-ish printable ASCII (RFC 3986 unreserved, sub-delims,
 * ':' '@' '/' '%'), so they are safe in a SAN URI, a CN, logs and paths. */
static int
id_char_ok(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-._~:@/%!$&'()*+,;=", c) != NULL;
}

int
core_name_ok(const char *s)
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
	if (spec->profile[0] != '\0' && !core_name_ok(spec->profile))
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
	uint8_t fp[32], sfp[32];
	kdc_err r;

	memset(&dev, 0, sizeof(dev));
	memset(&cred, 0, sizeof(cred));
	snprintf(dev.dev_id, sizeof(dev.dev_id), "%s", spec->dev_id);
	snprintf(dev.profile, sizeof(dev.profile), "%s",
	    spec->profile[0] != '\0' ? spec->profile : "default");
	if (kdc_config_profile(core_cfg(core), dev.profile) == NULL)
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
			return r;
		r = kdc_store_cred_find_secret_fp(core->st, fp, sizeof(fp), 0);
		if (r == KDC_OK)
			r = KDC_ERR_DUPLICATE_PSK;
		if (r != KDC_ERR_NOT_FOUND)
			return r;
		cred.secret_fp = fp;
		cred.secret_fp_len = sizeof(fp);
	} else if (spec->type == KDC_TYPE_RPK) {
		kdc_sha256(spec->spki, spec->spki_len, sfp);
		cred.spki = (uint8_t *)(uintptr_t)spec->spki;
		cred.spki_len = spec->spki_len;
		cred.spki_fp = sfp;
		cred.spki_fp_len = sizeof(sfp);
	}
	return core_cred_insert(core, &cred, spec->psk,
	    spec->type == KDC_TYPE_PSK ? spec->psk_len : 0);
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
kdc_core_device_profile(struct kdc_core *core, const char *dev_id,
    struct kdc_profile *out)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *prof;
	kdc_err r;

	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		return r;
	prof = kdc_config_profile(core_cfg(core), dev->profile[0] != '\0' ?
	    dev->profile : "default");
	kdc_device_free(dev);
	if (prof == NULL)
		return KDC_ERR_UNKNOWN_PROFILE;
	*out = *prof;
	return KDC_OK;
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
	size_t nocf = 0;
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
	    (r = core_ace_device_revoked(core, dev->id)) != KDC_OK ||
	    /* an OCF device: the pairwise keys others hold for it too */
	    (strncmp(dev_id, KDC_OCF_DEVID_PREFIX,
	    strlen(KDC_OCF_DEVID_PREFIX)) == 0 &&
	    (r = core_ocf_audience_revoke(core, actor, dev_id, &nocf)) !=
	    KDC_OK) ||
	    (r = core_crl_gen_bump(core)) != KDC_OK ||
	    (r = AUDIT(core, actor, "device.revoke", dev_id, KDC_OK,
	    "credentials and ACE tokens revoked")) != KDC_OK) {
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
	/* its ACE tokens revoked first: their rows outlive the device and
	 * stay on the TRL until they expire */
	if ((r = core_ace_device_revoked(core, dev->id)) != KDC_OK ||
	    (r = core_crl_gen_bump(core)) != KDC_OK ||
	    (r = kdc_store_device_delete(core->st, dev->id)) != KDC_OK ||
	    (r = core_meta_bump(core, DELETE_GEN_KEY)) != KDC_OK ||
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

