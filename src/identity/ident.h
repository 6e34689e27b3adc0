/* Process identity: what a (pid, start time, executable inode) snapshot
 * from the kernel names.  Resolved from /proc while the process lives,
 * else from the sensor's exec cache, else from the kernel snapshot alone.
 * Results are cached and reference counted.
 *
 * This runs in the monitor (root): every string here is the raw bytes a
 * process chose (its path, name and arguments), bounded in length and
 * never interpreted; the logger turns them into text. */
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

/* Longest command line kept, in bytes (longer ones are cut and flagged). */
#define IDENT_CMD_MAX 4096
#define IDENT_CGROUP_MAX 2048

struct ident {
	struct ident_key key;
	uint64_t id;		/* unique for the life of the cache, never 0 */
	struct exe_file *file;	/* the executable and its hash (reference) */
	char *exe;		/* path of the executable, "" if unknown (raw bytes) */
	char *name;		/* process name (raw bytes, at most 15) */
	char *cmdline;		/* arguments, NUL separated as in /proc (raw bytes) */
	size_t cmdline_len;
	bool cmdline_cut;	/* longer than IDENT_CMD_MAX */
	char *cgroup;		/* /proc/<pid>/cgroup as read (raw bytes, at most
				 * IDENT_CGROUP_MAX), "" when not read from /proc */
	size_t cgroup_len;
	enum ident_source source;
	bool exe_mismatch;	/* /proc/<pid>/exe is no longer the file the kernel saw */
	int refs;
	uint64_t last_used;	/* monotonic seconds, for ident_cache_gc */
	UT_hash_handle hh;
};

struct ident_cache;

/* Told about every identity made (before any flow refers to it) and
 * every one forgotten. */
struct ident_cache_opts {
	int execs_fd;		/* the sensor's exec cache map, or -1 */
	uint32_t dev_mask;
	struct exehash *hashes;	/* where executables are opened and hashed, or NULL */
	void (*on_new)(void *ctx, const struct ident *id);
	void (*on_drop)(void *ctx, uint64_t id);
	void *ctx;
};

int ident_cache_new(const struct ident_cache_opts *opts, struct ident_cache **ret);
void ident_cache_free(struct ident_cache *c);

/* Forget identities no flow refers to that were last used before
 * `before` (monotonic seconds). */
void ident_cache_gc(struct ident_cache *c, uint64_t before);

enum ident_role { ROLE_SELF, ROLE_PARENT, ROLE_GRANDPARENT };

/* The identity of the process (or its parent, or grandparent) in a kernel
 * task snapshot.  Returns a new reference; never NULL except on OOM. */
struct ident *ident_get(struct ident_cache *c, const struct ps_task *t, enum ident_role role);

/* What the identity says of its hash on its own: a SHA_* sentinel when
 * its file could not be had (gone, replaced, no executable), else "" (the
 * file's hash, by its key, applies). */
const char *ident_sentinel(const struct ident *id);
struct ident *ident_ref(struct ident *id);
void ident_unref(struct ident_cache *c, struct ident *id);

/* The shared identity of "no process" (kernel sockets, unknown owners). */
struct ident *ident_none(struct ident_cache *c, const char *name);

/* Statistics for error reporting (cumulative): processes that exited
 * before /proc could be read, resolved from the exec cache or not at all. */
struct ident_stats {
	uint64_t from_exec_cache;
	uint64_t unidentified;
	uint64_t exe_mismatch;
	uint64_t unhashed;		/* gone before the executable could be opened */
	uint64_t unhashed_example;	/* the id of the first of them */
	uint64_t mismatch_example;	/* the id of the first exe_mismatch */
};
void ident_stats_get(struct ident_cache *c, struct ident_stats *ret);

/* Boot-clock start time of a live process in ns, as the kernel reports it
 * (clock-tick precision); used to detect pid reuse. */
int proc_start_ns(uint32_t pid, uint64_t *ret);

#endif
