/* The monitor's event loop (monitor.h):
 *
 *   ring buffer record --> tracker (name the process now) --> IDENT, SEEN
 *                          DNS queries and answers         --> DNS
 *                          first bytes of connections      --> FIRST
 *   every second       --> tracker_drain --> DELTAS, then STATS and TICK
 *                          (held back while the logger is behind: the
 *                          kernel keeps counting meanwhile)
 *   hash computed      --> HASH;  a file for the user's eyes --> HASH_REQ
 *   fanotify event     --> the file's next use hashes it again
 *   logger message     --> LOG printed (escaped), FATAL, DONE; anything
 *                          else is refused and counted
 *   SIGINT / SIGTERM   --> last drain, FINAL, wait for DONE, return
 *   the logger's end   --> stop (its window is gone; error.log says so at
 *                          the next start)
 */
#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "identity/exehash.h"
#include "identity/ident.h"
#include "identity/procscan.h"
#include "pipeline/tracker.h"
#include "privsep/caps.h"
#include "privsep/channel.h"
#include "privsep/spawn.h"
#include "sensor/sensor.h"
#include "util/log.h"
#include "util/strutil.h"

#define IDENT_IDLE_SECONDS 300	/* forget process names unused this long */
#define CHANNEL_QUEUE_MAX (256 << 20)	/* what may wait for the logger */
#define CHANNEL_BEHIND (16 << 20)	/* past this, drains wait for the logger */
#define START_TIMEOUT_MS 30000
#define FINAL_TIMEOUT_MS 60000
#define RINGBUF_MAX_BYTES (1u << 30)
/* The monitor's CPU priority.  Its work follows the machine's network
 * activity and is bounded (a fraction of one core in the worst flood
 * measured), but it must get that fraction when it needs it: the kernel's
 * tables hold only a few seconds of closed connections.  At nice 0, 200
 * busy processes leave it one 200th of the CPU and the tables overflow
 * (bench/storm.sh 200).  The logger keeps the default priority (it runs as
 * the user, who must not inherit a raised priority through it), as do the
 * hashing threads (bulk work that may wait). */
#define MONITOR_NICE (-20)

#include "monitor/monitor_int.h"

