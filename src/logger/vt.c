/* VirusTotal's client in the logger (vt.h): the queue, the worker thread
 * and its requests (libcurl), the upload from a checked descriptor. */
#include "logger/vt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/curl_lib.h"
#include "util/fileid.h"
#include "util/fsutil.h"
#include "util/sha256.h"
#include "util/strutil.h"

#define QUEUE_FILE "vt-queue.json"
#define QUEUE_FILE_MAX (64 << 20)
#define BACKOFF_MAX_MS (3600 * 1000ull)	/* the longest pause after failures */
#define POLL_MAX_MS (600 * 1000ull)	/* the longest wait between analysis checks */
#define BAD_ANSWERS_MAX 5		/* unreadable answers about one hash before giving up */
#define CONNECT_TIMEOUT_S 30
#define UPLOAD_LOW_SPEED 1024		/* bytes/s an upload may not stay under ... */
#define UPLOAD_LOW_SPEED_S 120		/* ... for this long */
#define OUTCOMES_MAX 4096		/* waiting for the main loop; the worker waits beyond */

enum vt_err {
	VT_ERR_KEY,		/* 401, 403 */
	VT_ERR_QUOTA,		/* 429 */
	VT_ERR_SERVER,		/* 5xx */
	VT_ERR_TIMEOUT,
	VT_ERR_NETWORK,		/* cannot connect, resolve, TLS */
	VT_ERR_ANSWER,		/* an answer that cannot be read, another status */
	VT_ERR_MAX
};

static const char *const err_what[VT_ERR_MAX] = {
	[VT_ERR_KEY] = "VirusTotal refused the API key (check \"VT API key\" in config.json)",
	[VT_ERR_QUOTA] = ("VirusTotal's request quota was used up (a larger \"VT request limit "
			  "(seconds)\" spreads requests out)"),
	[VT_ERR_SERVER] = "VirusTotal had server errors",
	[VT_ERR_TIMEOUT] = "VirusTotal did not answer in time",
	[VT_ERR_NETWORK] = "VirusTotal could not be reached",
	[VT_ERR_ANSWER] = "VirusTotal's answers could not be read",
};

struct qent {
	struct vt_job job;
	uint64_t due_ms;	/* not before (CLOCK_MONOTONIC) */
	unsigned bad_answers;
	unsigned failing;	/* 1 << the kind its last attempt failed with, or 0 */
};

struct onode {
	struct onode *next;
	struct vt_outcome o;
};

struct errkind {
	uint64_t count;		/* failures not yet summed up in error.log */
	bool announced;		/* the first one is in error.log */
	bool pending;		/* the first one is still to be written */
	char detail[160];	/* of the first one: "HTTP 503", curl's words */
};

struct vt {
	struct vt_opts o;
	char base[512];
	struct curl_slist *headers;	/* holds the key: wiped at the end */
	char *key_header;
	CURL *curl;

	pthread_t thread;
	bool started;
	int stopping;		/* __atomic */
	pthread_mutex_t lock;
	pthread_cond_t more;	/* CLOCK_MONOTONIC */

	struct qent *q;
	size_t n, cap;
	bool dirty;

	struct onode *done, *done_tail;
	size_t ndone;
	int efd;

	uint64_t next_request_ms;	/* the request limit */
	uint64_t pause_until_ms;	/* after a failure */
	uint64_t backoff_ms;		/* the next pause */

	struct errkind errs[VT_ERR_MAX];
	bool recovered;		/* a request worked since the last failure */
	uint64_t overflow, overflow_reported;
	char note[512];		/* for error.log once (the queue file) */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool stopping(struct vt *v)
{
	return __atomic_load_n(&v->stopping, __ATOMIC_RELAXED);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	uint64_t n;

	return s && parse_u64(s, &n) == 0 ? n : dflt;
}

void vt_opts_from_env(struct vt_opts *o)
{
	const char *url = getenv("PICOSNITCH_VT_URL");

	if (url && *url)
		o->base_url = url;
	o->simple_upload_max = env_u64("PICOSNITCH_VT_SIMPLE_UPLOAD_MAX", o->simple_upload_max);
	o->upload_max = env_u64("PICOSNITCH_VT_UPLOAD_MAX", o->upload_max);
	o->timeout_ms = env_u64("PICOSNITCH_VT_TIMEOUT_MS", o->timeout_ms);
	o->backoff_ms = env_u64("PICOSNITCH_VT_BACKOFF_MS", o->backoff_ms);
	o->poll_ms = env_u64("PICOSNITCH_VT_POLL_MS", o->poll_ms);
}

/* ---- the queue (under v->lock) ---- */

static ssize_t find(struct vt *v, const char *sha)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->q[i].job.sha256, sha))
			return (ssize_t)i;
	return -1;
}

static void remove_at(struct vt *v, size_t i)
{
	vt_job_clear(&v->q[i].job);
	memmove(&v->q[i], &v->q[i + 1], (v->n - i - 1) * sizeof(v->q[0]));
	v->n--;
	v->dirty = true;
}

