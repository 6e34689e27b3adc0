#!/bin/bash
# The state directory, or files in it, removed while the monitor runs (by
# hand, or a cleaner of ~/.config): made again and reported, and what is
# counted afterwards is written there, exactly; never into a deleted file.
source "$(dirname "$0")/lib.sh"

# the directory's parent is the user's, as ~/.config is
mkdir -p "$WORK/home" && chown "$TEST_USER:" "$WORK/home"
export PICOSNITCH_DIR=$WORK/home/state
ps_config '{"DB write limit (seconds)": 1, "DB text log": true, "Desktop notifications": false}'
start
A=$(prog before-rm)
"$A" udp-spray 127.0.0.1 61000 10 100
sleep 2.5
check_eq "before: written" "1000" "$(sent_db "$A")"

# ---- the whole directory ----
rm -rf "$PICOSNITCH_DIR"
B=$(prog after-rm)
"$B" udp-spray 127.0.0.1 61000 200 100
sleep 3
check_eq "the state directory removed during traffic is made again" "yes" \
	"$([ -d "$PICOSNITCH_DIR" ] && echo yes)"
check_eq "  the desktop user's, 0700" "$TEST_USER 700" "$(stat -c '%U %a' "$PICOSNITCH_DIR")"
check_match "  error.log (a new one) says so" \
	"the state directory .* was removed or replaced while running: it was made again" \
	"$(cat "$PICOSNITCH_DIR/error.log" 2>/dev/null)"
check_eq "  traffic after it is in the new snitch.db, exactly" "20000" "$(sent_db "$B")"
check_eq "  and the new conn.log" "20000" "$(sent_log "$B")"
# live_reader: connect to live.sock as the desktop user, print whether a
# second's datagram came (5 s at most)
live_reader() {
	setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups python3 - "$PICOSNITCH_DIR/live.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
    print("second" if "time" in json.loads(s.recv(65536)) else "other")
except Exception as e:
    print("no feed: %s" % type(e).__name__)
PY
}
check_eq "  live.sock is made again: a live reader connects and gets a second" "second" "$(live_reader)"
check_match "  and error.log says so" "live.sock was removed or replaced while running: listening on a new one" \
	"$(cat "$PICOSNITCH_DIR/error.log" 2>/dev/null)"
L=$(pgrep -f -P "$PS_PID" 'picosnitch logger' | head -1)
deleted=$(ls -l "/proc/$L/fd" 2>/dev/null | grep -c '(deleted)')
check_eq "  the logger holds no deleted file open" 0 "$deleted"
ls -l "/proc/$L/fd" 2>/dev/null | grep '(deleted)' | sed 's/^.* -> /# still open: /'

# ---- single files ----
rm -f "$PICOSNITCH_DIR/snitch.db" "$PICOSNITCH_DIR/snitch.db-wal" "$PICOSNITCH_DIR/snitch.db-shm" \
	"$PICOSNITCH_DIR/conn.log" "$PICOSNITCH_DIR/error.log"
C=$(prog after-files)
"$C" udp-spray 127.0.0.1 61000 30 100
sleep 3
check_match "snitch.db, conn.log and error.log removed: error.log says each was started again" \
	"error.log was deleted or replaced while running.*" "$(cat "$PICOSNITCH_DIR/error.log" 2>/dev/null | tr '\n' ' ')"
check_match "  snitch.db" "snitch.db was deleted or replaced while running: a new one was started" \
	"$(cat "$WORK/daemon.log")"
check_match "  conn.log" "conn.log was deleted or replaced while running: a new one was started" \
	"$(cat "$WORK/daemon.log")"
check_eq "  traffic after it is in the new snitch.db, exactly" "3000" "$(sent_db "$C")"
check_eq "  and the new conn.log" "3000" "$(sent_log "$C")"
deleted=$(ls -l "/proc/$L/fd" 2>/dev/null | grep -c '(deleted)')
check_eq "  the logger holds no deleted file open" 0 "$deleted"
ps_stop
check_eq "the monitor stops cleanly" 0 "$PS_RC"
check_eq "  snitch.db's integrity is ok" "ok" "$(udb 'PRAGMA integrity_check')"
echo "# directory removed: recreated, 200 entries after it all in the new one; files removed: 30 entries after it all in the new ones"
t_done
