/* The messages between picosnitch's two processes (docs/privsep.md):
 *
 *   monitor (root: BPF, /proc, hashing)  --SOCK_SEQPACKET socketpair-->  logger
 *   (the desktop user, or a system user: config, DNS, windows, snitch.db,
 *    conn.log, record.json, exe.log, error.log, notifications)
 *
 * One message per datagram: a header, then a body of the fixed size its
 * type says.  Only plain fixed-width fields, no pointers; strings are byte
 * arrays with an explicit length, never assumed to end in NUL or to be
 * UTF-8.  Either side checks every message it receives (proto_check) and
 * drops what does not fit, counting it; the monitor trusts nothing the
 * logger sends, and the logger survives anything the monitor sends.
 *
 * PS_PROTO_VERSION changes with any layout; both sides are the same
 * binary, so a mismatch means a broken or foreign peer. */
#ifndef PS_PRIVSEP_PROTO_H
#define PS_PRIVSEP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>
#include "abi.h"

#define PS_PROTO_VERSION 6

/* Bounds on what a process can make picosnitch carry and store. */
#define PS_PATH_MAX 4096	/* executable path, bytes */
#define PS_CMD_MAX 4096		/* command line, NUL-separated arguments, bytes */
#define PS_TEXT_MAX 1024	/* a note or log line */
#define PS_DELTAS_MAX 64	/* deltas per message */
#define PS_SHA_LEN 64		/* a SHA-256 in hex */
#define PS_CGROUP_MAX 2048	/* /proc/<pid>/cgroup, bytes */

enum ps_msg_type {
	/* monitor -> logger */
	PS_MSG_HELLO = 1,	/* first message: versions, the monitor's pid */
	PS_MSG_IDENT = 2,	/* a process identity and its strings */
	PS_MSG_IDENT_DROP = 3,	/* the monitor forgot an identity */
	PS_MSG_HASH = 4,	/* an executable's hash (or a sentinel) */
	PS_MSG_HASH_REQ = 5,	/* root cannot read it: hash it as the user */
	PS_MSG_DELTAS = 6,	/* traffic since the last drain, per flow */
	PS_MSG_SEEN = 7,	/* a flow's (or exec's) process was named */
	PS_MSG_DNS = 8,		/* a DNS query sent, or an answer received */
	PS_MSG_STATS = 9,	/* loss counters, cumulative */
	PS_MSG_NOTE = 10,	/* a message for error.log, made by the monitor */
	PS_MSG_TICK = 11,	/* a drain ended */
	PS_MSG_FINAL = 12,	/* the last drain ended: write everything and finish */
	PS_MSG_READY = 13,	/* the sensor runs */
	PS_MSG_MD5 = 14,	/* the MD5 a PS_MSG_MD5_REQ asked for (ps_msg_hash;
				 * md5 "" when it could not be computed) */
	PS_MSG_FIRST = 15,	/* the first bytes a connection sent */
	/* logger -> monitor */
	PS_MSG_CONFIG = 32,	/* the few settings the monitor needs; the logger's
				 * files are open */
	PS_MSG_FATAL = 33,	/* the logger cannot start: why (and an exit status) */
	PS_MSG_LOG = 34,	/* a line for the monitor's stderr (escaped there) */
	PS_MSG_DONE = 36,	/* the final window is written */
	PS_MSG_MD5_REQ = 37,	/* a package lists this file: its MD5, please */
};

struct ps_msg_hdr {
	__u16 type;
	__u16 version;
	__u32 size;		/* of the whole message */
};

struct ps_msg_hello {
	struct ps_msg_hdr hdr;
	__u32 monitor_pid;
	__u32 pad;
};

/* Where an identity's strings came from. */
enum ps_ident_source {
	PS_IDENT_PROC = 0,	/* /proc/<pid> while it ran */
	PS_IDENT_EXEC_CACHE = 1,/* gone: the exec tracepoint's copy */
	PS_IDENT_KERNEL = 2,	/* gone: only the kernel's name */
	PS_IDENT_NONE = 3,	/* no process (kernel sockets, unknown owners) */
};

#define PS_IDENT_EXE_MISMATCH 1u	/* it exec'd another program since */
#define PS_IDENT_CMD_CUT 2u		/* the command line was longer than PS_CMD_MAX */
#define PS_IDENT_EXE_CUT 4u		/* the path was longer than PS_PATH_MAX */

