/* The query connections' SQLite VFS: the default one ("unix"), with one
 * thing added, reading ahead along a blob's chain of overflow pages.
 *
 * A blob longer than a page (an executable's day, a rollup unit) is stored
 * as a chain of overflow pages, each beginning with the number of the
 * next.  SQLite reads the chain one page at a time, each read waiting for
 * the one before, and the kernel's own read-ahead only grows after a few
 * of them: read cold, a 100 kB blob costs several round trips to the disk.
 * The monitor writes a blob at once, so its chain is nearly always a run
 * of consecutive pages.  When a page just read is an overflow page whose
 * next page is the one after it, this VFS asks the kernel
 * (posix_fadvise WILLNEED, which does not wait) for the pages that follow,
 * so that the rest of the chain is read in one go while SQLite works
 * through its first pages.
 *
 * And once a chain has gone on from one page to the next, the page it
 * goes on to is read with the pages after it, RUN_BYTES in one read, and
 * the chain's next pages are copied from there: a year of an executable's
 * days is 8,000 pages, and a read call each cost more than the copy (on a
 * virtual machine, a system call is dear).
 *
 * Why the copy is what the file holds: SQLite reads a page from the main
 * file only within a read transaction, and only a page that is not in the
 * WAL for its snapshot; while the transaction lasts, no checkpoint may
 * write such pages (it copies no frame past the snapshot's), and without
 * WAL the SHARED lock keeps every writer out.  A transaction begins and
 * ends with a lock (xLock and xUnlock, or xShmLock of the WAL index), so
 * every method but reads and sizes drops the pages held: they never
 * outlive the transaction that read them.
 *
 * It changes what is in the page cache and when the file is read, nothing
 * else: every read goes through "unix", and what it returns is what the
 * file holds.  A page that only looks like such a page (its first four
 * bytes happen to be its number plus one) costs a useless read-ahead,
 * never a wrong answer.  Only the main database file is read ahead (the
 * WAL is written, and read, in order already). */
#include "query/query_vfs.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* read ahead this much beyond a page that continues into the next */
#define AHEAD_BYTES (128 * 1024)
/* the pages read at once where a chain goes on */
#define RUN_BYTES (64 * 1024)

struct ra_file {
	sqlite3_file base;
	int fd;			/* our own descriptor of the file, for the advice; -1: none */
	sqlite3_int64 advised_from, advised;	/* what was last advised */
	/* [run_off, run_off + run_len) of the file, read in this
	 * transaction (run_len 0: none) */
	unsigned char *run;
	sqlite3_int64 run_off;
	int run_len;
	sqlite3_int64 next;	/* the page a chain went on to (-1: none) */
	sqlite3_file *real;	/* follows this struct, of the real VFS's size */
};

static sqlite3_vfs ra_vfs;
static atomic_ulong advices, runs;
static sqlite3_vfs *real_vfs;

#define REAL(f) (((struct ra_file *)(f))->real)

static int ra_close(sqlite3_file *f)
{
	struct ra_file *p = (struct ra_file *)f;
	int rc = p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	free(p->run);
	p->run = NULL;
	return rc;
}

/* Anything but a read may begin or end a transaction: the pages held go. */
static void drop_run(sqlite3_file *f)
{
	struct ra_file *p = (struct ra_file *)f;

	p->run_len = 0;
	p->next = -1;
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The pages from off on, as many as RUN_BYTES and the file hold, into
 * p->run (false: none, the caller reads as usual). */
static bool read_run(struct ra_file *p, int page, sqlite3_int64 off)
{
	sqlite3_int64 size;
	int len;

	if (p->real->pMethods->xFileSize(p->real, &size) != SQLITE_OK || size - off < 2 * page)
		return false;
	len = size - off < RUN_BYTES ? (int)(size - off) : RUN_BYTES;
	len -= len % page;
	if (!p->run && !(p->run = malloc(RUN_BYTES)))
		return false;
	if (p->real->pMethods->xRead(p->real, p->run, len, off) != SQLITE_OK)
		return false;
	p->run_off = off;
	p->run_len = len;
	atomic_fetch_add_explicit(&runs, 1, memory_order_relaxed);
	return true;
}

static int ra_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	struct ra_file *p = (struct ra_file *)f;
	/* a whole page (a power of two from 512 to 65536, at its place) */
	bool page = p->fd >= 0 && amt >= 512 && amt <= 65536 && !(amt & (amt - 1)) &&
		    off % amt == 0;
	int rc = SQLITE_OK;

	if (page && off == p->next && (off < p->run_off || off + amt > p->run_off + p->run_len) &&
	    !read_run(p, amt, off))
		p->run_len = 0;
	p->next = -1;
	/* anything of the main file held (the end of a chain is less than a
	 * page) */
	if (p->fd >= 0 && amt > 0 && off >= p->run_off && off + amt <= p->run_off + p->run_len)
		memcpy(buf, p->run + (off - p->run_off), (size_t)amt);
	else
		rc = p->real->pMethods->xRead(p->real, buf, amt, off);
	/* page numbers count from 1: this is page off / amt + 1, and a chain
	 * goes on to the next when its first four bytes say off / amt + 2 */
	if (rc == SQLITE_OK && page && be32(buf) == (uint64_t)(off / amt) + 2) {
		sqlite3_int64 next_off = off + amt;

		p->next = next_off;
		/* what was advised last is [advised_from, advised): again when
		 * the chain goes on past its first half, or starts elsewhere */
		if (next_off < p->advised_from || next_off >= p->advised - AHEAD_BYTES / 2) {
			sqlite3_int64 from = next_off < p->advised_from || next_off > p->advised
						     ? next_off
						     : p->advised;

			(void)posix_fadvise(p->fd, from, next_off + AHEAD_BYTES - from,
					    POSIX_FADV_WILLNEED);
			p->advised_from = next_off;
			p->advised = next_off + AHEAD_BYTES;
			atomic_fetch_add_explicit(&advices, 1, memory_order_relaxed);
		}
	}
	return rc;
}

