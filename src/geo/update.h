/* The monthly refresh of the country file, as 1.x did it: when the state
 * directory's dbip-country-lite.mmdb is missing or from an earlier month,
 * download DB-IP's free "IP to Country Lite" file of this month (else of
 * the previous one) with libcurl, unpack it, check that it opens and
 * answers, and put it in place.  On any failure the old file stays.  Run
 * by the user's own commands (view, dash, geoip-update), never as root. */
#ifndef PS_GEO_UPDATE_H
#define PS_GEO_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define GEO_UPDATE_URL "https://download.db-ip.com/free/"
/* what is downloaded, and what it unpacks to, at most */
#define GEO_UPDATE_MAX_GZ (64u << 20)
#define GEO_UPDATE_MAX_MMDB (256u << 20)

struct geo_update_options {
	int dirfd;		/* the state directory */
	const char *dir;	/* its path, for messages */
	/* where dbip-country-lite-YYYY-MM.mmdb.gz are ("GeoIP update URL"),
	 * from geo_update_url() */
	const char *base_url;
	time_t now;		/* 0: the time */
	/* give up on a transfer slower than 1 kB/s for this long, or longer
	 * than this in all x 8; 0: $PICOSNITCH_GEOIP_TIMEOUT (1 to 600), else
	 * 20 s */
	unsigned int stall_seconds;
	bool force;		/* even when the file is from this month */
	/* set (to non-zero) from another thread: give up the transfer soon */
	const int *cancel;
};

/* The base URL to use: $PICOSNITCH_GEOIP_URL when set (even empty), else
 * `configured` ("GeoIP update URL"; NULL: GEO_UPDATE_URL).  NULL when it
 * is "": the monthly download is off. */
const char *geo_update_url(const char *configured);

/* 1: a new file is in place; 0: the file is from this month already;
 * negative errno: nothing changed, and msg says why (every URL tried). */
int geo_update(const struct geo_update_options *opt, char *msg, size_t msglen);

/* Whether the file needs a refresh (missing or from an earlier month). */
bool geo_update_due(int dirfd, time_t now);

/* geo_update() on a thread of its own, when due: with `report`, its
 * outcome is logged when it ends (dash); else it is kept for
 * geo_refresh_stop (view).  opt is copied (dir must outlive it). */
struct geo_refresh;
int geo_refresh_start(const struct geo_update_options *opt, bool report, struct geo_refresh **ret);
/* Cancel the transfer if it still runs, wait for the thread, and give the
 * outcome of geo_update (its message in msg, "" if none).  NULL: 0. */
int geo_refresh_stop(struct geo_refresh *r, char *msg, size_t msglen);

#endif
