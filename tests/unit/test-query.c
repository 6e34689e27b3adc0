/* Tests of src/query, on databases made by the monitor's own writer
 * (store_sqlite_open + store_write) with hostile strings: exact sums per
 * dimension, filters, window edges, series buckets and the top-N split,
 * distinct values, rows of schema 10 (no grandparent), files it must refuse
 * (missing, not a database, unknown schema versions) without touching them,
 * and reading while another connection writes.  Besides the exact values
 * written here, every dimension is compared with the connection_log view
 * over several windows and filter combinations.  Run from the top of the
 * source tree (for tests/fixtures). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "query/query.h"
#include "query/query_int.h"
#include "query/query_prefetch.h"
#include "query/query_vfs.h"
#include "storage/rollup.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "tap.h"

/* a version after this picosnitch's */
#define SCHEMA_NEXT 22
_Static_assert(SCHEMA_NEXT == SCHEMA_VERSION + 1, "SCHEMA_NEXT follows SCHEMA_VERSION");
#define STR_(x) #x
#define STR(x) STR_(x)

static char dir[] = "/tmp/picosnitch-query.XXXXXX";
static char err[512];

static char *path_of(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		printf("# exec failed: %s\n", msg ? msg : sqlite3_errmsg(db));
		abort();
	}
	sqlite3_close(db);
}

/* the dimensions of a machine's own snitch.db: every one but the fleet view's host,
 * which comes last (tested in test-sqlserver, on a fleet copy) */
#define LOCAL_DIMS QUERY_DIM_HOST

/* The rows: sent bytes are distinct powers of two, so any sum names the
 * rows in it; received is ten times sent. */
#define CURL "/usr/bin/curl"
#define EVIL "/opt/evil\npath"
#define EVIL_NAME "\xff\xfe bad"
#define FOX "/usr/bin/\xe7\x81\xab\xe7\x8b\x90"	/* /usr/bin/火狐 */
#define FOX_NAME "\xe7\x81\xab\xe7\x8b\x90\xe6\xb5\x8f\xe8\xa7\x88\xe5\x99\xa8"	/* 火狐浏览器 */
#define SYSTEMD "/usr/lib/systemd/systemd"

static struct conn_row mk(int64_t time, uint64_t sent, uint64_t flows, int exe, int parent, int gp)
{
	static const char *const exes[][4] = {
		{ CURL, "curl", "curl -s https://example.com/", "aaa" },	/* 0 */
		{ CURL, "curl", "curl -O x", "aaa" },				/* 1 */
		{ EVIL, EVIL_NAME, "evil --x", "!exited" },			/* 2 */
		{ FOX, FOX_NAME, FOX_NAME " --private", "bbb" },		/* 3 */
		{ "", "", "", "" },						/* 4 */
		{ "/usr/bin/bash", "bash", "bash", "ccc" },			/* 5 */
		{ SYSTEMD, "systemd", "/sbin/init", "ddd" },			/* 6 */
	};

	return (struct conn_row){
		.time = time, .sent = sent, .received = sent * 10, .flows = flows,
		.exe = exes[exe][0], .name = exes[exe][1], .cmdline = exes[exe][2], .sha256 = exes[exe][3],
		.pexe = exes[parent][0], .pname = exes[parent][1], .pcmdline = exes[parent][2],
		.psha256 = exes[parent][3], .gpexe = exes[gp][0], .gpname = exes[gp][1],
		.gpcmdline = exes[gp][2], .gpsha256 = exes[gp][3],
	};
}

static struct conn_row net(struct conn_row r, int64_t uid, int64_t lport, int64_t rport, const char *laddr,
			   const char *raddr, const char *domain, int family, int protocol, uint64_t netns)
{
	r.uid = uid;
	r.lport = lport;
	r.rport = rport;
	r.laddr = laddr;
	r.raddr = raddr;
	r.domain = domain;
	/* where names came from: one of them from a TLS ClientHello */
	r.domain_source = !strcmp(domain, "ipv6.example.org") ? "sni" : "dns";
	r.family = family;
	r.protocol = protocol;
	r.netns = netns;
	return r;
}

#define HOSTNS 4026531840ULL
#define CTNS 4026532000ULL

/* r1..r8 through the writer; r9 (a row of schema 10: no grandparent) and
 * r10 (a process name with a NUL byte, as only a hand-edited file has) with
 * plain SQL. */
static void make_main(const char *path)
{
	struct conn_row rows[] = {
		net(mk(1000, 1, 1, 0, 5, 6), 1000, 40000, 443, "192.168.1.2", "203.0.113.5", "example.com", 2, 6, HOSTNS),
		net(mk(1000, 2, 2, 1, 5, 6), 1000, 40001, 443, "192.168.1.2", "203.0.113.5", "example.com", 2, 6, HOSTNS),
		net(mk(1060, 4, 1, 2, 6, 4), 0, 5353, 53, "192.168.1.2", "198.51.100.7", "", 2, 17, HOSTNS),
		net(mk(1060, 8, 3, 3, 5, 6), 1001, 50000, 443, "fd00::2", "2001:db8::1", "ipv6.example.org", 10, 6, CTNS),
		net(mk(1120, 16, 1, 4, 6, 4), -1, -1, -1, "", "", "", 0, 0, HOSTNS),
		net(mk(1120, 32, 1, 0, 5, 6), 1000, 40002, 80, "192.168.1.2", "203.0.113.5", "example.com", 2, 253, HOSTNS),
		net(mk(1180, 64, 1, 2, 6, 4), 0, 0, 0, "aa:bb:cc:dd:ee:ff", "11:22:33:44:55:66", "", 17, 0x88b5, HOSTNS),
		net(mk(1180, 128, 2, 3, 5, 6), 1001, 50001, 443, "fd00::2", "2001:db8::1", "ipv6.example.org", 10, 17, CTNS),
	};
	struct store *s;

	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0 || store_write(s, rows, 8) < 0) {
		printf("# %s\n", err);
		abort();
	}
	store_close(s);
	exec(path,
	     "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport,"
	     " laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id)"
	     " SELECT 1240, e.id, p.id, 1000, 2, 6, 40003, 443, la.id, ra.id, d.id, 4026531840, 256,"
	     " 2560, 1, NULL FROM executables e, executables p, addresses la, addresses ra, domains d"
	     " WHERE e.cmdline = 'curl -s https://example.com/' AND p.path = '/usr/bin/bash'"
	     " AND la.address = '192.168.1.2' AND ra.address = '203.0.113.5' AND d.domain = 'example.com';"
	     "INSERT INTO executables(path, name, cmdline, sha256)"
	     " VALUES ('/bin/nul', CAST(X'6100620a' AS TEXT), '', '');"
	     "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport,"
	     " laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id)"
	     " SELECT 1240, e.id, p.id, 1000, 2, 6, 1, 2, la.id, ra.id, d.id, 4026531840, 512,"
	     " 5120, 1, g.id FROM executables e, executables p, executables g, addresses la,"
	     " addresses ra, domains d WHERE e.path = '/bin/nul' AND p.path = '/usr/bin/bash'"
	     " AND g.path = '/usr/lib/systemd/systemd' AND la.address = '192.168.1.2'"
	     " AND ra.address = '203.0.113.5' AND d.domain = 'example.com';");
}

/* A result as "value=sent/received/flows, ..." with bytes outside printable
 * ASCII as \xNN (and the numbers only for distinct values). */
static const char *render(const struct query_result *r, bool sums)
{
	static char out[16384];
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; r && i < r->n_rows && o < sizeof(out) - 128; i++) {
		const struct query_value *v = &r->rows[i].value;

		if (i)
			o += (size_t)snprintf(out + o, sizeof(out) - o, ", ");
		for (size_t j = 0; j < v->len && o < sizeof(out) - 64; j++) {
			unsigned char ch = (unsigned char)v->text[j];

			o += (size_t)snprintf(out + o, sizeof(out) - o, ch >= 0x20 && ch < 0x7f ? "%c" : "\\x%02x", ch);
		}
		if (sums)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "=%lld/%lld/%lld", (long long)r->rows[i].sent,
					      (long long)r->rows[i].received, (long long)r->rows[i].flows);
	}
	return out;
}

static struct query_window all_time(void)
{
	return (struct query_window){ 0 };
}

static struct query_window win(int64_t from, int64_t to)
{
	return (struct query_window){ from, to, true, true };
}

#define F(d, m, v) { QUERY_DIM_##d, QUERY_##m, v, sizeof(v) - 1 }

/* totals of dim, sorted by value, rendered; NULL on error (err has it) */
static const char *totals(struct query_db *db, enum query_dim dim, struct query_window w,
			  const struct query_filter *f, size_t nf)
{
	struct query_totals_req req = { .sel = { dim, w, f, nf }, .sort = QUERY_SORT_VALUE, .ascending = true };
	struct query_result *res;
	static char out[16384];

	if (query_totals(db, &req, &res, err, sizeof(err)) < 0)
		return NULL;
	snprintf(out, sizeof(out), "%s", render(res, true));
	query_result_free(res);
	return out;
}

static const char *country_of(void *ctx, const char *address)
{
	(*(int *)ctx)++;
	if (!strcmp(address, "203.0.113.5"))
		return "ZZ";
	if (!strcmp(address, "2001:db8::1"))
		return "XA";
	return NULL;
}

static const char *asn_of(void *ctx, const char *address)
{
	(*(int *)ctx)++;
	if (!strcmp(address, "203.0.113.5") || !strcmp(address, "2001:db8::1"))
		return "AS64496 Example \"Net\"";
	if (!strcmp(address, "198.51.100.7"))
		return "local";
	return NULL;
}

static void test_totals(struct query_db *db)
{
	static const struct {
		enum query_dim dim;
		const char *want;
	} cases[] = {
		{ QUERY_DIM_EXECUTABLE, "=16/160/1, /bin/nul=512/5120/1, /opt/evil\\x0apath=68/680/2, "
					"/usr/bin/curl=291/2910/5, /usr/bin/\\xe7\\x81\\xab\\xe7\\x8b\\x90=136/1360/5" },
		{ QUERY_DIM_NAME, "=16/160/1, a\\x00b\\x0a=512/5120/1, curl=291/2910/5, "
				  "\\xe7\\x81\\xab\\xe7\\x8b\\x90\\xe6\\xb5\\x8f\\xe8\\xa7\\x88\\xe5\\x99\\xa8=136/1360/5, "
				  "\\xff\\xfe bad=68/680/2" },
		{ QUERY_DIM_CMDLINE, "=528/5280/2, curl -O x=2/20/2, curl -s https://example.com/=289/2890/3, "
				     "evil --x=68/680/2, \\xe7\\x81\\xab\\xe7\\x8b\\x90\\xe6\\xb5\\x8f\\xe8\\xa7\\x88"
				     "\\xe5\\x99\\xa8 --private=136/1360/5" },
		{ QUERY_DIM_SHA256, "=528/5280/2, !exited=68/680/2, aaa=291/2910/5, bbb=136/1360/5" },
		{ QUERY_DIM_PARENT_EXECUTABLE, "/usr/bin/bash=939/9390/11, " SYSTEMD "=84/840/3" },
		{ QUERY_DIM_PARENT_NAME, "bash=939/9390/11, systemd=84/840/3" },
		{ QUERY_DIM_PARENT_CMDLINE, "/sbin/init=84/840/3, bash=939/9390/11" },
		{ QUERY_DIM_PARENT_SHA256, "ccc=939/9390/11, ddd=84/840/3" },
		{ QUERY_DIM_GRANDPARENT_EXECUTABLE, "=340/3400/4, " SYSTEMD "=683/6830/10" },
		{ QUERY_DIM_USER, "-1=16/160/1, 0=68/680/2, 1000=803/8030/6, 1001=136/1360/5" },
		{ QUERY_DIM_LOCAL_PORT, "-1=16/160/1, 0=64/640/1, 1=512/5120/1, 5353=4/40/1, 40000=1/10/1, "
					"40001=2/20/2, 40002=32/320/1, 40003=256/2560/1, 50000=8/80/3, "
					"50001=128/1280/2" },
		{ QUERY_DIM_REMOTE_PORT, "-1=16/160/1, 0=64/640/1, 2=512/5120/1, 53=4/40/1, 80=32/320/1, "
					 "443=395/3950/9" },
		{ QUERY_DIM_LOCAL_ADDRESS, "=16/160/1, 192.168.1.2=807/8070/7, aa:bb:cc:dd:ee:ff=64/640/1, "
					   "fd00::2=136/1360/5" },
		{ QUERY_DIM_REMOTE_ADDRESS, "=16/160/1, 11:22:33:44:55:66=64/640/1, 198.51.100.7=4/40/1, "
					    "2001:db8::1=136/1360/5, 203.0.113.5=803/8030/6" },
		{ QUERY_DIM_DOMAIN, "=84/840/3, example.com=803/8030/6, ipv6.example.org=136/1360/5" },
		{ QUERY_DIM_PROTOCOL, "=16/160/1, ip/253=32/320/1, packet/0x88b5=64/640/1, tcp=771/7710/5, "
				      "tcp6=8/80/3, udp=4/40/1, udp6=128/1280/2" },
		{ QUERY_DIM_NETNS, "4026531840=887/8870/9, 4026532000=136/1360/5" },
		{ QUERY_DIM_TIME, "1000=3/30/3, 1060=12/120/4, 1120=48/480/2, 1180=192/1920/3, 1240=768/7680/2" },
		{ QUERY_DIM_DOMAIN_SOURCE, "=84/840/3, dns=803/8030/6, sni=136/1360/5" },
	};
	char name[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "totals by %s: exact sums of every value", query_dim_name(cases[i].dim));
		is_str(totals(db, cases[i].dim, all_time(), NULL, 0), cases[i].want, name);
	}
}

static void test_sort_page(struct query_db *db)
{
	struct query_totals_req req = { .sel = { QUERY_DIM_EXECUTABLE } };
	struct query_result *res;

	req.sort = QUERY_SORT_TOTAL;
	is_int(query_totals(db, &req, &res, err, sizeof(err)), 0, "totals by total bytes, largest first");
	is_str(render(res, false), "/bin/nul, /usr/bin/curl, /usr/bin/\\xe7\\x81\\xab\\xe7\\x8b\\x90, /opt/evil\\x0apath, ",
	       "  in order");
	is_int(res->n_groups, 5, "  5 groups");
	is_int(res->sent, 1023, "  the sent bytes of all of them");
	is_int(res->received, 10230, "  the received bytes of all of them");
	is_int(res->flows, 14, "  the flows of all of them");
	query_result_free(res);
	req.ascending = true;
	req.limit = 2;
	req.offset = 1;
	query_totals(db, &req, &res, err, sizeof(err));
	is_str(render(res, false), "/opt/evil\\x0apath, /usr/bin/\\xe7\\x81\\xab\\xe7\\x8b\\x90",
	       "smallest first, limit 2 offset 1");
	is_int(res->n_groups, 5, "  still 5 groups in all");
	query_result_free(res);
	req.offset = 10;
	query_totals(db, &req, &res, err, sizeof(err));
	ok(res->n_rows == 0 && res->n_groups == 5 && res->sent == 1023,
	   "an offset past the end: no rows, but the counts");
	query_result_free(res);
	req = (struct query_totals_req){ .sel = { QUERY_DIM_USER }, .sort = QUERY_SORT_VALUE };
	query_totals(db, &req, &res, err, sizeof(err));
	is_str(render(res, false), "1001, 1000, 0, -1", "numeric values sort as numbers (descending)");
	is_int(res->rows[0].value.num, 1001, "  with their numbers");
	query_result_free(res);
	req = (struct query_totals_req){ .sel = { QUERY_DIM_DOMAIN }, .sort = QUERY_SORT_SENT, .ascending = true };
	query_totals(db, &req, &res, err, sizeof(err));
	is_str(render(res, true), "=84/840/3, ipv6.example.org=136/1360/5, example.com=803/8030/6",
	       "by sent bytes, ascending");
	query_result_free(res);
	req.sort = QUERY_SORT_RECEIVED;
	req.ascending = false;
	query_totals(db, &req, &res, err, sizeof(err));
	is_str(render(res, false), "example.com, ipv6.example.org, ", "by received bytes, descending");
	query_result_free(res);
	req.sort = 99;
	is_int(query_totals(db, &req, &res, err, sizeof(err)), -EINVAL, "an unknown sort order is refused");
	req = (struct query_totals_req){ .sel = { QUERY_DIM__COUNT } };
	is_int(query_totals(db, &req, &res, err, sizeof(err)), -EINVAL, "an unknown dimension is refused");
	req = (struct query_totals_req){ .sel = { QUERY_DIM_HOST } };
	is_int(query_totals(db, &req, &res, err, sizeof(err)), -EOPNOTSUPP,
	       "host outside a fleet copy is refused");
	ok(strstr(err, "only the fleet view") != NULL, "  saying where it is");
	ok(!query_has_hosts(db), "  a machine's own snitch.db has no hosts");
	{
		struct query_filter f = { QUERY_DIM_HOST, QUERY_INCLUDE, "a", 1 };

		req = (struct query_totals_req){ .sel = { QUERY_DIM_EXECUTABLE, .filters = &f,
							  .n_filters = 1 } };
		is_int(query_totals(db, &req, &res, err, sizeof(err)), -EOPNOTSUPP,
		       "  and so is a filter on it");
	}
}

