/* The aggregation of src/query, in memory rather than with SQL GROUP BY
 * (which sorts every row of the window: several times slower on months of
 * history).  A scan calls the aggregate ps_acc(k, k2, time, sent,
 * received, flows) for each row; it adds the row to a hash of keys (or, in
 * the second scan of a series, to the bucket of the row's line).  The keys
 * then get their value texts from the lookup tables and are merged by text,
 * since several ids can share a value (an executable path with several
 * command lines). */
#include "query/query_int.h"
#include "util/hash.h"
#include "storage/rollup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

static uint64_t hash_key(int64_t k, int64_t k2)
{
	uint64_t x = (uint64_t)k * 0x9e3779b97f4a7c15ULL ^ (uint64_t)k2 * 0xc2b2ae3d27d4eb4fULL;

	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	return x ^ (x >> 32);
}

void agg_clear(struct agg *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->e[i].text);
		free(a->e[i].points);
	}
	free(a->slots);
	a->slots = NULL;
	a->n_slots = 0;
	a->n = 0;
	a->in_order = false;
	a->oom = false;
}

void agg_free(struct agg *a)
{
	if (!a)
		return;
	agg_clear(a);
	free(a->e);
	*a = (struct agg){ 0 };
}

static bool agg_grow(struct agg *a, size_t n_slots)
{
	uint32_t *slots;

	if (n_slots > (size_t)UINT32_MAX)
		return false;
	slots = calloc(n_slots, sizeof(*slots));
	if (!slots)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		size_t s = hash_key(a->e[i].k, a->e[i].k2) & (n_slots - 1);

		while (slots[s])
			s = (s + 1) & (n_slots - 1);
		slots[s] = (uint32_t)(i + 1);
	}
	free(a->slots);
	a->slots = slots;
	a->n_slots = n_slots;
	a->in_order = false;
	return true;
}

bool agg_reserve_entries(struct agg *a, size_t n)
{
	struct agg_entry *e;

	if (n > (size_t)UINT32_MAX / 4)
		return false;
	if (n > a->cap) {
		if (!(e = realloc(a->e, n * sizeof(*e))))
			return false;
		a->e = e;
		a->cap = n;
	}
	return true;
}

bool agg_reserve(struct agg *a, size_t n)
{
	size_t n_slots = a->n_slots ? a->n_slots : 1024;

	if (n > (size_t)UINT32_MAX / 4)
		return false;
	while (n_slots < 2 * n)
		n_slots *= 2;
	if (n_slots > a->n_slots && !agg_grow(a, n_slots))
		return false;
	return agg_reserve_entries(a, n);
}

/* Whether (k, k2) comes after the last key of a. */
static bool after_last(const struct agg *a, int64_t k, int64_t k2)
{
	const struct agg_entry *l = &a->e[a->n - 1];

	return k > l->k || (k == l->k && k2 > l->k2);
}

/* Room for one more entry in e. */
static bool agg_room(struct agg *a)
{
	size_t cap;
	struct agg_entry *e;

	if (a->n < a->cap)
		return true;
	cap = a->cap ? a->cap * 2 : 256;
	if (!(e = realloc(a->e, cap * sizeof(*e))))
		return false;
	a->e = e;
	a->cap = cap;
	return true;
}

struct agg_entry *agg_get(struct agg *a, int64_t k, int64_t k2, bool add)
{
	size_t s;

	/* keys in order: appended, or the last one again */
	if (add && !a->n_slots && (!a->n || a->in_order)) {
		if (a->n && !after_last(a, k, k2)) {
			struct agg_entry *l = &a->e[a->n - 1];

			if (l->k == k && l->k2 == k2)
				return l;
		} else {
			if (!agg_room(a))
				return NULL;
			a->in_order = true;
			a->e[a->n] = (struct agg_entry){ .k = k, .k2 = k2, .line = -1 };
			return &a->e[a->n++];
		}
	}
	/* one out of order, or a lookup: the hash of what came */
	if (a->in_order) {
		size_t n_slots = 1024;

		while (n_slots < 2 * (a->n + 1))
			n_slots *= 2;
		if (!agg_grow(a, n_slots))
			return NULL;
	}
	if (a->n_slots) {
		s = hash_key(k, k2) & (a->n_slots - 1);
		while (a->slots[s]) {
			struct agg_entry *e = &a->e[a->slots[s] - 1];

			if (e->k == k && e->k2 == k2)
				return e;
			s = (s + 1) & (a->n_slots - 1);
		}
	}
	if (!add)
		return NULL;
	if ((a->n + 1) * 2 > a->n_slots && !agg_grow(a, a->n_slots ? a->n_slots * 2 : 1024))
		return NULL;
	if (!agg_room(a))
		return NULL;
	s = hash_key(k, k2) & (a->n_slots - 1);
	while (a->slots[s])
		s = (s + 1) & (a->n_slots - 1);
	a->e[a->n] = (struct agg_entry){ .k = k, .k2 = k2, .line = -1 };
	a->slots[s] = (uint32_t)(a->n + 1);
	return &a->e[a->n++];
}

