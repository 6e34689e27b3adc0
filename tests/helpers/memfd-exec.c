/* memfd-exec: runs a program from memory, the way fileless malware and
 * some packers do: copies FILE into a memfd (memfd_create) and fexecve()s
 * it with the given arguments.  Tests use it to check that picosnitch
 * hashes such processes and says where they run from.
 *
 *   memfd-exec FILE ARG0 [ARGS...]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct stat st;
	int in, mfd;
	off_t off = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: memfd-exec FILE ARG0 [ARGS...]\n");
		return 2;
	}
	in = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		fprintf(stderr, "memfd-exec: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	mfd = memfd_create("payload", MFD_CLOEXEC);
	if (mfd < 0) {
		perror("memfd-exec: memfd_create");
		return 1;
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, in, &off, st.st_size - off);

		if (n <= 0) {
			perror("memfd-exec: copy");
			return 1;
		}
	}
	close(in);
	fexecve(mfd, argv + 2, environ);
	perror("memfd-exec: fexecve");
	return 1;
}
