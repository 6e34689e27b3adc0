/* snitch.db: the connection log in SQLite (WAL mode), normalised into
 * executables, addresses and domains, with a flat read-only view for people
 * who browse it by hand, and rollups (per-day, -week and -month sums of
 * every key the query layer groups by, and each executable's entries of
 * each day: rollup.h) that this writer keeps.  The schema, its versions
 * and the rollups' invariants are in docs/schema.md. */
#include "storage/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uthash.h>

#include "storage/rollup.h"
#include "storage/schema.h"

/* PRAGMA user_version of the current schema (schema.h).  1-3 were written
 * by the Python picosnitch (3 is migrated from); 10 was this
 * implementation's first; 11 added the grandparent; 12 the rollups; 13
 * their week units; 14 the executable days; 15 none (branch dns's first
 * number for the domain sources, never released: refused);
 * SCHEMA_SERVICES (16) each process's service; SCHEMA_DOMAIN_SOURCES (17)
 * where names came from; SCHEMA_EXE_SUMS (18) each executable's sums per
 * day; SCHEMA_EXE_SUMS_SPLIT (19) those sums a row per long part;
 * SCHEMA_EXE_SUMS_WEEKS (20) those sums of weeks too;
 * SCHEMA_EXE_SUMS_PAIRS (21) those sums by remote address per domain. */
#define LEGACY_VERSION 3

/* A name and where it came from ("dns", "dns-tcp", "sni", "quic"; "" for
 * no name): one row per pair, so a row of connections says both. */
#define SCHEMA_DOMAINS(table)                                                                 \
	"CREATE TABLE " table " ("                                                            \
	"  id INTEGER PRIMARY KEY,"                                                           \
	"  domain TEXT NOT NULL,"                                                             \
	"  source TEXT NOT NULL DEFAULT '',"                                                  \
	"  UNIQUE (domain, source));"

/* A process identity: its executable, name, arguments, hash and service
 * (its systemd unit or container, "" when none: rows before
 * SCHEMA_SERVICES), one row per combination. */
#define SCHEMA_EXECUTABLES(table)                                                             \
	"CREATE TABLE " table " ("                                                            \
	"  id INTEGER PRIMARY KEY,"                                                           \
	"  path TEXT NOT NULL,"                                                               \
	"  name TEXT NOT NULL,"                                                               \
	"  cmdline TEXT NOT NULL,"                                                            \
	"  sha256 TEXT NOT NULL,"                                                             \
	"  service TEXT NOT NULL DEFAULT '',"                                                 \
	"  UNIQUE (path, name, cmdline, sha256, service));"

#define SCHEMA_TABLES                                                                         \
	SCHEMA_EXECUTABLES("executables")                                                     \
	"CREATE TABLE addresses ("                                                            \
	"  id INTEGER PRIMARY KEY,"                                                           \
	"  address TEXT NOT NULL UNIQUE);"                                                    \
	SCHEMA_DOMAINS("domains")                                                             \
	"CREATE TABLE connections ("                                                          \
	"  id INTEGER PRIMARY KEY,"                                                           \
	"  time INTEGER NOT NULL,"                                                            \
	"  exe_id INTEGER NOT NULL REFERENCES executables(id),"                               \
	"  parent_id INTEGER NOT NULL REFERENCES executables(id),"                            \
	"  uid INTEGER NOT NULL,"                                                             \
	"  family INTEGER NOT NULL,"                                                          \
	"  protocol INTEGER NOT NULL,"                                                        \
	"  lport INTEGER NOT NULL,"                                                           \
	"  rport INTEGER NOT NULL,"                                                           \
	"  laddr_id INTEGER NOT NULL REFERENCES addresses(id),"                               \
	"  raddr_id INTEGER NOT NULL REFERENCES addresses(id),"                               \
	"  domain_id INTEGER NOT NULL REFERENCES domains(id),"                                \
	"  netns INTEGER NOT NULL,"                                                           \
	"  sent INTEGER NOT NULL,"                                                            \
	"  received INTEGER NOT NULL,"                                                        \
	"  flows INTEGER NOT NULL,"                                                           \
	"  grandparent_id INTEGER REFERENCES executables(id));"                               \
	"CREATE INDEX connections_time ON connections(time);"                                 \
	"CREATE INDEX connections_exe_time ON connections(exe_id, time);"                     \
	"CREATE INDEX connections_parent_time ON connections(parent_id, time);"               \
	"CREATE INDEX connections_raddr_time ON connections(raddr_id, time);"                 \
	"CREATE INDEX connections_domain_time ON connections(domain_id, time);"

/* what schema 11 added: also applied when migrating from 10; the view
 * has more columns in later versions (CONNECTION_LOG_VIEW's argument) */
#define SCHEMA_11_INDEX "CREATE INDEX connections_gparent_time ON connections(grandparent_id, time);"
#define SCHEMA_11_VIEW SCHEMA_11_INDEX CONNECTION_LOG_VIEW("")
#define CONNECTION_LOG_VIEW(more)                                                             \
	"CREATE VIEW connection_log AS SELECT"                                                \
	"  datetime(c.time, 'unixepoch', 'localtime') AS entry_time,"                         \
	"  c.sent AS sent, c.received AS received, c.flows AS flows,"                         \
	"  e.path AS executable, e.name AS name, e.cmdline AS cmdline, e.sha256 AS sha256,"   \
	"  p.path AS parent_executable, p.name AS parent_name,"                               \
	"  p.cmdline AS parent_cmdline, p.sha256 AS parent_sha256,"                           \
	"  ifnull(g.path, '') AS grandparent_executable, ifnull(g.name, '') AS grandparent_name," \
	"  ifnull(g.cmdline, '') AS grandparent_cmdline,"                                     \
	"  ifnull(g.sha256, '') AS grandparent_sha256,"                                       \
	"  c.uid AS uid, c.lport AS local_port, c.rport AS remote_port,"                      \
	"  la.address AS local_address, ra.address AS remote_address, d.domain AS domain,"    \
	more                                                                                  \
	"  CASE c.family WHEN 2 THEN CASE c.protocol WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp'"    \
	"      WHEN 1 THEN 'icmp' WHEN 132 THEN 'sctp' WHEN 136 THEN 'udplite'"              \
	"      ELSE 'ip/' || c.protocol END"                                                  \
	"    WHEN 10 THEN CASE c.protocol WHEN 6 THEN 'tcp6' WHEN 17 THEN 'udp6'"             \
	"      WHEN 58 THEN 'icmp6' WHEN 132 THEN 'sctp6' WHEN 136 THEN 'udplite6'"          \
	"      ELSE 'ip6/' || c.protocol END"                                                 \
	"    WHEN 17 THEN printf('packet/0x%04x', c.protocol)"                                \
	"    ELSE '' END AS protocol,"                                                        \
	"  c.netns AS netns, c.time AS time"                                                  \
	" FROM connections c"                                                                 \
	" JOIN executables e ON e.id = c.exe_id"                                              \
	" JOIN executables p ON p.id = c.parent_id"                                           \
	" LEFT JOIN executables g ON g.id = c.grandparent_id"                                 \
	" JOIN addresses la ON la.id = c.laddr_id"                                            \
	" JOIN addresses ra ON ra.id = c.raddr_id"                                            \
	" JOIN domains d ON d.id = c.domain_id;"

/* What schema 12 added: the rollups, which cover nothing yet (the logger
 * builds them, rollup_step), and the triggers that keep them exact when
 * anyone inserts, changes or deletes a row of a time they cover: the
 * coverage then ends at that time, and the logger rebuilds from there. */
#define SCHEMA_12_ROLLUPS                                                                     \
	"CREATE TABLE rollups ("                                                              \
	"  grain INTEGER NOT NULL,"                                                           \
	"  dim INTEGER NOT NULL,"                                                             \
	"  start INTEGER NOT NULL,"                                                           \
	"  keys INTEGER NOT NULL,"                                                            \
	"  data BLOB NOT NULL,"                                                               \
	"  PRIMARY KEY (grain, dim, start));"                                                 \
	"CREATE TABLE rollup_state ("                                                         \
	"  complete_from INTEGER NOT NULL,"                                                   \
	"  complete_until INTEGER NOT NULL);"                                                 \
	"INSERT INTO rollup_state VALUES (0, 0);"                                             \
	"CREATE TRIGGER connections_rollup_insert AFTER INSERT ON connections BEGIN"          \
	"  UPDATE rollup_state SET complete_until = NEW.time"                                 \
	"    WHERE NEW.time >= complete_from AND NEW.time < complete_until; END;"             \
	"CREATE TRIGGER connections_rollup_delete AFTER DELETE ON connections BEGIN"          \
	"  UPDATE rollup_state SET complete_until = OLD.time"                                 \
	"    WHERE OLD.time >= complete_from AND OLD.time < complete_until; END;"             \
	"CREATE TRIGGER connections_rollup_update AFTER UPDATE ON connections BEGIN"          \
	"  UPDATE rollup_state SET complete_until = OLD.time"                                 \
	"    WHERE OLD.time >= complete_from AND OLD.time < complete_until;"                  \
	"  UPDATE rollup_state SET complete_until = NEW.time"                                 \
	"    WHERE NEW.time >= complete_from AND NEW.time < complete_until; END;"

/* What schema 14 added: each executable's entries of each day, in a blob
 * (rollup.h), kept with the rollups and under their coverage. */
#define SCHEMA_14_EXE_DAYS                                                                    \
	"CREATE TABLE exe_days ("                                                             \
	"  exe_id INTEGER NOT NULL,"                                                          \
	"  day INTEGER NOT NULL,"                                                             \
	"  data BLOB NOT NULL,"                                                               \
	"  PRIMARY KEY (day, exe_id));"

