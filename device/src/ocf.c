/*
 * ocf.c: the OCF server's security state and request handling
 * (kdcdev_ocf.h; ../shared/protocols/ocf.md §1-§2), portable: no malloc,
 * the payloads through src/ocf/codec.c, SHA-256 from sha256.c.
 */
#include <string.h>

#include "base/cbor.h"
#include "kdcdev_int.h"
#include "kdcdev_ocf.h"

#define C(c, d)		KDCDEV_CODE(c, d)

static const char *const oxm_names[] = {
	"oic.sec.doxm.jw", "oic.sec.doxm.rdp", "oic.sec.doxm.mfgcert",
};

static void
logmsg(const struct kdcdev_ocf *d, const char *msg)
{
	if (d->ops.log != NULL)
		d->ops.log(d->ops.arg, msg);
}

/* ==== HMAC-SHA256, P_SHA256, PBKDF2 ===================================== */

struct hmac {
	struct kdcdev_sha256_ctx	in, out;
};

static void
hmac_init(struct hmac *h, const uint8_t *key, size_t key_len)
{
	uint8_t k[64], pad[64];

	memset(k, 0, sizeof(k));
	if (key_len > 64) {
		struct kdcdev_sha256_ctx s;
		kdcdev_sha256_init(&s);
		kdcdev_sha256_update(&s, key, key_len);
		kdcdev_sha256_final(&s, k);
	} else if (key_len > 0) {
		memcpy(k, key, key_len);
	}
	for (size_t i = 0; i < 64; i++)
		pad[i] = (uint8_t)(k[i] ^ 0x36u);
	kdcdev_sha256_init(&h->in);
	kdcdev_sha256_update(&h->in, pad, 64);
	for (size_t i = 0; i < 64; i++)
		pad[i] = (uint8_t)(k[i] ^ 0x5cu);
	kdcdev_sha256_init(&h->out);
	kdcdev_sha256_update(&h->out, pad, 64);
	kdc_wipe(k, sizeof(k));
	kdc_wipe(pad, sizeof(pad));
}

static void
hmac_final(struct hmac *h, uint8_t out[32])
{
	uint8_t ih[32];

	kdcdev_sha256_final(&h->in, ih);
	kdcdev_sha256_update(&h->out, ih, 32);
	kdcdev_sha256_final(&h->out, out);
	kdc_wipe(ih, sizeof(ih));
}

kdc_err
kdcdev_ocf_prf(const uint8_t *secret, size_t secret_len, const void *label,
    size_t label_len, const void *seed, size_t seed_len, uint8_t *out,
    size_t out_len)
{
	struct hmac base, h;
	uint8_t a[32], blk[32];
	size_t done = 0;

	if (out == NULL || out_len == 0 || out_len > 1024 ||
	    (secret == NULL && secret_len > 0) || label_len > 64 ||
	    (label == NULL && label_len > 0) || (seed == NULL && seed_len > 0))
		return KDC_ERR_INVALID_ARG;
	hmac_init(&base, secret, secret_len);
	/* A(1) = HMAC(secret, label || seed) */
	h = base;
	kdcdev_sha256_update(&h.in, label, label_len);
	kdcdev_sha256_update(&h.in, seed, seed_len);
	hmac_final(&h, a);
	while (done < out_len) {
		size_t n = out_len - done < 32 ? out_len - done : 32;

		h = base;
		kdcdev_sha256_update(&h.in, a, 32);
		kdcdev_sha256_update(&h.in, label, label_len);
		kdcdev_sha256_update(&h.in, seed, seed_len);
		hmac_final(&h, blk);
		memcpy(out + done, blk, n);
		done += n;
		h = base;
		kdcdev_sha256_update(&h.in, a, 32);
		hmac_final(&h, a);
	}
	kdc_wipe(&base, sizeof(base));
	kdc_wipe(&h, sizeof(h));
	kdc_wipe(a, sizeof(a));
	kdc_wipe(blk, sizeof(blk));
	return KDC_OK;
}

kdc_err
kdcdev_ocf_pbkdf2(const uint8_t *pw, size_t pw_len, const uint8_t *salt,
    size_t salt_len, unsigned iter, uint8_t *dk, size_t dk_len)
{
	struct hmac base, h;
	uint8_t u[32], t[32], ctr[4];
	size_t done = 0;
	uint32_t blockno = 1;

	if (dk == NULL || dk_len == 0 || dk_len > 64 || iter == 0 ||
	    (pw == NULL && pw_len > 0) || (salt == NULL && salt_len > 0))
		return KDC_ERR_INVALID_ARG;
	hmac_init(&base, pw, pw_len);
	while (done < dk_len) {
		size_t n = dk_len - done < 32 ? dk_len - done : 32;

		ctr[0] = (uint8_t)(blockno >> 24);
		ctr[1] = (uint8_t)(blockno >> 16);
		ctr[2] = (uint8_t)(blockno >> 8);
		ctr[3] = (uint8_t)blockno;
		h = base;
		kdcdev_sha256_update(&h.in, salt, salt_len);
		kdcdev_sha256_update(&h.in, ctr, 4);
		hmac_final(&h, u);
		memcpy(t, u, 32);
		for (unsigned i = 1; i < iter; i++) {
			h = base;
			kdcdev_sha256_update(&h.in, u, 32);
			hmac_final(&h, u);
			for (size_t j = 0; j < 32; j++)
				t[j] ^= u[j];
		}
		memcpy(dk + done, t, n);
		done += n;
		blockno++;
	}
	kdc_wipe(&base, sizeof(base));
	kdc_wipe(&h, sizeof(h));
	kdc_wipe(u, sizeof(u));
	kdc_wipe(t, sizeof(t));
	return KDC_OK;
}

static bool
uuid_nil(const struct kdc_ocf_uuid *u)
{
	for (size_t i = 0; i < 16; i++)
		if (u->b[i] != 0)
			return false;
	return true;
}

