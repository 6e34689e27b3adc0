/* Matching DNS answers to queries sent: an answer counts only with the
 * same transaction id, question (name in any case, type, class), ports,
 * addresses and namespace as a query sent in the last 10 s and not
 * answered yet; the table of waiting queries is bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/dnsmatch.h"
#include "tap.h"

struct msg {
	uint8_t b[600];
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

/* a message with one question */
static struct msg make(uint16_t id, uint16_t flags, const char *name, uint16_t type)
{
	struct msg m = { .n = 0 };

	put16(&m, id);
	put16(&m, flags);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 0);
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		uint8_t lb = (uint8_t)l;

		put(&m, &lb, 1);
		put(&m, name, l);
		name += l + (dot ? 1 : 0);
	}
	put(&m, "", 1);
	put16(&m, type);
	put16(&m, 1);
	return m;
}

static struct dns_ends ends(const char *l, uint16_t lport, const char *r)
{
	struct dns_ends e = { .netns = 4026531840u, .lport = lport, .rport = 53 };

	e.family = strchr(l, ':') ? AF_INET6 : AF_INET;
	inet_pton(e.family, l, e.laddr);
	inet_pton(e.family, r, e.raddr);
	return e;
}

#define QUERY 0x0100
#define ANSWER 0x8180

static void test_matching(void)
{
	struct dnsmatch *m;
	struct dns_ends e = ends("198.51.100.1", 40000, "198.51.100.2"), o;
	struct msg q = make(0x4a17, QUERY, "www.Example.com", 1), a;
	struct dnsmatch_stats s;

	if (dnsmatch_new(16, &m) < 0)
		return;
	is_int(dnsmatch_query(m, &e, q.b, q.n, 1000), 0, "a query is remembered");
	a = make(0x4a17, ANSWER, "WWW.example.COM", 1);
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 1200), 0,
	       "its answer matches (the name's case does not matter)");
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 1300), -ENOENT, "a second answer to it does not");
	is_int(dnsmatch_pending(m), 0, "nothing is waiting");

	dnsmatch_query(m, &e, q.b, q.n, 2000);
	a = make(0x4a18, ANSWER, "www.example.com", 1);
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 2001), -ENOENT, "another transaction id does not");
	a = make(0x4a17, ANSWER, "www.example.org", 1);
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 2001), -ENOENT, "another name does not");
	a = make(0x4a17, ANSWER, "www.example.com", 28);
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 2001), -ENOENT, "another type does not");
	a = make(0x4a17, ANSWER, "www.example.com", 1);
	o = ends("198.51.100.1", 40001, "198.51.100.2");
	is_int(dnsmatch_answer(m, &o, a.b, a.n, 2001), -ENOENT, "to another local port does not");
	o = ends("198.51.100.1", 40000, "198.51.100.3");
	is_int(dnsmatch_answer(m, &o, a.b, a.n, 2001), -ENOENT, "from another server does not");
	o = ends("198.51.100.9", 40000, "198.51.100.2");
	is_int(dnsmatch_answer(m, &o, a.b, a.n, 2001), -ENOENT, "to another local address does not");
	o = e;
	o.rport = 5353;
	is_int(dnsmatch_answer(m, &o, a.b, a.n, 2001), -ENOENT, "from another server port does not");
	o = e;
	o.netns++;
	is_int(dnsmatch_answer(m, &o, a.b, a.n, 2001), -ENOENT, "in another namespace does not");
	is_int(dnsmatch_answer(m, &e, q.b, q.n, 2001), -EBADMSG, "a query is not an answer");
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 2000 + DNSMATCH_MAX_AGE_MS), 0,
	       "the right answer still matches after the forged ones, at 10 s");

	dnsmatch_query(m, &e, q.b, q.n, 30000);
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 30001 + DNSMATCH_MAX_AGE_MS), -ENOENT,
	       "an answer later than 10 s does not");
	is_int(dnsmatch_pending(m), 0, "  and the query was forgotten");

	/* IPv6 ends */
	{
		struct dns_ends e6 = ends("2001:db8:100::1", 50000, "2001:db8:100::2");
		struct msg q6 = make(7, QUERY, "v6.example", 28), a6 = make(7, ANSWER, "v6.example", 28);

		dnsmatch_query(m, &e6, q6.b, q6.n, 40000);
		is_int(dnsmatch_answer(m, &e6, a6.b, a6.n, 40001), 0, "over IPv6 too");
	}

	/* a retried query (same id and question) is one entry, renewed */
	dnsmatch_query(m, &e, q.b, q.n, 50000);
	dnsmatch_query(m, &e, q.b, q.n, 58000);
	is_int(dnsmatch_pending(m), 1, "a repeated query is remembered once");
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 66000), 0, "  from its last sending");

	dnsmatch_get_stats(m, &s);
	is_int(s.matched, 4, "answers matched, counted");
	is_int(s.unmatched, 10, "answers unmatched, counted");
	is_int(s.unreadable, 1, "unreadable, counted");
	dnsmatch_free(m);
}

static void test_bounds(void)
{
	struct dnsmatch *m;
	struct dns_ends e = ends("198.51.100.1", 40000, "198.51.100.2");
	struct dnsmatch_stats s;
	struct msg q, a;

	if (dnsmatch_new(4, &m) < 0)
		return;
	for (uint16_t id = 1; id <= 6; id++) {
		q = make(id, QUERY, "example.com", 1);
		dnsmatch_query(m, &e, q.b, q.n, 100 + id);
	}
	is_int(dnsmatch_pending(m), 4, "the table holds 4");
	a = make(1, ANSWER, "example.com", 1);
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 200), -ENOENT, "the oldest went first");
	a = make(3, ANSWER, "example.com", 1);
	is_int(dnsmatch_answer(m, &e, a.b, a.n, 200), 0, "the newer ones stay");
	dnsmatch_get_stats(m, &s);
	is_int(s.evicted, 2, "forgotten unanswered, counted");

	/* what is not a question */
	q = make(9, QUERY, "example.com", 1);
	q.b[5] = 2;
	is_int(dnsmatch_query(m, &e, q.b, q.n, 300), -EBADMSG, "two questions");
	q = make(9, QUERY, "example.com", 1);
	is_int(dnsmatch_query(m, &e, q.b, 11, 300), -EBADMSG, "shorter than a header");
	is_int(dnsmatch_query(m, &e, q.b, q.n - 1, 300), -EBADMSG, "a question cut short");
	q.b[12] = 0xc0;
	is_int(dnsmatch_query(m, &e, q.b, q.n, 300), -EBADMSG, "a compressed question name");
	{
		struct msg big = { .n = 0 };
		uint8_t label[64];

		memset(label, 'a', sizeof(label));
		put(&big, "\x00\x09\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
		for (int i = 0; i < 5; i++) {
			uint8_t l = 63;

			put(&big, &l, 1);
			put(&big, label, 63);
		}
		put(&big, "\0\0\1\0\1", 5);
		is_int(dnsmatch_query(m, &e, big.b, big.n, 300), -EBADMSG,
		       "a name over 255 bytes");
	}
	dnsmatch_free(m);
}

int main(void)
{
	test_matching();
	test_bounds();
	return tap_done();
}
