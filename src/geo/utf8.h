/* A strict check of text read from data files before the interfaces show
 * it: valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) and no control characters (C0, DEL, C1). */
#ifndef PS_GEO_UTF8_H
#define PS_GEO_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_is_clean(const char *s, size_t len);
/* The longest prefix of at most max bytes that ends on a character
 * boundary of valid UTF-8 (for cutting names). */
size_t utf8_cut(const char *s, size_t len, size_t max);

#endif
