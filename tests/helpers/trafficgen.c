/* trafficgen: makes an exact, known amount of traffic by one chosen path, so
 * that tests can check picosnitch's totals to the byte.  Tests copy this
 * binary under a unique name per case, so every case is its own executable.
 * Every mode is bounded in time (alarm) and exits non-zero on any shortfall. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/sock_diag.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <liburing.h>

#include "../lib/rfc9001.h"

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "trafficgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fprintf(stderr, "\n");
	exit(1);
}

static long num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end)
		die("bad number '%s'", s);
	return v;
}

static socklen_t parse_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *ai;
	socklen_t len;

	if (getaddrinfo(host, NULL, &hints, &ai))
		die("bad address '%s'", host);
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return len;
}

/* Write the bound port to `file` atomically, which tells the test the
 * server is ready. */
static void announce(const char *file, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char tmp[4096];
	FILE *f;
	int port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		die("getsockname");
	port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	f = fopen(tmp, "w");
	if (!f)
		die("cannot write %s", tmp);
	fprintf(f, "%d\n", port);
	fclose(f);
	if (rename(tmp, file))
		die("rename %s", file);
}

static char buf[1 << 16];

/* ---- stream send and receive by method ---- */

static void send_all(int fd, long n, const char *method)
{
	struct io_uring ring;
	bool uring = !strcmp(method, "uring");

	if (uring && io_uring_queue_init(8, &ring, 0))
		die("io_uring_queue_init");
	if (!strcmp(method, "sendfile")) {
		int mfd = memfd_create("payload", MFD_CLOEXEC);
		off_t off = 0;

		if (mfd < 0 || ftruncate(mfd, n))
			die("memfd");
		while (off < n) {
			ssize_t w = sendfile(fd, mfd, &off, n - off);

			if (w <= 0)
				die("sendfile");
		}
		close(mfd);
		return;
	}
	if (!strcmp(method, "splice")) {
		int p[2];
		long left = n;

		if (pipe(p))
			die("pipe");
		while (left) {
			long chunk = left < 32768 ? left : 32768;
			ssize_t w = write(p[1], buf, chunk), s;

			if (w != chunk)
				die("write pipe");
			while (w) {
				s = splice(p[0], NULL, fd, NULL, w, SPLICE_F_MOVE);
				if (s <= 0)
					die("splice to socket");
				w -= s;
			}
			left -= chunk;
		}
		close(p[0]);
		close(p[1]);
		return;
	}
	while (n) {
		size_t chunk = n < (long)sizeof(buf) ? (size_t)n : sizeof(buf);
		ssize_t w;

		if (!strcmp(method, "rw")) {
			w = write(fd, buf, chunk);
		} else if (!strcmp(method, "msg")) {
			struct iovec iov = { buf, chunk };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

			w = sendmsg(fd, &mh, 0);
		} else if (uring) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			struct io_uring_cqe *cqe;

			io_uring_prep_send(sqe, fd, buf, chunk, 0);
			io_uring_submit(&ring);
			if (io_uring_wait_cqe(&ring, &cqe))
				die("io_uring_wait_cqe");
			w = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			if (w < 0) {
				errno = -w;
				w = -1;
			}
		} else {
			w = send(fd, buf, chunk, 0);
		}
		if (w <= 0)
			die("send (%s)", method);
		n -= w;
	}
	if (uring)
		io_uring_queue_exit(&ring);
}

static void recv_all(int fd, long n, const char *method)
{
	struct io_uring ring;
	bool uring = !strcmp(method, "uring");
	int p[2];

	if (uring && io_uring_queue_init(8, &ring, 0))
		die("io_uring_queue_init");
	if (!strcmp(method, "splice") && pipe(p))
		die("pipe");
	while (n) {
		size_t chunk = n < (long)sizeof(buf) ? (size_t)n : sizeof(buf);
		ssize_t r;

		if (!strcmp(method, "rw") || !strcmp(method, "sendfile")) {
			r = read(fd, buf, chunk);
		} else if (!strcmp(method, "msg")) {
			struct iovec iov = { buf, chunk };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

			r = recvmsg(fd, &mh, 0);
		} else if (!strcmp(method, "splice")) {
			r = splice(fd, NULL, p[1], NULL, chunk < 32768 ? chunk : 32768, SPLICE_F_MOVE);
			if (r > 0 && read(p[0], buf, r) != r)
				die("read pipe");
		} else if (uring) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			struct io_uring_cqe *cqe;

			io_uring_prep_recv(sqe, fd, buf, chunk, 0);
			io_uring_submit(&ring);
			if (io_uring_wait_cqe(&ring, &cqe))
				die("io_uring_wait_cqe");
			r = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			if (r < 0) {
				errno = -r;
				r = -1;
			}
		} else {
			r = recv(fd, buf, chunk, 0);
		}
		if (r < 0)
			die("recv (%s)", method);
		if (r == 0)
			die("peer closed with %ld bytes missing", n);
		n -= r;
	}
	if (uring)
		io_uring_queue_exit(&ring);
	if (!strcmp(method, "splice")) {
		close(p[0]);
		close(p[1]);
	}
}

