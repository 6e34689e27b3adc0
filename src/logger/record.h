/* record.json: what picosnitch has seen, so that a program seen before
 * raises no notification and a changed one does.  Process names per
 * executable and executables per name (for processes, parents and
 * grandparents), and the hashes seen per executable, with room for a
 * VirusTotal verdict per hash.  Survives restarts; written atomically; a
 * file that cannot be read is moved aside with an error, never reset
 * silently. */
#ifndef PS_LOGGER_RECORD_H
#define PS_LOGGER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

enum record_role { REC_PROCESS, REC_PARENT, REC_GRANDPARENT };

#define REC_NEW_EXE 1u	/* the executable was never seen in this role */
#define REC_NEW_NAME 2u	/* the name was never seen for this executable */

#define REC_HASH_FIRST 1	/* the first hash seen for the executable */
#define REC_HASH_CHANGED 2	/* the executable had other hashes before */

struct record;

/* Load record.json from dirfd (a missing file is an empty record).  A file
 * that is not valid is renamed record.json.corrupt-<time> and err says so;
 * the record then starts empty. */
int record_load(int dirfd, struct record **ret, char *err, size_t errlen);
void record_free(struct record *r);

/* A record from text alone (never saved): for tests and fuzzing.  -EINVAL
 * with the reason in why when the text is not a valid record. */
int record_parse(const char *text, size_t len, struct record **ret, char *why, size_t whylen);

unsigned record_see(struct record *r, enum record_role role, const char *exe, const char *name);
/* 0 if the hash was known for the executable, else REC_HASH_*. */
int record_see_hash(struct record *r, const char *exe, const char *sha256);

/* VirusTotal: the value of a hash is "" (not looked up), a status text
 * ("VirusTotal: ...") or a verdict object (vt.h, alerts.c).  Set the value
 * of every executable's entry with this hash (value: a new reference is
 * taken); how many there were. */
size_t record_vt_set(struct record *r, const char *sha256, json_t *value);
/* Set the value of one (exe, sha256) entry, if it exists. */
void record_vt_set_one(struct record *r, const char *exe, const char *sha256, json_t *value);
/* The value of the first entry with this hash that is not "" (borrowed),
 * or NULL. */
json_t *record_vt_get(const struct record *r, const char *sha256);
/* Packages (dpkg.h): "Package": {exe: {sha256: "as installed (curl)"}}.
 * Set one entry (a bounded copy of text); the text of one, or NULL. */
void record_package_set(struct record *r, const char *exe, const char *sha256, const char *text);
const char *record_package_get(const struct record *r, const char *exe, const char *sha256);
/* Every (exe, sha256, value) entry; fn must not change the record. */
void record_hashes_each(const struct record *r,
			void (*fn)(void *ctx, const char *exe, const char *sha256, json_t *value),
			void *ctx);
/* A value as one short line for the interfaces ("VirusTotal: 2 malicious,
 * 1 suspicious of 70 engines, 2026-12-04"), from whatever the file holds
 * (it is the user's: anything): "" when there is nothing to say. */
void record_vt_text(const json_t *value, char *buf, size_t len);
/* Whether a verdict object flags the file (malicious or suspicious > 0). */
bool record_vt_flagged(const json_t *value);

/* The same in fewer words, for a column next to a hash ("VT: 2 mal,
 * 1 susp /73" of 73 engines, "VT: clean /70", "VT: waiting"). */
void record_vt_brief(const json_t *value, char *buf, size_t len);

/* The values by hash, for the interfaces: built once per read of the
 * file, then a lookup per row. */
struct record_vt_index;
int record_vt_index_new(const struct record *r, struct record_vt_index **ret);
/* The value for a hash (borrowed from the record), or NULL. */
const json_t *record_vt_index_get(const struct record_vt_index *ix, const char *sha256);
void record_vt_index_free(struct record_vt_index *ix);

/* record.json's VirusTotal values as the interfaces keep them: read again
 * when the file changed (checked at most once a second). */
struct record_vt_cache {
	int dirfd;		/* the state directory, or -1: nothing to show */
	struct record *record;
	struct record_vt_index *index;
	struct timespec mtime;
	off_t size;
	ino_t ino;
	time_t checked;
};
void record_vt_cache_refresh(struct record_vt_cache *c);
/* The value for a hash given as text of len bytes, or NULL. */
const json_t *record_vt_cache_get(const struct record_vt_cache *c, const char *text, size_t len);
/* What the package check said of a hash (of exe, or of any executable
 * when exe is NULL), or NULL. */
const char *record_vt_cache_package(const struct record_vt_cache *c, const char *exe,
				    const char *text, size_t len);
void record_vt_cache_done(struct record_vt_cache *c);

/* record.json read only, for the interfaces: never moved aside nor
 * written.  -ENOENT, -EINVAL (not a record) or another negative errno. */
int record_read(int dirfd, struct record **ret);

/* Entries not recorded because record.json reached a bound (50,000
 * executables or names per section, 100 names, executables or hashes per
 * entry), or that jansson refused; cumulative. */
uint64_t record_refused(const struct record *r);

/* The record as record.json would hold it (the caller frees it). */
char *record_dump(const struct record *r);

/* Write the file if anything changed (temporary file and rename). */
int record_save(struct record *r);

#endif
