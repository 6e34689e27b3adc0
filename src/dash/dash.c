/* `picosnitch dash`: the HTTP server (see dash.h).  libmicrohttpd runs one
 * polling thread (epoll) that answers every request; the main thread only
 * waits for a signal.  Every response carries a strict Content-Security-
 * Policy and no CORS header; a request is refused unless its Host header
 * names the address served (so a web page under another name that
 * resolves to this machine cannot read it), unless it is GET or HEAD (or
 * the POST that stops the server, with the token made at start), or when
 * it has a body. */
#include "dash/dash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "dash/dash_api.h"
#include "dash/dash_assets.h"
#include "dash/dash_int.h"
#include "dash/dash_live.h"
#include "dash/dash_metrics.h"
#include "geo/geo.h"
#include "util/fsutil.h"
#include "util/log.h"

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT "5100"
#define MAX_CONNECTIONS 64
#define CONNECTION_TIMEOUT_S 30
#define CONNECTION_MEMORY (64 * 1024)
#define TOKEN_HEADER "X-Picosnitch-Token"
#define TOKEN_COOKIE "picosnitch_token"
#define TOKEN_FILE "dash.token"
#define COOKIE_MAX_AGE (365 * 86400)
#define MAX_BODY 65536			/* a body is read this far, then the connection closes */
#define MAX_BODY_SECONDS 10		/* or after this long */

#define CSP                                                                                      \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "        \
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "              \
	"frame-ancestors 'none'"

const char *const dash_themes[] = { "darkly", "cyborg", "slate", "solar", "superhero",
				     "flatly", "cosmo", "litera", "lux", "minty", NULL };

struct dash_server {
	struct dash_api api;
	struct dash_live *live;
	char *hosts[5];		/* the Host header values accepted */
	size_t n_hosts;
	char token[33];
	char *index_html;
	size_t index_len;
	char *url;
	void (*stop)(void);	/* after the answer to a stop request */
	int dirfd;		/* the state directory (metrics.json), or -1 */
	size_t metrics_top;	/* executables named in /metrics */
};

/* per request: whether it came with a body; whether it stops the server
 * (once its answer is sent) */
struct request {
	bool body;
	bool stop;
	size_t body_bytes;
	time_t started;
};

static enum MHD_Result add_param(void *cls, enum MHD_ValueKind kind, const char *key,
				 size_t key_size, const char *value, size_t value_size)
{
	struct {
		struct dash_param p[DASH_API_MAX_PARAMS + 1];
		size_t n;
	} *ps = cls;

	(void)kind;
	if (ps->n > DASH_API_MAX_PARAMS)
		return MHD_NO;
	/* one more than allowed is kept, for the API to refuse */
	ps->p[ps->n++] = (struct dash_param){ key, key_size, value ? value : "",
					      value ? value_size : 0 };
	return ps->n > DASH_API_MAX_PARAMS ? MHD_NO : MHD_YES;
}

/* What every answer carries, whatever it is (see the top of the file). */
static void add_security_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned int status, const char *type,
			       void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	add_security_headers(r);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned int status,
				     const char *msg)
{
	char *body = NULL;

	if (asprintf(&body, "{\"error\":\"%s\"}", msg) < 0)
		return MHD_NO;
	return respond(c, status, "application/json", body, strlen(body), MHD_RESPMEM_MUST_FREE);
}

static bool host_allowed(const struct dash_server *s, const char *host)
{
	if (!host)
		return false;
	for (size_t i = 0; i < s->n_hosts; i++) {
		if (!strcasecmp(host, s->hosts[i]))
			return true;
	}
	return false;
}

/* Equal strings, in a time that does not depend on where they differ. */
static bool token_equal(const char *a, const char *b)
{
	size_t la = a ? strlen(a) : 0, lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; a && i < lb; i++)
		d |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
	return a && !d;
}

/* "Authorization: Bearer TOKEN" (what Prometheus sends with
 * `authorization: {credentials_file: ...}`): the token, or NULL */
static const char *bearer(struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

	if (!a || strncasecmp(a, "Bearer ", 7))
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return a;
}