/* Wait for the peer to close, so that both sides finish cleanly. */
static void wait_eof(int fd)
{
	char c;

	shutdown(fd, SHUT_WR);
	if (read(fd, &c, 1) != 0)
		die("unexpected data at the end");
}

static int tcp_listen(const char *host)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(host, 0, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16))
		die("listen on %s", host);
	return fd;
}

static int tcp_connect(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
		die("connect to %s port %d", host, port);
	return fd;
}

static int cmd_tcp_server(char **a)
{
	int l = tcp_listen(a[0]), c;

	announce(a[1], l);
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	recv_all(c, num(a[2]), a[4]);
	send_all(c, num(a[3]), a[4]);
	wait_eof(c);
	close(c);
	close(l);
	return 0;
}

static int cmd_tcp_client(char **a)
{
	int fd = tcp_connect(a[0], num(a[1]));

	send_all(fd, num(a[2]), a[4]);
	recv_all(fd, num(a[3]), a[4]);
	wait_eof(fd);
	close(fd);
	return 0;
}

/* ---- TCP Fast Open and resets ---- */

/* A Fast Open listener: CONNS connections, each receiving RECV bytes and
 * sending SEND.  The first connection of a client only fetches a cookie;
 * later ones carry data in their SYN. */
static int cmd_tfo_server(char **a)
{
	int l = tcp_listen(a[0]), qlen = 16;
	long conns = num(a[2]);

	if (setsockopt(l, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)))
		die("TCP_FASTOPEN");
	announce(a[1], l);
	for (long i = 0; i < conns; i++) {
		int c = accept(l, NULL, NULL);

		if (c < 0)
			die("accept");
		recv_all(c, num(a[3]), "rw");
		send_all(c, num(a[4]), "rw");
		wait_eof(c);
		close(c);
	}
	close(l);
	return 0;
}

/* A Fast Open client: sendto(MSG_FASTOPEN) connects and sends at once. */
static int cmd_tfo_client(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], num(a[1]), &ss);
	long n = num(a[2]), first = n < 1000 ? n : 1000;
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (sendto(fd, buf, first, MSG_FASTOPEN, (struct sockaddr *)&ss, len) != first)
		die("sendto MSG_FASTOPEN");
	send_all(fd, n - first, "rw");
	recv_all(fd, num(a[3]), "rw");
	wait_eof(fd);
	close(fd);
	return 0;
}

