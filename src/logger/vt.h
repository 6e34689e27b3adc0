/* VirusTotal, from the logger (the desktop user, never root): each new
 * SHA-256 is looked up (GET /api/v3/files/{sha256}); with "VT file upload"
 * a file VirusTotal does not know is uploaded (as the desktop user, from a
 * descriptor checked to be the file that ran and to still have that hash)
 * and its analysis polled until it completes.  One worker thread with
 * libcurl, at most one request per "VT request limit (seconds)"; the queue
 * is bounded and kept in vt-queue.json so that a restart forgets nothing.
 * Failures (a refused key, the quota, server errors, timeouts, no network)
 * are retried with a growing pause and reported once per kind with their
 * count.  The API key goes only into a request header: never into a log,
 * a message or a command line. */
#ifndef PS_LOGGER_VT_H
#define PS_LOGGER_VT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logger/errlog.h"
#include "logger/vt_parse.h"

#define VT_DEFAULT_URL "https://www.virustotal.com"
#define VT_QUEUE_MAX 10000		/* hashes waiting; more are counted and reported */
#define VT_SIMPLE_UPLOAD_MAX (32ull << 20)	/* POST /files; larger ones get an upload URL */
#define VT_UPLOAD_MAX (650ull << 20)	/* VirusTotal's largest file */
#define VT_POLLS_MAX 100		/* analysis checks before giving up on one */

struct vt_opts {
	int dirfd;			/* the state directory (vt-queue.json) */
	const char *api_key;		/* "VT API key"; "" turns VirusTotal off */
	bool upload;			/* "VT file upload" */
	int64_t request_limit;		/* "VT request limit (seconds)" between requests */
	uint32_t dev_mask;		/* "Set st_dev mask", for the file identity check */
	/* left 0 / NULL: the defaults; the environment sets them for tests
	 * (vt_opts_from_env) */
	const char *base_url;		/* PICOSNITCH_VT_URL */
	uint64_t simple_upload_max;	/* PICOSNITCH_VT_SIMPLE_UPLOAD_MAX (bytes) */
	uint64_t upload_max;		/* PICOSNITCH_VT_UPLOAD_MAX (bytes) */
	uint64_t timeout_ms;		/* PICOSNITCH_VT_TIMEOUT_MS: one request (60 s) */
	uint64_t backoff_ms;		/* PICOSNITCH_VT_BACKOFF_MS: first pause after a failure (30 s) */
	uint64_t poll_ms;		/* PICOSNITCH_VT_POLL_MS: first analysis check (30 s) */
};

/* The test settings from PICOSNITCH_VT_* (the monitor passes PICOSNITCH_*
 * to the logger; only root sets them). */
void vt_opts_from_env(struct vt_opts *o);

/* What became of a hash, for record.json: a verdict, or a status (static
 * text).  final: the hash left the queue. */
struct vt_outcome {
	char sha256[65];
	char *exe;			/* owned */
	bool has_verdict;
	struct vt_verdict verdict;
	const char *status;
	bool final;
};

/* Status texts (record.json's value for a hash without a verdict). */
#define VT_ST_WAITING "VirusTotal: waiting"
#define VT_ST_ANALYSING "VirusTotal: uploaded, being analysed"
#define VT_ST_UNKNOWN_NO_UPLOAD "VirusTotal: unknown there (not uploaded: \"VT file upload\" is off)"
#define VT_ST_TOO_BIG "VirusTotal: unknown there (not uploaded: larger than VirusTotal's 650 MB)"
#define VT_ST_UNREADABLE "VirusTotal: unknown there (not uploaded: the desktop user cannot read the file)"
#define VT_ST_GONE "VirusTotal: unknown there (not uploaded: the file is gone or no longer has this hash)"
#define VT_ST_BAD_ANSWERS "VirusTotal: no verdict (its answers could not be read)"
#define VT_ST_NOT_FINISHED "VirusTotal: uploaded, the analysis did not finish"

struct vt;

/* NULL in *ret (and 0) when VirusTotal is off (no API key).  A key that
 * cannot be a key (control characters, spaces) turns it off with a
 * message in err (the key itself is never shown). */
int vt_new(const struct vt_opts *opts, struct vt **ret, char *err, size_t errlen);
/* Stop the worker (a request in progress is cut short), save the queue. */
void vt_free(struct vt *v);

/* Queue a hash (exe: safe text; ino, dev, pid: the file's identity and a
 * process running it, 0 when unknown).  1 when queued now, 0 when it was
 * queued already, -ENOSPC when the queue is full (counted and reported),
 * -EINVAL for a hash that is not one. */
int vt_submit(struct vt *v, const char *sha256, const char *exe, uint64_t ino, uint32_t dev,
	      uint32_t pid);

/* An eventfd that becomes readable when outcomes wait. */
int vt_fd(struct vt *v);
/* Take one outcome: 0, or -EAGAIN when none waits.  vt_outcome_clear
 * frees it. */
int vt_take(struct vt *v, struct vt_outcome *ret);
void vt_outcome_clear(struct vt_outcome *o);

/* Write what went wrong since the last call into error.log: the first
 * failure of each kind with its explanation, then, when requests succeed
 * again (or at_exit), how many failed of that kind. */
void vt_report(struct vt *v, struct errlog *e, bool at_exit);

/* Hashes waiting (tests). */
size_t vt_queued(struct vt *v);

#endif
