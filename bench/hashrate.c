/* hashrate: picosnitch's SHA-256 (sha256_fd, as the hashing workers run
 * it) over a file, best of N runs, in MB/s.  Linked with the daemon's own
 * objects so the number is the daemon's, not a stand-in's.
 *
 *   hashrate FILE RUNS [md5]
 * prints "<MB/s> <hex digest>"; with md5, SHA-256 and MD5 in one pass (as
 * before the MD5 was computed only for files a package lists).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/sha256.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double best = 0;
	char hex[65];
	struct stat st;
	int fd, runs;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "md5"))) {
		fprintf(stderr, "usage: hashrate FILE RUNS [md5]\n");
		return 2;
	}
	runs = atoi(argv[2]);
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 0; i < runs; i++) {
		double t0 = now(), rate;

		char md5[33];

		if ((argc == 4 ? digests_fd(fd, hex, md5) : sha256_fd(fd, hex)) < 0) {
			fprintf(stderr, "hashrate: cannot read %s\n", argv[1]);
			return 1;
		}
		rate = st.st_size / (now() - t0) / 1e6;
		if (rate > best)
			best = rate;
	}
	printf("%.0f %s\n", best, hex);
	return 0;
}
