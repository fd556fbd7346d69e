/*
 * test_base.c: src/base/: the bounded reader refuses every read past the
 * end at every offset and the refusal sticks; view/skip take peer-sized
 * (uint64_t) counts without wrapping; kdc_rd_be/kdc_wr_be take widths
 * 1..8 only; the writer never writes past its capacity and its overflow
 * sticks; the atomic file writes leave either
 * the whole new file (with the mode asked for, whatever the umask) or the
 * old state, and never a temporary, when a write fails half way (a file
 * size limit), the directory does not exist or the path is a directory;
 * kdc_wipe() zeroes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/wipe.h"
#include "testutil.h"

/* ---- reader ----------------------------------------------------------- */

static const uint8_t in16[16] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0xff,
};

/* Big-endian value of in16[pos, pos + width). */
static uint64_t
be_at(size_t pos, size_t width)
{
	uint64_t v = 0;

	for (size_t i = 0; i < width; i++)
		v = (v << 8) | in16[pos + i];
	return v;
}

enum getter { G_U8, G_BE16, G_BE32, G_BE64, G_BYTES, G_VIEW, G_SKIP };
static const size_t g_width[] = { 1, 2, 4, 8, 3, 5, 7 };

/* Call getter g; *v gets what it returned (0 when refused). */
static bool
call(struct kdc_rd *rd, enum getter g, uint64_t *v)
{
	uint8_t u8 = 0xaa, b[3] = { 0xaa, 0xaa, 0xaa };
	uint16_t u16 = 0xaaaa;
	uint32_t u32 = 0xaaaaaaaa;
	const uint8_t *p = in16;
	bool ok = false;

	*v = 0xaaaaaaaaaaaaaaaaull;
	switch (g) {
	case G_U8:
		ok = kdc_rd_u8(rd, &u8);
		*v = u8;
		break;
	case G_BE16:
		ok = kdc_rd_be16(rd, &u16);
		*v = u16;
		break;
	case G_BE32:
		ok = kdc_rd_be32(rd, &u32);
		*v = u32;
		break;
	case G_BE64:
		ok = kdc_rd_be64(rd, v);
		break;
	case G_BYTES:
		/* refused: the destination is left alone */
		ok = kdc_rd_bytes(rd, b, sizeof(b));
		if (!ok)
			assert_true(b[0] == 0xaa && b[1] == 0xaa &&
			    b[2] == 0xaa);
		*v = ok ? (uint64_t)b[0] << 16 | (uint64_t)b[1] << 8 | b[2] :
		    0;
		break;
	case G_VIEW:
		ok = kdc_rd_view(rd, 5, &p);
		if (!ok)
			assert_null(p);
		*v = ok ? be_at((size_t)(p - in16), 5) : 0;
		break;
	case G_SKIP:
		ok = kdc_rd_skip(rd, 7);
		*v = 0;
		break;
	}
	return ok;
}

/*
 * For every length L of input (0..16), every offset pos <= L reached by
 * skipping, and every getter: it succeeds, with the big-endian value at
 * pos and moving by its width, exactly when width <= L - pos; otherwise
 * it returns 0 / false, moves nothing and records TRUNCATED, and then
 * every getter refuses, even one that would fit.
 */
