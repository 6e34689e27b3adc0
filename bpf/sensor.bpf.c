// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel half of picosnitch: counts the application payload bytes of
 * every socket and attributes them to the process that does the I/O.
 *
 * Design (see docs/sensor.md):
 *  - Bytes are counted per packet, never per system call: cgroup_skb
 *    ingress/egress on the cgroup2 root see every IP packet of every local
 *    socket whatever system call moved it (read/write, send*, sendmmsg,
 *    sendfile, splice, io_uring).  TCP payload is counted exactly from
 *    sequence numbers, so retransmissions and out-of-order segments are
 *    neither double counted nor lost.
 *  - AF_PACKET sockets bypass IP, so their frames are counted at
 *    net_dev_queue (send) and sk_data_ready (receive).
 *  - Attribution: the owner of a socket is the last process seen doing I/O
 *    on it in process context (TCP egress with the socket lock held by the
 *    caller, any UDP/raw egress, socket creation, bind, listen).  Traffic
 *    the kernel moves on its own (ACK-clocked TCP sends, all receives) goes
 *    to that owner.  A socket with no known owner yet is reported to the
 *    daemon, which finds its holder in /proc.
 *  - Counters are aggregated in the flows map, one entry per (socket,
 *    owner, peer).  A new entry sends one ring buffer record; counters are
 *    read by the daemon periodically.  Every loss is counted in stats.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "abi.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define SOCK_SEQPACKET 5
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58
#define IPPROTO_SCTP 132
#define IPPROTO_UDPLITE 136
#define IPPROTO_RAW 255

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02

/* tcp_states.h */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10
#define TCP_CLOSING 11

/* Set by the daemon before load. */
const volatile __u32 cfg_every_exe = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);	/* resized from "Perf ring buffer (pages)" */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 131072);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_flow_info);
} flows SEC(".maps");

/* The counters of the flows above, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 131072);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_flow_count);
} counts SEC(".maps");

/* Sockets that can no longer carry traffic: the daemon reads their flows
 * a last time and removes them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);	/* cookie */
	__type(value, __u64);	/* when */
} closed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);	/* tgid */
	__type(value, struct ps_exec_info);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ps_listen_key);
	__type(value, struct ps_task);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Per-socket state, freed by the kernel with the socket. */
struct sock_state {
	struct ps_task owner;
	__u32 snd_cnt;		/* TCP: sequence number counted up to, sent */
	__u32 rcv_cnt;		/* TCP: sequence number counted up to, received */
	__u32 fin_seq;		/* TCP: sequence number of the peer's FIN */
	__u32 flags;
	__u64 sock_ino;
	__u32 netns;
	__u32 flow_tgid;
	__u32 bound_port;	/* UDP: the port in the listeners map */
	__u32 pad;
};

#define SS_SND_INIT 1u
#define SS_RCV_INIT 2u
#define SS_FIN_KNOWN 4u
#define SS_UNOWNED_SENT 8u
#define SS_INFO 16u		/* sock_ino, netns filled in */
#define SS_HDRINCL 32u		/* raw socket that writes its own IP header */
#define SS_FLOW 64u		/* TCP: the flow of flow_tgid exists */

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} socks SEC(".maps");

/* Scratch space, too big for the 512-byte stack. */
struct scratch {
	struct ps_flow_info info;
	struct ps_task task;
	struct ps_exec_info exec;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* Wake functions whose wait entries point at the sleeping task (or, for
 * poll/select, at a struct poll_wqueues naming it). */
extern const void receiver_wake_function __ksym __weak;
extern const void autoremove_wake_function __ksym __weak;
extern const void woken_wake_function __ksym __weak;
extern const void pollwake __ksym __weak;

/* inet_sock before 6.6 kept IP_HDRINCL in a bitfield */
struct inet_sock___old {
	__u8 hdrincl : 1;
} __attribute__((preserve_access_index));

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch_map, &zero);
}

static __always_inline int seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

/* Kernel dev_t (major << 20 | minor) to the stat() encoding. */
static __always_inline __u32 dev_to_user(__u32 dev)
{
	__u32 major = dev >> 20, minor = dev & ((1u << 20) - 1);

	return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

static __always_inline void task_exe(struct task_struct *t, __u64 *ino, __u32 *dev)
{
	struct file *f = BPF_CORE_READ(t, mm, exe_file);

	if (!f) {
		*ino = 0;
		*dev = 0;
		return;
	}
	*ino = BPF_CORE_READ(f, f_inode, i_ino);
	*dev = dev_to_user(BPF_CORE_READ(f, f_inode, i_sb, s_dev));
}

static __always_inline void fill_task(struct task_struct *t, struct ps_task *w)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	struct task_struct *parent = BPF_CORE_READ(leader, real_parent);

	w->tgid = BPF_CORE_READ(t, tgid);
	w->ppid = BPF_CORE_READ(parent, tgid);
	w->uid = BPF_CORE_READ(t, real_cred, uid.val);
	w->start_ns = BPF_CORE_READ(leader, start_boottime);
	w->pstart_ns = BPF_CORE_READ(parent, start_boottime);
	task_exe(leader, &w->exe_ino, &w->exe_dev);
	task_exe(parent, &w->pexe_ino, &w->pexe_dev);
	BPF_CORE_READ_STR_INTO(&w->comm, leader, comm);
	BPF_CORE_READ_STR_INTO(&w->pcomm, parent, comm);
	w->flags = PS_TASK_KNOWN;
}

