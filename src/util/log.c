/* Diagnostics on stderr, with a level filter (PICOSNITCH_DEBUG=1 for debug). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level max_level = LOG_LVL_INFO;
static log_sink_fn sink;
static void *sink_ctx;

static const char *const prefix[] = {
	[LOG_LVL_ERROR] = "error: ",
	[LOG_LVL_WARN] = "warning: ",
	[LOG_LVL_INFO] = "",
	[LOG_LVL_DEBUG] = "debug: ",
};

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_set_sink(log_sink_fn fn, void *ctx)
{
	sink = fn;
	sink_ctx = ctx;
}

bool log_enabled(enum log_level level)
{
	return level <= max_level;
}

static void vlog(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char buf[2048];

	if (!log_enabled(level))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (sink) {
		char line[2300];

		snprintf(line, sizeof(line), "%s%s%s", buf, suffix ? ": " : "", suffix ? suffix : "");
		sink(sink_ctx, level, line);
		return;
	}
	fprintf(stderr, "picosnitch: %s%s%s%s\n", prefix[level], buf, suffix ? ": " : "",
		suffix ? suffix : "");
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

int log_errno(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, strerror(r < 0 ? -r : r), fmt, ap);
	va_end(ap);
	return r;
}
