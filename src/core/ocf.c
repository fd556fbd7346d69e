/*
 * ocf.c: the KDC as OCF Onboarding Tool, Credential Management and
 * Access Management service (core/ocf.h): the OBT uuid, the onboarding
 * records (store/ocf.h), owner and pairwise PSKs, identity certificates,
 * the mfgcert OTM's chain check, offboarding.
 *
 * An OCF device's credentials go through the pipeline every issuance
 * takes (core_issue(), core_cred_insert()): wrapped at rest under the
 * row's id, keyed fingerprints, one transaction with the audit record.
 * What differs is where the audience's settings come from: an OCF
 * audience belongs to a device, not to a profile, so ocf_prof() makes the
 * profile entry (the [ocf] profile's primary entry with that audience)
 * instead of reading one the configuration lists; the LwM2M and ACE paths
 * are untouched.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"
#include "store/ocf.h"

#define OWNER_ID_PREFIX	"ocf-owner:"
#define PAIR_ID_PREFIX	"ocf-pair:"
#define NEW_UUID_TRIES	64

_Static_assert(KDC_OCF_UUID_TEXT == KDC_STORE_OCF_UUID, "uuid text");
_Static_assert(KDC_OCF_EP_MAX == KDC_STORE_OCF_EP_MAX, "ep");
_Static_assert(KDC_OCF_STEP_MAX == KDC_STORE_OCF_STEP_MAX, "step");
_Static_assert((int)KDC_OCF_ONBOARDING == (int)KDC_STORE_OCF_ONBOARDING &&
    (int)KDC_OCF_FAILED == (int)KDC_STORE_OCF_FAILED &&
    (int)KDC_OCF_OWNED == (int)KDC_STORE_OCF_OWNED &&
    (int)KDC_OCF_OFFBOARDED == (int)KDC_STORE_OCF_OFFBOARDED, "states");

const char *
kdc_ocf_state_str(enum kdc_ocf_state s)
{
	switch (s) {
	case KDC_OCF_ONBOARDING:
		return "onboarding";
	case KDC_OCF_FAILED:
		return "failed";
	case KDC_OCF_OWNED:
		return "owned";
	case KDC_OCF_OFFBOARDED:
		return "offboarded";
	}
	return "?";
}

/* ---- helpers ------------------------------------------------------------ */

/* A uuid in 36-character form, canonical (lower case) into out. */
static bool
uuid_canon(const char *s, char out[KDC_OCF_UUID_TEXT + 1])
{
	struct kdc_ocf_uuid u;

	if (s == NULL || strnlen(s, KDC_OCF_UUID_TEXT + 1) !=
	    KDC_OCF_UUID_TEXT ||
	    kdc_ocf_uuid_parse(s, KDC_OCF_UUID_TEXT, &u) != KDC_OK)
		return false;
	kdc_ocf_uuid_format(&u, out);
	return true;
}

/* A random (v4) uuid with no 0x00 byte: a libcoap peer NUL-terminates
 * PSK identities, and the OBT uuid is one. */
static kdc_err
uuid_make(struct kdc_ocf_uuid *u)
{
	kdc_err r;

	for (int t = 0; t < NEW_UUID_TRIES; t++) {
		if ((r = kdc_random(u->b, sizeof(u->b))) != KDC_OK)
			return r;
		u->b[6] = (uint8_t)((u->b[6] & 0x0f) | 0x40);
		u->b[8] = (uint8_t)((u->b[8] & 0x3f) | 0x80);
		if (memchr(u->b, 0, sizeof(u->b)) == NULL)
			return KDC_OK;
	}
	return KDC_ERR_IO;	/* 64 draws with a 0x00: no random source */
}

/* An endpoint as /oic/res eps give it: scheme (coap:// or coaps://),
 * printable ASCII without blanks, at most KDC_OCF_EP_MAX. */
static bool
ep_ok(const char *ep, const char *scheme, bool empty_ok)
{
	size_t n;

	if (ep == NULL)
		return false;
	n = strnlen(ep, KDC_OCF_EP_MAX + 1);
	if (n == 0)
		return empty_ok;
	if (n > KDC_OCF_EP_MAX || strncmp(ep, scheme, strlen(scheme)) != 0 ||
	    n == strlen(scheme))
		return false;
	for (size_t i = 0; i < n; i++)
		if (ep[i] <= 0x20 || ep[i] >= 0x7f)
			return false;
	return true;
}

static bool
step_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strnlen(s, KDC_OCF_STEP_MAX + 1)) == 0 ||
	    n > KDC_OCF_STEP_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || strchr("._-", s[i]) != NULL))
			return false;
	return true;
}

static void
devid_of(const char *uuid, char out[KDC_DEVID_MAX + 1])
{
	snprintf(out, KDC_DEVID_MAX + 1, KDC_OCF_DEVID_PREFIX "%s", uuid);
}

/* The audience of a device: "ocf-<uuid>", the name of its dev_id too. */
static void
aud_of(const char *uuid, char out[KDC_NAME_MAX + 1])
{
	snprintf(out, KDC_NAME_MAX + 1, KDC_OCF_DEVID_PREFIX "%s", uuid);
}

/*
 * The profile entry an OCF credential is issued under: the device's
 * profile's primary entry (its PSK settings) with the OCF audience and
 * type in place of the profile's. UNKNOWN_PROFILE.
 */
static kdc_err
ocf_prof(struct kdc_core *core, const struct kdc_device *dev,
    const char *audience, enum kdc_cred_type type, struct kdc_profile *out)
{
	const struct kdc_profile *p;

	if ((p = kdc_config_profile(core_cfg(core), dev->profile)) == NULL)
		return KDC_ERR_UNKNOWN_PROFILE;
	*out = *p;
	snprintf(out->audience, sizeof(out->audience), "%s", audience);
	out->cred_type = type;
	out->est = false;
	out->psk_key_len = KDC_OCF_PSK_LEN;
	return KDC_OK;
}

/* The row of an OWNED device and its registry device, usable (not
 * revoked): NOT_FOUND, REVOKED. */
static kdc_err
owned_get(struct kdc_core *core, const char *uuid, struct kdc_ocf_row *row,
    struct kdc_device **dev)
{
	kdc_err r;

