/* The executable cache, its fanotify watch, and SHA-256 on worker threads
 * (see exehash.h).  Only the event loop's thread touches the cache; the
 * workers get jobs (a file reference and the generation to hash) through
 * a queue and hand results back through a list and an eventfd.  The
 * workers never read a file on FUSE (exehash_get hands those to the
 * desktop user's process), so no user can wedge them. */
#include "identity/exehash.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#include "util/fileid.h"
#include "util/sha256.h"
#include "util/fsutil.h"
#include "util/strutil.h"


struct job {
	struct exe_file *f;	/* reference held while the job lives */
	uint64_t gen;
	char result[65];
	char md5[33];
	bool md5_only;		/* exehash_md5: the MD5 alone */
	struct job *next;
};

struct exehash {
	struct exehash_opts opts;
	struct exe_file *cache;
	size_t open_count;
	int fan_fd;
	int done_fd;
	/* worker side */
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t lock;
	pthread_cond_t more;
	pthread_cond_t idle;
	struct job *queue, *queue_tail;
	struct job *done;
	int running;
	bool stopping;
	int md5_jobs;		/* exehash_md5 jobs not yet handled */
	struct exehash_stats stats;
};

static uint64_t mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- workers ---- */

static void *worker(void *arg)
{
	struct exehash *h = arg;
	sigset_t all;

	/* signals belong to the event loop's thread */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* hashing is bulk work: the default priority, whatever the monitor's */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 0);
	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct job *j;
		uint64_t one = 1;

		while (!h->queue && !h->stopping)
			pthread_cond_wait(&h->more, &h->lock);
		if (!h->queue)
			break;
		j = h->queue;
		h->queue = j->next;
		if (!h->queue)
			h->queue_tail = NULL;
		h->running++;
		pthread_mutex_unlock(&h->lock);

		if (j->md5_only) {
			if (digests_fd(j->f->fd, NULL, j->md5) < 0)
				j->md5[0] = '\0';
		} else if (sha256_fd(j->f->fd, j->result) < 0) {
			snprintf(j->result, sizeof(j->result), "%s", SHA_UNREADABLE);
		}

		pthread_mutex_lock(&h->lock);
		h->running--;
		j->next = h->done;
		h->done = j;
		if (write(h->done_fd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow in practice */
		}
		if (!h->queue && !h->running)
			pthread_cond_broadcast(&h->idle);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void job_free(struct job *j)
{
	free(j);
}

/* The desktop user's process hashes it (root does not read it). */
static void ask_user(struct exehash *h, struct exe_file *f, uint32_t pid, const char *path)
{
	f->state = EXE_DONE;
	f->hashed_gen = f->gen;
	f->sha256[0] = '\0';
	if (h->opts.on_user_hash)
		h->opts.on_user_hash(h->opts.ctx, f, pid, path);
}

static void queue_job(struct exehash *h, struct job *j)
{
	pthread_mutex_lock(&h->lock);
	if (h->queue_tail)
		h->queue_tail->next = j;
	else
		h->queue = j;
	h->queue_tail = j;
	pthread_cond_signal(&h->more);
	pthread_mutex_unlock(&h->lock);
}

static void enqueue(struct exehash *h, struct exe_file *f)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j) {
		f->state = EXE_FAILED;
		snprintf(f->sha256, sizeof(f->sha256), "%s", SHA_UNREADABLE);
		return;
	}
	f->refs++;
	f->state = EXE_PENDING;
	f->md5[0] = '\0';
	j->f = f;
	j->gen = f->gen;
	queue_job(h, j);
}

/* ---- the cache ---- */

static void entry_free(struct exehash *h, struct exe_file *f)
{
	if (f->fd >= 0) {
		if (h->fan_fd >= 0)
			fanotify_mark(h->fan_fd, FAN_MARK_REMOVE, FAN_MODIFY, f->fd, NULL);
		close(f->fd);
		h->open_count--;
	}
	free(f);
}

/* Keep within the descriptor budget: close the least recently used files
 * no one refers to. */
