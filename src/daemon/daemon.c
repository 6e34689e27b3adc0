/* The monitor's event loop: wires sensor, identity, hashing, tracker,
 * alerts and storage.
 *
 *   ring buffer record --> tracker_on_flow / _on_unowned / _on_exec (name it now)
 *       a process named --> alerts_who (record.json, exe.log, notification)
 *   hash computed      --> alerts_hashed
 *   fanotify event     --> the file's next use hashes it again
 *   every second       --> tracker_drain (counters -> window), loss report
 *   every write limit  --> tracker_take_rows --> each store; record.json
 *   SIGINT / SIGTERM   --> last drain and write, then return
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon/alerts.h"
#include "daemon/errlog.h"
#include "identity/exehash.h"
#include "identity/ident.h"
#include "identity/procscan.h"
#include "pipeline/ignore.h"
#include "pipeline/tracker.h"
#include "sensor/sensor.h"
#include "storage/store.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"

#define MAX_STORES 4
#define IDENT_IDLE_SECONDS 300	/* forget process names unused this long */
#define MAX_PENDING_BATCHES 64
#define PRUNE_INTERVAL 86400	/* seconds between "DB retention" passes */

struct batch {
	struct tracker_rows rows;
	unsigned int todo;	/* bit i: store i still has to take it */
	int tries;
};

struct daemon {
	struct config *cfg;
	struct state_dir *sd;
	struct errlog *errlog;
	struct sensor *sensor;
	struct exehash *hashes;
	struct alerts *alerts;
	struct ident_cache *idents;
	struct tracker *tracker;
	struct ignore_rules *ignore;
	struct store *stores[MAX_STORES];
	size_t nstores;
	struct batch pending[MAX_PENDING_BATCHES];
	size_t npending;
	uint64_t stats[PS_STAT_MAX];
	uint64_t notes_dropped;
	uint64_t last_prune;	/* monotonic seconds */
	void (*on_ready)(void *ctx);
	void *ready_ctx;
	time_t window_start;
};

int daemon_load_config(struct state_dir *sd, struct config *ret)
{
	char err[CONFIG_ERR_LEN], *text = NULL, *dump;
	size_t len;
	int r;

	r = read_below(sd->fd, CONFIG_FILE, 1 << 20, &text, &len);
	if (r == -ENOENT) {
		r = config_default(ret);
		if (r < 0)
			return log_errno(r, "cannot build the default configuration");
	} else if (r < 0) {
		return log_errno(r, "cannot read %s/%s", sd->path, CONFIG_FILE);
	} else {
		r = config_parse(text, len, ret, err, sizeof(err));
		free(text);
		if (r < 0) {
			log_error("%s (in %s)", err, sd->path);
			return r;
		}
	}
	if (ret->changed) {
		dump = config_dump(ret);
		if (!dump) {
			config_done(ret);
			return log_errno(-ENOMEM, "cannot write %s", CONFIG_FILE);
		}
		r = write_atomic_below(sd->fd, CONFIG_FILE, dump, strlen(dump), 0644, sd->uid, sd->gid);
		free(dump);
		if (r < 0)
			log_errno(r, "cannot write the defaults to %s/%s, ignoring", sd->path,
				  CONFIG_FILE);
		ret->changed = false;
	}
	return 0;
}

static uint64_t mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct daemon *d = ctx;
	const struct ps_event_hdr *h = data;

	if (size < sizeof(*h) || h->size != size || h->version != PS_EVENT_VERSION)
		return 0;
	switch (h->type) {
	case PS_EV_FLOW:
		if (size == sizeof(struct ps_ev_flow)) {
			const struct ps_ev_flow *ev = data;

			tracker_on_flow(d->tracker, &ev->key, &ev->info);
		}
		break;
	case PS_EV_EXEC:
		if (size == sizeof(struct ps_ev_exec) && d->cfg->every_exe) {
			const struct ps_ev_exec *ev = data;

			tracker_on_exec(d->tracker, &ev->info);
		}
		break;
	case PS_EV_DNS:
		if (size == sizeof(struct ps_ev_dns)) {
			const struct ps_ev_dns *ev = data;

			if (ev->len <= sizeof(ev->data))
				tracker_on_dns(d->tracker, ev->data, ev->len);
		}
		break;
	case PS_EV_UNOWNED:
		if (size == sizeof(struct ps_ev_unowned)) {
			const struct ps_ev_unowned *ev = data;

			tracker_on_unowned(d->tracker, &ev->key, ev->sock_ino);
		}
		break;
	default:
		break;
	}
	return 0;
}

