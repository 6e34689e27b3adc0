/* Tests of /metrics' parts: metrics.json as the logger writes it and the
 * dash reads it back (src/logger/metrics.c; exact JSON, files it refuses),
 * the label escaping of hostile executable paths, and the whole Prometheus
 * text (src/dash/dash_metrics.c) over a snitch.db made by the monitor's
 * writer: exact totals per executable, the top N and the "other" series,
 * counters only while the monitor that wrote them runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dash/dash_metrics.h"
#include "logger/metrics.h"
#include "storage/store.h"
#include "util/fsutil.h"
#include "tap.h"

static char dir[] = "/tmp/picosnitch-metrics.XXXXXX";
static pid_t fake_pid;

static pid_t monitor_pid(void)
{
	return fake_pid;
}

static char *label(const char *s, size_t len)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	dash_metrics_label(f, s, len);
	fclose(f);
	return out;
}

static void check_label(const char *in, size_t len, const char *want, const char *what)
{
	char *got = label(in, len);

	is_str(got, want, what);
	free(got);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

static void check_line(const char *text, const char *line)
{
	char what[512];

	snprintf(what, sizeof(what), "line: %s", line);
	if (!ok(text && has_line(text, line), what))
		printf("# in:\n%s", text ? text : "(null)\n");
}

/* Prometheus' own checker on the whole text (Debian's prometheus package,
 * in setup.sh's TEST_PKGS) */
static void promtool(int dirfd, const char *text)
{
	char cmd[256];

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		printf("# skip promtool: not installed (Debian's prometheus package)\n");
		return;
	}
	write_atomic_below(dirfd, "metrics.txt", text, strlen(text), 0600, -1, -1);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s/metrics.txt >&2", dir);
	is_int(system(cmd), 0, "promtool check metrics: no problem found");
	unlinkat(dirfd, "metrics.txt", 0);
}

static struct conn_row row(const char *exe, uint64_t sent, uint64_t received, uint64_t flows)
{
	return (struct conn_row){ .time = 1764849600, .exe = exe, .name = "n", .cmdline = "",
				  .sha256 = "aaa", .pexe = "", .pname = "", .pcmdline = "",
				  .psha256 = "", .gpexe = "", .gpname = "", .gpcmdline = "",
				  .gpsha256 = "", .uid = 1000, .lport = 40000, .rport = 443,
				  .laddr = "10.0.0.1", .raddr = "192.0.2.7", .domain = "",
				  .family = 2, .protocol = 6, .netns = 1, .sent = sent,
				  .received = received, .flows = flows };
}

