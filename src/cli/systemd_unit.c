/* `picosnitch systemd`: writes the service unit and reloads systemd.
 *
 * Type=notify: systemd considers the service started once the monitor
 * says it is monitoring (sd_notify READY=1), so a broken config.json fails
 * `systemctl start` instead of looking started.  A config error exits
 * with 78, which is not restarted; other failures are, a few times.  The
 * hardening keeps what loading BPF, reading every process's executable and
 * running helpers as the desktop user need, and takes away the rest. */
#include "cli/systemd_unit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/service.h"
#include "config/config.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"

#define UNIT_NAME "picosnitch.service"
#define DEFAULT_UNIT_DIR "/etc/systemd/system"

static const char unit_template[] =
	"# Written by `picosnitch systemd`; run it again to rewrite this file.\n"
	"[Unit]\n"
	"Description=picosnitch: which programs use the network, how much, with whom\n"
	"Documentation=man:picosnitch(8)\n"
	"After=local-fs.target\n"
	"# a daemon that keeps failing stops being restarted after 5 tries in 5 minutes\n"
	"StartLimitIntervalSec=300\n"
	"StartLimitBurst=5\n"
	"\n"
	"[Service]\n"
	"Type=notify\n"
	"NotifyAccess=main\n"
	"ExecStart=%s start-no-daemon\n"
	"PIDFile=%s\n"
	"%s"
	"%s"
	"Restart=on-failure\n"
	"RestartSec=5\n"
	"# 78: config.json is wrong; restarting cannot help (see error messages)\n"
	"RestartPreventExitStatus=78\n"
	"TimeoutStopSec=60\n"
	"# start-up only (the monitor drops all but CAP_BPF, CAP_SYS_PTRACE and\n"
	"# CAP_DAC_READ_SEARCH once the sensor runs): loading BPF (BPF, PERFMON,\n"
	"# NET_ADMIN), fanotify (SYS_ADMIN), the descriptor limit (SYS_RESOURCE),\n"
	"# its CPU priority (SYS_NICE), making the state directory (DAC_OVERRIDE,\n"
	"# CHOWN), starting the logger as the desktop user (SETUID, SETGID)\n"
	"CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_RESOURCE "
	"CAP_SYS_NICE CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE CAP_CHOWN CAP_SETUID "
	"CAP_SETGID\n"
	"NoNewPrivileges=yes\n"
	"UMask=0077\n"
	"# writes: the state (a home directory, or /var/lib/picosnitch), /run\n"
	"ProtectSystem=strict\n"
	"ReadWritePaths=-/home /run%s%s\n"
	"StateDirectory=picosnitch\n"
	"StateDirectoryMode=0700\n"
	"PrivateTmp=yes\n"
	"ProtectKernelModules=yes\n"
	"ProtectKernelLogs=yes\n"
	"ProtectKernelTunables=yes\n"
	"ProtectControlGroups=yes\n"
	"ProtectClock=yes\n"
	"ProtectHostname=yes\n"
	"PrivateDevices=yes\n"
	"KeyringMode=private\n"
	"RestrictNamespaces=yes\n"
	"RestrictRealtime=yes\n"
	"RestrictSUIDSGID=yes\n"
	"%s"
	"LockPersonality=yes\n"
	"MemoryDenyWriteExecute=yes\n"
	"SystemCallArchitectures=native\n"
	"# an allow list: what a service uses, and BPF, fanotify, the cgroup2 mount\n"
	"SystemCallFilter=@system-service bpf perf_event_open fanotify_init fanotify_mark mount "
	"capset\n"
	"SystemCallErrorNumber=EPERM\n"
	"\n"
	"[Install]\n"
	"WantedBy=multi-user.target\n";

static const char *unit_dir(void)
{
	const char *d = getenv("PICOSNITCH_UNIT_DIR");

	return d && *d ? d : DEFAULT_UNIT_DIR;
}