struct monitor {
	struct state_dir *sd;	/* NULL in fuzz targets */
	struct channel *chan;
	pid_t logger_pid;
	bool logger_gone, logger_done;
	int logger_status;	/* from FATAL, or 0 */
	struct ps_msg_config cfg;
	struct sensor *sensor;
	struct exehash *hashes;
	struct ident_cache *idents;
	struct tracker *tracker;
	struct ps_msg_deltas deltas;	/* being filled */
	struct ps_msg_first first_msg;	/* being sent */
	uint64_t mstat[PS_MSTAT_MAX];
	uint64_t ring_records;		/* ring buffer records read */
	uint64_t held_back;		/* drains skipped while the logger was behind */
	bool said_behind;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* ---- to the logger ---- */

static void send_msg(struct monitor *m, const void *msg)
{
	if (!m->chan)
		return;
	if (channel_send(m->chan, msg) == -ENOBUFS)
		m->mstat[PS_MSTAT_QUEUE_DROPPED]++;
}

static void note(struct monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct monitor *m, const char *fmt, ...)
{
	struct ps_msg_note n;
	va_list ap;
	int len;

	proto_init(&n, PS_MSG_NOTE);
	va_start(ap, fmt);
	len = vsnprintf(n.text, sizeof(n.text), fmt, ap);
	va_end(ap);
	n.len = len < 0 ? 0 : len >= (int)sizeof(n.text) ? sizeof(n.text) - 1 : (uint32_t)len;
	send_msg(m, &n);
}

static void send_empty(struct monitor *m, unsigned type)
{
	struct ps_msg_empty e;

	proto_init(&e, type);
	send_msg(m, &e);
}

static void flush_deltas(struct monitor *m)
{
	if (!m->deltas.n)
		return;
	send_msg(m, &m->deltas);
	m->deltas.n = 0;
}

static void on_delta(void *ctx, const struct ps_delta *d)
{
	struct monitor *m = ctx;

	if (!m->deltas.hdr.type)
		proto_init(&m->deltas, PS_MSG_DELTAS);
	m->deltas.d[m->deltas.n++] = *d;
	if (m->deltas.n == PS_DELTAS_MAX)
		flush_deltas(m);
}

static void on_who(void *ctx, const struct ident *proc, const struct ident *parent,
		   const struct ident *gparent, bool exec)
{
	struct monitor *m = ctx;
	struct ps_msg_seen s;

	/* the deltas of a flow may come before its SEEN: both are ordered on
	 * one socket, and the logger needs the identities, not the order */
	proto_init(&s, PS_MSG_SEEN);
	s.proc = proc->id;
	s.parent = parent->id;
	s.gparent = gparent->id;
	s.exec = exec;
	send_msg(m, &s);
}

static void copy_bytes(char *dst, size_t cap, const char *src, size_t len, __u32 *out_len,
		       __u32 *flags, unsigned cut_flag)
{
	if (len > cap) {
		len = cap;
		*flags |= cut_flag;
	}
	memcpy(dst, src, len);
	*out_len = (__u32)len;
}

static void on_new_ident(void *ctx, const struct ident *id)
{
	struct monitor *m = ctx;
	static struct ps_msg_ident msg;	/* 8 KB: not on the stack */
	const char *sentinel = ident_sentinel(id);

	proto_init(&msg, PS_MSG_IDENT);
	msg.id = id->id;
	msg.start_ns = id->key.start_ns;
	msg.pid = id->key.pid;
	msg.file_ino = id->file ? id->file->key.ino : 0;
	msg.file_dev = id->file ? id->file->key.dev : 0;
	msg.source = id->source == IDENT_PROC	     ? PS_IDENT_PROC :
		     id->source == IDENT_EXEC_CACHE ? PS_IDENT_EXEC_CACHE :
		     id->source == IDENT_KERNEL_ONLY ? PS_IDENT_KERNEL :
						       PS_IDENT_NONE;
	if (id->exe_mismatch)
		msg.flags |= PS_IDENT_EXE_MISMATCH;
	if (id->cmdline_cut)
		msg.flags |= PS_IDENT_CMD_CUT;
	memcpy(msg.comm, id->name, strnlen(id->name, PS_COMM_LEN));
	snprintf(msg.sentinel, sizeof(msg.sentinel), "%s", sentinel);
	copy_bytes(msg.exe, sizeof(msg.exe), id->exe, strlen(id->exe), &msg.exe_len, &msg.flags,
		   PS_IDENT_EXE_CUT);
	copy_bytes(msg.cmd, sizeof(msg.cmd), id->cmdline, id->cmdline_len, &msg.cmd_len,
		   &msg.flags, PS_IDENT_CMD_CUT);
	msg.cgroup_len = 0;
	if (id->cgroup) {
		msg.cgroup_len = id->cgroup_len < sizeof(msg.cgroup) ? id->cgroup_len
								      : sizeof(msg.cgroup);
		memcpy(msg.cgroup, id->cgroup, msg.cgroup_len);
	}
	if (id->file)
		msg.file_flags = (id->file->flags & EXE_DELETED ? PS_FILE_DELETED : 0) |
				 (id->file->flags & EXE_MEMFD ? PS_FILE_MEMFD : 0);
	send_msg(m, &msg);
	/* what is known of its file now: its hash, or that one is being
	 * computed (a file written since its last hash: the old hash must
	 * not be taken for this process's) */
	if (id->file && !(id->file->flags & (EXE_SENTINEL | EXE_VIA_USER)) &&
	    (id->file->state == EXE_PENDING || id->file->sha256[0])) {
		struct ps_msg_hash h;

		proto_init(&h, PS_MSG_HASH);
		h.file_ino = id->file->key.ino;
		h.file_dev = id->file->key.dev;
		h.flags = msg.file_flags | (id->file->state == EXE_PENDING ? PS_FILE_PENDING : 0);
		snprintf(h.sha256, sizeof(h.sha256), "%s",
			 id->file->state == EXE_PENDING ? SHA_PENDING : id->file->sha256);
		send_msg(m, &h);
	}
}

static void on_drop_ident(void *ctx, uint64_t id)
{
	struct monitor *m = ctx;
	struct ps_msg_ident_drop d;

	proto_init(&d, PS_MSG_IDENT_DROP);
	d.id = id;
	send_msg(m, &d);
}

static void on_hashed(void *ctx, struct exe_file *f)
{
	struct monitor *m = ctx;
	struct ps_msg_hash h;

	proto_init(&h, PS_MSG_HASH);
	h.file_ino = f->key.ino;
	h.file_dev = f->key.dev;
	h.flags = (f->flags & EXE_DELETED ? PS_FILE_DELETED : 0) |
		  (f->flags & EXE_MEMFD ? PS_FILE_MEMFD : 0);
	snprintf(h.sha256, sizeof(h.sha256), "%s", f->sha256[0] ? f->sha256 : SHA_UNREADABLE);
	send_msg(m, &h);
}

/* The answer to the logger's PS_MSG_MD5_REQ: the MD5, or "" when it cannot
 * be had (closed, changed, too many asked at once). */
static void send_md5(struct monitor *m, uint64_t ino, uint32_t dev, const char *sha,
		     const char *md5)
{
	struct ps_msg_hash h;

	proto_init(&h, PS_MSG_MD5);
	h.file_ino = ino;
	h.file_dev = dev;
	snprintf(h.sha256, sizeof(h.sha256), "%s", sha);
	snprintf(h.md5, sizeof(h.md5), "%s", md5);
	send_msg(m, &h);
}

static void on_md5(void *ctx, struct exe_file *f, const char *md5)
{
	send_md5(ctx, f->key.ino, f->key.dev, f->sha256, md5);
}

static void on_user_hash(void *ctx, struct exe_file *f, uint32_t pid, const char *path)
{
	struct monitor *m = ctx;
	struct ps_msg_hash_req *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	proto_init(r, PS_MSG_HASH_REQ);
	r->file_ino = f->key.ino;
	r->file_dev = f->key.dev;
	r->pid = pid;
	if (path && path[0] == '/') {
		size_t n = strnlen(path, PS_PATH_MAX);

		memcpy(r->path, path, n);
		r->path_len = (__u32)n;
	} else {
		/* by pid alone */
		memcpy(r->path, "-", 1);
		r->path_len = 1;
	}
	send_msg(m, r);
	free(r);
}

static void on_missing(void *ctx, const char *hook, const char *lost, const char *why)
{
	note(ctx, "this kernel does not offer '%s' (%s): not seen: %s", hook, why, lost);
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct monitor *m = ctx;
	const struct ps_event_hdr *h = data;

	m->ring_records++;
	if (size < sizeof(*h) || h->size != size || h->version != PS_EVENT_VERSION)
		return 0;
	switch (h->type) {
	case PS_EV_FLOW:
		if (size == sizeof(struct ps_ev_flow)) {
			const struct ps_ev_flow *ev = data;

			tracker_on_flow(m->tracker, &ev->key, &ev->info);
		}
		break;
	case PS_EV_EXEC:
		if (size == sizeof(struct ps_ev_exec) && m->cfg.every_exe) {
			const struct ps_ev_exec *ev = data;

			tracker_on_exec(m->tracker, &ev->info);
		}
		break;
	case PS_EV_DNS:
		if (size == sizeof(struct ps_ev_dns)) {
			const struct ps_ev_dns *ev = data;
			struct ps_msg_dns d;

			/* passed on as bytes: the logger parses them */
			proto_init(&d, PS_MSG_DNS);
			d.len = ev->len <= sizeof(d.data) ? ev->len : sizeof(d.data);
			memcpy(d.data, ev->data, d.len);
			d.netns = ev->netns;
			d.dir = ev->dir;
			d.family = ev->family;
			d.lport = ev->lport;
			d.rport = ev->rport;
			d.proto = ev->proto;
			d.tcp_flags = ev->tcp_flags;
			d.seq = ev->seq;
			d.seg_len = ev->seg_len;
			memcpy(d.laddr, ev->laddr, sizeof(d.laddr));
			memcpy(d.raddr, ev->raddr, sizeof(d.raddr));
			send_msg(m, &d);
		}
		break;
	case PS_EV_FIRST:
		if (size == sizeof(struct ps_ev_first)) {
			const struct ps_ev_first *ev = data;
			struct ps_msg_first *f = &m->first_msg;

			/* passed on as bytes: the logger parses them */
			proto_init(f, PS_MSG_FIRST);
			f->len = ev->len <= sizeof(f->data) ? ev->len : sizeof(f->data);
			memcpy(f->data, ev->data, f->len);
			f->netns = ev->netns;
			f->family = ev->family;
			f->proto = ev->proto;
			f->lport = ev->lport;
			f->rport = ev->rport;
			f->first = ev->first;
			f->seq = ev->seq;
			f->seg_len = ev->seg_len < f->len ? f->len : ev->seg_len;
			memcpy(f->laddr, ev->laddr, sizeof(f->laddr));
			memcpy(f->raddr, ev->raddr, sizeof(f->raddr));
			send_msg(m, f);
		}
		break;
	case PS_EV_UNOWNED:
		if (size == sizeof(struct ps_ev_unowned)) {
			const struct ps_ev_unowned *ev = data;

			tracker_on_unowned(m->tracker, &ev->key, ev->sock_ino);
		}
		break;
	default:
		break;
	}
	return 0;
}

static void send_stats(struct monitor *m)
{
	struct ps_msg_stats s;
	struct ident_stats is;
	struct exehash_stats hs;
	struct tracker_stats ts;
	struct channel_stats cs;

	proto_init(&s, PS_MSG_STATS);
	{
		uint64_t st[PS_STAT_MAX];

		if (sensor_stats(m->sensor, st) == 0)
			for (int i = 0; i < PS_STAT_MAX; i++)
				s.sensor[i] = st[i];
	}
	ident_stats_get(m->idents, &is);
	exehash_stats_get(m->hashes, &hs);
	tracker_stats_get(m->tracker, &ts);
	channel_stats(m->chan, &cs);
	s.monitor[PS_MSTAT_UNIDENTIFIED] = is.unidentified;
	s.monitor[PS_MSTAT_EXE_MISMATCH] = is.exe_mismatch;
	s.monitor[PS_MSTAT_UNHASHED] = is.unhashed;
	s.monitor[PS_MSTAT_REPLACED] = hs.replaced;
	s.monitor[PS_MSTAT_UNREADABLE] = hs.unreadable;
	s.monitor[PS_MSTAT_UNOWNED] = ts.unowned_unresolved;
	s.monitor[PS_MSTAT_UNOWNED_BYTES] = ts.unowned_bytes;
	s.monitor[PS_MSTAT_LISTENER_FALLBACK] = ts.listener_fallback;
	s.monitor[PS_MSTAT_QUEUE_DROPPED] = m->mstat[PS_MSTAT_QUEUE_DROPPED] + cs.dropped;
	s.monitor[PS_MSTAT_BAD_MESSAGES] = m->mstat[PS_MSTAT_BAD_MESSAGES] + cs.refused;
	s.unhashed_example = is.unhashed_example;
	s.mismatch_example = is.mismatch_example;
	s.flow_capacity = sensor_flow_capacity(m->sensor);
	s.flows_tracked = tracker_flow_count(m->tracker);
	s.ringbuf_bytes = ringbuf_bytes(m);
	s.ringbuf_records = m->ring_records;
	s.hashes = hs.hashed;
	send_msg(m, &s);
}

/* ---- from the logger ---- */

/* A line from the logger, which runs as a user: printed as safe text, so
 * it can neither forge lines nor reach the terminal with escapes. */
static void print_logger_line(const struct ps_msg_log *l)
{
	char *safe = text_for_terminal(l->text, l->len);

	if (!safe)
		return;
	if (l->level == PS_LOG_STDOUT) {
		printf("picosnitch: %s\n", safe);
		fflush(stdout);
	} else {
		log_msg(l->level == PS_LOG_ERROR ? LOG_LVL_ERROR :
			l->level == PS_LOG_WARN	 ? LOG_LVL_WARN :
						   LOG_LVL_INFO, "%s", safe);
	}
	free(safe);
}

/* One message from the logger, as received (checked here): it runs as a
 * user and may send anything.  Only four kinds are taken; the settings
 * are taken once, and clamped where they are used. */
void monitor_handle_logger(struct monitor *m, const void *buf, size_t len)
{
	const struct ps_msg_hdr *h = buf;

	if (!proto_check(buf, len)) {
		m->mstat[PS_MSTAT_BAD_MESSAGES]++;
		return;
	}
	switch (h->type) {
	case PS_MSG_LOG:
		print_logger_line(buf);
		break;
	case PS_MSG_CONFIG:
		if (!m->cfg.hdr.type)
			memcpy(&m->cfg, buf, sizeof(m->cfg));
		else
			m->mstat[PS_MSTAT_BAD_MESSAGES]++;
		break;
	case PS_MSG_FATAL: {
		const struct ps_msg_fatal *f = buf;
		struct ps_msg_log l = { .level = PS_LOG_ERROR, .len = f->len };

		memcpy(l.text, f->text, f->len);
		print_logger_line(&l);
		m->logger_status = (int)f->status;
		break;
	}
	case PS_MSG_DONE:
		m->logger_done = true;
		break;
	case PS_MSG_MD5_REQ: {
		/* a file the monitor opened and hashed already: nothing the
		 * logger sends names a path to open */
		const struct ps_msg_md5_req *r = buf;

		if (!m->hashes || exehash_md5(m->hashes, r->file_ino, r->file_dev, r->sha256) < 0)
			send_md5(m, r->file_ino, r->file_dev, r->sha256, "");
		break;
	}
	default:
		m->mstat[PS_MSTAT_BAD_MESSAGES]++;
		break;
	}
}

/* Handle every message waiting from the logger.  Returns false once it is
 * gone. */
static bool from_logger(struct monitor *m)
{
	static char buf[PS_MSG_MAX];

	for (int i = 0; i < 1024; i++) {
		int r = channel_recv(m->chan, buf);

		if (r == 0)
			return true;
		if (r == -EBADMSG)
			continue;	/* counted by the channel */
		if (r < 0) {
			m->logger_gone = true;
			return false;
		}
		monitor_handle_logger(m, buf, (size_t)r);
	}
	return true;
}

/* Wait until the logger has sent what cond asks, or is gone, or the time
 * is up; the channel is flushed meanwhile. */
static void wait_logger(struct monitor *m, bool (*cond)(struct monitor *), int timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;

	while (!cond(m) && !m->logger_gone && !m->logger_status && mono_ms() < end) {
		struct pollfd p = { channel_fd(m->chan), POLLIN, 0 };

		if (channel_flush(m->chan) < 0) {
			m->logger_gone = true;
			break;
		}
		if (channel_has_queued(m->chan))
			p.events |= POLLOUT;
		if (poll(&p, 1, 100) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
			from_logger(m);
	}
}

static bool have_config(struct monitor *m)
{
	return m->cfg.hdr.type != 0;
}

static bool have_done(struct monitor *m)
{
	return m->logger_done;
}

static void reap_logger(struct monitor *m, int timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;

	if (m->logger_pid <= 0)
		return;
	for (;;) {
		int status;
		pid_t w = waitpid(m->logger_pid, &status, WNOHANG);

		if (w == m->logger_pid || (w < 0 && errno != EINTR))
			break;
		if (mono_ms() >= end) {
			kill(m->logger_pid, SIGKILL);
			waitpid(m->logger_pid, NULL, 0);
			break;
		}
		poll(NULL, 0, 20);
	}
	m->logger_pid = 0;
}

/* ---- settings ---- */

/* "Perf ring buffer (pages)": a power of two (the logger checked it),
 * kept within what the kernel and memory allow, in bytes of this kernel's
 * pages (64 KiB on some). */
uint32_t ringbuf_bytes(struct monitor *m)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), pages = m->cfg.ring_buffer_pages, bytes;

