/* Fuzz target: whole HTTP requests of any bytes, through libmicrohttpd
 * into the dash's request handlers (src/dash/dash.c): the Host check, the
 * token (cookie, header, ?token=), the cross-site check, bodies, paths
 * (traversal, NULs, %-escapes), every API endpoint with any parameters,
 * the live stream, stop.  The server is the real one without a listening
 * socket: each input is written into one end of a socketpair whose other
 * end MHD_add_connection() gives it, and the answer is read back.  Seeds
 * carry the token of the state directory made here, so the fuzzer starts
 * past the door.  Invariants: no crash or leak (ASan, UBSan; valgrind in
 * t191 for the uninstrumented libraries), and every 200 is the server's
 * own answer, with its Content-Security-Policy. */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dash/dash_int.h"
#include "storage/store.h"

#define TOKEN "00112233445566778899aabbccddeeff"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[] = "/tmp/picosnitch-fuzz-http-XXXXXX";
static char db_path[sizeof(dir) + 16];
static struct dash_server *server;
static struct MHD_Daemon *daemon_;
static unsigned long stops;

static void on_stop(void)
{
	stops++;
}

static pid_t no_monitor(void)
{
	return 0;
}

static void cleanup(void)
{
	static const char *const files[] = { "snitch.db", "snitch.db-wal", "snitch.db-shm",
					     "dash.token" };
	char p[sizeof(dir) + 32];

	dash_server_free(server, daemon_);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conn_row row = {
		.time = 1000, .sent = 10, .received = 20, .flows = 1, .exe = "/usr/bin/curl",
		.name = "curl", .cmdline = "curl x", .sha256 = "a", .pexe = "/bin/sh", .pname = "sh",
		.pcmdline = "sh", .psha256 = "b", .gpexe = "", .gpname = "", .gpcmdline = "",
		.gpsha256 = "", .uid = 1000, .lport = 4000, .rport = 443, .laddr = "192.0.2.1",
		.raddr = "198.51.100.2", .domain = "org.example", .family = 2, .protocol = 6,
		.netns = 4026531840,
	};
	struct dash_env env = { .db_path = db_path, .monitor_pid = no_monitor, .port = "5100",
				.theme = "darkly", .scroll_zoom = true };
	char err[256], p[sizeof(dir) + 16];
	struct store *st;
	int fd;

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(db_path, sizeof(db_path), "%s/snitch.db", dir);
	snprintf(p, sizeof(p), "%s/dash.token", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, TOKEN "\n", 33) != 33)
		abort();
	close(fd);
	if (store_sqlite_open(db_path, &st, err, sizeof(err)) < 0 || store_write(st, &row, 1) < 0)
		abort();
	store_close(st);
	env.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (env.dirfd < 0 || dash_server_unbound(&env, on_stop, &server, &daemon_) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

/* Read the answer until the server closes, or (a live stream, which does
 * not end) until a quiet moment. */
static size_t read_answer(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		bool stream = n && memmem(buf, n, "text/event-stream", 17);
		ssize_t r;

		if (poll(&p, 1, stream ? 50 : 2000) <= 0)
			break;
		r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap - 1)
			break;
	}
	buf[n] = '\0';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char answer[1 << 20];
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(40000),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	size_t off = 0, n;
	int sv[2];

	if (size > 200000)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (MHD_add_connection(daemon_, sv[0], (struct sockaddr *)&peer, sizeof(peer)) != MHD_YES) {
		close(sv[1]);
		return 0;
	}
	/* the server may answer (and close) before it read everything */
	while (off < size) {
		struct pollfd p = { .fd = sv[1], .events = POLLOUT };
		ssize_t w;

		if (poll(&p, 1, 5000) <= 0)
			break;
		w = send(sv[1], data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	/* the end of the request only once the server has read it: with both
	 * in one wake-up, libmicrohttpd (edge-triggered epoll) may miss the
	 * end and wait for its timeout */
	{
		struct pollfd p = { .fd = sv[1], .events = POLLIN };

		poll(&p, 1, 5);
	}
	shutdown(sv[1], SHUT_WR);
	n = read_answer(sv[1], answer, sizeof(answer));
	close(sv[1]);
	/* a 200 is always the server's own answer, never libmicrohttpd's */
	if (n >= 12 && !memcmp(answer, "HTTP/1.1 200", 12) &&
	    !strstr(answer, "Content-Security-Policy: default-src 'none'"))
		abort();
	return 0;
}
