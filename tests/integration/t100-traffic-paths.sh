#!/bin/bash
# Every traffic path the sensor must see, over loopback and over a veth pair
# into a network namespace: each case runs uniquely named executables that
# move a known number of bytes, and the totals per executable and direction
# must match exactly in snitch.db and in conn.log.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
netns_up || skip_all "cannot create a network namespace with a veth pair here"

ps_config '{"DB write limit (seconds)": 1, "DB text log": true}'
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
ok "the monitor starts"

tcp_case() { # TARGET METHOD CLIENT-SENDS SERVER-SENDS
	local t=$1 m=$2 a=$3 b=$4 c s pf sp
	c=$(prog "tcp-$m-$t.client")
	s=$(prog "tcp-$m-$t.server")
	pf=$WORK/port.tcp-$m-$t
	run_server "$t" "$s" tcp-server "$(addr_of "$t")" "$pf" "$a" "$b" "$m" &
	sp=$!
	if wait_file "$pf" && "$c" tcp-client "$(addr_of "$t")" "$(cat "$pf")" "$a" "$b" "$m" &&
		wait "$sp"; then
		expect "$c" "$a" "$b" "tcp $m over $t: client"
		expect "$s" "$b" "$a" "tcp $m over $t: server"
	else
		not_ok "tcp $m over $t: the programs ran"
	fi
}

udp_case() { # TARGET METHOD COUNT SIZE REPLY
	local t=$1 m=$2 n=$3 size=$4 r=$5 c s pf sp
	c=$(prog "udp-$m-$t.client")
	s=$(prog "udp-$m-$t.server")
	pf=$WORK/port.udp-$m-$t
	run_server "$t" "$s" udp-server "$(addr_of "$t")" "$pf" "$n" "$size" "$r" "$m" &
	sp=$!
	if wait_file "$pf" && "$c" udp-client "$(addr_of "$t")" "$(cat "$pf")" "$n" "$size" "$r" "$m" &&
		wait "$sp"; then
		expect "$c" $((n * size)) $((n * r)) "udp $m over $t: client"
		expect "$s" $((n * r)) $((n * size)) "udp $m over $t: server"
	else
		not_ok "udp $m over $t: the programs ran"
	fi
}

# ---- TCP and UDP by every system call path, both families, both links ----
for t in lo4 lo6 veth4 veth6; do
	tcp_case "$t" send 100003 7001
	tcp_case "$t" rw 65536 1
	tcp_case "$t" msg 12345 54321
	tcp_case "$t" sendfile 300007 17
	tcp_case "$t" splice 200001 99999
	tcp_case "$t" uring 77777 3333
	udp_case "$t" connected 20 1000 100
	udp_case "$t" rw 7 1472 3
	udp_case "$t" sendto 11 512 64
	udp_case "$t" msg 9 333 444
	udp_case "$t" mmsg 24 100 10
	udp_case "$t" uring 5 1200 1
done

# ---- datagrams larger than the veth's MTU leave as IP fragments ----
for t in veth4 veth6; do
	c=$(prog "udp-frag-$t.client")
	s=$(prog "udp-frag-$t.server")
	pf=$WORK/port.udp-frag-$t
	run_server "$t" "$s" udp-server "$(addr_of "$t")" "$pf" 4 4000 3000 sendto &
	sp=$!
	if wait_file "$pf" && "$c" udp-client "$(addr_of "$t")" "$(cat "$pf")" 4 4000 3000 sendto &&
		wait "$sp"; then
		expect "$c" 16000 12000 "fragmented udp over $t: client"
		expect "$s" 12000 16000 "fragmented udp over $t: server"
	else
		not_ok "fragmented udp over $t: the programs ran"
	fi
done