/* What SCHEMA_EXE_SUMS added: each executable's sums of each day for every
 * key (rollup.h), kept with the executable days and under the same
 * coverage; as SCHEMA_EXE_SUMS_SPLIT keeps them: the row of dim 0 has
 * every key's part but the long ones, each a row of its own (dim = the
 * key), next to it in the primary key so that a day is written in one
 * place of the index. */
#define SCHEMA_EXE_SUMS_TABLE                                                                 \
	"CREATE TABLE exe_sums ("                                                             \
	"  exe_id INTEGER NOT NULL,"                                                          \
	"  day INTEGER NOT NULL,"                                                             \
	"  dim INTEGER NOT NULL,"                                                             \
	"  data BLOB NOT NULL,"                                                               \
	"  PRIMARY KEY (exe_id, day, dim));"

/* the view's columns since SCHEMA_SERVICES and SCHEMA_DOMAIN_SOURCES */
#define SERVICE_COLUMN " e.service AS service,"
#define DOMAIN_SOURCE_COLUMN " d.source AS domain_source,"

static const char schema_current[] = SCHEMA_TABLES SCHEMA_11_INDEX
	CONNECTION_LOG_VIEW(DOMAIN_SOURCE_COLUMN SERVICE_COLUMN) SCHEMA_12_ROLLUPS SCHEMA_14_EXE_DAYS
		SCHEMA_EXE_SUMS_TABLE;

/* 10 -> 14: the grandparent column (NULL for older rows), the view, the
 * rollups. */
static const char migrate_v10[] =
	"ALTER TABLE connections ADD COLUMN grandparent_id INTEGER REFERENCES executables(id);"
	"DROP VIEW connection_log;" SCHEMA_11_VIEW SCHEMA_12_ROLLUPS SCHEMA_14_EXE_DAYS;

/* 11 -> 14: the rollups. */
static const char migrate_v11[] = SCHEMA_12_ROLLUPS SCHEMA_14_EXE_DAYS;

/* 12 -> 14: week units, which a covered time of 12 lacks, and executable
 * days: the rollups cover nothing, and the logger builds them again. */
static const char migrate_v12[] =
	"DELETE FROM rollups;"
	"UPDATE rollup_state SET complete_until = complete_from;" SCHEMA_14_EXE_DAYS;

/* 13 -> 14: executable days, which a covered time of 13 lacks: the
 * coverage is emptied and the logger builds it again (the units in the
 * file mean nothing until then, and each is replaced as it is). */
static const char migrate_v13[] =
	"UPDATE rollup_state SET complete_until = complete_from;" SCHEMA_14_EXE_DAYS;

/* 14 -> SCHEMA_SERVICES: executables get their service, one row per
 * identity and service ("" for every row before).  The table is rebuilt
 * with the same ids (foreign keys are off while migrating), so
 * connections, the rollups and the executable days stay as they are; the
 * view is made again with the column. */
static const char migrate_services[] =
	"DROP VIEW IF EXISTS connection_log;"
	SCHEMA_EXECUTABLES("executables_new")
	"INSERT INTO executables_new(id, path, name, cmdline, sha256)"
	"  SELECT id, path, name, cmdline, sha256 FROM executables;"
	"DROP TABLE executables;"
	"ALTER TABLE executables_new RENAME TO executables;"
	CONNECTION_LOG_VIEW(SERVICE_COLUMN);

/* SCHEMA_SERVICES -> SCHEMA_DOMAIN_SOURCES: domains get their source, one
 * row per (domain, source).  Names written before came from DNS over UDP,
 * the only source then.  The table is rebuilt with the same ids (foreign
 * keys are off while migrating), so connections and the rollups stay as
 * they are; the view is made again with both columns. */
static const char migrate_domain_sources[] =
	"DROP VIEW IF EXISTS connection_log;"
	SCHEMA_DOMAINS("domains_new")
	"INSERT INTO domains_new(id, domain, source)"
	"  SELECT id, domain, CASE WHEN domain = '' THEN '' ELSE 'dns' END FROM domains;"
	"DROP TABLE domains;"
	"ALTER TABLE domains_new RENAME TO domains;"
	CONNECTION_LOG_VIEW(DOMAIN_SOURCE_COLUMN SERVICE_COLUMN);

/* SCHEMA_DOMAIN_SOURCES -> SCHEMA_EXE_SUMS_SPLIT: the executables' sums
 * (of 18: in one row per day, made again split), which a covered time
 * lacks: the coverage is emptied and the logger builds it again (as for
 * 13 -> 14).  Every older file takes this step last (a table of that name
 * in an older file is not ours: it is made again). */
static const char migrate_exe_sums[] =
	"UPDATE rollup_state SET complete_until = complete_from;"
	"DROP TABLE IF EXISTS exe_sums;" SCHEMA_EXE_SUMS_TABLE;

/* SCHEMA_EXE_SUMS_SPLIT -> SCHEMA_EXE_SUMS_PAIRS: the executables' sums of
 * weeks (20), and by remote address per (address, domain) (21), which a
 * covered time lacks: the coverage is emptied and the logger builds it
 * again (each day's rows are replaced as it goes). */
static const char migrate_exe_sums_again[] = "UPDATE rollup_state SET complete_until = complete_from;";

/* Python picosnitch's single table, moved into the normalised tables.
 * Its contime is local time text; it becomes unix time. */
static const char migrate_legacy[] =
	"ALTER TABLE connections RENAME TO legacy_connections;"
	"%s"
	"INSERT OR IGNORE INTO executables(path, name, cmdline, sha256)"
	"  SELECT ifnull(exe,''), ifnull(name,''), ifnull(cmdline,''), ifnull(sha256,'')"
	"  FROM legacy_connections UNION"
	"  SELECT ifnull(pexe,''), ifnull(pname,''), ifnull(pcmdline,''), ifnull(psha256,'')"
	"  FROM legacy_connections;"
	"INSERT OR IGNORE INTO addresses(address)"
	"  SELECT ifnull(laddr,'') FROM legacy_connections UNION"
	"  SELECT ifnull(raddr,'') FROM legacy_connections;"
	"INSERT OR IGNORE INTO domains(domain, source)"
	"  SELECT ifnull(domain,''), CASE WHEN ifnull(domain,'') = '' THEN '' ELSE 'dns' END"
	"  FROM legacy_connections;"
	"INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport,"
	"    laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id)"
	"  SELECT CAST(strftime('%%s', l.contime, 'utc') AS INTEGER), e.id, p.id, ifnull(l.uid,-1),"
	"    CASE WHEN instr(ifnull(l.raddr,''), ':') THEN 10 WHEN ifnull(l.raddr,'') = '' THEN 0"
	"      ELSE 2 END, 0, ifnull(l.lport,-1), ifnull(l.rport,-1),"
	"    la.id, ra.id, d.id, 0, ifnull(l.send,0), ifnull(l.recv,0), 1, NULL"
	"  FROM legacy_connections l"
	"  JOIN executables e ON e.path = ifnull(l.exe,'') AND e.name = ifnull(l.name,'')"
	"    AND e.cmdline = ifnull(l.cmdline,'') AND e.sha256 = ifnull(l.sha256,'')"
	"  JOIN executables p ON p.path = ifnull(l.pexe,'') AND p.name = ifnull(l.pname,'')"
	"    AND p.cmdline = ifnull(l.pcmdline,'') AND p.sha256 = ifnull(l.psha256,'')"
	"  JOIN addresses la ON la.address = ifnull(l.laddr,'')"
	"  JOIN addresses ra ON ra.address = ifnull(l.raddr,'')"
	"  JOIN domains d ON d.domain = ifnull(l.domain,'');"
	"DROP TABLE legacy_connections;";

struct id_cache {
	char *key;
	int64_t id;
	UT_hash_handle hh;
};

struct store_sqlite {
	struct store base;
	char *path;
	dev_t dev;		/* the file opened, to notice it deleted or replaced */
	ino_t ino;
	sqlite3 *db;
	sqlite3_stmt *ins_exe, *sel_exe, *ins_addr, *sel_addr, *ins_dom, *sel_dom, *ins_conn,
		*prune, *rollup_state, *ins_rollup, *ins_exe_day, *ins_exe_sums,
		*count_conn;
	struct id_cache *exes, *addrs, *doms;
	size_t cached;
};

static int sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_IOERR:
		return -EIO;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	default:
		return -EPROTO;
	}
}

/* The errno of a failure: SQLite's class, made exact by the system's own
 * error where SQLite kept it (a full disk and an exceeded quota are both
 * SQLITE_FULL or an I/O error to SQLite; a read-only remount is an I/O
 * error) and by the extended code for a file deleted under it. */
static int db_errno(struct store_sqlite *s, int rc)
{
	int sys = s->db ? sqlite3_system_errno(s->db) : 0;

	if (rc == SQLITE_READONLY_DBMOVED)
		return -ENOENT;
	switch (rc & 0xff) {
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
		if (sys == ENOSPC || sys == EDQUOT || sys == EROFS || sys == EIO || sys == ESTALE)
			return -sys;
		break;
	}
	return sqlite_errno(rc);
}

static int fail_db(struct store_sqlite *s, int rc, const char *what)
{
	snprintf(s->base.err, sizeof(s->base.err), "%s: %s", what,
		 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return db_errno(s, rc);
}

static int exec_sql(struct store_sqlite *s, const char *sql, const char *what)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		rc = sqlite3_extended_errcode(s->db);
		snprintf(s->base.err, sizeof(s->base.err), "%s: %s", what,
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return db_errno(s, rc);
	}
	return 0;
}

/* Roll back what a failed statement left open, keeping the first error's
 * text: SQLite has already rolled back after some errors (a full disk), and
 * "cannot rollback - no transaction is active" would hide the cause. */
