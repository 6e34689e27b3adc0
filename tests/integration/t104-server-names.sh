#!/bin/bash
# Server names from the first bytes of connections, with no DNS for them:
# a TLS client (a copy of openssl s_client, -servername) to openssl
# s_server in a network namespace is logged with the name it sent (source
# sni); RFC 9001 A.2's QUIC Initial sent over UDP is logged with the name
# in its ClientHello, example.com (source quic); and when a DNS answer
# matched a query for the same address, the DNS name wins over the TLS
# server name.  Exact names and sources in snitch.db and conn.log.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
OPENSSL=$(command -v openssl) || skip_all "needs the openssl command"
netns_up || skip_all "cannot create a network namespace with a veth pair here"

V4=198.51.100.2
V6=2001:db8:100::2
one() { db "SELECT group_concat(DISTINCT domain) FROM connection_log WHERE executable = '$1'"; }
source_of() { db "SELECT group_concat(DISTINCT domain_source) FROM connection_log WHERE executable = '$1'"; }
log_domain() { awk -F, -v e="$1" '$4 == e { print $17 }' "$PICOSNITCH_DIR/conn.log" | sort -u; }

"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=snitch-test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1 ||
	skip_all "openssl cannot make a test certificate"

# tls NAME SERVERNAME: one TLS handshake to $V4:4433 by a client named NAME;
# sets TLSC
tls() {
	local srv
	in_ns timeout 20 "$OPENSSL" s_server -accept "$V4:4433" -cert "$WORK/cert.pem" \
		-key "$WORK/key.pem" -naccept 1 -quiet </dev/null >"$WORK/s_server-$1.log" 2>&1 &
	srv=$!
	for _ in $(seq 100); do
		in_ns ss -Hltn "sport = :4433" | grep -q 4433 && break
		sleep 0.05
	done
	mkdir -p "$WORK/bin"
	cp "$OPENSSL" "$WORK/bin/$1"
	TLSC=$WORK/bin/$1
	timeout 20 "$TLSC" s_client -connect "$V4:4433" -servername "$2" </dev/null \
		>"$WORK/s_client-$1.log" 2>&1
	local rc=$?
	wait "$srv"
	return $rc
}

# ---- TLS and QUIC, no DNS ----
ps_config '{"DB write limit (seconds)": 1, "DB text log": true, "Desktop notifications": false}'
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
if tls tls-client Only-TLS.Snitch-Test.Example; then
	ok "the TLS client finished its handshake"
else
	not_ok "the TLS client finished its handshake"
	sed 's/^/#   /' "$WORK/s_client-tls-client.log" | tail -5
fi
sink=$(prog quic-sink)
in_ns "$sink" udp-sink "$V6" "$WORK/quic-sink.port" 1 &
spid=$!
wait_file "$WORK/quic-sink.port"
QC=$(prog quic-client)
if "$QC" quic-initial "$V6" "$(cat "$WORK/quic-sink.port")"; then
	ok "RFC 9001 A.2's Initial was sent"
else
	not_ok "RFC 9001 A.2's Initial was sent"
fi
wait "$spid"
sleep 2.5
ps_stop
check_eq "the TLS client's traffic carries its server name, in lower case (snitch.db)" \
	"only-tls.snitch-test.example" "$(one "$TLSC")"
check_eq "  from sni" "sni" "$(source_of "$TLSC")"
check_eq "  and in conn.log" "only-tls.snitch-test.example" "$(log_domain "$TLSC")"
check_eq "the QUIC client's traffic carries example.com" "example.com" "$(one "$QC")"
check_eq "  from quic" "quic" "$(source_of "$QC")"
check_eq "  with its 1200 bytes" "1200 0" "$(db_totals "$QC")"
check_eq "the domains table holds them with their sources" \
	"example.com quic|only-tls.snitch-test.example sni" \
	"$(db "SELECT domain || ' ' || source FROM domains WHERE domain LIKE '%example%' ORDER BY domain" |
		paste -sd'|')"
check_eq "nothing went wrong" "" "$(cat "$PICOSNITCH_DIR/error.log")"

# ---- DNS and TLS for one address: DNS wins ----
ps_start || { not_ok "the monitor starts again"; t_done; exit 1; }
dns=$(prog dns-server)
in_ns "$dns" dns-server "$V4" "$WORK/dns.ready" "$V4" "$V6" 1 &
dpid=$!
wait_file "$WORK/dns.ready"
asker=$(prog dns-asker)
"$asker" dns-query "$V4" www.snitch-test.example A || not_ok "the DNS query was answered"
wait "$dpid"
tls tls-after-dns other.snitch-test.example || not_ok "the second TLS handshake"
sleep 2.5
ps_stop
check_eq "a TLS client to an address DNS named carries the DNS name" \
	"www.snitch-test.example" "$(one "$TLSC")"
check_eq "  from dns" "dns" "$(source_of "$TLSC")"
check_eq "  and the TLS server name is in no table" "0" \
	"$(db "SELECT count(*) FROM domains WHERE domain = 'other.snitch-test.example'")"
check_eq "nothing went wrong" "" "$(cat "$PICOSNITCH_DIR/error.log")"

t_done