static bool systemd_running(void)
{
	struct stat st;

	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

static int daemon_reload(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("systemctl", "systemctl", "daemon-reload", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* The unit's sockets: none on IP, unless the logger asks VirusTotal. */
static const char families_local[] =
	"# its own traffic: the socket to the logger, D-Bus, the journal (none on IP)\n"
	"RestrictAddressFamilies=AF_UNIX\n"
	"IPAddressDeny=any\n";
static const char families_ip[] =
	"# its own traffic: the socket to the logger, D-Bus, the journal, and the\n"
	"# logger's requests to VirusTotal or its \"DB sql server\" (set when this\n"
	"# was written)\n"
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n";

char *systemd_unit_text(const char *exe, const struct state_dir *sd, bool ip)
{
	char *text = NULL, *extra = NULL, user[64] = "";
	const char *dir = getenv("PICOSNITCH_DIR");
	const char *pidfile = getenv("PICOSNITCH_PIDFILE");

	/* an explicit state directory or pidfile travels with the unit */
	if (asprintf(&extra, "%s%s%s%s%s%s", dir && *dir ? "Environment=\"PICOSNITCH_DIR=" : "",
		     dir && *dir ? dir : "", dir && *dir ? "\"\n" : "",
		     pidfile && *pidfile ? "Environment=\"PICOSNITCH_PIDFILE=" : "",
		     pidfile && *pidfile ? pidfile : "", pidfile && *pidfile ? "\"\n" : "") < 0)
		return NULL;
	/* no sd: a unit for any machine (a package's), whose monitor finds the
	 * desktop user each time it starts */
	if (sd)
		snprintf(user, sizeof(user), "Environment=SUDO_UID=%u\n", (unsigned)sd->uid);
	if (asprintf(&text, unit_template, exe, pidfile_path(), user, extra ? extra : "",
		     dir && *dir ? " " : "", dir && *dir ? dir : "",
		     ip ? families_ip : families_local) < 0)
		text = NULL;
	free(extra);
	return text;
}

/* Whether config.json has a "VT API key" or a "DB sql server" (the logger
 * then needs IP sockets): 1 for the key, 2 for the server, 3 both, 0 none: read by a child running as the user the logger runs as, since
 * root parses nothing a user wrote; anything wrong reads as no. */
static int wants_ip(const struct state_dir *sd)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return false;
	if (pid == 0) {
		struct config cfg;
		char *text = NULL, err[CONFIG_ERR_LEN];
		size_t len;
		int dfd;

		if (sd->uid == 0 || setgroups(0, NULL) < 0 || setresgid(sd->gid, sd->gid, sd->gid) < 0 ||
		    setresuid(sd->uid, sd->uid, sd->uid) < 0 || geteuid() == 0)
			_exit(1);
		dfd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0 || read_below(dfd, CONFIG_FILE, 1 << 20, &text, &len) < 0 ||
		    config_parse(text, len, &cfg, err, sizeof(err)) < 0)
			_exit(1);
		_exit(10 + (cfg.vt_api_key[0] ? 1 : 0) +
		      (json_object_size(cfg.db_sql_server) ? 2 : 0));
	}
	if (waitpid(pid, &status, 0) < 0)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) >= 10 && WEXITSTATUS(status) <= 13
		       ? WEXITSTATUS(status) - 10 : 0;
}

int cmd_systemd(const struct state_dir *sd)
{
	int ip;
	char exe[PATH_MAX], *text, *path = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int dirfd, r;

	if (n <= 0) {
		log_errno(-errno, "cannot find this program's path");
		return 1;
	}
	exe[n] = '\0';
	if (strpbrk(exe, " \t\n\"'\\%$")) {
		log_error("this program's path (%s) has characters a unit file cannot hold "
			  "unquoted; install picosnitch somewhere else", exe);
		return 1;
	}
	for (const char *const *v = (const char *const[]){ "PICOSNITCH_DIR", "PICOSNITCH_PIDFILE",
							  NULL };
	     *v; v++) {
		const char *val = getenv(*v);

		if (val && strpbrk(val, "\"\\%$\n")) {
			log_error("%s (%s) has characters a unit file cannot hold", *v, val);
			return 1;
		}
	}
	if (sd->uid == 0) {
		/* no desktop user: the logger's system user is made now, outside
		 * the service's read-only /etc */
		struct state_dir copy = *sd;

		if (state_dir_logger_user(&copy) < 0)
			log_warn("cannot create the system user %s for the logger; the service "
				 "will run it as nobody", LOGGER_SYSTEM_USER);
	}
	{
		/* the user the logger runs as (the system user when there is
		 * no desktop user) reads config.json */
		struct state_dir as = *sd;

		if (as.uid == 0)
			state_dir_logger_user(&as);
		ip = wants_ip(&as);
	}
	text = systemd_unit_text(exe, sd, ip != 0);
	if (!text) {
		log_errno(-ENOMEM, "cannot write the unit");
		return 1;
	}
	dirfd = open(unit_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		log_errno(-errno, "cannot open %s", unit_dir());
		free(text);
		return 1;
	}
	r = write_atomic_below(dirfd, UNIT_NAME, text, strlen(text), 0644, 0, 0);
	close(dirfd);
	free(text);
	if (asprintf(&path, "%s/%s", unit_dir(), UNIT_NAME) < 0)
		path = NULL;
	if (r < 0) {
		log_errno(r, "cannot write %s", path ? path : UNIT_NAME);
		free(path);
		return 1;
	}
	printf("wrote %s (runs %s start-no-daemon)\n", path, exe);
	if (ip & 1)
		printf("\"VT API key\" is set: the unit allows IP sockets, for the logger's "
		       "requests to VirusTotal (write the unit again after removing the key)\n");
	if (ip & 2)
		printf("\"DB sql server\" is set: the unit allows IP sockets, for the logger's "
		       "connection to it (write the unit again after removing it)\n");
	if (!systemd_running()) {
		printf("systemd is not running here, so nothing was reloaded; on a systemd machine "
		       "run: systemctl daemon-reload && systemctl enable --now picosnitch\n");
	} else if (daemon_reload() < 0) {
		fprintf(stderr, "systemctl daemon-reload failed; run it yourself, then: "
			"systemctl enable --now picosnitch\n");
		free(path);
		return 1;
	} else {
		printf("reloaded systemd; start it now and at every boot with: "
		       "systemctl enable --now picosnitch\n");
	}
	free(path);
	return 0;
}

int cmd_systemd_print(void)
{
	char exe[PATH_MAX], *text;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		log_errno(-errno, "cannot find this program's path");
		return 1;
	}
	exe[n] = '\0';
	text = systemd_unit_text(exe, NULL, false);
	if (!text) {
		log_errno(-ENOMEM, "cannot make the unit");
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return fflush(stdout) == 0 ? 0 : 1;
}
