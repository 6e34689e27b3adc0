/* The spool of batches for "DB sql server" and the thread that sends it
 * (sqlsend.h).
 *
 *   logger loop: window --> sqlbatch_encode --> sql-spool/SEQ.batch (fsync, rename)
 *                                               index (seq, size, entries), bound
 *   thread:      oldest file --> decode --> has the server SEQ? --yes--> remove file
 *                                              no --> BEGIN; batch row; entries; COMMIT --> remove file
 *                failure --> the file stays; retry after 1 s, 2 s, ... up to 30 s
 *
 * Batch ids are (machine id, boot id, seq); seq is the larger of the last
 * one used (sql-spool/seq, kept across runs) plus one and the wall clock
 * in microseconds at start, so ids never repeat on a machine, also when
 * the spool was removed. */
#include "logger/sqlsend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "geo/utf8.h"
#include "util/fsutil.h"
#include "util/strutil.h"

#define SEQ_FILE "seq"
#define RETRY_MAX_S 30

struct spooled {
	uint64_t seq;
	uint64_t size;
	uint64_t entries;
};

struct sqlsend {
	struct sqlsend_opts o;
	int spoolfd;
	char host[SQLSRV_HOST_MAX + 1], machine_id[33], boot_id[37];
	uint64_t next_seq;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more;		/* CLOCK_MONOTONIC */
	int stopping;
	/* under lock */
	struct spooled *idx;		/* ascending seq */
	size_t n, cap;
	uint64_t bytes;
	uint64_t inflight;		/* seq being sent (0: none) */
	struct sqlsend_stats st;
	uint64_t reported_dropped, reported_dropped_entries, reported_unreadable;
	char reported_error[512];
	uint64_t outage_written;	/* batches written since the error began */
	bool in_outage;
	/* the thread's own */
	struct sqlsrv *conn;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void spool_name(uint64_t seq, char *buf, size_t size)
{
	snprintf(buf, size, "%020" PRIu64 ".batch", seq);
}

/* ---- this machine ---- */

static int read_id(const char *path, char *out, size_t want, bool dashes)
{
	char *text = NULL;
	size_t len;
	int r = read_file(path, 128, &text, &len);

	if (r < 0)
		return r;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (len != want) {
		free(text);
		return -EINVAL;
	}
	memcpy(out, text, want);
	out[want] = '\0';
	free(text);
	for (size_t i = 0; i < want; i++) {
		if (dashes && out[i] == '-')
			continue;
		if (out[i] >= 'A' && out[i] <= 'F')
			out[i] = (char)(out[i] - 'A' + 'a');
	}
	return 0;
}

int sqlsend_machine(char machine_id[33], char boot_id[37], char host[SQLSRV_HOST_MAX + 1])
{
	char name[256] = "";
	char *safe;
	int r;

	r = read_id("/proc/sys/kernel/random/boot_id", boot_id, 36, true);
	if (r < 0)
		return r;
	if (read_id("/etc/machine-id", machine_id, 32, false) < 0) {
		/* no machine id (a bare chroot): the boot's, which changes at
		 * each boot; said in error.log by the caller */
		size_t k = 0;

		for (size_t i = 0; i < 36 && k < 32; i++)
			if (boot_id[i] != '-')
				machine_id[k++] = boot_id[i];
		machine_id[32] = '\0';
		r = 1;
	}
	if (gethostname(name, sizeof(name) - 1) < 0 || !name[0])
		snprintf(name, sizeof(name), "localhost");
	safe = text_from_bytes(name, strnlen(name, sizeof(name)));
	if (!safe)
		return -ENOMEM;
	snprintf(host, SQLSRV_HOST_MAX + 1, "%.*s", (int)utf8_cut(safe, strlen(safe), SQLSRV_HOST_MAX),
		 safe);
	free(safe);
	return r;
}

/* ---- the spool ---- */

static int cmp_spooled(const void *a, const void *b)
{
	const struct spooled *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int index_add(struct sqlsend *s, const struct spooled *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct spooled *p = realloc(s->idx, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->idx = p;
		s->cap = cap;
	}
	s->idx[s->n++] = *e;
	s->bytes += e->size;
	return 0;
}

static void index_remove(struct sqlsend *s, uint64_t seq)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->idx[i].seq != seq)
			continue;
		s->bytes -= s->idx[i].size;
		memmove(&s->idx[i], &s->idx[i + 1], (s->n - i - 1) * sizeof(s->idx[0]));
		s->n--;
		return;
	}
}

/* Entries of a spooled batch, from its header (0 if unreadable). */
static uint64_t header_entries(int fd)
{
	unsigned char h[32];

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, "PSQLB1\n", 8))
		return 0;
	uint32_t n;

	memcpy(&n, h + 28, 4);
	return n;
}