static void evict(struct exehash *h)
{
	while (h->open_count > h->opts.max_open) {
		struct exe_file *f, *tmp, *oldest = NULL;

		HASH_ITER(hh, h->cache, f, tmp) {
			if (!f->refs && f->fd >= 0 && (!oldest || f->last_used < oldest->last_used))
				oldest = f;
		}
		if (!oldest)
			return;
		HASH_DEL(h->cache, oldest);
		entry_free(h, oldest);
		h->stats.evicted++;
	}
}

/* An entry outside the cache carrying a sentinel (nothing to keep open). */
static struct exe_file *sentinel(const struct exe_key *key, const char *sha)
{
	struct exe_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->key = *key;
	f->fd = -1;
	f->state = EXE_FAILED;
	f->flags = EXE_SENTINEL;
	f->refs = 1;
	snprintf(f->sha256, sizeof(f->sha256), "%s", sha);
	return f;
}

static unsigned path_flags(uint32_t pid)
{
	char path[64], target[PATH_MAX];
	ssize_t n;
	unsigned flags = 0;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	if (str_has_prefix(target, "/memfd:"))
		flags |= EXE_MEMFD;
	if (n > 10 && !strcmp(target + n - 10, " (deleted)"))
		flags |= EXE_DELETED;
	return flags;
}

/* A new cache entry for a file the desktop user's process hashes. */
static struct exe_file *ask_user_new(struct exehash *h, const struct exe_key *key, uint32_t pid,
				     const char *path)
{
	struct exe_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->key = *key;
	f->fd = -1;
	f->flags = EXE_VIA_USER | path_flags(pid);
	f->refs = 1;
	f->last_used = mono_seconds();
	HASH_ADD(hh, h->cache, key, sizeof(f->key), f);
	ask_user(h, f, pid, path);
	return f;
}

/* FUSE servers are processes of a user: a request they leave unanswered
 * would block whoever made it.  Root makes none to them (not even open or
 * statfs); the desktop user's process reads such files. */
static bool on_fuse(int fd, uint32_t pid)
{
	char type[24];

	return fileid_fstype(fd, pid, type, sizeof(type)) == 0 &&
	       (!strcmp(type, "fuse") || !strncmp(type, "fuse.", 5) || !strcmp(type, "fuseblk"));
}

/* Open the regular file behind an O_PATH descriptor for reading.  The
 * descriptor was opened without following it to a device or a FIFO: a path
 * a process chose can name a terminal (which would become the monitor's
 * controlling terminal) or a device whose open has effects. */
static int reopen_regular(int pfd, int *err)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	*err = fd < 0 ? errno : 0;
	return fd;
}

