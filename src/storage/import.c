/* `picosnitch import`: a Python picosnitch's snitch.db (schema 3 of 1.x,
 * schema 4 of 2.x) read row by row, each value checked, and merged into
 * ours with store_sqlite_merge, so that importing twice adds nothing.
 *
 * Identical rows of the file are counted (GROUP BY every column) and ours
 * is made to hold as many equal entries: a second import finds them all
 * and adds none, and an import cut short is completed by the next one.
 * The file is opened read-only, with SQLite's defensive settings, and a
 * bound on any value's size; its views and triggers are never used. */
#include "storage/import.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "geo/utf8.h"
#include "util/strutil.h"

#define BATCH_ROWS 2000

struct batch {
	struct conn_row rows[BATCH_ROWS];
	uint64_t copies[BATCH_ROWS];
	char *strings[BATCH_ROWS * 16];
	size_t n, n_strings;
};

struct import {
	sqlite3 *db;
	struct store *dst;
	struct import_report *rep;
	char *err;
	size_t errlen;
	struct batch *b;
	bool bad;			/* the current row failed a check */
	int bad_reason;			/* its index in rep->reasons, or -1 (other) */
	size_t row_strings;		/* b->n_strings when the row began */
};

static int fail(struct import *im, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct import *im, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(im->err, im->errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* SQLite's message about the file, made safe to print (it may quote names
 * from the file). */
static int fail_db(struct import *im, const char *what)
{
	const char *m = sqlite3_errmsg(im->db);
	char *shown = text_from_bytes(m, strlen(m));
	int r = fail(im, -EPROTO, "%s: %s", what, shown ? shown : "?");

	free(shown);
	return r;
}

/* A row skipped: the first reason found is the one counted (in keep()). */
static void reason(struct import *im, const char *column, const char *problem)
{
	struct import_report *rep = im->rep;
	char text[sizeof(rep->reasons[0].text)];

	if (im->bad)
		return;
	im->bad = true;
	snprintf(text, sizeof(text), "%s: %s", column, problem);
	for (size_t i = 0; i < rep->n_reasons; i++) {
		if (!strcmp(rep->reasons[i].text, text)) {
			im->bad_reason = (int)i;
			return;
		}
	}
	if (rep->n_reasons == IMPORT_REASONS_MAX) {
		im->bad_reason = -1;
		return;
	}
	memcpy(rep->reasons[rep->n_reasons].text, text, sizeof(text));
	im->bad_reason = (int)rep->n_reasons++;
}

static void row_begin(struct import *im)
{
	im->bad = false;
	im->row_strings = im->b->n_strings;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* An integer column in [min, max]. */
static int64_t get_int(struct import *im, sqlite3_stmt *st, int col, const char *name, int64_t min,
		       int64_t max)
{
	int64_t v;

	if (sqlite3_column_type(st, col) != SQLITE_INTEGER) {
		reason(im, name, sqlite3_column_type(st, col) == SQLITE_NULL ? "missing (NULL)"
								     : "not an integer");
		return 0;
	}
	v = sqlite3_column_int64(st, col);
	if (v < min || v > max) {
		reason(im, name, v < min ? "below its range" : "above its range");
		return 0;
	}
	return v;
}

/* A text column (NULL reads as "") of at most max bytes, kept in the
 * batch.  Clean UTF-8 is kept as it is; anything else (bytes that are not
 * UTF-8, control characters) is escaped as picosnitch escapes what a
 * process chose (text_from_bytes), so the interfaces never see raw bytes. */
static const char *get_text(struct import *im, sqlite3_stmt *st, int col, const char *name, size_t max)
{
	struct batch *b = im->b;
	int type = sqlite3_column_type(st, col);
	const char *t;
	size_t len;
	char *copy;

	if (type == SQLITE_NULL)
		return "";
	if (type != SQLITE_TEXT) {
		reason(im, name, type == SQLITE_BLOB ? "a blob, not text" : "a number, not text");
		return "";
	}
	t = (const char *)sqlite3_column_text(st, col);
	len = (size_t)sqlite3_column_bytes(st, col);
	if (!t) {
		reason(im, name, "unreadable (out of memory)");
		return "";
	}
	if (len > max) {
		reason(im, name, "longer than its bound");
		return "";
	}
	if (memchr(t, '\0', len)) {
		reason(im, name, "holds a NUL byte");
		return "";
	}
	if (im->bad)
		return "";
	copy = utf8_is_clean(t, len) ? strndup(t, len) : text_from_bytes(t, len);
	if (!copy) {
		reason(im, name, "unreadable (out of memory)");
		return "";
	}
	b->strings[b->n_strings++] = copy;
	return copy;
}

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n_strings; i++)
		free(b->strings[i]);
	b->n = b->n_strings = 0;
}

