// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel half of picosnitch: counts the application payload bytes of
 * every socket and attributes them to the process that does the I/O.
 *
 * Design (docs/sensor.md has the measurements behind it):
 *  - Nothing runs per system call, so small writes pay nothing, and every
 *    system call is seen alike (read/write, send*, sendmmsg, sendfile,
 *    splice, io_uring).
 *  - TCP is counted from the kernel's own 64-bit per-socket counters:
 *    bytes_acked plus what is in flight (new data sent, never
 *    retransmissions) and bytes_received (data accepted in order), less
 *    SYN and FIN.  They are read when the owner changes, at close, and at
 *    every drain (a socket iterator), so a TCP packet costs only an
 *    ownership check, and no amount of data between two reads wraps.
 *  - Datagrams are counted per packet: sent at net_dev_queue (IP fragments
 *    and AF_PACKET frames included), received at cgroup_skb ingress on the
 *    cgroup2 root, and sk_data_ready for AF_PACKET sockets.  A datagram
 *    dropped on a full receive buffer is taken back.
 *  - Attribution: a socket's owner is the last process seen sending on it
 *    (TCP with the socket lock held by the caller; datagrams from a task
 *    that has the socket open), or failing that its creator, binder or
 *    listener.  What the kernel moves on its own (ACK-clocked sends, all
 *    receives) goes to that owner.  A socket with no known owner is
 *    reported to the daemon, which finds its holder in /proc.
 *  - Each (socket, owner, peer) is a flow: its identity is written once to
 *    `flows` (and announced on the ring buffer), its bytes are added to
 *    per-CPU `counts` that the daemon reads periodically.  Every loss is
 *    counted in `stats`.
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
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58
#define IPPROTO_SCTP 132
#define IPPROTO_UDPLITE 136
#define IPPROTO_RAW 255
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02

/* tcp_states.h */
#define TCP_ESTABLISHED 1
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_TIME_WAIT 6
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10
#define TCP_CLOSING 11
#define TCP_NEW_SYN_RECV 12

/* preempt.h */
#define SOFTIRQ_OFFSET 0x100
#define HARDIRQ_MASK 0xf0000
#define NMI_MASK 0xf00000

/* Set by the daemon before load. */
const volatile __u32 cfg_every_exe = 0;
/* The daemon itself: it locks sockets while it reads them (iter/tcp), and
 * releasing such a lock may send queued data in its context; it never
 * sends on other processes' sockets, so it never becomes their owner. */
const volatile __u32 cfg_self_tgid = 0;
/* Take the bpf_probe_read_kernel path even where bpf_rdonly_cast exists
 * (PICOSNITCH_NO_RDONLY_CAST=1): to measure what kernels before 6.2 pay,
 * and to test that path on any kernel. */
const volatile __u32 cfg_no_rdonly_cast = 0;
/* The daemon's network namespace, the one its TCP iterator walks. */
const volatile __u32 cfg_own_netns = 0;

/* Socket ids, unique for the life of the sensor. */
__u64 next_sock_id = 0;

/* Set by the daemon once it has mapped dgram_slots: only then are they read. */
__u32 dgram_slots_on = 0;

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
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);	/* socket id */
	__type(value, __u64);	/* when */
} closed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);	/* tgid */
	__type(value, struct ps_exec_info);
} execs SEC(".maps");

/* Processes whose first flow was announced: the daemon needs one prompt
 * record per process (to name it while it surely exists); its later flows
 * are named from the daemon's cache when the counters are read. */
struct announced_key {
	__u64 start_ns;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct announced_key);
	__type(value, __u8);
} announced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
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

/* Per-socket state, freed by the kernel with the socket.  The packet path
 * of one socket runs on two CPUs at once (a sender and the softirq that
 * delivers the replies), so fields written per packet sit on cache lines
 * of their own, apart from the read-mostly ones. */
struct sock_state {
	/* read on every packet, written rarely (and apart from the TCP
	 * counters, written at drains) */
	__u64 id;		/* socket id in flow keys */
	__u64 sock_ino;
	__u32 netns;
	__u32 flags;
	__u32 flow_tgid;	/* TCP: owner whose flow exists (SS_FLOW) */
	__u32 bound_port;	/* UDP: the port in the listeners map */
	__u16 frag_lport;	/* IP fragments: the ports of the datagram */
	__u16 frag_rport;	/* whose first fragment was seen last */
	__u32 first_sent;	/* UDP: datagrams whose first bytes were copied */
	struct ps_task owner;
	/* TCP: the connection's addresses, kept from when they were first
	 * read (at close the kernel has already released the local port) */
	__u8 tcp_laddr[16];
	__u8 tcp_raddr[16];
	__u16 tcp_lport;
	__u16 tcp_rport;
	__u16 tcp_family;
	/* TCP: the socket's byte counters (see tcp_snap) counted up to;
	 * written at drains, owner changes and close, by compare-and-swap */
	__u64 snd_counted __attribute__((aligned(64)));
	__u64 rcv_counted;
	/* TCP in another namespace: the TCP clock (tcp_mstamp, µs) when it
	 * was last counted from the packet path */
	__u64 tcp_counted_us;
	/* UDP: the socket's first owned flow, whose later packets are counted
	 * in dgram_slots[dc_slot] instead of `counts` (see there).  dc_key is
	 * written once (DC_FILLING), then only read (DC_READY). */
	__u32 dc_state;
	__u32 dc_slot;
	struct ps_flow_key dc_key;
};

#define DC_EMPTY 0u	/* no cached flow yet */
#define DC_FILLING 1u	/* being set up */
#define DC_READY 2u	/* dc_key and dc_slot are valid */
#define DC_NONE 3u	/* no slot was free, or the socket closed: never cache */

#define SS_TCP_INIT 1u		/* TCP: snd/rcv_counted hold baselines */
#define SS_FIN_QUEUED 2u	/* TCP: our FIN is in the write queue */
#define SS_UNOWNED_SENT 8u
#define SS_INFO 16u		/* sock_ino, netns, flags below filled in */
#define SS_HDRINCL 32u		/* raw socket that writes its own IP header */
#define SS_FLOW 64u		/* TCP: the flow of flow_tgid exists */
#define SS_TUPLE 128u		/* TCP: tcp_laddr..tcp_family are set */
#define SS_DRAINED 256u		/* TCP: seen by a drain while it had no owner */
#define SS_NEW 512u		/* created while the sensor ran (cgroup/sock_create) */
#define SS_CLOSED 1024u		/* TCP: reached CLOSE and was counted for the last time */

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} socks SEC(".maps");

/* The counters of UDP sockets' cached flows.  A socket's first owned flow
 * is created in `flows` and `counts` as any other; the socket then takes
 * the slot its id maps to (when free) and counts that flow's later packets
 * there: no hash lookup per datagram, where the hash lookups were most of
 * the sensor's cost.  The daemon reads the slots through a shared mapping
 * and adds them to the flow of the same key; it frees a slot once the
 * socket has closed and its counts were read. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, PS_DGRAM_SLOTS);
	__type(key, __u32);
	__type(value, struct ps_dgram_slot);
} dgram_slots SEC(".maps");

/* Scratch space for the exec hooks (task context only: they never
 * interrupt each other), too big for the 512-byte stack. */
struct scratch {
	struct ps_exec_info exec;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* Point `ptr` at the kernel object of its type at addr.  Where the kernel
 * offers bpf_rdonly_cast (6.2 and later) reads through it are plain loads
 * that the JIT makes fault-safe; elsewhere the object is copied into
 * `copy` with bpf_probe_read_kernel, a helper call that costs ~60 ns on
 * the packet path.  Read fields one at a time: the verifier refuses loads
 * that straddle two members.  0 or negative errno. */
#define KVIEW(ptr, copy, addr)                                                              \
	({                                                                                  \
		long __r = 0;                                                               \
		if (bpf_rdonly_cast && !cfg_no_rdonly_cast) {                              \
			(ptr) = bpf_rdonly_cast((void *)(addr),                             \
						bpf_core_type_id_kernel(typeof(*(ptr))));   \
		} else {                                                                    \
			__r = bpf_probe_read_kernel(&(copy), sizeof(copy), (void *)(addr)); \
			(ptr) = &(copy);                                                    \
		}                                                                           \
		__r;                                                                        \
	})

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

/* ---- helpers ---- */

/* Per-CPU, but atomic all the same: a softirq program can interrupt a
 * task-context one between its load and its store. */
static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* Flags are set from several CPUs and contexts at once (a sender, the
 * softirq delivering to the same socket, a drain): a plain |= could lose
 * one. */
#define set_flags(st, f) __sync_fetch_and_or(&(st)->flags, (f))

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch_map, &zero);
}

/* Kernels without bpf_loop search this many descriptors. */
#define FD_SEARCH_OLD_MAX 256

struct fd_search {
	struct file **fds;
	struct file *want;
	__u32 max;
	__u32 found;
};

static long fd_search_step(__u32 i, void *ctx)
{
	struct fd_search *fs = ctx;
	struct file *f = NULL;

	if (i >= fs->max)
		return 1;
	bpf_probe_read_kernel(&f, sizeof(f), &fs->fds[i]);
	if (f == fs->want) {
		fs->found = 1;
		return 1;
	}
	return 0;
}

/* Whether the current task has the socket's file open.  A datagram can be
 * sent on behalf of its sender from an interrupt (a packet held back for
 * neighbour resolution): then `current` is whoever was interrupted, and
 * must not become the socket's owner.  Only asked when the sender seems to
 * have changed, so the walk of the descriptor table is rare. */
