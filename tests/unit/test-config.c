/* Tests of src/config/config.c: defaults, kept unknown keys, and a clear
 * error naming the problem for every kind of bad value. */
#include <stdlib.h>

#include "config/config.h"
#include "tap.h"

static char err[CONFIG_ERR_LEN];

static int parse(const char *text, struct config *cfg)
{
	err[0] = '\0';
	return config_parse(text, strlen(text), cfg, err, sizeof(err));
}

static void bad(const char *text, const char *want, const char *what)
{
	struct config cfg;
	int r = parse(text, &cfg);

	if (!ok(r < 0, what))
		config_done(&cfg);
	is_str(err, want, "  with the message");
}

int main(void)
{
	struct config cfg;
	char *dump;

	is_int(parse("{}", &cfg), 0, "an empty object is a valid config");
	is_int(cfg.db_write_limit, 10, "DB write limit defaults to 10");
	ok(cfg.db_sql_log, "DB sql log defaults to true");
	ok(!cfg.db_text_log, "DB text log defaults to false");
	ok(cfg.log_addresses && cfg.log_ports && cfg.log_commands, "Log addresses/ports/commands default to true");
	is_int(cfg.ring_buffer_pages, 256, "Perf ring buffer defaults to 256 pages");
	is_int(cfg.db_retention_days, 30, "DB retention defaults to 30 days");
	is_int(cfg.pending_entries_max, 200000, "Pending entries defaults to 200,000");
	is_int(cfg.pending_memory_mib, 128, "Pending memory defaults to 128 MiB");
	is_int(cfg.vt_request_limit, 15, "VT request limit defaults to 15");
	is_int(cfg.metrics_top, 20, "Metrics top executables defaults to 20");
	ok(!cfg.has_rlimit_nofile && !cfg.has_st_dev_mask, "the Set ... keys default to null");
	ok(cfg.changed, "defaults were added, so the file is to be rewritten");
	dump = config_dump(&cfg);
	ok(dump && strstr(dump, "\"DB write limit (seconds)\": 10"), "the rewritten file has the defaults");
	ok(dump && strstr(dump, "\"Set st_dev mask\": null"), "null defaults are written as null");
	free(dump);
	config_done(&cfg);

	is_int(parse("{\"DB write limit (seconds)\": 3, \"Log ports\": false, \"My own key\": [1]}", &cfg),
	       0, "values and an unknown key parse");
	is_int(cfg.db_write_limit, 3, "a given value is used");
	ok(!cfg.log_ports, "a given boolean is used");
	dump = config_dump(&cfg);
	ok(dump && strstr(dump, "\"My own key\""), "unknown keys are kept");
	free(dump);
	config_done(&cfg);

	is_int(parse("{\"Set RLIMIT_NOFILE\": 4096, \"Set st_dev mask\": 0}", &cfg), 0,
	       "integers for the Set keys parse");
	ok(cfg.has_rlimit_nofile && cfg.rlimit_nofile == 4096, "Set RLIMIT_NOFILE is read");
	ok(cfg.has_st_dev_mask && cfg.st_dev_mask == 0, "Set st_dev mask 0 is read");
	config_done(&cfg);

	bad("{\"DB write limit (seconds)\": 10,\n  \"DB text log\": tru}",
	    "config.json line 2 column 20: invalid token near 'tru'",
	    "malformed JSON is refused");
	bad("{\"a\": 1,}", "config.json line 1 column 9: string or '}' expected near '}'",
	    "a trailing comma is refused");
	bad("[1, 2]", "config.json must hold a JSON object, found a list", "a list is refused");
	bad("{\"DB write limit (seconds)\": \"10\"}",
	    "config.json: \"DB write limit (seconds)\" must be an integer, found a string \"10\"",
	    "a string where an integer belongs names the key");
	bad("{\"DB text log\": 1}",
	    "config.json: \"DB text log\" must be true or false, found an integer 1",
	    "an integer where a boolean belongs names the key");
	bad("{\"Log addresses\": null}",
	    "config.json: \"Log addresses\" must be true or false, found null null",
	    "null where a boolean belongs names the key");
	bad("{\"DB write limit (seconds)\": 0}",
	    "config.json: \"DB write limit (seconds)\" is 0, it must be between 1 and 86400",
	    "a write limit of 0 is refused");
	bad("{\"DB write limit (seconds)\": 1.5}",
	    "config.json: \"DB write limit (seconds)\" must be an integer, found a number with a fraction 1.5",
	    "a fractional write limit is refused");
	bad("{\"Metrics top executables\": 0}",
	    "config.json: \"Metrics top executables\" is 0, it must be between 1 and 1000",
	    "no executable named in /metrics is refused");
	bad("{\"Pending entries (max)\": 10}",
	    "config.json: \"Pending entries (max)\" is 10, it must be between 100 and 100000000",
	    "a bound of pending entries too small to hold a window's worth is refused");
	bad("{\"Pending memory (MiB)\": 0}",
	    "config.json: \"Pending memory (MiB)\" is 0, it must be between 1 and 65536",
	    "no memory for pending entries is refused");
	bad("{\"Perf ring buffer (pages)\": 100}",
	    "config.json: \"Perf ring buffer (pages)\" is 100, it must be a power of two",
	    "a ring buffer size that is not a power of two is refused");
	bad("{\"Set RLIMIT_NOFILE\": \"many\"}",
	    "config.json: \"Set RLIMIT_NOFILE\" must be an integer or null, found a string \"many\"",
	    "a string for Set RLIMIT_NOFILE is refused");
	bad("{\"Log ignore\": [443, {\"x\": 1}]}",
	    "config.json: \"Log ignore\" item 2 must be a string (hash, domain or subnet) or an "
	    "integer (port), found an object {\"x\":1}",
	    "an object in Log ignore is refused");
	bad("{\"Log ignore\": [70000]}",
	    "config.json: \"Log ignore\" item 1: port 70000 is outside 0-65535",
	    "an impossible port in Log ignore is refused");
	bad("{\"DB sql server\": []}",
	    "config.json: \"DB sql server\" must be an object, found a list []",
	    "a list for DB sql server is refused");
	bad("{\"a\": 1, \"a\": 2}",
	    "config.json line 1 column 12: duplicate object key near '\"a\"'",
	    "a duplicated key is refused");
	bad("", "config.json line 1 column 0: '[' or '{' expected near end of file",
	    "an empty file is refused");
	return tap_done();
}
