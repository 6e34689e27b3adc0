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
