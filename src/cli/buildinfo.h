/* `picosnitch version`: the version, the state directory, and what this
 * build has in it (its parts, where it looks for its data, the libraries'
 * versions as loaded). */
#ifndef PS_CLI_BUILDINFO_H
#define PS_CLI_BUILDINFO_H

#include "config/paths.h"

int cmd_version(const struct state_dir *sd);

#endif