	*dev = NULL;
	if ((r = kdc_store_ocf_get(core->st, uuid, row)) != KDC_OK)
		return r;
	if (row->device == 0)
		return row->state == KDC_STORE_OCF_OFFBOARDED ?
		    KDC_ERR_REVOKED : KDC_ERR_NOT_FOUND;
	r = kdc_store_device_get_by_id(core->st, row->device, dev);
	if (r != KDC_OK)
		return r;
	if ((*dev)->status == KDC_DEV_REVOKED ||
	    row->state == KDC_STORE_OCF_OFFBOARDED)
		return KDC_ERR_REVOKED;
	return row->state == KDC_STORE_OCF_OWNED ? KDC_OK : KDC_ERR_NOT_FOUND;
}

static void
dev_from_row(struct kdc_core *core, const struct kdc_ocf_row *row,
    struct kdc_ocf_device *out)
{
	struct kdc_device *dev = NULL;
	struct kdc_cred *c = NULL;

	memset(out, 0, sizeof(*out));
	snprintf(out->uuid, sizeof(out->uuid), "%s", row->uuid);
	snprintf(out->first_uuid, sizeof(out->first_uuid), "%s",
	    row->first_uuid);
	out->otm = row->otm;
	out->state = (enum kdc_ocf_state)row->state;
	snprintf(out->step, sizeof(out->step), "%s", row->step);
	out->err = (kdc_err)row->err;
	snprintf(out->coap_ep, sizeof(out->coap_ep), "%s", row->coap_ep);
	snprintf(out->coaps_ep, sizeof(out->coaps_ep), "%s", row->coaps_ep);
	out->created = row->created;
	out->updated = row->updated;
	if (row->device == 0 || kdc_store_device_get_by_id(core->st,
	    row->device, &dev) != KDC_OK)
		return;
	if (row->owner_cred != 0)
		snprintf(out->dev_id, sizeof(out->dev_id), "%s", dev->dev_id);
	if (kdc_store_cred_get_live(core->st, dev->id, KDC_OCF_AUD_IDENTITY,
	    KDC_CRED_ISSUED, &c) == KDC_OK || kdc_store_cred_get_live(
	    core->st, dev->id, KDC_OCF_AUD_IDENTITY, KDC_CRED_PENDING, &c) ==
	    KDC_OK)
		out->cert_not_after = c->not_after;
	kdc_cred_free(c);
	kdc_device_free(dev);
}

/* ---- the OBT uuid ------------------------------------------------------- */

