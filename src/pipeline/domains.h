/* Domain names of remote addresses, learned from the DNS answers this
 * machine receives: the sensor copies every UDP datagram that arrives from
 * port 53 to a local socket, whichever program or resolver asked; those
 * that answer a query sent (dnsmatch.h) come here, and the names asked
 * for are remembered for the addresses they resolved to.  A flow's domain
 * is the name last resolved to its remote address. */
#ifndef PS_PIPELINE_DOMAINS_H
#define PS_PIPELINE_DOMAINS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 253	/* a name in text form, without the final dot */

/* Where a name came from (snitch.db's domains.source, docs/schema.md). */
enum domain_source {
	DOMAIN_SOURCE_NONE,	/* "": no name */
	DOMAIN_SOURCE_DNS,	/* "dns": a DNS answer over UDP that matched a query */
	DOMAIN_SOURCE_DNS_TCP,	/* "dns-tcp": the same over TCP */
	DOMAIN_SOURCE_SNI,	/* "sni": a TLS ClientHello's server name */
	DOMAIN_SOURCE_QUIC,	/* "quic": the same in a QUIC Initial packet */
	DOMAIN_SOURCE__COUNT
};

/* Its text as stored: "", "dns", "dns-tcp", "sni", "quic". */
const char *domain_source_name(enum domain_source src);

struct domains;

/* A cache of at most `capacity` addresses (the oldest learned go first). */
int domains_new(size_t capacity, struct domains **ret);
void domains_free(struct domains *d);

/* Learn from one DNS message as received: the A and AAAA answers of a
 * response, under the name of its question.  Returns how many addresses
 * were learned, or -EBADMSG for a message that is not a well-formed
 * response (nothing is learned from it). */
int domains_learn(struct domains *d, const uint8_t *msg, size_t len, enum domain_source src);

/* Learn one name for an address from elsewhere than DNS (a TLS or QUIC
 * server name: src DOMAIN_SOURCE_SNI or _QUIC; name already checked as a
 * host name).  A name a DNS answer gave the address is kept: DNS wins,
 * and a later DNS answer replaces this one.  0, or -ENOMEM. */
int domains_learn_name(struct domains *d, int family, const uint8_t addr[16], const char *name,
		       enum domain_source src);

/* The name last resolved to an address (family AF_INET: the first 4
 * bytes of addr), or NULL; *src (if not NULL) says where it came from. */
const char *domains_lookup(const struct domains *d, int family, const uint8_t addr[16],
			   enum domain_source *src);

size_t domains_count(const struct domains *d);

/* The parser alone: calls fn for every A and AAAA answer of a response
 * with the question's name (lower case, no final dot).  Returns the number
 * of calls, or -EBADMSG: truncated or malformed messages, compression
 * loops, names over DNS_NAME_MAX, and names with characters other than
 * letters, digits, '-' and '_' are refused whole. */
int dns_parse_response(const uint8_t *msg, size_t len,
		       void (*fn)(void *ctx, const char *name, int family, const uint8_t *addr),
		       void *ctx);

#endif