static int append(struct vt *v, const struct vt_job *j)
{
	if (v->n == VT_QUEUE_MAX)
		return -ENOSPC;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct qent *q;

		if (cap > VT_QUEUE_MAX)
			cap = VT_QUEUE_MAX;
		q = realloc(v->q, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		v->q = q;
		v->cap = cap;
	}
	v->q[v->n++] = (struct qent){ .job = *j };
	v->dirty = true;
	return 0;
}

static void push_outcome(struct vt *v, const char *sha, const char *exe, const struct vt_verdict *vd,
			 const char *status, bool final)
{
	struct onode *n = calloc(1, sizeof(*n));
	uint64_t one = 1;

	if (!n)
		return;
	memcpy(n->o.sha256, sha, 65);
	n->o.exe = strdup(exe ? exe : "");
	if (vd) {
		n->o.has_verdict = true;
		n->o.verdict = *vd;
	}
	n->o.status = status;
	n->o.final = final;
	if (v->done_tail)
		v->done_tail->next = n;
	else
		v->done = n;
	v->done_tail = n;
	v->ndone++;
	if (write(v->efd, &one, sizeof(one)) < 0) {
		/* cannot overflow in practice */
	}
}

/* Save vt-queue.json if it changed (called without the lock). */
static void save_queue(struct vt *v)
{
	char *text;

	pthread_mutex_lock(&v->lock);
	if (!v->dirty) {
		pthread_mutex_unlock(&v->lock);
		return;
	}
	{
		struct vt_job *jobs = malloc((v->n ? v->n : 1) * sizeof(*jobs));

		if (!jobs) {
			pthread_mutex_unlock(&v->lock);
			return;
		}
		for (size_t i = 0; i < v->n; i++)
			jobs[i] = v->q[i].job;
		text = vt_queue_dump(jobs, v->n);
		free(jobs);
	}
	if (text)
		v->dirty = false;
	pthread_mutex_unlock(&v->lock);
	if (text && write_atomic_below(v->o.dirfd, QUEUE_FILE, text, strlen(text), 0600,
				       (uid_t)-1, (gid_t)-1) < 0) {
		pthread_mutex_lock(&v->lock);
		v->dirty = true;	/* tried again after the next request */
		if (!v->note[0])
			snprintf(v->note, sizeof(v->note),
				 "VirusTotal: cannot write %s: %s (the queue is kept in memory)",
				 QUEUE_FILE, strerror(errno));
		pthread_mutex_unlock(&v->lock);
	}
	free(text);
}

static void load_queue(struct vt *v)
{
	struct vt_job *jobs = NULL;
	size_t n = 0, skipped = 0;
	char *text = NULL;
	size_t len;
	int r = read_below(v->o.dirfd, QUEUE_FILE, QUEUE_FILE_MAX, &text, &len);

	if (r == -ENOENT)
		return;
	if (r == 0)
		r = vt_queue_parse(text, len, VT_QUEUE_MAX, &jobs, &n, &skipped);
	free(text);
	if (r < 0) {
		char aside[64];

		snprintf(aside, sizeof(aside), "%s.corrupt-%lld", QUEUE_FILE, (long long)time(NULL));
		if (renameat(v->o.dirfd, QUEUE_FILE, v->o.dirfd, aside) == 0)
			snprintf(v->note, sizeof(v->note),
				 "VirusTotal: %s could not be read (%s): kept as %s; the hashes "
				 "it held are looked up again from record.json",
				 QUEUE_FILE, r == -EBADMSG ? "not a queue" : strerror(-r), aside);
		else
			snprintf(v->note, sizeof(v->note),
				 "VirusTotal: %s could not be read (%s)", QUEUE_FILE,
				 r == -EBADMSG ? "not a queue" : strerror(-r));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (find(v, jobs[i].sha256) >= 0 || append(v, &jobs[i]) < 0) {
			vt_job_clear(&jobs[i]);
			skipped++;
		}
	}
	free(jobs);
	if (skipped)
		snprintf(v->note, sizeof(v->note),
			 "VirusTotal: %zu entries of %s were malformed, repeated or past its bound "
			 "(%d) and were left out",
			 skipped, QUEUE_FILE, VT_QUEUE_MAX);
}

/* ---- HTTP ---- */

struct body {
	char *buf;
	size_t len, cap;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *nb;

