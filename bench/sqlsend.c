/* How many entries a second the "DB sql server" path takes (bench/sql-bench.sh):
 * BATCHES windows of ROWS entries each (realistic text: paths, command
 * lines, hashes, addresses) go through the real sender (spool file, thread,
 * transaction per batch) to the server of the settings given as JSON;
 * prints the time from the first batch spooled to the spool empty, and
 * the entries per second.
 *
 *   sqlsend SETTINGS-JSON STATE-DIR BATCHES ROWS */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "logger/sqlsend.h"
#include "storage/sqlserver.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sqlsend_opts o = { .retry_max_s = 1 };
	struct sqlsend *s;
	struct sqlsend_stats st;
	struct conn_row *rows;
	char err[600], (*cmd)[64];
	json_t *j;
	size_t nb, nr;
	double t0, t1;

	if (argc != 5) {
		fprintf(stderr, "usage: sqlsend SETTINGS-JSON STATE-DIR BATCHES ROWS\n");
		return 2;
	}
	nb = strtoul(argv[3], NULL, 10);
	nr = strtoul(argv[4], NULL, 10);
	j = json_loads(argv[1], 0, NULL);
	if (sqlsrv_cfg_parse(j, &o.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	json_decref(j);
	o.cfg.spool_bytes = 4ull << 30;
	mkdir(argv[2], 0700);
	o.dirfd = open(argv[2], O_RDONLY | O_DIRECTORY);
	rows = calloc(nr, sizeof(*rows));
	cmd = calloc(nr, sizeof(*cmd));
	for (size_t i = 0; i < nr; i++) {
		snprintf(cmd[i], sizeof(cmd[i]), "/usr/bin/curl -s https://example.com/%zu", i);
		rows[i] = (struct conn_row){
			.time = 1700000000, .sent = 1000 + i, .received = 20000 + i, .flows = 1,
			.exe = "/usr/bin/curl", .name = "curl", .cmdline = cmd[i],
			.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			.pexe = "/usr/bin/bash", .pname = "bash", .pcmdline = "bash -l",
			.psha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			.gpexe = "/usr/lib/systemd/systemd", .gpname = "systemd", .gpcmdline = "",
			.gpsha256 = "", .uid = 1000, .lport = (int64_t)(30000 + i % 30000), .rport = 443,
			.laddr = "192.168.1.20", .raddr = "93.184.216.34", .domain = "example.com",
			.family = 2, .protocol = 6, .netns = 4026531840ull };
	}
	/* sqlsend_new takes the settings over (o.cfg is then cleared) */
	enum sqlsrv_client client = o.cfg.client;

	if (sqlsend_new(&o, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = now_s();
	for (size_t b = 0; b < nb; b++)
		sqlsend_batch(s, rows, nr, 1700000000 + (int64_t)b, 1);
	for (;;) {
		sqlsend_stats(s, &st);
		if (st.spooled == 0 || st.failures > 20)
			break;
		usleep(5000);
	}
	t1 = now_s();
	if (st.spooled) {
		fprintf(stderr, "failed: %s\n", st.error);
		return 1;
	}
	printf("%s: %zu batches of %zu entries in %.2f s: %.0f entries/s\n",
	       sqlsrv_client_name(client), nb, nr, t1 - t0, (double)(nb * nr) / (t1 - t0));
	sqlsend_free(s, 1000);
	free(rows);
	free(cmd);
	return 0;
}
