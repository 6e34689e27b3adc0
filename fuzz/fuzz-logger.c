/* Fuzz target: messages from the monitor to the logger (the logger must
 * survive anything the monitor sends, since a bug there would otherwise
 * be a crash of the unprivileged side at most, but also: nothing it
 * receives is trusted).  The input is a sequence of messages, each a type
 * byte, a 2-byte length and that many bytes laid over a zeroed message of
 * the type (so that most reach their handler), with the header made
 * plausible or, when the type byte says so, left as the input has it.
 * Windows are taken now and then, as the logger does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logger/logger_int.h"
#include "logger/window.h"
#include "privsep/proto.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned types[] = {
	PS_MSG_HELLO, PS_MSG_IDENT, PS_MSG_IDENT_DROP, PS_MSG_HASH,  PS_MSG_HASH_REQ,
	PS_MSG_DELTAS, PS_MSG_SEEN, PS_MSG_DNS,	      PS_MSG_STATS, PS_MSG_NOTE,
	PS_MSG_TICK,  PS_MSG_READY, PS_MSG_CONFIG,    PS_MSG_LOG,   PS_MSG_DONE,
	PS_MSG_MD5,   PS_MSG_MD5_REQ, PS_MSG_FIRST,
};

static void quiet(void *ctx, enum log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char msg[PS_MSG_MAX + 16];
	struct logger l = { .dirfd = -1 };
	size_t off = 0;
	int n = 0;

	log_set_sink(quiet, NULL);
	if (logger_init(&l, -1, "/nonexistent", false) < 0)
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
			/* raw: the header as the input has it, any length that
			 * fits a datagram buffer */
			size_t k = len < sizeof(msg) ? len : sizeof(msg);

			memcpy(msg, data + off, k);
			logger_handle(&l, msg, k);
		} else {
			proto_init(msg, type);
			memcpy(msg + sizeof(struct ps_msg_hdr), data + off,
			       len < want - sizeof(struct ps_msg_hdr) ? len
								       : want - sizeof(struct ps_msg_hdr));
			logger_handle(&l, msg, want);
		}
		off += len;
		if ((sel & 0x0f) == 0x0f) {
			struct window_taken t;

			if (window_take(l.window, 1700000000, sel & 0x10, &t) == 0)
				window_taken_free(l.window, &t);
		}
	}
	{
		struct window_taken t;

		if (window_take(l.window, 1700000000, true, &t) == 0)
			window_taken_free(l.window, &t);
	}
	logger_done(&l);
	log_set_sink(NULL, NULL);
	return 0;
}
