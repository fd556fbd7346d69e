/*
 * file.h: whole-file writes that a crash, a full disk or a failed write
 * can never leave half done. The new bytes go to a temporary file in the
 * same directory (so the final rename or link stays on one file system),
 * created O_CREAT|O_EXCL with its mode set before any data, written whole
 * and fsync'd; only then does it take the final name, and the directory
 * is fsync'd so the new entry is durable too. On any failure the
 * temporary file is removed and whatever was at path is untouched.
 *
 * Temporary names are "<path>.tmp.<pid>.<n>": a crash between create and
 * rename can leave one behind, never a partial file at path.
 * POSIX only (host code: the server, the device tool's host port); the
 * device library's portable core does not use it.
 */
#ifndef KDC_BASE_FILE_H
#define KDC_BASE_FILE_H

#include <stddef.h>

#include "base/err.h"

/*
 * Replace (or create) path with data[0, len), mode exactly `mode` (the
 * umask does not apply). KDC_OK; KDC_ERR_INVALID_ARG for a path too long
 * to add the temporary suffix to (PATH_MAX); KDC_ERR_NOSPACE when the
 * disk (or the quota) is full; KDC_ERR_IO for any other system call
 * failure (no such directory, not writable, fsync).
 */
kdc_err	kdc_file_write_atomic(const char *path, const void *data, size_t len,
	    unsigned mode);

/*
 * As kdc_file_write_atomic(), but path must not exist: the complete file
 * appears under path (link(2) of the finished temporary), or nothing
 * does. KDC_ERR_EXISTS if path is there already (even if it appeared
 * while we wrote), otherwise the errors above.
 */
kdc_err	kdc_file_create_atomic(const char *path, const void *data, size_t len,
	    unsigned mode);

#endif