static void test_windows(struct query_db *db)
{
	is_str(totals(db, QUERY_DIM_TIME, win(1060, 1180), NULL, 0), "1060=12/120/4, 1120=48/480/2",
	       "window: from is included, to is not");
	is_str(totals(db, QUERY_DIM_TIME, (struct query_window){ .from = 1180, .has_from = true }, NULL, 0),
	       "1180=192/1920/3, 1240=768/7680/2", "window open at the end");
	is_str(totals(db, QUERY_DIM_TIME, (struct query_window){ .to = 1060, .has_to = true }, NULL, 0),
	       "1000=3/30/3", "window open at the start");
	is_str(totals(db, QUERY_DIM_TIME, win(1000, 1001), NULL, 0), "1000=3/30/3", "a one-second window");
	is_str(totals(db, QUERY_DIM_TIME, win(1001, 1060), NULL, 0), "", "a window between entries is empty");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, win(1241, 2000), NULL, 0), "", "a window after the last entry");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, win(0, 1000), NULL, 0), "", "a window ending at the first entry");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, win(1100, 1100), NULL, 0), "", "an empty window");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, win(1200, 1100), NULL, 0), "", "a reversed window");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, win(INT64_MIN, INT64_MAX), NULL, 0),
	       "=16/160/1, /bin/nul=512/5120/1, /opt/evil\\x0apath=68/680/2, /usr/bin/curl=291/2910/5, "
	       "/usr/bin/\\xe7\\x81\\xab\\xe7\\x8b\\x90=136/1360/5",
	       "the widest window has everything");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, (struct query_window){ .to = INT64_MIN, .has_to = true }, NULL, 0),
	       "", "a window ending at the smallest time");
}

static void test_filters(struct query_db *db)
{
	struct query_filter f1[] = { F(EXECUTABLE, INCLUDE, CURL) };
	struct query_filter f2[] = { F(EXECUTABLE, INCLUDE, CURL), F(EXECUTABLE, INCLUDE, FOX) };
	struct query_filter f3[] = { F(EXECUTABLE, INCLUDE, CURL), F(USER, INCLUDE, "0") };
	struct query_filter f4[] = { F(GRANDPARENT_EXECUTABLE, EXCLUDE, SYSTEMD) };
	struct query_filter f5[] = { F(GRANDPARENT_EXECUTABLE, INCLUDE, "") };
	struct query_filter f6[] = { F(GRANDPARENT_EXECUTABLE, EXCLUDE, "") };
	struct query_filter f7[] = { F(PROTOCOL, INCLUDE, "tcp"), F(PROTOCOL, INCLUDE, "") };
	struct query_filter f8[] = { F(PROTOCOL, INCLUDE, "ip/6"), F(PROTOCOL, INCLUDE, "bogus") };
	struct query_filter f9[] = { F(PROTOCOL, EXCLUDE, "tcp"), F(PROTOCOL, EXCLUDE, "udp6"),
				     F(PROTOCOL, EXCLUDE, "packet/0x88b5") };
	struct query_filter f10[] = { F(NAME, INCLUDE, EVIL_NAME), F(EXECUTABLE, INCLUDE, EVIL) };
	struct query_filter f11[] = { F(NAME, INCLUDE, "a\0b\n") };
	struct query_filter f12[] = { F(NAME, INCLUDE, "a") };
	struct query_filter f13[] = { F(DOMAIN, EXCLUDE, ""), F(REMOTE_PORT, EXCLUDE, "80"),
				      F(USER, INCLUDE, "1000"), F(USER, INCLUDE, "1001") };
	struct query_filter f14[] = { F(LOCAL_PORT, INCLUDE, "abc") };
	struct query_filter f15[] = { F(NETNS, INCLUDE, "4026532000"), F(TIME, INCLUDE, "1180") };
	struct query_filter f16[] = { F(PROTOCOL, INCLUDE, "ip/253"), F(PROTOCOL, INCLUDE, "packet/0x88b5"),
				      F(PROTOCOL, INCLUDE, "udp6") };
	struct query_filter f17[] = { F(USER, INCLUDE, "99999999999999999999") };
	struct query_filter f18[] = { F(COUNTRY, INCLUDE, "ZZ") };
	struct query_filter bad[] = { { QUERY_DIM__COUNT, QUERY_INCLUDE, "x", 1 } };

	is_str(totals(db, QUERY_DIM_TIME, all_time(), f1, 1), "1000=3/30/3, 1120=32/320/1, 1240=256/2560/1",
	       "include one executable (two ids share its path)");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, all_time(), f2, 2),
	       "/usr/bin/curl=291/2910/5, /usr/bin/\\xe7\\x81\\xab\\xe7\\x8b\\x90=136/1360/5",
	       "two includes on a dimension: either");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, all_time(), f3, 2), "", "includes on two dimensions: both");
	f3[1].value = "1000";
	f3[1].len = 4;
	is_str(totals(db, QUERY_DIM_EXECUTABLE, all_time(), f3, 2), "/usr/bin/curl=291/2910/5",
	       "  (and with a user that has it)");
	is_str(totals(db, QUERY_DIM_GRANDPARENT_EXECUTABLE, all_time(), f4, 1), "=340/3400/4",
	       "excluding a grandparent keeps the rows without one (schema 10)");
	is_str(totals(db, QUERY_DIM_TIME, all_time(), f5, 1), "1060=4/40/1, 1120=16/160/1, 1180=64/640/1, 1240=256/2560/1",
	       "including the empty grandparent takes the rows without one");
	is_str(totals(db, QUERY_DIM_TIME, all_time(), f6, 1),
	       "1000=3/30/3, 1060=8/80/3, 1120=32/320/1, 1180=128/1280/2, 1240=512/5120/1",
	       "excluding the empty grandparent drops them");
	is_str(totals(db, QUERY_DIM_PROTOCOL, all_time(), f7, 2), "=16/160/1, tcp=771/7710/5",
	       "include a protocol and the empty one (exec entries)");
	is_str(totals(db, QUERY_DIM_PROTOCOL, all_time(), f8, 2), "",
	       "protocols no row can have (ip/6 is shown as tcp) match nothing");
	is_str(totals(db, QUERY_DIM_PROTOCOL, all_time(), f9, 3), "=16/160/1, ip/253=32/320/1, tcp6=8/80/3, udp=4/40/1",
	       "exclude three protocols");
	is_str(totals(db, QUERY_DIM_PROTOCOL, all_time(), f16, 3), "ip/253=32/320/1, packet/0x88b5=64/640/1, udp6=128/1280/2",
	       "include protocols by number and ethertype");
	is_str(totals(db, QUERY_DIM_NAME, all_time(), f10, 2), "\\xff\\xfe bad=68/680/2",
	       "include invalid UTF-8 and a newline, byte for byte");
	is_str(totals(db, QUERY_DIM_NAME, all_time(), f11, 1), "a\\x00b\\x0a=512/5120/1",
	       "include a value with a NUL byte, by its length");
	is_str(totals(db, QUERY_DIM_NAME, all_time(), f12, 1), "", "  and not by its C string");
	is_str(totals(db, QUERY_DIM_TIME, all_time(), f13, 4), "1000=3/30/3, 1060=8/80/3, 1180=128/1280/2, 1240=768/7680/2",
	       "excludes and includes on several dimensions");
	ok(!totals(db, QUERY_DIM_EXECUTABLE, all_time(), f14, 1), "a port that is not a number is refused");
	is_str(err, "filter on local_port: \"abc\" is not a number", "  with a message");
	ok(!totals(db, QUERY_DIM_EXECUTABLE, all_time(), f17, 1), "  and so is one out of range");
	is_str(totals(db, QUERY_DIM_TIME, all_time(), f15, 2), "1180=128/1280/2", "filters on netns and time");
	ok(!totals(db, QUERY_DIM_EXECUTABLE, all_time(), f18, 1), "a filter on country without GeoIP is refused");
	ok(strstr(err, "GeoIP") != NULL, "  saying why");
	ok(!totals(db, QUERY_DIM_COUNTRY, all_time(), NULL, 0), "and so is grouping by country");
	ok(!totals(db, QUERY_DIM_ASN, all_time(), NULL, 0), "and by network owner");
	ok(!totals(db, QUERY_DIM_EXECUTABLE, all_time(), bad, 1), "a filter on no dimension is refused");
}

static void test_country(const char *path)
{
	int calls = 0;
	struct query_options opt = { .country_of = country_of, .country_ctx = &calls };
	struct query_filter inc[] = { F(COUNTRY, INCLUDE, "ZZ") };
	struct query_filter none[] = { F(COUNTRY, INCLUDE, "") };
	struct query_filter exc[] = { F(COUNTRY, EXCLUDE, "ZZ"), F(COUNTRY, EXCLUDE, "XA") };
	struct query_db *db;

	if (!ok(query_open(path, &opt, &db, err, sizeof(err)) == 0, "open with a GeoIP hook"))
		return;
	is_str(totals(db, QUERY_DIM_COUNTRY, all_time(), NULL, 0), "=84/840/3, XA=136/1360/5, ZZ=803/8030/6",
	       "totals by country (of the remote address)");
	ok(calls > 0, "  through the hook");
	is_str(totals(db, QUERY_DIM_REMOTE_ADDRESS, all_time(), inc, 1), "203.0.113.5=803/8030/6",
	       "include a country");
	is_str(totals(db, QUERY_DIM_REMOTE_ADDRESS, all_time(), none, 1),
	       "=16/160/1, 11:22:33:44:55:66=64/640/1, 198.51.100.7=4/40/1", "include the unknown country");
	is_str(totals(db, QUERY_DIM_COUNTRY, all_time(), exc, 2), "=84/840/3", "exclude two countries");
	query_close(db);
}

static void test_asn(const char *path)
{
	int calls = 0;
	struct query_options opt = { .asn_of = asn_of, .asn_ctx = &calls };
	struct query_filter inc[] = { F(ASN, INCLUDE, "AS64496 Example \"Net\"") };
	struct query_filter exc[] = { F(ASN, EXCLUDE, "local") };
	struct query_filter country[] = { F(COUNTRY, INCLUDE, "ZZ") };
	struct query_db *db;

	if (!ok(query_open(path, &opt, &db, err, sizeof(err)) == 0, "open with a network-owner hook"))
		return;
	is_str(totals(db, QUERY_DIM_ASN, all_time(), NULL, 0),
	       "=80/800/2, AS64496 Example \"Net\"=939/9390/11, local=4/40/1",
	       "totals by network owner (of the remote address)");
	ok(calls > 0, "  through the hook");
	is_str(totals(db, QUERY_DIM_REMOTE_ADDRESS, all_time(), inc, 1),
	       "2001:db8::1=136/1360/5, 203.0.113.5=803/8030/6", "include a network owner");
	is_str(totals(db, QUERY_DIM_ASN, all_time(), exc, 1), "=80/800/2, AS64496 Example \"Net\"=939/9390/11",
	       "exclude one");
	ok(!totals(db, QUERY_DIM_COUNTRY, all_time(), NULL, 0), "no country without its hook");
	ok(!totals(db, QUERY_DIM_EXECUTABLE, all_time(), country, 1), "  nor a filter on it");
	query_close(db);
}

/* Every dimension (but country) against the connection_log view, over
 * windows and filter combinations: totals and distinct values. */
static const char *view_col(enum query_dim d)
{
	return d == QUERY_DIM_USER ? "uid" : query_dim_name(d);
}

static void bind_value(sqlite3_stmt *st, int i, enum query_dim d, const char *v, size_t len)
{
	char buf[64];

	if (query_dim_is_numeric(d)) {
		snprintf(buf, sizeof(buf), "%.*s", (int)len, v);
		sqlite3_bind_int64(st, i, strtoll(buf, NULL, 10));
	} else {
		sqlite3_bind_text(st, i, len ? v : "", (int)len, SQLITE_STATIC);
	}
}

static bool agree_with_view(sqlite3 *view, struct query_db *db, enum query_dim dim, struct query_window w,
			    const struct query_filter *f, size_t nf, bool distinct)
{
	char sql[4096];
	size_t o;
	sqlite3_stmt *st;
	struct query_result *res = NULL;
	size_t row = 0;
	bool same = true;
	int r, p = 1;

	o = (size_t)snprintf(sql, sizeof(sql), "SELECT %s, sum(sent), sum(received), sum(flows) FROM connection_log WHERE 1",
			     view_col(dim));
	if (w.has_from)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, " AND time >= %lld", (long long)w.from);
	if (w.has_to)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, " AND time < %lld", (long long)w.to);
	for (int d = 0; d < LOCAL_DIMS; d++)
		for (int m = 0; m < 2; m++) {
			bool first = true;

			for (size_t i = 0; i < nf; i++) {
				if ((int)f[i].dim != d || (int)f[i].mode != (m ? QUERY_EXCLUDE : QUERY_INCLUDE))
					continue;
				if (first)
					o += (size_t)snprintf(sql + o, sizeof(sql) - o, " AND %s %sIN (?", view_col(d),
							      m ? "NOT " : "");
				else
					o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", ?");
				first = false;
			}
			if (!first)
				o += (size_t)snprintf(sql + o, sizeof(sql) - o, ")");
		}
	snprintf(sql + o, sizeof(sql) - o, " GROUP BY 1 ORDER BY 1");
	if (sqlite3_prepare_v2(view, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("# %s: %s\n", sql, sqlite3_errmsg(view));
		return false;
	}
	for (int d = 0; d < LOCAL_DIMS; d++)
		for (int m = 0; m < 2; m++)
			for (size_t i = 0; i < nf; i++)
				if ((int)f[i].dim == d && (int)f[i].mode == (m ? QUERY_EXCLUDE : QUERY_INCLUDE))
					bind_value(st, p++, f[i].dim, f[i].value, f[i].len);
	if (distinct) {
		struct query_distinct_req req = { .sel = { dim, w, f, nf } };

		r = query_distinct(db, &req, &res, err, sizeof(err));
	} else {
		struct query_totals_req req = { .sel = { dim, w, f, nf }, .sort = QUERY_SORT_VALUE, .ascending = true };

		r = query_totals(db, &req, &res, err, sizeof(err));
	}
	if (r < 0) {
		printf("# %s: %s\n", query_dim_name(dim), err);
		sqlite3_finalize(st);
		return false;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const void *t = sqlite3_column_text(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		const struct query_row *qr = row < res->n_rows ? &res->rows[row] : NULL;

		if (!qr || qr->value.len != len || memcmp(qr->value.text, t, len) || qr->value.text[len] ||
		    (!distinct && (qr->sent != sqlite3_column_int64(st, 1) || qr->received != sqlite3_column_int64(st, 2) ||
				   qr->flows != sqlite3_column_int64(st, 3))) ||
		    (distinct && (qr->sent || qr->received || qr->flows)))
			same = false;
		row++;
	}
	sqlite3_finalize(st);
	if (row != res->n_rows || res->n_groups != row)
		same = false;
	if (!same)
		printf("# %s %s differs from the view: %s\n#   %s\n", distinct ? "distinct" : "totals",
		       query_dim_name(dim), render(res, !distinct), sql);
	query_result_free(res);
	return same;
}

static void test_against_view(const char *path, struct query_db *db)
{
	static const struct query_filter fs[][4] = {
		{ { 0 } },
		{ F(EXECUTABLE, INCLUDE, CURL) },
		{ F(EXECUTABLE, INCLUDE, CURL), F(EXECUTABLE, INCLUDE, FOX) },
		{ F(EXECUTABLE, INCLUDE, CURL), F(USER, INCLUDE, "1000") },
		{ F(DOMAIN, EXCLUDE, "") },
		{ F(GRANDPARENT_EXECUTABLE, EXCLUDE, SYSTEMD) },
		{ F(GRANDPARENT_EXECUTABLE, INCLUDE, "") },
		{ F(PROTOCOL, INCLUDE, "tcp"), F(PROTOCOL, INCLUDE, ""), F(REMOTE_PORT, EXCLUDE, "80") },
		{ F(NAME, INCLUDE, EVIL_NAME), F(PARENT_SHA256, EXCLUDE, "ccc") },
		{ F(EXECUTABLE, EXCLUDE, CURL), F(LOCAL_ADDRESS, EXCLUDE, "") },
		{ F(PROTOCOL, INCLUDE, "packet/0x88b5"), F(PROTOCOL, INCLUDE, "udp6"), F(NETNS, EXCLUDE, "1") },
		{ F(TIME, INCLUDE, "1060"), F(REMOTE_ADDRESS, INCLUDE, "2001:db8::1") },
		{ F(LOCAL_PORT, INCLUDE, "-1"), F(PARENT_NAME, INCLUDE, "systemd"), F(CMDLINE, EXCLUDE, "x") },
	};
	static const size_t nfs[] = { 0, 1, 2, 2, 1, 1, 1, 3, 2, 2, 3, 2, 3 };
	struct query_window ws[] = {
		all_time(), win(1060, 1180), { .from = 1060, .has_from = true }, { .to = 1060, .has_to = true },
		win(1000, 1001), win(1240, 1241), { .from = 1241, .has_from = true }, win(1100, 1100),
	};
	char name[128];
	sqlite3 *view;

	sqlite3_open_v2(path, &view, SQLITE_OPEN_READONLY, NULL);
	for (size_t fi = 0; fi < sizeof(nfs) / sizeof(nfs[0]); fi++)
		for (size_t wi = 0; wi < sizeof(ws) / sizeof(ws[0]); wi++) {
			bool same = true;

			for (int d = 0; d < LOCAL_DIMS; d++) {
				if (d == QUERY_DIM_COUNTRY || d == QUERY_DIM_ASN)
					continue;
				same &= agree_with_view(view, db, d, ws[wi], fs[fi], nfs[fi], false);
				same &= agree_with_view(view, db, d, ws[wi], fs[fi], nfs[fi], true);
			}
			snprintf(name, sizeof(name), "filters %zu, window %zu: every dimension as the view has it", fi, wi);
			ok(same, name);
		}
	sqlite3_close(view);
}

static const char *points(const struct query_line *l, size_t n)
{
	static char out[1024];
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o < sizeof(out) - 64; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%lld/%lld", i ? " " : "",
				      (long long)l->points[i].sent, (long long)l->points[i].received);
	return out;
}

