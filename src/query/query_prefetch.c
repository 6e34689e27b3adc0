/* Reading ahead for a long scan of blobs (executable days and sums, and
 * the day units of a series' buckets, query.c): while
 * the query decodes the first days of its window, helper threads, each
 * with a connection of its own, read the later days' rows with the same
 * statement, so that the pages come into the page cache in parallel rather
 * than one by one as the query gets to them.  A blob longer than a page is
 * a chain of overflow pages, read one pread at a time and scattered
 * through the file (pages are reused as entries are pruned), so a year of
 * a busy executable read cold is mostly waiting on single reads; a disk
 * (or a virtual one) answers several at once about as fast as one.
 *
 * The helpers only warm the cache: what they read is thrown away, they
 * change nothing, and the query's own reads (in its snapshot) give the
 * answer whatever they did or did not read.  Stopping interrupts them. */
#include "query/query_prefetch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_vfs.h"
#include "storage/rollup.h"

/* helpers per scan: with the query's own thread, eight reads in flight
 * (a cold year of the busiest executable: 3 helpers 200 ms, 7 160 ms, 11
 * 150 ms, measured with query_vfs.c's read-ahead) */
#define HELPERS 7
/* a shorter scan is not worth the threads (a month of days) */
#define MIN_DAYS 28
/* nor fewer ranges of entries */
#define MIN_RANGES 8
/* nor a file this small: whatever a scan reads of it, the VFS reads in
 * 64 kB runs and the kernel's read-ahead follows, while seven connections
 * opened (each reading the schema) cost more than they save, most of all
 * for the many short queries of a small history (see the README for the
 * measurements) */
#define PREFETCH_MIN_FILE (16 << 20)

struct helper {
	struct prefetch *p;
	pthread_t thread;
	bool started;
	sqlite3 *db;		/* set before the thread starts, closed after */
};

/* The helpers take the days one at a time, in the order the query reads
 * them (an executable's days, then the next executable's): each takes the
 * next day no helper has, so the reads in flight are the next ones the
 * query needs, however far it has got.  (Each helper reading an eighth of
 * the window of its own left the query reading the first eighth alone,
 * one read at a time.) */
struct prefetch {
	const char *sql;
	int64_t mask;
	int64_t *exes;		/* NULL: prefetch_slices_start's */
	size_t n_exes;
	int64_t d0;
	size_t n_days;
	/* prefetch_start's weeks: [w0, w1) is read as week rows, with wmask,
	 * each at its first day (the other days of a week have nothing) */
	int64_t wmask, w0, w1;
	/* prefetch_ranges_start's instead: ranges of entries (sorted) */
	int64_t (*ranges)[2];
	size_t n_ranges;
	atomic_size_t next;	/* the next (executable, day) to take */
	atomic_bool stop;
	struct helper h[HELPERS];
};

/* Step st to its end (or a stop), reading each row's blob: its last
 * column, whose pages asking for it reads. */
static void drain(struct prefetch *p, sqlite3_stmt *st)
{
	int blob = sqlite3_column_count(st) - 1;

	while (!atomic_load(&p->stop) && sqlite3_step(st) == SQLITE_ROW)
		(void)sqlite3_column_blob(st, blob);
}

static void *run(void *arg)
{
	struct helper *h = arg;
	struct prefetch *p = h->p;
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(h->db, p->sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	for (;;) {
		size_t c = atomic_fetch_add(&p->next, 1);
		size_t n = p->exes ? p->n_exes : 1;
		int64_t day;

		if (p->ranges) {
			/* prefetch_ranges_start's: a range's entries */
			if (atomic_load(&p->stop) || c >= p->n_ranges)
				break;
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, p->ranges[c][0]);
			sqlite3_bind_int64(st, 2, p->ranges[c][1]);
			while (!atomic_load(&p->stop) && sqlite3_step(st) == SQLITE_ROW)
				;
			continue;
		}
		if (atomic_load(&p->stop) || c / p->n_days >= n)
			break;
		day = p->d0 + (int64_t)(c % p->n_days) * ROLLUP_DAY;
		sqlite3_reset(st);
		if (!p->exes) {
			/* prefetch_slices_start's: the day's rows */
			sqlite3_bind_int64(st, 1, day);
			sqlite3_bind_int64(st, 2, day + ROLLUP_DAY);
		} else {
			bool week = day >= p->w0 && day < p->w1;

			if (week && rollup_week_start(day) != day)
				continue;	/* read with its week */
			sqlite3_bind_int64(st, 1, p->exes[c / p->n_days]);
			sqlite3_bind_int64(st, 2, day);
			sqlite3_bind_int64(st, 3, day + ROLLUP_DAY);
			if (sqlite3_bind_parameter_count(st) >= 4)
				sqlite3_bind_int64(st, 4, week ? p->wmask : p->mask);
		}
		drain(p, st);
	}
	sqlite3_finalize(st);
	return NULL;
}

