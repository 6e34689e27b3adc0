/* Countries and network owners of addresses, cached (see geo.h). */
#include "geo/geo.h"
#include "geo/addr.h"
#include "geo/asn.h"
#include "geo/country.h"
#include "util/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef PICOSNITCH_DATADIR
#define PICOSNITCH_DATADIR "/usr/local/share/picosnitch"
#endif

/* The cache.  Each distinct address asked about is an entry: its text, in
 * one block of texts, and the ids of its two answers.  An answer is a
 * string kept once (there are a few hundred countries and at most the
 * owner file's owners, where the addresses of a year are tens of
 * thousands), and never freed before geo_close(): a pointer handed out
 * stays valid when the entries are dropped.  At most about 60 bytes an
 * address, where an allocation per entry and per answer took about 150
 * (a year of 34,000 addresses: 5 MB). */
#define CACHE_MAX (1u << 18)	/* entries; past it, addresses are looked up each time */
#define KEY_MAX 255		/* longer text is no address */
#define OWNER_MAX (2 + 10 + 1 + 255 + 1)
#define SOURCE_MAX 4400

struct entry {
	uint32_t key_off;	/* into texts */
	uint8_t key_len;
	uint32_t country, owner;	/* answer id + 1; 0: not looked up yet */
};

struct slot {
	uint32_t hash;		/* compared before the entry is read */
	uint32_t idx;		/* entry (or answer) index + 1; 0: empty */
};

/* open addressing over `n` items, at most half full */
struct table {
	struct slot *slots;
	size_t n_slots, n;
};

struct geo {
	struct country_db *country;
	struct asn_db *asn;
	char country_source[SOURCE_MAX];
	char owner_source[SOURCE_MAX];
	char problems[1536];

	pthread_mutex_t lock;
	uint64_t seed;		/* of hash_bytes */
	struct table addrs;	/* over entries */
	struct entry *entries;
	size_t entries_cap;
	char *texts;
	size_t texts_len, texts_cap;
	struct table answer_index;	/* over answers */
	char **answers;
	size_t answers_cap;
	size_t hits, misses;
};

size_t geo_data_dirs(const char *dirs[4])
{
	const char *env = getenv("PICOSNITCH_DATA_DIR");
	size_t n = 0;

	if (env && *env) {
		dirs[n++] = env;
		return n;
	}
	dirs[n++] = PICOSNITCH_DATADIR;
	if (strcmp(PICOSNITCH_DATADIR, "/usr/share/picosnitch"))
		dirs[n++] = "/usr/share/picosnitch";
#ifdef PICOSNITCH_BUILD_DATADIR
	dirs[n++] = PICOSNITCH_BUILD_DATADIR;
#endif
	return n;
}

void geo_data_files_open(struct geo_data_files *f)
{
	char path[4096];

	f->n = geo_data_dirs(f->dir);
	for (size_t i = 0; i < f->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir[i], GEO_COUNTRY_FILE);
		f->country_fd[i] = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (f->country_fd[i] < 0)
			f->country_fd[i] = -errno;
		snprintf(path, sizeof(path), "%s/%s", f->dir[i], GEO_ASN_FILE);
		f->asn_fd[i] = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (f->asn_fd[i] < 0)
			f->asn_fd[i] = -errno;
	}
}

void geo_data_files_close(struct geo_data_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->country_fd[i] >= 0)
			close(f->country_fd[i]);
		if (f->asn_fd[i] >= 0)
			close(f->asn_fd[i]);
		f->country_fd[i] = f->asn_fd[i] = -EBADF;
	}
	f->n = 0;
}

/* The directories the offline files are looked for in: those opened
 * ahead, or geo_data_dirs(). */
static size_t search_dirs(const struct geo_options *opt, const char *dirs[4])
{
	if (!opt->data)
		return geo_data_dirs(dirs);
	for (size_t i = 0; i < opt->data->n; i++)
		dirs[i] = opt->data->dir[i];
	return opt->data->n;
}

/* The name to open offline file `name` of directory i by: its path, or
 * the descriptor opened ahead.  0, or the -errno of the early open. */
static int data_file_path(const struct geo_options *opt, size_t i, const char *dir, const char *name,
			  char *path, size_t size)
{
	const struct geo_data_files *f = opt->data;
	int fd;

	if (!f || i >= f->n) {
		snprintf(path, size, "%s/%s", dir, name);
		return 0;
	}
	fd = strcmp(name, GEO_ASN_FILE) ? f->country_fd[i] : f->asn_fd[i];
	if (fd < 0)
		return fd;
	snprintf(path, size, "/proc/self/fd/%d", fd);
	return 0;
}

