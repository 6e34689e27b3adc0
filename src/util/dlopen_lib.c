/* Loading a client library when first needed (see dlopen_lib.h). */
#include "util/dlopen_lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

int dlopen_lib_load(struct dlopen_lib *lib, char *err, size_t errlen)
{
	void *h;
	int r;

	pthread_mutex_lock(&lib->lock);
	if (lib->result == 1) {
		lib->result = 0;
		/* RTLD_NOW: a symbol the library lacks is found missing here,
		 * not as a crash in the middle of a call */
		if (!(h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL))) {
			const char *e = dlerror();

			snprintf(lib->why, sizeof(lib->why), "%s (%s) could not be loaded: %.160s; install the package %s",
				 lib->what, lib->soname, e ? e : "unknown error", lib->package);
			lib->result = -ENOENT;
		}
		for (size_t i = 0; lib->result == 0 && i < lib->n_syms; i++) {
			dlerror();
			*lib->syms[i].ptr = dlsym(h, lib->syms[i].name);
			if (!*lib->syms[i].ptr) {
				snprintf(lib->why, sizeof(lib->why),
					 "%s (%s) has no %s: it is older than the one picosnitch was built with; "
					 "update the package %s", lib->what, lib->soname, lib->syms[i].name,
					 lib->package);
				lib->result = -ENOENT;
			}
		}
		if (lib->result < 0) {
			/* no pointer into a library that is not kept */
			for (size_t i = 0; i < lib->n_syms; i++)
				*lib->syms[i].ptr = NULL;
			if (h)
				dlclose(h);
		}
	}
	r = lib->result;
	if (r < 0 && err && errlen)
		snprintf(err, errlen, "%s", lib->why);
	pthread_mutex_unlock(&lib->lock);
	return r;
}
