/*
 * user.c: people as principals (core/tdd.h). A user is the registry
 * device "user.NAME" with no manufacturer credential, a users row and its
 * groups; its client certificate is an operational credential of the
 * implicit audience "people" (KDC_AUDIENCE_PEOPLE), issued as a device's.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "core/core_int.h"
#include "core/tdd.h"
#include "crypto/crypto.h"

static bool
user_name_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > KDC_USER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i]) != NULL))
			return false;
	return true;
}

static bool
group_ok(const char *s, size_t n)
{
	if (n == 0 || n > KDC_GROUP_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i]) != NULL))
			return false;
	return true;
}

kdc_err
kdc_core_user_dev_id(struct kdc_core *core, const char *name, char *dev_id,
    size_t cap)
{
	(void)core;
	if (!user_name_ok(name) || cap < strlen(KDC_USER_PREFIX) +
	    strlen(name) + 1)
		return KDC_ERR_INVALID_ARG;
	snprintf(dev_id, cap, "%s%s", KDC_USER_PREFIX, name);
	return KDC_OK;
}

kdc_err
kdc_core_user_add(struct kdc_core *core, const char *actor, const char *name,
    const char *groups)
{
	struct kdc_store_tdd *h = NULL;
	struct kdc_device dev;
	char grp[KDC_GROUP_MAX + 1];
	const char *p, *e;
	kdc_err r;

	memset(&dev, 0, sizeof(dev));
	if ((r = kdc_core_user_dev_id(core, name, dev.dev_id,
	    sizeof(dev.dev_id))) != KDC_OK)
		goto refused;
	for (p = groups; p != NULL && *p != '\0'; p = e) {
		while (*p == ' ' || *p == ',')
			p++;
		for (e = p; *e != '\0' && *e != ' ' && *e != ','; e++)
			;
		if (e > p && !group_ok(p, (size_t)(e - p))) {
			r = KDC_ERR_INVALID_ARG;
			goto refused;
		}
	}
	snprintf(dev.profile, sizeof(dev.profile), "default");
	dev.status = KDC_DEV_ACTIVE;
	dev.created = kdc_core_now(core);
	if ((r = kdc_store_tdd_open(core->st, &h)) != KDC_OK ||
	    (r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	if ((r = kdc_store_device_add(core->st, &dev)) != KDC_OK ||
	    (r = kdc_store_user_add(h, dev.id, name, dev.created)) != KDC_OK)
		goto rollback;
	for (p = groups; p != NULL && *p != '\0'; p = e) {
		while (*p == ' ' || *p == ',')
			p++;
		for (e = p; *e != '\0' && *e != ' ' && *e != ','; e++)
			;
		if (e == p)
			continue;
		memcpy(grp, p, (size_t)(e - p));
		grp[e - p] = '\0';
		if ((r = kdc_store_group_add(h, dev.id, grp)) != KDC_OK)
			goto rollback;
	}
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	kdc_store_tdd_close(h);
	(void)AUDIT(core, actor, "user.add", dev.dev_id, KDC_OK, "groups=%s",
	    groups != NULL ? groups : "");
	return KDC_OK;
rollback:
	kdc_store_rollback(core->st);
refused:
	kdc_store_tdd_close(h);
	(void)AUDIT(core, actor, "user.add", name != NULL ? name : "-", r,
	    "%s", kdc_err_str(r));
	return r;
}

kdc_err
kdc_core_users(struct kdc_core *core, kdc_user_fn fn, void *arg)
{
	struct kdc_store_tdd *h = NULL;
	kdc_err r;

	if ((r = kdc_store_tdd_open(core->st, &h)) != KDC_OK)
		return r;
	r = kdc_store_users(h, fn, arg);
	kdc_store_tdd_close(h);
	return r;
}

kdc_err
kdc_core_user_cert(struct kdc_core *core, const char *actor,
    const char *name, const uint8_t *csr, size_t csr_len, unsigned days,
    uint8_t **cert, size_t *cert_len)
{
	struct kdc_device *dev = NULL;
	const struct kdc_profile *p;
	struct kdc_profile prof;
	struct kdc_issued is;
	struct issuance iss;
	char dev_id[KDC_DEVID_MAX + 1];
	int64_t now = kdc_core_now(core), life;
	kdc_err r;

	*cert = NULL;
	*cert_len = 0;
	memset(&is, 0, sizeof(is));
	snprintf(dev_id, sizeof(dev_id), "%s", name != NULL ? name : "-");
	if (core->ca == NULL || days > 3650 ||
	    (r = kdc_core_user_dev_id(core, name, dev_id, sizeof(dev_id))) !=
	    KDC_OK) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = kdc_core_device_get(core, dev_id, &dev)) != KDC_OK)
		goto refused;
	if (dev->status == KDC_DEV_REVOKED) {
		r = KDC_ERR_REVOKED;
		goto refused;
	}
	if ((p = kdc_config_profile(core_cfg(core), dev->profile)) == NULL) {
		r = KDC_ERR_UNKNOWN_PROFILE;
		goto refused;
	}
	prof = *p;
	snprintf(prof.audience, sizeof(prof.audience), "%s",
	    KDC_AUDIENCE_PEOPLE);
	prof.cred_type = KDC_TYPE_X509;
	prof.est = false;
	life = (int64_t)(days != 0 ? days : 365) * 86400;
	if ((r = kdc_ca_sign_csr(core->ca, csr, csr_len, dev->dev_id, now,
	    now + life, &is)) != KDC_OK)
		goto refused;
	core_issuance_cert(&iss, dev, &prof, &is, now, now + life, ISSUE_NOW);
	iss.action = "user.cert";
	if ((r = core_issue(core, actor, &iss)) != KDC_OK)
		goto refused;
	*cert = is.cert;
	*cert_len = is.cert_len;
	is.cert = NULL;
	is.cert_len = 0;
	goto out;
refused:
	(void)AUDIT(core, actor, "user.cert", dev_id, r, "%s",
	    kdc_err_str(r));
out:
	kdc_issued_wipe(&is);
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_user_passwd(struct kdc_core *core, const char *actor,
    const char *name, const char *pw, size_t len)
{
	struct kdc_store_tdd *h = NULL;
	char hash[KDC_PW_HASH_MAX], dev_id[KDC_DEVID_MAX + 1], old[8];
	int64_t device = 0;
	kdc_err r;

	snprintf(dev_id, sizeof(dev_id), "%s", name != NULL ? name : "-");
	if ((r = kdc_core_user_dev_id(core, name, dev_id, sizeof(dev_id))) !=
	    KDC_OK || (r = kdc_pw_hash(pw, len, hash)) != KDC_OK)
		goto out;
	if ((r = kdc_store_tdd_open(core->st, &h)) != KDC_OK)
		goto out;
	r = kdc_store_user_pw_get(h, name, &device, old, sizeof(old));
	if (r == KDC_OK || r == KDC_ERR_TOO_LARGE)
		r = kdc_store_user_pw_set(h, device, hash);
	kdc_store_tdd_close(h);
out:
	kdc_wipe(hash, sizeof(hash));
	(void)AUDIT(core, actor, "user.passwd", dev_id, r, "%s",
	    r == KDC_OK ? "password set (HTTP basic)" : kdc_err_str(r));
	return r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
}

/* One hash to verify against for unknown names (made once). */
static char dummy_hash[KDC_PW_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
dummy_init(void)
{
	static const char fake[] = "not-a-user-password";

	if (kdc_pw_hash(fake, sizeof(fake) - 1, dummy_hash) != KDC_OK)
		dummy_hash[0] = '\0';
}

/* Logins verified lately: SHA-256 of the stored hash and the password
 * given, for BASIC_CACHE_S (a legacy client sends its password with
 * every request; Argon2id costs ~0.1 s and 64 MiB each time). A new
 * password changes the stored hash, so the entry no longer matches. */
#define BASIC_CACHE	32
#define BASIC_CACHE_S	60
static struct {
	uint8_t		 key[32];
	int64_t		 until;
} basic_cache[BASIC_CACHE];
static pthread_mutex_t basic_mu = PTHREAD_MUTEX_INITIALIZER;

static void
basic_key(const char *hash, const char *pw, size_t len, uint8_t key[32])
{
	uint8_t buf[KDC_PW_HASH_MAX + KDC_PW_MAX];
	size_t hl = strlen(hash);

	memcpy(buf, hash, hl);
	memcpy(buf + hl, pw, len);
	kdc_sha256(buf, hl + len, key);
	kdc_wipe(buf, sizeof(buf));
}

static bool
basic_cached(const uint8_t key[32], int64_t now)
{
	bool hit = false;

	pthread_mutex_lock(&basic_mu);
	for (size_t i = 0; i < BASIC_CACHE && !hit; i++)
		hit = basic_cache[i].until > now &&
		    kdc_ct_equal(basic_cache[i].key, key, 32);
	pthread_mutex_unlock(&basic_mu);
	return hit;
}

static void
basic_keep(const uint8_t key[32], int64_t now)
{
	size_t oldest = 0;

	pthread_mutex_lock(&basic_mu);
	for (size_t i = 1; i < BASIC_CACHE; i++)
		if (basic_cache[i].until < basic_cache[oldest].until)
			oldest = i;
	memcpy(basic_cache[oldest].key, key, 32);
	basic_cache[oldest].until = now + BASIC_CACHE_S;
	pthread_mutex_unlock(&basic_mu);
}

kdc_err
kdc_core_user_basic(struct kdc_core *core, const char *name, const char *pw,
    size_t len, struct kdc_principal *who)
{
	struct kdc_store_tdd *h = NULL;
	struct kdc_device *dev = NULL;
	char hash[KDC_PW_HASH_MAX];
	uint8_t key[32];
	int64_t device = 0;
	kdc_err r;

	memset(who, 0, sizeof(*who));
	if (!user_name_ok(name) || len > KDC_PW_MAX)
		return KDC_ERR_UNTRUSTED;
	if ((r = kdc_store_tdd_open(core->st, &h)) != KDC_OK)
		return r;
	r = kdc_store_user_pw_get(h, name, &device, hash, sizeof(hash));
	kdc_store_tdd_close(h);
	if (r == KDC_ERR_NOT_FOUND || (r == KDC_OK && hash[0] == '\0')) {
		/* as long as a known name's check: no user enumeration by
		 * timing */
		pthread_once(&dummy_once, dummy_init);
		(void)kdc_pw_verify(dummy_hash, pw, len);
		return KDC_ERR_UNTRUSTED;
	}
	if (r != KDC_OK)
		return r;
	basic_key(hash, pw, len, key);
	if (!basic_cached(key, kdc_core_now(core))) {
		if (!kdc_pw_verify(hash, pw, len)) {
			r = KDC_ERR_UNTRUSTED;
			goto out;
		}
		basic_keep(key, kdc_core_now(core));
	}
	if ((r = kdc_core_device_get_by_id(core, device, &dev)) != KDC_OK)
		goto out;
	if (dev->status == KDC_DEV_REVOKED) {
		r = KDC_ERR_REVOKED;
		goto out;
	}
	who->device = dev->id;
	snprintf(who->dev_id, sizeof(who->dev_id), "%s", dev->dev_id);
	who->kind = KDC_KIND_OPERATIONAL;
	snprintf(who->audience, sizeof(who->audience), "%s",
	    KDC_AUDIENCE_PEOPLE);
out:
	kdc_wipe(hash, sizeof(hash));
	kdc_wipe(key, sizeof(key));
	kdc_device_free(dev);
	return r;
}
