/* Tests of src/storage: the SQLite schema and its view, reopening,
 * migration from the Python picosnitch's schema 3, refusal of files it
 * cannot read (without touching them), symlinks, pruning, and the exact
 * conn.log line format. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "storage/rollup.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "tap.h"

/* the current schema's version as text, and the one after it */
#define STR_(x) #x
#define STR(x) STR_(x)
#define VERSION STR(SCHEMA_VERSION)

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
	is_str(q(path, "PRAGMA user_version"), VERSION, "the schema version is recorded");
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
	is_str(q(path, "PRAGMA user_version"), VERSION, "it now has this schema's version");
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
	is_str(q(path, "PRAGMA user_version"), VERSION, "  to schema " VERSION);
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
	char sql[64], want[128];
	int fd;

	snprintf(sql, sizeof(sql), "CREATE TABLE t (x); PRAGMA user_version = %d;", SCHEMA_VERSION + 1);
	snprintf(want, sizeof(want),
		 "snitch.db has schema version %d, newer than this picosnitch (%d): refusing to touch it",
		 SCHEMA_VERSION + 1, SCHEMA_VERSION);
	exec(path, sql);
	read_all(path, before, sizeof(before), &before_len);
	ok(store_sqlite_open(path, &s, err, sizeof(err)) < 0, "a newer schema is refused");
	is_str(err, want, "  with a message saying so");
	read_all(path, after, sizeof(after), &after_len);
	ok(before_len == after_len && !memcmp(before, after, before_len), "  and the file is untouched");

	/* 15 was never released (the domain sources' number before they
	 * became 17) */
	exec(path, "PRAGMA user_version = 15;");
	read_all(path, before, sizeof(before), &before_len);
	ok(store_sqlite_open(path, &s, err, sizeof(err)) < 0, "schema 15 (never released) is refused");
	is_str(err, "snitch.db has schema version 15 which this picosnitch cannot read or migrate; "
		    "move it aside to start a new one",
	       "  with a message saying so");
	read_all(path, after, sizeof(after), &after_len);
	ok(before_len == after_len && !memcmp(before, after, before_len), "  and the file is untouched");

	fd = open(junk, O_WRONLY | O_CREAT, 0644);
	if (write(fd, "this is not a database, just some text that fills a page\n", 58) != 58)
		abort();
	close(fd);
	ok(store_sqlite_open(junk, &s, err, sizeof(err)) < 0, "a file that is not a database is refused");
	ok(strstr(err, "database corrupt: ") && strstr(err, "junk.db is not an SQLite database (58 bytes)"),
	   "  saying it is corrupt, and why");
	is_int(store_sqlite_open(junk, &s, err, sizeof(err)), -EBADMSG,
	   "  as EBADMSG, which the logger moves aside");
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

	{
		/* a file cut short (a full disk, a copy that stopped) */
		char *cut = path_of("cut.db");
		struct conn_row rows[2000];
		struct stat cst;

		for (int i = 0; i < 2000; i++)
			rows[i] = row(1700000000 + i, (uint64_t)i, 1, "/usr/bin/cut-short");
		if (store_sqlite_open(cut, &s, err, sizeof(err)) < 0 || store_write(s, rows, 2000) < 0)
			abort();
		store_close(s);
		stat(cut, &cst);
		if (truncate(cut, cst.st_size / 2) < 0)
			abort();
		is_int(store_sqlite_open(cut, &s, err, sizeof(err)), -EBADMSG,
		       "a database cut to half its length is refused as corrupt");
		ok(strstr(err, "is cut short") != NULL, "  saying it is cut short");
		free(cut);
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

/* The entries of one rollup unit as "key:key2=sent/received/flows,...". */
static const char *unit(const char *path, int grain, int dim, int64_t start)
{
	static char out[4096];
	struct rollup_reader rd;
	struct rollup_entry e;
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t o = 0;

	snprintf(out, sizeof(out), "(none)");
	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (sqlite3_prepare_v2(db, "SELECT data FROM rollups WHERE grain = ? AND dim = ? AND start = ?", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, grain);
		sqlite3_bind_int(st, 2, dim);
		sqlite3_bind_int64(st, 3, start);
		if (sqlite3_step(st) == SQLITE_ROW) {
			out[0] = '\0';
			if (!rollup_reader_init(&rd, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)))
				snprintf(out, sizeof(out), "(bad)");
			while (rollup_next(&rd, &e) > 0 && o < sizeof(out) - 128)
				o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%lld:%lld=%lld/%lld/%lld", o ? "," : "",
						      (long long)e.key, (long long)e.key2, (long long)e.sent,
						      (long long)e.received, (long long)e.flows);
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return out;
}

/* A database of schema 11 with rows gets the rollups (covering nothing),
 * which the logger's steps then build: a day at a time, passing over the
 * days the monitor was off, a month when its end is passed; a row written
 * late into a covered day (the wall clock set back) is summed again; and
 * pruning moves their start.  2023-11-28 is day A. */
#define DAY_A 1701129600LL
#define D 86400LL

static void test_rollups(void)
{
	char *path = path_of("v11.db"), buf[64];
	struct conn_row rows[] = { row(DAY_A + 3600, 10, 20, "/usr/bin/curl"),
				   row(DAY_A + D + 7200, 1, 2, "/usr/bin/curl"),
				   row(DAY_A + D + D - 1, 4, 8, "/usr/bin/wget"),
				   row(DAY_A + 10 * D + 60, 100, 200, "/usr/bin/curl"),
				   row(DAY_A + 12 * D + 10, 1000, 2000, "/usr/bin/curl") },
			late = row(DAY_A + D + 100, 50000, 60000, "/usr/bin/curl");
	struct store *s;
	int steps = 0, r;

	rows[2].uid = 0;
	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0 || store_write(s, rows, 5) < 0)
		abort();
	store_close(s);
	exec(path, "DROP TRIGGER connections_rollup_insert; DROP TRIGGER connections_rollup_delete;"
		   "DROP TRIGGER connections_rollup_update; DROP TABLE rollups; DROP TABLE rollup_state;"
		   "DROP TABLE exe_days; PRAGMA user_version = 11;");
	is_str(q(path, "PRAGMA user_version"), "11", "a database of schema 11 with rows");
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "  is migrated")) {
		printf("#   %s\n", err);
		return;
	}
	is_str(q(path, "PRAGMA user_version"), VERSION, "  to schema " VERSION);
	is_str(q(path, "SELECT count(*) FROM connections"), "5", "  with every row");
	is_str(q(path, "SELECT complete_from || ' ' || complete_until FROM rollup_state"), "0 0",
	       "  and rollups that cover nothing yet");
	is_str(q(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), "3",
	       "  and the triggers that keep them exact");

	/* the wall clock: day A + 12, 01:00 (its row is today's) */
	while ((r = store_rollup(s, DAY_A + 12 * D + 3600)) > 0 && steps < 100)
		steps++;
	is_int(r, 0, "the rollups are brought up to date");
	/* 0 -> A (nothing before), A, A+1, A+2 -> A+10 (off; November ends),
	 * A+10, A+11 -> A+12 (nothing) */
	is_int(steps, 6, "  in six steps: each day with entries, each run of days without");
	snprintf(buf, sizeof(buf), "0 %lld", DAY_A + 12 * D);
	is_str(q(path, "SELECT complete_from || ' ' || complete_until FROM rollup_state"), buf,
	       "  they cover up to the start of today");
	is_str(q(path, "SELECT count(*) FROM rollups WHERE grain = 1"), "36", "  three days of twelve keys");
	is_str(q(path, "SELECT count(*) FROM rollups WHERE grain = 2"), "12", "  and November");
	is_str(unit(path, ROLLUP_GRAIN_DAY, ROLLUP_KEY_UID, DAY_A + D), "0:0=4/8/2,1000:0=1/2/2",
	       "a day's sums per user");
	is_str(unit(path, ROLLUP_GRAIN_DAY, ROLLUP_KEY_TIME, DAY_A + D),
	       "1701223200:0=1/2/2,1701302399:0=4/8/2", "  per entry time (its last second in it)");
	is_str(unit(path, ROLLUP_GRAIN_MONTH, ROLLUP_KEY_UID, 1698796800), "0:0=4/8/2,1000:0=11/22/4",
	       "November's sums per user");
	is_str(unit(path, ROLLUP_GRAIN_MONTH, ROLLUP_KEY_PROTOCOL, 1698796800), "2:6=15/30/6",
	       "  per family and protocol");
	/* weeks start on Thursdays: November 23rd (A and A+1), 30th (none) */
	is_str(q(path, "SELECT group_concat(start) FROM (SELECT DISTINCT start FROM rollups WHERE grain = 3 "
		       "ORDER BY start)"), "1700697600", "the weeks that have ended with entries: from Nov 23rd");
	is_str(q(path, "SELECT count(*) FROM rollups WHERE grain = 3"), "12", "  twelve keys");
	is_str(unit(path, ROLLUP_GRAIN_WEEK, ROLLUP_KEY_UID, 1700697600), "0:0=4/8/2,1000:0=11/22/4",
	       "  the first one's sums per user (days A and A+1)");
	is_str(unit(path, ROLLUP_GRAIN_WEEK, ROLLUP_KEY_TIME, 1701302400), "(none)",
	       "  the next has none");
	is_str(unit(path, ROLLUP_GRAIN_DAY, ROLLUP_KEY_UID, DAY_A + 12 * D), "(none)", "today is not summed");
	is_int(store_rollup(s, DAY_A + 12 * D + 7200), 0, "  nor later today");

	/* the wall clock set back: a row stamped into day A+1 */
	is_int(store_write(s, &late, 1), 0, "a row written with the time of a covered day");
	snprintf(buf, sizeof(buf), "%lld", DAY_A + D + 100);
	is_str(q(path, "SELECT complete_until FROM rollup_state"), buf, "  ends the coverage at its time");
	steps = 0;
	while ((r = store_rollup(s, DAY_A + 12 * D + 3600)) > 0 && steps < 100)
		steps++;
	is_int(steps, 4, "  and the days from there are summed again");
	is_str(unit(path, ROLLUP_GRAIN_DAY, ROLLUP_KEY_UID, DAY_A + D), "0:0=4/8/2,1000:0=50001/60002/4",
	       "  with it");
	is_str(unit(path, ROLLUP_GRAIN_MONTH, ROLLUP_KEY_UID, 1698796800), "0:0=4/8/2,1000:0=50011/60022/6",
	       "  in its month too");

	/* a day of the rollups that is not of their format is summed again */
	exec(path, "UPDATE rollups SET data = X'01FF' WHERE grain = 1 AND dim = 4 AND start = 1701216000");
	exec(path, "UPDATE rollup_state SET complete_until = 1701302400");	/* redo November */
	steps = 0;
	while ((r = store_rollup(s, DAY_A + 12 * D + 3600)) > 0 && steps < 100)
		steps++;
	is_int(r, 0, "a day unit that cannot be read (when its month is summed)");
	is_str(unit(path, ROLLUP_GRAIN_DAY, ROLLUP_KEY_UID, DAY_A + D), "0:0=4/8/2,1000:0=50001/60002/4",
	       "  is built again from its entries");
	is_str(unit(path, ROLLUP_GRAIN_MONTH, ROLLUP_KEY_UID, 1698796800), "0:0=4/8/2,1000:0=50011/60022/6",
	       "  and so is its month");

	/* pruning in the middle of day A+1 */
	is_int(store_prune(s, DAY_A + D + 3600), 0, "pruning entries before A+1 01:00");
	snprintf(buf, sizeof(buf), "%lld %lld", DAY_A + 2 * D, DAY_A + 12 * D);
	is_str(q(path, "SELECT complete_from || ' ' || complete_until FROM rollup_state"), buf,
	       "  the rollups then cover from the next whole day");
	is_str(q(path, "SELECT count(*) FROM rollups WHERE start < 1701302400"), "0",
	       "  the units before (A, A+1, November) are gone");
	is_str(q(path, "SELECT count(*) FROM rollups"), "12", "  A+10's are kept");
	snprintf(buf, sizeof(buf), "%lld", DAY_A + 10 * D);
	is_str(q(path, "SELECT group_concat(DISTINCT day) FROM (SELECT day FROM exe_days UNION ALL "
		       "SELECT day FROM exe_sums)"),
	       buf, "  and so are its executable days and sums, no others");
	is_str(q(path, "SELECT count(*) || ' ' || sum(sent) FROM connections"), "4 1105",
	       "  and the rows from the limit on are kept");
	store_close(s);
	free(path);
}

