/* Client libraries that only some picosnitch processes use (libpq and
 * libmariadb for "DB sql server", libcurl for VirusTotal and the GeoIP
 * download), loaded with dlopen when first needed instead of linked: so
 * the root monitor, the view and the dash do not map them and the ~20
 * libraries they pull in (OpenSSL's libssl, Kerberos, LDAP, SASL, ...),
 * none of whose constructors then runs as root, and a process that never
 * talks to a server does not pay their memory (2-3 MB of each process's
 * resident set).
 *
 * Each library is a `struct dlopen_lib` naming its soname (the one the
 * build's development files link to, see the Makefile), what it is for the
 * messages, its Debian package, and its symbols: pointers, named sym_X
 * after the function X of the library's own header, so that their types
 * are the header's.  Loading is once per process and thread-safe; a
 * library is never unloaded. */
#ifndef PICOSNITCH_UTIL_DLOPEN_LIB_H
#define PICOSNITCH_UTIL_DLOPEN_LIB_H

#include <pthread.h>
#include <stddef.h>

struct dlopen_sym {
	void **ptr;
	const char *name;
};

struct dlopen_lib {
	const char *soname;	/* "libpq.so.5" */
	const char *what;	/* "the PostgreSQL client library" */
	const char *package;	/* "libpq5" */
	const struct dlopen_sym *syms;
	size_t n_syms;
	/* filled by dlopen_lib_load */
	pthread_mutex_t lock;
	int result;		/* 0 loaded, < 0 failed (and stays so), 1 not tried */
	char why[320];
};

#define DLOPEN_LIB(soname_, what_, package_, syms_)                                     \
	{ .soname = (soname_), .what = (what_), .package = (package_), .syms = (syms_), \
	  .n_syms = sizeof(syms_) / sizeof((syms_)[0]), .lock = PTHREAD_MUTEX_INITIALIZER,    \
	  .result = 1 }

/* For a list X(name) of a library's functions: the pointers ... */
#define DLOPEN_SYM_DECLARE(name) static __typeof__(name) *sym_##name;
/* ... and the table of them. */
#define DLOPEN_SYM_ENTRY(name) { (void **)&sym_##name, #name },

/* A library used by one file: its functions' pointers (sym_X, static),
 * their table and `static struct dlopen_lib var`, from its list FUNCS. */
#define DLOPEN_LIB_STATIC(var, FUNCS, soname_, what_, package_)             \
	FUNCS(DLOPEN_SYM_DECLARE)                                              \
	static const struct dlopen_sym var##_syms[] = { FUNCS(DLOPEN_SYM_ENTRY) }; \
	static struct dlopen_lib var = DLOPEN_LIB(soname_, what_, package_, var##_syms)

/* Load lib and every one of its symbols: 0, or -ENOENT (not installed, or
 * a symbol missing: an older version) with err saying which and what to
 * install.  A failure is remembered: later calls fail the same way. */
int dlopen_lib_load(struct dlopen_lib *lib, char *err, size_t errlen);

#endif
