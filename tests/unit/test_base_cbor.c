/*
 * test_base_cbor.c: src/base/cbor.c: heads in their shortest form and
 * back; integers at the int64 edges; strings as views that never reach
 * past the input; definite lengths only (every indefinite or reserved
 * head MALFORMED); skip bounded by depth and by the input, whatever
 * count a head announces; floats (16/32/64) truncated toward zero with
 * NaN, infinities and out-of-range values refused; simple values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/cbor.h"
#include "testutil.h"

static size_t
unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void
test_head_roundtrip(void **state)
{
	static const uint64_t vals[] = { 0, 1, 23, 24, 255, 256, 65535, 65536,
	    0xffffffffu, 0x100000000ull, UINT64_MAX };
	static const size_t lens[] = { 1, 1, 1, 2, 2, 3, 3, 5, 5, 9, 9 };

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		for (unsigned major = 0; major < 8; major++) {
			uint8_t b[9];
			struct kdc_wr w;
			struct kdc_rd rd;
			unsigned mj, ai;
			uint64_t v;

			kdc_wr_init(&w, b, sizeof(b));
			assert_true(kdc_cbor_head_write(&w, major, vals[i]));
			assert_int_equal(kdc_wr_len(&w), lens[i]);
			assert_int_equal(b[0] >> 5, major);
			kdc_rd_init(&rd, b, kdc_wr_len(&w));
			assert_int_equal(kdc_cbor_head_read(&rd, &mj, &ai, &v),
			    KDC_OK);
			assert_int_equal(mj, major);
			assert_true(v == vals[i]);
			assert_true(kdc_rd_at_end(&rd));
			/* one byte short: nothing written */
			kdc_wr_init(&w, b, lens[i] - 1);
			assert_false(kdc_cbor_head_write(&w, major, vals[i]));
			assert_int_equal(kdc_wr_len(&w), 0);
			assert_int_equal(kdc_wr_err(&w), KDC_ERR_TOO_LARGE);
		}
	}
}

