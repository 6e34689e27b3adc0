/* Benchmark helper for src/query (run by bench/query-bench.sh).
 *
 *   querygen gen PATH [ROWS]     build a snitch.db of ROWS (10 million)
 *                                 entries over a year, if PATH is not there;
 *                                 then bring its rollups up to date
 *   querygen run PATH [--cold] [--reps N] [--only KIND] [--window NAME]
 *                [--dim NAME] [--filter 0|1|2] [--exe PATH] [--no-prefetch]
 *                [--no-exe-weeks] [--no-exe-sums] [--buckets N]
 *                                 time every query kind over several windows
 *                                 and print one tab-separated line each; the
 *                                 filter (1, "filter") is the busiest
 *                                 executable of the last day (or --exe) and
 *                                 domain not empty, 2 ("exe") that executable
 *                                 alone (the view's f on it);
 *                                 "page" is what the dash's executable page
 *                                 reads (its executable only);
 *                                 --no-exe-weeks: an executable's weeks
 *                                 read from its days' sums (schema 20)
 *                                 --no-exe-sums: an executable's entries
 *                                 read from its days, never its sums
 *                                 --no-prefetch: no helpers read ahead
 *                                 (query_prefetch.c)
 *                                 --buckets N: a series' buckets (60; the
 *                                 dash asks for 300)
 *   querygen writecost PATH [WINDOWS]
 *                                 time the monitor's write of a window of
 *                                 entries (store_write) with and without the
 *                                 rollups' triggers, alternating (PATH is
 *                                 written to: give it a copy)
 *   querygen index PATH SQL       add an index to PATH (to measure it)
 *
 * The schema is made by store_sqlite_open, exactly as the monitor makes it;
 * the rows are then inserted with plain SQL (indexes and triggers dropped
 * during the load and re-created from their own SQL text).  The rollups are
 * then built by the monitor's own code (store_rollup, one day per step, as
 * the logger does when it catches up), and the time of each day printed:
 * that is what the monitor adds once a day.  Cardinalities are those of a
 * busy desktop: ~3000 executables, ~40000 remote addresses, ~5000 domains,
 * ~20 users, 60 s windows.  --cold drops the page cache (as root: sync and
 * "3" into /proc/sys/vm/drop_caches) and reopens the database before each
 * query; otherwise each query runs once to warm up and then --reps times
 * (the median is printed). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "geo/geo.h"
#include "query/query.h"
#include "storage/rollup.h"
#include "storage/store.h"

#define N_EXES 3000
#define N_PARENTS 100
#define N_RADDRS 40000
#define N_LADDRS 30
#define N_DOMAINS 5000
#define N_NETNS 10
#define WINDOW 60
#define YEAR (365 * 86400)
/* the last window ends here (2026-01-01 00:00 UTC), for runs that repeat */
#define END_TIME 1767225600

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static double unif(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* Zipf-like popularity: a few values take most rows, as in real traffic. */
struct zipf {
	double *cdf;
	size_t n;
};

static void zipf_init(struct zipf *z, size_t n, double s)
{
	double sum = 0;

	z->n = n;
	z->cdf = malloc(n * sizeof(double));
	if (!z->cdf)
		abort();
	for (size_t i = 0; i < n; i++)
		z->cdf[i] = (sum += 1.0 / pow((double)(i + 1), s));
	for (size_t i = 0; i < n; i++)
		z->cdf[i] /= sum;
}

static size_t zipf_pick(const struct zipf *z)
{
	double u = unif();
	size_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "querygen: %s: %s\n", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* the executable tuples: some paths come with several cmdlines/hashes */
static void exe_tuple(int i, char *path, char *name, char *cmd, char *sha, size_t size)
{
	static const char *const launchers[] = { "/usr/lib/systemd/systemd", "/usr/bin/bash",
						 "/usr/bin/gnome-shell", "/usr/bin/zsh",
						 "/usr/bin/python3.11", "/usr/sbin/cron" };
	int p = i * 4 / 5;

	if (i < N_PARENTS && i < 6) {
		snprintf(path, size, "%s", launchers[i]);
		snprintf(name, 16, "%s", strrchr(launchers[i], '/') + 1);
	} else if (p % 7 == 3) {
		snprintf(path, size, "/home/user%d/.local/share/app-%d/bin/tool-%d", p % 19, p, p);
		snprintf(name, 16, "tool-%d", p);
	} else {
		snprintf(path, size, "/usr/bin/prog-%04d", p);
		snprintf(name, 16, "prog-%04d", p);
	}
	snprintf(cmd, size, "%s --profile=%d --config /etc/conf-%d.toml", name, i % 5, p);
	if (i % 97 == 5)
		snprintf(sha, 65, "!exited");
	else
		snprintf(sha, 65, "%016llx%016llx%016llx%016llx", (unsigned long long)mix(i),
			 (unsigned long long)mix(i + 1000003), (unsigned long long)mix(i + 2000003),
			 (unsigned long long)mix(i + 3000003));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Open PATH as the monitor does (which migrates an older schema) and bring
 * its rollups up to the end of the data, one step at a time as the logger
 * does, timing each: a step is one day (or a run of days without entries),
 * and at the end of a week or a month also that week or month. */
static int build_rollups(const char *path)
{
	static double day_ms[4096], month_ms[256], week_ms[1024];
	size_t n_days = 0, n_months = 0, n_weeks = 0;
	char err[512];
	struct store *s;
	double t0 = now_ms(), t;
	int r;

	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "querygen: %s: %s\n", path, err);
		return 1;
	}
	fprintf(stderr, "querygen: opened (and migrated) in %.0f ms\n", now_ms() - t0);
	for (;;) {
		sqlite3 *db;
		sqlite3_stmt *st;
		int64_t before = 0, after = 0;

		/* whether this step ends a month: read the coverage around it */
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
		    sqlite3_prepare_v2(db, "SELECT complete_until FROM rollup_state", -1, &st, NULL) ==
			    SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				before = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		t = now_ms();
		r = store_rollup(s, END_TIME + 1);
		t = now_ms() - t;
		if (r <= 0) {
			sqlite3_close(db);
			break;
		}
		if (sqlite3_prepare_v2(db, "SELECT complete_until FROM rollup_state", -1, &st, NULL) ==
		    SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				after = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
		if (after - before != 86400)
			continue;	/* days without entries */
		/* a step that ends on the 1st (UTC) also summed the month */
		if (rollup_month_start(after) == after) {
			if (n_months < 256)
				month_ms[n_months++] = t;
		} else if (rollup_week_start(after) == after) {
			if (n_weeks < 1024)
				week_ms[n_weeks++] = t;
		} else if (n_days < 4096) {
			day_ms[n_days++] = t;
		}
	}
	store_close(s);
	if (r < 0) {
		fprintf(stderr, "querygen: rollups: %s\n", err);
		return 1;
	}
	if (n_days) {
		qsort(day_ms, n_days, sizeof(double), cmp_double);
		qsort(month_ms, n_months, sizeof(double), cmp_double);
		qsort(week_ms, n_weeks, sizeof(double), cmp_double);
		fprintf(stderr,
			"querygen: rollups of %zu days built in %.1f s: a day takes %.0f ms (median; "
			"max %.0f ms), a day that ends a week %.0f ms (median of %zu; max %.0f ms), "
			"a month %.0f ms (median of %zu; max %.0f ms)\n",
			n_days + n_weeks + n_months, (now_ms() - t0) / 1e3, day_ms[n_days / 2],
			day_ms[n_days - 1], n_weeks ? week_ms[n_weeks / 2] : 0.0, n_weeks,
			n_weeks ? week_ms[n_weeks - 1] : 0.0, n_months ? month_ms[n_months / 2] : 0.0,
			n_months, n_months ? month_ms[n_months - 1] : 0.0);
	} else {
		fprintf(stderr, "querygen: rollups up to date\n");
	}
	return 0;
}

static int generate(const char *path, long rows)
{
	char tmp[4096], err[512], *msg = NULL;
	char pth[512], name[16], cmd[512], sha[65], buf[128];
	struct zipf zexe, zraddr, zpar;
	int parent_of[N_EXES], uid_of[N_EXES];
	int dom_of[N_RADDRS];
	struct store *s;
	sqlite3 *db;
	sqlite3_stmt *st, *idx;
	char *index_sql[16], *index_name[16];
	bool index_trigger[16];
	int n_index = 0;
	struct stat sb;
	double t0 = now_ms();
	long done = 0;
	int64_t first = END_TIME - YEAR;
	long n_windows = YEAR / WINDOW;
	double wsum = 0;

	if (stat(path, &sb) == 0) {
		fprintf(stderr, "querygen: %s exists, reusing it\n", path);
		return build_rollups(path);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if (store_sqlite_open(tmp, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "querygen: %s: %s\n", tmp, err);
		return 1;
	}
	store_close(s);
	if (sqlite3_open(tmp, &db) != SQLITE_OK)
		return 1;
	/* a bulk load: no journal, indexes built at the end from their SQL */
	if (exec_sql(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
			 "PRAGMA cache_size = -1000000;") < 0)
		return 1;
	sqlite3_prepare_v2(db, "SELECT name, sql, type FROM sqlite_master WHERE type IN ('index', "
			   "'trigger') AND sql IS NOT NULL", -1, &idx, NULL);
	while (sqlite3_step(idx) == SQLITE_ROW && n_index < 16) {
		index_name[n_index] = strdup((const char *)sqlite3_column_text(idx, 0));
		index_sql[n_index] = strdup((const char *)sqlite3_column_text(idx, 1));
		index_trigger[n_index++] = !strcmp((const char *)sqlite3_column_text(idx, 2), "trigger");
	}
	sqlite3_finalize(idx);
	for (int i = 0; i < n_index; i++) {
		snprintf(buf, sizeof(buf), "DROP %s %s", index_trigger[i] ? "TRIGGER" : "INDEX",
			 index_name[i]);
		free(index_name[i]);
		if (exec_sql(db, buf) < 0)
			return 1;
	}

	exec_sql(db, "BEGIN");
	sqlite3_prepare_v2(db, "INSERT INTO executables(id, path, name, cmdline, sha256) VALUES (?, ?, ?, ?, ?)",
			   -1, &st, NULL);
	for (int i = 0; i < N_EXES; i++) {
		exe_tuple(i, pth, name, cmd, sha, sizeof(pth));
		sqlite3_bind_int(st, 1, i + 1);
		sqlite3_bind_text(st, 2, pth, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, cmd, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, sha, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			return fprintf(stderr, "querygen: %s\n", sqlite3_errmsg(db)), 1;
		sqlite3_reset(st);
		/* launchers are their own parents' children; the rest hang off them */
		parent_of[i] = i < N_PARENTS ? (int)(mix(i) % 6) : (int)(mix(i + 7) % N_PARENTS);
		uid_of[i] = (mix(i + 11) % 10) < 7 ? 1000 : (mix(i + 11) % 10) < 9 ? 0 :
			    1001 + (int)(mix(i + 13) % 18);
		if (i % 211 == 17)
			uid_of[i] = -1;
	}
	sqlite3_finalize(st);
	/* addresses: 1..N_LADDRS local ones, then the remote ones, then "" */
	sqlite3_prepare_v2(db, "INSERT INTO addresses(id, address) VALUES (?, ?)", -1, &st, NULL);
	for (int i = 0; i < N_LADDRS + N_RADDRS + 1; i++) {
		uint64_t h = mix(i + 99);

		if (i < N_LADDRS)
			snprintf(buf, sizeof(buf), i % 3 ? "192.168.%d.%d" : "fd00::%x:%x", i, i + 10);
		else if (i == N_LADDRS + N_RADDRS)
			buf[0] = '\0';
		else if (h % 10 == 0)
			snprintf(buf, sizeof(buf), "2001:db8:%x:%x::%x", (unsigned)(h >> 8) & 0xffff,
				 (unsigned)(h >> 24) & 0xffff, i);
		else
			snprintf(buf, sizeof(buf), "%u.%u.%u.%u", (unsigned)(h >> 8) % 223 + 1,
				 (unsigned)(h >> 16) & 0xff, (unsigned)(h >> 24) & 0xff, (unsigned)i & 0xff);
		sqlite3_bind_int(st, 1, i + 1);
		sqlite3_bind_text(st, 2, buf, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			return fprintf(stderr, "querygen: %s: %s\n", buf, sqlite3_errmsg(db)), 1;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	/* domains: 1 is "", then the names; each remote address has one */
	sqlite3_prepare_v2(db, "INSERT INTO domains(id, domain) VALUES (?, ?)", -1, &st, NULL);
	for (int i = 0; i <= N_DOMAINS; i++) {
		if (i == 0)
			buf[0] = '\0';
		else
			snprintf(buf, sizeof(buf), "%s%d.%s", i % 3 ? "cdn-" : "api.", i,
				 i % 5 ? "example.com" : "example.org");
		sqlite3_bind_int(st, 1, i + 1);
		sqlite3_bind_text(st, 2, buf, -1, SQLITE_TRANSIENT);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	for (int i = 0; i < N_RADDRS; i++)
		dom_of[i] = mix(i + 5) % 100 < 15 ? 1 : 2 + (int)(mix(i + 3) % N_DOMAINS);
	exec_sql(db, "COMMIT");

	zipf_init(&zexe, N_EXES, 1.05);
	zipf_init(&zraddr, N_RADDRS, 0.9);
	zipf_init(&zpar, N_NETNS, 2.0);
	for (long w = 0; w < n_windows; w++)
		wsum += 1.0 + 0.6 * sin(2 * M_PI * (double)(w % 1440) / 1440.0);

	sqlite3_prepare_v2(db,
			   "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, "
			   "lport, rport, laddr_id, raddr_id, domain_id, netns, sent, received, flows, "
			   "grandparent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			   -1, &st, NULL);
	exec_sql(db, "BEGIN");
	double cum = 0;
	for (long w = 0; w < n_windows; w++) {
		double wt = 1.0 + 0.6 * sin(2 * M_PI * (double)(w % 1440) / 1440.0);
		long upto = lround((cum += wt) / wsum * (double)rows);
		int64_t t = first + (int64_t)(w + 1) * WINDOW;

		for (; done < upto; done++) {
			int e = (int)zipf_pick(&zexe), p = parent_of[e], g = parent_of[p];
			int r = (int)zipf_pick(&zraddr), kind = (int)(rnd() % 100);
			int family = kind < 85 ? 2 : kind < 97 ? 10 : kind < 99 ? 17 : 0;
			int proto = family == 17 ? (rnd() % 2 ? 0x88cc : 0x88b5) : rnd() % 10 < 8 ? 6 : 17;
			int64_t lport = 32768 + (int64_t)(rnd() % 28232), rport;
			int rp = (int)(rnd() % 100);
			int64_t sent = (int64_t)((rnd() % 1000 + 1) << (rnd() % 14));

			rport = rp < 60 ? 443 : rp < 70 ? 80 : rp < 80 ? 53 : (int64_t)(rnd() % 65535 + 1);
			if (family == 17 || family == 0) {
				lport = rport = family ? 0 : -1;
				proto = family ? proto : 0;
			}
			sqlite3_bind_int64(st, 1, t);
			sqlite3_bind_int(st, 2, e + 1);
			sqlite3_bind_int(st, 3, p + 1);
			sqlite3_bind_int(st, 4, uid_of[e]);
			sqlite3_bind_int(st, 5, family);
			sqlite3_bind_int(st, 6, proto);
			sqlite3_bind_int64(st, 7, lport);
			sqlite3_bind_int64(st, 8, rport);
			sqlite3_bind_int(st, 9, 1 + (int)(mix(e) % N_LADDRS));
			sqlite3_bind_int(st, 10, family ? N_LADDRS + r + 1 : N_LADDRS + N_RADDRS + 1);
			sqlite3_bind_int(st, 11, family ? dom_of[r] : 1);
			sqlite3_bind_int64(st, 12, mix(e + 3) % 10 ? 4026531840LL :
						   4026532000LL + (int64_t)zipf_pick(&zpar) * 7);
			sqlite3_bind_int64(st, 13, sent);
			sqlite3_bind_int64(st, 14, sent * (int64_t)(rnd() % 20 + 1));
			sqlite3_bind_int(st, 15, 1 + (int)(rnd() % 4));
			sqlite3_bind_int(st, 16, g + 1);
			if (sqlite3_step(st) != SQLITE_DONE)
				return fprintf(stderr, "querygen: %s\n", sqlite3_errmsg(db)), 1;
			sqlite3_reset(st);
			if (done % 1000000 == 999999) {
				exec_sql(db, "COMMIT; BEGIN");
				fprintf(stderr, "querygen: %ld rows, %.0f s\n", done + 1, (now_ms() - t0) / 1e3);
			}
		}
	}
	exec_sql(db, "COMMIT");
	sqlite3_finalize(st);
	for (int i = 0; i < n_index; i++) {
		fprintf(stderr, "querygen: %s (%.0f s)\n", index_sql[i], (now_ms() - t0) / 1e3);
		if (exec_sql(db, index_sql[i]) < 0)
			return 1;
		free(index_sql[i]);
	}
	if (exec_sql(db, "PRAGMA journal_mode = WAL") < 0)
		return 1;
	if (sqlite3_close(db) != SQLITE_OK || rename(tmp, path) < 0) {
		fprintf(stderr, "querygen: %s: %s\n", path, msg ? msg : strerror(errno));
		return 1;
	}
	fprintf(stderr, "querygen: %s: %ld rows in %.0f s\n", path, done, (now_ms() - t0) / 1e3);
	return build_rollups(path);
}

/* The monitor's write of one window (store_write: one transaction of
 * ROWS_PER_WINDOW entries) with the rollups' triggers, and without them
 * (as schema 11 wrote), alternating in rounds so that both see the same
 * file and cache; and the per-tick check that the rollups are up to date.
 * The entries are stamped after the last one (as new windows are): the
 * triggers only compare their time. */
#define ROWS_PER_WINDOW 20

static int write_cost(const char *path, int windows)
{
	static double with_ms[100000], without_ms[100000];
	static const char *const triggers[] = { "connections_rollup_insert", "connections_rollup_delete",
						"connections_rollup_update" };
	char *trigger_sql[3] = { NULL }, pth[512], name[16], cmd[512], sha[65], err[512];
	struct conn_row rows[ROWS_PER_WINDOW];
	static char paths[ROWS_PER_WINDOW][512], names[ROWS_PER_WINDOW][16], cmds[ROWS_PER_WINDOW][512],
		shas[ROWS_PER_WINDOW][65], raddrs[ROWS_PER_WINDOW][32];
	size_t n_with = 0, n_without = 0;
	double check_ms = 0, sum_with = 0, sum_without = 0;
	struct store *s;
	sqlite3 *db;
	int64_t t = END_TIME;

	if (windows < 100 || windows > 100000)
		windows = 4000;
	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0 || sqlite3_open(path, &db) != SQLITE_OK) {
		fprintf(stderr, "querygen: %s: %s\n", path, err);
		return 1;
	}
	sqlite3_busy_timeout(db, 5000);
	for (int i = 0; i < 3; i++) {
		sqlite3_stmt *st;

		sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", -1,
				   &st, NULL);
		sqlite3_bind_text(st, 1, triggers[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			trigger_sql[i] = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		if (!trigger_sql[i]) {
			fprintf(stderr, "querygen: %s has no trigger %s (not schema 12?)\n", path, triggers[i]);
			return 1;
		}
	}
	for (int w = 0; w < windows; w++) {
		bool with = (w / 100) % 2 == 0;
		double t0;

		if (w % 100 == 0)
			for (int i = 0; i < 3; i++) {
				char sql[128];

				snprintf(sql, sizeof(sql), "DROP TRIGGER IF EXISTS %s", triggers[i]);
				if (exec_sql(db, sql) < 0 || (with && exec_sql(db, trigger_sql[i]) < 0))
					return 1;
			}
		t += 60;
		for (int i = 0; i < ROWS_PER_WINDOW; i++) {
			int e = (int)(rnd() % N_EXES);

			exe_tuple(e, pth, name, cmd, sha, sizeof(pth));
			snprintf(paths[i], sizeof(paths[i]), "%s", pth);
			snprintf(names[i], sizeof(names[i]), "%s", name);
			snprintf(cmds[i], sizeof(cmds[i]), "%s", cmd);
			snprintf(shas[i], sizeof(shas[i]), "%s", sha);
			snprintf(raddrs[i], sizeof(raddrs[i]), "203.0.%u.%u", (unsigned)(rnd() % 200),
				 (unsigned)(rnd() % 250));
			rows[i] = (struct conn_row){
				.time = t, .sent = rnd() % 100000, .received = rnd() % 1000000, .flows = 1,
				.exe = paths[i], .name = names[i], .cmdline = cmds[i], .sha256 = shas[i],
				.pexe = "/usr/bin/bash", .pname = "bash", .pcmdline = "bash", .psha256 = "x",
				.gpexe = "/usr/lib/systemd/systemd", .gpname = "systemd", .gpcmdline = "/sbin/init",
				.gpsha256 = "y", .uid = 1000, .lport = 32768 + (int64_t)(rnd() % 28000),
				.rport = 443, .laddr = "192.168.1.2", .raddr = raddrs[i], .domain = "",
				.family = 2, .protocol = 6, .netns = 4026531840ULL,
			};
		}
		t0 = now_ms();
		if (store_write(s, rows, ROWS_PER_WINDOW) < 0) {
			fprintf(stderr, "querygen: write: %s\n", s->err);
			return 1;
		}
		t0 = now_ms() - t0;
		if (w % 100 < 10)
			continue;	/* the first after a schema change re-prepares */
		if (with) {
			with_ms[n_with++] = t0;
			sum_with += t0;
		} else {
			without_ms[n_without++] = t0;
			sum_without += t0;
		}
	}
	for (int i = 0; i < 3; i++) {
		char sql[128];

		snprintf(sql, sizeof(sql), "DROP TRIGGER IF EXISTS %s", triggers[i]);
		exec_sql(db, sql);
		exec_sql(db, trigger_sql[i]);
		free(trigger_sql[i]);
	}
	sqlite3_close(db);
	/* the logger's check at each tick, when the rollups are up to date */
	for (int i = 0; i < 1000; i++) {
		double t0 = now_ms();

		store_rollup(s, END_TIME + 1);
		check_ms += now_ms() - t0;
	}
	store_close(s);
	qsort(with_ms, n_with, sizeof(double), cmp_double);
	qsort(without_ms, n_without, sizeof(double), cmp_double);
	printf("write of a window of %d entries (%zu windows each, alternating in rounds of 100):\n"
	       "  with the rollup triggers (schema 12-14):median %.3f ms, mean %.3f ms\n"
	       "  without them (as schema 11 wrote):       median %.3f ms, mean %.3f ms\n"
	       "  difference: median %+.1f%%, mean %+.1f%%\n"
	       "the logger's rollup check per tick (up to date): %.1f us\n",
	       ROWS_PER_WINDOW, n_with, with_ms[n_with / 2], sum_with / (double)n_with,
	       without_ms[n_without / 2], sum_without / (double)n_without,
	       100.0 * (with_ms[n_with / 2] / without_ms[n_without / 2] - 1),
	       100.0 * (sum_with / (double)n_with / (sum_without / (double)n_without) - 1),
	       check_ms);
	return 0;
}

static int add_index(const char *path, const char *sql)
{
	sqlite3 *db;
	double t0 = now_ms();
	int r;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 1;
	exec_sql(db, "PRAGMA cache_size = -1000000");
	r = exec_sql(db, sql);
	sqlite3_close(db);
	fprintf(stderr, "querygen: %s: %.0f s\n", sql, (now_ms() - t0) / 1e3);
	return r < 0;
}

/* Countries and network owners: the interfaces' own (src/geo), with the
 * offline data of the build (or $PICOSNITCH_DATA_DIR). */
static struct geo *bench_geo;

static void geo_reopen(struct query_options *opt)
{
	struct geo_options gopt = { .state_dirfd = -1 };

	geo_close(bench_geo);
	bench_geo = NULL;
	if (geo_open(&gopt, &bench_geo) < 0)
		exit(1);
	if (*geo_problems(bench_geo))
		fprintf(stderr, "querygen: %s", geo_problems(bench_geo));
	opt->country_of = geo_country_hook;
	opt->country_ctx = bench_geo;
	opt->asn_of = geo_owner_hook;
	opt->asn_ctx = bench_geo;
}

static void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3\n", 2) != 2) {
		perror("querygen: /proc/sys/vm/drop_caches (run as root)");
		exit(1);
	}
	close(fd);
}

/* series: aligned buckets (as the interfaces ask for them); series/exact:
 * buckets of exactly the window's length / the buckets asked for (60) */
enum kind { K_TOTALS, K_SERIES, K_SERIES_EXACT, K_DISTINCT, K_BOUNDS, K_PAGE };
static const char *const kind_names[] = { "totals", "series", "series/exact", "distinct", "bounds",
					   "page" };

struct bench_ctx {
	const char *path;
	struct query_db *db;
	struct query_options opt;
	bool cold;
	int reps;
	size_t buckets;
	int64_t first, last;
	/* the filters: a drill-down into the busiest executable, leaving out
	 * what had no domain */
	struct query_filter filters[2];
	char exe[512];
};

/* the filters of mode f: none, the executable and domain not empty, the
 * executable alone */
static const char *const filter_names[] = { "-", "filter", "exe" };

static int run_one(struct bench_ctx *c, enum kind kind, enum query_dim dim,
		   const struct query_window *w, int filtered, size_t *rows, char *err, size_t errlen)
{
	struct query_select sel = { .dim = dim, .window = *w,
				    .filters = filtered ? c->filters : NULL,
				    .n_filters = filtered == 1 ? 2 : filtered == 2 ? 1 : 0 };
	struct query_result *res = NULL;
	struct query_series *ser = NULL;
	int64_t a, b;
	int r = 0;

	switch (kind) {
	case K_TOTALS: {
		struct query_totals_req req = { .sel = sel, .sort = QUERY_SORT_TOTAL, .limit = 50 };

		r = query_totals(c->db, &req, &res, err, errlen);
		*rows = res ? (size_t)res->n_groups : 0;
		break;
	}
	case K_DISTINCT: {
		struct query_distinct_req req = { .sel = sel, .limit = 200 };

		r = query_distinct(c->db, &req, &res, err, errlen);
		*rows = res ? (size_t)res->n_groups : 0;
		break;
	}
	case K_SERIES:
	case K_SERIES_EXACT: {
		struct query_series_req req = { .sel = sel, .top = 10, .buckets = c->buckets, .other = true,
						.align = kind == K_SERIES };

		r = query_series(c->db, &req, &ser, err, errlen);
		*rows = ser ? ser->n_lines : 0;
		break;
	}
	case K_BOUNDS:
		r = query_bounds(c->db, &a, &b, err, errlen);
		*rows = 2;
		break;
	case K_PAGE: {
		/* what the dash's executable page reads (dash_api.c): the lists
		 * of the executable (the filter's first, only) at once, and its
		 * first and last entry */
		static const enum query_dim dims[] = {
			QUERY_DIM_EXECUTABLE, QUERY_DIM_SHA256, QUERY_DIM_NAME, QUERY_DIM_CMDLINE,
			QUERY_DIM_PARENT_EXECUTABLE, QUERY_DIM_USER, QUERY_DIM_REMOTE_ADDRESS,
			QUERY_DIM_DOMAIN, QUERY_DIM_REMOTE_PORT, QUERY_DIM_LOCAL_PORT,
			QUERY_DIM_PROTOCOL,
		};
		struct query_result *all[sizeof(dims) / sizeof(dims[0])];
		struct query_totals_req req = { .sel = sel, .sort = QUERY_SORT_TOTAL, .limit = 100 };

		req.sel.n_filters = filtered ? 1 : 0;
		r = query_totals_dims(c->db, &req, dims, sizeof(dims) / sizeof(dims[0]), all, err, errlen);
		*rows = 0;
		for (size_t i = 0; r == 0 && i < sizeof(dims) / sizeof(dims[0]); i++) {
			*rows += all[i]->n_groups;
			query_result_free(all[i]);
		}
		if (r == 0)
			r = query_span(c->db, &req.sel, &a, &b, err, errlen);
		break;
	}
	}
	query_result_free(res);
	query_series_free(ser);
	return r;
}

static int reopen(struct bench_ctx *c)
{
	char err[512];
	int r;

	query_close(c->db);
	c->db = NULL;
	r = query_open(c->path, &c->opt, &c->db, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "querygen: %s\n", err);
	return r;
}

/* Time one query; prints "kind dim window filter ms groups". */
static void measure(struct bench_ctx *c, enum kind kind, enum query_dim dim, const char *wname,
		    const struct query_window *w, int filtered)
{
	char err[512] = "";
	double ms[32], t0;
	size_t rows = 0;
	int r, n = c->cold ? 1 : c->reps;

	if (c->cold) {
		query_close(c->db);
		c->db = NULL;
		drop_caches();
		/* a new process's empty cache (opened once per run of view or
		 * dash, not per query: outside the time) */
		geo_reopen(&c->opt);
		t0 = now_ms();
		r = reopen(c);
		if (r == 0)
			r = run_one(c, kind, dim, w, filtered, &rows, err, sizeof(err));
		ms[0] = now_ms() - t0;
	} else {
		r = run_one(c, kind, dim, w, filtered, &rows, err, sizeof(err));
		for (int i = 0; i < n && r == 0; i++) {
			t0 = now_ms();
			r = run_one(c, kind, dim, w, filtered, &rows, err, sizeof(err));
			ms[i] = now_ms() - t0;
		}
		qsort(ms, (size_t)n, sizeof(double), cmp_double);
	}
	if (r < 0)
		printf("%s\t%s\t%s\t%s\terror\t%s\n", kind_names[kind], kind == K_BOUNDS ? "-" : query_dim_name(dim),
		       wname, filter_names[filtered], err);
	else
		printf("%s\t%s\t%s\t%s\t%.1f\t%zu\n", kind_names[kind], kind == K_BOUNDS ? "-" : query_dim_name(dim),
		       wname, filter_names[filtered], ms[n / 2], rows);
	fflush(stdout);
}

static int run(const char *path, int argc, char **argv)
{
	struct bench_ctx c = { .path = path, .reps = 3, .buckets = 60 };
	const char *only = NULL, *window = NULL, *dim = NULL, *exe = NULL;
	int filters = -1;
	char err[512];
	struct query_window windows[4];
	const char *wnames[] = { "hour", "day", "month", "year" };

	geo_reopen(&c.opt);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--cold"))
			c.cold = true;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			c.reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--window") && i + 1 < argc)
			window = argv[++i];
		else if (!strcmp(argv[i], "--dim") && i + 1 < argc)
			dim = argv[++i];
		else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filters = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--exe") && i + 1 < argc)
			exe = argv[++i];
		else if (!strcmp(argv[i], "--no-prefetch"))
			c.opt.no_prefetch = true;
		else if (!strcmp(argv[i], "--no-exe-weeks"))
			c.opt.no_exe_weeks = true;
		else if (!strcmp(argv[i], "--no-exe-sums"))
			c.opt.no_exe_sums = true;
		else if (!strcmp(argv[i], "--buckets") && i + 1 < argc)
			c.buckets = strtoul(argv[++i], NULL, 10);
	}
	if (c.reps < 1 || c.reps > 32)
		c.reps = 3;
	if (reopen(&c) < 0)
		return 1;
	if (query_bounds(c.db, &c.first, &c.last, err, sizeof(err)) < 0) {
		fprintf(stderr, "querygen: %s\n", err);
		return 1;
	}
	/* the busiest executable of the last day, for the drill-down filter
	 * (or the one asked for) */
	if (exe) {
		snprintf(c.exe, sizeof(c.exe), "%s", exe);
	} else {
		struct query_totals_req req = {
			.sel = { .dim = QUERY_DIM_EXECUTABLE,
				 .window = { .from = c.last - 86400, .has_from = true } },
			.limit = 1,
		};
		struct query_result *res;

		if (query_totals(c.db, &req, &res, err, sizeof(err)) < 0 || !res->n_rows) {
			fprintf(stderr, "querygen: %s\n", err);
			return 1;
		}
		snprintf(c.exe, sizeof(c.exe), "%s", res->rows[0].value.text);
		query_result_free(res);
	}
	c.filters[0] = (struct query_filter){ QUERY_DIM_EXECUTABLE, QUERY_INCLUDE, c.exe, strlen(c.exe) };
	c.filters[1] = (struct query_filter){ QUERY_DIM_DOMAIN, QUERY_EXCLUDE, "", 0 };
	fprintf(stderr, "querygen: %s, entries from %lld to %lld, filter: executable=%s, domain!=\"\"\n",
		path, (long long)c.first, (long long)c.last, c.exe);
	windows[0] = (struct query_window){ c.last + 1 - 3600, c.last + 1, true, true };
	windows[1] = (struct query_window){ c.last + 1 - 86400, c.last + 1, true, true };
	windows[2] = (struct query_window){ c.last + 1 - 30 * 86400, c.last + 1, true, true };
	windows[3] = (struct query_window){ 0 };

	if ((!only || !strcmp(only, "bounds")) && !window)
		measure(&c, K_BOUNDS, 0, "all", &windows[3], 0);
	for (int f = 0; f < 3; f++) {
		if (filters >= 0 && f != filters)
			continue;
		for (int wi = 0; wi < 4; wi++) {
			if (window && strcmp(window, wnames[wi]))
				continue;
			if (!only || !strcmp(only, "totals"))
				for (int d = 0; d < QUERY_DIM__COUNT; d++)
					if (!dim || !strcmp(dim, query_dim_name(d)))
						measure(&c, K_TOTALS, d, wnames[wi], &windows[wi], f);
			if (!only || !strcmp(only, "series")) {
				static const struct { enum kind kind; enum query_dim dim; } series[] = {
					{ K_SERIES, QUERY_DIM_EXECUTABLE },
					{ K_SERIES, QUERY_DIM_REMOTE_ADDRESS },
					{ K_SERIES, QUERY_DIM_DOMAIN },
					{ K_SERIES_EXACT, QUERY_DIM_EXECUTABLE },
				};

				for (size_t k = 0; k < sizeof(series) / sizeof(series[0]); k++)
					if (!dim || !strcmp(dim, query_dim_name(series[k].dim)))
						measure(&c, series[k].kind, series[k].dim, wnames[wi],
							&windows[wi], f);
			}
			if ((!only || !strcmp(only, "page")) && f == 1)
				measure(&c, K_PAGE, QUERY_DIM_EXECUTABLE, wnames[wi], &windows[wi], f);
			if (!only || !strcmp(only, "distinct")) {
				static const enum query_dim distinct[] = {
					QUERY_DIM_EXECUTABLE, QUERY_DIM_REMOTE_ADDRESS, QUERY_DIM_DOMAIN,
				};

				for (size_t k = 0; k < sizeof(distinct) / sizeof(distinct[0]); k++)
					if (!dim || !strcmp(dim, query_dim_name(distinct[k])))
						measure(&c, K_DISTINCT, distinct[k], wnames[wi], &windows[wi],
							f);
			}
		}
	}
	query_close(c.db);
	return 0;
}

/* What the lookups of every distinct remote address cost: the first time
 * (libmaxminddb and asn.bin) and from the cache. */
static int geo_cost(const char *path)
{
	struct query_options opt = { 0 };
	sqlite3 *db;
	sqlite3_stmt *st;
	char **addrs = NULL;
	size_t n = 0, cap = 0, local = 0, unknown = 0, owners = 0;
	double t1, t2;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT address FROM addresses WHERE address != ''", -1, &st, NULL) !=
		    SQLITE_OK)
		return 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			addrs = realloc(addrs, cap * sizeof(*addrs));
			if (!addrs)
				return 1;
		}
		addrs[n++] = strdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* the best of 5 rounds, each on a new handle (an empty cache): first
	 * lookups of both kinds, then the same from the cache */
	t1 = t2 = 1e9;
	for (int round = 0; round < 5; round++) {
		double a, b, c;

		geo_reopen(&opt);
		local = unknown = owners = 0;
		a = now_ms();
		for (size_t i = 0; i < n; i++) {
			const char *co = geo_country_hook(bench_geo, addrs[i]);
			const char *ow = geo_owner_hook(bench_geo, addrs[i]);

			local += !strcmp(co, GEO_LOCAL);
			unknown += !strcmp(co, GEO_UNKNOWN);
			owners += strncmp(ow, "AS", 2) == 0;
		}
		b = now_ms();
		for (size_t i = 0; i < n; i++) {
			geo_country_hook(bench_geo, addrs[i]);
			geo_owner_hook(bench_geo, addrs[i]);
		}
		c = now_ms();
		t1 = b - a < t1 ? b - a : t1;
		t2 = c - b < t2 ? c - b : t2;
	}
	printf("geo: %zu distinct addresses (%zu local, %zu of unknown country, %zu with an owner)\n"
	       "geo: first lookup (country and owner) %.1f ms in all, %.2f us each; cached %.1f ms, %.3f us each\n",
	       n, local, unknown, owners, t1, t1 * 1000 / (n ? n : 1), t2, t2 * 1000 / (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
	geo_close(bench_geo);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "gen"))
		return generate(argv[2], argc > 3 ? atol(argv[3]) : 10000000L);
	if (argc >= 3 && !strcmp(argv[1], "run"))
		return run(argv[2], argc - 3, argv + 3);
	if (argc == 3 && !strcmp(argv[1], "geo"))
		return geo_cost(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "index"))
		return add_index(argv[2], argv[3]);
	if (argc >= 3 && !strcmp(argv[1], "writecost"))
		return write_cost(argv[2], argc > 3 ? atoi(argv[3]) : 4000);
	fprintf(stderr, "usage: querygen gen PATH [ROWS] | run PATH [--cold] [--reps N] [--only KIND] "
			"[--window hour|day|month|year] | writecost PATH [WINDOWS] | "
			"index PATH SQL\n");
	return 2;
}
