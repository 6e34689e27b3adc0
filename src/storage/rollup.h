/* The rollups of snitch.db (schema 12, weeks since 13, executable days
 * since 14; docs/schema.md):
 * pre-summed traffic per UTC day, 7-day week and calendar month for each key the query layer groups by,
 * written by the logger (store_sqlite.c) and read by src/query.  This
 * header is what both sides must agree on: the units' boundaries, the
 * numbers of the keys, and the packed format of a unit's sums.
 *
 * A unit of one key holds one entry per distinct (key, key2) that the
 * connections rows of the unit have, with sent, received and flows summed
 * (saturating).  It is a blob: a format byte, then per entry, in ascending
 * (key, key2) order, five LEB128 varints: key minus the previous entry's key
 * (unsigned, modulo 2^64; the first from 0), then zigzag key2, sent,
 * received, flows.
 *
 * An executable day (schema 14, table exe_days) holds the entries of one
 * exe_id in one UTC day, every column but the id and exe_id, so that a
 * query that keeps one executable reads its entries from a few blobs
 * rather than from the whole table: a format byte, then per entry, in the
 * order they were read, varints (see rollup_put_row). */
#ifndef PS_STORAGE_ROLLUP_H
#define PS_STORAGE_ROLLUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#define ROLLUP_GRAIN_DAY 1	/* [00:00, 24:00) UTC */
#define ROLLUP_GRAIN_MONTH 2	/* UTC calendar month */
#define ROLLUP_GRAIN_WEEK 3	/* 7 days from a multiple of 7 days since the
				 * epoch (a Thursday 00:00 UTC; schema 13) */
#define ROLLUP_DAY 86400
#define ROLLUP_WEEK (7 * ROLLUP_DAY)
#define ROLLUP_FORMAT 1		/* the first byte of every blob */

/* Units are kept for times in [0, ROLLUP_TIME_MAX) only (year ~36800):
 * anything else is always read from the rows. */
#define ROLLUP_TIME_MAX ((int64_t)1 << 40)

/* The keys rolled up, as stored in rollups.dim.  A key is what the query
 * layer reads from a row (query_int.h, ps_acc): the column as an int64, and
 * key2 0, or the protocol for ROLLUP_KEY_PROTOCOL (key: the family); a NULL
 * key is (0, ROLLUP_NULL_KEY2). */
enum rollup_key {
	ROLLUP_KEY_EXE = 1,		/* exe_id */
	ROLLUP_KEY_PARENT = 2,		/* parent_id */
	ROLLUP_KEY_GRANDPARENT = 3,	/* grandparent_id (NULL in rows of schema 10) */
	ROLLUP_KEY_UID = 4,		/* uid */
	ROLLUP_KEY_LPORT = 5,		/* lport */
	ROLLUP_KEY_RPORT = 6,		/* rport */
	ROLLUP_KEY_LADDR = 7,		/* laddr_id */
	ROLLUP_KEY_RADDR = 8,		/* raddr_id */
	ROLLUP_KEY_DOMAIN = 9,		/* domain_id */
	ROLLUP_KEY_PROTOCOL = 10,	/* family, with key2 the protocol */
	ROLLUP_KEY_NETNS = 11,		/* netns */
	ROLLUP_KEY_TIME = 12,		/* time */
	ROLLUP_KEY__MAX = 12
};

#define ROLLUP_NULL_KEY2 INT64_MIN

static inline int64_t rollup_add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* ---- UTC days and months (for t in [0, ROLLUP_TIME_MAX)) ---- */

static inline int64_t rollup_day_start(int64_t t)
{
	return t - ((t % ROLLUP_DAY) + ROLLUP_DAY) % ROLLUP_DAY;
}

/* The first day start >= t. */
static inline int64_t rollup_day_ceil(int64_t t)
{
	int64_t d = rollup_day_start(t);

	return d == t ? d : d + ROLLUP_DAY;
}

/* The first second of the week unit of t. */
static inline int64_t rollup_week_start(int64_t t)
{
	return t - ((t % ROLLUP_WEEK) + ROLLUP_WEEK) % ROLLUP_WEEK;
}

