/* picosnitch command line: one command per run, dispatched here. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/buildinfo.h"
#include "cli/import.h"
#include "cli/service.h"
#include "cli/fleet.h"
#include "cli/sqlcmd.h"
#include "cli/systemd_unit.h"
#include "config/config.h"
#include "config/paths.h"
#include "logger/logger.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "dash/dash.h"
#include "geo/geo.h"
#include "geo/update.h"
#include "util/strutil.h"
#include "view/view.h"

static void usage(FILE *out, const struct state_dir *sd)
{
	fprintf(out,
		"picosnitch %s: see which programs use the network, how much, and with whom.\n"
		"\n"
		"usage: picosnitch <command> [options]\n"
		"       picosnitch dash --sql [--machine HOST|ID] [--server FILE] [--days N]\n"
		"                         [--refresh SECONDS]\n"
		"                   the fleet: the \"DB sql server\"'s entries (last N days, 30),\n"
		"                   with a host dimension, copying what arrives every SECONDS (60;\n"
		"                   0: never)\n"
		"\n"
		"  start            start the monitor in the background (root)\n"
		"  stop             stop it, after it has written what it counted (root)\n"
		"  restart          stop, then start (root)\n"
		"  start-no-daemon  run the monitor in the foreground, for systemd or a terminal (root)\n"
		"  systemd          install the systemd service: systemctl enable --now picosnitch (root)\n"
		"  systemd --print  print that unit (for no particular user) instead\n"
		"  status [--json]  whether the monitor runs, and its pid (--json: as a JSON object)\n"
		"  dash [--no-browser]\n"
		"                   the web interface on http://HOST:PORT (localhost:5100), in the\n"
		"                   foreground; opens the desktop's browser (not with --no-browser)\n"
		"  view             the terminal interface: browse what was logged\n"
		"                   keys: arrows (tabs, rows), space/enter/f filter on the entry,\n"
		"                   e exclude it, backspace/F/E remove the last filter,\n"
		"                   h/H step back/forward in history, t/T time range,\n"
		"                   u/U byte units, s sort, / search (n/N next/previous),\n"
		"                   l live (every second), r refresh, q/Esc quit\n"
		"  lookup ADDRESS.. the country and network owner of each address, one line each:\n"
		"                   address, country code (or local/unknown), owner (tab-separated)\n"
		"  geoip-update     download this month's GeoIP database now (DB-IP, as 1.x)\n"
		"  sql-status [--server FILE] [--stale SECONDS]\n"
		"                   each machine's last heartbeat on the \"DB sql server\", and\n"
		"                   which stopped (exit 3); FILE: a reader's settings (JSON)\n"
		"  sql-schema [--server FILE]\n"
		"                   the server's tables and GRANT lines, as SQL\n"
		"  import FILE      add the entries of a picosnitch 1.x or 2.x snitch.db (schema 3\n"
		"                   or 4) to this one, once: importing it again adds nothing\n"
		"  version          the version, the state directory and the build's features\n"
		"  help             this text\n"
		"\n"
		"state directory: %s\n"
		"more: man picosnitch\n",
		PICOSNITCH_VERSION, sd->path ? sd->path : "(unknown)");
}

/* What each command takes after its name: options it knows, and whether
 * it wants operands (lookup: addresses, import: one file). */
struct parsed {
	bool json, print, no_browser;
	int n_operands;
	char **operands;
};

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
	{ "lookup", ANYONE, NULL },
	{ "geoip-update", ANYONE, NULL },
	{ "sql-status", ANYONE, NULL },
	{ "sql-schema", ANYONE, NULL },
	{ "import", ANYONE, NULL },
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

/* No capability left in any set (a setresuid away from root clears them
 * unless something asked to keep them). */
static bool caps_none(void)
{
	cap_t now = cap_get_proc(), none = cap_init();
	bool ok = now && none && !cap_compare(now, none);

	cap_free(now);
	cap_free(none);
	return ok;
}

