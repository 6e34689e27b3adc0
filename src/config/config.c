/* Parsing and validation of config.json (jansson). */
#include "config/config.h"
#include "pipeline/ignore.h"
#include "storage/sqlserver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum key_type { T_BOOL, T_INT, T_STR, T_LIST, T_DICT, T_INT_OR_NULL };

struct key_spec {
	const char *name;
	enum key_type type;
	const char *default_json;
	int64_t min, max;	/* integers only */
	bool power_of_two;
};

#define NOLIMIT INT64_MIN, INT64_MAX

static const struct key_spec keys[] = {
	{ "DB retention (days)", T_INT, "30", 0, 1000000, false },
	{ "DB sql log", T_BOOL, "true", NOLIMIT, false },
	{ "DB sql server", T_DICT, "{}", NOLIMIT, false },
	{ "DB text log", T_BOOL, "false", NOLIMIT, false },
	{ "DB write limit (seconds)", T_INT, "10", 1, 86400, false },
	{ "Dash scroll zoom", T_BOOL, "true", NOLIMIT, false },
	{ "Dash theme", T_STR, "\"\"", NOLIMIT, false },
	{ "Desktop notifications", T_BOOL, "true", NOLIMIT, false },
	{ "Every exe (not just conns)", T_BOOL, "false", NOLIMIT, false },
	{ "GeoIP database", T_STR, "\"\"", NOLIMIT, false },
	{ "GeoIP lookup", T_BOOL, "true", NOLIMIT, false },
	{ "GeoIP update URL", T_STR, "\"https://download.db-ip.com/free/\"", NOLIMIT, false },
	{ "Log addresses", T_BOOL, "true", NOLIMIT, false },
	{ "Log commands", T_BOOL, "true", NOLIMIT, false },
	{ "Log ignore", T_LIST, "[]", NOLIMIT, false },
	{ "Log ports", T_BOOL, "true", NOLIMIT, false },
	{ "Metrics top executables", T_INT, "20", 1, 1000, false },
	{ "Pending entries (max)", T_INT, "200000", 100, 100000000, false },
	{ "Pending memory (MiB)", T_INT, "128", 1, 65536, false },
	{ "Perf ring buffer (pages)", T_INT, "256", 1, 262144, true },
	{ "Set RLIMIT_NOFILE", T_INT_OR_NULL, "null", 16, 1 << 30, false },
	{ "Set st_dev mask", T_INT_OR_NULL, "null", 0, 0xffffffffLL, false },
	{ "VT API key", T_STR, "\"\"", NOLIMIT, false },
	{ "VT file upload", T_BOOL, "false", NOLIMIT, false },
	{ "VT request limit (seconds)", T_INT, "15", 0, 86400, false },
};

static const char *type_name(enum key_type t)
{
	switch (t) {
	case T_BOOL:
		return "true or false";
	case T_INT:
		return "an integer";
	case T_STR:
		return "a string";
	case T_LIST:
		return "a list";
	case T_DICT:
		return "an object";
	case T_INT_OR_NULL:
		return "an integer or null";
	}
	return "?";
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static bool type_ok(const struct key_spec *k, const json_t *v)
{
	switch (k->type) {
	case T_BOOL:
		return json_is_boolean(v);
	case T_INT:
		return json_is_integer(v);
	case T_STR:
		return json_is_string(v);
	case T_LIST:
		return json_is_array(v);
	case T_DICT:
		return json_is_object(v);
	case T_INT_OR_NULL:
		return json_is_integer(v) || json_is_null(v);
	}
	return false;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The value as short JSON text, for messages. */
static void short_json(const json_t *v, char *buf, size_t size)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	snprintf(buf, size, "%.60s%s", s ? s : "?", s && strlen(s) > 60 ? "..." : "");
	free(s);
}

static int check_log_ignore(const json_t *list, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) {
		if (json_is_string(v)) {
			/* what kind of rule it is: the same parser as the log uses */
			json_t *one = json_array();
			struct ignore_rules *r = NULL;
			int e;

			if (!one)
				return -ENOMEM;
			json_array_append(one, v);
			e = ignore_rules_new(one, &r, err, errlen);
			json_decref(one);
			ignore_rules_free(r);
			if (e < 0) {
				/* the message names item 1 of the one-item list */
				char *at = strstr(err, "item 1,");

				if (at) {
					char rest[CONFIG_ERR_LEN];

					snprintf(rest, sizeof(rest), "%s", at + strlen("item 1,"));
					snprintf(at, errlen - (size_t)(at - err), "item %zu,%s", i + 1,
						 rest);
				}
				return e;
			}
			continue;
		}
		if (json_is_integer(v)) {
			json_int_t port = json_integer_value(v);

			if (port < 0 || port > 65535)
				return fail(err, errlen,
					    "config.json: \"Log ignore\" item %zu: port %lld is outside 0-65535",
					    i + 1, (long long)port);
			continue;
		}
		char shown[80];

		short_json(v, shown, sizeof(shown));
		return fail(err, errlen,
			    "config.json: \"Log ignore\" item %zu must be a string (hash, domain or "
			    "subnet) or an integer (port), found %s %s",
			    i + 1, json_kind(v), shown);
	}
	return 0;
}

