/*
 * test_lwm2m_codec.c: the LwM2M payload codecs (src/lwm2m/codec.h): TLV,
 * SenML-CBOR and link-format. Vectors: tests/vectors/lwm2m/{tlv,senml,
 * link}.txt, made by gen.py next to them (sources cited there). For each
 * valid vector: every truncation, every single-byte value at every
 * position (ASan/UBSan check the reads); encoders are checked against the
 * verified bytes and by round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lwm2m/codec.h"
#include "testutil.h"

#define VEC(name) KDC_VECTORS_DIR "/lwm2m/" name ".txt"

/* A heap copy of exactly n bytes, so ASan sees any read past the input. */
static uint8_t *
exact_copy(const void *p, size_t n)
{
	uint8_t *c = malloc(n > 0 ? n : 1);

	assert_non_null(c);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

static struct kdc_vec *
load(const char *path)
{
	struct kdc_vec *v = kdc_vec_load(path);

	if (v == NULL)
		fail_msg("cannot load %s", path);
	return v;
}

/* ---- walkers: the whole-input result a vector line states ------------- */

/* Every record, nested kinds included; *ends gets the end offset of each
 * top-level record (for the truncation check), *n their count. */
static kdc_err
tlv_walk_rd(struct kdc_rd *rd, unsigned depth, size_t base, size_t *ends,
    size_t *n)
{
	struct kdc_tlv t;
	kdc_err r;

	while ((r = kdc_tlv_next(rd, &t)) == KDC_OK) {
		if (t.kind == 0 || t.kind == 2) {
			struct kdc_rd in;

			assert_true(depth < 2);
			kdc_rd_init(&in, t.value, t.len);
			if ((r = tlv_walk_rd(&in, depth + 1, base, NULL,
			    NULL)) != KDC_OK)
				fail_msg("nested record rejected after "
				    "kdc_tlv_next accepted it: %s",
				    kdc_err_name(r));
		} else {
			int64_t i;
			int b;
			uint16_t o, ii;

			(void)kdc_tlv_int(&t, &i);
			(void)kdc_tlv_bool(&t, &b);
			(void)kdc_tlv_objlnk(&t, &o, &ii);
		}
		if (ends != NULL && *n < 64)
			ends[(*n)++] = base + kdc_rd_pos(rd);
	}
	return r == KDC_ERR_NOT_FOUND ? KDC_OK : r;
}

static kdc_err
tlv_walk(const uint8_t *buf, size_t len, size_t *ends, size_t *n)
{
	struct kdc_rd rd;
	uint8_t *c = exact_copy(buf, len);
	size_t dummy = 0;
	kdc_err r;

	kdc_rd_init(&rd, c, len);
	r = tlv_walk_rd(&rd, 0, 0, ends, n != NULL ? n : &dummy);
	free(c);
	return r;
}

static kdc_err
count_rec(void *arg, const struct kdc_senml_rec *rec)
{
	(void)rec;
	(*(size_t *)arg)++;
	return KDC_OK;
}

static kdc_err
senml_walk(const uint8_t *buf, size_t len)
{
	uint8_t *c = exact_copy(buf, len);
	size_t n = 0;
	kdc_err r = kdc_senml_cbor_decode(c, len, count_rec, &n);

	free(c);
	return r;
}

static kdc_err
link_walk(const uint8_t *buf, size_t len, size_t *count)
{
	struct kdc_rd rd;
	struct kdc_link l;
	uint8_t *c = exact_copy(buf, len);
	size_t n = 0;
	kdc_err r;

	kdc_rd_init(&rd, c, len);
	while ((r = kdc_link_next(&rd, &l)) == KDC_OK) {
		assert_true(memchr(l.lwm2m, '\0', sizeof(l.lwm2m)) != NULL);
		assert_true(memchr(l.ver, '\0', sizeof(l.ver)) != NULL);
		n++;
	}
	free(c);
	if (count != NULL)
		*count = n;
	return r == KDC_ERR_NOT_FOUND ? KDC_OK : r;
}

/* ---- vector files ------------------------------------------------------ */

static void
check_vectors(const char *path, kdc_err (*walk)(const uint8_t *, size_t))
{
	struct kdc_vec *head = load(path), *v;
	int bad = 0;

	for (v = head; v != NULL; v = v->next) {
		kdc_err r = walk(v->in, v->in_len);

		if ((int)r != v->want) {
			print_error("%s:%d: got %s, want %s\n", path, v->line,
			    kdc_err_name(r), kdc_err_name((kdc_err)v->want));
			bad++;
		}
	}
	kdc_vec_free(head);
	if (bad)
		fail_msg("%d vector(s) failed", bad);
}

static kdc_err
tlv_walk2(const uint8_t *b, size_t n)
{
	return tlv_walk(b, n, NULL, NULL);
}

static kdc_err
link_walk2(const uint8_t *b, size_t n)
{
	return link_walk(b, n, NULL);
}

static void
test_tlv_vectors(void **state)
{
	(void)state;
	check_vectors(VEC("tlv"), tlv_walk2);
}

static void
test_senml_vectors(void **state)
{
	(void)state;
	check_vectors(VEC("senml"), senml_walk);
}

static void
test_link_vectors(void **state)
{
	(void)state;
	check_vectors(VEC("link"), link_walk2);
}

/* Every single-byte value at every position: no crash, no overread. */
static void
mutate_all(const struct kdc_vec *v, kdc_err (*walk)(const uint8_t *, size_t))
{
	uint8_t *buf = exact_copy(v->in, v->in_len);

	for (size_t i = 0; i < v->in_len; i++) {
		for (unsigned b = 0; b < 256; b++) {
			buf[i] = (uint8_t)b;
			(void)walk(buf, v->in_len);
		}
		buf[i] = v->in[i];
	}
	free(buf);
}

/*
 * TLV is a sequence of records with no count: a cut at a top-level record
 * boundary is a valid shorter message; every other cut fails.
 */
static void
test_tlv_mutations(void **state)
{
	struct kdc_vec *head = load(VEC("tlv")), *v;

	(void)state;
	for (v = head; v != NULL; v = v->next) {
		size_t ends[64], n = 0;

		if (v->want != KDC_OK)
			continue;
		assert_int_equal(tlv_walk(v->in, v->in_len, ends, &n), KDC_OK);
		assert_true(n > 0 && n < 64);
		assert_int_equal(ends[n - 1], v->in_len);
		for (size_t cut = 0; cut < v->in_len; cut++) {
			int boundary = cut == 0;
			kdc_err r = tlv_walk(v->in, cut, NULL, NULL);

			for (size_t k = 0; k < n; k++)
				boundary |= ends[k] == cut;
			if (boundary ? r != KDC_OK : r == KDC_OK)
				fail_msg("tlv.txt:%d cut at %zu: %s", v->line,
				    cut, kdc_err_name(r));
		}
		if (v->in_len <= 64)
			mutate_all(v, tlv_walk2);
	}
	kdc_vec_free(head);
}

/* A SenML pack is a definite-length array: every cut is TRUNCATED. */
static void
test_senml_mutations(void **state)
{
	struct kdc_vec *head = load(VEC("senml")), *v;

	(void)state;
	for (v = head; v != NULL; v = v->next) {
		if (v->want != KDC_OK)
			continue;
		for (size_t cut = 0; cut < v->in_len; cut++) {
			kdc_err r = senml_walk(v->in, cut);

			if (r != KDC_ERR_TRUNCATED)
				fail_msg("senml.txt:%d cut at %zu: %s", v->line,
				    cut, kdc_err_name(r));
		}
		mutate_all(v, senml_walk);
	}
	kdc_vec_free(head);
}

/*
 * Link-format has no count either, and a cut inside an attribute value
 * (ssid=12 of ssid=123) is still valid. A cut fails when it falls inside
 * "<...>", inside quotes, right after ',' or ';' or '=' (and after ';'
 * before the parameter name ends, where a name alone is valid). We check
 * that cuts inside <...> and quotes fail and after ',' fail, and that no
 * cut yields more links than the whole.
 */
static void
test_link_mutations(void **state)
{
	struct kdc_vec *head = load(VEC("link")), *v;

	(void)state;
	for (v = head; v != NULL; v = v->next) {
		size_t total = 0;
		int in_target = 0, in_quote = 0, esc = 0;
		char prev = 0;

		if (v->want != KDC_OK)
			continue;
		assert_int_equal(link_walk(v->in, v->in_len, &total), KDC_OK);
		for (size_t cut = 0; cut < v->in_len; cut++) {
			size_t n = 0;
			kdc_err r = link_walk(v->in, cut, &n);
			int must_fail = in_target || in_quote || prev == ',' ||
			    prev == ';' || prev == '=';

			if (r == KDC_OK && (must_fail || n > total))
				fail_msg("link.txt:%d cut at %zu accepted",
				    v->line, cut);
			/* state after byte [cut] */
			char c = (char)v->in[cut];
			if (in_quote) {
				if (esc)
					esc = 0;
				else if (c == '\\')
					esc = 1;
				else if (c == '"')
					in_quote = 0;
			} else if (c == '"')
				in_quote = 1;
			else if (c == '<')
				in_target = 1;
			else if (c == '>')
				in_target = 0;
			if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
				prev = c;
		}
		mutate_all(v, link_walk2);
	}
	kdc_vec_free(head);
}

/* ---- TLV encoder ------------------------------------------------------- */

#define STR(i, s) { (i), KDC_LWM2M_STRING, 0, (const uint8_t *)(s), \
	    sizeof(s) - 1 }