/* Receives RECV bytes, then resets the connection (SO_LINGER 0). */
static int cmd_tcp_reset_server(char **a)
{
	int l = tcp_listen(a[0]), c;
	struct linger lg = { 1, 0 };

	announce(a[1], l);
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	recv_all(c, num(a[2]), "rw");
	if (setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		die("SO_LINGER");
	close(c);
	close(l);
	return 0;
}

/* Sends SEND bytes, sees the peer's reset, and closes MS milliseconds later. */
static int cmd_tcp_reset_client(char **a)
{
	int fd = tcp_connect(a[0], num(a[1]));
	char c;

	send_all(fd, num(a[2]), "rw");
	if (read(fd, &c, 1) >= 0 || errno != ECONNRESET)
		die("expected a reset");
	usleep(num(a[3]) * 1000);
	close(fd);
	return 0;
}

/* ---- datagrams ---- */

#ifndef UDPLITE_SEND_CSCOV
#define UDPLITE_SEND_CSCOV 10	/* <linux/udp.h>, not in glibc's headers */
#define UDPLITE_RECV_CSCOV 11
#endif

/* TRAFFICGEN_UDPLITE=1: UDP-Lite instead, its checksum covering the
 * header only (so that its length field, the coverage, says 8). */
static int dgram_socket(int family)
{
	int lite = getenv("TRAFFICGEN_UDPLITE") != NULL, cov = 8;
	int fd = socket(family, SOCK_DGRAM, lite ? IPPROTO_UDPLITE : 0);

	if (fd < 0)
		die("socket");
	if (lite && (setsockopt(fd, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, &cov, sizeof(cov)) ||
		     setsockopt(fd, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV, &cov, sizeof(cov))))
		die("UDP-Lite coverage");
	return fd;
}

static int udp_socket(int family)
{
	int fd = dgram_socket(family), big = 4 << 20;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

static int cmd_udp_server(char **a)
{
	struct sockaddr_storage ss, peer;
	socklen_t len = parse_addr(a[0], 0, &ss), plen;
	long count = num(a[2]), size = num(a[3]), reply = num(a[4]);
	const char *method = a[5];
	int fd = udp_socket(ss.ss_family);

	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind");
	announce(a[1], fd);
	for (long i = 0; i < count;) {
		ssize_t r;

		plen = sizeof(peer);
		if (!strcmp(method, "mmsg")) {
			struct mmsghdr mm[8];
			struct iovec iov[8];
			struct sockaddr_storage from[8];
			int n;

			for (int j = 0; j < 8; j++) {
				iov[j] = (struct iovec){ buf + j * 2048, 2048 };
				mm[j].msg_hdr = (struct msghdr){ .msg_name = &from[j],
								 .msg_namelen = sizeof(from[j]),
								 .msg_iov = &iov[j],
								 .msg_iovlen = 1 };
			}
			n = recvmmsg(fd, mm, count - i < 8 ? count - i : 8, MSG_WAITFORONE, NULL);
			if (n <= 0)
				die("recvmmsg");
			for (int j = 0; j < n; j++) {
				if ((long)mm[j].msg_len != size)
					die("datagram of %u bytes, expected %ld", mm[j].msg_len, size);
				if (reply && sendto(fd, buf, reply, 0, (struct sockaddr *)&from[j],
						    mm[j].msg_hdr.msg_namelen) != reply)
					die("sendto");
			}
			i += n;
			continue;
		}
		if (!strcmp(method, "msg")) {
			struct iovec iov = { buf, sizeof(buf) };
			struct msghdr mh = { .msg_name = &peer, .msg_namelen = plen, .msg_iov = &iov,
					     .msg_iovlen = 1 };

			r = recvmsg(fd, &mh, 0);
			plen = mh.msg_namelen;
		} else {
			r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
		}
		if (r != size)
			die("datagram of %zd bytes, expected %ld", r, size);
		if (reply && sendto(fd, buf, reply, 0, (struct sockaddr *)&peer, plen) != reply)
			die("sendto");
		i++;
	}
	close(fd);
	return 0;
}

static int cmd_udp_client(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], num(a[1]), &ss);
	long count = num(a[2]), size = num(a[3]), reply = num(a[4]);
	const char *method = a[5];
	int fd = udp_socket(ss.ss_family);
	bool connected = !strcmp(method, "connected") || !strcmp(method, "rw") ||
			 !strcmp(method, "uring");

	if (connected && connect(fd, (struct sockaddr *)&ss, len))
		die("connect");
	for (long i = 0; i < count;) {
		ssize_t w;

		if (!strcmp(method, "mmsg")) {
			struct mmsghdr mm[8];
			struct iovec iov[8];
			int n = count - i < 8 ? count - i : 8;

			for (int j = 0; j < n; j++) {
				iov[j] = (struct iovec){ buf, size };
				mm[j].msg_hdr = (struct msghdr){ .msg_name = &ss, .msg_namelen = len,
								 .msg_iov = &iov[j],
								 .msg_iovlen = 1 };
			}
			if (sendmmsg(fd, mm, n, 0) != n)
				die("sendmmsg");
			for (int j = 0; j < n && reply; j++)
				if (recv(fd, buf, sizeof(buf), 0) != reply)
					die("reply");
			i += n;
			continue;
		}
		if (!strcmp(method, "sendto")) {
			w = sendto(fd, buf, size, 0, (struct sockaddr *)&ss, len);
		} else if (!strcmp(method, "msg")) {
			struct iovec iov = { buf, size };
			struct msghdr mh = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov,
					     .msg_iovlen = 1 };

			w = sendmsg(fd, &mh, 0);
		} else if (!strcmp(method, "rw")) {
			w = write(fd, buf, size);
		} else if (!strcmp(method, "uring")) {
			send_all(fd, size, "uring");
			w = size;
		} else {
			w = send(fd, buf, size, 0);
		}
		if (w != size)
			die("send of %ld bytes (%s)", size, method);
		if (reply) {
			ssize_t r;

			if (!strcmp(method, "rw"))
				r = read(fd, buf, sizeof(buf));
			else if (!strcmp(method, "uring")) {
				recv_all(fd, reply, "uring");
				r = reply;
			} else if (!strcmp(method, "msg")) {
				struct iovec iov = { buf, sizeof(buf) };
				struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

				r = recvmsg(fd, &mh, 0);
			} else
				r = recvfrom(fd, buf, sizeof(buf), 0, NULL, NULL);
			if (r != reply)
				die("reply of %zd bytes, expected %ld", r, reply);
		}
		i++;
	}
	close(fd);
	return 0;
}

/* ---- ICMP echo on a raw socket (filtered to echo replies) or a ping socket ---- */

static int cmd_icmp(char **a, bool ping_socket)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 0, &ss);
	long count = num(a[1]), size = num(a[2]);
	bool v6 = ss.ss_family == AF_INET6;
	int proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	int fd = socket(ss.ss_family, ping_socket ? SOCK_DGRAM : SOCK_RAW, proto);
	uint8_t pkt[2048];

	if (fd < 0)
		die("icmp socket");
	if (!ping_socket && !v6) {
		uint32_t filter = ~(1u << ICMP_ECHOREPLY);

		if (setsockopt(fd, SOL_RAW, 1 /* ICMP_FILTER */, &filter, sizeof(filter)))
			die("ICMP_FILTER");
	} else if (!ping_socket) {
		struct icmp6_filter f;

		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)))
			die("ICMP6_FILTER");
	}
	for (long i = 0; i < count; i++) {
		struct icmphdr *h = (struct icmphdr *)pkt;
		long want;
		ssize_t r;

		memset(pkt, 0, 8 + size);
		h->type = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
		h->un.echo.id = htons(getpid() & 0xffff);
		h->un.echo.sequence = htons(i);
		if (!v6 && !ping_socket) {
			uint32_t sum = 0;

			for (long j = 0; j < 8 + size; j += 2)
				sum += (pkt[j] << 8) | (j + 1 < 8 + size ? pkt[j + 1] : 0);
			while (sum >> 16)
				sum = (sum & 0xffff) + (sum >> 16);
			h->checksum = htons(~sum);
		}
		if (sendto(fd, pkt, 8 + size, 0, (struct sockaddr *)&ss, len) != 8 + size)
			die("sendto");
		/* raw IPv4 sockets read the IP header too */
		want = 8 + size + (!v6 && !ping_socket ? 20 : 0);
		r = recv(fd, pkt, sizeof(pkt), 0);
		if (r != want)
			die("echo reply of %zd bytes, expected %ld", r, want);
	}
	close(fd);
	return 0;
}

