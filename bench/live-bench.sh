#!/bin/bash
# What the live feed costs the monitor: steady traffic (UDP on loopback,
# 2,000 packets a second) while the monitor runs, in three phases measured
# side by side in one run, each repeated: no dash; a dash (its one reader
# of live.sock) with no page open; the dash with 20 Server-Sent-Events
# streams open (curl -N).  Prints the CPU time of the monitor (root) and of
# the logger (the desktop user's process that sums each second) per second
# of wall time, and the ratio of the 20-stream phase to the no-dash phase.
# Target: 20 streams cost the monitor nothing measurable.  Needs root, BTF.
#
#   LIVE_BENCH_SECONDS=15   length of each phase
set -eu
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${PS_BENCH_BIN:-$ROOT/build/picosnitch}
SECS=${LIVE_BENCH_SECONDS:-15}
[ "$(id -u)" = 0 ] || { echo "live-bench: needs root" >&2; exit 1; }
[ -r /sys/kernel/btf/vmlinux ] || { echo "live-bench: the kernel has no BTF" >&2; exit 1; }
make -C "$ROOT" -s all

USER_=pslive$$
useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$USER_"
DIR=$(mktemp -d /tmp/picosnitch-live-bench.XXXXXX)
chmod 0755 "$DIR"
MON= DASH= GEN=
cleanup() {
	[ -n "$GEN" ] && kill "$GEN" 2>/dev/null
	[ -n "$DASH" ] && kill "$DASH" 2>/dev/null
	pkill -f "$DIR/curl-stream" 2>/dev/null || true
	[ -n "$MON" ] && kill "$MON" 2>/dev/null && wait "$MON" 2>/dev/null
	rm -rf "$DIR"
	pkill -u "$USER_" 2>/dev/null || true
	userdel "$USER_" 2>/dev/null
	getent group "$USER_" >/dev/null && groupdel "$USER_"
	return 0
}
trap cleanup EXIT
mkdir -p "$DIR/state"
echo '{"Desktop notifications": false}' >"$DIR/state/config.json"
chown -R "$USER_:" "$DIR/state"
export PICOSNITCH_DIR=$DIR/state PICOSNITCH_PIDFILE=$DIR/pid SUDO_UID=$(id -u "$USER_")
"$BIN" start-no-daemon >"$DIR/monitor.out" 2>&1 &
MON=$!
for _ in $(seq 200); do grep -q "monitoring network traffic" "$DIR/monitor.out" && break; sleep 0.1; done
LOGGER=$(pgrep -P "$MON" -f "picosnitch logger" | head -1)
[ -n "$LOGGER" ] || { echo "live-bench: no logger" >&2; cat "$DIR/monitor.out" >&2; exit 1; }

# steady traffic: 2,000 datagrams of 1,000 bytes a second to a sink
python3 - <<'PY' &
import socket, time
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
rx.setblocking(False)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"x" * 1000
t = time.monotonic()
while True:
    for _ in range(20):
        tx.sendto(payload, rx.getsockname())
        try:
            rx.recv(2000)
        except BlockingIOError:
            pass
    t += 0.01
    time.sleep(max(0, t - time.monotonic()))
PY
GEN=$!

# CPU time of every thread of a process, in microseconds (schedstat: ns)
ticks() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%d", s / 1000 }'; }
# measure NAME: CPU ms per wall second of the monitor and of the logger
declare -A MON_MS LOG_MS
measure() {
	local m0 l0 t0 m1 l1 t1
	sleep 2
	m0=$(ticks "$MON") l0=$(ticks "$LOGGER") t0=$(date +%s%N)
	sleep "$SECS"
	m1=$(ticks "$MON") l1=$(ticks "$LOGGER") t1=$(date +%s%N)
	local wall=$(((t1 - t0) / 1000000))
	MON_MS[$1]=$(awk "BEGIN { printf \"%.2f\", ($m1 - $m0) / $wall }")
	LOG_MS[$1]=$(awk "BEGIN { printf \"%.2f\", ($l1 - $l0) / $wall }")
	printf '  %-22s monitor %6s ms/s   logger %6s ms/s\n' "$1" "${MON_MS[$1]}" "${LOG_MS[$1]}"
}
PORT=$((20000 + RANDOM % 20000))
dash_on() {
	PORT=$PORT "$BIN" dash --no-browser >"$DIR/dash.out" 2>&1 &
	DASH=$!
	for _ in $(seq 100); do grep -q "serving on" "$DIR/dash.out" && break; sleep 0.05; done
}
dash_off() { kill "$DASH"; wait "$DASH" 2>/dev/null || true; DASH=; }
streams_on() {
	local token
	token=$(cat "$PICOSNITCH_DIR/dash.token")
	ln -sf "$(command -v curl)" "$DIR/curl-stream"
	for _ in $(seq 20); do
		"$DIR/curl-stream" -sN -H "X-Picosnitch-Token: $token" \
			"http://127.0.0.1:$PORT/api/live?history=0" >/dev/null &
	done
}
streams_off() { pkill -f "$DIR/curl-stream" || true; sleep 0.5; }

echo "live-bench: $(nproc) CPUs, ${SECS} s a phase, 2,000 datagrams/s of traffic"
# once unmeasured: the first streams bring programs the monitor has not
# seen (curl, hashed once), which is not the cost of streaming
dash_on
streams_on
sleep 3
streams_off
dash_off
for round in 1 2 3; do
	echo "round $round"
	measure "no dash $round"
	dash_on
	measure "dash, no page $round"
	streams_on
	measure "dash, 20 streams $round"
	streams_off
	dash_off
done
# the median of the rounds: other traffic of the machine reaches the
# monitor too, now and then
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
for who in MON LOG; do
	declare -n m=${who}_MS
	base=$(median "${m["no dash 1"]}" "${m["no dash 2"]}" "${m["no dash 3"]}")
	one=$(median "${m["dash, no page 1"]}" "${m["dash, no page 2"]}" "${m["dash, no page 3"]}")
	twenty=$(median "${m["dash, 20 streams 1"]}" "${m["dash, 20 streams 2"]}" \
		"${m["dash, 20 streams 3"]}")
	printf '%s (medians): no dash %s ms/s, dash %s ms/s, 20 streams %s ms/s; 20 streams / no dash = %s\n' \
		"$([ $who = MON ] && echo monitor || echo logger)" "$base" "$one" "$twenty" \
		"$(awk "BEGIN { printf \"%.2f\", $twenty / $base }")"
done