struct ps_msg_ident {
	struct ps_msg_hdr hdr;
	__u64 id;		/* the monitor's id, unique for its life; never 0 */
	__u64 start_ns;
	__u64 file_ino;		/* the executable, as hashes are keyed */
	__u32 file_dev;
	__u32 pid;
	__u32 source;		/* enum ps_ident_source */
	__u32 flags;		/* PS_IDENT_* */
	__u32 exe_len;
	__u32 cmd_len;
	char comm[PS_COMM_LEN];
	/* why it has no hash of its own file (gone, replaced, none), or "";
	 * NUL padded */
	char sentinel[PS_SHA_LEN + 1];
	char pad[3];
	__u32 file_flags;	/* PS_FILE_DELETED, PS_FILE_MEMFD: how it runs */
	char exe[PS_PATH_MAX];
	char cmd[PS_CMD_MAX];
	/* /proc/<pid>/cgroup as the kernel wrote it, not parsed here (its
	 * paths are names users and containers choose): the logger takes the
	 * service from it; empty when the process was gone */
	__u32 cgroup_len;
	__u32 pad2;
	char cgroup[PS_CGROUP_MAX];
};

struct ps_msg_ident_drop {
	struct ps_msg_hdr hdr;
	__u64 id;
};


struct ps_msg_hash {
	struct ps_msg_hdr hdr;
	__u64 file_ino;
	__u32 file_dev;
	__u32 flags;		/* PS_FILE_* */
	char sha256[PS_SHA_LEN + 1];	/* hex digest, or a SHA_* sentinel; NUL padded */
	char md5[33];		/* PS_MSG_MD5: hex MD5 of the same contents, or "";
				 * NUL padded.  Always "" in PS_MSG_HASH: the MD5 is
				 * computed only for files a package lists */
	char pad[6];
};

/* The MD5 of a file the monitor hashed, for the package check: only if
 * the monitor still holds it open and its contents are still the ones with
 * this SHA-256 (fanotify says when they change). */
struct ps_msg_md5_req {
	struct ps_msg_hdr hdr;
	__u64 file_ino;
	__u32 file_dev;
	__u32 pad;
	char sha256[PS_SHA_LEN + 1];	/* 64 hex digits and a NUL */
	char pad2[7];
};

#define PS_FILE_DELETED 1u
#define PS_FILE_MEMFD 2u
#define PS_FILE_PENDING 4u	/* hashing started: no result yet */

struct ps_msg_hash_req {
	struct ps_msg_hdr hdr;
	__u64 file_ino;
	__u32 file_dev;
	__u32 pid;
	__u32 path_len;
	__u32 pad;
	char path[PS_PATH_MAX];
};

/* One flow's traffic since the last drain.  lport/rport -1: an exec entry. */
struct ps_delta {
	__u64 proc, parent, gparent;	/* identity ids */
	__s64 uid;
	__s32 lport, rport;
	__u16 family, proto;
	__u32 netns;
	__u8 laddr[16];
	__u8 raddr[16];
	__u64 sent, recv, flows;
};

struct ps_msg_deltas {
	struct ps_msg_hdr hdr;
	__u32 n;
	__u32 pad;
	struct ps_delta d[PS_DELTAS_MAX];
};

struct ps_msg_seen {
	struct ps_msg_hdr hdr;
	__u64 proc, parent, gparent;
	__u32 exec;		/* 1: an exec with "Every exe" */
	__u32 pad;
};

/* A DNS query sent or answer received (struct ps_ev_dns): over UDP a
 * message, over TCP a segment of a stream; addresses as the sensor read
 * them, the bytes unparsed. */
struct ps_msg_dns {
	struct ps_msg_hdr hdr;
	__u32 len;
	__u32 netns;
	__u8 dir;		/* enum ps_dns_dir */
	__u8 family;		/* AF_INET, AF_INET6 */
	__u16 lport, rport;
	__u8 proto;		/* IPPROTO_UDP, IPPROTO_TCP */
	__u8 tcp_flags;		/* PS_DNS_SYN, PS_DNS_FIN */
	__u32 seq, seg_len;	/* TCP */
	__u8 laddr[16], raddr[16];
	__u8 data[PS_DNS_MAX];
};

