/* Fuzz target: the dash's check of the live feed's datagrams
 * (dash_live_event in src/dash/dash_live.c).  live.sock is a file in the
 * user's directory, so any program of the user could be the one talking:
 * any bytes must give either -EBADMSG or one line of ASCII JSON, never a
 * crash, a leak, or a line break that would end the SSE field. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dash/dash_live.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = NULL;
	int r = dash_live_event((const char *)data, size, &json);

	if (r == 0) {
		for (const char *p = json; *p; p++) {
			if (*p == '\n' || *p == '\r' || (unsigned char)*p >= 0x80)
				abort();
		}
	} else if (r != -EBADMSG && r != -ENOMEM) {
		abort();
	}
	free(json);
	return 0;
}
