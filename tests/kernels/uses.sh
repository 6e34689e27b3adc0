#!/bin/bash
# Prints, for the running kernel, which variant of each hook that has one
# the shipped monitor loads, and what it lacks, as "uses ..." and
# "lacks ..." lines.  Used by tests/kernels/run.sh on this machine and
# inside each booted kernel.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d)
chmod 0755 "$d"	# the logger, as the desktop user, reaches it by path
PICOSNITCH_DIR=$d/state PICOSNITCH_PIDFILE=$d/pid "$ROOT/build/picosnitch" start-no-daemon >"$d/out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	grep -q "monitoring network traffic" "$d/out" && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
if ! grep -q "monitoring network traffic" "$d/out"; then
	echo "lacks everything: the monitor did not start: $(tr '\n' ' ' <"$d/out")"
else
	progs=$(bpftool prog show 2>/dev/null | grep -o 'name ps_[a-z0-9_]*' | cut -d' ' -f2 | sort -u)
	[ -n "${USES_DEBUG:-}" ] && echo "progs: $(echo $progs)"
	case $progs in *ps_packet_recv_*) echo "uses AF_PACKET receive through fentry/sock_def_readable (no sk_data_ready tracepoint)" ;; esac
	case $progs in *ps_udp_drop_skb*) echo "uses UDP drops through kfree_skb (udp_fail_queue_rcv_skb names no datagram)" ;; esac
	if ! bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -q "FUNC 'bpf_rdonly_cast'"; then
		echo "uses probe reads for packet headers and cgroup sockets (no bpf_rdonly_cast)"
	fi
fi
kill -INT $pid 2>/dev/null
wait $pid 2>/dev/null
sed -n "s/.*this kernel does not offer \('[^']*'\) (\([^)]*\)): not seen: \(.*\)/lacks \1: \3 (\2)/p" \
	"$d/state/error.log" 2>/dev/null
rm -rf "$d"
