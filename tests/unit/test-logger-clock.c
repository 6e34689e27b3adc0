/* The logger's windows are timed on the monotonic clock and stamped with
 * the wall clock: a wall clock set back an hour must not hold the log for
 * an hour, and one set forward must not cut a window short.  The logger is
 * fed TICK messages as the monitor sends them, with both clocks under the
 * test's control.  snitch.db's rollups follow the wall clock too: a day is
 * summed at the first tick after it ended, a long history a few days per
 * tick, and a row stamped into a summed day (the clock set back) makes
 * that day be summed again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "logger/logger_int.h"
#include "logger/window.h"
#include "privsep/proto.h"
#include "storage/store.h"
#include "tap.h"
#include "util/log.h"

static int64_t wall;	/* unix seconds */
static uint64_t mono;	/* ms */

static int64_t fake_wall(void)
{
	return wall;
}

static uint64_t fake_mono(void)
{
	return mono;
}

static void quiet(void *ctx, enum log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

/* one drain's tick after `ms` of monotonic time and `wall_step` seconds of
 * wall clock; whether the window was taken */
static int tick(struct logger *l, uint64_t ms, int64_t wall_step)
{
	struct ps_msg_tick t;
	uint64_t before = l->window_start_ms;

	mono += ms;
	wall += wall_step;
	proto_init(&t, PS_MSG_TICK);
	t.now = wall;
	logger_handle(l, &t, sizeof(t));
	return l->window_start_ms != before;
}

static int64_t covered_until(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (sqlite3_prepare_v2(db, "SELECT complete_until FROM rollup_state", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static struct conn_row entry(int64_t time)
{
	return (struct conn_row){ .time = time, .sent = 1, .received = 2, .flows = 1, .exe = "/usr/bin/curl",
				  .name = "curl", .uid = 1000, .lport = 40000, .rport = 443,
				  .laddr = "192.0.2.1", .raddr = "203.0.113.5", .family = 2, .protocol = 6 };
}

#define DAY 86400

/* 2024-03-01 00:00 UTC: 30 days of history before it */
#define TODAY 1709251200LL

static void test_rollups(void)
{
	char dir[] = "/tmp/picosnitch-clock.XXXXXX", path[64], err[512];
	struct logger l;
	struct conn_row rows[30];
	int64_t first;

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/snitch.db", dir);
	memset(&l, 0, sizeof(l));
	wall = TODAY + 3600;
	mono = 5000;
	l.wall_clock = fake_wall;
	l.mono_clock_ms = fake_mono;
	if (logger_init(&l, -1, "/nonexistent", false) < 0 ||
	    store_sqlite_open(path, &l.stores[0], err, sizeof(err)) < 0)
		abort();
	l.nstores = 1;
	l.cfg.db_write_limit = 10;
	l.rollup_budget_ms = 3600 * 1000;
	for (int i = 0; i < 30; i++)
		rows[i] = entry(TODAY - (30 - i) * DAY + 600);
	store_write(l.stores[0], rows, 30);
	tick(&l, 1000, 1);
	first = covered_until(path);
	/* a step passes the empty days before the first entry, then a day a step */
	is_int(first, TODAY - 23 * DAY, "a month of history: summed a few days per tick (7 after the first)");
	tick(&l, 1000, 1);
	is_int(covered_until(path), TODAY - 15 * DAY, "  8 more at the next tick");
	tick(&l, 1000, 1);
	tick(&l, 1000, 1);
	is_int(covered_until(path), TODAY, "  and so on, up to the start of today");
	l.stores[0]->ops->write(l.stores[0], (struct conn_row[]){ entry(TODAY + 7200) }, 1);
	wall = TODAY + DAY - 2;
	tick(&l, 1000, 0);
	is_int(covered_until(path), TODAY, "today is not summed before it ends");
	tick(&l, 1000, 2);
	is_int(covered_until(path), TODAY + DAY, "  and is at the first tick after midnight (UTC)");
	/* the wall clock set back two days (to yesterday 01:00): a row
	 * stamped then */
	wall -= 2 * DAY - 3600;
	l.stores[0]->ops->write(l.stores[0], (struct conn_row[]){ entry(wall) }, 1);
	is_int(covered_until(path), TODAY - DAY + 3600,
	       "a row stamped with a clock set back ends the coverage at its time");
	tick(&l, 1000, 1);
	is_int(covered_until(path), TODAY - DAY + 3600,
	       "  its day is not summed again while the clock is in it");
	wall += 2 * DAY;
	tick(&l, 1000, 1);
	is_int(covered_until(path), TODAY + DAY, "  and the rest once the clock is right again");
	logger_done(&l);
	unlink(path);
	snprintf(path, sizeof(path), "%s/snitch.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/snitch.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	struct logger l;
	int taken;

	memset(&l, 0, sizeof(l));
	log_set_sink(quiet, NULL);
	wall = 1700000000;
	mono = 5000;
	l.wall_clock = fake_wall;
	l.mono_clock_ms = fake_mono;
	if (logger_init(&l, -1, "/nonexistent", false) < 0)
		return 1;
	l.cfg.db_write_limit = 10;

	taken = 0;
	for (int i = 0; i < 9; i++)
		taken += tick(&l, 1000, 1);
	is_int(taken, 0, "nine 1 s ticks into a 10 s window take nothing");
	is_int(tick(&l, 1000, -3600), 1,
	       "the tenth takes the window, though the wall clock went back an hour meanwhile");
	taken = 0;
	for (int i = 0; i < 9; i++)
		taken += tick(&l, 1000, 1);
	is_int(taken, 0, "after the jump back, the next window is not held an hour: 9 s take nothing");
	is_int(tick(&l, 1000, 1), 1, "and the 10th second takes it");
	is_int(tick(&l, 1000, 86400), 0, "a wall clock set a day forward does not cut a window short");
	taken = 0;
	for (int i = 0; i < 8; i++)
		taken += tick(&l, 1000, 1);
	is_int(taken, 0, "  (8 more seconds: still the same window)");
	is_int(tick(&l, 1000, 1), 1, "  which ends after its 10 s");
	is_int(tick(&l, 9800, 10), 1, "a tick a little early (9.8 s) still ends its window");

	logger_done(&l);
	test_rollups();
	log_set_sink(NULL, NULL);
	return tap_done();
}