/* ---- other IP protocols on raw sockets ---- */

static int cmd_rawip_recv(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 0, &ss);
	long count = num(a[1]), proto = num(a[2]);
	int fd = socket(ss.ss_family, SOCK_RAW, proto);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len))
		die("raw socket for protocol %ld", proto);
	announce(a[3], fd);
	for (long i = 0; i < count; i++)
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			die("recv");
	close(fd);
	return 0;
}

static int cmd_rawip_send(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 0, &ss);
	long count = num(a[1]), size = num(a[2]), proto = num(a[3]), hdrincl = num(a[4]);
	int fd = socket(ss.ss_family, SOCK_RAW, proto), one = 1;

	if (fd < 0)
		die("raw socket");
	if (hdrincl) {
		struct iphdr *ip = (struct iphdr *)buf;

		if (ss.ss_family != AF_INET)
			die("IP_HDRINCL needs IPv4");
		if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)))
			die("IP_HDRINCL");
		memset(buf, 0, 20 + size);
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = proto;
		ip->tot_len = htons(20 + size);
		ip->daddr = ((struct sockaddr_in *)&ss)->sin_addr.s_addr;
	}
	for (long i = 0; i < count; i++) {
		long n = hdrincl ? 20 + size : size;

		if (sendto(fd, buf, n, 0, (struct sockaddr *)&ss, len) != n)
			die("sendto");
	}
	close(fd);
	return 0;
}

/* ---- AF_PACKET frames ---- */

static int packet_socket(const char *ifname, int proto)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(proto) };
	int fd = socket(AF_PACKET, SOCK_RAW, htons(proto));

	if (fd < 0)
		die("packet socket");
	sll.sll_ifindex = if_nametoindex(ifname);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind to %s", ifname);
	return fd;
}

static int cmd_packet_recv(char **a)
{
	long count = num(a[1]), type = num(a[2]);
	int fd = packet_socket(a[0], type);
	FILE *f = fopen(a[3], "w");

	if (!f)
		die("ready file");
	fclose(f);
	for (long i = 0; i < count; i++)
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			die("recv");
	close(fd);
	return 0;
}

/* A reader that never sleeps: each frame is first peeked (it stays queued,
 * and must not count twice), then read, both without waiting, so the
 * frames are taken as soon as they are queued, often before the socket's
 * wake-up has run. */
static int cmd_packet_spin(char **a)
{
	long count = num(a[1]), type = num(a[2]);
	int fd = packet_socket(a[0], type), size = 16 << 20;
	FILE *f = fopen(a[3], "w");

	/* room for every frame, so that none is dropped if the reader falls
	 * behind */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		die("SO_RCVBUFFORCE");
	if (!f)
		die("ready file");
	fclose(f);
	for (long i = 0; i < count;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);

		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0 || recv(fd, buf, sizeof(buf), MSG_DONTWAIT) != n)
			die("recv");
		i++;
	}
	/* a reader that never sleeps is never named by the wake-up, so the
	 * monitor finds it in /proc: it must still hold the socket then */
	sleep(3);
	close(fd);
	return 0;
}

/* Reads COUNT - UNREAD frames, waits for SENTFILE (the sender is done) and
 * for the rest to be queued, then closes with them unread. */
static int cmd_packet_leave(char **a)
{
	long count = num(a[1]), type = num(a[2]), unread = num(a[4]);
	int fd = packet_socket(a[0], type);
	FILE *f = fopen(a[3], "w");
	int queued = 0;

	if (!f)
		die("ready file");
	fclose(f);
	for (long i = 0; i < count - unread; i++)
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			die("recv");
	while (access(a[5], F_OK))
		usleep(10000);
	/* each arriving frame adds to the receive memory: wait until it
	 * stops growing */
	for (int same = 0, last = -1; same < 20; usleep(10000)) {
		uint32_t mem[SK_MEMINFO_VARS];
		socklen_t len = sizeof(mem);

		if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len))
			die("SO_MEMINFO");
		queued = mem[SK_MEMINFO_RMEM_ALLOC];
		same = queued == last ? same + 1 : 0;
		last = queued;
	}
	if (!queued)
		die("no frame left unread");
	close(fd);
	return 0;
}