/* The request carries the access token: its cookie or its header (or,
 * for /metrics only, Authorization: Bearer). */
static bool authorized(const struct dash_server *s, struct MHD_Connection *c, const char *url)
{
	return token_equal(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, TOKEN_COOKIE),
			   s->token) ||
	       token_equal(MHD_lookup_connection_value(c, MHD_HEADER_KIND, TOKEN_HEADER), s->token) ||
	       (!strcmp(url, "/metrics") && token_equal(bearer(c), s->token));
}

/* "/?token=T": set the cookie and go to the page (so the token leaves the
 * address bar and the history). */
static enum MHD_Result login(const struct dash_server *s, struct MHD_Connection *c, const char *t)
{
	struct MHD_Response *r;
	char cookie[160];
	enum MHD_Result ret;

	if (!token_equal(t, s->token))
		return respond_error(c, MHD_HTTP_FORBIDDEN, "not the token of this server");
	r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	snprintf(cookie, sizeof(cookie), TOKEN_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d",
		 s->token, COOKIE_MAX_AGE);
	MHD_add_response_header(r, "Set-Cookie", cookie);
	MHD_add_response_header(r, "Location", "/");
	add_security_headers(r);
	ret = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
	MHD_destroy_response(r);
	return ret;
}

static const char locked_page[] =
	"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title>picosnitch</title></head><body><h1>picosnitch</h1><p>Open the address that "
	"<code>picosnitch dash</code> printed when it started: it carries the key to this "
	"page (kept in the state directory, in <code>dash.token</code>).</p></body></html>\n";