/* Schema 12 had no week units: its rollups are built again. */
static void test_v12(void)
{
	char *path = path_of("v12.db");
	struct conn_row rows[] = { row(DAY_A + 3600, 10, 20, "/usr/bin/curl"),
				   row(DAY_A + 9 * D, 1, 2, "/usr/bin/curl") };
	struct store *s;
	int steps = 0, r;

	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0 || store_write(s, rows, 2) < 0)
		abort();
	while (store_rollup(s, DAY_A + 20 * D) > 0 && steps < 100)
		steps++;
	store_close(s);
	exec(path, "DELETE FROM rollups WHERE grain = 3; DROP TABLE exe_days; PRAGMA user_version = 12;");
	is_str(q(path, "SELECT count(*) FROM rollups"), "36", "a database of schema 12 with rollups");
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "  is migrated")) {
		printf("#   %s\n", err);
		return;
	}
	is_str(q(path, "PRAGMA user_version"), VERSION, "  to schema " VERSION);
	is_str(q(path, "SELECT count(*) FROM rollups"), "0", "  its rollups go");
	is_str(q(path, "SELECT complete_from || ' ' || complete_until FROM rollup_state"), "0 0",
	       "  and cover nothing");
	steps = 0;
	while ((r = store_rollup(s, DAY_A + 20 * D)) > 0 && steps < 100)
		steps++;
	is_int(r, 0, "  until the logger builds them again");
	is_str(q(path, "SELECT count(*) FROM rollups WHERE grain = 3"), "24", "  with their weeks");
	is_str(q(path, "SELECT count(*) FROM connections"), "2", "  and every row is kept");
	store_close(s);
	free(path);
}

