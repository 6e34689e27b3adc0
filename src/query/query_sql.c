/* The SQL side of src/query: the table of dimensions (the only SQL text,
 * besides this code's own literals, that statements are built from), the
 * statement builder with numbered parameters, the filters, and the error
 * messages.  A value from a request or from the database is only ever a
 * bound parameter. */
#include "query/query_int.h"
#include "storage/rollup.h"
#include "storage/schema.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* name, kind, key, table, column, index_col, rollup_key */
const struct dim_info query_dims[QUERY_DIM__COUNT] = {
	[QUERY_DIM_EXECUTABLE] = { "executable", DK_LOOKUP, "c.exe_id", "executables", "path",
				   "exe_id", ROLLUP_KEY_EXE },
	[QUERY_DIM_NAME] = { "name", DK_LOOKUP, "c.exe_id", "executables", "name", "exe_id",
			     ROLLUP_KEY_EXE },
	[QUERY_DIM_CMDLINE] = { "cmdline", DK_LOOKUP, "c.exe_id", "executables", "cmdline", "exe_id",
				ROLLUP_KEY_EXE },
	[QUERY_DIM_SHA256] = { "sha256", DK_LOOKUP, "c.exe_id", "executables", "sha256", "exe_id",
			       ROLLUP_KEY_EXE },
	[QUERY_DIM_PARENT_EXECUTABLE] = { "parent_executable", DK_LOOKUP, "c.parent_id", "executables",
					  "path", "parent_id", ROLLUP_KEY_PARENT },
	[QUERY_DIM_PARENT_NAME] = { "parent_name", DK_LOOKUP, "c.parent_id", "executables", "name",
				    "parent_id", ROLLUP_KEY_PARENT },
	[QUERY_DIM_PARENT_CMDLINE] = { "parent_cmdline", DK_LOOKUP, "c.parent_id", "executables",
				       "cmdline", "parent_id", ROLLUP_KEY_PARENT },
	[QUERY_DIM_PARENT_SHA256] = { "parent_sha256", DK_LOOKUP, "c.parent_id", "executables",
				      "sha256", "parent_id", ROLLUP_KEY_PARENT },
	[QUERY_DIM_GRANDPARENT_EXECUTABLE] = { "grandparent_executable", DK_LOOKUP, "c.grandparent_id",
					       "executables", "path", "grandparent_id",
					       ROLLUP_KEY_GRANDPARENT },
	[QUERY_DIM_USER] = { "user", DK_INT, "c.uid", NULL, NULL, NULL, ROLLUP_KEY_UID },
	[QUERY_DIM_LOCAL_PORT] = { "local_port", DK_INT, "c.lport", NULL, NULL, NULL, ROLLUP_KEY_LPORT },
	[QUERY_DIM_REMOTE_PORT] = { "remote_port", DK_INT, "c.rport", NULL, NULL, NULL,
				    ROLLUP_KEY_RPORT },
	[QUERY_DIM_LOCAL_ADDRESS] = { "local_address", DK_LOOKUP, "c.laddr_id", "addresses", "address",
				      NULL, ROLLUP_KEY_LADDR },
	[QUERY_DIM_REMOTE_ADDRESS] = { "remote_address", DK_LOOKUP, "c.raddr_id", "addresses",
				       "address", "raddr_id", ROLLUP_KEY_RADDR },
	[QUERY_DIM_DOMAIN] = { "domain", DK_LOOKUP, "c.domain_id", "domains", "domain", "domain_id",
			       ROLLUP_KEY_DOMAIN },
	[QUERY_DIM_COUNTRY] = { "country", DK_LABEL, "c.raddr_id", "addresses", "address",
				"raddr_id", ROLLUP_KEY_RADDR, "ps_country" },
	[QUERY_DIM_PROTOCOL] = { "protocol", DK_PROTOCOL, "c.family", NULL, NULL, NULL,
				 ROLLUP_KEY_PROTOCOL },
	[QUERY_DIM_NETNS] = { "netns", DK_INT, "c.netns", NULL, NULL, NULL, ROLLUP_KEY_NETNS },
	[QUERY_DIM_TIME] = { "time", DK_INT, "c.time", NULL, NULL, "time", ROLLUP_KEY_TIME },
	[QUERY_DIM_ASN] = { "asn", DK_LABEL, "c.raddr_id", "addresses", "address", "raddr_id",
			    ROLLUP_KEY_RADDR, "ps_asn" },
	[QUERY_DIM_SERVICE] = { "service", DK_LOOKUP, "c.exe_id", "executables", "service", "exe_id",
				ROLLUP_KEY_EXE },
	[QUERY_DIM_DOMAIN_SOURCE] = { "domain_source", DK_LOOKUP, "c.domain_id", "domains", "source",
				      "domain_id", ROLLUP_KEY_DOMAIN },
	/* not in the rollups (0): files with hosts are read from the rows */
	[QUERY_DIM_HOST] = { "host", DK_LOOKUP, "c.host_id", "hosts", "host", NULL, 0 },
};

