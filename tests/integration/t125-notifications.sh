#!/bin/bash
# Desktop notifications end to end: the logger, running as the desktop
# user, delivers them over a real session bus (dbus-daemon) to a
# real notification server that records what it receives (python3-dbusmock).
# Asserts the exact notifications for each trigger: a new program, a new
# name, a new hash, errors (a burst is one notification with a count), and
# that a program seen before notifies nothing.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v dbus-daemon >/dev/null || skip_all "needs dbus-daemon"
/usr/bin/python3 -c 'import dbusmock' 2>/dev/null || skip_all "needs python3-dbusmock"
[ -n "$TEST_USER" ] || skip_all "cannot create a throwaway desktop user here (useradd)"
DESKTOP_UID=$TEST_UID
DESKTOP_USER=$TEST_USER

# the user's session bus and notification server live in a directory of theirs
BUSDIR=$WORK/session
mkdir -p "$BUSDIR" && chown "$DESKTOP_UID" "$BUSDIR" && chmod 755 "$WORK"
export DBUS_SESSION_BUS_ADDRESS=unix:path=$BUSDIR/bus
runuser -u "$DESKTOP_USER" -- dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" \
	--nofork >"$WORK/dbus.log" 2>&1 &
for _ in $(seq 50); do [ -S "$BUSDIR/bus" ] && break; sleep 0.1; done
runuser -u "$DESKTOP_USER" -- env DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS" \
	/usr/bin/python3 -m dbusmock --template notification_daemon -l "$BUSDIR/notify.log" \
	>"$WORK/mock.log" 2>&1 &
for _ in $(seq 100); do [ -e "$BUSDIR/notify.log" ] && break; sleep 0.1; done
[ -e "$BUSDIR/notify.log" ] || { not_ok "the notification server starts: $(cat "$WORK/mock.log")"; t_done; exit 1; }

# the texts received, in order: the 5th argument of each Notify call
received() {
	sed -n 's/^[0-9.]* Notify "picosnitch" 0 "" "picosnitch" "\(.*\)" \[\] {} -1$/\1/p' \
		"$BUSDIR/notify.log"
}

SINK=$(prog sink)
"$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 &
wait_file "$WORK/sink.port"
PORT=$(cat "$WORK/sink.port")
send() { "$@" udp-once 127.0.0.1 "$PORT" 100; }

rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": true}'
printf '{"Executables": [1, 2' >"$PICOSNITCH_DIR/record.json"
t0=$(date +%s)
SUDO_UID=$DESKTOP_UID ps_start || { not_ok "the monitor starts"; t_done; exit 1; }

C1=$(prog newprog)
send "$C1"
sleep 0.5
"$C1" rename sneaky udp-once 127.0.0.1 "$PORT" 100
C2=$(prog modified)
send "$C2"
sleep 1.5
printf 'appended' >>"$C2"
send "$C2"
send "$C1"	# seen before: nothing new
C3=$(prog 'x<b>y&z')	# the server reads markup: names must not inject it
send "$C3"
sleep 1.5

# two different errors at once: one notification with their count
C6=$(prog gonedeleted)
C8=$(prog swapped)
kill -STOP "$PS_PID"
send "$C6"
rm -f "$C6"
send "$C8"
cp /bin/true "$C8.new" && mv "$C8.new" "$C8"
kill -CONT "$PS_PID"
logger_uid=$(ps -o uid= -p "$(pgrep -f -P "$PS_PID" 'picosnitch logger' | head -1)" | tr -d ' ')
# error notifications are at most one per 10 seconds
while [ $(($(date +%s) - t0)) -lt 13 ]; do sleep 0.5; done
ps_stop
check_eq "the monitor exits cleanly" 0 "$PS_RC"

aside=$(cd "$PICOSNITCH_DIR" && ls record.json.corrupt-* 2>/dev/null)
expected=$(cat <<EOF
error: record.json could not be read (line 1 column 21: ']' expected near end of file): kept as $aside, starting a new record
sink ($SINK) uses the network for the first time
newprog ($C1) uses the network for the first time
$C1 now runs as "sneaky"
modified ($C2) uses the network for the first time
$C2 has changed: its SHA-256 is now $(sha256sum "$C2" | cut -c1-16)…
$(sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g' <<<"x<b>y&z ($C3) uses the network for the first time")
gonedeleted ($C6) uses the network for the first time; it was gone before its file could be hashed
swapped ($C8) uses the network for the first time; another file is at its path now, so it could not be hashed
2 errors (all in error.log), the first: 1 processes exited before their executable could be opened (first seen: gonedeleted $C6): logged with sha256 "!exited"
EOF
)
# the sink's and the first program's notices race each other: compare sorted
check_eq "exactly these notifications, each once" "$(sort <<<"$expected")" "$(received | sort)"
check_eq "the new program's notice comes before its new name's" \
	"newprog ($C1) uses the network for the first time|$C1 now runs as \"sneaky\"" \
	"$(received | grep -F "$C1" | paste -sd'|')"
check_eq "notifications come from the logger, running as the desktop user, never root" \
	"$DESKTOP_UID" "$logger_uid"

t_done
