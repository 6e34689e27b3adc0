#!/bin/bash
# Every fuzz target's seed corpus, plus inputs of hostile bytes made here
# (random, all-0xff, control characters), replayed under valgrind with the
# targets built without sanitizers: errors inside libraries that ASan does
# not instrument (jansson, SQLite, libc) are caught here.
source "$(dirname "$0")/../lib/lib.sh"

command -v valgrind >/dev/null || skip_all "needs valgrind (apt-get install valgrind)"
[ -x "$ROOT/build/fuzz-replay/fuzz-logger" ] || skip_all "the replay targets are not built (make fuzz)"

# hostile inputs for every target
mkdir -p "$WORK/hostile"
head -c 9000 /dev/urandom >"$WORK/hostile/random"
head -c 9000 /dev/zero | tr '\0' '\377' >"$WORK/hostile/ff"
printf '{"\xff\xfe": ["\x1b[31m\n"]}\0/tmp/\xff\x00\xc2\x9b' >"$WORK/hostile/utf8"
for i in $(seq 8); do head -c $((i * 997)) /dev/urandom >"$WORK/hostile/random-$i"; done

for bin in "$ROOT"/build/fuzz-replay/fuzz-*; do
	name=${bin##*/fuzz-}
	files=("$ROOT/fuzz/corpus/$name/"* "$WORK/hostile/"*)
	if valgrind --quiet --error-exitcode=9 --errors-for-leak-kinds=none --track-origins=no \
		"$bin" "${files[@]}" >"$WORK/$name.log" 2>&1; then
		ok "$name: ${#files[@]} inputs under valgrind, no errors"
	else
		not_ok "$name: valgrind found errors"
		grep -E '^==[0-9]+== ' "$WORK/$name.log" | head -12 | sed 's/^/# /'
	fi
done
t_done
