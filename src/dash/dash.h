/* `picosnitch dash`: the web interface's HTTP server (libmicrohttpd) in the
 * picosnitch binary.  Read-only on snitch.db; loopback only unless HOST
 * says otherwise.  Every request needs the access token (dash.token, only
 * the user can read it): the address printed at start carries it and
 * turns it into a cookie; scripts send it in a header.  Requests whose
 * Host header is not the address served are refused (DNS rebinding), and
 * so are cross-site ones.  The command line drops root before calling it. */
#ifndef PS_DASH_DASH_H
#define PS_DASH_DASH_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

struct geo;

struct dash_env {
	const char *db_path;
	/* the state directory: its dash.token (0600) is the access token,
	 * made on the first start and kept, so bookmarks keep working */
	int dirfd;
	pid_t (*monitor_pid)(void);
	const char *host;	/* HOST, or NULL: localhost */
	const char *port;	/* PORT, or NULL: 5100 */
	const char *theme;	/* "Dash theme": one of dash_themes, or "" (the browser's) */
	bool scroll_zoom;	/* "Dash scroll zoom" */
	size_t metrics_top;	/* "Metrics top executables" (0: the default) */
	/* open the desktop's browser on the page once serving (xdg-open, as
	 * this user, never as root), when there is a desktop session */
	bool open_browser;
	/* countries and network owners of remote addresses; NULL: none
	 * ("GeoIP lookup" false) */
	struct geo *geo;
	/* no live feed (the fleet view: db_path is a copy of the SQL
	 * server's entries, not this machine's log) */
	bool no_live;
	/* the fleet view: /api/status "fleet" (each machine's heartbeat, as of
	 * when the copy was last caught up: a json_t * from fleet_status(fleet),
	 * called from any thread), and the "host" dimension offered; NULL: not
	 * the fleet view */
	json_t *(*fleet_status)(void *fleet);
	void *fleet;
};

/* The themes the pages know (bootswatch names), NULL-terminated. */
extern const char *const dash_themes[];

/* Serve until SIGINT/SIGTERM or a stop request: 0, or 1 when it cannot
 * start (said on stderr). */
int dash_main(const struct dash_env *env);

#endif
