/* "DB sql server" against real servers: PostgreSQL 15 and MariaDB 10.11,
 * each started here in a temporary directory on 127.0.0.1
 * (tests/lib/sqlservers.sh), with a writer that has exactly the rights the
 * README documents and a reader with SELECT.  Per server: exact values of
 * known entries (hostile text included), a batch sent twice stored once,
 * the spool sent in order after an outage (0 lost, 0 twice), a batch
 * committed before a crash skipped on replay, the sender killed with
 * SIGKILL in the middle of big batches (every batch's entries exactly
 * once), the spool's bound (the oldest dropped and counted in error.log),
 * wrong password, unknown database, a table of another layout, missing
 * tables, the password file, and heartbeats: which machine stopped.
 * The logger driven as the monitor drives it (IDENT, DELTAS, TICK): each
 * window on the server row for row as in snitch.db, and a batch for every
 * empty window (the heartbeat).
 * Also the config checks and the spool format's decoder, without a
 * server.  A server that cannot run here is skipped with the reason. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/fleet.h"
#include "logger/errlog.h"
#include "logger/logger_int.h"
#include "privsep/proto.h"
#include "logger/sqlsend.h"
#include "query/query.h"
#include "storage/sqlserver.h"
#include "tap.h"

#define MID_A "0123456789abcdef0123456789abcdef"
#define MID_B "fedcba9876543210fedcba9876543210"
#define MID_K "11111111111111111111111111111111"
#define MID_OLD "22222222222222222222222222222222"
#define MID_L "33333333333333333333333333333333"
#define MID_BIG "44444444444444444444444444444444"
#define BOOT "01234567-89ab-cdef-0123-456789abcdef"

static char dir[] = "/tmp/test-sqlserver.XXXXXX";
static const char *kind;	/* "pg" or "my" */
static enum sqlsrv_client client;
static char port[16];

/* Run a shell command; its standard output (at most 64 KiB) in a static
 * buffer, without the last newline. */
