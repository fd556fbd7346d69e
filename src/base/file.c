/*
 * file.c: atomic whole-file writes (file.h). One copy of the sequence
 * open(O_EXCL) - fchmod - write - fsync - close - rename/link - fsync(dir)
 * for the server and the device tool.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"

#ifndef PATH_MAX
#define PATH_MAX	4096
#endif
/* Attempts at a fresh temporary name: a clash means a leftover of a
 * crashed process that had our pid, or another thread of ours. */
#define TMP_TRIES	16

static atomic_uint tmp_seq;

/* The error of a failed write or sync: a full disk told apart. */
static kdc_err
io_err(void)
{
	return errno == ENOSPC || errno == EDQUOT ? KDC_ERR_NOSPACE :
	    KDC_ERR_IO;
}

static kdc_err
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == -1 ? io_err() : KDC_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return KDC_OK;
}

/* Make the directory entry of path durable. A file system that cannot
 * fsync a directory (EINVAL) has nothing more to make durable. */
static kdc_err
sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd, rc;

	if (slash == NULL) {
		dir[0] = '.';
		n = 1;
	} else if (slash == path) {
		dir[0] = '/';
		n = 1;
	} else {
		n = (size_t)(slash - path);	/* < strlen(path) < PATH_MAX */
		memcpy(dir, path, n);
	}
	dir[n] = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return KDC_ERR_IO;
	rc = fsync(fd);
	if (rc == -1 && errno == EINVAL)
		rc = 0;
	if (close(fd) == -1)
		rc = -1;
	return rc == 0 ? KDC_OK : KDC_ERR_IO;
}

/* Write data to a fresh temporary next to path; its name into tmp. On
 * failure nothing is left behind. */
static kdc_err
write_tmp(const char *path, const void *data, size_t len, unsigned mode,
    char *tmp, size_t cap)
{
	kdc_err r;
	int fd = -1, n;

	if (path == NULL || (len > 0 && data == NULL))
		return KDC_ERR_INVALID_ARG;
	for (int i = 0; i < TMP_TRIES && fd == -1; i++) {
		n = snprintf(tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(),
		    atomic_fetch_add(&tmp_seq, 1u));
		if (n < 0 || (size_t)n >= cap)
			return KDC_ERR_INVALID_ARG;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    (mode_t)mode);
		if (fd == -1 && errno != EEXIST)
			return KDC_ERR_IO;
	}
	if (fd == -1)
		return KDC_ERR_IO;
	/* The umask can only take bits away; make the mode exact before
	 * the first byte of data is there to be read. */
	if (fchmod(fd, (mode_t)mode) == -1)
		r = KDC_ERR_IO;
	else if ((r = write_all(fd, data, len)) == KDC_OK && fsync(fd) == -1)
		r = io_err();
	if (close(fd) == -1 && r == KDC_OK)
		r = KDC_ERR_IO;
	if (r != KDC_OK)
		(void)unlink(tmp);
	return r;
}

kdc_err
kdc_file_write_atomic(const char *path, const void *data, size_t len,
    unsigned mode)
{
	char tmp[PATH_MAX];
	kdc_err r;

	if ((r = write_tmp(path, data, len, mode, tmp, sizeof(tmp))) != KDC_OK)
		return r;
	if (rename(tmp, path) == -1) {
		(void)unlink(tmp);
		return KDC_ERR_IO;
	}
	return sync_dir(path);
}

kdc_err
kdc_file_create_atomic(const char *path, const void *data, size_t len,
    unsigned mode)
{
	char tmp[PATH_MAX];
	kdc_err r;
	int rc;

	if ((r = write_tmp(path, data, len, mode, tmp, sizeof(tmp))) != KDC_OK)
		return r;
	/* link(2) never replaces: the whole file appears, or EEXIST. */
	rc = link(tmp, path);
	r = rc == 0 ? KDC_OK : errno == EEXIST ? KDC_ERR_EXISTS : KDC_ERR_IO;
	(void)unlink(tmp);
	if (r != KDC_OK)
		return r;
	return sync_dir(path);
}