query_label_fn query_label_hook(const struct query_db *db, enum query_dim dim, void **ctx)
{
	switch (dim) {
	case QUERY_DIM_COUNTRY:
		*ctx = db->opt.country_ctx;
		return db->opt.country_of;
	case QUERY_DIM_ASN:
		*ctx = db->opt.asn_ctx;
		return db->opt.asn_of;
	default:
		*ctx = NULL;
		return NULL;
	}
}

const char *query_dim_key(const struct query_db *db, enum query_dim dim)
{
	if (dim == QUERY_DIM_GRANDPARENT_EXECUTABLE && db->version < 11)
		return "NULL";
	return query_dims[dim].key;
}

const char *query_dim_column(const struct query_db *db, enum query_dim dim)
{
	/* before services were kept, no process had one */
	if (dim == QUERY_DIM_SERVICE && db->version < SCHEMA_SERVICES)
		return "''";
	/* before sources were kept, every name came from DNS over UDP */
	if (dim == QUERY_DIM_DOMAIN_SOURCE && db->version < SCHEMA_DOMAIN_SOURCES)
		return "CASE WHEN domain = '' THEN '' ELSE 'dns' END";
	return query_dims[dim].column;
}

const char *query_dim_name(enum query_dim dim)
{
	return (unsigned int)dim < QUERY_DIM__COUNT ? query_dims[dim].name : NULL;
}

int query_dim_from_name(const char *name, enum query_dim *ret)
{
	for (int d = 0; name && d < QUERY_DIM__COUNT; d++)
		if (!strcmp(name, query_dims[d].name)) {
			*ret = (enum query_dim)d;
			return 0;
		}
	return -EINVAL;
}

bool query_dim_is_numeric(enum query_dim dim)
{
	return (unsigned int)dim < QUERY_DIM__COUNT && query_dims[dim].kind == DK_INT;
}

int query_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

int query_sqlite_fail(struct query_db *db, int rc, const char *what, char *err, size_t errlen)
{
	const char *msg = db && db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return query_fail(err, errlen, -EBUSY,
				  "%s: snitch.db is busy (another process holds a lock on it, "
				  "e.g. while recovering its log): try again",
				  what);
	case SQLITE_INTERRUPT:
		if (db && db->timed_out)
			return query_fail(err, errlen, -ETIMEDOUT, "%s: the query took longer than %u ms",
					  what, db->opt.query_timeout_ms);
		return query_fail(err, errlen, -ECANCELED, "%s: the query was interrupted", what);
	case SQLITE_NOMEM:
		return query_fail(err, errlen, -ENOMEM, "%s: out of memory", what);
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return query_fail(err, errlen, -EBADMSG, "%s: %s", what, msg);
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
		return query_fail(err, errlen, -EIO, "%s: %s", what, msg);
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return query_fail(err, errlen, -EACCES, "%s: %s", what, msg);
	default:
		return query_fail(err, errlen, -EPROTO, "%s: %s", what, msg);
	}
}

