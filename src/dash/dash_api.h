/* The JSON API of `picosnitch dash` (docs/api.md): a request (path and
 * query parameters, as the HTTP server decoded them) in, a status code and
 * a JSON body out.  No HTTP here, so the parsing of what a browser or any
 * local program sends can be fuzzed on its own (fuzz/fuzz-dash-api.c).
 * Parameters are untrusted bytes: every one is bounded, checked and named
 * in the error when wrong; filter values reach SQLite only as bound
 * parameters (src/query). */
#ifndef PS_DASH_DASH_API_H
#define PS_DASH_DASH_API_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "logger/record.h"
#include "query/query.h"

struct geo;

struct dash_param {
	const char *key;
	size_t key_len;
	const char *value;	/* may hold any bytes (NUL too) */
	size_t value_len;
};

/* What the API reads from: the database (opened lazily, reopened after a
 * failure) and the monitor's pid. */
struct dash_api {
	const char *db_path;
	struct query_db *db;
	pid_t (*monitor_pid)(void);
	/* countries and network owners of remote addresses: the country and
	 * asn dimensions, and labels; NULL: none ("GeoIP lookup" false) */
	struct geo *geo;
	/* record.json's VirusTotal verdicts, next to each hash; .dirfd is
	 * the state directory, or -1 */
	struct record_vt_cache vt;
	/* the fleet view (dash --sql): /api/status "fleet" (a new reference
	 * from fleet_status(fleet)), and the "host" dimension; NULL: not the
	 * fleet view */
	json_t *(*fleet_status)(void *fleet);
	void *fleet;
};

#define DASH_API_MAX_PARAMS 64
#define DASH_API_MAX_VALUE 4096

/* Answer GET `path` (starting with /api/) with `params`: the HTTP status
 * (200, 400 for a bad request with {"error": ...}, 404 for an unknown
 * path, 503 when the database cannot be read) and the body, malloc'd.
 * Returns 0, or -ENOMEM (no body). */
int dash_api_get(struct dash_api *api, const char *path, const struct dash_param *params,
		 size_t n_params, int *status, char **body);

void dash_api_done(struct dash_api *api);

/* The database, opened if it is not (for /metrics): 0, or negative errno
 * with why in err. */
int dash_api_db(struct dash_api *api, char *err, size_t errlen);
/* Close it after a query failed, so the next request opens it again. */
void dash_api_db_failed(struct dash_api *api);

#endif
