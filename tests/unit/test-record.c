/* record.json: what is new and what is known, across a save and a reload;
 * a corrupt file is moved aside intact with a message naming the problem;
 * a symlink planted in its place is not followed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/record.h"
#include "tap.h"
#include "util/fsutil.h"

static char dir[] = "/tmp/test-record.XXXXXX";
static int dirfd_;

static char *slurp(const char *name)
{
	static char buf[65536];
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return strcpy(buf, "(missing)");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void test_new_and_known(void)
{
	struct record *r;
	char err[512];

	is_int(record_load(dirfd_, &r, err, sizeof(err)), 0,
	       "a missing record.json is an empty record");
	is_str(err, "", "  without an error");
	is_int(record_see(r, REC_PROCESS, "/usr/bin/curl", "curl"), REC_NEW_EXE | REC_NEW_NAME,
	       "a first executable is new, with a new name");
	is_int(record_see(r, REC_PROCESS, "/usr/bin/curl", "curl"), 0, "seen again: nothing new");
	is_int(record_see(r, REC_PROCESS, "/usr/bin/curl", "fetcher"), REC_NEW_NAME,
	       "another name for it is a new name");
	is_int(record_see(r, REC_PARENT, "/usr/bin/curl", "curl"), REC_NEW_EXE | REC_NEW_NAME,
	       "roles are recorded apart: as a parent it is new");
	is_int(record_see_hash(r, "/usr/bin/curl", "aa"), REC_HASH_FIRST, "a first hash");
	is_int(record_see_hash(r, "/usr/bin/curl", "aa"), 0, "the same hash: nothing");
	is_int(record_see_hash(r, "/usr/bin/curl", "bb"), REC_HASH_CHANGED, "another hash: changed");
	is_int(record_save(r), 0, "saved");
	record_free(r);
	is_str(slurp("record.json"),
	       "{\n"
	       "  \"Executables\": {\n    \"/usr/bin/curl\": [\n      \"curl\",\n      \"fetcher\"\n    ]\n  },\n"
	       "  \"Grandparent Executables\": {},\n"
	       "  \"Grandparent Names\": {},\n"
	       "  \"Names\": {\n    \"curl\": [\n      \"/usr/bin/curl\"\n    ],\n"
	       "    \"fetcher\": [\n      \"/usr/bin/curl\"\n    ]\n  },\n"
	       "  \"Parent Executables\": {\n    \"/usr/bin/curl\": [\n      \"curl\"\n    ]\n  },\n"
	       "  \"Parent Names\": {\n    \"curl\": [\n      \"/usr/bin/curl\"\n    ]\n  },\n"
	       "  \"SHA256\": {\n    \"/usr/bin/curl\": {\n      \"aa\": \"\",\n      \"bb\": \"\"\n    }\n  }\n"
	       "}",
	       "the file has every section, sorted, indented");

	is_int(record_load(dirfd_, &r, err, sizeof(err)), 0, "it loads again");
	is_int(record_see(r, REC_PROCESS, "/usr/bin/curl", "fetcher"), 0,
	       "  and what was seen is known");
	is_int(record_see_hash(r, "/usr/bin/curl", "bb"), 0, "  hashes too");
	record_free(r);
}

static void test_corrupt(void)
{
	struct record *r;
	char err[512], name[64] = "";
	int found = 0;
	char cmd[128];
	FILE *p;

	put("record.json", "{\"Executables\": {\"/bin/x\": \"not a list\"}}");
	is_int(record_load(dirfd_, &r, err, sizeof(err)), 0,
	       "a record.json of the wrong shape still starts the monitor");
	ok(strstr(err, "record.json could not be read (\"Executables\" has a malformed entry "
		       "\"/bin/x\"): kept as record.json.corrupt-") == err,
	   "  with a message naming the problem");
	if (!strstr(err, "kept as"))
		printf("#   %s\n", err);
	snprintf(cmd, sizeof(cmd), "ls %s | grep '^record.json.corrupt-'", dir);
	p = popen(cmd, "r");
	if (p) {
		found = fscanf(p, "%63s", name) == 1;
		pclose(p);
	}
	ok(found, "  the file is moved aside");
	if (found)
		is_str(slurp(name), "{\"Executables\": {\"/bin/x\": \"not a list\"}}", "  intact");
	is_str(slurp("record.json"), "(missing)", "  and record.json itself is gone until the next save");
	record_see(r, REC_PROCESS, "/bin/y", "y");
	record_save(r);
	ok(strstr(slurp("record.json"), "\"/bin/y\"") != NULL, "a new record is written then");
	record_free(r);
	if (found) {
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		unlink(path);
	}
}

static void test_symlink(void)
{
	struct record *r;
	char err[512], path[256], target[256];

	snprintf(path, sizeof(path), "%s/record.json", dir);
	snprintf(target, sizeof(target), "%s/victim", dir);
	unlink(path);
	put("victim", "precious\n");
	if (symlink(target, path) < 0)
		abort();
	record_load(dirfd_, &r, err, sizeof(err));
	ok(err[0] != '\0', "a symlink planted as record.json is not read");
	record_see(r, REC_PROCESS, "/bin/z", "z");
	record_save(r);
	is_str(slurp("victim"), "precious\n", "  nor written through");
	record_free(r);
}

static void test_parse(void)
{
	struct record *r;
	char why[256];

	is_int(record_parse("[1,2]", 5, &r, why, sizeof(why)), -EINVAL, "a list is not a record");
	is_str(why, "it is not a JSON object", "  and says so");
	is_int(record_parse("{\"SHA256\": {\"/x\": {}}}", 22, &r, why, sizeof(why)), 0,
	       "a partial record parses");
	is_int(record_see_hash(r, "/x", "aa"), REC_HASH_FIRST, "  and its sections work");
	record_free(r);
}

/* Bounds: names per executable, executables per name, hashes per file;
 * and names jansson would refuse (not UTF-8) are counted, never a crash. */
static void test_bounds(void)
{
	struct record *r;
	char why[128], name[32];
	unsigned added = 0;

	if (record_parse("{}", 2, &r, why, sizeof(why)) < 0) {
		ok(0, "an empty record parses");
		return;
	}
	for (int i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "name%03d", i);
		if (record_see(r, REC_PROCESS, "/usr/bin/many", name))
			added++;
	}
	is_int(added, 100, "100 names are kept for one executable");
	/* each refused name is refused twice: as a name of the executable and
	 * as a new entry of the name list past its own bound is not reached */
	ok(record_refused(r) >= 50, "the 50 more are refused and counted");
	for (int i = 0; i < 120; i++) {
		char sha[65];

		snprintf(sha, sizeof(sha), "%064d", i);
		record_see_hash(r, "/usr/bin/many", sha);
	}
	ok(record_refused(r) >= 70, "hashes past 100 per file are refused and counted");
	{
		uint64_t before = record_refused(r);
		unsigned what = record_see(r, REC_PROCESS, "/tmp/\xff\xfe", "\xc0");

		is_int(what, 0, "a key jansson refuses (not UTF-8) is not recorded");
		ok(record_refused(r) > before, "  and counted");
		is_int(record_see(r, REC_PROCESS, "/usr/bin/curl", "curl"), REC_NEW_EXE | REC_NEW_NAME,
		       "  and the record still works after it");
	}
	record_free(r);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	test_new_and_known();
	test_corrupt();
	test_symlink();
	test_parse();
	test_bounds();
	close(dirfd_);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
