/*
 * objects.c: the Security (/0) and Server (/1) objects, the sticky error,
 * logging, and the Bootstrap Server's requests (LwM2M 1.1 Core §5.2.7,
 * §6.1.7): Discover, Delete, Write (TLV / SenML-CBOR), Finish.
 */
#include <stdio.h>
#include <string.h>

#include "kdcdev_int.h"
#include "lwm2m/codec.h"

/* ==== context, errors, logging ========================================== */

void
kdcdev_logf(const struct kdcdev_lwm2m *c, enum kdcdev_log_level lvl,
    const char *func, const char *fmt, ...)
{
	char line[256];
	int n;
	va_list ap;

	if (c == NULL || c->log == NULL)
		return;
	n = snprintf(line, sizeof(line), "%s: ", func);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	c->log(c->log_arg, lvl, line);
}

kdc_err
kdcdev_init(struct kdcdev_lwm2m *c, const char *ep)
{
	size_t n;

	kdc_wipe(c, sizeof(*c));
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
		c->sec[i].ssid = -1;
	if (ep == NULL || (n = strlen(ep)) == 0 || n >= sizeof(c->ep))
		return kdcdev_fail(c, KDC_ERR_INVALID_ARG);
	memcpy(c->ep, ep, n + 1);
	return KDC_OK;
}

void
kdcdev_wipe(struct kdcdev_lwm2m *c)
{
	kdc_wipe(c, sizeof(*c));
}

void
kdcdev_set_log(struct kdcdev_lwm2m *c, kdcdev_log_fn fn, void *arg)
{
	c->log = fn;
	c->log_arg = arg;
}

kdc_err
kdcdev_fail(struct kdcdev_lwm2m *c, kdc_err err)
{
	if (c->err == KDC_OK && err != KDC_OK) {
		c->err = err;
		kdcdev_log_debug(c, "sticky error: %s", kdc_err_str(err));
	}
	return c->err;
}

kdc_err
kdcdev_get_err(const struct kdcdev_lwm2m *c)
{
	return c->err;
}

void
kdcdev_clear_err(struct kdcdev_lwm2m *c)
{
	c->err = KDC_OK;
}

/* ==== object helpers ===================================================== */

static int
sec_find(const struct kdcdev_lwm2m *c, uint16_t iid)
{
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
		if (c->sec[i].used && c->sec[i].iid == iid)
			return (int)i;
	return -1;
}

static int
srv_find(const struct kdcdev_lwm2m *c, uint16_t iid)
{
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++)
		if (c->srv[i].used && c->srv[i].iid == iid)
			return (int)i;
	return -1;
}

static size_t
sec_count(const struct kdcdev_lwm2m *c)
{
	size_t n = 0;

	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
		n += c->sec[i].used ? 1 : 0;
	return n;
}

static size_t
srv_count(const struct kdcdev_lwm2m *c)
{
	size_t n = 0;

	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++)
		n += c->srv[i].used ? 1 : 0;
	return n;
}

static void
sec_clear(struct kdcdev_security *s)
{
	kdc_wipe(s, sizeof(*s));
	s->ssid = -1;
}

static void
srv_clear(struct kdcdev_server *s)
{
	kdc_wipe(s, sizeof(*s));
}

/* A new instance with the defaults of LwM2M 1.1 Appendix E. */
static struct kdcdev_security *
sec_new(struct kdcdev_lwm2m *c, uint16_t iid)
{
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
		struct kdcdev_security *s = &c->sec[i];
		if (s->used)
			continue;
		sec_clear(s);
		s->used = 1;
		s->iid = iid;
		s->mode = KDCDEV_MODE_NOSEC;
		return s;
	}
	return NULL;
}

static struct kdcdev_server *
srv_new(struct kdcdev_lwm2m *c, uint16_t iid)
{
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++) {
		struct kdcdev_server *s = &c->srv[i];
		if (s->used)
			continue;
		srv_clear(s);
		s->used = 1;
		s->iid = iid;
		s->lifetime = 86400;
		s->notif_storing = 1;
		memcpy(s->binding, "U", 2);
		return s;
	}
	return NULL;
}

int
kdcdev_bootstrap_account(const struct kdcdev_lwm2m *c)
{
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
		if (c->sec[i].used && c->sec[i].bootstrap)
			return (int)i;
	return -1;
}

