/* The VFS of the query connections: SQLite's "unix" with read-ahead along
 * overflow chains, read in runs of pages (see query_vfs.c). */
#ifndef PS_QUERY_QUERY_VFS_H
#define PS_QUERY_QUERY_VFS_H

#include <sqlite3.h>

#define QUERY_VFS_NAME "picosnitch-readahead"

/* The name to open the query connections with (registered at the first
 * call), or NULL for SQLite's default VFS if it cannot be made. */
const char *query_vfs(void);

/* How many times it has read ahead, in this process (for the tests). */
unsigned long query_vfs_advices(void);
/* How many runs of pages it has read at once, in this process. */
unsigned long query_vfs_runs(void);

#endif
