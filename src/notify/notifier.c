/* Desktop notifications from the logger (notifier.h).  The sending thread
 * owns the bus connection; the logger's thread only queues texts. */
#include "notify/notifier.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "util/log.h"

#define STOP_WAIT_MS 2000
#define NOTIFY_CALL_TIMEOUT_USEC (5 * 1000000ULL)
#define RECONNECT_INTERVAL_NS 1000000000LL

struct notifier {
	struct notifier_opts opts;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t more;
	char *queue[NOTIFY_QUEUE_MAX];
	size_t head, count;
	bool stopping;
	int64_t stop_deadline_ns;
	uint64_t dropped;
	uint64_t sent;		/* shown (or printed) */
	/* the thread's own */
	sd_bus *bus;
	int64_t last_connect_ns;
	bool tried_connect;
	bool reported;		/* a failure was reported and nothing got through since */
	bool markup;		/* the server reads markup in bodies: escape < > & */
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

/* sd-bus refuses strings with Unicode noncharacters or malformed UTF-8:
 * those become U+FFFD, and the text is cut to NOTIFY_TEXT_MAX bytes on a
 * character boundary.  out holds 3 * NOTIFY_TEXT_MAX + 1 bytes. */
static void dbus_text(const char *in, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t left = strlen(in), o = 0;

	while (left) {
		uint32_t cp;
		size_t unit = utf8_char(s, left, &cp);
		bool bad = !unit || is_noncharacter(cp);
		size_t take = bad ? 3 : unit;

		if (o + take > NOTIFY_TEXT_MAX)
			break;
		if (bad)
			memcpy(out + o, "\xef\xbf\xbd", 3);
		else
			memcpy(out + o, s, unit);
		o += take;
		s += unit ? unit : 1;
		left -= unit ? unit : 1;
	}
	out[o] = '\0';
}

/* Whether the notification server interprets markup in the body
 * ("body-markup" capability).  Program names and paths come from whoever
 * runs a program, so they must not be able to inject markup. */
static bool server_reads_markup(sd_bus *bus, uint64_t timeout_usec)
{
	sd_bus_message *m = NULL, *reply = NULL;
	const char *cap;
	bool markup = false;
	int r;

	/* within the text's time (sd_bus_call_method would wait 25 s for a
	 * stuck server) */
	r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.Notifications",
					   "/org/freedesktop/Notifications",
					   "org.freedesktop.Notifications", "GetCapabilities");
	if (r >= 0)
		r = sd_bus_call(bus, m, timeout_usec, NULL, &reply);
	sd_bus_message_unref(m);
	if (r < 0)
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

static int call_notify(sd_bus *bus, const char *body, uint64_t timeout_usec, sd_bus_error *error)
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
		r = sd_bus_call(bus, m, timeout_usec, error, &reply);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r;
}

/* The time left until deadline_ns, for sd_bus_call (0 would be its
 * default of 25 s): at least 1 us. */
static uint64_t usec_left(int64_t deadline_ns)
{
	int64_t left = deadline_ns - mono_ns();

	return left >= 1000 ? (uint64_t)left / 1000 : 1;
}

/* Connect unless the last attempt was less than a second ago. */
static int bus_connect(struct notifier *n, int64_t deadline_ns)
{
	int64_t now = mono_ns();
	int r;

	if (n->tried_connect && now - n->last_connect_ns < RECONNECT_INTERVAL_NS)
		return -ENOTCONN;
	n->tried_connect = true;
	n->last_connect_ns = now;
	r = sd_bus_open_user(&n->bus);
	if (r < 0)
		n->bus = NULL;
	else
		n->markup = server_reads_markup(n->bus, usec_left(deadline_ns));
	return r;
}

