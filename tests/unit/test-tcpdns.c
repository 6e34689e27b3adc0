/* DNS over TCP put back together: messages split across segments, two in
 * one, retransmissions, bytes the sensor did not copy (skipped inside a
 * message, fatal where a length prefix lies), gaps, streams whose SYN was
 * not seen, FIN, and the bound on streams. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/tcpdns.h"
#include "tap.h"

struct got {
	int n;
	size_t len[8];
	uint8_t first[8];
	bool from_server[8];
};

static void collect(void *ctx, const struct dns_ends *e, bool from_server, const uint8_t *msg,
		    size_t len)
{
	struct got *g = ctx;

	(void)e;
	if (g->n >= 8)
		return;
	g->len[g->n] = len;
	g->first[g->n] = len ? msg[0] : 0;
	g->from_server[g->n] = from_server;
	g->n++;
}

static struct tcpdns_segment seg(uint16_t lport, bool from_server, uint32_t seq, const void *data,
				 size_t len, uint32_t seg_len)
{
	struct tcpdns_segment s = {
		.ends = { .netns = 1, .family = AF_INET, .lport = lport, .rport = 53,
			  .laddr = { 10, 0, 0, 1 }, .raddr = { 10, 0, 0, 2 } },
		.from_server = from_server,
		.seq = seq,
		.data = data,
		.len = len,
		.seg_len = seg_len,
	};

	return s;
}

static struct tcpdns_segment syn(uint16_t lport, bool from_server, uint32_t isn)
{
	struct tcpdns_segment s = seg(lport, from_server, isn, NULL, 0, 0);

	s.syn = true;
	return s;
}

static void test_streams(void)
{
	struct tcpdns *t;
	struct got g = { 0 };
	struct tcpdns_stats st;
	struct tcpdns_segment s;
	/* two messages: 3 bytes "abc", 2 bytes "xy" */
	static const uint8_t two[] = { 0, 3, 'a', 'b', 'c', 0, 2, 'x', 'y' };

	if (tcpdns_new(2, &t) < 0)
		return;
	s = syn(1000, false, 0xfffffffe);	/* the sequence wraps */
	tcpdns_segment(t, &s, 0, collect, &g);
	s = seg(1000, false, 0xffffffff, two, 4, 4);
	tcpdns_segment(t, &s, 1, collect, &g);
	is_int(g.n, 0, "half a message: nothing yet");
	s = seg(1000, false, 0xffffffff, two, 4, 4);
	tcpdns_segment(t, &s, 2, collect, &g);
	is_int(g.n, 0, "  its retransmission changes nothing");
	s = seg(1000, false, 3, two + 4, 5, 5);
	tcpdns_segment(t, &s, 3, collect, &g);
	is_int(g.n, 2, "the rest completes it and a second message");
	is_int(g.len[0], 3, "  the first message whole");
	is_int(g.first[0], 'a', "  its bytes");
	is_int(g.len[1], 2, "  the second whole");
	is_int(g.first[1], 'x', "  its bytes");
	ok(!g.from_server[0], "  in the query direction");

	/* a segment overlapping what was read and bringing more */
	g.n = 0;
	s = syn(2000, true, 100);
	tcpdns_segment(t, &s, 4, collect, &g);
	s = seg(2000, true, 101, two, 3, 3);
	tcpdns_segment(t, &s, 5, collect, &g);
	s = seg(2000, true, 101, two, 9, 9);
	tcpdns_segment(t, &s, 6, collect, &g);
	is_int(g.n, 2, "an overlapping retransmission gives the rest once");
	ok(g.from_server[0], "  in the answer direction");

	/* the sensor copied 4 of 9 bytes: the rest of message 1 is skipped,
	 * but the prefix of message 2 is among the bytes not copied */
	g.n = 0;
	s = syn(3000, true, 0);
	tcpdns_segment(t, &s, 7, collect, &g);
	s = seg(3000, true, 1, two, 4, 9);
	tcpdns_segment(t, &s, 8, collect, &g);
	is_int(g.n, 1, "bytes not copied: the message they end is passed, cut");
	is_int(g.len[0], 2, "  with the bytes that were copied");
	tcpdns_get_stats(t, &st);
	is_int(st.lost, 1, "  and the stream is given up where a prefix was not copied");
	is_int(st.evicted, 1, "three streams in a table of two: one forgotten");

	/* a gap */
	g.n = 0;
	s = syn(4000, true, 0);
	tcpdns_segment(t, &s, 9, collect, &g);
	s = seg(4000, true, 3, two + 2, 7, 7);
	tcpdns_segment(t, &s, 10, collect, &g);
	s = seg(4000, true, 1, two, 2, 2);
	tcpdns_segment(t, &s, 11, collect, &g);
	is_int(g.n, 0, "after a gap nothing is passed");
	tcpdns_get_stats(t, &st);
	is_int(st.lost, 2, "  and it is counted");

	/* no SYN seen */
	g.n = 0;
	s = seg(5000, true, 1, two, 9, 9);
	tcpdns_segment(t, &s, 12, collect, &g);
	is_int(g.n, 0, "a stream whose start was not seen is ignored");

	/* FIN ends a stream */
	s = syn(6000, true, 0);
	tcpdns_segment(t, &s, 13, collect, &g);
	s = seg(6000, true, 1, two, 9, 9);
	s.fin = true;
	tcpdns_segment(t, &s, 14, collect, &g);
	is_int(g.n, 2, "the data of a FIN segment is read");
	s = seg(6000, true, 10, two, 9, 9);
	tcpdns_segment(t, &s, 15, collect, &g);
	is_int(g.n, 2, "  and the stream then ends");

	/* idle streams go */
	s = syn(7000, true, 0);
	tcpdns_segment(t, &s, 20, collect, &g);
	s = syn(7001, true, 0);
	tcpdns_segment(t, &s, 20 + TCPDNS_IDLE_MS + 1, collect, &g);
	is_int(tcpdns_streams(t), 1, "a stream idle for 2 minutes is forgotten");

	/* a message longer than what is kept */
	{
		static uint8_t big[1002];

		g.n = 0;
		big[0] = 1000 >> 8;
		big[1] = 1000 & 0xff;
		big[2] = 'q';
		s = syn(8000, false, 0);
		tcpdns_segment(t, &s, 30, collect, &g);
		s = seg(8000, false, 1, big, sizeof(big), sizeof(big));
		tcpdns_segment(t, &s, 31, collect, &g);
		is_int(g.n, 1, "a message longer than what is kept is passed");
		is_int(g.len[0], TCPDNS_KEEP, "  cut to its first 512 bytes");
	}
	tcpdns_free(t);
}

int main(void)
{
	test_streams();
	return tap_done();
}
