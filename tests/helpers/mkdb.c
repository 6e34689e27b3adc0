/* mkdb: make a snitch.db for tests with the monitor's own writer
 * (store_sqlite_open + store_write), from tab-separated lines on stdin:
 *
 *   time sent received flows exe name cmdline sha256 pexe pname pcmdline
 *   psha256 gpexe uid lport rport laddr raddr domain family protocol netns
 *
 * Text fields take \t, \n, \\ and \xNN escapes (hostile bytes); numbers are
 * decimal; a time of the form +N or -N is relative to now.  One
 * store_write() per input line, so each line is one entry.
 *
 *   mkdb PATH < rows.tsv */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/store.h"

#define NFIELDS 22

static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (*s != '\\' || !s[1]) {
			*out++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 't':
			*out++ = '\t';
			s++;
			break;
		case 'n':
			*out++ = '\n';
			s++;
			break;
		case 'x': {
			char hex[3] = { s[1], s[1] ? s[2] : 0, 0 };

			*out++ = (char)strtoul(hex, NULL, 16);
			s += 3;
			break;
		}
		default:
			*out++ = *s++;
			break;
		}
	}
	*out = '\0';
}

static long long num(const char *s, int line)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*end || !*s) {
		fprintf(stderr, "mkdb: line %d: not a number: %s\n", line, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	char err[512], *line = NULL;
	size_t cap = 0;
	struct store *st;
	int r, lineno = 0;
	ssize_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: mkdb PATH < rows.tsv\n");
		return 2;
	}
	r = store_sqlite_open(argv[1], &st, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "mkdb: %s: %s\n", argv[1], err);
		return 1;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		char *f[NFIELDS], *p = line;
		struct conn_row row;
		int k = 0;

		lineno++;
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!*line || *line == '#')
			continue;
		for (; k < NFIELDS && p; k++) {
			f[k] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		if (k != NFIELDS || p) {
			fprintf(stderr, "mkdb: line %d: %d fields, expected %d\n", lineno,
				k + (p ? 1 : 0), NFIELDS);
			return 2;
		}
		for (int i = 0; i < NFIELDS; i++)
			unescape(f[i]);
		row = (struct conn_row){
			.time = (f[0][0] == '+' || f[0][0] == '-') ? time(NULL) + num(f[0], lineno)
								     : num(f[0], lineno),
			.sent = (uint64_t)num(f[1], lineno),
			.received = (uint64_t)num(f[2], lineno),
			.flows = (uint64_t)num(f[3], lineno),
			.exe = f[4], .name = f[5], .cmdline = f[6], .sha256 = f[7],
			.pexe = f[8], .pname = f[9], .pcmdline = f[10], .psha256 = f[11],
			.gpexe = f[12], .gpname = "", .gpcmdline = "", .gpsha256 = "",
			.uid = num(f[13], lineno),
			.lport = num(f[14], lineno), .rport = num(f[15], lineno),
			.laddr = f[16], .raddr = f[17], .domain = f[18],
			.domain_source = "dns",	/* the writer keeps it only with a name */
			.family = (int)num(f[19], lineno), .protocol = (int)num(f[20], lineno),
			.netns = (uint64_t)num(f[21], lineno),
		};
		r = store_write(st, &row, 1);
		if (r < 0) {
			fprintf(stderr, "mkdb: line %d: %s\n", lineno, st->err);
			return 1;
		}
	}
	free(line);
	store_close(st);
	return 0;
}