/* GET /api/live: the live feed as Server-Sent Events (dash_live.h). */
static enum MHD_Result serve_live(struct dash_server *s, struct MHD_Connection *c)
{
	struct {
		struct dash_param p[DASH_API_MAX_PARAMS + 1];
		size_t n;
	} ps = { .n = 0 };
	const char *history = NULL;
	enum MHD_Result ret;
	int r;

	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, add_param, &ps);
	for (size_t i = 0; i < ps.n; i++) {
		if (ps.p[i].key_len != 7 || memcmp(ps.p[i].key, "history", 7) || history)
			return respond_error(c, MHD_HTTP_BAD_REQUEST,
					     "live takes one parameter: history (seconds, 0-300)");
		/* a NUL inside makes it no number */
		history = strlen(ps.p[i].value) == ps.p[i].value_len ? ps.p[i].value : "";
	}
	r = dash_live_serve(s->live, c, history, add_security_headers, &ret);
	if (r == -EINVAL)
		return respond_error(c, MHD_HTTP_BAD_REQUEST, "history: seconds, 0-300");
	if (r == -EBUSY)
		return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				     "too many live streams at once (32)");
	if (r < 0)
		return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct dash_server *s = cls;
	struct request *rq = *req_cls;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);

	(void)version;
	(void)upload_data;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->started = time(NULL);
		*req_cls = rq;
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* nothing here takes a body: a small one is read and dropped and
		 * refused below; a large or slow one closes the connection */
		rq->body = true;
		rq->body_bytes += *upload_data_size;
		*upload_data_size = 0;
		if (rq->body_bytes > MAX_BODY || time(NULL) - rq->started > MAX_BODY_SECONDS)
			return MHD_NO;
		return MHD_YES;
	}
	if (!host_allowed(s, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host")))
		return respond_error(c, MHD_HTTP_MISDIRECTED_REQUEST,
				     "the Host header does not name this server");
	if (rq->body)
		return respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "requests take no body");
	{
		/* a browser says where a request comes from: only this page's
		 * own requests, or the user typing the address, are served */
		const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");

		if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
			return respond_error(c, MHD_HTTP_FORBIDDEN, "cross-site requests are refused");
	}
	if (get && !strcmp(url, "/")) {
		const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");

		if (t)
			return login(s, c, t);
	}
	if (!authorized(s, c, url)) {
		if (get && (!strcmp(url, "/") || !strcmp(url, "/index.html")))
			return respond(c, MHD_HTTP_FORBIDDEN, "text/html; charset=utf-8",
				       (void *)locked_page, sizeof(locked_page) - 1,
				       MHD_RESPMEM_PERSISTENT);
		return respond_error(c, MHD_HTTP_FORBIDDEN,
				     "needs the token of this server (the " TOKEN_COOKIE " cookie, "
				     "or the " TOKEN_HEADER " header)");
	}
	if (!strcmp(url, "/api/stop")) {
		const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, TOKEN_HEADER);

		if (strcmp(method, MHD_HTTP_METHOD_POST))
			return respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "stop takes POST");
		if (!token_equal(t, s->token))
			return respond_error(c, MHD_HTTP_FORBIDDEN,
					     "stop needs the token of this server (" TOKEN_HEADER
					     " header)");
		rq->stop = true;
		return respond(c, MHD_HTTP_OK, "application/json", "{\"stopping\":true}", 17,
			       MHD_RESPMEM_PERSISTENT);
	}
	if (!get)
		return respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD");
	if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
		return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", s->index_html,
			       s->index_len, MHD_RESPMEM_PERSISTENT);
	for (const struct dash_asset *a = dash_assets; a->path; a++) {
		if (!strcmp(url, a->path))
			return respond(c, MHD_HTTP_OK, a->type, (void *)a->data, a->len,
				       MHD_RESPMEM_PERSISTENT);
	}
	if (!strcmp(url, "/api/live"))
		return serve_live(s, c);
	if (!strcmp(url, "/metrics")) {
		char *body;
		size_t len;

		if (dash_metrics(&s->api, s->dirfd, s->metrics_top, &body, &len) < 0)
			return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
			       MHD_RESPMEM_MUST_FREE);
	}
	if (!strncmp(url, "/api/", 5)) {
		struct {
			struct dash_param p[DASH_API_MAX_PARAMS + 1];
			size_t n;
		} ps = { .n = 0 };
		char *body = NULL;
		int status, r;

		MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, add_param, &ps);
		r = dash_api_get(&s->api, url, ps.p, ps.n, &status, &body);
		/* a query of many addresses read much of the address files:
		 * the next ones mostly find their answers in the cache */
		geo_release(s->api.geo);
		if (r < 0)
			return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return respond(c, (unsigned int)status, "application/json", body, strlen(body),
			       MHD_RESPMEM_MUST_FREE);
	}
	return respond_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