	if (page == 0 || page > (1u << 20))
		page = 4096;
	if (pages == 0 || (pages & (pages - 1)))
		pages = 256;
	bytes = pages * page;
	if (bytes > RINGBUF_MAX_BYTES) {
		note(m, "\"Perf ring buffer (pages)\" is %" PRIu64 " pages of %" PRIu64 " bytes, over "
		     "%u bytes: using %u bytes", pages, page, RINGBUF_MAX_BYTES, RINGBUF_MAX_BYTES);
		bytes = RINGBUF_MAX_BYTES;
	}
	return (uint32_t)bytes;
}

/* PICOSNITCH_FLOW_TABLE, PICOSNITCH_CLOSED_TABLE and PICOSNITCH_LISTENER_TABLE
 * (N entries) size the kernel's tables of flows, closed sockets and
 * listening ports: for diagnostics, and for tests of what happens when one
 * is full.  0 (unset or not a number) keeps the built-in size. */
static uint32_t table_size(const char *env)
{
	const char *v = getenv(env);
	uint64_t n;

	if (!v || parse_u64(v, &n) < 0 || n == 0 || n > (1u << 24))
		return 0;
	return (uint32_t)n;
}

/* "Set RLIMIT_NOFILE", then the executable cache gets what the soft limit
 * leaves after 128 descriptors for everything else. */
