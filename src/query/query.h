/* Read-only queries on snitch.db for the user interfaces (`picosnitch view`
 * and `picosnitch dash`): traffic totals grouped by one dimension, time
 * series of the top values, distinct values for filter pickers, and the
 * time span of the history.  The database is opened read-only and never
 * written; the monitor may write it at the same time (WAL).  No output: every
 * function returns 0 or a negative errno and puts the human detail in the
 * caller's `err` buffer (which may be NULL).  A handle is used by one thread
 * at a time; query_interrupt() may be called from any thread. */
#ifndef PS_QUERY_QUERY_H
#define PS_QUERY_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What rows are grouped or filtered by.  The order and the names are stable:
 * the names are used in URLs, JSON and command lines. */
enum query_dim {
	QUERY_DIM_EXECUTABLE,		/* "executable": path as the process saw it */
	QUERY_DIM_NAME,			/* "name": process name (comm) */
	QUERY_DIM_CMDLINE,		/* "cmdline" */
	QUERY_DIM_SHA256,		/* "sha256" (or a "!..." sentinel) */
	QUERY_DIM_PARENT_EXECUTABLE,	/* "parent_executable" */
	QUERY_DIM_PARENT_NAME,		/* "parent_name" */
	QUERY_DIM_PARENT_CMDLINE,	/* "parent_cmdline" */
	QUERY_DIM_PARENT_SHA256,	/* "parent_sha256" */
	QUERY_DIM_GRANDPARENT_EXECUTABLE, /* "grandparent_executable": "" for rows of schema 10 */
	QUERY_DIM_USER,			/* "user": uid, numeric (-1 unknown) */
	QUERY_DIM_LOCAL_PORT,		/* "local_port", numeric (-1 for exec entries) */
	QUERY_DIM_REMOTE_PORT,		/* "remote_port", numeric */
	QUERY_DIM_LOCAL_ADDRESS,	/* "local_address" */
	QUERY_DIM_REMOTE_ADDRESS,	/* "remote_address" */
	QUERY_DIM_DOMAIN,		/* "domain" ("" when none was seen) */
	QUERY_DIM_COUNTRY,		/* "country" of the remote address: needs country_of */
	QUERY_DIM_PROTOCOL,		/* "protocol": "tcp", "udp6", "ip/253", "packet/0x88b5", ... */
	QUERY_DIM_NETNS,		/* "netns": network namespace inode, numeric */
	QUERY_DIM_TIME,			/* "time": entry time (end of its window), unix seconds */
	QUERY_DIM_ASN,			/* "asn": network owner of the remote address, "AS15169
					 * Google LLC": needs asn_of */
	QUERY_DIM_SERVICE,		/* "service": the process's systemd unit or container
					 * ("nginx.service", "docker:0123456789ab"), "" if none
					 * or before schema 16 */
	QUERY_DIM_DOMAIN_SOURCE,	/* "domain_source": where the domain came from: "dns",
					 * "dns-tcp", "sni", "quic"; "" with no domain */
	QUERY_DIM_HOST,			/* "host": the machine of the entry, only in the fleet
					 * view's copy of the "DB sql server" (a file with the
					 * hosts table, see query_has_hosts); elsewhere
					 * -EOPNOTSUPP */
	QUERY_DIM__COUNT
};

/* The stable name of a dimension; NULL for a value out of range. */
const char *query_dim_name(enum query_dim dim);
/* The dimension of a name (exact, case-sensitive): 0 or -EINVAL. */
int query_dim_from_name(const char *name, enum query_dim *ret);
/* Whether the values of a dimension are integers (sorted as numbers). */
bool query_dim_is_numeric(enum query_dim dim);

