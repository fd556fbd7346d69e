/*
 * test_lwm2m_codec_multipart.c: multipart-core (RFC 8710, CF 62) codec
 * (lwm2m/multipart.c): hand-made vectors, encoder bounds and arguments,
 * decoder refusals, every truncation and every one-byte mutation of a
 * /skg-shaped message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/codec.h"

struct got {
	size_t		 n;
	int		 cf[KDC_MULTIPART_MAX_PARTS];
	const uint8_t	*part[KDC_MULTIPART_MAX_PARTS];
	size_t		 len[KDC_MULTIPART_MAX_PARTS];
	size_t		 stop_at;	/* return DENIED at this call (1-based), 0 never */
};

static kdc_err
collect(void *arg, int cf, const uint8_t *part, size_t part_len)
{
	struct got *g = arg;

	assert_true(g->n < KDC_MULTIPART_MAX_PARTS);
	g->cf[g->n] = cf;
	g->part[g->n] = part;
	g->len[g->n] = part_len;
	g->n++;
	return g->stop_at == g->n ? KDC_ERR_DENIED : KDC_OK;
}

/* [284, h'6162', 287, h'63'] */
static const uint8_t v_skg[] = {
	0x84, 0x19, 0x01, 0x1c, 0x42, 'a', 'b', 0x19, 0x01, 0x1f, 0x41, 'c',
};

static void
test_encode_vectors(void **state)
{
	static const int cfs[2] = { 284, 287 };
	const uint8_t *parts[2] = { (const uint8_t *)"ab",
	    (const uint8_t *)"c" };
	size_t lens[2] = { 2, 1 };
	static const int cfn[2] = { 0, 62 };
	const uint8_t *pn[2] = { NULL, (const uint8_t *)"" };
	size_t ln[2] = { 0, 0 };
	static const uint8_t v_null[] = { 0x84, 0x00, 0xf6, 0x18, 0x3e, 0x40 };
	uint8_t out[64];
	size_t len;

	(void)state;
	len = sizeof(out);
	assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 2, out, &len),
	    KDC_OK);
	assert_int_equal(len, sizeof(v_skg));
	assert_memory_equal(out, v_skg, len);

	len = sizeof(out);
	assert_int_equal(kdc_multipart_encode(cfn, pn, ln, 2, out, &len),
	    KDC_OK);
	assert_int_equal(len, sizeof(v_null));
	assert_memory_equal(out, v_null, len);

	len = sizeof(out);
	assert_int_equal(kdc_multipart_encode(NULL, NULL, NULL, 0, out, &len),
	    KDC_OK);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 0x80);

	/* every output capacity short of the message: TOO_LARGE */
	for (size_t cap = 0; cap < sizeof(v_skg); cap++) {
		len = cap;
		assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 2, out,
		    &len), KDC_ERR_TOO_LARGE);
	}
}

static void
test_encode_long(void **state)
{
	static uint8_t big[70000], out[70400];
	static const int cfs[2] = { 65535, 23 };
	const uint8_t *parts[2] = { big, big };
	size_t lens[2] = { 300, sizeof(big) };
	size_t len = sizeof(out);
	struct got g;

	(void)state;
	memset(big, 0x5a, sizeof(big));
	assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 2, out, &len),
	    KDC_OK);
	/* 0x84, 19 ffff, 59 012c <300>, 17, 5a 00011170 <70000> */
	assert_int_equal(len, 1 + 3 + 3 + 300 + 1 + 5 + sizeof(big));
	assert_int_equal(out[1], 0x19);
	assert_int_equal(out[4], 0x59);
	assert_int_equal(out[7 + 300], 0x17);
	assert_int_equal(out[8 + 300], 0x5a);
	memset(&g, 0, sizeof(g));
	assert_int_equal(kdc_multipart_decode(out, len, collect, &g), KDC_OK);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.cf[0], 65535);
	assert_int_equal(g.len[0], 300);
	assert_int_equal(g.cf[1], 23);
	assert_int_equal(g.len[1], sizeof(big));
	assert_ptr_equal(g.part[1], out + len - sizeof(big));
}

