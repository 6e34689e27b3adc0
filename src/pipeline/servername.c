/* Server names from first bytes (servername.h): a bounded table of flows
 * in the order last used, each with the first bytes of its handshake
 * stream placed where they belong and a map of the bytes present. */
#include "pipeline/servername.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uthash.h>

#include "pipeline/quic.h"
#include "pipeline/tls_hello.h"

struct flow_key {
	uint32_t netns;
	uint8_t family;
	uint8_t proto;
	uint16_t lport, rport;
	uint16_t pad;
	uint8_t laddr[16], raddr[16];
};

struct flow {
	struct flow_key key;
	uint64_t used_ms;
	bool done;		/* read: found, or something else */
	uint32_t base_seq;	/* TCP: of the stream's first byte */
	uint8_t dcid[QUIC_CID_MAX];	/* QUIC: the keys' connection id */
	size_t dcid_len;
	size_t have;		/* bytes present from the start */
	uint8_t present[SERVERNAME_STREAM_MAX / 8];
	uint8_t buf[SERVERNAME_STREAM_MAX];
	UT_hash_handle hh;
};

struct servername {
	struct flow *by_key;	/* in the order used: the least recent first */
	size_t capacity;
	struct servername_stats stats;
};

int servername_new(size_t capacity, struct servername **ret)
{
	struct servername *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->capacity = capacity ? capacity : 1;
	*ret = s;
	return 0;
}

static void forget(struct servername *s, struct flow *f)
{
	if (!f->done)
		s->stats.incomplete++;
	HASH_DEL(s->by_key, f);
	free(f);
}

void servername_free(struct servername *s)
{
	struct flow *f, *tmp;

	if (!s)
		return;
	HASH_ITER(hh, s->by_key, f, tmp) {
		HASH_DEL(s->by_key, f);
		free(f);
	}
	free(s);
}

/* bytes at a stream offset; what lies past the bound is not kept */
static void place(struct flow *f, uint64_t offset, const uint8_t *data, size_t n)
{
	if (offset >= SERVERNAME_STREAM_MAX)
		return;
	if (n > SERVERNAME_STREAM_MAX - offset)
		n = SERVERNAME_STREAM_MAX - offset;
	for (size_t i = 0; i < n; i++) {
		size_t at = offset + i;

		if (!(f->present[at / 8] & (1u << (at % 8)))) {
			f->buf[at] = data[i];
			f->present[at / 8] |= (uint8_t)(1u << (at % 8));
		}
	}
	while (f->have < SERVERNAME_STREAM_MAX && (f->present[f->have / 8] & (1u << (f->have % 8))))
		f->have++;
}

static void place_crypto(void *ctx, uint64_t offset, const uint8_t *data, size_t n)
{
	place(ctx, offset, data, n);
}

/* read what is there: done once found or proven something else */
static void read_flow(struct servername *s, struct flow *f, bool tcp, servername_fn fn, void *ctx)
{
	char name[DNS_NAME_MAX + 1];
	int r = tcp ? tls_records_sni(f->buf, f->have, name) : tls_handshake_sni(f->buf, f->have, name);
	struct dns_ends e = {
		.netns = f->key.netns,
		.family = f->key.family,
		.lport = f->key.lport,
		.rport = f->key.rport,
	};

	switch (r) {
	case 1:
		memcpy(e.laddr, f->key.laddr, 16);
		memcpy(e.raddr, f->key.raddr, 16);
		if (tcp)
			s->stats.sni++;
		else
			s->stats.quic++;
		fn(ctx, &e, name, tcp ? DOMAIN_SOURCE_SNI : DOMAIN_SOURCE_QUIC);
		break;
	case -EAGAIN:
		if (f->have < SERVERNAME_STREAM_MAX)
			return;
		s->stats.incomplete++;	/* longer than is read */
		break;
	case -ENOENT:
		s->stats.no_name++;
		break;
	case -EBADMSG:
		s->stats.malformed++;
		break;
	default:
		break;	/* -ENOMSG: not TLS, or not a ClientHello */
	}
	f->done = true;
}

