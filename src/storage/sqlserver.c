/* "DB sql server": its settings, the tables, and what both clients share
 * (the transaction of a batch, the schema check, the fleet's heartbeats);
 * sqlserver_pg.c and sqlserver_mariadb.c speak to the servers. */
#include "storage/sqlserver.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geo/utf8.h"
#include "util/fsutil.h"
#include "util/strutil.h"

const char *const sqlsrv_entry_columns[SQLSRV_ENTRY_COLUMNS] = {
	"host",	  "machine_id", "boot_id",  "seq",     "time",	 "sent",     "received", "flows",
	"exe",	  "name",	"cmdline",  "sha256",  "pexe",	 "pname",    "pcmdline", "psha256",
	"gpexe",  "gpname",	"gpcmdline", "gpsha256", "uid",	 "lport",    "rport",	 "laddr",
	"raddr",  "domain",	"family",   "protocol", "netns",
};

const char *const sqlsrv_batch_columns[SQLSRV_BATCH_COLUMNS] = {
	"machine_id", "boot_id", "seq", "host", "time", "window_seconds", "entries",
};

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

void sqlsrv_set_err(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t n = msg ? strnlen(msg, 600) : 0, k = 0;
	char one[601], *safe;

	/* libraries break their messages into lines: one line here, each run
	 * of white space one space */
	for (size_t i = 0; i < n; i++) {
		bool space = msg[i] == '\n' || msg[i] == '\t' || msg[i] == '\r' || msg[i] == ' ';

		if (space && (k == 0 || one[k - 1] == ' '))
			continue;
		one[k++] = space ? ' ' : msg[i];
	}
	while (k && one[k - 1] == ' ')
		k--;
	safe = text_from_bytes(one, k);
	snprintf(err, errlen, "%s: %s", what, safe ? safe : "(out of memory)");
	free(safe);
}

int sqlsrv_failed(char *err, size_t errlen, const char *what, const char *msg,
		  const char *fallback, bool lost)
{
	sqlsrv_set_err(err, errlen, what, msg && *msg ? msg : fallback);
	return lost ? -ECONNRESET : -EIO;
}

int sqlsrv_too_big(char *err, size_t errlen, const char *what, uint64_t max, const char *unit)
{
	snprintf(err, errlen, "%s: the answer has more than %" PRIu64 " %s", what, max, unit);
	return -E2BIG;
}

#define ANSWER_MAX (64ull << 20)

uint64_t sqlsrv_answer_max(void)
{
	const char *t = getenv("PICOSNITCH_TEST_SQL_ANSWER_MAX");
	char *end;
	unsigned long long v;

	if (!t || !*t)
		return ANSWER_MAX;
	errno = 0;
	v = strtoull(t, &end, 10);
	/* only ever smaller: the variable cannot lift the bound */
	return errno || *end || v < 1024 || v > ANSWER_MAX ? ANSWER_MAX : v;
}

const char *sqlsrv_client_name(enum sqlsrv_client c)
{
	return c == SQLSRV_POSTGRESQL ? "PostgreSQL" : "MariaDB";
}

int64_t sqlsrv_stale_after(uint32_t window)
{
	return 2 * (int64_t)(window ? window : 10) + 60;
}

/* ---- settings ---- */

static bool identifier_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SQLSRV_TABLE_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* A setting's text: a string without NUL or control characters, bounded. */
static int take_str(const json_t *v, const char *key, char **out, char *err, size_t errlen)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return fail(err, errlen, -EINVAL,
			    "config.json: \"DB sql server\" \"%s\" must be a string", key);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n > 4096 || strlen(s) != n)
		return fail(err, errlen, -EINVAL,
			    "config.json: \"DB sql server\" \"%s\" is too long or holds a NUL", key);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(err, errlen, -EINVAL,
				    "config.json: \"DB sql server\" \"%s\" holds a control character",
				    key);
	free(*out);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int take_uint(const json_t *v, const char *key, unsigned max, unsigned *out, char *err,
		     size_t errlen)
{
	uint64_t n;

	/* 1.x passed these to Python clients, which took numbers or strings */
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    (uint64_t)json_integer_value(v) <= max) {
		*out = (unsigned)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && parse_u64(json_string_value(v), &n) == 0 && n <= max) {
		*out = (unsigned)n;
		return 0;
	}
	return fail(err, errlen, -EINVAL,
		    "config.json: \"DB sql server\" \"%s\" must be an integer from 0 to %u", key,
		    max);
}

static const char *const known_keys =
	"client, table_name, host, port, user, password, password_file, dbname (or database), "
	"unix_socket, connect_timeout, spool (MiB), sslmode, sslrootcert, sslcert, sslkey, "
	"sslcrl (PostgreSQL), ssl, ssl_ca, ssl_cert, ssl_key, ssl_verify_server_cert (MariaDB)";