static void request_done(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	if (*req_cls && ((struct request *)*req_cls)->stop)
		((struct dash_server *)cls)->stop();
	free(*req_cls);
	*req_cls = NULL;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

/* The one page: controls the script fills in (web/src/main.js); no inline
 * script or style (the CSP forbids them). */
static int make_index(struct dash_server *s, const char *theme, bool scroll_zoom)
{
	int n = asprintf(
		&s->index_html,
		"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<meta name=\"picosnitch-token\" content=\"%s\">\n"
		"<meta name=\"picosnitch-theme\" content=\"%s\">\n"
		"<meta name=\"picosnitch-scroll-zoom\" content=\"%s\">\n<title>picosnitch</title>\n"
		"<link rel=\"icon\" href=\"data:,\">\n"
		"<link rel=\"stylesheet\" href=\"/app.css\">\n"
		"<script src=\"/app.js\" defer></script></head>\n<body>\n"
		"<header><h1>picosnitch</h1>\n"
		"<label>Group by <select id=\"dim\"></select></label>\n"
		"<label>Time <select id=\"period\"></select></label>\n"
		"<span><button id=\"back\" title=\"one time range back\" aria-label=\"back\">"
		"&#9664;</button> <span id=\"window\" class=\"window\"></span> "
		"<button id=\"forward\" title=\"one time range forward\" aria-label=\"forward\">"
		"&#9654;</button></span>\n"
		"<label>Where <select id=\"where-dim\"></select></label>\n"
		"<label>is <select id=\"where-value\"></select></label>\n"
		"<button id=\"where-include\">only these</button> "
		"<button id=\"where-exclude\">leave out</button>\n"
		"<label>Refresh <select id=\"refresh\"></select></label>\n"
		"<label>Resample <select id=\"resample\"></select></label>\n"
		"<label>Smooth <select id=\"smooth\"></select></label>\n"
		"<label><input id=\"trim\" type=\"checkbox\"> trim labels</label>\n"
		"<button id=\"stop\" title=\"stop the dash server\">Stop server</button></header>\n"
		"<div id=\"filters\"></div>\n"
		"<nav><button id=\"tab-charts\">Charts</button><button id=\"tab-table\">Table"
		"</button><button id=\"tab-live\">Live</button></nav>\n"
		"<div id=\"error\" role=\"alert\" hidden></div>\n<main>\n"
		"<div id=\"charts\"></div>\n<div id=\"exe-page\" hidden></div>\n"
		"<div id=\"live\" hidden><p id=\"live-note\"></p><div id=\"live-charts\"></div>\n"
		"<table><thead><tr><th>Executable</th><th class=\"num now\">Sent, last second</th>"
		"<th class=\"num now\">Received, last second</th><th class=\"num\">Sent</th>"
		"<th class=\"num\">Received</th></tr></thead><tbody id=\"live-rows\"></tbody></table>"
		"</div>\n"
		"<div id=\"table\" hidden><div id=\"table-tools\">"
		"<label>Search <input id=\"search\" type=\"search\"></label>"
		"<span id=\"table-count\"></span></div>\n"
		"<table><thead><tr><th data-sort=\"value\" id=\"value-head\">Value</th>"
		"<th class=\"num\" data-sort=\"sent\">Sent</th>"
		"<th class=\"num\" data-sort=\"received\">Received</th>"
		"<th class=\"num\">Connections</th><th></th></tr></thead>"
		"<tbody id=\"rows\"></tbody></table></div>\n</main>\n"
		"<footer id=\"footer\"></footer>\n</body></html>\n",
		s->token, theme, scroll_zoom ? "true" : "false");

	if (n < 0)
		return -ENOMEM;
	s->index_len = (size_t)n;
	return 0;
}

/* The access token: dash.token in the state directory (32 hex digits,
 * 0600), made the first time.  A file that is not exactly that is
 * replaced. */
static int load_token(int dirfd, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	char *text = NULL;
	size_t len;
	int r;

	r = dirfd >= 0 ? read_below(dirfd, TOKEN_FILE, 64, &text, &len) : -ENOENT;
	if (r == 0 && len >= 32 && strspn(text, hex) >= 32 && (len == 32 || text[32] == '\n')) {
		memcpy(out, text, 32);
		out[32] = '\0';
		free(text);
		return 0;
	}
	free(text);
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -errno;
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\n';
	r = dirfd >= 0 ? write_atomic_below(dirfd, TOKEN_FILE, out, 33, 0600, (uid_t)-1, (gid_t)-1)
		       : 0;
	out[32] = '\0';
	if (r < 0)
		log_warn("dash: cannot keep the access token in %s: %s (a new one next time)",
			 TOKEN_FILE, strerror(-r));
	return 0;
}

/* xdg-open URL in the background when a desktop session is there to show
 * it (DISPLAY or WAYLAND_DISPLAY), as this user; never as root.  Its
 * output and its fate are its own: a desktop without a browser is not an
 * error of the server's. */
static void open_browser(const char *url)
{
	const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	pid_t pid;
	int fd;

	if (geteuid() == 0 || ((!x || !*x) && (!w || !*w)))
		return;
	pid = fork();
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (pid != 0)
		return;
	/* a grandchild, so nothing is left for the server to reap */
	if (fork() != 0)
		_exit(0);
	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	{
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	execlp("xdg-open", "xdg-open", url, (char *)NULL);
	_exit(127);
}

static void stop_by_signal(void)
{
	kill(getpid(), SIGTERM);
}

/* What does not depend on the address: the theme, the token, the page,
 * the live feed. */
static int server_prepare(struct dash_server *s, const struct dash_env *env, int live_dirfd)
{
	const char *theme = "";
	int r;

	s->api = (struct dash_api){ .db_path = env->db_path, .monitor_pid = env->monitor_pid,
				    .geo = env->geo, .vt = { .dirfd = env->dirfd },
				    .fleet_status = env->fleet_status, .fleet = env->fleet };
	s->stop = stop_by_signal;
	s->dirfd = env->dirfd;
	s->metrics_top = env->metrics_top ? env->metrics_top : DASH_METRICS_TOP_DEFAULT;
	/* only a known name goes into the page (an attribute): nothing else
	 * from config.json does */
	for (size_t i = 0; env->theme && *env->theme && dash_themes[i]; i++) {
		if (!strcmp(env->theme, dash_themes[i]))
			theme = dash_themes[i];
	}
	if (env->theme && *env->theme && !*theme)
		log_warn("dash: \"Dash theme\" %.40s is not one it knows (darkly, cyborg, slate, "
			 "solar, superhero, flatly, cosmo, litera, lux, minty): following the browser's "
			 "light or dark preference", env->theme);
	if (load_token(env->dirfd, s->token) < 0 || make_index(s, theme, env->scroll_zoom) < 0) {
		log_error("dash: cannot start: out of memory or randomness");
		return -ENOMEM;
	}
	r = dash_live_start(live_dirfd, &s->live);
	if (r < 0)
		log_error("dash: cannot start the live feed: %s", strerror(-r));
	return r;
}

/* libmicrohttpd's own reasons (a connection it closes, a socket error),
 * with PICOSNITCH_DEBUG=1: they are about clients, not faults of ours. */
static void mhd_message(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("dash: libmicrohttpd: %s", msg);
}

/* The server's thread: listening on addr, or (NULL) on nothing, serving
 * the connections MHD_add_connection() hands it. */
static struct MHD_Daemon *start_daemon(struct dash_server *s, const struct sockaddr *addr,
				       uint16_t port)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (!addr)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	else if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, port, NULL, NULL, handle, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_message, NULL, MHD_OPTION_SOCK_ADDR, addr,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
				MHD_OPTION_NOTIFY_COMPLETED, request_done, s, MHD_OPTION_END);
}

