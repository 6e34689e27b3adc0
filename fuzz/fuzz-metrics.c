/* Fuzz target: metrics.json as the dash reads it back (the logger writes
 * it, but it is a file in the user's directory that anything of the user's
 * can rewrite).  Parsing must not crash; what it accepts must render and
 * read back to the same counters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logger/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics m, back;
	size_t len;
	char *json;

	if (size > METRICS_FILE_MAX)
		return 0;
	if (metrics_parse((const char *)data, size, &m) < 0)
		return 0;
	json = metrics_render(&m, &len);
	if (!json)
		return 0;
	if (metrics_parse(json, len, &back) < 0 || memcmp(&m, &back, sizeof(m)))
		abort();
	free(json);
	return 0;
}
