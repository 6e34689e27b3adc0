/* The logger's copy of what the monitor named: identities (by the
 * monitor's id) with their strings made safe text, and executables'
 * hashes (by device and inode).  Everything arrives as messages from the
 * monitor, or from the logger's own hashing of files only the user can
 * read; ids the monitor never described resolve to an "unknown" identity. */
#ifndef PS_LOGGER_IDENTS_H
#define PS_LOGGER_IDENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <uthash.h>

#include "logger/strpool.h"
#include "privsep/proto.h"

/* Hash sentinels: what the sha256 field says when there is no hash. */
#define SHA_EXITED "!exited"		/* gone before its executable could be opened */
#define SHA_REPLACED "!replaced"	/* its executable's path held another file */
#define SHA_UNREADABLE "!unreadable"	/* neither root nor the desktop user could read it */
#define SHA_NONE "!none"		/* no executable (kernel threads, unknown owners) */
#define SHA_PENDING "!pending"		/* still being hashed when it had to be written */

/* At most this many identities are kept (the monitor forgets idle ones and
 * says so); past it new ones are refused and counted. */
#define IDENTS_MAX 262144
#define FILES_MAX 262144

struct lfile {
	struct {
		uint64_t ino;
		uint32_t dev;
		uint32_t pad;
	} key;
	char sha256[PS_SHA_LEN + 1];	/* "" while unknown */
	char md5[33];			/* of the same contents, "" when not known */
	unsigned flags;			/* PS_FILE_* */
	bool by_user;			/* hashed here, as the user */
	UT_hash_handle hh;
};

struct lident {
	uint64_t id;
	uint32_t pid;
	uint64_t file_ino;
	uint32_t file_dev;
	unsigned source;		/* enum ps_ident_source */
	unsigned flags;			/* PS_IDENT_* */
	unsigned file_flags;		/* PS_FILE_DELETED, PS_FILE_MEMFD */
	const char *exe;		/* pooled safe text */
	const char *name;
	const char *cmdline;		/* shell-quoted */
	const char *service;		/* pooled safe text: its unit or container, from
					 * its cgroup (logger/service.h), "" if none */
	char sentinel[PS_SHA_LEN + 1];	/* its own "why no hash", or "" */
	unsigned seen_roles;		/* for alerts: bit per record role done */
	int refs;
	bool dropped;			/* the monitor forgot it */
	UT_hash_handle hh;
};

struct idents;

int idents_new(struct strpool *pool, struct idents **ret);
void idents_free(struct idents *t);

/* From a checked PS_MSG_IDENT (a repeat of an id replaces it). */
int idents_add(struct idents *t, const struct ps_msg_ident *m);
void idents_drop(struct idents *t, uint64_t id);
/* The identity of id with a new reference: an unknown id gets the shared
 * "unknown" identity (counted).  Never NULL but on OOM. */
struct lident *idents_get(struct idents *t, uint64_t id);
void idents_put(struct idents *t, struct lident *li);

/* From a checked PS_MSG_HASH; the file it updated (or NULL). */
struct lfile *idents_hash(struct idents *t, const struct ps_msg_hash *m);
/* A hash the logger computed itself (sha: a digest or a sentinel). */
struct lfile *idents_user_hash(struct idents *t, uint64_t ino, uint32_t dev, const char *sha);
struct lfile *idents_file(struct idents *t, uint64_t ino, uint32_t dev);

/* The hash to log for an identity: a digest, a sentinel, or NULL while it
 * is being computed. */
const char *lident_sha256(struct idents *t, const struct lident *li);
/* Deleted / memfd flags of its executable (PS_FILE_*). */
unsigned lident_file_flags(struct idents *t, const struct lident *li);

struct idents_stats {
	uint64_t unknown;	/* ids used before (or without) their description */
	uint64_t refused;	/* identities not kept: the table was full */
};
void idents_stats(struct idents *t, struct idents_stats *ret);
size_t idents_count(struct idents *t);

#endif
