/* The daemon's lifecycle from the command line: the pidfile, start
 * (daemonize), start-no-daemon, stop, restart, status, and running the
 * privileged commands as root. */
#ifndef PS_CLI_SERVICE_H
#define PS_CLI_SERVICE_H

#include <stdbool.h>
#include <sys/types.h>

#include "config/paths.h"

#define DEFAULT_PIDFILE "/run/picosnitch.pid"

/* Exit statuses beyond 0/1 (status follows the LSB init-script codes). */
#define EXIT_USAGE 2
#define EXIT_CONFIG 78		/* EX_CONFIG: config.json is wrong; systemd does not restart */
#define EXIT_STALE_PIDFILE 1	/* status: not running, pidfile left behind */
#define EXIT_NOT_RUNNING 3	/* status: not running */

/* $PICOSNITCH_PIDFILE or /run/picosnitch.pid. */
const char *pidfile_path(void);

/* Re-run this command as root through doas or sudo, or explain that root is
 * needed and why.  Returns only on failure, with the exit status. */
int run_as_root(const char *cmd, const char *why);

int cmd_start_no_daemon(struct state_dir *sd);
int cmd_start(struct state_dir *sd);
int cmd_stop(void);
int cmd_restart(struct state_dir *sd);
/* json: one JSON object instead of a sentence (same exit status). */
int cmd_status(const struct state_dir *sd, bool json);
/* The pid of the running monitor, or 0. */
pid_t monitor_running_pid(void);

#endif
