/* Tests of src/notify/notifier.c against a real dbus-daemon and a real
 * notification server (python3-dbusmock's notification_daemon template,
 * which logs every call it gets), all run as a throwaway desktop user, as
 * the logger runs: the exact arguments of each Notify call, truncation on
 * a character boundary, texts D-Bus would refuse, non-blocking sends with
 * exact accounting while the server is stuck, a bounded stop, reconnection
 * after the bus restarts, failure reports, and print mode.
 *
 * As root, main() makes the user and starts the bus as that user, then a
 * child drops to the user and runs the tests; the parent cleans up. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
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
#include "util/log.h"
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
	if (geteuid() != user_uid &&
	    (setgroups(1, &user_gid) < 0 || setresgid(user_gid, user_gid, user_gid) < 0 ||
	     setresuid(user_uid, user_uid, user_uid) < 0))
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

static void flood_text(char *buf, int i)
{
	int len = snprintf(buf, FLOOD_LEN + 1, "flood %05d ", i);

	memset(buf + len, 'f', FLOOD_LEN - len);
	buf[FLOOD_LEN] = '\0';
}

static char logged[4096];
static pthread_mutex_t logged_lock = PTHREAD_MUTEX_INITIALIZER;

/* log_*() of the notifier's thread, captured */
static void capture_log(void *ctx, enum log_level level, const char *msg)
{
	size_t n;

	(void)ctx;
	pthread_mutex_lock(&logged_lock);
	n = strlen(logged);
	snprintf(logged + n, sizeof(logged) - n, "%d:%s\n", (int)level, msg);
	pthread_mutex_unlock(&logged_lock);
}

/* Wait up to ms for the notifier's thread to log a line holding what. */
static bool wait_logged(const char *what, int ms)
{
	int64_t deadline = now_ms() + ms;
	bool found;

	for (;;) {
		pthread_mutex_lock(&logged_lock);
		found = strstr(logged, what) != NULL;
		pthread_mutex_unlock(&logged_lock);
		if (found || now_ms() >= deadline)
			return found;
		sleep_ms(10);
	}
}

static char printed[4096];

static void print_cb(void *ctx, const char *text)
{
	size_t n = strlen(printed);

	snprintf(printed + n, sizeof(printed) - n, "[%s]%s\n", text, (char *)ctx);
}

static int thread_count(void)
{
	char line[64];

	status_line(getpid(), "Threads", line, sizeof(line));
	return atoi(line);
}

static void test_print(void)
{
	struct notifier_opts opts = { .desktop = false, .print = print_cb, .ctx = "!" };
	struct notifier *n = NULL;

	is_int(notifier_start(&opts, &n), 0, "print mode: notifier_start succeeds");
	notifier_send(n, "hello, \"world\"");
	notifier_send(n, "second");
	is_str(printed, "[hello, \"world\"]!\n[second]!\n",
	       "print mode: each text is handed to print() with its context, at once");
	is_int(thread_count(), 1, "print mode: no thread");
	is_int(notifier_dropped(n), 0, "print mode: nothing dropped");
	notifier_stop(n);
}

