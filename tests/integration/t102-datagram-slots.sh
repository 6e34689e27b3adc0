#!/bin/bash
# UDP sockets count their packets after the first in a per-socket slot that
# the daemon reads through a shared mapping, not in the flow table.  These
# cases check that the slot path stays exact where it could go wrong: a
# socket that lives across many drains, one that changes hands (parent,
# exec'd child, parent again), datagrams taken back after a full receive
# buffer dropped them, and a socket still open when the monitor stops.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
netns_up || skip_all "cannot create a network namespace with a veth pair here"

ps_config '{"DB write limit (seconds)": 1, "DB text log": true}'
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
ok "the monitor starts"

LATE=()	# checked after the monitor stopped

# overflow_case NAME WHERE [udplite]: 300 datagrams into a receive buffer
# that holds a few: only what the receiver got counts as received.  With
# udplite the same over UDP-Lite, whose length field is its checksum
# coverage (here the header alone): what is taken back is the real size.
overflow_case() {
	local name=$1 t=$2 what=UDP c s pf go out sp got
	if [ "${3:-}" = udplite ]; then
		export TRAFFICGEN_UDPLITE=1
		what=UDP-Lite
	fi
	c=$(prog "overflow-$name.sender")
	s=$(prog "overflow-$name.receiver")
	pf=$WORK/port.overflow-$name go=$WORK/go.overflow-$name out=$WORK/got.overflow-$name
	run_server "$t" "$s" udp-overflow "$(addr_of "$t")" "$pf" 4096 "$go" "$out" &
	sp=$!
	if wait_file "$pf" && "$c" udp-client "$(addr_of "$t")" "$(cat "$pf")" 300 1000 0 connected &&
		touch "$go" && wait "$sp"; then
		got=$(cat "$out")
		if [ "$got" -gt 0 ] && [ "$got" -lt 300000 ]; then
			ok "the $what receive buffer over $t overflowed ($got of 300000 bytes kept)"
		else
			not_ok "the $what receive buffer over $t overflowed ($got of 300000 bytes kept)"
		fi
		expect "$c" 300000 0 "$what datagrams dropped by a full receive buffer over $t: sender"
		expect "$s" 0 "$got" "$what datagrams dropped by a full receive buffer over $t: receiver"
	else
		not_ok "$what overflow over $t: the programs ran"
	fi
	unset TRAFFICGEN_UDPLITE
}

for t in lo4 veth6; do
	# 25 datagrams over 2.5 s: the socket is read at every drain meanwhile
	c=$(prog "paced-$t.sender")
	s=$(prog "paced-$t.sink")
	pf=$WORK/port.paced-$t
	run_server "$t" "$s" udp-sink "$(addr_of "$t")" "$pf" 25 &
	sp=$!
	if wait_file "$pf" && "$c" udp-paced "$(addr_of "$t")" "$(cat "$pf")" 25 700 100 &&
		wait "$sp"; then
		expect "$c" 17500 0 "a UDP socket sending across drains over $t: sender"
		expect "$s" 0 17500 "a UDP socket sending across drains over $t: receiver"
	else
		not_ok "paced UDP over $t: the programs ran"
	fi

	# one socket, three turns: parent, child, parent
	p=$(prog "handover-$t.parent")
	ch=$(prog "handover-$t.child")
	s=$(prog "handover-$t.sink")
	pf=$WORK/port.handover-$t
	run_server "$t" "$s" udp-sink "$(addr_of "$t")" "$pf" 27 &
	sp=$!
	if wait_file "$pf" &&
		"$p" udp-inherit-parent "$(addr_of "$t")" "$(cat "$pf")" 10 300 "$ch" 7 &&
		wait "$sp"; then
		expect "$p" 6000 0 "a UDP socket used by parent, child, parent over $t: parent"
		expect "$ch" 2100 0 "a UDP socket used by parent, child, parent over $t: child"
		expect "$s" 0 8100 "a UDP socket used by parent, child, parent over $t: receiver"
	else
		not_ok "UDP handover over $t: the programs ran"
	fi

	overflow_case "$t" "$t"
done

overflow_case lite lo4 udplite

# a receiver still open when the monitor stops: its last bytes are written
c=$(prog "open-at-stop.sender")
s=$(prog "open-at-stop.sink")
pf=$WORK/port.open-at-stop
"$s" udp-sink 127.0.0.1 "$pf" 1000 &
SINK=$!
if wait_file "$pf" && "$c" udp-paced 127.0.0.1 "$(cat "$pf")" 12 900 20; then
	LATE+=("$c|10800|0|a socket still open when the monitor stops: sender"
		"$s|0|10800|a socket still open when the monitor stops: receiver")
else
	not_ok "the open-at-stop programs ran"
fi

sleep 2.5	# two more windows
check_expected

# every datagram socket knows its network namespace (read when its first
# packet arrives or it is bound, whichever hook sees it first)
ns_ino=$(stat -L -c %i "/run/netns/$NS")
own_ino=$(stat -L -c %i /proc/self/ns/net)
for w in paced-veth6.sink handover-veth6.sink overflow-veth6.receiver; do
	check_eq "the namespace of $w" "$ns_ino" \
		"$(db "SELECT group_concat(DISTINCT netns) FROM connection_log WHERE executable = '$WORK/bin/$w'")"
done
check_eq "the namespace of paced-veth6.sender (this one)" "$own_ino" \
	"$(db "SELECT group_concat(DISTINCT netns) FROM connection_log WHERE executable = '$WORK/bin/paced-veth6.sender'")"

ps_stop
kill "$SINK" 2>/dev/null
wait "$SINK" 2>/dev/null
EXPECT=("${LATE[@]}")
check_expected
check_eq "the monitor exited cleanly" 0 "$PS_RC"
check_eq "nothing was lost" "" "$(grep -v -i "taken back\|receive buffer" "$PICOSNITCH_DIR/error.log")"
t_done
