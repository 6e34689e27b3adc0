/* The logger: the unprivileged half of picosnitch (docs/privsep.md).  It
 * runs as the desktop user (or the picosnitch system user), started by the
 * monitor as "picosnitch logger" with the socket to the monitor on fd 3 and
 * the state directory on fd 4.  It reads config.json, turns the monitor's
 * messages into windows of traffic, writes snitch.db, conn.log,
 * record.json, exe.log and error.log, parses DNS answers, and sends the
 * desktop notifications. */
#ifndef PS_LOGGER_LOGGER_H
#define PS_LOGGER_LOGGER_H

/* The hidden command "logger"; returns the exit status. */
int logger_main(void);

#endif
