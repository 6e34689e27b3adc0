/* The logger's event loop (logger.h):
 *
 *   monitor message --> IDENT / IDENT_DROP / HASH   identities and hashes (idents)
 *                       HASH_REQ                    hashed here, as the user (userhash)
 *                       DELTAS                      summed into the window
 *                       SEEN                        record.json, exe.log, notification
 *                       DNS                         names of addresses (domains)
 *                       STATS / NOTE                error.log
 *                       TICK                        write the window when it is due
 *                       FINAL                       write everything, answer DONE, exit
 *   end of the socket --> the monitor is gone: write everything, exit
 *
 * Everything the monitor sends is checked (proto_check) and treated as
 * data: a message that does not fit is counted and skipped. */
#include "logger/logger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "logger/alerts.h"
#include "logger/errlog.h"
#include "logger/idents.h"
#include "logger/logger_int.h"
#include "logger/metrics.h"
#include "logger/sqlsend.h"
#include "logger/strpool.h"
#include "logger/userhash.h"
#include "logger/vt.h"
#include "logger/window.h"
#include "pipeline/dnsmatch.h"
#include "pipeline/tcpdns.h"
#include "pipeline/domains.h"
#include "pipeline/ignore.h"
#include "privsep/channel.h"
#include "privsep/spawn.h"
#include "storage/pending.h"
#include "storage/spill.h"
#include "storage/store.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"

#define MAX_STORES 4
#define PRUNE_INTERVAL 86400	/* seconds between "DB retention" passes */
/* rollups: at most this many steps (a day each) and this long per tick, so
 * that catching up on a large history does not hold the log up */
#define ROLLUP_STEPS_PER_TICK 8
#define ROLLUP_MS_PER_TICK 50
#define ROLLUP_RETRY_SECONDS 600	/* after a failure */
#define DOMAINS_CAPACITY 16384	/* addresses whose domain is remembered */
#define CHANNEL_QUEUE_MAX (4 << 20)
#define EXIT_CONFIG 78

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t wall_seconds(void)
{
	return (int64_t)time(NULL);
}

/* ---- messages to the monitor ---- */

static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;

static void send_msg(struct logger *l, const void *msg)
{
	if (!l->chan)
		return;
	pthread_mutex_lock(&send_lock);
	channel_send(l->chan, msg);
	pthread_mutex_unlock(&send_lock);
}

static void send_text(struct logger *l, unsigned level, const char *text)
{
	struct ps_msg_log m;
	size_t n = strlen(text);

	proto_init(&m, PS_MSG_LOG);
	m.level = level;
	m.len = n > PS_TEXT_MAX ? PS_TEXT_MAX : (uint32_t)n;
	memcpy(m.text, text, m.len);
	send_msg(l, &m);
}

/* log_*() in the logger (and its threads): to the monitor's stderr */
static void log_to_monitor(void *ctx, enum log_level level, const char *msg)
{
	send_text(ctx, level == LOG_LVL_ERROR ? PS_LOG_ERROR :
		       level == LOG_LVL_WARN  ? PS_LOG_WARN :
						PS_LOG_INFO, msg);
}

/* "Desktop notifications": false prints them on the monitor's stdout */
static void print_note(void *ctx, const char *text)
{
	send_text(ctx, PS_LOG_STDOUT, text);
}

