/*
 * ace.c: core's side of the ACE-OAuth Authorization Server (core/ace.h;
 * docs/design.md "ACE Authorization Server (core)"): resource servers,
 * grants, the token endpoint's decision and the token itself (a CWT,
 * COSE_Encrypt0 to the RS for symmetric PoP, COSE_Sign1 by the AS key for
 * asymmetric PoP), introspection, the TRL, and every token recorded
 * (store/ace.h) and audited. No key and no token in clear is logged,
 * audited or stored: a token is known by its cti and its RFC 9770 hash,
 * a refresh token by its SHA-256.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/wipe.h"
#include "core/ace.h"
#include "core/core_int.h"
#include "core/revoke.h"
#include "store/ace.h"

/* meta: the SHA-256 of the AS key's SPKI, set when a key is first loaded */
#define AS_KEY_META	"ace_as_key_spki_sha256"

#define ACE_ISS			"iotkdc"
#define ACE_CTI_LEN		16
#define ACE_KID_LEN		8
#define ACE_POP_KEY_LEN		16
#define ACE_IV_LEN		13
#define ACE_REFRESH_LEN		32
#define ACE_RS_KEY_LEN		16
#define SCOPE_TOKENS_MAX	16
#define SCOPE_TOKEN_MAX		64

_Static_assert(KDC_ACE_SCOPE_MAX == KDC_ACE_STORE_SCOPE_MAX,
    "core and store agree on the scope bound");
_Static_assert(ACE_REFRESH_LEN <= KDC_ACE_REFRESH_MAX, "refresh fits");

/* ---- small helpers ------------------------------------------------------- */

/* The AAD the RS key is wrapped under: its audience name, the row's
 * unique and immutable key. */
static size_t
rs_aad(const char *aud, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "ace-rs:%s", aud);

	return n < 0 ? 0 : (size_t)n;
}

/* The AAD a refresh row's symmetric PoP key is wrapped under. */
static size_t
pop_aad(const uint8_t *cti, size_t cti_len, char *buf, size_t cap)
{
	char hex[2 * KDC_ACE_CTI_MAX + 1];

	kdc_hex_encode(cti, cti_len, hex);
	return (size_t)snprintf(buf, cap, "ace-pop:%s", hex);
}

/*
 * Split a scope (RFC 6749 §3.3: scope-tokens separated by one space,
 * each %x21 / %x23-5B / %x5D-7E) into tok[], at most SCOPE_TOKENS_MAX of
 * at most SCOPE_TOKEN_MAX bytes. false if it is not one.
 */
static bool
scope_split(const char *s, size_t len, const char *tok[], size_t tlen[],
    size_t *n)
{
	size_t i = 0, start;

	*n = 0;
	if (len == 0 || len > KDC_ACE_SCOPE_MAX)
		return false;
	while (i < len) {
		start = i;
		while (i < len && s[i] != ' ') {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
				return false;
			i++;
		}
		if (i == start || i - start > SCOPE_TOKEN_MAX ||
		    *n == SCOPE_TOKENS_MAX)
			return false;
		tok[*n] = s + start;
		tlen[*n] = i - start;
		(*n)++;
		if (i < len) {
			i++;		/* the one space */
			if (i == len)
				return false;	/* trailing space */
		}
	}
	return true;
}

/* Is every token of want in have? Both valid scopes. */
static bool
scope_subset(const char *want, size_t wlen, const char *have, size_t hlen)
{
	const char *wt[SCOPE_TOKENS_MAX], *ht[SCOPE_TOKENS_MAX];
	size_t wl[SCOPE_TOKENS_MAX], hl[SCOPE_TOKENS_MAX], wn, hn;

	if (!scope_split(want, wlen, wt, wl, &wn) ||
	    !scope_split(have, hlen, ht, hl, &hn))
		return false;
	for (size_t i = 0; i < wn; i++) {
		bool found = false;

		for (size_t j = 0; j < hn && !found; j++)
			found = wl[i] == hl[j] && memcmp(wt[i], ht[j],
			    wl[i]) == 0;
		if (!found)
			return false;
	}
	return true;
}

