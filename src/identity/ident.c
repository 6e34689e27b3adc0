/* Resolving kernel task snapshots to executable path, name and command
 * line, with a cache keyed by (pid, start time, executable inode). */
#include "identity/ident.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "util/fileid.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"

struct ident_cache {
	struct ident_cache_opts opts;
	struct exehash *hashes;
	struct ident *table;
	struct ident *none;	/* "no process" identities, by name, not in table */
	int execs_fd;
	uint32_t dev_mask;
	long ns_per_tick;
	uint64_t next_id;
	struct ident_stats stats;
};

static uint64_t mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int ident_cache_new(const struct ident_cache_opts *opts, struct ident_cache **ret)
{
	struct ident_cache *c = calloc(1, sizeof(*c));
	long hz = sysconf(_SC_CLK_TCK);

	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	c->execs_fd = opts->execs_fd;
	c->dev_mask = opts->dev_mask;
	c->hashes = opts->hashes;
	c->ns_per_tick = 1000000000L / (hz > 0 ? hz : 100);
	*ret = c;
	return 0;
}

static void ident_free(struct ident_cache *c, struct ident *id)
{
	if (c->hashes)
		exehash_put(c->hashes, id->file);
	else
		free(id->file);
	free(id->exe);
	free(id->name);
	free(id->cmdline);
	free(id->cgroup);
	free(id);
}

void ident_cache_free(struct ident_cache *c)
{
	struct ident *id, *tmp;

	if (!c)
		return;
	HASH_ITER(hh, c->table, id, tmp) {
		HASH_DEL(c->table, id);
		ident_free(c, id);
	}
	HASH_ITER(hh, c->none, id, tmp) {
		HASH_DEL(c->none, id);
		ident_free(c, id);
	}
	free(c);
}

void ident_cache_gc(struct ident_cache *c, uint64_t before)
{
	struct ident *id, *tmp;

	HASH_ITER(hh, c->table, id, tmp) {
		if (id->refs == 0 && id->last_used < before) {
			HASH_DEL(c->table, id);
			if (c->opts.on_drop)
				c->opts.on_drop(c->opts.ctx, id->id);
			ident_free(c, id);
		}
	}
}

int proc_start_ns(uint32_t pid, uint64_t *ret)
{
	char path[64], *buf, *p;
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);
	int r, field;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	r = read_file(path, 4096, &buf, NULL);
	if (r < 0)
		return r;
	/* the name may hold spaces and parentheses: fields follow the last ')' */
	p = strrchr(buf, ')');
	if (!p) {
		free(buf);
		return -EINVAL;
	}
	p++;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	if (!p || sscanf(p, " %llu", &ticks) != 1) {
		free(buf);
		return -EINVAL;
	}
	free(buf);
	*ret = ticks * (1000000000ULL / (hz > 0 ? hz : 100));
	return 0;
}

/* /proc/<pid>/<name> as the kernel gives it, in one read (never more is
 * read than is kept): at most max bytes into a new NUL-terminated *buf,
 * their count into *len.  1 when there was more (cut), 0, or negative
 * errno. */
static int read_proc_once(uint32_t pid, const char *name, size_t max, char **buf, size_t *len)
{
	char path[64], *b;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	b = malloc(max + 2);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, b, max + 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		free(b);
		return (int)n;
	}
	close(fd);
	*len = (size_t)n > max ? max : (size_t)n;
	b[*len] = '\0';
	*buf = b;
	return (size_t)n > max;
}

/* The raw arguments of pid, at most IDENT_CMD_MAX bytes. */
static int read_cmdline(struct ident *id)
{
	int r = read_proc_once(id->key.pid, "cmdline", IDENT_CMD_MAX, &id->cmdline,
			       &id->cmdline_len);

	if (r >= 0)
		id->cmdline_cut = r == 1;
	return r < 0 ? r : 0;
}

