/* Finding the process behind a socket the sensor saw traffic on before any
 * process did I/O on it (an accepted connection, or one older than the
 * daemon): scan /proc/<pid>/fd for "socket:[inode]". */
#ifndef PS_IDENTITY_SOCKSCAN_H
#define PS_IDENTITY_SOCKSCAN_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>
#include "abi.h"

/* For each inode, the pid of a process holding it (0 if none found). */
int sockscan_find(const uint64_t *inodes, size_t n, uint32_t *ret_pids);

/* A task snapshot like the sensor's, built from /proc. */
int task_from_proc(uint32_t pid, struct ps_task *ret);

#endif
