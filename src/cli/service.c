/* start / start-no-daemon / stop / restart / status (service.h).
 *
 * Two files: the pidfile (0644, the pid, for anyone's `status`) and next
 * to it a lock file (0600, root's) that the daemon holds under an
 * exclusive flock for its whole life.  Only root can open the lock file,
 * so no user can hold its lock and keep the monitor from starting.  A
 * pidfile whose lock nobody holds is stale (a crash, a power cut) and is
 * taken over; root's `status` and `stop` test the lock, not just the pid,
 * so a reused pid is never mistaken for the daemon; a user's `status`
 * checks that the pid is a picosnitch run by root. */
#include "cli/service.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "config/paths.h"
#include "util/fsutil.h"
#include "monitor/monitor.h"
#include "util/log.h"
#include "util/strutil.h"

#define STOP_TIMEOUT_MS 60000	/* the daemon writes what it counted before it exits */

const char *pidfile_path(void)
{
	const char *p = getenv("PICOSNITCH_PIDFILE");

	return p && *p ? p : DEFAULT_PIDFILE;
}

/* ---- root ---- */

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	bool found = false;

	if (!path || !(copy = strdup(path)))
		return false;
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char full[PATH_MAX];

		snprintf(full, sizeof(full), "%s/%s", *dir ? dir : ".", prog);
		found = access(full, X_OK) == 0;
	}
	free(copy);
	return found;
}

int run_as_root(const char *cmd, const char *why)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *dir = getenv("PICOSNITCH_DIR"), *pidfile = getenv("PICOSNITCH_PIDFILE");

	if (n <= 0 || getenv("PICOSNITCH_ELEVATED")) {
		/* no way to re-run, or already re-run and still not root */
		fprintf(stderr, "picosnitch %s needs root: %s\n", cmd, why);
		return 1;
	}
	self[n] = '\0';
	setenv("PICOSNITCH_ELEVATED", "1", 1);
	if (on_path("doas") && access("/etc/doas.conf", F_OK) == 0) {
		/* doas keeps only a few variables: pass ours on the command line */
		char *argv[8];
		int i = 0;
		char envdir[PATH_MAX + 32], envpid[PATH_MAX + 32];

		argv[i++] = "doas";
		argv[i++] = "env";
		argv[i++] = "PICOSNITCH_ELEVATED=1";
		if (dir) {
			snprintf(envdir, sizeof(envdir), "PICOSNITCH_DIR=%s", dir);
			argv[i++] = envdir;
		}
		if (pidfile) {
			snprintf(envpid, sizeof(envpid), "PICOSNITCH_PIDFILE=%s", pidfile);
			argv[i++] = envpid;
		}
		argv[i++] = self;
		argv[i++] = (char *)cmd;
		argv[i] = NULL;
		fprintf(stderr, "picosnitch %s needs root (%s): running it through doas\n", cmd, why);
		execvp("doas", argv);
	} else if (on_path("sudo")) {
		char keep[96] = "--preserve-env=PICOSNITCH_ELEVATED";
		char *argv[] = { "sudo", keep, self, (char *)cmd, NULL };

		if (dir)
			strcat(keep, ",PICOSNITCH_DIR");
		if (pidfile)
			strcat(keep, ",PICOSNITCH_PIDFILE");
		fprintf(stderr, "picosnitch %s needs root (%s): running it through sudo\n", cmd, why);
		execvp("sudo", argv);
	}
	fprintf(stderr, "picosnitch %s needs root: %s; run it as root (neither sudo nor doas "
		"is available)\n", cmd, why);
	return 1;
}

/* ---- the pidfile ---- */

/* The pid written in the pidfile, or 0. */
static pid_t pidfile_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	uint64_t v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (parse_u64(buf, &v) < 0 || v == 0 || v > INT32_MAX)
		return 0;
	return (pid_t)v;
}

enum run_state { NOT_RUNNING, RUNNING, STALE };

static const char *lockfile_path(void)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s.lock", pidfile_path());
	return path;
}

/* For users, who cannot open the lock: is pid a picosnitch run by root? */
static bool is_picosnitch(pid_t pid)
{
	char path[64], *buf = NULL;
	bool name = false, root = false;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (pid <= 0 || read_file(path, 16384, &buf, &len) < 0)
		return false;
	for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (!strncmp(line, "Name:\tpicosnitch\n", 17))
			name = true;
		else if (!strncmp(line, "Uid:\t0\t", 7))
			root = true;
	}
	free(buf);
	return name && root;
}