int sqlsrv_cfg_parse(const json_t *obj, struct sqlsrv_cfg *c, char *err, size_t errlen)
{
	const char *key, *client;
	json_t *v;
	int r = 0;

	memset(c, 0, sizeof(*c));
	c->ssl_verify_server_cert = -1;
	c->connect_timeout = 10;
	c->spool_bytes = (uint64_t)SQLSRV_SPOOL_DEFAULT_MIB << 20;
	snprintf(c->table, sizeof(c->table), "connections");
	if (!json_is_object(obj) || json_object_size(obj) == 0)
		return -ENOENT;
	v = json_object_get(obj, "client");
	if (!v || !json_is_string(v))
		return fail(err, errlen, -EINVAL,
			    "config.json: \"DB sql server\" needs \"client\": \"postgresql\" or "
			    "\"mariadb\" (1.x's \"psycopg\", \"psycopg2\", \"pymysql\" work too)");
	client = json_string_value(v);
	if (!strcmp(client, "postgresql") || !strcmp(client, "postgres") ||
	    !strcmp(client, "psycopg") || !strcmp(client, "psycopg2"))
		c->client = SQLSRV_POSTGRESQL;
	else if (!strcmp(client, "mariadb") || !strcmp(client, "mysql") ||
		 !strcmp(client, "pymysql"))
		c->client = SQLSRV_MARIADB;
	else
		return fail(err, errlen, -EINVAL,
			    "config.json: \"DB sql server\" \"client\" is \"%.40s\": it must be "
			    "\"postgresql\" (or psycopg, psycopg2) or \"mariadb\" (or mysql, pymysql)",
			    client);
	json_object_foreach((json_t *)obj, key, v) {
		bool pg = c->client == SQLSRV_POSTGRESQL;

		if (!strcmp(key, "client"))
			continue;
		if (!strcmp(key, "table_name")) {
			if (!json_is_string(v) || !identifier_ok(json_string_value(v))) {
				r = fail(err, errlen, -EINVAL,
					 "config.json: \"DB sql server\" \"table_name\" must be a name "
					 "of letters, digits and _ (at most %d, not starting with a "
					 "digit)", SQLSRV_TABLE_MAX);
				break;
			}
			snprintf(c->table, sizeof(c->table), "%s", json_string_value(v));
		} else if (!strcmp(key, "host")) {
			r = take_str(v, key, &c->host, err, errlen);
		} else if (!strcmp(key, "port")) {
			r = take_uint(v, key, 65535, &c->port, err, errlen);
		} else if (!strcmp(key, "connect_timeout")) {
			r = take_uint(v, key, 3600, &c->connect_timeout, err, errlen);
			if (r == 0 && c->connect_timeout == 0)
				c->connect_timeout = 10;	/* never wait forever */
		} else if (!strcmp(key, "spool (MiB)")) {
			unsigned mib;

			r = take_uint(v, key, 1 << 20, &mib, err, errlen);
			if (r == 0 && mib == 0)
				r = fail(err, errlen, -EINVAL,
					 "config.json: \"DB sql server\" \"spool (MiB)\" must be at "
					 "least 1");
			c->spool_bytes = (uint64_t)mib << 20;
		} else if (!strcmp(key, "user")) {
			r = take_str(v, key, &c->user, err, errlen);
		} else if (!strcmp(key, "password")) {
			r = take_str(v, key, &c->password, err, errlen);
		} else if (!strcmp(key, "password_file")) {
			r = take_str(v, key, &c->password_file, err, errlen);
			if (r == 0 && c->password_file[0] != '/')
				r = fail(err, errlen, -EINVAL,
					 "config.json: \"DB sql server\" \"password_file\" must be an "
					 "absolute path");
		} else if (!strcmp(key, "dbname") || !strcmp(key, "database") ||
			   !strcmp(key, "db")) {
			char *was = c->dbname;

			c->dbname = NULL;
			r = take_str(v, key, &c->dbname, err, errlen);
			if (r == 0 && was && strcmp(was, c->dbname))
				r = fail(err, errlen, -EINVAL,
					 "config.json: \"DB sql server\" names two different "
					 "databases (dbname, database)");
			free(was);
		} else if (!pg && !strcmp(key, "unix_socket")) {
			r = take_str(v, key, &c->unix_socket, err, errlen);
		} else if (pg && !strcmp(key, "sslmode")) {
			r = take_str(v, key, &c->sslmode, err, errlen);
		} else if (pg && !strcmp(key, "sslrootcert")) {
			r = take_str(v, key, &c->sslrootcert, err, errlen);
		} else if (pg && !strcmp(key, "sslcert")) {
			r = take_str(v, key, &c->sslcert, err, errlen);
		} else if (pg && !strcmp(key, "sslkey")) {
			r = take_str(v, key, &c->sslkey, err, errlen);
		} else if (pg && !strcmp(key, "sslcrl")) {
			r = take_str(v, key, &c->sslcrl, err, errlen);
		} else if (!pg && (!strcmp(key, "ssl_ca") || !strcmp(key, "ssl-ca"))) {
			r = take_str(v, key, &c->ssl_ca, err, errlen);
		} else if (!pg && (!strcmp(key, "ssl_cert") || !strcmp(key, "ssl-cert"))) {
			r = take_str(v, key, &c->ssl_cert, err, errlen);
		} else if (!pg && (!strcmp(key, "ssl_key") || !strcmp(key, "ssl-key"))) {
			r = take_str(v, key, &c->ssl_key, err, errlen);
		} else if (!pg && (!strcmp(key, "ssl_verify_server_cert") ||
				   !strcmp(key, "ssl_verify_cert"))) {
			if (!json_is_boolean(v))
				r = fail(err, errlen, -EINVAL,
					 "config.json: \"DB sql server\" \"%s\" must be true or false",
					 key);
			else
				c->ssl_verify_server_cert = json_is_true(v);
		} else if (!pg && !strcmp(key, "ssl")) {
			if (!json_is_boolean(v))
				r = fail(err, errlen, -EINVAL,
					 "config.json: \"DB sql server\" \"ssl\" must be true or false");
			else
				c->ssl = json_is_true(v);
		} else {
			char *safe = text_from_bytes(key, strnlen(key, 60));

			r = fail(err, errlen, -EINVAL,
				 "config.json: \"DB sql server\" has the key \"%s\", which %s does "
				 "not take; the keys are: %s", safe ? safe : "?",
				 sqlsrv_client_name(c->client), known_keys);
			free(safe);
		}
		if (r < 0)
			break;
	}
	if (r == 0 && c->password && c->password_file)
		r = fail(err, errlen, -EINVAL,
			 "config.json: \"DB sql server\" has both \"password\" and \"password_file\"");
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		sqlsrv_cfg_free(c);
	}
	return r;
}