# ---- ICMP: raw sockets (reading only echo replies) and ping sockets ----
old_range=$(cat /proc/sys/net/ipv4/ping_group_range)
echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range
for t in lo4 lo6 veth4 veth6; do
	c=$(prog "icmp-raw-$t")
	if "$c" icmp "$(addr_of "$t")" 5 56; then
		case $t in
		*4) expect "$c" $((5 * 64)) $((5 * 84)) "raw ICMP echo over $t" ;;
		*6) expect "$c" $((5 * 64)) $((5 * 64)) "raw ICMPv6 echo over $t" ;;
		esac
	else
		not_ok "raw ICMP echo over $t: the program ran"
	fi
	c=$(prog "icmp-ping-$t")
	if "$c" ping "$(addr_of "$t")" 4 100; then
		expect "$c" $((4 * 108)) $((4 * 108)) "ping socket echo over $t"
	else
		not_ok "ping socket echo over $t: the program ran"
	fi
done
echo "$old_range" >/proc/sys/net/ipv4/ping_group_range

# ---- another IP protocol on raw sockets, with and without IP_HDRINCL ----
for t in lo4 veth4; do
	for hdr in 0 1; do
		s=$(prog "rawip-$t-h$hdr.recv")
		c=$(prog "rawip-$t-h$hdr.send")
		rf=$WORK/ready.rawip-$t-$hdr
		run_server "$t" "$s" rawip-recv "$(addr_of "$t")" 6 253 "$rf" &
		sp=$!
		if wait_file "$rf" && "$c" rawip-send "$(addr_of "$t")" 6 400 253 "$hdr" && wait "$sp"; then
			# an unbound raw socket also receives what it sends to itself
			own=0
			[ "$t" = lo4 ] && own=$((6 * 420))
			expect "$c" $((6 * (400 + 20 * hdr))) "$own" "raw IP protocol 253 over $t, hdrincl=$hdr: sender"
			expect "$s" 0 $((6 * 420)) "raw IP protocol 253 over $t, hdrincl=$hdr: receiver"
		else
			not_ok "raw IP over $t hdrincl=$hdr: the programs ran"
		fi
	done
done

# ---- AF_PACKET frames ----
for t in lo veth; do
	s=$(prog "packet-$t.recv")
	c=$(prog "packet-$t.send")
	rf=$WORK/ready.packet-$t
	if [ "$t" = lo ]; then
		"$s" packet-recv lo 8 0x88b5 "$rf" &
	else
		in_ns "$s" packet-recv "$VETH_N" 8 0x88b5 "$rf" &
	fi
	sp=$!
	dev=lo
	[ "$t" = veth ] && dev=$VETH_H
	# the receiver must be bound before the frames leave
	if wait_file "$rf" || true; then sleep 0.2; fi
	# frames 20 ms apart: the reader is asleep when each arrives (one that
	# reads without waiting is the case below)
	if [ -e "$rf" ] && "$c" packet-paced "$dev" 8 600 0x88b5 20 && wait "$sp"; then
		expect "$c" $((8 * 600)) 0 "AF_PACKET frames over $t: sender"
		expect "$s" 0 $((8 * 600)) "AF_PACKET frames over $t: receiver"
	else
		not_ok "AF_PACKET over $t: the programs ran"
	fi
done

# A reader that never waits (it peeks each frame, then reads it) can take a
# frame off the queue before the sensor sees it there: such frames are
# reported, and what is counted plus what is reported is every frame.
s=$(prog packet-spin.recv)
c=$(prog packet-spin.send)
rf=$WORK/ready.packet-spin
in_ns "$s" packet-spin "$VETH_N" 2000 0x88b6 "$rf" &
sp=$!
if wait_file "$rf" && sleep 0.2 && "$c" packet-send "$VETH_H" 2000 100 0x88b6 && wait "$sp"; then
	spin_reader=$s
else
	not_ok "AF_PACKET spinning reader: the programs ran"
fi

# Frames still queued at close count as received: they reached the socket.
s=$(prog packet-leave.recv)
c=$(prog packet-leave.send)
rf=$WORK/ready.packet-leave
in_ns "$s" packet-leave "$VETH_N" 10 0x88b7 "$rf" 4 "$WORK/sent.packet-leave" &
sp=$!
if wait_file "$rf" && sleep 0.2 && "$c" packet-paced "$VETH_H" 10 300 0x88b7 20 &&
	touch "$WORK/sent.packet-leave" && wait "$sp"; then
	expect "$s" 0 $((10 * 300)) "AF_PACKET frames left unread at close"
