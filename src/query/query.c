/* Read-only queries on snitch.db for the user interfaces (see query.h):
 * opening the file safely whatever it holds, choosing how to read a time
 * window, and the four kinds of query.
 *
 * How a window is read: rows are in id order as the monitor wrote them,
 * which is (nearly always) time order.  A window covering most of the
 * history is read whole, sequentially; a smaller one is read as the id
 * range [first id in it, last id in it], which the covering time index
 * gives cheaply and which is a sequential read too.  The time condition is
 * always applied as well, so ids out of time order cost speed, never
 * correctness.  With an include filter on an indexed column (executable,
 * parent, remote address, domain) SQLite reads that index instead.
 *
 * Rows are summed in memory by the ps_acc() aggregate (query_agg.c), not
 * with GROUP BY.  A series sums each key's buckets in the same scan (a
 * second scan only for keys too many to keep buckets for).  Distinct
 * values of an indexed key in a large window skip through its index.
 *
 * Rollups (schema 12, storage/rollup.h): without filters, the whole UTC
 * days, weeks (schema 13) and months of a window that the rollups cover are
 * read from their sums (a few thousand entries a day instead of every row),
 * the rest of the window from the rows.  A series does it per bucket;
 * aligned buckets are whole days (a year's: weeks), so only the window's
 * edges are rows.  Totals by time pick the page shown as the units come, in
 * order (half a million keys in a year: no hash of them).  Both ways give the
 * same sums: the rollups are sums of exactly the rows of their time, and
 * the logger keeps them so (docs/schema.md).
 *
 * Executable days (schema 14, query_exe.c): with an include filter naming a
 * few executables, the whole covered days of a window are read from each
 * executable's blob of the day (every filter applied to each entry as the
 * SQL would), the edges from the rows.  Every read of rows (scan_window)
 * goes through that choice.
 *
 * Speed: see docs/schema.md and the README (bench/query-bench.sh). */
#include "query/query_int.h"
#include "storage/schema.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "query/query_prefetch.h"
#include "query/query_vfs.h"
#include "storage/rollup.h"

#define DEFAULT_BUSY_MS 300
#define MAX_TOP 1000
/* totals by time with at most this many groups shown pick them as they go */
#define MAX_TOP_PAGE 100000
#define MAX_BUCKETS 100000
#define MAX_POINTS 2000000
/* the room keys' buckets take during a series' first scan */
#define MAX_KEY_BYTES (16 << 20)
/* a window covering more than this share of the history is read whole */
#define WHOLE_SHARE_PERCENT 60
/* aligned series of windows longer than this have buckets of whole days */
#define ALIGN_DAYS_AFTER (7 * ROLLUP_DAY)

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int progress(void *p)
{
	struct query_db *db = p;

	if (__atomic_load_n(&db->interrupted, __ATOMIC_RELAXED))
		return 1;
	if (db->deadline && mono_ns() > db->deadline) {
		db->timed_out = true;
		return 1;
	}
	return 0;
}

int query_check_progress(struct query_db *db)
{
	return progress(db);
}

/* ps_country(address), ps_asn(address): the hooks of the options, for
 * filters on country and network owner */
static void label_fn(sqlite3_context *ctx, enum query_dim dim, sqlite3_value **v)
{
	struct query_db *db = sqlite3_user_data(ctx);
	const unsigned char *a = sqlite3_value_text(v[0]);
	void *hook_ctx;
	query_label_fn fn = query_label_hook(db, dim, &hook_ctx);
	const char *c;

	if (!a || !*a || !fn) {
		sqlite3_result_null(ctx);
		return;
	}
	c = fn(hook_ctx, (const char *)a);
	if (c)
		sqlite3_result_text(ctx, c, -1, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

static void country_fn(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	label_fn(ctx, QUERY_DIM_COUNTRY, v);
}

static void asn_fn(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	label_fn(ctx, QUERY_DIM_ASN, v);
}

/* The first column of a one-row query, as an integer; *isnull if NULL. */
static int query_int(struct query_db *db, const char *sql, const char *what, int64_t *ret,
		     bool *isnull, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return query_sqlite_fail(db, rc, what, err, errlen);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		if (isnull)
			*isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return rc == SQLITE_ROW ? 0 : query_fail(err, errlen, -EPROTO, "%s: no result", what);
	}
	rc = query_sqlite_fail(db, rc, what, err, errlen);
	sqlite3_finalize(st);
	return rc;
}

/* Whether `col` of connections leads a (non-partial) index. */
static int leads_index(struct query_db *db, const char *col, bool *ret, char *err, size_t errlen)
{
	struct qsql q = { 0 };
	sqlite3_stmt *st;
	int r, rc;

	qsql_add(&q, "SELECT count(*) FROM pragma_index_list('connections') AS l, "
		     "pragma_index_info(l.name) AS i WHERE l.partial = 0 AND i.seqno = 0 AND i.name = ");
	qsql_text(&q, col, strlen(col));
	r = qsql_prepare(db, &q, &st, "read the indexes", err, errlen);
	qsql_free(&q);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	*ret = rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
	r = rc == SQLITE_ROW ? 0 : query_sqlite_fail(db, rc, "read the indexes", err, errlen);
	sqlite3_finalize(st);
	return r;
}

/* What a file holds: our schema 10, 11 or 12, with its tables and columns. */
static int check_schema(struct query_db *db, char *err, size_t errlen)
{
	static const struct {
		int since;	/* the first version that has it */
		const char *sql;
	} probes[] = {
		{ 10, "SELECT id, time, exe_id, parent_id, uid, family, protocol, lport, rport, "
		      "laddr_id, raddr_id, domain_id, netns, sent, received, flows FROM connections" },
		{ 11, "SELECT grandparent_id FROM connections" },
		{ 10, "SELECT id, path, name, cmdline, sha256 FROM executables" },
		{ SCHEMA_SERVICES, "SELECT service FROM executables" },
		{ 10, "SELECT id, address FROM addresses" },
		{ 10, "SELECT id, domain FROM domains" },
		{ SCHEMA_DOMAIN_SOURCES, "SELECT source FROM domains" },
		{ 12, "SELECT grain, dim, start, keys, data FROM rollups" },
		{ 12, "SELECT complete_from, complete_until FROM rollup_state" },
		{ 14, "SELECT exe_id, day, data FROM exe_days" },
		{ SCHEMA_EXE_SUMS, "SELECT exe_id, day, data FROM exe_sums" },
		{ SCHEMA_EXE_SUMS_SPLIT, "SELECT dim FROM exe_sums" },
	};
	int64_t version, tables;
	sqlite3_stmt *st;
	int r, rc;

	r = query_int(db, "PRAGMA user_version", "read the schema version", &version, NULL, err, errlen);
	if (r == -EBADMSG)
		return query_fail(err, errlen, r, "%s is not an SQLite database (%s)", db->path,
				  sqlite3_errmsg(db->db));
	if (r < 0)
		return r;
	if (version > SCHEMA_VERSION)
		return query_fail(err, errlen, -EPROTO,
				  "snitch.db has schema version %" PRId64
				  ", newer than this picosnitch understands (%s)",
				  version, db->path);
	if (version == 0) {
		r = query_int(db, "SELECT count(*) FROM sqlite_master", "read the tables", &tables, NULL,
			      err, errlen);
		if (r < 0)
			return r;
		if (!tables)
			return query_fail(err, errlen, -ENODATA,
					  "%s has no history yet (the monitor has not written to it)",
					  db->path);
		return query_fail(err, errlen, -EPROTO,
				  "%s is an SQLite database but not picosnitch's (no schema version)",
				  db->path);
	}
	if (version < 10)
		return query_fail(err, errlen, -EPROTO,
				  "snitch.db has schema version %" PRId64
				  ", which this picosnitch does not read (the monitor migrates versions "
				  "3 and 10 when it starts) (%s)",
				  version, db->path);
	if (version == SCHEMA_UNRELEASED)
		return query_fail(err, errlen, -EPROTO,
				  "snitch.db has schema version %" PRId64
				  ", which no released picosnitch wrote; move it aside (%s)",
				  version, db->path);
	db->version = (int)version;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (version < probes[i].since)
			continue;
		rc = sqlite3_prepare_v2(db->db, probes[i].sql, -1, &st, NULL);
		sqlite3_finalize(st);
		if (rc != SQLITE_OK) {
			r = query_sqlite_fail(db, rc, "read the tables", err, errlen);
			if (r == -EPROTO)
				return query_fail(err, errlen, -EPROTO,
						  "%s does not have the tables of schema %" PRId64 ": %s",
						  db->path, version, sqlite3_errmsg(db->db));
			return r;
		}
	}
	return 0;
}