static void test_series(struct query_db *db)
{
	struct query_series_req req = { .sel = { QUERY_DIM_EXECUTABLE, win(1000, 1240) }, .top = 2, .buckets = 4,
					.other = true };
	struct query_filter f[] = { F(DOMAIN, EXCLUDE, "") };
	struct query_series *s;

	if (!ok(query_series(db, &req, &s, err, sizeof(err)) == 0, "series of the top 2 executables, 4 buckets")) {
		printf("# %s\n", err);
		return;
	}
	is_int(s->n_lines, 3, "  two lines and other");
	is_str(s->lines[0].value.text, FOX, "  the largest first");
	is_str(points(&s->lines[0], 4), "0/0 8/80 0/0 128/1280", "  its buckets");
	is_str(s->lines[1].value.text, EVIL, "  then the second");
	is_str(points(&s->lines[1], 4), "0/0 4/40 0/0 64/640", "  its buckets");
	ok(s->lines[2].other && s->lines[2].value.len == 0, "  then other");
	is_str(points(&s->lines[2], 4), "3/30 0/0 48/480 0/0", "  with everything else (the end is excluded)");
	is_int(s->lines[2].sent, 51, "  and its sum");
	is_int(s->lines[0].received, 1360, "  lines have their sums");
	is_int(query_series_bucket_start(s, 1), 1060, "  buckets of 60 s");
	is_int(query_series_bucket_start(s, 4), 1240, "  ending at the window's end");
	query_series_free(s);

	req.other = false;
	req.top = 10;
	req.sel.window = (struct query_window){ 0 };
	req.buckets = 3;
	query_series(db, &req, &s, err, sizeof(err));
	ok(s && s->n_lines == 5 && !s->lines[4].other, "more lines asked than values: one per value, no other");
	ok(s && s->from == 1000 && s->to == 1241, "an open window spans the entries");
	if (s) {
		/* 241 s in 3 buckets: [1000, 1081) [1081, 1161) [1161, 1241) */
		is_int(query_series_bucket_start(s, 1), 1081, "  uneven buckets start where the entries fall in them");
		is_int(query_series_bucket_start(s, 2), 1161, "  (second)");
		is_str(s->lines[0].value.text, "/bin/nul", "  the largest of all time");
		is_str(points(&s->lines[0], 3), "0/0 0/0 512/5120", "  at the end");
		is_str(s->lines[1].value.text, CURL, "  then curl");
		is_str(points(&s->lines[1], 3), "3/30 32/320 256/2560", "  in every bucket");
	}
	query_series_free(s);

	req = (struct query_series_req){ .sel = { QUERY_DIM_USER, win(1000, 1240), f, 1 }, .top = 1, .buckets = 2, .other = true };
	query_series(db, &req, &s, err, sizeof(err));
	ok(s && s->n_lines == 2, "series with a filter");
	if (s) {
		is_str(s->lines[0].value.text, "1001", "  the top user of what had a domain");
		is_int(s->lines[0].value.num, 1001, "  as a number too");
		is_str(points(&s->lines[0], 2), "8/80 128/1280", "  its buckets");
		is_str(points(&s->lines[1], 2), "3/30 32/320", "  and the rest");
	}
	query_series_free(s);

	req.sel.window = win(5000, 6000);
	is_int(query_series(db, &req, &s, err, sizeof(err)), 0, "a series of a window without entries");
	ok(s && s->n_lines == 1 && s->lines[0].other && s->lines[0].sent == 0, "  is just an empty other");
	query_series_free(s);
	req.buckets = 0;
	is_int(query_series(db, &req, &s, err, sizeof(err)), -EINVAL, "no buckets is refused");
	req.buckets = 10;
	req.top = 0;
	is_int(query_series(db, &req, &s, err, sizeof(err)), -EINVAL, "no lines is refused");
	req.top = 1;
	req.sel.window = win(6000, 5000);
	is_int(query_series(db, &req, &s, err, sizeof(err)), -EINVAL, "a reversed window is refused");
	req.sel.window = win(INT64_MIN, INT64_MAX);
	is_int(query_series(db, &req, &s, err, sizeof(err)), -ERANGE, "a window too long to cut is refused");
}

static void test_distinct(struct query_db *db)
{
	struct query_distinct_req req = { .sel = { QUERY_DIM_EXECUTABLE } };
	struct query_filter f[] = { F(USER, INCLUDE, "0") };
	struct query_result *res;

	is_int(query_distinct(db, &req, &res, err, sizeof(err)), 0, "distinct executables");
	is_str(render(res, true), "=0/0/0, /bin/nul=0/0/0, /opt/evil\\x0apath=0/0/0, /usr/bin/curl=0/0/0, "
				  "/usr/bin/\\xe7\\x81\\xab\\xe7\\x8b\\x90=0/0/0",
	       "  sorted by their bytes, without sums");
	query_result_free(res);
	req.sel.window = win(1060, 1120);
	query_distinct(db, &req, &res, err, sizeof(err));
	is_str(render(res, false), "/opt/evil\\x0apath, /usr/bin/\\xe7\\x81\\xab\\xe7\\x8b\\x90", "in a window");
	query_result_free(res);
	req.sel = (struct query_select){ QUERY_DIM_EXECUTABLE, all_time(), f, 1 };
	query_distinct(db, &req, &res, err, sizeof(err));
	is_str(render(res, false), "/opt/evil\\x0apath", "with a filter");
	query_result_free(res);
	req.sel = (struct query_select){ QUERY_DIM_REMOTE_PORT };
	req.limit = 3;
	req.offset = 1;
	query_distinct(db, &req, &res, err, sizeof(err));
	is_str(render(res, false), "0, 2, 53", "numbers, in order, with limit and offset");
	is_int(res->n_groups, 6, "  and the count of all");
	query_result_free(res);
	req = (struct query_distinct_req){ .sel = { QUERY_DIM_GRANDPARENT_EXECUTABLE, win(1240, 1241) } };
	query_distinct(db, &req, &res, err, sizeof(err));
	is_str(render(res, false), ", " SYSTEMD, "a grandparent of schema 10 is the empty value");
	query_result_free(res);
}

/* Many rows over few keys: distinct values come from skipping through the
 * index, which must give what reading the rows gives; and rows written out
 * of time order are found in windows. */
static void test_bulk(void)
{
	char *path = path_of("bulk.db");
	struct conn_row rows[600];
	struct query_db *db;
	struct query_filter noop[] = { F(USER, EXCLUDE, "424242") };
	struct query_window ws[] = { all_time(), win(100000, 100300), { .from = 100500, .has_from = true },
				     win(100000, 100001), win(50000, 60000) };
	struct store *s;
	int d;

	for (int i = 0; i < 600; i++)
		rows[i] = net(mk(100000 + i, 1, 1, i % 3 == 0 ? 0 : i % 3 == 1 ? 2 : 3, 5, 6), 1000 + i % 7, 40000 + i,
			      443, "192.168.1.2", i % 2 ? "203.0.113.5" : "198.51.100.9", i % 5 ? "a.example" : "",
			      2, 6, HOSTNS);
	store_sqlite_open(path, &s, err, sizeof(err));
	store_write(s, rows, 600);
	store_close(s);
	/* a row of schema 10, and one whose id is out of time order */
	exec(path, "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id,"
		   " raddr_id, domain_id, netns, sent, received, flows, grandparent_id) SELECT 100010, exe_id,"
		   " parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, 1000,"
		   " 1000, 1, NULL FROM connections WHERE time = 100000;"
		   "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id,"
		   " raddr_id, domain_id, netns, sent, received, flows, grandparent_id) SELECT 100001, exe_id,"
		   " parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, 7000,"
		   " 7000, 1, grandparent_id FROM connections WHERE time = 100001;");
	if (!ok(query_open(path, NULL, &db, err, sizeof(err)) == 0, "a database with many rows per key"))
		return;
	for (size_t wi = 0; wi < sizeof(ws) / sizeof(ws[0]); wi++)
		for (d = 0; d < LOCAL_DIMS; d++) {
			struct query_distinct_req a = { .sel = { d, ws[wi] } }, b = { .sel = { d, ws[wi], noop, 1 } };
			struct query_result *ra = NULL, *rb = NULL;
			bool same;
			char name[128];

			if (d == QUERY_DIM_COUNTRY || d == QUERY_DIM_ASN)
				continue;
			query_distinct(db, &a, &ra, err, sizeof(err));
			query_distinct(db, &b, &rb, err, sizeof(err));
			same = ra && rb && ra->n_rows == rb->n_rows && ra->n_groups == rb->n_groups;
			for (size_t i = 0; same && i < ra->n_rows; i++)
				same = ra->rows[i].value.len == rb->rows[i].value.len &&
				       !memcmp(ra->rows[i].value.text, rb->rows[i].value.text, ra->rows[i].value.len);
			snprintf(name, sizeof(name), "distinct %s in window %zu: through the index as by reading", query_dim_name(d), wi);
			if (!tap_ok(same, name))
				printf("#   %zu and %zu values\n", ra ? ra->n_rows : 0, rb ? rb->n_rows : 0);
			query_result_free(ra);
			query_result_free(rb);
		}
	/* local ports: one row each, but 40000 (and a copy at 100010) and
	 * 40001 (and a copy at 100001): many keys, each in a bucket or two,
	 * kept as pairs while summing; with room for only 1 kB of them, 40000
	 * gives up its buckets before its copy makes it second, and a second
	 * scan fills the buckets */
	for (int pass = 0; pass < 3; pass++) {
		struct query_series_req req = { .sel = { QUERY_DIM_LOCAL_PORT, win(100000, 100600) }, .top = 3,
						.buckets = pass == 2 ? 100 : 100000, .other = true };
		struct query_options small = { .series_key_bytes = 1024 };
		struct query_db *qdb = db;
		struct query_series *sr;
		size_t b0 = pass == 2 ? 1 : 1666, b1 = pass == 2 ? 0 : 166, b2 = pass == 2 ? 0 : 333;
		static const char *const what[] = { "series of many keys in 100000 buckets",
						    "  the same with 1 kB for the keys' buckets",
						    "series of many keys in 100 buckets" };

		if (pass == 1 && query_open(path, &small, &qdb, err, sizeof(err)) < 0)
			qdb = NULL;
		if (!ok(qdb && query_series(qdb, &req, &sr, err, sizeof(err)) == 0 && sr->n_lines == 4,
			what[pass])) {
			printf("# %s\n", err);
			if (qdb != db)
				query_close(qdb);
			continue;
		}
		if (qdb != db)
			query_close(qdb);
		is_int(sr->how, pass == 1 ? QUERY_SERIES_TWO_SCANS : QUERY_SERIES_ONE_SCAN,
		       pass == 1 ? "  read twice" : "  read once");
		ok(!strcmp(sr->lines[0].value.text, "40001") && sr->lines[0].sent == 7001 &&
			   sr->lines[0].points[b1].sent == 7001 && sr->lines[0].points[b1].received == 7010,
		   "  the first line, in its bucket");
		ok(!strcmp(sr->lines[1].value.text, "40000") && sr->lines[1].points[0].sent == 1 &&
			   sr->lines[1].points[b0].sent == 1000 && sr->lines[1].sent == 1001,
		   "  the second, in two buckets");
		ok(!strcmp(sr->lines[2].value.text, "40002") && sr->lines[2].points[b2].received == 10 &&
			   sr->lines[2].received == 10,
		   "  the third (first of the ties by value)");
		ok(sr->lines[3].other && sr->lines[3].sent == 597 && sr->lines[3].received == 5970, "  and the other 597");
		query_series_free(sr);
	}
	/* users: 7 keys of ~86 rows each over 600 s, so in most of 100
	 * buckets: their pairs become every bucket as they grow; the same
	 * points as when read twice, and as the rows' sums */
	{
		struct query_series_req req = { .sel = { QUERY_DIM_USER, win(100000, 100600) }, .top = 7,
						.buckets = 100 };
		struct query_options small = { .series_key_bytes = 1024 };
		struct query_series *one = NULL, *two = NULL;
		struct query_db *sdb = NULL;
		bool same;

		query_series(db, &req, &one, err, sizeof(err));
		if (query_open(path, &small, &sdb, err, sizeof(err)) == 0)
			query_series(sdb, &req, &two, err, sizeof(err));
		query_close(sdb);
		same = one && two && one->n_lines == 7 && two->n_lines == 7;
		for (size_t l = 0; same && l < 7; l++) {
			same = !strcmp(one->lines[l].value.text, two->lines[l].value.text) &&
			       one->lines[l].sent == two->lines[l].sent;
			for (size_t b = 0; same && b < 100; b++)
				same = one->lines[l].points[b].sent == two->lines[l].points[b].sent &&
				       one->lines[l].points[b].received == two->lines[l].points[b].received;
		}
		ok(same, "series of 7 users in 100 buckets: the same points kept in one scan as read twice");
		ok(one && two && one->how == QUERY_SERIES_ONE_SCAN && two->how == QUERY_SERIES_TWO_SCANS,
		   "  (once with room, twice with 1 kB: a user's buckets take 1.6 kB)");
		/* user 1000: rows i = 0, 7, 14, ..., 595 (sent 1 each) in bucket
		 * i / 6; row 0 copied at 100010 (sent 1000, bucket 1) */
		if (one) {
			const struct query_line *u = NULL;

			for (size_t l = 0; l < one->n_lines; l++)
				if (!strcmp(one->lines[l].value.text, "1000"))
					u = &one->lines[l];
			ok(u && u->points[0].sent == 1 && u->points[1].sent == 1001 &&
				   u->points[2].sent == 1 && u->points[3].sent == 1 && u->points[6].sent == 0 &&
				   u->points[99].sent == 1 && u->sent == 1000 + 86,
			   "  user 1000 in buckets 0 to 3, 6 (none) and 99: exactly its rows");
		}
		query_series_free(one);
		query_series_free(two);
	}
	is_str(totals(db, QUERY_DIM_GRANDPARENT_EXECUTABLE, win(100010, 100011), NULL, 0), "=1000/1000/1, " SYSTEMD "=1/10/1",
	       "a grandparent of schema 10 among many rows");
	is_str(totals(db, QUERY_DIM_TIME, win(100001, 100002), NULL, 0), "100001=7001/7010/2",
	       "a row written out of time order is in its window");
	is_str(totals(db, QUERY_DIM_USER, win(100001, 100003), NULL, 0), "1001=7001/7010/2, 1002=1/10/1",
	       "  and in a wider one");
	query_close(db);
	free(path);
}

/* A series whose keys' buckets do not fit the room it may take: the
 * buckets of the smallest keys so far are given up.  Local ports in
 * 100 s buckets from 200000: 60000 sends 100000 in every bucket; 200
 * ports send 50 in bucket 0 and 50 in bucket 1; 50000 sends 1 at the
 * start (so its buckets are given up first) and 1000000 at 200350. */
/* a row of test_series_room: from local port `lport` */
static struct conn_row port_row(int64_t time, uint64_t sent, int64_t lport)
{
	return net(mk(time, sent, 1, 0, 5, 6), 1000, lport, 443, "192.168.1.2", "203.0.113.5", "", 2, 6, HOSTNS);
}