#define OPQ(i, p, n) { (i), KDC_LWM2M_OPAQUE, 0, (p), (n) }
#define INT(i, v) { (i), KDC_LWM2M_INT, (v), NULL, 0 }
#define BOOL(i, v) { (i), KDC_LWM2M_BOOL, (v), NULL, 0 }
#define LNK(i, o, ii) { (i), KDC_LWM2M_OBJLNK, \
	    (int64_t)(o) << 16 | (ii), NULL, 0 }

static const uint8_t key16[16] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};

static const struct kdc_lwm2m_res sec_nosec[] = {
	STR(0, "coap://127.0.0.1:15683"), BOOL(1, 0), INT(2, 3),
	OPQ(3, NULL, 0), OPQ(4, NULL, 0), OPQ(5, NULL, 0), INT(10, 1),
};
static const struct kdc_lwm2m_res sec_psk[] = {
	STR(0, "coaps://127.0.0.1:15684"), BOOL(1, 0), INT(2, 0),
	OPQ(3, (const uint8_t *)"kdc-device-001", 14), OPQ(4, NULL, 0),
	OPQ(5, key16, 16), INT(10, 2),
};
static const struct kdc_lwm2m_res server1[] = {
	INT(0, 1), INT(1, 300), BOOL(6, 0), STR(7, "U"),
};
static const struct kdc_lwm2m_res server2[] = {
	INT(0, 2), INT(1, 86400), BOOL(6, 1), STR(7, "U"),
};

