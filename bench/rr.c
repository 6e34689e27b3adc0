/* rr: 1-byte TCP request/response over loopback, client on CPU 0 and
 * server on CPU 1; prints transactions per second. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3, t0, t;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = 1, l, s;
	long n = 0;
	char b = 'x';
	pid_t pid;

	alarm(secs + 30);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) || getsockname(l, (void *)&a, &al))
		return 1;
	pid = fork();
	if (pid == 0) {
		int c;

		pin(1);
		c = accept(l, NULL, NULL);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (read(c, &b, 1) == 1 && write(c, &b, 1) == 1)
			;
		_exit(0);
	}
	pin(0);
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s, (void *)&a, sizeof(a)))
		return 1;
	t0 = now();
	do {
		for (int i = 0; i < 100; i++)
			if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1)
				return 1;
		n += 100;
		t = now();
	} while (t - t0 < secs);
	close(s);
	waitpid(pid, NULL, 0);
	printf("%.1f\n", n / (t - t0));
	return 0;
}
