/* Reading the entries of a few executables from their executable days
 * (schema 14, table exe_days, storage/rollup.h) instead of from the
 * connections table: a drill-down into one executable over months reads
 * its blobs (one per day it was active) rather than its entries one by one
 * through the index (a random read each).  The query's filters are applied
 * to each entry here, as the SQL of query_add_filters would apply them: the
 * ids that a filter on a looked-up value (a path, an address, a domain,
 * a country) keeps are read from their table with the same SQL condition,
 * numbers and protocols are compared as numbers.  The sums are then those
 * of the same entries, added in the same way (agg_add), as from the rows. */
#include "query/query_int.h"
#include "query/query_prefetch.h"
#include "storage/rollup.h"
#include "storage/schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* more executables than this (a filter on a common name) are read as rows */
#define MAX_EXES 1000
/* entries of an executable day decoded at a time (7.5 kB of varints) */
#define ROWS_CHUNK 64

/* One (dimension, mode) of the filters. */
struct matcher {
	int col;		/* the row's column: enum rollup_key */
	enum dim_kind kind;
	bool exclude;
	int64_t *vals;		/* sorted: the ids kept (lookups), or the numbers */
	size_t n_vals;
	bool empty;		/* a value "": also NULL keys and ids without a row */
	int64_t *exist;		/* then the ids that have a row, sorted */
	size_t n_exist;
	uint8_t *bits;		/* lookups: whether ids [0, n_bits) match */
	size_t n_bits;
	int64_t (*pairs)[2];	/* protocols: (family, protocol) */
	size_t n_pairs;
	bool other;		/* protocol "": any family but 2, 10, 17 */
};

struct exe_days {
	int64_t *exes;		/* sorted */
	size_t n_exes;
	struct matcher *m;
	size_t n_m;
};

void exe_days_free(struct exe_days *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n_m; i++) {
		free(x->m[i].vals);
		free(x->m[i].exist);
		free(x->m[i].pairs);
		free(x->m[i].bits);
	}
	free(x->m);
	free(x->exes);
	free(x);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static bool has(const int64_t *v, size_t n, int64_t k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] == k)
			return true;
		if (v[mid] < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The integers of the first column of a statement, sorted. */
static int read_ids(struct query_db *db, struct qsql *q, int64_t **ret, size_t *n, char *err,
		    size_t errlen)
{
	sqlite3_stmt *st;
	int64_t *v = NULL;
	size_t cap = 0;
	int r, rc;

	*ret = NULL;
	*n = 0;
	r = qsql_prepare(db, q, &st, "read the filter's values", err, errlen);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_INTEGER)
			continue;
		if (*n == cap) {
			int64_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!nv) {
				free(v);
				sqlite3_finalize(st);
				return query_fail(err, errlen, -ENOMEM, "out of memory");
			}
			v = nv;
		}
		v[(*n)++] = sqlite3_column_int64(st, 0);
	}
	r = rc == SQLITE_DONE ? 0 : query_sqlite_fail(db, rc, "read the filter's values", err, errlen);
	sqlite3_finalize(st);
	if (r < 0) {
		free(v);
		*n = 0;
		return r;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_i64);
	*ret = v;
	return 0;
}

static bool lookup_match(const struct matcher *m, bool present, int64_t v)
{
	return (present && has(m->vals, m->n_vals, v)) ||
	       (m->empty && (!present || !has(m->exist, m->n_exist, v)));
}

/* The answers of a lookup matcher for the ids [0, the largest id it
 * knows], if not too many (else it searches); as the search would give. */
static void make_bits(struct matcher *m)
{
	int64_t top = -1;

	if (m->n_vals)
		top = m->vals[m->n_vals - 1];
	if (m->n_exist && m->exist[m->n_exist - 1] > top)
		top = m->exist[m->n_exist - 1];
	if (top < 0 || top >= (1 << 24) || !(m->bits = calloc((size_t)top / 8 + 1, 1)))
		return;
	m->n_bits = (size_t)top + 1;
	for (int64_t v = 0; v <= top; v++)
		if (lookup_match(m, true, v))
			m->bits[v / 8] |= (uint8_t)(1 << (v % 8));
}

/* The matcher of the filters of `dim` in `mode` (add_match in query_sql.c
 * is the SQL it must agree with). */
static int make_matcher(struct query_db *db, const struct query_select *sel, enum query_dim dim,
			enum query_filter_mode mode, struct matcher *m, char *err, size_t errlen)
{
	const struct dim_info *d = &query_dims[dim];
	struct qsql q = { 0 };
	bool first = true;
	int r = 0;