int main(void)
{
	struct metrics m = { 0 }, back;
	char *json, *text = NULL, db[128], err[512];
	size_t len;
	struct store *st;
	struct dash_api api = { 0 };
	int dirfd;

	/* ---- metrics.json ---- */
	m.time = 1764849611;
	m.monitor_pid = 4242;
	m.sensor[PS_STAT_FLOW_MAP_FULL] = 3;
	m.sensor[PS_STAT_BYTES_LOST_SENT] = 300;
	m.sensor[PS_STAT_RINGBUF_FULL] = 7;
	m.monitor[PS_MSTAT_UNOWNED_BYTES] = 99;
	m.flow_capacity = 65536;
	m.flows_tracked = 12;
	m.ringbuf_bytes = 1048576;
	m.ringbuf_records = 501;
	m.hashes = 17;
	m.notes_sent = 2;
	m.notes_dropped = 1;
	metrics_observe_write(&m, 800);		/* <= 1 ms */
	metrics_observe_write(&m, 1000);	/* on a bound: in it */
	metrics_observe_write(&m, 1001);	/* the next */
	metrics_observe_write(&m, 9000000);	/* +Inf */
	json = metrics_render(&m, &len);
	is_str(json,
	       "{\"version\":1,\"time\":1764849611,\"monitor_pid\":4242,\"sensor\":{"
	       "\"flow_table_full\":3,\"flow_table_full_sent_bytes\":300,"
	       "\"flow_table_full_received_bytes\":0,\"ring_buffer_full\":7,"
	       "\"socket_state_unavailable\":0,\"packet_unreadable\":0,\"exec_cache_full\":0,"
	       "\"socket_without_process\":0,\"datagram_dropped_after_count\":0,\"hook_busy\":0,"
	       "\"tcp_start_missed\":0,\"flow_busy\":0,\"flow_busy_sent_bytes\":0,"
	       "\"flow_busy_received_bytes\":0,\"closed_table_full\":0,\"listener_table_full\":0,"
	       "\"tcp_state_missed\":0,\"tcp_count_contended\":0,\"first_bytes_skipped\":0,"
	       "\"socket_freeing_unseen\":0,\"packet_frame_taken\":0},\"monitor\":{\"unidentified\":0,"
	       "\"exe_mismatch\":0,\"unhashed\":0,\"replaced\":0,\"unreadable\":0,\"unowned\":0,"
	       "\"unowned_bytes\":99,\"listener_fallback\":0,\"queue_dropped\":0,\"bad_messages\":0},"
	       "\"flow_table\":{\"capacity\":65536,\"flows\":12},\"ring_buffer\":{\"bytes\":1048576,"
	       "\"records\":501},\"hashes\":17,\"notifications\":{\"sent\":2,\"dropped\":1},"
	       "\"db_write\":{\"count\":4,\"sum_us\":9002801,\"buckets\":[2,1,0,0,0,0,0,0,0,1]}}",
	       "metrics.json: every counter, the write latency in buckets");
	is_int(metrics_parse(json, len, &back), 0, "read back");
	ok(!memcmp(&m, &back, sizeof(m)), "  to the same counters");
	free(json);

	is_int(metrics_parse("{}", 2, &back), 0, "an empty object reads (all 0)");
	ok(back.hashes == 0 && back.time == 0, "  as zeros");
	{
		static const char *const bad[] = {
			"", "[]", "{\"hashes\":-1}", "{\"hashes\":1.5}", "{\"hashes\":\"1\"}",
			"{\"sensor\":[]}", "{\"sensor\":{\"hook_busy\":-2}}",
			"{\"db_write\":{\"buckets\":[1,2]}}", "{\"hashes\":1,\"hashes\":2}",
			"{\"db_write\":{\"buckets\":[0,0,0,0,0,0,0,0,0,\"x\"]}}", "{\"time\":1",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char what[128];

			snprintf(what, sizeof(what), "refused: %s", bad[i]);
			back.hashes = 5;
			is_int(metrics_parse(bad[i], strlen(bad[i]), &back), -EBADMSG, what);
			ok(back.hashes == 0, "  nothing is kept");
		}
	}

	/* ---- label values ---- */
	check_label("/usr/bin/curl", 13, "/usr/bin/curl", "a plain path as it is");
	check_label("/a\"b\\c", 6, "/a\\\"b\\\\c", "quote and backslash escaped");
	check_label("/opt/\xe7\x81\xab", 8, "/opt/\xe7\x81\xab", "UTF-8 kept");
	check_label("/x\ny", 4, "/x\\\\x0ay", "a newline becomes \\x0a (escaped for the format)");
	check_label("/x\\\ny", 5, "/x\\\\\\\\\\\\x0ay",
		    "  and then a backslash is \\\\, so the two cannot be confused");
	check_label("/e\x1b[31m", 7, "/e\\\\x1b[31m", "an escape sequence does not reach a terminal");
	check_label("/b\xff\xfe", 4, "/b\\\\xff\\\\xfe", "bytes that are not UTF-8");
	check_label("/c\xc2\x85", 4, "/c\\\\xc2\\\\x85", "a C1 control (NEL)");
	check_label("/n\0x", 4, "/n\\\\x00x", "a NUL");
	check_label("/o\xc0\xaf", 4, "/o\\\\xc0\\\\xaf", "an overlong slash");
	check_label("", 0, "", "empty");

	/* ---- the whole text ---- */
	if (!mkdtemp(dir))
		return 1;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	snprintf(db, sizeof(db), "%s/snitch.db", dir);
	api.db_path = db;
	api.monitor_pid = monitor_pid;
	api.vt.dirfd = -1;

	is_int(dash_metrics(&api, dirfd, 2, &text, &len), 0, "no snitch.db: still an answer");
	ok(text && len == strlen(text), "  with its length");
	check_line(text, "picosnitch_up 0");
	check_line(text, "picosnitch_database_up 0");
	ok(text && !strstr(text, "picosnitch_sent_bytes_total"), "  and no totals");
	free(text);

	if (store_sqlite_open(db, &st, err, sizeof(err)) < 0)
		return 1;
	{
		struct conn_row rows[] = {
			row("/usr/bin/curl", 1000, 20000, 2), row("/usr/bin/curl", 1, 2, 1),
			row("/opt/e\"v\\il\n\xff", 5000, 0, 1), row("/usr/bin/ssh", 300, 300, 1),
			row("/usr/bin/idle", 2, 3, 1), row("", 10, 20, 0),
		};

		is_int(store_write(st, rows, sizeof(rows) / sizeof(rows[0])), 0, "entries written");
	}
	st->ops->close(st);

	fake_pid = 4242;
	is_int(dash_metrics(&api, dirfd, 2, &text, &len), 0, "snitch.db, no metrics.json");
	check_line(text, "picosnitch_up 1");
	check_line(text, "picosnitch_database_up 1");
	check_line(text, "picosnitch_executables 5");
	check_line(text, "# TYPE picosnitch_sent_bytes_total counter");
	check_line(text, "picosnitch_sent_bytes_total{executable=\"/usr/bin/curl\"} 1001");
	check_line(text, "picosnitch_received_bytes_total{executable=\"/usr/bin/curl\"} 20002");
	check_line(text, "picosnitch_flows_total{executable=\"/usr/bin/curl\"} 3");
	check_line(text, "picosnitch_sent_bytes_total{executable=\"/opt/e\\\"v\\\\\\\\il\\\\x0a\\\\xff\"} 5000");
	check_line(text, "picosnitch_sent_bytes_total{other=\"true\"} 312");
	check_line(text, "picosnitch_received_bytes_total{other=\"true\"} 323");
	check_line(text, "picosnitch_flows_total{other=\"true\"} 2");
	ok(!strstr(text, "ssh"), "only the top 2 are named");
	ok(!strstr(text, "picosnitch_hashes_total"), "no counters without metrics.json");
	free(text);

	is_int(dash_metrics(&api, dirfd, 10, &text, &len), 0, "top 10");
	check_line(text, "picosnitch_sent_bytes_total{executable=\"\"} 10");
	ok(!strstr(text, "other="), "all named: no other series");
	free(text);

	json = metrics_render(&m, &len);
	is_int(write_atomic_below(dirfd, METRICS_FILE, json, len, 0600, -1, -1), 0,
	       "metrics.json written");
	free(json);
	is_int(dash_metrics(&api, dirfd, 2, &text, &len), 0, "with the counters");
	check_line(text, "picosnitch_counters_time_seconds 1764849611");
	check_line(text, "picosnitch_sensor_events_total{cause=\"flow_table_full\"} 3");
	check_line(text, "picosnitch_sensor_events_total{cause=\"ring_buffer_full\"} 7");
	check_line(text,
		   "picosnitch_sensor_lost_bytes_total{cause=\"flow_table_full\",direction=\"sent\"} 300");
	check_line(text, "picosnitch_unowned_bytes_total 99");
	check_line(text, "picosnitch_flow_table_flows 12");
	check_line(text, "picosnitch_flow_table_capacity 65536");
	check_line(text, "picosnitch_ring_buffer_bytes 1048576");
	check_line(text, "picosnitch_ring_buffer_records_total 501");
	check_line(text, "picosnitch_hashes_total 17");
	check_line(text, "picosnitch_notifications_total{result=\"sent\"} 2");
	check_line(text, "picosnitch_notifications_total{result=\"dropped\"} 1");
	check_line(text, "picosnitch_db_write_seconds_bucket{le=\"0.001\"} 2");
	check_line(text, "picosnitch_db_write_seconds_bucket{le=\"0.005\"} 3");
	check_line(text, "picosnitch_db_write_seconds_bucket{le=\"5\"} 3");
	check_line(text, "picosnitch_db_write_seconds_bucket{le=\"+Inf\"} 4");
	check_line(text, "picosnitch_db_write_seconds_sum 9.002801");
	check_line(text, "picosnitch_db_write_seconds_count 4");
	ok(!strstr(text, "_bytes\"}"), "byte counters are not events");
	promtool(dirfd, text);
	free(text);

	fake_pid = 777;
	is_int(dash_metrics(&api, dirfd, 2, &text, &len), 0, "another monitor runs");
	ok(!strstr(text, "picosnitch_hashes_total"), "  the counters of the one before are left out");
	free(text);

	write_atomic_below(dirfd, METRICS_FILE, "{\"hashes\":-1}", 13, 0600, -1, -1);
	fake_pid = 4242;
	is_int(dash_metrics(&api, dirfd, 2, &text, &len), 0, "a bad metrics.json");
	ok(!strstr(text, "picosnitch_hashes_total"), "  is left out");
	check_line(text, "picosnitch_sent_bytes_total{executable=\"/usr/bin/curl\"} 1001");
	free(text);

	dash_api_done(&api);
	unlinkat(dirfd, METRICS_FILE, 0);
	unlinkat(dirfd, "snitch.db", 0);
	unlinkat(dirfd, "snitch.db-wal", 0);
	unlinkat(dirfd, "snitch.db-shm", 0);
	close(dirfd);
	rmdir(dir);
	return tap_done();
}
