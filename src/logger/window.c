/* The window (window.h).  Keys are fixed-size structs of pooled string
 * pointers and numbers: equal text is the same pointer, so a row never
 * copies a command line, however many ports its process talks to. */
#include "logger/window.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "util/strutil.h"

#define MAX_DEFERRALS 3	/* windows a row may wait for its hashes */

struct who_key {
	const char *exe, *name, *cmd, *sentinel, *service;
	uint64_t file_ino;
	uint32_t file_dev;
	uint32_t pad;
};

struct row_key {
	struct who_key who[3];	/* process, parent, grandparent */
	const char *domain;
	int64_t uid;
	int32_t lport, rport;
	uint16_t family, proto;
	uint32_t netns;
	uint32_t domain_source;	/* enum domain_source */
	uint32_t pad;
	uint8_t laddr[16];
	uint8_t raddr[16];
};

struct row {
	struct row_key key;
	uint64_t sent, recv, flows;
	int deferrals;
	UT_hash_handle hh;
};

/* A row as written: the masked key and the hashes (pooled). */
struct out_key {
	struct row_key k;
	const char *sha[3];
};

struct out {
	struct out_key key;
	struct conn_row row;
	char laddr[48], raddr[48];
	UT_hash_handle hh;
};

struct window {
	struct strpool *pool;
	struct idents *idents;
	struct domains *domains;
	struct window_opts opts;
	struct row *rows;
	const char *empty;
};

struct taken {
	struct row *rows;	/* taken from the window */
	struct out *outs;
};

int window_new(struct strpool *pool, struct idents *idents, struct domains *domains,
	       const struct window_opts *opts, struct window **ret)
{
	struct window *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->pool = pool;
	w->idents = idents;
	w->domains = domains;
	w->opts = *opts;
	w->empty = strpool_get(pool, "");
	if (!w->empty) {
		free(w);
		return -ENOMEM;
	}
	*ret = w;
	return 0;
}

static void key_ref(struct strpool *p, const struct row_key *k)
{
	for (int i = 0; i < 3; i++) {
		strpool_ref(p, k->who[i].exe);
		strpool_ref(p, k->who[i].name);
		strpool_ref(p, k->who[i].cmd);
		strpool_ref(p, k->who[i].sentinel);
		strpool_ref(p, k->who[i].service);
	}
	strpool_ref(p, k->domain);
}

static void key_put(struct strpool *p, const struct row_key *k)
{
	for (int i = 0; i < 3; i++) {
		strpool_put(p, k->who[i].exe);
		strpool_put(p, k->who[i].name);
		strpool_put(p, k->who[i].cmd);
		strpool_put(p, k->who[i].sentinel);
		strpool_put(p, k->who[i].service);
	}
	strpool_put(p, k->domain);
}

static void rows_free(struct window *w, struct row **list)
{
	struct row *r, *t;

	HASH_ITER(hh, *list, r, t) {
		HASH_DEL(*list, r);
		key_put(w->pool, &r->key);
		free(r);
	}
}

void window_free(struct window *w)
{
	if (!w)
		return;
	rows_free(w, &w->rows);
	strpool_put(w->pool, w->empty);
	free(w);
}

size_t window_rows(struct window *w)
{
	return HASH_COUNT(w->rows);
}

/* Fill a who key from an identity; the strings are borrowed (the row
 * takes its own references when it is created). */
static int who_fill(struct window *w, struct who_key *k, const struct lident *li,
		    const char **sentinel_tmp)
{
	k->exe = li->exe;
	k->name = li->name;
	k->cmd = li->cmdline;
	k->service = li->service;
	k->file_ino = li->file_ino;
	k->file_dev = li->file_dev;
	/* pooled too, so that equal sentinels compare equal */
	*sentinel_tmp = strpool_get(w->pool, li->sentinel);
	if (!*sentinel_tmp)
		return -ENOMEM;
	k->sentinel = *sentinel_tmp;
	return 0;
}

