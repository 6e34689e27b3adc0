/* Tests of src/geo: address parsing and the local ranges, the network-owner
 * file (lookups at the edges of ranges, and every way a file can be wrong),
 * the UTF-8 check, and the cache of src/geo/geo.c. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geo/addr.h"
#include "geo/asn.h"
#include "geo/asn_format.h"
#include "geo/geo.h"
#include "geo/utf8.h"
#include "tap.h"

static char err[256];

static void local(const char *s, int want)
{
	struct geo_addr a;
	char what[128];

	snprintf(what, sizeof(what), "%s is %s", s, want ? "local" : "public");
	ok(geo_addr_parse(s, strlen(s), &a) == 0 && geo_addr_is_local(&a) == want, what);
}

static void test_addr(void)
{
	static const char *const locals[] = {
		"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "169.254.9.9",
		"100.64.0.1", "100.127.255.254", "0.0.0.0", "192.0.2.1", "198.51.100.7", "203.0.113.9",
		"198.18.0.1", "224.0.0.251", "239.255.255.250", "255.255.255.255", "240.0.0.1",
		"::1", "::", "fe80::1", "fe80::1%eth0", "fd00::1", "fc12::1", "ff02::fb", "2001:db8::1",
		"3fff::1", "::ffff:192.168.0.1", "[::1]", "100::1", "fec0::1", "febf::1",
	};
	static const char *const publics[] = {
		"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255",
		"192.0.3.1", "198.51.101.1", "11.0.0.1", "223.255.255.255", "2001:4860:4860::8888",
		"2a00:1450::1", "::ffff:8.8.8.8", "[2606:4700::1111]", "2001:db9::1", "fe7f::1", "fe00::1",
	};
	static const char *const bad[] = {
		"", "foo", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "1.2.3.4%eth0", "fe80::1%", "fe80::1%a b",
		"[1.2.3.4", "11:22:33:44:55:66", "1.2.3.4 ", "%eth0",
	};
	struct geo_addr a;
	char what[128];

	for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++)
		local(locals[i], 1);
	for (size_t i = 0; i < sizeof(publics) / sizeof(publics[0]); i++)
		local(publics[i], 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(what, sizeof(what), "'%s' is not an address", bad[i]);
		ok(geo_addr_parse(bad[i], strlen(bad[i]), &a) < 0, what);
	}
	ok(geo_addr_parse("8.8.8.8\0garbage", 15, &a) == 0 && a.v4 && a.b[3] == 8, "a NUL ends the text");
	ok(geo_addr_parse("::ffff:1.2.3.4", 14, &a) == 0 && a.v4 && a.b[0] == 1 && a.b[3] == 4,
	   "a mapped IPv4 address is IPv4");
	ok(geo_addr_parse(NULL, 0, &a) < 0, "NULL is not an address");
}

static void test_utf8(void)
{
	ok(utf8_is_clean("Google LLC", 10), "ASCII is clean");
	ok(utf8_is_clean("Telef\xc3\xb3nica", 10), "two-byte characters are clean");
	ok(!utf8_is_clean("a\nb", 3), "a newline is not");
	ok(!utf8_is_clean("a\x1b[31m", 6), "nor an escape");
	ok(!utf8_is_clean("\xc2\x9b", 2), "nor a C1 control (CSI)");
	ok(!utf8_is_clean("\xc0\xaf", 2), "nor an overlong form");
	ok(!utf8_is_clean("\xed\xa0\x80", 3), "nor a surrogate");
	ok(!utf8_is_clean("\xf4\x90\x80\x80", 4), "nor past U+10FFFF");
	ok(!utf8_is_clean("\xe2\x82", 2), "nor a cut character");
	ok(!utf8_is_clean("a\0b", 3), "nor NUL");
	is_int(utf8_cut("ab\xc3\xb3", 4, 3), 2, "cutting keeps whole characters");
}

/* ---- asn.bin files made here ---- */

struct file {
	unsigned char *d;
	size_t len, cap;
};

