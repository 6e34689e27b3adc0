/* Symlink-safe file access below a directory descriptor, and plain reads. */
#include "util/fsutil.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int open_below(int dirfd, const char *name, int flags, mode_t mode, uid_t owner, gid_t group)
{
	struct stat st;
	int fd, r;

	if (strchr(name, '/'))
		return -EINVAL;
	/* O_NONBLOCK: opening a FIFO someone put here must not hang */
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto fail;
	}
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	if (owner != (uid_t)-1 && st.st_uid != owner && st.st_size == 0 && (flags & O_CREAT))
		fchown_best_effort(fd, owner, group);
	return fd;
fail:
	close(fd);
	return r;
}

static int read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *p;

			if (cap >= max + 1) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int read_below(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	int fd = open_below(dirfd, name, O_RDONLY, 0, (uid_t)-1, (gid_t)-1), r;

	if (fd < 0)
		return fd;
	r = read_fd(fd, max, ret, ret_len);
	close(fd);
	return r;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = read_fd(fd, max, ret, ret_len);
	close(fd);
	return r;
}

int write_atomic_below(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
		       uid_t owner, gid_t group)
{
	char tmp[256];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp-%d", name, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (owner != (uid_t)-1)
		fchown_best_effort(fd, owner, group);
	r = write_full(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

/* Whether strtok_r's rest holds no further component. */
static bool is_last(const char *rest)
{
	return !rest || !rest[strspn(rest, "/")];
}

int open_dir_nofollow(const char *base, const char *path, uid_t owner, gid_t group, int *ret_fd)
{
	char *copy, *save = NULL, *part;
	int fd, r = 0;

	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	copy = strdup(path);
	if (!copy) {
		close(fd);
		return -ENOMEM;
	}
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		int next;

		if (!strcmp(part, ".") || !strcmp(part, "..")) {
			r = -EINVAL;
			break;
		}
		next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			/* the directory itself is its owner's alone; those on the
			 * way (~/.config) are ordinary ones */
			if (mkdirat(fd, part, is_last(save) ? 0700 : 0755) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next >= 0 && owner != (uid_t)-1)
				fchown_best_effort(next, owner, group);
		}
		if (next < 0) {
			/* ELOOP/ENOTDIR: a symlink or a file where a directory belongs */
			r = -errno;
			break;
		}
		close(fd);
		fd = next;
	}
	free(copy);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int log_append(int dirfd, const char *name, int *fd, const void *buf, size_t len, off_t max)
{
	const char *test_max = getenv("PICOSNITCH_LOG_MAX");
	struct stat st;
	int rotated = 0, r;

	/* PICOSNITCH_LOG_MAX=bytes: a small bound, for tests of rotation */
	if (test_max && atol(test_max) > 0)
		max = atol(test_max);
	if (*fd < 0)
		return -EBADF;
	if (fstat(*fd, &st) == 0 && st.st_size > 0 && st.st_size + (off_t)len > max) {
		char old[256];
		int nfd;

		snprintf(old, sizeof(old), "%s.1", name);
		if (renameat(dirfd, name, dirfd, old) == 0) {
			nfd = open_below(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_EXCL, 0600,
					 (uid_t)-1, (gid_t)-1);
			if (nfd >= 0) {
				close(*fd);
				*fd = nfd;
				rotated = 1;
			}
		}
	}
	r = write_full(*fd, buf, len);
	return r < 0 ? r : rotated;
}

int reopen_if_stale(int dirfd, const char *name, int *fd)
{
	struct stat mine, named;
	int nfd;

	if (*fd >= 0 && fstat(*fd, &mine) == 0 && mine.st_nlink > 0 &&
	    fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 && mine.st_dev == named.st_dev &&
	    mine.st_ino == named.st_ino)
		return 0;
	nfd = open_below(dirfd, name, O_WRONLY | O_CREAT | O_APPEND, 0600, (uid_t)-1, (gid_t)-1);
	if (nfd < 0)
		return nfd;
	if (*fd >= 0)
		close(*fd);
	*fd = nfd;
	return 1;
}