kdc_err
kdcdev_set_bootstrap_account(struct kdcdev_lwm2m *c, uint16_t iid,
    const char *uri, enum kdcdev_mode mode, const uint8_t *ident,
    size_t ident_len, const uint8_t *server_key, size_t server_key_len,
    const uint8_t *secret, size_t secret_len)
{
	struct kdcdev_security *s;
	size_t ulen;

	if (c->err != KDC_OK)
		return c->err;
	if (uri == NULL || (mode != KDCDEV_MODE_PSK && mode != KDCDEV_MODE_RPK &&
	    mode != KDCDEV_MODE_CERT && mode != KDCDEV_MODE_NOSEC))
		return KDC_ERR_INVALID_ARG;
	if ((ulen = strlen(uri)) >= KDCDEV_URI_MAX ||
	    ident_len > KDCDEV_IDENTITY_MAX ||
	    server_key_len > KDCDEV_SERVER_KEY_MAX ||
	    secret_len > KDCDEV_SECRET_MAX)
		return KDC_ERR_TOO_LARGE;
	if (kdcdev_bootstrap_account(c) >= 0 || sec_find(c, iid) >= 0)
		return KDC_ERR_EXISTS;
	if ((s = sec_new(c, iid)) == NULL)
		return KDC_ERR_TOO_LARGE;
	s->bootstrap = 1;
	s->mode = (uint8_t)mode;
	memcpy(s->uri, uri, ulen + 1);
	if (ident_len > 0)
		memcpy(s->ident, ident, ident_len);
	s->ident_len = (uint16_t)ident_len;
	if (server_key_len > 0)
		memcpy(s->server_key, server_key, server_key_len);
	s->server_key_len = (uint16_t)server_key_len;
	if (secret_len > 0)
		memcpy(s->secret, secret, secret_len);
	s->secret_len = (uint16_t)secret_len;
	return KDC_OK;
}

kdc_err
kdcdev_dm_account(const struct kdcdev_lwm2m *c, size_t *sec_idx,
    size_t *srv_idx)
{
	*sec_idx = *srv_idx = 0;
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
		const struct kdcdev_security *s = &c->sec[i];
		if (!s->used || s->bootstrap || s->ssid < 1)
			continue;
		for (size_t j = 0; j < KDCDEV_MAX_SERVER; j++) {
			if (c->srv[j].used && c->srv[j].ssid == s->ssid) {
				*sec_idx = i;
				*srv_idx = j;
				return KDC_OK;
			}
		}
	}
	return KDC_ERR_NOT_FOUND;
}

/* ==== request path ======================================================= */

/* A Uri-Path segment as an LwM2M id 0..65535; -1 if it is not one. */
static int32_t
seg_id(const char *s, size_t n)
{
	uint32_t v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	return v <= 65535 ? (int32_t)v : -1;
}

/* The request's /oid[/iid[/rid]] in ids[]; KDC_ERR_NOT_FOUND when a
 * segment is not a number. */
static kdc_err
req_ids(const struct kdcdev_req *req, int32_t ids[3], size_t *n)
{
	ids[0] = ids[1] = ids[2] = -1;
	*n = 0;
	if (req->path_too_long || req->nseg > 3)
		return KDC_ERR_NOT_FOUND;
	for (size_t i = 0; i < req->nseg; i++)
		if ((ids[i] = seg_id(req->seg[i], req->seg_len[i])) < 0)
			return KDC_ERR_NOT_FOUND;
	*n = req->nseg;
	return KDC_OK;
}

/* ==== Bootstrap-Write ==================================================== */

/* A value as either codec delivers it: TLV gives raw bytes whose type the
 * resource id decides, SenML gives a typed value. */
struct val {
	bool			 typed;		/* SenML */
	enum kdc_lwm2m_type	 type;
	int64_t			 i;
	const uint8_t		*bytes;
	size_t			 len;
};

static kdc_err
val_int(const struct val *v, int64_t lo, int64_t hi, int64_t *out)
{
	kdc_err r;

	if (v->typed) {
		if (v->type != KDC_LWM2M_INT)
			return KDC_ERR_MALFORMED;
		*out = v->i;
	} else {
		struct kdc_tlv t = { 3, 0, v->bytes, v->len };
		if ((r = kdc_tlv_int(&t, out)) != KDC_OK)
			return r;
	}
	return (*out < lo || *out > hi) ? KDC_ERR_MALFORMED : KDC_OK;
}

