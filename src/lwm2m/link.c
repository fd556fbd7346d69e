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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lwm2m/codec.h"

/* ---- decoder ----------------------------------------------------------- */

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

static int
is_not_gt(char c)
{
	return c != '>';
}

static bool
peek_is(const struct kdc_rd *rd, char c)
{
	uint8_t b;

	return kdc_rd_peek(rd, &b) && b == (uint8_t)c;
}

/* How many bytes from rd's position satisfy ok(); rd does not move. */
static size_t
span(const struct kdc_rd *rd, int (*ok)(char))
{
	struct kdc_rd t = *rd;
	uint8_t b;
	size_t n = 0;

	while (kdc_rd_peek(&t, &b) && ok((char)b)) {
		(void)kdc_rd_skip(&t, 1);
		n++;
	}
	return n;
}

static void
skip_ws(struct kdc_rd *rd)
{
	(void)kdc_rd_skip(rd, span(rd, is_ws));
}

/* Take n bytes (span() counted them) as text. */
static const char *
take(struct kdc_rd *rd, size_t n)
{
	const uint8_t *p;

	return kdc_rd_view(rd, n, &p) ? (const char *)p : NULL;
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
parse_target(struct kdc_rd *rd, struct kdc_link *l)
{
	int32_t *ids[3] = { &l->oid, &l->iid, &l->rid };
	const char *s;
	size_t n, pos, k = 0;

	if (!peek_is(rd, '<'))
		return KDC_ERR_MALFORMED;
	(void)kdc_rd_skip(rd, 1);
	n = span(rd, is_not_gt);
	if (n == kdc_rd_remaining(rd))
		return KDC_ERR_MALFORMED;	/* no '>' */
	if ((s = take(rd, n)) == NULL || !kdc_rd_skip(rd, 1))
		return KDC_ERR_MALFORMED;
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
parse_value(struct kdc_rd *rd, const char **v, size_t *n, int *quoted)
{
	struct kdc_rd t;
	size_t i;
	uint8_t c;

	*quoted = peek_is(rd, '"');
	if (!*quoted) {
		if ((i = span(rd, is_ptokenchar)) == 0)
			return KDC_ERR_MALFORMED;	/* ptoken is 1*char */
		*n = i;
		*v = take(rd, i);
		return KDC_OK;
	}
	/* Scan a copy for the closing quote, then take the whole string. */
	t = *rd;
	(void)kdc_rd_skip(&t, 1);
	for (i = 1; kdc_rd_u8(&t, &c); i++) {
		if (c == '"') {
			*n = i + 1;
			*v = take(rd, i + 1);
			return KDC_OK;
		}
		if (c == '\\') {
			if (!kdc_rd_u8(&t, &c))
				break;
			i++;
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
parse_param(struct kdc_rd *rd, struct kdc_link *l)
{
	const char *name, *v = NULL;
	size_t name_len, n = 0;
	int quoted = 0;
	kdc_err r;

	if ((name_len = span(rd, is_parmchar)) == 0 ||
	    (name = take(rd, name_len)) == NULL)
		return KDC_ERR_MALFORMED;
	if (peek_is(rd, '=')) {
		(void)kdc_rd_skip(rd, 1);
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
kdc_link_next(struct kdc_rd *rd, struct kdc_link *l)
{
	struct kdc_rd in;	/* a failed read does not move rd */
	struct kdc_link out;
	kdc_err r;

	memset(l, 0, sizeof(*l));
	l->oid = l->iid = l->rid = l->ssid = -1;
	if ((r = kdc_rd_err(rd)) != KDC_OK)
		return r;
	skip_ws(rd);
	if (kdc_rd_at_end(rd))
		return KDC_ERR_NOT_FOUND;
	in = *rd;
	memset(&out, 0, sizeof(out));
	out.oid = out.iid = out.rid = out.ssid = -1;
	if ((r = parse_target(&in, &out)) != KDC_OK)
		return r;
	while (peek_is(&in, ';')) {
		(void)kdc_rd_skip(&in, 1);
		if ((r = parse_param(&in, &out)) != KDC_OK)
			return r;
	}
	/* After a link: the end, or a comma and another link. A trailing
	 * comma would make the next call see a clean end: refuse it here. */
	skip_ws(&in);
	if (peek_is(&in, ',')) {
		(void)kdc_rd_skip(&in, 1);
		skip_ws(&in);
		if (!peek_is(&in, '<'))
			return KDC_ERR_MALFORMED;
	} else if (!kdc_rd_at_end(&in))
		return KDC_ERR_MALFORMED;
	*rd = in;
	*l = out;
	return KDC_OK;
}

/* ---- encoder ----------------------------------------------------------- */

static bool
wr_u16(struct kdc_wr *w, int32_t v)
{
	char t[6];
	size_t n = sizeof(t);
	unsigned u = (unsigned)v;

	do {
		t[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	return kdc_wr_bytes(w, t + n, sizeof(t) - n);
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
	struct kdc_wr w;
	char ver[8];

	if ((*out_len > 0 && out == NULL) || lwm2m_version == NULL ||
	    (n > 0 && links == NULL) || !version_ok(lwm2m_version, sizeof(ver))) {
		*out_len = 0;
		return KDC_ERR_INVALID_ARG;
	}
	kdc_wr_init(&w, out, *out_len);
	*out_len = 0;
	kdc_wr_str(&w, "</>;lwm2m=");
	kdc_wr_str(&w, lwm2m_version);
	for (size_t k = 0; k < n; k++) {
		const struct kdc_link *l = &links[k];

		if (!id_ok(l->oid) || (l->iid != -1 && !id_ok(l->iid)) ||
		    (l->rid != -1 && (!id_ok(l->rid) || l->iid == -1)) ||
		    (l->ssid != -1 && !id_ok(l->ssid)) ||
		    (l->ver[0] != '\0' && !version_ok(l->ver, sizeof(l->ver))))
			return KDC_ERR_INVALID_ARG;
		/* the writer's error is sticky: check once per link */
		kdc_wr_str(&w, ",</");
		wr_u16(&w, l->oid);
		if (l->iid != -1) {
			kdc_wr_str(&w, "/");
			wr_u16(&w, l->iid);
		}
		if (l->rid != -1) {
			kdc_wr_str(&w, "/");
			wr_u16(&w, l->rid);
		}
		kdc_wr_str(&w, ">");
		if (l->ver[0] != '\0') {
			kdc_wr_str(&w, ";ver=");
			kdc_wr_str(&w, l->ver);
		}
		if (l->ssid != -1) {
			kdc_wr_str(&w, ";ssid=");
			wr_u16(&w, l->ssid);
		}
		if (kdc_wr_err(&w) != KDC_OK)
			return kdc_wr_err(&w);
	}
	*out_len = kdc_wr_len(&w);
	return KDC_OK;
}