/* `view` and `dash` only read: started as root (sudo), they become the
 * owner of snitch.db (or of the state directory) first, so root never
 * parses the database, the terminal or HTTP, and SQLite's -shm file stays
 * the owner's.  keep_env=1 (PICOSNITCH_VIEW_AS_ROOT) keeps root. */
static struct geo_data_files ui_geo_data;

static int ui_drop_root(const struct state_dir *sd, const char *db, const char *keep_env)
{
	const char *keep = keep_env ? getenv(keep_env) : NULL;
	struct passwd *pw = NULL;
	struct stat st;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0 || (keep && !strcmp(keep, "1")))
		return 0;
	if (lstat(db, &st) == 0 && st.st_uid != 0) {
		uid = st.st_uid;
		gid = st.st_gid;
		pw = getpwuid(uid);
	} else if (sd->uid != 0) {
		uid = sd->uid;
		gid = sd->gid;
	} else {
		pw = getpwnam(LOGGER_SYSTEM_USER);
		if (!pw)
			pw = getpwnam("nobody");
		if (!pw) {
			log_error("no user to run as instead of root (neither %s nor nobody exists)",
				  LOGGER_SYSTEM_USER);
			return -ENOENT;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (pw && pw->pw_uid == uid)
		gid = pw->pw_gid;
	if (gid == 0) {
		/* never root's group (a file of a deleted user's, group root) */
		struct group *gr = getgrnam("nogroup");

		gid = gr ? gr->gr_gid : 65534;
	}
	/* the address data, which the user may not reach (read after the switch) */
	geo_data_files_open(&ui_geo_data);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return log_errno(-errno, "cannot switch from root to uid %u", (unsigned)uid);
	if (geteuid() == 0 || getegid() == 0 || !caps_none())
		return log_errno(-EPERM, "still privileged after switching to uid %u", (unsigned)uid);
	/* what programs started from here (xdg-open) take for the user */
	if (pw) {
		setenv("HOME", pw->pw_dir, 1);
		setenv("USER", pw->pw_name, 1);
		setenv("LOGNAME", pw->pw_name, 1);
	}
	return 0;
}

static void ui_config(const struct state_dir *sd, int dfd, struct config *cfg, bool *have);

/* Countries and owners for an interface, unless "GeoIP lookup" is false
 * (NULL then), and the monthly refresh of the country file on a thread
 * (not when "GeoIP database" names a file of the user's).  What cannot be
 * opened is said once, on stderr. */
static struct geo *ui_geo(const struct state_dir *sd, int dirfd, const struct config *cfg, bool have_cfg,
			  bool refresh, bool report, struct geo_refresh **refresher)
{
	struct geo_options gopt = { .state_dirfd = dirfd, .state_dir = sd->path };
	struct geo_update_options uopt = {
		.dirfd = dirfd, .dir = sd->path,
		.base_url = geo_update_url(have_cfg ? cfg->geoip_update_url : NULL),
	};
	struct geo *g = NULL;
	int r;

	*refresher = NULL;
	if (have_cfg && !cfg->geoip_lookup) {
		geo_data_files_close(&ui_geo_data);
		return NULL;
	}
	gopt.country_file = have_cfg ? cfg->geoip_database : NULL;
	gopt.data = ui_geo_data.n ? &ui_geo_data : NULL;
	r = geo_open(&gopt, &g);
	geo_data_files_close(&ui_geo_data);
	if (r < 0) {
		log_error("GeoIP: out of memory");
		return NULL;
	}
	if (*geo_problems(g))
		fprintf(stderr, "picosnitch: %s", geo_problems(g));
	if (refresh && dirfd >= 0 && uopt.base_url && !(gopt.country_file && *gopt.country_file) &&
	    geo_refresh_start(&uopt, report, refresher) < 0)
		log_warn("GeoIP: cannot start the monthly refresh");
	return g;
}

/* The outcome of a refresh that did not report it itself. */
static void ui_refresh_done(struct geo_refresh *refresher, int dirfd)
{
	char msg[1024];
	struct stat st;
	int r = geo_refresh_stop(refresher, msg, sizeof(msg));

	if (r < 0 && r != -ECANCELED)
		log_warn("%s; %s", msg,
			 fstatat(dirfd, GEO_MONTHLY_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0
				 ? "using the old file" : "countries come from the offline file");
	else if (r > 0)
		log_info("%s", msg);
}

static int cmd_view(struct state_dir *sd)
{
	char *db = state_dir_file(sd, "snitch.db");
	struct view_env env = { .monitor_pid = monitor_running_pid };
	struct geo_refresh *refresher = NULL;
	struct config cfg;
	bool have_cfg;
	int dirfd, r;

	if (!db) {
		log_error("view: out of memory");
		return 1;
	}
	if (ui_drop_root(sd, db, "PICOSNITCH_VIEW_AS_ROOT") < 0) {
		free(db);
		return 1;
	}
	dirfd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	ui_config(sd, dirfd, &cfg, &have_cfg);
	env.geo = ui_geo(sd, dirfd, &cfg, have_cfg, geteuid() != 0, false, &refresher);
	env.db_path = db;
	/* record.json (VirusTotal's verdicts), read as the user */
	env.dirfd = dirfd;
	r = view_main(&env);
	ui_refresh_done(refresher, dirfd);
	geo_close(env.geo);
	if (have_cfg)
		config_done(&cfg);
	if (dirfd >= 0)
		close(dirfd);
	free(db);
	return r;
}

/* `picosnitch lookup ADDRESS...`: the same answers as the interfaces. */
static int cmd_lookup(struct state_dir *sd, int argc, char **argv)
{
	char *db = state_dir_file(sd, "snitch.db");
	struct geo_refresh *refresher;
	struct config cfg;
	struct geo *g;
	bool have_cfg;
	int dirfd, bad = 0;

	if (!db || ui_drop_root(sd, db, NULL) < 0) {
		free(db);
		return 1;
	}
	free(db);
	dirfd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	ui_config(sd, dirfd, &cfg, &have_cfg);
	/* an explicit question: answered even with "GeoIP lookup" false */
	if (have_cfg)
		cfg.geoip_lookup = true;
	g = ui_geo(sd, dirfd, &cfg, have_cfg, false, false, &refresher);
	for (int i = 0; g && i < argc; i++) {
		size_t len = strlen(argv[i]);
		const char *country = geo_country(g, argv[i], len), *owner = geo_owner(g, argv[i], len);

		if (!country || !owner || !*country) {
			char *shown = text_from_bytes(argv[i], len);

			fprintf(stderr, "picosnitch lookup: \"%s\" is not an IP address\n", shown ? shown : "?");
			free(shown);
			bad++;
			continue;
		}
		printf("%s\t%s\t%s\n", argv[i], country, owner);
	}
	fflush(stdout);
	geo_close(g);
	if (have_cfg)
		config_done(&cfg);
	if (dirfd >= 0)
		close(dirfd);
	return !g ? 1 : bad ? EXIT_USAGE : 0;
}

/* `picosnitch geoip-update`: the monthly refresh, now, in the foreground. */
static int cmd_geoip_update(struct state_dir *sd)
{
	char *db = state_dir_file(sd, "snitch.db"), msg[1024];
	struct geo_update_options opt = { .dir = sd->path, .force = true };
	struct config cfg;
	bool have_cfg;
	int r;

	if (!db || ui_drop_root(sd, db, NULL) < 0) {
		free(db);
		return 1;
	}
	free(db);
	opt.dirfd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (opt.dirfd < 0) {
		log_errno(-errno, "geoip-update: cannot open the state directory %s", sd->path);
		return 1;
	}
	ui_config(sd, opt.dirfd, &cfg, &have_cfg);
	opt.base_url = geo_update_url(have_cfg ? cfg.geoip_update_url : NULL);
	r = geo_update(&opt, msg, sizeof(msg));
	if (have_cfg)
		config_done(&cfg);
	close(opt.dirfd);
	if (r < 0) {
		fprintf(stderr, "picosnitch: %s\n", msg);
		return 1;
	}
	printf("%s\n", msg);
	return 0;
}

/* config.json ("Dash theme", "GeoIP database", ...), read as the user;
 * a file that is missing or wrong leaves the defaults (the monitor is the
 * one that complains about it). */
static void ui_config(const struct state_dir *sd, int dfd, struct config *cfg, bool *have)
{
	char *text = NULL, err[CONFIG_ERR_LEN];
	size_t len;

	*have = false;
	if (dfd < 0)
		return;
	if (read_below(dfd, CONFIG_FILE, 1 << 20, &text, &len) == 0) {
		if (config_parse(text, len, cfg, err, sizeof(err)) == 0)
			*have = true;
		else
			log_warn("%s/%s: %s; using the defaults", sd->path, CONFIG_FILE, err);
		free(text);
	}
}

/* `picosnitch import FILE`: as the owner of snitch.db, never as root (the
 * file is parsed). */
static int cmd_import(struct state_dir *sd, const char *file)
{
	char *db = state_dir_file(sd, "snitch.db");
	int r;

	if (!db || ui_drop_root(sd, db, NULL) < 0) {
		free(db);
		return 1;
	}
	r = import_into(sd->path, db, file);
	free(db);
	return r;
}

static bool dash_no_browser;
/* dash --sql [--machine NAME] [--server FILE] [--days N]: the fleet view */
static bool dash_sql;
static const char *dash_machine, *dash_server;
static uint64_t dash_days = 30, dash_refresh = 60;

/* The fleet view: the SQL server's entries copied into a private snitch.db
 * (a directory of the user's, removed at the end), served as usual and kept
 * up to date (cli/fleet.c). */
static int dash_fleet(const struct config *cfg, bool have_cfg, char *dir, size_t size,
		      char **db, struct fleet **fleet)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/picosnitch-fleet.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		log_errno(-errno, "dash: cannot make a directory for the fleet's copy");
		return -1;
	}
	if (asprintf(db, "%s/snitch.db", dir) < 0) {
		*db = NULL;
		return -1;
	}
	if (fleet_open(have_cfg ? cfg->db_sql_server : NULL, dash_server, dash_machine,
		       (int64_t)time(NULL) - (int64_t)dash_days * 86400, *db, fleet) != 0)
		return -1;
	if (fleet_start(*fleet, (unsigned)dash_refresh) < 0) {
		log_error("dash: cannot start the fleet's refresh");
		return -1;
	}
	return 0;
}

