/* record.json: what picosnitch has seen, so that a program seen before
 * raises no notification and a changed one does.  Process names per
 * executable and executables per name (for processes, parents and
 * grandparents), and the hashes seen per executable, with room for a
 * VirusTotal verdict per hash.  Survives restarts; written atomically; a
 * file that cannot be read is moved aside with an error, never reset
 * silently. */
#ifndef PS_LOGGER_RECORD_H
#define PS_LOGGER_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Entries not recorded because record.json reached a bound (50,000
 * executables or names per section, 100 names, executables or hashes per
 * entry), or that jansson refused; cumulative. */
uint64_t record_refused(const struct record *r);

/* The record as record.json would hold it (the caller frees it). */
char *record_dump(const struct record *r);

/* Write the file if anything changed (temporary file and rename). */
int record_save(struct record *r);

#endif
