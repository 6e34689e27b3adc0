/* config.json: every key the brief names, with its default and type.
 * Missing keys are added with defaults, unknown keys are kept, and any
 * value of the wrong type or out of range is an error that names the key. */
#ifndef PS_CONFIG_CONFIG_H
#define PS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct config {
	int64_t db_retention_days;
	bool db_sql_log;
	json_t *db_sql_server;		/* object (borrowed from root) */
	bool db_text_log;
	int64_t db_write_limit;		/* seconds */
	bool dash_scroll_zoom;
	const char *dash_theme;
	bool desktop_notifications;
	bool every_exe;
	const char *geoip_database;	/* "": the monthly or the offline file */
	bool geoip_lookup;
	const char *geoip_update_url;	/* "": no monthly download */
	bool log_addresses;
	bool log_commands;
	json_t *log_ignore;		/* array (borrowed from root) */
	bool log_ports;
	int64_t metrics_top;		/* executables named in the dash's /metrics */
	/* entries kept in memory while a destination cannot be written */
	int64_t pending_entries_max;
	int64_t pending_memory_mib;
	int64_t ring_buffer_pages;
	bool has_rlimit_nofile;
	int64_t rlimit_nofile;
	bool has_st_dev_mask;
	int64_t st_dev_mask;
	const char *vt_api_key;
	bool vt_file_upload;
	int64_t vt_request_limit;

	json_t *root;			/* the whole document, unknown keys included */
	bool changed;			/* defaults were added: the file should be rewritten */
};

#define CONFIG_FILE "config.json"
#define CONFIG_ERR_LEN 512

/* Parse a config document.  On error returns -EINVAL and writes a message
 * naming the file position or the key into err. */
int config_parse(const char *text, size_t len, struct config *ret, char *err, size_t errlen);

/* The defaults, as a document. */
int config_default(struct config *ret);

/* Pretty JSON of the document (sorted keys, two-space indent), to write back. */
char *config_dump(const struct config *cfg);

void config_done(struct config *cfg);

#endif
