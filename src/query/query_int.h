/* Internals shared by the files of src/query: the handle, the table of
 * dimensions with their fixed SQL fragments, the SQL builder (fragments
 * from that table plus "?N" parameters, never values), and the in-memory
 * aggregation that the scans feed. */
#ifndef PS_QUERY_QUERY_INT_H
#define PS_QUERY_QUERY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "query/query.h"

struct agg;
struct prefetch;

struct query_db {
	sqlite3 *db;
	char *path;
	int version;		/* PRAGMA user_version: 10 to 19, never 15 */
	struct query_options opt;
	struct agg *agg;	/* what ps_acc() adds rows to, during a scan */
	int64_t deadline;	/* CLOCK_MONOTONIC ns at which to stop; 0: none */
	bool timed_out;
	int interrupted;	/* set by query_interrupt() (atomically) */
	bool hosts;		/* a fleet copy: QUERY_DIM_HOST, rows only */
	bool indexed[QUERY_DIM__COUNT];	/* an index leads with the dimension's key */
	/* the rollups' coverage in the current query's snapshot (schema 12,
	 * and weeks since 13):
	 * the units of storage/rollup.h lying in [cover_from, cover_until) are
	 * exact sums of the rows of their time (and none: no rows) */
	bool covered;
	int64_t cover_from, cover_until;
	bool no_rollups;	/* read rows only (tests compare the two ways) */
	/* an executable day could not be read in this query: it is run
	 * again from the rows */
	bool exe_days_failed, no_exe_days;
	/* a window read in several scans (query_prefetch.h,
	 * query_ahead_begin): the end of it, 0 if none, and the helpers its
	 * first scan started */
	int64_t ahead_to;
	bool ahead_tried;
	struct prefetch *ahead;
};


/* Sums saturate rather than overflow: the numbers come from a file anyone
 * with the user's rights may have edited. */
static inline int64_t query_add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

enum dim_kind {
	DK_LOOKUP,	/* an id into executables, addresses or domains */
	DK_LABEL,	/* the remote address id, through a hook of the options
			 * (country_of, asn_of) and an SQL function calling it */
	DK_INT,		/* an integer column of connections */
	DK_PROTOCOL,	/* family and protocol, as text like the view's */
};

struct dim_info {
	const char *name;
	enum dim_kind kind;
	const char *key;	/* column of connections (alias c) */
	const char *table;	/* DK_LOOKUP, DK_LABEL: the table the id is of */
	const char *column;	/* and the column with the value */
	const char *index_col;	/* its bare column, if an index may lead with it */
	int rollup_key;		/* its key in the rollups (enum rollup_key) */
	const char *label_fn;	/* DK_LABEL: the SQL function of the hook */
};

/* DK_LABEL: the hook of a dimension and its context (NULL: none given). */
typedef const char *(*query_label_fn)(void *ctx, const char *address);
query_label_fn query_label_hook(const struct query_db *db, enum query_dim dim, void **ctx);

extern const struct dim_info query_dims[QUERY_DIM__COUNT];

/* The key column of a dimension in this file's schema ("NULL" for the
 * grandparent in schema 10, which has no such column). */
const char *query_dim_key(const struct query_db *db, enum query_dim dim);
/* The column (or expression) of its lookup table that holds the value. */
const char *query_dim_column(const struct query_db *db, enum query_dim dim);

/* Nonzero when the running query must stop (interrupted, or past its
 * deadline): then query_sqlite_fail(SQLITE_INTERRUPT) says why. */
int query_check_progress(struct query_db *db);

/* Human detail and the errno to return. */
int query_fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The errno and message for an SQLite result code. */
int query_sqlite_fail(struct query_db *db, int rc, const char *what, char *err, size_t errlen);

/* What every connection to a snitch.db of the query layer is set to (the
 * file may come from anyone): defensive, no trusted schema, extensions,
 * triggers or views, query_only.  The result of setting query_only, which
 * the caller checks where it must. */
