/* record.json checks, exe.log lines and desktop notifications (alerts.h). */
#include "logger/alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logger/record.h"
#include "notify/notifier.h"
#include "util/fsutil.h"
#include "util/log.h"

#define ERROR_NOTE_INTERVAL 10	/* seconds between error notifications */
#define ALERTS_WAITING_MAX 65536	/* identities waiting for their hash */
#define LOGFILE_MAX (16 << 20)		/* exe.log is kept under this, with one exe.log.1 */

struct waiting {
	struct lident *id;
	enum record_role role;
};

struct alerts {
	struct idents *idents;
	struct record *record;
	struct errlog *errlog;
	struct notifier *notifier;
	int exelog_fd;
	int dirfd;
	struct waiting *waiting;	/* identities whose hash is being computed */
	size_t nwaiting, cap;
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
	int n;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s ", when);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (a->exelog_fd >= 0 && log_append(a->dirfd, "exe.log", &a->exelog_fd, line, n,
					    LOGFILE_MAX) < 0)
		errlog_add(a->errlog, "cannot write exe.log: %s", strerror(errno));
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

static void check_hash(struct alerts *a, const struct lident *id, enum record_role role,
		       const char *sha)
{
	switch (record_see_hash(a->record, id->exe, sha)) {
	case REC_HASH_FIRST:
		exelog(a, "sha256%s %s %s", role_suffix[role], sha, id->exe);
		break;
	case REC_HASH_CHANGED:
		exelog(a, "new hash%s %s %s", role_suffix[role], sha, id->exe);
		if (role == REC_PROCESS)
			notify(a, "%s has changed: its SHA-256 is now %.16s…", id->exe, sha);
		break;
	}
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
	notifier_stop(a->notifier);
	if (a->exelog_fd >= 0)
		close(a->exelog_fd);
	record_free(a->record);
	free(a);
}