/* Whether a daemon runs; its pid (from the pidfile) in *pid. */
static enum run_state daemon_state(pid_t *pid)
{
	int fd = open(pidfile_path(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW), lock;
	enum run_state st;

	*pid = 0;
	if (fd >= 0) {
		*pid = pidfile_pid(fd);
		close(fd);
	}
	lock = open(lockfile_path(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lock < 0) {
		if (errno == EACCES)	/* not root */
			return is_picosnitch(*pid) ? RUNNING : fd >= 0 ? STALE : NOT_RUNNING;
		return fd >= 0 ? STALE : NOT_RUNNING;
	}
	if (flock(lock, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		st = RUNNING;
	else
		st = fd >= 0 ? STALE : NOT_RUNNING;
	close(lock);
	return st;
}

pid_t monitor_running_pid(void)
{
	pid_t pid;

	return daemon_state(&pid) == RUNNING ? pid : 0;
}

/* Take the lock for this process and write the pidfile, or -EBUSY (logged)
 * when a daemon runs.  The descriptor keeps the lock until the process
 * exits. */
static int pidfile_take(int *ret_fd)
{
	const char *path = pidfile_path(), *lpath = lockfile_path();
	char buf[32];
	struct stat st;
	int lock = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600), fd, r;

	if (lock < 0)
		return log_errno(-errno, "cannot open the lock file %s", lpath);
	/* a lock file another user could open would let them hold it */
	if (fstat(lock, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077)) {
		close(lock);
		log_error("the lock file %s is not a file of root's that only root can open: "
			  "remove it", lpath);
		return -EPERM;
	}
	if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
		pid_t pid = 0;

		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			pid = pidfile_pid(fd);
			close(fd);
		}
		close(lock);
		log_error("picosnitch is already running (pid %d, pidfile %s)", (int)pid, path);
		return -EBUSY;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		close(lock);
		return log_errno(r, "cannot write the pidfile %s", path);
	}
	close(fd);
	*ret_fd = lock;
	return 0;
}

static void pidfile_release(int lock)
{
	unlink(pidfile_path());
	close(lock);
}

/* ---- running the monitor ---- */

/* Tells `picosnitch start` the daemon is monitoring, then leaves its
 * terminal: later messages go to error.log only. */
#define READY_LINE "picosnitch-ready"
#define EXIT_LINE "picosnitch-exit"

static void report_ready(void *ctx)
{
	int report = *(int *)ctx, null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	dprintf(report, "%s %d\n", READY_LINE, (int)getpid());
	if (null >= 0) {
		dup2(null, STDERR_FILENO);
		close(null);
	}
	close(report);
}

static int run_monitor(struct state_dir *sd, int ready_fd)
{
	int pidfd = -1, r;

	r = state_dir_logger_user(sd);
	if (r < 0) {
		log_errno(r, "there is no user to run the logger as (user %s could not be created, "
			  "and there is no nobody)", LOGGER_SYSTEM_USER);
		return 1;
	}
	r = state_dir_open(sd);
	if (r < 0) {
		if (r == -ELOOP || r == -ENOTDIR)
			log_error("cannot open the state directory %s: it, or a directory on its "
				  "way, is a symbolic link or not a directory (never followed)",
				  sd->path);
		else
			log_errno(r, "cannot open the state directory %s", sd->path);
		return 1;
	}
	r = pidfile_take(&pidfd);
	if (r < 0)
		return 1;
	log_info("starting; state directory %s", sd->path);
	r = monitor_run(sd, ready_fd >= 0 ? report_ready : NULL, &ready_fd);
	pidfile_release(pidfd);
	return r;
}

int cmd_start_no_daemon(struct state_dir *sd)
{
	return run_monitor(sd, -1);
}

/* Become a daemon: the caller waits on `report` for the startup messages
 * and the ready line. */
static void daemon_child(struct state_dir *sd, int report)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int r;

	if (setsid() < 0 || null < 0)
		_exit(1);
	switch (fork()) {
	case -1:
		_exit(1);
	case 0:
		break;
	default:
		_exit(0);	/* the daemon is not a session leader: no controlling tty */
	}
	umask(022);
	if (chdir("/") < 0)
		_exit(1);
	/* startup messages go to whoever ran `start`, later ones to error.log */
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(report, STDERR_FILENO);
	close(null);
	r = run_monitor(sd, report);
	/* not ready, so report is still open: tell `start` how it ended */
	if (r)
		dprintf(report, "%s %d\n", EXIT_LINE, r);
	_exit(r);
}

