/* Minimal TAP output for the C unit tests: each check prints "ok N - what"
 * or "not ok N - what" with the values compared; tap_done() prints the
 * plan and returns the exit status. */
#ifndef PS_TESTS_TAP_H
#define PS_TESTS_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *what)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, what);
	return cond;
}

#define ok(cond, what) tap_ok(!!(cond), what)

#define is_int(got, want, what)                                                               \
	do {                                                                                  \
		long long g_ = (long long)(got), w_ = (long long)(want);                      \
		if (!tap_ok(g_ == w_, what))                                                  \
			printf("#   got %lld, expected %lld\n", g_, w_);                          \
	} while (0)

#define is_str(got, want, what)                                                               \
	do {                                                                                  \
		const char *g_ = (got), *w_ = (want);                                         \
		if (!tap_ok(g_ && w_ && !strcmp(g_, w_), what))                               \
			printf("#   got '%s'\n#   expected '%s'\n", g_ ? g_ : "(null)",            \
			       w_ ? w_ : "(null)");                                           \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
