/* The dash's live feed (dash_live.h).
 *
 * Invariants, all under dl->lock:
 *  - the ring holds events first_seq .. next_seq-1 (at most DASH_LIVE_KEEP);
 *  - a stream whose `suspended` is set was suspended by its reader
 *    callback and is resumed by exactly one caller: the publisher (which
 *    clears the flag under the lock and resumes after unlocking), a new
 *    stream finding the bound reached (for streams whose reader has
 *    gone), or dash_live_stop; libmicrohttpd frees no suspended
 *    connection, so a stream taken from the list that way is still alive
 *    when resumed;
 *  - nlive counts the streams in the list that are not `gone`; the bound
 *    (DASH_LIVE_CLIENTS_MAX) is on nlive;
 *  - a stream leaves the list only in its free callback (the connection is
 *    done, so it is not suspended). */
#include "dash/dash_live.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "logger/live.h"
#include "util/log.h"

struct stream {
	struct dash_live *dl;
	struct MHD_Connection *conn;
	uint64_t next_seq;
	char *pending;		/* the event being written */
	size_t pending_len, pending_off;
	bool suspended;
	bool gone;		/* its reader closed the connection: ends at once */
	struct stream *next, *prev;
};

struct dash_live {
	pthread_mutex_t lock;
	pthread_t thread;
	bool thread_started;
	int dirfd;
	int stop_fd;		/* eventfd: the thread ends */
	bool stopping;
	char *ring[DASH_LIVE_KEEP];
	uint64_t first_seq, next_seq;
	struct stream *streams;
	size_t nlive;
	int running;		/* -1 unknown, 0 no logger, 1 reading one */
	uint64_t refused;	/* datagrams that failed the check */
};

/* ---- checking the logger's datagrams ---- */

static bool count_of(json_t *o, const char *key, json_int_t *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*ret = json_integer_value(v);
	return true;
}

