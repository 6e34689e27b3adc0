/* "DB sql server" on PostgreSQL, through libpq: every value goes as a
 * parameter (never into the SQL text), results are read a row at a time
 * and bounded (rows, and the bytes of a row: pg_next). */
#include "storage/sqlserver.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "util/dlopen_lib.h"
#include "util/strutil.h"

/* libpq, loaded at the first connection (util/dlopen_lib.h) */
#define PG_FUNCS(X) \
	X(PQclear) \
	X(PQconnectdbParams) \
	X(PQconsumeInput) \
	X(PQerrorMessage) \
	X(PQexec) \
	X(PQexecParams) \
	X(PQfinish) \
	X(PQgetResult) \
	X(PQgetisnull) \
	X(PQgetlength) \
	X(PQgetvalue) \
	X(PQisBusy) \
	X(PQnfields) \
	X(PQresultErrorField) \
	X(PQresultErrorMessage) \
	X(PQresultStatus) \
	X(PQsendQueryParams) \
	X(PQsetNoticeProcessor) \
	X(PQsetSingleRowMode) \
	X(PQsocket) \
	X(PQstatus)
DLOPEN_LIB_STATIC(pg_lib, PG_FUNCS, PICOSNITCH_SONAME_PQ, "the PostgreSQL client library",
		  "libpq5");

static PGconn *conn_of(struct sqlsrv *s)
{
	return s->conn;
}

static void pg_close(struct sqlsrv *s)
{
	if (conn_of(s))
		sym_PQfinish(conn_of(s));
	free(s);
}

static void state_of(const PGresult *res, char *state)
{
	const char *st = res ? sym_PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	state[0] = '\0';
	if (st && strlen(st) >= 2) {
		state[0] = st[0];
		state[1] = st[1];
		state[2] = '\0';
	}
}

static bool pg_lost(struct sqlsrv *s)
{
	return !conn_of(s) || sym_PQstatus(conn_of(s)) != CONNECTION_OK;
}

static int pg_failed(struct sqlsrv *s, PGresult *res, char *state, char *err, size_t errlen)
{
	int r = sqlsrv_failed(err, errlen, "PostgreSQL", res ? sym_PQresultErrorMessage(res) : NULL,
			      conn_of(s) ? sym_PQerrorMessage(conn_of(s)) : "the connection was closed",
			      pg_lost(s));

	if (state)
		state_of(res, state);
	sym_PQclear(res);
	return r;
}

/* Bytes libpq has taken from the connection's socket so far.  TCP: the
 * kernel's count of bytes received, less those still queued, so an answer
 * that arrived before the count was first taken is still counted when
 * libpq reads it.  A unix socket keeps no count: *exact is false and what
 * is queued (what libpq is about to read) is returned. */
static uint64_t taken(int fd, bool *exact)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int queued = 0;

	/* queued first: bytes that arrive between the two calls then make
	 * the count a little high, never below what libpq took (received
	 * less a later, larger queue could even wrap around) */
	if (ioctl(fd, FIONREAD, &queued) < 0 || queued < 0)
		queued = 0;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    len >= offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received)) {
		*exact = true;
		return ti.tcpi_bytes_received - (uint64_t)queued;
	}
	*exact = false;
	return (uint64_t)queued;
}

static int pg_too_big(struct sqlsrv *s, uint64_t max, char *err, size_t errlen)
{
	sym_PQfinish(conn_of(s));
	s->conn = NULL;
	return sqlsrv_too_big(err, errlen, "PostgreSQL", max, "bytes in one row");
}

/* The next result, read without letting a server make libpq keep much more
 * than sqlsrv_answer_max() bytes for one row: libpq holds a whole row in
 * memory whatever its size, and has no bound of its own.  What libpq reads
 * while a row is not complete is counted, and the line is dropped when the
 * count passes the bound (what is still coming cannot be skipped).  Part of
 * a row may have been read while waiting for the row before it, so the
 * complete row's own length is checked too: a row past the bound is always
 * refused, and libpq never holds more than about twice the bound. */
