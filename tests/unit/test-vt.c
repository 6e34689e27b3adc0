/* VirusTotal: the parsers of its answers (hostile input) and of
 * vt-queue.json; the client against a fake VirusTotal on loopback
 * (tests/helpers/fake-vt.py): lookups, every kind of failure reported
 * once with its count and retried, the request limit, the queue kept
 * across a restart and bounded, uploads (simple, through an upload URL,
 * too large, a file that no longer has its hash) with the analysis
 * polled; and the verdicts in record.json, exe.log and a notification. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "logger/alerts.h"
#include "logger/errlog.h"
#include "logger/idents.h"
#include "logger/record.h"
#include "logger/strpool.h"
#include "logger/vt.h"
#include "logger/vt_parse.h"
#include "tap.h"
#include "util/sha256.h"

/* a literal and its length */
#define S(lit) lit, sizeof(lit) - 1

#define KEY "test-key-5f3a9c"
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define SHA_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static char dir[] = "/tmp/test-vt.XXXXXX";
static char srvdir[256], base[64];
static int dirfd_;
static pid_t server;

static char *slurp(const char *path)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return strcpy(buf, "(missing)");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *in_dir(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return slurp(path);
}

static void plan(const char *json)
{
	char path[512], tmp[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/plan.json", srvdir);
	snprintf(tmp, sizeof(tmp), "%s/plan.tmp", srvdir);
	f = fopen(tmp, "w");
	fputs(json, f);
	fclose(f);
	rename(tmp, path);
}

static void requests_reset(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/requests.log", srvdir);
	unlink(path);
}

/* The requests the server saw, as "METHOD PATH" lines. */
static char *requests(void)
{
	static char out[65536];
	char path[512], line[8192];
	FILE *f;
	size_t o = 0;

	snprintf(path, sizeof(path), "%s/requests.log", srvdir);
	out[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return out;
	while (fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *e = json_loads(line, 0, &je);

		if (e)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s %s", o ? "\n" : "",
					      json_string_value(json_object_get(e, "method")),
					      json_string_value(json_object_get(e, "path")));
		json_decref(e);
	}
	fclose(f);
	return out;
}

/* The last request's JSON line (uploads: sha256, size, filename). */
static json_t *last_request(void)
{
	char path[512], line[8192];
	json_t *last = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/requests.log", srvdir);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		json_error_t je;

		json_decref(last);
		last = json_loads(line, 0, &je);
	}
	fclose(f);
	return last;
}

static int start_server(void)
{
	char port[32] = "", path[512];

	snprintf(srvdir, sizeof(srvdir), "%s/server", dir);
	mkdir(srvdir, 0700);
	plan("{\"key\": \"" KEY "\"}");
	server = fork();
	if (server == 0) {
		execlp("python3", "python3", "tests/helpers/fake-vt.py", srvdir, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/port", srvdir);
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			if (fgets(port, sizeof(port), f))
				port[strcspn(port, "\n")] = '\0';
			fclose(f);
			break;
		}
		usleep(50000);
	}
	if (!port[0])
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%s", port);
	return 0;
}

static struct vt *start(struct vt_opts *o)
{
	struct vt *v = NULL;
	char err[512];

	o->dirfd = dirfd_;
	if (!o->api_key)
		o->api_key = KEY;
	if (!o->base_url)
		o->base_url = base;
	if (!o->backoff_ms)
		o->backoff_ms = 100;
	if (!o->poll_ms)
		o->poll_ms = 100;
	if (!o->timeout_ms)
		o->timeout_ms = 1000;
	o->dev_mask = 0xffffffffu;
	if (vt_new(o, &v, err, sizeof(err)) < 0 || !v)
		printf("# vt_new: %s\n", err);
	return v;
}

/* The next outcome, waiting up to secs. */
static int take(struct vt *v, struct vt_outcome *o, double secs)
{
	for (int i = 0; i < secs * 50; i++) {
		if (vt_take(v, o) == 0)
			return 0;
		usleep(20000);
	}
	memset(o, 0, sizeof(*o));
	return -ETIMEDOUT;
}

static char *verdict_text(const struct vt_outcome *o)
{
	static char buf[256];

	if (!o->sha256[0])
		return strcpy(buf, "(none)");
	if (o->has_verdict)
		snprintf(buf, sizeof(buf), "%.8s %s m=%lld s=%lld h=%lld u=%lld date=%lld%s",
			 o->sha256, o->exe, (long long)o->verdict.malicious,
			 (long long)o->verdict.suspicious, (long long)o->verdict.harmless,
			 (long long)o->verdict.undetected, (long long)o->verdict.date,
			 o->final ? "" : " (interim)");
	else
		snprintf(buf, sizeof(buf), "%.8s %s %s%s", o->sha256, o->exe,
			 o->status ? o->status : "(null)", o->final ? "" : " (interim)");
	return buf;
}

/* error.log without its time stamps */
static char *errors(void)
{
	static char out[65536];
	char *text = in_dir("error.log"), *line, *save = NULL;
	size_t o = 0;

	out[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? "\n" : "",
				      strlen(line) > 20 ? line + 20 : line);
	return out;
}

static void clear_errors(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/error.log", dir);
	truncate(path, 0);
}

