/* Text for the terminal interface: values from snitch.db (bytes any
 * monitored process chose) made into cells a terminal shows safely and
 * with a known width, shortened in the middle to fit a column, and the
 * numbers, users and times as `picosnitch view` prints them.  No curses
 * here: everything is a pure function, unit-tested in test-view.c. */
#ifndef PS_VIEW_VIEW_TEXT_H
#define PS_VIEW_VIEW_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

/* One character as shown: wc (never a control or zero-width character)
 * taking `width` columns (1 or 2). */
struct cell {
	wchar_t wc;
	unsigned char width;
};

/* Cells for `len` bytes of untrusted text.  With `utf8` (the terminal's
 * locale is UTF-8), valid UTF-8 characters that print with a width of 1 or
 * 2 are kept; everything else (invalid or overlong sequences, surrogates,
 * controls, C1, zero-width and format characters such as U+202E, NUL, and
 * in a non-UTF-8 locale every byte >= 0x80) becomes \xNN per byte, and a
 * backslash becomes \\, so distinct values never look alike.  Returns the
 * number of cells (at most 4 * len); *cells is malloc'd (NULL with -ENOMEM
 * returned as (size_t)-1). */
size_t view_cells(const char *s, size_t len, bool utf8, struct cell **cells);

/* The total width of n cells. */
size_t view_cells_width(const struct cell *c, size_t n);

/* Fit n cells into exactly `width` columns into out (width + 1 cells, the
 * last with wc 0): shorter text is padded with spaces; longer text keeps
 * its start and its end with an ellipsis (U+2026, or '~' without utf8)
 * between, and a wide character that would straddle an edge becomes a
 * space.  `right` aligns short text right.  Returns the cells written. */
size_t view_fit(const struct cell *c, size_t n, size_t width, bool utf8, bool right,
		struct cell *out);

/* Decimal byte units: 0 B, 1 kB, 2 MB, 3 GB. */
enum view_unit { VIEW_UNIT_B, VIEW_UNIT_KB, VIEW_UNIT_MB, VIEW_UNIT_GB, VIEW_UNIT__COUNT };

/* "1234 B", "1.2 kB", "12345.7 MB": the number in the unit, one decimal
 * (none for bytes), rounded half away from zero. */
void view_format_bytes(int64_t n, enum view_unit unit, char *buf, size_t size);

/* "alice (1000)", "??? (1234)" when the name is unknown, "unknown" for -1;
 * `name` may be NULL.  The name is not escaped here (view_cells does). */
void view_format_user(int64_t uid, const char *name, char *buf, size_t size);

/* Local time "YYYY-MM-DD HH:MM:SS" of unix seconds ("?" when out of range). */
void view_format_time(int64_t t, char *buf, size_t size);

/* Whether `hay` (len bytes) contains `needle`, ignoring ASCII case. */
bool view_contains(const char *hay, size_t len, const char *needle, size_t nlen);

#endif
