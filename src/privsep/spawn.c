/* Starting the logger (spawn.h).  Everything the child needs between fork
 * and exec is prepared beforehand, so that the child only makes system
 * calls.  The child then:
 *   - resets the signal mask and handlers (the monitor blocks SIGINT and
 *     SIGTERM for its signalfd, and blocked signals survive exec);
 *   - starts a session of its own: no controlling terminal the user could
 *     open as /dev/tty or inject input into (TIOCSTI);
 *   - keeps only the socket (fd 3) and the state directory (fd 4);
 *     stdin, stdout and stderr are /dev/null, never root's terminal or
 *     journal stream: its messages reach the monitor over the socket and
 *     are escaped there;
 *   - takes the user's groups, gid and uid, checks they cannot be undone,
 *     sets no_new_privs, and is exec'd through a descriptor the monitor
 *     opened (the binary need not be reachable by path for the user). */
#include "privsep/spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ENV 64

struct setup {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char *env[MAX_ENV + 1];
	int nenv;
	int exe_fd;
};

extern char **environ;

static int env_add(struct setup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int env_add(struct setup *s, const char *fmt, ...)
{
	va_list ap;
	char *v;
	int r;

	if (s->nenv == MAX_ENV)
		return -E2BIG;
	va_start(ap, fmt);
	r = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	s->env[s->nenv++] = v;
	return 0;
}

static void free_setup(struct setup *s)
{
	free(s->groups);
	for (int i = 0; i < s->nenv; i++)
		free(s->env[i]);
	if (s->exe_fd >= 0)
		close(s->exe_fd);
}

static int prepare(const struct spawn_opts *o, struct setup *s)
{
	struct passwd pw, *pwp = NULL;
	const char *home = "/", *name = NULL, *v;
	char pwbuf[16384];
	int r;

	s->uid = o->uid;
	s->gid = o->gid;
	s->exe_fd = -1;
	if (getpwuid_r(o->uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp) {
		home = pwp->pw_dir;
		name = pwp->pw_name;
	}
	if (name) {
		int ng = 32;

		for (;;) {
			gid_t *g = realloc(s->groups, ng * sizeof(*g));
			int want = ng;

			if (!g)
				return -ENOMEM;
			s->groups = g;
			if (getgrouplist(name, o->gid, s->groups, &want) >= 0) {
				s->ngroups = want;
				break;
			}
			if (want <= ng || want > 65536)
				return -EINVAL;
			ng = want;
		}
	} else {
		s->groups = malloc(sizeof(*s->groups));
		if (!s->groups)
			return -ENOMEM;
		s->groups[0] = o->gid;
		s->ngroups = 1;
	}

	/* the whole environment: nothing of root's but picosnitch's own
	 * settings (PICOSNITCH_*, chosen by whoever started it as root) */
	v = getenv("DBUS_SESSION_BUS_ADDRESS");
	if ((r = v && *v ? env_add(s, "DBUS_SESSION_BUS_ADDRESS=%s", v)
			 : env_add(s, "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%u/bus",
				   (unsigned)o->uid)) < 0 ||
	    (r = env_add(s, "XDG_RUNTIME_DIR=/run/user/%u", (unsigned)o->uid)) < 0 ||
	    (r = env_add(s, "HOME=%s", home)) < 0 ||
	    (r = env_add(s, "PATH=/usr/local/bin:/usr/bin:/bin")) < 0 ||
	    (r = env_add(s, "LANG=%s", (v = getenv("LANG")) && *v ? v : "C.UTF-8")) < 0 ||
	    (r = env_add(s, "PICOSNITCH_STATE_PATH=%s", o->state_path)) < 0)
		return r;
	for (char **e = environ; *e; e++) {
		if (!strncmp(*e, "PICOSNITCH_", 11) && strncmp(*e, "PICOSNITCH_STATE_PATH=", 22) &&
		    (r = env_add(s, "%s", *e)) < 0)
			return r;
		if (!strncmp(*e, "ASAN_OPTIONS=", 13) || !strncmp(*e, "UBSAN_OPTIONS=", 14) ||
		    !strncmp(*e, "LSAN_OPTIONS=", 13))
			if ((r = env_add(s, "%s", *e)) < 0)
				return r;
	}
	s->env[s->nenv] = NULL;
	s->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	return s->exe_fd < 0 ? -errno : 0;
}

/* Move *fd to a number >= min, close-on-exec. */
static int move_fd_above(int *fd, int min)
{
	int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, min);

	if (nfd < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

static int set_credentials(const struct setup *s)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() != 0) {
		/* not root (tests of the logger alone): only as this very user */
		return getuid() == s->uid && geteuid() == s->uid ? 0 : -EPERM;
	}
	if (setgroups(s->ngroups, s->groups) < 0 || setresgid(s->gid, s->gid, s->gid) < 0 ||
	    setresuid(s->uid, s->uid, s->uid) < 0)
		return -errno;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != s->uid || eu != s->uid || su != s->uid || rg != s->gid || eg != s->gid ||
	    sg != s->gid)
		return -EPERM;
	if (s->uid != 0 && (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0 ||
			    setgroups(0, NULL) == 0))
		return -EPERM;
	return 0;
}

