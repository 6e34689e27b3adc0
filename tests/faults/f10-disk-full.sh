#!/bin/bash
# A full disk: the state directory on a 16 MiB tmpfs, filled to the last
# byte while traffic goes on.  Nothing is lost while it is full (entries
# wait in memory, each cause is said once), everything arrives exactly once
# space returns; a stop while it is still full keeps what waits in the
# user's runtime directory (written at the next start, exactly), or, with
# none fit to use, says what is lost, exactly.
source "$(dirname "$0")/lib.sh"

fs_up 16m || skip_all "cannot mount a tmpfs"
ps_config '{"DB write limit (seconds)": 1, "DB text log": true, "Desktop notifications": false}'
start

A=$(prog before-full)
"$A" udp-spray 127.0.0.1 61000 10 100
sleep 2.5
check_eq "before: 10 entries of 100 bytes are written (snitch.db)" "1000" "$(sent_db "$A")"

fill
free_kb=$(df -k --output=avail "$FS" | tail -1 | tr -d ' ')
B=$(prog while-full)
t0=$(now_s)
"$B" udp-spray 127.0.0.1 61000 3000 100	# 3000 entries, 300,000 bytes
sleep 4
held=$(grep -c 'snitch.db: cannot write (disk full)' "$WORK/daemon.log")
# once, or twice when a small window fit in space SQLite still had
check_eq "while full: snitch.db's cause is named once or twice (disk full), not once per window" yes \
	"$([ "$held" -ge 1 ] && [ "$held" -le 2 ] && echo yes)"
check_eq "  and conn.log's" 1 "$(grep -c 'conn.log: cannot write (disk full)' "$WORK/daemon.log")"
check_eq "  and no rollback message hides it" 0 "$(grep -c 'cannot rollback' "$WORK/daemon.log")"
check_eq "  the monitor is still up" "up" "$(kill -0 "$PS_PID" 2>/dev/null && echo up)"
unfill
sleep 3
t1=$(now_s)
check_eq "space back: every byte sent while full is in snitch.db" "300000" "$(sent_db "$B")"
check_eq "  as 3000 entries (summed per identity and minute, none twice)" "3000" "$(entries "$B")"
check_eq "  and in conn.log, each line once" "300000" "$(sent_log "$B")"
line=$(grep -o 'snitch.db: written again after [^)]*): the [0-9]* entries that waited are in it' \
	"$PICOSNITCH_DIR/error.log" | head -1)
check_match "error.log says when it was written again, after how many attempts" \
	'written again after [0-9]+ s of disk full \(([0-9]+) failed attempts\): the [0-9]+ entries' "$line"
attempts=$(sed -n 's/.*(\([0-9]*\) failed attempts).*/\1/p' <<<"$line")
waited=$(sed -n 's/.*: the \([0-9]*\) entries.*/\1/p' <<<"$line")
# other programs on this machine may have talked meanwhile: at least ours
check_eq "  counting at least the 3000 of ours" "yes" "$([ "${waited:-0}" -ge 3000 ] && echo yes)"
printf '# disk full (%s KiB free) for %.1f s: 3000 entries (300000 bytes) waited in memory through %s failed writes; all arrived, exact\n' \
	"$free_kb" "$(awk "BEGIN { print $t1 - $t0 }")" "$attempts"

# ---- a stop while the disk is still full: kept in the runtime directory ----
# /run/user/UID, the user's own tmpfs (logind makes it at login; made here
# like logind would, for the throwaway user, and removed at the end)
RUN=/run/user/$TEST_UID
MADE_RUN=
if [ ! -d "$RUN" ]; then
	mkdir -p "$RUN" && chown "$TEST_UID:$TEST_UID" "$RUN" && chmod 0700 "$RUN" && MADE_RUN=1
fi
trap '[ -n "$MADE_RUN" ] && rm -rf "$RUN"; fs_cleanup' EXIT
fill
C=$(prog kept-at-stop)
"$C" udp-spray 127.0.0.1 61000 500 100	# 500 entries, 50,000 bytes
sleep 1.5
ps_stop
check_eq "stopped while full: the monitor exits cleanly" 0 "$PS_RC"
check_match "  pending.spill cannot be written: the entries are kept in the runtime directory" \
	"stopping with [0-9]+ entries not written \(disk full\), and .*/pending.spill cannot hold them \(disk full\): they are kept in $RUN/picosnitch-[0-9a-f]{16}.spill" \
	"$(cat "$WORK/daemon.log")"
check_eq "  a file of the user's, 0600" "$TEST_USER 600" \
	"$(stat -c '%U %a' "$RUN"/picosnitch-*.spill 2>/dev/null)"
unfill
start
sleep 2.5
check_eq "the next start writes them: every byte in snitch.db" "50000" "$(sent_db "$C")"
check_eq "  and in conn.log" "50000" "$(sent_log "$C")"
check_eq "  and removes the file" 0 "$(ls "$RUN"/picosnitch-*.spill 2>/dev/null | wc -l)"
check_match "  error.log says so" "[0-9]+ entries kept in $RUN/picosnitch-[0-9a-f]{16}.spill at the last stop are written now" \
	"$(cat "$PICOSNITCH_DIR/error.log")"
echo "# stopped while full: 500 entries (50000 bytes) kept in $RUN, all written at the next start"

# ---- a stop while full, and no runtime directory fit to use: lost, with totals ----
chmod 0755 "$RUN"	# others may enter it: not used
fill
D=$(prog lost-at-stop)
"$D" udp-spray 127.0.0.1 61000 500 100	# 500 entries, 50,000 bytes
sleep 1.5
ps_stop
chmod 0700 "$RUN"
check_eq "stopped while full: the monitor exits cleanly" 0 "$PS_RC"
lost=$(grep -o 'snitch.db: [0-9]* entries could not be written (disk full) nor kept in [^:]*pending.spill (disk full): they are lost: [0-9]* bytes sent' \
	"$WORK/daemon.log" | tail -1)
check_match "  stderr (the journal) says what is lost, with totals" \
	'snitch.db: [0-9]+ entries could not be written \(disk full\) nor kept in .*pending.spill \(disk full\): they are lost: [0-9]+ bytes sent' \
	"$lost"
check_match "  and why the runtime directory did not keep them" \
	"nor can the runtime directory keep them \($RUN/picosnitch-[0-9a-f]{16}.spill: Operation not permitted\)" \
	"$(cat "$WORK/daemon.log")"
n_lost=$(sed -n 's/^snitch.db: \([0-9]*\) entries.*/\1/p' <<<"$lost")
b_lost=$(sed -n 's/.*they are lost: \([0-9]*\) bytes sent/\1/p' <<<"$lost")
check_eq "  at least our 500 entries and 50000 bytes (other programs may add theirs)" "yes" \
	"$([ "${n_lost:-0}" -ge 500 ] && [ "${b_lost:-0}" -ge 50000 ] && echo yes)"
echo "# stopped while full, no runtime directory: $lost"
unfill
start
ps_stop
check_eq "the next start and stop are clean" 0 "$PS_RC"
check_eq "  integrity ok" "ok" "$(udb 'PRAGMA integrity_check')"
t_done
