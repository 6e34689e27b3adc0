/* Fuzz target: messages from the logger to the monitor.  The logger runs
 * as a user, who can make it send anything: the root side must check
 * every message, print texts only as safe text, take the settings once and
 * clamp them.  The input is a sequence of messages framed as in
 * fuzz-logger.c (a type byte, a 2-byte length, the bytes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_int.h"
#include "privsep/proto.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const unsigned types[] = { PS_MSG_CONFIG, PS_MSG_FATAL, PS_MSG_LOG, PS_MSG_DONE,
				  PS_MSG_IDENT, PS_MSG_DELTAS, PS_MSG_HELLO, PS_MSG_MD5_REQ };

static void quiet(void *ctx, enum log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	/* what would reach root's terminal: never a control character */
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!freopen("/dev/null", "w", stdout))
		abort();
	log_set_sink(quiet, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char msg[PS_MSG_MAX + 16];
	struct monitor *m = monitor_new_for_tests();
	size_t off = 0;
	int n = 0;

	if (!m)
		abort();
	while (off + 3 <= size && n++ < 64) {
		unsigned sel = data[off];
		size_t len = data[off + 1] | (size_t)data[off + 2] << 8, want;
		unsigned type = types[(sel & 0x7f) % (sizeof(types) / sizeof(types[0]))];

		off += 3;
		if (len > size - off)
			len = size - off;
		want = proto_size(type);
		memset(msg, 0, sizeof(msg));
		if (sel & 0x80) {
			size_t k = len < sizeof(msg) ? len : sizeof(msg);

			memcpy(msg, data + off, k);
			monitor_handle_logger(m, msg, k);
		} else {
			proto_init(msg, type);
			memcpy(msg + sizeof(struct ps_msg_hdr), data + off,
			       len < want - sizeof(struct ps_msg_hdr) ? len
								       : want - sizeof(struct ps_msg_hdr));
			monitor_handle_logger(m, msg, want);
		}
		off += len;
	}
	{
		uint32_t rb = ringbuf_bytes(m);

		/* a power of two within the bound, whatever was asked */
		if (rb == 0 || (rb & (rb - 1)) || rb > (1u << 30))
			abort();
		(void)st_dev_mask(m);
	}
	free(m);
	return 0;
}
