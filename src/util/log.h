/* Diagnostics on stderr for the operator.  Library code returns negative
 * errno and never logs; the code that handles an error logs it once. */
#ifndef PS_UTIL_LOG_H
#define PS_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Look at the environment once, at start: under systemd (JOURNAL_STREAM
 * naming stderr) every line starts with its syslog level, "<3>" for
 * errors, "<4>" warnings, "<6>" information, "<7>" debug. */
void log_init(void);
bool log_stderr_is_journal(void);
/* The level prefix for lines written to stderr directly ("" off the journal). */
const char *log_line_prefix(enum log_level level);
void log_set_level(enum log_level level);
/* Send messages to fn instead of stderr (the logger has no stderr of its
 * own: its messages go to the monitor, which prints them). */
typedef void (*log_sink_fn)(void *ctx, enum log_level level, const char *msg);
void log_set_sink(log_sink_fn fn, void *ctx);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Log "<message>: <strerror(-r)>" and return r, for `return log_errno(r, ...)`. */
int log_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