int query_harden(sqlite3 *db);
/* A hostile value made printable for a message: at most ~60 bytes,
 * anything but printable ASCII as \xNN. */
const char *query_printable(const char *s, size_t len, char *buf, size_t size);

struct qparam {
	bool text;
	int64_t num;
	const char *s;		/* not copied: lives as long as the request */
	size_t len;
};

/* An SQL statement being built.  Only string literals of this code go into
 * it (qsql_add); values go in as numbered parameters (qsql_int, qsql_text). */
struct qsql {
	char *buf;
	size_t len, cap;
	struct qparam *params;
	int n_params, cap_params;
	bool oom;
};

void qsql_add(struct qsql *q, const char *fragment);
void qsql_int(struct qsql *q, int64_t v);
void qsql_text(struct qsql *q, const char *s, size_t len);
/* " AND c.time >= from AND c.time < to", the sides the window has. */
void qsql_window(struct qsql *q, const struct query_window *w);
void qsql_free(struct qsql *q);
/* Prepare and bind; "what" names the statement in errors. */
int qsql_prepare(struct query_db *db, struct qsql *q, sqlite3_stmt **st, const char *what,
		 char *err, size_t errlen);

/* " AND ..." for every filter of `sel` (not the window): -EINVAL for a bad
 * filter, -EOPNOTSUPP for country or asn without their hook. */
int query_add_filters(struct query_db *db, struct qsql *q, const struct query_select *sel,
		      char *err, size_t errlen);

/* The protocol text of the connection_log view for family and protocol;
 * returns its length (buf is always NUL-terminated). */
size_t query_proto_text(int64_t family, int64_t protocol, char *buf, size_t size);

/* The family and protocol of a protocol text: 1, or 0 for "" (a family the
 * view has no name for), or -1 for a text no row can have. */
int query_proto_parse(const char *s, size_t len, int64_t *family, int64_t *protocol);

/* Strict decimal int64 of `len` bytes: 0 or -EINVAL. */
int query_parse_int(const char *s, size_t len, int64_t *ret);

/* One key seen by a scan: (k, k2) as read from the row (k2 is the protocol
 * for DK_PROTOCOL, and marks a NULL key for the others). */
struct agg_entry {
	int64_t k, k2;
	int64_t sent, received, flows;
	char *text;		/* its value, once resolved */
	size_t len;
	int line;		/* series, after the first scan: its line, or -1 (other) */
	/* series, first scan: its buckets, as n_pairs (bucket, sums) pairs
	 * (struct key_pair, in the order met, a bucket possibly more than
	 * once) or, once that would take more room than all of them, every
	 * bucket (n_pairs KEY_DENSE, struct query_point[buckets]) */
	uint32_t n_pairs;
	void *points;
};

#define KEY_DENSE UINT32_MAX
/* its buckets were given up to make room (agg_add keeps its sums only) */
#define KEY_DROPPED (UINT32_MAX - 1)

struct key_pair {
	int64_t sent, received;
	uint32_t bucket;
};

/* A series: the first scan sums the keys and, within max_bytes, also each
 * key's buckets (most keys of a long window have traffic in a few buckets
 * only: those are kept as pairs).  When they would take more, the buckets
 * of the keys with the smallest sums so far are given up (KEY_DROPPED,
 * `dropped`), and from then `all` sums every row's bucket (starting from
 * the keys' buckets kept until then).  If the top values' keys
 * all kept their buckets, their lines come from them and "other" is `all`
 * less the lines; if not, a second scan adds each row to the bucket of its
 * line. */
struct agg_series {
	int64_t from, span;
	int64_t align_start, align_len;	/* aligned buckets (len 0: not aligned) */
	size_t buckets, n_lines;	/* lines: the top values, then other */
	struct query_point *points;	/* n_lines x buckets */
	bool other;
	bool second;			/* the second scan */
	size_t key_bytes, max_bytes;	/* in the entries, during the first */
	bool no_buckets;		/* none kept in the first scan: its sums
					 * come from the rollups */
	bool dropped;			/* some key's buckets were given up */
	struct query_point *all;	/* buckets: every row of the first scan
					 * from the first key given up */
};