/* Which dimensions have an index led by their key column. */
static int check_indexes(struct query_db *db, bool indexed[QUERY_DIM__COUNT], char *err, size_t errlen)
{
	for (int d = 0; d < QUERY_DIM__COUNT; d++) {
		const char *col = query_dims[d].index_col;
		int r;

		indexed[d] = false;
		if (!col || (d == QUERY_DIM_GRANDPARENT_EXECUTABLE && db->version < 11))
			continue;
		r = leads_index(db, col, &indexed[d], err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

int query_harden(sqlite3 *db)
{
	/* the file may come from anyone: nothing in it runs anything but
	 * plain SQL, and it is only read */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
#ifdef SQLITE_DBCONFIG_ENABLE_VIEW
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
#endif
	return sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
}

int query_open(const char *path, const struct query_options *opt, struct query_db **ret,
	       char *err, size_t errlen)
{
	struct query_db *db;
	struct stat sb;
	char *name;
	int rc, r;

	*ret = NULL;
	if (!path || !*path)
		return query_fail(err, errlen, -EINVAL, "no path to snitch.db");
	if (stat(path, &sb) < 0) {
		r = -errno;
		if (r == -ENOENT)
			return query_fail(err, errlen, r,
					  "%s does not exist: the monitor creates it when it first "
					  "writes history",
					  path);
		return query_fail(err, errlen, r, "%s: %s", path, strerror(-r));
	}
	if (S_ISDIR(sb.st_mode))
		return query_fail(err, errlen, -EISDIR, "%s is a directory, not snitch.db", path);
	/* a FIFO would block the first read */
	if (!S_ISREG(sb.st_mode))
		return query_fail(err, errlen, -EINVAL, "%s is not a regular file", path);
	db = calloc(1, sizeof(*db));
	/* a relative name starting with "file:" must not be taken as a URI */
	if (!db || asprintf(&name, "%s%s", path[0] == '/' ? "" : "./", path) < 0) {
		free(db);
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	}
	db->path = strdup(path);
	if (opt)
		db->opt = *opt;
	if (!db->opt.busy_timeout_ms)
		db->opt.busy_timeout_ms = DEFAULT_BUSY_MS;
	if (db->opt.busy_timeout_ms > 3600000)
		db->opt.busy_timeout_ms = 3600000;
	if (!db->path) {
		free(name);
		query_close(db);
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	}
	rc = sqlite3_open_v2(name, &db->db, SQLITE_OPEN_READONLY, query_vfs());
	free(name);
	if (rc != SQLITE_OK) {
		r = query_sqlite_fail(db, rc, path, err, errlen);
		if (r == -EIO)
			r = -EACCES;	/* CANTOPEN for a file that is there */
		query_close(db);
		return r;
	}
	sqlite3_extended_result_codes(db->db, 1);
	sqlite3_busy_timeout(db->db, (int)db->opt.busy_timeout_ms);
	/* the timeout, and interrupts between the statements of a query */
	sqlite3_progress_handler(db->db, 10000, progress, db);
	rc = query_harden(db->db);
	/* 512 kB of pages rather than SQLite's 2 MB: the long scans read far
	 * more than either holds (the kernel's page cache keeps them), and the
	 * b-trees' inner pages fit.  Totals, series and the executable page
	 * over a year, cold and warm, took the same time (querygen, side by
	 * side), and the dash holds 1.5 MB less. */
	if (rc == SQLITE_OK)
		/* it reads the schema: what is not a database fails here too,
		 * and the version check below says so by name */
		(void)sqlite3_exec(db->db, "PRAGMA cache_size = -512", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = query_sqlite_fail(db, rc, "set query_only", err, errlen);
		goto fail;
	}
	if ((r = agg_register(db)) < 0 ||
	    (db->opt.country_of &&
	     sqlite3_create_function_v2(db->db, "ps_country", 1,
					SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, db,
					country_fn, NULL, NULL, NULL) != SQLITE_OK) ||
	    (db->opt.asn_of &&
	     sqlite3_create_function_v2(db->db, "ps_asn", 1,
					SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, db,
					asn_fn, NULL, NULL, NULL) != SQLITE_OK)) {
		r = query_fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = check_schema(db, err, errlen)) < 0 ||
	    (r = check_indexes(db, db->indexed, err, errlen)) < 0)
		goto fail;
	/* a fleet copy: the machine of each entry */
	if (sqlite3_exec(db->db, "SELECT c.host_id, h.id, h.host FROM connections c, hosts h "
			 "LIMIT 0", NULL, NULL, NULL) == SQLITE_OK) {
		db->hosts = true;
		db->opt.no_rollups = true;
	}
	*ret = db;
	return 0;
fail:
	query_close(db);
	return r;
}

bool query_has_hosts(const struct query_db *db)
{
	return db && db->hosts;
}

void query_close(struct query_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db->path);
	free(db);
}

int query_schema_version(const struct query_db *db)
{
	return db->version;
}

void query_interrupt(struct query_db *db)
{
	if (db && db->db) {
		__atomic_store_n(&db->interrupted, 1, __ATOMIC_RELAXED);
		sqlite3_interrupt(db->db);
	}
}

/* What the rollups cover in this query's snapshot (read in its
 * transaction, with the rows). */
static int read_coverage(struct query_db *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	db->covered = false;
	if (db->version < 12 || db->opt.no_rollups)
		return 0;
	rc = sqlite3_prepare_v2(db->db, "SELECT max(complete_from), min(complete_until) FROM "
				"rollup_state", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return query_sqlite_fail(db, rc, "read the rollup state", err, errlen);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    sqlite3_column_type(st, 1) != SQLITE_NULL) {
		db->cover_from = sqlite3_column_int64(st, 0);
		db->cover_until = sqlite3_column_int64(st, 1);
		if (db->cover_from < 0)
			db->cover_from = 0;
		if (db->cover_until > ROLLUP_TIME_MAX)
			db->cover_until = ROLLUP_TIME_MAX;
		db->covered = db->cover_from < db->cover_until;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		       ? 0 : query_sqlite_fail(db, rc, "read the rollup state", err, errlen);
}

/* The start and end of every public query: one read transaction, so that
 * the statements of one query see the same rows (and rollups). */
static int begin(struct query_db *db, char *err, size_t errlen)
{
	int rc;

	db->timed_out = false;
	__atomic_store_n(&db->interrupted, 0, __ATOMIC_RELAXED);
	db->deadline = db->opt.query_timeout_ms
			       ? mono_ns() + (int64_t)db->opt.query_timeout_ms * 1000000
			       : 0;
	rc = sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return query_sqlite_fail(db, rc, "begin", err, errlen);
	return read_coverage(db, err, errlen);
}

static void end(struct query_db *db)
{
	if (!sqlite3_get_autocommit(db->db))
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	db->deadline = 0;
	db->agg = NULL;
}

static int bounds(struct query_db *db, int64_t *first, int64_t *last, char *err, size_t errlen)
{
	bool n1 = true, n2 = true;
	int r;

	/* two statements: each is one index lookup, min and max together are not */
	if ((r = query_int(db, "SELECT min(time) FROM connections", "read the first entry", first,
			   &n1, err, errlen)) < 0 ||
	    (r = query_int(db, "SELECT max(time) FROM connections", "read the last entry", last, &n2,
			   err, errlen)) < 0)
		return r;
	if (n1 || n2)
		return query_fail(err, errlen, -ENODATA, "%s has no entries yet", db->path);
	return 0;
}

int query_bounds(struct query_db *db, int64_t *first, int64_t *last, char *err, size_t errlen)
{
	int r = begin(db, err, errlen);

	if (r == 0)
		r = bounds(db, first, last, err, errlen);
	end(db);
	return r;
}

/* How to read a window. */
struct plan {
	bool empty;		/* no entry is in the window */
	bool ids;		/* read the id range [lo, hi] */
	bool by_index;		/* an include filter's index leads: keep time usable */
	bool by_time;		/* a short window: read through the time index */
	int64_t lo, hi;
};

/* Whether an include filter can be read through an index: on an indexed
 * column, and none of its values "" (which also takes NULL and dangling
 * ids: a condition no index serves). */
static bool has_indexed_include(const struct query_db *db, const struct query_select *sel)
{
	for (int d = 0; d < QUERY_DIM__COUNT; d++) {
		bool any = false, empty = false;

		if (!db->indexed[d] || d == QUERY_DIM_TIME)
			continue;
		for (size_t i = 0; i < sel->n_filters; i++)
			if ((int)sel->filters[i].dim == d && sel->filters[i].mode == QUERY_INCLUDE) {
				any = true;
				empty |= sel->filters[i].len == 0;
			}
		if (any && !empty)
			return true;
	}
	return false;
}

static int plan_window(struct query_db *db, const struct query_select *sel, struct plan *p,
		       char *err, size_t errlen)
{
	const struct query_window *w = &sel->window;
	int64_t first, last, a, b;
	bool isnull;
	int r;

	*p = (struct plan){ 0 };
	if ((w->has_from && w->has_to && w->from >= w->to) || (w->has_to && w->to == INT64_MIN)) {
		p->empty = true;
		return 0;
	}
	p->by_index = has_indexed_include(db, sel);
	if ((!w->has_from && !w->has_to) || !db->indexed[QUERY_DIM_TIME] || p->by_index)
		return 0;
	r = bounds(db, &first, &last, err, errlen);
	if (r == -ENODATA) {
		p->empty = true;
		return 0;
	}
	if (r < 0)
		return r;
	a = w->has_from && w->from > first ? w->from : first;
	b = w->has_to && w->to - 1 < last ? w->to - 1 : last;
	if (a > b) {
		p->empty = true;
		return 0;
	}
	if (((__int128)b - a) * 100 >= ((__int128)last - first) * WHOLE_SHARE_PERCENT)
		return 0;
	/* less than a day (an unaligned series' pieces of the days that
	 * bucket edges cut, a window's edges): through the time index, each
	 * row looked up by its id as it comes.  Finding the id range first
	 * walks the same index entries, and then the rows are read again:
	 * an unaligned series over a year (its pieces: 400,000 entries) took
	 * 125-131 ms warm that way, 104-106 this way, and 187-211 -> 159-163
	 * cold (querygen, side by side) */
	if ((__int128)b - a < ROLLUP_DAY) {
		p->by_time = true;
		return 0;
	}
	{
		struct qsql q = { 0 };
		sqlite3_stmt *st;
		int rc;

		qsql_add(&q, "SELECT min(id), max(id) FROM connections WHERE time >= ");
		qsql_int(&q, a);
		qsql_add(&q, " AND time <= ");
		qsql_int(&q, b);
		r = qsql_prepare(db, &q, &st, "find the window", err, errlen);
		qsql_free(&q);
		if (r < 0)
			return r;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
			p->lo = sqlite3_column_int64(st, 0);
			p->hi = sqlite3_column_int64(st, 1);
			p->empty = isnull;
			p->ids = !isnull;
		}
		r = rc == SQLITE_ROW ? 0 : query_sqlite_fail(db, rc, "find the window", err, errlen);
		sqlite3_finalize(st);
		return r;
	}
}

/* Feed every row of the window that passes the filters to ps_acc(), into
 * `a` (which, in the second scan of a series, adds to its buckets); or,
 * with `dims`, each row into aggs[i] by dims[i] (as ps_acc would), reading
 * the rows once for all of them. */
static int scan_rows(struct query_db *db, const struct query_select *sel, const struct plan *p,
		     struct agg *a, const enum query_dim *dims, struct agg *const *aggs, size_t n_aggs,
		     char *err, size_t errlen)
{
	const struct dim_info *d = &query_dims[sel->dim];
	struct qsql q = { 0 };
	sqlite3_stmt *st;
	const char *time_col;
	int r, rc;

	if (p->empty)
		return 0;
	if (dims) {
		/* the columns of every key (as rollup.h numbers them) */
		qsql_add(&q, "SELECT c.exe_id, c.parent_id, ");
		qsql_add(&q, query_dim_key(db, QUERY_DIM_GRANDPARENT_EXECUTABLE));
		qsql_add(&q, ", c.uid, c.lport, c.rport, c.laddr_id, c.raddr_id, c.domain_id, c.family, "
			     "c.netns, c.time, c.protocol, c.sent, c.received, c.flows");
		qsql_add(&q, db->hosts ? ", c.host_id" : ", NULL");
		qsql_add(&q, " FROM connections c WHERE 1");
	} else {
		qsql_add(&q, "SELECT ps_acc(");
		qsql_add(&q, query_dim_key(db, sel->dim));
		qsql_add(&q, d->kind == DK_PROTOCOL ? ", c.protocol" : ", 0");
		qsql_add(&q, ", c.time, c.sent, c.received, c.flows) FROM connections c WHERE 1");
	}
	/* reading most of the table: sequentially, not through the time index
	 * (an id range, an include filter's index or a short window can use
	 * time) */
	time_col = p->ids || p->by_index || p->by_time ? "c.time" : "+c.time";
	if (p->ids) {
		qsql_add(&q, " AND c.id BETWEEN ");
		qsql_int(&q, p->lo);
		qsql_add(&q, " AND ");
		qsql_int(&q, p->hi);
	}
	if (sel->window.has_from) {
		qsql_add(&q, " AND ");
		qsql_add(&q, time_col);
		qsql_add(&q, " >= ");
		qsql_int(&q, sel->window.from);
	}
	if (sel->window.has_to) {
		qsql_add(&q, " AND ");
		qsql_add(&q, time_col);
		qsql_add(&q, " < ");
		qsql_int(&q, sel->window.to);
	}
	r = query_add_filters(db, &q, sel, err, errlen);
	if (r == 0)
		r = qsql_prepare(db, &q, &st, "read the entries", err, errlen);
	qsql_free(&q);
	if (r < 0)
		return r;
	db->agg = a;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (size_t i = 0; dims && i < n_aggs; i++) {
			/* the host's id is the 17th column */
			int col = dims[i] == QUERY_DIM_HOST ? 16 : query_dims[dims[i]].rollup_key - 1;
			int64_t k = 0, k2 = AGG_NULL_KEY;

			if (sqlite3_column_type(st, col) != SQLITE_NULL) {
				k = sqlite3_column_int64(st, col);
				k2 = query_dims[dims[i]].kind == DK_PROTOCOL ? sqlite3_column_int64(st, 12) : 0;
			}
			if (!agg_add(aggs[i], k, k2, sqlite3_column_int64(st, 11),
				     sqlite3_column_int64(st, 13), sqlite3_column_int64(st, 14),
				     sqlite3_column_int64(st, 15))) {
				sqlite3_finalize(st);
				db->agg = NULL;
				return query_fail(err, errlen, -ENOMEM, "out of memory");
			}
		}
	}
	db->agg = NULL;
	r = rc == SQLITE_DONE ? 0 : a && a->oom ? query_fail(err, errlen, -ENOMEM, "out of memory")
						: query_sqlite_fail(db, rc, "read the entries", err, errlen);
	sqlite3_finalize(st);
	return r;
}