static int flush(struct import *im)
{
	struct batch *b = im->b;
	int r = 0;

	if (b->n)
		r = store_sqlite_merge(im->dst, b->rows, b->copies, b->n, &im->rep->added,
				       &im->rep->present);
	if (r < 0)
		fail(im, r, "cannot add to snitch.db: %s", im->dst->err);
	batch_clear(b);
	return r;
}

/* Account for a checked row (copies of it) and write the batch when full. */
static int keep(struct import *im, struct conn_row *row, int64_t copies)
{
	struct import_report *rep = im->rep;
	struct batch *b = im->b;

	if (copies < 1)
		copies = 1;
	if (im->bad) {
		/* the group of `copies` equal rows, all skipped; its strings go */
		for (size_t i = im->row_strings; i < b->n_strings; i++)
			free(b->strings[i]);
		b->n_strings = im->row_strings;
		if (im->bad_reason >= 0)
			rep->reasons[im->bad_reason].rows += (uint64_t)copies;
		else
			rep->other_reasons += (uint64_t)copies;
		rep->skipped += (uint64_t)copies;
		return 0;
	}
	b->rows[b->n] = *row;
	b->copies[b->n++] = (uint64_t)copies;
	rep->sent = add_sat(rep->sent, mul_sat(row->sent, (uint64_t)copies));
	rep->received = add_sat(rep->received, mul_sat(row->received, (uint64_t)copies));
	if (row->time < rep->first)
		rep->first = row->time;
	if (row->time > rep->last)
		rep->last = row->time;
	return b->n == BATCH_ROWS ? flush(im) : 0;
}

/* "YYYY-MM-DD HH:MM:SS", as 1.x wrote contime. */
static bool is_contime(const unsigned char *t, int len)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd";

	if (!t || len != (int)sizeof(shape) - 1)
		return false;
	for (int i = 0; i < len; i++) {
		if (shape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != (unsigned char)shape[i])
			return false;
	}
	return true;
}

/* The family 1.x did not record, from the remote address (as snitch.db's
 * own migration from schema 3 does). */
static int legacy_family(const char *raddr)
{
	return strchr(raddr, ':') ? 10 : *raddr ? 2 : 0;
}

/* Grouped by what becomes of a row in ours (NULL text is ""): rows that
 * become equal entries are counted together. */
static const char v3_sql[] =
	"SELECT contime, send, recv, ifnull(exe, ''), ifnull(name, ''), ifnull(cmdline, ''),"
	" ifnull(sha256, ''), ifnull(pexe, ''), ifnull(pname, ''), ifnull(pcmdline, ''),"
	" ifnull(psha256, ''), uid, lport, rport, ifnull(laddr, ''), ifnull(raddr, ''),"
	" ifnull(domain, ''),"
	" CASE WHEN typeof(contime) = 'text' THEN CAST(strftime('%s', contime, 'utc') AS INTEGER) END,"
	" count(*)"
	" FROM connections GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17";

static int import_v3(struct import *im, sqlite3_stmt *st)
{
	struct conn_row row = { .flows = 1, .gpexe = "", .gpname = "", .gpcmdline = "", .gpsha256 = "" };
	bool text = sqlite3_column_type(st, 0) == SQLITE_TEXT;

	row_begin(im);
	if (!text || !is_contime(sqlite3_column_text(st, 0), sqlite3_column_bytes(st, 0)))
		reason(im, "contime", "not a time as YYYY-MM-DD HH:MM:SS");
	else if (sqlite3_column_type(st, 17) != SQLITE_INTEGER)
		reason(im, "contime", "not a valid date");
	else
		row.time = get_int(im, st, 17, "contime", 0, IMPORT_TIME_MAX - 1);
	row.sent = (uint64_t)get_int(im, st, 1, "send", 0, IMPORT_BYTES_MAX);
	row.received = (uint64_t)get_int(im, st, 2, "recv", 0, IMPORT_BYTES_MAX);
	row.exe = get_text(im, st, 3, "exe", IMPORT_PATH_MAX);
	row.name = get_text(im, st, 4, "name", IMPORT_NAME_MAX);
	row.cmdline = get_text(im, st, 5, "cmdline", IMPORT_CMDLINE_MAX);
	row.sha256 = get_text(im, st, 6, "sha256", IMPORT_HASH_MAX);
	row.pexe = get_text(im, st, 7, "pexe", IMPORT_PATH_MAX);
	row.pname = get_text(im, st, 8, "pname", IMPORT_NAME_MAX);
	row.pcmdline = get_text(im, st, 9, "pcmdline", IMPORT_CMDLINE_MAX);
	row.psha256 = get_text(im, st, 10, "psha256", IMPORT_HASH_MAX);
	row.uid = get_int(im, st, 11, "uid", -1, UINT32_MAX);
	row.lport = get_int(im, st, 12, "lport", -1, 65535);
	row.rport = get_int(im, st, 13, "rport", -1, 65535);
	row.laddr = get_text(im, st, 14, "laddr", IMPORT_ADDR_MAX);
	row.raddr = get_text(im, st, 15, "raddr", IMPORT_ADDR_MAX);
	row.domain = get_text(im, st, 16, "domain", IMPORT_DOMAIN_MAX);
	row.family = legacy_family(row.raddr);
	return keep(im, &row, sqlite3_column_int64(st, 18));
}

