/* snitch.db: the connection log in SQLite (WAL mode), normalised into
 * executables, addresses and domains, with a flat read-only view for people
 * who browse it by hand.  The schema and its versions are in docs/schema.md. */
#include "storage/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <uthash.h>

/* PRAGMA user_version of the current schema.  1-3 were written by the
 * Python picosnitch (3 is migrated from); 10 was this implementation's
 * first; 11 added the grandparent. */
#define SCHEMA_VERSION 11
#define LEGACY_VERSION 3

#define SCHEMA_TABLES                                                                         \
	"CREATE TABLE executables ("                                                          \
	"  id INTEGER PRIMARY KEY,"                                                           \
	"  path TEXT NOT NULL,"                                                               \
	"  name TEXT NOT NULL,"                                                               \
	"  cmdline TEXT NOT NULL,"                                                            \
	"  sha256 TEXT NOT NULL,"                                                             \
	"  UNIQUE (path, name, cmdline, sha256));"                                            \
	"CREATE TABLE addresses ("                                                            \
	"  id INTEGER PRIMARY KEY,"                                                           \
	"  address TEXT NOT NULL UNIQUE);"                                                    \
	"CREATE TABLE domains ("                                                              \
	"  id INTEGER PRIMARY KEY,"                                                           \
	"  domain TEXT NOT NULL UNIQUE);"                                                     \
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

/* what schema 11 added: also applied when migrating from 10 */
#define SCHEMA_11_VIEW                                                                           \
	"CREATE INDEX connections_gparent_time ON connections(grandparent_id, time);"         \
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

static const char schema_current[] = SCHEMA_TABLES SCHEMA_11_VIEW;

/* 10 -> 11: the grandparent column (NULL for older rows) and the view. */
static const char migrate_v10[] =
	"ALTER TABLE connections ADD COLUMN grandparent_id INTEGER REFERENCES executables(id);"
	"DROP VIEW connection_log;" SCHEMA_11_VIEW;

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
	"INSERT OR IGNORE INTO domains(domain) SELECT ifnull(domain,'') FROM legacy_connections;"
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
	sqlite3 *db;
	sqlite3_stmt *ins_exe, *sel_exe, *ins_addr, *sel_addr, *ins_dom, *sel_dom, *ins_conn,
		*prune;
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

static int fail_db(struct store_sqlite *s, int rc, const char *what)
{
	snprintf(s->base.err, sizeof(s->base.err), "%s: %s", what,
		 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return sqlite_errno(rc);
}

static int exec_sql(struct store_sqlite *s, const char *sql, const char *what)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		snprintf(s->base.err, sizeof(s->base.err), "%s: %s", what,
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return sqlite_errno(rc);
	}
	return 0;
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
	if (version == 10)
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
	} else {
		/* schema 3 of the Python picosnitch, as check_version found */
		if (asprintf(&sql, migrate_legacy, schema_current) < 0) {
			exec_sql(s, "ROLLBACK", "rollback");
			return -ENOMEM;
		}
		r = exec_sql(s, sql, "migrate from Python picosnitch (schema 3)");
		free(sql);
	}
	if (r == 0)
		r = exec_sql(s, "PRAGMA user_version = 11; COMMIT", "commit schema");
	if (r < 0)
		exec_sql(s, "ROLLBACK", "rollback");
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
		  const char *sha256, int64_t *ret)
{
	const char *vals[] = { path, name, cmdline, sha256 };
	char *key;
	int r;

	if (asprintf(&key, "%s\x1f%s\x1f%s\x1f%s", path, name, cmdline, sha256) < 0)
		return -ENOMEM;
	r = lookup_id(s, &s->exes, s->ins_exe, s->sel_exe, key, vals, 4, ret);
	free(key);
	return r;
}

static int addr_id(struct store_sqlite *s, const char *addr, int64_t *ret)
{
	return lookup_id(s, &s->addrs, s->ins_addr, s->sel_addr, addr, &addr, 1, ret);
}

