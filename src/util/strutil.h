/* Small string helpers: a growable buffer, shell quoting of argument
 * vectors, and the value cleaning that conn.log needs. */
#ifndef PS_UTIL_STRUTIL_H
#define PS_UTIL_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

int strbuf_add(struct strbuf *sb, const char *s, size_t n);
int strbuf_adds(struct strbuf *sb, const char *s);
int strbuf_addc(struct strbuf *sb, char c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand over the string (never NULL on success) and reset the buffer. */
char *strbuf_detach(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);

/* Bytes a process or the network chose (a path, a name, an argument) as
 * text that is safe anywhere picosnitch writes it: valid UTF-8 is kept,
 * except that a backslash is doubled, control characters (C0, DEL) and
 * bytes that are not UTF-8 become \xNN, and C1 controls \u00NN.
 * The result is one printable line, and tells every input apart.  NULL on
 * OOM. */
char *text_from_bytes(const void *bytes, size_t len);

/* The same, but backslashes kept as they are: for printing text that is
 * already safe text (from the logger) where only terminal safety matters
 * and a second escaping would double every backslash. */
char *text_for_terminal(const void *bytes, size_t len);

/* Join NUL-separated arguments (as in /proc/<pid>/cmdline) into one line
 * that a POSIX shell would split back into the same words, each argument
 * made safe text first (text_from_bytes).  Trailing NULs are dropped.
 * Returns a new string or NULL on OOM. */
char *argv_to_shell(const char *args, size_t len);

/* Copy of s for a conn.log field: without commas, newlines (CR, LF),
 * double quotes and NULs, and with a ' before a first character that a
 * spreadsheet would take as the start of a formula (= + - @ tab CR "). */
char *csv_clean(const char *s);

/* Text of an address: family AF_INET/AF_INET6 take 4/16 bytes, AF_PACKET
 * takes a 6-byte MAC.  buf must hold 46 bytes. */
const char *addr_to_str(int family, const uint8_t *addr, char *buf, size_t size);

bool str_has_prefix(const char *s, const char *prefix);

/* Parse a decimal integer filling the whole string. */
int parse_u64(const char *s, uint64_t *ret);

#endif
