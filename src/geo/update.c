/* The monthly download of the country file (see update.h).  The body comes
 * from the network: its size is bounded before and after unpacking, it
 * must be gzip, and what it unpacks to must open as a MaxMind DB and find
 * countries before it replaces anything. */
#include "geo/update.h"
#include "geo/addr.h"
#include "geo/country.h"
#include "geo/geo.h"

#include "util/curl_lib.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct body {
	unsigned char *data;
	size_t len, cap;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t len = size * n;

	if (len > GEO_UPDATE_MAX_GZ - b->len) {
		b->too_big = true;
		return 0;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 20;
		unsigned char *d;

		while (cap < b->len + len)
			cap *= 2;
		if (!(d = realloc(b->data, cap)))
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return len;
}

static void month_of(time_t t, int back, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_mon -= back;
	if (tm.tm_mon < 0) {
		tm.tm_mon += 12;
		tm.tm_year--;
	}
	snprintf(out, 32, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
}

const char *geo_update_url(const char *configured)
{
	const char *env = getenv("PICOSNITCH_GEOIP_URL");

	if (env)
		return *env ? env : NULL;
	if (!configured)
		return GEO_UPDATE_URL;
	return *configured ? configured : NULL;
}

bool geo_update_due(int dirfd, time_t now)
{
	struct stat st;
	char a[32], b[32];

	if (fstatat(dirfd, GEO_MONTHLY_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return true;
	month_of(st.st_mtime, 0, a);
	month_of(now ? now : time(NULL), 0, b);
	return strcmp(a, b) != 0;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const int *cancel = ctx;

	return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) ? 1 : 0;
}

/* GET url into b: 0, or -errno with the reason in why. */
static int fetch(const char *url, unsigned int stall, const int *cancel, struct body *b, char *why,
		 size_t whylen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = sym_curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (!c) {
		snprintf(why, whylen, "cannot start libcurl");
		return -ENOMEM;
	}
	sym_curl_easy_setopt(c, CURLOPT_URL, url);
	sym_curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	sym_curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	sym_curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	sym_curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	sym_curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	sym_curl_easy_setopt(c, CURLOPT_USERAGENT, "picosnitch/" PICOSNITCH_VERSION);
	sym_curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)stall);
	sym_curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1000L);
	sym_curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)stall);
	sym_curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)stall * 8);
	sym_curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)GEO_UPDATE_MAX_GZ);
	sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	sym_curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	sym_curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	sym_curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	sym_curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	sym_curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cancel);
	rc = sym_curl_easy_perform(c);
	sym_curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	sym_curl_easy_cleanup(c);
	if (b->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(why, whylen, "larger than %u MiB", GEO_UPDATE_MAX_GZ >> 20);
		return -EFBIG;
	}
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", *errbuf ? errbuf : sym_curl_easy_strerror(rc));
		return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	if (status != 200) {
		snprintf(why, whylen, "HTTP status %ld", status);
		return status == 404 ? -ENOENT : -EIO;
	}
	return 0;
}

/* Unpack gzip into the file fd: 0, or -EBADMSG / -EFBIG / -errno. */
static int gunzip_to(const struct body *b, int fd, char *why, size_t whylen)
{
	unsigned char out[1 << 16];
	z_stream z = { 0 };
	size_t total = 0;
	int zr;

	if (b->len < 18 || b->data[0] != 0x1f || b->data[1] != 0x8b) {
		snprintf(why, whylen, "not a gzip file (%zu bytes)", b->len);
		return -EBADMSG;
	}
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		snprintf(why, whylen, "cannot start zlib");
		return -ENOMEM;
	}
	z.next_in = b->data;
	z.avail_in = (uInt)b->len;
	do {
		size_t n;

		z.next_out = out;
		z.avail_out = sizeof(out);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			inflateEnd(&z);
			snprintf(why, whylen, "a broken gzip file (%s)", z.msg ? z.msg : "truncated");
			return -EBADMSG;
		}
		n = sizeof(out) - z.avail_out;
		total += n;
		if (total > GEO_UPDATE_MAX_MMDB) {
			inflateEnd(&z);
			snprintf(why, whylen, "unpacks to more than %u MiB", GEO_UPDATE_MAX_MMDB >> 20);
			return -EFBIG;
		}
		for (size_t o = 0; o < n;) {
			ssize_t w = write(fd, out + o, n - o);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int r = w < 0 ? -errno : -EIO;

				inflateEnd(&z);
				snprintf(why, whylen, "cannot write it: %s", strerror(-r));
				return r;
			}
			o += (size_t)w;
		}
	} while (zr != Z_STREAM_END && (z.avail_in > 0 || z.avail_out == 0));
	inflateEnd(&z);
	if (zr != Z_STREAM_END) {
		snprintf(why, whylen, "a truncated gzip file");
		return -EBADMSG;
	}
	return 0;
}

/* The unpacked file opens and knows the country of a few well-known
 * public addresses (at least one of them). */
