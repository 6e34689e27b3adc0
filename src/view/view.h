/* `picosnitch view`: the terminal interface over snitch.db.  It reads the
 * database through the query layer (read-only) and draws with ncursesw;
 * it never needs root, and the command line drops root before calling it
 * (see cli/main.c). */
#ifndef PS_VIEW_VIEW_H
#define PS_VIEW_VIEW_H

#include <sys/types.h>

struct geo;

struct view_env {
	const char *db_path;		/* snitch.db */
	int dirfd;			/* the state directory (record.json's VirusTotal
					 * verdicts next to hashes), or -1 */
	/* the monitor's pid, or 0 when it does not run */
	pid_t (*monitor_pid)(void);
	/* countries and network owners of remote addresses; NULL: none
	 * ("GeoIP lookup" false) */
	struct geo *geo;
};

/* Run until the user quits: 0, or 1 when the terminal cannot be used
 * (said on stderr). */
int view_main(const struct view_env *env);

#endif