static void test_parsers(void)
{
	struct vt_verdict v;
	char id[VT_ID_MAX], url[VT_URL_MAX], code[VT_CODE_MAX];
	bool done = true;
	const char *file = "{\"data\":{\"attributes\":{\"last_analysis_date\":1733313600,"
			   "\"last_analysis_stats\":{\"harmless\":3,\"type-unsupported\":4,"
			   "\"suspicious\":1,\"malicious\":12,\"undetected\":50}}}}";

	is_int(vt_parse_file(file, strlen(file), &v), 0, "a file report is read");
	ok(v.malicious == 12 && v.suspicious == 1 && v.harmless == 3 && v.undetected == 50 &&
	   v.date == 1733313600, "  with its four counts and its date");
	is_int(vt_parse_file(S("{\"data\":{\"attributes\":{\"last_analysis_stats\":{\"malicious\":0,"
			     "\"harmless\":0}}}}"), &v), -ENODATA,
	       "a report with no analysis yet (all 0, no date) is not a verdict");
	is_int(vt_parse_file(S("{\"data\":{\"attributes\":{\"last_analysis_stats\":{\"malicious\":-1}}}}"), &v), -EBADMSG, "a negative count is refused");
	is_int(vt_parse_file(S("{\"data\":{\"attributes\":{\"last_analysis_stats\":{\"malicious\":1e3}}}}"), &v), -EBADMSG, "a count that is not an integer is refused");
	is_int(vt_parse_file(S("{\"data\":{\"attributes\":{\"last_analysis_stats\":{\"malicious\":100001}}}}"), &v), -EBADMSG, "a count above 100000 is refused");
	is_int(vt_parse_file(S("{\"data\":{\"attributes\":{\"last_analysis_stats\":{},"
			     "\"last_analysis_date\":\"today\"}}}"), &v), -EBADMSG,
	       "a date that is not a number is refused");
	is_int(vt_parse_file(S("<html>"), &v), -EBADMSG, "not JSON: refused");
	{
		char deep[20000];

		memset(deep, '[', 10000);
		memset(deep + 10000, ']', 10000);
		is_int(vt_parse_file(deep, sizeof(deep), &v), -EBADMSG,
		       "10000 nested lists are refused before jansson recurses into them");
	}
	is_int(vt_parse_upload(S("{\"data\":{\"type\":\"analysis\",\"id\":\"MjE0ZGQ0NGQ5YTQ1Zj==\"}}"),
			       id), 0, "an upload answer gives the analysis id");
	is_str(id, "MjE0ZGQ0NGQ5YTQ1Zj==", "  exactly");
	is_int(vt_parse_upload(S("{\"data\":{\"id\":\"../x?y=1 z\"}}"), id), -EBADMSG,
	       "an id with characters no id has (it goes into a URL) is refused");
	is_int(vt_parse_upload_url(S("{\"data\":\"https://www.virustotal.com/_ah/upload/AB-c/\"}"),
				   "", url), 0, "an https upload URL is taken");
	is_str(url, "https://www.virustotal.com/_ah/upload/AB-c/", "  exactly");
	is_int(vt_parse_upload_url(S("{\"data\":\"http://evil.example/x\"}"), "", url), -EBADMSG,
	       "a plain http upload URL is refused (the API key goes with the upload)");
	is_int(vt_parse_upload_url(S("{\"data\":\"http://127.0.0.1:9/up\"}"), "http://127.0.0.1:9",
				   url), 0, "  unless it is on the configured server (tests)");
	is_int(vt_parse_upload_url(S("{\"data\":\"https://a b\"}"), "", url), -EBADMSG,
	       "an upload URL with a space is refused");
	is_int(vt_parse_analysis(S("{\"data\":{\"attributes\":{\"status\":\"queued\"}}}"), &done, &v),
	       0, "a queued analysis is read");
	ok(!done, "  as not completed");
	is_int(vt_parse_analysis(S("{\"data\":{\"attributes\":{\"status\":\"completed\",\"date\":5,"
				 "\"stats\":{\"malicious\":2,\"undetected\":9}}}}"), &done, &v),
	       0, "a completed analysis is read");
	ok(done && v.malicious == 2 && v.undetected == 9 && v.date == 5, "  with its verdict");
	vt_parse_error(S("{\"error\":{\"code\":\"QuotaExceededError\\u001b[31m\"}}"), code);
	is_str(code, "QuotaExceededError", "an error code is kept up to its first odd character");

	{
		const char *q = "{\"queue\":[{\"sha256\":\"" SHA_A "\",\"exe\":\"/usr/bin/a\","
				"\"stage\":\"poll\",\"analysis\":\"YWJj\",\"polls\":3,\"ino\":7,\"dev\":9},"
				"{\"sha256\":\"XYZ\",\"exe\":\"/x\",\"stage\":\"lookup\"},"
				"{\"sha256\":\"" SHA_B "\",\"exe\":\"/x\\n\",\"stage\":\"lookup\"},"
				"{\"sha256\":\"" SHA_C "\",\"exe\":\"/usr/bin/c\",\"stage\":\"lookup\"},"
				"7]}";
		struct vt_job *jobs;
		size_t n, skipped;
		char *dump;

		is_int(vt_queue_parse(q, strlen(q), 10, &jobs, &n, &skipped), 0,
		       "vt-queue.json is read");
		is_int(n, 2, "  its two good entries");
		is_int(skipped, 3, "  and the malformed ones (bad hash, a control character, not an "
				   "object) skipped and counted");
		ok(n == 2 && !strcmp(jobs[0].analysis, "YWJj") && jobs[0].polls == 3 &&
		   jobs[0].ino == 7 && jobs[0].dev == 9 && jobs[0].stage == VT_STAGE_POLL,
		   "  with every field");
		dump = vt_queue_dump(jobs, n);
		is_str(dump, "{\n \"queue\": [\n  {\n   \"analysis\": \"YWJj\",\n   \"dev\": 9,\n"
			     "   \"exe\": \"/usr/bin/a\",\n   \"ino\": 7,\n   \"polls\": 3,\n"
			     "   \"sha256\": \"" SHA_A "\",\n   \"stage\": \"poll\"\n  },\n  {\n"
			     "   \"dev\": 0,\n   \"exe\": \"/usr/bin/c\",\n   \"ino\": 0,\n"
			     "   \"polls\": 0,\n   \"sha256\": \"" SHA_C "\",\n"
			     "   \"stage\": \"lookup\"\n  }\n ]\n}",
		       "  and written back the same");
		free(dump);
		for (size_t i = 0; i < n; i++)
			vt_job_clear(&jobs[i]);
		free(jobs);
		is_int(vt_queue_parse("[]", 2, 10, &jobs, &n, &skipped), -EBADMSG,
		       "a file that is not a queue is refused");
	}
}

