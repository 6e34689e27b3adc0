/* What /proc can tell about processes that were not seen starting: the
 * holder of a socket the sensor saw traffic on before any process did I/O
 * on it (scan of /proc/<pid>/fd for "socket:[inode]"), task snapshots,
 * and the seeding of the sensor's exec cache with processes older than
 * the daemon. */
#ifndef PS_IDENTITY_PROCSCAN_H
#define PS_IDENTITY_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>
#include "abi.h"

/* For each inode, the pid of a process holding it (0 if none found). */
int sockscan_find(const uint64_t *inodes, size_t n, uint32_t *ret_pids);

/* A task snapshot like the sensor's, built from /proc (start times have
 * clock-tick precision). */
int task_from_proc(uint32_t pid, struct ps_task *ret);

/* Put every running process into the sensor's exec cache (map fd), so a
 * process that was already running when the daemon started can still be
 * named after it exits.  Returns the number of processes added. */
int exec_cache_seed(int execs_fd);

#endif