static void rollback(struct store_sqlite *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* The first column of the first row of a query; "what" names it in errors. */
static int query_int(struct store_sqlite *s, const char *sql, const char *what, int64_t *ret)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail_db(s, rc, what);
	rc = sqlite3_step(st);
	*ret = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail_db(s, rc, what);
}

/* Whether this file is one we can use or migrate; reads only. */
static int check_version(struct store_sqlite *s)
{
	int64_t version, has_conn, legacy_cols;
	int r;

	r = query_int(s, "PRAGMA user_version", "read the schema version", &version);
	if (r < 0)
		return r;
	if (version == SCHEMA_VERSION)
		return 0;
	if (version > SCHEMA_VERSION) {
		snprintf(s->base.err, sizeof(s->base.err),
			 "snitch.db has schema version %lld, newer than this picosnitch (%d): "
			 "refusing to touch it",
			 (long long)version, SCHEMA_VERSION);
		return -EPROTO;
	}
	r = query_int(s, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='connections'",
		      "read the tables", &has_conn);
	if (r < 0)
		return r;
	if (version == 0 && !has_conn)
		return 0;	/* new: the schema will be created */
	if (version >= 10 && version < SCHEMA_VERSION && version != SCHEMA_UNRELEASED)
		return 0;	/* migrated in place */
	r = query_int(s, "SELECT count(*) FROM pragma_table_info('connections') WHERE name='contime'",
		      "read the columns", &legacy_cols);
	if (r < 0)
		return r;
	if (version != LEGACY_VERSION || !legacy_cols) {
		snprintf(s->base.err, sizeof(s->base.err),
			 "snitch.db has schema version %lld which this picosnitch cannot read or "
			 "migrate; move it aside to start a new one",
			 (long long)version);
		return -EPROTO;
	}
	return 0;
}

/* Bring a checked file to the current schema, in one transaction. */
static int migrate(struct store_sqlite *s)
{
	int64_t version;
	char *sql;
	int r;

	r = query_int(s, "PRAGMA user_version", "read the schema version", &version);
	if (r < 0)
		return r;
	if (version == SCHEMA_VERSION)
		return 0;
	r = exec_sql(s, "BEGIN", "begin");
	if (r < 0)
		return r;
	if (version == 0) {
		r = exec_sql(s, schema_current, "create schema");
	} else if (version == 10) {
		r = exec_sql(s, migrate_v10, "migrate from schema 10");
	} else if (version == 11) {
		r = exec_sql(s, migrate_v11, "migrate from schema 11");
	} else if (version == 12) {
		r = exec_sql(s, migrate_v12, "migrate from schema 12");
	} else if (version == 13) {
		r = exec_sql(s, migrate_v13, "migrate from schema 13");
	} else if (version == 14 || version == SCHEMA_SERVICES ||
		   version == SCHEMA_DOMAIN_SOURCES || version == SCHEMA_EXE_SUMS ||
		   version == SCHEMA_EXE_SUMS_SPLIT || version == SCHEMA_EXE_SUMS_WEEKS) {
		r = 0;	/* the steps after 14 follow */
	} else {
		/* schema 3 of the Python picosnitch, as check_version found */
		if (asprintf(&sql, migrate_legacy, schema_current) < 0) {
			rollback(s);
			return -ENOMEM;
		}
		r = exec_sql(s, sql, "migrate from Python picosnitch (schema 3)");
		free(sql);
	}
	/* the steps above bring every older file to 14; then each step
	 * after it, in order */
	if (r == 0 && version >= 10 && version < SCHEMA_SERVICES)
		r = exec_sql(s, migrate_services, "add the services of executables");
	if (r == 0 && version >= 10 && version < SCHEMA_DOMAIN_SOURCES)
		r = exec_sql(s, migrate_domain_sources, "add the sources of domains");
	if (r == 0 && version >= 10 && version < SCHEMA_EXE_SUMS_SPLIT)
		r = exec_sql(s, migrate_exe_sums, "add the sums of executables");
	if (r == 0 && version >= 10 && version < SCHEMA_EXE_SUMS_PAIRS)
		r = exec_sql(s, migrate_exe_sums_again,
			     "sum executables again (weeks, remote addresses per domain)");
	if (r == 0) {
		char commit[64];

		snprintf(commit, sizeof(commit), "PRAGMA user_version = %d; COMMIT", SCHEMA_VERSION);
		r = exec_sql(s, commit, "commit schema");
	}
	if (r < 0)
		rollback(s);
	return r;
}

static int prepare(struct store_sqlite *s, sqlite3_stmt **st, const char *sql)
{
	int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

	return rc == SQLITE_OK ? 0 : fail_db(s, rc, "prepare");
}

static void cache_clear(struct id_cache **c)
{
	struct id_cache *e, *tmp;

	HASH_ITER(hh, *c, e, tmp) {
		HASH_DEL(*c, e);
		free(e->key);
		free(e);
	}
}

/* Forget every cached id: after the rows they name may have gone. */
static void id_caches_clear(struct store_sqlite *s)
{
	cache_clear(&s->exes);
	cache_clear(&s->addrs);
	cache_clear(&s->doms);
	s->cached = 0;
}

/* The id of a row in one of the lookup tables, inserting it when new.
 * `key` identifies the values for the in-memory cache. */
static int lookup_id(struct store_sqlite *s, struct id_cache **cache, sqlite3_stmt *ins,
		     sqlite3_stmt *sel, const char *key, const char *const *vals, int nvals,
		     int64_t *ret)
{
	struct id_cache *e;
	int rc;

	HASH_FIND_STR(*cache, key, e);
	if (e) {
		*ret = e->id;
		return 0;
	}
	for (int i = 0; i < nvals; i++) {
		sqlite3_bind_text(ins, i + 1, vals[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(sel, i + 1, vals[i], -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	if (rc != SQLITE_DONE)
		return fail_db(s, rc, "insert");
	rc = sqlite3_step(sel);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(sel);
		return fail_db(s, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "select id");
	}
	*ret = sqlite3_column_int64(sel, 0);
	sqlite3_reset(sel);
	if (s->cached > 20000)
		id_caches_clear(s);
	e = calloc(1, sizeof(*e));
	if (e && (e->key = strdup(key))) {
		e->id = *ret;
		HASH_ADD_KEYPTR(hh, *cache, e->key, strlen(e->key), e);
		s->cached++;
	} else {
		free(e);
	}
	return 0;
}

static int exe_id(struct store_sqlite *s, const char *path, const char *name, const char *cmdline,
		  const char *sha256, const char *service, int64_t *ret)
{
	const char *vals[] = { path, name, cmdline, sha256, service };
	char *key;
	int r;

	if (asprintf(&key, "%s\x1f%s\x1f%s\x1f%s\x1f%s", path, name, cmdline, sha256, service) < 0)
		return -ENOMEM;
	r = lookup_id(s, &s->exes, s->ins_exe, s->sel_exe, key, vals, 5, ret);
	free(key);
	return r;
}

static int addr_id(struct store_sqlite *s, const char *addr, int64_t *ret)
{
	return lookup_id(s, &s->addrs, s->ins_addr, s->sel_addr, addr, &addr, 1, ret);
}

static int domain_id(struct store_sqlite *s, const char *dom, const char *source, int64_t *ret)
{
	const char *vals[] = { dom, source };
	char *key;
	int r;

	if (asprintf(&key, "%s\x1f%s", dom, source) < 0)
		return -ENOMEM;
	r = lookup_id(s, &s->doms, s->ins_dom, s->sel_dom, key, vals, 2, ret);
	free(key);
	return r;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* The ids of a row's executables, addresses and domain (made if new). */
struct row_ids {
	int64_t exe, parent, gparent, laddr, raddr, dom;
};

static int row_ids(struct store_sqlite *s, const struct conn_row *r, struct row_ids *id)
{
	int e;

	if ((e = exe_id(s, nz(r->exe), nz(r->name), nz(r->cmdline), nz(r->sha256), nz(r->service),
			&id->exe)) < 0 ||
	    (e = exe_id(s, nz(r->pexe), nz(r->pname), nz(r->pcmdline), nz(r->psha256),
			nz(r->pservice), &id->parent)) < 0 ||
	    (e = exe_id(s, nz(r->gpexe), nz(r->gpname), nz(r->gpcmdline), nz(r->gpsha256),
			nz(r->gpservice), &id->gparent)) < 0 ||
	    (e = addr_id(s, nz(r->laddr), &id->laddr)) < 0 || (e = addr_id(s, nz(r->raddr), &id->raddr)) < 0 ||
	    (e = domain_id(s, nz(r->domain), r->domain && r->domain[0] ? nz(r->domain_source) : "",
			    &id->dom)) < 0)
		return e;
	return 0;
}

/* The 16 values of a connections row, in the order of ins_conn and
 * count_conn. */
static void bind_row(sqlite3_stmt *st, const struct conn_row *r, const struct row_ids *id)
{
	sqlite3_bind_int64(st, 1, r->time);
	sqlite3_bind_int64(st, 2, id->exe);
	sqlite3_bind_int64(st, 3, id->parent);
	sqlite3_bind_int64(st, 4, r->uid);
	sqlite3_bind_int(st, 5, r->family);
	sqlite3_bind_int(st, 6, r->protocol);
	sqlite3_bind_int64(st, 7, r->lport);
	sqlite3_bind_int64(st, 8, r->rport);
	sqlite3_bind_int64(st, 9, id->laddr);
	sqlite3_bind_int64(st, 10, id->raddr);
	sqlite3_bind_int64(st, 11, id->dom);
	sqlite3_bind_int64(st, 12, (int64_t)r->netns);
	sqlite3_bind_int64(st, 13, (int64_t)r->sent);
	sqlite3_bind_int64(st, 14, (int64_t)r->received);
	sqlite3_bind_int64(st, 15, (int64_t)r->flows);
	sqlite3_bind_int64(st, 16, id->gparent);
}

static int insert_row(struct store_sqlite *s, const struct conn_row *r, const struct row_ids *id)
{
	int rc;

	bind_row(s->ins_conn, r, id);
	rc = sqlite3_step(s->ins_conn);
	sqlite3_reset(s->ins_conn);
	return rc == SQLITE_DONE ? 0 : fail_db(s, rc, "insert connection");
}

static int write_row(struct store_sqlite *s, const struct conn_row *r)
{
	struct row_ids id;
	int e = row_ids(s, r, &id);

	return e < 0 ? e : insert_row(s, r, &id);
}

static int open_db(struct store_sqlite *s);

/* After a failed reopen (sqlite_check) the file is opened at the next use. */
static int ensure_open(struct store_sqlite *s)
{
	return s->db ? 0 : open_db(s);
}

static int sqlite_write(struct store *base, const struct conn_row *rows, size_t n)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int r;

	if (n == 0)
		return 0;
	if ((r = ensure_open(s)) < 0)
		return r;
	r = exec_sql(s, "BEGIN IMMEDIATE", "begin");
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = write_row(s, &rows[i]);
		if (r < 0)
			break;
	}
	if (r == 0)
		r = exec_sql(s, "COMMIT", "commit");
	if (r < 0) {
		/* the cached ids may name rows that were rolled back */
		rollback(s);
		id_caches_clear(s);
	}
	return r;
}

static const struct store_ops sqlite_ops;

int store_sqlite_merge(struct store *base, const struct conn_row *rows, const uint64_t *copies,
		       size_t n, uint64_t *added, uint64_t *present)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int r;

	if (base->ops != &sqlite_ops)
		return -EOPNOTSUPP;
	if ((r = ensure_open(s)) < 0)
		return r;
	r = exec_sql(s, "BEGIN IMMEDIATE", "begin");
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct row_ids id;
		int64_t have = 0;
		int rc;

		r = row_ids(s, &rows[i], &id);
		if (r < 0)
			break;
		bind_row(s->count_conn, &rows[i], &id);
		rc = sqlite3_step(s->count_conn);
		if (rc == SQLITE_ROW)
			have = sqlite3_column_int64(s->count_conn, 0);
		sqlite3_reset(s->count_conn);
		if (rc != SQLITE_ROW) {
			r = fail_db(s, rc, "count matching entries");
			break;
		}
		*present += (uint64_t)have < copies[i] ? (uint64_t)have : copies[i];
		for (uint64_t k = (uint64_t)have; k < copies[i] && r == 0; k++) {
			r = insert_row(s, &rows[i], &id);
			if (r == 0)
				(*added)++;
		}
	}
	if (r == 0)
		r = exec_sql(s, "COMMIT", "commit");
	if (r < 0) {
		rollback(s);
		id_caches_clear(s);
	}
	return r;
}