static void test_lookups(void)
{
	struct vt_opts o = { 0 };
	struct vt_outcome out;
	struct vt *v;

	plan("{\"key\": \"" KEY "\", \"files\": {"
	     "\"" SHA_A "\": {\"stats\": {\"malicious\": 0, \"suspicious\": 0, \"harmless\": 60, "
	     "\"undetected\": 10, \"type-unsupported\": 4}, \"date\": 1733313600},"
	     "\"" SHA_B "\": {\"stats\": {\"malicious\": 12, \"suspicious\": 1, \"harmless\": 3, "
	     "\"undetected\": 50}, \"date\": 1733313601}}}");
	requests_reset();
	v = start(&o);
	if (!v)
		return;
	is_int(vt_submit(v, SHA_A, "/usr/bin/a", 0, 0, 0), 1, "a hash is queued");
	is_int(vt_submit(v, SHA_A, "/usr/bin/a2", 0, 0, 0), 0, "  once");
	is_int(vt_submit(v, "not a hash", "/x", 0, 0, 0), -EINVAL, "something else is not");
	take(v, &out, 5);
	is_str(verdict_text(&out), "aaaaaaaa /usr/bin/a m=0 s=0 h=60 u=10 date=1733313600",
	       "a known clean file: its verdict");
	vt_outcome_clear(&out);
	vt_submit(v, SHA_B, "/usr/bin/b", 0, 0, 0);
	take(v, &out, 5);
	is_str(verdict_text(&out), "bbbbbbbb /usr/bin/b m=12 s=1 h=3 u=50 date=1733313601",
	       "a flagged file: its verdict");
	vt_outcome_clear(&out);
	vt_submit(v, SHA_C, "/usr/bin/c", 0, 0, 0);
	take(v, &out, 5);
	is_str(verdict_text(&out), "cccccccc /usr/bin/c " VT_ST_UNKNOWN_NO_UPLOAD,
	       "a file VirusTotal does not know, without uploads: said so, not uploaded");
	vt_outcome_clear(&out);
	is_str(requests(), "GET /api/v3/files/" SHA_A "\nGET /api/v3/files/" SHA_B
			   "\nGET /api/v3/files/" SHA_C, "one GET /api/v3/files/{sha256} each");
	{
		json_t *last = last_request();

		ok(json_is_true(json_object_get(last, "key_ok")), "  with the API key in x-apikey");
		json_decref(last);
	}
	vt_free(v);
	is_str(in_dir("vt-queue.json"), "{\n \"queue\": []\n}", "the queue is saved empty");
	{
		struct stat st;

		ok(fstatat(dirfd_, "vt-queue.json", &st, 0) == 0 && (st.st_mode & 0777) == 0600,
		   "  mode 0600");
	}
}

static void test_limit(void)
{
	struct vt_opts o = { .request_limit = 1 };
	struct vt_outcome out;
	struct vt *v;
	char path[512], line[4096];
	double t[3];
	int n = 0;
	FILE *f;

	plan("{\"key\": \"" KEY "\"}");
	requests_reset();
	v = start(&o);
	if (!v)
		return;
	vt_submit(v, SHA_A, "/a", 0, 0, 0);
	vt_submit(v, SHA_B, "/b", 0, 0, 0);
	vt_submit(v, SHA_C, "/c", 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		take(v, &out, 5);
		vt_outcome_clear(&out);
	}
	vt_free(v);
	snprintf(path, sizeof(path), "%s/requests.log", srvdir);
	f = fopen(path, "r");
	while (f && n < 3 && fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *e = json_loads(line, 0, &je);

		t[n++] = json_real_value(json_object_get(e, "time"));
		json_decref(e);
	}
	if (f)
		fclose(f);
	is_int(n, 3, "\"VT request limit (seconds)\": 1: three requests");
	ok(n == 3 && t[1] - t[0] >= 0.95 && t[2] - t[1] >= 0.95,
	   "  at least a second apart");
	if (n == 3)
		printf("#   %.3f s and %.3f s apart\n", t[1] - t[0], t[2] - t[1]);
}