/* The current process as the owner of a socket: refresh the snapshot only
 * when the process changed, so the common case is one comparison. */
static __always_inline void own_by_current(struct sock_state *st)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct scratch *s;

	if (st->owner.tgid == tgid && (st->owner.flags & PS_TASK_KNOWN))
		return;
	s = get_scratch();
	if (!s)
		return;
	fill_task((struct task_struct *)bpf_get_current_task(), &s->task);
	st->owner = s->task;
}

static __always_inline struct sock *kernel_sock(struct bpf_sock *bsk)
{
	if (!bpf_rdonly_cast)
		return NULL;
	return bpf_rdonly_cast(bsk, bpf_core_type_id_kernel(struct sock));
}

/* Facts about a socket that never change: read once. */
static __always_inline void sock_info(struct sock_state *st, struct sock *sk)
{
	struct socket *so;

	if ((st->flags & SS_INFO) || !sk)
		return;
	st->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	so = BPF_CORE_READ(sk, sk_socket);
	if (so)
		st->sock_ino = BPF_CORE_READ(so, file, f_inode, i_ino);
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_kern_sock))
		st->owner.flags = PS_TASK_KERNEL;
	if (bpf_core_field_exists(struct inet_sock, inet_flags)) {
		/* 6.6 and later: a bit of inet_flags (its enum is anonymous,
		 * so CO-RE cannot relocate the value; it has not moved) */
		struct inet_sock *inet = (void *)sk;

		if (BPF_CORE_READ(inet, inet_flags) & (1ul << 12))
			st->flags |= SS_HDRINCL;
	} else {
		struct inet_sock___old *inet = (void *)sk;

		if (BPF_CORE_READ_BITFIELD_PROBED(inet, hdrincl))
			st->flags |= SS_HDRINCL;
	}
	st->flags |= SS_INFO;
}

static __always_inline struct sock_state *sock_state_get(void *sk)
{
	struct sock_state *st = bpf_sk_storage_get(&socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (!st)
		stat_add(PS_STAT_SOCK_STATE_FAIL, 1);
	return st;
}

static __always_inline void emit_unowned(struct sock_state *st, struct ps_flow_key *key)
{
	struct ps_ev_unowned *ev;

	if (st->flags & SS_UNOWNED_SENT)
		return;
	st->flags |= SS_UNOWNED_SENT;
	stat_add(PS_STAT_UNOWNED, 1);
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_add(PS_STAT_RINGBUF_FULL, 1);
		return;
	}
	ev->hdr.type = PS_EV_UNOWNED;
	ev->hdr.version = PS_EVENT_VERSION;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ts_ns = bpf_ktime_get_boot_ns();
	ev->key = *key;
	ev->sock_ino = st->sock_ino;
	bpf_ringbuf_submit(ev, 0);
}

static __always_inline __u32 owner_tgid(struct sock_state *st)
{
	return (st->owner.flags & PS_TASK_KNOWN) ? st->owner.tgid : 0;
}

/* Add bytes to a flow, creating it (and telling the daemon) when new.
 * Returns 0, or -1 when the flow could not be stored (counted). */