static char *sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *sh(const char *fmt, ...)
{
	static char out[65536];
	char cmd[8192];
	va_list ap;
	size_t n;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	out[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return out;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	return out;
}

/* SQL as the server's superuser */
static char *admin(const char *sql)
{
	return sh("tests/lib/sqlservers.sh %s-sql %s \"%s\"", kind, dir, sql);
}

static int server(const char *what)
{
	char *o = sh("tests/lib/sqlservers.sh %s-%s %s", kind, what, dir);

	if (!strcmp(what, "start")) {
		if (!*o || strspn(o, "0123456789") != strlen(o))
			return -1;
		snprintf(port, sizeof(port), "%s", o);
	}
	return 0;
}

static int cfg(struct sqlsrv_cfg *c, const char *user, const char *password, const char *extra)
{
	char text[1024], err[512];
	json_t *j;
	int r;

	snprintf(text, sizeof(text),
		 "{\"client\": \"%s\", \"host\": \"127.0.0.1\", \"port\": %s, \"user\": \"%s\", "
		 "%s%s%s \"dbname\": \"snitch\", \"connect_timeout\": 5 %s}",
		 client == SQLSRV_POSTGRESQL ? "psycopg" : "pymysql", port, user,
		 password ? "\"password\": \"" : "", password ? password : "", password ? "\"," : "",
		 extra ? extra : "");
	j = json_loads(text, 0, NULL);
	r = sqlsrv_cfg_parse(j, c, err, sizeof(err));
	json_decref(j);
	if (r < 0)
		printf("# %s\n", err);
	return r;
}

static struct conn_row known[3] = {
	{ .time = 1700000000, .sent = 100, .received = 2000, .flows = 1, .exe = "/usr/bin/curl",
	  .name = "curl", .cmdline = "curl 'https://example.com/a b'", .sha256 = "aa",
	  .pexe = "/bin/bash", .pname = "bash", .pcmdline = "bash", .psha256 = "bb",
	  .gpexe = "/sbin/init", .gpname = "systemd", .gpcmdline = "", .gpsha256 = "!unknown",
	  .uid = 1000, .lport = 40000, .rport = 443, .laddr = "10.0.0.2", .raddr = "93.184.216.34",
	  .domain = "example.com", .family = 2, .protocol = 6, .netns = 4026531840ull },
	/* what a process may name itself, made safe text by the logger */
	{ .time = 1700000000, .sent = 7, .received = 0, .flows = 2,
	  .exe = "/tmp/a'b\"c\\\\d; DROP TABLE connections; --",
	  .name = "\xc3\xbcn\xc3\xaf \xe2\x9c\x93 \xf0\x9d\x84\x9e", .cmdline = "x\\x00y $1 %s ?",
	  .sha256 = "cc", .pexe = "", .pname = "", .pcmdline = "", .psha256 = "", .gpexe = "",
	  .gpname = "", .gpcmdline = "", .gpsha256 = "", .uid = -1, .lport = -1, .rport = -1,
	  .laddr = "", .raddr = "", .domain = "", .family = 0, .protocol = 0, .netns = 0 },
	{ .time = 1700000000, .sent = 9223372036854775807ull, .received = 1, .flows = 0,
	  .exe = "/usr/sbin/ntpd", .name = "ntpd", .cmdline = "", .sha256 = "dd", .pexe = "",
	  .pname = "", .pcmdline = "", .psha256 = "", .gpexe = "", .gpname = "", .gpcmdline = "",
	  .gpsha256 = "", .uid = 0, .lport = 123, .rport = 123, .laddr = "fe80::1",
	  .raddr = "2001:db8::1", .domain = "", .family = 10, .protocol = 17, .netns = 1 },
};

static struct sqlsrv_batch batch(const char *mid, uint64_t seq, int64_t time, struct conn_row *rows,
				 size_t n)
{
	struct sqlsrv_batch b = { .seq = seq, .time = time, .window = 10, .n = n, .rows = rows };

	snprintf(b.host, sizeof(b.host), "host-%.4s", mid);
	snprintf(b.machine_id, sizeof(b.machine_id), "%s", mid);
	snprintf(b.boot_id, sizeof(b.boot_id), "%s", BOOT);
	return b;
}

/* A sender on a fresh spool directory (or the one given). */
static struct sqlsend *sender(const char *state, const char *mid, struct sqlsrv_cfg *c)
{
	struct sqlsend_opts o = { .host = "sender", .machine_id = mid, .boot_id = BOOT,
				  .retry_max_s = 1 };
	struct sqlsend *s = NULL;
	char err[512];

	mkdir(state, 0700);
	o.dirfd = open(state, O_RDONLY | O_DIRECTORY);
	o.cfg = *c;
	memset(c, 0, sizeof(*c));
	if (sqlsend_new(&o, &s, err, sizeof(err)) < 0)
		printf("# sqlsend_new: %s\n", err);
	close(o.dirfd);
	return s;
}

/* Wait until the spool is empty (or timeout_s). */
static bool drained(struct sqlsend *s, int timeout_s)
{
	struct sqlsend_stats st;

	for (int i = 0; i < timeout_s * 20; i++) {
		sqlsend_stats(s, &st);
		if (st.spooled == 0)
			return true;
		usleep(50000);
	}
	return false;
}

static struct conn_row many_rows[20000];

static void fill_many(void)
{
	for (size_t i = 0; i < sizeof(many_rows) / sizeof(many_rows[0]); i++) {
		many_rows[i] = known[0];
		many_rows[i].lport = (int64_t)(i % 60000);
		many_rows[i].sent = i;
	}
}

/* ---- the logger as the monitor drives it: windows to snitch.db and the
 * server, a heartbeat for each empty window ---- */

static int64_t lwall = 1700003000;
static uint64_t lmono = 10000;

static int64_t fake_wall(void)
{
	return lwall;
}

static uint64_t fake_mono(void)
{
	return lmono;
}

static void send_ident(struct logger *l, uint64_t id, const char *exe, const char *comm)
{
	static struct ps_msg_ident m;

	memset(&m, 0, sizeof(m));
	proto_init(&m, PS_MSG_IDENT);
	m.id = id;
	m.pid = (uint32_t)(100 + id);
	m.source = PS_IDENT_EXEC_CACHE;
	m.exe_len = (uint32_t)strlen(exe);
	memcpy(m.exe, exe, m.exe_len);
	m.cmd_len = (uint32_t)strlen(exe) + 1;
	memcpy(m.cmd, exe, m.cmd_len);
	snprintf(m.comm, sizeof(m.comm), "%s", comm);
	snprintf(m.sentinel, sizeof(m.sentinel), "!exited");
	logger_handle(l, &m, sizeof(m));
}

static void logger_tick(struct logger *l)
{
	struct ps_msg_tick t;

	lmono += 1000;
	lwall += 1;
	proto_init(&t, PS_MSG_TICK);
	t.now = lwall;
	logger_handle(l, &t, sizeof(t));
}

static void test_logger(void)
{
	static struct ps_msg_deltas d;
	struct logger l;
	char path[300], state[300], err[512], q[600], *local;
	struct sqlsrv_cfg c;

	memset(&l, 0, sizeof(l));
	lwall = 1700003000;
	lmono = 10000;
	l.wall_clock = fake_wall;
	l.mono_clock_ms = fake_mono;
	snprintf(path, sizeof(path), "%s/logger-%s.db", dir, kind);
	snprintf(state, sizeof(state), "%s/logger-state-%s", dir, kind);
	if (logger_init(&l, -1, "/nonexistent", false) < 0 ||
	    store_sqlite_open(path, &l.stores[0], err, sizeof(err)) < 0) {
		ok(0, "the logger starts");
		return;
	}
	l.nstores = 1;
	l.cfg.db_write_limit = 1;
	cfg(&c, "pswriter", "pw-writer", NULL);
	l.sql = sender(state, MID_L, &c);
	send_ident(&l, 1, "/usr/bin/known-sql", "known-sql");
	send_ident(&l, 2, "/usr/bin/bash", "bash");
	send_ident(&l, 3, "/sbin/init", "init");
	proto_init(&d, PS_MSG_DELTAS);
	d.n = 2;
	for (int i = 0; i < 2; i++) {
		d.d[i] = (struct ps_delta){ .proc = 1, .parent = 2, .gparent = 3, .uid = 1000,
					    .lport = 40000 + i, .rport = 53, .family = 2, .proto = 17,
					    .netns = 4026531840u, .sent = 1234 + (uint64_t)i,
					    .recv = 99, .flows = 1 };
		memcpy(d.d[i].laddr, "\x7f\x00\x00\x01", 4);
		memcpy(d.d[i].raddr, "\xcb\x00\x71\x05", 4);
	}
	logger_handle(&l, &d, sizeof(d));
	logger_tick(&l);	/* the window with the traffic */
	logger_tick(&l);	/* two without */
	logger_tick(&l);
	ok(drained(l.sql, 30), "the logger's three windows reach the server");
	snprintf(q, sizeof(q),
		 "SELECT time, entries FROM connections_batches WHERE machine_id = '%s' ORDER BY seq",
		 MID_L);
	is_str(admin(q), client == SQLSRV_POSTGRESQL ? "1700003001|2\n1700003002|0\n1700003003|0"
						     : "1700003001\t2\n1700003002\t0\n1700003003\t0",
	       "a batch for every window, the empty ones too (the heartbeat)");
	snprintf(q, sizeof(q),
		 "SELECT time, exe, name, cmdline, sha256, pexe, pname, gpexe, uid, lport, rport, "
		 "laddr, raddr, domain, family, protocol, netns, sent, received, flows FROM "
		 "connections WHERE machine_id = '%s' ORDER BY lport", MID_L);
	{
		char *srv = admin(q);
		char cmd[800];

		for (char *p = srv; *p; p++)
			if (*p == '\t')
				*p = '|';
		srv = strdup(srv);
		snprintf(cmd, sizeof(cmd),
			 "sqlite3 -batch %s \"SELECT c.time, e.path, e.name, e.cmdline, e.sha256, "
			 "p.path, p.name, g.path, c.uid, c.lport, c.rport, la.address, ra.address, "
			 "d.domain, c.family, c.protocol, c.netns, c.sent, c.received, c.flows FROM "
			 "connections c JOIN executables e ON e.id = c.exe_id JOIN executables p ON "
			 "p.id = c.parent_id JOIN executables g ON g.id = c.grandparent_id JOIN "
			 "addresses la ON la.id = c.laddr_id JOIN addresses ra ON ra.id = c.raddr_id "
			 "JOIN domains d ON d.id = c.domain_id ORDER BY c.lport\"", path);
		local = sh("%s", cmd);
		is_str(srv, local, "the server's entries equal snitch.db's, row for row");
		ok(strstr(local, "/usr/bin/known-sql|known-sql|") != NULL && strstr(local, "|1234|99|1"),
		   "  (and they are the known traffic)");
		free(srv);
	}
	sqlsend_free(l.sql, 1000);
	l.sql = NULL;
	logger_done(&l);
}

static void test_server(void)
{
	struct sqlsrv_cfg c;
	struct sqlsrv *s = NULL;
	char err[600], want[4096], state[256], q[1024];
	const char *tag = kind;
	int r;

	/* ---- the writer, with exactly the documented rights ---- */
	if (cfg(&c, "pswriter", "pw-writer", NULL) < 0)
		return;
	r = sqlsrv_connect(&c, &s, err, sizeof(err));
	if (!ok(r == 0, "the writer connects")) {
		printf("# %s\n", err);
		sqlsrv_cfg_free(&c);
		return;
	}
	r = sqlsrv_prepare(s, true, err, sizeof(err));
	if (!ok(r == 0, "the tables made by an administrator pass the check"))
		printf("# %s\n", err);
	struct sqlsrv_batch b = batch(MID_A, 5, 1700000000, known, 3);

	is_int(sqlsrv_has_batch(s, &b, err, sizeof(err)), 0, "a new batch is not on the server");
	r = sqlsrv_write_batch(s, &b, err, sizeof(err));
	if (!ok(r == 0, "a batch of three entries is written"))
		printf("# %s\n", err);
	is_int(sqlsrv_has_batch(s, &b, err, sizeof(err)), 1, "then the server has it");
	is_int(sqlsrv_write_batch(s, &b, err, sizeof(err)), 1,
	       "the same batch again is refused as already there (nothing written)");
	is_str(admin("SELECT count(*) FROM connections"), "3", "three entries, once each");
	snprintf(want, sizeof(want), "%s",
		 "host-0123|0123456789abcdef0123456789abcdef|" BOOT "|5|1700000000|7|0|2|"
		 "/tmp/a'b\"c\\\\d; DROP TABLE connections; --|\xc3\xbcn\xc3\xaf \xe2\x9c\x93 "
		 "\xf0\x9d\x84\x9e|x\\x00y $1 %s ?|cc|||||||||-1|-1|-1||||0|0|0\n"
		 "host-0123|0123456789abcdef0123456789abcdef|" BOOT "|5|1700000000|100|2000|1|"
		 "/usr/bin/curl|curl|curl 'https://example.com/a b'|aa|/bin/bash|bash|bash|bb|"
		 "/sbin/init|systemd||!unknown|1000|40000|443|10.0.0.2|93.184.216.34|example.com|2|"
		 "6|4026531840\n"
		 "host-0123|0123456789abcdef0123456789abcdef|" BOOT "|5|1700000000|"
		 "9223372036854775807|1|0|/usr/sbin/ntpd|ntpd||dd|||||||||0|123|123|fe80::1|"
		 "2001:db8::1||10|17|1");
	{
		char *got = admin("SELECT host, machine_id, boot_id, seq, time, sent, received, flows, "
				  "exe, name, cmdline, sha256, pexe, pname, pcmdline, psha256, gpexe, "
				  "gpname, gpcmdline, gpsha256, uid, lport, rport, laddr, raddr, "
				  "domain, family, protocol, netns FROM connections ORDER BY sent");

		/* MariaDB's client separates by tabs */
		for (char *p = got; *p; p++)
			if (*p == '\t')
				*p = '|';
		is_str(got, want, "every value of every entry is exactly what was sent");
	}
	is_str(admin("SELECT host, machine_id, boot_id, seq, time, window_seconds, entries FROM "
		     "connections_batches"),
	       client == SQLSRV_POSTGRESQL
		       ? "host-0123|" MID_A "|" BOOT "|5|1700000000|10|3"
		       : "host-0123\t" MID_A "\t" BOOT "\t5\t1700000000\t10\t3",
	       "the batch row: host, machine, boot, sequence, window end and length, entries");
	{
		/* 400 entries of 60,000-byte command lines: 24 MB of SQL, more
		 * than MariaDB's default max_allowed_packet (16 MiB) in one go */
		static struct conn_row big[400];
		char *longtext = malloc(60001);

		memset(longtext, 'x', 60000);
		memcpy(longtext, "\xc3\xa9'\\", 4);
		longtext[60000] = '\0';
		for (int i = 0; i < 400; i++) {
			big[i] = known[0];
			big[i].cmdline = longtext;
			big[i].lport = i;
		}
		struct sqlsrv_batch bb = batch(MID_BIG, 1, 1700000000, big, 400);

		r = sqlsrv_write_batch(s, &bb, err, sizeof(err));
		if (!ok(r == 0, "a batch of 400 entries with 60,000-byte command lines is written"))
			printf("# %s\n", err);
		snprintf(q, sizeof(q),
			 "SELECT count(*), sum(length(cmdline)) FROM connections WHERE machine_id = '%s' "
			 "AND cmdline LIKE '%%xxxx'", MID_BIG);
		is_str(admin(q), client == SQLSRV_POSTGRESQL ? "400|23999600" : "400\t24000000",
		       "  every one whole (characters in PostgreSQL, bytes in MariaDB)");
		free(longtext);
	}
	{
		struct sqlsrv_machine *m = NULL;
		size_t n = 0;

		r = sqlsrv_machines(s, &m, &n, err, sizeof(err));
		ok(r < 0, "the writer cannot read the fleet's heartbeats (only its batch ids)");
		free(m);
	}
	sqlsrv_close(s);
	s = NULL;
	sqlsrv_cfg_free(&c);

	/* under valgrind (t175): the client libraries' paths only */
	if (getenv("SQLTEST_QUICK"))
		goto needs_a_person;

	/* ---- the sender: spool, outage, replay ---- */
	snprintf(state, sizeof(state), "%s/state-%s", dir, tag);
	cfg(&c, "pswriter", "pw-writer", NULL);
	struct sqlsend *snd = sender(state, MID_B, &c);

	if (!ok(snd != NULL, "the sender starts"))
		return;
	sqlsend_batch(snd, known, 3, 1700000010, 10);
	sqlsend_batch(snd, NULL, 0, 1700000020, 10);
	sqlsend_batch(snd, known, 1, 1700000030, 10);
	ok(drained(snd, 30), "three batches (one a heartbeat without entries) are sent");
	snprintf(q, sizeof(q),
		 "SELECT count(*), sum(entries) FROM connections_batches WHERE machine_id = '%s'",
		 MID_B);
	is_str(admin(q), client == SQLSRV_POSTGRESQL ? "3|4" : "3\t4",
	       "the server has the three batches and their 4 entries");

	server("stop");
	for (int i = 0; i < 4; i++)
		sqlsend_batch(snd, known, 3, 1700000040 + 10 * i, 10);
	{
		struct sqlsend_stats st;
		int i;

		for (i = 0; i < 100; i++) {
			sqlsend_stats(snd, &st);
			if (st.failures > 0)
				break;
			usleep(100000);
		}
		ok(st.failures > 0 && st.error[0], "with the server down, attempts fail");
		printf("#   %s\n", st.error);
		is_int(st.spooled, 4, "and the four batches wait in the spool");
	}
	ok(server("start") == 0, "the server is back");
	ok(drained(snd, 60), "the spool is sent once it is back");
	{
		struct sqlsend_stats st;

		sqlsend_stats(snd, &st);
		is_int(st.written, 7, "7 batches written in all");
		is_int(st.skipped, 0, "none was skipped");
		ok(st.error[0] == '\0' && st.connected, "no error left");
	}
	is_str(admin(q), client == SQLSRV_POSTGRESQL ? "7|16" : "7\t16",
	       "after the outage: 7 batches, 16 entries: nothing lost");
	snprintf(q, sizeof(q),
		 "SELECT count(*) FROM connections WHERE machine_id = '%s'", MID_B);
	is_str(admin(q), "16", "and nothing twice");
	sqlsend_free(snd, 1000);

	/* ---- a batch committed just before a crash: skipped on replay ---- */
	{
		struct sqlsrv_batch cb = batch(MID_B, 1, 1700000100, known, 2);
		char *data, name[400];
		size_t len;
		FILE *f;

		snprintf(cb.host, sizeof(cb.host), "sender");
		sqlbatch_encode(&cb, &data, &len);
		snprintf(name, sizeof(name), "%s/" SQL_SPOOL_DIR "/%020d.batch", state, 1);
		f = fopen(name, "w");
		fwrite(data, 1, len, f);
		fclose(f);
		free(data);
		cfg(&c, "pswriter", "pw-writer", NULL);
		sqlsrv_connect(&c, &s, err, sizeof(err));
		is_int(sqlsrv_write_batch(s, &cb, err, sizeof(err)), 0,
		       "a batch is committed, and the sender dies before removing its file");
		sqlsrv_close(s);
		sqlsrv_cfg_free(&c);
		cfg(&c, "pswriter", "pw-writer", NULL);
		snd = sender(state, MID_B, &c);
		ok(drained(snd, 30), "the next run replays the spool");
		struct sqlsend_stats st;

		sqlsend_stats(snd, &st);
		is_int(st.skipped, 1, "the batch the server had is skipped");
		is_int(st.written, 0, "and nothing written twice");
		snprintf(q, sizeof(q),
			 "SELECT count(*) FROM connections WHERE machine_id = '%s' AND seq = 1", MID_B);
		is_str(admin(q), "2", "its two entries are on the server once");
		sqlsend_free(snd, 1000);
	}

	/* ---- SIGKILL in the middle of big batches ---- */
	{
		char kstate[256];
		int kills = 0;

		snprintf(kstate, sizeof(kstate), "%s/kill-%s", dir, tag);
		/* killed 0 to 5 s after the batch is in the spool: before,
		 * during and after its transaction */
		static const useconds_t after[5] = { 0, 300000, 1000000, 2500000, 5000000 };

		for (int round = 0; round < 5; round++) {
			int pipefd[2];
			char one;
			pid_t pid;

			cfg(&c, "pswriter", "pw-writer", NULL);
			if (pipe(pipefd) < 0)
				break;
			pid = fork();
			if (pid == 0) {
				struct sqlsend *k = sender(kstate, MID_K, &c);

				if (k && sqlsend_batch(k, many_rows, 20000, 1700001000 + round, 10) == 0 &&
				    write(pipefd[1], "x", 1) == 1)
					for (;;)
						pause();
				_exit(1);
			}
			close(pipefd[1]);
			sqlsrv_cfg_free(&c);
			if (read(pipefd[0], &one, 1) == 1) {
				usleep(after[round]);
				kill(pid, SIGKILL);
				kills++;
			}
			close(pipefd[0]);
			waitpid(pid, NULL, 0);
			snprintf(q, sizeof(q),
				 "SELECT count(*) FROM connections WHERE machine_id = '%s'", MID_K);
			printf("#   killed %.1f s after spooling batch %d: the server has %s entries\n",
			       after[round] / 1e6, round + 1, admin(q));
		}
		snprintf(q, sizeof(q),
			 "SELECT count(*) FROM connections_batches WHERE machine_id = '%s'", MID_K);
		printf("#   after %d kills the server has %s of the 5 batches\n", kills, admin(q));
		is_int(kills, 5, "five senders were killed with SIGKILL");
		cfg(&c, "pswriter", "pw-writer", NULL);
		snd = sender(kstate, MID_K, &c);
		ok(drained(snd, 120), "after five SIGKILLs mid-batch, the spool is sent");
		sqlsend_free(snd, 1000);
		is_str(admin(q), "5", "all five batches are on the server");
		snprintf(q, sizeof(q),
			 "SELECT count(*) FROM connections WHERE machine_id = '%s'", MID_K);
		is_str(admin(q), "100000", "with exactly 5 x 20000 entries: none lost, none twice");
		snprintf(q, sizeof(q),
			 "SELECT count(*) FROM (SELECT seq, count(*) AS n FROM connections WHERE "
			 "machine_id = '%s' GROUP BY seq) x WHERE n <> 20000", MID_K);
		is_str(admin(q), "0", "each batch holds its 20000 entries");
	}

	/* ---- the spool's bound ---- */
	{
		char bstate[256], path[300], *log;
		struct errlog *e = NULL;
		struct sqlsend_stats st;
		int dfd;

		snprintf(bstate, sizeof(bstate), "%s/bound-%s", dir, tag);
		cfg(&c, "pswriter", "pw-writer", NULL);
		c.port = 1;	/* nothing listens: every attempt fails */
		c.spool_bytes = 4000;
		snd = sender(bstate, MID_B, &c);
		for (int i = 0; i < 10; i++)
			sqlsend_batch(snd, known, 3, 1700002000 + 10 * i, 10);
		sqlsend_stats(snd, &st);
		ok(st.spooled_bytes <= 4000, "the spool stays within its bound");
		ok(st.dropped > 0 && st.dropped + st.spooled == 10,
		   "what did not fit was dropped and counted");
		is_int(st.dropped_entries, st.dropped * 3, "with its entries");
		dfd = open(bstate, O_RDONLY | O_DIRECTORY);
		errlog_open(dfd, &e);
		sleep(1);
		sqlsend_report(snd, e);
		errlog_flush(e);
		errlog_close(e);
		close(dfd);
		snprintf(path, sizeof(path), "cat %s/error.log", bstate);
		log = sh("%s", path);
		ok(strstr(log, "were dropped and will never reach the server") != NULL,
		   "error.log says how many batches were dropped");
		ok(strstr(log, "batches wait in sql-spool") != NULL,
		   "and why they wait");
		ok(strstr(log, "pw-writer") == NULL, "the password is not in error.log");
		printf("#   %s\n", log);
		sqlsend_free(snd, 0);
		/* the newest stay */
		char *files = sh("ls %s/" SQL_SPOOL_DIR " | grep -c batch", bstate);

		is_int(atoi(files), st.spooled, "the files left are those counted");
	}

	/* ---- failures that need a person: clear messages ---- */
needs_a_person:
	cfg(&c, "pswriter", "wrong-password", NULL);
	r = sqlsrv_connect(&c, &s, err, sizeof(err));
	ok(r < 0 && (strstr(err, "password authentication failed") || strstr(err, "Access denied")),
	   "a wrong password: the server's message");
	printf("#   %s\n", err);
	ok(!strstr(err, "wrong-password"), "without the password");
	sqlsrv_cfg_free(&c);
	{
		char text[512];
		json_t *j;

		snprintf(text, sizeof(text),
			 "{\"client\": \"%s\", \"host\": \"127.0.0.1\", \"port\": %s, \"user\": "
			 "\"pswriter\", \"password\": \"pw-writer\", \"database\": \"nosuchdb\"}",
			 kind[0] == 'p' ? "postgresql" : "mariadb", port);
		j = json_loads(text, 0, NULL);
		sqlsrv_cfg_parse(j, &c, err, sizeof(err));
		json_decref(j);
		r = sqlsrv_connect(&c, &s, err, sizeof(err));
		ok(r < 0 && strstr(err, "nosuchdb"), "an unknown database is named");
		printf("#   %s\n", err);
		sqlsrv_cfg_free(&c);
	}
	admin("CREATE TABLE wrongt (a INTEGER); CREATE TABLE wrongt_batches (b INTEGER)");
	admin(client == SQLSRV_POSTGRESQL ? "GRANT INSERT ON wrongt, wrongt_batches TO pswriter"
					  : "GRANT INSERT ON snitch.wrongt TO 'pswriter'@'%'");
	if (client == SQLSRV_MARIADB)
		admin("GRANT INSERT ON snitch.wrongt_batches TO 'pswriter'@'%'");
	cfg(&c, "pswriter", "pw-writer", ", \"table_name\": \"wrongt\"");
	if (sqlsrv_connect(&c, &s, err, sizeof(err)) == 0) {
		r = sqlsrv_prepare(s, true, err, sizeof(err));
		is_int(r, -EPROTO, "a table of another layout is refused");
		ok(strstr(err, "has the columns (a)") && strstr(err, "table_name"),
		   "naming its columns and what to do");
		printf("#   %s\n", err);
		sqlsrv_close(s);
	}
	sqlsrv_cfg_free(&c);
	cfg(&c, "pswriter", "pw-writer", ", \"table_name\": \"absent\"");
	if (sqlsrv_connect(&c, &s, err, sizeof(err)) == 0) {
		r = sqlsrv_prepare(s, true, err, sizeof(err));
		is_int(r, -ENOENT, "missing tables the writer may not make");
		ok(strstr(err, "picosnitch sql-schema") != NULL, "say how to make them");
		printf("#   %s\n", err);
		sqlsrv_close(s);
	}
	sqlsrv_cfg_free(&c);

	/* ---- the password from a file ---- */
	{
		char pw[300], extra[400];
		FILE *f;

		snprintf(pw, sizeof(pw), "%s/pw-%s", dir, tag);
		f = fopen(pw, "w");
		fputs("pw-writer\n", f);
		fclose(f);
		snprintf(extra, sizeof(extra), ", \"password_file\": \"%s\"", pw);
		cfg(&c, "pswriter", NULL, extra);
		r = sqlsrv_cfg_load_password(&c, err, sizeof(err));
		if (r == 0)
			r = sqlsrv_connect(&c, &s, err, sizeof(err));
		ok(r == 0, "the password from password_file (its newline dropped)");
		if (r == 0)
			sqlsrv_close(s);
		sqlsrv_cfg_free(&c);
	}

	/* ---- heartbeats: which machine stopped ---- */
	{
		struct sqlsrv_machine *m = NULL;
		size_t n = 0;
		int64_t now = (int64_t)time(NULL);
		struct sqlsrv_batch hb = batch(MID_OLD, 1, now - 1000, NULL, 0);

		cfg(&c, "pswriter", "pw-writer", NULL);
		sqlsrv_connect(&c, &s, err, sizeof(err));
		sqlsrv_write_batch(s, &hb, err, sizeof(err));
		hb.seq = 2;
		hb.time = now - 990;
		sqlsrv_write_batch(s, &hb, err, sizeof(err));
		hb = batch(MID_A, 6, now - 5, NULL, 0);
		sqlsrv_write_batch(s, &hb, err, sizeof(err));
		sqlsrv_close(s);
		sqlsrv_cfg_free(&c);
		cfg(&c, "psreader", "pw-reader", NULL);
		r = sqlsrv_connect(&c, &s, err, sizeof(err));
		if (r == 0)
			r = sqlsrv_machines(s, &m, &n, err, sizeof(err));
		if (!ok(r == 0, "the reader lists the machines"))
			printf("# %s\n", err);
		int found_old = 0, found_a = 0;

		for (size_t i = 0; i < n; i++) {
			int64_t age = now - m[i].last;
			bool stopped = age > sqlsrv_stale_after(m[i].window);

			if (!strcmp(m[i].machine_id, MID_OLD)) {
				found_old = 1;
				is_int(m[i].last, now - 990, "the stopped machine's last heartbeat");
				ok(stopped, "is more than two windows and a minute ago: stopped");
				is_int(m[i].batches, 2, "after 2 batches");
			}
			if (!strcmp(m[i].machine_id, MID_A)) {
				found_a = 1;
				ok(!stopped, "a machine that beat 5 s ago reports");
				is_int(m[i].entries, 3, "its entries summed");
			}
		}
		ok(found_old && found_a, "both machines are listed");
		free(m);

		/* the command, with the reader's settings in a file */
		{
			char rj[300], *out;
			FILE *f;

			snprintf(rj, sizeof(rj), "%s/reader-%s.json", dir, kind);
			f = fopen(rj, "w");
			fprintf(f, "{\"client\": \"%s\", \"host\": \"127.0.0.1\", \"port\": %s, "
				"\"user\": \"psreader\", \"password\": \"pw-reader\", \"dbname\": "
				"\"snitch\"}\n", kind[0] == 'p' ? "postgresql" : "mariadb", port);
			fclose(f);
			chmod(rj, 0644);
			out = sh("PICOSNITCH_DIR=%s/cmd-state "
				 "build/asan/picosnitch sql-status --server %s 2>&1; echo \"exit $?\"",
				 dir, rj);
			ok(strstr(out, "host-2222\t" MID_OLD "\t") && strstr(out, "\tSTOPPED\n"),
			   "sql-status lists the machine that stopped as STOPPED");
			ok(strstr(out, "host-0123\t" MID_A "\t") && strstr(out, "\treporting\n"),
			   "  and the one that beats as reporting");
			ok(strstr(out, "machines stopped sending heartbeats") && strstr(out, "exit 3"),
			   "  says so and exits 3");
			if (tap_failed)
				printf("# %s\n", out);
		}

		/* the fleet view's copy: one machine's entries into a snitch.db */
		char copy[300];
		struct store *st = NULL;
		struct query_db *qdb = NULL;
		struct query_result *res = NULL;
		struct query_totals_req req = { .sel = { .dim = QUERY_DIM_EXECUTABLE },
						.sort = QUERY_SORT_VALUE, .ascending = true };
		uint64_t rows = 0, bad = 0;

		snprintf(copy, sizeof(copy), "%s/copy-%s.db", dir, kind);
		store_sqlite_open(copy, &st, err, sizeof(err));
		r = sqlsrv_pull(s, "host-0123", 0, st, 1000, &rows, &bad, err, sizeof(err));
		if (!ok(r == 0, "the fleet view copies one machine's entries (by host name)"))
			printf("# %s\n", err);
		is_int(rows, 3, "its 3 entries");
		store_close(st);
		query_open(copy, NULL, &qdb, err, sizeof(err));
		if (qdb && query_totals(qdb, &req, &res, err, sizeof(err)) == 0 && res->n_rows == 3) {
			is_str(res->rows[0].value.text, known[1].exe, "read back by the query layer: "
			       "the hostile path");
			is_int(res->rows[0].sent, 7, "  its bytes");
			is_str(res->rows[2].value.text, "/usr/sbin/ntpd", "  and the others");
			is_int(res->rows[2].sent, INT64_MAX, "  to the last byte");
		} else {
			ok(0, "the copy reads back");
			printf("# %s\n", err);
		}
		query_result_free(res);
		query_close(qdb);
		snprintf(copy, sizeof(copy), "%s/copy-all-%s.db", dir, kind);
		st = NULL;
		store_sqlite_open(copy, &st, err, sizeof(err));
		r = sqlsrv_pull(s, NULL, 0, st, 2, &rows, &bad, err, sizeof(err));
		is_int(r, -E2BIG, "a copy past its bound stops");
		is_int(rows, 2, "with what fit kept");
		store_close(st);
		sqlsrv_close(s);
		sqlsrv_cfg_free(&c);
	}
}

static void test_offline(void)
{
	struct sqlsrv_cfg c;
	char err[512];
	json_t *j;
	static const struct {
		const char *json;
		int want;
		const char *msg;
	} cases[] = {
		{ "{}", -ENOENT, NULL },
		{ "{\"host\": \"x\"}", -EINVAL, "needs \"client\"" },
		{ "{\"client\": \"sqlite3\"}", -EINVAL, "\"client\" is \"sqlite3\"" },
		{ "{\"client\": \"psycopg2\", \"table_name\": \"a;drop\"}", -EINVAL, "table_name" },
		{ "{\"client\": \"psycopg2\", \"autocommit\": true}", -EINVAL, "\"autocommit\"" },
		{ "{\"client\": \"mariadb\", \"sslmode\": \"require\"}", -EINVAL, "\"sslmode\"" },
		{ "{\"client\": \"pymysql\", \"port\": 70000}", -EINVAL, "\"port\"" },
		{ "{\"client\": \"pymysql\", \"password\": \"a\", \"password_file\": \"/x\"}", -EINVAL,
		  "both" },
		{ "{\"client\": \"pymysql\", \"password_file\": \"rel\"}", -EINVAL, "absolute" },
		{ "{\"client\": \"psycopg\", \"spool (MiB)\": 0}", -EINVAL, "at least 1" },
		{ "{\"client\": \"psycopg\", \"dbname\": \"a\", \"database\": \"b\"}", -EINVAL,
		  "two different" },
		{ "{\"client\": \"psycopg\", \"user\": \"a\\nb\"}", -EINVAL, "control" },
		{ "{\"client\": \"psycopg\", \"port\": \"5432\", \"sslmode\": \"verify-full\", "
		  "\"spool (MiB)\": 2}", 0, NULL },
		{ "{\"client\": \"mysql\", \"ssl_ca\": \"/ca.pem\", \"ssl_verify_server_cert\": true}", 0,
		  NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[200];
		int r;

		j = json_loads(cases[i].json, 0, NULL);
		err[0] = '\0';
		r = sqlsrv_cfg_parse(j, &c, err, sizeof(err));
		json_decref(j);
		snprintf(what, sizeof(what), "settings %s: %d", cases[i].json, cases[i].want);
		is_int(r, cases[i].want, what);
		if (cases[i].msg && !ok(strstr(err, cases[i].msg) != NULL, "  with a message naming it"))
			printf("#   %s\n", err);
		if (r == 0)
			sqlsrv_cfg_free(&c);
	}
	j = json_loads("{\"client\": \"psycopg\", \"port\": \"5432\", \"spool (MiB)\": 2}", 0, NULL);
	sqlsrv_cfg_parse(j, &c, err, sizeof(err));
	json_decref(j);
	is_int(c.port, 5432, "a port as a string (1.x's Python clients took both)");
	is_int(c.spool_bytes, 2 << 20, "spool (MiB)");
	is_str(c.table, "connections", "table_name defaults to connections");
	sqlsrv_cfg_free(&c);

	/* the spool format: a round trip, and every cut refused */
	struct sqlsrv_batch b = batch(MID_A, 42, 1700000000, known, 3), d;
	char *data;
	size_t len;

	is_int(sqlbatch_encode(&b, &data, &len), 0, "a batch is encoded");
	is_int(sqlbatch_decode(data, len, &d), 0, "and decoded");
	ok(d.n == 3 && d.seq == 42 && !strcmp(d.rows[1].exe, known[1].exe) &&
	   !strcmp(d.rows[1].name, known[1].name) && d.rows[2].sent == known[2].sent &&
	   d.rows[0].netns == known[0].netns && !strcmp(d.host, "host-0123"),
	   "to the same values");
	sqlbatch_clear(&d);
	int refused = 0;

	for (size_t cut = 0; cut < len; cut++)
		refused += sqlbatch_decode(data, cut, &d) == -EBADMSG;
	is_int(refused, len, "every shorter file is refused");
	data[len - 1] = '\x01';
	is_int(sqlbatch_decode(data, len, &d), -EBADMSG, "a control character is refused");
	free(data);
	struct conn_row bad = known[0];

	bad.exe = "\xff";
	b = batch(MID_A, 1, 1, &bad, 1);
	is_int(sqlbatch_encode(&b, &data, &len), -E2BIG, "text that is not clean is never spooled");
}

/* ---- the fleet view: two machines on one server, the host dimension,
 * the copy kept up to date, and the bound on a row's bytes ---- */

#define MID_FA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MID_FB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct conn_row fleet_row(int64_t time, int64_t sent, int64_t received, const char *exe)
{
	struct conn_row r = known[0];

	r.time = time;
	r.sent = (uint64_t)sent;
	r.received = (uint64_t)received;
	r.exe = exe;
	return r;
}

static int count_row(void *ctx, size_t ncols, const char *const *vals, const size_t *lens)
{
	(void)ncols;
	(void)vals;
	(void)lens;
	++*(size_t *)ctx;
	return 0;
}

static void fleet_write(struct sqlsrv *w, const char *mid, const char *host, uint64_t seq,
			int64_t time, struct conn_row *rows, size_t n)
{
	struct sqlsrv_batch b = batch(mid, seq, time, rows, n);
	char err[600];
	int r;

	snprintf(b.host, sizeof(b.host), "%s", host);
	r = sqlsrv_write_batch(w, &b, err, sizeof(err));
	if (r != 0)
		printf("# fleet batch %s/%" PRIu64 ": %d %s\n", host, seq, r, err);
}

static json_t *reader_json(void)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"client\": \"%s\", \"host\": \"127.0.0.1\", \"port\": %s, \"user\": \"psreader\", "
		 "\"password\": \"pw-reader\", \"dbname\": \"snitch\", \"connect_timeout\": 5, "
		 "\"table_name\": \"fleet\"}", client == SQLSRV_POSTGRESQL ? "postgresql" : "mariadb",
		 port);
	return json_loads(text, 0, NULL);
}

