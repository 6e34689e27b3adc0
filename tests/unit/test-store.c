/* Tests of src/storage: the SQLite schema and its view, reopening,
 * migration from the Python picosnitch's schema 3, refusal of files it
 * cannot read (without touching them), symlinks, pruning, and the exact
 * conn.log line format. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

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

static void exec(const char *path, const char *sql)
{
	sqlite3 *db;

	sqlite3_open(path, &db);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
}

static struct conn_row row(int64_t time, uint64_t sent, uint64_t recv, const char *exe)
{
	return (struct conn_row){
		.time = time, .sent = sent, .received = recv, .flows = 2, .exe = exe, .name = "curl",
		.cmdline = "curl -s https://example.com/", .sha256 = "", .pexe = "/usr/bin/bash",
		.pname = "bash", .pcmdline = "bash", .psha256 = "", .gpexe = "/usr/lib/systemd/systemd",
		.gpname = "systemd", .gpcmdline = "/sbin/init", .gpsha256 = "!exited", .uid = 1000, .lport = 40000,
		.rport = 443, .laddr = "198.51.100.1", .raddr = "203.0.113.5", .domain = "",
		.family = 2, .protocol = 6, .netns = 4026531840ULL,
	};
}

static void test_fresh(void)
{
	char *path = path_of("fresh.db");
	struct store *s;
	struct conn_row rows[3] = { row(1700000000, 10, 20, "/usr/bin/curl"),
				    row(1700000000, 1, 2, "/usr/bin/wget"),
				    row(1700000010, 100, 200, "/usr/bin/curl") };

	is_int(store_sqlite_open(path, &s, err, sizeof(err)), 0, "a new snitch.db is created");
	is_int(store_write(s, rows, 3), 0, "rows are written");
	store_close(s);
	is_str(q(path, "PRAGMA user_version"), "11", "the schema version is recorded");
	is_str(q(path, "PRAGMA journal_mode"), "wal", "the database is in WAL mode");
	is_str(q(path, "SELECT group_concat(s, ',') FROM (SELECT sent || '/' || received AS s "
		       "FROM connection_log ORDER BY time, executable)"),
	       "10/20,1/2,100/200", "the view has every row's bytes");
	is_str(q(path, "SELECT executable || '|' || name || '|' || cmdline || '|' || sha256 || '|' || "
		       "parent_executable || '|' || parent_name || '|' || parent_cmdline || '|' || "
		       "uid || '|' || local_port || '|' || remote_port || '|' || local_address || '|' || "
		       "remote_address || '|' || domain || '|' || protocol || '|' || netns || '|' || time || "
		       "'|' || flows || '|' || grandparent_executable || '|' || grandparent_name || '|' || "
		       "grandparent_cmdline || '|' || grandparent_sha256 "
		       "FROM connection_log WHERE executable = '/usr/bin/wget'"),
	       "/usr/bin/wget|curl|curl -s https://example.com/||/usr/bin/bash|bash|bash|1000|40000|443|"
	       "198.51.100.1|203.0.113.5||tcp|4026531840|1700000000|2|/usr/lib/systemd/systemd|systemd|"
	       "/sbin/init|!exited",
	       "the view has every field of a row");
	is_str(q(path, "SELECT count(*) FROM executables"), "4",
	       "executables are stored once (curl twice, wget, bash, systemd)");
	is_str(q(path, "SELECT count(*) FROM addresses"), "2", "addresses are stored once");
	is_str(q(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'connections_%'"),
	       "6", "the connection table is indexed");

	is_int(store_sqlite_open(path, &s, err, sizeof(err)), 0, "an existing snitch.db reopens");
	is_int(store_write(s, rows, 1), 0, "and takes more rows");
	is_int(store_prune(s, 1700000005), 0, "old entries can be pruned");
	store_close(s);
	is_str(q(path, "SELECT count(*) || ' ' || min(time) FROM connections"), "1 1700000010",
	       "pruning removed exactly the entries before the limit");
	free(path);
}

static void test_legacy(void)
{
	char *path = path_of("legacy.db");
	struct store *s;

	exec(path, "CREATE TABLE connections (contime text, send integer, recv integer, exe text, "
		   "name text, cmdline text, sha256 text, pexe text, pname text, pcmdline text, "
		   "psha256 text, uid integer, lport integer, rport integer, laddr text, raddr text, "
		   "domain text);"
		   "INSERT INTO connections VALUES ('2024-01-02 03:04:05', 5, 6, '/usr/bin/curl', "
		   "'curl', 'curl x', 'abc', '/usr/bin/bash', 'bash', 'bash', 'def', 1000, 5000, 443, "
		   "'192.0.2.9', '203.0.113.5', 'com.example');"
		   "INSERT INTO connections VALUES ('2024-01-02 03:04:15', 7, 8, '/usr/bin/curl', "
		   "'curl', 'curl x', 'abc', '/usr/bin/bash', 'bash', 'bash', 'def', 1000, -1, -1, "
		   "'', '', '');"
		   "PRAGMA user_version = 3;");
	is_int(store_sqlite_open(path, &s, err, sizeof(err)), 0,
	       "a Python picosnitch database (schema 3) is migrated");
	store_close(s);
	is_str(q(path, "PRAGMA user_version"), "11", "it now has this schema's version");
	is_str(q(path, "SELECT group_concat(entry_time || ' ' || sent || ' ' || received || ' ' || "
		       "executable || ' ' || sha256 || ' ' || parent_sha256 || ' ' || remote_address || ' ' || "
		       "domain || ' ' || local_port, ';') FROM (SELECT * FROM connection_log ORDER BY time)"),
	       "2024-01-02 03:04:05 5 6 /usr/bin/curl abc def 203.0.113.5 com.example 5000;"
	       "2024-01-02 03:04:15 7 8 /usr/bin/curl abc def   -1",
	       "every old entry is kept with its local time and fields");
	is_str(q(path, "SELECT count(*) FROM sqlite_master WHERE name = 'legacy_connections'"), "0",
	       "the old table is gone");
	free(path);
}

/* A database of this implementation's schema 10 (no grandparent, see
 * tests/fixtures/snitch-v10.sql) gets the grandparent column; old rows
 * show an empty grandparent.  Run from the top of the source tree. */
