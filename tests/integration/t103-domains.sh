#!/bin/bash
# Domains: a DNS server in a network namespace answers A and AAAA questions;
# after a program asks, traffic of any program to the answered address is
# logged with the name asked (snitch.db and conn.log), traffic to other
# addresses with none; answers that match no query sent (forged from the
# namespace: no query at all, or a wrong transaction id) teach nothing and
# are counted in error.log; "Log ignore" domain rules then drop exactly the
# traffic of that domain; "Log addresses": false leaves domains empty.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
netns_up || skip_all "cannot create a network namespace with a veth pair here"

V4=198.51.100.2
V6=2001:db8:100::2
one() { db "SELECT group_concat(DISTINCT domain) FROM connection_log WHERE executable = '$1'"; }
log_domain() { awk -F, -v e="$1" '$4 == e { print $17 }' "$PICOSNITCH_DIR/conn.log" | sort -u; }

# run NAME: ask for www.<NAME> (A) and v6.<NAME> (AAAA), then send to both
# answers and to a never-resolved address; sets C4 C6 CL
run() {
	local tag=$1 dns asker sink sink6 pids
	dns=$(prog "dns-$tag.server")
	in_ns "$dns" dns-server "$V4" "$WORK/dns-$tag.ready" "$V4" "$V6" 2 &
	pids=$!
	wait_file "$WORK/dns-$tag.ready" || return 1
	asker=$(prog "asker-$tag")
	"$asker" dns-query "$V4" "www.snitch-test.example" A || return 1
	"$asker" dns-query "$V4" "V6.Snitch-Test.Example" AAAA || return 1
	sink=$(prog "sink-$tag")
	in_ns "$sink" udp-sink "$V4" "$WORK/sink-$tag.port" 3 &
	pids="$pids $!"
	wait_file "$WORK/sink-$tag.port" || return 1
	sink6=$(prog "sink6-$tag")
	in_ns "$sink6" udp-sink "$V6" "$WORK/sink6-$tag.port" 3 &
	pids="$pids $!"
	wait_file "$WORK/sink6-$tag.port" || return 1
	C4=$(prog "to-www-$tag")
	C6=$(prog "to-v6-$tag")
	CL=$(prog "to-lo-$tag")
	"$C4" udp-client "$V4" "$(cat "$WORK/sink-$tag.port")" 3 100 0 connected || return 1
	"$C6" udp-client "$V6" "$(cat "$WORK/sink6-$tag.port")" 3 100 0 connected || return 1
	local lsink
	lsink=$(prog "lsink-$tag")
	"$lsink" udp-sink 127.0.0.1 "$WORK/lsink-$tag.port" 3 &
	pids="$pids $!"
	wait_file "$WORK/lsink-$tag.port" || return 1
	"$CL" udp-client 127.0.0.1 "$(cat "$WORK/lsink-$tag.port")" 3 100 0 connected || return 1
	# shellcheck disable=SC2086
	wait $pids
}

# ---- names learned from answers ----
ps_config '{"DB write limit (seconds)": 1, "DB text log": true, "Desktop notifications": false}'
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
if run plain; then ok "the DNS server answered and the programs ran"; else not_ok "the programs ran"; fi
sleep 2.5
ps_stop
check_eq "traffic to an A answer carries the name asked (snitch.db)" "www.snitch-test.example" "$(one "$C4")"
check_eq "  and in conn.log" "www.snitch-test.example" "$(log_domain "$C4")"
check_eq "traffic to an AAAA answer carries its name, in lower case" "v6.snitch-test.example" "$(one "$C6")"
check_eq "  and in conn.log" "v6.snitch-test.example" "$(log_domain "$C6")"
check_eq "  with all its bytes" "300 0" "$(db_totals "$C6")"
check_eq "traffic to an address never resolved has no domain" "" "$(one "$CL")"
source_of() { db "SELECT group_concat(DISTINCT domain_source) FROM connection_log WHERE executable = '$1'"; }
check_eq "the names came from DNS over UDP (domain_source)" "dns dns" "$(source_of "$C4") $(source_of "$C6")"
check_eq "  and no name has no source" "" "$(source_of "$CL")"
check_eq "the domains table holds the two names" "v6.snitch-test.example www.snitch-test.example" \
	"$(db "SELECT domain FROM domains WHERE domain != '' ORDER BY domain" | tr '\n' ' ' | sed 's/ $//')"
check_eq "nothing went wrong" "" "$(cat "$PICOSNITCH_DIR/error.log")"

# ---- forged answers ----
FORGE="python3 $ROOT/tests/helpers/dnsforge.py"
# unmatched: the count of "N DNS answers matched no query" in error.log
unmatched() {
	awk '/DNS answers matched no query/ { n = $3; r = 1
		if (match($0, /\(repeated [0-9]+ times\)/)) r = substr($0, RSTART + 10) + 0
		t += n * r } END { print t + 0 }' "$PICOSNITCH_DIR/error.log"
}
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
ps_start || { not_ok "the monitor starts for forged answers"; t_done; exit 1; }
# an answer no one asked for, sent from port 53 of the namespace to a
# socket of this side: it says forged.snitch-test.example is $V4
$FORGE listen 198.51.100.1 "$WORK/victim.port" &
victim=$!
wait_file "$WORK/victim.port" || not_ok "the victim listens"
in_ns $FORGE inject "$V4" 198.51.100.1 "$(cat "$WORK/victim.port")" forged.snitch-test.example "$V4"
wait $victim
check_eq "the forged answer reached its socket" 0 $?
# a real question, answered first with a wrong transaction id ($V4), then
# rightly ($RIGHT, which the namespace also has)
RIGHT=203.0.113.7
if ip -o addr | grep -q '203\.0\.113\.' || ip route | grep -q '^203\.0\.113\.'; then
	not_ok "203.0.113.0/24 is already used here"; t_done; exit 1
