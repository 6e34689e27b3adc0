/* Tests of the terminal interface's text and state (src/view/view_text.c,
 * view_state.c): hostile bytes made into safe cells with exact widths,
 * middle ellipsis with wide characters, byte units and their rounding,
 * users and times, the tabs, the time windows of ranges and history steps,
 * and the filter stack. */
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "tap.h"
#include "view/view_state.h"
#include "view/view_text.h"

/* cells as a UTF-8 string, to compare */
static char *shown(const struct cell *c, size_t n)
{
	static char buf[1024];
	size_t k = 0;
	mbstate_t st;

	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < n && k + MB_CUR_MAX < sizeof(buf); i++) {
		size_t m = wcrtomb(buf + k, c[i].wc, &st);

		if (m == (size_t)-1)
			buf[k++] = '?';
		else
			k += m;
	}
	buf[k] = '\0';
	return buf;
}

static void cells_is(const char *in, size_t len, bool utf8, const char *want, size_t want_width,
		     const char *what)
{
	struct cell *c;
	size_t n = view_cells(in, len, utf8, &c);

	is_str(shown(c, n), want, what);
	is_int(view_cells_width(c, n), want_width, what);
	free(c);
}

static void fit_is(const char *in, size_t width, bool right, const char *want, const char *what)
{
	struct cell *c, out[128];
	size_t n = view_cells(in, strlen(in), true, &c), k = view_fit(c, n, width, true, right, out);

	is_str(shown(out, k), want, what);
	is_int(view_cells_width(out, k), width, what);
	free(c);
}

static void bytes_is(int64_t n, enum view_unit u, const char *want)
{
	char buf[64];

	view_format_bytes(n, u, buf, sizeof(buf));
	is_str(buf, want, want);
}

