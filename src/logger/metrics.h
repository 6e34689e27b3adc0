/* The monitor's and the logger's counters for `picosnitch dash`'s
 * /metrics (docs/api.md): the logger keeps them (from the monitor's STATS
 * messages and its own work) and writes them every few seconds to
 * metrics.json in the state directory (0600); the dash, running as the
 * same user, reads that file back (bounded, checked: metrics_parse) and
 * writes the Prometheus text.  Nothing running as root reads it.
 *
 *   {"version":1,"time":T,"monitor_pid":P,
 *    "sensor":{"flow_table_full":N,...},"monitor":{"unidentified":N,...},
 *    "flow_table":{"capacity":N,"flows":N},"ring_buffer":{"bytes":N,"records":N},
 *    "hashes":N,"notifications":{"sent":N,"dropped":N},
 *    "db_write":{"count":N,"sum_us":N,"buckets":[N,...]}}
 *
 * Every number is a non-negative integer; a key that is missing reads as 0
 * (so an older logger's file still reads), unknown keys are ignored. */
#ifndef PS_LOGGER_METRICS_H
#define PS_LOGGER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "privsep/proto.h"

#define METRICS_FILE "metrics.json"
#define METRICS_FILE_MAX 16384		/* bytes read back at most */
#define METRICS_WRITE_SECONDS 5		/* how often the logger writes it */
#define METRICS_WRITE_BUCKETS 10	/* the last one is +Inf */

/* upper bounds of the DB write latency buckets, microseconds (the last,
 * +Inf, has none) */
extern const uint64_t metrics_write_bounds_us[METRICS_WRITE_BUCKETS - 1];
/* the keys of metrics.json's "sensor" and "monitor" objects, by index */
extern const char *const metrics_sensor_keys[PS_STAT_MAX];
extern const char *const metrics_monitor_keys[PS_MSTAT_MAX];

struct metrics {
	int64_t time;			/* when written, unix seconds */
	uint64_t monitor_pid;
	uint64_t sensor[PS_STAT_MAX];	/* cumulative, since the monitor started */
	uint64_t monitor[PS_MSTAT_MAX];
	uint64_t flow_capacity, flows_tracked;
	uint64_t ringbuf_bytes, ringbuf_records;
	uint64_t hashes;
	uint64_t notes_sent, notes_dropped;
	uint64_t db_writes, db_write_us;		/* snitch.db writes and their time */
	uint64_t db_write_buckets[METRICS_WRITE_BUCKETS];	/* per bucket, not cumulative */
};

/* Count one write of snitch.db that took `us` microseconds. */
void metrics_observe_write(struct metrics *m, uint64_t us);
/* The JSON of m (malloc'd, NUL-terminated); NULL when out of memory. */
char *metrics_render(const struct metrics *m, size_t *len);
/* Read the JSON back: 0, or -EBADMSG (not JSON, not an object, a number
 * that is not a non-negative integer, a bucket list of another length)
 * with m zeroed. */
int metrics_parse(const char *buf, size_t len, struct metrics *m);

#endif