	*m = (struct matcher){ .col = d->rollup_key, .kind = d->kind, .exclude = mode == QUERY_EXCLUDE };
	for (size_t i = 0; i < sel->n_filters; i++) {
		const struct query_filter *f = &sel->filters[i];
		int64_t v, fam, proto;

		if (f->dim != dim || f->mode != mode)
			continue;
		switch (d->kind) {
		case DK_LOOKUP:
		case DK_LABEL:
			if (first) {
				qsql_add(&q, "SELECT id FROM ");
				qsql_add(&q, d->table);
				if (d->kind == DK_LABEL) {
					qsql_add(&q, " WHERE ifnull(");
					qsql_add(&q, d->label_fn);
					qsql_add(&q, "(address), '') IN (");
				} else {
					qsql_add(&q, " WHERE ");
					qsql_add(&q, query_dim_column(db, dim));
					qsql_add(&q, " IN (");
				}
			}
			qsql_add(&q, first ? "" : ", ");
			qsql_text(&q, f->value, f->len);
			m->empty |= f->len == 0;
			break;
		case DK_INT:
			if (query_parse_int(f->value, f->len, &v) < 0) {
				qsql_free(&q);
				return query_fail(err, errlen, -EINVAL, "filter on %s: not a number", d->name);
			}
			if (!(m->n_vals % 16)) {
				int64_t *nv = realloc(m->vals, (m->n_vals + 16) * sizeof(*nv));

				if (!nv)
					return query_fail(err, errlen, -ENOMEM, "out of memory");
				m->vals = nv;
			}
			m->vals[m->n_vals++] = v;
			break;
		case DK_PROTOCOL:
			r = query_proto_parse(f->value, f->len, &fam, &proto);
			if (r == 0)
				m->other = true;
			if (r <= 0)
				break;
			if (!(m->n_pairs % 16)) {
				int64_t(*np)[2] = realloc(m->pairs, (m->n_pairs + 16) * sizeof(*np));

				if (!np)
					return query_fail(err, errlen, -ENOMEM, "out of memory");
				m->pairs = np;
			}
			m->pairs[m->n_pairs][0] = fam;
			m->pairs[m->n_pairs][1] = proto;
			m->n_pairs++;
			break;
		}
		first = false;
	}
	r = 0;
	if (d->kind == DK_LOOKUP || d->kind == DK_LABEL) {
		qsql_add(&q, ")");
		r = read_ids(db, &q, &m->vals, &m->n_vals, err, errlen);
		qsql_free(&q);
		if (r == 0 && m->empty) {
			qsql_add(&q, "SELECT id FROM ");
			qsql_add(&q, d->table);
			r = read_ids(db, &q, &m->exist, &m->n_exist, err, errlen);
			qsql_free(&q);
		}
		/* ids are small numbers: whether each matches, at once */
		if (r == 0)
			make_bits(m);
	} else if (d->kind == DK_INT && m->n_vals) {
		qsort(m->vals, m->n_vals, sizeof(*m->vals), cmp_i64);
	}
	return r;
}

/* A column of an entry of executable `exe`: false for a NULL. */
static bool column(int col, int64_t exe, const struct rollup_row *r, int64_t *v)
{
	switch (col) {
	case ROLLUP_KEY_EXE: *v = exe; break;
	case ROLLUP_KEY_PARENT: *v = r->parent; break;
	case ROLLUP_KEY_GRANDPARENT: *v = r->gp; return !r->gp_null;
	case ROLLUP_KEY_UID: *v = r->uid; break;
	case ROLLUP_KEY_LPORT: *v = r->lport; break;
	case ROLLUP_KEY_RPORT: *v = r->rport; break;
	case ROLLUP_KEY_LADDR: *v = r->laddr; break;
	case ROLLUP_KEY_RADDR: *v = r->raddr; break;
	case ROLLUP_KEY_DOMAIN: *v = r->domain; break;
	case ROLLUP_KEY_PROTOCOL: *v = r->family; break;
	case ROLLUP_KEY_NETNS: *v = r->netns; break;
	default: *v = r->time; break;
	}
	return true;
}

static bool matches(const struct matcher *m, int64_t exe, const struct rollup_row *r)
{
	int64_t v;
	bool present = column(m->col, exe, r, &v);

	switch (m->kind) {
	case DK_LOOKUP:
	case DK_LABEL:
		if (present && v >= 0 && (uint64_t)v < m->n_bits)
			return m->bits[v / 8] >> (v % 8) & 1;
		return lookup_match(m, present, v);
	case DK_INT:
		return present && has(m->vals, m->n_vals, v);
	case DK_PROTOCOL:
		for (size_t i = 0; i < m->n_pairs; i++)
			if (m->pairs[i][0] == r->family && m->pairs[i][1] == r->protocol)
				return true;
		return m->other && r->family != 2 && r->family != 10 && r->family != 17;
	}
	return false;
}

int exe_days_prepare(struct query_db *db, const struct query_select *sel, bool rows_only,
		     struct exe_days **ret, char *err, size_t errlen)
{
	struct exe_days *x;
	struct qsql q = { 0 };
	bool named = false;
	int r = 0;

	*ret = NULL;
	/* a fleet copy (hosts) has no executable days */
	if (db->hosts)
		return 0;
	if (!rows_only && (db->version < 14 || db->no_exe_days || db->opt.no_rollups || !db->covered))
		return 0;
	/* an include filter on the executable's columns, without "" */
	for (int d = 0; d < QUERY_DIM__COUNT; d++) {
		bool any = false, empty = false;

		if (query_dims[d].rollup_key != ROLLUP_KEY_EXE)
			continue;
		for (size_t i = 0; i < sel->n_filters; i++)
			if ((int)sel->filters[i].dim == d && sel->filters[i].mode == QUERY_INCLUDE) {
				any = true;
				empty |= sel->filters[i].len == 0;
			}
		named |= any && !empty;
	}
	if (!named)
		return 0;
	/* bad filters fail as they do when read as rows */
	r = query_add_filters(db, &q, sel, err, errlen);
	qsql_free(&q);
	if (r < 0)
		return r;
	if (!(x = calloc(1, sizeof(*x))) || !(x->m = calloc(2 * QUERY_DIM__COUNT, sizeof(*x->m)))) {
		free(x);
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	}
	for (int d = 0; r == 0 && d < QUERY_DIM__COUNT; d++)
		for (int mode = 0; r == 0 && mode < 2; mode++) {
			bool any = false;

			for (size_t i = 0; i < sel->n_filters; i++)
				any |= (int)sel->filters[i].dim == d && (int)sel->filters[i].mode == mode;
			if (!any)
				continue;
			/* (freed with the others if it fails half made) */
			r = make_matcher(db, sel, (enum query_dim)d, (enum query_filter_mode)mode,
					 &x->m[x->n_m++], err, errlen);
		}
	/* the executables: those that every such include keeps */
	for (size_t i = 0; r == 0 && i < x->n_m; i++) {
		const struct matcher *m = &x->m[i];
		size_t n = 0;

		if (m->col != ROLLUP_KEY_EXE || m->exclude || m->empty)
			continue;
		if (!x->exes) {
			if (!(x->exes = malloc((m->n_vals ? m->n_vals : 1) * sizeof(*x->exes)))) {
				r = query_fail(err, errlen, -ENOMEM, "out of memory");
				break;
			}
			if (m->n_vals)
				memcpy(x->exes, m->vals, m->n_vals * sizeof(*x->exes));
			x->n_exes = m->n_vals;
			continue;
		}
		for (size_t j = 0; j < x->n_exes; j++)
			if (has(m->vals, m->n_vals, x->exes[j]))
				x->exes[n++] = x->exes[j];
		x->n_exes = n;
	}
	if (r < 0 || x->n_exes > MAX_EXES) {
		exe_days_free(x);
		return r;
	}
	*ret = x;
	return 0;
}