static int ra_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	drop_run(f);
	return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}

static int ra_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	drop_run(f);
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int ra_sync(sqlite3_file *f, int flags)
{
	drop_run(f);
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int ra_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int ra_lock(sqlite3_file *f, int lock)
{
	drop_run(f);
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int ra_unlock(sqlite3_file *f, int lock)
{
	drop_run(f);
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int ra_check_reserved_lock(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int ra_file_control(sqlite3_file *f, int op, void *arg)
{
	drop_run(f);
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int ra_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int ra_device_characteristics(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int ra_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	drop_run(f);
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int ra_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	drop_run(f);
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void ra_shm_barrier(sqlite3_file *f)
{
	drop_run(f);
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int ra_shm_unmap(sqlite3_file *f, int delete_flag)
{
	drop_run(f);
	return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int ra_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	drop_run(f);
	return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}

static int ra_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	drop_run(f);
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods ra_methods = {
	.iVersion = 3,
	.xClose = ra_close,
	.xRead = ra_read,
	.xWrite = ra_write,
	.xTruncate = ra_truncate,
	.xSync = ra_sync,
	.xFileSize = ra_file_size,
	.xLock = ra_lock,
	.xUnlock = ra_unlock,
	.xCheckReservedLock = ra_check_reserved_lock,
	.xFileControl = ra_file_control,
	.xSectorSize = ra_sector_size,
	.xDeviceCharacteristics = ra_device_characteristics,
	.xShmMap = ra_shm_map,
	.xShmLock = ra_shm_lock,
	.xShmBarrier = ra_shm_barrier,
	.xShmUnmap = ra_shm_unmap,
	.xFetch = ra_fetch,
	.xUnfetch = ra_unfetch,
};

static int ra_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct ra_file *p = (struct ra_file *)f;
	int rc;

	(void)vfs;
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->next = -1;
	p->real = (sqlite3_file *)(p + 1);
	rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc;	/* SQLite calls no method of f: pMethods is NULL */
	if ((flags & SQLITE_OPEN_MAIN_DB) && name)
		p->fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	p->base.pMethods = &ra_methods;
	/* methods of a version the real file lacks would call NULL */
	if (p->real->pMethods->iVersion < 3) {
		if (p->fd >= 0)
			close(p->fd);
		p->real->pMethods->xClose(p->real);
		p->base.pMethods = NULL;
		return SQLITE_CANTOPEN;
	}
	return SQLITE_OK;
}

#define FWD(name, ...) return real_vfs->name(real_vfs, __VA_ARGS__)

static int ra_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	(void)v;
	FWD(xDelete, name, sync_dir);
}

static int ra_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	FWD(xAccess, name, flags, out);
}

static int ra_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	FWD(xFullPathname, name, n, out);
}

static void *ra_dl_open(sqlite3_vfs *v, const char *name)
{
	(void)v;
	(void)name;
	return NULL;	/* never: extensions are off */
}

static void ra_dl_error(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	if (n > 0)
		snprintf(msg, (size_t)n, "no extensions");
}

static void (*ra_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	(void)h;
	(void)sym;
	return NULL;
}

static void ra_dl_close(sqlite3_vfs *v, void *h)
{
	(void)v;
	(void)h;
}

static int ra_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	FWD(xRandomness, n, out);
}

static int ra_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	FWD(xSleep, us);
}

static int ra_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	FWD(xCurrentTime, out);
}

static int ra_get_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	FWD(xGetLastError, n, out);
}

static int ra_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	FWD(xCurrentTimeInt64, out);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void ra_register(void)
{
	sqlite3_vfs *u = sqlite3_vfs_find("unix");

	/* a "unix" of another version or none: the queries use the default */
	if (!u || u->iVersion < 2 || !u->xCurrentTimeInt64)
		return;
	real_vfs = u;
	ra_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct ra_file) + u->szOsFile,
		.mxPathname = u->mxPathname,
		.zName = QUERY_VFS_NAME,
		.xOpen = ra_open,
		.xDelete = ra_delete,
		.xAccess = ra_access,
		.xFullPathname = ra_full_pathname,
		.xDlOpen = ra_dl_open,
		.xDlError = ra_dl_error,
		.xDlSym = ra_dl_sym,
		.xDlClose = ra_dl_close,
		.xRandomness = ra_randomness,
		.xSleep = ra_sleep,
		.xCurrentTime = ra_current_time,
		.xGetLastError = ra_get_last_error,
		.xCurrentTimeInt64 = ra_current_time_int64,
	};
	if (sqlite3_vfs_register(&ra_vfs, 0) != SQLITE_OK)
		real_vfs = NULL;
}

const char *query_vfs(void)
{
	pthread_once(&once, ra_register);
	return real_vfs ? QUERY_VFS_NAME : NULL;
}

unsigned long query_vfs_advices(void)
{
	return atomic_load_explicit(&advices, memory_order_relaxed);
}

unsigned long query_vfs_runs(void)
{
	return atomic_load_explicit(&runs, memory_order_relaxed);
}