/* Executables, addresses and domains no entry refers to any more, after
 * old entries were deleted: one pass each, in one savepoint. */
static const char collect_orphans_sql[] =
	"SAVEPOINT orphans;"
	"DELETE FROM executables WHERE id NOT IN (SELECT exe_id FROM connections)"
	" AND id NOT IN (SELECT parent_id FROM connections)"
	" AND id NOT IN (SELECT grandparent_id FROM connections"
	" WHERE grandparent_id IS NOT NULL);"
	"DELETE FROM addresses WHERE id NOT IN (SELECT laddr_id FROM connections)"
	" AND id NOT IN (SELECT raddr_id FROM connections);"
	"DELETE FROM domains WHERE id NOT IN (SELECT domain_id FROM connections);"
	"RELEASE orphans;";

/* ---- rollups (rollup.h, docs/schema.md) ---- */

/* A statement with int64 parameters ?1..?n, run to its end; "what" names it
 * in errors. */
static int exec_params(struct store_sqlite *s, const char *sql, const char *what,
		       const int64_t *params, int n)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail_db(s, rc, what);
	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, i + 1, params[i]);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail_db(s, rc, what);
}

/* The sums of one unit of one key while it is built: a hash of (key, key2). */
struct racc {
	struct rollup_entry *e;
	size_t n, cap;
	uint32_t *slots;	/* open addressing: index + 1 into e, 0 empty */
	size_t n_slots;
};

static uint64_t racc_hash(int64_t k, int64_t k2)
{
	uint64_t x = (uint64_t)k * 0x9e3779b97f4a7c15ULL ^ (uint64_t)k2 * 0xc2b2ae3d27d4eb4fULL;

	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	return x ^ (x >> 32);
}

static void racc_free(struct racc *a)
{
	free(a->e);
	free(a->slots);
	*a = (struct racc){ 0 };
}

static bool racc_grow(struct racc *a)
{
	size_t n_slots = a->n_slots ? a->n_slots * 2 : 256;
	uint32_t *slots;

	if (n_slots > (size_t)UINT32_MAX || !(slots = calloc(n_slots, sizeof(*slots))))
		return false;
	for (size_t i = 0; i < a->n; i++) {
		size_t h = racc_hash(a->e[i].key, a->e[i].key2) & (n_slots - 1);

		while (slots[h])
			h = (h + 1) & (n_slots - 1);
		slots[h] = (uint32_t)(i + 1);
	}
	free(a->slots);
	a->slots = slots;
	a->n_slots = n_slots;
	return true;
}

/* Add the sums of v to its key's entry: 0 or -ENOMEM. */
static int racc_add(struct racc *a, const struct rollup_entry *v)
{
	struct rollup_entry *e = NULL;
	size_t h;

	if (a->n_slots) {
		for (h = racc_hash(v->key, v->key2) & (a->n_slots - 1); a->slots[h];
		     h = (h + 1) & (a->n_slots - 1)) {
			e = &a->e[a->slots[h] - 1];
			if (e->key == v->key && e->key2 == v->key2)
				break;
			e = NULL;
		}
	}
	if (!e) {
		if ((a->n + 1) * 2 > a->n_slots && !racc_grow(a))
			return -ENOMEM;
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 256;
			struct rollup_entry *ne = realloc(a->e, cap * sizeof(*ne));

			if (!ne)
				return -ENOMEM;
			a->e = ne;
			a->cap = cap;
		}
		for (h = racc_hash(v->key, v->key2) & (a->n_slots - 1); a->slots[h];
		     h = (h + 1) & (a->n_slots - 1))
			;
		e = &a->e[a->n];
		*e = (struct rollup_entry){ .key = v->key, .key2 = v->key2 };
		a->slots[h] = (uint32_t)++a->n;
	}
	e->sent = rollup_add_sat(e->sent, v->sent);
	e->received = rollup_add_sat(e->received, v->received);
	e->flows = rollup_add_sat(e->flows, v->flows);
	return 0;
}

static int cmp_rollup_entry(const void *x, const void *y)
{
	const struct rollup_entry *a = x, *b = y;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return (a->key2 > b->key2) - (a->key2 < b->key2);
}

/* Room for `need` more bytes after *len in *blob (*cap allocated). */
static int blob_room(uint8_t **blob, size_t len, size_t *cap, size_t need)
{
	size_t nc = *cap ? *cap : 256;
	uint8_t *nb;

	if (*cap - len >= need)
		return 0;
	while (nc - len < need)
		nc *= 2;
	if (!(nb = realloc(*blob, nc)))
		return -ENOMEM;
	*blob = nb;
	*cap = nc;
	return 0;
}

/* The blob of a unit of the sums in `a` (rollup.h), appended to *blob
 * (of *len bytes, *cap allocated): 0 or -ENOMEM.  `a` gets sorted. */
static int unit_blob(struct racc *a, uint8_t **blob, size_t *len, size_t *cap)
{
	int64_t prev = 0;

	if (a->n)
		qsort(a->e, a->n, sizeof(*a->e), cmp_rollup_entry);
	if (blob_room(blob, *len, cap, 1 + a->n * 12) < 0)
		return -ENOMEM;
	(*blob)[(*len)++] = ROLLUP_FORMAT;
	for (size_t i = 0; i < a->n; i++) {
		if (blob_room(blob, *len, cap, ROLLUP_ENTRY_MAX) < 0)
			return -ENOMEM;
		*len += rollup_put_entry(*blob + *len, prev, &a->e[i]);
		prev = a->e[i].key;
	}
	return 0;
}

/* Write the unit (grain, dim, start) of the sums in `a` (nothing for no
 * entries), and empty `a`. */
static int put_unit(struct store_sqlite *s, int grain, int dim, int64_t start, struct racc *a)
{
	size_t cap = 0, len = 0;
	uint8_t *blob = NULL;
	int rc;

	if (!a->n)
		return 0;
	if (unit_blob(a, &blob, &len, &cap) < 0) {
		free(blob);
		racc_free(a);
		return -ENOMEM;
	}
	sqlite3_bind_int(s->ins_rollup, 1, grain);
	sqlite3_bind_int(s->ins_rollup, 2, dim);
	sqlite3_bind_int64(s->ins_rollup, 3, start);
	sqlite3_bind_int64(s->ins_rollup, 4, (int64_t)a->n);
	sqlite3_bind_blob64(s->ins_rollup, 5, blob, len, SQLITE_STATIC);
	rc = sqlite3_step(s->ins_rollup);
	sqlite3_reset(s->ins_rollup);
	sqlite3_clear_bindings(s->ins_rollup);
	free(blob);
	racc_free(a);
	return rc == SQLITE_DONE ? 0 : fail_db(s, rc, "write a rollup");
}