static int domain_id(struct store_sqlite *s, const char *dom, int64_t *ret)
{
	return lookup_id(s, &s->doms, s->ins_dom, s->sel_dom, dom, &dom, 1, ret);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static int write_row(struct store_sqlite *s, const struct conn_row *r)
{
	int64_t exe, parent, gparent, laddr, raddr, dom;
	sqlite3_stmt *st = s->ins_conn;
	int rc, e;

	if ((e = exe_id(s, nz(r->exe), nz(r->name), nz(r->cmdline), nz(r->sha256), &exe)) < 0 ||
	    (e = exe_id(s, nz(r->pexe), nz(r->pname), nz(r->pcmdline), nz(r->psha256), &parent)) < 0 ||
	    (e = exe_id(s, nz(r->gpexe), nz(r->gpname), nz(r->gpcmdline), nz(r->gpsha256), &gparent)) < 0 ||
	    (e = addr_id(s, nz(r->laddr), &laddr)) < 0 || (e = addr_id(s, nz(r->raddr), &raddr)) < 0 ||
	    (e = domain_id(s, nz(r->domain), &dom)) < 0)
		return e;
	sqlite3_bind_int64(st, 1, r->time);
	sqlite3_bind_int64(st, 2, exe);
	sqlite3_bind_int64(st, 3, parent);
	sqlite3_bind_int64(st, 4, r->uid);
	sqlite3_bind_int(st, 5, r->family);
	sqlite3_bind_int(st, 6, r->protocol);
	sqlite3_bind_int64(st, 7, r->lport);
	sqlite3_bind_int64(st, 8, r->rport);
	sqlite3_bind_int64(st, 9, laddr);
	sqlite3_bind_int64(st, 10, raddr);
	sqlite3_bind_int64(st, 11, dom);
	sqlite3_bind_int64(st, 12, (int64_t)r->netns);
	sqlite3_bind_int64(st, 13, (int64_t)r->sent);
	sqlite3_bind_int64(st, 14, (int64_t)r->received);
	sqlite3_bind_int64(st, 15, (int64_t)r->flows);
	sqlite3_bind_int64(st, 16, gparent);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : fail_db(s, rc, "insert connection");
}

static int sqlite_write(struct store *base, const struct conn_row *rows, size_t n)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int r;

	if (n == 0)
		return 0;
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
		exec_sql(s, "ROLLBACK", "rollback");
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

static int sqlite_prune(struct store *base, int64_t before)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int rc, r;

	sqlite3_bind_int64(s->prune, 1, before);
	rc = sqlite3_step(s->prune);
	sqlite3_reset(s->prune);
	if (rc != SQLITE_DONE)
		return fail_db(s, rc, "delete old entries");
	if (!sqlite3_changes(s->db))
		return 0;
	r = exec_sql(s, collect_orphans_sql, "delete executables and addresses no entry uses");
	if (r < 0)
		sqlite3_exec(s->db, "ROLLBACK TO orphans; RELEASE orphans;", NULL, NULL, NULL);
	/* the cached ids may name rows that are gone */
	id_caches_clear(s);
	return r;
}

static void sqlite_close(struct store *base)
{
	struct store_sqlite *s = (struct store_sqlite *)base;

	sqlite3_finalize(s->ins_exe);
	sqlite3_finalize(s->sel_exe);
	sqlite3_finalize(s->ins_addr);
	sqlite3_finalize(s->sel_addr);
	sqlite3_finalize(s->ins_dom);
	sqlite3_finalize(s->sel_dom);
	sqlite3_finalize(s->ins_conn);
	sqlite3_finalize(s->prune);
	sqlite3_close(s->db);
	id_caches_clear(s);
	free(s);
}

static const struct store_ops sqlite_ops = {
	.name = "snitch.db",
	.write = sqlite_write,
	.prune = sqlite_prune,
	.close = sqlite_close,
};

int store_sqlite_open(const char *path, struct store **ret, char *err, size_t errlen)
{
	struct store_sqlite *s = calloc(1, sizeof(*s));
	int rc, r;

	if (!s)
		return -ENOMEM;
	s->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		r = fail_db(s, rc, path);
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
	if ((r = check_version(s)) < 0 ||
	    (r = exec_sql(s, "PRAGMA journal_mode = WAL", "set WAL mode")) < 0 ||
	    (r = exec_sql(s, "PRAGMA synchronous = NORMAL", "set synchronous")) < 0 ||
	    (r = exec_sql(s, "PRAGMA foreign_keys = ON", "enable foreign keys")) < 0 ||
	    (r = migrate(s)) < 0)
		goto fail;
	if ((r = prepare(s, &s->ins_exe,
			 "INSERT OR IGNORE INTO executables(path, name, cmdline, sha256) "
			 "VALUES (?, ?, ?, ?)")) < 0 ||
	    (r = prepare(s, &s->sel_exe,
			 "SELECT id FROM executables WHERE path = ? AND name = ? AND cmdline = ? "
			 "AND sha256 = ?")) < 0 ||
	    (r = prepare(s, &s->ins_addr, "INSERT OR IGNORE INTO addresses(address) VALUES (?)")) < 0 ||
	    (r = prepare(s, &s->sel_addr, "SELECT id FROM addresses WHERE address = ?")) < 0 ||
	    (r = prepare(s, &s->ins_dom, "INSERT OR IGNORE INTO domains(domain) VALUES (?)")) < 0 ||
	    (r = prepare(s, &s->sel_dom, "SELECT id FROM domains WHERE domain = ?")) < 0 ||
	    (r = prepare(s, &s->ins_conn,
			 "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, "
			 "lport, rport, laddr_id, raddr_id, domain_id, netns, sent, received, flows, "
			 "grandparent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0 ||
	    (r = prepare(s, &s->prune, "DELETE FROM connections WHERE time < ?")) < 0)
		goto fail;
	*ret = &s->base;
	return 0;
fail:
	snprintf(err, errlen, "%s", s->base.err);
	sqlite_close(&s->base);
	return r;
}
