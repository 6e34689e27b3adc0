/* error.log: every error the daemon meets, one timestamped line each,
 * also echoed to stderr.  Repeats of the same message within one flush
 * interval are written once with their count. */
#ifndef PS_DAEMON_ERRLOG_H
#define PS_DAEMON_ERRLOG_H

#include <sys/types.h>

struct errlog;

int errlog_open(int dirfd, uid_t owner, gid_t group, struct errlog **ret);
void errlog_close(struct errlog *e);

/* Queue a message; identical messages are merged until errlog_flush. */
void errlog_add(struct errlog *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Called after each flush that wrote something: the first message and the
 * number of errors written (for error notifications). */
typedef void (*errlog_sink_fn)(void *ctx, const char *first, unsigned long count);
void errlog_set_sink(struct errlog *e, errlog_sink_fn fn, void *ctx);

/* Write queued messages: "<YYYY-mm-dd HH:MM:SS> <message>[ (repeated N times)]". */
void errlog_flush(struct errlog *e);

#endif