static void on_missing(void *ctx, const char *hook, const char *lost, const char *why)
{
	struct daemon *d = ctx;

	errlog_add(d->errlog, "this kernel does not offer '%s' (%s): not seen: %s", hook, why, lost);
}

/* Report every loss the sensor and the pipeline counted since last time. */
static void report_losses(struct daemon *d)
{
	uint64_t now[PS_STAT_MAX], delta[PS_STAT_MAX];
	struct ident_stats is;
	struct tracker_stats ts;
	struct exehash_stats hs;
	uint64_t dropped;

	if (sensor_stats(d->sensor, now) == 0) {
		for (int i = 0; i < PS_STAT_MAX; i++)
			delta[i] = now[i] - d->stats[i];
		memcpy(d->stats, now, sizeof(now));
		if (delta[PS_STAT_FLOW_MAP_FULL])
			errlog_add(d->errlog,
				   "flow table full (%zu flows): %" PRIu64 " new flows could not be "
				   "recorded; their %" PRIu64 " bytes sent and %" PRIu64
				   " bytes received are missing",
				   sensor_flow_capacity(d->sensor), delta[PS_STAT_FLOW_MAP_FULL],
				   delta[PS_STAT_BYTES_LOST_SENT], delta[PS_STAT_BYTES_LOST_RECV]);
		if (delta[PS_STAT_RINGBUF_FULL])
			errlog_add(d->errlog,
				   "event ring buffer full: %" PRIu64 " events lost (their traffic is "
				   "still counted, but a process that exits at once may go unnamed); "
				   "raise \"Perf ring buffer (pages)\"",
				   delta[PS_STAT_RINGBUF_FULL]);
		if (delta[PS_STAT_SOCK_STATE_FAIL])
			errlog_add(d->errlog,
				   "no memory for the state of %" PRIu64
				   " sockets: their traffic was not counted",
				   delta[PS_STAT_SOCK_STATE_FAIL]);
		if (delta[PS_STAT_PARSE_FAIL])
			errlog_add(d->errlog,
				   "%" PRIu64 " packets had headers that could not be read and were "
				   "not counted",
				   delta[PS_STAT_PARSE_FAIL]);
		if (delta[PS_STAT_HOOK_BUSY])
			errlog_add(d->errlog,
				   "%" PRIu64 " kernel events were not handed to picosnitch because its "
				   "hook was already running on that CPU: the traffic they carried may "
				   "be missing",
				   delta[PS_STAT_HOOK_BUSY]);
		if (delta[PS_STAT_TCP_START_MISSED])
			errlog_add(d->errlog,
				   "%" PRIu64 " TCP connections were first seen after they had started "
				   "moving data: what they sent and received before that is missing",
				   delta[PS_STAT_TCP_START_MISSED]);
		if (delta[PS_STAT_EXEC_CACHE_FAIL])
			errlog_add(d->errlog,
				   "%" PRIu64 " program starts could not be remembered in the exec "
				   "cache",
				   delta[PS_STAT_EXEC_CACHE_FAIL]);
	}
	ident_stats_take(d->idents, &is);
	if (is.unidentified)
		errlog_add(d->errlog,
			   "%" PRIu64 " processes exited before they could be identified: their "
			   "traffic is logged with the name the kernel reported and no executable path",
			   is.unidentified);
	if (is.exe_mismatch)
		errlog_add(d->errlog,
			   "%" PRIu64 " processes had started another program (exec) before they "
			   "could be identified: their traffic is logged with the name the kernel "
			   "reported and no executable path or command line",
			   is.exe_mismatch);
	exehash_stats_take(d->hashes, &hs);
	if (is.unhashed)
		errlog_add(d->errlog,
			   "%" PRIu64 " processes exited before their executable could be opened "
			   "(first seen: %s): logged with sha256 \"" SHA_EXITED "\"",
			   is.unhashed, is.unhashed_example);
	if (hs.replaced)
		errlog_add(d->errlog,
			   "%" PRIu64 " processes were gone and their executable's path held "
			   "another file when picosnitch looked: logged with sha256 \"" SHA_REPLACED
			   "\" rather than the new file's hash",
			   hs.replaced);
	if (hs.unreadable)
		errlog_add(d->errlog,
			   "%" PRIu64 " executables could be read neither as root nor as the desktop "
			   "user: logged with sha256 \"" SHA_UNREADABLE "\"",
			   hs.unreadable);
	dropped = alerts_dropped(d->alerts) - d->notes_dropped;
	if (dropped)
		errlog_add(d->errlog,
			   "%" PRIu64 " desktop notifications were dropped: the notification "
			   "helper was not keeping up or had stopped",
			   dropped);
	d->notes_dropped += dropped;
	tracker_stats_take(d->tracker, &ts);
	if (ts.unowned_unresolved)
		errlog_add(d->errlog,
			   "%" PRIu64 " sockets carried traffic (%" PRIu64 " bytes) but no process "
			   "holding them could be found: logged without a process",
			   ts.unowned_unresolved, ts.unowned_bytes);
	if (ts.listener_fallback)
		errlog_add(d->errlog,
			   "%" PRIu64 " accepted sockets were closed before their process could be "
			   "found: logged under the process listening on their port",
			   ts.listener_fallback);
	if (ts.dns_unreadable)
		errlog_add(d->errlog,
			   "%" PRIu64 " DNS answers could not be read (malformed, or names with "
			   "characters no host name has): no domain was learned from them",
			   ts.dns_unreadable);
	errlog_flush(d->errlog);
}

