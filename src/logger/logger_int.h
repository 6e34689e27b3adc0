/* The logger's state, for logger.c and for tests and fuzz targets that
 * feed it messages (logger_handle) without a monitor. */
#ifndef PS_LOGGER_LOGGER_INT_H
#define PS_LOGGER_LOGGER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "logger/live.h"
#include "logger/metrics.h"
#include "logger/window.h"
#include "pipeline/dnsmatch.h"
#include "pipeline/tcpdns.h"
#include "pipeline/servername.h"
#include "privsep/proto.h"
#include "storage/pending.h"

/* A destination's writing state: what waits for it, and why. */
struct dest_state {
	struct pending *pending;	/* NULL until it first fails */
	int fault;			/* the error it fails with now (-errno), 0 */
	uint64_t fault_since_ms;	/* mono_clock_ms() at the first failure */
	uint64_t failed_writes;		/* since then */
	uint64_t last_report_ms;
	int tries;			/* of an error that will not pass */
	uint64_t dropped_reported;	/* entries dropped past the bound */
};

struct logger {
	struct channel *chan;
	int dirfd;
	const char *path;
	struct config cfg;
	bool have_cfg;
	struct strpool *pool;
	struct idents *idents;
	struct domains *domains;
	struct dnsmatch *dnsmatch;	/* answers are used only if they match a query */
	struct tcpdns *tcpdns;		/* DNS over TCP, put back together */
	struct servername *servername;	/* TLS and QUIC server names */
	struct ignore_rules *ignore;
	struct window *window;
	struct errlog *errlog;
	struct alerts *alerts;
	struct userhash *userhash;
	struct live *live;		/* live.sock, or NULL */
	int ep;				/* the event loop's epoll, or -1 */
	bool live_lost_reported;	/* live.sock cannot be made again: said once */
	uint64_t live_start_ms;		/* what the live second covers since */
	struct live_stats live_seen;	/* what was reported already */
	struct vt *vt;			/* VirusTotal, NULL when off */
	struct sqlsend *sql;		/* "DB sql server", NULL when off */
	struct store *stores[4];
	size_t nstores;
	struct dest_state dests[4];
	bool spill_on_disk;		/* pending.spill holds entries still waiting */
	bool spill_in_runtime;		/* so does the runtime directory's fallback */
	bool dir_lost_reported;
	bool mark_failed;		/* the running mark could not be written */
	int64_t started;		/* wall clock at start: 0 without files */
	int64_t written_until;		/* wall clock when nothing was left unwritten */
	char gap[160];			/* "picosnitch was not running ... from T1 to T2" */
	uint64_t window_start_ms;	/* CLOCK_MONOTONIC: a clock jump neither
					 * stretches nor cuts a window */
	/* the clocks windows (and pruning) are timed and stamped by
	 * (logger_init sets the system's; tests set their own to jump the
	 * wall clock) */
	int64_t (*wall_clock)(void);	/* unix seconds */
	uint64_t (*mono_clock_ms)(void);
	uint64_t last_prune;
	uint64_t rollup_retry_at;	/* mono_clock_ms() / 1000 after a failure */
	/* the real time the rollups may take per tick (0: ROLLUP_MS_PER_TICK);
	 * tests that count steps lift it, so a loaded machine cannot change
	 * their result */
	uint64_t rollup_budget_ms;
	uint32_t monitor_pid;
	/* what was reported already */
	uint64_t sensor_seen[PS_STAT_MAX];
	uint64_t monitor_seen[PS_MSTAT_MAX];
	uint64_t notes_dropped, record_refused, idents_refused;
	uint64_t dns_unreadable, dns_reported;
	struct dnsmatch_stats dns_seen;
	struct tcpdns_stats tcp_dns_seen;
	struct servername_stats sn_seen;
	uint64_t bad_messages, bad_reported;
	uint64_t early_flushes, early_reported;
	uint64_t lost_deltas;
	/* the counters of /metrics (metrics.json), and when they were last
	 * written (mono_clock_ms() / 1000; 0: never) */
	struct metrics metrics;
	uint64_t metrics_written;
	bool metrics_files;		/* write metrics.json (not in tests without files) */
	bool metrics_failed;		/* said so in error.log */
	uint64_t package_refused;	/* reported already */
};

/* Set up everything but the channel; with_files, the files in dirfd too
 * (without, only what handling messages needs: for tests). */
int logger_init(struct logger *l, int dirfd, const char *path, bool with_files);
void logger_done(struct logger *l);
/* One message as received (checked here): 1 after FINAL, else 0. */
int logger_handle(struct logger *l, const void *buf, size_t len);

#endif