static int packet_send(char **a, long gap_ms)
{
	long count = num(a[1]), size = num(a[2]), type = num(a[3]);
	int fd = packet_socket(a[0], 0);	/* protocol 0: this socket receives nothing */
	struct ether_header *eh = (struct ether_header *)buf;

	memset(buf, 0, size);
	memset(eh->ether_dhost, 0xff, 6);
	eh->ether_shost[0] = 0x02;
	eh->ether_type = htons(type);
	for (long i = 0; i < count; i++) {
		if (i && gap_ms)
			usleep(gap_ms * 1000);
		if (send(fd, buf, size, 0) != size)
			die("send frame");
	}
	close(fd);
	return 0;
}

static int cmd_packet_send(char **a)
{
	return packet_send(a, 0);
}

/* Frames MS apart: a reader that waits is asleep when each arrives. */
static int cmd_packet_paced(char **a)
{
	return packet_send(a, num(a[4]));
}

/* ---- a socket used by another process than the one that made it ---- */

static int cmd_inherit_parent(char **a)
{
	int fd = tcp_connect(a[0], num(a[1]));
	char fdnum[16];
	pid_t pid;
	int status;

	send_all(fd, num(a[2]), "rw");
	snprintf(fdnum, sizeof(fdnum), "%d", fd);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execl(a[3], a[3], "inherit-child", fdnum, a[4], a[5], (char *)NULL);
		die("exec %s", a[3]);
	}
	close(fd);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		die("child failed");
	return 0;
}

static int cmd_inherit_child(char **a)
{
	int fd = num(a[0]);

	send_all(fd, num(a[1]), "rw");
	recv_all(fd, num(a[2]), "rw");
	wait_eof(fd);
	return 0;
}

static int unix_socket(const char *path, bool listen_on)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	if (fd < 0)
		die("unix socket");
	if (listen_on) {
		unlink(path);
		if (bind(fd, (struct sockaddr *)&un, sizeof(un)) || listen(fd, 1))
			die("listen on %s", path);
	} else if (connect(fd, (struct sockaddr *)&un, sizeof(un))) {
		die("connect to %s", path);
	}
	return fd;
}

static int cmd_scm_sender(char **a)
{
	int fd = tcp_connect(a[1], num(a[2])), u = unix_socket(a[0], false);
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 'x';
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	send_all(fd, num(a[3]), "rw");
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(u, &mh, 0) != 1)
		die("sendmsg SCM_RIGHTS");
	close(fd);
	/* wait until the receiver is done with it */
	if (read(u, &c, 1) < 0)
		die("read");
	close(u);
	return 0;
}

static int cmd_scm_receiver(char **a)
{
	int l = unix_socket(a[0], true), u, fd;
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	FILE *f = fopen(a[3], "w");

	if (!f)
		die("ready file");
	fclose(f);
	u = accept(l, NULL, NULL);
	if (u < 0 || recvmsg(u, &mh, 0) != 1 || !CMSG_FIRSTHDR(&mh))
		die("recvmsg SCM_RIGHTS");
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	send_all(fd, num(a[1]), "rw");
	recv_all(fd, num(a[2]), "rw");
	wait_eof(fd);
	close(fd);
	if (write(u, "k", 1) != 1)
		die("write");
	close(u);
	close(l);
	unlink(a[0]);
	return 0;
}

/* ---- short-lived: one datagram, then exit at once ---- */

static int cmd_udp_once(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], num(a[1]), &ss);
	long size = num(a[2]);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);

	if (sendto(fd, buf, size, 0, (struct sockaddr *)&ss, len) != size)
		die("sendto");
	_exit(0);
}

/* RFC 9001 A.2's client Initial (its ClientHello names example.com), as
 * a QUIC client's first datagram, from a connected socket. */
static int cmd_quic_initial(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], num(a[1]), &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
		die("connect");
	if (send(fd, rfc9001_client_initial, sizeof(rfc9001_client_initial), 0) !=
	    (ssize_t)sizeof(rfc9001_client_initial))
		die("send");
	_exit(0);
}

static int cmd_tcp_once(char **a)
{
	int fd = tcp_connect(a[0], num(a[1]));

	send_all(fd, num(a[2]), "rw");
	_exit(0);	/* the kernel finishes sending after we are gone */
}

/* A sink for many short connections: reads everything, counts bytes. */
static int cmd_tcp_sink(char **a)
{
	int l = tcp_listen(a[0]);
	long conns = num(a[2]), total = 0;

	announce(a[1], l);
	for (long i = 0; i < conns; i++) {
		int c = accept(l, NULL, NULL);
		ssize_t r;

		if (c < 0)
			die("accept");
		while ((r = read(c, buf, sizeof(buf))) > 0)
			total += r;
		close(c);
	}
	printf("%ld\n", total);
	return 0;
}

static int cmd_udp_sink(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 0, &ss);
	long count = num(a[2]);
	int fd = udp_socket(ss.ss_family);

	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind");
	announce(a[1], fd);
	for (long i = 0; i < count; i++)
		if (recv(fd, buf, sizeof(buf), 0) < 0)
			die("recv");
	return 0;
}

/* A connected UDP sender that takes its time: COUNT datagrams of SIZE
 * bytes, MS milliseconds apart, so that its socket lives across drains. */