/* The entries of one executable day as "time,parent,gp,uid,...;..." */
static const char *exe_day(const char *path, const char *exe, int64_t day)
{
	static char out[4096];
	char sql[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t o = 0;

	snprintf(out, sizeof(out), "(none)");
	snprintf(sql, sizeof(sql), "SELECT data FROM exe_days WHERE day = %lld AND exe_id = "
		 "(SELECT id FROM executables WHERE path = '%s')", (long long)day, exe);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return out;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const uint8_t *b = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		struct rollup_reader rd = { b, b + len, 0 };
		struct rollup_row r = { .time = day };
		int n = 0;

		o = (size_t)snprintf(out, sizeof(out), "%d:", len ? b[0] : -1);
		rd.p += len > 0;
		while (len && b[0] == ROLLUP_ROWS_FORMAT && o < sizeof(out) - 256 &&
		       (n = rollup_next_row(&rd, day, &r)) > 0)
			o += (size_t)snprintf(out + o, sizeof(out) - o,
					      "%s%lld,%lld,%lld%s,%lld,%lld/%lld,%lld,%lld,%lld,%lld,%lld,%lld=%lld/%lld/%lld",
					      out[o - 1] == ':' ? "" : ";", (long long)(r.time - day),
					      (long long)r.parent, (long long)r.gp, r.gp_null ? "(null)" : "",
					      (long long)r.uid,
					      (long long)r.family, (long long)r.protocol, (long long)r.lport,
					      (long long)r.rport, (long long)r.laddr, (long long)r.raddr,
					      (long long)r.domain, (long long)r.netns, (long long)r.sent, (long long)r.received,
					      (long long)r.flows);
		if (n < 0)
			snprintf(out + o, sizeof(out) - o, " (malformed)");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* Schema 13 had no executable days: its rollups are built again with
 * them; each holds the entries of one executable in one day. */
static void test_v13(void)
{
	char *path = path_of("v13.db");
	struct conn_row rows[] = { row(DAY_A + 3600, 10, 20, "/usr/bin/curl"),
				   row(DAY_A + 7200, 1, 2, "/usr/bin/wget"),
				   row(DAY_A + 7260, 3, 4, "/usr/bin/curl"),
				   row(DAY_A + 9 * D, 1, 2, "/usr/bin/curl") };
	struct store *s;
	int steps = 0, r;

	rows[2].uid = 0;
	rows[2].rport = 53;
	rows[2].family = 10;
	rows[2].protocol = 17;
	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0 || store_write(s, rows, 4) < 0)
		abort();
	while (store_rollup(s, DAY_A + 20 * D) > 0 && steps < 100)
		steps++;
	store_close(s);
	exec(path, "DROP TABLE exe_days; PRAGMA user_version = 13;");
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "a database of schema 13 is migrated")) {
		printf("#   %s\n", err);
		free(path);
		return;
	}
	is_str(q(path, "PRAGMA user_version"), VERSION, "  to schema " VERSION);
	is_str(q(path, "SELECT complete_from || ' ' || complete_until FROM rollup_state"), "0 0",
	       "  its rollups cover nothing");
	is_str(q(path, "SELECT count(*) FROM exe_days"), "0", "  and it has no executable days yet");
	steps = 0;
	while ((r = store_rollup(s, DAY_A + 20 * D)) > 0 && steps < 100)
		steps++;
	is_int(r, 0, "  until the logger builds them");
	is_str(q(path, "SELECT count(*) FROM exe_days"), "3", "  one per executable and day with entries");
	is_str(exe_day(path, "/usr/bin/curl", DAY_A), "2:3600,2,3,1000,2/6,40000,443,1,2,1,4026531840=10/20/2;"
	       "7260,2,3,0,10/17,40000,53,1,2,1,4026531840=3/4/2", "  its entries, in the order written");
	is_str(exe_day(path, "/usr/bin/wget", DAY_A), "2:7200,2,3,1000,2/6,40000,443,1,2,1,4026531840=1/2/2",
	       "  another executable's");
	is_str(exe_day(path, "/usr/bin/curl", DAY_A + 9 * D), "2:0,2,3,1000,2/6,40000,443,1,2,1,4026531840=1/2/2",
	       "  another day's");
	is_str(q(path, "SELECT count(*) FROM connections"), "4", "  and every row is kept");
	exec(path, "UPDATE connections SET grandparent_id = NULL WHERE sent = 3");
	exec(path, "UPDATE rollup_state SET complete_until = 0");
	while ((r = store_rollup(s, DAY_A + 20 * D)) > 0 && steps < 200)
		steps++;
	ok(strstr(exe_day(path, "/usr/bin/curl", DAY_A), ";7260,2,3(null),0,") != NULL,
	   "  a NULL grandparent is kept as such");
	exec(path, "UPDATE connections SET uid = 'x' WHERE sent = 3");
	exec(path, "UPDATE rollup_state SET complete_until = 0");
	while ((r = store_rollup(s, DAY_A + 20 * D)) > 0 && steps < 300)
		steps++;
	is_str(exe_day(path, "/usr/bin/curl", DAY_A), "3:", "  a column that is not a number: read the entries");
	is_int(store_prune(s, DAY_A + D), 0, "pruning entries before day A + 1");
	is_str(q(path, "SELECT count(*) FROM exe_days"), "1", "  takes their executable days");
	is_str(q(path, "SELECT count(*) FROM exe_sums WHERE day < (SELECT complete_from FROM "
		       "rollup_state)"),
	       "0", "  and their sums");
	store_close(s);
	free(path);
}

