/*
 * test_manifest.c: the JSON Lines manifest line parser (DESIGN §5).
 * Vectors: tests/vectors/manifest/lines.txt, made by gen.sh next to it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/limits.h"
#include "core/manifest.h"
#include "crypto/crypto.h"
#include "testutil.h"

#define VECTORS KDC_VECTORS_DIR "/manifest/lines.txt"

/* Byte values tried at every position of a long line (full 0..255 sweep
 * only for lines up to MUTATE_FULL_MAX bytes, to keep the SAN run short). */
#define MUTATE_FULL_MAX 512
static const uint8_t some_bytes[] = {
	0x00, 0x01, '\t', '\n', '\r', ' ', '"', ',', ':', '0', 'A', '[', '\\',
	']', 'f', 'z', '{', '}', 0x7f, 0x80, 0xc3, 0xff,
};

/* A heap copy of exactly n bytes, so ASan sees any read past the line. */
static char *
exact_copy(const void *p, size_t n)
{
	char *c = malloc(n > 0 ? n : 1);

	assert_non_null(c);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

static kdc_err
parse(const void *p, size_t n, struct kdc_device_spec *spec, char *why,
    size_t why_len)
{
	char *c = exact_copy(p, n);
	kdc_err r = kdc_manifest_parse_line(c, n, spec, why, why_len);

	free(c);
	return r;
}

static kdc_err
parse_str(const char *s, struct kdc_device_spec *spec)
{
	char why[256];

	return parse(s, strlen(s), spec, why, sizeof(why));
}

static int
group_setup(void **state)
{
	struct kdc_vec *v;

	if (kdc_crypto_init() != KDC_OK)
		return -1;
	if ((v = kdc_vec_load(VECTORS)) == NULL) {
		fprintf(stderr, "cannot load %s\n", VECTORS);
		return -1;
	}
	*state = v;
	return 0;
}

static int
group_teardown(void **state)
{
	kdc_vec_free(*state);
	return 0;
}

/* ---- the vector file --------------------------------------------------- */

static void
test_vectors(void **state)
{
	struct kdc_device_spec spec;
	char why[256];
	int n = 0, nok = 0, bad = 0;

	for (struct kdc_vec *v = *state; v != NULL; v = v->next) {
		kdc_err r;

		memset(why, 'x', sizeof(why));
		r = parse(v->in, v->in_len, &spec, why, sizeof(why));
		n++;
		if (r != v->want) {
			print_error("lines.txt:%d: got %s, want %s (%s)\n",
			    v->line, kdc_err_name(r), kdc_err_name(v->want),
			    why);
			bad++;
		} else if (r != KDC_OK && (why[0] == '\0' ||
		    memchr(why, '\0', sizeof(why)) == NULL)) {
			print_error("lines.txt:%d: %s without a reason\n",
			    v->line, kdc_err_name(r));
			bad++;
		} else if (r == KDC_OK && (spec.dev_id[0] == '\0' ||
		    why[0] != '\0')) {
			print_error("lines.txt:%d: OK but id '%s' why "
			    "'%.64s'\n", v->line, spec.dev_id, why);
			bad++;
		}
		nok += r == KDC_OK;
		kdc_wipe(&spec, sizeof(spec));
	}
	assert_int_equal(bad, 0);
	assert_true(n >= 80);	/* the file did not shrink by accident */
	assert_true(nok >= 15);
}

/* Every prefix of a valid line fails, except one that still holds the
 * whole object: a prefix that only drops trailing white space or the CR
 * is the same line. So: OK iff the prefix reaches the last '}'. */
static void
test_truncations(void **state)
{
	struct kdc_device_spec spec;
	char why[256];

	for (struct kdc_vec *v = *state; v != NULL; v = v->next) {
		size_t end = 0;

		if (v->want != KDC_OK)
			continue;
		for (size_t i = 0; i < v->in_len; i++)
			if (v->in[i] == '}')
				end = i + 1;
		assert_true(end > 0);
		for (size_t n = 0; n < v->in_len; n++) {
			kdc_err r = parse(v->in, n, &spec, why, sizeof(why));

			kdc_wipe(&spec, sizeof(spec));
			if (n < end && r == KDC_OK)
				fail_msg("lines.txt:%d cut to %zu bytes: OK",
				    v->line, n);
			if (n >= end && r != KDC_OK)
				fail_msg("lines.txt:%d cut to %zu bytes "
				    "(whole object): %s", v->line, n,
				    kdc_err_name(r));
			if (r != KDC_OK && why[0] == '\0')
				fail_msg("lines.txt:%d cut to %zu: no reason",
				    v->line, n);
		}
	}
}

/* Every byte of every vector set to every value: no crash, no leak, no
 * read past the line (ASan/UBSan do the checking), and the result is a
 * known kdc_err. Long lines get a set of interesting values instead. */
static void
test_mutations(void **state)
{
	struct kdc_device_spec spec;
	char why[64];
	long runs = 0;

	for (struct kdc_vec *v = *state; v != NULL; v = v->next) {
		char *buf = exact_copy(v->in, v->in_len);
		int full = v->in_len <= MUTATE_FULL_MAX;
		unsigned nvals = full ? 256 : sizeof(some_bytes);

		for (size_t i = 0; i < v->in_len; i++) {
			for (unsigned k = 0; k < nvals; k++) {
				kdc_err r;

				buf[i] = (char)(full ? k : some_bytes[k]);
				r = kdc_manifest_parse_line(buf, v->in_len,
				    &spec, why, sizeof(why));
				kdc_wipe(&spec, sizeof(spec));
				assert_true(r <= 0);
				assert_non_null(memchr(why, '\0', sizeof(why)));
				runs++;
			}
			buf[i] = (char)v->in[i];
		}
		free(buf);
	}
	assert_true(runs > 100000);
}

/* ---- fields of a parsed line ------------------------------------------- */

static const char p256_b64[] =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEyJJ9YZ8lCNzl9dv83MgnLevV4RjhMV7y"
    "rPB2NwToUDQXrubCGnLXJUMM1geCqhiQuzW8fAsLVxIUFx5w/swB6A==";
static const char ed_b64[] =
    "MCowBQYDK2VwAyEA3tKzad6k+pI95hKlg4cRM9gC0c/avxDw+IdrB5439+c=";

static void
test_fields_psk(void **state)
{
	struct kdc_device_spec spec;
	uint8_t want[16];

	(void)state;
	for (unsigned i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(0xf0 + i);
	assert_int_equal(parse_str("{\"id\":\"urn:dev:ops:1\",\"psk_identity\":"
	    "\"dev1\",\"psk\":\"F0f1F2f3F4f5F6f7F8f9FaFbFcFdFeFf\","
	    "\"profile\":\"sensors\"}", &spec), KDC_OK);
	assert_int_equal(spec.type, KDC_TYPE_PSK);
	assert_string_equal(spec.dev_id, "urn:dev:ops:1");
	assert_string_equal(spec.psk_identity, "dev1");
	assert_string_equal(spec.profile, "sensors");
	assert_int_equal(spec.psk_len, 16);
	assert_memory_equal(spec.psk, want, 16);
	assert_int_equal(spec.spki_len, 0);
	kdc_wipe(&spec, sizeof(spec));
}

static void
test_fields_rpk(void **state)
{
	struct kdc_device_spec spec;
	char line[512];

	(void)state;
	snprintf(line, sizeof(line), "{\"id\":\"p\",\"rpk\":\"%s\"}", p256_b64);
	assert_int_equal(parse_str(line, &spec), KDC_OK);
	assert_int_equal(spec.type, KDC_TYPE_RPK);
	assert_int_equal(spec.spki_len, 91);	/* P-256 SPKI DER */
	assert_int_equal(spec.spki[0], 0x30);
	assert_string_equal(spec.profile, "");
	assert_int_equal(spec.psk_len, 0);

	snprintf(line, sizeof(line), "{\"rpk\":\"%s\",\"id\":\"e\"}", ed_b64);
	assert_int_equal(parse_str(line, &spec), KDC_OK);
	assert_int_equal(spec.type, KDC_TYPE_RPK);
	assert_int_equal(spec.spki_len, 44);	/* Ed25519 SPKI DER */
	assert_string_equal(spec.dev_id, "e");
}

static void
test_fields_cert(void **state)
{
	struct kdc_device_spec spec;

	(void)state;
	assert_int_equal(parse_str("{\"id\":\"c\",\"cert\":true,"
	    "\"profile\":\"default\"}\r", &spec), KDC_OK);
	assert_int_equal(spec.type, KDC_TYPE_X509);
	assert_string_equal(spec.dev_id, "c");
	assert_string_equal(spec.profile, "default");
	assert_int_equal(spec.psk_len, 0);
	assert_int_equal(spec.spki_len, 0);
	assert_string_equal(spec.psk_identity, "");
}

/* The spec is cleared on entry, so nothing of a previous line survives
 * into a failed parse. */
static void
test_spec_cleared(void **state)
{
	struct kdc_device_spec spec, zero;
	char big[KDC_MANIFEST_LINE_MAX + 1];

	(void)state;
	memset(&zero, 0, sizeof(zero));
	memset(&spec, 0xaa, sizeof(spec));
	assert_int_equal(parse_str("hello", &spec), KDC_ERR_MALFORMED);
	assert_memory_equal(&spec, &zero, sizeof(spec));
	memset(&spec, 0xaa, sizeof(spec));
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"id\":\"d\",\"cert\":true", 21);
	big[sizeof(big) - 1] = '}';
	assert_int_equal(parse(big, sizeof(big), &spec, NULL, 0),
	    KDC_ERR_TOO_LARGE);
	assert_memory_equal(&spec, &zero, sizeof(spec));
}

static void
test_odd_inputs(void **state)
{
	static const char nul_mid[] = "{\"id\":\"d\",\0\"cert\":true}";
	static const char nul_end[] = "{\"id\":\"d\",\"cert\":true}\0";
	static const char inval[] = "{\"id\":\"a b\",\"cert\":true}";
	static const char weak[] =
	    "{\"id\":\"d\",\"psk_identity\":\"i\",\"psk\":\"0011\"}";
	struct kdc_device_spec spec;
	char why[2];

	(void)state;
	assert_int_equal(parse("", 0, &spec, why, sizeof(why)),
	    KDC_ERR_MALFORMED);
	assert_int_equal(parse("\r", 1, &spec, why, sizeof(why)),
	    KDC_ERR_MALFORMED);
	assert_int_equal(parse("   ", 3, &spec, why, sizeof(why)),
	    KDC_ERR_MALFORMED);
	/* A NUL byte is not JSON white space, inside the object or after. */
	assert_int_equal(parse(nul_mid, sizeof(nul_mid) - 1, &spec, why,
	    sizeof(why)), KDC_ERR_MALFORMED);
	assert_int_equal(parse(nul_end, sizeof(nul_end) - 1, &spec, why,
	    sizeof(why)), KDC_ERR_MALFORMED);
	/* The length is honoured: the bytes after len are not read. */
	assert_int_equal(parse("{\"id\":\"d\",\"cert\":true}garbage", 22,
	    &spec, why, sizeof(why)), KDC_OK);
	/* why may be tiny or absent. */
	assert_int_equal(parse("x", 1, &spec, why, 1), KDC_ERR_MALFORMED);
	assert_int_equal(why[0], '\0');
	assert_int_equal(parse(inval, strlen(inval), &spec, NULL, 0),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(parse(weak, strlen(weak), &spec, NULL, 0),
	    KDC_ERR_WEAK_PSK);
}

/* Deep nesting stays inside jansson's depth limit and the line limit. */
static void
test_deep_nesting(void **state)
{
	struct kdc_device_spec spec;
	char why[128];
	char *line = malloc(KDC_MANIFEST_LINE_MAX);

	(void)state;
	assert_non_null(line);
	memset(line, '[', KDC_MANIFEST_LINE_MAX);
	assert_int_equal(kdc_manifest_parse_line(line, KDC_MANIFEST_LINE_MAX,
	    &spec, why, sizeof(why)), KDC_ERR_MALFORMED);
	for (size_t i = 0; i < KDC_MANIFEST_LINE_MAX / 2; i++) {
		line[i] = '[';
		line[KDC_MANIFEST_LINE_MAX - 1 - i] = ']';
	}
	assert_int_equal(kdc_manifest_parse_line(line, KDC_MANIFEST_LINE_MAX,
	    &spec, why, sizeof(why)), KDC_ERR_MALFORMED);
	line[0] = '{';
	assert_int_equal(kdc_manifest_parse_line(line, KDC_MANIFEST_LINE_MAX,
	    &spec, why, sizeof(why)), KDC_ERR_MALFORMED);
	free(line);
}

/* ---- line splitting ---------------------------------------------------- */

static void
expect_line(const char *buf, size_t len, size_t *off, const char *want)
{
	const char *line = NULL;
	size_t line_len = 0;

	assert_int_equal(kdc_manifest_next_line(buf, len, off, &line,
	    &line_len), 1);
	assert_true(line >= buf && line + line_len <= buf + len);
	assert_int_equal(line_len, strlen(want));
	assert_memory_equal(line, want, line_len);
}

static void
expect_end(const char *buf, size_t len, size_t *off)
{
	const char *line = NULL;
	size_t line_len = 0;

	assert_int_equal(kdc_manifest_next_line(buf, len, off, &line,
	    &line_len), 0);
	assert_int_equal(kdc_manifest_next_line(buf, len, off, &line,
	    &line_len), 0);
}

static void
test_next_line(void **state)
{
	char *b;
	size_t off;

	(void)state;
	b = exact_copy("a\nb\r\n\nc", 7);
	off = 0;
	expect_line(b, 7, &off, "a");
	expect_line(b, 7, &off, "b\r");	/* CR left for parse_line */
	expect_line(b, 7, &off, "");
	expect_line(b, 7, &off, "c");	/* no final newline */
	assert_int_equal(off, 7);
	expect_end(b, 7, &off);
	free(b);

	b = exact_copy("{\"id\":\"a\"}\n{\"id\":\"b\"}", 21);
	off = 0;
	expect_line(b, 21, &off, "{\"id\":\"a\"}");
	expect_line(b, 21, &off, "{\"id\":\"b\"}");
	expect_end(b, 21, &off);
	free(b);

	/* A final newline ends the last line; it does not start a new one. */
	b = exact_copy("x\n", 2);
	off = 0;
	expect_line(b, 2, &off, "x");
	expect_end(b, 2, &off);
	free(b);

	b = exact_copy("\n\n", 2);
	off = 0;
	expect_line(b, 2, &off, "");
	expect_line(b, 2, &off, "");
	expect_end(b, 2, &off);
	free(b);

	b = exact_copy("", 0);
	off = 0;
	expect_end(b, 0, &off);
	free(b);

	/* A NUL is an ordinary byte to the splitter. */
	b = exact_copy("a\0b\nc", 5);
	off = 0;
	{
		const char *line;
		size_t line_len;

		assert_int_equal(kdc_manifest_next_line(b, 5, &off, &line,
		    &line_len), 1);
		assert_int_equal(line_len, 3);
	}
	expect_line(b, 5, &off, "c");
	expect_end(b, 5, &off);
	free(b);
}

static void
test_line_blank(void **state)
{
	(void)state;
	assert_true(kdc_manifest_line_blank("", 0));
	assert_true(kdc_manifest_line_blank(" \t\r\v\f", 5));
	assert_false(kdc_manifest_line_blank(" x ", 3));
	assert_false(kdc_manifest_line_blank("\0", 1));
	assert_true(kdc_manifest_line_blank("  x", 2)); /* len honoured */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_fields_psk),
		cmocka_unit_test(test_fields_rpk),
		cmocka_unit_test(test_fields_cert),
		cmocka_unit_test(test_spec_cleared),
		cmocka_unit_test(test_odd_inputs),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_next_line),
		cmocka_unit_test(test_line_blank),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
