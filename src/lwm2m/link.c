/*
 * link.c: CoRE link-format (RFC 6690 §2, Content-Format 40) as a
 * Bootstrap-Discover answer carries it (LwM2M-Core §5.2.7.3), e.g.
 *   </>;lwm2m=1.1,</0/0>,</1>;ver=1.1,</1/0>;ssid=123          (wakaama)
 *   </>;lwm2m=1.2,</0>,</0/1>;uri="coap://...",</1>,...        (Anjay)
 * Shared with the device library: no allocation, no logging, clean under
 * -Wconversion.
 *
 * The grammar is RFC 6690's: Link = link-value *("," link-value),
 * link-value = "<" URI-Reference ">" *(";" link-param), link-param =
 * parmname ["=" (ptoken / quoted-string)]. Beyond it we tolerate white
 * space (SP, HTAB, CR, LF) around the commas between links, since devices
 * pretty-print long answers; inside a link we do not.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lwm2m/codec.h"

/* ---- decoder ----------------------------------------------------------- */

void
kdc_link_rd_init(struct kdc_link_rd *rd, const uint8_t *buf, size_t len)
{
	rd->p = (const char *)buf;
	rd->left = buf == NULL ? 0 : len;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* RFC 5987 §3.2.1 / RFC 6690 parmname characters (attr-char). */
static int
is_parmchar(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* RFC 6690 §2 ptokenchar. */
static int
is_ptokenchar(char c)
{
	return is_alnum(c) ||
	    (c != '\0' && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c) != NULL);
}

static void
skip_ws(struct kdc_link_rd *rd)
{
	while (rd->left > 0 && is_ws(*rd->p)) {
		rd->p++;
		rd->left--;
	}
}

static int
peek(const struct kdc_link_rd *rd, char c)
{
	return rd->left > 0 && *rd->p == c;
}

static void
advance(struct kdc_link_rd *rd, size_t n)
{
	rd->p += n;
	rd->left -= n;
}

/* Decimal 0..65535, no leading zero. */
static int
parse_u16(const char *s, size_t n, int32_t *v)
{
	int32_t x = 0;

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (s[i] - '0');
	}
	if (x > 65535)
		return 0;
	*v = x;
	return 1;
}

/* "<" "/" | "/oid" | "/oid/iid" | "/oid/iid/rid" ">" */
static kdc_err
parse_target(struct kdc_link_rd *rd, struct kdc_link *l)
{
	int32_t *ids[3] = { &l->oid, &l->iid, &l->rid };
	const char *s;
	size_t n = 0, pos, k = 0;

	if (!peek(rd, '<'))
		return KDC_ERR_MALFORMED;
	advance(rd, 1);
	s = rd->p;
	while (n < rd->left && s[n] != '>')
		n++;
	if (n == rd->left)
		return KDC_ERR_MALFORMED;	/* no '>' */
	advance(rd, n + 1);
	if (n == 1 && s[0] == '/')
		return KDC_OK;			/* </> */
	pos = 0;
	while (pos < n) {
		size_t start;

		if (k == 3 || s[pos] != '/')
			return KDC_ERR_MALFORMED;
		start = ++pos;
		while (pos < n && s[pos] != '/')
			pos++;
		if (!parse_u16(s + start, pos - start, ids[k++]))
			return KDC_ERR_MALFORMED;
	}
	return k > 0 ? KDC_OK : KDC_ERR_MALFORMED;
}

/*
 * A parameter value: ptoken or quoted-string (RFC 6690 §2; quoted-pair
 * "\" CHAR from RFC 2616 §2.2). *v, *n are the raw text, quotes and
 * backslashes included; *quoted tells which form it was.
 */
