/* metrics.json (metrics.h): the counters /metrics shows, written by the
 * logger and read back by the dash. */
#include "logger/metrics.h"

#include <errno.h>
#include <string.h>

#include <jansson.h>

const uint64_t metrics_write_bounds_us[METRICS_WRITE_BUCKETS - 1] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};

const char *const metrics_sensor_keys[PS_STAT_MAX] = {
	[PS_STAT_FLOW_MAP_FULL] = "flow_table_full",
	[PS_STAT_BYTES_LOST_SENT] = "flow_table_full_sent_bytes",
	[PS_STAT_BYTES_LOST_RECV] = "flow_table_full_received_bytes",
	[PS_STAT_RINGBUF_FULL] = "ring_buffer_full",
	[PS_STAT_SOCK_STATE_FAIL] = "socket_state_unavailable",
	[PS_STAT_PARSE_FAIL] = "packet_unreadable",
	[PS_STAT_EXEC_CACHE_FAIL] = "exec_cache_full",
	[PS_STAT_UNOWNED] = "socket_without_process",
	[PS_STAT_RECV_DROPS] = "datagram_dropped_after_count",
	[PS_STAT_HOOK_BUSY] = "hook_busy",
	[PS_STAT_TCP_START_MISSED] = "tcp_start_missed",
	[PS_STAT_FLOW_BUSY] = "flow_busy",
	[PS_STAT_BUSY_LOST_SENT] = "flow_busy_sent_bytes",
	[PS_STAT_BUSY_LOST_RECV] = "flow_busy_received_bytes",
	[PS_STAT_CLOSED_FULL] = "closed_table_full",
	[PS_STAT_LISTENERS_FULL] = "listener_table_full",
	[PS_STAT_TCP_STATE_MISSED] = "tcp_state_missed",
	[PS_STAT_TCP_COUNT_CONTENDED] = "tcp_count_contended",
	[PS_STAT_FIRST_SKIPPED] = "first_bytes_skipped",
	[PS_STAT_SOCK_FREEING] = "socket_freeing_unseen",
	[PS_STAT_PACKET_TAKEN] = "packet_frame_taken",
};

const char *const metrics_monitor_keys[PS_MSTAT_MAX] = {
	[PS_MSTAT_UNIDENTIFIED] = "unidentified",
	[PS_MSTAT_EXE_MISMATCH] = "exe_mismatch",
	[PS_MSTAT_UNHASHED] = "unhashed",
	[PS_MSTAT_REPLACED] = "replaced",
	[PS_MSTAT_UNREADABLE] = "unreadable",
	[PS_MSTAT_UNOWNED] = "unowned",
	[PS_MSTAT_UNOWNED_BYTES] = "unowned_bytes",
	[PS_MSTAT_LISTENER_FALLBACK] = "listener_fallback",
	[PS_MSTAT_QUEUE_DROPPED] = "queue_dropped",
	[PS_MSTAT_BAD_MESSAGES] = "bad_messages",
};

void metrics_observe_write(struct metrics *m, uint64_t us)
{
	size_t i = 0;

	while (i < METRICS_WRITE_BUCKETS - 1 && us > metrics_write_bounds_us[i])
		i++;
	m->db_write_buckets[i]++;
	m->db_writes++;
	m->db_write_us += us;
}