static __always_inline int flow_add(struct ps_flow_key *key, struct sock_state *st,
				    __u64 sent, __u64 recv)
{
	static const struct ps_flow_count zero;
	struct ps_flow_count *c;

	key->tgid = owner_tgid(st);
	key->netns = st->netns;
	c = bpf_map_lookup_elem(&counts, key);
	if (!c) {
		struct ps_ev_flow *ev;
		struct scratch *s;
		long err;

		s = get_scratch();
		if (!s)
			return -1;
		__builtin_memset(&s->info, 0, sizeof(s->info));
		s->info.first_ns = bpf_ktime_get_boot_ns();
		s->info.sock_ino = st->sock_ino;
		s->info.who = st->owner;
		if (!(st->owner.flags & PS_TASK_KNOWN))
			s->info.who.tgid = 0;
		/* the identity first: whoever finds the counters finds it too */
		err = bpf_map_update_elem(&flows, key, &s->info, BPF_NOEXIST);
		if (err == 0)
			err = bpf_map_update_elem(&counts, key, &zero, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: another CPU won */) {
			stat_add(PS_STAT_FLOW_MAP_FULL, 1);
			stat_add(PS_STAT_BYTES_LOST_SENT, sent);
			stat_add(PS_STAT_BYTES_LOST_RECV, recv);
			return -1;
		}
		c = bpf_map_lookup_elem(&counts, key);
		if (!c)
			return -1;
		if (!err) {
			if (key->tgid) {
				ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
				if (ev) {
					ev->hdr.type = PS_EV_FLOW;
					ev->hdr.version = PS_EVENT_VERSION;
					ev->hdr.size = sizeof(*ev);
					ev->hdr.ts_ns = s->info.first_ns;
					ev->key = *key;
					ev->info = s->info;
					bpf_ringbuf_submit(ev, 0);
				} else {
					stat_add(PS_STAT_RINGBUF_FULL, 1);
				}
			} else if (!(st->owner.flags & PS_TASK_KERNEL)) {
				emit_unowned(st, key);
			}
		}
	}
	/* this CPU's copy: uncontended; atomic all the same, because a
	 * softirq can interrupt a process-context update of the same slot */
	if (sent)
		__sync_fetch_and_add(&c->sent, sent);
	if (recv)
		__sync_fetch_and_add(&c->recv, recv);
	return 0;
}

/* ---- IP packets: cgroup_skb ---- */

struct pkt {
	__u32 len;		/* whole packet from the network header */
	__u32 nhlen;		/* network header, with IPv6 extension headers */
	__u32 thlen;		/* transport header */
	__u32 seq;
	__u16 family;
	__u8 proto;
	__u8 tcp_flags;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline int parse_ipv6_ext(struct __sk_buff *skb, struct pkt *p, __u8 *nexthdr)
{
#pragma unroll
	for (int i = 0; i < 6; i++) {
		__u8 h[2];

		switch (*nexthdr) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
			if (bpf_skb_load_bytes(skb, p->nhlen, h, 2))
				return -1;
			*nexthdr = h[0];
			p->nhlen += (h[1] + 1) * 8;
			break;
		case 44:	/* fragment */
			if (bpf_skb_load_bytes(skb, p->nhlen, h, 2))
				return -1;
			*nexthdr = h[0];
			p->nhlen += 8;
			break;
		case 51:	/* authentication header */
			if (bpf_skb_load_bytes(skb, p->nhlen, h, 2))
				return -1;
			*nexthdr = h[0];
			p->nhlen += (h[1] + 2) * 4;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

/* Headers through bpf_skb_load_bytes: any layout, IPv6 extension headers
 * included. */
static __always_inline int parse_pkt_slow(struct __sk_buff *skb, struct pkt *p)
{
	p->len = skb->len;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr iph;

		if (bpf_skb_load_bytes(skb, 0, &iph, sizeof(iph)))
			return -1;
		p->family = AF_INET;
		p->proto = iph.protocol;
		p->nhlen = iph.ihl * 4;
		__builtin_memcpy(p->saddr, &iph.saddr, 4);
		__builtin_memcpy(p->daddr, &iph.daddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		__u8 nh;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return -1;
		p->family = AF_INET6;
		p->nhlen = sizeof(ip6);
		nh = ip6.nexthdr;
		if (parse_ipv6_ext(skb, p, &nh))
			return -1;
		p->proto = nh;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
	} else {
		return -1;
	}
	if (p->nhlen > p->len)
		return -1;

	switch (p->proto) {
	case IPPROTO_TCP: {
		struct tcphdr th;

		if (bpf_skb_load_bytes(skb, p->nhlen, &th, sizeof(th)))
			return -1;
		p->sport = bpf_ntohs(th.source);
		p->dport = bpf_ntohs(th.dest);
		p->seq = bpf_ntohl(th.seq);
		p->thlen = th.doff * 4;
		p->tcp_flags = (th.fin ? TCPF_FIN : 0) | (th.syn ? TCPF_SYN : 0);
		break;
	}
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE: {
		struct udphdr uh;

		if (bpf_skb_load_bytes(skb, p->nhlen, &uh, sizeof(uh)))
			return -1;
		p->sport = bpf_ntohs(uh.source);
		p->dport = bpf_ntohs(uh.dest);
		p->thlen = sizeof(uh);
		break;
	}
	case IPPROTO_SCTP: {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, p->nhlen, ports, sizeof(ports)))
			return -1;
		p->sport = bpf_ntohs(ports[0]);
		p->dport = bpf_ntohs(ports[1]);
		p->thlen = 12;
		break;
	}
	default:
		p->thlen = 0;
	}
	if (p->nhlen + p->thlen > p->len)
		return -1;
	return 0;
}

/* The common case, read in place: the headers are in the linear part of
 * the packet and IPv6 has no extension headers. */
static __always_inline int parse_pkt(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 nhlen;
	void *th;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data;

		if ((void *)(iph + 1) > end)
			return parse_pkt_slow(skb, p);
		nhlen = (iph->ihl & 0xf) * 4;
		p->family = AF_INET;
		p->proto = iph->protocol;
		__builtin_memcpy(p->saddr, &iph->saddr, 4);
		__builtin_memcpy(p->daddr, &iph->daddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;

		if ((void *)(ip6 + 1) > end)
			return parse_pkt_slow(skb, p);
		switch (ip6->nexthdr) {
		case IPPROTO_TCP:
		case IPPROTO_UDP:
		case IPPROTO_UDPLITE:
		case IPPROTO_ICMPV6:
			break;
		default:
			return parse_pkt_slow(skb, p);
		}
		nhlen = sizeof(*ip6);
		p->family = AF_INET6;
		p->proto = ip6->nexthdr;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	} else {
		return -1;
	}
	p->len = skb->len;
	p->nhlen = nhlen;
	th = data + nhlen;
	switch (p->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *t = th;

		if ((void *)(t + 1) > end)
			return parse_pkt_slow(skb, p);
		p->sport = bpf_ntohs(t->source);
		p->dport = bpf_ntohs(t->dest);
		p->seq = bpf_ntohl(t->seq);
		p->thlen = t->doff * 4;
		p->tcp_flags = (t->fin ? TCPF_FIN : 0) | (t->syn ? TCPF_SYN : 0);
		break;
	}
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE: {
		struct udphdr *u = th;

		if ((void *)(u + 1) > end)
			return parse_pkt_slow(skb, p);
		p->sport = bpf_ntohs(u->source);
		p->dport = bpf_ntohs(u->dest);
		p->thlen = sizeof(*u);
		break;
	}
	case IPPROTO_SCTP:
		return parse_pkt_slow(skb, p);
	default:
		p->thlen = 0;
	}
	if (p->nhlen + p->thlen > p->len)
		return -1;
	return 0;
}