/* The sums per key of one dimension while the days are read, for an agg
 * without a series that was empty: keys and sums in the slots themselves
 * (one memory access a row, not two or three: a busy executable's year is
 * a million rows and tens of thousands of remote addresses and ports),
 * moved into the agg at the end in the order the keys came.  Each key's
 * sums are the same additions, in the same order, from 0, as agg_add
 * would make. */
#define KTAB_MAX 65536

struct kslot {
	int64_t k, k2, sent, received, flows;
	uint32_t used;		/* its place in `order` + 1; 0: empty */
};

struct ktab {
	struct kslot *s;
	size_t n_slots, n;
	uint32_t *order;	/* slots in the order their keys came */
	size_t last;		/* the slot of the previous row's key */
};

static uint64_t khash(int64_t k, int64_t k2)
{
	uint64_t x = (uint64_t)k * 0x9e3779b97f4a7c15ULL ^ (uint64_t)k2 * 0xc2b2ae3d27d4eb4fULL;

	return x ^ (x >> 29);
}

static void ktab_free(struct ktab *t)
{
	free(t->s);
	free(t->order);
	*t = (struct ktab){ 0 };
}

static bool ktab_grow(struct ktab *t)
{
	size_t n_slots = t->n_slots ? t->n_slots * 2 : 1024;
	struct kslot *s;
	uint32_t *order;

	if (n_slots > (size_t)UINT32_MAX / 2 || !(s = calloc(n_slots, sizeof(*s))))
		return false;
	if (!(order = realloc(t->order, n_slots / 2 * sizeof(*order)))) {
		free(s);
		return false;
	}
	t->order = order;
	for (size_t i = 0; i < t->n; i++) {
		const struct kslot *o = &t->s[order[i]];
		size_t h = khash(o->k, o->k2) & (n_slots - 1);

		while (s[h].used)
			h = (h + 1) & (n_slots - 1);
		s[h] = *o;
		order[i] = (uint32_t)h;
	}
	free(t->s);
	t->s = s;
	t->n_slots = n_slots;
	t->last = t->n ? order[t->n - 1] : 0;
	return true;
}

static bool ktab_add(struct ktab *t, int64_t k, int64_t k2, const struct rollup_row *row)
{
	struct kslot *e = t->n ? &t->s[t->last] : NULL;
	size_t h;

	if (!e || e->k != k || e->k2 != k2) {
		if ((t->n + 1) * 2 > t->n_slots && !ktab_grow(t))
			return false;
		for (h = khash(k, k2) & (t->n_slots - 1); t->s[h].used; h = (h + 1) & (t->n_slots - 1))
			if (t->s[h].k == k && t->s[h].k2 == k2)
				break;
		e = &t->s[h];
		if (!e->used) {
			*e = (struct kslot){ .k = k, .k2 = k2, .used = (uint32_t)t->n + 1 };
			t->order[t->n++] = (uint32_t)h;
		}
		t->last = h;
	}
	e->sent = query_add_sat(e->sent, row->sent);
	e->received = query_add_sat(e->received, row->received);
	e->flows = query_add_sat(e->flows, row->flows);
	return true;
}

/* The keys into the (empty) agg, in the order they came (which, for the
 * times of days read in order, is the keys' order: agg_get appends them). */
static bool ktab_move(struct ktab *t, struct agg *a)
{
	if (t->n && !agg_reserve_entries(a, t->n))
		return false;
	for (size_t i = 0; i < t->n; i++) {
		const struct kslot *s = &t->s[t->order[i]];
		struct agg_entry *e = agg_get(a, s->k, s->k2, true);

		if (!e)
			return false;
		e->sent = query_add_sat(e->sent, s->sent);
		e->received = query_add_sat(e->received, s->received);
		e->flows = query_add_sat(e->flows, s->flows);
	}
	ktab_free(t);
	return true;
}

/* A series' rows are summed per key in a ktab for as long as they stay in
 * one bucket, then go into the agg, one agg_add a key: a bucket of days
 * holds far fewer keys than the year, so its table stays in the cache,
 * while the agg (every key with its buckets) is touched once a key and
 * bucket rather than once a row.  The keys reach the agg in the order they
 * came, with the same sums, as they would row by row.  At most this many
 * keys are held before they go in (a bucket may be sent on in parts). */
#define BUCKET_KEYS_MAX 16384

struct bucket_tab {
	struct ktab t;
	int64_t lo, hi;		/* the times of the bucket being summed */
	int64_t time;		/* one of them, for agg_add */
};

/* A key's way into the agg is three dependent reads (hash slot, entry,
 * its pairs), each a cache miss in a busy executable's year: each is
 * asked for this many keys before the next needs it. */
#define FLUSH_AHEAD 6

static bool bucket_flush(struct bucket_tab *b, struct agg *a)
{
	/* the reads in the order they depend on each other, the first the
	 * furthest ahead */
	static void (*const stage[])(const struct agg *, int64_t, int64_t) = {
		agg_prefetch, agg_prefetch_entry, agg_prefetch_pairs,
	};
	const size_t n_stages = sizeof(stage) / sizeof(stage[0]);

	for (size_t i = 0; i < b->t.n; i++) {
		struct kslot *s = &b->t.s[b->t.order[i]];

		for (size_t j = 0; j < n_stages; j++) {
			size_t ahead = i + (n_stages - j) * FLUSH_AHEAD;

			if (ahead < b->t.n)
				stage[j](a, b->t.s[b->t.order[ahead]].k, b->t.s[b->t.order[ahead]].k2);
		}
		if (!agg_add(a, s->k, s->k2, b->time, s->sent, s->received, s->flows))
			return false;
		*s = (struct kslot){ 0 };
	}
	b->t.n = 0;
	return true;
}

