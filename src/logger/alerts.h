/* Telling people: when a program is seen (a flow or, with "Every exe", an
 * exec) or its executable's hash is known, compare with record.json; what
 * is new goes to exe.log and, for the process itself, to a desktop
 * notification.  Errors become notifications too, at most one per burst.
 * Runs in the logger, as the desktop user; every name and path here is
 * already safe text (idents.h). */
#ifndef PS_LOGGER_ALERTS_H
#define PS_LOGGER_ALERTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "logger/errlog.h"
#include "logger/idents.h"
#include "logger/vt.h"

struct alerts;

struct alerts_opts {
	int dirfd;		/* the state directory */
	bool desktop;		/* notify on the session bus, else hand texts to print() */
	void (*print)(void *ctx, const char *text);
	void *ctx;
	struct vt *vt;		/* VirusTotal, or NULL when it is off */
	const char *dpkg_dir;	/* dpkg's md5sums (NULL: DPKG_INFO_DIR; tests name another) */
	/* a package lists the file (ino, dev) whose contents have the SHA-256
	 * sha: compute its MD5 (by the monitor, or here for files hashed as
	 * the user, by_user) and answer with alerts_md5.  NULL: such files
	 * are reported as not compared. */
	void (*request_md5)(void *ctx, uint64_t ino, uint32_t dev, const char *sha,
			    const char *path, bool by_user);
};

/* Load record.json, open exe.log, start the notifier.  Problems that do
 * not stop the monitor go to errlog. */
int alerts_open(const struct alerts_opts *opts, struct idents *idents, struct errlog *errlog,
		struct alerts **ret);
void alerts_close(struct alerts *a);

/* A program was named (exec: it was an exec with "Every exe"). */
void alerts_who(struct alerts *a, struct lident *proc, struct lident *parent,
		struct lident *gparent, bool exec);
/* A hash became known for an executable file. */
void alerts_hashed(struct alerts *a, const struct lfile *f);
/* The MD5 request_md5 asked for: md5 "" when it could not be computed
 * (the file closed, changed or unreadable meanwhile). */
void alerts_md5(struct alerts *a, uint64_t ino, uint32_t dev, const char *sha, const char *md5);
/* What VirusTotal said about a hash: record.json, exe.log, and a
 * notification when it flags the file. */
void alerts_vt_outcome(struct alerts *a, const struct vt_outcome *o);
/* Queue for VirusTotal every hash of record.json it has not answered
 * (at start: added after the last run, or the queue was lost or full). */
void alerts_vt_backfill(struct alerts *a);

/* Errors just written to error.log (from errlog's flush); (NULL, 0) shows
 * errors held back by the rate limit once it has passed.  A desktop
 * notification only: without a desktop, the log line already said it. */
void alerts_errors(struct alerts *a, const char *first, unsigned long count);
/* Check the new hashes of this while against their packages (dpkg.h):
 * record.json, exe.log, and a notification for a modified file. */
void alerts_packages(struct alerts *a);
/* Write record.json if it changed. */
void alerts_save(struct alerts *a);
/* The state directory was made again (the logger's check_state_dir):
 * exe.log is opened in the new one now. */
void alerts_dir_made_again(struct alerts *a);
/* Texts the notifier could not deliver, and record entries refused
 * because record.json reached its bounds (cumulative). */
uint64_t alerts_dropped(struct alerts *a);
uint64_t alerts_sent(struct alerts *a);		/* notifications shown */
uint64_t alerts_record_refused(struct alerts *a);
/* New hashes not checked against their package: more than 4096 at once */
uint64_t alerts_package_refused(struct alerts *a);

#endif