static int scan(struct query_db *db, const struct query_select *sel, const struct plan *p,
		struct agg *a, char *err, size_t errlen)
{
	return scan_rows(db, sel, p, a, NULL, NULL, 0, err, errlen);
}

/* ---- reading from the rollups ---- */

/* A window cut for reading: runs of rollup units that lie whole in it and
 * in the coverage, and the rest, before and after them, as rows. */
struct split {
	struct query_window rows[2];
	size_t n_rows;
	struct {
		int grain;
		int64_t from, to;	/* the units that start in [from, to) */
	} runs[7];
	size_t n_runs;
};

/* The whole days [d0, d1) as runs: its whole weeks as week units (schema
 * 13), the days around them as day units. */
static void split_days(const struct query_db *db, struct split *sp, int64_t d0, int64_t d1)
{
	int64_t w0 = rollup_week_ceil(d0), w1 = rollup_week_start(d1);

	if (d0 >= d1)
		return;
	if (db->version < 13 || w0 >= w1) {
		sp->runs[sp->n_runs++] = (typeof(sp->runs[0])){ ROLLUP_GRAIN_DAY, d0, d1 };
		return;
	}
	if (d0 < w0)
		sp->runs[sp->n_runs++] = (typeof(sp->runs[0])){ ROLLUP_GRAIN_DAY, d0, w0 };
	sp->runs[sp->n_runs++] = (typeof(sp->runs[0])){ ROLLUP_GRAIN_WEEK, w0, w1 };
	if (w1 < d1)
		sp->runs[sp->n_runs++] = (typeof(sp->runs[0])){ ROLLUP_GRAIN_DAY, w1, d1 };
}

/* false: no unit lies in the window (it is all rows) */
static bool split_window(const struct query_db *db, const struct query_window *w, struct split *sp)
{
	int64_t lo = db->cover_from, hi = db->cover_until, d0, d1, m0, m1;

	*sp = (struct split){ .n_rows = 0 };
	if (!db->covered)
		return false;
	if (w->has_from && w->from > lo)
		lo = w->from;
	if (w->has_to && w->to < hi)
		hi = w->to;
	if (lo >= hi)
		return false;
	/* the whole days in [lo, hi), then the whole months among them */
	d0 = rollup_day_ceil(lo);
	d1 = rollup_day_start(hi);
	if (d0 >= d1)
		return false;
	m0 = rollup_month_start(d0) == d0 ? d0 : rollup_month_end(d0);
	m1 = rollup_month_start(d1);
	if (m0 < m1) {
		split_days(db, sp, d0, m0);
		sp->runs[sp->n_runs++] = (typeof(sp->runs[0])){ ROLLUP_GRAIN_MONTH, m0, m1 };
		split_days(db, sp, m1, d1);
	} else {
		split_days(db, sp, d0, d1);
	}
	if (!w->has_from || w->from < d0)
		sp->rows[sp->n_rows++] = (struct query_window){ .from = w->from, .to = d0,
								.has_from = w->has_from, .has_to = true };
	if (!w->has_to || w->to > d1)
		sp->rows[sp->n_rows++] = (struct query_window){ .from = d1, .to = w->to,
								.has_from = true, .has_to = w->has_to };
	return true;
}

/* Whether a query reads rollups: never with filters (their rows are read
 * through the indexes). */
static bool use_rollups(const struct query_db *db, const struct query_select *sel, struct split *sp)
{
	return !sel->n_filters && split_window(db, &sel->window, sp);
}

static int prepare_units(struct query_db *db, sqlite3_stmt **st, char *err, size_t errlen)
{
	int rc = sqlite3_prepare_v2(db->db, "SELECT start, data FROM rollups WHERE grain = ?1 AND "
				    "dim = ?2 AND start >= ?3 AND start < ?4", -1, st, NULL);

	return rc == SQLITE_OK ? 0 : query_sqlite_fail(db, rc, "read the rollups", err, errlen);
}

/* Add the units of `grain` with starts in [from, to) of the dimension's key
 * to a (each entry at its unit's start, for the bucket of a series, or at
 * `at` unless that is INT64_MIN).
 * -EBADMSG: a blob that is not of this format (an edited file). */
static int read_units(struct query_db *db, sqlite3_stmt *st, enum query_dim dim, int grain,
		      int64_t from, int64_t to, struct agg *a, const struct line_key *lk,
		      size_t n_lk, struct agg_top *top, int64_t at, char *err, size_t errlen)
{
	int rc, n;

	sqlite3_reset(st);
	sqlite3_bind_int(st, 1, grain);
	sqlite3_bind_int(st, 2, query_dims[dim].rollup_key);
	sqlite3_bind_int64(st, 3, from);
	sqlite3_bind_int64(st, 4, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t start = sqlite3_column_int64(st, 0);
		struct rollup_reader rd;
		struct rollup_entries c;

		/* a unit that does not start where its grain does is not ours */
		if (start != (grain == ROLLUP_GRAIN_DAY	   ? rollup_day_start(start)
			      : grain == ROLLUP_GRAIN_WEEK ? rollup_week_start(start)
							   : rollup_month_start(start)))
			continue;
		if (lk)
			n = agg_add_unit_lines(a, lk, n_lk, sqlite3_column_blob(st, 1),
					       (size_t)sqlite3_column_bytes(st, 1),
					       at == INT64_MIN ? start : at);
		else if (!rollup_reader_init(&rd, sqlite3_column_blob(st, 1),
					     (size_t)sqlite3_column_bytes(st, 1)))
			n = -1;
		else if (top)
			while ((n = rollup_next_entries(&rd, &c)) > 0) {
				for (int i = 0; i < n; i++)
					if (!agg_top_add(top, &c.e[i]))
						return query_fail(err, errlen, -EAGAIN,
								  "keys out of order");
			}
		else
			while ((n = rollup_next_entries(&rd, &c)) > 0) {
				for (int i = 0; i < n; i++)
					if (!agg_add(a, c.e[i].key, c.e[i].key2, start, c.e[i].sent,
						     c.e[i].received, c.e[i].flows))
						return query_fail(err, errlen, -ENOMEM,
								  "out of memory");
			}
		if (n < 0)
			return query_fail(err, errlen, -EBADMSG, "a rollup of %s cannot be read", db->path);
		/* the blob was read outside of SQLite's progress handler */
		if (progress(db)) {
			sqlite3_reset(st);
			return query_sqlite_fail(db, SQLITE_INTERRUPT, "read the rollups", err, errlen);
		}
	}
	return rc == SQLITE_DONE ? 0 : query_sqlite_fail(db, rc, "read the rollups", err, errlen);
}

