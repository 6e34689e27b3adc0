/* The monitor: one process, one event loop (ring buffer, drain timer,
 * signals), writing the connection log every "DB write limit" seconds. */
#ifndef PS_DAEMON_DAEMON_H
#define PS_DAEMON_DAEMON_H

#include "config/config.h"
#include "config/paths.h"

/* Read config.json from the state directory, adding missing keys with
 * their defaults (and writing them back).  Errors are logged here. */
int daemon_load_config(struct state_dir *sd, struct config *ret);

/* Run in the foreground until SIGINT or SIGTERM; everything counted is
 * written before it returns.  Readiness is told to systemd (sd_notify,
 * when $NOTIFY_SOCKET is set) and to on_ready, if given, once the monitor
 * is monitoring.  Returns 0 or a negative errno. */
int daemon_run(struct state_dir *sd, struct config *cfg, void (*on_ready)(void *ctx),
	       void *ready_ctx);

#endif
