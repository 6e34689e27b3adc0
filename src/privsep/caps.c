/* Dropping capabilities (caps.h), with libcap. */
#include "privsep/caps.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include <linux/securebits.h>
#include <sys/capability.h>

const struct kept_cap monitor_caps[] = {
	{ CAP_BPF, "cap_bpf",
	  "every bpf() call after load: reading and deleting map entries, running the TCP "
	  "iterator, reading the programs' statistics (kernel.unprivileged_bpf_disabled)" },
	{ CAP_SYS_PTRACE, "cap_sys_ptrace",
	  "/proc/PID/exe and /proc/PID/fd of other users' processes: naming a process, opening "
	  "its executable, finding the holder of a socket" },
	{ CAP_DAC_READ_SEARCH, "cap_dac_read_search",
	  "opening executables and their directories whatever their mode, to hash them" },
};
const size_t monitor_ncaps = sizeof(monitor_caps) / sizeof(monitor_caps[0]);

static bool kept(int cap)
{
	for (size_t i = 0; i < monitor_ncaps; i++)
		if (monitor_caps[i].cap == cap)
			return true;
	return false;
}

int caps_limit_to_monitor(void)
{
	cap_value_t list[64];
	cap_t c;
	int r = 0;

	/* root must not regain what it drops by exec or by changing uid */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
					     SECBIT_NO_CAP_AMBIENT_RAISE |
					     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (kept(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	c = cap_init();	/* all clear */
	if (!c)
		return -errno;
	for (size_t i = 0; i < monitor_ncaps; i++)
		list[i] = monitor_caps[i].cap;
	if (cap_set_flag(c, CAP_PERMITTED, (int)monitor_ncaps, list, CAP_SET) < 0 ||
	    cap_set_flag(c, CAP_EFFECTIVE, (int)monitor_ncaps, list, CAP_SET) < 0 ||
	    cap_set_proc(c) < 0)
		r = -errno;
	cap_free(c);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = -errno;
	return r;
}

int caps_effective(uint64_t *ret)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "CapEff: %llx", &v) == 1) {
			*ret = v;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}
