/* Starting the logger: this binary re-executed as "picosnitch logger",
 * running as the desktop user (or the picosnitch system user), in a
 * session of its own, with nothing of the monitor's but the socket to it
 * and the state directory. */
#ifndef PS_PRIVSEP_SPAWN_H
#define PS_PRIVSEP_SPAWN_H

#include <sys/types.h>

/* The logger's descriptors after exec. */
#define LOGGER_CHANNEL_FD 3
#define LOGGER_STATE_FD 4

struct spawn_opts {
	uid_t uid;
	gid_t gid;
	int state_fd;		/* the state directory, opened by the monitor */
	const char *state_path;	/* its path, for messages */
};

/* Fork and exec the logger.  On success *pid is its pid and *fd the
 * monitor's end of the socketpair (close-on-exec).  Fails with the errno
 * of the step that failed, including in the child before it could exec. */
int logger_spawn(const struct spawn_opts *opts, pid_t *pid, int *fd);

/* Whether the calling process holds any descriptor beyond the standard
 * ones and the two above (for the logger's own check at start). */
int count_unexpected_fds(void);

#endif