static void put(struct file *f, const void *p, size_t n)
{
	if (f->len + n > f->cap) {
		f->cap = (f->len + n) * 2;
		f->d = realloc(f->d, f->cap);
	}
	memcpy(f->d + f->len, p, n);
	f->len += n;
}

static void put32(struct file *f, uint32_t v)
{
	v = htole32(v);
	put(f, &v, 4);
}

/* v4: 1.0.0.0-1.0.0.255 -> 0, 8.8.8.0-8.8.8.255 -> 1, 9.0.0.0-9.255.255.255 -> 2
 * v6: 2001:4860::/32 -> 1, 2606:4700::/32 -> 0; owners:
 * 0 AS13335 "Cloudflare, Inc.", 1 AS15169 "Google LLC", 2 AS3356 "" */
static struct file good_file(void)
{
	struct file f = { 0 };
	struct asn_header h = { .magic = ASN_MAGIC, .source = "test 1" };
	uint8_t s6[16] = { 0x20, 0x01, 0x48, 0x60 }, e6[16] = { 0x20, 0x01, 0x48, 0x60 };
	const char *names = "Cloudflare, Inc.Google LLC";

	h.n_v4 = htole32(3);
	h.n_v6 = htole32(2);
	h.n_owners = htole32(3);
	h.names_len = htole32((uint32_t)strlen(names));
	put(&f, &h, sizeof(h));
	put32(&f, 0x01000000), put32(&f, 0x010000ff), put32(&f, 0);
	put32(&f, 0x08080800), put32(&f, 0x080808ff), put32(&f, 1);
	put32(&f, 0x09000000), put32(&f, 0x09ffffff), put32(&f, 2);
	memset(e6 + 4, 0xff, 12);
	put(&f, s6, 16), put(&f, e6, 16), put32(&f, 1);
	s6[2] = e6[2] = 0x47;
	s6[1] = e6[1] = 0x06;
	s6[0] = e6[0] = 0x26;
	s6[3] = e6[3] = 0x00;
	put(&f, s6, 16), put(&f, e6, 16), put32(&f, 0);
	put32(&f, 13335), put32(&f, 0), put32(&f, 16);
	put32(&f, 15169), put32(&f, 16), put32(&f, 10);
	put32(&f, 3356), put32(&f, 26), put32(&f, 0);
	put(&f, names, strlen(names));
	return f;
}

static const char *owner(const struct asn_db *db, const char *addr)
{
	static char buf[300];
	struct geo_addr a;
	struct asn_result r;

	if (geo_addr_parse(addr, strlen(addr), &a) < 0)
		return "(bad)";
	if (!asn_db_lookup(db, &a, &r))
		return "(none)";
	snprintf(buf, sizeof(buf), "AS%u %.*s", r.asn, (int)r.name_len, r.name);
	return buf;
}

#define OFF_V4 sizeof(struct asn_header)
#define OFF_V6 (OFF_V4 + 3 * 12)
#define OFF_OWN (OFF_V6 + 2 * 36)
#define OFF_NAMES (OFF_OWN + 3 * 12)

/* The good file with 4 bytes at `off` replaced by v: refused. */
static void refused(uint32_t off, uint32_t v, const char *what)
{
	struct file f = good_file();
	struct asn_db *db = NULL;

	v = htole32(v);
	memcpy(f.d + off, &v, 4);
	err[0] = '\0';
	ok(asn_db_open_mem(f.d, f.len, &db, err, sizeof(err)) == -EBADMSG && !db && *err, what);
	printf("#   %s\n", err);
	free(f.d);
}

