/* The fleet view (`picosnitch dash --sql`): the "DB sql server"'s entries
 * of every machine (or one) in a private snitch.db that the dash serves as
 * usual.  Each entry carries its machine: the copy has a hosts table
 * (machine id, the name shown) and connections.host_id, which the query
 * layer offers as the "host" dimension (and then reads the rows, not the
 * rollups, which have no machine).
 *
 * The copy is filled before the dash starts, then a thread copies what
 * arrives: per machine, the batches after the last one copied (batches
 * reach the server in order, each with its entries in one transaction), a
 * bounded number of entries per round.  Requests never wait for the
 * server: they read the copy (WAL) while the thread writes it, and
 * /api/status says as of when the copy is.  Run as the user; everything
 * the server answers is bounded and made safe text. */
#include "cli/fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "cli/sqlcmd.h"
#include "storage/sqlserver.h"
#include "util/strutil.h"

/* entries in the copy, at most */
#define FLEET_ROWS_MAX 20000000
/* entries copied per machine per round (the rest waits for the next) */
#define ROUND_ROWS 500000

struct fleet_machine {
	char machine_id[33];
	int64_t host_id;	/* hosts.id in the copy */
	uint64_t last_seq;	/* the last batch copied */
};

struct fleet {
	struct sqlsrv_cfg cfg;
	struct sqlsrv *srv;	/* NULL while disconnected */
	char *machine;		/* --machine, or NULL */
	int64_t since;
	struct store *dst;
	sqlite3 *db;		/* the hosts of the copy */
	struct fleet_machine *m;
	size_t n_m;
	uint64_t total;
	/* the thread */
	pthread_t thread;
	bool started, stop;
	unsigned interval;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* under lock: what /api/status shows */
	json_t *machines;
	int64_t as_of;
	bool behind;
	char error[600];
	uint64_t entries;	/* total, as shown */
};

/* Each machine's heartbeat: [{"host", "machine_id", "last", "window",
 * "batches", "entries", "stopped"}] */
static json_t *machines_json(const struct sqlsrv_machine *m, size_t n)
{
	int64_t now = (int64_t)time(NULL);
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:b}", "host", m[i].host,
						   "machine_id", m[i].machine_id, "last",
						   (json_int_t)m[i].last, "window",
						   (json_int_t)m[i].window, "batches",
						   (json_int_t)m[i].batches, "entries",
						   (json_int_t)m[i].entries, "stopped",
						   now - m[i].last > sqlsrv_stale_after(m[i].window)));
	return a;
}

static int copy_sql(struct fleet *f, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(f->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "the fleet's copy: %s", msg ? msg : sqlite3_errmsg(f->db));
	sqlite3_free(msg);
	return -EIO;
}

/* The hosts table and each entry's host_id; the rollups' update trigger
 * goes (this private copy has no rollups: host_id is set after a write). */
static int copy_prepare(struct fleet *f, const char *path, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the copy %s: %s", path,
			 f->db ? sqlite3_errmsg(f->db) : "out of memory");
		return -EIO;
	}
	sqlite3_busy_timeout(f->db, 10000);
	return copy_sql(f, "CREATE TABLE hosts (id INTEGER PRIMARY KEY, machine_id TEXT NOT NULL "
			"UNIQUE, host TEXT NOT NULL);"
			"ALTER TABLE connections ADD COLUMN host_id INTEGER;"
			"DROP TRIGGER IF EXISTS connections_rollup_update;", err, errlen);
}