static void server_free(struct dash_server *s)
{
	dash_live_free(s->live);
	dash_api_done(&s->api);
	for (size_t i = 0; i < s->n_hosts; i++)
		free(s->hosts[i]);
	free(s->index_html);
	free(s->url);
}

int dash_server_unbound(const struct dash_env *env, void (*stop)(void), struct dash_server **ret,
			struct MHD_Daemon **d)
{
	struct dash_server *s = calloc(1, sizeof(*s));
	const char *port = env->port && *env->port ? env->port : DEFAULT_PORT;

	if (!s)
		return -ENOMEM;
	/* no live.sock to read: each stream waits for nothing, and the
	 * fuzzer's inputs do not depend on a thread's timing */
	if (server_prepare(s, env, -1) < 0 ||
	    asprintf(&s->hosts[s->n_hosts++], "localhost:%s", port) < 0 ||
	    asprintf(&s->hosts[s->n_hosts++], "127.0.0.1:%s", port) < 0)
		goto fail;
	s->stop = stop;
	*d = start_daemon(s, NULL, 0);
	if (!*d)
		goto fail;
	*ret = s;
	return 0;
fail:
	dash_live_stop(s->live);
	server_free(s);
	free(s);
	return -ENOMEM;
}

void dash_server_free(struct dash_server *s, struct MHD_Daemon *d)
{
	if (!s)
		return;
	dash_live_stop(s->live);
	MHD_stop_daemon(d);
	server_free(s);
	free(s);
}