static void dash_fleet_done(const char *dir)
{
	static const char *const files[] = { "snitch.db", "snitch.db-wal", "snitch.db-shm",
					     "snitch.db-journal" };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlinkat(fd, files[i], 0);
	close(fd);
	rmdir(dir);
}

/* sql-status, sql-schema: options, then config.json read as the user */
static int cmd_sql(struct state_dir *sd, const char *n, int argc, char **argv)
{
	const char *file = NULL;
	char *db = state_dir_file(sd, "snitch.db");
	uint64_t stale = 0;
	struct config cfg;
	bool have_cfg;
	int dirfd, r;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--server") && i + 1 < argc) {
			file = argv[++i];
		} else if (!strcmp(n, "sql-status") && !strcmp(argv[i], "--stale") && i + 1 < argc &&
			   parse_u64(argv[i + 1], &stale) == 0 && stale > 0 && stale < (1ull << 40)) {
			i++;
		} else {
			fprintf(stderr, "picosnitch %s: unknown or incomplete option '%s'\n", n,
				argv[i]);
			free(db);
			return EXIT_USAGE;
		}
	}
	if (!db || ui_drop_root(sd, db, NULL) < 0) {
		free(db);
		return 1;
	}
	free(db);
	dirfd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	ui_config(sd, dirfd, &cfg, &have_cfg);
	if (!have_cfg && !file) {
		fprintf(stderr, "picosnitch %s: no usable %s/%s (or give --server FILE)\n", n,
			sd->path, CONFIG_FILE);
		r = 1;
	} else if (!strcmp(n, "sql-schema")) {
		r = cmd_sql_schema(have_cfg ? cfg.db_sql_server : NULL, file);
	} else {
		r = cmd_sql_status(have_cfg ? cfg.db_sql_server : NULL, file, (int64_t)stale);
	}
	if (have_cfg)
		config_done(&cfg);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

