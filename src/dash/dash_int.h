/* The dash server without its listening socket, for the fuzz target that
 * sends hostile bytes through libmicrohttpd to the request handlers
 * (fuzz/fuzz-dash-http.c): connections are handed to it with
 * MHD_add_connection().  Host headers it accepts: localhost:PORT and
 * 127.0.0.1:PORT (PORT from env, 5100 by default). */
#ifndef PS_DASH_DASH_INT_H
#define PS_DASH_DASH_INT_H

#include <microhttpd.h>

#include "dash/dash.h"

struct dash_server;

/* stop is called (instead of signalling the process) after a stop
 * request is answered. */
int dash_server_unbound(const struct dash_env *env, void (*stop)(void), struct dash_server **ret,
			struct MHD_Daemon **d);
void dash_server_free(struct dash_server *s, struct MHD_Daemon *d);

#endif