int sqlsrv_cfg_load_password(struct sqlsrv_cfg *c, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	int r;

	if (!c->password_file)
		return 0;
	r = read_file(c->password_file, SQLSRV_PASSWORD_MAX + 2, &text, &len);
	if (r < 0)
		return fail(err, errlen, r, "cannot read the password file %s: %s", c->password_file,
			    strerror(-r));
	if (len && text[len - 1] == '\n')
		text[--len] = '\0';
	if (len && text[len - 1] == '\r')
		text[--len] = '\0';
	if (len > SQLSRV_PASSWORD_MAX || strlen(text) != len) {
		explicit_bzero(text, len);
		free(text);
		return fail(err, errlen, -EINVAL,
			    "the password file %s is longer than %d bytes or holds a NUL",
			    c->password_file, SQLSRV_PASSWORD_MAX);
	}
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	c->password = text;
	return 0;
}

void sqlsrv_cfg_free(struct sqlsrv_cfg *c)
{
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	char **all[] = { &c->host,    &c->user,	      &c->password, &c->password_file, &c->dbname,
			 &c->unix_socket, &c->sslmode,   &c->sslrootcert, &c->sslcert, &c->sslkey,
			 &c->sslcrl,  &c->ssl_ca,     &c->ssl_cert, &c->ssl_key };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
}

/* ---- the tables ---- */

