/* Desktop notifications.  The root daemon never talks to the user's session
 * bus itself: it starts a helper (this binary re-executed as "picosnitch
 * notify-helper") that runs as the desktop user, keeps no descriptor of the
 * daemon but its stdin, and turns each line it reads into one
 * org.freedesktop.Notifications.Notify call.  Sending never blocks the
 * daemon: a text that does not fit in the pipe is dropped and counted. */
#ifndef PS_NOTIFY_NOTIFIER_H
#define PS_NOTIFY_NOTIFIER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest text passed on, in bytes once escaped (see notifier.c): with its
 * newline a line fills at most PIPE_BUF, so it is written whole or not at
 * all.  Longer texts are cut before the first character that does not fit. */
#define NOTIFY_TEXT_MAX 4095

struct notifier_opts {
	/* false: print each text on stdout instead (one line, "picosnitch: <text>") */
	bool desktop;
	/* the desktop user the helper runs as (never root, unless uid is 0
	 * because there is no desktop user) */
	uid_t uid;
	gid_t gid;
	/* session bus address, or NULL: $DBUS_SESSION_BUS_ADDRESS if set, else
	 * unix:path=/run/user/<uid>/bus */
	const char *bus_address;
	/* path to re-exec for the helper, normally "/proc/self/exe" (NULL means that) */
	const char *self_exe;
};

struct notifier;

/* With desktop set, start the helper; fails with the errno of the step that
 * failed, including in the helper before it could exec. */
int notifier_start(const struct notifier_opts *opts, struct notifier **ret);

/* Queue one notification; never blocks.  If the helper is slow or gone,
 * texts are dropped and counted; the count is returned by notifier_dropped().
 * In stdout mode the text is escaped and cut as for the helper. */
void notifier_send(struct notifier *n, const char *text);
uint64_t notifier_dropped(struct notifier *n);

/* The helper's pid, or 0 when there is none (desktop is false). */
pid_t notifier_helper_pid(struct notifier *n);

/* Close the pipe, wait (bounded, ~2 s) for the helper to finish sending,
 * reap it (killed if it is not done by then).  NULL-safe. */
void notifier_stop(struct notifier *n);

/* The helper's entry point, for the hidden command "notify-helper": reads
 * texts from stdin, one per line, and shows each on the session bus found
 * from $DBUS_SESSION_BUS_ADDRESS (or $XDG_RUNTIME_DIR/bus).  Returns the
 * process exit status: 0 at the end of input, 1 if stdin cannot be read. */
int notify_helper_main(int argc, char **argv);

#endif
