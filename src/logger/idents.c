/* The logger's identities and hashes (idents.h). */
#include "logger/idents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger/service.h"
#include "util/strutil.h"

struct idents {
	struct strpool *pool;
	struct lident *table;
	struct lfile *files;
	struct lident *unknown;
	struct idents_stats stats;
};

int idents_new(struct strpool *pool, struct idents **ret)
{
	struct idents *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->pool = pool;
	t->unknown = calloc(1, sizeof(*t->unknown));
	if (!t->unknown) {
		free(t);
		return -ENOMEM;
	}
	t->unknown->exe = strpool_get(pool, "");
	t->unknown->name = strpool_get(pool, "");
	t->unknown->cmdline = strpool_get(pool, "");
	t->unknown->service = strpool_get(pool, "");
	t->unknown->source = PS_IDENT_NONE;
	snprintf(t->unknown->sentinel, sizeof(t->unknown->sentinel), "%s", SHA_NONE);
	if (!t->unknown->exe || !t->unknown->name || !t->unknown->cmdline || !t->unknown->service) {
		idents_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

static void lident_free(struct idents *t, struct lident *li)
{
	strpool_put(t->pool, li->exe);
	strpool_put(t->pool, li->name);
	strpool_put(t->pool, li->cmdline);
	strpool_put(t->pool, li->service);
	free(li);
}

void idents_free(struct idents *t)
{
	struct lident *li, *lt;
	struct lfile *f, *ft;

	if (!t)
		return;
	HASH_ITER(hh, t->table, li, lt) {
		HASH_DEL(t->table, li);
		lident_free(t, li);
	}
	HASH_ITER(hh, t->files, f, ft) {
		HASH_DEL(t->files, f);
		free(f);
	}
	if (t->unknown)
		lident_free(t, t->unknown);
	free(t);
}

/* A sentinel from the monitor: one of the known words, else nothing. */
static void copy_sentinel(char *dst, const char *src)
{
	static const char *const known[] = { SHA_EXITED, SHA_REPLACED, SHA_UNREADABLE, SHA_NONE };

	dst[0] = '\0';
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(src, known[i]))
			strcpy(dst, known[i]);
}

int idents_add(struct idents *t, const struct ps_msg_ident *m)
{
	struct lident *li, *old;
	char comm[PS_COMM_LEN + 1], *exe, *name, *cmd, *service, unit[SERVICE_MAX];

	HASH_FIND(hh, t->table, &m->id, sizeof(m->id), old);
	if (!old && HASH_COUNT(t->table) >= IDENTS_MAX) {
		t->stats.refused++;
		return -ENOSPC;
	}
	li = calloc(1, sizeof(*li));
	if (!li)
		return -ENOMEM;
	memcpy(comm, m->comm, PS_COMM_LEN);
	comm[PS_COMM_LEN] = '\0';
	exe = text_from_bytes(m->exe, m->exe_len);
	name = text_from_bytes(comm, strnlen(comm, PS_COMM_LEN));
	cmd = argv_to_shell(m->cmd, m->cmd_len);
	service_from_cgroup(m->cgroup, m->cgroup_len, PS_CGROUP_MAX, unit);
	service = text_from_bytes(unit, strlen(unit));
	if (cmd && (m->flags & PS_IDENT_CMD_CUT)) {
		/* say that it goes on */
		char *c2;

		if (asprintf(&c2, "%s …", cmd) >= 0) {
			free(cmd);
			cmd = c2;
		}
	}
	if (exe && name && cmd && service) {
		li->exe = strpool_get(t->pool, exe);
		li->name = strpool_get(t->pool, name);
		li->cmdline = strpool_get(t->pool, cmd);
		li->service = strpool_get(t->pool, service);
	}
	free(exe);
	free(name);
	free(cmd);
	free(service);
	if (!li->exe || !li->name || !li->cmdline || !li->service) {
		lident_free(t, li);
		return -ENOMEM;
	}
	li->id = m->id;
	li->pid = m->pid;
	li->file_ino = m->file_ino;
	li->file_dev = m->file_dev;
	li->source = m->source;
	li->flags = m->flags;
	li->file_flags = m->file_flags & (PS_FILE_DELETED | PS_FILE_MEMFD);
	copy_sentinel(li->sentinel, m->sentinel);
	if (old) {
		/* the same id described again: keep its place and references */
		HASH_DEL(t->table, old);
		li->refs = old->refs;
		li->seen_roles = old->seen_roles;
		lident_free(t, old);
	}
	HASH_ADD(hh, t->table, id, sizeof(li->id), li);
	return 0;
}

static void maybe_free(struct idents *t, struct lident *li)
{
	if (li->dropped && li->refs <= 0) {
		HASH_DEL(t->table, li);
		lident_free(t, li);
	}
}

void idents_drop(struct idents *t, uint64_t id)
{
	struct lident *li;

	HASH_FIND(hh, t->table, &id, sizeof(id), li);
	if (!li)
		return;
	li->dropped = true;
	maybe_free(t, li);
}

struct lident *idents_get(struct idents *t, uint64_t id)
{
	struct lident *li;

	HASH_FIND(hh, t->table, &id, sizeof(id), li);
	if (!li) {
		t->stats.unknown++;
		li = t->unknown;
	}
	li->refs++;
	return li;
}

void idents_put(struct idents *t, struct lident *li)
{
	if (!li)
		return;
	li->refs--;
	if (li != t->unknown)
		maybe_free(t, li);
}

struct lfile *idents_file(struct idents *t, uint64_t ino, uint32_t dev)
{
	struct lfile probe = { 0 }, *f;

	probe.key.ino = ino;
	probe.key.dev = dev;
	HASH_FIND(hh, t->files, &probe.key, sizeof(probe.key), f);
	return f;
}

static struct lfile *file_get(struct idents *t, uint64_t ino, uint32_t dev)
{
	struct lfile *f = idents_file(t, ino, dev);

	if (f)
		return f;
	if (HASH_COUNT(t->files) >= FILES_MAX) {
		t->stats.refused++;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->key.ino = ino;
	f->key.dev = dev;
	HASH_ADD(hh, t->files, key, sizeof(f->key), f);
	return f;
}

struct lfile *idents_hash(struct idents *t, const struct ps_msg_hash *m)
{
	struct lfile *f = file_get(t, m->file_ino, m->file_dev);

	if (!f || f->by_user)
		return f;	/* the user's own result stands */
	f->flags = m->flags;
	if (m->flags & PS_FILE_PENDING) {
		f->sha256[0] = '\0';
		return f;
	}
	f->md5[0] = '\0';
	if (strlen(m->sha256) == PS_SHA_LEN && strspn(m->sha256, "0123456789abcdef") == PS_SHA_LEN) {
		memcpy(f->sha256, m->sha256, PS_SHA_LEN + 1);
		if (strnlen(m->md5, sizeof(m->md5)) == 32 && strspn(m->md5, "0123456789abcdef") == 32)
			memcpy(f->md5, m->md5, 33);
	} else {
		copy_sentinel(f->sha256, m->sha256);
	}
	if (!f->sha256[0])
		strcpy(f->sha256, SHA_UNREADABLE);	/* anything else from the monitor */
	return f;
}

struct lfile *idents_user_hash(struct idents *t, uint64_t ino, uint32_t dev, const char *sha)
{
	struct lfile *f = file_get(t, ino, dev);

	if (!f)
		return NULL;
	f->by_user = true;
	f->md5[0] = '\0';	/* not computed as the user: no package check */
	snprintf(f->sha256, sizeof(f->sha256), "%s", sha);
	return f;
}

const char *lident_sha256(struct idents *t, const struct lident *li)
{
	struct lfile *f;

	if (li->sentinel[0])
		return li->sentinel;
	f = idents_file(t, li->file_ino, li->file_dev);
	if (!f || !f->sha256[0])
		return NULL;
	return f->sha256;
}

unsigned lident_file_flags(struct idents *t, const struct lident *li)
{
	struct lfile *f = idents_file(t, li->file_ino, li->file_dev);

	return li->file_flags | (f ? f->flags & (PS_FILE_DELETED | PS_FILE_MEMFD) : 0);
}

void idents_stats(struct idents *t, struct idents_stats *ret)
{
	*ret = t->stats;
}

size_t idents_count(struct idents *t)
{
	return HASH_COUNT(t->table);
}