static _Noreturn void run_child(const struct setup *s, int sock_fd, int state_fd, int err_fd)
{
	static char *const argv[] = { "picosnitch", "logger", NULL };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int exe_fd = s->exe_fd, null_fd, r;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	if (setsid() < 0)
		goto fail_errno;
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		goto fail_errno;
	if ((r = move_fd_above(&sock_fd, 10)) < 0 || (r = move_fd_above(&state_fd, 10)) < 0 ||
	    (r = move_fd_above(&err_fd, 10)) < 0 || (r = move_fd_above(&exe_fd, 10)) < 0 ||
	    (r = move_fd_above(&null_fd, 10)) < 0)
		goto fail;
	if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0 ||
	    dup2(sock_fd, LOGGER_CHANNEL_FD) < 0 || dup2(state_fd, LOGGER_STATE_FD) < 0 ||
	    dup3(exe_fd, 5, O_CLOEXEC) < 0 || dup3(err_fd, 6, O_CLOEXEC) < 0)
		goto fail_errno;
	err_fd = 6;
	if (close_range(7, ~0U, 0) < 0)
		goto fail_errno;
	if (chdir("/") < 0)
		goto fail_errno;
	r = set_credentials(s);
	if (r < 0)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail_errno;
	execveat(5, "", argv, s->env, AT_EMPTY_PATH);
fail_errno:
	r = -errno;
fail:
	if (write(err_fd, &r, sizeof(r)) < 0)
		_exit(127);
	_exit(127);
}

int logger_spawn(const struct spawn_opts *opts, pid_t *pid_ret, int *fd_ret)
{
	struct setup s = { 0 };
	int sv[2] = { -1, -1 }, errp[2] = { -1, -1 }, r, child_err = 0;
	pid_t pid;
	ssize_t n;

	r = prepare(opts, &s);
	if (r < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	/* room for bursts of identities; root may raise the limit */
	{
		int size = 8 << 20;

		if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
			(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		close(sv[0]);
		close(errp[0]);
		run_child(&s, sv[1], opts->state_fd, errp[1]);
	}
	close(sv[1]);
	sv[1] = -1;
	close(errp[1]);
	errp[1] = -1;
	/* the pipe closes at exec; a failure before writes its errno */
	do {
		n = read(errp[0], &child_err, sizeof(child_err));
	} while (n < 0 && errno == EINTR);
	if (n == sizeof(child_err) && child_err < 0) {
		waitpid(pid, NULL, 0);
		r = child_err;
		goto out;
	}
	*pid_ret = pid;
	*fd_ret = sv[0];
	sv[0] = -1;
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free_setup(&s);
	return r;
}

int count_unexpected_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d) || fd <= LOGGER_STATE_FD)
			continue;
		n++;
	}
	closedir(d);
	return n;
}