/* What a previous run left: every NNN.batch, oldest first. */
static int spool_scan(struct sqlsend *s)
{
	int fd = dup(s->spoolfd);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		struct spooled e = { 0 };
		struct stat st;
		char *end;
		int f;

		if (strlen(de->d_name) != 26 || strcmp(de->d_name + 20, ".batch"))
			continue;
		e.seq = strtoull(de->d_name, &end, 10);
		if (end != de->d_name + 20 || e.seq == 0)
			continue;
		f = openat(s->spoolfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (f < 0)
			continue;
		if (fstat(f, &st) == 0 && S_ISREG(st.st_mode)) {
			e.size = (uint64_t)st.st_size;
			e.entries = header_entries(f);
			if (index_add(s, &e) < 0) {
				close(f);
				closedir(d);
				return -ENOMEM;
			}
		}
		close(f);
	}
	closedir(d);
	if (s->n)
		qsort(s->idx, s->n, sizeof(s->idx[0]), cmp_spooled);
	return 0;
}

/* Drop the oldest batches (never the one being sent) until the spool is
 * within its bounds.  Under lock. */
static void spool_bound(struct sqlsend *s)
{
	size_t i = 0;

	while ((s->bytes > s->o.cfg.spool_bytes || s->n > SQL_SPOOL_FILES_MAX) && i < s->n) {
		char name[40];

		if (s->idx[i].seq == s->inflight) {
			i++;
			continue;
		}
		spool_name(s->idx[i].seq, name, sizeof(name));
		unlinkat(s->spoolfd, name, 0);
		s->st.dropped++;
		s->st.dropped_entries += s->idx[i].entries;
		index_remove(s, s->idx[i].seq);
	}
}

