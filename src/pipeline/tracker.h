/* From sensor to traffic per flow, in the monitor: names every flow's
 * process (at once for new flows, by a /proc scan for sockets seen before
 * their process), and turns the sensor's running counters into per-drain
 * deltas, each handed on with the identities of its process, parent and
 * grandparent.  The logger sums them into windows. */
#ifndef PS_PIPELINE_TRACKER_H
#define PS_PIPELINE_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity/ident.h"
#include "privsep/proto.h"
#include "sensor/sensor.h"

struct tracker;

struct tracker_opts {
	/* a flow's (or an exec's) process was named: called once per flow */
	void (*on_who)(void *ctx, const struct ident *proc, const struct ident *parent,
		       const struct ident *gparent, bool exec);
	/* traffic of one flow since the last drain (or one exec) */
	void (*on_delta)(void *ctx, const struct ps_delta *d);
	void *ctx;
};

int tracker_new(struct ident_cache *ic, struct sensor *sensor, const struct tracker_opts *opts,
		struct tracker **ret);
void tracker_free(struct tracker *t);

/* Ring buffer records. */
void tracker_on_flow(struct tracker *t, const struct ps_flow_key *k, const struct ps_flow_info *info);
void tracker_on_unowned(struct tracker *t, const struct ps_flow_key *k, uint64_t sock_ino);
/* An exec with "Every exe": a delta with ports -1. */
void tracker_on_exec(struct tracker *t, const struct ps_exec_info *e);

/* Find the processes of sockets reported unowned (a /proc scan); cheap
 * when there are none. */
void tracker_resolve_unowned(struct tracker *t);

/* Read the sensor's counters and hand on what is new; forget flows of
 * closed sockets.  With final, flows still waiting for their process are
 * handed on as they are. */
int tracker_drain(struct tracker *t, bool final);

/* What went wrong, cumulative, for error.log. */
struct tracker_stats {
	uint64_t unowned_unresolved;	/* sockets whose process was never found */
	uint64_t unowned_bytes;		/* the bytes logged for them, all of their flows */
	uint64_t listener_fallback;	/* sockets named after their listener instead */
};
void tracker_stats_get(struct tracker *t, struct tracker_stats *ret);

size_t tracker_flow_count(struct tracker *t);

#endif