/* The bucket of a time in the series' window, or -1.  In 64 bits when
 * nothing overflows (a 128-bit division is a library call, and this runs
 * for every entry of a series), else in 128: the same quotient. */
static ssize_t bucket_of(const struct agg_series *s, int64_t t)
{
	__int128 b;
	int64_t d, m;

	if (s->align_len) {
		if (t < s->from || (__int128)t - s->from >= s->span)
			return -1;
		if (!__builtin_sub_overflow(t, s->align_start, &d))
			b = d / s->align_len;
		else
			b = ((__int128)t - s->align_start) / s->align_len;
	} else if (s->buckets <= INT64_MAX && !__builtin_sub_overflow(t, s->from, &d) &&
		   !__builtin_mul_overflow(d, (int64_t)s->buckets, &m)) {
		b = m / s->span;
	} else {
		b = ((__int128)t - s->from) * (__int128)s->buckets / s->span;
	}
	return b < 0 || b >= (__int128)s->buckets ? -1 : (ssize_t)b;
}

int64_t agg_bucket_start(int64_t from, int64_t to, size_t n, int64_t align_start,
			 int64_t align_len, size_t i)
{
	__int128 span = (__int128)to - from;

	if (!n || i == 0)
		return from;
	if (i >= n)
		return to;
	if (align_len)
		return (int64_t)((__int128)align_start + (__int128)i * align_len);
	/* the first second t with (t - from) * buckets / span >= i */
	return (int64_t)(from + (span * (__int128)i + (__int128)n - 1) / (__int128)n);
}

ssize_t agg_bucket_span(const struct agg_series *s, int64_t t, int64_t *lo, int64_t *hi)
{
	__int128 end = (__int128)s->from + s->span;
	ssize_t b;

	if (t < s->from) {
		*lo = INT64_MIN;
		*hi = s->from;
		return -1;
	}
	if ((__int128)t >= end) {
		*lo = (int64_t)end;
		*hi = INT64_MAX;
		return -1;
	}
	b = bucket_of(s, t);
	if (b < 0) {
		*lo = t;
		*hi = t + 1;
		return -1;
	}
	*lo = agg_bucket_start(s->from, (int64_t)end, s->buckets, s->align_start, s->align_len,
			       (size_t)b);
	*hi = agg_bucket_start(s->from, (int64_t)end, s->buckets, s->align_start, s->align_len,
			       (size_t)b + 1);
	return b;
}

static bool add_pair(struct agg *a, struct agg_series *s, struct agg_entry *e, size_t b,
		     int64_t sent, int64_t received);

bool agg_add(struct agg *a, int64_t k, int64_t k2, int64_t time, int64_t sent, int64_t received,
	     int64_t flows)
{
	struct agg_series *s = a->series;
	struct agg_entry *e;
	ssize_t b;

	if (s && s->second) {
		struct query_point *p;
		int line;

		e = agg_get(a, k, k2, false);
		line = e ? e->line : -1;
		if (line < 0) {
			if (!s->other)
				return true;
			line = (int)s->n_lines - 1;
		}
		if ((b = bucket_of(s, time)) < 0)
			return true;
		p = &s->points[(size_t)line * s->buckets + (size_t)b];
		p->sent = query_add_sat(p->sent, sent);
		p->received = query_add_sat(p->received, received);
		return true;
	}
	e = agg_get(a, k, k2, true);
	if (!e)
		return false;
	e->sent = query_add_sat(e->sent, sent);
	e->received = query_add_sat(e->received, received);
	e->flows = query_add_sat(e->flows, flows);
	if (!s || s->no_buckets || (b = bucket_of(s, time)) < 0)
		return true;
	if (e->n_pairs == KEY_DENSE) {
		struct query_point *p = e->points;

		p[b].sent = query_add_sat(p[b].sent, sent);
		p[b].received = query_add_sat(p[b].received, received);
	} else if (e->n_pairs != KEY_DROPPED && !add_pair(a, s, e, (size_t)b, sent, received)) {
		return false;
	}
	/* from the first buckets given up on (those of this row's key too,
	 * perhaps), every row */
	if (s->dropped) {
		s->all[b].sent = query_add_sat(s->all[b].sent, sent);
		s->all[b].received = query_add_sat(s->all[b].received, received);
	}
	return true;
}

/* The room n pairs take: 2, 8, 32... of them (growing four times at once:
 * a busy key's pairs were reallocated five times before they were every
 * bucket, and the reallocations were 7% of a year's series by address). */
static size_t pairs_cap(uint32_t n)
{
	size_t cap = 2;

	while (cap < n)
		cap *= 4;
	return cap;
}

