/* execs: runs PROGRAM N times (fork + execv, one at a time per worker, W
 * workers), as fast as it can, and prints the elapsed seconds.  The exec
 * storm benchmark uses it to flood the exec tracepoint.
 *
 *   execs PROGRAM N WORKERS
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long n, workers;

	if (argc != 4) {
		fprintf(stderr, "usage: execs PROGRAM N WORKERS\n");
		return 2;
	}
	n = atol(argv[2]);
	workers = atol(argv[3]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long w = 0; w < workers; w++) {
		if (fork() == 0) {
			long mine = n / workers + (w < n % workers);

			for (long i = 0; i < mine; i++) {
				pid_t p = fork();

				if (p == 0) {
					execl(argv[1], argv[1], (char *)NULL);
					_exit(127);
				}
				if (p < 0 || waitpid(p, NULL, 0) < 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.3f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