static void test_errors(struct errlog *el)
{
	struct vt_opts o = { .timeout_ms = 1500 };
	struct vt_outcome out;
	struct vt *v;

	/* every kind of failure, then the answer */
	plan("{\"key\": \"" KEY "\", \"slow\": 3, \"files\": {\"" SHA_D "\": [\"429\", \"429\", \"500\","
	     " \"503\", \"timeout\", \"close\", \"garbage\", \"huge\", "
	     "{\"stats\": {\"malicious\": 1, \"harmless\": 2}, \"date\": 7}]}}");
	requests_reset();
	clear_errors();
	v = start(&o);
	if (!v)
		return;
	vt_submit(v, SHA_D, "/a", 0, 0, 0);
	/* the reports are written as they come, as the logger's ticks do */
	for (int i = 0; i < 600 && vt_take(v, &out) < 0; i++) {
		usleep(50000);
		vt_report(v, el, false);
		errlog_flush(el);
	}
	is_str(verdict_text(&out), "dddddddd /a m=1 s=0 h=2 u=0 date=7",
	       "after 429, 429, 500, 503, a timeout, a closed connection, garbage and a 5 MiB "
	       "answer: the verdict");
	vt_outcome_clear(&out);
	vt_report(v, el, false);
	errlog_flush(el);
	is_str(errors(),
	       "VirusTotal's request quota was used up (a larger \"VT request limit (seconds)\" "
	       "spreads requests out) (HTTP 429 QuotaExceededError): retrying with growing pauses "
	       "(up to an hour); further failures of this kind are counted\n"
	       "VirusTotal had server errors (HTTP 500 InternalError): retrying with growing pauses "
	       "(up to an hour); further failures of this kind are counted\n"
	       "VirusTotal did not answer in time (Timeout was reached): retrying with growing "
	       "pauses (up to an hour); further failures of this kind are counted\n"
	       "VirusTotal could not be reached (Server returned nothing (no headers, no data)): "
	       "retrying with growing pauses (up to an hour); further failures of this kind are "
	       "counted\n"
	       "VirusTotal's answers could not be read (a file report that is not one): retrying "
	       "with growing pauses (up to an hour); further failures of this kind are counted\n"
	       "VirusTotal answers again; 1 more requests had failed: VirusTotal's request quota "
	       "was used up (a larger \"VT request limit (seconds)\" spreads requests out)\n"
	       "VirusTotal answers again; 1 more requests had failed: VirusTotal had server errors\n"
	       "VirusTotal answers again; 1 more requests had failed: VirusTotal's answers could "
	       "not be read",
	       "error.log: each kind once when it first happens, and its count when VirusTotal "
	       "answers again");
	{
		const char *r = requests();
		int lines = *r ? 1 : 0;

		for (; *r; r++)
			lines += *r == '\n';
		is_int(lines, 9, "  (nine requests in all)");
	}
	vt_free(v);

	/* no network at all: a port nothing listens on */
	clear_errors();
	o = (struct vt_opts){ .base_url = "http://127.0.0.1:9", .backoff_ms = 60000 };
	v = start(&o);
	if (!v)
		return;
	vt_submit(v, SHA_B, "/b", 0, 0, 0);
	for (int i = 0; i < 100 && !strstr(errors(), "reached"); i++) {
		usleep(50000);
		vt_report(v, el, false);
		errlog_flush(el);
	}
	is_str(errors(), "VirusTotal could not be reached (Couldn't connect to server): retrying "
			 "with growing pauses (up to an hour); further failures of this kind are "
			 "counted", "no network: reported once, as that");
	vt_report(v, el, true);
	errlog_flush(el);
	vt_free(v);
	ok(strstr(in_dir("vt-queue.json"), SHA_B) != NULL,
	   "  and the hash is still in vt-queue.json");
	unlinkat(dirfd_, "vt-queue.json", 0);
}

/* A hash whose lookups keep failing must not hold up the others: each
 * failure sends it behind every job already waiting. */
static void test_no_starving(struct errlog *el)
{
	struct vt_opts o = { .backoff_ms = 100 };
	struct vt_outcome out;
	struct vt *v;

	plan("{\"key\": \"" KEY "\", \"files\": {\"" SHA_A "\": \"503\","
	     "\"" SHA_B "\": {\"stats\": {\"harmless\": 4}, \"date\": 11},"
	     "\"" SHA_C "\": {\"stats\": {\"harmless\": 5}, \"date\": 12}}}");
	requests_reset();
	clear_errors();
	v = start(&o);
	if (!v)
		return;
	vt_submit(v, SHA_A, "/fails", 0, 0, 0);
	/* A fails at least twice before B and C are queued behind it */
	for (int i = 0; i < 100 && !strstr(requests(), "\nGET"); i++)
		usleep(20000);
	vt_submit(v, SHA_B, "/b", 0, 0, 0);
	vt_submit(v, SHA_C, "/c", 0, 0, 0);
	take(v, &out, 5);
	is_str(verdict_text(&out), "bbbbbbbb /b m=0 s=0 h=4 u=0 date=11",
	       "a hash that keeps failing (503) does not hold up the next one");
	vt_outcome_clear(&out);
	take(v, &out, 5);
	is_str(verdict_text(&out), "cccccccc /c m=0 s=0 h=5 u=0 date=12", "  nor the one after");
	vt_outcome_clear(&out);
	vt_report(v, el, true);
	errlog_flush(el);
	vt_free(v);
	unlinkat(dirfd_, "vt-queue.json", 0);
	clear_errors();
}

