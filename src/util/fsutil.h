/* File helpers that never follow symbolic links below a trusted directory:
 * the state directory belongs to the desktop user while the daemon runs as
 * root, so every file in it is opened relative to a directory descriptor
 * with O_NOFOLLOW and checked to be a regular file. */
#ifndef PS_UTIL_FSUTIL_H
#define PS_UTIL_FSUTIL_H

#include <fcntl.h>
#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

/* Open a regular file below dirfd; fails with -ELOOP on a symlink and
 * -EINVAL on anything that is not a regular file.  New files get mode and,
 * when owner is not -1, that owner. */
int open_below(int dirfd, const char *name, int flags, mode_t mode, uid_t owner, gid_t group);

/* Read a whole regular file below dirfd (NUL terminated). */
int read_below(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len);

/* Replace a file below dirfd atomically: write a temporary file, fsync,
 * rename over the old one. */
int write_atomic_below(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
		       uid_t owner, gid_t group);

/* Open (creating with the given owner if missing) each component of path
 * below the directory `base` without following symlinks; returns an
 * O_DIRECTORY descriptor. */
int open_dir_nofollow(const char *base, const char *path, uid_t owner, gid_t group, int *ret_fd);

/* Read a small file (e.g. under /proc) in full. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len);

int write_full(int fd, const void *buf, size_t len);

/* Append to a log file below dirfd, kept under max bytes: when a write
 * would pass it, the file becomes name.1 (replacing the previous one) and
 * a new file takes its place (*fd is reopened).  Returns 1 when it
 * rotated, 0, or negative errno. */
int log_append(int dirfd, const char *name, int *fd, const void *buf, size_t len, off_t max);

/* A log file below dirfd that was deleted or replaced under *fd (by hand,
 * a cleaner, the directory removed): open the name again (O_WRONLY |
 * O_CREAT | O_APPEND, 0600), so nothing is written into a deleted file.
 * Returns 1 when it did, 0 when *fd is still the file, or negative errno
 * (*fd is left as it was). */
int reopen_if_stale(int dirfd, const char *name, int *fd);
/* Best-effort changes of owner, where a failure is not an error of the
 * caller's (the file stays root's and the next open as the user says so);
 * glibc's fortified headers make ignoring fchown's result an error. */
static inline void fchown_best_effort(int fd, uid_t owner, gid_t group)
{
	int r = fchown(fd, owner, group);

	(void)r;
}

static inline void fchownat_best_effort(int dirfd, const char *name, uid_t owner, gid_t group)
{
	int r = fchownat(dirfd, name, owner, group, AT_SYMLINK_NOFOLLOW);

	(void)r;
}

#endif