static void batch_release(struct daemon *d, size_t i)
{
	tracker_rows_free(d->tracker, &d->pending[i].rows);
	memmove(&d->pending[i], &d->pending[i + 1], (d->npending - i - 1) * sizeof(d->pending[0]));
	d->npending--;
}

/* Hand every pending batch to the stores that still need it.  A store that
 * fails keeps its batches for the next window, a few times. */
static void write_pending(struct daemon *d)
{
	size_t i = 0;

	while (i < d->npending) {
		struct batch *b = &d->pending[i];

		for (size_t s = 0; s < d->nstores; s++) {
			int r;

			if (!(b->todo & (1u << s)))
				continue;
			r = store_write(d->stores[s], b->rows.rows, b->rows.n);
			if (r == 0) {
				b->todo &= ~(1u << s);
			} else if (b->tries >= 5) {
				errlog_add(d->errlog, "%s: %s; %zu entries are lost after %d attempts",
					   d->stores[s]->ops->name, d->stores[s]->err, b->rows.n,
					   b->tries + 1);
				b->todo &= ~(1u << s);
			} else {
				errlog_add(d->errlog, "%s: %s; %zu entries will be retried",
					   d->stores[s]->ops->name, d->stores[s]->err, b->rows.n);
			}
		}
		b->tries++;
		if (!b->todo)
			batch_release(d, i);
		else
			i++;
	}
}

static int flush_window(struct daemon *d, bool final)
{
	struct tracker_rows rows;
	int r;

	r = tracker_take_rows(d->tracker, (int64_t)time(NULL), final, &rows);
	if (r < 0)
		return log_errno(r, "cannot collect the connection log");
	if (d->ignore) {
		/* "Log ignore": not logged, but record.json and notifications
		 * have seen them already */
		size_t kept = 0;

		for (size_t i = 0; i < rows.n; i++) {
			if (!ignore_match(d->ignore, &rows.rows[i]))
				rows.rows[kept++] = rows.rows[i];
		}
		rows.n = kept;
	}
	d->window_start = time(NULL);
	if (rows.n == 0 || d->nstores == 0) {
		tracker_rows_free(d->tracker, &rows);
	} else {
		if (d->npending == MAX_PENDING_BATCHES) {
			errlog_add(d->errlog, "connection log destinations are failing: %zu entries "
				   "dropped", d->pending[0].rows.n);
			batch_release(d, 0);
		}
		d->pending[d->npending++] = (struct batch){ .rows = rows,
							    .todo = (1u << d->nstores) - 1 };
	}
	write_pending(d);
	alerts_save(d->alerts);
	errlog_flush(d->errlog);
	return 0;
}

/* "DB retention (days)": entries older than that go, at start and then
 * every PRUNE_INTERVAL (PICOSNITCH_PRUNE_INTERVAL=seconds for tests). */
