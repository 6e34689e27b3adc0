/* The versions of snitch.db's schema (PRAGMA user_version), shared by the
 * writer (store_sqlite.c) and the readers (src/query): docs/schema.md. */
#ifndef PS_STORAGE_SCHEMA_H
#define PS_STORAGE_SCHEMA_H

/* 15 was never released (the domain sources' number before services took
 * 16): no picosnitch reads or migrates a file of 15. */
#define SCHEMA_UNRELEASED 15

/* The version that added executables.service (each process's systemd unit
 * or container). */
#define SCHEMA_SERVICES 16

/* The version that added domains.source (where a name came from). */
#define SCHEMA_DOMAIN_SOURCES 17

/* The version that added exe_sums (each executable's sums per day and key). */
#define SCHEMA_EXE_SUMS 18

/* The version that split exe_sums: a key's part longer than
 * ROLLUP_SUMS_INLINE_MAX bytes is a row of its own (column dim), so a
 * query by one key reads only that key's bytes. */
#define SCHEMA_EXE_SUMS_SPLIT 19

/* The version that added executables' sums of weeks to exe_sums (rows of
 * dim ROLLUP_SUMS_WEEK and after): a query over months reads an
 * executable's weeks, not each of its days. */
#define SCHEMA_EXE_SUMS_WEEKS 20

/* The version whose executables' sums by remote address are sums per
 * (remote address, domain): the key's second key is the domain's id, so
 * a filter on the domain can be applied to them. */
#define SCHEMA_EXE_SUMS_PAIRS 21

/* The current schema.  A later schema change takes the next number. */
#define SCHEMA_VERSION SCHEMA_EXE_SUMS_PAIRS

#endif