static void
test_rd_truncation_every_offset(void **state)
{
	(void)state;
	for (size_t len = 0; len <= sizeof(in16); len++)
		for (size_t pos = 0; pos <= len; pos++)
			for (int g = G_U8; g <= G_SKIP; g++) {
				struct kdc_rd rd;
				size_t w = g_width[g];
				uint64_t v;
				uint8_t pk;
				bool ok;

				kdc_rd_init(&rd, in16, len);
				assert_true(kdc_rd_skip(&rd, pos));
				assert_int_equal(kdc_rd_remaining(&rd),
				    len - pos);
				ok = call(&rd, (enum getter)g, &v);
				if (w <= len - pos) {
					assert_true(ok);
					if (g != G_SKIP)
						assert_true(v == be_at(pos,
						    g == G_BYTES ? 3 : w));
					assert_int_equal(kdc_rd_pos(&rd),
					    pos + w);
					assert_int_equal(kdc_rd_err(&rd),
					    KDC_OK);
					assert_true(kdc_rd_at_end(&rd) ==
					    (pos + w == len));
					continue;
				}
				assert_false(ok);
				assert_true(v == 0);
				assert_int_equal(kdc_rd_pos(&rd), pos);
				assert_int_equal(kdc_rd_err(&rd),
				    KDC_ERR_TRUNCATED);
				/* sticky: nothing reads any more */
				assert_int_equal(kdc_rd_remaining(&rd), 0);
				assert_true(kdc_rd_at_end(&rd));
				assert_false(kdc_rd_peek(&rd, &pk));
				for (int h = G_U8; h <= G_SKIP; h++)
					assert_false(call(&rd, (enum getter)h,
					    &v));
				assert_false(kdc_rd_skip(&rd, 0));
				assert_int_equal(kdc_rd_pos(&rd), pos);
				assert_int_equal(kdc_rd_err(&rd),
				    KDC_ERR_TRUNCATED);
			}
}

/* view/skip take a uint64_t a peer may have announced: no count wraps
 * around the pointer or the size_t. */
static void
test_rd_view_skip_bounds(void **state)
{
	static const uint64_t huge[] = {
		17, 0xffffffffull, 0x100000000ull, SIZE_MAX,
		(uint64_t)SIZE_MAX - 1, UINT64_MAX, 0x8000000000000000ull,
	};
	struct kdc_rd rd;
	const uint8_t *p;
	uint8_t b;

	(void)state;
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		kdc_rd_init(&rd, in16, sizeof(in16));
		assert_true(kdc_rd_skip(&rd, 1));
		assert_false(kdc_rd_view(&rd, huge[i], &p));
		assert_null(p);
		assert_int_equal(kdc_rd_err(&rd), KDC_ERR_TRUNCATED);
		kdc_rd_init(&rd, in16, sizeof(in16));
		assert_true(kdc_rd_skip(&rd, 1));
		assert_false(kdc_rd_skip(&rd, huge[i]));
		assert_int_equal(kdc_rd_pos(&rd), 1);
	}
	/* exactly to the end, then an empty view is still fine */
	kdc_rd_init(&rd, in16, sizeof(in16));
	assert_true(kdc_rd_view(&rd, 16, &p));
	assert_ptr_equal(p, in16);
	assert_true(kdc_rd_at_end(&rd));
	assert_true(kdc_rd_view(&rd, 0, &p));
	assert_ptr_equal(p, in16 + 16);
	assert_false(kdc_rd_peek(&rd, &b));
	assert_int_equal(kdc_rd_err(&rd), KDC_OK);	/* peeking is no read */
	assert_false(kdc_rd_u8(&rd, &b));
	assert_int_equal(kdc_rd_err(&rd), KDC_ERR_TRUNCATED);

	/* peek does not move; a copy is an independent reader */
	kdc_rd_init(&rd, in16, sizeof(in16));
	assert_true(kdc_rd_peek(&rd, &b));
	assert_int_equal(b, 0x01);
	{
		struct kdc_rd t = rd;

		assert_true(kdc_rd_skip(&t, 15));
		assert_false(kdc_rd_be16(&t, &(uint16_t){ 0 }));
	}
	assert_int_equal(kdc_rd_pos(&rd), 0);
	assert_int_equal(kdc_rd_err(&rd), KDC_OK);

	/* NULL input reads as empty, whatever the length says */
	kdc_rd_init(&rd, NULL, 100);
	assert_int_equal(kdc_rd_remaining(&rd), 0);
	assert_true(kdc_rd_at_end(&rd));
	assert_false(kdc_rd_u8(&rd, &b));
}

/* kdc_rd_be / kdc_wr_be: any width 1..8, nothing else (a width of 9
 * would shift a byte out of the uint64_t). */
