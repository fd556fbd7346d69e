/*
 * walbuf.c: SQLite's default VFS with a write-ahead log whose commit
 * appends leave in one write (walbuf.h has the contract and why it is
 * safe).
 *
 * Facts of SQLite's WAL this relies on (https://sqlite.org/walformat.html,
 * https://sqlite.org/fileformat2.html#walformat; checked on 3.40):
 * - the log is a 32-byte header and frames of a 24-byte frame header and
 *   one page; a frame header's bytes 4..7 (the database size after the
 *   commit) are not 0 only in a transaction's commit frame;
 * - a connection writes a frame as two xWrite()s, the header then the
 *   page, at increasing offsets; it writes frames only while it holds
 *   the WAL write lock, shared-memory lock slot 0;
 * - the frames a commit adds become visible to other connections when
 *   the wal-index header is rewritten, which SQLite does across an
 *   xShmBarrier() on the database file;
 * - a connection's database file and its log are used by one thread at
 *   a time (the connection's), so a file needs no lock of its own.
 * The log is tied to its database file at open through
 * sqlite3_database_file_object(), so a lock or barrier on the database
 * file reaches that connection's log only.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/alloc.h"
#include "base/log.h"
#include "store/walbuf.h"

#define WB_HDR		32		/* the log's header */
#define WB_FRAME_HDR	24		/* a frame's header */
#define WB_FIRST	65536		/* the buffer's first size */
/* Gathered bytes past this are written out: a commit of a bootstrap is
 * ~30 KiB of 1 KiB frames; an import's large transactions pass it. */
#define WB_MAX		(1024 * 1024)
/* At most this much per write: the default VFS's xWrite writes only the
 * low 17 bits of its length (amt & 0x1ffff) and calls the short write
 * SQLITE_FULL (docs/traps.md). */
#define WB_WRITE	(128 * 1024 - 4096)
/* The log is read through a shared read-only map of its first 256 MiB
 * (address space only; a log checkpointed every 10,000 frames stays
 * near 10 MiB), past it with pread(). */
#define WB_MAP		((size_t)256 * 1024 * 1024)

struct wb_file {
	sqlite3_file	 base;		/* pMethods: &wb_io */
	sqlite3_file	*real;		/* the default VFS's file, after us */
	bool		 log;		/* a write-ahead log: buffered */
	struct wb_file	*peer;		/* log <-> its database file */
	/* the log's gathered appends: [off, off + len) of the file */
	uint8_t		*buf;
	size_t		 len, cap;
	sqlite3_int64	 off;
	bool		 commit_hdr;	/* the last write: a commit frame's
					 * header; its page comes next */
	int		 err;		/* a write-out that failed where it
					 * could not be returned: every later
					 * write fails until the write lock
					 * is released */
	/* reads of the log: the map (NULL: none) and our own descriptor
	 * under it, and how much of the file is known to exist */
	const uint8_t	*map;
	int		 map_fd;
	sqlite3_int64	 known;
	bool		 map_broken;	/* a read faulted: pread() from now */
};

static sqlite3_vfs	 wb_vfs;
static sqlite3_vfs	*wb_real;
static const char	*wb_name;
static pthread_once_t	 wb_once = PTHREAD_ONCE_INIT;
static bool		 wb_maps = true;	/* logs are read from maps */
static atomic_size_t	 wb_pending;
static atomic_size_t	 wb_map_reads;
static atomic_size_t	 wb_map_faults;
/* SIGBUS: set while this thread copies from a map (volatile: the copy is
 * a builtin the compiler would otherwise move the stores around) */
static _Thread_local sigjmp_buf *volatile wb_jmp;
static struct sigaction	 wb_old_bus;

#define REAL(f)		((f)->real->pMethods)

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
drop(struct wb_file *f)
{
	atomic_fetch_sub(&wb_pending, f->len);
	f->off += (sqlite3_int64)f->len;
	f->len = 0;
}

/* Write out what f gathered: SQLite's result (the bytes are gone either
 * way: a failed write is the caller's to report). */
