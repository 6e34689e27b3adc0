/* Tests of src/notify/notifier.c against a real dbus-daemon and a real
 * notification server (python3-dbusmock's notification_daemon template,
 * which logs every call it gets), both run as the desktop user: the exact
 * arguments of each Notify call, truncation, the helper's user and
 * descriptors, non-blocking sends with exact accounting, a bounded stop,
 * reconnection after the bus restarts, failure reports, and stdout mode.
 *
 * The helper is this binary re-executed: main() dispatches "notify-helper"
 * to notify_helper_main() as the daemon's main() does. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notify/notifier.h"
#include "util/fsutil.h"
#include "tap.h"

#define PYTHON "/usr/bin/python3"
#define DBUS_DAEMON "/usr/bin/dbus-daemon"
#define FLOOD_COUNT 10000
#define FLOOD_LEN 1000

/* The desktop user: the throwaway user tests/run made (PS_TEST_USER), or
 * one made here and removed at exit; never a user this machine has. */
static char user_name[33];
static bool own_user;
static uid_t user_uid;
static gid_t user_gid;
static char tmpdir[] = "/tmp/ps-test-notify-XXXXXX";
static char bus_path[PATH_MAX], bus_addr[PATH_MAX + 16];
static pid_t bus_pid, mock_pid;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Run path as the desktop user with exactly envp; stdin from in_fd and
 * stderr to err_fd when given, else /dev/null.  It gets SIGTERM if this
 * test dies, so nothing outlives a crash. */
static pid_t spawn_user(const char *path, char *const argv[], char *const envp[], int in_fd,
			int err_fd)
{
	pid_t parent = getpid(), pid;
	int null_fd;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	null_fd = open("/dev/null", O_RDWR);
	if (null_fd < 0 || dup2(in_fd >= 0 ? in_fd : null_fd, 0) < 0 || dup2(null_fd, 1) < 0 ||
	    dup2(err_fd >= 0 ? err_fd : null_fd, 2) < 0 || close_range(3, ~0U, 0) < 0)
		_exit(126);
	if (setgroups(1, &user_gid) < 0 || setresgid(user_gid, user_gid, user_gid) < 0 ||
	    setresuid(user_uid, user_uid, user_uid) < 0)
		_exit(126);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(126);
	execve(path, argv, envp);
	_exit(127);
}

/* Wait up to ms for pid; returns its wait status, or -1 if it is still running. */
static int wait_bounded(pid_t pid, int ms)
{
	int64_t deadline = now_ms() + ms;
	int status;

	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return status;
		if (w < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(5);
	}
}

