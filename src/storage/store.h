/* The connection log, behind one interface: every destination (SQLite
 * snitch.db, the conn.log text file, later remote SQL servers) takes the
 * same aggregated rows.  Errors are negative errno; the backend keeps a
 * human-readable detail for the caller to log. */
#ifndef PS_STORAGE_STORE_H
#define PS_STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One aggregated entry: the traffic of one identity during one window. */
struct conn_row {
	int64_t time;		/* end of the window, unix seconds (UTC) */
	uint64_t sent;		/* payload bytes */
	uint64_t received;
	uint64_t flows;		/* sockets (connections) first seen in this window */
	const char *exe;
	const char *name;
	const char *cmdline;
	const char *sha256;
	const char *pexe;
	const char *pname;
	const char *pcmdline;
	const char *psha256;
	const char *gpexe;	/* grandparent (snitch.db only; conn.log has 18 fields) */
	const char *gpname;
	const char *gpcmdline;
	const char *gpsha256;
	/* each one's service: its systemd unit or container (snitch.db only;
	 * NULL: "") */
	const char *service, *pservice, *gpservice;
	int64_t uid;
	int64_t lport;		/* -1: not a connection (an exec entry) */
	int64_t rport;
	const char *laddr;
	const char *raddr;
	const char *domain;
	const char *domain_source;	/* "", "dns", "dns-tcp", "sni", "quic" (snitch.db only) */
	int family;		/* AF_INET, AF_INET6, AF_PACKET; 0 for exec entries */
	int protocol;		/* IPPROTO_*, or the ethertype for AF_PACKET */
	uint64_t netns;
};

struct store;

struct store_ops {
	const char *name;
	int (*write)(struct store *s, const struct conn_row *rows, size_t n);
	/* remove entries older than `before` (unix seconds); optional */
	int (*prune)(struct store *s, int64_t before);
	/* one bounded step of bringing pre-summed tables up to the days that
	 * have ended at `now` (unix seconds): 1 if a step was made (call again
	 * for more), 0 when they are up to date, or -errno; optional */
	int (*rollup)(struct store *s, int64_t now);
	/* a comment line for the people who read it (conn.log); optional */
	int (*note)(struct store *s, const char *text);
	/* whether the file written is still the one its name leads to: when
	 * it was deleted or replaced, a new one is started there, so nothing
	 * is written through a stale descriptor; 1 when it did, 0, or
	 * -errno; optional */
	int (*check)(struct store *s);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
	char err[512];		/* detail of the last failure */
};

static inline int store_write(struct store *s, const struct conn_row *rows, size_t n)
{
	return s->ops->write(s, rows, n);
}

static inline int store_prune(struct store *s, int64_t before)
{
	return s->ops->prune ? s->ops->prune(s, before) : 0;
}

static inline int store_rollup(struct store *s, int64_t now)
{
	return s->ops->rollup ? s->ops->rollup(s, now) : 0;
}

static inline int store_note(struct store *s, const char *text)
{
	return s->ops->note ? s->ops->note(s, text) : 0;
}

static inline int store_check(struct store *s)
{
	return s->ops->check ? s->ops->check(s) : 0;
}

static inline void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

/* What a storage error (negative errno) means, in words, the same for
 * every destination: "disk full", "read-only file system", "disk quota
 * exceeded", "I/O error", "database locked", "database corrupt", "file
 * deleted or replaced", "permission denied", else strerror's text. */
const char *store_fault_name(int err);
/* Whether the cause may pass (space freed, the lock let go, the file
 * system remounted): then entries wait for it; other errors are retried a
 * few times only. */
bool store_fault_may_pass(int err);

/* snitch.db: path must not be (or pass through) a symlink. */
int store_sqlite_open(const char *path, struct store **ret, char *err, size_t errlen);

/* Make snitch.db hold at least copies[i] entries equal to rows[i] (every
 * column), adding what is missing, in one transaction: importing the same
 * rows again adds nothing.  Counts the entries added and those that were
 * already there.  -EOPNOTSUPP for a store that is not snitch.db. */
int store_sqlite_merge(struct store *s, const struct conn_row *rows, const uint64_t *copies,
		       size_t n, uint64_t *added, uint64_t *present);

/* conn.log in the directory dirfd, appended, created for owner:group
 * (mode 0600); kept under 1 GiB, with one conn.log.1 before it. */
int store_text_open(int dirfd, const char *name, unsigned int owner, unsigned int group,
		    struct store **ret);

/* One conn.log line (without newline) for a row; the caller frees it. */
char *conn_row_to_csv(const struct conn_row *row);

#endif
