/* Fuzz target: pending.spill as found in the (user-owned) state directory
 * at start.  Parsing must not crash; every entry it accepts must go into a
 * pending store (summed by identity) and come out of a spill file written
 * again, read back to the same number of entries. */
#include <stdint.h>
#include <stdlib.h>

#include "storage/pending.h"
#include "storage/spill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int take(void *ctx, const char *dest, const struct conn_row *row)
{
	(void)dest;
	return pending_add(ctx, row, 1);
}

static int count(void *ctx, const char *dest, const struct conn_row *row)
{
	(void)dest;
	(void)row;
	(*(size_t *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pending *p;
	const struct conn_row *rows;
	struct spill_part part = { "snitch.db", NULL, 0 };
	size_t len, again = 0;
	char *text;

	if (pending_new(1000, 1 << 20, &p) < 0)
		return 0;
	if (spill_parse((const char *)data, size, take, p) >= 0 &&
	    pending_rows(p, &rows, &part.n) == 0) {
		part.rows = rows;
		text = spill_format(&part, 1, 1, &len);
		if (text && (spill_parse(text, len, count, &again) != 0 || again != part.n))
			abort();	/* what was written must read back whole */
		free(text);
	}
	pending_free(p);
	return 0;
}
