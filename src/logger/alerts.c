/* record.json checks, exe.log lines and desktop notifications (alerts.h). */
#include "logger/alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logger/dpkg.h"
#include "logger/record.h"
#include "notify/notifier.h"
#include "util/fsutil.h"
#include "util/log.h"

#define ERROR_NOTE_INTERVAL 10	/* seconds between error notifications */
#define ALERTS_WAITING_MAX 65536	/* identities waiting for their hash */
#define LOGFILE_MAX (16 << 20)		/* exe.log is kept under this, with one exe.log.1 */
#define PACKAGE_CHECKS_MAX 4096		/* new hashes waiting for the package check */

struct waiting {
	struct lident *id;
	enum record_role role;
};

/* a new hash of an executable, to check against its package */
struct package_check {
	char *exe;
	char sha256[65];
	uint64_t ino;
	uint32_t dev;
	bool by_user;
	enum record_role role;
	/* once a package lists it, while its MD5 is computed */
	char listed_md5[33];
	char package[DPKG_PACKAGE_MAX];
};

struct alerts {
	struct idents *idents;
	const char *dpkg_dir;
	struct package_check *checks;
	size_t nchecks;
	struct package_check *md5_wait;	/* listed by a package, waiting for the MD5 */
	size_t nmd5_wait;
	void (*request_md5)(void *ctx, uint64_t ino, uint32_t dev, const char *sha,
			    const char *path, bool by_user);
	void *ctx;
	uint64_t checks_refused;
	struct record *record;
	struct errlog *errlog;
	struct notifier *notifier;
	struct vt *vt;
	int exelog_fd;
	int dirfd;
	struct waiting *waiting;	/* identities whose hash is being computed */
	size_t nwaiting, cap;
	bool desktop;			/* notifications go to the session bus */
	time_t last_error_note;
	unsigned long errors_unshown;
	char first_unshown[256];
};

static const char *const role_suffix[] = {
	[REC_PROCESS] = "",
	[REC_PARENT] = " (parent)",
	[REC_GRANDPARENT] = " (grandparent)",
};

