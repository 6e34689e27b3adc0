/* Tests of src/util/dlopen_lib.c and of the client libraries loaded with
 * it: a library that is not installed or lacks a function gives a message
 * naming it and the package, the failure is remembered, and the real
 * libraries (libcurl, libpq, libmariadb) load with every function the
 * code calls. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "util/curl_lib.h"
#include "util/dlopen_lib.h"

static int (*sym_abs_fn)(int);
static int (*sym_no_such_fn)(void);

int main(void)
{
	static const struct dlopen_sym absent_syms[] = { { (void **)&sym_abs_fn, "abs" } };
	static const struct dlopen_sym libc_syms[] = {
		{ (void **)&sym_abs_fn, "abs" },
		{ (void **)&sym_no_such_fn, "picosnitch_no_such_function" },
	};
	static const struct dlopen_sym libc_ok[] = { { (void **)&sym_abs_fn, "abs" } };
	struct dlopen_lib absent = DLOPEN_LIB("libpicosnitch-absent.so.9", "the absent library",
					      "libabsent9", absent_syms);
	struct dlopen_lib old = DLOPEN_LIB("libc.so.6", "the C library", "libc6", libc_syms);
	struct dlopen_lib libc = DLOPEN_LIB("libc.so.6", "the C library", "libc6", libc_ok);
	char err[400] = "";

	is_int(dlopen_lib_load(&absent, err, sizeof(err)), -ENOENT, "a library not installed: -ENOENT");
	ok(strstr(err, "the absent library (libpicosnitch-absent.so.9) could not be loaded: ") == err,
	   "the message names the library and its soname");
	ok(strstr(err, "; install the package libabsent9"), "and the package to install");
	err[0] = '\0';
	is_int(dlopen_lib_load(&absent, err, sizeof(err)), -ENOENT, "the failure is remembered");
	ok(strstr(err, "install the package libabsent9"), "with its message");

	is_int(dlopen_lib_load(&old, err, sizeof(err)), -ENOENT, "a function missing: -ENOENT");
	is_str(err,
	       "the C library (libc.so.6) has no picosnitch_no_such_function: it is older than the "
	       "one picosnitch was built with; update the package libc6",
	       "the message names the function");
	ok(!sym_abs_fn, "and no pointer into the library is left (abs was found before the missing one)");

	sym_abs_fn = NULL;
	is_int(dlopen_lib_load(&libc, NULL, 0), 0, "a library with every function loads");
	ok(sym_abs_fn && sym_abs_fn(-7) == 7, "and its functions are called through the pointers");

	is_int(curl_lib_load(err, sizeof(err)), 0, "libcurl loads with every function called");
	ok(sym_curl_version_info && sym_curl_version_info(CURLVERSION_NOW)->version_num >= 0x074a00,
	   "and answers (7.74 or later)");
	is_int(curl_lib_load(err, sizeof(err)), 0, "loading it again is a no-op");
	return tap_done();
}
