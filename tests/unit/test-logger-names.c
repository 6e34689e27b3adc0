/* The logger's names for addresses from the monitor's messages, end to end
 * without a monitor: a FIRST message with RFC 9001 A.2's QUIC Initial
 * names its address example.com from quic; one with a TLS ClientHello
 * names its address from sni; an address a matched DNS answer named keeps
 * the DNS name whatever ClientHello follows, and a DNS answer after a
 * ClientHello replaces its name; FIRST messages that break their bounds
 * are refused. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "logger/logger_int.h"
#include "privsep/proto.h"
#include "rfc9001.h"
#include "tap.h"
#include "util/log.h"

static uint64_t mono = 1000;

static uint64_t fake_mono(void)
{
	return mono;
}

static void quiet(void *ctx, enum log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

static void set_addr(uint8_t *out, uint8_t *family, const char *a)
{
	*family = strchr(a, ':') ? AF_INET6 : AF_INET;
	inet_pton(*family, a, out);
}

/* a FIRST message to `to`: TCP (its first segment) or UDP */
static int first(struct logger *l, uint8_t proto, const char *to, uint16_t lport, const void *data,
		 size_t len)
{
	static struct ps_msg_first m;

	proto_init(&m, PS_MSG_FIRST);
	set_addr(m.laddr, &m.family, strchr(to, ':') ? "2001:db8::1" : "198.51.100.1");
	set_addr(m.raddr, &m.family, to);
	m.proto = proto;
	m.lport = lport;
	m.rport = 443;
	m.first = 1;
	m.seq = 77;
	m.seg_len = (uint32_t)len;
	m.len = (uint32_t)len;
	memcpy(m.data, data, len);
	mono += 10;
	return logger_handle(l, &m, sizeof(m));
}

/* the A.2 ClientHello in one TLS record */
static size_t hello_record(uint8_t *out)
{
	size_t n = sizeof(rfc9001_client_crypto) - 4;

	out[0] = 22, out[1] = 3, out[2] = 1, out[3] = (uint8_t)(n >> 8), out[4] = (uint8_t)n;
	memcpy(out + 5, rfc9001_client_crypto + 4, n);
	return n + 5;
}

/* a DNS query for www.snitch-test.example A and its answer `addr` */
static size_t dns(uint8_t *b, bool answer, const char *addr)
{
	static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				     3, 'w', 'w', 'w', 11, 's', 'n', 'i', 't', 'c', 'h', '-', 't', 'e',
				     's', 't', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1 };
	size_t n = sizeof(q);

	memcpy(b, q, n);
	if (!answer)
		return n;
	b[2] = 0x81, b[3] = 0x80, b[7] = 1;	/* a response, one answer */
	static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4 };
	memcpy(b + n, rr, sizeof(rr));
	n += sizeof(rr);
	inet_pton(AF_INET, addr, b + n);
	return n + 4;
}

static void dns_msg(struct logger *l, bool answer, const char *server_addr, const char *a)
{
	struct ps_msg_dns m;

	proto_init(&m, PS_MSG_DNS);
	m.dir = answer ? PS_DNS_ANSWER : PS_DNS_QUERY;
	m.proto = IPPROTO_UDP;
	set_addr(m.laddr, &m.family, "198.51.100.1");
	set_addr(m.raddr, &m.family, server_addr);
	m.lport = 40000;
	m.rport = 53;
	m.len = (uint32_t)dns(m.data, answer, a);
	m.seg_len = m.len;
	mono += 10;
	logger_handle(l, &m, sizeof(m));
}

static const char *name_of(struct logger *l, const char *a, enum domain_source *src)
{
	uint8_t addr[16] = { 0 }, family;

	set_addr(addr, &family, a);
	return domains_lookup(l->domains, family, addr, src);
}

int main(void)
{
	struct logger l = { .dirfd = -1 };
	static struct ps_msg_first big;
	enum domain_source src;
	uint8_t rec[300];
	size_t n = hello_record(rec);

	log_set_sink(quiet, NULL);
	if (logger_init(&l, -1, "/nonexistent", false) < 0)
		abort();
	l.mono_clock_ms = fake_mono;

	first(&l, IPPROTO_UDP, "2001:db8::7", 50000, rfc9001_client_initial,
	      sizeof(rfc9001_client_initial));
	is_str(name_of(&l, "2001:db8::7", &src), "example.com", "a QUIC Initial names its address");
	is_int(src, DOMAIN_SOURCE_QUIC, "  from quic");

	first(&l, IPPROTO_TCP, "203.0.113.10", 50001, rec, n);
	is_str(name_of(&l, "203.0.113.10", &src), "example.com", "a TLS ClientHello names its address");
	is_int(src, DOMAIN_SOURCE_SNI, "  from sni");

	dns_msg(&l, false, "198.51.100.53", NULL);
	dns_msg(&l, true, "198.51.100.53", "203.0.113.9");
	is_str(name_of(&l, "203.0.113.9", &src), "www.snitch-test.example", "a matched DNS answer");
	first(&l, IPPROTO_TCP, "203.0.113.9", 50002, rec, n);
	is_str(name_of(&l, "203.0.113.9", &src), "www.snitch-test.example",
	       "a ClientHello to an address DNS named: DNS wins");
	is_int(src, DOMAIN_SOURCE_DNS, "  from dns");

	dns_msg(&l, false, "198.51.100.53", NULL);
	dns_msg(&l, true, "198.51.100.53", "203.0.113.10");
	is_str(name_of(&l, "203.0.113.10", &src), "www.snitch-test.example",
	       "a DNS answer after a ClientHello replaces its name");
	is_int(src, DOMAIN_SOURCE_DNS, "  from dns");

	proto_init(&big, PS_MSG_FIRST);
	big.family = AF_INET;
	big.proto = IPPROTO_UDP;
	big.len = PS_FIRST_MAX + 1;
	big.seg_len = PS_FIRST_MAX + 1;
	logger_handle(&l, &big, sizeof(big));
	is_int(l.bad_messages, 1, "a FIRST longer than its bound is refused");
	big.len = 10;
	big.seg_len = 9;
	logger_handle(&l, &big, sizeof(big));
	is_int(l.bad_messages, 2, "  and one with more bytes than its segment");
	big.seg_len = 10;
	big.proto = IPPROTO_ICMP;
	logger_handle(&l, &big, sizeof(big));
	is_int(l.bad_messages, 3, "  and one of another protocol");
	logger_done(&l);
	return tap_done();
}
