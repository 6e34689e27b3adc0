/* "DB sql server": the off-system copy of the connection log on a
 * PostgreSQL (libpq) or MariaDB/MySQL (libmariadb) server.
 *
 * The server holds two tables (docs/schema.md, "The SQL server"): the
 * entries (TABLE) and one row per batch (TABLE_batches), which is also the
 * machine's heartbeat: a batch is written every window, with or without
 * entries.  A batch is identified by (machine id, boot id, sequence) and
 * written in one transaction with its entries, the batch row first: a
 * batch the server already has is refused by its primary key and skipped,
 * so a batch sent twice (a replay after a crash mid-commit) is stored
 * once.  The writer needs only INSERT on both tables and SELECT on the
 * batch id columns.
 *
 * Everything the server answers is untrusted: messages and names are made
 * safe text (text_from_bytes) and bounded.  Errors are negative errno with
 * a message in err; the password never appears in one. */
#ifndef PS_STORAGE_SQLSERVER_H
#define PS_STORAGE_SQLSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "storage/store.h"

#define SQLSRV_TABLE_MAX 48		/* characters of "table_name" */
#define SQLSRV_TEXT_MAX 65535		/* bytes of one text value (a TEXT column) */
#define SQLSRV_HOST_MAX 255		/* bytes of a host name */
#define SQLSRV_SPOOL_DEFAULT_MIB 64
#define SQLSRV_PASSWORD_MAX 1024

enum sqlsrv_client { SQLSRV_POSTGRESQL = 1, SQLSRV_MARIADB = 2 };

struct sqlsrv_cfg {
	enum sqlsrv_client client;
	char table[SQLSRV_TABLE_MAX + 1];	/* checked: [A-Za-z_][A-Za-z0-9_]* */
	char *host;		/* NULL: the client library's default */
	unsigned port;		/* 0: the default */
	char *user;
	char *password;		/* from "password" or "password_file" */
	char *password_file;
	char *dbname;		/* "dbname" or "database" */
	char *unix_socket;	/* MariaDB */
	unsigned connect_timeout;	/* seconds */
	/* TLS, PostgreSQL (libpq's names) */
	char *sslmode, *sslrootcert, *sslcert, *sslkey, *sslcrl;
	/* TLS, MariaDB (the names of its client options) */
	char *ssl_ca, *ssl_cert, *ssl_key;
	int ssl_verify_server_cert;	/* -1 unset, 0, 1 */
	bool ssl;		/* MariaDB: insist on TLS */
	uint64_t spool_bytes;	/* "spool (MiB)" */
};

/* Check and take the "DB sql server" object (without reading any file).
 * An empty object is -ENOENT (no server). */
int sqlsrv_cfg_parse(const json_t *obj, struct sqlsrv_cfg *c, char *err, size_t errlen);
/* Read "password_file" (if set) into password: at most SQLSRV_PASSWORD_MAX
 * bytes, one trailing newline dropped. */
int sqlsrv_cfg_load_password(struct sqlsrv_cfg *c, char *err, size_t errlen);
void sqlsrv_cfg_free(struct sqlsrv_cfg *c);
const char *sqlsrv_client_name(enum sqlsrv_client c);

/* One batch: a window's entries of one machine. */
struct sqlsrv_batch {
	char host[SQLSRV_HOST_MAX + 1];
	char machine_id[33];	/* 32 hex digits (/etc/machine-id) */
	char boot_id[37];	/* /proc/sys/kernel/random/boot_id */
	uint64_t seq;		/* increasing on the machine */
	int64_t time;		/* end of the window, unix seconds */
	uint32_t window;	/* its length, seconds ("DB write limit") */
	size_t n;
	struct conn_row *rows;
	void *priv;		/* the strings' storage (sqlbatch_decode) */
};

/* The batch as bytes for the spool (a file per batch), and back.  decode
 * checks everything (the spool is a file in the user's directory): sizes,
 * clean UTF-8 text without control characters, ranges; the batch's
 * strings point into *priv; free with sqlbatch_clear. */
int sqlbatch_encode(const struct sqlsrv_batch *b, char **ret, size_t *ret_len);
int sqlbatch_decode(const void *data, size_t len, struct sqlsrv_batch *b);
void sqlbatch_clear(struct sqlsrv_batch *b);
bool sqlbatch_id_ok(const char *machine_id, const char *boot_id, const char *host);

struct sqlsrv;

/* Connect (bounded by connect_timeout; reads and writes time out after a
 * minute). */
int sqlsrv_connect(const struct sqlsrv_cfg *c, struct sqlsrv **ret, char *err, size_t errlen);
void sqlsrv_close(struct sqlsrv *s);

/* Make the tables if they are missing (create: when allowed), then check
 * that both have exactly the columns picosnitch writes: -EPROTO with a
 * message naming the difference; -ENOENT when missing and not made. */
int sqlsrv_prepare(struct sqlsrv *s, bool create, char *err, size_t errlen);
/* 1 when the server has the batch, 0 when not. */
int sqlsrv_has_batch(struct sqlsrv *s, const struct sqlsrv_batch *b, char *err, size_t errlen);
/* The batch and its entries in one transaction: 0 written, 1 the server
 * had it already (nothing written), or -errno. */
int sqlsrv_write_batch(struct sqlsrv *s, const struct sqlsrv_batch *b, char *err, size_t errlen);

/* The SQL that makes the tables (for the client and table of c). */
char *sqlsrv_schema_sql(enum sqlsrv_client client, const char *table);

