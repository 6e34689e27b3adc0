/* Server names from first bytes: the TLS ClientHello walk (whole, cut at
 * every length, split over records, no name, bad names, not TLS), the
 * QUIC v1 Initial keys, header protection and payload of RFC 9001's
 * appendix A, Initials that do not open, and the flow table that puts
 * TCP segments and CRYPTO frames back together (any order, repeats, two
 * Initials, the bound). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/quic.h"
#include "pipeline/servername.h"
#include "pipeline/tls_hello.h"
#include "quic_seal.h"
#include "rfc9001.h"
#include "tap.h"

/* the ClientHello inside A.2's CRYPTO frame (type, offset, 2-byte length) */
#define HELLO (rfc9001_client_crypto + 4)
#define HELLO_LEN (sizeof(rfc9001_client_crypto) - 4)

/* a TLS stream: the hello in records of at most `per` bytes */
static size_t records(uint8_t *out, const uint8_t *hs, size_t len, size_t per)
{
	size_t n = 0;

	for (size_t off = 0; off < len; off += per) {
		size_t r = len - off < per ? len - off : per;

		out[n++] = 22;
		out[n++] = 3;
		out[n++] = 1;
		out[n++] = (uint8_t)(r >> 8);
		out[n++] = (uint8_t)r;
		memcpy(out + n, hs + off, r);
		n += r;
	}
	return n;
}

/* offset of the server name's text in the hello */
static size_t name_at(const uint8_t *hs, size_t len)
{
	for (size_t i = 0; i + 11 <= len; i++)
		if (!memcmp(hs + i, "example.com", 11))
			return i;
	return 0;
}

static void test_tls(void)
{
	uint8_t stream[1024], hs[512];
	char name[DNS_NAME_MAX + 1];
	int bad = 0;
	size_t n, at;

	is_int(HELLO_LEN, 241, "A.2's ClientHello is 241 bytes");
	is_int(tls_handshake_sni(HELLO, HELLO_LEN, name), 1, "a ClientHello: a name");
	is_str(name, "example.com", "  the name");
	n = records(stream, HELLO, HELLO_LEN, 16384);
	is_int(tls_records_sni(stream, n, name), 1, "in one record");
	is_str(name, "example.com", "  the name");
	n = records(stream, HELLO, HELLO_LEN, 50);
	memset(name, 0, sizeof(name));
	is_int(tls_records_sni(stream, n, name), 1, "over five records");
	is_str(name, "example.com", "  the name");
	for (size_t cut = 0; cut < n; cut++) {
		int r = tls_records_sni(stream, cut, name);

		if (r != -EAGAIN && r != 1)
			bad++;
	}
	is_int(bad, 0, "every prefix: more is due, or the name (never an error)");
	at = name_at(HELLO, HELLO_LEN);
	ok(at > 0, "the name is in the hello");
	is_int(tls_handshake_sni(HELLO, at + 10, name), -EAGAIN, "cut inside the name: more is due");
	is_int(tls_handshake_sni(HELLO, at + 11, name), 1, "cut right after it: the name");

	memcpy(hs, HELLO, HELLO_LEN);
	memcpy(hs + at, "EXAMPLE.Com", 11);
	is_int(tls_handshake_sni(hs, HELLO_LEN, name), 1, "capitals");
	is_str(name, "example.com", "  in lower case");
	hs[at + 3] = '\n';
	is_int(tls_handshake_sni(hs, HELLO_LEN, name), -EBADMSG, "a newline in the name: refused");
	memcpy(hs + at, "exa..le.com", 11);
	is_int(tls_handshake_sni(hs, HELLO_LEN, name), -EBADMSG, "an empty label: refused");
	memcpy(hs, HELLO, HELLO_LEN);
	hs[at - 1] = 200;	/* the name's length past its extension */
	is_int(tls_handshake_sni(hs, HELLO_LEN, name), -EBADMSG, "a name longer than its list");
	memcpy(hs, HELLO, HELLO_LEN);
	hs[3] = (uint8_t)(HELLO_LEN - 4 + 1);	/* one byte more than the extensions */
	is_int(tls_handshake_sni(hs, HELLO_LEN, name), 1, "a longer hello, not all here: its name");
	is_int(tls_handshake_sni(hs, at, name), -EAGAIN, "  cut before the name: more is due");
	memcpy(hs, HELLO, HELLO_LEN);
	hs[0] = 2;
	is_int(tls_handshake_sni(hs, HELLO_LEN, name), -ENOMSG, "a ServerHello: not ours");
	is_int(tls_records_sni((const uint8_t *)"GET / HTTP/1.1\r\n", 16, name), -ENOMSG,
	       "HTTP: not TLS");
	is_int(tls_records_sni((const uint8_t *)"\x16\x03", 2, name), -EAGAIN,
	       "two bytes of a record: more is due");
	is_int(tls_records_sni((const uint8_t *)"\x16\x03\x01\x00\x00", 5, name), -EBADMSG,
	       "an empty record");
	is_int(tls_records_sni((const uint8_t *)"\x16\x03\x01\x40\x01", 5, name), -EBADMSG,
	       "a record over 16 KiB");
	{
		/* version, random, empty session id, one suite, one method, no extensions */
		static const uint8_t bare[] = { 1, 0, 0, 41, 3, 3, [6 ... 37] = 7, 0, 0, 2, 0x13, 1, 1, 0 };

		is_int(sizeof(bare), 45, "a bare hello is 45 bytes");
		is_int(tls_handshake_sni(bare, sizeof(bare), name), -ENOENT, "no extensions: no name");
	}
	{
		uint8_t hostile[600];

		/* session id over 32 bytes */
		memcpy(hostile, HELLO, HELLO_LEN);
		hostile[4 + 34] = 33;
		is_int(tls_handshake_sni(hostile, HELLO_LEN, name), -EBADMSG,
		       "a session id over 32 bytes");
	}
	ok(host_name_copy((const uint8_t *)"a.b.", 4, name) == 0 && !strcmp(name, "a.b"),
	   "a final dot is dropped");
	{
		uint8_t l[70];

		memset(l, 'a', sizeof(l));
		is_int(host_name_copy(l, 64, name), -EBADMSG, "a label of 64: refused");
		is_int(host_name_copy(l, 63, name), 0, "a label of 63: fine");
	}
}