static void prune(struct daemon *d)
{
	int64_t before = (int64_t)time(NULL) - d->cfg->db_retention_days * 86400;

	d->last_prune = mono_seconds();
	if (d->cfg->db_retention_days <= 0)
		return;	/* 0: keep everything */
	for (size_t i = 0; i < d->nstores; i++) {
		if (store_prune(d->stores[i], before) < 0)
			errlog_add(d->errlog, "%s: cannot remove entries older than %" PRId64
				   " days: %s", d->stores[i]->ops->name, d->cfg->db_retention_days,
				   d->stores[i]->err);
	}
}

static uint64_t prune_interval(void)
{
	const char *v = getenv("PICOSNITCH_PRUNE_INTERVAL");
	uint64_t n;

	if (v && parse_u64(v, &n) == 0 && n > 0)
		return n;
	return PRUNE_INTERVAL;
}

static int open_stores(struct daemon *d)
{
	char err[512];
	int r;

	if (d->cfg->db_sql_log) {
		char *path = state_dir_file(d->sd, "snitch.db");

		if (!path)
			return -ENOMEM;
		r = store_sqlite_open(path, &d->stores[d->nstores], err, sizeof(err));
		free(path);
		if (r < 0) {
			log_error("cannot open %s/snitch.db: %s", d->sd->path, err);
			return r;
		}
		d->nstores++;
		/* readers (the UIs) run as the desktop user */
		for (const char *const *n = (const char *const[]){ "snitch.db", "snitch.db-wal",
								   "snitch.db-shm", NULL };
		     *n; n++)
			(void)fchownat(d->sd->fd, *n, d->sd->uid, d->sd->gid, AT_SYMLINK_NOFOLLOW);
	}
	if (d->cfg->db_text_log) {
		r = store_text_open(d->sd->fd, "conn.log", d->sd->uid, d->sd->gid,
				    &d->stores[d->nstores]);
		if (r < 0)
			return log_errno(r, "cannot open %s/conn.log", d->sd->path);
		d->nstores++;
	}
	return 0;
}

/* PICOSNITCH_FLOW_TABLE=N sizes the kernel's flow table (diagnostics and
 * tests of what happens when it is full). */
static uint32_t flow_capacity(void)
{
	const char *v = getenv("PICOSNITCH_FLOW_TABLE");
	uint64_t n;

	if (!v || parse_u64(v, &n) < 0 || n == 0 || n > (1u << 24))
		return 0;
	return (uint32_t)n;
}

static uint32_t ringbuf_bytes(const struct config *cfg)
{
	long page = sysconf(_SC_PAGESIZE);

	return (uint32_t)(cfg->ring_buffer_pages * (page > 0 ? page : 4096));
}

static int run_loop(struct daemon *d)
{
	struct epoll_event ev, evs[8];
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };
	int ep = -1, tfd = -1, sfd = -1, r = 0;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0) {
		r = log_errno(-errno, "cannot set up the event loop");
		goto out;
	}
	timerfd_settime(tfd, 0, &its, NULL);
	ev.events = EPOLLIN;
	ev.data.fd = sensor_poll_fd(d->sensor);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = exehash_done_fd(d->hashes);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	if (exehash_fanotify_fd(d->hashes) >= 0) {
		ev.data.fd = exehash_fanotify_fd(d->hashes);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}

	d->window_start = time(NULL);
	log_info("monitoring network traffic; logging to %s every %" PRId64 " seconds", d->sd->path,
		 d->cfg->db_write_limit);
	/* systemd (Type=notify) and `picosnitch start` wait for this */
	sd_notifyf(0, "READY=1\nSTATUS=monitoring; logging to %s\nMAINPID=%d", d->sd->path,
		   (int)getpid());
	if (d->on_ready)
		d->on_ready(d->ready_ctx);
	for (;;) {
		int n = epoll_wait(ep, evs, 8, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = log_errno(-errno, "epoll_wait failed");
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					log_info("received %s: writing what was counted and stopping",
						 strsignal(si.ssi_signo));
					goto stop;
				}
			} else if (fd == tfd) {
				uint64_t expirations;

				if (read(tfd, &expirations, sizeof(expirations)) < 0)
					continue;
				sensor_consume(d->sensor);
				tracker_resolve_unowned(d->tracker);
				r = tracker_drain(d->tracker);
				if (r < 0)
					errlog_add(d->errlog, "cannot read the flow counters: %s",
						   strerror(-r));
				report_losses(d);
				if (mono_seconds() > IDENT_IDLE_SECONDS)
					ident_cache_gc(d->idents,
						       mono_seconds() - IDENT_IDLE_SECONDS);
				if (time(NULL) - d->window_start >= d->cfg->db_write_limit)
					flush_window(d, false);
				alerts_errors(d->alerts, NULL, 0);
				if (mono_seconds() - d->last_prune >= prune_interval())
					prune(d);
			} else if (fd == exehash_done_fd(d->hashes)) {
				exehash_handle_done(d->hashes);
			} else if (fd == exehash_fanotify_fd(d->hashes)) {
				exehash_handle_fanotify(d->hashes);
			} else {
				sensor_consume(d->sensor);
				tracker_resolve_unowned(d->tracker);
			}
		}
	}
