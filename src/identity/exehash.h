/* Executables as the kernel ran them, and their SHA-256.
 *
 * A process's executable is opened through /proc/<pid>/exe as soon as the
 * process is seen, checked to be the very file the kernel reported (device
 * and inode), and the descriptor is kept in a cache keyed by (device,
 * inode), bounded by the descriptor limit.  Each (device, inode,
 * modification generation) is hashed once, on worker threads; a fanotify
 * mark on every cached file bumps the generation when the file is written,
 * so its next use hashes it again.  Files on FUSE (which a user's server
 * could leave unanswered) and files root cannot read are hashed by the
 * desktop user's process, the logger: the monitor asks it (on_user_hash)
 * and keeps no hash of them itself.
 */
#ifndef PS_IDENTITY_EXEHASH_H
#define PS_IDENTITY_EXEHASH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uthash.h>

/* Hash sentinels: what the sha256 field says when there is no hash. */
#define SHA_EXITED "!exited"		/* gone before its executable could be opened */
#define SHA_REPLACED "!replaced"	/* /proc/<pid>/exe is not the file the kernel ran */
#define SHA_UNREADABLE "!unreadable"	/* neither root nor the desktop user could read it */
#define SHA_NONE "!none"		/* no executable (kernel threads) */
#define SHA_PENDING "!pending"		/* still being hashed when it had to be written */

enum exe_state { EXE_PENDING, EXE_DONE, EXE_FAILED };

#define EXE_DELETED 1u		/* the file was deleted (or replaced by a rename) */
#define EXE_MEMFD 2u		/* it runs from memory (memfd_create + fexecve) */
#define EXE_VIA_USER 4u		/* hashed by the desktop user's process */
#define EXE_SENTINEL 8u		/* not a file: an identity's own "why not" */

struct exe_key {
	uint64_t ino;
	uint32_t dev;		/* masked with "Set st_dev mask" */
	uint32_t pad;
};

struct exe_file {
	struct exe_key key;
	int fd;			/* open on the file, or -1 */
	uint64_t gen;		/* bumped by fanotify on every modification */
	uint64_t hashed_gen;	/* the generation sha256 describes */
	enum exe_state state;
	char sha256[65];	/* hex digest, or a SHA_* sentinel */
	char md5[33];		/* hex MD5 of the same contents (for dpkg's
				 * md5sums) once exehash_md5 asked for it, else "" */
	unsigned flags;
	int refs;
	uint64_t last_used;
	UT_hash_handle hh;
};

struct exehash;

struct exehash_opts {
	uint32_t dev_mask;
	size_t max_open;	/* descriptors the cache may keep */
	int threads;
	/* a hash was computed (or failed) for a file */
	void (*on_hashed)(void *ctx, struct exe_file *f);
	/* a file for the desktop user's process to hash: by pid while it
	 * runs, else by path (either may be 0 / NULL) */
	void (*on_user_hash)(void *ctx, struct exe_file *f, uint32_t pid, const char *path);
	/* the answer to exehash_md5: md5 "" when the file changed meanwhile */
	void (*on_md5)(void *ctx, struct exe_file *f, const char *md5);
	void *ctx;
};

int exehash_new(const struct exehash_opts *opts, struct exehash **ret);
void exehash_free(struct exehash *h);

/* Descriptors for the event loop: fanotify events, and finished hashes. */
int exehash_fanotify_fd(struct exehash *h);
int exehash_done_fd(struct exehash *h);
void exehash_handle_fanotify(struct exehash *h);
void exehash_handle_done(struct exehash *h);

/* The executable of pid, which the kernel reported as (dev, ino).  Opens it
 * now if it is not cached and starts hashing it if its current generation
 * has no hash.  When pid is gone (or 0), path_hint (the path it was started
 * from, or NULL) is opened instead if it is still the same inode.  Returns
 * a new reference (never NULL but on OOM).  When the file cannot be found,
 * or pid runs another file, the entry holds a SHA_* sentinel. */
struct exe_file *exehash_get(struct exehash *h, uint32_t pid, const char *path_hint, uint32_t dev,
			     uint64_t ino);
void exehash_put(struct exehash *h, struct exe_file *f);

/* MD5s being computed at once at most; more are refused (-EBUSY). */
#define EXEHASH_MD5_MAX 16

/* The MD5 of the cached file (ino, dev) whose current contents have the
 * SHA-256 sha, computed on a worker (only for files a package lists: most
 * files are hashed once, with SHA-256 alone).  0: on_md5 will be called;
 * -ENOENT: not cached or not open; -ESTALE: its contents changed; -EBUSY. */
int exehash_md5(struct exehash *h, uint64_t ino, uint32_t dev, const char *sha);

/* Wait until no hash is being computed, at most timeout_ms (at exit). */
void exehash_settle(struct exehash *h, int timeout_ms);


/* Statistics for error.log. */
struct exehash_stats {
	uint64_t exited;	/* processes gone before their executable was opened */
	uint64_t replaced;	/* gone, and another file is at its path now */
	uint64_t unreadable;
	uint64_t evicted;	/* descriptors closed to stay within the limit */
	uint64_t hashed;	/* files read to the end and hashed */
};
void exehash_stats_get(struct exehash *h, struct exehash_stats *ret);	/* cumulative */

#endif