static const uint8_t zeros[RFC9001_PAYLOAD_LEN];

static void test_quic(void)
{
	struct quic_keys k;
	static struct quic_initial in;
	uint8_t pkt[sizeof(rfc9001_client_initial)];

	is_int(quic_client_initial_keys((const uint8_t *)RFC9001_DCID, 8, &k), 0, "keys derived");
	ok(!memcmp(k.key, RFC9001_CLIENT_KEY, 16), "  the key of A.1");
	ok(!memcmp(k.iv, RFC9001_CLIENT_IV, 12), "  the IV of A.1");
	ok(!memcmp(k.hp, RFC9001_CLIENT_HP, 16), "  the header protection key of A.1");
	is_int(sizeof(rfc9001_client_initial), 1200, "A.2's packet is 1200 bytes");
	is_int(quic_open_initial(rfc9001_client_initial, sizeof(rfc9001_client_initial), NULL, 0, &in),
	       0, "A.2's Initial opens");
	is_int(in.packet_number, 2, "  packet number 2 (header protection removed)");
	is_int(in.dcid_len, 8, "  its connection id");
	is_int(in.packet_len, 1200, "  the whole datagram");
	is_int(in.payload_len, RFC9001_PAYLOAD_LEN, "  a 1162-byte payload");
	ok(!memcmp(in.payload, rfc9001_client_crypto, sizeof(rfc9001_client_crypto)),
	   "  the CRYPTO frame of A.2");
	ok(!memcmp(in.payload + sizeof(rfc9001_client_crypto), zeros,
		   RFC9001_PAYLOAD_LEN - sizeof(rfc9001_client_crypto)),
	   "  then PADDING");

	memcpy(pkt, rfc9001_client_initial, sizeof(pkt));
	pkt[600] ^= 1;
	is_int(quic_open_initial(pkt, sizeof(pkt), NULL, 0, &in), -EKEYREJECTED,
	       "one bit changed: it does not open");
	memcpy(pkt, rfc9001_client_initial, sizeof(pkt));
	pkt[10] ^= 1;
	is_int(quic_open_initial(pkt, sizeof(pkt), NULL, 0, &in), -EKEYREJECTED,
	       "another connection id: it does not open");
	is_int(quic_open_initial(rfc9001_client_initial, 1199, NULL, 0, &in), -EBADMSG,
	       "a byte short: its length breaks");
	memcpy(pkt, rfc9001_client_initial, sizeof(pkt));
	pkt[4] = 2;
	is_int(quic_open_initial(pkt, sizeof(pkt), NULL, 0, &in), -ENOMSG, "version 2: not read");
	memcpy(pkt, rfc9001_client_initial, sizeof(pkt));
	pkt[0] = 0x40;
	is_int(quic_open_initial(pkt, sizeof(pkt), NULL, 0, &in), -ENOMSG, "a short header: not read");
	pkt[0] = 0xd0;
	is_int(quic_open_initial(pkt, sizeof(pkt), NULL, 0, &in), -ENOMSG, "a 0-RTT packet: not read");
	memcpy(pkt, rfc9001_client_initial, sizeof(pkt));
	pkt[5] = 21;
	is_int(quic_open_initial(pkt, sizeof(pkt), NULL, 0, &in), -EBADMSG,
	       "a connection id over 20 bytes");
	{
		uint64_t v;

		is_int(quic_varint((const uint8_t *)"\xc2\x19\x7c\x5e\xff\x14\xe8\x8c", 8, &v), 8,
		       "an 8-byte varint (RFC 9000 A.1)");
		ok(v == 151288809941952652ull, "  its value");
		is_int(quic_varint((const uint8_t *)"\x7b\xbd", 2, &v), 2, "a 2-byte varint");
		is_int(v, 15293, "  its value");
		is_int(quic_varint((const uint8_t *)"\x9d\x7f\x3e", 3, &v), 0, "a cut varint");
	}
}