static __always_inline int current_holds(struct sock *sk)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct fd_search fs = {};

	fs.want = BPF_CORE_READ(sk, sk_socket, file);
	if (!fdt || !fs.want)
		return 0;
	fs.fds = BPF_CORE_READ(fdt, fd);
	fs.max = BPF_CORE_READ(fdt, max_fds);
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop)) {
		bpf_loop(fs.max < 65536 ? fs.max : 65536, fd_search_step, &fs, 0);
	} else {
		/* before 5.17: a bounded loop over the first descriptors */
		for (__u32 i = 0; i < FD_SEARCH_OLD_MAX; i++)
			if (fd_search_step(i, &fs))
				break;
	}
	return fs.found;
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
	struct task_struct *parent = BPF_CORE_READ(leader, real_parent, group_leader);
	struct task_struct *gparent = BPF_CORE_READ(parent, real_parent, group_leader);

	w->tgid = BPF_CORE_READ(t, tgid);
	w->ppid = BPF_CORE_READ(parent, tgid);
	w->gppid = BPF_CORE_READ(gparent, tgid);
	w->uid = BPF_CORE_READ(t, real_cred, uid.val);
	w->start_ns = BPF_CORE_READ(leader, start_boottime);
	w->pstart_ns = BPF_CORE_READ(parent, start_boottime);
	w->gpstart_ns = BPF_CORE_READ(gparent, start_boottime);
	task_exe(leader, &w->exe_ino, &w->exe_dev);
	task_exe(parent, &w->pexe_ino, &w->pexe_dev);
	task_exe(gparent, &w->gpexe_ino, &w->gpexe_dev);
	BPF_CORE_READ_STR_INTO(&w->comm, leader, comm);
	BPF_CORE_READ_STR_INTO(&w->pcomm, parent, comm);
	BPF_CORE_READ_STR_INTO(&w->gpcomm, gparent, comm);
	w->flags = PS_TASK_KNOWN;
}

/* The current process as the owner of a socket: refresh the snapshot only
 * when the process changed, so the common case is one comparison.  The
 * snapshot is built on the stack: a per-CPU buffer could be reused by a
 * softirq program interrupting this one. */
static __always_inline void own_by_current(struct sock_state *st)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ps_task t;

	if ((st->owner.flags & PS_TASK_KNOWN) && st->owner.tgid == tgid)
		return;
	if (st->owner.flags & PS_TASK_KERNEL)
		return;
	fill_task((struct task_struct *)bpf_get_current_task(), &t);
	st->owner = t;
}

static __always_inline __u32 owner_tgid(struct sock_state *st)
{
	return (st->owner.flags & PS_TASK_KNOWN) ? st->owner.tgid : 0;
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
			set_flags(st, SS_HDRINCL);
	} else {
		struct inet_sock___old *inet = (void *)sk;

		if (BPF_CORE_READ_BITFIELD_PROBED(inet, hdrincl))
			set_flags(st, SS_HDRINCL);
	}
	set_flags(st, SS_INFO);
}

/* An accepted socket has no file until accept() returns: its inode, which
 * the daemon needs to find the process in /proc, is read once it has. */
static __always_inline void sock_refresh_ino(struct sock_state *st, struct sock *sk)
{
	struct socket *so;

	if (st->sock_ino)
		return;
	so = BPF_CORE_READ(sk, sk_socket);
	if (so)
		st->sock_ino = BPF_CORE_READ(so, file, f_inode, i_ino);
}

/* A cgroup hook's socket as a kernel struct sock whose fields can be
 * loaded directly (6.2+, bpf_rdonly_cast); NULL elsewhere. */
static __always_inline struct sock *kernel_sock(struct bpf_sock *bsk)
{
	if (!bpf_rdonly_cast || cfg_no_rdonly_cast)
		return NULL;
	return bpf_rdonly_cast(bsk, bpf_core_type_id_kernel(struct sock));
}

/* A socket pointer of either kind (struct sock, or struct bpf_sock, which
 * is the same object) as a plain number, for BPF_CORE_READ (probe reads):
 * the verifier allows no arithmetic on a struct bpf_sock pointer, so its
 * value is copied out of the stack with a probe read.  NULL if that fails. */
static __always_inline struct sock *sock_number(void *p)
{
	unsigned long addr = 0;

	barrier_var(p);
	if (bpf_probe_read_kernel(&addr, sizeof(addr), &p))
		return NULL;
	return (struct sock *)addr;
}

/* The same socket as an address for BPF_CORE_READ, on any kernel: where
 * bpf_rdonly_cast exists, the cast (plain loads). */
static __always_inline struct sock *sock_addr(struct bpf_sock *bsk)
{
	struct sock *sk = kernel_sock(bsk);

	return sk ? sk : sock_number(bsk);
}

/* Whether the kernel is freeing the socket: its last reference is gone (a
 * datagram still leaving, or arriving, after the last close). */
static __always_inline bool sock_freeing(void *sk)
{
	struct sock *s = sock_number(sk);

	return s && BPF_CORE_READ(s, __sk_common.skc_refcnt.refs.counter) == 0;
}

static __always_inline struct sock_state *sock_state_get(void *sk)
{
	struct sock_state *st = bpf_sk_storage_get(&socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	/* A socket's first storage is published with a compare-and-swap: when
	 * another CPU made it at the same moment (the first packets of a
	 * socket older than the sensor, sent and received at once), creating
	 * fails here and the other CPU's is there to use. */
	if (!st)
		st = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (!st) {
		/* the kernel gives a socket it is freeing no new storage */
		stat_add(sock_freeing(sk) ? PS_STAT_SOCK_FREEING : PS_STAT_SOCK_STATE_FAIL, 1);
		return NULL;
	}
	if (!st->id) {
		__u64 id = __sync_fetch_and_add(&next_sock_id, 1) + 1;

		__sync_val_compare_and_swap(&st->id, 0, id);
	}
	return st;
}

static __always_inline void emit_unowned(struct sock_state *st, struct ps_flow_key *key)
{
	struct ps_ev_unowned *ev;

	if (st->flags & SS_UNOWNED_SENT)
		return;
	set_flags(st, SS_UNOWNED_SENT);
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
	/* not worth waking the daemon for on its own: a busy server's
	 * accepted sockets are all unowned until accept(), and a wake-up per
	 * connection cost a flood a third of its rate.  The daemon reads these
	 * with the next event that wakes it, at a drain (every second), or
	 * when a quarter of the ring buffer is waiting. */
	bpf_ringbuf_submit(ev, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
				       bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4 ?
			       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* A flow update that failed, with the bytes it carried: the table was full
 * (-E2BIG, or no memory), or its bucket was locked by the update this
 * program interrupted on the same CPU (-EBUSY): told apart, because the
 * cure differs. */
static __always_inline void lost(long err, __u64 sent, __u64 recv)
{
	if (err == -16 /* EBUSY */) {
		stat_add(PS_STAT_FLOW_BUSY, 1);
		stat_add(PS_STAT_BUSY_LOST_SENT, sent);
		stat_add(PS_STAT_BUSY_LOST_RECV, recv);
		return;
	}
	stat_add(PS_STAT_FLOW_MAP_FULL, 1);
	stat_add(PS_STAT_BYTES_LOST_SENT, sent);
	stat_add(PS_STAT_BYTES_LOST_RECV, recv);
}

static __always_inline void announce_flow(struct sock_state *st, struct ps_flow_key *key,
					  struct ps_flow_info *info)
{
	struct ps_ev_flow *ev;

	struct announced_key ak = {};
	__u8 one = 1;

	if (!key->tgid) {
		if (!(st->owner.flags & PS_TASK_KERNEL))
			emit_unowned(st, key);
		return;
	}
	ak.tgid = key->tgid;
	ak.start_ns = info->who.start_ns;
	if (bpf_map_lookup_elem(&announced, &ak))
		return;
	bpf_map_update_elem(&announced, &ak, &one, BPF_ANY);
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_add(PS_STAT_RINGBUF_FULL, 1);
		return;
	}
	ev->hdr.type = PS_EV_FLOW;
	ev->hdr.version = PS_EVENT_VERSION;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ts_ns = info->first_ns;
	ev->key = *key;
	ev->info = *info;
	bpf_ringbuf_submit(ev, 0);
}

/* Add bytes to a flow, creating it (and telling the daemon) when new.
 * key holds the socket's side; the owner, socket id and namespace are
 * filled in here.  Returns 0, or -1 when the bytes could not be stored
 * (counted as a loss). */
static __always_inline int flow_count(struct ps_flow_key *key, struct sock_state *st,
				      __u64 sent, __u64 recv)
{
	static const struct ps_flow_count zero;
	struct ps_flow_count *c;

	c = bpf_map_lookup_elem(&counts, key);
	if (!c) {
		struct ps_flow_info info = {};
		long err;

		info.first_ns = bpf_ktime_get_boot_ns();
		info.sock_ino = st->sock_ino;
		info.who = st->owner;
		if (!(st->owner.flags & PS_TASK_KNOWN))
			info.who.tgid = 0;
		/* the identity first: whoever finds the counters finds it too.
		 * Another CPU may be creating the same flow: EEXIST is fine
		 * for either map, and only the creator announces it. */
		err = bpf_map_update_elem(&flows, key, &info, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST */) {
			lost(err, sent, recv);
			return -1;
		}
		if (!err)
			announce_flow(st, key, &info);
		err = bpf_map_update_elem(&counts, key, &zero, BPF_NOEXIST);
		if (err && err != -17) {
			lost(err, sent, recv);
			return -1;
		}
		c = bpf_map_lookup_elem(&counts, key);
		if (!c) {
			lost(-2 /* deleted meanwhile: as full */, sent, recv);
			return -1;
		}
	}
	/* this CPU's copy: uncontended; atomic all the same, because a
	 * softirq can interrupt a task-context update of the same slot */
	if (sent)
		__sync_fetch_and_add(&c->sent, sent);
	if (recv)
		__sync_fetch_and_add(&c->recv, recv);
	return 0;
}

static __always_inline int flow_add(struct ps_flow_key *key, struct sock_state *st,
				    __u64 sent, __u64 recv)
{
	key->sock_id = st->id;
	key->tgid = owner_tgid(st);
	key->netns = st->netns;
	return flow_count(key, st, sent, recv);
}

/* ---- counting: the same rules whichever hook read the packet ---- */

/* A packet as the counting rules need it. */
struct pkt {
	__u32 len;		/* bytes from the network header on */
	__u32 nhlen;		/* network header, with IPv6 extension headers */
	__u32 thlen;		/* transport header; 0 for a later fragment */
	__u32 seq;		/* TCP */
	__u16 family;
	__u8 proto;
	__u8 tcp_flags;
	__u16 sport;
	__u16 dport;
	__u8 frag;		/* FRAG_FIRST / FRAG_LATER for IP fragments */
	__u8 pad[3];
	__u32 sctp_bytes;	/* SCTP: DATA chunk payload, found by the reader */
	__u8 saddr[16] __attribute__((aligned(8)));
	__u8 daddr[16] __attribute__((aligned(8)));
};

#define FRAG_FIRST 1
#define FRAG_LATER 2

/* What the datagram rules need of the socket, read by each hook its own way. */
struct sockview {
	__u16 type;
	__u16 protocol;
	__u8 sender_runs;	/* egress: the sending task is current */
	__u8 sender_owns;	/* egress: ... and already the socket's owner */
};

/* What TCP counting needs of a socket, read with probe reads: this runs
 * at drains, at close and when the owner changes, not per packet.
 *
 * sent and recv are 64-bit totals since the socket was made, so that no
 * amount of data between two reads can wrap (32-bit sequence numbers do
 * past 2 GiB, a second at 17 Gbit/s):
 *  - recv = bytes_received: every advance of rcv_nxt, so data accepted in
 *    order, and the peer's FIN; never the SYN (rcv_nxt starts after it),
 *    but data carried in a Fast Open SYN (the kernel counts it there).
 *  - sent = bytes_acked + (snd_nxt - snd_una): acknowledged plus in
 *    flight, which is snd_nxt as a 64-bit count (retransmissions never
 *    move snd_nxt).  Our FIN is in it once sent; our SYN is in it on the
 *    connecting side only (an accepted socket starts with its SYN-ACK
 *    acknowledged).  In-flight bytes fit in 32 bits: a window is smaller. */
struct tcp_snap {
	__u32 state;
	__u8 fin_sent;		/* our FIN is in `sent` */
	__u8 fin_received;	/* the peer's FIN is in `recv` */
	__u16 pad;
	__u64 sent;
	__u64 recv;
};

/* The connection's ports and addresses, read straight into a flow key (or
 * the socket's state): kept off the snapshot, whose stack space the
 * egress program cannot spare on 6.1. */
#define TCP_TUPLE_INTO(sk, family, lport, rport, laddr, raddr)                       \
	do {                                                                         \
		(family) = BPF_CORE_READ(sk, __sk_common.skc_family);                \
		(lport) = BPF_CORE_READ(sk, __sk_common.skc_num);                    \
		(rport) = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));       \
		if ((family) == AF_INET) {                                           \
			BPF_CORE_READ_INTO((__u32 *)(laddr), sk, __sk_common.skc_rcv_saddr); \
			BPF_CORE_READ_INTO((__u32 *)(raddr), sk, __sk_common.skc_daddr);     \
		} else {                                                             \
			BPF_CORE_READ_INTO((laddr), sk, __sk_common.skc_v6_rcv_saddr);       \
			BPF_CORE_READ_INTO((raddr), sk, __sk_common.skc_v6_daddr);           \
		}                                                                    \
	} while (0)

