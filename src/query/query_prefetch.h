/* Reading ahead for a long scan of blobs in helper threads (see
 * query_prefetch.c). */
#ifndef PS_QUERY_QUERY_PREFETCH_H
#define PS_QUERY_QUERY_PREFETCH_H

#include <stdint.h>

#include "query/query_int.h"

struct prefetch;

/* Weeks that a scan reads as an executable's week rows (schema 20): those
 * starting in [w0, w1), with the mask of their rows. */
struct prefetch_weeks {
	int64_t mask, w0, w1;
};

/* Start reading, with the statement `sql` (?1 an executable, ?2 and ?3 the
 * days [from, to), ?4 if it has one `mask`; its last column the blob), the
 * rows of exes[0, n_exes) in the days of [d0, d1) (d0 a day's start), a
 * day at a time in the order the caller reads them: an executable's days,
 * then the next one's; the caller reads the first itself.  With `weeks`
 * (not NULL), the days of its weeks are read as their week's rows instead,
 * at the week's first day, with its mask.  exes is copied;
 * sql must stay until prefetch_stop.  NULL when it is not worth it (a
 * short window, a file under 16 MiB unless opt.prefetch_any_size, an
 * in-memory file, opt.no_prefetch) or cannot be: the scan is then only
 * slower. */
struct prefetch *prefetch_start(struct query_db *db, const char *sql, int64_t mask,
				const int64_t *exes, size_t n_exes, int64_t d0, int64_t d1,
				const struct prefetch_weeks *weeks);

/* Start reading, with the statement `sql` (?1 and ?2 the start and end of
 * a slice; its last column a blob), the rows of [from, to) a day at a
 * time, in order; the caller reads the first day itself (sql must stay
 * until prefetch_stop).  NULL as for prefetch_start. */
struct prefetch *prefetch_slices_start(struct query_db *db, const char *sql, int64_t from,
				       int64_t to);

/* Start reading, with the statement `sql` (?1 and ?2 a range's ends), the
 * entries of ranges[1, n_ranges) (copied), one range at a time in order:
 * the caller reads the first itself.  NULL as for prefetch_start (fewer
 * than 8 ranges are not worth it). */
struct prefetch *prefetch_ranges_start(struct query_db *db, const char *sql,
				       const int64_t (*ranges)[2], size_t n_ranges);

/* A scan's helpers (prefetch_start's arguments): usually a new prefetch of
 * [d0, d1), which the scan stops when it ends (prefetch_stop).  While a
 * caller reads a window in several scans (query_ahead_begin), the first
 * scan's helpers read ahead to the end of the caller's window and go on
 * across scans: NULL then, and query_ahead_end stops them. */
struct prefetch *prefetch_scan(struct query_db *db, const char *sql, int64_t mask,
			       const int64_t *exes, size_t n_exes, int64_t d0, int64_t d1,
			       const struct prefetch_weeks *weeks);

/* Reading [.., to) in several scans, each of a part of it in order (a day
 * or more): their helpers read ahead to `to`, until query_ahead_end. */
void query_ahead_begin(struct query_db *db, int64_t to);
void query_ahead_end(struct query_db *db);

/* Stop the helpers and wait for them (NULL: nothing). */
void prefetch_stop(struct prefetch *p);

#endif