static bool bucket_add(struct bucket_tab *b, struct agg *a, int64_t k, int64_t k2,
		       const struct rollup_row *row)
{
	if (row->time < b->lo || row->time >= b->hi || b->t.n >= BUCKET_KEYS_MAX) {
		if (!bucket_flush(b, a))
			return false;
		agg_bucket_span(a->series, row->time, &b->lo, &b->hi);
		b->time = row->time;
	}
	return ktab_add(&b->t, k, k2, row);
}

/* Whether the filters on the executable's own columns keep exe (those
 * decide per executable; the others per entry). */
static bool exe_kept(const struct exe_days *x, int64_t exe)
{
	struct rollup_row any = { 0 };

	for (size_t j = 0; j < x->n_m; j++)
		if (x->m[j].col == ROLLUP_KEY_EXE &&
		    matches(&x->m[j], exe, &any) == x->m[j].exclude)
			return false;
	return true;
}

/* The executables of x that exe_kept keeps: those a scan reads, it and
 * the helpers that read ahead (NULL if out of memory). */
static int64_t *kept_exes(const struct exe_days *x, size_t *n)
{
	int64_t *v = malloc((x->n_exes ? x->n_exes : 1) * sizeof(*v));

	*n = 0;
	for (size_t i = 0; v && i < x->n_exes; i++)
		if (exe_kept(x, x->exes[i]))
			v[(*n)++] = x->exes[i];
	return v;
}

/* Whether the part of key `key` of the executables' sums has the domain as
 * each entry's second key: the remote addresses' since schema 21. */
static bool part_has_domain(const struct query_db *db, int key)
{
	return key == ROLLUP_KEY_RADDR && db->version >= SCHEMA_EXE_SUMS_PAIRS;
}

/* Whether the part of key `key` of the executables' sums holds the column
 * that m looks at: its own key, or the domain (part_has_domain). */
static bool part_carries(const struct query_db *db, int key, const struct matcher *m)
{
	return m->col == key || (m->col == ROLLUP_KEY_DOMAIN && part_has_domain(db, key));
}

/* Whether the executables' sums of whole days (exe_sums) give what their
 * entries would: every filter is on the executable's own columns (decided
 * per executable) or on a column that the part of each list's key holds
 * (a filter on the domain when listing domains, or remote addresses and
 * what is made of them), and a series' buckets hold whole days. */
static bool sums_usable(const struct query_db *db, const struct exe_days *x,
			const enum query_dim *dims, struct agg *const *aggs, size_t n_aggs)
{
	if (db->version < SCHEMA_EXE_SUMS_SPLIT)
		return false;	/* 18's are not split: its days are read */
	for (size_t j = 0; j < x->n_m; j++)
		for (size_t i = 0; x->m[j].col != ROLLUP_KEY_EXE && i < n_aggs; i++)
			if (!part_carries(db, query_dims[dims[i]].rollup_key, &x->m[j]))
				return false;
	for (size_t j = 0; j < n_aggs; j++) {
		const struct agg_series *as = aggs[j]->series;

		if (as && (as->align_len <= 0 || as->align_len % ROLLUP_DAY ||
			   as->align_start % ROLLUP_DAY))
			return false;
	}
	return true;
}

/* How add_part reads a part: the filters its entries must pass (those not
 * on the executable's own columns; sums_usable made sure the part holds
 * their columns), and whether the second key is the domain of remote
 * addresses (schema 21), not part of the key listed.  `row` is what the
 * filters look at: zero but for the columns of the part's key, which each
 * entry writes (always the same columns, so the rest stays zero: zeroing
 * the whole row per entry was a quarter of the second pass of a long
 * filtered series). */
struct part_filter {
	int key;
	const struct matcher *const *m;
	size_t n_m;
	bool pairs;
	struct rollup_row row;
};

static bool part_keeps(struct part_filter *pf, int64_t exe, const struct rollup_entry *e)
{
	rollup_sums_key_row(pf->key, e->key, e->key2, &pf->row);
	for (size_t j = 0; j < pf->n_m; j++)
		if (matches(pf->m[j], exe, &pf->row) == pf->m[j]->exclude)
			return false;
	return true;
}

/* Whether an agg sums each key only: totals, or a series' first pass
 * that keeps no buckets. */
static bool sums_only(const struct agg *a)
{
	return !a->series || (a->series->no_buckets && !a->series->second);
}

/* The dense tables (query_int.h) of a scan's aggs, sharing *budget: one
 * for each sum by a key other than time (a series adds to buckets,
 * and times are never small), none (no pages) for the others or when
 * there is no memory for it; NULL if the array cannot be made. */
static struct agg_dense *dense_tables(const enum query_dim *dims, struct agg *const *aggs,
				      size_t n_aggs, size_t *budget)
{
	struct agg_dense *dense = calloc(n_aggs, sizeof(*dense));

	for (size_t j = 0; dense && j < n_aggs; j++)
		if (sums_only(aggs[j]) && dims[j] != QUERY_DIM_TIME &&
		    !agg_dense_init(&dense[j], budget))
			dense[j].page = NULL;
	return dense;
}

static void dense_tables_free(struct agg_dense *dense, size_t n_aggs)
{
	for (size_t j = 0; dense && j < n_aggs; j++)
		agg_dense_free(&dense[j]);
	free(dense);
}

/* Add a unit's blob of key sums (a part of an executable's sums) to agg at
 * `day`, its small keys to `dense` if not NULL: -1 if it cannot be read,
 * -ENOMEM.  (Not through a ktab, as the days' rows are: a part's keys are
 * distinct, so its shortcut for the previous key never helps, and the
 * agg's compact slots probe faster.) */
