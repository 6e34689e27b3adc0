/* String helpers shared by the identity, storage and config code. */
#include "util/strutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1, cap;
	char *p;

	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	p = realloc(sb->buf, cap);
	if (!p)
		return -ENOMEM;
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

int strbuf_add(struct strbuf *sb, const char *s, size_t n)
{
	int r = strbuf_grow(sb, n);

	if (r < 0)
		return r;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return 0;
}

int strbuf_adds(struct strbuf *sb, const char *s)
{
	return strbuf_add(sb, s, strlen(s));
}

int strbuf_addc(struct strbuf *sb, char c)
{
	return strbuf_add(sb, &c, 1);
}

int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = strbuf_grow(sb, n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, n + 1, fmt, ap);
	va_end(ap);
	sb->len += n;
	return 0;
}

char *strbuf_detach(struct strbuf *sb)
{
	char *p = sb->buf;

	if (!p)
		p = strdup("");
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Append the bytes as safe text: see text_from_bytes(); keep_backslash
 * for text_for_terminal(). */
static int add_text_as(struct strbuf *sb, const char *b, size_t n, bool keep_backslash)
{
	size_t i = 0;
	int r = 0;

	while (i < n && r == 0) {
		const unsigned char *s = (const unsigned char *)b + i;
		size_t len = utf8_seq_len(s, n - i);

		if (len == 0) {
			r = strbuf_addf(sb, "\\x%02x", s[0]);
			i++;
		} else if (len == 1 && s[0] == '\\' && !keep_backslash) {
			r = strbuf_add(sb, "\\\\", 2);
			i++;
		} else if (len == 1 && (s[0] < 0x20 || s[0] == 0x7f)) {
			r = strbuf_addf(sb, "\\x%02x", s[0]);
			i++;
		} else if (len == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
			/* C1 controls, U+0080 to U+009F: terminals act on them */
			r = strbuf_addf(sb, "\\u%04x", s[1]);
			i += 2;
		} else {
			r = strbuf_add(sb, (const char *)s, len);
			i += len;
		}
	}
	return r;
}

static int add_text(struct strbuf *sb, const char *b, size_t n)
{
	return add_text_as(sb, b, n, false);
}

char *text_for_terminal(const void *bytes, size_t len)
{
	struct strbuf sb = STRBUF_INIT;

	if (add_text_as(&sb, bytes, len, true) < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

char *text_from_bytes(const void *bytes, size_t len)
{
	struct strbuf sb = STRBUF_INIT;

	if (add_text(&sb, bytes, len) < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

static bool shell_safe(const char *w, size_t n)
{
	static const char safe[] = "@%+=:,./-_";

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = w[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(safe, c)))
			return false;
	}
	return true;
}

static int add_word(struct strbuf *sb, const char *w, size_t n)
{
	int r;

	if (sb->len && (r = strbuf_addc(sb, ' ')) < 0)
		return r;
	if (shell_safe(w, n))
		return strbuf_add(sb, w, n);
	/* single quotes, with each ' written as '"'"' */
	if ((r = strbuf_addc(sb, '\'')) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (w[i] == '\'')
			r = strbuf_adds(sb, "'\"'\"'");
		else
			r = strbuf_addc(sb, w[i]);
		if (r < 0)
			return r;
	}
	return strbuf_addc(sb, '\'');
}

char *argv_to_shell(const char *args, size_t len)
{
	struct strbuf sb = STRBUF_INIT, word = STRBUF_INIT;
	size_t i = 0;

	while (len && args[len - 1] == '\0')
		len--;
	if (len == 0)
		return strdup("");
	while (i <= len) {
		size_t end = i;

		while (end < len && args[end] != '\0')
			end++;
		word.len = 0;
		if (add_text(&word, args + i, end - i) < 0 ||
		    add_word(&sb, word.buf ? word.buf : "", word.len) < 0)
			goto oom;
		i = end + 1;
	}
	strbuf_release(&word);
	return strbuf_detach(&sb);
oom:
	strbuf_release(&word);
	strbuf_release(&sb);
	return NULL;
}

char *csv_clean(const char *s)
{
	size_t n = strlen(s), j = 0;
	char *out = malloc(n + 2);

	if (!out)
		return NULL;
	/* a spreadsheet takes a cell starting with one of these as a formula */
	if (n && strchr("=+-@\t\r\"", s[0]))
		out[j++] = '\'';
	for (size_t i = 0; i < n; i++)
		if (s[i] != ',' && s[i] != '\n' && s[i] != '\r' && s[i] != '"')
			out[j++] = s[i];
	out[j] = '\0';
	return out;
}

const char *addr_to_str(int family, const uint8_t *addr, char *buf, size_t size)
{
	if (family == AF_INET || family == AF_INET6) {
		if (!inet_ntop(family, addr, buf, size))
			snprintf(buf, size, "?");
	} else if (family == AF_PACKET) {
		snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", addr[0], addr[1], addr[2],
			 addr[3], addr[4], addr[5]);
	} else if (size) {
		buf[0] = '\0';
	}
	return buf;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}