/* From /proc, if pid still names the process the kernel saw. */
static int resolve_proc(struct ident_cache *c, struct ident *id)
{
	char path[64], target[PATH_MAX];
	bool mismatch = false;
	uint64_t start;
	ssize_t n;
	int fd;

	if (proc_start_ns(id->key.pid, &start) < 0)
		return -ESRCH;
	if (start / c->ns_per_tick != id->key.start_ns / c->ns_per_tick)
		return -ESRCH;	/* the pid was reused */
	snprintf(path, sizeof(path), "/proc/%u/exe", id->key.pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno == ENOENT && id->key.exe_ino == 0)
			n = 0;	/* a kernel thread has no executable */
		else
			return -errno;
	}
	target[n] = '\0';
	if (n > 0 && (fd = open(path, O_PATH | O_CLOEXEC)) >= 0) {
		int r = fileid_check(fd, NULL, id->key.exe_ino, id->key.exe_dev, c->dev_mask,
				     id->key.pid);

		close(fd);
		if (r < 0)
			return -ESRCH;	/* it exited meanwhile: as if gone before */
		mismatch = r == 0;
	}
	if (mismatch) {
		/* it has exec'd another program since: its path and arguments
		 * are not those of the process that made the traffic */
		id->exe_mismatch = true;
		id->exe = strdup("");
		id->cmdline = strdup("");
		id->cmdline_len = 0;
		if (c->hashes)
			id->file = exehash_get(c->hashes, id->key.pid, NULL, id->key.exe_dev,
					       id->key.exe_ino);
		id->source = IDENT_PROC;
		return 0;
	}
	/* deleted (or replaced by a rename) since it started: the path it ran
	 * from is what people know it by; the hash says which file it was */
	if (n > 10 && !strcmp(target + n - 10, " (deleted)"))
		target[n - 10] = '\0';
	id->exe = strdup(target);
	/* open it now, while the process surely runs it (or by its path if
	 * it exits in between) */
	if (c->hashes)
		id->file = exehash_get(c->hashes, id->key.pid, target, id->key.exe_dev,
				       id->key.exe_ino);
	if (read_cmdline(id) < 0 || !id->cmdline_len) {
		/* exiting right now (its memory is gone): the exec cache still
		 * has its arguments */
		struct ps_exec_info info;
		uint32_t pid = id->key.pid;

		free(id->cmdline);
		id->cmdline = NULL;
		id->cmdline_len = 0;
		if (c->execs_fd >= 0 && bpf_map_lookup_elem(c->execs_fd, &pid, &info) == 0 &&
		    info.who.start_ns / c->ns_per_tick == id->key.start_ns / c->ns_per_tick &&
		    info.who.exe_ino == id->key.exe_ino) {
			size_t alen = info.args_len < sizeof(info.args) ? info.args_len
									 : sizeof(info.args);

			id->cmdline = malloc(alen + 1);
			if (id->cmdline) {
				memcpy(id->cmdline, info.args, alen);
				id->cmdline[alen] = '\0';
				id->cmdline_len = alen;
				id->cmdline_cut = info.args_len > sizeof(info.args);
			}
		}
		if (!id->cmdline)
			id->cmdline = strdup("");
	}
	/* the raw cgroup (one read; the logger parses it: its paths are names
	 * anyone with a delegated subtree chooses); gone meanwhile: no service */
	(void)read_proc_once(id->key.pid, "cgroup", IDENT_CGROUP_MAX, &id->cgroup,
			     &id->cgroup_len);
	id->source = IDENT_PROC;
	return 0;
}

/* From what the exec tracepoint kept about the process. */
static int resolve_exec_cache(struct ident_cache *c, struct ident *id)
{
	struct ps_exec_info info;
	uint32_t pid = id->key.pid;
	size_t plen, alen;

	if (c->execs_fd < 0 || bpf_map_lookup_elem(c->execs_fd, &pid, &info) < 0)
		return -ENOENT;
	/* entries seeded from /proc have clock-tick precision */
	if (info.who.start_ns / c->ns_per_tick != id->key.start_ns / c->ns_per_tick ||
	    info.who.exe_ino != id->key.exe_ino)
		return -ENOENT;
	plen = strnlen(info.path, sizeof(info.path));
	alen = info.args_len < sizeof(info.args) ? info.args_len : sizeof(info.args);
	id->exe = strndup(info.path, plen);
	if (id->exe && id->exe[0] == '/') {
		/* the path as given to execve: resolve symlinks (/bin/sh, a
		 * program started through a link), if it is still the file */
		char real[PATH_MAX];

		if (realpath(id->exe, real) &&
		    fileid_matches_path(real, id->key.exe_ino, id->key.exe_dev, c->dev_mask)) {
			free(id->exe);
			id->exe = strdup(real);
		}
	}
	id->cmdline = malloc(alen + 1);
	if (id->cmdline) {
		memcpy(id->cmdline, info.args, alen);
		id->cmdline[alen] = '\0';
		id->cmdline_len = alen;
		id->cmdline_cut = info.args_len > sizeof(info.args);
	}
	id->source = IDENT_EXEC_CACHE;
	return 0;
}

static struct ident *resolve(struct ident_cache *c, const struct ident_key *key, const char *comm)
{
	struct ident *id = calloc(1, sizeof(*id));