static int add_part(struct agg *agg, struct agg_dense *dense, struct part_filter *pf,
		    const struct line_key *lk, size_t n_lk, int64_t exe, int64_t day,
		    const uint8_t *part, size_t len)
{
	/* into the agg a key is three dependent reads (hash slot, entry, the
	 * series' pairs), each a cache miss for a busy executable's remote
	 * addresses over a year: each is asked for FLUSH_AHEAD keys before
	 * the next one needs it, as bucket_flush does (in a series by remote
	 * address over the year the pairs' miss alone was a quarter of the
	 * query's time); a dense table is one read */
	static void (*const stage[])(const struct agg *, int64_t, int64_t) = {
		agg_prefetch, agg_prefetch_entry, agg_prefetch_pairs,
	};
	enum { DENSE_AHEAD = 8 };
	const int n_stages = sums_only(agg) ? 1 : 3;
	struct rollup_reader rd;
	struct rollup_entries buf[2], *c = &buf[0], *next = &buf[1], *t;
	int n, n_next;

	if (!rollup_reader_init(&rd, part, len))
		return -1;
	if (agg->series && agg->series->second) {
		/* a series' second pass: the part's keys (sorted) along its
		 * lines' keys, no lookups */
		struct line_walk w;

		line_walk_start(&w, lk, n_lk);
		while ((n = rollup_next_entries(&rd, c)) > 0)
			for (int i = 0; i < n; i++) {
				const struct rollup_entry *e = &c->e[i];

				if (!pf->n_m || part_keeps(pf, exe, e))
					agg_add_line(agg, line_walk_line(&w, agg, e->key,
									 pf->pairs ? 0 : e->key2),
						     day, e->sent, e->received);
			}
		return n;
	}
	/* chunks of entries decoded at once, the next one before the current
	 * one is added, so that the reads ahead go on across them */
	n = rollup_next_entries(&rd, c);
	while (n > 0) {
		n_next = rollup_next_entries(&rd, next);
		if (n_next < 0)
			return n_next;
		for (int i = 0; i < n; i++) {
			const struct rollup_entry *e = &c->e[i];
			int64_t k2 = pf->pairs ? 0 : e->key2;

			if (pf->n_m && !part_keeps(pf, exe, e))
				continue;
			if (dense) {
				if (i + DENSE_AHEAD < n) {
					const struct rollup_entry *f = &e[DENSE_AHEAD];
					int64_t f2 = pf->pairs ? 0 : f->key2;

					if (!agg_dense_prefetch(dense, f->key, f2))
						agg_prefetch(agg, f->key, f2);
				}
			} else {
				for (int j = 0; j < n_stages; j++) {
					int a = i + (n_stages - j) * FLUSH_AHEAD;
					const struct rollup_entry *f = a < n ? &c->e[a] :
								       a - n < n_next ? &next->e[a - n] : NULL;

					if (f)
						stage[j](agg, f->key, pf->pairs ? 0 : f->key2);
				}
			}
			if (!(dense && agg_dense_add(dense, e->key, k2, e->sent, e->received, e->flows)) &&
			    !agg_add(agg, e->key, k2, day, e->sent, e->received, e->flows))
				return -ENOMEM;
		}
		t = c;
		c = next;
		next = t;
		n = n_next;
	}
	return n;
}

/* The runs of units an executable's sums of the whole days [d0, d1) are
 * read in: the whole weeks among them from their week rows (schema 20),
 * when every series' buckets hold whole weeks (a week's sums go into one
 * bucket), and the days around them from day rows. */
struct sums_run {
	int base;		/* ROLLUP_SUMS_DAY or ROLLUP_SUMS_WEEK */
	int64_t from, to;	/* the units starting in [from, to) */
};

static size_t sums_runs(const struct query_db *db, struct agg *const *aggs, size_t n_aggs,
			int64_t d0, int64_t d1, struct sums_run runs[3])
{
	int64_t w0 = rollup_week_ceil(d0), w1 = rollup_week_start(d1);
	bool weeks = db->version >= SCHEMA_EXE_SUMS_WEEKS && w0 < w1 && !db->opt.no_exe_weeks;
	size_t n = 0;

	for (size_t j = 0; weeks && j < n_aggs; j++) {
		const struct agg_series *as = aggs[j]->series;

		if (as && (as->align_len % ROLLUP_WEEK || rollup_week_start(as->align_start) !=
							      as->align_start))
			weeks = false;
	}
	if (!weeks) {
		runs[n++] = (struct sums_run){ ROLLUP_SUMS_DAY, d0, d1 };
		return n;
	}
	if (d0 < w0)
		runs[n++] = (struct sums_run){ ROLLUP_SUMS_DAY, d0, w0 };
	runs[n++] = (struct sums_run){ ROLLUP_SUMS_WEEK, w0, w1 };
	if (w1 < d1)
		runs[n++] = (struct sums_run){ ROLLUP_SUMS_DAY, w1, d1 };
	return n;
}

/* The line keys of the aggs in a series' second pass (lk NULL for the
 * others). */
struct agg_lines {
	struct line_key *lk;
	size_t n;
};

static bool second_pass(const struct agg *a)
{
	return a->series && a->series->second;
}

static bool lines_wanted(struct agg *const *aggs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (second_pass(aggs[i]))
			return true;
	return false;
}

static void lines_free(struct agg_lines *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++)
		free(l[i].lk);
	free(l);
}

/* exe_days_scan from the executables' sums: each unit's sums of each key
 * added at the unit's start (a series' buckets hold whole units: see
 * sums_usable and sums_runs).  A unit is its row (dim: its base), then the
 * rows of the keys too long for it (schema 19, rollup.h), in the primary
 * key's order; only those of the keys asked for are read.  In a series'
 * second pass each part's keys are walked along its lines' keys (add_part),
 * without helpers: the first pass brought the rows into the cache. */