static kdc_err
val_bool(const struct val *v, uint8_t *out)
{
	int b = 0;
	kdc_err r;

	if (v->typed) {
		if (v->type != KDC_LWM2M_BOOL)
			return KDC_ERR_MALFORMED;
		b = v->i != 0;
	} else {
		struct kdc_tlv t = { 3, 0, v->bytes, v->len };
		if ((r = kdc_tlv_bool(&t, &b)) != KDC_OK)
			return r;
	}
	*out = b ? 1 : 0;
	return KDC_OK;
}

/* Bytes of a string (text) or opaque resource, at most max bytes. */
static kdc_err
val_bytes(const struct val *v, bool text, size_t max)
{
	if (v->typed && v->type != KDC_LWM2M_STRING &&
	    v->type != KDC_LWM2M_OPAQUE)
		return KDC_ERR_MALFORMED;
	if (v->len > max)
		return KDC_ERR_TOO_LARGE;
	if (text && v->len > 0 && memchr(v->bytes, 0, v->len) != NULL)
		return KDC_ERR_MALFORMED;
	return KDC_OK;
}

struct wctx {
	struct kdcdev_lwm2m	*c;
	int32_t			 want[3];	/* request path; -1 = any */
	bool			 apply;		/* false: check only */
	/* check pass: instances the write would create */
	uint16_t		 new_iid[KDCDEV_MAX_SECURITY + KDCDEV_MAX_SERVER];
	uint16_t		 new_oid[KDCDEV_MAX_SECURITY + KDCDEV_MAX_SERVER];
	size_t			 nnew;
	size_t			 nvals;
};

/* Check pass: would (oid, iid) need a new slot, and is there one? */
static kdc_err
check_slot(struct wctx *w, uint16_t oid, uint16_t iid)
{
	size_t have, max, pending = 0;

	if ((oid == 0 ? sec_find(w->c, iid) : srv_find(w->c, iid)) >= 0)
		return KDC_OK;
	for (size_t i = 0; i < w->nnew; i++) {
		if (w->new_oid[i] == oid && w->new_iid[i] == iid)
			return KDC_OK;
		pending += w->new_oid[i] == oid ? 1 : 0;
	}
	have = oid == 0 ? sec_count(w->c) : srv_count(w->c);
	max = oid == 0 ? KDCDEV_MAX_SECURITY : KDCDEV_MAX_SERVER;
	if (have + pending >= max || w->nnew >= sizeof(w->new_iid) /
	    sizeof(w->new_iid[0]))
		return KDC_ERR_NOMEM;
	w->new_oid[w->nnew] = oid;
	w->new_iid[w->nnew] = iid;
	w->nnew++;
	return KDC_OK;
}

