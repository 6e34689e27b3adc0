/* "DB sql server" on MariaDB or MySQL, through libmariadb: values are
 * escaped by the client library for the connection's character set
 * (utf8mb4) and quoted, results are read a row at a time and bounded, and
 * the server may not ask for local files (LOAD DATA LOCAL is off). */
#include "storage/sqlserver.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "util/dlopen_lib.h"
#include "util/strutil.h"

/* libmariadb, loaded at the first connection (util/dlopen_lib.h) */
#define MY_FUNCS(X) \
	X(mysql_close) \
	X(mysql_errno) \
	X(mysql_error) \
	X(mysql_fetch_lengths) \
	X(mysql_fetch_row) \
	X(mysql_field_count) \
	X(mysql_free_result) \
	X(mysql_init) \
	X(mysql_num_fields) \
	X(mysql_options) \
	X(mysql_real_connect) \
	X(mysql_real_escape_string) \
	X(mysql_real_query) \
	X(mysql_store_result) \
	X(mysql_use_result)
DLOPEN_LIB_STATIC(my_lib, MY_FUNCS, PICOSNITCH_SONAME_MARIADB, "the MariaDB client library",
		  "libmariadb3");

static MYSQL *conn_of(struct sqlsrv *s)
{
	return s->conn;
}

static void my_close(struct sqlsrv *s)
{
	if (s->conn)
		sym_mysql_close(s->conn);
	free(s);
}

static void state_of(unsigned code, char *state)
{
	if (!state)
		return;
	if (code == ER_DUP_ENTRY || code == ER_DUP_KEY)
		snprintf(state, 8, "23");
	else if (code == ER_NO_SUCH_TABLE || code == ER_TABLEACCESS_DENIED_ERROR ||
		 code == ER_DBACCESS_DENIED_ERROR || code == ER_COLUMNACCESS_DENIED_ERROR)
		snprintf(state, 8, "42");
	else
		state[0] = '\0';
}

static int my_failed(struct sqlsrv *s, char *state, char *err, size_t errlen)
{
	MYSQL *m = conn_of(s);
	unsigned code = m ? sym_mysql_errno(m) : CR_SERVER_LOST;

	state_of(code, state);
	/* the client's own errors (2000-2999) are about the connection */
	return sqlsrv_failed(err, errlen, "MariaDB", m ? sym_mysql_error(m) : NULL,
			     "the connection was closed", code >= 2000 && code < 3000);
}

static int my_exec(struct sqlsrv *s, const char *sql, char *state, char *err, size_t errlen)
{
	MYSQL *m = conn_of(s);
	MYSQL_RES *res;

	if (state)
		state[0] = '\0';
	if (!m || sym_mysql_real_query(m, sql, strlen(sql)))
		return my_failed(s, state, err, errlen);
	res = sym_mysql_store_result(m);
	if (res)
		sym_mysql_free_result(res);
	else if (sym_mysql_field_count(m))
		return my_failed(s, state, err, errlen);
	return 0;
}

/* $1.. of the SQL replaced by the parameters as quoted, escaped literals */
static int substitute(MYSQL *m, const char *sql, size_t nparams, const char *const *params,
		      struct strbuf *out)
{
	for (const char *p = sql; *p; p++) {
		if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);

			if (i == 0 || i > nparams)
				return -EINVAL;
			size_t n = strlen(params[i - 1]);
			char *esc = malloc(2 * n + 1);

			if (!esc)
				return -ENOMEM;
			sym_mysql_real_escape_string(m, esc, params[i - 1], n);
			strbuf_addc(out, '\'');
			strbuf_adds(out, esc);
			strbuf_addc(out, '\'');
			free(esc);
			p = end - 1;
			continue;
		}
		strbuf_addc(out, *p);
	}
	return out->buf ? 0 : -ENOMEM;
}