	if (b->len + n > VT_BODY_MAX) {
		b->too_big = true;
		return 0;	/* aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;

		while (cap < b->len + n + 1)
			cap *= 2;
		nb = realloc(b->buf, cap);
		if (!nb)
			return 0;
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	return stopping(arg) ? 1 : 0;
}

/* The upload's source: exactly size bytes of fd, whose SHA-256 must be
 * want; the last bytes are handed to libcurl only once the whole file
 * has been checked, so a file that changed is never uploaded whole. */
struct upload {
	int fd;
	uint64_t size, off;
	EVP_MD_CTX *md;
	const char *want;
	bool changed;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t want = size * nitems, got = 0;

	if (u->size - u->off < want)
		want = (size_t)(u->size - u->off);
	while (got < want) {
		ssize_t r = pread(u->fd, buf + got, want - got, (off_t)(u->off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			u->changed = true;	/* shorter than it was, or unreadable now */
			return CURL_READFUNC_ABORT;
		}
		got += (size_t)r;
	}
	EVP_DigestUpdate(u->md, buf, got);
	u->off += got;
	if (u->off == u->size) {
		unsigned char md[32];
		unsigned int mdlen = 0;
		char hex[65];

		EVP_DigestFinal_ex(u->md, md, &mdlen);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		if (strcmp(hex, u->want)) {
			u->changed = true;
			return CURL_READFUNC_ABORT;
		}
	}
	return got;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct upload *u = arg;

	if (origin != SEEK_SET || offset != 0)
		return CURL_SEEKFUNC_CANTSEEK;
	u->off = 0;
	EVP_DigestInit_ex(u->md, EVP_sha256(), NULL);
	return CURL_SEEKFUNC_OK;
}

struct answer {
	long status;		/* HTTP status, 0 when none came */
	struct body body;
	enum vt_err err;	/* when status is 0 */
	char detail[160];
	bool file_changed;	/* an upload stopped: the file no longer matched */
};

/* One request: GET url, or POST the mime form. */
static void request(struct vt *v, const char *url, curl_mime *mime, bool long_transfer,
		    struct upload *up, struct answer *a)
{
	CURL *c = v->curl;
	CURLcode cr;

	memset(a, 0, sizeof(*a));
	sym_curl_easy_reset(c);
	sym_curl_easy_setopt(c, CURLOPT_URL, url);
	sym_curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	sym_curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	sym_curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	sym_curl_easy_setopt(c, CURLOPT_HTTPHEADER, v->headers);
	sym_curl_easy_setopt(c, CURLOPT_USERAGENT, "picosnitch/" PICOSNITCH_VERSION);
	sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	sym_curl_easy_setopt(c, CURLOPT_WRITEDATA, &a->body);
	sym_curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	sym_curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	sym_curl_easy_setopt(c, CURLOPT_XFERINFODATA, v);
	sym_curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(v->o.timeout_ms < CONNECT_TIMEOUT_S * 1000 ? v->o.timeout_ms
									   : CONNECT_TIMEOUT_S * 1000));
	if (long_transfer) {
		/* an upload of up to 650 MB: no total limit, but it must move */
		sym_curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)UPLOAD_LOW_SPEED);
		sym_curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
				 (long)(v->o.timeout_ms / 1000 > UPLOAD_LOW_SPEED_S
						? v->o.timeout_ms / 1000 : UPLOAD_LOW_SPEED_S));
	} else {
		sym_curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)v->o.timeout_ms);
	}
	if (mime)
		sym_curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	cr = sym_curl_easy_perform(c);
	if (up && up->changed) {
		a->file_changed = true;
		return;
	}
	if (cr == CURLE_OK) {
		sym_curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
		return;
	}
	a->status = 0;
	if (cr == CURLE_OPERATION_TIMEDOUT) {
		a->err = VT_ERR_TIMEOUT;
	} else if (cr == CURLE_WRITE_ERROR && a->body.too_big) {
		a->err = VT_ERR_ANSWER;
		snprintf(a->detail, sizeof(a->detail), "an answer larger than %d MiB",
			 VT_BODY_MAX >> 20);
		return;
	} else if (cr == CURLE_ABORTED_BY_CALLBACK && stopping(v)) {
		a->err = VT_ERR_NETWORK;
		snprintf(a->detail, sizeof(a->detail), "stopped");
		return;
	} else {
		a->err = VT_ERR_NETWORK;
	}
	/* libcurl's words name the problem, never the request's headers */
	snprintf(a->detail, sizeof(a->detail), "%s", sym_curl_easy_strerror(cr));
}

/* ---- one step of a job ---- */

enum next {
	N_DONE,		/* final outcome pushed: remove */
	N_STATUS,	/* interim status pushed, job changed: keep */
	N_RETRY,	/* a failure of a kind: pause everything, try again */
	N_LATER,	/* try this one again after its own delay */
};

struct step {
	enum next next;
	enum vt_err err;
	char detail[160];
	struct vt_job job;	/* the job as it goes on (owned strings) */
	uint64_t delay_ms;	/* N_LATER */
	struct vt_verdict verdict;
	bool has_verdict;
	const char *status;
};

