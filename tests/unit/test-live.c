/* Tests of the live feed: the logger's per-second sums and their JSON
 * (src/logger/live.c), and the dash's check of that JSON before it goes to
 * browsers (src/dash/dash_live.c): exact text, the busiest first, the
 * bounds (LIVE_TOP names, LIVE_DATAGRAM_MAX bytes, LIVE_EXES_MAX entries),
 * and datagrams the dash refuses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dash/dash_live.h"
#include "logger/live.h"
#include "tap.h"

static char *render(struct live *lv)
{
	size_t len = 0;
	char *t = live_render(lv, 1700000000, 1000, &len);

	ok(t && len == strlen(t), "rendered, with its length");
	return t;
}

static void check_event(const char *in, const char *want, const char *what)
{
	char *out = NULL;
	int r = dash_live_event(in, strlen(in), &out);

	if (want) {
		is_int(r, 0, what);
		is_str(out, want, what);
	} else {
		is_int(r, -EBADMSG, what);
		ok(!out, "  and nothing is written");
	}
	free(out);
}

int main(void)
{
	struct live *lv;
	struct live_stats st;
	char *t, name[64], *again = NULL;

	is_int(live_open(-1, &lv), 0, "sums without a socket (tests)");
	ok(!live_wanted(lv), "nobody reads: not wanted");

	t = render(lv);
	is_str(t,
	       "{\"time\":1700000000,\"ms\":1000,\"executables\":[],\"others\":{\"executables\":0,"
	       "\"sent\":0,\"received\":0}}",
	       "a quiet second");
	free(t);

	live_add(lv, "/usr/bin/curl", 100, 2000);
	live_add(lv, "/usr/bin/ssh", 5000, 0);
	live_add(lv, "/usr/bin/curl", 1, 1);
	live_add(lv, "/usr/bin/idle", 0, 0);
	live_add(lv, "/opt/\xc3\xa9t\xc3\xa9\\x0a\"q\"", 7, 0);
	t = render(lv);
	is_str(t,
	       "{\"time\":1700000000,\"ms\":1000,\"executables\":["
	       "{\"executable\":\"/usr/bin/ssh\",\"sent\":5000,\"received\":0},"
	       "{\"executable\":\"/usr/bin/curl\",\"sent\":101,\"received\":2001},"
	       "{\"executable\":\"/opt/\\u00E9t\\u00E9\\\\x0a\\\"q\\\"\",\"sent\":7,\"received\":0}],"
	       "\"others\":{\"executables\":0,\"sent\":0,\"received\":0}}",
	       "sums per executable, the busiest first, no silent one, names escaped as ASCII");
	/* what the dash makes of it is the same text */
	if (t && dash_live_event(t, strlen(t), &again) == 0)
		is_str(again, t, "the dash passes a good second on unchanged");
	else
		ok(0, "the dash passes a good second on unchanged");
	free(again);
	free(t);

	t = render(lv);
	ok(t && strstr(t, "\"executables\":[]"), "each second starts from nothing");
	free(t);

	/* more than LIVE_TOP: the rest are "others" */
	for (int i = 0; i < LIVE_TOP + 5; i++) {
		snprintf(name, sizeof(name), "/bin/p%03d", i);
		live_add(lv, name, 1000 + (uint64_t)i, 0);
	}
	t = render(lv);
	ok(t && strstr(t, "{\"executable\":\"/bin/p054\",\"sent\":1054,"), "the busiest is named");
	ok(t && !strstr(t, "\"/bin/p004\""), "the quietest is not");
	ok(t && strstr(t, "\"others\":{\"executables\":5,\"sent\":5010,\"received\":0}"),
	   "the five quietest are summed as others (1000+1001+...+1004)");
	free(t);

	/* names so long that LIVE_DATAGRAM_MAX is reached first */
	{
		char *big = malloc(8001);
		size_t len;

		memset(big, 'a', 8000);
		big[8000] = '\0';
		for (int i = 0; i < 6; i++) {
			big[0] = (char)('A' + i);
			live_add(lv, big, 10 + (uint64_t)i, 0);
		}
		t = live_render(lv, 1, 1, &len);
		ok(t && len <= LIVE_DATAGRAM_MAX, "a second never exceeds LIVE_DATAGRAM_MAX");
		ok(t && strstr(t, "\"others\":{\"executables\":5,"),
		   "  the names past it are summed as others");
		free(t);
		free(big);
	}

	/* LIVE_EXES_MAX distinct executables in one second */
	for (int i = 0; i < LIVE_EXES_MAX + 3; i++) {
		snprintf(name, sizeof(name), "/x/%d", i);
		live_add(lv, name, 1, 0);
	}
	live_stats(lv, &st);
	is_int(st.overflow, 3, "past LIVE_EXES_MAX, entries are counted as overflow");
	t = render(lv);
	ok(t && strstr(t, "\"others\":{\"executables\":4049,\"sent\":4049,"),
	   "  and their bytes still reach others (4096+3-50)");
	free(t);
	live_close(lv, -1);

	/* the socket: readers come and go; a slot of one that left is free
	 * again before the next second is sent */
	{
		char dir[] = "/tmp/picosnitch-test-live-XXXXXX", path[64];
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int dfd, readers[LIVE_CLIENTS_MAX + 1], extra;
		char buf[256];

		ok(mkdtemp(dir) != NULL, "a state directory");
		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		is_int(live_open(dfd, &lv), 0, "listens on live.sock");
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, LIVE_SOCKET);
		for (int i = 0; i < LIVE_CLIENTS_MAX; i++) {
			readers[i] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			connect(readers[i], (struct sockaddr *)&sa, sizeof(sa));
		}
		live_accept(lv);
		ok(live_wanted(lv), "readers: wanted");
		extra = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		connect(extra, (struct sockaddr *)&sa, sizeof(sa));
		live_accept(lv);
		live_stats(lv, &st);
		is_int(st.refused, 1, "one more than LIVE_CLIENTS_MAX is refused");
		ok(recv(extra, buf, sizeof(buf), 0) == 0, "  and closed");
		close(extra);
		for (int i = 0; i < LIVE_CLIENTS_MAX; i++)
			close(readers[i]);
		readers[LIVE_CLIENTS_MAX] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		connect(readers[LIVE_CLIENTS_MAX], (struct sockaddr *)&sa, sizeof(sa));
		live_accept(lv);
		live_stats(lv, &st);
		is_int(st.refused, 1, "the slots of readers that left are free at once");
		live_add(lv, "/usr/bin/curl", 5, 6);
		live_publish(lv, 7, 1000);
		{
			ssize_t n = recv(readers[LIVE_CLIENTS_MAX], buf, sizeof(buf) - 1, 0);

			buf[n > 0 ? n : 0] = '\0';
		}
		ok(strstr(buf, "{\"executable\":\"/usr/bin/curl\",\"sent\":5,\"received\":6}") != NULL,
		   "the new reader gets the second");
		/* live.sock removed (its directory made again): listening again
		 * there on the same descriptor number; the reader stays */
		is_int(live_check(lv, dfd), 0, "live.sock in place: nothing to do");
		snprintf(path, sizeof(path), "%s/%s", dir, LIVE_SOCKET);
		unlink(path);
		{
			int before = live_fd(lv), late;

			is_int(live_check(lv, dfd), 1, "live.sock removed: made again");
			is_int(live_fd(lv), before, "  on the same descriptor number");
			late = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			is_int(connect(late, (struct sockaddr *)&sa, sizeof(sa)), 0,
			       "  a new reader connects");
			live_accept(lv);
			live_add(lv, "/usr/bin/curl", 1, 2);
			live_publish(lv, 8, 1000);
			ok(recv(late, buf, sizeof(buf), 0) > 0, "  and gets the next second");
			ok(recv(readers[LIVE_CLIENTS_MAX], buf, sizeof(buf), 0) > 0,
			   "  so does the reader connected before");
			close(late);
			is_int(live_check(lv, dfd), 0, "  then it is in place");
		}
		close(readers[LIVE_CLIENTS_MAX]);
		live_close(lv, dfd);
		snprintf(path, sizeof(path), "%s/%s", dir, LIVE_SOCKET);
		ok(access(path, F_OK) < 0, "live.sock is removed at close");
		close(dfd);
		rmdir(dir);
	}

	/* what the dash refuses */
	check_event("{\"time\":1,\"ms\":2,\"executables\":[],\"others\":{\"executables\":0,\"sent\":0,"
		    "\"received\":0},\"extra\":\"dropped\"}",
		    "{\"time\":1,\"ms\":2,\"executables\":[],\"others\":{\"executables\":0,\"sent\":0,"
		    "\"received\":0}}",
		    "fields it does not know are dropped");
	check_event("{\"time\":1,\"time\":2,\"ms\":2,\"executables\":[],\"others\":{\"executables\":0,"
		    "\"sent\":0,\"received\":0}}", NULL, "a field twice");
	check_event("{\"time\":-1,\"ms\":2,\"executables\":[],\"others\":{\"executables\":0,"
		    "\"sent\":0,\"received\":0}}", NULL, "a negative time");
	check_event("{\"time\":1,\"ms\":2,\"executables\":[{\"executable\":5,\"sent\":1,"
		    "\"received\":1}],\"others\":{\"executables\":0,\"sent\":0,\"received\":0}}",
		    NULL, "a name that is no string");
	check_event("{\"time\":1,\"ms\":2,\"executables\":[{\"executable\":\"a\",\"sent\":1.5,"
		    "\"received\":1}],\"others\":{\"executables\":0,\"sent\":0,\"received\":0}}",
		    NULL, "bytes that are no integer");
	check_event("{\"time\":1,\"ms\":2,\"executables\":{},\"others\":{\"executables\":0,"
		    "\"sent\":0,\"received\":0}}", NULL, "executables that are no list");
	check_event("{\"time\":1,\"ms\":2,\"executables\":[]}", NULL, "no others");
	check_event("[1,2]", NULL, "no object");
	check_event("{\"time\":1,\"ms\":2,\"executables\":[],\"others\":{\"executables\":0,"
		    "\"sent\":0,\"received\":0}}\n{}", NULL, "two documents");
	{
		/* a name with a newline and a line separator in it: escaped */
		const char *in = "{\"time\":1,\"ms\":2,\"executables\":[{\"executable\":"
				 "\"a\\nb\\u2028c\",\"sent\":1,\"received\":2}],\"others\":"
				 "{\"executables\":0,\"sent\":0,\"received\":0}}";

		check_event(in,
			    "{\"time\":1,\"ms\":2,\"executables\":[{\"executable\":"
			    "\"a\\nb\\u2028c\",\"sent\":1,\"received\":2}],\"others\":"
			    "{\"executables\":0,\"sent\":0,\"received\":0}}",
			    "control characters stay escaped: one line of ASCII");
	}
	check_event("{\"time\":1,\"ms\":2,\"executables\":[{\"executable\":\"a\\u0000b\","
		    "\"sent\":1,\"received\":2}],\"others\":{\"executables\":0,\"sent\":0,"
		    "\"received\":0}}", NULL, "a NUL in a name");
	{
		/* LIVE_TOP + 1 names: more than the logger ever sends */
		char *in = malloc(8192), *p = in;

		p += sprintf(p, "{\"time\":1,\"ms\":2,\"executables\":[");
		for (int i = 0; i <= LIVE_TOP; i++)
			p += sprintf(p, "%s{\"executable\":\"e%d\",\"sent\":1,\"received\":1}",
				     i ? "," : "", i);
		sprintf(p, "],\"others\":{\"executables\":0,\"sent\":0,\"received\":0}}");
		check_event(in, NULL, "more names than the logger sends");
		free(in);
	}
	return tap_done();
}
