/* The "DB write limit" window: the monitor's per-flow deltas summed per
 * identity (executable, name and command line of the process, its parent
 * and grandparent, user, ports, addresses, domain, protocol, namespace).
 * Rows hold the real values; "Log ignore" is matched on them when the
 * window is taken, and only then are the privacy settings applied (rows
 * that become equal are merged). */
#ifndef PS_LOGGER_WINDOW_H
#define PS_LOGGER_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logger/idents.h"
#include "logger/strpool.h"
#include "pipeline/domains.h"
#include "pipeline/ignore.h"
#include "privsep/proto.h"
#include "storage/store.h"

/* Rows one window may hold; a window that fills is written early. */
#define WINDOW_ROWS_MAX 200000

struct window;

struct window_opts {
	bool log_addresses;	/* false: remote address and domain left empty */
	bool log_ports;		/* false: ports 0 (the -1 of exec entries stays) */
	bool log_commands;	/* false: command lines left empty */
	const struct ignore_rules *ignore;
};

int window_new(struct strpool *pool, struct idents *idents, struct domains *domains,
	       const struct window_opts *opts, struct window **ret);
void window_free(struct window *w);

/* Add one delta.  -ENOSPC when the window is full (take it first). */
int window_add(struct window *w, const struct ps_delta *d);
size_t window_rows(struct window *w);
/* For the live feed: the executable (pooled safe text) a delta counts
 * under, or NULL when "Log ignore" leaves it out (matched on what is known
 * now: a hash still being computed matches no hash rule).  A reference:
 * strpool_put() it. */
const char *window_live_exe(struct window *w, const struct ps_delta *d);

/* The window's rows (time = now).  A row whose executables are still
 * being hashed stays for the next window (a few times at most; with final,
 * never).  Valid until window_taken_free(). */
struct window_taken {
	struct conn_row *rows;
	size_t n;
	uint64_t ignored;	/* rows matched by "Log ignore" */
	void *priv;
};
int window_take(struct window *w, int64_t now, bool final, struct window_taken *ret);
void window_taken_free(struct window *w, struct window_taken *t);

#endif