static void
test_be_widths(void **state)
{
	struct kdc_rd rd;
	struct kdc_wr w;
	uint8_t out[16];
	uint64_t v;

	(void)state;
	for (unsigned width = 1; width <= 8; width++) {
		kdc_rd_init(&rd, in16 + 8, 8);
		assert_true(kdc_rd_be(&rd, width, &v));
		assert_true(v == be_at(8, width));
		kdc_wr_init(&w, out, sizeof(out));
		assert_true(kdc_wr_be(&w, v, width));
		assert_int_equal(kdc_wr_len(&w), width);
		assert_memory_equal(out, in16 + 8, width);
	}
	for (unsigned width = 0; width <= 16; width += 9) {
		kdc_rd_init(&rd, in16, sizeof(in16));
		assert_false(kdc_rd_be(&rd, width, &v));
		assert_true(v == 0);
		assert_int_equal(kdc_rd_pos(&rd), 0);
		assert_int_equal(kdc_rd_err(&rd), KDC_ERR_INVALID_ARG);
		memset(out, 0xee, sizeof(out));
		kdc_wr_init(&w, out, sizeof(out));
		assert_false(kdc_wr_be(&w, UINT64_MAX, width));
		assert_int_equal(kdc_wr_len(&w), 0);
		assert_int_equal(kdc_wr_err(&w), KDC_ERR_INVALID_ARG);
		assert_int_equal(out[0], 0xee);
	}
}

/* The first failure wins, TRUNCATED or a parser's own verdict. */
static void
test_rd_fail_first_wins(void **state)
{
	struct kdc_rd rd;
	uint8_t b;

	(void)state;
	kdc_rd_init(&rd, in16, 2);
	assert_false(kdc_rd_fail(&rd, KDC_ERR_MALFORMED));
	assert_false(kdc_rd_u8(&rd, &b));
	assert_int_equal(b, 0);
	assert_false(kdc_rd_fail(&rd, KDC_ERR_TRAILING));
	assert_int_equal(kdc_rd_err(&rd), KDC_ERR_MALFORMED);

	kdc_rd_init(&rd, in16, 1);
	assert_false(kdc_rd_be16(&rd, &(uint16_t){ 0 }));
	assert_false(kdc_rd_fail(&rd, KDC_ERR_MALFORMED));
	assert_int_equal(kdc_rd_err(&rd), KDC_ERR_TRUNCATED);
	/* re-initialising resets */
	kdc_rd_init(&rd, in16, 1);
	assert_true(kdc_rd_u8(&rd, &b));
	assert_int_equal(b, 0x01);
}

/* ---- writer ----------------------------------------------------------- */

/* One fixed sequence of puts; false at the first refusal. */
static bool
put_all(struct kdc_wr *w)
{
	return kdc_wr_u8(w, 0x01) && kdc_wr_be16(w, 0x0203) &&
	    kdc_wr_be32(w, 0x04050607u) &&
	    kdc_wr_be64(w, 0x08090a0b0c0d0e0full) &&
	    kdc_wr_bytes(w, "\x10\x11\x12", 3) && kdc_wr_str(w, "ab") &&
	    kdc_wr_bytes(w, NULL, 0);
}

#define PUT_ALL_LEN	20

/*
 * For every capacity 0..PUT_ALL_LEN in a larger buffer: what fits is the
 * prefix of the full encoding, at an element boundary (all or nothing);
 * not one byte past the capacity changes; the overflow is TOO_LARGE and
 * sticks (a 1-byte put that would fit is refused after it).
 */
