/* `picosnitch view`: the terminal interface (ncursesw).  One screen: the
 * keys, the time window and totals, the tab strip (one tab per dimension),
 * and one row per value of the tab's dimension with what it sent and
 * received in the window and a sparkline of when.  Every value is drawn
 * through view_cells() (hostile bytes become \xNN; wide characters keep
 * their two columns) and shortened in the middle to fit.  The database is
 * read through the query layer; when it is missing, locked or unreadable
 * the screen says so and tries again every two seconds.
 *
 * Layout (rows):  0 keys | 1 history, time, line, totals | 2 tabs |
 *                 3 column header with the filters | 4.. values | last: messages */
#define NCURSES_WIDECHAR 1

#include "view/view.h"

#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <langinfo.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "geo/geo.h"
#include "logger/record.h"
#include "view/view_state.h"
#include "view/view_text.h"

#define MIN_COLS 30
#define MIN_LINES 7
#define HEAD_LINES 4
#define NUM_WIDTH 11		/* " 12345.6 kB": wider when a number needs it */
#define MAX_ROWS 100000		/* values listed per tab (the rest is counted) */
#define SPARK_TOP 1000		/* values that get a sparkline: the busiest */
#define LIVE_MS 1000
#define RETRY_MS 2000
#define QUERY_TIMEOUT_MS 20000
#define SEARCH_MAX 255
#define MAX_BACK 1000000
#define USER_CACHE 64

enum sort_mode { SORT_NAME, SORT_SENT, SORT_RECEIVED, SORT__COUNT };
static const char *const sort_names[] = { "name", "sent", "received" };

struct user_name {
	int64_t uid;
	char *name;		/* NULL: no such user here */
};

struct view {
	const struct view_env *env;
	struct query_db *db;
	bool utf8;
	bool country;		/* GeoIP is on: countries and network owners (env->geo) */

	size_t tab;
	size_t period;
	unsigned int back;
	enum view_unit unit;
	enum sort_mode sort;
	bool live;
	struct view_filters filters;

	int64_t now;
	bool fixed_now;		/* PICOSNITCH_VIEW_NOW, for tests */
	struct query_result *res;
	struct query_series *spark;
	size_t cursor, top;
	size_t num_w;		/* columns of each number, with a space before */

	char problem[768];	/* why nothing can be shown: replaces the rows */
	char message[512];	/* one-off, on the last line until the next key */
	bool prompting;
	char search[SEARCH_MAX + 1];
	size_t search_len;
	char prompt[SEARCH_MAX + 1];
	size_t prompt_len;

	struct user_name users[USER_CACHE];
	size_t n_users, next_user;
	struct record_vt_cache vt;	/* VirusTotal's verdicts, by hash */
};

static volatile sig_atomic_t quit_signal;

static void on_quit_signal(int sig)
{
	quit_signal = sig;
}

static const struct view_tab *cur_tab(const struct view *v)
{
	return view_tab_at(v->country, v->tab);
}

static int64_t now_of(const struct view *v)
{
	return v->fixed_now ? v->now : (int64_t)time(NULL);
}

/* ---- values as shown ---- */

static const char *user_name(struct view *v, int64_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	struct user_name *u;

	for (size_t i = 0; i < v->n_users; i++) {
		if (v->users[i].uid == uid)
			return v->users[i].name;
	}
	if (uid < 0 || uid > UINT32_MAX || getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res))
		res = NULL;
	if (v->n_users < USER_CACHE) {
		u = &v->users[v->n_users++];
	} else {
		u = &v->users[v->next_user];
		v->next_user = (v->next_user + 1) % USER_CACHE;
		free(u->name);
	}
	u->uid = uid;
	u->name = res ? strdup(res->pw_name) : NULL;
	return u->name;
}

/* The text a value is shown as (and searched in): the value itself, or
 * for some dimensions a form made for people in buf.  *dim_text is set
 * when the text is a placeholder ("(none)") rather than a value. */
