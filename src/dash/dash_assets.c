/* The pages of `picosnitch dash`: web/src bundled by esbuild at build time
 * (build/web/app.js and app.css) and embedded here as arrays, so the binary
 * needs no files and no network to serve them. */
#include "dash/dash_assets.h"

#include "web/assets.h"

const struct dash_asset dash_assets[] = {
	{ "/app.js", "text/javascript; charset=utf-8", asset_app_js, sizeof(asset_app_js) },
	{ "/app.css", "text/css; charset=utf-8", asset_app_css, sizeof(asset_app_css) },
	{ NULL, NULL, NULL, 0 },
};
