/* The executable cache, its fanotify watch, and SHA-256 on worker threads
 * (see exehash.h).  Only the event loop's thread touches the cache; the
 * workers get jobs (a file reference and the generation to hash) through
 * a queue and hand results back through a list and an eventfd. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/fileid.h"
#include "util/fsutil.h"
#include "util/strutil.h"

#define HASH_CHUNK (1 << 20)

struct job {
	struct exe_file *f;	/* reference held while the job lives */
	uint64_t gen;
	uint32_t pid;		/* for the user's helper */
	char *path;		/* the helper's fallback when pid is gone, or NULL */
	bool via_user;
	char result[65];
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
	/* the desktop user's helper, started when first needed */
	pthread_mutex_t helper_lock;
	pid_t helper_pid;
	FILE *helper_in, *helper_out;
	struct exehash_stats stats;
};

static uint64_t mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int sha256_fd(int fd, char out[65])
{
	unsigned char md[32], *buf;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	off_t off = 0;
	int r = 0;

	buf = malloc(HASH_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		free(buf);
		return -ENOMEM;
	}
	for (;;) {
		/* pread: the descriptor is shared, its offset is not ours */
		ssize_t n = pread(fd, buf, HASH_CHUNK, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, n);
		off += n;
	}
	if (r == 0 && !EVP_DigestFinal_ex(ctx, md, &mdlen))
		r = -EIO;
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ---- the desktop user's helper ---- */

static void helper_stop(struct exehash *h)
{
	if (h->helper_in)
		fclose(h->helper_in);
	if (h->helper_out)
		fclose(h->helper_out);
	h->helper_in = h->helper_out = NULL;
	if (h->helper_pid > 0) {
		kill(h->helper_pid, SIGTERM);
		waitpid(h->helper_pid, NULL, 0);
	}
	h->helper_pid = 0;
}

/* Called with helper_lock held, from a worker. */
static int helper_start(struct exehash *h)
{
	int to[2], from[2];
	pid_t pid;

	if (h->opts.user_uid == 0 || !h->opts.self_exe)
		return -EPERM;	/* no desktop user: root could not read it either */
	if (pipe2(to, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		return r;
	}
	if (pid == 0) {
		/* only async-signal-safe calls between fork and exec */
		gid_t gid = h->opts.user_gid;

		if (dup2(to[0], 0) < 0 || dup2(from[1], 1) < 0)
			_exit(127);
		if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(h->opts.user_uid, h->opts.user_uid, h->opts.user_uid) < 0)
			_exit(126);
		if (setuid(0) == 0)
			_exit(125);	/* privileges must be gone for good */
		execl(h->opts.self_exe, "picosnitch", "hash-helper", (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	h->helper_pid = pid;
	h->helper_in = fdopen(to[1], "w");
	h->helper_out = fdopen(from[0], "r");
	if (!h->helper_in || !h->helper_out) {
		helper_stop(h);
		return -ENOMEM;
	}
	setvbuf(h->helper_in, NULL, _IOLBF, 0);
	return 0;
}

static void helper_hash(struct exehash *h, struct job *j)
{
	char line[128];

	snprintf(j->result, sizeof(j->result), "%s", SHA_UNREADABLE);
	pthread_mutex_lock(&h->helper_lock);
	if (!h->helper_pid && helper_start(h) < 0)
		goto out;
	if (fprintf(h->helper_in, "%u %u %llu %u %s\n", j->pid, j->f->key.dev,
		    (unsigned long long)j->f->key.ino, h->opts.dev_mask,
		    j->path ? j->path : "-") < 0 ||
	    fflush(h->helper_in) != 0 || !fgets(line, sizeof(line), h->helper_out)) {
		helper_stop(h);	/* restarted on the next request */
		goto out;
	}
	line[strcspn(line, "\n")] = '\0';
	/* the helper runs as the user, who could make it say anything:
	 * take a digest or one of the sentinels, nothing else */
	if ((strlen(line) == 64 && strspn(line, "0123456789abcdef") == 64) ||
	    !strcmp(line, SHA_EXITED) || !strcmp(line, SHA_REPLACED) ||
	    !strcmp(line, SHA_UNREADABLE))
		memcpy(j->result, line, strlen(line) + 1);
out:
	pthread_mutex_unlock(&h->helper_lock);
}

/* Open what pid runs, or path if pid is gone, if it is the file (dev, ino). */
static int helper_open(unsigned int pid, const char *path, uint32_t dev, uint64_t ino, uint32_t mask,
		       const char **why)
{
	char proc[64];
	int fd = -1;

	*why = SHA_EXITED;
	if (pid) {
		snprintf(proc, sizeof(proc), "/proc/%u/exe", pid);
		fd = open(proc, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno != ENOENT && errno != ESRCH) {
			*why = SHA_UNREADABLE;
			return -1;
		}
	}
	if (fd < 0 && path[0] == '/')
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (!fileid_matches(fd, NULL, ino, dev, mask)) {
		close(fd);
		*why = SHA_REPLACED;
		return -1;
	}
	return fd;
}

int hash_helper_main(void)
{
	char line[PATH_MAX + 128];

	signal(SIGPIPE, SIG_IGN);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned int pid, dev, mask;
		unsigned long long ino;
		const char *why;
		char out[65];
		int fd, at = 0;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%u %u %llu %u %n", &pid, &dev, &ino, &mask, &at) != 4 || !at) {
			puts(SHA_UNREADABLE);
			fflush(stdout);
			continue;
		}
		fd = helper_open(pid, line + at, dev, ino, mask, &why);
		if (fd < 0)
			puts(why);
		else if (sha256_fd(fd, out) < 0)
			puts(SHA_UNREADABLE);
		else
			puts(out);
		if (fd >= 0)
			close(fd);
		fflush(stdout);
	}
	return 0;
}

/* ---- workers ---- */

static void *worker(void *arg)
{
	struct exehash *h = arg;
	sigset_t all;

	/* signals belong to the event loop's thread */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
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

		if (j->via_user) {
			helper_hash(h, j);
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
	free(j->path);
	free(j);
}

static void enqueue(struct exehash *h, struct exe_file *f, uint32_t pid, const char *path,
		    bool via_user)
{
	struct job *j = calloc(1, sizeof(*j));

	/* the helper reads one line per request */
	if (j && via_user && path && path[0] == '/' && !strchr(path, '\n'))
		j->path = strdup(path);
	if (!j) {
		f->state = EXE_FAILED;
		snprintf(f->sha256, sizeof(f->sha256), "%s", SHA_UNREADABLE);
		return;
	}
	f->refs++;
	f->state = EXE_PENDING;
	j->f = f;
	j->gen = f->gen;
	j->pid = pid;
	j->via_user = via_user;
	pthread_mutex_lock(&h->lock);
	if (h->queue_tail)
		h->queue_tail->next = j;
	else
		h->queue = j;
	h->queue_tail = j;
	pthread_cond_signal(&h->more);
	pthread_mutex_unlock(&h->lock);
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

struct exe_file *exehash_get(struct exehash *h, uint32_t pid, const char *path_hint, uint32_t dev,
			     uint64_t ino)
{
	struct exe_key key = { .ino = ino, .dev = dev & h->opts.dev_mask };
	struct exe_file *f;
	char path[64];
	struct stat st;
	int fd, err;

	if (!ino)
		return sentinel(&key, SHA_NONE);
	HASH_FIND(hh, h->cache, &key, sizeof(key), f);
	if (f) {
		f->refs++;
		f->last_used = mono_seconds();
		/* written since it was hashed: the next use hashes it again */
		if (f->state != EXE_PENDING && f->hashed_gen != f->gen) {
			if (f->fd >= 0)
				enqueue(h, f, pid, NULL, false);
			else if (f->flags & EXE_VIA_USER)
				enqueue(h, f, pid, path_hint, true);
		}
		return f;
	}

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	fd = pid ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	err = pid ? errno : ENOENT;
	if (fd < 0 && err != EACCES && path_hint && path_hint[0] == '/') {
		/* the process is gone: its path still names the same file if the
		 * inode matches */
		fd = open(path_hint, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		err = errno;
		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
				!fileid_matches(fd, &st, ino, key.dev, h->opts.dev_mask))) {
			/* another file is there now (an update, or an attacker
			 * covering tracks): never hash it in the old one's name */
			close(fd);
			h->stats.replaced++;
			return sentinel(&key, SHA_REPLACED);
		}
	}
	if (fd < 0 && err == EACCES) {
		/* not readable by root: a FUSE mount without allow_root */
		f = calloc(1, sizeof(*f));
		if (!f)
			return NULL;
		f->key = key;
		f->fd = -1;
		f->flags = EXE_VIA_USER | path_flags(pid);
		f->refs = 1;
		f->last_used = mono_seconds();
		HASH_ADD(hh, h->cache, key, sizeof(f->key), f);
		enqueue(h, f, pid, path_hint, true);
		return f;
	}
	if (fd < 0) {
		h->stats.exited++;
		return sentinel(&key, SHA_EXITED);
	}
	if (!fileid_matches(fd, NULL, ino, key.dev, h->opts.dev_mask)) {
		/* the process now runs another program than the kernel reported
		 * (it exec'd since; counted by the caller) */
		close(fd);
		return sentinel(&key, SHA_REPLACED);
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
	enqueue(h, f, pid, NULL, false);
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
		/* a result for an older generation is stale: the next use
		 * hashes the file again */
		if (j->gen == f->gen) {
			snprintf(f->sha256, sizeof(f->sha256), "%s", j->result);
			f->hashed_gen = j->gen;
			f->state = j->result[0] == '!' ? EXE_FAILED : EXE_DONE;
			if (!strcmp(j->result, SHA_EXITED))
				h->stats.exited++;
			else if (j->result[0] == '!')
				h->stats.unreadable++;
			if (h->opts.on_hashed)
				h->opts.on_hashed(h->opts.ctx, f);
		} else if (f->fd >= 0 || (f->flags & EXE_VIA_USER)) {
			/* written while it was read: hash what it is now */
			enqueue(h, f, j->pid, j->path, j->via_user);
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
			if (fileid_key(m->fd, &ino, &dev) == 0) {
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
	pthread_mutex_init(&h->helper_lock, NULL);
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
	helper_stop(h);
	HASH_ITER(hh, h->cache, f, tmp) {
		HASH_DEL(h->cache, f);
		entry_free(h, f);
	}
	if (h->fan_fd >= 0)
		close(h->fan_fd);
	if (h->done_fd >= 0)
		close(h->done_fd);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->helper_lock);
	pthread_cond_destroy(&h->more);
	pthread_cond_destroy(&h->idle);
	free(h->threads);
	free(h);
}

void exehash_stats_take(struct exehash *h, struct exehash_stats *ret)
{
	*ret = h->stats;
	memset(&h->stats, 0, sizeof(h->stats));
}