/* Grouped by what becomes of a row in ours (the ids resolved to their
 * text, `events` left out): rows that become equal entries are counted
 * together, so a second import finds them all.  A scalar subquery reads
 * one row even if a hostile file repeats an id; id 0 without a row is
 * the empty value, as 2.x wrote it. */
#define V4_EXE(col)                                                                          \
	" (SELECT ifnull(exe, '') FROM executables WHERE id = c." col "),"                   \
	" (SELECT ifnull(name, '') FROM executables WHERE id = c." col "),"                  \
	" (SELECT ifnull(cmdline, '') FROM executables WHERE id = c." col "),"               \
	" (SELECT ifnull(sha256, '') FROM executables WHERE id = c." col "),"
#define V4_FOUND(col, table) " (c." col " = 0 OR EXISTS (SELECT 1 FROM " table " WHERE id = c." col ")),"

static const char v4_sql[] =
	"SELECT *, count(*) FROM (SELECT c.contime, c.send, c.recv,"
	V4_EXE("exe_id") V4_EXE("pexe_id") V4_EXE("gpexe_id")
	" c.uid, c.family, c.protocol, c.lport, c.rport,"
	" (SELECT ifnull(addr, '') FROM addresses WHERE id = c.laddr_id),"
	" (SELECT ifnull(addr, '') FROM addresses WHERE id = c.raddr_id),"
	" (SELECT ifnull(domain, '') FROM domains WHERE id = c.domain_id),"
	" c.netns,"
	V4_FOUND("exe_id", "executables") V4_FOUND("pexe_id", "executables")
	V4_FOUND("gpexe_id", "executables") V4_FOUND("laddr_id", "addresses")
	V4_FOUND("raddr_id", "addresses") V4_FOUND("domain_id", "domains")
	" 0 FROM connections c)"
	" GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,"
	" 24, 25, 26, 27, 28, 29, 30";

/* A reference of schema 4 that names no row (column `found` is 0). */
static void v4_found(struct import *im, sqlite3_stmt *st, int found, const char *which)
{
	if (sqlite3_column_type(st, found) != SQLITE_INTEGER || !sqlite3_column_int64(st, found))
		reason(im, which, "names no row of its table");
}

static int import_v4(struct import *im, sqlite3_stmt *st)
{
	struct conn_row row = { .flows = 1 };

	row_begin(im);
	v4_found(im, st, 24, "exe_id");
	v4_found(im, st, 25, "pexe_id");
	v4_found(im, st, 26, "gpexe_id");
	v4_found(im, st, 27, "laddr_id");
	v4_found(im, st, 28, "raddr_id");
	v4_found(im, st, 29, "domain_id");
	row.time = get_int(im, st, 0, "contime", 0, IMPORT_TIME_MAX - 1);
	row.sent = (uint64_t)get_int(im, st, 1, "send", 0, IMPORT_BYTES_MAX);
	row.received = (uint64_t)get_int(im, st, 2, "recv", 0, IMPORT_BYTES_MAX);
	row.exe = get_text(im, st, 3, "exe", IMPORT_PATH_MAX);
	row.name = get_text(im, st, 4, "name", IMPORT_NAME_MAX);
	row.cmdline = get_text(im, st, 5, "cmdline", IMPORT_CMDLINE_MAX);
	row.sha256 = get_text(im, st, 6, "sha256", IMPORT_HASH_MAX);
	row.pexe = get_text(im, st, 7, "parent exe", IMPORT_PATH_MAX);
	row.pname = get_text(im, st, 8, "parent name", IMPORT_NAME_MAX);
	row.pcmdline = get_text(im, st, 9, "parent cmdline", IMPORT_CMDLINE_MAX);
	row.psha256 = get_text(im, st, 10, "parent sha256", IMPORT_HASH_MAX);
	row.gpexe = get_text(im, st, 11, "grandparent exe", IMPORT_PATH_MAX);
	row.gpname = get_text(im, st, 12, "grandparent name", IMPORT_NAME_MAX);
	row.gpcmdline = get_text(im, st, 13, "grandparent cmdline", IMPORT_CMDLINE_MAX);
	row.gpsha256 = get_text(im, st, 14, "grandparent sha256", IMPORT_HASH_MAX);
	row.uid = get_int(im, st, 15, "uid", -1, UINT32_MAX);
	row.family = (int)get_int(im, st, 16, "family", 0, 65535);
	if (!im->bad && row.family != 0 && row.family != 2 && row.family != 10 && row.family != 17)
		reason(im, "family", "not 0, 2 (IPv4), 10 (IPv6) or 17 (packet)");
	row.protocol = (int)get_int(im, st, 17, "protocol", 0, 65535);
	row.lport = get_int(im, st, 18, "lport", -1, 65535);
	row.rport = get_int(im, st, 19, "rport", -1, 65535);
	row.laddr = get_text(im, st, 20, "laddr", IMPORT_ADDR_MAX);
	row.raddr = get_text(im, st, 21, "raddr", IMPORT_ADDR_MAX);
	row.domain = get_text(im, st, 22, "domain", IMPORT_DOMAIN_MAX);
	row.netns = (uint64_t)get_int(im, st, 23, "netns", 0, UINT32_MAX);
	return keep(im, &row, sqlite3_column_int64(st, 31));
}

