/* Fuzz target: /proc/<pid>/cgroup as the monitor reads it (paths hold
 * names that users with a delegated subtree and containers choose).
 * Parsing must not crash, and the service must fit its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logger/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SERVICE_MAX];

	memset(out, 'x', sizeof(out));
	service_from_cgroup((const char *)data, size, 2048, out);
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	return 0;
}
