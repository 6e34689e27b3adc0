#!/bin/bash
# Exact under pressure (issue 11): what a fast link, a flood, TCP Fast Open
# or a reset does to the counts.  Each case asserts exact bytes.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"

# ---- more than 8 GiB in one connection between two samples ----
# The monitor is frozen while one loopback connection moves 9 GiB one way
# and 4.5 GiB the other and closes: the kernel counts its close, nothing
# samples in between.  32-bit sequence numbers wrap twice on the way.
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "DB text log": true, "Desktop notifications": false}'
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
big_s=$(prog bigflow-server)
big_c=$(prog bigflow-client)
UP=$((9 * 1024 * 1024 * 1024 + 7)) DOWN=$((9 * 512 * 1024 * 1024 + 3))
"$big_s" tcp-server 127.0.0.1 "$WORK/port.big" "$UP" "$DOWN" sendfile &
sp=$!
wait_file "$WORK/port.big"
sleep 1.2
kill -STOP "$PS_PID"
t0=$(date +%s.%N)
"$big_c" tcp-client 127.0.0.1 "$(cat "$WORK/port.big")" "$UP" "$DOWN" sendfile
crc=$?
wait "$sp"
src=$?
t1=$(date +%s.%N)
kill -CONT "$PS_PID"
echo "# moved $(((UP + DOWN) >> 30)) GiB in $(awk -v a="$t0" -v b="$t1" "BEGIN { printf \"%.1f\", b - a }") s with the monitor frozen"
check_eq "both ends moved every byte" "0 0" "$crc $src"
sleep 2.5
expect "$big_c" "$UP" "$DOWN" "client of a 13.5 GiB connection counted between two samples"
expect "$big_s" "$DOWN" "$UP" "server of the same"
check_expected
# ---- TCP Fast Open: data in the SYN ----
# The server is in a namespace of its own with Fast Open on (the host's
# setting is left alone: its default lets clients use it); the client runs
# on the host, across the veth pair, and once inside the namespace over its
# loopback.  Each client's first connection fetches the cookie, the second
# sends its first 1000 bytes in the SYN.
netns_up || { not_ok "a network namespace with a veth pair"; t_done; exit 1; }
in_ns sysctl -qw net.ipv4.tcp_fastopen=3
tfo_passive() { in_ns nstat -az TcpExtTCPFastOpenPassive | awk '/TcpExt/ { print $2 }'; }
tfo_case() { # NAME ADDR CLIENT-RUNNER...
	local name=$1 addr=$2
	shift 2
	local s c
	s=$(prog "tfo-$name-server")
	c=$(prog "tfo-$name-client")
	in_ns "$s" tfo-server "$addr" "$WORK/port.tfo-$name" 2 30011 40013 &
	local sp=$!
	wait_file "$WORK/port.tfo-$name"
	"$@" "$c" tfo-client "$addr" "$(cat "$WORK/port.tfo-$name")" 30011 40013 &&
		"$@" "$c" tfo-client "$addr" "$(cat "$WORK/port.tfo-$name")" 30011 40013 ||
		not_ok "the $name Fast Open client ran"
	wait "$sp" || not_ok "the $name Fast Open server ran"
	expect "$c" $((2 * 30011)) $((2 * 40013)) "Fast Open client, $name"
	expect "$s" $((2 * 40013)) $((2 * 30011)) "Fast Open server, $name"
}
before=$(tfo_passive)
tfo_case veth 198.51.100.2
tfo_case ns-loopback 127.0.0.1 ip netns exec "$NS"
after=$(tfo_passive)
check_eq "two connections carried data in their SYN" 2 $((after - before))
sleep 2.5
check_expected

# ---- a reset connection closed later is one entry ----
# The server resets the connection (SO_LINGER 0); the client notices and
# closes 2.5 s later, after the monitor has written the connection.
rst_case() { # NAME ADDR
	local s c
	s=$(prog "rst-$1-server")
	c=$(prog "rst-$1-client")
	run_server "$1" "$s" tcp-reset-server "$2" "$WORK/port.rst-$1" 70001 &
	local sp=$!
	wait_file "$WORK/port.rst-$1"
	"$c" tcp-reset-client "$2" "$(cat "$WORK/port.rst-$1")" 70001 2500 || not_ok "the $1 reset client ran"
	wait "$sp"
	sleep 2
	expect "$c" 70001 0 "reset, then closed later, over $1: client"
	expect "$s" 0 70001 "reset, then closed later, over $1: server"
	check_expected
	check_eq "  the client's connection is one entry, not a second empty one" 1 \
		"$(db "SELECT count(*) FROM connection_log WHERE executable = '$c'")"
}
rst_case lo4 127.0.0.1
rst_case veth4 198.51.100.2

# ---- retransmissions ----
# One TCP segment in 15 arriving in the namespace is dropped (nftables, in
# the namespace only), so whatever the host sends there is retransmitted.
# Once with the uploading client on the host, once with the host's server
# sending the download: the retransmitting side and the receiver that
# fills holes out of order both count every byte once.
retrans_segs() { nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ { print $2 }'; }
lossy_case() { # NAME: client-on-host | server-on-host
	local s c sp up=$((24 * 1024 * 1024 + 11)) down=$((3 * 1024 * 1024 + 5))
	s=$(prog "lossy-$1-server")
	c=$(prog "lossy-$1-client")
	if [ "$1" = client-on-host ]; then
		in_ns "$s" tcp-server 198.51.100.2 "$WORK/port.lossy-$1" "$up" "$down" rw &
		sp=$!
		wait_file "$WORK/port.lossy-$1"
		"$c" tcp-client 198.51.100.2 "$(cat "$WORK/port.lossy-$1")" "$up" "$down" rw ||
			not_ok "the lossy $1 client ran"
		wait "$sp" || not_ok "the lossy $1 server ran"
		expect "$c" "$up" "$down" "retransmissions, $1: client"
		expect "$s" "$down" "$up" "retransmissions, $1: server"
	else
		"$s" tcp-server 198.51.100.1 "$WORK/port.lossy-$1" "$down" "$up" sendfile &
		sp=$!
		wait_file "$WORK/port.lossy-$1"
		in_ns "$c" tcp-client 198.51.100.1 "$(cat "$WORK/port.lossy-$1")" "$down" "$up" rw ||
			not_ok "the lossy $1 client ran"
		wait "$sp" || not_ok "the lossy $1 server ran"
		expect "$c" "$down" "$up" "retransmissions, $1: client"
		expect "$s" "$up" "$down" "retransmissions, $1: server"
	fi
}
if command -v nft >/dev/null && in_ns nft -f - <<EOF
table inet lossy {
	chain in {
		type filter hook input priority 0;
		meta l4proto tcp numgen random mod 15 == 0 drop
	}
}
EOF
then
	r0=$(retrans_segs)
	lossy_case client-on-host
	lossy_case server-on-host
	r1=$(retrans_segs)
	check_match "the host retransmitted (TcpRetransSegs +$((r1 - r0)))" "^[1-9][0-9]{2,}$" $((r1 - r0))
	in_ns nft delete table inet lossy
	sleep 2.5
	check_expected
else
	skip "retransmissions: cannot load an nftables rule in the namespace (package nftables)"
fi

ps_stop
check_eq "  and the monitor stops cleanly" 0 "$PS_RC"

t_done