/* The room e's buckets take. */
static size_t key_room(const struct agg_series *s, const struct agg_entry *e)
{
	if (e->n_pairs == KEY_DENSE)
		return s->buckets * sizeof(struct query_point);
	if (e->n_pairs == KEY_DROPPED || !e->n_pairs)
		return 0;
	return pairs_cap(e->n_pairs) * sizeof(struct key_pair);
}

static void drop(struct agg *a, struct agg_series *s, struct agg_entry *e)
{
	/* before the first: every row so far is in its key's buckets */
	if (!s->dropped)
		for (size_t i = 0; i < a->n; i++)
			agg_entry_add_points(&a->e[i], s->all, s->buckets);
	s->key_bytes -= key_room(s, e);
	free(e->points);
	e->points = NULL;
	e->n_pairs = KEY_DROPPED;
	s->dropped = true;
}

/* The bits of a key's sum (its order of magnitude). */
static unsigned magnitude(const struct agg_entry *e)
{
	uint64_t t = (uint64_t)query_add_sat(e->sent, e->received);
	unsigned m = 0;

	while (t) {
		m++;
		t >>= 1;
	}
	return m;
}

/* Room for the first scan's buckets: give up those of the keys with the
 * smallest sums so far, by order of magnitude, until at least half of
 * what they take is free.  The keys that end on top are nearly always
 * among those that keep theirs; when one is not, the lines come from a
 * second scan. */
static void drop_smallest(struct agg *a, struct agg_series *s)
{
	size_t room[65] = { 0 }, freed = 0;
	unsigned cut = 0;

	for (size_t i = 0; i < a->n; i++)
		room[magnitude(&a->e[i])] += key_room(s, &a->e[i]);
	while (cut < 64 && freed + room[cut] < s->key_bytes / 2)
		freed += room[cut++];
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].n_pairs != KEY_DROPPED && magnitude(&a->e[i]) <= cut)
			drop(a, s, &a->e[i]);
}

/* Whether e's buckets may take `need` bytes more, after giving up others'
 * (or its own: false). */
static bool make_room(struct agg *a, struct agg_series *s, struct agg_entry *e, size_t need)
{
	if (s->key_bytes + need <= s->max_bytes)
		return true;
	drop_smallest(a, s);
	if (e->n_pairs != KEY_DROPPED && s->key_bytes + need > s->max_bytes)
		drop(a, s, e);
	return e->n_pairs != KEY_DROPPED;
}

/* A row into its key's buckets while they are pairs: the last pair's
 * bucket again (rows come in time order, nearly always), else a new pair;
 * every bucket instead once the pairs would take more room. */
static bool add_pair(struct agg *a, struct agg_series *s, struct agg_entry *e, size_t b,
		     int64_t sent, int64_t received)
{
	struct key_pair *kp = e->points;
	uint32_t n = e->n_pairs;
	size_t cap, more;

	if (n && kp[n - 1].bucket == b) {
		kp[n - 1].sent = query_add_sat(kp[n - 1].sent, sent);
		kp[n - 1].received = query_add_sat(kp[n - 1].received, received);
		return true;
	}
	cap = n ? pairs_cap(n) : 0;
	if (n < cap) {
		kp[n] = (struct key_pair){ sent, received, (uint32_t)b };
		e->n_pairs = n + 1;
		return true;
	}
	more = cap ? 4 * cap : 2;
	if (more * sizeof(*kp) >= s->buckets * sizeof(struct query_point)) {
		/* every bucket: less room than the pairs */
		struct query_point *p;

		if (!make_room(a, s, e, s->buckets * sizeof(*p) - cap * sizeof(*kp)))
			return true;
		if (!(p = calloc(s->buckets, sizeof(*p))))
			return false;
		s->key_bytes += s->buckets * sizeof(*p) - cap * sizeof(*kp);
		agg_entry_add_points(e, p, s->buckets);
		free(kp);
		e->points = p;
		e->n_pairs = KEY_DENSE;
		p[b].sent = query_add_sat(p[b].sent, sent);
		p[b].received = query_add_sat(p[b].received, received);
		return true;
	}
	if (!make_room(a, s, e, (more - cap) * sizeof(*kp)))
		return true;
	if (!(kp = realloc(kp, more * sizeof(*kp))))
		return false;
	s->key_bytes += (more - cap) * sizeof(*kp);
	kp[n] = (struct key_pair){ sent, received, (uint32_t)b };
	e->points = kp;
	e->n_pairs = n + 1;
	return true;
}