static kdc_err
write_sec(struct wctx *w, uint16_t iid, uint16_t rid, const struct val *v)
{
	struct kdcdev_security *s = NULL;
	int idx = sec_find(w->c, iid), bs;
	int64_t i = 0;
	uint8_t b = 0;
	kdc_err r = KDC_OK;

	if (w->apply) {
		s = idx >= 0 ? &w->c->sec[idx] : sec_new(w->c, iid);
		if (s == NULL)		/* the check pass ruled this out */
			return KDC_ERR_NOMEM;
	}
	switch (rid) {
	case 0:
		if ((r = val_bytes(v, true, KDCDEV_URI_MAX - 1)) != KDC_OK)
			return r;
		if (s != NULL) {
			if (v->len > 0)
				memcpy(s->uri, v->bytes, v->len);
			s->uri[v->len] = '\0';
		}
		break;
	case 1:
		if ((r = val_bool(v, &b)) != KDC_OK)
			return r;
		/* At most one BS account (Core §E.1), and it stays one. */
		bs = kdcdev_bootstrap_account(w->c);
		if (bs >= 0 && w->c->sec[bs].iid != iid && b)
			return KDC_ERR_MALFORMED;
		if (bs >= 0 && w->c->sec[bs].iid == iid && !b)
			return KDC_ERR_MALFORMED;
		if (s != NULL)
			s->bootstrap = b;
		break;
	case 2:
		if ((r = val_int(v, 0, KDCDEV_MODE_EST, &i)) != KDC_OK)
			return r;
		if (s != NULL)
			s->mode = (uint8_t)i;
		break;
	case 3:
		if ((r = val_bytes(v, false, KDCDEV_IDENTITY_MAX)) != KDC_OK)
			return r;
		if (s != NULL) {
			if (v->len > 0)
				memcpy(s->ident, v->bytes, v->len);
			s->ident_len = (uint16_t)v->len;
		}
		break;
	case 4:
		if ((r = val_bytes(v, false, KDCDEV_SERVER_KEY_MAX)) != KDC_OK)
			return r;
		if (s != NULL) {
			if (v->len > 0)
				memcpy(s->server_key, v->bytes, v->len);
			s->server_key_len = (uint16_t)v->len;
		}
		break;
	case 5:
		if ((r = val_bytes(v, false, KDCDEV_SECRET_MAX)) != KDC_OK)
			return r;
		if (s != NULL) {
			kdc_wipe(s->secret, sizeof(s->secret));
			if (v->len > 0)
				memcpy(s->secret, v->bytes, v->len);
			s->secret_len = (uint16_t)v->len;
		}
		break;
	case 10:
		if ((r = val_int(v, 1, 65534, &i)) != KDC_OK)
			return r;
		if (s != NULL)
			s->ssid = (int32_t)i;
		break;
	case 11:
	case 12:
		if ((r = val_int(v, 0, UINT32_MAX, &i)) != KDC_OK)
			return r;
		if (s != NULL && rid == 11)
			s->holdoff = (uint32_t)i;
		else if (s != NULL)
			s->bs_timeout = (uint32_t)i;
		break;
	default:
		/* SMS (6-9), matching type, SNI, cert usage, ciphersuite,
		 * OSCORE (13-17): optional, not used by this client. */
		kdcdev_log_debug(w->c, "ignoring /0/%u/%u", iid, rid);
		break;
	}
	return KDC_OK;
}

static kdc_err
write_srv(struct wctx *w, uint16_t iid, uint16_t rid, const struct val *v)
{
	struct kdcdev_server *s = NULL;
	int idx = srv_find(w->c, iid);
	int64_t i = 0;
	uint8_t b = 0;
	kdc_err r = KDC_OK;

	if (w->apply) {
		s = idx >= 0 ? &w->c->srv[idx] : srv_new(w->c, iid);
		if (s == NULL)
			return KDC_ERR_NOMEM;
	}
	switch (rid) {
	case 0:
		if ((r = val_int(v, 1, 65534, &i)) != KDC_OK)
			return r;
		if (s != NULL)
			s->ssid = (uint16_t)i;
		break;
	case 1:
	case 2:
	case 3:
	case 5:
		if ((r = val_int(v, 0, UINT32_MAX, &i)) != KDC_OK)
			return r;
		if (s == NULL)
			break;
		if (rid == 1)
			s->lifetime = (uint32_t)i;
		else if (rid == 2)
			s->pmin = (uint32_t)i;
		else if (rid == 3)
			s->pmax = (uint32_t)i;
		else
			s->disable_timeout = (uint32_t)i;
		break;
	case 6:
		if ((r = val_bool(v, &b)) != KDC_OK)
			return r;
		if (s != NULL)
			s->notif_storing = b;
		break;
	case 7:
		if ((r = val_bytes(v, true, KDCDEV_BINDING_MAX - 1)) != KDC_OK)
			return r;
		if (s != NULL) {
			if (v->len > 0)
				memcpy(s->binding, v->bytes, v->len);
			s->binding[v->len] = '\0';
		}
		break;
	default:
		kdcdev_log_debug(w->c, "ignoring /1/%u/%u", iid, rid);
		break;
	}
	return KDC_OK;
}

/* One resource value at its full path, checked against the request path. */
static kdc_err
write_one(struct wctx *w, int32_t oid, int32_t iid, int32_t rid,
    const struct val *v)
{
	kdc_err r;

	if (oid < 0 || oid > 65535 || iid < 0 || iid > 65535 || rid < 0 ||
	    rid > 65535)
		return KDC_ERR_MALFORMED;
	for (size_t k = 0; k < 3; k++) {
		int32_t have = k == 0 ? oid : k == 1 ? iid : rid;
		if (w->want[k] >= 0 && w->want[k] != have)
			return KDC_ERR_MALFORMED;	/* outside the target */
	}
	if (oid != 0 && oid != 1)
		return KDC_ERR_NOT_FOUND;
	/* 65535 is reserved as an instance id (Core §7.2.1). */
	if (iid == 65535)
		return KDC_ERR_MALFORMED;
	if (!w->apply && (r = check_slot(w, (uint16_t)oid,
	    (uint16_t)iid)) != KDC_OK)
		return r;
	w->nvals++;
	if (oid == 0)
		return write_sec(w, (uint16_t)iid, (uint16_t)rid, v);
	return write_srv(w, (uint16_t)iid, (uint16_t)rid, v);
}

