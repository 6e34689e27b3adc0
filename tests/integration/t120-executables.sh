#!/bin/bash
# Executables: every logged process, parent and grandparent carries the
# SHA-256 of the very file the kernel ran, however it ran: from a normal
# file, a deleted one, memory (memfd), a FUSE mount root cannot read, or
# so briefly that it was gone before picosnitch looked.  What is new goes
# to exe.log, record.json and a notification; a modified executable is
# hashed again and announced.  record.json survives restarts, and a corrupt
# one is set aside with an error instead of being reset silently.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"

MEMFD_EXEC=$ROOT/build/tests/memfd-exec
FUSE_EXE=$ROOT/build/tests/fuse-exe
USER_UID=$TEST_UID

sha() { sha256sum "$1" | cut -d' ' -f1; }
out() { cat "$WORK/daemon.log"; }
exelog() { cat "$PICOSNITCH_DIR/exe.log" 2>/dev/null; }
# the distinct values of COLUMN for rows of EXE, comma separated
col() { db "SELECT group_concat(v) FROM (SELECT DISTINCT $2 AS v FROM connection_log WHERE executable = '$1' ORDER BY v)"; }
col_by_name() { db "SELECT group_concat(v) FROM (SELECT DISTINCT $2 AS v FROM connection_log WHERE name = '$1' ORDER BY v)"; }

# a UDP sink that lives through the whole test, so every client has a peer
SINK=$(prog sink)
"$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 &
wait_file "$WORK/sink.port" || { not_ok "the sink starts"; t_done; exit 1; }
PORT=$(cat "$WORK/sink.port")
send() { "$@" udp-once 127.0.0.1 "$PORT" 100; }

start() {
	ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
}

stop_and_check() {
	sleep 2.5
	ps_stop
	check_eq "the monitor exits cleanly ($1)" 0 "$PS_RC"
}

# ---- a plain program, its parent and grandparent ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false, "DB text log": true}'
start
C1=$(prog hashed)
send "$C1"
sleep 1.5
ln -s "$C1" "$WORK/bin/othername"
send "$WORK/bin/othername"
"$C1" rename sneaky udp-once 127.0.0.1 "$PORT" 100
stop_and_check "plain program"

check_eq "the program's hash is its file's SHA-256" "$(sha "$C1")" "$(col "$C1" sha256)"
check_eq "the parent is this shell" "$(readlink -f /proc/$$/exe)" "$(col "$C1" parent_executable)"
check_eq "with its hash" "$(sha "$(readlink -f /proc/$$/exe)")" "$(col "$C1" parent_sha256)"
gp=$(readlink -f "/proc/$PPID/exe")
check_eq "the grandparent is what ran this shell" "$gp" "$(col "$C1" grandparent_executable)"
check_eq "with its hash" "$(sha "$gp")" "$(col "$C1" grandparent_sha256)"
check_eq "conn.log has the same hash" "$(sha "$C1")" \
	"$(awk -F, -v e="$C1" '$4 == e { print $7 }' "$PICOSNITCH_DIR/conn.log" | sort -u | paste -sd,)"
check_eq "a program run through a symlink, or renaming itself, is logged under its file" \
	"hashed,othername,sneaky" "$(col "$C1" name)"
check_eq "  with its hash" "$(sha "$C1")" "$(col_by_name sneaky sha256)"
check_eq "exe.log: new executable, once" 1 \
	"$(exelog | grep -c " new executable $C1 (hashed)$")"
check_eq "exe.log: its hash" 1 "$(exelog | grep -c " sha256 $(sha "$C1") $C1$")"
check_eq "exe.log: the new names" 2 "$(exelog | grep -cE " new name (othername|sneaky) for $C1$")"
check_eq "exe.log: the parent is recorded as a parent" 1 \
	"$(exelog | grep -c " new executable (parent) $(readlink -f /proc/$$/exe) ")"
check_eq "a notification for the new program" 1 \
	"$(out | grep -c "^picosnitch: hashed ($C1) uses the network for the first time$")"