static void show(struct notifier *n, const char *text)
{
	static char body[3 * NOTIFY_TEXT_MAX + 1], escaped[5 * (3 * NOTIFY_TEXT_MAX) + 1];
	sd_bus_error error = SD_BUS_ERROR_NULL;
	/* one bound for a text, whatever it takes: connecting, asking the
	 * server what it reads, and the call */
	int64_t deadline_ns = mono_ns() + (int64_t)NOTIFY_CALL_TIMEOUT_USEC * 1000;
	int r = 0;

	dbus_text(text, body);
	/* A second try only when the first one found the connection gone:
	 * the bus may have been restarted since the last text. */
	for (int attempt = 0; attempt < 2; attempt++) {
		sd_bus_error_free(&error);
		if (!n->bus) {
			r = bus_connect(n, deadline_ns);
			if (r < 0)
				break;
		}
		r = call_notify(n->bus, n->markup ? markup_escape(body, escaped) : body,
				usec_left(deadline_ns), &error);
		if (r >= 0) {
			n->reported = false;
			pthread_mutex_lock(&n->lock);
			n->sent++;
			pthread_mutex_unlock(&n->lock);
			return;
		}
		if (sd_bus_is_open(n->bus) > 0)
			break;	/* an answer from the server, or a timeout: keep the bus */
		n->bus = sd_bus_flush_close_unref(n->bus);
	}
	if (!n->reported) {
		if (!n->bus && (r == -ENOENT || r == -ECONNREFUSED || r == -ENOMEDIUM))
			/* the usual case on a machine without a desktop: a warning,
			 * not an error: what it would have said is in exe.log too */
			log_warn("cannot show a desktop notification: this user has no desktop "
				  "session bus (%s); set \"Desktop notifications\": false in "
				  "config.json on a machine without a desktop", strerror(-r));
		else
			log_error("cannot show a desktop notification: %s",
				  sd_bus_error_is_set(&error) && error.message ? error.message
									     : strerror(-r));
		n->reported = true;
	}
	sd_bus_error_free(&error);
}

static void *sender(void *arg)
{
	struct notifier *n = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&n->lock);
	for (;;) {
		char *text;

		while (!n->count && !n->stopping)
			pthread_cond_wait(&n->more, &n->lock);
		if (!n->count || (n->stopping && mono_ns() > n->stop_deadline_ns))
			break;
		text = n->queue[n->head];
		n->head = (n->head + 1) % NOTIFY_QUEUE_MAX;
		n->count--;
		pthread_mutex_unlock(&n->lock);
		show(n, text);
		free(text);
		pthread_mutex_lock(&n->lock);
	}
	/* what could not be sent in time */
	n->dropped += n->count;
	while (n->count) {
		free(n->queue[n->head]);
		n->head = (n->head + 1) % NOTIFY_QUEUE_MAX;
		n->count--;
	}
	pthread_mutex_unlock(&n->lock);
	n->bus = sd_bus_flush_close_unref(n->bus);
	return NULL;
}

int notifier_start(const struct notifier_opts *opts, struct notifier **ret)
{
	struct notifier *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	n->opts = *opts;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->more, NULL);
	if (opts->desktop) {
		r = pthread_create(&n->thread, NULL, sender, n);
		if (r != 0) {
			pthread_mutex_destroy(&n->lock);
			pthread_cond_destroy(&n->more);
			free(n);
			return -r;
		}
		n->running = true;
	}
	*ret = n;
	return 0;
}

void notifier_send(struct notifier *n, const char *text)
{
	char *copy;

	if (!n)
		return;
	if (!n->opts.desktop) {
		if (n->opts.print)
			n->opts.print(n->opts.ctx, text);
		pthread_mutex_lock(&n->lock);
		n->sent++;
		pthread_mutex_unlock(&n->lock);
		return;
	}
	copy = strdup(text);
	pthread_mutex_lock(&n->lock);
	if (!copy || n->count == NOTIFY_QUEUE_MAX || n->stopping) {
		n->dropped++;
		free(copy);
	} else {
		n->queue[(n->head + n->count) % NOTIFY_QUEUE_MAX] = copy;
		n->count++;
		pthread_cond_signal(&n->more);
	}
	pthread_mutex_unlock(&n->lock);
}

uint64_t notifier_sent(struct notifier *n)
{
	uint64_t d;

	if (!n)
		return 0;
	pthread_mutex_lock(&n->lock);
	d = n->sent;
	pthread_mutex_unlock(&n->lock);
	return d;
}

uint64_t notifier_dropped(struct notifier *n)
{
	uint64_t d;

	if (!n)
		return 0;
	pthread_mutex_lock(&n->lock);
	d = n->dropped;
	pthread_mutex_unlock(&n->lock);
	return d;
}

void notifier_stop(struct notifier *n)
{
	if (!n)
		return;
	if (n->running) {
		pthread_mutex_lock(&n->lock);
		n->stopping = true;
		n->stop_deadline_ns = mono_ns() + (int64_t)STOP_WAIT_MS * 1000000;
		pthread_cond_signal(&n->more);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
	}
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->more);
	free(n);
}