/* Decode as the types of want and compare. */
static void
tlv_check_decode(const uint8_t *buf, size_t len,
    const struct kdc_lwm2m_res *want, size_t n)
{
	struct kdc_rd rd;
	struct kdc_tlv t;
	size_t k = 0;
	kdc_err r;

	kdc_rd_init(&rd, buf, len);
	while ((r = kdc_tlv_next(&rd, &t)) == KDC_OK) {
		const struct kdc_lwm2m_res *w = &want[k++];
		int64_t i = 0;
		int b = 0;
		uint16_t o = 0, ii = 0;

		assert_true(k <= n);
		assert_int_equal(t.kind, 3);
		assert_int_equal(t.id, w->id);
		switch (w->type) {
		case KDC_LWM2M_INT:
			assert_int_equal(kdc_tlv_int(&t, &i), KDC_OK);
			assert_true(i == w->i);
			break;
		case KDC_LWM2M_BOOL:
			assert_int_equal(kdc_tlv_bool(&t, &b), KDC_OK);
			assert_int_equal(b, w->i);
			break;
		case KDC_LWM2M_OBJLNK:
			assert_int_equal(kdc_tlv_objlnk(&t, &o, &ii), KDC_OK);
			assert_int_equal((int64_t)o << 16 | ii, w->i);
			break;
		default:
			assert_int_equal(t.len, w->len);
			if (w->len > 0)
				assert_memory_equal(t.value, w->bytes, w->len);
			break;
		}
	}
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
	assert_int_equal(k, n);
}

/* The encoding must be an OK line of the vector file, and every smaller
 * output buffer must give TOO_LARGE. */
static void
check_encoded_in(const char *path, const uint8_t *out, size_t len)
{
	struct kdc_vec *head = load(path), *v;
	int found = 0;

	for (v = head; v != NULL; v = v->next)
		if (v->want == KDC_OK && v->in_len == len &&
		    memcmp(v->in, out, len) == 0)
			found = 1;
	kdc_vec_free(head);
	if (!found)
		fail_msg("encoding not among the OK vectors of %s", path);
}

static void
tlv_encode_verified(const struct kdc_lwm2m_res *res, size_t n)
{
	uint8_t out[256];
	size_t len = sizeof(out);

	assert_int_equal(kdc_tlv_encode_instance(res, n, out, &len), KDC_OK);
	check_encoded_in(VEC("tlv"), out, len);
	tlv_check_decode(out, len, res, n);
	for (size_t cap = 0; cap < len; cap++) {
		size_t l = cap;
		uint8_t *small = malloc(cap > 0 ? cap : 1);

		assert_non_null(small);
		assert_int_equal(kdc_tlv_encode_instance(res, n,
		    cap > 0 ? small : NULL, &l), KDC_ERR_TOO_LARGE);
		assert_int_equal(l, 0);
		free(small);
	}
}

