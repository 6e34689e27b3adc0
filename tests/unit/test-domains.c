/* Domains from DNS answers: the parser takes A and AAAA answers under the
 * question's name (through CNAME chains and compression), keeps what
 * precedes a cut, refuses malformed and hostile messages whole; the cache
 * gives the name last resolved to an address and forgets the oldest. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/domains.h"
#include "tap.h"

/* a DNS message under construction */
struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	put(m, b, 2);
}

static void put_name(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		uint8_t lb = (uint8_t)l;

		put(m, &lb, 1);
		put(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

static void header(struct msg *m, uint16_t flags, uint16_t qd, uint16_t an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

/* an answer record: owner name as a pointer to the question (offset 12) */
static void answer(struct msg *m, uint16_t type, const void *rdata, uint16_t rdlen)
{
	put16(m, 0xc00c);
	put16(m, type);
	put16(m, 1);	/* IN */
	put16(m, 0);
	put16(m, 300);	/* TTL */
	put16(m, rdlen);
	put(m, rdata, rdlen);
}

static void question(struct msg *m, const char *name, uint16_t type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

struct seen {
	char names[8][DNS_NAME_MAX + 1];
	char addrs[8][64];
	int n;
};

static void collect(void *ctx, const char *name, int family, const uint8_t *addr)
{
	struct seen *s = ctx;

	if (s->n >= 8)
		return;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	inet_ntop(family, addr, s->addrs[s->n], sizeof(s->addrs[0]));
	s->n++;
}

static int parse(struct msg *m, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return dns_parse_response(m->b, m->n, collect, s);
}

static void test_answers(void)
{
	uint8_t a1[4] = { 198, 51, 100, 7 }, a2[4] = { 203, 0, 113, 9 }, a6[16];
	struct msg m;
	struct seen s;

	inet_pton(AF_INET6, "2001:db8::42", a6);
	header(&m, 0x8180, 1, 3);
	question(&m, "WWW.Example.COM", 1);
	answer(&m, 1, a1, 4);
	answer(&m, 28, a6, 16);
	answer(&m, 1, a2, 4);
	is_int(parse(&m, &s), 3, "three address answers");
	is_str(s.names[0], "www.example.com", "under the question's name, in lower case");
	is_str(s.addrs[0], "198.51.100.7", "the first A record");
	is_str(s.addrs[1], "2001:db8::42", "the AAAA record");
	is_str(s.addrs[2], "203.0.113.9", "the second A record");

	/* a CNAME chain: the address belongs to the name that was asked */
	header(&m, 0x8180, 1, 2);
	question(&m, "shop.example.org", 1);
	{
		struct msg target = { .n = 0 };

		put_name(&target, "edge.cdn.example.net");
		answer(&m, 5, target.b, (uint16_t)target.n);
	}
	/* the A record's owner is the CNAME target, written out in full */
	put_name(&m, "edge.cdn.example.net");
	put16(&m, 1);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 60);
	put16(&m, 4);
	put(&m, a1, 4);
	is_int(parse(&m, &s), 1, "a CNAME chain gives one address");
	is_str(s.names[0], "shop.example.org", "named after the question, not the CNAME target");

	/* a message cut short in its second answer keeps the first */
	header(&m, 0x8180, 1, 2);
	question(&m, "cut.example", 1);
	answer(&m, 1, a1, 4);
	answer(&m, 1, a2, 4);
	m.n -= 2;
	is_int(parse(&m, &s), 1, "a cut answer list keeps the answers before the cut");
}

static void test_refused(void)
{
	uint8_t a1[4] = { 198, 51, 100, 7 };
	struct msg m;
	struct seen s;

	header(&m, 0x0100, 1, 1);	/* a query */
	question(&m, "example.com", 1);
	answer(&m, 1, a1, 4);
	is_int(parse(&m, &s), -EBADMSG, "a query is not an answer");

	header(&m, 0x8183, 1, 0);	/* NXDOMAIN */
	question(&m, "nothing.example", 1);
	is_int(parse(&m, &s), 0, "an error answer teaches nothing");

	m.n = 7;
	is_int(parse(&m, &s), -EBADMSG, "shorter than a header");

	header(&m, 0x8180, 1, 1);
	question(&m, "evil,name.example", 1);
	answer(&m, 1, a1, 4);
	is_int(parse(&m, &s), -EBADMSG, "a name with a comma is refused");

	header(&m, 0x8180, 1, 1);
	question(&m, "new\nline.example", 1);
	answer(&m, 1, a1, 4);
	is_int(parse(&m, &s), -EBADMSG, "a name with a newline is refused");

	/* a question name that points at itself */
	header(&m, 0x8180, 1, 1);
	put16(&m, 0xc00c);
	put16(&m, 1);
	put16(&m, 1);
	is_int(parse(&m, &s), -EBADMSG, "a compression pointer to itself");

	/* a pointer forwards, into the answers */
	header(&m, 0x8180, 1, 0);
	put16(&m, 0xc020);
	put16(&m, 1);
	put16(&m, 1);
	is_int(parse(&m, &s), -EBADMSG, "a compression pointer forwards");

	/* a label running past the end */
	header(&m, 0x8180, 1, 0);
	put(&m, "\x3f" "abc", 4);
	is_int(parse(&m, &s), -EBADMSG, "a label longer than the message");

	/* a name over 253 characters */
	{
		char longname[400] = "";

		for (int i = 0; i < 5; i++)
			strcat(longname, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
		strcat(longname, "example");
		header(&m, 0x8180, 1, 1);
		question(&m, longname, 1);
		answer(&m, 1, a1, 4);
		is_int(parse(&m, &s), -EBADMSG, "a name over 253 characters");
	}

	/* an A record of the wrong length is skipped, not taken */
	header(&m, 0x8180, 1, 1);
	question(&m, "odd.example", 1);
	answer(&m, 1, "\x01\x02\x03\x04\x05", 5);
	is_int(parse(&m, &s), 0, "an A record of 5 bytes is not an address");
}

static void test_cache(void)
{
	uint8_t a[16] = { 198, 51, 100, 7 }, b[16] = { 198, 51, 100, 8 }, c[16] = { 198, 51, 100, 9 };
	struct domains *d;
	struct msg m;

	if (domains_new(2, &d) < 0)
		abort();
	header(&m, 0x8180, 1, 1);
	question(&m, "one.example", 1);
	answer(&m, 1, a, 4);
	is_int(domains_learn(d, m.b, m.n, DOMAIN_SOURCE_DNS), 1, "learned one address");
	is_str(domains_lookup(d, AF_INET, a, NULL), "one.example", "its name");
	ok(domains_lookup(d, AF_INET6, a, NULL) == NULL, "an IPv6 address with the same bytes is another");

	header(&m, 0x8180, 1, 1);
	question(&m, "two.example", 1);
	answer(&m, 1, a, 4);
	domains_learn(d, m.b, m.n, DOMAIN_SOURCE_DNS_TCP);
	is_str(domains_lookup(d, AF_INET, a, NULL), "two.example", "the name last resolved wins");
	{
		enum domain_source src = DOMAIN_SOURCE_NONE;

		domains_lookup(d, AF_INET, a, &src);
		is_str(domain_source_name(src), "dns-tcp", "  with where it came from");
		domains_lookup(d, AF_INET6, a, &src);
		is_str(domain_source_name(src), "", "  and none for an address not learned");
	}

	header(&m, 0x8180, 1, 1);
	question(&m, "b.example", 1);
	answer(&m, 1, b, 4);
	domains_learn(d, m.b, m.n, DOMAIN_SOURCE_DNS);
	header(&m, 0x8180, 1, 1);
	question(&m, "c.example", 1);
	answer(&m, 1, c, 4);
	domains_learn(d, m.b, m.n, DOMAIN_SOURCE_DNS);
	is_int(domains_count(d), 2, "the cache keeps its capacity");
	ok(domains_lookup(d, AF_INET, a, NULL) == NULL, "the oldest address was forgotten");
	is_str(domains_lookup(d, AF_INET, c, NULL), "c.example", "the newest is there");

	header(&m, 0x0100, 1, 0);
	question(&m, "query.example", 1);
	is_int(domains_learn(d, m.b, m.n, DOMAIN_SOURCE_DNS), -EBADMSG, "learning from a query is refused");
	domains_free(d);
}

int main(void)
{
	test_answers();
	test_refused();
	test_cache();
	return tap_done();
}
