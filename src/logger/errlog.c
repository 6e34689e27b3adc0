/* error.log writer with merging of repeated messages. */
#include "logger/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"

struct pending {
	char *msg;
	unsigned long count;
	unsigned long order;
	UT_hash_handle hh;
};

#define ERRLOG_MAX (16 << 20)	/* error.log is kept under this, with one error.log.1 */
#define ERRLOG_QUEUE_MAX 10000	/* distinct messages waiting for a flush */

struct errlog {
	int fd;
	int dirfd;
	unsigned long dropped;	/* distinct messages past ERRLOG_QUEUE_MAX */
	struct pending *queue;
	unsigned long next_order;
	errlog_sink_fn sink;
	void *sink_ctx;
};

void errlog_set_sink(struct errlog *e, errlog_sink_fn fn, void *ctx)
{
	e->sink = fn;
	e->sink_ctx = ctx;
}

int errlog_open(int dirfd, struct errlog **ret)
{
	struct errlog *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->dirfd = dirfd;
	e->fd = open_below(dirfd, "error.log", O_WRONLY | O_CREAT | O_APPEND, 0600, (uid_t)-1,
			   (gid_t)-1);
	if (e->fd < 0) {
		int r = e->fd;

		free(e);
		return r;
	}
	*ret = e;
	return 0;
}

void errlog_add(struct errlog *e, const char *fmt, ...)
{
	struct pending *p;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return;
	log_error("%s", msg);
	if (!e) {
		free(msg);
		return;
	}
	HASH_FIND_STR(e->queue, msg, p);
	if (p) {
		p->count++;
		free(msg);
		return;
	}
	if (HASH_COUNT(e->queue) >= ERRLOG_QUEUE_MAX) {
		e->dropped++;
		free(msg);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		free(msg);
		return;
	}
	p->msg = msg;
	p->count = 1;
	p->order = e->next_order++;
	HASH_ADD_KEYPTR(hh, e->queue, p->msg, strlen(p->msg), p);
}

static int by_order(struct pending *a, struct pending *b)
{
	return a->order < b->order ? -1 : a->order > b->order;
}

void errlog_flush(struct errlog *e)
{
	struct strbuf sb = STRBUF_INIT;
	struct pending *p, *tmp;
	char when[32], *first = NULL;
	unsigned long total = 0;
	time_t now = time(NULL);
	int r;
	struct tm tm;

	if (!e || (!e->queue && !e->dropped))
		return;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	HASH_SORT(e->queue, by_order);
	HASH_ITER(hh, e->queue, p, tmp) {
		if (p->count > 1)
			strbuf_addf(&sb, "%s %s (repeated %lu times)\n", when, p->msg, p->count);
		else
			strbuf_addf(&sb, "%s %s\n", when, p->msg);
		total += p->count;
		HASH_DEL(e->queue, p);
		if (!first)
			first = p->msg;
		else
			free(p->msg);
		free(p);
	}
	if (e->dropped) {
		strbuf_addf(&sb, "%s %lu more distinct errors since the last write were not kept "
			    "(at most %d at a time)\n", when, e->dropped, ERRLOG_QUEUE_MAX);
		total += e->dropped;
		e->dropped = 0;
	}
	/* error.log deleted or replaced: a new one, not lines into the old */
	if (sb.len && reopen_if_stale(e->dirfd, "error.log", &e->fd) == 1)
		strbuf_addf(&sb, "%s error.log was deleted or replaced while running: this one was "
			    "started in its place\n", when);
	if (sb.len && (r = log_append(e->dirfd, "error.log", &e->fd, sb.buf, sb.len, ERRLOG_MAX)) < 0)
		log_error("cannot write error.log: %s", strerror(-r));
	strbuf_release(&sb);
	if (first && e->sink)
		e->sink(e->sink_ctx, first, total);
	free(first);
}

void errlog_close(struct errlog *e)
{
	if (!e)
		return;
	errlog_flush(e);
	close(e->fd);
	free(e);
}
