/* Executables against dpkg's md5sums (dpkg.h). */
#include "logger/dpkg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uthash.h>

#include "util/fsutil.h"

#define FILE_MAX (64u << 20)
#define FILES_MAX 100000
#define LINE_MAX_BYTES 4096

static bool is_md5(const char *s)
{
	for (int i = 0; i < 32; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

size_t dpkg_parse_md5sums(const char *buf, size_t len,
			  void (*fn)(void *ctx, const char *path, size_t plen, const char md5[32]),
			  void *ctx)
{
	size_t refused = 0;

	for (size_t i = 0; i < len;) {
		const char *line = buf + i, *nl = memchr(line, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - line) : len - i;

		i += ll + 1;
		/* "<md5>  <path>": two spaces (or " *", binary mode) */
		if (ll > LINE_MAX_BYTES || ll < 35 || !is_md5(line) || line[32] != ' ' ||
		    (line[33] != ' ' && line[33] != '*') || memchr(line, '\0', ll)) {
			if (ll)
				refused++;
			continue;
		}
		fn(ctx, line + 34, ll - 34, line);
	}
	return refused;
}

/* The path as compared: without a leading "/", and without "usr/" before
 * bin, sbin and lib* (merged /usr: both name one file). */
static void canonical(const char *p, size_t n, const char **ret, size_t *ret_n)
{
	while (n && *p == '/')
		p++, n--;
	if (n > 4 && !memcmp(p, "usr/", 4) &&
	    (!strncmp(p + 4, "bin/", 4) || !strncmp(p + 4, "sbin/", 5) || !strncmp(p + 4, "lib", 3)))
		p += 4, n -= 4;
	*ret = p;
	*ret_n = n;
}

struct want {
	struct dpkg_query *q;
	struct want *next;	/* others with the same path */
	UT_hash_handle hh;
};

struct scan {
	struct want *map;
	const char *package;
	size_t package_len;
};

static void on_line(void *ctx, const char *path, size_t plen, const char md5[32])
{
	struct scan *s = ctx;
	struct want *w;
	const char *c;
	size_t cn;

	canonical(path, plen, &c, &cn);
	HASH_FIND(hh, s->map, c, cn, w);
	for (; w; w = w->next) {
		struct dpkg_query *q = w->q;

		/* a file listed by two packages (diversions): as installed if
		 * either matches */
		if (q->verdict == DPKG_AS_INSTALLED)
			continue;
		memcpy(q->listed_md5, md5, 32);
		q->listed_md5[32] = '\0';
		q->verdict = q->md5[0] ? dpkg_compare(q->listed_md5, q->md5) : DPKG_LISTED;
		snprintf(q->package, sizeof(q->package), "%.*s", (int)s->package_len, s->package);
	}
}

int dpkg_lookup(const char *dir, struct dpkg_query *q, size_t n, struct dpkg_stats *st)
{
	struct want *ws = calloc(n ? n : 1, sizeof(*ws)), *w, *tmp;
	struct scan s = { 0 };
	struct dirent *de;
	size_t files = 0;
	int dfd, r = 0;
	DIR *d;

	for (size_t i = 0; i < n; i++) {
		q[i].verdict = DPKG_UNOWNED;
		q[i].package[0] = '\0';
		q[i].listed_md5[0] = '\0';
	}
	if (!ws)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *c;
		size_t cn;

		if (q[i].md5[0] && strlen(q[i].md5) != 32)
			continue;	/* not an MD5: unowned is all it can say */
		canonical(q[i].path, strlen(q[i].path), &c, &cn);
		ws[i].q = &q[i];
		HASH_FIND(hh, s.map, c, cn, w);
		if (w) {
			ws[i].next = w->next;
			w->next = &ws[i];
		} else {
			HASH_ADD_KEYPTR(hh, s.map, c, cn, &ws[i]);
		}
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		r = -errno;
		if (dfd >= 0)
			close(dfd);
		goto out;
	}
	while (s.map && (de = readdir(d)) && files < FILES_MAX) {
		size_t nl = strlen(de->d_name);
		char *buf = NULL;
		size_t len = 0;

		if (nl <= 8 || strcmp(de->d_name + nl - 8, ".md5sums") || de->d_name[0] == '.')
			continue;
		if (read_below(dirfd(d), de->d_name, FILE_MAX, &buf, &len) < 0)
			continue;
		files++;
		s.package = de->d_name;
		s.package_len = nl - 8;
		if (st) {
			st->files++;
			for (size_t i = 0; i < len; i++)
				st->lines += buf[i] == '\n';
			st->skipped += dpkg_parse_md5sums(buf, len, on_line, &s);
		} else {
			dpkg_parse_md5sums(buf, len, on_line, &s);
		}
		free(buf);
	}
	closedir(d);
out:
	HASH_ITER(hh, s.map, w, tmp)
		HASH_DEL(s.map, w);
	free(ws);
	return r;
}

enum dpkg_verdict dpkg_compare(const char listed_md5[33], const char *md5)
{
	return strlen(md5) == 32 && !memcmp(listed_md5, md5, 32) ? DPKG_AS_INSTALLED
								 : DPKG_MODIFIED;
}

const char *dpkg_verdict_text(enum dpkg_verdict v)
{
	switch (v) {
	case DPKG_AS_INSTALLED:
		return "as installed";
	case DPKG_MODIFIED:
		return "modified since install";
	case DPKG_LISTED:
		return "listed by a package, not compared";
	default:
		return "no package owns it";
	}
}