char *sqlsrv_schema_sql(enum sqlsrv_client client, const char *table)
{
	bool pg = client == SQLSRV_POSTGRESQL;
	const char *text = "TEXT NOT NULL", *host = pg ? "TEXT NOT NULL" : "VARCHAR(255) NOT NULL";
	const char *tail = pg ? "" : " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb,
		    "CREATE TABLE %s (\n"
		    "  host %s,\n"
		    "  machine_id CHAR(32) NOT NULL,\n"
		    "  boot_id CHAR(36) NOT NULL,\n"
		    "  seq BIGINT NOT NULL,\n"
		    "  time BIGINT NOT NULL,\n"
		    "  sent BIGINT NOT NULL,\n"
		    "  received BIGINT NOT NULL,\n"
		    "  flows BIGINT NOT NULL,\n",
		    table, host);
	for (int i = 8; i < 20; i++)
		strbuf_addf(&sb, "  %s %s,\n", sqlsrv_entry_columns[i], text);
	strbuf_addf(&sb,
		    "  uid BIGINT NOT NULL,\n"
		    "  lport INTEGER NOT NULL,\n"
		    "  rport INTEGER NOT NULL,\n"
		    "  laddr %s,\n"
		    "  raddr %s,\n"
		    "  domain %s,\n"
		    "  family INTEGER NOT NULL,\n"
		    "  protocol INTEGER NOT NULL,\n"
		    "  netns BIGINT NOT NULL)%s;\n"
		    "CREATE INDEX %s_time ON %s (time);\n"
		    "CREATE INDEX %s_machine ON %s (machine_id, time);\n"
		    "CREATE TABLE %s_batches (\n"
		    "  machine_id CHAR(32) NOT NULL,\n"
		    "  boot_id CHAR(36) NOT NULL,\n"
		    "  seq BIGINT NOT NULL,\n"
		    "  host %s,\n"
		    "  time BIGINT NOT NULL,\n"
		    "  window_seconds INTEGER NOT NULL,\n"
		    "  entries BIGINT NOT NULL,\n"
		    "  PRIMARY KEY (machine_id, boot_id, seq))%s;\n"
		    "CREATE INDEX %s_batches_time ON %s_batches (machine_id, time);\n",
		    text, text, text, tail, table, table, table, table, table, host, tail, table,
		    table);
	return strbuf_detach(&sb);
}

/* Each statement of the schema, as one call (libpq takes several at once,
 * libmariadb one). */
static int make_tables(struct sqlsrv *s, char *state, char *err, size_t errlen)
{
	char *sql = sqlsrv_schema_sql(s->cfg->client, s->table), *stmt, *save = NULL;
	int r = 0;

	if (!sql)
		return -ENOMEM;
	/* PostgreSQL makes both or neither; MariaDB commits each CREATE */
	if (s->cfg->client == SQLSRV_POSTGRESQL)
		r = s->ops->exec(s, "BEGIN", state, err, errlen);
	for (stmt = strtok_r(sql, ";", &save); r == 0 && stmt; stmt = strtok_r(NULL, ";", &save)) {
		if (strspn(stmt, " \n") == strlen(stmt))
			continue;
		r = s->ops->exec(s, stmt, state, err, errlen);
	}
	if (s->cfg->client == SQLSRV_POSTGRESQL) {
		char st[8], e[8];

		s->ops->exec(s, r == 0 ? "COMMIT" : "ROLLBACK", st, e, sizeof(e));
	}
	free(sql);
	return r;
}

struct columns {
	char names[40][32];
	size_t n;
	bool more;
};

static int column_row(void *ctx, size_t ncols, const char *const *vals, const size_t *lens)
{
	struct columns *c = ctx;

	if (ncols < 1 || !vals[0])
		return 0;
	if (c->n == 40) {
		c->more = true;
		return 0;
	}
	snprintf(c->names[c->n++], 32, "%.*s", (int)(lens[0] < 31 ? lens[0] : 31), vals[0]);
	return 0;
}

static int table_columns(struct sqlsrv *s, const char *table, struct columns *c, char *err,
			 size_t errlen)
{
	const char *sql = s->cfg->client == SQLSRV_POSTGRESQL
				  ? "SELECT column_name FROM information_schema.columns WHERE "
				    "table_schema = current_schema() AND table_name = $1 "
				    "ORDER BY ordinal_position"
				  : "SELECT column_name FROM information_schema.columns WHERE "
				    "table_schema = DATABASE() AND table_name = $1 "
				    "ORDER BY ordinal_position";
	const char *params[1] = { table };

	memset(c, 0, sizeof(*c));
	return s->ops->query(s, sql, 1, params, 41, column_row, c, err, errlen);
}

static void join_columns(const struct columns *c, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->n && used < size; i++) {
		char *safe = text_from_bytes(c->names[i], strlen(c->names[i]));
		int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", safe ? safe : "?");

		free(safe);
		if (n > 0)
			used += (size_t)n;
	}
}

static int check_table(struct sqlsrv *s, const char *table, const char *const *want, size_t nwant,
		       char *err, size_t errlen)
{
	struct columns c;
	char have[600];
	int r = table_columns(s, table, &c, err, errlen);

	if (r < 0)
		return r;
	if (c.n == 0)
		return -ENOENT;
	bool same = c.n == nwant && !c.more;

	for (size_t i = 0; same && i < nwant; i++)
		same = !strcmp(c.names[i], want[i]);
	if (same)
		return 0;
	join_columns(&c, have, sizeof(have));
	return fail(err, errlen, -EPROTO,
		    "the table %s on the %s server has the columns (%s%s), not the %zu that "
		    "picosnitch writes (%s, %s, ... %s; docs/schema.md): a table of another program "
		    "or of picosnitch 1.x? Choose another \"table_name\" or move it aside",
		    table, sqlsrv_client_name(s->cfg->client), have, c.more ? ", ..." : "", nwant,
		    want[0], want[1], want[nwant - 1]);
}