int sqlsend_batch(struct sqlsend *s, const struct conn_row *rows, size_t n, int64_t time,
		  uint32_t window)
{
	struct sqlsrv_batch b = { .seq = s->next_seq++, .time = time, .window = window,
				  .n = n, .rows = (struct conn_row *)rows };
	struct spooled e = { .seq = b.seq, .entries = n };
	char name[40], seqtext[24], *data = NULL;
	size_t len;
	int r;

	memcpy(b.host, s->host, sizeof(b.host));
	memcpy(b.machine_id, s->machine_id, sizeof(b.machine_id));
	memcpy(b.boot_id, s->boot_id, sizeof(b.boot_id));
	/* the sequence first: a crash after this never reuses it */
	snprintf(seqtext, sizeof(seqtext), "%" PRIu64 "\n", b.seq);
	write_atomic_below(s->spoolfd, SEQ_FILE, seqtext, strlen(seqtext), 0600, (uid_t)-1,
			   (gid_t)-1);
	r = sqlbatch_encode(&b, &data, &len);
	if (r < 0)
		return r;
	spool_name(b.seq, name, sizeof(name));
	r = write_atomic_below(s->spoolfd, name, data, len, 0600, (uid_t)-1, (gid_t)-1);
	free(data);
	pthread_mutex_lock(&s->lock);
	if (r < 0) {
		s->st.dropped++;
		s->st.dropped_entries += n;
		snprintf(s->st.error, sizeof(s->st.error), "cannot write the spool file %s/%s: %s",
			 SQL_SPOOL_DIR, name, strerror(-r));
	} else {
		e.size = len;
		r = index_add(s, &e);
		if (r < 0)
			unlinkat(s->spoolfd, name, 0);
		spool_bound(s);
		pthread_cond_broadcast(&s->more);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- the thread ---- */

static void failed(struct sqlsend *s, const char *err)
{
	pthread_mutex_lock(&s->lock);
	s->st.failures++;
	s->st.connected = false;
	snprintf(s->st.error, sizeof(s->st.error), "%.500s", err);
	pthread_mutex_unlock(&s->lock);
	sqlsrv_close(s->conn);
	s->conn = NULL;
}

static void *worker(void *arg)
{
	struct sqlsend *s = arg;
	unsigned pause_s = 1, retry_max = s->o.retry_max_s ? s->o.retry_max_s : RETRY_MAX_S;
	uint64_t retry_at = 0;
	char err[600];
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct sqlsrv_batch b;
		char name[40], *data = NULL;
		size_t len;
		uint64_t seq;
		int r;

		pthread_mutex_lock(&s->lock);
		if (s->stopping == 2 || (s->stopping && (!s->n || now_ms() < retry_at))) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		if (!s->n || now_ms() < retry_at) {
			uint64_t wake = s->n ? retry_at : now_ms() + 1000;
			struct timespec ts = { .tv_sec = (time_t)(wake / 1000),
					       .tv_nsec = (long)(wake % 1000) * 1000000 };

			pthread_cond_timedwait(&s->more, &s->lock, &ts);
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		seq = s->inflight = s->idx[0].seq;
		pthread_mutex_unlock(&s->lock);

		spool_name(seq, name, sizeof(name));
		r = read_below(s->spoolfd, name, s->o.cfg.spool_bytes + 1, &data, &len);
		if (r == 0) {
			r = sqlbatch_decode(data, len, &b);
			free(data);
		}
		if (r < 0) {
			/* gone, or not a batch: kept aside for a person to see */
			char aside[48];

			snprintf(aside, sizeof(aside), "%s.bad", name);
			if (r != -ENOENT)
				renameat(s->spoolfd, name, s->spoolfd, aside);
			pthread_mutex_lock(&s->lock);
			if (r != -ENOENT)
				s->st.unreadable++;
			index_remove(s, seq);
			s->inflight = 0;
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		r = 0;
		if (!s->conn) {
			r = sqlsrv_connect(&s->o.cfg, &s->conn, err, sizeof(err));
			if (r == 0)
				r = sqlsrv_prepare(s->conn, true, err, sizeof(err));
		}
		if (r == 0)
			r = sqlsrv_has_batch(s->conn, &b, err, sizeof(err));
		if (r == 0)
			r = sqlsrv_write_batch(s->conn, &b, err, sizeof(err));
		if (r < 0) {
			failed(s, err);
			retry_at = now_ms() + pause_s * 1000ull;
			pause_s = pause_s * 2 > retry_max ? retry_max : pause_s * 2;
			pthread_mutex_lock(&s->lock);
			s->inflight = 0;
			pthread_mutex_unlock(&s->lock);
			sqlbatch_clear(&b);
			continue;
		}
		/* r == 1: the server had it (a replay after a crash mid-commit) */
		unlinkat(s->spoolfd, name, 0);
		pause_s = 1;
		retry_at = 0;
		pthread_mutex_lock(&s->lock);
		if (r == 1) {
			s->st.skipped++;
		} else {
			s->st.written++;
			s->st.written_entries += b.n;
		}
		if (s->in_outage)
			s->outage_written++;
		s->st.connected = true;
		s->st.error[0] = '\0';
		index_remove(s, seq);
		s->inflight = 0;
		pthread_mutex_unlock(&s->lock);
		sqlbatch_clear(&b);
	}
	return NULL;
}

/* ---- the interface ---- */

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int sqlsend_new(struct sqlsend_opts *o, struct sqlsend **ret, char *err, size_t errlen)
{
	struct sqlsend *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	char *text = NULL;
	size_t len;
	uint64_t last = 0;
	int r;

	err[0] = '\0';
	if (!s) {
		sqlsrv_cfg_free(&o->cfg);
		return -ENOMEM;
	}
	s->o = *o;
	memset(&o->cfg, 0, sizeof(o->cfg));
	s->spoolfd = -1;
	r = sqlsend_machine(s->machine_id, s->boot_id, s->host);
	if (r < 0) {
		snprintf(err, errlen, "cannot read this machine's boot id: %s", strerror(-r));
		goto fail;
	}
	if (r == 1)
		snprintf(err, errlen, "SQL server: /etc/machine-id is missing or unreadable: this "
			 "machine is named by its boot id, which changes at each boot");
	if (o->host)
		snprintf(s->host, sizeof(s->host), "%s", o->host);
	if (o->machine_id)
		snprintf(s->machine_id, sizeof(s->machine_id), "%s", o->machine_id);
	if (o->boot_id)
		snprintf(s->boot_id, sizeof(s->boot_id), "%s", o->boot_id);
	if (!sqlbatch_id_ok(s->machine_id, s->boot_id, s->host)) {
		r = -EINVAL;
		snprintf(err, errlen, "SQL server: this machine's id, boot id or host name is not "
			 "usable");
		goto fail;
	}
	if (mkdirat(o->dirfd, SQL_SPOOL_DIR, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "cannot make the spool %s: %s", SQL_SPOOL_DIR, strerror(-r));
		goto fail;
	}
	s->spoolfd = openat(o->dirfd, SQL_SPOOL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->spoolfd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open the spool %s (a directory, never a link): %s",
			 SQL_SPOOL_DIR, strerror(-r));
		goto fail;
	}
	r = spool_scan(s);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the spool %s: %s", SQL_SPOOL_DIR, strerror(-r));
		goto fail;
	}
	if (read_below(s->spoolfd, SEQ_FILE, 64, &text, &len) == 0) {
		text[strcspn(text, "\n")] = '\0';
		if (parse_u64(text, &last) < 0)
			last = 0;
	}
	free(text);
	s->next_seq = wall_us();
	if (last >= s->next_seq)
		s->next_seq = last + 1;
	if (s->n && s->idx[s->n - 1].seq >= s->next_seq)
		s->next_seq = s->idx[s->n - 1].seq + 1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->more, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&s->thread, NULL, worker, s);
	if (r) {
		r = -r;
		snprintf(err, errlen, "cannot start the SQL server's thread: %s", strerror(-r));
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->more);
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	if (s->spoolfd >= 0)
		close(s->spoolfd);
	free(s->idx);
	sqlsrv_cfg_free(&s->o.cfg);
	free(s);
	return r;
}