/* The units of a split, into a. */
static int read_split_units(struct query_db *db, enum query_dim dim, const struct split *sp,
			    struct agg *a, struct agg_top *top, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t keys = 0;
	int r, rc;

	/* room for the keys of the largest unit at once: fewer than the
	 * window's, which the table grows to, but never more (the sum of the
	 * units' keys was ten times the keys of a year by remote address: a
	 * 4 MB table, every page of it touched) */
	rc = sqlite3_prepare_v2(db->db, "SELECT max(keys) FROM rollups WHERE grain = ?1 AND dim = ?2 "
				"AND start >= ?3 AND start < ?4", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return query_sqlite_fail(db, rc, "read the rollups", err, errlen);
	for (size_t i = 0; i < sp->n_runs; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, sp->runs[i].grain);
		sqlite3_bind_int(st, 2, query_dims[dim].rollup_key);
		sqlite3_bind_int64(st, 3, sp->runs[i].from);
		sqlite3_bind_int64(st, 4, sp->runs[i].to);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		if (sqlite3_column_int64(st, 0) > keys)
			keys = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return query_sqlite_fail(db, rc, "read the rollups", err, errlen);
	/* a hint only: an edited file may say anything */
	if (!top && keys > 0 && keys < (1 << 24) && !agg_reserve(a, (size_t)keys))
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	r = prepare_units(db, &st, err, errlen);

	for (size_t i = 0; r == 0 && i < sp->n_runs; i++)
		r = read_units(db, st, dim, sp->runs[i].grain, sp->runs[i].from, sp->runs[i].to, a,
			       NULL, 0, top, INT64_MIN, err, errlen);
	sqlite3_finalize(st);
	return r;
}

/* Scan the rows of a window (cut from sel's) into a: those of a few
 * executables that the filters name from their executable days (schema 14)
 * for its whole days that the coverage holds, the rest from the rows. */
static int scan_window(struct query_db *db, const struct query_select *sel,
		       const struct query_window *w, struct agg *a, char *err, size_t errlen)
{
	struct query_select part = *sel;
	struct exe_days *x = NULL;
	struct split sp;
	struct plan p;
	int r;

	part.window = *w;
	if (sel->n_filters && split_window(db, w, &sp)) {
		if ((r = exe_days_prepare(db, &part, false, &x, err, errlen)) < 0)
			return r;
	}
	if (x) {
		r = exe_days_scan(db, x, &sel->dim, &a, 1, sp.runs[0].from, sp.runs[sp.n_runs - 1].to,
				  err, errlen);
		exe_days_free(x);
		for (size_t i = 0; r == 0 && i < sp.n_rows; i++) {
			part.window = sp.rows[i];
			if ((r = plan_window(db, &part, &p, err, errlen)) == 0)
				r = scan(db, &part, &p, a, err, errlen);
		}
		return r;
	}
	if ((r = plan_window(db, &part, &p, err, errlen)) == 0)
		r = scan(db, &part, &p, a, err, errlen);
	return r;
}

/* Empty a, keeping its series (whose buckets start again too). */
static void agg_reset(struct agg *a)
{
	struct agg_series *s = a->series;

	agg_free(a);
	a->series = s;
	if (s) {
		s->no_buckets = s->second = s->dropped = false;
		s->key_bytes = 0;
		if (s->points)
			memset(s->points, 0, s->n_lines * s->buckets * sizeof(*s->points));
		if (s->all)
			memset(s->all, 0, s->buckets * sizeof(*s->all));
	}
}

/* Every row of the window that passes the filters, into a: from the
 * rollups' units that lie whole in it and the rows around them (`sp`, from
 * use_rollups), else from the rows.  A rollup that cannot be read makes it
 * read the rows (and *rolled false). */
static int gather(struct query_db *db, const struct query_select *sel, const struct split *sp,
		  bool *rolled, struct agg *a, char *err, size_t errlen)
{
	int r = 0;

	if (*rolled) {
		r = read_split_units(db, sel->dim, sp, a, NULL, err, errlen);
		for (size_t i = 0; r == 0 && i < sp->n_rows; i++)
			r = scan_window(db, sel, &sp->rows[i], a, err, errlen);
		if (r != -EBADMSG)
			return r;
		agg_reset(a);
		*rolled = false;
	}
	return scan_window(db, sel, &sel->window, a, err, errlen);
}

static int check_select(struct query_db *db, const struct query_select *sel, char *err, size_t errlen)
{
	if (!db)
		return query_fail(err, errlen, -EINVAL, "no database");
	if ((unsigned int)sel->dim >= QUERY_DIM__COUNT)
		return query_fail(err, errlen, -EINVAL, "no such dimension");
	if (sel->dim == QUERY_DIM_COUNTRY && !db->opt.country_of)
		return query_fail(err, errlen, -EOPNOTSUPP,
				  "grouping by country needs GeoIP data, which this picosnitch has not");
	if (sel->dim == QUERY_DIM_HOST && !db->hosts)
		return query_fail(err, errlen, -EOPNOTSUPP,
				  "grouping by host: only the fleet view (dash --sql) has machines");
	if (sel->dim == QUERY_DIM_ASN && !db->opt.asn_of)
		return query_fail(err, errlen, -EOPNOTSUPP,
				  "grouping by network owner needs its data (asn.bin), which this "
				  "picosnitch has not");
	return 0;
}

/* The groups of sel.dim in the window, unsorted (see gather); keep: a's
 * entries are used afterwards (agg_group). */
static int grouped(struct query_db *db, const struct query_select *sel, const struct split *sp,
		   bool *rolled, struct agg *a, bool keep, struct agg_group **g, size_t *ng, char *err,
		   size_t errlen)
{
	int r;

	if ((r = gather(db, sel, sp, rolled, a, err, errlen)) < 0 ||
	    (r = agg_resolve(db, a, sel->dim, err, errlen)) < 0)
		return r;
	if (agg_group(a, sel->dim, keep, g, ng) < 0)
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

/* How many groups from the first a page shows (0: all of them). */
static size_t shown(size_t limit, size_t offset)
{
	return limit && offset + limit > offset ? offset + limit : 0;
}

static int make_result_of(enum query_dim dim, struct agg_group *g, size_t n_first, size_t ng,
			  const int64_t *all, size_t limit, size_t offset, bool sums,
			  struct query_result **ret, char *err, size_t errlen);

/* The rows [offset, offset + limit) of sorted groups, whose texts move to
 * the result. */
static int make_result(enum query_dim dim, struct agg_group *g, size_t ng, size_t limit,
		       size_t offset, bool sums, struct query_result **ret, char *err, size_t errlen)
{
	return make_result_of(dim, g, ng, ng, NULL, limit, offset, sums, ret, err, errlen);
}

/* make_result of the first n_first groups of ng, all of them summing to
 * `all` (sent, received, flows) */
static int make_result_of(enum query_dim dim, struct agg_group *g, size_t n_first, size_t ng,
			  const int64_t *all, size_t limit, size_t offset, bool sums,
			  struct query_result **ret, char *err, size_t errlen)
{
	struct query_result *res = calloc(1, sizeof(*res));
	size_t n = offset < n_first ? n_first - offset : 0;

	if (limit && n > limit)
		n = limit;
	if (!res || !(res->rows = calloc(n ? n : 1, sizeof(*res->rows)))) {
		free(res);
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	}
	res->dim = dim;
	res->n_groups = ng;
	if (all) {
		res->sent = all[0];
		res->received = all[1];
		res->flows = all[2];
	}
	for (size_t i = 0; !all && i < ng; i++) {
		if (!sums)
			g[i].sent = g[i].received = g[i].flows = 0;
		res->sent = query_add_sat(res->sent, g[i].sent);
		res->received = query_add_sat(res->received, g[i].received);
		res->flows = query_add_sat(res->flows, g[i].flows);
	}
	for (size_t i = 0; i < n; i++) {
		struct agg_group *src = &g[offset + i];

		if (agg_group_text(src) < 0) {
			res->n_rows = i;
			query_result_free(res);
			return query_fail(err, errlen, -ENOMEM, "out of memory");
		}
		res->rows[i] = (struct query_row){
			.value = { .text = src->text, .len = src->len, .num = src->num },
			.sent = src->sent, .received = src->received, .flows = src->flows,
		};
		src->text = NULL;
	}
	res->n_rows = n;
	*ret = res;
	return 0;
}

/* The page of a top that was filled (r 0; else r is passed on), and the
 * top freed. */
static int top_result(const struct query_totals_req *req, struct agg_top *t, int r,
		      struct query_result **ret, char *err, size_t errlen)
{
	if (r == 0) {
		agg_top_finish(t);
		r = make_result_of(req->sel.dim, t->heap, t->n, t->n_groups, t->sums, req->limit,
				   req->offset, true, ret, err, errlen);
	}
	agg_groups_free(t->heap, t->n);
	return r;
}

/* Totals by time from the rollups and the rows around them (sp): as
 * grouped() and agg_groups_sort would give them, but without a hash of the
 * keys nor sorting them all (agg_top; half a million keys in a year).
 * -EAGAIN: the units' keys are not in order (an edited file): read them
 * the usual way. */
static int time_totals(struct query_db *db, const struct query_totals_req *req,
		       const struct split *sp, size_t k, struct query_result **ret, char *err,
		       size_t errlen)
{
	struct agg a = { 0 };
	struct agg_top t = { 0 };
	int r = 0;

	for (size_t i = 0; r == 0 && i < sp->n_rows; i++)
		r = scan_window(db, &req->sel, &sp->rows[i], &a, err, errlen);
	if (r == 0 && agg_top_init(&t, &a, req->sort, req->ascending, k) < 0)
		r = query_fail(err, errlen, -ENOMEM, "out of memory");
	if (r == 0)
		r = read_split_units(db, req->sel.dim, sp, &a, &t, err, errlen);
	r = top_result(req, &t, r, ret, err, errlen);
	agg_free(&a);
	return r;
}

/* The ends of a window, an open side at the first or past the last entry:
 * -ENODATA without entries, -EINVAL when empty, -ERANGE when too long. */
static int window_ends(struct query_db *db, const struct query_window *w, int64_t *from,
		       int64_t *to, char *err, size_t errlen)
{
	int64_t first = 0, last = 0;
	int r;

	if (!w->has_from || !w->has_to) {
		r = bounds(db, &first, &last, err, errlen);
		if (r < 0)
			return r;
		if (last == INT64_MAX)
			return query_fail(err, errlen, -ERANGE, "an entry has an impossible time");
	}
	*from = w->has_from ? w->from : first;
	*to = w->has_to ? w->to : last + 1;
	if (*from >= *to)
		return query_fail(err, errlen, w->has_from && w->has_to ? -EINVAL : -ENODATA,
				  "the window is empty");
	if ((__int128)*to - *from > INT64_MAX)
		return query_fail(err, errlen, -ERANGE, "the window is too long");
	return 0;
}

/* Totals by time of a window longer than a few days that the rollups do
 * not give in order (filters): a time is in one chunk of the window only,
 * so each chunk's keys are complete when it has been read, and go into
 * the page as they come (agg_top).  Only a chunk's keys are in memory, not
 * the window's (a busy executable's year has ~450,000 distinct times, ~75
 * MB summed at once): chunks are whole days, from one day, twice as long
 * while they have fewer than half TIME_CHUNK_KEYS times (up to 64 days),
 * half as long while they have more.  The chunks share one agg, emptied
 * but keeping its room (agg_clear): each chunk's own, grown by doubling and
 * freed, touched new pages all the time (a fault costs microseconds on a
 * VM) and, with the dash's heap settings, every block over 2 MB was mapped
 * afresh (querygen, the busiest executable and a domain, year, cold:
 * 6,800 faults, 162-201 ms; 9,700 and 228-263 with the dash's settings).
 * TIME_CHUNK_KEYS 50,000 rather than 100,000 halves the room again.
 * -EAGAIN: read it the usual way. */
#define TIME_CHUNK_KEYS 50000
#define TIME_CHUNK_MAX (64 * ROLLUP_DAY)

/* entries of times in the order of their groups: a NULL time first */
static int cmp_time_entry(const void *x, const void *y)
{
	const struct agg_entry *a = x, *b = y;
	bool an = a->k2 == AGG_NULL_KEY, bn = b->k2 == AGG_NULL_KEY;

	if (an != bn)
		return an ? -1 : 1;
	return (a->k > b->k) - (a->k < b->k);
}

/* whether a's entries are in order of cmp_time_entry */
static bool times_in_order(const struct agg *a)
{
	for (size_t i = 1; i < a->n; i++)
		if (cmp_time_entry(&a->e[i - 1], &a->e[i]) > 0)
			return false;
	return true;
}

static int time_totals_chunked(struct query_db *db, const struct query_totals_req *req, size_t k,
			       struct query_result **ret, char *err, size_t errlen)
{
	struct agg rows = { 0 }, a = { 0 };
	struct agg_top t = { 0 };
	int64_t from = 0, to = 0;
	int r = window_ends(db, &req->sel.window, &from, &to, err, errlen);

	/* no entries, an empty window, one too long: as usual */
	if (r == -ENODATA || r == -EINVAL || r == -ERANGE)
		return -EAGAIN;
	if (r < 0)
		return r;
	if (from < 0 || to > ROLLUP_TIME_MAX || to - from <= 4 * ROLLUP_DAY)
		return -EAGAIN;
	if (agg_top_init(&t, &rows, req->sort, req->ascending, k) < 0)
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	/* the chunks' scans of executable days read ahead to the window's end
	 * (the first chunk is a day, too short for helpers of its own) */
	query_ahead_begin(db, to);
	for (int64_t c = from, len = ROLLUP_DAY; r == 0 && c < to;) {
		/* chunks end at day starts, so that each has whole days */
		int64_t end = rollup_day_start(c) + len;
		struct query_select sel = req->sel;
		struct split sp;
		bool rolled;

		if (end > to)
			end = to;
		sel.window = (struct query_window){ c, end, true, true };
		rolled = use_rollups(db, &sel, &sp);
		agg_clear(&a);
		/* (a time is its own group: no texts to resolve) */
		r = gather(db, &sel, &sp, &rolled, &a, err, errlen);
		/* a chunk of one executable's days comes in order (its times
		 * appended): sorting it again was 7% of a year's time */
		if (r == 0 && !times_in_order(&a))
			qsort(a.e, a.n, sizeof(*a.e), cmp_time_entry);
		for (size_t i = 0; r == 0 && i < a.n; i++) {
			const struct agg_entry *x = &a.e[i];
			struct rollup_entry e = { .key = x->k,
						  .key2 = x->k2 == AGG_NULL_KEY ? AGG_NULL_KEY : 0,
						  .sent = x->sent, .received = x->received,
						  .flows = x->flows };

			if (!agg_top_add(&t, &e))
				r = -EAGAIN;	/* not in order: cannot be */
		}
		if (a.n < TIME_CHUNK_KEYS / 2 && len < TIME_CHUNK_MAX)
			len *= 2;
		else if (a.n > TIME_CHUNK_KEYS && len > ROLLUP_DAY)
			len /= 2;
		c = end;
	}
	query_ahead_end(db);
	agg_free(&a);
	r = top_result(req, &t, r, ret, err, errlen);
	agg_free(&rows);
	return r;
}

static int totals_once(struct query_db *db, const struct query_totals_req *req,
		       struct query_result **ret, char *err, size_t errlen)
{
	struct agg a = { 0 };
	struct agg_group *g = NULL;
	struct split sp;
	size_t ng = 0;
	bool rolled;
	int r;

	*ret = NULL;
	if ((r = check_select(db, &req->sel, err, errlen)) < 0)
		return r;
	if ((unsigned int)req->sort > QUERY_SORT_VALUE)
		return query_fail(err, errlen, -EINVAL, "no such sort order");
	r = begin(db, err, errlen);
	if (r == 0) {
		rolled = use_rollups(db, &req->sel, &sp);
		size_t k = shown(req->limit, req->offset);

		/* by time, a page of the groups (a year has half a million) */
		if (rolled && req->sel.dim == QUERY_DIM_TIME && k && k <= MAX_TOP_PAGE) {
			r = time_totals(db, req, &sp, k, ret, err, errlen);
			if (r != -EAGAIN && r != -EBADMSG) {
				end(db);
				return r;
			}
		}
		if (!rolled && req->sel.dim == QUERY_DIM_TIME && k && k <= MAX_TOP_PAGE) {
			r = time_totals_chunked(db, req, k, ret, err, errlen);
			if (r != -EAGAIN) {
				end(db);
				return r;
			}
		}
		r = grouped(db, &req->sel, &sp, &rolled, &a, false, &g, &ng, err, errlen);
	}
	end(db);
	if (r == 0) {
		agg_groups_sort(g, ng, req->sel.dim, req->sort, req->ascending,
				shown(req->limit, req->offset));
		r = make_result(req->sel.dim, g, ng, req->limit, req->offset, true, ret, err, errlen);
	}
	agg_groups_free(g, ng);
	agg_free(&a);
	return r;
}

/* The distinct keys of an indexed column in the window, by skipping through
 * its index (two lookups per key in the whole table) rather than reading
 * the window: for large windows without filters. */
static int distinct_keys(struct query_db *db, const struct query_select *sel, struct agg *a,
			 char *err, size_t errlen)
{
	const char *key = query_dim_key(db, sel->dim);
	struct qsql q = { 0 };
	sqlite3_stmt *st;
	int r, rc;

	for (int pass = 0; pass < 2; pass++) {
		/* the second pass: whether some row has a NULL key (schema 10's
		 * grandparents, after migration) */
		qsql_add(&q, pass ? "SELECT NULL WHERE EXISTS (SELECT 1 FROM connections c WHERE "
			     : "WITH RECURSIVE ids(k) AS (SELECT (SELECT min(");
		qsql_add(&q, key);
		if (pass) {
			qsql_add(&q, " IS NULL");
		} else {
			qsql_add(&q, ") FROM connections c) UNION ALL SELECT (SELECT min(");
			qsql_add(&q, key);
			qsql_add(&q, ") FROM connections c WHERE ");
			qsql_add(&q, key);
			qsql_add(&q, " > ids.k) FROM ids WHERE ids.k IS NOT NULL) "
				     "SELECT k FROM ids WHERE k IS NOT NULL AND EXISTS (SELECT 1 FROM "
				     "connections c WHERE ");
			qsql_add(&q, key);
			qsql_add(&q, " = ids.k");
		}
		qsql_window(&q, &sel->window);
		qsql_add(&q, ")");
		r = qsql_prepare(db, &q, &st, "read the values", err, errlen);
		qsql_free(&q);
		if (r < 0)
			return r;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			bool null = sqlite3_column_type(st, 0) == SQLITE_NULL;

			if (!agg_get(a, null ? 0 : sqlite3_column_int64(st, 0), null ? AGG_NULL_KEY : 0,
				     true)) {
				sqlite3_finalize(st);
				return query_fail(err, errlen, -ENOMEM, "out of memory");
			}
		}
		r = rc == SQLITE_DONE ? 0 : query_sqlite_fail(db, rc, "read the values", err, errlen);
		sqlite3_finalize(st);
		if (r < 0)
			return r;
	}
	return 0;
}

/* About how many rows a window has: its share of the history's time. */
static int estimate_rows(struct query_db *db, const struct query_window *w, uint64_t *rows,
			 char *err, size_t errlen)
{
	int64_t max_id = 0, first, last, a, b;
	int r;

	*rows = 0;
	r = query_int(db, "SELECT max(id) FROM connections", "read the entries", &max_id, NULL, err,
		      errlen);
	if (r < 0 || max_id <= 0)
		return r;
	r = bounds(db, &first, &last, err, errlen);
	if (r == -ENODATA)
		return 0;
	if (r < 0)
		return r;
	a = w->has_from && w->from > first ? w->from : first;
	b = w->has_to && w->to <= last ? w->to - 1 : last;
	if (a > b)
		return 0;
	*rows = last > first ? (uint64_t)((__int128)max_id * ((__int128)b - a) / ((__int128)last - first))
			     : (uint64_t)max_id;
	return 0;
}

static int distinct_once(struct query_db *db, const struct query_distinct_req *req,
			 struct query_result **ret, char *err, size_t errlen)
{
	const struct query_select *sel = &req->sel;
	struct agg a = { 0 };
	struct agg_group *g = NULL;
	struct split sp;
	size_t ng = 0;
	int64_t n_keys = 0;
	uint64_t rows = 0;
	bool skip = false, rolled = false, gathered = false;
	int r;

	*ret = NULL;
	if ((r = check_select(db, sel, err, errlen)) < 0)
		return r;
	r = begin(db, err, errlen);
	/* the values the rollups' units have (every key of their rows) */
	if (r == 0 && (gathered = rolled = use_rollups(db, sel, &sp)))
		r = gather(db, sel, &sp, &rolled, &a, err, errlen);
	/* skipping through the index costs two lookups per key of the whole
	 * table (at most the rows of its lookup table: a few us each), reading
	 * costs a step per row of the window (~0.1 us) */
	if (r == 0 && !gathered && !sel->n_filters && db->indexed[sel->dim] &&
	    query_dims[sel->dim].table) {
		struct qsql q = { 0 };
		sqlite3_stmt *st;

		qsql_add(&q, "SELECT max(id) FROM ");
		qsql_add(&q, query_dims[sel->dim].table);
		r = qsql_prepare(db, &q, &st, "read the values", err, errlen);
		qsql_free(&q);
		if (r == 0) {
			if (sqlite3_step(st) == SQLITE_ROW)
				n_keys = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			r = estimate_rows(db, &sel->window, &rows, err, errlen);
		}
		skip = n_keys > 0 && (uint64_t)n_keys * 32 < rows;
	}
	if (r == 0 && gathered)
		;	/* read already */
	else if (r == 0 && skip)
		r = distinct_keys(db, sel, &a, err, errlen);
	else if (r == 0)
		r = scan_window(db, sel, &sel->window, &a, err, errlen);
	if (r == 0)
		r = agg_resolve(db, &a, sel->dim, err, errlen);
	end(db);
	if (r == 0 && agg_group(&a, sel->dim, false, &g, &ng) < 0)
		r = query_fail(err, errlen, -ENOMEM, "out of memory");
	if (r == 0) {
		agg_groups_sort(g, ng, sel->dim, QUERY_SORT_VALUE, true, shown(req->limit, req->offset));
		r = make_result(sel->dim, g, ng, req->limit, req->offset, false, ret, err, errlen);
	}
	agg_groups_free(g, ng);
	agg_free(&a);
	return r;
}

void query_result_free(struct query_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_rows; i++)
		free(res->rows[i].value.text);
	free(res->rows);
	free(res);
}

