/* record.json, kept as a JSON document in memory (jansson). */
#include "logger/record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include <jansson.h>
#include <uthash.h>

#include "util/fsutil.h"

#define RECORD_FILE "record.json"

static const char *const exe_keys[] = {
	[REC_PROCESS] = "Executables",
	[REC_PARENT] = "Parent Executables",
	[REC_GRANDPARENT] = "Grandparent Executables",
};
static const char *const name_keys[] = {
	[REC_PROCESS] = "Names",
	[REC_PARENT] = "Parent Names",
	[REC_GRANDPARENT] = "Grandparent Names",
};

/* Bounds, so that record.json stays well under what is read back
 * (RECORD_READ_MAX): what would pass one is not recorded, and counted. */
#define RECORD_READ_MAX (64 << 20)
#define RECORD_KEYS_MAX 50000	/* executables (or names) per section */
#define RECORD_LIST_MAX 100	/* names per executable, executables per name, hashes per file */

struct record {
	json_t *root;
	int dirfd;
	bool dirty;
	bool frozen;	/* the file could not be read nor moved: never overwrite it */
	uint64_t refused;
};

/* The object under key in root, created when missing. */
static json_t *section(json_t *root, const char *key)
{
	json_t *o = json_object_get(root, key);

	if (!o) {
		if (json_object_set_new(root, key, json_object()) < 0)
			return NULL;
		o = json_object_get(root, key);
	}
	return o;
}

/* A record is an object of objects; lists hold strings. */
static bool valid(json_t *root, char *why, size_t len)
{
	const char *key;
	json_t *v;

	if (!json_is_object(root)) {
		snprintf(why, len, "it is not a JSON object");
		return false;
	}
	json_object_foreach(root, key, v) {
		const char *k2;
		json_t *v2;

		if (!json_is_object(v)) {
			snprintf(why, len, "\"%s\" is not an object", key);
			return false;
		}
		json_object_foreach(v, k2, v2) {
			bool objects = !strcmp(key, "SHA256") || !strcmp(key, "Package");

			if (objects ? !json_is_object(v2) : !json_is_array(v2)) {
				snprintf(why, len, "\"%s\" has a malformed entry \"%.60s\"", key, k2);
				return false;
			}
		}
	}
	return true;
}

