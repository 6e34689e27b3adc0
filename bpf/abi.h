/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The binary interface between the in-kernel sensor (bpf/sensor.bpf.c) and the
 * daemon: map keys and values, ring buffer records and loss counters.
 * Plain fixed-width types only, so that both clang -target bpf (with
 * vmlinux.h) and the userspace compiler (with <linux/types.h>) accept it.
 * Any change here changes both sides at once; keep sizes multiples of 8.
 */
#ifndef PICOSNITCH_BPF_ABI_H
#define PICOSNITCH_BPF_ABI_H

#define PS_COMM_LEN 16
#define PS_EXEC_PATH_LEN 256
#define PS_EXEC_ARGS_LEN 512

/* Who did the I/O: a snapshot of the task taken in the kernel at the
 * moment the flow was first seen, so that a process that has already
 * exited can still be named. */
struct ps_task {
	__u32 tgid;
	__u32 ppid;
	__u32 gppid;		/* grandparent */
	__u32 uid;
	__u32 flags;		/* PS_TASK_* */
	__u32 exe_dev;		/* userspace (stat) encoding of the device */
	__u32 pexe_dev;
	__u32 gpexe_dev;
	__u64 start_ns;		/* task start, boot clock: tells reused pids apart */
	__u64 pstart_ns;
	__u64 gpstart_ns;
	__u64 exe_ino;
	__u64 pexe_ino;
	__u64 gpexe_ino;
	char comm[PS_COMM_LEN];	/* thread group leader's name */
	char pcomm[PS_COMM_LEN];
	char gpcomm[PS_COMM_LEN];
};

#define PS_TASK_KNOWN 1u	/* fields are valid */
#define PS_TASK_KERNEL 2u	/* a kernel socket: no process owns it */

/* One flow: a socket, the process that did I/O on it, and the peer (which
 * varies for sockets without a fixed peer).  Addresses are in network
 * order, ports in host order.  AF_PACKET flows carry MAC addresses and the
 * ethertype as proto. */
struct ps_flow_key {
	__u64 sock_id;		/* the sensor's id of the socket */
	__u32 tgid;		/* 0 while the owning process is unknown */
	__u32 netns;		/* network namespace inode */
	__u16 family;		/* AF_INET, AF_INET6, AF_PACKET */
	__u16 proto;		/* IPPROTO_* or ethertype */
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* The counters of a UDP socket's cached flow (see dgram_slots in
 * sensor.bpf.c): cumulative, like `counts`, and read by the daemon through
 * a shared mapping.  The daemon frees a slot (zeroes it, sock_id last)
 * after its socket closed. */
#define PS_DGRAM_SLOTS 4096	/* a power of two */

struct ps_dgram_slot {
	__u64 sock_id;		/* 0: free */
	__u32 ready;		/* key is written */
	__u32 pad;
	struct ps_flow_key key;
	/* apart: a sender and a receiving CPU update them at once */
	__u64 sent __attribute__((aligned(64)));
	__u64 recv __attribute__((aligned(64)));
} __attribute__((aligned(64)));

/* What is known of a flow from its first packet; written once. */
struct ps_flow_info {
	__u64 first_ns;
	__u64 sock_ino;		/* inode of the socket, to find holders in /proc */
	struct ps_task who;
};

/* Application payload bytes of a flow.  The sensor keeps one copy per CPU
 * (no atomic operations on the packet path); the daemon sums them. */
struct ps_flow_count {
	__u64 sent;
	__u64 recv;
};

/* Ring buffer records.  Every record starts with this header; size is the
 * size of the whole record. */
enum ps_event_type {
	PS_EV_FLOW = 1,		/* a new flow: identify its process now */
	PS_EV_UNOWNED = 2,	/* traffic on a socket whose process is unknown */
	PS_EV_EXEC = 3,		/* an exec (only with "Every exe") */
	PS_EV_DNS = 4,		/* a DNS query sent, or an answer that reached a socket */
	PS_EV_FIRST = 5,	/* the first bytes a connection sent */
};

struct ps_event_hdr {
	__u16 type;
	__u16 version;
	__u32 size;
	__u64 ts_ns;
};

#define PS_EVENT_VERSION 3

struct ps_ev_flow {
	struct ps_event_hdr hdr;
	struct ps_flow_key key;
	struct ps_flow_info info;
};

struct ps_ev_unowned {
	struct ps_event_hdr hdr;
	struct ps_flow_key key;
	__u64 sock_ino;
};

/* A UDP datagram or TCP segment between a local socket and port 53: a
 * query leaving (PS_DNS_QUERY) or an answer arriving (PS_DNS_ANSWER), its
 * first PS_DNS_MAX bytes and where it went, for the daemon to match
 * answers to queries and learn the names of addresses.  Addresses and
 * ports are the local socket's side (l) and the server's (r), from the
 * packet.  TCP segments also carry their sequence number, flags and whole
 * payload length, for the daemon to put the stream back together. */
#define PS_DNS_MAX 512

enum ps_dns_dir {
	PS_DNS_QUERY = 1,	/* sent to port 53 */
	PS_DNS_ANSWER = 2,	/* received from port 53 */
};