check_eq "a notification for each new name" 2 \
	"$(out | grep -cE "^picosnitch: $C1 now runs as \"(othername|sneaky)\"$")"
check_eq "no notification for the parent" 0 \
	"$(out | grep -c "^picosnitch: .*($(readlink -f /proc/$$/exe))")"
check_eq "record.json lists the program with its names" '["hashed", "othername", "sneaky"]' \
	"$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["Executables"][sys.argv[2]]))' \
		"$PICOSNITCH_DIR/record.json" "$C1" 2>&1)"
check_eq "record.json has its hash" "[\"$(sha "$C1")\"]" \
	"$(python3 -c 'import json,sys; print(json.dumps(list(json.load(open(sys.argv[1]))["SHA256"][sys.argv[2]])))' \
		"$PICOSNITCH_DIR/record.json" "$C1" 2>&1)"
check_eq "record.json belongs to the desktop user" "$USER_UID" \
	"$(stat -c %u "$PICOSNITCH_DIR/record.json")"

# ---- known after a restart; modified executables ----
start
send "$C1"
C2=$(prog modified)
send "$C2"
sleep 1.5
h2a=$(sha "$C2")
printf 'appended' >>"$C2"	# same inode: fanotify sees the write
h2b=$(sha "$C2")
send "$C2"
stop_and_check "modified program"
check_eq "a known program is not announced again after a restart" 1 \
	"$(exelog | grep -c " new executable $C1 ")"
check_eq "nor notified" 0 "$(out | grep -c "($C1) uses the network")"
check_eq "both hashes of the modified program are logged" \
	"$(printf '%s\n%s\n' "$h2a" "$h2b" | sort | paste -sd,)" "$(col "$C2" sha256)"
check_eq "each with its own traffic" "100 100" \
	"$(db "SELECT group_concat(s, ' ') FROM (SELECT sum(sent) AS s FROM connection_log WHERE executable = '$C2' GROUP BY sha256)")"
check_eq "exe.log: the new hash" 1 "$(exelog | grep -c " new hash $h2b $C2$")"
check_match "a notification says it changed" \
	"picosnitch: $C2 has changed: its SHA-256 is now ${h2b:0:16}" "$(out)"

# ---- deleted, in memory, gone early, exec'd away ----
start
C3=$(prog deleted)
h3=$(sha "$C3")
# sinks of two datagrams: they live on while the first is looked at
"$C3" udp-sink 127.0.0.1 "$WORK/del.port" 2 &
p3=$!
wait_file "$WORK/del.port"
rm -f "$C3"
echo x >"/dev/udp/127.0.0.1/$(cat "$WORK/del.port")"
sleep 0.5
echo x >"/dev/udp/127.0.0.1/$(cat "$WORK/del.port")"
wait "$p3"

"$MEMFD_EXEC" "$TRAFFICGEN" memfd-prog udp-sink 127.0.0.1 "$WORK/memfd.port" 2 &
p4=$!
wait_file "$WORK/memfd.port"
echo x >"/dev/udp/127.0.0.1/$(cat "$WORK/memfd.port")"
sleep 0.5
echo x >"/dev/udp/127.0.0.1/$(cat "$WORK/memfd.port")"
wait "$p4"

C5=$(prog goneearly)
C6=$(prog gonedeleted)
h6=$(sha "$C6")
C8=$(prog swapped)
C9=$(prog noenv)
SHX=$(prog shx)
cp /bin/bash "$SHX"
sleep 0.5
kill -STOP "$PS_PID"
send "$C5"
send "$C6"
rm -f "$C6"
send "$C8"
cp /bin/true "$C8.new" && mv "$C8.new" "$C8"	# an update replaces it on disk
env -i "$C9" udp-once 127.0.0.1 "$PORT" 100	# arguments and environment < 512 bytes
"$SHX" -c "echo 1234567 >/dev/udp/127.0.0.1/$PORT; exec sleep 5" &
p7=$!
sleep 0.3
kill -CONT "$PS_PID"
stop_and_check "unusual programs"
kill "$p7" 2>/dev/null