static __always_inline void tcp_snapshot(struct sock_state *st, struct sock *sk, __u32 state,
					 bool locked, struct tcp_snap *ts)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	unsigned long flags;
	__u64 acked;
	__u32 snd_una, snd_nxt;

	/* Without the socket lock (sock_release) an ACK or a segment can be
	 * processed on another CPU between these reads, so they are ordered to
	 * err low, never high: a count that errs high is kept for good (totals
	 * only advance), one that errs low is made up by the next reading,
	 * which the close always brings.  The ACK moves bytes_acked and then
	 * snd_una by the same amount: reading bytes_acked first can miss it,
	 * never count it twice; snd_nxt read last is data that did leave.
	 * (The reads are helper calls or, with bpf_rdonly_cast, loads the
	 * helpers around them keep in order.) */
	acked = BPF_CORE_READ(tp, bytes_acked);
	snd_una = BPF_CORE_READ(tp, snd_una);
	snd_nxt = BPF_CORE_READ(tp, snd_nxt);
	__builtin_memset(ts, 0, sizeof(*ts));
	ts->state = state;
	ts->sent = acked + (__u32)(snd_nxt - snd_una);
	/* close or shutdown queued our FIN (SS_FIN_QUEUED, set before the FIN
	 * takes its sequence number) and everything before it went out: then
	 * the FIN went too.  Read after snd_nxt: a FIN queued in between makes
	 * write_seq larger (FIN not in `sent`, and not subtracted). */
	ts->fin_sent = snd_nxt == BPF_CORE_READ(tp, write_seq) && (st->flags & SS_FIN_QUEUED);
	ts->recv = BPF_CORE_READ(tp, bytes_received);
	flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	/* The peer's FIN advances bytes_received before SOCK_DONE is set, so a
	 * reader without the lock can see the one without the other: it
	 * assumes the FIN is in, and the closing count settles it. */
	ts->fin_received = !locked || !!(flags & (1ul << bpf_core_enum_value(enum sock_flags, SOCK_DONE)));
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

/* Move a counted-up-to total forward; the bytes passed over.  Totals only
 * grow (the kernel zeroes them only on disconnect, after CLOSE was
 * counted), so a smaller value is a reader that lost a race.  Readers race
 * (a drain, the owner's send, close in softirq, release without the socket
 * lock): whoever loses the compare-and-swap tries again from the value
 * the winner left, so the larger reading always lands; otherwise the last
 * reader at close could lose its bytes with nobody after it to count them. */
static __always_inline __u64 count_advance(__u64 *counted, __u64 now)
{
	__u64 old = *counted;

	for (int i = 0; i < 8; i++) {
		__u64 seen;

		if (now <= old)
			return 0;
		seen = __sync_val_compare_and_swap(counted, old, now);
		if (seen == old)
			return now - old;
		old = seen;
	}
	stat_add(PS_STAT_TCP_COUNT_CONTENDED, 1);
	return 0;
}

/* Count what the socket sent and received since last time, for its
 * current owner, creating the flow if needed.  FINs take a sequence
 * number each but carry no data: they are left out here; the connecting
 * side's SYN is left out by its baseline (see tcp_state_changed). */
static __always_inline int tcp_flush(struct sock_state *st, struct sock *sk, struct tcp_snap *ts)
{
	struct ps_flow_key key = {};
	__u64 sent = 0, recv = 0;

	if (ts->state == TCP_LISTEN)
		return 0;	/* a listener carries no data: its connections do */
	if (tcp_state_has_data(ts->state)) {
		__u64 snd = ts->sent - (ts->fin_sent && ts->sent), rcv = ts->recv;

		if (ts->fin_received && rcv)
			rcv -= 1;
		if (!(st->flags & SS_TCP_INIT)) {
			if (st->flags & SS_NEW) {
				/* made by socket() while the sensor ran, but
				 * its start was not seen: it connected, so the
				 * totals hold its SYN and then only its data */
				stat_add(PS_STAT_TCP_START_MISSED, 1);
				st->snd_counted = 1;
				st->rcv_counted = 0;
				sent = count_advance(&st->snd_counted, snd);
				recv = count_advance(&st->rcv_counted, rcv);
			} else {
				/* a connection older than the sensor: from now */
				st->snd_counted = snd;
				st->rcv_counted = rcv;
			}
			set_flags(st, SS_TCP_INIT);
		} else {
			sent = count_advance(&st->snd_counted, snd);
			recv = count_advance(&st->rcv_counted, rcv);
		}
	}
	if (!sent && !recv && (!(st->owner.flags & PS_TASK_KNOWN) || (st->flags & SS_CLOSED)))
		return 0;	/* nothing to count, and nobody to name yet, or the
				 * connection's last count is done (its flow may be
				 * gone already: never make it again, empty) */
	if (st->flags & SS_TUPLE) {
		key.family = st->tcp_family;
		key.lport = st->tcp_lport;
		key.rport = st->tcp_rport;
		__builtin_memcpy(key.laddr, st->tcp_laddr, 16);
		__builtin_memcpy(key.raddr, st->tcp_raddr, 16);
	} else {
		TCP_TUPLE_INTO(sk, key.family, key.lport, key.rport, key.laddr, key.raddr);
		if (key.lport) {
			/* kept: at close the kernel has released the port */
			__builtin_memcpy(st->tcp_laddr, key.laddr, 16);
			__builtin_memcpy(st->tcp_raddr, key.raddr, 16);
			st->tcp_lport = key.lport;
			st->tcp_rport = key.rport;
			st->tcp_family = key.family;
			set_flags(st, SS_TUPLE);
		}
	}
	key.proto = IPPROTO_TCP;
	if (flow_add(&key, st, sent, recv))
		return -1;
	if (!(st->flags & SS_FLOW) || st->flow_tgid != key.tgid) {
		st->flow_tgid = key.tgid;
		set_flags(st, SS_FLOW);
	}
	return 0;
}

/* A TCP segment leaving: the only per-packet work is noticing a new owner
 * (a task sending with the socket lock held) and making sure the owner's
 * flow exists; the bytes are counted from the socket at the next flush. */
static __always_inline void tcp_sent(struct sock_state *st, struct sock *sk, __u32 state)
{
	struct tcp_snap ts;

	if (sk->sk_lock.owned && !(st->owner.flags & PS_TASK_KERNEL)) {
		if (!(st->owner.flags & PS_TASK_KNOWN)) {
			/* the first task seen sending (an accepted socket):
			 * what it received so far is its own */
			if (bpf_get_current_pid_tgid() >> 32 != cfg_self_tgid)
				own_by_current(st);
		} else if (st->owner.tgid != bpf_get_current_pid_tgid() >> 32 &&
			   bpf_get_current_pid_tgid() >> 32 != cfg_self_tgid) {
			/* what was moved so far belongs to the previous owner */
			tcp_snapshot(st, sk, state, true, &ts);
			tcp_flush(st, sk, &ts);
			own_by_current(st);
		}
	}
	/* no owner yet (an accepted socket the kernel ACKs for): its bytes
	 * wait for the first task that sends, the next drain, or close */
	if (!(st->owner.flags & PS_TASK_KNOWN))
		return;
	if ((st->flags & SS_FLOW) && st->flow_tgid == st->owner.tgid) {
		/* in another namespace the drain does not walk: count at most
		 * once a second, on the TCP clock; a connection that moves
		 * data sends segments or ACKs.  Sockets of the daemon's own
		 * namespace pay one comparison. */
		if (st->netns != cfg_own_netns) {
			__u64 now = BPF_CORE_READ((struct tcp_sock *)sk, tcp_mstamp);

			if (now - st->tcp_counted_us >= 1000000) {
				st->tcp_counted_us = now;
				tcp_snapshot(st, sk, state, true, &ts);
				tcp_flush(st, sk, &ts);
			}
		}
		return;
	}
	tcp_snapshot(st, sk, state, true, &ts);
	tcp_flush(st, sk, &ts);
}

