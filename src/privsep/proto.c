/* Sizes and checks of the messages between the two processes (proto.h). */
#include "privsep/proto.h"

#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

size_t proto_size(unsigned type)
{
	switch (type) {
	case PS_MSG_HELLO: return sizeof(struct ps_msg_hello);
	case PS_MSG_IDENT: return sizeof(struct ps_msg_ident);
	case PS_MSG_IDENT_DROP: return sizeof(struct ps_msg_ident_drop);
	case PS_MSG_HASH: return sizeof(struct ps_msg_hash);
	case PS_MSG_HASH_REQ: return sizeof(struct ps_msg_hash_req);
	case PS_MSG_DELTAS: return sizeof(struct ps_msg_deltas);
	case PS_MSG_SEEN: return sizeof(struct ps_msg_seen);
	case PS_MSG_DNS: return sizeof(struct ps_msg_dns);
	case PS_MSG_FIRST: return sizeof(struct ps_msg_first);
	case PS_MSG_STATS: return sizeof(struct ps_msg_stats);
	case PS_MSG_NOTE: return sizeof(struct ps_msg_note);
	case PS_MSG_TICK: return sizeof(struct ps_msg_tick);
	case PS_MSG_FINAL: return sizeof(struct ps_msg_empty);
	case PS_MSG_READY: return sizeof(struct ps_msg_empty);
	case PS_MSG_CONFIG: return sizeof(struct ps_msg_config);
	case PS_MSG_FATAL: return sizeof(struct ps_msg_fatal);
	case PS_MSG_LOG: return sizeof(struct ps_msg_log);
	case PS_MSG_DONE: return sizeof(struct ps_msg_empty);
	case PS_MSG_MD5: return sizeof(struct ps_msg_hash);
	case PS_MSG_MD5_REQ: return sizeof(struct ps_msg_md5_req);
	default: return 0;
	}
}

/* A hash field: a NUL-padded digest or sentinel of printable ASCII. */
static bool sha_ok(const char *s)
{
	size_t n = strnlen(s, PS_SHA_LEN + 1);

	if (n == 0 || n > PS_SHA_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

bool proto_check(const void *buf, size_t len)
{
	const struct ps_msg_hdr *h = buf;
	size_t want;

	if (len < sizeof(*h))
		return false;
	want = proto_size(h->type);
	if (!want || h->version != PS_PROTO_VERSION || h->size != len || len != want)
		return false;
	switch (h->type) {
	case PS_MSG_IDENT: {
		const struct ps_msg_ident *m = buf;

		return m->id != 0 && m->exe_len <= PS_PATH_MAX && m->cmd_len <= PS_CMD_MAX &&
		       m->cgroup_len <= PS_CGROUP_MAX &&
		       m->source <= PS_IDENT_NONE && (!m->sentinel[0] || sha_ok(m->sentinel));
	}
	case PS_MSG_MD5_REQ: {
		const struct ps_msg_md5_req *m = buf;

		return strnlen(m->sha256, sizeof(m->sha256)) == PS_SHA_LEN &&
		       strspn(m->sha256, "0123456789abcdef") == PS_SHA_LEN;
	}
	case PS_MSG_HASH:
	case PS_MSG_MD5: {
		const struct ps_msg_hash *m = buf;
		size_t n = strnlen(m->md5, sizeof(m->md5));

		return sha_ok(m->sha256) && (n == 0 || (n == 32 && strspn(m->md5, "0123456789abcdef") == 32));
	}
	case PS_MSG_HASH_REQ: {
		const struct ps_msg_hash_req *m = buf;

		return m->path_len > 0 && m->path_len <= PS_PATH_MAX;
	}
	case PS_MSG_DELTAS:
		return ((const struct ps_msg_deltas *)buf)->n <= PS_DELTAS_MAX;
	case PS_MSG_DNS: {
		const struct ps_msg_dns *m = buf;

		return m->len <= PS_DNS_MAX && (m->dir == PS_DNS_QUERY || m->dir == PS_DNS_ANSWER) &&
		       (m->family == AF_INET || m->family == AF_INET6) &&
		       (m->proto == IPPROTO_UDP ||
			(m->proto == IPPROTO_TCP && m->len <= m->seg_len));
	}
	case PS_MSG_FIRST: {
		const struct ps_msg_first *m = buf;

		return m->len <= PS_FIRST_MAX && m->len <= m->seg_len &&
		       (m->family == AF_INET || m->family == AF_INET6) &&
		       (m->proto == IPPROTO_TCP || m->proto == IPPROTO_UDP);
	}
	case PS_MSG_NOTE:
		return ((const struct ps_msg_note *)buf)->len <= PS_TEXT_MAX;
	case PS_MSG_FATAL: {
		const struct ps_msg_fatal *m = buf;

		return m->len <= PS_TEXT_MAX && m->status > 0 && m->status < 126;
	}
	case PS_MSG_LOG: {
		const struct ps_msg_log *m = buf;

		return m->len <= PS_TEXT_MAX && m->level <= PS_LOG_STDOUT;
	}
	default:
		return true;
	}
}

void proto_init(void *msg, unsigned type)
{
	struct ps_msg_hdr *h = msg;

	memset(msg, 0, proto_size(type));
	h->type = (__u16)type;
	h->version = PS_PROTO_VERSION;
	h->size = (__u32)proto_size(type);
}