static void
test_ints(void **state)
{
	struct { const char *hex; kdc_err r; int64_t v; } c[] = {
		{ "00", KDC_OK, 0 },
		{ "17", KDC_OK, 23 },
		{ "1818", KDC_OK, 24 },
		{ "20", KDC_OK, -1 },
		{ "3863", KDC_OK, -100 },
		{ "1b7fffffffffffffff", KDC_OK, INT64_MAX },
		{ "3b7fffffffffffffff", KDC_OK, INT64_MIN },
		{ "1b8000000000000000", KDC_ERR_MALFORMED, 0 },
		{ "3b8000000000000000", KDC_ERR_MALFORMED, 0 },
		{ "40", KDC_ERR_MALFORMED, 0 },
		{ "f4", KDC_ERR_MALFORMED, 0 },
		{ "1c", KDC_ERR_MALFORMED, 0 },	/* reserved ai 28 */
		{ "1f", KDC_ERR_MALFORMED, 0 },	/* indefinite/break */
		{ "19", KDC_ERR_TRUNCATED, 0 },
		{ "1a0102", KDC_ERR_TRUNCATED, 0 },
		{ "", KDC_ERR_TRUNCATED, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t b[16];
		struct kdc_rd rd;
		int64_t v = 7;
		size_t n = unhex(c[i].hex, b, sizeof(b));

		kdc_rd_init(&rd, b, n);
		assert_int_equal(kdc_cbor_read_int(&rd, &v), c[i].r);
		if (c[i].r == KDC_OK)
			assert_true(v == c[i].v);
		else
			/* the failure sticks in the reader */
			assert_int_equal(kdc_rd_err(&rd), c[i].r);
	}
	/* writing the edges gives the same bytes back */
	{
		uint8_t b[9];
		struct kdc_wr w;

		kdc_wr_init(&w, b, sizeof(b));
		assert_true(kdc_cbor_write_int(&w, INT64_MIN));
		assert_int_equal(kdc_wr_len(&w), 9);
		assert_int_equal(b[0], 0x3b);
		assert_int_equal(b[1], 0x7f);
	}
}

static void
test_strings(void **state)
{
	uint8_t b[32];
	struct kdc_rd rd;
	const uint8_t *p;
	const char *s;
	size_t n, len;
	uint64_t cnt;

	(void)state;
	len = unhex("43010203" "6261ff" "5f" "7f", b, sizeof(b));
	kdc_rd_init(&rd, b, len);
	assert_int_equal(kdc_cbor_read_bstr(&rd, &p, &n), KDC_OK);
	assert_int_equal(n, 3);
	assert_ptr_equal(p, b + 1);
	assert_int_equal(kdc_cbor_read_tstr(&rd, &s, &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_ptr_equal(s, (const char *)b + 5);
	/* indefinite-length strings: refused */
	assert_int_equal(kdc_cbor_read_bstr(&rd, &p, &n), KDC_ERR_MALFORMED);
	kdc_rd_init(&rd, b + 7, 1);
	assert_int_equal(kdc_cbor_read_tstr(&rd, &s, &n), KDC_ERR_MALFORMED);
	/* a length past the end, and a 2^64-1 length: TRUNCATED, no view */
	len = unhex("4401", b, sizeof(b));
	kdc_rd_init(&rd, b, len);
	assert_int_equal(kdc_cbor_read_bstr(&rd, &p, &n), KDC_ERR_TRUNCATED);
	assert_null(p);
	assert_int_equal(n, 0);
	len = unhex("5bffffffffffffffff00", b, sizeof(b));
	kdc_rd_init(&rd, b, len);
	assert_int_equal(kdc_cbor_read_bstr(&rd, &p, &n), KDC_ERR_TRUNCATED);
	/* wrong major type */
	kdc_rd_init(&rd, b, len);
	assert_int_equal(kdc_cbor_read_tstr(&rd, &s, &n), KDC_ERR_MALFORMED);
	/* indefinite arrays and maps */
	len = unhex("9f", b, sizeof(b));
	kdc_rd_init(&rd, b, len);
	assert_int_equal(kdc_cbor_read_array(&rd, &cnt), KDC_ERR_MALFORMED);
	len = unhex("bf", b, sizeof(b));
	kdc_rd_init(&rd, b, len);
	assert_int_equal(kdc_cbor_read_map(&rd, &cnt), KDC_ERR_MALFORMED);
	/* writer: a string that does not fit writes nothing */
	{
		struct kdc_wr w;

		kdc_wr_init(&w, b, 4);
		assert_false(kdc_cbor_write_bstr(&w, "abcd", 4));
		assert_int_equal(kdc_wr_len(&w), 0);
		kdc_wr_init(&w, b, 5);
		assert_true(kdc_cbor_write_tstr(&w, "abcd", 4));
		assert_memory_equal(b, "\x64" "abcd", 5);
	}
}

static void
test_simple(void **state)
{
	struct { const char *hex; kdc_err r; unsigned v; } c[] = {
		{ "f4", KDC_OK, KDC_CBOR_FALSE },
		{ "f5", KDC_OK, KDC_CBOR_TRUE },
		{ "f6", KDC_OK, KDC_CBOR_NULL },
		{ "f7", KDC_OK, KDC_CBOR_UNDEF },
		{ "f820", KDC_OK, 32 },
		{ "f814", KDC_ERR_MALFORMED, 0 },	/* two-byte form of 20 */
		{ "f93c00", KDC_ERR_MALFORMED, 0 },	/* a float */
		{ "ff", KDC_ERR_MALFORMED, 0 },		/* break */
		{ "00", KDC_ERR_MALFORMED, 0 },
	};
	uint8_t b[8];
	struct kdc_rd rd;
	bool bv;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		unsigned v;
		size_t n = unhex(c[i].hex, b, sizeof(b));

		kdc_rd_init(&rd, b, n);
		assert_int_equal(kdc_cbor_read_simple(&rd, &v), c[i].r);
		if (c[i].r == KDC_OK)
			assert_int_equal(v, c[i].v);
	}
	kdc_rd_init(&rd, (const uint8_t *)"\xf5", 1);
	assert_int_equal(kdc_cbor_read_bool(&rd, &bv), KDC_OK);
	assert_true(bv);
	kdc_rd_init(&rd, (const uint8_t *)"\xf6", 1);
	assert_int_equal(kdc_cbor_read_bool(&rd, &bv), KDC_ERR_MALFORMED);
}

static void
test_floats(void **state)
{
	struct { const char *hex; kdc_err r; int64_t v; } c[] = {
		/* RFC 8392 A.7: iat 1443944944.5 as float64 */
		{ "fb41d584367c200000", KDC_OK, 1443944944 },
		{ "f93e00", KDC_OK, 1 },		/* 1.5 */
		{ "f9be00", KDC_OK, -1 },		/* -1.5 */
		{ "f93800", KDC_OK, 0 },		/* 0.5 */
		{ "f90001", KDC_OK, 0 },		/* subnormal */
		{ "f97bff", KDC_OK, 65504 },		/* float16 max */
		{ "fa47c35000", KDC_OK, 100000 },	/* float32 */
		{ "fa4f000000", KDC_OK, 2147483648 },	/* 2^31 */
		{ "fb43dfffffffffffff", KDC_OK, 9223372036854774784 },
		{ "fb43e0000000000000", KDC_ERR_MALFORMED, 0 },	/* 2^63 */
		{ "fbc3e0000000000000", KDC_ERR_MALFORMED, 0 },	/* -2^63 */
		{ "f97c00", KDC_ERR_MALFORMED, 0 },	/* +inf */
		{ "f97e00", KDC_ERR_MALFORMED, 0 },	/* NaN */
		{ "fa7fc00000", KDC_ERR_MALFORMED, 0 },	/* NaN */
		{ "fb7ff0000000000000", KDC_ERR_MALFORMED, 0 },
		{ "fb41d584367c2000", KDC_ERR_TRUNCATED, 0 },
		{ "1a5612aeb0", KDC_OK, 1444064944 },	/* an integer */
		{ "3863", KDC_OK, -100 },
		{ "f5", KDC_ERR_MALFORMED, 0 },
		{ "40", KDC_ERR_MALFORMED, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t b[16];
		struct kdc_rd rd;
		int64_t v = 7;
		size_t n = unhex(c[i].hex, b, sizeof(b));

		kdc_rd_init(&rd, b, n);
		assert_int_equal(kdc_cbor_read_int_or_float(&rd, &v), c[i].r);
		if (c[i].r == KDC_OK) {
			assert_true(v == c[i].v);
			assert_true(kdc_rd_at_end(&rd));
		}
	}
}

static void
test_skip(void **state)
{
	uint8_t b[256];
	struct kdc_rd rd;
	size_t n;

	(void)state;
	/* a whole nested item, then the next one */
	n = unhex("a201820203d81843010203" "6161" "f6", b, sizeof(b));
	kdc_rd_init(&rd, b, n);
	assert_int_equal(kdc_cbor_skip(&rd, 4), KDC_OK);
	assert_int_equal(kdc_rd_pos(&rd), n - 1);
	/* depth: [[[0]]] is depth 3 */
	n = unhex("81818100", b, sizeof(b));
	kdc_rd_init(&rd, b, n);
	assert_int_equal(kdc_cbor_skip(&rd, 3), KDC_OK);
	kdc_rd_init(&rd, b, n);
	assert_int_equal(kdc_cbor_skip(&rd, 2), KDC_ERR_TOO_LARGE);
	/* 200 nested arrays: refused at the cap whatever the caller asks */
	memset(b, 0x81, 200);
	b[200] = 0;
	kdc_rd_init(&rd, b, 201);
	assert_int_equal(kdc_cbor_skip(&rd, 1000), KDC_ERR_TOO_LARGE);
	/* tags nest too */
	memset(b, 0xc1, 40);
	b[40] = 0;
	kdc_rd_init(&rd, b, 41);
	assert_int_equal(kdc_cbor_skip(&rd, 8), KDC_ERR_TOO_LARGE);
	/* a count the input cannot hold: TRUNCATED at once */
	n = unhex("9bffffffffffffffff00", b, sizeof(b));
	kdc_rd_init(&rd, b, n);
	assert_int_equal(kdc_cbor_skip(&rd, 8), KDC_ERR_TRUNCATED);
	n = unhex("bb7fffffffffffffff0000", b, sizeof(b));
	kdc_rd_init(&rd, b, n);
	assert_int_equal(kdc_cbor_skip(&rd, 8), KDC_ERR_TRUNCATED);
	/* indefinite inside: MALFORMED */
	n = unhex("82009f00ff", b, sizeof(b));
	kdc_rd_init(&rd, b, n);
	assert_int_equal(kdc_cbor_skip(&rd, 8), KDC_ERR_MALFORMED);
	/* a bad simple inside */
	n = unhex("81f801", b, sizeof(b));
	kdc_rd_init(&rd, b, n);
	assert_int_equal(kdc_cbor_skip(&rd, 8), KDC_ERR_MALFORMED);
	/* every prefix of a valid item fails, none reads past it */
	n = unhex("a3016161028201f93c00038143010203", b, sizeof(b));
	for (size_t k = 0; k < n; k++) {
		kdc_rd_init(&rd, b, k);
		assert_int_equal(kdc_cbor_skip(&rd, 8), KDC_ERR_TRUNCATED);
	}
	kdc_rd_init(&rd, b, n);
	assert_int_equal(kdc_cbor_skip(&rd, 8), KDC_OK);
	assert_true(kdc_rd_at_end(&rd));
}

static void
test_writer_items(void **state)
{
	uint8_t b[64];
	struct kdc_wr w;
	uint8_t want[64];
	size_t n;

	(void)state;
	kdc_wr_init(&w, b, sizeof(b));
	assert_true(kdc_cbor_write_tag(&w, 61) && kdc_cbor_write_tag(&w, 18) &&
	    kdc_cbor_write_array(&w, 4) && kdc_cbor_write_map(&w, 24) &&
	    kdc_cbor_write_int(&w, -7) && kdc_cbor_write_uint(&w, 1000) &&
	    kdc_cbor_write_bool(&w, true) && kdc_cbor_write_simple(&w, 22));
	n = unhex("d83dd284b818261903e8f5f6", want, sizeof(want));
	assert_int_equal(kdc_wr_len(&w), n);
	assert_memory_equal(b, want, n);
	assert_false(kdc_cbor_write_simple(&w, 24));
	assert_int_equal(kdc_wr_err(&w), KDC_ERR_INVALID_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_roundtrip),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_writer_items),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