/* The machine's row in the copy's hosts, named `shown`. */
static int copy_host(struct fleet *f, const char *machine_id, const char *shown, int64_t *id,
		     char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(f->db, "INSERT INTO hosts (machine_id, host) VALUES (?1, ?2) "
				"ON CONFLICT (machine_id) DO UPDATE SET host = ?2 RETURNING id",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, machine_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, shown, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*id = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	snprintf(err, errlen, "the fleet's copy: %s", sqlite3_errmsg(f->db));
	return -EIO;
}

static int64_t copy_max_id(struct fleet *f)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;

	if (sqlite3_prepare_v2(f->db, "SELECT ifnull(max(id), 0) FROM connections", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

/* The entries written after id `after` are the machine's. */
static int copy_own(struct fleet *f, int64_t after, int64_t host_id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(f->db, "UPDATE connections SET host_id = ?1 WHERE id > ?2", -1, &st,
				NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, host_id);
		sqlite3_bind_int64(st, 2, after);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	snprintf(err, errlen, "the fleet's copy: %s", sqlite3_errmsg(f->db));
	return -EIO;
}

static struct fleet_machine *machine_state(struct fleet *f, const char *machine_id)
{
	struct fleet_machine *m;

	for (size_t i = 0; i < f->n_m; i++)
		if (!strcmp(f->m[i].machine_id, machine_id))
			return &f->m[i];
	m = realloc(f->m, (f->n_m + 1) * sizeof(*m));
	if (!m)
		return NULL;
	f->m = m;
	m = &f->m[f->n_m++];
	*m = (struct fleet_machine){ 0 };
	snprintf(m->machine_id, sizeof(m->machine_id), "%s", machine_id);
	return m;
}

/* The name a machine shows as: its host name, with the start of its
 * machine id when another machine has the same name. */
static void shown_name(const struct sqlsrv_machine *ms, size_t n, size_t i, char *buf, size_t size)
{
	for (size_t k = 0; k < n; k++)
		if (k != i && !strcmp(ms[k].host, ms[i].host)) {
			snprintf(buf, size, "%.200s (%.8s)", ms[i].host, ms[i].machine_id);
			return;
		}
	snprintf(buf, size, "%s", ms[i].host);
}

/* One round: connect if need be, the machines, then each one's new
 * batches.  *behind: some batches wait for the next round. */
static int refresh(struct fleet *f, uint64_t *copied, bool *behind, char *err, size_t errlen)
{
	struct sqlsrv_machine *ms = NULL;
	size_t n = 0;
	int r = 0;

	*copied = 0;
	*behind = false;
	if (!f->srv) {
		r = sqlsrv_connect(&f->cfg, &f->srv, err, errlen);
		if (r == 0 && (r = sqlsrv_prepare(f->srv, false, err, errlen)) < 0) {
			sqlsrv_close(f->srv);
			f->srv = NULL;
		}
		if (r < 0)
			return r;
	}
	r = sqlsrv_machines(f->srv, &ms, &n, err, errlen);
	if (r == 0) {
		json_t *j = machines_json(ms, n);

		pthread_mutex_lock(&f->lock);
		json_decref(f->machines);
		f->machines = j;
		pthread_mutex_unlock(&f->lock);
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct fleet_machine *m;
		struct sqlsrv_pulled got;
		char shown[300];
		int64_t before;

		if (f->machine && strcmp(f->machine, ms[i].host) && strcmp(f->machine, ms[i].machine_id))
			continue;
		if (!(m = machine_state(f, ms[i].machine_id))) {
			r = -ENOMEM;
			break;
		}
		shown_name(ms, n, i, shown, sizeof(shown));
		if ((r = copy_host(f, m->machine_id, shown, &m->host_id, err, errlen)) < 0)
			break;
		if (f->total >= FLEET_ROWS_MAX) {
			snprintf(err, errlen, "the copy holds its bound of %d entries: choose one "
				 "machine (--machine) or fewer days (--days)", FLEET_ROWS_MAX);
			r = -E2BIG;
			break;
		}
		before = copy_max_id(f);
		r = sqlsrv_pull_batches(f->srv, m->machine_id, m->last_seq, f->since, f->dst,
					ROUND_ROWS < FLEET_ROWS_MAX - f->total
						? ROUND_ROWS : FLEET_ROWS_MAX - f->total,
					&got, err, errlen);
		if (r == 0 && got.rows)
			r = copy_own(f, before, m->host_id, err, errlen);
		if (r < 0) {
			/* a half batch must not stay: its entries come again */
			sqlite3_stmt *st = NULL;

			if (sqlite3_prepare_v2(f->db, "DELETE FROM connections WHERE id > ?1", -1, &st,
					       NULL) == SQLITE_OK) {
				sqlite3_bind_int64(st, 1, before);
				sqlite3_step(st);
			}
			sqlite3_finalize(st);
			got.rows = 0;
		}
		if (r == 0) {
			m->last_seq = got.last_seq;
			f->total += got.rows;
			*copied += got.rows;
			*behind |= got.more;
		}
	}
	free(ms);
	if (r == -ECONNRESET || r == -ETIMEDOUT || r == -E2BIG) {
		/* the line is gone (or was dropped): connect again next time */
		sqlsrv_close(f->srv);
		f->srv = NULL;
	}
	return r;
}

static void *run(void *arg)
{
	struct fleet *f = arg;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		struct timespec until;
		bool behind;
		uint64_t copied;
		int64_t start;
		char err[600] = "";
		int r;

		if (!f->behind) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += f->interval;
			while (!f->stop && pthread_cond_timedwait(&f->wake, &f->lock, &until) == 0)
				;
			if (f->stop)
				break;
		}
		pthread_mutex_unlock(&f->lock);
		start = (int64_t)time(NULL);
		r = refresh(f, &copied, &behind, err, sizeof(err));
		pthread_mutex_lock(&f->lock);
		f->entries = f->total;
		if (r < 0) {
			snprintf(f->error, sizeof(f->error), "%s", err);
			f->behind = false;
		} else {
			f->error[0] = '\0';
			f->behind = behind;
			if (!behind)
				f->as_of = start;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int fleet_open(const json_t *server, const char *file, const char *machine, int64_t since,
	       const char *path, struct fleet **ret)
{
	struct fleet *f = calloc(1, sizeof(*f));
	char err[600] = "";
	uint64_t copied = 0, rounds = 0;
	bool behind = true;
	int r;

	*ret = NULL;
	if (!f)
		return 1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	if (sql_settings(server, file, &f->cfg) < 0) {
		free(f);
		return 1;
	}
	f->since = since;
	if (machine && !(f->machine = strdup(machine))) {
		fleet_close(f);
		return 1;
	}
	r = store_sqlite_open(path, &f->dst, err, sizeof(err));
	if (r == 0)
		r = copy_prepare(f, path, err, sizeof(err));
	f->as_of = (int64_t)time(NULL);
	while (r == 0 && behind) {
		uint64_t n;

		r = refresh(f, &n, &behind, err, sizeof(err));
		copied += n;
		rounds++;
	}
	if (r < 0) {
		fprintf(stderr, "picosnitch: %s\n", err);
		if (r == -E2BIG)
			fprintf(stderr, "picosnitch: the copy stops at %" PRIu64 " entries\n",
				f->total);
		else {
			fleet_close(f);
			return 1;
		}
	}
	f->entries = f->total;
	printf("picosnitch: %" PRIu64 " entries copied from the %s server%s%s\n", copied,
	       sqlsrv_client_name(f->cfg.client), machine ? " for " : " (every machine)",
	       machine ? machine : "");
	fflush(stdout);
	*ret = f;
	return 0;
}

int fleet_start(struct fleet *f, unsigned interval)
{
	int r;

	if (!interval)
		return 0;
	f->interval = interval;
	r = pthread_create(&f->thread, NULL, run, f);
	if (r)
		return -r;
	f->started = true;
	return 0;
}

void fleet_close(struct fleet *f)
{
	if (!f)
		return;
	if (f->started) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_cond_signal(&f->wake);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->thread, NULL);
	}
	sqlsrv_close(f->srv);
	if (f->db)
		sqlite3_close(f->db);
	if (f->dst)
		store_close(f->dst);
	json_decref(f->machines);
	free(f->machine);
	free(f->m);
	sqlsrv_cfg_free(&f->cfg);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->wake);
	free(f);
}

json_t *fleet_status(void *ctx)
{
	struct fleet *f = ctx;
	json_t *o;

	pthread_mutex_lock(&f->lock);
	o = json_pack("{s:O?,s:I,s:I,s:b}", "machines", f->machines, "as_of", (json_int_t)f->as_of,
		      "entries", (json_int_t)f->entries, "behind", f->behind);
	if (o && f->error[0])
		json_object_set_new(o, "error", json_string(f->error));
	pthread_mutex_unlock(&f->lock);
	return o;
}
