/* storm: many short TCP connections.
 *   storm sink PORTFILE SECONDS      accept and read everything for SECONDS,
 *                                    or after SIGUSR1 until a quiet 0.5 s
 *                                    (every connection read to its end);
 *                                    print the bytes read
 *   storm client PORT SECONDS BYTES  connect, send BYTES, close, as fast as
 *                                    possible; print "<connections> <bytes>
 *                                    <failed connects> <connects that found
 *                                    no free local port>" */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static volatile sig_atomic_t finishing;

static void on_usr1(int sig)
{
	(void)sig;
	finishing = 1;
}

static int sink(const char *portfile, double secs)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1, ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	char buf[65536], tmp[4096];
	long bytes = 0;
	double end;
	FILE *f;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (void *)&a, sizeof(a)) || listen(l, 4096) || getsockname(l, (void *)&a, &al))
		return 1;
	ev.data.fd = l;
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	f = fopen(tmp, "w");
	fprintf(f, "%d\n", ntohs(a.sin_port));
	fclose(f);
	rename(tmp, portfile);
	signal(SIGUSR1, on_usr1);
	end = now() + secs;
	while (now() < end) {
		int n = epoll_wait(ep, evs, 256, finishing ? 500 : 100);

		if (n == 0 && finishing)
			break;

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == l) {
				int c;

				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(fd, buf, sizeof(buf));

				if (r > 0) {
					bytes += r;
					continue;
				}
				if (r == 0 || errno != EAGAIN)
					close(fd);
				break;
			}
		}
	}
	printf("%ld\n", bytes);
	return 0;
}

static int client(int port, double secs, int size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char buf[65536] = { 0 };
	long conns = 0, bytes = 0, failed = 0, noport = 0;
	double end = now() + secs;

	while (now() < end) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0)
			return 1;
		if (connect(s, (void *)&a, sizeof(a)) == 0) {
			conns++;
			if (write(s, buf, size) == size)
				bytes += size;
		} else if (errno == EADDRNOTAVAIL) {
			noport++;	/* no local port free: nothing was sent */
		} else {
			failed++;
		}
		close(s);
	}
	printf("%ld %ld %ld %ld\n", conns, bytes, failed, noport);
	return 0;
}

int main(int argc, char **argv)
{
	alarm(120);
	if (argc == 4 && !strcmp(argv[1], "sink"))
		return sink(argv[2], atof(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]), atof(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: storm sink PORTFILE SECONDS | storm client PORT SECONDS BYTES\n");
	return 2;
}
