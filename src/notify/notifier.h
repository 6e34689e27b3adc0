/* Desktop notifications, sent by the logger (running as the desktop user)
 * straight to the user's session bus: org.freedesktop.Notifications.Notify
 * through sd-bus, on a thread of its own, so that a slow or absent
 * notification server never holds up logging.  Sending never blocks: texts
 * wait in a bounded queue, and what does not fit is dropped and counted. */
#ifndef PS_NOTIFY_NOTIFIER_H
#define PS_NOTIFY_NOTIFIER_H

#include <stdbool.h>
#include <stdint.h>

/* Longest text shown, in bytes: longer ones are cut before the first
 * character that does not fit. */
#define NOTIFY_TEXT_MAX 4095
/* Texts that may wait for the bus. */
#define NOTIFY_QUEUE_MAX 256

struct notifier_opts {
	/* false: hand each text to print() instead (the monitor's stdout) */
	bool desktop;
	void (*print)(void *ctx, const char *text);
	void *ctx;
};

struct notifier;

int notifier_start(const struct notifier_opts *opts, struct notifier **ret);
/* Queue one notification (safe text); never blocks. */
void notifier_send(struct notifier *n, const char *text);
uint64_t notifier_dropped(struct notifier *n);
/* Notifications shown by the server (or printed, without a desktop). */
uint64_t notifier_sent(struct notifier *n);
/* Send what is queued (for at most ~2 s, plus one call in progress), then
 * stop.  NULL-safe. */
void notifier_stop(struct notifier *n);

#endif
