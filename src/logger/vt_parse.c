/* VirusTotal's answers and the persisted queue, parsed (vt_parse.h). */
#include "logger/vt_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* At most this deep: VirusTotal's answers are a few levels; jansson's own
 * limit (2048) would still let a hostile answer cost a deep recursion. */
#define VT_DEPTH_MAX 64

static bool too_deep(const char *body, size_t len)
{
	int depth = 0;
	bool in_string = false, escaped = false;

	for (size_t i = 0; i < len; i++) {
		char c = body[i];

		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if ((c == '{' || c == '[') && ++depth > VT_DEPTH_MAX)
			return true;
		else if (c == '}' || c == ']')
			depth--;
	}
	return false;
}

static json_t *load(const char *body, size_t len)
{
	json_error_t je;

	if (!body || len == 0 || len > VT_BODY_MAX || too_deep(body, len))
		return NULL;
	return json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
}

/* obj.a.b... with each step an object; NULL when any is missing. */
static json_t *path2(json_t *root, const char *a, const char *b)
{
	json_t *v = json_is_object(root) ? json_object_get(root, a) : NULL;

	return json_is_object(v) ? json_object_get(v, b) : NULL;
}

static int count_of(json_t *stats, const char *key, int64_t *ret)
{
	json_t *v = json_object_get(stats, key);

	if (!v) {
		*ret = 0;	/* engines of that kind: none */
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > VT_COUNT_MAX)
		return -EBADMSG;
	*ret = json_integer_value(v);
	return 0;
}

static int verdict_of(json_t *stats, json_t *date, struct vt_verdict *ret)
{
	struct vt_verdict v = { 0 };

	if (!json_is_object(stats))
		return -EBADMSG;
	if (count_of(stats, "malicious", &v.malicious) < 0 ||
	    count_of(stats, "suspicious", &v.suspicious) < 0 ||
	    count_of(stats, "harmless", &v.harmless) < 0 ||
	    count_of(stats, "undetected", &v.undetected) < 0)
		return -EBADMSG;
	if (date) {
		/* seconds since 1970, before the year 10000 */
		if (!json_is_integer(date) || json_integer_value(date) < 0 ||
		    json_integer_value(date) > 253402300799LL)
			return -EBADMSG;
		v.date = json_integer_value(date);
	}
	*ret = v;
	return 0;
}

int vt_parse_file(const char *body, size_t len, struct vt_verdict *ret)
{
	json_t *root = load(body, len), *attrs;
	int r = -EBADMSG;

	attrs = path2(root, "data", "attributes");
	if (json_is_object(attrs)) {
		json_t *stats = json_object_get(attrs, "last_analysis_stats");
		json_t *date = json_object_get(attrs, "last_analysis_date");

		if (!stats && !date) {
			r = -ENODATA;
		} else {
			r = verdict_of(stats, date, ret);
			if (r == 0 && !date && !ret->malicious && !ret->suspicious &&
			    !ret->harmless && !ret->undetected)
				r = -ENODATA;
		}
	}
	json_decref(root);
	return r;
}

static bool id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("+/=_:-", c);
}

int vt_parse_upload(const char *body, size_t len, char id[VT_ID_MAX])
{
	json_t *root = load(body, len), *v;
	int r = -EBADMSG;

	v = path2(root, "data", "id");
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);

		if (n > 0 && n < VT_ID_MAX && strlen(s) == n) {
			r = 0;
			for (size_t i = 0; i < n && r == 0; i++)
				if (!id_char(s[i]))
					r = -EBADMSG;
			if (r == 0)
				memcpy(id, s, n + 1);
		}
	}
	json_decref(root);
	return r;
}

int vt_parse_upload_url(const char *body, size_t len, const char *allowed_prefix,
			char url[VT_URL_MAX])
{
	json_t *root = load(body, len), *v;
	int r = -EBADMSG;

	v = json_is_object(root) ? json_object_get(root, "data") : NULL;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		bool prefix_ok = !strncmp(s, "https://", 8) && n > 8;

		if (allowed_prefix && *allowed_prefix && !strncmp(s, allowed_prefix,
								  strlen(allowed_prefix)))
			prefix_ok = true;
		if (prefix_ok && n < VT_URL_MAX && strlen(s) == n) {
			r = 0;
			for (size_t i = 0; i < n && r == 0; i++)
				if (s[i] <= ' ' || s[i] >= 0x7f)
					r = -EBADMSG;
			if (r == 0)
				memcpy(url, s, n + 1);
		}
	}
	json_decref(root);
	return r;
}

int vt_parse_analysis(const char *body, size_t len, bool *completed, struct vt_verdict *ret)
{
	json_t *root = load(body, len), *attrs, *status;
	int r = -EBADMSG;

	attrs = path2(root, "data", "attributes");
	status = json_is_object(attrs) ? json_object_get(attrs, "status") : NULL;
	if (json_is_string(status)) {
		if (!strcmp(json_string_value(status), "completed")) {
			r = verdict_of(json_object_get(attrs, "stats"), json_object_get(attrs, "date"),
				       ret);
			*completed = r == 0;
		} else {
			/* "queued", "in-progress", or something new: not yet */
			*completed = false;
			r = 0;
		}
	}
	json_decref(root);
	return r;
}

