/* Flow tracking in the monitor (see tracker.h). */
#include "pipeline/tracker.h"

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
	uint64_t sent, recv;	/* handed on so far */
	struct who who;		/* proc is NULL while the process is looked for */
	bool reported;		/* has been handed on (even with 0 bytes) */
	bool counted_elsewhere;	/* unowned part of a socket another flow counts */
	bool unowned;		/* logged without a process: none was found */
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
	bool unowned;		/* given up: no process was found */
	UT_hash_handle hh;
};

#define MAX_SCANS 3
#define SCAN_INTERVAL_MS 100

/* The sockets closed at the drains of the last RECENT_MS, kept after the
 * sensor's record of their close is forgotten: a datagram held back for
 * neighbour resolution can leave after that (the kernel waits up to three
 * seconds for an answer by default), and makes its flow again.  Such a
 * flow, not yet handed on, is collected as closed when its socket is in
 * here; without it the flow would stay in the sensor's table for good. */
#define RECENT_MS 10000
#define RECENT_MAX 32	/* drains remembered at most */

struct recent_closed {
	uint64_t *ids;		/* sorted */
	size_t n;
	uint64_t at_ms;		/* when the drain read them */
};

struct tracker {
	struct ident_cache *ic;
	struct sensor *sensor;
	struct tracker_opts opts;
	struct flow *flows;
	struct owner *owners;
	struct tracker_stats stats;
	/* during a drain */
	uint64_t *closed;
	size_t nclosed;
	struct recent_closed recent[RECENT_MAX];	/* oldest first */
	size_t nrecent;
	struct ps_flow_key *dead;
	size_t ndead, dead_cap;
	bool final;
	uint64_t last_scan_ms;
	/* the sensor's flows as read by one drain */
	struct pending_flow {
		struct ps_flow_key key;
		struct ps_flow_count count;
	} *pending;
	size_t pending_n, pending_cap;
};


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

	if (!t)
		return -ENOMEM;
	t->ic = ic;
	t->sensor = sensor;
	t->opts = *opts;
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

static void owner_forget(struct tracker *t, uint64_t sock_id)
{
	struct owner *o;

	HASH_FIND(hh, t->owners, &sock_id, sizeof(sock_id), o);
	if (o) {
		HASH_DEL(t->owners, o);
		owner_free(t, o);
	}
}

