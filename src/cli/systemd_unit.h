/* `picosnitch systemd`: the service unit file and its installation. */
#ifndef PS_CLI_SYSTEMD_UNIT_H
#define PS_CLI_SYSTEMD_UNIT_H

#include <stdbool.h>

#include "config/paths.h"

/* The unit's text for the binary at exe, for the desktop user of sd (NULL:
 * no user written in, as a package installs it); ip: allow IP sockets (the
 * logger's requests to VirusTotal).  The caller frees it. */
char *systemd_unit_text(const char *exe, const struct state_dir *sd, bool ip);

/* Write $PICOSNITCH_UNIT_DIR (default /etc/systemd/system)/picosnitch.service,
 * reload systemd if it runs, say what was done.  Returns the exit status. */
int cmd_systemd(const struct state_dir *sd);

/* `picosnitch systemd --print`: the unit for no particular user, on stdout. */
int cmd_systemd_print(void);

#endif
