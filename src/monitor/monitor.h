/* The monitor: the root half of picosnitch (docs/privsep.md).  It starts
 * the logger as the desktop user, takes the few settings it needs from it,
 * loads the BPF sensor, drops every capability it no longer needs, and
 * then only reads the kernel: the sensor's maps, /proc, executables (to
 * hash them), fanotify.  What it learns goes to the logger as fixed-size
 * messages; it parses nothing a user or the network controls. */
#ifndef PS_MONITOR_MONITOR_H
#define PS_MONITOR_MONITOR_H

#include "config/paths.h"

/* Run until SIGINT or SIGTERM.  sd is the state directory, opened.
 * on_ready is called once monitoring has begun.  Returns the exit status:
 * 0, 1, or 78 for a configuration the logger refused. */
int monitor_run(struct state_dir *sd, void (*on_ready)(void *ctx), void *ready_ctx);

#endif