int cmd_start(struct state_dir *sd)
{
	char buf[4096], line[8192];
	size_t used = 0;
	pid_t pid, ready_pid = 0;
	int pipefd[2], status, code = 1;
	ssize_t n;

	if (daemon_state(&pid) == RUNNING) {
		fprintf(stderr, "picosnitch is already running (pid %d)\n", (int)pid);
		return 1;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_errno(-errno, "cannot start the daemon");
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_errno(-errno, "cannot start the daemon");
		return 1;
	}
	if (pid == 0) {
		close(pipefd[0]);
		daemon_child(sd, pipefd[1]);
	}
	close(pipefd[1]);
	/* relay what the daemon says until it is ready or gone */
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n' && used < sizeof(line) - 1) {
				line[used++] = buf[i];
				continue;
			}
			line[used] = '\0';
			used = 0;
			if (str_has_prefix(line, READY_LINE " "))
				ready_pid = (pid_t)atoi(line + strlen(READY_LINE " "));
			else if (str_has_prefix(line, EXIT_LINE " "))
				code = atoi(line + strlen(EXIT_LINE " "));
			else
				fprintf(stderr, "%s\n", line);
		}
	}
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (ready_pid > 0) {
		printf("picosnitch started (pid %d); state directory %s\n", (int)ready_pid, sd->path);
		return 0;
	}
	fprintf(stderr, "picosnitch did not start\n");
	return code > 0 && code < 256 ? code : 1;
}

int cmd_stop(void)
{
	const char *path = pidfile_path();
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), lock;
	pid_t pid = 0;

	if (fd >= 0) {
		pid = pidfile_pid(fd);
		close(fd);
	}
	lock = open(lockfile_path(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lock < 0 || flock(lock, LOCK_SH | LOCK_NB) == 0) {
		/* nobody holds it: not running, or left behind by a daemon that
		 * did not exit cleanly */
		if (lock >= 0)
			close(lock);
		if (fd < 0) {
			printf("picosnitch is not running\n");
			return 0;
		}
		unlink(path);
		printf("picosnitch is not running (removed the stale pidfile %s, which named pid "
		       "%d)\n", path, (int)pid);
		return 0;
	}
	if (pid <= 0 || kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "picosnitch runs but its pidfile %s does not name it (pid %d): %s\n",
			path, (int)pid, pid > 0 ? strerror(errno) : "no pid");
		close(lock);
		return 1;
	}
	/* the lock is free once the daemon has written everything and exited */
	for (int waited = 0; waited < STOP_TIMEOUT_MS; waited += 50) {
		if (flock(lock, LOCK_SH | LOCK_NB) == 0) {
			close(lock);
			printf("picosnitch stopped (pid %d)\n", (int)pid);
			return 0;
		}
		poll(NULL, 0, 50);
	}
	close(lock);
	fprintf(stderr, "picosnitch (pid %d) did not stop within %d seconds\n", (int)pid,
		STOP_TIMEOUT_MS / 1000);
	return 1;
}

int cmd_restart(struct state_dir *sd)
{
	int r = cmd_stop();

	return r ? r : cmd_start(sd);
}

/* status --json: one object on one line (fields in man/picosnitch.8). */
static int status_json(const struct state_dir *sd, enum run_state st, pid_t pid)
{
	char *dir = sd->path ? text_from_bytes(sd->path, strlen(sd->path)) : NULL;
	char *pidfile = text_from_bytes(pidfile_path(), strlen(pidfile_path()));
	const char *state = st == RUNNING ? "running" : st == STALE ? "stale" : "stopped";
	json_t *o = json_pack("{s:s, s:b, s:o, s:s, s:o, s:s}", "state", state, "running",
			      st == RUNNING, "pid", st == NOT_RUNNING || pid <= 0 ? json_null() : json_integer(pid),
			      "pidfile", pidfile ? pidfile : "",
			      "state_directory", dir ? json_string(dir) : json_null(),
			      "version", PICOSNITCH_VERSION);
	char *text = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
	int r = 0;

	if (!text || printf("%s\n", text) < 0 || fflush(stdout) != 0)
		r = log_errno(-ENOMEM, "status: cannot write the answer");
	free(text);
	json_decref(o);
	free(dir);
	free(pidfile);
	if (r < 0)
		return 1;
	return st == RUNNING ? 0 : st == STALE ? EXIT_STALE_PIDFILE : EXIT_NOT_RUNNING;
}

int cmd_status(const struct state_dir *sd, bool json)
{
	pid_t pid = 0;
	enum run_state st = daemon_state(&pid);

	if (json)
		return status_json(sd, st, pid);
	switch (st) {
	case RUNNING:
		printf("picosnitch is running (pid %d); state directory %s\n", (int)pid,
		       sd->path ? sd->path : "(unknown)");
		return 0;
	case STALE:
		printf("picosnitch is not running, but a stale pidfile %s names pid %d (it did not "
		       "exit cleanly)\n", pidfile_path(), (int)pid);
		return EXIT_STALE_PIDFILE;
	default:
		printf("picosnitch is not running\n");
		return EXIT_NOT_RUNNING;
	}
}