	if (!id)
		return NULL;
	id->key = *key;
	id->name = strndup(comm, PS_COMM_LEN);
	if (resolve_proc(c, id) < 0) {
		free(id->exe);
		free(id->cmdline);
		id->exe = id->cmdline = NULL;
		if (c->hashes && id->file) {
			exehash_put(c->hashes, id->file);
			id->file = NULL;
		}
		if (resolve_exec_cache(c, id) == 0) {
			c->stats.from_exec_cache++;
			if (c->hashes)
				id->file = exehash_get(c->hashes, 0, id->exe, key->exe_dev,
						       key->exe_ino);
		} else {
			id->exe = strdup("");
			id->cmdline = strdup("");
			id->source = IDENT_KERNEL_ONLY;
			c->stats.unidentified++;
			log_debug("pid %u exited before it could be identified", key->pid);
			/* its executable may still be cached from another process */
			if (c->hashes && key->exe_ino)
				id->file = exehash_get(c->hashes, 0, NULL, key->exe_dev,
						       key->exe_ino);
		}
	}
	if (id->exe_mismatch)
		c->stats.exe_mismatch++;
	if (!id->file) {
		/* gone before its executable could be opened */
		struct exe_key k = { .ino = key->exe_ino, .dev = key->exe_dev };

		id->file = calloc(1, sizeof(*id->file));
		if (id->file) {
			id->file->key = k;
			id->file->fd = -1;
			id->file->state = EXE_FAILED;
			id->file->flags = EXE_SENTINEL;
			id->file->refs = 1;
			snprintf(id->file->sha256, sizeof(id->file->sha256), "%s",
				 key->exe_ino ? SHA_EXITED : SHA_NONE);
		}
	}
	if (!id->name || !id->exe || !id->cmdline || !id->file) {
		ident_free(c, id);
		return NULL;
	}
	id->id = ++c->next_id;
	if (id->exe_mismatch && c->stats.exe_mismatch == 1)
		c->stats.mismatch_example = id->id;
	if (!strcmp(id->file->sha256, SHA_EXITED)) {
		if (!c->stats.unhashed++)
			c->stats.unhashed_example = id->id;
		log_debug("pid %u was gone before its executable could be opened", key->pid);
	}
	return id;
}

struct ident *ident_ref(struct ident *id)
{
	if (id)
		id->refs++;
	return id;
}

struct ident *ident_none(struct ident_cache *c, const char *name)
{
	struct ident *id;

	HASH_FIND_STR(c->none, name, id);
	if (!id) {
		id = calloc(1, sizeof(*id));
		if (!id)
			return NULL;
		id->name = strdup(name);
		id->exe = strdup("");
		id->cmdline = strdup("");
		id->source = IDENT_NONE;
		id->file = calloc(1, sizeof(*id->file));
		if (id->file) {
			id->file->fd = -1;
			id->file->state = EXE_FAILED;
			id->file->flags = EXE_SENTINEL;
			id->file->refs = 1;
			snprintf(id->file->sha256, sizeof(id->file->sha256), "%s", SHA_NONE);
		}
		if (!id->name || !id->exe || !id->cmdline || !id->file) {
			ident_free(c, id);
			return NULL;
		}
		id->id = ++c->next_id;
		/* keyed by name: the key struct is unused for these */
		HASH_ADD_KEYPTR(hh, c->none, id->name, strlen(id->name), id);
		if (c->opts.on_new)
			c->opts.on_new(c->opts.ctx, id);
	}
	return ident_ref(id);
}

struct ident *ident_get(struct ident_cache *c, const struct ps_task *t, enum ident_role role)
{
	struct ident_key key = { 0 };
	struct ident *id;
	const char *comm;

	if (!(t->flags & PS_TASK_KNOWN))
		return ident_none(c, "");
	if (role == ROLE_PARENT) {
		key.pid = t->ppid;
		key.start_ns = t->pstart_ns;
		key.exe_ino = t->pexe_ino;
		key.exe_dev = t->pexe_dev;
		comm = t->pcomm;
	} else if (role == ROLE_GRANDPARENT) {
		key.pid = t->gppid;
		key.start_ns = t->gpstart_ns;
		key.exe_ino = t->gpexe_ino;
		key.exe_dev = t->gpexe_dev;
		comm = t->gpcomm;
	} else {
		key.pid = t->tgid;
		key.start_ns = t->start_ns;
		key.exe_ino = t->exe_ino;
		key.exe_dev = t->exe_dev;
		comm = t->comm;
	}
	if (key.pid == 0)
		return ident_none(c, "");
	HASH_FIND(hh, c->table, &key, sizeof(key), id);
	if (!id) {
		id = resolve(c, &key, comm);
		if (!id)
			return NULL;
		HASH_ADD(hh, c->table, key, sizeof(key), id);
		if (c->opts.on_new)
			c->opts.on_new(c->opts.ctx, id);
	}
	id->last_used = mono_seconds();
	return ident_ref(id);
}

void ident_unref(struct ident_cache *c, struct ident *id)
{
	(void)c;
	if (id && id->refs > 0)
		id->refs--;
}

const char *ident_sentinel(const struct ident *id)
{
	if (!id->file)
		return SHA_NONE;
	return (id->file->flags & EXE_SENTINEL) ? id->file->sha256 : "";
}

void ident_stats_get(struct ident_cache *c, struct ident_stats *ret)
{
	*ret = c->stats;
}