static int
flush(struct wb_file *f)
{
	int rc = SQLITE_OK;

	if (f->len == 0)
		return SQLITE_OK;
	for (size_t o = 0, n; o < f->len && rc == SQLITE_OK; o += n) {
		n = f->len - o < WB_WRITE ? f->len - o : WB_WRITE;
		rc = REAL(f)->xWrite(f->real, f->buf + o, (int)n,
		    f->off + (sqlite3_int64)o);
	}
	if (rc == SQLITE_OK && f->off + (sqlite3_int64)f->len > f->known)
		f->known = f->off + (sqlite3_int64)f->len;
	drop(f);
	return rc;
}

/* ---- io methods: the log's own ------------------------------------------ */

static int
wb_write(sqlite3_file *file, const void *p, int amt, sqlite3_int64 ofst)
{
	struct wb_file *f = (struct wb_file *)file;
	size_t n = (size_t)amt, need;
	uint8_t *nb;
	bool commit;
	int rc;

	if (!f->log)
		return REAL(f)->xWrite(f->real, p, amt, ofst);
	if (f->err != SQLITE_OK)
		return f->err;
	/* anything but an append to what is gathered: write that out */
	if (f->len > 0 && ofst != f->off + (sqlite3_int64)f->len &&
	    (rc = flush(f)) != SQLITE_OK)
		return rc;
	commit = f->commit_hdr;
	f->commit_hdr = amt == WB_FRAME_HDR && ofst >= WB_HDR &&
	    be32((const uint8_t *)p + 4) != 0;
	need = f->len + n;
	if (need > WB_MAX) {
		if ((rc = flush(f)) != SQLITE_OK)
			return rc;
		need = n;
	}
	if (need > WB_MAX)		/* larger than the buffer: as is */
		return REAL(f)->xWrite(f->real, p, amt, ofst);
	if (need > f->cap) {
		size_t cap = f->cap == 0 ? WB_FIRST : f->cap;

		while (cap < need)
			cap *= 2;
		if ((nb = kdc_realloc(f->buf, cap)) == NULL) {
			/* no memory for the buffer: write through */
			if ((rc = flush(f)) != SQLITE_OK)
				return rc;
			return REAL(f)->xWrite(f->real, p, amt, ofst);
		}
		f->buf = nb;
		f->cap = cap;
	}
	if (f->len == 0)
		f->off = ofst;
	memcpy(f->buf + f->len, p, n);
	f->len += n;
	atomic_fetch_add(&wb_pending, n);
	/* the commit frame is complete: into the file before SQLite makes
	 * it visible, with its error */
	return commit ? flush(f) : SQLITE_OK;
}

/* Calls that see the log's bytes: what is gathered goes first. */
#define FLUSH_FIRST(f) do {						\
	int rc_;							\
	if ((f)->log && (f)->err != SQLITE_OK)				\
		return (f)->err;					\
	if ((f)->log && (rc_ = flush(f)) != SQLITE_OK)			\
		return rc_;						\
} while (0)

/*
 * A file cut behind SQLite's back (damage, or a process that ignores its
 * locks) faults a read of the map past its new end with SIGBUS: the copy
 * is abandoned, the map of that log is no longer used, and the read is
 * pread()'s, which reports the short file to SQLite as an error. A
 * SIGBUS anywhere else goes to the handler before ours, or kills.
 */
static void
on_bus(int sig, siginfo_t *si, void *uc)
{
	if (wb_jmp != NULL)
		siglongjmp(*wb_jmp, 1);
	if ((wb_old_bus.sa_flags & SA_SIGINFO) &&
	    wb_old_bus.sa_sigaction != NULL) {
		wb_old_bus.sa_sigaction(sig, si, uc);
		return;
	}
	if (!(wb_old_bus.sa_flags & SA_SIGINFO) &&
	    wb_old_bus.sa_handler != SIG_DFL &&
	    wb_old_bus.sa_handler != SIG_IGN) {
		wb_old_bus.sa_handler(sig);
		return;
	}
	/* the default action, when the faulting access runs again */
	(void)signal(SIGBUS, SIG_DFL);
}