static void fail_answer(struct answer *a, struct step *s)
{
	char code[VT_CODE_MAX];

	s->next = N_RETRY;
	if (a->status == 0) {
		s->err = a->err;
		snprintf(s->detail, sizeof(s->detail), "%s", a->detail);
		return;
	}
	vt_parse_error(a->body.buf, a->body.len, code);
	if (a->status == 401 || a->status == 403)
		s->err = VT_ERR_KEY;
	else if (a->status == 429)
		s->err = VT_ERR_QUOTA;
	else if (a->status >= 500 && a->status <= 599)
		s->err = VT_ERR_SERVER;
	else
		s->err = VT_ERR_ANSWER;
	snprintf(s->detail, sizeof(s->detail), "HTTP %ld%s%s", a->status, code[0] ? " " : "",
		 code);
}

static uint64_t poll_delay(struct vt *v, uint32_t polls)
{
	uint64_t d = v->o.poll_ms;

	if ((uint64_t)v->o.request_limit * 1000 > d)
		d = (uint64_t)v->o.request_limit * 1000;
	for (uint32_t i = 0; i < polls && d < POLL_MAX_MS; i++)
		d *= 2;
	return d < POLL_MAX_MS ? d : POLL_MAX_MS;
}

static void do_lookup(struct vt *v, struct step *s)
{
	char url[768];
	struct answer a;
	int r;

	snprintf(url, sizeof(url), "%s/api/v3/files/%s", v->base, s->job.sha256);
	request(v, url, NULL, false, NULL, &a);
	if (a.status == 200) {
		r = vt_parse_file(a.body.buf, a.body.len, &s->verdict);
		if (r == 0) {
			s->next = N_DONE;
			s->has_verdict = true;
		} else if (r == -ENODATA) {
			/* known there, not analysed yet: ask again later */
			s->next = N_LATER;
			s->delay_ms = poll_delay(v, s->job.polls++);
			if (s->job.polls > VT_POLLS_MAX) {
				s->next = N_DONE;
				s->status = VT_ST_NOT_FINISHED;
			}
		} else {
			s->next = N_RETRY;
			s->err = VT_ERR_ANSWER;
			snprintf(s->detail, sizeof(s->detail), "a file report that is not one");
		}
	} else if (a.status == 404) {
		if (v->o.upload) {
			s->job.stage = VT_STAGE_UPLOAD;
			s->next = N_LATER;
			s->delay_ms = 0;
		} else {
			s->next = N_DONE;
			s->status = VT_ST_UNKNOWN_NO_UPLOAD;
		}
	} else {
		fail_answer(&a, s);
	}
	free(a.body.buf);
}

/* The path as it was seen (safe text) back to its bytes: "\\" and "\xNN"
 * undone (strutil's text_from_bytes).  NULL when it is not a path. */
static char *path_bytes(const char *text)
{
	size_t n = strlen(text), o = 0;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned x;

		if (text[i] != '\\') {
			out[o++] = text[i];
		} else if (text[i + 1] == '\\') {
			out[o++] = '\\';
			i++;
		} else if (text[i + 1] == 'x' && sscanf(text + i + 2, "%2x", &x) == 1 &&
			   text[i + 2] && text[i + 3] && x != 0) {
			out[o++] = (char)x;
			i += 3;
		} else {
			free(out);
			return NULL;
		}
	}
	out[o] = '\0';
	return out;
}

/* Open the job's file for reading, as this user: by the process running
 * it if it still does, else by its path; O_PATH first, checked to be a
 * regular file (and the file that ran, when its identity is known), only
 * then opened for reading, and its SHA-256 must be the job's.  0 with
 * *fd and *size, or a status text. */
static const char *open_checked(struct vt *v, const struct vt_job *j, int *fd, uint64_t *size)
{
	char proc[64], hex[65];
	struct stat st;
	int pfd = -1, rfd;

	*fd = -1;
	if (j->pid) {
		snprintf(proc, sizeof(proc), "/proc/%u/exe", j->pid);
		pfd = open(proc, O_PATH | O_CLOEXEC);
		if (pfd >= 0 && (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) ||
				 (j->ino && !fileid_matches(pfd, &st, j->ino, j->dev, v->o.dev_mask, j->pid)))) {
			close(pfd);
			pfd = -1;
		}
	}
	if (pfd < 0 && j->exe && j->exe[0] == '/') {
		char *path = path_bytes(j->exe);

		if (path)
			pfd = open(path, O_PATH | O_CLOEXEC);
		free(path);
	}
	if (pfd < 0)
		return VT_ST_GONE;
	/* by path, the inode may differ after an update with the same
	 * contents: the hash below decides */
	if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(pfd);
		return VT_ST_GONE;
	}
	if ((uint64_t)st.st_size > v->o.upload_max) {
		close(pfd);
		return VT_ST_TOO_BIG;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	close(pfd);
	if (rfd < 0)
		return errno == EACCES || errno == EPERM ? VT_ST_UNREADABLE : VT_ST_GONE;
	if (sha256_fd(rfd, hex) < 0) {
		close(rfd);
		return VT_ST_UNREADABLE;
	}
	if (strcmp(hex, j->sha256)) {
		close(rfd);
		return VT_ST_GONE;
	}
	*fd = rfd;
	*size = (uint64_t)st.st_size;
	return NULL;
}

