/* What the interfaces and `picosnitch lookup` know about a remote address:
 * its country (from a MaxMind DB file) and its network owner (autonomous
 * system, from asn.bin), or "local" for the ranges that are nobody's on
 * the internet, or "unknown".  Answers are cached per distinct address, so
 * a query grouping a year of entries by country costs one lookup per
 * address.  Thread-safe. */
#ifndef PS_GEO_GEO_H
#define PS_GEO_GEO_H

#include <stdbool.h>
#include <stddef.h>

#define GEO_LOCAL "local"
#define GEO_UNKNOWN "unknown"
/* the downloaded monthly file, in the state directory */
#define GEO_MONTHLY_FILE "dbip-country-lite.mmdb"
/* the offline files, in the data directory */
#define GEO_COUNTRY_FILE "country.mmdb"
#define GEO_ASN_FILE "asn.bin"

/* The offline files opened ahead, by a process about to give up root
 * (`view` and `dash` started with sudo): the user it becomes may not be
 * able to reach them (a checkout in root's 0700 home).  Only opened here;
 * they are read (parsed) after the switch, through /proc/self/fd, which
 * opens the file again: the file itself must be readable by the user, a
 * directory on the way to it need not be. */
struct geo_data_files {
	size_t n;			/* directories, as geo_data_dirs() */
	const char *dir[4];
	int country_fd[4], asn_fd[4];	/* -errno when not opened */
};

struct geo_options {
	/* "GeoIP database": a file of the user's; NULL or "": the monthly
	 * file in state_dir if it opens, else the offline one */
	const char *country_file;
	int state_dirfd;	/* -1: none */
	const char *state_dir;	/* its path, for messages */
	/* NULL: the offline files are opened by their paths */
	const struct geo_data_files *data;
};

struct geo;

/* Open what there is.  Never fails for lack of data (the answers are then
 * "unknown"); -ENOMEM only.  What went wrong is in geo_problems(). */
int geo_open(const struct geo_options *opt, struct geo **ret);
void geo_close(struct geo *g);

/* Whether a country file, an owner file, was opened. */
bool geo_has_countries(const struct geo *g);
bool geo_has_owners(const struct geo *g);
/* The files in use, for an about line: "country.mmdb (geo-whois-asn-
 * country, 2026-06-17)"; "" when none. */
const char *geo_country_source(const struct geo *g);
const char *geo_owner_source(const struct geo *g);
/* Lines saying what could not be opened and why, or "" (for printing once). */
const char *geo_problems(const struct geo *g);

/* The directories searched for the offline files, in order:
 * $PICOSNITCH_DATA_DIR (alone, when set), else the install directory,
 * /usr/share/picosnitch and the build tree.  Returns how many (<= 4). */
size_t geo_data_dirs(const char *dirs[4]);
/* Open (not read) the offline files of each of those directories. */
void geo_data_files_open(struct geo_data_files *f);
void geo_data_files_close(struct geo_data_files *f);

/* For an address as stored in snitch.db (`len` bytes): "US", "local" or
 * "unknown"; "" for "" (no address); NULL for text that is not an address.
 * The pointer stays valid until geo_close(), or when memory ran out, until
 * the calling thread's next call. */
const char *geo_country(struct geo *g, const char *addr, size_t len);
/* "AS15169 Google LLC" (the name is clean UTF-8, at most 255 bytes),
 * "local", "unknown", "" or NULL as geo_country. */
const char *geo_owner(struct geo *g, const char *addr, size_t len);

/* The hooks of struct query_options (ctx: the struct geo). */
const char *geo_country_hook(void *ctx, const char *address);
const char *geo_owner_hook(void *ctx, const char *address);

/* Between queries: give back the pages of the files that lookups read,
 * and when the cache is full, drop its addresses (answers already handed
 * out stay valid). */
void geo_release(struct geo *g);

/* Lookups that found their answer in the cache, and that did not. */
void geo_stats(const struct geo *g, size_t *hits, size_t *misses);

#endif