struct query_options {
	/* how long to wait when SQLite reports the database busy (WAL recovery
	 * by another process, or a file not in WAL mode being written) before
	 * giving up with -EBUSY; 0: 300 ms */
	unsigned int busy_timeout_ms;
	/* a query running longer than this stops with -ETIMEDOUT; 0: never */
	unsigned int query_timeout_ms;
	/* GeoIP hook for QUERY_DIM_COUNTRY: the country (any text, e.g. "DE";
	 * NULL or "" when unknown) of a remote address as stored (never called
	 * for "", the address of entries without one: their country is "").
	 * It is called from within queries, once or more per distinct address,
	 * must give the same answer each time, and must not call back into
	 * this handle (but query_interrupt).  NULL: the dimension is
	 * unsupported (-EOPNOTSUPP). */
	const char *(*country_of)(void *ctx, const char *address);
	void *country_ctx;
	/* the same for QUERY_DIM_ASN: the network owner of an address */
	const char *(*asn_of)(void *ctx, const char *address);
	void *asn_ctx;
	/* never read the rollups (per-day, -week and -month sums, schema 12+),
	 * only the entries: the same answers, slower (for tests and
	 * measurements) */
	bool no_rollups;
	/* read a filtered executable's whole days from its executable days
	 * (every entry) rather than from its sums per day (schema 18): the
	 * same answers, slower (for tests and measurements) */
	bool no_exe_sums;
	/* read an executable's sums of whole weeks from its days' sums rather
	 * than from its weeks' (schema 20): the same answers, slower (for
	 * tests and measurements) */
	bool no_exe_weeks;
	/* read a long scan of executable days or sums in this thread only,
	 * without helpers reading ahead (query_prefetch.c; for measurements) */
	bool no_prefetch;
	/* have helpers read ahead even in a file too small to be worth them
	 * (query_prefetch.c's PREFETCH_MIN_FILE; for tests of the helpers) */
	bool prefetch_any_size;
	/* the room a series' first scan may take for its keys' buckets before
	 * it reads the window a second time for them; 0: 16 MiB (the dash
	 * takes less; tests take less to make the second scan) */
	size_t series_key_bytes;
};

struct query_db;

/* Open snitch.db read-only.  -ENOENT: no such file; -EBADMSG: not an
 * SQLite database; -EPROTO: a schema version this code does not read (only
 * 10 to 18 but 15 are; older ones are migrated by the monitor); -ENODATA: a
 * database without picosnitch's tables yet; -EBUSY; -EACCES.  `opt` may be
 * NULL. */
int query_open(const char *path, const struct query_options *opt, struct query_db **ret,
	       char *err, size_t errlen);
void query_close(struct query_db *db);
/* PRAGMA user_version of the opened file: 10 to 17, never 15. */
int query_schema_version(const struct query_db *db);
/* Whether the file is a fleet view's copy, whose entries carry their
 * machine (a hosts table and connections.host_id): QUERY_DIM_HOST works,
 * and everything is read from the rows (the rollups have no machine). */
bool query_has_hosts(const struct query_db *db);
/* Make the query running on `db` stop soon with -ECANCELED (no effect
 * when none is running).  Safe to call from another thread. */
void query_interrupt(struct query_db *db);

/* [from, to) in unix seconds; an end that is not set is open.  All zero:
 * all of the history. */
struct query_window {
	int64_t from, to;
	bool has_from, has_to;
};

enum query_filter_mode { QUERY_INCLUDE, QUERY_EXCLUDE };

/* Keep (include) or drop (exclude) the rows whose `dim` has `value`, given
 * as the text results show for it (query_value.text: decimal for numeric
 * dimensions, "tcp6" for a protocol).  Includes on the same dimension are
 * OR-ed, different dimensions AND-ed; excludes are always AND NOT.  Values
 * are always bound parameters, compared on the stored representation.  A
 * numeric dimension's value that is not a decimal integer is -EINVAL; a
 * value no row can have (an unknown protocol) simply matches nothing. */
struct query_filter {
	enum query_dim dim;
	enum query_filter_mode mode;
	const char *value;	/* `len` bytes, need not be NUL-terminated */
	size_t len;
};

/* What every query selects: the dimension, the window and the filters. */
struct query_select {
	enum query_dim dim;
	struct query_window window;
	const struct query_filter *filters;
	size_t n_filters;
};

/* A value of a dimension as read from the database: bytes that may be
 * anything the monitored processes chose (invalid UTF-8, control
 * characters; NUL bytes in a hand-edited file).  `text` has `len` bytes and
 * a NUL after them; `num` is the value of a numeric dimension. */
struct query_value {
	char *text;
	size_t len;
	int64_t num;
};

struct query_row {
	struct query_value value;
	int64_t sent, received, flows;
};

/* Rows of totals or distinct values; freed by query_result_free().  Sums
 * saturate at INT64_MAX rather than overflow (the file may be edited). */
struct query_result {
	enum query_dim dim;
	struct query_row *rows;
	size_t n_rows;
	/* over every group in the window, before limit and offset */
	uint64_t n_groups;
	int64_t sent, received, flows;
};