static int cmd_udp_paced(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], num(a[1]), &ss);
	long count = num(a[2]), size = num(a[3]), ms = num(a[4]);
	int fd = udp_socket(ss.ss_family);

	if (connect(fd, (struct sockaddr *)&ss, len))
		die("connect");
	for (long i = 0; i < count; i++) {
		if (send(fd, buf, size, 0) != size)
			die("send");
		usleep(ms * 1000);
	}
	return 0;
}

/* One datagram of SIZE bytes to each of NPORTS ports from PORT0 up (on
 * loopback nothing needs to listen): as many entries in the log as ports. */
static int cmd_udp_spray(char **a)
{
	struct sockaddr_storage ss;
	long port0 = num(a[1]), nports = num(a[2]), size = num(a[3]);
	int fd = udp_socket(parse_addr(a[0], 0, &ss) ? ss.ss_family : AF_INET);

	for (long i = 0; i < nports; i++) {
		socklen_t len = parse_addr(a[0], port0 + i, &ss);

		if (sendto(fd, buf, size, 0, (struct sockaddr *)&ss, len) != size)
			die("sendto");
	}
	return 0;
}

static volatile sig_atomic_t stop_counting;

static void on_term(int sig)
{
	(void)sig;
	stop_counting = 1;
}

/* Receives until SIGTERM, then writes the number of bytes received
 * (datagrams already queued included) to OUTFILE. */
static int cmd_udp_count_sink(char **a)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 0, &ss);
	int fd = udp_socket(ss.ss_family);
	long long total = 0;
	ssize_t n;
	FILE *f;

	alarm(0);	/* it waits for its SIGTERM however long the test takes */
	sigaction(SIGTERM, &sa, NULL);
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind");
	announce(a[1], fd);
	while (!stop_counting) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("recv");
		total += n;
	}
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += n;
	f = fopen(a[2], "w");
	if (!f || fprintf(f, "%lld\n", total) < 0 || fclose(f))
		die("cannot write %s", a[2]);
	return 0;
}

/* A connected UDP socket used by three in turn: the parent sends COUNT
 * datagrams, a child it execs sends CHILDCOUNT on the inherited socket,
 * then the parent sends COUNT more. */
static int cmd_udp_inherit_parent(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], num(a[1]), &ss);
	long count = num(a[2]), size = num(a[3]);
	int fd = udp_socket(ss.ss_family), status;
	char fdnum[16];
	pid_t pid;

	if (connect(fd, (struct sockaddr *)&ss, len))
		die("connect");
	for (long i = 0; i < count; i++)
		if (send(fd, buf, size, 0) != size)
			die("send");
	snprintf(fdnum, sizeof(fdnum), "%d", fd);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execl(a[4], a[4], "udp-inherit-child", fdnum, a[5], a[3], (char *)NULL);
		die("exec %s", a[4]);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		die("child failed");
	for (long i = 0; i < count; i++)
		if (send(fd, buf, size, 0) != size)
			die("send");
	return 0;
}

static int cmd_udp_inherit_child(char **a)
{
	int fd = num(a[0]);
	long count = num(a[1]), size = num(a[2]);

	for (long i = 0; i < count; i++)
		if (send(fd, buf, size, 0) != size)
			die("send");
	return 0;
}

/* A UDP receiver that lets its small receive buffer overflow: it reads
 * nothing until GOFILE exists, then reads what was kept and writes the
 * number of bytes it got to OUTFILE. */
static int cmd_udp_overflow(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 0, &ss);
	int fd = dgram_socket(ss.ss_family), rcvbuf = (int)num(a[2]);
	long total = 0;
	ssize_t n;
	FILE *f;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		die("socket");
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind");
	announce(a[1], fd);
	while (access(a[3], F_OK))
		usleep(10000);
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
		total += n;
	if (errno != EAGAIN)
		die("recv");
	f = fopen(a[4], "w");
	if (!f || fprintf(f, "%ld\n", total) < 0 || fclose(f))
		die("%s", a[4]);
	return 0;
}

/* ---- DNS: a server that answers every question with one address, and a
 * client that asks ---- */