/* TLV resources of one instance (kind 3); kind 2 (multiple resource, e.g.
 * /0/x/16 ciphersuites) is skipped, as is every resource we do not use. */
static kdc_err
tlv_walk_instance(struct wctx *w, int32_t oid, int32_t iid,
    const uint8_t *buf, size_t len)
{
	struct kdc_rd rd;
	struct kdc_tlv t;
	kdc_err r;

	kdc_rd_init(&rd, buf, len);
	while ((r = kdc_tlv_next(&rd, &t)) == KDC_OK) {
		struct val v = { false, KDC_LWM2M_OPAQUE, 0, t.value, t.len };
		if (t.kind == 3)
			r = write_one(w, oid, iid, t.id, &v);
		else if (t.kind == 2)
			r = KDC_OK;
		else
			r = KDC_ERR_MALFORMED;
		if (r != KDC_OK)
			return r;
	}
	return r == KDC_ERR_NOT_FOUND ? KDC_OK : r;
}

static kdc_err
tlv_walk(struct wctx *w, const uint8_t *buf, size_t len)
{
	struct kdc_rd rd;
	struct kdc_tlv t;
	kdc_err r;

	if (w->want[1] >= 0) {
		/* /oid/iid[/rid]: resources, or one instance wrapper */
		kdc_rd_init(&rd, buf, len);
		if ((r = kdc_tlv_next(&rd, &t)) != KDC_OK)
			return r == KDC_ERR_NOT_FOUND ? KDC_ERR_MALFORMED : r;
		if (t.kind == 0) {
			if (t.id != w->want[1] || !kdc_rd_at_end(&rd))
				return KDC_ERR_MALFORMED;
			return tlv_walk_instance(w, w->want[0], t.id, t.value,
			    t.len);
		}
		return tlv_walk_instance(w, w->want[0], w->want[1], buf, len);
	}
	/* /oid: object-instance wrappers */
	kdc_rd_init(&rd, buf, len);
	while ((r = kdc_tlv_next(&rd, &t)) == KDC_OK) {
		if (t.kind != 0)
			return KDC_ERR_MALFORMED;
		if ((r = tlv_walk_instance(w, w->want[0], t.id, t.value,
		    t.len)) != KDC_OK)
			return r;
	}
	return r == KDC_ERR_NOT_FOUND ? KDC_OK : r;
}

static kdc_err
senml_rec(void *arg, const struct kdc_senml_rec *rec)
{
	struct wctx *w = arg;
	struct val v = { true, rec->type, rec->i, rec->bytes, rec->len };

	if (rec->riid >= 0) {
		/* multi-instance resources (/0/x/16): not used here */
		if (rec->oid != 0 && rec->oid != 1)
			return KDC_ERR_NOT_FOUND;
		return KDC_OK;
	}
	return write_one(w, rec->oid, rec->iid, rec->rid, &v);
}

static kdc_err
write_walk(struct wctx *w, int32_t cf, const uint8_t *buf, size_t len)
{
	if (cf == KDCDEV_CF_TLV)
		return tlv_walk(w, buf, len);
	return kdc_senml_cbor_decode(buf, len, senml_rec, w);
}

/* ==== Discover =========================================================== */

static kdc_err
discover(struct kdcdev_lwm2m *c, int32_t oid, uint8_t *out, size_t *out_len)
{
	struct kdc_link links[KDCDEV_MAX_SECURITY + KDCDEV_MAX_SERVER + 1];
	size_t n = 0;

	memset(links, 0, sizeof(links));
	if (oid < 0 || oid == 0) {
		for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
			const struct kdcdev_security *s = &c->sec[i];
			if (!s->used)
				continue;
			links[n].oid = 0;
			links[n].iid = s->iid;
			links[n].rid = -1;
			/* the BS account is the one without ssid (§2.1) */
			links[n].ssid = s->bootstrap ? -1 : s->ssid;
			n++;
		}
		if (n == 0) {
			links[n].oid = 0;
			links[n].iid = links[n].rid = links[n].ssid = -1;
			n++;
		}
	}
	if (oid < 0 || oid == 1) {
		size_t before = n;
		for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++) {
			const struct kdcdev_server *s = &c->srv[i];
			if (!s->used)
				continue;
			links[n].oid = 1;
			links[n].iid = s->iid;
			links[n].rid = -1;
			links[n].ssid = s->ssid;
			n++;
		}
		if (n == before) {
			links[n].oid = 1;
			links[n].iid = links[n].rid = links[n].ssid = -1;
			n++;
		}
	}
	return kdc_link_encode("1.1", links, n, out, out_len);
}

