/* picosnitch command line: one command per run, dispatched here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/service.h"
#include "cli/systemd_unit.h"
#include "config/paths.h"
#include "logger/logger.h"
#include "util/log.h"

static void usage(FILE *out, const struct state_dir *sd)
{
	fprintf(out,
		"picosnitch %s: see which programs use the network, how much, and with whom.\n"
		"\n"
		"usage: picosnitch <command>\n"
		"\n"
		"  start            start the monitor in the background (root)\n"
		"  stop             stop it, after it has written what it counted (root)\n"
		"  restart          stop, then start (root)\n"
		"  start-no-daemon  run the monitor in the foreground, for systemd or a terminal (root)\n"
		"  systemd          install the systemd service: systemctl enable --now picosnitch (root)\n"
		"  status           whether the monitor runs, and its pid\n"
		"  dash             the web interface (not in this version yet)\n"
		"  view             the terminal interface (not in this version yet)\n"
		"  version          the version and the state directory\n"
		"  help             this text\n"
		"\n"
		"state directory: %s\n"
		"more: man picosnitch\n",
		PICOSNITCH_VERSION, sd->path ? sd->path : "(unknown)");
}

enum need { ANYONE, ROOT };

struct command {
	const char *name;
	enum need need;
	const char *why_root;
};

static const struct command commands[] = {
	{ "start", ROOT, "it loads BPF programs into the kernel" },
	{ "stop", ROOT, "the monitor runs as root" },
	{ "restart", ROOT, "it loads BPF programs into the kernel" },
	{ "start-no-daemon", ROOT, "it loads BPF programs into the kernel" },
	{ "systemd", ROOT, "it writes a unit to /etc/systemd/system" },
	{ "status", ANYONE, NULL },
	{ "dash", ANYONE, NULL },
	{ "view", ANYONE, NULL },
	{ "version", ANYONE, NULL },
	{ "help", ANYONE, NULL },
};

static const struct command *find_command(const char *name)
{
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		name = "help";
	else if (!strcmp(name, "--version"))
		name = "version";
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}

static int run(const struct command *c, struct state_dir *sd)
{
	const char *n = c->name;

	if (c->need == ROOT && geteuid() != 0)
		return run_as_root(n, c->why_root);
	if (!sd->path && strcmp(n, "help") && strcmp(n, "version") && strcmp(n, "status")) {
		log_error("cannot work out the state directory (is PICOSNITCH_DIR an absolute path?)");
		return 1;
	}
	if (!strcmp(n, "help")) {
		usage(stdout, sd);
		return 0;
	}
	if (!strcmp(n, "version")) {
		printf("picosnitch %s\nstate directory: %s\n", PICOSNITCH_VERSION,
		       sd->path ? sd->path : "(unknown)");
		return 0;
	}
	if (!strcmp(n, "status"))
		return cmd_status(sd);
	if (!strcmp(n, "start"))
		return cmd_start(sd);
	if (!strcmp(n, "stop"))
		return cmd_stop();
	if (!strcmp(n, "restart"))
		return cmd_restart(sd);
	if (!strcmp(n, "start-no-daemon"))
		return cmd_start_no_daemon(sd);
	if (!strcmp(n, "systemd"))
		return cmd_systemd(sd);
	/* dash, view */
	fprintf(stderr, "picosnitch %s: this interface is not in this version yet; the data is "
		"in %s/snitch.db (see man picosnitch)\n", n, sd->path);
	return 1;
}

int main(int argc, char **argv)
{
	struct state_dir sd = { .fd = -1 };
	const struct command *c;
	int r;

	if (getenv("PICOSNITCH_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	/* the half the monitor starts as the desktop user (not for people) */
	if (argc == 2 && !strcmp(argv[1], "logger"))
		return logger_main();

	if (state_dir_find(&sd) < 0)
		sd.path = NULL;
	c = argc == 2 ? find_command(argv[1]) : NULL;
	if (!c) {
		if (argc < 2)
			fprintf(stderr, "picosnitch: a command is needed\n\n");
		else if (argc > 2)
			fprintf(stderr, "picosnitch: one command at a time (got %d arguments)\n\n",
				argc - 1);
		else
			fprintf(stderr, "picosnitch: unknown command '%s'\n\n", argv[1]);
		usage(stderr, &sd);
		state_dir_done(&sd);
		return EXIT_USAGE;
	}
	r = run(c, &sd);
	state_dir_done(&sd);
	return r;
}