/* SCTP: the payload is the user data of DATA (and I-DATA) chunks. */
static __always_inline __u64 sctp_payload(struct __sk_buff *skb, struct pkt *p)
{
	__u32 off = p->nhlen + p->thlen;
	__u64 bytes = 0;

#pragma unroll
	for (int i = 0; i < 16; i++) {
		struct {
			__u8 type;
			__u8 flags;
			__be16 length;
		} ch;
		__u32 clen;

		if (off + sizeof(ch) > p->len || bpf_skb_load_bytes(skb, off, &ch, sizeof(ch)))
			break;
		clen = bpf_ntohs(ch.length);
		if (clen < 4)
			break;
		if (ch.type == 0 && clen > 16)
			bytes += clen - 16;
		else if (ch.type == 64 && clen > 20)
			bytes += clen - 20;
		off += (clen + 3) & ~3u;
	}
	return bytes;
}

static __always_inline int tcp_state_has_data(__u32 state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSE_WAIT:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return 1;
	}
	return 0;
}

/* Received TCP payload is what the stack accepted in order: count up to
 * rcv_nxt (minus the peer's FIN, which takes a sequence number but carries
 * no data).  Called on every packet of the socket and at close, so the
 * count trails the stack by at most one segment until the next ACK. */
static __always_inline __u64 tcp_rcv_catchup(struct sock_state *st, __u32 rcv_nxt, __u32 state)
{
	__u32 limit, old;

	if (!tcp_state_has_data(state))
		return 0;
	if (!(st->flags & SS_RCV_INIT)) {
		st->rcv_cnt = rcv_nxt;
		st->flags |= SS_RCV_INIT;
		return 0;
	}
	limit = rcv_nxt;
	if ((st->flags & SS_FIN_KNOWN) && seq_after(limit, st->fin_seq))
		limit = st->fin_seq;
	old = st->rcv_cnt;
	if (!seq_after(limit, old))
		return 0;
	if (__sync_val_compare_and_swap(&st->rcv_cnt, old, limit) != old)
		return 0;	/* another CPU counted it */
	return limit - old;
}

static __always_inline __u64 tcp_snd_count(struct sock_state *st, struct pkt *p, __u32 payload)
{
	__u32 start = p->seq, end, old, from;

	if (p->tcp_flags & TCPF_SYN)
		start += 1;
	end = start + payload;
	if (!(st->flags & SS_SND_INIT)) {
		st->snd_cnt = start;
		st->flags |= SS_SND_INIT;
	}
	old = st->snd_cnt;
	if (!seq_after(end, old))
		return 0;	/* retransmission */
	if (__sync_val_compare_and_swap(&st->snd_cnt, old, end) != old)
		return 0;
	from = seq_after(start, old) ? start : old;
	return end - from;
}