static const char *shown_value(struct view *v, enum query_dim dim, const struct query_value *val,
			       char *buf, size_t size, size_t *len, bool *placeholder)
{
	*placeholder = false;
	switch (dim) {
	case QUERY_DIM_USER:
		view_format_user(val->num, val->num >= 0 ? user_name(v, val->num) : NULL, buf,
				 size);
		break;
	case QUERY_DIM_LOCAL_PORT:
	case QUERY_DIM_REMOTE_PORT:
		if (val->num >= 0)
			goto as_is;
		snprintf(buf, size, "(none)");
		*placeholder = true;
		break;
	case QUERY_DIM_NETNS:
		/* the initial network namespace has this fixed inode number */
		if (val->num != 4026531840LL)
			goto as_is;
		snprintf(buf, size, "%" PRId64 " (host)", val->num);
		break;
	case QUERY_DIM_TIME:
		view_format_time(val->num, buf, size);
		break;
	case QUERY_DIM_REMOTE_ADDRESS: {
		/* "US      8.8.8.8", "local   192.168.1.1", "unknown 1.2.3.4"
		 * (plain words: emoji take one or two columns by terminal) */
		const char *c = v->env->geo && val->len ? geo_country(v->env->geo, val->text, val->len) : NULL;
		int n;

		if (!c || !*c)
			goto as_is;
		n = snprintf(buf, size, "%-7s %.*s", c, (int)val->len, val->text);
		if (n < 0 || (size_t)n >= size)
			goto as_is;
		break;
	}
	default:
	as_is:
		if (val->len)
			return *len = val->len, val->text;
		snprintf(buf, size, "(none)");
		*placeholder = true;
		break;
	}
	*len = strlen(buf);
	return buf;
}

/* ---- drawing ---- */

enum fit { FIT_MIDDLE, FIT_CUT, FIT_RIGHT };

/* Draw len bytes of text at (y, x) in exactly `width` columns. */
static void put_text(struct view *v, int y, int x, size_t width, const char *s, size_t len,
		     enum fit fit, attr_t attr)
{
	struct cell *c, *fitted;
	wchar_t *ws;
	size_t n, k;

	if (!width)
		return;
	n = view_cells(s, len, v->utf8, &c);
	if (n == (size_t)-1)
		return;
	if (fit == FIT_CUT) {
		/* keep what fits from the start */
		size_t w = 0, i = 0;

		while (i < n && w + c[i].width <= width)
			w += c[i++].width;
		n = i;
	}
	fitted = malloc((width + 1) * sizeof(*fitted));
	ws = malloc((width + 1) * sizeof(*ws));
	if (fitted && ws) {
		k = view_fit(c, n, width, v->utf8, fit == FIT_RIGHT, fitted);
		for (size_t i = 0; i < k; i++)
			ws[i] = fitted[i].wc;
		ws[k] = L'\0';
		attron(attr);
		mvaddnwstr(y, x, ws, (int)k);
		attroff(attr);
	}
	free(ws);
	free(fitted);
	free(c);
}

static void put_str(struct view *v, int y, int x, size_t width, const char *s, enum fit fit,
		    attr_t attr)
{
	put_text(v, y, x, width, s, strlen(s), fit, attr);
}

static size_t spark_width(void)
{
	if (COLS >= 100)
		return 16;
	if (COLS >= 72)
		return 10;
	return 0;
}

/* The width of the number columns for the rows and units at hand: the
 * longest number decides (they grow with their magnitude). */
static void measure_numbers(struct view *v)
{
	int64_t lo = 0, hi = 0;
	char buf[48];
	size_t w = NUM_WIDTH - 1;

	for (size_t i = 0; v->res && i < v->res->n_rows; i++) {
		const struct query_row *r = &v->res->rows[i];

		lo = r->sent < lo ? r->sent : lo;
		lo = r->received < lo ? r->received : lo;
		hi = r->sent > hi ? r->sent : hi;
		hi = r->received > hi ? r->received : hi;
	}
	view_format_bytes(lo, v->unit, buf, sizeof(buf));
	w = strlen(buf) > w ? strlen(buf) : w;
	view_format_bytes(hi, v->unit, buf, sizeof(buf));
	w = strlen(buf) > w ? strlen(buf) : w;
	v->num_w = w + 1;
}

static size_t value_width(const struct view *v)
{
	size_t sw = spark_width(), nw = 2 * v->num_w + (sw ? sw + 1 : 0);

	return (size_t)COLS > nw ? (size_t)COLS - nw : 0;
}

static size_t body_lines(void)
{
	return (size_t)LINES - HEAD_LINES - 1;
}

static void draw_keys(struct view *v)
{
	put_str(v, 0, 0, (size_t)COLS,
		"f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  "
		"u/U: units  s: sort  /: search  l: live  r: refresh  q: quit",
		FIT_CUT, A_REVERSE | A_BOLD);
}

