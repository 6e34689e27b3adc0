#!/bin/bash
# A stop while a destination cannot be written (the user holds a lock on
# snitch.db): what waits is kept in pending.spill and written at the next
# start, exactly, and the file is removed then.
source "$(dirname "$0")/lib.sh"

ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
start
A=$(prog before-lock)
"$A" udp-spray 127.0.0.1 61000 10 100
sleep 2.5
# the user's own reader holds an exclusive lock until after the stop
as_user sqlite3 "$PICOSNITCH_DIR/snitch.db" "BEGIN EXCLUSIVE; SELECT count(*) FROM connections;" \
	".shell sleep 12" "COMMIT;" >/dev/null 2>&1 &
lockpid=$!
sleep 0.5
B=$(prog during-lock)
"$B" udp-spray 127.0.0.1 61000 400 100
sleep 2.5
ps_stop
check_eq "stopped while locked: clean exit" 0 "$PS_RC"
check_match "  error.log says the entries are kept for the next start" \
	"stopping with [0-9]+ entries not written \(database locked\): they are kept in .*pending.spill" \
	"$(cat "$PICOSNITCH_DIR/error.log")"
check_eq "  pending.spill holds ours" "400" "$(grep -cF "\"exe\":\"$B\"" "$PICOSNITCH_DIR/pending.spill")"
size=$(stat -c %s "$PICOSNITCH_DIR/pending.spill")
wait "$lockpid"
start
sleep 1.5
check_match "the next start writes them" "[0-9]+ entries kept in [^ ]*/pending.spill at the last stop are written now" \
	"$(cat "$PICOSNITCH_DIR/error.log")"
check_eq "  pending.spill is gone" "gone" "$([ -e "$PICOSNITCH_DIR/pending.spill" ] || echo gone)"
ps_stop
check_eq "  said once in the monitor's output (no second copy as a note)" 1 \
	"$(grep -c 'at the last stop are written now' "$WORK/daemon.log")"
check_eq "  every byte sent while locked is in snitch.db" "40000" "$(sent_db "$B")"
check_eq "  as 400 entries" "400" "$(entries "$B")"
check_eq "  and those before, once" "1000" "$(sent_db "$A")"
echo "# 400 entries (40000 bytes) kept over a stop in a spill file of $size bytes, all written at the next start"
t_done