int window_add(struct window *w, const struct ps_delta *d)
{
	struct lident *li[3] = { idents_get(w->idents, d->proc), idents_get(w->idents, d->parent),
				 idents_get(w->idents, d->gparent) };
	const char *sentinel[3] = { NULL, NULL, NULL }, *domain = NULL;
	struct row_key key;
	struct row *r;
	int ret = 0;

	memset(&key, 0, sizeof(key));
	for (int i = 0; i < 3 && ret == 0; i++) {
		if (!li[i])
			ret = -ENOMEM;
		else
			ret = who_fill(w, &key.who[i], li[i], &sentinel[i]);
	}
	if (ret < 0)
		goto out;
	key.uid = d->uid;
	key.lport = d->lport;
	key.rport = d->rport;
	key.family = d->family;
	key.proto = d->proto;
	key.netns = d->netns;
	memcpy(key.laddr, d->laddr, sizeof(key.laddr));
	memcpy(key.raddr, d->raddr, sizeof(key.raddr));
	if (d->family) {
		enum domain_source src;
		const char *name = domains_lookup(w->domains, d->family, d->raddr, &src);

		domain = strpool_get(w->pool, name ? name : "");
		key.domain_source = src;
		if (!domain) {
			ret = -ENOMEM;
			goto out;
		}
	} else {
		domain = strpool_ref(w->pool, w->empty);
	}
	key.domain = domain;
	HASH_FIND(hh, w->rows, &key, sizeof(key), r);
	if (!r) {
		if (HASH_COUNT(w->rows) >= WINDOW_ROWS_MAX) {
			ret = -ENOSPC;
			goto out;
		}
		r = calloc(1, sizeof(*r));
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		r->key = key;
		key_ref(w->pool, &r->key);
		HASH_ADD(hh, w->rows, key, sizeof(r->key), r);
	}
	r->sent += d->sent;
	r->recv += d->recv;
	r->flows += d->flows;
out:
	for (int i = 0; i < 3; i++) {
		strpool_put(w->pool, sentinel[i]);
		idents_put(w->idents, li[i]);
	}
	strpool_put(w->pool, domain);
	return ret;
}

/* The hash of one identity of a row: its own sentinel, else its file's
 * hash, else NULL while unknown. */
static const char *row_sha(struct window *w, const struct who_key *k)
{
	struct lfile *f;

	if (k->sentinel[0])
		return k->sentinel;
	f = idents_file(w->idents, k->file_ino, k->file_dev);
	return f && f->sha256[0] ? f->sha256 : NULL;
}

const char *window_live_exe(struct window *w, const struct ps_delta *d)
{
	struct lident *li = idents_get(w->idents, d->proc);
	const char *exe = li ? li->exe : NULL;

	if (li && w->opts.ignore) {
		struct lfile *f = li->sentinel[0] ? NULL
						  : idents_file(w->idents, li->file_ino, li->file_dev);
		char raddr[48];
		struct conn_row row = {
			.exe = li->exe,
			.sha256 = li->sentinel[0] ? li->sentinel : f ? f->sha256 : "",
			.lport = d->lport,
			.rport = d->rport,
			.raddr = d->family ? addr_to_str(d->family, d->raddr, raddr, sizeof(raddr))
					   : "",
			.domain = d->family ? domains_lookup(w->domains, d->family, d->raddr, NULL)
					    : NULL,
		};

		if (ignore_match(w->opts.ignore, &row))
			exe = NULL;
	}
	exe = strpool_ref(w->pool, exe);
	idents_put(w->idents, li);
	return exe;
}

static void fill_row(struct conn_row *c, const struct row_key *k, const char *const sha[3],
		     char *laddr, char *raddr)
{
	addr_to_str(k->family, k->laddr, laddr, 48);
	addr_to_str(k->family, k->raddr, raddr, 48);
	*c = (struct conn_row){
		.exe = k->who[0].exe,
		.name = k->who[0].name,
		.cmdline = k->who[0].cmd,
		.service = k->who[0].service,
		.sha256 = sha[0],
		.pexe = k->who[1].exe,
		.pname = k->who[1].name,
		.pcmdline = k->who[1].cmd,
		.pservice = k->who[1].service,
		.psha256 = sha[1],
		.gpexe = k->who[2].exe,
		.gpname = k->who[2].name,
		.gpcmdline = k->who[2].cmd,
		.gpservice = k->who[2].service,
		.gpsha256 = sha[2],
		.uid = k->uid,
		.lport = k->lport,
		.rport = k->rport,
		.laddr = laddr,
		.raddr = raddr,
		.domain = k->domain,
		.domain_source = domain_source_name(k->domain_source),
		.family = k->family,
		.protocol = k->proto,
		.netns = k->netns,
	};
}