static void problem(struct geo *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct geo *g, const char *fmt, ...)
{
	size_t o = strlen(g->problems);
	va_list ap;

	if (o + 2 >= sizeof(g->problems))
		return;
	va_start(ap, fmt);
	vsnprintf(g->problems + o, sizeof(g->problems) - o - 1, fmt, ap);
	va_end(ap);
	o = strlen(g->problems);
	g->problems[o] = '\n';
	g->problems[o + 1] = '\0';
}

static void describe_country(struct geo *g, const char *path)
{
	time_t t = (time_t)country_db_build_epoch(g->country);
	struct tm tm;
	char day[16] = "?";

	if (gmtime_r(&t, &tm))
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(g->country_source, sizeof(g->country_source), "%s (%s, %s)", path,
		 country_db_type(g->country), day);
}

static void open_country(struct geo *g, const struct geo_options *opt)
{
	const char *dirs[4];
	char path[4096], err[256];
	size_t n;
	int r;

	if (opt->country_file && *opt->country_file) {
		r = country_db_open(opt->country_file, &g->country, err, sizeof(err));
		if (r < 0) {
			g->country = NULL;
			problem(g, "GeoIP database %s: %s; countries are unknown", opt->country_file, err);
		} else {
			describe_country(g, opt->country_file);
		}
		return;
	}
	/* the monthly download, through the directory's descriptor (no link
	 * is followed out of it) */
	if (opt->state_dirfd >= 0) {
		int fd = openat(opt->state_dirfd, GEO_MONTHLY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

		if (fd >= 0) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			r = country_db_open(path, &g->country, err, sizeof(err));
			close(fd);
			if (r == 0) {
				snprintf(path, sizeof(path), "%s/%s", opt->state_dir ? opt->state_dir : ".",
					 GEO_MONTHLY_FILE);
				describe_country(g, path);
				return;
			}
			g->country = NULL;
			problem(g, "%s/%s: %s; using the offline file", opt->state_dir ? opt->state_dir : ".",
				GEO_MONTHLY_FILE, err);
		}
	}
	n = search_dirs(opt, dirs);
	for (size_t i = 0; i < n; i++) {
		char shown[4096];

		snprintf(shown, sizeof(shown), "%s/%s", dirs[i], GEO_COUNTRY_FILE);
		r = data_file_path(opt, i, dirs[i], GEO_COUNTRY_FILE, path, sizeof(path));
		if (r == 0)
			r = country_db_open(path, &g->country, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "%s", strerror(-r));
		if (r == 0) {
			describe_country(g, shown);
			return;
		}
		g->country = NULL;
		if (r != -ENOENT)
			problem(g, "%s: %s", shown, err);
	}
	problem(g, "no GeoIP database (%s in %s%s%s): countries are unknown", GEO_COUNTRY_FILE, dirs[0],
		n > 1 ? " or " : "", n > 1 ? dirs[n - 1] : "");
}

static void open_owners(struct geo *g, const struct geo_options *opt)
{
	const char *dirs[4];
	char path[4096], shown[4096], err[256];
	size_t n = search_dirs(opt, dirs);
	int r;

	for (size_t i = 0; i < n; i++) {
		snprintf(shown, sizeof(shown), "%s/%s", dirs[i], GEO_ASN_FILE);
		r = data_file_path(opt, i, dirs[i], GEO_ASN_FILE, path, sizeof(path));
		if (r == 0)
			r = asn_db_open(path, &g->asn, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "%s", strerror(-r));
		if (r == 0) {
			snprintf(g->owner_source, sizeof(g->owner_source), "%s (%s)", shown,
				 *asn_db_source(g->asn) ? asn_db_source(g->asn) : "unknown source");
			return;
		}
		g->asn = NULL;
		if (r != -ENOENT)
			problem(g, "%s: %s", shown, err);
	}
	problem(g, "no network-owner file (%s in %s%s%s): owners are unknown", GEO_ASN_FILE, dirs[0],
		n > 1 ? " or " : "", n > 1 ? dirs[n - 1] : "");
}

