/* DNS over TCP put back together from segments (see tcpdns.h): a bounded
 * table of streams in the order last used, each with the place it expects
 * next and the message it is reading. */
#include "pipeline/tcpdns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uthash.h>

struct stream_key {
	uint32_t netns;
	uint8_t family;
	uint8_t from_server;
	uint16_t lport, rport;
	uint16_t pad;
	uint8_t laddr[16], raddr[16];
};

struct stream {
	struct stream_key key;
	uint64_t used_ms;
	uint32_t next_seq;	/* of the next byte expected */
	bool lost;		/* given up: nothing more is read until a SYN */
	uint8_t prefix[2];	/* the length prefix being read */
	uint8_t prefix_have;
	uint32_t msg_len, msg_have;	/* of the message being read (bytes seen) */
	size_t kept;		/* its first bytes, in buf */
	uint8_t buf[TCPDNS_KEEP];
	UT_hash_handle hh;
};

struct tcpdns {
	struct stream *by_key;	/* in the order used: the least recent first */
	size_t capacity;
	struct tcpdns_stats stats;
};

int tcpdns_new(size_t capacity, struct tcpdns **ret)
{
	struct tcpdns *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->capacity = capacity ? capacity : 1;
	*ret = t;
	return 0;
}

static void forget(struct tcpdns *t, struct stream *s)
{
	HASH_DEL(t->by_key, s);
	free(s);
}

void tcpdns_free(struct tcpdns *t)
{
	struct stream *s, *tmp;

	if (!t)
		return;
	HASH_ITER(hh, t->by_key, s, tmp)
		forget(t, s);
	free(t);
}

static void give_up(struct tcpdns *t, struct stream *s)
{
	if (!s->lost)
		t->stats.lost++;
	s->lost = true;
}

static void message_done(struct tcpdns *t, struct stream *s, tcpdns_message_fn fn, void *ctx)
{
	struct dns_ends e = {
		.netns = s->key.netns,
		.family = s->key.family,
		.lport = s->key.lport,
		.rport = s->key.rport,
	};

	memcpy(e.laddr, s->key.laddr, 16);
	memcpy(e.raddr, s->key.raddr, 16);
	t->stats.messages++;
	fn(ctx, &e, s->key.from_server, s->buf, s->kept);
	s->prefix_have = 0;
}

/* Bytes of the stream in order: data, or n bytes not copied (data NULL). */
static void feed(struct tcpdns *t, struct stream *s, const uint8_t *data, size_t n,
		 tcpdns_message_fn fn, void *ctx)
{
	while (n > 0 && !s->lost) {
		if (s->prefix_have < 2) {
			if (!data) {
				give_up(t, s);	/* a length we cannot read */
				return;
			}
			s->prefix[s->prefix_have++] = *data++;
			n--;
			if (s->prefix_have == 2) {
				s->msg_len = (uint32_t)(s->prefix[0] << 8 | s->prefix[1]);
				s->msg_have = 0;
				s->kept = 0;
				if (s->msg_len == 0)
					s->prefix_have = 0;	/* an empty message: nothing */
			}
			continue;
		}
		{
			size_t take = s->msg_len - s->msg_have;

			if (take > n)
				take = n;
			if (data) {
				size_t room = sizeof(s->buf) - s->kept;
				size_t copy = take < room ? take : room;

				memcpy(s->buf + s->kept, data, copy);
				s->kept += copy;
				data += take;
			}
			s->msg_have += (uint32_t)take;
			n -= take;
			if (s->msg_have == s->msg_len)
				message_done(t, s, fn, ctx);
		}
	}
}

static void make_key(struct stream_key *k, const struct tcpdns_segment *seg)
{
	const struct dns_ends *e = &seg->ends;
	size_t alen = e->family == AF_INET ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->netns = e->netns;
	k->family = e->family;
	k->from_server = seg->from_server;
	k->lport = e->lport;
	k->rport = e->rport;
	memcpy(k->laddr, e->laddr, alen);
	memcpy(k->raddr, e->raddr, alen);
}

int tcpdns_segment(struct tcpdns *t, const struct tcpdns_segment *seg, uint64_t now_ms,
		   tcpdns_message_fn fn, void *ctx)
{
	struct stream_key k;
	struct stream *s;
	uint32_t start, skip;
	size_t len = seg->len < seg->seg_len ? seg->len : seg->seg_len;

	if (seg->ends.family != AF_INET && seg->ends.family != AF_INET6)
		return 0;
	/* the least recently used first: forget the idle ones */
	while (t->by_key && t->by_key->used_ms + TCPDNS_IDLE_MS < now_ms)
		forget(t, t->by_key);
	make_key(&k, seg);
	HASH_FIND(hh, t->by_key, &k, sizeof(k), s);
	if (seg->syn) {
		if (!s) {
			if (HASH_COUNT(t->by_key) >= t->capacity) {
				forget(t, t->by_key);
				t->stats.evicted++;
			}
			s = malloc(sizeof(*s));
			if (!s)
				return -ENOMEM;
			s->key = k;
		} else {
			HASH_DEL(t->by_key, s);
		}
		s->next_seq = seg->seq + 1;	/* the SYN takes one */
		s->lost = false;
		s->prefix_have = 0;
		s->msg_len = s->msg_have = 0;
		s->kept = 0;
		start = seg->seq + 1;
	} else {
		if (!s)
			return 0;	/* its start was not seen */
		HASH_DEL(t->by_key, s);
		start = seg->seq;
	}
	s->used_ms = now_ms;
	HASH_ADD(hh, t->by_key, key, sizeof(s->key), s);
	if (!s->lost && seg->seg_len > 0) {
		int32_t ahead = (int32_t)(start - s->next_seq);

		if (ahead > 0) {
			give_up(t, s);	/* a gap: what is missing is never passed */
		} else {
			/* a retransmission may repeat what was read */
			skip = s->next_seq - start;
			if (skip < seg->seg_len) {
				if (skip < len)
					feed(t, s, seg->data + skip, len - skip, fn, ctx);
				feed(t, s, NULL, seg->seg_len - (skip > len ? skip : len), fn, ctx);
				s->next_seq = start + seg->seg_len;
			}
		}
	}
	if (seg->fin)
		forget(t, s);
	return 0;
}

size_t tcpdns_streams(const struct tcpdns *t)
{
	return HASH_COUNT(t->by_key);
}

void tcpdns_get_stats(const struct tcpdns *t, struct tcpdns_stats *s)
{
	*s = t->stats;
}
