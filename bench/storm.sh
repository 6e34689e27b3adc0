#!/bin/bash
# Storm: 50 processes open short TCP connections to a local sink as fast as
# they can for 10 seconds, each sending a few bytes.  Compares what the
# clients made with what picosnitch logged for their executable: flows
# (connections) and bytes, which must be 100%, or every missing one must be
# counted in error.log.  Also prints the monitor's CPU and peak memory.
#   bench/storm.sh [PROCESSES] [SECONDS] [BYTES-PER-CONNECTION]
source "$(dirname "$0")/lib.sh"
PROCS=${1:-50}
SECS=${2:-10}
BYTES=${3:-100}
bench_prepare

monitor_start '{"DB write limit (seconds)": 1}' || exit 1
mkdir -p "$WORK/bin"
cp "$BENCH/storm" "$WORK/bin/storm-client"
cp "$BENCH/storm" "$WORK/bin/storm-sink"
"$WORK/bin/storm-sink" sink "$WORK/port" $((SECS + 5)) >"$WORK/sink.out" &
SINK=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
c0=$(both_cpu_ticks)
t0=$(date +%s.%N)
for i in $(seq "$PROCS"); do
	"$WORK/bin/storm-client" client "$(cat "$WORK/port")" "$SECS" "$BYTES" >"$WORK/client.$i" &
done
wait $(jobs -p | grep -vx "$SINK" | grep -vx "$MON_PID")
t1=$(date +%s.%N)
cpu=$(awk -v a="$c0" -v b="$(both_cpu_ticks)" -v t="$(echo "$t1 - $t0" | bc)" \
	-v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / t }')
peak=$(($(peak_rss_kb "$MON_PID") + $(peak_rss_kb "$LOG_PID")))
wait "$SINK"
sleep 2	# a drain or two for the last closes
monitor_stop

made=$(cat "$WORK"/client.* | awk '{ c += $1; b += $2 } END { print c + 0, b + 0 }')
read -r made_flows made_bytes <<<"$made"
IFS="|" read -r logged_flows logged_bytes <<<"$(sqlite3 "$PICOSNITCH_DIR/snitch.db" \
	"SELECT ifnull(sum(flows),0), ifnull(sum(sent),0) FROM connection_log WHERE executable = '$WORK/bin/storm-client'")"
sink_bytes=$(cat "$WORK/sink.out")
sink_logged=$(sqlite3 "$PICOSNITCH_DIR/snitch.db" \
	"SELECT ifnull(sum(received),0) FROM connection_log WHERE executable = '$WORK/bin/storm-sink'")

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f%%", b ? 100 * a / b : 0 }'; }
echo "storm: $PROCS processes, ${SECS}s of short TCP connections, $BYTES bytes each"
printf '  flows made %s, logged %s (%s)\n' "$made_flows" "$logged_flows" "$(pct "$logged_flows" "$made_flows")"
printf '  bytes sent %s, logged %s (%s)\n' "$made_bytes" "$logged_bytes" "$(pct "$logged_bytes" "$made_bytes")"
printf '  bytes the sink read %s, logged for it %s (%s)\n' "$sink_bytes" "$sink_logged" "$(pct "$sink_logged" "$sink_bytes")"
printf '  connections per second: %s\n' "$(awk -v f="$made_flows" -v s="$SECS" 'BEGIN { printf "%.0f", f / s }')"
printf '  monitor CPU during the storm: %s%% of one core, peak RSS %s kB\n' "$cpu" "$peak"
if [ -s "$PICOSNITCH_DIR/error.log" ]; then
	echo "  error.log:"
	sed 's/^/    /' "$PICOSNITCH_DIR/error.log"
else
	echo "  error.log: empty (nothing reported missing)"
fi
