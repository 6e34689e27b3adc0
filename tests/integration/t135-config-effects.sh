#!/bin/bash
# What each config.json key does to a running monitor: Log addresses /
# ports / commands, every kind of Log ignore rule (ignored traffic still
# reaching record.json and notifications), DB retention at start and on
# its schedule, DB write limit, DB sql log / DB text log, Set RLIMIT_NOFILE,
# Set st_dev mask; and the state directory: created for the desktop user,
# with no symlink planted in it ever followed.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
USER_UID=$TEST_UID

SINK=$(prog sink)
"$SINK" udp-sink 0.0.0.0 "$WORK/sink.port" 1000000 &
wait_file "$WORK/sink.port"
PORT=$(cat "$WORK/sink.port")
SINK6=$(prog sink6)
"$SINK6" udp-sink ::1 "$WORK/sink6.port" 1000000 &
wait_file "$WORK/sink6.port"
PORT6=$(cat "$WORK/sink6.port")

start() { ps_start || { not_ok "the monitor starts"; t_done; exit 1; }; }
stop() { sleep 2.5; ps_stop; }
fresh() { rm -rf "$PICOSNITCH_DIR"; ps_config "$1"; }
one() { db "SELECT $2 FROM connection_log WHERE executable = '$1'"; }

# ---- Log addresses, Log ports, Log commands ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false, "DB text log": true,
        "Log addresses": false, "Log ports": false, "Log commands": false}'
start
C=$(prog blanked)
"$C" udp-once 127.0.0.1 "$PORT" 100
stop
check_eq "Log addresses/ports/commands false blank those fields (snitch.db)" "|0|0||100" \
	"$(one "$C" "remote_address || '|' || local_port || '|' || remote_port || '|' || cmdline || '|' || sent")"
check_eq "  and in conn.log" ",blanked,,$(sha256sum "$C" | cut -c1-64)" \
	"$(awk -F, -v e="$C" '$4 == e { print "," $5 "," $6 "," $7 }' "$PICOSNITCH_DIR/conn.log")"
check_eq "  the local address is still logged" "127.0.0.1" "$(one "$C" local_address)"
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
start
C=$(prog kept)
"$C" udp-once 127.0.0.1 "$PORT" 100
stop
check_eq "with the defaults they are logged" "127.0.0.1|$PORT|$C udp-once 127.0.0.1 $PORT 100" \
	"$(one "$C" "remote_address || '|' || remote_port || '|' || cmdline")"

# ---- Log ignore, with each privacy setting ----
# Rules match the real values: a port rule still matches with "Log ports"
# false, an address rule with "Log addresses" false (a hash rule with
# "Log commands" false), though those fields are then written blank.
BYHASH=$(prog byhash)
printf 'x' >>"$BYHASH"	# its own content, so its own hash
ignore_case() { # LABEL EXTRA-JSON
	fresh "{\"DB write limit (seconds)\": 1, \"Desktop notifications\": false $2,
	        \"Log ignore\": [$PORT6, \"$(sha256sum "$BYHASH" | cut -c1-64)\", \"127.0.0.2\", \"10.9.0.0/16\"]}"
	start
	BYPORT=$(prog "byport$1")
	BYADDR=$(prog "byaddr$1")
	KEPT=$(prog "notignored$1")
	"$BYPORT" udp-once ::1 "$PORT6" 100
	"$BYHASH" udp-once 127.0.0.1 "$PORT" 100
	"$BYADDR" udp-once 127.0.0.2 "$PORT" 100
	"$KEPT" udp-once 127.0.0.1 "$PORT" 100
	stop
	check_eq "a port rule drops the flows on that port$1" "" "$(one "$BYPORT" sent)"
	check_eq "  (and the sink's side of them)" "" \
		"$(db "SELECT sent FROM connection_log WHERE executable = '$SINK6'")"
	check_eq "a hash rule drops that executable's traffic$1" "" "$(one "$BYHASH" sent)"
	check_eq "an address rule drops traffic to that address$1" "" "$(one "$BYADDR" sent)"
	check_eq "other traffic is logged$1" "100" "$(one "$KEPT" sent)"
}
ignore_case ", with Log ports false" ', "Log ports": false'
ignore_case ", with Log addresses false" ', "Log addresses": false'
ignore_case ", with Log commands false" ', "Log commands": false'
ignore_case "" ""
# the sink received the datagram sent to 127.0.0.2 on its local address
# 127.0.0.2: an address rule matches remote addresses only (a local one
# would hide all traffic of a host on that network), so it is logged
check_eq "an address rule never matches the local address: the sink's traffic is all logged" \
	"127.0.0.1,127.0.0.2" "$(db "SELECT group_concat(DISTINCT local_address) FROM (SELECT local_address FROM connection_log WHERE executable = '$SINK' ORDER BY local_address)")"
