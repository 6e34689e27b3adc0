/* The monitor's handling of what the logger sends, for fuzz targets and
 * tests that feed it messages without a logger. */
#ifndef PS_MONITOR_MONITOR_INT_H
#define PS_MONITOR_MONITOR_INT_H

#include <stddef.h>
#include <stdint.h>

struct monitor;

/* A monitor with no sensor and no logger (free it with free()). */
struct monitor *monitor_new_for_tests(void);
/* One message as received from the logger: checked, then handled. */
void monitor_handle_logger(struct monitor *m, const void *buf, size_t len);
/* The settings the monitor takes from the logger, clamped. */
uint32_t ringbuf_bytes(struct monitor *m);
uint32_t st_dev_mask(struct monitor *m);

#endif