static void
test_wr_overflow(void **state)
{
	uint8_t full[PUT_ALL_LEN], buf[PUT_ALL_LEN + 8];
	static const size_t bounds[] = { 0, 1, 3, 7, 15, 18, 20 };
	struct kdc_wr w;

	(void)state;
	kdc_wr_init(&w, full, sizeof(full));
	assert_true(put_all(&w));
	assert_int_equal(kdc_wr_len(&w), PUT_ALL_LEN);
	assert_memory_equal(full, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
	    "\x0b\x0c\x0d\x0e\x0f\x10\x11\x12" "ab", PUT_ALL_LEN);
	assert_int_equal(kdc_wr_err(&w), KDC_OK);

	for (size_t cap = 0; cap <= PUT_ALL_LEN; cap++) {
		size_t fit = 0;

		for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
			if (bounds[i] <= cap)
				fit = bounds[i];
		memset(buf, 0xee, sizeof(buf));
		kdc_wr_init(&w, buf, cap);
		assert_true(put_all(&w) == (cap == PUT_ALL_LEN));
		assert_int_equal(kdc_wr_len(&w), fit);
		assert_memory_equal(buf, full, fit);
		for (size_t i = fit; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xee);
		if (cap == PUT_ALL_LEN) {
			assert_int_equal(kdc_wr_err(&w), KDC_OK);
			continue;
		}
		assert_int_equal(kdc_wr_err(&w), KDC_ERR_TOO_LARGE);
		assert_false(kdc_wr_bytes(&w, NULL, 0));
		if (cap > fit)
			assert_false(kdc_wr_u8(&w, 0x77));   /* would fit */
		assert_int_equal(kdc_wr_len(&w), fit);
		for (size_t i = fit; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xee);
	}

	/* an encoder's own verdict wins over a later overflow */
	kdc_wr_init(&w, buf, 1);
	assert_false(kdc_wr_fail(&w, KDC_ERR_INVALID_ARG));
	assert_false(kdc_wr_u8(&w, 1));
	assert_int_equal(kdc_wr_err(&w), KDC_ERR_INVALID_ARG);
	/* NULL buffer: no room */
	kdc_wr_init(&w, NULL, 64);
	assert_false(kdc_wr_u8(&w, 1));
	assert_int_equal(kdc_wr_err(&w), KDC_ERR_TOO_LARGE);
}

/* ---- atomic file writes ----------------------------------------------- */

/* Entries in dir besides . and .. */
static int
count_entries(const char *dir)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
assert_file(const char *path, const char *want, unsigned mode)
{
	struct stat st;
	uint8_t *got;
	size_t len;

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	assert_non_null(got = kdc_test_read_file(path, &len));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

static void
test_file_write_atomic(void **state)
{
	char *dir = kdc_test_tmpdir(), path[512], sub[512], nodir[512];
	mode_t old = umask(077);	/* the mode must not depend on it */

	(void)state;
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(kdc_file_write_atomic(path, "one", 3, 0644), KDC_OK);
	assert_file(path, "one", 0644);
	assert_int_equal(count_entries(dir), 1);
	/* replace: new content and mode, still one entry */
	assert_int_equal(kdc_file_write_atomic(path, "second", 6, 0600),
	    KDC_OK);
	assert_file(path, "second", 0600);
	assert_int_equal(count_entries(dir), 1);
	/* empty file */
	assert_int_equal(kdc_file_write_atomic(path, NULL, 0, 0640), KDC_OK);
	assert_file(path, "", 0640);
	assert_int_equal(kdc_file_write_atomic(path, "second", 6, 0600),
	    KDC_OK);

	/* no such directory: IO, nothing created */
	snprintf(nodir, sizeof(nodir), "%s/missing/f", dir);
	assert_int_equal(kdc_file_write_atomic(nodir, "x", 1, 0600),
	    KDC_ERR_IO);
	assert_int_equal(count_entries(dir), 1);
	/* a directory where nothing may be created, even by root */
	assert_int_equal(kdc_file_write_atomic("/proc/kdc-test-f", "x", 1,
	    0600), KDC_ERR_IO);
	/* path is a directory: rename refuses; the directory and the rest
	 * of the tree are as they were, no temporary left */
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(kdc_file_write_atomic(sub, "x", 1, 0600), KDC_ERR_IO);
	assert_int_equal(count_entries(dir), 2);
	assert_int_equal(count_entries(sub), 0);
	assert_int_equal(rmdir(sub), 0);
	/* a path too long for the temporary name */
	{
		char *longp = malloc(5000);

		assert_non_null(longp);
		memset(longp, 'a', 4999);
		longp[0] = '/';
		longp[4999] = '\0';
		assert_int_equal(kdc_file_write_atomic(longp, "x", 1, 0600),
		    KDC_ERR_INVALID_ARG);
		free(longp);
	}
	assert_file(path, "second", 0600);
	umask(old);
	kdc_test_rmtree(dir);
	free(dir);
}

/*
 * A write that fails half way (the file size limit lets the first 4 KiB
 * through, then write(2) says EFBIG): the old file is untouched and the
 * half-written temporary is gone. Works as root, unlike a read-only
 * directory.
 */
static void
test_file_write_fails_half_way(void **state)
{
	char *dir = kdc_test_tmpdir(), path[512];
	struct rlimit old, lim;
	void (*old_sig)(int);
	static uint8_t big[64 * 1024];
	kdc_err r, rc;

	(void)state;
	memset(big, 'z', sizeof(big));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(kdc_file_write_atomic(path, "old", 3, 0600), KDC_OK);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 4096;
	old_sig = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = kdc_file_write_atomic(path, big, sizeof(big), 0600);
	rc = kdc_file_create_atomic(path, big, sizeof(big), 0600);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_sig);
	assert_int_equal(r, KDC_ERR_IO);
	assert_int_equal(rc, KDC_ERR_IO);
	assert_file(path, "old", 0600);
	assert_int_equal(count_entries(dir), 1);
	/* and with the limit back, the same write goes through whole */
	assert_int_equal(kdc_file_write_atomic(path, big, sizeof(big), 0600),
	    KDC_OK);
	{
		size_t len;
		uint8_t *got = kdc_test_read_file(path, &len);

		assert_non_null(got);
		assert_int_equal(len, sizeof(big));
		assert_memory_equal(got, big, len);
		free(got);
	}
	assert_int_equal(count_entries(dir), 1);
	kdc_test_rmtree(dir);
	free(dir);
}

