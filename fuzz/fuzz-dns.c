/* Fuzz target: DNS answers as the sensor copies them off the network (any
 * host, or a local process sending from port 53, can write them).  Parsing
 * must not crash, and whatever is learned must be a plain host name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/domains.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(void *ctx, const char *name, int family, const uint8_t *addr)
{
	size_t n = strlen(name);

	(void)ctx;
	(void)family;
	(void)addr;
	if (n == 0 || n > DNS_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domains *d;

	if (!d && domains_new(64, &d) < 0)
		abort();
	dns_parse_response(data, size, check, NULL);
	domains_learn(d, data, size, DOMAIN_SOURCE_DNS);
	return 0;
}
