/*
 * file.c: the few files crypto/ owns in the data dir (keyring, ca.key,
 * ca.pem, server.key, server.pem): bounded reads, exclusive creates and
 * atomic replaces, each fsync'd so a crash never leaves half a key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
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

static kdc_err
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return KDC_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return KDC_OK;
}

/* Best effort: make the new directory entry durable too. */
static void
sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		dir = kdc_strdup(".");
	else if (slash == path)
		dir = kdc_strdup("/");
	else
		dir = kdc_strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	kdc_free(dir);
}

static kdc_err
write_new(const char *path, const void *buf, size_t len, unsigned mode,
    bool sync_dir)
{
	kdc_err r;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd == -1)
		return errno == EEXIST ? KDC_ERR_EXISTS : KDC_ERR_IO;
	/* The umask can only take bits away; make the mode exact anyway. */
	if (fchmod(fd, (mode_t)mode) == -1 ||
	    (r = write_all(fd, buf, len)) != KDC_OK || fsync(fd) == -1)
		r = KDC_ERR_IO;
	else
		r = KDC_OK;
	if (close(fd) == -1 && r == KDC_OK)
		r = KDC_ERR_IO;
	if (r != KDC_OK) {
		(void)unlink(path);
		return r;
	}
	if (sync_dir)
		sync_parent(path);
	return KDC_OK;
}

kdc_err
crypto_file_create(const char *path, const void *buf, size_t len,
    unsigned mode)
{
	return write_new(path, buf, len, mode, true);
}

kdc_err
crypto_file_replace(const char *path, const void *buf, size_t len,
    unsigned mode)
{
	size_t n = strlen(path);
	char *tmp;
	kdc_err r;

	if ((tmp = kdc_malloc(n + 2)) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(tmp, path, n);
	tmp[n] = '~';
	tmp[n + 1] = '\0';
	(void)unlink(tmp);		/* a leftover of a crash */
	if ((r = write_new(tmp, buf, len, mode, false)) != KDC_OK)
		goto out;
	if (rename(tmp, path) == -1) {
		(void)unlink(tmp);
		r = KDC_ERR_IO;
		goto out;
	}
	sync_parent(path);
out:
	kdc_free(tmp);
	return r;
}
