/* conn.log: one comma-separated line per aggregated entry, appended, for
 * people who watch it with other tools.  Commas, newlines and NULs are
 * removed from values so that every line has exactly 18 fields (the 18th,
 * the process's service, came with snitch.db's schema 16: readers that
 * count fields from the left are unaffected). */
#include "storage/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/strutil.h"

/* conn.log is kept under this, with one conn.log.1 before it */
#define CONNLOG_MAX ((off_t)1 << 30)

struct store_text {
	struct store base;
	int fd;
	int dirfd;
	char name[64];
};

static int add_field(struct strbuf *sb, const char *v, bool first)
{
	char *clean = csv_clean(v ? v : "");
	int r;

	if (!clean)
		return -ENOMEM;
	r = first ? 0 : strbuf_addc(sb, ',');
	if (r == 0)
		r = strbuf_adds(sb, clean);
	free(clean);
	return r;
}

char *conn_row_to_csv(const struct conn_row *row)
{
	struct strbuf sb = STRBUF_INIT;
	char when[32], num[3][24];
	time_t t = row->time;
	struct tm tm;
	int r;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(num[0], sizeof(num[0]), "%" PRIu64, row->sent);
	snprintf(num[1], sizeof(num[1]), "%" PRIu64, row->received);
	snprintf(num[2], sizeof(num[2]), "%" PRId64, row->uid);
	r = add_field(&sb, when, true);
	if (!r)
		r = add_field(&sb, num[0], false);
	if (!r)
		r = add_field(&sb, num[1], false);
	if (!r)
		r = add_field(&sb, row->exe, false);
	if (!r)
		r = add_field(&sb, row->name, false);
	if (!r)
		r = add_field(&sb, row->cmdline, false);
	if (!r)
		r = add_field(&sb, row->sha256, false);
	if (!r)
		r = add_field(&sb, row->pexe, false);
	if (!r)
		r = add_field(&sb, row->pname, false);
	if (!r)
		r = add_field(&sb, row->pcmdline, false);
	if (!r)
		r = add_field(&sb, row->psha256, false);
	if (!r)
		r = add_field(&sb, num[2], false);
	if (!r)
		r = strbuf_addf(&sb, ",%" PRId64 ",%" PRId64, row->lport, row->rport);
	if (!r)
		r = add_field(&sb, row->laddr, false);
	if (!r)
		r = add_field(&sb, row->raddr, false);
	if (!r)
		r = add_field(&sb, row->domain, false);
	if (!r)
		r = add_field(&sb, row->service, false);
	if (r < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

static int append(struct store_text *s, const char *buf, size_t len);

static int text_write(struct store *base, const struct conn_row *rows, size_t n)
{
	struct store_text *s = (struct store_text *)base;
	struct strbuf sb = STRBUF_INIT;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		char *line = conn_row_to_csv(&rows[i]);

		if (!line) {
			r = -ENOMEM;
			break;
		}
		r = strbuf_adds(&sb, line);
		if (r == 0)
			r = strbuf_addc(&sb, '\n');
		free(line);
	}
	/* one write of whole lines: a reader never sees half a batch line */
	if (r == 0 && sb.len)
		r = append(s, sb.buf, sb.len);
	strbuf_release(&sb);
	return r;
}

/* Append whole lines, or nothing: a write cut short (the disk filled) is
 * taken back, so the batch can be written again whole later. */
static int append(struct store_text *s, const char *buf, size_t len)
{
	struct stat st;
	bool known = fstat(s->fd, &st) == 0;
	int fd = s->fd;
	int r = log_append(s->dirfd, s->name, &s->fd, buf, len, CONNLOG_MAX);

	if (r > 0)
		r = 0;	/* it began a new conn.log */
	if (r < 0) {
		if (known && fd == s->fd && ftruncate(s->fd, st.st_size) < 0)
			snprintf(s->base.err, sizeof(s->base.err),
				 "conn.log: %s (and the part written could not be taken back: "
				 "a line may be cut)", strerror(-r));
		else
			snprintf(s->base.err, sizeof(s->base.err), "conn.log: %s", strerror(-r));
	}
	return r;
}

static int text_note(struct store *base, const char *text)
{
	struct store_text *s = (struct store_text *)base;
	char *clean = csv_clean(text);
	char *line = NULL;
	int r;

	if (!clean || asprintf(&line, "# %s\n", clean) < 0) {
		free(clean);
		return -ENOMEM;
	}
	r = append(s, line, strlen(line));
	free(line);
	free(clean);
	return r;
}

/* conn.log deleted or replaced (by its reader, a cleaner, the state
 * directory removed): a new one, never lines written into a deleted file */
static int text_check(struct store *base)
{
	struct store_text *s = (struct store_text *)base;
	int r = reopen_if_stale(s->dirfd, s->name, &s->fd);

	if (r < 0)
		snprintf(s->base.err, sizeof(s->base.err), "conn.log: %s", strerror(-r));
	return r;
}

static void text_close(struct store *base)
{
	struct store_text *s = (struct store_text *)base;

	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static const struct store_ops text_ops = {
	.name = "conn.log",
	.write = text_write,
	.note = text_note,
	.check = text_check,
	.close = text_close,
};

int store_text_open(int dirfd, const char *name, unsigned int owner, unsigned int group,
		    struct store **ret)
{
	struct store_text *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->base.ops = &text_ops;
	s->dirfd = dirfd;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->fd = open_below(dirfd, name, O_WRONLY | O_CREAT | O_APPEND, 0600, owner, group);
	if (s->fd < 0) {
		int r = s->fd;

		free(s);
		return r;
	}
	*ret = &s->base;
	return 0;
}
