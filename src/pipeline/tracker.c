/* Flow tracking and window aggregation (see tracker.h). */
#include "pipeline/tracker.h"
#include "pipeline/domains.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <uthash.h>

#include "identity/procscan.h"
#include "util/log.h"
#include "util/strutil.h"

/* A process, its parent and grandparent, and the user: who a flow is for. */
struct who {
	struct ident *proc, *parent, *gparent;
	int64_t uid;
};

/* A sensor flow as last read. */
struct flow {
	struct ps_flow_key key;
	uint64_t sent, recv;	/* counted into windows so far */
	struct who who;		/* proc is NULL while the process is looked for */
	bool reported;		/* has been in a window (even with 0 bytes) */
	bool counted_elsewhere;	/* unowned part of a socket another flow counts */
	UT_hash_handle hh;
};

/* The process behind a socket first seen without one. */
struct owner {
	uint64_t sock_id;
	uint64_t sock_ino;
	struct ps_flow_key key;
	struct who who;
	int scans;
	bool resolved;
	bool by_flow;		/* named by another flow of the same socket */
	UT_hash_handle hh;
};

#define MAX_SCANS 3
#define SCAN_INTERVAL_MS 100
#define MAX_DEFERRALS 3		/* windows a row may wait for its hashes */

/* One row of the window being collected. */
struct agg {
	char *hkey;
	struct conn_row row;
	struct who who;
	char laddr[48], raddr[48];
	char *domain;		/* NULL when empty (most rows) */
	char sha[3][65];	/* the hashes, copied when the row is taken */
	int deferrals;
	UT_hash_handle hh;
};

struct tracker {
	struct ident_cache *ic;
	struct sensor *sensor;
	struct tracker_opts opts;
	struct flow *flows;
	struct owner *owners;
	struct agg *window;
	struct domains *domains;
	struct tracker_stats stats;
	/* during a drain */
	uint64_t *closed;
	size_t nclosed;
	struct ps_flow_key *dead;
	size_t ndead, dead_cap;
	bool final;
	uint64_t last_scan_ms;
	uint32_t own_netns;
	/* the sensor's flows as read by one drain */
	struct pending_flow {
		struct ps_flow_key key;
		struct ps_flow_count count;
	} *pending;
	size_t pending_n, pending_cap;
};

#define MAX_NETNS 64
/* addresses whose domain is remembered (about 300 bytes each) */
#define DOMAINS_CAPACITY 16384

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

int tracker_new(struct ident_cache *ic, struct sensor *sensor, const struct tracker_opts *opts,
		struct tracker **ret)
{
	struct tracker *t = calloc(1, sizeof(*t));
	struct stat st;
	int r;

	if (!t)
		return -ENOMEM;
	r = domains_new(DOMAINS_CAPACITY, &t->domains);
	if (r < 0) {
		free(t);
		return r;
	}
	t->ic = ic;
	t->sensor = sensor;
	t->opts = *opts;
	if (stat("/proc/self/ns/net", &st) == 0)
		t->own_netns = (uint32_t)st.st_ino;
	*ret = t;
	return 0;
}

/* ---- who ---- */

static void who_release(struct tracker *t, struct who *w)
{
	ident_unref(t->ic, w->proc);
	ident_unref(t->ic, w->parent);
	ident_unref(t->ic, w->gparent);
	w->proc = w->parent = w->gparent = NULL;
}

static bool who_from_task(struct tracker *t, struct who *w, const struct ps_task *task)
{
	who_release(t, w);
	w->proc = ident_get(t->ic, task, ROLE_SELF);
	w->parent = ident_get(t->ic, task, ROLE_PARENT);
	w->gparent = ident_get(t->ic, task, ROLE_GRANDPARENT);
	w->uid = task->uid;
	if (w->proc && w->parent && w->gparent)
		return true;
	who_release(t, w);
	return false;
}

static bool who_none(struct tracker *t, struct who *w, const char *name, int64_t uid)
{
	who_release(t, w);
	w->proc = ident_none(t->ic, name);
	w->parent = ident_none(t->ic, "");
	w->gparent = ident_none(t->ic, "");
	w->uid = uid;
	if (w->proc && w->parent && w->gparent)
		return true;
	who_release(t, w);
	return false;
}

