/* The live feed: each second's traffic per executable, for `picosnitch
 * dash` (and any program of the same user) on a Unix socket in the state
 * directory, live.sock.  The logger sums what the monitor drained in a
 * second and, at the tick, sends it to every reader as one JSON datagram:
 *
 *   {"time":T,"ms":M,"executables":[{"executable":E,"sent":S,"received":R},...],
 *    "others":{"executables":N,"sent":S,"received":R}}
 *
 * T is the wall clock at the tick (unix seconds), M the milliseconds the
 * sums cover.  The busiest executables come first, at most LIVE_TOP of
 * them and at most LIVE_DATAGRAM_MAX bytes in all; the rest are summed in
 * "others".  Executable names are the logger's safe text, as in snitch.db.
 *
 * Cost and bounds: nothing is summed while no reader is connected; at
 * most LIVE_CLIENTS_MAX readers (more are closed at once and counted); a
 * reader whose socket buffer is full misses that second (counted) and the
 * logger never waits for it.  A reader must be this user (or root): the
 * socket is 0600 in the user's own directory, and SO_PEERCRED is checked
 * too.  With one dash serving any number of browsers, the logger has one
 * reader. */
#ifndef PS_LOGGER_LIVE_H
#define PS_LOGGER_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIVE_SOCKET "live.sock"
#define LIVE_TOP 50			/* executables named per second */
#define LIVE_EXES_MAX 4096		/* executables summed per second; the rest
					 * go straight to "others" */
#define LIVE_DATAGRAM_MAX 32768		/* bytes of one second's JSON */
#define LIVE_CLIENTS_MAX 8

struct live;

struct live_stats {
	uint64_t refused;	/* readers closed: too many, or another user */
	uint64_t missed;	/* seconds a reader's full buffer made it miss */
	uint64_t overflow;	/* executables past LIVE_EXES_MAX in a second */
};

/* Listen on live.sock in the directory dirfd (a stale socket there is
 * replaced; anything else there is an error: -EEXIST). */
int live_open(int dirfd, struct live **ret);
/* live.sock removed or replaced while running (its directory removed and
 * made again, a cleaner): listen on a new one, on the same descriptor
 * number (a new open file: poll it again).  0 when it is still there, 1
 * when made again, negative errno when it cannot be.  Readers already
 * connected stay. */
int live_check(struct live *lv, int dirfd);
/* Stop listening and remove live.sock. */
void live_close(struct live *lv, int dirfd);
/* The listening socket, to poll for readers. */
int live_fd(const struct live *lv);
/* Take the readers waiting to connect. */
void live_accept(struct live *lv);
/* Whether anyone reads (when not, live_add need not be called). */
bool live_wanted(const struct live *lv);
/* Count traffic of an executable (safe text) in this second. */
void live_add(struct live *lv, const char *exe, uint64_t sent, uint64_t received);
/* Send this second to every reader and start the next one; now is the
 * wall clock, elapsed_ms what the second covered. */
void live_publish(struct live *lv, int64_t now, uint64_t elapsed_ms);
void live_stats(const struct live *lv, struct live_stats *ret);

/* The JSON of one second (for live_publish and tests): sets *len; NULL
 * when out of memory.  Resets the sums. */
char *live_render(struct live *lv, int64_t now, uint64_t elapsed_ms, size_t *len);

#endif
