/* Entries waiting for a destination (pending.h): a uthash table keyed by
 * the identity (its text fields, its numbers and the minute), kept in the
 * order entries first arrived, which is the order they are written and
 * dropped in. */
#include "storage/pending.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

static const size_t text_fields[] = {
	offsetof(struct conn_row, exe),	      offsetof(struct conn_row, name),
	offsetof(struct conn_row, cmdline),   offsetof(struct conn_row, sha256),
	offsetof(struct conn_row, pexe),      offsetof(struct conn_row, pname),
	offsetof(struct conn_row, pcmdline),  offsetof(struct conn_row, psha256),
	offsetof(struct conn_row, gpexe),     offsetof(struct conn_row, gpname),
	offsetof(struct conn_row, gpcmdline), offsetof(struct conn_row, gpsha256),
	offsetof(struct conn_row, laddr),     offsetof(struct conn_row, raddr),
	offsetof(struct conn_row, domain),
};
#define NTEXT (sizeof(text_fields) / sizeof(text_fields[0]))

/* the numbers of an identity, and the minute, after the texts in a key */
struct key_numbers {
	uint32_t null_mask;	/* bit i: text field i is NULL */
	int32_t family, protocol;
	int64_t uid, lport, rport, minute;
	uint64_t netns;
};

struct pentry {
	UT_hash_handle hh;
	struct conn_row row;	/* its text fields point into key */
	size_t size;		/* what this entry costs in memory */
	size_t keylen;
	char key[];
};

struct pending {
	struct pentry *table;	/* in order of first arrival */
	size_t max_entries, max_bytes;
	size_t bytes;
	struct conn_row *view;	/* pending_rows() */
	size_t view_cap;
	uint64_t dropped_entries, dropped_sent, dropped_received;
};

static const char **text_at(const struct conn_row *r, size_t i)
{
	return (const char **)((char *)r + text_fields[i]);
}

int pending_new(size_t max_entries, size_t max_bytes, struct pending **ret)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->max_entries = max_entries ? max_entries : 1;
	p->max_bytes = max_bytes;
	*ret = p;
	return 0;
}

static void drop_entry(struct pending *p, struct pentry *e, bool counted)
{
	HASH_DEL(p->table, e);
	p->bytes -= e->size;
	if (counted) {
		p->dropped_entries++;
		p->dropped_sent += e->row.sent;
		p->dropped_received += e->row.received;
	}
	free(e);
}

void pending_clear(struct pending *p)
{
	struct pentry *e, *tmp;

	HASH_ITER(hh, p->table, e, tmp)
		drop_entry(p, e, false);
}

void pending_free(struct pending *p)
{
	if (!p)
		return;
	pending_clear(p);
	free(p->view);
	free(p);
}

/* The key of a row: its texts, NUL-terminated one after the other, then
 * its numbers.  Built into a new entry (the texts stay there). */
static struct pentry *entry_for(const struct conn_row *r)
{
	struct key_numbers num;
	size_t len[NTEXT], textlen = 0, keylen;
	struct pentry *e;
	char *at;

	memset(&num, 0, sizeof(num));	/* padding too: the key is compared as bytes */
	num.family = r->family;
	num.protocol = r->protocol;
	num.uid = r->uid;
	num.lport = r->lport;
	num.rport = r->rport;
	num.minute = r->time / PENDING_MERGE_SECONDS;
	num.netns = r->netns;

	for (size_t i = 0; i < NTEXT; i++) {
		const char *t = *text_at(r, i);

		if (!t)
			num.null_mask |= 1u << i;
		len[i] = t ? strlen(t) + 1 : 0;
		textlen += len[i];
	}
	keylen = textlen + sizeof(num);
	e = malloc(sizeof(*e) + keylen);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->row = *r;
	e->keylen = keylen;
	at = e->key;
	for (size_t i = 0; i < NTEXT; i++) {
		const char *t = *text_at(r, i);

		*text_at(&e->row, i) = t ? at : NULL;
		if (t) {
			memcpy(at, t, len[i]);
			at += len[i];
		}
	}
	memcpy(at, &num, sizeof(num));
	/* the table's own cost per entry (uthash's handle is in the entry;
	 * its buckets are about two pointers an entry) */
	e->size = sizeof(*e) + keylen + 2 * sizeof(void *);
	return e;
}

int pending_add(struct pending *p, const struct conn_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pentry *e = entry_for(&rows[i]), *same;

		if (!e)
			return -ENOMEM;
		HASH_FIND(hh, p->table, e->key, e->keylen, same);
		if (same) {
			same->row.sent += rows[i].sent;
			same->row.received += rows[i].received;
			same->row.flows += rows[i].flows;
			if (rows[i].time > same->row.time)
				same->row.time = rows[i].time;
			free(e);
			continue;
		}
		HASH_ADD_KEYPTR(hh, p->table, e->key, e->keylen, e);
		p->bytes += e->size;
		/* past a bound: the oldest go (never the one just added) */
		while (p->table != e &&
		       (HASH_COUNT(p->table) > p->max_entries || p->bytes > p->max_bytes))
			drop_entry(p, p->table, true);
	}
	return 0;
}

int pending_rows(struct pending *p, const struct conn_row **rows, size_t *n)
{
	size_t count = HASH_COUNT(p->table), i = 0;
	struct pentry *e, *tmp;

	if (count > p->view_cap) {
		struct conn_row *v = realloc(p->view, count * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->view = v;
		p->view_cap = count;
	}
	HASH_ITER(hh, p->table, e, tmp)
		p->view[i++] = e->row;
	*rows = p->view;
	*n = count;
	return 0;
}

size_t pending_count(const struct pending *p)
{
	return p ? HASH_COUNT(p->table) : 0;
}

void pending_stats(const struct pending *p, struct pending_stats *ret)
{
	struct pentry *e, *tmp;

	memset(ret, 0, sizeof(*ret));
	if (!p)
		return;
	ret->entries = HASH_COUNT(p->table);
	ret->bytes = p->bytes;
	ret->dropped_entries = p->dropped_entries;
	ret->dropped_sent = p->dropped_sent;
	ret->dropped_received = p->dropped_received;
	HASH_ITER(hh, p->table, e, tmp) {
		ret->sent += e->row.sent;
		ret->received += e->row.received;
		if (!ret->first || e->row.time < ret->first)
			ret->first = e->row.time;
		if (e->row.time > ret->last)
			ret->last = e->row.time;
	}
}