struct found {
	int n;
	char name[DNS_NAME_MAX + 1];
	enum domain_source src;
	uint8_t raddr0;
};

static void on_name(void *ctx, const struct dns_ends *e, const char *name, enum domain_source src)
{
	struct found *f = ctx;

	f->n++;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->src = src;
	f->raddr0 = e->raddr[0];
}

static struct servername_packet pkt_of(uint8_t proto, uint16_t lport, bool first, uint32_t seq,
				       const uint8_t *data, size_t len)
{
	struct servername_packet p = {
		.ends = { .netns = 1, .family = AF_INET, .lport = lport, .rport = 443,
			  .laddr = { 10, 0, 0, 1 }, .raddr = { 203, 0, 113, 7 } },
		.proto = proto,
		.first = first,
		.seq = seq,
		.seg_len = (uint32_t)len,
		.data = data,
		.len = len,
	};

	return p;
}

static void test_flows(void)
{
	struct servername *s;
	struct servername_stats st;
	struct servername_packet p;
	struct found f = { 0 };
	uint8_t stream[1024], dg[1300], frames[300];
	size_t n, half, fl;

	if (servername_new(2, &s) < 0)
		return;
	n = records(stream, HELLO, HELLO_LEN, 100);
	half = 40;
	/* the second half first (not placed: its start was not seen), then
	 * the first, a repeat of the first, the second */
	p = pkt_of(IPPROTO_TCP, 1000, false, 5000 + half, stream + half, n - half);
	servername_packet(s, &p, 0, on_name, &f);
	is_int(servername_flows(s), 0, "a segment of a stream whose start was not seen: ignored");
	p = pkt_of(IPPROTO_TCP, 1000, true, 5000, stream, half);
	servername_packet(s, &p, 1, on_name, &f);
	is_int(f.n, 0, "the first half: no name yet");
	p = pkt_of(IPPROTO_TCP, 1000, false, 5000, stream, half);
	servername_packet(s, &p, 2, on_name, &f);
	p = pkt_of(IPPROTO_TCP, 1000, false, 5000 + half, stream + half, n - half);
	servername_packet(s, &p, 3, on_name, &f);
	is_int(f.n, 1, "the second half: the name");
	is_str(f.name, "example.com", "  example.com");
	is_int(f.src, DOMAIN_SOURCE_SNI, "  from sni");
	is_int(f.raddr0, 203, "  for the server's address");
	servername_packet(s, &p, 4, on_name, &f);
	is_int(f.n, 1, "once per flow");
	p = pkt_of(IPPROTO_TCP, 1000, true, 9000, stream, n);
	servername_packet(s, &p, 5, on_name, &f);
	is_int(f.n, 2, "a new connection on the same ports: read again");

	p = pkt_of(IPPROTO_TCP, 1001, true, 0xffffff00u, (const uint8_t *)"SSH-2.0-x\r\n", 11);
	servername_packet(s, &p, 5, on_name, &f);
	servername_get_stats(s, &st);
	is_int(st.malformed + st.no_name + st.incomplete, 0, "SSH: not TLS, no failure counted");

	memset(&f, 0, sizeof(f));
	p = pkt_of(IPPROTO_UDP, 2000, false, 0, rfc9001_client_initial,
		   sizeof(rfc9001_client_initial));
	servername_packet(s, &p, 6, on_name, &f);
	is_int(f.n, 1, "RFC 9001 A.2's Initial: a name");
	is_str(f.name, "example.com", "  example.com");
	is_int(f.src, DOMAIN_SOURCE_QUIC, "  from quic");

	/* A.2's CRYPTO frame in two, second half first, each its own Initial */
	memset(&f, 0, sizeof(f));
	n = sizeof(rfc9001_client_crypto) - 4;
	fl = 0;
	frames[fl++] = 0x06;
	frames[fl++] = 0x40, frames[fl++] = 100;	/* offset 100 */
	frames[fl++] = 0x40, frames[fl++] = (uint8_t)(n - 100);
	memcpy(frames + fl, HELLO + 100, n - 100);
	fl += n - 100;
	ok(seal_initial(dg, 2, rfc9001_client_crypto, sizeof(rfc9001_client_crypto)) == 1200 &&
		   !memcmp(dg, rfc9001_client_initial, 1200),
	   "the test's sealing gives A.2's packet");
	seal_initial(dg, 3, frames, fl);
	p = pkt_of(IPPROTO_UDP, 2001, false, 0, dg, 1200);
	servername_packet(s, &p, 7, on_name, &f);
	is_int(f.n, 0, "the hello's second half: no name yet");
	fl = 0;
	frames[fl++] = 0x01;	/* PING */
	frames[fl++] = 0x06, frames[fl++] = 0, frames[fl++] = 0x40, frames[fl++] = 100;
	memcpy(frames + fl, HELLO, 100);
	fl += 100;
	seal_initial(dg, 4, frames, fl);
	p = pkt_of(IPPROTO_UDP, 2001, false, 0, dg, 1200);
	servername_packet(s, &p, 8, on_name, &f);
	is_int(f.n, 1, "then its first half: the name");
	is_str(f.name, "example.com", "  example.com");

	memcpy(dg, rfc9001_client_initial, 1200);
	dg[700] ^= 0x80;
	p = pkt_of(IPPROTO_UDP, 2002, false, 0, dg, 1200);
	servername_packet(s, &p, 9, on_name, &f);
	servername_get_stats(s, &st);
	is_int(st.unopened, 1, "a forged Initial: counted as unopened");
	is_int(st.sni, 2, "two names from sni");
	is_int(st.quic, 2, "two from quic");
	ok(servername_flows(s) <= 2, "at most 2 flows kept");

	p = pkt_of(IPPROTO_TCP, 3000, true, 1, stream, 30);
	servername_packet(s, &p, 10, on_name, &f);
	p = pkt_of(IPPROTO_TCP, 3001, true, 1, stream, 30);
	servername_packet(s, &p, 11, on_name, &f);
	p = pkt_of(IPPROTO_TCP, 3002, true, 1, stream, 30);
	servername_packet(s, &p, 12, on_name, &f);
	servername_get_stats(s, &st);
	is_int(st.evicted, 1, "a third unfinished flow pushes one out: counted");
	p = pkt_of(IPPROTO_TCP, 3003, true, 1, stream, 30);
	servername_packet(s, &p, 12 + SERVERNAME_IDLE_MS + 1, on_name, &f);
	servername_get_stats(s, &st);
	is_int(servername_flows(s), 1, "idle flows go");
	is_int(st.incomplete, 3, "  unfinished: counted as incomplete");
	servername_free(s);
}

int main(void)
{
	test_tls();
	test_quic();
	test_flows();
	return tap_done();
}
