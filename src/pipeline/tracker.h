/* From sensor to rows: names every flow's process (at once for new flows,
 * by a /proc scan for sockets seen before their process), turns the
 * sensor's running counters into per-drain deltas, and sums them per
 * identity over each "DB write limit" window. */
#ifndef PS_PIPELINE_TRACKER_H
#define PS_PIPELINE_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity/ident.h"
#include "sensor/sensor.h"
#include "storage/store.h"

struct tracker;

struct tracker_opts {
	bool log_addresses;	/* false: remote address and domain left empty */
	bool log_ports;		/* false: ports 0 (the -1 of exec entries stays) */
	bool log_commands;	/* false: command lines left empty */
	/* a flow's (or an exec's) process was named: called once per flow */
	void (*on_who)(void *ctx, struct ident *proc, struct ident *parent,
		       struct ident *gparent, bool exec);
	void *ctx;
};

int tracker_new(struct ident_cache *ic, struct sensor *sensor, const struct tracker_opts *opts,
		struct tracker **ret);
void tracker_free(struct tracker *t);

/* Ring buffer records. */
void tracker_on_flow(struct tracker *t, const struct ps_flow_key *k, const struct ps_flow_info *info);
void tracker_on_unowned(struct tracker *t, const struct ps_flow_key *k, uint64_t sock_ino);
/* A DNS answer that reached a socket: names for remote addresses. */
void tracker_on_dns(struct tracker *t, const uint8_t *msg, size_t len);
/* An exec with "Every exe": an entry with ports -1 in the window. */
void tracker_on_exec(struct tracker *t, const struct ps_exec_info *e);

/* Find the processes of sockets reported unowned (a /proc scan); cheap
 * when there are none. */
void tracker_resolve_unowned(struct tracker *t);

/* Read the sensor's counters and add what is new to the current window;
 * forget flows of closed sockets. */
int tracker_drain(struct tracker *t);

/* The window's rows (time = `now`).  A row whose executables are still
 * being hashed stays for the next window (a few times at most).  With
 * `final`, flows still waiting for their process or hash are written as
 * they are.  rows stay valid until tracker_rows_free(). */
struct tracker_rows {
	struct conn_row *rows;
	size_t n;
	void *priv;
};
int tracker_take_rows(struct tracker *t, int64_t now, bool final, struct tracker_rows *ret);
void tracker_rows_free(struct tracker *t, struct tracker_rows *rows);

/* What went wrong since the last call, for error.log. */
struct tracker_stats {
	uint64_t unowned_unresolved;	/* sockets whose process was never found */
	uint64_t unowned_bytes;		/* their bytes */
	uint64_t listener_fallback;	/* sockets named after their listener instead */
	uint64_t dns_unreadable;	/* DNS answers that could not be parsed */
};
void tracker_stats_take(struct tracker *t, struct tracker_stats *ret);

size_t tracker_flow_count(struct tracker *t);

#endif