void tracker_free(struct tracker *t)
{
	struct flow *f, *ft;
	struct owner *o, *ot;

	if (!t)
		return;
	HASH_ITER(hh, t->flows, f, ft) {
		HASH_DEL(t->flows, f);
		flow_free(t, f);
	}
	HASH_ITER(hh, t->owners, o, ot) {
		HASH_DEL(t->owners, o);
		owner_free(t, o);
	}
	for (size_t i = 0; i < t->nrecent; i++)
		free(t->recent[i].ids);
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
static void owner_fallback(struct tracker *t, struct owner *o, bool count)
{
	struct ps_listen_key lk = { 0 };
	struct ps_task task;

	lk.netns = o->key.netns;
	lk.family = o->key.family;
	lk.proto = o->key.proto;
	lk.lport = o->key.lport;
	if (bpf_map_lookup_elem(sensor_listeners_fd(t->sensor), &lk, &task) == 0 &&
	    who_from_task(t, &o->who, &task)) {
		if (count)
			t->stats.listener_fallback++;
	} else {
		who_none(t, &o->who, "", -1);
		if (count)
			t->stats.unowned_unresolved++;
		o->unowned = true;
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
		      bool force, bool late)
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
		owner_fallback(t, o, !late);	/* a late flow's socket was told of */
	if (!o->resolved)
		return false;
	who_copy(&f->who, &o->who);
	f->counted_elsewhere = o->by_flow;
	f->unowned = o->unowned;
	if (!o->by_flow)
		who_seen(t, &f->who, false);
	return true;
}

/* ---- handing traffic on ---- */

static void delta(struct tracker *t, const struct who *w, const struct ps_flow_key *k,
		  int32_t lport, int32_t rport, uint64_t sent, uint64_t recv, uint64_t flows)
{
	struct ps_delta d = {
		.proc = w->proc->id,
		.parent = w->parent->id,
		.gparent = w->gparent->id,
		.uid = w->uid,
		.lport = lport,
		.rport = rport,
		.sent = sent,
		.recv = recv,
		.flows = flows,
	};

	if (k) {
		d.family = k->family;
		d.proto = k->proto;
		d.netns = k->netns;
		memcpy(d.laddr, k->laddr, sizeof(d.laddr));
		memcpy(d.raddr, k->raddr, sizeof(d.raddr));
	}
	if (t->opts.on_delta)
		t->opts.on_delta(t->opts.ctx, &d);
}

void tracker_on_exec(struct tracker *t, const struct ps_exec_info *e)
{
	struct who w = { 0 };

	if (!who_from_task(t, &w, &e->who))
		return;
	who_seen(t, &w, true);
	delta(t, &w, NULL, -1, -1, 0, 0, 1);	/* flows: one exec */
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

static bool recently_closed(const struct tracker *t, uint64_t sock_id)
{
	for (size_t i = 0; i < t->nrecent; i++) {
		const struct recent_closed *r = &t->recent[i];

		/* ids only grow: a socket made after the list was read (most
		 * new flows) is past its end */
		if (sock_id > r->ids[r->n - 1] || sock_id < r->ids[0])
			continue;
		if (bsearch(&sock_id, r->ids, r->n, sizeof(uint64_t), cmp_u64))
			return true;
	}
	return false;
}

/* Keep this drain's closed sockets (taking t->closed; freed when there are
 * none) and forget those older than RECENT_MS, or the oldest when there is
 * no room. */
static void remember_closed(struct tracker *t)
{
	uint64_t now = now_ms();
	size_t drop = 0;

	while (drop < t->nrecent && (now - t->recent[drop].at_ms > RECENT_MS ||
				     t->nrecent - drop == RECENT_MAX))
		free(t->recent[drop++].ids);
	memmove(t->recent, t->recent + drop, (t->nrecent - drop) * sizeof(*t->recent));
	t->nrecent -= drop;
	if (!t->nclosed) {
		free(t->closed);
	} else {
		t->recent[t->nrecent++] = (struct recent_closed){ t->closed, t->nclosed, now };
	}
	t->closed = NULL;
	t->nclosed = 0;
}

static int drain_one(struct tracker *t, const struct ps_flow_key *k, const struct ps_flow_count *v)
{
	struct flow *f = flow_find(t, k);
	bool listed = t->nclosed && is_closed(t, k->sock_id);
	/* a datagram flow not yet handed on may be a late datagram's (above);
	 * a TCP socket's is a connection made again on it */
	bool late = !listed && (!f || !f->reported) && k->proto != IPPROTO_TCP &&
		    t->nrecent && recently_closed(t, k->sock_id);
	bool closed = listed || late;
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
		if (!flow_bind(t, f, &info, closed || t->final, late))
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
	if (f->unowned)
		t->stats.unowned_bytes += ds + dr;	/* every flow of the socket, always */
	if (ds || dr || !f->reported) {
		delta(t, &f->who, k, k->lport, k->rport, ds, dr,
		      f->reported || f->counted_elsewhere ? 0 : 1);
		f->reported = true;
	}
	if (closed) {
		if (t->ndead == t->dead_cap) {
			size_t cap = t->dead_cap ? t->dead_cap * 2 : 256;
			struct ps_flow_key *p = realloc(t->dead, cap * sizeof(*p));

			if (!p) {
				/* no room to delete it after the drain: now,
				 * rather than forget it in the table for good */
				sensor_delete_flows(t->sensor, k, 1);
				HASH_DEL(t->flows, f);
				flow_free(t, f);
				return 0;
			}
			t->dead = p;
			t->dead_cap = cap;
		}
		t->dead[t->ndead++] = *k;
	}
	return 0;
}

int tracker_drain(struct tracker *t, bool final)
{
	int r, r_tcp;

	t->final = final;
	t->ndead = 0;
	/* closed sockets first: their last counts are already in */
	r = sensor_closed_sockets(t->sensor, &t->closed, &t->nclosed);
	if (r < 0)
		return r;
	/* a failed TCP count must not stop the rest: datagram flows and
	 * closed sockets are read all the same, and the error returned */
	r_tcp = sensor_count_tcp(t->sensor);
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
	sensor_delete_flows(t->sensor, t->dead, t->ndead);
	for (size_t i = 0; i < t->ndead; i++) {
		struct flow *f = flow_find(t, &t->dead[i]);

		if (f) {
			HASH_DEL(t->flows, f);
			flow_free(t, f);
		}
	}
	if (r == 0)
		sensor_forget_closed(t->sensor, t->closed, t->nclosed);
	for (size_t i = 0; i < t->nclosed && r == 0; i++)
		owner_forget(t, t->closed[i]);
	/* and the owners of late datagrams' sockets, closed before: their
	 * flows are gone whatever r is */
	for (size_t i = 0; i < t->ndead; i++) {
		if (!t->dead[i].tgid && !(t->nclosed && is_closed(t, t->dead[i].sock_id)))
			owner_forget(t, t->dead[i].sock_id);
	}
	if (r != 0)
		t->nclosed = 0;	/* still listed: read again at the next drain */
	remember_closed(t);
	t->final = false;
	return r < 0 ? r : r_tcp < 0 ? r_tcp : 0;
}

void tracker_stats_get(struct tracker *t, struct tracker_stats *ret)
{
	*ret = t->stats;
}