/* Open the helpers' connections and start them on p's work. */
static void start(struct query_db *db, struct prefetch *p)
{
	const char *file = sqlite3_db_filename(db->db, "main");

	for (int k = 0; k < HELPERS; k++) {
		struct helper *h = &p->h[k];

		h->p = p;
		/* hardened as the query's own connection is (the file may come
		 * from anyone) */
		if (sqlite3_open_v2(file, &h->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
				    query_vfs()) != SQLITE_OK ||
		    query_harden(h->db) != SQLITE_OK) {
			sqlite3_close(h->db);
			h->db = NULL;
			continue;
		}
		/* its cache would only hold what the page cache does */
		sqlite3_exec(h->db, "PRAGMA cache_size = 16", NULL, NULL, NULL);
		h->started = pthread_create(&h->thread, NULL, run, h) == 0;
	}
}

/* Whether the main file is smaller than PREFETCH_MIN_FILE (false when
 * its size cannot be had). */
static bool file_small(struct query_db *db)
{
	sqlite3_file *f = NULL;
	sqlite3_int64 size = 0;

	if (sqlite3_file_control(db->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
	    !f->pMethods || f->pMethods->xFileSize(f, &size) != SQLITE_OK)
		return false;
	return size < PREFETCH_MIN_FILE;
}

/* A prefetch reading with `sql`, to be given its work and started; NULL if
 * not `worth` it or not possible (an in-memory file, opt.no_prefetch, a
 * small file). */
static struct prefetch *prefetch_new(struct query_db *db, const char *sql, bool worth)
{
	const char *file = sqlite3_db_filename(db->db, "main");
	struct prefetch *p;

	if (!worth || db->opt.no_prefetch || !file || !*file ||
	    (!db->opt.prefetch_any_size && file_small(db)) || !(p = calloc(1, sizeof(*p))))
		return NULL;	/* only slower */
	p->sql = sql;
	/* the query reads the first day (or range) itself, at once */
	atomic_init(&p->next, 1);
	atomic_init(&p->stop, false);
	return p;
}

/* A prefetch of the days of [d0, d1) (d0 a day's start), to be started;
 * NULL if not worth it. */
static struct prefetch *sliced(struct query_db *db, const char *sql, int64_t d0, int64_t d1)
{
	struct prefetch *p = prefetch_new(db, sql, d1 - d0 >= MIN_DAYS * ROLLUP_DAY);

	if (p) {
		p->d0 = d0;
		p->n_days = (size_t)((d1 - d0 + ROLLUP_DAY - 1) / ROLLUP_DAY);
	}
	return p;
}

struct prefetch *prefetch_start(struct query_db *db, const char *sql, int64_t mask,
				const int64_t *exes, size_t n_exes, int64_t d0, int64_t d1,
				const struct prefetch_weeks *weeks)
{
	struct prefetch *p = n_exes ? sliced(db, sql, d0, d1) : NULL;

	if (p && !(p->exes = malloc(n_exes * sizeof(*exes)))) {
		free(p);
		p = NULL;
	}
	if (p) {
		memcpy(p->exes, exes, n_exes * sizeof(*exes));
		p->mask = mask;
		if (weeks) {
			p->wmask = weeks->mask;
			p->w0 = weeks->w0;
			p->w1 = weeks->w1;
		}
		p->n_exes = n_exes;
		start(db, p);
	}
	return p;
}

struct prefetch *prefetch_scan(struct query_db *db, const char *sql, int64_t mask,
			       const int64_t *exes, size_t n_exes, int64_t d0, int64_t d1,
			       const struct prefetch_weeks *weeks)
{
	if (!db->ahead_to)
		return prefetch_start(db, sql, mask, exes, n_exes, d0, d1, weeks);
	if (!db->ahead && !db->ahead_tried) {
		db->ahead = prefetch_start(db, sql, mask, exes, n_exes, d0,
					   db->ahead_to > d1 ? db->ahead_to : d1, weeks);
		db->ahead_tried = true;
	}
	return NULL;
}

void query_ahead_begin(struct query_db *db, int64_t to)
{
	db->ahead_to = to;
	db->ahead_tried = false;
}

void query_ahead_end(struct query_db *db)
{
	prefetch_stop(db->ahead);
	db->ahead = NULL;
	db->ahead_to = 0;
}

struct prefetch *prefetch_slices_start(struct query_db *db, const char *sql, int64_t from,
				       int64_t to)
{
	struct prefetch *p = sliced(db, sql, from, to);

	if (p)
		start(db, p);
	return p;
}

struct prefetch *prefetch_ranges_start(struct query_db *db, const char *sql,
				       const int64_t (*ranges)[2], size_t n_ranges)
{
	struct prefetch *p = prefetch_new(db, sql, n_ranges >= MIN_RANGES);

	if (p && !(p->ranges = malloc(n_ranges * sizeof(*ranges)))) {
		free(p);
		return NULL;
	}
	if (p) {
		memcpy(p->ranges, ranges, n_ranges * sizeof(*ranges));
		p->n_ranges = n_ranges;
		start(db, p);
	}
	return p;
}

void prefetch_stop(struct prefetch *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	for (int k = 0; k < HELPERS; k++) {
		if (p->h[k].started) {
			sqlite3_interrupt(p->h[k].db);
			pthread_join(p->h[k].thread, NULL);
		}
		sqlite3_close(p->h[k].db);
	}
	free(p->exes);
	free(p->ranges);
	free(p);
}