static void raccs_free(struct racc acc[ROLLUP_KEY__MAX + 1])
{
	for (int k = 0; k <= ROLLUP_KEY__MAX; k++)
		racc_free(&acc[k]);
}

/* The columns of day_columns that each key is read from. */
#define DAY_COLUMNS                                                                           \
	"exe_id, parent_id, grandparent_id, uid, lport, rport, laddr_id, raddr_id, domain_id, " \
	"family, protocol, netns, time, sent, received, flows"
static const int key_column[ROLLUP_KEY__MAX + 1] = {
	[ROLLUP_KEY_EXE] = 0,	 [ROLLUP_KEY_PARENT] = 1, [ROLLUP_KEY_GRANDPARENT] = 2,
	[ROLLUP_KEY_UID] = 3,	 [ROLLUP_KEY_LPORT] = 4,  [ROLLUP_KEY_RPORT] = 5,
	[ROLLUP_KEY_LADDR] = 6,	 [ROLLUP_KEY_RADDR] = 7,  [ROLLUP_KEY_DOMAIN] = 8,
	[ROLLUP_KEY_PROTOCOL] = 9, [ROLLUP_KEY_NETNS] = 11, [ROLLUP_KEY_TIME] = 12,
};
#define COL_PROTOCOL 10
#define COL_SENT 13

/* The entries of a day by executable, while they are read (exe_days). */
struct exe_entry {
	int64_t exe_id;
	size_t seq;		/* the order they were read in */
	bool raw;		/* a column is not an integer */
	struct rollup_row row;
};

struct exe_entries {
	struct exe_entry *e;
	size_t n, cap;
};

static void exe_entries_free(struct exe_entries *x)
{
	free(x->e);
	*x = (struct exe_entries){ 0 };
}

/* An entry of the day (its columns as DAY_COLUMNS) into x: 0 or -ENOMEM.
 * One whose exe_id is not an integer is left out: no filter on the
 * executable's columns, which compares ids, keeps it. */
static int exe_entry_add(struct exe_entries *x, sqlite3_stmt *st)
{
	static const int cols[] = { 1, 2, 3, 9, 10, 4, 5, 6, 7, 8, 11 };	/* rollup_row_delta_col */
	struct exe_entry *e;
	bool raw = false;

	if (sqlite3_column_type(st, 0) != SQLITE_INTEGER)
		return 0;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 1024;

		if (!(e = realloc(x->e, cap * sizeof(*e))))
			return -ENOMEM;
		x->e = e;
		x->cap = cap;
	}
	e = &x->e[x->n];
	*e = (struct exe_entry){ .exe_id = sqlite3_column_int64(st, 0), .seq = x->n };
	for (int c = 1; c <= 15; c++)
		if (sqlite3_column_type(st, c) != SQLITE_INTEGER &&
		    !(c == 2 && sqlite3_column_type(st, c) == SQLITE_NULL))
			raw = true;
	e->raw = raw;
	e->row.time = sqlite3_column_int64(st, 12);
	e->row.gp_null = sqlite3_column_type(st, 2) == SQLITE_NULL;
	for (int i = 0; i < ROLLUP_ROW_DELTAS; i++)
		*rollup_row_delta_col(&e->row, i) = sqlite3_column_int64(st, cols[i]);
	if (e->row.gp_null)
		e->row.gp = 0;
	e->row.sent = sqlite3_column_int64(st, 13);
	e->row.received = sqlite3_column_int64(st, 14);
	e->row.flows = sqlite3_column_int64(st, 15);
	x->n++;
	return 0;
}

static int cmp_exe_entry(const void *a, const void *b)
{
	const struct exe_entry *x = a, *y = b;

	if (x->exe_id != y->exe_id)
		return x->exe_id < y->exe_id ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* One row of exe_sums. */
static int put_exe_sums_row(struct store_sqlite *s, int64_t exe, int64_t day, int dim,
			    const uint8_t *data, size_t len)
{
	int rc;

	sqlite3_bind_int64(s->ins_exe_sums, 1, exe);
	sqlite3_bind_int64(s->ins_exe_sums, 2, day);
	sqlite3_bind_int(s->ins_exe_sums, 3, dim);
	sqlite3_bind_blob64(s->ins_exe_sums, 4, data, len, SQLITE_STATIC);
	rc = sqlite3_step(s->ins_exe_sums);
	sqlite3_reset(s->ins_exe_sums);
	sqlite3_clear_bindings(s->ins_exe_sums);
	return rc == SQLITE_DONE ? 0 : fail_db(s, rc, "write an executable's sums");
}

/* Write an executable's sums of a unit (a day, or a week: `base` is the
 * dim of its row, ROLLUP_SUMS_DAY or ROLLUP_SUMS_WEEK) from acc, one racc
 * per key: for each key its unit's blob (rollup.h), in the unit's row or,
 * if longer than ROLLUP_SUMS_INLINE_MAX, in a row of its own (dim base +
 * key); the single byte ROLLUP_SUMS_RAW if `raw`.  Empties acc. */
static int put_sums_rows(struct store_sqlite *s, int64_t exe, int64_t start, int base,
			 struct racc acc[ROLLUP_KEY__MAX + 1], bool raw, uint8_t **blob, size_t *cap)
{
	uint8_t *part = NULL;
	size_t len = 0, part_cap = 0;
	int r = 0;

	if (blob_room(blob, 0, cap, 1) < 0)
		return -ENOMEM;
	(*blob)[len++] = raw ? ROLLUP_SUMS_RAW : ROLLUP_SUMS_FORMAT;
	for (int k = 1; !raw && r == 0 && k <= ROLLUP_KEY__MAX; k++) {
		size_t part_len = 0;

		r = unit_blob(&acc[k], &part, &part_len, &part_cap);
		if (r == 0 && part_len > ROLLUP_SUMS_INLINE_MAX) {
			r = put_exe_sums_row(s, exe, start, base + k, part, part_len);
			part_len = 0;	/* "in its own row" */
		}
		if (r == 0)
			r = blob_room(blob, len, cap, 10 + part_len);
		if (r == 0) {
			len += rollup_put_uvarint(*blob + len, part_len);
			memcpy(*blob + len, part, part_len);
			len += part_len;
		}
	}
	free(part);
	raccs_free(acc);
	if (r < 0)
		return r;
	return put_exe_sums_row(s, exe, start, base, *blob, len);
}

/* Write the sums of one executable's entries e[0, n) of `day` (exe_sums);
 * the byte ROLLUP_SUMS_RAW if an entry has a column that is not an
 * integer. */
static int put_exe_sums(struct store_sqlite *s, int64_t day, const struct exe_entry *e, size_t n,
			bool raw, uint8_t **blob, size_t *cap)
{
	struct racc acc[ROLLUP_KEY__MAX + 1] = { { 0 } };
	int r = 0;

	for (int k = 1; !raw && r == 0 && k <= ROLLUP_KEY__MAX; k++)
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct rollup_entry v = { .sent = e[i].row.sent,
						  .received = e[i].row.received,
						  .flows = e[i].row.flows };

			rollup_sums_key(&e[i].row, e[i].exe_id, k, &v.key, &v.key2);
			r = racc_add(&acc[k], &v);
		}
	if (r < 0) {
		raccs_free(acc);
		return r;
	}
	return put_sums_rows(s, e[0].exe_id, day, ROLLUP_SUMS_DAY, acc, raw, blob, cap);
}

/* Add a unit's blob of key sums to acc: false if it is not of the format
 * (-ENOMEM, with what was added until then, into *r). */
static bool racc_add_blob(struct racc *acc, const uint8_t *blob, size_t len, int *r)
{
	struct rollup_reader rd;
	struct rollup_entry e;
	int n;

	if (!rollup_reader_init(&rd, blob, len))
		return false;
	while ((n = rollup_next(&rd, &e)) > 0)
		if ((*r = racc_add(acc, &e)) < 0)
			return true;
	return n == 0;
}

/* The executables' sums of the week starting at `wstart` (schema 20), each
 * the sum of its days' sums, for every executable with an executable day
 * in it (whose days' sums are then there: the invariant of exe_sums).  A
 * day's row of ROLLUP_SUMS_RAW makes the week's the same.  A day's sums
 * that cannot be read (an edited file): -EBADMSG, its day in *bad_day. */