kdc_err
kdc_core_ocf_obt_uuid(struct kdc_core *core, struct kdc_ocf_uuid *out)
{
	struct kdc_ocf_uuid u;
	char *val = NULL, text[KDC_OCF_UUID_TEXT + 1];
	kdc_err r;

	if (core == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	r = kdc_store_meta_get(core->st, KDC_STORE_OCF_OBT_KEY, &val);
	if (r == KDC_ERR_NOT_FOUND) {
		/* made once: read again under the write lock, another
		 * process may have made it meanwhile */
		if ((r = kdc_store_begin(core->st)) != KDC_OK)
			return r;
		r = kdc_store_meta_get(core->st, KDC_STORE_OCF_OBT_KEY, &val);
		if (r == KDC_ERR_NOT_FOUND) {
			if ((r = uuid_make(&u)) == KDC_OK) {
				kdc_ocf_uuid_format(&u, text);
				if ((r = kdc_store_meta_set(core->st,
				    KDC_STORE_OCF_OBT_KEY, text)) == KDC_OK)
					r = AUDIT(core, "core", "ocf.obt",
					    text, KDC_OK, "OBT uuid made");
			}
			if (r != KDC_OK) {
				kdc_store_rollback(core->st);
				return r;
			}
			if ((r = kdc_store_commit(core->st)) != KDC_OK)
				return r;
			*out = u;
			return KDC_OK;
		}
		kdc_store_rollback(core->st);
	}
	if (r != KDC_OK)
		return r;
	r = kdc_ocf_uuid_parse(val, strlen(val), &u);
	kdc_free(val);
	if (r != KDC_OK || memchr(u.b, 0, sizeof(u.b)) != NULL)
		return KDC_ERR_STORE_CORRUPT;
	*out = u;
	return KDC_OK;
}

/* ---- onboarding --------------------------------------------------------- */

kdc_err
kdc_core_ocf_onboard_begin(struct kdc_core *core, const char *actor,
    const char *first_uuid, int otm, const char *coap_ep,
    const char *coaps_ep, struct kdc_ocf_uuid *new_uuid)
{
	struct kdc_ocf_row row;
	struct kdc_ocf_uuid u;
	char first[KDC_OCF_UUID_TEXT + 1], nu[KDC_OCF_UUID_TEXT + 1];
	const char *subject = "?";
	bool rerun = false;
	kdc_err r;

	if (new_uuid != NULL)
		memset(new_uuid, 0, sizeof(*new_uuid));
	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if (uuid_canon(first_uuid, first))
		subject = first;
	if (subject != first || new_uuid == NULL ||
	    (otm != KDC_OCF_OXM_RDP && otm != KDC_OCF_OXM_MFGCERT &&
	    otm != KDC_OCF_OXM_JW) || !ep_ok(coap_ep, "coap://", true) ||
	    !ep_ok(coaps_ep, "coaps://", false)) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	do {
		if ((r = uuid_make(&u)) != KDC_OK)
			goto refused;
		kdc_ocf_uuid_format(&u, nu);
	} while (strcmp(nu, first) == 0);
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	r = kdc_store_ocf_get(core->st, first, &row);
	if (r == KDC_OK && row.state == KDC_STORE_OCF_OWNED)
		r = KDC_ERR_EXISTS;
	else if (r == KDC_OK) {
		/* a rerun: an unfinished run's registration stays for
		 * owner_set to delete; an offboarded device's is history */
		rerun = true;
		if (row.state == KDC_STORE_OCF_OFFBOARDED) {
			row.device = 0;
			row.owner_cred = 0;
		}
	} else if (r == KDC_ERR_NOT_FOUND) {
		memset(&row, 0, sizeof(row));
		row.created = kdc_core_now(core);
		r = KDC_OK;
	}
	if (r == KDC_OK) {
		snprintf(row.first_uuid, sizeof(row.first_uuid), "%s", first);
		snprintf(row.uuid, sizeof(row.uuid), "%s", first);
		snprintf(row.new_uuid, sizeof(row.new_uuid), "%s", nu);
		row.otm = otm;
		row.state = KDC_STORE_OCF_ONBOARDING;
		snprintf(row.step, sizeof(row.step), "begin");
		row.err = KDC_OK;
		snprintf(row.coap_ep, sizeof(row.coap_ep), "%s", coap_ep);
		snprintf(row.coaps_ep, sizeof(row.coaps_ep), "%s", coaps_ep);
		row.updated = kdc_core_now(core);
		r = kdc_store_ocf_put(core->st, &row);
	}
	if (r != KDC_OK || (r = AUDIT(core, actor, "ocf.onboard.begin", first,
	    KDC_OK, "otm=%d%s new_uuid=%s coaps=%s", otm, rerun ? " rerun" :
	    "", nu, coaps_ep)) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	*new_uuid = u;
	return KDC_OK;
refused:
	(void)AUDIT(core, actor, "ocf.onboard.begin", subject, r, "%s",
	    kdc_err_str(r));
	return r;
}

kdc_err
kdc_core_ocf_step(struct kdc_core *core, const char *actor,
    const char *uuid, const char *step, kdc_err result)
{
	struct kdc_ocf_row row;
	char u[KDC_OCF_UUID_TEXT + 1];
	const char *subject = "?";
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if (uuid_canon(uuid, u))
		subject = u;
	if (subject != u || !step_ok(step) || (int)result > 0) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	if ((r = kdc_store_ocf_get(core->st, u, &row)) == KDC_OK) {
		snprintf(row.step, sizeof(row.step), "%s", step);
		row.err = result;
		/* an onboarding that fails is FAILED; an owned device stays
		 * owned, the failure kept until its next success */
		if (result != KDC_OK &&
		    row.state == KDC_STORE_OCF_ONBOARDING)
			row.state = KDC_STORE_OCF_FAILED;
		row.updated = kdc_core_now(core);
		r = kdc_store_ocf_put(core->st, &row);
	}
	if (r != KDC_OK || (r = AUDIT(core, actor, "ocf.step", u, result,
	    "step=%s state=%s%s%s", step, kdc_ocf_state_str(
	    (enum kdc_ocf_state)row.state), result != KDC_OK ? ": " : "",
	    result != KDC_OK ? kdc_err_str(result) : "")) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	return KDC_OK;
refused:
	(void)AUDIT(core, actor, "ocf.step", subject, r, "%s",
	    kdc_err_str(r));
	return r;
}

/*
 * What an earlier, unfinished run of an onboarding registered (the row's
 * device, its credentials and audience): deleted, inside the caller's
 * transaction. A device that was owned once is never that (begin cleared
 * the row's link to it).
 */
static kdc_err
unfinished_delete(struct kdc_core *core, struct kdc_ocf_row *row)
{
	struct kdc_device *dev = NULL;
	kdc_err r;

	if (row->device == 0)
		return KDC_OK;
	if ((r = kdc_store_device_get_by_id(core->st, row->device, &dev)) ==
	    KDC_ERR_NOT_FOUND)
		goto cleared;
	if (r != KDC_OK)
		return r;
	/* its audience has its dev_id's name, "ocf-<uuid>" */
	if ((r = kdc_store_ocf_audience_delete(core->st, dev->dev_id)) !=
	    KDC_OK && r != KDC_ERR_NOT_FOUND)
		goto out;
	if ((r = core_ace_device_revoked(core, dev->id)) != KDC_OK ||
	    (r = core_crl_gen_bump(core)) != KDC_OK ||
	    (r = kdc_store_device_delete(core->st, dev->id)) != KDC_OK ||
	    (r = core_meta_bump(core, DELETE_GEN_KEY)) != KDC_OK ||
	    (r = AUDIT(core, "core", "device.delete", dev->dev_id, KDC_OK,
	    "unfinished OCF onboarding of %s: device and credentials "
	    "deleted", row->first_uuid)) != KDC_OK)
		goto out;
cleared:
	row->device = 0;
	row->owner_cred = 0;
	r = KDC_OK;
out:
	kdc_device_free(dev);
	return r;
}

/* The device "ocf-<uuid>" with no manufacturer credential (RDP, JW) or
 * with the mfgcert OTM's key as its manufacturer credential (x509, the
 * SPKI and its fingerprint: the live-key index keeps it one device's). */
static kdc_err
ocf_device_insert(struct kdc_core *core, const char *uuid,
    const uint8_t *spki, size_t spki_len, struct kdc_device *dev)
{
	struct kdc_cred cred, *other = NULL;
	uint8_t fp[32];
	kdc_err r;

	memset(dev, 0, sizeof(*dev));
	devid_of(uuid, dev->dev_id);
	snprintf(dev->profile, sizeof(dev->profile), "%s",
	    core_cfg(core)->ocf_profile[0] != '\0' ?
	    core_cfg(core)->ocf_profile : "default");
	if (kdc_config_profile(core_cfg(core), dev->profile) == NULL)
		return KDC_ERR_UNKNOWN_PROFILE;
	dev->status = KDC_DEV_ACTIVE;
	dev->created = kdc_core_now(core);
	if ((r = kdc_store_device_add(core->st, dev)) != KDC_OK || spki_len == 0)
		return r;
	kdc_sha256(spki, spki_len, fp);
	r = kdc_store_cred_get_by_spki_fp(core->st, fp, &other);
	if (r == KDC_OK && (other->status == KDC_CRED_ISSUED ||
	    other->status == KDC_CRED_PENDING))
		r = KDC_ERR_DENIED;	/* another device's live key */
	else if (r == KDC_OK || r == KDC_ERR_NOT_FOUND)
		r = KDC_OK;
	kdc_cred_free(other);
	if (r != KDC_OK)
		return r;
	memset(&cred, 0, sizeof(cred));
	cred.device = dev->id;
	cred.kind = KDC_KIND_MANUFACTURER;
	cred.type = KDC_TYPE_X509;
	cred.status = KDC_CRED_ISSUED;
	cred.created = dev->created;
	cred.spki = (uint8_t *)(uintptr_t)spki;
	cred.spki_len = spki_len;
	cred.spki_fp = fp;
	cred.spki_fp_len = sizeof(fp);
	r = core_cred_insert(core, &cred, NULL, 0);
	return r == KDC_ERR_EXISTS ? KDC_ERR_DENIED : r;
}

kdc_err
kdc_core_ocf_owner_set(struct kdc_core *core, const char *actor,
    const char *first_uuid, const char *new_uuid, const uint8_t *psk,
    size_t psk_len, const uint8_t *mfg_spki, size_t mfg_spki_len)
{
	struct kdc_ocf_row row;
	struct kdc_device dev, *old = NULL;
	struct kdc_audience aud;
	struct kdc_cred cred;
	enum kdc_key_alg alg;
	char first[KDC_OCF_UUID_TEXT + 1], nu[KDC_OCF_UUID_TEXT + 1];
	uint8_t sfp[32];
	const char *subject = "?";
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if (uuid_canon(first_uuid, first))
		subject = first;
	if (subject != first || !uuid_canon(new_uuid, nu) || psk == NULL ||
	    psk_len != KDC_OCF_PSK_LEN || (mfg_spki == NULL &&
	    mfg_spki_len > 0)) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if (mfg_spki_len > 0 && ((r = kdc_spki_check(mfg_spki, mfg_spki_len,
	    &alg)) != KDC_OK || (alg != KDC_KEY_P256 &&
	    (r = KDC_ERR_UNSUPPORTED_KEY))))
		goto refused;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	r = kdc_store_ocf_get(core->st, first, &row);
	if (r == KDC_OK && (row.state != KDC_STORE_OCF_ONBOARDING ||
	    strcmp(row.first_uuid, first) != 0 ||
	    strcmp(row.new_uuid, nu) != 0))
		r = KDC_ERR_NOT_FOUND;
	if (r != KDC_OK || (r = unfinished_delete(core, &row)) != KDC_OK)
		goto fail;
	devid_of(nu, dev.dev_id);
	if ((r = kdc_store_device_get(core->st, dev.dev_id, &old)) == KDC_OK)
		r = KDC_ERR_EXISTS;
	else if (r == KDC_ERR_NOT_FOUND)
		r = ocf_device_insert(core, nu, mfg_spki, mfg_spki_len, &dev);
	if (r != KDC_OK)
		goto fail;
	/* the owner credential, pending until RFNOP */
	if ((r = kdc_keyring_mac(core->kr, "psk-fp", psk, psk_len, sfp)) !=
	    KDC_OK)
		goto fail;
	memset(&cred, 0, sizeof(cred));
	cred.device = dev.id;
	cred.kind = KDC_KIND_OWNER;
	cred.type = KDC_TYPE_PSK;
	cred.status = KDC_CRED_PENDING;
	snprintf(cred.identity, sizeof(cred.identity), OWNER_ID_PREFIX "%s",
	    nu);
	cred.secret_fp = sfp;
	cred.secret_fp_len = sizeof(sfp);
	cred.not_before = kdc_core_now(core);
	cred.created = cred.not_before;
	if ((r = core_cred_insert(core, &cred, psk, psk_len)) != KDC_OK)
		goto fail;
	/* its audience: the service its pairwise peers hold keys for */
	memset(&aud, 0, sizeof(aud));
	aud_of(nu, aud.name);
	aud.kind = KDC_AUD_OCF_DEVICE;
	snprintf(aud.uri, sizeof(aud.uri), "%s", row.coaps_ep);
	aud.created = kdc_core_now(core);
	if ((r = kdc_store_audience_add(core->st, &aud)) != KDC_OK)
		goto fail;
	snprintf(row.uuid, sizeof(row.uuid), "%s", nu);
	row.new_uuid[0] = '\0';
	row.device = dev.id;
	row.owner_cred = cred.id;
	snprintf(row.step, sizeof(row.step), "owner");
	row.err = KDC_OK;
	row.updated = kdc_core_now(core);
	if ((r = kdc_store_ocf_put(core->st, &row)) != KDC_OK ||
	    (r = AUDIT(core, actor, "ocf.owner", first, KDC_OK,
	    "device=%s otm=%d owner_cred=%" PRId64 " status=pending%s",
	    dev.dev_id, row.otm, cred.id, mfg_spki_len > 0 ?
	    " manufacturer_key=x509" : "")) != KDC_OK)
		goto fail;
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	return KDC_OK;
fail:
	kdc_store_rollback(core->st);
refused:
	kdc_device_free(old);
	(void)AUDIT(core, actor, "ocf.owner", subject, r, "%s",
	    kdc_err_str(r));
	return r;
}

kdc_err
kdc_core_ocf_owner_derive(struct kdc_core *core, const char *actor,
    const char *first_uuid, const char *new_uuid, const uint8_t *key_block,
    size_t key_block_len, const uint8_t *mfg_spki, size_t mfg_spki_len)
{
	struct kdc_ocf_row row;
	struct kdc_ocf_uuid obt, nu;
	char first[KDC_OCF_UUID_TEXT + 1];
	uint8_t psk[KDC_OCF_PSK_LEN];
	const char *oxm;
	kdc_err r;

	if (core == NULL || key_block == NULL || key_block_len == 0 ||
	    !uuid_canon(first_uuid, first) || new_uuid == NULL ||
	    kdc_ocf_uuid_parse(new_uuid, strlen(new_uuid), &nu) != KDC_OK)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_store_ocf_get(core->st, first, &row)) != KDC_OK)
		return r;
	/* the OXM string names the OTM the onboarding began with */
	oxm = row.otm == KDC_OCF_OXM_JW ? "oic.sec.doxm.jw" :
	    row.otm == KDC_OCF_OXM_RDP ? "oic.sec.doxm.rdp" :
	    row.otm == KDC_OCF_OXM_MFGCERT ? "oic.sec.doxm.mfgcert" : NULL;
	if (oxm == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_core_ocf_obt_uuid(core, &obt)) != KDC_OK ||
	    (r = kdc_ocf_owner_psk(key_block, key_block_len, oxm, obt.b,
	    nu.b, psk)) != KDC_OK)
		return r;
	r = kdc_core_ocf_owner_set(core, actor, first, new_uuid, psk,
	    sizeof(psk), mfg_spki, mfg_spki_len);
	kdc_wipe(psk, sizeof(psk));
	return r;
}

