/* The JSON API of `picosnitch dash` (see dash_api.h and docs/api.md). */
#include "dash/dash_api.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "geo/geo.h"
#include "logger/vt_parse.h"
#include "util/strutil.h"

#define MAX_FILTERS 32
#define DEFAULT_LIMIT 1000
#define MAX_LIMIT 100000
#define DEFAULT_TOP 10
#define MAX_TOP 1000
#define DEFAULT_BUCKETS 100
#define MAX_BUCKETS 10000
#define QUERY_TIMEOUT_MS 10000

/* A request being answered: the parameters as parsed, and the error. */
struct req {
	const struct dash_param *p;
	size_t n;
	bool used[DASH_API_MAX_PARAMS];
	struct query_filter filters[MAX_FILTERS];
	char *filter_values[MAX_FILTERS];	/* decoded hex values, freed after */
	size_t n_filters;
	int status;
	char error[512];
	char *body;	/* set by a handler that writes its answer itself */
};

static int fail(struct req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct req *r, int status, const char *fmt, ...)
{
	va_list ap;

	if (r->status == 200) {
		r->status = status;
		va_start(ap, fmt);
		vsnprintf(r->error, sizeof(r->error), fmt, ap);
		va_end(ap);
		/* messages carry paths and SQLite's words: keep them printable
		 * ASCII, so they are always valid JSON strings */
		for (char *c = r->error; *c; c++) {
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
		}
	}
	return -EINVAL;
}

/* A parameter name or value made printable for a message. */
static const char *printable(const char *s, size_t len, char *buf, size_t size)
{
	size_t k = 0;

	for (size_t i = 0; i < len && k + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 40) {
			k += (size_t)snprintf(buf + k, size - k, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			buf[k++] = (char)c;
		else
			k += (size_t)snprintf(buf + k, size - k, "\\x%02x", c);
	}
	buf[k] = '\0';
	return buf;
}

static bool key_is(const struct dash_param *p, const char *key)
{
	return p->key_len == strlen(key) && !memcmp(p->key, key, p->key_len);
}

/* The value of a parameter that may appear once: NULL when absent. */
static const struct dash_param *single(struct req *r, const char *key)
{
	const struct dash_param *found = NULL;

	for (size_t i = 0; i < r->n; i++) {
		if (!key_is(&r->p[i], key))
			continue;
		r->used[i] = true;
		if (found) {
			fail(r, 400, "parameter '%s' given more than once", key);
			return NULL;
		}
		found = &r->p[i];
	}
	return found;
}

static int parse_i64(const char *s, size_t len, int64_t *ret)
{
	int64_t v = 0;
	bool neg = false;
	size_t i = 0;

	if (len && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len || len - i > 19)
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, neg ? -(s[i] - '0') : (s[i] - '0'), &v))
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* An integer parameter in [lo, hi], or `def` when absent. */
static int int_param(struct req *r, const char *key, int64_t lo, int64_t hi, int64_t def,
		     int64_t *ret)
{
	const struct dash_param *p = single(r, key);
	char buf[200];

	*ret = def;
	if (r->status != 200)
		return -EINVAL;
	if (!p)
		return 0;
	if (parse_i64(p->value, p->value_len, ret) < 0 || *ret < lo || *ret > hi)
		return fail(r, 400, "parameter '%s': '%s' is not an integer from %" PRId64 " to %" PRId64,
			    key, printable(p->value, p->value_len, buf, sizeof(buf)), lo, hi);
	return 0;
}

/* One of `names` (index in *ret), or def when absent. */
static int choice_param(struct req *r, const char *key, const char *const *names, int def, int *ret)
{
	const struct dash_param *p = single(r, key);
	char buf[200];

	*ret = def;
	if (r->status != 200)
		return -EINVAL;
	if (!p)
		return 0;
	for (int i = 0; names[i]; i++) {
		if (p->value_len == strlen(names[i]) && !memcmp(p->value, names[i], p->value_len)) {
			*ret = i;
			return 0;
		}
	}
	return fail(r, 400, "parameter '%s': '%s' is not one of the choices (see docs/api.md)", key,
		    printable(p->value, p->value_len, buf, sizeof(buf)));
}