static int check_file(int fd, char *why, size_t whylen)
{
	static const char *const probes[] = { "8.8.8.8", "1.1.1.1", "9.9.9.9", "2001:4860:4860::8888" };
	struct country_db *db;
	char path[64], err[256], code[3];
	int found = 0, r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = country_db_open(path, &db, err, sizeof(err));
	if (r < 0) {
		snprintf(why, whylen, "not a MaxMind DB file (%s)", err);
		return -EBADMSG;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct geo_addr a;

		if (geo_addr_parse(probes[i], strlen(probes[i]), &a) == 0)
			found += country_db_lookup(db, &a, code);
	}
	country_db_close(db);
	if (!found) {
		snprintf(why, whylen, "a MaxMind DB file without countries");
		return -EBADMSG;
	}
	return 0;
}

int geo_update(const struct geo_update_options *opt, char *msg, size_t msglen)
{
	const char *base = opt->base_url;
	time_t now = opt->now ? opt->now : time(NULL);
	const char *stall_env = getenv("PICOSNITCH_GEOIP_TIMEOUT");
	unsigned int stall = opt->stall_seconds ? opt->stall_seconds : 20;
	char tmp[64], url[2048], month[32], why[2][300] = { "", "" };
	int r = -EIO;

	if (!base || !*base) {
		snprintf(msg, msglen, "the monthly GeoIP download is off (\"GeoIP update URL\" is \"\")");
		return -ECANCELED;
	}
	if (!opt->stall_seconds && stall_env && atoi(stall_env) >= 1 && atoi(stall_env) <= 600)
		stall = (unsigned int)atoi(stall_env);
	if (!opt->force && !geo_update_due(opt->dirfd, now))
		return 0;
	if (curl_lib_load(msg, msglen) < 0)
		return -ENOENT;
	for (int back = 0; back < 2; back++) {
		struct body b = { 0 };
		int fd;

		month_of(now, back, month);
		snprintf(url, sizeof(url), "%s%sdbip-country-lite-%s.mmdb.gz", base,
			 base[strlen(base) - 1] == '/' ? "" : "/", month);
		r = fetch(url, stall, opt->cancel, &b, why[back], sizeof(why[back]));
		if (r == 0) {
			snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", GEO_MONTHLY_FILE, (int)getpid());
			unlinkat(opt->dirfd, tmp, 0);
			fd = openat(opt->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0) {
				r = -errno;
				snprintf(why[back], sizeof(why[back]), "cannot write %s/%s: %s", opt->dir, tmp,
					 strerror(errno));
			} else {
				r = gunzip_to(&b, fd, why[back], sizeof(why[back]));
				if (r == 0)
					r = check_file(fd, why[back], sizeof(why[back]));
				if (r == 0 && fsync(fd) < 0) {
					r = -errno;
					snprintf(why[back], sizeof(why[back]), "cannot write it: %s", strerror(errno));
				}
				close(fd);
				if (r == 0 && renameat(opt->dirfd, tmp, opt->dirfd, GEO_MONTHLY_FILE) < 0) {
					r = -errno;
					snprintf(why[back], sizeof(why[back]), "cannot put it in place: %s",
						 strerror(errno));
				}
				if (r < 0)
					unlinkat(opt->dirfd, tmp, 0);
			}
		}
		free(b.data);
		if (r == 0) {
			snprintf(msg, msglen, "GeoIP database updated to DB-IP's file of %s (%s/%s)", month,
				 opt->dir, GEO_MONTHLY_FILE);
			return 1;
		}
		/* only a missing file of this month is worth the previous one */
		if (r != -ENOENT)
			break;
	}
	month_of(now, 0, month);
	snprintf(msg, msglen, "could not update the GeoIP database from %s (%s: %s%s%s%s)", base, month,
		 why[0], *why[1] ? "; the month before: " : "", why[1], "");
	return r;
}

struct geo_refresh {
	struct geo_update_options opt;
	bool report;
	int cancel;
	int result;
	char msg[1024];
	pthread_t thread;
};

static void *refresh_main(void *p)
{
	struct geo_refresh *r = p;

	r->result = geo_update(&r->opt, r->msg, sizeof(r->msg));
	if (r->report && r->result < 0 && !__atomic_load_n(&r->cancel, __ATOMIC_RELAXED))
		log_warn("%s", r->msg);
	else if (r->report && r->result > 0)
		log_info("%s", r->msg);
	return NULL;
}

int geo_refresh_start(const struct geo_update_options *opt, bool report, struct geo_refresh **ret)
{
	struct geo_refresh *r;
	int e;

	*ret = NULL;
	if (!geo_update_due(opt->dirfd, opt->now ? opt->now : time(NULL)))
		return 0;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->opt = *opt;
	r->opt.cancel = &r->cancel;
	r->report = report;
	e = pthread_create(&r->thread, NULL, refresh_main, r);
	if (e) {
		free(r);
		return -e;
	}
	*ret = r;
	return 0;
}

int geo_refresh_stop(struct geo_refresh *r, char *msg, size_t msglen)
{
	int result;

	if (msglen)
		msg[0] = '\0';
	if (!r)
		return 0;
	__atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
	pthread_join(r->thread, NULL);
	result = r->result;
	snprintf(msg, msglen, "%s", r->msg);
	free(r);
	return result;
}
