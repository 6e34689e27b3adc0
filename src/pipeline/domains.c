/* Domain names of remote addresses, from the DNS answers the sensor copies
 * (see domains.h): a parser for untrusted DNS messages and a bounded cache
 * from address to the name last resolved to it. */
#include "pipeline/domains.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uthash.h>

#define DNS_HEADER 12
#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_MAX_JUMPS 64

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Read the name at off into out (DNS_NAME_MAX + 1 bytes), lower case,
 * following compression pointers (only backwards, so it ends).  *end is
 * the offset just after the name where it is written.  out may be NULL to
 * skip a name without judging its characters. */
static int read_name(const uint8_t *m, size_t len, size_t off, char *out, size_t *end)
{
	size_t n = 0;
	bool jumped = false;
	int jumps = 0;

	for (;;) {
		uint8_t l;

		if (off >= len)
			return -EBADMSG;
		l = m[off];
		if ((l & 0xc0) == 0xc0) {
			size_t ptr;

			if (off + 1 >= len)
				return -EBADMSG;
			ptr = (size_t)(l & 0x3f) << 8 | m[off + 1];
			if (ptr >= off || ++jumps > DNS_MAX_JUMPS)
				return -EBADMSG;
			if (!jumped)
				*end = off + 2;
			jumped = true;
			off = ptr;
			continue;
		}
		if (l & 0xc0)
			return -EBADMSG;	/* obsolete label types */
		if (l == 0) {
			if (!jumped)
				*end = off + 1;
			break;
		}
		if (off + 1 + l > len)
			return -EBADMSG;
		if (n + l + (n ? 1 : 0) > DNS_NAME_MAX)
			return -EBADMSG;
		if (out) {
			if (n)
				out[n] = '.';
			n += n ? 1 : 0;
			for (size_t i = 0; i < l; i++) {
				uint8_t c = m[off + 1 + i];

				if (!name_char(c))
					return -EBADMSG;
				out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			}
		} else {
			n += l + (n ? 1 : 0);
		}
		off += 1 + l;
	}
	if (out)
		out[n] = '\0';
	return 0;
}

int dns_parse_response(const uint8_t *msg, size_t len,
		       void (*fn)(void *ctx, const char *name, int family, const uint8_t *addr),
		       void *ctx)
{
	char qname[DNS_NAME_MAX + 1];
	uint16_t flags, qdcount, ancount;
	size_t off;
	int found = 0, r;

	if (len < DNS_HEADER)
		return -EBADMSG;
	flags = get16(msg + 2);
	qdcount = get16(msg + 4);
	ancount = get16(msg + 6);
	if (!(flags & 0x8000))
		return -EBADMSG;	/* a query, not a response */
	if ((flags & 0x000f) != 0 || qdcount != 1)
		return 0;		/* an error answer, or not one question */
	r = read_name(msg, len, DNS_HEADER, qname, &off);
	if (r < 0)
		return r;
	if (off + 4 > len)
		return -EBADMSG;
	off += 4;		/* type, class */
	if (!qname[0])
		return 0;
	/* answers: one cut short ends the list (the sensor copies the first
	 * 512 bytes of larger messages); the ones before it stand */
	for (uint16_t i = 0; i < ancount; i++) {
		uint16_t type, class, rdlen;

		if (read_name(msg, len, off, NULL, &off) < 0 || off + 10 > len)
			break;
		type = get16(msg + off);
		class = get16(msg + off + 2);
		rdlen = get16(msg + off + 8);
		off += 10;
		if (off + rdlen > len)
			break;
		if (class == DNS_CLASS_IN && type == DNS_TYPE_A && rdlen == 4) {
			uint8_t a[16] = { 0 };

			memcpy(a, msg + off, 4);
			fn(ctx, qname, AF_INET, a);
			found++;
		} else if (class == DNS_CLASS_IN && type == DNS_TYPE_AAAA && rdlen == 16) {
			fn(ctx, qname, AF_INET6, msg + off);
			found++;
		}
		off += rdlen;
	}
	return found;
}