/* The name the file is sent under: its base name, in characters any
 * form accepts (others become '_'). */
static void upload_name(const char *exe, char *out, size_t len)
{
	const char *base = exe ? strrchr(exe, '/') : NULL;
	size_t o = 0;

	base = base ? base + 1 : (exe ? exe : "");
	for (; *base && o + 1 < len; base++) {
		char c = *base;

		out[o++] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
					   (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+'
				   ? c : '_';
	}
	if (!o && len > 4)
		o = (size_t)snprintf(out, len, "file");
	out[o] = '\0';
}

/* Wait until the request limit allows the next request (false: stopping). */
static bool wait_turn(struct vt *v)
{
	pthread_mutex_lock(&v->lock);
	while (!stopping(v) && now_ms() < v->next_request_ms) {
		uint64_t t = v->next_request_ms;
		struct timespec ts = { .tv_sec = (time_t)(t / 1000),
				       .tv_nsec = (long)(t % 1000) * 1000000 };

		pthread_cond_timedwait(&v->more, &v->lock, &ts);
	}
	v->next_request_ms = now_ms() + (uint64_t)v->o.request_limit * 1000;
	pthread_mutex_unlock(&v->lock);
	return !stopping(v);
}

static void do_upload(struct vt *v, struct step *s)
{
	char url[VT_URL_MAX + 64], name[256];
	struct upload up = { .fd = -1 };
	const char *why;
	struct answer a;
	curl_mime *mime = NULL;
	curl_mimepart *part;
	int fd;
	uint64_t size = 0;

	why = open_checked(v, &s->job, &fd, &size);
	if (why) {
		s->next = N_DONE;
		s->status = why;
		return;
	}
	if (size > v->o.simple_upload_max) {
		/* larger files go to a URL of their own */
		snprintf(url, sizeof(url), "%s/api/v3/files/upload_url", v->base);
		request(v, url, NULL, false, NULL, &a);
		if (a.status != 200) {
			fail_answer(&a, s);
			goto out;
		}
		if (vt_parse_upload_url(a.body.buf, a.body.len, v->base, url) < 0) {
			s->next = N_RETRY;
			s->err = VT_ERR_ANSWER;
			snprintf(s->detail, sizeof(s->detail), "an upload URL that is not one");
			goto out;
		}
		free(a.body.buf);
		a.body.buf = NULL;
		if (!wait_turn(v)) {
			s->next = N_RETRY;
			s->err = VT_ERR_NETWORK;
			snprintf(s->detail, sizeof(s->detail), "stopped");
			goto out_fd;
		}
	} else {
		snprintf(url, sizeof(url), "%s/api/v3/files", v->base);
	}
	up.fd = fd;
	up.size = size;
	up.want = s->job.sha256;
	up.md = EVP_MD_CTX_new();
	mime = sym_curl_mime_init(v->curl);
	part = mime ? sym_curl_mime_addpart(mime) : NULL;
	if (!up.md || !part || !EVP_DigestInit_ex(up.md, EVP_sha256(), NULL)) {
		s->next = N_LATER;
		s->delay_ms = 1000;
		goto out_fd;
	}
	upload_name(s->job.exe, name, sizeof(name));
	sym_curl_mime_name(part, "file");
	sym_curl_mime_filename(part, name);
	sym_curl_mime_type(part, "application/octet-stream");
	sym_curl_mime_data_cb(part, (curl_off_t)size, on_read, on_seek, NULL, &up);
	request(v, url, mime, true, &up, &a);
	if (a.file_changed) {
		s->next = N_DONE;
		s->status = VT_ST_GONE;
	} else if (a.status == 200) {
		char id[VT_ID_MAX];

		if (vt_parse_upload(a.body.buf, a.body.len, id) == 0 &&
		    (s->job.analysis = strdup(id))) {
			s->job.stage = VT_STAGE_POLL;
			s->job.polls = 0;
			s->next = N_STATUS;
			s->status = VT_ST_ANALYSING;
			s->delay_ms = poll_delay(v, 0);
		} else {
			s->next = N_RETRY;
			s->err = VT_ERR_ANSWER;
			snprintf(s->detail, sizeof(s->detail), "an upload answer without an analysis id");
		}
	} else {
		fail_answer(&a, s);
	}
out:
	free(a.body.buf);
out_fd:
	sym_curl_mime_free(mime);
	EVP_MD_CTX_free(up.md);
	close(fd);
}

static void do_poll(struct vt *v, struct step *s)
{
	char url[VT_ID_MAX * 3 + 640], *id;
	struct answer a;
	bool completed = false;

	id = sym_curl_easy_escape(v->curl, s->job.analysis ? s->job.analysis : "", 0);
	if (!id) {
		s->next = N_LATER;
		s->delay_ms = 1000;
		return;
	}
	snprintf(url, sizeof(url), "%s/api/v3/analyses/%s", v->base, id);
	sym_curl_free(id);
	request(v, url, NULL, false, NULL, &a);
	if (a.status == 200) {
		if (vt_parse_analysis(a.body.buf, a.body.len, &completed, &s->verdict) < 0) {
			s->next = N_RETRY;
			s->err = VT_ERR_ANSWER;
			snprintf(s->detail, sizeof(s->detail), "an analysis that is not one");
		} else if (completed) {
			s->next = N_DONE;
			s->has_verdict = true;
		} else if (++s->job.polls >= VT_POLLS_MAX) {
			s->next = N_DONE;
			s->status = VT_ST_NOT_FINISHED;
		} else {
			s->next = N_LATER;
			s->delay_ms = poll_delay(v, s->job.polls);
		}
	} else if (a.status == 404) {
		/* the analysis is gone: ask for the file's report instead */
		free(s->job.analysis);
		s->job.analysis = NULL;
		s->job.stage = VT_STAGE_LOOKUP;
		s->next = N_LATER;
		s->delay_ms = 0;
	} else {
		fail_answer(&a, s);
	}
	free(a.body.buf);
}

/* ---- the worker ---- */

static int job_copy(struct vt_job *dst, const struct vt_job *src)
{
	*dst = *src;
	dst->exe = strdup(src->exe ? src->exe : "");
	dst->analysis = src->analysis ? strdup(src->analysis) : NULL;
	if (!dst->exe || (src->analysis && !dst->analysis)) {
		vt_job_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* The next job that may go (under the lock): of those due, the one due
 * the longest (the first queued among equals), so a job that keeps
 * failing goes behind the others and cannot starve them; or -1 with the
 * time to wait until in *wake. */
static ssize_t next_job(struct vt *v, uint64_t now, uint64_t *wake)
{
	uint64_t earliest = UINT64_MAX;
	uint64_t gate = v->pause_until_ms > v->next_request_ms ? v->pause_until_ms
								: v->next_request_ms;
	ssize_t pick = -1;

	if (!v->n || gate > now) {
		*wake = v->n ? gate : UINT64_MAX;
		return -1;
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->q[i].due_ms < earliest) {
			earliest = v->q[i].due_ms;
			pick = (ssize_t)i;
		}
	}
	if (pick >= 0 && earliest <= now)
		return pick;
	*wake = earliest;
	return -1;
}

static void apply(struct vt *v, struct step *s)
{
	ssize_t i = find(v, s->job.sha256);
	struct qent *e;

	if (i < 0)
		return;
	e = &v->q[i];
	if (s->next == N_RETRY) {
		struct errkind *k = &v->errs[s->err];

		if (stopping(v))
			return;
		if (!k->announced && !k->pending) {
			k->pending = true;
			snprintf(k->detail, sizeof(k->detail), "%s", s->detail);
		}
		k->count++;
		e->failing = 1u << s->err;
		v->recovered = false;
		v->pause_until_ms = now_ms() + v->backoff_ms;
		/* behind every job already waiting */
		e->due_ms = v->pause_until_ms;
		v->backoff_ms = v->backoff_ms * 2 < BACKOFF_MAX_MS ? v->backoff_ms * 2 : BACKOFF_MAX_MS;
		if (s->err == VT_ERR_ANSWER && ++e->bad_answers >= BAD_ANSWERS_MAX) {
			push_outcome(v, e->job.sha256, e->job.exe, NULL, VT_ST_BAD_ANSWERS, true);
			remove_at(v, (size_t)i);
		}
		return;
	}
	/* an answer that could be used: the service works */
	v->backoff_ms = v->o.backoff_ms;
	v->recovered = true;
	e->failing = 0;
	switch (s->next) {
	case N_DONE:
		push_outcome(v, e->job.sha256, e->job.exe, s->has_verdict ? &s->verdict : NULL,
			     s->status, true);
		remove_at(v, (size_t)i);
		return;
	case N_STATUS:
		push_outcome(v, e->job.sha256, e->job.exe, NULL, s->status, false);
		break;
	default:
		break;
	}
	vt_job_clear(&e->job);
	e->job = s->job;
	memset(&s->job, 0, sizeof(s->job));
	e->due_ms = now_ms() + s->delay_ms;
	e->bad_answers = 0;
	v->dirty = true;
}

static void *worker(void *arg)
{
	struct vt *v = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct step s = { 0 };
		uint64_t wake = 0;
		ssize_t i;

		save_queue(v);
		pthread_mutex_lock(&v->lock);
		i = stopping(v) ? -1 : next_job(v, now_ms(), &wake);
		if (i < 0 || v->ndone >= OUTCOMES_MAX) {
			if (stopping(v)) {
				pthread_mutex_unlock(&v->lock);
				break;
			}
			if (wake == UINT64_MAX || v->ndone >= OUTCOMES_MAX) {
				pthread_cond_wait(&v->more, &v->lock);
			} else {
				struct timespec ts = { .tv_sec = (time_t)(wake / 1000),
						       .tv_nsec = (long)(wake % 1000) * 1000000 };

				pthread_cond_timedwait(&v->more, &v->lock, &ts);
			}
			pthread_mutex_unlock(&v->lock);
			continue;
		}
		if (job_copy(&s.job, &v->q[i].job) < 0) {
			v->q[i].due_ms = now_ms() + 1000;
			pthread_mutex_unlock(&v->lock);
			continue;
		}
		v->next_request_ms = now_ms() + (uint64_t)v->o.request_limit * 1000;
		pthread_mutex_unlock(&v->lock);

		switch (s.job.stage) {
		case VT_STAGE_LOOKUP:
			do_lookup(v, &s);
			break;
		case VT_STAGE_UPLOAD:
			do_upload(v, &s);
			break;
		case VT_STAGE_POLL:
			do_poll(v, &s);
			break;
		}
		pthread_mutex_lock(&v->lock);
		apply(v, &s);
		pthread_mutex_unlock(&v->lock);
		vt_job_clear(&s.job);
	}
	return NULL;
}

/* ---- the interface ---- */

static bool key_ok(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] <= ' ' || key[i] >= 0x7f)
			return false;
	return true;
}

