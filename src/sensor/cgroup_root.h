/* The root of the cgroup2 hierarchy, where the cgroup hooks attach. */
#ifndef PS_SENSOR_CGROUP_ROOT_H
#define PS_SENSOR_CGROUP_ROOT_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct cgroup2_mount {
	dev_t dev;		/* as mountinfo names it */
	bool whole;		/* shows the hierarchy from its root */
	char path[PATH_MAX];
};

/* One line of /proc/PID/mountinfo (modified in place): 0 for a cgroup2
 * mount, -ENOENT for another type, -EINVAL for a line that does not parse. */
int cgroup2_parse_mountinfo_line(char *line, struct cgroup2_mount *ret);

/* Path of a reachable mount of the whole hierarchy, mounting one under
 * /run/picosnitch when there is none.  0 or negative errno. */
int cgroup2_root(char **ret);

#endif
