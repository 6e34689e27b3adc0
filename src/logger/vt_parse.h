/* VirusTotal's answers (API v3), read as hostile input: whatever the
 * network (or a server pretending to be VirusTotal) sends is parsed with
 * jansson under a size bound, every field checked for type and range, and
 * only what picosnitch uses is kept, in fixed-size fields.  Also the
 * logger's persisted VirusTotal queue (vt-queue.json), a file the desktop
 * user can edit. */
#ifndef PS_LOGGER_VT_PARSE_H
#define PS_LOGGER_VT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VT_BODY_MAX (4 << 20)	/* the largest answer read (a file report is ~100 KiB) */
#define VT_COUNT_MAX 100000	/* engines per verdict: more is not a real answer */
#define VT_ID_MAX 256		/* an analysis id (base64 of "md5:time", ~60 chars) */
#define VT_URL_MAX 2048		/* an upload URL */
#define VT_CODE_MAX 64		/* an error code ("NotFoundError") */

struct vt_verdict {
	int64_t malicious, suspicious, harmless, undetected;
	int64_t date;		/* unix seconds of the analysis, 0 if not given */
};

/* GET /api/v3/files/{sha256}: data.attributes.last_analysis_stats and
 * last_analysis_date.  0 with the verdict; -ENODATA when the file is known
 * but has no analysis yet (all counts 0 and no date: just uploaded);
 * -EBADMSG when the text is not such an answer. */
int vt_parse_file(const char *body, size_t len, struct vt_verdict *ret);

/* POST /api/v3/files (or to an upload URL): data.id, the analysis id,
 * which is later put in a URL: only [A-Za-z0-9+/=_:-], at most
 * VT_ID_MAX - 1 bytes.  0 or -EBADMSG. */
int vt_parse_upload(const char *body, size_t len, char id[VT_ID_MAX]);

/* GET /api/v3/files/upload_url: data, an https:// URL (or one starting
 * with allowed_prefix, the configured base URL, for a local test server)
 * of printable ASCII without spaces.  0 or -EBADMSG. */
int vt_parse_upload_url(const char *body, size_t len, const char *allowed_prefix,
			char url[VT_URL_MAX]);

/* GET /api/v3/analyses/{id}: data.attributes.status; when "completed",
 * the verdict from data.attributes.stats and .date.  0 (with *completed),
 * or -EBADMSG. */
int vt_parse_analysis(const char *body, size_t len, bool *completed, struct vt_verdict *ret);

/* An error answer: error.code ("NotFoundError", "QuotaExceededError"...),
 * as printable ASCII; "" when there is none.  Never fails. */
void vt_parse_error(const char *body, size_t len, char code[VT_CODE_MAX]);

/* Whether s is 64 lowercase hex digits. */
bool vt_is_sha256(const char *s);

/* ---- the persisted queue ---- */

enum vt_stage {
	VT_STAGE_LOOKUP,	/* GET /files/{sha256} */
	VT_STAGE_UPLOAD,	/* not on VirusTotal: upload it */
	VT_STAGE_POLL,		/* uploaded: GET /analyses/{id} until completed */
};

#define VT_PATH_MAX 4096	/* bytes of a path kept */

struct vt_job {
	char sha256[65];
	char *exe;		/* safe text: the path it was seen at (owned) */
	uint64_t ino;		/* the file's identity when seen (0: unknown) */
	uint32_t dev;
	uint32_t pid;		/* a process running it when seen (0: none); not persisted */
	enum vt_stage stage;
	char *analysis;		/* VT_STAGE_POLL: the analysis id (owned), else NULL */
	uint32_t polls;		/* analysis polls so far */
};

/* Parse vt-queue.json into a new array of at most max jobs (the rest are
 * counted in *skipped, as are malformed entries).  0, -ENOMEM, or
 * -EBADMSG when the file is not a queue at all. */
int vt_queue_parse(const char *text, size_t len, size_t max, struct vt_job **jobs, size_t *n,
		   size_t *skipped);
void vt_job_clear(struct vt_job *j);
/* The queue as vt-queue.json holds it (the caller frees it). */
char *vt_queue_dump(const struct vt_job *jobs, size_t n);

#endif
