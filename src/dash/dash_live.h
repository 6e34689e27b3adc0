/* The dash's live feed: one reader of the logger's live.sock
 * (src/logger/live.h), passed on to any number of browsers as
 * Server-Sent Events (GET /api/live, docs/api.md).
 *
 * A thread reads the logger's datagrams, checks each (it is a file in the
 * user's directory: any program of the user could be listening there),
 * writes it anew as an SSE event, and keeps the last DASH_LIVE_KEEP of
 * them so that a page that opens sees the last minutes at once.  Browsers'
 * connections are suspended while they have everything and resumed when a
 * second arrives: no thread per browser, and the logger has one reader
 * however many browsers there are.
 *
 * Events:
 *   event: traffic   data: the logger's JSON of one second (live.h)
 *   event: state     data: {"running":false} while no logger answers (every
 *                    DASH_LIVE_IDLE_S seconds), {"running":true} when one does */
#ifndef PS_DASH_DASH_LIVE_H
#define PS_DASH_DASH_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#define DASH_LIVE_KEEP 300		/* events kept for pages that open */
#define DASH_LIVE_CLIENTS_MAX 32	/* browsers at once; more get 503 */
#define DASH_LIVE_HISTORY 60		/* events a page gets at once by default */
#define DASH_LIVE_IDLE_S 5

struct dash_live;

/* Start reading live.sock in the state directory dirfd (retrying every
 * second while there is none). */
int dash_live_start(int dirfd, struct dash_live **ret);
/* End every stream and the thread.  Call before MHD_stop_daemon(), and
 * dash_live_free() after it. */
void dash_live_stop(struct dash_live *dl);
void dash_live_free(struct dash_live *dl);

/* Answer GET /api/live with the stream: 0 (*ret is MHD's answer), or
 * -EINVAL (history is not 0-DASH_LIVE_KEEP), -EBUSY (DASH_LIVE_CLIENTS_MAX
 * streams already), -ENOMEM; the caller answers those.  history is the
 * "history" parameter or NULL; add_headers adds the server's usual
 * headers to the response. */
int dash_live_serve(struct dash_live *dl, struct MHD_Connection *c, const char *history,
		    void (*add_headers)(struct MHD_Response *r), enum MHD_Result *ret);

/* Check one datagram of the logger and write it as an SSE event's data
 * (one line of JSON): 0, or -EBADMSG.  For the thread and the fuzzer. */
int dash_live_event(const char *buf, size_t len, char **json);

#endif
