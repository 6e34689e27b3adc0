/* GET /metrics of `picosnitch dash`: Prometheus' text exposition format
 * (version 0.0.4), docs/api.md.  Bytes and flows per executable come from
 * snitch.db through the query layer (all of its history: the busiest
 * `top` executables by sent plus received, the rest summed in one series
 * labelled other="true"); the monitor's and logger's counters come from
 * metrics.json, which the logger writes in the state directory
 * (logger/metrics.h), and only while the monitor that wrote it runs.
 * Executable paths are hostile bytes: escaped for the format, and any byte
 * that is not valid UTF-8 or is a control character shown as \xNN. */
#ifndef PS_DASH_DASH_METRICS_H
#define PS_DASH_DASH_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "dash/dash_api.h"

#define DASH_METRICS_TOP_DEFAULT 20	/* "Metrics top executables" */

/* The whole answer, always served with 200 (when snitch.db cannot be read
 * it says picosnitch_database_up 0, so a scrape still succeeds): *body
 * malloc'd, *len bytes.  dirfd: the state directory (for metrics.json), or
 * -1.  Returns 0 or -ENOMEM. */
int dash_metrics(struct dash_api *api, int dirfd, size_t top, char **body, size_t *len);

/* Write a label value (len bytes, any bytes) between its quotes. */
void dash_metrics_label(FILE *f, const char *s, size_t len);

#endif