struct agg {
	struct agg_entry *e;
	size_t n, cap;
	uint32_t *slots;	/* open addressing: index + 1 into e, 0 empty */
	size_t n_slots;
	/* e holds keys in strictly increasing order and slots is not built:
	 * keys that come in order (the times of an executable's days) are
	 * appended without a hash, which is built when one does not */
	bool in_order;
	struct agg_series *series;	/* NULL: totals only */
	bool oom;
};

#define AGG_NULL_KEY INT64_MIN

void agg_free(struct agg *a);
/* Empty a of totals, keeping the room of its entries, for the next use: a
 * scan in chunks that would otherwise allocate it again for each.  (A
 * series' state is not reset: agg_reset in query.c does that.) */
void agg_clear(struct agg *a);
/* Room for n keys in all (false when out of memory). */
bool agg_reserve(struct agg *a, size_t n);
/* The same without building the hash: for keys that may come in order. */
bool agg_reserve_entries(struct agg *a, size_t n);
/* The entry of a key, added if new (NULL when out of memory). */
struct agg_entry *agg_get(struct agg *a, int64_t k, int64_t k2, bool add);
/* Add a row (or a rollup entry, time being its unit's start) to the sums
 * of its key and, in a series, to its bucket; false when out of memory. */
bool agg_add(struct agg *a, int64_t k, int64_t k2, int64_t time, int64_t sent, int64_t received,
	     int64_t flows);
/* The first second of bucket i of n over [from, to) (i == n: to), aligned
 * (align_len > 0: buckets start at align_start + i * align_len, for i >= 1)
 * or not. */
int64_t agg_bucket_start(int64_t from, int64_t to, size_t n, int64_t align_start,
			 int64_t align_len, size_t i);
/* The bucket of time t in series s (-1: none), and [*lo, *hi): the times
 * that share it (or, for -1, that are outside the window on the same
 * side), so that a reader of times in order asks again only when a time
 * leaves that span. */
ssize_t agg_bucket_span(const struct agg_series *s, int64_t t, int64_t *lo, int64_t *hi);
/* Ask the CPU for the hash slot of a key that agg_get will be given soon. */
void agg_prefetch(const struct agg *a, int64_t k, int64_t k2);
/* Then, its slot having come, for its entry. */
void agg_prefetch_entry(const struct agg *a, int64_t k, int64_t k2);
/* Then, the entry having come, for where a series' first scan adds the
 * key's next bucket. */
void agg_prefetch_pairs(const struct agg *a, int64_t k, int64_t k2);
/* Add the buckets a key's entry kept in the first scan to `line`
 * (buckets points). */
void agg_entry_add_points(const struct agg_entry *e, struct query_point *line, size_t buckets);
/* The keys of a series' lines, sorted, for agg_add_unit_lines. */
struct line_key {
	int64_t k, k2;
	int line;
};
int agg_line_keys(const struct agg *a, struct line_key **ret, size_t *n);
/* A rollup unit starting at `start` (its blob) into the lines of a
 * series' second pass: as agg_add for each entry, but walking the sorted
 * entries along the sorted keys of the lines rather than looking each up.
 * -EBADMSG: a blob that cannot be read. */
int agg_add_unit_lines(struct agg *a, const struct line_key *lk, size_t n_lk, const void *blob,
		       size_t len, int64_t start);
/* Finding the lines of keys that come sorted (a unit's, a part of an
 * executable's sums) by walking along the lines' sorted keys rather than
 * looking each up (a key out of order is looked up). */
struct line_walk {
	const struct line_key *lk;
	size_t n, i;
	bool sorted, have_prev;
	int64_t pk, pk2;
};
void line_walk_start(struct line_walk *w, const struct line_key *lk, size_t n_lk);
/* The line of the next key (-1: none, "other"). */
int line_walk_line(struct line_walk *w, struct agg *a, int64_t k, int64_t k2);
/* Add to the point of a line (-1: other, if the series has it) at time,
 * in a series' second pass (as agg_add then). */
