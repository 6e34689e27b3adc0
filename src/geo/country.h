/* Countries of addresses from a MaxMind DB file (libmaxminddb): the
 * offline @ip-location-db file (records with "country_code"), DB-IP's
 * monthly file or GeoLite2 (records with "country" / "iso_code"). */
#ifndef PS_GEO_COUNTRY_H
#define PS_GEO_COUNTRY_H

#include <stddef.h>

#include "geo/addr.h"

struct country_db;

/* Open and check a file: 0, -ENOENT, or -EBADMSG with the problem in err
 * (not a MaxMind DB, or one whose search tree cannot be read). */
int country_db_open(const char *path, struct country_db **ret, char *err, size_t errlen);
void country_db_close(struct country_db *db);
/* Give back the pages of the file that lookups have read (as
 * asn_db_release). */
void country_db_release(struct country_db *db);
/* The database type its metadata names ("geo-whois-asn-country", "DBIP-
 * Country-Lite"), cleaned to printable ASCII, and when it was built. */
const char *country_db_type(const struct country_db *db);
long long country_db_build_epoch(const struct country_db *db);

/* 1 and the two-letter code (upper case, in code[3]), or 0 when the file
 * has no country for the address (or a record of another shape). */
int country_db_lookup(const struct country_db *db, const struct geo_addr *a, char code[3]);

#endif