int sqlsrv_prepare(struct sqlsrv *s, bool create, char *err, size_t errlen)
{
	char batches[SQLSRV_TABLE_MAX + 16], state[8];
	int r1, r2, r;

	snprintf(batches, sizeof(batches), "%s_batches", s->table);
	r1 = check_table(s, s->table, sqlsrv_entry_columns, SQLSRV_ENTRY_COLUMNS, err, errlen);
	if (r1 < 0 && r1 != -ENOENT)
		return r1;
	r2 = check_table(s, batches, sqlsrv_batch_columns, SQLSRV_BATCH_COLUMNS, err, errlen);
	if (r2 < 0 && r2 != -ENOENT)
		return r2;
	if (r1 == 0 && r2 == 0)
		return 0;
	if (r1 == 0 || r2 == 0)
		return fail(err, errlen, -EPROTO,
			    "the %s server has the table %s but not %s: picosnitch needs both "
			    "(docs/schema.md)",
			    sqlsrv_client_name(s->cfg->client), r1 == 0 ? s->table : batches,
			    r1 == 0 ? batches : s->table);
	if (!create)
		return fail(err, errlen, -ENOENT,
			    "the tables %s and %s are not on the %s server (or this user has no "
			    "right on them)", s->table, batches, sqlsrv_client_name(s->cfg->client));
	r = make_tables(s, state, err, errlen);
	if (r < 0) {
		char why[400];

		snprintf(why, sizeof(why), "%s", err);
		return fail(err, errlen, -ENOENT,
			    "the tables %s and %s are not on the %s server (or this user has no "
			    "right on them), and making them failed (%s): make them as "
			    "`picosnitch sql-schema` prints, and grant this user INSERT on both and "
			    "SELECT (machine_id, boot_id, seq) on %s",
			    s->table, batches, sqlsrv_client_name(s->cfg->client), why, batches);
	}
	r1 = check_table(s, s->table, sqlsrv_entry_columns, SQLSRV_ENTRY_COLUMNS, err, errlen);
	if (r1 == 0)
		r1 = check_table(s, batches, sqlsrv_batch_columns, SQLSRV_BATCH_COLUMNS, err,
				 errlen);
	if (r1 == -ENOENT)
		return fail(err, errlen, -ENOENT,
			    "the tables %s and %s were made but this user cannot see them",
			    s->table, batches);
	return r1;
}

/* ---- batches ---- */

void sqlsrv_row_values(const struct sqlsrv_batch *b, const struct conn_row *r,
		       const char *vals[SQLSRV_ENTRY_COLUMNS], char num[][24])
{
	int64_t nums[] = { 0, 0, 0, (int64_t)b->seq,
			   r->time, r->sent > INT64_MAX ? INT64_MAX : (int64_t)r->sent,
			   r->received > INT64_MAX ? INT64_MAX : (int64_t)r->received,
			   r->flows > INT64_MAX ? INT64_MAX : (int64_t)r->flows };
	const char *strs[12] = { r->exe,  r->name,  r->cmdline,	  r->sha256, r->pexe,	r->pname,
				 r->pcmdline, r->psha256, r->gpexe, r->gpname, r->gpcmdline,
				 r->gpsha256 };

	vals[0] = b->host;
	vals[1] = b->machine_id;
	vals[2] = b->boot_id;
	for (int i = 3; i < 8; i++) {
		snprintf(num[i], 24, "%" PRId64, nums[i]);
		vals[i] = num[i];
	}
	for (int i = 0; i < 12; i++)
		vals[8 + i] = strs[i] ? strs[i] : "";
	snprintf(num[20], 24, "%" PRId64, r->uid);
	snprintf(num[21], 24, "%" PRId64, r->lport);
	snprintf(num[22], 24, "%" PRId64, r->rport);
	vals[20] = num[20];
	vals[21] = num[21];
	vals[22] = num[22];
	vals[23] = r->laddr ? r->laddr : "";
	vals[24] = r->raddr ? r->raddr : "";
	vals[25] = r->domain ? r->domain : "";
	snprintf(num[26], 24, "%d", r->family);
	snprintf(num[27], 24, "%d", r->protocol);
	snprintf(num[28], 24, "%" PRIu64, r->netns > INT64_MAX ? (uint64_t)INT64_MAX : r->netns);
	vals[26] = num[26];
	vals[27] = num[27];
	vals[28] = num[28];
}

