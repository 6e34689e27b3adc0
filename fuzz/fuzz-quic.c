/* Fuzz target: QUIC datagrams as any program or host can make them.
 * Mode 0 (first byte even): the input is a datagram, opened as an Initial
 * as it is (a random tag never verifies, so this reaches the header and
 * its lengths).  Mode 1: the input is records of [2-byte length, frames],
 * each sealed into an Initial with RFC 9001 A.2's connection id, so that
 * it opens and its hostile frames and handshake bytes are read, put back
 * together across datagrams in the flow table.  Must not crash or read
 * past its input; a name found must be a host name. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/quic.h"
#include "pipeline/servername.h"
#include "../tests/lib/quic_seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_name(void *ctx, const struct dns_ends *e, const char *name, enum domain_source src)
{
	size_t n = strnlen(name, DNS_NAME_MAX + 1);

	(void)ctx;
	(void)e;
	if (src != DOMAIN_SOURCE_QUIC || n == 0 || n > DNS_NAME_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.", name[i]))
			abort();
}

static void count_frame(void *ctx, uint64_t offset, const uint8_t *d, size_t n)
{
	(void)offset;
	(void)d;
	*(size_t *)ctx += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct quic_initial in;
	static uint8_t dg[1200];
	struct servername *s;
	uint32_t pn = 0;
	size_t total = 0;

	if (size < 1)
		return 0;
	if (servername_new(2, &s) < 0)
		abort();
	if (!(data[0] & 1)) {
		struct servername_packet p = {
			.ends = { .netns = 1, .family = AF_INET6, .lport = 40000, .rport = 443 },
			.proto = IPPROTO_UDP,
			.seg_len = (uint32_t)(size - 1),
			.data = data + 1,
			.len = size - 1,
		};

		if (quic_open_initial(data + 1, size - 1, NULL, 0, &in) == 0 &&
		    (in.payload_len > sizeof(in.payload) || in.packet_len > size - 1))
			abort();
		servername_packet(s, &p, 0, on_name, NULL);
	} else {
		data++;
		size--;
		while (size >= 2 && pn < 16) {
			size_t n = (size_t)(data[0] << 8 | data[1]);
			struct servername_packet p = {
				.ends = { .netns = 1, .family = AF_INET, .lport = 40000, .rport = 443,
					  .laddr = { 10, 0, 0, 1 }, .raddr = { 10, 0, 0, 2 } },
				.proto = IPPROTO_UDP,
				.seg_len = sizeof(dg),
				.data = dg,
				.len = sizeof(dg),
			};

			data += 2;
			size -= 2;
			if (n > size)
				n = size;
			if (n > RFC9001_PAYLOAD_LEN)
				n = RFC9001_PAYLOAD_LEN;
			quic_crypto_frames(data, n, count_frame, &total);
			if (total > n)
				abort();
			total = 0;
			seal_initial(dg, pn++, data, n);
			servername_packet(s, &p, pn, on_name, NULL);
			data += n;
			size -= n;
		}
	}
	servername_free(s);
	return 0;
}