/* jansson's integers are signed: counters past INT64_MAX stay there */
static json_t *num(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

char *metrics_render(const struct metrics *m, size_t *len)
{
	json_t *o = json_object(), *sensor = json_object(), *monitor = json_object();
	json_t *buckets = json_array();
	char *s = NULL;

	if (!o || !sensor || !monitor || !buckets)
		goto out;
	for (int i = 0; i < PS_STAT_MAX; i++)
		json_object_set_new(sensor, metrics_sensor_keys[i], num(m->sensor[i]));
	for (int i = 0; i < PS_MSTAT_MAX; i++)
		json_object_set_new(monitor, metrics_monitor_keys[i], num(m->monitor[i]));
	for (int i = 0; i < METRICS_WRITE_BUCKETS; i++)
		json_array_append_new(buckets, num(m->db_write_buckets[i]));
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "time", json_integer(m->time));
	json_object_set_new(o, "monitor_pid", num(m->monitor_pid));
	json_object_set(o, "sensor", sensor);
	json_object_set(o, "monitor", monitor);
	json_object_set_new(o, "flow_table", json_pack("{s:o,s:o}", "capacity", num(m->flow_capacity),
						       "flows", num(m->flows_tracked)));
	json_object_set_new(o, "ring_buffer", json_pack("{s:o,s:o}", "bytes", num(m->ringbuf_bytes),
							"records", num(m->ringbuf_records)));
	json_object_set_new(o, "hashes", num(m->hashes));
	json_object_set_new(o, "notifications", json_pack("{s:o,s:o}", "sent", num(m->notes_sent),
							  "dropped", num(m->notes_dropped)));
	json_object_set_new(o, "db_write", json_pack("{s:o,s:o,s:O}", "count", num(m->db_writes),
						     "sum_us", num(m->db_write_us), "buckets",
						     buckets));
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		*len = strlen(s);
out:
	json_decref(o);
	json_decref(sensor);
	json_decref(monitor);
	json_decref(buckets);
	return s;
}

/* A member that is absent reads as 0; one that is not a non-negative
 * integer is an error. */
static int get_num(json_t *obj, const char *key, uint64_t *ret)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	*ret = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EBADMSG;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

/* An object member that must be an object when present (NULL when absent). */
static int get_obj(json_t *obj, const char *key, json_t **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = v;
	return v && !json_is_object(v) ? -EBADMSG : 0;
}

int metrics_parse(const char *buf, size_t len, struct metrics *m)
{
	json_t *o, *sensor = NULL, *monitor = NULL, *flows = NULL, *ring = NULL, *notes = NULL;
	json_t *writes = NULL, *buckets;
	uint64_t t = 0;
	int r = 0;

	memset(m, 0, sizeof(*m));
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -EBADMSG;
	}
	if (get_obj(o, "sensor", &sensor) < 0 || get_obj(o, "monitor", &monitor) < 0 ||
	    get_obj(o, "flow_table", &flows) < 0 || get_obj(o, "ring_buffer", &ring) < 0 ||
	    get_obj(o, "notifications", &notes) < 0 || get_obj(o, "db_write", &writes) < 0)
		r = -EBADMSG;
	for (int i = 0; r == 0 && i < PS_STAT_MAX; i++)
		r = get_num(sensor, metrics_sensor_keys[i], &m->sensor[i]);
	for (int i = 0; r == 0 && i < PS_MSTAT_MAX; i++)
		r = get_num(monitor, metrics_monitor_keys[i], &m->monitor[i]);
	if (r == 0 &&
	    ((r = get_num(o, "time", &t)) < 0 || (r = get_num(o, "monitor_pid", &m->monitor_pid)) < 0 ||
	     (r = get_num(flows, "capacity", &m->flow_capacity)) < 0 ||
	     (r = get_num(flows, "flows", &m->flows_tracked)) < 0 ||
	     (r = get_num(ring, "bytes", &m->ringbuf_bytes)) < 0 ||
	     (r = get_num(ring, "records", &m->ringbuf_records)) < 0 ||
	     (r = get_num(o, "hashes", &m->hashes)) < 0 ||
	     (r = get_num(notes, "sent", &m->notes_sent)) < 0 ||
	     (r = get_num(notes, "dropped", &m->notes_dropped)) < 0 ||
	     (r = get_num(writes, "count", &m->db_writes)) < 0 ||
	     (r = get_num(writes, "sum_us", &m->db_write_us)) < 0))
		r = -EBADMSG;
	m->time = (int64_t)t;
	buckets = writes ? json_object_get(writes, "buckets") : NULL;
	if (r == 0 && buckets) {
		if (!json_is_array(buckets) || json_array_size(buckets) != METRICS_WRITE_BUCKETS)
			r = -EBADMSG;
		for (size_t i = 0; r == 0 && i < METRICS_WRITE_BUCKETS; i++) {
			json_t *v = json_array_get(buckets, i);

			if (!json_is_integer(v) || json_integer_value(v) < 0)
				r = -EBADMSG;
			else
				m->db_write_buckets[i] = (uint64_t)json_integer_value(v);
		}
	}
	json_decref(o);
	if (r < 0)
		memset(m, 0, sizeof(*m));
	return r;
}