static int sums_scan(struct query_db *db, const struct exe_days *x, const enum query_dim *dims,
		     struct agg *const *aggs, size_t n_aggs, int64_t d0, int64_t d1, char *err,
		     size_t errlen)
{
	static const char sql[] = "SELECT day, dim, data FROM exe_sums WHERE exe_id = ?1 AND "
				  "day >= ?2 AND day < ?3 AND dim >= 0 AND dim < 63 AND "
				  "(?4 >> dim) & 1 ORDER BY day, dim";
	struct agg_lines *lines;	/* the lines' keys of a second pass */
	bool *pending;		/* aggs[j]'s part of this unit is still to come */
	struct part_filter *pfs;	/* how aggs[j] reads its parts */
	const struct matcher **row_m;
	size_t n_row_m = 0;
	struct agg_dense *dense;	/* small keys of totals (dense_tables) */
	size_t budget = AGG_DENSE_MAX_PAGES;
	int64_t keys = 0;	/* the keys asked for: bit key */
	struct sums_run runs[3];
	size_t n_runs = sums_runs(db, aggs, n_aggs, d0, d1, runs);
	struct prefetch_weeks weeks = { 0 };
	int64_t *kept;
	size_t n_kept;
	struct prefetch *ahead;
	sqlite3_stmt *st;
	int r = 0, rc;

	pending = calloc(n_aggs, sizeof(*pending));
	dense = dense_tables(dims, aggs, n_aggs, &budget);
	kept = kept_exes(x, &n_kept);
	pfs = calloc(n_aggs, sizeof(*pfs));
	row_m = calloc(x->n_m ? x->n_m : 1, sizeof(*row_m));
	lines = calloc(n_aggs, sizeof(*lines));
	for (size_t j = 0; lines && j < n_aggs && r == 0; j++)
		if (second_pass(aggs[j]))
			r = agg_line_keys(aggs[j], &lines[j].lk, &lines[j].n);
	if (!pending || !dense || !kept || !pfs || !row_m || !lines || r < 0) {
		free(pending);
		dense_tables_free(dense, n_aggs);
		free(kept);
		free(pfs);
		free(row_m);
		lines_free(lines, n_aggs);
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	}
	/* the filters decided per entry: each part holds their columns */
	for (size_t j = 0; j < x->n_m; j++)
		if (x->m[j].col != ROLLUP_KEY_EXE)
			row_m[n_row_m++] = &x->m[j];
	for (size_t j = 0; j < n_aggs; j++) {
		int key = query_dims[dims[j]].rollup_key;

		pfs[j] = (struct part_filter){ key, row_m, n_row_m, part_has_domain(db, key) };
	}
	for (size_t j = 0; j < n_aggs; j++)
		keys |= (int64_t)1 << query_dims[dims[j]].rollup_key;
	rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		free(pending);
		dense_tables_free(dense, n_aggs);
		free(kept);
		free(pfs);
		free(row_m);
		lines_free(lines, n_aggs);
		return query_sqlite_fail(db, rc, "read the executables' sums", err, errlen);
	}
	for (size_t i = 0; i < n_runs; i++)
		if (runs[i].base == ROLLUP_SUMS_WEEK)
			weeks = (struct prefetch_weeks){ (keys | 1) << ROLLUP_SUMS_WEEK, runs[i].from,
							 runs[i].to };
	/* a series' second pass reads what its first read: from the cache */
	ahead = lines_wanted(aggs, n_aggs) ? NULL
					   : prefetch_scan(db, sql, keys | 1, kept, n_kept, d0, d1,
							   weeks.w1 ? &weeks : NULL);
	rc = SQLITE_DONE;
	for (size_t i = 0; r == 0 && i < n_kept * n_runs; i++) {
		const struct sums_run *run = &runs[i % n_runs];
		int64_t exe = kept[i / n_runs], cur = INT64_MIN;
		bool waiting = false;	/* any pending */
		int n = 1;

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, exe);
		sqlite3_bind_int64(st, 2, run->from);
		sqlite3_bind_int64(st, 3, run->to);
		sqlite3_bind_int64(st, 4, (keys | 1) << run->base);
		while (r == 0 && n >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t start = sqlite3_column_int64(st, 0);
			int64_t dim = sqlite3_column_int64(st, 1) - run->base;
			const uint8_t *blob = sqlite3_column_blob(st, 2);
			size_t len = (size_t)sqlite3_column_bytes(st, 2);

			/* a unit that does not start where its grain does is
			 * not ours */
			if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
			    (run->base == ROLLUP_SUMS_WEEK ? rollup_week_start(start)
							   : rollup_day_start(start)) != start)
				continue;
			if (dim == 0) {
				/* a new unit: the last one's long parts have all come */
				if (waiting)
					n = -1;
				cur = start;
				waiting = false;
				for (size_t j = 0; n >= 0 && j < n_aggs; j++) {
					const uint8_t *part;
					size_t part_len;

					pending[j] = false;
					if (!rollup_sums_part(blob, len, query_dims[dims[j]].rollup_key,
							      &part, &part_len))
						n = -1;
					else if (!part_len)
						waiting = pending[j] = true;
					else
						n = add_part(aggs[j], dense[j].page ? &dense[j] : NULL,
							     &pfs[j], lines[j].lk, lines[j].n, exe,
							     start, part, part_len);
				}
			} else if (start == cur && waiting) {
				/* a long part: of the aggs waiting for its key (a
				 * row that none waits for, its part in the unit's
				 * row, is not read) */
				waiting = false;
				for (size_t j = 0; n >= 0 && j < n_aggs; j++) {
					if (pending[j] && query_dims[dims[j]].rollup_key == dim) {
						pending[j] = false;
						n = add_part(aggs[j], dense[j].page ? &dense[j] : NULL,
							     &pfs[j], lines[j].lk, lines[j].n, exe,
							     start, blob, len);
					}
					waiting |= pending[j];
				}
			} else if (start != cur) {
				n = -1;	/* a long part without its unit's row */
			}
			if (n == -ENOMEM)
				r = query_fail(err, errlen, -ENOMEM, "out of memory");
			else if (r == 0 && query_check_progress(db))
				r = query_sqlite_fail(db, SQLITE_INTERRUPT, "read the executables' sums",
						      err, errlen);
		}
		if (r == 0 && (n < 0 || waiting)) {
			db->exe_days_failed = true;
			r = query_fail(err, errlen, -EBADMSG,
				       "an executable's sums of %s cannot be read", db->path);
		} else if (r == 0 && rc != SQLITE_DONE) {
			r = query_sqlite_fail(db, rc, "read the executables' sums", err, errlen);
		}
	}
	prefetch_stop(ahead);
	for (size_t j = 0; j < n_aggs; j++)
		if (r == 0 && !agg_dense_flush(&dense[j], aggs[j]))
			r = query_fail(err, errlen, -ENOMEM, "out of memory");
	dense_tables_free(dense, n_aggs);
	free(kept);
	sqlite3_finalize(st);
	free(pending);
	free(pfs);
	free(row_m);
	lines_free(lines, n_aggs);
	return r;
}