static void make_file(const char *path, size_t n, int seed, char sha[65]);

/* One hash that keeps failing while others are answered: its kind is said
 * once, and counted until the stop; the others' answers do not make it
 * "answer again" (and so say it anew at its next failure). */
static void test_one_keeps_failing(struct errlog *el)
{
	struct vt_opts o = { .upload = true, .poll_ms = 40, .backoff_ms = 40 };
	struct vt_outcome out;
	char path[128], sha[65];
	const char *first = "VirusTotal had server errors (HTTP 503 TransientError): retrying with "
			    "growing pauses (up to an hour); further failures of this kind are "
			    "counted\nVirusTotal: ";
	const char *last = " more requests failed (VirusTotal had server errors) until picosnitch "
			   "stopped; the queue is kept in vt-queue.json";
	const char *e;
	unsigned long n = 0;
	int used = 0;
	bool done = false;
	struct vt *v;

	snprintf(path, sizeof(path), "%s/polled", dir);
	make_file(path, 2000, 7, sha);
	/* the upload's analysis is "queued" for 4 polls: answers while
	 * A fails between them */
	plan("{\"key\": \"" KEY "\", \"queued_polls\": 4, \"after_upload\": {\"stats\": "
	     "{\"harmless\": 1}, \"date\": 5}, \"files\": {\"" SHA_A "\": \"503\"}}");
	requests_reset();
	clear_errors();
	v = start(&o);
	if (!v)
		return;
	vt_submit(v, SHA_A, "/fails", 0, 0, 0);
	vt_submit(v, sha, path, 0, 0, 0);
	for (int i = 0; i < 300 && !done; i++) {
		usleep(20000);
		vt_report(v, el, false);
		errlog_flush(el);
		while (vt_take(v, &out) == 0) {
			done |= out.has_verdict;
			vt_outcome_clear(&out);
		}
	}
	ok(done, "a file uploaded and polled while another hash keeps failing: its verdict");
	if (!done)
		printf("#   requests: %s\n", requests());
	vt_report(v, el, true);
	errlog_flush(el);
	vt_free(v);
	e = errors();
	if (!strncmp(e, first, strlen(first)) &&
	    sscanf(e + strlen(first), "%lu%n", &n, &used) == 1)
		e += strlen(first) + (size_t)used;
	ok(n >= 1 && !strcmp(e, last),
	   "  error.log: the server errors once, their count at the stop, no \"answers again\"");
	if (n < 1 || strcmp(e, last))
		printf("#   error.log: %s\n", errors());
	unlinkat(dirfd_, "vt-queue.json", 0);
	clear_errors();
}

static void test_key_and_restart(struct errlog *el)
{
	struct vt_opts o = { .api_key = "wrong-key" };
	struct vt_outcome out;
	struct vt *v;

	plan("{\"key\": \"" KEY "\", \"files\": {\"" SHA_C "\": {\"stats\": {\"undetected\": 5}, "
	     "\"date\": 9}}}");
	clear_errors();
	v = start(&o);
	if (!v)
		return;
	vt_submit(v, SHA_C, "/usr/bin/c", 0, 0, 0);
	for (int i = 0; i < 100 && !strstr(errors(), "refused"); i++) {
		usleep(50000);
		vt_report(v, el, false);
		errlog_flush(el);
	}
	usleep(500000);		/* a few more refusals */
	vt_report(v, el, true);
	errlog_flush(el);
	vt_free(v);
	{
		char *e = errors(), first[512];

		snprintf(first, sizeof(first), "%.*s", (int)strcspn(e, "\n"), e);
		is_str(first, "VirusTotal refused the API key (check \"VT API key\" in config.json) "
			      "(HTTP 401 WrongCredentialsError): retrying with growing pauses (up to "
			      "an hour); further failures of this kind are counted",
		       "a wrong key (401): said once");
		ok(strstr(e, "more requests failed (VirusTotal refused the API key (check \"VT API "
			     "key\" in config.json)) until picosnitch stopped; the queue is kept in "
			     "vt-queue.json") != NULL,
		   "  and at the end, how many more failed");
		ok(!strstr(e, "wrong-key") && !strstr(in_dir("vt-queue.json"), "wrong-key"),
		   "  the key itself is in neither error.log nor vt-queue.json");
	}
	ok(strstr(in_dir("vt-queue.json"), SHA_C) != NULL, "the hash stays in vt-queue.json");

	/* the next run (with the right key) takes it from there */
	o = (struct vt_opts){ 0 };
	v = start(&o);
	if (!v)
		return;
	is_int(vt_queued(v), 1, "a restart finds the queue");
	take(v, &out, 5);
	is_str(verdict_text(&out), "cccccccc /usr/bin/c m=0 s=0 h=0 u=5 date=9",
	       "  and asks for what it holds");
	vt_outcome_clear(&out);
	vt_free(v);
}