static void who_copy(struct who *dst, const struct who *src)
{
	dst->proc = ident_ref(src->proc);
	dst->parent = ident_ref(src->parent);
	dst->gparent = ident_ref(src->gparent);
	dst->uid = src->uid;
}

/* A flow's process became known: tell the daemon (record, notifications). */
static void who_seen(struct tracker *t, const struct who *w, bool exec)
{
	if (t->opts.on_who)
		t->opts.on_who(t->opts.ctx, w->proc, w->parent, w->gparent, exec);
}

/* ---- bookkeeping ---- */

static void agg_free(struct tracker *t, struct agg *a)
{
	who_release(t, &a->who);
	free(a->hkey);
	free(a->domain);
	free(a);
}

static void flow_free(struct tracker *t, struct flow *f)
{
	who_release(t, &f->who);
	free(f);
}

static void owner_free(struct tracker *t, struct owner *o)
{
	who_release(t, &o->who);
	free(o);
}

void tracker_free(struct tracker *t)
{
	struct flow *f, *ft;
	struct owner *o, *ot;
	struct agg *a, *at;

	if (!t)
		return;
	domains_free(t->domains);
	HASH_ITER(hh, t->flows, f, ft) {
		HASH_DEL(t->flows, f);
		flow_free(t, f);
	}
	HASH_ITER(hh, t->owners, o, ot) {
		HASH_DEL(t->owners, o);
		owner_free(t, o);
	}
	HASH_ITER(hh, t->window, a, at) {
		HASH_DEL(t->window, a);
		agg_free(t, a);
	}
	free(t->dead);
	free(t->pending);
	free(t);
}

size_t tracker_flow_count(struct tracker *t)
{
	return HASH_COUNT(t->flows);
}

static struct flow *flow_find(struct tracker *t, const struct ps_flow_key *k)
{
	struct flow *f;

	HASH_FIND(hh, t->flows, k, sizeof(*k), f);
	return f;
}

static struct flow *flow_add(struct tracker *t, const struct ps_flow_key *k)
{
	struct flow *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->key = *k;
	HASH_ADD(hh, t->flows, key, sizeof(f->key), f);
	return f;
}

/* A socket whose process became known through one of its flows. */
static void owner_learn(struct tracker *t, const struct flow *f)
{
	struct owner *o;

	HASH_FIND(hh, t->owners, &f->key.sock_id, sizeof(uint64_t), o);
	if (!o || o->resolved || !f->who.proc)
		return;
	who_copy(&o->who, &f->who);
	o->resolved = true;
	o->by_flow = true;
}

static struct owner *owner_get(struct tracker *t, const struct ps_flow_key *k, uint64_t sock_ino)
{
	struct owner *o;

