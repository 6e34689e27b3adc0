/* Fuzz target: the JSON API of `picosnitch dash` (src/dash/dash_api.c),
 * which parses what any local program (or a web page, if a check before
 * it failed) sends.  The input is an endpoint number and a query string
 * of key=value pairs separated by '&', any bytes; the API must answer
 * every request with a status and a JSON body, on a real snitch.db made
 * once with the monitor's own writer, and never crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dash/dash_api.h"
#include "storage/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char db_path[] = "/tmp/picosnitch-fuzz-dash-XXXXXX";
static struct dash_api api;

static void remove_db(void)
{
	char p[sizeof(db_path) + 8];

	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
}

static void make_db(void)
{
	struct conn_row rows[2] = {
		{ .time = 1000, .sent = 10, .received = 20, .flows = 1, .exe = "/usr/bin/curl",
		  .name = "curl", .cmdline = "curl x", .sha256 = "a", .pexe = "/bin/sh", .pname = "sh",
		  .pcmdline = "sh", .psha256 = "b", .gpexe = "", .gpname = "", .gpcmdline = "",
		  .gpsha256 = "", .uid = 1000, .lport = 4000, .rport = 443, .laddr = "192.0.2.1",
		  .raddr = "198.51.100.2", .domain = "org.example", .family = 2, .protocol = 6,
		  .netns = 4026531840 },
		{ .time = 2000, .sent = 30, .received = 40, .flows = 2, .exe = "/opt/\xff\n",
		  .name = "\xe7\x81\xab", .cmdline = "", .sha256 = "c", .pexe = "/bin/sh",
		  .pname = "sh", .pcmdline = "sh", .psha256 = "b", .gpexe = "/sbin/init",
		  .gpname = "init", .gpcmdline = "", .gpsha256 = "", .uid = 0, .lport = -1,
		  .rport = -1, .laddr = "", .raddr = "", .domain = "", .family = 10, .protocol = 17,
		  .netns = 1 },
	};
	char err[256];
	struct store *s;
	int fd = mkstemp(db_path);

	if (fd < 0)
		abort();
	close(fd);
	unlink(db_path);
	if (store_sqlite_open(db_path, &s, err, sizeof(err)) < 0 || store_write(s, rows, 2) < 0)
		abort();
	store_close(s);
	atexit(remove_db);
	api.db_path = db_path;
	api.vt.dirfd = -1;	/* no record.json */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/api/groups", "/api/series", "/api/distinct",
					     "/api/status", "/api/dims", "/api/x" };
	struct dash_param params[DASH_API_MAX_PARAMS + 2];
	const char *s, *end;
	size_t n = 0;
	char *body = NULL;
	int status;
	json_t *j;

	if (!api.db_path)
		make_db();
	if (!size)
		return 0;
	s = (const char *)data + 1;
	end = (const char *)data + size;
	while (s < end && n < DASH_API_MAX_PARAMS + 1) {
		const char *amp = memchr(s, '&', (size_t)(end - s)), *stop = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(stop - s));

		params[n++] = (struct dash_param){ s, (size_t)((eq ? eq : stop) - s),
						   eq ? eq + 1 : "", eq ? (size_t)(stop - eq - 1) : 0 };
		s = stop + 1;
	}
	if (dash_api_get(&api, paths[data[0] % 6], params, n, &status, &body) < 0)
		return 0;
	/* the body is always JSON */
	j = json_loads(body, 0, NULL);
	if (!j || status < 200 || status > 599)
		abort();
	json_decref(j);
	free(body);
	return 0;
}
