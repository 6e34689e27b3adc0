# Helpers shared by the benchmarks: the release monitor in a scratch state
# directory, peers, process CPU and memory readings, medians.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${PS_BENCH_BIN:-$ROOT/build/picosnitch}
BENCH=$ROOT/build/bench
WORK=$(mktemp -d /tmp/picosnitch-bench.XXXXXX)
chmod 0755 "$WORK"	# the logger, running as the desktop user, reaches it by path
MON_PID=
PEER_PID=
export PICOSNITCH_DIR=$WORK/state
export PICOSNITCH_PIDFILE=$WORK/picosnitch.pid

bench_cleanup() {
	# KEEP_LOG=file keeps the monitor's output of the last run
	[ -n "${KEEP_LOG:-}" ] && cp "$WORK/monitor.log" "$KEEP_LOG" 2>/dev/null
	[ -n "$MON_PID" ] && kill -KILL "$MON_PID" 2>/dev/null
	[ -n "$PEER_PID" ] && kill -KILL "$PEER_PID" 2>/dev/null
	[ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap bench_cleanup EXIT

bench_prepare() {
	[ "$(id -u)" = 0 ] || { echo "benchmarks need root" >&2; exit 1; }
	local need=""
	for p in "$@"; do
		command -v "$p" >/dev/null || need="$need $p"
	done
	if [ -n "$need" ]; then
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
	fi
	make -C "$ROOT" -s bench >/dev/null
}

# monitor_start [CONFIG-JSON]
monitor_start() {
	mkdir -p "$PICOSNITCH_DIR"
	printf '%s\n' "${1:-{\}}" >"$PICOSNITCH_DIR/config.json"
	: >"$WORK/monitor.log"
	"$BIN" start-no-daemon >>"$WORK/monitor.log" 2>&1 &
	MON_PID=$!
	for _ in $(seq 100); do
		if grep -q "monitoring network traffic" "$WORK/monitor.log"; then
			LOG_PID=$(pgrep -f -P "$MON_PID" 'picosnitch logger' | head -1)
			return 0
		fi
		sleep 0.1
	done
	cat "$WORK/monitor.log" >&2
	return 1
}

monitor_stop() {
	kill -TERM "$MON_PID" 2>/dev/null
	wait "$MON_PID" 2>/dev/null
	MON_PID=
}

# nethogs in trace mode on the given devices, as a peer
nethogs_start() {
	nethogs -a -t -d 1 "$@" >/dev/null 2>&1 &
	PEER_PID=$!
	sleep 1
}

nethogs_stop() {
	kill -TERM "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=
}

# CPU ticks (user + system) used so far by a process
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# picosnitch is two processes: the monitor (root) and the logger (the user)
LOG_PID=
both_cpu_ticks() { echo $(($(cpu_ticks "$MON_PID") + $(cpu_ticks "$LOG_PID"))); }
peak_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# proportional set size of a process, in kB
pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