static int cmd_dash(struct state_dir *sd)
{
	char *db = state_dir_file(sd, "snitch.db");
	struct dash_env env = { .monitor_pid = monitor_running_pid, .host = getenv("HOST"),
				.port = getenv("PORT"), .scroll_zoom = true };
	struct geo_refresh *refresher;
	struct config cfg;
	bool have_cfg;
	int r;

	if (!db) {
		log_error("dash: out of memory");
		return 1;
	}
	if (ui_drop_root(sd, db, NULL) < 0) {
		free(db);
		return 1;
	}
	env.dirfd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	ui_config(sd, env.dirfd, &cfg, &have_cfg);
	if (have_cfg) {
		env.theme = cfg.dash_theme;
		env.scroll_zoom = cfg.dash_scroll_zoom;
		env.metrics_top = (size_t)cfg.metrics_top;
	}
	env.geo = ui_geo(sd, env.dirfd, &cfg, have_cfg, geteuid() != 0, true, &refresher);
	env.db_path = db;
	env.open_browser = !dash_no_browser;
	if (dash_sql) {
		char fleet_dir[4200], *fleet_db = NULL;
		struct fleet *fleet = NULL;

		fleet_dir[0] = '\0';
		r = 1;
		if (!have_cfg && !dash_server)
			fprintf(stderr, "picosnitch dash --sql: no usable %s/%s (or give --server "
				"FILE)\n", sd->path, CONFIG_FILE);
		else if (dash_fleet(&cfg, have_cfg, fleet_dir, sizeof(fleet_dir), &fleet_db,
				    &fleet) == 0) {
			env.db_path = fleet_db;
			env.no_live = true;
			env.monitor_pid = NULL;
			env.fleet_status = fleet_status;
			env.fleet = fleet;
			r = dash_main(&env);
		}
		fleet_close(fleet);
		if (fleet_dir[0])
			dash_fleet_done(fleet_dir);
		free(fleet_db);
	} else {
		r = dash_main(&env);
	}
	geo_refresh_stop(refresher, NULL, 0);
	geo_close(env.geo);
	if (env.dirfd >= 0)
		close(env.dirfd);
	if (have_cfg)
		config_done(&cfg);
	free(db);
	return r;
}