/* Application bytes of a datagram-like packet: what send() took or
 * recv() will return for it. */
static __always_inline __u64 datagram_bytes(struct sock_state *st, struct pkt *p,
					    struct sockview *sv, int egress)
{
	if (sv->type == SOCK_RAW) {
		/* IPv4 raw sockets read the IP header, and write it when they
		 * set IP_HDRINCL; IPv6 raw sockets never see it */
		if (p->family == AF_INET &&
		    (!egress || (st->flags & SS_HDRINCL) || sv->protocol == IPPROTO_RAW))
			return p->len;
		if (p->family == AF_INET6 && egress && sv->protocol == IPPROTO_RAW)
			return p->len;
		return p->len - p->nhlen;
	}
	if (p->proto == IPPROTO_SCTP)
		return p->sctp_bytes;
	if (p->proto == IPPROTO_UDP || p->proto == IPPROTO_UDPLITE)
		return p->len - p->nhlen - p->thlen;
	/* ping sockets: ICMP header and data */
	return p->len - p->nhlen;
}

/* Two 16-byte addresses, both 8-byte aligned, compared as words. */
static __always_inline int addr_eq(const __u8 *a, const __u8 *b)
{
	return ((const __u64 *)a)[0] == ((const __u64 *)b)[0] &&
	       ((const __u64 *)a)[1] == ((const __u64 *)b)[1];
}

/* The slot holding the socket's cached flow, if that flow is this one:
 * same owner, protocol, ports and addresses. */
static __always_inline struct ps_dgram_slot *
dgram_cached(struct sock_state *st, __u32 tgid, __u16 family, __u16 proto, __u16 lport,
	     __u16 rport, const __u8 *laddr, const __u8 *raddr)
{
	struct ps_dgram_slot *slot;
	__u32 idx;

	if (st->dc_state != DC_READY || st->dc_key.tgid != tgid || st->dc_key.lport != lport ||
	    st->dc_key.rport != rport || st->dc_key.proto != proto ||
	    st->dc_key.family != family || !addr_eq(st->dc_key.laddr, laddr) ||
	    !addr_eq(st->dc_key.raddr, raddr))
		return NULL;
	idx = st->dc_slot;
	slot = bpf_map_lookup_elem(&dgram_slots, &idx);
	return slot && slot->sock_id == st->id ? slot : NULL;
}

/* Give a UDP socket's first owned flow (just created) a slot: its later
 * packets are counted there.  One writer wins; a socket whose slot is
 * taken by another open socket goes on the slower way. */
static __always_inline void dgram_cache_fill(struct sock_state *st, struct ps_flow_key *key)
{
	__u32 idx = (__u32)st->id & (PS_DGRAM_SLOTS - 1);
	struct ps_dgram_slot *slot = bpf_map_lookup_elem(&dgram_slots, &idx);

	if (!slot || !dgram_slots_on ||
	    __sync_val_compare_and_swap(&st->dc_state, DC_EMPTY, DC_FILLING) != DC_EMPTY)
		return;
	if (__sync_val_compare_and_swap(&slot->sock_id, 0, st->id) != 0) {
		__sync_val_compare_and_swap(&st->dc_state, DC_FILLING, DC_NONE);
		return;
	}
	/* the daemon zeroed the counters when it freed the slot */
	slot->key = *key;
	__sync_val_compare_and_swap(&slot->ready, 0, 1);
	st->dc_key = *key;
	st->dc_slot = idx;
	__sync_val_compare_and_swap(&st->dc_state, DC_FILLING, DC_READY);
}

/* Count one datagram (UDP, raw IP, ICMP ping, SCTP) for its socket. */
static __always_inline void account(struct sock_state *st, struct pkt *p, struct sockview *sv,
				    int egress)
{
	struct ps_dgram_slot *slot;
	struct ps_flow_key key;
	__u64 sent = 0, recv = 0;
	__u16 lport, rport;

	/* kernel control sockets (RST, ICMP errors) answer for the stack */
	if ((st->owner.flags & PS_TASK_KERNEL) && sv->type == SOCK_RAW)
		return;
	if (egress && sv->sender_runs && !sv->sender_owns)
		own_by_current(st);
	lport = egress ? p->sport : p->dport;
	rport = egress ? p->dport : p->sport;

	{
		__u64 bytes = datagram_bytes(st, p, sv, egress);

		if (p->frag == FRAG_FIRST) {
			/* later fragments carry no ports: remember them */
			st->frag_lport = lport;
			st->frag_rport = rport;
		} else if (p->frag == FRAG_LATER) {
			lport = st->frag_lport;
			rport = st->frag_rport;
		}
		if (egress)
			sent = bytes;
		else
			recv = bytes;
	}

	/* nothing to count and nobody to name yet: wait for bytes or a process */
	if (!sent && !recv && !(st->owner.flags & PS_TASK_KNOWN))
		return;
	slot = dgram_cached(st, owner_tgid(st), p->family, p->proto, lport, rport,
			    egress ? p->saddr : p->daddr, egress ? p->daddr : p->saddr);
	if (slot) {
		if (sent)
			__sync_fetch_and_add(&slot->sent, sent);
		if (recv)
			__sync_fetch_and_add(&slot->recv, recv);
		return;
	}
	__builtin_memset(&key, 0, sizeof(key));
	key.family = p->family;
	key.proto = p->proto;
	key.lport = lport;
	key.rport = rport;
	__builtin_memcpy(key.laddr, egress ? p->saddr : p->daddr, 16);
	__builtin_memcpy(key.raddr, egress ? p->daddr : p->saddr, 16);
	if (flow_add(&key, st, sent, recv) || !key.tgid || st->dc_state != DC_EMPTY ||
	    (sv->protocol != IPPROTO_UDP && sv->protocol != IPPROTO_UDPLITE))
		return;
	dgram_cache_fill(st, &key);
}

/* ---- received IP packets: cgroup_skb ingress ---- */

/* SCTP: the payload is the user data of DATA and I-DATA chunks.  Global
 * functions (here and below) are verified once, not at every call. */
__noinline int sctp_data_bytes_skb(struct __sk_buff *skb, __u32 off, __u32 len)
{
	int bytes = 0;

	for (int i = 0; i < 16; i++) {
		struct {
			__u8 type;
			__u8 flags;
			__be16 length;
		} ch;
		__u32 clen;

		if (off + sizeof(ch) > len || bpf_skb_load_bytes(skb, off, &ch, sizeof(ch)))
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

/* Headers through bpf_skb_load_bytes: any layout, IPv6 extension headers
 * included (reassembled: no fragments reach a socket). */
__noinline int parse_ingress_slow(struct __sk_buff *skb, struct pkt *p)
{
	if (!p)
		return -1;
	p->len = skb->len;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr iph;

		if (bpf_skb_load_bytes(skb, 0, &iph, sizeof(iph)))
			return -1;
		p->family = AF_INET;
		p->proto = iph.protocol;
		p->nhlen = (iph.ihl & 0xf) * 4;
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
		for (int i = 0; i < 6; i++) {
			__u8 h[2];

			if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51)
				break;
			if (bpf_skb_load_bytes(skb, p->nhlen, h, 2))
				return -1;
			if (nh == 44)
				p->nhlen += 8;			/* fragment */
			else if (nh == 51)
				p->nhlen += (h[1] + 2) * 4;	/* authentication */
			else
				p->nhlen += (h[1] + 1) * 8;	/* options, routing */
			nh = h[0];
		}
		p->proto = nh;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
	} else {
		return -1;
	}
	if (p->nhlen > p->len)
		return -1;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr th;

		if (bpf_skb_load_bytes(skb, p->nhlen, &th, sizeof(th)))
			return -1;
		p->sport = bpf_ntohs(th.source);
		p->dport = bpf_ntohs(th.dest);
		p->seq = bpf_ntohl(th.seq);
		p->thlen = th.doff * 4;
		p->tcp_flags = (th.fin ? TCPF_FIN : 0) | (th.syn ? TCPF_SYN : 0);
	} else if (p->proto == IPPROTO_UDP || p->proto == IPPROTO_UDPLITE ||
		   p->proto == IPPROTO_SCTP) {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, p->nhlen, ports, sizeof(ports)))
			return -1;
		p->sport = bpf_ntohs(ports[0]);
		p->dport = bpf_ntohs(ports[1]);
		p->thlen = p->proto == IPPROTO_SCTP ? 12 : 8;
	}
	if (p->nhlen + p->thlen > p->len)
		return -1;
	if (p->proto == IPPROTO_SCTP)
		p->sctp_bytes = sctp_data_bytes_skb(skb, p->nhlen + p->thlen, p->len);
	return 0;
}

/* The common case, read in place: the headers are in the linear part of
 * the packet and IPv6 has no extension headers. */