static kdc_err
parse_value(struct kdc_link_rd *rd, const char **v, size_t *n, int *quoted)
{
	size_t i = 0;

	*v = rd->p;
	*quoted = peek(rd, '"');
	if (!*quoted) {
		while (i < rd->left && is_ptokenchar(rd->p[i]))
			i++;
		if (i == 0)
			return KDC_ERR_MALFORMED;	/* ptoken is 1*char */
		*n = i;
		advance(rd, i);
		return KDC_OK;
	}
	for (i = 1; i < rd->left; i++) {
		unsigned char c = (unsigned char)rd->p[i];

		if (c == '"') {
			*n = i + 1;
			advance(rd, i + 1);
			return KDC_OK;
		}
		if (c == '\\') {
			if (++i == rd->left)
				break;
			c = (unsigned char)rd->p[i];
			if (c > 0x7f)
				return KDC_ERR_MALFORMED;  /* CHAR is US-ASCII */
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return KDC_ERR_MALFORMED;	/* CTL */
	}
	return KDC_ERR_MALFORMED;			/* unterminated */
}

/* The value with quotes and escapes removed, into a NUL-terminated field
 * of a version number: digits and dots only. */
static kdc_err
copy_version(const char *v, size_t n, int quoted, char *dst, size_t cap)
{
	size_t k = 0;

	if (quoted) {
		v++;
		n -= 2;
	}
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (quoted && c == '\\')
			c = v[++i];	/* parse_value saw a char after it */
		if (!((c >= '0' && c <= '9') || c == '.'))
			return KDC_ERR_MALFORMED;
		if (k + 1 >= cap)
			return KDC_ERR_TOO_LARGE;
		dst[k++] = c;
	}
	if (k == 0)
		return KDC_ERR_MALFORMED;
	dst[k] = '\0';
	return KDC_OK;
}

static kdc_err
parse_param(struct kdc_link_rd *rd, struct kdc_link *l)
{
	const char *name, *v = NULL;
	size_t name_len = 0, n = 0;
	int quoted = 0;
	kdc_err r;

	name = rd->p;
	while (name_len < rd->left && is_parmchar(name[name_len]))
		name_len++;
	if (name_len == 0)
		return KDC_ERR_MALFORMED;
	advance(rd, name_len);
	if (peek(rd, '=')) {
		advance(rd, 1);
		if ((r = parse_value(rd, &v, &n, &quoted)) != KDC_OK)
			return r;
	}

#define IS(lit) (name_len == sizeof(lit) - 1 && \
	    memcmp(name, lit, sizeof(lit) - 1) == 0)
	if (IS("lwm2m") || IS("ver")) {
		char *dst = IS("lwm2m") ? l->lwm2m : l->ver;

		if (v == NULL || dst[0] != '\0')
			return KDC_ERR_MALFORMED;	/* no value, or twice */
		return copy_version(v, n, quoted, dst, sizeof(l->lwm2m));
	}
	if (IS("ssid")) {
		if (v == NULL || l->ssid >= 0)
			return KDC_ERR_MALFORMED;
		if (quoted) {
			v++;
			n -= 2;
		}
		return parse_u16(v, n, &l->ssid) ? KDC_OK : KDC_ERR_MALFORMED;
	}
#undef IS
	return KDC_OK;		/* unknown attribute: skipped */
}

kdc_err
kdc_link_next(struct kdc_link_rd *rd, struct kdc_link *l)
{
	struct kdc_link_rd save = *rd;
	struct kdc_link out;
	kdc_err r;

	memset(l, 0, sizeof(*l));
	l->oid = l->iid = l->rid = l->ssid = -1;
	skip_ws(rd);
	if (rd->left == 0)
		return KDC_ERR_NOT_FOUND;
	memset(&out, 0, sizeof(out));
	out.oid = out.iid = out.rid = out.ssid = -1;
	if ((r = parse_target(rd, &out)) != KDC_OK)
		goto fail;
	while (peek(rd, ';')) {
		advance(rd, 1);
		if ((r = parse_param(rd, &out)) != KDC_OK)
			goto fail;
	}
	/* After a link: the end, or a comma and another link. A trailing
	 * comma would make the next call see a clean end: refuse it here. */
	skip_ws(rd);
	if (peek(rd, ',')) {
		advance(rd, 1);
		skip_ws(rd);
		if (!peek(rd, '<')) {
			r = KDC_ERR_MALFORMED;
			goto fail;
		}
	} else if (rd->left != 0) {
		r = KDC_ERR_MALFORMED;
		goto fail;
	}
	*l = out;
	return KDC_OK;
fail:
	*rd = save;	/* a failed read does not move the reader */
	return r;
}