static void
test_encode_args(void **state)
{
	int cfs[1] = { 0 };
	const uint8_t *parts[1] = { (const uint8_t *)"x" };
	size_t lens[1] = { 1 };
	uint8_t out[16];
	size_t len = sizeof(out);
	int many[KDC_MULTIPART_MAX_PARTS + 1] = { 0 };
	const uint8_t *pm[KDC_MULTIPART_MAX_PARTS + 1] = { NULL };
	size_t lm[KDC_MULTIPART_MAX_PARTS + 1] = { 0 };

	(void)state;
	cfs[0] = -1;
	assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	cfs[0] = 65536;
	assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	cfs[0] = 0;
	parts[0] = NULL;
	assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_multipart_encode(NULL, parts, lens, 1, out, &len),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 1, NULL, &len),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 1, out, NULL),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(len, sizeof(out));	/* untouched on errors */
	assert_int_equal(kdc_multipart_encode(many, pm, lm,
	    KDC_MULTIPART_MAX_PARTS + 1, out, &len), KDC_ERR_INVALID_ARG);
	len = sizeof(out);
	assert_int_equal(kdc_multipart_encode(many, pm, lm,
	    KDC_MULTIPART_MAX_PARTS, out, &len), KDC_ERR_TOO_LARGE);
}

static void
test_decode_vectors(void **state)
{
	static const uint8_t v_null[] = { 0x82, 0x00, 0xf6 };
	/* non-shortest heads are well-formed CBOR: accepted */
	static const uint8_t v_long[] = { 0x98, 0x02, 0x18, 0x05, 0x58, 0x01,
	    0x7f };
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_int_equal(kdc_multipart_decode(v_skg, sizeof(v_skg), collect,
	    &g), KDC_OK);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.cf[0], 284);
	assert_int_equal(g.len[0], 2);
	assert_ptr_equal(g.part[0], v_skg + 5);
	assert_int_equal(g.cf[1], 287);
	assert_int_equal(g.len[1], 1);
	assert_ptr_equal(g.part[1], v_skg + 11);

	memset(&g, 0, sizeof(g));
	assert_int_equal(kdc_multipart_decode(v_null, sizeof(v_null), collect,
	    &g), KDC_OK);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.cf[0], 0);
	assert_null(g.part[0]);
	assert_int_equal(g.len[0], 0);

	memset(&g, 0, sizeof(g));
	assert_int_equal(kdc_multipart_decode(v_long, sizeof(v_long), collect,
	    &g), KDC_OK);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.cf[0], 5);
	assert_int_equal(g.len[0], 1);

	assert_int_equal(kdc_multipart_decode((const uint8_t *)"\x80", 1,
	    NULL, NULL), KDC_OK);
	assert_int_equal(kdc_multipart_decode(v_skg, sizeof(v_skg), NULL,
	    NULL), KDC_OK);

	/* fn's error stops the walk and is returned */
	memset(&g, 0, sizeof(g));
	g.stop_at = 1;
	assert_int_equal(kdc_multipart_decode(v_skg, sizeof(v_skg), collect,
	    &g), KDC_ERR_DENIED);
	assert_int_equal(g.n, 1);
}

static void
bad(const uint8_t *b, size_t n, kdc_err want)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	assert_int_equal(kdc_multipart_decode(b, n, collect, &g), want);
	assert_int_equal(g.n, 0);	/* validated before the first call */
}

