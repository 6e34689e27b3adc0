/* Entries a destination could not take yet (disk full, read-only, locked,
 * a server away): copied out of the window and kept in memory until the
 * destination takes them.  Entries of the same identity within the same
 * minute are summed into one, so a long outage costs one entry per
 * identity and minute, not one per window.  The store is bounded in
 * entries and bytes; past either bound the oldest entries are dropped and
 * counted (entries, bytes sent and received).  Any destination may keep
 * one: nothing here knows which. */
#ifndef PS_STORAGE_PENDING_H
#define PS_STORAGE_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

/* entries of one identity closer in time than this are summed */
#define PENDING_MERGE_SECONDS 60

struct pending;

struct pending_stats {
	size_t entries;		/* waiting now */
	size_t bytes;		/* memory they take */
	uint64_t sent, received;	/* traffic they carry */
	int64_t first, last;	/* oldest and newest entry time; 0 when empty */
	/* dropped past the bound since pending_new */
	uint64_t dropped_entries, dropped_sent, dropped_received;
};

int pending_new(size_t max_entries, size_t max_bytes, struct pending **ret);
void pending_free(struct pending *p);

/* Copy rows in (oldest first); past the bound the oldest go. */
int pending_add(struct pending *p, const struct conn_row *rows, size_t n);
/* The entries, oldest first: valid until the next pending_add or
 * pending_clear. */
int pending_rows(struct pending *p, const struct conn_row **rows, size_t *n);
void pending_clear(struct pending *p);
size_t pending_count(const struct pending *p);
void pending_stats(const struct pending *p, struct pending_stats *ret);

#endif