void agg_entry_add_points(const struct agg_entry *e, struct query_point *line, size_t buckets)
{
	if (e->n_pairs == KEY_DROPPED)
		return;
	if (e->n_pairs == KEY_DENSE) {
		const struct query_point *p = e->points;

		for (size_t b = 0; b < buckets; b++) {
			line[b].sent = query_add_sat(line[b].sent, p[b].sent);
			line[b].received = query_add_sat(line[b].received, p[b].received);
		}
		return;
	}
	for (uint32_t i = 0; i < e->n_pairs; i++) {
		const struct key_pair *kp = (const struct key_pair *)e->points + i;

		if (kp->bucket < buckets) {
			line[kp->bucket].sent = query_add_sat(line[kp->bucket].sent, kp->sent);
			line[kp->bucket].received = query_add_sat(line[kp->bucket].received,
								  kp->received);
		}
	}
}

static int cmp_line_key(const void *x, const void *y)
{
	const struct line_key *a = x, *b = y;

	if (a->k != b->k)
		return a->k < b->k ? -1 : 1;
	return (a->k2 > b->k2) - (a->k2 < b->k2);
}

int agg_line_keys(const struct agg *a, struct line_key **ret, size_t *n)
{
	struct line_key *lk = malloc((a->n ? a->n : 1) * sizeof(*lk));
	size_t m = 0;

	if (!lk)
		return -ENOMEM;
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].line >= 0)
			lk[m++] = (struct line_key){ a->e[i].k, a->e[i].k2, a->e[i].line };
	qsort(lk, m, sizeof(*lk), cmp_line_key);
	*ret = lk;
	*n = m;
	return 0;
}

void line_walk_start(struct line_walk *w, const struct line_key *lk, size_t n_lk)
{
	*w = (struct line_walk){ .lk = lk, .n = n_lk, .sorted = true };
}

int line_walk_line(struct line_walk *w, struct agg *a, int64_t k, int64_t k2)
{
	struct agg_entry *e;

	/* the writer sorts the entries by key (a key may repeat: the
	 * executables' sums by remote address, one per domain): walk the
	 * lines' keys along; from a key out of order on, each is looked up */
	if (w->have_prev && (k < w->pk || (k == w->pk && k2 < w->pk2)))
		w->sorted = false;
	w->have_prev = true;
	w->pk = k;
	w->pk2 = k2;
	if (w->sorted) {
		while (w->i < w->n && (w->lk[w->i].k < k || (w->lk[w->i].k == k && w->lk[w->i].k2 < k2)))
			w->i++;
		return w->i < w->n && w->lk[w->i].k == k && w->lk[w->i].k2 == k2 ? w->lk[w->i].line : -1;
	}
	e = agg_get(a, k, k2, false);
	return e ? e->line : -1;
}

void agg_add_line(struct agg *a, int line, int64_t time, int64_t sent, int64_t received)
{
	struct agg_series *s = a->series;
	struct query_point *p;
	ssize_t b;

	if (line < 0) {
		if (!s->other)
			return;
		line = (int)s->n_lines - 1;
	}
	if ((b = bucket_of(s, time)) < 0)
		return;
	p = &s->points[(size_t)line * s->buckets + (size_t)b];
	p->sent = query_add_sat(p->sent, sent);
	p->received = query_add_sat(p->received, received);
}

int agg_add_unit_lines(struct agg *a, const struct line_key *lk, size_t n_lk, const void *blob,
		       size_t len, int64_t start)
{
	struct rollup_reader rd;
	struct rollup_entries c;
	struct line_walk w;
	int n;

	if (!rollup_reader_init(&rd, blob, len))
		return -EBADMSG;
	line_walk_start(&w, lk, n_lk);
	while ((n = rollup_next_entries(&rd, &c)) > 0)
		for (int j = 0; j < n; j++)
			agg_add_line(a, line_walk_line(&w, a, c.e[j].key, c.e[j].key2), start, c.e[j].sent,
				     c.e[j].received);
	return n < 0 ? -EBADMSG : 0;
}

static void acc_step(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	struct query_db *db = sqlite3_user_data(ctx);
	struct agg *a = db->agg;
	int64_t k = 0, k2 = AGG_NULL_KEY;

	if (!a || argc != 6) {
		sqlite3_result_error(ctx, "ps_acc() is only for the query layer", -1);
		return;
	}
	if (sqlite3_value_type(v[0]) != SQLITE_NULL) {
		k = sqlite3_value_int64(v[0]);
		k2 = sqlite3_value_int64(v[1]);
	}
	if (!agg_add(a, k, k2, sqlite3_value_int64(v[2]), sqlite3_value_int64(v[3]),
		     sqlite3_value_int64(v[4]), sqlite3_value_int64(v[5]))) {
		a->oom = true;
		sqlite3_result_error_nomem(ctx);
	}
}

static void acc_final(sqlite3_context *ctx)
{
	sqlite3_result_null(ctx);
}

int agg_register(struct query_db *db)
{
	/* direct only: no view or trigger in the file can call it */
	int rc = sqlite3_create_function_v2(db->db, "ps_acc", 6, SQLITE_UTF8 | SQLITE_DIRECTONLY, db,
					    NULL, acc_step, acc_final, NULL);

	return rc == SQLITE_OK ? 0 : -ENOMEM;
}

