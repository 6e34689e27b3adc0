/* Build-time converter: @ip-location-db/asn's CSV files (start,end,asn,
 * organisation; IPv4 and IPv6) into the compact sorted file that
 * src/geo/asn.c maps and searches (format: src/geo/asn_format.h).
 *
 *   asn-convert SOURCE OUT IN.csv...
 *
 * SOURCE is recorded in the file ("@ip-location-db/asn 2.3.2026061719").
 * Lines that cannot be read, ranges that overlap an earlier one and names
 * that are not clean UTF-8 are counted and reported (names are cleaned:
 * bad bytes become '?', and they are cut to 255 bytes). */
#include "geo/addr.h"
#include "geo/asn_format.h"
#include "geo/utf8.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct owner {
	uint32_t asn;
	char *name;
	uint32_t idx;
};

struct range {
	bool v4;
	uint8_t start[16], end[16];
	size_t owner;		/* into owners (before dedup) */
};

static struct owner *owners;
static size_t n_owners, cap_owners;
static struct range *ranges;
static size_t n_ranges, cap_ranges;
static size_t bad_lines, overlaps, cleaned;

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 4096;
	p = realloc(p, *cap * size);
	if (!p) {
		fprintf(stderr, "asn-convert: out of memory\n");
		exit(1);
	}
	return p;
}

