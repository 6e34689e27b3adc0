/* The logger's windows are timed on the monotonic clock and stamped with
 * the wall clock: a wall clock set back an hour must not hold the log for
 * an hour, and one set forward must not cut a window short.  The logger is
 * fed TICK messages as the monitor sends them, with both clocks under the
 * test's control. */
#include <stdint.h>
#include <string.h>

#include "logger/logger_int.h"
#include "logger/window.h"
#include "privsep/proto.h"
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
	log_set_sink(NULL, NULL);
	return tap_done();
}
