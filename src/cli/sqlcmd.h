/* `picosnitch sql-status` and `picosnitch sql-schema` (sqlcmd.c). */
#ifndef PS_CLI_SQLCMD_H
#define PS_CLI_SQLCMD_H

#include <stdint.h>

#include <jansson.h>

/* server: config.json's "DB sql server"; file: --server FILE or NULL. */
int cmd_sql_schema(const json_t *server, const char *file);
/* Exit status 0: every machine reports; 3: some stopped; 1: the server
 * could not be asked.  stale: seconds (0: two windows and a minute). */
int cmd_sql_status(const json_t *server, const char *file, int64_t stale);

/* The fleet view's copy: the server's entries since `since` (of every
 * machine, or of one: host name or machine id) into a new snitch.db at
 * path.  0, or 1 with the reason on stderr. */
int sql_fleet_copy(const json_t *server, const char *file, const char *machine, int64_t since,
		   const char *path, json_t **machines);

#endif