int vt_new(const struct vt_opts *opts, struct vt **ret, char *err, size_t errlen)
{
	char why[400];
	struct vt *v;
	pthread_condattr_t ca;
	size_t n;
	int r;

	*ret = NULL;
	err[0] = '\0';
	if (!opts->api_key || !opts->api_key[0])
		return 0;
	if (!key_ok(opts->api_key)) {
		snprintf(err, errlen,
			 "\"VT API key\" in config.json holds characters an API key does not have "
			 "(spaces, control characters) or is longer than 256: VirusTotal is not used");
		return 0;
	}
	if (curl_lib_load(why, sizeof(why)) < 0) {
		snprintf(err, errlen, "VirusTotal is not used: %s", why);
		return 0;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->o = *opts;
	if (!v->o.base_url || !v->o.base_url[0])
		v->o.base_url = VT_DEFAULT_URL;
	snprintf(v->base, sizeof(v->base), "%s", v->o.base_url);
	n = strlen(v->base);
	while (n && v->base[n - 1] == '/')
		v->base[--n] = '\0';
	v->o.base_url = v->base;
	if (!v->o.simple_upload_max)
		v->o.simple_upload_max = VT_SIMPLE_UPLOAD_MAX;
	if (!v->o.upload_max)
		v->o.upload_max = VT_UPLOAD_MAX;
	if (!v->o.timeout_ms)
		v->o.timeout_ms = 60000;
	if (!v->o.backoff_ms)
		v->o.backoff_ms = 30000;
	if (!v->o.poll_ms)
		v->o.poll_ms = 30000;
	if (v->o.request_limit < 0)
		v->o.request_limit = 0;
	v->backoff_ms = v->o.backoff_ms;
	v->o.api_key = NULL;	/* the header holds it; nothing else does */
	v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->efd < 0) {
		r = -errno;
		free(v);
		return r;
	}
	if (asprintf(&v->key_header, "x-apikey: %s", opts->api_key) < 0) {
		v->key_header = NULL;
		r = -ENOMEM;
		goto fail;
	}
	v->headers = sym_curl_slist_append(NULL, v->key_header);
	v->headers = v->headers ? sym_curl_slist_append(v->headers, "accept: application/json") : NULL;
	v->curl = sym_curl_easy_init();
	if (!v->headers || !v->curl) {
		r = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&v->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&v->more, &ca);
	pthread_condattr_destroy(&ca);
	load_queue(v);
	{
		/* the systemd unit allows no IP sockets (RestrictAddressFamilies,
		 * for the monitor's sake): say so once rather than fail quietly */
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (s >= 0)
			close(s);
		else if (!v->note[0])
			snprintf(v->note, sizeof(v->note),
				 "VirusTotal: this process may not open IP sockets (%s): the "
				 "systemd unit of picosnitch allows none (RestrictAddressFamilies=AF_UNIX); "
				 "VirusTotal needs a unit that allows AF_INET and AF_INET6",
				 strerror(errno));
	}
	r = pthread_create(&v->thread, NULL, worker, v);
	if (r) {
		snprintf(err, errlen, "VirusTotal: cannot start its thread: %s", strerror(r));
		r = -r;
		pthread_mutex_destroy(&v->lock);
		pthread_cond_destroy(&v->more);
		goto fail_queue;
	}
	v->started = true;
	*ret = v;
	return 0;
fail_queue:
	for (size_t i = 0; i < v->n; i++)
		vt_job_clear(&v->q[i].job);
	free(v->q);
fail:
	if (v->curl)
		sym_curl_easy_cleanup(v->curl);
	sym_curl_slist_free_all(v->headers);
	if (v->key_header)
		explicit_bzero(v->key_header, strlen(v->key_header));
	free(v->key_header);
	close(v->efd);
	free(v);
	return r;
}