struct exe_file *exehash_get(struct exehash *h, uint32_t pid, const char *path_hint, uint32_t dev,
			     uint64_t ino)
{
	struct exe_key key = { .ino = ino, .dev = dev & h->opts.dev_mask };
	struct exe_file *f;
	char path[64];
	struct stat st;
	int pfd = -1, fd = -1, err;
	bool by_hint = false, fuse;

	if (!ino)
		return sentinel(&key, SHA_NONE);
	HASH_FIND(hh, h->cache, &key, sizeof(key), f);
	if (f) {
		f->refs++;
		f->last_used = mono_seconds();
		/* written since it was hashed: the next use hashes it again */
		if (f->state != EXE_PENDING && f->hashed_gen != f->gen) {
			if (f->fd >= 0)
				enqueue(h, f);
			else if (f->flags & EXE_VIA_USER)
				ask_user(h, f, pid, path_hint);
		}
		return f;
	}

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	pfd = pid ? open(path, O_PATH | O_CLOEXEC) : -1;
	err = pid ? errno : ENOENT;
	if (pfd < 0 && err != EACCES && path_hint && path_hint[0] == '/') {
		/* the process is gone: its path still names the same file if the
		 * inode matches */
		pfd = open(path_hint, O_PATH | O_CLOEXEC);
		err = errno;
		by_hint = true;
	}
	/* on FUSE (nothing is asked of its server, not even a stat), or not
	 * even reachable by root (a FUSE mount without allow_other): the
	 * desktop user's process checks it and reads it */
	fuse = pfd >= 0 && on_fuse(pfd, by_hint ? 0 : pid);
	if (fuse || (pfd < 0 && err == EACCES)) {
		if (pfd >= 0)
			close(pfd);
		return ask_user_new(h, &key, pid, path_hint);
	}
	if (pfd < 0) {
		h->stats.exited++;
		return sentinel(&key, SHA_EXITED);
	}
	if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !fileid_matches(pfd, &st, ino, key.dev, h->opts.dev_mask, by_hint ? 0 : pid)) {
		/* by path: another file is there now (an update, or an attacker
		 * covering tracks), never hashed in the old one's name; by pid:
		 * the process runs another program now (it exec'd since;
		 * counted by the caller) */
		close(pfd);
		if (by_hint)
			h->stats.replaced++;
		return sentinel(&key, SHA_REPLACED);
	}
	fd = reopen_regular(pfd, &err);
	close(pfd);
	if (fd < 0 && err == EACCES)
		return ask_user_new(h, &key, pid, path_hint);	/* root may not read it */
	if (fd < 0) {
		h->stats.exited++;
		return sentinel(&key, SHA_EXITED);
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return NULL;
	}
	f->key = key;
	f->fd = fd;
	f->flags = path_flags(pid);
	f->refs = 1;
	f->last_used = mono_seconds();
	if (h->fan_fd >= 0)
		fanotify_mark(h->fan_fd, FAN_MARK_ADD, FAN_MODIFY, fd, NULL);
	HASH_ADD(hh, h->cache, key, sizeof(f->key), f);
	h->open_count++;
	enqueue(h, f);
	evict(h);
	return f;
}

void exehash_put(struct exehash *h, struct exe_file *f)
{
	if (!f)
		return;
	if (--f->refs > 0)
		return;
	if (f->fd < 0 && !(f->flags & EXE_VIA_USER)) {
		free(f);	/* a sentinel: never in the cache */
		return;
	}
	evict(h);
}

void exehash_handle_done(struct exehash *h)
{
	struct job *list, *j;
	uint64_t n;

	if (read(h->done_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&h->lock);
	list = h->done;
	h->done = NULL;
	pthread_mutex_unlock(&h->lock);
	while ((j = list)) {
		struct exe_file *f = j->f;

		list = j->next;
		if (j->md5_only) {
			/* for the contents the SHA-256 describes, or none */
			bool same = j->gen == f->gen && f->hashed_gen == j->gen && j->md5[0];

			h->md5_jobs--;
			if (same)
				snprintf(f->md5, sizeof(f->md5), "%s", j->md5);
			if (h->opts.on_md5)
				h->opts.on_md5(h->opts.ctx, f, same ? j->md5 : "");
		} else if (j->gen == f->gen) {
			/* (a result for an older generation is stale: the
			 * next use hashes the file again) */
			snprintf(f->sha256, sizeof(f->sha256), "%s", j->result);
			f->md5[0] = '\0';
			f->hashed_gen = j->gen;
			f->state = j->result[0] == '!' ? EXE_FAILED : EXE_DONE;
			if (!strcmp(j->result, SHA_EXITED))
				h->stats.exited++;
			else if (j->result[0] == '!')
				h->stats.unreadable++;
			else
				h->stats.hashed++;
			if (h->opts.on_hashed)
				h->opts.on_hashed(h->opts.ctx, f);
		} else if (f->fd >= 0) {
			/* written while it was read: hash what it is now */
			enqueue(h, f);
		} else {
			f->state = EXE_DONE;
		}
		exehash_put(h, f);
		job_free(j);
	}
}

void exehash_handle_fanotify(struct exehash *h)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
	ssize_t n;

	while ((n = read(h->fan_fd, buf, sizeof(buf))) > 0) {
		struct fanotify_event_metadata *m = (void *)buf;

		for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			struct exe_key key = { 0 };
			struct exe_file *f, *tmp;
			uint64_t ino;
			uint32_t dev;

			if (m->mask & FAN_Q_OVERFLOW) {
				/* events lost: every file is suspect */
				HASH_ITER(hh, h->cache, f, tmp)
					f->gen++;
				continue;
			}
			if (m->fd < 0)
				continue;
			/* the writer's mount table names a mount only its
			 * namespace holds (a container's) */
			if (fileid_key(m->fd, m->pid > 0 ? (uint32_t)m->pid : 0, &ino, &dev) == 0) {
				key.ino = ino;
				key.dev = dev & h->opts.dev_mask;
				HASH_FIND(hh, h->cache, &key, sizeof(key), f);
				if (f)
					f->gen++;
			}
			close(m->fd);
		}
	}
}