/* The first week start >= t. */
static inline int64_t rollup_week_ceil(int64_t t)
{
	int64_t w = rollup_week_start(t);

	return w == t ? w : w + ROLLUP_WEEK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static inline int64_t rollup_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static inline void rollup_civil_from_days(int64_t z, int64_t *y, int64_t *m)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* The first second of the UTC month of t. */
static inline int64_t rollup_month_start(int64_t t)
{
	int64_t y, m;

	rollup_civil_from_days(rollup_day_start(t) / ROLLUP_DAY, &y, &m);
	return rollup_days_from_civil(y, m, 1) * ROLLUP_DAY;
}

/* The first second after the UTC month of t. */
static inline int64_t rollup_month_end(int64_t t)
{
	int64_t y, m;

	rollup_civil_from_days(rollup_day_start(t) / ROLLUP_DAY, &y, &m);
	return rollup_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * ROLLUP_DAY;
}

/* ---- the blob of a unit ---- */

struct rollup_entry {
	int64_t key, key2;
	int64_t sent, received, flows;
};

/* The most bytes one entry takes. */
#define ROLLUP_ENTRY_MAX 50

static inline size_t rollup_put_uvarint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline size_t rollup_put_svarint(uint8_t *p, int64_t v)
{
	return rollup_put_uvarint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* One entry after the one with key `prev`, at p (ROLLUP_ENTRY_MAX bytes
 * free): the bytes written. */
static inline size_t rollup_put_entry(uint8_t *p, int64_t prev, const struct rollup_entry *e)
{
	size_t n = rollup_put_uvarint(p, (uint64_t)e->key - (uint64_t)prev);

	n += rollup_put_svarint(p + n, e->key2);
	n += rollup_put_svarint(p + n, e->sent);
	n += rollup_put_svarint(p + n, e->received);
	n += rollup_put_svarint(p + n, e->flows);
	return n;
}

/* Reading a blob that came from a file anyone with the user's rights may
 * have edited: every read is bounded, and a malformed blob is an error. */
struct rollup_reader {
	const uint8_t *p, *end;
	int64_t prev;
};

static inline bool rollup_get_uvarint(struct rollup_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
		uint8_t b = *r->p++;

		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

static inline bool rollup_get_svarint(struct rollup_reader *r, int64_t *v)
{
	uint64_t u;

	if (!rollup_get_uvarint(r, &u))
		return false;
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return true;
}

/* false for a blob that is not of this format */
static inline bool rollup_reader_init(struct rollup_reader *r, const void *blob, size_t len)
{
	r->p = blob;
	r->end = r->p + len;
	r->prev = 0;
	if (!len || !blob || *r->p != ROLLUP_FORMAT)
		return false;
	r->p++;
	return true;
}

/* 1: an entry; 0: the end; -1: a malformed blob */
static inline int rollup_next(struct rollup_reader *r, struct rollup_entry *e)
{
	uint64_t delta;

	if (r->p == r->end)
		return 0;
	if (!rollup_get_uvarint(r, &delta) || !rollup_get_svarint(r, &e->key2) ||
	    !rollup_get_svarint(r, &e->sent) || !rollup_get_svarint(r, &e->received) ||
	    !rollup_get_svarint(r, &e->flows))
		return -1;
	e->key = (int64_t)((uint64_t)r->prev + delta);
	r->prev = e->key;
	return 1;
}

/* ---- the blob of an executable day (schema 14) ---- */

#define ROLLUP_ROWS_FORMAT 2	/* the first byte: entries follow */
#define ROLLUP_ROWS_RAW 3	/* the only byte: an entry of the day has a
				 * column that is not an integer (an edited
				 * file): read the day's entries instead */

/* An entry of an executable day: the columns of connections but id and
 * exe_id, as integers; gp_null for a NULL grandparent_id. */
struct rollup_row {
	int64_t time, parent, gp, uid, family, protocol, lport, rport, laddr, raddr, domain, netns;
	int64_t sent, received, flows;
	bool gp_null;
};

/* The columns that are written as the difference from the previous entry's
 * (0 before the first; time from the day's start), in this order, after
 * time: they repeat from entry to entry, and a repeat is one byte. */
#define ROLLUP_ROW_DELTAS 11
static inline int64_t *rollup_row_delta_col(struct rollup_row *r, int i)
{
	int64_t *cols[ROLLUP_ROW_DELTAS] = { &r->parent, &r->gp,    &r->uid,   &r->family,
					     &r->protocol, &r->lport, &r->rport, &r->laddr,
					     &r->raddr,  &r->domain, &r->netns };

	return cols[i];
}

/* The most bytes one entry takes: 15 varints of at most 10 bytes. */
#define ROLLUP_ROW_MAX 150

static inline int64_t rollup_wrap_sub(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

static inline int64_t rollup_wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* One entry after `prev` (the previous entry, or for the first: zeros with
 * time the day's start) at p (ROLLUP_ROW_MAX bytes free): the bytes
 * written.  Its time must lie in the day of prev's: the first varint is
 * the time's difference, zigzag, times 2, plus gp_null.  A NULL
 * grandparent is written as the previous one (difference 0). */
static inline size_t rollup_put_row(uint8_t *p, const struct rollup_row *prev,
				    const struct rollup_row *r)
{
	struct rollup_row cur = *r, old = *prev;
	int64_t dt = r->time - prev->time;
	size_t n;

	if (r->gp_null)
		cur.gp = prev->gp;
	n = rollup_put_uvarint(p, ((((uint64_t)dt << 1) ^ (uint64_t)(dt >> 63)) << 1) | r->gp_null);
	for (int i = 0; i < ROLLUP_ROW_DELTAS; i++)
		n += rollup_put_svarint(p + n, rollup_wrap_sub(*rollup_row_delta_col(&cur, i),
							       *rollup_row_delta_col(&old, i)));
	n += rollup_put_svarint(p + n, r->sent);
	n += rollup_put_svarint(p + n, r->received);
	n += rollup_put_svarint(p + n, r->flows);
	return n;
}

/* The varints of one entry of an executable day. */
#define ROLLUP_ROW_VARINTS (ROLLUP_ROW_DELTAS + 4)

/* The entry after *r (the previous entry, as for writing) from its varints
 * `u`: 1, or -1 for an entry outside the day [day, day + ROLLUP_DAY) (*r is
 * then undefined). */
static inline int rollup_row_apply(int64_t day, struct rollup_row *r, const uint64_t *u)
{
	uint64_t zz = u[0] >> 1;
#define ROLLUP_ZZ(x) ((int64_t)((x) >> 1) ^ -(int64_t)((x) & 1))

	r->gp_null = u[0] & 1;
	r->time = rollup_wrap_add(r->time, ROLLUP_ZZ(zz));
	if (r->time < day || r->time - day >= ROLLUP_DAY)
		return -1;
	/* as rollup_row_delta_col */
	r->parent = rollup_wrap_add(r->parent, ROLLUP_ZZ(u[1]));
	r->gp = rollup_wrap_add(r->gp, ROLLUP_ZZ(u[2]));
	r->uid = rollup_wrap_add(r->uid, ROLLUP_ZZ(u[3]));
	r->family = rollup_wrap_add(r->family, ROLLUP_ZZ(u[4]));
	r->protocol = rollup_wrap_add(r->protocol, ROLLUP_ZZ(u[5]));
	r->lport = rollup_wrap_add(r->lport, ROLLUP_ZZ(u[6]));
	r->rport = rollup_wrap_add(r->rport, ROLLUP_ZZ(u[7]));
	r->laddr = rollup_wrap_add(r->laddr, ROLLUP_ZZ(u[8]));
	r->raddr = rollup_wrap_add(r->raddr, ROLLUP_ZZ(u[9]));
	r->domain = rollup_wrap_add(r->domain, ROLLUP_ZZ(u[10]));
	r->netns = rollup_wrap_add(r->netns, ROLLUP_ZZ(u[11]));
	r->sent = ROLLUP_ZZ(u[12]);
	r->received = ROLLUP_ZZ(u[13]);
	r->flows = ROLLUP_ZZ(u[14]);
#undef ROLLUP_ZZ
	return 1;
}

/* Reading: `r` the previous entry as for writing (what the last call
 * gave); 1: the next entry in *r, 0: the end, -1: a malformed blob or an
 * entry outside the day [day, day + ROLLUP_DAY) (*r is then undefined). */
static inline int rollup_next_row(struct rollup_reader *rd, int64_t day, struct rollup_row *r)
{
	uint64_t u[ROLLUP_ROW_VARINTS];

	if (rd->p == rd->end)
		return 0;
	for (int i = 0; i < ROLLUP_ROW_VARINTS; i++)
		if (!rollup_get_uvarint(rd, &u[i]))
			return -1;
	return rollup_row_apply(day, r, u);
}

/* The varints k to n one at a time (the tail of rollup_get_uvarints). */
static inline size_t rollup_uvarints_bytewise(struct rollup_reader *rd, uint64_t *out, size_t k,
					      size_t n, bool *bad)
{
	for (; k < n && rd->p < rd->end; k++)
		if (!rollup_get_uvarint(rd, &out[k])) {
			*bad = true;
			break;
		}
	return k;
}

/* Up to n varints into out, as n calls of rollup_get_uvarint would read
 * them: how many were read, fewer than n at the end of the blob or at a
 * malformed varint (then *bad is set).
 *
 * Why not one at a time: a varint's length is random in a blob (an
 * address id takes 3 bytes, the next repeat 1), so the byte loop's
 * branches mispredict, and each varint's start waits for the one before:
 * reading a busy executable's year was mostly that.  Here the high bits
 * of 64 bytes are gathered into one word first; the varints' ends are its
 * clear bits, found one after the other by clearing the lowest, and each
 * value is one 8-byte load whose 7-bit groups are packed together: by
 * three shifts, or where the processor has a fast BMI2 pext, by that one
 * instruction (rollup_get_uvarints picks).  A varint longer than 8 bytes
 * (a value of 2^56 or more) is read byte by byte, as are the last bytes
 * of a blob. */
#define ROLLUP_UVARINTS_BODY(PACK)                                                              \
	size_t k = 0;                                                                          \
                                                                                               \
	*bad = false;                                                                          \
	while (k < n && rd->end - rd->p >= 64 + 8) {                                          \
		uint64_t ends = 0;                                                             \
		unsigned int off = 0;                                                          \
                                                                                               \
		/* bit i set: byte i ends a varint (its high bit is clear) */                 \
		for (int i = 0; i < 8; i++) {                                                  \
			uint64_t w;                                                            \
                                                                                               \
			memcpy(&w, rd->p + 8 * i, 8);                                          \
			w = ((~w & 0x8080808080808080ULL) >> 7) * 0x0102040810204080ULL;     \
			ends |= (w >> 56) << (8 * i);                                          \
		}                                                                              \
		while (ends && k < n) {                                                        \
			unsigned int last = (unsigned int)__builtin_ctzll(ends);               \
			unsigned int len = last + 1 - off;                                     \
			uint64_t w;                                                            \
                                                                                               \
			if (len > 8)                                                           \
				break;                                                         \
			memcpy(&w, rd->p + off, 8);                                            \
			out[k++] = PACK(w, (~0ULL >> (64 - 8 * len)) & 0x7f7f7f7f7f7f7f7fULL); \
			off = last + 1;                                                        \
			ends &= ends - 1;                                                      \
		}                                                                              \
		rd->p += off;                                                                  \
		/* stopped at a varint of more than 8 bytes, or none ends in                  \
		 * the 64 bytes (malformed) */                                                 \
		if (k < n && (ends || !off)) {                                                 \
			if (!rollup_get_uvarint(rd, &out[k])) {                                \
				*bad = true;                                                   \
				return k;                                                      \
			}                                                                      \
			k++;                                                                   \
		}                                                                              \
	}                                                                                      \
	return rollup_uvarints_bytewise(rd, out, k, n, bad);

/* The 7-bit groups of w's bytes that `groups` (0x7f in each byte kept)
 * keeps, packed together. */
static inline uint64_t rollup_pack_shifts(uint64_t w, uint64_t groups)
{
	w &= groups;
	w = ((w & 0x7f007f007f007f00ULL) >> 1) | (w & 0x007f007f007f007fULL);
	w = ((w & 0x3fff00003fff0000ULL) >> 2) | (w & 0x00003fff00003fffULL);
	return ((w & 0x0fffffff00000000ULL) >> 4) | (w & 0x000000000fffffffULL);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline size_t rollup_get_uvarints_shifts(struct rollup_reader *rd, uint64_t *out,
						size_t n, bool *bad)
{
	ROLLUP_UVARINTS_BODY(rollup_pack_shifts)
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define ROLLUP_HAVE_PEXT 1
__attribute__((target("bmi2"))) static inline uint64_t rollup_pack_pext(uint64_t w,
									 uint64_t groups)
{
	return _pext_u64(w, groups);
}

__attribute__((target("bmi2"))) static inline size_t
rollup_get_uvarints_pext(struct rollup_reader *rd, uint64_t *out, size_t n, bool *bad)
{
	ROLLUP_UVARINTS_BODY(rollup_pack_pext)
}

/* Whether pext is there and fast: Intel's since Haswell and AMD's since
 * Zen 3 (family 19h, and 1Ah since: Zen 5) take a cycle or three; AMD's
 * before (families 15h and 17h, and Hygon's 18h) microcode it, hundreds
 * of cycles for some masks, so the shifts are faster there.  The family
 * comes from cpuid (the compiler's names stop at the families it knew).
 * Decided once per file. */
static inline bool rollup_pext_fast(void)
{
	static int fast = -1;
	int f = __atomic_load_n(&fast, __ATOMIC_RELAXED);

	if (f < 0) {
		unsigned int eax, ebx, ecx, edx, family;

		__builtin_cpu_init();
		f = 0;
		if (!__builtin_cpu_supports("bmi2")) {
			/* no pext at all */
		} else if (__builtin_cpu_is("intel")) {
			f = 1;
		} else if (__builtin_cpu_is("amd") && __get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
			family = (eax >> 8) & 0xf;
			if (family == 0xf)
				family += (eax >> 20) & 0xff;
			f = family >= 0x19;
		}
		__atomic_store_n(&fast, f, __ATOMIC_RELAXED);
	}
	return f;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define ROLLUP_HAVE_AVX512 1
#define ROLLUP_AVX512_TARGET "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt"
/* The same with AVX-512 (VBMI2), eight varints at a time: the ends of the
 * varints in 64 bytes are the bytes whose high bit is clear (one mask);
 * their places, compressed into a vector, give eight varints' first and
 * last bytes; one byte permutation moves each varint's bytes into a lane
 * of its own (the bytes after its end zeroed), where three rounds of
 * shifts pack the 7-bit groups, for all eight lanes at once.  The rest is
 * as above: a varint longer than 8 bytes, a block of 64 bytes with fewer
 * than eight ends, and the blob's last bytes, one varint at a time.  On
 * a busy executable's year: 2.2 times as fast as pext (AMD Zen 5). */
__attribute__((target(ROLLUP_AVX512_TARGET))) static inline size_t
rollup_get_uvarints_avx512(struct rollup_reader *rd, uint64_t *out, size_t n, bool *bad)
{
	const __m512i iota = _mm512_set_epi8(
		63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42,
		41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,
		19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	/* byte j of a lane: j more than the lane's first */
	const __m512i lane_bytes = _mm512_set1_epi64(0x0706050403020100LL);
	/* each lane's low byte into all eight of its bytes */
	const __m512i spread = _mm512_set_epi64(0x0808080808080808LL, 0, 0x0808080808080808LL, 0,
						0x0808080808080808LL, 0, 0x0808080808080808LL, 0);
	const __m512i previous = _mm512_set_epi64(6, 5, 4, 3, 2, 1, 0, 0);
	size_t k = 0;

	*bad = false;
	while (n - k >= 8 && rd->end - rd->p >= 64) {
		__m512i v = _mm512_loadu_si512(rd->p);
		uint64_t ends = ~(uint64_t)_mm512_movepi8_mask(v);
		unsigned int n_ends = (unsigned int)__builtin_popcountll(ends), g, next = 0;
		uint8_t at[64];

		/* at[i]: the place of the i-th end */
		_mm512_storeu_si512(at, _mm512_maskz_compress_epi8(ends, iota));
		for (g = 0; g + 8 <= n_ends && n - k >= 8; g += 8) {
			__m512i last = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(at + g)));
			/* lane i begins after lane i - 1's last byte; lane 0 at next */
			__m512i first = _mm512_mask_set1_epi64(
				_mm512_add_epi64(_mm512_permutexvar_epi64(previous, last),
						 _mm512_set1_epi64(1)),
				1, (long long)next);
			__m512i idx, w;
			__mmask64 in;

			if (_mm512_cmpgt_epu64_mask(_mm512_sub_epi64(last, first), _mm512_set1_epi64(7)))
				break;
			idx = _mm512_add_epi8(_mm512_shuffle_epi8(first, spread), lane_bytes);
			in = _mm512_cmple_epu8_mask(idx, _mm512_shuffle_epi8(last, spread));
			w = _mm512_and_si512(_mm512_maskz_permutexvar_epi8(in, idx, v),
					     _mm512_set1_epi8(0x7f));
			w = _mm512_or_si512(
				_mm512_srli_epi64(_mm512_and_si512(w, _mm512_set1_epi64(0x7f007f007f007f00LL)), 1),
				_mm512_and_si512(w, _mm512_set1_epi64(0x007f007f007f007fLL)));
			w = _mm512_or_si512(
				_mm512_srli_epi64(_mm512_and_si512(w, _mm512_set1_epi64(0x3fff00003fff0000LL)), 2),
				_mm512_and_si512(w, _mm512_set1_epi64(0x00003fff00003fffLL)));
			w = _mm512_or_si512(
				_mm512_srli_epi64(_mm512_and_si512(w, _mm512_set1_epi64(0x0fffffff00000000LL)), 4),
				_mm512_and_si512(w, _mm512_set1_epi64(0x000000000fffffffLL)));
			_mm512_storeu_si512(out + k, w);
			k += 8;
			next = at[g + 7] + 1u;
		}
		if (next) {
			rd->p += next;
			continue;
		}
		/* no eight varints of at most 8 bytes here: one the slow way */
		if (!rollup_get_uvarint(rd, &out[k])) {
			*bad = true;
			return k;
		}
		k++;
	}
	return rollup_uvarints_bytewise(rd, out, k, n, bad);
}

/* Whether the processor (and the system, which must save the registers)
 * has what rollup_get_uvarints_avx512 uses.  Decided once per file. */
static inline bool rollup_avx512_usable(void)
{
	static int usable = -1;
	int u = __atomic_load_n(&usable, __ATOMIC_RELAXED);

	if (u < 0) {
		__builtin_cpu_init();
		u = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vbmi2") &&
		    __builtin_cpu_supports("popcnt");
		__atomic_store_n(&usable, u, __ATOMIC_RELAXED);
	}
	return u;
}
#endif

static inline size_t rollup_get_uvarints(struct rollup_reader *rd, uint64_t *out, size_t n,
					 bool *bad)
{
#if defined(ROLLUP_HAVE_AVX512)
	if (rollup_avx512_usable())
		return rollup_get_uvarints_avx512(rd, out, n, bad);
#endif
#if defined(ROLLUP_HAVE_PEXT)
	if (rollup_pext_fast())
		return rollup_get_uvarints_pext(rd, out, n, bad);
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return rollup_get_uvarints_shifts(rd, out, n, bad);
#else
	*bad = false;
	return rollup_uvarints_bytewise(rd, out, 0, n, bad);
#endif
}

/* Up to ROLLUP_ENTRIES_CHUNK entries of a unit's blob at a time, as that
 * many calls of rollup_next would read them, but with rollup_get_uvarints
 * (fast): how many, 0 at the end, -1 if the blob is malformed (then the
 * entries before the malformed one in this chunk are not given). */
#define ROLLUP_ENTRIES_CHUNK 64
struct rollup_entries {
	struct rollup_entry e[ROLLUP_ENTRIES_CHUNK];
	uint64_t u[ROLLUP_ENTRIES_CHUNK * 5];
};

static inline int rollup_next_entries(struct rollup_reader *r, struct rollup_entries *c)
{
	bool bad;
	size_t got;

	if (r->p == r->end)
		return 0;
	got = rollup_get_uvarints(r, c->u, ROLLUP_ENTRIES_CHUNK * 5, &bad);
	if (bad || got % 5)
		return -1;
	for (size_t i = 0; i < got / 5; i++) {
		const uint64_t *u = c->u + 5 * i;
		struct rollup_entry *e = &c->e[i];

		e->key = (int64_t)((uint64_t)r->prev + u[0]);
		r->prev = e->key;
		e->key2 = (int64_t)(u[1] >> 1) ^ -(int64_t)(u[1] & 1);
		e->sent = (int64_t)(u[2] >> 1) ^ -(int64_t)(u[2] & 1);
		e->received = (int64_t)(u[3] >> 1) ^ -(int64_t)(u[3] & 1);
		e->flows = (int64_t)(u[4] >> 1) ^ -(int64_t)(u[4] & 1);
	}
	return (int)(got / 5);
}

/* ---- the blob of an executable's sums of a day (exe_sums) ---- */

#define ROLLUP_SUMS_FORMAT 4	/* the first byte: the keys' sums follow */
#define ROLLUP_SUMS_RAW 3	/* the only byte: as ROLLUP_ROWS_RAW */

/* A key's part longer than this is a row of its own (schema 19): the row of
 * dim 0 is then about as long as a page, and a query by a small key (the
 * user, the parent) does not read the long ones (remote addresses, ports,
 * times), which a busy executable has thousands of a day. */
#define ROLLUP_SUMS_INLINE_MAX 256

/* The dim of the row of an executable's sums of a day, and of a week
 * (schema 20: a week from rollup_week_start, its `day` the week's start);
 * a long part of key k is the row of dim (that + k). */
#define ROLLUP_SUMS_DAY 0
#define ROLLUP_SUMS_WEEK 16

/* The key k of an entry of executable `exe` in its sums (keys as for the
 * units, but for key 8: since schema 21 the second key of a remote
 * address is the entry's domain, so a filter on the domain applies to the
 * remote addresses' sums). */
static inline void rollup_sums_key(const struct rollup_row *r, int64_t exe, int k,
				   int64_t *key, int64_t *key2)
{
	*key2 = 0;
	switch (k) {
	case ROLLUP_KEY_EXE: *key = exe; break;
	case ROLLUP_KEY_PARENT: *key = r->parent; break;
	case ROLLUP_KEY_GRANDPARENT:
		*key = r->gp_null ? 0 : r->gp;
		*key2 = r->gp_null ? ROLLUP_NULL_KEY2 : 0;
		break;
	case ROLLUP_KEY_UID: *key = r->uid; break;
	case ROLLUP_KEY_LPORT: *key = r->lport; break;
	case ROLLUP_KEY_RPORT: *key = r->rport; break;
	case ROLLUP_KEY_LADDR: *key = r->laddr; break;
	case ROLLUP_KEY_RADDR:
		*key = r->raddr;
		*key2 = r->domain;
		break;
	case ROLLUP_KEY_DOMAIN: *key = r->domain; break;
	case ROLLUP_KEY_PROTOCOL:
		*key = r->family;
		*key2 = r->protocol;
		break;
	case ROLLUP_KEY_NETNS: *key = r->netns; break;
	default: *key = r->time; break;
	}
}

/* The other way: the columns of a row that an entry of the sums of key k
 * (k not ROLLUP_KEY_EXE) says, into *r (the others are left as they are). */
static inline void rollup_sums_key_row(int k, int64_t key, int64_t key2, struct rollup_row *r)
{
	switch (k) {
	case ROLLUP_KEY_PARENT: r->parent = key; break;
	case ROLLUP_KEY_GRANDPARENT:
		r->gp = key;
		r->gp_null = key2 == ROLLUP_NULL_KEY2;
		break;
	case ROLLUP_KEY_UID: r->uid = key; break;
	case ROLLUP_KEY_LPORT: r->lport = key; break;
	case ROLLUP_KEY_RPORT: r->rport = key; break;
	case ROLLUP_KEY_LADDR: r->laddr = key; break;
	case ROLLUP_KEY_RADDR:
		r->raddr = key;
		r->domain = key2;
		break;
	case ROLLUP_KEY_DOMAIN: r->domain = key; break;
	case ROLLUP_KEY_PROTOCOL:
		r->family = key;
		r->protocol = key2;
		break;
	case ROLLUP_KEY_NETNS: r->netns = key; break;
	default: r->time = key; break;
	}
}

/* The row of dim 0: after the format byte, for each key 1 to
 * ROLLUP_KEY__MAX in order, the length of its part (an LEB128 varint), then
 * the part, a unit's blob (ROLLUP_FORMAT, then its entries) of that key's
 * sums; a length 0 (a unit's blob is never empty) says that the part is
 * the row of dim k, which then holds exactly that blob.  The part of key k
 * into *part and *len (len 0: in its own row): false for a blob that is
 * not of this format. */
static inline bool rollup_sums_part(const void *blob, size_t len, int key, const uint8_t **part,
				    size_t *part_len)
{
	struct rollup_reader r = { blob, (const uint8_t *)blob + len, 0 };

	if (!len || !blob || *r.p != ROLLUP_SUMS_FORMAT || key < 1 || key > ROLLUP_KEY__MAX)
		return false;
	r.p++;
	for (int k = 1; k <= key; k++) {
		uint64_t n;

		if (!rollup_get_uvarint(&r, &n) || n > (uint64_t)(r.end - r.p))
			return false;
		if (k == key) {
			*part = r.p;
			*part_len = (size_t)n;
			return true;
		}
		r.p += n;
	}
	return false;
}

#endif