static __always_inline void fill_key_ip(struct ps_flow_key *key, struct pkt *p, __u64 cookie,
					 int egress)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->cookie = cookie;
	key->family = p->family;
	key->proto = p->proto;
	if (egress) {
		key->lport = p->sport;
		key->rport = p->dport;
		__builtin_memcpy(key->laddr, p->saddr, 16);
		__builtin_memcpy(key->raddr, p->daddr, 16);
	} else {
		key->lport = p->dport;
		key->rport = p->sport;
		__builtin_memcpy(key->laddr, p->daddr, 16);
		__builtin_memcpy(key->raddr, p->saddr, 16);
	}
}

static __always_inline void count_skb(struct __sk_buff *skb, int egress)
{
	struct bpf_sock *bsk = skb->sk;
	struct ps_flow_key key;
	struct sock_state *st;
	struct pkt p = {};
	__u64 sent = 0, recv = 0, cookie;
	__u32 type, sproto, payload;

	if (!bsk)
		return;
	bsk = bpf_sk_fullsock(bsk);
	if (!bsk)
		return;
	type = bsk->type;
	sproto = bsk->protocol;
	if (type == SOCK_STREAM && sproto == IPPROTO_TCP && bsk->state == TCP_LISTEN)
		return;
	if (parse_pkt(skb, &p)) {
		stat_add(PS_STAT_PARSE_FAIL, 1);
		return;
	}
	st = sock_state_get(bsk);
	if (!st)
		return;
	if (!(st->flags & SS_INFO))
		sock_info(st, kernel_sock(bsk));
	/* kernel control sockets (RST, ICMP errors) answer for the stack */
	if ((st->owner.flags & PS_TASK_KERNEL) && type == SOCK_RAW)
		return;
	payload = p.len - p.nhlen - p.thlen;
	cookie = bpf_get_socket_cookie(skb);

	if (type == SOCK_STREAM && sproto == IPPROTO_TCP) {
		struct tcp_sock *ktp;

		if (p.proto != IPPROTO_TCP)
			return;
		ktp = bpf_skc_to_tcp_sock(bsk);
		if (!ktp)
			return;
		if (egress) {
			/* the socket lock is held by the caller: process context */
			if (ktp->inet_conn.icsk_inet.sk.sk_lock.owned &&
			    !(st->owner.flags & PS_TASK_KERNEL))
				own_by_current(st);
			sent = tcp_snd_count(st, &p, payload);
		} else {
			if (p.tcp_flags & TCPF_SYN) {
				st->rcv_cnt = p.seq + 1;
				st->flags |= SS_RCV_INIT;
			}
			if (p.tcp_flags & TCPF_FIN) {
				st->fin_seq = p.seq + payload + ((p.tcp_flags & TCPF_SYN) ? 1 : 0);
				st->flags |= SS_FIN_KNOWN;
			}
		}
		recv = tcp_rcv_catchup(st, ktp->rcv_nxt, bsk->state);
		/* a packet without payload (a SYN, or the first packet seen of
		 * an older connection) records the flow; later ones (pure ACKs)
		 * cost one comparison */
		if (!sent && !recv && (st->flags & SS_FLOW) && st->flow_tgid == owner_tgid(st))
			return;
	} else {
		__u64 bytes;

		if (type == SOCK_RAW) {
			/* IPv4 raw sockets read the IP header, and write it
			 * when they set IP_HDRINCL; IPv6 raw sockets never */
			if (p.family == AF_INET && (!egress || (st->flags & SS_HDRINCL) ||
						    sproto == IPPROTO_RAW))
				bytes = p.len;
			else if (p.family == AF_INET6 && egress && sproto == IPPROTO_RAW)
				bytes = p.len;
			else
				bytes = p.len - p.nhlen;
		} else if (p.proto == IPPROTO_SCTP) {
			bytes = sctp_payload(skb, &p);
		} else if (p.proto == IPPROTO_UDP || p.proto == IPPROTO_UDPLITE) {
			bytes = payload;
		} else {
			/* ping sockets: ICMP header and data */
			bytes = p.len - p.nhlen;
		}
		if (egress) {
			/* datagram sockets send from the caller's context */
			if (!(st->owner.flags & PS_TASK_KERNEL))
				own_by_current(st);
			sent = bytes;
		} else {
			recv = bytes;
		}
	}

	/* nothing to count and nobody to name yet: wait for bytes or a process */
	if (!sent && !recv && !(st->owner.flags & PS_TASK_KNOWN))
		return;
	fill_key_ip(&key, &p, cookie, egress);
	if (flow_add(&key, st, sent, recv))
		return;
	if (type == SOCK_STREAM) {
		st->flow_tgid = key.tgid;
		st->flags |= SS_FLOW;
	}
}