int geo_open(const struct geo_options *opt, struct geo **ret)
{
	struct geo *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	g->seed = hash_seed(g);
	open_country(g, opt);
	open_owners(g, opt);
	*ret = g;
	return 0;
}

void geo_close(struct geo *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->answer_index.n; i++)
		free(g->answers[i]);
	free(g->answers);
	free(g->answer_index.slots);
	free(g->addrs.slots);
	free(g->entries);
	free(g->texts);
	pthread_mutex_destroy(&g->lock);
	country_db_close(g->country);
	asn_db_close(g->asn);
	free(g);
}

bool geo_has_countries(const struct geo *g)
{
	return g && g->country;
}

bool geo_has_owners(const struct geo *g)
{
	return g && g->asn;
}

const char *geo_country_source(const struct geo *g)
{
	return g->country_source;
}

const char *geo_owner_source(const struct geo *g)
{
	return g->owner_source;
}

const char *geo_problems(const struct geo *g)
{
	return g->problems;
}

void geo_stats(const struct geo *g, size_t *hits, size_t *misses)
{
	*hits = g->hits;
	*misses = g->misses;
}

/* One kind of answer for a parsed address, worked out (each is looked up
 * only when first asked for). */
static void compute_country(const struct geo *g, const struct geo_addr *a, char country[8])
{
	char code[3];

	snprintf(country, 8, "%s", g->country && country_db_lookup(g->country, a, code) ? code : GEO_UNKNOWN);
}

static void compute_owner(const struct geo *g, const struct geo_addr *a, char *owner, size_t size)
{
	struct asn_result as;

	if (g->asn && asn_db_lookup(g->asn, a, &as))
		snprintf(owner, size, "AS%" PRIu32 "%s%.*s", as.asn, as.name_len ? " " : "", (int)as.name_len,
			 as.name);
	else
		snprintf(owner, size, "%s", GEO_UNKNOWN);
}

/* The tables' hash: seeded (util/hash.h), the addresses being the
 * network's choice. */
static uint32_t hash_bytes(const struct geo *g, const char *s, size_t len)
{
	return (uint32_t)hash_text(g->seed, s, len);
}

