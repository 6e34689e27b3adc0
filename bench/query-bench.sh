#!/bin/bash
# Query layer speed (src/query) on a snitch.db of a busy year: 10 million
# entries made with the monitor's own schema (bench/querygen.c), generated
# once and reused.  Every query kind (totals for every dimension, series,
# distinct values, window bounds) over the last hour, day and 30 days and
# the whole year, without and with a filter (the busiest executable,
# without the entries that had no domain); cold (page cache dropped and the
# database reopened before each query: needs root) and warm (median of 3
# after one run).  Prints a table of milliseconds.  Target: <= 200 ms for
# every totals or series query, cold and warm.  "series" asks for aligned
# buckets (whole days for long windows, as charts do), "series/exact" for
# buckets of exactly a 60th of the window (edges inside days: read as
# entries).  Building the rollups (querygen gen) prints what a day costs the
# monitor; then the monitor's write of a window is timed with and without
# the rollups' triggers, on a copy of the database.
#
#   QUERY_BENCH_DB=path    the database (/var/tmp/picosnitch-query-bench.db)
#   QUERY_BENCH_ROWS=n     entries when generating it (10000000)
#   QUERY_BENCH_ONLY=kind  totals, series, distinct or bounds only
#   QUERY_BENCH_WINDOW=w   hour, day, month or year only
#   QUERY_BENCH_COLD=0     skip the cold runs
#   QUERY_BENCH_WRITE=0    skip the write cost
set -eu
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DB=${QUERY_BENCH_DB:-/var/tmp/picosnitch-query-bench.db}
ROWS=${QUERY_BENCH_ROWS:-10000000}
ONLY=${QUERY_BENCH_ONLY:-}
WINDOW=${QUERY_BENCH_WINDOW:-}
COLD=${QUERY_BENCH_COLD:-1}
WRITE=${QUERY_BENCH_WRITE:-1}
GEN=$ROOT/build/bench/querygen
WORK=$(mktemp -d /tmp/picosnitch-query-bench.XXXXXX)
trap 'rm -rf "$WORK" "$DB.writecost"*' EXIT

make -C "$ROOT" -s build/bench/querygen
"$GEN" gen "$DB" "$ROWS"
echo "database: $DB, $(du -h "$DB" | cut -f1)" >&2

if [ "$WRITE" = 1 ]; then
	cp "$DB" "$DB.writecost"
	"$GEN" writecost "$DB.writecost" 4000 >&2
	rm -f "$DB.writecost"*
fi

args=()
[ -n "$ONLY" ] && args=(--only "$ONLY")
[ -n "$WINDOW" ] && args+=(--window "$WINDOW")
"$GEN" run "$DB" --reps 3 "${args[@]}" >"$WORK/warm"
if [ "$COLD" = 1 ] && [ "$(id -u)" = 0 ]; then
	"$GEN" run "$DB" --cold "${args[@]}" >"$WORK/cold"
else
	[ "$COLD" = 1 ] && echo "not root: no cold runs (they drop the page cache)" >&2
	: >"$WORK/cold"
fi

# one line per query kind, dimension and filter; cold and warm per window
awk -F'\t' '
	FNR == 1 { file++ }
	{
		key = $1 "\t" $2 "\t" $4
		if (!(key in seen)) { seen[key] = 1; order[++n] = key }
		ms[key, $3, file] = ($5 == "error") ? "err" : $5
		if ($5 == "error") errors[key] = $6
		if ($5 != "error" && $1 != "distinct" && $1 != "bounds" && $5 + 0 > 200) over[key, $3, file] = 1
	}
	END {
		split("hour day month year", w, " ")
		printf "%-8s %-22s %-6s", "query", "dimension", "filter"
		for (i = 1; i <= 4; i++) printf " %15s", w[i] " cold/warm"
		printf "\n"
		for (k = 1; k <= n; k++) {
			split(order[k], f, "\t")
			printf "%-8s %-22s %-6s", f[1], f[2], f[3]
			for (i = 1; i <= 4; i++) {
				win = f[1] == "bounds" ? "all" : w[i]
				if (f[1] == "bounds" && i > 1) { printf " %15s", ""; continue }
				c = ((order[k], win, 2) in ms) ? ms[order[k], win, 2] : "-"
				m = ((order[k], win, 1) in ms) ? ms[order[k], win, 1] : "-"
				mark = ((order[k], win, 1) in over || (order[k], win, 2) in over) ? "*" : " "
				printf " %15s", c "/" m mark
			}
			printf "\n"
			if (order[k] in errors) printf "    error: %s\n", errors[order[k]]
		}
		print "(* over the 200 ms target for totals and series)"
	}' "$WORK/warm" "$WORK/cold"
