/* `picosnitch import FILE`: a picosnitch 1.x or 2.x snitch.db added to
 * this one (storage/import.c does the work), with a report on stdout.  The
 * caller has already become the user who owns snitch.db. */
#ifndef PS_CLI_IMPORT_H
#define PS_CLI_IMPORT_H

/* db is snitch.db in the state directory dir (made, 0700, if the monitor
 * never ran).  Returns the exit status. */
int import_into(const char *dir, const char *db, const char *file);

#endif