int64_t query_series_bucket_start(const struct query_series *s, size_t i)
{
	return agg_bucket_start(s->from, s->to, s->n_buckets, s->align_start, s->align_len, i);
}

/* Aligned buckets over [from, to) for about `buckets` of them (query.h):
 * their length, the start of the first (at or before from) and how many. */
static int align_buckets(int64_t from, int64_t to, size_t buckets, int64_t *start, int64_t *len,
			 size_t *n)
{
	static const int64_t round[] = { 1,    2,    5,    10,    15,    30,    60,
					 120,  300,  600,  900,   1800,  3600,  7200,
					 10800, 14400, 21600, 28800, 43200, ROLLUP_DAY };
	__int128 span = (__int128)to - from, want = (span + (__int128)buckets - 1) / (__int128)buckets;
	__int128 first, count;

	if (span > ALIGN_DAYS_AFTER && want < ROLLUP_DAY)
		want = ROLLUP_DAY;
	if (want <= ROLLUP_DAY) {
		for (size_t i = 0; i < sizeof(round) / sizeof(round[0]); i++)
			if (round[i] >= want) {
				want = round[i];
				break;
			}
	} else {
		want = (want + ROLLUP_DAY - 1) / ROLLUP_DAY * ROLLUP_DAY;
	}
	first = (__int128)from / want * want;
	if (first > from)
		first -= want;
	count = ((__int128)to - first + want - 1) / want;
	if (want > INT64_MAX || first < INT64_MIN || count > (__int128)buckets + 1)
		return -ERANGE;
	*start = (int64_t)first;
	*len = (int64_t)want;
	*n = (size_t)count;
	return 0;
}

/* A piece of a series' window read as rows in the second pass: [from, to),
 * inside one day, in bucket `bucket`. */
struct piece {
	int64_t from, to;
	size_t bucket;
};

/* a cut day's largest piece is taken from its unit if it is this long */
#define COMPLEMENT_MIN (ROLLUP_DAY / 8)

/* Rows of [from, to) into the lines (nothing if empty). */
static int scan_range(struct query_db *db, const struct query_select *sel, int64_t from,
		      int64_t to, struct agg *a, char *err, size_t errlen)
{
	struct query_window w = { from, to, true, true };

	return from < to ? scan_window(db, sel, &w, a, err, errlen) : 0;
}

/* A day cut by the edges of buckets (pieces p[0, n), in order, which fill
 * it; p[big] the largest), whose unit the rollups hold: its largest piece
 * is the day's unit less the rows of the others, which are read (into
 * their own buckets) as usual.  What those rows add to their buckets is
 * what the unit has beyond the largest piece: taken from the points before
 * and after reading them, then from the largest piece's bucket, to which
 * the unit is added.  Every sum is exact (the unit sums exactly the rows of
 * its day); only fewer rows are read: at most the day less its largest
 * piece, rather than all of it. */
static int fill_cut_day(struct query_db *db, const struct query_select *sel, sqlite3_stmt *units,
			const struct piece *p, size_t n, size_t big, const struct line_key *lk,
			size_t n_lk, struct agg *a, char *err, size_t errlen)
{
	struct agg_series *as = a->series;
	size_t b0 = p[0].bucket, nbk = p[n - 1].bucket - b0 + 1, nb = as->buckets;
	int64_t day = p[0].from;
	struct query_point *before;
	int r;

	before = malloc(as->n_lines * nbk * sizeof(*before));
	if (!before)
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t l = 0; l < as->n_lines; l++)
		memcpy(before + l * nbk, as->points + l * nb + b0, nbk * sizeof(*before));
	r = scan_range(db, sel, day, p[big].from, a, err, errlen);
	if (r == 0)
		r = scan_range(db, sel, p[big].to, day + ROLLUP_DAY, a, err, errlen);
	if (r == 0)
		r = read_units(db, units, sel->dim, ROLLUP_GRAIN_DAY, day, day + 1, a, lk, n_lk,
			       NULL, p[big].from, err, errlen);
	for (size_t l = 0; r == 0 && l < as->n_lines; l++) {
		struct query_point *line = as->points + l * nb, *to = &line[p[big].bucket];

		for (size_t b = b0; b < b0 + nbk; b++) {
			if (b == p[big].bucket)
				continue;
			to->sent -= line[b].sent - before[l * nbk + b - b0].sent;
			to->received -= line[b].received - before[l * nbk + b - b0].received;
		}
	}
	free(before);
	return r;
}

/* A series by a column of the executable without filters can take the
 * days that bucket edges cut from the executable days (schema 14) rather
 * than from the entries: the lines' executables' blobs of the day give
 * each line's entries with their times, the day's unit by time (its sums
 * per time) gives every bucket's whole, and "other" is that less the
 * lines.  A blob decodes an entry in a few ns where SQLite steps a row in
 * about 375: an unaligned series over a year cuts 60 days, whose smaller
 * pieces were 400,000 entries read as rows. */
