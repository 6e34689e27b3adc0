/* Telling people: when a program is seen (a flow or, with "Every exe", an
 * exec) or its executable's hash is known, compare with record.json; what
 * is new goes to exe.log and, for the process itself, to a desktop
 * notification.  Errors become notifications too, at most one per burst. */
#ifndef PS_DAEMON_ALERTS_H
#define PS_DAEMON_ALERTS_H

#include <stdbool.h>

#include "config/config.h"
#include "config/paths.h"
#include "daemon/errlog.h"
#include "identity/ident.h"

struct alerts;

/* Load record.json, open exe.log, start the notifier.  Problems that do
 * not stop the monitor go to errlog. */
int alerts_open(struct state_dir *sd, const struct config *cfg, struct errlog *errlog,
		struct alerts **ret);
void alerts_close(struct alerts *a);

/* A program was named (exec: it was an exec with "Every exe"). */
void alerts_who(struct alerts *a, struct ident *proc, struct ident *parent, struct ident *gparent,
		bool exec);
/* A hash was computed for an executable file. */
void alerts_hashed(struct alerts *a, const struct exe_file *f);
/* Errors just written to error.log (from errlog's flush); (NULL, 0) shows
 * errors held back by the rate limit once it has passed. */
void alerts_errors(struct alerts *a, const char *first, unsigned long count);

/* Write record.json if it changed. */
void alerts_save(struct alerts *a);

/* Texts the notifier could not deliver (helper gone or too slow). */
uint64_t alerts_dropped(struct alerts *a);

#endif