fi
in_ns ip addr add $RIGHT/32 dev "$VETH_N" && ip route add $RIGHT/32 via 198.51.100.2 ||
	{ not_ok "cannot route $RIGHT into the namespace"; t_done; exit 1; }
in_ns $FORGE server "$V4" "$WORK/forge-server.ready" "$V4" $RIGHT &
fs=$!
wait_file "$WORK/forge-server.ready" || not_ok "the forging server listens"
$FORGE ask "$V4" wrongid.snitch-test.example
check_eq "both answers came" 0 $?
wait $fs
sink=$(prog sink-forged)
in_ns "$sink" udp-sink "$V4" "$WORK/sink-forged.port" 3 &
sp=$!
wait_file "$WORK/sink-forged.port" || not_ok "the sink listens"
F4=$(prog to-forged)
"$F4" udp-client "$V4" "$(cat "$WORK/sink-forged.port")" 3 100 0 connected
wait $sp
in_ns "$sink" udp-sink $RIGHT "$WORK/sink-right.port" 3 &
sp=$!
wait_file "$WORK/sink-right.port" || not_ok "the sink listens on $RIGHT"
FR=$(prog to-right)
"$FR" udp-client $RIGHT "$(cat "$WORK/sink-right.port")" 3 100 0 connected
wait $sp
sleep 2.5
ps_stop
check_eq "traffic to the forged address has no domain" "" "$(one "$F4")"
check_eq "  and all its bytes" "300 0" "$(db_totals "$F4")"
check_eq "the right answer after a wrong one was used" "wrongid.snitch-test.example" "$(one "$FR")"
check_eq "  from DNS" "dns" "$(source_of "$FR")"
check_eq "no forged name was stored" "wrongid.snitch-test.example" \
	"$(db "SELECT domain FROM domains WHERE domain != ''")"
check_eq "error.log counts the two answers that matched no query" 2 "$(unmatched)"

# ---- DNS over TCP ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
ps_start || { not_ok "the monitor starts for DNS over TCP"; t_done; exit 1; }
tdns=$(prog dns-tcp.server)
in_ns "$tdns" dns-tcp-server "$V4" "$WORK/dns-tcp.ready" "$V4" 1 &
ts=$!
wait_file "$WORK/dns-tcp.ready" || not_ok "the TCP DNS server listens"
"$(prog asker-tcp)" dns-tcp-query "$V4" Tcp.Snitch-Test.Example
check_eq "the TCP DNS server answered" 0 $?
wait $ts
in_ns "$sink" udp-sink "$V4" "$WORK/sink-tcp.port" 3 &
sp=$!
wait_file "$WORK/sink-tcp.port" || not_ok "the sink listens for DNS over TCP"
T4=$(prog to-tcp-name)
"$T4" udp-client "$V4" "$(cat "$WORK/sink-tcp.port")" 3 100 0 connected
wait $sp
sleep 2.5
ps_stop
check_eq "a name answered over TCP is the flow's domain" "tcp.snitch-test.example" "$(one "$T4")"
check_eq "  from DNS over TCP" "dns-tcp" "$(source_of "$T4")"
check_eq "  and nothing went wrong" "" "$(cat "$PICOSNITCH_DIR/error.log")"

# ---- Log ignore with a domain rule ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false,
            "Log ignore": ["example.snitch-test.www", "example.snitch-tes"]}'
ps_start || { not_ok "the monitor starts again"; t_done; exit 1; }
run ignore || not_ok "the programs ran again"
sleep 2.5
ps_stop
check_eq "a domain rule drops that domain's traffic" "0 0" "$(db_totals "$C4")"
check_eq "  not its sibling's, nor a rule ending mid-label" "300 0" "$(db_totals "$C6")"
check_eq "  and the ignored program is still in record.json" "yes" \
	"$(grep -q "to-www-ignore" "$PICOSNITCH_DIR/record.json" && echo yes)"

# ---- the same rule with Log addresses false: it matches the real name ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false, "Log addresses": false,
            "Log ignore": ["example.snitch-test.www"]}'
ps_start || { not_ok "the monitor starts with Log addresses false and a domain rule"; t_done; exit 1; }
run ignore-blank || not_ok "the programs ran with Log addresses false"
sleep 2.5
ps_stop
check_eq "with Log addresses false a domain rule still drops that domain's traffic" "0 0" "$(db_totals "$C4")"
check_eq "  not its sibling's" "300 0" "$(db_totals "$C6")"

# ---- Log addresses false: no domain either ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false, "Log addresses": false}'
ps_start || { not_ok "the monitor starts a third time"; t_done; exit 1; }
run blank || not_ok "the programs ran a third time"
sleep 2.5
ps_stop
check_eq "with Log addresses false the domain is empty too" "" "$(one "$C4")"
check_eq "  and the bytes are logged" "300 0" "$(db_totals "$C4")"
t_done