struct cut_exes {
	const struct line_key *lk;	/* the lines' executables, by id */
	size_t n_lk;
	sqlite3_stmt *blob;		/* CUT_BLOB_SQL */
};

#define CUT_BLOB_SQL "SELECT data FROM exe_days WHERE day = ?1 AND exe_id = ?2"
/* more executables than this in the lines (a name many paths share): rows */
#define CUT_MAX_EXES 256
/* entries of a blob decoded at a time */
#define CUT_ROWS_CHUNK 64

/* Whether a series' cut days are read as fill_cut_day_exes does: by a
 * column of the executable, without filters, over executable days (no
 * fleet copy), with a few executables in its lines and none of them NULL
 * (whose entries the executable days leave out). */
static bool cut_by_exes(const struct query_db *db, const struct query_select *sel,
			const struct line_key *lk, size_t n_lk)
{
	if (sel->n_filters || db->hosts || db->version < 14 || db->no_exe_days ||
	    db->opt.no_rollups || query_dims[sel->dim].rollup_key != ROLLUP_KEY_EXE ||
	    n_lk > CUT_MAX_EXES)
		return false;
	for (size_t i = 0; i < n_lk; i++)
		if (lk[i].k2)
			return false;
	return true;
}

/* The piece of p[0, n) (in order, filling a day) that holds t, trying k first. */
static size_t piece_of(const struct piece *p, size_t n, size_t k, int64_t t)
{
	if (t >= p[k].from && t < p[k].to)
		return k;
	for (k = 0; k < n - 1 && t >= p[k].to; k++)
		;
	return k;
}

static bool add_point(struct query_point *pt, int64_t sent, int64_t received)
{
	pt->sent = query_add_sat(pt->sent, sent);
	pt->received = query_add_sat(pt->received, received);
	return pt->sent != INT64_MAX && pt->sent != INT64_MIN && pt->received != INT64_MAX &&
	       pt->received != INT64_MIN;
}

/* The sums of a day's unit by time into all[] (by the bucket of each
 * time; no unit: none), or of its unit by executable into each line
 * executable's exe[] (exe: not NULL).  false: a unit that cannot be read,
 * a key that is not of the day or a sum that saturated. */
static bool cut_unit(sqlite3_stmt *units, const struct cut_exes *cx, const struct piece *p,
		     size_t n, struct query_point *all, struct query_point *exe, int *rc)
{
	int64_t day = p[0].from;
	size_t k = 0, i = 0;
	bool ok = true;

	sqlite3_reset(units);
	sqlite3_bind_int(units, 1, ROLLUP_GRAIN_DAY);
	sqlite3_bind_int(units, 2, exe ? ROLLUP_KEY_EXE : ROLLUP_KEY_TIME);
	sqlite3_bind_int64(units, 3, day);
	sqlite3_bind_int64(units, 4, day + 1);
	while (ok && (*rc = sqlite3_step(units)) == SQLITE_ROW) {
		struct rollup_reader rd;
		struct rollup_entries c;
		int m = -1;

		if (rollup_reader_init(&rd, sqlite3_column_blob(units, 1),
				       (size_t)sqlite3_column_bytes(units, 1)))
			while (ok && (m = rollup_next_entries(&rd, &c)) > 0)
				for (int j = 0; ok && j < m; j++) {
					const struct rollup_entry *e = &c.e[j];

					if (exe) {
						/* both sorted by key */
						while (i < cx->n_lk && cx->lk[i].k < e->key)
							i++;
						if (i < cx->n_lk && cx->lk[i].k == e->key && !e->key2)
							ok = add_point(&exe[i], e->sent, e->received);
						continue;
					}
					ok = e->key >= day && e->key - day < ROLLUP_DAY && !e->key2;
					if (!ok)
						break;
					k = piece_of(p, n, k, e->key);
					ok = add_point(&all[p[k].bucket - p[0].bucket], e->sent, e->received);
				}
		ok &= m == 0;
	}
	sqlite3_reset(units);
	return ok;
}

/* The day of pieces p[0, n) (which fill it, in the coverage) as above:
 * 1 done, 0 not this way (nothing was added: read it as rows), or an
 * error.  Not this way: a blob or unit that cannot be read, a sum that
 * saturated, or an executable whose blob does not sum to what the day's
 * unit by executable has for it (an entry whose exe_id is not an integer,
 * which executable days leave out, can be read as that id). */
static int fill_cut_day_exes(struct query_db *db, const struct cut_exes *cx, sqlite3_stmt *units,
			     const struct piece *p, size_t n, struct agg *a, char *err,
			     size_t errlen)
{
	struct agg_series *as = a->series;
	size_t b0 = p[0].bucket, nbk = p[n - 1].bucket - b0 + 1, n_top = as->n_lines - as->other;
	int64_t day = p[0].from;
	/* the day's sums: n_top lines, then every entry's, by bucket; then
	 * each line executable's from its blob and from the unit */
	struct query_point *sum = calloc((n_top + 1) * nbk + 2 * cx->n_lk, sizeof(*sum));
	struct query_point *all = sum + n_top * nbk, *blob_sum = all + nbk, *unit_sum = blob_sum + cx->n_lk;
	uint64_t u[CUT_ROWS_CHUNK * ROLLUP_ROW_VARINTS];
	bool ok;
	size_t k = 0;
	int rc = SQLITE_DONE, r = 0;

	if (!sum)
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	ok = cut_unit(units, cx, p, n, all, NULL, &rc) &&
	     (rc != SQLITE_DONE || cut_unit(units, cx, p, n, all, unit_sum, &rc));
	if (ok && rc != SQLITE_DONE)
		r = query_sqlite_fail(db, rc, "read the rollups", err, errlen);
	/* each line's executables' entries */
	for (size_t i = 0; r == 0 && ok && i < cx->n_lk; i++) {
		struct query_point *line = sum + (size_t)cx->lk[i].line * nbk;

		sqlite3_reset(cx->blob);
		sqlite3_bind_int64(cx->blob, 1, day);
		sqlite3_bind_int64(cx->blob, 2, cx->lk[i].k);
		rc = sqlite3_step(cx->blob);
		if (rc == SQLITE_ROW) {
			const uint8_t *blob = sqlite3_column_blob(cx->blob, 0);
			size_t len = (size_t)sqlite3_column_bytes(cx->blob, 0), got;
			struct rollup_reader rd = { blob, blob + len, 0 };
			struct rollup_row row = { .time = day };
			bool bad;

			ok = len && blob[0] == ROLLUP_ROWS_FORMAT;
			rd.p++;
			do {
				got = ok ? rollup_get_uvarints(&rd, u, CUT_ROWS_CHUNK * ROLLUP_ROW_VARINTS, &bad)
					 : 0;
				ok = ok && !bad && got % ROLLUP_ROW_VARINTS == 0;
				for (size_t v = 0; ok && v < got; v += ROLLUP_ROW_VARINTS) {
					ok = rollup_row_apply(day, &row, u + v) > 0;
					if (!ok)
						break;
					k = piece_of(p, n, k, row.time);
					ok = add_point(&line[p[k].bucket - b0], row.sent, row.received) &&
					     add_point(&blob_sum[i], row.sent, row.received);
				}
			} while (ok && got == CUT_ROWS_CHUNK * ROLLUP_ROW_VARINTS);
		} else if (rc != SQLITE_DONE) {
			r = query_sqlite_fail(db, rc, "read the executable days", err, errlen);
		}
		ok = ok && blob_sum[i].sent == unit_sum[i].sent &&
		     blob_sum[i].received == unit_sum[i].received;
		if (r == 0 && query_check_progress(db))
			r = query_sqlite_fail(db, SQLITE_INTERRUPT, "read the executable days", err,
					      errlen);
	}
	sqlite3_reset(cx->blob);
	/* other: the whole less the lines */
	for (size_t b = 0; r == 0 && ok && as->other && b < nbk; b++) {
		struct query_point o = all[b];

		for (size_t l = 0; ok && l < n_top; l++)
			ok = !__builtin_sub_overflow(o.sent, sum[l * nbk + b].sent, &o.sent) &&
			     !__builtin_sub_overflow(o.received, sum[l * nbk + b].received, &o.received);
		sum[n_top * nbk + b] = o;
	}
	for (size_t l = 0; r == 0 && ok && l < as->n_lines; l++)
		for (size_t b = 0; b < nbk; b++)
			add_point(&as->points[l * as->buckets + b0 + b], sum[l * nbk + b].sent,
				  sum[l * nbk + b].received);
	free(sum);
	return r < 0 ? r : ok;
}

/* The ranges of entries a series' second pass will read (read_pieces with
 * a plan), for helpers to read ahead. */
struct range_plan {
	int64_t (*r)[2];
	size_t n, cap;
	bool oom;
};

/* (a, b) at the end of the plan */
static void plan_push(struct range_plan *pl, int64_t a, int64_t b)
{
	if (pl->oom)
		return;
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? 2 * pl->cap : 64;
		int64_t (*more)[2] = realloc(pl->r, cap * sizeof(*more));

		if (!more) {
			pl->oom = true;
			return;
		}
		pl->r = more;
		pl->cap = cap;
	}
	pl->r[pl->n][0] = a;
	pl->r[pl->n][1] = b;
	pl->n++;
}

static void plan_add(struct range_plan *pl, int64_t from, int64_t to)
{
	if (from < to)
		plan_push(pl, from, to);
}

/* A range of a series' rows: read (plan NULL), or planned. */
static int read_range(struct query_db *db, const struct query_select *sel, int64_t from,
		      int64_t to, struct agg *a, struct range_plan *plan, char *err, size_t errlen)
{
	if (plan) {
		plan_add(plan, from, to);
		return 0;
	}
	return scan_range(db, sel, from, to, a, err, errlen);
}

/* The parts of a series' buckets that are not whole units (pieces, each
 * within a day, in order): each day's pieces as rows, or, for a day they
 * fill, from executable days (cx, fill_cut_day_exes) or as its unit less
 * the rows of all but the largest (fill_cut_day); the rows of adjacent
 * pieces read at once.  With a plan, nothing is read: the ranges of rows
 * that would be are added to it, in the order they would be read, and
 * the (day, executable) of each blob to `blobs`. */
static int read_pieces(struct query_db *db, const struct query_select *sel, sqlite3_stmt *st,
		       const struct piece *pieces, size_t n_pieces, const struct line_key *lk,
		       size_t n_lk, const struct cut_exes *cx, struct agg *a,
		       struct range_plan *plan, struct range_plan *blobs, char *err, size_t errlen)
{
	int r = 0;

