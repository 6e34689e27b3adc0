/* Tests of src/storage/import.c (`picosnitch import`): databases built
 * here to the schemas picosnitch 1.x (3) and 2.x (4) wrote, imported twice
 * (the second adds nothing), with exact sums afterwards read through the
 * query layer; hostile rows (wrong types, huge values, long or binary
 * strings, dangling ids) skipped and counted by reason; files that are not
 * of those schemas refused with a message. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "query/query.h"
#include "storage/import.h"
#include "storage/store.h"
#include "tap.h"

static char dir[] = "/tmp/picosnitch-unit.XXXXXX";
static char err[512];

static char *path_of(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static int exec(const char *path, const char *sql)
{
	char *msg = NULL;
	sqlite3 *db;
	int rc;

	sqlite3_open(path, &db);
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		printf("# sql: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

/* The single value of a query, as text. */
static char *q(const char *path, const char *sql)
{
	static char out[4096];
	sqlite3 *db;
	sqlite3_stmt *st;

	out[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return strcpy(out, "(cannot open)");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			snprintf(out, sizeof(out), "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	} else {
		snprintf(out, sizeof(out), "(error: %s)", sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	return out;
}

static int cmp_reason(const void *a, const void *b)
{
	return strcmp(((const struct import_reason *)a)->text, ((const struct import_reason *)b)->text);
}

/* Every reason of a report, "text=rows;" each, sorted by text. */
static char *reasons(const struct import_report *rep)
{
	static char out[4096];
	struct import_reason r[IMPORT_REASONS_MAX];
	size_t o = 0;

	memcpy(r, rep->reasons, sizeof(r));
	qsort(r, rep->n_reasons, sizeof(r[0]), cmp_reason);
	out[0] = '\0';
	for (size_t i = 0; i < rep->n_reasons; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s=%llu;", r[i].text,
				      (unsigned long long)r[i].rows);
	return out;
}

/* Totals per executable through the query layer: "exe sent/received/flows;". */
static char *totals(const char *path)
{
	static char out[4096];
	struct query_totals_req req = { .sel = { QUERY_DIM_EXECUTABLE }, .sort = QUERY_SORT_VALUE,
					.ascending = true };
	struct query_result *res = NULL;
	struct query_db *db;
	size_t o = 0;

	out[0] = '\0';
	if (query_open(path, NULL, &db, err, sizeof(err)) < 0)
		return strcpy(out, "(cannot open)");
	if (query_totals(db, &req, &res, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < res->n_rows; i++)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s %lld/%lld/%lld;",
					      res->rows[i].value.text, (long long)res->rows[i].sent,
					      (long long)res->rows[i].received,
					      (long long)res->rows[i].flows);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "total %lld/%lld", (long long)res->sent,
				      (long long)res->received);
	}
	query_result_free(res);
	query_close(db);
	return out;
}

static const char v3_schema[] =
	"CREATE TABLE connections (contime text, send integer, recv integer, exe text, name text,"
	" cmdline text, sha256 text, pexe text, pname text, pcmdline text, psha256 text,"
	" uid integer, lport integer, rport integer, laddr text, raddr text, domain text);"
	"PRAGMA user_version = 3;";

#define V3_ROW(time, send, recv, exe, name, cmd, uid, lport, rport, raddr, domain)              \
	"INSERT INTO connections VALUES (" time ", " send ", " recv ", " exe ", " name ", " cmd  \
	", 'aaaa', '/usr/bin/bash', 'bash', 'bash -l', 'bbbb', " uid ", " lport ", " rport      \
	", '10.0.0.1', " raddr ", " domain ");"

static const char v3_rows[] =
	/* good rows: one twice (1.x may repeat a row), IPv6, an exec entry,
	 * bytes that are not UTF-8 (escaped) */
	V3_ROW("'2024-01-02 03:04:05'", "100", "200", "'/usr/bin/curl'", "'curl'",
	       "'curl example.com'", "1000", "40000", "443", "'93.184.216.34'", "'com.example'")
	V3_ROW("'2024-01-02 03:04:05'", "100", "200", "'/usr/bin/curl'", "'curl'",
	       "'curl example.com'", "1000", "40000", "443", "'93.184.216.34'", "'com.example'")
	V3_ROW("'2024-01-03 00:00:00'", "50", "60", "'/usr/bin/ssh'", "'ssh'", "'ssh host'", "1000",
	       "40001", "22", "'2001:db8::1'", "''")
	V3_ROW("'2024-01-03 00:00:00'", "0", "0", "'/usr/bin/ssh'", "'ssh'", "'ssh host'", "1000",
	       "-1", "-1", "''", "''")
	V3_ROW("'2024-01-04 12:00:00'", "7", "8", "'/usr/bin/odd'", "'odd'", "CAST(x'41ff42' AS TEXT)",
	       "0", "5353", "5353", "'224.0.0.251'", "NULL")
	/* hostile rows */
	V3_ROW("'2024-01-02 03:04:05'", "'abc'", "1", "'/bin/x'", "'x'", "''", "0", "1", "2", "''", "''")
	V3_ROW("12345", "1", "1", "'/bin/x'", "'x'", "''", "0", "1", "2", "''", "''")
	V3_ROW("'2024-01-02 03:04:05'", "1", "1", "'/' || printf('%.5000c', 'a')", "'x'", "''", "0", "1",
	       "2", "''", "''")
	V3_ROW("'2024-01-02 03:04:05'", "1", "1152921504606846976", "'/bin/x'", "'x'", "''", "0", "1",
	       "2", "''", "''")
	V3_ROW("'2024-01-02 03:04:05'", "1", "1", "'/bin/x'", "'x'", "''", "0", "70000", "2", "''", "''")
	V3_ROW("'2024-01-02 03:04:05'", "1", "1", "'/bin/x'", "x'00ff'", "''", "0", "1", "2", "''", "''")
	V3_ROW("'2024-13-45 99:99:99'", "1", "1", "'/bin/x'", "'x'", "''", "0", "1", "2", "''", "''")
	V3_ROW("'2024-01-02 03:04:05'", "1", "1", "'/bin/x'", "'x'", "''", "-5", "1", "2", "''", "''")
	V3_ROW("'2024-01-02 03:04:05'", "1", "1", "'/bin/x'", "'x'", "''", "0", "1", "2", "''",
	       "CAST(x'610062' AS TEXT)")
	V3_ROW("'2024-01-02 03:04:05'", "-1", "1", "'/bin/x'", "'x'", "''", "0", "1", "2", "''", "''")
	V3_ROW("'2024-01-02 03:04:05'", "1.5", "1", "'/bin/x'", "'x'", "''", "0", "1", "2", "''", "''");

static const char v3_reasons[] =
	"contime: not a time as YYYY-MM-DD HH:MM:SS=1;contime: not a valid date=1;"
	"domain: holds a NUL byte=1;exe: longer than its bound=1;lport: above its range=1;"
	"name: a blob, not text=1;recv: above its range=1;send: below its range=1;"
	"send: not an integer=2;uid: below its range=1;";

static void test_v3(void)
{
	char *src = path_of("v1.db"), *dst = path_of("snitch.db");
	struct import_report rep;
	struct store *s;

	ok(exec(src, v3_schema) == SQLITE_OK && exec(src, v3_rows) == SQLITE_OK,
	   "a 1.x snitch.db (schema 3) with 16 rows is built");
	is_int(store_sqlite_open(dst, &s, err, sizeof(err)), 0, "our snitch.db is opened");
	is_int(import_snitch_db(src, s, &rep, err, sizeof(err)), 0, "it is imported");
	is_int(rep.schema, 3, "  as schema 3");
	is_int(rep.rows, 16, "  16 rows in the file");
	is_int(rep.added, 5, "  5 entries added (the repeated row twice)");
	is_int(rep.present, 0, "  none was there before");
	is_int(rep.skipped, 11, "  11 skipped");
	is_str(reasons(&rep), v3_reasons, "  each for the first problem of its row, counted");
	is_int(rep.sent, 257, "  bytes sent of the rows imported");
	is_int(rep.received, 468, "  bytes received");
	is_int(rep.first, 1704164645, "  the first time (local time read in UTC here)");
	is_int(rep.last, 1704369600, "  the last time");

	is_int(import_snitch_db(src, s, &rep, err, sizeof(err)), 0, "imported a second time");
	is_int(rep.added, 0, "  it adds nothing");
	is_int(rep.present, 5, "  every row is found there");
	is_int(rep.skipped, 11, "  the same 11 are skipped");
	store_close(s);

	is_str(totals(dst),
	       "/usr/bin/curl 200/400/2;/usr/bin/odd 7/8/1;/usr/bin/ssh 50/60/2;total 257/468",
	       "the query layer sums exactly what was imported, once");
	is_str(q(dst, "SELECT count(*) FROM connections"), "5", "5 entries in all");
	is_str(q(dst, "SELECT group_concat(family || '/' || lport || '/' || rport, ',') FROM "
		      "(SELECT family, lport, rport FROM connections ORDER BY id)"),
	       "2/40000/443,2/40000/443,0/-1/-1,10/40001/22,2/5353/5353",
	       "families come from the remote address (exec entries: none), ports as they were");
	is_str(q(dst, "SELECT cmdline FROM executables WHERE name = 'odd'"), "A\\xffB",
	       "bytes that are not UTF-8 are escaped as picosnitch escapes names");
	is_str(q(dst, "SELECT parent_executable || '|' || parent_cmdline || '|' || domain || '|' || "
		      "grandparent_executable FROM connection_log WHERE executable = '/usr/bin/curl' "
		      "LIMIT 1"),
	       "/usr/bin/bash|bash -l|com.example|", "parents and domains are kept; no grandparent");
	free(src);
	free(dst);
}

static const char v4_schema[] =
	"CREATE TABLE executables (id INTEGER PRIMARY KEY, exe TEXT NOT NULL, name TEXT NOT NULL,"
	" cmdline TEXT NOT NULL, sha256 TEXT NOT NULL, UNIQUE (exe, name, cmdline, sha256)) STRICT;"
	"CREATE TABLE domains (id INTEGER PRIMARY KEY, domain TEXT NOT NULL UNIQUE) STRICT;"
	"CREATE TABLE addresses (id INTEGER PRIMARY KEY, addr TEXT NOT NULL UNIQUE) STRICT;"
	"CREATE TABLE connections (contime INTEGER NOT NULL, send INTEGER NOT NULL,"
	" recv INTEGER NOT NULL, events INTEGER NOT NULL, exe_id INTEGER NOT NULL,"
	" pexe_id INTEGER NOT NULL, gpexe_id INTEGER NOT NULL, uid INTEGER NOT NULL,"
	" family INTEGER NOT NULL, protocol INTEGER NOT NULL, lport INTEGER NOT NULL,"
	" rport INTEGER NOT NULL, laddr_id INTEGER NOT NULL, raddr_id INTEGER NOT NULL,"
	" domain_id INTEGER NOT NULL, netns INTEGER NOT NULL) STRICT;"
	"INSERT INTO executables VALUES (0, '', '', '', ''), (1, '/usr/bin/curl', 'curl', 'curl x', 'c1'),"
	" (2, '/usr/bin/bash', 'bash', 'bash', 'b1'), (3, '/usr/lib/systemd/systemd', 'systemd', '', 's1');"
	"INSERT INTO domains VALUES (0, ''), (1, 'www.example.com');"
	"INSERT INTO addresses VALUES (0, ''), (1, '198.51.100.1'), (2, '2001:db8::5');"
	"PRAGMA user_version = 4;";

static const char v4_rows[] =
	"INSERT INTO connections VALUES"
	/* two rows that differ only in events: one entry each in ours */
	" (1700000000, 10, 20, 3, 1, 2, 3, 1000, 2, 6, 5555, 80, 1, 1, 1, 4026531840),"
	" (1700000000, 10, 20, 4, 1, 2, 3, 1000, 2, 6, 5555, 80, 1, 1, 1, 4026531840),"
	" (1700000060, 30, 40, 1, 2, 3, 0, 0, 10, 17, 6000, 53, 2, 2, 0, 4026532000),"
	/* hostile: a dangling executable, a family that does not exist, a
	 * huge netns, a time past the bound */
	" (1700000000, 1, 1, 1, 9, 2, 3, 0, 2, 6, 1, 1, 1, 1, 1, 1),"
	" (1700000000, 1, 1, 1, 1, 2, 3, 0, 99, 6, 1, 1, 1, 1, 1, 1),"
	" (1700000000, 1, 1, 1, 1, 2, 3, 0, 2, 6, 1, 1, 1, 1, 1, 99999999999),"
	" (9999999999999, 1, 1, 1, 1, 2, 3, 0, 2, 6, 1, 1, 1, 1, 1, 1);";

static void test_v4(void)
{
	char *src = path_of("v2.db"), *dst = path_of("snitch2.db");
	struct import_report rep;
	struct store *s;

	ok(exec(src, v4_schema) == SQLITE_OK && exec(src, v4_rows) == SQLITE_OK,
	   "a 2.x snitch.db (schema 4, STRICT tables) with 7 rows is built");
	is_int(store_sqlite_open(dst, &s, err, sizeof(err)), 0, "a new snitch.db is opened");
	is_int(import_snitch_db(src, s, &rep, err, sizeof(err)), 0, "it is imported");
	is_int(rep.schema, 4, "  as schema 4");
	is_int(rep.added, 3, "  3 entries added");
	is_int(rep.skipped, 4, "  4 skipped");
	is_str(reasons(&rep),
	       "contime: above its range=1;exe_id: names no row of its table=1;"
	       "family: not 0, 2 (IPv4), 10 (IPv6) or 17 (packet)=1;netns: above its range=1;",
	       "  each for its reason");
	is_int(import_snitch_db(src, s, &rep, err, sizeof(err)), 0, "imported again");
	is_int(rep.added * 1000 + rep.present, 3, "  nothing added, 3 found");
	store_close(s);
	is_str(totals(dst), "/usr/bin/bash 30/40/1;/usr/bin/curl 20/40/2;total 50/80",
	       "the query layer sums exactly what was imported");
	is_str(q(dst, "SELECT grandparent_executable || '|' || domain || '|' || protocol || '|' || netns "
		      "|| '|' || remote_address FROM connection_log WHERE executable = '/usr/bin/bash'"),
	       "||udp6|4026532000|2001:db8::5",
	       "protocols, namespaces and addresses come along (id 0: empty)");
	is_str(q(dst, "SELECT grandparent_executable || '|' || domain FROM connection_log "
		      "WHERE executable = '/usr/bin/curl' LIMIT 1"),
	       "/usr/lib/systemd/systemd|www.example.com", "grandparents and domains too");
	free(src);
	free(dst);
}

static void refused(const char *name, const char *sql, const char *want)
{
	char *src = path_of(name), *dst = path_of("snitch3.db"), what[128];
	struct import_report rep;
	struct store *s;
	int r;

	if (sql)
		exec(src, sql);
	if (store_sqlite_open(dst, &s, err, sizeof(err)) < 0)
		abort();
	err[0] = '\0';
	r = import_snitch_db(src, s, &rep, err, sizeof(err));
	store_close(s);
	snprintf(what, sizeof(what), "%s: refused with a message", name);
	ok(r < 0 && strstr(err, want), what);
	if (!strstr(err, want))
		printf("#   got '%s'\n#   expected it to contain '%s'\n", err, want);
	free(src);
	free(dst);
}

static void test_refused(void)
{
	char *junk = path_of("junk.db");
	int fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, "not a database, just some text that is long enough\n", 52) != 52)
		abort();
	close(fd);
	refused("junk.db", NULL, "file is not a database");
	refused("missing.db", NULL, "cannot open it");
	refused("v2.db-old", "CREATE TABLE connections (x); PRAGMA user_version = 2",
		"of picosnitch before 1.0");
	refused("ours.db", "CREATE TABLE connections (x); PRAGMA user_version = 14",
		"this picosnitch's own");
	refused("v9.db", "PRAGMA user_version = 9", "picosnitch 1.x wrote 3 and 2.x wrote 4");
	refused("view.db", "CREATE VIEW connections AS SELECT 1; PRAGMA user_version = 3",
		"it has no table connections");
	refused("cols.db", "CREATE TABLE connections (contime text); PRAGMA user_version = 3",
		"it does not have the columns of schema 3");
	refused("big.db",
		"CREATE TABLE connections (contime text, send integer, recv integer, exe text, "
		"name text, cmdline text, sha256 text, pexe text, pname text, pcmdline text, "
		"psha256 text, uid integer, lport integer, rport integer, laddr text, raddr text, "
		"domain text); INSERT INTO connections (exe) VALUES (zeroblob(2000000));"
		"PRAGMA user_version = 3",
		"string or blob too big");
	free(junk);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	setenv("TZ", "UTC", 1);
	tzset();
	test_v3();
	test_v4();
	test_refused();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return tap_done();
}
