/* Fuzz target: the terminal interface's text (src/view/view_text.c), which
 * turns bytes any monitored process chose into what reaches the terminal.
 * Whatever the bytes, every cell must be printable with a width of 1 or 2
 * (never a control, an escape or a zero-width character), the widths must
 * add up, and fitting into any width must give exactly that width. */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <wctype.h>

#include "view/view_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, bool utf8)
{
	struct cell *c, *out;
	size_t n = view_cells((const char *)data, size, utf8, &c), total;
	size_t width = size ? data[0] : 0;

	if (n == (size_t)-1)
		return;
	if (n > 4 * size)
		abort();
	for (size_t i = 0; i < n; i++) {
		if ((c[i].width != 1 && c[i].width != 2) || c[i].wc < 0x20 ||
		    (c[i].wc >= 0x7f && c[i].wc < 0xa0) || wcwidth(c[i].wc) != c[i].width ||
		    (!utf8 && c[i].wc > 0x7e))
			abort();
	}
	total = view_cells_width(c, n);
	out = malloc((width + 1) * sizeof(*out));
	if (out) {
		size_t k = view_fit(c, n, width, utf8, size > 1 && data[1] & 1, out);

		if (view_cells_width(out, k) != width || out[k].wc != 0)
			abort();
		if (total <= width && k != n + (width - total))
			abort();
		free(out);
	}
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;

	if (!init) {
		setlocale(LC_ALL, "C.UTF-8");
		init = true;
	}
	check(data, size, true);
	check(data, size, false);
	return 0;
}