static void
test_decode_refused(void **state)
{
	uint8_t many[1 + 2 * (KDC_MULTIPART_MAX_PARTS + 1)];

	(void)state;
	bad(NULL, 0, KDC_ERR_TRUNCATED);
	assert_int_equal(kdc_multipart_decode(NULL, 3, NULL, NULL),
	    KDC_ERR_INVALID_ARG);
	bad((const uint8_t *)"\x83\x00\xf6\x00", 4, KDC_ERR_MALFORMED);	/* odd */
	bad((const uint8_t *)"\x9f\x00\xf6\xff", 4, KDC_ERR_MALFORMED);	/* indefinite */
	bad((const uint8_t *)"\xa2\x00\xf6", 3, KDC_ERR_MALFORMED);	/* map */
	bad((const uint8_t *)"\x82\x61\x61\xf6", 4, KDC_ERR_MALFORMED);	/* tstr cf */
	bad((const uint8_t *)"\x82\x20\xf6", 3, KDC_ERR_MALFORMED);	/* -1 */
	bad((const uint8_t *)"\x82\x1a\x00\x01\x00\x00\xf6", 7,
	    KDC_ERR_MALFORMED);						/* 65536 */
	bad((const uint8_t *)"\x82\x00\x61\x61", 4, KDC_ERR_MALFORMED);	/* tstr part */
	bad((const uint8_t *)"\x82\x00\x5f\x41\x61\xff", 6,
	    KDC_ERR_MALFORMED);						/* indefinite bstr */
	bad((const uint8_t *)"\x82\x00\xf7", 3, KDC_ERR_MALFORMED);	/* undefined */
	bad((const uint8_t *)"\x82\x00\x1c", 3, KDC_ERR_MALFORMED);	/* ai 28 */
	bad((const uint8_t *)"\x82\x00\x41\x61\x00", 5, KDC_ERR_TRAILING);
	bad((const uint8_t *)"\x80\x80", 2, KDC_ERR_TRAILING);
	bad((const uint8_t *)"\x82\x00\x5b\xff\xff\xff\xff\xff\xff\xff\xff",
	    11, KDC_ERR_TRUNCATED);					/* 2^64-1 bstr */
	bad((const uint8_t *)"\x9b\xff\xff\xff\xff\xff\xff\xff\xfe", 9,
	    KDC_ERR_TOO_LARGE);						/* huge count */
	many[0] = 0x98;
	many[1] = 2 * (KDC_MULTIPART_MAX_PARTS + 1);
	for (size_t i = 0; i < KDC_MULTIPART_MAX_PARTS + 1; i++) {
		many[2 + 2 * i] = 0x00;
		if (3 + 2 * i < sizeof(many))
			many[3 + 2 * i] = 0xf6;
	}
	bad(many, sizeof(many), KDC_ERR_TOO_LARGE);
}

/* Every proper prefix of a valid message: TRUNCATED, no callback. */
static void
test_truncation(void **state)
{
	static uint8_t key[138], cert[600];
	static const int cfs[2] = { 284, 287 };
	const uint8_t *parts[2] = { key, cert };
	size_t lens[2] = { sizeof(key), sizeof(cert) };
	uint8_t out[1024];
	size_t len = sizeof(out);

	(void)state;
	memset(key, 0x30, sizeof(key));
	memset(cert, 0x30, sizeof(cert));
	assert_int_equal(kdc_multipart_encode(cfs, parts, lens, 2, out, &len),
	    KDC_OK);
	for (size_t n = 0; n < len; n++)
		bad(out, n, KDC_ERR_TRUNCATED);
	for (size_t n = 0; n < sizeof(v_skg); n++)
		bad(v_skg, n, KDC_ERR_TRUNCATED);
}

/* Every one-byte mutation of v_skg: never a read outside the input, and
 * whatever is accepted re-encodes to a message that decodes the same. */
static void
test_mutation(void **state)
{
	uint8_t m[sizeof(v_skg)], re[64];
	size_t accepted = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(v_skg); i++)
		for (unsigned v = 0; v < 256; v++) {
			struct got g, g2;
			size_t rl = sizeof(re);
			kdc_err r;

			memcpy(m, v_skg, sizeof(m));
			m[i] = (uint8_t)v;
			memset(&g, 0, sizeof(g));
			r = kdc_multipart_decode(m, sizeof(m), collect, &g);
			if (r != KDC_OK) {
				assert_int_equal(g.n, 0);
				continue;
			}
			accepted++;
			for (size_t k = 0; k < g.n; k++)
				assert_true(g.part[k] == NULL ||
				    (g.part[k] >= m && g.len[k] <= sizeof(m) &&
				    (size_t)(g.part[k] - m) <= sizeof(m) -
				    g.len[k]));
			assert_int_equal(kdc_multipart_encode(g.cf,
			    (const uint8_t *const *)g.part, g.len, g.n, re,
			    &rl), KDC_OK);
			memset(&g2, 0, sizeof(g2));
			assert_int_equal(kdc_multipart_decode(re, rl, collect,
			    &g2), KDC_OK);
			assert_int_equal(g2.n, g.n);
			for (size_t k = 0; k < g.n; k++) {
				assert_int_equal(g2.cf[k], g.cf[k]);
				assert_int_equal(g2.len[k], g.len[k]);
				if (g.len[k] > 0)
					assert_memory_equal(g2.part[k],
					    g.part[k], g.len[k]);
			}
		}
	/* the content bytes at least (3 of them) mutate freely */
	assert_true(accepted >= 3 * 256);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_vectors),
		cmocka_unit_test(test_encode_long),
		cmocka_unit_test(test_encode_args),
		cmocka_unit_test(test_decode_vectors),
		cmocka_unit_test(test_decode_refused),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_mutation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
