/* Finding the root of the cgroup2 hierarchy to attach the cgroup hooks to.
 *
 * The first cgroup2 line of the mount table is not enough: a stock Debian
 * 12 mounts it at /sys/fs/cgroup, a hybrid layout at /sys/fs/cgroup/unified,
 * a later mount can hide an earlier one, and a bind mount or a cgroup
 * namespace can show only a subtree.  A mount is taken when mountinfo says
 * it shows the hierarchy from its root ("/"), the path still reaches that
 * mount (same device as mountinfo names, statfs says cgroup2) and the
 * directory is a root cgroup (only non-root cgroups have cgroup.type).
 * Failing all, a private mount is made. */
#include "sensor/cgroup_root.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/magic.h>

#define FALLBACK_DIR "/run/picosnitch"
#define FALLBACK FALLBACK_DIR "/cgroup2"

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int cgroup2_parse_mountinfo_line(char *line, struct cgroup2_mount *ret)
{
	char *field[10], *save = NULL, *sep, *p;
	unsigned int major, minor;
	int n = 0;

	/* id parent major:minor root mountpoint options [optional...] - type source super */
	sep = strstr(line, " - ");
	if (!sep)
		return -EINVAL;
	*sep = '\0';
	for (p = strtok_r(line, " ", &save); p && n < 5; p = strtok_r(NULL, " ", &save))
		field[n++] = p;
	if (n < 5)
		return -EINVAL;
	p = strtok_r(sep + 3, " \n", &save);
	if (!p || strcmp(p, "cgroup2"))
		return -ENOENT;
	if (sscanf(field[2], "%u:%u", &major, &minor) != 2)
		return -EINVAL;
	unescape_octal(field[3]);
	unescape_octal(field[4]);
	ret->dev = makedev(major, minor);
	ret->whole = !strcmp(field[3], "/");
	snprintf(ret->path, sizeof(ret->path), "%s", field[4]);
	return strlen(field[4]) < sizeof(ret->path) ? 0 : -ENAMETOOLONG;
}

/* The mount is usable from here: the path reaches it and shows a root cgroup. */
static bool usable(const struct cgroup2_mount *m)
{
	struct statfs sfs;
	struct stat st;
	int fd = open(m->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = fstatfs(fd, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC &&
	     fstat(fd, &st) == 0 && st.st_dev == m->dev &&
	     faccessat(fd, "cgroup.type", F_OK, AT_EACCESS) < 0 && errno == ENOENT &&
	     faccessat(fd, "cgroup.procs", F_OK, AT_EACCESS) == 0;
	close(fd);
	return ok;
}

int cgroup2_root(char **ret)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (f) {
		while (!found && getline(&line, &cap, f) > 0) {
			struct cgroup2_mount m;

			if (cgroup2_parse_mountinfo_line(line, &m) == 0 && m.whole && usable(&m))
				found = strdup(m.path);
		}
		free(line);
		fclose(f);
		if (found) {
			*ret = found;
			return 0;
		}
	}
	/* the hierarchy always exists in the kernel; it is just not mounted
	 * where this process can reach it */
	if (mkdir(FALLBACK_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(FALLBACK, 0755) < 0 && errno != EEXIST)
		return -errno;
	{
		struct statfs sfs;

		if (statfs(FALLBACK, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
			if (mount("cgroup2", FALLBACK, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  NULL) < 0)
				return -errno;
		}
	}
	*ret = strdup(FALLBACK);
	return *ret ? 0 : -ENOMEM;
}
