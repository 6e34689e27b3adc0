#!/bin/bash
# Exec storm: 20,000 execs of a private copy of /bin/true (two at a time)
# with "Every exe (not just conns)" on.  Completeness: the execs the
# connection log counts for it (exec entries count one "flow" per exec)
# against the execs made, plus any loss error.log reports.  Also the
# storm's wall time with and without the monitor, side by side.
#   bench/execstorm.sh [EXECS] [WORKERS]
source "$(dirname "$0")/lib.sh"
N=${1:-20000}
W=${2:-2}
bench_prepare bc sqlite3

mkdir -p "$WORK/bin"
cp /bin/true "$WORK/bin/storm-true"
PROG=$WORK/bin/storm-true

base=$("$BENCH/execs" "$PROG" "$N" "$W")
monitor_start '{"DB write limit (seconds)": 1, "Every exe (not just conns)": true, "Desktop notifications": false}' || exit 1
with=$("$BENCH/execs" "$PROG" "$N" "$W")
sleep 3
peak=$(($(peak_rss_kb "$MON_PID") + $(peak_rss_kb "$LOG_PID")))
monitor_stop
seen=$(sqlite3 "$PICOSNITCH_DIR/snitch.db" \
	"SELECT ifnull(sum(flows), 0) FROM connection_log WHERE executable = '$PROG' AND local_port = -1")
hashes=$(sqlite3 "$PICOSNITCH_DIR/snitch.db" \
	"SELECT group_concat(DISTINCT sha256) FROM connection_log WHERE executable = '$PROG'")
lost=$(grep -E 'ring buffer full|exec cache|exited before' "$PICOSNITCH_DIR/error.log" 2>/dev/null)

echo "exec storm: $N execs of $PROG, $W at a time"
printf '  logged        %d of %d (%.2f%%)\n' "$seen" "$N" "$(echo "100 * $seen / $N" | bc -l)"
[ "$hashes" = "$(sha256sum "$PROG" | cut -d' ' -f1)" ] && echo "  hash          correct" ||
	echo "  hash          WRONG: $hashes"
echo "  reported lost: ${lost:-nothing}"
printf '  wall time     %.2f s without, %.2f s with the monitor (ratio %.3f)\n' "$base" "$with" \
	"$(echo "$base / $with" | bc -l)"
echo "  monitor peak RSS ${peak} kB"