check_eq "a deleted program is logged under its path" "$h3" "$(col "$C3" sha256)"
check_match "exe.log says it was deleted" "new executable $C3 \(deleted\); its file has been deleted" "$(exelog)"
check_eq "a program run from memory is hashed" "$(sha "$TRAFFICGEN")" \
	"$(col /memfd:payload sha256)"
check_match "exe.log says it runs from memory" \
	"new executable /memfd:payload \([^)]*\); it runs from memory \(memfd\), not from a file" "$(exelog)"
check_eq "a program gone before it was looked at is hashed from its path" "$(sha "$C5")" \
	"$(col "$C5" sha256)"
check_eq "one gone and deleted says so" "!exited" "$(col "$C6" sha256)"
check_eq "one gone with an empty environment keeps its command line" \
	"$C9 udp-once 127.0.0.1 $PORT 100" "$(col "$C9" cmdline)"
check_match "and error.log counts it" \
	"1 processes exited before their executable could be opened" \
	"$(cat "$PICOSNITCH_DIR/error.log")"
check_eq "one gone and replaced on disk is not hashed as the new file" "!replaced" \
	"$(col "$C8" sha256)"
check_match "and error.log says so" \
	"1 processes were gone and their executable's path held another file" \
	"$(cat "$PICOSNITCH_DIR/error.log")"
check_eq "a process that exec'd another program is not logged under the new one" \
	"|!replaced|8" "$(db "SELECT executable || '|' || sha256 || '|' || sent FROM connection_log WHERE name = 'shx'")"
check_match "and error.log says why" \
	"1 processes had started another program \(exec\) before they could be identified \(first seen: shx, pid [0-9]+\)" \
	"$(cat "$PICOSNITCH_DIR/error.log")"

# ---- a FUSE mount only the desktop user can read ----
if [ -z "$USER_UID" ] || [ "$USER_UID" = 0 ]; then
	skip "cannot create a throwaway user here (useradd) for the FUSE mount"
elif [ ! -c /dev/fuse ]; then
	skip "needs /dev/fuse"
else
	mkdir -p "$WORK/fuse" && chmod 755 "$WORK" "$WORK/fuse" "$WORK/bin"
	cp "$TRAFFICGEN" "$WORK/fuse-src" && chmod 644 "$WORK/fuse-src"
	"$FUSE_EXE" "$WORK/fuse-src" "$WORK/fuse" "$USER_UID" "$USER_UID" &
	fpid=$!
	for _ in $(seq 50); do mountpoint -q "$WORK/fuse" && break; sleep 0.1; done
	if cat "$WORK/fuse/prog" >/dev/null 2>&1; then
		not_ok "root cannot read the FUSE file (test set-up)"
	else
		ok "root cannot read the FUSE file (test set-up)"
	fi
	SUDO_UID=$USER_UID start
	setpriv --reuid="$USER_UID" --regid="$USER_UID" --init-groups \
		"$WORK/fuse/prog" udp-once 127.0.0.1 "$PORT" 100
	stop_and_check "FUSE"
	check_eq "a program root cannot read is hashed by the desktop user's helper" \
		"$(sha "$WORK/fuse-src")" "$(col "$WORK/fuse/prog" sha256)"
	umount "$WORK/fuse"
	wait "$fpid"
fi