static void test_v10(void)
{
	char *path = path_of("v10.db"), *sql = NULL;
	struct conn_row r = row(1700000010, 5, 6, "/usr/bin/curl");
	struct store *s;
	FILE *f = fopen("tests/fixtures/snitch-v10.sql", "r");
	size_t cap = 0;

	if (!f || getdelim(&sql, &cap, '\0', f) < 0)
		abort();
	fclose(f);
	exec(path, sql);
	free(sql);
	is_str(q(path, "PRAGMA user_version"), "10", "a database of schema 10");
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "schema 10 is migrated")) {
		printf("#   %s\n", err);
		free(path);
		return;
	}
	is_int(store_write(s, &r, 1), 0, "  and takes rows with a grandparent");
	store_close(s);
	is_str(q(path, "PRAGMA user_version"), "11", "  to schema 11");
	is_str(q(path, "SELECT group_concat(sent || ':' || grandparent_executable, ',') FROM "
		       "(SELECT * FROM connection_log ORDER BY time)"),
	       "3:,5:/usr/lib/systemd/systemd",
	       "  old rows have an empty grandparent, new ones theirs");
	is_str(q(path, "SELECT count(*) FROM sqlite_master WHERE name = 'connections_gparent_time'"),
	       "1", "  and the grandparent is indexed");
	free(path);
}

static void read_all(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size);

	*len = n > 0 ? (size_t)n : 0;
	if (fd >= 0)
		close(fd);
}

static void test_refusals(void)
{
	char *path = path_of("future.db"), *junk = path_of("junk.db"), *link = path_of("link.db");
	static char before[65536], after[65536];
	size_t before_len, after_len;
	struct store *s;
	int fd;

	exec(path, "CREATE TABLE t (x); PRAGMA user_version = 12;");
	read_all(path, before, sizeof(before), &before_len);
	ok(store_sqlite_open(path, &s, err, sizeof(err)) < 0, "a newer schema is refused");
	is_str(err, "snitch.db has schema version 12, newer than this picosnitch (11): refusing to touch it",
	       "  with a message saying so");
	read_all(path, after, sizeof(after), &after_len);
	ok(before_len == after_len && !memcmp(before, after, before_len), "  and the file is untouched");

	fd = open(junk, O_WRONLY | O_CREAT, 0644);
	if (write(fd, "this is not a database, just some text that fills a page\n", 58) != 58)
		abort();
	close(fd);
	ok(store_sqlite_open(junk, &s, err, sizeof(err)) < 0, "a file that is not a database is refused");
	is_str(err, "read the schema version: file is not a database", "  with SQLite's reason");
	{
		char back[128] = { 0 };
		int rfd = open(junk, O_RDONLY);
		struct stat jst;

		if (read(rfd, back, sizeof(back) - 1) < 0)
			abort();
		close(rfd);
		stat(junk, &jst);
		ok(jst.st_size == 58 &&
			   !strcmp(back, "this is not a database, just some text that fills a page\n"),
		   "  and it is left as it was");
	}

	char *target = path_of("target.db");

	exec(target, "CREATE TABLE t (x);");
	free(target);
	if (symlink("target.db", link) < 0)
		abort();
	/* the logger opens it as the directory's owner, after moving planted
	 * links aside (t135): a link is that user's own choice here */
	ok(store_sqlite_open(link, &s, err, sizeof(err)) == 0, "a symlinked snitch.db opens");
	store_close(s);
	free(path);
	free(junk);
	free(link);
}

static void test_csv(void)
{
	struct conn_row r = row(0, 12, 34, "/opt/my,app");
	char *line;

	setenv("TZ", "UTC", 1);
	tzset();
	r.time = 1700000000;
	r.cmdline = "app --x=1,2\nsecond line";
	r.domain = "com.example.www";
	line = conn_row_to_csv(&r);
	is_str(line,
	       "2023-11-14 22:13:20,12,34,/opt/myapp,curl,app --x=12second line,,/usr/bin/bash,bash,"
	       "bash,,1000,40000,443,198.51.100.1,203.0.113.5,com.example.www",
	       "a conn.log line has the 17 fields in order, cleaned of commas and newlines");
	free(line);
	r.lport = r.rport = -1;
	line = conn_row_to_csv(&r);
	ok(line && strstr(line, ",1000,-1,-1,"), "ports of -1 are written as -1");
	free(line);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_fresh();
	test_legacy();
	test_v10();
	test_refusals();
	test_csv();
	return tap_done();
}
