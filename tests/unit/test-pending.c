/* Entries waiting for a destination (storage/pending.h) and the spill
 * file that keeps them over a stop (storage/spill.h): summed per identity
 * and minute, the oldest dropped and counted past either bound, written
 * and read back exactly, hostile lines of the file skipped and counted;
 * and the names of storage errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "storage/pending.h"
#include "storage/spill.h"
#include "storage/store.h"
#include "tap.h"

static struct conn_row entry(int64_t time, int64_t lport, uint64_t sent, uint64_t received)
{
	return (struct conn_row){
		.time = time, .sent = sent, .received = received, .flows = 1,
		.exe = "/usr/lib/firefox-esr/firefox-esr", .name = "firefox-esr",
		.cmdline = "/usr/lib/firefox-esr/firefox-esr -contentproc -childID 7 -isForBrowser",
		.sha256 = "3f1c5b1e0d5a4c6b9e8f7a6d5c4b3a29181716151413121110f0e0d0c0b0a090",
		.pexe = "/usr/lib/firefox-esr/firefox-esr", .pname = "firefox-esr",
		.pcmdline = "/usr/lib/firefox-esr/firefox-esr",
		.psha256 = "3f1c5b1e0d5a4c6b9e8f7a6d5c4b3a29181716151413121110f0e0d0c0b0a090",
		.gpexe = "/usr/bin/gnome-shell", .gpname = "gnome-shell", .gpcmdline = "/usr/bin/gnome-shell",
		.gpsha256 = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
		.uid = 1000, .lport = lport, .rport = 443, .laddr = "192.0.2.10",
		.raddr = "203.0.113.5", .domain = "example.org", .family = AF_INET, .protocol = 6,
		.netns = 4026531840u,
	};
}

static void test_merge_and_order(void)
{
	struct pending *p;
	struct pending_stats ps;
	const struct conn_row *rows;
	struct conn_row in[4];
	size_t n;

	if (pending_new(1000, 1 << 20, &p) < 0)
		abort();
	/* 60 s windows of one minute: the same identity, two minutes */
	in[0] = entry(1200, 40000, 10, 20);
	in[1] = entry(1210, 40001, 5, 5);
	in[2] = entry(1230, 40000, 1, 2);	/* same identity and minute as [0] */
	in[3] = entry(1260, 40000, 100, 200);	/* the next minute */
	pending_add(p, in, 4);
	is_int(pending_count(p), 3, "entries of one identity in one minute are summed into one");
	pending_rows(p, &rows, &n);
	is_int(n, 3, "  three entries to write");
	is_int(rows[0].sent, 11, "  the first sums its bytes sent");
	is_int(rows[0].received, 22, "  and received");
	is_int(rows[0].flows, 2, "  and flows");
	is_int(rows[0].time, 1230, "  and takes the time of the latest it holds");
	is_int(rows[1].lport, 40001, "  the order is the order entries arrived in");
	is_int(rows[2].time, 1260, "  the next minute is its own entry");
	is_str(rows[0].raddr, "203.0.113.5", "  text fields are copies that stay");
	in[0].exe = NULL;
	pending_add(p, in, 1);
	is_int(pending_count(p), 4, "a missing text is not the same as any text");
	pending_stats(p, &ps);
	is_int(ps.sent, 126, "the stats sum the bytes waiting");
	is_int(ps.first, 1200, "  and know the oldest time");
	is_int(ps.last, 1260, "  and the newest");
	pending_clear(p);
	is_int(pending_count(p), 0, "cleared, nothing waits");
	pending_free(p);
}

static void test_bounds(void)
{
	struct pending *p;
	struct pending_stats ps;
	const struct conn_row *rows;
	size_t n, per_entry;

	if (pending_new(100, 1 << 30, &p) < 0)
		abort();
	for (int i = 0; i < 150; i++) {
		struct conn_row r = entry(1000, 30000 + i, 1000, 2000);

		pending_add(p, &r, 1);
	}
	pending_stats(p, &ps);
	is_int(ps.entries, 100, "past the bound of entries, 100 are kept");
	is_int(ps.dropped_entries, 50, "  the 50 oldest dropped and counted");
	is_int(ps.dropped_sent, 50000, "  with the bytes sent they carried");
	is_int(ps.dropped_received, 100000, "  and received");
	pending_rows(p, &rows, &n);
	is_int(rows[0].lport, 30050, "  the oldest kept is the 51st");
	per_entry = ps.bytes / ps.entries;
	printf("# one entry of a browser's (paths, command lines, hashes of 3 generations) "
	       "takes %zu bytes waiting\n", per_entry);
	ok(per_entry > 300 && per_entry < 1024, "an entry costs under 1 KiB of memory");
	pending_free(p);

	if (pending_new(1000000, 10 * per_entry, &p) < 0)
		abort();
	for (int i = 0; i < 20; i++) {
		struct conn_row r = entry(1000, 30000 + i, 1, 1);

		pending_add(p, &r, 1);
	}
	pending_stats(p, &ps);
	ok(ps.entries >= 9 && ps.entries <= 10 && ps.bytes <= 10 * per_entry,
	   "past the bound of bytes, the oldest go too");
	is_int(ps.dropped_entries + ps.entries, 20, "  and every one dropped is counted");
	pending_free(p);
}

struct collected {
	struct conn_row rows[8];
	char dest[8][16];
	char exe[8][64];
	size_t n;
};