static size_t dns_put_name(uint8_t *p, const char *name)
{
	size_t n = 0;

	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

/* Answer COUNT questions on ADDR port 53: A questions with ADDR4, AAAA
 * questions with ADDR6, under the name asked. */
static int cmd_dns_server(char **a)
{
	struct sockaddr_storage ss, peer;
	socklen_t len = parse_addr(a[0], 53, &ss), plen;
	struct in_addr a4;
	struct in6_addr a6;
	long count = num(a[4]);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);

	if (inet_pton(AF_INET, a[2], &a4) != 1 || inet_pton(AF_INET6, a[3], &a6) != 1)
		die("addresses");
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len))
		die("bind port 53");
	announce(a[1], fd);
	for (long i = 0; i < count; i++) {
		uint8_t q[512], r[600];
		ssize_t n;
		size_t qend = 12, rn;
		uint16_t qtype;

		plen = sizeof(peer);
		n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&peer, &plen);
		if (n < 17)
			die("query");
		while (qend < (size_t)n && q[qend])
			qend += q[qend] + 1;
		qend += 5;	/* the root label, type, class */
		if (qend > (size_t)n)
			die("question");
		qtype = (uint16_t)(q[qend - 4] << 8 | q[qend - 3]);
		memcpy(r, q, qend);
		r[2] = 0x81;	/* a response, recursion desired and available */
		r[3] = 0x80;
		r[6] = 0;	/* one answer */
		r[7] = 1;
		r[8] = r[9] = r[10] = r[11] = 0;
		rn = qend;
		r[rn++] = 0xc0;	/* the question's name */
		r[rn++] = 0x0c;
		r[rn++] = 0;
		r[rn++] = qtype == 28 ? 28 : 1;
		r[rn++] = 0;	/* IN */
		r[rn++] = 1;
		memcpy(r + rn, "\0\0\0\x3c", 4);	/* TTL 60 */
		rn += 4;
		r[rn++] = 0;
		if (qtype == 28) {
			r[rn++] = 16;
			memcpy(r + rn, &a6, 16);
			rn += 16;
		} else {
			r[rn++] = 4;
			memcpy(r + rn, &a4, 4);
			rn += 4;
		}
		if (sendto(fd, r, rn, 0, (struct sockaddr *)&peer, plen) != (ssize_t)rn)
			die("answer");
	}
	return 0;
}

/* Ask SERVER (port 53) for NAME, type A or AAAA, and wait for the answer. */
static int cmd_dns_query(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 53, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	uint8_t q[300] = { 0x4a, 0x17, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }, r[600];
	size_t n = 12;
	bool v6 = !strcmp(a[2], "AAAA");

	if (strlen(a[1]) > 250)
		die("name too long");
	n += dns_put_name(q + n, a[1]);
	q[n++] = 0;
	q[n++] = v6 ? 28 : 1;
	q[n++] = 0;
	q[n++] = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) || send(fd, q, n, 0) != (ssize_t)n)
		die("query");
	if (recv(fd, r, sizeof(r), 0) < 12 || r[0] != 0x4a || r[1] != 0x17)
		die("answer");
	return 0;
}

/* DNS over TCP: answer COUNT connections on ADDR port 53, each with one
 * A question, with ADDR4 (the length prefix and the message in separate
 * writes, as some servers do). */
static int cmd_dns_tcp_server(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 53, &ss);
	struct in_addr a4;
	long count = num(a[3]);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (inet_pton(AF_INET, a[2], &a4) != 1)
		die("address");
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 8))
		die("listen on port 53");
	announce(a[1], fd);
	for (long i = 0; i < count; i++) {
		uint8_t q[514], r[600], pre[2];
		size_t got = 0, need = 2, qend = 12, rn;
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			die("accept");
		while (got < need) {
			ssize_t n = recv(c, q + got, need - got, 0);

			if (n <= 0)
				die("query");
			got += (size_t)n;
			if (got == 2)
				need = 2 + (size_t)(q[0] << 8 | q[1]);
			if (need > sizeof(q))
				die("query too long");
		}
		while (2 + qend < need && q[2 + qend])
			qend += q[2 + qend] + 1;
		qend += 5;
		if (2 + qend > need)
			die("question");
		memcpy(r, q + 2, qend);
		r[2] = 0x81;
		r[3] = 0x80;
		r[6] = 0;
		r[7] = 1;
		r[8] = r[9] = r[10] = r[11] = 0;
		rn = qend;
		memcpy(r + rn, "\xc0\x0c\0\x01\0\x01\0\0\0\x3c\0\x04", 12);
		rn += 12;
		memcpy(r + rn, &a4, 4);
		rn += 4;
		pre[0] = (uint8_t)(rn >> 8);
		pre[1] = (uint8_t)rn;
		if (send(c, pre, 2, 0) != 2 || send(c, r, rn, 0) != (ssize_t)rn)
			die("answer");
		close(c);
	}
	return 0;
}

/* Ask SERVER (TCP port 53) for NAME (A) and wait for the answer. */
static int cmd_dns_tcp_query(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a[0], 53, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	uint8_t q[300] = { 0, 0, 0x5c, 0xa1, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }, r[600];
	size_t n = 14, got = 0;

	if (strlen(a[1]) > 250)
		die("name too long");
	n += dns_put_name(q + n, a[1]);
	q[n++] = 0;
	q[n++] = 1;
	q[n++] = 0;
	q[n++] = 1;
	q[0] = (uint8_t)((n - 2) >> 8);
	q[1] = (uint8_t)(n - 2);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) || send(fd, q, n, 0) != (ssize_t)n)
		die("query");
	for (;;) {
		ssize_t k = recv(fd, r + got, sizeof(r) - got, 0);

		if (k <= 0)
			break;
		got += (size_t)k;
	}
	if (got < 14 || r[2] != 0x5c || r[3] != 0xa1)
		die("answer");
	return 0;
}

struct mode {
	const char *name;
	int nargs;
	int (*fn)(char **a);
	const char *usage;
};

static int cmd_icmp_raw(char **a)
{
	return cmd_icmp(a, false);
}

static int cmd_icmp_ping(char **a)
{
	return cmd_icmp(a, true);
}

