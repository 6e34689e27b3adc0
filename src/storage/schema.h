/* The versions of snitch.db's schema (PRAGMA user_version), shared by the
 * writer (store_sqlite.c) and the readers (src/query): docs/schema.md. */
#ifndef PS_STORAGE_SCHEMA_H
#define PS_STORAGE_SCHEMA_H

/* The version that added executables.service (each process's systemd unit
 * or container).  16, not 15: branch dns takes 15 (domains.source); its
 * step runs first, this one after it, so a file of 14 or of 15 comes to
 * 16.  A later schema change takes the next number. */
#define SCHEMA_SERVICES 16

/* The current schema. */
#define SCHEMA_VERSION SCHEMA_SERVICES

#endif