static void
test_tlv_encode_verified(void **state)
{
	(void)state;
	tlv_encode_verified(sec_nosec, 7);
	tlv_encode_verified(sec_psk, 7);
	tlv_encode_verified(server1, 4);
	tlv_encode_verified(server2, 4);
}

static void
test_tlv_encode_ints(void **state)
{
	static const struct {
		int64_t	 v;
		size_t	 width;
	} c[] = {
		{ 0, 1 }, { 1, 1 }, { -1, 1 }, { 127, 1 }, { -128, 1 },
		{ 128, 2 }, { -129, 2 }, { 255, 2 }, { 300, 2 },
		{ 32767, 2 }, { -32768, 2 }, { 32768, 4 }, { -32769, 4 },
		{ 86400, 4 }, { INT32_MAX, 4 }, { INT32_MIN, 4 },
		{ (int64_t)INT32_MAX + 1, 8 }, { (int64_t)INT32_MIN - 1, 8 },
		{ INT64_MAX, 8 }, { INT64_MIN, 8 },
	};
	uint8_t out[16];

	(void)state;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		struct kdc_lwm2m_res res = INT(5, c[k].v);
		size_t len = sizeof(out);

		assert_int_equal(kdc_tlv_encode_instance(&res, 1, out, &len),
		    KDC_OK);
		/* 8 bytes need the 8-bit length field (type 0xc8) */
		assert_int_equal(len, (c[k].width == 8 ? 3 : 2) + c[k].width);
		assert_int_equal(out[0], c[k].width == 8 ? 0xc8 :
		    0xc0 | c[k].width);
		assert_int_equal(out[1], 5);
		tlv_check_decode(out, len, &res, 1);
	}
	/* -129 is ff 7f; -1 is ff */
	{
		struct kdc_lwm2m_res res[2] = { INT(2, -1), INT(2, -129) };
		static const uint8_t want[] = {
			0xc1, 0x02, 0xff, 0xc2, 0x02, 0xff, 0x7f,
		};
		size_t len = sizeof(out);

		assert_int_equal(kdc_tlv_encode_instance(res, 2, out, &len),
		    KDC_OK);
		assert_int_equal(len, sizeof(want));
		assert_memory_equal(out, want, sizeof(want));
	}
}

/* Ids 255/256/65535, lengths 0, 7, 8, 255, 256, 65535, 65536, 2^24-1. */
static void
test_tlv_encode_sizes(void **state)
{
	static const uint16_t ids[] = { 0, 255, 256, 65535 };
	static const size_t lens[] = {
		0, 7, 8, 255, 256, 65535, 65536, 0xffffff,
	};
	size_t cap = 0xffffff + 16;
	uint8_t *data = calloc(1, 0xffffff + 1), *out = malloc(cap);

	(void)state;
	assert_non_null(data);
	assert_non_null(out);
	for (size_t k = 0; k < 0xffffff; k += 4099)
		data[k] = (uint8_t)k;
	for (size_t a = 0; a < sizeof(ids) / sizeof(ids[0]); a++)
		for (size_t b = 0; b < sizeof(lens) / sizeof(lens[0]); b++) {
			struct kdc_lwm2m_res res = OPQ(ids[a], data, lens[b]);
			size_t len = cap, hdr;

			hdr = 1 + (ids[a] > 255 ? 2 : 1) +
			    (lens[b] < 8 ? 0 : lens[b] <= 0xff ? 1 :
			    lens[b] <= 0xffff ? 2 : 3);
			assert_int_equal(kdc_tlv_encode_instance(&res, 1, out,
			    &len), KDC_OK);
			assert_int_equal(len, hdr + lens[b]);
			tlv_check_decode(out, len, &res, 1);
			/* every cut fails: one record only */
			for (size_t cut = 0; cut < len;
			    cut += (cut < 64 ? 1 : len / 7 + 1))
				assert_int_equal(tlv_walk(out, cut, NULL, NULL) ==
				    KDC_OK, cut == 0);
		}
	{
		struct kdc_lwm2m_res res = OPQ(1, data, 0x1000000);
		size_t len = cap;

		assert_int_equal(kdc_tlv_encode_instance(&res, 1, out, &len),
		    KDC_ERR_TOO_LARGE);
	}
	free(data);
	free(out);
}