int dash_live_event(const char *buf, size_t len, char **json)
{
	json_t *in = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *out = NULL, *list = NULL, *exes, *others;
	json_int_t t, ms, n, s, r;
	int ret = -EBADMSG;

	*json = NULL;
	if (!json_is_object(in) || !count_of(in, "time", &t) || !count_of(in, "ms", &ms))
		goto out;
	exes = json_object_get(in, "executables");
	others = json_object_get(in, "others");
	if (!json_is_array(exes) || json_array_size(exes) > LIVE_TOP || !json_is_object(others) ||
	    !count_of(others, "executables", &n) || !count_of(others, "sent", &s) ||
	    !count_of(others, "received", &r))
		goto out;
	list = json_array();
	out = json_pack("{s:I,s:I,s:O,s:{s:I,s:I,s:I}}", "time", t, "ms", ms, "executables", list,
			"others", "executables", n, "sent", s, "received", r);
	if (!list || !out) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(exes); i++) {
		json_t *e = json_array_get(exes, i), *name = json_object_get(e, "executable");
		json_int_t es, er;

		if (!json_is_object(e) || !json_is_string(name) || !count_of(e, "sent", &es) ||
		    !count_of(e, "received", &er) ||
		    json_string_length(name) > LIVE_DATAGRAM_MAX)
			goto out;
		if (json_array_append_new(list, json_pack("{s:O,s:I,s:I}", "executable", name,
							  "sent", es, "received", er)) < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
	/* one line (compact: no newline) of ASCII: whatever a name holds,
	 * nothing in it can end the SSE field */
	*json = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
	ret = *json ? 0 : -ENOMEM;
out:
	json_decref(in);
	json_decref(out);
	json_decref(list);
	return ret;
}

/* ---- the ring and the streams ---- */

static void publish(struct dash_live *dl, const char *event, const char *data)
{
	struct stream *wake[DASH_LIVE_CLIENTS_MAX];
	size_t nwake = 0;
	char *text = NULL;

	pthread_mutex_lock(&dl->lock);
	if (asprintf(&text, "event: %s\nid: %llu\ndata: %s\n\n", event,
		     (unsigned long long)dl->next_seq, data) < 0) {
		pthread_mutex_unlock(&dl->lock);
		return;
	}
	if (dl->next_seq - dl->first_seq == DASH_LIVE_KEEP) {
		free(dl->ring[dl->first_seq % DASH_LIVE_KEEP]);
		dl->first_seq++;
	}
	dl->ring[dl->next_seq % DASH_LIVE_KEEP] = text;
	dl->next_seq++;
	for (struct stream *s = dl->streams; s; s = s->next) {
		if (s->suspended && nwake < DASH_LIVE_CLIENTS_MAX) {
			s->suspended = false;
			wake[nwake++] = s;
		}
	}
	pthread_mutex_unlock(&dl->lock);
	for (size_t i = 0; i < nwake; i++)
		MHD_resume_connection(wake[i]->conn);
}

static void set_running(struct dash_live *dl, int running)
{
	if (dl->running == running && running)
		return;
	/* written under the lock (streams read it), read here without */
	pthread_mutex_lock(&dl->lock);
	dl->running = running;
	pthread_mutex_unlock(&dl->lock);
	publish(dl, "state", running ? "{\"running\":true}" : "{\"running\":false}");
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	struct dash_live *dl = s->dl;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&dl->lock);
	if (dl->stopping || s->gone) {
		pthread_mutex_unlock(&dl->lock);
		return s->gone ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (!s->pending && s->next_seq < dl->next_seq) {
		/* a stream that fell behind the ring goes on from its start */
		if (s->next_seq < dl->first_seq)
			s->next_seq = dl->first_seq;
		s->pending = strdup(dl->ring[s->next_seq % DASH_LIVE_KEEP]);
		if (!s->pending) {
			pthread_mutex_unlock(&dl->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		s->pending_len = strlen(s->pending);
		s->pending_off = 0;
		s->next_seq++;
	}
	if (!s->pending) {
		/* everything sent: wait for the next second */
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		pthread_mutex_unlock(&dl->lock);
		return 0;
	}
	n = s->pending_len - s->pending_off;
	if (n > max)
		n = max;
	memcpy(buf, s->pending + s->pending_off, n);
	s->pending_off += n;
	if (s->pending_off == s->pending_len) {
		free(s->pending);
		s->pending = NULL;
	}
	pthread_mutex_unlock(&dl->lock);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	struct dash_live *dl = s->dl;

	pthread_mutex_lock(&dl->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		dl->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (!s->gone)
		dl->nlive--;
	pthread_mutex_unlock(&dl->lock);
	free(s->pending);
	free(s);
}

/* Whether the reader of a waiting stream has closed its end.  A reader
 * sends nothing after its request, so end of file (or an error) on a peek
 * means gone; bytes waiting mean a reader still there. */
static bool reader_gone(struct stream *s)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char b;
	ssize_t n;

	if (!ci)
		return false;
	n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* With the bound reached: streams waiting for the next second whose
 * readers have gone stop counting and are woken to end, so a page closed
 * a moment ago does not keep a new one out until the next second's write
 * fails.  Under dl->lock; returns how many, their connections in wake. */
static size_t drop_gone_readers(struct dash_live *dl, struct MHD_Connection **wake)
{
	size_t n = 0;

	for (struct stream *s = dl->streams; s; s = s->next)
		if (s->suspended && !s->gone && n < DASH_LIVE_CLIENTS_MAX && reader_gone(s)) {
			s->gone = true;
			s->suspended = false;
			dl->nlive--;
			wake[n++] = s->conn;
		}
	return n;
}

int dash_live_serve(struct dash_live *dl, struct MHD_Connection *c, const char *history,
		    void (*add_headers)(struct MHD_Response *r), enum MHD_Result *ret)
{
	unsigned long h = DASH_LIVE_HISTORY;
	struct MHD_Connection *wake[DASH_LIVE_CLIENTS_MAX];
	size_t nwake = 0;
	struct MHD_Response *r;
	struct stream *s;

	if (history) {
		char *end;

		if (!*history || strspn(history, "0123456789") != strlen(history) ||
		    strlen(history) > 6 || (h = strtoul(history, &end, 10)) > DASH_LIVE_KEEP)
			return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dl = dl;
	s->conn = c;
	pthread_mutex_lock(&dl->lock);
	if (dl->nlive >= DASH_LIVE_CLIENTS_MAX)
		nwake = drop_gone_readers(dl, wake);
	if (dl->nlive >= DASH_LIVE_CLIENTS_MAX) {
		pthread_mutex_unlock(&dl->lock);
		for (size_t i = 0; i < nwake; i++)
			MHD_resume_connection(wake[i]);
		free(s);
		return -EBUSY;
	}
	s->next_seq = dl->next_seq - (dl->next_seq - dl->first_seq < h ? dl->next_seq - dl->first_seq
								       : h);
	/* how soon a browser comes back, and what is known of the monitor */
	s->pending = strdup(dl->running == 1   ? "retry: 2000\n\nevent: state\ndata: {\"running\":true}\n\n"
			    : dl->running == 0 ? "retry: 2000\n\nevent: state\ndata: {\"running\":false}\n\n"
					       : "retry: 2000\n\n");
	s->pending_len = s->pending ? strlen(s->pending) : 0;
	s->next = dl->streams;
	if (s->next)
		s->next->prev = s;
	dl->streams = s;
	dl->nlive++;
	pthread_mutex_unlock(&dl->lock);
	for (size_t i = 0; i < nwake; i++)
		MHD_resume_connection(wake[i]);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
	if (!r) {
		stream_free(s);
		return -ENOMEM;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	add_headers(r);
	*ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return 0;
}

/* ---- the thread that reads live.sock ---- */

static int connect_live(struct dash_live *dl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	/* non-blocking: a logger too busy to accept (its backlog full) must
	 * not keep this thread from seeing that the server stops */
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dl->dirfd, LIVE_SOCKET);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	/* only this user's logger (or root's) is believed */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != getuid() && cred.uid != 0)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Wait up to ms for fd (or only the stop event, fd < 0): 1 readable, 0
 * not, -ECANCELED when stopping. */
static int wait_for(struct dash_live *dl, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = dl->stop_fd, .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };
	int n = poll(p, fd >= 0 ? 2 : 1, ms);

	if (n > 0 && p[0].revents)
		return -ECANCELED;
	return n > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR));
}

static void *reader(void *arg)
{
	struct dash_live *dl = arg;
	static char buf[LIVE_DATAGRAM_MAX + 1];
	bool said_perm = false, first = true;
	int idle = 0;

	for (;;) {
		int fd, w;

		/* at most one attempt a second: a logger that takes the
		 * connection and closes it (too many readers) is not asked
		 * again at once */
		if (!first && wait_for(dl, -1, 1000) < 0)
			return NULL;
		first = false;
		fd = connect_live(dl);

		if (fd == -EPERM && !said_perm) {
			log_warn("dash: live feed: the live.sock in the state directory belongs to "
				 "another user; not reading it");
			said_perm = true;
		}
		if (fd < 0) {
			/* no logger: say so now and then, which also keeps the
			 * streams' connections from timing out */
			if (dl->running != 0 || ++idle >= DASH_LIVE_IDLE_S) {
				set_running(dl, 0);
				idle = 0;
			}
			continue;
		}
		/* running once the first second arrives, not at connect (a
		 * connection still in the logger's backlog proves nothing) */
		while ((w = wait_for(dl, fd, 5000)) >= 0) {
			ssize_t n;
			char *json;

			if (w == 0)
				break;	/* a logger that ticks every second went quiet */
			n = recv(fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
			if (n < 0)
				continue;
			if ((size_t)n > LIVE_DATAGRAM_MAX ||
			    dash_live_event(buf, (size_t)n, &json) < 0) {
				dl->refused++;
				continue;
			}
			set_running(dl, 1);
			publish(dl, "traffic", json);
			free(json);
		}
		close(fd);
		if (w < 0)
			return NULL;
		if (dl->running != 0)
			set_running(dl, 0);
		idle = 0;
	}
}

int dash_live_start(int dirfd, struct dash_live **ret)
{
	struct dash_live *dl = calloc(1, sizeof(*dl));
	int r;

	if (!dl)
		return -ENOMEM;
	pthread_mutex_init(&dl->lock, NULL);
	dl->dirfd = dirfd;
	dl->running = -1;
	dl->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (dl->stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	if (dirfd >= 0) {
		r = -pthread_create(&dl->thread, NULL, reader, dl);
		if (r < 0)
			goto fail;
		dl->thread_started = true;
	}
	*ret = dl;
	return 0;
fail:
	if (dl->stop_fd >= 0)
		close(dl->stop_fd);
	pthread_mutex_destroy(&dl->lock);
	free(dl);
	return r;
}

void dash_live_stop(struct dash_live *dl)
{
	uint64_t one = 1;
	struct stream *s;

	if (!dl)
		return;
	if (write(dl->stop_fd, &one, sizeof(one)) < 0)
		log_warn("dash: live feed: cannot stop its thread: %s", strerror(errno));
	if (dl->thread_started)
		pthread_join(dl->thread, NULL);
	dl->thread_started = false;
	/* every stream ends; the suspended ones are woken to see it */
	pthread_mutex_lock(&dl->lock);
	dl->stopping = true;
	for (s = dl->streams; s; s = s->next) {
		if (s->suspended) {
			s->suspended = false;
			MHD_resume_connection(s->conn);
		}
	}
	pthread_mutex_unlock(&dl->lock);
}

/* Called after MHD_stop_daemon (every stream is freed by then). */
void dash_live_free(struct dash_live *dl)
{
	if (!dl)
		return;
	for (uint64_t q = dl->first_seq; q < dl->next_seq; q++)
		free(dl->ring[q % DASH_LIVE_KEEP]);
	close(dl->stop_fd);
	pthread_mutex_destroy(&dl->lock);
	free(dl);
}