	for (size_t i = 0, run_from = 0; r == 0 && i < n_pieces;) {
		int64_t day = rollup_day_start(pieces[i].from);
		size_t j = i + 1, big = i;

		while (j < n_pieces && rollup_day_start(pieces[j].from) == day &&
		       pieces[j].from == pieces[j - 1].to) {
			if (pieces[j].to - pieces[j].from > pieces[big].to - pieces[big].from)
				big = j;
			j++;
		}
		if (j - i >= 2 && pieces[i].from == day && pieces[j - 1].to == day + ROLLUP_DAY &&
		    db->covered && day >= db->cover_from && day + ROLLUP_DAY <= db->cover_until &&
		    (cx || pieces[big].to - pieces[big].from >= COMPLEMENT_MIN)) {
			/* the rows before this day first */
			if (run_from < i)
				r = read_range(db, sel, pieces[run_from].from, pieces[i - 1].to, a, plan,
					       err, errlen);
			if (r == 0 && plan && cx) {
				for (size_t k = 0; k < cx->n_lk; k++)
					plan_push(blobs, day, cx->lk[k].k);
			} else if (r == 0 && plan) {
				/* as fill_cut_day reads them */
				plan_add(plan, day, pieces[big].from);
				plan_add(plan, pieces[big].to, day + ROLLUP_DAY);
			} else if (r == 0) {
				r = cx ? fill_cut_day_exes(db, cx, st, pieces + i, j - i, a, err, errlen)
				       : 0;
				if (r == 0)
					r = fill_cut_day(db, sel, st, pieces + i, j - i, big - i, lk,
							 n_lk, a, err, errlen);
				else if (r > 0)
					r = 0;
			}
			run_from = j;
		} else if (run_from < i && pieces[i].from != pieces[i - 1].to) {
			/* a gap: the rows so far */
			r = read_range(db, sel, pieces[run_from].from, pieces[i - 1].to, a, plan, err,
				       errlen);
			run_from = i;
		}
		i = j;
		if (r == 0 && i == n_pieces && run_from < i)
			r = read_range(db, sel, pieces[run_from].from, pieces[i - 1].to, a, plan, err,
				       errlen);
	}
	return r;
}

/* The buckets of a series' second pass: the whole units of each (day,
 * week, month) are read, and the parts of each that are not whole units,
 * cut at days, collected into *pieces (in order). */
static int walk_buckets(struct query_db *db, const struct query_select *sel,
			const struct agg_series *as, sqlite3_stmt *st, const struct line_key *lk,
			size_t n_lk, struct agg *a, struct piece **pieces, size_t *n_pieces,
			size_t *max_pieces, char *err, size_t errlen)
{
	int64_t to = as->from + as->span;
	int r = 0;

	for (size_t i = 0; r == 0 && i < as->buckets; i++) {
		struct query_window bw = {
			agg_bucket_start(as->from, to, as->buckets, as->align_start, as->align_len, i),
			agg_bucket_start(as->from, to, as->buckets, as->align_start, as->align_len, i + 1),
			true, true
		}, parts[2];
		struct split sp;
		size_t n_parts = 1;

		if (bw.from >= bw.to)
			continue;
		parts[0] = bw;
		if (split_window(db, &bw, &sp)) {
			for (size_t j = 0; r == 0 && j < sp.n_runs; j++)
				r = read_units(db, st, sel->dim, sp.runs[j].grain, sp.runs[j].from,
					       sp.runs[j].to, a, lk, n_lk, NULL, INT64_MIN, err, errlen);
			n_parts = sp.n_rows;
			memcpy(parts, sp.rows, sizeof(parts));
		}
		/* the parts cut at days */
		for (size_t j = 0; r == 0 && j < n_parts; j++) {
			int64_t t = parts[j].from;

			while (t < parts[j].to) {
				int64_t end = rollup_day_start(t) + ROLLUP_DAY;

				if (end > parts[j].to || end <= t)
					end = parts[j].to;
				if (*n_pieces == *max_pieces) {
					struct piece *more = realloc(*pieces, 2 * *max_pieces * sizeof(**pieces));

					if (!more)
						return query_fail(err, errlen, -ENOMEM, "out of memory");
					*pieces = more;
					*max_pieces *= 2;
				}
				(*pieces)[(*n_pieces)++] = (struct piece){ t, end, i };
				t = end;
			}
		}
	}
	return r;
}

/* The second pass of a series over the rollups: each bucket's whole days
 * and months from the units, then the rest of it from the rows
 * (read_pieces), each with helpers reading ahead. */
static int fill_buckets(struct query_db *db, const struct query_select *sel,
			const struct agg_series *as, struct agg *a, char *err, size_t errlen)
{
	int64_t to = as->from + as->span;
	/* a bucket has at most two parts of rows, then cut at days (more
	 * room when a part spans days) */
	size_t max_pieces = 2 * as->buckets + 2;
	struct piece *pieces = malloc(max_pieces * sizeof(*pieces));
	struct line_key *lk = NULL;
	struct prefetch *ahead = NULL, *ahead_rows = NULL, *ahead_blobs = NULL;
	struct cut_exes cx = { 0 };
	char units_sql[128];
	/* what the helpers read of a piece: the entries, by time (as
	 * scan_range does for a series without filters, the case of long
	 * series of unaligned buckets) */
	static const char rows_sql[] = "SELECT sent, received FROM connections WHERE time >= ?1 AND "
				       "time < ?2";
	size_t n_pieces = 0, n_lk = 0;
	sqlite3_stmt *st = NULL;
	int r;

	if (!pieces || agg_line_keys(a, &lk, &n_lk) < 0) {
		free(pieces);
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	}
	/* buckets not made of weeks (a few days each) read day units all
	 * along the window, one after another: helpers read them ahead (the
	 * dimension's number is ours, not a value from outside) */
	snprintf(units_sql, sizeof(units_sql),
		 "SELECT data FROM rollups WHERE grain = %d AND dim = %d AND start >= ?1 AND "
		 "start < ?2",
		 ROLLUP_GRAIN_DAY, query_dims[sel->dim].rollup_key);
	if (as->align_len <= 0 || as->align_len % ROLLUP_WEEK || as->align_start % ROLLUP_WEEK)
		ahead = prefetch_slices_start(db, units_sql, as->from, to);
	r = prepare_units(db, &st, err, errlen);
	if (r == 0)
		r = walk_buckets(db, sel, as, st, lk, n_lk, a, &pieces, &n_pieces, &max_pieces, err,
				 errlen);
	prefetch_stop(ahead);
	if (r == 0 && cut_by_exes(db, sel, lk, n_lk)) {
		int rc = sqlite3_prepare_v2(db->db, CUT_BLOB_SQL, -1, &cx.blob, NULL);

		if (rc != SQLITE_OK)
			r = query_sqlite_fail(db, rc, "read the executable days", err, errlen);
		cx.lk = lk;
		cx.n_lk = n_lk;
	}
	/* then the pieces' entries or blobs, helpers reading them in the
	 * order they are read (without filters: with them, the entries are
	 * read through another index, or from executable days; the two sets
	 * of helpers at once were slower, and so was starting those of the
	 * blobs while the units were read, measured side by side) */
	if (r == 0 && !sel->n_filters) {
		struct range_plan plan = { 0 }, blobs = { 0 };

		read_pieces(db, sel, st, pieces, n_pieces, lk, n_lk, cx.blob ? &cx : NULL, a, &plan,
			    &blobs, err, errlen);
		if (!plan.oom)
			ahead_rows = prefetch_ranges_start(db, rows_sql, plan.r, plan.n);
		if (!blobs.oom)
			ahead_blobs = prefetch_ranges_start(db, CUT_BLOB_SQL, blobs.r, blobs.n);
		free(plan.r);
		free(blobs.r);
	}
	if (r == 0)
		r = read_pieces(db, sel, st, pieces, n_pieces, lk, n_lk, cx.blob ? &cx : NULL, a,
				NULL, NULL, err, errlen);
	prefetch_stop(ahead_rows);
	prefetch_stop(ahead_blobs);
	sqlite3_finalize(cx.blob);
	sqlite3_finalize(st);
	free(lk);
	free(pieces);
	return r;
}

void query_series_free(struct query_series *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_lines; i++) {
		free(s->lines[i].value.text);
		free(s->lines[i].points);
	}
	free(s->lines);
	free(s);
}

/* A filtered series by remote address (or what is made of them) over a
 * long window, when read from the executables' sums (a few executables
 * named, whole days; query_exe.c): its first pass keeps each key's sums
 * only, as totals do, and the second reads the sums again (from the page
 * cache now), walking each part's sorted keys along the top values' keys
 * (add_part).  Keeping every key's buckets in the first pass costs more
 * there: over the year of the busiest executable, 34,000 addresses'
 * buckets allocated, grown and given up (querygen, side by side: 244-317
 * -> 174-203 ms cold, 86-122 -> 60-90 warm).  For fewer keys (domains,
 * executables) or a month the second pass cost more than it saved (30 ->
 * 37 ms warm by domain over the year, 31 -> 50 by address over 30 days). */
#define SUMS_FIRST_SPAN (90 * ROLLUP_DAY)

static int sums_first(struct query_db *db, const struct query_select *sel, struct agg *a,
		      bool *ret, char *err, size_t errlen)
{
	struct exe_days *x = NULL;
	struct split sp;
	int r = 0;

	*ret = false;
	if (query_dims[sel->dim].rollup_key != ROLLUP_KEY_RADDR ||
	    a->series->span < SUMS_FIRST_SPAN)
		return 0;
	if (sel->n_filters && split_window(db, &sel->window, &sp) &&
	    (r = exe_days_prepare(db, sel, false, &x, err, errlen)) == 0 && x)
		*ret = exe_days_sums(db, x, sel->dim, a);
	exe_days_free(x);
	return r;
}

static int series_once(struct query_db *db, const struct query_series_req *req,
		       struct query_series **ret, char *err, size_t errlen)
{
	struct query_select sel = req->sel;
	struct agg a = { 0 };
	struct agg_group *g = NULL;
	struct agg_series as = { 0 };
	struct query_series *s = NULL;
	struct split sp;
	size_t ng = 0, n_top, nb = req->buckets;
	int64_t from = 0, to = 0, align_start = 0, align_len = 0;
	bool rolled = false, reread;
	int r;

