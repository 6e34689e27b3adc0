/* Fuzz target: the first bytes of a TCP connection as any client can
 * send them, read for a TLS ClientHello's server name: as a whole
 * stream, as a handshake message alone, and cut into segments that reach
 * the flow table in chunks (sizes from the first byte).  Must not crash
 * or read past the input; a name it returns must be a host name. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/servername.h"
#include "pipeline/tls_hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *name)
{
	size_t n = strnlen(name, DNS_NAME_MAX + 1);

	if (n == 0 || n > DNS_NAME_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.", name[i]))
			abort();
}

static void on_name(void *ctx, const struct dns_ends *e, const char *name, enum domain_source src)
{
	(void)ctx;
	(void)e;
	if (src != DOMAIN_SOURCE_SNI)
		abort();
	check_name(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[DNS_NAME_MAX + 1];
	struct servername *s;
	size_t chunk, off = 0;
	uint32_t seq = 0xfffff000u;	/* wraps inside a long input */

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] * 8 + 1;
	data++;
	size--;
	if (tls_records_sni(data, size, name) == 1)
		check_name(name);
	if (tls_handshake_sni(data, size, name) == 1)
		check_name(name);
	if (servername_new(4, &s) < 0)
		abort();
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		struct servername_packet p = {
			.ends = { .netns = 1, .family = AF_INET, .lport = 40000, .rport = 443,
				  .laddr = { 10, 0, 0, 1 }, .raddr = { 10, 0, 0, 2 } },
			.proto = IPPROTO_TCP,
			.first = off == 0,
			.seq = seq + (uint32_t)off,
			.seg_len = (uint32_t)n,
			.data = data + off,
			.len = n,
		};

		servername_packet(s, &p, off, on_name, NULL);
		if (servername_flows(s) > 4)
			abort();
		off += n;
	}
	servername_free(s);
	return 0;
}
