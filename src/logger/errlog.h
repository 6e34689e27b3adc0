/* error.log: every error the monitor and the logger meet, one timestamped
 * line each, also echoed to the monitor's stderr.  Messages are safe text
 * already (their parts from processes went through text_from_bytes).  Repeats of the same message within one flush
 * interval are written once with their count. */
#ifndef PS_LOGGER_ERRLOG_H
#define PS_LOGGER_ERRLOG_H

#include <sys/types.h>

struct errlog;

/* Kept under 16 MiB (then error.log.1), at most 10,000 distinct messages
 * per flush (more are counted). */
int errlog_open(int dirfd, struct errlog **ret);
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