static void
test_tlv_encode_types(void **state)
{
	const struct kdc_lwm2m_res res[] = {
		BOOL(1, 1), LNK(17, 21, 0), LNK(18, 65535, 65535),
		STR(14, "sni.example"), OPQ(3, NULL, 0),
	};
	struct kdc_lwm2m_res bad;
	uint8_t out[64];
	size_t len = sizeof(out);

	(void)state;
	assert_int_equal(kdc_tlv_encode_instance(res, 5, out, &len), KDC_OK);
	tlv_check_decode(out, len, res, 5);
	/* objlnk 21:0 is c4 11 00 15 00 00 */
	assert_memory_equal(out + 3, "\xc4\x11\x00\x15\x00\x00", 6);

	bad = (struct kdc_lwm2m_res)BOOL(1, 2);
	len = sizeof(out);
	assert_int_equal(kdc_tlv_encode_instance(&bad, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	bad = (struct kdc_lwm2m_res)INT(1, 0);
	bad.i = -1;
	bad.type = KDC_LWM2M_OBJLNK;
	len = sizeof(out);
	assert_int_equal(kdc_tlv_encode_instance(&bad, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	bad = (struct kdc_lwm2m_res)OPQ(1, NULL, 3);
	len = sizeof(out);
	assert_int_equal(kdc_tlv_encode_instance(&bad, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	len = sizeof(out);
	assert_int_equal(kdc_tlv_encode_instance(NULL, 0, out, &len), KDC_OK);
	assert_int_equal(len, 0);
}

static void
test_tlv_values(void **state)
{
	static const uint8_t b3[] = { 0xc3, 0x01, 0x00, 0x00, 0x01 };
	static const uint8_t bool2[] = { 0xc1, 0x01, 0x02 };
	static const uint8_t lnk3[] = { 0xc3, 0x01, 0x00, 0x15, 0x00 };
	static const uint8_t obj[] = { 0x08, 0x01, 0x03, 0xc1, 0x00, 0x01 };
	struct kdc_rd rd;
	struct kdc_tlv t, in;
	int64_t i;
	int b;
	uint16_t o, ii;

	(void)state;
	kdc_rd_init(&rd, b3, sizeof(b3));
	assert_int_equal(kdc_tlv_next(&rd, &t), KDC_OK);
	assert_int_equal(kdc_tlv_int(&t, &i), KDC_ERR_MALFORMED);
	kdc_rd_init(&rd, bool2, sizeof(bool2));
	assert_int_equal(kdc_tlv_next(&rd, &t), KDC_OK);
	assert_int_equal(kdc_tlv_bool(&t, &b), KDC_ERR_MALFORMED);
	assert_int_equal(kdc_tlv_int(&t, &i), KDC_OK);
	assert_int_equal(i, 2);
	kdc_rd_init(&rd, lnk3, sizeof(lnk3));
	assert_int_equal(kdc_tlv_next(&rd, &t), KDC_OK);
	assert_int_equal(kdc_tlv_objlnk(&t, &o, &ii), KDC_ERR_MALFORMED);

	/* object instance 1 wrapping /x/1/0 = 1; its value is no scalar */
	kdc_rd_init(&rd, obj, sizeof(obj));
	assert_int_equal(kdc_tlv_next(&rd, &t), KDC_OK);
	assert_int_equal(t.kind, 0);
	assert_int_equal(t.id, 1);
	assert_int_equal(t.len, 3);
	assert_int_equal(kdc_tlv_int(&t, &i), KDC_ERR_MALFORMED);
	assert_int_equal(kdc_tlv_next(&rd, &in), KDC_ERR_NOT_FOUND);
	kdc_rd_init(&rd, t.value, t.len);
	assert_int_equal(kdc_tlv_next(&rd, &in), KDC_OK);
	assert_int_equal(in.kind, 3);
	assert_int_equal(kdc_tlv_int(&in, &i), KDC_OK);
	assert_int_equal(i, 1);

	/* a failed read leaves the reader where it was */
	kdc_rd_init(&rd, obj, 4);
	assert_int_equal(kdc_tlv_next(&rd, &t), KDC_ERR_TRUNCATED);
	assert_int_equal(kdc_rd_pos(&rd), 0);
	assert_int_equal(kdc_rd_remaining(&rd), 4);
	assert_int_equal(kdc_rd_err(&rd), KDC_OK);
	kdc_rd_init(&rd, NULL, 0);
	assert_int_equal(kdc_tlv_next(&rd, &t), KDC_ERR_NOT_FOUND);
}

/* ---- SenML-CBOR -------------------------------------------------------- */

struct collect {
	struct kdc_senml_rec	 r[16];
	size_t			 n;
	size_t			 stop_at;	/* fail at this record, 0: never */
};

static kdc_err
collect(void *arg, const struct kdc_senml_rec *rec)
{
	struct collect *c = arg;

	assert_true(c->n < 16);
	c->r[c->n++] = *rec;
	if (c->stop_at != 0 && c->n == c->stop_at)
		return KDC_ERR_DENIED;
	return KDC_OK;
}

static void
senml_check(uint16_t oid, uint16_t iid, const struct kdc_lwm2m_res *res,
    size_t n, const struct collect *c)
{
	assert_int_equal(c->n, n);
	for (size_t k = 0; k < n; k++) {
		const struct kdc_senml_rec *r = &c->r[k];

		assert_int_equal(r->oid, oid);
		assert_int_equal(r->iid, iid);
		assert_int_equal(r->rid, res[k].id);
		assert_int_equal(r->riid, -1);
		assert_int_equal(r->type, res[k].type);
		if (res[k].type == KDC_LWM2M_STRING ||
		    res[k].type == KDC_LWM2M_OPAQUE) {
			assert_int_equal(r->len, res[k].len);
			if (r->len > 0)
				assert_memory_equal(r->bytes, res[k].bytes,
				    r->len);
		} else
			assert_true(r->i == res[k].i);
	}
}

static void
senml_roundtrip(uint16_t oid, uint16_t iid, const struct kdc_lwm2m_res *res,
    size_t n, uint8_t *out, size_t *len)
{
	struct collect c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(kdc_senml_cbor_encode_instance(oid, iid, res, n, out,
	    len), KDC_OK);
	assert_int_equal(kdc_senml_cbor_decode(out, *len, collect, &c),
	    KDC_OK);
	senml_check(oid, iid, res, n, &c);
	for (size_t cap = 0; cap < *len; cap++) {
		size_t l = cap;
		uint8_t *small = malloc(cap > 0 ? cap : 1);

		assert_non_null(small);
		assert_int_equal(kdc_senml_cbor_encode_instance(oid, iid, res,
		    n, cap > 0 ? small : NULL, &l), KDC_ERR_TOO_LARGE);
		free(small);
	}
}

/* lwm2m.md 2.3's wakaama pack (vd bytes instead of base64 in CBOR). */
static void
test_senml_encode_wakaama(void **state)
{
	const struct kdc_lwm2m_res res[] = {
		STR(0, "coaps://127.0.0.1:15684"), BOOL(1, 0), INT(10, 3),
		INT(2, 0), OPQ(3, (const uint8_t *)"OurIdentity", 11),
		OPQ(5, (const uint8_t *)"OurSecret", 9),
	};
	const struct kdc_lwm2m_res srv[] = {
		INT(0, 1), INT(1, 300), BOOL(6, 0), STR(7, "U"),
	};
	uint8_t out[256];
	size_t len = sizeof(out);

	(void)state;
	senml_roundtrip(0, 3, res, 6, out, &len);
	check_encoded_in(VEC("senml"), out, len);
	len = sizeof(out);
	senml_roundtrip(1, 1, srv, 4, out, &len);
	check_encoded_in(VEC("senml"), out, len);
}

static void
test_senml_roundtrip(void **state)
{
	static uint8_t big[70000];
	const struct kdc_lwm2m_res res[] = {
		INT(0, 0), INT(1, -1), INT(2, 23), INT(3, 24), INT(4, -24),
		INT(5, -25), INT(6, 255), INT(7, 256), INT(8, 65535),
		INT(9, 65536), INT(10, INT64_MAX), INT(11, INT64_MIN),
		BOOL(12, 1), LNK(17, 21, 0), LNK(65535, 65535, 65535),
		STR(14, ""),
	};
	struct kdc_lwm2m_res one;
	uint8_t *out = malloc(80000);
	size_t len = 80000;

	(void)state;
	assert_non_null(out);
	senml_roundtrip(65535, 65535, res, 16, out, &len);
	for (size_t k = 0; k < 4; k++) {
		static const size_t lens[] = { 23, 24, 256, 70000 };

		one = (struct kdc_lwm2m_res)OPQ(3, big, lens[k]);
		len = 80000;
		assert_int_equal(kdc_senml_cbor_encode_instance(0, 1, &one, 1,
		    out, &len), KDC_OK);
		{
			struct collect c;

			memset(&c, 0, sizeof(c));
			assert_int_equal(kdc_senml_cbor_decode(out, len,
			    collect, &c), KDC_OK);
			senml_check(0, 1, &one, 1, &c);
		}
	}
	len = 16;
	assert_int_equal(kdc_senml_cbor_encode_instance(0, 1, NULL, 0, out,
	    &len), KDC_OK);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 0x80);
	one = (struct kdc_lwm2m_res)BOOL(1, 5);
	len = 80000;
	assert_int_equal(kdc_senml_cbor_encode_instance(0, 1, &one, 1, out,
	    &len), KDC_ERR_INVALID_ARG);
	free(out);
}

/* Paths and floats as the callback sees them; fn's error stops the walk;
 * a pack bad anywhere calls fn never. */
static void
test_senml_decode(void **state)
{
	/* [{-2:"/0/1/16/",0:"0",2:49320},{0:"1",2:1.0}]: bn carries on */
	static const uint8_t pack[] = {
		0x82, 0xa3, 0x21, 0x68, '/', '0', '/', '1', '/', '1', '6', '/',
		0x00, 0x61, '0', 0x02, 0x19, 0xc0, 0xa8,
		0xa2, 0x00, 0x61, '1', 0x02, 0xf9, 0x3c, 0x00,
	};
	uint8_t bad[sizeof(pack)];
	struct collect c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(kdc_senml_cbor_decode(pack, sizeof(pack), collect,
	    &c), KDC_OK);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.r[0].oid, 0);
	assert_int_equal(c.r[0].iid, 1);
	assert_int_equal(c.r[0].rid, 16);
	assert_int_equal(c.r[0].riid, 0);
	assert_int_equal(c.r[0].i, 49320);
	assert_int_equal(c.r[1].oid, 0);
	assert_int_equal(c.r[1].iid, 1);
	assert_int_equal(c.r[1].rid, 16);
	assert_int_equal(c.r[1].riid, 1);
	assert_int_equal(c.r[1].type, KDC_LWM2M_INT);
	assert_int_equal(c.r[1].i, 1);

	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	assert_int_equal(kdc_senml_cbor_decode(pack, sizeof(pack), collect,
	    &c), KDC_ERR_DENIED);
	assert_int_equal(c.n, 1);

	memcpy(bad, pack, sizeof(pack));
	bad[sizeof(bad) - 2] = 0x3e;		/* 1.5 in the last record */
	memset(&c, 0, sizeof(c));
	assert_int_equal(kdc_senml_cbor_decode(bad, sizeof(bad), collect,
	    &c), KDC_ERR_MALFORMED);
	assert_int_equal(c.n, 0);
	assert_int_equal(kdc_senml_cbor_decode(pack, sizeof(pack), NULL, NULL),
	    KDC_OK);
	assert_int_equal(kdc_senml_cbor_decode(NULL, 0, NULL, NULL),
	    KDC_ERR_TRUNCATED);
}

/* ---- link-format ------------------------------------------------------- */

static void
test_link_parse(void **state)
{
	static const char wk[] =
	    "</>;lwm2m=1.1,</0/0>,</1>;ver=1.1,</1/0>;ssid=123";
	static const char aj[] =
	    "</>;lwm2m=1.2,</0>,</0/1>;uri=\"coap://h:1/a,b;c\";ssid=7,</1>";
	struct kdc_rd rd;
	struct kdc_link l;

	(void)state;
	kdc_rd_init(&rd, (const uint8_t *)wk, sizeof(wk) - 1);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_int_equal(l.oid, -1);
	assert_int_equal(l.iid, -1);
	assert_int_equal(l.rid, -1);
	assert_int_equal(l.ssid, -1);
	assert_string_equal(l.lwm2m, "1.1");
	assert_string_equal(l.ver, "");
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_int_equal(l.oid, 0);
	assert_int_equal(l.iid, 0);
	assert_int_equal(l.ssid, -1);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_int_equal(l.oid, 1);
	assert_int_equal(l.iid, -1);
	assert_string_equal(l.ver, "1.1");
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_int_equal(l.oid, 1);
	assert_int_equal(l.iid, 0);
	assert_int_equal(l.ssid, 123);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_ERR_NOT_FOUND);

	kdc_rd_init(&rd, (const uint8_t *)aj, sizeof(aj) - 1);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_string_equal(l.lwm2m, "1.2");
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_int_equal(l.oid, 0);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_int_equal(l.iid, 1);
	assert_int_equal(l.ssid, 7);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_int_equal(l.oid, 1);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_ERR_NOT_FOUND);

	/* an error leaves the reader in place and is repeatable */
	kdc_rd_init(&rd, (const uint8_t *)"</1>,</x>", 9);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_OK);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_ERR_MALFORMED);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_ERR_MALFORMED);
	kdc_rd_init(&rd, NULL, 0);
	assert_int_equal(kdc_link_next(&rd, &l), KDC_ERR_NOT_FOUND);
}