else
	not_ok "AF_PACKET frames left unread: the programs ran"
fi

# ---- a socket used by another process than the one that opened it ----
for t in lo4 veth4; do
	p=$(prog "inherit-$t.parent")
	ch=$(prog "inherit-$t.child")
	s=$(prog "inherit-$t.server")
	pf=$WORK/port.inherit-$t
	run_server "$t" "$s" tcp-server "$(addr_of "$t")" "$pf" $((1000 + 50000)) 2222 rw &
	sp=$!
	if wait_file "$pf" && "$p" inherit-parent "$(addr_of "$t")" "$(cat "$pf")" 1000 "$ch" 50000 2222 &&
		wait "$sp"; then
		expect "$p" 1000 0 "socket inherited across fork+exec over $t: parent"
		expect "$ch" 50000 2222 "socket inherited across fork+exec over $t: child"
		expect "$s" 2222 51000 "socket inherited across fork+exec over $t: server"
	else
		not_ok "inherited socket over $t: the programs ran"
	fi

	a=$(prog "scm-$t.sender")
	b=$(prog "scm-$t.receiver")
	s=$(prog "scm-$t.server")
	pf=$WORK/port.scm-$t
	rf=$WORK/ready.scm-$t
	run_server "$t" "$s" tcp-server "$(addr_of "$t")" "$pf" $((300 + 40000)) 4444 rw &
	sp=$!
	"$b" scm-receiver "$WORK/scm-$t.sock" 40000 4444 "$rf" &
	bp=$!
	if wait_file "$pf" && wait_file "$rf" &&
		"$a" scm-sender "$WORK/scm-$t.sock" "$(addr_of "$t")" "$(cat "$pf")" 300 &&
		wait "$bp" && wait "$sp"; then
		expect "$a" 300 0 "socket passed with SCM_RIGHTS over $t: sender"
		expect "$b" 40000 4444 "socket passed with SCM_RIGHTS over $t: receiver"
		expect "$s" 4444 40300 "socket passed with SCM_RIGHTS over $t: server"
	else
		not_ok "SCM_RIGHTS over $t: the programs ran"
	fi
done

# ---- a process that renames itself ----
c=$(prog "renamer.client")
s=$(prog "renamer.server")
pf=$WORK/port.renamer
"$s" tcp-server 127.0.0.1 "$pf" 999 111 rw &
sp=$!
if wait_file "$pf" && "$c" rename innocent-name tcp-client 127.0.0.1 "$(cat "$pf")" 999 111 rw &&
	wait "$sp"; then
	expect "$c" 999 111 "a process renamed with prctl"
else
	not_ok "renamed process: the programs ran"
fi

# ---- short-lived processes that exit right after sending ----
for t in lo4 veth4; do
	s=$(prog "once-udp-$t.sink")
	c=$(prog "once-udp-$t.sender")
	pf=$WORK/port.once-udp-$t
	run_server "$t" "$s" udp-sink "$(addr_of "$t")" "$pf" 10 &
	sp=$!
	if wait_file "$pf"; then
		for i in $(seq 10); do "$c" udp-once "$(addr_of "$t")" "$(cat "$pf")" 321; done
	fi
	if wait "$sp"; then
		expect "$c" 3210 0 "10 short-lived UDP senders over $t"
		expect "$s" 0 3210 "UDP sink for short-lived senders over $t"
	else
		not_ok "short-lived UDP over $t: the programs ran"
	fi

	s=$(prog "once-tcp-$t.sink")
	c=$(prog "once-tcp-$t.sender")
	pf=$WORK/port.once-tcp-$t
	run_server "$t" "$s" tcp-sink "$(addr_of "$t")" "$pf" 6 >"$WORK/sink.out" &
	sp=$!
	if wait_file "$pf"; then
		for i in $(seq 6); do "$c" tcp-once "$(addr_of "$t")" "$(cat "$pf")" 123457; done
	fi
	if wait "$sp" && [ "$(cat "$WORK/sink.out")" = $((6 * 123457)) ]; then
		expect "$c" $((6 * 123457)) 0 "6 short-lived TCP senders over $t"
		expect "$s" 0 $((6 * 123457)) "TCP sink for short-lived senders over $t"
	else
		not_ok "short-lived TCP over $t: the programs ran"
	fi