/* Our SIGBUS handler in front of the one installed now (once). */
static bool
guard(void)
{
	struct sigaction sa, cur;

	if (sigaction(SIGBUS, NULL, &cur) != 0)
		return false;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_bus)
		return true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	(void)sigemptyset(&sa.sa_mask);
	wb_old_bus = cur;
	return sigaction(SIGBUS, &sa, NULL) == 0;
}

static bool
map_copy(struct wb_file *f, void *p, int amt, sqlite3_int64 ofst)
{
	sigjmp_buf jb;

	/* the handler runs with SA_NODEFER: leaving it by a jump leaves
	 * SIGBUS unblocked, so the mask need not be saved or restored */
	if (sigsetjmp(jb, 0) != 0) {
		wb_jmp = NULL;
		f->map_broken = true;
		atomic_fetch_add(&wb_map_faults, 1);
		return false;
	}
	wb_jmp = &jb;
	atomic_signal_fence(memory_order_seq_cst);
	memcpy(p, f->map + ofst, (size_t)amt);
	atomic_signal_fence(memory_order_seq_cst);
	wb_jmp = NULL;
	return true;
}

/*
 * A read of the log from the map, without a system call: after another
 * connection's commit SQLite empties this connection's page cache and
 * reads each page it needs again, ~45 pread()s per bootstrap with two
 * engine threads (docs/perf.md). Only bytes known to be in the file are
 * read from the map (past the end of a file a map faults): what we wrote
 * or fstat() saw. SQLite reads only frames of its snapshot, which a
 * checkpoint cannot cut while its read lock is held, so a file that
 * shrank since never has a read past its end.
 */
static int
wb_read(sqlite3_file *file, void *p, int amt, sqlite3_int64 ofst)
{
	struct wb_file *f = (struct wb_file *)file;
	struct stat sb;

	FLUSH_FIRST(f);
	if (f->map != NULL && !f->map_broken && ofst >= 0 && amt > 0 &&
	    (uint64_t)ofst + (uint64_t)amt <= WB_MAP) {
		if (ofst + amt > f->known && fstat(f->map_fd, &sb) == 0)
			f->known = sb.st_size;
		if (ofst + amt <= f->known && map_copy(f, p, amt, ofst)) {
			atomic_fetch_add_explicit(&wb_map_reads, 1,
			    memory_order_relaxed);
			return SQLITE_OK;
		}
	}
	return REAL(f)->xRead(f->real, p, amt, ofst);
}

static int
wb_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct wb_file *f = (struct wb_file *)file;

	FLUSH_FIRST(f);
	if (size < f->known)
		f->known = size;
	return REAL(f)->xTruncate(f->real, size);
}

static int
wb_sync(sqlite3_file *file, int flags)
{
	struct wb_file *f = (struct wb_file *)file;

	FLUSH_FIRST(f);
	return REAL(f)->xSync(f->real, flags);
}

static int
wb_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct wb_file *f = (struct wb_file *)file;

	FLUSH_FIRST(f);
	return REAL(f)->xFileSize(f->real, size);
}

static int
wb_close(sqlite3_file *file)
{
	struct wb_file *f = (struct wb_file *)file;
	int rc = SQLITE_OK, rc2;

	if (f->log && f->err == SQLITE_OK)
		rc = flush(f);
	drop(f);
	kdc_free(f->buf);
	f->buf = NULL;
	if (f->peer != NULL)
		f->peer->peer = NULL;
	f->peer = NULL;
	if (f->map != NULL)
		(void)munmap((void *)f->map, WB_MAP);
	f->map = NULL;
	if (f->map_fd >= 0)
		(void)close(f->map_fd);
	f->map_fd = -1;
	rc2 = REAL(f)->xClose(f->real);
	return rc != SQLITE_OK ? rc : rc2;
}

/* ---- io methods: the database file's, which reach its log --------------- */