for p in "$BYPORT" "$BYHASH" "$BYADDR"; do
	check_eq "ignored $(basename "$p") is still in record.json" yes \
		"$(/usr/bin/python3 -c 'import json,sys; print("yes" if sys.argv[2] in json.load(open(sys.argv[1]))["Executables"] else "no")' \
			"$PICOSNITCH_DIR/record.json" "$p" 2>&1)"
	check_eq "  and exe.log" 1 "$(grep -c " new executable $p " "$PICOSNITCH_DIR/exe.log")"
	check_eq "  and notified" 1 "$(grep -c "($p) uses the network for the first time" "$WORK/daemon.log")"
done

# the sinks are done (programs from here on send to a closed port, which
# counts all the same)
kill $(jobs -p) 2>/dev/null
wait 2>/dev/null

# ---- DB retention ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false, "DB retention (days)": 30}'
start
C=$(prog retained)
"$C" udp-once 127.0.0.1 "$PORT" 100
stop
now=$(date +%s)
# copies of that entry, 40 and 20 days old
db "INSERT INTO connections (time, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id)
    SELECT $now - 40 * 86400, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, 40, received, flows, grandparent_id FROM connections WHERE sent = 100;
    INSERT INTO connections (time, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id)
    SELECT $now - 20 * 86400, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, 20, received, flows, grandparent_id FROM connections WHERE sent = 100;"
check_eq "(set-up: entries of 40, 20 and 0 days)" "20,40,100" "$(one "$C" "group_concat(sent)" | tr ',' '\n' | sort -n | paste -sd,)"
# an old entry of a program, address and domain no newer entry has
db "INSERT INTO executables (path, name, cmdline, sha256) VALUES ('/gone/exe', 'gone', '', '!gone');
    INSERT INTO addresses (address) VALUES ('203.0.113.250');
    INSERT INTO domains (domain) VALUES ('gone.example');
    INSERT INTO connections (time, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id)
    SELECT $now - 40 * 86400, (SELECT id FROM executables WHERE path = '/gone/exe'), parent_id, uid, family, protocol, lport, rport, laddr_id,
           (SELECT id FROM addresses WHERE address = '203.0.113.250'), (SELECT id FROM domains WHERE domain = 'gone.example'),
           netns, 7, received, flows, grandparent_id FROM connections WHERE sent = 100;"
gone() { db "SELECT (SELECT count(*) FROM executables WHERE path = '/gone/exe') || (SELECT count(*) FROM addresses WHERE address = '203.0.113.250') || (SELECT count(*) FROM domains WHERE domain = 'gone.example')"; }
check_eq "(set-up: an old entry with its own executable, address and domain)" "111" "$(gone)"
PICOSNITCH_PRUNE_INTERVAL=2 start
sleep 0.5
check_eq "at start, entries older than 30 days are removed" "20,100" \
	"$(one "$C" "group_concat(sent)" | tr ',' '\n' | sort -n | paste -sd,)"
check_eq "  and the executables, addresses and domains only they used" "000" "$(gone)"
check_eq "  while those of newer entries stay" "1" \
	"$(db "SELECT count(*) FROM executables WHERE path = '$C'")"
db "INSERT INTO connections (time, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, sent, received, flows, grandparent_id)
    SELECT $now - 31 * 86400, exe_id, parent_id, uid, family, protocol, lport, rport, laddr_id, raddr_id, domain_id, netns, 31, received, flows, grandparent_id FROM connections WHERE sent = 100;"
sleep 3
check_eq "and again on schedule while it runs (daily; every 2 s here)" "20,100" \
	"$(one "$C" "group_concat(sent)" | tr ',' '\n' | sort -n | paste -sd,)"
stop
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false, "DB retention (days)": 0}'
db "UPDATE connections SET time = time - 5000 * 86400"
start
stop
check_eq "0 days keeps everything" "20,100" "$(one "$C" "group_concat(sent)" | tr ',' '\n' | sort -n | paste -sd,)"

# ---- DB write limit, DB sql log, DB text log ----
# one process, one socket, three datagrams over two seconds (to a sink:
# a connected socket would see the refusals of a closed port)
"$SINK" udp-sink 127.0.0.1 "$WORK/sink2.port" 1000000 &
wait_file "$WORK/sink2.port"
SH=$(prog sendsh)
cp /bin/bash "$SH"
spread() { "$SH" -c "exec 3>/dev/udp/127.0.0.1/$(cat "$WORK/sink2.port"); for i in 1 2 3; do echo 123456789 >&3; [ \$i = 3 ] || sleep 1; done"; }
fresh '{"DB write limit (seconds)": 10, "Desktop notifications": false, "DB sql log": false, "DB text log": true}'
start
spread
ps_stop
check_eq "DB sql log false: no snitch.db" "no" "$([ -e "$PICOSNITCH_DIR/snitch.db" ] && echo yes || echo no)"
check_eq "DB write limit 10: three sends over 2 s of the first window are one entry" "30" \
	"$(awk -F, -v e="$SH" '$4 == e { print $2 }' "$PICOSNITCH_DIR/conn.log" | paste -sd,)"
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false, "DB text log": true}'
start
spread
stop
rows=$(awk -F, -v e="$SH" '$4 == e { n++; s += $2 } END { print n "|" s }' "$PICOSNITCH_DIR/conn.log")
check_match "DB write limit 1: they are spread over 2 or 3 entries, 30 bytes in all" "^[23]\|30$" "$rows"
kill $(jobs -p) 2>/dev/null
wait 2>/dev/null