static void make_key(struct flow_key *k, const struct servername_packet *p)
{
	size_t alen = p->ends.family == AF_INET ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->netns = p->ends.netns;
	k->family = p->ends.family;
	k->proto = p->proto;
	k->lport = p->ends.lport;
	k->rport = p->ends.rport;
	memcpy(k->laddr, p->ends.laddr, alen);
	memcpy(k->raddr, p->ends.raddr, alen);
}

static struct flow *flow_new(struct servername *s, const struct flow_key *k)
{
	struct flow *f;

	if (HASH_COUNT(s->by_key) >= s->capacity) {
		if (!s->by_key->done)
			s->stats.evicted++;
		forget(s, s->by_key);
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->key = *k;
	return f;
}

static int quic_datagram(struct servername *s, struct flow **fp, const struct flow_key *k,
			 const struct servername_packet *p, bool *is_new)
{
	static __thread struct quic_initial in;
	struct flow *f = *fp;
	int r;

	r = quic_open_initial(p->data, p->len, f ? f->dcid : NULL, f ? f->dcid_len : 0, &in);
	if (r == -ENOMSG)
		return 0;	/* not an Initial: nothing to read */
	if (r == -EIO || r == -EINVAL)
		return -EIO;
	if (r < 0) {
		if (r == -EKEYREJECTED)
			s->stats.unopened++;
		else
			s->stats.malformed++;
		if (f)
			f->done = true;
		return 0;
	}
	if (!f) {
		f = flow_new(s, k);
		if (!f)
			return -ENOMEM;
		memcpy(f->dcid, in.dcid, in.dcid_len);
		f->dcid_len = in.dcid_len;
		*fp = f;
		*is_new = true;
	}
	if (quic_crypto_frames(in.payload, in.payload_len, place_crypto, f) < 0) {
		s->stats.malformed++;
		f->done = true;
	}
	return 0;
}

int servername_packet(struct servername *s, const struct servername_packet *p, uint64_t now_ms,
		      servername_fn fn, void *ctx)
{
	struct flow_key k;
	struct flow *f;
	size_t len = p->len < p->seg_len ? p->len : p->seg_len;
	bool tcp = p->proto == IPPROTO_TCP, is_new = false;
	int r = 0;

	if ((p->ends.family != AF_INET && p->ends.family != AF_INET6) ||
	    (!tcp && p->proto != IPPROTO_UDP))
		return 0;
	/* the least recently used first: forget the idle ones */
	while (s->by_key && s->by_key->used_ms + SERVERNAME_IDLE_MS < now_ms)
		forget(s, s->by_key);
	make_key(&k, p);
	HASH_FIND(hh, s->by_key, &k, sizeof(k), f);
	if (f && tcp && p->first) {
		/* a new connection on the same addresses and ports */
		f->done = false;
		f->have = 0;
		memset(f->present, 0, sizeof(f->present));
	}
	if (f && f->done)
		return 0;
	if (tcp) {
		if (!f) {
			if (!p->first)
				return 0;	/* its start was not seen */
			if (!(f = flow_new(s, &k)))
				return -ENOMEM;
			is_new = true;
		}
		if (p->first)
			f->base_seq = p->seq;
		place(f, (uint32_t)(p->seq - f->base_seq), p->data, len);
	} else {
		r = quic_datagram(s, &f, &k, p, &is_new);
		if (!f)
			return r;
	}
	if (!is_new)
		HASH_DEL(s->by_key, f);
	f->used_ms = now_ms;
	HASH_ADD(hh, s->by_key, key, sizeof(f->key), f);
	if (!f->done)
		read_flow(s, f, tcp, fn, ctx);
	return r;
}

size_t servername_flows(const struct servername *s)
{
	return HASH_COUNT(s->by_key);
}

void servername_get_stats(const struct servername *s, struct servername_stats *st)
{
	*st = s->stats;
}
