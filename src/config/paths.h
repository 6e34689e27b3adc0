/* Where picosnitch keeps its state: ~/.config/picosnitch of the desktop
 * user (found from SUDO_UID, SUDO_USER, DOAS_USER, else the alphabetically
 * first directory in /home naming a user with uid >= 1000), else
 * /var/lib/picosnitch (no desktop user: a server), or $PICOSNITCH_DIR. */
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

/* The state directory when there is no desktop user. */
#define ROOT_STATE_DIR "/var/lib/picosnitch"

/* The user the logger runs as when there is no desktop user (the state
 * directory is root's): a system user of its own, created when missing
 * (else nobody). */
#define LOGGER_SYSTEM_USER "picosnitch"

/* When the desktop user is root, make sd's owner the logger's system user
 * (root never runs the logger).  0 or negative errno. */
int state_dir_logger_user(struct state_dir *sd);

/* Open it, creating missing components owned by sd's user; a directory
 * owned by someone else (root) is handed over to that user, with the
 * files the logger keeps in it (state_dir_hand_over). */
int state_dir_open(struct state_dir *sd);
int state_dir_hand_over(struct state_dir *sd);

/* "<path>/<name>", for libraries that only take paths (SQLite); callers
 * must refuse symlinks themselves (SQLITE_OPEN_NOFOLLOW does). */
char *state_dir_file(const struct state_dir *sd, const char *name);

void state_dir_done(struct state_dir *sd);

#endif
