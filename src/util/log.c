/* Diagnostics on stderr, with a level filter (PICOSNITCH_DEBUG=1 for debug),
 * and syslog level prefixes ("<3>") when stderr is systemd's journal. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum log_level max_level = LOG_LVL_INFO;
static bool to_journal;
static log_sink_fn sink;
static void *sink_ctx;

static const char *const prefix[] = {
	[LOG_LVL_ERROR] = "error: ",
	[LOG_LVL_WARN] = "warning: ",
	[LOG_LVL_INFO] = "",
	[LOG_LVL_DEBUG] = "debug: ",
};

/* sd-daemon(3)'s levels, which journald reads from the start of a line */
static const char *const journal_prefix[] = {
	[LOG_LVL_ERROR] = "<3>",
	[LOG_LVL_WARN] = "<4>",
	[LOG_LVL_INFO] = "<6>",
	[LOG_LVL_DEBUG] = "<7>",
};

/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected; it counts
 * only while stderr is still that stream (not when a program started from
 * the service redirected it), as systemd.exec(5) asks. */
bool log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (!v || sscanf(v, "%llu:%llu%n", &dev, &ino, &n) != 2 || v[n] != '\0')
		return false;
	return fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_init(void)
{
	to_journal = log_stderr_is_journal();
}

const char *log_line_prefix(enum log_level level)
{
	return to_journal ? journal_prefix[level] : "";
}

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
	fprintf(stderr, "%spicosnitch: %s%s%s%s\n", to_journal ? journal_prefix[level] : "",
		prefix[level], buf, suffix ? ": " : "", suffix ? suffix : "");
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