static const struct mode modes[] = {
	{ "tcp-server", 5, cmd_tcp_server, "ADDR PORTFILE RECV SEND METHOD" },
	{ "tcp-client", 5, cmd_tcp_client, "ADDR PORT SEND RECV METHOD" },
	{ "tfo-server", 5, cmd_tfo_server, "ADDR PORTFILE CONNECTIONS RECV SEND" },
	{ "tfo-client", 4, cmd_tfo_client, "ADDR PORT SEND RECV" },
	{ "tcp-reset-server", 3, cmd_tcp_reset_server, "ADDR PORTFILE RECV" },
	{ "tcp-reset-client", 4, cmd_tcp_reset_client, "ADDR PORT SEND MS" },
	{ "udp-server", 6, cmd_udp_server, "ADDR PORTFILE COUNT SIZE REPLY METHOD" },
	{ "udp-client", 6, cmd_udp_client, "ADDR PORT COUNT SIZE REPLY METHOD" },
	{ "icmp", 3, cmd_icmp_raw, "ADDR COUNT SIZE" },
	{ "ping", 3, cmd_icmp_ping, "ADDR COUNT SIZE" },
	{ "rawip-recv", 4, cmd_rawip_recv, "ADDR COUNT PROTO READYFILE" },
	{ "rawip-send", 5, cmd_rawip_send, "ADDR COUNT SIZE PROTO HDRINCL" },
	{ "packet-recv", 4, cmd_packet_recv, "IFNAME COUNT ETHERTYPE READYFILE" },
	{ "packet-spin", 4, cmd_packet_spin, "IFNAME COUNT ETHERTYPE READYFILE" },
	{ "packet-leave", 6, cmd_packet_leave, "IFNAME COUNT ETHERTYPE READYFILE UNREAD SENTFILE" },
	{ "packet-send", 4, cmd_packet_send, "IFNAME COUNT SIZE ETHERTYPE" },
	{ "packet-paced", 5, cmd_packet_paced, "IFNAME COUNT SIZE ETHERTYPE MS" },
	{ "inherit-parent", 6, cmd_inherit_parent, "ADDR PORT SEND CHILDPROG CHILDSEND CHILDRECV" },
	{ "inherit-child", 3, cmd_inherit_child, "FD SEND RECV" },
	{ "scm-sender", 4, cmd_scm_sender, "UNIXPATH ADDR PORT SEND" },
	{ "scm-receiver", 4, cmd_scm_receiver, "UNIXPATH SEND RECV READYFILE" },
	{ "udp-once", 3, cmd_udp_once, "ADDR PORT SIZE" },
	{ "tcp-once", 3, cmd_tcp_once, "ADDR PORT SIZE" },
	{ "quic-initial", 2, cmd_quic_initial, "ADDR PORT" },
	{ "tcp-sink", 3, cmd_tcp_sink, "ADDR PORTFILE CONNECTIONS" },
	{ "udp-sink", 3, cmd_udp_sink, "ADDR PORTFILE COUNT" },
	{ "udp-paced", 5, cmd_udp_paced, "ADDR PORT COUNT SIZE MS" },
	{ "udp-spray", 4, cmd_udp_spray, "ADDR PORT0 NPORTS SIZE" },
	{ "udp-count-sink", 3, cmd_udp_count_sink, "ADDR PORTFILE OUTFILE" },
	{ "udp-inherit-parent", 6, cmd_udp_inherit_parent,
	  "ADDR PORT COUNT SIZE CHILDPROG CHILDCOUNT" },
	{ "udp-inherit-child", 3, cmd_udp_inherit_child, "FD COUNT SIZE" },
	{ "udp-overflow", 5, cmd_udp_overflow, "ADDR PORTFILE RCVBUF GOFILE OUTFILE" },
	{ "dns-server", 5, cmd_dns_server, "ADDR PORTFILE ADDR4 ADDR6 COUNT" },
	{ "dns-query", 3, cmd_dns_query, "SERVER NAME A|AAAA" },
	{ "dns-tcp-server", 4, cmd_dns_tcp_server, "ADDR PORTFILE ADDR4 COUNT" },
	{ "dns-tcp-query", 2, cmd_dns_tcp_query, "SERVER NAME" },
};

int main(int argc, char **argv)
{
	int first = 1;

	alarm(60);
	memset(buf, 'p', sizeof(buf));
	/* "rename NAME MODE ...": prctl(PR_SET_NAME) first */
	if (argc > 3 && !strcmp(argv[1], "rename")) {
		if (prctl(PR_SET_NAME, argv[2], 0, 0, 0))
			die("prctl");
		first = 3;
	}
	for (size_t i = 0; argc > first && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[first], modes[i].name))
			continue;
		if (argc - first - 1 != modes[i].nargs) {
			fprintf(stderr, "usage: trafficgen %s %s\n", modes[i].name, modes[i].usage);
			return 2;
		}
		return modes[i].fn(argv + first + 1);
	}
	fprintf(stderr, "usage: trafficgen [rename NAME] MODE ARGS...\nmodes:");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(stderr, " %s", modes[i].name);
	fprintf(stderr, "\n");
	return 2;
}
