/* `picosnitch version`: what this build has in it.  Every part is compiled
 * in (none is optional at build time); what can differ between builds is
 * said here: the sanitizers, the address data's places, the web pages'
 * size, and the versions of the libraries actually loaded (which may be
 * newer than the ones built against). */
#include "cli/buildinfo.h"

#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <jansson.h>
#include <maxminddb.h>
#include <microhttpd.h>
#include <ncurses.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <sys/capability.h>

#include "dash/dash_assets.h"
#include "geo/geo.h"
#include "util/curl_lib.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZERS "address,undefined"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZERS "address,undefined"
#endif
#endif
#ifndef SANITIZERS
#define SANITIZERS "none"
#endif

int cmd_version(const struct state_dir *sd)
{
	/* libcurl is loaded for this (util/curl_lib.h) */
	const curl_version_info_data *curl = curl_lib_load(NULL, 0) == 0 ?
		sym_curl_version_info(CURLVERSION_NOW) : NULL;
	const char *dirs[4];
	size_t n = geo_data_dirs(dirs), web = 0;

	for (const struct dash_asset *a = dash_assets; a->path; a++)
		web += a->len;

	printf("picosnitch %s\n", PICOSNITCH_VERSION);
	printf("state directory: %s\n", sd->path ? sd->path : "(unknown)");
	printf("features: bpf-sensor(CO-RE, embedded) dash(web pages embedded, %zu bytes) view geoip "
	       "virustotal notifications(sd-bus) systemd-notify import\n", web);
	printf("sanitizers: %s\n", SANITIZERS);
	printf("address data:");
	for (size_t i = 0; i < n; i++)
		printf(" %s", dirs[i]);
	printf("\n");
	printf("libraries: libbpf %s, SQLite %s, jansson %s, %s, libmicrohttpd %s, libmaxminddb %s, "
	       "libcurl %s, %s, libcap %d.%d, libsystemd %s (built against)\n",
	       libbpf_version_string(), sqlite3_libversion(), jansson_version_str(),
	       OpenSSL_version(OPENSSL_VERSION), MHD_get_version(), MMDB_lib_version(),
	       curl ? curl->version : "(not installed)", curses_version(), LIBCAP_MAJOR, LIBCAP_MINOR,
	       PICOSNITCH_LIBSYSTEMD_VERSION);
	return fflush(stdout) == 0 ? 0 : 1;
}
