/* Fuzz target: VirusTotal's answers (from the network: hostile) and the
 * logger's vt-queue.json (the desktop user's file).  Every parser gets the
 * same bytes; what they accept must stay within its bounds, a queue must
 * dump and parse again to the same jobs, and the interfaces' one-line
 * summary of a record value must take anything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "logger/record.h"
#include "logger/vt_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_verdict(const struct vt_verdict *v)
{
	if (v->malicious < 0 || v->malicious > VT_COUNT_MAX || v->suspicious < 0 ||
	    v->suspicious > VT_COUNT_MAX || v->harmless < 0 || v->harmless > VT_COUNT_MAX ||
	    v->undetected < 0 || v->undetected > VT_COUNT_MAX || v->date < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct vt_verdict v;
	char id[VT_ID_MAX], url[VT_URL_MAX], code[VT_CODE_MAX], line[256];
	struct vt_job *jobs = NULL;
	size_t n = 0, skipped = 0;
	bool completed = false;
	json_error_t je;
	json_t *any;

	if (vt_parse_file(body, size, &v) == 0)
		check_verdict(&v);
	if (vt_parse_upload(body, size, id) == 0 && (strlen(id) == 0 || strlen(id) >= VT_ID_MAX))
		abort();
	if (vt_parse_upload_url(body, size, "http://127.0.0.1:8080", url) == 0 &&
	    strncmp(url, "https://", 8) && strncmp(url, "http://127.0.0.1:8080", 21))
		abort();
	if (vt_parse_analysis(body, size, &completed, &v) == 0 && completed)
		check_verdict(&v);
	vt_parse_error(body, size, code);
	if (strlen(code) >= VT_CODE_MAX)
		abort();
	if (vt_queue_parse(body, size, 100, &jobs, &n, &skipped) == 0) {
		char *text = vt_queue_dump(jobs, n);
		struct vt_job *again = NULL;
		size_t n2 = 0, s2 = 0;

		if (n > 100)
			abort();
		/* what was accepted dumps and reads back the same */
		if (text && vt_queue_parse(text, strlen(text), 100, &again, &n2, &s2) == 0) {
			if (n2 != n || s2)
				abort();
			for (size_t i = 0; i < n; i++)
				if (strcmp(jobs[i].sha256, again[i].sha256) ||
				    strcmp(jobs[i].exe, again[i].exe) || jobs[i].stage != again[i].stage)
					abort();
			for (size_t i = 0; i < n2; i++)
				vt_job_clear(&again[i]);
			free(again);
		}
		free(text);
		for (size_t i = 0; i < n; i++)
			vt_job_clear(&jobs[i]);
		free(jobs);
	}
	/* a record value of any shape */
	any = json_loadb(body, size, JSON_DECODE_ANY, &je);
	record_vt_text(any, line, sizeof(line));
	if (strlen(line) >= sizeof(line))
		abort();
	record_vt_flagged(any);
	json_decref(any);
	return 0;
}
