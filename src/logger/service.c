/* A process's service from its cgroup path (service.h). */
#include "logger/service.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct comp {
	const char *s;
	size_t n;
};

#define COMPS_MAX 64

static bool has_prefix(struct comp c, const char *p)
{
	size_t n = strlen(p);

	return c.n >= n && !memcmp(c.s, p, n);
}

static bool has_suffix(struct comp c, const char *p)
{
	size_t n = strlen(p);

	return c.n >= n && !memcmp(c.s + c.n - n, p, n);
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return n > 0;
}

/* "PREFIX<id>SUFFIX" with an id of at least 12 hex digits: "KIND:<12>" */
static bool container(struct comp c, const char *prefix, const char *suffix, const char *kind,
		      char *out)
{
	size_t p = strlen(prefix), s = strlen(suffix);

	if (!has_prefix(c, prefix) || !has_suffix(c, suffix) || c.n < p + s + 12 ||
	    !is_hex(c.s + p, c.n - p - s))
		return false;
	snprintf(out, SERVICE_MAX, "%s:%.12s", kind, c.s + p);
	return true;
}

static void put(char *out, const char *prefix, const char *s, size_t n)
{
	size_t p = strlen(prefix);

	if (p + n > SERVICE_MAX - 1)
		n = SERVICE_MAX - 1 > p ? SERVICE_MAX - 1 - p : 0;
	memcpy(out, prefix, p);
	memcpy(out + p, s, n);
	out[p + n] = '\0';
}

enum found { NOTHING, UNIT, APP };	/* APP: an app or a container, "KIND:NAME" */

/* One component, innermost first: what it names. */
static enum found unit_of(const struct comp *c, size_t i, char *out)
{
	struct comp k = c[i];

	if (container(k, "docker-", ".scope", "docker", out) ||
	    (i > 0 && c[i - 1].n == 6 && !memcmp(c[i - 1].s, "docker", 6) &&
	     container(k, "", "", "docker", out)) ||
	    container(k, "libpod-conmon-", ".scope", "podman", out) ||
	    container(k, "libpod-", ".scope", "podman", out) ||
	    container(k, "cri-containerd-", ".scope", "containerd", out))
		return APP;
	if (has_prefix(k, "lxc.payload.") && k.n > 12) {
		put(out, "lxc:", k.s + 12, k.n - 12);
		return APP;
	}
	if (has_prefix(k, "snap.") && (has_suffix(k, ".scope") || has_suffix(k, ".service"))) {
		const char *dot = memchr(k.s + 5, '.', k.n - 5);

		if (dot && dot > k.s + 5) {
			put(out, "snap:", k.s + 5, (size_t)(dot - k.s - 5));
			return APP;
		}
	}
	if (has_prefix(k, "app-flatpak-") && has_suffix(k, ".scope")) {
		/* app-flatpak-APPID-NUMBER.scope; APPID has dots, no dashes
		 * at its end */
		size_t end = k.n - 6;

		while (end > 12 && k.s[end - 1] >= '0' && k.s[end - 1] <= '9')
			end--;
		if (end > 13 && k.s[end - 1] == '-' && end < k.n - 6)
			end--;
		else
			end = k.n - 6;
		if (end > 12) {
			put(out, "flatpak:", k.s + 12, end - 12);
			return APP;
		}
	}
	if (has_suffix(k, ".service") && k.n > 8) {
		put(out, "", k.s, k.n);
		return UNIT;
	}
	if (has_suffix(k, ".scope") && k.n > 6) {
		/* a scope's number tells instances apart, not services */
		size_t end = k.n - 6, d = end;

		while (d > 0 && k.s[d - 1] >= '0' && k.s[d - 1] <= '9')
			d--;
		if (d < end && d > 1 && k.s[d - 1] == '-')
			end = d - 1;
		if (end > SERVICE_MAX - 7)
			end = SERVICE_MAX - 7;
		snprintf(out, SERVICE_MAX, "%.*s.scope", (int)end, k.s);
		return UNIT;
	}
	return NOTHING;
}

/* The path of the unified hierarchy ("0::" to the end), else systemd's
 * line; NULL when there is neither. */
static const char *find_path(const char *raw, size_t len, size_t *n)
{
	const char *fallback = NULL;
	size_t fallback_n = 0;

	for (size_t i = 0; i < len;) {
		const char *line = raw + i, *nl = memchr(line, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - line) : len - i;

		if (ll >= 3 && !memcmp(line, "0::", 3)) {
			/* the last line: the rest is its path */
			*n = len - i - 3;
			if (*n > 0 && line[3 + *n - 1] == '\n')
				(*n)--;
			return line + 3;
		}
		if (!fallback) {
			const char *c1 = memchr(line, ':', ll);
			const char *c2 = c1 ? memchr(c1 + 1, ':', ll - (size_t)(c1 + 1 - line)) : NULL;

			if (c2 && c2 - c1 - 1 == 12 && !memcmp(c1 + 1, "name=systemd", 12)) {
				fallback = c2 + 1;
				fallback_n = ll - (size_t)(c2 + 1 - line);
			}
		}
		i += ll + 1;
	}
	*n = fallback_n;
	return fallback;
}

void service_from_cgroup(const char *raw, size_t len, size_t max, char out[SERVICE_MAX])
{
	struct comp c[COMPS_MAX];
	size_t n = 0, plen = 0;
	const char *path;

	out[0] = '\0';
	if (!raw || len == 0 || len >= max)
		return;	/* none, or cut: its innermost part is missing */
	path = find_path(raw, len, &plen);
	if (!path)
		return;
	for (size_t i = 0; i < plen;) {
		const char *slash = memchr(path + i, '/', plen - i);
		size_t cl = slash ? (size_t)(slash - path - i) : plen - i;

		if (cl > 0) {
			if (n == COMPS_MAX)
				return;	/* deeper than any real tree: no guess */
			c[n++] = (struct comp){ path + i, cl };
		}
		i += cl + 1;
	}
	for (size_t i = n; i-- > 0;) {
		char unit[SERVICE_MAX];
		enum found f = unit_of(c, i, unit);

		if (f == NOTHING)
			continue;
		/* a unit below a user's manager: say whose (apps and
		 * containers say what they are instead) */
		for (size_t j = 0; f == UNIT && j < i; j++) {
			if (has_prefix(c[j], "user@") && has_suffix(c[j], ".service")) {
				size_t w = c[j].n < SERVICE_MAX - 1 ? c[j].n : SERVICE_MAX - 1;
				size_t u = strlen(unit);

				memcpy(out, c[j].s, w);
				if (w + 1 + u > SERVICE_MAX - 1)
					u = SERVICE_MAX - 1 > w + 1 ? SERVICE_MAX - 2 - w : 0;
				if (w < SERVICE_MAX - 1) {
					out[w++] = '/';
					memcpy(out + w, unit, u);
					w += u;
				}
				out[w] = '\0';
				return;
			}
		}
		memcpy(out, unit, strlen(unit) + 1);
		return;
	}
}