/* The next CSV field of line at *p (quotes with "" inside); NULL at the end. */
static char *field(char **p)
{
	char *s = *p, *o, *start;

	if (!s)
		return NULL;
	if (*s != '"') {
		start = s;
		s = strchr(s, ',');
		if (s)
			*s++ = '\0';
		*p = s;
		return start;
	}
	start = o = ++s;
	for (;;) {
		if (*s == '\0')
			return NULL;	/* no closing quote */
		if (*s == '"' && s[1] == '"') {
			*o++ = '"';
			s += 2;
		} else if (*s == '"') {
			s++;
			break;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	if (*s == ',')
		*p = s + 1;
	else if (*s == '\0')
		*p = NULL;
	else
		return NULL;
	return start;
}

static char *clean_name(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *r = malloc(len + 1);
	bool changed = false;

	if (!r)
		exit(1);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_cut(s + i, len - i, 4);

		if (n == 0) {
			r[o++] = '?';
			i++;
			changed = true;
			continue;
		}
		n = utf8_cut(s + i, len - i, len - i);
		memcpy(r + o, s + i, n);
		o += n;
		i += n;
	}
	r[o] = '\0';
	o = utf8_cut(r, o, ASN_NAME_MAX);
	changed |= r[o] != '\0';
	r[o] = '\0';
	cleaned += changed;
	return r;
}

static void read_csv(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f) {
		fprintf(stderr, "asn-convert: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p = line, *a, *b, *num, *name, *end;
		struct geo_addr ga, gb;
		unsigned long asn;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		a = field(&p);
		b = field(&p);
		num = field(&p);
		name = field(&p);
		errno = 0;
		asn = num ? strtoul(num, &end, 10) : 0;
		if (!a || !b || !num || !name || p || errno || *end || end == num || asn > UINT32_MAX ||
		    geo_addr_parse(a, strlen(a), &ga) < 0 || geo_addr_parse(b, strlen(b), &gb) < 0 ||
		    ga.v4 != gb.v4 || memcmp(ga.b, gb.b, 16) > 0) {
			bad_lines++;
			continue;
		}
		owners = grow(owners, &cap_owners, n_owners, sizeof(*owners));
		owners[n_owners] = (struct owner){ .asn = (uint32_t)asn, .name = clean_name(name) };
		ranges = grow(ranges, &cap_ranges, n_ranges, sizeof(*ranges));
		ranges[n_ranges] = (struct range){ .v4 = ga.v4, .owner = n_owners++ };
		memcpy(ranges[n_ranges].start, ga.b, 16);
		memcpy(ranges[n_ranges].end, gb.b, 16);
		n_ranges++;
	}
	free(line);
	fclose(f);
}

static int cmp_range(const void *x, const void *y)
{
	const struct range *a = x, *b = y;

	if (a->v4 != b->v4)
		return a->v4 ? -1 : 1;
	return memcmp(a->start, b->start, 16);
}

static int cmp_owner(const void *x, const void *y)
{
	const struct owner *a = *(const struct owner *const *)x, *b = *(const struct owner *const *)y;

	if (a->asn != b->asn)
		return a->asn < b->asn ? -1 : 1;
	return strcmp(a->name, b->name);
}

static void put32(FILE *f, uint32_t v)
{
	v = htole32(v);
	fwrite(&v, sizeof(v), 1, f);
}

int main(int argc, char **argv)
{
	struct asn_header h = { .magic = ASN_MAGIC };
	struct owner **order;
	size_t n_unique = 0, kept = 0, names_len = 0;
	char *tmp;
	FILE *out;

	if (argc < 4) {
		fprintf(stderr, "usage: asn-convert SOURCE OUT IN.csv...\n");
		return 2;
	}
	for (int i = 3; i < argc; i++)
		read_csv(argv[i]);

	/* one owner per distinct (number, name) */
	order = malloc((n_owners ? n_owners : 1) * sizeof(*order));
	if (!order)
		return 1;
	for (size_t i = 0; i < n_owners; i++)
		order[i] = &owners[i];
	qsort(order, n_owners, sizeof(*order), cmp_owner);
	for (size_t i = 0; i < n_owners; i++) {
		if (i == 0 || cmp_owner(&order[i - 1], &order[i]))
			n_unique++;
		order[i]->idx = (uint32_t)(n_unique - 1);
	}

	/* sorted; a range overlapping the one kept before it is dropped */
	qsort(ranges, n_ranges, sizeof(*ranges), cmp_range);
	for (size_t i = 0; i < n_ranges; i++) {
		if (kept && ranges[kept - 1].v4 == ranges[i].v4 &&
		    memcmp(ranges[i].start, ranges[kept - 1].end, 16) <= 0) {
			overlaps++;
			continue;
		}
		ranges[kept++] = ranges[i];
	}
	n_ranges = kept;
	for (size_t i = 0; i < n_ranges; i++)
		h.n_v4 += ranges[i].v4;
	h.n_v6 = (uint32_t)(n_ranges - h.n_v4);
	h.n_owners = (uint32_t)n_unique;
	for (size_t i = 0; i < n_owners; i++)
		if (i == 0 || cmp_owner(&order[i - 1], &order[i]))
			names_len += strlen(order[i]->name);
	if (n_ranges > 2 * (size_t)ASN_MAX_RANGES || h.n_v4 > ASN_MAX_RANGES || h.n_v6 > ASN_MAX_RANGES ||
	    n_unique > ASN_MAX_OWNERS || names_len > ASN_MAX_NAMES) {
		fprintf(stderr, "asn-convert: the tables are larger than the format's bounds\n");
		return 1;
	}
	h.names_len = (uint32_t)names_len;
	h.n_v4 = htole32(h.n_v4);
	h.n_v6 = htole32(h.n_v6);
	h.n_owners = htole32(h.n_owners);
	h.names_len = htole32(h.names_len);
	memcpy(h.source, argv[1], strnlen(argv[1], sizeof(h.source) - 1));

	if (asprintf(&tmp, "%s.tmp", argv[2]) < 0 || !(out = fopen(tmp, "w"))) {
		fprintf(stderr, "asn-convert: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	fwrite(&h, sizeof(h), 1, out);
	for (size_t i = 0; i < n_ranges; i++) {
		const struct range *r = &ranges[i];

		if (r->v4) {
			put32(out, (uint32_t)r->start[0] << 24 | (uint32_t)r->start[1] << 16 |
					   (uint32_t)r->start[2] << 8 | r->start[3]);
			put32(out, (uint32_t)r->end[0] << 24 | (uint32_t)r->end[1] << 16 |
					   (uint32_t)r->end[2] << 8 | r->end[3]);
		} else {
			fwrite(r->start, 16, 1, out);
			fwrite(r->end, 16, 1, out);
		}
		put32(out, owners[r->owner].idx);
	}
	names_len = 0;
	for (size_t i = 0; i < n_owners; i++) {
		size_t len = strlen(order[i]->name);

		if (i && !cmp_owner(&order[i - 1], &order[i]))
			continue;
		put32(out, order[i]->asn);
		put32(out, (uint32_t)names_len);
		put32(out, (uint32_t)len);
		names_len += len;
	}
	for (size_t i = 0; i < n_owners; i++)
		if (i == 0 || cmp_owner(&order[i - 1], &order[i]))
			fwrite(order[i]->name, strlen(order[i]->name), 1, out);
	if (fflush(out) || ferror(out) || fclose(out) || rename(tmp, argv[2])) {
		fprintf(stderr, "asn-convert: writing %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (bad_lines || overlaps || cleaned)
		fprintf(stderr, "asn-convert: %zu lines unreadable, %zu overlapping ranges dropped, "
			"%zu names cleaned\n", bad_lines, overlaps, cleaned);
	printf("asn-convert: %zu ranges (%u IPv4), %zu owners -> %s\n", n_ranges, le32toh(h.n_v4),
	       n_unique, argv[2]);
	free(tmp);
	free(order);
	return 0;
}