static void test_bounds(struct errlog *el)
{
	/* the server is never reached (a long pause after the first failure) */
	struct vt_opts o = { .base_url = "http://127.0.0.1:9", .backoff_ms = 3600000 };
	struct vt *v;
	int full = 0;
	char sha[65];

	clear_errors();
	unlinkat(dirfd_, "vt-queue.json", 0);
	v = start(&o);
	if (!v)
		return;
	for (int i = 0; i < VT_QUEUE_MAX + 5; i++) {
		snprintf(sha, sizeof(sha), "%064x", i);
		if (vt_submit(v, sha, "/x", 0, 0, 0) == -ENOSPC)
			full++;
	}
	is_int(full, 5, "the queue holds 10000 hashes: 5 more are refused");
	vt_report(v, el, false);
	errlog_flush(el);
	ok(strstr(errors(), "VirusTotal: 5 hashes were not queued: the queue holds 10000; they "
			    "are queued again at the next start") != NULL,
	   "  counted in error.log");
	vt_free(v);
	{
		char *text = NULL;
		struct vt_job *jobs;
		size_t n = 0, skipped = 0;
		int fd = openat(dirfd_, "vt-queue.json", O_RDONLY);
		struct stat st;

		if (fd >= 0 && fstat(fd, &st) == 0 && (text = malloc((size_t)st.st_size + 1)) &&
		    read(fd, text, (size_t)st.st_size) == st.st_size &&
		    vt_queue_parse(text, (size_t)st.st_size, VT_QUEUE_MAX, &jobs, &n, &skipped) == 0) {
			for (size_t i = 0; i < n; i++)
				vt_job_clear(&jobs[i]);
			free(jobs);
		}
		if (fd >= 0)
			close(fd);
		free(text);
		is_int(n, VT_QUEUE_MAX, "  and vt-queue.json keeps all 10000");
	}
	unlinkat(dirfd_, "vt-queue.json", 0);

	{
		char err[512];

		o = (struct vt_opts){ .dirfd = dirfd_, .api_key = "two words" };
		v = (struct vt *)1;
		is_int(vt_new(&o, &v, err, sizeof(err)), 0, "a key with a space ...");
		ok(v == NULL && strstr(err, "holds characters an API key does not have") &&
		   !strstr(err, "two words"), "  turns VirusTotal off, saying why without the key");
		o.api_key = "";
		vt_new(&o, &v, err, sizeof(err));
		ok(v == NULL && !err[0], "no key: off, silently");
	}
}

/* A file of n bytes of a pattern in the state directory's parent; its hash. */
static void make_file(const char *path, size_t n, int seed, char sha[65])
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char buf[4096];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 31 + seed);
	for (size_t done = 0; done < n;) {
		size_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);

		if (write(fd, buf, k) != (ssize_t)k)
			break;
		done += k;
	}
	lseek(fd, 0, SEEK_SET);
	close(fd);
	fd = open(path, O_RDONLY);
	sha256_fd(fd, sha);
	close(fd);
}

static void test_uploads(void)
{
	struct vt_opts o = { .upload = true, .simple_upload_max = 4096, .upload_max = 100000 };
	struct vt_outcome out;
	char small[128], big[128], huge[128], sha_s[65], sha_b[65], sha_h[65], want[1024];
	struct vt *v;
	json_t *up;

	snprintf(small, sizeof(small), "%s/small prog", dir);
	snprintf(big, sizeof(big), "%s/big", dir);
	snprintf(huge, sizeof(huge), "%s/huge", dir);
	make_file(small, 3000, 1, sha_s);
	make_file(big, 50000, 2, sha_b);
	make_file(huge, 100001, 3, sha_h);
	plan("{\"key\": \"" KEY "\", \"queued_polls\": 2, \"after_upload\": "
	     "{\"stats\": {\"malicious\": 0, \"harmless\": 1, \"undetected\": 70}, \"date\": 1733400000}}");
	requests_reset();
	v = start(&o);
	if (!v)
		return;

	vt_submit(v, sha_s, small, 0, 0, 0);
	take(v, &out, 5);
	snprintf(want, sizeof(want), "%.8s %s " VT_ST_ANALYSING " (interim)", sha_s, small);
	is_str(verdict_text(&out), want, "an unknown file is uploaded: \"being analysed\" meanwhile");
	vt_outcome_clear(&out);
	take(v, &out, 5);
	snprintf(want, sizeof(want), "%.8s %s m=0 s=0 h=1 u=70 date=1733400000", sha_s, small);
	is_str(verdict_text(&out), want, "  then its analysis' verdict");
	vt_outcome_clear(&out);
	snprintf(want, sizeof(want),
		 "GET /api/v3/files/%s\nPOST /api/v3/files\nGET /api/v3/analyses/an-%.16s%%3D%%3D\n"
		 "GET /api/v3/analyses/an-%.16s%%3D%%3D\nGET /api/v3/analyses/an-%.16s%%3D%%3D",
		 sha_s, sha_s, sha_s, sha_s);
	is_str(requests(), want, "  lookup, POST /api/v3/files, the analysis polled until completed");
	requests_reset();

	vt_submit(v, sha_b, big, 0, 0, 0);
	take(v, &out, 5);
	vt_outcome_clear(&out);
	take(v, &out, 5);
	snprintf(want, sizeof(want), "%.8s %s m=0 s=0 h=1 u=70 date=1733400000", sha_b, big);
	is_str(verdict_text(&out), want, "a file above the simple upload's limit: uploaded, analysed");
	vt_outcome_clear(&out);
	{
		char *r = requests(), first3[512];
		char *p = r;

		for (int i = 0; i < 3 && p; i++)
			p = strchr(p + 1, '\n');
		snprintf(first3, sizeof(first3), "%.*s", p ? (int)(p - r) : (int)strlen(r), r);
		snprintf(want, sizeof(want),
			 "GET /api/v3/files/%s\nGET /api/v3/files/upload_url\nPOST /upload-big", sha_b);
		is_str(first3, want, "  through GET /api/v3/files/upload_url and a POST there");
	}
	requests_reset();

	vt_submit(v, sha_h, huge, 0, 0, 0);
	take(v, &out, 5);
	snprintf(want, sizeof(want), "%.8s %s " VT_ST_TOO_BIG, sha_h, huge);
	is_str(verdict_text(&out), want, "a file above VirusTotal's largest: not uploaded, said so");
	vt_outcome_clear(&out);

	/* the file at the path is not the one with this hash any more */
	vt_submit(v, SHA_A, small, 0, 0, 0);
	take(v, &out, 5);
	snprintf(want, sizeof(want), "aaaaaaaa %s " VT_ST_GONE, small);
	is_str(verdict_text(&out), want, "a file that no longer has the hash: not uploaded");
	vt_outcome_clear(&out);
	vt_submit(v, SHA_B, "/nonexistent/prog", 0, 0, 0);
	take(v, &out, 5);
	is_str(verdict_text(&out), "bbbbbbbb /nonexistent/prog " VT_ST_GONE,
	       "a file that is gone: not uploaded");
	vt_outcome_clear(&out);
	up = last_request();
	is_str(json_string_value(json_object_get(up, "method")), "GET",
	       "  (neither was: the last request is their lookup)");
	json_decref(up);
	vt_free(v);
}