/* The first bytes a connection sent (struct ps_ev_first), unparsed. */
struct ps_msg_first {
	struct ps_msg_hdr hdr;
	__u32 len;
	__u32 netns;
	__u8 family;		/* AF_INET, AF_INET6 */
	__u8 proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	__u16 lport, rport;
	__u8 first;		/* TCP: the stream's first data segment */
	__u8 pad;
	__u32 seq, seg_len;
	__u8 laddr[16], raddr[16];
	__u8 data[PS_FIRST_MAX];
};

/* Cumulative counters since the monitor started. */
enum ps_mstat {
	PS_MSTAT_UNIDENTIFIED,		/* processes gone before they could be named */
	PS_MSTAT_EXE_MISMATCH,		/* processes that exec'd before they were named */
	PS_MSTAT_UNHASHED,		/* gone before their executable could be opened */
	PS_MSTAT_REPLACED,		/* gone, another file at their path */
	PS_MSTAT_UNREADABLE,		/* executables nobody could read */
	PS_MSTAT_UNOWNED,		/* sockets whose process was never found */
	PS_MSTAT_UNOWNED_BYTES,
	PS_MSTAT_LISTENER_FALLBACK,	/* sockets named after their listener */
	PS_MSTAT_QUEUE_DROPPED,		/* messages the logger was too slow for */
	PS_MSTAT_BAD_MESSAGES,		/* messages from the logger that were refused */
	PS_MSTAT_MAX,
};

struct ps_msg_stats {
	struct ps_msg_hdr hdr;
	__u64 sensor[PS_STAT_MAX];
	__u64 monitor[PS_MSTAT_MAX];
	__u64 unhashed_example;	/* an identity id, 0 if none */
	__u64 mismatch_example;	/* an identity id, 0 if none */
	__u64 flow_capacity;
	/* for the metrics (docs/api.md: /metrics): gauges and totals */
	__u64 flows_tracked;	/* flows in the table at the last drain */
	__u64 ringbuf_bytes;	/* the event ring buffer's size */
	__u64 ringbuf_records;	/* records read from it since the start */
	__u64 hashes;		/* executables hashed since the start */
};

struct ps_msg_note {
	struct ps_msg_hdr hdr;
	__u32 len;
	__u32 pad;
	char text[PS_TEXT_MAX];
};

struct ps_msg_tick {
	struct ps_msg_hdr hdr;
	__s64 now;		/* unix seconds */
};

/* The settings the monitor takes from config.json, as the logger read them;
 * the monitor clamps each. */
struct ps_msg_config {
	struct ps_msg_hdr hdr;
	__u32 every_exe;
	__u32 ring_buffer_pages;
	__u32 write_limit;	/* seconds, for the monitor's start message */
	__u32 pad;
	__u32 has_rlimit_nofile;
	__u32 has_st_dev_mask;
	__u64 rlimit_nofile;
	__u64 st_dev_mask;
};

struct ps_msg_fatal {
	struct ps_msg_hdr hdr;
	__u32 status;		/* the exit status the monitor should end with */
	__u32 len;
	char text[PS_TEXT_MAX];
};

/* How the monitor shows a PS_MSG_LOG: on stderr with a prefix for the
 * level, or (PS_LOG_STDOUT: "Desktop notifications": false) on stdout. */
enum ps_log_level { PS_LOG_INFO = 0, PS_LOG_WARN = 1, PS_LOG_ERROR = 2, PS_LOG_STDOUT = 3 };

struct ps_msg_log {
	struct ps_msg_hdr hdr;
	__u32 level;
	__u32 len;
	char text[PS_TEXT_MAX];
};

/* A message with no body beyond its header (TICK-less markers). */
struct ps_msg_empty {
	struct ps_msg_hdr hdr;
};

/* The largest message, for receive buffers. */
#define PS_MSG_MAX sizeof(struct ps_msg_ident)

/* The size a message of this type must have, or 0 for an unknown type. */
size_t proto_size(unsigned type);

/* Whether buf (len bytes, as received) is a well-formed message: known
 * type, this version, exact size, and every length field within its
 * array.  A message that is not is never looked at further. */
bool proto_check(const void *buf, size_t len);

/* Fill in the header of a message of type. */
void proto_init(void *msg, unsigned type);

#endif
