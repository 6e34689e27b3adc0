/* What `picosnitch view` shows, apart from curses: its tabs (one per
 * dimension of the query layer), the time ranges and how a range and a
 * step back in history make a time window, and the stack of filters.
 * Pure functions, unit-tested in test-view.c. */
#ifndef PS_VIEW_VIEW_STATE_H
#define PS_VIEW_VIEW_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query/query.h"

struct view_tab {
	enum query_dim dim;
	const char *title;	/* in the tab strip: "Executables" */
	const char *header;	/* above the column: "Executable" */
	const char *label;	/* in filter descriptions: "executable" */
};

/* The tabs in order; the country and network-owner tabs are left out
 * when `geo` is false ("GeoIP lookup" off).  view_tab_at() is NULL past
 * the last. */
size_t view_tab_count(bool geo);
const struct view_tab *view_tab_at(bool geo, size_t i);

#define VIEW_PERIODS 16
/* "all", "1 minute", ... "365 days" and their length in seconds (0: all). */
const char *view_period_name(size_t i);
int64_t view_period_seconds(size_t i);

/* The window of range `period` stepped `back` whole ranges into the past
 * from `now`: [now - (back + 1) * len, now - back * len); the live window
 * (back 0) ends one second after now, so entries written at `now` are in
 * it.  "all" (period 0) is the whole history whatever `back` is. */
struct query_window view_window(size_t period, unsigned int back, int64_t now);

/* The number of steps back that keep the window's end about the same when
 * the range changes from `old` to `new_period` (0 for "all"). */
unsigned int view_rescale_back(size_t old, size_t new_period, unsigned int back);

struct view_filter {
	enum query_dim dim;
	enum query_filter_mode mode;
	char *value;		/* as the query layer gives it (raw bytes) */
	size_t len;
	char *shown;		/* as the view shows it ("alice (1000)") */
	size_t tab;		/* the tab it was made on */
};

#define VIEW_MAX_FILTERS 32

struct view_filters {
	struct view_filter f[VIEW_MAX_FILTERS];
	size_t n;
};

/* Push a filter (the strings are copied): 0, -ENOSPC when full, -ENOMEM. */
int view_filters_push(struct view_filters *fs, enum query_dim dim, enum query_filter_mode mode,
		      const char *value, size_t len, const char *shown, size_t tab);
/* Pop the last one; returns the tab it was made on, or -ENOENT when none. */
int view_filters_pop(struct view_filters *fs);
void view_filters_clear(struct view_filters *fs);
/* The filters as the query layer takes them (n entries of out). */
void view_filters_query(const struct view_filters *fs, struct query_filter *out);

/* `Executable (where process name = "curl" & user != "alice (1000)")`:
 * malloc'd, NULL when out of memory.  Values are not escaped here. */
char *view_filters_describe(const struct view_filters *fs, bool country, const char *header);

#endif
