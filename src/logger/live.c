/* The live feed (live.h): per-second sums per executable, sent to the
 * readers of live.sock as one JSON datagram each (SOCK_SEQPACKET keeps the
 * seconds apart, so a reader never has to find where one ends). */
#include "logger/live.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <uthash.h>

struct live_exe {
	uint64_t sent, received;
	UT_hash_handle hh;
	char name[];
};

struct live {
	int fd;
	ino_t ino;		/* of the socket bound: only it is removed at close */
	int clients[LIVE_CLIENTS_MAX];
	size_t nclients;
	struct live_exe *exes;
	size_t nexes;
	uint64_t other_exes, other_sent, other_received;
	struct live_stats stats;
};

static int bind_below(int fd, int dirfd, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	/* the directory's own path may be longer than sun_path holds */
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd,
			     name) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	return bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
}

int live_open(int dirfd, struct live **ret)
{
	struct live *lv = calloc(1, sizeof(*lv));
	struct stat st;
	int r;

	if (!lv)
		return -ENOMEM;
	lv->fd = -1;
	if (dirfd < 0)
		goto done;	/* sums only (tests) */
	if (fstatat(dirfd, LIVE_SOCKET, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			free(lv);
			return -EEXIST;
		}
		unlinkat(dirfd, LIVE_SOCKET, 0);	/* a previous run's */
	}
	lv->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lv->fd < 0) {
		r = -errno;
		goto fail;
	}
	/* the process's umask (077) makes the socket 0600 */
	r = bind_below(lv->fd, dirfd, LIVE_SOCKET);
	if (r == 0 && listen(lv->fd, LIVE_CLIENTS_MAX) < 0)
		r = -errno;
	if (r == 0 && fstatat(dirfd, LIVE_SOCKET, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r < 0)
		goto fail;
	lv->ino = st.st_ino;
done:
	*ret = lv;
	return 0;
fail:
	if (lv->fd >= 0)
		close(lv->fd);
	free(lv);
	return r;
}

int live_check(struct live *lv, int dirfd)
{
	struct live *fresh;
	struct stat st;
	int r;

	if (!lv || lv->fd < 0 || dirfd < 0)
		return 0;
	if (fstatat(dirfd, LIVE_SOCKET, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_ino == lv->ino)
		return 0;
	r = live_open(dirfd, &fresh);
	if (r < 0)
		return r;
	if (dup3(fresh->fd, lv->fd, O_CLOEXEC) < 0)
		r = -errno;
	else
		lv->ino = fresh->ino;
	close(fresh->fd);
	free(fresh);
	return r < 0 ? r : 1;
}

static void sums_reset(struct live *lv)
{
	struct live_exe *e, *t;

	HASH_ITER(hh, lv->exes, e, t) {
		HASH_DEL(lv->exes, e);
		free(e);
	}
	lv->nexes = 0;
	lv->other_exes = lv->other_sent = lv->other_received = 0;
}

void live_close(struct live *lv, int dirfd)
{
	if (!lv)
		return;
	for (size_t i = 0; i < lv->nclients; i++)
		close(lv->clients[i]);
	if (lv->fd >= 0) {
		struct stat st;

		close(lv->fd);
		/* not a successor's socket, made there since */
		if (dirfd >= 0 && fstatat(dirfd, LIVE_SOCKET, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_ino == lv->ino)
			unlinkat(dirfd, LIVE_SOCKET, 0);
	}
	sums_reset(lv);
	free(lv);
}

int live_fd(const struct live *lv)
{
	return lv ? lv->fd : -1;
}

/* Close the readers that left (their end closed): a slot is not held by a
 * reader that is gone until the next second is sent. */
static void drop_gone(struct live *lv)
{
	for (size_t i = 0; i < lv->nclients;) {
		char c;
		ssize_t r = recv(lv->clients[i], &c, 1, MSG_DONTWAIT | MSG_PEEK);

		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			close(lv->clients[i]);
			lv->clients[i] = lv->clients[--lv->nclients];
			continue;
		}
		i++;
	}
}

void live_accept(struct live *lv)
{
	drop_gone(lv);
	for (int k = 0; k < 16; k++) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int c = accept4(lv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0)
			return;
		if (lv->nclients >= LIVE_CLIENTS_MAX ||
		    getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    (cred.uid != getuid() && cred.uid != 0)) {
			close(c);
			lv->stats.refused++;
			continue;
		}
		lv->clients[lv->nclients++] = c;
	}
}

bool live_wanted(const struct live *lv)
{
	return lv && lv->nclients > 0;
}