static int fill(struct config *c, char *err, size_t errlen)
{
	json_t *root = c->root;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key_spec *k = &keys[i];
		json_t *v = json_object_get(root, k->name);

		if (!v) {
			json_error_t je;

			v = json_loads(k->default_json, JSON_DECODE_ANY, &je);
			if (!v || json_object_set_new(root, k->name, v) < 0)
				return -ENOMEM;
			c->changed = true;
		}
		if (!type_ok(k, v)) {
			char shown[80];

			short_json(v, shown, sizeof(shown));
			return fail(err, errlen, "config.json: \"%s\" must be %s, found %s %s",
				    k->name, type_name(k->type), json_kind(v), shown);
		}
		if (json_is_integer(v)) {
			json_int_t n = json_integer_value(v);

			if (n < k->min || n > k->max)
				return fail(err, errlen,
					    "config.json: \"%s\" is %lld, it must be between %lld and %lld",
					    k->name, (long long)n, (long long)k->min,
					    (long long)k->max);
			if (k->power_of_two && (n & (n - 1)))
				return fail(err, errlen,
					    "config.json: \"%s\" is %lld, it must be a power of two",
					    k->name, (long long)n);
		}
	}

#define B(name) json_is_true(json_object_get(root, name))
#define I(name) ((int64_t)json_integer_value(json_object_get(root, name)))
#define S(name) json_string_value(json_object_get(root, name))
	c->db_retention_days = I("DB retention (days)");
	c->db_sql_log = B("DB sql log");
	c->db_sql_server = json_object_get(root, "DB sql server");
	c->db_text_log = B("DB text log");
	c->db_write_limit = I("DB write limit (seconds)");
	c->dash_scroll_zoom = B("Dash scroll zoom");
	c->dash_theme = S("Dash theme");
	c->desktop_notifications = B("Desktop notifications");
	c->every_exe = B("Every exe (not just conns)");
	c->geoip_database = S("GeoIP database");
	c->geoip_lookup = B("GeoIP lookup");
	c->geoip_update_url = S("GeoIP update URL");
	c->log_addresses = B("Log addresses");
	c->log_commands = B("Log commands");
	c->log_ignore = json_object_get(root, "Log ignore");
	c->log_ports = B("Log ports");
	c->metrics_top = I("Metrics top executables");
	c->pending_entries_max = I("Pending entries (max)");
	c->pending_memory_mib = I("Pending memory (MiB)");
	c->ring_buffer_pages = I("Perf ring buffer (pages)");
	c->has_rlimit_nofile = json_is_integer(json_object_get(root, "Set RLIMIT_NOFILE"));
	c->rlimit_nofile = c->has_rlimit_nofile ? I("Set RLIMIT_NOFILE") : 0;
	c->has_st_dev_mask = json_is_integer(json_object_get(root, "Set st_dev mask"));
	c->st_dev_mask = c->has_st_dev_mask ? I("Set st_dev mask") : 0xffffffffLL;
	c->vt_api_key = S("VT API key");
	c->vt_file_upload = B("VT file upload");
	c->vt_request_limit = I("VT request limit (seconds)");
#undef B
#undef I
#undef S
	{
		struct sqlsrv_cfg sc;
		int r = sqlsrv_cfg_parse(c->db_sql_server, &sc, err, errlen);

		if (r < 0 && r != -ENOENT)
			return r;
		if (r == 0)
			sqlsrv_cfg_free(&sc);
	}
	return check_log_ignore(c->log_ignore, err, errlen);
}

int config_parse(const char *text, size_t len, struct config *ret, char *err, size_t errlen)
{
	struct config c = { 0 };
	json_error_t je;
	int r;

	c.root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!c.root)
		return fail(err, errlen, "config.json line %d column %d: %s", je.line, je.column,
			    je.text);
	if (!json_is_object(c.root)) {
		r = fail(err, errlen, "config.json must hold a JSON object, found %s",
			 json_kind(c.root));
		json_decref(c.root);
		return r;
	}
	r = fill(&c, err, errlen);
	if (r < 0) {
		json_decref(c.root);
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		return r;
	}
	*ret = c;
	return 0;
}

int config_default(struct config *ret)
{
	char err[CONFIG_ERR_LEN];
	int r = config_parse("{}", 2, ret, err, sizeof(err));

	if (r == 0)
		ret->changed = true;
	return r;
}

char *config_dump(const struct config *cfg)
{
	char *s = json_dumps(cfg->root, JSON_INDENT(2) | JSON_SORT_KEYS);
	size_t n;
	char *out;

	if (!s)
		return NULL;
	n = strlen(s);
	out = realloc(s, n + 2);
	if (!out) {
		free(s);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	return out;
}

void config_done(struct config *cfg)
{
	json_decref(cfg->root);
	cfg->root = NULL;
}
