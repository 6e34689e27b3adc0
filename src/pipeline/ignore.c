/* "Log ignore" rules: compiled once from config.json, matched per row
 * (see ignore.h). */
#include "pipeline/ignore.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct subnet {
	int family;
	unsigned char addr[16];
	unsigned int prefix;
};

struct ignore_rules {
	int64_t *ports;
	size_t nports;
	char (*hashes)[65];
	size_t nhashes;
	struct subnet *subnets;
	size_t nsubnets;
	char **domains;		/* forward notation, lower case: "example.com" */
	size_t ndomains;
};

static bool is_sha256(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

static bool parse_subnet(const char *s, struct subnet *ret)
{
	char buf[64], *slash, *end;
	unsigned long prefix;
	unsigned int bits;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, ret->addr) == 1) {
		ret->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, buf, ret->addr) == 1) {
		ret->family = AF_INET6;
		bits = 128;
	} else {
		return false;
	}
	ret->prefix = bits;
	if (slash) {
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || prefix > bits || !isdigit((unsigned char)slash[1]))
			return false;
		ret->prefix = (unsigned int)prefix;
	}
	return true;
}

/* "com.example" -> "example.com"; NULL if it is not a domain. */
static char *reverse_domain(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *out;
	const char *end = s + len;

	if (!len || len > 253 || s[0] == '.' || s[len - 1] == '.' || strstr(s, ".."))
		return NULL;
	for (const char *p = s; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return NULL;
	}
	out = malloc(len + 1);
	if (!out)
		return NULL;
	while (end > s) {
		const char *dot = end;

		while (dot > s && dot[-1] != '.')
			dot--;
		if (o)
			out[o++] = '.';
		for (const char *p = dot; p < end; p++)
			out[o++] = (char)tolower((unsigned char)*p);
		end = dot > s ? dot - 1 : s;
	}
	out[o] = '\0';
	return out;
}

int ignore_rules_new(const json_t *list, struct ignore_rules **ret, char *err, size_t errlen)
{
	struct ignore_rules *r = calloc(1, sizeof(*r));
	size_t n = json_array_size(list), i;
	json_t *v;

	if (!r)
		return -ENOMEM;
	r->ports = calloc(n + 1, sizeof(*r->ports));
	r->hashes = calloc(n + 1, sizeof(*r->hashes));
	r->subnets = calloc(n + 1, sizeof(*r->subnets));
	r->domains = calloc(n + 1, sizeof(*r->domains));
	if (!r->ports || !r->hashes || !r->subnets || !r->domains) {
		ignore_rules_free(r);
		return -ENOMEM;
	}
	json_array_foreach(list, i, v) {
		const char *s;
		char *dom;

		if (json_is_integer(v)) {
			r->ports[r->nports++] = json_integer_value(v);
			continue;
		}
		s = json_string_value(v);
		if (!s) {
			snprintf(err, errlen, "config.json: \"Log ignore\" item %zu is neither a port "
				 "nor a string", i + 1);
			ignore_rules_free(r);
			return -EINVAL;
		}
		if (is_sha256(s)) {
			for (int k = 0; k < 64; k++)
				r->hashes[r->nhashes][k] = (char)tolower((unsigned char)s[k]);
			r->nhashes++;
		} else if (parse_subnet(s, &r->subnets[r->nsubnets])) {
			r->nsubnets++;
		} else if ((dom = reverse_domain(s))) {
			r->domains[r->ndomains++] = dom;
		} else {
			snprintf(err, errlen,
				 "config.json: \"Log ignore\" item %zu, \"%.80s\", is not a SHA-256 hash, an "
				 "address or subnet (\"10.0.0.0/8\"), or a domain in reverse notation "
				 "(\"com.example\")",
				 i + 1, s);
			ignore_rules_free(r);
			return -EINVAL;
		}
	}
	*ret = r;
	return 0;
}

void ignore_rules_free(struct ignore_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ndomains; i++)
		free(r->domains[i]);
	free(r->ports);
	free(r->hashes);
	free(r->subnets);
	free(r->domains);
	free(r);
}

size_t ignore_rules_count(const struct ignore_rules *r)
{
	return r ? r->nports + r->nhashes + r->nsubnets + r->ndomains : 0;
}

static bool in_subnet(const struct subnet *n, const char *text)
{
	unsigned char a[16];
	unsigned int full, rest;

	if (!text || !*text || inet_pton(n->family, text, a) != 1)
		return false;
	full = n->prefix / 8;
	rest = n->prefix % 8;
	if (memcmp(a, n->addr, full))
		return false;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));

		if ((a[full] & mask) != (n->addr[full] & mask))
			return false;
	}
	return true;
}

/* domain is d or a subdomain of it, compared without case */
static bool under_domain(const char *domain, const char *d)
{
	size_t dl = strlen(domain), l = strlen(d);

	if (dl < l || strcasecmp(domain + dl - l, d))
		return false;
	return dl == l || domain[dl - l - 1] == '.';
}

bool ignore_match(const struct ignore_rules *r, const struct conn_row *row)
{
	if (!r)
		return false;
	for (size_t i = 0; i < r->nports; i++) {
		if ((row->lport >= 0 && row->lport == r->ports[i]) ||
		    (row->rport >= 0 && row->rport == r->ports[i]))
			return true;
	}
	for (size_t i = 0; i < r->nhashes; i++) {
		if (row->sha256 && !strcasecmp(row->sha256, r->hashes[i]))
			return true;
	}
	for (size_t i = 0; i < r->nsubnets; i++) {
		if (in_subnet(&r->subnets[i], row->raddr))
			return true;
	}
	for (size_t i = 0; i < r->ndomains; i++) {
		if (row->domain && *row->domain && under_domain(row->domain, r->domains[i]))
			return true;
	}
	return false;
}