struct found {
	bool any;
};

static int found_row(void *ctx, size_t ncols, const char *const *vals, const size_t *lens)
{
	((struct found *)ctx)->any = true;
	return 0;
}

int sqlsrv_has_batch(struct sqlsrv *s, const struct sqlsrv_batch *b, char *err, size_t errlen)
{
	char sql[256], seq[24];
	const char *params[3] = { b->machine_id, b->boot_id, seq };
	struct found f = { false };
	int r;

	snprintf(seq, sizeof(seq), "%" PRIu64, b->seq);
	snprintf(sql, sizeof(sql),
		 "SELECT seq FROM %s_batches WHERE machine_id = $1 AND boot_id = $2 AND seq = $3",
		 s->table);
	r = s->ops->query(s, sql, 3, params, 1, found_row, &f, err, errlen);
	return r < 0 ? r : f.any;
}

/* entries per INSERT: PostgreSQL takes at most 65535 parameters */
#define ROWS_PER_INSERT 1000

int sqlsrv_write_batch(struct sqlsrv *s, const struct sqlsrv_batch *b, char *err, size_t errlen)
{
	char state[8], e2[8];
	int r;

	r = s->ops->exec(s, s->cfg->client == SQLSRV_POSTGRESQL ? "BEGIN" : "START TRANSACTION",
			 state, err, errlen);
	if (r < 0)
		return r;
	/* the batch row first: the primary key refuses a batch written before */
	r = s->ops->insert_batch(s, b, state, err, errlen);
	if (r < 0) {
		s->ops->exec(s, "ROLLBACK", e2, e2, sizeof(e2));
		return !strcmp(state, "23") ? 1 : r;
	}
	for (size_t i = 0; i < b->n; i += ROWS_PER_INSERT) {
		size_t to = i + ROWS_PER_INSERT < b->n ? i + ROWS_PER_INSERT : b->n;

		r = s->ops->insert_rows(s, b, i, to, err, errlen);
		if (r < 0) {
			s->ops->exec(s, "ROLLBACK", e2, e2, sizeof(e2));
			return r;
		}
	}
	return s->ops->exec(s, "COMMIT", state, err, errlen);
}

/* ---- the fleet ---- */

struct machines {
	struct sqlsrv_machine *m;
	size_t n, cap;
};

static int64_t to_i64(const char *v, size_t len)
{
	char buf[32];

	if (!v || len >= sizeof(buf))
		return 0;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return strtoll(buf, NULL, 10);
}