static void exelog(struct alerts *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void exelog(struct alerts *a, const char *fmt, ...)
{
	char line[8192], when[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;
	int n, r;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s ", when);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* exe.log deleted or replaced (the state directory removed): a new one */
	if (reopen_if_stale(a->dirfd, "exe.log", &a->exelog_fd) == 1)
		errlog_add(a->errlog, "exe.log was deleted or replaced while running: a new one was "
			   "started in its place");
	if (a->exelog_fd >= 0 && (r = log_append(a->dirfd, "exe.log", &a->exelog_fd, line, n,
						 LOGFILE_MAX)) < 0)
		errlog_add(a->errlog, "cannot write exe.log: %s", strerror(-r));
}

void alerts_dir_made_again(struct alerts *a)
{
	/* not held open in the deleted directory until the next line */
	reopen_if_stale(a->dirfd, "exe.log", &a->exelog_fd);
}

static void notify(struct alerts *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void notify(struct alerts *a, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	notifier_send(a->notifier, text);
}

/* What is unusual about how a program runs, for messages. */
static const char *exe_note(struct alerts *a, const struct lident *id)
{
	const char *sha = lident_sha256(a->idents, id);
	unsigned flags = lident_file_flags(a->idents, id);

	if (flags & PS_FILE_MEMFD)
		return "; it runs from memory (memfd), not from a file";
	if (sha && !strcmp(sha, SHA_REPLACED))
		return "; another file is at its path now, so it could not be hashed";
	if (sha && !strcmp(sha, SHA_EXITED))
		return "; it was gone before its file could be hashed";
	if (flags & PS_FILE_DELETED)
		return "; its file has been deleted";
	return "";
}

/* A hash new for an executable: what VirusTotal said of it already (a
 * copy of the file elsewhere), else ask. */
static void vt_new_hash(struct alerts *a, const struct lident *id, const char *sha)
{
	json_t *known = record_vt_get(a->record, sha), *waiting;

	if (known) {
		record_vt_set_one(a->record, id->exe, sha, known);
		return;
	}
	if (!a->vt || vt_submit(a->vt, sha, id->exe, id->file_ino, id->file_dev, id->pid) < 0)
		return;	/* off, or the queue is full (counted; queued at the next start) */
	waiting = json_string(VT_ST_WAITING);
	if (waiting)
		record_vt_set_one(a->record, id->exe, sha, waiting);
	json_decref(waiting);
}

/* Queue a new hash for the package check (done in one pass at the tick,
 * alerts_packages). */
static void package_check(struct alerts *a, const struct lident *id, enum record_role role,
			  const char *sha)
{
	const struct lfile *f = idents_file(a->idents, id->file_ino, id->file_dev);
	struct package_check *c;

	if (!a->checks) {
		a->checks = calloc(PACKAGE_CHECKS_MAX, sizeof(*a->checks));
		if (!a->checks)
			return;
	}
	if (a->nchecks == PACKAGE_CHECKS_MAX) {
		a->checks_refused++;
		return;
	}
	c = &a->checks[a->nchecks];
	c->exe = strdup(id->exe);
	if (!c->exe)
		return;
	snprintf(c->sha256, sizeof(c->sha256), "%s", sha);
	c->ino = id->file_ino;
	c->dev = id->file_dev;
	c->by_user = f && f->by_user;
	c->role = role;
	a->nchecks++;
}

static void check_hash(struct alerts *a, const struct lident *id, enum record_role role,
		       const char *sha)
{
	switch (record_see_hash(a->record, id->exe, sha)) {
	case REC_HASH_FIRST:
		exelog(a, "sha256%s %s %s", role_suffix[role], sha, id->exe);
		vt_new_hash(a, id, sha);
		package_check(a, id, role, sha);
		break;
	case REC_HASH_CHANGED:
		exelog(a, "new hash%s %s %s", role_suffix[role], sha, id->exe);
		if (role == REC_PROCESS)
			notify(a, "%s has changed: its SHA-256 is now %.16s…", id->exe, sha);
		vt_new_hash(a, id, sha);
		package_check(a, id, role, sha);
		break;
	}
}

/* A package check's outcome: record.json, exe.log, and a notification
 * when the file was modified. */
static void package_outcome(struct alerts *a, const struct package_check *c, const char *text,
			    bool modified)
{
	record_package_set(a->record, c->exe, c->sha256, text);
	exelog(a, "package%s %s %s: %s", role_suffix[c->role], c->sha256, c->exe, text);
	if (modified && c->role == REC_PROCESS)
		notify(a, "%s was modified since package %s installed it (SHA-256 %.16s…)",
		       c->exe, c->package, c->sha256);
}

/* A package lists it: wait for its MD5 (asked once per file). */
static void wait_md5(struct alerts *a, struct package_check *c)
{
	bool asked = false;

	if (!a->md5_wait) {
		a->md5_wait = calloc(PACKAGE_CHECKS_MAX, sizeof(*a->md5_wait));
		if (!a->md5_wait) {
			free(c->exe);
			return;
		}
	}
	if (!a->request_md5 || a->nmd5_wait == PACKAGE_CHECKS_MAX) {
		if (a->request_md5)
			a->checks_refused++;
		package_outcome(a, c, "not checked (its MD5 could not be computed)", false);
		free(c->exe);
		return;
	}
	for (size_t i = 0; i < a->nmd5_wait; i++)
		asked |= a->md5_wait[i].ino == c->ino && a->md5_wait[i].dev == c->dev &&
			 !strcmp(a->md5_wait[i].sha256, c->sha256);
	a->md5_wait[a->nmd5_wait++] = *c;	/* takes c->exe */
	if (!asked)
		a->request_md5(a->ctx, c->ino, c->dev, c->sha256, c->exe, c->by_user);
}

void alerts_packages(struct alerts *a)
{
	struct dpkg_query *q;
	int r;

	if (!a->nchecks)
		return;
	q = calloc(a->nchecks, sizeof(*q));
	if (!q)
		return;
	/* no MD5 yet: one is computed only for the paths a package lists */
	for (size_t i = 0; i < a->nchecks; i++)
		q[i] = (struct dpkg_query){ .path = a->checks[i].exe, .md5 = "" };
	r = dpkg_lookup(a->dpkg_dir, q, a->nchecks, NULL);
	for (size_t i = 0; i < a->nchecks; i++) {
		struct package_check *c = &a->checks[i];
		char text[64 + DPKG_PACKAGE_MAX];

		if (r >= 0 && q[i].verdict == DPKG_LISTED) {
			memcpy(c->listed_md5, q[i].listed_md5, sizeof(c->listed_md5));
			memcpy(c->package, q[i].package, sizeof(c->package));
			wait_md5(a, c);
			continue;
		}
		if (r == -ENOENT)
			snprintf(text, sizeof(text), "not checked (no dpkg database)");
		else if (r < 0)
			snprintf(text, sizeof(text), "not checked (%s: %s)", a->dpkg_dir, strerror(-r));
		else
			snprintf(text, sizeof(text), "%s", dpkg_verdict_text(q[i].verdict));
		package_outcome(a, c, text, false);
		free(c->exe);
	}
	a->nchecks = 0;
	free(q);
}

void alerts_md5(struct alerts *a, uint64_t ino, uint32_t dev, const char *sha, const char *md5)
{
	size_t kept = 0;

	for (size_t i = 0; i < a->nmd5_wait; i++) {
		struct package_check *c = &a->md5_wait[i];
		char text[64 + DPKG_PACKAGE_MAX];
		enum dpkg_verdict v;

		if (c->ino != ino || c->dev != dev || strcmp(c->sha256, sha)) {
			a->md5_wait[kept++] = *c;
			continue;
		}
		if (!md5[0]) {
			snprintf(text, sizeof(text),
				 "not checked (it changed or closed before its MD5 was computed)");
			package_outcome(a, c, text, false);
		} else {
			v = dpkg_compare(c->listed_md5, md5);
			snprintf(text, sizeof(text), "%s (%s)", dpkg_verdict_text(v), c->package);
			package_outcome(a, c, text, v == DPKG_MODIFIED);
		}
		free(c->exe);
	}
	a->nmd5_wait = kept;
}

#define VT_LINK "https://www.virustotal.com/gui/file/"

void alerts_vt_outcome(struct alerts *a, const struct vt_outcome *o)
{
	const struct vt_verdict *v = &o->verdict;
	json_t *value;
	size_t n;

	if (o->has_verdict) {
		char link[128];

		snprintf(link, sizeof(link), VT_LINK "%s", o->sha256);
		value = json_pack("{s:I, s:I, s:I, s:I, s:s}", "malicious", (json_int_t)v->malicious,
				  "suspicious", (json_int_t)v->suspicious, "harmless",
				  (json_int_t)v->harmless, "undetected", (json_int_t)v->undetected,
				  "link", link);
		if (value && v->date)
			json_object_set_new(value, "analysis date", json_integer(v->date));
	} else {
		value = json_string(o->status ? o->status : "");
	}
	if (!value)
		return;
	n = record_vt_set(a->record, o->sha256, value);
	if (o->has_verdict) {
		bool flagged = v->malicious > 0 || v->suspicious > 0;

		exelog(a, "virustotal %s %s: %" PRId64 " malicious, %" PRId64 " suspicious, %" PRId64
		       " harmless, %" PRId64 " undetected (" VT_LINK "%s)",
		       o->sha256, o->exe, v->malicious, v->suspicious, v->harmless, v->undetected,
		       o->sha256);
		if (flagged)
			notify(a, "VirusTotal flags %s: %" PRId64 " engines call it malicious, %"
			       PRId64 " suspicious (SHA-256 %.16s…)%s",
			       o->exe, v->malicious, v->suspicious, o->sha256,
			       n > 1 ? "; other executables have the same file" : "");
	} else if (o->final) {
		exelog(a, "virustotal %s %s: %s", o->sha256, o->exe, o->status ? o->status : "");
	}
	json_decref(value);
}

struct backfill {
	struct alerts *a;
	char (*shas)[65];
	char **exes;
	bool *empty;	/* its value was "" */
	size_t n, cap;
};

static void backfill_one(void *ctx, const char *exe, const char *sha, json_t *value)
{
	struct backfill *b = ctx;
	const char *s = json_string_value(value);

	/* not answered: never asked, waiting, or uploaded and not analysed */
	if (!s || (s[0] && strcmp(s, VT_ST_WAITING) && strcmp(s, VT_ST_ANALYSING)) ||
	    !vt_is_sha256(sha))
		return;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char (*shas)[65] = realloc(b->shas, cap * sizeof(*shas));
		char **exes;
		bool *empty;

		if (!shas)
			return;
		b->shas = shas;
		exes = realloc(b->exes, cap * sizeof(*exes));
		if (!exes)
			return;
		b->exes = exes;
		empty = realloc(b->empty, cap * sizeof(*empty));
		if (!empty)
			return;
		b->empty = empty;
		b->cap = cap;
	}
	b->exes[b->n] = strdup(exe);
	if (!b->exes[b->n])
		return;
	b->empty[b->n] = !s[0];
	memcpy(b->shas[b->n++], sha, 65);
}

void alerts_vt_backfill(struct alerts *a)
{
	struct backfill b = { .a = a };
	json_t *waiting = json_string(VT_ST_WAITING);

	if (!a->vt || !waiting) {
		json_decref(waiting);
		return;
	}
	record_hashes_each(a->record, backfill_one, &b);
	for (size_t i = 0; i < b.n; i++) {
		int r = vt_submit(a->vt, b.shas[i], b.exes[i], 0, 0, 0);

		/* one queued already (vt-queue.json) keeps what it says */
		if (r == 1 || (r == 0 && b.empty[i]))
			record_vt_set_one(a->record, b.exes[i], b.shas[i], waiting);
		free(b.exes[i]);
	}
	free(b.exes);
	free(b.shas);
	free(b.empty);
	json_decref(waiting);
}

static void see(struct alerts *a, struct lident *id, enum record_role role, bool exec)
{
	const char *sha;
	unsigned what;

	if (!id || !id->exe[0] || (id->seen_roles & (1u << role)))
		return;	/* nothing to key a record on, or done already */
	id->seen_roles |= 1u << role;
	what = record_see(a->record, role, id->exe, id->name);
	if (what & REC_NEW_EXE) {
		exelog(a, "new executable%s %s (%s)%s", role_suffix[role], id->exe, id->name,
		       exe_note(a, id));
		if (role == REC_PROCESS)
			notify(a, "%s (%s) %s for the first time%s", id->name, id->exe,
			       exec ? "runs" : "uses the network", exe_note(a, id));
	} else if (what & REC_NEW_NAME) {
		exelog(a, "new name%s %s for %s", role_suffix[role], id->name, id->exe);
		if (role == REC_PROCESS)
			notify(a, "%s now runs as \"%s\"", id->exe, id->name);
	}
	sha = lident_sha256(a->idents, id);
	if (sha && sha[0] != '!') {
		check_hash(a, id, role, sha);
	} else if (!sha) {
		if (a->nwaiting == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 64;
			struct waiting *w;

			if (cap > ALERTS_WAITING_MAX)
				return;	/* bounded; its hash is checked by its next process */
			w = realloc(a->waiting, cap * sizeof(*w));
			if (!w)
				return;
			a->waiting = w;
			a->cap = cap;
		}
		id->refs++;
		a->waiting[a->nwaiting++] = (struct waiting){ id, role };
	}
}

void alerts_who(struct alerts *a, struct lident *proc, struct lident *parent,
		struct lident *gparent, bool exec)
{
	see(a, proc, REC_PROCESS, exec);
	see(a, parent, REC_PARENT, exec);
	see(a, gparent, REC_GRANDPARENT, exec);
}

void alerts_hashed(struct alerts *a, const struct lfile *f)
{
	size_t i = 0;

	while (i < a->nwaiting) {
		struct waiting *w = &a->waiting[i];
		const char *sha;

		if (w->id->file_ino != f->key.ino || w->id->file_dev != f->key.dev ||
		    !(sha = lident_sha256(a->idents, w->id))) {
			i++;
			continue;
		}
		if (sha[0] != '!')
			check_hash(a, w->id, w->role, sha);
		idents_put(a->idents, w->id);
		*w = a->waiting[--a->nwaiting];
	}
}

void alerts_errors(struct alerts *a, const char *first, unsigned long count)
{
	time_t now = time(NULL);

	/* without a desktop the note would be printed beside the log line
	 * that already said it */
	if (!a->desktop)
		return;
	if (first && count) {
		if (!a->errors_unshown)
			snprintf(a->first_unshown, sizeof(a->first_unshown), "%s", first);
		a->errors_unshown += count;
	}
	/* a burst is one notification, with a count */
	if (!a->errors_unshown || now - a->last_error_note < ERROR_NOTE_INTERVAL)
		return;
	if (a->errors_unshown == 1)
		notify(a, "error: %s", a->first_unshown);
	else
		notify(a, "%lu errors (all in error.log), the first: %s", a->errors_unshown,
		       a->first_unshown);
	a->errors_unshown = 0;
	a->last_error_note = now;
}

void alerts_save(struct alerts *a)
{
	int r = record_save(a->record);

	if (r < 0)
		errlog_add(a->errlog, "cannot write record.json: %s", strerror(-r));
}

uint64_t alerts_dropped(struct alerts *a)
{
	return notifier_dropped(a->notifier);
}

uint64_t alerts_package_refused(struct alerts *a)
{
	return a->checks_refused;
}

uint64_t alerts_sent(struct alerts *a)
{
	return notifier_sent(a->notifier);
}

uint64_t alerts_record_refused(struct alerts *a)
{
	return record_refused(a->record);
}

int alerts_open(const struct alerts_opts *opts, struct idents *idents, struct errlog *errlog,
		struct alerts **ret)
{
	struct alerts *a = calloc(1, sizeof(*a));
	struct notifier_opts nopts = { .desktop = opts->desktop, .print = opts->print,
				       .ctx = opts->ctx };
	char err[512] = "";
	int r;

	if (!a)
		return -ENOMEM;
	a->idents = idents;
	a->errlog = errlog;
	a->desktop = opts->desktop;
	r = record_load(opts->dirfd, &a->record, err, sizeof(err));
	if (err[0])
		errlog_add(errlog, "%s", err);
	if (r < 0) {
		free(a);
		return r;
	}
	a->exelog_fd = open_below(opts->dirfd, "exe.log", O_WRONLY | O_CREAT | O_APPEND, 0600,
				  (uid_t)-1, (gid_t)-1);
	if (a->exelog_fd < 0)
		errlog_add(errlog, "cannot open exe.log: %s", strerror(-a->exelog_fd));
	r = notifier_start(&nopts, &a->notifier);
	if (r < 0) {
		errlog_add(errlog, "cannot start the desktop notifier: %s", strerror(-r));
		a->notifier = NULL;
	}
	a->dirfd = opts->dirfd;
	a->vt = opts->vt;
	a->dpkg_dir = opts->dpkg_dir ? opts->dpkg_dir : DPKG_INFO_DIR;
	a->request_md5 = opts->request_md5;
	a->ctx = opts->ctx;
	*ret = a;
	return 0;
}

void alerts_close(struct alerts *a)
{
	if (!a)
		return;
	alerts_save(a);
	for (size_t i = 0; i < a->nwaiting; i++)
		idents_put(a->idents, a->waiting[i].id);
	free(a->waiting);
	for (size_t i = 0; i < a->nchecks; i++)
		free(a->checks[i].exe);
	free(a->checks);
	for (size_t i = 0; i < a->nmd5_wait; i++)
		free(a->md5_wait[i].exe);
	free(a->md5_wait);
	notifier_stop(a->notifier);
	if (a->exelog_fd >= 0)
		close(a->exelog_fd);
	record_free(a->record);
	free(a);
}
