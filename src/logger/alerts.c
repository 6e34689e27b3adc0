/* record.json checks, exe.log lines and desktop notifications (alerts.h). */
#include "daemon/alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/record.h"
#include "notify/notifier.h"
#include "util/fsutil.h"
#include "util/log.h"

#define ERROR_NOTE_INTERVAL 10	/* seconds between error notifications */

struct waiting {
	struct ident *id;
	enum record_role role;
};

struct alerts {
	struct record *record;
	struct errlog *errlog;
	struct notifier *notifier;
	int exelog_fd;
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
	if (a->exelog_fd >= 0 && write_full(a->exelog_fd, line, n) < 0)
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
static const char *exe_note(const struct ident *id)
{
	if (id->file->flags & EXE_MEMFD)
		return "; it runs from memory (memfd), not from a file";
	if (!strcmp(id->file->sha256, SHA_REPLACED))
		return "; another file is at its path now, so it could not be hashed";
	if (!strcmp(id->file->sha256, SHA_EXITED))
		return "; it was gone before its file could be hashed";
	if (id->file->flags & EXE_DELETED)
		return "; its file has been deleted";
	return "";
}

static void check_hash(struct alerts *a, const struct ident *id, enum record_role role,
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

static void see(struct alerts *a, struct ident *id, enum record_role role, bool exec)
{
	const char *sha;
	unsigned what;

	if (!id || !id->exe[0] || (id->seen_roles & (1u << role)))
		return;	/* nothing to key a record on, or done already */
	id->seen_roles |= 1u << role;
	what = record_see(a->record, role, id->exe, id->name);
	if (what & REC_NEW_EXE) {
		exelog(a, "new executable%s %s (%s)%s", role_suffix[role], id->exe, id->name,
		       exe_note(id));
		if (role == REC_PROCESS)
			notify(a, "%s (%s) %s for the first time%s", id->name, id->exe,
			       exec ? "runs" : "uses the network", exe_note(id));
	} else if (what & REC_NEW_NAME) {
		exelog(a, "new name%s %s for %s", role_suffix[role], id->name, id->exe);
		if (role == REC_PROCESS)
			notify(a, "%s now runs as \"%s\"", id->exe, id->name);
	}
	sha = ident_sha256(id);
	if (sha && sha[0] != '!') {
		check_hash(a, id, role, sha);
	} else if (!sha) {
		if (a->nwaiting == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 64;
			struct waiting *w = realloc(a->waiting, cap * sizeof(*w));

			if (!w)
				return;
			a->waiting = w;
			a->cap = cap;
		}
		a->waiting[a->nwaiting++] = (struct waiting){ ident_ref(id), role };
	}
}

void alerts_who(struct alerts *a, struct ident *proc, struct ident *parent, struct ident *gparent,
		bool exec)
{
	see(a, proc, REC_PROCESS, exec);
	see(a, parent, REC_PARENT, exec);
	see(a, gparent, REC_GRANDPARENT, exec);
}

void alerts_hashed(struct alerts *a, const struct exe_file *f)
{
	size_t i = 0;

	while (i < a->nwaiting) {
		struct waiting *w = &a->waiting[i];
		const char *sha;

		if (w->id->file != f || !(sha = ident_sha256(w->id))) {
			i++;
			continue;
		}
		if (sha[0] != '!')
			check_hash(a, w->id, w->role, sha);
		ident_unref(NULL, w->id);
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

int alerts_open(struct state_dir *sd, const struct config *cfg, struct errlog *errlog,
		struct alerts **ret)
{
	struct alerts *a = calloc(1, sizeof(*a));
	struct notifier_opts nopts = {
		.desktop = cfg->desktop_notifications,
		.uid = sd->uid,
		.gid = sd->gid,
		.bus_address = NULL,
		.self_exe = "/proc/self/exe",
	};
	char err[512];
	int r;

	if (!a)
		return -ENOMEM;
	a->errlog = errlog;
	r = record_load(sd->fd, sd->uid, sd->gid, &a->record, err, sizeof(err));
	if (err[0])
		errlog_add(errlog, "%s", err);
	if (r < 0) {
		free(a);
		return r;
	}
	a->exelog_fd = open_below(sd->fd, "exe.log", O_WRONLY | O_CREAT | O_APPEND, 0644, sd->uid,
				  sd->gid);
	if (a->exelog_fd < 0)
		errlog_add(errlog, "cannot open exe.log: %s", strerror(-a->exelog_fd));
	r = notifier_start(&nopts, &a->notifier);
	if (r < 0) {
		errlog_add(errlog, "cannot start the desktop notifier: %s", strerror(-r));
		a->notifier = NULL;
	}
	*ret = a;
	return 0;
}

void alerts_close(struct alerts *a)
{
	if (!a)
		return;
	alerts_save(a);
	for (size_t i = 0; i < a->nwaiting; i++)
		ident_unref(NULL, a->waiting[i].id);
	free(a->waiting);
	notifier_stop(a->notifier);
	if (a->exelog_fd >= 0)
		close(a->exelog_fd);
	record_free(a->record);
	free(a);
}