static void test_desktop(void)
{
	struct notifier_opts opts = { .desktop = true };
	char *long_a = repeat('a', NOTIFY_TEXT_MAX + 100, "");
	/* a 3-byte character straddling the limit is left out whole */
	char *long_b = repeat('b', NOTIFY_TEXT_MAX - 1, "\xe2\x9c\x93 tail");
	char *cut_a = repeat('a', NOTIFY_TEXT_MAX, "");
	char *cut_b = repeat('b', NOTIFY_TEXT_MAX - 1, "");
	static char expected[4 * 16384], flood[FLOOD_LEN + 1];
	struct notifier *n = NULL;
	int calls, delivered, intact, last;
	int64_t t0, slowest = 0, total;
	uint64_t dropped;
	char *log, *s;

	is_int(notifier_start(&opts, &n), 0, "desktop mode: notifier_start succeeds");
	is_int(thread_count(), 2, "desktop mode: one sending thread");
	notifier_send(n, "first: plain ASCII");
	notifier_send(n, "non-ASCII: \xc3\xa9 \xc3\xbc \xc3\x9f \xe2\x80\x94 "
			 "\xe6\x97\xa5\xe6\x9c\xac \xe2\x9c\x93 \xf0\x9f\x94\x94");
	notifier_send(n, "comma, \"double\" and 'single' quotes");
	notifier_send(n, "refused by D-Bus: \xff\xfe and \xef\xbf\xbe end");
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
	add_call(expected, sizeof(expected),
		 "refused by D-Bus: \xef\xbf\xbd\xef\xbf\xbd and \xef\xbf\xbd end");
	add_call(expected, sizeof(expected), cut_a);
	add_call(expected, sizeof(expected), cut_b);
	log = read_log("log1");
	s = strip_times(log);
	is_str(s, expected,
	       "exact arguments: app_name, replaces_id 0, icon \"\", summary, body, [], {}, -1; "
	       "malformed UTF-8 and noncharacters as U+FFFD; long texts cut at 4095 bytes, "
	       "before a split character");
	free(s);
	free(log);
	is_int(notifier_dropped(n), 0, "nothing dropped while the server keeps up");

	/* The server stops answering: sends must not block, and every text is
	 * either delivered whole or counted as dropped. */
	kill(mock_pid, SIGSTOP);
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
	if (!ok(slowest < 50000, "no send took 50 ms or more while the server is stuck"))
		printf("#   slowest send took %lld us\n", (long long)slowest);
	if (!ok(total < 3000000, "10000 sends took under 3 s"))
		printf("#   they took %lld us\n", (long long)total);
	ok(dropped >= FLOOD_COUNT - NOTIFY_QUEUE_MAX - 1 && dropped < FLOOD_COUNT,
	   "all but a queue's worth were dropped");
	printf("# %llu of %d dropped; slowest send %lld us, all %lld us\n",
	       (unsigned long long)dropped, FLOOD_COUNT, (long long)slowest, (long long)total);
	kill(mock_pid, SIGCONT);
	calls = wait_for_calls("log1", 6 + FLOOD_COUNT - (int)dropped, 20000);
	t0 = now_ms();
	notifier_stop(n);
	n = NULL;
	ok(now_ms() - t0 < 1000, "notifier_stop returns at once when everything was sent");
	is_int(thread_count(), 1, "the sending thread is gone");

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
	free(long_a);
	free(long_b);
	free(cut_a);
	free(cut_b);
}

/* The time notifier_stop takes while the stopped server holds the thread
 * in a call; the server goes on after. */
static int64_t stop_stuck(struct notifier *n)
{
	int64_t t0, took;

	sleep_ms(200);	/* the thread is in its call now */
	t0 = now_ms();
	notifier_stop(n);
	took = now_ms() - t0;
	kill(mock_pid, SIGCONT);
	return took;
}

static void test_stuck_stop(void)
{
	struct notifier_opts opts = { .desktop = true };
	struct notifier *n = NULL;
	int64_t took;

	if (notifier_start(&opts, &n) < 0) {
		ok(0, "a second notifier starts");
		return;
	}
	notifier_send(n, "to connect");
	wait_for_calls("log1", count_calls("log1") + 1, 10000);
	kill(mock_pid, SIGSTOP);
	for (int i = 0; i < 20; i++)
		notifier_send(n, "to a stuck server");
	took = stop_stuck(n);
	/* the call in progress times out after 5 s; then the rest is dropped */
	if (!ok(took < 7500, "notifier_stop on a stuck server gives up within 2 s past the "
			      "call in progress"))
		printf("#   it took %lld ms\n", (long long)took);
	is_int(thread_count(), 1, "and its thread is gone");
	notifier_stop(NULL);
	ok(1, "notifier_stop(NULL) does nothing");
	is_int(notifier_dropped(NULL), 0, "notifier_dropped(NULL) is 0");
}

/* A new connection to a stuck server: asking what it reads and the call
 * share the 5 s a text may take (the question alone waited sd-bus's
 * default of 25 s, and the thread with it). */
static void test_stuck_connect(void)
{
	struct notifier_opts opts = { .desktop = true };
	struct notifier *n = NULL;
	int64_t took;

	kill(mock_pid, SIGSTOP);
	if (notifier_start(&opts, &n) < 0) {
		kill(mock_pid, SIGCONT);
		ok(0, "a notifier starts while the server is stuck");
		return;
	}
	notifier_send(n, "a first text, to a stuck server");
	took = stop_stuck(n);
	if (!ok(took < 7500, "connecting to a stuck server: notifier_stop returns within 2 s past "
			      "the text's 5 s"))
		printf("#   it took %lld ms\n", (long long)took);
}

