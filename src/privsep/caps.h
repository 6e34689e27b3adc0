/* The capabilities the monitor keeps once the sensor runs, and why
 * (docs/privsep.md has the same list): everything else is dropped from
 * the effective, permitted, inheritable, ambient and bounding sets, and
 * the securebits keep root from getting any back through exec. */
#ifndef PS_PRIVSEP_CAPS_H
#define PS_PRIVSEP_CAPS_H

#include <stddef.h>
#include <stdint.h>

struct kept_cap {
	int cap;
	const char *name;
	const char *why;
};

extern const struct kept_cap monitor_caps[];
extern const size_t monitor_ncaps;

/* Keep only monitor_caps.  0 or negative errno (nothing is dropped
 * partially: on failure the caller stops). */
int caps_limit_to_monitor(void);

/* The effective set of this process as a bit mask (CapEff). */
int caps_effective(uint64_t *ret);

#endif