static void test_asn(void)
{
	struct file f = good_file();
	struct asn_db *db;
	char path[] = "/tmp/test-geo-asn.XXXXXX";
	int fd;

	if (!ok(asn_db_open_mem(f.d, f.len, &db, err, sizeof(err)) == 0, "a good file opens"))
		printf("#   %s\n", err);
	else {
		is_str(owner(db, "8.8.8.8"), "AS15169 Google LLC", "inside a range");
		is_str(owner(db, "8.8.8.0"), "AS15169 Google LLC", "its first address");
		is_str(owner(db, "8.8.8.255"), "AS15169 Google LLC", "its last address");
		is_str(owner(db, "8.8.9.0"), "(none)", "one past it");
		is_str(owner(db, "8.8.7.255"), "(none)", "one before it");
		is_str(owner(db, "0.0.0.1"), "(none)", "before the first range");
		is_str(owner(db, "255.255.255.255"), "(none)", "after the last");
		is_str(owner(db, "1.0.0.1"), "AS13335 Cloudflare, Inc.", "the first range");
		is_str(owner(db, "9.200.0.1"), "AS3356 ", "the last range (an owner without a name)");
		is_str(owner(db, "2001:4860:4860::8888"), "AS15169 Google LLC", "IPv6");
		is_str(owner(db, "2606:4700::1111"), "AS13335 Cloudflare, Inc.", "the last IPv6 range");
		is_str(owner(db, "2001:4861::"), "(none)", "past an IPv6 range");
		is_str(owner(db, "::ffff:8.8.8.8"), "AS15169 Google LLC", "mapped IPv4");
		is_str(asn_db_source(db), "test 1", "the source it names");
		is_int(asn_db_ranges(db), 5, "5 ranges");
		asn_db_close(db);
	}
	refused(0, 0x41414141, "a wrong magic is refused");
	refused(8, 4, "a count that does not match the size");
	refused(8, 0xffffffff, "a huge count");
	refused(20, 1000, "names longer than the file");
	refused(OFF_V4 + 8, 3, "an owner index out of range");
	refused(OFF_V4 + 4, 0x00ffffff, "a reversed range");
	refused(OFF_V4 + 12, 0x01000000, "a range starting inside the one before");
	refused(OFF_V4 + 24, 0x08080800, "an unordered range");
	refused(OFF_V6 + 36 + 32, 7, "an IPv6 owner out of range");
	refused(OFF_V6 + 36, 0, "an IPv6 range before the one before");
	refused(OFF_OWN + 4, 20, "a name running past the names");
	refused(OFF_OWN + 8, 300, "a name longer than 255 bytes");
	refused(OFF_OWN + 4, 0xfffffff0, "a name offset that would wrap");
	refused(OFF_NAMES, 0x0a0d0a0d, "a name with control characters");
	{
		struct asn_db *d2;

		ok(asn_db_open_mem(f.d, 10, &d2, err, sizeof(err)) == -EBADMSG, "a truncated header");
		ok(asn_db_open_mem(f.d, f.len - 1, &d2, err, sizeof(err)) == -EBADMSG, "a truncated file");
	}
	/* the same through a file */
	fd = mkstemp(path);
	ok(fd >= 0 && write(fd, f.d, f.len) == (ssize_t)f.len, "write a file");
	close(fd);
	if (ok(asn_db_open(path, &db, err, sizeof(err)) == 0, "a file maps")) {
		is_str(owner(db, "8.8.8.8"), "AS15169 Google LLC", "  and answers");
		asn_db_close(db);
	}
	unlink(path);
	ok(asn_db_open(path, &db, err, sizeof(err)) == -ENOENT, "a missing file: -ENOENT");
	ok(asn_db_open("/dev/null", &db, err, sizeof(err)) == -EBADMSG, "not a regular file: refused");
	free(f.d);
}

/* ---- the cache ---- */