static struct kdc_link
mklink(int32_t oid, int32_t iid, int32_t rid, int32_t ssid, const char *ver)
{
	struct kdc_link l;

	memset(&l, 0, sizeof(l));
	l.oid = oid;
	l.iid = iid;
	l.rid = rid;
	l.ssid = ssid;
	strcpy(l.ver, ver);
	return l;
}

static void
test_link_encode(void **state)
{
	struct kdc_link links[6], got;
	struct kdc_rd rd;
	uint8_t out[256];
	size_t len = sizeof(out), k;
	static const char want[] =
	    "</>;lwm2m=1.1,</0/0>,</1>;ver=1.1,</1/0>;ssid=123";

	(void)state;
	links[0] = mklink(0, 0, -1, -1, "");
	links[1] = mklink(1, -1, -1, -1, "1.1");
	links[2] = mklink(1, 0, -1, 123, "");
	assert_int_equal(kdc_link_encode("1.1", links, 3, out, &len), KDC_OK);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);	/* wakaama's answer */

	links[3] = mklink(65535, 65535, 65535, 65535, "1.2.3");
	links[4] = mklink(0, 1, -1, 0, "");
	links[5] = mklink(3, 0, 7, -1, "");
	len = sizeof(out);
	assert_int_equal(kdc_link_encode("1.2", links, 6, out, &len), KDC_OK);
	kdc_rd_init(&rd, out, len);
	assert_int_equal(kdc_link_next(&rd, &got), KDC_OK);
	assert_string_equal(got.lwm2m, "1.2");
	assert_int_equal(got.oid, -1);
	for (k = 0; k < 6; k++) {
		assert_int_equal(kdc_link_next(&rd, &got), KDC_OK);
		assert_int_equal(got.oid, links[k].oid);
		assert_int_equal(got.iid, links[k].iid);
		assert_int_equal(got.rid, links[k].rid);
		assert_int_equal(got.ssid, links[k].ssid);
		assert_string_equal(got.ver, links[k].ver);
		assert_string_equal(got.lwm2m, "");
	}
	assert_int_equal(kdc_link_next(&rd, &got), KDC_ERR_NOT_FOUND);
	for (size_t cap = 0; cap < len; cap++) {
		size_t l = cap;

		assert_int_equal(kdc_link_encode("1.2", links, 6, out, &l),
		    KDC_ERR_TOO_LARGE);
	}

	len = sizeof(out);
	assert_int_equal(kdc_link_encode("1.2.3.4.5", NULL, 0, out, &len),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_link_encode(NULL, NULL, 0, out, &len),
	    KDC_ERR_INVALID_ARG);
	links[0] = mklink(-1, -1, -1, -1, "");
	len = sizeof(out);
	assert_int_equal(kdc_link_encode("1.1", links, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	links[0] = mklink(1, -1, 0, -1, "");	/* rid without iid */
	len = sizeof(out);
	assert_int_equal(kdc_link_encode("1.1", links, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	links[0] = mklink(1, 0, -1, 65536, "");
	len = sizeof(out);
	assert_int_equal(kdc_link_encode("1.1", links, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	len = sizeof(out);
	assert_int_equal(kdc_link_encode("1.1", NULL, 0, out, &len), KDC_OK);
	assert_memory_equal(out, "</>;lwm2m=1.1", len);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlv_vectors),
		cmocka_unit_test(test_tlv_mutations),
		cmocka_unit_test(test_tlv_encode_verified),
		cmocka_unit_test(test_tlv_encode_ints),
		cmocka_unit_test(test_tlv_encode_sizes),
		cmocka_unit_test(test_tlv_encode_types),
		cmocka_unit_test(test_tlv_values),
		cmocka_unit_test(test_senml_vectors),
		cmocka_unit_test(test_senml_mutations),
		cmocka_unit_test(test_senml_encode_wakaama),
		cmocka_unit_test(test_senml_roundtrip),
		cmocka_unit_test(test_senml_decode),
		cmocka_unit_test(test_link_vectors),
		cmocka_unit_test(test_link_mutations),
		cmocka_unit_test(test_link_parse),
		cmocka_unit_test(test_link_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