const char *query_printable(const char *s, size_t len, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (o >= 60) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
	}
	if (size)
		buf[o < size ? o : size - 1] = '\0';
	return buf;
}

void qsql_add(struct qsql *q, const char *fragment)
{
	size_t n = strlen(fragment);

	if (q->oom)
		return;
	if (q->len + n + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 1024;
		char *b;

		while (cap < q->len + n + 1)
			cap *= 2;
		if (!(b = realloc(q->buf, cap))) {
			q->oom = true;
			return;
		}
		q->buf = b;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, fragment, n + 1);
	q->len += n;
}

static struct qparam *qsql_param(struct qsql *q)
{
	char num[16];

	if (q->oom)
		return NULL;
	if (q->n_params == q->cap_params) {
		int cap = q->cap_params ? q->cap_params * 2 : 16;
		struct qparam *p = realloc(q->params, (size_t)cap * sizeof(*p));

		if (!p) {
			q->oom = true;
			return NULL;
		}
		q->params = p;
		q->cap_params = cap;
	}
	snprintf(num, sizeof(num), "?%d", q->n_params + 1);
	qsql_add(q, num);
	return &q->params[q->n_params++];
}

void qsql_int(struct qsql *q, int64_t v)
{
	struct qparam *p = qsql_param(q);

	if (p)
		*p = (struct qparam){ .num = v };
}

void qsql_text(struct qsql *q, const char *s, size_t len)
{
	struct qparam *p = qsql_param(q);

	if (p)
		*p = (struct qparam){ .text = true, .s = len ? s : "", .len = len };
}

void qsql_window(struct qsql *q, const struct query_window *w)
{
	if (w->has_from) {
		qsql_add(q, " AND c.time >= ");
		qsql_int(q, w->from);
	}
	if (w->has_to) {
		qsql_add(q, " AND c.time < ");
		qsql_int(q, w->to);
	}
}

void qsql_free(struct qsql *q)
{
	free(q->buf);
	free(q->params);
	*q = (struct qsql){ 0 };
}

int qsql_prepare(struct query_db *db, struct qsql *q, sqlite3_stmt **st, const char *what,
		 char *err, size_t errlen)
{
	int rc;

	*st = NULL;
	if (q->oom)
		return query_fail(err, errlen, -ENOMEM, "%s: out of memory", what);
	rc = sqlite3_prepare_v2(db->db, q->buf, (int)q->len, st, NULL);
	if (rc != SQLITE_OK)
		return query_sqlite_fail(db, rc, what, err, errlen);
	for (int i = 0; i < q->n_params; i++) {
		const struct qparam *p = &q->params[i];

		rc = p->text ? sqlite3_bind_text64(*st, i + 1, p->s, p->len, SQLITE_STATIC, SQLITE_UTF8)
			     : sqlite3_bind_int64(*st, i + 1, p->num);
		if (rc != SQLITE_OK) {
			rc = query_sqlite_fail(db, rc, what, err, errlen);
			sqlite3_finalize(*st);
			*st = NULL;
			return rc;
		}
	}
	return 0;
}

int query_parse_int(const char *s, size_t len, int64_t *ret)
{
	uint64_t v = 0, max;
	size_t i = 0;
	bool neg;

	if (!s || len == 0 || len > 20)
		return -EINVAL;
	neg = s[0] == '-';
	i = neg;
	if (i == len)
		return -EINVAL;
	max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* As the CASE of the connection_log view in src/storage/store_sqlite.c:
 * keep the two the same. */
static const struct {
	int64_t family, protocol;
	const char *name;
} proto_names[] = {
	{ 2, 6, "tcp" },	{ 2, 17, "udp" },	{ 2, 1, "icmp" },
	{ 2, 132, "sctp" },	{ 2, 136, "udplite" },	{ 10, 6, "tcp6" },
	{ 10, 17, "udp6" },	{ 10, 58, "icmp6" },	{ 10, 132, "sctp6" },
	{ 10, 136, "udplite6" },
};

static const char *proto_name(int64_t family, int64_t protocol)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++) {
		if (proto_names[i].family == family && proto_names[i].protocol == protocol)
			return proto_names[i].name;
	}
	return NULL;
}

