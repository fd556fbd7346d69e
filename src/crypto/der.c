/*
 * der.c: the DER (X.690) the enrollment path reads and writes itself.
 *
 * Reading: one element at a time, strictly: one-octet tags, definite
 * lengths in their shortest form, contents inside the input. Anything
 * else is refused, so one value has one encoding (what we sign and what
 * the store compares byte for byte).
 *
 * Writing: back to front into a buffer the caller sizes, so each
 * element's length is known when its header is written. A write that
 * does not fit marks the writer bad; the caller checks once at the end.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "crypto/crypto_int.h"

bool
der_take(struct kdc_rd *rd, uint8_t tag, struct kdc_rd *val,
    const uint8_t **el, size_t *el_len)
{
	struct kdc_rd t = *rd;	/* rd moves only on success */
	const uint8_t *p;
	uint8_t b, l0;
	size_t len, nlen;

	if (!kdc_rd_u8(&t, &b) || b != tag || !kdc_rd_u8(&t, &l0))
		return false;
	len = l0;
	if (l0 & 0x80) {
		/* long form: 1..3 length octets (our inputs are < 64 KiB),
		 * no leading zero, and only for lengths short form cannot
		 * say */
		nlen = l0 & 0x7fu;
		if (nlen == 0 || nlen > 3)
			return false;
		len = 0;
		for (size_t i = 0; i < nlen; i++) {
			if (!kdc_rd_u8(&t, &b) || (i == 0 && b == 0))
				return false;
			len = (len << 8) | b;
		}
		if (len < 0x80)
			return false;
	}
	if (!kdc_rd_view(&t, len, &p))
		return false;
	if (val != NULL)
		kdc_rd_init(val, p, len);
	len = kdc_rd_pos(&t) - kdc_rd_pos(rd);	/* the whole element */
	if (!kdc_rd_view(rd, len, &p))
		return false;			/* cannot happen: t did */
	if (el != NULL)
		*el = p;
	if (el_len != NULL)
		*el_len = len;
	return true;
}

bool
der_next(struct kdc_rd *rd, uint8_t tag, struct kdc_rd *val)
{
	return der_take(rd, tag, val, NULL, NULL);
}

/* ---- writing, back to front ------------------------------------------- */

uint8_t *
der_wr_new(struct der_wr *w, size_t cap)
{
	w->buf = kdc_malloc(cap);
	w->pos = cap;
	w->bad = w->buf == NULL;
	return w->buf;
}

void
der_put(struct der_wr *w, const void *p, size_t n)
{
	if (w->bad || n > w->pos) {
		w->bad = true;
		return;
	}
	w->pos -= n;
	memcpy(w->buf + w->pos, p, n);
}

void
der_put_hdr(struct der_wr *w, uint8_t tag, size_t len)
{
	uint8_t h[5];
	size_t n = 0;

	if (len < 0x80) {
		h[n++] = tag;
		h[n++] = (uint8_t)len;
	} else if (len <= 0xff) {
		h[n++] = tag;
		h[n++] = 0x81;
		h[n++] = (uint8_t)len;
	} else if (len <= 0xffff) {
		h[n++] = tag;
		h[n++] = 0x82;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else if (len <= 0xffffff) {
		h[n++] = tag;
		h[n++] = 0x83;
		h[n++] = (uint8_t)(len >> 16);
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		w->bad = true;
		return;
	}
	der_put(w, h, n);
}

void
der_wrap(struct der_wr *w, uint8_t tag, size_t mark)
{
	if (w->bad)
		return;
	der_put_hdr(w, tag, mark - w->pos);
}

/*
 * RFC 5280 4.1.2.5: UTCTime (YYMMDDHHMMSSZ) for the years 1950-2049,
 * GeneralizedTime (YYYYMMDDHHMMSSZ) otherwise. false if t is not in the
 * years 1-9999 (nothing can encode it).
 */
bool
der_put_time(struct der_wr *w, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char s[20];
	int year, n;

	/* 253402300799 is 9999-12-31T23:59:59Z, -62135596800 is 0001-01-01 */
	if (t < -62135596800LL || t > 253402300799LL ||
	    gmtime_r(&tt, &tm) == NULL) {
		w->bad = true;
		return false;
	}
	year = tm.tm_year + 1900;
	if (year >= 1950 && year < 2050) {
		n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ",
		    year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		der_put(w, s, (size_t)n);
		der_put_hdr(w, 0x17, (size_t)n);
	} else {
		n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", year,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
		der_put(w, s, (size_t)n);
		der_put_hdr(w, 0x18, (size_t)n);
	}
	return !w->bad;
}
