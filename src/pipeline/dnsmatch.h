/* DNS answers are believed only when they answer a query this machine
 * sent: the sensor passes every query leaving for port 53 and every
 * answer arriving from it, and an answer is used only if a query with the
 * same transaction id, question (name, type, class), addresses, ports and
 * network namespace left within DNSMATCH_MAX_AGE_MS and was not answered
 * yet.  Anything else (a forged answer, one for a query never sent, a
 * second answer to the same query) is counted and not used.  The table
 * of queries waiting for their answer is bounded: the oldest is forgotten
 * first, and counted. */
#ifndef PS_PIPELINE_DNSMATCH_H
#define PS_PIPELINE_DNSMATCH_H

#include <stddef.h>
#include <stdint.h>

#define DNSMATCH_MAX_AGE_MS 10000	/* resolvers give up after 5 s a try */
#define DNSMATCH_CAPACITY 4096

/* Both ends of a DNS exchange as the sensor saw them: l is the local
 * socket's side, r the server's (port 53). */
struct dns_ends {
	uint32_t netns;
	uint8_t family;		/* AF_INET (first 4 bytes of the addresses), AF_INET6 */
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
};

struct dnsmatch_stats {
	uint64_t queries;	/* remembered */
	uint64_t matched;	/* answers that answered one */
	uint64_t unmatched;	/* answers that answered none: forged or unsolicited */
	uint64_t evicted;	/* queries forgotten unanswered for lack of room */
	uint64_t unreadable;	/* queries and answers without a readable question */
};

struct dnsmatch;

int dnsmatch_new(size_t capacity, struct dnsmatch **ret);
void dnsmatch_free(struct dnsmatch *m);

/* A query left at now_ms (a monotonic clock): remembered until answered
 * or too old.  0, or -EBADMSG for a message that is not a DNS query with
 * one question (counted as unreadable). */
int dnsmatch_query(struct dnsmatch *m, const struct dns_ends *e, const uint8_t *msg, size_t len,
		   uint64_t now_ms);

/* An answer arrived at now_ms: 0 if it answers a remembered query (which
 * is then forgotten: a query has one answer), -ENOENT if it answers none
 * (counted as unmatched), -EBADMSG if it has no readable question. */
int dnsmatch_answer(struct dnsmatch *m, const struct dns_ends *e, const uint8_t *msg, size_t len,
		    uint64_t now_ms);

size_t dnsmatch_pending(const struct dnsmatch *m);
void dnsmatch_get_stats(const struct dnsmatch *m, struct dnsmatch_stats *s);

#endif
