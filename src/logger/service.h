/* The service a process belongs to, from its /proc/<pid>/cgroup as the
 * monitor read it when it named the process (never parsed as root: the
 * paths hold names that users with a delegated subtree, and containers,
 * choose).  docs/schema.md, "Services":
 *
 *   /system.slice/nginx.service                       nginx.service
 *   /user.slice/user-1000.slice/user@1000.service/app.slice/foo.service
 *                                                     user@1000.service/foo.service
 *   /user.slice/user-1000.slice/session-2.scope       session.scope
 *   .../app-flatpak-org.mozilla.firefox-12345.scope   flatpak:org.mozilla.firefox
 *   .../snap.firefox.firefox-<uuid>.scope             snap:firefox
 *   /system.slice/docker-<64 hex>.scope, /docker/<64 hex>
 *                                                     docker:<12 hex>
 *   .../libpod-<64 hex>.scope                         podman:<12 hex>
 *   .../cri-containerd-<64 hex>.scope                 containerd:<12 hex>
 *   /lxc.payload.NAME/...                             lxc:NAME
 *   / (or a path with no unit in it)                  ""
 *
 * The innermost component that is a unit (or a container) names the
 * service; a scope's trailing "-NUMBER" is dropped (session-2.scope and
 * session-3.scope are the same kind of thing).  Units below a user's
 * manager (user@UID.service) are prefixed with it, so a user's own
 * "sshd.service" is never taken for the system's (apps and containers,
 * "KIND:NAME", are not: no unit is named so).  The unified
 * hierarchy's line ("0::") is used, else systemd's ("name=systemd"); the
 * unified line is the last the kernel writes, so everything after "0::" is
 * its path, newlines and all (a cgroup named "x\n0::/y.service" cannot
 * forge a line).  Output is raw bytes (the logger makes it safe text),
 * bounded by SERVICE_MAX. */
#ifndef PS_LOGGER_SERVICE_H
#define PS_LOGGER_SERVICE_H

#include <stddef.h>

#define SERVICE_MAX 256		/* bytes of a service name, NUL included */

/* The service of a process whose /proc/<pid>/cgroup is raw[0, len), into
 * out (NUL-terminated, at most SERVICE_MAX - 1 bytes; longer names are
 * cut).  "" when it has none, or the file was cut (len >= max). */
void service_from_cgroup(const char *raw, size_t len, size_t max, char out[SERVICE_MAX]);

#endif
