#!/bin/bash
# The paths older kernels take, run on this one:
#  - as on 6.1: without bpf_rdonly_cast sockets are read with probe reads
#    (PICOSNITCH_NO_RDONLY_CAST=1), and without the datagram in
#    udp_fail_queue_rcv_skb (the 3-argument hook left out) drops are taken
#    back through kfree_skb: t102's cases (namespaces, slots, drops) with
#    exact bytes and namespaces;
#  - an optional hook whose alternative the kernel refuses at load time is
#    dropped alone and named in error.log, and everything else is counted:
#    with the sk_data_ready tracepoint left out, the AF_PACKET receive
#    hook falls back to a trampoline on sock_def_readable, which kernels
#    without BPF trampolines (this VM) refuse.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"

# ---- the paths of 6.1 ----
out=$(PICOSNITCH_NO_RDONLY_CAST=1 PICOSNITCH_SKIP_HOOKS=ps_udp_drop bash "$ROOT/tests/integration/t102-datagram-slots.sh" 2>&1)
while IFS= read -r line; do
	case $line in
	"ok "*) ok "as on 6.1: ${line#ok * - }" ;;
	"not ok "*) not_ok "as on 6.1: ${line#not ok * - }" ;;
	"1..0 # skip"*) skip "as on 6.1: ${line#1..0 # skip }" ;;
	"#"*) echo "$line" ;;
	esac
done <<<"$out"

# ---- a refused alternative ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
PICOSNITCH_SKIP_HOOKS=ps_packet_recv ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
ok "the monitor starts with the tracepoint left out"
c=$(prog fallback.client)
s=$(prog fallback.server)
"$s" udp-server 127.0.0.1 "$WORK/port.fallback" 9 444 111 connected &
sp=$!
if wait_file "$WORK/port.fallback" &&
	"$c" udp-client 127.0.0.1 "$(cat "$WORK/port.fallback")" 9 444 111 connected && wait "$sp"; then
	sleep 2.5
	ps_stop
	check_eq "UDP is counted exactly: client" "3996 999" "$(db_totals "$c")"
	check_eq "UDP is counted exactly: server" "999 3996" "$(db_totals "$s")"
	if grep -q "the kernel refused ps_packet_recv_fentry" "$PICOSNITCH_DIR/error.log"; then
		check_match "error.log names the refused program, why, and what is not seen" \
			"does not offer 'ps_packet_recv' \(left out by PICOSNITCH_SKIP_HOOKS; the kernel refused ps_packet_recv_fentry: [^)]+\): not seen: frames received on AF_PACKET sockets" \
			"$(cat "$PICOSNITCH_DIR/error.log")"
	else
		check_eq "the trampoline alternative loaded: nothing about AF_PACKET is missing" "" \
			"$(grep -i 'AF_PACKET' "$PICOSNITCH_DIR/error.log")"
	fi
else
	not_ok "the programs ran"
	ps_stop
fi
t_done