static __always_inline int parse_ingress(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 nhlen;
	void *th;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data;

		if ((void *)(iph + 1) > end)
			return parse_ingress_slow(skb, p);
		nhlen = (iph->ihl & 0xf) * 4;
		p->family = AF_INET;
		p->proto = iph->protocol;
		__builtin_memcpy(p->saddr, &iph->saddr, 4);
		__builtin_memcpy(p->daddr, &iph->daddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;

		if ((void *)(ip6 + 1) > end)
			return parse_ingress_slow(skb, p);
		switch (ip6->nexthdr) {
		case IPPROTO_TCP:
		case IPPROTO_UDP:
		case IPPROTO_UDPLITE:
		case IPPROTO_ICMPV6:
			break;
		default:
			return parse_ingress_slow(skb, p);
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
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *t = th;

		if ((void *)(t + 1) > end)
			return parse_ingress_slow(skb, p);
		p->sport = bpf_ntohs(t->source);
		p->dport = bpf_ntohs(t->dest);
		p->seq = bpf_ntohl(t->seq);
		p->thlen = t->doff * 4;
		p->tcp_flags = (t->fin ? TCPF_FIN : 0) | (t->syn ? TCPF_SYN : 0);
	} else if (p->proto == IPPROTO_UDP || p->proto == IPPROTO_UDPLITE) {
		struct udphdr *u = th;

		if ((void *)(u + 1) > end)
			return parse_ingress_slow(skb, p);
		p->sport = bpf_ntohs(u->source);
		p->dport = bpf_ntohs(u->dest);
		p->thlen = sizeof(*u);
	} else if (p->proto == IPPROTO_SCTP) {
		return parse_ingress_slow(skb, p);
	}
	if (p->nhlen + p->thlen > p->len)
		return -1;
	return 0;
}

/* Older kernels name no datagram in udp_fail_queue_rcv_skb (6.1), or do
 * not pass it for IPv6 at all.  There, ingress keeps what it counted last
 * on this CPU (the datagram's address, flow and bytes), and kfree_skb with
 * reason SOCKET_RCVBUFF or PROTO_MEM takes it back: the cgroup hook runs
 * in sk_filter just before the socket's queue refuses the datagram, in
 * the same softirq, so nothing else runs on this CPU between the two.
 * Costs a per-CPU store per received datagram, only where needed. */
const volatile __u32 cfg_drop_stash = 0;

struct last_rx {
	__u64 skb;		/* address of the datagram counted last */
	__u64 bytes;
	__u32 slot;		/* dgram_slots index it was counted in, or ~0 */
	__u32 pad;
	struct ps_flow_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_rx);
} last_rx SEC(".maps");

static __always_inline void stash_rx(struct __sk_buff *ctx, struct sock_state *st, struct pkt *p,
				     struct sockview *sv)
{
	struct ps_dgram_slot *slot;
	struct last_rx *l;
	__u32 zero = 0;
	void *addr = ctx;

	l = bpf_map_lookup_elem(&last_rx, &zero);
	if (!l)
		return;
	/* the context is the kernel's sk_buff: its address, as a number */
	barrier_var(addr);
	if (bpf_probe_read_kernel(&l->skb, sizeof(l->skb), &addr)) {
		l->skb = 0;
		return;
	}
	__builtin_memset(&l->key, 0, sizeof(l->key));
	l->bytes = datagram_bytes(st, p, sv, 0);
	l->key.sock_id = st->id;
	l->key.tgid = owner_tgid(st);
	l->key.netns = st->netns;
	l->key.family = p->family;
	l->key.proto = p->proto;
	l->key.lport = p->dport;
	l->key.rport = p->sport;
	__builtin_memcpy(l->key.laddr, p->daddr, 16);
	__builtin_memcpy(l->key.raddr, p->saddr, 16);
	slot = dgram_cached(st, l->key.tgid, p->family, p->proto, p->dport, p->sport, p->daddr,
			    p->saddr);
	l->slot = slot ? st->dc_slot : ~0u;
}

/* DNS over UDP: every query a local socket sends to port 53 and every
 * answer that reaches one from port 53 go to the daemon with their
 * addresses, whichever program or resolver asked (libc,
 * systemd-resolved, Go, a browser's own resolver).  The daemon uses an
 * answer only if it matches a query it saw leave (docs/sensor.md).  Only
 * these datagrams pay for it: one port comparison for the others. */
static __always_inline struct ps_ev_dns *dns_event(struct pkt *p, __u32 netns, __u8 dir, __u32 n)
{
	struct ps_ev_dns *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		stat_add(PS_STAT_RINGBUF_FULL, 1);
		return NULL;
	}
	ev->hdr.type = PS_EV_DNS;
	ev->hdr.version = PS_EVENT_VERSION;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ts_ns = bpf_ktime_get_boot_ns();
	ev->len = n;
	ev->netns = netns;
	ev->dir = dir;
	ev->family = p->family;
	ev->proto = p->proto;
	ev->tcp_flags = 0;
	ev->seq = 0;
	ev->seg_len = n;
	if (dir == PS_DNS_QUERY) {
		ev->lport = p->sport;
		ev->rport = p->dport;
		__builtin_memcpy(ev->laddr, p->saddr, 16);
		__builtin_memcpy(ev->raddr, p->daddr, 16);
	} else {
		ev->lport = p->dport;
		ev->rport = p->sport;
		__builtin_memcpy(ev->laddr, p->daddr, 16);
		__builtin_memcpy(ev->raddr, p->saddr, 16);
	}
	return ev;
}

/* An answer reaching a socket (cgroup_skb/ingress). */
static __always_inline void dns_received(struct __sk_buff *skb, struct pkt *p, struct sock_state *st)
{
	__u32 off = p->nhlen + p->thlen;
	__u32 n = p->len - off;
	struct ps_ev_dns *ev;

	if (n < 12)
		return;		/* shorter than a DNS header */
	if (n > PS_DNS_MAX)
		n = PS_DNS_MAX;
	ev = dns_event(p, st->netns, PS_DNS_ANSWER, n);
	if (!ev)
		return;
	if (bpf_skb_load_bytes(skb, off, ev->data, n)) {
		bpf_ringbuf_discard(ev, 0);
		stat_add(PS_STAT_PARSE_FAIL, 1);
		return;
	}
	bpf_ringbuf_submit(ev, 0);
}

/* A query leaving (net_dev_queue): a small datagram is in the packet's
 * linear part; what lies in page fragments is left out. */
static __always_inline void dns_sent(struct sk_buff *skb, struct pkt *p, struct sock_state *st)
{
	unsigned char *head = skb->head;
	__u32 off = skb->network_header + p->nhlen + p->thlen;
	__u32 linear_end = (__u32)((unsigned long)skb->data - (unsigned long)head) +
			   (skb->len - skb->data_len);
	__u32 n = p->len - p->nhlen - p->thlen;
	struct ps_ev_dns *ev;

	if (off > linear_end)
		return;
	if (n > linear_end - off)
		n = linear_end - off;
	if (n < 12)
		return;
	if (n > PS_DNS_MAX)
		n = PS_DNS_MAX;
	ev = dns_event(p, st->netns, PS_DNS_QUERY, n);
	if (!ev)
		return;
	if (bpf_probe_read_kernel(ev->data, n, head + off)) {
		bpf_ringbuf_discard(ev, 0);
		stat_add(PS_STAT_PARSE_FAIL, 1);
		return;
	}
	bpf_ringbuf_submit(ev, 0);
}

/* DNS over TCP: a segment of a connection with port 53, either way
 * (cgroup_skb ingress and egress: the payload may lie in page fragments,
 * which bpf_skb_load_bytes reads).  SYN gives the daemon the stream's
 * start, FIN its end; a bare ACK is not passed.  Its first PS_DNS_MAX
 * bytes are copied, with its whole length. */
static __always_inline void dns_tcp_segment(struct __sk_buff *skb, struct bpf_sock *bsk, __u8 dir)
{
	struct sock *sk = sock_addr(bsk);
	struct ps_ev_dns *ev;
	struct pkt p = {};
	__u32 off, seg, n;

	if (parse_ingress(skb, &p) || p.proto != IPPROTO_TCP)
		return;
	off = p.nhlen + p.thlen;
	seg = p.len - off;
	if (!seg && !(p.tcp_flags & (TCPF_SYN | TCPF_FIN)))
		return;
	n = seg > PS_DNS_MAX ? PS_DNS_MAX : seg;
	ev = dns_event(&p, sk ? BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) : 0, dir, n);
	if (!ev)
		return;
	ev->tcp_flags = (p.tcp_flags & TCPF_SYN ? PS_DNS_SYN : 0) |
			(p.tcp_flags & TCPF_FIN ? PS_DNS_FIN : 0);
	ev->seq = p.seq;
	ev->seg_len = seg;
	if (n > 0) {
		/* 1 to PS_DNS_MAX (a power of two) where every verifier sees
		 * it: 6.1's does not learn n > 0 from the test above */
		n = ((n - 1) & (PS_DNS_MAX - 1)) + 1;
		if (bpf_skb_load_bytes(skb, off, ev->data, n)) {
			bpf_ringbuf_discard(ev, 0);
			stat_add(PS_STAT_PARSE_FAIL, 1);
			return;
		}
	}
	bpf_ringbuf_submit(ev, 0);
}

/* ---- the first bytes a connection sends (server names) ---- */

static __always_inline struct ps_ev_first *first_event(struct pkt *p, __u32 netns, __u32 n,
						       __u32 seg)
{
	struct ps_ev_first *ev;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
	    bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 2) {
		stat_add(PS_STAT_FIRST_SKIPPED, 1);
		return NULL;
	}
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_add(PS_STAT_RINGBUF_FULL, 1);
		return NULL;
	}
	ev->hdr.type = PS_EV_FIRST;
	ev->hdr.version = PS_EVENT_VERSION;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ts_ns = bpf_ktime_get_boot_ns();
	ev->len = n;
	ev->netns = netns;
	ev->family = p->family;
	ev->proto = p->proto;
	ev->lport = p->sport;
	ev->rport = p->dport;
	ev->first = 0;
	ev->pad = 0;
	ev->seq = p->seq;
	ev->seg_len = seg;
	__builtin_memcpy(ev->laddr, p->saddr, 16);
	__builtin_memcpy(ev->raddr, p->daddr, 16);
	return ev;
}

/* 1 to PS_FIRST_MAX where every verifier sees it (6.1's does not learn
 * n > 0 from a test) */
static __always_inline __u32 first_bound(__u32 n)
{
	n = ((n - 1) & 2047) + 1;
	return n > PS_FIRST_MAX ? PS_FIRST_MAX : n;
}

