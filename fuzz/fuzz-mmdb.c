/* Fuzz target: a MaxMind DB file as the country lookups open it (a
 * download, or any file "GeoIP database" names).  libmaxminddb itself is
 * not instrumented here: t191 replays the corpus and hostile files under
 * valgrind, which sees into it.  The input is the file, handed over as
 * /proc/self/fd/N of a memfd. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "geo/country.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libmaxminddb 1.7.1 (Debian 12) leaks a few kilobytes when MMDB_open
 * fails on some malformed metadata (fixed upstream: maxmind/libmaxminddb
 * pull request 356); picosnitch opens a country file once per run, so it
 * costs that much once at most.  Leaks inside it are not this code's. */
const char *__lsan_default_suppressions(void)
{
	return "leak:libmaxminddb.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const probes[] = { "8.8.8.8", "1.1.1.1", "0.0.0.0", "255.255.255.255",
					      "2001:4860::1", "::", "ffff::1" };
	struct country_db *db;
	char path[64], err[256], code[3];
	int fd = memfd_create("fuzz-mmdb", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (country_db_open(path, &db, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			struct geo_addr a;

			if (geo_addr_parse(probes[i], strlen(probes[i]), &a) == 0 &&
			    country_db_lookup(db, &a, code) &&
			    (strlen(code) != 2 || code[0] < 'A' || code[0] > 'Z'))
				__builtin_trap();
		}
		country_db_type(db);
		country_db_close(db);
	}
	close(fd);
	return 0;
}
