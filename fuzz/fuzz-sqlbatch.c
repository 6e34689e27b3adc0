/* Fuzz target: the spool files of "DB sql server" (sql-spool/NNN.batch in
 * the user's state directory, storage/sqlserver.h), which the logger reads
 * back and sends.  The decoder must refuse or accept without reading past
 * the input; what it accepts must be clean text within the bounds, and
 * encode again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geo/utf8.h"
#include "storage/sqlserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sqlsrv_batch b;
	char *again;
	size_t len;

	if (sqlbatch_decode(data, size, &b) < 0)
		return 0;
	for (size_t i = 0; i < b.n; i++) {
		const struct conn_row *r = &b.rows[i];
		const char *t[] = { r->exe, r->name, r->cmdline, r->sha256, r->pexe, r->pname,
				    r->pcmdline, r->psha256, r->gpexe, r->gpname, r->gpcmdline,
				    r->gpsha256, r->laddr, r->raddr, r->domain };

		for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++)
			if (!t[k] || strlen(t[k]) > SQLSRV_TEXT_MAX || !utf8_is_clean(t[k], strlen(t[k])))
				abort();
		if (r->lport < -1 || r->lport > 65535 || r->sent > INT64_MAX)
			abort();
	}
	if (sqlbatch_encode(&b, &again, &len) != 0 || len != size || memcmp(again, data, size))
		abort();
	free(again);
	sqlbatch_clear(&b);
	return 0;
}