static size_t exe_cache_size(struct monitor *m)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 896;
	if (m->cfg.has_rlimit_nofile) {
		struct rlimit want = { (rlim_t)m->cfg.rlimit_nofile, rl.rlim_max };

		if (want.rlim_cur > want.rlim_max)
			note(m, "\"Set RLIMIT_NOFILE\" is %" PRIu64 " but the hard limit is %llu: "
			     "keeping %llu", (uint64_t)m->cfg.rlimit_nofile,
			     (unsigned long long)rl.rlim_max, (unsigned long long)rl.rlim_cur);
		else if (setrlimit(RLIMIT_NOFILE, &want) < 0)
			note(m, "\"Set RLIMIT_NOFILE\" could not be applied: %s", strerror(errno));
		else
			rl = want;
	}
	return rl.rlim_cur > 256 ? (size_t)rl.rlim_cur - 128 : 128;
}

/* btrfs gives every subvolume its own device number in stat() while the
 * kernel reports the superblock's: compare inodes only there (the
 * kernel's own identity is read where the two differ anyway). */
static bool have_btrfs(void)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char src[1024], dir[1024], type[64];

		if (sscanf(line, "%1023s %1023s %63s", src, dir, type) == 3 &&
		    !strcmp(type, "btrfs") && str_has_prefix(src, "/dev/"))
			found = true;
	}
	fclose(f);
	return found;
}

