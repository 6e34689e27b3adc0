/* One end of the socketpair between the monitor and the logger: sends
 * whole messages without ever blocking (what the peer cannot take yet
 * waits in a bounded queue), and receives messages one at a time, each
 * checked (proto_check) before anyone looks at it. */
#ifndef PS_PRIVSEP_CHANNEL_H
#define PS_PRIVSEP_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privsep/proto.h"

struct channel;

/* Takes over fd (a SOCK_SEQPACKET socket, made non-blocking here).  Up to
 * max_queued bytes wait for the peer; past that, messages are dropped and
 * counted. */
int channel_new(int fd, size_t max_queued, struct channel **ret);
void channel_free(struct channel *c);
int channel_fd(struct channel *c);

/* Send (or queue) a message built with proto_init.  0, -ENOBUFS when the
 * queue is full (dropped and counted), -EPIPE once the peer is gone. */
int channel_send(struct channel *c, const void *msg);

/* Write what is queued, as far as the peer takes it.  0, or -EPIPE. */
int channel_flush(struct channel *c);
bool channel_has_queued(struct channel *c);
size_t channel_queued_bytes(struct channel *c);

/* Receive one message into buf (PS_MSG_MAX bytes).  Returns its size, 0
 * when there is none now, -EPIPE at the peer's end, or -EBADMSG for one
 * that failed proto_check (counted, and to be skipped). */
int channel_recv(struct channel *c, void *buf);

struct channel_stats {
	uint64_t dropped;	/* messages the queue had no room for */
	uint64_t refused;	/* received messages that failed the check */
};
void channel_stats(struct channel *c, struct channel_stats *ret);

#endif