void query_result_free(struct query_result *res);

enum query_sort {
	QUERY_SORT_TOTAL,	/* sent + received */
	QUERY_SORT_SENT,
	QUERY_SORT_RECEIVED,
	QUERY_SORT_VALUE,	/* bytes of the text, or numbers for numeric dimensions */
};

struct query_totals_req {
	struct query_select sel;
	enum query_sort sort;
	bool ascending;		/* false: largest first (value: last first) */
	size_t limit;		/* 0: all */
	size_t offset;
};

/* sent, received and flows summed per value of sel.dim; ties in the sort
 * key are broken by the value, ascending. */
int query_totals(struct query_db *db, const struct query_totals_req *req,
		 struct query_result **ret, char *err, size_t errlen);

/* query_totals of each of dims[0, n_dims) (req->sel.dim is not used) into
 * ret[i], from one snapshot of the file: the same results, but a drill-down
 * into a few executables reads their entries once for all of them.  On an
 * error every ret[i] is NULL. */
int query_totals_dims(struct query_db *db, const struct query_totals_req *req,
		      const enum query_dim *dims, size_t n_dims, struct query_result **ret, char *err,
		      size_t errlen);

/* The time of the first and the last entry that sel's window and filters
 * keep (sel.dim is not used): -ENODATA if there is none. */
int query_span(struct query_db *db, const struct query_select *sel, int64_t *first, int64_t *last,
	       char *err, size_t errlen);

struct query_distinct_req {
	struct query_select sel;
	size_t limit;		/* 0: all */
	size_t offset;
};

/* The values of sel.dim that rows in the window and matching the filters
 * have, in ascending order (as QUERY_SORT_VALUE); the sums in the result
 * are 0 (without filters, large windows are answered from an index without
 * reading the rows). */
int query_distinct(struct query_db *db, const struct query_distinct_req *req,
		   struct query_result **ret, char *err, size_t errlen);

struct query_point {
	int64_t sent, received;
};

struct query_line {
	struct query_value value;	/* empty for the "other" line */
	bool other;			/* everything outside the top values */
	int64_t sent, received;		/* over the whole window */
	struct query_point *points;	/* n_buckets of them */
};

struct query_series_req {
	struct query_select sel;	/* an open window end is the first entry,
					 * or one second after the last */
	size_t top;			/* lines for the largest values (by sent +
					 * received in the window), 1..1000 */
	size_t buckets;			/* 1..100000 */
	bool other;			/* add a line for everything else */
	/* buckets of a round length that start at multiples of it (UTC), as
	 * charts want them, and which whole days of the rollups fill (much
	 * faster for long windows): the length asked for (the window's length
	 * / buckets) rounded up to 1, 2, 5, 10, 15 or 30 seconds or minutes,
	 * 1, 2, 3, 4, 6, 8 or 12 hours, or a whole number of days, and to at
	 * least a day for windows longer than 7 days.  There may then be one
	 * bucket more than asked for, or fewer. */
	bool align;
};

/* The window [from, to) cut into n_buckets buckets (bucket i starts at
 * query_series_bucket_start(s, i)); an entry falls in the bucket of its
 * time.  Not aligned: buckets of equal length, to the second.  Aligned:
 * bucket i is [align_start + i * align_len, + align_len) cut to the
 * window (the first and the last may be shorter). */
struct query_series {
	enum query_dim dim;
	int64_t from, to;
	int64_t align_start, align_len;	/* 0, 0 when not aligned */
	size_t n_buckets;
	struct query_line *lines;	/* the top values, largest first, then
					 * "other" if asked */
	size_t n_lines;
	/* how the buckets were found, for tests and measurements: from the
	 * rollups, in one scan of the rows, or in two */
	enum { QUERY_SERIES_ROLLUPS, QUERY_SERIES_ONE_SCAN, QUERY_SERIES_TWO_SCANS } how;
};

int query_series(struct query_db *db, const struct query_series_req *req,
		 struct query_series **ret, char *err, size_t errlen);
/* The first second of bucket i (i == n_buckets: the window's end). */
int64_t query_series_bucket_start(const struct query_series *s, size_t i);
void query_series_free(struct query_series *s);

/* The time of the first and the last entry: -ENODATA if there is none. */
int query_bounds(struct query_db *db, int64_t *first, int64_t *last, char *err, size_t errlen);

#endif