static void draw_status(struct view *v)
{
	char line[512], from[32], to[32], sent[32], recv[32], history[96], count[64];
	int64_t now = now_of(v);
	size_t rows = v->res ? v->res->n_rows : 0;

	if (v->back == 0 || v->period == 0) {
		snprintf(history, sizeof(history), "%s", v->live ? "live" : "now");
	} else {
		struct query_window w = view_window(v->period, v->back, now);

		view_format_time(w.from, from, sizeof(from));
		view_format_time(w.to, to, sizeof(to));
		/* the end without its date when it is the same day */
		snprintf(history, sizeof(history), "%s -> %s", from,
			 strncmp(from, to, 11) ? to : to + 11);
	}
	view_format_bytes(v->res ? v->res->sent : 0, v->unit, sent, sizeof(sent));
	view_format_bytes(v->res ? v->res->received : 0, v->unit, recv, sizeof(recv));
	if (v->res && v->res->n_groups > rows)
		snprintf(count, sizeof(count), "%zu/%zu of %" PRIu64, rows ? v->cursor + 1 : 0,
			 rows, v->res->n_groups);
	else
		snprintf(count, sizeof(count), "%zu/%zu", rows ? v->cursor + 1 : 0, rows);
	snprintf(line, sizeof(line), "history: %s  time: %s  line: %s  totals: %s / %s", history,
		 view_period_name(v->period), count, sent, recv);
	put_str(v, 1, 0, (size_t)COLS, line, FIT_CUT, A_NORMAL);
}

/* "<- ...prev | prev | " CURRENT " | next | next... ->" with the current
 * tab in the middle. */
static void draw_tabs(struct view *v)
{
	size_t n = view_tab_count(v->country), cur_w, avail, lw, rw;
	const char *cur = cur_tab(v)->title;
	char left[512] = "", right[512] = "";
	size_t ll = 0, rl = 0;

	for (size_t i = 0; i < v->tab; i++)
		ll += (size_t)snprintf(left + ll, sizeof(left) - ll, "%s%s", i ? " | " : "",
				       view_tab_at(v->country, i)->title);
	for (size_t i = v->tab + 1; i < n; i++)
		rl += (size_t)snprintf(right + rl, sizeof(right) - rl, "%s%s",
				       i > v->tab + 1 ? " | " : "", view_tab_at(v->country, i)->title);
	cur_w = strlen(cur);
	if ((size_t)COLS < cur_w + 12) {
		put_str(v, 2, 0, (size_t)COLS, cur, FIT_CUT, A_BOLD | A_UNDERLINE);
		return;
	}
	avail = (size_t)COLS - cur_w - 12;	/* "<- ", " | " twice, " ->" */
	lw = avail / 2;
	rw = avail - lw;
	put_str(v, 2, 0, 3, "<- ", FIT_CUT, A_NORMAL);
	if (ll > lw) {
		/* the end of the left side, nearest the current tab */
		char buf[520];

		snprintf(buf, sizeof(buf), "...%s", left + ll - (lw > 3 ? lw - 3 : 0));
		put_str(v, 2, 3, lw, lw > 3 ? buf : "...", FIT_CUT, A_NORMAL);
	} else {
		put_str(v, 2, 3, lw, left, FIT_RIGHT, A_NORMAL);
	}
	put_str(v, 2, (int)(3 + lw), 3, v->tab ? " | " : "   ", FIT_CUT, A_NORMAL);
	put_str(v, 2, (int)(6 + lw), cur_w, cur, FIT_CUT, A_BOLD | A_UNDERLINE);
	put_str(v, 2, (int)(6 + lw + cur_w), 3, v->tab + 1 < n ? " | " : "   ", FIT_CUT,
		A_NORMAL);
	if (rl > rw) {
		char buf[520];

		snprintf(buf, sizeof(buf), "%.*s...", (int)(rw > 3 ? rw - 3 : 0), right);
		put_str(v, 2, (int)(9 + lw + cur_w), rw, buf, FIT_CUT, A_NORMAL);
	} else {
		put_str(v, 2, (int)(9 + lw + cur_w), rw, right, FIT_CUT, A_NORMAL);
	}
	put_str(v, 2, (int)(9 + lw + cur_w + rw), 3, " ->", FIT_CUT, A_NORMAL);
}

static void draw_header(struct view *v)
{
	char *head = view_filters_describe(&v->filters, v->country, cur_tab(v)->header);
	size_t vw = value_width(v), sw = spark_width(), nw = v->num_w;
	int x = (int)vw;

	put_str(v, 3, 0, vw, head ? head : cur_tab(v)->header, FIT_CUT, A_BOLD);
	free(head);
	put_str(v, 3, x, nw, "Sent", FIT_RIGHT, A_BOLD);
	put_str(v, 3, x + (int)nw, nw, "Received", FIT_RIGHT, A_BOLD);
	if (sw) {
		put_str(v, 3, x + 2 * (int)nw, 1, " ", FIT_CUT, A_NORMAL);
		put_str(v, 3, x + 2 * (int)nw + 1, sw, "When", FIT_CUT, A_BOLD);
	}
}