static void test_series_room(void)
{
	char *path = path_of("room.db");
	struct conn_row rows[205];
	struct query_options small = { .series_key_bytes = 2048 };
	struct query_db *db = NULL, *big = NULL;
	struct store *st;
	size_t n = 0;

	rows[n++] = port_row(200000, 1, 50000);
	rows[n++] = port_row(200005, 100000, 60000);
	for (int k = 0; k < 200; k++)
		rows[n++] = port_row(200010 + k % 80, 50, 41000 + k);
	rows[n++] = port_row(200105, 100000, 60000);
	store_sqlite_open(path, &st, err, sizeof(err));
	store_write(st, rows, n);
	n = 0;
	for (int k = 0; k < 200; k++)
		rows[n++] = port_row(200150, 50, 41000 + k);
	rows[n++] = port_row(200205, 100000, 60000);
	rows[n++] = port_row(200305, 100000, 60000);
	rows[n++] = port_row(200350, 1000000, 50000);
	store_write(st, rows, n);
	store_close(st);
	if (!ok(query_open(path, &small, &db, err, sizeof(err)) == 0 &&
		query_open(path, NULL, &big, err, sizeof(err)) == 0, "a series with little room for its buckets")) {
		query_close(db);
		free(path);
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		struct query_db *q = pass ? big : db;
		const char *how = pass ? " (room enough)" : " (2 kB)";
		char name[160];
		struct query_series_req req = { .sel = { QUERY_DIM_LOCAL_PORT, win(200000, 200300) }, .top = 1,
						.buckets = 3, .other = true };
		struct query_series *sr = NULL;

		/* 50000 stays small here: the top value kept its buckets */
		snprintf(name, sizeof(name), "300 s, the top port and other%s", how);
		if (!ok(query_series(q, &req, &sr, err, sizeof(err)) == 0 && sr->n_lines == 2, name)) {
			printf("# %s\n", err);
			continue;
		}
		is_int(sr->how, QUERY_SERIES_ONE_SCAN, "  in one scan");
		is_str(sr->lines[0].value.text, "60000", "  the top port");
		ok(sr->lines[0].points[0].sent == 100000 && sr->lines[0].points[1].sent == 100000 &&
			   sr->lines[0].points[2].sent == 100000 && sr->lines[0].points[2].received == 1000000,
		   "  in each bucket");
		ok(sr->lines[1].other && sr->lines[1].points[0].sent == 10001 &&
			   sr->lines[1].points[0].received == 100010 && sr->lines[1].points[1].sent == 10000 &&
			   sr->lines[1].points[2].sent == 0 && sr->lines[1].sent == 20001,
		   "  other: every row less the top line");
		query_series_free(sr);
		req.other = false;
		sr = NULL;
		ok(query_series(q, &req, &sr, err, sizeof(err)) == 0 && sr->n_lines == 1 &&
			   sr->how == QUERY_SERIES_ONE_SCAN && sr->lines[0].sent == 300000,
		   "  without other: the top line alone, in one scan");
		query_series_free(sr);
		/* 400 s: 50000 ends on top, its first bucket given up on the way
		 * (with 2 kB): read twice, exactly */
		req = (struct query_series_req){ .sel = { QUERY_DIM_LOCAL_PORT, win(200000, 200400) }, .top = 2,
						 .buckets = 4, .other = true };
		sr = NULL;
		snprintf(name, sizeof(name), "400 s: the port that grew late%s", how);
		if (!ok(query_series(q, &req, &sr, err, sizeof(err)) == 0 && sr->n_lines == 3, name))
			continue;
		is_int(sr->how, pass ? QUERY_SERIES_ONE_SCAN : QUERY_SERIES_TWO_SCANS,
		       pass ? "  in one scan" : "  its buckets given up: in two scans");
		ok(!strcmp(sr->lines[0].value.text, "50000") && sr->lines[0].points[0].sent == 1 &&
			   sr->lines[0].points[1].sent == 0 && sr->lines[0].points[3].sent == 1000000 &&
			   sr->lines[0].sent == 1000001,
		   "  its first row is there");
		ok(!strcmp(sr->lines[1].value.text, "60000") && sr->lines[1].sent == 400000, "  then 60000");
		ok(sr->lines[2].other && sr->lines[2].points[0].sent == 10000 &&
			   sr->lines[2].points[1].sent == 10000 && sr->lines[2].points[3].sent == 0,
		   "  and other");
		query_series_free(sr);
	}
	query_close(db);
	query_close(big);
	free(path);
}

struct file_state {
	off_t size;
	struct timespec mtime;
	char version[32];
	char *bytes;
};

static void file_state(const char *path, struct file_state *st)
{
	struct stat sb;
	sqlite3 *db;
	sqlite3_stmt *q;
	int fd;

	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) < 0)
		return;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->bytes = malloc((size_t)sb.st_size + 1);
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, st->bytes, (size_t)sb.st_size) != sb.st_size)
		abort();
	close(fd);
	/* immutable: read the version without any chance of a write */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			snprintf(st->version, sizeof(st->version), "%s", sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
}

static bool same_state(const struct file_state *a, const struct file_state *b)
{
	return a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       !strcmp(a->version, b->version) && a->bytes && b->bytes && !memcmp(a->bytes, b->bytes, (size_t)a->size);
}

/* Copy a database file (checkpointed) over `to`, whose write-ahead log
 * from before would otherwise be read with it. */
static void copy_file(const char *from, const char *to)
{
	char buf[65536], side[4096];
	int in, out;
	ssize_t n;

	snprintf(side, sizeof(side), "%s-wal", to);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", to);
	unlink(side);
	in = open(from, O_RDONLY);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			abort();
	close(in);
	close(out);
}

/* A fresh copy of `from` at `to`, opened (NULL, and a failed test, if it
 * cannot be). */
static struct query_db *open_copy(const char *from, const char *to,
				  const struct query_options *opt)
{
	struct query_db *db;

	copy_file(from, to);
	if (query_open(to, opt, &db, err, sizeof(err)) < 0) {
		ok(0, err);
		return NULL;
	}
	return db;
}

static void test_untouched(const char *path)
{
	struct file_state before, after;
	struct query_db *db;
	struct query_result *res;
	struct query_series *s;
	struct query_totals_req t = { .sel = { QUERY_DIM_EXECUTABLE } };
	struct query_series_req sr = { .sel = { QUERY_DIM_DOMAIN }, .top = 3, .buckets = 5, .other = true };
	struct query_distinct_req dr = { .sel = { QUERY_DIM_NAME } };
	int64_t a, b;

	file_state(path, &before);
	query_open(path, NULL, &db, err, sizeof(err));
	is_int(query_schema_version(db), SCHEMA_VERSION, "the schema version is known");
	for (int d = 0; d < LOCAL_DIMS; d++) {
		t.sel.dim = d;
		if (query_totals(db, &t, &res, err, sizeof(err)) == 0)
			query_result_free(res);
	}
	if (query_series(db, &sr, &s, err, sizeof(err)) == 0)
		query_series_free(s);
	if (query_distinct(db, &dr, &res, err, sizeof(err)) == 0)
		query_result_free(res);
	is_int(query_bounds(db, &a, &b, err, sizeof(err)), 0, "the window bounds");
	ok(a == 1000 && b == 1240, "  are the first and last entry times");
	query_close(db);
	file_state(path, &after);
	ok(same_state(&before, &after), "queries leave the file exactly as it was (bytes, size, mtime, version)");
	free(before.bytes);
	free(after.bytes);
}

static void test_refusals(const char *main_db)
{
	char *missing = path_of("missing.db"), *junk = path_of("junk.db"), *future = path_of("future.db"),
	     *old = path_of("old.db"), *empty = path_of("empty.db"), *other = path_of("other.db"),
	     *fifo = path_of("fifo.db");
	struct file_state before, after;
	struct query_db *db = NULL;
	struct stat sb;
	char want[1024];
	int fd;

	is_int(query_open(missing, NULL, &db, err, sizeof(err)), -ENOENT, "a missing database: -ENOENT");
	ok(strstr(err, missing) != NULL, "  the message names the path");
	ok(stat(missing, &sb) < 0 && errno == ENOENT, "  and it is not created");
	ok(db == NULL, "  and no handle");

	fd = open(junk, O_WRONLY | O_CREAT, 0644);
	if (write(fd, "this is not a database, just some text that fills a page\n", 58) != 58)
		abort();
	close(fd);
	file_state(junk, &before);
	is_int(query_open(junk, NULL, &db, err, sizeof(err)), -EBADMSG, "a file that is not a database: -EBADMSG");
	snprintf(want, sizeof(want), "%s is not an SQLite database (file is not a database)", junk);
	is_str(err, want, "  with a message");
	file_state(junk, &after);
	ok(before.size == after.size && !memcmp(before.bytes, after.bytes, (size_t)before.size), "  and it is untouched");
	free(before.bytes);
	free(after.bytes);

	copy_file(main_db, future);
	exec(future, "PRAGMA user_version = " STR(SCHEMA_NEXT));
	file_state(future, &before);
	is_int(query_open(future, NULL, &db, err, sizeof(err)), -EPROTO, "a newer schema: -EPROTO");
	snprintf(want, sizeof(want),
		 "snitch.db has schema version %d, newer than this picosnitch understands (%s)",
		 SCHEMA_NEXT, future);
	is_str(err, want, "  with a message saying so");
	file_state(future, &after);
	ok(same_state(&before, &after), "  and the file is untouched");
	free(before.bytes);
	free(after.bytes);

	copy_file(main_db, old);
	exec(old, "PRAGMA user_version = 3");
	is_int(query_open(old, NULL, &db, err, sizeof(err)), -EPROTO, "an older schema (the monitor migrates it): -EPROTO");
	ok(strstr(err, "version 3") != NULL, "  with a message");

	fd = open(empty, O_WRONLY | O_CREAT, 0644);
	close(fd);
	is_int(query_open(empty, NULL, &db, err, sizeof(err)), -ENODATA, "an empty file: no history yet");
	exec(other, "CREATE TABLE t (x)");
	is_int(query_open(other, NULL, &db, err, sizeof(err)), -EPROTO, "someone else's database: -EPROTO");
	exec(other, "PRAGMA user_version = 11");
	is_int(query_open(other, NULL, &db, err, sizeof(err)), -EPROTO, "  also with our version number");
	ok(strstr(err, "tables of schema 11") != NULL, "  because the tables are not there");
	is_int(query_open(dir, NULL, &db, err, sizeof(err)), -EISDIR, "a directory is refused");
	is_int(query_open("", NULL, &db, err, sizeof(err)), -EINVAL, "an empty path is refused");
	if (mkfifo(fifo, 0600) < 0)
		abort();
	is_int(query_open(fifo, NULL, &db, err, sizeof(err)), -EINVAL, "a FIFO is refused (without blocking)");
	free(missing);
	free(junk);
	free(future);
	free(old);
	free(empty);
	free(other);
	free(fifo);
}

/* A database still at schema 10 (the monitor has not run since): no
 * grandparent column at all. */
static void test_v10(void)
{
	char *path = path_of("v10.db"), *sql = NULL;
	FILE *f = fopen("tests/fixtures/snitch-v10.sql", "r");
	struct query_filter inc[] = { F(GRANDPARENT_EXECUTABLE, INCLUDE, "") };
	struct query_filter exc[] = { F(GRANDPARENT_EXECUTABLE, EXCLUDE, "/x") };
	struct query_filter inc_x[] = { F(GRANDPARENT_EXECUTABLE, INCLUDE, "/x") };
	struct query_distinct_req dr = { .sel = { QUERY_DIM_GRANDPARENT_EXECUTABLE } };
	struct query_result *res;
	struct query_db *db;
	size_t cap = 0;

	if (!f || getdelim(&sql, &cap, '\0', f) < 0)
		abort();
	fclose(f);
	exec(path, sql);
	free(sql);
	if (!ok(query_open(path, NULL, &db, err, sizeof(err)) == 0, "a database of schema 10 is read")) {
		printf("# %s\n", err);
		return;
	}
	is_int(query_schema_version(db), 10, "  as version 10");
	is_str(totals(db, QUERY_DIM_GRANDPARENT_EXECUTABLE, all_time(), NULL, 0), "=3/4/1", "  its grandparents are empty");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, all_time(), inc, 1), "/usr/bin/curl=3/4/1", "  and match the empty filter");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, all_time(), exc, 1), "/usr/bin/curl=3/4/1", "  and are kept by an exclusion");
	is_str(totals(db, QUERY_DIM_EXECUTABLE, all_time(), inc_x, 1), "", "  and match no other");
	query_distinct(db, &dr, &res, err, sizeof(err));
	is_str(render(res, false), "", "  distinct grandparents: the empty one");
	is_int(res->n_rows, 1, "  (one)");
	query_result_free(res);
	query_close(db);
	free(path);
}

