/* The logger's own hashing (userhash.h). */
#include "logger/userhash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/idents.h"
#include "util/fileid.h"
#include "util/sha256.h"

struct req {
	struct req *next;
	struct userhash_result res;
	uint32_t pid;
	char *path;
};

struct userhash {
	uint32_t dev_mask;
	pthread_t thread;
	bool started, stopping;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct req *queue, *tail, *done;
	size_t queued;
	int efd;
};

/* Open the file (ino, dev) by pid or path, as this user, without opening
 * anything else: O_PATH first, checked, then reopened for reading. */
static int open_checked(struct userhash *u, const struct req *r, const char **why)
{
	char proc[64];
	struct stat st;
	int pfd = -1, fd;
	uint32_t via = 0;	/* the process the file was opened through */

	*why = SHA_EXITED;
	if (r->pid) {
		snprintf(proc, sizeof(proc), "/proc/%u/exe", r->pid);
		pfd = open(proc, O_PATH | O_CLOEXEC);
	}
	if (pfd >= 0)
		via = r->pid;
	else if (r->path && r->path[0] == '/')
		pfd = open(r->path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -1;
	if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !fileid_matches(pfd, &st, r->res.ino, r->res.dev, u->dev_mask, via)) {
		close(pfd);
		*why = SHA_REPLACED;
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	close(pfd);
	if (fd < 0)
		*why = SHA_UNREADABLE;
	return fd;
}

static void *worker(void *arg)
{
	struct userhash *u = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct req *r;
		const char *why;
		uint64_t one = 1;
		int fd;

		while (!u->queue && !u->stopping)
			pthread_cond_wait(&u->more, &u->lock);
		if (u->stopping)
			break;
		r = u->queue;
		u->queue = r->next;
		if (!u->queue)
			u->tail = NULL;
		u->queued--;
		pthread_mutex_unlock(&u->lock);

		fd = open_checked(u, r, &why);
		if (r->res.md5_req) {
			char sha[65];

			if (fd < 0 || digests_fd(fd, sha, r->res.md5) < 0 ||
			    strcmp(sha, r->res.sha256))
				r->res.md5[0] = '\0';
		} else if (fd < 0 || sha256_fd(fd, r->res.sha256) < 0)
			snprintf(r->res.sha256, sizeof(r->res.sha256), "%s",
				 fd < 0 ? why : SHA_UNREADABLE);
		if (fd >= 0)
			close(fd);

		pthread_mutex_lock(&u->lock);
		r->next = u->done;
		u->done = r;
		if (write(u->efd, &one, sizeof(one)) < 0) {
			/* cannot overflow in practice */
		}
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

int userhash_new(uint32_t dev_mask, struct userhash **ret)
{
	struct userhash *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->dev_mask = dev_mask;
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0) {
		free(u);
		return -errno;
	}
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->more, NULL);
	if (pthread_create(&u->thread, NULL, worker, u) == 0)
		u->started = true;
	*ret = u;
	return 0;
}

static void reqs_free(struct req *r)
{
	while (r) {
		struct req *n = r->next;

		free(r->path);
		free(r);
		r = n;
	}
}

void userhash_free(struct userhash *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->stopping = true;
	pthread_cond_signal(&u->more);
	pthread_mutex_unlock(&u->lock);
	/* a worker stuck in a file that never answers is left behind: the
	 * process is about to exit */
	if (u->started) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		if (pthread_timedjoin_np(u->thread, NULL, &until) != 0) {
			pthread_detach(u->thread);
			close(u->efd);
			return;	/* the worker may still touch u: leak it */
		}
	}
	reqs_free(u->queue);
	reqs_free(u->done);
	close(u->efd);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->more);
	free(u);
}

static void request(struct userhash *u, uint64_t ino, uint32_t dev, uint32_t pid, const char *path,
		    const char *md5_of)
{
	struct req *r = calloc(1, sizeof(*r));
	uint64_t one = 1;

	if (!r)
		return;
	r->res.ino = ino;
	r->res.dev = dev;
	r->pid = pid;
	r->path = path && *path ? strdup(path) : NULL;
	if (md5_of) {
		r->res.md5_req = true;
		snprintf(r->res.sha256, sizeof(r->res.sha256), "%s", md5_of);
	}
	pthread_mutex_lock(&u->lock);
	if (!u->started || u->queued >= USERHASH_QUEUE_MAX) {
		/* answered at once */
		if (!md5_of)
			snprintf(r->res.sha256, sizeof(r->res.sha256), "%s", SHA_UNREADABLE);
		r->next = u->done;
		u->done = r;
		if (write(u->efd, &one, sizeof(one)) < 0) {
			/* cannot overflow in practice */
		}
	} else {
		if (u->tail)
			u->tail->next = r;
		else
			u->queue = r;
		u->tail = r;
		u->queued++;
		pthread_cond_signal(&u->more);
	}
	pthread_mutex_unlock(&u->lock);
}

void userhash_request(struct userhash *u, uint64_t ino, uint32_t dev, uint32_t pid,
		      const char *path)
{
	request(u, ino, dev, pid, path, NULL);
}

void userhash_request_md5(struct userhash *u, uint64_t ino, uint32_t dev, const char *path,
			  const char *sha)
{
	request(u, ino, dev, 0, path, sha);
}

int userhash_fd(struct userhash *u)
{
	return u->efd;
}

int userhash_take(struct userhash *u, struct userhash_result *ret)
{
	struct req *r;
	uint64_t n;

	pthread_mutex_lock(&u->lock);
	r = u->done;
	if (r)
		u->done = r->next;
	else if (read(u->efd, &n, sizeof(n)) < 0) {
		/* drained */
	}
	pthread_mutex_unlock(&u->lock);
	if (!r)
		return -EAGAIN;
	*ret = r->res;
	free(r->path);
	free(r);
	return 0;
}