	HASH_FIND(hh, t->owners, &k->sock_id, sizeof(uint64_t), o);
	if (o) {
		if (!o->sock_ino)
			o->sock_ino = sock_ino;
		return o;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->sock_id = k->sock_id;
	o->sock_ino = sock_ino;
	o->key = *k;
	HASH_ADD(hh, t->owners, sock_id, sizeof(o->sock_id), o);
	return o;
}

void tracker_on_flow(struct tracker *t, const struct ps_flow_key *k, const struct ps_flow_info *v)
{
	struct flow *f = flow_find(t, k);

	if (f)
		return;
	f = flow_add(t, k);
	if (!f)
		return;
	/* name the process now, while it surely still exists */
	if (!who_from_task(t, &f->who, &v->who)) {
		HASH_DEL(t->flows, f);
		flow_free(t, f);
		return;
	}
	who_seen(t, &f->who, false);
	owner_learn(t, f);
}

void tracker_on_unowned(struct tracker *t, const struct ps_flow_key *k, uint64_t sock_ino)
{
	owner_get(t, k, sock_ino);
}

/* The last resort for a socket whose holder was never found: the process
 * that listens on (or bound) its local port. */
static void owner_fallback(struct tracker *t, struct owner *o, uint64_t bytes)
{
	struct ps_listen_key lk = { 0 };
	struct ps_task task;

	lk.netns = o->key.netns;
	lk.family = o->key.family;
	lk.proto = o->key.proto;
	lk.lport = o->key.lport;
	if (bpf_map_lookup_elem(sensor_listeners_fd(t->sensor), &lk, &task) == 0 &&
	    who_from_task(t, &o->who, &task)) {
		t->stats.listener_fallback++;
	} else {
		who_none(t, &o->who, "", -1);
		t->stats.unowned_unresolved++;
		t->stats.unowned_bytes += bytes;
	}
	o->resolved = true;
}

void tracker_resolve_unowned(struct tracker *t)
{
	struct owner *o, *ot;
	struct flow *f, *ft;
	uint64_t *inodes = NULL;
	struct owner **which = NULL;
	uint32_t *pids = NULL;
	size_t n = 0, pending = 0;
	uint64_t now = now_ms();

	HASH_ITER(hh, t->owners, o, ot) {
		if (!o->resolved && o->scans < MAX_SCANS)
			pending++;
	}
	if (!pending || now - t->last_scan_ms < SCAN_INTERVAL_MS)
		return;
	t->last_scan_ms = now;
	/* a flow of the same socket may already name its process */
	HASH_ITER(hh, t->flows, f, ft) {
		if (f->key.tgid && f->who.proc)
			owner_learn(t, f);
	}
	inodes = calloc(pending, sizeof(*inodes));
	which = calloc(pending, sizeof(*which));
	pids = calloc(pending, sizeof(*pids));
	if (!inodes || !which || !pids)
		goto out;
	HASH_ITER(hh, t->owners, o, ot) {
		if (o->resolved || o->scans >= MAX_SCANS || n == pending)
			continue;
		o->scans++;
		if (!o->sock_ino)
			continue;
		inodes[n] = o->sock_ino;
		which[n++] = o;
	}
	if (n && sockscan_find(inodes, n, pids) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct ps_task task;

			if (!pids[i] || task_from_proc(pids[i], &task) < 0)
				continue;
			if (who_from_task(t, &which[i]->who, &task))
				which[i]->resolved = true;
		}
	}
out:
	free(inodes);
	free(which);
	free(pids);
}

/* Give the flow its process; false while that is still being looked for. */
static bool flow_bind(struct tracker *t, struct flow *f, const struct ps_flow_info *v,
		      uint64_t bytes, bool force)
{
	struct owner *o;

	if (f->who.proc)
		return true;
	if (v->who.flags & PS_TASK_KERNEL)
		return who_none(t, &f->who, "[kernel]", 0);
	if (f->key.tgid) {
		if (!who_from_task(t, &f->who, &v->who))
			return false;
		who_seen(t, &f->who, false);
		owner_learn(t, f);
		return true;
	}
	o = owner_get(t, &f->key, v->sock_ino);
	if (!o)
		return false;
	if (!o->resolved && (force || o->scans >= MAX_SCANS))
		owner_fallback(t, o, bytes);
	if (!o->resolved)
		return false;
	who_copy(&f->who, &o->who);
	f->counted_elsewhere = o->by_flow;
	if (!o->by_flow)
		who_seen(t, &f->who, false);
	return true;
}

/* ---- the window ---- */