static int pg_next(struct sqlsrv *s, PGresult **res, char *err, size_t errlen)
{
	PGconn *c = conn_of(s);
	uint64_t max = sqlsrv_answer_max(), got = 0, start;
	bool exact;

	*res = NULL;
	start = taken(sym_PQsocket(c), &exact);
	while (sym_PQisBusy(c)) {
		struct pollfd p = { .fd = sym_PQsocket(c), .events = POLLIN };
		int n = poll(&p, 1, 60000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			sym_PQfinish(c);
			s->conn = NULL;
			return sqlsrv_failed(err, errlen, "PostgreSQL", "no answer for a minute", NULL,
					     true);
		}
		if (!exact)
			got += taken(sym_PQsocket(c), &exact);
		if (!sym_PQconsumeInput(c))
			break;	/* PQgetResult tells what went wrong */
		if (exact)
			got = taken(sym_PQsocket(c), &exact) - start;
		if (got > max)
			return pg_too_big(s, max, err, errlen);
	}
	*res = sym_PQgetResult(c);
	if (*res && sym_PQresultStatus(*res) == PGRES_SINGLE_TUPLE) {
		uint64_t row = 0;

		for (int i = 0; i < sym_PQnfields(*res); i++)
			row += (uint64_t)sym_PQgetlength(*res, 0, i);
		if (row > max) {
			sym_PQclear(*res);
			*res = NULL;
			return pg_too_big(s, max, err, errlen);
		}
	}
	return 0;
}

static int pg_exec(struct sqlsrv *s, const char *sql, char *state, char *err, size_t errlen)
{
	PGresult *res = sym_PQexec(conn_of(s), sql);
	ExecStatusType st = res ? sym_PQresultStatus(res) : PGRES_FATAL_ERROR;

	state[0] = '\0';
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return pg_failed(s, res, state, err, errlen);
	sym_PQclear(res);
	return 0;
}

static int pg_query(struct sqlsrv *s, const char *sql, size_t nparams, const char *const *params,
		    size_t max_rows, sqlsrv_row_fn fn, void *ctx, char *err, size_t errlen)
{
	PGconn *c = conn_of(s);
	PGresult *res;
	size_t rows = 0;
	int r = 0, next;

	if (!c || !sym_PQsendQueryParams(c, sql, (int)nparams, NULL, params, NULL, NULL, 0))
		return pg_failed(s, NULL, NULL, err, errlen);
	/* a row at a time: a server that answers without end is cut off */
	sym_PQsetSingleRowMode(c);
	while ((next = pg_next(s, &res, r ? NULL : err, r ? 0 : errlen)) == 0 && res) {
		ExecStatusType st = sym_PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && r == 0) {
			int nf = sym_PQnfields(res);
			const char *vals[64];
			size_t lens[64];

			if (nf > 64)
				nf = 64;
			if (++rows > max_rows) {
				sym_PQclear(res);
				/* reading the rest could take forever: drop the line
				 * (libpq takes a NULL connection as a broken one) */
				sym_PQfinish(c);
				s->conn = NULL;
				return sqlsrv_too_big(err, errlen, "PostgreSQL", max_rows, "rows");
			}
			for (int i = 0; i < nf; i++) {
				vals[i] = sym_PQgetisnull(res, 0, i) ? NULL : sym_PQgetvalue(res, 0, i);
				lens[i] = vals[i] ? (size_t)sym_PQgetlength(res, 0, i) : 0;
			}
			r = fn(ctx, (size_t)nf, vals, lens);
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK &&
			   st != PGRES_COMMAND_OK && r == 0) {
			r = sqlsrv_failed(err, errlen, "PostgreSQL", sym_PQresultErrorMessage(res),
					  sym_PQerrorMessage(c), pg_lost(s));
		}
		sym_PQclear(res);
	}
	if (next < 0)
		return r ? r : next;
	if (r == 0 && pg_lost(s))
		r = sqlsrv_failed(err, errlen, "PostgreSQL", sym_PQerrorMessage(c), NULL, true);
	return r;
}

static int pg_insert_rows(struct sqlsrv *s, const struct sqlsrv_batch *b, size_t from, size_t to,
			  char *err, size_t errlen)
{
	size_t n = to - from, np = n * SQLSRV_ENTRY_COLUMNS;
	const char **vals = calloc(np, sizeof(*vals));
	char (*num)[24] = calloc(np, 24);
	struct strbuf sb = STRBUF_INIT;
	PGresult *res;
	int r = 0;

	if (!vals || !num) {
		free(vals);
		free(num);
		return -ENOMEM;
	}
	strbuf_addf(&sb, "INSERT INTO %s (", s->table);
	for (int i = 0; i < SQLSRV_ENTRY_COLUMNS; i++)
		strbuf_addf(&sb, "%s%s", i ? "," : "", sqlsrv_entry_columns[i]);
	strbuf_adds(&sb, ") VALUES ");
	for (size_t k = 0; k < n; k++) {
		sqlsrv_row_values(b, &b->rows[from + k], vals + k * SQLSRV_ENTRY_COLUMNS,
				  num + k * SQLSRV_ENTRY_COLUMNS);
		strbuf_adds(&sb, k ? ",(" : "(");
		for (int i = 0; i < SQLSRV_ENTRY_COLUMNS; i++)
			strbuf_addf(&sb, "%s$%zu", i ? "," : "", k * SQLSRV_ENTRY_COLUMNS + i + 1);
		strbuf_addc(&sb, ')');
	}
	if (!sb.buf) {
		r = -ENOMEM;
	} else {
		res = sym_PQexecParams(conn_of(s), sb.buf, (int)np, NULL, vals, NULL, NULL, 0);
		if (!res || sym_PQresultStatus(res) != PGRES_COMMAND_OK)
			r = pg_failed(s, res, NULL, err, errlen);
		else
			sym_PQclear(res);
	}
	strbuf_release(&sb);
	free(vals);
	free(num);
	return r;
}

