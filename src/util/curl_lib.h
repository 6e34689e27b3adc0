/* libcurl, loaded when first needed (util/dlopen_lib.h): by the GeoIP
 * download, VirusTotal and `picosnitch version`, never by the monitor,
 * the view or the dash.  Its functions are called as sym_curl_X.
 * (The header's compile-time checks of curl_easy_setopt's values are
 * macros around the function's name, which do not apply to the pointer:
 * the callers pass each option the type it takes, long, pointer or
 * curl_off_t, as written.) */
#ifndef PICOSNITCH_UTIL_CURL_LIB_H
#define PICOSNITCH_UTIL_CURL_LIB_H

#include <stddef.h>

#include <curl/curl.h>

#define CURL_FUNCS(X) \
	X(curl_easy_cleanup) \
	X(curl_easy_escape) \
	X(curl_easy_getinfo) \
	X(curl_easy_init) \
	X(curl_easy_perform) \
	X(curl_easy_reset) \
	X(curl_easy_setopt) \
	X(curl_easy_strerror) \
	X(curl_free) \
	X(curl_mime_addpart) \
	X(curl_mime_data_cb) \
	X(curl_mime_filename) \
	X(curl_mime_free) \
	X(curl_mime_init) \
	X(curl_mime_name) \
	X(curl_mime_type) \
	X(curl_slist_append) \
	X(curl_slist_free_all) \
	X(curl_version_info)

#define CURL_SYM_EXTERN(name) extern __typeof__(name) *sym_##name;
CURL_FUNCS(CURL_SYM_EXTERN)

/* Load libcurl and initialize it (once): 0, or -ENOENT with err saying
 * what to install. */
int curl_lib_load(char *err, size_t errlen);

#endif
