/* Fuzz target: DNS over TCP segments as the sensor passes them (any host
 * can send them, in any order, with any sequence numbers and lengths),
 * put back together and matched.  Must not crash, must stay within its
 * bounds, and every message passed on must fit what is kept.
 *
 * Input: records of [flags, stream, seq (4 bytes), seg_len (2), len (2),
 * bytes]: flags bit 0 SYN, bit 1 FIN, bit 2 from the server; stream: one
 * of 4 local ports. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/dnsmatch.h"
#include "pipeline/tcpdns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAPACITY 3

static void on_message(void *ctx, const struct dns_ends *e, bool from_server, const uint8_t *msg,
		       size_t len)
{
	struct dnsmatch *m = ctx;

	if (len > TCPDNS_KEEP)
		abort();
	if (from_server)
		dnsmatch_answer(m, e, msg, len, 0);
	else
		dnsmatch_query(m, e, msg, len, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcpdns *t;
	struct dnsmatch *m;
	uint64_t now = 0;

	if (tcpdns_new(CAPACITY, &t) < 0 || dnsmatch_new(16, &m) < 0)
		abort();
	while (size >= 10) {
		struct tcpdns_segment s = {
			.ends = { .netns = 1, .family = AF_INET, .rport = 53,
				  .laddr = { 10, 0, 0, 1 }, .raddr = { 10, 0, 0, 2 } },
		};
		size_t len = (size_t)(data[8] << 8 | data[9]);

		s.syn = data[0] & 1;
		s.fin = data[0] & 2;
		s.from_server = data[0] & 4;
		s.ends.lport = (uint16_t)(40000 + (data[1] & 3));
		s.seq = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 8 |
			data[5];
		s.seg_len = (uint32_t)(data[6] << 8 | data[7]);
		data += 10;
		size -= 10;
		if (len > size)
			len = size;
		if (len > s.seg_len)
			len = s.seg_len;	/* as proto_check guarantees */
		s.data = data;
		s.len = len;
		now += 1000;
		tcpdns_segment(t, &s, now, on_message, m);
		if (tcpdns_streams(t) > CAPACITY)
			abort();
		data += len;
		size -= len;
	}
	tcpdns_free(t);
	dnsmatch_free(m);
	return 0;
}