SEC("cgroup_skb/egress")
int ps_egress(struct __sk_buff *skb)
{
	count_skb(skb, 1);
	return 1;
}

SEC("cgroup_skb/ingress")
int ps_ingress(struct __sk_buff *skb)
{
	count_skb(skb, 0);
	return 1;
}

/* A datagram counted on ingress was then dropped because the socket's
 * receive buffer was full: it never reached the application, so take it
 * back.  Drops are rare, so the work of finding its flow again is done
 * here rather than remembered for every packet. */
static __always_inline void uncount_drop(struct sock *sk, struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	__u16 family = sk->__sk_common.skc_family;
	__u16 type = sk->sk_type;
	struct sock_state *st;
	struct ps_flow_key key = {};
	struct ps_flow_count *c;
	__u64 bytes;
	__u8 proto;

	if (family != AF_INET && family != AF_INET6)
		return;
	st = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (!st)
		return;
	if (family == AF_INET) {
		struct iphdr iph;

		if (bpf_probe_read_kernel(&iph, sizeof(iph), head + nh))
			return;
		proto = iph.protocol;
		__builtin_memcpy(key.laddr, &iph.daddr, 4);
		__builtin_memcpy(key.raddr, &iph.saddr, 4);
		bytes = bpf_ntohs(iph.tot_len);
		if (type != SOCK_RAW)
			bytes -= (iph.ihl & 0xf) * 4;
	} else {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		proto = ip6.nexthdr;
		__builtin_memcpy(key.laddr, &ip6.daddr, 16);
		__builtin_memcpy(key.raddr, &ip6.saddr, 16);
		bytes = bpf_ntohs(ip6.payload_len);
	}
	if (type == SOCK_DGRAM && (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE)) {
		struct udphdr uh;

		if (bpf_probe_read_kernel(&uh, sizeof(uh), head + skb->transport_header))
			return;
		key.lport = bpf_ntohs(uh.dest);
		key.rport = bpf_ntohs(uh.source);
		bytes = bpf_ntohs(uh.len) - sizeof(uh);
	}
	key.cookie = bpf_get_socket_cookie(sk);
	key.tgid = owner_tgid(st);
	key.netns = st->netns;
	key.family = family;
	key.proto = proto;
	/* the datagram was counted on this CPU moments ago */
	c = bpf_map_lookup_elem(&counts, &key);
	if (!c || c->recv < bytes)
		return;
	__sync_fetch_and_sub(&c->recv, bytes);
	stat_add(PS_STAT_RECV_DROPS, 1);
}

SEC("tp_btf/udp_fail_queue_rcv_skb")
int BPF_PROG(ps_udp_drop, int rc, struct sock *sk, struct sk_buff *skb)
{
	uncount_drop(sk, skb);
	return 0;
}

SEC("tp_btf/sock_rcvqueue_full")
int BPF_PROG(ps_rcvqueue_full, struct sock *sk, struct sk_buff *skb)
{
	uncount_drop(sk, skb);
	return 0;
}

/* ---- socket life cycle: ownership hints and closing ---- */

SEC("cgroup/sock_create")
int ps_sock_create(struct bpf_sock *bsk)
{
	struct sock_state *st = sock_state_get(bsk);

	if (st)
		own_by_current(st);
	return 1;
}

static __always_inline void listen_key(struct ps_listen_key *k, __u32 netns, __u16 family,
				       __u16 proto, __u16 lport)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns = netns;
	k->family = family;
	k->proto = proto;
	k->lport = lport;
}

static __always_inline int post_bind(struct bpf_sock *bsk)
{
	struct sock_state *st = sock_state_get(bsk);
	struct ps_listen_key k;

	if (!st)
		return 1;
	own_by_current(st);
	sock_info(st, kernel_sock(bsk));
	if (bsk->protocol == IPPROTO_UDP || bsk->protocol == IPPROTO_UDPLITE) {
		listen_key(&k, st->netns, bsk->family, bsk->protocol, bsk->src_port);
		bpf_map_update_elem(&listeners, &k, &st->owner, BPF_ANY);
		st->bound_port = bsk->src_port;
	}
	return 1;
}

SEC("cgroup/post_bind4")
int ps_post_bind4(struct bpf_sock *bsk)
{
	return post_bind(bsk);
}

SEC("cgroup/post_bind6")
int ps_post_bind6(struct bpf_sock *bsk)
{
	return post_bind(bsk);
}

static __always_inline void mark_closed(__u64 cookie)
{
	__u64 now = bpf_ktime_get_boot_ns();

	bpf_map_update_elem(&closed, &cookie, &now, BPF_ANY);
}

