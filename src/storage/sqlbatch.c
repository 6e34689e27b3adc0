/* A batch for the SQL server as a spool file, and back (sqlserver.h).
 *
 * Layout (this machine's byte order; the spool never leaves it):
 *   "PSQLB1\n\0", u64 seq, i64 time, u32 window, u32 n, u8 host length,
 *   host, machine id (32), boot id (36), then n entries of
 *   i64 time, u64 sent, received, flows, i64 uid, lport, rport,
 *   u64 netns, i32 family, protocol, and 15 texts (u32 length, bytes).
 * The file must be exactly that long.  Everything is checked when read:
 * the spool lies in the user's directory, so it is data like any other. */
#include "storage/sqlserver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "geo/utf8.h"
#include "util/strutil.h"

#define MAGIC "PSQLB1\n"
#define MAGIC_LEN 8
#define TEXTS 15
#define BATCH_ROWS_MAX 1000000

static bool hex_ok(const char *s, size_t n, bool dashes)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (dashes && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (c != '-')
				return false;
			continue;
		}
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

bool sqlbatch_id_ok(const char *machine_id, const char *boot_id, const char *host)
{
	size_t h = strnlen(host, SQLSRV_HOST_MAX + 1);

	return strnlen(machine_id, 33) == 32 && hex_ok(machine_id, 32, false) &&
	       strnlen(boot_id, 37) == 36 && hex_ok(boot_id, 36, true) && h > 0 &&
	       h <= SQLSRV_HOST_MAX && utf8_is_clean(host, h);
}

static const char *const *texts_of(const struct conn_row *r, const char *out[TEXTS])
{
	const char *t[TEXTS] = { r->exe,    r->name,	 r->cmdline,  r->sha256, r->pexe,
				 r->pname,  r->pcmdline, r->psha256,  r->gpexe,	 r->gpname,
				 r->gpcmdline, r->gpsha256, r->laddr, r->raddr,	 r->domain };

	for (int i = 0; i < TEXTS; i++)
		out[i] = t[i] ? t[i] : "";
	return out;
}

static int put(struct strbuf *sb, const void *p, size_t n)
{
	return strbuf_add(sb, p, n);
}

int sqlbatch_encode(const struct sqlsrv_batch *b, char **ret, size_t *ret_len)
{
	struct strbuf sb = STRBUF_INIT;
	uint32_t n32 = (uint32_t)b->n;
	uint8_t hl = (uint8_t)strnlen(b->host, SQLSRV_HOST_MAX);

	if (b->n > BATCH_ROWS_MAX || !sqlbatch_id_ok(b->machine_id, b->boot_id, b->host))
		return -EINVAL;
	put(&sb, MAGIC, MAGIC_LEN);
	put(&sb, &b->seq, 8);
	put(&sb, &b->time, 8);
	put(&sb, &b->window, 4);
	put(&sb, &n32, 4);
	put(&sb, &hl, 1);
	put(&sb, b->host, hl);
	put(&sb, b->machine_id, 32);
	put(&sb, b->boot_id, 36);
	for (size_t i = 0; i < b->n; i++) {
		const struct conn_row *r = &b->rows[i];
		const char *t[TEXTS];
		int32_t fam = r->family, proto = r->protocol;

		put(&sb, &r->time, 8);
		put(&sb, &r->sent, 8);
		put(&sb, &r->received, 8);
		put(&sb, &r->flows, 8);
		put(&sb, &r->uid, 8);
		put(&sb, &r->lport, 8);
		put(&sb, &r->rport, 8);
		put(&sb, &r->netns, 8);
		put(&sb, &fam, 4);
		put(&sb, &proto, 4);
		texts_of(r, t);
		for (int k = 0; k < TEXTS; k++) {
			uint32_t l = (uint32_t)strnlen(t[k], SQLSRV_TEXT_MAX + 1);

			/* what the decoder would refuse is never spooled */
			if (l > SQLSRV_TEXT_MAX || !utf8_is_clean(t[k], l)) {
				strbuf_release(&sb);
				return -E2BIG;
			}
			put(&sb, &l, 4);
			put(&sb, t[k], l);
		}
	}
	if (!sb.buf)
		return -ENOMEM;
	*ret_len = sb.len;
	*ret = strbuf_detach(&sb);
	return 0;
}

struct reader {
	const unsigned char *p;
	size_t left;
};

