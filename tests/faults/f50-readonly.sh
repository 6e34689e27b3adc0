#!/bin/bash
# The file system of the state directory made read-only while traffic goes
# on: ext4 with errors=remount-ro, and an error raised in it (what the
# kernel does after an I/O error of the disk; a remount by hand is refused
# while files are open for writing), then remounted read-write: the cause
# is named, entries wait in memory, and all arrive exactly after.
source "$(dirname "$0")/lib.sh"

ext4_up 64M || skip_all "cannot mount an ext4 image with errors=remount-ro and trigger_fs_error (loop devices, e2fsprogs, kernel 5.x+)"
ps_config '{"DB write limit (seconds)": 1, "DB text log": true, "Desktop notifications": false}'
start
A=$(prog before-ro)
"$A" udp-spray 127.0.0.1 61000 10 100
sleep 2.5
check_eq "before: written" "1000" "$(sent_db "$A")"
echo "picosnitch fault test" >"/sys/fs/ext4/$FS_DEV/trigger_fs_error"
check_match "the kernel made the file system read-only" '(^|,)ro(,|$)' "$(findmnt -no OPTIONS "$FS")"
t0=$(now_s)
B=$(prog while-ro)
"$B" udp-spray 127.0.0.1 61000 1000 100
sleep 3
check_match "read-only: the cause is named (stderr, as error.log cannot be written)" \
	"snitch.db: cannot write \(read-only file system\)" "$(cat "$WORK/daemon.log")"
check_eq "  once" 1 "$(grep -c 'snitch.db: cannot write (read-only file system)' "$WORK/daemon.log")"
check_match "  conn.log's too" "conn.log: cannot write \(read-only file system\)" "$(cat "$WORK/daemon.log")"
mount -o remount,rw "$FS"
sleep 3
t1=$(now_s)
check_eq "read-write again: everything sent meanwhile is in snitch.db, exactly" "100000" "$(sent_db "$B")"
check_eq "  as 1000 entries" "1000" "$(entries "$B")"
check_eq "  and in conn.log" "100000" "$(sent_log "$B")"
check_match "  error.log says it was written again" \
	"snitch.db: written again after [0-9]+ s of read-only file system" "$(cat "$PICOSNITCH_DIR/error.log")"
ps_stop
check_eq "the monitor stops cleanly" 0 "$PS_RC"
check_eq "  integrity ok" "ok" "$(udb 'PRAGMA integrity_check')"
printf '# read-only for %.1f s: 1000 entries (100000 bytes) waited and all arrived\n' \
	"$(awk "BEGIN { print $t1 - $t0 }")"
t_done