kdc_err
kdc_core_ocf_onboard_done(struct kdc_core *core, const char *actor,
    const char *uuid)
{
	struct kdc_ocf_row row;
	char u[KDC_OCF_UUID_TEXT + 1];
	const char *subject = "?";
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if (uuid_canon(uuid, u))
		subject = u;
	if (subject != u) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	r = kdc_store_ocf_get(core->st, u, &row);
	if (r == KDC_OK && (row.state != KDC_STORE_OCF_ONBOARDING ||
	    row.owner_cred == 0 || row.device == 0))
		r = KDC_ERR_NOT_FOUND;
	if (r == KDC_OK)
		r = kdc_store_cred_set_status(core->st, row.owner_cred,
		    KDC_CRED_ISSUED);
	if (r == KDC_OK) {
		row.state = KDC_STORE_OCF_OWNED;
		snprintf(row.step, sizeof(row.step), "done");
		row.err = KDC_OK;
		row.updated = kdc_core_now(core);
		r = kdc_store_ocf_put(core->st, &row);
	}
	if (r != KDC_OK || (r = AUDIT(core, actor, "ocf.onboard", row.uuid,
	    KDC_OK, "owned; owner_cred=%" PRId64 " issued first_uuid=%s",
	    row.owner_cred, row.first_uuid)) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	return KDC_OK;
refused:
	(void)AUDIT(core, actor, "ocf.onboard", subject, r, "%s",
	    kdc_err_str(r));
	return r;
}

kdc_err
kdc_core_ocf_owner_psk(struct kdc_core *core, const char *actor,
    const char *uuid, uint8_t psk[KDC_OCF_PSK_LEN])
{
	struct kdc_ocf_row row;
	struct kdc_device *dev = NULL;
	struct kdc_cred *cred = NULL;
	uint8_t *key = NULL;
	size_t key_len = 0, aad_len;
	char u[KDC_OCF_UUID_TEXT + 1], aad[32];
	const char *subject = "?";
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if (psk != NULL)
		kdc_wipe(psk, KDC_OCF_PSK_LEN);
	if (uuid_canon(uuid, u))
		subject = u;
	if (subject != u || psk == NULL) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = owned_get(core, u, &row, &dev)) != KDC_OK)
		goto refused;
	if (row.owner_cred == 0) {
		r = KDC_ERR_REVOKED;	/* deleted with its device */
		goto refused;
	}
	if ((r = kdc_store_cred_get(core->st, row.owner_cred, &cred)) !=
	    KDC_OK)
		goto refused;
	if (cred->status != KDC_CRED_ISSUED || cred->kind != KDC_KIND_OWNER ||
	    cred->device != dev->id) {
		r = KDC_ERR_REVOKED;
		goto refused;
	}
	aad_len = core_cred_aad(cred->id, aad, sizeof(aad));
	if (kdc_unwrap(core->kr, aad, aad_len, cred->wrapped,
	    cred->wrapped_len, &key, &key_len) != KDC_OK ||
	    key_len != KDC_OCF_PSK_LEN) {
		r = KDC_ERR_BAD_KEY;
		goto refused;
	}
	memcpy(psk, key, KDC_OCF_PSK_LEN);
	(void)AUDIT(core, actor, "ocf.owner_psk", u, KDC_OK, "owner_cred=%"
	    PRId64, cred->id);
	goto out;