/* sent and received of each host in the copy, "host:sent/received ..." */
static const char *by_host(const char *path, const char *filter_host, char *out, size_t size)
{
	struct query_db *qdb = NULL;
	struct query_result *res = NULL;
	struct query_filter f = { .dim = QUERY_DIM_HOST, .mode = QUERY_INCLUDE,
				  .value = filter_host, .len = filter_host ? strlen(filter_host) : 0 };
	struct query_totals_req req = { .sel = { .dim = filter_host ? QUERY_DIM_EXECUTABLE
								     : QUERY_DIM_HOST,
						   .filters = &f, .n_filters = filter_host ? 1 : 0 },
					.sort = QUERY_SORT_VALUE, .ascending = true };
	char err[600];
	size_t k = 0;

	out[0] = '\0';
	if (query_open(path, NULL, &qdb, err, sizeof(err)) < 0 ||
	    query_totals(qdb, &req, &res, err, sizeof(err)) < 0) {
		snprintf(out, size, "error: %s", err);
	} else {
		for (size_t i = 0; i < res->n_rows && k < size; i++)
			k += (size_t)snprintf(out + k, size - k, "%s%s:%" PRId64 "/%" PRId64,
					      i ? " " : "", res->rows[i].value.text,
					      res->rows[i].sent, res->rows[i].received);
		if (k < size)
			snprintf(out + k, size - k, " =%" PRId64 "/%" PRId64, res->sent,
				 res->received);
	}
	query_result_free(res);
	query_close(qdb);
	return out;
}