/* what an upload sent, checked separately (the log is reset in between) */
static void test_upload_content(void)
{
	struct vt_opts o = { .upload = true };
	struct vt_outcome out;
	char small[512], sha_s[65];
	struct vt *v;
	json_t *up = NULL;
	char path[512], line[8192];
	FILE *f;

	snprintf(small, sizeof(small), "%s/ev\"il;name", dir);
	make_file(small, 5000, 7, sha_s);
	plan("{\"key\": \"" KEY "\", \"queued_polls\": 0, \"after_upload\": {\"stats\": {}}}");
	requests_reset();
	v = start(&o);
	if (!v)
		return;
	vt_submit(v, sha_s, small, 0, 0, 0);
	take(v, &out, 5);
	vt_outcome_clear(&out);
	take(v, &out, 5);
	vt_outcome_clear(&out);
	vt_free(v);
	snprintf(path, sizeof(path), "%s/requests.log", srvdir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *e = json_loads(line, 0, &je);

		if (e && !strcmp(json_string_value(json_object_get(e, "method")), "POST")) {
			json_decref(up);
			up = e;
		} else {
			json_decref(e);
		}
	}
	if (f)
		fclose(f);
	is_str(json_string_value(json_object_get(up, "sha256")), sha_s,
	       "the uploaded bytes are the file's, whole");
	is_int(json_integer_value(json_object_get(up, "size")), 5000, "  5000 bytes");
	is_str(json_string_value(json_object_get(up, "filename")), "ev_il_name",
	       "  sent under its base name, odd characters made '_'");
	json_decref(up);
}

static void printed(void *ctx, const char *text)
{
	char *buf = ctx;

	strncat(buf, text, 4095 - strlen(buf));
	strncat(buf, "\n", 4095 - strlen(buf));
}

