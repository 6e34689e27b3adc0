#!/bin/bash
# Every fuzz target (fuzz/fuzz-*.c, parsers of files the desktop user
# controls) replays its seed corpus and then fuzzes for a few seconds.
# Longer runs: build/fuzz/fuzz-NAME fuzz/corpus/NAME -max_total_time=600
source "$(dirname "$0")/../lib/lib.sh"

SECONDS_EACH=${FUZZ_SECONDS:-8}
found=0
for bin in "$ROOT"/build/fuzz/fuzz-*; do
	[ -x "$bin" ] || continue
	found=1
	name=${bin##*/fuzz-}
	corpus=$WORK/corpus-$name
	mkdir -p "$corpus"
	cp "$ROOT/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null
	if (cd "$WORK" && "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb=1024 "$corpus" \
		>"$WORK/$name.log" 2>&1); then
		ok "$name: $(grep -oE 'Done [0-9]+ runs' "$WORK/$name.log" | head -1) without a crash"
	else
		not_ok "$name: the fuzzer found a problem"
		grep -E 'ERROR|SUMMARY|Test unit written' "$WORK/$name.log" | head -5 | sed 's/^/# /'
	fi
done
[ "$found" = 1 ] || skip_all "the fuzz targets are not built (make fuzz)"
t_done