static int machine_row(void *ctx, size_t ncols, const char *const *vals, const size_t *lens)
{
	struct machines *ms = ctx;
	struct sqlsrv_machine m = { 0 };
	char *safe;

	if (ncols < 6 || !vals[1] || lens[1] > 32)
		return 0;
	memcpy(m.machine_id, vals[1], lens[1]);
	for (size_t i = 0; i < ms->n; i++)
		if (!strcmp(ms->m[i].machine_id, m.machine_id))
			return 0;	/* two batches ended at once */
	safe = text_from_bytes(vals[0] ? vals[0] : "", vals[0] ? (lens[0] > 255 ? 255 : lens[0]) : 0);
	if (!safe)
		return -ENOMEM;
	snprintf(m.host, sizeof(m.host), "%s", safe);
	free(safe);
	m.last = to_i64(vals[2], lens[2]);
	int64_t w = to_i64(vals[3], lens[3]);

	m.window = w > 0 && w <= 86400 ? (uint32_t)w : 0;
	m.batches = (uint64_t)to_i64(vals[4], lens[4]);
	m.entries = (uint64_t)to_i64(vals[5], lens[5]);
	if (ms->n == ms->cap) {
		size_t cap = ms->cap ? ms->cap * 2 : 16;
		struct sqlsrv_machine *p = realloc(ms->m, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ms->m = p;
		ms->cap = cap;
	}
	ms->m[ms->n++] = m;
	return 0;
}

int sqlsrv_machines(struct sqlsrv *s, struct sqlsrv_machine **ret, size_t *n, char *err,
		    size_t errlen)
{
	struct machines ms = { 0 };
	char sql[1024];
	int r;

	snprintf(sql, sizeof(sql),
		 "SELECT b.host, b.machine_id, b.time, b.window_seconds, g.n, g.e "
		 "FROM %s_batches b JOIN (SELECT machine_id, max(time) AS t, count(*) AS n, "
		 "sum(entries) AS e FROM %s_batches GROUP BY machine_id) g "
		 "ON b.machine_id = g.machine_id AND b.time = g.t "
		 "ORDER BY b.host, b.machine_id",
		 s->table, s->table);
	r = s->ops->query(s, sql, 0, NULL, SQLSRV_MACHINES_MAX * 4, machine_row, &ms, err, errlen);
	if (r < 0) {
		free(ms.m);
		return r;
	}
	*ret = ms.m;
	*n = ms.n;
	return 0;
}

/* ---- the fleet view: the server's entries into a snitch.db ---- */

#define PULL_BATCH 5000
#define PULL_TEXTS 15

struct pull {
	struct store *dst;
	struct conn_row rows[PULL_BATCH];
	char *texts[PULL_BATCH][PULL_TEXTS];
	size_t n;
	uint64_t copied, bad;
	int err;
};

static bool num_in(const char *v, size_t len, int64_t min, int64_t max, int64_t *out)
{
	char buf[24], *end;
	long long n;

	if (!v || len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoll(buf, &end, 10);
	if (errno || *end || n < min || n > max)
		return false;
	*out = n;
	return true;
}

static void pull_flush(struct pull *p)
{
	if (p->n && p->err == 0) {
		int r = store_write(p->dst, p->rows, p->n);

		if (r < 0)
			p->err = r;
		else
			p->copied += p->n;
	}
	for (size_t i = 0; i < p->n; i++)
		for (int k = 0; k < PULL_TEXTS; k++)
			free(p->texts[i][k]);
	p->n = 0;
}

/* columns: time sent received flows, 12 texts, uid lport rport, 3 texts,
 * family protocol netns */
static int pull_row(void *ctx, size_t ncols, const char *const *vals, const size_t *lens)
{
	struct pull *p = ctx;
	struct conn_row *r = &p->rows[p->n];
	char **t = p->texts[p->n];
	int64_t n[10];
	static const int textcol[PULL_TEXTS] = { 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
						 19, 20, 21 };

	if (ncols != 25 || !num_in(vals[0], lens[0], 0, INT64_MAX, &n[0]) ||
	    !num_in(vals[1], lens[1], 0, INT64_MAX, &n[1]) ||
	    !num_in(vals[2], lens[2], 0, INT64_MAX, &n[2]) ||
	    !num_in(vals[3], lens[3], 0, INT64_MAX, &n[3]) ||
	    !num_in(vals[16], lens[16], -1, UINT32_MAX, &n[4]) ||
	    !num_in(vals[17], lens[17], -1, 65535, &n[5]) ||
	    !num_in(vals[18], lens[18], -1, 65535, &n[6]) ||
	    !num_in(vals[22], lens[22], 0, 255, &n[7]) ||
	    !num_in(vals[23], lens[23], 0, 65535, &n[8]) ||
	    !num_in(vals[24], lens[24], 0, INT64_MAX, &n[9])) {
		p->bad++;
		return 0;
	}
	for (int k = 0; k < PULL_TEXTS; k++) {
		const char *v = vals[textcol[k]] ? vals[textcol[k]] : "";
		size_t len = vals[textcol[k]] ? lens[textcol[k]] : 0;

		if (len > SQLSRV_TEXT_MAX)
			len = SQLSRV_TEXT_MAX;
		/* what picosnitch wrote is clean; anything else is made so */
		t[k] = utf8_is_clean(v, len) ? strndup(v, len) : text_from_bytes(v, len);
		if (!t[k]) {
			while (k--)
				free(t[k]);
			return -ENOMEM;
		}
	}
	*r = (struct conn_row){
		.time = n[0], .sent = (uint64_t)n[1], .received = (uint64_t)n[2],
		.flows = (uint64_t)n[3], .exe = t[0], .name = t[1], .cmdline = t[2],
		.sha256 = t[3], .pexe = t[4], .pname = t[5], .pcmdline = t[6], .psha256 = t[7],
		.gpexe = t[8], .gpname = t[9], .gpcmdline = t[10], .gpsha256 = t[11],
		.uid = n[4], .lport = n[5], .rport = n[6], .laddr = t[12], .raddr = t[13],
		.domain = t[14], .family = (int)n[7], .protocol = (int)n[8], .netns = (uint64_t)n[9],
	};
	if (++p->n == PULL_BATCH)
		pull_flush(p);
	return p->err;
}

int sqlsrv_pull(struct sqlsrv *s, const char *machine, int64_t since, struct store *dst,
		uint64_t max_rows, uint64_t *rows, uint64_t *bad, char *err, size_t errlen)
{
	struct pull *p = calloc(1, sizeof(*p));
	char sql[1024], from[24];
	const char *params[2] = { from, machine };
	int r;

	if (!p)
		return -ENOMEM;
	p->dst = dst;
	snprintf(from, sizeof(from), "%" PRId64, since);
	snprintf(sql, sizeof(sql),
		 "SELECT time, sent, received, flows, exe, name, cmdline, sha256, pexe, pname, "
		 "pcmdline, psha256, gpexe, gpname, gpcmdline, gpsha256, uid, lport, rport, laddr, "
		 "raddr, domain, family, protocol, netns FROM %s WHERE time >= $1%s",
		 s->table, machine ? " AND (host = $2 OR machine_id = $2)" : "");
	r = s->ops->query(s, sql, machine ? 2 : 1, params, max_rows, pull_row, p, err, errlen);
	pull_flush(p);
	if (r == 0 && p->err < 0) {
		r = p->err;
		snprintf(err, errlen, "cannot write the copy: %s", dst->err);
	}
	*rows = p->copied;
	*bad = p->bad;
	free(p);
	return r;
}

/* the batches of a machine after a sequence number: how far to copy */
struct upto {
	uint64_t budget, entries, seq;
	size_t seen;
	bool full;
};

static int upto_row(void *ctx, size_t ncols, const char *const *vals, const size_t *lens)
{
	struct upto *u = ctx;
	int64_t seq, n;

	u->seen++;
	if (u->full || ncols != 2 || !num_in(vals[0], lens[0], 1, INT64_MAX, &seq) ||
	    !num_in(vals[1], lens[1], 0, INT64_MAX, &n))
		return 0;
	/* at least one batch, then as many as fit */
	if (u->seq && u->entries + (uint64_t)n > u->budget) {
		u->full = true;
		return 0;
	}
	u->entries += (uint64_t)n;
	u->seq = (uint64_t)seq;
	return 0;
}

#define BATCHES_PER_PULL 10000

int sqlsrv_pull_batches(struct sqlsrv *s, const char *machine_id, uint64_t after, int64_t since,
			struct store *dst, uint64_t max_rows, struct sqlsrv_pulled *got, char *err,
			size_t errlen)
{
	struct upto u = { .budget = max_rows };
	struct pull *p;
	char sql[1024], a[24], from[24], to[24];
	const char *params[4] = { machine_id, a, to, from };
	int r;

	*got = (struct sqlsrv_pulled){ .last_seq = after };
	snprintf(a, sizeof(a), "%" PRIu64, after);
	snprintf(from, sizeof(from), "%" PRId64, since);
	snprintf(sql, sizeof(sql),
		 "SELECT seq, entries FROM %s_batches WHERE machine_id = $1 AND seq > $2 AND "
		 "time >= $3 ORDER BY seq LIMIT %d", s->table, BATCHES_PER_PULL);
	{
		const char *bp[3] = { machine_id, a, from };

		r = s->ops->query(s, sql, 3, bp, BATCHES_PER_PULL, upto_row, &u, err, errlen);
	}
	if (r < 0 || u.seq == 0)
		return r;
	got->more = u.full || u.seen == BATCHES_PER_PULL;
	snprintf(to, sizeof(to), "%" PRIu64, u.seq);
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->dst = dst;
	snprintf(sql, sizeof(sql),
		 "SELECT time, sent, received, flows, exe, name, cmdline, sha256, pexe, pname, "
		 "pcmdline, psha256, gpexe, gpname, gpcmdline, gpsha256, uid, lport, rport, laddr, "
		 "raddr, domain, family, protocol, netns FROM %s WHERE machine_id = $1 AND "
		 "seq > $2 AND seq <= $3 AND time >= $4", s->table);
	/* the batches' own count bounds the answer (a server may lie) */
	r = s->ops->query(s, sql, 4, params, u.entries > max_rows ? u.entries : max_rows, pull_row,
			  p, err, errlen);
	pull_flush(p);
	if (r == 0 && p->err < 0) {
		r = p->err;
		snprintf(err, errlen, "cannot write the copy: %s", dst->err);
	}
	got->rows = p->copied;
	got->bad = p->bad;
	if (r == 0)
		got->last_seq = u.seq;
	free(p);
	return r;
}

int sqlsrv_query(struct sqlsrv *s, const char *sql, size_t nparams, const char *const *params,
		 size_t max_rows, sqlsrv_row_fn fn, void *ctx, char *err, size_t errlen)
{
	return s->ops->query(s, sql, nparams, params, max_rows, fn, ctx, err, errlen);
}

int sqlsrv_connect(const struct sqlsrv_cfg *c, struct sqlsrv **ret, char *err, size_t errlen)
{
	*ret = NULL;
	if (c->client == SQLSRV_POSTGRESQL)
		return sqlsrv_pg_connect(c, ret, err, errlen);
	return sqlsrv_mariadb_connect(c, ret, err, errlen);
}

void sqlsrv_close(struct sqlsrv *s)
{
	if (s)
		s->ops->close(s);
}
