/* Process identity: what a (pid, start time, executable inode) snapshot
 * from the kernel names.  Resolved from /proc while the process lives,
 * else from the sensor's exec cache, else from the kernel snapshot alone.
 * Results are cached and reference counted. */
#ifndef PS_IDENTITY_IDENT_H
#define PS_IDENTITY_IDENT_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>
#include <uthash.h>

#include "abi.h"
#include "identity/exehash.h"

struct ident_key {
	uint64_t start_ns;
	uint64_t exe_ino;
	uint32_t pid;
	uint32_t exe_dev;
};

enum ident_source {
	IDENT_PROC,		/* read from /proc/<pid> */
	IDENT_EXEC_CACHE,	/* the process was gone: from the exec tracepoint */
	IDENT_KERNEL_ONLY,	/* gone and not in the exec cache: name only */
	IDENT_NONE,		/* no process (pid 0, kernel sockets) */
};

struct ident {
	struct ident_key key;
	struct exe_file *file;	/* the executable and its hash (reference) */
	char *exe;		/* path of the executable, "" if unknown */
	char *name;		/* process name */
	char *cmdline;		/* shell-quoted arguments, "" if unknown */
	enum ident_source source;
	bool exe_mismatch;	/* /proc/<pid>/exe is no longer the file the kernel saw */
	unsigned seen_roles;	/* bit per record role already checked (alerts) */
	int refs;
	uint64_t last_used;	/* monotonic seconds, for ident_cache_gc */
	UT_hash_handle hh;
};

struct ident_cache;

/* execs_fd: the sensor's exec cache map, or -1.  hashes: where executables
 * are opened and hashed (NULL: no hashing). */
int ident_cache_new(int execs_fd, uint32_t st_dev_mask, struct exehash *hashes,
		    struct ident_cache **ret);
void ident_cache_free(struct ident_cache *c);

/* Forget identities no flow refers to that were last used before
 * `before` (monotonic seconds). */
void ident_cache_gc(struct ident_cache *c, uint64_t before);

enum ident_role { ROLE_SELF, ROLE_PARENT, ROLE_GRANDPARENT };

/* The identity of the process (or its parent, or grandparent) in a kernel
 * task snapshot.  Returns a new reference; never NULL except on OOM. */
struct ident *ident_get(struct ident_cache *c, const struct ps_task *t, enum ident_role role);

/* The hash to log for an identity: a digest, a SHA_* sentinel, or NULL
 * while it is being computed. */
const char *ident_sha256(const struct ident *id);
struct ident *ident_ref(struct ident *id);
void ident_unref(struct ident_cache *c, struct ident *id);

/* The shared identity of "no process" (kernel sockets, unknown owners). */
struct ident *ident_none(struct ident_cache *c, const char *name);

/* Statistics for error reporting: processes that exited before /proc
 * could be read, resolved from the exec cache or not at all. */
struct ident_stats {
	uint64_t from_exec_cache;
	uint64_t unidentified;
	uint64_t exe_mismatch;
	uint64_t unhashed;		/* gone before the executable could be opened */
	char unhashed_example[128];	/* the first of them: "name (path)" */
};
void ident_stats_take(struct ident_cache *c, struct ident_stats *ret);

/* Boot-clock start time of a live process in ns, as the kernel reports it
 * (clock-tick precision); used to detect pid reuse. */
int proc_start_ns(uint32_t pid, uint64_t *ret);

#endif