static int query_int(struct import *im, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(im->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail_db(im, "cannot read it");
	rc = sqlite3_step(st);
	*ret = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail_db(im, "cannot read it");
}

/* Each table the schema reads must be a table (never a view: its SQL is
 * the file's). */
static int check_tables(struct import *im, int schema)
{
	static const char *const v3[] = { "connections", NULL };
	static const char *const v4[] = { "connections", "executables", "addresses", "domains", NULL };

	for (const char *const *t = schema == 3 ? v3 : v4; *t; t++) {
		char sql[160];
		int64_t n;
		int r;

		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", *t);
		if ((r = query_int(im, sql, &n)) < 0)
			return r;
		if (n != 1)
			return fail(im, -EPROTO, "it has no table %s, which schema %d has", *t, schema);
	}
	return 0;
}

static int prepare(struct import *im, sqlite3_stmt **st, const char *sql, int schema)
{
	char what[64];

	snprintf(what, sizeof(what), "it does not have the columns of schema %d", schema);
	return sqlite3_prepare_v2(im->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : fail_db(im, what);
}

static int run(struct import *im)
{
	struct import_report *rep = im->rep;
	sqlite3_stmt *st = NULL;
	int64_t version, rows;
	int r, rc;

	if ((r = query_int(im, "PRAGMA user_version", &version)) < 0)
		return r;
	if (version == 1 || version == 2)
		return fail(im, -EPROTO, "its schema version is %lld, of picosnitch before 1.0: "
			    "open it once with picosnitch 1.0.3 to upgrade it to 3, then import it",
			    (long long)version);
	if (version >= 10 && version <= 99)
		return fail(im, -EPROTO, "its schema version is %lld, this picosnitch's own: "
			    "nothing to import (use the file as snitch.db instead)", (long long)version);
	if (version != 3 && version != 4)
		return fail(im, -EPROTO, "its schema version is %lld; picosnitch 1.x wrote 3 and "
			    "2.x wrote 4, which are the ones imported", (long long)version);
	rep->schema = (int)version;
	if ((r = check_tables(im, rep->schema)) < 0 ||
	    (r = query_int(im, "SELECT count(*) FROM connections", &rows)) < 0)
		return r;
	rep->rows = (uint64_t)rows;
	if ((r = prepare(im, &st, version == 3 ? v3_sql : v4_sql, rep->schema)) < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = version == 3 ? import_v3(im, st) : import_v4(im, st);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = fail_db(im, "cannot read its rows");
	sqlite3_finalize(st);
	if (r == 0)
		r = flush(im);
	return r;
}

int import_snitch_db(const char *src, struct store *dst, struct import_report *rep, char *err,
		     size_t errlen)
{
	struct import im = { .dst = dst, .rep = rep, .err = err, .errlen = errlen };
	int rc, r;

	memset(rep, 0, sizeof(*rep));
	rep->first = INT64_MAX;
	rep->last = INT64_MIN;
	im.b = calloc(1, sizeof(*im.b));
	if (!im.b)
		return fail(&im, -ENOMEM, "out of memory");
	rc = sqlite3_open_v2(src, &im.db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		r = im.db ? fail_db(&im, "cannot open it") : fail(&im, -ENOMEM, "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(im.db, 1);
	sqlite3_db_config(im.db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(im.db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(im.db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_db_config(im.db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(im.db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	/* a value past this is an error of SQLite's, reported, not read */
	sqlite3_limit(im.db, SQLITE_LIMIT_LENGTH, IMPORT_VALUE_MAX);
	sqlite3_busy_timeout(im.db, 2000);
	r = run(&im);
out:
	sqlite3_close(im.db);
	if (im.b)
		batch_clear(im.b);
	free(im.b);
	return r;
}