/* Add to the row of an identity in the current window (creating it). */
static int agg_add(struct tracker *t, const struct who *w, const struct ps_flow_key *k,
		   int64_t lport, int64_t rport, uint64_t sent, uint64_t recv, uint64_t flows)
{
	const struct tracker_opts *o = &t->opts;
	const char *cmd = o->log_commands ? w->proc->cmdline : "";
	const char *pcmd = o->log_commands ? w->parent->cmdline : "";
	const char *gpcmd = o->log_commands ? w->gparent->cmdline : "";
	struct strbuf sb = STRBUF_INIT;
	char laddr[48] = "", raddr[48] = "";
	const char *domain = NULL;
	struct agg *a;

	if (k) {
		addr_to_str(k->family, k->laddr, laddr, sizeof(laddr));
		if (o->log_addresses) {
			addr_to_str(k->family, k->raddr, raddr, sizeof(raddr));
			domain = domains_lookup(t->domains, k->family, k->raddr);
		}
	}
	if (!domain)
		domain = "";
	if (!o->log_ports) {
		/* -1 (not a connection) stays */
		lport = lport < 0 ? lport : 0;
		rport = rport < 0 ? rport : 0;
	}
	/* rows are per executable file (device, inode), not per path: a path
	 * can name two different files within one window */
	if (strbuf_addf(&sb,
			"%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%lld\x1f%lld\x1f%lld"
			"\x1f%s\x1f%s\x1f%s\x1f%u\x1f%u\x1f%u\x1f%u:%llu\x1f%u:%llu\x1f%u:%llu",
			w->proc->exe, w->proc->name, cmd, w->parent->exe, w->parent->name, pcmd,
			w->gparent->exe, w->gparent->name, gpcmd, (long long)w->uid,
			(long long)lport, (long long)rport, laddr, raddr, domain, k ? k->family : 0,
			k ? k->proto : 0, k ? k->netns : 0, w->proc->file->key.dev,
			(unsigned long long)w->proc->file->key.ino, w->parent->file->key.dev,
			(unsigned long long)w->parent->file->key.ino, w->gparent->file->key.dev,
			(unsigned long long)w->gparent->file->key.ino) < 0)
		return -ENOMEM;
	HASH_FIND_STR(t->window, sb.buf, a);
	if (a) {
		strbuf_release(&sb);
		a->row.sent += sent;
		a->row.received += recv;
		a->row.flows += flows;
		return 0;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		strbuf_release(&sb);
		return -ENOMEM;
	}
	a->hkey = strbuf_detach(&sb);
	if (domain[0]) {
		a->domain = strdup(domain);
		if (!a->domain) {
			free(a->hkey);
			free(a);
			return -ENOMEM;
		}
	}
	who_copy(&a->who, w);
	memcpy(a->laddr, laddr, sizeof(laddr));
	memcpy(a->raddr, raddr, sizeof(raddr));
	a->row = (struct conn_row){
		.sent = sent,
		.received = recv,
		.flows = flows,
		.exe = a->who.proc->exe,
		.name = a->who.proc->name,
		.cmdline = cmd,
		.sha256 = a->sha[0],
		.pexe = a->who.parent->exe,
		.pname = a->who.parent->name,
		.pcmdline = pcmd,
		.psha256 = a->sha[1],
		.gpexe = a->who.gparent->exe,
		.gpname = a->who.gparent->name,
		.gpcmdline = gpcmd,
		.gpsha256 = a->sha[2],
		.uid = w->uid,
		.lport = lport,
		.rport = rport,
		.laddr = a->laddr,
		.raddr = a->raddr,
		.domain = a->domain ? a->domain : "",
		.family = k ? k->family : 0,
		.protocol = k ? k->proto : 0,
		.netns = k ? k->netns : 0,
	};
	HASH_ADD_KEYPTR(hh, t->window, a->hkey, strlen(a->hkey), a);
	return 0;
}

void tracker_on_dns(struct tracker *t, const uint8_t *msg, size_t len)
{
	if (domains_learn(t->domains, msg, len) == -EBADMSG)
		t->stats.dns_unreadable++;
}

void tracker_on_exec(struct tracker *t, const struct ps_exec_info *e)
{
	struct who w = { 0 };

	if (!who_from_task(t, &w, &e->who))
		return;
	who_seen(t, &w, true);
	agg_add(t, &w, NULL, -1, -1, 0, 0, 1);	/* flows: one exec */
	who_release(t, &w);
}

/* ---- draining the sensor ---- */

