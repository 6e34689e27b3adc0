/* Fuzz target: record.json as found in the (user-owned) state directory,
 * and the names and paths processes choose.  The input is a record text,
 * then (after a NUL) raw bytes used as executable paths, names and hashes:
 * not UTF-8, control characters, anything.  Parsing must not crash, and a
 * record must take hostile names (as safe text, the way the logger passes
 * them, and raw, as jansson would refuse them) without losing memory
 * safety, then dump again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "logger/record.h"
#include "util/strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void see_all(struct record *r, const char *a, const char *b)
{
	record_see(r, REC_PROCESS, a, b);
	record_see(r, REC_PARENT, b, a);
	record_see(r, REC_GRANDPARENT, a, a);
	record_see_hash(r, a, b);
	record_see_hash(r, a, "0000000000000000000000000000000000000000000000000000000000000000");
	record_see(r, REC_PROCESS, a, b);	/* seen before */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t text_len = nul ? (size_t)(nul - data) : size;
	const uint8_t *rest = nul ? nul + 1 : data + size;
	size_t rest_len = size - (size_t)(rest - data);
	struct record *r;
	char why[256], *raw_a, *raw_b, *safe_a, *safe_b;
	char *dump;

	if (record_parse((const char *)data, text_len, &r, why, sizeof(why)) < 0) {
		if (json_object_get(NULL, "x") != NULL)
			abort();
		if (record_parse("{}", 2, &r, why, sizeof(why)) < 0)
			abort();
	}
	/* the rest, split in two: raw C strings (up to their first NUL) */
	raw_a = strndup((const char *)rest, rest_len / 2);
	raw_b = strndup((const char *)rest + rest_len / 2, rest_len - rest_len / 2);
	safe_a = text_from_bytes(rest, rest_len / 2);
	safe_b = text_from_bytes(rest + rest_len / 2, rest_len - rest_len / 2);
	if (raw_a && raw_b && safe_a && safe_b) {
		see_all(r, raw_a, raw_b);
		see_all(r, safe_a, safe_b);
		see_all(r, "/usr/bin/curl", "curl");
	}
	dump = record_dump(r);
	free(dump);
	free(raw_a);
	free(raw_b);
	free(safe_a);
	free(safe_b);
	record_free(r);
	return 0;
}