static int set_text(struct agg_entry *e, const void *text, size_t len)
{
	char *t = malloc(len + 1);

	if (!t)
		return -ENOMEM;
	if (len)
		memcpy(t, text, len);
	t[len] = '\0';
	free(e->text);
	e->text = t;
	e->len = len;
	return 0;
}

/* The lookup table's value of every entry: one by one for a few, else by
 * reading the whole table. */
static int resolve_lookup(struct query_db *db, struct agg *a, const struct dim_info *d, char *err,
			  size_t errlen)
{
	struct qsql q = { 0 };
	sqlite3_stmt *st;
	bool few = a->n <= 256;
	int rc, r;

	qsql_add(&q, "SELECT id, ");
	qsql_add(&q, query_dim_column(db, (enum query_dim)(d - query_dims)));
	qsql_add(&q, " FROM ");
	qsql_add(&q, d->table);
	if (few)
		qsql_add(&q, " WHERE id = ?1");
	r = qsql_prepare(db, &q, &st, "read the values", err, errlen);
	qsql_free(&q);
	if (r < 0)
		return r;
	for (size_t i = 0; i < (few ? a->n : 1); i++) {
		if (few) {
			if (a->e[i].k2 == AGG_NULL_KEY)
				continue;
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, a->e[i].k);
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct agg_entry *e = agg_get(a, sqlite3_column_int64(st, 0), 0, false);
			const unsigned char *t;

			if (!e)
				continue;
			t = sqlite3_column_text(st, 1);
			if (set_text(e, t ? t : (const unsigned char *)"",
				     t ? (size_t)sqlite3_column_bytes(st, 1) : 0) < 0) {
				sqlite3_finalize(st);
				return query_fail(err, errlen, -ENOMEM, "out of memory");
			}
		}
		if (rc != SQLITE_DONE) {
			r = query_sqlite_fail(db, rc, "read the values", err, errlen);
			sqlite3_finalize(st);
			return r;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

int agg_resolve(struct query_db *db, struct agg *a, enum query_dim dim, char *err, size_t errlen)
{
	const struct dim_info *d = &query_dims[dim];
	char buf[64];
	size_t n;
	int r;

	switch (d->kind) {
	case DK_LOOKUP:
	case DK_LABEL:
		r = resolve_lookup(db, a, d, err, errlen);
		if (r < 0)
			return r;
		break;
	case DK_INT:
		/* each key is its own group: its text is made by agg_group_text,
		 * for the groups shown */
		return 0;
	case DK_PROTOCOL:
		for (size_t i = 0; i < a->n; i++) {
			n = query_proto_text(a->e[i].k, a->e[i].k2, buf, sizeof(buf));
			if (set_text(&a->e[i], buf, n) < 0)
				return query_fail(err, errlen, -ENOMEM, "out of memory");
		}
		break;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct agg_entry *e = &a->e[i];
		const char *c;

		/* a NULL key or an id without its row shows as "" */
		if (!e->text && set_text(e, "", 0) < 0)
			return query_fail(err, errlen, -ENOMEM, "out of memory");
		if (d->kind == DK_LABEL) {
			void *ctx;
			query_label_fn fn = query_label_hook(db, dim, &ctx);

			c = e->len ? fn(ctx, e->text) : NULL;
			if (set_text(e, c ? c : "", c ? strlen(c) : 0) < 0)
				return query_fail(err, errlen, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

/* A number's group i: its key and sums (its text is made when shown). */
static struct agg_group int_group(const struct agg_entry *e, size_t i)
{
	return (struct agg_group){ .id = i, .num = e->k, .null = e->k2 == AGG_NULL_KEY,
				   .sent = e->sent, .received = e->received, .flows = e->flows };
}

/* A number's groups written over its entries: group i lies within the
 * bytes of entries 0..i, which were read before it is written. */
static void group_in_place(struct agg *a, struct agg_group **ret, size_t *n)
{
	struct agg_group *g = (struct agg_group *)(void *)a->e;
	size_t ne = a->n;

	_Static_assert(sizeof(struct agg_group) <= sizeof(struct agg_entry),
		       "a group must fit in the entry it replaces");
	for (size_t i = 0; i < ne; i++) {
		struct agg_entry e = a->e[i];

		free(e.text);
		free(e.points);
		g[i] = int_group(&e, i);
	}
	a->e = NULL;
	a->n = 0;
	agg_free(a);
	*ret = g;
	*n = ne;
}

int agg_group(struct agg *a, enum query_dim dim, bool keep, struct agg_group **ret, size_t *n)
{
	size_t *table, slots = 16;
	uint64_t seed;
	struct agg_group *g;
	size_t ng = 0;

	if (!keep && query_dims[dim].kind == DK_INT && a->n) {
		group_in_place(a, ret, n);
		return 0;
	}
	if (!(g = calloc(a->n ? a->n : 1, sizeof(*g))))
		return -ENOMEM;
	if (query_dims[dim].kind == DK_INT) {
		/* numbers: one group per key */
		for (size_t i = 0; i < a->n; i++) {
			g[i] = int_group(&a->e[i], i);
			a->e[i].line = (int)i;
		}
		*ret = g;
		*n = a->n;
		return 0;
	}
	/* a table of the groups by text (open addressing, at most half
	 * full), the groups in the order their first entry came: the caller
	 * sorts them (a sort by text cost more than the hashing, for the tens
	 * of thousands of addresses of a year) */
	while (slots < 2 * a->n)
		slots *= 2;
	if (!(table = malloc(slots * sizeof(*table)))) {
		free(g);
		return -ENOMEM;
	}
	memset(table, 0xff, slots * sizeof(*table));
	/* seeded per call: the texts are paths and command lines any local
	 * user can choose (util/hash.h) */
	seed = hash_seed(table);
	for (size_t i = 0; i < a->n; i++) {
		struct agg_entry *e = &a->e[i];
		size_t h = hash_text(seed, e->text, e->len) & (slots - 1);
		struct agg_group *cur;

		while (table[h] != SIZE_MAX &&
		       cmp_bytes(g[table[h]].text, g[table[h]].len, e->text, e->len))
			h = (h + 1) & (slots - 1);
		if (table[h] == SIZE_MAX) {
			table[h] = ng;
			g[ng] = (struct agg_group){ .id = ng, .text = e->text, .len = e->len };
			e->text = NULL;
			ng++;
		}
		cur = &g[table[h]];
		cur->sent = query_add_sat(cur->sent, e->sent);
		cur->received = query_add_sat(cur->received, e->received);
		cur->flows = query_add_sat(cur->flows, e->flows);
		e->line = (int)cur->id;
	}
	free(table);
	if (!keep)
		agg_free(a);
	*ret = g;
	*n = ng;
	return 0;
}

int agg_group_text(struct agg_group *g)
{
	char buf[32];
	int n;

	if (g->text)
		return 0;
	n = g->null ? 0 : snprintf(buf, sizeof(buf), "%" PRId64, g->num);
	if (!(g->text = malloc((size_t)n + 1)))
		return -ENOMEM;
	memcpy(g->text, buf, (size_t)n);
	g->text[n] = '\0';
	g->len = (size_t)n;
	return 0;
}

struct sort_ctx {
	enum query_sort sort;
	bool ascending, numeric;
};

static int cmp_value(const struct agg_group *a, const struct agg_group *b, bool numeric)
{
	if (numeric)
		return a->num != b->num ? (a->num > b->num) - (a->num < b->num)
					: (a->null < b->null) - (a->null > b->null);
	return cmp_bytes(a->text, a->len, b->text, b->len);
}

static int cmp_group(const void *x, const void *y, void *ctxp)
{
	const struct sort_ctx *ctx = ctxp;
	const struct agg_group *a = x, *b = y;
	__int128 ka = 0, kb = 0;
	int c;

	switch (ctx->sort) {
	case QUERY_SORT_TOTAL:
		ka = (__int128)a->sent + a->received;
		kb = (__int128)b->sent + b->received;
		break;
	case QUERY_SORT_SENT:
		ka = a->sent;
		kb = b->sent;
		break;
	case QUERY_SORT_RECEIVED:
		ka = a->received;
		kb = b->received;
		break;
	case QUERY_SORT_VALUE:
		c = cmp_value(a, b, ctx->numeric);
		return ctx->ascending ? c : -c;
	}
	c = (ka > kb) - (ka < kb);
	if (!ctx->ascending)
		c = -c;
	/* ties: by value, ascending, so that pages do not overlap */
	return c ? c : cmp_value(a, b, ctx->numeric);
}

static void swap_groups(struct agg_group *a, struct agg_group *b)
{
	struct agg_group t = *a;

	*a = *b;
	*b = t;
}

/* Move the k first groups in the order of ctx to the front (unordered),
 * by quickselect; false if it took too many rounds (then sort it all). */
static bool select_first(struct agg_group *g, size_t n, size_t k, struct sort_ctx *ctx)
{
	size_t lo = 0, hi = n, rounds = 0;

	while (hi - lo > 16) {
		size_t mid = lo + (hi - lo) / 2, i, j;

		if (++rounds > 128)
			return false;
		/* median of three as the pivot, kept at lo */
		if (cmp_group(&g[mid], &g[lo], ctx) < 0)
			swap_groups(&g[mid], &g[lo]);
		if (cmp_group(&g[hi - 1], &g[lo], ctx) < 0)
			swap_groups(&g[hi - 1], &g[lo]);
		if (cmp_group(&g[hi - 1], &g[mid], ctx) < 0)
			swap_groups(&g[hi - 1], &g[mid]);
		swap_groups(&g[lo], &g[mid]);
		/* the pivot at lo: [lo + 1, i) before it, [j, hi) after it */
		for (i = lo + 1, j = hi; i < j;) {
			if (cmp_group(&g[i], &g[lo], ctx) < 0)
				i++;
			else
				swap_groups(&g[i], &g[--j]);
		}
		swap_groups(&g[lo], &g[i - 1]);
		if (k < i - 1)
			hi = i - 1;
		else if (k > i)
			lo = i;
		else
			return true;
	}
	/* a few left around the k-th: in order */
	qsort_r(g + lo, hi - lo, sizeof(*g), cmp_group, ctx);
	return true;
}

void agg_groups_sort(struct agg_group *g, size_t n, enum query_dim dim, enum query_sort sort,
		     bool ascending, size_t first)
{
	struct sort_ctx ctx = { sort, ascending, query_dims[dim].kind == DK_INT };

	/* values are distinct, so the order is total: the first k groups
	 * are the same groups however the rest is ordered */
	if (first && first < n / 2 && select_first(g, n, first, &ctx))
		n = first;
	if (n)
		qsort_r(g, n, sizeof(*g), cmp_group, &ctx);
}

void agg_groups_free(struct agg_group *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		free(g[i].text);
	free(g);
}

/* ---- the first groups of keys that come in order (totals by time) ---- */

static void top_push(struct agg_top *t, const struct agg_group *c)
{
	struct sort_ctx ctx = { t->sort, t->ascending, true };
	struct agg_group *h = t->heap;

	t->sums[0] = query_add_sat(t->sums[0], c->sent);
	t->sums[1] = query_add_sat(t->sums[1], c->received);
	t->sums[2] = query_add_sat(t->sums[2], c->flows);
	t->n_groups++;
	/* a heap of the k first so far, the one that comes last at the root */
	if (t->n < t->k) {
		size_t j = t->n++;

		h[j] = *c;
		while (j && cmp_group(&h[j], &h[(j - 1) / 2], &ctx) > 0) {
			swap_groups(&h[j], &h[(j - 1) / 2]);
			j = (j - 1) / 2;
		}
		return;
	}
	if (!t->k || cmp_group(c, &h[0], &ctx) >= 0)
		return;
	h[0] = *c;
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < t->n && cmp_group(&h[l], &h[m], &ctx) > 0)
			m = l;
		if (l + 1 < t->n && cmp_group(&h[l + 1], &h[m], &ctx) > 0)
			m = l + 1;
		if (m == i)
			break;
		swap_groups(&h[i], &h[m]);
		i = m;
	}
}

static int cmp_agg_key(const void *x, const void *y)
{
	const struct agg_entry *a = x, *b = y;

	if (a->k != b->k)
		return a->k < b->k ? -1 : 1;
	return (a->k2 > b->k2) - (a->k2 < b->k2);
}

int agg_top_init(struct agg_top *t, struct agg *rows, enum query_sort sort, bool ascending, size_t k)
{
	*t = (struct agg_top){ .rows = rows, .sort = sort, .ascending = ascending, .k = k };
	if (!(t->heap = calloc(k ? k : 1, sizeof(*t->heap))))
		return -ENOMEM;
	/* the rows' keys in order, merged with the units' as they come */
	if (rows->n)	/* rows->e is NULL when nothing was added */
		qsort(rows->e, rows->n, sizeof(*rows->e), cmp_agg_key);
	free(rows->slots);
	rows->slots = NULL;
	rows->n_slots = 0;
	return 0;
}

/* The rows' keys before (k, k2), and the one equal to it into *v. */
static void top_rows_before(struct agg_top *t, int64_t k, int64_t k2, bool all, struct agg_group *v)
{
	while (t->next_row < t->rows->n) {
		const struct agg_entry *r = &t->rows->e[t->next_row];
		struct agg_group c = { .num = r->k, .null = r->k2 == AGG_NULL_KEY, .sent = r->sent,
				       .received = r->received, .flows = r->flows };

		if (!all && (r->k > k || (r->k == k && r->k2 > k2)))
			return;
		t->next_row++;
		if (!all && r->k == k && r->k2 == k2) {
			v->sent = query_add_sat(v->sent, r->sent);
			v->received = query_add_sat(v->received, r->received);
			v->flows = query_add_sat(v->flows, r->flows);
			return;
		}
		top_push(t, &c);
	}
}

bool agg_top_add(struct agg_top *t, const struct rollup_entry *e)
{
	struct agg_group c = { .num = e->key, .null = e->key2 == AGG_NULL_KEY, .sent = e->sent,
			       .received = e->received, .flows = e->flows };

	if (t->have_prev && (e->key < t->prev_k || (e->key == t->prev_k && e->key2 <= t->prev_k2)))
		return false;
	t->have_prev = true;
	t->prev_k = e->key;
	t->prev_k2 = e->key2;
	top_rows_before(t, e->key, e->key2, false, &c);
	top_push(t, &c);
	return true;
}

void agg_top_finish(struct agg_top *t)
{
	struct sort_ctx ctx = { t->sort, t->ascending, true };

	top_rows_before(t, 0, 0, true, NULL);
	if (t->n)
		qsort_r(t->heap, t->n, sizeof(*t->heap), cmp_group, &ctx);
	for (size_t i = 0; i < t->n; i++)
		t->heap[i].id = i;
}

void agg_prefetch(const struct agg *a, int64_t k, int64_t k2)
{
	if (a->n_slots)
		__builtin_prefetch(&a->slots[hash_key(k, k2) & (a->n_slots - 1)]);
}

/* The entry of a key's first hash probe (NULL: an empty slot, or no
 * hash): the key's, nearly always (the hash is at most half full). */
static const struct agg_entry *first_probe(const struct agg *a, int64_t k, int64_t k2)
{
	uint32_t i;

	if (!a->n_slots)
		return NULL;
	i = a->slots[hash_key(k, k2) & (a->n_slots - 1)];
	return i && i <= a->n ? &a->e[i - 1] : NULL;
}

void agg_prefetch_entry(const struct agg *a, int64_t k, int64_t k2)
{
	const struct agg_entry *e = first_probe(a, k, k2);

	if (e)
		__builtin_prefetch(e, 1);
}

void agg_prefetch_pairs(const struct agg *a, int64_t k, int64_t k2)
{
	const struct agg_entry *e = first_probe(a, k, k2);

	/* where its next pair goes (or its last one is added to) */
	if (e && e->k == k && e->k2 == k2 && e->points && e->n_pairs && e->n_pairs < KEY_DROPPED) {
		__builtin_prefetch((const struct key_pair *)e->points + e->n_pairs - 1, 1);
		__builtin_prefetch((const struct key_pair *)e->points + e->n_pairs, 1);
	}
}

bool agg_dense_init(struct agg_dense *d, size_t *budget)
{
	*d = (struct agg_dense){ .budget = budget };
	d->page = calloc(AGG_DENSE_KEYS / AGG_DENSE_PAGE, sizeof(*d->page));
	return d->page != NULL;
}

/* Pages are mapped, not taken from malloc: unmapped when freed, they give
 * their memory back at once (malloc would keep it for the entries made
 * from them, which are too big to use it), and the parts of a page no key
 * touched take none. */
static void dense_page_free(struct agg_dense_page *p)
{
	if (p)
		munmap(p, sizeof(*p));
}

bool agg_dense_page_new(struct agg_dense *d, int64_t k)
{
	struct agg_dense_page *p = MAP_FAILED;

	if (d->full || !*d->budget ||
	    (p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0)) == MAP_FAILED) {
		d->full = true;
		return false;
	}
	--*d->budget;
	d->page[(uint64_t)k >> AGG_DENSE_PAGE_BITS] = p;
	return true;
}

void agg_dense_free(struct agg_dense *d)
{
	if (!d->page)
		return;
	for (size_t i = 0; i < AGG_DENSE_KEYS / AGG_DENSE_PAGE; i++)
		dense_page_free(d->page[i]);
	free(d->page);
	d->page = NULL;
}

bool agg_dense_flush(struct agg_dense *d, struct agg *a)
{
	size_t keys = 0;
	bool ok = true;

	/* room for exactly the keys, and each page freed once added: the
	 * table and the entries it becomes are not held twice over */
	for (size_t i = 0; d->page && i < AGG_DENSE_KEYS / AGG_DENSE_PAGE; i++)
		for (size_t w = 0; d->page[i] && w < AGG_DENSE_PAGE / 64; w++)
			keys += (size_t)__builtin_popcountll(d->page[i]->used[w]);
	if (keys && !agg_reserve_entries(a, a->n + keys))
		ok = false;
	for (size_t i = 0; ok && d->page && i < AGG_DENSE_KEYS / AGG_DENSE_PAGE; i++) {
		struct agg_dense_page *p = d->page[i];

		for (size_t w = 0; p && ok && w < AGG_DENSE_PAGE / 64; w++)
			for (uint64_t bits = p->used[w]; ok && bits; bits &= bits - 1) {
				size_t j = w * 64 + (size_t)__builtin_ctzll(bits);
				struct agg_entry *e = agg_get(a, (int64_t)(i * AGG_DENSE_PAGE + j), 0,
							      true);

				if (!e) {
					ok = false;
					break;
				}
				e->sent = query_add_sat(e->sent, p->s[j].sent);
				e->received = query_add_sat(e->received, p->s[j].received);
				e->flows = query_add_sat(e->flows, p->s[j].flows);
			}
		dense_page_free(p);
		d->page[i] = NULL;
	}
	agg_dense_free(d);
	return ok;
}
