/* DNS over TCP (RFC 7766), put back together from the segments the
 * sensor passes: each direction of a connection with port 53 is a stream
 * of messages, each preceded by its length in two bytes.  A stream starts
 * at its SYN (one whose start was not seen is ignored) and ends at its FIN
 * (or RST); a segment carries its sequence number, its whole payload
 * length and its first bytes.  Of each message the first TCPDNS_KEEP
 * bytes are kept (a longer one is passed on cut, as the UDP path cuts
 * datagrams); bytes the sensor did not copy are skipped by their count,
 * and a stream that loses the place of a length prefix (a gap, or a prefix
 * among bytes not copied) is given up, and counted.  The number of
 * streams is bounded: the one used least recently goes first, and
 * counted; streams idle for TCPDNS_IDLE_MS are forgotten. */
#ifndef PS_PIPELINE_TCPDNS_H
#define PS_PIPELINE_TCPDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/dnsmatch.h"

#define TCPDNS_KEEP 512
#define TCPDNS_CAPACITY 256
#define TCPDNS_IDLE_MS 120000

struct tcpdns_segment {
	struct dns_ends ends;	/* l: the local socket, r: the server (port 53) */
	bool from_server;	/* an answer's direction */
	bool syn, fin;
	uint32_t seq;
	uint32_t seg_len;	/* the segment's payload bytes */
	const uint8_t *data;	/* its first len bytes (len <= seg_len) */
	size_t len;
};

struct tcpdns_stats {
	uint64_t messages;	/* passed on */
	uint64_t lost;		/* streams given up */
	uint64_t evicted;	/* streams forgotten for lack of room */
};

/* A whole message (or its first TCPDNS_KEEP bytes) of a stream. */
typedef void (*tcpdns_message_fn)(void *ctx, const struct dns_ends *e, bool from_server,
				  const uint8_t *msg, size_t len);

struct tcpdns;

int tcpdns_new(size_t capacity, struct tcpdns **ret);
void tcpdns_free(struct tcpdns *t);

/* One segment at now_ms (a monotonic clock); fn is called for each
 * message it completes.  0, or -ENOMEM. */
int tcpdns_segment(struct tcpdns *t, const struct tcpdns_segment *s, uint64_t now_ms,
		   tcpdns_message_fn fn, void *ctx);

size_t tcpdns_streams(const struct tcpdns *t);
void tcpdns_get_stats(const struct tcpdns *t, struct tcpdns_stats *s);

#endif