refused:
	(void)AUDIT(core, actor, "ocf.owner_psk", subject, r, "%s",
	    kdc_err_str(r));
out:
	kdc_secret_free(key, key_len);
	kdc_cred_free(cred);
	kdc_device_free(dev);
	return r;
}

/* ---- CMS: pairwise PSKs, identity certificates --------------------------- */

/* One side of a pair: holder's pending PSK for the audience of peer. */
static kdc_err
pair_side(struct kdc_core *core, const char *actor,
    const struct kdc_device *holder, const char *holder_uuid,
    const char *peer_uuid, const uint8_t *key, int64_t *id)
{
	struct kdc_profile prof;
	struct issuance iss;
	uint8_t rnd[4];
	char aud[KDC_NAME_MAX + 1], identity[KDC_PSK_IDENTITY_MAX + 1],
	    hex[9], note[64];
	kdc_err r;

	aud_of(peer_uuid, aud);
	if ((r = ocf_prof(core, holder, aud, KDC_TYPE_PSK, &prof)) != KDC_OK ||
	    (r = kdc_random(rnd, sizeof(rnd))) != KDC_OK)
		return r;
	/* unique among live identities while the issued pair stays live
	 * beside the pending one (the wire identity is the peer's uuid) */
	kdc_hex_encode(rnd, sizeof(rnd), hex);
	snprintf(identity, sizeof(identity), PAIR_ID_PREFIX "%s:%s#%s",
	    holder_uuid, peer_uuid, hex);
	snprintf(note, sizeof(note), "peer=%s", peer_uuid);
	memset(&iss, 0, sizeof(iss));
	iss.dev = holder;
	iss.prof = &prof;
	iss.type = KDC_TYPE_PSK;
	iss.mode = ISSUE_PENDING;
	iss.action = "ocf.pair";
	iss.identity = identity;
	iss.secret = key;
	iss.secret_len = KDC_OCF_PSK_LEN;
	iss.not_before = kdc_core_now(core);
	iss.not_after = 0;	/* a device holds it until reprovisioned */
	/* both sides hold the one key: the "no two devices share a PSK"
	 * fingerprint (a unique index on live PSKs) would refuse the
	 * second; neither authenticates to the KDC (auth.c ocf_only()) */
	iss.no_fp = true;
	iss.note = note;
	if ((r = core_issue(core, actor, &iss)) == KDC_OK)
		*id = iss.cred_id;
	return r;
}

kdc_err
kdc_core_ocf_pair_issue(struct kdc_core *core, const char *actor,
    const char *uuid1, const char *uuid2, int64_t ids[2],
    uint8_t psk[KDC_OCF_PSK_LEN])
{
	struct kdc_ocf_row row1, row2;
	struct kdc_device *d1 = NULL, *d2 = NULL;
	char u1[KDC_OCF_UUID_TEXT + 1], u2[KDC_OCF_UUID_TEXT + 1];
	uint8_t key[KDC_OCF_PSK_LEN];
	const char *subject = "?";
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if (ids != NULL)
		ids[0] = ids[1] = 0;
	if (psk != NULL)
		kdc_wipe(psk, KDC_OCF_PSK_LEN);
	if (uuid_canon(uuid1, u1))
		subject = u1;
	if (subject != u1 || !uuid_canon(uuid2, u2) || ids == NULL ||
	    psk == NULL) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = owned_get(core, u1, &row1, &d1)) != KDC_OK ||
	    (r = owned_get(core, u2, &row2, &d2)) != KDC_OK)
		goto refused;
	/* the same device, whichever of its uuids names it */
	if (row1.id == row2.id) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = kdc_random(key, sizeof(key))) != KDC_OK ||
	    (r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	if ((r = pair_side(core, actor, d1, row1.uuid, row2.uuid, key,
	    &ids[0])) != KDC_OK || (r = pair_side(core, actor, d2, row2.uuid,
	    row1.uuid, key, &ids[1])) != KDC_OK) {
		kdc_store_rollback(core->st);
		ids[0] = ids[1] = 0;
		goto refused;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK) {
		ids[0] = ids[1] = 0;
		goto refused;
	}
	memcpy(psk, key, sizeof(key));
	goto out;
refused:
	(void)AUDIT(core, actor, "ocf.pair", subject, r, "%s%s%s",
	    kdc_err_str(r), subject == u1 ? " peer=" : "", subject == u1 &&
	    uuid_canon(uuid2, u2) ? u2 : "");
out:
	kdc_wipe(key, sizeof(key));
	kdc_device_free(d1);
	kdc_device_free(d2);
	return r;
}

