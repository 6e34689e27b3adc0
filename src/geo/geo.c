/* Countries and network owners of addresses, cached (see geo.h). */
#include "geo/geo.h"
#include "geo/addr.h"
#include "geo/asn.h"
#include "geo/country.h"

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

/* a bound on the cache: more distinct addresses are looked up each time */
#define CACHE_MAX (1u << 20)
#define OWNER_MAX (2 + 10 + 1 + 255 + 1)
#define SOURCE_MAX 4400

struct answer {
	struct geo_addr addr;
	char country[8];	/* "": not looked up yet */
	char *owner;		/* NULL: not looked up yet */
};

struct entry {
	struct answer a;
	size_t len;
	char key[];		/* the address text, len bytes and a NUL */
};

struct slot {
	uint64_t hash;		/* compared before the entry is read */
	struct entry *e;
};

struct geo {
	struct country_db *country;
	struct asn_db *asn;
	char country_source[SOURCE_MAX];
	char owner_source[SOURCE_MAX];
	char problems[1536];

	pthread_mutex_t lock;
	struct slot *slots;	/* open addressing; e NULL: empty */
	size_t n_slots, n;
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
	g->n_slots = 1024;
	g->slots = calloc(g->n_slots, sizeof(*g->slots));
	if (!g->slots) {
		free(g);
		return -ENOMEM;
	}
	pthread_mutex_init(&g->lock, NULL);
	open_country(g, opt);
	open_owners(g, opt);
	*ret = g;
	return 0;
}

void geo_close(struct geo *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_slots; i++)
		if (g->slots[i].e) {
			free(g->slots[i].e->a.owner);
			free(g->slots[i].e);
		}
	free(g->slots);
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

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	/* the low bits of FNV are weak: mix (MurmurHash3's finalizer) */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static bool grow(struct geo *g)
{
	size_t n = g->n_slots * 2;
	struct slot *s = calloc(n, sizeof(*s));

	if (!s)
		return false;
	for (size_t i = 0; i < g->n_slots; i++) {
		size_t j;

		if (!g->slots[i].e)
			continue;
		for (j = g->slots[i].hash & (n - 1); s[j].e; j = (j + 1) & (n - 1))
			;
		s[j] = g->slots[i];
	}
	free(g->slots);
	g->slots = s;
	g->n_slots = n;
	return true;
}

/* The cached entry of an address, made if new (local ranges answered at
 * once); NULL for text that is not an address, or *scratch when the cache
 * is full.  Called with the lock held. */
static struct answer *find(struct geo *g, const char *addr, size_t len, struct answer *scratch)
{
	uint64_t h = hash_bytes(addr, len);
	size_t j = h & (g->n_slots - 1);
	struct geo_addr a;
	struct entry *e;

	for (; (e = g->slots[j].e); j = (j + 1) & (g->n_slots - 1))
		if (g->slots[j].hash == h && e->len == len && !memcmp(e->key, addr, len)) {
			g->hits++;
			return &e->a;
		}
	g->misses++;
	if (geo_addr_parse(addr, len, &a) < 0)
		return NULL;
	if (g->n < CACHE_MAX && (g->n + 1) * 2 > g->n_slots) {
		if (!grow(g))
			goto uncached;
		return find(g, addr, len, scratch);
	}
	if (g->n >= CACHE_MAX || !(e = calloc(1, sizeof(*e) + len + 1)))
		goto uncached;
	memcpy(e->key, addr, len);
	e->key[len] = '\0';
	e->len = len;
	e->a.addr = a;
	if (geo_addr_is_local(&a))
		memcpy(e->a.country, GEO_LOCAL, sizeof(GEO_LOCAL));
	g->slots[j] = (struct slot){ h, e };
	g->n++;
	return &e->a;
uncached:
	*scratch = (struct answer){ .addr = a };
	if (geo_addr_is_local(&a))
		memcpy(scratch->country, GEO_LOCAL, sizeof(GEO_LOCAL));
	return scratch;
}

/* past the cache's bound: each thread's last answer */
static __thread struct {
	struct answer a;
	char owner[OWNER_MAX];
} uncached;

static const char *answer(struct geo *g, const char *addr, size_t len, bool want_owner)
{
	char owner[OWNER_MAX];
	struct answer *a;
	const char *r = NULL;

	if (!g || !addr || len == 0 || !*addr)
		return addr ? "" : NULL;
	pthread_mutex_lock(&g->lock);
	a = find(g, addr, len, &uncached.a);
	if (a && !want_owner) {
		if (!a->country[0])
			compute_country(g, &a->addr, a->country);
		r = a->country;
	} else if (a) {
		bool local = !strcmp(a->country, GEO_LOCAL);

		if (!a->owner && a != &uncached.a) {
			if (local)
				snprintf(owner, sizeof(owner), "%s", GEO_LOCAL);
			else
				compute_owner(g, &a->addr, owner, sizeof(owner));
			a->owner = strdup(owner);
		}
		if (a->owner) {
			r = a->owner;
		} else {
			/* uncached, or no memory: this thread's buffer */
			if (local)
				snprintf(uncached.owner, sizeof(uncached.owner), "%s", GEO_LOCAL);
			else
				compute_owner(g, &a->addr, uncached.owner, sizeof(uncached.owner));
			r = uncached.owner;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return r;
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