static int pg_insert_batch(struct sqlsrv *s, const struct sqlsrv_batch *b, char *state, char *err,
			   size_t errlen)
{
	char sql[256], seq[24], t[24], w[24], n[24];
	const char *vals[SQLSRV_BATCH_COLUMNS] = { b->machine_id, b->boot_id, seq, b->host, t, w, n };
	PGresult *res;

	snprintf(seq, sizeof(seq), "%" PRIu64, b->seq);
	snprintf(t, sizeof(t), "%" PRId64, b->time);
	snprintf(w, sizeof(w), "%" PRIu32, b->window);
	snprintf(n, sizeof(n), "%zu", b->n);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s_batches (machine_id, boot_id, seq, host, time, window_seconds, "
		 "entries) VALUES ($1, $2, $3, $4, $5, $6, $7)", s->table);
	res = sym_PQexecParams(conn_of(s), sql, SQLSRV_BATCH_COLUMNS, NULL, vals, NULL, NULL, 0);
	state[0] = '\0';
	if (!res || sym_PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_failed(s, res, state, err, errlen);
	sym_PQclear(res);
	return 0;
}

static const struct sqlsrv_ops pg_ops = {
	.close = pg_close,
	.exec = pg_exec,
	.query = pg_query,
	.insert_rows = pg_insert_rows,
	.insert_batch = pg_insert_batch,
};

static void no_notices(void *arg, const char *message)
{
}

static void add_kv(const char **keys, const char **vals, int *n, const char *k, const char *v)
{
	if (!v)
		return;
	keys[*n] = k;
	vals[*n] = v;
	(*n)++;
}

int sqlsrv_pg_connect(const struct sqlsrv_cfg *c, struct sqlsrv **ret, char *err, size_t errlen)
{
	const char *keys[24], *vals[24];
	char port[8], timeout[16];
	int n = 0;
	struct sqlsrv *s;
	PGconn *conn;

	if (dlopen_lib_load(&pg_lib, err, errlen) < 0)
		return -ENOENT;
#define KV(k, v) add_kv(keys, vals, &n, (k), (v))
	snprintf(port, sizeof(port), "%u", c->port);
	snprintf(timeout, sizeof(timeout), "%u", c->connect_timeout);
	KV("host", c->host);
	KV("port", c->port ? port : NULL);
	KV("user", c->user);
	KV("password", c->password);
	KV("dbname", c->dbname);
	KV("connect_timeout", timeout);
	KV("sslmode", c->sslmode);
	KV("sslrootcert", c->sslrootcert);
	KV("sslcert", c->sslcert);
	KV("sslkey", c->sslkey);
	KV("sslcrl", c->sslcrl);
	KV("application_name", "picosnitch");
	KV("client_encoding", "UTF8");
	/* a server that stops answering is noticed within a minute */
	KV("keepalives", "1");
	KV("keepalives_idle", "30");
	KV("tcp_user_timeout", "60000");
	KV("options", "-c statement_timeout=60000");
#undef KV
	keys[n] = vals[n] = NULL;
	conn = sym_PQconnectdbParams(keys, vals, 0);
	if (!conn)
		return -ENOMEM;
	if (sym_PQstatus(conn) != CONNECTION_OK) {
		sqlsrv_failed(err, errlen, "cannot connect to PostgreSQL", sym_PQerrorMessage(conn), NULL,
			      true);
		sym_PQfinish(conn);
		return -ECONNREFUSED;
	}
	sym_PQsetNoticeProcessor(conn, no_notices, NULL);
	s = calloc(1, sizeof(*s));
	if (!s) {
		sym_PQfinish(conn);
		return -ENOMEM;
	}
	s->ops = &pg_ops;
	s->cfg = c;
	s->conn = conn;
	snprintf(s->table, sizeof(s->table), "%s", c->table);
	*ret = s;
	return 0;
}