kdc_err
kdc_core_ocf_pair_done(struct kdc_core *core, const char *actor,
    const int64_t ids[2])
{
	struct kdc_cred *c = NULL;
	char subject[32];
	kdc_err r = KDC_OK;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	snprintf(subject, sizeof(subject), "cred:%" PRId64, ids != NULL ?
	    ids[0] : 0);
	if (ids == NULL || ids[0] == ids[1])
		r = KDC_ERR_INVALID_ARG;
	/* both pairwise credentials of OCF devices, nothing else */
	for (int i = 0; i < 2 && r == KDC_OK; i++) {
		if ((r = kdc_store_cred_get(core->st, ids[i], &c)) == KDC_OK &&
		    (c->kind != KDC_KIND_OPERATIONAL || c->type != KDC_TYPE_PSK ||
		    strncmp(c->audience, KDC_OCF_DEVID_PREFIX,
		    strlen(KDC_OCF_DEVID_PREFIX)) != 0 ||
		    strcmp(c->audience, KDC_OCF_AUD_IDENTITY) == 0))
			r = KDC_ERR_INVALID_ARG;
		kdc_cred_free(c);
		c = NULL;
	}
	if (r != KDC_OK) {
		(void)AUDIT(core, actor, "ocf.pair_done", subject, r, "%s",
		    kdc_err_str(r));
		return r;
	}
	return kdc_core_cred_activate_set(core, actor, ids, 2,
	    "ocf.pair_done", subject, "pairwise");
}

kdc_err
kdc_core_ocf_cert_sign(struct kdc_core *core, const char *actor,
    const char *uuid, const uint8_t *csr, size_t csr_len, int64_t *cred_id,
    uint8_t **cert, size_t *cert_len)
{
	struct kdc_ocf_row row;
	struct kdc_device *dev = NULL;
	struct kdc_cred *other = NULL;
	struct kdc_profile prof;
	struct kdc_issued is;
	struct issuance iss;
	char u[KDC_OCF_UUID_TEXT + 1];
	const char *subject = "?";
	uint8_t fp[32];
	int64_t now, days;
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(&is, 0, sizeof(is));
	if (cred_id != NULL)
		*cred_id = 0;
	if (cert != NULL)
		*cert = NULL;
	if (cert_len != NULL)
		*cert_len = 0;
	if (uuid_canon(uuid, u))
		subject = u;
	if (subject != u || csr == NULL || cred_id == NULL || cert == NULL ||
	    cert_len == NULL || core->ca == NULL) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = owned_get(core, u, &row, &dev)) != KDC_OK)
		goto refused;
	now = kdc_core_now(core);
	days = core_cfg(core)->ocf_cert_days > 0 ?
	    core_cfg(core)->ocf_cert_days : 365;
	if ((r = kdc_ca_sign_ocf_identity(core->ca, csr, csr_len, row.uuid,
	    now, now + days * 86400, &is)) != KDC_OK)
		goto refused;
	/* as EST's: not a manufacturer key, not another device's, not a
	 * revoked one; its own live key may be certified again */
	kdc_sha256(is.spki, is.spki_len, fp);
	r = kdc_store_cred_get_by_spki_fp(core->st, fp, &other);
	if (r == KDC_OK) {
		if (other->device != dev->id ||
		    other->kind == KDC_KIND_MANUFACTURER)
			r = KDC_ERR_DENIED;
		else if (other->status == KDC_CRED_REVOKED)
			r = KDC_ERR_REVOKED;
	} else if (r == KDC_ERR_NOT_FOUND)
		r = KDC_OK;
	if (r != KDC_OK ||
	    (r = ocf_prof(core, dev, KDC_OCF_AUD_IDENTITY, KDC_TYPE_X509,
	    &prof)) != KDC_OK)
		goto refused;
	/* a renewal without rekey (IoTivity keeps its key pair): the live
	 * certificate of that key is superseded at once (the store keeps one
	 * live credential per key), as EST's sren; a new key waits pending
	 * until the device took the certificate */
	core_issuance_cert(&iss, dev, &prof, &is, now, now + days * 86400,
	    other != NULL && other->device == dev->id &&
	    strcmp(other->audience, KDC_OCF_AUD_IDENTITY) == 0 &&
	    (other->status == KDC_CRED_ISSUED ||
	    other->status == KDC_CRED_PENDING) ? ISSUE_NOW : ISSUE_PENDING);
	iss.action = "ocf.cert";
	if ((r = core_issue(core, actor, &iss)) != KDC_OK)
		goto refused;
	*cred_id = iss.cred_id;
	*cert = is.cert;
	*cert_len = is.cert_len;
	is.cert = NULL;
	is.cert_len = 0;
	goto out;
refused:
	(void)AUDIT(core, actor, "ocf.cert", subject, r, "%s",
	    kdc_err_str(r));
out:
	kdc_issued_wipe(&is);
	kdc_cred_free(other);
	kdc_device_free(dev);
	return r;
}

/* The device took its identity certificate cred_id: pending -> issued;
 * one issued already (a renewal without rekey) is left as it is. */