int dash_main(const struct dash_env *env)
{
	const char *host = env->host && *env->host ? env->host : DEFAULT_HOST;
	const char *port = env->port && *env->port ? env->port : DEFAULT_PORT;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai = NULL;
	struct sockaddr_storage addr;
	struct dash_server s = { .live = NULL };
	struct MHD_Daemon *d;
	char *end, shown[INET6_ADDRSTRLEN + 8] = "";
	unsigned long portnum = strtoul(port, &end, 10);
	bool v6, localhost = !strcmp(host, "localhost");
	sigset_t set;
	int sig, r, code = 1;

	/* The server answers one request at a time, and each query's tables
	 * were mapped afresh and unmapped when freed: on a virtual machine the
	 * first touch of each page costs microseconds (the busiest
	 * executable's page over a year: 8,000 faults, 150 ms a call).  So
	 * blocks under 2 MB come from the heap and stay there for the next
	 * request (up to 16 MB of it free at its top), and the helper threads
	 * share that one heap rather than each keeping an arena of its own:
	 * that page 150 -> 105 ms, its peak 26 MB either way.  (glibc's own
	 * moving threshold, which grows to the largest block freed, kept 40
	 * MB after three calls by remote address.) */
	mallopt(M_MMAP_THRESHOLD, 2 << 20);
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	mallopt(M_ARENA_MAX, 1);
	if (*end || !*port || portnum == 0 || portnum > 65535) {
		log_error("dash: PORT=%.20s is not a port number (1-65535)", port);
		return 1;
	}
	if (localhost) {
		/* "localhost" is the IPv4 loopback, whatever /etc/hosts says */
		struct sockaddr_in *in = (struct sockaddr_in *)&addr;

		memset(&addr, 0, sizeof(addr));
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)portnum);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		r = getaddrinfo(host, port, &hints, &ai);
		if (r) {
			log_error("dash: HOST=%.100s: %s", host, gai_strerror(r));
			return 1;
		}
		memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
		freeaddrinfo(ai);
	}
	v6 = addr.ss_family == AF_INET6;
	if (v6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr, shown, sizeof(shown));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr, shown, sizeof(shown));
	if (!is_loopback((struct sockaddr *)&addr))
		log_warn("dash: serving on %s, which is not a loopback address: anyone who can reach "
			 "it can read this machine's network history", shown);
	/* signals go to the main thread only: block them before the server's
	 * threads start (they inherit the mask) */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (server_prepare(&s, env, env->no_live ? -1 : env->dirfd) < 0)
		goto out;
	/* the Host headers a browser sends for this server */
	if (asprintf(&s.hosts[s.n_hosts++], "%s:%lu", host, portnum) < 0 ||
	    asprintf(&s.hosts[s.n_hosts++], v6 ? "[%s]:%lu" : "%s:%lu", shown, portnum) < 0 ||
	    (localhost && asprintf(&s.hosts[s.n_hosts++], "127.0.0.1:%lu", portnum) < 0) ||
	    /* on port 80 browsers leave the port out */
	    (portnum == 80 && !(s.hosts[s.n_hosts++] = strdup(v6 ? "" : host))) ||
	    asprintf(&s.url, v6 ? "http://[%s]:%lu/" : "http://%s:%lu/", localhost ? host : shown,
		     portnum) < 0) {
		log_error("dash: cannot start: out of memory");
		goto out;
	}
	d = start_daemon(&s, (struct sockaddr *)&addr, (uint16_t)portnum);
	if (!d) {
		log_error("dash: cannot serve on %s port %lu (in use, or not an address of this "
			  "machine?)", shown, portnum);
		goto out;
	}
	printf("picosnitch dash: serving on %s?token=%s (Ctrl-C stops it)\n", s.url, s.token);
	printf("scripts send the header '%s: %s'; stop: curl -X POST -H '%s: %s' %sapi/stop\n",
	       TOKEN_HEADER, s.token, TOKEN_HEADER, s.token, s.url);
	fflush(stdout);
	if (env->open_browser) {
		char *login_url = NULL;

		if (asprintf(&login_url, "%s?token=%s", s.url, s.token) >= 0)
			open_browser(login_url);
		free(login_url);
	}
	sigwait(&set, &sig);
	dash_live_stop(s.live);
	MHD_stop_daemon(d);
	code = 0;
out:
	dash_live_stop(s.live);
	server_free(&s);
	return code;
}