static void test_fleet(void)
{
	struct sqlsrv_cfg c;
	struct sqlsrv *w = NULL, *rd = NULL;
	struct fleet *f = NULL;
	char copy[300], got[1024], err[600], *sql;
	int64_t now = (int64_t)time(NULL), t = now - 3600;
	struct conn_row a1[2] = { fleet_row(t, 100, 1000, "/usr/bin/curl"),
				  fleet_row(t, 200, 2000, "/usr/bin/wget") };
	struct conn_row a2[1] = { fleet_row(t + 10, 300, 3000, "/usr/bin/curl") };
	struct conn_row b1[1] = { fleet_row(t, 5000, 50, "/usr/bin/curl") };
	struct conn_row b2[1] = { fleet_row(t + 20, 70, 7, "/usr/bin/ssh") };
	json_t *server = reader_json();
	int r;

	sql = sqlsrv_schema_sql(client, "fleet");
	admin(sql);
	free(sql);
	if (client == SQLSRV_POSTGRESQL)
		admin("GRANT INSERT ON fleet, fleet_batches TO pswriter; "
		      "GRANT SELECT (machine_id, boot_id, seq) ON fleet_batches TO pswriter; "
		      "GRANT SELECT ON fleet, fleet_batches TO psreader;");
	else
		admin("GRANT INSERT ON snitch.fleet TO 'pswriter'@'%'; "
		      "GRANT INSERT, SELECT (machine_id, boot_id, seq) ON snitch.fleet_batches TO "
		      "'pswriter'@'%'; GRANT SELECT ON snitch.fleet TO 'psreader'@'%'; "
		      "GRANT SELECT ON snitch.fleet_batches TO 'psreader'@'%';");
	if (cfg(&c, "pswriter", "pw-writer", ", \"table_name\": \"fleet\"") < 0 ||
	    !ok(sqlsrv_connect(&c, &w, err, sizeof(err)) == 0, "fleet: the writer connects")) {
		printf("# %s\n", err);
		json_decref(server);
		return;
	}
	fleet_write(w, MID_FA, "alpha", 1, t, a1, 2);
	fleet_write(w, MID_FA, "alpha", 2, t + 10, a2, 1);
	fleet_write(w, MID_FB, "beta", 7, t, b1, 1);
	/* a heartbeat without entries, and a batch older than the view */
	fleet_write(w, MID_FB, "beta", 6, now - 40 * 86400, b2, 0);

	snprintf(copy, sizeof(copy), "%s/fleet-%s.db", dir, kind);
	r = fleet_open(server, NULL, NULL, now - 30 * 86400, copy, &f);
	ok(r == 0 && f, "fleet: the copy of two machines is made");
	is_str(by_host(copy, NULL, got, sizeof(got)), "alpha:600/6000 beta:5000/50 =5600/6050",
	       "  the host dimension: each machine's sums, and the total");
	is_str(admin("SELECT sum(sent), sum(received) FROM fleet WHERE host = 'alpha'"),
	       client == SQLSRV_POSTGRESQL ? "600|6000" : "600\t6000",
	       "  alpha's sums on the server are the same");
	is_str(by_host(copy, "alpha", got, sizeof(got)),
	       "/usr/bin/curl:400/4000 /usr/bin/wget:200/2000 =600/6000",
	       "  a filter on host: alpha's executables, summing to alpha's total");
	is_str(by_host(copy, "beta", got, sizeof(got)), "/usr/bin/curl:5000/50 =5000/50",
	       "  and beta's");
	{
		struct query_db *qdb = NULL;
		struct query_result *res[2] = { NULL, NULL };
		enum query_dim dims[2] = { QUERY_DIM_HOST, QUERY_DIM_EXECUTABLE };
		struct query_totals_req req = { .sort = QUERY_SORT_VALUE, .ascending = true };

		query_open(copy, NULL, &qdb, err, sizeof(err));
		ok(query_has_hosts(qdb), "  the copy has machines");
		r = query_totals_dims(qdb, &req, dims, 2, res, err, sizeof(err));
		ok(r == 0 && res[0] && res[0]->n_rows == 2 && res[0]->rows[0].sent == 600 &&
		   res[0]->rows[1].sent == 5000 && res[1]->sent == 5600,
		   "  host in a drill-down of several dimensions at once");
		query_result_free(res[0]);
		query_result_free(res[1]);
		query_close(qdb);
	}

	/* live: what arrives after the start is copied by the thread */
	if (f) {
		json_t *st;
		int64_t entries = 0, as_of = 0;

		fleet_start(f, 1);
		sleep(1);
		fleet_write(w, MID_FB, "beta", 8, t + 20, b2, 1);
		for (int i = 0; i < 100 && entries != 5; i++) {
			usleep(100000);
			st = fleet_status(f);
			entries = json_integer_value(json_object_get(st, "entries"));
			as_of = json_integer_value(json_object_get(st, "as_of"));
			json_decref(st);
		}
		is_int(entries, 5, "fleet: a batch written after the start is copied");
		ok(as_of > now, "  and the copy says as of when (after the start)");
		is_str(by_host(copy, NULL, got, sizeof(got)), "alpha:600/6000 beta:5070/57 =5670/6057",
		       "  beta's sums include it");
		fleet_close(f);
		f = NULL;
	}
	snprintf(copy, sizeof(copy), "%s/fleet1-%s.db", dir, kind);
	r = fleet_open(server, NULL, "beta", now - 30 * 86400, copy, &f);
	ok(r == 0, "fleet: one machine (--machine beta)");
	is_str(by_host(copy, NULL, got, sizeof(got)), "beta:5070/57 =5070/57", "  only its entries");
	fleet_close(f);
	f = NULL;

	/* a row larger than the answer bound (made small here): a clear
	 * error, the line dropped, nothing kept */
	{
		static char longtext[60001];
		size_t rows_seen = 0;
		struct conn_row big[1] = { fleet_row(t + 30, 1, 1, "/usr/bin/big") };
		struct sqlsrv_cfg rc;
		struct sqlsrv_pulled pulled;
		struct store *st = NULL;

		memset(longtext, 'y', sizeof(longtext) - 1);
		big[0].cmdline = longtext;
		fleet_write(w, MID_FA, "alpha", 3, t + 30, big, 1);
		setenv("PICOSNITCH_TEST_SQL_ANSWER_MAX", "20000", 1);
		cfg(&rc, "psreader", "pw-reader", ", \"table_name\": \"fleet\"");
		snprintf(copy, sizeof(copy), "%s/fleet-big-%s.db", dir, kind);
		store_sqlite_open(copy, &st, err, sizeof(err));
		r = sqlsrv_connect(&rc, &rd, err, sizeof(err));
		if (r == 0)
			r = sqlsrv_pull_batches(rd, MID_FA, 2, 0, st, 1000, &pulled, err, sizeof(err));
		ok(r < 0 && strstr(err, client == SQLSRV_POSTGRESQL ? "PostgreSQL: the answer has more "
								      "than 20000 bytes in one row"
								    : "larger than 20000 bytes, the bound"),
		   "a row of 60,000 bytes past a bound of 20,000: refused with a clear error");
		printf("# %s\n", err);
		is_int(pulled.rows, 0, "  nothing copied");
		sqlsrv_close(rd);
		rd = NULL;
		unsetenv("PICOSNITCH_TEST_SQL_ANSWER_MAX");
		r = sqlsrv_connect(&rc, &rd, err, sizeof(err));
		if (r == 0)
			r = sqlsrv_pull_batches(rd, MID_FA, 2, 0, st, 1000, &pulled, err, sizeof(err));
		ok(r == 0 && pulled.rows == 1 && pulled.last_seq == 3,
		   "  with the real bound (64 MiB) the same row is copied");
		sqlsrv_close(rd);
		rd = NULL;
		/* an answer the server makes up, all of it sent at once */
		setenv("PICOSNITCH_TEST_SQL_ANSWER_MAX", "20000", 1);
		r = sqlsrv_connect(&rc, &rd, err, sizeof(err));
		if (r == 0)
			r = sqlsrv_query(rd, "SELECT 'small' UNION ALL SELECT repeat('y', 3000000)", 0,
					 NULL, 10, count_row, &rows_seen, err, sizeof(err));
		ok(r < 0 && strstr(err, client == SQLSRV_POSTGRESQL ? "more than 20000 bytes in one row"
								    : "larger than 20000 bytes, the bound"),
		   "a made-up answer with a row of 3 MB past a bound of 20,000: refused");
		printf("# %s\n", err);
		ok(rows_seen <= 1, "  at most the small row before it was handed on");
		unsetenv("PICOSNITCH_TEST_SQL_ANSWER_MAX");
		sqlsrv_close(rd);
		store_close(st);
		sqlsrv_cfg_free(&rc);
	}
	sqlsrv_close(w);
	sqlsrv_cfg_free(&c);
	json_decref(server);
}

