/* The files `picosnitch dash` serves besides its page and API: the bundled
 * script and style sheet (dash_assets.c). */
#ifndef PS_DASH_DASH_ASSETS_H
#define PS_DASH_DASH_ASSETS_H

#include <stddef.h>

struct dash_asset {
	const char *path;
	const char *type;
	const unsigned char *data;
	size_t len;
};

/* Ends with an entry whose path is NULL. */
extern const struct dash_asset dash_assets[];

#endif