/* The monitor writing while we read: WAL readers are not blocked. */
static void test_concurrent(const char *path)
{
	struct query_db *db;
	struct store *s;
	sqlite3 *w;
	struct conn_row r = net(mk(2000, 1024, 1, 0, 5, 6), 1000, 1, 1, "192.168.1.2", "203.0.113.5", "", 2, 6, HOSTNS);
	struct timespec t0, t1;
	double ms;

	query_open(path, NULL, &db, err, sizeof(err));
	sqlite3_open(path, &w);
	sqlite3_busy_timeout(w, 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(sqlite3_exec(w, "BEGIN IMMEDIATE; INSERT INTO connections SELECT NULL, 3000, exe_id, parent_id, uid, family,"
			   " protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, 4096, 0, 1, grandparent_id"
			   " FROM connections LIMIT 1", NULL, NULL, NULL) == SQLITE_OK,
	   "another connection holds an open write transaction");
	is_str(totals(db, QUERY_DIM_USER, (struct query_window){ .from = 1240, .has_from = true }, NULL, 0), "1000=768/7680/2",
	       "  a query still works, and sees what was committed");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	ok(ms < 250, "  without waiting");
	sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(w);
	if (store_sqlite_open(path, &s, err, sizeof(err)) == 0) {
		store_write(s, &r, 1);
		is_str(totals(db, QUERY_DIM_TIME, (struct query_window){ .from = 1241, .has_from = true }, NULL, 0),
		       "2000=1024/10240/1", "rows the monitor commits are seen by the next query");
		store_close(s);
	}
	query_close(db);
}

/* A database not in WAL mode (the monitor always sets WAL; an old copy or a
 * hand-made one may not be): a writer's exclusive lock makes reads fail
 * with -EBUSY after the busy timeout, not hang. */
static void test_busy(const char *main_db)
{
	char *path = path_of("rollback.db");
	struct query_options opt = { .busy_timeout_ms = 100 };
	struct query_db *db = NULL;
	struct query_totals_req req = { .sel = { QUERY_DIM_EXECUTABLE } };
	struct query_result *res;
	struct timespec t0, t1;
	sqlite3 *w;
	int r;

	copy_file(main_db, path);
	exec(path, "PRAGMA journal_mode = DELETE");
	query_open(path, &opt, &db, err, sizeof(err));
	sqlite3_open(path, &w);
	sqlite3_exec(w, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = db ? query_totals(db, &req, &res, err, sizeof(err)) : -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	is_int(r, -EBUSY, "a database locked by a writer: -EBUSY");
	ok(strstr(err, "busy") != NULL, "  with a message saying so");
	ok(t1.tv_sec - t0.tv_sec < 2, "  after the busy timeout, not a hang");
	query_close(db);
	is_int(query_open(path, &opt, &db, err, sizeof(err)), -EBUSY, "  opening it too");
	sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(w);
	free(path);
}

static struct query_db *interrupt_db;

static const char *interrupting_country(void *ctx, const char *address)
{
	query_interrupt(interrupt_db);
	return "ZZ";
}

static void test_interrupt(const char *path)
{
	struct query_options opt = { .country_of = interrupting_country };
	struct query_filter f[] = { F(COUNTRY, INCLUDE, "ZZ") };

	if (query_open(path, &opt, &interrupt_db, err, sizeof(err)) < 0)
		return;
	ok(!totals(interrupt_db, QUERY_DIM_EXECUTABLE, all_time(), f, 1), "an interrupted query stops");
	ok(strstr(err, "interrupted") != NULL, "  saying so");
	is_str(totals(interrupt_db, QUERY_DIM_USER, all_time(), NULL, 0), "-1=16/160/1, 0=68/680/2, 1000=803/8030/6, 1001=136/1360/5",
	       "  and the next one runs");
	query_close(interrupt_db);
}

static void test_names(void)
{
	enum query_dim d;
	bool all = true;

	for (int i = 0; i < QUERY_DIM__COUNT; i++)
		all &= query_dim_from_name(query_dim_name(i), &d) == 0 && (int)d == i;
	ok(all, "every dimension has a name that maps back to it");
	is_str(query_dim_name(QUERY_DIM_PARENT_SHA256), "parent_sha256", "names are the stable ones");
	is_str(query_dim_name(QUERY_DIM_GRANDPARENT_EXECUTABLE), "grandparent_executable", "  (grandparent)");
	is_int(query_dim_from_name("Executable", &d), -EINVAL, "names are exact");
	ok(query_dim_name(QUERY_DIM__COUNT) == NULL, "no name out of range");
	ok(query_dim_is_numeric(QUERY_DIM_REMOTE_PORT) && !query_dim_is_numeric(QUERY_DIM_PROTOCOL),
	   "ports are numeric, protocols are not");
}

/* ---- rollups (schema 12): the same answers as from the rows ---- */

#define DAY 86400
/* 2024-01-25 00:00 UTC: 80 days over the ends of January, February (a
 * leap year), March */
#define R_START 1706140800LL
#define R_DAYS 80

static uint64_t rstate = 42;

static uint64_t rnd(void)
{
	uint64_t z = (rstate += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A day's rows: a few at its very first and last second, the rest
 * anywhere in it; some days have none (the monitor was off). */
static size_t day_rows(int64_t day, struct conn_row *rows, size_t max)
{
	static const char *const raddrs[] = { "203.0.113.5", "198.51.100.7", "2001:db8::1", "" };
	static const char *const domains[] = { "example.com", "", "ipv6.example.org" };
	size_t n = 0;

	if ((day - R_START) / DAY % 9 == 4)
		return 0;
	for (; n < max && n < 12 + rnd() % 20; n++) {
		int64_t t = n == 0 ? day : n == 1 ? day + DAY - 1 : day + (int64_t)(rnd() % DAY);
		int fam = rnd() % 5 == 0 ? 10 : rnd() % 7 == 0 ? 17 : 2;

		rows[n] = net(mk(t, 1 + rnd() % 100000, rnd() % 4, (int)(rnd() % 5), 5 + (int)(rnd() % 2),
				 rnd() % 3 ? 6 : 4),
			      1000 + (int64_t)(rnd() % 3), 40000 + (int64_t)(rnd() % 50), rnd() % 2 ? 443 : 53,
			      rnd() % 2 ? "192.168.1.2" : "fd00::2", raddrs[rnd() % 4], domains[rnd() % 3], fam,
			      fam == 17 ? 0x88b5 : rnd() % 2 ? 6 : 17, rnd() % 4 ? HOSTNS : CTNS);
		rows[n].received = rnd() % 1000000;
	}
	return n;
}

/* Rows for R_DAYS days, through the monitor's writer, one batch a day. */
static void make_rollup_db(const char *path)
{
	struct conn_row rows[64];
	struct store *s;

	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0)
		abort();
	for (int d = 0; d < R_DAYS; d++) {
		size_t n = day_rows(R_START + d * DAY, rows, 64);

		if (n && store_write(s, rows, n) < 0)
			abort();
	}
	store_close(s);
}

/* Bring the rollups up to `now`: the number of steps. */
static int roll(const char *path, int64_t now)
{
	struct store *s;
	int n = 0, r;

	if (store_sqlite_open(path, &s, err, sizeof(err)) < 0)
		return -1;
	while ((r = store_rollup(s, now)) > 0 && n < 100000)
		n++;
	store_close(s);
	return r < 0 ? r : n;
}

static bool same_result(const struct query_result *a, const struct query_result *b, bool sums)
{
	if (!a || !b || a->n_rows != b->n_rows || a->n_groups != b->n_groups)
		return false;
	if (sums && (a->sent != b->sent || a->received != b->received || a->flows != b->flows))
		return false;
	for (size_t i = 0; i < a->n_rows; i++) {
		const struct query_row *x = &a->rows[i], *y = &b->rows[i];

		if (x->value.len != y->value.len || memcmp(x->value.text, y->value.text, x->value.len) ||
		    x->value.num != y->value.num || x->sent != y->sent || x->received != y->received ||
		    x->flows != y->flows)
			return false;
	}
	return true;
}

static bool same_series(const struct query_series *a, const struct query_series *b)
{
	if (!a || !b || a->n_lines != b->n_lines || a->n_buckets != b->n_buckets || a->from != b->from ||
	    a->to != b->to || a->align_start != b->align_start || a->align_len != b->align_len)
		return false;
	for (size_t i = 0; i < a->n_lines; i++) {
		const struct query_line *x = &a->lines[i], *y = &b->lines[i];

		if (x->other != y->other || x->value.len != y->value.len ||
		    memcmp(x->value.text, y->value.text, x->value.len) || x->sent != y->sent ||
		    x->received != y->received ||
		    memcmp(x->points, y->points, a->n_buckets * sizeof(*x->points)))
			return false;
	}
	return true;
}

/* Every dimension's totals (all rows, and a page by bytes), distinct
 * values and series (aligned and not, with and without other), read
 * through the rollups and from the rows only: the same, bit for bit. */
static const struct query_filter *agree_filters;	/* with these filters */
static size_t agree_n_filters;

static bool agree_rolled(struct query_db *rolled, struct query_db *rows, struct query_window w,
			 const char **what)
{
	const struct query_filter *F = agree_filters;
	size_t NF = agree_n_filters;

	for (int d = 0; d < LOCAL_DIMS; d++) {
		struct query_totals_req t = { .sel = { d, w, F, NF }, .sort = QUERY_SORT_VALUE,
					      .ascending = true };
		struct query_distinct_req dr = { .sel = { d, w, F, NF }, .limit = 3, .offset = 1 };
		struct query_result *ra = NULL, *rb = NULL;
		bool same;

		if (d == QUERY_DIM_COUNTRY || d == QUERY_DIM_ASN)
			continue;
		for (int pass = 0; pass < 3; pass++) {
			if (pass == 1)
				t = (struct query_totals_req){ .sel = { d, w, F, NF }, .sort = QUERY_SORT_TOTAL,
							       .limit = 2, .offset = 1 };
			if (pass < 2) {
				query_totals(rolled, &t, &ra, err, sizeof(err));
				query_totals(rows, &t, &rb, err, sizeof(err));
			} else {
				query_distinct(rolled, &dr, &ra, err, sizeof(err));
				query_distinct(rows, &dr, &rb, err, sizeof(err));
			}
			same = same_result(ra, rb, pass < 2);
			query_result_free(ra);
			query_result_free(rb);
			ra = rb = NULL;
			if (!same) {
				*what = pass == 2 ? "distinct" : "totals";
				printf("#   %s of %s differ\n", *what, query_dim_name(d));
				return false;
			}
		}
		/* pages in every order (by time: picked as the units are read) */
		for (int pass = 0; pass < 8; pass++) {
			struct query_totals_req tp = { .sel = { d, w, F, NF }, .sort = (enum query_sort)(pass % 4),
						       .ascending = pass >= 4, .limit = 1 + pass % 3,
						       .offset = (size_t)pass / 2 };

			query_totals(rolled, &tp, &ra, err, sizeof(err));
			query_totals(rows, &tp, &rb, err, sizeof(err));
			same = same_result(ra, rb, true);
			query_result_free(ra);
			query_result_free(rb);
			ra = rb = NULL;
			if (!same) {
				*what = "totals";
				printf("#   a page of totals of %s (pass %d) differs\n", query_dim_name(d), pass);
				return false;
			}
		}
		/* pass 4: 12 aligned buckets, 7 days long over 80 days (an
		 * executable's weeks, schema 20) */
		for (int pass = 0; pass < 5; pass++) {
			struct query_series_req sr = { .sel = { d, w, F, NF }, .top = pass == 3 ? 1 : 2,
						       .buckets = pass == 4 ? 12 : pass & 1 ? 7 : 40,
						       .other = pass < 2 || pass == 4,
						       .align = pass % 2 == 0 };
			struct query_series *sa = NULL, *sb = NULL;
			int x = query_series(rolled, &sr, &sa, err, sizeof(err));
			int y = query_series(rows, &sr, &sb, err, sizeof(err));

			same = x == y && (x < 0 || same_series(sa, sb));
			query_series_free(sa);
			query_series_free(sb);
			if (!same) {
				*what = "series";
				printf("#   series of %s (pass %d) differ: %d %d\n", query_dim_name(d), pass, x, y);
				return false;
			}
		}
	}
	return true;
}

static int64_t coverage(const char *path, int which)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (sqlite3_prepare_v2(db, "SELECT complete_from, complete_until FROM rollup_state", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, which);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static void test_rollups(void)
{
	char *path = path_of("rollups.db");
	struct query_options raw_opt = { .no_rollups = true };
	struct query_db *rolled, *rows;
	const char *what = "";
	int64_t end = R_START + R_DAYS * DAY;
	struct query_window fixed[] = {
		all_time(),
		win(R_START, end),
		win(R_START + 7 * DAY, R_START + 7 * DAY + 1),		/* a day's first second */
		win(R_START + 7 * DAY - 1, R_START + 8 * DAY + 1),	/* a day and its neighbours' edges */
		win(1706745600, 1709251200),				/* February 2024 exactly */
		win(1706745599, 1709251201),				/* and a second more each side */
		win(1706745600 + 43200, 1711929600 - 43200),		/* mid-month to mid-month */
		{ .from = 1709251200, .has_from = true },		/* from March 1st, open */
		{ .to = 1709251200 + 5000, .has_to = true },		/* until March 1st 01:23 */
		win(end - 3 * DAY, end + 5 * DAY),			/* past what the rollups cover */
		win(R_START - 10 * DAY, R_START + 2 * DAY),		/* before the first entry */
	};
	char name[160];
	int steps, n_ok = 0;

	make_rollup_db(path);
	/* the day being lived on (the last) is not summed: nor the empty
	 * days after it */
	steps = roll(path, end + DAY / 2);
	ok(steps > 60 && steps < R_DAYS + 5, "the rollups are built one day at a time");
	is_int(coverage(path, 1), end, "  and cover every day that has ended");
	if (query_open(path, NULL, &rolled, err, sizeof(err)) < 0 ||
	    query_open(path, &raw_opt, &rows, err, sizeof(err)) < 0) {
		ok(0, err);
		return;
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		snprintf(name, sizeof(name), "window %zu: every dimension, kind and order the same through the "
			 "rollups as from the rows", i);
		if (!ok(agree_rolled(rolled, rows, fixed[i], &what), name))
			printf("#   (%s) [%lld, %lld)\n", what, (long long)fixed[i].from, (long long)fixed[i].to);
	}
	for (int i = 0; i < 60; i++) {
		int64_t a = R_START - 3 * DAY + (int64_t)(rnd() % ((R_DAYS + 6) * DAY));
		int64_t b = a + 1 + (int64_t)(rnd() % (i < 30 ? 40 * DAY : 3 * DAY));
		struct query_window w = win(a, b);

		/* half of them on day boundaries */
		if (i % 2) {
			w.from -= ((w.from % DAY) + DAY) % DAY;
			w.to -= ((w.to % DAY) + DAY) % DAY;
		}
		if (agree_rolled(rolled, rows, w, &what))
			n_ok++;
		else
			printf("# random window [%lld, %lld): %s differ\n", (long long)w.from, (long long)w.to, what);
	}
	is_int(n_ok, 60, "60 random windows: the same through the rollups as from the rows");
	is_str(totals(rolled, QUERY_DIM_USER, win(R_START + 7 * DAY, R_START + 7 * DAY + 1), NULL, 0),
	       totals(rows, QUERY_DIM_USER, win(R_START + 7 * DAY, R_START + 7 * DAY + 1), NULL, 0),
	       "  (a one-second window)");

	/* exact sums, from a blob made by hand: the rollups are read */
	{
		static char want[16384];

		snprintf(want, sizeof(want), "%s", totals(rows, QUERY_DIM_TIME, win(1706745600, 1709251200), NULL, 0));
		ok(strlen(want) > 100, "February's entries, from the rows");
		exec(path, "UPDATE rollups SET data = X'01' || substr(data, 2) WHERE grain = 2 AND dim = 12 AND "
			   "start = 1706745600");
		is_str(totals(rolled, QUERY_DIM_TIME, win(1706745600, 1709251200), NULL, 0), want,
		       "  the same through the unit of February (unchanged)");
		/* February's month unit made to say: one entry at 1706745600 of
		 * 7/9/1 (key 1706745600, key2 0, sent 7, received 9, flows 1) */
		exec(path, "UPDATE rollups SET data = X'01' || X'80BEEBAD06' || X'00' || X'0E' || X'12' || X'02' "
			   "WHERE grain = 2 AND dim = 12 AND start = 1706745600");
		is_str(totals(rolled, QUERY_DIM_TIME, win(1706745600, 1709251200), NULL, 0), "1706745600=7/9/1",
		       "a window of a whole month is read from the month's unit alone");
		ok(strcmp(totals(rolled, QUERY_DIM_TIME, win(1706745600, 1709251199), NULL, 0), "1706745600=7/9/1"),
		   "  and one a second shorter is not");
		exec(path, "UPDATE rollups SET data = X'01FFFF' WHERE grain = 2 AND dim = 12 AND start = 1706745600");
		is_str(totals(rolled, QUERY_DIM_TIME, win(1706745600, 1709251200), NULL, 0), want,
		       "a unit that cannot be read: the rows are read instead");
	}
	/* week units (schema 13): 7 days from a multiple of 7 days since the
	 * epoch; 1707955200 is 2024-02-15, a Thursday */
	{
		static char want[16384];
		struct query_totals_req tp = { .sel = { QUERY_DIM_TIME, win(1707955200 - 2 * DAY - 100,
									 1707955200 + 10 * DAY + 50) },
					       .sort = QUERY_SORT_SENT, .ascending = true, .limit = 3 };
		struct query_result *ra = NULL, *rb = NULL;

		ok(sql_int(path, "SELECT count(*) FROM rollups WHERE grain = 3 AND dim = 12") >= 10,
		   "the rollups have week units");
		snprintf(want, sizeof(want), "%s", totals(rows, QUERY_DIM_TIME, win(1707955200, 1707955200 + 7 * DAY), NULL, 0));
		is_str(totals(rolled, QUERY_DIM_TIME, win(1707955200, 1707955200 + 7 * DAY), NULL, 0), want,
		       "  a week's entries, the same through its unit");
		exec(path, "UPDATE rollups SET data = X'01' || X'80A8B5AE06' || X'00' || X'0E' || X'12' || X'02' "
			   "WHERE grain = 3 AND dim = 12 AND start = 1707955200");
		is_str(totals(rolled, QUERY_DIM_TIME, win(1707955200, 1707955200 + 7 * DAY), NULL, 0), "1707955200=7/9/1",
		       "  a window of a whole week is read from the week's unit");
		/* a page of totals by time whose unit has its keys out of order:
		 * read the usual way, the same as through the hash of the keys */
		exec(path, "UPDATE rollups SET data = X'01' || X'8AA8B5AE06' || X'00' || X'0E' || X'12' || X'02' "
			   "|| X'FBFFFFFFFFFFFFFFFF01' || X'00' || X'10' || X'12' || X'02' "
			   "WHERE grain = 3 AND dim = 12 AND start = 1707955200");
		is_str(totals(rolled, QUERY_DIM_TIME, win(1707955200, 1707955200 + 7 * DAY), NULL, 0),
		       "1707955205=8/9/1, 1707955210=7/9/1", "  (keys out of order are summed all the same)");
		query_totals(rolled, &tp, &ra, err, sizeof(err));
		query_totals(rows, &tp, &rb, err, sizeof(err));
		ok(ra && ra->n_rows == 3 && ra->rows[0].value.num == 1707955210 && ra->rows[0].sent == 7 &&
			   ra->rows[1].value.num == 1707955205 && ra->rows[1].sent == 8 && rb &&
			   rb->rows[0].sent > 8,
		   "  and in a page by bytes");
		query_result_free(ra);
		query_result_free(rb);
	}
	query_close(rolled);
	query_close(rows);

	/* a month unit the logger rebuilds: the tampered one goes when its
	 * month is summed again (a row inserted into February by hand) */
	exec(path, "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport,"
		   " laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id)"
		   " SELECT 1707000000, exe_id, parent_id, 4242, family, protocol, lport, rport, laddr_id, raddr_id,"
		   " domain_id, netns, 5, 6, 1, grandparent_id FROM connections LIMIT 1");
	is_int(coverage(path, 1), 1707000000, "a row inserted by hand into a covered day ends the coverage there");
	query_open(path, NULL, &rolled, err, sizeof(err));
	query_open(path, &raw_opt, &rows, err, sizeof(err));
	ok(agree_rolled(rolled, rows, all_time(), &what) &&
		   agree_rolled(rolled, rows, win(1706745600, 1709251200), &what),
	   "  and the answers stay those of the rows");
	steps = roll(path, end + DAY / 2);
	if (!ok(steps > 55 && steps < 80, "the logger sums the days from there again"))
		printf("#   %d steps\n", steps);
	is_int(coverage(path, 1), end, "  up to where it was");
	ok(agree_rolled(rolled, rows, all_time(), &what) &&
		   agree_rolled(rolled, rows, win(1706745600, 1709251200), &what) &&
		   agree_rolled(rolled, rows, win(1706745600 + 5, 1711929600 - 5), &what),
	   "  with the same answers as the rows");
	is_str(totals(rolled, QUERY_DIM_USER, win(1706745600, 1709251200), (struct query_filter[]){ F(USER, INCLUDE, "4242") }, 1),
	       "4242=5/6/1", "  the row among them");
	{
		struct query_totals_req t = { .sel = { QUERY_DIM_USER, win(1706745600, 1709251200) } };
		struct query_result *res;
		bool found = false;

		query_totals(rolled, &t, &res, err, sizeof(err));
		for (size_t i = 0; res && i < res->n_rows; i++)
			found |= res->rows[i].value.num == 4242 && res->rows[i].sent == 5;
		ok(found, "  (also without a filter, from the month's unit)");
		query_result_free(res);
	}

	/* deleting and changing rows by hand, then pruning */
	exec(path, "DELETE FROM connections WHERE time = 1707000000");
	is_int(coverage(path, 1), 1707000000, "deleting a covered row ends the coverage there too");
	roll(path, end + DAY / 2);
	exec(path, "UPDATE connections SET sent = sent + 1 WHERE id = (SELECT min(id) FROM connections WHERE time >= 1709251200)");
	ok(coverage(path, 1) >= 1709251200 && coverage(path, 1) < 1709251200 + DAY, "  and so does changing one");
	roll(path, end + DAY / 2);
	ok(agree_rolled(rolled, rows, all_time(), &what), "  with the answers of the rows after both");
	{
		struct store *s;

		store_sqlite_open(path, &s, err, sizeof(err));
		is_int(store_prune(s, 1706745600 + 3600), 0, "pruning before February 1st 01:00");
		store_close(s);
	}
	is_int(coverage(path, 0), 1706745600 + DAY, "  the rollups cover from the next whole day");
	ok(agree_rolled(rolled, rows, all_time(), &what) &&
		   agree_rolled(rolled, rows, win(1706745600, 1709251200), &what),
	   "  and the answers are those of the rows left (February as days, not as a month)");
	query_close(rolled);
	query_close(rows);
	free(path);
}

/* Totals by time, a page of them (read in chunks of days over more than
 * four days) against all of them (read at once), sliced. */
static bool time_page_agrees(struct query_db *db, struct query_window w, const struct query_filter *f,
			     size_t nf)
{
	static const struct {
		enum query_sort sort;
		bool ascending;
		size_t limit, offset;
	} pages[] = { { QUERY_SORT_TOTAL, false, 3, 1 }, { QUERY_SORT_VALUE, true, 4, 2 },
		      { QUERY_SORT_RECEIVED, true, 5, 0 } };

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		struct query_totals_req page = { .sel = { QUERY_DIM_TIME, w, f, nf }, .sort = pages[i].sort,
						 .ascending = pages[i].ascending, .limit = pages[i].limit,
						 .offset = pages[i].offset };
		struct query_totals_req all = page;
		struct query_result *a = NULL, *b = NULL;
		int x, y;
		bool same;

		all.limit = all.offset = 0;
		x = query_totals(db, &page, &a, err, sizeof(err));
		y = query_totals(db, &all, &b, err, sizeof(err));
		same = x == y;
		if (x == 0 && y == 0) {
			size_t n = b->n_rows > page.offset ? b->n_rows - page.offset : 0;

			if (n > page.limit)
				n = page.limit;
			same = a->n_rows == n && a->n_groups == b->n_groups && a->sent == b->sent &&
			       a->received == b->received && a->flows == b->flows;
			for (size_t r = 0; same && r < n; r++) {
				const struct query_row *p = &a->rows[r], *q = &b->rows[page.offset + r];

				same = p->value.num == q->value.num && p->sent == q->sent &&
				       p->received == q->received && p->flows == q->flows;
			}
		}
		query_result_free(a);
		query_result_free(b);
		if (!same)
			return false;
	}
	return true;
}

/* The totals by dim of curl over the 80 days after the SQL fmt (its %s
 * the executable's id, ex) changed the copy that db reads. */
static const char *totals_after(struct query_db *db, const char *copy, enum query_dim dim,
				const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static const char *totals_after(struct query_db *db, const char *copy, enum query_dim dim,
				const char *fmt, ...)
{
	static const struct query_filter curl[] = { F(EXECUTABLE, INCLUDE, CURL) };
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	exec(copy, sql);
	return totals(db, dim, win(R_START, R_START + R_DAYS * DAY), curl, 1);
}

/* Whether a series answers, and the same bit for bit, from both handles;
 * *how (not NULL) the path the first took (unchanged if it failed). */
static bool series_agree(struct query_db *a, struct query_db *b, const struct query_series_req *sr,
			 int *how)
{
	struct query_series *sa = NULL, *sb = NULL;
	int x = query_series(a, sr, &sa, err, sizeof(err));
	int y = query_series(b, sr, &sb, err, sizeof(err));
	bool same = x == 0 && y == 0 && same_series(sa, sb);

	if (x == 0 && how)
		*how = (int)sa->how;
	query_series_free(sa);
	query_series_free(sb);
	return same;
}

/* A series by dim of 80 days over [R_START, +80 days), rendered with the
 * path it took: its lines' values, sums and points. */
static const char *series_text(struct query_db *db, enum query_dim dim, size_t buckets, size_t top)
{
	struct query_series_req req = { .sel = { dim, win(R_START, R_START + R_DAYS * DAY) },
					.top = top, .buckets = buckets, .other = true };
	struct query_series *s;
	static char out[65536];
	size_t n;

	if (query_series(db, &req, &s, err, sizeof(err)) < 0)
		return err;
	n = (size_t)snprintf(out, sizeof(out), "how %d:", (int)s->how);
	for (size_t i = 0; i < s->n_lines && n < sizeof(out); i++) {
		n += (size_t)snprintf(out + n, sizeof(out) - n, " [%.*s%s %lld/%lld", (int)s->lines[i].value.len,
				      s->lines[i].value.text, s->lines[i].other ? "(other)" : "",
				      (long long)s->lines[i].sent, (long long)s->lines[i].received);
		for (size_t b = 0; b < s->n_buckets && n < sizeof(out); b++)
			n += (size_t)snprintf(out + n, sizeof(out) - n, " %lld/%lld",
					      (long long)s->lines[i].points[b].sent,
					      (long long)s->lines[i].points[b].received);
		if (n < sizeof(out))
			n += (size_t)snprintf(out + n, sizeof(out) - n, "]");
	}
	query_series_free(s);
	return out;
}

/* ---- executable days (schema 14): filtered queries, the same as from the rows ---- */

static void test_exe_days(void)
{
	char *path = path_of("exe-days.db"), *copy = path_of("exe-days-copy.db");
	int calls = 0;
	struct query_options opt = { .country_of = country_of, .country_ctx = &calls,
				     .asn_of = asn_of, .asn_ctx = &calls };
	struct query_options raw_opt = { .no_rollups = true, .country_of = country_of,
					 .country_ctx = &calls, .asn_of = asn_of,
					 .asn_ctx = &calls };
	struct query_options days_opt = { .no_exe_sums = true, .country_of = country_of,
					  .country_ctx = &calls, .asn_of = asn_of, .asn_ctx = &calls };
	struct query_db *rolled, *rows, *days;
	const char *what = "";
	int64_t end = R_START + R_DAYS * DAY;
	static const struct query_filter sets[][4] = {
		{ F(EXECUTABLE, INCLUDE, CURL) },
		{ F(EXECUTABLE, INCLUDE, CURL), F(EXECUTABLE, INCLUDE, FOX) },
		{ F(NAME, INCLUDE, "curl"), F(SHA256, EXCLUDE, "aaa") },
		{ F(EXECUTABLE, INCLUDE, FOX), F(EXECUTABLE, INCLUDE, EVIL), F(SERVICE, EXCLUDE, "x") },
		{ F(EXECUTABLE, INCLUDE, CURL), F(DOMAIN, EXCLUDE, "") },
		{ F(NAME, INCLUDE, "curl"), F(REMOTE_PORT, INCLUDE, "443") },
		{ F(EXECUTABLE, INCLUDE, FOX), F(EXECUTABLE, INCLUDE, EVIL), F(PROTOCOL, INCLUDE, "tcp"),
		  F(PROTOCOL, INCLUDE, "") },
		{ F(SHA256, INCLUDE, "aaa"), F(GRANDPARENT_EXECUTABLE, INCLUDE, "") },
		{ F(EXECUTABLE, INCLUDE, CURL), F(GRANDPARENT_EXECUTABLE, EXCLUDE, SYSTEMD),
		  F(PARENT_EXECUTABLE, EXCLUDE, "") },
		{ F(EXECUTABLE, INCLUDE, CURL), F(LOCAL_ADDRESS, INCLUDE, "192.168.1.2"),
		  F(USER, EXCLUDE, "1001") },
		{ F(CMDLINE, INCLUDE, "curl -O x"), F(NETNS, INCLUDE, "4026532000"),
		  F(PARENT_NAME, INCLUDE, "bash"), F(PROTOCOL, EXCLUDE, "udp6") },
		{ F(EXECUTABLE, INCLUDE, CURL), F(REMOTE_ADDRESS, INCLUDE, ""), F(DOMAIN, INCLUDE, "") },
		{ F(EXECUTABLE, INCLUDE, EVIL), F(COUNTRY, INCLUDE, "ZZ"), F(COUNTRY, INCLUDE, "") },
		{ F(EXECUTABLE, INCLUDE, CURL), F(COUNTRY, EXCLUDE, "XA"), F(TIME, EXCLUDE, "1706745600") },
		{ F(EXECUTABLE, INCLUDE, "/nowhere") },
		{ F(EXECUTABLE, INCLUDE, ""), F(EXECUTABLE, INCLUDE, CURL) },
		{ F(EXECUTABLE, EXCLUDE, CURL), F(DOMAIN, EXCLUDE, "") },
	};
	static const size_t n_set[] = { 1, 2, 2, 3, 2, 2, 4, 2, 3, 3, 4, 3, 3, 3, 1, 2, 2 };
	struct query_window windows[] = {
		all_time(),
		win(R_START, end),
		win(1706745600 + 43200, 1711929600 - 43200),		/* mid-month to mid-month */
		win(R_START + 7 * DAY - 1, R_START + 8 * DAY + 1),	/* a day and its neighbours' edges */
		win(R_START + 7 * DAY, R_START + 7 * DAY + 1),		/* a day's first second */
		{ .from = 1709251200, .has_from = true },		/* from March 1st, open */
		win(end - 3 * DAY, end + 5 * DAY),			/* past what the rollups cover */
	};
	char name[256];
	int n_ok = 0, n_all = 0;

	make_rollup_db(path);
	/* rows only plain SQL writes: no grandparent (schema 10's), ids
	 * without their row, a column that is not a number (an edited file) */
	exec(path, "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport, "
		   "laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id) "
		   "SELECT time + 1, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id, "
		   "raddr_id, domain_id, netns, sent + 3, received, flows, NULL FROM connections "
		   "WHERE id % 5 = 0 AND (time + 1) % 86400 != 0;"
		   "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport, "
		   "laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id) "
		   "SELECT time + 2, exe_id, 4242, uid, family, protocol, lport, rport, laddr_id, "
		   "999, 998, netns, sent + 5, received, flows, grandparent_id FROM connections "
		   "WHERE id % 7 = 0 AND (time + 2) % 86400 > 1;"
		   /* curl's busy days: parts too long for the day's row */
		   "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport, "
		   "laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id) "
		   "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 239) "
		   "SELECT 1706140800 + (5 + i / 80) * 86400 + 600 + (i % 80) * 37, c.exe_id, "
		   "c.parent_id, c.uid, c.family, c.protocol, 30000 + i, 1000 + i % 80, c.laddr_id, "
		   "c.raddr_id, c.domain_id, c.netns, 7 + i, 11 * i, 1, c.grandparent_id FROM n, "
		   "(SELECT * FROM connections WHERE exe_id = (SELECT id FROM executables WHERE path = '"
		   CURL "') LIMIT 1) c;"
		   /* curl's many users: keys on more pages than the dense
		    * tables may take (AGG_DENSE_MAX_PAGES), so that some
		    * go to the hash, and keys past them */
		   "INSERT INTO connections(time, exe_id, parent_id, uid, family, protocol, lport, rport, "
		   "laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id) "
		   "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 299) "
		   "SELECT 1706140800 + 12 * 86400 + 900 + i * 11, c.exe_id, c.parent_id, "
		   "CASE WHEN i < 290 THEN i * 1024 + i % 7 ELSE 4194300 + i END, c.family, c.protocol, "
		   "c.lport, c.rport, c.laddr_id, c.raddr_id, c.domain_id, c.netns, 3 + i, 5 * i, i % 3, "
		   "c.grandparent_id FROM n, (SELECT * FROM connections WHERE exe_id = (SELECT id FROM "
		   "executables WHERE path = '" CURL "') LIMIT 1) c;"
		   "UPDATE connections SET uid = 'odd' WHERE id = (SELECT min(id) FROM connections WHERE "
		   "time >= 1706140800 + 20 * 86400);"
		   "UPDATE connections SET exe_id = 'zz' WHERE id = (SELECT min(id) FROM connections WHERE "
		   "time >= 1706140800 + 30 * 86400);");
	ok(roll(path, end + DAY / 2) > 60, "executable days: built with the rollups");
	ok(sql_int(path, "SELECT count(*) FROM exe_days") > 200 &&
		   sql_int(path, "SELECT count(*) FROM exe_days WHERE data = X'03'") == 1,
	   "  one per executable and day with entries, one of them to be read as entries");
	is_int(sql_int(path, "SELECT count(*) FROM exe_sums s JOIN exe_days d USING (exe_id, day) "
			     "WHERE s.dim = 0"),
	       sql_int(path, "SELECT count(*) FROM exe_days"),
	       "  and the executables' sums of the same days");
	is_int(sql_int(path, "SELECT count(*) FROM exe_sums WHERE dim > 0 AND dim < 16 AND exe_id IN "
			     "(SELECT id FROM executables WHERE path = '" CURL "')"),
	       3 * 3 + 2, "  curl's busy days have their long parts (local and remote ports, times; "
			  "users and times on its day of many users) in rows of their own");
	is_int(sql_int(path, "SELECT count(*) FROM exe_sums WHERE data = X'03' AND dim = 0"), 1,
	       "  one of them to be read as entries");
	/* schema 20: the 11 weeks lying whole in the 80 days (R_START is a
	 * week's start, a multiple of 604800) */
	is_int(sql_int(path, "SELECT count(*) FROM exe_sums WHERE dim = 16"),
	       sql_int(path, "SELECT count(DISTINCT exe_id || ' ' || (day / 604800)) FROM exe_days "
			     "WHERE day >= 1706140800 AND day < 1706140800 + 11 * 604800"),
	       "  a week's row per executable and whole week with an executable day in it");
	is_int(sql_int(path, "SELECT count(*) FROM exe_sums WHERE dim = 16 AND data = X'03'"), 1,
	       "  the week of the day read as entries is read so too");
	{
		/* curl's first week (its busy days 5 and 6): its local ports
		 * in a row of their own, each with the sums of its entries */
		static const char where[] = " FROM connections WHERE exe_id = (SELECT id FROM executables "
					    "WHERE path = '" CURL "') AND time >= 1706140800 AND time < "
					    "1706140800 + 604800";
		char sql[512];
		sqlite3 *db;
		sqlite3_stmt *st;
		struct rollup_reader rd;
		struct rollup_entry e;
		int64_t keys = 0, sent = 0, received = 0;

		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "SELECT data FROM exe_sums WHERE day = 1706140800 AND dim = 16 + 5 "
				       "AND exe_id = (SELECT id FROM executables WHERE path = '" CURL "')",
				       -1, &st, NULL) != SQLITE_OK)
			abort();
		if (sqlite3_step(st) == SQLITE_ROW &&
		    rollup_reader_init(&rd, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)))
			while (rollup_next(&rd, &e) == 1) {
				keys++;
				sent += e.sent;
				received += e.received;
			}
		sqlite3_finalize(st);
		sqlite3_close(db);
		snprintf(sql, sizeof(sql), "SELECT count(DISTINCT lport) * 1000000 + sum(sent) %s", where);
		is_int(keys * 1000000 + sent, sql_int(path, sql),
		       "  curl's busy week has its local ports in a row of their own, each with its sums");
		snprintf(sql, sizeof(sql), "SELECT sum(received) %s", where);
		is_int(received, sql_int(path, sql), "  received too");
		ok(keys > 160, "  (more than the busy days' 160)");
	}
	if (query_open(path, &opt, &rolled, err, sizeof(err)) < 0 ||
	    query_open(path, &raw_opt, &rows, err, sizeof(err)) < 0 ||
	    query_open(path, &days_opt, &days, err, sizeof(err)) < 0) {
		ok(0, err);
		return;
	}
	for (size_t f = 0; f < sizeof(sets) / sizeof(sets[0]); f++) {
		bool all = true;

		agree_filters = sets[f];
		agree_n_filters = n_set[f];
		for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
			if (!agree_rolled(rolled, rows, windows[i], &what)) {
				printf("#   filters %zu, window %zu: %s differ\n", f, i, what);
				all = false;
			}
			if (!time_page_agrees(rolled, windows[i], sets[f], n_set[f]) ||
			    !time_page_agrees(rows, windows[i], sets[f], n_set[f])) {
				printf("#   filters %zu, window %zu: a page of totals by time differs\n", f, i);
				all = false;
			}
			/* and without the executables' sums (executable days only) */
			if (!agree_rolled(days, rows, windows[i], &what)) {
				printf("#   filters %zu, window %zu, without sums: %s differ\n", f, i,
				       what);
				all = false;
			}
		}
		for (int i = 0; i < 2; i++) {
			int64_t a = R_START - 3 * DAY + (int64_t)(rnd() % ((R_DAYS + 6) * DAY));
			struct query_window w = win(a, a + 1 + (int64_t)(rnd() % (40 * DAY)));

			if (i % 2) {
				w.from -= ((w.from % DAY) + DAY) % DAY;
				w.to -= ((w.to % DAY) + DAY) % DAY;
			}
			if (!agree_rolled(rolled, rows, w, &what)) {
				printf("#   filters %zu, window [%lld, %lld): %s differ\n", f,
				       (long long)w.from, (long long)w.to, what);
				all = false;
			}
		}
		/* every dimension at once, and the first and last entry */
		for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
			enum query_dim dims[QUERY_DIM__COUNT];
			struct query_result *res[QUERY_DIM__COUNT], *one = NULL;
			struct query_totals_req t = { .sel = { 0, windows[i], sets[f], n_set[f] },
						      .sort = QUERY_SORT_TOTAL, .limit = 3 };
			int64_t first = -1, last = -1;
			int x, y;

			for (int d = 0; d < LOCAL_DIMS; d++)
				dims[d] = (enum query_dim)d;
			x = query_totals_dims(rolled, &t, dims, LOCAL_DIMS, res, err, sizeof(err));
			for (int d = 0; d < LOCAL_DIMS; d++) {
				t.sel.dim = dims[d];
				y = query_totals(rows, &t, &one, err, sizeof(err));
				if (x != y || (x == 0 && !same_result(res[d], one, true))) {
					printf("#   filters %zu, window %zu: totals of %s at once differ\n", f, i,
					       query_dim_name(dims[d]));
					all = false;
				}
				query_result_free(one);
				one = NULL;
				if (x == 0)
					query_result_free(res[d]);
			}
			t = (struct query_totals_req){ .sel = { QUERY_DIM_TIME, windows[i], sets[f], n_set[f] },
						       .sort = QUERY_SORT_VALUE, .ascending = true, .limit = 1 };
			x = query_span(rolled, &t.sel, &first, &last, err, sizeof(err));
			y = query_totals(rows, &t, &one, err, sizeof(err));
			if (y == 0 && (one->n_rows ? x != 0 || first != one->rows[0].value.num : x != -ENODATA)) {
				printf("#   filters %zu, window %zu: first entry %lld (%d)\n", f, i, (long long)first, x);
				all = false;
			}
			query_result_free(one);
			one = NULL;
			t.ascending = false;
			y = query_totals(rows, &t, &one, err, sizeof(err));
			if (y == 0 && one->n_rows && (x != 0 || last != one->rows[0].value.num)) {
				printf("#   filters %zu, window %zu: last entry %lld\n", f, i, (long long)last);
				all = false;
			}
			query_result_free(one);
		}
		n_ok += all;
		n_all++;
	}
	snprintf(name, sizeof(name), "%d filter sets over 9 windows: every dimension, kind and order the "
		 "same from executables' sums and days as from the rows, also all at once "
		 "(query_totals_dims), and the first and last entry (query_span)", n_all);
	is_int(n_ok, n_all, name);
	/* the same with helpers reading ahead (too small a file to have them
	 * unless asked for): the year, every filter set */
	{
		struct query_options any = opt;
		struct query_db *ahead;

		any.prefetch_any_size = true;
		n_ok = 0;
		if (query_open(path, &any, &ahead, err, sizeof(err)) == 0) {
			for (size_t f = 0; f < sizeof(sets) / sizeof(sets[0]); f++) {
				agree_filters = sets[f];
				agree_n_filters = n_set[f];
				n_ok += agree_rolled(ahead, rows, windows[1], &what);
			}
			query_close(ahead);
		}
		is_int(n_ok, n_all, "  and with helpers reading ahead, over the 80 days");
	}
	agree_filters = NULL;
	agree_n_filters = 0;
	query_close(rolled);
	query_close(rows);
	query_close(days);

	/* the helpers that read ahead: started for a long scan only, and
	 * stopped (interrupted) wherever they are */
	{
		static const char rows_sql[] = "SELECT day, data FROM exe_days WHERE exe_id = ?1 AND "
					       "day >= ?2 AND day < ?3";
		static const char units_sql[] = "SELECT data FROM rollups WHERE grain = 1 AND "
						"dim = 1 AND start >= ?1 AND start < ?2";
		/* one step that never ends unless interrupted */
		static const char endless_sql[] =
			"WITH RECURSIVE r(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM r WHERE ?2 < ?3) "
			"SELECT count(*), zeroblob(1) FROM r";
		static const int64_t exes[] = { 1, 2, 3 };
		struct query_options no_ahead = { .no_prefetch = true }, any = { .prefetch_any_size = true };
		struct prefetch *p;
		struct timespec t0, t1;
		struct query_db *db;

		if (query_open(path, NULL, &db, err, sizeof(err)) < 0) {
			ok(0, err);
			return;
		}
		ok(!prefetch_start(db, rows_sql, 0, exes, 3, R_START, R_START + 80 * DAY, NULL),
		   "a file under 16 MiB has no helpers reading ahead");
		query_close(db);
		if (query_open(path, &any, &db, err, sizeof(err)) < 0) {
			ok(0, err);
			return;
		}
		p = prefetch_start(db, rows_sql, 0, exes, 3, R_START, R_START + 80 * DAY, NULL);
		ok(p != NULL, "  a scan of 80 days has them when asked for in any file");
		prefetch_stop(p);
		ok(!prefetch_start(db, rows_sql, 0, exes, 3, R_START, R_START + 27 * DAY, NULL),
		   "  one of 27 days has none");
		ok(!prefetch_start(db, rows_sql, 0, exes, 0, R_START, R_START + 80 * DAY, NULL),
		   "  nor one of no executable");
		p = prefetch_slices_start(db, units_sql, R_START, R_START + 80 * DAY);
		ok(p != NULL, "  a series' day units over 80 days have helpers too");
		prefetch_stop(p);
		ok(!prefetch_slices_start(db, units_sql, R_START, R_START + 27 * DAY),
		   "  over 27 days none");
		p = prefetch_start(db, endless_sql, 0, exes, 3, R_START, R_START + 80 * DAY, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		usleep(100000);
		prefetch_stop(p);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ok(p && (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 5000,
		   "  helpers in a statement that does not end are interrupted when stopped");
		/* a window read in scans of a day or more (totals by time in
		 * chunks): the first scan's helpers read to its end, across
		 * scans */
		ok(!prefetch_scan(db, rows_sql, 0, exes, 3, R_START, R_START + DAY, NULL) && !db->ahead,
		   "  a scan of a day alone has no helpers");
		query_ahead_begin(db, R_START + 80 * DAY);
		p = prefetch_scan(db, rows_sql, 0, exes, 3, R_START, R_START + DAY, NULL);
		ok(!p && db->ahead, "  within a window of 80 days read in parts, its first day starts them");
		{
			struct prefetch *first = db->ahead;

			p = prefetch_scan(db, rows_sql, 0, exes, 3, R_START + DAY, R_START + 3 * DAY, NULL);
			ok(!p && db->ahead == first, "  and the next parts keep them");
		}
		query_ahead_end(db);
		ok(!db->ahead && !db->ahead_to, "  until the window ends");
		{
			static const char ranges_sql[] = "SELECT sent FROM connections WHERE time >= ?1 "
							 "AND time < ?2";
			int64_t ranges[8][2];

			for (int i = 0; i < 8; i++) {
				ranges[i][0] = R_START + i * DAY;
				ranges[i][1] = R_START + i * DAY + 3600;
			}
			p = prefetch_ranges_start(db, ranges_sql, (const int64_t (*)[2])ranges, 8);
			ok(p != NULL, "  the entries of 8 ranges (a long unaligned series' pieces) have helpers");
			prefetch_stop(p);
			ok(!prefetch_ranges_start(db, ranges_sql, (const int64_t (*)[2])ranges, 7),
			   "  7 have none");
		}
		query_close(db);
		if (query_open(path, &no_ahead, &db, err, sizeof(err)) < 0) {
			ok(0, err);
			return;
		}
		ok(!prefetch_start(db, rows_sql, 0, exes, 3, R_START, R_START + 80 * DAY, NULL),
		   "  and none with no_prefetch");
		{
			int64_t ranges[8][2] = { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 3, 4 },
						 { 4, 5 }, { 5, 6 }, { 6, 7 }, { 7, 8 } };

			ok(!prefetch_ranges_start(db, "SELECT 1 WHERE ?1 < ?2", (const int64_t (*)[2])ranges,
						  8),
			   "  nor for ranges");
		}
		query_close(db);
	}

	/* they are read: an executable day taken away is missing from the
	 * answer (a write that bypasses the triggers: docs/schema.md) */
	{
		static const struct query_filter curl[] = { F(EXECUTABLE, INCLUDE, CURL) };
		static char before[16384];
		struct query_db *db;

		struct query_options no_sums = { .no_exe_sums = true };
		struct query_options no_weeks = { .no_exe_weeks = true };
		const char *ex = "(SELECT id FROM executables WHERE path = '" CURL "')";

		/* the weeks' sums (schema 20): read, and a long part missing or
		 * a week's row that cannot be read is not taken for none */
		if (!(db = open_copy(path, copy, NULL)))
			return;
		snprintf(before, sizeof(before), "%s",
			 totals(db, QUERY_DIM_LOCAL_PORT, win(R_START, end), curl, 1));
		is_str(totals_after(db, copy, QUERY_DIM_LOCAL_PORT,
					 "DELETE FROM exe_sums WHERE day = 1706140800 + 5 * 86400 AND exe_id IN "
					 "%s", ex), before,
		       "  a whole week's days are not read");
		is_str(totals_after(db, copy, QUERY_DIM_LOCAL_PORT,
					 "DELETE FROM exe_sums WHERE day = 1706140800 AND dim = 16 + 5 AND "
					 "exe_id IN %s", ex), before,
		       "  its week's rows are: a long part missing, the entries are read instead");
		query_close(db);
		if (!(db = open_copy(path, copy, NULL)))
			return;
		is_str(totals_after(db, copy, QUERY_DIM_LOCAL_PORT,
					 "UPDATE exe_sums SET data = X'040201' WHERE day = 1706140800 AND dim = "
					 "16 AND exe_id IN %s", ex), before,
		       "  and so is a week's row that cannot be read");
		ok(strcmp(before, totals_after(db, copy, QUERY_DIM_LOCAL_PORT,
					 "DELETE FROM exe_sums WHERE day = 1706140800 AND dim >= 16 AND exe_id "
					 "IN %s", ex)) != 0,
		   "  without its rows, the week has none of curl's traffic");
		query_close(db);

		/* the days' sums (weeks not read) */
		if (!(db = open_copy(path, copy, &no_weeks)))
			return;
		snprintf(before, sizeof(before), "%s",
			 totals(db, QUERY_DIM_USER, win(R_START, end), curl, 1));
		ok(strcmp(before, totals_after(db, copy, QUERY_DIM_USER,
					 "DELETE FROM exe_sums WHERE day = 1706140800 + 10 * 86400 AND exe_id "
					 "IN %s", ex)) != 0,
		   "  the executables' sums are read");
		is_str(totals_after(db, copy, QUERY_DIM_USER,
					 "UPDATE exe_sums SET data = X'040201' WHERE rowid = (SELECT min(rowid) "
					 "FROM exe_sums WHERE exe_id IN %s)", ex), before,
		       "  sums that cannot be read: the entries are read instead");
		is_str(totals_after(db, copy, QUERY_DIM_USER,
					 "UPDATE exe_sums SET data = X'02' WHERE exe_id IN %s", ex), before,
		       "  nor sums of another format");
		query_close(db);

		/* a filter on the domain (schema 21): the remote addresses' sums
		 * per domain are read for the lists made from them; a list whose
		 * part does not hold the domain reads the executable days */
		{
			static const struct query_filter curl_named[] = {
				F(EXECUTABLE, INCLUDE, CURL), F(DOMAIN, EXCLUDE, "")
			};
			static const enum query_dim from_sums[] = { QUERY_DIM_REMOTE_ADDRESS,
								    QUERY_DIM_COUNTRY, QUERY_DIM_DOMAIN };
			struct query_window w = win(R_START, end);
			char desc[128];

			for (size_t i = 0; i < sizeof(from_sums) / sizeof(from_sums[0]); i++) {
				if (!(db = open_copy(path, copy, &opt)))
					return;
				snprintf(before, sizeof(before), "%s",
					 totals(db, from_sums[i], w, curl_named, 2));
				exec(copy, "DELETE FROM exe_sums WHERE day = 1706140800 AND dim >= 16 AND "
					   "exe_id IN (SELECT id FROM executables WHERE path = '" CURL "')");
				snprintf(desc, sizeof(desc),
					 "  executable and domain not empty, by %s: the sums are read",
					 query_dim_name(from_sums[i]));
				ok(strcmp(before, totals(db, from_sums[i], w, curl_named, 2)) != 0, desc);
				query_close(db);
			}
			if (!(db = open_copy(path, copy, NULL)))
				return;
			snprintf(before, sizeof(before), "%s",
				 totals(db, QUERY_DIM_USER, w, curl_named, 2));
			exec(copy, "DELETE FROM exe_sums WHERE day = 1706140800 AND dim >= 16 AND "
				   "exe_id IN (SELECT id FROM executables WHERE path = '" CURL "')");
			is_str(totals(db, QUERY_DIM_USER, w, curl_named, 2), before,
			       "  by user: the executable days are read");
			query_close(db);
		}

		/* the long parts: read, and one missing or without its day's
		 * row is not taken for none */
		if (!(db = open_copy(path, copy, &no_weeks)))
			return;
		snprintf(before, sizeof(before), "%s",
			 totals(db, QUERY_DIM_LOCAL_PORT, win(R_START, end), curl, 1));
		ok(strcmp(before, totals_after(db, copy, QUERY_DIM_LOCAL_PORT,
					 "UPDATE exe_sums SET data = X'0107000A0002' WHERE dim = 5 AND day = "
					 "1706140800 + 6 * 86400 AND exe_id IN %s", ex)) != 0,
		   "  a long part is read from its own row");
		is_str(totals_after(db, copy, QUERY_DIM_LOCAL_PORT,
					 "DELETE FROM exe_sums WHERE dim = 5 AND day = 1706140800 + 6 * 86400 "
					 "AND exe_id IN %s", ex), before,
		       "  one missing: the entries are read instead");
		query_close(db);
		if (!(db = open_copy(path, copy, &no_weeks)))
			return;
		is_str(totals_after(db, copy, QUERY_DIM_LOCAL_PORT,
					 "DELETE FROM exe_sums WHERE dim = 0 AND day = 1706140800 + 7 * 86400 "
					 "AND exe_id IN %s", ex), before,
		       "  one without its day's row: the entries are read instead");
		query_close(db);

		if (!(db = open_copy(path, copy, &no_sums)))
			return;
		snprintf(before, sizeof(before), "%s",
			 totals(db, QUERY_DIM_USER, win(R_START, end), curl, 1));
		exec(copy, "DELETE FROM exe_days WHERE day = 1706140800 + 10 * 86400 AND exe_id IN "
			   "(SELECT id FROM executables WHERE path = '" CURL "')");
		ok(strcmp(before, totals(db, QUERY_DIM_USER, win(R_START, end), curl, 1)) != 0,
		   "  executable days are read");
		/* one that cannot be read: the query reads the entries */
		exec(copy, "UPDATE exe_days SET data = X'02FFFF' WHERE rowid = (SELECT min(rowid) FROM "
			   "exe_days WHERE exe_id IN (SELECT id FROM executables WHERE path = '" CURL "'))");
		is_str(totals(db, QUERY_DIM_USER, win(R_START, end), curl, 1), before,
		       "  a blob that cannot be read: the entries are read instead");
		exec(copy, "UPDATE exe_days SET data = X'01' WHERE exe_id IN (SELECT id FROM executables "
			   "WHERE path = '" CURL "')");
		is_str(totals(db, QUERY_DIM_USER, win(R_START, end), curl, 1), before,
		       "  nor one of another format");
		query_close(db);
	}

	/* a series by a column of the executable without filters: the days
	 * that bucket edges cut (7 buckets: days 11, 22, 34...; 13: day 30,
	 * with an entry whose exe_id is no number; 27: day 20, with a day
	 * to be read as entries) from the lines' executable days and the
	 * day's unit by time (fill_cut_day_exes) */
	{
		static const enum query_dim by[] = { QUERY_DIM_EXECUTABLE, QUERY_DIM_NAME,
						     QUERY_DIM_SHA256, QUERY_DIM_CMDLINE };
		static const size_t n_buckets[] = { 7, 13, 27 };
		struct query_window ws[] = { win(R_START, end), win(R_START + DAY / 3, end - DAY / 5),
					     all_time() };
		static char before[65536];
		struct query_db *db;
		int same = 0, cases = 0;

		if (!(rolled = open_copy(path, copy, &opt)) ||
		    query_open(path, &raw_opt, &rows, err, sizeof(err)) < 0) {
			ok(0, err);
			return;
		}
		for (size_t d = 0; d < sizeof(by) / sizeof(by[0]); d++)
			for (size_t b = 0; b < sizeof(n_buckets) / sizeof(n_buckets[0]); b++)
				for (size_t w = 0; w < sizeof(ws) / sizeof(ws[0]); w++)
					for (int k = 0; k < 6; k++) {
						struct query_series_req sr = { .sel = { by[d], ws[w] },
									       .top = 1 + (size_t)k / 2,
									       .buckets = n_buckets[b],
									       .other = k % 2 == 0 };

						if (series_agree(rolled, rows, &sr, NULL))
							same++;
						else
							printf("#   series by %s, %zu buckets, window %zu, case %d differ\n",
							       query_dim_name(by[d]), n_buckets[b], w, k);
						cases++;
					}
		is_int(same, cases, "  unaligned series by executable, name, hash and command: the days "
				    "their buckets cut from executable days, the same as from the rows");
		query_close(rolled);
		query_close(rows);

		/* they are read: without the day's blobs its entries are
		 * "other"; blobs or a unit that cannot be read: rows instead */
		if (!(db = open_copy(path, copy, &opt)))
			return;
		snprintf(before, sizeof(before), "%s", series_text(db, QUERY_DIM_EXECUTABLE, 7, 3));
		ok(!strncmp(before, "how 0:", 6), "  (read through the rollups)");
		exec(copy, "UPDATE exe_days SET data = X'03' WHERE day = 1706140800 + 11 * 86400");
		is_str(series_text(db, QUERY_DIM_EXECUTABLE, 7, 3), before,
		       "  a cut day's blobs to be read as entries: the rows are read");
		exec(copy, "UPDATE exe_days SET data = X'02FFFF' WHERE day = 1706140800 + 11 * 86400");
		is_str(series_text(db, QUERY_DIM_EXECUTABLE, 7, 3), before, "  nor ones that cannot be read");
		exec(copy, "UPDATE rollups SET data = X'01FF' WHERE grain = 1 AND dim = 12 AND start = "
			   "1706140800 + 22 * 86400");
		is_str(series_text(db, QUERY_DIM_EXECUTABLE, 7, 3), before,
		       "  nor a day's unit by time that cannot be read");
		exec(copy, "DELETE FROM exe_days WHERE day = 1706140800 + 34 * 86400 AND exe_id = "
			   "(SELECT exe_id FROM exe_days WHERE day = 1706140800 + 34 * 86400 ORDER BY "
			   "length(data) DESC LIMIT 1)");
		is_str(series_text(db, QUERY_DIM_EXECUTABLE, 7, 3), before,
		       "  nor a day whose blobs do not sum to its unit by executable");
		query_close(db);
		/* a cut day's entries taken away (behind the triggers' back:
		 * docs/schema.md) are not missed: they were not read; read
		 * from the entries alone, they are */
		for (int raw = 0; raw < 2; raw++) {
			if (!(db = open_copy(path, copy, raw ? &raw_opt : &opt)))
				return;
			exec(copy, "DROP TRIGGER connections_rollup_delete; DELETE FROM connections WHERE "
				   "time >= 1706140800 + 45 * 86400 AND time < 1706140800 + 46 * 86400");
			ok(!strcmp(series_text(db, QUERY_DIM_EXECUTABLE, 7, 3), before) == !raw,
			   raw ? "  (read from the entries alone, they are missed)"
			       : "  a cut day's entries are not read");
			query_close(db);
		}
	}

	/* a filtered series by remote address over 90 days or more, from
	 * the executables' sums: a first pass of sums only, then the lines
	 * (sums_first); fewer days or another key: one pass */
	{
		static const struct query_filter fs[][2] = {
			{ F(EXECUTABLE, INCLUDE, CURL), F(DOMAIN, EXCLUDE, "") },
			{ F(EXECUTABLE, INCLUDE, CURL), F(DOMAIN, INCLUDE, "example.com") },
			{ F(NAME, INCLUDE, "curl") },
		};
		static const enum query_dim by[] = { QUERY_DIM_REMOTE_ADDRESS, QUERY_DIM_COUNTRY,
						     QUERY_DIM_ASN, QUERY_DIM_DOMAIN };
		struct query_window ws[] = { win(R_START - 30 * DAY, end + 10 * DAY),
					     win(R_START - 30 * DAY + 4000, end + 10 * DAY - 77),
					     win(R_START, end) };
		int same = 0, cases = 0, how[2][2] = { { 0 } };

		if (!(rolled = open_copy(path, copy, &opt)) ||
		    query_open(path, &raw_opt, &rows, err, sizeof(err)) < 0) {
			ok(0, err);
			return;
		}
		for (size_t f = 0; f < sizeof(fs) / sizeof(fs[0]); f++)
			for (size_t d = 0; d < sizeof(by) / sizeof(by[0]); d++)
				for (size_t w = 0; w < sizeof(ws) / sizeof(ws[0]); w++)
					for (int k = 0; k < 4; k++) {
						struct query_series_req sr = {
							.sel = { by[d], ws[w], fs[f], f < 2 ? 2 : 1 },
							.top = 1 + (size_t)k / 2, .buckets = 20,
							.other = k % 2 == 0, .align = true
						};
						int took = -1;

						if (series_agree(rolled, rows, &sr, &took))
							same++;
						else
							printf("#   filters %zu, series by %s, window %zu, case %d differ\n",
							       f, query_dim_name(by[d]), w, k);
						cases++;
						/* [long window][by remote address]: two scans */
						if (took == QUERY_SERIES_TWO_SCANS)
							how[w < 2][d < 3]++;
					}
		is_int(same, cases, "  filtered series by remote address, country and network owner over "
				    "120 days, from sums only then the lines: the same as from the rows");
		ok(how[1][1] == 3 * 3 * 2 * 4 && !how[1][0] && !how[0][1],
		   "  (two passes there, one by domain or over 80 days)");
		query_close(rolled);
		query_close(rows);
	}
	free(path);
	free(copy);
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path);
}

