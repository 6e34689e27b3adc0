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

/* The settings: --server FILE (a JSON object with the keys of "DB sql
 * server"), else config.json's; the password read.  0, or -errno with the
 * reason on stderr. */
struct sqlsrv_cfg;
int sql_settings(const json_t *from_config, const char *file, struct sqlsrv_cfg *c);

#endif
