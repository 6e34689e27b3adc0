/* `picosnitch import`: the entries of a Python picosnitch's snitch.db
 * (1.x: schema 3, one `connections` table with local-time text; 2.x:
 * schema 4, normalised, unix time) added to ours.  The file is hostile
 * input: every value is checked for its type and bounds, and a row that
 * fails is skipped and counted by reason, never half-imported. */
#ifndef PS_STORAGE_IMPORT_H
#define PS_STORAGE_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

/* Bounds of what one imported row may hold; what exceeds them is skipped. */
#define IMPORT_PATH_MAX 4096		/* executable paths (PATH_MAX) */
#define IMPORT_NAME_MAX 256		/* process names */
#define IMPORT_CMDLINE_MAX 16384	/* shell-quoted command lines */
#define IMPORT_HASH_MAX 128		/* a SHA-256 or a "!..." sentinel */
#define IMPORT_ADDR_MAX 64		/* an address in text */
#define IMPORT_DOMAIN_MAX 255		/* a DNS name */
#define IMPORT_BYTES_MAX (1ull << 50)	/* bytes of one entry (1 PiB) */
#define IMPORT_TIME_MAX (1ll << 40)	/* unix seconds (the year 36812) */
#define IMPORT_VALUE_MAX (1 << 20)	/* any value SQLite reads from the file */
#define IMPORT_REASONS_MAX 32		/* distinct reasons kept; the rest are "other" */

struct import_reason {
	char text[96];		/* "send: not an integer" */
	uint64_t rows;
};

struct import_report {
	int schema;			/* 3 or 4 */
	uint64_t rows;			/* rows in the file's connections table */
	uint64_t added;			/* entries added to ours */
	uint64_t present;		/* rows that were already there (an earlier import) */
	uint64_t skipped;		/* rows not imported, by reason below */
	uint64_t sent, received;	/* bytes of the rows imported or present */
	int64_t first, last;		/* their time span, unix seconds (first > last: none) */
	struct import_reason reasons[IMPORT_REASONS_MAX];
	size_t n_reasons;
	uint64_t other_reasons;		/* rows skipped for reasons past the table */
};

/* Import the file at src into dst (an open snitch.db).  Returns 0 with the
 * report filled, or -errno with a message in err naming the problem (not
 * a database, a schema that is not 3 or 4, a table missing...).  Entries
 * are added in transactions of a few thousand rows: an error part-way
 * leaves what was added, and importing again completes it. */
int import_snitch_db(const char *src, struct store *dst, struct import_report *rep, char *err,
		     size_t errlen);

#endif
