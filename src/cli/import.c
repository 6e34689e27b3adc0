/* `picosnitch import FILE`: opens snitch.db, imports, prints the report:
 * one "key: value" line each, in this order (the man page lists them). */
#include "cli/import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "storage/import.h"
#include "storage/store.h"
#include "util/log.h"
#include "util/strutil.h"

static void utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

static void report(const char *shown, const struct import_report *rep)
{
	char a[64], b[64];

	printf("imported: %s (schema %d, picosnitch %s)\n", shown, rep->schema,
	       rep->schema == 3 ? "1.x" : "2.x");
	printf("rows in the file: %llu\n", (unsigned long long)rep->rows);
	printf("added: %llu\n", (unsigned long long)rep->added);
	printf("already present: %llu\n", (unsigned long long)rep->present);
	printf("skipped: %llu\n", (unsigned long long)rep->skipped);
	printf("bytes sent: %llu\n", (unsigned long long)rep->sent);
	printf("bytes received: %llu\n", (unsigned long long)rep->received);
	if (rep->first <= rep->last) {
		utc(rep->first, a, sizeof(a));
		utc(rep->last, b, sizeof(b));
		printf("time span: %s .. %s\n", a, b);
	} else {
		printf("time span: none\n");
	}
	for (size_t i = 0; i < rep->n_reasons; i++)
		printf("skipped, %s: %llu\n", rep->reasons[i].text,
		       (unsigned long long)rep->reasons[i].rows);
	if (rep->other_reasons)
		printf("skipped, other reasons: %llu\n", (unsigned long long)rep->other_reasons);
}

int import_into(const char *dir, const char *db, const char *file)
{
	char *shown = text_from_bytes(file, strlen(file)), err[512] = "";
	struct import_report *rep = calloc(1, sizeof(*rep));
	struct store *dst = NULL;
	struct stat a, b;
	int r, status = 1;

	if (!shown || !rep) {
		log_error("import: out of memory");
		goto out;
	}
	if (stat(file, &a) < 0) {
		log_errno(-errno, "import: %s", shown);
		goto out;
	}
	if (!S_ISREG(a.st_mode)) {
		log_error("import: %s: not a regular file", shown);
		goto out;
	}
	if (stat(db, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		log_error("import: %s is this picosnitch's own snitch.db", shown);
		goto out;
	}
	/* created as the user's, like the logger's files */
	umask(077);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_errno(-errno, "import: cannot make the state directory %s", dir);
		goto out;
	}
	r = store_sqlite_open(db, &dst, err, sizeof(err));
	if (r < 0) {
		log_error("import: cannot open %s: %s", db, err);
		goto out;
	}
	r = import_snitch_db(file, dst, rep, err, sizeof(err));
	if (r < 0) {
		log_error("import: %s: %s", shown, err);
		if (rep->added)
			log_error("import: %llu entries were added before that; importing the file "
				  "again adds the rest", (unsigned long long)rep->added);
		goto out;
	}
	report(shown, rep);
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	store_close(dst);
	free(rep);
	free(shown);
	return status;
}