static void
test_file_create_atomic(void **state)
{
	char *dir = kdc_test_tmpdir(), path[512], nodir[512];
	mode_t old = umask(022);

	(void)state;
	snprintf(path, sizeof(path), "%s/key", dir);
	assert_int_equal(kdc_file_create_atomic(path, "k1", 2, 0660), KDC_OK);
	assert_file(path, "k1", 0660);
	/* exists: refused, the old file untouched, no temporary left */
	assert_int_equal(kdc_file_create_atomic(path, "k2", 2, 0600),
	    KDC_ERR_EXISTS);
	assert_file(path, "k1", 0660);
	assert_int_equal(count_entries(dir), 1);
	snprintf(nodir, sizeof(nodir), "%s/missing/key", dir);
	assert_int_equal(kdc_file_create_atomic(nodir, "k", 1, 0600),
	    KDC_ERR_IO);
	assert_int_equal(count_entries(dir), 1);
	umask(old);
	kdc_test_rmtree(dir);
	free(dir);
}

/* ---- wipe ------------------------------------------------------------- */

static void
test_wipe(void **state)
{
	uint8_t b[33];

	(void)state;
	memset(b, 0x5a, sizeof(b));
	kdc_wipe(b + 1, 31);
	assert_int_equal(b[0], 0x5a);
	for (size_t i = 1; i < 32; i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(b[32], 0x5a);
	kdc_wipe(NULL, 10);		/* NULL-safe */
	kdc_wipe(b, 0);
	assert_int_equal(b[0], 0x5a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rd_truncation_every_offset),
		cmocka_unit_test(test_rd_view_skip_bounds),
		cmocka_unit_test(test_be_widths),
		cmocka_unit_test(test_rd_fail_first_wins),
		cmocka_unit_test(test_wr_overflow),
		cmocka_unit_test(test_file_write_atomic),
		cmocka_unit_test(test_file_write_fails_half_way),
		cmocka_unit_test(test_file_create_atomic),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
