/* "Log ignore": rows that are not written to the connection log (they
 * still reach record.json, exe.log and notifications).  Each item of the
 * list is one rule:
 *   an integer             a port, local or remote
 *   64 hexadecimal digits  the SHA-256 of the process's executable
 *   an address or subnet   "10.0.0.0/8", "192.0.2.7", "fe80::/10": the
 *                          remote address is in it (the local one would
 *                          hide all traffic of a host on such a network)
 *   anything else          a domain in reverse notation, "com.example": that
 *                          domain and its subdomains, on label boundaries
 *                          ("com.example" matches www.example.com, not
 *                          badexample.com)
 */
#ifndef PS_PIPELINE_IGNORE_H
#define PS_PIPELINE_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "storage/store.h"

struct ignore_rules;

/* Compile the "Log ignore" list.  -EINVAL with a message naming the item
 * when one is none of the above. */
int ignore_rules_new(const json_t *list, struct ignore_rules **ret, char *err, size_t errlen);
void ignore_rules_free(struct ignore_rules *r);

/* Whether a row matches a rule (NULL rules match nothing). */
bool ignore_match(const struct ignore_rules *r, const struct conn_row *row);

size_t ignore_rules_count(const struct ignore_rules *r);

#endif