static void test_geo(void)
{
	char dir[] = "/tmp/test-geo-data.XXXXXX", path[256];
	struct file f = good_file();
	struct geo_options opt = { .state_dirfd = -1 };
	struct geo *g;
	size_t hits, misses;
	const char *c;
	FILE *fp;

	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, GEO_ASN_FILE);
	fp = fopen(path, "w");
	fwrite(f.d, 1, f.len, fp);
	fclose(fp);
	setenv("PICOSNITCH_DATA_DIR", dir, 1);
	if (!ok(geo_open(&opt, &g) == 0, "open with only an owner file"))
		return;
	ok(geo_has_owners(g) && !geo_has_countries(g), "  it has owners, no countries");
	ok(strstr(geo_problems(g), "no GeoIP database") != NULL, "  and says so");
	is_str(geo_owner(g, "8.8.8.8", 7), "AS15169 Google LLC", "owner of a public address");
	is_str(geo_country(g, "8.8.8.8", 7), GEO_UNKNOWN, "  its country: unknown");
	is_str(geo_owner(g, "192.168.1.1", 11), GEO_LOCAL, "a private address: local");
	is_str(geo_country(g, "192.168.1.1", 11), GEO_LOCAL, "  in both");
	is_str(geo_owner(g, "5.5.5.5", 7), GEO_UNKNOWN, "a public address of no range: unknown");
	is_str(geo_country(g, "", 0), "", "no address: \"\"");
	ok(geo_country(g, "nope", 4) == NULL, "not an address: NULL");
	is_str(geo_country_hook(g, "nope"), GEO_UNKNOWN, "  the query hook says unknown");
	c = geo_owner(g, "8.8.8.8", 7);
	geo_stats(g, &hits, &misses);
	ok(c == geo_owner(g, "8.8.8.8", 7), "the same address gives the cached answer");
	{
		size_t h2, m2;
		char a[32];

		geo_stats(g, &h2, &m2);
		is_int(h2, hits + 1, "  a cache hit");
		is_int(m2, misses, "  no new lookup");
		/* enough addresses for the table to grow several times; each
		 * new one is one lookup, growing or not */
		for (int i = 0; i < 5000; i++) {
			snprintf(a, sizeof(a), "8.8.%d.%d", i / 256, i % 256);
			geo_owner(g, a, strlen(a));
		}
		geo_stats(g, &h2, &m2);
		is_int(m2 - misses, 4999, "  5,000 addresses (one seen before): 4,999 lookups");
		is_str(geo_owner(g, "8.8.8.77", 8), "AS15169 Google LLC", "after growing, answers stay");
		is_str(geo_owner(g, "8.8.9.77", 8), GEO_UNKNOWN, "  both ways");
		ok(geo_owner(g, "8.8.8.78", 8) == c, "  one string for one answer, whatever the address");
	}
	{
		/* the cache's bound (262,144 addresses, geo.c's CACHE_MAX): past
		 * it, addresses are looked up each time; geo_release() then
		 * starts it again, and answers handed out stay valid (ASan
		 * would see a string freed under them) */
		const char *local = geo_country(g, "10.0.0.1", 8);
		size_t h0, m0, h1, m1;
		char a[32];
		int i;

		for (i = 0; i < (1 << 18); i++) {
			snprintf(a, sizeof(a), "9.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
			geo_owner(g, a, strlen(a));
		}
		geo_stats(g, &h0, &m0);
		is_str(geo_owner(g, "9.200.0.1", 9), "AS3356", "a cache full: still answered");
		is_str(geo_owner(g, "9.200.0.1", 9), "AS3356", "  again");
		geo_stats(g, &h1, &m1);
		is_int(m1 - m0, 2, "  looked up each time");
		ok(geo_owner(g, "8.8.8.8", 7) == c, "  an address cached before: a hit, the same string");
		geo_release(g);
		is_str(c, "AS15169 Google LLC", "released: an answer handed out is still there");
		is_str(local, GEO_LOCAL, "  another too");
		geo_stats(g, &h0, &m0);
		is_str(geo_owner(g, "9.200.0.1", 9), "AS3356", "  the cache starts again");
		is_str(geo_owner(g, "9.200.0.1", 9), "AS3356", "  and keeps new addresses");
		geo_stats(g, &h1, &m1);
		is_int(m1 - m0, 1, "  one lookup");
		is_int(h1 - h0, 1, "  one hit");
		ok(geo_owner(g, "8.8.8.8", 7) == c, "  the answers are the same strings");
		is_str(geo_country(g, "10.0.0.1", 8), GEO_LOCAL, "  a local address found again");
	}
	geo_close(g);
	unlink(path);
	rmdir(dir);
	free(f.d);
	unsetenv("PICOSNITCH_DATA_DIR");
}

int main(void)
{
	test_addr();
	test_utf8();
	test_asn();
	test_geo();
	return tap_done();
}