static int sum_exe_weeks(struct store_sqlite *s, int64_t wstart, int64_t *bad_day)
{
	struct racc acc[ROLLUP_KEY__MAX + 1] = { { 0 } };
	sqlite3_stmt *exes = NULL, *st = NULL;
	uint8_t *blob = NULL;
	size_t cap = 0;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT DISTINCT exe_id FROM exe_days WHERE day >= ?1 AND "
				"day < ?2 ORDER BY exe_id", -1, &exes, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "SELECT day, dim, data FROM exe_sums WHERE exe_id = ?1 "
					"AND day >= ?2 AND day < ?3 AND dim >= 0 AND dim <= ?4 "
					"ORDER BY day, dim", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = fail_db(s, rc, "read the executables' sums of a week");
		goto out;
	}
	sqlite3_bind_int64(exes, 1, wstart);
	sqlite3_bind_int64(exes, 2, wstart + ROLLUP_WEEK);
	/* the week and the dims of day rows, for every executable (a reset
	 * keeps them) */
	sqlite3_bind_int64(st, 2, wstart);
	sqlite3_bind_int64(st, 3, wstart + ROLLUP_WEEK);
	sqlite3_bind_int(st, 4, ROLLUP_SUMS_DAY + ROLLUP_KEY__MAX);
	while (r == 0 && (rc = sqlite3_step(exes)) == SQLITE_ROW) {
		int64_t exe = sqlite3_column_int64(exes, 0), day = INT64_MIN;
		bool raw = false, bad = false;
		uint32_t waiting = 0;	/* bit k: key k's part is a row to come */

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, exe);
		while (r == 0 && !bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			int dim = sqlite3_column_int(st, 1);
			const uint8_t *data = sqlite3_column_blob(st, 2);
			size_t len = (size_t)sqlite3_column_bytes(st, 2);

			if (dim == ROLLUP_SUMS_DAY) {
				bad = waiting != 0;	/* the last day's long parts */
				day = sqlite3_column_int64(st, 0);
				if (len == 1 && data[0] == ROLLUP_SUMS_RAW) {
					raw = true;
					continue;
				}
				for (int k = 1; !bad && r == 0 && k <= ROLLUP_KEY__MAX; k++) {
					const uint8_t *part;
					size_t part_len;

					if (!rollup_sums_part(data, len, k, &part, &part_len))
						bad = true;
					else if (!part_len)
						waiting |= 1u << k;
					else
						bad = !racc_add_blob(&acc[k], part, part_len, &r);
				}
			} else if (sqlite3_column_int64(st, 0) == day && (waiting & (1u << dim))) {
				waiting &= ~(1u << dim);
				bad = !racc_add_blob(&acc[dim], data, len, &r);
			} else {
				bad = true;	/* a long part without its day's row */
			}
		}
		if (r == 0 && (bad || waiting)) {
			*bad_day = day == INT64_MIN ? wstart : day;
			snprintf(s->base.err, sizeof(s->base.err),
				 "an executable's sums of day %lld are not in the format of this "
				 "picosnitch: they are built again from the entries",
				 (long long)*bad_day);
			r = -EBADMSG;
		} else if (r == 0 && rc != SQLITE_DONE) {
			r = fail_db(s, rc, "read the executables' sums of a week");
		}
		if (r == 0)
			r = put_sums_rows(s, exe, wstart, ROLLUP_SUMS_WEEK, acc, raw, &blob, &cap);
		raccs_free(acc);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = fail_db(s, rc, "read the executables of a week");
	if (r == -ENOMEM)
		snprintf(s->base.err, sizeof(s->base.err), "sum an executable's week: out of memory");
out:
	sqlite3_finalize(exes);
	sqlite3_finalize(st);
	free(blob);
	return r;
}

/* Write the executable days of `day` from x (whose entries are of that
 * day), and the executables' sums of it, and empty x. */
static int put_exe_days(struct store_sqlite *s, int64_t day, struct exe_entries *x)
{
	uint8_t *blob = NULL, *sums = NULL;
	size_t cap = 0, sums_cap = 0;
	int r = 0;

	if (x->n)
		qsort(x->e, x->n, sizeof(*x->e), cmp_exe_entry);
	for (size_t i = 0, j; r == 0 && i < x->n; i = j) {
		struct rollup_row prev = { .time = day };
		size_t len = 1;
		bool raw = false;
		int rc;

		for (j = i; j < x->n && x->e[j].exe_id == x->e[i].exe_id; j++)
			raw |= x->e[j].raw;
		if (cap < 1 + (j - i) * ROLLUP_ROW_MAX) {
			uint8_t *nb;

			cap = 1 + (j - i) * ROLLUP_ROW_MAX;
			if (!(nb = realloc(blob, cap))) {
				r = -ENOMEM;
				break;
			}
			blob = nb;
		}
		blob[0] = raw ? ROLLUP_ROWS_RAW : ROLLUP_ROWS_FORMAT;
		for (size_t k = i; !raw && k < j; k++) {
			int64_t gp = prev.gp;

			len += rollup_put_row(blob + len, &prev, &x->e[k].row);
			prev = x->e[k].row;
			/* a NULL grandparent leaves the previous one (as read) */
			if (prev.gp_null)
				prev.gp = gp;
		}
		sqlite3_bind_int64(s->ins_exe_day, 1, x->e[i].exe_id);
		sqlite3_bind_int64(s->ins_exe_day, 2, day);
		sqlite3_bind_blob64(s->ins_exe_day, 3, blob, len, SQLITE_STATIC);
		rc = sqlite3_step(s->ins_exe_day);
		sqlite3_reset(s->ins_exe_day);
		sqlite3_clear_bindings(s->ins_exe_day);
		if (rc != SQLITE_DONE)
			r = fail_db(s, rc, "write an executable day");
		if (r == 0)
			r = put_exe_sums(s, day, &x->e[i], j - i, raw, &sums, &sums_cap);
	}
	if (r == -ENOMEM)
		snprintf(s->base.err, sizeof(s->base.err), "write the executable days: out of memory");
	free(blob);
	free(sums);
	exe_entries_free(x);
	return r;
}

/* Sum the rows of the day starting at `day` into acc, every key at once,
 * and keep them by executable in x.  *rows: how many there were. */
static int sum_day(struct store_sqlite *s, int64_t day, struct racc acc[ROLLUP_KEY__MAX + 1],
		   struct exe_entries *x, int64_t *rows)
{
	sqlite3_stmt *st;
	int64_t count, lo, hi;
	bool by_ids;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT count(*), min(id), max(id) FROM connections "
				"WHERE time >= ?1 AND time < ?2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail_db(s, rc, "find a day's entries");
	sqlite3_bind_int64(st, 1, day);
	sqlite3_bind_int64(st, 2, day + ROLLUP_DAY);
	rc = sqlite3_step(st);
	count = sqlite3_column_int64(st, 0);
	lo = sqlite3_column_int64(st, 1);
	hi = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return fail_db(s, rc, "find a day's entries");
	*rows = count;
	if (!count)
		return 0;
	/* the rows of a day are (nearly always) one run of ids: read it
	 * sequentially, unless rows written late make the run much longer */
	by_ids = (unsigned __int128)((__int128)hi - lo) < (unsigned __int128)count * 2;
	rc = sqlite3_prepare_v2(s->db,
				by_ids ? "SELECT " DAY_COLUMNS " FROM connections WHERE id BETWEEN ?3 "
					 "AND ?4 AND +time >= ?1 AND +time < ?2"
				       : "SELECT " DAY_COLUMNS " FROM connections WHERE time >= ?1 "
					 "AND time < ?2",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail_db(s, rc, "read a day's entries");
	sqlite3_bind_int64(st, 1, day);
	sqlite3_bind_int64(st, 2, day + ROLLUP_DAY);
	if (by_ids) {
		sqlite3_bind_int64(st, 3, lo);
		sqlite3_bind_int64(st, 4, hi);
	}
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rollup_entry v = {
			.sent = sqlite3_column_int64(st, COL_SENT),
			.received = sqlite3_column_int64(st, COL_SENT + 1),
			.flows = sqlite3_column_int64(st, COL_SENT + 2),
		};

		/* each key as the query layer reads it from a row (ps_acc) */
		for (int k = 1; k <= ROLLUP_KEY__MAX && r == 0; k++) {
			int col = key_column[k];

			if (sqlite3_column_type(st, col) == SQLITE_NULL) {
				v.key = 0;
				v.key2 = ROLLUP_NULL_KEY2;
			} else {
				v.key = sqlite3_column_int64(st, col);
				v.key2 = k == ROLLUP_KEY_PROTOCOL ? sqlite3_column_int64(st, COL_PROTOCOL) : 0;
			}
			r = racc_add(&acc[k], &v);
		}
		if (r == 0)
			r = exe_entry_add(x, st);
	}
	sqlite3_finalize(st);
	if (r < 0) {
		snprintf(s->base.err, sizeof(s->base.err), "sum a day's entries: out of memory");
		return r;
	}
	return rc == SQLITE_DONE ? 0 : fail_db(s, rc, "read a day's entries");
}

/* Sum the day units in [start, end) of every key into acc.  A blob that is
 * not of our format (an edited file): -EBADMSG, its day in *bad_day. */
static int sum_days(struct store_sqlite *s, int64_t start, int64_t end,
		    struct racc acc[ROLLUP_KEY__MAX + 1], int64_t *bad_day)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT dim, start, data FROM rollups WHERE grain = ?1 "
				"AND dim = ?2 AND start >= ?3 AND start < ?4", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail_db(s, rc, "read the day rollups");
	for (int k = 1; k <= ROLLUP_KEY__MAX && r == 0; k++) {
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, ROLLUP_GRAIN_DAY);
		sqlite3_bind_int(st, 2, k);
		sqlite3_bind_int64(st, 3, start);
		sqlite3_bind_int64(st, 4, end);
		while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (!racc_add_blob(&acc[k], sqlite3_column_blob(st, 2),
					   (size_t)sqlite3_column_bytes(st, 2), &r)) {
				*bad_day = sqlite3_column_int64(st, 1);
				snprintf(s->base.err, sizeof(s->base.err),
					 "the rollup of day %lld (key %d) is not in the format of this "
					 "picosnitch: it is built again from the entries",
					 (long long)*bad_day, k);
				r = -EBADMSG;
			}
		}
		if (r == 0 && rc != SQLITE_DONE)
			r = fail_db(s, rc, "read the day rollups");
	}
	sqlite3_finalize(st);
	return r;
}

/* The coverage [from, until) (rollup_state; from 0 when there is no row). */
static int read_coverage(struct store_sqlite *s, int64_t *from, int64_t *until, bool *present)
{
	int rc = sqlite3_step(s->rollup_state);

	*present = rc == SQLITE_ROW && sqlite3_column_type(s->rollup_state, 0) != SQLITE_NULL;
	*from = *present ? sqlite3_column_int64(s->rollup_state, 0) : 0;
	*until = *present ? sqlite3_column_int64(s->rollup_state, 1) : 0;
	sqlite3_reset(s->rollup_state);
	if (rc != SQLITE_ROW)
		return fail_db(s, rc, "read the rollup state");
	if (*from < 0)
		*from = 0;
	if (*until < *from)
		*until = *from;
	return 0;
}

