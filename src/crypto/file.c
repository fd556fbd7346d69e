/*
 * file.c: the few files crypto/ owns in the data dir (keyring, ca.key,
 * ca.pem, server.key, server.pem): bounded reads. Writes go through
 * base/file.h (kdc_file_create_atomic, kdc_file_write_atomic), each
 * fsync'd so a crash never leaves half a key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "crypto/crypto_int.h"

char *
crypto_path(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p;

	if ((p = kdc_malloc(dl + 1 + nl + 1)) == NULL)
		return NULL;
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	return p;
}

kdc_err
crypto_file_read(const char *path, size_t max, uint8_t **out,
    size_t *out_len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len, got = 0;
	kdc_err r;
	int fd;

	*out = NULL;
	*out_len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? KDC_ERR_NOT_FOUND : KDC_ERR_IO;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		r = KDC_ERR_IO;
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	len = (size_t)st.st_size;
	if ((buf = kdc_malloc(len + 1)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = KDC_ERR_IO;
			goto out;
		}
		got += (size_t)n;
	}
	buf[len] = 0;
	*out = buf;
	*out_len = len;
	buf = NULL;
	r = KDC_OK;
out:
	/* What we read may be a wrapped key: not secret, but cheap to wipe. */
	if (buf != NULL)
		kdc_secret_free(buf, got);
	close(fd);
	return r;
}
