/* Reading ahead for a long scan of blobs in helper threads (see
 * query_prefetch.c). */
#ifndef PS_QUERY_QUERY_PREFETCH_H
#define PS_QUERY_QUERY_PREFETCH_H

#include <stdint.h>

#include "query/query_int.h"

struct prefetch;

/* Start reading, with the statement `sql` (?1 an executable, ?2 and ?3 the
 * days [from, to), ?4 if it has one `mask`; its last column the blob), the
 * rows of exes[0, n_exes) in the later days of [d0, d1), which the caller
 * reads itself after its first.  exes and sql must stay until
 * prefetch_stop.  NULL when it is not worth it (a short window, an
 * in-memory file, opt.no_prefetch) or cannot be: the scan is then only
 * slower. */
struct prefetch *prefetch_start(struct query_db *db, const char *sql, int64_t mask,
				const int64_t *exes, size_t n_exes, int64_t d0, int64_t d1);

/* Start reading, with the statement `sql` (?1 and ?2 the start and end of
 * a slice; its last column a blob), the later slices of [from, to), which
 * the caller reads itself after the first (sql must stay until
 * prefetch_stop).  NULL as for prefetch_start. */
struct prefetch *prefetch_slices_start(struct query_db *db, const char *sql, int64_t from,
				       int64_t to);

/* Stop the helpers and wait for them (NULL: nothing). */
void prefetch_stop(struct prefetch *p);

#endif
