/* Framing over the socketpair (channel.h).  SOCK_SEQPACKET keeps message
 * boundaries; a message larger than the receive buffer arrives truncated,
 * which MSG_TRUNC reveals, and is refused. */
#include "privsep/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct qmsg {
	struct qmsg *next;
	size_t len;
	char data[];
};

struct channel {
	int fd;
	bool dead;
	struct qmsg *head, *tail;
	size_t queued, max_queued;
	struct channel_stats stats;
};

int channel_new(int fd, size_t max_queued, struct channel **ret)
{
	struct channel *c = calloc(1, sizeof(*c));
	int flags = fcntl(fd, F_GETFL);

	if (!c)
		return -ENOMEM;
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		free(c);
		return -errno;
	}
	c->fd = fd;
	c->max_queued = max_queued;
	*ret = c;
	return 0;
}

void channel_free(struct channel *c)
{
	struct qmsg *q, *n;

	if (!c)
		return;
	for (q = c->head; q; q = n) {
		n = q->next;
		free(q);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int channel_fd(struct channel *c)
{
	return c->fd;
}

/* 1 sent, 0 the peer has no room now, -EPIPE gone. */
static int send_one(struct channel *c, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n == (ssize_t)len)
			return 1;
		if (n >= 0 || errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
			c->dead = true;
			return -EPIPE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return 0;
		c->dead = true;
		return -EPIPE;
	}
}

int channel_flush(struct channel *c)
{
	while (c->head) {
		int r = send_one(c, c->head->data, c->head->len);
		struct qmsg *q = c->head;

		if (r <= 0)
			return r;
		c->head = q->next;
		if (!c->head)
			c->tail = NULL;
		c->queued -= q->len;
		free(q);
	}
	return c->dead ? -EPIPE : 0;
}

int channel_send(struct channel *c, const void *msg)
{
	const struct ps_msg_hdr *h = msg;
	size_t len = h->size;
	struct qmsg *q;

	if (c->dead)
		return -EPIPE;
	if (!c->head) {
		int r = send_one(c, msg, len);

		if (r != 0)
			return r < 0 ? r : 0;
	}
	if (c->queued + len > c->max_queued) {
		c->stats.dropped++;
		return -ENOBUFS;
	}
	q = malloc(sizeof(*q) + len);
	if (!q) {
		c->stats.dropped++;
		return -ENOBUFS;
	}
	q->next = NULL;
	q->len = len;
	memcpy(q->data, msg, len);
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->queued += len;
	return 0;
}

bool channel_has_queued(struct channel *c)
{
	return c->head != NULL;
}

size_t channel_queued_bytes(struct channel *c)
{
	return c->queued;
}

int channel_recv(struct channel *c, void *buf)
{
	struct iovec iov = { buf, PS_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	for (;;) {
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		c->dead = true;
		return -EPIPE;
	}
	if (n == 0) {
		c->dead = true;
		return -EPIPE;
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !proto_check(buf, (size_t)n)) {
		c->stats.refused++;
		return -EBADMSG;
	}
	return (int)n;
}

void channel_stats(struct channel *c, struct channel_stats *ret)
{
	*ret = c->stats;
}