done

# a server that listens through several drains before its one connection
ls_=$(prog listening.sink)
lc=$(prog listening.client)
"$ls_" tcp-sink 127.0.0.1 "$WORK/port.listening" 1 >/dev/null &
lp=$!
wait_file "$WORK/port.listening" && sleep 2.5
"$lc" tcp-once 127.0.0.1 "$(cat "$WORK/port.listening")" 1000
wait "$lp"

ps_stop
check_eq "the monitor exits cleanly on SIGTERM" 0 "$PS_RC"

check_expected

# identity details
check_eq "a renamed process is logged under its new name and real executable" \
	"innocent-name" "$(db "SELECT DISTINCT name FROM connection_log WHERE executable = '$WORK/bin/renamer.client'")"
ns_ino=$(stat -L -c %i "/run/netns/$NS")
check_eq "a server in the namespace is logged with its network namespace" \
	"$ns_ino" "$(db "SELECT DISTINCT netns FROM connection_log WHERE executable = '$WORK/bin/tcp-rw-veth4.server'")"
check_eq "a program on the host is logged with the host's network namespace" \
	"$(stat -L -c %i /proc/self/ns/net)" "$(db "SELECT DISTINCT netns FROM connection_log WHERE executable = '$WORK/bin/tcp-rw-veth4.client'")"
check_eq "the inheriting child is logged with its parent executable" \
	"$WORK/bin/inherit-lo4.parent" "$(db "SELECT DISTINCT parent_executable FROM connection_log WHERE executable = '$WORK/bin/inherit-lo4.child'")"
check_eq "unconnected UDP is logged with the real peer address" \
	"198.51.100.2" "$(db "SELECT DISTINCT remote_address FROM connection_log WHERE executable = '$WORK/bin/udp-sendto-veth4.client'")"
check_eq "the UDP server's replies go to the client's port" \
	"1" "$(db "SELECT count(DISTINCT remote_port) FROM connection_log WHERE executable = '$WORK/bin/udp-sendto-lo4.server' AND remote_port > 0")"
flows() { db "SELECT ifnull(sum(flows),0) FROM connection_log WHERE executable = '$WORK/bin/$1'"; }
check_eq "6 short-lived TCP senders made 6 flows" 6 "$(flows once-tcp-lo4.sender)"
check_eq "their sink accepted 6 flows" 6 "$(flows once-tcp-lo4.sink)"
check_eq "a listening socket is not a flow, its connection is" "1|1000|0" \
	"$(db "SELECT sum(flows) || '|' || sum(received) || '|' || count(*) FILTER (WHERE remote_port = 0) FROM connection_log WHERE executable = '$WORK/bin/listening.sink'")"
check_eq "10 short-lived UDP senders made 10 flows" 10 "$(flows once-udp-veth4.sender)"
check_eq "a TCP client is one flow" 1 "$(flows tcp-splice-veth6.client)"
check_eq "a TCP server's accepted connection is one flow" 1 "$(flows tcp-uring-lo6.server)"
check_eq "an inherited socket is a flow for each process that used it" "1 1" \
	"$(flows inherit-veth4.parent) $(flows inherit-veth4.child)"
bad=$(awk -F, '!/^#/ && NF != 18' "$PICOSNITCH_DIR/conn.log" | wc -l)
check_eq "every conn.log line has 18 fields" 0 "$bad"
taken_line='frames received on AF_PACKET sockets were not counted: their reader took them'
if [ -n "${spin_reader:-}" ]; then
	taken=$(grep -o "[0-9]* $taken_line" "$PICOSNITCH_DIR/error.log" | awk '{ n += $1 } END { print n + 0 }')
	read -r _ spun <<<"$(db_totals "$spin_reader")"
	check_eq "AF_PACKET frames a spinning reader took: counted + reported = all ($taken reported)" \
		200000 $((${spun:-0} + 100 * taken))
fi
check_eq "nothing else was lost (error.log is empty)" "" \
	"$(grep -v "$taken_line" "$PICOSNITCH_DIR/error.log")"
t_done
