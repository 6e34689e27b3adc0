/* Reading asn.bin (see asn.h and asn_format.h).  The file lies on disk
 * where anyone with the rights could have changed it: everything is checked
 * once when it is opened, and each lookup checks again the few indexes it
 * follows, so that a file changed under the mapping gives wrong answers at
 * worst, never a read outside it. */
#include "geo/asn.h"
#include "geo/asn_format.h"
#include "geo/utf8.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct asn_db {
	const uint8_t *data;
	size_t len;
	bool mapped;
	size_t released;	/* mapped: bytes before this are given back */
	uint32_t n_v4, n_v6, n_owners, names_len;
	const uint8_t *v4, *v6, *owners, *names;
	char source[41];
	/* v4: the first range starting at or after each /16 (65537 of them),
	 * so that a lookup bisects a few ranges rather than all */
	uint32_t *first_of16;
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

#define R4 sizeof(struct asn_range4)
#define R6 sizeof(struct asn_range6)
#define OW sizeof(struct asn_owner)

/* A mapped file: give back the pages the check has read up to `upto`, so
 * that checking 12 MB does not make 12 MB of the process's memory. */
static void release(struct asn_db *db, const uint8_t *upto)
{
	size_t page = 4096, end = (size_t)(upto - db->data) & ~(page - 1);

	if (!db->mapped || end < db->released + (1u << 20))
		return;
	madvise((void *)(db->data + db->released), end - db->released, MADV_DONTNEED);
	db->released = end;
}

static int check(struct asn_db *db, char *err, size_t errlen)
{
	const uint8_t *d = db->data;
	uint64_t want;
	uint32_t next16;
	size_t i;

	if (db->len < sizeof(struct asn_header) || memcmp(d, ASN_MAGIC, 8))
		return fail(err, errlen, "not a picosnitch network-owner file (no \"PSASN v1\" header)");
	db->n_v4 = rd32(d + 8);
	db->n_v6 = rd32(d + 12);
	db->n_owners = rd32(d + 16);
	db->names_len = rd32(d + 20);
	memcpy(db->source, d + 24, 40);
	db->source[40] = '\0';
	if (!utf8_is_clean(db->source, strlen(db->source)))
		db->source[0] = '\0';
	if (db->n_v4 > ASN_MAX_RANGES || db->n_v6 > ASN_MAX_RANGES || db->n_owners > ASN_MAX_OWNERS ||
	    db->names_len > ASN_MAX_NAMES)
		return fail(err, errlen, "counts past the bounds (%u, %u ranges, %u owners, %u bytes of names)",
			    db->n_v4, db->n_v6, db->n_owners, db->names_len);
	want = sizeof(struct asn_header) + (uint64_t)db->n_v4 * R4 + (uint64_t)db->n_v6 * R6 +
	       (uint64_t)db->n_owners * OW + db->names_len;
	if (want != db->len)
		return fail(err, errlen, "size %zu, but its header makes %llu", db->len,
			    (unsigned long long)want);
	db->v4 = d + sizeof(struct asn_header);
	db->v6 = db->v4 + (size_t)db->n_v4 * R4;
	db->owners = db->v6 + (size_t)db->n_v6 * R6;
	db->names = db->owners + (size_t)db->n_owners * OW;

	for (i = 0; i < db->n_owners; i++) {
		const uint8_t *o = db->owners + i * OW;
		uint32_t off = rd32(o + 4), len = rd32(o + 8);

		if (len > ASN_NAME_MAX || off > db->names_len || len > db->names_len - off)
			return fail(err, errlen, "owner %zu: its name lies outside the names", i);
		if (!utf8_is_clean((const char *)db->names + off, len))
			return fail(err, errlen, "owner %zu: its name is not clean UTF-8", i);
	}
	/* owners and names come last in the file: checked, they go at the end */
	/* the /16 index, made on the way (without it lookups bisect all) */
	db->first_of16 = malloc(65537 * sizeof(*db->first_of16));
	for (uint32_t p = 0; db->first_of16 && p <= 65536; p++)
		db->first_of16[p] = db->n_v4;
	for (i = 0, next16 = 0; i < db->n_v4; i++) {
		const uint8_t *r = db->v4 + i * R4;

		if (rd32(r) > rd32(r + 4) || rd32(r + 8) >= db->n_owners ||
		    (i && rd32(r) <= rd32(r - R4 + 4)))
			return fail(err, errlen, "IPv4 range %zu: reversed, unordered, overlapping or "
				    "with no owner", i);
		for (; db->first_of16 && next16 <= rd32(r) >> 16; next16++)
			db->first_of16[next16] = (uint32_t)i;
		if (i % 65536 == 0)
			release(db, r);
	}
	for (i = 0; i < db->n_v6; i++) {
		const uint8_t *r = db->v6 + i * R6;

		if (memcmp(r, r + 16, 16) > 0 || rd32(r + 32) >= db->n_owners ||
		    (i && memcmp(r, r - R6 + 16, 16) <= 0))
			return fail(err, errlen, "IPv6 range %zu: reversed, unordered, overlapping or "
				    "with no owner", i);
		if (i % 65536 == 0)
			release(db, r);
	}
	return 0;
}