uint32_t st_dev_mask(struct monitor *m)
{
	if (m->cfg.has_st_dev_mask)
		return (uint32_t)m->cfg.st_dev_mask;
	return have_btrfs() ? 0 : 0xffffffffu;
}

/* ---- the loop ---- */

static void drain(struct monitor *m, bool final)
{
	int r;

	sensor_consume(m->sensor);
	tracker_resolve_unowned(m->tracker);
	if (!final && channel_queued_bytes(m->chan) > CHANNEL_BEHIND) {
		/* the logger is behind: the kernel keeps counting, and the next
		 * drain hands on everything since */
		m->held_back++;
		if (!m->said_behind) {
			log_warn("the logger is not keeping up: holding back the counters until it "
				 "does (nothing is lost while the kernel's tables have room)");
			m->said_behind = true;
		}
		return;
	}
	m->said_behind = false;
	r = tracker_drain(m->tracker, final);
	if (r < 0)
		note(m, "cannot read the flow counters: %s", strerror(-r));
	flush_deltas(m);
	send_stats(m);
	if (!final) {
		struct ps_msg_tick t;

		proto_init(&t, PS_MSG_TICK);
		t.now = time(NULL);
		send_msg(m, &t);
	}
}

static int run_loop(struct monitor *m, void (*on_ready)(void *), void *ready_ctx)
{
	struct epoll_event ev, evs[8];
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };
	int ep = -1, tfd = -1, sfd = -1, r = 0, cfd = channel_fd(m->chan);
	uint64_t last_gc = mono_ms();
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0) {
		r = log_errno(-errno, "cannot set up the event loop");
		goto out;
	}
	timerfd_settime(tfd, 0, &its, NULL);
	ev.events = EPOLLIN;
	ev.data.fd = sensor_poll_fd(m->sensor);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = exehash_done_fd(m->hashes);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	if (exehash_fanotify_fd(m->hashes) >= 0) {
		ev.data.fd = exehash_fanotify_fd(m->hashes);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	ev.data.fd = cfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);

	log_info("monitoring network traffic; logging to %s every %u seconds", m->sd->path,
		 m->cfg.write_limit);
	/* systemd (Type=notify) and `picosnitch start` wait for this */
	sd_notifyf(0, "READY=1\nSTATUS=monitoring; logging to %s\nMAINPID=%d", m->sd->path,
		   (int)getpid());
	if (on_ready)
		on_ready(ready_ctx);
	for (;;) {
		int n;

		if (channel_flush(m->chan) < 0)
			m->logger_gone = true;
		ev.events = EPOLLIN | (channel_has_queued(m->chan) ? EPOLLOUT : 0);
		ev.data.fd = cfd;
		epoll_ctl(ep, EPOLL_CTL_MOD, cfd, &ev);
		if (m->logger_gone || m->logger_status)
			break;
		n = epoll_wait(ep, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = log_errno(-errno, "epoll_wait failed");
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					log_info("received %s: writing what was counted and stopping",
						 strsignal(si.ssi_signo));
					goto stop;
				}
			} else if (fd == tfd) {
				uint64_t expirations;

				if (read(tfd, &expirations, sizeof(expirations)) < 0)
					continue;
				drain(m, false);
				if (mono_ms() - last_gc > 10000) {
					struct timespec ts;

					clock_gettime(CLOCK_MONOTONIC, &ts);
					if (ts.tv_sec > IDENT_IDLE_SECONDS)
						ident_cache_gc(m->idents, ts.tv_sec - IDENT_IDLE_SECONDS);
					last_gc = mono_ms();
				}
			} else if (fd == exehash_done_fd(m->hashes)) {
				exehash_handle_done(m->hashes);
			} else if (fd == exehash_fanotify_fd(m->hashes)) {
				exehash_handle_fanotify(m->hashes);
			} else if (fd == cfd) {
				from_logger(m);
			} else {
				sensor_consume(m->sensor);
				tracker_resolve_unowned(m->tracker);
			}
		}
	}
	/* the logger ended on its own */
	if (m->logger_status) {
		r = m->logger_status;
	} else {
		log_error("the logger process ended unexpectedly: stopping (what it had not written "
			  "yet is lost; restart picosnitch)");
		r = 1;
	}
	goto out;