static int run(const struct command *c, struct state_dir *sd, const struct parsed *args)
{
	const char *n = c->name;

	/* printing the unit needs no root */
	if (!strcmp(n, "systemd") && args->print)
		return cmd_systemd_print();
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
	if (!strcmp(n, "version"))
		return cmd_version(sd);
	if (!strcmp(n, "status"))
		return cmd_status(sd, args->json);
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
	if (!strcmp(n, "view"))
		return cmd_view(sd);
	if (!strcmp(n, "lookup"))
		return cmd_lookup(sd, args->n_operands, args->operands);
	if (!strcmp(n, "import"))
		return cmd_import(sd, args->operands[0]);
	if (!strcmp(n, "geoip-update"))
		return cmd_geoip_update(sd);
	if (!strncmp(n, "sql-", 4))
		return cmd_sql(sd, n, args->n_operands, args->operands);
	return cmd_dash(sd);
}

static int parse_args(const char *cmd, int argc, char **argv, struct parsed *p)
{
	int min = 0, max = 0;

	if (!strcmp(cmd, "lookup"))
		min = 1, max = INT32_MAX;
	else if (!strcmp(cmd, "import"))
		min = max = 1;
	p->operands = argv;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(cmd, "status") && !strcmp(a, "--json"))
			p->json = true;
		else if (!strcmp(cmd, "systemd") && !strcmp(a, "--print"))
			p->print = true;
		else if (!strcmp(cmd, "dash") && !strcmp(a, "--no-browser"))
			p->no_browser = true;
		else if (a[0] == '-' && a[1] && (max == 0 || strcmp(cmd, "lookup"))) {
			char *shown = text_from_bytes(a, strlen(a));

			fprintf(stderr, "picosnitch %s: unknown option '%s'\n", cmd, shown ? shown : "?");
			free(shown);
			return -EINVAL;
		} else if (p->n_operands < max) {
			argv[p->n_operands++] = argv[i];
		} else if (max) {
			fprintf(stderr, "picosnitch %s: takes one file\n", cmd);
			return -EINVAL;
		} else {
			fprintf(stderr, "picosnitch: one command at a time (got %d arguments)\n", argc + 1);
			return -E2BIG;
		}
	}
	if (p->n_operands < min) {
		fprintf(stderr, "picosnitch %s: %s\n", cmd,
			!strcmp(cmd, "lookup") ? "give one or more addresses" : "give the snitch.db to import");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct state_dir sd = { .fd = -1 };
	struct parsed args = { 0 };
	const struct command *c;
	int r;

	log_init();
	if (getenv("PICOSNITCH_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	/* the half the monitor starts as the desktop user (not for people) */
	if (argc == 2 && !strcmp(argv[1], "logger"))
		return logger_main();

	if (state_dir_find(&sd) < 0)
		sd.path = NULL;
	/* dash's options: --no-browser, and the fleet view's */
	if (argc >= 3 && !strcmp(argv[1], "dash")) {
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--no-browser")) {
				dash_no_browser = true;
			} else if (!strcmp(argv[i], "--sql")) {
				dash_sql = true;
			} else if (!strcmp(argv[i], "--machine") && i + 1 < argc) {
				dash_machine = argv[++i];
			} else if (!strcmp(argv[i], "--server") && i + 1 < argc) {
				dash_server = argv[++i];
			} else if (!strcmp(argv[i], "--refresh") && i + 1 < argc &&
				   parse_u64(argv[i + 1], &dash_refresh) == 0 &&
				   dash_refresh <= 86400) {
				i++;
			} else if (!strcmp(argv[i], "--days") && i + 1 < argc &&
				   parse_u64(argv[i + 1], &dash_days) == 0 && dash_days > 0 &&
				   dash_days <= 100000) {
				i++;
			} else {
				fprintf(stderr, "picosnitch dash: unknown or incomplete option '%s'\n",
					argv[i]);
				state_dir_done(&sd);
				return EXIT_USAGE;
			}
		}
		if ((dash_machine || dash_server) && !dash_sql) {
			fprintf(stderr, "picosnitch dash: --machine, --server and --refresh go with "
				"--sql\n");
			state_dir_done(&sd);
			return EXIT_USAGE;
		}
		argc = 2;
	}
	c = argc >= 2 ? find_command(argv[1]) : NULL;
	if (!c) {
		if (argc < 2)
			fprintf(stderr, "picosnitch: a command is needed\n\n");
		else
			fprintf(stderr, "picosnitch: unknown command '%s'\n\n", argv[1]);
		usage(stderr, &sd);
		state_dir_done(&sd);
		return EXIT_USAGE;
	}
	/* sql-status and sql-schema read their own options (cmd_sql) */
	if (!strncmp(c->name, "sql-", 4)) {
		args.operands = argv + 2;
		args.n_operands = argc - 2;
		r = 0;
	} else {
		r = parse_args(c->name, argc - 2, argv + 2, &args);
	}
	if (r < 0) {
		if (r == -E2BIG) {
			fputc('\n', stderr);
			usage(stderr, &sd);
		}
		state_dir_done(&sd);
		return EXIT_USAGE;
	}
	if (args.no_browser)
		dash_no_browser = true;
	r = run(c, &sd, &args);
	state_dir_done(&sd);
	return r;
}