kdc_err
kdc_core_ocf_cert_done(struct kdc_core *core, const char *actor,
    int64_t cred_id)
{
	struct kdc_cred *c = NULL;
	char subject[32];
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	snprintf(subject, sizeof(subject), "cred:%" PRId64, cred_id);
	if ((r = kdc_store_cred_get(core->st, cred_id, &c)) == KDC_OK &&
	    (c->kind != KDC_KIND_OPERATIONAL || c->type != KDC_TYPE_X509 ||
	    strcmp(c->audience, KDC_OCF_AUD_IDENTITY) != 0 ||
	    (c->status != KDC_CRED_PENDING && c->status != KDC_CRED_ISSUED)))
		r = KDC_ERR_INVALID_ARG;
	if (r == KDC_OK && c->status == KDC_CRED_PENDING)
		r = kdc_core_cred_activate_as(core, actor, cred_id,
		    "ocf.cert_done", subject, "identity certificate");
	else if (r != KDC_OK)
		(void)AUDIT(core, actor, "ocf.cert_done", subject, r, "%s",
		    kdc_err_str(r));
	kdc_cred_free(c);
	return r;
}

/* ---- the mfgcert OTM's server check ------------------------------------- */

kdc_err
kdc_core_ocf_mfg_check(struct kdc_core *core, const char *actor,
    const uint8_t *const *der, const size_t *len, size_t n, uint8_t *spki,
    size_t *spki_len)
{
	struct kdc_mfg_ca **cas = NULL;
	struct kdc_cred *cred = NULL;
	struct kdc_device *dev = NULL;
	struct kdc_ocf_row row;
	const uint8_t **ca_der = NULL;
	size_t *ca_len = NULL, ncas = 0, cap, leaf_len = 0;
	uint8_t *leaf = NULL, fp[32];
	char *name = NULL, esc[KDC_DEVID_MAX * 4 + 1];
	enum kdc_key_alg alg;
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	snprintf(esc, sizeof(esc), "-");
	if (der == NULL || len == NULL || n == 0 || spki == NULL ||
	    spki_len == NULL) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	cap = *spki_len;
	*spki_len = 0;
	/* the manufacturer CAs alone: our CA certifies no manufacturer */
	if ((r = kdc_store_mfg_ca_list(core->st, &cas, &ncas)) != KDC_OK)
		goto refused;
	if (ncas == 0) {
		r = KDC_ERR_UNTRUSTED;
		goto refused;
	}
	if ((ca_der = kdc_calloc(ncas, sizeof(*ca_der))) == NULL ||
	    (ca_len = kdc_calloc(ncas, sizeof(*ca_len))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto refused;
	}
	for (size_t i = 0; i < ncas; i++) {
		ca_der[i] = cas[i]->cert;
		ca_len[i] = cas[i]->cert_len;
	}
	/* the device is the DTLS server of the OTM: serverAuth */
	r = kdc_cert_verify_chain_for(der, len, n, ca_der, ca_len, ncas,
	    kdc_core_now(core), true, &name, &leaf, &leaf_len);
	if (name != NULL)
		kdc_log_escape(name, strlen(name), esc, sizeof(esc));
	if (r != KDC_OK)
		goto refused;
	if ((r = kdc_spki_check(leaf, leaf_len, &alg)) != KDC_OK ||
	    alg != KDC_KEY_P256) {
		r = KDC_ERR_UNSUPPORTED_KEY;
		goto refused;
	}
	if (leaf_len > cap) {
		r = KDC_ERR_TOO_LARGE;
		goto refused;
	}
	/* a key a revoked device had: refused, unless that device was
	 * offboarded (reset to RFOTM by us: it may be onboarded again) */
	kdc_sha256(leaf, leaf_len, fp);
	r = kdc_store_cred_get_by_spki_fp(core->st, fp, &cred);
	if (r == KDC_OK) {
		if ((r = kdc_store_device_get_by_id(core->st, cred->device,
		    &dev)) != KDC_OK)
			goto refused;
		if (dev->status == KDC_DEV_REVOKED && !(kdc_store_ocf_get_by_device(
		    core->st, dev->id, &row) == KDC_OK &&
		    row.state == KDC_STORE_OCF_OFFBOARDED))
			r = KDC_ERR_REVOKED;
		else if (cred->status == KDC_CRED_REVOKED &&
		    dev->status != KDC_DEV_REVOKED)
			r = KDC_ERR_REVOKED;
		if (r != KDC_OK)
			goto refused;
	} else if (r != KDC_ERR_NOT_FOUND)
		goto refused;
	memcpy(spki, leaf, leaf_len);
	*spki_len = leaf_len;
	r = KDC_OK;
	goto out;
refused:
	core_audit_unauth(core, actor, "ocf.mfg_check", esc, r, "%s",
	    kdc_err_str(r));
out:
	kdc_free(name);
	kdc_free(leaf);
	kdc_free(ca_der);
	kdc_free(ca_len);
	kdc_mfg_ca_list_free(cas, ncas);
	kdc_cred_free(cred);
	kdc_device_free(dev);
	return r;
}

/* ---- records ------------------------------------------------------------- */

kdc_err
kdc_core_ocf_device_get(struct kdc_core *core, const char *uuid,
    struct kdc_ocf_device *out)
{
	struct kdc_ocf_row row;
	char u[KDC_OCF_UUID_TEXT + 1];
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (core == NULL || out == NULL || !uuid_canon(uuid, u))
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_store_ocf_get(core->st, u, &row)) != KDC_OK)
		return r;
	dev_from_row(core, &row, out);
	return KDC_OK;
}

kdc_err
kdc_core_ocf_device_list(struct kdc_core *core, struct kdc_ocf_device **out,
    size_t *n)
{
	struct kdc_ocf_row *rows = NULL;
	struct kdc_ocf_device *v = NULL;
	size_t k = 0;
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (core == NULL || out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_store_ocf_list(core->st, &rows, &k)) != KDC_OK)
		return r;
	if (k > 0 && (v = kdc_calloc(k, sizeof(*v))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < k; i++)
		dev_from_row(core, &rows[i], &v[i]);
	*out = v;
	*n = k;
	v = NULL;
out:
	kdc_free(v);
	kdc_free(rows);
	return r;
}