static void test_reconnect(void)
{
	struct notifier_opts opts = { .desktop = true };
	char expected[512], *log, *s;
	struct notifier *n = NULL;
	int before;

	if (notifier_start(&opts, &n) < 0) {
		ok(0, "a third notifier starts");
		return;
	}
	/* the stuck server of the last test may still be answering */
	for (int last = -1; (before = count_calls("log1")) != last;) {
		last = before;
		sleep_ms(500);
	}
	notifier_send(n, "before the bus restarts");
	is_int(wait_for_calls("log1", before + 1, 10000), before + 1,
	       "delivered before the restart");

	stop_bus();
	pthread_mutex_lock(&logged_lock);
	logged[0] = '\0';
	pthread_mutex_unlock(&logged_lock);
	notifier_send(n, "while the bus is down");
	/* at once, but a loaded machine may not run the thread at once */
	ok(wait_logged("cannot show a desktop notification", 5000),
	   "a failure to deliver is reported");
	ok(start_bus("log2") == 0, "the bus and the server start again");
	/* a connection is tried at most once a second */
	sleep_ms(1100);
	notifier_send(n, "after the bus restarts");
	is_int(wait_for_calls("log2", 1, 10000), 1, "the notifier reconnects on the next text");
	notifier_stop(n);
	expected[0] = '\0';
	add_call(expected, sizeof(expected), "after the bus restarts");
	log = read_log("log2");
	s = strip_times(log);
	is_str(s, expected, "exactly the text sent after the restart reaches the new server");
	free(s);
	free(log);
	log = read_log("log1");
	ok(strstr(log, "before the bus restarts") && !strstr(log, "while the bus is down"),
	   "the text sent while the bus was down is not delivered later");
	free(log);
}

static void test_no_bus(void)
{
	struct notifier_opts opts = { .desktop = true };
	struct notifier *n = NULL;
	char bad[PATH_MAX + 32];

	snprintf(bad, sizeof(bad), "unix:path=%s/nobus", tmpdir);
	setenv("DBUS_SESSION_BUS_ADDRESS", bad, 1);
	pthread_mutex_lock(&logged_lock);
	logged[0] = '\0';
	pthread_mutex_unlock(&logged_lock);
	notifier_start(&opts, &n);
	notifier_send(n, "one");
	notifier_send(n, "two");
	sleep_ms(300);
	notifier_stop(n);
	is_str(logged, "1:cannot show a desktop notification: this user has no desktop session bus "
		       "(No such file or directory); set \"Desktop notifications\": false in "
		       "config.json on a machine without a desktop\n",
	       "without a bus: one warning that says so, reported once");
	setenv("DBUS_SESSION_BUS_ADDRESS", bus_addr, 1);
}

int main(void)
{
	struct passwd *pw;
	pid_t child;
	int status;

	if (geteuid() != 0) {
		printf("1..0 # skip needs root to run processes as a throwaway desktop user\n");
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
	if (!ok(start_bus("log1") == 0,
		"dbus-daemon and the dbusmock notification server start as the desktop user"))
		return tap_done();

	fflush(NULL);
	child = fork();
	if (child == 0) {
		/* the rest runs as the user, as the logger does */
		if (setgroups(1, &user_gid) < 0 || setresgid(user_gid, user_gid, user_gid) < 0 ||
		    setresuid(user_uid, user_uid, user_uid) < 0) {
			ok(0, "the test drops to the desktop user");
			status = tap_done();
			fflush(NULL);
			_exit(status);
		}
		setenv("DBUS_SESSION_BUS_ADDRESS", bus_addr, 1);
		log_set_sink(capture_log, NULL);
		test_print();
		test_desktop();
		test_stuck_stop();
	test_stuck_connect();
		test_reconnect();
		test_no_bus();
		stop_bus();
		status = tap_done();
		fflush(NULL);
		_exit(status);
	}
	waitpid(child, &status, 0);
	/* the child printed the plan; its bus processes are its own */
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
