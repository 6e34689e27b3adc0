/* Tests of the package check (src/logger/dpkg.c): md5sums lines as dpkg
 * writes them and lines it refuses, and lookups in an info directory
 * made here: as installed, modified, not owned, merged /usr, a file two
 * packages list, a query without an MD5, a directory that is not there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logger/dpkg.h"
#include "util/fsutil.h"
#include "tap.h"

#define MD5_A "0123456789abcdef0123456789abcdef"
#define MD5_B "fedcba9876543210fedcba9876543210"

static char dir[] = "/tmp/picosnitch-dpkg.XXXXXX";
static char got[1024];

static void collect(void *ctx, const char *path, size_t plen, const char md5[32])
{
	size_t n = strlen(got);

	(void)ctx;
	snprintf(got + n, sizeof(got) - n, "%.32s=%.*s;", md5, (int)plen, path);
}

static void put(const char *name, const char *text)
{
	int fd = openat(open(dir, O_RDONLY | O_DIRECTORY), name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write_full(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
}

int main(void)
{
	const char *text = MD5_A "  usr/bin/curl\n" MD5_B " *bin/bash\n"
			   "nothex0123456789abcdef0123456789  usr/bin/x\n"
			   MD5_A " usr/bin/one-space\n" MD5_A "  \n" "\n" MD5_A "  usr/bin/last";
	struct dpkg_query q[7];
	struct dpkg_stats st = { 0 };

	is_int(dpkg_parse_md5sums(text, strlen(text), collect, NULL), 3,
	       "md5sums: three lines refused (not hex, one space, no path)");
	is_str(got, MD5_A "=usr/bin/curl;" MD5_B "=bin/bash;" MD5_A "=usr/bin/last;",
	       "  the good ones, binary mode too, the last without its newline");

	if (!mkdtemp(dir))
		return 1;
	put("curl.md5sums", MD5_A "  usr/bin/curl\n" MD5_A "  usr/share/doc/curl/README\n");
	put("bash.md5sums", MD5_B "  bin/bash\n");
	put("libc6:amd64.md5sums", MD5_A "  usr/lib/x86_64-linux-gnu/libc.so.6\n");
	put("diverted.md5sums", MD5_B "  usr/bin/two\n");
	put("other.md5sums", MD5_A "  usr/bin/two\n");
	put("curl.list", "/usr/bin/curl\n");	/* not an md5sums file */
	put("junk.md5sums", "\xff\xfe garbage\n");

	q[0] = (struct dpkg_query){ .path = "/usr/bin/curl", .md5 = MD5_A };
	q[1] = (struct dpkg_query){ .path = "/usr/bin/bash", .md5 = MD5_A };
	q[2] = (struct dpkg_query){ .path = "/tmp/x/prog", .md5 = MD5_A };
	q[3] = (struct dpkg_query){ .path = "/lib/x86_64-linux-gnu/libc.so.6", .md5 = MD5_A };
	q[4] = (struct dpkg_query){ .path = "/usr/bin/two", .md5 = MD5_A };
	q[5] = (struct dpkg_query){ .path = "/usr/bin/curl", .md5 = "" };
	q[6] = (struct dpkg_query){ .path = "/usr/bin/curl", .md5 = MD5_B };
	is_int(dpkg_lookup(dir, q, 7, &st), 0, "a lookup in an info directory");
	is_int(q[0].verdict, DPKG_AS_INSTALLED, "the same MD5: as installed");
	is_str(q[0].package, "curl", "  by its package");
	is_int(q[1].verdict, DPKG_MODIFIED, "/usr/bin/bash is bash's /bin/bash (merged /usr): modified");
	is_str(q[1].package, "bash", "  by its package");
	is_int(q[2].verdict, DPKG_UNOWNED, "a path no package lists");
	is_str(q[2].package, "", "  no package");
	is_int(q[3].verdict, DPKG_AS_INSTALLED, "/lib is /usr/lib too");
	is_str(q[3].package, "libc6:amd64", "  with the architecture in the name");
	is_int(q[4].verdict, DPKG_AS_INSTALLED, "listed by two packages: as installed if one matches");
	is_str(q[4].package, "other", "  that one");
	is_int(q[5].verdict, DPKG_LISTED, "no MD5 yet: listed, not compared");
	is_str(q[5].listed_md5, MD5_A, "  with the MD5 the package lists");
	is_str(q[5].package, "curl", "  and its package");
	is_int(dpkg_compare(q[5].listed_md5, MD5_A), DPKG_AS_INSTALLED, "  then the same MD5: as installed");
	is_int(dpkg_compare(q[5].listed_md5, MD5_B), DPKG_MODIFIED, "  another: modified");
	is_int(dpkg_compare(q[5].listed_md5, ""), DPKG_MODIFIED, "  none: never as installed");
	is_int(q[6].verdict, DPKG_MODIFIED, "the same path asked twice, another MD5: modified");
	is_int(st.files, 6, "six md5sums files read");
	is_int(st.lines, 7, "  seven lines");
	is_int(st.skipped, 1, "  one refused");
	is_str(dpkg_verdict_text(DPKG_MODIFIED), "modified since install", "the words");

	q[0] = (struct dpkg_query){ .path = "/usr/bin/curl", .md5 = MD5_A };
	is_int(dpkg_lookup("/nonexistent/dpkg/info", q, 1, NULL), -ENOENT, "no info directory: -ENOENT");
	is_int(q[0].verdict, DPKG_UNOWNED, "  and nothing is owned");

	for (const char *n = "curl.md5sums\0bash.md5sums\0libc6:amd64.md5sums\0diverted.md5sums\0"
			     "other.md5sums\0curl.list\0junk.md5sums\0";
	     *n; n += strlen(n) + 1) {
		char p[256];

		snprintf(p, sizeof(p), "%s/%s", dir, n);
		unlink(p);
	}
	rmdir(dir);
	return tap_done();
}
