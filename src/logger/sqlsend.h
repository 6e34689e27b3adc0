/* The logger's writer to "DB sql server": every window becomes a batch in
 * the spool (sql-spool/ in the state directory, one file per batch,
 * bounded by "spool (MiB)": the oldest batches are dropped first and
 * counted), and a thread of its own sends the spool to the server in
 * order, skipping batches the server has already.  The logger's loop never
 * waits for the server; a batch is removed from the spool only once the
 * server committed it, so an outage or a crash loses nothing and sends
 * nothing twice. */
#ifndef PS_LOGGER_SQLSEND_H
#define PS_LOGGER_SQLSEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logger/errlog.h"
#include "storage/sqlserver.h"

#define SQL_SPOOL_DIR "sql-spool"
#define SQL_SPOOL_FILES_MAX 200000

struct sqlsend;

struct sqlsend_opts {
	int dirfd;			/* the state directory */
	struct sqlsrv_cfg cfg;		/* taken over (freed by sqlsend_free) */
	const char *host, *machine_id, *boot_id;	/* NULL: this machine's */
	unsigned retry_max_s;		/* longest pause between attempts (0: 30 s) */
};

/* Opens the spool (what a previous run left is sent first) and starts the
 * thread.  err may hold a note for error.log even on success. */
int sqlsend_new(struct sqlsend_opts *o, struct sqlsend **ret, char *err, size_t errlen);
/* Spool a window's entries (n may be 0: the heartbeat). */
int sqlsend_batch(struct sqlsend *s, const struct conn_row *rows, size_t n, int64_t time,
		  uint32_t window);
/* What happened since the last call, to error.log. */
void sqlsend_report(struct sqlsend *s, struct errlog *e);
/* Wait up to wait_ms until the spool is empty; sooner when an attempt
 * fails. */
void sqlsend_drain(struct sqlsend *s, unsigned wait_ms);
/* Give the thread up to wait_ms to empty the spool, then stop it. */
void sqlsend_free(struct sqlsend *s, unsigned wait_ms);

struct sqlsend_stats {
	uint64_t written, written_entries;	/* batches the server took */
	uint64_t skipped;			/* batches it had already */
	uint64_t dropped, dropped_entries;	/* pushed out of a full spool */
	uint64_t unreadable;			/* spool files that did not decode */
	uint64_t failures;			/* attempts that failed */
	uint64_t spooled, spooled_bytes;	/* waiting now */
	bool connected;
	char error[512];			/* the last failure, "" once one succeeds */
};
void sqlsend_stats(struct sqlsend *s, struct sqlsend_stats *st);

/* This machine's id, boot id and host name (safe text). */
int sqlsend_machine(char machine_id[33], char boot_id[37], char host[SQLSRV_HOST_MAX + 1]);

#endif
