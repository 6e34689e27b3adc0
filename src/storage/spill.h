/* The spill file: entries that no destination took before a stop (the
 * disk full, the file system read-only, a server away), kept in a small
 * file in the state directory and given back at the next start.  One JSON
 * object per line: a header line, then one line per entry naming its
 * destination (the store's name).  The file is the user's own: what reads
 * it checks every field, skips (and counts) lines that do not fit, and is
 * bounded in size. */
#ifndef PS_STORAGE_SPILL_H
#define PS_STORAGE_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

#define SPILL_FILE "pending.spill"
#define SPILL_MAX ((size_t)512 << 20)	/* bytes read at most */
#define SPILL_LINE_MAX (256 << 10)

struct spill_part {
	const char *dest;	/* the store's name */
	const struct conn_row *rows;
	size_t n;
};

/* The whole file's text (the caller frees it). */
char *spill_format(const struct spill_part *parts, size_t nparts, int64_t written, size_t *len);

/* Each entry found, with its destination; fn returning < 0 stops.  Returns
 * the number of lines skipped (not an entry this version writes), or
 * -errno. */
typedef int (*spill_entry_fn)(void *ctx, const char *dest, const struct conn_row *row);
int spill_parse(const char *text, size_t len, spill_entry_fn fn, void *ctx);

#endif