/* Services (schema 16): one executables row per identity and service,
 * the view's column; a file of schema 14 (every row without a service,
 * rollups and executable days built) migrated with the same ids and its
 * rollups' coverage kept (docs/schema.md). */
static void test_services(void)
{
	char *path = path_of("services.db");
	struct store *s;
	struct conn_row rows[3] = { row(1700000000, 10, 20, "/usr/bin/curl"),
				    row(1700000000, 1, 2, "/usr/bin/wget"),
				    row(1700086400, 100, 200, "/usr/bin/curl") };
	char before[256];
	int steps = 0;

	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0 || store_write(s, rows, 3) < 0)
		abort();
	while (store_rollup(s, 1700000000 + 10 * 86400) > 0 && steps < 100)
		steps++;
	store_close(s);
	/* the file as schema 14 wrote it */
	exec(path, "DROP VIEW connection_log;"
		   "CREATE TABLE e14 (id INTEGER PRIMARY KEY, path TEXT NOT NULL, name TEXT NOT NULL,"
		   "  cmdline TEXT NOT NULL, sha256 TEXT NOT NULL, UNIQUE (path, name, cmdline, sha256));"
		   "INSERT INTO e14 SELECT id, path, name, cmdline, sha256 FROM executables;"
		   "DROP TABLE executables; ALTER TABLE e14 RENAME TO executables;"
		   "CREATE TABLE d14 (id INTEGER PRIMARY KEY, domain TEXT NOT NULL UNIQUE);"
		   "INSERT INTO d14 SELECT id, domain FROM domains;"
		   "DROP TABLE domains; ALTER TABLE d14 RENAME TO domains;"
		   "CREATE VIEW connection_log AS SELECT 1 AS x;"
		   "PRAGMA user_version = 14;");
	snprintf(before, sizeof(before), "%s",
		 q(path, "SELECT group_concat(id || '=' || path, ',') FROM executables"));
	is_str(q(path, "SELECT count(*) FROM pragma_table_info('executables') WHERE name = 'service'"),
	       "0", "a file of schema 14: executables without services");
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "  is migrated")) {
		printf("#   %s\n", err);
		return;
	}
	is_str(q(path, "PRAGMA user_version"), VERSION, "  to schema " VERSION);
	is_str(q(path, "SELECT group_concat(id || '=' || path, ',') FROM executables"), before,
	       "  every executable keeps its id");
	is_str(q(path, "SELECT count(*) FROM executables WHERE service = ''"),
	       q(path, "SELECT count(*) FROM executables"), "  with no service");
	is_str(q(path, "SELECT complete_from || ' ' || complete_until FROM rollup_state"),
	       "0 0", "  the rollups cover nothing until the executables' sums are built (18)");
	is_str(q(path, "SELECT count(*) FROM exe_days"), "3", "  the executable days are kept");
	is_str(q(path, "SELECT group_concat(service || ':' || domain_source || ':' || sent, ',') "
		       "FROM connection_log"),
	       "::10,::1,::100", "  the view has the service's and the domain source's columns");
	is_str(q(path, "PRAGMA foreign_key_check"), "", "  no reference is broken");

	rows[0].service = "nginx.service";
	rows[0].pservice = "user@1000.service/app.service";
	rows[0].time = 1700900000;
	is_int(store_write(s, rows, 1), 0, "a row with services is written");
	store_close(s);
	is_str(q(path, "SELECT service || '|' || parent_executable || '|' || sent FROM connection_log "
		       "WHERE time = 1700900000"),
	       "nginx.service|/usr/bin/bash|10", "  the view says its service");
	is_str(q(path, "SELECT group_concat(service, ',') FROM (SELECT service FROM executables "
		       "WHERE path IN ('/usr/bin/curl', '/usr/bin/bash') ORDER BY path, service)"),
	       ",user@1000.service/app.service,,nginx.service",
	       "  the same identity with another service is a row of its own");
	free(path);
}