static bool
uuid_eq(const struct kdc_ocf_uuid *a, const struct kdc_ocf_uuid *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

static const char *
oxm_name(int64_t oxm)
{
	return oxm >= 0 && oxm <= 2 ? oxm_names[oxm] : NULL;
}

kdc_err
kdcdev_ocf_owner_psk(const struct kdcdev_ocf *d, uint8_t psk[16])
{
	uint8_t seed[32];
	const char *oxm = oxm_name(d->doxm.oxmsel);
	kdc_err r;

	if (!d->doc_active || d->key_block_len == 0 || oxm == NULL)
		return KDC_ERR_INVALID_ARG;
	memcpy(seed, d->doxm.devowneruuid.b, 16);
	memcpy(seed + 16, d->doxm.deviceuuid.b, 16);
	r = kdcdev_ocf_prf(d->key_block, d->key_block_len, oxm, strlen(oxm),
	    seed, sizeof(seed), psk, 16);
	kdc_wipe(seed, sizeof(seed));
	return r;
}

kdc_err
kdcdev_ocf_rdp_psk(const struct kdcdev_ocf *d, uint8_t psk[16])
{
	if (d->pin[0] == '\0')
		return KDC_ERR_INVALID_ARG;
	return kdcdev_ocf_pbkdf2((const uint8_t *)d->pin, strlen(d->pin),
	    d->doxm.deviceuuid.b, 16, 1000, psk, 16);
}

/* ==== state ============================================================= */

static kdc_err
new_uuid(struct kdcdev_ocf *d, struct kdc_ocf_uuid *u)
{
	kdc_err r;

	if ((r = d->ops.random(d->ops.arg, u->b, 16)) != KDC_OK)
		return r;
	u->b[6] = (uint8_t)((u->b[6] & 0x0fu) | 0x40u);	/* v4 */
	u->b[8] = (uint8_t)((u->b[8] & 0x3fu) | 0x80u);
	return KDC_OK;
}

static void
doxm_defaults(struct kdcdev_ocf *d)
{
	struct kdc_ocf_doxm *x = &d->doxm;

	memset(x, 0, sizeof(*x));
	x->has = 0x7fu;
	if (d->has_pin)
		x->oxms[x->n_oxms++] = KDC_OCF_OXM_RDP;
	if (d->has_mfgcert)
		x->oxms[x->n_oxms++] = KDC_OCF_OXM_MFGCERT;
	x->oxmsel = KDC_OCF_OXM_SELF;
	x->sct = d->ops.new_keypair != NULL ? 9u : 1u;
}

static void
pstat_defaults(struct kdc_ocf_pstat *p)
{
	memset(p, 0, sizeof(*p));
	p->has = 0xffu;
	p->dos_s = KDC_OCF_DOS_RFOTM;
	p->cm = 2;
	p->tm = 0;
	p->om = 3;
	p->sm = 4;
}

kdc_err
kdcdev_ocf_reset(struct kdcdev_ocf *d)
{
	kdc_err r;

	kdc_wipe(&d->creds, sizeof(d->creds));
	kdc_wipe(d->key, sizeof(d->key));
	kdc_wipe(d->key_block, sizeof(d->key_block));
	kdc_wipe(d->pin, sizeof(d->pin));
	d->key_len = d->key_block_len = 0;
	d->doc_active = false;
	memset(&d->acl2, 0, sizeof(d->acl2));
	d->creds.has = KDC_OCF_CREDS_HAS_CREDS | KDC_OCF_CREDS_HAS_ROWNERUUID;
	d->acl2.has = KDC_OCF_ACL2_HAS_ACLIST2 | KDC_OCF_ACL2_HAS_ROWNERUUID;
	memset(&d->sdi_uuid, 0, sizeof(d->sdi_uuid));
	memset(d->sdi_name, 0, sizeof(d->sdi_name));
	d->sdi_priv = d->sdi_set = false;
	d->light = false;
	d->next_credid = d->next_aceid = 1;
	doxm_defaults(d);
	pstat_defaults(&d->pstat);
	d->changed = d->reset_done = true;
	if ((r = new_uuid(d, &d->doxm.deviceuuid)) != KDC_OK)
		return r;
	if (d->ops.new_keypair != NULL) {
		size_t n = sizeof(d->key);
		if ((r = d->ops.new_keypair(d->ops.arg, d->key, &n)) != KDC_OK)
			return r;
		d->key_len = n;
	}
	logmsg(d, "hard reset: RFOTM, new deviceuuid");
	return KDC_OK;
}

kdc_err
kdcdev_ocf_init(struct kdcdev_ocf *d, const struct kdcdev_ocf_ops *ops,
    bool has_pin, bool has_mfgcert, const char *name)
{
	if (d == NULL || ops == NULL || ops->random == NULL ||
	    (!has_pin && !has_mfgcert) || (has_pin && ops->pin_display == NULL))
		return KDC_ERR_INVALID_ARG;
	memset(d, 0, sizeof(*d));
	d->ops = *ops;
	d->has_pin = has_pin;
	d->has_mfgcert = has_mfgcert;
	if (name != NULL) {
		size_t n = strlen(name);
		if (n >= sizeof(d->name))
			return KDC_ERR_INVALID_ARG;
		memcpy(d->name, name, n);
	}
	return kdcdev_ocf_reset(d);
}

static bool
oxm_offered(const struct kdcdev_ocf *d, int64_t oxm)
{
	for (size_t i = 0; i < d->doxm.n_oxms; i++)
		if (d->doxm.oxms[i] == oxm)
			return true;
	return false;
}

bool
kdcdev_ocf_doc_allowed(const struct kdcdev_ocf *d)
{
	return d->pstat.dos_s == KDC_OCF_DOS_RFOTM && !d->doc_active &&
	    (d->doxm.oxmsel == KDC_OCF_OXM_RDP ||
	    d->doxm.oxmsel == KDC_OCF_OXM_MFGCERT) &&
	    oxm_offered(d, d->doxm.oxmsel) &&
	    (d->doxm.oxmsel != KDC_OCF_OXM_RDP || d->pin[0] != '\0');
}

void
kdcdev_ocf_doc_begin(struct kdcdev_ocf *d, const uint8_t *key_block,
    size_t len)
{
	d->doc_active = true;
	if (len > sizeof(d->key_block))
		len = 0;
	if (len > 0)
		memcpy(d->key_block, key_block, len);
	d->key_block_len = len;
	logmsg(d, "DOC open");
}

kdc_err
kdcdev_ocf_doc_end(struct kdcdev_ocf *d)
{
	if (!d->doc_active)
		return KDC_OK;
	d->doc_active = false;
	kdc_wipe(d->key_block, sizeof(d->key_block));
	d->key_block_len = 0;
	kdc_wipe(d->pin, sizeof(d->pin));	/* one DOC per PIN */
	logmsg(d, "DOC closed");
	if (d->pstat.dos_s == KDC_OCF_DOS_RFOTM)
		return kdcdev_ocf_reset(d);
	return KDC_OK;
}

kdc_err
kdcdev_ocf_psk_lookup(const struct kdcdev_ocf *d, const uint8_t uuid[16],
    const uint8_t **psk, size_t *len)
{
	for (size_t i = 0; i < d->creds.n; i++) {
		const struct kdc_ocf_cred *c = &d->creds.creds[i];

		if (c->credtype == KDC_OCF_CREDTYPE_PSK && !c->subject_any &&
		    memcmp(c->subject.b, uuid, 16) == 0 &&
		    c->privatedata.len > 0) {
			*psk = c->privatedata.data;
			*len = c->privatedata.len;
			return KDC_OK;
		}
	}
	return KDC_ERR_NOT_FOUND;
}

/* ==== resources and access ============================================== */

enum res_id {
	R_D, R_P, R_DOXM, R_PSTAT, R_CRED, R_ACL2, R_CSR, R_LIGHT, R_SDI, R_RES,
	R_NONE,
};

#define M_GET	(1u << KDCDEV_GET)
#define M_POST	(1u << KDCDEV_POST)
#define M_PUT	(1u << KDCDEV_PUT)
#define M_DEL	(1u << KDCDEV_DELETE)

static const struct {
	const char	*href;
	const char	*rt;
	const char	*ifs;
	unsigned	 methods;
	bool		 svr;
	bool		 pub;	/* "-": reachable unsecured */
} res_tab[] = {
	[R_D] = { "/oic/d", "oic.wk.d", "oic.if.r", M_GET, false, true },
	[R_P] = { "/oic/p", "oic.wk.p", "oic.if.r", M_GET, false, true },
	[R_DOXM] = { "/oic/sec/doxm", "oic.r.doxm", "oic.if.baseline",
	    M_GET | M_POST, true, false },
	[R_PSTAT] = { "/oic/sec/pstat", "oic.r.pstat", "oic.if.baseline",
	    M_GET | M_POST, true, false },
	[R_CRED] = { "/oic/sec/cred", "oic.r.cred", "oic.if.baseline",
	    M_GET | M_POST | M_PUT | M_DEL, true, false },
	[R_ACL2] = { "/oic/sec/acl2", "oic.r.acl2", "oic.if.baseline",
	    M_GET | M_POST | M_PUT | M_DEL, true, false },
	[R_CSR] = { "/oic/sec/csr", "oic.r.csr", "oic.if.baseline", M_GET,
	    true, false },
	[R_LIGHT] = { "/a/light", "oic.r.switch.binary", "oic.if.a",
	    M_GET | M_POST | M_PUT, false, false },
	[R_SDI] = { "/oic/sec/sdi", "oic.r.sdi", "oic.if.baseline",
	    M_GET | M_POST, true, false },
	[R_RES] = { "/oic/res", "oic.wk.res", "oic.if.ll", M_GET, false,
	    true },
};

static enum res_id
res_find(const char *path)
{
	for (size_t i = 0; i < R_NONE; i++)
		if (strcmp(path, res_tab[i].href) == 0)
			return (enum res_id)i;
	return R_NONE;
}

/* The rowneruuid that has implicit access to r (NULL: none). */
static const struct kdc_ocf_uuid *
res_owner(const struct kdcdev_ocf *d, enum res_id r)
{
	switch (r) {
	case R_DOXM:	return &d->doxm.rowneruuid;
	case R_PSTAT:	return &d->pstat.rowneruuid;
	case R_CRED:	return &d->creds.rowneruuid;
	case R_ACL2:	return &d->acl2.rowneruuid;
	default:	return NULL;
	}
}

static bool
ace_subject_matches(const struct kdc_ocf_ace *a,
    const struct kdcdev_ocf_peer *peer)
{
	switch (a->subject) {
	case KDC_OCF_SUBJ_UUID:
		return peer->kind == KDCDEV_OCF_PEER_AUTH &&
		    uuid_eq(&a->uuid, &peer->uuid);
	case KDC_OCF_SUBJ_CONNTYPE:
		if (a->conntype == KDC_OCF_CONN_ANON_CLEAR)
			return true;
		return a->conntype == KDC_OCF_CONN_AUTH_CRYPT &&
		    peer->kind != KDCDEV_OCF_PEER_UNSECURED;
	default:
		/* roles: we take no role certificates (/oic/sec/roles) */
		return false;
	}
}

static bool
ace_res_matches(const struct kdc_ocf_ace_res *ar, enum res_id r)
{
	switch (ar->wc) {
	case KDC_OCF_WC_NONE:
		return strcmp(ar->href, res_tab[r].href) == 0;
	case KDC_OCF_WC_ALL:
		return !res_tab[r].svr;
	case KDC_OCF_WC_SECURED:
		return !res_tab[r].svr && !res_tab[r].pub;
	case KDC_OCF_WC_PUBLIC:
		return res_tab[r].pub;
	}
	return false;
}

static bool
access_res(const struct kdcdev_ocf *d, uint8_t method, enum res_id r,
    const struct kdcdev_ocf_peer *peer)
{
	unsigned s = d->pstat.dos_s, perm = 0, need;
	const struct kdc_ocf_uuid *owner;
	bool dcr = res_tab[r].svr || r == R_D || r == R_P || r == R_RES;

	if (peer->kind == KDCDEV_OCF_PEER_DOC)
		/* every DCR request over the DOC; nothing else there */
		return d->doc_active && dcr;
	if (s == KDC_OCF_DOS_RFOTM && peer->kind == KDCDEV_OCF_PEER_UNSECURED) {
		if (r == R_DOXM)
			return method == KDCDEV_GET || method == KDCDEV_POST;
		if (r == R_PSTAT || r == R_D || r == R_P || r == R_RES)
			return method == KDCDEV_GET;
		return false;
	}
	if (res_tab[r].svr && peer->kind == KDCDEV_OCF_PEER_UNSECURED &&
	    (s == KDC_OCF_DOS_RFPRO || s == KDC_OCF_DOS_RFNOP ||
	    s == KDC_OCF_DOS_SRESET))
		return false;
	if (!dcr && s != KDC_OCF_DOS_RFNOP)
		return false;
	owner = res_owner(d, r);
	if (owner != NULL && peer->kind == KDCDEV_OCF_PEER_AUTH &&
	    !uuid_nil(owner) && uuid_eq(owner, &peer->uuid))
		return true;
	for (size_t i = 0; i < d->acl2.n; i++) {
		const struct kdc_ocf_ace *a = &d->acl2.aces[i];

		if (!ace_subject_matches(a, peer))
			continue;
		for (size_t j = 0; j < a->n_res; j++)
			if (ace_res_matches(&a->res[j], r)) {
				perm |= a->permission;
				break;
			}
	}
	switch (method) {
	case KDCDEV_GET:
		need = KDC_OCF_PERM_R | KDC_OCF_PERM_N;
		break;
	case KDCDEV_POST:
	case KDCDEV_PUT:
		need = KDC_OCF_PERM_C | KDC_OCF_PERM_U;
		break;
	case KDCDEV_DELETE:
		need = KDC_OCF_PERM_D;
		break;
	default:
		return false;
	}
	return (perm & need) != 0;
}

bool
kdcdev_ocf_access(const struct kdcdev_ocf *d, uint8_t method,
    const char *path, const struct kdcdev_ocf_peer *peer)
{
	enum res_id r = res_find(path);

	return r != R_NONE && access_res(d, method, r, peer);
}

/* ==== query ============================================================= */

/* The value of name=... in query ('&'-separated) into out; false if
 * absent or too long. */
static bool
query_get(const char *query, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl >= cap)
				return false;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

/* A decimal int64 >= 0; false otherwise. */
static bool
parse_id(const char *s, int64_t *v)
{
	int64_t x = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || x > (INT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (*s - '0');
	}
	*v = x;
	return true;
}

/* ==== handlers ========================================================== */

static void
wr_text(struct kdc_wr *w, const char *s)
{
	kdc_cbor_write_tstr(w, s, strlen(s));
}

static void
wr_uuid(struct kdc_wr *w, const struct kdc_ocf_uuid *u)
{
	char s[KDC_OCF_UUID_TEXT + 1];

	kdc_ocf_uuid_format(u, s);
	kdc_cbor_write_tstr(w, s, KDC_OCF_UUID_TEXT);
}

/* Finish a payload written through w into resp. */
static void
resp_wr(struct kdcdev_ocf_resp *resp, struct kdc_wr *w, uint8_t code)
{
	if (kdc_wr_err(w) != KDC_OK) {
		resp->code = C(5, 0);
		resp->out_len = 0;
		return;
	}
	resp->code = code;
	resp->content_format = KDCDEV_OCF_CF;
	resp->out_len = kdc_wr_len(w);
}

static void
resp_enc(struct kdcdev_ocf_resp *resp, kdc_err r, size_t len)
{
	if (r != KDC_OK) {
		resp->code = C(5, 0);
		resp->out_len = 0;
		return;
	}
	resp->code = C(2, 5);
	resp->content_format = KDCDEV_OCF_CF;
	resp->out_len = len;
}

static void
get_res(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
    struct kdcdev_ocf_resp *resp)
{
	struct kdc_ocf_links *ls = &d->scratch.links;
	char rt[KDC_OCF_STR_MAX];
	bool filter = query_get(req->query, "rt", rt, sizeof(rt));
	size_t len = 0;
	kdc_err r;

	if (!filter && strstr(req->query, "rt=") != NULL) {
		resp->code = C(4, 4);	/* an rt too long to be ours */
		return;
	}
	memset(ls, 0, sizeof(*ls));
	for (size_t i = 0; i < R_NONE && ls->n < KDC_OCF_LINKS_MAX; i++) {
		struct kdc_ocf_link *l = &ls->links[ls->n];

		if (filter && strcmp(rt, res_tab[i].rt) != 0)
			continue;
		l->has = KDC_OCF_LINK_HAS_ANCHOR;
		l->anchor = d->doxm.deviceuuid;
		memcpy(l->href, res_tab[i].href, strlen(res_tab[i].href) + 1);
		memcpy(l->rt[0], res_tab[i].rt, strlen(res_tab[i].rt) + 1);
		l->n_rt = 1;
		memcpy(l->ifs[0], res_tab[i].ifs, strlen(res_tab[i].ifs) + 1);
		memcpy(l->ifs[1], "oic.if.baseline", 16);
		l->n_ifs = strcmp(res_tab[i].ifs, "oic.if.baseline") == 0 ?
		    1 : 2;
		for (int k = 0; k < 2; k++) {
			uint16_t port = k == 0 ? d->coap_port : d->coaps_port;
			struct kdc_ocf_ep *ep = &l->eps[l->n_eps];

			if (port == 0 || d->ep_host[0] == '\0')
				continue;
			memcpy(ep->scheme, k == 0 ? "coap" : "coaps",
			    k == 0 ? 5 : 6);
			memcpy(ep->host, d->ep_host, sizeof(ep->host));
			memcpy(ep->zone, d->ep_zone, sizeof(ep->zone));
			ep->ipv6 = d->ep_ipv6;
			ep->port = port;
			l->n_eps++;
		}
		ls->n++;
	}
	if (ls->n == 0) {
		resp->code = C(4, 4);
		return;
	}
	r = kdc_ocf_links_encode(ls, resp->out, resp->out_cap, &len);
	resp_enc(resp, r, len);
}

static void
get_d_p(struct kdcdev_ocf *d, enum res_id r, struct kdcdev_ocf_resp *resp)
{
	struct kdc_wr w;

	kdc_wr_init(&w, resp->out, resp->out_cap);
	if (r == R_D) {
		kdc_cbor_write_map(&w, 5);
		wr_text(&w, "n");
		wr_text(&w, d->name);
		wr_text(&w, "di");
		wr_uuid(&w, &d->doxm.deviceuuid);
		wr_text(&w, "piid");
		wr_uuid(&w, &d->doxm.deviceuuid);
		wr_text(&w, "icv");
		wr_text(&w, "ocf.2.0.5");
		wr_text(&w, "dmv");
		wr_text(&w, "ocf.res.1.3.0,ocf.sh.1.3.0");
	} else {
		kdc_cbor_write_map(&w, 2);
		wr_text(&w, "pi");
		wr_uuid(&w, &d->doxm.deviceuuid);
		wr_text(&w, "mnmn");
		wr_text(&w, "iotkdc");
	}
	resp_wr(resp, &w, C(2, 5));
}

static void
gen_pin(struct kdcdev_ocf *d, kdc_err *r)
{
	size_t n = 0;

	while (n < 8) {
		uint8_t b[8];
		if ((*r = d->ops.random(d->ops.arg, b, sizeof(b))) != KDC_OK)
			return;
		for (size_t i = 0; i < sizeof(b) && n < 8; i++)
			if (b[i] < 250)		/* no modulo bias */
				d->pin[n++] = (char)('0' + b[i] % 10);
		kdc_wipe(b, sizeof(b));
	}
	d->pin[8] = '\0';
	*r = d->ops.pin_display(d->ops.arg, d->pin);
}

static void
post_doxm(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
    struct kdcdev_ocf_resp *resp)
{
	struct kdc_ocf_doxm *x = &d->scratch.doxm;
	unsigned s = d->pstat.dos_s;
	bool doc = req->peer.kind == KDCDEV_OCF_PEER_DOC;
	kdc_err r = KDC_OK;

	resp->code = C(4, 0);
	if (kdc_ocf_doxm_decode(req->payload, req->payload_len, x) != KDC_OK)
		return;
	if (x->has & (KDC_OCF_DOXM_HAS_OXMS | KDC_OCF_DOXM_HAS_SCT))
		return;				/* read-only */
	if ((x->has & KDC_OCF_DOXM_HAS_OXMSEL) &&
	    (s != KDC_OCF_DOS_RFOTM ||
	    req->peer.kind != KDCDEV_OCF_PEER_UNSECURED || d->doc_active ||
	    !oxm_offered(d, x->oxmsel)))
		return;
	if ((x->has & (KDC_OCF_DOXM_HAS_OWNED | KDC_OCF_DOXM_HAS_DEVICEUUID |
	    KDC_OCF_DOXM_HAS_DEVOWNERUUID)) && (s != KDC_OCF_DOS_RFOTM || !doc))
		return;
	/* rowneruuid: RFOTM in the DOC; SRESET (no DOC exists there) over
	 * an authenticated session */
	if ((x->has & KDC_OCF_DOXM_HAS_ROWNERUUID) &&
	    !(s == KDC_OCF_DOS_RFOTM && doc) &&
	    !(s == KDC_OCF_DOS_SRESET &&
	    req->peer.kind == KDCDEV_OCF_PEER_AUTH))
		return;
	if ((x->has & KDC_OCF_DOXM_HAS_DEVICEUUID) && uuid_nil(&x->deviceuuid))
		return;
	if (x->has & KDC_OCF_DOXM_HAS_OXMSEL) {
		d->doxm.oxmsel = x->oxmsel;
		kdc_wipe(d->pin, sizeof(d->pin));
		if (x->oxmsel == KDC_OCF_OXM_RDP)
			gen_pin(d, &r);
		logmsg(d, x->oxmsel == KDC_OCF_OXM_RDP ?
		    "doxm oxmsel=1 (rdp): PIN displayed" :
		    "doxm oxmsel set");
	}
	if (x->has & KDC_OCF_DOXM_HAS_OWNED)
		d->doxm.owned = x->owned;
	if (x->has & KDC_OCF_DOXM_HAS_DEVICEUUID)
		d->doxm.deviceuuid = x->deviceuuid;
	if (x->has & KDC_OCF_DOXM_HAS_DEVOWNERUUID)
		d->doxm.devowneruuid = x->devowneruuid;
	if (x->has & KDC_OCF_DOXM_HAS_ROWNERUUID)
		d->doxm.rowneruuid = x->rowneruuid;
	d->changed = true;
	resp->code = r == KDC_OK ? C(2, 4) : C(5, 0);
}

static bool
valid_transition(unsigned from, unsigned to)
{
	switch (from) {
	case KDC_OCF_DOS_RESET:
		return to == KDC_OCF_DOS_RESET || to == KDC_OCF_DOS_RFOTM;
	case KDC_OCF_DOS_RFOTM:
		return to != KDC_OCF_DOS_SRESET;
	case KDC_OCF_DOS_RFPRO:
	case KDC_OCF_DOS_RFNOP:
		return to != KDC_OCF_DOS_RFOTM;
	case KDC_OCF_DOS_SRESET:
		return to != KDC_OCF_DOS_RFOTM && to != KDC_OCF_DOS_RFNOP;
	}
	return false;
}

static bool
has_cred_for(const struct kdcdev_ocf *d, const struct kdc_ocf_uuid *u)
{
	for (size_t i = 0; i < d->creds.n; i++)
		if (!d->creds.creds[i].subject_any &&
		    uuid_eq(&d->creds.creds[i].subject, u))
			return true;
	return false;
}

/* pstat_check_state (ocf.md §1), with pstat's rowneruuid as prow. */
static bool
check_state(const struct kdcdev_ocf *d, const struct kdc_ocf_uuid *prow)
{
	const struct kdc_ocf_uuid *rows[4] = {
		&d->doxm.rowneruuid, prow, &d->acl2.rowneruuid,
		&d->creds.rowneruuid,
	};

	if (!d->doxm.owned || uuid_nil(&d->doxm.devowneruuid) ||
	    uuid_nil(&d->doxm.deviceuuid))
		return false;
	for (size_t i = 0; i < 4; i++)
		if (uuid_nil(rows[i]) || !has_cred_for(d, rows[i]))
			return false;
	return true;
}

static void
post_pstat(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
    struct kdcdev_ocf_resp *resp)
{
	struct kdc_ocf_pstat *p = &d->scratch.pstat;
	struct kdc_ocf_uuid prow = d->pstat.rowneruuid;
	unsigned s = d->pstat.dos_s;
	kdc_err r = KDC_OK;

	resp->code = C(4, 0);
	if (kdc_ocf_pstat_decode(req->payload, req->payload_len, p) != KDC_OK)
		return;
	if (p->has & (KDC_OCF_PSTAT_HAS_ISOP | KDC_OCF_PSTAT_HAS_CM |
	    KDC_OCF_PSTAT_HAS_SM))
		return;				/* read-only */
	if (p->has & KDC_OCF_PSTAT_HAS_ROWNERUUID) {
		if (s != KDC_OCF_DOS_RFOTM && s != KDC_OCF_DOS_SRESET)
			return;
		prow = p->rowneruuid;
	}
	if (p->has & KDC_OCF_PSTAT_HAS_DOS_S) {
		unsigned to = p->dos_s;
		if (!valid_transition(s, to))
			return;
		if ((to == KDC_OCF_DOS_RFPRO || to == KDC_OCF_DOS_RFNOP ||
		    to == KDC_OCF_DOS_SRESET) && !check_state(d, &prow))
			return;
	}
	if (p->has & KDC_OCF_PSTAT_HAS_OM)
		d->pstat.om = p->om;
	if (p->has & KDC_OCF_PSTAT_HAS_TM)
		d->pstat.tm = p->tm;
	d->pstat.rowneruuid = prow;
	d->changed = true;
	if (p->has & KDC_OCF_PSTAT_HAS_DOS_S) {
		if (p->dos_s == KDC_OCF_DOS_RESET) {
			r = kdcdev_ocf_reset(d);
		} else {
			static const char *const names[] = {
				"RESET", "RFOTM", "RFPRO", "RFNOP", "SRESET",
			};
			char msg[32];

			d->pstat.dos_s = p->dos_s;
			d->pstat.isop = p->dos_s == KDC_OCF_DOS_RFNOP;
			memcpy(msg, "pstat dos.s=", 12);
			memcpy(msg + 12, names[p->dos_s],
			    strlen(names[p->dos_s]) + 1);
			logmsg(d, msg);
		}
	}
	resp->code = r == KDC_OK ? C(2, 4) : C(5, 0);
}

static bool
cred_writable(unsigned s)
{
	return s == KDC_OCF_DOS_RFOTM || s == KDC_OCF_DOS_RFPRO ||
	    s == KDC_OCF_DOS_SRESET;
}

/* The slot a posted cred replaces (or SIZE_MAX: a new one). */
static size_t
cred_slot(const struct kdcdev_ocf *d, const struct kdc_ocf_cred *c)
{
	for (size_t i = 0; i < d->creds.n; i++) {
		const struct kdc_ocf_cred *o = &d->creds.creds[i];

		if ((c->has & KDC_OCF_CRED_HAS_CREDID) &&
		    o->credid == c->credid)
			return i;
		if (c->credtype == KDC_OCF_CREDTYPE_PSK &&
		    o->credtype == KDC_OCF_CREDTYPE_PSK &&
		    uuid_eq(&o->subject, &c->subject))
			return i;
	}
	return SIZE_MAX;
}

static void
post_cred(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
    struct kdcdev_ocf_resp *resp)
{
	struct kdc_ocf_creds *in = &d->scratch.creds;
	struct kdc_ocf_uuid row = d->creds.rowneruuid;
	unsigned s = d->pstat.dos_s;
	size_t fresh = 0;
	char uuid[KDC_OCF_UUID_TEXT + 1];
	kdc_err r;

	if (!cred_writable(s)) {
		resp->code = C(4, 3);
		return;
	}
	resp->code = C(4, 0);
	if (kdc_ocf_cred_decode(req->payload, req->payload_len, in) !=
	    KDC_OK)
		goto out;
	if (in->has & KDC_OCF_CREDS_HAS_ROWNERUUID) {
		if (s != KDC_OCF_DOS_RFOTM && s != KDC_OCF_DOS_SRESET &&
		    !uuid_eq(&in->rowneruuid, &row))
			goto out;
		row = in->rowneruuid;
	}
	kdc_ocf_uuid_format(&d->doxm.deviceuuid, uuid);
	/* check them all before anything is applied */
	for (size_t i = 0; i < in->n; i++) {
		struct kdc_ocf_cred *c = &in->creds[i];

		if (!(c->has & KDC_OCF_CRED_HAS_CREDTYPE) ||
		    !(c->has & KDC_OCF_CRED_HAS_SUBJECT))
			goto out;
		if (c->credtype == KDC_OCF_CREDTYPE_PSK) {
			if (c->subject_any || uuid_nil(&c->subject))
				goto out;
			if (uuid_eq(&c->subject, &row) &&
			    (!c->privatedata.present ||
			    c->privatedata.len == 0)) {
				if (!d->doc_active || d->key_block_len == 0)
					goto out;
			} else if (!c->privatedata.present ||
			    c->privatedata.text ||
			    (c->privatedata.encoding != KDC_OCF_ENC_RAW &&
			    c->privatedata.encoding != KDC_OCF_ENC_NONE) ||
			    (c->privatedata.len != 16 &&
			    c->privatedata.len != 32)) {
				goto out;
			}
		} else if (c->credtype == KDC_OCF_CREDTYPE_CERT) {
			if ((c->credusage != KDC_OCF_USAGE_TRUSTCA &&
			    c->credusage != KDC_OCF_USAGE_CERT) ||
			    !c->publicdata.present ||
			    c->publicdata.len == 0 ||
			    c->privatedata.len != 0 ||
			    d->ops.cert_check == NULL ||
			    d->ops.cert_check(d->ops.arg, c->credusage,
			    c->publicdata.data, c->publicdata.len, d->key,
			    d->key_len, uuid) != KDC_OK)
				goto out;
		} else {
			goto out;
		}
		if (cred_slot(d, c) == SIZE_MAX)
			fresh++;
	}
	if (d->creds.n + fresh > KDC_OCF_CREDS_MAX) {
		resp->code = C(5, 0);
		goto out;
	}
	d->creds.rowneruuid = row;
	for (size_t i = 0; i < in->n; i++) {
		struct kdc_ocf_cred *c = &in->creds[i];
		size_t slot = cred_slot(d, c);

		if (c->credtype == KDC_OCF_CREDTYPE_PSK &&
		    uuid_eq(&c->subject, &row) && c->privatedata.len == 0) {
			if ((r = kdcdev_ocf_owner_psk(d,
			    c->privatedata.data)) != KDC_OK) {
				resp->code = C(5, 0);
				goto out;
			}
			c->privatedata.present = true;
			c->privatedata.text = false;
			c->privatedata.encoding = KDC_OCF_ENC_RAW;
			c->privatedata.len = 16;
			logmsg(d, "cred: owner PSK derived");
		} else {
			logmsg(d, c->credtype == KDC_OCF_CREDTYPE_PSK ?
			    "cred: PSK stored" : "cred: certificate stored");
		}
		if (slot == SIZE_MAX) {
			slot = d->creds.n++;
			if (!(c->has & KDC_OCF_CRED_HAS_CREDID))
				c->credid = d->next_credid;
		} else if (!(c->has & KDC_OCF_CRED_HAS_CREDID)) {
			c->credid = d->creds.creds[slot].credid;
		}
		c->has |= KDC_OCF_CRED_HAS_CREDID;
		if (c->credid >= d->next_credid)
			d->next_credid = c->credid + 1;
		d->creds.creds[slot] = *c;
	}
	d->changed = true;
	resp->code = C(2, 4);
out:
	kdc_wipe(in, sizeof(*in));
}

static void
get_cred(struct kdcdev_ocf *d, struct kdcdev_ocf_resp *resp)
{
	struct kdc_ocf_creds *c = &d->scratch.creds;
	size_t len = 0;
	kdc_err r;

	*c = d->creds;
	c->has = KDC_OCF_CREDS_HAS_CREDS | KDC_OCF_CREDS_HAS_ROWNERUUID;
	for (size_t i = 0; i < c->n; i++) {
		/* never a secret on the wire: the PSK's data goes empty */
		struct kdc_ocf_privdata *p = &c->creds[i].privatedata;
		if (p->present) {
			kdc_wipe(p->data, sizeof(p->data));
			p->len = 0;
		}
	}
	r = kdc_ocf_cred_encode(c, resp->out, resp->out_cap, &len);
	kdc_wipe(c, sizeof(*c));
	resp_enc(resp, r, len);
}

static void
del_cred_acl(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
    enum res_id r, struct kdcdev_ocf_resp *resp)
{
	char q[24];
	int64_t id = 0;
	bool one = query_get(req->query, r == R_CRED ? "credid" : "aceid", q,
	    sizeof(q));
	size_t n = r == R_CRED ? d->creds.n : d->acl2.n, kept = 0;

	if (d->pstat.dos_s == KDC_OCF_DOS_RFNOP) {
		resp->code = C(4, 3);
		return;
	}
	if (one && !parse_id(q, &id)) {
		resp->code = C(4, 0);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t cur = r == R_CRED ? d->creds.creds[i].credid :
		    d->acl2.aces[i].aceid;
		if (one && cur != id) {
			if (kept != i) {
				if (r == R_CRED)
					d->creds.creds[kept] =
					    d->creds.creds[i];
				else
					d->acl2.aces[kept] = d->acl2.aces[i];
			}
			kept++;
		}
	}
	for (size_t i = kept; i < n; i++) {
		if (r == R_CRED)
			kdc_wipe(&d->creds.creds[i], sizeof(d->creds.creds[i]));
		else
			memset(&d->acl2.aces[i], 0, sizeof(d->acl2.aces[i]));
	}
	if (r == R_CRED)
		d->creds.n = kept;
	else
		d->acl2.n = kept;
	if (one && kept == n) {
		resp->code = C(4, 4);
		return;
	}
	d->changed = true;
	logmsg(d, r == R_CRED ? "cred: deleted" : "acl2: deleted");
	resp->code = C(2, 2);
}

static void
post_acl2(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
    struct kdcdev_ocf_resp *resp)
{
	struct kdc_ocf_acl2 *in = &d->scratch.acl2;
	unsigned s = d->pstat.dos_s;
	size_t fresh = 0;

	if (s == KDC_OCF_DOS_RFNOP) {
		resp->code = C(4, 3);
		return;
	}
	resp->code = C(4, 0);
	if (kdc_ocf_acl2_decode(req->payload, req->payload_len, in) != KDC_OK)
		return;
	if ((in->has & KDC_OCF_ACL2_HAS_ROWNERUUID) &&
	    s != KDC_OCF_DOS_RFOTM && s != KDC_OCF_DOS_SRESET &&
	    !uuid_eq(&in->rowneruuid, &d->acl2.rowneruuid))
		return;
	for (size_t i = 0; i < in->n; i++) {
		const struct kdc_ocf_ace *a = &in->aces[i];
		bool found = false;

		if (a->subject == KDC_OCF_SUBJ_NONE || a->n_res == 0 ||
		    !(a->has & KDC_OCF_ACE_HAS_PERMISSION))
			return;
		for (size_t j = 0; j < d->acl2.n && !found; j++)
			found = (a->has & KDC_OCF_ACE_HAS_ACEID) &&
			    d->acl2.aces[j].aceid == a->aceid;
		if (!found)
			fresh++;
	}
	if (d->acl2.n + fresh > KDC_OCF_ACES_MAX) {
		resp->code = C(5, 0);
		return;
	}
	if (in->has & KDC_OCF_ACL2_HAS_ROWNERUUID)
		d->acl2.rowneruuid = in->rowneruuid;
	for (size_t i = 0; i < in->n; i++) {
		struct kdc_ocf_ace *a = &in->aces[i];
		size_t slot = SIZE_MAX;

		for (size_t j = 0; j < d->acl2.n; j++)
			if ((a->has & KDC_OCF_ACE_HAS_ACEID) &&
			    d->acl2.aces[j].aceid == a->aceid)
				slot = j;
		if (slot == SIZE_MAX) {
			slot = d->acl2.n++;
			if (!(a->has & KDC_OCF_ACE_HAS_ACEID))
				a->aceid = d->next_aceid;
		}
		a->has |= KDC_OCF_ACE_HAS_ACEID;
		if (a->aceid >= d->next_aceid)
			d->next_aceid = a->aceid + 1;
		d->acl2.aces[slot] = *a;
	}
	d->changed = true;
	logmsg(d, "acl2: written");
	resp->code = C(2, 4);
}

static void
get_csr(struct kdcdev_ocf *d, struct kdcdev_ocf_resp *resp)
{
	char pem[1200], uuid[KDC_OCF_UUID_TEXT + 1];
	size_t n = sizeof(pem);
	struct kdc_wr w;

	resp->code = C(5, 0);
	if (d->ops.csr == NULL || d->key_len == 0)
		return;
	kdc_ocf_uuid_format(&d->doxm.deviceuuid, uuid);
	if (d->ops.csr(d->ops.arg, d->key, d->key_len, uuid, pem, &n) !=
	    KDC_OK || n > sizeof(pem))
		return;
	kdc_wr_init(&w, resp->out, resp->out_cap);
	kdc_cbor_write_map(&w, 2);
	wr_text(&w, "csr");
	kdc_cbor_write_tstr(&w, pem, n);
	wr_text(&w, "encoding");
	wr_text(&w, "oic.sec.encoding.pem");
	resp_wr(resp, &w, C(2, 5));
}

/* A small map body: sdi {"uuid","name","priv"} or light {"value"}. */
static kdc_err
small_map(const struct kdcdev_ocf_req *req, bool sdi,
    struct kdc_ocf_uuid *uuid, char *name, bool *flag, unsigned *seen)
{
	struct kdc_rd rd;
	struct kdc_cbor_iter it;
	char key[16], text[KDC_OCF_UUID_TEXT + 1];
	size_t n;
	kdc_err r;

	*seen = 0;
	if (req->payload_len == 0)
		return KDC_ERR_TRUNCATED;
	kdc_rd_init(&rd, req->payload, req->payload_len);
	if ((r = kdc_cbor_iter_map(&rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(&rd, &it)) {
		if ((r = kdc_cbor_read_tstr_copy(&rd, key, sizeof(key), &n)) !=
		    KDC_OK) {
			if (r == KDC_ERR_TOO_LARGE) {
				/* a long key: not ours, skip its value */
				if ((r = kdc_cbor_skip_indef(&rd, 8)) != KDC_OK)
					return r;
				continue;
			}
			return r;
		}
		if (!sdi && strcmp(key, "value") == 0) {
			if ((r = kdc_cbor_read_bool(&rd, flag)) != KDC_OK)
				return r;
			*seen |= 1u;
		} else if (sdi && strcmp(key, "priv") == 0) {
			if ((r = kdc_cbor_read_bool(&rd, flag)) != KDC_OK)
				return r;
			*seen |= 1u;
		} else if (sdi && strcmp(key, "uuid") == 0) {
			if ((r = kdc_cbor_read_tstr_copy(&rd, text,
			    sizeof(text), &n)) != KDC_OK ||
			    (r = kdc_ocf_uuid_parse(text, n, uuid)) != KDC_OK)
				return r == KDC_ERR_TOO_LARGE ?
				    KDC_ERR_MALFORMED : r;
			*seen |= 2u;
		} else if (sdi && strcmp(key, "name") == 0) {
			if ((r = kdc_cbor_read_tstr_copy(&rd, name,
			    KDCDEV_OCF_NAME_MAX, &n)) != KDC_OK)
				return r;
			if (strlen(name) != n)
				return KDC_ERR_MALFORMED;	/* a NUL */
			*seen |= 4u;
		} else if ((r = kdc_cbor_skip_indef(&rd, 8)) != KDC_OK) {
			return r;
		}
	}
	if ((r = kdc_rd_err(&rd)) != KDC_OK)
		return r;
	return kdc_rd_at_end(&rd) ? KDC_OK : KDC_ERR_TRAILING;
}

static void
sdi_or_light(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
    enum res_id r, struct kdcdev_ocf_resp *resp)
{
	struct kdc_wr w;
	struct kdc_ocf_uuid u;
	char name[KDCDEV_OCF_NAME_MAX];
	bool flag = false;
	unsigned seen;

	if (req->method == KDCDEV_GET) {
		kdc_wr_init(&w, resp->out, resp->out_cap);
		if (r == R_LIGHT) {
			kdc_cbor_write_map(&w, 1);
			wr_text(&w, "value");
			kdc_cbor_write_bool(&w, d->light);
		} else {
			kdc_cbor_write_map(&w, 3);
			wr_text(&w, "uuid");
			wr_uuid(&w, &d->sdi_uuid);
			wr_text(&w, "name");
			wr_text(&w, d->sdi_name);
			wr_text(&w, "priv");
			kdc_cbor_write_bool(&w, d->sdi_priv);
		}
		resp_wr(resp, &w, C(2, 5));
		return;
	}
	memset(name, 0, sizeof(name));
	memset(&u, 0, sizeof(u));
	if (small_map(req, r == R_SDI, &u, name, &flag, &seen) != KDC_OK ||
	    (r == R_LIGHT && seen == 0)) {
		resp->code = C(4, 0);
		return;
	}
	if (r == R_LIGHT) {
		d->light = flag;
		logmsg(d, flag ? "light on" : "light off");
	} else {
		if (seen & 1u)
			d->sdi_priv = flag;
		if (seen & 2u)
			d->sdi_uuid = u;
		if (seen & 4u)
			memcpy(d->sdi_name, name, sizeof(name));
		d->sdi_set = true;
	}
	d->changed = true;
	resp->code = C(2, 4);
}

void
kdcdev_ocf_handle(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
    struct kdcdev_ocf_resp *resp)
{
	enum res_id rid = res_find(req->path);
	size_t len = 0;
	kdc_err r;

	resp->content_format = -1;
	resp->out_len = 0;
	if (rid == R_NONE) {
		resp->code = C(4, 4);
		return;
	}
	if (req->method > KDCDEV_DELETE ||
	    !(res_tab[rid].methods & (1u << req->method))) {
		resp->code = C(4, 5);
		return;
	}
	if (req->payload_len > 0 && req->content_format != -1 &&
	    req->content_format != KDCDEV_OCF_CF &&
	    req->content_format != KDCDEV_OCF_CF_CBOR) {
		resp->code = C(4, 15);
		return;
	}
	if (!access_res(d, req->method, rid, &req->peer)) {
		resp->code = C(4, 1);
		return;
	}
	switch (rid) {
	case R_RES:
		get_res(d, req, resp);
		break;
	case R_D:
	case R_P:
		get_d_p(d, rid, resp);
		break;
	case R_DOXM:
		if (req->method == KDCDEV_GET) {
			r = kdc_ocf_doxm_encode(&d->doxm, resp->out,
			    resp->out_cap, &len);
			resp_enc(resp, r, len);
		} else
			post_doxm(d, req, resp);
		break;
	case R_PSTAT:
		if (req->method == KDCDEV_GET) {
			r = kdc_ocf_pstat_encode(&d->pstat, resp->out,
			    resp->out_cap, &len);
			resp_enc(resp, r, len);
		} else
			post_pstat(d, req, resp);
		break;
	case R_CRED:
		if (req->method == KDCDEV_GET)
			get_cred(d, resp);
		else if (req->method == KDCDEV_DELETE)
			del_cred_acl(d, req, rid, resp);
		else
			post_cred(d, req, resp);
		break;
	case R_ACL2:
		if (req->method == KDCDEV_GET) {
			d->acl2.has = KDC_OCF_ACL2_HAS_ACLIST2 |
			    KDC_OCF_ACL2_HAS_ROWNERUUID;
			r = kdc_ocf_acl2_encode(&d->acl2, resp->out,
			    resp->out_cap, &len);
			resp_enc(resp, r, len);
		} else if (req->method == KDCDEV_DELETE) {
			del_cred_acl(d, req, rid, resp);
		} else {
			post_acl2(d, req, resp);
		}
		break;
	case R_CSR:
		get_csr(d, resp);
		break;
	case R_SDI:
	case R_LIGHT:
		sdi_or_light(d, req, rid, resp);
		break;
	case R_NONE:
		break;
	}
}
