/* Parsing addresses and the special-purpose ranges (see addr.h). */
#include "geo/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

int geo_addr_parse(const char *s, size_t len, struct geo_addr *ret)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char buf[INET6_ADDRSTRLEN + 2];
	const char *end = s ? memchr(s, '\0', len) : NULL;
	size_t n;
	char *p;

	if (!s)
		return -EINVAL;
	if (end)
		len = (size_t)(end - s);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*ret = (struct geo_addr){ 0 };
	if (inet_pton(AF_INET, buf, ret->b) == 1) {
		ret->v4 = true;
		return 0;
	}
	/* a zone names an interface of this machine: the address is the same */
	if ((p = strchr(buf, '%'))) {
		n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
		if (p == buf || n == 0 || p[1 + n] != '\0')
			return -EINVAL;
		*p = '\0';
	}
	if (!strchr(buf, ':') || inet_pton(AF_INET6, buf, ret->b) != 1)
		return -EINVAL;
	if (!memcmp(ret->b, mapped, sizeof(mapped))) {
		memmove(ret->b, ret->b + 12, 4);
		memset(ret->b + 4, 0, 12);
		ret->v4 = true;
	}
	return 0;
}

struct range {
	uint8_t prefix[16];
	unsigned int bits;
};

static bool in_range(const uint8_t *a, const struct range *r)
{
	unsigned int full = r->bits / 8, rest = r->bits % 8;

	if (memcmp(a, r->prefix, full))
		return false;
	return !rest || ((a[full] ^ r->prefix[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* IANA's IPv4 special-purpose registry, less what is routed on the
 * internet (192.88.99.0/24, anycast 192.31.196.0/24 and such) */
static const struct range local_v4[] = {
	{ { 0 }, 8 },			/* "this network" */
	{ { 10 }, 8 },			/* private */
	{ { 100, 64 }, 10 },		/* shared address space (CGNAT) */
	{ { 127 }, 8 },			/* loopback */
	{ { 169, 254 }, 16 },		/* link-local */
	{ { 172, 16 }, 12 },		/* private */
	{ { 192, 0, 0 }, 24 },		/* IETF protocol assignments */
	{ { 192, 0, 2 }, 24 },		/* documentation (TEST-NET-1) */
	{ { 192, 168 }, 16 },		/* private */
	{ { 198, 18 }, 15 },		/* benchmarking */
	{ { 198, 51, 100 }, 24 },	/* documentation (TEST-NET-2) */
	{ { 203, 0, 113 }, 24 },	/* documentation (TEST-NET-3) */
	{ { 224 }, 4 },			/* multicast */
	{ { 240 }, 4 },			/* reserved, and the broadcast address */
};

static const struct range local_v6[] = {
	{ { 0 }, 127 },					/* :: and ::1 */
	{ { 0, 0x64, 0xff, 0x9b, 0, 1 }, 48 },		/* local-use IPv4/IPv6 translation */
	{ { 0x01, 0x00 }, 64 },				/* discard-only */
	{ { 0x20, 0x01, 0x00, 0x02, 0, 0 }, 48 },	/* benchmarking */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32 },		/* documentation */
	{ { 0x3f, 0xff, 0x00 }, 20 },			/* documentation (RFC 9637) */
	{ { 0xfc }, 7 },				/* unique local */
	{ { 0xfe, 0x80 }, 10 },				/* link-local */
	{ { 0xfe, 0xc0 }, 10 },				/* site-local (deprecated) */
	{ { 0xff }, 8 },				/* multicast */
};

bool geo_addr_is_local(const struct geo_addr *a)
{
	const struct range *r = a->v4 ? local_v4 : local_v6;
	size_t n = a->v4 ? sizeof(local_v4) / sizeof(local_v4[0]) : sizeof(local_v6) / sizeof(local_v6[0]);

	for (size_t i = 0; i < n; i++)
		if (in_range(a->b, &r[i]))
			return true;
	return false;
}