/* One of the first data segments of a TCP client (cgroup_skb/egress:
 * the payload may lie in page fragments, which bpf_skb_load_bytes reads).
 * segs: the segments this packet counts for. */
static __always_inline void first_tcp(struct __sk_buff *skb, struct bpf_sock *bsk,
				      struct bpf_tcp_sock *tp, __u32 segs)
{
	struct sock *sk = sock_addr(bsk);
	struct ps_ev_first *ev;
	struct pkt p = {};
	__u32 off, seg, n;

	if (parse_ingress(skb, &p) || p.proto != IPPROTO_TCP)
		return;
	off = p.nhlen + p.thlen;
	if (p.len <= off)
		return;		/* a SYN or a bare ACK */
	seg = p.len - off;
	n = first_bound(seg);
	ev = first_event(&p, sk ? BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) : 0, n, seg);
	if (!ev)
		return;
	ev->first = tp->data_segs_out == segs;
	if (bpf_skb_load_bytes(skb, off, ev->data, n)) {
		bpf_ringbuf_discard(ev, 0);
		stat_add(PS_STAT_PARSE_FAIL, 1);
		return;
	}
	bpf_ringbuf_submit(ev, 0);
}

/* One of the first datagrams of PS_FIRST_MIN_DGRAM bytes or more a UDP
 * socket sends (net_dev_queue): read from the packet's linear part,
 * where an unsegmented datagram is. */
static __always_inline void first_dgram(struct sk_buff *skb, struct pkt *p, struct sock_state *st)
{
	unsigned char *head = skb->head;
	__u32 off = skb->network_header + p->nhlen + p->thlen;
	__u32 linear_end = (__u32)((unsigned long)skb->data - (unsigned long)head) +
			   (skb->len - skb->data_len);
	__u32 n = p->len - p->nhlen - p->thlen;
	struct ps_ev_first *ev;

	if (off >= linear_end || n < PS_FIRST_MIN_DGRAM)
		return;
	if (__sync_fetch_and_add(&st->first_sent, 1) >= PS_FIRST_PACKETS)
		return;
	if (n > linear_end - off)
		n = linear_end - off;
	ev = first_event(p, st->netns, first_bound(n), p->len - p->nhlen - p->thlen);
	if (!ev)
		return;
	if (bpf_probe_read_kernel(ev->data, first_bound(n), head + off)) {
		bpf_ringbuf_discard(ev, 0);
		stat_add(PS_STAT_PARSE_FAIL, 1);
		return;
	}
	bpf_ringbuf_submit(ev, 0);
}

/* Sent TCP segments: DNS queries over TCP, and the first data segments a
 * client sends before it receives any (a TLS ClientHello).  Every other
 * packet returns after a port comparison and the socket's own segment
 * counters (bpf_tcp_sock: a cast, no lookup); UDP is seen at
 * net_dev_queue. */
SEC("cgroup_skb/egress")
int ps_tcp_egress(struct __sk_buff *skb)
{
	struct bpf_sock *bsk = skb->sk;
	struct bpf_tcp_sock *tp;
	__u32 segs;

	if (!bsk)
		return 1;
	if (bsk->dst_port == bpf_htons(53)) {
		bsk = bpf_sk_fullsock(bsk);
		if (bsk && bsk->protocol == IPPROTO_TCP)
			dns_tcp_segment(skb, bsk, PS_DNS_QUERY);
		return 1;
	}
	tp = bpf_tcp_sock(bsk);		/* NULL unless a full TCP socket */
	if (!tp || tp->data_segs_in)
		return 1;
	segs = skb->gso_segs ? skb->gso_segs : 1;
	if (tp->data_segs_out >= PS_FIRST_PACKETS + segs)
		return 1;
	first_tcp(skb, bsk, tp, segs);
	return 1;
}

SEC("cgroup_skb/ingress")
int ps_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *bsk = skb->sk;
	struct sockview sv = {};
	struct sock_state *st;
	struct sock *sk;
	struct pkt p = {};

	if (!bsk)
		return 1;
	sk = kernel_sock(bsk);
	if (sk) {
		/* read in place, a helper call cheaper: only TCP has sockets
		 * that are not full ones, and these two states name them */
		if (bsk->state == TCP_TIME_WAIT || bsk->state == TCP_NEW_SYN_RECV)
			return 1;
		sv.type = sk->sk_type;
		sv.protocol = sk->sk_protocol;
	} else {
		bsk = bpf_sk_fullsock(bsk);
		if (!bsk)
			return 1;
		sv.type = bsk->type;
		sv.protocol = bsk->protocol;
	}
	if (sv.protocol == IPPROTO_TCP) {
		/* counted from the socket's sequence numbers; DNS answers
		 * over TCP are passed on */
		struct bpf_sock *common = skb->sk;	/* one pointer type here */

		if (common && common->dst_port == bpf_htons(53))
			dns_tcp_segment(skb, common, PS_DNS_ANSWER);
		return 1;
	}
	if (parse_ingress(skb, &p)) {
		stat_add(PS_STAT_PARSE_FAIL, 1);
		return 1;
	}
	st = sock_state_get(bsk);
	if (!st)
		return 1;
	if (!(st->flags & SS_INFO))
		sock_info(st, sk ? sk : sock_addr(bsk));
	account(st, &p, &sv, 0);
	if (cfg_drop_stash && sv.type == SOCK_DGRAM)
		stash_rx(skb, st, &p, &sv);
	if (p.proto == IPPROTO_UDP && p.sport == 53 && sv.type == SOCK_DGRAM)
		dns_received(skb, &p, st);
	return 1;
}

/* ---- sent packets: net_dev_queue, for IP and AF_PACKET sockets ---- */

__noinline int sctp_data_bytes_kernel(unsigned long pkt, __u32 off, __u32 len)
{
	int bytes = 0;

	for (int i = 0; i < 16; i++) {
		struct {
			__u8 type;
			__u8 flags;
			__be16 length;
		} ch;
		__u32 clen;

		if (off + sizeof(ch) > len || bpf_probe_read_kernel(&ch, sizeof(ch), (void *)(pkt + off)))
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

static __always_inline int parse_egress(struct sk_buff *skb, struct pkt *p)
{
	
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header, th = skb->transport_header;
	__u32 from_data = nh - (__u32)((unsigned long)skb->data - (unsigned long)skb->head);

	if (skb->len < from_data)
		return -1;
	p->len = skb->len - from_data;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph, iph_copy;
		__u16 frag;

		if (KVIEW(iph, iph_copy, head + nh))
			return -1;
		p->family = AF_INET;
		p->proto = iph->protocol;
		p->nhlen = BPF_CORE_READ_BITFIELD(iph, ihl) * 4;
		*(__u32 *)p->saddr = iph->saddr;
		*(__u32 *)p->daddr = iph->daddr;
		frag = bpf_ntohs(iph->frag_off);
		if (frag & IP_OFFSET)
			p->frag = FRAG_LATER;
		else if (frag & IP_MF)
			p->frag = FRAG_FIRST;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6, ip6_copy;

		if (KVIEW(ip6, ip6_copy, head + nh))
			return -1;
		p->family = AF_INET6;
		p->proto = ip6->nexthdr;
		/* extension headers lie between the two headers */
		p->nhlen = th > nh && th != (__u16)~0u ? th - nh : sizeof(*ip6);
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		if (p->proto == 44) {
			struct frag_hdr *fh, fh_copy;

			if (KVIEW(fh, fh_copy, head + nh + sizeof(*ip6)))
				return -1;
			p->proto = fh->nexthdr;
			p->nhlen = sizeof(*ip6) + sizeof(*fh);
			if (bpf_ntohs(fh->frag_off) & 0xfff8)
				p->frag = FRAG_LATER;
			else
				p->frag = FRAG_FIRST;
		}
	} else {
		return -1;
	}
	if (p->nhlen > p->len)
		return -1;
	if (p->frag == FRAG_LATER)
		return 0;	/* no transport header here */
	th = nh + p->nhlen;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *t, t_copy;

		if (KVIEW(t, t_copy, head + th))
			return -1;
		p->sport = bpf_ntohs(t->source);
		p->dport = bpf_ntohs(t->dest);
		p->seq = bpf_ntohl(t->seq);
		p->thlen = BPF_CORE_READ_BITFIELD(t, doff) * 4;
		p->tcp_flags = (BPF_CORE_READ_BITFIELD(t, fin) ? TCPF_FIN : 0) |
			       (BPF_CORE_READ_BITFIELD(t, syn) ? TCPF_SYN : 0);
	} else if (p->proto == IPPROTO_UDP || p->proto == IPPROTO_UDPLITE ||
		   p->proto == IPPROTO_SCTP) {
		struct udphdr *u, u_copy;	/* SCTP's ports sit in the same place */

		if (KVIEW(u, u_copy, head + th))
			return -1;
		p->sport = bpf_ntohs(u->source);
		p->dport = bpf_ntohs(u->dest);
		p->thlen = p->proto == IPPROTO_SCTP ? 12 : 8;
	}
	if (p->nhlen + p->thlen > p->len)
		return -1;
	if (p->proto == IPPROTO_SCTP) {
		/* a plain number: a global function cannot take a kernel pointer */
		unsigned long pkt = (unsigned long)BPF_CORE_READ(skb, head) + nh;

		p->sctp_bytes = sctp_data_bytes_kernel(pkt, p->nhlen + p->thlen, p->len);
	}
	return 0;
}

/* AF_PACKET: the frame as the sender wrote it; a SOCK_DGRAM packet socket
 * did not write the link-layer header. */