static void stop_pid(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	if (wait_bounded(*pid, 3000) == -1) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static bool wait_for_path(const char *path, int ms)
{
	int64_t deadline = now_ms() + ms;

	while (access(path, F_OK) < 0) {
		if (now_ms() >= deadline)
			return false;
		sleep_ms(10);
	}
	return true;
}

static void log_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int start_bus(const char *log_name)
{
	static char addr_arg[PATH_MAX + 32], bus_env[PATH_MAX + 64], home_env[PATH_MAX + 8];
	char logfile[PATH_MAX];
	char *const bus_argv[] = { "dbus-daemon", "--session", "--nofork", addr_arg, NULL };
	char *const mock_argv[] = { "python3", "-m", "dbusmock", "--session", "--template",
				    "notification_daemon", "-l", logfile, NULL };
	char *const envp[] = { bus_env, home_env, "PATH=/usr/bin:/bin", NULL };

	log_path(logfile, sizeof(logfile), log_name);
	snprintf(addr_arg, sizeof(addr_arg), "--address=%s", bus_addr);
	snprintf(bus_env, sizeof(bus_env), "DBUS_SESSION_BUS_ADDRESS=%s", bus_addr);
	snprintf(home_env, sizeof(home_env), "HOME=%s", tmpdir);
	unlink(bus_path);
	bus_pid = spawn_user(DBUS_DAEMON, bus_argv, envp, -1, -1);
	if (bus_pid < 0 || !wait_for_path(bus_path, 5000))
		return -1;
	mock_pid = spawn_user(PYTHON, mock_argv, envp, -1, -1);
	/* dbusmock opens its log after taking the name, before its main loop */
	if (mock_pid < 0 || !wait_for_path(logfile, 15000))
		return -1;
	return 0;
}

static void stop_bus(void)
{
	stop_pid(&mock_pid);
	stop_pid(&bus_pid);
}

static void cleanup(void)
{
	DIR *d;
	struct dirent *de;

	stop_bus();
	d = opendir(tmpdir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(tmpdir);
}

static int run_quiet(char *const argv[])
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDWR);

		if (null_fd >= 0) {
			dup2(null_fd, 1);
			dup2(null_fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void remove_user(void)
{
	char *userdel[] = { "userdel", user_name, NULL };
	char *groupdel[] = { "groupdel", user_name, NULL };

	if (!own_user)
		return;
	run_quiet(userdel);
	run_quiet(groupdel);	/* fails quietly when userdel took it */
}

static struct passwd *desktop_user(void)
{
	const char *given = getenv("PS_TEST_USER");
	char *useradd[] = { "useradd", "--no-create-home", "--home-dir", "/nonexistent",
			    "--shell", "/usr/sbin/nologin", "--user-group", user_name, NULL };

	if (given && *given && strlen(given) < sizeof(user_name)) {
		snprintf(user_name, sizeof(user_name), "%s", given);
		return getpwnam(user_name);
	}
	snprintf(user_name, sizeof(user_name), "pstn%d", (int)getpid());
	if (run_quiet(useradd) != 0)
		return NULL;
	own_user = true;
	atexit(remove_user);
	return getpwnam(user_name);
}

static char *read_log(const char *name)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len;

	log_path(path, sizeof(path), name);
	if (read_file(path, 64 << 20, &buf, &len) < 0)
		return strdup("");
	return buf;
}

/* The log without the "<seconds>.<millis> " that starts each call, and
 * without the GetCapabilities call the helper makes on connecting. */
static char *strip_times(const char *log)
{
	char *out = malloc(strlen(log) + 1), *o = out;
	const char *p = log;

	while (*p) {
		const char *q = p;
		bool stamped = false;

		while (*q >= '0' && *q <= '9')
			q++;
		if (q > p && *q == '.') {
			const char *r = q + 1;

			while (*r >= '0' && *r <= '9')
				r++;
			if (r > q + 1 && *r == ' ') {
				p = r + 1;
				stamped = true;
			}
		}
		if (stamped && !strncmp(p, "GetCapabilities\n", 16)) {
			p += 16;
			continue;
		}
		while (*p && *p != '\n')
			*o++ = *p++;
		if (*p)
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

static int count_calls(const char *name)
{
	char *log = read_log(name), *s = strip_times(log);
	int n = 0;

	for (const char *p = s; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, "Notify ", 7))
			n++;
	}
	free(s);
	free(log);
	return n;
}

static int wait_for_calls(const char *name, int want, int ms)
{
	int64_t deadline = now_ms() + ms;
	int n;

	while ((n = count_calls(name)) < want && now_ms() < deadline)
		sleep_ms(20);
	return n;
}

/* What dbusmock logs for one Notify call from picosnitch. */
static void add_call(char *buf, size_t size, const char *body)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len,
		 "Notify \"picosnitch\" 0 \"\" \"picosnitch\" \"%s\" [] {} -1\n", body);
}

static char *repeat(char c, size_t n, const char *tail)
{
	char *s = malloc(n + strlen(tail) + 1);

	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

static void status_line(pid_t pid, const char *key, char *out, size_t size)
{
	char path[64], *buf = NULL, *p;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	out[0] = '\0';
	if (read_file(path, 1 << 16, &buf, &len) < 0)
		return;
	for (p = buf; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, strlen(key)) && p[strlen(key)] == ':') {
			p += strlen(key) + 1;
			while (*p == '\t' || *p == ' ')
				p++;
			snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
			break;
		}
	}
	len = strlen(out);
	while (len && (out[len - 1] == ' ' || out[len - 1] == '\t'))
		out[--len] = '\0';
	free(buf);
}

