/* Server names from the first bytes of connections: the sensor copies the
 * first data segments a TCP client sends before it receives anything,
 * and the first datagrams a UDP socket sends (docs/sensor.md); here they
 * are put back together and read, in the unprivileged logger.  Over TCP
 * the stream's first SERVERNAME_STREAM_MAX bytes are placed by sequence
 * number (retransmissions, overlaps and any order) and read as TLS
 * records (tls_hello.h); over UDP each datagram that is a QUIC v1 Initial
 * is opened (quic.h) and its CRYPTO frames placed by offset.  A flow is
 * read until its name is found or it proves to be something else; the
 * table of flows is bounded (the least recently used goes first, and is
 * counted) and idle flows go after SERVERNAME_IDLE_MS.  Failures are
 * counted by kind. */
#ifndef PS_PIPELINE_SERVERNAME_H
#define PS_PIPELINE_SERVERNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/dnsmatch.h"
#include "pipeline/domains.h"

#define SERVERNAME_STREAM_MAX 4096	/* handshake bytes read per flow */
#define SERVERNAME_CAPACITY 256		/* flows being read at once */
#define SERVERNAME_IDLE_MS 10000

struct servername_packet {
	struct dns_ends ends;	/* l: this machine's socket, r: the server */
	uint8_t proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	bool first;		/* TCP: the stream's first data segment */
	uint32_t seq;		/* TCP: its sequence number */
	uint32_t seg_len;	/* its payload bytes (len may be fewer) */
	const uint8_t *data;
	size_t len;
};

struct servername_stats {
	uint64_t sni;		/* names found in TLS over TCP */
	uint64_t quic;		/* names found in QUIC Initials */
	uint64_t no_name;	/* a whole ClientHello without a server name */
	uint64_t malformed;	/* a ClientHello (or Initial header) that breaks its lengths */
	uint64_t unopened;	/* QUIC v1 Initials whose tag did not verify */
	uint64_t incomplete;	/* flows forgotten before their ClientHello was whole */
	uint64_t evicted;	/* of these, for lack of room */
};

typedef void (*servername_fn)(void *ctx, const struct dns_ends *e, const char *name,
			      enum domain_source src);

struct servername;

int servername_new(size_t capacity, struct servername **ret);
void servername_free(struct servername *s);

/* One copied segment or datagram at now_ms (a monotonic clock); fn is
 * called once for a flow whose name is found.  0, or -ENOMEM, -EIO. */
int servername_packet(struct servername *s, const struct servername_packet *p, uint64_t now_ms,
		      servername_fn fn, void *ctx);

size_t servername_flows(const struct servername *s);
void servername_get_stats(const struct servername *s, struct servername_stats *st);

#endif
