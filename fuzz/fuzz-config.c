/* Fuzz target: config.json, which the desktop user owns and the root
 * daemon reads.  Any text must parse or be refused with a message, never
 * crash; what parses must dump again. */
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	if (config_parse((const char *)data, size, &cfg, err, sizeof(err)) < 0)
		return 0;
	free(config_dump(&cfg));
	config_done(&cfg);
	return 0;
}