/* "0:pipe 1:/dev/null ..." for pid's descriptors, pipes and sockets
 * without their inode. */
static void describe_fds(pid_t pid, char *out, size_t size)
{
	char path[64], target[PATH_MAX];
	struct dirent *de;
	int fds[64], n = 0;
	DIR *d;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) && n < 64)
		if (de->d_name[0] != '.')
			fds[n++] = atoi(de->d_name);
	closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];

			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		char link[80];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fds[i]);
		len = readlink(link, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		target[strcspn(target, ":")] = '\0';
		snprintf(out + strlen(out), size - strlen(out), "%s%d:%s", i ? " " : "", fds[i],
			 target);
	}
}

static bool has_socket(pid_t pid)
{
	char fds[1024];

	describe_fds(pid, fds, sizeof(fds));
	return strstr(fds, ":socket") != NULL;
}

static char proc_state(pid_t pid)
{
	char state[64];

	status_line(pid, "State", state, sizeof(state));
	return state[0];
}

static bool wait_for_state(pid_t pid, char want, int ms)
{
	int64_t deadline = now_ms() + ms;

	while (proc_state(pid) != want) {
		if (now_ms() >= deadline)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* Wait until pid sleeps in a pipe read: the helper waiting for a line, done
 * starting (the dynamic loader has its libraries open for a moment). */
static bool wait_for_pipe_read(pid_t pid, int ms)
{
	int64_t deadline = now_ms() + ms;
	char path[64], *wchan = NULL;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	for (;;) {
		/* "anon_pipe_read" since Linux 6.14, "pipe_read" before */
		bool idle = read_file(path, 256, &wchan, &len) == 0 &&
			    (!strcmp(wchan, "pipe_read") || !strcmp(wchan, "anon_pipe_read"));

		free(wchan);
		wchan = NULL;
		if (idle)
			return true;
		if (now_ms() >= deadline)
			return false;
		sleep_ms(5);
	}
}

static void flood_text(char *buf, int i)
{
	int len = snprintf(buf, FLOOD_LEN + 1, "flood %05d ", i);

	memset(buf + len, 'f', FLOOD_LEN - len);
	buf[FLOOD_LEN] = '\0';
}

/* Run this binary as "notify-helper" for the desktop user with input on
 * stdin; returns its exit status and what it wrote on stderr. */
static int run_helper(const char *bus, const char *input, size_t len, char *err, size_t errsize)
{
	static char bus_env[PATH_MAX + 64];
	char *const argv[] = { "picosnitch", "notify-helper", NULL };
	char *const envp[] = { bus_env, "PATH=/usr/bin:/bin", NULL };
	int in[2], out[2], status;
	size_t got = 0;
	pid_t pid;

	snprintf(bus_env, sizeof(bus_env), "DBUS_SESSION_BUS_ADDRESS=%s", bus);
	err[0] = '\0';
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	pid = spawn_user("/proc/self/exe", argv, envp, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	/* this test keeps SIGPIPE's default action for notifier_send's sake */
	signal(SIGPIPE, SIG_IGN);
	(void)write_full(in[1], input, len);
	signal(SIGPIPE, SIG_DFL);
	close(in[1]);
	for (int64_t deadline = now_ms() + 10000; now_ms() < deadline;) {
		struct pollfd p = { out[0], POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(out[0], err + got, errsize - 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	err[got] = '\0';
	close(out[0]);
	status = wait_bounded(pid, 5000);
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_stdout(void)
{
	struct notifier_opts opts = { .desktop = false };
	struct notifier *n = NULL;
	char path[PATH_MAX], *got = NULL;
	int saved, fd, r;
	size_t len;

	log_path(path, sizeof(path), "stdout");
	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 1);
	close(fd);
	r = notifier_start(&opts, &n);
	notifier_send(n, "hello, \"world\"\nback\\slash \xc3\xa9");
	notifier_send(n, "second");
	fflush(stdout);
	dup2(saved, 1);
	close(saved);

	is_int(r, 0, "stdout mode: notifier_start succeeds");
	if (read_file(path, 1 << 20, &got, &len) < 0)
		got = NULL;
	is_str(got, "picosnitch: hello, \"world\"\\nback\\\\slash \xc3\xa9\npicosnitch: second\n",
	       "stdout mode: one escaped line per text, exactly");
	is_int(notifier_helper_pid(n), 0, "stdout mode: no helper process");
	is_int(notifier_dropped(n), 0, "stdout mode: nothing dropped");
	notifier_stop(n);
	free(got);
}

static void test_desktop(void)
{
	struct notifier_opts opts = { .desktop = true, .uid = user_uid, .gid = user_gid,
				      .bus_address = bus_addr, .self_exe = "/proc/self/exe" };
	static char expected[65536];
	char want[64], line[256], fds[1024], marker_path[PATH_MAX], *log, *s;
	char *long_a = repeat('a', 5000, ""), *long_b = repeat('b', 4094, "\xc3\xa9 and more");
	char *cut_a = repeat('a', NOTIFY_TEXT_MAX, ""), *cut_b = repeat('b', 4094, "");
	char flood[FLOOD_LEN + 1];
	struct notifier *n = NULL;
	int64_t t0, slowest = 0, total;
	int marker, r, calls, delivered, intact, last;
	uint64_t dropped;
	pid_t pid;

	/* A descriptor without O_CLOEXEC on purpose: the helper must not get it. */
	log_path(marker_path, sizeof(marker_path), "marker");
	marker = open(marker_path, O_RDONLY | O_CREAT, 0600);

	r = notifier_start(&opts, &n);
	is_int(r, 0, "desktop mode: notifier_start succeeds");
	if (r < 0)
		goto out;
	pid = notifier_helper_pid(n);
	ok(pid > 0, "the helper has a pid");

	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", user_uid, user_uid, user_uid, user_uid);
	status_line(pid, "Uid", line, sizeof(line));
	is_str(line, want, "the helper runs with the user's uid (real, effective, saved, fs)");
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", user_gid, user_gid, user_gid, user_gid);
	status_line(pid, "Gid", line, sizeof(line));
	is_str(line, want, "the helper runs with the user's gid (real, effective, saved, fs)");
	snprintf(want, sizeof(want), "%u", user_gid);
	status_line(pid, "Groups", line, sizeof(line));
	is_str(line, want, "the helper has the user's groups only");
	status_line(pid, "CapEff", line, sizeof(line));
	is_str(line, "0000000000000000", "the helper has no capabilities");
	status_line(pid, "NoNewPrivs", line, sizeof(line));
	is_str(line, "1", "the helper cannot gain privileges through exec");
	is_int(getsid(pid), pid, "the helper is in a session of its own (no controlling terminal)");
	ok(wait_for_pipe_read(pid, 5000), "the helper waits for lines on its pipe");
	describe_fds(pid, fds, sizeof(fds));
	is_str(fds, "0:pipe 1:/dev/null 2:/dev/null",
	       "the helper holds only the pipe on stdin, and /dev/null");

	notifier_send(n, "first: plain ASCII");
	notifier_send(n, "non-ASCII: \xc3\xa9 \xc3\xbc \xc3\x9f \xe2\x80\x94 "
			 "\xe6\x97\xa5\xe6\x9c\xac \xe2\x9c\x93 \xf0\x9f\x94\x94");
	notifier_send(n, "comma, \"double\" and 'single' quotes");
	notifier_send(n, "two\nlines and a back\\slash");
	notifier_send(n, long_a);
	notifier_send(n, long_b);
	calls = wait_for_calls("log1", 6, 10000);
	is_int(calls, 6, "six Notify calls reach the notification server");
	expected[0] = '\0';
	add_call(expected, sizeof(expected), "first: plain ASCII");
	add_call(expected, sizeof(expected),
		 "non-ASCII: \xc3\xa9 \xc3\xbc \xc3\x9f \xe2\x80\x94 "
		 "\xe6\x97\xa5\xe6\x9c\xac \xe2\x9c\x93 \xf0\x9f\x94\x94");
	add_call(expected, sizeof(expected), "comma, \"double\" and 'single' quotes");
	add_call(expected, sizeof(expected), "two\nlines and a back\\slash");
	add_call(expected, sizeof(expected), cut_a);
	add_call(expected, sizeof(expected), cut_b);
	log = read_log("log1");
	s = strip_times(log);
	is_str(s, expected,
	       "exact arguments: app_name, replaces_id 0, icon \"\", summary, body, [], {}, -1; "
	       "long texts cut at 4095 bytes, before a split character");
	free(s);
	free(log);
	is_int(notifier_dropped(n), 0, "nothing dropped while the helper keeps up");

	/* Stop the helper and flood it: sends must not block, and every text
	 * is either delivered whole or counted as dropped. */
	kill(pid, SIGSTOP);
	ok(wait_for_state(pid, 'T', 5000), "the helper is stopped");
	t0 = now_us();
	for (int i = 0; i < FLOOD_COUNT; i++) {
		int64_t c;

		flood_text(flood, i);
		c = now_us();
		notifier_send(n, flood);
		c = now_us() - c;
		if (c > slowest)
			slowest = c;
	}
	total = now_us() - t0;
	dropped = notifier_dropped(n);
	if (!ok(slowest < 50000, "no send took 50 ms or more while the helper is stopped"))
		printf("#   slowest send took %lld us\n", (long long)slowest);
	if (!ok(total < 3000000, "10000 sends took under 3 s"))
		printf("#   they took %lld us\n", (long long)total);
	ok(dropped > 0 && dropped < FLOOD_COUNT, "some texts were dropped, some queued");
	printf("# %llu of %d dropped; slowest send %lld us, all %lld us\n",
	       (unsigned long long)dropped, FLOOD_COUNT, (long long)slowest, (long long)total);
	kill(pid, SIGCONT);
	calls = wait_for_calls("log1", 6 + FLOOD_COUNT - (int)dropped, 20000);
	t0 = now_ms();
	notifier_stop(n);
	n = NULL;
	ok(now_ms() - t0 < 1000, "notifier_stop returns at once when the helper has finished");
	ok(kill(pid, 0) < 0 && errno == ESRCH, "the helper was reaped");

	log = read_log("log1");
	s = strip_times(log);
	delivered = intact = 0;
	last = -1;
	for (const char *p = strstr(s, "\"flood "); p; p = strstr(p + 1, "\"flood ")) {
		int i = atoi(p + 7);

		delivered++;
		flood_text(flood, i);
		if (i > last && !strncmp(p + 1, flood, FLOOD_LEN) && p[1 + FLOOD_LEN] == '"')
			intact++;
		last = i;
	}
	is_int(count_calls("log1"), 6 + delivered, "the log has only the flood besides the six");
	is_int(delivered + (int)dropped, FLOOD_COUNT, "delivered + dropped == sent");
	is_int(intact, delivered, "every delivered flood text is whole and in order");
	free(s);
	free(log);
out:
	notifier_stop(n);
	close(marker);
	free(long_a);
	free(long_b);
	free(cut_a);
	free(cut_b);
}

static void test_stuck_stop(void)
{
	struct notifier_opts opts = { .desktop = true, .uid = user_uid, .gid = user_gid,
				      .bus_address = bus_addr, .self_exe = "/proc/self/exe" };
	struct notifier *n = NULL;
	int64_t t0, took;
	pid_t pid;

	if (notifier_start(&opts, &n) < 0) {
		ok(0, "a second helper starts");
		return;
	}
	pid = notifier_helper_pid(n);
	kill(pid, SIGSTOP);
	wait_for_state(pid, 'T', 5000);
	t0 = now_ms();
	notifier_stop(n);
	took = now_ms() - t0;
	if (!ok(took >= 1900 && took < 3000, "notifier_stop on a stuck helper gives up after ~2 s"))
		printf("#   it took %lld ms\n", (long long)took);
	ok(kill(pid, 0) < 0 && errno == ESRCH, "the stuck helper was killed and reaped");
	notifier_stop(NULL);
	ok(1, "notifier_stop(NULL) does nothing");
	is_int(notifier_dropped(NULL), 0, "notifier_dropped(NULL) is 0");

	/* SIGPIPE keeps its default action in this test: were it raised by
	 * a send, the test would die here. */
	if (notifier_start(&opts, &n) < 0) {
		ok(0, "a helper to kill starts");
		return;
	}
	pid = notifier_helper_pid(n);
	kill(pid, SIGKILL);
	ok(wait_for_state(pid, 'Z', 5000), "the helper is dead");
	for (int i = 0; i < 3; i++)
		notifier_send(n, "to nobody");
	is_int(notifier_dropped(n), 3,
	       "texts to a dead helper are dropped and counted, with no SIGPIPE");
	notifier_stop(n);
	ok(kill(pid, 0) < 0 && errno == ESRCH, "the dead helper was reaped");
}

static void test_reconnect(void)
{
	struct notifier_opts opts = { .desktop = true, .uid = user_uid, .gid = user_gid,
				      .bus_address = bus_addr, .self_exe = "/proc/self/exe" };
	char expected[512], *log, *s;
	struct notifier *n = NULL;
	int64_t deadline, down_at;
	int before;
	pid_t pid;

	if (notifier_start(&opts, &n) < 0) {
		ok(0, "a third helper starts");
		return;
	}
	pid = notifier_helper_pid(n);
	before = count_calls("log1");
	notifier_send(n, "before the bus restarts");
	is_int(wait_for_calls("log1", before + 1, 10000), before + 1,
	       "delivered before the restart");

	stop_bus();
	notifier_send(n, "while the bus is down");
	/* once the helper has noticed, it holds no socket any more */
	deadline = now_ms() + 5000;
	while (has_socket(pid) && now_ms() < deadline)
		sleep_ms(10);
	down_at = now_ms();
	ok(!has_socket(pid), "the helper drops its connection when the bus goes away");
	ok(kill(pid, 0) == 0, "the helper is still running");

	ok(start_bus("log2") == 0, "the bus and the server start again");
	/* the helper tries to connect at most once a second */
	if (now_ms() < down_at + 1100)
		sleep_ms((int)(down_at + 1100 - now_ms()));
	notifier_send(n, "after the bus restarts");
	is_int(wait_for_calls("log2", 1, 10000), 1, "the helper reconnects on the next text");
	notifier_stop(n);
	ok(kill(pid, 0) < 0 && errno == ESRCH, "the reconnected helper was reaped");
	expected[0] = '\0';
	add_call(expected, sizeof(expected), "after the bus restarts");
	log = read_log("log2");
	s = strip_times(log);
	is_str(s, expected, "exactly the text sent after the restart reaches the new server");
	free(s);
	free(log);
	log = read_log("log1");
	ok(strstr(log, "before the bus restarts") && !strstr(log, "while the bus is down"),
	   "the text sent while the bus was down was dropped");
	free(log);
}

static void test_helper_input(void)
{
	static char input[32768], expected[32768];
	char err[4096], nobus[PATH_MAX + 16], *z = repeat('z', NOTIFY_TEXT_MAX, "");
	char *y = repeat('y', 4094, ""), *x = repeat('x', 4094, ""), *w = repeat('w', 4093, "\\");
	char *log, *s;
	size_t len = 0;
	int status;

	/* over-long lines, one cut inside a character and one inside an
	 * escape, malformed UTF-8, escapes, a last line without newline */
	memset(input, 'z', 10000);
	len = 10000;
	len += sprintf(input + len, "\nafter a long line\n");
	memset(input + len, 'y', 4094);
	len += 4094;
	len += sprintf(input + len, "\xc3\xa9 cut inside a character\n");
	memset(input + len, 'x', 4094);
	len += 4094;
	len += sprintf(input + len, "\\n cut inside an escape\n");
	memset(input + len, 'w', 4093);
	len += 4093;
	len += sprintf(input + len, "\\\xc3\xa9 a literal backslash, then a cut character\n");
	len += sprintf(input + len, "bad \xff byte, \xef\xbf\xbf nonchar, \xed\xa0\x80 surrogate, "
				    "\xe2\x82 short\n");
	len += sprintf(input + len, "esc \\\\ \\n \\q end\\\n");
	len += sprintf(input + len, "no newline at the end");

	status = run_helper(bus_addr, input, len, err, sizeof(err));
	is_int(status, 0, "helper on raw input: exits 0 at the end of input");
	is_str(err, "", "helper on raw input: nothing on stderr");
	is_int(wait_for_calls("log2", 9, 10000), 9, "helper on raw input: one call per line");
	expected[0] = '\0';
	add_call(expected, sizeof(expected), "after the bus restarts");
	add_call(expected, sizeof(expected), z);
	add_call(expected, sizeof(expected), "after a long line");
	add_call(expected, sizeof(expected), y);
	add_call(expected, sizeof(expected), x);
	add_call(expected, sizeof(expected), w);
	add_call(expected, sizeof(expected),
		 "bad \xef\xbf\xbd byte, \xef\xbf\xbd nonchar, "
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate, \xef\xbf\xbd\xef\xbf\xbd short");
	add_call(expected, sizeof(expected), "esc \\ \n \\q end\\");
	add_call(expected, sizeof(expected), "no newline at the end");
	log = read_log("log2");
	s = strip_times(log);
	is_str(s, expected,
	       "helper on raw input: lines cut at 4095 bytes, bad UTF-8 replaced, escapes undone");
	free(s);
	free(log);

	snprintf(nobus, sizeof(nobus), "unix:path=%s/nobus", tmpdir);
	status = run_helper(nobus, "one\ntwo\nthree\n", 14, err, sizeof(err));
	is_int(status, 0, "helper without a bus: exits 0");
	is_str(err, "picosnitch: cannot show a desktop notification: No such file or directory\n",
	       "helper without a bus: the failure is reported once");

	stop_pid(&mock_pid);
	status = run_helper(bus_addr, "one\ntwo\n", 8, err, sizeof(err));
	is_int(status, 0, "helper without a notification server: exits 0");
	is_str(err,
	       "picosnitch: cannot show a desktop notification: The name "
	       "org.freedesktop.Notifications was not provided by any .service files\n",
	       "helper without a notification server: the bus's answer is reported once");
	free(w);
	free(x);
	free(y);
	free(z);
}

int main(int argc, char **argv)
{
	struct passwd *pw;

	if (argc > 1 && !strcmp(argv[1], "notify-helper"))
		return notify_helper_main(argc, argv);

	if (geteuid() != 0) {
		printf("1..0 # skip needs root to run processes as the desktop user\n");
		return 0;
	}
	if (access(DBUS_DAEMON, X_OK) < 0) {
		printf("1..0 # skip " DBUS_DAEMON " is missing (apt-get install dbus-daemon)\n");
		return 0;
	}
	if (system(PYTHON " -c 'import dbusmock' >/dev/null 2>&1") != 0) {
		printf("1..0 # skip " PYTHON
		       " has no dbusmock (apt-get install python3-dbusmock)\n");
		return 0;
	}
	pw = desktop_user();
	if (!pw) {
		printf("1..0 # skip cannot create a throwaway desktop user (useradd)\n");
		return 0;
	}
	user_uid = pw->pw_uid;
	user_gid = pw->pw_gid;
	if (!mkdtemp(tmpdir) || chown(tmpdir, user_uid, user_gid) < 0) {
		printf("1..0 # skip cannot make a directory in /tmp: %s\n", strerror(errno));
		return 0;
	}
	atexit(cleanup);
	snprintf(bus_path, sizeof(bus_path), "%s/bus", tmpdir);
	snprintf(bus_addr, sizeof(bus_addr), "unix:path=%s", bus_path);

	test_stdout();
	if (!ok(start_bus("log1") == 0,
		"dbus-daemon and the dbusmock notification server start as the desktop user"))
		return tap_done();
	test_desktop();
	test_stuck_stop();
	test_reconnect();
	test_helper_input();
	stop_bus();
	ok(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "no child process is left");
	return tap_done();
}
