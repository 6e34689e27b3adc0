/* Fuzz target: DNS queries and answers as the sensor passes them, in any
 * order, from any of a few ends, at any times.  Matching must not crash,
 * must stay within its bounds, and must accept an answer only when a
 * query with its transaction id was sent before from the same ends.
 *
 * Input: records of [op, ends, clock step, length (2 bytes), message]:
 * op bit 0: 0 query, 1 answer; ends: one of 4 (two local ports, two
 * servers, one of them IPv6). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/dnsmatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAPACITY 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t asked[4][65536 / 8];	/* transaction ids sent, per ends */
	struct dnsmatch *m;
	uint64_t now = 0;

	if (dnsmatch_new(CAPACITY, &m) < 0)
		abort();
	memset(asked, 0, sizeof(asked));
	while (size >= 5) {
		uint8_t op = data[0], which = data[1] & 3;
		size_t len = (size_t)(data[3] << 8 | data[4]);
		struct dns_ends e = { .netns = 1, .rport = 53 };
		int r;

		now += (uint64_t)data[2] * 100;
		data += 5;
		size -= 5;
		if (len > size)
			len = size;
		e.family = which == 3 ? AF_INET6 : AF_INET;
		e.lport = which & 1 ? 40000 : 40001;
		e.laddr[0] = 10;
		e.raddr[0] = 10;
		e.raddr[3] = (uint8_t)which;
		if (op & 1) {
			r = dnsmatch_answer(m, &e, data, len, now);
			if (r == 0) {
				uint16_t id = (uint16_t)(data[0] << 8 | data[1]);

				if (!(asked[which][id / 8] & (1 << (id % 8))))
					abort();	/* an answer to nothing asked */
			} else if (r != -ENOENT && r != -EBADMSG) {
				abort();
			}
		} else {
			r = dnsmatch_query(m, &e, data, len, now);
			if (r == 0) {
				uint16_t id = (uint16_t)(data[0] << 8 | data[1]);

				asked[which][id / 8] |= (uint8_t)(1 << (id % 8));
			} else if (r != -EBADMSG) {
				abort();
			}
		}
		if (dnsmatch_pending(m) > CAPACITY)
			abort();
		data += len;
		size -= len;
	}
	dnsmatch_free(m);
	return 0;
}