static int my_query(struct sqlsrv *s, const char *sql, size_t nparams, const char *const *params,
		    size_t max_rows, sqlsrv_row_fn fn, void *ctx, char *err, size_t errlen)
{
	MYSQL *m = conn_of(s);
	struct strbuf q = STRBUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t rows = 0;
	int r;

	if (!m)
		return my_failed(s, NULL, err, errlen);
	r = substitute(m, sql, nparams, params, &q);
	if (r < 0) {
		strbuf_release(&q);
		return r;
	}
	if (sym_mysql_real_query(m, q.buf, q.len)) {
		strbuf_release(&q);
		return my_failed(s, NULL, err, errlen);
	}
	strbuf_release(&q);
	/* a row at a time: a server that answers without end is cut off */
	res = sym_mysql_use_result(m);
	if (!res)
		return sym_mysql_field_count(m) ? my_failed(s, NULL, err, errlen) : 0;
	while (r == 0 && (row = sym_mysql_fetch_row(res))) {
		unsigned long *l = sym_mysql_fetch_lengths(res);
		unsigned nf = sym_mysql_num_fields(res);
		const char *vals[64];
		size_t lens[64];

		if (++rows > max_rows) {
			/* reading the rest could take forever: drop the line */
			sym_mysql_free_result(res);
			sym_mysql_close(m);
			s->conn = NULL;
			return sqlsrv_too_big(err, errlen, "MariaDB", max_rows, "rows");
		}
		if (nf > 64)
			nf = 64;
		for (unsigned i = 0; i < nf; i++) {
			vals[i] = row[i];
			lens[i] = row[i] ? l[i] : 0;
		}
		r = fn(ctx, nf, vals, lens);
	}
	if (r == 0 && sym_mysql_errno(m)) {
		unsigned code = sym_mysql_errno(m);

		r = my_failed(s, NULL, err, errlen);
		/* the client library drops the line on a row past its bound
		 * (max_allowed_packet), and may say only that it was lost */
		if (code == CR_SERVER_LOST || code == CR_NET_PACKET_TOO_LARGE) {
			size_t k = strlen(err);

			snprintf(err + k, errlen - k, " (or a row of the answer was larger than %" PRIu64
				 " bytes, the bound)", sqlsrv_answer_max());
		}
	}
	sym_mysql_free_result(res);
	return r;
}

/* at most this much SQL per statement (the server's max_allowed_packet is
 * 16 MiB by default; a row holds at most 15 texts of 64 KiB, escaped) */
#define STATEMENT_MAX (4u << 20)

static int my_insert_rows(struct sqlsrv *s, const struct sqlsrv_batch *b, size_t from, size_t to,
			  char *err, size_t errlen)
{
	MYSQL *m = conn_of(s);
	struct strbuf sb = STRBUF_INIT;
	char *esc = malloc(2 * SQLSRV_TEXT_MAX + 1);
	size_t head;
	int r = 0;

	if (!esc)
		return -ENOMEM;
	if (!m) {
		free(esc);
		return my_failed(s, NULL, err, errlen);
	}
	strbuf_addf(&sb, "INSERT INTO %s (", s->table);
	for (int i = 0; i < SQLSRV_ENTRY_COLUMNS; i++)
		strbuf_addf(&sb, "%s%s", i ? "," : "", sqlsrv_entry_columns[i]);
	strbuf_adds(&sb, ") VALUES ");
	head = sb.len;
	for (size_t k = from; k < to && r == 0; k++) {
		const char *vals[SQLSRV_ENTRY_COLUMNS];
		char num[SQLSRV_ENTRY_COLUMNS][24];

		sqlsrv_row_values(b, &b->rows[k], vals, num);
		strbuf_adds(&sb, sb.len > head ? ",(" : "(");
		for (int i = 0; i < SQLSRV_ENTRY_COLUMNS; i++) {
			if (i)
				strbuf_addc(&sb, ',');
			if (vals[i] == num[i]) {
				strbuf_adds(&sb, vals[i]);	/* a number we printed */
				continue;
			}
			size_t n = strnlen(vals[i], SQLSRV_TEXT_MAX);

			sym_mysql_real_escape_string(m, esc, vals[i], n);
			strbuf_addc(&sb, '\'');
			strbuf_adds(&sb, esc);
			strbuf_addc(&sb, '\'');
		}
		strbuf_addc(&sb, ')');
		if (!sb.buf) {
			r = -ENOMEM;
		} else if (sb.len >= STATEMENT_MAX || k + 1 == to) {
			if (sym_mysql_real_query(m, sb.buf, sb.len))
				r = my_failed(s, NULL, err, errlen);
			sb.len = head;	/* the next statement: the same head */
			sb.buf[head] = '\0';
		}
	}
	free(esc);
	strbuf_release(&sb);
	return r;
}