stop:
	sd_notify(0, "STOPPING=1\nSTATUS=writing what was counted");
	sensor_consume(d->sensor);
	tracker_resolve_unowned(d->tracker);
	tracker_drain(d->tracker);
	exehash_settle(d->hashes, 2000);	/* so the last rows carry hashes */
	r = flush_window(d, true);
	report_losses(d);
	if (d->npending)
		errlog_add(d->errlog, "stopping with %zu batches of entries not written",
			   d->npending);
out:
	if (ep >= 0)
		close(ep);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	return r;
}

/* "Set RLIMIT_NOFILE", then the executable cache gets what the soft limit
 * leaves after 128 descriptors for everything else. */
static size_t exe_cache_size(struct daemon *d)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 896;
	if (d->cfg->has_rlimit_nofile) {
		struct rlimit want = { (rlim_t)d->cfg->rlimit_nofile, rl.rlim_max };

		if (want.rlim_cur > want.rlim_max)
			errlog_add(d->errlog,
				   "\"Set RLIMIT_NOFILE\" is %" PRId64 " but the hard limit is %llu: "
				   "keeping %llu",
				   d->cfg->rlimit_nofile, (unsigned long long)rl.rlim_max,
				   (unsigned long long)rl.rlim_cur);
		else if (setrlimit(RLIMIT_NOFILE, &want) < 0)
			errlog_add(d->errlog, "\"Set RLIMIT_NOFILE\" could not be applied: %s",
				   strerror(errno));
		else
			rl = want;
	}
	return rl.rlim_cur > 256 ? (size_t)rl.rlim_cur - 128 : 128;
}

/* btrfs gives every subvolume its own device number in stat() while the
 * kernel reports the superblock's: compare inodes only there. */
static bool have_btrfs(void)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char src[1024], dir[1024], type[64];

		if (sscanf(line, "%1023s %1023s %63s", src, dir, type) == 3 &&
		    !strcmp(type, "btrfs") && str_has_prefix(src, "/dev/"))
			found = true;
	}
	fclose(f);
	return found;
}

static uint32_t st_dev_mask(const struct config *cfg)
{
	if (cfg->has_st_dev_mask)
		return (uint32_t)cfg->st_dev_mask;
	if (have_btrfs()) {
		log_info("btrfs is mounted: executables are matched by inode only (device numbers "
			 "differ between the kernel and stat() there); set \"Set st_dev mask\" to "
			 "override");
		return 0;
	}
	return 0xffffffffu;
}

static void on_hashed(void *ctx, struct exe_file *f)
{
	struct daemon *d = ctx;

	alerts_hashed(d->alerts, f);
}

static void on_who(void *ctx, struct ident *proc, struct ident *parent, struct ident *gparent,
		   bool exec)
{
	struct daemon *d = ctx;

	alerts_who(d->alerts, proc, parent, gparent, exec);
}

static void on_errors(void *ctx, const char *first, unsigned long count)
{
	struct daemon *d = ctx;

	if (d->alerts)
		alerts_errors(d->alerts, first, count);
}

/* The files the monitor writes in the state directory.  One found as a
 * symbolic link, or as anything but a regular file, was put there by
 * someone else: it is renamed aside (the link itself, never what it
 * points to) and a new file takes its place, so that a planted link can
 * neither make root write elsewhere nor keep the monitor from starting.
 * What was moved is told in `note` (for error.log, once it is open). */