/* Open path (of an older schema) and check that it is now 21 with no
 * executables' sums and the rollups' coverage emptied, its 4 executable
 * days kept; false (the store not open) if it did not open. */
static bool sums_migrated(const char *path, struct store **s, const char *opened,
			  const char *emptied)
{
	if (!ok(store_sqlite_open(path, s, err, sizeof(err)) == 0, opened)) {
		printf("#   %s\n", err);
		return false;
	}
	is_str(q(path, "PRAGMA user_version"), VERSION, "  to schema " VERSION);
	is_str(q(path, "SELECT complete_from || ' ' || complete_until || ' ' || "
		       "(SELECT count(*) FROM exe_sums) || ' ' || (SELECT count(*) FROM exe_days) "
		       "FROM rollup_state"),
	       "0 0 0 4", emptied);
	return true;
}

/* Bring the rollups of the open store s up to 10 days after 1700000000
 * and close it. */
static void roll_and_close(struct store *s)
{
	int steps = 0;

	while (store_rollup(s, 1700000000 + 10 * 86400) > 0 && steps < 100)
		steps++;
	store_close(s);
}

/* The rows of exe_sums as "executable@day:dim", in order. */
static const char *sums_rows(const char *path)
{
	return q(path, "SELECT group_concat(e.path || '@' || s.day || ':' || s.dim, ',') FROM (SELECT * "
		       "FROM exe_sums ORDER BY day, exe_id, dim) s JOIN executables e ON e.id = s.exe_id");
}

/* The id of a domain's name (from any source). */
static int64_t domain_id(const char *path, const char *name)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT min(id) FROM domains WHERE domain = '%s'", name);
	return strtoll(q(path, sql), NULL, 10);
}

/* The executables' sums (schema 18, split in 19): a file of 17 gets the
 * table, one of 18 gets it again split, its coverage emptied
 * (docs/schema.md), and the logger builds the sums with the executable
 * days; each part holds the day's sums of its key, a long one in a row of
 * its own. */
