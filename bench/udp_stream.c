/* udp_stream: small UDP datagrams over loopback as fast as the sender can
 * go (CPU 0) to a receiver on CPU 1; prints payload bytes received per
 * second.  Usage: udp_stream SECONDS SIZE */
#include <arpa/inet.h>
#include <netinet/in.h>
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
	int size = argc > 2 ? atoi(argv[2]) : 64, big = 8 << 20;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct timeval tv = { 0, 200000 };
	char buf[65536] = { 0 };
	long bytes = 0;
	pid_t pid;
	int r;

	alarm(secs + 30);
	r = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(r, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(r, (void *)&a, sizeof(a)) || getsockname(r, (void *)&a, &al))
		return 1;
	pid = fork();
	if (pid == 0) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);

		pin(0);
		if (connect(s, (void *)&a, sizeof(a)))
			_exit(1);
		for (;;)
			send(s, buf, size, 0);
	}
	pin(1);
	t0 = now();
	do {
		for (int i = 0; i < 256; i++) {
			ssize_t n = recv(r, buf, sizeof(buf), 0);

			if (n > 0)
				bytes += n;
		}
		t = now();
	} while (t - t0 < secs);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	printf("%.1f\n", bytes / (t - t0));
	return 0;
}