int window_take(struct window *w, int64_t now, bool final, struct window_taken *ret)
{
	struct taken *tk = calloc(1, sizeof(*tk));
	struct row *r, *rt;
	struct out *o, *ot;
	size_t n = 0, i = 0;

	memset(ret, 0, sizeof(*ret));
	if (!tk)
		return -ENOMEM;
	HASH_ITER(hh, w->rows, r, rt) {
		const char *sha[3];
		struct conn_row real;
		char la[48], ra[48];
		struct row_key mk;
		bool ready = true;

		for (int k = 0; k < 3; k++) {
			sha[k] = row_sha(w, &r->key.who[k]);
			if (!sha[k]) {
				ready = false;
				sha[k] = SHA_PENDING;
			}
		}
		/* a row waits (a few windows at most) for the hashes of its files */
		if (!ready && !final && r->deferrals < MAX_DEFERRALS) {
			r->deferrals++;
			continue;
		}
		HASH_DEL(w->rows, r);
		HASH_ADD(hh, tk->rows, key, sizeof(r->key), r);
		/* "Log ignore" sees the real values */
		fill_row(&real, &r->key, sha, la, ra);
		if (w->opts.ignore && ignore_match(w->opts.ignore, &real)) {
			ret->ignored++;
			continue;
		}
		/* then the privacy settings, merging rows they make equal */
		mk = r->key;
		if (!w->opts.log_commands)
			for (int k = 0; k < 3; k++)
				mk.who[k].cmd = w->empty;
		if (!w->opts.log_addresses) {
			memset(mk.raddr, 0, sizeof(mk.raddr));
			mk.domain = w->empty;
			mk.domain_source = DOMAIN_SOURCE_NONE;
		}
		if (!w->opts.log_ports) {
			/* -1 (not a connection) stays */
			mk.lport = mk.lport < 0 ? mk.lport : 0;
			mk.rport = mk.rport < 0 ? mk.rport : 0;
		}
		/* rows with other hashes (a file rewritten) stay apart */
		for (int k = 0; k < 3; k++) {
			mk.who[k].sentinel = w->empty;
			mk.who[k].pad = 0;
		}
		{
			struct out_key ok;

			memset(&ok, 0, sizeof(ok));
			ok.k = mk;
			for (int k = 0; k < 3; k++) {
				ok.sha[k] = strpool_get(w->pool, sha[k]);
				if (!ok.sha[k]) {
					for (int j = 0; j < k; j++)
						strpool_put(w->pool, ok.sha[j]);
					goto oom;
				}
			}
			HASH_FIND(hh, tk->outs, &ok, sizeof(ok), o);
			if (o) {
				for (int k = 0; k < 3; k++)
					strpool_put(w->pool, ok.sha[k]);
			} else {
				o = calloc(1, sizeof(*o));
				if (!o) {
					for (int k = 0; k < 3; k++)
						strpool_put(w->pool, ok.sha[k]);
					goto oom;
				}
				o->key = ok;
				fill_row(&o->row, &mk, ok.sha, o->laddr, o->raddr);
				if (!w->opts.log_addresses)
					o->raddr[0] = '\0';
				HASH_ADD(hh, tk->outs, key, sizeof(o->key), o);
			}
		}
		o->row.sent += r->sent;
		o->row.received += r->recv;
		o->row.flows += r->flows;
	}
	n = HASH_COUNT(tk->outs);
	ret->rows = n ? calloc(n, sizeof(*ret->rows)) : NULL;
	if (n && !ret->rows)
		goto oom;
	HASH_ITER(hh, tk->outs, o, ot) {
		o->row.time = now;
		ret->rows[i++] = o->row;
	}
	ret->n = n;
	ret->priv = tk;
	return 0;
oom:
	ret->priv = tk;
	window_taken_free(w, ret);
	return -ENOMEM;
}

void window_taken_free(struct window *w, struct window_taken *t)
{
	struct taken *tk = t->priv;
	struct out *o, *ot;

	if (tk) {
		HASH_ITER(hh, tk->outs, o, ot) {
			HASH_DEL(tk->outs, o);
			for (int k = 0; k < 3; k++)
				strpool_put(w->pool, o->key.sha[k]);
			free(o);
		}
		rows_free(w, &tk->rows);
		free(tk);
	}
	free(t->rows);
	memset(t, 0, sizeof(*t));
}
