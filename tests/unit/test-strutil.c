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
	quote(ARGS("caf\xc3\xa9\0\xff\xfe" "ok\0"), "'caf\xc3\xa9' '\\xff\\xfeok'",
	      "UTF-8 is kept and invalid bytes written as \\xNN");
	quote(ARGS("a\nb\0\x1b[31m\0"), "'a\\x0ab' '\\x1b[31m'",
	      "newlines and escape sequences never reach a log line");
	quote(ARGS(""), "", "no arguments give an empty line");
	quote(ARGS("$HOME;rm\0"), "'$HOME;rm'", "shell metacharacters are quoted");

	c = csv_clean("a,b\nc\rd");
	is_str(c, "abcd", "commas and newlines are removed from conn.log values");
	free(c);
	c = csv_clean("=HYPERLINK(\"http://x\")");
	is_str(c, "'=HYPERLINK(http://x)", "a formula is defused and quotes removed");
	free(c);
	for (const char *f = "+-@\t"; *f; f++) {
		char in[8] = { *f, '1', 0 }, want[8] = { '\'', *f, '1', 0 };

		c = csv_clean(in);
		is_str(c, want, "a cell starting like a formula gets a '");
		free(c);
	}
	c = csv_clean("/usr/bin/curl");
	is_str(c, "/usr/bin/curl", "an ordinary path is unchanged");
	free(c);

	{
		static const struct {
			const char *in;
			size_t len;
			const char *want, *what;
		} t[] = {
			{ "plain /usr/bin/x", 16, "plain /usr/bin/x", "plain text is unchanged" },
			{ "caf\xc3\xa9 \xe2\x9c\x93", 9, "caf\xc3\xa9 \xe2\x9c\x93", "UTF-8 is unchanged" },
			{ "\xff\xfe", 2, "\\xff\\xfe", "invalid bytes become \\xNN" },
			{ "a\\xffb", 6, "a\\\\xffb", "a backslash is doubled, so \\xff text is not the byte" },
			{ "a\nb\rc\td", 7, "a\\x0ab\\x0dc\\x09d", "C0 controls become \\xNN" },
			{ "\x1b]0;pwned\x07", 10, "\\x1b]0;pwned\\x07", "an escape sequence is defused" },
			{ "\x7f", 1, "\\x7f", "DEL becomes \\x7f" },
			{ "\xc2\x9b" "31m", 5, "\\u009b31m", "a C1 control (CSI) becomes \\u009b" },
			{ "a\0b", 3, "a\\x00b", "a NUL byte becomes \\x00" },
			{ "\xc0\xaf", 2, "\\xc0\\xaf", "an overlong form is not UTF-8" },
			{ "\xed\xa0\x80", 3, "\\xed\\xa0\\x80", "a surrogate is not UTF-8" },
			{ "\xe2\x9c", 2, "\\xe2\\x9c", "a cut sequence is not UTF-8" },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			c = text_from_bytes(t[i].in, t[i].len);
			is_str(c, t[i].want, t[i].what);
			free(c);
		}
	}

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