static int
wb_shm_lock(sqlite3_file *file, int ofst, int n, int flags)
{
	struct wb_file *f = (struct wb_file *)file, *log = f->peer;

	/* The write lock (slot 0) released: the transaction is over. A
	 * commit wrote its frames out at its commit frame, so anything
	 * still gathered belongs to one that rolled back: dropped, never
	 * to land on the next writer's frames. */
	if (log != NULL && (flags & SQLITE_SHM_UNLOCK) && ofst == 0 &&
	    n >= 1) {
		drop(log);
		log->commit_hdr = false;
		log->err = SQLITE_OK;
	}
	return REAL(f)->xShmLock(f->real, ofst, n, flags);
}

static void
wb_shm_barrier(sqlite3_file *file)
{
	struct wb_file *f = (struct wb_file *)file, *log = f->peer;

	/* Normally nothing is left here (the commit frame wrote it out);
	 * if a SQLite writes its frames otherwise, they are in the file
	 * before the wal-index header that names them. */
	if (log != NULL && log->len > 0 && log->err == SQLITE_OK &&
	    (log->err = flush(log)) != SQLITE_OK)
		kdc_log_err("store: the write-ahead log could not be "
		    "written (SQLite error %d)", log->err);
	REAL(f)->xShmBarrier(f->real);
}

/* ---- io methods passed through ----------------------------------------- */

static int
wb_lock(sqlite3_file *file, int lock)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xLock(f->real, lock);
}

static int
wb_unlock(sqlite3_file *file, int lock)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xUnlock(f->real, lock);
}

static int
wb_check_reserved(sqlite3_file *file, int *out)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xCheckReservedLock(f->real, out);
}

static int
wb_file_control(sqlite3_file *file, int op, void *arg)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xFileControl(f->real, op, arg);
}

static int
wb_sector_size(sqlite3_file *file)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xSectorSize(f->real);
}

static int
wb_device_characteristics(sqlite3_file *file)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xDeviceCharacteristics(f->real);
}

static int
wb_shm_map(sqlite3_file *file, int pg, int pgsz, int extend,
    void volatile **pp)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int
wb_shm_unmap(sqlite3_file *file, int del)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xShmUnmap(f->real, del);
}

static int
wb_fetch(sqlite3_file *file, sqlite3_int64 ofst, int amt, void **pp)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xFetch(f->real, ofst, amt, pp);
}

static int
wb_unfetch(sqlite3_file *file, sqlite3_int64 ofst, void *p)
{
	struct wb_file *f = (struct wb_file *)file;

	return REAL(f)->xUnfetch(f->real, ofst, p);
}

/* Version 3 (shared memory and memory-mapped reads), as the default
 * VFS's files: wb_open refuses a VFS whose files are older. */
static const sqlite3_io_methods wb_io = {
	.iVersion = 3,
	.xClose = wb_close,
	.xRead = wb_read,
	.xWrite = wb_write,
	.xTruncate = wb_truncate,
	.xSync = wb_sync,
	.xFileSize = wb_file_size,
	.xLock = wb_lock,
	.xUnlock = wb_unlock,
	.xCheckReservedLock = wb_check_reserved,
	.xFileControl = wb_file_control,
	.xSectorSize = wb_sector_size,
	.xDeviceCharacteristics = wb_device_characteristics,
	.xShmMap = wb_shm_map,
	.xShmLock = wb_shm_lock,
	.xShmBarrier = wb_shm_barrier,
	.xShmUnmap = wb_shm_unmap,
	.xFetch = wb_fetch,
	.xUnfetch = wb_unfetch,
};

/* ---- the VFS ----------------------------------------------------------- */

/* The read map of a log SQLite just opened at path: our own descriptor on
 * the same file (SQLite's is not reachable through its interface), so
 * the map sees every write to it, ours and other processes'. None when
 * it cannot be had: reads then go through SQLite's file. */