static int dim_of(struct req *r, const char *what, const char *s, size_t len, enum query_dim *ret)
{
	char name[40], buf[200];

	if (len >= sizeof(name))
		goto bad;
	memcpy(name, s, len);
	name[len] = '\0';
	if (memchr(s, '\0', len) || query_dim_from_name(name, ret) < 0)
		goto bad;
	return 0;
bad:
	return fail(r, 400, "%s: unknown dimension '%s' (GET /api/dims lists them)", what,
		    printable(s, len, buf, sizeof(buf)));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* include=DIM:VALUE, exclude=DIM:VALUE, include_hex=DIM:HEX, exclude_hex. */
static int parse_filters(struct req *r)
{
	static const struct {
		const char *key;
		enum query_filter_mode mode;
		bool hex;
	} kinds[] = {
		{ "include", QUERY_INCLUDE, false },
		{ "exclude", QUERY_EXCLUDE, false },
		{ "include_hex", QUERY_INCLUDE, true },
		{ "exclude_hex", QUERY_EXCLUDE, true },
	};

	for (size_t i = 0; i < r->n; i++) {
		const struct dash_param *p = &r->p[i];
		const char *colon;
		struct query_filter *f;
		size_t k;

		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			if (key_is(p, kinds[k].key))
				break;
		}
		if (k == sizeof(kinds) / sizeof(kinds[0]))
			continue;
		r->used[i] = true;
		if (r->n_filters == MAX_FILTERS)
			return fail(r, 400, "at most %d filters", MAX_FILTERS);
		colon = memchr(p->value, ':', p->value_len);
		if (!colon)
			return fail(r, 400, "parameter '%s' takes DIMENSION:VALUE", kinds[k].key);
		f = &r->filters[r->n_filters];
		if (dim_of(r, kinds[k].key, p->value, (size_t)(colon - p->value), &f->dim) < 0)
			return -EINVAL;
		f->mode = kinds[k].mode;
		f->value = colon + 1;
		f->len = p->value_len - (size_t)(colon + 1 - p->value);
		if (kinds[k].hex) {
			char *v;

			if (f->len % 2)
				return fail(r, 400, "parameter '%s': an odd number of hex digits",
					    kinds[k].key);
			v = malloc(f->len / 2 + 1);
			if (!v)
				return fail(r, 500, "out of memory");
			for (size_t j = 0; j < f->len / 2; j++) {
				int hi = hex_digit(f->value[2 * j]), lo = hex_digit(f->value[2 * j + 1]);

				if (hi < 0 || lo < 0) {
					free(v);
					return fail(r, 400, "parameter '%s': not hex digits",
						    kinds[k].key);
				}
				v[j] = (char)(hi << 4 | lo);
			}
			r->filter_values[r->n_filters] = v;
			f->value = v;
			f->len /= 2;
		}
		r->n_filters++;
	}
	return 0;
}

/* dim, from, to and the filters */
static int parse_select(struct req *r, struct query_select *sel, bool need_dim)
{
	const struct dash_param *d = single(r, "dim");
	int64_t from, to;

	memset(sel, 0, sizeof(*sel));
	if (r->status != 200)
		return -EINVAL;
	if (!d && need_dim)
		return fail(r, 400, "parameter 'dim' is needed (GET /api/dims lists them)");
	if (d && dim_of(r, "parameter 'dim'", d->value, d->value_len, &sel->dim) < 0)
		return -EINVAL;
	/* Grouping by country or network owner looks up every address of the
	 * window, and the address files' pages that maps (up to 11 MB, given
	 * back after the request) would come on top of the heap the server
	 * keeps from the requests before it (up to 17 MB; dash.c's mallopt):
	 * a page of an executable, then a year by network owner, reached 31
	 * MB.  Such a request gives that heap back first; its own tables are
	 * few. */
	if (d && (sel->dim == QUERY_DIM_COUNTRY || sel->dim == QUERY_DIM_ASN))
		malloc_trim(0);
	if (int_param(r, "from", INT64_MIN, INT64_MAX, 0, &from) < 0 ||
	    int_param(r, "to", INT64_MIN, INT64_MAX, 0, &to) < 0)
		return -EINVAL;
	for (size_t i = 0; i < r->n; i++) {
		if (key_is(&r->p[i], "from"))
			sel->window.has_from = true, sel->window.from = from;
		if (key_is(&r->p[i], "to"))
			sel->window.has_to = true, sel->window.to = to;
	}
	if (parse_filters(r) < 0)
		return -EINVAL;
	sel->filters = r->filters;
	sel->n_filters = r->n_filters;
	return 0;
}