static int my_insert_batch(struct sqlsrv *s, const struct sqlsrv_batch *b, char *state, char *err,
			   size_t errlen)
{
	char sql[256], seq[24], t[24], w[24], n[24];
	const char *vals[SQLSRV_BATCH_COLUMNS] = { b->machine_id, b->boot_id, seq, b->host, t, w, n };
	struct strbuf q = STRBUF_INIT;
	int r;

	snprintf(seq, sizeof(seq), "%" PRIu64, b->seq);
	snprintf(t, sizeof(t), "%" PRId64, b->time);
	snprintf(w, sizeof(w), "%" PRIu32, b->window);
	snprintf(n, sizeof(n), "%zu", b->n);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s_batches (machine_id, boot_id, seq, host, time, window_seconds, "
		 "entries) VALUES ($1, $2, $3, $4, $5, $6, $7)", s->table);
	state[0] = '\0';
	if (!conn_of(s))
		return my_failed(s, state, err, errlen);
	r = substitute(conn_of(s), sql, SQLSRV_BATCH_COLUMNS, vals, &q);
	if (r == 0 && sym_mysql_real_query(conn_of(s), q.buf, q.len))
		r = my_failed(s, state, err, errlen);
	strbuf_release(&q);
	return r;
}

static const struct sqlsrv_ops my_ops = {
	.close = my_close,
	.exec = my_exec,
	.query = my_query,
	.insert_rows = my_insert_rows,
	.insert_batch = my_insert_batch,
};

int sqlsrv_mariadb_connect(const struct sqlsrv_cfg *c, struct sqlsrv **ret, char *err,
			   size_t errlen)
{
	unsigned int timeout = c->connect_timeout, io_timeout = 60;
	/* the client library refuses a packet (a row) larger than this */
	unsigned long max_packet = (unsigned long)sqlsrv_answer_max();
	my_bool yes = 1, no = 0;
	struct sqlsrv *s;
	MYSQL *m;

	if (dlopen_lib_load(&my_lib, err, errlen) < 0)
		return -ENOENT;
	if (!(m = sym_mysql_init(NULL)))
		return -ENOMEM;
	sym_mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	sym_mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
	sym_mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
	sym_mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	sym_mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &no);
	sym_mysql_options(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
	if (c->ssl_ca)
		sym_mysql_options(m, MYSQL_OPT_SSL_CA, c->ssl_ca);
	if (c->ssl_cert)
		sym_mysql_options(m, MYSQL_OPT_SSL_CERT, c->ssl_cert);
	if (c->ssl_key)
		sym_mysql_options(m, MYSQL_OPT_SSL_KEY, c->ssl_key);
	if (c->ssl || c->ssl_ca || c->ssl_cert)
		sym_mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &yes);
	if (c->ssl_verify_server_cert >= 0)
		sym_mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
			      c->ssl_verify_server_cert ? &yes : &no);
	if (!sym_mysql_real_connect(m, c->host, c->user, c->password, c->dbname, c->port,
				c->unix_socket, 0)) {
		sqlsrv_failed(err, errlen, "cannot connect to MariaDB", sym_mysql_error(m), NULL, true);
		sym_mysql_close(m);
		return -ECONNREFUSED;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		sym_mysql_close(m);
		return -ENOMEM;
	}
	s->ops = &my_ops;
	s->cfg = c;
	s->conn = m;
	snprintf(s->table, sizeof(s->table), "%s", c->table);
	*ret = s;
	/* strict: a value that does not fit is an error, never cut short */
	{
		char state[8], e[256];

		my_exec(s, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'", state,
			e, sizeof(e));
	}
	return 0;
}
