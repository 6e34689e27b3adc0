/* Fuzz target: record.json as found in the (user-owned) state directory.
 * Whatever the text, parsing must not crash, and a record that parses
 * must take new names and hashes and dump again. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "daemon/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record *r;
	char why[256];

	if (record_parse((const char *)data, size, &r, why, sizeof(why)) < 0)
		return 0;
	record_see(r, REC_PROCESS, "/usr/bin/curl", "curl");
	record_see(r, REC_PARENT, "/usr/bin/bash", "bash");
	record_see(r, REC_GRANDPARENT, "", "");
	record_see_hash(r, "/usr/bin/curl", "0000000000000000000000000000000000000000000000000000000000000000");
	record_see_hash(r, "/usr/bin/curl", "!exited");
	record_free(r);
	return 0;
}