size_t query_proto_text(int64_t family, int64_t protocol, char *buf, size_t size)
{
	const char *name = proto_name(family, protocol);
	int n;

	if (name)
		n = snprintf(buf, size, "%s", name);
	else if (family == 2)
		n = snprintf(buf, size, "ip/%" PRId64, protocol);
	else if (family == 10)
		n = snprintf(buf, size, "ip6/%" PRId64, protocol);
	else if (family == 17)
		n = snprintf(buf, size, "packet/0x%04" PRIx64, (uint64_t)protocol);
	else
		n = snprintf(buf, size, "%s", "");
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* The family and protocol of a protocol text: 1, or 0 for "" (a family the
 * view has no name for), or -1 for a text no row can have. */
int query_proto_parse(const char *s, size_t len, int64_t *family, int64_t *protocol)
{
	char back[64];
	uint64_t hex = 0;

	if (len == 0)
		return 0;
	*family = -1;
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (strlen(proto_names[i].name) == len && !memcmp(proto_names[i].name, s, len)) {
			*family = proto_names[i].family;
			*protocol = proto_names[i].protocol;
		}
	if (*family >= 0) {
		/* found */
	} else if (len > 3 && !memcmp(s, "ip/", 3)) {
		*family = 2;
		if (query_parse_int(s + 3, len - 3, protocol) < 0)
			return -1;
	} else if (len > 4 && !memcmp(s, "ip6/", 4)) {
		*family = 10;
		if (query_parse_int(s + 4, len - 4, protocol) < 0)
			return -1;
	} else if (len > 9 && len <= 9 + 16 && !memcmp(s, "packet/0x", 9)) {
		*family = 17;
		for (size_t i = 9; i < len; i++) {
			char ch = s[i];
			int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;

			if (d < 0)
				return -1;
			hex = hex << 4 | (uint64_t)d;
		}
		*protocol = (int64_t)hex;
	} else {
		return -1;
	}
	/* only the text the view shows for it: "ip/6" is "tcp", never "ip/6" */
	if (query_proto_text(*family, *protocol, back, sizeof(back)) != len || memcmp(back, s, len))
		return -1;
	return 1;
}

/* The condition that `dim` has one of the values of the filters with this
 * dimension and mode. */
static int add_match(struct query_db *db, struct qsql *q, const struct query_select *sel,
		     enum query_dim dim, enum query_filter_mode mode, char *err, size_t errlen)
{
	const struct dim_info *d = &query_dims[dim];
	const char *key = query_dim_key(db, dim);
	bool first = true, empty = false, other = false;
	char shown[256];
	int64_t v, fam, proto;

	switch (d->kind) {
	case DK_LOOKUP:
	case DK_LABEL:
		qsql_add(q, "(");
		qsql_add(q, key);
		qsql_add(q, " IN (SELECT id FROM ");
		qsql_add(q, d->table);
		if (d->kind == DK_LABEL) {
			qsql_add(q, " WHERE ifnull(");
			qsql_add(q, d->label_fn);
			qsql_add(q, "(address), '') IN (");
		} else {
			qsql_add(q, " WHERE ");
			qsql_add(q, query_dim_column(db, dim));
			qsql_add(q, " IN (");
		}
		for (size_t i = 0; i < sel->n_filters; i++) {
			const struct query_filter *f = &sel->filters[i];

			if (f->dim != dim || f->mode != mode)
				continue;
			qsql_add(q, first ? "" : ", ");
			qsql_text(q, f->value, f->len);
			empty |= f->len == 0;
			first = false;
		}
		qsql_add(q, "))");
		/* "" is also what a NULL key (the grandparent of a row of schema
		 * 10) or an id without its row shows as */
		if (empty) {
			qsql_add(q, " OR NOT EXISTS (SELECT 1 FROM ");
			qsql_add(q, d->table);
			qsql_add(q, " t WHERE t.id = ");
			qsql_add(q, key);
			qsql_add(q, ")");
		}
		qsql_add(q, ")");
		return 0;
	case DK_INT:
		qsql_add(q, key);
		qsql_add(q, " IN (");
		for (size_t i = 0; i < sel->n_filters; i++) {
			const struct query_filter *f = &sel->filters[i];

			if (f->dim != dim || f->mode != mode)
				continue;
			if (query_parse_int(f->value, f->len, &v) < 0)
				return query_fail(err, errlen, -EINVAL, "filter on %s: \"%s\" is not a number",
						  d->name, query_printable(f->value, f->len, shown, sizeof(shown)));
			qsql_add(q, first ? "" : ", ");
			qsql_int(q, v);
			first = false;
		}
		qsql_add(q, ")");
		return 0;
	case DK_PROTOCOL:
		qsql_add(q, "((c.family, c.protocol) IN (VALUES (NULL, NULL)");
		for (size_t i = 0; i < sel->n_filters; i++) {
			const struct query_filter *f = &sel->filters[i];
			int r;

			if (f->dim != dim || f->mode != mode)
				continue;
			r = query_proto_parse(f->value, f->len, &fam, &proto);
			if (r == 0)
				other = true;
			if (r <= 0)
				continue;
			qsql_add(q, ", (");
			qsql_int(q, fam);
			qsql_add(q, ", ");
			qsql_int(q, proto);
			qsql_add(q, ")");
		}
		qsql_add(q, other ? ") OR c.family NOT IN (2, 10, 17))" : "))");
		return 0;
	}
	return -EINVAL;
}

int query_add_filters(struct query_db *db, struct qsql *q, const struct query_select *sel,
		      char *err, size_t errlen)
{
	int r;

	if (sel->n_filters && !sel->filters)
		return query_fail(err, errlen, -EINVAL, "filters missing");
	for (size_t i = 0; i < sel->n_filters; i++) {
		const struct query_filter *f = &sel->filters[i];

		if ((unsigned int)f->dim >= QUERY_DIM__COUNT)
			return query_fail(err, errlen, -EINVAL, "filter %zu: no such dimension", i);
		if (f->mode != QUERY_INCLUDE && f->mode != QUERY_EXCLUDE)
			return query_fail(err, errlen, -EINVAL, "filter %zu: neither include nor exclude", i);
		if (!f->value && f->len)
			return query_fail(err, errlen, -EINVAL, "filter %zu: no value", i);
		if (f->dim == QUERY_DIM_HOST && !db->hosts)
			return query_fail(err, errlen, -EOPNOTSUPP, "filter on host: only the fleet "
					  "view (dash --sql) has machines");
		if (query_dims[f->dim].kind == DK_LABEL && !query_label_hook(db, f->dim, &(void *){ NULL }))
			return query_fail(err, errlen, -EOPNOTSUPP, "filter on %s: this picosnitch has no %s",
					  query_dims[f->dim].name,
					  f->dim == QUERY_DIM_COUNTRY ? "GeoIP data" : "network-owner data");
	}
	for (int dim = 0; dim < QUERY_DIM__COUNT; dim++) {
		for (int m = 0; m < 2; m++) {
			enum query_filter_mode mode = m ? QUERY_EXCLUDE : QUERY_INCLUDE;
			bool any = false;

			for (size_t i = 0; i < sel->n_filters; i++)
				any |= sel->filters[i].dim == (enum query_dim)dim && sel->filters[i].mode == mode;
			if (!any)
				continue;
			/* an exclusion keeps the rows where the match is NULL */
			qsql_add(q, mode == QUERY_INCLUDE ? " AND " : " AND NOT ifnull(");
			r = add_match(db, q, sel, (enum query_dim)dim, mode, err, errlen);
			if (r < 0)
				return r;
			if (mode == QUERY_EXCLUDE)
				qsql_add(q, ", 0)");
		}
	}
	return 0;
}