void vt_parse_error(const char *body, size_t len, char code[VT_CODE_MAX])
{
	json_t *root = load(body, len), *v;

	code[0] = '\0';
	v = path2(root, "error", "code");
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = 0;

		for (; s[n] && n < VT_CODE_MAX - 1; n++) {
			char c = s[n];

			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
				break;
		}
		memcpy(code, s, n);
		code[n] = '\0';
	}
	json_decref(root);
}

bool vt_is_sha256(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

/* ---- vt-queue.json ---- */

static const char *const stage_names[] = {
	[VT_STAGE_LOOKUP] = "lookup",
	[VT_STAGE_UPLOAD] = "upload",
	[VT_STAGE_POLL] = "poll",
};

void vt_job_clear(struct vt_job *j)
{
	free(j->exe);
	free(j->analysis);
	j->exe = j->analysis = NULL;
}

static bool safe_text(const char *s, size_t n)
{
	/* what the logger writes: safe text, no control characters */
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int job_from(json_t *o, struct vt_job *j)
{
	json_t *sha = json_object_get(o, "sha256"), *exe = json_object_get(o, "exe");
	json_t *stage = json_object_get(o, "stage"), *ino = json_object_get(o, "ino");
	json_t *dev = json_object_get(o, "dev"), *an = json_object_get(o, "analysis");
	json_t *polls = json_object_get(o, "polls");
	int s = -1;

	memset(j, 0, sizeof(*j));
	if (!json_is_string(sha) || json_string_length(sha) != 64 ||
	    !vt_is_sha256(json_string_value(sha)) || !json_is_string(exe) ||
	    json_string_length(exe) >= VT_PATH_MAX ||
	    !safe_text(json_string_value(exe), json_string_length(exe)) || !json_is_string(stage))
		return -EBADMSG;
	for (size_t i = 0; i < sizeof(stage_names) / sizeof(stage_names[0]); i++)
		if (!strcmp(json_string_value(stage), stage_names[i]))
			s = (int)i;
	if (s < 0)
		return -EBADMSG;
	if ((ino && (!json_is_integer(ino) || json_integer_value(ino) < 0)) ||
	    (dev && (!json_is_integer(dev) || json_integer_value(dev) < 0 ||
		     json_integer_value(dev) > UINT32_MAX)) ||
	    (polls && (!json_is_integer(polls) || json_integer_value(polls) < 0 ||
		       json_integer_value(polls) > 1000000)))
		return -EBADMSG;
	if (s == VT_STAGE_POLL) {
		const char *id;
		size_t n;

		if (!json_is_string(an))
			return -EBADMSG;
		id = json_string_value(an);
		n = json_string_length(an);
		if (n == 0 || n >= VT_ID_MAX || strlen(id) != n)
			return -EBADMSG;
		for (size_t i = 0; i < n; i++)
			if (!id_char(id[i]))
				return -EBADMSG;
		j->analysis = strdup(id);
		if (!j->analysis)
			return -ENOMEM;
	}
	j->exe = strdup(json_string_value(exe));
	if (!j->exe) {
		vt_job_clear(j);
		return -ENOMEM;
	}
	memcpy(j->sha256, json_string_value(sha), 65);
	j->stage = (enum vt_stage)s;
	j->ino = ino ? (uint64_t)json_integer_value(ino) : 0;
	j->dev = dev ? (uint32_t)json_integer_value(dev) : 0;
	j->polls = polls ? (uint32_t)json_integer_value(polls) : 0;
	return 0;
}

int vt_queue_parse(const char *text, size_t len, size_t max, struct vt_job **jobs, size_t *n,
		   size_t *skipped)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *list, *o;
	struct vt_job *out = NULL;
	size_t i, got = 0;
	int r = 0;

	*jobs = NULL;
	*n = 0;
	*skipped = 0;
	list = json_is_object(root) ? json_object_get(root, "queue") : NULL;
	if (!json_is_array(list)) {
		json_decref(root);
		return -EBADMSG;
	}
	if (json_array_size(list)) {
		size_t want = json_array_size(list) < max ? json_array_size(list) : max;

		out = calloc(want ? want : 1, sizeof(*out));
		if (!out) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	json_array_foreach(list, i, o) {
		if (got == max || !json_is_object(o)) {
			(*skipped)++;
			continue;
		}
		r = job_from(o, &out[got]);
		if (r == -ENOMEM)
			break;
		if (r < 0) {
			(*skipped)++;
			r = 0;
			continue;
		}
		got++;
	}
	json_decref(root);
	if (r < 0) {
		for (i = 0; i < got; i++)
			vt_job_clear(&out[i]);
		free(out);
		return r;
	}
	*jobs = out;
	*n = got;
	return 0;
}

char *vt_queue_dump(const struct vt_job *jobs, size_t n)
{
	json_t *root = json_object(), *list = json_array();
	char *text = NULL;

	if (!root || !list || json_object_set(root, "queue", list) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct vt_job *j = &jobs[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "sha256", j->sha256, "exe",
				      j->exe ? j->exe : "", "stage", stage_names[j->stage], "ino",
				      (json_int_t)j->ino, "dev", (json_int_t)j->dev, "polls",
				      (json_int_t)j->polls);

		if (o && j->stage == VT_STAGE_POLL && j->analysis)
			json_object_set_new(o, "analysis", json_string(j->analysis));
		if (!o || json_array_append_new(list, o) < 0)
			goto out;
	}
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
out:
	json_decref(list);
	json_decref(root);
	return text;
}
