/* UTF-8 checks for data files (see utf8.h). */
#include "geo/utf8.h"

#include <stdint.h>

/* The length of the character at s (1..4), or 0 if it is not valid or is
 * a control character. */
static size_t char_len(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

bool utf8_is_clean(const char *s, size_t len)
{
	for (size_t i = 0, n; i < len; i += n)
		if (!(n = char_len((const unsigned char *)s + i, len - i)))
			return false;
	return true;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t i = 0, n;

	while (i < len && (n = char_len((const unsigned char *)s + i, len - i)) && i + n <= max)
		i += n;
	return i;
}
