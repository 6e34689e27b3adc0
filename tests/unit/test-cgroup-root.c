/* Tests of src/sensor/cgroup_root.c: reading mountinfo lines of the
 * layouts picosnitch meets (stock Debian 12, hybrid, escaped paths, bind
 * mounts of a subtree, other file systems, garbage), and the chosen root
 * on this machine being a reachable root cgroup. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/magic.h>

#include "sensor/cgroup_root.h"
#include "tap.h"

static int parse(const char *text, struct cgroup2_mount *m)
{
	char line[512];

	snprintf(line, sizeof(line), "%s", text);
	return cgroup2_parse_mountinfo_line(line, m);
}

int main(void)
{
	struct cgroup2_mount m;
	struct statfs sfs;
	char *root = NULL;
	int r;

	r = parse("35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 "
		  "cgroup2 rw,nsdelegate,memory_recursiveprot\n", &m);
	is_int(r, 0, "stock Debian 12: cgroup2 at /sys/fs/cgroup parses");
	is_str(m.path, "/sys/fs/cgroup", "  its mount point");
	ok(m.whole, "  it shows the whole hierarchy");
	ok(major(m.dev) == 0 && minor(m.dev) == 30, "  its device is 0:30");

	r = parse("40 33 0:34 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", &m);
	is_int(r, 0, "hybrid: cgroup2 at /sys/fs/cgroup/unified parses");
	is_str(m.path, "/sys/fs/cgroup/unified", "  its mount point");

	r = parse("41 33 0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", &m);
	is_int(r, -ENOENT, "a cgroup v1 mount is not taken");
	r = parse("22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n", &m);
	is_int(r, -ENOENT, "another file system is not taken");

	r = parse("50 35 0:30 /system.slice/x.service /srv/cg rw shared:1 master:2 - cgroup2 cgroup2 rw\n",
		  &m);
	is_int(r, 0, "a bind mount of a subtree parses (optional fields too)");
	ok(!m.whole, "  and does not show the whole hierarchy");

	r = parse("51 35 0:30 / /mnt/with\\040space\\011tab rw - cgroup2 none rw\n", &m);
	is_int(r, 0, "escaped mount point parses");
	is_str(m.path, "/mnt/with space\ttab", "  with its escapes undone");

	is_int(parse("garbage\n", &m), -EINVAL, "a line without ' - ' is refused");
	is_int(parse("1 2 x / /a rw - cgroup2 c rw\n", &m), -EINVAL, "a bad device is refused");
	is_int(parse("1 2 - cgroup2 c rw\n", &m), -EINVAL, "too few fields are refused");

	r = cgroup2_root(&root);
	is_int(r, 0, "a cgroup2 root is found or mounted here");
	ok(root && statfs(root, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC,
	   "  it is a cgroup2 file system");
	if (root) {
		char p[4200];

		snprintf(p, sizeof(p), "%s/cgroup.type", root);
		ok(access(p, F_OK) < 0 && errno == ENOENT, "  and its root cgroup (no cgroup.type)");
		printf("# cgroup2 root here: %s\n", root);
	} else {
		ok(0, "  and its root cgroup (no cgroup.type)");
	}
	free(root);
	return tap_done();
}
