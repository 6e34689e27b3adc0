/* Country lookups with libmaxminddb (see country.h).  The file is data
 * from a download or a user: libmaxminddb checks the metadata and the
 * search tree on each step; what comes back is only taken if it is a
 * string of two letters. */
#include "geo/country.h"

#include <errno.h>
#include <maxminddb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

struct country_db {
	MMDB_s mmdb;
	char type[64];
};

int country_db_open(const char *path, struct country_db **ret, char *err, size_t errlen)
{
	struct country_db *db = calloc(1, sizeof(*db));
	const char *t;
	size_t o = 0;
	int rc;

	if (!db)
		return -ENOMEM;
	rc = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
	if (rc != MMDB_SUCCESS) {
		int r = rc == MMDB_FILE_OPEN_ERROR ? -ENOENT : rc == MMDB_IO_ERROR ? -EIO
			: rc == MMDB_OUT_OF_MEMORY_ERROR ? -ENOMEM : -EBADMSG;

		if (rc == MMDB_FILE_OPEN_ERROR && errno)
			r = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s", rc == MMDB_FILE_OPEN_ERROR && errno ? strerror(errno)
						     : MMDB_strerror(rc));
		free(db);
		return r;
	}
	/* a MaxMind DB of another kind (cities, ASNs) has no countries: still
	 * taken, its lookups simply find none */
	t = db->mmdb.metadata.database_type;
	for (size_t i = 0; t && t[i] && o + 1 < sizeof(db->type); i++)
		db->type[o++] = t[i] >= 0x20 && t[i] < 0x7f ? t[i] : '?';
	db->type[o] = '\0';
	*ret = db;
	return 0;
}

void country_db_close(struct country_db *db)
{
	if (!db)
		return;
	MMDB_close(&db->mmdb);
	free(db);
}

void country_db_release(struct country_db *db)
{
	/* libmaxminddb maps the file read-only and shared: a page dropped
	 * is read again from the file */
	if (db && db->mmdb.file_content && db->mmdb.file_size > 0)
		madvise((void *)db->mmdb.file_content, (size_t)db->mmdb.file_size, MADV_DONTNEED);
}

const char *country_db_type(const struct country_db *db)
{
	return db->type;
}

long long country_db_build_epoch(const struct country_db *db)
{
	return (long long)db->mmdb.metadata.build_epoch;
}

static int take_code(const MMDB_entry_data_s *d, char code[3])
{
	if (!d->has_data || d->type != MMDB_DATA_TYPE_UTF8_STRING || d->data_size != 2)
		return 0;
	for (int i = 0; i < 2; i++) {
		char c = d->utf8_string[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return 0;
		code[i] = c;
	}
	code[2] = '\0';
	return 1;
}

int country_db_lookup(const struct country_db *db, const struct geo_addr *a, char code[3])
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	MMDB_lookup_result_s res;
	MMDB_entry_data_s d;
	int mmdb_err;

	/* an IPv4 file cannot be asked for IPv6 addresses, and libmaxminddb
	 * maps IPv4 into an IPv6 tree itself */
	if (a->v4) {
		memcpy(&s4.sin_addr, a->b, 4);
		res = MMDB_lookup_sockaddr(&db->mmdb, (struct sockaddr *)&s4, &mmdb_err);
	} else {
		if (db->mmdb.metadata.ip_version != 6)
			return 0;
		memcpy(&s6.sin6_addr, a->b, 16);
		res = MMDB_lookup_sockaddr(&db->mmdb, (struct sockaddr *)&s6, &mmdb_err);
	}
	if (mmdb_err != MMDB_SUCCESS || !res.found_entry)
		return 0;
	if (MMDB_get_value(&res.entry, &d, "country_code", NULL) == MMDB_SUCCESS && take_code(&d, code))
		return 1;
	if (MMDB_get_value(&res.entry, &d, "country", "iso_code", NULL) == MMDB_SUCCESS &&
	    take_code(&d, code))
		return 1;
	return 0;
}
