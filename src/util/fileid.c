/* A file's identity as the kernel holds it; see fileid.h.  The mount
 * table is read only when stat() and the sensor disagree (overlayfs,
 * btrfs), and the devices of our mounts are kept until a mount id is not
 * found.  Mount ids are reused after unmounting, so a kept entry can be
 * stale: a device that does not match is asked again from a fresh table
 * before a file is called another.  Mount ids are unique across mount
 * namespaces: a mount only another namespace holds (a container's, seen
 * through its /proc/PID/exe) is looked up in that process's own table,
 * read for the lookup and not kept (its ids are freed and reused as soon
 * as the container's processes end). */
#include "util/fileid.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MOUNTS_MAX 4096

struct mount_dev {
	int id;
	uint32_t dev;
	char fstype[24];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mount_dev *mounts;	/* ours (/proc/self/mountinfo) */
static size_t nmounts;

/* Read a mount table ("ID PARENT MAJOR:MINOR ... - FSTYPE ..." per line)
 * into a new array of up to MOUNTS_MAX entries. */
static int read_mounts(const char *path, struct mount_dev **ret, size_t *count)
{
	FILE *f = fopen(path, "re");
	struct mount_dev *m;
	char line[512];
	size_t n = 0;

	if (!f)
		return -errno;
	m = calloc(MOUNTS_MAX, sizeof(*m));
	if (!m) {
		fclose(f);
		return -ENOMEM;
	}
	while (n < MOUNTS_MAX && fgets(line, sizeof(line), f)) {
		unsigned int major, minor;
		int id, parent;

		if (sscanf(line, "%d %d %u:%u", &id, &parent, &major, &minor) == 4) {
			const char *sep = strstr(line, " - ");

			m[n].id = id;
			m[n].dev = (uint32_t)makedev(major, minor);
			if (sep)
				sscanf(sep + 3, "%23s", m[n].fstype);
			n++;
		}
		/* a line longer than the buffer: skip its rest */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	fclose(f);
	*ret = m;
	*count = n;
	return 0;
}

static bool find_mount(const struct mount_dev *m, size_t n, int id, uint32_t *dev, char *fstype,
		       size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].id == id) {
			if (dev)
				*dev = m[i].dev;
			if (fstype)
				snprintf(fstype, len, "%s", m[i].fstype);
			return true;
		}
	}
	return false;
}

/* The mount's device and type: from our kept table (unless fresh), else
 * from our table reread, else from the table of pid (when not 0), whose
 * file it is.  -ENOENT when no table has it, -ESRCH when only pid's could
 * and pid has exited (its mount table is gone with it). */
static int mount_of(int id, uint32_t pid, bool fresh, uint32_t *dev, char *fstype, size_t len)
{
	struct mount_dev *m;
	size_t n;
	char path[64];
	int r = -ENOENT;

	pthread_mutex_lock(&lock);
	if (!fresh && find_mount(mounts, nmounts, id, dev, fstype, len))
		r = 0;
	if (r < 0 && read_mounts("/proc/self/mountinfo", &m, &n) == 0) {
		free(mounts);
		mounts = m;
		nmounts = n;
		if (find_mount(mounts, nmounts, id, dev, fstype, len))
			r = 0;
	}
	pthread_mutex_unlock(&lock);
	if (r < 0 && pid) {
		snprintf(path, sizeof(path), "/proc/%u/mountinfo", pid);
		if (read_mounts(path, &m, &n) < 0)
			return -ESRCH;
		if (find_mount(m, n, id, dev, fstype, len))
			r = 0;
		free(m);
	}
	return r;
}

/* mnt_id and ino from /proc/self/fdinfo/fd; ino may be NULL. */
static int fdinfo(int fd, int *mnt_id, uint64_t *ino)
{
	char path[64], buf[512];
	bool have_ino = false;
	ssize_t n;
	char *p;
	int ffd;

	*mnt_id = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ffd = open(path, O_RDONLY | O_CLOEXEC);
	if (ffd < 0)
		return -errno;
	n = read(ffd, buf, sizeof(buf) - 1);
	close(ffd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, "mnt_id:", 7))
			*mnt_id = atoi(p + 7);
		else if (ino && !strncmp(p, "ino:", 4))
			have_ino = sscanf(p + 4, "%" SCNu64, ino) == 1;
	}
	if (*mnt_id < 0 || (ino && !have_ino))
		return -ENODATA;	/* before 5.14 fdinfo has no inode number */
	return 0;
}

int fileid_fstype(int fd, uint32_t pid, char *buf, size_t len)
{
	int mnt_id, r = fdinfo(fd, &mnt_id, NULL);

	if (r < 0)
		return r;
	return mount_of(mnt_id, pid, false, NULL, buf, len);
}

int fileid_kernel(int fd, uint32_t pid, uint64_t *ino, uint32_t *dev)
{
	int mnt_id, r = fdinfo(fd, &mnt_id, ino);

	if (r < 0)
		return r;
	return mount_of(mnt_id, pid, false, dev, NULL, 0);
}

int fileid_check(int fd, const struct stat *st, uint64_t ino, uint32_t dev, uint32_t mask,
		 uint32_t pid)
{
	struct stat own;
	uint64_t kino;
	uint32_t kdev;
	int mnt_id, r;

	/* fstat can fail where the kernel's own view does not: a FUSE file
	 * of another user refuses root's getattr (EACCES) */
	if (!st && fstat(fd, &own) == 0)
		st = &own;
	if (st && (uint64_t)st->st_ino == ino && ((uint32_t)st->st_dev & mask) == (dev & mask))
		return 1;
	r = fdinfo(fd, &mnt_id, &kino);
	if (r == 0)
		r = mount_of(mnt_id, pid, false, &kdev, NULL, 0);
	if (r == 0 && kino == ino && (kdev & mask) != (dev & mask))
		r = mount_of(mnt_id, pid, true, &kdev, NULL, 0);	/* a stale mount id? */
	if (r == -ESRCH)
		return r;
	return r == 0 && kino == ino && (kdev & mask) == (dev & mask);
}

bool fileid_matches(int fd, const struct stat *st, uint64_t ino, uint32_t dev, uint32_t mask,
		    uint32_t pid)
{
	return fileid_check(fd, st, ino, dev, mask, pid) == 1;
}

bool fileid_matches_path(const char *path, uint64_t ino, uint32_t dev, uint32_t mask)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	bool r;

	if (fd < 0)
		return false;
	r = fileid_matches(fd, NULL, ino, dev, mask, 0);
	close(fd);
	return r;
}

int fileid_key(int fd, uint32_t pid, uint64_t *ino, uint32_t *dev)
{
	struct stat st;

	if (fileid_kernel(fd, pid, ino, dev) == 0)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	*ino = st.st_ino;
	*dev = (uint32_t)st.st_dev;
	return 0;
}