static void
log_map(struct wb_file *f, const char *path)
{
	void *m;

	if (!wb_maps || (f->map_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	m = mmap(NULL, WB_MAP, PROT_READ, MAP_SHARED, f->map_fd, 0);
	if (m == MAP_FAILED) {
		(void)close(f->map_fd);
		f->map_fd = -1;
		return;
	}
	f->map = m;
}

static int
wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file,
    int flags, int *out_flags)
{
	struct wb_file *f = (struct wb_file *)file;
	sqlite3_file *db;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->map_fd = -1;
	f->real = (sqlite3_file *)(f + 1);
	rc = wb_real->xOpen(wb_real, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK || f->real->pMethods == NULL) {
		if (rc == SQLITE_OK)
			rc = SQLITE_CANTOPEN;
		f->base.pMethods = NULL;
		return rc;
	}
	if (f->real->pMethods->iVersion < 3) {
		(void)f->real->pMethods->xClose(f->real);
		f->base.pMethods = NULL;
		return SQLITE_CANTOPEN;
	}
	if ((flags & SQLITE_OPEN_WAL) && name != NULL &&
	    (db = sqlite3_database_file_object(name)) != NULL &&
	    db->pMethods == &wb_io) {
		f->log = true;
		f->peer = (struct wb_file *)db;
		f->peer->peer = f;
		log_map(f, name);
	}
	f->base.pMethods = &wb_io;
	return SQLITE_OK;
}

static int
wb_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return wb_real->xDelete(wb_real, name, sync_dir);
}

static int
wb_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return wb_real->xAccess(wb_real, name, flags, out);
}

static int
wb_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return wb_real->xFullPathname(wb_real, name, n, out);
}

static void *
wb_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return wb_real->xDlOpen(wb_real, name);
}

static void
wb_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	wb_real->xDlError(wb_real, n, out);
}

static void
(*wb_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return wb_real->xDlSym(wb_real, h, sym);
}

static void
wb_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	wb_real->xDlClose(wb_real, h);
}

static int
wb_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return wb_real->xRandomness(wb_real, n, out);
}

static int
wb_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return wb_real->xSleep(wb_real, us);
}

static int
wb_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return wb_real->xCurrentTime(wb_real, out);
}

static int
wb_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return wb_real->xGetLastError(wb_real, n, out);
}

static int
wb_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return wb_real->xCurrentTimeInt64(wb_real, out);
}

static void
wb_register(void)
{
	sqlite3_vfs *real = sqlite3_vfs_find(NULL);

	/* version 2 at least: xCurrentTimeInt64 */
	if (real == NULL || real->iVersion < 2)
		return;
	wb_real = real;
	wb_vfs.iVersion = 2;
	wb_vfs.szOsFile = (int)sizeof(struct wb_file) + real->szOsFile;
	wb_vfs.mxPathname = real->mxPathname;
	wb_vfs.zName = "kdc-walbuf";
	wb_vfs.xOpen = wb_open;
	wb_vfs.xDelete = wb_delete;
	wb_vfs.xAccess = wb_access;
	wb_vfs.xFullPathname = wb_full_pathname;
	wb_vfs.xDlOpen = wb_dlopen;
	wb_vfs.xDlError = wb_dlerror;
	wb_vfs.xDlSym = wb_dlsym;
	wb_vfs.xDlClose = wb_dlclose;
	wb_vfs.xRandomness = wb_randomness;
	wb_vfs.xSleep = wb_sleep;
	wb_vfs.xCurrentTime = wb_current_time;
	wb_vfs.xGetLastError = wb_last_error;
	wb_vfs.xCurrentTimeInt64 = wb_current_time64;
	if (sqlite3_vfs_register(&wb_vfs, 0) != SQLITE_OK)
		return;
	wb_name = wb_vfs.zName;
	if (!guard())
		wb_maps = false;	/* no guard: no maps */
}

const char *
kdc_walbuf_vfs(void)
{
	(void)pthread_once(&wb_once, wb_register);
	return wb_name;
}

size_t
kdc_walbuf_pending(void)
{
	return atomic_load(&wb_pending);
}

size_t
kdc_walbuf_map_reads(void)
{
	return atomic_load(&wb_map_reads);
}

size_t
kdc_walbuf_map_faults(void)
{
	return atomic_load(&wb_map_faults);
}

bool
kdc_walbuf_guard(void)
{
	(void)kdc_walbuf_vfs();
	return guard();
}