static void test_exe_sums(void)
{
	char *path = path_of("exe-sums.db");
	struct store *s;
	struct conn_row rows[64] = { row(1700000000, 10, 20, "/usr/bin/curl"),
				     row(1700000060, 1, 2, "/usr/bin/wget"),
				     row(1700000120, 100, 200, "/usr/bin/curl"),
				     row(1700086400, 5, 6, "/usr/bin/curl") };
	const uint8_t *part;
	size_t part_len;
	struct rollup_reader rd;
	struct rollup_entry e;
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t curl, wget, raddr_id;
	int n;

	/* curl's first day: one remote address under two domains */
	rows[2].domain = "example.com";
	/* wget's second day: 60 entries, 60 times (a long part), one user */
	for (int i = 4; i < 64; i++)
		rows[i] = row(1700086400 + 60 * (i - 4), 1000 + i, 1, "/usr/bin/wget");
	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0 || store_write(s, rows, 64) < 0)
		abort();
	roll_and_close(s);
	exec(path, "DROP TABLE exe_sums; PRAGMA user_version = 17;");
	if (!sums_migrated(path, &s, "a file of schema 17 is migrated",
			   "  with no sums, and the rollups' coverage emptied"))
		return;
	store_close(s);
	/* schema 18's sums: a row per day, unsplit */
	exec(path, "DROP TABLE exe_sums; CREATE TABLE exe_sums (exe_id INTEGER NOT NULL, day INTEGER "
		   "NOT NULL, data BLOB NOT NULL, PRIMARY KEY (exe_id, day));"
		   "INSERT INTO exe_sums VALUES (1, 1699920000, X'04');"
		   "UPDATE rollup_state SET complete_until = 1700179200; PRAGMA user_version = 18;");
	if (!sums_migrated(path, &s, "a file of schema 18 is migrated",
			   "  its sums made again (none), and the rollups' coverage emptied"))
		return;
	roll_and_close(s);
	is_str(sums_rows(path),
	       "/usr/bin/curl@1699488000:16,/usr/bin/wget@1699488000:16,/usr/bin/wget@1699488000:28,"
	       "/usr/bin/curl@1699920000:0,/usr/bin/wget@1699920000:0,/usr/bin/curl@1700006400:0,"
	       "/usr/bin/wget@1700006400:0,/usr/bin/wget@1700006400:12",
	       "  built again: a row per executable and day with entries, and one for a long part; "
	       "the same for the week that holds both days, at its start (schema 20)");
	/* curl's first day: time has two keys, the user one */
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT data FROM exe_sums WHERE day = 1699920000 AND dim = 0 AND "
			       "exe_id = (SELECT id FROM executables WHERE path = '/usr/bin/curl')", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		abort();
	ok(rollup_sums_part(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			    ROLLUP_KEY_TIME, &part, &part_len) &&
		   rollup_reader_init(&rd, part, part_len) && rollup_next(&rd, &e) == 1 &&
		   e.key == 1700000000 && e.sent == 10 && e.received == 20 && e.flows == 2 &&
		   rollup_next(&rd, &e) == 1 && e.key == 1700000120 && e.sent == 100 &&
		   rollup_next(&rd, &e) == 0,
	   "  the sums by time: each entry's time and sums");
	ok(rollup_sums_part(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			    ROLLUP_KEY_EXE, &part, &part_len) &&
		   rollup_reader_init(&rd, part, part_len) && rollup_next(&rd, &e) == 1 &&
		   e.sent == 110 && e.received == 220 && e.flows == 4 && rollup_next(&rd, &e) == 0,
	   "  by executable: one key, the day's sums");
	raddr_id = strtoll(q(path, "SELECT id FROM addresses WHERE address = '203.0.113.5'"), NULL, 10);
	ok(raddr_id > 0 &&
		   rollup_sums_part(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
				    ROLLUP_KEY_RADDR, &part, &part_len) &&
		   rollup_reader_init(&rd, part, part_len) && rollup_next(&rd, &e) == 1 &&
		   e.key == raddr_id && e.key2 == domain_id(path, "") && e.sent == 10 &&
		   rollup_next(&rd, &e) == 1 && e.key == raddr_id &&
		   e.key2 == domain_id(path, "example.com") && e.sent == 100 && e.received == 200 &&
		   rollup_next(&rd, &e) == 0,
	   "  by remote address: per address and domain, the domain's id the second key (schema 21)");
	ok(!rollup_sums_part(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0) - 1,
			     ROLLUP_KEY_TIME, &part, &part_len),
	   "  a blob cut short is refused");
	sqlite3_finalize(st);
	/* wget's second day: the times in their own row, the user in the day's */
	if (sqlite3_prepare_v2(db, "SELECT data FROM exe_sums WHERE day = 1700006400 AND exe_id = "
			       "(SELECT id FROM executables WHERE path = '/usr/bin/wget') ORDER BY dim",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		abort();
	ok(rollup_sums_part(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			    ROLLUP_KEY_TIME, &part, &part_len) && part_len == 0,
	   "  a long part has length 0 in the day's row");
	ok(rollup_sums_part(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			    ROLLUP_KEY_UID, &part, &part_len) &&
		   rollup_reader_init(&rd, part, part_len) && rollup_next(&rd, &e) == 1 &&
		   e.key == 1000 && e.sent == 60 * 1000 + (4 + 63) * 60 / 2 && e.received == 60 &&
		   e.flows == 120 && rollup_next(&rd, &e) == 0,
	   "  a short one is there: the user, the sums of the 60 entries");
	ok(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) > ROLLUP_SUMS_INLINE_MAX &&
		   rollup_reader_init(&rd, sqlite3_column_blob(st, 0),
				      (size_t)sqlite3_column_bytes(st, 0)),
	   "  the next row is the long part, a unit's blob");
	n = 0;
	while (rollup_next(&rd, &e) == 1 && e.key == 1700086400 + 60 * n && e.sent == 1004 + n)
		n++;
	is_int(n, 60, "  of the 60 times, each with its entry's sums");
	sqlite3_finalize(st);
	/* the week: curl's in its row (three times, two users' days summed),
	 * wget's times (1 + 60) in a row of their own */
	if (sqlite3_prepare_v2(db, "SELECT dim, data FROM exe_sums WHERE day = 1699488000 AND exe_id = "
			       "?1 ORDER BY dim", -1, &st, NULL) != SQLITE_OK)
		abort();
	curl = atoll(q(path, "SELECT id FROM executables WHERE path = '/usr/bin/curl'"));
	wget = atoll(q(path, "SELECT id FROM executables WHERE path = '/usr/bin/wget'"));
	sqlite3_bind_int64(st, 1, curl);
	ok(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == ROLLUP_SUMS_WEEK &&
		   rollup_sums_part(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
				    ROLLUP_KEY_TIME, &part, &part_len) &&
		   rollup_reader_init(&rd, part, part_len) && rollup_next(&rd, &e) == 1 &&
		   e.key == 1700000000 && e.sent == 10 && e.received == 20 && rollup_next(&rd, &e) == 1 &&
		   e.key == 1700000120 && e.sent == 100 && e.received == 200 &&
		   rollup_next(&rd, &e) == 1 && e.key == 1700086400 && e.sent == 5 && e.received == 6 &&
		   rollup_next(&rd, &e) == 0,
	   "  curl's week: its three times with their sums");
	ok(rollup_sums_part(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
			    ROLLUP_KEY_EXE, &part, &part_len) &&
		   rollup_reader_init(&rd, part, part_len) && rollup_next(&rd, &e) == 1 &&
		   e.key == curl && e.sent == 115 && e.received == 226 && e.flows == 6 &&
		   rollup_next(&rd, &e) == 0,
	   "  and by executable the sum of its two days");
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, wget);
	ok(sqlite3_step(st) == SQLITE_ROW &&
		   rollup_sums_part(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
				    ROLLUP_KEY_TIME, &part, &part_len) && part_len == 0 &&
		   rollup_sums_part(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
				    ROLLUP_KEY_UID, &part, &part_len) &&
		   rollup_reader_init(&rd, part, part_len) && rollup_next(&rd, &e) == 1 &&
		   e.key == 1000 && e.sent == 1 + 60 * 1000 + (4 + 63) * 60 / 2 && e.received == 62 &&
		   rollup_next(&rd, &e) == 0,
	   "  wget's week: by user the sum of its 61 entries; its times are long");
	ok(sqlite3_step(st) == SQLITE_ROW &&
		   sqlite3_column_int(st, 0) == ROLLUP_SUMS_WEEK + ROLLUP_KEY_TIME &&
		   rollup_reader_init(&rd, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)) &&
		   rollup_next(&rd, &e) == 1 && e.key == 1700000060 && e.sent == 1,
	   "  in the next row, the first day's time first");
	n = 0;
	while (rollup_next(&rd, &e) == 1 && e.key == 1700086400 + 60 * n && e.sent == 1004 + n)
		n++;
	is_int(n, 60, "  then the second day's 60");
	ok(sqlite3_step(st) == SQLITE_DONE, "  and no other row");
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* wget's entries of the second day deleted (the trigger takes the
	 * coverage back to them): summed again, the day has none of its rows,
	 * the long part's too, and curl's are written again */
	exec(path, "DELETE FROM connections WHERE time >= 1700006400 AND exe_id = "
		   "(SELECT id FROM executables WHERE path = '/usr/bin/wget')");
	is_str(q(path, "SELECT complete_until FROM rollup_state"), "1700086400",
	       "an executable's entries of a covered day deleted: the coverage goes back to them");
	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0)
		abort();
	roll_and_close(s);
	is_str(sums_rows(path),
	       "/usr/bin/curl@1699488000:16,/usr/bin/wget@1699488000:16,/usr/bin/curl@1699920000:0,"
	       "/usr/bin/wget@1699920000:0,/usr/bin/curl@1700006400:0",
	       "  summed again: that day's sums of it are gone, its long part's row too, and its "
	       "week has only the other day (short enough for the week's row)");
	is_str(q(path, "SELECT count(*) FROM exe_days WHERE day = 1700006400"), "1",
	       "  and its executable day");
	/* a day's sums that cannot be read when its week is summed: that day
	 * is summed again from its entries, then the week */
	exec(path, "UPDATE exe_sums SET data = X'040201' WHERE day = 1699920000 AND dim = 0 AND "
		   "exe_id = (SELECT id FROM executables WHERE path = '/usr/bin/curl');"
		   "UPDATE rollup_state SET complete_until = 1700006400;");
	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0)
		abort();
	is_int(store_rollup(s, 1700000000 + 10 * 86400), 1,
	       "a day's sums that cannot be read when its week is summed: a step");
	is_str(q(path, "SELECT complete_until FROM rollup_state"), "1699920000",
	       "  that takes the coverage back to that day");
	roll_and_close(s);
	curl = 0;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT data FROM exe_sums WHERE day = 1699488000 AND dim = 16 AND "
			       "exe_id = (SELECT id FROM executables WHERE path = '/usr/bin/curl')", -1, &st,
			       NULL) != SQLITE_OK)
		abort();
	ok(sqlite3_step(st) == SQLITE_ROW &&
		   rollup_sums_part(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
				    ROLLUP_KEY_UID, &part, &part_len) &&
		   rollup_reader_init(&rd, part, part_len) && rollup_next(&rd, &e) == 1 &&
		   e.key == 1000 && e.sent == 115 && e.received == 226 && rollup_next(&rd, &e) == 0,
	   "  the day is summed again from its entries, and the week from it");
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* a file of 19: no weeks; migrated, its coverage is emptied and the
	 * weeks are summed with the days again */
	exec(path, "DELETE FROM exe_sums WHERE dim >= 16; PRAGMA user_version = 19;");
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "a file of schema 19 is migrated"))
		abort();
	is_str(q(path, "SELECT user_version || ' ' || complete_from || ' ' || complete_until FROM "
		       "pragma_user_version, rollup_state"),
	       "21 0 0", "  to schema 21, the rollups' coverage emptied");
	roll_and_close(s);
	is_str(q(path, "SELECT group_concat(day || ':' || dim, ',') FROM (SELECT * FROM exe_sums WHERE "
		       "dim >= 16 ORDER BY exe_id, day, dim)"),
	       "1699488000:16,1699488000:16", "  and built again with the weeks");
	/* a file of 20: its sums by remote address are per address; migrated,
	 * the coverage is emptied and they are summed per domain again */
	exec(path, "DELETE FROM exe_sums; PRAGMA user_version = 20;");
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "a file of schema 20 is migrated"))
		abort();
	is_str(q(path, "SELECT user_version || ' ' || complete_from || ' ' || complete_until FROM "
		       "pragma_user_version, rollup_state"),
	       "21 0 0", "  to schema 21, the rollups' coverage emptied");
	roll_and_close(s);
	is_str(q(path, "SELECT count(*) FROM exe_sums WHERE dim = 0 AND day = 1699920000"), "2",
	       "  and the sums built again");
	free(path);
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
	r.service = "docker:a,b\nc";	/* a name a container chose */
	line = conn_row_to_csv(&r);
	is_str(line,
	       "2023-11-14 22:13:20,12,34,/opt/myapp,curl,app --x=12second line,,/usr/bin/bash,bash,"
	       "bash,,1000,40000,443,198.51.100.1,203.0.113.5,com.example.www,docker:abc",
	       "a conn.log line has the 18 fields in order, cleaned of commas and newlines");
	free(line);
	r.lport = r.rport = -1;
	line = conn_row_to_csv(&r);
	ok(line && strstr(line, ",1000,-1,-1,"), "ports of -1 are written as -1");
	free(line);
}

