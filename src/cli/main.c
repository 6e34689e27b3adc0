/* picosnitch command line: parses the command and runs it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "config/config.h"
#include "config/paths.h"
#include "daemon/daemon.h"
#include "identity/exehash.h"
#include "notify/notifier.h"
#include "util/log.h"

#define DEFAULT_PIDFILE "/run/picosnitch.pid"

static void usage(FILE *out, const struct state_dir *sd)
{
	fprintf(out,
		"picosnitch %s: see which programs use the network, how much, and with whom.\n"
		"\n"
		"usage: picosnitch <command>\n"
		"\n"
		"commands:\n"
		"  start-no-daemon  run the monitor in the foreground (root)\n"
		"  dash             web interface (not available yet)\n"
		"  view             terminal interface (not available yet)\n"
		"  version          print the version and the state directory\n"
		"  help             print this text\n"
		"\n"
		"state directory: %s\n",
		PICOSNITCH_VERSION, sd && sd->path ? sd->path : "(unknown)");
}

static const char *pidfile_path(void)
{
	const char *p = getenv("PICOSNITCH_PIDFILE");

	return p && *p ? p : DEFAULT_PIDFILE;
}

/* A pidfile held under an exclusive lock for the life of the daemon: a
 * leftover file from a crash is not a lock and is simply taken over. */
static int pidfile_take(const char *path, int *ret_fd)
{
	char buf[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_error("picosnitch is already running (pid %s, from %s)", *buf ? buf : "?",
			  path);
		close(fd);
		return -EBUSY;
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int cmd_start_no_daemon(struct state_dir *sd)
{
	struct config cfg;
	const char *pidfile = pidfile_path();
	int pidfd = -1, r;

	if (geteuid() != 0) {
		log_error("the monitor needs root: it loads BPF programs into the kernel");
		return 1;
	}
	r = state_dir_open(sd);
	if (r < 0) {
		log_errno(r, "cannot open the state directory %s", sd->path);
		return 1;
	}
	r = daemon_load_config(sd, &cfg);
	if (r < 0)
		return 1;
	r = pidfile_take(pidfile, &pidfd);
	if (r < 0) {
		if (r != -EBUSY)
			log_errno(r, "cannot write the pidfile %s", pidfile);
		config_done(&cfg);
		return 1;
	}
	log_info("starting in the foreground; state directory %s", sd->path);
	r = daemon_run(sd, &cfg);
	unlink(pidfile);
	close(pidfd);
	config_done(&cfg);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct state_dir sd = { .fd = -1 };
	const char *cmd;
	int r = 0;

	if (getenv("PICOSNITCH_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	/* helpers the daemon starts as the desktop user (not for people) */
	if (argc >= 2 && !strcmp(argv[1], "hash-helper"))
		return hash_helper_main();
	if (argc >= 2 && !strcmp(argv[1], "notify-helper"))
		return notify_helper_main(argc - 1, argv + 1);
	if (state_dir_find(&sd) < 0)
		sd.path = NULL;
	if (argc != 2) {
		usage(stderr, &sd);
		state_dir_done(&sd);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout, &sd);
	} else if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("picosnitch %s\nstate directory: %s\n", PICOSNITCH_VERSION,
		       sd.path ? sd.path : "(unknown)");
	} else if (!strcmp(cmd, "start-no-daemon")) {
		if (!sd.path) {
			log_error("cannot work out the state directory (is PICOSNITCH_DIR absolute?)");
			r = 1;
		} else {
			r = cmd_start_no_daemon(&sd);
		}
	} else if (!strcmp(cmd, "dash") || !strcmp(cmd, "view")) {
		log_error("'%s' is not available in this version yet", cmd);
		r = 1;
	} else {
		fprintf(stderr, "picosnitch: unknown command '%s'\n\n", cmd);
		usage(stderr, &sd);
		r = 2;
	}
	state_dir_done(&sd);
	return r;
}