void agg_add_line(struct agg *a, int line, int64_t time, int64_t sent, int64_t received);
/* Register ps_acc(k, k2, time, sent, received, flows) on the handle: agg_add
 * into db->agg. */
int agg_register(struct query_db *db);

/* A group of entries with the same value text, after resolving; for a
 * numeric dimension, a key (its text made by agg_group_text). */
struct agg_group {
	size_t id;		/* its index before sorting (the entries' line) */
	char *text;		/* NULL until agg_group_text for numbers */
	size_t len;
	int64_t num;
	bool null;		/* a number's NULL key: the text "" */
	int64_t sent, received, flows;
};

/* Give every entry its value text (reading the lookup tables), then merge
 * entries of the same text into groups (the texts move to the groups; each
 * entry's line is set to its group's id). */
int agg_resolve(struct query_db *db, struct agg *a, enum query_dim dim, char *err, size_t errlen);
/* With `keep` false the entries are not needed afterwards: a is emptied
 * (agg_free) and a number's groups take the entries' memory in place, so
 * that a query's keys are not held twice, as entries and as groups. */
int agg_group(struct agg *a, enum query_dim dim, bool keep, struct agg_group **ret, size_t *n);
/* Make a numeric group's text: 0 or -ENOMEM. */
int agg_group_text(struct agg_group *g);
/* Sort groups; with `first` (0: all), only the first `first` of them need
 * to be in order (and are the right ones). */
void agg_groups_sort(struct agg_group *g, size_t n, enum query_dim dim, enum query_sort sort,
		     bool ascending, size_t first);
void agg_groups_free(struct agg_group *g, size_t n);

/* Totals by time from the rollups: the units' keys are their own times,
 * so that units read in order give every key once and in order.  They go
 * straight into a heap of the first k groups (no hash, no array of half a
 * million keys for a year), merged on the way with the keys of the rows
 * at the window's edges (a scan's, in `rows`). */
struct rollup_entry;
struct agg_top {
	struct agg *rows;
	size_t next_row;		/* rows->e sorted by key: the next to merge */
	enum query_sort sort;
	bool ascending;
	size_t k, n;			/* the heap: k groups at most, n now */
	struct agg_group *heap;
	size_t n_groups;
	int64_t sums[3];		/* sent, received, flows of all */
	bool have_prev;
	int64_t prev_k, prev_k2;
};

/* Sums of small keys (second key 0, key in [0, AGG_DENSE_KEYS)) in pages
 * of a table indexed by the key, for adding many sorted parts (an
 * executable's sums of a year: a million entries) without a hash lookup
 * each: a part's keys come in ascending order, so each part walks the
 * table forwards.  Pages are made as keys first need them, at most
 * AGG_DENSE_MAX_PAGES over a query (its memory: 24 bytes a key); a key
 * whose page was not made goes to the agg as usual, as do all later keys
 * of that page, so each key is summed in one place.  agg_dense_flush adds
 * the keys' sums to the agg, in ascending order. */
#define AGG_DENSE_PAGE_BITS 10
#define AGG_DENSE_PAGE (1 << AGG_DENSE_PAGE_BITS)
#define AGG_DENSE_KEYS ((int64_t)1 << 22)
#define AGG_DENSE_MAX_PAGES 192
struct agg_dense_page {
	uint64_t used[AGG_DENSE_PAGE / 64];
	struct {
		int64_t sent, received, flows;
	} s[AGG_DENSE_PAGE];
};
struct agg_dense {
	struct agg_dense_page **page;	/* AGG_DENSE_KEYS / AGG_DENSE_PAGE */
	size_t *budget;			/* pages left, shared by a query's tables */
	bool full;			/* a page was refused (budget or memory) */
};