/* ---- encoder ----------------------------------------------------------- */

struct wr {
	uint8_t	*p;
	size_t	 cap;
	size_t	 len;
};

static kdc_err
wr_bytes(struct wr *w, const char *s, size_t n)
{
	if (n > w->cap - w->len)
		return KDC_ERR_TOO_LARGE;
	if (n > 0)
		memcpy(w->p + w->len, s, n);
	w->len += n;
	return KDC_OK;
}

static kdc_err
wr_str(struct wr *w, const char *s)
{
	return wr_bytes(w, s, strlen(s));
}

static kdc_err
wr_u16(struct wr *w, int32_t v)
{
	char t[6];
	size_t n = sizeof(t);
	unsigned u = (unsigned)v;

	do {
		t[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	return wr_bytes(w, t + n, sizeof(t) - n);
}

/* A version as the decoder takes it: 1..7 digits and dots. */
static int
version_ok(const char *v, size_t cap)
{
	size_t n = 0;

	while (n < cap && v[n] != '\0') {
		if (!((v[n] >= '0' && v[n] <= '9') || v[n] == '.'))
			return 0;
		n++;
	}
	return n > 0 && n < cap;
}

static int
id_ok(int32_t v)
{
	return v >= 0 && v <= 65535;
}

kdc_err
kdc_link_encode(const char *lwm2m_version, const struct kdc_link *links,
    size_t n, uint8_t *out, size_t *out_len)
{
	struct wr w = { out, *out_len, 0 };
	char ver[8];
	kdc_err r;

	*out_len = 0;
	if (lwm2m_version == NULL || (n > 0 && links == NULL) ||
	    (w.cap > 0 && out == NULL) || !version_ok(lwm2m_version, sizeof(ver)))
		return KDC_ERR_INVALID_ARG;
	if ((r = wr_str(&w, "</>;lwm2m=")) != KDC_OK ||
	    (r = wr_str(&w, lwm2m_version)) != KDC_OK)
		return r;
	for (size_t k = 0; k < n; k++) {
		const struct kdc_link *l = &links[k];

		if (!id_ok(l->oid) || (l->iid != -1 && !id_ok(l->iid)) ||
		    (l->rid != -1 && (!id_ok(l->rid) || l->iid == -1)) ||
		    (l->ssid != -1 && !id_ok(l->ssid)) ||
		    (l->ver[0] != '\0' && !version_ok(l->ver, sizeof(l->ver))))
			return KDC_ERR_INVALID_ARG;
		if ((r = wr_str(&w, ",</")) != KDC_OK ||
		    (r = wr_u16(&w, l->oid)) != KDC_OK)
			return r;
		if (l->iid != -1 && ((r = wr_str(&w, "/")) != KDC_OK ||
		    (r = wr_u16(&w, l->iid)) != KDC_OK))
			return r;
		if (l->rid != -1 && ((r = wr_str(&w, "/")) != KDC_OK ||
		    (r = wr_u16(&w, l->rid)) != KDC_OK))
			return r;
		if ((r = wr_str(&w, ">")) != KDC_OK)
			return r;
		if (l->ver[0] != '\0' && ((r = wr_str(&w, ";ver=")) != KDC_OK ||
		    (r = wr_str(&w, l->ver)) != KDC_OK))
			return r;
		if (l->ssid != -1 && ((r = wr_str(&w, ";ssid=")) != KDC_OK ||
		    (r = wr_u16(&w, l->ssid)) != KDC_OK))
			return r;
	}
	*out_len = w.len;
	return KDC_OK;
}