/* The key of a row in the list of dims[j]. */
static void row_key(enum query_dim dim, int64_t exe, const struct rollup_row *row, int64_t *k,
		    int64_t *k2)
{
	const struct dim_info *di = &query_dims[dim];

	*k2 = 0;
	if (!column(di->rollup_key, exe, row, k)) {
		*k = 0;
		*k2 = AGG_NULL_KEY;
	} else if (di->kind == DK_PROTOCOL) {
		*k2 = row->protocol;
	}
}

/* How the rows of an executable day are added to the list of dims[j]:
 * a series' bucket table, the agg itself, or a table of keys. */
enum row_sink { SINK_BUCKET, SINK_AGG, SINK_KTAB };

static enum row_sink row_sink(enum query_dim dim, const struct agg *agg)
{
	if (agg->series && dim != QUERY_DIM_TIME)
		return SINK_BUCKET;
	/* times come in order: appended (agg_get) */
	if (agg->n || dim == QUERY_DIM_TIME)
		return SINK_AGG;
	return SINK_KTAB;
}

static void ktab_prefetch(const struct ktab *t, int64_t k, int64_t k2)
{
	if (t->n_slots)
		__builtin_prefetch(&t->s[khash(k, k2) & (t->n_slots - 1)]);
}

/* A row's keys are looked up this many rows before it is added: the
 * tables of a busy executable's remote addresses or ports are megabytes,
 * a row's slot is a cache miss, and asking for it early hides most of it
 * (the sums are added in the same order). */
#define PREFETCH_ROWS 8

static void prefetch_row(const enum query_dim *dims, struct agg *const *aggs, size_t n_aggs,
			 const struct ktab *tabs, const struct bucket_tab *btabs,
			 const struct agg_dense *dense, int64_t exe, const struct rollup_row *row)
{
	for (size_t j = 0; j < n_aggs; j++) {
		int64_t k, k2;

		row_key(dims[j], exe, row, &k, &k2);
		if (dense[j].page && agg_dense_prefetch(&dense[j], k, k2))
			continue;
		switch (row_sink(dims[j], aggs[j])) {
		case SINK_BUCKET: ktab_prefetch(&btabs[j].t, k, k2); break;
		case SINK_AGG: agg_prefetch(aggs[j], k, k2); break;
		case SINK_KTAB: ktab_prefetch(&tabs[j], k, k2); break;
		}
	}
}

static bool add_row(const enum query_dim *dims, struct agg *const *aggs, size_t n_aggs,
		    struct ktab *tabs, struct bucket_tab *btabs, struct agg_dense *dense, int64_t exe,
		    const struct rollup_row *row)
{
	for (size_t j = 0; j < n_aggs; j++) {
		int64_t k, k2;
		bool added;

		row_key(dims[j], exe, row, &k, &k2);
		if (dense[j].page &&
		    agg_dense_add(&dense[j], k, k2, row->sent, row->received, row->flows))
			continue;
		switch (row_sink(dims[j], aggs[j])) {
		case SINK_BUCKET:
			added = bucket_add(&btabs[j], aggs[j], k, k2, row);
			break;
		case SINK_AGG:
			added = agg_add(aggs[j], k, k2, row->time, row->sent, row->received, row->flows);
			break;
		default:
			/* many keys: into the agg, which goes on from there */
			added = ktab_add(&tabs[j], k, k2, row) &&
				(tabs[j].n <= KTAB_MAX || ktab_move(&tabs[j], aggs[j]));
			break;
		}
		if (!added)
			return false;
	}
	return true;
}

