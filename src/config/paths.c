/* Finding and opening the state directory of the desktop user. */
#include "config/paths.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/strutil.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* First entry of /home (sorted, so the choice is stable) that names a
 * user with uid >= 1000. */
static struct passwd *first_home_user(void)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct passwd *pw = NULL;
	DIR *d = opendir("/home");

	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **p = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));

			if (!p)
				break;
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && !pw; i++) {
		struct passwd *p = getpwnam(names[i]);

		if (p && p->pw_uid >= 1000)
			pw = p;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return pw;
}

static struct passwd *desktop_user(void)
{
	const char *v;
	struct passwd *pw;
	uint64_t uid;

	if (geteuid() != 0)
		return getpwuid(geteuid());
	v = getenv("SUDO_UID");
	if (v && parse_u64(v, &uid) == 0 && (pw = getpwuid((uid_t)uid)))
		return pw;
	v = getenv("SUDO_USER");
	if (v && *v && (pw = getpwnam(v)))
		return pw;
	v = getenv("DOAS_USER");
	if (v && *v && (pw = getpwnam(v)))
		return pw;
	pw = first_home_user();
	if (pw)
		return pw;
	return getpwuid(0);
}

int state_dir_find(struct state_dir *ret)
{
	struct passwd *pw = desktop_user();
	const char *override = getenv("PICOSNITCH_DIR");
	struct state_dir sd = { .fd = -1 };

	if (!pw)
		return -ENOENT;
	sd.uid = pw->pw_uid;
	sd.gid = pw->pw_gid;
	sd.user = strdup(pw->pw_name);
	if (override && *override) {
		if (override[0] != '/') {
			free(sd.user);
			return -EINVAL;
		}
		sd.path = strdup(override);
	} else if (pw->pw_uid == 0) {
		/* no desktop user (a server): the logger runs as a system user,
		 * which must reach the directory by path (SQLite opens by path) */
		sd.path = strdup(ROOT_STATE_DIR);
	} else if (asprintf(&sd.path, "%s/.config/picosnitch", pw->pw_dir) < 0) {
		sd.path = NULL;
	}
	if (!sd.user || !sd.path) {
		free(sd.user);
		free(sd.path);
		return -ENOMEM;
	}
	*ret = sd;
	return 0;
}

int state_dir_open(struct state_dir *sd)
{
	struct passwd *pw = getpwnam(sd->user);
	const char *base = "/", *rel = sd->path + 1;
	char parent[PATH_MAX];
	int r;

	/* The home directory itself is trusted (it comes from the password
	 * database); what the user controls below it is not. */
	if (!getenv("PICOSNITCH_DIR") && pw && str_has_prefix(sd->path, pw->pw_dir) &&
	    sd->path[strlen(pw->pw_dir)] == '/') {
		base = pw->pw_dir;
		rel = sd->path + strlen(pw->pw_dir) + 1;
	} else if (getenv("PICOSNITCH_DIR")) {
		/* an explicit directory: resolve its parent once (the admin chose
		 * it), then refuse symlinks for the last component */
		char *slash, *copy = strdup(sd->path);

		if (!copy)
			return -ENOMEM;
		slash = strrchr(copy, '/');
		*slash = '\0';
		if (!realpath(*copy ? copy : "/", parent)) {
			r = -errno;
			free(copy);
			return r;
		}
		free(copy);
		base = parent;
		rel = strrchr(sd->path, '/') + 1;
	}
	r = open_dir_nofollow(base, rel, sd->uid, sd->gid, &sd->fd);
	if (r < 0)
		return r;
	return state_dir_hand_over(sd);
}

/* The files the logger keeps in the directory. */
static const char *const state_files[] = {
	"config.json", "snitch.db", "snitch.db-wal", "snitch.db-shm", "conn.log", "conn.log.1",
	"record.json", "exe.log", "exe.log.1", "error.log", "error.log.1", "running",
	"pending.spill",
};

int state_dir_hand_over(struct state_dir *sd)
{
	struct stat st;

	if (fstat(sd->fd, &st) < 0)
		return -errno;
	if (st.st_uid == sd->uid)
		return 0;
	/* created by root (PICOSNITCH_DIR made by hand, an older version that
	 * wrote as root): the logger, running as the owner, must write it;
	 * only root's own choices get here */
	if (fchown(sd->fd, sd->uid, sd->gid) < 0 || fchmod(sd->fd, 0700) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(state_files) / sizeof(state_files[0]); i++)
		fchownat_best_effort(sd->fd, state_files[i], sd->uid, sd->gid);
	return 0;
}

int state_dir_logger_user(struct state_dir *sd)
{
	struct passwd *pw;

	if (sd->uid != 0)
		return 0;
	/* no desktop user: a system user of its own, never root */
	pw = getpwnam(LOGGER_SYSTEM_USER);
	if (!pw) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);

			if (null >= 0) {
				dup2(null, 1);
				dup2(null, 2);
			}
			execlp("useradd", "useradd", "--system", "--no-create-home", "--home-dir",
			       "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group",
			       "--comment", "picosnitch logger", LOGGER_SYSTEM_USER, (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, &status, 0);
		pw = getpwnam(LOGGER_SYSTEM_USER);
	}
	if (!pw)
		pw = getpwnam("nobody");
	if (!pw || pw->pw_uid == 0)
		return -ESRCH;
	sd->uid = pw->pw_uid;
	sd->gid = pw->pw_gid;
	return 0;
}

char *state_dir_file(const struct state_dir *sd, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", sd->path, name) < 0)
		return NULL;
	return p;
}

void state_dir_done(struct state_dir *sd)
{
	if (sd->fd >= 0)
		close(sd->fd);
	free(sd->path);
	free(sd->user);
	sd->fd = -1;
	sd->path = sd->user = NULL;
}