void live_add(struct live *lv, const char *exe, uint64_t sent, uint64_t received)
{
	struct live_exe *e;

	if (!sent && !received)
		return;
	HASH_FIND_STR(lv->exes, exe, e);
	if (!e) {
		size_t n = strlen(exe);

		if (lv->nexes >= LIVE_EXES_MAX || !(e = malloc(sizeof(*e) + n + 1))) {
			lv->stats.overflow += lv->nexes >= LIVE_EXES_MAX;
			lv->other_exes++;	/* may count one twice: a bound, not a census */
			lv->other_sent += sent;
			lv->other_received += received;
			return;
		}
		memcpy(e->name, exe, n + 1);
		e->sent = e->received = 0;
		HASH_ADD_STR(lv->exes, name, e);
		lv->nexes++;
	}
	e->sent += sent;
	e->received += received;
}

/* JSON integers are signed: a count past INT64_MAX (never, in practice)
 * is shown as the largest one */
static json_int_t clamp(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

static int busiest_first(const void *a, const void *b)
{
	const struct live_exe *x = *(struct live_exe *const *)a, *y = *(struct live_exe *const *)b;
	uint64_t tx = x->sent + x->received, ty = y->sent + y->received;

	if (tx != ty)
		return tx < ty ? 1 : -1;
	return strcmp(x->name, y->name);
}

char *live_render(struct live *lv, int64_t now, uint64_t elapsed_ms, size_t *len)
{
	struct live_exe **order = lv->nexes ? calloc(lv->nexes, sizeof(*order)) : NULL;
	json_t *root = json_object(), *list = json_array(), *others = json_object();
	uint64_t oexes = lv->other_exes, osent = lv->other_sent, orecv = lv->other_received;
	size_t n = 0, budget = LIVE_DATAGRAM_MAX - 256;
	char *text = NULL;
	struct live_exe *e, *t;

	if ((lv->nexes && !order) || !root || !list || !others)
		goto out;
	HASH_ITER(hh, lv->exes, e, t)
		order[n++] = e;
	if (n)
		qsort(order, n, sizeof(*order), busiest_first);
	for (size_t i = 0; i < n; i++) {
		/* the most a name can grow as JSON (\uXXXX\uXXXX for 4 bytes),
		 * and two 19-digit numbers with the keys */
		size_t cost = 3 * strlen(order[i]->name) + 96;
		json_t *o;

		if (i >= LIVE_TOP || cost > budget) {
			oexes++;
			osent += order[i]->sent;
			orecv += order[i]->received;
			continue;
		}
		budget -= cost;
		o = json_pack("{s:s,s:I,s:I}", "executable", order[i]->name, "sent",
			      clamp(order[i]->sent), "received", clamp(order[i]->received));
		if (!o || json_array_append_new(list, o) < 0)
			goto out;
	}
	if (json_object_set_new(others, "executables", json_integer(clamp(oexes))) < 0 ||
	    json_object_set_new(others, "sent", json_integer(clamp(osent))) < 0 ||
	    json_object_set_new(others, "received", json_integer(clamp(orecv))) < 0 ||
	    json_object_set_new(root, "time", json_integer((json_int_t)now)) < 0 ||
	    json_object_set_new(root, "ms", json_integer((json_int_t)elapsed_ms)) < 0 ||
	    json_object_set(root, "executables", list) < 0 ||
	    json_object_set(root, "others", others) < 0)
		goto out;
	text = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text)
		*len = strlen(text);
	/* cannot happen with the costs above; if it did, the reader would
	 * refuse it, so nothing is sent instead */
	if (text && *len > LIVE_DATAGRAM_MAX) {
		free(text);
		text = NULL;
	}
out:
	json_decref(root);
	json_decref(list);
	json_decref(others);
	free(order);
	sums_reset(lv);
	return text;
}

void live_publish(struct live *lv, int64_t now, uint64_t elapsed_ms)
{
	size_t len = 0;
	char *text;

	if (!lv->nclients) {
		sums_reset(lv);
		return;
	}
	text = live_render(lv, now, elapsed_ms, &len);
	for (size_t i = 0; text && i < lv->nclients;) {
		ssize_t w = send(lv->clients[i], text, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			lv->stats.missed++;
		} else if (w < 0) {
			/* gone: the last one takes its place */
			close(lv->clients[i]);
			lv->clients[i] = lv->clients[--lv->nclients];
			continue;
		}
		i++;
	}
	free(text);
}

void live_stats(const struct live *lv, struct live_stats *ret)
{
	*ret = lv->stats;
}
