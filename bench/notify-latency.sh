#!/bin/bash
# Time from a new program's first packet to its notification on the bus
# (kernel -> monitor -> logger -> the logger's notification thread -> bus):
# a real session bus (dbus-daemon) and notification server (python3-dbusmock,
# which timestamps every call it receives) run as a throwaway desktop user; 50 new
# programs, 0.2 s apart, each send one datagram.  The clock starts just
# before each program is started (so exec time counts against us).
# Target: p95 <= 100 ms.
#   bench/notify-latency.sh [PROGRAMS]
source "$(dirname "$0")/lib.sh"
N=${1:-50}
bench_prepare bc dbus-daemon
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import dbusmock' 2>/dev/null || {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-dbusmock >/dev/null; }
make -C "$ROOT" -s helpers >/dev/null
# a throwaway desktop user, removed at the end
DESKTOP_USER=psbench$$
useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group \
	"$DESKTOP_USER" || { echo "cannot create a desktop user (useradd)" >&2; exit 1; }
DESKTOP_UID=$(id -u "$DESKTOP_USER")

# the session bus and the server run as the user, under runuser: end them too
trap 'pkill -KILL -u "$DESKTOP_USER" 2>/dev/null; userdel "$DESKTOP_USER" 2>/dev/null;
	bench_cleanup' EXIT
chmod 755 "$WORK"
mkdir -p "$WORK/session" "$WORK/bin" && chown "$DESKTOP_USER" "$WORK/session"
export DBUS_SESSION_BUS_ADDRESS=unix:path=$WORK/session/bus
runuser -u "$DESKTOP_USER" -- dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork &
for _ in $(seq 50); do [ -S "$WORK/session/bus" ] && break; sleep 0.1; done
runuser -u "$DESKTOP_USER" -- env DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS" \
	/usr/bin/python3 -m dbusmock --template notification_daemon -l "$WORK/session/notify.log" \
	>/dev/null 2>&1 &
for _ in $(seq 100); do [ -e "$WORK/session/notify.log" ] && break; sleep 0.1; done

TG=$ROOT/build/tests/trafficgen
cp "$TG" "$WORK/bin/sink"
"$WORK/bin/sink" udp-sink 127.0.0.1 "$WORK/port" 1000000 >/dev/null &
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
for i in $(seq "$N"); do cp "$TG" "$WORK/bin/lat$i"; done

SUDO_UID=$DESKTOP_UID monitor_start '{"Desktop notifications": true}' || exit 1
echo x >"/dev/udp/127.0.0.1/$(cat "$WORK/port")"	# the sink's own notice first
sleep 1
for i in $(seq "$N"); do
	echo "lat$i $(date +%s.%N)" >>"$WORK/starts"
	"$WORK/bin/lat$i" udp-once 127.0.0.1 "$(cat "$WORK/port")" 100
	sleep 0.2
done
sleep 1
monitor_stop

# latency per program, in ms
awk 'NR == FNR { start[$1] = $2; next }
     match($0, /"lat[0-9]+ \(/) {
	name = substr($0, RSTART + 1, RLENGTH - 3)
	if (name in start && !(name in seen)) { seen[name] = 1; printf "%.1f\n", ($1 - start[name]) * 1000 }
     }' "$WORK/starts" "$WORK/session/notify.log" | sort -n >"$WORK/lat"
got=$(wc -l <"$WORK/lat")
pct() { awk -v p="$1" '{ v[NR] = $1 } END { i = int((NR * p + 99) / 100); if (i < 1) i = 1; print v[i] }' "$WORK/lat"; }
echo "first packet to notification on the bus, $got of $N programs notified:"
echo "  p50 $(pct 50) ms   p95 $(pct 95) ms   max $(pct 100) ms   (target p95 <= 100 ms)"
p95=$(pct 95)
[ "$got" = "$N" ] && [ "$(echo "$p95 <= 100" | bc)" = 1 ] && echo "target met" || echo "target NOT met"
