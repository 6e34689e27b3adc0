/* A TLS ClientHello's server name (tls_hello.h): a walk over its fields,
 * every length checked against the bytes at hand. */
#include "pipeline/tls_hello.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define HS_CLIENT_HELLO 1
#define REC_HANDSHAKE 22
#define EXT_SERVER_NAME 0
#define SNI_HOST_NAME 0
#define HELLO_BUF_MAX 8192	/* handshake bytes gathered from records */

int host_name_copy(const uint8_t *s, size_t n, char name[DNS_NAME_MAX + 1])
{
	size_t label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_NAME_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if (c == '.') {
			if (label == 0)
				return -EBADMSG;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			label++;
		} else if (c >= 'A' && c <= 'Z') {
			c = (uint8_t)(c - 'A' + 'a');
			label++;
		} else {
			return -EBADMSG;
		}
		if (label > 63)
			return -EBADMSG;
		name[i] = (char)c;
	}
	name[n] = '\0';
	return 0;
}

/* A reader over the bytes at hand; `cut` says the message goes on past
 * them (so running out means "more is due", not "malformed"). */
struct rd {
	const uint8_t *p;
	size_t left;
	bool cut;
};

/* n bytes, or the error for running out */
static int take(struct rd *r, size_t n, const uint8_t **out)
{
	if (n > r->left)
		return r->cut ? -EAGAIN : -EBADMSG;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

static int take_len(struct rd *r, size_t width, size_t *len)
{
	const uint8_t *b;
	int e = take(r, width, &b);

	if (e < 0)
		return e;
	*len = 0;
	for (size_t i = 0; i < width; i++)
		*len = *len << 8 | b[i];
	return 0;
}

/* the server_name extension's body (whole) */
static int server_name_ext(const uint8_t *b, size_t n, char name[DNS_NAME_MAX + 1])
{
	size_t list;

	if (n < 2)
		return -EBADMSG;
	list = (size_t)b[0] << 8 | b[1];
	if (list != n - 2)
		return -EBADMSG;
	b += 2;
	n -= 2;
	while (n > 0) {
		size_t len;

		if (n < 3)
			return -EBADMSG;
		len = (size_t)b[1] << 8 | b[2];
		if (len > n - 3)
			return -EBADMSG;
		if (b[0] == SNI_HOST_NAME)
			return host_name_copy(b + 3, len, name) < 0 ? -EBADMSG : 1;
		b += 3 + len;
		n -= 3 + len;
	}
	return -ENOENT;
}

/* the ClientHello's body: the bytes at hand, cut if more is due */
static int hello_body(struct rd *r, char name[DNS_NAME_MAX + 1])
{
	const uint8_t *b;
	size_t n, ext_total;
	int e;

	if ((e = take(r, 2 + 32, &b)) < 0 ||		/* legacy_version, random */
	    (e = take_len(r, 1, &n)) < 0)
		return e;
	if (n > 32)
		return -EBADMSG;
	if ((e = take(r, n, &b)) < 0 ||			/* legacy_session_id */
	    (e = take_len(r, 2, &n)) < 0)		/* cipher_suites */
		return e;
	if (n < 2 || n % 2)
		return -EBADMSG;
	if ((e = take(r, n, &b)) < 0 || (e = take_len(r, 1, &n)) < 0)	/* compression */
		return e;
	if (n < 1)
		return -EBADMSG;
	if ((e = take(r, n, &b)) < 0)
		return e;
	if (r->left == 0 && !r->cut)
		return -ENOENT;				/* no extensions */
	if ((e = take_len(r, 2, &ext_total)) < 0)
		return e;
	if (!r->cut && ext_total != r->left)
		return -EBADMSG;
	if (ext_total < r->left)
		r->left = ext_total;			/* what follows is not ours */
	while (r->left > 0 || r->cut) {
		size_t type, len;

		if ((e = take_len(r, 2, &type)) < 0 || (e = take_len(r, 2, &len)) < 0 ||
		    (e = take(r, len, &b)) < 0)
			return e;
		if (type == EXT_SERVER_NAME)
			return server_name_ext(b, len, name);
	}
	return -ENOENT;
}

int tls_handshake_sni(const uint8_t *hs, size_t len, char name[DNS_NAME_MAX + 1])
{
	struct rd r;
	size_t body;

	if (len < 1)
		return -EAGAIN;
	if (hs[0] != HS_CLIENT_HELLO)
		return -ENOMSG;
	if (len < 4)
		return -EAGAIN;
	body = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
	r.p = hs + 4;
	r.cut = len - 4 < body;
	r.left = r.cut ? len - 4 : body;
	return hello_body(&r, name);
}

int tls_records_sni(const uint8_t *data, size_t len, char name[DNS_NAME_MAX + 1])
{
	static __thread uint8_t hs[HELLO_BUF_MAX];
	size_t have = 0, off = 0;
	bool first = true;

	while (off < len) {
		size_t rec, n;

		if (data[off] != REC_HANDSHAKE)
			return first ? -ENOMSG : -EBADMSG;
		if (len - off < 5)
			break;
		if (data[off + 1] != 3 || data[off + 2] > 4)
			return first ? -ENOMSG : -EBADMSG;
		rec = (size_t)data[off + 3] << 8 | data[off + 4];
		if (rec == 0 || rec > TLS_RECORD_MAX)
			return -EBADMSG;
		first = false;
		off += 5;
		n = len - off < rec ? len - off : rec;
		if (n > sizeof(hs) - have)
			n = sizeof(hs) - have;
		memcpy(hs + have, data + off, n);
		have += n;
		off += n;
		if (n < rec)
			break;	/* the record goes on past the bytes at hand */
		if (have >= 4) {
			size_t body = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];

			if (have >= 4 + body)
				break;	/* the whole message is here */
		}
	}
	if (have == 0)
		return -EAGAIN;	/* not even a record's header yet */
	return tls_handshake_sni(hs, have, name);
}