/* The rollup step inside its transaction: see sqlite_rollup. */
static int rollup_step(struct store_sqlite *s, int64_t limit, struct racc acc[ROLLUP_KEY__MAX + 1],
		       struct exe_entries *x, int64_t *bad_day)
{
	int64_t from, until, day, next_day, end, rows = 0, p[5];
	bool present, built = false;
	sqlite3_stmt *st;
	int rc, r;

	if ((r = read_coverage(s, &from, &until, &present)) < 0)
		return r;
	if (!present &&
	    (r = exec_sql(s, "DELETE FROM rollup_state; INSERT INTO rollup_state VALUES (0, 0)",
			  "reset the rollup state")) < 0)
		return r;
	day = rollup_day_start(until);
	if (day >= limit)
		return 0;
	/* the day of the next entry: the days before it have none */
	rc = sqlite3_prepare_v2(s->db, "SELECT time, typeof(time) IN ('integer', 'real') FROM "
				"connections WHERE time >= ?1 ORDER BY time LIMIT 1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail_db(s, rc, "find the next entry");
	sqlite3_bind_int64(st, 1, day);
	rc = sqlite3_step(st);
	next_day = limit;
	if (rc == SQLITE_ROW && sqlite3_column_int(st, 1)) {
		int64_t t = sqlite3_column_int64(st, 0);

		next_day = t < day ? day : t >= limit ? limit : rollup_day_start(t);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail_db(s, rc, "find the next entry");
	if (next_day > day) {
		end = next_day;		/* days without entries: nothing to sum */
	} else {
		if ((r = sum_day(s, day, acc, x, &rows)) < 0)
			return r;
		built = rows > 0;
		end = day + ROLLUP_DAY;
	}
	p[0] = ROLLUP_GRAIN_DAY;
	p[1] = day;
	p[2] = end;
	p[3] = rollup_week_start(day);	/* and the weeks of its executables */
	p[4] = ROLLUP_SUMS_WEEK;
	/* exe_sums has rows only for the (executable, day) pairs of
	 * exe_days (docs/schema.md): found through exe_days, its rows are
	 * deleted through its primary key.  (By day alone it was a scan of
	 * the whole table, 0.64 s a step on the benchmark's year.) */
	if ((r = exec_params(s, "DELETE FROM rollups WHERE grain = ?1 AND start >= ?2 AND start < ?3",
			     "delete old rollups", p, 3)) < 0 ||
	    (r = exec_params(s, "DELETE FROM exe_sums WHERE exe_id IN (SELECT exe_id FROM exe_days "
				"WHERE day >= ?2 AND day < ?3) AND day >= ?4 AND day < ?3 AND "
				"(day >= ?2 OR dim >= ?5)",
			     "delete old executable sums", p, 5)) < 0 ||
	    (r = exec_params(s, "DELETE FROM exe_days WHERE day >= ?2 AND day < ?3",
			     "delete old executable days", p, 3)) < 0)
		return r;
	for (int k = 1; built && k <= ROLLUP_KEY__MAX; k++)
		if ((r = put_unit(s, ROLLUP_GRAIN_DAY, k, day, &acc[k])) < 0)
			return r;
	if (built && (r = put_exe_days(s, day, x)) < 0)
		return r;
	/* a week whose end is passed: summed from its days, if they are all
	 * covered (as months, below) */
	if (rollup_week_start(day) + ROLLUP_WEEK <= end) {
		int64_t wstart = rollup_week_start(day);

		p[0] = ROLLUP_GRAIN_WEEK;
		p[1] = wstart;
		p[2] = wstart + ROLLUP_WEEK;
		if ((r = exec_params(s, "DELETE FROM rollups WHERE grain = ?1 AND start >= ?2 AND "
				     "start < ?3", "delete old rollups", p, 3)) < 0)
			return r;
		if (wstart >= from) {
			if ((r = sum_days(s, wstart, wstart + ROLLUP_WEEK, acc, bad_day)) < 0)
				return r;
			for (int k = 1; k <= ROLLUP_KEY__MAX; k++)
				if ((r = put_unit(s, ROLLUP_GRAIN_WEEK, k, wstart, &acc[k])) < 0)
					return r;
			if ((r = sum_exe_weeks(s, wstart, bad_day)) < 0)
				return r;
		}
	}
	/* a month whose end is passed: summed from its days, if they are
	 * all covered */
	if (rollup_month_end(day) <= end) {
		int64_t mstart = rollup_month_start(day), mend = rollup_month_end(day);

		p[0] = ROLLUP_GRAIN_MONTH;
		p[1] = mstart;
		p[2] = mend;
		if ((r = exec_params(s, "DELETE FROM rollups WHERE grain = ?1 AND start >= ?2 AND "
				     "start < ?3", "delete old rollups", p, 3)) < 0)
			return r;
		if (mstart >= from) {
			if ((r = sum_days(s, mstart, mend, acc, bad_day)) < 0)
				return r;
			for (int k = 1; k <= ROLLUP_KEY__MAX; k++)
				if ((r = put_unit(s, ROLLUP_GRAIN_MONTH, k, mstart, &acc[k])) < 0)
					return r;
		}
	}
	p[0] = end;
	if ((r = exec_params(s, "UPDATE rollup_state SET complete_until = ?1", "advance the rollups",
			     p, 1)) < 0)
		return r;
	return 1;
}

/* One step of bringing the rollups up to the days that have ended at `now`
 * (unix seconds): the next day with entries is summed, or a run of days
 * without entries is passed over, and a week or month whose end is passed
 * is summed from its days; in one transaction with the coverage.  1: a step was
 * made; 0: the rollups are up to date; -errno. */
static int sqlite_rollup(struct store *base, int64_t now)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	struct racc acc[ROLLUP_KEY__MAX + 1] = { { 0 } };
	struct exe_entries x = { 0 };
	int64_t from, until, bad_day = -1, limit, p[1];
	bool present;
	int r;

	if (!s->db)
		return 0;	/* written again first */

	limit = rollup_day_start(now < 0 ? 0 : now > ROLLUP_TIME_MAX ? ROLLUP_TIME_MAX : now);
	/* the usual case, each tick: nothing to do, found without a lock */
	if ((r = read_coverage(s, &from, &until, &present)) < 0)
		return r;
	if (present && rollup_day_start(until) >= limit)
		return 0;
	if ((r = exec_sql(s, "BEGIN IMMEDIATE", "begin")) < 0)
		return r;
	r = rollup_step(s, limit, acc, &x, &bad_day);
	raccs_free(acc);
	exe_entries_free(&x);
	if (r >= 0) {
		int c = exec_sql(s, "COMMIT", "commit");

		if (c == 0)
			return r;
		r = c;
	}
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if (r != -EBADMSG || bad_day < 0)
		return r;
	/* a day unit that cannot be read: built again from its entries, then
	 * every unit after it */
	p[0] = bad_day;
	if (exec_sql(s, "BEGIN IMMEDIATE", "begin") < 0)
		return r;
	if (exec_params(s, "UPDATE rollup_state SET complete_until = ?1 WHERE complete_until > ?1",
			"rebuild the rollups", p, 1) < 0 ||
	    exec_sql(s, "COMMIT", "commit") < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	return 1;
}

/* Entries before `before` go; the rollups then cover nothing before the
 * first whole day after it (the rows left of the day it cuts are read as
 * rows), which is set first, so that the deletions do not end the coverage
 * (connections_rollup_delete). */
static int sqlite_prune(struct store *base, int64_t before)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int64_t p[1];
	int rc, r;

	if ((r = ensure_open(s)) < 0)
		return r;
	p[0] = rollup_day_ceil(before < 0 ? 0 : before > ROLLUP_TIME_MAX ? ROLLUP_TIME_MAX : before);
	if ((r = exec_sql(s, "BEGIN IMMEDIATE", "begin")) < 0)
		return r;
	if ((r = exec_params(s, "UPDATE rollup_state SET complete_from = max(complete_from, ?1), "
			     "complete_until = max(complete_until, complete_from, ?1)",
			     "move the rollups' start", p, 1)) < 0 ||
	    (r = exec_sql(s, "DELETE FROM rollups WHERE start < (SELECT max(complete_from) FROM "
			  "rollup_state)", "delete old rollups")) < 0 ||
	    (r = exec_sql(s, "DELETE FROM exe_sums WHERE exe_id IN (SELECT exe_id FROM exe_days "
			  "WHERE day < (SELECT max(complete_from) FROM rollup_state)) AND day < "
			  "(SELECT max(complete_from) FROM rollup_state)",
			  "delete old executable sums")) < 0 ||
	    (r = exec_sql(s, "DELETE FROM exe_days WHERE day < (SELECT max(complete_from) FROM "
			  "rollup_state)", "delete old executable days")) < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	sqlite3_bind_int64(s->prune, 1, before);
	rc = sqlite3_step(s->prune);
	sqlite3_reset(s->prune);
	if (rc != SQLITE_DONE) {
		r = fail_db(s, rc, "delete old entries");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	if (!sqlite3_changes(s->db))
		return exec_sql(s, "COMMIT", "commit");
	r = exec_sql(s, collect_orphans_sql, "delete executables and addresses no entry uses");
	if (r < 0)
		sqlite3_exec(s->db, "ROLLBACK TO orphans; RELEASE orphans;", NULL, NULL, NULL);
	rc = exec_sql(s, "COMMIT", "commit");
	if (rc < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		r = rc;
	}
	/* the cached ids may name rows that are gone */
	id_caches_clear(s);
	return r;
}

/* Close the file, keeping the store (to open it again). */
static void close_db(struct store_sqlite *s)
{
	sqlite3_finalize(s->ins_exe);
	sqlite3_finalize(s->count_conn);
	sqlite3_finalize(s->sel_exe);
	sqlite3_finalize(s->ins_addr);
	sqlite3_finalize(s->sel_addr);
	sqlite3_finalize(s->ins_dom);
	sqlite3_finalize(s->sel_dom);
	sqlite3_finalize(s->ins_conn);
	sqlite3_finalize(s->prune);
	sqlite3_finalize(s->rollup_state);
	sqlite3_finalize(s->ins_rollup);
	sqlite3_finalize(s->ins_exe_day);
	sqlite3_finalize(s->ins_exe_sums);
	s->ins_exe = s->sel_exe = s->ins_addr = s->sel_addr = s->ins_dom = s->sel_dom = NULL;
	s->ins_conn = s->prune = s->rollup_state = s->ins_rollup = s->ins_exe_day = NULL;
	s->count_conn = NULL;
	s->ins_exe_sums = NULL;
	sqlite3_close(s->db);
	s->db = NULL;
	id_caches_clear(s);
}

static void sqlite_close(struct store *base)
{
	struct store_sqlite *s = (struct store_sqlite *)base;

	close_db(s);
	free(s->path);
	free(s);
}

/* snitch.db deleted or replaced while open (by hand, a cleaner, the state
 * directory removed): SQLite would go on writing into the deleted file
 * (or refuse, with SQLITE_READONLY_DBMOVED).  A new one is started where
 * the name leads. */
static int sqlite_check(struct store *base)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	struct stat st;
	int r;

	if (s->db && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino &&
	    st.st_nlink > 0)
		return 0;
	close_db(s);
	if (lstat(s->path, &st) < 0 && errno == ENOENT) {
		/* a write-ahead log left of the file that is gone belongs to it,
		 * not to the new one */
		char side[4200];

		snprintf(side, sizeof(side), "%s-wal", s->path);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", s->path);
		unlink(side);
	}
	r = open_db(s);
	return r < 0 ? r : 1;
}

static const struct store_ops sqlite_ops = {
	.name = "snitch.db",
	.write = sqlite_write,
	.prune = sqlite_prune,
	.rollup = sqlite_rollup,
	.check = sqlite_check,
	.close = sqlite_close,
};

/* A file shorter than its header says (cut by a full disk, a copy or a
 * crash of the file system): SQLite would read what is missing as empty
 * and fail only when a query reaches it.  The header's page count is used
 * only where SQLite itself trusts it (its "version valid for" matches the
 * change counter). */
static int check_length(struct store_sqlite *s)
{
	unsigned char h[100];
	struct stat st;
	uint32_t page_size, pages;
	int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return 0;	/* new, or SQLite will say */
	n = fstat(fd, &st) == 0 ? pread(fd, h, sizeof(h), 0) : -1;
	close(fd);
	if (n == 0)
		return 0;	/* empty: a new database */
	if (n != (ssize_t)sizeof(h) || memcmp(h, "SQLite format 3", 16) != 0) {
		snprintf(s->base.err, sizeof(s->base.err),
			 "database corrupt: %s is not an SQLite database (%lld bytes)", s->path,
			 (long long)st.st_size);
		return -EBADMSG;
	}
	page_size = (uint32_t)h[16] << 8 | h[17];
	if (page_size == 1)
		page_size = 65536;
	pages = (uint32_t)h[28] << 24 | (uint32_t)h[29] << 16 | (uint32_t)h[30] << 8 | h[31];
	if (memcmp(h + 24, h + 92, 4) == 0 && pages &&
	    (uint64_t)st.st_size < (uint64_t)page_size * pages) {
		snprintf(s->base.err, sizeof(s->base.err),
			 "database corrupt: %s is cut short (%lld bytes of the %llu its header "
			 "says)", s->path, (long long)st.st_size,
			 (unsigned long long)page_size * pages);
		return -EBADMSG;
	}
	return 0;
}

/* A write-ahead log left by an unclean end is replayed into the file at
 * open; one from another database (copied in, or left after the file was
 * replaced) would write that database's pages into this one.  Only then
 * is the file checked whole before anything is written to it. */
static int check_after_crash(struct store_sqlite *s, bool had_wal)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	if (!had_wal)
		return 0;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail_db(s, rc, "check the database after an unclean end");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(st, 0);

		if (!res || strcmp(res, "ok") != 0) {
			snprintf(s->base.err, sizeof(s->base.err),
				 "database corrupt: %s fails its integrity check after an unclean "
				 "end: %s", s->path, res ? res : "(no answer)");
			r = -EBADMSG;
		}
	} else {
		r = fail_db(s, rc, "check the database after an unclean end");
	}
	sqlite3_finalize(st);
	return r;
}