static __always_inline void packet_sent(struct sock *sk, struct sk_buff *skb)
{
	struct sock_state *st = sock_state_get(sk);
	struct ps_flow_key key = {};
	__u16 mac = skb->mac_header;
	__u64 bytes = skb->len;
	struct ethhdr *eh, eh_copy;

	if (!st)
		return;
	sock_info(st, sk);
	own_by_current(st);	/* packet_sendmsg calls dev_queue_xmit itself */
	if (sk->sk_type == SOCK_DGRAM && mac != (__u16)~0u && skb->network_header > mac)
		bytes -= skb->network_header - mac;
	key.family = AF_PACKET;
	key.proto = bpf_ntohs(skb->protocol);
	if (mac != (__u16)~0u && !KVIEW(eh, eh_copy, skb->head + mac)) {
		__builtin_memcpy(key.laddr, eh->h_source, 6);
		__builtin_memcpy(key.raddr, eh->h_dest, 6);
	}
	flow_add(&key, st, bytes, 0);
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(ps_egress, struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	struct sockview sv = {};
	struct sock_state *st;
	struct pkt p = {};
	__u16 family;
	__u8 state;

	if (!sk)
		return 0;	/* forwarded, or from the stack itself */
	family = sk->__sk_common.skc_family;
	if (family == AF_PACKET) {
		packet_sent(sk, skb);
		return 0;
	}
	if (family != AF_INET && family != AF_INET6)
		return 0;
	/* only full sockets carry state (not TIME_WAIT or request socks) */
	state = sk->__sk_common.skc_state;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return 0;
	sv.type = sk->sk_type;
	sv.protocol = sk->sk_protocol;
	st = sock_state_get(sk);
	if (!st)
		return 0;
	sock_info(st, sk);
	if (sv.protocol == IPPROTO_TCP) {
		if (sv.type == SOCK_STREAM && state != TCP_LISTEN)
			tcp_sent(st, sk, state);
		return 0;
	}
	/* datagrams: a task that has the socket open is sending (one that is
	 * merely interrupted by a deferred send is not) */
	sv.sender_owns = (st->owner.flags & PS_TASK_KNOWN) &&
			 st->owner.tgid == bpf_get_current_pid_tgid() >> 32;
	sv.sender_runs = sv.sender_owns || current_holds(sk);
	if (parse_egress(skb, &p)) {
		stat_add(PS_STAT_PARSE_FAIL, 1);
		return 0;
	}
	account(st, &p, &sv, 1);
	if (p.proto == IPPROTO_UDP && sv.type == SOCK_DGRAM && p.frag != FRAG_LATER) {
		if (p.dport == 53)
			dns_sent(skb, &p, st);
		else if (st->first_sent < PS_FIRST_PACKETS)
			first_dgram(skb, &p, st);
	}
	return 0;
}

/* ---- datagrams dropped after they were counted ---- */

/* A datagram counted on ingress was then dropped because the socket's
 * receive buffer was full: it never reached the application, so take it
 * back.  Drops are rare, so the work of finding its flow again is done
 * here rather than remembered for every packet. */

/* What a dropped datagram was: its flow key's packet side (addresses,
 * ports, family, protocol) and its application bytes.  The family and
 * addresses are the packet's (an IPv6 socket may receive IPv4). */
struct dropped {
	struct ps_flow_key key;
	__u64 bytes;
};

static __always_inline int drop_parse(struct sk_buff *skb, __u16 type, struct dropped *d)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	__u32 ip_len;

	__builtin_memset(d, 0, sizeof(*d));
	if (proto == ETH_P_IP) {
		struct iphdr iph;

		if (bpf_probe_read_kernel(&iph, sizeof(iph), head + nh))
			return -1;
		d->key.family = AF_INET;
		d->key.proto = iph.protocol;
		__builtin_memcpy(d->key.laddr, &iph.daddr, 4);
		__builtin_memcpy(d->key.raddr, &iph.saddr, 4);
		ip_len = bpf_ntohs(iph.tot_len);
		d->bytes = ip_len;
		if (type != SOCK_RAW)
			d->bytes -= (iph.ihl & 0xf) * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return -1;
		d->key.family = AF_INET6;
		d->key.proto = ip6.nexthdr;
		__builtin_memcpy(d->key.laddr, &ip6.daddr, 16);
		__builtin_memcpy(d->key.raddr, &ip6.saddr, 16);
		d->bytes = bpf_ntohs(ip6.payload_len);
		ip_len = sizeof(ip6) + d->bytes;
	} else {
		return -1;
	}
	if (type == SOCK_DGRAM && (d->key.proto == IPPROTO_UDP || d->key.proto == IPPROTO_UDPLITE)) {
		struct udphdr uh;

		if (bpf_probe_read_kernel(&uh, sizeof(uh), head + th))
			return -1;
		d->key.lport = bpf_ntohs(uh.dest);
		d->key.rport = bpf_ntohs(uh.source);
		/* the IP length less every header, as ingress counted it: a
		 * UDP-Lite length field is its checksum coverage instead */
		d->bytes = ip_len - (__u16)(th - nh) - sizeof(uh);
		if (d->bytes > 65535)
			return -1;	/* headers longer than the packet */
	}
	return 0;
}

static __always_inline void drop_uncount(struct sock *sk, struct dropped *d)
{
	struct ps_flow_key *key = &d->key;
	struct sock_state *st;
	struct ps_dgram_slot *slot;
	struct ps_flow_count *c;

	st = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (!st)
		return;
	key->sock_id = st->id;
	key->tgid = owner_tgid(st);
	key->netns = st->netns;
	/* the datagram was counted moments ago: on the socket's cached flow,
	 * or on this CPU's counters */
	slot = dgram_cached(st, key->tgid, key->family, key->proto, key->lport, key->rport,
			    key->laddr, key->raddr);
	if (slot && slot->recv >= d->bytes) {
		__sync_fetch_and_sub(&slot->recv, d->bytes);
		stat_add(PS_STAT_RECV_DROPS, 1);
		return;
	}
	c = bpf_map_lookup_elem(&counts, key);
	if (!c || c->recv < d->bytes)
		return;
	__sync_fetch_and_sub(&c->recv, d->bytes);
	stat_add(PS_STAT_RECV_DROPS, 1);
}

static __always_inline void uncount_drop(struct sock *sk, struct sk_buff *skb)
{
	__u16 family = sk->__sk_common.skc_family;
	struct dropped d;

	if (family != AF_INET && family != AF_INET6)
		return;
	if (drop_parse(skb, sk->sk_type, &d))
		return;
	drop_uncount(sk, &d);
}

/* Newer kernels (6.12 has it, 6.1 not) name the datagram in the tracepoint. */
SEC("tp_btf/udp_fail_queue_rcv_skb")
int BPF_PROG(ps_udp_drop, int rc, struct sock *sk, struct sk_buff *skb)
{
	uncount_drop(sk, skb);
	return 0;
}

