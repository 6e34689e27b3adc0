/* What `picosnitch view` shows, apart from curses (see view_state.h). */
#include "view/view_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference's tabs in its order, with the grandparent after the
 * parents, and country, network owner, protocol and namespace after the
 * addresses. */
static const struct view_tab all_tabs[] = {
	{ QUERY_DIM_EXECUTABLE, "Executables", "Executable", "executable" },
	{ QUERY_DIM_NAME, "Process Names", "Process Name", "process name" },
	{ QUERY_DIM_CMDLINE, "Commands", "Command", "command" },
	{ QUERY_DIM_SHA256, "SHA256", "SHA256", "sha256" },
	{ QUERY_DIM_PARENT_EXECUTABLE, "Parent Executables", "Parent Executable",
	  "parent executable" },
	{ QUERY_DIM_PARENT_NAME, "Parent Names", "Parent Name", "parent name" },
	{ QUERY_DIM_PARENT_CMDLINE, "Parent Commands", "Parent Command", "parent command" },
	{ QUERY_DIM_PARENT_SHA256, "Parent SHA256", "Parent SHA256", "parent sha256" },
	{ QUERY_DIM_GRANDPARENT_EXECUTABLE, "Grandparent Executables", "Grandparent Executable",
	  "grandparent executable" },
	{ QUERY_DIM_USER, "Users", "User", "user" },
	{ QUERY_DIM_LOCAL_PORT, "Local Ports", "Local Port", "local port" },
	{ QUERY_DIM_REMOTE_PORT, "Remote Ports", "Remote Port", "remote port" },
	{ QUERY_DIM_LOCAL_ADDRESS, "Local Addresses", "Local Address", "local address" },
	{ QUERY_DIM_REMOTE_ADDRESS, "Remote Addresses", "Remote Address", "remote address" },
	{ QUERY_DIM_DOMAIN, "Domains", "Domain", "domain" },
	{ QUERY_DIM_COUNTRY, "Countries", "Country", "country" },
	{ QUERY_DIM_ASN, "Network Owners", "Network Owner", "network owner" },
	{ QUERY_DIM_PROTOCOL, "Protocols", "Protocol", "protocol" },
	{ QUERY_DIM_NETNS, "Network Namespaces", "Network Namespace", "network namespace" },
	{ QUERY_DIM_TIME, "Entry Time", "Entry Time", "entry time" },
	{ QUERY_DIM_SERVICE, "Services", "Service", "service" },
	{ QUERY_DIM_DOMAIN_SOURCE, "Domain Sources", "Domain Source", "domain source" },
};

#define N_ALL (sizeof(all_tabs) / sizeof(all_tabs[0]))
/* the country and the network-owner tabs, which need GeoIP */
#define GEO_TAB 15
#define GEO_TABS 2

size_t view_tab_count(bool geo)
{
	return geo ? N_ALL : N_ALL - GEO_TABS;
}

const struct view_tab *view_tab_at(bool geo, size_t i)
{
	if (geo)
		return i < N_ALL ? &all_tabs[i] : NULL;
	if (i >= N_ALL - GEO_TABS)
		return NULL;
	return &all_tabs[i < GEO_TAB ? i : i + GEO_TABS];
}

static const struct {
	const char *name;
	int64_t seconds;
} periods[VIEW_PERIODS] = {
	{ "all", 0 },
	{ "1 minute", 60 },
	{ "3 minutes", 180 },
	{ "5 minutes", 300 },
	{ "10 minutes", 600 },
	{ "15 minutes", 900 },
	{ "30 minutes", 1800 },
	{ "1 hour", 3600 },
	{ "3 hours", 3 * 3600 },
	{ "6 hours", 6 * 3600 },
	{ "12 hours", 12 * 3600 },
	{ "1 day", 86400 },
	{ "3 days", 3 * 86400 },
	{ "7 days", 7 * 86400 },
	{ "30 days", 30 * 86400 },
	{ "365 days", 365 * 86400 },
};

const char *view_period_name(size_t i)
{
	return i < VIEW_PERIODS ? periods[i].name : NULL;
}

int64_t view_period_seconds(size_t i)
{
	return i < VIEW_PERIODS ? periods[i].seconds : 0;
}

struct query_window view_window(size_t period, unsigned int back, int64_t now)
{
	int64_t len = view_period_seconds(period);
	struct query_window w = { 0 };

	if (len == 0)
		return w;
	w.to = now + 1 - (int64_t)back * len;
	w.from = w.to - len;
	w.has_from = w.has_to = true;
	return w;
}

unsigned int view_rescale_back(size_t old, size_t new_period, unsigned int back)
{
	int64_t o = view_period_seconds(old), n = view_period_seconds(new_period);

	if (!o || !n || !back)
		return 0;
	/* the new window ends at or just after where the old one ended */
	return (unsigned int)(((int64_t)back * o) / n);
}

int view_filters_push(struct view_filters *fs, enum query_dim dim, enum query_filter_mode mode,
		      const char *value, size_t len, const char *shown, size_t tab)
{
	struct view_filter *f;

	if (fs->n >= VIEW_MAX_FILTERS)
		return -ENOSPC;
	f = &fs->f[fs->n];
	f->value = malloc(len + 1);
	f->shown = strdup(shown);
	if (!f->value || !f->shown) {
		free(f->value);
		free(f->shown);
		return -ENOMEM;
	}
	memcpy(f->value, value, len);
	f->value[len] = '\0';
	f->len = len;
	f->dim = dim;
	f->mode = mode;
	f->tab = tab;
	fs->n++;
	return 0;
}

int view_filters_pop(struct view_filters *fs)
{
	struct view_filter *f;
	size_t tab;

	if (!fs->n)
		return -ENOENT;
	f = &fs->f[--fs->n];
	tab = f->tab;
	free(f->value);
	free(f->shown);
	return (int)tab;
}

void view_filters_clear(struct view_filters *fs)
{
	while (fs->n)
		view_filters_pop(fs);
}

void view_filters_query(const struct view_filters *fs, struct query_filter *out)
{
	for (size_t i = 0; i < fs->n; i++)
		out[i] = (struct query_filter){ .dim = fs->f[i].dim, .mode = fs->f[i].mode,
						.value = fs->f[i].value, .len = fs->f[i].len };
}

static const char *label_of(enum query_dim dim)
{
	for (size_t i = 0; i < N_ALL; i++) {
		if (all_tabs[i].dim == dim)
			return all_tabs[i].label;
	}
	return "?";
}

char *view_filters_describe(const struct view_filters *fs, bool country, const char *header)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	(void)country;
	if (!f)
		return NULL;
	fputs(header, f);
	for (size_t i = 0; i < fs->n; i++) {
		fputs(i ? " & " : " (where ", f);
		fprintf(f, "%s %s \"%s\"", label_of(fs->f[i].dim),
			fs->f[i].mode == QUERY_INCLUDE ? "=" : "!=", fs->f[i].shown);
	}
	if (fs->n)
		fputc(')', f);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}