/* Domains with where they came from (schema 17): one domains row per
 * (name, source); a file of schema 16 (services, the released version
 * before) gets "dns" for every name it has and keeps its services. */
static void test_domain_sources(void)
{
	char *path = path_of("sources.db");
	struct store *s;
	struct conn_row rows[4] = { row(1700000000, 1, 0, "/usr/bin/curl"),
				    row(1700000000, 2, 0, "/usr/bin/curl"),
				    row(1700000000, 4, 0, "/usr/bin/curl"),
				    row(1700000000, 8, 0, "/usr/bin/curl") };

	rows[0].domain = "www.example.com";
	rows[0].domain_source = "dns";
	rows[1].domain = "www.example.com";
	rows[1].domain_source = "sni";
	rows[2].domain = "";
	rows[2].domain_source = "dns";	/* no name: no source */
	rows[3].domain = "tcp.example";
	rows[3].domain_source = "dns-tcp";
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "a new file for domain sources")) {
		printf("#   %s\n", err);
		free(path);
		return;
	}
	is_int(store_write(s, rows, 4), 0, "rows with domain sources are written");
	store_close(s);
	is_str(q(path, "SELECT group_concat(sent || ':' || domain || ':' || domain_source, ',') FROM "
		       "(SELECT * FROM connection_log ORDER BY sent)"),
	       "1:www.example.com:dns,2:www.example.com:sni,4::,8:tcp.example:dns-tcp",
	       "  the view has each row's domain and source");
	is_str(q(path, "SELECT count(*) FROM domains WHERE domain = 'www.example.com'"), "2",
	       "  a name from two sources is two rows of domains");

	/* back to schema 16, as that version wrote it: a name once */
	exec(path, "DROP VIEW connection_log;"
		   "CREATE TABLE d13 (id INTEGER PRIMARY KEY, domain TEXT NOT NULL UNIQUE);"
		   "INSERT INTO d13 SELECT id, domain FROM domains WHERE source != 'sni';"
		   "UPDATE connections SET domain_id = (SELECT id FROM domains WHERE source = 'dns')"
		   "  WHERE sent = 2;"
		   "DROP TABLE domains; ALTER TABLE d13 RENAME TO domains;"
		   "CREATE VIEW connection_log AS SELECT c.sent AS sent FROM connections c;"
		   "PRAGMA user_version = 16;");
	if (!ok(store_sqlite_open(path, &s, err, sizeof(err)) == 0, "schema 16 is migrated")) {
		printf("#   %s\n", err);
		free(path);
		return;
	}
	rows[0].domain_source = "quic";
	rows[0].service = "app.service";
	is_int(store_write(s, rows, 1), 0, "  and takes rows with a source");
	store_close(s);
	is_str(q(path, "PRAGMA user_version"), VERSION, "  to schema " VERSION " (through 17)");
	is_str(q(path, "SELECT group_concat(sent || ':' || domain || ':' || domain_source, ',') FROM "
		       "(SELECT * FROM connection_log ORDER BY sent, domain_source)"),
	       "1:www.example.com:dns,1:www.example.com:quic,2:www.example.com:dns,4::,"
	       "8:tcp.example:dns",
	       "  its names came from DNS, new rows have theirs");
	is_str(q(path, "SELECT group_concat(sent || ':' || service || ':' || domain_source, ',') FROM "
		       "(SELECT * FROM connection_log WHERE sent = 1 ORDER BY service)"),
	       "1::dns,1:app.service:quic", "  and the view has both the service and the source");
	is_str(q(path, "PRAGMA foreign_key_check"), "", "  no reference is broken");
	free(path);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_fresh();
	test_legacy();
	test_v10();
	test_refusals();
	test_rollups();
	test_v12();
	test_v13();
	test_services();
	test_exe_sums();
	test_csv();
	test_domain_sources();
	return tap_done();
}