/* Where ingress kept a datagram (cfg_drop_stash): see last_rx. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(ps_udp_drop_skb, struct sk_buff *skb, void *location, int reason)
{
	struct ps_dgram_slot *slot;
	struct ps_flow_count *c;
	struct last_rx *l;
	__u32 zero = 0, idx;

	if (reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_RCVBUFF) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_PROTO_MEM))
		return 0;
	l = bpf_map_lookup_elem(&last_rx, &zero);
	if (!l || !l->skb || l->skb != (__u64)skb)
		return 0;
	l->skb = 0;
	if (l->key.proto != IPPROTO_UDP && l->key.proto != IPPROTO_UDPLITE)
		return 0;	/* raw sockets: sock_rcvqueue_full */
	idx = l->slot;
	slot = idx != ~0u ? bpf_map_lookup_elem(&dgram_slots, &idx) : NULL;
	if (slot && slot->sock_id == l->key.sock_id && slot->recv >= l->bytes) {
		__sync_fetch_and_sub(&slot->recv, l->bytes);
		stat_add(PS_STAT_RECV_DROPS, 1);
		return 0;
	}
	c = bpf_map_lookup_elem(&counts, &l->key);
	if (!c || c->recv < l->bytes)
		return 0;
	__sync_fetch_and_sub(&c->recv, l->bytes);
	stat_add(PS_STAT_RECV_DROPS, 1);
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

	if (st) {
		set_flags(st, SS_NEW);
		own_by_current(st);
	}
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
	sock_info(st, sock_addr(bsk));
	if (bsk->protocol == IPPROTO_UDP || bsk->protocol == IPPROTO_UDPLITE) {
		listen_key(&k, st->netns, bsk->family, bsk->protocol, bsk->src_port);
		if (bpf_map_update_elem(&listeners, &k, &st->owner, BPF_ANY))
			stat_add(PS_STAT_LISTENERS_FULL, 1);
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

static __always_inline void mark_closed(struct sock_state *st)
{
	__u64 now = bpf_ktime_get_boot_ns();

	if (bpf_map_update_elem(&closed, &st->id, &now, BPF_ANY))
		stat_add(PS_STAT_CLOSED_FULL, 1);
}

/* Datagram and raw sockets send nothing new after the last close; what
 * was held back for neighbour resolution still leaves after it. */
SEC("cgroup/sock_release")
int ps_sock_release(struct bpf_sock *bsk)
{
	bool tcp = bsk->type == SOCK_STREAM && bsk->protocol == IPPROTO_TCP;
	struct sock_state *st;
	struct ps_listen_key k;

	st = bpf_sk_storage_get(&socks, bsk, 0, 0);
	if (!st && !tcp) {
		/* A socket older than the sensor that carried nothing it saw:
		 * state now, owned by the task closing it (its holder), while
		 * the kernel still gives it some.  Its datagrams held back for
		 * neighbour resolution are counted when they leave; the freed
		 * socket could not be given state then. */
		st = sock_state_get(bsk);
		if (!st)
			return 1;
		own_by_current(st);
		sock_info(st, sock_addr(bsk));
	}
	if (!st)
		return 1;
	if (tcp) {
		/* TCP lives on after close (see ps_tcp_state), but what the
		 * process sent until now is counted here, in its context, as
		 * well: sequence numbers only advance, so nothing counts twice */
		struct sock *sk = sock_addr(bsk);
		struct tcp_snap ts;

		if (sk && (st->flags & SS_TCP_INIT) && !(st->flags & SS_CLOSED)) {
			tcp_snapshot(st, sk, bsk->state, false, &ts);
			tcp_flush(st, sk, &ts);
		}
		return 1;
	}
	if (st->bound_port) {
		listen_key(&k, st->netns, bsk->family, bsk->protocol, st->bound_port);
		bpf_map_delete_elem(&listeners, &k);
	}
	/* packets still in flight go to `counts`: the daemon frees the slot
	 * once it has read it after the close */
	__sync_lock_test_and_set(&st->dc_state, DC_NONE);
	mark_closed(st);
	return 1;
}

static __always_inline int tcp_state_changed(struct sock *sk, int oldstate, int newstate)
{
	struct sock_state *st;
	struct ps_listen_key k;
	struct tcp_snap ts;
	__u16 family;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	switch (newstate) {
	case TCP_LISTEN:
		/* listen() runs in the listener's context */
		st = sock_state_get(sk);
		if (!st)
			return 0;
		own_by_current(st);
		listen_key(&k, sk->__sk_common.skc_net.net->ns.inum, family, IPPROTO_TCP,
			   sk->__sk_common.skc_num);
		if (bpf_map_update_elem(&listeners, &k, &st->owner, BPF_ANY))
			stat_add(PS_STAT_LISTENERS_FULL, 1);
		return 0;
	case TCP_ESTABLISHED:
		/* Count from the start: received from 0 (the SYN is never in
		 * it); sent from 1 on the connecting side (its SYN), from 0 on
		 * an accepted one.  Data already moved belongs in: a Fast Open
		 * SYN's, and what a Fast Open server sent before the handshake
		 * ended.  Anything else (a socket older than the sensor) counts
		 * from now. */
		st = sock_state_get(sk);
		if (!st)
			return 0;
		sock_info(st, sk);
		/* connected again after a disconnect: a new connection */
		__sync_fetch_and_and(&st->flags, ~SS_CLOSED);
		tcp_snapshot(st, sk, newstate, true, &ts);
		if (oldstate == TCP_SYN_SENT || (oldstate == TCP_SYN_RECV && (st->flags & SS_NEW))) {
			st->snd_counted = 1;	/* simultaneous open: SS_NEW, its own SYN */
			st->rcv_counted = 0;
		} else if (oldstate == TCP_SYN_RECV) {
			st->snd_counted = 0;
			st->rcv_counted = 0;
		} else {
			st->snd_counted = ts.sent;
			st->rcv_counted = ts.recv;
		}
		__builtin_memset(st->tcp_laddr, 0, 16);	/* IPv4 fills 4 of 16 */
		__builtin_memset(st->tcp_raddr, 0, 16);
		TCP_TUPLE_INTO(sk, st->tcp_family, st->tcp_lport, st->tcp_rport, st->tcp_laddr,
			       st->tcp_raddr);
		set_flags(st, SS_TCP_INIT | SS_TUPLE);
		return 0;
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
		/* close or shutdown queued our FIN */
		st = bpf_sk_storage_get(&socks, sk, 0, 0);
		if (st)
			set_flags(st, SS_FIN_QUEUED);
		return 0;
	case TCP_CLOSE:
		break;
	default:
		return 0;
	}
	if (oldstate == TCP_LISTEN) {
		listen_key(&k, sk->__sk_common.skc_net.net->ns.inum, family, IPPROTO_TCP,
			   sk->__sk_common.skc_num);
		bpf_map_delete_elem(&listeners, &k);
		return 0;
	}
	st = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (!st)
		return 0;
	if (oldstate == TCP_SYN_SENT && !sk->__sk_common.skc_num) {
		/* connect() found no free local port: nothing went out, so
		 * no flow (a refused attempt, which sent its SYN, is one) */
		set_flags(st, SS_CLOSED);
		return 0;
	}
	/* the last count, in the state the socket was in; after it the flow
	 * may be collected by the daemon at any time, so nothing may make it
	 * again (a later close() of a reset connection) */
	sock_refresh_ino(st, sk);
	tcp_snapshot(st, sk, oldstate, true, &ts);
	tcp_flush(st, sk, &ts);
	set_flags(st, SS_CLOSED);
	mark_closed(st);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ps_tcp_state, struct sock *sk, int oldstate, int newstate)
{
	tcp_state_changed(sk, oldstate, newstate);
	return 0;
}

/* The kernel does not run a tracing program that is already running on the
 * same CPU: a TCP state change in a softirq that interrupts ps_tcp_state
 * (say, a connection closing while a task's close() is being counted) would
 * be lost, and with it the connection's last bytes.  So the same work is
 * attached twice: whichever copy is not busy runs.  Every step is
 * idempotent (sequence numbers only advance, flags and marks are set), so
 * running both is harmless. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ps_tcp_state_twin, struct sock *sk, int oldstate, int newstate)
{
	tcp_state_changed(sk, oldstate, newstate);
	return 0;
}

/* The daemon's drain: count every TCP socket's progress since last time.
 * Reading this iterator is what makes TCP bytes appear in `counts`.  It
 * walks the namespace it was created in, the daemon's; sockets in other
 * namespaces are counted as they send (see tcp_sent), and entering those
 * namespaces (which would need CAP_SYS_ADMIN) is never needed. */
SEC("iter/tcp")
int ps_tcp_drain(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct sock_state *st;
	struct tcp_sock *tp;
	struct tcp_snap ts;
	struct sock *sk;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);	/* NULL for TIME_WAIT and request socks */
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	st = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (!st)
		return 0;
	if (!(st->owner.flags & PS_TASK_KNOWN) && !(st->flags & SS_DRAINED)) {
		/* give a new socket one round to show its owner sending */
		set_flags(st, SS_DRAINED);
		return 0;
	}
	sock_refresh_ino(st, sk);
	tcp_snapshot(st, sk, skc->skc_state, true, &ts);
	tcp_flush(st, sk, &ts);
	return 0;
}

/* ---- AF_PACKET receive ---- */

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

/* Whether the socket has a receive ring (PACKET_RX_RING): its frames go to
 * the ring, not the queue, and are not counted (docs/sensor.md, known
 * gaps). */
static __always_inline bool packet_ring(struct sock *sk)
{
	struct packet_sock *po = (void *)sk;

	if (!bpf_core_field_exists(po->rx_ring))
		return false;
	return BPF_CORE_READ(po, rx_ring.pg_vec) != NULL;
}

static __always_inline void packet_received(struct sock *sk)
{
	struct ps_flow_key key = {};
	struct sock_state *st;
	struct sk_buff *skb;
	struct ethhdr *eh, eh_copy;
	__u32 len;
	__u16 mac;

	if (sk->__sk_common.skc_family != AF_PACKET)
		return;
	/* packet_rcv queued the frame last; ring (mmap) readers queue none.
	 * The queue's lock is already released here, so a reader running on
	 * another CPU (one that does not wait between reads) may have taken
	 * the frame (and freed it) meanwhile: loads through BTF pointers
	 * cannot fault, and a frame that no longer belongs to this socket is
	 * not counted but reported.  Counting where the reader dequeues
	 * instead (skb_copy_datagram_iovec) is exact, but that tracepoint
	 * runs for every read of every socket: it cost 4% of a TCP stream
	 * read 64 bytes at a time (bench/overhead.sh), this one nothing. */
	skb = (struct sk_buff *)sk->sk_receive_queue.prev;
	if ((void *)skb == (void *)&sk->sk_receive_queue || skb->sk != sk) {
		if (!packet_ring(sk))
			stat_add(PS_STAT_PACKET_TAKEN, 1);
		return;
	}
	st = sock_state_get(sk);
	if (!st)
		return;
	sock_info(st, sk);
	if (!(st->owner.flags & PS_TASK_KNOWN)) {
		struct task_struct *reader = sleeping_reader(sk);
		struct ps_task t;

		if (reader) {
			fill_task(reader, &t);
			if (t.tgid)
				st->owner = t;
		}
	}
	key.family = AF_PACKET;
	key.proto = bpf_ntohs(skb->protocol);
	len = skb->len;
	mac = skb->mac_header;
	if (mac != (__u16)~0u && !KVIEW(eh, eh_copy, skb->head + mac)) {
		__builtin_memcpy(key.laddr, eh->h_dest, 6);
		__builtin_memcpy(key.raddr, eh->h_source, 6);
	}
	/* a reader may have taken the frame while it was read: its memory
	 * can then be another buffer's already (6.1's guest counted 892 MB
	 * for 200 kB that way).  Still the queue's last and ours: its fields
	 * were the frame's. */
	asm volatile("" ::: "memory");
	if ((void *)sk->sk_receive_queue.prev != (void *)skb || skb->sk != sk) {
		stat_add(PS_STAT_PACKET_TAKEN, 1);
		return;
	}
	flow_add(&key, st, 0, len);
}

/* 6.3 and later: every data_ready callback passes this tracepoint. */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(ps_packet_recv, struct sock *sk)
{
	packet_received(sk);
	return 0;
}

/* Earlier kernels: AF_PACKET sockets wake their readers through
 * sock_def_readable, where a BPF trampoline can attach (where the kernel
 * has them). */
SEC("fentry/sock_def_readable")
int BPF_PROG(ps_packet_recv_fentry, struct sock *sk)
{
	packet_received(sk);
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
	unsigned long arg_start, arg_end, n;
	struct ps_exec_info *e;
	__u32 tgid;
	long r;

	if (!s)
		return 0;
	e = &s->exec;
	fill_task(p, &e->who);
	tgid = e->who.tgid;
	e->path_len = 0;
	e->args_len = 0;
	r = bpf_probe_read_kernel_str(e->path, sizeof(e->path), bprm->filename);
	if (r > 0)
		e->path_len = r;
	arg_start = BPF_CORE_READ(p, mm, arg_start);
	arg_end = BPF_CORE_READ(p, mm, arg_end);
	n = arg_end - arg_start;
	/* args_len says how long the arguments really are (the daemon marks
	 * a longer command line as cut); only what fits is read */
	e->args_len = n < 0x7fffffff ? n : 0x7fffffff;
	if (n > sizeof(e->args))
		n = sizeof(e->args);
	/* exactly the arguments: a fixed-size read would fail where the
	 * stack ends sooner (a short environment, `env -i prog`) and would
	 * copy environment bytes that are not the command line */
	barrier_var(n);
	if (!n || n > sizeof(e->args) || bpf_probe_read_user(e->args, n, (void *)arg_start))
		e->args_len = 0;
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