static int collect(void *ctx, const char *dest, const struct conn_row *row)
{
	struct collected *c = ctx;

	if (c->n == 8)
		return -E2BIG;
	c->rows[c->n] = *row;
	snprintf(c->dest[c->n], sizeof(c->dest[0]), "%s", dest);
	snprintf(c->exe[c->n], sizeof(c->exe[0]), "%s", row->exe ? row->exe : "(null)");
	c->n++;
	return 0;
}

static void test_spill(void)
{
	struct conn_row a[2] = { entry(1700000000, 40000, 123456789012ULL, 7),
				 entry(1700000060, -1, 0, 0) };
	struct conn_row b = entry(1700000000, 53, 80, 160);
	struct spill_part parts[2] = { { "snitch.db", a, 2 }, { "conn.log", &b, 1 } };
	struct collected c = { .n = 0 };
	size_t len;
	char *text;
	const char *hostile;

	a[1].exe = "/opt/\xc3\xa9t\xc3\xa9/x";	/* UTF-8 stays as it is */
	a[1].domain = NULL;
	b.family = AF_INET6;
	b.protocol = 17;
	text = spill_format(parts, 2, 1700000100, &len);
	ok(text != NULL, "pending entries are written as a spill file");
	is_int(spill_parse(text, len, collect, &c), 0, "  and read back with no line skipped");
	is_int(c.n, 3, "  every entry");
	is_str(c.dest[0], "snitch.db", "  each with its destination");
	is_str(c.dest[2], "conn.log", "  the other destination's too");
	is_int(c.rows[0].sent, 123456789012LL, "  bytes exactly");
	is_int(c.rows[1].lport, -1, "  an exec entry's port of -1");
	is_str(c.exe[1], "/opt/\xc3\xa9t\xc3\xa9/x", "  text exactly");
	ok(c.rows[1].domain == NULL, "  a missing text stays missing");
	is_int(c.rows[2].family, AF_INET6, "  the family");
	is_int(c.rows[2].protocol, 17, "  and protocol");
	free(text);

	c.n = 0;
	hostile = "{\"picosnitch spill\":1,\"written\":1}\n"
		  "{\"to\":\"snitch.db\",\"time\":5,\"sent\":1,\"received\":1,\"flows\":1,\"uid\":0,"
		  "\"lport\":1,\"rport\":1,\"family\":2,\"protocol\":6,\"netns\":0,\"exe\":\"a\\nb\"}\n"
		  "{\"to\":\"snitch.db\",\"time\":5,\"sent\":-1,\"received\":1,\"flows\":1,\"uid\":0,"
		  "\"lport\":1,\"rport\":1,\"family\":2,\"protocol\":6,\"netns\":0}\n"
		  "{\"to\":\"snitch.db\",\"time\":5,\"sent\":1,\"received\":1,\"flows\":1,\"uid\":0,"
		  "\"lport\":1,\"rport\":70000,\"family\":2,\"protocol\":6,\"netns\":0}\n"
		  "{\"to\":\"snitch.db\",\"time\":5,\"sent\":1,\"received\":1,\"flows\":1,\"uid\":0,"
		  "\"lport\":1,\"rport\":1,\"family\":99,\"protocol\":6,\"netns\":0}\n"
		  "{\"to\":\"snitch.db\",\"time\":5,\"sent\":1,\"received\":1,\"flows\":1,\"uid\":0,"
		  "\"lport\":1,\"rport\":1,\"family\":2,\"protocol\":6,\"netns\":0,\"exe\":\"a\\u0000b\"}\n"
		  "not json at all\n"
		  "{\"to\":\"snitch.db\",\"time\":5,\"sent\":1,\"received\":1,\"flows\":1,\"uid\":0,"
		  "\"lport\":1,\"rport\":1,\"family\":2,\"protocol\":6,\"netns\":0,\"exe\":\"ok\"}";
	is_int(spill_parse(hostile, strlen(hostile), collect, &c), 6,
	       "a control character, a negative count, a port or family out of range, a NUL, "
	       "and a line that is not JSON are each skipped and counted");
	is_int(c.n, 1, "  the one good entry (no newline at the end) is taken");
	is_str(c.exe[0], "ok", "  whole");
	c.n = 0;
	is_int(spill_parse("{\"picosnitch spill\":2}\n", 23, collect, &c), -EPROTO,
	       "a file of another version is refused whole");
	is_int(spill_parse("", 0, collect, &c), -EPROTO, "  and so is an empty one");
}

static void test_fault_names(void)
{
	is_str(store_fault_name(-ENOSPC), "disk full", "ENOSPC is a full disk");
	is_str(store_fault_name(-EROFS), "read-only file system", "EROFS a read-only file system");
	is_str(store_fault_name(-EDQUOT), "disk quota exceeded", "EDQUOT the quota");
	is_str(store_fault_name(-EIO), "I/O error", "EIO an I/O error");
	is_str(store_fault_name(-EBUSY), "database locked", "EBUSY a lock");
	is_str(store_fault_name(-EBADMSG), "database corrupt", "EBADMSG a corrupt database");
	is_str(store_fault_name(-ENOENT), "file deleted or replaced", "ENOENT a file deleted");
	ok(store_fault_may_pass(-ENOSPC) && store_fault_may_pass(-EROFS) &&
	   store_fault_may_pass(-EBUSY), "entries wait for space, a remount, a lock");
	ok(!store_fault_may_pass(-EPROTO) && !store_fault_may_pass(-EEXIST),
	   "  but not for what waiting does not cure");
}

int main(void)
{
	test_merge_and_order();
	test_bounds();
	test_spill();
	test_fault_names();
	return tap_done();
}