/* The root object of a record file's text, or NULL with the reason. */
static json_t *parse_text(const char *text, size_t len, char *why, size_t whylen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

	if (!root) {
		snprintf(why, whylen, "line %d column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!valid(root, why, whylen)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static void add_sections(json_t *root)
{
	for (int i = REC_PROCESS; i <= REC_GRANDPARENT; i++) {
		section(root, exe_keys[i]);
		section(root, name_keys[i]);
	}
	section(root, "SHA256");
}

int record_parse(const char *text, size_t len, struct record **ret, char *why, size_t whylen)
{
	struct record *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->dirfd = -1;
	r->frozen = true;	/* not from a file: never written */
	r->root = parse_text(text, len, why, whylen);
	if (!r->root) {
		free(r);
		return -EINVAL;
	}
	add_sections(r->root);
	*ret = r;
	return 0;
}

int record_load(int dirfd, struct record **ret, char *err, size_t errlen)
{
	struct record *r = calloc(1, sizeof(*r));
	char *text = NULL, why[256];
	size_t len;
	int e;

	err[0] = '\0';		/* every return leaves a message or none */
	if (!r)
		return -ENOMEM;
	r->dirfd = dirfd;
	e = read_below(dirfd, RECORD_FILE, RECORD_READ_MAX, &text, &len);
	if (e == 0) {
		r->root = parse_text(text, len, why, sizeof(why));
		free(text);
	} else if (e == -ELOOP) {
		snprintf(why, sizeof(why), "it is a symbolic link, which is never followed");
	} else if (e == -EINVAL) {
		snprintf(why, sizeof(why), "it is not a regular file");
	} else if (e != -ENOENT) {
		snprintf(why, sizeof(why), "%s", strerror(-e));
	}
	if (!r->root && e != -ENOENT) {
		/* never silently reset what was recorded: move it aside */
		char aside[64];

		snprintf(aside, sizeof(aside), "%s.corrupt-%lld", RECORD_FILE, (long long)time(NULL));
		if (renameat(dirfd, RECORD_FILE, dirfd, aside) == 0) {
			snprintf(err, errlen,
				 "record.json could not be read (%s): kept as %s, starting a new record",
				 why, aside);
		} else {
			snprintf(err, errlen,
				 "record.json could not be read (%s) nor moved aside (%s): it is left "
				 "as it is and not updated until picosnitch restarts",
				 why, strerror(errno));
			r->frozen = true;
		}
	}
	if (!r->root) {
		r->root = json_object();
		if (!r->root) {
			free(r);
			return -ENOMEM;
		}
		r->dirty = true;
	}
	add_sections(r->root);
	*ret = r;
	return 0;
}

void record_free(struct record *r)
{
	if (!r)
		return;
	json_decref(r->root);
	free(r);
}

/* Add s to the list at obj[key]; true if it was not there.  Keys and
 * values are safe text (valid UTF-8); should jansson still refuse one, or
 * a bound be reached, nothing is added and it is counted. */
static bool list_add(struct record *r, json_t *obj, const char *key, const char *s)
{
	json_t *list = json_object_get(obj, key), *v;
	size_t i;

	if (!list) {
		if (json_object_size(obj) >= RECORD_KEYS_MAX) {
			r->refused++;
			return false;
		}
		list = json_array();
		/* json_object_set_new takes (and on failure frees) the list:
		 * it is looked up again, never used after a failure */
		if (!list || json_object_set_new(obj, key, list) < 0) {
			r->refused++;
			return false;
		}
		list = json_object_get(obj, key);
		if (!list)
			return false;
	}
	json_array_foreach(list, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return false;
	}
	if (json_array_size(list) >= RECORD_LIST_MAX) {
		r->refused++;
		return false;
	}
	v = json_string(s);
	if (!v || json_array_append_new(list, v) < 0) {
		r->refused++;
		return false;
	}
	return true;
}

unsigned record_see(struct record *r, enum record_role role, const char *exe, const char *name)
{
	json_t *exes = section(r->root, exe_keys[role]);
	unsigned what = 0;

	if (!exes)
		return 0;
	if (!json_object_get(exes, exe))
		what |= REC_NEW_EXE;
	if (list_add(r, exes, exe, name))
		what |= REC_NEW_NAME;
	else if (!json_object_get(exes, exe))
		what = 0;	/* refused: say nothing rather than repeat it forever */
	list_add(r, section(r->root, name_keys[role]), name, exe);
	if (what)
		r->dirty = true;
	return what;
}

int record_see_hash(struct record *r, const char *exe, const char *sha256)
{
	json_t *shas = section(r->root, "SHA256");
	json_t *known, *v;
	int what;

	if (!shas)
		return 0;
	known = json_object_get(shas, exe);
	if (!known) {
		if (json_object_size(shas) >= RECORD_KEYS_MAX) {
			r->refused++;
			return 0;
		}
		known = json_object();
		if (!known || json_object_set_new(shas, exe, known) < 0) {
			r->refused++;
			return 0;
		}
		known = json_object_get(shas, exe);
		if (!known)
			return 0;
	}
	if (json_object_get(known, sha256))
		return 0;
	if (json_object_size(known) >= RECORD_LIST_MAX) {
		r->refused++;
		return 0;
	}
	what = json_object_size(known) ? REC_HASH_CHANGED : REC_HASH_FIRST;
	/* the value is the VirusTotal verdict, once there is one */
	v = json_string("");
	if (!v || json_object_set_new(known, sha256, v) < 0) {
		r->refused++;
		return 0;
	}
	r->dirty = true;
	return what;
}

void record_package_set(struct record *r, const char *exe, const char *sha256, const char *text)
{
	json_t *pk = section(r->root, "Package"), *known;

	if (!pk)
		return;
	known = json_object_get(pk, exe);
	if (!json_is_object(known)) {
		if (json_object_size(pk) >= RECORD_KEYS_MAX ||
		    json_object_set_new(pk, exe, json_object()) < 0) {
			r->refused++;
			return;
		}
		known = json_object_get(pk, exe);
	}
	if (!known || (!json_object_get(known, sha256) && json_object_size(known) >= RECORD_LIST_MAX) ||
	    json_object_set_new(known, sha256, json_stringn(text, strnlen(text, 256))) < 0) {
		r->refused++;
		return;
	}
	r->dirty = true;
}

const char *record_package_get(const struct record *r, const char *exe, const char *sha256)
{
	json_t *v = json_object_get(json_object_get(json_object_get(r->root, "Package"), exe),
				    sha256);

	return json_string_value(v);
}

size_t record_vt_set(struct record *r, const char *sha256, json_t *value)
{
	json_t *shas = json_object_get(r->root, "SHA256"), *known;
	const char *exe;
	size_t n = 0;

	json_object_foreach(shas, exe, known) {
		json_t *old = json_object_get(known, sha256);

		if (!old || json_equal(old, value))
			continue;
		/* the key exists: replacing its value cannot grow the record */
		if (json_object_set(known, sha256, value) == 0) {
			n++;
			r->dirty = true;
		}
	}
	return n;
}

void record_vt_set_one(struct record *r, const char *exe, const char *sha256, json_t *value)
{
	json_t *known = json_object_get(json_object_get(r->root, "SHA256"), exe);
	json_t *old = json_object_get(known, sha256);

	if (old && !json_equal(old, value) && json_object_set(known, sha256, value) == 0)
		r->dirty = true;
}

json_t *record_vt_get(const struct record *r, const char *sha256)
{
	json_t *shas = json_object_get(r->root, "SHA256"), *known;
	const char *exe;

	json_object_foreach(shas, exe, known) {
		json_t *v = json_object_get(known, sha256);

		if (v && !(json_is_string(v) && !json_string_length(v)))
			return v;
	}
	return NULL;
}

void record_hashes_each(const struct record *r,
			void (*fn)(void *ctx, const char *exe, const char *sha256, json_t *value),
			void *ctx)
{
	json_t *shas = json_object_get(r->root, "SHA256"), *known, *v;
	const char *exe, *sha;

	json_object_foreach(shas, exe, known) {
		json_object_foreach(known, sha, v)
			fn(ctx, exe, sha, v);
	}
}

/* A count of a verdict: an integer 0..1e6, else -1 (a hand-edited file). */
static long long vt_count(const json_t *value, const char *key)
{
	json_t *c = json_object_get(value, key);

	if (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > 1000000)
		return -1;
	return json_integer_value(c);
}

bool record_vt_flagged(const json_t *value)
{
	return json_is_object(value) &&
	       (vt_count(value, "malicious") > 0 || vt_count(value, "suspicious") > 0);
}

void record_vt_text(const json_t *value, char *buf, size_t len)
{
	long long mal, sus, harm, und;
	json_t *date;
	char day[16] = "";

	buf[0] = '\0';
	if (json_is_string(value)) {
		/* a status: only its printable ASCII (the file is the user's) */
		const char *s = json_string_value(value);
		size_t o = 0;

		for (; *s && o + 1 < len; s++)
			if (*s >= ' ' && *s < 0x7f)
				buf[o++] = *s;
		buf[o] = '\0';
		return;
	}
	if (!json_is_object(value))
		return;
	mal = vt_count(value, "malicious");
	sus = vt_count(value, "suspicious");
	harm = vt_count(value, "harmless");
	und = vt_count(value, "undetected");
	if (mal < 0 || sus < 0 || harm < 0 || und < 0) {
		snprintf(buf, len, "VirusTotal: (unreadable verdict)");
		return;
	}
	date = json_object_get(value, "analysis date");
	if (json_is_integer(date) && json_integer_value(date) > 0 &&
	    json_integer_value(date) < 253402300800LL) {
		time_t t = (time_t)json_integer_value(date);
		struct tm tm;

		if (gmtime_r(&t, &tm))
			strftime(day, sizeof(day), ", %Y-%m-%d", &tm);
	}
	if (mal || sus)
		snprintf(buf, len, "VirusTotal: %lld malicious, %lld suspicious of %lld engines%s",
			 mal, sus, mal + sus + harm + und, day);
	else
		snprintf(buf, len, "VirusTotal: clean (0 of %lld engines)%s", harm + und, day);
}

void record_vt_brief(const json_t *value, char *buf, size_t len)
{
	long long mal, sus, harm, und;

	buf[0] = '\0';
	if (json_is_string(value)) {
		/* a status, up to its details: "VT: waiting", "VT: unknown there" */
		const char *s = json_string_value(value);
		size_t o;

		if (!s[0])
			return;
		if (!strncmp(s, "VirusTotal: ", 12))
			s += 12;
		o = (size_t)snprintf(buf, len, "VT: ");
		for (; *s && *s != '(' && *s != ',' && o + 1 < len; s++)
			if (*s >= ' ' && *s < 0x7f)
				buf[o++] = *s;
		while (o > 4 && buf[o - 1] == ' ')
			o--;
		buf[o < len ? o : len - 1] = '\0';
		return;
	}
	if (!json_is_object(value))
		return;
	mal = vt_count(value, "malicious");
	sus = vt_count(value, "suspicious");
	harm = vt_count(value, "harmless");
	und = vt_count(value, "undetected");
	if (mal < 0 || sus < 0 || harm < 0 || und < 0)
		snprintf(buf, len, "VT: (unreadable)");
	else if (mal || sus)
		snprintf(buf, len, "VT: %lld mal, %lld susp /%lld", mal, sus, mal + sus + harm + und);
	else
		snprintf(buf, len, "VT: clean /%lld", harm + und);
}

struct vt_entry {
	char sha[65];
	const json_t *value;
	UT_hash_handle hh;
};

struct record_vt_index {
	struct vt_entry *map;
	struct vt_entry *all;
	size_t n;
};

int record_vt_index_new(const struct record *r, struct record_vt_index **ret)
{
	struct record_vt_index *ix = calloc(1, sizeof(*ix));
	json_t *shas = json_object_get(r->root, "SHA256"), *known, *v;
	const char *exe, *sha;
	size_t cap = 0;

	if (!ix)
		return -ENOMEM;
	json_object_foreach(shas, exe, known)
		cap += json_object_size(known);
	ix->all = calloc(cap ? cap : 1, sizeof(*ix->all));
	if (!ix->all) {
		free(ix);
		return -ENOMEM;
	}
	json_object_foreach(shas, exe, known) {
		json_object_foreach(known, sha, v) {
			struct vt_entry *e;

			if (strlen(sha) != 64 || (json_is_string(v) && !json_string_length(v)))
				continue;
			HASH_FIND_STR(ix->map, sha, e);
			if (e)
				continue;
			e = &ix->all[ix->n++];
			memcpy(e->sha, sha, 65);
			e->value = v;
			HASH_ADD_STR(ix->map, sha, e);
		}
	}
	*ret = ix;
	return 0;
}

const json_t *record_vt_index_get(const struct record_vt_index *ix, const char *sha256)
{
	struct vt_entry *e;

	if (!ix || !sha256)
		return NULL;
	HASH_FIND_STR(ix->map, sha256, e);
	return e ? e->value : NULL;
}

void record_vt_index_free(struct record_vt_index *ix)
{
	if (!ix)
		return;
	HASH_CLEAR(hh, ix->map);
	free(ix->all);
	free(ix);
}

void record_vt_cache_refresh(struct record_vt_cache *c)
{
	struct record *r = NULL;
	struct record_vt_index *ix = NULL;
	struct stat st;
	time_t now = time(NULL);

	if (c->dirfd < 0 || now == c->checked)
		return;
	c->checked = now;
	if (fstatat(c->dirfd, RECORD_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		record_vt_cache_done(c);
		return;
	}
	if (c->record && st.st_mtim.tv_sec == c->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->mtime.tv_nsec && st.st_size == c->size && st.st_ino == c->ino)
		return;
	if (record_read(c->dirfd, &r) == 0 && record_vt_index_new(r, &ix) < 0) {
		record_free(r);
		r = NULL;
	}
	/* a file being replaced, or not a record: keep what was read */
	if (!r)
		return;
	record_vt_index_free(c->index);
	record_free(c->record);
	c->record = r;
	c->index = ix;
	c->mtime = st.st_mtim;
	c->size = st.st_size;
	c->ino = st.st_ino;
}

const char *record_vt_cache_package(const struct record_vt_cache *c, const char *exe,
				    const char *text, size_t len)
{
	char sha[65];
	const char *key, *found = NULL;
	json_t *per;

	if (!c->record || len != 64 || memchr(text, 0, len))
		return NULL;
	memcpy(sha, text, 64);
	sha[64] = '\0';
	if (exe)
		return record_package_get(c->record, exe, sha);
	/* any executable's: the worst news first (a copy of a file that a
	 * package installed elsewhere is no news) */
	json_object_foreach(json_object_get(c->record->root, "Package"), key, per) {
		const char *t = json_string_value(json_object_get(per, sha));

		if (t && (!found || !strncmp(t, "modified", 8)))
			found = t;
	}
	return found;
}

const json_t *record_vt_cache_get(const struct record_vt_cache *c, const char *text, size_t len)
{
	char sha[65];

	if (!c->index || len != 64 || memchr(text, 0, len))
		return NULL;
	memcpy(sha, text, 64);
	sha[64] = '\0';
	return record_vt_index_get(c->index, sha);
}

void record_vt_cache_done(struct record_vt_cache *c)
{
	record_vt_index_free(c->index);
	record_free(c->record);
	c->index = NULL;
	c->record = NULL;
	c->checked = 0;
}

int record_read(int dirfd, struct record **ret)
{
	char *text = NULL, why[256];
	size_t len;
	int r = read_below(dirfd, RECORD_FILE, RECORD_READ_MAX, &text, &len);

	if (r < 0)
		return r;
	r = record_parse(text, len, ret, why, sizeof(why));
	free(text);
	return r;
}

uint64_t record_refused(const struct record *r)
{
	return r->refused;
}

char *record_dump(const struct record *r)
{
	return json_dumps(r->root, JSON_INDENT(2) | JSON_SORT_KEYS);
}

int record_save(struct record *r)
{
	char *text;
	int e;

	if (!r->dirty || r->frozen)
		return 0;
	text = json_dumps(r->root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	e = write_atomic_below(r->dirfd, RECORD_FILE, text, strlen(text), 0600, (uid_t)-1,
			       (gid_t)-1);
	free(text);
	if (e == 0)
		r->dirty = false;
	return e;
}
