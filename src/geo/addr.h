/* Addresses as the interfaces look them up: parsing the text stored in
 * snitch.db (or typed by a person) into 16 bytes, and telling the ranges
 * that belong to no one on the internet (private, loopback, link-local,
 * CGNAT, multicast, documentation, ...) from public ones. */
#ifndef PS_GEO_ADDR_H
#define PS_GEO_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct geo_addr {
	bool v4;		/* an IPv4 address (also one written ::ffff:a.b.c.d) */
	uint8_t b[16];		/* v4: the address in b[0..3]; v6: all 16 */
};

/* "8.8.8.8", "2001:db8::1", "::ffff:1.2.3.4" (taken as IPv4), an IPv6
 * address in brackets or with a zone ("fe80::1%eth0"): 0, or -EINVAL for
 * anything else (at most `len` bytes are read; NULs end it). */
int geo_addr_parse(const char *s, size_t len, struct geo_addr *ret);

/* Whether the address lies in a range that is not routed on the internet
 * (RFC 6890 and its successors): the interfaces label it "local". */
bool geo_addr_is_local(const struct geo_addr *a);

#endif
