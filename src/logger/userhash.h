/* Hashing, as the desktop user, the executables the monitor leaves to the
 * logger: files on FUSE (whose server, a user's process, could leave root
 * waiting forever) and files root cannot read.  One worker thread: a file
 * that never answers holds up only the hashes that wait behind it, never
 * the monitor and never logging. */
#ifndef PS_LOGGER_USERHASH_H
#define PS_LOGGER_USERHASH_H

#include <stdbool.h>
#include <stdint.h>

/* Requests that may wait; more are answered "!unreadable" at once. */
#define USERHASH_QUEUE_MAX 1024

struct userhash;

struct userhash_result {
	uint64_t ino;
	uint32_t dev;
	char sha256[65];	/* a digest or a SHA_* sentinel */
	/* userhash_request_md5: the MD5 of the contents with that SHA-256,
	 * or "" (unreadable, or other contents now) */
	bool md5_req;
	char md5[33];
};

int userhash_new(uint32_t dev_mask, struct userhash **ret);
void userhash_free(struct userhash *u);

/* Hash the file (ino, dev) that pid runs, or that path names if pid is
 * gone (either may be 0 / NULL); the file's identity is checked first. */
void userhash_request(struct userhash *u, uint64_t ino, uint32_t dev, uint32_t pid,
		      const char *path);

/* The MD5 of the file (ino, dev) at path whose SHA-256 is sha, for the
 * package check: both digests are computed again, in one pass, so the MD5
 * is known to be of those contents. */
void userhash_request_md5(struct userhash *u, uint64_t ino, uint32_t dev, const char *path,
			  const char *sha);

/* An eventfd that becomes readable when results are waiting. */
int userhash_fd(struct userhash *u);
/* Take one finished result; 0 when there was one, -EAGAIN when none. */
int userhash_take(struct userhash *u, struct userhash_result *ret);

#endif