/* ==== Delete ============================================================= */

static uint8_t
delete_path(struct kdcdev_lwm2m *c, const int32_t ids[3], size_t n)
{
	int idx;

	if (n == 0 || (n == 1 && ids[0] == 0)) {
		for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
			if (c->sec[i].used && !c->sec[i].bootstrap)
				sec_clear(&c->sec[i]);
	}
	if (n == 0 || (n == 1 && ids[0] == 1)) {
		for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++)
			srv_clear(&c->srv[i]);
	}
	if (n == 2 && ids[0] == 0 && (idx = sec_find(c, (uint16_t)ids[1])) >= 0) {
		if (c->sec[idx].bootstrap)
			return KDCDEV_CODE(4, 0);	/* Core §6.1.7.5 */
		sec_clear(&c->sec[idx]);
	}
	if (n == 2 && ids[0] == 1 && (idx = srv_find(c, (uint16_t)ids[1])) >= 0)
		srv_clear(&c->srv[idx]);
	if (n == 3)
		return KDCDEV_CODE(4, 0);	/* resources are not deleted */
	c->bs_finished = 0;
	c->registered = 0;
	c->location[0] = '\0';
	return KDCDEV_CODE(2, 2);
}

/* ==== Finish ============================================================= */

static bool
creds_fit(const struct kdcdev_security *s)
{
	if (s->uri[0] == '\0')
		return false;
	switch (s->mode) {
	case KDCDEV_MODE_PSK:
		return s->ident_len > 0 && s->secret_len > 0;
	case KDCDEV_MODE_RPK:
	case KDCDEV_MODE_CERT:
		return s->ident_len > 0 && s->secret_len > 0 &&
		    s->server_key_len > 0;
	case KDCDEV_MODE_NOSEC:
		return s->ident_len == 0 && s->secret_len == 0;
	case KDCDEV_MODE_EST:
		/* the key and certificate come later, from EST over the
		 * bootstrap account; the server certificate now */
		return s->server_key_len > 0;
	default:
		return false;
	}
}

/* LwM2M 1.1 Core §6.1.7.6: 4.06 when the configuration is inconsistent. */
static bool
config_consistent(struct kdcdev_lwm2m *c)
{
	size_t pairs = 0;

	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
		const struct kdcdev_security *s = &c->sec[i];
		bool found = false;
		if (!s->used || s->bootstrap)
			continue;
		for (size_t j = 0; j < KDCDEV_MAX_SERVER; j++)
			found |= c->srv[j].used && s->ssid >= 1 &&
			    c->srv[j].ssid == s->ssid;
		if (!found || !creds_fit(s)) {
			kdcdev_log_info(c, "/0/%u inconsistent (ssid=%d "
			    "mode=%u)", s->iid, s->ssid, s->mode);
			return false;
		}
		pairs++;
	}
	for (size_t j = 0; j < KDCDEV_MAX_SERVER; j++) {
		bool found = false;
		if (!c->srv[j].used)
			continue;
		for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
			found |= c->sec[i].used && !c->sec[i].bootstrap &&
			    c->sec[i].ssid == c->srv[j].ssid;
		if (!found) {
			kdcdev_log_info(c, "/1/%u has no /0 instance",
			    c->srv[j].iid);
			return false;
		}
	}
	return pairs > 0;
}

/* ==== dispatch =========================================================== */

static uint8_t
err_code(kdc_err r)
{
	switch (r) {
	case KDC_OK:			return KDCDEV_CODE(2, 4);
	case KDC_ERR_TOO_LARGE:		return KDCDEV_CODE(4, 13);
	case KDC_ERR_NOT_FOUND:		return KDCDEV_CODE(4, 4);
	case KDC_ERR_UNSUPPORTED:	return KDCDEV_CODE(4, 15);
	case KDC_ERR_NOMEM:		return KDCDEV_CODE(5, 0);
	case KDC_ERR_TRUNCATED:
	case KDC_ERR_MALFORMED:
	case KDC_ERR_TRAILING:
	default:			return KDCDEV_CODE(4, 0);
	}
}

