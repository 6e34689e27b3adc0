/* Interned strings (strpool.h): a hash table of entries holding the text
 * after their header, so a pooled pointer finds its entry. */
#include "logger/strpool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

struct entry {
	UT_hash_handle hh;
	size_t refs;
	size_t len;
	char text[];
};

struct strpool {
	struct entry *table;
	size_t bytes;
};

static struct entry *entry_of(const char *s)
{
	return (struct entry *)(s - offsetof(struct entry, text));
}

int strpool_new(struct strpool **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void strpool_free(struct strpool *p)
{
	struct entry *e, *t;

	if (!p)
		return;
	HASH_ITER(hh, p->table, e, t) {
		HASH_DEL(p->table, e);
		free(e);
	}
	free(p);
}

const char *strpool_get(struct strpool *p, const char *s)
{
	size_t len = strlen(s);
	struct entry *e;

	HASH_FIND(hh, p->table, s, len, e);
	if (e) {
		e->refs++;
		return e->text;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	e->refs = 1;
	e->len = len;
	memcpy(e->text, s, len + 1);
	HASH_ADD_KEYPTR(hh, p->table, e->text, len, e);
	p->bytes += len + 1;
	return e->text;
}

const char *strpool_ref(struct strpool *p, const char *s)
{
	(void)p;
	if (s)
		entry_of(s)->refs++;
	return s;
}

void strpool_put(struct strpool *p, const char *s)
{
	struct entry *e;

	if (!s)
		return;
	e = entry_of(s);
	if (--e->refs)
		return;
	HASH_DEL(p->table, e);
	p->bytes -= e->len + 1;
	free(e);
}

size_t strpool_count(const struct strpool *p)
{
	return HASH_COUNT(p->table);
}

size_t strpool_bytes(const struct strpool *p)
{
	return p->bytes;
}