/* false: out of memory (nothing to free). */
bool agg_dense_init(struct agg_dense *d, size_t *budget);
/* Make the page of key k (false: refused, d->full). */
bool agg_dense_page_new(struct agg_dense *d, int64_t k);
/* Add to the table, or (false) the key is not for it: add it to the agg. */
static inline bool agg_dense_add(struct agg_dense *d, int64_t k, int64_t k2, int64_t sent,
				 int64_t received, int64_t flows)
{
	struct agg_dense_page *p;
	size_t i;

	if (k2 || (uint64_t)k >= (uint64_t)AGG_DENSE_KEYS)
		return false;
	p = d->page[(uint64_t)k >> AGG_DENSE_PAGE_BITS];
	if (!p) {
		if (!agg_dense_page_new(d, k))
			return false;
		p = d->page[(uint64_t)k >> AGG_DENSE_PAGE_BITS];
	}
	i = (uint64_t)k & (AGG_DENSE_PAGE - 1);
	p->used[i / 64] |= (uint64_t)1 << (i % 64);
	p->s[i].sent = query_add_sat(p->s[i].sent, sent);
	p->s[i].received = query_add_sat(p->s[i].received, received);
	p->s[i].flows = query_add_sat(p->s[i].flows, flows);
	return true;
}
/* Ask the CPU for the sums of a key soon added (false: not for the table). */
static inline bool agg_dense_prefetch(const struct agg_dense *d, int64_t k, int64_t k2)
{
	const struct agg_dense_page *p;

	if (k2 || (uint64_t)k >= (uint64_t)AGG_DENSE_KEYS)
		return false;
	p = d->page[(uint64_t)k >> AGG_DENSE_PAGE_BITS];
	if (p)
		__builtin_prefetch(&p->s[(uint64_t)k & (AGG_DENSE_PAGE - 1)], 1);
	return p != NULL || !d->full;
}
/* The table's keys into a (agg_add's sums, no buckets), then freed;
 * false: out of memory (freed all the same). */
bool agg_dense_flush(struct agg_dense *d, struct agg *a);
void agg_dense_free(struct agg_dense *d);

/* k >= 1; the rows' hash is given up (their entries get sorted). */
int agg_top_init(struct agg_top *t, struct agg *rows, enum query_sort sort, bool ascending, size_t k);
/* A unit's entry; false if its key does not come after the last one (then
 * give up: the rows must be read another way). */
bool agg_top_add(struct agg_top *t, const struct rollup_entry *e);
/* The rows' keys after the units', then heap[0, n) sorted as
 * agg_groups_sort sorts them. */
void agg_top_finish(struct agg_top *t);

/* ---- executable days (schema 14, query_exe.c) ---- */

/* Reading the rows of a few executables from their days (exe_days): the
 * executables an include filter on the executable's columns names, and
 * every filter of the query applied to each row as SQL would. */
struct exe_days;
/* *ret NULL when the query cannot be read so: no such include filter, a
 * value "" in it, or too many executables. */
int exe_days_prepare(struct query_db *db, const struct query_select *sel, bool rows_only,
		     struct exe_days **ret, char *err, size_t errlen);
/* The executables' ids, sorted (rows_only: to read their rows through
 * the index, whatever the schema and the rollups). */
const int64_t *exe_days_exes(const struct exe_days *x, size_t *n);
/* The rows in the days [d0, d1) (whole days that the coverage holds) that
 * pass the filters, into aggs[i] (as ps_acc would add them, by dims[i]).
 * -EBADMSG with db->exe_days_failed: a blob that cannot be read (or a day
 * to be read from the rows): the query must be run again without. */
int exe_days_scan(struct query_db *db, const struct exe_days *x, const enum query_dim *dims,
		  struct agg *const *aggs, size_t n_aggs, int64_t d0, int64_t d1, char *err,
		  size_t errlen);
/* Whether exe_days_scan of x by dim into a reads the executables' sums. */
bool exe_days_sums(const struct query_db *db, const struct exe_days *x, enum query_dim dim,
		   struct agg *a);
void exe_days_free(struct exe_days *x);

#endif
