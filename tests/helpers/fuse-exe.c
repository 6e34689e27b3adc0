/* fuse-exe: a FUSE file system holding one read-only executable, mounted by
 * an ordinary user without allow_other, so that even root gets EACCES
 * opening it (like an AppImage or a program on sshfs).  Tests check that
 * picosnitch still hashes programs run from it, through its helper that
 * runs as the desktop user.
 *
 *   fuse-exe SOURCE-FILE MOUNTPOINT UID GID     (stays in the foreground)
 *
 * Started as root, it mounts for UID itself (machines without udev leave
 * /dev/fuse root-only) and then runs as UID:GID.  The file appears as
 * MOUNTPOINT/prog; `umount MOUNTPOINT` ends it.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int src_fd = -1;
static struct stat src_st;

static int fx_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/prog"))
		return -ENOENT;
	st->st_mode = S_IFREG | 0755;
	st->st_nlink = 1;
	st->st_size = src_st.st_size;
	st->st_uid = getuid();
	st->st_gid = getgid();
	return 0;
}

static int fx_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/"))
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "prog", NULL, 0, 0);
	return 0;
}

static int fx_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/prog"))
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	return 0;
}

static int fx_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)path;
	(void)fi;
	n = pread(src_fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static const struct fuse_operations ops = {
	.getattr = fx_getattr,
	.readdir = fx_readdir,
	.open = fx_open,
	.read = fx_read,
};

int main(int argc, char **argv)
{
	char devpath[32], opts[128];
	char *fargs[] = { argv[0], "-f", "-s", devpath, NULL };
	uid_t uid;
	gid_t gid;
	int dev;

	if (argc != 5) {
		fprintf(stderr, "usage: fuse-exe SOURCE-FILE MOUNTPOINT UID GID\n");
		return 2;
	}
	uid = (uid_t)atoi(argv[3]);
	gid = (gid_t)atoi(argv[4]);
	src_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (src_fd < 0 || fstat(src_fd, &src_st) < 0) {
		fprintf(stderr, "fuse-exe: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	dev = open("/dev/fuse", O_RDWR);
	if (dev < 0) {
		fprintf(stderr, "fuse-exe: /dev/fuse: %s\n", strerror(errno));
		return 1;
	}
	/* no allow_other: only uid may enter, root included in the refusal */
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=%u,group_id=%u", dev,
		 (unsigned)uid, (unsigned)gid);
	if (mount("fuse-exe", argv[2], "fuse.fuse-exe", MS_NOSUID | MS_NODEV, opts) < 0) {
		fprintf(stderr, "fuse-exe: mount %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		fprintf(stderr, "fuse-exe: cannot become %u:%u: %s\n", (unsigned)uid, (unsigned)gid,
			strerror(errno));
		umount2(argv[2], MNT_DETACH);
		return 1;
	}
	snprintf(devpath, sizeof(devpath), "/dev/fd/%d", dev);
	return fuse_main(4, fargs, &ops, NULL);
}
