/* The userspace side of the BPF sensor: choose the hooks this kernel
 * offers, load and attach them, deliver ring buffer records, and read the
 * aggregated flow counters and loss counters. */
#ifndef PS_SENSOR_SENSOR_H
#define PS_SENSOR_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>
#include "abi.h"

struct sensor;

struct sensor_opts {
	uint32_t ringbuf_bytes;		/* power of two, multiple of the page size */
	bool every_exe;			/* report every exec on the ring buffer */
	uint32_t flow_capacity;		/* 0: the built-in size of the flow table */
	uint32_t closed_capacity;	/* 0: the built-in size of the closed-socket table */
	uint32_t listener_capacity;	/* 0: the built-in size of the listener table */
	/* called for every ring buffer record; return 0 */
	int (*on_event)(void *ctx, const void *data, size_t size);
	void *ctx;
	/* called once for every feature this kernel cannot offer: the hook,
	 * what is therefore not seen, and why */
	void (*on_missing)(void *ctx, const char *hook, const char *lost, const char *why);
};

/* Load and attach.  On failure, err holds what went wrong. */
int sensor_open(const struct sensor_opts *opts, struct sensor **ret, char *err, size_t errlen);
void sensor_close(struct sensor *s);

/* Descriptor to poll for ring buffer records, and the consumer. */
int sensor_poll_fd(struct sensor *s);
int sensor_consume(struct sensor *s);

/* Bring the counters of open TCP connections of this network namespace up
 * to date (they are read from the sockets, not counted per packet; those
 * of other namespaces are counted by the sensor as they send, at most
 * once a second); call before reading flows. */
int sensor_count_tcp(struct sensor *s);

/* Call fn for every flow with its counters summed over CPUs; stops early
 * when fn returns non-zero. */
int sensor_for_each_flow(struct sensor *s,
			 int (*fn)(void *ctx, const struct ps_flow_key *k, const struct ps_flow_count *c),
			 void *ctx);
/* What the sensor recorded about a flow when it began. */
int sensor_flow_info(struct sensor *s, const struct ps_flow_key *k, struct ps_flow_info *ret);
/* Delete flows (counters, then identity); a flow already gone is skipped. */
int sensor_delete_flows(struct sensor *s, const struct ps_flow_key *keys, size_t n);

/* Ids of sockets that can carry no more traffic. */
int sensor_closed_sockets(struct sensor *s, uint64_t **ret, size_t *ret_n);
/* Drop sockets from that list once their flows were read a last time, and
 * free their datagram slots. */
int sensor_forget_closed(struct sensor *s, const uint64_t *ids, size_t n);

/* Totals of the loss and health counters since load. */
int sensor_stats(struct sensor *s, uint64_t ret[PS_STAT_MAX]);

/* Map descriptors for the identity code. */
int sensor_execs_fd(struct sensor *s);
int sensor_listeners_fd(struct sensor *s);
size_t sensor_flow_capacity(struct sensor *s);

#endif