void vt_free(struct vt *v)
{
	struct timespec until;

	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	__atomic_store_n(&v->stopping, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&v->more);
	pthread_mutex_unlock(&v->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	if (pthread_timedjoin_np(v->thread, NULL, &until) != 0) {
		/* stuck opening a file (a FUSE server that never answers):
		 * the process is about to exit; the worker may still use v */
		pthread_detach(v->thread);
		return;
	}
	save_queue(v);
	for (size_t i = 0; i < v->n; i++)
		vt_job_clear(&v->q[i].job);
	free(v->q);
	while (v->done) {
		struct onode *n = v->done;

		v->done = n->next;
		vt_outcome_clear(&n->o);
		free(n);
	}
	sym_curl_easy_cleanup(v->curl);
	sym_curl_slist_free_all(v->headers);
	explicit_bzero(v->key_header, strlen(v->key_header));
	free(v->key_header);
	close(v->efd);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->more);
	free(v);
}

int vt_submit(struct vt *v, const char *sha256, const char *exe, uint64_t ino, uint32_t dev,
	      uint32_t pid)
{
	struct vt_job j = { .ino = ino, .dev = dev, .pid = pid, .stage = VT_STAGE_LOOKUP };
	int r;

	if (!vt_is_sha256(sha256))
		return -EINVAL;
	memcpy(j.sha256, sha256, 65);
	pthread_mutex_lock(&v->lock);
	if (find(v, sha256) >= 0) {
		pthread_mutex_unlock(&v->lock);
		return 0;
	}
	j.exe = strndup(exe ? exe : "", VT_PATH_MAX - 1);
	r = j.exe ? append(v, &j) : -ENOMEM;
	if (r < 0) {
		free(j.exe);
		if (r == -ENOSPC)
			v->overflow++;
	} else {
		pthread_cond_signal(&v->more);
	}
	pthread_mutex_unlock(&v->lock);
	return r < 0 ? r : 1;
}

