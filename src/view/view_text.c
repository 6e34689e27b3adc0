/* Text for the terminal interface (see view_text.h). */
#include "view/view_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wctype.h>

/* The code point of the valid UTF-8 sequence at s (its length in *used),
 * or -1 (invalid, overlong, surrogate, beyond U+10FFFF, truncated). */
static int32_t utf8_decode(const unsigned char *s, size_t len, size_t *used)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80) {
		*used = 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return -1;
	}
	if (len < n)
		return -1;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*used = n;
	return (int32_t)cp;
}

static size_t put_escape(struct cell *out, size_t k, unsigned char b)
{
	static const char hex[] = "0123456789abcdef";

	out[k++] = (struct cell){ L'\\', 1 };
	out[k++] = (struct cell){ L'x', 1 };
	out[k++] = (struct cell){ (wchar_t)hex[b >> 4], 1 };
	out[k++] = (struct cell){ (wchar_t)hex[b & 15], 1 };
	return k;
}

size_t view_cells(const char *s, size_t len, bool utf8, struct cell **cells)
{
	const unsigned char *u = (const unsigned char *)s;
	struct cell *out = malloc((4 * len + 1) * sizeof(*out));
	size_t k = 0, i = 0, used;

	*cells = out;
	if (!out)
		return (size_t)-1;
	while (i < len) {
		int32_t cp = -1;
		int w = -1;

		if (u[i] == '\\') {
			out[k++] = (struct cell){ L'\\', 1 };
			out[k++] = (struct cell){ L'\\', 1 };
			i++;
			continue;
		}
		if (u[i] >= 0x20 && u[i] < 0x7f) {
			out[k++] = (struct cell){ (wchar_t)u[i], 1 };
			i++;
			continue;
		}
		if (utf8 && u[i] >= 0x80)
			cp = utf8_decode(u + i, len - i, &used);
		if (cp >= 0xa0) {
			w = wcwidth((wchar_t)cp);
			if (!iswprint((wint_t)cp))
				w = -1;
		}
		if (w == 1 || w == 2) {
			out[k++] = (struct cell){ (wchar_t)cp, (unsigned char)w };
			i += used;
			continue;
		}
		/* not shown as itself: each of its bytes as \xNN */
		if (cp < 0)
			used = 1;
		for (size_t j = 0; j < used; j++)
			k = put_escape(out, k, u[i + j]);
		i += used;
	}
	return k;
}

size_t view_cells_width(const struct cell *c, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		w += c[i].width;
	return w;
}

static size_t pad(struct cell *out, size_t k, size_t n)
{
	while (n--)
		out[k++] = (struct cell){ L' ', 1 };
	return k;
}

size_t view_fit(const struct cell *c, size_t n, size_t width, bool utf8, bool right,
		struct cell *out)
{
	size_t total = view_cells_width(c, n), k = 0, head, tail, used, first_tail;

	if (total <= width) {
		if (right)
			k = pad(out, k, width - total);
		if (n)
			memcpy(out + k, c, n * sizeof(*c));
		k += n;
		if (!right)
			k = pad(out, k, width - total);
		out[k] = (struct cell){ 0, 0 };
		return k;
	}
	if (width == 0) {
		out[0] = (struct cell){ 0, 0 };
		return 0;
	}
	/* the start gets the larger half of what the ellipsis leaves */
	tail = (width - 1) / 2;
	head = width - 1 - tail;
	used = 0;
	for (size_t i = 0; i < n && used + c[i].width <= head; i++) {
		out[k++] = c[i];
		used += c[i].width;
	}
	k = pad(out, k, head - used);
	out[k++] = (struct cell){ utf8 ? L'\u2026' : L'~', 1 };
	used = 0;
	first_tail = n;
	while (first_tail > 0 && used + c[first_tail - 1].width <= tail)
		used += c[--first_tail].width;
	k = pad(out, k, tail - used);
	memcpy(out + k, c + first_tail, (n - first_tail) * sizeof(*c));
	k += n - first_tail;
	out[k] = (struct cell){ 0, 0 };
	return k;
}

void view_format_bytes(int64_t n, enum view_unit unit, char *buf, size_t size)
{
	static const char *const names[] = { "B", "kB", "MB", "GB" };
	static const int64_t div[] = { 1, 1000, 1000000, 1000000000 };
	int64_t d, whole, tenths;
	bool neg = n < 0;
	uint64_t m;

	if (unit >= VIEW_UNIT__COUNT)
		unit = VIEW_UNIT_KB;
	if (unit == VIEW_UNIT_B) {
		snprintf(buf, size, "%" PRId64 " B", n);
		return;
	}
	/* tenths of the unit, rounded half away from zero, in integers so that
	 * large sums do not lose digits */
	d = div[unit] / 10;
	m = neg ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
	m = m / (uint64_t)d + (m % (uint64_t)d >= (uint64_t)d / 2 + (uint64_t)d % 2 ? 1 : 0);
	whole = (int64_t)(m / 10);
	tenths = (int64_t)(m % 10);
	snprintf(buf, size, "%s%" PRId64 ".%" PRId64 " %s", neg ? "-" : "", whole, tenths,
		 names[unit]);
}

void view_format_user(int64_t uid, const char *name, char *buf, size_t size)
{
	if (uid < 0)
		snprintf(buf, size, "unknown");
	else if (name)
		snprintf(buf, size, "%s (%" PRId64 ")", name, uid);
	else
		snprintf(buf, size, "??? (%" PRId64 ")", uid);
}

void view_format_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((int64_t)tt != t || !localtime_r(&tt, &tm) ||
	    !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "?");
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

bool view_contains(const char *hay, size_t len, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return true;
	for (size_t i = 0; i + nlen <= len; i++) {
		size_t j = 0;

		while (j < nlen && lower((unsigned char)hay[i + j]) == lower((unsigned char)needle[j]))
			j++;
		if (j == nlen)
			return true;
	}
	return false;
}