int store_sqlite_open(const char *path, struct store **ret, char *err, size_t errlen)
{
	struct store_sqlite *s = calloc(1, sizeof(*s));
	int r;

	if (!s || !(s->path = strdup(path))) {
		free(s);
		return -ENOMEM;
	}
	s->base.ops = &sqlite_ops;
	r = open_db(s);
	if (r < 0) {
		snprintf(err, errlen, "%s", s->base.err);
		sqlite_close(&s->base);
		return r;
	}
	*ret = &s->base;
	return 0;
}

static int open_db(struct store_sqlite *s)
{
	char wal[4200];
	struct stat st;
	bool had_wal;
	int rc, r;

	snprintf(wal, sizeof(wal), "%s-wal", s->path);
	had_wal = lstat(wal, &st) == 0 && st.st_size > 0;
	/* with a write-ahead log, pages the file lacks may be in it (a
	 * checkpoint cut short by a full disk): the whole check after replay
	 * decides then */
	if (!had_wal && (r = check_length(s)) < 0)
		return r;
	rc = sqlite3_open_v2(s->path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		r = fail_db(s, rc, s->path);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* The file belongs to the desktop user, who may have added triggers or
	 * views: they run only as that user (the logger), never with more
	 * than plain SQL (no functions with side effects from the schema),
	 * and the schema cannot be written to outside of SQL. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	/* a reader holding a lock (a user's `BEGIN EXCLUSIVE`) delays a batch
	 * by at most this; the batch is retried at the next window */
	sqlite3_busy_timeout(s->db, 2000);
	/* refuse what cannot be read before writing anything to it */
	if ((r = check_version(s)) < 0 || (r = check_after_crash(s, had_wal)) < 0 ||
	    (r = exec_sql(s, "PRAGMA journal_mode = WAL", "set WAL mode")) < 0 ||
	    (r = exec_sql(s, "PRAGMA synchronous = NORMAL", "set synchronous")) < 0 ||
	    (r = migrate(s)) < 0 ||
	    (r = exec_sql(s, "PRAGMA foreign_keys = ON", "enable foreign keys")) < 0)
		goto fail;
	if ((r = prepare(s, &s->ins_exe,
			 "INSERT OR IGNORE INTO executables(path, name, cmdline, sha256, service) "
			 "VALUES (?, ?, ?, ?, ?)")) < 0 ||
	    (r = prepare(s, &s->sel_exe,
			 "SELECT id FROM executables WHERE path = ? AND name = ? AND cmdline = ? "
			 "AND sha256 = ? AND service = ?")) < 0 ||
	    (r = prepare(s, &s->ins_addr, "INSERT OR IGNORE INTO addresses(address) VALUES (?)")) < 0 ||
	    (r = prepare(s, &s->sel_addr, "SELECT id FROM addresses WHERE address = ?")) < 0 ||
	    (r = prepare(s, &s->ins_dom, "INSERT OR IGNORE INTO domains(domain, source) VALUES (?, ?)")) < 0 ||
	    (r = prepare(s, &s->sel_dom, "SELECT id FROM domains WHERE domain = ? AND source = ?")) < 0 ||
	    (r = prepare(s, &s->ins_conn,
			 "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, "
			 "lport, rport, laddr_id, raddr_id, domain_id, netns, sent, received, flows, "
			 "grandparent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0 ||
	    (r = prepare(s, &s->count_conn,
			 "SELECT count(*) FROM connections WHERE time = ?1 AND exe_id = ?2 AND "
			 "parent_id = ?3 AND uid = ?4 AND family = ?5 AND protocol = ?6 AND lport = ?7 "
			 "AND rport = ?8 AND laddr_id = ?9 AND raddr_id = ?10 AND domain_id = ?11 AND "
			 "netns = ?12 AND sent = ?13 AND received = ?14 AND flows = ?15 AND "
			 "grandparent_id IS ?16")) < 0 ||
	    (r = prepare(s, &s->prune, "DELETE FROM connections WHERE time < ?")) < 0 ||
	    (r = prepare(s, &s->rollup_state,
			 "SELECT max(complete_from), min(complete_until) FROM rollup_state")) < 0 ||
	    (r = prepare(s, &s->ins_rollup,
			 "INSERT OR REPLACE INTO rollups(grain, dim, start, keys, data) "
			 "VALUES (?, ?, ?, ?, ?)")) < 0 ||
	    (r = prepare(s, &s->ins_exe_day,
			 "INSERT OR REPLACE INTO exe_days(exe_id, day, data) VALUES (?, ?, ?)")) < 0 ||
	    (r = prepare(s, &s->ins_exe_sums,
			 "INSERT OR REPLACE INTO exe_sums(exe_id, day, dim, data) VALUES (?, ?, ?, ?)")) < 0)
		goto fail;
	if (lstat(s->path, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	return 0;
fail:
	close_db(s);
	return r;
}