/* Room in t for one more item (rehashed from the slots' hashes). */
static bool table_room(struct table *t)
{
	size_t n = t->n_slots ? t->n_slots * 2 : 1024;
	struct slot *s;

	if ((t->n + 1) * 2 <= t->n_slots)
		return true;
	if (!(s = calloc(n, sizeof(*s))))
		return false;
	for (size_t i = 0; i < t->n_slots; i++) {
		size_t j;

		if (!t->slots[i].idx)
			continue;
		for (j = t->slots[i].hash & (n - 1); s[j].idx; j = (j + 1) & (n - 1))
			;
		s[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->n_slots = n;
	return true;
}

/* p grown to hold `want` items of `size` bytes (doubling); false: no memory. */
static bool room(void **p, size_t *cap, size_t want, size_t size)
{
	size_t n = *cap ? *cap : 256;
	void *q;

	if (want <= *cap)
		return true;
	while (n < want)
		n *= 2;
	if (!(q = realloc(*p, n * size)))
		return false;
	*p = q;
	*cap = n;
	return true;
}

/* The id + 1 of answer text s, kept if new; 0 when out of memory. */
static uint32_t intern(struct geo *g, const char *s)
{
	size_t len = strlen(s), j;
	uint32_t h = hash_bytes(g, s, len);
	struct table *t = &g->answer_index;
	char *copy;

	for (j = t->n_slots ? h & (t->n_slots - 1) : 0; t->n_slots && t->slots[j].idx; j = (j + 1) & (t->n_slots - 1))
		if (t->slots[j].hash == h && !strcmp(g->answers[t->slots[j].idx - 1], s))
			return t->slots[j].idx;
	if ((t->n + 1) * 2 > t->n_slots) {
		/* the array first: it must hold what the table can */
		if (!room((void **)&g->answers, &g->answers_cap, t->n_slots ? t->n_slots : 512,
			  sizeof(*g->answers)) || !table_room(t))
			return 0;
		return intern(g, s);
	}
	if (!(copy = strdup(s)))
		return 0;
	g->answers[t->n] = copy;
	t->slots[j] = (struct slot){ h, (uint32_t)++t->n };
	return (uint32_t)t->n;
}

/* The cached entry of an address, made if new; NULL when the cache is
 * full (or out of memory).  *a: the parsed address.  -EINVAL for text
 * that is not an address.  Called with the lock held. */
static int find(struct geo *g, const char *addr, size_t len, struct geo_addr *a, struct entry **ret)
{
	uint32_t h = hash_bytes(g, addr, len);
	struct table *t = &g->addrs;
	size_t j = t->n_slots ? h & (t->n_slots - 1) : 0;
	struct entry *e;

	for (; t->n_slots && t->slots[j].idx; j = (j + 1) & (t->n_slots - 1)) {
		e = &g->entries[t->slots[j].idx - 1];
		if (t->slots[j].hash == h && e->key_len == len && !memcmp(g->texts + e->key_off, addr, len)) {
			g->hits++;
			*ret = e;
			/* parsed again only when an answer is still to be found */
			return (e->country && e->owner) || geo_addr_parse(addr, len, a) == 0 ? 0 : -EINVAL;
		}
	}
	g->misses++;
	*ret = NULL;
	if (len > KEY_MAX || geo_addr_parse(addr, len, a) < 0)
		return -EINVAL;
	if (t->n >= CACHE_MAX)
		return 0;
	if ((t->n + 1) * 2 > t->n_slots) {
		if (!room((void **)&g->entries, &g->entries_cap, t->n_slots ? t->n_slots : 512,
			  sizeof(*g->entries)) || !table_room(t))
			return 0;
		/* its slot in the grown table (it is not there) */
		for (j = h & (t->n_slots - 1); t->slots[j].idx; j = (j + 1) & (t->n_slots - 1))
			;
	}
	if (!room((void **)&g->texts, &g->texts_cap, g->texts_len + len, 1) ||
	    g->texts_len + len > UINT32_MAX)
		return 0;
	memcpy(g->texts + g->texts_len, addr, len);
	e = &g->entries[t->n];
	*e = (struct entry){ .key_off = (uint32_t)g->texts_len, .key_len = (uint8_t)len };
	g->texts_len += len;
	t->slots[j] = (struct slot){ h, (uint32_t)++t->n };
	*ret = e;
	return 0;
}

/* when an answer cannot be kept (no memory): each thread's last one */
static __thread char unkept[OWNER_MAX];

static const char *answer(struct geo *g, const char *addr, size_t len, bool want_owner)
{
	char text[OWNER_MAX];
	struct geo_addr a;
	struct entry *e;
	uint32_t id = 0;
	const char *r = NULL;

	if (!g || !addr || len == 0 || !*addr)
		return addr ? "" : NULL;
	pthread_mutex_lock(&g->lock);
	if (find(g, addr, len, &a, &e) < 0)
		goto out;
	if (e)
		id = want_owner ? e->owner : e->country;
	if (!id) {
		if (geo_addr_is_local(&a))
			snprintf(text, sizeof(text), "%s", GEO_LOCAL);
		else if (want_owner)
			compute_owner(g, &a, text, sizeof(text));
		else
			compute_country(g, &a, text);
		id = intern(g, text);
		if (e && want_owner)
			e->owner = id;
		else if (e)
			e->country = id;
	}
	if (id) {
		r = g->answers[id - 1];
	} else {
		memcpy(unkept, text, sizeof(unkept));
		r = unkept;
	}
out:
	pthread_mutex_unlock(&g->lock);
	return r;
}

void geo_release(struct geo *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	asn_db_release(g->asn);
	country_db_release(g->country);
	if (g->addrs.n >= CACHE_MAX) {
		/* full: start again, so that the addresses of the next
		 * queries are cached (the answers stay) */
		memset(g->addrs.slots, 0, g->addrs.n_slots * sizeof(*g->addrs.slots));
		g->addrs.n = 0;
		g->texts_len = 0;
	}
	pthread_mutex_unlock(&g->lock);
}

const char *geo_country(struct geo *g, const char *addr, size_t len)
{
	return answer(g, addr, len, false);
}

const char *geo_owner(struct geo *g, const char *addr, size_t len)
{
	return answer(g, addr, len, true);
}

/* text in the addresses table that is not an address (an edited file) */
const char *geo_country_hook(void *ctx, const char *address)
{
	const char *r = geo_country(ctx, address, strlen(address));

	return r ? r : GEO_UNKNOWN;
}

const char *geo_owner_hook(void *ctx, const char *address)
{
	const char *r = geo_owner(ctx, address, strlen(address));

	return r ? r : GEO_UNKNOWN;
}