static void set_aside_planted(const struct state_dir *sd, char *note, size_t notelen)
{
	static const char *const written[] = { "error.log",	"exe.log",	 "conn.log",
					       "snitch.db",	"snitch.db-wal", "snitch.db-shm" };
	size_t used = 0;

	note[0] = '\0';
	for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
		char aside[64];
		struct stat st;
		int n;

		if (fstatat(sd->fd, written[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISREG(st.st_mode))
			continue;
		snprintf(aside, sizeof(aside), "%s.planted-%lld", written[i], (long long)time(NULL));
		if (renameat(sd->fd, written[i], sd->fd, aside) == 0)
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

int daemon_run(struct state_dir *sd, struct config *cfg, void (*on_ready)(void *ctx),
	       void *ready_ctx)
{
	struct daemon d = { .cfg = cfg, .sd = sd, .on_ready = on_ready, .ready_ctx = ready_ctx };
	struct tracker_opts topts = {
		.log_addresses = cfg->log_addresses,
		.log_ports = cfg->log_ports,
		.log_commands = cfg->log_commands,
		.on_who = on_who,
		.ctx = &d,
	};
	struct sensor_opts sopts = {
		.ringbuf_bytes = ringbuf_bytes(cfg),
		.every_exe = cfg->every_exe,
		.flow_capacity = flow_capacity(),
		.on_event = on_event,
		.on_missing = on_missing,
		.ctx = &d,
	};
	struct exehash_opts hopts = {
		.dev_mask = st_dev_mask(cfg),
		.threads = 2,
		.user_uid = sd->uid,
		.user_gid = sd->gid,
		.self_exe = "/proc/self/exe",
		.on_hashed = on_hashed,
		.ctx = &d,
	};
	char err[4096];
	char planted[1024];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int r;

	set_aside_planted(sd, planted, sizeof(planted));
	r = errlog_open(sd->fd, sd->uid, sd->gid, &d.errlog);
	if (r < 0)
		return log_errno(r, "cannot open %s/error.log", sd->path);
	if (planted[0]) {
		log_warn("%s", planted);
		errlog_add(d.errlog, "%s", planted);
	}
	errlog_set_sink(d.errlog, on_errors, &d);
	hopts.max_open = exe_cache_size(&d);
	if (ncpu > 2)
		hopts.threads = ncpu > 4 ? 4 : (int)ncpu;
	if (ignore_rules_new(cfg->log_ignore, &d.ignore, err, sizeof(err)) < 0) {
		log_error("%s", err);	/* config_parse has checked it: only OOM here */
		r = -EINVAL;
		goto out;
	}
	r = open_stores(&d);
	if (r < 0)
		goto out;
	prune(&d);
	r = alerts_open(sd, cfg, d.errlog, &d.alerts);
	if (r < 0) {
		log_errno(r, "cannot start");
		goto out;
	}
	r = sensor_open(&sopts, &d.sensor, err, sizeof(err));
	if (r < 0) {
		errlog_add(d.errlog, "cannot start the BPF sensor: %s", err);
		goto out;
	}
	r = exec_cache_seed(sensor_execs_fd(d.sensor));
	if (r < 0)
		errlog_add(d.errlog, "cannot list the running processes: %s", strerror(-r));
	r = exehash_new(&hopts, &d.hashes);
	if (r < 0) {
		log_errno(r, "cannot start hashing executables");
		goto out;
	}
	if (exehash_fanotify_fd(d.hashes) < 0)
		errlog_add(d.errlog, "fanotify is not available: executables modified while "
			   "picosnitch has them cached are not hashed again");
	r = ident_cache_new(sensor_execs_fd(d.sensor), hopts.dev_mask, d.hashes, &d.idents);
	if (r == 0)
		r = tracker_new(d.idents, d.sensor, &topts, &d.tracker);
	if (r < 0) {
		log_errno(r, "cannot start");
		goto out;
	}
	errlog_flush(d.errlog);
	r = run_loop(&d);
out:
	while (d.npending)
		batch_release(&d, 0);
	/* flows hold identities, identities hold files, alerts hold identities */
	tracker_free(d.tracker);
	alerts_close(d.alerts);
	d.alerts = NULL;
	ident_cache_free(d.idents);
	exehash_free(d.hashes);
	sensor_close(d.sensor);
	for (size_t i = 0; i < d.nstores; i++)
		store_close(d.stores[i]);
	ignore_rules_free(d.ignore);
	errlog_close(d.errlog);
	return r;
}