/* The sparkline line of a value, if it is among the busiest. */
static const struct query_line *spark_line(const struct view *v, const struct query_value *val)
{
	if (!v->spark)
		return NULL;
	for (size_t i = 0; i < v->spark->n_lines; i++) {
		const struct query_line *l = &v->spark->lines[i];

		if (!l->other && l->value.len == val->len &&
		    !memcmp(l->value.text, val->text, val->len))
			return l;
	}
	return NULL;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static void draw_spark(struct view *v, int y, int x, size_t width, const struct query_line *l,
		       attr_t attr)
{
	static const char ascii[] = ".,:;=+*#";
	wchar_t ws[64];
	int64_t max = 0;
	size_t n = v->spark ? v->spark->n_buckets : 0, first, pad;

	if (width > 63)
		width = 63;
	for (size_t i = 0; l && i < n; i++) {
		int64_t t = add_sat(l->points[i].sent, l->points[i].received);

		if (t > max)
			max = t;
	}
	/* aligned buckets may be one more than asked (the latest are kept) or
	 * fewer (drawn at the right end, where the window ends) */
	first = n > width ? n - width : 0;
	pad = n < width ? width - n : 0;
	for (size_t i = 0; i < width; i++) {
		int64_t t = 0, level;

		if (l && i >= pad && first + i - pad < n)
			t = add_sat(l->points[first + i - pad].sent, l->points[first + i - pad].received);
		if (t <= 0 || max <= 0) {
			ws[i] = L' ';
			continue;
		}
		/* 1..8: any traffic shows, the busiest bucket is full */
		level = (int64_t)(((__int128)t * 8 + max - 1) / max);
		if (level < 1)
			level = 1;
		if (level > 8)
			level = 8;
		ws[i] = v->utf8 ? (wchar_t)(0x2580 + level) : (wchar_t)ascii[level - 1];
	}
	ws[width] = L'\0';
	attron(attr);
	mvaddnwstr(y, x, ws, (int)width);
	attroff(attr);
}

/* A long text over the body lines, cut into lines of the screen's width. */
static void draw_wrapped(struct view *v, int y0, size_t lines, const char *text)
{
	struct cell *c;
	size_t n = view_cells(text, strlen(text), v->utf8, &c), i = 0;

	if (n == (size_t)-1)
		return;
	for (size_t line = 0; line < lines && i < n; line++) {
		wchar_t ws[1024];
		size_t w = 0, k = 0, last_space = 0, cut;

		while (i + k < n && k < 1023 && w + c[i + k].width <= (size_t)COLS) {
			if (c[i + k].wc == L' ')
				last_space = k;
			w += c[i + k].width;
			k++;
		}
		/* break at a space when the text goes on */
		cut = (i + k < n && last_space > 0) ? last_space : k;
		for (size_t j = 0; j < cut; j++)
			ws[j] = c[i + j].wc;
		mvaddnwstr(y0 + (int)line, 0, ws, (int)cut);
		i += cut;
		while (i < n && c[i].wc == L' ')
			i++;
	}
	free(c);
}

static void draw_rows(struct view *v)
{
	size_t lines = body_lines(), vw = value_width(v), sw = spark_width(), nw = v->num_w;
	char buf[128], num[32], hashbuf[512];

	if (v->problem[0]) {
		draw_wrapped(v, HEAD_LINES, body_lines(), v->problem);
		return;
	}
	if (!v->res)
		return;
	if (!v->res->n_rows) {
		put_str(v, HEAD_LINES, 0, (size_t)COLS,
			v->filters.n ? "no traffic in this time window matches the filters"
				     : "no traffic in this time window",
			FIT_CUT, A_NORMAL);
		return;
	}
	for (size_t i = 0; i < lines && v->top + i < v->res->n_rows; i++) {
		const struct query_row *r = &v->res->rows[v->top + i];
		attr_t a = v->top + i == v->cursor ? A_REVERSE | A_BOLD : A_NORMAL;
		int y = HEAD_LINES + (int)i, x = (int)vw;
		bool placeholder;
		size_t len;
		const char *s = shown_value(v, cur_tab(v)->dim, &r->value, buf, sizeof(buf), &len,
					    &placeholder);

		if (!placeholder && (cur_tab(v)->dim == QUERY_DIM_SHA256 ||
				     cur_tab(v)->dim == QUERY_DIM_PARENT_SHA256)) {
			/* the hash, then what VirusTotal said of it, then
			 * whether it is what its package installed */
			const json_t *vt = record_vt_cache_get(&v->vt, s, len);
			const char *pkg = record_vt_cache_package(&v->vt, NULL, s, len);
			char brief[96];

			record_vt_brief(vt, brief, sizeof(brief));
			if ((brief[0] || pkg) && len == 64) {
				snprintf(hashbuf, sizeof(hashbuf), "%.64s%s%s%s%s", s, brief[0] ? "  " : "",
					 brief, pkg ? "  package: " : "", pkg ? pkg : "");
				s = hashbuf;
				len = strlen(hashbuf);
			}
		}
		put_text(v, y, 0, vw, s, len, FIT_MIDDLE, a | (placeholder ? A_DIM : A_NORMAL));
		view_format_bytes(r->sent, v->unit, num, sizeof(num));
		put_str(v, y, x, nw, num, FIT_RIGHT, a);
		view_format_bytes(r->received, v->unit, num, sizeof(num));
		put_str(v, y, x + (int)nw, nw, num, FIT_RIGHT, a);
		if (sw) {
			put_str(v, y, x + 2 * (int)nw, 1, " ", FIT_CUT, a);
			draw_spark(v, y, x + 2 * (int)nw + 1, sw, spark_line(v, &r->value), a);
		}
	}
}

static void draw_bottom(struct view *v)
{
	char line[SEARCH_MAX + 128], pid[32];
	pid_t p;

	if (v->prompting) {
		snprintf(line, sizeof(line), "/%.*s", (int)v->prompt_len, v->prompt);
		put_str(v, LINES - 1, 0, (size_t)COLS - 1, line, FIT_CUT, A_NORMAL);
		return;
	}
	if (v->message[0]) {
		put_str(v, LINES - 1, 0, (size_t)COLS - 1, v->message, FIT_CUT, A_BOLD);
		return;
	}
	p = v->env->monitor_pid ? v->env->monitor_pid() : 0;
	if (p > 0)
		snprintf(pid, sizeof(pid), "pid %d", (int)p);
	else
		snprintf(pid, sizeof(pid), "not running");
	snprintf(line, sizeof(line), "sort: %s  units: %s  live: %s  monitor: %s%s%.*s",
		 sort_names[v->sort], (const char *[]){ "B", "kB", "MB", "GB" }[v->unit],
		 v->live ? "on" : "off", pid, v->search_len ? "  search: " : "",
		 (int)v->search_len, v->search);
	put_str(v, LINES - 1, 0, (size_t)COLS - 1, line, FIT_CUT, A_NORMAL);
}

static void clamp_cursor(struct view *v)
{
	size_t n = v->res ? v->res->n_rows : 0, lines;

	if (v->cursor >= n)
		v->cursor = n ? n - 1 : 0;
	if (LINES < MIN_LINES)
		return;
	lines = body_lines();
	if (v->cursor < v->top)
		v->top = v->cursor;
	if (v->cursor >= v->top + lines)
		v->top = v->cursor - lines + 1;
	/* no empty lines at the end while there are rows above */
	if (v->top + lines > n)
		v->top = n > lines ? n - lines : 0;
}

static void draw(struct view *v)
{
	char msg[96];

	erase();
	if (COLS < MIN_COLS || LINES < MIN_LINES) {
		snprintf(msg, sizeof(msg), "terminal too small (%dx%d): picosnitch view needs %dx%d",
			 COLS, LINES, MIN_COLS, MIN_LINES);
		draw_wrapped(v, 0, (size_t)LINES, msg);
		refresh();
		return;
	}
	clamp_cursor(v);
	draw_keys(v);
	draw_status(v);
	draw_tabs(v);
	draw_header(v);
	draw_rows(v);
	draw_bottom(v);
	refresh();
}

/* ---- data ---- */

static void set_problem(struct view *v, int r, const char *err)
{
	const char *path = v->env->db_path;

	switch (r) {
	case -ENOENT:
		snprintf(v->problem, sizeof(v->problem),
			 "No database yet: %s does not exist. The monitor creates it when it first "
			 "writes what it counted (picosnitch start). Trying again every 2 seconds.",
			 path);
		break;
	case -EBUSY:
		snprintf(v->problem, sizeof(v->problem),
			 "The database %s is locked by another program. Trying again every 2 "
			 "seconds.", path);
		break;
	case -EACCES:
		snprintf(v->problem, sizeof(v->problem),
			 "Cannot read %s: permission denied. Run picosnitch view as the user who "
			 "owns it.", path);
		break;
	case -ENODATA:
		snprintf(v->problem, sizeof(v->problem),
			 "The database %s has no picosnitch tables yet. Trying again every 2 "
			 "seconds.", path);
		break;
	default:
		snprintf(v->problem, sizeof(v->problem), "Cannot read %s: %s", path,
			 err && *err ? err : strerror(-r));
		break;
	}
}

static void free_data(struct view *v)
{
	query_result_free(v->res);
	v->res = NULL;
	query_series_free(v->spark);
	v->spark = NULL;
}

/* Query the rows of the current tab again, keeping the cursor on the
 * value it was on when `keep` is set. */
static void load(struct view *v, bool keep)
{
	struct query_filter filters[VIEW_MAX_FILTERS];
	struct query_options opt = { .query_timeout_ms = QUERY_TIMEOUT_MS };
	struct query_totals_req req = { 0 };

	struct query_series_req sreq = { 0 };
	char err[512] = "", *kept = NULL;
	size_t kept_len = 0;
	int r;

	if (v->env->geo) {
		opt.country_of = geo_country_hook;
		opt.country_ctx = v->env->geo;
		opt.asn_of = geo_owner_hook;
		opt.asn_ctx = v->env->geo;
	}
	record_vt_cache_refresh(&v->vt);
	if (keep && v->res && v->cursor < v->res->n_rows) {
		const struct query_value *val = &v->res->rows[v->cursor].value;

		kept = malloc(val->len + 1);
		if (kept) {
			memcpy(kept, val->text, val->len);
			kept_len = val->len;
		}
	}
	free_data(v);
	v->problem[0] = '\0';
	/* a long read (a year of a busy machine) should not look like a hang */
	if (LINES >= MIN_LINES && COLS >= MIN_COLS) {
		put_str(v, LINES - 1, 0, (size_t)COLS - 1, "reading snitch.db ...", FIT_CUT, A_BOLD);
		refresh();
	}
	if (!v->db) {
		r = query_open(v->env->db_path, &opt, &v->db, err, sizeof(err));
		if (r < 0) {
			v->db = NULL;
			set_problem(v, r, err);
			goto out;
		}
	}
	view_filters_query(&v->filters, filters);
	req.sel.dim = cur_tab(v)->dim;
	req.sel.window = view_window(v->period, v->back, now_of(v));
	req.sel.filters = filters;
	req.sel.n_filters = v->filters.n;
	req.sort = v->sort == SORT_SENT	    ? QUERY_SORT_SENT
		   : v->sort == SORT_RECEIVED ? QUERY_SORT_RECEIVED
					      : QUERY_SORT_VALUE;
	req.ascending = v->sort == SORT_NAME;
	req.limit = MAX_ROWS;
	r = query_totals(v->db, &req, &v->res, err, sizeof(err));
	if (r < 0) {
		v->res = NULL;
		set_problem(v, r, err);
		/* a file replaced or removed under us: open it again next time */
		query_close(v->db);
		v->db = NULL;
		goto out;
	}
	if (spark_width() && v->res->n_rows) {
		sreq.sel = req.sel;
		sreq.top = v->res->n_groups < SPARK_TOP ? (size_t)v->res->n_groups : SPARK_TOP;
		sreq.buckets = spark_width();
		sreq.align = true;	/* round buckets, read from the rollups */
		if (query_series(v->db, &sreq, &v->spark, err, sizeof(err)) < 0)
			v->spark = NULL;	/* no sparklines; the numbers still show */
	}
	v->cursor = keep ? v->cursor : 0;
	if (kept) {
		for (size_t i = 0; i < v->res->n_rows; i++) {
			const struct query_value *val = &v->res->rows[i].value;

			if (val->len == kept_len && !memcmp(val->text, kept, kept_len)) {
				v->cursor = i;
				break;
			}
		}
	}
	if (!keep)
		v->top = 0;
out:
	measure_numbers(v);
	free(kept);
}

/* ---- search ---- */

static bool row_matches(struct view *v, size_t i)
{
	char buf[128];
	bool placeholder;
	size_t len;
	const char *s = shown_value(v, cur_tab(v)->dim, &v->res->rows[i].value, buf, sizeof(buf),
				    &len, &placeholder);

	return view_contains(s, len, v->search, v->search_len);
}

/* Move to the next (dir 1) or previous (-1) row that matches the search,
 * starting at the cursor when `here`. */
static void search_step(struct view *v, int dir, bool here)
{
	size_t n = v->res ? v->res->n_rows : 0;

	if (!v->search_len)
		return;
	for (size_t k = here ? 0 : 1; k <= n && n; k++) {
		size_t i = dir > 0 ? (v->cursor + k) % n : (v->cursor + n - k % n) % n;

		if (row_matches(v, i)) {
			v->cursor = i;
			return;
		}
	}
	snprintf(v->message, sizeof(v->message), "not found: %.*s", (int)v->search_len,
		 v->search);
}

static void prompt_key(struct view *v, int kind, wint_t ch)
{
	if (kind == KEY_CODE_YES) {
		if (ch == KEY_BACKSPACE)
			goto backspace;
		if (ch == KEY_ENTER)
			goto enter;
		return;
	}
	switch (ch) {
	case 27:	/* Esc */
		v->prompting = false;
		return;
	case '\n':
	case '\r':
	enter:
		v->prompting = false;
		memcpy(v->search, v->prompt, v->prompt_len);
		v->search_len = v->prompt_len;
		search_step(v, 1, true);
		return;
	case 127:
	case 8:
	backspace:
		/* one character: drop UTF-8 continuation bytes, then its start */
		while (v->prompt_len && ((unsigned char)v->prompt[v->prompt_len - 1] & 0xc0) == 0x80)
			v->prompt_len--;
		if (v->prompt_len)
			v->prompt_len--;
		return;
	default:
		break;
	}
	if (ch >= 0x20 && ch != 0x7f) {
		char mb[8];
		mbstate_t st = { 0 };
		size_t n = wcrtomb(mb, (wchar_t)ch, &st);

		if (n != (size_t)-1 && v->prompt_len + n <= SEARCH_MAX) {
			memcpy(v->prompt + v->prompt_len, mb, n);
			v->prompt_len += n;
		}
	}
}

/* ---- keys ---- */

static void add_filter(struct view *v, enum query_filter_mode mode)
{
	const struct query_value *val;
	char buf[128];
	bool placeholder;
	size_t len;
	const char *shown;
	int r;

	if (!v->res || !v->res->n_rows) {
		snprintf(v->message, sizeof(v->message), "nothing to filter on");
		return;
	}
	val = &v->res->rows[v->cursor].value;
	shown = shown_value(v, cur_tab(v)->dim, val, buf, sizeof(buf), &len, &placeholder);
	{
		char *copy = strndup(shown, len);

		r = copy ? view_filters_push(&v->filters, cur_tab(v)->dim, mode, val->text,
					     val->len, copy, v->tab)
			 : -ENOMEM;
		free(copy);
	}
	if (r == -ENOSPC) {
		snprintf(v->message, sizeof(v->message), "at most %d filters", VIEW_MAX_FILTERS);
		return;
	}
	if (r < 0) {
		snprintf(v->message, sizeof(v->message), "out of memory");
		return;
	}
	load(v, false);
}

static void move_cursor(struct view *v, long delta, bool wrap)
{
	size_t n = v->res ? v->res->n_rows : 0;
	long c = (long)v->cursor + delta;

	if (!n)
		return;
	if (wrap && c < 0)
		c = (long)n - 1;
	else if (wrap && c >= (long)n)
		c = 0;
	if (c < 0)
		c = 0;
	if (c >= (long)n)
		c = (long)n - 1;
	v->cursor = (size_t)c;
}

/* Handle one key: false when the user quits. */
static bool key(struct view *v, int kind, wint_t ch)
{
	size_t ntabs = view_tab_count(v->country), page = LINES > HEAD_LINES + 1 ? body_lines() : 1;

	v->message[0] = '\0';
	if (v->prompting) {
		prompt_key(v, kind, ch);
		return true;
	}
	if (kind == KEY_CODE_YES) {
		switch (ch) {
		case KEY_UP:
			move_cursor(v, -1, true);
			break;
		case KEY_DOWN:
			move_cursor(v, 1, true);
			break;
		case KEY_PPAGE:
			move_cursor(v, -(long)page, false);
			break;
		case KEY_NPAGE:
			move_cursor(v, (long)page, false);
			break;
		case KEY_HOME:
			v->cursor = 0;
			break;
		case KEY_END:
			move_cursor(v, MAX_ROWS, false);
			break;
		case KEY_LEFT:
			v->tab = (v->tab + ntabs - 1) % ntabs;
			load(v, false);
			break;
		case KEY_RIGHT:
			v->tab = (v->tab + 1) % ntabs;
			load(v, false);
			break;
		case KEY_ENTER:
			add_filter(v, QUERY_INCLUDE);
			break;
		case KEY_BACKSPACE:
			goto unfilter;
		case KEY_RESIZE:
			break;
		default:
			break;
		}
		return true;
	}
	switch (ch) {
	case 'q':
	case 27:	/* Esc */
	case 3:		/* Ctrl-C, should it arrive as a key */
		return false;
	case '\n':
	case '\r':
	case ' ':
	case 'f':
		add_filter(v, QUERY_INCLUDE);
		break;
	case 'e':
		add_filter(v, QUERY_EXCLUDE);
		break;
	case 127:
	case 8:
	case 'F':
	case 'E':
	unfilter: {
		int tab = view_filters_pop(&v->filters);

		if (tab < 0) {
			snprintf(v->message, sizeof(v->message), "no filter to remove");
			break;
		}
		v->tab = (size_t)tab;
		load(v, false);
		break;
	}
	case 'h':
		if (!v->period) {
			snprintf(v->message, sizeof(v->message),
				 "\"all\" has no history to step through: choose a time range with t");
			break;
		}
		if (v->back < MAX_BACK)
			v->back++;
		v->live = false;
		load(v, true);
		break;
	case 'H':
		if (!v->back) {
			snprintf(v->message, sizeof(v->message), "already at the present");
			break;
		}
		v->back--;
		load(v, true);
		break;
	case 't':
	case 'T': {
		size_t old = v->period;

		v->period = ch == 't' ? (v->period + 1) % VIEW_PERIODS
				      : (v->period + VIEW_PERIODS - 1) % VIEW_PERIODS;
		v->back = view_rescale_back(old, v->period, v->back);
		load(v, true);
		break;
	}
	case 'u':
		v->unit = (enum view_unit)((v->unit + 1) % VIEW_UNIT__COUNT);
		measure_numbers(v);
		break;
	case 'U':
		v->unit = (enum view_unit)((v->unit + VIEW_UNIT__COUNT - 1) % VIEW_UNIT__COUNT);
		measure_numbers(v);
		break;
	case 's':
		v->sort = (enum sort_mode)((v->sort + 1) % SORT__COUNT);
		load(v, true);
		break;
	case 'r':
		load(v, true);
		break;
	case 'l':
		v->live = !v->live;
		if (v->live)
			v->back = 0;
		load(v, true);
		break;
	case '/':
		v->prompting = true;
		v->prompt_len = 0;
		break;
	case 'n':
		if (!v->search_len)
			snprintf(v->message, sizeof(v->message), "no search yet: press /");
		search_step(v, 1, false);
		break;
	case 'N':
		if (!v->search_len)
			snprintf(v->message, sizeof(v->message), "no search yet: press /");
		search_step(v, -1, false);
		break;
	case 12:	/* Ctrl-L */
		clearok(curscr, TRUE);
		break;
	default:
		break;
	}
	return true;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int view_main(const struct view_env *env)
{
	struct view v = { .env = env, .unit = VIEW_UNIT_KB, .sort = SORT_NAME, .num_w = NUM_WIDTH,
			  .country = env->geo != NULL, .vt = { .dirfd = env->dirfd } };
	struct sigaction sa = { .sa_handler = on_quit_signal };
	const char *fixed = getenv("PICOSNITCH_VIEW_NOW");
	int64_t last_load;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "picosnitch view: needs a terminal (stdin and stdout)\n");
		return 1;
	}
	if (fixed && *fixed) {
		char *end;

		v.now = strtoll(fixed, &end, 10);
		v.fixed_now = !*end;
	}
	setlocale(LC_ALL, "");
	v.utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (!newterm(NULL, stdout, stdin)) {
		fprintf(stderr, "picosnitch view: cannot use this terminal (TERM=%s)\n",
			getenv("TERM") ? getenv("TERM") : "");
		return 1;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(50);
	timeout(250);

	load(&v, false);
	last_load = mono_ms();
	draw(&v);
	while (!quit_signal) {
		wint_t ch;
		int kind = get_wch(&ch);
		int64_t now = mono_ms();

		if (kind == ERR) {
			int64_t every = v.live ? LIVE_MS : v.problem[0] ? RETRY_MS : 0;

			if (every && now - last_load >= every) {
				load(&v, true);
				last_load = now;
				draw(&v);
			}
			continue;
		}
		if (!key(&v, kind, ch))
			break;
		if (kind == KEY_CODE_YES && ch == KEY_RESIZE)
			load(&v, true);	/* the sparklines' width may change */
		draw(&v);
	}
	endwin();
	free_data(&v);
	query_close(v.db);
	record_vt_cache_done(&v.vt);
	view_filters_clear(&v.filters);
	for (size_t i = 0; i < v.n_users; i++)
		free(v.users[i].name);
	return 0;
}
