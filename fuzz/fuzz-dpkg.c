/* Fuzz target: dpkg's md5sums files (root's, but read by the logger, which
 * trusts no file it did not write).  Parsing must not crash, and every
 * line it accepts must have a 32-digit MD5 and a path within the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logger/dpkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *start, *end;

static void check(void *ctx, const char *path, size_t plen, const char md5[32])
{
	(void)ctx;
	if (path < start || path + plen > end || md5 < start || md5 + 32 > end || plen == 0 ||
	    memchr(path, '\n', plen) || strspn(md5, "0123456789abcdef") < 32)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	start = (const char *)data;
	end = start + size;
	dpkg_parse_md5sums(start, size, check, NULL);
	return 0;
}