struct ps_ev_dns {
	struct ps_event_hdr hdr;
	__u32 len;		/* bytes in data */
	__u32 netns;
	__u8 dir;		/* enum ps_dns_dir */
	__u8 family;		/* AF_INET, AF_INET6 */
	__u16 lport, rport;
	__u8 proto;		/* IPPROTO_UDP, IPPROTO_TCP */
	__u8 tcp_flags;		/* PS_DNS_SYN, PS_DNS_FIN */
	__u32 seq;		/* TCP: the segment's sequence number */
	__u32 seg_len;		/* TCP: its payload bytes (len holds the first of them) */
	__u8 laddr[16], raddr[16];	/* IPv4: the first 4 bytes */
	__u8 data[PS_DNS_MAX];
};

#define PS_DNS_SYN 1
#define PS_DNS_FIN 2		/* FIN or RST: the stream ends */

/* The first bytes a connection sends, for the daemon to read the server
 * name of a TLS ClientHello or QUIC Initial from (unparsed here): each of
 * the first PS_FIRST_PACKETS data segments a TCP socket sends before it
 * has received any data, and each of the first PS_FIRST_PACKETS datagrams
 * of at least PS_FIRST_MIN_DGRAM bytes (the least a QUIC client's Initial
 * has, RFC 9000 14.1) a UDP socket sends to a port other than 53; of each
 * its first PS_FIRST_MAX bytes, with its whole length.  Copied only while
 * the ring buffer is less than half full, so that they never crowd out
 * the events that name processes.  l is the local socket's
 * side, r the peer's. */
#define PS_FIRST_MAX 1500
#define PS_FIRST_PACKETS 3
#define PS_FIRST_MIN_DGRAM 1200

struct ps_ev_first {
	struct ps_event_hdr hdr;
	__u32 len;		/* bytes in data */
	__u32 netns;
	__u8 family;		/* AF_INET, AF_INET6 */
	__u8 proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	__u16 lport, rport;
	__u8 first;		/* TCP: the first data segment of the stream */
	__u8 pad;
	__u32 seq;		/* TCP: the segment's sequence number */
	__u32 seg_len;		/* its payload bytes (len holds the first of them) */
	__u8 laddr[16], raddr[16];	/* IPv4: the first 4 bytes */
	__u8 data[PS_FIRST_MAX];
};

/* What the exec tracepoint remembers per process, so that a process that
 * exits before the daemon can read /proc still has a path and arguments. */
struct ps_exec_info {
	struct ps_task who;
	__u32 path_len;
	__u32 args_len;		/* of all the arguments: more than fit in args when cut */
	char path[PS_EXEC_PATH_LEN];
	char args[PS_EXEC_ARGS_LEN];	/* NUL separated, like /proc/pid/cmdline */
};

struct ps_ev_exec {
	struct ps_event_hdr hdr;
	struct ps_exec_info info;
};

/* Listening TCP sockets and bound UDP sockets, by local port: who to blame
 * for an accepted socket whose process could not be found. */
struct ps_listen_key {
	__u32 netns;
	__u16 family;
	__u16 proto;
	__u16 lport;
	__u16 pad[3];
};

/* Loss and health counters, one per-CPU array slot each.  Every loss the
 * sensor can detect is counted here; the daemon reports increases. */
enum ps_stat {
	PS_STAT_FLOW_MAP_FULL,		/* a new flow could not be stored */
	PS_STAT_BYTES_LOST_SENT,	/* bytes of such flows */
	PS_STAT_BYTES_LOST_RECV,
	PS_STAT_RINGBUF_FULL,		/* an event could not be queued */
	PS_STAT_SOCK_STATE_FAIL,	/* per-socket state could not be allocated (no memory) */
	PS_STAT_PARSE_FAIL,		/* a packet header could not be read */
	PS_STAT_EXEC_CACHE_FAIL,	/* an exec could not be remembered */
	PS_STAT_UNOWNED,		/* sockets first seen without a process */
	PS_STAT_RECV_DROPS,		/* datagrams counted, then dropped (corrected) */
	PS_STAT_HOOK_BUSY,		/* events skipped by the kernel: the hook was already
					 * running on that CPU (read from program info) */
	PS_STAT_TCP_START_MISSED,	/* TCP connections made while the sensor ran
					 * whose start it did not see (counted whole
					 * all the same, from the kernel's totals) */
	PS_STAT_FLOW_BUSY,		/* a flow update met the table's bucket locked
					 * by the update it interrupted on that CPU */
	PS_STAT_BUSY_LOST_SENT,		/* bytes of such updates */
	PS_STAT_BUSY_LOST_RECV,
	PS_STAT_CLOSED_FULL,		/* a socket's close could not be recorded: its
					 * flows stay in the table (counted, not freed) */
	PS_STAT_LISTENERS_FULL,		/* a listener or bound port could not be
					 * remembered (its accepted sockets may go unnamed) */
	PS_STAT_TCP_STATE_MISSED,	/* TCP state changes both copies of the hook
					 * missed, at most (computed by the monitor) */
	PS_STAT_TCP_COUNT_CONTENDED,	/* a TCP reading gave up after 8 readers in a
					 * row moved the same total (its bytes wait for
					 * the next reading: missing if it was the last) */
	PS_STAT_FIRST_SKIPPED,		/* first bytes of a connection not copied: the
					 * ring buffer was half full (kept for events
					 * that name processes) */
	PS_STAT_SOCK_FREEING,		/* a packet of a socket the kernel was freeing,
					 * first seen then: it has no state, so the
					 * packet was not counted */
	PS_STAT_PACKET_TAKEN,		/* an AF_PACKET frame was taken off its queue
					 * by a reader before it could be counted */
	PS_STAT_MAX,
};

#endif
