/* A file's identity as the kernel holds it: the inode number and its super
 * block's device, which is what the BPF sensor reads from a process
 * (mm->exe_file).  stat() does not always show it: overlayfs (every
 * Docker and Podman container, live systems) reports the device of a
 * lower layer, or a pseudo device, and may report another inode number;
 * btrfs reports a subvolume's device.  /proc/self/fdinfo/FD gives the
 * inode number and the mount, and the mount table the mount's device.
 *
 * pid, where a function takes one: the process the descriptor was opened
 * through (/proc/PID/exe), or 0.  A file of a container is on a mount
 * only the container's mount namespace holds, so that process's mount
 * table names its device. */
#ifndef PS_UTIL_FILEID_H
#define PS_UTIL_FILEID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The kernel's (ino, dev) of an open file (O_PATH descriptors too), dev
 * in the stat() encoding.  0 or negative errno. */
int fileid_kernel(int fd, uint32_t pid, uint64_t *ino, uint32_t *dev);

/* Whether the open file is (ino, dev): by st (fstat of fd, or NULL to
 * fstat here) when its numbers match under mask, else by the kernel's
 * view, exactly. */
bool fileid_matches(int fd, const struct stat *st, uint64_t ino, uint32_t dev, uint32_t mask,
		    uint32_t pid);

/* The same, telling "not known" apart: 1 the file, 0 another file,
 * -ESRCH when only pid's mount table could name the device and pid has
 * exited since the descriptor was opened. */
int fileid_check(int fd, const struct stat *st, uint64_t ino, uint32_t dev, uint32_t mask,
		 uint32_t pid);

/* The same for a path, opened with O_PATH (following links, as stat). */
bool fileid_matches_path(const char *path, uint64_t ino, uint32_t dev, uint32_t mask);

/* The type of the file system an open file is on, as the mount table
 * names it ("ext4", "fuse.sshfs"...), without asking the file system
 * (which a FUSE server could leave unanswered).  0 or negative errno. */
int fileid_fstype(int fd, uint32_t pid, char *buf, size_t len);

/* The identity to key a file by: the kernel's when it can be read, else
 * stat's.  0 or negative errno. */
int fileid_key(int fd, uint32_t pid, uint64_t *ino, uint32_t *dev);

#endif