/* ---- the cache ---- */

struct addr_key {
	uint8_t family;
	uint8_t addr[16];
};

struct entry {
	struct addr_key key;
	enum domain_source src;
	char name[DNS_NAME_MAX + 1];
	UT_hash_handle hh;
};

struct domains {
	struct entry *by_addr;	/* in the order learned: the oldest first */
	size_t capacity;
	int err;		/* while learning */
	enum domain_source src;	/* of what is being learned */
};

const char *domain_source_name(enum domain_source src)
{
	static const char *const names[DOMAIN_SOURCE__COUNT] = {
		[DOMAIN_SOURCE_NONE] = "",	   [DOMAIN_SOURCE_DNS] = "dns",
		[DOMAIN_SOURCE_DNS_TCP] = "dns-tcp", [DOMAIN_SOURCE_SNI] = "sni",
		[DOMAIN_SOURCE_QUIC] = "quic",
	};

	return (unsigned int)src < DOMAIN_SOURCE__COUNT ? names[src] : "";
}

int domains_new(size_t capacity, struct domains **ret)
{
	struct domains *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->capacity = capacity ? capacity : 1;
	*ret = d;
	return 0;
}

void domains_free(struct domains *d)
{
	struct entry *e, *tmp;

	if (!d)
		return;
	HASH_ITER(hh, d->by_addr, e, tmp) {
		HASH_DEL(d->by_addr, e);
		free(e);
	}
	free(d);
}

static void make_key(struct addr_key *k, int family, const uint8_t addr[16])
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)family;
	memcpy(k->addr, addr, family == AF_INET ? 4 : 16);
}

static void learn_one(void *ctx, const char *name, int family, const uint8_t *addr)
{
	struct domains *d = ctx;
	struct addr_key k;
	struct entry *e;

	make_key(&k, family, addr);
	HASH_FIND(hh, d->by_addr, &k, sizeof(k), e);
	if (e) {
		/* learned again: now the newest */
		HASH_DEL(d->by_addr, e);
	} else {
		if (HASH_COUNT(d->by_addr) >= d->capacity) {
			struct entry *oldest = d->by_addr;

			HASH_DEL(d->by_addr, oldest);
			free(oldest);
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			d->err = -ENOMEM;
			return;
		}
		e->key = k;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->src = d->src;
	HASH_ADD(hh, d->by_addr, key, sizeof(e->key), e);
}

int domains_learn(struct domains *d, const uint8_t *msg, size_t len, enum domain_source src)
{
	int r;

	d->err = 0;
	d->src = src;
	r = dns_parse_response(msg, len, learn_one, d);
	return d->err ? d->err : r;
}

int domains_learn_name(struct domains *d, int family, const uint8_t addr[16], const char *name,
		       enum domain_source src)
{
	struct addr_key k;
	struct entry *e;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	make_key(&k, family, addr);
	HASH_FIND(hh, d->by_addr, &k, sizeof(k), e);
	if (e && (e->src == DOMAIN_SOURCE_DNS || e->src == DOMAIN_SOURCE_DNS_TCP))
		return 0;	/* DNS wins */
	d->err = 0;
	d->src = src;
	learn_one(d, name, family, addr);
	return d->err;
}

const char *domains_lookup(const struct domains *d, int family, const uint8_t addr[16],
			   enum domain_source *src)
{
	struct addr_key k;
	struct entry *e;

	if (src)
		*src = DOMAIN_SOURCE_NONE;
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	make_key(&k, family, addr);
	HASH_FIND(hh, d->by_addr, &k, sizeof(k), e);
	if (e && src)
		*src = e->src;
	return e ? e->name : NULL;
}

size_t domains_count(const struct domains *d)
{
	return HASH_COUNT(d->by_addr);
}