# ---- programs on an overlay file system (containers, live systems) ----
# stat() reports a layer's or a pseudo device there, not the one the kernel
# holds: the program must still be named, hashed and told apart from one
# that exec'd another program
OV=$WORK/ov
mkdir -p "$OV/lower" "$OV/upper" "$OV/work" "$OV/merged"
if mount -t tmpfs tmpfs "$OV/lower" &&
	cp "$TRAFFICGEN" "$OV/lower/ovprog" && cp "$TRAFFICGEN" "$OV/lower/ovgone" &&
	printf 'g' >>"$OV/lower/ovgone" &&
	mount -t overlay overlay -o "lowerdir=$OV/lower,upperdir=$OV/upper,workdir=$OV/work" "$OV/merged"; then
	rm -rf "$PICOSNITCH_DIR"
	ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
	start
	send "$OV/merged/ovprog"
	kill -STOP "$PS_PID"
	send "$OV/merged/ovgone"	# named after it exited: from the exec cache
	kill -CONT "$PS_PID"
	stop_and_check "overlay"
	check_eq "a program on an overlay is named and hashed" \
		"$OV/merged/ovprog|$(sha "$OV/merged/ovprog")|100" \
		"$(db "SELECT executable || '|' || sha256 || '|' || sent FROM connection_log WHERE name = 'ovprog'")"
	check_eq "one that exited first is named and hashed from its path" \
		"$OV/merged/ovgone|$(sha "$OV/merged/ovgone")|100" \
		"$(db "SELECT executable || '|' || sha256 || '|' || sent FROM connection_log WHERE name = 'ovgone'")"
	check_eq "and nothing is reported as exec'd or replaced" "" \
		"$(grep -E 'exec|replaced|another file' "$PICOSNITCH_DIR/error.log" 2>/dev/null)"
	umount "$OV/merged"
	umount "$OV/lower"
else
	skip "cannot mount an overlay file system here"
fi

# ---- a container's program: on an overlay only its mount namespace holds ----
# the monitor's mount table does not list that mount: the process's own
# names its device (6.1 showed it first: every program from a lower layer
# was taken for one that had exec'd another)
CT=$WORK/ct
mkdir -p "$CT/lower" "$CT/upper" "$CT/work" "$CT/merged"
if unshare -m --propagation private true 2>/dev/null; then
	rm -rf "$PICOSNITCH_DIR"
	ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
	start
	unshare -m --propagation private sh -c '
		mount -t tmpfs tmpfs "$1/lower" && cp "$2" "$1/lower/ctprog" &&
		mount -t overlay overlay -o "lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" "$1/merged" &&
		exec "$1/merged/ctprog" udp-paced 127.0.0.1 "$3" 5 20 200' sh "$CT" "$TRAFFICGEN" "$PORT"
	stop_and_check "container"
	check_eq "a program from a container's overlay is named and hashed" \
		"$CT/merged/ctprog|$(sha "$TRAFFICGEN")|100" \
		"$(db "SELECT executable || '|' || sha256 || '|' || sum(sent) FROM connection_log WHERE name = 'ctprog' GROUP BY executable, sha256")"
	check_eq "  and nothing is reported as exec'd or replaced" "" \
		"$(grep -E 'exec|replaced|another file' "$PICOSNITCH_DIR/error.log" 2>/dev/null)"
else
	skip "cannot make a mount namespace here (unshare -m)"
fi

# ---- "Every exe" ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false, "Every exe (not just conns)": true}'
start
C9=$(prog quiet)
"$C9" 2>/dev/null
stop_and_check "Every exe"
check_eq "with \"Every exe\", a program that never used the network is logged with ports -1" \
	"$(sha "$C9")|-1|-1|0|0" \
	"$(db "SELECT sha256 || '|' || local_port || '|' || remote_port || '|' || sent || '|' || received FROM connection_log WHERE executable = '$C9'")"
check_eq "and notified as running" 1 \
	"$(out | grep -c "^picosnitch: quiet ($C9) runs for the first time$")"

# ---- a corrupt record.json ----
printf '{"Executables": [1, 2' >"$PICOSNITCH_DIR/record.json"
start
send "$C1"
stop_and_check "corrupt record.json"
saved=$(ls "$PICOSNITCH_DIR" | grep -c '^record\.json\.corrupt-')
check_eq "a corrupt record.json is moved aside" 1 "$saved"
check_eq "  intact" '{"Executables": [1, 2' "$(cat "$PICOSNITCH_DIR"/record.json.corrupt-*)"
check_match "  with an error naming the problem" \
	"record.json could not be read \(line 1 column 21: .*\): kept as record\.json\.corrupt-[0-9]+, starting a new record" \
	"$(cat "$PICOSNITCH_DIR/error.log")"
check_match "and a new one is started" "\"$C1\"" "$(cat "$PICOSNITCH_DIR/record.json")"

t_done