int main(void)
{
	char buf[128];
	struct view_filters fs = { 0 };
	struct query_filter qf[VIEW_MAX_FILTERS];
	struct query_window w;
	char *d;

	if (!setlocale(LC_ALL, "C.UTF-8")) {
		printf("1..0 # skip no C.UTF-8 locale\n");
		return 0;
	}

	/* ---- cells ---- */
	cells_is("curl", 4, true, "curl", 4, "ASCII as itself");
	cells_is("a\\b", 3, true, "a\\\\b", 4, "a backslash doubled, so \\x41 typed by a process is not 'A'");
	cells_is("a\nb\tc", 5, true, "a\\x0ab\\x09c", 11, "newline and tab as \\xNN");
	cells_is("\x1b[31mred", 8, true, "\\x1b[31mred", 11, "a terminal escape is not sent to the terminal");
	cells_is("x\0y", 3, true, "x\\x00y", 6, "NUL");
	cells_is("\xe7\x81\xab\xe7\x8b\x90", 6, true, "火狐", 4, "CJK: two columns each");
	cells_is("\xf0\x9f\x94\xa5", 4, true, "🔥", 2, "emoji: two columns");
	cells_is("\xc3\xa9t\xc3\xa9", 5, true, "été", 3, "Latin-1 letters: one column");
	cells_is("\xff\xfe", 2, true, "\\xff\\xfe", 8, "invalid UTF-8 bytes");
	cells_is("\xc0\xaf", 2, true, "\\xc0\\xaf", 8, "overlong encoding of '/'");
	cells_is("\xed\xa0\x80", 3, true, "\\xed\\xa0\\x80", 12, "a surrogate");
	cells_is("\xe7\x81", 2, true, "\\xe7\\x81", 8, "a truncated sequence");
	cells_is("\xe2\x80\xae" "abc", 6, true, "\\xe2\\x80\\xaeabc", 15, "U+202E (right-to-left override)");
	cells_is("\xc2\x85", 2, true, "\\xc2\\x85", 8, "a C1 control (NEL)");
	cells_is("\xcc\x81", 2, true, "\\xcc\\x81", 8, "a lone combining accent (zero width)");
	cells_is("\x7f", 1, true, "\\x7f", 4, "DEL");
	cells_is("\xc3\xa9", 2, false, "\\xc3\\xa9", 8, "not a UTF-8 terminal: every byte >= 0x80 escaped");

	/* ---- fitting ---- */
	fit_is("abc", 6, false, "abc   ", "short text padded on the right");
	fit_is("abc", 6, true, "   abc", "or aligned right");
	fit_is("abcdefghij", 7, false, "abc…hij", "long text keeps both ends");
	fit_is("abcdefghij", 6, false, "abc…ij", "the start gets the larger half");
	fit_is("abcdefghij", 1, false, "…", "one column: the ellipsis");
	fit_is("火狐浏览器", 7, false, "火 … 器", "wide characters that do not fit leave a space by the ellipsis");
	fit_is("火狐浏览器", 8, false, "火狐… 器", "and the width is exact");
	fit_is("\xff" "abc", 5, false, "\\x…bc", "an escape is cut like text");
	{
		struct cell out[4];

		is_int(view_fit(NULL, 0, 0, true, false, out), 0, "zero width: nothing");
	}

	/* ---- numbers, users, times ---- */
	bytes_is(0, VIEW_UNIT_KB, "0.0 kB");
	bytes_is(49, VIEW_UNIT_KB, "0.0 kB");
	bytes_is(50, VIEW_UNIT_KB, "0.1 kB");
	bytes_is(1249, VIEW_UNIT_KB, "1.2 kB");
	bytes_is(1250, VIEW_UNIT_KB, "1.3 kB");
	bytes_is(999950, VIEW_UNIT_KB, "1000.0 kB");
	bytes_is(1234567, VIEW_UNIT_MB, "1.2 MB");
	bytes_is(1234567, VIEW_UNIT_B, "1234567 B");
	bytes_is(INT64_MAX, VIEW_UNIT_GB, "9223372036.9 GB");
	bytes_is(INT64_MAX, VIEW_UNIT_B, "9223372036854775807 B");
	bytes_is(-1250, VIEW_UNIT_KB, "-1.3 kB");
	bytes_is(INT64_MIN, VIEW_UNIT_KB, "-9223372036854775.8 kB");
	view_format_user(1000, "alice", buf, sizeof(buf));
	is_str(buf, "alice (1000)", "a user with a name");
	view_format_user(4000000000, NULL, buf, sizeof(buf));
	is_str(buf, "??? (4000000000)", "a uid with no name here");
	view_format_user(-1, NULL, buf, sizeof(buf));
	is_str(buf, "unknown", "uid -1");
	setenv("TZ", "UTC", 1);
	tzset();
	view_format_time(1764849620, buf, sizeof(buf));
	is_str(buf, "2025-12-04 12:00:20", "a time, local (UTC here)");
	view_format_time(INT64_MAX, buf, sizeof(buf));
	is_str(buf, "?", "a time out of range");
	ok(view_contains("/usr/bin/Curl", 13, "cURL", 4), "search ignores ASCII case");
	ok(!view_contains("/usr/bin/curl", 13, "wget", 4), "and finds only what is there");
	ok(view_contains("x", 1, "", 0), "an empty search matches");

	/* ---- tabs ---- */
	is_int(view_tab_count(false), 20, "20 tabs without GeoIP");
	is_int(view_tab_count(true), 22, "22 with the country and network-owner tabs");
	is_str(view_tab_at(false, 0)->title, "Executables", "the first tab");
	is_str(view_tab_at(false, 15)->title, "Protocols", "without GeoIP, protocols follow domains");
	is_str(view_tab_at(true, 15)->title, "Countries", "with it, countries come first");
	is_str(view_tab_at(true, 16)->title, "Network Owners", "  then network owners");
	is_str(view_tab_at(true, 17)->title, "Protocols", "  then protocols");
	is_str(view_tab_at(false, 17)->title, "Entry Time", "entry time");
	is_str(view_tab_at(false, 18)->title, "Services", "services");
	is_str(view_tab_at(false, 19)->title, "Domain Sources", "the last tab: where domains came from");
	ok(view_tab_at(false, 20) == NULL, "past the last: NULL");
	for (size_t i = 0; i < view_tab_count(true); i++)
		ok(view_tab_at(true, i)->dim == (i == 15 ? QUERY_DIM_COUNTRY : view_tab_at(true, i)->dim),
		   "every tab has a dimension");

	/* ---- windows ---- */
	is_str(view_period_name(0), "all", "range 0: all");
	is_str(view_period_name(15), "365 days", "range 15: a year");
	ok(view_period_name(16) == NULL, "16 ranges");
	w = view_window(0, 5, 1000);
	ok(!w.has_from && !w.has_to, "all: no bounds, whatever the step back");
	w = view_window(7, 0, 100000);
	is_int(w.from, 100000 - 3600 + 1, "the last hour starts 3599 s ago");
	is_int(w.to, 100001, "and ends after now (entries written now are in it)");
	w = view_window(7, 2, 100000);
	is_int(w.from, 100001 - 3 * 3600, "two hours back: from");
	is_int(w.to, 100001 - 2 * 3600, "two hours back: to");
	is_int(view_rescale_back(7, 11, 48), 2, "48 hours back is 2 days back");
	is_int(view_rescale_back(11, 7, 2), 48, "and the other way");
	is_int(view_rescale_back(7, 0, 3), 0, "all: no steps");

	/* ---- filters ---- */
	is_int(view_filters_push(&fs, QUERY_DIM_EXECUTABLE, QUERY_INCLUDE, "/usr/bin/curl", 13,
				 "/usr/bin/curl", 0), 0, "push an include");
	is_int(view_filters_push(&fs, QUERY_DIM_USER, QUERY_EXCLUDE, "0", 1, "root (0)", 9), 0,
	       "push an exclude");
	d = view_filters_describe(&fs, false, "Domain");
	is_str(d, "Domain (where executable = \"/usr/bin/curl\" & user != \"root (0)\")",
	       "the header describes the filters");
	free(d);
	view_filters_query(&fs, qf);
	ok(qf[1].dim == QUERY_DIM_USER && qf[1].mode == QUERY_EXCLUDE && qf[1].len == 1 &&
	   !memcmp(qf[1].value, "0", 1), "the query takes the raw values");
	is_int(view_filters_pop(&fs), 9, "pop returns the tab the filter was made on");
	is_int(view_filters_pop(&fs), 0, "and the one before");
	is_int(view_filters_pop(&fs), -ENOENT, "none left");
	for (int i = 0; i < VIEW_MAX_FILTERS; i++)
		view_filters_push(&fs, QUERY_DIM_NAME, QUERY_EXCLUDE, "x", 1, "x", 1);
	is_int(view_filters_push(&fs, QUERY_DIM_NAME, QUERY_EXCLUDE, "x", 1, "x", 1), -ENOSPC,
	       "the stack is bounded");
	view_filters_clear(&fs);
	is_int(fs.n, 0, "cleared");
	return tap_done();
}
