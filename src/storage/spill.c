/* The spill file (spill.h), written and read with jansson. */
#include "storage/spill.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "util/strutil.h"

#define SPILL_VERSION 1

/* the text fields of an entry, by their keys in the file */
static const struct {
	const char *key;
	size_t off;
} texts[] = {
	{ "exe", offsetof(struct conn_row, exe) },
	{ "name", offsetof(struct conn_row, name) },
	{ "cmdline", offsetof(struct conn_row, cmdline) },
	{ "sha256", offsetof(struct conn_row, sha256) },
	{ "pexe", offsetof(struct conn_row, pexe) },
	{ "pname", offsetof(struct conn_row, pname) },
	{ "pcmdline", offsetof(struct conn_row, pcmdline) },
	{ "psha256", offsetof(struct conn_row, psha256) },
	{ "gpexe", offsetof(struct conn_row, gpexe) },
	{ "gpname", offsetof(struct conn_row, gpname) },
	{ "gpcmdline", offsetof(struct conn_row, gpcmdline) },
	{ "gpsha256", offsetof(struct conn_row, gpsha256) },
	{ "laddr", offsetof(struct conn_row, laddr) },
	{ "raddr", offsetof(struct conn_row, raddr) },
	{ "domain", offsetof(struct conn_row, domain) },
};
#define NTEXTS (sizeof(texts) / sizeof(texts[0]))

static const char **text_at(const struct conn_row *r, size_t i)
{
	return (const char **)((char *)r + texts[i].off);
}

static json_t *row_json(const char *dest, const struct conn_row *r)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I}", "to",
			      dest, "time", (json_int_t)r->time, "sent", (json_int_t)r->sent,
			      "received", (json_int_t)r->received, "flows", (json_int_t)r->flows,
			      "uid", (json_int_t)r->uid, "lport", (json_int_t)r->lport, "rport",
			      (json_int_t)r->rport, "family", r->family, "protocol", r->protocol,
			      "netns", (json_int_t)r->netns);

	for (size_t i = 0; o && i < NTEXTS; i++) {
		const char *t = *text_at(r, i);

		if (t && json_object_set_new(o, texts[i].key, json_string(t)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

char *spill_format(const struct spill_part *parts, size_t nparts, int64_t written, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	int r = strbuf_addf(&sb, "{\"picosnitch spill\":%d,\"written\":%lld}\n", SPILL_VERSION,
			    (long long)written);

	for (size_t p = 0; r == 0 && p < nparts; p++) {
		for (size_t i = 0; r == 0 && i < parts[p].n; i++) {
			json_t *o = row_json(parts[p].dest, &parts[p].rows[i]);
			char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

			r = line ? strbuf_adds(&sb, line) : -ENOMEM;
			if (r == 0)
				r = strbuf_addc(&sb, '\n');
			free(line);
			json_decref(o);
		}
	}
	if (r < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	*len = sb.len;
	return strbuf_detach(&sb);
}

static bool get_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return false;
	*ret = (int64_t)json_integer_value(v);
	return *ret >= min && *ret <= max;
}

/* Text as the logger writes it: safe text has no control characters */
static bool plain_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool row_from_json(json_t *o, struct conn_row *r)
{
	int64_t v[10];

	if (!get_int(o, "time", 1, INT64_MAX, &v[0]) || !get_int(o, "sent", 0, INT64_MAX, &v[1]) ||
	    !get_int(o, "received", 0, INT64_MAX, &v[2]) ||
	    !get_int(o, "flows", 0, INT64_MAX, &v[3]) ||
	    !get_int(o, "uid", -1, UINT32_MAX, &v[4]) || !get_int(o, "lport", -1, 65535, &v[5]) ||
	    !get_int(o, "rport", -1, 65535, &v[6]) || !get_int(o, "family", 0, 255, &v[7]) ||
	    !get_int(o, "protocol", 0, 65535, &v[8]) || !get_int(o, "netns", 0, INT64_MAX, &v[9]))
		return false;
	if (v[7] != 0 && v[7] != AF_INET && v[7] != AF_INET6 && v[7] != AF_PACKET)
		return false;
	memset(r, 0, sizeof(*r));
	r->time = v[0];
	r->sent = (uint64_t)v[1];
	r->received = (uint64_t)v[2];
	r->flows = (uint64_t)v[3];
	r->uid = v[4];
	r->lport = v[5];
	r->rport = v[6];
	r->family = (int)v[7];
	r->protocol = (int)v[8];
	r->netns = (uint64_t)v[9];
	for (size_t i = 0; i < NTEXTS; i++) {
		json_t *t = json_object_get(o, texts[i].key);

		if (!t)
			continue;
		if (!json_is_string(t) || json_string_length(t) != strlen(json_string_value(t)) ||
		    json_string_length(t) > 65536 || !plain_text(json_string_value(t)))
			return false;
		*text_at(r, i) = json_string_value(t);
	}
	return true;
}

int spill_parse(const char *text, size_t len, spill_entry_fn fn, void *ctx)
{
	const char *at = text, *end = text + len;
	int skipped = 0;
	bool header = false;

	while (at < end) {
		const char *nl = memchr(at, '\n', (size_t)(end - at));
		size_t n = nl ? (size_t)(nl - at) : (size_t)(end - at);
		json_t *o = n <= SPILL_LINE_MAX ? json_loadb(at, n, JSON_REJECT_DUPLICATES, NULL)
						: NULL;
		struct conn_row row;
		json_t *to;

		at += n + (nl ? 1 : 0);
		if (!header) {
			json_t *v = json_object_get(o, "picosnitch spill");
			bool ours = json_is_integer(v) && json_integer_value(v) == SPILL_VERSION;

			json_decref(o);
			if (!ours)
				return -EPROTO;	/* not a file this version wrote */
			header = true;
			continue;
		}
		to = json_object_get(o, "to");
		if (!json_is_object(o) || !json_is_string(to) || !row_from_json(o, &row)) {
			skipped++;
			json_decref(o);
			continue;
		}
		int r = fn(ctx, json_string_value(to), &row);

		json_decref(o);
		if (r < 0)
			return r;
	}
	return header ? skipped : -EPROTO;
}