stop:
	sd_notify(0, "STOPPING=1\nSTATUS=writing what was counted");
	drain(m, true);
	exehash_settle(m->hashes, 2000);	/* so the last rows carry hashes */
	flush_deltas(m);
	send_stats(m);
	send_empty(m, PS_MSG_FINAL);
	wait_logger(m, have_done, FINAL_TIMEOUT_MS);
	if (!m->logger_done) {
		log_error("the logger did not finish writing within %d seconds",
			  FINAL_TIMEOUT_MS / 1000);
		r = 1;
	}
out:
	if (ep >= 0)
		close(ep);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	return r;
}

struct monitor *monitor_new_for_tests(void)
{
	return calloc(1, sizeof(struct monitor));
}

int monitor_run(struct state_dir *sd, void (*on_ready)(void *ctx), void *ready_ctx)
{
	struct monitor m = { .sd = sd };
	struct spawn_opts so = { .uid = sd->uid, .gid = sd->gid, .state_fd = sd->fd,
				 .state_path = sd->path };
	struct sensor_opts sopts = {
		.flow_capacity = table_size("PICOSNITCH_FLOW_TABLE"),
		.closed_capacity = table_size("PICOSNITCH_CLOSED_TABLE"),
		.listener_capacity = table_size("PICOSNITCH_LISTENER_TABLE"),
		.on_event = on_event,
		.on_missing = on_missing,
		.ctx = &m,
	};
	struct exehash_opts hopts = {
		.threads = 2,
		.on_hashed = on_hashed,
		.on_user_hash = on_user_hash,
		.on_md5 = on_md5,
		.ctx = &m,
	};
	struct ident_cache_opts iopts = { .on_new = on_new_ident, .on_drop = on_drop_ident,
					  .ctx = &m };
	struct tracker_opts topts = { .on_who = on_who, .on_delta = on_delta, .ctx = &m };
	struct ps_msg_hello hello;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char err[4096] = "";
	sigset_t mask;
	int fd, r;

	/* signals wait for the loop (and are not inherited blocked: spawn
	 * resets the logger's mask) */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = logger_spawn(&so, &m.logger_pid, &fd);
	if (r < 0) {
		log_errno(r, "cannot start the logger as user %u", (unsigned)sd->uid);
		return 1;
	}
	if (setpriority(PRIO_PROCESS, 0, MONITOR_NICE) < 0)
		log_warn("cannot raise the monitor's CPU priority (%s): a flood of busy processes "
			 "can starve it, and what overflows the kernel's tables meanwhile is lost "
			 "(and reported)", strerror(errno));
	r = channel_new(fd, CHANNEL_QUEUE_MAX, &m.chan);
	if (r < 0) {
		close(fd);
		log_errno(r, "cannot start the logger");
		r = 1;
		goto out;
	}
	proto_init(&hello, PS_MSG_HELLO);
	hello.monitor_pid = (uint32_t)getpid();
	send_msg(&m, &hello);

	/* the logger reads config.json and opens its files */
	wait_logger(&m, have_config, START_TIMEOUT_MS);
	if (!have_config(&m)) {
		if (!m.logger_status)
			log_error("the logger did not start (%s)",
				  m.logger_gone ? "it ended" : "no answer within 30 seconds");
		r = m.logger_status ? m.logger_status : 1;
		goto out;
	}

	sopts.ringbuf_bytes = ringbuf_bytes(&m);
	sopts.every_exe = m.cfg.every_exe;
	r = sensor_open(&sopts, &m.sensor, err, sizeof(err));
	if (r < 0) {
		log_error("cannot start the BPF sensor: %s", err);
		note(&m, "cannot start the BPF sensor: %s", err);
		r = 1;
		goto finish;
	}
	r = exec_cache_seed(sensor_execs_fd(m.sensor));
	if (r < 0)
		note(&m, "cannot list the running processes: %s", strerror(-r));
	hopts.dev_mask = st_dev_mask(&m);
	hopts.max_open = exe_cache_size(&m);
	if (ncpu > 2)
		hopts.threads = ncpu > 4 ? 4 : (int)ncpu;
	r = exehash_new(&hopts, &m.hashes);
	if (r < 0) {
		log_errno(r, "cannot start hashing executables");
		r = 1;
		goto finish;
	}
	if (exehash_fanotify_fd(m.hashes) < 0)
		note(&m, "fanotify is not available: executables modified while picosnitch has "
		     "them cached are not hashed again");
	iopts.execs_fd = sensor_execs_fd(m.sensor);
	iopts.dev_mask = hopts.dev_mask;
	iopts.hashes = m.hashes;
	r = ident_cache_new(&iopts, &m.idents);
	if (r == 0)
		r = tracker_new(m.idents, m.sensor, &topts, &m.tracker);
	if (r < 0) {
		log_errno(r, "cannot start");
		r = 1;
		goto finish;
	}
	/* from here on, only reading the kernel */
	r = caps_limit_to_monitor();
	if (r < 0) {
		log_errno(r, "cannot drop the capabilities picosnitch does not need");
		r = 1;
		goto finish;
	}
	send_empty(&m, PS_MSG_READY);
	r = run_loop(&m, on_ready, ready_ctx);
	goto out;
finish:
	/* the logger writes what it was told (error.log) and ends */
	send_empty(&m, PS_MSG_FINAL);
	wait_logger(&m, have_done, 10000);
out:
	/* closing the socket ends the logger (it waits for that, so that
	 * nothing it sent goes unread) */
	channel_free(m.chan);
	m.chan = NULL;
	reap_logger(&m, 5000);
	tracker_free(m.tracker);
	ident_cache_free(m.idents);
	exehash_free(m.hashes);
	sensor_close(m.sensor);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	return r;
}
