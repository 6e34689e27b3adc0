/* Tests of the service of a process from its /proc/<pid>/cgroup
 * (src/logger/service.c): systemd units of the system and of users,
 * scopes, flatpak and snap apps, docker, podman, containerd and LXC
 * containers, in the unified and the hybrid layouts; hostile paths (a
 * cgroup named to forge a line, a user's own "sshd.service", names
 * longer than the bound, trees deeper than any real one, a cut file). */
#include <stdio.h>
#include <string.h>

#include "logger/service.h"
#include "tap.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HYBRID_V1                                                                             \
	"12:cpuset:/\n11:memory:/system.slice/x.service\n1:name=systemd:/system.slice/nginx.service\n"

static void check(const char *cgroup, const char *want, const char *what)
{
	char out[SERVICE_MAX];

	service_from_cgroup(cgroup, strlen(cgroup), 2048, out);
	is_str(out, want, what);
}

int main(void)
{
	char big[4096], out[SERVICE_MAX], want[SERVICE_MAX];
	size_t n;

	check("0::/system.slice/nginx.service\n", "nginx.service", "a system service (unified)");
	check(HYBRID_V1 "0::/system.slice/nginx.service\n", "nginx.service",
	      "a system service (hybrid: the unified line)");
	check(HYBRID_V1, "nginx.service", "only v1: systemd's own hierarchy");
	check("0::/picosnitch-test-x.service\n", "picosnitch-test-x.service", "a unit at the root");
	check("0::/system.slice/foo.service/worker/inner\n", "foo.service",
	      "sub-cgroups of a service belong to it");
	check("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n",
	      "user@1000.service/foo.service", "a user's service says whose");
	check("0::/user.slice/user-1000.slice/user@1000.service/app.slice/sshd.service\n",
	      "user@1000.service/sshd.service", "  so a user's sshd.service is not the system's");
	check("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n",
	      "user@1000.service/init.scope", "the user's manager");
	check("0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker:x.service\n",
	      "user@1000.service/docker:x.service", "  even when its name looks like a container's");
	check("0::/user.slice/user-1000.slice/session-2.scope\n", "session.scope",
	      "a login session (its number dropped)");
	check("0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
	      "app-gnome-firefox\\x2desr-4242.scope\n",
	      "user@1000.service/app-gnome-firefox\\x2desr.scope", "a desktop app's scope");
	check("0::/init.scope\n", "init.scope", "PID 1");
	check("0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
	      "app-flatpak-org.mozilla.firefox-12345.scope\n",
	      "flatpak:org.mozilla.firefox", "a flatpak app");
	check("0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
	      "snap.firefox.firefox-0a1b2c3d-1111-2222-3333-444455556666.scope\n",
	      "snap:firefox", "a snap app");
	check("0::/system.slice/snap.lxd.daemon.service\n", "snap:lxd", "a snap service");
	check("0::/system.slice/docker-" HEX64 ".scope\n", "docker:0123456789ab",
	      "a docker container (systemd driver)");
	check("0::/docker/" HEX64 "\n", "docker:0123456789ab", "a docker container (cgroupfs driver)");
	check("0::/docker/" HEX64 "/sub\n", "docker:0123456789ab", "  and inside it");
	check("0::/machine.slice/libpod-" HEX64 ".scope/container\n", "podman:0123456789ab",
	      "a podman container");
	check("0::/machine.slice/libpod-conmon-" HEX64 ".scope\n", "podman:0123456789ab",
	      "  its monitor");
	check("0::/kubepods.slice/cri-containerd-" HEX64 ".scope\n", "containerd:0123456789ab",
	      "a containerd container");
	check("0::/lxc.payload.web1/system.slice/nginx.service\n", "nginx.service",
	      "a service inside an LXC container (the innermost unit)");
	check("0::/lxc.payload.web1/\n", "lxc:web1", "an LXC container");
	check("0::/\n", "", "the root: none");
	check("0::/user.slice/user-1000.slice\n", "", "a slice: none");
	check("0::/my/own/group\n", "", "names that are no unit: none");
	check("", "", "an empty file: none");
	check("garbage", "", "garbage: none");
	check("0::", "", "an empty path: none");
	check("0::/docker-12345.scope\n", "docker.scope", "too short for a container id: a scope");

	/* hostile */
	check("0::/user.slice/user-1000.slice/user@1000.service/app.slice/x\n0::/system.slice/sshd.service\n",
	      "user@1000.service/sshd.service",
	      "a newline in a name cannot forge the system's line (it stays below the user)");
	check("0::/user.slice/user-1000.slice/user@1000.service/a\n1:name=systemd:/z.service\n",
	      "user@1000.service/z.service", "  everything after 0:: is the path");
	check("0::/a\x1b[31m.service\n", "a\x1b[31m.service",
	      "control characters pass as bytes (made safe text by the caller)");
	n = (size_t)snprintf(big, sizeof(big), "0::/");
	memset(big + n, 'a', 600);
	strcpy(big + n + 600, ".service\n");
	service_from_cgroup(big, strlen(big), 2048, out);
	memset(want, 'a', SERVICE_MAX - 1);
	want[SERVICE_MAX - 1] = '\0';
	is_str(out, want, "a longer name is cut to the bound");
	n = (size_t)snprintf(big, sizeof(big), "0::/user.slice/user-1000.slice/user@1000.service/");
	memset(big + n, 'b', 600);
	strcpy(big + n + 600, ".service\n");
	service_from_cgroup(big, strlen(big), 2048, out);
	is_int(strlen(out), SERVICE_MAX - 1, "  also below a user's manager");
	ok(!strncmp(out, "user@1000.service/bbb", 21), "  which still says whose");
	n = (size_t)snprintf(big, sizeof(big), "0::");
	for (int i = 0; i < 70; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "/d%d", i);
	snprintf(big + n, sizeof(big) - n, "/x.service\n");
	check(big, "", "deeper than 64 levels: no guess");
	service_from_cgroup("0::/system.slice/nginx.service\n", 31, 31, out);
	is_str(out, "", "a file as long as the read: cut, so no guess");
	service_from_cgroup("0::/system.slice/nginx.service\n", 31, 32, out);
	is_str(out, "nginx.service", "  one byte shorter: whole");
	service_from_cgroup(NULL, 0, 2048, out);
	is_str(out, "", "none read: none");
	return tap_done();
}