static void test_record(struct errlog *el)
{
	static char notes[4096];
	struct strpool *pool;
	struct idents *ids;
	struct alerts *a;
	struct alerts_opts ao = { .dirfd = dirfd_, .desktop = false, .print = printed, .ctx = notes };
	struct vt_outcome flagged = { .sha256 = SHA_B, .exe = "/usr/bin/b", .has_verdict = true,
				      .verdict = { 2, 1, 60, 10, 1733313600 }, .final = true };
	struct vt_outcome clean = { .sha256 = SHA_A, .exe = "/usr/bin/a", .has_verdict = true,
				    .verdict = { 0, 0, 60, 10, 0 }, .final = true };
	struct vt_outcome status = { .sha256 = SHA_C, .exe = "/usr/bin/c",
				     .status = VT_ST_UNKNOWN_NO_UPLOAD, .final = true };
	const char *rec = "{\"SHA256\": {\"/usr/bin/a\": {\"" SHA_A "\": \"\"}, "
			  "\"/usr/bin/b\": {\"" SHA_B "\": \"VirusTotal: waiting\"}, "
			  "\"/opt/b-copy\": {\"" SHA_B "\": \"\"}, "
			  "\"/usr/bin/c\": {\"" SHA_C "\": \"\"}}}";
	int fd = openat(dirfd_, "record.json", O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (write(fd, rec, strlen(rec)) < 0)
		return;
	close(fd);
	unlinkat(dirfd_, "exe.log", 0);
	strpool_new(&pool);
	idents_new(pool, &ids);
	if (alerts_open(&ao, ids, el, &a) < 0)
		return;
	alerts_vt_outcome(a, &flagged);
	alerts_vt_outcome(a, &clean);
	alerts_vt_outcome(a, &status);
	alerts_close(a);
	idents_free(ids);
	strpool_free(pool);
	is_str(in_dir("record.json"),
	       "{\n"
	       "  \"Executables\": {},\n"
	       "  \"Grandparent Executables\": {},\n"
	       "  \"Grandparent Names\": {},\n"
	       "  \"Names\": {},\n"
	       "  \"Parent Executables\": {},\n"
	       "  \"Parent Names\": {},\n"
	       "  \"SHA256\": {\n"
	       "    \"/opt/b-copy\": {\n"
	       "      \"" SHA_B "\": {\n"
	       "        \"analysis date\": 1733313600,\n"
	       "        \"harmless\": 60,\n"
	       "        \"link\": \"https://www.virustotal.com/gui/file/" SHA_B "\",\n"
	       "        \"malicious\": 2,\n"
	       "        \"suspicious\": 1,\n"
	       "        \"undetected\": 10\n"
	       "      }\n"
	       "    },\n"
	       "    \"/usr/bin/a\": {\n"
	       "      \"" SHA_A "\": {\n"
	       "        \"harmless\": 60,\n"
	       "        \"link\": \"https://www.virustotal.com/gui/file/" SHA_A "\",\n"
	       "        \"malicious\": 0,\n"
	       "        \"suspicious\": 0,\n"
	       "        \"undetected\": 10\n"
	       "      }\n"
	       "    },\n"
	       "    \"/usr/bin/b\": {\n"
	       "      \"" SHA_B "\": {\n"
	       "        \"analysis date\": 1733313600,\n"
	       "        \"harmless\": 60,\n"
	       "        \"link\": \"https://www.virustotal.com/gui/file/" SHA_B "\",\n"
	       "        \"malicious\": 2,\n"
	       "        \"suspicious\": 1,\n"
	       "        \"undetected\": 10\n"
	       "      }\n"
	       "    },\n"
	       "    \"/usr/bin/c\": {\n"
	       "      \"" SHA_C "\": \"" "VirusTotal: unknown there (not uploaded: \\\"VT file upload\\\" is off)" "\"\n"
	       "    }\n"
	       "  }\n"
	       "}",
	       "record.json: the verdicts for every executable with the hash, and the status");
	is_str(notes, "VirusTotal flags /usr/bin/b: 2 engines call it malicious, 1 suspicious "
		      "(SHA-256 bbbbbbbbbbbbbbbb…); other executables have the same file\n",
	       "a notification for the flagged file only");
	{
		char *log = in_dir("exe.log"), *p = log;
		size_t lines = 0;

		while ((p = strstr(p, " virustotal ")))
			lines++, p++;
		is_int(lines, 3, "exe.log: a line for each answer");
		ok(strstr(log, " virustotal " SHA_B " /usr/bin/b: 2 malicious, 1 suspicious, 60 "
			       "harmless, 10 undetected (https://www.virustotal.com/gui/file/" SHA_B ")\n")
		   != NULL, "  with the counts and the link");
	}
	{
		char buf[256];
		json_t *val = json_loads("{\"malicious\": 2, \"suspicious\": 1, \"harmless\": 60, "
					 "\"undetected\": 10, \"analysis date\": 1733313600}", 0, NULL);

		record_vt_text(val, buf, sizeof(buf));
		is_str(buf, "VirusTotal: 2 malicious, 1 suspicious of 73 engines, 2024-12-04",
		       "the interfaces' line for a flagged verdict");
		ok(record_vt_flagged(val), "  flagged");
		json_decref(val);
		val = json_loads("{\"malicious\": 0, \"suspicious\": 0, \"harmless\": 60, "
				 "\"undetected\": 10}", 0, NULL);
		record_vt_text(val, buf, sizeof(buf));
		is_str(buf, "VirusTotal: clean (0 of 70 engines)", "  for a clean one");
		json_decref(val);
		val = json_loads("{\"malicious\": \"x\"}", 0, NULL);
		record_vt_text(val, buf, sizeof(buf));
		is_str(buf, "VirusTotal: (unreadable verdict)", "  for a hand-edited one");
		json_decref(val);
		val = json_loads("{\"malicious\": 2, \"suspicious\": 1, \"harmless\": 60, "
				 "\"undetected\": 10}", 0, NULL);
		record_vt_brief(val, buf, sizeof(buf));
		is_str(buf, "VT: 2 mal, 1 susp /73", "the view's brief form of a verdict");
		json_decref(val);
		val = json_string(VT_ST_UNKNOWN_NO_UPLOAD);
		record_vt_brief(val, buf, sizeof(buf));
		is_str(buf, "VT: unknown there", "  of a status, without its details");
		json_decref(val);
		val = json_string("VirusTotal: waiting\x1b[31m\n");
		record_vt_text(val, buf, sizeof(buf));
		is_str(buf, "VirusTotal: waiting[31m", "  a status without its control characters");
		json_decref(val);
	}
}

int main(void)
{
	struct errlog *el = NULL;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir))
		return 1;
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	errlog_open(dirfd_, &el);
	test_parsers();
	if (start_server() < 0) {
		printf("# the fake VirusTotal (python3 tests/helpers/fake-vt.py) did not start\n");
		ok(0, "the fake VirusTotal starts");
	} else {
		test_lookups();
		test_limit();
		test_errors(el);
		test_no_starving(el);
		test_one_keeps_failing(el);
		test_key_and_restart(el);
		test_bounds(el);
		test_uploads();
		test_upload_content();
	}
	test_record(el);
	errlog_close(el);
	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return tap_done();
}
