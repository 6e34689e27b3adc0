/* Fuzz target: `picosnitch import` of a hostile snitch.db.  The first byte
 * chooses how the file is made:
 *   0  the rest is the file itself (SQLite's own reading of a corrupt
 *      file, then ours);
 *   1  a 1.x file (schema 3) whose rows' values come from the rest;
 *   2  a 2.x file (schema 4) whose executables, addresses, domains and
 *      connections' values come from the rest.
 * Values are read as a type byte (NULL, integer, real, text, blob) and
 * their bytes, so every column gets every type and size.  The import must
 * end with a report or a clear error, twice, and the second must add
 * nothing.  One snitch.db serves every input (made once: making its schema
 * costs more than an import); its entries are deleted after each. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "storage/import.h"
#include "storage/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint8_t byte(struct cursor *c)
{
	if (!c->n)
		return 0;
	c->n--;
	return *c->p++;
}

/* One value from the input, bound to parameter i. */
static void bind_next(sqlite3_stmt *st, int i, struct cursor *c)
{
	uint8_t type = byte(c) % 5, len;
	uint64_t v = 0;
	double d;

	switch (type) {
	case 0:
		sqlite3_bind_null(st, i);
		break;
	case 1:
		len = byte(c) % 9;
		for (int k = 0; k < len; k++)
			v = v << 8 | byte(c);
		/* small numbers are the interesting ones: ids, ports */
		sqlite3_bind_int64(st, i, len <= 1 ? (int64_t)(int8_t)v : (int64_t)v);
		break;
	case 2:
		for (int k = 0; k < 8; k++)
			v = v << 8 | byte(c);
		memcpy(&d, &v, sizeof(d));
		sqlite3_bind_double(st, i, d);
		break;
	default:
		len = byte(c);
		if (len > c->n)
			len = (uint8_t)c->n;
		if (type == 3)
			sqlite3_bind_text(st, i, (const char *)c->p, len, SQLITE_TRANSIENT);
		else
			sqlite3_bind_blob(st, i, c->p, len, SQLITE_TRANSIENT);
		c->p += len;
		c->n -= len;
		break;
	}
}

/* Up to `rows` rows of `cols` values into table. */
static void fill(sqlite3 *db, const char *table, int cols, int rows, struct cursor *c)
{
	char sql[256];
	sqlite3_stmt *st;
	int o;

	o = snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (?", table);
	for (int i = 1; i < cols; i++)
		o += snprintf(sql + o, sizeof(sql) - (size_t)o, ", ?");
	snprintf(sql + o, sizeof(sql) - (size_t)o, ")");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	for (int r = 0; r < rows && c->n; r++) {
		for (int i = 1; i <= cols; i++)
			bind_next(st, i, c);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

static const char v3[] =
	"CREATE TABLE connections (contime text, send integer, recv integer, exe text, name text,"
	" cmdline text, sha256 text, pexe text, pname text, pcmdline text, psha256 text,"
	" uid integer, lport integer, rport integer, laddr text, raddr text, domain text);"
	"PRAGMA user_version = 3;";
/* 2.x's tables without STRICT, so that every type reaches the import */
static const char v4[] =
	"CREATE TABLE executables (id, exe, name, cmdline, sha256);"
	"CREATE TABLE domains (id, domain);"
	"CREATE TABLE addresses (id, addr);"
	"CREATE TABLE connections (contime, send, recv, events, exe_id, pexe_id, gpexe_id, uid,"
	" family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns);"
	"PRAGMA user_version = 4;";

static struct store *dst_store;
static sqlite3 *dst_db;
static char dst[64];

static void remove_dst(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char p[80];

	store_close(dst_store);
	sqlite3_close(dst_db);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", dst, suffix[i]);
		unlink(p);
	}
}

static struct store *open_dst(void)
{
	char err[512];

	if (dst_store)
		return dst_store;
	snprintf(dst, sizeof(dst), "/dev/shm/fuzz-import-dst.%d", (int)getpid());
	if (store_sqlite_open(dst, &dst_store, err, sizeof(err)) < 0 ||
	    sqlite3_open(dst, &dst_db) != SQLITE_OK)
		abort();
	atexit(remove_dst);
	return dst_store;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char src[] = "/dev/shm/fuzz-import-src.XXXXXX", err[512];
	struct cursor c = { data + (size ? 1 : 0), size ? size - 1 : 0 };
	struct import_report rep;
	struct store *s = open_dst();
	sqlite3 *db;
	int fd = mkstemp(src), mode = size ? data[0] % 3 : 0;
	uint64_t added, present;

	if (fd < 0)
		return 0;
	if (mode == 0) {
		if (write(fd, c.p, c.n) != (ssize_t)c.n) {
			close(fd);
			unlink(src);
			return 0;
		}
	}
	close(fd);
	if (mode && sqlite3_open(src, &db) == SQLITE_OK) {
		/* no journal, no syncs: the file is made to be read once */
		sqlite3_exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", NULL, NULL, NULL);
		sqlite3_exec(db, mode == 1 ? v3 : v4, NULL, NULL, NULL);
		if (mode == 1) {
			fill(db, "connections", 17, 8, &c);
		} else {
			fill(db, "executables", 5, 3, &c);
			fill(db, "addresses", 2, 2, &c);
			fill(db, "domains", 2, 2, &c);
			fill(db, "connections", 16, 8, &c);
		}
		sqlite3_close(db);
	}
	if (import_snitch_db(src, s, &rep, err, sizeof(err)) == 0) {
		added = rep.added;
		present = rep.present;
		if (import_snitch_db(src, s, &rep, err, sizeof(err)) != 0 || rep.added != 0 ||
		    rep.present != added + present)
			abort();	/* not idempotent */
	} else if (!err[0]) {
		abort();	/* an error without a message */
	}
	if (sqlite3_exec(dst_db, "DELETE FROM connections", NULL, NULL, NULL) != SQLITE_OK)
		abort();
	unlink(src);
	return 0;
}