bool
kdc_ace_scope_ok(const char *scope)
{
	const char *t[SCOPE_TOKENS_MAX];
	size_t l[SCOPE_TOKENS_MAX], n;

	return scope != NULL && scope_split(scope, strlen(scope), t, l, &n);
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding (RFC 4648 §5) of in into out (capacity
 * len * 4 / 3 + 4); returns the length. */
static size_t
b64url_encode(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];

		out[o++] = (uint8_t)b64url[v >> 18 & 63];
		out[o++] = (uint8_t)b64url[v >> 12 & 63];
		out[o++] = (uint8_t)b64url[v >> 6 & 63];
		out[o++] = (uint8_t)b64url[v & 63];
	}
	if (len - i == 1) {
		out[o++] = (uint8_t)b64url[in[i] >> 2];
		out[o++] = (uint8_t)b64url[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		out[o++] = (uint8_t)b64url[in[i] >> 2];
		out[o++] = (uint8_t)b64url[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = (uint8_t)b64url[(in[i + 1] & 15) << 2];
	}
	return o;
}

void
kdc_ace_token_hash(const uint8_t *token, size_t len,
    uint8_t out[KDC_ACE_TOKEN_HASH_LEN])
{
	uint8_t text[KDC_COSE_MSG_MAX * 4 / 3 + 4], *big;

	out[0] = 1;		/* RFC 6920 §9.4: sha-256 */
	if (len <= KDC_COSE_MSG_MAX) {
		kdc_sha256(text, b64url_encode(token, len, text), out + 1);
		return;
	}
	/* longer than anything we make: hashed all the same */
	if ((big = kdc_malloc(len / 3 * 4 + 4)) == NULL) {
		memset(out + 1, 0, 32);
		return;
	}
	kdc_sha256(big, b64url_encode(token, len, big), out + 1);
	kdc_free(big);
}

/* {1: COSE_Key} (RFC 8747 §3.2) into out. */
static kdc_err
cnf_key_encode(const struct kdc_cose_keyinfo *k, uint8_t *out, size_t cap,
    size_t *len)
{
	size_t n = cap > 2 ? cap - 2 : 0;
	kdc_err r;

	*len = 0;
	if (cap < 2)
		return KDC_ERR_TOO_LARGE;
	if ((r = kdc_cose_key_encode(k, out + 2, &n)) != KDC_OK)
		return r;
	out[0] = 0xa1;		/* map(1) */
	out[1] = 0x01;		/* COSE_Key */
	*len = n + 2;
	return KDC_OK;
}

/* {3: kid} (RFC 8747 §3.4), kid < 24 bytes. */
static size_t
cnf_kid_encode(const uint8_t *kid, size_t kid_len, uint8_t *out, size_t cap)
{
	if (kid_len >= 24 || cap < kid_len + 3)
		return 0;
	out[0] = 0xa1;
	out[1] = 0x03;
	out[2] = (uint8_t)(0x40 | kid_len);
	memcpy(out + 3, kid, kid_len);
	return kid_len + 3;
}

/* The AS key's kid: the first 8 bytes of SHA-256 of its SPKI. */
static kdc_err
as_kid(struct kdc_core *core, uint8_t kid[ACE_KID_LEN], uint8_t x[32],
    uint8_t y[32])
{
	uint8_t spki[128], d[32];
	size_t spki_len = sizeof(spki);
	kdc_err r;

	if (core->as_key == NULL)
		return KDC_ERR_NOT_FOUND;
	if ((r = kdc_as_key_pub(core->as_key, x, y, spki, &spki_len)) !=
	    KDC_OK)
		return r;
	kdc_sha256(spki, spki_len, d);
	memcpy(kid, d, ACE_KID_LEN);
	return KDC_OK;
}

static kdc_err
as_sign(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
    size_t *sig_len)
{
	kdc_err r;

	if (*sig_len < 64)
		return KDC_ERR_TOO_LARGE;
	if ((r = kdc_as_key_sign(arg, tbs, tbs_len, sig)) == KDC_OK)
		*sig_len = 64;
	return r;
}

/* The RS's shared key, unwrapped into key (16 bytes). NOT_FOUND if the
 * RS has none. */
static kdc_err
rs_key(struct kdc_core *core, const struct kdc_ace_rs_row *rs,
    uint8_t key[ACE_RS_KEY_LEN])
{
	char aad[KDC_NAME_MAX + 16];
	uint8_t *pt = NULL;
	size_t pt_len = 0, aad_len;
	kdc_err r;

	if (rs->key_wrapped == NULL)
		return KDC_ERR_NOT_FOUND;
	aad_len = rs_aad(rs->audience, aad, sizeof(aad));
	if ((r = kdc_unwrap(core->kr, aad, aad_len, rs->key_wrapped,
	    rs->key_wrapped_len, &pt, &pt_len)) != KDC_OK)
		return r;
	if (pt_len != ACE_RS_KEY_LEN)
		r = KDC_ERR_BAD_KEY;
	else
		memcpy(key, pt, ACE_RS_KEY_LEN);
	kdc_secret_free(pt, pt_len);
	return r;
}

/* ---- the AS key ---------------------------------------------------------- */

void
kdc_core_ace_set_key(struct kdc_core *core, struct kdc_as_key *key)
{
	if (core->as_key_owned)
		kdc_as_key_free(core->as_key);
	core->as_key = key;
	core->as_key_owned = false;
}

kdc_err
kdc_core_ace_key_load(struct kdc_core *core, const char *dir)
{
	const struct kdc_config *cfg = core_cfg(core);
	const char *url = strcmp(cfg->ace_key, "file") == 0 ? NULL :
	    cfg->ace_key;
	struct kdc_as_key *k = NULL;
	char *had = NULL, hex[65];
	uint8_t x[32], y[32], spki[96], fp[32];
	size_t spki_len = sizeof(spki);
	kdc_err r;

	r = kdc_as_key_load(dir, core->kr, url, &k);
	if (r == KDC_ERR_NOT_FOUND && url == NULL) {
		/* a data dir made before ACE: its AS key, made now; not one
		 * whose store names a key it had (the tokens that key signed
		 * would stop verifying, silently) */
		if ((r = kdc_store_meta_get(core->st, AS_KEY_META, &had)) ==
		    KDC_OK) {
			kdc_free(had);
			return KDC_ERR_NOT_FOUND;
		}
		if (r != KDC_ERR_NOT_FOUND)
			return r;
		if ((r = kdc_as_key_create(dir, core->kr)) != KDC_OK &&
		    r != KDC_ERR_EXISTS)
			return r;
		if (r == KDC_OK)
			kdc_log_info("made the ACE AS key %s/as.key (this "
			    "data dir predates ACE)", dir);
		r = kdc_as_key_load(dir, core->kr, NULL, &k);
	}
	if (r != KDC_OK)
		return r;
	/* the store remembers the key's fingerprint: a missing as.key is
	 * refused above, not made again; another one (a deliberate change)
	 * is taken and logged */
	if ((r = kdc_as_key_pub(k, x, y, spki, &spki_len)) != KDC_OK) {
		kdc_as_key_free(k);
		return r;
	}
	kdc_sha256(spki, spki_len, fp);
	kdc_hex_encode(fp, sizeof(fp), hex);
	if ((r = kdc_store_meta_get(core->st, AS_KEY_META, &had)) ==
	    KDC_ERR_NOT_FOUND)
		r = kdc_store_meta_set(core->st, AS_KEY_META, hex);
	else if (r == KDC_OK && strcmp(had, hex) != 0) {
		kdc_log_warn("the ACE AS key is not the one this data dir had:"
		    " tokens signed before no longer verify");
		r = kdc_store_meta_set(core->st, AS_KEY_META, hex);
	}
	kdc_free(had);
	if (r != KDC_OK) {
		kdc_as_key_free(k);
		return r;
	}
	kdc_core_ace_set_key(core, k);
	core->as_key_owned = true;
	return KDC_OK;
}

kdc_err
kdc_core_ace_as_pubkey(struct kdc_core *core, uint8_t *cose_key,
    size_t *cose_key_len, uint8_t *spki, size_t *spki_len)
{
	struct kdc_cose_keyinfo ki;
	uint8_t kid[ACE_KID_LEN], x[32], y[32];
	kdc_err r;

	if ((r = as_kid(core, kid, x, y)) != KDC_OK)
		return r;
	if (spki != NULL && (r = kdc_as_key_pub(core->as_key, x, y, spki,
	    spki_len)) != KDC_OK)
		return r;
	if (cose_key == NULL)
		return KDC_OK;
	memset(&ki, 0, sizeof(ki));
	ki.kty = KDC_COSE_KTY_EC2;
	ki.crv = KDC_COSE_CRV_P256;
	ki.alg = KDC_COSE_ALG_ES256;
	ki.kid = kid;
	ki.kid_len = sizeof(kid);
	ki.x = x;
	ki.x_len = 32;
	ki.y = y;
	ki.y_len = 32;
	return kdc_cose_key_encode(&ki, cose_key, cose_key_len);
}

/* ---- administration ------------------------------------------------------ */

kdc_err
kdc_core_ace_rs_add(struct kdc_core *core, const char *actor,
    const char *aud, const uint8_t *key, size_t key_len,
    const uint8_t *spki, size_t spki_len, int profile)
{
	struct kdc_ace_rs_row rs;
	struct kdc_audience a;
	char aad[KDC_NAME_MAX + 16];
	const char *subject = aud != NULL && core_name_ok(aud) ? aud : "?";
	bool begun = false;
	kdc_err r;

	memset(&rs, 0, sizeof(rs));
	if (aud == NULL || !core_name_ok(aud) ||
	    strcmp(aud, KDC_AUDIENCE_BUILTIN) == 0 ||
	    (key == NULL && spki == NULL) ||
	    (key != NULL && key_len != ACE_RS_KEY_LEN) ||
	    profile != KDC_ACE_PROFILE_COAP_DTLS) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if (spki != NULL && ((r = kdc_spki_check(spki, spki_len, NULL)) !=
	    KDC_OK || (r = kdc_spki_p256_xy(spki, spki_len, NULL, NULL)) !=
	    KDC_OK)) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	snprintf(rs.audience, sizeof(rs.audience), "%s", aud);
	rs.profile = profile;
	rs.created = kdc_core_now(core);
	if (key != NULL && (r = kdc_wrap(core->kr, aad, rs_aad(aud, aad,
	    sizeof(aad)), key, key_len, &rs.key_wrapped,
	    &rs.key_wrapped_len)) != KDC_OK)
		goto refused;
	rs.spki = (uint8_t *)(uintptr_t)spki;
	rs.spki_len = spki != NULL ? spki_len : 0;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	begun = true;
	/* the audience: made here, or one registered before as an ace-rs
	 * (`iotkdc audience add NAME --kind ace-rs --uri ...`) */
	r = kdc_store_audience_get(core->st, aud, &a);
	if (r == KDC_ERR_NOT_FOUND) {
		memset(&a, 0, sizeof(a));
		snprintf(a.name, sizeof(a.name), "%s", aud);
		a.kind = KDC_AUD_ACE_RS;
		a.created = rs.created;
		r = kdc_store_audience_add(core->st, &a);
	} else if (r == KDC_OK && a.kind != KDC_AUD_ACE_RS)
		r = KDC_ERR_EXISTS;
	if (r != KDC_OK || (r = kdc_store_ace_rs_add(core->st, &rs)) !=
	    KDC_OK ||
	    (r = AUDIT(core, actor, "ace.rs.add", aud, KDC_OK,
	    "profile=%d key=%s pubkey=%s", profile, key != NULL ? "yes" :
	    "no", spki != NULL ? "yes" : "no")) != KDC_OK)
		goto refused;
	begun = false;
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	kdc_free(rs.key_wrapped);
	return KDC_OK;
refused:
	if (begun)
		kdc_store_rollback(core->st);
	kdc_free(rs.key_wrapped);
	(void)AUDIT(core, actor, "ace.rs.add", subject, r, "%s",
	    kdc_err_str(r));
	return r;
}

kdc_err
kdc_core_ace_rs_list(struct kdc_core *core, kdc_ace_rs_fn fn, void *arg)
{
	struct kdc_ace_rs_row **v = NULL;
	struct kdc_ace_rs_info info;
	size_t n = 0;
	kdc_err r;

	if ((r = kdc_store_ace_rs_list(core->st, &v, &n)) != KDC_OK)
		return r;
	for (size_t i = 0; i < n && r == KDC_OK; i++) {
		memset(&info, 0, sizeof(info));
		snprintf(info.audience, sizeof(info.audience), "%s",
		    v[i]->audience);
		info.profile = v[i]->profile;
		info.has_key = v[i]->key_wrapped != NULL;
		info.has_pubkey = v[i]->spki != NULL;
		info.created = v[i]->created;
		r = fn(arg, &info);
	}
	kdc_ace_rs_list_free(v, n);
	return r;
}

/* Revoke grant g (its tokens with it) in the caller's transaction. */
static kdc_err
grant_revoke_txn(struct kdc_core *core, int64_t id, size_t *n)
{
	kdc_err r;

	if ((r = kdc_store_ace_grant_revoke(core->st, id, kdc_core_now(core),
	    n)) != KDC_OK)
		return r;
	return core_crl_gen_bump(core);
}

kdc_err
kdc_core_ace_grant(struct kdc_core *core, const char *actor,
    const char *client, const char *aud, const char *scopes, bool refresh)
{
	struct kdc_device *dev = NULL;
	struct kdc_ace_rs_row *rs = NULL;
	struct kdc_ace_grant_row g, old;
	const char *subject = client != NULL && strlen(client) <=
	    KDC_DEVID_MAX ? client : "?";
	size_t revoked = 0;
	bool begun = false, replaced = false;
	kdc_err r;

	memset(&g, 0, sizeof(g));
	if (client == NULL || aud == NULL || !core_name_ok(aud)) {
		r = client == NULL ? KDC_ERR_UNKNOWN_DEVICE :
		    KDC_ERR_UNKNOWN_AUDIENCE;
		goto refused;
	}
	if (scopes == NULL || !kdc_ace_scope_ok(scopes)) {
		r = KDC_ERR_INVALID_ARG;
		goto refused;
	}
	if ((r = kdc_core_device_get(core, client, &dev)) != KDC_OK)
		goto refused;
	if (dev->status == KDC_DEV_REVOKED) {
		r = KDC_ERR_REVOKED;
		goto refused;
	}
	if ((r = kdc_store_ace_rs_get(core->st, aud, &rs)) != KDC_OK) {
		if (r == KDC_ERR_NOT_FOUND)
			r = KDC_ERR_UNKNOWN_AUDIENCE;
		goto refused;
	}
	g.device = dev->id;
	snprintf(g.audience, sizeof(g.audience), "%s", aud);
	snprintf(g.scopes, sizeof(g.scopes), "%s", scopes);
	g.refresh = refresh;
	g.created = kdc_core_now(core);
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	begun = true;
	/* a second grant replaces the first: the first is revoked with its
	 * tokens (they may hold scopes the new one no longer gives) */
	r = kdc_store_ace_grant_get(core->st, dev->id, aud, &old);
	if (r == KDC_OK) {
		replaced = true;
		r = grant_revoke_txn(core, old.id, &revoked);
	} else if (r == KDC_ERR_NOT_FOUND)
		r = KDC_OK;
	if (r != KDC_OK || (r = kdc_store_ace_grant_add(core->st, &g)) !=
	    KDC_OK ||
	    (r = AUDIT(core, actor, "ace.grant", client, KDC_OK,
	    "aud=%s scope=\"%s\" refresh=%s%s", aud, scopes, refresh ? "yes" :
	    "no", replaced ? " replaced the previous grant" : "")) != KDC_OK)
		goto refused;
	begun = false;
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	(void)revoked;
	goto out;
refused:
	if (begun)
		kdc_store_rollback(core->st);
	(void)AUDIT(core, actor, "ace.grant", subject, r, "aud=%s %s",
	    aud != NULL && core_name_ok(aud) ? aud : "?", kdc_err_str(r));
out:
	kdc_device_free(dev);
	kdc_ace_rs_row_free(rs);
	return r;
}

kdc_err
kdc_core_ace_grant_revoke(struct kdc_core *core, const char *actor,
    const char *client, const char *aud)
{
	struct kdc_device *dev = NULL;
	struct kdc_ace_grant_row g;
	const char *subject = client != NULL && strlen(client) <=
	    KDC_DEVID_MAX ? client : "?";
	size_t n = 0;
	bool begun = false;
	kdc_err r;

	if (client == NULL || aud == NULL || !core_name_ok(aud)) {
		r = KDC_ERR_NOT_FOUND;
		goto refused;
	}
	if ((r = kdc_core_device_get(core, client, &dev)) != KDC_OK)
		goto refused;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	begun = true;
	if ((r = kdc_store_ace_grant_get(core->st, dev->id, aud, &g)) !=
	    KDC_OK || (r = grant_revoke_txn(core, g.id, &n)) != KDC_OK ||
	    (r = AUDIT(core, actor, "ace.grant.revoke", client, KDC_OK,
	    "aud=%s tokens revoked=%zu", aud, n)) != KDC_OK)
		goto refused;
	begun = false;
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	goto out;
refused:
	if (begun)
		kdc_store_rollback(core->st);
	(void)AUDIT(core, actor, "ace.grant.revoke", subject, r, "aud=%s %s",
	    aud != NULL && core_name_ok(aud) ? aud : "?", kdc_err_str(r));
out:
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_ace_token_revoke(struct kdc_core *core, const char *actor,
    const char *cti_hex)
{
	uint8_t cti[KDC_ACE_CTI_MAX];
	size_t cti_len = sizeof(cti);
	bool begun = false;
	kdc_err r;

	if (cti_hex == NULL || strlen(cti_hex) != 2 * ACE_CTI_LEN ||
	    kdc_hex_decode(cti_hex, strlen(cti_hex), cti, &cti_len) !=
	    KDC_OK) {
		r = KDC_ERR_NOT_FOUND;
		goto refused;
	}
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		goto refused;
	begun = true;
	if ((r = kdc_store_ace_token_revoke(core->st, cti, cti_len,
	    kdc_core_now(core))) != KDC_OK ||
	    (r = core_crl_gen_bump(core)) != KDC_OK ||
	    (r = AUDIT(core, actor, "ace.token.revoke", cti_hex, KDC_OK,
	    "revoked")) != KDC_OK)
		goto refused;
	begun = false;
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	return KDC_OK;
refused:
	if (begun)
		kdc_store_rollback(core->st);
	(void)AUDIT(core, actor, "ace.token.revoke", cti_hex != NULL &&
	    strlen(cti_hex) == 2 * ACE_CTI_LEN ? cti_hex : "?", r, "%s",
	    kdc_err_str(r));
	return r;
}

kdc_err
core_ace_device_revoked(struct kdc_core *core, int64_t device)
{
	return kdc_store_ace_tokens_revoke_device(core->st, device,
	    kdc_core_now(core), NULL);
}

kdc_err
kdc_core_ace_tokens(struct kdc_core *core, bool active_only,
    kdc_ace_token_fn fn, void *arg)
{
	struct kdc_ace_token_rec *v = NULL;
	struct kdc_ace_token_row row;
	size_t n = 0;
	kdc_err r;

	if ((r = kdc_store_ace_token_list(core->st, active_only,
	    kdc_core_now(core), &v, &n)) != KDC_OK)
		return r;
	for (size_t i = 0; i < n && r == KDC_OK; i++) {
		memset(&row, 0, sizeof(row));
		kdc_hex_encode(v[i].cti, v[i].cti_len, row.cti_hex);
		snprintf(row.client, sizeof(row.client), "%s", v[i].client);
		snprintf(row.audience, sizeof(row.audience), "%s",
		    v[i].audience);
		snprintf(row.scope, sizeof(row.scope), "%s", v[i].scope);
		snprintf(row.kind, sizeof(row.kind), "%s",
		    v[i].kind == KDC_ACE_REFRESH ? "refresh" : "access");
		snprintf(row.pop, sizeof(row.pop), "%s",
		    v[i].pop == KDC_ACE_POP_ASYMMETRIC ? "asymmetric" :
		    "symmetric");
		kdc_hex_encode(v[i].pop_kid, v[i].pop_kid_len,
		    row.pop_kid_hex);
		row.iat = v[i].iat;
		row.exp = v[i].exp;
		row.revoked_at = v[i].revoked_at;
		r = fn(arg, &row);
	}
	kdc_wipe(v, n * sizeof(*v));
	kdc_free(v);
	return r;
}

/* ---- the token endpoint -------------------------------------------------- */

void
kdc_ace_token_resp_wipe(struct kdc_ace_token_resp *resp)
{
	if (resp != NULL)
		kdc_wipe(resp, sizeof(*resp));
}

/* What one token request decided, between the steps. */
struct treq {
	char			 aud[KDC_NAME_MAX + 1];
	char			 scope[KDC_ACE_SCOPE_MAX + 1];
	struct kdc_ace_rs_row	*rs;
	struct kdc_ace_grant_row grant;
	enum kdc_ace_pop	 pop;
	uint8_t			 pop_key[ACE_POP_KEY_LEN];	/* symmetric: secret */
	uint8_t			 kid[ACE_KID_LEN];
	uint8_t			 x[32], y[32];			/* asymmetric */
	struct kdc_ace_token_rec old;	/* refresh: the refresh token used */
	bool			 refreshing;
	bool			 cached;	/* a row came from the cache */
	const char		*why;
	char			 authz_why[160];
};

static kdc_err
refuse(struct treq *t, struct kdc_ace_token_resp *resp, int error,
    const char *why)
{
	resp->error = error;
	resp->error_description = why;
	t->why = why;
	return KDC_ERR_DENIED;
}

/* The client's P-256 point, if it authenticated with a key. */
static bool
client_point(const struct kdc_principal *client, uint8_t x[32],
    uint8_t y[32])
{
	return client->spki_len > 0 && kdc_spki_p256_xy(client->spki,
	    client->spki_len, x, y) == KDC_OK;
}

/* Is (ax, ay) the point (bx, by)? Both coordinates always compared: one
 * check, so that no caller can drop half of it. */
static bool
point_eq(const uint8_t ax[32], const uint8_t ay[32], const uint8_t bx[32],
    const uint8_t by[32])
{
	/* & on purpose (both compared, no branch); as integers, so clang's
	 * -Wbitwise-instead-of-logical does not take it for a typo */
	return ((unsigned)kdc_ct_equal(ax, bx, 32) &
	    (unsigned)kdc_ct_equal(ay, by, 32)) != 0;
}

/* req_cnf of a client_credentials request: the PoP kind and key. */
static kdc_err
pop_choose(const struct kdc_principal *client,
    const struct kdc_ace_token_req *req, struct treq *t,
    struct kdc_ace_token_resp *resp)
{
	const struct kdc_cose_keyinfo *k = &req->req_cnf.key;
	uint8_t cx[32], cy[32];

	switch (req->req_cnf.kind) {
	case KDC_CNF_NONE:
		if (t->rs->key_wrapped == NULL)
			return refuse(t, resp, KDC_ACE_UNSUPPORTED_POP_KEY,
			    "the RS takes no symmetric PoP (no shared key)");
		t->pop = KDC_ACE_POP_SYMMETRIC;
		return KDC_OK;
	case KDC_CNF_COSE_KEY:
		break;
	default:
		return refuse(t, resp, KDC_ACE_UNSUPPORTED_POP_KEY,
		    "req_cnf: only a COSE_Key or none");
	}
	if (k->kty == KDC_COSE_KTY_SYMMETRIC)
		return refuse(t, resp, KDC_ACE_UNSUPPORTED_POP_KEY,
		    "req_cnf: a symmetric key is not accepted");
	if (k->kty != KDC_COSE_KTY_EC2 || k->crv != KDC_COSE_CRV_P256 ||
	    k->x == NULL || k->x_len != 32 || k->y == NULL || k->y_len != 32 ||
	    k->d != NULL)
		return refuse(t, resp, KDC_ACE_UNSUPPORTED_POP_KEY,
		    "req_cnf: only an EC2 P-256 public key");
	if (!client_point(client, cx, cy))
		return refuse(t, resp, KDC_ACE_INVALID_REQUEST,
		    "no proof of possession of the req_cnf key (the client "
		    "did not authenticate with a key)");
	if (!point_eq(cx, cy, k->x, k->y))
		return refuse(t, resp, KDC_ACE_INVALID_REQUEST,
		    "no proof of possession of the req_cnf key (not the "
		    "key the client authenticated with)");
	t->pop = KDC_ACE_POP_ASYMMETRIC;
	memcpy(t->x, k->x, 32);
	memcpy(t->y, k->y, 32);
	return KDC_OK;
}

/*
 * A random PoP kid with no 0x00 byte: the client presents it as its DTLS
 * psk_identity (RFC 9202 §3.3), and GnuTLS and OpenSSL take identities
 * as C strings, so a 0x00 would cut it short (docs/traps.md; 3 % of
 * 8-byte random kids had one). 255^8 kids remain.
 */
static kdc_err
pop_kid_make(uint8_t kid[ACE_KID_LEN])
{
	kdc_err r;

	if ((r = kdc_random(kid, ACE_KID_LEN)) != KDC_OK)
		return r;
	for (size_t i = 0; i < ACE_KID_LEN; i++)
		while (kid[i] == 0)
			if ((r = kdc_random(&kid[i], 1)) != KDC_OK)
				return r;
	return KDC_OK;
}

/*
 * A new cti: 8 bytes of the wall clock in microseconds (big-endian) and
 * 8 random bytes. Unique by its random half alone; the time half puts
 * each new row at the end of the ace_tokens primary key index, one hot
 * page, where 16 random bytes sent every insert to a random leaf (a page
 * read once the index outgrew SQLite's cache, and one more page written
 * per commit). Nothing is told that iat does not tell already.
 */
static kdc_err
cti_make(uint8_t cti[ACE_CTI_LEN])
{
	struct timespec ts;
	uint64_t us;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	for (int i = 7; i >= 0; i--, us >>= 8)
		cti[i] = (uint8_t)us;
	return kdc_random(cti + 8, ACE_CTI_LEN - 8);
}

/* A refresh_token request: the refresh token, its grant, its PoP key. */
static kdc_err
refresh_find(struct kdc_core *core, const struct kdc_principal *client,
    const struct kdc_ace_token_req *req, struct treq *t,
    struct kdc_ace_token_resp *resp)
{
	uint8_t h[32];
	char aad[64];
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	kdc_err r;

	if (req->refresh == NULL || req->refresh_len != ACE_REFRESH_LEN)
		return refuse(t, resp, KDC_ACE_INVALID_GRANT,
		    "no valid refresh token");
	kdc_sha256(req->refresh, req->refresh_len, h);
	r = kdc_store_ace_token_by_hash(core->st, h, sizeof(h), &t->old);
	if (r == KDC_ERR_NOT_FOUND || (r == KDC_OK &&
	    t->old.kind != KDC_ACE_REFRESH))
		return refuse(t, resp, KDC_ACE_INVALID_GRANT,
		    "unknown refresh token");
	if (r != KDC_OK)
		return r;
	t->refreshing = true;
	if (t->old.device != client->device)
		return refuse(t, resp, KDC_ACE_INVALID_GRANT,
		    "the refresh token belongs to another client");
	if (t->old.revoked_at != 0)
		return refuse(t, resp, KDC_ACE_INVALID_GRANT,
		    "the refresh token is revoked (or was used already)");
	if (t->old.exp <= kdc_core_now(core))
		return refuse(t, resp, KDC_ACE_INVALID_GRANT,
		    "the refresh token has expired");
	if (req->audience_len > 0 && (req->audience_len !=
	    strlen(t->old.audience) || memcmp(req->audience,
	    t->old.audience, req->audience_len) != 0))
		return refuse(t, resp, KDC_ACE_INVALID_REQUEST,
		    "a refresh may not change the audience");
	snprintf(t->aud, sizeof(t->aud), "%s", t->old.audience);
	t->pop = t->old.pop;
	if (t->old.pop_kid_len == ACE_KID_LEN)
		memcpy(t->kid, t->old.pop_kid, ACE_KID_LEN);
	if (t->pop == KDC_ACE_POP_ASYMMETRIC) {
		if (t->old.pop_key_len != 64)
			return KDC_ERR_STORE_CORRUPT;
		memcpy(t->x, t->old.pop_key, 32);
		memcpy(t->y, t->old.pop_key + 32, 32);
		/* the same key, and the client still holds it */
		if (req->req_cnf.kind != KDC_CNF_NONE &&
		    (req->req_cnf.kind != KDC_CNF_COSE_KEY ||
		    req->req_cnf.key.x_len != 32 ||
		    req->req_cnf.key.y_len != 32 ||
		    !point_eq(req->req_cnf.key.x, req->req_cnf.key.y, t->x,
		    t->y)))
			return refuse(t, resp, KDC_ACE_INVALID_REQUEST,
			    "a refresh may not change the PoP key");
		{
			uint8_t cx[32], cy[32];

			if (!client_point(client, cx, cy) ||
			    !point_eq(cx, cy, t->x, t->y))
				return refuse(t, resp,
				    KDC_ACE_INVALID_REQUEST,
				    "no proof of possession of the PoP key");
		}
	} else {
		if (req->req_cnf.kind != KDC_CNF_NONE)
			return refuse(t, resp, KDC_ACE_INVALID_REQUEST,
			    "a refresh may not change the PoP key");
		if ((r = kdc_unwrap(core->kr, aad, pop_aad(t->old.cti,
		    t->old.cti_len, aad, sizeof(aad)), t->old.pop_key,
		    t->old.pop_key_len, &pt, &pt_len)) != KDC_OK)
			return r;
		if (pt_len != ACE_POP_KEY_LEN) {
			kdc_secret_free(pt, pt_len);
			return KDC_ERR_BAD_KEY;
		}
		memcpy(t->pop_key, pt, ACE_POP_KEY_LEN);
		kdc_secret_free(pt, pt_len);
	}
	if ((r = kdc_store_ace_grant_get_id(core->st, t->old.grant,
	    &t->grant)) == KDC_ERR_NOT_FOUND || (r == KDC_OK &&
	    t->grant.revoked_at != 0))
		return refuse(t, resp, KDC_ACE_INVALID_GRANT,
		    "the grant was revoked");
	return r;
}

/* The claims, the COSE message, the response's cnf. */
static kdc_err
token_make(struct kdc_core *core, const struct kdc_ace_token_req *req,
    struct treq *t, const uint8_t cti[ACE_CTI_LEN], int64_t iat,
    int64_t exp, struct kdc_ace_token_resp *resp)
{
	struct kdc_cwt c;
	struct kdc_cose_hdr_opts o = { .tag = true, .cwt_tag = true };
	uint8_t claims[KDC_COSE_MSG_MAX], rskey[ACE_RS_KEY_LEN],
	    iv[ACE_IV_LEN], askid[ACE_KID_LEN], ax[32], ay[32];
	size_t claims_len = sizeof(claims);
	kdc_err r;

	memset(&c, 0, sizeof(c));
	c.has = KDC_CWT_ISS | KDC_CWT_AUD | KDC_CWT_EXP | KDC_CWT_IAT |
	    KDC_CWT_CTI | KDC_CWT_SCOPE | KDC_CWT_CNF;
	c.iss = ACE_ISS;
	c.iss_len = strlen(ACE_ISS);
	c.aud = t->aud;
	c.aud_len = strlen(t->aud);
	c.exp = exp;
	c.iat = iat;
	c.cti = cti;
	c.cti_len = ACE_CTI_LEN;
	c.scope = (const uint8_t *)t->scope;
	c.scope_len = strlen(t->scope);
	c.scope_text = true;
	c.cnf.kind = KDC_CNF_COSE_KEY;
	if (req->profile_asked) {
		c.has |= KDC_CWT_PROFILE;
		c.ace_profile = t->rs->profile;
	}
	if (req->cnonce != NULL && req->cnonce_len > 0) {
		c.has |= KDC_CWT_CNONCE;
		c.cnonce = req->cnonce;
		c.cnonce_len = req->cnonce_len;
	}
	if (t->pop == KDC_ACE_POP_SYMMETRIC) {
		c.cnf.key.kty = KDC_COSE_KTY_SYMMETRIC;
		c.cnf.key.kid = t->kid;
		c.cnf.key.kid_len = ACE_KID_LEN;
		c.cnf.key.k = t->pop_key;
		c.cnf.key.k_len = ACE_POP_KEY_LEN;
	} else {
		c.cnf.key.kty = KDC_COSE_KTY_EC2;
		c.cnf.key.crv = KDC_COSE_CRV_P256;
		c.cnf.key.x = t->x;
		c.cnf.key.x_len = 32;
		c.cnf.key.y = t->y;
		c.cnf.key.y_len = 32;
	}
	if ((r = kdc_cwt_encode(&c, claims, &claims_len)) != KDC_OK)
		goto out;
	resp->access_token_len = sizeof(resp->access_token);
	if (t->pop == KDC_ACE_POP_SYMMETRIC) {
		struct kdc_cose_key key;

		if ((r = rs_key(core, t->rs, rskey)) != KDC_OK ||
		    (r = kdc_random(iv, sizeof(iv))) != KDC_OK)
			goto out;
		memset(&key, 0, sizeof(key));
		key.alg = KDC_COSE_ALG_CCM_16_64_128;
		key.k = rskey;
		key.k_len = sizeof(rskey);
		if ((r = kdc_cose_encrypt0_encode(&key, &o, iv, sizeof(iv),
		    claims, claims_len, NULL, 0, resp->access_token,
		    &resp->access_token_len)) != KDC_OK)
			goto out;
		if ((r = cnf_key_encode(&c.cnf.key, resp->cnf,
		    sizeof(resp->cnf), &resp->cnf_len)) != KDC_OK)
			goto out;
	} else {
		struct kdc_cose_signer s;

		if ((r = as_kid(core, askid, ax, ay)) != KDC_OK) {
			if (r == KDC_ERR_NOT_FOUND)
				r = KDC_ERR_CONFIG;	/* no AS key loaded */
			goto out;
		}
		memset(&s, 0, sizeof(s));
		s.alg = KDC_COSE_ALG_ES256;
		s.fn = as_sign;
		s.arg = core->as_key;
		s.key.alg = KDC_COSE_ALG_ES256;
		s.key.kid = askid;
		s.key.kid_len = sizeof(askid);
		o.kid_protected = true;
		if ((r = kdc_cose_sign1_encode(&s, &o, claims, claims_len,
		    NULL, 0, resp->access_token,
		    &resp->access_token_len)) != KDC_OK)
			goto out;
		if (t->rs->spki != NULL) {
			struct kdc_cose_keyinfo rk;
			uint8_t rx[32], ry[32];

			if ((r = kdc_spki_p256_xy(t->rs->spki, t->rs->spki_len,
			    rx, ry)) != KDC_OK)
				goto out;
			memset(&rk, 0, sizeof(rk));
			rk.kty = KDC_COSE_KTY_EC2;
			rk.crv = KDC_COSE_CRV_P256;
			rk.x = rx;
			rk.x_len = 32;
			rk.y = ry;
			rk.y_len = 32;
			if ((r = cnf_key_encode(&rk, resp->rs_cnf,
			    sizeof(resp->rs_cnf), &resp->rs_cnf_len)) !=
			    KDC_OK)
				goto out;
		}
	}
out:
	kdc_wipe(claims, sizeof(claims));
	kdc_wipe(rskey, sizeof(rskey));
	return r;
}

/* The refresh token row for pop of t (its key wrapped under its cti). */
static kdc_err
refresh_rec(struct kdc_core *core, const struct kdc_principal *client,
    struct treq *t, const uint8_t refresh[ACE_REFRESH_LEN], int64_t iat,
    struct kdc_ace_token_rec *rec)
{
	char aad[64];
	uint8_t *w = NULL;
	size_t w_len = 0;
	kdc_err r;

	memset(rec, 0, sizeof(*rec));
	if ((r = cti_make(rec->cti)) != KDC_OK)
		return r;
	rec->cti_len = ACE_CTI_LEN;
	rec->device = client->device;
	snprintf(rec->client, sizeof(rec->client), "%s", client->dev_id);
	rec->grant = t->grant.id;
	snprintf(rec->audience, sizeof(rec->audience), "%s", t->aud);
	snprintf(rec->scope, sizeof(rec->scope), "%s", t->grant.scopes);
	rec->kind = KDC_ACE_REFRESH;
	rec->pop = t->pop;
	kdc_sha256(refresh, ACE_REFRESH_LEN, rec->hash);
	rec->hash_len = 32;
	rec->iat = iat;
	rec->exp = iat + core_cfg(core)->ace_refresh_lifetime;
	if (t->pop == KDC_ACE_POP_SYMMETRIC) {
		memcpy(rec->pop_kid, t->kid, ACE_KID_LEN);
		rec->pop_kid_len = ACE_KID_LEN;
		if ((r = kdc_wrap(core->kr, aad, pop_aad(rec->cti,
		    rec->cti_len, aad, sizeof(aad)), t->pop_key,
		    ACE_POP_KEY_LEN, &w, &w_len)) != KDC_OK)
			return r;
		if (w_len > sizeof(rec->pop_key)) {
			kdc_free(w);
			return KDC_ERR_TOO_LARGE;
		}
		memcpy(rec->pop_key, w, w_len);
		rec->pop_key_len = w_len;
		kdc_free(w);
	} else {
		memcpy(rec->pop_key, t->x, 32);
		memcpy(rec->pop_key + 32, t->y, 32);
		rec->pop_key_len = 64;
	}
	return KDC_OK;
}

/*
 * Enter the token request's write transaction (once: *begun) and read the
 * revocation generation in it. When it is not the one the core's cache of
 * policy rows (ace_cache.c) was filled at, the cache is dropped, and
 * *restart says the request used a row from it: decide again, from the
 * store, in this transaction.
 *
 * Why a row kept under generation G is still the store's row when this
 * transaction reads G again (and so the decision made from it is the one
 * the store would give now, with no read):
 *  - rows are put in the cache only from reads made inside a write
 *    transaction that read G first (the steps below call this before any
 *    read), so each was the committed row at G;
 *  - every change that can turn a usable principal, RS or grant unusable
 *    bumps the generation in its own transaction: a credential revoked
 *    or superseded, a device revoked or deleted (registry.c, issue.c), a
 *    grant revoked or replaced (grant_revoke_txn), a token revoked; a
 *    credential that expires does so at its not_after, which the cache
 *    keeps and checks against the clock. RS rows and grant scopes never
 *    change in place (a grant is replaced: revoked, then a new row);
 *  - what is not counted only adds (an RS registered, a first grant): the
 *    cache keeps no refusal, so those are read at the next request;
 *  - the generation is read while this transaction holds the write lock,
 *    and the token's row is written in the same transaction: no
 *    revocation can commit between the check and the record. (Without the
 *    cache the rows were read before BEGIN, outside it.)
 * A generation another process moved (the CLI's `ace revoke-grant`,
 * `device revoke`) is seen by the next request of every core: tested by
 * test_ace_cache.c with a second store handle on the same file.
 */
static kdc_err
tok_begin(struct kdc_core *core, struct treq *t, bool *begun, bool *restart)
{
	int64_t gen;
	kdc_err r;

	*restart = false;
	if (*begun)
		return KDC_OK;
	if ((r = kdc_store_begin(core->st)) != KDC_OK)
		return r;
	*begun = true;
	if ((r = core_crl_gen_get(core, &gen)) != KDC_OK)
		return r;
	if (gen != core->ace_gen) {
		core_ace_cache_drop(core);
		core->ace_gen = gen;
		*restart = t->cached;
	}
	return KDC_OK;
}

/* The client still usable now: its credential and device from the cache,
 * else read (kdc_core_principal_check()) in the transaction and kept. */
static kdc_err
token_principal(struct kdc_core *core, const struct kdc_principal *client,
    struct treq *t, int64_t now, bool *begun, bool *restart)
{
	int64_t not_after;
	kdc_err r;

	*restart = false;
	if (!*begun && core_ace_cache_principal(core, client->cred_id,
	    client->device, &not_after)) {
		t->cached = true;
		return not_after != 0 && now >= not_after ? KDC_ERR_EXPIRED :
		    KDC_OK;
	}
	if ((r = tok_begin(core, t, begun, restart)) != KDC_OK || *restart)
		return r;
	if ((r = core_principal_check(core, client->cred_id, client->device,
	    &not_after)) == KDC_OK)
		core_ace_cache_principal_put(core, client->cred_id,
		    client->device, not_after);
	return r;
}

/* The RS row of t->aud (a valid name), as token_principal(). */
static kdc_err
token_rs(struct kdc_core *core, struct treq *t, bool *begun, bool *restart)
{
	kdc_err r;

	*restart = false;
	if (!*begun && (r = core_ace_cache_rs(core, t->aud, &t->rs)) !=
	    KDC_ERR_NOT_FOUND) {
		t->cached = r == KDC_OK;
		return r;
	}
	if ((r = tok_begin(core, t, begun, restart)) != KDC_OK || *restart)
		return r;
	if ((r = kdc_store_ace_rs_get(core->st, t->aud, &t->rs)) == KDC_OK)
		core_ace_cache_rs_put(core, t->rs);
	return r;
}

/* The live grant of (device, t->aud), as token_principal(). */
static kdc_err
token_grant(struct kdc_core *core, int64_t device, struct treq *t,
    bool *begun, bool *restart)
{
	kdc_err r;

	*restart = false;
	if (!*begun && core_ace_cache_grant(core, device, t->aud,
	    &t->grant)) {
		t->cached = true;
		return KDC_OK;
	}
	if ((r = tok_begin(core, t, begun, restart)) != KDC_OK || *restart)
		return r;
	if ((r = kdc_store_ace_grant_get(core->st, device, t->aud,
	    &t->grant)) == KDC_OK)
		core_ace_cache_grant_put(core, &t->grant);
	return r;
}

static const char *
pop_str(enum kdc_ace_pop p)
{
	return p == KDC_ACE_POP_ASYMMETRIC ? "asymmetric" : "symmetric";
}

kdc_err
kdc_core_ace_token(struct kdc_core *core, const char *actor,
    const struct kdc_principal *client, const struct kdc_ace_token_req *req,
    struct kdc_ace_token_resp *resp)
{
	struct treq *t = NULL;
	struct kdc_ace_token_rec *rec = NULL, *rrec = NULL;
	uint8_t cti[ACE_CTI_LEN], refresh[ACE_REFRESH_LEN];
	char cti_hex[2 * ACE_CTI_LEN + 1];
	const char *subject = client != NULL && client->dev_id[0] != '\0' ?
	    client->dev_id : "?";
	int64_t now = kdc_core_now(core), exp;
	bool begun = false, with_refresh = false, restart;
	kdc_err r;

	memset(resp, 0, sizeof(*resp));
	if ((t = kdc_calloc(1, sizeof(*t))) == NULL ||
	    (rec = kdc_calloc(1, sizeof(*rec))) == NULL ||
	    (rrec = kdc_calloc(1, sizeof(*rrec))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
again:
	/* (again: a row from the cache was stale; decided once more from the
	 * store, the transaction open: tok_begin()) */
	kdc_ace_rs_row_free(t->rs);
	kdc_wipe(t, sizeof(*t));
	kdc_wipe(rec, sizeof(*rec));
	kdc_wipe(rrec, sizeof(*rrec));
	kdc_ace_token_resp_wipe(resp);
	with_refresh = false;
	/* who asks: an authenticated principal, still usable now */
	if (client == NULL || client->device == 0 || client->cred_id == 0) {
		r = KDC_ERR_DENIED;
		resp->error = KDC_ACE_INVALID_CLIENT;
		resp->error_description = t->why = "not authenticated";
		goto refused;
	}
	if ((r = token_principal(core, client, t, now, &begun, &restart)) ==
	    KDC_OK && restart)
		goto again;
	if (r != KDC_OK) {
		if (r == KDC_ERR_UNKNOWN_DEVICE || r == KDC_ERR_REVOKED ||
		    r == KDC_ERR_EXPIRED) {
			resp->error = KDC_ACE_INVALID_CLIENT;
			resp->error_description = t->why =
			    "the client's credential or device is no longer "
			    "valid";
		}
		goto refused;
	}
	/* the credential is one only the client holds (authz.c ace-token) */
	if ((r = core_authorize(core, client, KDC_ACT_ACE_TOKEN, NULL,
	    t->authz_why, sizeof(t->authz_why), NULL)) != KDC_OK) {
		r = refuse(t, resp, KDC_ACE_UNAUTHORIZED_CLIENT,
		    "this credential may not get tokens (a PSK shared with "
		    "another service)");
		t->why = t->authz_why;	/* the audit's detail, not the peer's */
		goto refused;
	}
	/* the codec sets 2 when the request has no grant_type: a 0 here is
	 * one the client sent */
	if (req->grant_type != KDC_ACE_GRANT_CLIENT_CREDENTIALS &&
	    req->grant_type != KDC_ACE_GRANT_REFRESH_TOKEN) {
		r = refuse(t, resp, KDC_ACE_UNSUPPORTED_GRANT_TYPE,
		    "grant_type: client_credentials or refresh_token only");
		goto refused;
	}
	if (req->audience_len > KDC_NAME_MAX || (req->audience_len > 0 &&
	    memchr(req->audience, '\0', req->audience_len) != NULL)) {
		r = refuse(t, resp, KDC_ACE_INVALID_REQUEST,
		    "audience too long");
		goto refused;
	}
	if (req->audience_len > 0)
		memcpy(t->aud, req->audience, req->audience_len);
	if (req->cnonce_len > KDC_ACE_CNONCE_MAX) {
		r = refuse(t, resp, KDC_ACE_INVALID_REQUEST, "cnonce too long");
		goto refused;
	}
	if (req->scope_len > KDC_ACE_SCOPE_MAX) {
		r = refuse(t, resp, KDC_ACE_INVALID_SCOPE, "scope too long");
		goto refused;
	}
	if (req->grant_type == KDC_ACE_GRANT_REFRESH_TOKEN) {
		/* a refresh token's row is read in the transaction that
		 * revokes it (never cached) */
		if ((r = tok_begin(core, t, &begun, &restart)) == KDC_OK &&
		    restart)
			goto again;
		if (r != KDC_OK || (r = refresh_find(core, client, req, t,
		    resp)) != KDC_OK)
			goto refused;
	} else if (req->audience_len == 0) {
		r = refuse(t, resp, KDC_ACE_INVALID_REQUEST,
		    "no audience");
		goto refused;
	}
	/* the RS: unknown audience = the requested scope is unknown */
	if (!core_name_ok(t->aud) || ((r = token_rs(core, t, &begun,
	    &restart)) == KDC_ERR_NOT_FOUND)) {
		r = refuse(t, resp, KDC_ACE_INVALID_SCOPE,
		    "unknown audience");
		goto refused;
	}
	if (r == KDC_OK && restart)
		goto again;
	if (r != KDC_OK)
		goto refused;
	if (!t->refreshing) {
		if ((r = token_grant(core, client->device, t, &begun,
		    &restart)) == KDC_OK && restart)
			goto again;
		if (r == KDC_ERR_NOT_FOUND) {
			r = refuse(t, resp, KDC_ACE_UNAUTHORIZED_CLIENT,
			    "no grant for this client and audience");
			goto refused;
		}
		if (r != KDC_OK)
			goto refused;
	}
	/* the scope: a subset of the grant's; absent = the whole grant */
	if (req->scope_len > 0) {
		if (!scope_subset(req->scope, req->scope_len,
		    t->grant.scopes, strlen(t->grant.scopes))) {
			r = refuse(t, resp, KDC_ACE_INVALID_SCOPE,
			    "scope not granted");
			goto refused;
		}
		memcpy(t->scope, req->scope, req->scope_len);
	} else {
		snprintf(t->scope, sizeof(t->scope), "%s", t->grant.scopes);
		snprintf(resp->scope, sizeof(resp->scope), "%s",
		    t->grant.scopes);
		resp->scope_differs = true;
	}
	if (req->profile_other || t->rs->profile != KDC_ACE_PROFILE_COAP_DTLS) {
		r = refuse(t, resp, KDC_ACE_INCOMPATIBLE_PROFILES,
		    "the RS has no profile the AS speaks (coap_dtls)");
		goto refused;
	}
	if (!t->refreshing) {
		if ((r = pop_choose(client, req, t, resp)) != KDC_OK)
			goto refused;
		if (t->pop == KDC_ACE_POP_SYMMETRIC &&
		    ((r = kdc_random(t->pop_key, sizeof(t->pop_key))) !=
		    KDC_OK || (r = pop_kid_make(t->kid)) != KDC_OK))
			goto refused;
	} else if (t->pop == KDC_ACE_POP_SYMMETRIC &&
	    t->rs->key_wrapped == NULL) {
		r = refuse(t, resp, KDC_ACE_UNSUPPORTED_POP_KEY,
		    "the RS takes no symmetric PoP (no shared key)");
		goto refused;
	}
	if ((r = cti_make(cti)) != KDC_OK)
		goto refused;
	exp = now + core_cfg(core)->ace_token_lifetime;
	if ((r = token_make(core, req, t, cti, now, exp, resp)) != KDC_OK)
		goto refused;
	resp->expires_in = core_cfg(core)->ace_token_lifetime;
	if (req->profile_asked) {
		resp->has_profile = true;
		resp->ace_profile = t->rs->profile;
	}
	/* the record */
	memcpy(rec->cti, cti, sizeof(cti));
	rec->cti_len = sizeof(cti);
	rec->device = client->device;
	snprintf(rec->client, sizeof(rec->client), "%s", client->dev_id);
	rec->grant = t->grant.id;
	snprintf(rec->audience, sizeof(rec->audience), "%s", t->aud);
	snprintf(rec->scope, sizeof(rec->scope), "%s", t->scope);
	rec->kind = KDC_ACE_ACCESS;
	rec->pop = t->pop;
	if (t->pop == KDC_ACE_POP_SYMMETRIC) {
		memcpy(rec->pop_kid, t->kid, ACE_KID_LEN);
		rec->pop_kid_len = ACE_KID_LEN;
	}
	kdc_ace_token_hash(resp->access_token, resp->access_token_len,
	    rec->hash);
	rec->hash_len = KDC_ACE_TOKEN_HASH_LEN;
	rec->iat = now;
	rec->exp = exp;
	with_refresh = t->grant.refresh;
	if (with_refresh && ((r = kdc_random(refresh, sizeof(refresh))) !=
	    KDC_OK || (r = refresh_rec(core, client, t, refresh, now,
	    rrec)) != KDC_OK))
		goto refused;
	kdc_hex_encode(cti, sizeof(cti), cti_hex);
	/* decided from cached rows: still the store's? (made again if not) */
	if ((r = tok_begin(core, t, &begun, &restart)) != KDC_OK)
		goto refused;
	if (restart)
		goto again;
	/* a refresh token is used once: revoked now, a new one made. Two
	 * requests racing with one refresh token (two engine threads read it
	 * unrevoked): the store's revoke is the arbiter, and the loser is
	 * told so like any reuse. */
	if (t->refreshing && ((r = kdc_store_ace_token_revoke(core->st,
	    t->old.cti, t->old.cti_len, now)) != KDC_OK ||
	    (r = core_crl_gen_bump(core)) != KDC_OK)) {
		if (r == KDC_ERR_REVOKED)
			r = refuse(t, resp, KDC_ACE_INVALID_GRANT,
			    "the refresh token is revoked (or was used "
			    "already)");
		goto refused;
	}
	if ((r = kdc_store_ace_token_add(core->st, rec)) != KDC_OK ||
	    (with_refresh && (r = kdc_store_ace_token_add(core->st, rrec)) !=
	    KDC_OK) ||
	    (r = AUDIT(core, actor, "ace.token", client->dev_id, KDC_OK,
	    "aud=%s scope=\"%s\" cti=%s pop=%s grant_type=%s refresh=%s",
	    t->aud, t->scope, cti_hex, pop_str(t->pop), t->refreshing ?
	    "refresh_token" : "client_credentials", with_refresh ? "yes" :
	    "no")) != KDC_OK)
		goto refused;
	begun = false;
	if ((r = kdc_store_commit(core->st)) != KDC_OK)
		goto refused;
	/* a token is a credential: its row is durable before the answer
	 * carrying it leaves (kdc_core_sync(), the engine's step sync) */
	core->issued_unsynced = true;
	if (with_refresh) {
		memcpy(resp->refresh, refresh, sizeof(refresh));
		resp->refresh_len = sizeof(refresh);
	}
	r = KDC_OK;
	goto out;
refused:
	/* a refusal decided from cached rows stands only if they still are
	 * the store's; else it is decided again from the store */
	if (t != NULL && t->cached && !begun && tok_begin(core, t, &begun,
	    &restart) == KDC_OK && restart)
		goto again;
	if (begun)
		kdc_store_rollback(core->st);
	{
		const char *desc = resp->error_description;
		int err = resp->error;

		kdc_ace_token_resp_wipe(resp);
		resp->error = err != 0 ? err : r == KDC_ERR_DENIED ?
		    KDC_ACE_INVALID_REQUEST : 0;
		resp->error_description = desc;
	}
	(void)AUDIT(core, actor, "ace.token", subject, r,
	    "aud=%s refused: %s", t != NULL && t->aud[0] != '\0' &&
	    core_name_ok(t->aud) ? t->aud : "?", t != NULL && t->why != NULL ?
	    t->why : kdc_err_str(r));
out:
	kdc_wipe(refresh, sizeof(refresh));
	if (t != NULL) {
		kdc_ace_rs_row_free(t->rs);
		kdc_wipe(t, sizeof(*t));
	}
	kdc_free(t);
	if (rrec != NULL)
		kdc_wipe(rrec, sizeof(*rrec));
	kdc_free(rec);
	kdc_free(rrec);
	return r;
}

/* ---- introspection and the TRL ------------------------------------------- */

/* rs, if it is a registered RS that may still ask: its row. */
static kdc_err
rs_principal(struct kdc_core *core, const struct kdc_principal *rs,
    struct kdc_ace_rs_row **row)
{
	kdc_err r;

	*row = NULL;
	if (rs == NULL || rs->device == 0 || rs->cred_id == 0 ||
	    !core_name_ok(rs->dev_id))
		return KDC_ERR_DENIED;
	if ((r = kdc_core_principal_check(core, rs->cred_id, rs->device)) !=
	    KDC_OK)
		return r == KDC_ERR_UNKNOWN_DEVICE ? KDC_ERR_DENIED : r;
	r = kdc_store_ace_rs_get(core->st, rs->dev_id, row);
	return r == KDC_ERR_NOT_FOUND ? KDC_ERR_DENIED : r;
}

/*
 * Introspect token for the RS of row: out as kdc_core_ace_introspect();
 * *device the client's device row (0 when inactive).
 */
static kdc_err
introspect_row(struct kdc_core *core, const struct kdc_ace_rs_row *row,
    const uint8_t *token, size_t token_len,
    struct kdc_ace_introspection *out, int64_t *device)
{
	struct kdc_ace_token_rec *rec = NULL;
	struct kdc_ace_grant_row g;
	struct kdc_device *dev = NULL;
	struct kdc_cose_msg m;
	struct kdc_cwt c;
	struct kdc_cose_key key;
	uint8_t *pt = NULL, *work = NULL, rskey[ACE_RS_KEY_LEN], kid[ACE_KID_LEN],
	    x[32], y[32];
	size_t pt_len = KDC_COSE_MSG_MAX;
	const uint8_t *claims;
	size_t claims_len;
	int64_t now = kdc_core_now(core);
	kdc_err r;

	memset(out, 0, sizeof(*out));
	*device = 0;
	if ((pt = kdc_malloc(KDC_COSE_MSG_MAX)) == NULL ||
	    (work = kdc_malloc(KDC_COSE_WORK_MAX)) == NULL ||
	    (rec = kdc_calloc(1, sizeof(*rec))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	/* the token first: anything that does not open is inactive */
	if (token == NULL || token_len == 0 || token_len > KDC_COSE_MSG_MAX ||
	    kdc_cose_parse(token, token_len, 0, &m) != KDC_OK)
		goto inactive;
	memset(&key, 0, sizeof(key));
	if (m.type == KDC_COSE_ENCRYPT0) {
		if (rs_key(core, row, rskey) != KDC_OK)
			goto inactive;
		key.alg = KDC_COSE_ALG_CCM_16_64_128;
		key.k = rskey;
		key.k_len = sizeof(rskey);
		if (kdc_cose_encrypt0_decrypt(&m, &key, NULL, 0, pt, &pt_len,
		    work, KDC_COSE_WORK_MAX) != KDC_OK)
			goto inactive;
		claims = pt;
		claims_len = pt_len;
	} else if (m.type == KDC_COSE_SIGN1) {
		if (as_kid(core, kid, x, y) != KDC_OK)
			goto inactive;
		key.alg = KDC_COSE_ALG_ES256;
		key.x = x;
		key.x_len = 32;
		key.y = y;
		key.y_len = 32;
		if (kdc_cose_sign1_verify(&m, &key, NULL, 0, work,
		    KDC_COSE_WORK_MAX) != KDC_OK)
			goto inactive;
		claims = m.payload;
		claims_len = m.payload_len;
	} else
		goto inactive;
	if (kdc_cwt_decode(claims, claims_len, &c) != KDC_OK ||
	    !(c.has & KDC_CWT_CTI) || c.cti_len != ACE_CTI_LEN ||
	    !(c.has & KDC_CWT_AUD) || c.aud_len != strlen(row->audience) ||
	    memcmp(c.aud, row->audience, c.aud_len) != 0)
		goto inactive;
	/* then the record: the state of the token, its grant, its client */
	if ((r = kdc_store_ace_token_get(core->st, c.cti, c.cti_len, rec)) !=
	    KDC_OK) {
		if (r != KDC_ERR_NOT_FOUND)
			goto out;
		goto inactive;
	}
	if (rec->kind != KDC_ACE_ACCESS || rec->revoked_at != 0 ||
	    rec->exp <= now || strcmp(rec->audience, row->audience) != 0 ||
	    rec->device == 0 || rec->grant == 0)
		goto inactive;
	if ((r = kdc_store_ace_grant_get_id(core->st, rec->grant, &g)) !=
	    KDC_OK) {
		if (r != KDC_ERR_NOT_FOUND)
			goto out;
		goto inactive;
	}
	if (g.revoked_at != 0)
		goto inactive;
	if ((r = kdc_store_device_get_by_id(core->st, rec->device, &dev)) !=
	    KDC_OK) {
		if (r != KDC_ERR_NOT_FOUND)
			goto out;
		goto inactive;
	}
	if (dev->status == KDC_DEV_REVOKED)
		goto inactive;
	out->active = true;
	*device = dev->id;
	snprintf(out->client, sizeof(out->client), "%s", rec->client);
	snprintf(out->audience, sizeof(out->audience), "%s", rec->audience);
	snprintf(out->scope, sizeof(out->scope), "%s", rec->scope);
	out->iat = rec->iat;
	out->exp = rec->exp;
	memcpy(out->cti, rec->cti, rec->cti_len);
	out->cti_len = rec->cti_len;
	out->ace_profile = row->profile;
	if (rec->pop == KDC_ACE_POP_SYMMETRIC)
		out->cnf_len = cnf_kid_encode(rec->pop_kid, rec->pop_kid_len,
		    out->cnf, sizeof(out->cnf));
	else if (c.cnf.kind == KDC_CNF_COSE_KEY &&
	    cnf_key_encode(&c.cnf.key, out->cnf, sizeof(out->cnf),
	    &out->cnf_len) != KDC_OK)
		out->cnf_len = 0;
	r = KDC_OK;
	goto out;
inactive:
	memset(out, 0, sizeof(*out));
	r = KDC_OK;
out:
	kdc_wipe(rskey, sizeof(rskey));
	if (pt != NULL)
		kdc_secret_free(pt, KDC_COSE_MSG_MAX);
	if (work != NULL)
		kdc_secret_free(work, KDC_COSE_WORK_MAX);
	kdc_free(rec);
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_core_ace_introspect(struct kdc_core *core, const char *actor,
    const struct kdc_principal *rs, const uint8_t *token, size_t token_len,
    struct kdc_ace_introspection *out)
{
	struct kdc_ace_rs_row *row = NULL;
	int64_t device;
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if ((r = rs_principal(core, rs, &row)) != KDC_OK) {
		(void)AUDIT(core, actor, "ace.introspect", rs != NULL &&
		    rs->dev_id[0] != '\0' ? rs->dev_id : "?", r, "%s",
		    "not a registered resource server");
		return r;
	}
	r = introspect_row(core, row, token, token_len, out, &device);
	kdc_ace_rs_row_free(row);
	return r;
}

kdc_err
kdc_core_ace_bearer(struct kdc_core *core, const char *audience,
    const uint8_t *token, size_t token_len, struct kdc_principal *who)
{
	struct kdc_ace_introspection in;
	struct kdc_ace_rs_row *row = NULL;
	int64_t device = 0;
	kdc_err r;

	memset(who, 0, sizeof(*who));
	if (audience == NULL || !core_name_ok(audience))
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_store_ace_rs_get(core->st, audience, &row)) != KDC_OK)
		return r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNTRUSTED : r;
	r = introspect_row(core, row, token, token_len, &in, &device);
	kdc_ace_rs_row_free(row);
	if (r != KDC_OK)
		return r;
	if (!in.active || device == 0)
		return KDC_ERR_UNTRUSTED;
	who->device = device;
	snprintf(who->dev_id, sizeof(who->dev_id), "%s", in.client);
	snprintf(who->audience, sizeof(who->audience), "%s", audience);
	who->kind = KDC_KIND_OPERATIONAL;
	return KDC_OK;
}

struct trl_ctx {
	uint8_t	(*hashes)[KDC_ACE_TOKEN_HASH_LEN];
	size_t	 max, n;
	bool	 over;
};

static void
trl_one(void *arg, const uint8_t *hash, size_t len)
{
	struct trl_ctx *x = arg;

	if (len != KDC_ACE_TOKEN_HASH_LEN)
		return;
	if (x->n == x->max) {
		x->over = true;
		return;
	}
	memcpy(x->hashes[x->n++], hash, len);
}

kdc_err
kdc_core_ace_trl(struct kdc_core *core, const struct kdc_principal *rs,
    uint8_t (*hashes)[KDC_ACE_TOKEN_HASH_LEN], size_t max, size_t *n,
    int64_t *gen)
{
	struct kdc_ace_rs_row *row = NULL;
	struct trl_ctx x = { hashes, max, 0, false };
	kdc_err r;

	*n = 0;
	*gen = 0;
	if ((r = rs_principal(core, rs, &row)) != KDC_OK)
		return r;
	/* the generation first: a revocation between the two reads shows in
	 * the list and moves the generation again (observers hear it twice,
	 * never miss it) */
	if ((r = core_crl_gen_get(core, gen)) != KDC_OK ||
	    (r = kdc_store_ace_trl(core->st, row->audience, kdc_core_now(core),
	    trl_one, &x)) != KDC_OK)
		goto out;
	*n = x.n;
	r = x.over ? KDC_ERR_TOO_LARGE : KDC_OK;
out:
	kdc_ace_rs_row_free(row);
	return r;
}

kdc_err
kdc_core_ace_purge(struct kdc_core *core, const char *actor, size_t *n)
{
	const struct kdc_config *cfg = core_cfg(core);
	uint8_t below[8];
	uint64_t us;
	int64_t cutoff;
	size_t k, total = 0;
	kdc_err r = KDC_OK;

	*n = 0;
	cutoff = kdc_core_now(core) - cfg->ace_token_retention;
	if (cutoff <= 0)
		return KDC_OK;
	/* a cti begins with its issue time in µs (cti_make()): a token
	 * issued at or after the cutoff cannot have expired before it */
	us = (uint64_t)cutoff * 1000000u;
	for (int i = 7; i >= 0; i--, us >>= 8)
		below[i] = (uint8_t)us;
	do {
		if ((r = kdc_store_ace_tokens_purge(core->st, below,
		    sizeof(below), cutoff, &k)) != KDC_OK)
			break;
		total += k;
	} while (k == KDC_ACE_PURGE_BATCH && total < KDC_ACE_PURGE_SWEEP_MAX);
	if (total > 0)
		(void)AUDIT(core, actor, "ace.purge", "-", KDC_OK,
		    "tokens=%zu expired_before=%" PRId64, total, cutoff);
	*n = total;
	return r;
}