static int collect_one(void *ctx, const struct ps_flow_key *k, const struct ps_flow_count *v)
{
	struct tracker *t = ctx;

	if (t->pending_n == t->pending_cap) {
		size_t cap = t->pending_cap ? t->pending_cap * 2 : 1024;
		struct pending_flow *p = realloc(t->pending, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->pending = p;
		t->pending_cap = cap;
	}
	t->pending[t->pending_n].key = *k;
	t->pending[t->pending_n].count = *v;
	t->pending_n++;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_closed(const struct tracker *t, uint64_t sock_id)
{
	return bsearch(&sock_id, t->closed, t->nclosed, sizeof(*t->closed), cmp_u64) != NULL;
}

static int drain_one(struct tracker *t, const struct ps_flow_key *k, const struct ps_flow_count *v)
{
	struct flow *f = flow_find(t, k);
	bool closed = t->nclosed && is_closed(t, k->sock_id);
	uint64_t ds = 0, dr = 0;

	if (!f || !f->who.proc) {
		struct ps_flow_info info;

		if (sensor_flow_info(t->sensor, k, &info) < 0)
			return 0;	/* being created right now: next time */
		if (!f) {
			f = flow_add(t, k);
			if (!f)
				return -ENOMEM;
		}
		if (!flow_bind(t, f, &info, v->sent + v->recv, closed || t->final))
			return 0;	/* its bytes wait in the sensor until it is named */
	}
	if (k->tgid)
		owner_learn(t, f);
	/* counters only grow, except when a dropped datagram is taken back
	 * after it was read: then the next increase makes up for it */
	if (v->sent > f->sent) {
		ds = v->sent - f->sent;
		f->sent = v->sent;
	}
	if (v->recv > f->recv) {
		dr = v->recv - f->recv;
		f->recv = v->recv;
	}
	if (ds || dr || !f->reported) {
		if (agg_add(t, &f->who, k, k->lport, k->rport, ds, dr,
			    f->reported || f->counted_elsewhere ? 0 : 1) < 0)
			return -ENOMEM;
		f->reported = true;
	}
	if (closed) {
		if (t->ndead == t->dead_cap) {
			size_t cap = t->dead_cap ? t->dead_cap * 2 : 256;
			struct ps_flow_key *p = realloc(t->dead, cap * sizeof(*p));

			if (!p)
				return 0;	/* forgotten next time */
			t->dead = p;
			t->dead_cap = cap;
		}
		t->dead[t->ndead++] = *k;
	}
	return 0;
}

/* Descriptors of the other network namespaces that hold TCP flows, found
 * through a process of each (opened per drain: holding them would keep a
 * finished container's namespace alive). */
static size_t netns_handles(struct tracker *t, int *fds, size_t max)
{
	uint32_t seen[MAX_NETNS], failed[MAX_NETNS];
	size_t n = 0, nfailed = 0;
	struct flow *f, *ft;

	HASH_ITER(hh, t->flows, f, ft) {
		char path[64];
		struct stat st;
		bool known = false;
		int fd;

		if (f->key.proto != IPPROTO_TCP || !f->key.tgid || f->key.netns == t->own_netns ||
		    n == max)
			continue;
		for (size_t i = 0; i < n && !known; i++)
			known = seen[i] == f->key.netns;
		for (size_t i = 0; i < nfailed && !known; i++)
			known = failed[i] == f->key.tgid;
		if (known)
			continue;
		snprintf(path, sizeof(path), "/proc/%u/ns/net", f->key.tgid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || (uint32_t)st.st_ino != f->key.netns) {
			if (fd >= 0)
				close(fd);
			if (nfailed < MAX_NETNS)
				failed[nfailed++] = f->key.tgid;
			continue;
		}
		seen[n] = f->key.netns;
		fds[n++] = fd;
	}
	return n;
}

static int tracker_drain_impl(struct tracker *t, bool final)
{
	int fds[MAX_NETNS] = { 0 };
	size_t nfds;
	int r;

	t->final = final;
	t->ndead = 0;
	/* closed sockets first: their last counts are already in */
	r = sensor_closed_sockets(t->sensor, &t->closed, &t->nclosed);
	if (r < 0)
		return r;
	nfds = netns_handles(t, fds, MAX_NETNS);
	r = sensor_count_tcp(t->sensor, fds, nfds);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (r < 0)
		goto out;
	if (t->nclosed)
		qsort(t->closed, t->nclosed, sizeof(*t->closed), cmp_u64);
	/* flows with a known process first: they name the unowned parts of
	 * their sockets before those are written */
	t->pending_n = 0;
	r = sensor_for_each_flow(t->sensor, collect_one, t);
	for (size_t i = 0; i < t->pending_n && r == 0; i++) {
		/* an owner record for every socket with an unowned part, so
		 * that its owned part can name it in the first pass */
		if (!t->pending[i].key.tgid && !owner_get(t, &t->pending[i].key, 0))
			r = -ENOMEM;
	}
	for (int pass = 0; pass < 2 && r == 0; pass++) {
		for (size_t i = 0; i < t->pending_n && r == 0; i++) {
			if ((t->pending[i].key.tgid != 0) == (pass == 0))
				r = drain_one(t, &t->pending[i].key, &t->pending[i].count);
		}
	}
	for (size_t i = 0; i < t->ndead; i++) {
		struct flow *f = flow_find(t, &t->dead[i]);

		sensor_delete_flow(t->sensor, &t->dead[i]);
		if (f) {
			HASH_DEL(t->flows, f);
			flow_free(t, f);
		}
	}
	for (size_t i = 0; i < t->nclosed && r == 0; i++) {
		struct owner *o;

		sensor_forget_closed(t->sensor, t->closed[i]);
		HASH_FIND(hh, t->owners, &t->closed[i], sizeof(uint64_t), o);
		if (o) {
			HASH_DEL(t->owners, o);
			owner_free(t, o);
		}
	}
out:
	free(t->closed);
	t->closed = NULL;
	t->nclosed = 0;
	t->final = false;
	return r;
}

int tracker_drain(struct tracker *t)
{
	return tracker_drain_impl(t, false);
}

/* The hashes of a row, or false while one is still being computed. */
static bool agg_hashes(struct agg *a, bool force)
{
	struct ident *ids[3] = { a->who.proc, a->who.parent, a->who.gparent };

	for (int i = 0; i < 3; i++) {
		const char *sha = ident_sha256(ids[i]);

		if (!sha && !force)
			return false;
		snprintf(a->sha[i], sizeof(a->sha[i]), "%s", sha ? sha : SHA_PENDING);
	}
	return true;
}

int tracker_take_rows(struct tracker *t, int64_t now, bool final, struct tracker_rows *ret)
{
	struct agg *a, *at, *taken = NULL;
	size_t n, i = 0;
	int r;

	if (final) {
		r = tracker_drain_impl(t, true);
		if (r < 0)
			return r;
	}
	/* a row waits (a few windows at most) for the hashes of its files */
	HASH_ITER(hh, t->window, a, at) {
		if (!agg_hashes(a, final || a->deferrals >= MAX_DEFERRALS)) {
			a->deferrals++;
			continue;
		}
		HASH_DEL(t->window, a);
		HASH_ADD_KEYPTR(hh, taken, a->hkey, strlen(a->hkey), a);
	}
	n = HASH_COUNT(taken);
	ret->rows = n ? calloc(n, sizeof(*ret->rows)) : NULL;
	if (n && !ret->rows) {
		HASH_ITER(hh, taken, a, at) {
			HASH_DEL(taken, a);
			agg_free(t, a);
		}
		return -ENOMEM;
	}
	HASH_ITER(hh, taken, a, at) {
		a->row.time = now;
		ret->rows[i++] = a->row;
	}
	ret->n = n;
	ret->priv = taken;
	return 0;
}

void tracker_rows_free(struct tracker *t, struct tracker_rows *rows)
{
	struct agg *list = rows->priv, *a, *at;

	HASH_ITER(hh, list, a, at) {
		HASH_DEL(list, a);
		agg_free(t, a);
	}
	free(rows->rows);
	rows->rows = NULL;
	rows->n = 0;
	rows->priv = NULL;
}

void tracker_stats_take(struct tracker *t, struct tracker_stats *ret)
{
	*ret = t->stats;
	memset(&t->stats, 0, sizeof(t->stats));
}
