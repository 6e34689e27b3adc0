/* `picosnitch sql-status` (each machine's heartbeat on the "DB sql
 * server", and which stopped) and `picosnitch sql-schema` (the tables and
 * the GRANT lines for the configured server).  Run as the user, never as
 * root; everything the server answers is made safe text. */
#include "cli/sqlcmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/sqlserver.h"
#include "util/strutil.h"

#define EXIT_USAGE 2
#define EXIT_STOPPED 3

/* The settings: --server FILE (a JSON object with the keys of "DB sql
 * server", e.g. a reader's), else config.json's. */
int sql_settings(const json_t *from_config, const char *file, struct sqlsrv_cfg *c)
{
	char err[512];
	json_t *obj = NULL;
	int r;

	if (file) {
		json_error_t je;

		obj = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
		if (!obj) {
			fprintf(stderr, "picosnitch: %s line %d: %s\n", file, je.line, je.text);
			return -EINVAL;
		}
	}
	r = sqlsrv_cfg_parse(obj ? obj : from_config, c, err, sizeof(err));
	json_decref(obj);
	if (r == -ENOENT) {
		fprintf(stderr, "picosnitch: no SQL server: \"DB sql server\" in config.json is {} "
			"(or give --server FILE)\n");
		return r;
	}
	if (r < 0) {
		fprintf(stderr, "picosnitch: %s%s%s\n", err, file ? " (in " : "", file ? file : "");
		if (file)
			fprintf(stderr, ")\n");
		return r;
	}
	r = sqlsrv_cfg_load_password(c, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "picosnitch: %s\n", err);
		sqlsrv_cfg_free(c);
	}
	return r;
}

int cmd_sql_schema(const json_t *server, const char *file)
{
	struct sqlsrv_cfg c;
	char *sql;
	bool pg;

	if (sql_settings(server, file, &c) < 0)
		return 1;
	pg = c.client == SQLSRV_POSTGRESQL;
	sql = sqlsrv_schema_sql(c.client, c.table);
	if (!sql) {
		sqlsrv_cfg_free(&c);
		return 1;
	}
	printf("-- picosnitch's tables on %s (docs/schema.md), made as an administrator:\n%s\n",
	       sqlsrv_client_name(c.client), sql);
	if (pg)
		printf("-- the writer (each machine's \"DB sql server\" user) and a reader:\n"
		       "CREATE ROLE picosnitch LOGIN PASSWORD 'choose one';\n"
		       "GRANT INSERT ON %s, %s_batches TO picosnitch;\n"
		       "GRANT SELECT (machine_id, boot_id, seq) ON %s_batches TO picosnitch;\n"
		       "CREATE ROLE picosnitch_reader LOGIN PASSWORD 'choose another';\n"
		       "GRANT SELECT ON %s, %s_batches TO picosnitch_reader;\n",
		       c.table, c.table, c.table, c.table, c.table);
	else
		printf("-- the writer (each machine's \"DB sql server\" user) and a reader:\n"
		       "CREATE USER 'picosnitch'@'%%' IDENTIFIED BY 'choose one';\n"
		       "GRANT INSERT ON %s.%s TO 'picosnitch'@'%%';\n"
		       "GRANT INSERT, SELECT (machine_id, boot_id, seq) ON %s.%s_batches TO "
		       "'picosnitch'@'%%';\n"
		       "CREATE USER 'picosnitch_reader'@'%%' IDENTIFIED BY 'choose another';\n"
		       "GRANT SELECT ON %s.%s TO 'picosnitch_reader'@'%%';\n"
		       "GRANT SELECT ON %s.%s_batches TO 'picosnitch_reader'@'%%';\n",
		       c.dbname ? c.dbname : "DATABASE", c.table, c.dbname ? c.dbname : "DATABASE",
		       c.table, c.dbname ? c.dbname : "DATABASE", c.table,
		       c.dbname ? c.dbname : "DATABASE", c.table);
	free(sql);
	sqlsrv_cfg_free(&c);
	return 0;
}

static void utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "%" PRId64, t);
}

int cmd_sql_status(const json_t *server, const char *file, int64_t stale)
{
	struct sqlsrv_machine *m = NULL;
	struct sqlsrv_cfg c;
	struct sqlsrv *s = NULL;
	char err[600];
	size_t n = 0, stopped = 0;
	int64_t now = (int64_t)time(NULL);
	int r;

	if (sql_settings(server, file, &c) < 0)
		return 1;
	r = sqlsrv_connect(&c, &s, err, sizeof(err));
	if (r == 0)
		r = sqlsrv_prepare(s, false, err, sizeof(err));
	if (r == 0)
		r = sqlsrv_machines(s, &m, &n, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "picosnitch: %s\n", err);
		if (r == -EIO)
			fprintf(stderr, "picosnitch: sql-status reads the whole table %s_batches: the "
				"writer may only see its own batch ids; give a reader's settings "
				"with --server FILE (picosnitch sql-schema prints its GRANT)\n",
				c.table);
		sqlsrv_close(s);
		sqlsrv_cfg_free(&c);
		return 1;
	}
	printf("host\tmachine id\tlast heartbeat (UTC)\tage (s)\twindow (s)\tbatches\tentries\tstate\n");
	for (size_t i = 0; i < n; i++) {
		char when[32], *host = text_for_terminal(m[i].host, strlen(m[i].host));
		int64_t age = now - m[i].last;
		int64_t limit = stale > 0 ? stale : sqlsrv_stale_after(m[i].window);
		bool gone = age > limit;

		utc(m[i].last, when, sizeof(when));
		stopped += gone;
		printf("%s\t%s\t%s\t%" PRId64 "\t%" PRIu32 "\t%" PRIu64 "\t%" PRIu64 "\t%s\n",
		       host ? host : "?", m[i].machine_id, when, age, m[i].window, m[i].batches,
		       m[i].entries, gone ? "STOPPED" : "reporting");
		free(host);
	}
	if (stopped)
		fprintf(stderr, "picosnitch: %zu of %zu machines stopped sending heartbeats (none "
			"for longer than two windows and a minute%s)\n", stopped, n,
			stale > 0 ? ", or --stale" : "");
	free(m);
	sqlsrv_close(s);
	sqlsrv_cfg_free(&c);
	return stopped ? EXIT_STOPPED : 0;
}