/* The fleet: each machine's latest batch (heartbeat). */
struct sqlsrv_machine {
	char host[SQLSRV_HOST_MAX + 1];	/* safe text */
	char machine_id[33];
	int64_t last;		/* its latest window's end */
	uint32_t window;	/* that window's length */
	uint64_t batches;
	uint64_t entries;
};
#define SQLSRV_MACHINES_MAX 100000
int sqlsrv_machines(struct sqlsrv *s, struct sqlsrv_machine **ret, size_t *n, char *err,
		    size_t errlen);

/* Run a read-only query for the fleet view (text results, at most max_rows
 * rows of at most ncols columns): each value is handed to fn as bytes
 * (NULL for SQL NULL).  The query takes its parameters as $1.. in
 * PostgreSQL's style; for MariaDB they are replaced by escaped literals. */
typedef int (*sqlsrv_row_fn)(void *ctx, size_t ncols, const char *const *vals,
			     const size_t *lens);
int sqlsrv_query(struct sqlsrv *s, const char *sql, size_t nparams, const char *const *params,
		 size_t max_rows, sqlsrv_row_fn fn, void *ctx, char *err, size_t errlen);

/* The fleet view: copy the server's entries with time >= since (of every
 * machine, or of the one whose host name or machine id is `machine`) into
 * dst (a snitch.db), at most max_rows (-E2BIG beyond, with what was copied
 * kept).  Text that is not clean UTF-8 is made safe text; rows whose
 * numbers are out of range are skipped and counted in *bad. */
int sqlsrv_pull(struct sqlsrv *s, const char *machine, int64_t since, struct store *dst,
		uint64_t max_rows, uint64_t *rows, uint64_t *bad, char *err, size_t errlen);

/* The fleet view, kept up to date: the entries of one machine's batches
 * with a sequence number after `after` and a time >= since, in order, as
 * many whole batches as max_rows entries hold (at least one), into dst.
 * last_seq: the last batch copied (after when none); more: batches beyond
 * the bound wait for the next call.  A machine's batches reach the server
 * in order, each in one transaction with its entries, so nothing after
 * last_seq was missed. */
struct sqlsrv_pulled {
	uint64_t rows, bad, last_seq;
	bool more;
};
int sqlsrv_pull_batches(struct sqlsrv *s, const char *machine_id, uint64_t after, int64_t since,
			struct store *dst, uint64_t max_rows, struct sqlsrv_pulled *got, char *err,
			size_t errlen);

/* A machine is stopped when its latest window ended longer ago than this
 * (seconds): two of its windows and a minute. */
int64_t sqlsrv_stale_after(uint32_t window);

/* internal: the backends */
struct sqlsrv_ops {
	void (*close)(struct sqlsrv *s);
	/* statements without results; *state: the SQLSTATE-like class of a
	 * failure ("23" for a unique violation, "42" for a missing table or
	 * a denied right), else "" */
	int (*exec)(struct sqlsrv *s, const char *sql, char *state, char *err, size_t errlen);
	int (*query)(struct sqlsrv *s, const char *sql, size_t nparams, const char *const *params,
		     size_t max_rows, sqlsrv_row_fn fn, void *ctx, char *err, size_t errlen);
	/* the entries of b[from, to) as one INSERT */
	int (*insert_rows)(struct sqlsrv *s, const struct sqlsrv_batch *b, size_t from, size_t to,
			   char *err, size_t errlen);
	/* the batch row */
	int (*insert_batch)(struct sqlsrv *s, const struct sqlsrv_batch *b, char *state, char *err,
			    size_t errlen);
};

struct sqlsrv {
	const struct sqlsrv_ops *ops;
	const struct sqlsrv_cfg *cfg;
	char table[SQLSRV_TABLE_MAX + 1];
	void *conn;
};

int sqlsrv_pg_connect(const struct sqlsrv_cfg *c, struct sqlsrv **ret, char *err, size_t errlen);
int sqlsrv_mariadb_connect(const struct sqlsrv_cfg *c, struct sqlsrv **ret, char *err,
			   size_t errlen);
/* A server's message as bounded safe text in err. */
void sqlsrv_set_err(char *err, size_t errlen, const char *what, const char *msg);
/* The backends' failures, formatted one way: "what: message" (msg, or
 * fallback when msg is NULL or empty), and -ECONNRESET when the connection
 * is lost, else -EIO. */
int sqlsrv_failed(char *err, size_t errlen, const char *what, const char *msg,
		  const char *fallback, bool lost);
/* An answer past a bound (rows, or bytes of one row): -E2BIG with "what:
 * the answer has more than N unit". */
int sqlsrv_too_big(char *err, size_t errlen, const char *what, uint64_t max, const char *unit);
/* The most bytes a server may send for one row of an answer (64 MiB; the
 * test-only PICOSNITCH_TEST_SQL_ANSWER_MAX makes it smaller). */
uint64_t sqlsrv_answer_max(void);
/* The columns of the entries table, in order, and their count. */
extern const char *const sqlsrv_entry_columns[];
#define SQLSRV_ENTRY_COLUMNS 29
extern const char *const sqlsrv_batch_columns[];
#define SQLSRV_BATCH_COLUMNS 7
/* A row's values as text for the entries' columns (the numbers written
 * into num, 29 buffers of 24 bytes). */
void sqlsrv_row_values(const struct sqlsrv_batch *b, const struct conn_row *r,
		       const char *vals[SQLSRV_ENTRY_COLUMNS], char num[][24]);

#endif