# ---- Set RLIMIT_NOFILE, Set st_dev mask ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false, "Set RLIMIT_NOFILE": 2048, "Set st_dev mask": 0}'
start
check_eq "Set RLIMIT_NOFILE raises the monitor's soft descriptor limit" 2048 \
	"$(awk '/^Max open files/ { print $4 }' "/proc/$PS_PID/limits")"
C=$(prog masked)
"$C" udp-once 127.0.0.1 "$PORT" 100
stop
check_eq "Set st_dev mask 0 (inode only) still hashes correctly" "$(sha256sum "$C" | cut -c1-64)" "$(one "$C" sha256)"
fresh '{"Set RLIMIT_NOFILE": 99999999}'
start
ps_stop
check_match "a limit above the hard limit is refused in error.log, and it runs on" \
	'"Set RLIMIT_NOFILE" is 99999999 but the hard limit is [0-9]+: keeping [0-9]+' \
	"$(cat "$PICOSNITCH_DIR/error.log")"

# ---- the state directory ----
if [ -z "$USER_UID" ]; then
	skip "cannot create a throwaway user here (useradd)"
else
	rm -rf "$PICOSNITCH_DIR"
	SUDO_UID=$USER_UID start
	ps_stop
	check_eq "the state directory is created for the desktop user" "$USER_UID" \
		"$(stat -c %u "$PICOSNITCH_DIR")"
	bad=$(find "$PICOSNITCH_DIR" ! -uid "$USER_UID" | wc -l)
	check_eq "  and so is every file in it" 0 "$bad"
fi

# symlinks planted by the user, one file at a time: nothing is ever
# written through them
mkdir -p "$WORK/victims"
for f in error.log exe.log conn.log record.json snitch.db snitch.db-wal snitch.db-shm config.json; do
	rm -rf "$PICOSNITCH_DIR"
	ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false, "DB text log": true}'
	victim=$WORK/victims/$f
	printf 'precious %s\n' "$f" >"$victim"
	if [ "$f" = config.json ]; then
		cp "$PICOSNITCH_DIR/config.json" "$victim"
	fi
	before=$(sha256sum <"$victim")
	rm -f "$PICOSNITCH_DIR/$f"
	ln -s "$victim" "$PICOSNITCH_DIR/$f"
	timeout 20 "$PS_BIN" start-no-daemon >"$WORK/daemon.log" 2>&1 &
	pid=$!
	sleep 2.5
	C=$(prog "planted-$f")
	"$C" udp-once 127.0.0.1 "$PORT" 100
	sleep 2
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	check_eq "a symlink planted as $f is not written through" "$before" "$(sha256sum <"$victim")"
	case $f in
	config.json)
		# the user's settings are not read through a link (it could
		# point at a file only root may read): the monitor refuses
		check_match "  a linked config.json is refused, saying why" "symbolic link" \
			"$(cat "$WORK/daemon.log")" ;;
	record.json)
		check_match "  record.json is moved aside and monitoring goes on" "100" \
			"$(one "$C" sent)" ;;
	*)
		# the monitor cannot be turned off by planting a link
		if [ "$f" = conn.log ]; then
			got=$(awk -F, -v e="$C" '$4 == e { print $2 }' "$PICOSNITCH_DIR/conn.log")
		else
			got=$(one "$C" sent)
		fi
		check_eq "  the link is moved aside and monitoring goes on" "100" "$got"
		check_eq "  the link itself is kept aside" "$victim" \
			"$(readlink "$PICOSNITCH_DIR/$f".planted-*)"
		check_match "  and error.log says so" "$f was a symbolic link" \
			"$(cat "$PICOSNITCH_DIR/error.log")" ;;
	esac
done

rm -rf "$PICOSNITCH_DIR"
mkdir -p "$WORK/elsewhere"
ln -s "$WORK/elsewhere" "$PICOSNITCH_DIR"
out=$(timeout 20 "$PS_BIN" start-no-daemon 2>&1)
check_eq "a state directory that is a symlink is refused" 1 "$?"
check_match "  with a message saying so" "symbolic link" "$out"
check_eq "  and nothing is created where it points" "" "$(ls "$WORK/elsewhere")"

t_done
