/* The fleet view of `picosnitch dash --sql` (fleet.c): a private
 * snitch.db holding the "DB sql server"'s entries, each with its machine
 * (the query layer's "host" dimension), kept up to date by a thread. */
#ifndef PS_CLI_FLEET_H
#define PS_CLI_FLEET_H

#include <stdint.h>

#include <jansson.h>

struct fleet;

/* Connect (server: config.json's "DB sql server", or file: --server FILE),
 * make the copy at path and fill it with the entries since `since` (of
 * every machine, or of the one whose host name or machine id is
 * `machine`), before returning: 0, or 1 with the reason on stderr. */
int fleet_open(const json_t *server, const char *file, const char *machine, int64_t since,
	       const char *path, struct fleet **ret);
/* Copy what arrives on the server every `interval` seconds (0: never), in
 * a thread of its own: the dash's requests never wait for the server. */
int fleet_start(struct fleet *f, unsigned interval);
/* Stop the thread and disconnect (the copy stays, for the caller to
 * remove). */
void fleet_close(struct fleet *f);
/* For /api/status (any thread): {"machines": [each machine's heartbeat],
 * "as_of": when the copy last caught up with the server, "entries",
 * "behind": true while batches wait for the next round, "error": the last
 * refresh's failure or absent}.  ctx is the struct fleet. */
json_t *fleet_status(void *ctx);

#endif