static int open_data(const void *data, size_t len, bool mapped, struct asn_db **ret, char *err,
		     size_t errlen)
{
	struct asn_db *db = calloc(1, sizeof(*db));
	int r;

	if (!db)
		return -ENOMEM;
	db->data = data;
	db->len = len;
	db->mapped = mapped;
	if ((r = check(db, err, errlen)) < 0) {
		free(db->first_of16);
		free(db);
		return r;
	}
	*ret = db;
	return 0;
}

int asn_db_open_mem(const void *data, size_t len, struct asn_db **ret, char *err, size_t errlen)
{
	return open_data(data, len, false, ret, err, errlen);
}

int asn_db_open(const char *path, struct asn_db **ret, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	void *map;
	int r;

	if (fd < 0) {
		r = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > (1ull << 32)) {
		close(fd);
		return fail(err, errlen, "not a regular file of a plausible size");
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	r = map == MAP_FAILED ? -errno : 0;
	close(fd);
	if (r < 0) {
		if (err && errlen)
			snprintf(err, errlen, "cannot map it: %s", strerror(-r));
		return r;
	}
	r = open_data(map, (size_t)st.st_size, true, ret, err, errlen);
	if (r < 0) {
		munmap(map, (size_t)st.st_size);
		return r;
	}
	/* the check read every page: give them back, lookups touch a few */
	madvise(map, (size_t)st.st_size, MADV_DONTNEED);
	return 0;
}

void asn_db_close(struct asn_db *db)
{
	if (!db)
		return;
	if (db->mapped)
		munmap((void *)db->data, db->len);
	free(db->first_of16);
	free(db);
}

void asn_db_release(struct asn_db *db)
{
	if (db && db->mapped)
		madvise((void *)db->data, db->len, MADV_DONTNEED);
}

const char *asn_db_source(const struct asn_db *db)
{
	return db->source;
}

size_t asn_db_ranges(const struct asn_db *db)
{
	return (size_t)db->n_v4 + db->n_v6;
}

static int owner_of(const struct asn_db *db, uint32_t idx, struct asn_result *ret)
{
	const uint8_t *o;
	uint32_t off, len;

	if (idx >= db->n_owners)
		return 0;
	o = db->owners + (size_t)idx * OW;
	off = rd32(o + 4);
	len = rd32(o + 8);
	if (len > ASN_NAME_MAX || off > db->names_len || len > db->names_len - off)
		return 0;
	ret->asn = rd32(o);
	ret->name = (const char *)db->names + off;
	ret->name_len = len;
	return 1;
}

int asn_db_lookup(const struct asn_db *db, const struct geo_addr *a, struct asn_result *ret)
{
	size_t lo = 0, hi, mid;

	if (a->v4) {
		uint32_t x = (uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 | (uint32_t)a->b[2] << 8 |
			     a->b[3];

		/* the first range starting after x; the one before may hold it
		 * (within its /16's ranges and the one before them) */
		hi = db->n_v4;
		if (db->first_of16) {
			lo = db->first_of16[x >> 16];
			hi = db->first_of16[(x >> 16) + 1];
			lo -= lo > 0;
			if (hi > db->n_v4 || lo > hi)
				lo = 0, hi = db->n_v4;
		}
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (rd32(db->v4 + mid * R4) <= x)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == 0 || rd32(db->v4 + (lo - 1) * R4 + 4) < x)
			return 0;
		return owner_of(db, rd32(db->v4 + (lo - 1) * R4 + 8), ret);
	}
	hi = db->n_v6;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (memcmp(db->v6 + mid * R6, a->b, 16) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || memcmp(db->v6 + (lo - 1) * R6 + 16, a->b, 16) < 0)
		return 0;
	return owner_of(db, rd32(db->v6 + (lo - 1) * R6 + 32), ret);
}
