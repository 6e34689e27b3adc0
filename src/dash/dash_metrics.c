/* GET /metrics (dash_metrics.h): the Prometheus text of snitch.db's totals
 * per executable and of the counters in metrics.json. */
#include "dash/dash_metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "logger/metrics.h"
#include "util/fsutil.h"

static bool plain_char(const unsigned char *u, size_t left, size_t *n)
{
	uint32_t cp;

	if (u[0] >= 0x20 && u[0] < 0x7f) {
		*n = 1;
		return true;
	}
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		*n = 2, cp = u[0] & 0x1f;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		*n = 3, cp = u[0] & 0x0f;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		*n = 4, cp = u[0] & 0x07;
	else
		return false;	/* a control, or not UTF-8 */
	if (*n > left)
		return false;
	for (size_t j = 1; j < *n; j++) {
		if ((u[j] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (u[j] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF; C1 controls too */
	return !((*n == 2 && cp < 0xa0) || (*n == 3 && cp < 0x800) ||
		 (*n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff));
}

/* The value as the API's "text" has it: itself when it is printable
 * UTF-8; otherwise each byte that is not (controls, invalid UTF-8) as
 * \xNN and "\" as "\\".  Then the format's own escapes: \\ and \". */
void dash_metrics_label(FILE *f, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	bool plain = true;
	size_t n;

	for (size_t i = 0; plain && i < len; i += n)
		plain = plain_char(u + i, len - i, &n);
	for (size_t i = 0; i < len; i += n) {
		if (plain_char(u + i, len - i, &n)) {
			if (u[i] == '\\')
				fputs(plain ? "\\\\" : "\\\\\\\\", f);
			else if (u[i] == '"')
				fputs("\\\"", f);
			else
				fwrite(u + i, 1, n, f);
		} else {
			n = 1;
			fprintf(f, "\\\\x%02x", u[i]);
		}
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *labels, uint64_t v)
{
	fprintf(f, "%s%s%s%s %" PRIu64 "\n", name, labels[0] ? "{" : "", labels,
		labels[0] ? "}" : "", v);
}

/* the sums per executable over all of snitch.db: 0, or -errno when it
 * cannot be read */
static int executables(FILE *f, struct dash_api *api, size_t top)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "picosnitch_sent_bytes_total",
		  "Bytes sent, per executable, over the entries in snitch.db" },
		{ "picosnitch_received_bytes_total",
		  "Bytes received, per executable, over the entries in snitch.db" },
		{ "picosnitch_flows_total",
		  "Connections (and, for exec entries, execs), per executable, in snitch.db" },
	};
	struct query_totals_req q = { .sel.dim = QUERY_DIM_EXECUTABLE, .sort = QUERY_SORT_TOTAL,
				      .limit = top };
	struct query_result *res = NULL;
	char err[512];
	int r;

	r = dash_api_db(api, err, sizeof(err));
	if (r == 0) {
		r = query_totals(api->db, &q, &res, err, sizeof(err));
		if (r < 0)
			dash_api_db_failed(api);
	}
	family(f, "picosnitch_database_up", "gauge",
	       "Whether snitch.db could be read (1) or not (0)");
	sample(f, "picosnitch_database_up", "", r == 0);
	if (r < 0)
		return r;
	family(f, "picosnitch_executables", "gauge", "Executables with entries in snitch.db");
	sample(f, "picosnitch_executables", "", res->n_groups);
	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		int64_t shown = 0, total = k == 0 ? res->sent : k == 1 ? res->received : res->flows;

		family(f, fams[k].name, "counter", fams[k].help);
		for (size_t i = 0; i < res->n_rows; i++) {
			const struct query_row *row = &res->rows[i];
			int64_t v = k == 0 ? row->sent : k == 1 ? row->received : row->flows;

			fprintf(f, "%s{executable=\"", fams[k].name);
			dash_metrics_label(f, row->value.text, row->value.len);
			fprintf(f, "\"} %" PRId64 "\n", v);
			shown += v;
		}
		if (res->n_groups > res->n_rows)
			fprintf(f, "%s{other=\"true\"} %" PRId64 "\n", fams[k].name,
				total > shown ? total - shown : 0);
	}
	query_result_free(res);
	return 0;
}

/* metrics.json, when the monitor that wrote it still runs */
static void counters(FILE *f, int dirfd, pid_t monitor)
{
	struct metrics m;
	char *buf = NULL, labels[128];
	size_t len = 0;
	uint64_t cum = 0;

	if (dirfd < 0 || monitor <= 0 ||
	    read_below(dirfd, METRICS_FILE, METRICS_FILE_MAX, &buf, &len) < 0)
		return;
	if (metrics_parse(buf, len, &m) < 0 || m.monitor_pid != (uint64_t)monitor) {
		free(buf);
		return;
	}
	free(buf);
	family(f, "picosnitch_counters_time_seconds", "gauge",
	       "When the logger last wrote these counters (unix time)");
	sample(f, "picosnitch_counters_time_seconds", "", (uint64_t)(m.time > 0 ? m.time : 0));
	family(f, "picosnitch_sensor_events_total", "counter",
	       "The BPF sensor's loss and health counters since the monitor started, by cause "
	       "(docs/api.md)");
	for (int i = 0; i < PS_STAT_MAX; i++) {
		if (strstr(metrics_sensor_keys[i], "_bytes"))
			continue;
		snprintf(labels, sizeof(labels), "cause=\"%s\"", metrics_sensor_keys[i]);
		sample(f, "picosnitch_sensor_events_total", labels, m.sensor[i]);
	}
	family(f, "picosnitch_sensor_lost_bytes_total", "counter",
	       "Bytes the sensor could not count, by cause and direction");
	sample(f, "picosnitch_sensor_lost_bytes_total", "cause=\"flow_table_full\",direction=\"sent\"",
	       m.sensor[PS_STAT_BYTES_LOST_SENT]);
	sample(f, "picosnitch_sensor_lost_bytes_total",
	       "cause=\"flow_table_full\",direction=\"received\"", m.sensor[PS_STAT_BYTES_LOST_RECV]);
	sample(f, "picosnitch_sensor_lost_bytes_total", "cause=\"flow_busy\",direction=\"sent\"",
	       m.sensor[PS_STAT_BUSY_LOST_SENT]);
	sample(f, "picosnitch_sensor_lost_bytes_total", "cause=\"flow_busy\",direction=\"received\"",
	       m.sensor[PS_STAT_BUSY_LOST_RECV]);
	family(f, "picosnitch_monitor_events_total", "counter",
	       "What the monitor could not name or pass on, by cause, since it started");
	for (int i = 0; i < PS_MSTAT_MAX; i++) {
		if (i == PS_MSTAT_UNOWNED_BYTES)
			continue;
		snprintf(labels, sizeof(labels), "cause=\"%s\"", metrics_monitor_keys[i]);
		sample(f, "picosnitch_monitor_events_total", labels, m.monitor[i]);
	}
	family(f, "picosnitch_unowned_bytes_total", "counter",
	       "Bytes of sockets whose process was never found (logged without a process)");
	sample(f, "picosnitch_unowned_bytes_total", "", m.monitor[PS_MSTAT_UNOWNED_BYTES]);
	family(f, "picosnitch_flow_table_flows", "gauge", "Flows in the sensor's flow table");
	sample(f, "picosnitch_flow_table_flows", "", m.flows_tracked);
	family(f, "picosnitch_flow_table_capacity", "gauge", "Flows the sensor's flow table holds");
	sample(f, "picosnitch_flow_table_capacity", "", m.flow_capacity);
	family(f, "picosnitch_ring_buffer_bytes", "gauge", "Size of the sensor's event ring buffer");
	sample(f, "picosnitch_ring_buffer_bytes", "", m.ringbuf_bytes);
	family(f, "picosnitch_ring_buffer_records_total", "counter",
	       "Records read from the event ring buffer (those lost: "
	       "picosnitch_sensor_events_total{cause=\"ring_buffer_full\"})");
	sample(f, "picosnitch_ring_buffer_records_total", "", m.ringbuf_records);
	family(f, "picosnitch_hashes_total", "counter", "Executables the monitor read and hashed");
	sample(f, "picosnitch_hashes_total", "", m.hashes);
	family(f, "picosnitch_notifications_total", "counter",
	       "Desktop notifications shown (sent) or dropped");
	sample(f, "picosnitch_notifications_total", "result=\"sent\"", m.notes_sent);
	sample(f, "picosnitch_notifications_total", "result=\"dropped\"", m.notes_dropped);
	family(f, "picosnitch_db_write_seconds", "histogram",
	       "How long each write of a window's entries to snitch.db took");
	for (int i = 0; i < METRICS_WRITE_BUCKETS; i++) {
		cum += m.db_write_buckets[i];
		if (i < METRICS_WRITE_BUCKETS - 1)
			fprintf(f, "picosnitch_db_write_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
				(double)metrics_write_bounds_us[i] / 1e6, cum);
		else
			fprintf(f, "picosnitch_db_write_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
				cum);
	}
	fprintf(f, "picosnitch_db_write_seconds_sum %.6f\n", (double)m.db_write_us / 1e6);
	/* the buckets are the count: a hand-edited file cannot make them differ */
	fprintf(f, "picosnitch_db_write_seconds_count %" PRIu64 "\n", cum);
}

int dash_metrics(struct dash_api *api, int dirfd, size_t top, char **body, size_t *len)
{
	pid_t monitor = api->monitor_pid ? api->monitor_pid() : 0;
	FILE *f;

	*body = NULL;
	*len = 0;
	f = open_memstream(body, len);
	if (!f)
		return -ENOMEM;
	family(f, "picosnitch_up", "gauge", "Whether the monitor runs (1) or not (0)");
	sample(f, "picosnitch_up", "", monitor > 0);
	executables(f, api, top);
	counters(f, dirfd, monitor);
	if (fclose(f) != 0 || !*body) {
		free(*body);
		*body = NULL;
		return -ENOMEM;
	}
	return 0;
}
