/* Interned, reference-counted strings: each distinct text is stored once,
 * so the many rows and identities that name the same executable, command
 * line or domain share it, and rows can be compared by pointer. */
#ifndef PS_LOGGER_STRPOOL_H
#define PS_LOGGER_STRPOOL_H

#include <stddef.h>

struct strpool;

int strpool_new(struct strpool **ret);
void strpool_free(struct strpool *p);

/* The pooled copy of s, with a new reference; NULL on OOM. */
const char *strpool_get(struct strpool *p, const char *s);
/* Another reference to a pooled string (or NULL). */
const char *strpool_ref(struct strpool *p, const char *s);
void strpool_put(struct strpool *p, const char *s);

size_t strpool_count(const struct strpool *p);
size_t strpool_bytes(const struct strpool *p);

#endif