void sqlsend_stats(struct sqlsend *s, struct sqlsend_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	st->spooled = s->n;
	st->spooled_bytes = s->bytes;
	pthread_mutex_unlock(&s->lock);
}

/* A size for people: KiB below a MiB */
static const char *size_text(uint64_t bytes, char *buf, size_t size)
{
	if (bytes < (1u << 20))
		snprintf(buf, size, "%" PRIu64 " KiB", (bytes + 1023) >> 10);
	else
		snprintf(buf, size, "%" PRIu64 " MiB", bytes >> 20);
	return buf;
}

void sqlsend_report(struct sqlsend *s, struct errlog *e)
{
	char a[32], b[32];
	const struct sqlsrv_cfg *c;
	struct sqlsend_stats st;

	if (!s || !e)
		return;
	c = &s->o.cfg;
	pthread_mutex_lock(&s->lock);
	st = s->st;
	st.spooled = s->n;
	st.spooled_bytes = s->bytes;
	if (st.error[0] && strcmp(st.error, s->reported_error)) {
		errlog_add(e, "SQL server (%s, table %s): %s; batches wait in %s (%" PRIu64
			   " now, %s of %s) and are sent when it works again",
			   sqlsrv_client_name(c->client), c->table, st.error, SQL_SPOOL_DIR, st.spooled,
			   size_text(st.spooled_bytes, a, sizeof(a)),
			   size_text(c->spool_bytes, b, sizeof(b)));
		snprintf(s->reported_error, sizeof(s->reported_error), "%s", st.error);
		if (!s->in_outage)
			s->outage_written = 0;
		s->in_outage = true;
	} else if (!st.error[0] && s->in_outage && st.connected) {
		errlog_add(e, "SQL server (%s, table %s): writing again; %" PRIu64 " batches that "
			   "waited were sent, %" PRIu64 " still wait",
			   sqlsrv_client_name(c->client), c->table, s->outage_written, st.spooled);
		s->reported_error[0] = '\0';
		s->in_outage = false;
	}
	if (st.dropped > s->reported_dropped)
		errlog_add(e, "SQL server: the spool (%s, at most %s and %d batches) was "
			   "full: the oldest %" PRIu64 " batches (%" PRIu64 " entries) were dropped "
			   "and will never reach the server",
			   SQL_SPOOL_DIR, size_text(c->spool_bytes, a, sizeof(a)), SQL_SPOOL_FILES_MAX,
			   st.dropped - s->reported_dropped,
			   st.dropped_entries - s->reported_dropped_entries);
	if (st.unreadable > s->reported_unreadable)
		errlog_add(e, "SQL server: %" PRIu64 " spool files were not batches picosnitch "
			   "wrote; they were renamed NAME.bad in %s and not sent",
			   st.unreadable - s->reported_unreadable, SQL_SPOOL_DIR);
	s->reported_dropped = st.dropped;
	s->reported_dropped_entries = st.dropped_entries;
	s->reported_unreadable = st.unreadable;
	pthread_mutex_unlock(&s->lock);
}

void sqlsend_drain(struct sqlsend *s, unsigned wait_ms)
{
	uint64_t until = now_ms() + wait_ms, failures;
	bool done;

	pthread_mutex_lock(&s->lock);
	failures = s->st.failures;
	pthread_mutex_unlock(&s->lock);
	do {
		pthread_mutex_lock(&s->lock);
		done = s->n == 0 || s->st.failures != failures;
		pthread_mutex_unlock(&s->lock);
		if (!done)
			usleep(20000);
	} while (!done && now_ms() < until);
}

void sqlsend_free(struct sqlsend *s, unsigned wait_ms)
{
	struct timespec until;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;	/* what waits is sent, unless the server fails */
	pthread_cond_broadcast(&s->more);
	pthread_mutex_unlock(&s->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
		pthread_mutex_lock(&s->lock);
		s->stopping = 2;
		pthread_cond_broadcast(&s->more);
		pthread_mutex_unlock(&s->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
			/* held by a server that does not answer (it times out
			 * within a minute): the process is about to exit; the
			 * thread may still use s, and what it did not send
			 * stays in the spool for the next run */
			pthread_detach(s->thread);
			return;
		}
	}
	sqlsrv_close(s->conn);
	close(s->spoolfd);
	free(s->idx);
	sqlsrv_cfg_free(&s->o.cfg);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->more);
	free(s);
}