static bool take(struct reader *rd, void *out, size_t n)
{
	if (rd->left < n)
		return false;
	memcpy(out, rd->p, n);
	rd->p += n;
	rd->left -= n;
	return true;
}

struct decoded {
	struct conn_row *rows;
	char *text;	/* every string, NUL-terminated */
};

int sqlbatch_decode(const void *data, size_t len, struct sqlsrv_batch *b)
{
	struct reader rd = { data, len };
	char magic[MAGIC_LEN];
	uint32_t n;
	uint8_t hl;
	struct decoded *d;
	char *out;

	memset(b, 0, sizeof(*b));
	if (!take(&rd, magic, MAGIC_LEN) || memcmp(magic, MAGIC, MAGIC_LEN) ||
	    !take(&rd, &b->seq, 8) || !take(&rd, &b->time, 8) || !take(&rd, &b->window, 4) ||
	    !take(&rd, &n, 4) || !take(&rd, &hl, 1) || !take(&rd, b->host, hl) ||
	    !take(&rd, b->machine_id, 32) || !take(&rd, b->boot_id, 36))
		return -EBADMSG;
	b->host[hl] = '\0';
	if (n > BATCH_ROWS_MAX || strlen(b->host) != hl || !sqlbatch_id_ok(b->machine_id, b->boot_id, b->host) ||
	    b->window == 0 || b->window > 86400 || b->seq > INT64_MAX)
		return -EBADMSG;
	/* each entry takes at least 72 + 15 * 4 bytes: a short file is refused
	 * before anything is allocated for it */
	if ((uint64_t)n * (72 + TEXTS * 4) > rd.left)
		return -EBADMSG;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->rows = calloc(n ? n : 1, sizeof(*d->rows));
	/* the texts take at most what is left, plus a NUL each */
	d->text = malloc(rd.left + (size_t)n * TEXTS + 1);
	if (!d->rows || !d->text) {
		free(d->rows);
		free(d->text);
		free(d);
		return -ENOMEM;
	}
	b->priv = d;
	b->rows = d->rows;
	out = d->text;
	for (uint32_t i = 0; i < n; i++) {
		struct conn_row *r = &d->rows[i];
		int32_t fam, proto;
		const char **t[TEXTS] = { &r->exe,    &r->name,	   &r->cmdline, &r->sha256,
					  &r->pexe,   &r->pname,   &r->pcmdline, &r->psha256,
					  &r->gpexe,  &r->gpname,  &r->gpcmdline, &r->gpsha256,
					  &r->laddr,  &r->raddr,   &r->domain };

		if (!take(&rd, &r->time, 8) || !take(&rd, &r->sent, 8) ||
		    !take(&rd, &r->received, 8) || !take(&rd, &r->flows, 8) ||
		    !take(&rd, &r->uid, 8) || !take(&rd, &r->lport, 8) || !take(&rd, &r->rport, 8) ||
		    !take(&rd, &r->netns, 8) || !take(&rd, &fam, 4) || !take(&rd, &proto, 4))
			goto bad;
		if (r->lport < -1 || r->lport > 65535 || r->rport < -1 || r->rport > 65535 ||
		    fam < 0 || fam > 255 || proto < 0 || proto > 65535 || r->uid < -1 ||
		    r->uid > UINT32_MAX || r->sent > INT64_MAX || r->received > INT64_MAX ||
		    r->flows > INT64_MAX || r->netns > INT64_MAX)
			goto bad;
		r->family = fam;
		r->protocol = proto;
		for (int k = 0; k < TEXTS; k++) {
			uint32_t l;

			if (!take(&rd, &l, 4) || l > SQLSRV_TEXT_MAX || l > rd.left ||
			    !utf8_is_clean((const char *)rd.p, l))
				goto bad;
			memcpy(out, rd.p, l);
			out[l] = '\0';
			*t[k] = out;
			out += l + 1;
			rd.p += l;
			rd.left -= l;
		}
		b->n++;
	}
	if (rd.left)
		goto bad;
	return 0;
bad:
	sqlbatch_clear(b);
	return -EBADMSG;
}

void sqlbatch_clear(struct sqlsrv_batch *b)
{
	struct decoded *d = b->priv;

	if (d) {
		free(d->rows);
		free(d->text);
		free(d);
	}
	b->priv = NULL;
	b->rows = NULL;
	b->n = 0;
}
