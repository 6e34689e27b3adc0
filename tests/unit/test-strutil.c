/* Tests of src/util/strutil.c: shell quoting of command lines, conn.log
 * value cleaning, address text. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "tap.h"
#include "util/strutil.h"

/* the literal with its embedded NULs, without the one C adds */
#define ARGS(lit) lit, sizeof(lit) - 1

static void quote(const char *args, size_t len, const char *want, const char *what)
{
	char *got = argv_to_shell(args, len);

	is_str(got, want, what);
	free(got);
}

int main(void)
{
	char buf[64];
	uint8_t a4[4] = { 198, 51, 100, 7 }, a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0xab, 0xff };
	char *c;

	quote(ARGS("curl\0-s\0https://example.com/\0"), "curl -s https://example.com/",
	      "plain words stay as they are");
	quote(ARGS("sh\0-c\0echo 'hi' there\0"), "sh -c 'echo '\"'\"'hi'\"'\"' there'",
	      "spaces and quotes are single-quoted");
	quote(ARGS("a\0\0b\0"), "a '' b", "an empty argument is ''");
	quote(ARGS("x\0\0\0"), "x", "trailing NULs are dropped");
	quote(ARGS("caf\xc3\xa9\0\xff\xfe" "ok\0"), "'caf\xc3\xa9' ok",
	      "UTF-8 is kept and invalid bytes dropped");
	quote(ARGS(""), "", "no arguments give an empty line");
	quote(ARGS("$HOME;rm\0"), "'$HOME;rm'", "shell metacharacters are quoted");

	c = csv_clean("a,b\nc\rd");
	is_str(c, "abcd", "commas and newlines are removed from conn.log values");
	free(c);

	is_str(addr_to_str(AF_INET, a4, buf, sizeof(buf)), "198.51.100.7", "IPv4 address text");
	is_str(addr_to_str(AF_INET6, a6, buf, sizeof(buf)), "2001:db8::1", "IPv6 address text");
	is_str(addr_to_str(AF_PACKET, mac, buf, sizeof(buf)), "02:00:00:00:ab:ff", "MAC address text");
	is_str(addr_to_str(0, a4, buf, sizeof(buf)), "", "no family gives an empty address");

	uint64_t v = 0;
	is_int(parse_u64("1234", &v), 0, "a decimal parses");
	is_int(v, 1234, "to its value");
	ok(parse_u64("12x", &v) < 0, "trailing garbage is refused");
	ok(parse_u64("-1", &v) < 0, "a sign is refused");
	ok(parse_u64("", &v) < 0, "an empty string is refused");
	ok(parse_u64("99999999999999999999999", &v) < 0, "overflow is refused");
	return tap_done();
}