static void fatal(struct logger *l, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fatal(struct logger *l, int status, const char *fmt, ...)
{
	struct ps_msg_fatal m;
	char text[PS_TEXT_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	proto_init(&m, PS_MSG_FATAL);
	m.status = status;
	m.len = strlen(text);
	memcpy(m.text, text, m.len);
	send_msg(l, &m);
}

/* ---- configuration ---- */

static int load_config(struct logger *l)
{
	char err[CONFIG_ERR_LEN], *text = NULL, *dump;
	size_t len;
	int r;

	r = read_below(l->dirfd, CONFIG_FILE, 1 << 20, &text, &len);
	if (r == -ENOENT) {
		r = config_default(&l->cfg);
		if (r < 0) {
			fatal(l, 1, "cannot build the default configuration: %s", strerror(-r));
			return r;
		}
	} else if (r < 0) {
		if (r == -ELOOP)
			fatal(l, EXIT_CONFIG, "cannot read %s/%s: it is a symbolic link, which is "
			      "never followed", l->path, CONFIG_FILE);
		else if (r == -EINVAL)
			fatal(l, EXIT_CONFIG, "cannot read %s/%s: it is not a regular file",
			      l->path, CONFIG_FILE);
		else
			fatal(l, EXIT_CONFIG, "cannot read %s/%s: %s", l->path, CONFIG_FILE,
			      strerror(-r));
		return r;
	} else {
		r = config_parse(text, len, &l->cfg, err, sizeof(err));
		free(text);
		if (r < 0) {
			char *safe = text_from_bytes(err, strlen(err));

			fatal(l, EXIT_CONFIG, "%s (in %s)", safe ? safe : err, l->path);
			free(safe);
			return r;
		}
	}
	l->have_cfg = true;
	if (l->cfg.changed) {
		dump = config_dump(&l->cfg);
		r = dump ? write_atomic_below(l->dirfd, CONFIG_FILE, dump, strlen(dump), 0600,
					      (uid_t)-1, (gid_t)-1) : -ENOMEM;
		free(dump);
		if (r < 0)
			log_errno(r, "cannot write the defaults to %s/%s, ignoring", l->path,
				  CONFIG_FILE);
		l->cfg.changed = false;
	}
	return 0;
}

/* ---- the state directory ---- */

/* The files the logger writes in the state directory.  One found as a
 * symbolic link, or as anything but a regular file, was put there by
 * someone else: it is renamed aside (the link itself, never what it
 * points to) and a new file takes its place. */
static void set_aside_planted(struct logger *l, char *note, size_t notelen)
{
	static const char *const written[] = { "error.log",     "exe.log",	 "conn.log",
					       "snitch.db",     "snitch.db-wal", "snitch.db-shm",
					       "pending.spill" };
	size_t used = 0;

	note[0] = '\0';
	for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
		char aside[64];
		struct stat st;
		int n;

		if (fstatat(l->dirfd, written[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISREG(st.st_mode))
			continue;
		snprintf(aside, sizeof(aside), "%s.planted-%lld", written[i], (long long)time(NULL));
		if (renameat(l->dirfd, written[i], l->dirfd, aside) == 0)
			n = snprintf(note + used, notelen - used,
				     "%s%s was a %s, not a file: moved aside to %s (never followed)",
				     used ? "; " : "", written[i],
				     S_ISLNK(st.st_mode) ? "symbolic link" : "special file", aside);
		else
			n = snprintf(note + used, notelen - used,
				     "%s%s is not a file and could not be moved aside: %s",
				     used ? "; " : "", written[i], strerror(errno));
		if (n > 0 && (size_t)n < notelen - used)
			used += (size_t)n;
	}
}

/* snitch.db that SQLite cannot read (cut short, garbage, a write-ahead
 * log of another file) is moved aside whole, with the time, and a new one
 * is started: monitoring goes on, and a restart does not meet the same
 * file again (no crash loop). */
static int set_aside_corrupt(struct logger *l, const char *why)
{
	static const char *const parts[] = { "", "-wal", "-shm" };
	char stamp[32], from[32], to[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(from, sizeof(from), "snitch.db%s", parts[i]);
		snprintf(to, sizeof(to), "snitch.db.corrupt-%s%s", stamp, parts[i]);
		if (renameat(l->dirfd, from, l->dirfd, to) < 0 && errno != ENOENT) {
			int r = -errno;

			errlog_add(l->errlog, "%s/snitch.db is corrupt (%s) and cannot be moved aside: "
				   "%s", l->path, why, strerror(-r));
			return r;
		}
	}
	errlog_add(l->errlog, "%s/snitch.db is corrupt (%s): it was moved aside to "
		   "snitch.db.corrupt-%s and a new, empty snitch.db was started; the old one "
		   "may be partly readable with sqlite3's .recover", l->path, why, stamp);
	return 0;
}

static int open_stores(struct logger *l)
{
	char err[512], path[4200];
	int r;

	if (l->cfg.db_sql_log) {
		/* SQLite opens by path (it resolves the directory itself); this
		 * process is the directory's owner, so a link in the way could
		 * only lead where that user may write anyway */
		if (access(l->path, R_OK | W_OK | X_OK) < 0) {
			r = -errno;
			fatal(l, 1, "the state directory %s cannot be reached by its path as user %u "
			      "(%s), and SQLite opens snitch.db by path: make every directory on "
			      "its way searchable for that user, or choose another PICOSNITCH_DIR",
			      l->path, (unsigned)getuid(), strerror(-r));
			return r;
		}
		snprintf(path, sizeof(path), "%s/snitch.db", l->path);
		r = store_sqlite_open(path, &l->stores[l->nstores], err, sizeof(err));
		if (r == -EBADMSG && set_aside_corrupt(l, err) == 0)
			r = store_sqlite_open(path, &l->stores[l->nstores], err, sizeof(err));
		if (r < 0) {
			fatal(l, 1, "cannot open %s/snitch.db: %s", l->path, err);
			return r;
		}
		l->nstores++;
	}
	if (l->cfg.db_text_log) {
		r = store_text_open(l->dirfd, "conn.log", (unsigned)-1, (unsigned)-1,
				    &l->stores[l->nstores]);
		if (r < 0) {
			fatal(l, 1, "cannot open %s/conn.log: %s", l->path, strerror(-r));
			return r;
		}
		l->nstores++;
	}
	return 0;
}

/* "DB sql server": the spool and its thread.  What goes wrong here is
 * said in error.log; the local log goes on regardless. */
static void open_sql_server(struct logger *l)
{
	struct sqlsend_opts o = { .dirfd = l->dirfd };
	char err[CONFIG_ERR_LEN];
	const char *retry = getenv("PICOSNITCH_SQL_RETRY_MAX");
	uint64_t n;
	int r;

	r = sqlsrv_cfg_parse(l->cfg.db_sql_server, &o.cfg, err, sizeof(err));
	if (r == -ENOENT)
		return;
	if (r < 0) {
		errlog_add(l->errlog, "SQL server not used: %s", err);
		return;
	}
	if (sqlsrv_cfg_load_password(&o.cfg, err, sizeof(err)) < 0)
		errlog_add(l->errlog, "SQL server: %s; connecting without a password", err);
	/* tests shorten the pause between attempts */
	if (retry && parse_u64(retry, &n) == 0 && n > 0 && n <= 3600)
		o.retry_max_s = (unsigned)n;
	r = sqlsend_new(&o, &l->sql, err, sizeof(err));
	if (r < 0)
		errlog_add(l->errlog, "SQL server not used: %s", err);
	else if (err[0])
		errlog_add(l->errlog, "%s", err);
}

/* ---- writing ---- */

/* CLOCK_MONOTONIC in microseconds, for the write latency (not
 * l->mono_clock_ms, which tests move by hand) */
static uint64_t real_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* How long, in words, for error.log */
static void duration_text(uint64_t ms, char *buf, size_t len)
{
	uint64_t sec = ms / 1000;

	if (sec < 120)
		snprintf(buf, len, "%" PRIu64 " s", sec);
	else if (sec < 7200)
		snprintf(buf, len, "%" PRIu64 " min", sec / 60);
	else
		snprintf(buf, len, "%" PRIu64 " h %" PRIu64 " min", sec / 3600, sec / 60 % 60);
}

static struct pending *dest_pending(struct logger *l, size_t s)
{
	struct dest_state *d = &l->dests[s];

	if (!d->pending) {
		size_t entries = l->cfg.pending_entries_max > 0 ? (size_t)l->cfg.pending_entries_max
								 : 200000;
		size_t mib = l->cfg.pending_memory_mib > 0 ? (size_t)l->cfg.pending_memory_mib : 128;

		if (pending_new(entries, mib << 20, &d->pending) < 0)
			d->pending = NULL;
	}
	return d->pending;
}

static void report_dropped(struct logger *l, size_t s)
{
	struct dest_state *d = &l->dests[s];
	struct pending_stats ps;

	pending_stats(d->pending, &ps);
	if (ps.dropped_entries <= d->dropped_reported)
		return;
	errlog_add(l->errlog,
		   "%s: more entries waited than \"Pending entries (max)\" (%" PRId64 ") or "
		   "\"Pending memory (MiB)\" (%" PRId64 ") allow: the oldest %" PRIu64 " were "
		   "dropped (%" PRIu64 " in all so far, %" PRIu64 " bytes sent and %" PRIu64
		   " bytes received)",
		   l->stores[s]->ops->name, l->cfg.pending_entries_max, l->cfg.pending_memory_mib,
		   ps.dropped_entries - d->dropped_reported, ps.dropped_entries, ps.dropped_sent,
		   ps.dropped_received);
	d->dropped_reported = ps.dropped_entries;
}

/* Keep rows for a destination that could not take them. */
static void keep(struct logger *l, size_t s, const struct conn_row *rows, size_t n)
{
	struct pending *p = n ? dest_pending(l, s) : NULL;

	if (!n)
		return;
	if (!p || pending_add(p, rows, n) < 0)
		errlog_add(l->errlog, "%s: no memory to keep entries that wait for it: %zu entries "
			   "are lost", l->stores[s]->ops->name, n);
	report_dropped(l, s);
}

/* A write failed: said once per cause (and again each hour it lasts),
 * with counts; entries wait unless the cause will not pass. */
static void write_failed(struct logger *l, size_t s, int r)
{
	struct dest_state *d = &l->dests[s];
	struct store *st = l->stores[s];
	uint64_t now = l->mono_clock_ms();
	size_t waiting = pending_count(d->pending);

	if (!d->fault)
		d->fault_since_ms = now;
	d->failed_writes++;
	if (!store_fault_may_pass(r) && ++d->tries >= 5) {
		errlog_add(l->errlog, "%s: cannot write (%s): %s; %zu entries are lost after %d "
			   "attempts", st->ops->name, store_fault_name(r), st->err, waiting, d->tries);
		pending_clear(d->pending);
		d->tries = 0;
		d->fault = 0;
		return;
	}
	if (d->fault != r) {
		errlog_add(l->errlog,
			   "%s: cannot write (%s): %s; %zu entries wait in memory and will be "
			   "retried at each window (at most %" PRId64 " entries and %" PRId64 " MiB "
			   "are kept)",
			   st->ops->name, store_fault_name(r), st->err, waiting,
			   l->cfg.pending_entries_max, l->cfg.pending_memory_mib);
		d->last_report_ms = now;
	} else if (now - d->last_report_ms >= 3600 * 1000) {
		char how_long[32];

		duration_text(now - d->fault_since_ms, how_long, sizeof(how_long));
		errlog_add(l->errlog, "%s: still cannot write (%s) after %s and %" PRIu64 " attempts: "
			   "%zu entries wait in memory", st->ops->name, store_fault_name(r), how_long,
			   d->failed_writes, waiting);
		d->last_report_ms = now;
	}
	d->fault = r;
}

static void write_recovered(struct logger *l, size_t s, size_t waited)
{
	struct dest_state *d = &l->dests[s];
	char how_long[32];

	d->tries = 0;
	if (!d->fault)
		return;
	duration_text(l->mono_clock_ms() - d->fault_since_ms, how_long, sizeof(how_long));
	errlog_add(l->errlog, "%s: written again after %s of %s (%" PRIu64 " failed attempts): "
		   "the %zu entries that waited are in it", l->stores[s]->ops->name, how_long,
		   store_fault_name(d->fault), d->failed_writes, waited);
	d->fault = 0;
	d->failed_writes = 0;
}

/* store_write, and for snitch.db its latency for /metrics */
static int timed_write(struct logger *l, struct store *st, const struct conn_row *rows, size_t n)
{
	uint64_t started = real_mono_us();
	int r = store_write(st, rows, n);

	if (r == 0 && !strcmp(st->ops->name, "snitch.db"))
		metrics_observe_write(&l->metrics, real_mono_us() - started);
	return r;
}

/* One destination: what waits for it first, merged with the new rows (in
 * one write, all or nothing), else the new rows alone. */
static void write_dest(struct logger *l, size_t s, const struct conn_row *rows, size_t n)
{
	struct dest_state *d = &l->dests[s];
	struct store *st = l->stores[s];
	const struct conn_row *all;
	size_t nall;
	int r;

	r = store_check(st);
	if (r > 0)
		errlog_add(l->errlog, "%s was deleted or replaced while running: a new one was "
			   "started in its place (what the old one held is gone with it)",
			   st->ops->name);
	if (!pending_count(d->pending)) {
		if (!n)
			return;
		r = timed_write(l, st, rows, n);
		if (r == 0) {
			write_recovered(l, s, 0);
			return;
		}
		keep(l, s, rows, n);
		write_failed(l, s, r);
		return;
	}
	keep(l, s, rows, n);
	if (pending_rows(d->pending, &all, &nall) < 0)
		return;
	r = timed_write(l, st, all, nall);
	if (r == 0) {
		write_recovered(l, s, nall);
		pending_clear(d->pending);
		return;
	}
	write_failed(l, s, r);
}

static bool anything_pending(struct logger *l)
{
	for (size_t s = 0; s < l->nstores; s++)
		if (pending_count(l->dests[s].pending))
			return true;
	return false;
}

/* ---- an unclean end, noticed at the next start ---- */

#define RUNNING_MARK "running"

/* The mark holds when this run began and when everything it had counted
 * was last written ("START LAST", unix seconds), rewritten in place after
 * each window; it is removed at a clean stop.  Found at start, it means
 * the previous run ended without that (killed, a crash, a power cut): from
 * LAST to now nothing was recorded. */
static void mark_running(struct logger *l, int64_t started, int64_t written)
{
	char buf[48];
	int n = snprintf(buf, sizeof(buf), "%020lld %020lld\n", (long long)started,
			 (long long)written);
	int fd;

	if (l->dirfd < 0)
		return;
	fd = open_below(l->dirfd, RUNNING_MARK, O_WRONLY | O_CREAT, 0600, (uid_t)-1, (gid_t)-1);
	/* in place: rewriting the same bytes needs no new space on a full disk */
	if (fd < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		if (!l->mark_failed)
			log_warn("cannot write %s/%s: an unclean end will not be noticed", l->path,
				 RUNNING_MARK);
		l->mark_failed = true;
	} else {
		l->mark_failed = false;
	}
	if (fd >= 0)
		close(fd);
}

static void time_text(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "an unknown time");
}

static void check_previous_run(struct logger *l)
{
	char *text = NULL, from[32], to[32], began[32];
	long long started = 0, written = 0;
	size_t len;
	int r = read_below(l->dirfd, RUNNING_MARK, 64, &text, &len);

	if (r == 0) {
		int n = sscanf(text, "%lld %lld", &started, &written);

		if (n < 2 || written <= 0)
			written = started;	/* no window was written (or a mark of 0.1) */
		time_text(started, began, sizeof(began));
		time_text(written, from, sizeof(from));
		time_text(l->wall_clock(), to, sizeof(to));
		snprintf(l->gap, sizeof(l->gap),
			 "picosnitch was not running (or not recording) from %s to %s", from, to);
		errlog_add(l->errlog,
			   "%s: the previous run (started %s) ended without writing its last window "
			   "(killed, a crash, or a power cut), and what it counted after %s is missing "
			   "from the log", l->gap, began, from);
	}
	free(text);
	if (r == 0 || r == -EINVAL || r == -ELOOP)
		unlinkat(l->dirfd, RUNNING_MARK, 0);
}

/* ---- the state directory removed or replaced while running ---- */

/* rm -rf of the directory (by hand, or a cleaner of ~/.config) leaves this
 * process writing into a deleted directory for as long as it runs.  Made
 * again at its path, and the same descriptor number made to lead there,
 * so every part holding it writes to the new one; the files in it are
 * opened again as each is next written. */
static void check_state_dir(struct logger *l)
{
	struct stat mine, named;
	int fd;

	if (l->dirfd < 0 || !l->path || l->path[0] != '/')
		return;
	if (fstat(l->dirfd, &mine) == 0 && mine.st_nlink > 0 && stat(l->path, &named) == 0 &&
	    mine.st_dev == named.st_dev && mine.st_ino == named.st_ino)
		return;
	if (mkdir(l->path, 0700) < 0 && errno != EEXIST) {
		if (!l->dir_lost_reported)
			errlog_add(l->errlog, "the state directory %s was removed while running and "
				   "cannot be made again: %s; entries wait in memory", l->path,
				   strerror(errno));
		l->dir_lost_reported = true;
		return;
	}
	fd = open(l->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || dup3(fd, l->dirfd, O_CLOEXEC) < 0) {
		if (!l->dir_lost_reported)
			errlog_add(l->errlog, "the state directory %s was removed while running and "
				   "cannot be opened again: %s; entries wait in memory", l->path,
				   strerror(errno));
		l->dir_lost_reported = true;
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	l->dir_lost_reported = false;
	errlog_add(l->errlog, "the state directory %s was removed or replaced while running: it "
		   "was made again, and its files are started again in it (what the old one held "
		   "is gone with it)", l->path);
	mark_running(l, l->started, l->written_until);
	if (l->alerts) {
		alerts_dir_made_again(l->alerts);
		alerts_save(l->alerts);
	}
}

/* live.sock gone with its directory, or removed alone: listening again
 * there, so a dash started now still finds the feed. */
static void check_live(struct logger *l)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r = live_check(l->live, l->dirfd);

	if (r == 1) {
		ev.data.fd = live_fd(l->live);
		if (l->ep >= 0)
			epoll_ctl(l->ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
		errlog_add(l->errlog, "%s was removed or replaced while running: listening on a "
			   "new one", LIVE_SOCKET);
		l->live_lost_reported = false;
	} else if (r < 0 && !l->live_lost_reported) {
		errlog_add(l->errlog, "%s was removed or replaced while running and cannot be made "
			   "again: %s; no new reader can connect", LIVE_SOCKET, strerror(-r));
		l->live_lost_reported = true;
	}
}

/* ---- entries kept over a stop ---- */

/* pending.spill's fallback when the state directory cannot hold it (the
 * disk full, read-only, an I/O error): the user's runtime directory,
 * /run/user/UID, a tmpfs of the user's own (logind makes it, 0700) that
 * shares no disk with the state directory.  It lasts until logout or
 * reboot, long enough for the restart after a fix.  Only a directory this
 * user owns that no one else may enter is used (the system user
 * `picosnitch` has none: no fallback), and the file is named after the
 * state directory's path, so another state directory never takes it. */
#define RUNTIME_DIR_FMT "/run/user/%u"

static int runtime_dir_open(char *path, size_t size)
{
	struct stat st;
	int fd;

	snprintf(path, size, RUNTIME_DIR_FMT, (unsigned)getuid());
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != getuid() || (st.st_mode & 077)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static void runtime_spill_name(const struct logger *l, char *name, size_t size)
{
	uint64_t h = 14695981039346656037ull;	/* FNV-1a of the state directory's path */

	for (const char *p = l->path ? l->path : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ull;
	}
	snprintf(name, size, "picosnitch-%016" PRIx64 ".spill", h);
}

/* Everything waiting is written: no spill file holds any of it. */
static void spills_done(struct logger *l)
{
	if (l->spill_on_disk && l->dirfd >= 0)
		unlinkat(l->dirfd, SPILL_FILE, 0);
	l->spill_on_disk = false;
	if (l->spill_in_runtime) {
		char dir[64], name[64];
		int fd = runtime_dir_open(dir, sizeof(dir));

		runtime_spill_name(l, name, sizeof(name));
		if (fd >= 0) {
			unlinkat(fd, name, 0);
			close(fd);
		}
		l->spill_in_runtime = false;
	}
}

/* The spill's text in the runtime directory: 0, or negative errno. */
static int spill_to_runtime(struct logger *l, const char *text, size_t len, char *where,
			    size_t size)
{
	char dir[64], name[64];
	int fd = runtime_dir_open(dir, sizeof(dir)), r;

	runtime_spill_name(l, name, sizeof(name));
	snprintf(where, size, "%s/%s", dir, name);
	if (fd < 0)
		return fd;
	r = write_atomic_below(fd, name, text, len, 0600, (uid_t)-1, (gid_t)-1);
	close(fd);
	return r;
}

/* What no destination took before the stop goes to pending.spill, to be
 * written at the next start; when the state directory cannot hold it, to
 * the runtime directory (above); if even that fails, its totals go to
 * error.log and stderr (the journal), so the loss is never silent. */
static void spill_pending(struct logger *l)
{
	struct spill_part parts[MAX_STORES];
	size_t nparts = 0, len = 0, total = 0;
	char *text;
	int r;

	for (size_t s = 0; s < l->nstores; s++) {
		struct pending *p = l->dests[s].pending;

		if (!pending_count(p) ||
		    pending_rows(p, &parts[nparts].rows, &parts[nparts].n) < 0)
			continue;
		parts[nparts].dest = l->stores[s]->ops->name;
		total += parts[nparts].n;
		nparts++;
	}
	if (l->dirfd < 0)
		return;
	if (!nparts) {
		spills_done(l);
		return;
	}
	text = spill_format(parts, nparts, l->wall_clock(), &len);
	r = text ? write_atomic_below(l->dirfd, SPILL_FILE, text, len, 0600, (uid_t)-1, (gid_t)-1)
		 : -ENOMEM;
	if (r == 0) {
		free(text);
		/* it holds every entry still waiting, a replayed fallback's too */
		l->spill_on_disk = false;
		spills_done(l);
		l->spill_on_disk = true;
		errlog_add(l->errlog, "stopping with %zu entries not written (%s): they are kept in "
			   "%s/%s and will be written at the next start", total,
			   store_fault_name(l->dests[0].fault ? l->dests[0].fault :
					    l->dests[nparts > 1 ? 1 : 0].fault),
			   l->path, SPILL_FILE);
		return;
	}
	if (text) {
		char where[160];
		int rr = spill_to_runtime(l, text, len, where, sizeof(where));

		free(text);
		if (rr == 0) {
			/* an older pending.spill's entries are in it too */
			if (l->spill_on_disk)
				unlinkat(l->dirfd, SPILL_FILE, 0);
			l->spill_on_disk = false;
			l->spill_in_runtime = true;
			errlog_add(l->errlog, "stopping with %zu entries not written (%s), and %s/%s "
				   "cannot hold them (%s): they are kept in %s (until logout or "
				   "reboot) and will be written at the next start", total,
				   store_fault_name(l->dests[0].fault ? l->dests[0].fault :
						    l->dests[nparts > 1 ? 1 : 0].fault),
				   l->path, SPILL_FILE, store_fault_name(r), where);
			return;
		}
		errlog_add(l->errlog, "nor can the runtime directory keep them (%s: %s)", where,
			   strerror(-rr));
	}
	for (size_t s = 0; s < l->nstores; s++) {
		struct pending_stats ps;
		char from[32], to[32];

		pending_stats(l->dests[s].pending, &ps);
		if (!ps.entries)
			continue;
		time_text(ps.first, from, sizeof(from));
		time_text(ps.last, to, sizeof(to));
		errlog_add(l->errlog,
			   "%s: %zu entries could not be written (%s) nor kept in %s/%s (%s): they "
			   "are lost: %" PRIu64 " bytes sent and %" PRIu64 " bytes received, from %s "
			   "to %s", l->stores[s]->ops->name, ps.entries,
			   store_fault_name(l->dests[s].fault), l->path, SPILL_FILE,
			   store_fault_name(r), ps.sent, ps.received, from, to);
	}
}

struct replay {
	struct logger *l;
	size_t taken[MAX_STORES];
	size_t unknown;
};

static int replay_one(void *ctx, const char *dest, const struct conn_row *row)
{
	struct replay *rp = ctx;
	struct logger *l = rp->l;

	for (size_t s = 0; s < l->nstores; s++) {
		struct pending *p;

		if (strcmp(l->stores[s]->ops->name, dest) != 0)
			continue;
		p = dest_pending(l, s);
		if (p && pending_add(p, row, 1) == 0)
			rp->taken[s]++;
		return 0;
	}
	rp->unknown++;
	return 0;
}

/* A spill file of the last stop (dfd/name, shown as where): its entries
 * wait for their destinations as if they had never stopped.  Whether it
 * held any. */
static bool replay_file(struct logger *l, int dfd, const char *name, const char *where)
{
	struct replay rp = { .l = l };
	char *text = NULL, counts[256] = "";
	size_t len, used = 0, total = 0;
	int r = read_below(dfd, name, SPILL_MAX, &text, &len);

	if (r == -ENOENT)
		return false;
	if (r < 0) {
		errlog_add(l->errlog, "cannot read %s (entries kept at the last stop): %s", where,
			   strerror(-r));
		return false;
	}
	r = spill_parse(text, len, replay_one, &rp);
	free(text);
	if (r < 0) {
		char aside[96];

		snprintf(aside, sizeof(aside), "%s.unreadable-%lld", name, (long long)time(NULL));
		renameat(dfd, name, dfd, aside);
		errlog_add(l->errlog, "%s is not a file of entries this version wrote: moved "
			   "aside to %s", where, aside);
		return false;
	}
	for (size_t s = 0; s < l->nstores; s++) {
		int n = snprintf(counts + used, sizeof(counts) - used, "%s%s: %zu",
				 used ? ", " : "", l->stores[s]->ops->name, rp.taken[s]);

		if (n > 0 && (size_t)n < sizeof(counts) - used)
			used += (size_t)n;
		total += rp.taken[s];
	}
	errlog_add(l->errlog, "%zu entries kept in %s at the last stop are written now (%s)",
		   total, where, counts);
	if (r > 0 || rp.unknown)
		errlog_add(l->errlog, "%s: %d lines were not entries and were skipped, and %zu "
			   "entries were for destinations no longer written", where, r,
			   rp.unknown);
	return true;
}

/* pending.spill of the last stop, and its fallback in the runtime
 * directory: their entries are written now (or wait, and are spilled
 * again at the next stop). */
static void replay_spill(struct logger *l)
{
	char dir[64], name[64], where[160];
	int rfd;

	snprintf(where, sizeof(where), "%s/%s", l->path, SPILL_FILE);
	l->spill_on_disk = replay_file(l, l->dirfd, SPILL_FILE, where);
	rfd = runtime_dir_open(dir, sizeof(dir));
	if (rfd >= 0) {
		runtime_spill_name(l, name, sizeof(name));
		snprintf(where, sizeof(where), "%s/%s", dir, name);
		l->spill_in_runtime = replay_file(l, rfd, name, where);
		close(rfd);
	}
	if (!l->spill_on_disk && !l->spill_in_runtime)
		return;
	for (size_t s = 0; s < l->nstores; s++)
		write_dest(l, s, NULL, 0);
	if (!anything_pending(l))
		spills_done(l);
}

static void flush_window(struct logger *l, bool final)
{
	struct window_taken rows;
	int64_t now = l->wall_clock();
	int r;

	r = window_take(l->window, now, final, &rows);
	l->window_start_ms = l->mono_clock_ms();
	if (r < 0) {
		errlog_add(l->errlog, "cannot collect the connection log: %s", strerror(-r));
		return;
	}
	/* the server gets every window, empty ones too: its heartbeat */
	if (l->sql && sqlsend_batch(l->sql, rows.rows, rows.n, now,
				    (uint32_t)l->cfg.db_write_limit) < 0)
		errlog_add(l->errlog, "SQL server: %zu entries could not be put in the spool",
			   rows.n);
	check_state_dir(l);
	check_live(l);
	for (size_t s = 0; s < l->nstores; s++)
		write_dest(l, s, rows.rows, rows.n);
	window_taken_free(l->window, &rows);
	if (!anything_pending(l)) {
		/* everything counted so far is written */
		l->written_until = l->wall_clock();
		spills_done(l);
	}
	if (l->started)
		mark_running(l, l->started, l->written_until);
	if (l->alerts)
		alerts_save(l->alerts);
	errlog_flush(l->errlog);
}

static uint64_t prune_interval(void)
{
	const char *v = getenv("PICOSNITCH_PRUNE_INTERVAL");
	uint64_t n;

	if (v && parse_u64(v, &n) == 0 && n > 0)
		return n;
	return PRUNE_INTERVAL;
}

/* "DB retention (days)": entries older than that go, at start and then
 * every PRUNE_INTERVAL (PICOSNITCH_PRUNE_INTERVAL=seconds for tests). */
static void prune(struct logger *l)
{
	int64_t before = l->wall_clock() - l->cfg.db_retention_days * 86400;

	l->last_prune = l->mono_clock_ms() / 1000;
	if (l->cfg.db_retention_days <= 0)
		return;	/* 0: keep everything */
	for (size_t i = 0; i < l->nstores; i++) {
		if (store_prune(l->stores[i], before) < 0)
			errlog_add(l->errlog, "%s: cannot remove entries older than %" PRId64
				   " days: %s", l->stores[i]->ops->name, l->cfg.db_retention_days,
				   l->stores[i]->err);
	}
}

/* The stores' rollups (snitch.db's sums per day and month), brought up to
 * the days that have ended by the wall clock: a few steps per tick, so a
 * long history (after an upgrade, or days switched off) is caught up on in
 * the background while the log goes on.  Rows stamped with a time the
 * rollups already cover (the wall clock set back) end their coverage there
 * (a trigger in snitch.db), and the steps here build it again. */
static void rollup(struct logger *l)
{
	uint64_t started = mono_ms();
	int64_t now = l->wall_clock();

	if (l->rollup_retry_at && l->mono_clock_ms() / 1000 < l->rollup_retry_at)
		return;
	l->rollup_retry_at = 0;
	uint64_t budget = l->rollup_budget_ms ? l->rollup_budget_ms : ROLLUP_MS_PER_TICK;

	for (size_t i = 0; i < l->nstores; i++) {
		int r = 1;

		for (int n = 0; r > 0 && n < ROLLUP_STEPS_PER_TICK && mono_ms() - started < budget;
		     n++)
			r = store_rollup(l->stores[i], now);
		if (r < 0) {
			errlog_add(l->errlog, "%s: cannot update the daily sums (queries read the "
				   "entries instead, which is slower): %s; retrying in %d minutes",
				   l->stores[i]->ops->name, l->stores[i]->err,
				   ROLLUP_RETRY_SECONDS / 60);
			l->rollup_retry_at = l->mono_clock_ms() / 1000 + ROLLUP_RETRY_SECONDS;
		}
	}
}

/* ---- what went wrong, from the monitor's counters ---- */

/* Server names that could not be read, since the last report. */
static void report_server_names(struct logger *l)
{
	struct servername_stats st, *was = &l->sn_seen;

	servername_get_stats(l->servername, &st);
	if (st.malformed > was->malformed)
		errlog_add(l->errlog,
			   "%" PRIu64 " TLS ClientHellos or QUIC Initials broke their own lengths "
			   "or named no host name: no domain was learned from them",
			   st.malformed - was->malformed);
	if (st.unopened > was->unopened)
		errlog_add(l->errlog,
			   "%" PRIu64 " QUIC Initial packets did not open with the keys of their "
			   "connection id (forged, or a server's): no domain was learned from them",
			   st.unopened - was->unopened);
	if (st.incomplete > was->incomplete)
		errlog_add(l->errlog,
			   "%" PRIu64 " TLS or QUIC handshakes were not seen whole in their first "
			   "%d bytes (longer, lost, or %d were being read at once): no domain was "
			   "learned from them",
			   st.incomplete - was->incomplete, SERVERNAME_STREAM_MAX, SERVERNAME_CAPACITY);
	*was = st;
}

static void report_stats(struct logger *l, const struct ps_msg_stats *m)
{
	uint64_t d[PS_STAT_MAX], md[PS_MSTAT_MAX];
	struct dnsmatch_stats ds;
	struct tcpdns_stats ts;
	struct idents_stats is;
	uint64_t n;

	memcpy(l->metrics.sensor, m->sensor, sizeof(l->metrics.sensor));
	memcpy(l->metrics.monitor, m->monitor, sizeof(l->metrics.monitor));
	l->metrics.flow_capacity = m->flow_capacity;
	l->metrics.flows_tracked = m->flows_tracked;
	l->metrics.ringbuf_bytes = m->ringbuf_bytes;
	l->metrics.ringbuf_records = m->ringbuf_records;
	l->metrics.hashes = m->hashes;

	for (int i = 0; i < PS_STAT_MAX; i++) {
		d[i] = m->sensor[i] >= l->sensor_seen[i] ? m->sensor[i] - l->sensor_seen[i] : 0;
		l->sensor_seen[i] = m->sensor[i];
	}
	for (int i = 0; i < PS_MSTAT_MAX; i++) {
		md[i] = m->monitor[i] >= l->monitor_seen[i] ? m->monitor[i] - l->monitor_seen[i] : 0;
		if (i != PS_MSTAT_UNOWNED_BYTES)	/* told with the next sockets */
			l->monitor_seen[i] = m->monitor[i];
	}
	if (d[PS_STAT_FLOW_MAP_FULL])
		errlog_add(l->errlog,
			   "flow table full (%" PRIu64 " flows): %" PRIu64 " new flows could not be "
			   "recorded; their %" PRIu64 " bytes sent and %" PRIu64
			   " bytes received are missing",
			   (uint64_t)m->flow_capacity, d[PS_STAT_FLOW_MAP_FULL],
			   d[PS_STAT_BYTES_LOST_SENT], d[PS_STAT_BYTES_LOST_RECV]);
	if (d[PS_STAT_RINGBUF_FULL])
		errlog_add(l->errlog,
			   "event ring buffer full: %" PRIu64 " events lost (their traffic is "
			   "still counted, but a process that exits at once may go unnamed); "
			   "raise \"Perf ring buffer (pages)\"",
			   d[PS_STAT_RINGBUF_FULL]);
	if (d[PS_STAT_FIRST_SKIPPED])
		errlog_add(l->errlog,
			   "the first bytes of %" PRIu64 " connections were not read for their TLS "
			   "or QUIC server name: the event ring buffer was half full (kept for "
			   "naming processes); raise \"Perf ring buffer (pages)\"",
			   d[PS_STAT_FIRST_SKIPPED]);
	if (d[PS_STAT_SOCK_STATE_FAIL])
		errlog_add(l->errlog,
			   "no memory for the state of %" PRIu64 " sockets: their traffic was not "
			   "counted",
			   d[PS_STAT_SOCK_STATE_FAIL]);
	if (d[PS_STAT_SOCK_FREEING])
		errlog_add(l->errlog,
			   "%" PRIu64 " packets were not counted: their sockets were already "
			   "closed and being freed when picosnitch first met them (sockets older "
			   "than picosnitch, or the kernel's own)",
			   d[PS_STAT_SOCK_FREEING]);
	if (d[PS_STAT_PACKET_TAKEN])
		errlog_add(l->errlog,
			   "%" PRIu64 " frames received on AF_PACKET sockets were not counted: "
			   "their reader took them before picosnitch could see them (a reader "
			   "that reads without waiting)",
			   d[PS_STAT_PACKET_TAKEN]);
	if (d[PS_STAT_PARSE_FAIL])
		errlog_add(l->errlog,
			   "%" PRIu64 " packets had headers that could not be read and were not "
			   "counted",
			   d[PS_STAT_PARSE_FAIL]);
	if (d[PS_STAT_HOOK_BUSY])
		errlog_add(l->errlog,
			   "%" PRIu64 " kernel events were not handed to picosnitch because its "
			   "hook was already running on that CPU: the traffic they carried may be "
			   "missing",
			   d[PS_STAT_HOOK_BUSY]);
	if (d[PS_STAT_TCP_START_MISSED])
		errlog_add(l->errlog,
			   "%" PRIu64 " TCP connections were first seen after they had started "
			   "moving data (a state change was missed); they are counted whole, from "
			   "the kernel's totals",
			   d[PS_STAT_TCP_START_MISSED]);
	if (d[PS_STAT_TCP_STATE_MISSED])
		errlog_add(l->errlog,
			   "up to %" PRIu64 " TCP state changes were missed by both copies of the "
			   "hook (busy on that CPU): a connection's start or close may have gone "
			   "unseen (its bytes are still counted at the next drain)",
			   d[PS_STAT_TCP_STATE_MISSED]);
	if (d[PS_STAT_TCP_COUNT_CONTENDED])
		errlog_add(l->errlog,
			   "%" PRIu64 " readings of TCP byte totals gave up after losing 8 races "
			   "in a row: their bytes are counted by the connection's next reading, or "
			   "are missing if it was the last",
			   d[PS_STAT_TCP_COUNT_CONTENDED]);
	if (d[PS_STAT_FLOW_BUSY])
		errlog_add(l->errlog,
			   "%" PRIu64 " flow updates found the flow table locked by the update "
			   "they interrupted on the same CPU; their %" PRIu64 " bytes sent and %"
			   PRIu64 " bytes received are missing",
			   d[PS_STAT_FLOW_BUSY], d[PS_STAT_BUSY_LOST_SENT], d[PS_STAT_BUSY_LOST_RECV]);
	if (d[PS_STAT_CLOSED_FULL])
		errlog_add(l->errlog,
			   "the table of closed sockets was full %" PRIu64 " times: those sockets' "
			   "flows stay in the flow table until picosnitch restarts (still counted)",
			   d[PS_STAT_CLOSED_FULL]);
	if (d[PS_STAT_LISTENERS_FULL])
		errlog_add(l->errlog,
			   "the table of listening and bound ports was full %" PRIu64 " times: "
			   "connections they accept may be logged without a process",
			   d[PS_STAT_LISTENERS_FULL]);
	if (d[PS_STAT_EXEC_CACHE_FAIL])
		errlog_add(l->errlog,
			   "%" PRIu64 " program starts could not be remembered in the exec cache",
			   d[PS_STAT_EXEC_CACHE_FAIL]);
	if (md[PS_MSTAT_UNIDENTIFIED])
		errlog_add(l->errlog,
			   "%" PRIu64 " processes exited before they could be identified: their "
			   "traffic is logged with the name the kernel reported and no executable path",
			   md[PS_MSTAT_UNIDENTIFIED]);
	if (md[PS_MSTAT_EXE_MISMATCH]) {
		struct lident *ex = idents_get(l->idents, m->mismatch_example);

		errlog_add(l->errlog,
			   "%" PRIu64 " processes had started another program (exec) before they "
			   "could be identified (first seen: %s, pid %" PRIu32 "): their traffic is "
			   "logged with the name the kernel reported and no executable path or "
			   "command line",
			   md[PS_MSTAT_EXE_MISMATCH], ex ? ex->name : "?", ex ? ex->pid : 0);
	}
	if (md[PS_MSTAT_UNHASHED]) {
		struct lident *ex = idents_get(l->idents, m->unhashed_example);

		errlog_add(l->errlog,
			   "%" PRIu64 " processes exited before their executable could be opened "
			   "(first seen: %s%s%s): logged with sha256 \"" SHA_EXITED "\"",
			   md[PS_MSTAT_UNHASHED], ex ? ex->name : "", ex && ex->exe[0] ? " " : "",
			   ex ? ex->exe : "");
		idents_put(l->idents, ex);
	}
	if (md[PS_MSTAT_REPLACED])
		errlog_add(l->errlog,
			   "%" PRIu64 " processes were gone and their executable's path held "
			   "another file when picosnitch looked: logged with sha256 \"" SHA_REPLACED
			   "\" rather than the new file's hash",
			   md[PS_MSTAT_REPLACED]);
	if (md[PS_MSTAT_UNREADABLE])
		errlog_add(l->errlog,
			   "%" PRIu64 " executables could be read neither as root nor as the desktop "
			   "user: logged with sha256 \"" SHA_UNREADABLE "\"",
			   md[PS_MSTAT_UNREADABLE]);
	/* the bytes: all logged without a process since the last such line,
	 * also those of sockets given up before it */
	if (md[PS_MSTAT_UNOWNED]) {
		l->monitor_seen[PS_MSTAT_UNOWNED_BYTES] = m->monitor[PS_MSTAT_UNOWNED_BYTES];
		errlog_add(l->errlog,
			   "%" PRIu64 " sockets carried traffic but no process holding them could "
			   "be found: logged without a process (%" PRIu64 " bytes so logged since "
			   "the last such line)",
			   md[PS_MSTAT_UNOWNED], md[PS_MSTAT_UNOWNED_BYTES]);
	}
	if (md[PS_MSTAT_LISTENER_FALLBACK])
		errlog_add(l->errlog,
			   "%" PRIu64 " accepted sockets were closed before their process could be "
			   "found: logged under the process listening on their port",
			   md[PS_MSTAT_LISTENER_FALLBACK]);
	if (md[PS_MSTAT_QUEUE_DROPPED])
		errlog_add(l->errlog,
			   "%" PRIu64 " messages from the monitor were dropped because this logger "
			   "was not keeping up: what they carried is missing",
			   md[PS_MSTAT_QUEUE_DROPPED]);
	if (md[PS_MSTAT_BAD_MESSAGES])
		errlog_add(l->errlog,
			   "the monitor refused %" PRIu64 " malformed messages from this logger",
			   md[PS_MSTAT_BAD_MESSAGES]);
	/* the logger's own */
	if (l->alerts) {
		n = alerts_dropped(l->alerts);
		if (n > l->notes_dropped)
			errlog_add(l->errlog,
				   "%" PRIu64 " desktop notifications were dropped: the notification "
				   "server was not keeping up or could not be reached",
				   n - l->notes_dropped);
		l->notes_dropped = n;
		n = alerts_record_refused(l->alerts);
		if (n > l->record_refused)
			errlog_add(l->errlog,
				   "%" PRIu64 " entries were not added to record.json: it has reached "
				   "its bounds (50000 executables or names per section, 100 names, "
				   "executables or hashes per entry)",
				   n - l->record_refused);
		l->record_refused = n;
		n = alerts_package_refused(l->alerts);
		if (n > l->package_refused)
			errlog_add(l->errlog,
				   "%" PRIu64 " new hashes were not checked against their package: "
				   "more than 4096 came at once",
				   n - l->package_refused);
		l->package_refused = n;
	}
	dnsmatch_get_stats(l->dnsmatch, &ds);
	if (ds.unmatched > l->dns_seen.unmatched)
		errlog_add(l->errlog,
			   "%" PRIu64 " DNS answers matched no query this machine sent (the same "
			   "transaction id, question, addresses and ports, in the last %d s): "
			   "forged or unsolicited, no domain was learned from them",
			   ds.unmatched - l->dns_seen.unmatched, DNSMATCH_MAX_AGE_MS / 1000);
	if (ds.evicted > l->dns_seen.evicted)
		errlog_add(l->errlog,
			   "%" PRIu64 " DNS queries were forgotten before their answer came, "
			   "%d were waiting: their answers were not used",
			   ds.evicted - l->dns_seen.evicted, DNSMATCH_CAPACITY);
	l->dns_seen = ds;
	tcpdns_get_stats(l->tcpdns, &ts);
	if (ts.evicted > l->tcp_dns_seen.evicted)
		errlog_add(l->errlog,
			   "%" PRIu64 " DNS-over-TCP connections were forgotten unfinished, %d "
			   "were followed: names in their answers were not learned",
			   ts.evicted - l->tcp_dns_seen.evicted, TCPDNS_CAPACITY);
	if (ts.lost > l->tcp_dns_seen.lost)
		errlog_add(l->errlog,
			   "%" PRIu64 " DNS-over-TCP streams could not be followed (a gap, or a "
			   "message longer than a segment's copied bytes hid the next one): the "
			   "rest of them was not read",
			   ts.lost - l->tcp_dns_seen.lost);
	l->tcp_dns_seen = ts;
	report_server_names(l);
	if (l->dns_unreadable > l->dns_reported) {
		errlog_add(l->errlog,
			   "%" PRIu64 " DNS answers could not be read (malformed, or names with "
			   "characters no host name has): no domain was learned from them",
			   l->dns_unreadable - l->dns_reported);
		l->dns_reported = l->dns_unreadable;
	}
	idents_stats(l->idents, &is);
	if (is.refused > l->idents_refused)
		errlog_add(l->errlog,
			   "%" PRIu64 " process identities could not be kept (the table holds %d): "
			   "their traffic is logged without a process",
			   is.refused - l->idents_refused, IDENTS_MAX);
	l->idents_refused = is.refused;
	if (l->bad_messages > l->bad_reported) {
		errlog_add(l->errlog, "%" PRIu64 " malformed messages from the monitor were skipped",
			   l->bad_messages - l->bad_reported);
		l->bad_reported = l->bad_messages;
	}
	if (l->early_flushes > l->early_reported) {
		errlog_add(l->errlog,
			   "the connection log was written %" PRIu64 " times before its window "
			   "ended: a window holds at most %d entries",
			   l->early_flushes - l->early_reported, WINDOW_ROWS_MAX);
		l->early_reported = l->early_flushes;
	}
	if (l->live) {
		struct live_stats ls;

		live_stats(l->live, &ls);
		if (ls.refused > l->live_seen.refused)
			errlog_add(l->errlog,
				   "live feed: %" PRIu64 " readers of " LIVE_SOCKET " were turned "
				   "away (another user, or more than %d at once)",
				   ls.refused - l->live_seen.refused, LIVE_CLIENTS_MAX);
		if (ls.missed > l->live_seen.missed)
			errlog_add(l->errlog,
				   "live feed: readers too slow to keep up missed %" PRIu64
				   " seconds of it", ls.missed - l->live_seen.missed);
		if (ls.overflow > l->live_seen.overflow)
			errlog_add(l->errlog,
				   "live feed: %" PRIu64 " times more than %d executables talked in "
				   "one second; the rest were summed as others",
				   ls.overflow - l->live_seen.overflow, LIVE_EXES_MAX);
		l->live_seen = ls;
	}
}

/* ---- messages from the monitor ---- */

static void on_deltas(struct logger *l, const struct ps_msg_deltas *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		int r = window_add(l->window, &m->d[i]);

		if (r == -ENOSPC) {
			/* a full window is written now, not dropped */
			l->early_flushes++;
			flush_window(l, false);
			r = window_add(l->window, &m->d[i]);
		}
		if (r < 0)
			l->lost_deltas++;
		if (live_wanted(l->live) && (m->d[i].sent || m->d[i].recv)) {
			const char *exe = window_live_exe(l->window, &m->d[i]);

			if (exe)
				live_add(l->live, exe, m->d[i].sent, m->d[i].recv);
			strpool_put(l->pool, exe);
		}
	}
}

/* A DNS query is remembered; an answer teaches names only if it answers
 * one (dnsmatch.h). */
static void dns_message(struct logger *l, const struct dns_ends *e, bool answer,
			const uint8_t *msg, size_t len, enum domain_source src)
{
	if (!answer) {
		dnsmatch_query(l->dnsmatch, e, msg, len, l->mono_clock_ms());
		return;
	}
	if (dnsmatch_answer(l->dnsmatch, e, msg, len, l->mono_clock_ms()) < 0)
		return;
	if (domains_learn(l->domains, msg, len, src) == -EBADMSG)
		l->dns_unreadable++;
}

static void on_tcp_dns_message(void *ctx, const struct dns_ends *e, bool from_server,
			       const uint8_t *msg, size_t len)
{
	dns_message(ctx, e, from_server, msg, len, DOMAIN_SOURCE_DNS_TCP);
}

static void on_dns(struct logger *l, const struct ps_msg_dns *m)
{
	struct dns_ends e = {
		.netns = m->netns,
		.family = m->family,
		.lport = m->lport,
		.rport = m->rport,
	};

	memcpy(e.laddr, m->laddr, sizeof(e.laddr));
	memcpy(e.raddr, m->raddr, sizeof(e.raddr));
	if (m->proto == IPPROTO_TCP) {
		struct tcpdns_segment seg = {
			.ends = e,
			.from_server = m->dir == PS_DNS_ANSWER,
			.syn = m->tcp_flags & PS_DNS_SYN,
			.fin = m->tcp_flags & PS_DNS_FIN,
			.seq = m->seq,
			.seg_len = m->seg_len,
			.data = m->data,
			.len = m->len,
		};

		tcpdns_segment(l->tcpdns, &seg, l->mono_clock_ms(), on_tcp_dns_message, l);
		return;
	}
	dns_message(l, &e, m->dir == PS_DNS_ANSWER, m->data, m->len, DOMAIN_SOURCE_DNS);
}

/* A server name found in a connection's first bytes: the address's name
 * unless DNS named it (domains_learn_name). */
static void on_server_name(void *ctx, const struct dns_ends *e, const char *name,
			   enum domain_source src)
{
	struct logger *l = ctx;

	domains_learn_name(l->domains, e->family, e->raddr, name, src);
}

static void on_first(struct logger *l, const struct ps_msg_first *m)
{
	struct servername_packet p = {
		.ends = {
			.netns = m->netns,
			.family = m->family,
			.lport = m->lport,
			.rport = m->rport,
		},
		.proto = m->proto,
		.first = m->first,
		.seq = m->seq,
		.seg_len = m->seg_len,
		.data = m->data,
		.len = m->len,
	};

	memcpy(p.ends.laddr, m->laddr, sizeof(p.ends.laddr));
	memcpy(p.ends.raddr, m->raddr, sizeof(p.ends.raddr));
	servername_packet(l->servername, &p, l->mono_clock_ms(), on_server_name, l);
}

static void on_seen(struct logger *l, const struct ps_msg_seen *m)
{
	struct lident *p = idents_get(l->idents, m->proc);
	struct lident *pp = idents_get(l->idents, m->parent);
	struct lident *gp = idents_get(l->idents, m->gparent);

	if (l->alerts && p && pp && gp)
		alerts_who(l->alerts, p, pp, gp, m->exec != 0);
	idents_put(l->idents, p);
	idents_put(l->idents, pp);
	idents_put(l->idents, gp);
}

static void on_hash_req(struct logger *l, const struct ps_msg_hash_req *m)
{
	char path[PS_PATH_MAX + 1];

	memcpy(path, m->path, m->path_len);
	path[m->path_len] = '\0';
	if (l->userhash)
		userhash_request(l->userhash, m->file_ino, m->file_dev, m->pid, path);
}

/* The package check needs a file's MD5: the monitor computes it for what
 * it hashed (it holds the file open), this process for what it hashed as
 * the user. */
static void request_md5(void *ctx, uint64_t ino, uint32_t dev, const char *sha, const char *path,
			bool by_user)
{
	struct logger *l = ctx;
	struct ps_msg_md5_req r;

	if (by_user) {
		if (l->userhash)
			userhash_request_md5(l->userhash, ino, dev, path, sha);
		else
			alerts_md5(l->alerts, ino, dev, sha, "");
		return;
	}
	proto_init(&r, PS_MSG_MD5_REQ);
	r.file_ino = ino;
	r.file_dev = dev;
	snprintf(r.sha256, sizeof(r.sha256), "%s", sha);
	send_msg(l, &r);
}

static void on_note(struct logger *l, const struct ps_msg_note *m)
{
	char *safe = text_from_bytes(m->text, m->len);

	if (safe)
		errlog_add(l->errlog, "%s", safe);
	free(safe);
}

/* metrics.json, every METRICS_WRITE_SECONDS (metrics.h) */
static void write_metrics(struct logger *l)
{
	uint64_t now = l->mono_clock_ms() / 1000;
	size_t len;
	char *json;
	int r;

	if (!l->metrics_files || (l->metrics_written && now - l->metrics_written < METRICS_WRITE_SECONDS))
		return;
	l->metrics_written = now ? now : 1;
	l->metrics.time = l->wall_clock();
	l->metrics.monitor_pid = l->monitor_pid;
	if (l->alerts) {
		l->metrics.notes_sent = alerts_sent(l->alerts);
		l->metrics.notes_dropped = alerts_dropped(l->alerts);
	}
	json = metrics_render(&l->metrics, &len);
	if (!json)
		return;
	r = write_atomic_below(l->dirfd, METRICS_FILE, json, len, 0600, (uid_t)-1, (gid_t)-1);
	if (r < 0 && !l->metrics_failed) {
		errlog_add(l->errlog, "cannot write %s (for the dash's /metrics): %s", METRICS_FILE,
			   strerror(-r));
		l->metrics_failed = true;
	}
	free(json);
}

/* A drain ended (about every second).  The window's end is decided on this
 * process's own monotonic clock: the time the message carries is not
 * trusted with arithmetic, and the wall clock may jump (an hour back would
 * have held the log for an hour).  Rows are stamped with the wall clock.
 * A quarter second of slack keeps a tick that comes a little early from
 * making the window a whole tick longer. */
static void on_tick(struct logger *l)
{
	if (l->alerts)
		alerts_packages(l->alerts);
	if (l->live) {
		uint64_t now = l->mono_clock_ms();

		live_publish(l->live, l->wall_clock(), now - l->live_start_ms);
		l->live_start_ms = now;
	}
	if (l->mono_clock_ms() - l->window_start_ms + 250 >= (uint64_t)l->cfg.db_write_limit * 1000)
		flush_window(l, false);
	errlog_flush(l->errlog);
	vt_report(l->vt, l->errlog, false);
	sqlsend_report(l->sql, l->errlog);
	if (l->alerts)
		alerts_errors(l->alerts, NULL, 0);
	if (l->mono_clock_ms() / 1000 - l->last_prune >= prune_interval())
		prune(l);
	rollup(l);
	write_metrics(l);
}

int logger_handle(struct logger *l, const void *buf, size_t len)
{
	const struct ps_msg_hdr *h = buf;

	if (!proto_check(buf, len)) {
		l->bad_messages++;
		return 0;
	}
	switch (h->type) {
	case PS_MSG_HELLO:
		l->monitor_pid = ((const struct ps_msg_hello *)buf)->monitor_pid;
		break;
	case PS_MSG_IDENT:
		idents_add(l->idents, buf);
		break;
	case PS_MSG_IDENT_DROP:
		idents_drop(l->idents, ((const struct ps_msg_ident_drop *)buf)->id);
		break;
	case PS_MSG_HASH: {
		struct lfile *f = idents_hash(l->idents, buf);

		if (f && l->alerts)
			alerts_hashed(l->alerts, f);
		break;
	}
	case PS_MSG_HASH_REQ:
		on_hash_req(l, buf);
		break;
	case PS_MSG_MD5: {
		const struct ps_msg_hash *m = buf;

		if (l->alerts)
			alerts_md5(l->alerts, m->file_ino, m->file_dev, m->sha256, m->md5);
		break;
	}
	case PS_MSG_DELTAS:
		on_deltas(l, buf);
		break;
	case PS_MSG_SEEN:
		on_seen(l, buf);
		break;
	case PS_MSG_DNS:
		on_dns(l, buf);
		break;
	case PS_MSG_FIRST:
		on_first(l, buf);
		break;
	case PS_MSG_STATS:
		report_stats(l, buf);
		break;
	case PS_MSG_NOTE:
		on_note(l, buf);
		break;
	case PS_MSG_TICK:
		on_tick(l);
		break;
	case PS_MSG_READY:
		break;
	case PS_MSG_FINAL:
		return 1;
	default:
		l->bad_messages++;	/* a type meant for the monitor */
		break;
	}
	return 0;
}

static void on_user_hashes(struct logger *l)
{
	struct userhash_result res;

	while (userhash_take(l->userhash, &res) == 0) {
		struct lfile *f;

		if (res.md5_req) {
			if (l->alerts)
				alerts_md5(l->alerts, res.ino, res.dev, res.sha256, res.md5);
			continue;
		}
		f = idents_user_hash(l->idents, res.ino, res.dev, res.sha256);

		if (f && l->alerts)
			alerts_hashed(l->alerts, f);
	}
}

static void on_vt_outcomes(struct logger *l)
{
	struct vt_outcome o;

	while (l->vt && vt_take(l->vt, &o) == 0) {
		if (l->alerts)
			alerts_vt_outcome(l->alerts, &o);
		vt_outcome_clear(&o);
	}
}

static void on_errors(void *ctx, const char *first, unsigned long count)
{
	struct logger *l = ctx;

	if (l->alerts)
		alerts_errors(l->alerts, first, count);
}

/* ---- setting up and tearing down ---- */

int logger_init(struct logger *l, int dirfd, const char *path, bool with_files)
{
	struct window_opts wopts;
	char err[512];
	int r;

	l->dirfd = dirfd;
	l->path = path;
	if (!l->wall_clock)
		l->wall_clock = wall_seconds;
	if (!l->mono_clock_ms)
		l->mono_clock_ms = mono_ms;
	l->window_start_ms = l->mono_clock_ms();
	if ((r = strpool_new(&l->pool)) < 0 || (r = idents_new(l->pool, &l->idents)) < 0 ||
	    (r = domains_new(DOMAINS_CAPACITY, &l->domains)) < 0 ||
	    (r = dnsmatch_new(DNSMATCH_CAPACITY, &l->dnsmatch)) < 0 ||
	    (r = tcpdns_new(TCPDNS_CAPACITY, &l->tcpdns)) < 0 ||
	    (r = servername_new(SERVERNAME_CAPACITY, &l->servername)) < 0)
		return r;
	if (!l->have_cfg && (r = config_default(&l->cfg)) < 0)
		return r;
	l->have_cfg = true;
	if (ignore_rules_new(l->cfg.log_ignore, &l->ignore, err, sizeof(err)) < 0) {
		fatal(l, EXIT_CONFIG, "%s", err);
		return -EINVAL;
	}
	wopts = (struct window_opts){
		.log_addresses = l->cfg.log_addresses,
		.log_ports = l->cfg.log_ports,
		.log_commands = l->cfg.log_commands,
		.ignore = l->ignore,
	};
	r = window_new(l->pool, l->idents, l->domains, &wopts, &l->window);
	if (r < 0 || !with_files)
		return r;
	{
		char planted[1024];

		set_aside_planted(l, planted, sizeof(planted));
		r = errlog_open(dirfd, &l->errlog);
		if (r < 0) {
			fatal(l, 1, "cannot open %s/error.log: %s", path, strerror(-r));
			return r;
		}
		if (planted[0]) {
			log_warn("%s", planted);
			errlog_add(l->errlog, "%s", planted);
		}
	}
	errlog_set_sink(l->errlog, on_errors, l);
	l->metrics_files = true;
	check_previous_run(l);
	l->started = l->written_until = l->wall_clock();
	mark_running(l, l->started, l->written_until);
	r = open_stores(l);
	if (r < 0)
		return r;
	open_sql_server(l);
	if (l->gap[0]) {
		/* for readers of conn.log, in its own order of lines */
		for (size_t s = 0; s < l->nstores; s++)
			store_note(l->stores[s], l->gap);
	}
	replay_spill(l);
	prune(l);
	if (l->cfg.vt_api_key[0]) {
		struct vt_opts vopts = {
			.dirfd = dirfd,
			.api_key = l->cfg.vt_api_key,
			.upload = l->cfg.vt_file_upload,
			.request_limit = l->cfg.vt_request_limit,
			.dev_mask = l->cfg.has_st_dev_mask ? (uint32_t)l->cfg.st_dev_mask : 0xffffffffu,
		};

		vt_opts_from_env(&vopts);
		r = vt_new(&vopts, &l->vt, err, sizeof(err));
		if (r < 0)
			errlog_add(l->errlog, "VirusTotal is not used: %s", strerror(-r));
		else if (err[0])
			errlog_add(l->errlog, "%s", err);
	}
	{
		struct alerts_opts aopts = { .dirfd = dirfd, .desktop = l->cfg.desktop_notifications,
					     .print = print_note, .ctx = l, .vt = l->vt,
					     .request_md5 = request_md5 };

		r = alerts_open(&aopts, l->idents, l->errlog, &l->alerts);
		if (r < 0) {
			fatal(l, 1, "cannot open record.json: %s", strerror(-r));
			return r;
		}
		alerts_vt_backfill(l->alerts);
	}
	r = userhash_new(l->cfg.has_st_dev_mask ? (uint32_t)l->cfg.st_dev_mask : 0xffffffffu,
			 &l->userhash);
	if (r < 0)
		errlog_add(l->errlog, "cannot hash files as the desktop user: %s", strerror(-r));
	errlog_flush(l->errlog);
	return 0;
}

void logger_done(struct logger *l)
{
	for (size_t s = 0; s < MAX_STORES; s++) {
		pending_free(l->dests[s].pending);
		l->dests[s].pending = NULL;
	}
	on_vt_outcomes(l);
	vt_free(l->vt);
	l->vt = NULL;
	/* what the server did not take stays in the spool */
	sqlsend_free(l->sql, 0);
	l->sql = NULL;
	alerts_close(l->alerts);
	l->alerts = NULL;
	userhash_free(l->userhash);
	window_free(l->window);
	for (size_t i = 0; i < l->nstores; i++)
		store_close(l->stores[i]);
	ignore_rules_free(l->ignore);
	domains_free(l->domains);
	dnsmatch_free(l->dnsmatch);
	tcpdns_free(l->tcpdns);
	servername_free(l->servername);
	idents_free(l->idents);
	strpool_free(l->pool);
	errlog_close(l->errlog);
	if (l->have_cfg)
		config_done(&l->cfg);
}

static void send_config(struct logger *l)
{
	struct ps_msg_config m;

	proto_init(&m, PS_MSG_CONFIG);
	m.every_exe = l->cfg.every_exe;
	m.write_limit = l->cfg.db_write_limit > 0 && l->cfg.db_write_limit < UINT32_MAX
				? (uint32_t)l->cfg.db_write_limit : 0;
	m.ring_buffer_pages = l->cfg.ring_buffer_pages > 0 && l->cfg.ring_buffer_pages <= UINT32_MAX
				      ? (uint32_t)l->cfg.ring_buffer_pages : 0;
	m.has_rlimit_nofile = l->cfg.has_rlimit_nofile;
	m.rlimit_nofile = (uint64_t)l->cfg.rlimit_nofile;
	m.has_st_dev_mask = l->cfg.has_st_dev_mask;
	m.st_dev_mask = (uint64_t)l->cfg.st_dev_mask;
	send_msg(l, &m);
}

/* Send what is queued for the monitor, then wait (bounded) until it has
 * read everything and closed its end: closing ours with its messages
 * unread would make its next read fail with ECONNRESET and lose ours. */
static void drain_channel(struct logger *l, int timeout_ms)
{
	static char buf[PS_MSG_MAX];
	int waited = 0;

	if (!l->chan)
		return;
	for (; channel_has_queued(l->chan) && waited < timeout_ms; waited += 10) {
		pthread_mutex_lock(&send_lock);
		channel_flush(l->chan);
		pthread_mutex_unlock(&send_lock);
		usleep(10000);
	}
	shutdown(channel_fd(l->chan), SHUT_WR);
	for (; waited < timeout_ms; waited += 10) {
		int r = channel_recv(l->chan, buf);

		if (r == -EPIPE)
			break;
		if (r == 0)
			usleep(10000);
	}
}

int logger_main(void)
{
	struct logger l = { .dirfd = -1, .ep = -1 };
	const char *path = getenv("PICOSNITCH_STATE_PATH");
	struct epoll_event ev, evs[4];
	static char buf[PS_MSG_MAX];
	int ep = -1, status = 1, r;
	bool final = false, clean_end = false;

	signal(SIGPIPE, SIG_IGN);
	/* every file here holds other users' command lines (and later an API
	 * key): its owner's alone, SQLite's included */
	umask(077);
	if (channel_new(LOGGER_CHANNEL_FD, CHANNEL_QUEUE_MAX, &l.chan) < 0)
		return 1;
	log_set_sink(log_to_monitor, &l);
	if (!path)
		path = "(the state directory)";
	if (fcntl(LOGGER_STATE_FD, F_GETFD) < 0) {
		fatal(&l, 1, "started without its state directory");
		goto out;
	}
	/* close-on-exec from here on */
	fcntl(LOGGER_STATE_FD, F_SETFD, FD_CLOEXEC);
	l.dirfd = LOGGER_STATE_FD;
	l.path = path;
	if (load_config(&l) < 0) {
		status = EXIT_CONFIG;
		goto out;
	}
	r = logger_init(&l, LOGGER_STATE_FD, path, true);
	if (r < 0) {
		status = r == -EINVAL ? EXIT_CONFIG : 1;
		goto out;
	}
	send_config(&l);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		goto out;
	l.ep = ep;
	ev.events = EPOLLIN;
	ev.data.fd = channel_fd(l.chan);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	r = live_open(l.dirfd, &l.live);
	if (r < 0)
		errlog_add(l.errlog, "no live feed: cannot listen on %s/%s: %s", path, LIVE_SOCKET,
			   strerror(-r));
	l.live_start_ms = l.mono_clock_ms();
	if (l.live) {
		ev.data.fd = live_fd(l.live);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	if (l.userhash) {
		ev.data.fd = userhash_fd(l.userhash);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	if (l.vt) {
		ev.data.fd = vt_fd(l.vt);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	while (!final) {
		int n;

		pthread_mutex_lock(&send_lock);
		channel_flush(l.chan);
		ev.events = EPOLLIN | (channel_has_queued(l.chan) ? EPOLLOUT : 0);
		pthread_mutex_unlock(&send_lock);
		ev.data.fd = channel_fd(l.chan);
		epoll_ctl(ep, EPOLL_CTL_MOD, ev.data.fd, &ev);
		n = epoll_wait(ep, evs, 4, 1000);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n && !final; i++) {
			if (l.live && evs[i].data.fd == live_fd(l.live)) {
				live_accept(l.live);
				continue;
			}
			if (l.userhash && evs[i].data.fd == userhash_fd(l.userhash)) {
				on_user_hashes(&l);
				continue;
			}
			if (l.vt && evs[i].data.fd == vt_fd(l.vt)) {
				on_vt_outcomes(&l);
				continue;
			}
			for (int k = 0; k < 256 && !final; k++) {
				r = channel_recv(l.chan, buf);
				if (r == 0)
					break;
				if (r == -EBADMSG) {
					l.bad_messages++;
					continue;
				}
				if (r < 0) {
					/* the monitor is gone: keep what we have */
					final = true;
					break;
				}
				if (logger_handle(&l, buf, (size_t)r) == 1)
					final = clean_end = true;
			}
		}
	}
	/* VirusTotal's answers so far; what is still to ask stays in
	 * vt-queue.json */
	on_vt_outcomes(&l);
	vt_report(l.vt, l.errlog, true);
	flush_window(&l, true);
	if (l.sql) {
		/* what waits may still reach the server: a moment for it, and
		 * error.log says how it went (the rest stays in the spool) */
		sqlsend_drain(l.sql, 3000);
		sqlsend_report(l.sql, l.errlog);
	}
	spill_pending(&l);
	errlog_flush(l.errlog);
	/* only a run that wrote its last window ends clean (the monitor
	 * gone without FINAL is not: its last drain was never sent) */
	if (clean_end)
		unlinkat(l.dirfd, RUNNING_MARK, 0);
	status = 0;
	{
		struct ps_msg_empty done;

		proto_init(&done, PS_MSG_DONE);
		send_msg(&l, &done);
	}
out:
	live_close(l.live, l.dirfd);
	l.live = NULL;
	drain_channel(&l, 5000);
	if (ep >= 0)
		close(ep);
	log_set_sink(NULL, NULL);
	logger_done(&l);
	channel_free(l.chan);
	return status;
}