/* The query connections' VFS (query_vfs.c): what it reads is what the file
 * holds, from the main file and from the WAL, and a blob's chain of
 * overflow pages makes it read ahead, a row within its page does not. */
static void test_readahead_vfs(void)
{
	enum { BIG = 300000, N_BIG = 4 };
	char *path = path_of("vfs.db");
	sqlite3 *w = NULL, *r = NULL;
	sqlite3_stmt *st = NULL;
	unsigned char *want = malloc(BIG);
	unsigned long before;
	int same = 0, rows = 0;

	if (!want || !query_vfs()) {
		ok(0, "the read-ahead VFS is registered");
		free(want);
		free(path);
		return;
	}
	/* the blobs' bytes are their row's number and their place */
	sqlite3_open(path, &w);
	sqlite3_exec(w, "PRAGMA journal_mode = WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, data BLOB);"
		     "INSERT INTO t VALUES (100, x'0102')",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(w, "INSERT INTO t VALUES (?1, ?2)", -1, &st, NULL);
	for (int i = 0; i < N_BIG; i++) {
		for (int j = 0; j < BIG; j++)
			want[j] = (unsigned char)(i * 7 + j * 13 + (j >> 8));
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_blob(st, 2, want, BIG, SQLITE_TRANSIENT);
		sqlite3_step(st);
		/* the first two are checkpointed into the main file, the
		 * others stay in the WAL (w stays open) */
		if (i == 1)
			sqlite3_wal_checkpoint_v2(w, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	sqlite3_finalize(st);
	ok(sqlite3_open_v2(path, &r, SQLITE_OPEN_READONLY, query_vfs()) == SQLITE_OK,
	   "a file opens through the read-ahead VFS");
	before = query_vfs_advices();
	sqlite3_prepare_v2(r, "SELECT id, data FROM t WHERE id < 100 ORDER BY id", -1, &st, NULL);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		int i = sqlite3_column_int(st, 0);
		const unsigned char *b = sqlite3_column_blob(st, 1);

		for (int j = 0; j < BIG; j++)
			want[j] = (unsigned char)(i * 7 + j * 13 + (j >> 8));
		rows++;
		same += sqlite3_column_bytes(st, 1) == BIG && b && !memcmp(b, want, BIG);
	}
	sqlite3_finalize(st);
	is_int(rows, N_BIG, "  it reads every row, from the main file and from the WAL");
	is_int(same, N_BIG, "  each blob as written, byte for byte");
	ok(query_vfs_advices() - before >= 2,
	   "  the overflow chains in the main file are read ahead");
	/* a chain before the one read last is read ahead as much as when it
	 * is read alone (each on a new connection: nothing in its own cache) */
	{
		static const char *const sql[] = {
			"SELECT data FROM t WHERE id = 0", "SELECT data FROM t WHERE id = 1",
			"SELECT data FROM t WHERE id < 2 ORDER BY id DESC",
		};
		unsigned long n[3];

		rows = 0;
		for (int q = 0; q < 3; q++) {
			sqlite3 *r2 = NULL;

			sqlite3_open_v2(path, &r2, SQLITE_OPEN_READONLY, query_vfs());
			sqlite3_prepare_v2(r2, sql[q], -1, &st, NULL);
			before = query_vfs_advices();
			while (st && sqlite3_step(st) == SQLITE_ROW)
				rows += sqlite3_column_bytes(st, 0) == BIG;
			n[q] = query_vfs_advices() - before;
			sqlite3_finalize(st);
			sqlite3_close(r2);
		}
		is_int(rows, 4, "  read alone and backwards, the chains read whole");
		ok(n[0] > 0 && n[1] > 0 && n[2] == n[0] + n[1],
		   "  a chain before the last one read is read ahead as when read alone");
		if (n[2] != n[0] + n[1])
			printf("#   %lu and %lu alone, %lu backwards\n", n[0], n[1], n[2]);
	}
	before = query_vfs_advices();
	sqlite3_prepare_v2(r, "SELECT hex(data) FROM t WHERE id = 100", -1, &st, NULL);
	ok(st && sqlite3_step(st) == SQLITE_ROW &&
	   !strcmp((const char *)sqlite3_column_text(st, 0), "0102"), "  a short row reads as written");
	sqlite3_finalize(st);
	is_int((long)(query_vfs_advices() - before), 0, "  and is not read ahead");
	/* the pages read in runs never outlive their transaction: row 10 is
	 * read (the run of its chain's end holds row 11's pages, written
	 * after it), row 11 is rewritten in place by another writer (the same
	 * pages of the main file, after a checkpoint), and read */
	{
		enum { A = 100000, B = 20000 };
		sqlite3_blob *b = NULL;
		unsigned long runs;
		int a_same = 0, b_same = 0;

		sqlite3_prepare_v2(w, "INSERT INTO t VALUES (?1, ?2)", -1, &st, NULL);
		for (int i = 0; i < 2; i++) {
			for (int j = 0; j < A; j++)
				want[j] = (unsigned char)(j * 13 + i);
			sqlite3_reset(st);
			sqlite3_bind_int(st, 1, 10 + i);
			sqlite3_bind_blob(st, 2, want, i ? B : A, SQLITE_TRANSIENT);
			sqlite3_step(st);
		}
		sqlite3_finalize(st);
		sqlite3_wal_checkpoint_v2(w, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		runs = query_vfs_runs();
		for (int j = 0; j < A; j++)
			want[j] = (unsigned char)(j * 13);
		sqlite3_prepare_v2(r, "SELECT data FROM t WHERE id = 10", -1, &st, NULL);
		a_same = st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == A &&
			 !memcmp(sqlite3_column_blob(st, 0), want, A);
		sqlite3_finalize(st);
		ok(query_vfs_runs() > runs, "  a chain's next pages are read in runs");
		ok(a_same, "  a blob read in runs is as written");
		for (int j = 0; j < B; j++)
			want[j] = (unsigned char)(j * 13 + 77);
		if (sqlite3_blob_open(w, "main", "t", "data", 11, 1, &b) == SQLITE_OK)
			sqlite3_blob_write(b, want, B, 0);
		sqlite3_blob_close(b);
		sqlite3_wal_checkpoint_v2(w, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_prepare_v2(r, "SELECT data FROM t WHERE id = 11", -1, &st, NULL);
		b_same = st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == B &&
			 !memcmp(sqlite3_column_blob(st, 0), want, B);
		sqlite3_finalize(st);
		ok(b_same, "  and a blob another writer changed since is read as it is now");
	}
	sqlite3_close(r);
	sqlite3_close(w);
	free(want);
	free(path);
}

/* The bucket of t as the series defines it, worked out here on its own. */
static ssize_t truth_bucket(const struct agg_series *s, int64_t t)
{
	__int128 b;

	if (t < s->from || (__int128)t - s->from >= s->span)
		return -1;
	if (s->align_len)
		b = ((__int128)t - s->align_start) / s->align_len;
	else
		b = ((__int128)t - s->from) * (__int128)s->buckets / s->span;
	return b >= (__int128)s->buckets ? -1 : (ssize_t)b;
}

/* agg_bucket_span (which lets the reading of executable days ask for a
 * bucket once per bucket rather than once per row) gives each time its
 * bucket, and a span that holds exactly the times of that bucket. */
static void test_bucket_span(void)
{
	const int64_t year = 365 * 86400, six = 6 * 86400, from = 1700000123;
	const struct agg_series cases[] = {
		{ .from = 10, .span = 7, .buckets = 3 },
		{ .from = 10, .span = 2, .buckets = 5 },	/* empty buckets */
		{ .from = 10, .span = 100, .buckets = 100 },
		{ .from = from, .span = year + 17, .buckets = 60 },
		{ .from = 86400 * 3 + 5, .span = 86400 * 2, .align_start = 86400 * 3,
		  .align_len = 3600, .buckets = 49 },
		{ .from = from, .span = year, .align_start = from / six * six, .align_len = six,
		  .buckets = (size_t)((from + year - from / six * six + six - 1) / six) },
		/* where the 64-bit shortcut overflows: (t - from) * buckets,
		 * and t - align_start near the end */
		{ .from = INT64_MIN + 100, .span = INT64_MAX - 100, .buckets = 7 },
		{ .from = 0, .span = INT64_MAX - 100, .align_start = -1000,
		  .align_len = (int64_t)1 << 61, .buckets = 5 },
	};
	unsigned seed = 1;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct agg_series *s = &cases[c];
		int64_t end = s->from + s->span;
		size_t checked = 0, bad = 0;

		for (size_t k = 0; k < 20000; k++) {
			int64_t t, lo, hi;
			ssize_t b;

			if (s->span < 1000)
				t = s->from - 3 + (int64_t)(k % (size_t)(s->span + 7));
			else if (k < 2000)	/* around the ends of the buckets */
				t = s->from + (int64_t)((__int128)s->span * (k / 4) / 500) +
				    (int64_t)(k % 4) - 2;
			else if (k < 2100)	/* the end of the window */
				t = s->from + s->span - 1 - (int64_t)(k - 2000) * 13;
			else
				t = s->from - 10 + (int64_t)((uint64_t)rand_r(&seed) * 7919u %
							     (uint64_t)(s->span + 20));
			b = agg_bucket_span(s, t, &lo, &hi);
			checked++;
			if (b != truth_bucket(s, t) || lo > t || t >= hi ||
			    (lo != INT64_MIN && (truth_bucket(s, lo) != b ||
						 (truth_bucket(s, lo - 1) == b && !(b < 0 && lo == end)))) ||
			    (hi != INT64_MAX && (truth_bucket(s, hi - 1) != b ||
						 (truth_bucket(s, hi) == b && !(b < 0 && hi == s->from))))) {
				if (!bad++)
					printf("# case %zu: t %" PRId64 ": bucket %zd (%zd), [%" PRId64
					       ", %" PRId64 ")\n", c, t, b, truth_bucket(s, t), lo, hi);
			}
		}
		char what[160];

		snprintf(what, sizeof(what), "bucket spans, case %zu: each of %zu times in its bucket, "
			 "the span exactly that bucket's times", c, checked);
		is_int((int64_t)bad, 0, what);
	}
}

int main(void)
{
	char *main_db;
	struct query_db *db;

	if (!mkdtemp(dir))
		return 1;
	main_db = path_of("snitch.db");
	make_main(main_db);
	test_names();
	test_bucket_span();
	if (!ok(query_open(main_db, NULL, &db, err, sizeof(err)) == 0, "snitch.db opens read-only")) {
		printf("# %s\n", err);
		return tap_done();
	}
	test_totals(db);
	test_sort_page(db);
	test_windows(db);
	test_filters(db);
	test_series(db);
	test_distinct(db);
	test_against_view(main_db, db);
	query_close(db);
	test_country(main_db);
	test_asn(main_db);
	test_untouched(main_db);
	test_refusals(main_db);
	test_v10();
	test_bulk();
	test_series_room();
	test_rollups();
	test_exe_days();
	test_busy(main_db);
	test_interrupt(main_db);
	test_concurrent(main_db);
	test_readahead_vfs();
	free(main_db);
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