/* Every parameter must have been understood. */
static int check_unused(struct req *r)
{
	char buf[200];

	for (size_t i = 0; i < r->n; i++) {
		if (!r->used[i])
			return fail(r, 400, "unknown parameter '%s'",
				    printable(r->p[i].key, r->p[i].key_len, buf, sizeof(buf)));
	}
	return 0;
}

/* ---- JSON ---- */

static bool valid_utf8(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n;
		uint32_t cp;

		if (u[i] == 0)
			return false;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if (u[i] >= 0xc2 && u[i] <= 0xdf)
			n = 2, cp = u[i] & 0x1f;
		else if (u[i] >= 0xe0 && u[i] <= 0xef)
			n = 3, cp = u[i] & 0x0f;
		else if (u[i] >= 0xf0 && u[i] <= 0xf4)
			n = 4, cp = u[i] & 0x07;
		else
			return false;
		if (i + n > len)
			return false;
		for (size_t j = 1; j < n; j++) {
			if ((u[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (u[i + j] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* A value: {"text": ...} with the exact text when it is valid UTF-8
 * without NUL; otherwise the text with each bad byte as \xNN (and "\" as
 * "\\") plus "hex", the exact bytes, for filters (include_hex).  Numeric
 * dimensions add "num". */
static json_t *value_json_plain(enum query_dim dim, const struct query_value *v)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (valid_utf8(v->text, v->len)) {
		json_object_set_new(o, "text", json_stringn(v->text, v->len));
	} else {
		static const char hexd[] = "0123456789abcdef";
		char *t = malloc(4 * v->len + 1), *h = malloc(2 * v->len + 1);
		size_t k = 0;

		if (!t || !h) {
			free(t);
			free(h);
			json_decref(o);
			return NULL;
		}
		for (size_t i = 0; i < v->len; i++) {
			unsigned char c = (unsigned char)v->text[i];

			h[2 * i] = hexd[c >> 4];
			h[2 * i + 1] = hexd[c & 15];
			if (c >= 0x20 && c < 0x7f && c != '\\') {
				t[k++] = (char)c;
			} else if (c == '\\') {
				t[k++] = '\\';
				t[k++] = '\\';
			} else {
				/* keep valid multi-byte characters as they are */
				size_t n = 0;

				if (c >= 0xc2 && c <= 0xf4) {
					n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
					if (i + n > v->len || !valid_utf8(v->text + i, n))
						n = 0;
				}
				if (n) {
					memcpy(t + k, v->text + i, n);
					k += n;
					for (size_t j = 1; j < n; j++) {
						unsigned char cj = (unsigned char)v->text[i + j];

						h[2 * (i + j)] = hexd[cj >> 4];
						h[2 * (i + j) + 1] = hexd[cj & 15];
					}
					i += n - 1;
				} else if (c < 0x80 && c != 0) {
					t[k++] = (char)c;	/* a control: JSON escapes it */
				} else {
					t[k++] = '\\';
					t[k++] = 'x';
					t[k++] = hexd[c >> 4];
					t[k++] = hexd[c & 15];
				}
			}
		}
		h[2 * v->len] = '\0';
		json_object_set_new(o, "text", json_stringn(t, k));
		json_object_set_new(o, "hex", json_string(h));
		free(t);
		free(h);
	}
	if (query_dim_is_numeric(dim))
		json_object_set_new(o, "num", json_integer(v->num));
	if (dim == QUERY_DIM_USER && v->num >= 0 && v->num <= UINT32_MAX) {
		struct passwd pw, *res = NULL;
		char buf[1024];

		/* the name on this machine, as `view` shows it */
		if (!getpwuid_r((uid_t)v->num, &pw, buf, sizeof(buf), &res) && res &&
		    valid_utf8(res->pw_name, strlen(res->pw_name)))
			json_object_set_new(o, "user", json_string(res->pw_name));
	}
	return o;
}

static json_t *window_json(const struct query_window *w)
{
	return json_pack("{s:o,s:o}", "from", w->has_from ? json_integer(w->from) : json_null(), "to",
			 w->has_to ? json_integer(w->to) : json_null());
}

/* A value as value_json_plain, and for a remote address its "country"
 * ("US", "local", "unknown") and network "owner" ("AS15169 Google LLC"),
 * when GeoIP is on. */
static json_t *value_json(const struct dash_api *api, enum query_dim dim, const struct query_value *v)
{
	json_t *o = value_json_plain(dim, v);
	const char *c, *w;

	if (o && api->geo && dim == QUERY_DIM_REMOTE_ADDRESS && v->len &&
	    (c = geo_country(api->geo, v->text, v->len)) && *c &&
	    (w = geo_owner(api->geo, v->text, v->len))) {
		json_object_set_new(o, "country", json_string(c));
		json_object_set_new(o, "owner", json_string(w));
	}
	return o;
}

/* ---- the endpoints ---- */

int dash_api_db(struct dash_api *api, char *err, size_t errlen)
{
	/* The charts ask for about 300 buckets: a year's tens of thousands of
	 * keys then have more buckets than 16 MB holds, and the first scan
	 * filled it only to read the window again.  With 4 MB the busiest
	 * executable's series by remote address over a year took 290 ms
	 * rather than 316, and the dash's peak fell from 40 to 28 MB. */
	struct query_options opt = { .query_timeout_ms = QUERY_TIMEOUT_MS,
				     .series_key_bytes = 4 << 20 };
	int ret;

	if (api->db)
		return 0;
	if (api->geo) {
		opt.country_of = geo_country_hook;
		opt.country_ctx = api->geo;
		opt.asn_of = geo_owner_hook;
		opt.asn_ctx = api->geo;
	}
	err[0] = '\0';
	ret = query_open(api->db_path, &opt, &api->db, err, errlen);
	if (ret < 0) {
		api->db = NULL;
		if (!err[0])
			snprintf(err, errlen, "%s", strerror(-ret));
	}
	return ret;
}

void dash_api_db_failed(struct dash_api *api)
{
	query_close(api->db);
	api->db = NULL;
}

static int open_db(struct dash_api *api, struct req *r)
{
	char err[512];

	if (dash_api_db(api, err, sizeof(err)) < 0)
		return fail(r, 503, "%s", err);
	return 0;
}

/* A failed query: the request's fault (400) or the database's (503). */
static int query_failed(struct dash_api *api, struct req *r, int ret, const char *err)
{
	if (ret == -EINVAL || ret == -EOPNOTSUPP)
		return fail(r, 400, "%s", err);
	query_close(api->db);
	api->db = NULL;
	return fail(r, 503, "%s", err[0] ? err : strerror(-ret));
}

/* A row of a result: {"value", "sent", "received", "flows"} */
static json_t *row_json(const struct dash_api *api, enum query_dim dim, const struct query_row *row)
{
	return json_pack("{s:o,s:I,s:I,s:I}", "value", value_json(api, dim, &row->value), "sent",
			 (json_int_t)row->sent, "received", (json_int_t)row->received, "flows",
			 (json_int_t)row->flows);
}

/* The rows of a result: [row_json, ...] */
static json_t *rows_json(const struct dash_api *api, enum query_dim dim, const struct query_result *res)
{
	json_t *rows = json_array();

	for (size_t i = 0; rows && i < res->n_rows; i++) {
		json_t *o = row_json(api, dim, &res->rows[i]);

		/* out of memory: no answer rather than one with rows missing */
		if (!o || json_array_append_new(rows, o) < 0) {
			json_decref(rows);
			return NULL;
		}
	}
	return rows;
}

static int append_json(const char *buffer, size_t size, void *data)
{
	return strbuf_add(data, buffer, size);
}

/* The answer `head` (an object) with "rows" last, written row by row: the
 * tree of 5,000 rows took 7 MB, its text 1 MB.  The same bytes as
 * json_dumps of the whole with rows_json.  NULL when out of memory. */
static char *with_rows_text(const struct dash_api *api, json_t *head, enum query_dim dim,
			    const struct query_result *res)
{
	struct strbuf sb = STRBUF_INIT;
	int bad = json_dump_callback(head, append_json, &sb, JSON_COMPACT);

	/* "{...}" less its "}" */
	if (bad || sb.len < 2 || sb.buf[sb.len - 1] != '}')
		goto fail;
	sb.len--;
	if (strbuf_adds(&sb, sb.len > 1 ? ",\"rows\":[" : "\"rows\":[") < 0)
		goto fail;
	for (size_t i = 0; i < res->n_rows; i++) {
		json_t *o = row_json(api, dim, &res->rows[i]);

		bad = !o || (i && strbuf_addc(&sb, ',') < 0) ||
		      json_dump_callback(o, append_json, &sb, JSON_COMPACT);
		json_decref(o);
		if (bad)
			goto fail;
	}
	if (strbuf_adds(&sb, "]}") < 0)
		goto fail;
	return strbuf_detach(&sb);
fail:
	strbuf_release(&sb);
	return NULL;
}

#define EXE_LIST 100
#define EXE_TIMED_HASHES 20

/* The first and last entry time that sel keeps, -1 if none; false (r says
 * why) on an error. */
static bool span(struct dash_api *api, struct req *r, const struct query_select *sel,
		 int64_t *first, int64_t *last)
{
	char err[512] = "";
	int ret = query_span(api->db, sel, first, last, err, sizeof(err));

	if (ret == -ENODATA) {
		*first = *last = -1;
		return true;
	}
	if (ret < 0) {
		query_failed(api, r, ret, err);
		return false;
	}
	return true;
}

/* {"virustotal": {"text", "flagged", "link"}} on a hash that record.json
 * has a VirusTotal value for; the link is made here from the hash (hex),
 * never taken from the file. */
static void vt_annotate(struct dash_api *api, json_t *h, const char *sha)
{
	const json_t *value = record_vt_cache_get(&api->vt, sha, strlen(sha));
	char text[160], link[128];
	json_t *o;

	if (!value || !vt_is_sha256(sha))
		return;
	record_vt_text(value, text, sizeof(text));
	if (!text[0])
		return;
	o = json_pack("{s:s,s:b}", "text", text, "flagged", record_vt_flagged(value));
	if (o && json_is_object(value)) {
		snprintf(link, sizeof(link), "https://www.virustotal.com/gui/file/%.64s", sha);
		json_object_set_new(o, "link", json_string(link));
	}
	if (o)
		json_object_set_new(h, "virustotal", o);
}

/* One executable (by path): when it was first and last seen, its hashes
 * with the first time of each, and what it talked to.  Its entries are
 * read once for all the lists (query_totals_dims). */
static json_t *api_executable(struct dash_api *api, struct req *r)
{
	static const struct {
		const char *key;
		enum query_dim dim;
	} lists[] = {
		{ "names", QUERY_DIM_NAME },
		{ "commands", QUERY_DIM_CMDLINE },
		{ "parents", QUERY_DIM_PARENT_EXECUTABLE },
		{ "users", QUERY_DIM_USER },
		{ "remote_addresses", QUERY_DIM_REMOTE_ADDRESS },
		{ "domains", QUERY_DIM_DOMAIN },
		{ "remote_ports", QUERY_DIM_REMOTE_PORT },
		{ "local_ports", QUERY_DIM_LOCAL_PORT },
		{ "protocols", QUERY_DIM_PROTOCOL },
		{ "services", QUERY_DIM_SERVICE },
	};
	enum { N_LISTS = sizeof(lists) / sizeof(lists[0]), N_DIMS = N_LISTS + 2 };
	enum query_dim dims[N_DIMS] = { QUERY_DIM_EXECUTABLE, QUERY_DIM_SHA256 };
	struct query_result *res[N_DIMS] = { NULL };
	struct query_select sel;
	struct query_totals_req q = { 0 };
	char err[512] = "";
	json_t *o = NULL, *hashes = NULL, *list;
	int64_t first, last;
	int ret;

	if (parse_select(r, &sel, false) < 0 || check_unused(r) < 0)
		return NULL;
	if (sel.n_filters != 1 || sel.filters[0].dim != QUERY_DIM_EXECUTABLE ||
	    sel.filters[0].mode != QUERY_INCLUDE) {
		fail(r, 400, "name the executable with include=executable:PATH (or include_hex)");
		return NULL;
	}
	if (open_db(api, r) < 0)
		return NULL;
	/* its totals (grouped by executable, there is one group), its hashes
	 * and the lists */
	for (size_t i = 0; i < N_LISTS; i++)
		dims[2 + i] = lists[i].dim;
	q.sel = sel;
	q.sort = QUERY_SORT_TOTAL;
	q.limit = EXE_LIST;
	ret = query_totals_dims(api->db, &q, dims, N_DIMS, res, err, sizeof(err));
	if (ret < 0) {
		query_failed(api, r, ret, err);
		return NULL;
	}
	if (!res[0]->n_rows) {
		fail(r, 404, "no entries of this executable in the window");
		goto fail;
	}
	if (!span(api, r, &sel, &first, &last))
		goto fail;
	o = json_pack("{s:o,s:I,s:I,s:I,s:I,s:I}", "executable",
		      value_json(api, QUERY_DIM_EXECUTABLE, &res[0]->rows[0].value), "first",
		      (json_int_t)first, "last", (json_int_t)last, "sent", (json_int_t)res[0]->sent,
		      "received", (json_int_t)res[0]->received, "flows", (json_int_t)res[0]->flows);
	/* every hash, with the first and last time it was seen */
	hashes = rows_json(api, QUERY_DIM_SHA256, res[1]);
	if (!o || !hashes) {
		fail(r, 500, "out of memory");
		goto fail;
	}
	record_vt_cache_refresh(&api->vt);
	for (size_t i = 0; i < json_array_size(hashes); i++) {
		json_t *h = json_array_get(hashes, i), *v = json_object_get(h, "value");
		struct query_filter f[2] = { sel.filters[0] };
		struct query_select hs = sel;
		const char *text = json_string_value(json_object_get(v, "text"));

		/* what VirusTotal said of it, and whether it is what its
		 * package installed (record.json) */
		if (text && !json_object_get(v, "hex")) {
			char *exe = strndup(sel.filters[0].value, sel.filters[0].len);
			const char *pkg = exe ? record_vt_cache_package(&api->vt, exe, text,
									strlen(text))
					      : NULL;

			vt_annotate(api, h, text);
			if (pkg)
				json_object_set_new(h, "package", json_string(pkg));
			free(exe);
		}
		/* hashes are hex text (a sentinel that is not UTF-8 has no
		 * time); the first and last time of the busiest few only */
		if (json_object_get(v, "hex") || !text || i >= EXE_TIMED_HASHES)
			continue;
		f[1] = (struct query_filter){ .dim = QUERY_DIM_SHA256, .mode = QUERY_INCLUDE,
					      .value = text, .len = strlen(text) };
		hs.filters = f;
		hs.n_filters = 2;
		if (!span(api, r, &hs, &first, &last))
			goto fail;
		json_object_set_new(h, "first", json_integer(first));
		json_object_set_new(h, "last", json_integer(last));
	}
	json_object_set_new(o, "hashes", hashes);
	hashes = NULL;
	json_object_set_new(o, "hash_count", json_integer((json_int_t)res[1]->n_groups));
	for (size_t i = 0; i < N_LISTS; i++) {
		list = rows_json(api, lists[i].dim, res[2 + i]);
		if (!list) {
			fail(r, 500, "out of memory");
			goto fail;
		}
		json_object_set_new(o, lists[i].key,
				    json_pack("{s:I,s:o}", "groups", (json_int_t)res[2 + i]->n_groups,
					      "rows", list));
	}
	for (size_t i = 0; i < N_DIMS; i++)
		query_result_free(res[i]);
	return o;
fail:
	for (size_t i = 0; i < N_DIMS; i++)
		query_result_free(res[i]);
	json_decref(hashes);
	json_decref(o);
	return NULL;
}

static json_t *api_groups(struct dash_api *api, struct req *r)
{
	static const char *const sorts[] = { "total", "sent", "received", "value", NULL };
	static const char *const orders[] = { "desc", "asc", NULL };
	struct query_totals_req q = { 0 };
	struct query_result *res = NULL;
	char err[512] = "";
	int64_t limit, offset;
	int sort, order, ret;
	json_t *o;

	if (parse_select(r, &q.sel, true) < 0 || choice_param(r, "sort", sorts, 0, &sort) < 0 ||
	    choice_param(r, "order", orders, 0, &order) < 0 ||
	    int_param(r, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, &limit) < 0 ||
	    int_param(r, "offset", 0, INT32_MAX, 0, &offset) < 0 || check_unused(r) < 0 ||
	    open_db(api, r) < 0)
		return NULL;
	q.sort = (enum query_sort)sort;
	q.ascending = order == 1;
	q.limit = (size_t)limit;
	q.offset = (size_t)offset;
	ret = query_totals(api->db, &q, &res, err, sizeof(err));
	if (ret < 0) {
		query_failed(api, r, ret, err);
		return NULL;
	}
	o = json_pack("{s:s,s:o,s:I,s:I,s:I,s:I}", "dim", query_dim_name(q.sel.dim), "window",
		      window_json(&q.sel.window), "groups", (json_int_t)res->n_groups, "sent",
		      (json_int_t)res->sent, "received", (json_int_t)res->received, "flows",
		      (json_int_t)res->flows);
	if (o)
		r->body = with_rows_text(api, o, q.sel.dim, res);
	query_result_free(res);
	if (!r->body) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *api_series(struct dash_api *api, struct req *r)
{
	struct query_series_req q = { 0 };
	struct query_series *s = NULL;
	char err[512] = "";
	int64_t top, buckets, other, align;
	json_t *lines, *starts, *o;
	int ret;

	if (parse_select(r, &q.sel, true) < 0 ||
	    int_param(r, "top", 1, MAX_TOP, DEFAULT_TOP, &top) < 0 ||
	    int_param(r, "buckets", 1, MAX_BUCKETS, DEFAULT_BUCKETS, &buckets) < 0 ||
	    int_param(r, "other", 0, 1, 1, &other) < 0 || int_param(r, "align", 0, 1, 0, &align) < 0 ||
	    check_unused(r) < 0 || open_db(api, r) < 0)
		return NULL;
	q.align = align;
	q.top = (size_t)top;
	q.buckets = (size_t)buckets;
	q.other = other;
	ret = query_series(api->db, &q, &s, err, sizeof(err));
	if (ret == -ENODATA) {
		/* no entries at all: an empty series, not an error */
		return json_pack("{s:s,s:n,s:n,s:[],s:[]}", "dim", query_dim_name(q.sel.dim), "from",
				 "to", "bucket_starts", "lines");
	}
	if (ret < 0) {
		query_failed(api, r, ret, err);
		return NULL;
	}
	starts = json_array();
	for (size_t i = 0; starts && i <= s->n_buckets; i++)
		json_array_append_new(starts, json_integer(query_series_bucket_start(s, i)));
	lines = json_array();
	for (size_t i = 0; lines && i < s->n_lines; i++) {
		const struct query_line *l = &s->lines[i];
		json_t *ps = json_array(), *pr = json_array();

		for (size_t b = 0; ps && pr && b < s->n_buckets; b++) {
			json_array_append_new(ps, json_integer(l->points[b].sent));
			json_array_append_new(pr, json_integer(l->points[b].received));
		}
		json_array_append_new(lines, json_pack("{s:o,s:b,s:I,s:I,s:o,s:o}", "value",
						       l->other ? json_null()
								: value_json(api, s->dim, &l->value),
						       "other", l->other, "sent", (json_int_t)l->sent,
						       "received", (json_int_t)l->received, "sent_points",
						       ps, "received_points", pr));
	}
	o = json_pack("{s:s,s:I,s:I,s:o,s:o}", "dim", query_dim_name(s->dim), "from",
		      (json_int_t)s->from, "to", (json_int_t)s->to, "bucket_starts", starts, "lines",
		      lines);
	query_series_free(s);
	return o;
}

static json_t *api_distinct(struct dash_api *api, struct req *r)
{
	struct query_distinct_req q = { 0 };
	struct query_result *res = NULL;
	char err[512] = "";
	int64_t limit, offset;
	json_t *values, *o;
	int ret;

	if (parse_select(r, &q.sel, true) < 0 ||
	    int_param(r, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, &limit) < 0 ||
	    int_param(r, "offset", 0, INT32_MAX, 0, &offset) < 0 || check_unused(r) < 0 ||
	    open_db(api, r) < 0)
		return NULL;
	q.limit = (size_t)limit;
	q.offset = (size_t)offset;
	ret = query_distinct(api->db, &q, &res, err, sizeof(err));
	if (ret < 0) {
		query_failed(api, r, ret, err);
		return NULL;
	}
	values = json_array();
	for (size_t i = 0; values && i < res->n_rows; i++)
		json_array_append_new(values, value_json(api, q.sel.dim, &res->rows[i].value));
	o = json_pack("{s:s,s:I,s:o}", "dim", query_dim_name(q.sel.dim), "groups",
		      (json_int_t)res->n_groups, "values", values);
	query_result_free(res);
	return o;
}

static json_t *api_status(struct dash_api *api, struct req *r)
{
	pid_t pid = api->monitor_pid ? api->monitor_pid() : 0;
	int64_t first = 0, last = 0;
	char err[512] = "";
	json_t *o;
	int ret;

	if (check_unused(r) < 0)
		return NULL;
	o = json_pack("{s:s,s:o}", "version", PICOSNITCH_VERSION, "monitor_pid",
		      pid > 0 ? json_integer(pid) : json_null());
	if (open_db(api, r) < 0) {
		/* the status still answers: with why there is no data */
		r->status = 200;
		json_object_set_new(o, "database", json_string(r->error));
		return o;
	}
	/* where countries and network owners come from, for the credits */
	if (api->geo)
		json_object_set_new(o, "geo", json_pack("{s:s,s:s}", "countries",
							geo_country_source(api->geo), "owners",
							geo_owner_source(api->geo)));
	if (api->fleet_status) {
		json_t *f = api->fleet_status(api->fleet);

		json_object_set_new(o, "fleet", f ? f : json_null());
	}
	json_object_set_new(o, "database", json_string("ok"));
	json_object_set_new(o, "schema", json_integer(query_schema_version(api->db)));
	ret = query_bounds(api->db, &first, &last, err, sizeof(err));
	json_object_set_new(o, "first", ret < 0 ? json_null() : json_integer(first));
	json_object_set_new(o, "last", ret < 0 ? json_null() : json_integer(last));
	if (ret < 0 && ret != -ENODATA)
		query_failed(api, r, ret, err);
	return o;
}

static json_t *api_dims(const struct dash_api *api, struct req *r)
{
	json_t *a;

	if (check_unused(r) < 0)
		return NULL;
	a = json_array();
	for (int d = 0; a && d < QUERY_DIM__COUNT; d++)
		json_array_append_new(a, json_pack("{s:s,s:b,s:b}", "name", query_dim_name(d), "numeric",
						   query_dim_is_numeric(d), "available",
						   d == QUERY_DIM_HOST ? api->fleet_status != NULL
							   : (d != QUERY_DIM_COUNTRY && d != QUERY_DIM_ASN) ||
							   api->geo != NULL));
	return a;
}

int dash_api_get(struct dash_api *api, const char *path, const struct dash_param *params,
		 size_t n_params, int *status, char **body)
{
	struct req *r = calloc(1, sizeof(*r));
	json_t *o = NULL;

	*body = NULL;
	if (!r)
		return -ENOMEM;
	r->p = params;
	r->n = n_params;
	r->status = 200;
	for (size_t i = 0; i < n_params; i++) {
		if (params[i].key_len > 64 || params[i].value_len > DASH_API_MAX_VALUE) {
			fail(r, 400, "a parameter longer than %d bytes", DASH_API_MAX_VALUE);
			goto out;
		}
	}
	if (n_params > DASH_API_MAX_PARAMS) {
		fail(r, 400, "more than %d parameters", DASH_API_MAX_PARAMS);
		goto out;
	}
	if (!strcmp(path, "/api/groups"))
		o = api_groups(api, r);
	else if (!strcmp(path, "/api/series"))
		o = api_series(api, r);
	else if (!strcmp(path, "/api/distinct"))
		o = api_distinct(api, r);
	else if (!strcmp(path, "/api/status"))
		o = api_status(api, r);
	else if (!strcmp(path, "/api/executable"))
		o = api_executable(api, r);
	else if (!strcmp(path, "/api/dims"))
		o = api_dims(api, r);
	else
		fail(r, 404, "no such API endpoint (see docs/api.md)");
out:
	if (r->status != 200) {
		json_decref(o);
		o = json_pack("{s:s}", "error", r->error);
	} else if (!o) {
		fail(r, 500, "out of memory");
		o = json_pack("{s:s}", "error", r->error);
	}
	*status = r->status;
	if (r->status == 200 && r->body) {
		*body = r->body;
		r->body = NULL;
	} else {
		*body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	}
	free(r->body);
	json_decref(o);
	for (size_t i = 0; i < r->n_filters; i++)
		free(r->filter_values[i]);
	free(r);
	return *body ? 0 : -ENOMEM;
}

void dash_api_done(struct dash_api *api)
{
	query_close(api->db);
	api->db = NULL;
	record_vt_cache_done(&api->vt);
}
