/* Matching DNS answers to the queries this machine sent (see dnsmatch.h):
 * a bounded table of waiting queries, keyed by everything an answer must
 * repeat, in the order they were sent so the old ones go first. */
#include "pipeline/dnsmatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uthash.h>

#define DNS_HEADER 12
#define QNAME_MAX 255		/* a name in wire form, RFC 1035 §3.1 */

struct query_key {
	uint32_t netns;
	uint8_t family;
	uint8_t pad;
	uint16_t lport, rport;
	uint16_t id;
	uint16_t qtype, qclass;
	uint8_t laddr[16], raddr[16];
	uint8_t qname[QNAME_MAX];	/* wire form, ASCII letters in lower case, zero filled */
};

struct query {
	struct query_key key;
	uint64_t sent_ms;
	UT_hash_handle hh;
};

struct dnsmatch {
	struct query *by_key;	/* in the order sent (a repeat counts as new) */
	size_t capacity;
	struct dnsmatch_stats stats;
};

int dnsmatch_new(size_t capacity, struct dnsmatch **ret)
{
	struct dnsmatch *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->capacity = capacity ? capacity : 1;
	*ret = m;
	return 0;
}

static void forget(struct dnsmatch *m, struct query *q)
{
	HASH_DEL(m->by_key, q);
	free(q);
}

void dnsmatch_free(struct dnsmatch *m)
{
	struct query *q, *tmp;

	if (!m)
		return;
	HASH_ITER(hh, m->by_key, q, tmp)
		forget(m, q);
	free(m);
}

/* The key an exchange and its message's question make.  The question is
 * the first thing after the header, so its name cannot be compressed; the
 * case of letters is not compared (resolvers may mix it, RFC 5452 §9.2). */
static int make_key(struct query_key *k, const struct dns_ends *e, const uint8_t *msg, size_t len,
		    bool answer)
{
	size_t off = DNS_HEADER, n = 0;

	memset(k, 0, sizeof(*k));
	if (len < DNS_HEADER || (e->family != AF_INET && e->family != AF_INET6))
		return -EBADMSG;
	if (!!(msg[2] & 0x80) != answer)
		return -EBADMSG;	/* QR says the other */
	if (msg[4] != 0 || msg[5] != 1)
		return -EBADMSG;	/* not exactly one question */
	for (;;) {
		uint8_t l;

		if (off >= len)
			return -EBADMSG;
		l = msg[off];
		if (l & 0xc0)
			return -EBADMSG;
		if (n + 1 + l > QNAME_MAX || off + 1 + l > len)
			return -EBADMSG;
		k->qname[n++] = l;
		off++;
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = msg[off++];

			k->qname[n++] = c >= 'A' && c <= 'Z' ? c + 32 : c;
		}
		if (l == 0)
			break;
	}
	if (off + 4 > len)
		return -EBADMSG;
	k->qtype = (uint16_t)(msg[off] << 8 | msg[off + 1]);
	k->qclass = (uint16_t)(msg[off + 2] << 8 | msg[off + 3]);
	k->id = (uint16_t)(msg[0] << 8 | msg[1]);
	k->netns = e->netns;
	k->family = e->family;
	k->lport = e->lport;
	k->rport = e->rport;
	memcpy(k->laddr, e->laddr, e->family == AF_INET ? 4 : 16);
	memcpy(k->raddr, e->raddr, e->family == AF_INET ? 4 : 16);
	return 0;
}

/* Forget the queries sent before now_ms - DNSMATCH_MAX_AGE_MS (the table
 * is in the order sent).  A clock that went back leaves them alone. */
static void expire(struct dnsmatch *m, uint64_t now_ms)
{
	while (m->by_key && m->by_key->sent_ms + DNSMATCH_MAX_AGE_MS < now_ms)
		forget(m, m->by_key);
}

int dnsmatch_query(struct dnsmatch *m, const struct dns_ends *e, const uint8_t *msg, size_t len,
		   uint64_t now_ms)
{
	struct query_key k;
	struct query *q;

	expire(m, now_ms);
	if (make_key(&k, e, msg, len, false) < 0) {
		m->stats.unreadable++;
		return -EBADMSG;
	}
	HASH_FIND(hh, m->by_key, &k, sizeof(k), q);
	if (q) {
		HASH_DEL(m->by_key, q);		/* sent again: now the newest */
	} else {
		if (HASH_COUNT(m->by_key) >= m->capacity) {
			forget(m, m->by_key);
			m->stats.evicted++;
		}
		q = malloc(sizeof(*q));
		if (!q)
			return -ENOMEM;
		q->key = k;
	}
	q->sent_ms = now_ms;
	HASH_ADD(hh, m->by_key, key, sizeof(q->key), q);
	m->stats.queries++;
	return 0;
}

int dnsmatch_answer(struct dnsmatch *m, const struct dns_ends *e, const uint8_t *msg, size_t len,
		    uint64_t now_ms)
{
	struct query_key k;
	struct query *q;

	expire(m, now_ms);
	if (make_key(&k, e, msg, len, true) < 0) {
		m->stats.unreadable++;
		return -EBADMSG;
	}
	HASH_FIND(hh, m->by_key, &k, sizeof(k), q);
	if (!q) {
		m->stats.unmatched++;
		return -ENOENT;
	}
	forget(m, q);
	m->stats.matched++;
	return 0;
}

size_t dnsmatch_pending(const struct dnsmatch *m)
{
	return HASH_COUNT(m->by_key);
}

void dnsmatch_get_stats(const struct dnsmatch *m, struct dnsmatch_stats *s)
{
	*s = m->stats;
}
