/* libcurl, loaded when first needed (see curl_lib.h). */
#include "util/curl_lib.h"

#include <pthread.h>

#include "util/dlopen_lib.h"

#define CURL_SYM_DEFINE(name) __typeof__(name) *sym_##name;
CURL_FUNCS(CURL_SYM_DEFINE)

/* curl_global_init, which the functions above need, is loaded with them
 * and called once */
static __typeof__(curl_global_init) *sym_curl_global_init;
static const struct dlopen_sym curl_syms[] = {
	CURL_FUNCS(DLOPEN_SYM_ENTRY)
	DLOPEN_SYM_ENTRY(curl_global_init)
};
static struct dlopen_lib curl_lib = DLOPEN_LIB(PICOSNITCH_SONAME_CURL, "the HTTP client library libcurl",
					       "libcurl4", curl_syms);
static pthread_once_t inited = PTHREAD_ONCE_INIT;

static void init(void)
{
	sym_curl_global_init(CURL_GLOBAL_DEFAULT);
}

int curl_lib_load(char *err, size_t errlen)
{
	int r = dlopen_lib_load(&curl_lib, err, errlen);

	if (r == 0)
		pthread_once(&inited, init);
	return r;
}