	*ret = NULL;
	if ((r = check_select(db, &sel, err, errlen)) < 0)
		return r;
	if (req->top < 1 || req->top > MAX_TOP || req->buckets < 1 || req->buckets > MAX_BUCKETS ||
	    (req->top + 1) * req->buckets > MAX_POINTS)
		return query_fail(err, errlen, -EINVAL,
				  "a series has 1 to %d lines of 1 to %d buckets, %d points at most",
				  MAX_TOP, MAX_BUCKETS, MAX_POINTS);
	r = begin(db, err, errlen);
	if (r == 0)
		r = window_ends(db, &req->sel.window, &from, &to, err, errlen);
	if (r == 0 && req->align && align_buckets(from, to, req->buckets, &align_start, &align_len, &nb) < 0)
		r = query_fail(err, errlen, -ERANGE, "the window is too long to align its buckets");
	if (r == 0) {
		sel.window = (struct query_window){ from, to, true, true };
		as = (struct agg_series){ .from = from, .span = to - from, .align_start = align_start,
					  .align_len = align_len, .buckets = nb, .other = req->other,
					  .max_bytes = MAX_KEY_BYTES };
		if (db->opt.series_key_bytes)
			as.max_bytes = db->opt.series_key_bytes;
		as.all = calloc(nb, sizeof(*as.all));
		if (!as.all)
			r = query_fail(err, errlen, -ENOMEM, "out of memory");
		a.series = &as;
	}
	if (r == 0) {
		/* with rollups, the sums of the window first (from its largest
		 * units), then the buckets of the top values (fill_buckets) */
		rolled = use_rollups(db, &sel, &sp);
		as.no_buckets = rolled;
		if (!rolled)
			r = sums_first(db, &sel, &a, &as.no_buckets, err, errlen);
		if (r == 0)
			r = grouped(db, &sel, &sp, &rolled, &a, true, &g, &ng, err, errlen);
	}
	if (r < 0)
		goto out;
	/* the top values by bytes; each key's entry learns its line */
	n_top = ng < req->top ? ng : req->top;
	agg_groups_sort(g, ng, sel.dim, QUERY_SORT_TOTAL, false, n_top);
	{
		int *line_of = malloc((ng ? ng : 1) * sizeof(*line_of));

		if (!line_of) {
			r = query_fail(err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < ng; i++)
			line_of[g[i].id] = i < n_top ? (int)i : -1;
		for (size_t i = 0; i < a.n; i++)
			a.e[i].line = line_of[a.e[i].line];
		free(line_of);
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->lines = calloc(n_top + 1, sizeof(*s->lines));
	as.n_lines = n_top + req->other;
	as.points = calloc((as.n_lines ? as.n_lines : 1) * nb, sizeof(*as.points));
	if (!s || !s->lines || !as.points) {
		r = query_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	reread = as.no_buckets;
	if (!reread && as.dropped) {
		/* some keys gave up their buckets: the top values' must all
		 * have kept theirs, and "other" is every row less the lines
		 * (exact unless a sum saturated) */
		for (size_t i = 0; i < a.n && !reread; i++)
			reread = a.e[i].line >= 0 && a.e[i].n_pairs == KEY_DROPPED;
		for (size_t b = 0; b < nb && req->other && !reread; b++)
			reread = as.all[b].sent == INT64_MAX || as.all[b].received == INT64_MAX;
	}
	if (!reread) {
		/* each key's buckets into its line */
		for (size_t i = 0; i < a.n; i++) {
			const struct agg_entry *e = &a.e[i];

			if (!e->n_pairs || (e->line < 0 && (!req->other || as.dropped)))
				continue;
			agg_entry_add_points(e, as.points + (e->line < 0 ? n_top : (size_t)e->line) * nb,
					     nb);
		}
		for (size_t b = 0; b < nb && req->other && as.dropped; b++) {
			struct query_point *o = &as.points[n_top * nb + b];

			*o = as.all[b];
			for (size_t l = 0; l < n_top; l++) {
				o->sent -= as.points[l * nb + b].sent;
				o->received -= as.points[l * nb + b].received;
			}
		}
	} else if (ng > 0 && as.n_lines > 0) {
		/* the buckets of a top value were not kept (or the sums came
		 * from the rollups): read the window again, adding to the lines */
		as.second = true;
		r = rolled ? fill_buckets(db, &sel, &as, &a, err, errlen)
			   : scan_window(db, &sel, &sel.window, &a, err, errlen);
		if (r == -EBADMSG && rolled) {
			memset(as.points, 0, as.n_lines * nb * sizeof(*as.points));
			r = scan_window(db, &sel, &sel.window, &a, err, errlen);
		}
		if (r < 0)
			goto out;
	}
	s->how = rolled ? QUERY_SERIES_ROLLUPS : as.second ? QUERY_SERIES_TWO_SCANS : QUERY_SERIES_ONE_SCAN;
	s->dim = sel.dim;
	s->from = from;
	s->to = to;
	s->align_start = align_start;
	s->align_len = align_len;
	s->n_buckets = nb;
	for (size_t i = 0; i < as.n_lines; i++) {
		struct query_line *l = &s->lines[i];

		l->points = malloc(nb * sizeof(*l->points));
		if (!l->points) {
			r = query_fail(err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
		memcpy(l->points, as.points + i * nb, nb * sizeof(*l->points));
		for (size_t b = 0; b < nb; b++) {
			l->sent = query_add_sat(l->sent, l->points[b].sent);
			l->received = query_add_sat(l->received, l->points[b].received);
		}
		if (i < n_top) {
			if (agg_group_text(&g[i]) < 0) {
				s->n_lines = i + 1;
				r = query_fail(err, errlen, -ENOMEM, "out of memory");
				goto out;
			}
			l->value = (struct query_value){ .text = g[i].text, .len = g[i].len,
							 .num = g[i].num };
			g[i].text = NULL;
		} else {
			l->other = true;
			l->value.text = strdup("");
			if (!l->value.text) {
				s->n_lines = i + 1;
				r = query_fail(err, errlen, -ENOMEM, "out of memory");
				goto out;
			}
		}
		s->n_lines = i + 1;
	}
	*ret = s;
	s = NULL;
out:
	end(db);
	query_series_free(s);
	free(as.points);
	free(as.all);
	agg_groups_free(g, ng);
	agg_free(&a);
	return r;
}

/* query_totals_dims (query.h): with the rows of a few executables from
 * their executable days, each read once for every dimension; else each
 * dimension as query_totals. */
static int totals_dims_once(struct query_db *db, const struct query_totals_req *req,
			    const enum query_dim *dims, size_t n, struct query_result **ret,
			    char *err, size_t errlen)
{
	struct query_select sel = req->sel;
	struct agg *aggs = NULL, **ap = NULL;
	struct agg_group *g = NULL;
	struct exe_days *x = NULL;
	struct split sp;
	size_t ng = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		ret[i] = NULL;
	if (!n)
		return 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		sel.dim = dims[i];
		r = check_select(db, &sel, err, errlen);
	}
	if (r < 0)
		return r;
	if ((unsigned int)req->sort > QUERY_SORT_VALUE)
		return query_fail(err, errlen, -EINVAL, "no such sort order");
	r = begin(db, err, errlen);
	if (r == 0 && sel.n_filters && split_window(db, &sel.window, &sp))
		r = exe_days_prepare(db, &sel, false, &x, err, errlen);
	if (r == 0 && !x) {
		end(db);
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct query_totals_req one = *req;

			one.sel.dim = dims[i];
			r = totals_once(db, &one, &ret[i], err, errlen);
		}
		goto out;
	}
	if (r == 0 && (!(aggs = calloc(n, sizeof(*aggs))) || !(ap = calloc(n, sizeof(*ap)))))
		r = query_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < n; i++)
		ap[i] = &aggs[i];
	if (r == 0)
		r = exe_days_scan(db, x, dims, ap, n, sp.runs[0].from, sp.runs[sp.n_runs - 1].to, err,
				  errlen);
	/* the window's edges from the rows, read once for every dimension */
	for (size_t j = 0; r == 0 && j < sp.n_rows; j++) {
		struct query_select part = sel;
		struct plan p;

		part.window = sp.rows[j];
		if ((r = plan_window(db, &part, &p, err, errlen)) == 0)
			r = scan_rows(db, &part, &p, NULL, dims, ap, n, err, errlen);
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		r = agg_resolve(db, &aggs[i], dims[i], err, errlen);
	end(db);
	/* numbers first: their groups take their entries' memory, while a
	 * text's groups are made beside its entries, which is better done
	 * once fewer other entries are held */
	for (size_t k = 0; r == 0 && k < 2 * n; k++) {
		size_t i = k % n;

		if ((k < n) != (query_dims[dims[i]].kind == DK_INT))
			continue;
		if (agg_group(&aggs[i], dims[i], false, &g, &ng) < 0) {
			r = query_fail(err, errlen, -ENOMEM, "out of memory");
			break;
		}
		agg_groups_sort(g, ng, dims[i], req->sort, req->ascending, shown(req->limit, req->offset));
		r = make_result(dims[i], g, ng, req->limit, req->offset, true, &ret[i], err, errlen);
		agg_groups_free(g, ng);
		g = NULL;
		ng = 0;
	}
	for (size_t i = 0; aggs && i < n; i++)
		agg_free(&aggs[i]);
	free(aggs);
	free(ap);
	exe_days_free(x);
out:
	if (r < 0)
		for (size_t i = 0; i < n; i++) {
			query_result_free(ret[i]);
			ret[i] = NULL;
		}
	return r;
}

/* The first (last: the last) entry time that sel keeps, into *t; *found
 * false if none.  Through the index of an executable that an include
 * filter names, in time order, each executable at a time; else in the
 * order of time. */
static int span_end(struct query_db *db, const struct query_select *sel, const struct exe_days *x,
		    bool last, int64_t *t, bool *found, char *err, size_t errlen)
{
	size_t n_exes = 0;
	const int64_t *exes = x ? exe_days_exes(x, &n_exes) : NULL;
	int r = 0;

	*found = false;
	for (size_t i = 0; r == 0 && i < (x ? n_exes : 1); i++) {
		struct qsql q = { 0 };
		sqlite3_stmt *st;
		int rc;

		qsql_add(&q, "SELECT c.time FROM connections c WHERE 1");
		if (x) {
			qsql_add(&q, " AND c.exe_id = ");
			qsql_int(&q, exes[i]);
		}
		qsql_window(&q, &sel->window);
		r = query_add_filters(db, &q, sel, err, errlen);
		qsql_add(&q, last ? " ORDER BY c.time DESC LIMIT 1" : " ORDER BY c.time LIMIT 1");
		if (r == 0)
			r = qsql_prepare(db, &q, &st, "read the entries", err, errlen);
		qsql_free(&q);
		if (r < 0)
			break;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			int64_t v = sqlite3_column_int64(st, 0);

			if (!*found || (last ? v > *t : v < *t))
				*t = v;
			*found = true;
		} else if (rc != SQLITE_DONE) {
			r = query_sqlite_fail(db, rc, "read the entries", err, errlen);
		}
		sqlite3_finalize(st);
	}
	return r;
}

static int span_once(struct query_db *db, const struct query_select *sel, int64_t *first,
		     int64_t *last, char *err, size_t errlen)
{
	struct exe_days *x = NULL;
	bool f1 = false, f2 = false;
	int r;

	if (!db)
		return query_fail(err, errlen, -EINVAL, "no database");
	r = begin(db, err, errlen);
	if (r == 0 && sel->n_filters)
		r = exe_days_prepare(db, sel, true, &x, err, errlen);
	if (r == 0)
		r = span_end(db, sel, x, false, first, &f1, err, errlen);
	if (r == 0)
		r = span_end(db, sel, x, true, last, &f2, err, errlen);
	end(db);
	exe_days_free(x);
	if (r == 0 && (!f1 || !f2))
		r = query_fail(err, errlen, -ENODATA, "no entry in the window matches");
	return r;
}

/* A query once, and again from the rows if an executable day could not be
 * read (an edited file). */
#define WITH_RETRY(db, call)                                                                  \
	({                                                                                    \
		int r_;                                                                       \
		if (db)                                                                       \
			(db)->exe_days_failed = (db)->no_exe_days = false;                    \
		r_ = (call);                                                                  \
		if (r_ == -EBADMSG && (db) && (db)->exe_days_failed) {                        \
			(db)->no_exe_days = true;                                             \
			r_ = (call);                                                          \
		}                                                                             \
		if (db)                                                                       \
			(db)->no_exe_days = false;                                            \
		r_;                                                                           \
	})

int query_totals(struct query_db *db, const struct query_totals_req *req,
		 struct query_result **ret, char *err, size_t errlen)
{
	return WITH_RETRY(db, totals_once(db, req, ret, err, errlen));
}

int query_distinct(struct query_db *db, const struct query_distinct_req *req,
		   struct query_result **ret, char *err, size_t errlen)
{
	return WITH_RETRY(db, distinct_once(db, req, ret, err, errlen));
}

int query_series(struct query_db *db, const struct query_series_req *req,
		 struct query_series **ret, char *err, size_t errlen)
{
	return WITH_RETRY(db, series_once(db, req, ret, err, errlen));
}

int query_totals_dims(struct query_db *db, const struct query_totals_req *req,
		      const enum query_dim *dims, size_t n_dims, struct query_result **ret, char *err,
		      size_t errlen)
{
	return WITH_RETRY(db, totals_dims_once(db, req, dims, n_dims, ret, err, errlen));
}

int query_span(struct query_db *db, const struct query_select *sel, int64_t *first, int64_t *last,
	       char *err, size_t errlen)
{
	return span_once(db, sel, first, last, err, errlen);
}