static uint8_t
handle_write(struct kdcdev_lwm2m *c, const struct kdcdev_req *req,
    const int32_t ids[3], size_t n)
{
	struct wctx w;
	kdc_err r;

	if (n == 0)
		return KDCDEV_CODE(4, 5);
	if (ids[0] != 0 && ids[0] != 1)
		return KDCDEV_CODE(4, 4);
	if (req->content_format != KDCDEV_CF_TLV &&
	    req->content_format != KDCDEV_CF_SENML_CBOR)
		return KDCDEV_CODE(4, 15);
	memset(&w, 0, sizeof(w));
	w.c = c;
	for (size_t k = 0; k < 3; k++)
		w.want[k] = ids[k];
	/* Check everything first, so a refused write changes nothing. */
	r = write_walk(&w, req->content_format, req->payload, req->payload_len);
	if (r == KDC_OK && w.nvals == 0)
		r = KDC_ERR_MALFORMED;
	if (r != KDC_OK) {
		kdcdev_log_info(c, "write /%d/%d refused: %s", ids[0], ids[1],
		    kdc_err_str(r));
		return err_code(r);
	}
	w.apply = true;
	w.nvals = 0;
	if ((r = write_walk(&w, req->content_format, req->payload,
	    req->payload_len)) != KDC_OK) {
		/* the check pass accepted the same bytes: cannot happen */
		kdcdev_fail(c, r);
		return KDCDEV_CODE(5, 0);
	}
	c->bs_finished = 0;
	kdcdev_log_debug(c, "write /%d/%d: %zu values", ids[0], ids[1],
	    w.nvals);
	return KDCDEV_CODE(2, 4);
}

void
kdcdev_bs_handle(struct kdcdev_lwm2m *c, const struct kdcdev_req *req,
    struct kdcdev_resp *resp)
{
	int32_t ids[3];
	size_t n = 0, len;
	kdc_err r;
	bool bs;

	resp->content_format = -1;
	resp->out_len = 0;
	if (c->err != KDC_OK) {
		resp->code = KDCDEV_CODE(5, 3);
		return;
	}
	bs = req->nseg == 1 && !req->path_too_long && req->seg_len[0] == 2 &&
	    memcmp(req->seg[0], "bs", 2) == 0;
	if (bs) {
		if (req->method != KDCDEV_POST) {
			resp->code = KDCDEV_CODE(4, 5);
			return;
		}
		if (!config_consistent(c)) {
			resp->code = KDCDEV_CODE(4, 6);
			return;
		}
		c->bs_finished = 1;
		kdcdev_log_info(c, "bootstrap finished");
		resp->code = KDCDEV_CODE(2, 4);
		return;
	}
	if (req_ids(req, ids, &n) != KDC_OK) {
		resp->code = KDCDEV_CODE(4, 4);
		return;
	}
	switch (req->method) {
	case KDCDEV_GET:
		if (n > 1 || (n == 1 && ids[0] != 0 && ids[0] != 1)) {
			resp->code = n == 1 ? KDCDEV_CODE(4, 4) :
			    KDCDEV_CODE(4, 5);
			return;
		}
		if (req->accept >= 0 && req->accept != KDCDEV_CF_LINK) {
			/* Bootstrap-Read is not offered; /0 never is */
			resp->code = KDCDEV_CODE(4, 5);
			return;
		}
		len = resp->out_cap;
		if ((r = discover(c, n == 1 ? ids[0] : -1, resp->out,
		    &len)) != KDC_OK) {
			kdcdev_log_warn(c, "discover: %s", kdc_err_str(r));
			resp->code = KDCDEV_CODE(5, 0);
			return;
		}
		resp->out_len = len;
		resp->content_format = KDCDEV_CF_LINK;
		resp->code = KDCDEV_CODE(2, 5);
		return;
	case KDCDEV_DELETE:
		resp->code = delete_path(c, ids, n);
		return;
	case KDCDEV_PUT:
		resp->code = handle_write(c, req, ids, n);
		return;
	default:
		resp->code = KDCDEV_CODE(4, 5);
		return;
	}
}
