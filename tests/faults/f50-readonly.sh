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
check_match "the kernel made the file system read-only" '(^|,)(ro|emergency_ro)(,|$)' "$(findmnt -no OPTIONS "$FS")"
t0=$(now_s)
B=$(prog while-ro)
"$B" udp-spray 127.0.0.1 61000 1000 100
sleep 3
check_match "read-only: snitch.db's cause is named (stderr, as error.log cannot be written)" \
	"snitch.db: cannot write \((read-only file system|I/O error)\)" "$(cat "$WORK/daemon.log")"
check_eq "  once" 1 "$(grep -cE 'snitch.db: cannot write \((read-only file system|I/O error)\)' "$WORK/daemon.log")"
check_match "  conn.log's: read-only file system" "conn.log: cannot write \(read-only file system\)" "$(cat "$WORK/daemon.log")"
ps_stop
check_eq "stopped while read-only: a clean exit" 0 "$PS_RC"
check_match "  stderr (the journal) gives the totals of what is lost" \
	"snitch.db: [0-9]+ entries could not be written \(.*\) nor kept in .*pending.spill \(read-only file system\): they are lost: [0-9]+ bytes sent" \
	"$(cat "$WORK/daemon.log")"
# ext4 refuses to be made read-write again after its own error (it wants
# a check first): the recovery is f10's, after a full disk
t1=$(now_s)
printf '# read-only (ext4 errors=remount-ro) for %.1f s: the cause named once, the loss at stop given with totals\n' \
	"$(awk "BEGIN { print $t1 - $t0 }")"
t_done