int vt_fd(struct vt *v)
{
	return v->efd;
}

int vt_take(struct vt *v, struct vt_outcome *ret)
{
	struct onode *n;
	uint64_t cnt;

	pthread_mutex_lock(&v->lock);
	n = v->done;
	if (n) {
		v->done = n->next;
		if (!v->done)
			v->done_tail = NULL;
		if (v->ndone-- == OUTCOMES_MAX)
			pthread_cond_signal(&v->more);
	} else if (read(v->efd, &cnt, sizeof(cnt)) < 0) {
		/* drained */
	}
	pthread_mutex_unlock(&v->lock);
	if (!n)
		return -EAGAIN;
	*ret = n->o;
	free(n);
	return 0;
}

void vt_outcome_clear(struct vt_outcome *o)
{
	free(o->exe);
	o->exe = NULL;
}

size_t vt_queued(struct vt *v)
{
	size_t n;

	pthread_mutex_lock(&v->lock);
	n = v->n;
	pthread_mutex_unlock(&v->lock);
	return n;
}

void vt_report(struct vt *v, struct errlog *e, bool at_exit)
{
	unsigned failing = 0;

	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	/* A kind has not recovered while a hash whose last try failed with it
	 * still waits, even if other hashes are answered meanwhile: one hash
	 * that keeps failing must not make its kind's first line, and its
	 * "answers again", come back at every retry. */
	for (size_t i = 0; i < v->n; i++)
		failing |= v->q[i].failing;
	if (v->note[0]) {
		errlog_add(e, "%s", v->note);
		v->note[0] = '\0';
	}
	if (v->overflow > v->overflow_reported) {
		errlog_add(e,
			   "VirusTotal: %" PRIu64 " hashes were not queued: the queue holds %d; "
			   "they are queued again at the next start",
			   v->overflow - v->overflow_reported, VT_QUEUE_MAX);
		v->overflow_reported = v->overflow;
	}
	for (int k = 0; k < VT_ERR_MAX; k++) {
		struct errkind *ek = &v->errs[k];

		if (ek->pending) {
			errlog_add(e, "%s (%s): retrying with growing pauses (up to an hour); "
				   "further failures of this kind are counted",
				   err_what[k], ek->detail);
			ek->pending = false;
			ek->announced = true;
			ek->count--;	/* this one is said */
		}
		if (!ek->announced)
			continue;
		if (v->recovered && !(failing & (1u << k))) {
			if (ek->count)
				errlog_add(e, "VirusTotal answers again; %" PRIu64 " more requests "
					   "had failed: %s", ek->count, err_what[k]);
			ek->count = 0;
			ek->announced = false;
		} else if (at_exit && ek->count) {
			errlog_add(e, "VirusTotal: %" PRIu64 " more requests failed (%s) until "
				   "picosnitch stopped; the queue is kept in %s", ek->count,
				   err_what[k], QUEUE_FILE);
			ek->count = 0;
		}
	}
	pthread_mutex_unlock(&v->lock);
}
