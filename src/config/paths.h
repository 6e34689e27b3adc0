/* Where picosnitch keeps its state: ~/.config/picosnitch of the desktop
 * user (found from SUDO_UID, SUDO_USER, DOAS_USER, else the first /home
 * user with uid >= 1000, else root), or $PICOSNITCH_DIR. */
#ifndef PS_CONFIG_PATHS_H
#define PS_CONFIG_PATHS_H

#include <stdbool.h>
#include <sys/types.h>

struct state_dir {
	char *path;	/* absolute, for messages */
	int fd;		/* O_DIRECTORY, opened without following symlinks; -1 if not open */
	uid_t uid;	/* the desktop user, who owns the directory and its files */
	gid_t gid;
	char *user;
};

/* Work out the directory and its owner; does not touch the filesystem
 * beyond reading the password database and listing /home. */
int state_dir_find(struct state_dir *ret);

/* Open it, creating missing components owned by the desktop user. */
int state_dir_open(struct state_dir *sd);

/* "<path>/<name>", for libraries that only take paths (SQLite); callers
 * must refuse symlinks themselves (SQLITE_OPEN_NOFOLLOW does). */
char *state_dir_file(const struct state_dir *sd, const char *name);

void state_dir_done(struct state_dir *sd);

#endif
