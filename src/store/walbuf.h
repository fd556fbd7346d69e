/*
 * walbuf.h: the store's SQLite VFS. It is SQLite's default VFS ("unix")
 * with two changes to write-ahead logs. The appends SQLite makes to a
 * log while a transaction commits are gathered in memory and written
 * with one pwrite() when the commit frame is complete, instead of two pwrite()s
 * per page (frame header, then page). A bootstrap's commit writes ~30
 * frames; the ~60 system calls were ~9 % of the daemon's CPU
 * (docs/perf.md).
 *
 * What SQLite sees is unchanged, because no other reader can reach the
 * gathered bytes before they are in the file:
 * - the commit frame's page is written through before xWrite returns,
 *   with its error: a failed write fails the COMMIT, as without the
 *   buffer, and the wal-index header that makes the frames visible to
 *   other connections is written only after that;
 * - every other call on the log (read, size, sync, truncate, close, a
 *   write that does not append) writes what is gathered first;
 * - a shared-memory lock or barrier on any file of the process writes
 *   what any log has gathered (frames of a transaction that spilled
 *   pages and then rolled back are written before the WAL write lock is
 *   released, so they can never land on the next writer's frames).
 * Only log files are buffered; database and journal files go straight
 * through.
 *
 * Reads of a log come from a read-only shared map of the file, not from
 * pread(): SQLite empties a connection's page cache whenever another
 * connection committed, and reads every page again (with two engine
 * threads ~45 reads per bootstrap). The map only serves bytes known to be
 * in the file (written by us or seen by fstat()); SQLite's locking keeps
 * the frames of a reader's snapshot in the file while it reads them.
 * A process uses the VFS only through kdc_walbuf_vfs().
 */
#ifndef KDC_STORE_WALBUF_H
#define KDC_STORE_WALBUF_H

#include <stdbool.h>
#include <stddef.h>

/* The VFS's name for sqlite3_open_v2(), registered (not as the default)
 * on the first call; NULL when registration failed (out of memory), and
 * the caller then opens with SQLite's default VFS. Thread-safe. */
const char	*kdc_walbuf_vfs(void);

/* Appends gathered and not yet written, over every log of the process
 * (tests: 0 after any COMMIT returns). */
size_t		 kdc_walbuf_pending(void);
/* Reads of a log served from its map so far, over the process; reads
 * that faulted (SIGBUS: the file was cut behind SQLite's back; the read
 * is then pread()'s and that log is no longer read from its map). The
 * VFS handles SIGBUS for the process: one raised elsewhere goes to the
 * handler that was installed before the first kdc_walbuf_vfs(). */
size_t		 kdc_walbuf_map_reads(void);
size_t		 kdc_walbuf_map_faults(void);
/* Our SIGBUS handler again, in front of one installed since (a test
 * framework's): false when it could not be installed. */
bool		 kdc_walbuf_guard(void);

#endif
