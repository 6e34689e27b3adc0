/* Network owners (autonomous systems) of addresses, from asn.bin (see
 * asn_format.h): the file is mapped read-only, checked in full when opened
 * (sizes, order, every index and name), and searched by bisection. */
#ifndef PS_GEO_ASN_H
#define PS_GEO_ASN_H

#include <stddef.h>
#include <stdint.h>

#include "geo/addr.h"

struct asn_db;

struct asn_result {
	uint32_t asn;
	const char *name;	/* not NUL-terminated: name_len bytes, in the mapping */
	size_t name_len;
};

/* Map and check a file: 0, or -EBADMSG (with the problem in err) for a
 * file that is not one, or another negative errno from opening it. */
int asn_db_open(const char *path, struct asn_db **ret, char *err, size_t errlen);
/* The same on bytes in memory (not copied: they must outlive the handle). */
int asn_db_open_mem(const void *data, size_t len, struct asn_db **ret, char *err, size_t errlen);
void asn_db_close(struct asn_db *db);
/* Give back the pages of a mapped file that lookups have read (they are
 * read again from the page cache when needed): after a query of many
 * addresses, the file's 12 MB would otherwise stay in the process. */
void asn_db_release(struct asn_db *db);
/* What the file says it was made from ("" if nothing). */
const char *asn_db_source(const struct asn_db *db);
size_t asn_db_ranges(const struct asn_db *db);

/* 1 and the owner, or 0 when no range holds the address. */
int asn_db_lookup(const struct asn_db *db, const struct geo_addr *a, struct asn_result *ret);

#endif
