/* The network-owner file (asn.bin): autonomous systems by address range,
 * made at build time from @ip-location-db/asn (geodata/asn-convert.c) and
 * read through a mapping by asn.c.  All integers little-endian, sections in
 * this order, nothing between or after them:
 *
 *   header     struct asn_header (64 bytes)
 *   v4 ranges  n_v4 x struct asn_range4, sorted by start, not overlapping
 *   v6 ranges  n_v6 x struct asn_range6, the same (addresses big-endian)
 *   owners     n_owners x struct asn_owner
 *   names      names_len bytes: UTF-8 without control characters, each
 *              name at most ASN_NAME_MAX bytes, not NUL-terminated */
#ifndef PS_GEO_ASN_FORMAT_H
#define PS_GEO_ASN_FORMAT_H

#include <stdint.h>

#define ASN_MAGIC "PSASN\0v1"
#define ASN_NAME_MAX 255
/* bounds that any real table stays far below (515k ranges in 2026) */
#define ASN_MAX_RANGES (1u << 24)
#define ASN_MAX_OWNERS (1u << 22)
#define ASN_MAX_NAMES (1u << 28)

struct asn_header {
	char magic[8];
	uint32_t n_v4, n_v6, n_owners, names_len;
	char source[40];	/* what it was made from, NUL-padded: "@ip-location-db/asn 2.3..." */
};

struct asn_range4 {
	uint32_t start, end;	/* host order of the file: little-endian */
	uint32_t owner;		/* index into the owners */
};

struct asn_range6 {
	uint8_t start[16], end[16];	/* network order, compared with memcmp */
	uint32_t owner;
};

struct asn_owner {
	uint32_t asn;
	uint32_t name_off, name_len;	/* into the names */
};

_Static_assert(sizeof(struct asn_header) == 64, "asn header");
_Static_assert(sizeof(struct asn_range4) == 12, "asn range4");
_Static_assert(sizeof(struct asn_range6) == 36, "asn range6");
_Static_assert(sizeof(struct asn_owner) == 12, "asn owner");

#endif
