/* Executables checked against their Debian package: dpkg keeps, for each
 * installed package, the MD5 of every file it installed
 * (/var/lib/dpkg/info/PACKAGE.md5sums, lines "<32 hex>  <path without the
 * leading />").  The logger (as the desktop user; these files are
 * world-readable, and anything that can write them is root already)
 * looks up the paths of executables with a new hash in one pass over those
 * files; only for a path a package lists is an MD5 then computed (by the
 * monitor, or by the logger for files it hashed itself) and compared, so
 * the many files no package owns cost the SHA-256 alone.
 * Parsing is bounded (64 MiB per file, 100,000 files, 4096 bytes per line;
 * other lines are skipped and counted) and fuzzed (fuzz-dpkg).  Paths are
 * compared after /usr merging (/usr/bin/x and /bin/x are one file on
 * Debian 12), and as the bytes the process's path had. */
#ifndef PS_LOGGER_DPKG_H
#define PS_LOGGER_DPKG_H

#include <stddef.h>
#include <stdint.h>

#define DPKG_INFO_DIR "/var/lib/dpkg/info"
#define DPKG_PACKAGE_MAX 128	/* bytes of a package name kept */

enum dpkg_verdict {
	DPKG_UNOWNED,		/* no package lists the path */
	DPKG_AS_INSTALLED,	/* listed, same MD5 */
	DPKG_MODIFIED,		/* listed, another MD5 */
	DPKG_LISTED,		/* listed, no MD5 given to compare (see listed_md5) */
};

struct dpkg_query {
	const char *path;	/* the executable's path (raw bytes, NUL-terminated) */
	const char *md5;	/* its MD5, 32 lowercase hex digits, or "" when it
				 * is not computed yet */
	/* the answer */
	enum dpkg_verdict verdict;
	char package[DPKG_PACKAGE_MAX];	/* when listed: the package ("curl", "libc6:amd64") */
	char listed_md5[33];	/* when listed: the MD5 the package lists */
};

struct dpkg_stats {
	uint64_t files, lines, skipped;	/* md5sums files read, lines, lines refused */
};

/* Answer every query in one pass over dir's *.md5sums (DPKG_INFO_DIR; a
 * test may name another).  0, or negative errno when dir cannot be read
 * (then every verdict is DPKG_UNOWNED). */
int dpkg_lookup(const char *dir, struct dpkg_query *q, size_t n, struct dpkg_stats *st);

/* One md5sums file's text: fn(ctx, path, path_len, md5) per valid line
 * (path without its leading "/"), the count of lines refused returned. */
size_t dpkg_parse_md5sums(const char *buf, size_t len,
			  void (*fn)(void *ctx, const char *path, size_t plen, const char md5[32]),
			  void *ctx);

/* The verdict for a path listed with listed_md5, now that its MD5 is known. */
enum dpkg_verdict dpkg_compare(const char listed_md5[33], const char *md5);

/* The words for record.json, exe.log and the interfaces. */
const char *dpkg_verdict_text(enum dpkg_verdict v);

#endif
