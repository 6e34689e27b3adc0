/* "Log ignore": every kind of rule matches what it should and nothing
 * else; domains on label boundaries; bad items are refused by name. */
#include <errno.h>
#include <stdlib.h>

#include <jansson.h>

#include "pipeline/ignore.h"
#include "tap.h"

static struct ignore_rules *rules(const char *json)
{
	json_error_t je;
	json_t *list = json_loads(json, 0, &je);
	struct ignore_rules *r = NULL;
	char err[512];

	if (!list || ignore_rules_new(list, &r, err, sizeof(err)) < 0) {
		printf("# cannot compile %s: %s\n", json, list ? err : je.text);
		abort();
	}
	json_decref(list);
	return r;
}

static struct conn_row row(const char *sha, int64_t lport, int64_t rport, const char *laddr,
			   const char *raddr, const char *domain)
{
	return (struct conn_row){ .sha256 = sha, .lport = lport, .rport = rport, .laddr = laddr,
				  .raddr = raddr, .domain = domain };
}

static const char *H1 = "0e0f587a1e547c6f2ea025c1b756048bdbb1441774084f490bdd780d3a53f3ae";
static const char *H2 = "1e0f587a1e547c6f2ea025c1b756048bdbb1441774084f490bdd780d3a53f3ae";

static void test_ports_and_hashes(void)
{
	struct ignore_rules *r = rules("[53, \"0E0F587A1E547C6F2EA025C1B756048BDBB1441774084F490BDD780D3A53F3AE\"]");
	struct conn_row a;

	is_int(ignore_rules_count(r), 2, "two rules");
	a = row(H2, 40000, 53, "10.0.0.1", "10.0.0.2", "");
	ok(ignore_match(r, &a), "a remote port matches");
	a = row(H2, 53, 40000, "10.0.0.1", "10.0.0.2", "");
	ok(ignore_match(r, &a), "a local port matches");
	a = row(H2, 5353, 40000, "10.0.0.1", "10.0.0.2", "");
	ok(!ignore_match(r, &a), "another port does not");
	a = row(H1, 1, 2, "", "", "");
	ok(ignore_match(r, &a), "the hash matches, whatever its case");
	a = row(H2, -1, -1, "", "", "");
	ok(!ignore_match(r, &a), "an exec entry (ports -1) of another hash does not");
	ignore_rules_free(r);
}

static void test_subnets(void)
{
	struct ignore_rules *r = rules("[\"10.0.0.0/8\", \"192.0.2.7\", \"fe80::/10\", \"2001:db8::1/128\", \"172.16.0.0/12\"]");
	struct {
		const char *addr;
		bool want;
	} cases[] = {
		{ "10.200.3.4", true },	 { "11.0.0.1", false },	   { "192.0.2.7", true },
		{ "192.0.2.8", false },	 { "fe80::1", true },	   { "fec0::1", false },
		{ "2001:db8::1", true }, { "2001:db8::2", false }, { "172.31.255.255", true },
		{ "172.32.0.0", false }, { "", false },		   { "00:11:22:33:44:55", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conn_row a = row("", 1, 2, "127.0.0.1", cases[i].addr, "");
		char what[96];

		snprintf(what, sizeof(what), "remote %s %s", cases[i].addr[0] ? cases[i].addr : "(none)",
			 cases[i].want ? "matches" : "does not match");
		ok(ignore_match(r, &a) == cases[i].want, what);
	}
	{
		struct conn_row a = row("", 1, 2, "10.1.1.1", "8.8.8.8", "");

		ok(!ignore_match(r, &a),
		   "a local address in a subnet does not match (it would hide the whole host)");
	}
	ignore_rules_free(r);
}

static void test_domains(void)
{
	struct ignore_rules *r = rules("[\"com.example\", \"org.Wikipedia.en\"]");
	struct {
		const char *domain;
		bool want;
	} cases[] = {
		{ "example.com", true },      { "www.example.com", true },
		{ "a.b.example.com", true },  { "EXAMPLE.COM", true },
		{ "badexample.com", false },  { "example.com.evil.net", false },
		{ "example.org", false },     { "en.wikipedia.org", true },
		{ "fr.wikipedia.org", false }, { "", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conn_row a = row("", 1, 2, "", "", cases[i].domain);
		char what[96];

		snprintf(what, sizeof(what), "domain '%s' %s", cases[i].domain,
			 cases[i].want ? "matches" : "does not match");
		ok(ignore_match(r, &a) == cases[i].want, what);
	}
	ignore_rules_free(r);
}

static void test_refused(void)
{
	const char *bad[] = { "[\"com..example\"]", "[\".com\"]", "[\"a b\"]", "[\"10.0.0.0/33\"]",
			      "[\"fe80::/129\"]", "[\"10.0.0.0/\"]", "[1.5]", "[null]" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *list = json_loads(bad[i], 0, NULL);
		struct ignore_rules *r = NULL;
		char err[512] = "", what[96];

		snprintf(what, sizeof(what), "%s is refused", bad[i]);
		is_int(ignore_rules_new(list, &r, err, sizeof(err)), -EINVAL, what);
		ok(strstr(err, "\"Log ignore\" item 1") != NULL, "  naming the item");
		json_decref(list);
	}
	ok(!ignore_match(NULL, &(struct conn_row){ .sha256 = "" }), "no rules match nothing");
}

int main(void)
{
	test_ports_and_hashes();
	test_subnets();
	test_domains();
	test_refused();
	return tap_done();
}