kdc_err
kdc_core_ocf_set_eps(struct kdc_core *core, const char *uuid,
    const char *coap_ep, const char *coaps_ep)
{
	struct kdc_ocf_row row;
	struct kdc_audience aud;
	char u[KDC_OCF_UUID_TEXT + 1];
	kdc_err r;

	if (core == NULL || !uuid_canon(uuid, u) ||
	    !ep_ok(coap_ep, "coap://", true) ||
	    !ep_ok(coaps_ep, "coaps://", false))
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		return r;
	if ((r = kdc_store_ocf_get(core->st, u, &row)) == KDC_OK) {
		snprintf(row.coap_ep, sizeof(row.coap_ep), "%s", coap_ep);
		snprintf(row.coaps_ep, sizeof(row.coaps_ep), "%s", coaps_ep);
		row.updated = kdc_core_now(core);
		r = kdc_store_ocf_put(core->st, &row);
	}
	/* the audience's uri follows (an owned device has one) */
	if (r == KDC_OK && row.owner_cred != 0) {
		aud_of(row.uuid, aud.name);
		r = kdc_store_ocf_audience_set_uri(core->st, aud.name,
		    coaps_ep);
		if (r == KDC_ERR_NOT_FOUND)
			r = KDC_OK;
	}
	if (r == KDC_OK)
		r = AUDIT(core, "core", "ocf.eps", u, KDC_OK, "coap=%s coaps=%s",
		    coap_ep[0] != '\0' ? coap_ep : "-", coaps_ep);
	if (r != KDC_OK) {
		kdc_store_rollback(core->st);
		return r;
	}
	return kdc_store_commit(core->st);
}

kdc_err
kdc_core_ocf_pairs(struct kdc_core *core, const char *uuid,
    char out[][KDC_OCF_UUID_TEXT + 1], size_t *n)
{
	struct kdc_ocf_row row, peer;
	struct kdc_cred *c = NULL;
	char u[KDC_OCF_UUID_TEXT + 1], aud[KDC_NAME_MAX + 1];
	int64_t *ids = NULL;
	size_t k = 0, m = 0;
	bool seen;
	kdc_err r;

	if (n != NULL)
		*n = 0;
	if (core == NULL || out == NULL || n == NULL || !uuid_canon(uuid, u))
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_store_ocf_get(core->st, u, &row)) != KDC_OK)
		return r;
	aud_of(row.uuid, aud);
	/* an offboarded device's were revoked by its offboarding: those
	 * name the devices a deletion may still be owed to */
	if ((r = kdc_store_ocf_creds_for(core->st, aud, row.state !=
	    KDC_STORE_OCF_OFFBOARDED, &ids, &k)) != KDC_OK)
		return r;
	for (size_t i = 0; i < k && r == KDC_OK; i++) {
		if ((r = kdc_store_cred_get(core->st, ids[i], &c)) != KDC_OK)
			break;
		if (c->kind == KDC_KIND_OPERATIONAL &&
		    kdc_store_ocf_get_by_device(core->st, c->device, &peer) ==
		    KDC_OK && peer.state == KDC_STORE_OCF_OWNED) {
			seen = false;
			for (size_t j = 0; j < m; j++)
				if (strcmp(out[j], peer.uuid) == 0)
					seen = true;
			if (!seen && m == KDC_OCF_PAIRS_MAX)
				r = KDC_ERR_TOO_LARGE;
			else if (!seen)
				snprintf(out[m++], KDC_OCF_UUID_TEXT + 1, "%s",
				    peer.uuid);
		}
		kdc_cred_free(c);
		c = NULL;
	}
	kdc_free(ids);
	*n = m;
	return r;
}

/* ---- offboarding ---------------------------------------------------------- */

/*
 * Inside the caller's transaction: every live credential for the OCF
 * audience aud (the pairwise keys other devices hold for that device)
 * revoked, each audited; the revocation generation bumped if any.
 * kdc_core_device_revoke() of an OCF device and the offboarding call it.
 */
kdc_err
core_ocf_audience_revoke(struct kdc_core *core, const char *actor,
    const char *aud, size_t *revoked)
{
	int64_t *ids = NULL;
	size_t k = 0;
	char cs[32];
	kdc_err r;

	*revoked = 0;
	if ((r = kdc_store_ocf_creds_for(core->st, aud, true, &ids, &k)) !=
	    KDC_OK)
		return r;
	for (size_t i = 0; i < k; i++) {
		snprintf(cs, sizeof(cs), "cred:%" PRId64, ids[i]);
		if ((r = kdc_store_cred_set_status(core->st, ids[i],
		    KDC_CRED_REVOKED)) != KDC_OK ||
		    (r = AUDIT(core, actor, "cred.revoke", cs, KDC_OK,
		    "audience=%s (its device revoked)", aud)) != KDC_OK)
			goto out;
		(*revoked)++;
	}
	if (*revoked > 0)
		r = core_crl_gen_bump(core);
out:
	kdc_free(ids);
	return r;
}

kdc_err
kdc_core_ocf_offboard(struct kdc_core *core, const char *actor,
    const char *uuid)
{
	struct kdc_ocf_row row;
	struct kdc_device *dev = NULL;
	char u[KDC_OCF_UUID_TEXT + 1], aud[KDC_NAME_MAX + 1];
	const char *subject = "?";
	size_t revoked = 0;
	kdc_err r;

	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if (uuid_canon(uuid, u))
		subject = u;
	if (subject != u) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	if ((r = kdc_store_ocf_get(core->st, u, &row)) != KDC_OK)
		goto fail;
	/* every credential others hold for its audience (first: the
	 * device revoke below finds none left, and this record counts
	 * them), then the device with every credential it has
	 * (device.revoke's own record, nested in this transaction) */
	aud_of(row.uuid, aud);
	if ((r = core_ocf_audience_revoke(core, actor, aud, &revoked)) !=
	    KDC_OK)
		goto fail;
	if (row.device != 0) {
		r = kdc_store_device_get_by_id(core->st, row.device, &dev);
		if (r == KDC_OK && dev->status != KDC_DEV_REVOKED)
			r = kdc_core_device_revoke(core, actor, dev->dev_id);
		else if (r == KDC_ERR_NOT_FOUND)
			r = KDC_OK;
		if (r != KDC_OK)
			goto fail;
	}
	row.state = KDC_STORE_OCF_OFFBOARDED;
	snprintf(row.step, sizeof(row.step), "offboard");
	row.err = KDC_OK;
	row.updated = kdc_core_now(core);
	if ((r = kdc_store_ocf_put(core->st, &row)) != KDC_OK ||
	    (r = AUDIT(core, actor, "ocf.offboard", u, KDC_OK,
	    "device=%s revoked; %zu credential(s) for %s revoked",
	    dev != NULL ? dev->dev_id : "-", revoked, aud)) != KDC_OK)
		goto fail;
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	goto out;
fail:
	kdc_store_rollback(core->st);
refused:
	(void)AUDIT(core, actor, "ocf.offboard", subject, r, "%s",
	    kdc_err_str(r));
out:
	kdc_device_free(dev);
	return r;
}
