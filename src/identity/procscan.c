/* /proc scans: socket holders, task snapshots, exec cache seeding. */
#include "identity/procscan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "identity/ident.h"
#include "util/fileid.h"
#include "util/fsutil.h"
#include "util/strutil.h"

static size_t scan_fds(int procfd, const char *pid_name, const uint64_t *inodes, size_t n,
		       uint32_t pid, uint32_t *ret_pids)
{
	char fdpath[300], link[64];
	struct dirent *de;
	size_t found = 0;
	int dfd;
	DIR *d;

	snprintf(fdpath, sizeof(fdpath), "%s/fd", pid_name);
	dfd = openat(procfd, fdpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d))) {
		unsigned long long ino;
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (inodes[i] == ino && !ret_pids[i]) {
				ret_pids[i] = pid;
				found++;
			}
		}
	}
	closedir(d);
	return found;
}

int sockscan_find(const uint64_t *inodes, size_t n, uint32_t *ret_pids)
{
	struct dirent *de;
	size_t missing = n;
	int procfd;
	DIR *d;

	memset(ret_pids, 0, n * sizeof(*ret_pids));
	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -errno;
	d = fdopendir(procfd);
	if (!d) {
		close(procfd);
		return -errno;
	}
	while (missing && (de = readdir(d))) {
		uint64_t pid;

		if (parse_u64(de->d_name, &pid) < 0)
			continue;
		missing -= scan_fds(dirfd(d), de->d_name, inodes, n, (uint32_t)pid, ret_pids);
	}
	closedir(d);
	return 0;
}

/* "Name:", "PPid:", "Uid:" of /proc/<pid>/status. */
static int read_status(uint32_t pid, char comm[PS_COMM_LEN], uint32_t *ppid, uint32_t *uid)
{
	char path[64], *buf, *line, *save = NULL;
	int got = 0, r;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	r = read_file(path, 65536, &buf, NULL);
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (str_has_prefix(line, "Name:\t")) {
			snprintf(comm, PS_COMM_LEN, "%s", line + 6);
			got |= 1;
		} else if (sscanf(line, "PPid:\t%u", ppid) == 1) {
			got |= 2;
		} else if (sscanf(line, "Uid:\t%u", uid) == 1) {
			got |= 4;
		}
	}
	free(buf);
	return got == 7 ? 0 : -EINVAL;
}

static void exe_id(uint32_t pid, __u64 *ino, __u32 *dev)
{
	char path[64];
	uint64_t i;
	uint32_t d;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	*ino = 0;
	*dev = 0;
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fileid_key(fd, pid, &i, &d) == 0) {
		*ino = i;
		*dev = d;
	}
	close(fd);
}

/* Name, start, executable and parent of one process, from /proc. */
static int proc_one(uint32_t pid, char comm[PS_COMM_LEN], __u64 *start, __u64 *ino, __u32 *dev,
		    uint32_t *ppid, uint32_t *uid)
{
	uint64_t st;
	uint32_t dummy;
	int r = read_status(pid, comm, ppid ? ppid : &dummy, uid ? uid : &dummy);

	if (r < 0)
		return r;
	r = proc_start_ns(pid, &st);
	if (r < 0)
		return r;
	*start = st;
	exe_id(pid, ino, dev);
	return 0;
}

int task_from_proc(uint32_t pid, struct ps_task *ret)
{
	struct ps_task t = { 0 };
	int r;

	t.tgid = pid;
	r = proc_one(pid, t.comm, &t.start_ns, &t.exe_ino, &t.exe_dev, &t.ppid, &t.uid);
	if (r < 0)
		return r;
	if (t.ppid && proc_one(t.ppid, t.pcomm, &t.pstart_ns, &t.pexe_ino, &t.pexe_dev, &t.gppid,
			       NULL) < 0)
		t.ppid = t.gppid = 0;
	if (t.gppid && proc_one(t.gppid, t.gpcomm, &t.gpstart_ns, &t.gpexe_ino, &t.gpexe_dev, NULL,
				NULL) < 0)
		t.gppid = 0;
	t.flags = PS_TASK_KNOWN;
	*ret = t;
	return 0;
}

int exec_cache_seed(int execs_fd)
{
	struct ps_exec_info *info;
	struct dirent *de;
	int added = 0;
	DIR *d;

	if (execs_fd < 0)
		return 0;
	info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	d = opendir("/proc");
	if (!d) {
		free(info);
		return -errno;
	}
	while ((de = readdir(d))) {
		char path[64], *args;
		uint64_t pid;
		size_t len;
		ssize_t n;

		if (parse_u64(de->d_name, &pid) < 0)
			continue;
		memset(info, 0, sizeof(*info));
		if (task_from_proc((uint32_t)pid, &info->who) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%u/exe", (uint32_t)pid);
		n = readlink(path, info->path, sizeof(info->path) - 1);
		if (n <= 0)
			continue;	/* kernel threads */
		info->path_len = n + 1;
		snprintf(path, sizeof(path), "/proc/%u/cmdline", (uint32_t)pid);
		if (read_file(path, 1 << 20, &args, &len) == 0) {
			/* the real length, as the exec tracepoint writes it */
			info->args_len = len;
			if (len > sizeof(info->args))
				len = sizeof(info->args);
			memcpy(info->args, args, len);
			free(args);
		}
		/* never replace what the exec tracepoint wrote meanwhile */
		if (bpf_map_update_elem(execs_fd, &info->who.tgid, info, BPF_NOEXIST) == 0)
			added++;
	}
	closedir(d);
	free(info);
	return added;
}