int main(void)
{
	char schema[300];
	const char *kinds[2] = { "pg", "my" };

	test_offline();
	if (!getenv("SQLTEST_QUICK"))
		fill_many();
	if (!mkdtemp(dir))
		return 1;
	chmod(dir, 0755);
	for (int k = 0; k < 2; k++) {
		char *why;

		kind = kinds[k];
		client = k == 0 ? SQLSRV_POSTGRESQL : SQLSRV_MARIADB;
		why = sh("tests/lib/sqlservers.sh why-not %s", kind);
		if (*why) {
			printf("ok %d # skip %s: %s\n", ++tap_n, k == 0 ? "PostgreSQL" : "MariaDB", why);
			continue;
		}
		snprintf(schema, sizeof(schema), "%s/schema-%s.sql", dir, kind);
		{
			char *sql = sqlsrv_schema_sql(client, "connections");
			FILE *f = fopen(schema, "w");

			fputs(sql, f);
			fclose(f);
			free(sql);
			chmod(schema, 0644);
		}
		if (!ok(!setenv("SCHEMA_SQL", schema, 1) && server("start") == 0,
			k == 0 ? "PostgreSQL 15 starts on 127.0.0.1" : "MariaDB starts on 127.0.0.1")) {
			printf("# %s\n", sh("tail -5 %s/%s/*log* %s/%s/err 2>&1", dir, kind, dir, kind));
			continue;
		}
		printf("# %s on port %s\n", k == 0 ? "PostgreSQL" : "MariaDB", port);
		test_server();
		test_fleet();
		if (!getenv("SQLTEST_QUICK"))
			test_logger();
		server("stop");
	}
	sh("rm -rf %s", dir);
	return tap_done();
}
