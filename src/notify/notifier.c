/* Desktop notifications: the daemon side (start the helper as the desktop
 * user, hand it one line per text without ever blocking) and the helper
 * itself (read lines, call org.freedesktop.Notifications.Notify through
 * sd-bus).
 *
 * Wire format, daemon to helper: one text per line, UTF-8, with "\" written
 * as "\\" and a newline as "\n"; any other "\x" is read back as is.  A line
 * is at most NOTIFY_TEXT_MAX bytes before its newline. */
#include "notify/notifier.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#define STOP_WAIT_MS 2000
#define NOTIFY_CALL_TIMEOUT_USEC (5 * 1000000ULL)
#define RECONNECT_INTERVAL_NS 1000000000LL

_Static_assert(NOTIFY_TEXT_MAX + 1 <= PIPE_BUF, "a line must fit in one atomic pipe write");

struct notifier {
	bool desktop;
	int fd;		/* write end of the pipe to the helper, -1 once it is gone */
	pid_t pid;
	uint64_t dropped;
};

/* Everything the child needs between fork and exec, prepared beforehand so
 * that the child only makes system calls (the daemon may have threads). */
struct helper_setup {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char *env[5];
	int exe_fd;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Length of the well-formed UTF-8 character at s (at most n bytes), with its
 * code point, or 0 if there is none (a stray byte, an overlong form, a
 * surrogate, beyond U+10FFFF, or cut short). */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	c = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* sd-bus refuses strings with Unicode noncharacters, so they are replaced
 * like malformed bytes. */
static bool is_noncharacter(uint32_t c)
{
	return (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe;
}

/* Escape text into buf (NOTIFY_TEXT_MAX bytes), stopping before the first
 * character or escape that would not fit whole; returns the length. */
static size_t escape_text(const char *text, char *buf)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t left = strlen(text), len = 0;

	while (left) {
		uint32_t cp;
		size_t unit = utf8_char(s, left, &cp);
		bool esc = *s == '\\' || *s == '\n';

		if (!unit)
			unit = 1;	/* passed on; the helper replaces it */
		if (len + (esc ? 2 : unit) > NOTIFY_TEXT_MAX)
			break;
		if (esc) {
			buf[len++] = '\\';
			buf[len++] = *s == '\n' ? 'n' : '\\';
		} else {
			memcpy(buf + len, s, unit);
			len += unit;
		}
		s += unit;
		left -= unit;
	}
	return len;
}

/* ---- daemon side ---- */

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

static void free_setup(struct helper_setup *s)
{
	free(s->groups);
	for (size_t i = 0; i < sizeof(s->env) / sizeof(s->env[0]); i++)
		free(s->env[i]);
	if (s->exe_fd >= 0)
		close(s->exe_fd);
}

static int prepare_setup(const struct notifier_opts *opts, struct helper_setup *s)
{
	const char *bus = opts->bus_address;
	const char *home = "/";
	struct passwd pw, *pwp = NULL;
	char *pwbuf = NULL;
	size_t pwlen = 4096;
	int r;

	s->uid = opts->uid;
	s->gid = opts->gid;
	for (;;) {
		char *nb = realloc(pwbuf, pwlen);

		if (!nb) {
			r = -ENOMEM;
			goto out;
		}
		pwbuf = nb;
		r = getpwuid_r(opts->uid, &pw, pwbuf, pwlen, &pwp);
		if (r != ERANGE || pwlen >= 1 << 20)
			break;
		pwlen *= 2;
	}
	if (pwp) {
		int ng = 16;

		home = pwp->pw_dir;
		for (;;) {
			gid_t *g = realloc(s->groups, ng * sizeof(*g));
			int want = ng;

			if (!g) {
				r = -ENOMEM;
				goto out;
			}
			s->groups = g;
			if (getgrouplist(pwp->pw_name, opts->gid, s->groups, &want) >= 0) {
				s->ngroups = want;
				break;
			}
			if (want <= ng || want > 65536) {
				r = -EINVAL;
				goto out;
			}
			ng = want;
		}
	} else {
		/* a uid without a passwd entry: its primary group only */
		s->groups = malloc(sizeof(*s->groups));
		if (!s->groups) {
			r = -ENOMEM;
			goto out;
		}
		s->groups[0] = opts->gid;
		s->ngroups = 1;
	}

	if (!bus) {
		bus = getenv("DBUS_SESSION_BUS_ADDRESS");
		if (bus && !*bus)
			bus = NULL;
	}
	/* the whole environment: nothing of root's is passed on */
	s->env[0] = bus ? str_printf("DBUS_SESSION_BUS_ADDRESS=%s", bus)
			: str_printf("DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%u/bus",
				     (unsigned)opts->uid);
	s->env[1] = str_printf("XDG_RUNTIME_DIR=/run/user/%u", (unsigned)opts->uid);
	s->env[2] = str_printf("HOME=%s", home);
	s->env[3] = str_printf("PATH=/usr/local/bin:/usr/bin:/bin");
	s->env[4] = NULL;
	if (!s->env[0] || !s->env[1] || !s->env[2] || !s->env[3]) {
		r = -ENOMEM;
		goto out;
	}

	/* Opened now, as root, and executed through the descriptor: the binary
	 * need not be reachable by path for the user, and an upgrade of the
	 * file since the daemon started does not matter. */
	s->exe_fd = open(opts->self_exe ? opts->self_exe : "/proc/self/exe", O_PATH | O_CLOEXEC);
	r = s->exe_fd < 0 ? -errno : 0;
out:
	free(pwbuf);
	return r;
}

/* Move *fd to a number >= min, close-on-exec; *fd is left alone on failure. */
static int move_fd_above(int *fd, int min)
{
	int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, min);

