#!/bin/bash
# Storm: PROCESSES clients open short TCP connections to a local sink as
# fast as they can for SECONDS, each sending BYTES and closing.  Run twice,
# side by side: unwatched (the machine's own rate) and under picosnitch.
# Under picosnitch it compares what the clients made with what was logged
# for their executable (flows = connections and refused attempts, and bytes
# both ways: what the sink read, every connection to its end), and
# prints the monitor's CPU and peak memory.  The last line is the verdict:
#   storm: PASS   when 99-101% of connections and of bytes (both ends) were
#                 logged and the monitor (both processes) used at most one
#                 core; what is missing must be counted in error.log
#   bench/storm.sh [PROCESSES] [SECONDS] [BYTES-PER-CONNECTION]
source "$(dirname "$0")/lib.sh"
PROCS=${1:-50}
SECS=${2:-10}
BYTES=${3:-1024}
bench_prepare

mkdir -p "$WORK/bin"
cp "$BENCH/storm" "$WORK/bin/storm-client"
cp "$BENCH/storm" "$WORK/bin/storm-sink"

# storm_run TAG: one storm; leaves $WORK/TAG.{made,sink,secs}
storm_run() {
	local tag=$1 sink t0 t1
	rm -f "$WORK/port"
	"$WORK/bin/storm-sink" sink "$WORK/port" $((SECS + 110)) >"$WORK/$tag.sink" &
	sink=$!
	for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
	t0=$(date +%s.%N)
	local clients=()
	for i in $(seq "$PROCS"); do
		"$WORK/bin/storm-client" client "$(cat "$WORK/port")" "$SECS" "$BYTES" >"$WORK/$tag.client.$i" &
		clients+=($!)
	done
	wait "${clients[@]}"
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc >"$WORK/$tag.secs"
	kill -USR1 "$sink"	# read what is left, to the end of every connection
	wait "$sink"
	# connections, bytes, failed attempts (a SYN went out), attempts that
	# found no free local port (nothing went out)
	cat "$WORK/$tag".client.* |
		awk '{ c += $1; b += $2; f += $3; n += $4 } END { print c + 0, b + 0, f + 0, n + 0 }' \
			>"$WORK/$tag.made"
}

storm_run alone
read -r alone_flows _ <"$WORK/alone.made"

monitor_start '{"DB write limit (seconds)": 1}' || exit 1
c0=$(both_cpu_ticks)
storm_run watched
cpu=$(awk -v a="$c0" -v b="$(both_cpu_ticks)" -v t="$(cat "$WORK/watched.secs")" \
	-v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / t }')
peak=$(($(peak_rss_kb "$MON_PID") + $(peak_rss_kb "$LOG_PID")))
sleep 2	# a drain or two for the last closes
monitor_stop

read -r made_conns made_bytes made_failed made_noport <"$WORK/watched.made"
# picosnitch logs a connection attempt that sent a SYN and was refused as a
# flow of 0 bytes: it is network traffic (a port scan is made of them)
made_flows=$((made_conns + made_failed))
IFS="|" read -r logged_flows logged_bytes <<<"$(sqlite3 "$PICOSNITCH_DIR/snitch.db" \
	"SELECT ifnull(sum(flows),0), ifnull(sum(sent),0) FROM connection_log WHERE executable = '$WORK/bin/storm-client'")"
sink_bytes=$(cat "$WORK/watched.sink")
sink_logged=$(sqlite3 "$PICOSNITCH_DIR/snitch.db" \
	"SELECT ifnull(sum(received),0) FROM connection_log WHERE executable = '$WORK/bin/storm-sink'")

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? 100 * a / b : 0 }'; }
rate() { awk -v f="$1" -v s="$SECS" 'BEGIN { printf "%.0f", f / s }'; }
echo "storm: $PROCS processes, ${SECS}s of short TCP connections, $BYTES bytes each"
printf '  connections per second: unwatched %s, under picosnitch %s (ratio %s)\n' \
	"$(rate "$alone_flows")" "$(rate "$made_conns")" \
	"$(awk -v a="$made_conns" -v b="$alone_flows" 'BEGIN { printf "%.3f", b ? a / b : 0 }')"
printf '  connections made %s, refused %s (no local port free: %s)\n' "$made_conns" "$made_failed" "$made_noport"
printf '  flows (connections and refused attempts) %s, logged %s (%s%%)\n' "$made_flows" "$logged_flows" \
	"$(pct "$logged_flows" "$made_flows")"
printf '  bytes sent %s, logged %s (%s%%)\n' "$made_bytes" "$logged_bytes" "$(pct "$logged_bytes" "$made_bytes")"
printf '  bytes the sink read %s, logged for it %s (%s%%)\n' "$sink_bytes" "$sink_logged" "$(pct "$sink_logged" "$sink_bytes")"
printf '  monitor CPU during the storm: %s%% of one core, peak RSS %s kB\n' "$cpu" "$peak"
if [ -s "$PICOSNITCH_DIR/error.log" ]; then
	echo "  error.log:"
	sed 's/^/    /' "$PICOSNITCH_DIR/error.log"
else
	echo "  error.log: empty (nothing reported missing)"
fi

why=""
for x in "connections $(pct "$logged_flows" "$made_flows")" "bytes-sent $(pct "$logged_bytes" "$made_bytes")" \
	"bytes-received $(pct "$sink_logged" "$sink_bytes")"; do
	set -- $x
	awk -v p="$2" 'BEGIN { exit !(p >= 99 && p <= 101) }' || why="$why $1 logged $2%, not 99-101%;"
done
awk -v c="$cpu" 'BEGIN { exit !(c <= 100) }' || why="$why monitor CPU $cpu% > one core;"
[ "$made_conns" -gt 0 ] || why="$why no connection was made;"
if [ -z "$why" ]; then
	echo "storm: PASS"
else
	echo "storm: FAIL:$why"
	exit 1
fi
