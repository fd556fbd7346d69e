/*
 * audience.c: the audiences, the services that accept operational
 * credentials (core.h): the built-in LwM2M Server, implicit, and the
 * registered ones (the store's audiences table); which of them a
 * device's profile lists.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"
#include "core/tlsnames.h"

/* The built-in LwM2M Server as an audience: its URI as the bootstrap
 * writes it ([lwm2m] server_uri, else derived), ssid 1. */
static kdc_err
builtin(struct kdc_core *core, struct kdc_audience *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", KDC_AUDIENCE_BUILTIN);
	out->kind = KDC_AUD_LWM2M;
	out->ssid = KDC_AUDIENCE_BUILTIN_SSID;
	return kdc_tlsnames_lwm2m_uri(core_cfg(core), out->uri,
	    sizeof(out->uri));
}

/*
 * A URI for an audience of kind k: printable ASCII without blanks, at
 * most KDC_AUDIENCE_URI_MAX bytes, the scheme of the kind, a host that
 * kdc_tlsnames_uri_host() reads, and no userinfo (a URI is audited and
 * listed: no password in it).
 */
static bool
uri_ok(enum kdc_audience_kind k, const char *uri)
{
	static const char *const schemes[][2] = {
		[KDC_AUD_LWM2M] = { "coaps://", NULL },
		[KDC_AUD_LWM2M_EXTERNAL] = { "coaps://", NULL },
		[KDC_AUD_MQTT] = { "mqtts://", NULL },
		[KDC_AUD_ACE_RS] = { "coaps://", "https://" },
		[KDC_AUD_OCF_DEVICE] = { "coaps://", NULL },
	};
	char host[KDC_TLSNAMES_HOST_MAX + 1];
	size_t n = strnlen(uri, KDC_AUDIENCE_URI_MAX + 1);
	bool scheme = false;

	if (n == 0 || n > KDC_AUDIENCE_URI_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (uri[i] <= 0x20 || uri[i] >= 0x7f || uri[i] == '@')
			return false;
	for (size_t i = 0; i < 2; i++)
		if (schemes[k][i] != NULL && strncmp(uri, schemes[k][i],
		    strlen(schemes[k][i])) == 0)
			scheme = true;
	return scheme && kdc_tlsnames_uri_host(uri, host, sizeof(host)) ==
	    KDC_OK;
}

kdc_err
kdc_core_audience_add(struct kdc_core *core, const char *actor,
    const char *name, const char *kind, const char *uri, int ssid)
{
	struct kdc_audience a;
	const char *subject = name != NULL && core_name_ok(name) ? name : "?";
	int k;
	kdc_err r;

	memset(&a, 0, sizeof(a));
	if (name == NULL || !core_name_ok(name)) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if (strcmp(name, KDC_AUDIENCE_BUILTIN) == 0) {
		r = KDC_ERR_EXISTS;
		goto refused;
	}
	/* "ocf-*" names the OCF devices' audiences and identity
	 * certificates (core/ocf.h): core makes those */
	if (strncmp(name, KDC_OCF_DEVID_PREFIX,
	    strlen(KDC_OCF_DEVID_PREFIX)) == 0) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	/* the built-in LwM2M Server is the one audience of kind lwm2m; an
	 * OCF device's is made by its onboarding */
	if (kind == NULL || (k = kdc_audience_kind_parse(kind)) < 0 ||
	    k == KDC_AUD_LWM2M || k == KDC_AUD_OCF_DEVICE) {
		r = KDC_ERR_UNSUPPORTED;
		goto refused;
	}
	if (uri == NULL || !uri_ok((enum kdc_audience_kind)k, uri)) {
		r = KDC_ERR_MALFORMED;
		goto refused;
	}
	/* an external LwM2M Server needs its Short Server ID (1 is the
	 * built-in's); the other kinds have none */
	if (k == KDC_AUD_LWM2M_EXTERNAL ? ssid < 2 || ssid > 65534 :
	    ssid != 0) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	snprintf(a.name, sizeof(a.name), "%s", name);
	a.kind = (enum kdc_audience_kind)k;
	snprintf(a.uri, sizeof(a.uri), "%s", uri);
	a.ssid = ssid;
	a.created = kdc_core_now(core);
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	if ((r = kdc_store_audience_add(core->st, &a)) != KDC_OK ||
	    (r = AUDIT(core, actor, "audience.add", name, KDC_OK,
	    "kind=%s uri=%s ssid=%d", kind, a.uri, a.ssid)) != KDC_OK) {
		kdc_store_rollback(core->st);
		goto refused;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	return KDC_OK;
refused:
	(void)AUDIT(core, actor, "audience.add", subject, r, "%s",
	    kdc_err_str(r));
	return r;
}

kdc_err
kdc_core_audience_get(struct kdc_core *core, const char *name,
    struct kdc_audience *out)
{
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if (name == NULL || !core_name_ok(name))
		return KDC_ERR_UNKNOWN_AUDIENCE;
	if (strcmp(name, KDC_AUDIENCE_BUILTIN) == 0)
		return builtin(core, out);
	r = kdc_store_audience_get(core->st, name, out);
	return r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_AUDIENCE : r;
}

kdc_err
kdc_core_audience_list(struct kdc_core *core, struct kdc_audience **out,
    size_t *n)
{
	struct kdc_audience *v = NULL, *all = NULL;
	size_t k = 0;
	kdc_err r;

	*out = NULL;
	*n = 0;
	if ((r = kdc_store_audience_list(core->st, &v, &k)) != KDC_OK)
		return r;
	if ((all = kdc_calloc(k + 1, sizeof(*all))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((r = builtin(core, &all[0])) != KDC_OK)
		goto out;
	if (k > 0)
		memcpy(&all[1], v, k * sizeof(*v));
	*out = all;
	*n = k + 1;
	all = NULL;
out:
	kdc_free(all);
	kdc_free(v);
	return r;
}

kdc_err
core_profile_audience(struct kdc_core *core, const char *profile,
    const char *audience, const struct kdc_profile **prof)
{
	struct kdc_audience a;
	kdc_err r;

	*prof = NULL;
	if (kdc_config_profile(core_cfg(core), profile) == NULL)
		return KDC_ERR_UNKNOWN_PROFILE;
	if ((*prof = kdc_config_profile_audience(core_cfg(core), profile,
	    audience)) == NULL)
		return KDC_ERR_UNKNOWN_AUDIENCE;
	/* the built-in needs no read: the path of every issuance today */
	if (strcmp((*prof)->audience, KDC_AUDIENCE_BUILTIN) == 0)
		return KDC_OK;
	if ((r = kdc_core_audience_get(core, (*prof)->audience, &a)) !=
	    KDC_OK)
		*prof = NULL;
	return r;
}

kdc_err
kdc_core_device_audiences(struct kdc_core *core, const char *dev_id,
    struct kdc_device_audience *out, size_t max, size_t *n)
{
	const struct kdc_profile *e[KDC_CONFIG_PROFILES_MAX];
	struct kdc_device *dev = NULL;
	size_t k;
	kdc_err r;

	*n = 0;
	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		return r;
	k = kdc_config_profile_audiences(core_cfg(core), dev->profile, e,
	    KDC_CONFIG_PROFILES_MAX);
	if (k == 0) {
		r = KDC_ERR_UNKNOWN_PROFILE;
		goto out;
	}
	if (k > max || k > KDC_CONFIG_PROFILES_MAX) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		out[i].prof = *e[i];
		if ((r = kdc_core_audience_get(core, e[i]->audience,
		    &out[i].aud)) != KDC_OK)
			goto out;
	}
	*n = k;
out:
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_audiences_check(struct kdc_core *core, char *why, size_t why_len)
{
	const struct kdc_config *cfg = core_cfg(core);
	struct kdc_audience a;
	kdc_err r;

	if (why_len > 0)
		why[0] = '\0';
	for (size_t i = 0; i < cfg->nprofiles; i++) {
		const struct kdc_profile *p = &cfg->profiles[i];

		if ((r = kdc_core_audience_get(core, p->audience, &a)) ==
		    KDC_OK)
			continue;
		if (why_len > 0)
			snprintf(why, why_len, "profile %s names audience %s: "
			    "%s", p->name, p->audience, r ==
			    KDC_ERR_UNKNOWN_AUDIENCE ? "not registered "
			    "(iotkdc audience add)" : kdc_err_str(r));
		return r;
	}
	return KDC_OK;
}