int exe_days_scan(struct query_db *db, const struct exe_days *x, const enum query_dim *dims,
		  struct agg *const *aggs, size_t n_aggs, int64_t d0, int64_t d1, char *err,
		  size_t errlen)
{
	static const char days_sql[] =
		"WITH RECURSIVE d(day) AS (SELECT ?2 UNION ALL SELECT day + 86400 FROM d WHERE "
		"day + 86400 < ?3) SELECT e.day, e.data FROM d JOIN exe_days e ON e.day = d.day AND "
		"e.exe_id = ?1";
	struct ktab *tabs = NULL;
	struct bucket_tab *btabs = NULL;
	struct agg_dense *dense = NULL;	/* small keys of totals (dense_tables) */
	size_t budget = AGG_DENSE_MAX_PAGES;
	size_t *row_m = NULL, n_row_m = 0, n_kept;
	int64_t *kept;
	struct prefetch *ahead;
	sqlite3_stmt *st;
	uint64_t u[ROWS_CHUNK * ROLLUP_ROW_VARINTS];
	struct rollup_row rows[ROWS_CHUNK];
	int r = 0, rc = SQLITE_DONE;

	if (!x->n_exes || d0 >= d1 || !n_aggs)
		return 0;
	/* the days that have any (an open window starts in 1970) */
	rc = sqlite3_prepare_v2(db->db, "SELECT (SELECT min(day) FROM exe_days), (SELECT max(day) FROM exe_days)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return query_sqlite_fail(db, rc, "read the executable days", err, errlen);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
	    sqlite3_column_type(st, 1) == SQLITE_INTEGER) {
		int64_t lo = sqlite3_column_int64(st, 0), hi = sqlite3_column_int64(st, 1);

		if (lo >= 0 && lo < ROLLUP_TIME_MAX && rollup_day_start(lo) > d0)
			d0 = rollup_day_start(lo);
		if (hi < d1 && hi >= 0 && hi < ROLLUP_TIME_MAX)
			d1 = rollup_day_start(hi) + ROLLUP_DAY;
	} else if (rc == SQLITE_ROW) {
		d1 = d0;	/* none */
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return query_sqlite_fail(db, rc, "read the executable days", err, errlen);
	if (d0 >= d1)
		return 0;
	if (!db->opt.no_exe_sums && sums_usable(db, x, dims, aggs, n_aggs))
		return sums_scan(db, x, dims, aggs, n_aggs, d0, d1, err, errlen);
	/* the filters on the executable's own columns are decided once per
	 * executable, the others per row */
	tabs = calloc(n_aggs, sizeof(*tabs));
	btabs = calloc(n_aggs, sizeof(*btabs));
	dense = dense_tables(dims, aggs, n_aggs, &budget);
	row_m = calloc(x->n_m ? x->n_m : 1, sizeof(*row_m));
	kept = kept_exes(x, &n_kept);
	if (!tabs || !btabs || !dense || !row_m || !kept) {
		free(tabs);
		free(btabs);
		dense_tables_free(dense, n_aggs);
		free(row_m);
		free(kept);
		return query_fail(err, errlen, -ENOMEM, "out of memory");
	}
	for (size_t j = 0; j < x->n_m; j++)
		if (x->m[j].col != ROLLUP_KEY_EXE)
			row_m[n_row_m++] = j;
	/* a lookup per day (the table is in the order of days, as written) */
	rc = sqlite3_prepare_v2(db->db, days_sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		free(tabs);
		free(btabs);
		dense_tables_free(dense, n_aggs);
		free(row_m);
		free(kept);
		return query_sqlite_fail(db, rc, "read the executable days", err, errlen);
	}
	ahead = prefetch_scan(db, days_sql, 0, kept, n_kept, d0, d1, NULL);
	for (size_t i = 0; r == 0 && i < n_kept; i++) {
		int64_t exe = kept[i];

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, exe);
		sqlite3_bind_int64(st, 2, d0);
		sqlite3_bind_int64(st, 3, d1);
		while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t day = sqlite3_column_int64(st, 0);
			const uint8_t *blob = sqlite3_column_blob(st, 1);
			size_t len = (size_t)sqlite3_column_bytes(st, 1);
			struct rollup_reader rd = { blob, blob + len, 0 };
			struct rollup_row row = { .time = day };
			int n;

			/* a day that does not start where days do is not ours */
			if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || rollup_day_start(day) != day)
				continue;
			if (!len || blob[0] != ROLLUP_ROWS_FORMAT) {
				n = -1;
			} else {
				size_t got;
				bool bad;

				rd.p++;
				/* the varints of up to ROWS_CHUNK entries at a time
				 * (rollup_get_uvarints: fast), their rows, then
				 * the rows kept are added */
				do {
					size_t n_rows = 0;

					got = rollup_get_uvarints(&rd, u, ROWS_CHUNK * ROLLUP_ROW_VARINTS, &bad);
					n = bad || got % ROLLUP_ROW_VARINTS ? -1 : 0;
					for (size_t v = 0; n == 0 && v < got; v += ROLLUP_ROW_VARINTS) {
						bool keep = true;

						if (rollup_row_apply(day, &row, u + v) < 0) {
							n = -1;
							break;
						}
						for (size_t j = 0; keep && j < n_row_m; j++)
							keep = matches(&x->m[row_m[j]], exe, &row) !=
							       x->m[row_m[j]].exclude;
						if (keep)
							rows[n_rows++] = row;
					}
					for (size_t w = 0; n == 0 && r == 0 && w < n_rows; w++) {
						if (w + PREFETCH_ROWS < n_rows)
							prefetch_row(dims, aggs, n_aggs, tabs, btabs, dense,
								     exe, &rows[w + PREFETCH_ROWS]);
						if (!add_row(dims, aggs, n_aggs, tabs, btabs, dense, exe,
							     &rows[w]))
							r = query_fail(err, errlen, -ENOMEM, "out of memory");
					}
				} while (n == 0 && r == 0 && got == ROWS_CHUNK * ROLLUP_ROW_VARINTS);
			}
			if (r == 0 && n < 0) {
				db->exe_days_failed = true;
				r = query_fail(err, errlen, -EBADMSG,
					       "an executable day of %s cannot be read", db->path);
			}
			if (r == 0 && query_check_progress(db))
				r = query_sqlite_fail(db, SQLITE_INTERRUPT, "read the executable days", err,
						      errlen);
		}
		if (r == 0 && rc != SQLITE_DONE)
			r = query_sqlite_fail(db, rc, "read the executable days", err, errlen);
	}
	prefetch_stop(ahead);
	free(kept);
	sqlite3_finalize(st);
	for (size_t j = 0; j < n_aggs; j++) {
		if (r == 0 && (!bucket_flush(&btabs[j], aggs[j]) || !ktab_move(&tabs[j], aggs[j]) ||
			       !agg_dense_flush(&dense[j], aggs[j])))
			r = query_fail(err, errlen, -ENOMEM, "out of memory");
		ktab_free(&tabs[j]);
		ktab_free(&btabs[j].t);
	}
	free(tabs);
	free(btabs);
	dense_tables_free(dense, n_aggs);
	free(row_m);
	return r;
}

bool exe_days_sums(const struct query_db *db, const struct exe_days *x, enum query_dim dim,
		   struct agg *a)
{
	return !db->opt.no_exe_sums && sums_usable(db, x, &dim, &a, 1);
}

const int64_t *exe_days_exes(const struct exe_days *x, size_t *n)
{
	*n = x->n_exes;
	return x->exes;
}