/* Datagram and raw sockets carry nothing after the last close. */
SEC("cgroup/sock_release")
int ps_sock_release(struct bpf_sock *bsk)
{
	struct sock_state *st;
	struct ps_listen_key k;

	if (bsk->type == SOCK_STREAM && bsk->protocol == IPPROTO_TCP)
		return 1;	/* TCP lives on after close; see ps_tcp_state */
	st = bpf_sk_storage_get(&socks, bsk, 0, 0);
	if (!st)
		return 1;
	if (st->bound_port) {
		listen_key(&k, st->netns, bsk->family, bsk->protocol, st->bound_port);
		bpf_map_delete_elem(&listeners, &k);
	}
	mark_closed(bpf_get_socket_cookie(bsk));
	return 1;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ps_tcp_state, struct sock *sk, int oldstate, int newstate)
{
	struct sock_state *st;
	struct ps_listen_key k;
	__u16 family;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (newstate == TCP_LISTEN) {
		/* listen() runs in the listener's context */
		st = bpf_sk_storage_get(&socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!st)
			return 0;
		own_by_current(st);
		listen_key(&k, sk->__sk_common.skc_net.net->ns.inum, family, IPPROTO_TCP,
			   sk->__sk_common.skc_num);
		bpf_map_update_elem(&listeners, &k, &st->owner, BPF_ANY);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	if (oldstate == TCP_LISTEN) {
		listen_key(&k, sk->__sk_common.skc_net.net->ns.inum, family, IPPROTO_TCP,
			   sk->__sk_common.skc_num);
		bpf_map_delete_elem(&listeners, &k);
		return 0;
	}
	st = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (!st)
		return 0;
	if (st->flags & SS_SND_INIT || st->flags & SS_RCV_INIT) {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
		__u64 recv = tp ? tcp_rcv_catchup(st, tp->rcv_nxt, oldstate) : 0;

		if (recv) {
			struct ps_flow_key key = {};

			key.cookie = bpf_get_socket_cookie(sk);
			key.family = family;
			key.proto = IPPROTO_TCP;
			key.lport = sk->__sk_common.skc_num;
			key.rport = bpf_ntohs(sk->__sk_common.skc_dport);
			if (family == AF_INET) {
				__builtin_memcpy(key.laddr, &sk->__sk_common.skc_rcv_saddr, 4);
				__builtin_memcpy(key.raddr, &sk->__sk_common.skc_daddr, 4);
			} else {
				BPF_CORE_READ_INTO(&key.laddr, sk, __sk_common.skc_v6_rcv_saddr);
				BPF_CORE_READ_INTO(&key.raddr, sk, __sk_common.skc_v6_daddr);
			}
			flow_add(&key, st, 0, recv);
		}
	}
	mark_closed(bpf_get_socket_cookie(sk));
	return 0;
}

/* ---- AF_PACKET: frames that never pass through IP ---- */

static __always_inline void fill_key_packet(struct ps_flow_key *key, struct sk_buff *skb,
					     __u64 cookie, int egress)
{
	unsigned char *head = skb->head;
	__u16 mac = skb->mac_header;
	__u8 hdr[12];

	__builtin_memset(key, 0, sizeof(*key));
	key->cookie = cookie;
	key->family = AF_PACKET;
	key->proto = bpf_ntohs(skb->protocol);
	if (mac == (__u16)~0u || bpf_probe_read_kernel(hdr, sizeof(hdr), head + mac))
		return;
	/* dst MAC, then src MAC */
	__builtin_memcpy(egress ? key->laddr : key->raddr, hdr + 6, 6);
	__builtin_memcpy(egress ? key->raddr : key->laddr, hdr, 6);
}

/* skb->sk is only RCU-protected here, which the cookie helper refuses;
 * packet sockets are told apart by inode instead (high bit set, so the
 * value cannot collide with a real cookie in practice). */
static __always_inline __u64 packet_cookie(struct sock_state *st)
{
	return (1ull << 63) | st->sock_ino;
}

static __always_inline __u64 packet_payload(struct sock *sk, struct sk_buff *skb)
{
	/* SOCK_DGRAM packet sockets do not see the link-layer header */
	if (sk->sk_type == SOCK_DGRAM && skb->mac_header != (__u16)~0u &&
	    skb->network_header > skb->mac_header)
		return skb->len - (skb->network_header - skb->mac_header);
	return skb->len;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(ps_packet_send, struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	struct sock_state *st;
	struct ps_flow_key key;

	if (!sk || sk->__sk_common.skc_family != AF_PACKET)
		return 0;
	st = sock_state_get(sk);
	if (!st)
		return 0;
	sock_info(st, sk);
	own_by_current(st);	/* packet_sendmsg runs in the sender's context */
	fill_key_packet(&key, skb, packet_cookie(st), 1);
	flow_add(&key, st, packet_payload(sk, skb), 0);
	return 0;
}

/* The process asleep waiting for data on this socket, if any: called as
 * data arrives, so for a socket nobody has done I/O on yet (AF_PACKET
 * sockets have no creation hook) it names the reader. */
static __always_inline struct task_struct *sleeping_reader(struct sock *sk)
{
	struct socket_wq *wq = BPF_CORE_READ(sk, sk_wq);
	unsigned long head, pos;

	if (!wq)
		return NULL;
	head = (unsigned long)wq + bpf_core_field_offset(struct socket_wq, wait) +
	       bpf_core_field_offset(struct wait_queue_head, head);
	pos = (unsigned long)BPF_CORE_READ(wq, wait.head.next);
#pragma unroll
	for (int i = 0; i < 4; i++) {
		struct wait_queue_entry *we;
		const void *func;
		void *priv;

		if (!pos || pos == head)
			break;
		we = (void *)(pos - bpf_core_field_offset(struct wait_queue_entry, entry));
		func = BPF_CORE_READ(we, func);
		priv = BPF_CORE_READ(we, private);
		if (func && priv &&
		    (func == &receiver_wake_function || func == &autoremove_wake_function ||
		     func == &woken_wake_function))
			return priv;
		if (func && priv && func == &pollwake)
			return BPF_CORE_READ((struct poll_wqueues *)priv, polling_task);
		pos = (unsigned long)BPF_CORE_READ((struct list_head *)pos, next);
	}
	return NULL;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(ps_packet_recv, struct sock *sk)
{
	struct sk_buff *skb;
	struct sock_state *st;
	struct ps_flow_key key;

	if (sk->__sk_common.skc_family != AF_PACKET)
		return 0;
	/* packet_rcv queued the frame last; ring (mmap) readers queue none */
	skb = (struct sk_buff *)sk->sk_receive_queue.prev;
	if ((void *)skb == (void *)&sk->sk_receive_queue)
		return 0;
	st = sock_state_get(sk);
	if (!st)
		return 0;
	sock_info(st, sk);
	if (!(st->owner.flags & PS_TASK_KNOWN)) {
		struct task_struct *reader = sleeping_reader(sk);
		struct scratch *sc = get_scratch();

		if (reader && sc) {
			fill_task(reader, &sc->task);
			if (sc->task.tgid)
				st->owner = sc->task;
		}
	}
	fill_key_packet(&key, skb, packet_cookie(st), 0);
	flow_add(&key, st, 0, skb->len);
	return 0;
}

/* ---- exec: remember what each process is, while it still exists ---- */

/* A process made by fork without exec runs the same program: it inherits
 * its parent's entry, so it can be named after it exits. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(ps_fork, struct task_struct *parent, struct task_struct *child)
{
	struct ps_exec_info *pe;
	struct scratch *s;
	__u32 ptgid = parent->tgid, ctgid = child->tgid;

	if (child->pid != ctgid)
		return 0;	/* a thread */
	pe = bpf_map_lookup_elem(&execs, &ptgid);
	s = get_scratch();
	if (!pe || !s)
		return 0;
	s->exec = *pe;
	fill_task(child, &s->exec.who);
	if (bpf_map_update_elem(&execs, &ctgid, &s->exec, BPF_ANY))
		stat_add(PS_STAT_EXEC_CACHE_FAIL, 1);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ps_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scratch *s = get_scratch();
	struct ps_exec_info *e;
	unsigned long arg_start, arg_end, n;
	__u32 tgid;

	if (!s)
		return 0;
	e = &s->exec;
	fill_task(p, &e->who);
	tgid = e->who.tgid;
	e->path_len = 0;
	e->args_len = 0;
	long r = bpf_probe_read_kernel_str(e->path, sizeof(e->path), bprm->filename);

	if (r > 0)
		e->path_len = r;
	arg_start = BPF_CORE_READ(p, mm, arg_start);
	arg_end = BPF_CORE_READ(p, mm, arg_end);
	n = arg_end - arg_start;
	if (n > sizeof(e->args))
		n = sizeof(e->args);
	/* a fixed-size read: the environment follows the arguments */
	if (n && !bpf_probe_read_user(e->args, sizeof(e->args), (void *)arg_start))
		e->args_len = n;
	if (bpf_map_update_elem(&execs, &tgid, e, BPF_ANY))
		stat_add(PS_STAT_EXEC_CACHE_FAIL, 1);
	if (cfg_every_exe) {
		struct ps_ev_exec *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

		if (!ev) {
			stat_add(PS_STAT_RINGBUF_FULL, 1);
			return 0;
		}
		ev->hdr.type = PS_EV_EXEC;
		ev->hdr.version = PS_EVENT_VERSION;
		ev->hdr.size = sizeof(*ev);
		ev->hdr.ts_ns = bpf_ktime_get_boot_ns();
		ev->info = *e;
		bpf_ringbuf_submit(ev, 0);
	}
	return 0;
}
