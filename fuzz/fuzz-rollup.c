/* Fuzz target: the blobs of snitch.db's rollups, executable days and
 * executables' sums (storage/rollup.h), which the query layer reads from a
 * file the desktop user may have edited.  The input is a blob; every reader
 * must stay in it and end or refuse it, a part of the sums must lie in it
 * (or be empty: in a row of its own), and every entry an executable day
 * gives must lie in its day.  The entries read are written again and must read back the
 * same (the writer's format is the reader's), and the varints (and units'
 * entries) read many at a time (packed by shifts or by pext) are those
 * read one at a time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/rollup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DAY0 (20000 * (int64_t)ROLLUP_DAY)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rollup_reader rd;
	struct rollup_entry e;
	struct rollup_row row = { .time = DAY0 }, prev = { .time = DAY0 }, back;
	uint8_t *out = malloc(size * ROLLUP_ROW_MAX + 1);
	size_t len = 0, n_rows = 0;
	int n;

	if (!out)
		return 0;
	/* many varints at once read what one at a time reads, from the first
	 * bytes on, in runs of any length, every way of reading them (pext and
	 * AVX-512 where this processor has them) */
	for (size_t from = 0; from < 16 && from < size; from++) {
		size_t run = 1 + data[from] % 64;
		struct rollup_reader a = { data + from, data + size, 0 }, b = a;

		for (;;) {
			uint64_t va[64], vb;
			bool bad, okb = true;
			size_t got, k;

#if defined(ROLLUP_HAVE_AVX512)
			if (from % 3 == 2 && rollup_avx512_usable())
				got = rollup_get_uvarints_avx512(&a, va, run, &bad);
			else
#endif
#if defined(ROLLUP_HAVE_PEXT)
			if (from % 3 == 1 && __builtin_cpu_supports("bmi2"))
				got = rollup_get_uvarints_pext(&a, va, run, &bad);
			else
#endif
				got = rollup_get_uvarints_shifts(&a, va, run, &bad);

			for (k = 0; k < run && b.p < b.end && (okb = rollup_get_uvarint(&b, &vb)); k++)
				if (k >= got || va[k] != vb)
					abort();
			if (k != got || bad != !okb || a.p != b.p)
				abort();
			if (got < run)
				break;
		}
	}
	/* the units' format: one at a time, and in chunks (the same entries,
	 * the same end; a chunk with a malformed entry gives none of it) */
	if (rollup_reader_init(&rd, data, size)) {
		struct rollup_reader rc = rd;
		struct rollup_entries *c = malloc(sizeof(*c));
		size_t i = 0, after = 0;
		int m;

		if (!c) {
			free(out);
			return 0;
		}
		m = rollup_next_entries(&rc, c);
		while ((n = rollup_next(&rd, &e)) > 0) {
			if (rd.p > rd.end)
				abort();
			if (m > 0 && (size_t)m == i) {
				m = rollup_next_entries(&rc, c);
				i = 0;
			}
			if (m == 0)
				abort();
			/* refused: the malformed entry is in this chunk */
			if (m < 0) {
				if (++after >= ROLLUP_ENTRIES_CHUNK)
					abort();
				continue;
			}
			if (memcmp(&c->e[i++], &e, sizeof(e)))
				abort();
		}
		if (m > 0 && (size_t)m == i)
			m = rollup_next_entries(&rc, c);
		if ((n == 0 && m != 0) || (n < 0 && m >= 0) || rc.p > rc.end)
			abort();
		free(c);
	}
	/* an executable's sums of a day: each key's part, and its entries */
	for (int key = 0; key <= ROLLUP_KEY__MAX + 1; key++) {
		const uint8_t *part;
		size_t part_len;

		if (!rollup_sums_part(data, size, key, &part, &part_len))
			continue;
		if (key < 1 || key > ROLLUP_KEY__MAX || part < data || part + part_len > data + size)
			abort();
		if (part_len && rollup_reader_init(&rd, part, part_len))
			while ((n = rollup_next(&rd, &e)) > 0)
				if (rd.p > rd.end)
					abort();
	}
	/* an executable day's */
	rd = (struct rollup_reader){ data, data + size, 0 };
	if (size && data[0] == ROLLUP_ROWS_FORMAT) {
		rd.p++;
		while ((n = rollup_next_row(&rd, DAY0, &row)) > 0) {
			int64_t gp = prev.gp;

			if (rd.p > rd.end || row.time < DAY0 || row.time >= DAY0 + ROLLUP_DAY)
				abort();
			if (row.gp_null)
				row.gp = gp;
			len += rollup_put_row(out + len, &prev, &row);
			prev = row;
			n_rows++;
		}
		/* what was read, written again, reads back the same */
		rd = (struct rollup_reader){ out, out + len, 0 };
		back = (struct rollup_row){ .time = DAY0 };
		prev = (struct rollup_row){ .time = DAY0 };
		row = (struct rollup_row){ .time = DAY0 };
		for (size_t i = 0; i < n_rows; i++)
			if (rollup_next_row(&rd, DAY0, &back) != 1)
				abort();
		if (rollup_next_row(&rd, DAY0, &back) != 0)
			abort();
	}
	free(out);
	return 0;
}