int exehash_fanotify_fd(struct exehash *h)
{
	return h->fan_fd;
}

int exehash_done_fd(struct exehash *h)
{
	return h->done_fd;
}

int exehash_md5(struct exehash *h, uint64_t ino, uint32_t dev, const char *sha)
{
	struct exe_key key = { .ino = ino, .dev = dev };
	struct exe_file *f;
	struct job *j;

	HASH_FIND(hh, h->cache, &key, sizeof(key), f);
	if (!f || f->fd < 0)
		return -ENOENT;
	if (f->state != EXE_DONE || f->hashed_gen != f->gen || strcmp(f->sha256, sha))
		return -ESTALE;
	if (f->md5[0] && h->opts.on_md5) {
		h->opts.on_md5(h->opts.ctx, f, f->md5);	/* known already */
		return 0;
	}
	if (h->md5_jobs >= EXEHASH_MD5_MAX)
		return -EBUSY;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	f->refs++;
	j->f = f;
	j->gen = f->gen;
	j->md5_only = true;
	h->md5_jobs++;
	queue_job(h, j);
	return 0;
}

void exehash_settle(struct exehash *h, int timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&h->lock);
	while ((h->queue || h->running) &&
	       pthread_cond_timedwait(&h->idle, &h->lock, &until) == 0)
		;
	pthread_mutex_unlock(&h->lock);
	exehash_handle_done(h);
}

int exehash_new(const struct exehash_opts *opts, struct exehash **ret)
{
	struct exehash *h = calloc(1, sizeof(*h));
	unsigned int flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK;

	if (!h)
		return -ENOMEM;
	h->opts = *opts;
	if (h->opts.threads < 1)
		h->opts.threads = 1;
	if (h->opts.max_open < 16)
		h->opts.max_open = 16;
	if (h->opts.max_open >= 8192)
		flags |= FAN_UNLIMITED_MARKS;
	h->fan_fd = fanotify_init(flags, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	h->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->done_fd < 0) {
		free(h);
		return -errno;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->more, NULL);
	pthread_cond_init(&h->idle, NULL);
	h->threads = calloc(h->opts.threads, sizeof(*h->threads));
	if (!h->threads) {
		exehash_free(h);
		return -ENOMEM;
	}
	for (int i = 0; i < h->opts.threads; i++) {
		if (pthread_create(&h->threads[i], NULL, worker, h) != 0)
			break;
		h->nthreads++;
	}
	if (!h->nthreads) {
		exehash_free(h);
		return -EAGAIN;
	}
	*ret = h;
	return 0;
}

void exehash_free(struct exehash *h)
{
	struct exe_file *f, *tmp;
	struct job *j;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	/* drop what was not started */
	while ((j = h->queue)) {
		h->queue = j->next;
		j->f->refs--;
		job_free(j);
	}
	h->queue_tail = NULL;
	pthread_cond_broadcast(&h->more);
	pthread_mutex_unlock(&h->lock);
	for (int i = 0; i < h->nthreads; i++)
		pthread_join(h->threads[i], NULL);
	while ((j = h->done)) {
		h->done = j->next;
		j->f->refs--;
		job_free(j);
	}
	HASH_ITER(hh, h->cache, f, tmp) {
		HASH_DEL(h->cache, f);
		entry_free(h, f);
	}
	if (h->fan_fd >= 0)
		close(h->fan_fd);
	if (h->done_fd >= 0)
		close(h->done_fd);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->more);
	pthread_cond_destroy(&h->idle);
	free(h->threads);
	free(h);
}

void exehash_stats_get(struct exehash *h, struct exehash_stats *ret)
{
	*ret = h->stats;
}