	if (nfd < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

static int set_credentials(const struct helper_setup *s)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() != 0) {
		/* not root: only running as that very user is possible */
		if (getuid() == s->uid && geteuid() == s->uid && getgid() == s->gid &&
		    getegid() == s->gid)
			return 0;
		return -EPERM;
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

/* The child between fork and exec: system calls only.  Failures are written
 * as a negative errno to err_fd, which exec closes on success. */
static _Noreturn void run_child(const struct helper_setup *s, int in_fd, int err_fd)
{
	static char *const argv[] = { "picosnitch", "notify-helper", NULL };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int exe_fd = s->exe_fd, null_fd, r;
	sigset_t none;

	/* The daemon blocks SIGINT and SIGTERM for its signalfd, and blocked
	 * or ignored signals survive exec. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);

	/* A session of its own: no controlling terminal that the user could
	 * open as /dev/tty, and Ctrl-C on the daemon's terminal does not cut
	 * the last notifications short. */
	if (setsid() < 0)
		goto fail_errno;

	/* stdin is the pipe; stdout and stderr are /dev/null: the daemon's
	 * own stderr may be root's terminal or its journal stream, neither of
	 * which the user may hold. */
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		goto fail_errno;
	/* out of the way of 0-4 first, whatever numbers they had */
	if ((r = move_fd_above(&in_fd, 10)) < 0 || (r = move_fd_above(&err_fd, 10)) < 0 ||
	    (r = move_fd_above(&exe_fd, 10)) < 0 || (r = move_fd_above(&null_fd, 10)) < 0)
		goto fail;
	if (dup2(in_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0 ||
	    dup3(exe_fd, 3, O_CLOEXEC) < 0 || dup3(err_fd, 4, O_CLOEXEC) < 0)
		goto fail_errno;
	err_fd = 4;
	if (close_range(5, ~0U, 0) < 0)
		goto fail_errno;
	if (chdir("/") < 0)
		goto fail_errno;

	r = set_credentials(s);
	if (r < 0)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail_errno;
	execveat(3, "", argv, s->env, AT_EMPTY_PATH);
fail_errno:
	r = -errno;
fail:
	/* should even this fail, the parent sees the pipe close as after an
	 * exec, and then finds the helper gone: every text is dropped */
	if (write(err_fd, &r, sizeof(r)) < 0)
		_exit(127);
	_exit(127);
}

/* Wait for pid to exit until the deadline, then kill it; reap it either way. */
static void reap_bounded(pid_t pid, int timeout_ms)
{
	int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
	const struct timespec tick = { 0, 5 * 1000000 };

	for (;;) {
		pid_t w = waitpid(pid, NULL, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			return;
		if (mono_ns() >= deadline)
			break;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int start_helper(const struct notifier_opts *opts, struct notifier *n)
{
	struct helper_setup s = { .exe_fd = -1 };
	int pipefd[2] = { -1, -1 }, errp[2] = { -1, -1 }, child_r = 0, r;
	ssize_t got;
	pid_t pid;

	r = prepare_setup(opts, &s);
	if (r < 0)
		goto out;
	if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	/* only the daemon's end is non-blocking: the helper waits for lines */
	if (fcntl(pipefd[1], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0)
		run_child(&s, pipefd[0], errp[1]);
	close(errp[1]);
	errp[1] = -1;
	do
		got = read(errp[0], &child_r, sizeof(child_r));
	while (got < 0 && errno == EINTR);
	if (got != 0) {
		/* the child failed before exec and has exited */
		r = got == sizeof(child_r) && child_r < 0 ? child_r : -EIO;
		reap_bounded(pid, STOP_WAIT_MS);
		goto out;
	}
	n->fd = pipefd[1];
	pipefd[1] = -1;
	n->pid = pid;
out:
	for (int i = 0; i < 2; i++) {
		if (pipefd[i] >= 0)
			close(pipefd[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free_setup(&s);
	return r;
}

int notifier_start(const struct notifier_opts *opts, struct notifier **ret)
{
	struct notifier *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	n->desktop = opts->desktop;
	n->fd = -1;
	if (n->desktop) {
		r = start_helper(opts, n);
		if (r < 0) {
			free(n);
			return r;
		}
	}
	*ret = n;
	return 0;
}

/* A pipe rather than a socketpair with send(MSG_NOSIGNAL): a non-blocking
 * write of at most PIPE_BUF bytes to a pipe goes in whole or fails with
 * EAGAIN, so a line is never split, while a stream socket may take part of
 * it.  The price is SIGPIPE once the helper is gone: it is blocked for the
 * write, and one raised by this write is taken back before unblocking, so
 * the daemon's own handling of SIGPIPE is left alone. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t w;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	w = write(fd, buf, len);
	saved = errno;
	if (w < 0 && saved == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return w;
}

void notifier_send(struct notifier *n, const char *text)
{
	char line[NOTIFY_TEXT_MAX + 1];
	size_t len;
	ssize_t w;

	if (!n || !text)
		return;
	len = escape_text(text, line);
	line[len++] = '\n';
	if (!n->desktop) {
		if (printf("picosnitch: %.*s", (int)len, line) < 0 || fflush(stdout) == EOF)
			n->dropped++;
		return;
	}
	if (n->fd < 0) {
		n->dropped++;
		return;
	}
	w = write_nosigpipe(n->fd, line, len);
	if (w == (ssize_t)len)
		return;
	n->dropped++;
	if (w < 0 && errno == EPIPE) {
		/* the helper is gone: every further text is dropped at once */
		close(n->fd);
		n->fd = -1;
	}
}

uint64_t notifier_dropped(struct notifier *n)
{
	return n ? n->dropped : 0;
}

pid_t notifier_helper_pid(struct notifier *n)
{
	return n ? n->pid : 0;
}

void notifier_stop(struct notifier *n)
{
	if (!n)
		return;
	if (n->fd >= 0)
		close(n->fd);
	if (n->pid > 0)
		reap_bounded(n->pid, STOP_WAIT_MS);
	free(n);
}

/* ---- the helper, running as the desktop user ---- */

struct helper {
	sd_bus *bus;
	int64_t last_connect_ns;
	bool tried_connect;
	bool reported;		/* a failure was reported and nothing got through since */
	bool markup;		/* the server reads markup in bodies: escape < > & */
	char body[3 * NOTIFY_TEXT_MAX + 1];
	char escaped[5 * (3 * NOTIFY_TEXT_MAX) + 1];
};

/* Whether the notification server interprets markup in the body
 * ("body-markup" capability).  Program names and paths come from whoever
 * runs a program, so they must not be able to inject markup. */
static bool server_reads_markup(sd_bus *bus)
{
	sd_bus_message *reply = NULL;
	const char *cap;
	bool markup = false;

	if (sd_bus_call_method(bus, "org.freedesktop.Notifications",
			       "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
			       "GetCapabilities", NULL, &reply, "") < 0)
		return true;	/* unknown: escaping is the safe side */
	if (sd_bus_message_enter_container(reply, 'a', "s") > 0) {
		while (sd_bus_message_read(reply, "s", &cap) > 0)
			if (!strcmp(cap, "body-markup"))
				markup = true;
	}
	sd_bus_message_unref(reply);
	return markup;
}

static const char *markup_escape(const char *in, char *out)
{
	size_t o = 0;

	for (; *in; in++) {
		const char *rep = *in == '<' ? "&lt;" : *in == '>' ? "&gt;" : *in == '&' ? "&amp;" : NULL;

		if (rep) {
			memcpy(out + o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
	return out;
}

/* Undo the escaping and make the text valid for D-Bus: malformed UTF-8 and
 * noncharacters become U+FFFD.  A line cut for length loses a trailing
 * partial character or escape. */
static void decode_line(const char *in, size_t len, bool cut, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i = 0, cut_at = cut ? len : 0;

	if (cut) {
		size_t start = len, k = 0;
		uint32_t cp;

		/* find where the last character starts, at most 3 bytes back */
		while (start > 0 && k < 3 && (s[start - 1] & 0xc0) == 0x80) {
			start--;
			k++;
		}
		if (start > 0 && s[start - 1] >= 0xc0 &&
		    !utf8_char(s + start - 1, len - start + 1, &cp))
			len = start - 1;
	}
	while (i < len) {
		uint32_t cp;
		size_t unit;

		if (s[i] == '\\') {
			if (i + 1 < len && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
				out[o++] = s[i + 1] == 'n' ? '\n' : '\\';
				i += 2;
				continue;
			}
			if (i + 1 == cut_at)
				break;	/* the other half of an escape was cut off */
		}
		unit = utf8_char(s + i, len - i, &cp);
		if (!unit || is_noncharacter(cp)) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += unit ? unit : 1;
			continue;
		}
		memcpy(out + o, s + i, unit);
		o += unit;
		i += unit;
	}
	out[o] = '\0';
}

static int call_notify(sd_bus *bus, const char *body, sd_bus_error *error)
{
	sd_bus_message *m = NULL, *reply = NULL;
	int r;

	r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.Notifications",
					   "/org/freedesktop/Notifications",
					   "org.freedesktop.Notifications", "Notify");
	if (r >= 0)
		/* app_name, replaces_id, app_icon, summary, body, actions, hints,
		 * expire_timeout; arrays are given as a count of 0 */
		r = sd_bus_message_append(m, "susssasa{sv}i", "picosnitch", (uint32_t)0, "",
					  "picosnitch", body, 0, 0, (int32_t)-1);
	if (r >= 0)
		r = sd_bus_call(bus, m, NOTIFY_CALL_TIMEOUT_USEC, error, &reply);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r;
}

/* Connect unless the last attempt was less than a second ago. */
static int helper_connect(struct helper *h)
{
	int64_t now = mono_ns();
	int r;

	if (h->tried_connect && now - h->last_connect_ns < RECONNECT_INTERVAL_NS)
		return -ENOTCONN;
	h->tried_connect = true;
	h->last_connect_ns = now;
	r = sd_bus_open_user(&h->bus);
	if (r < 0)
		h->bus = NULL;
	else
		h->markup = server_reads_markup(h->bus);
	return r;
}

static void helper_show(struct helper *h, const char *body)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r = 0;

	/* A second try only when the first one found the connection gone:
	 * the bus may have been restarted since the last text. */
	for (int attempt = 0; attempt < 2; attempt++) {
		sd_bus_error_free(&error);
		if (!h->bus) {
			r = helper_connect(h);
			if (r < 0)
				break;
		}
		r = call_notify(h->bus, h->markup ? markup_escape(body, h->escaped) : body, &error);
		if (r >= 0) {
			h->reported = false;
			return;
		}
		if (sd_bus_is_open(h->bus) > 0)
			break;	/* an answer from the server, or a timeout: keep the bus */
		h->bus = sd_bus_flush_close_unref(h->bus);
	}
	if (!h->reported) {
		const char *why = sd_bus_error_is_set(&error) && error.message ? error.message
									      : strerror(-r);

		fprintf(stderr, "picosnitch: cannot show a desktop notification: %s\n", why);
		fflush(stderr);
		h->reported = true;
	}
	sd_bus_error_free(&error);
}

static void helper_line(struct helper *h, const char *in, size_t len, bool cut)
{
	decode_line(in, len, cut, h->body);
	helper_show(h, h->body);
}

int notify_helper_main(int argc, char **argv)
{
	struct helper *h = calloc(1, sizeof(*h));
	char in[NOTIFY_TEXT_MAX + 1];
	size_t have = 0;
	bool skipping = false;	/* dropping the rest of a line that was too long */
	int status = 0;

	if (!h) {
		fprintf(stderr, "picosnitch: notify-helper: %s\n", strerror(ENOMEM));
		return 1;
	}
	/* a closed stderr must not kill the helper; sd-bus never raises it */
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		ssize_t got = read(STDIN_FILENO, in + have, sizeof(in) - have);
		size_t start = 0;
		char *nl;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "picosnitch: notify-helper: cannot read stdin: %s\n",
				strerror(errno));
			status = 1;
			break;
		}
		if (got == 0) {
			/* a last line without its newline still counts */
			if (have && !skipping)
				helper_line(h, in, have, false);
			break;
		}
		have += got;
		while ((nl = memchr(in + start, '\n', have - start))) {
			size_t len = nl - (in + start);

			if (!skipping)
				helper_line(h, in + start, len, false);
			skipping = false;
			start += len + 1;
		}
		memmove(in, in + start, have - start);
		have -= start;
		if (have == sizeof(in)) {
			/* no newline in the first NOTIFY_TEXT_MAX + 1 bytes */
			if (!skipping)
				helper_line(h, in, NOTIFY_TEXT_MAX, true);
			skipping = true;
			have = 0;
		}
	}
	sd_bus_flush_close_unref(h->bus);
	free(h);
	return status;
}
