#!/bin/bash
# What kernels without bpf_rdonly_cast (before 6.2, e.g. Debian 12's 6.1)
# pay for reading packet headers and sockets with bpf_probe_read_kernel:
# the sensor's packet programs timed by the kernel (bpf_stats: run time
# per run) on a 64-byte UDP stream, with the direct reads and with
# PICOSNITCH_NO_RDONLY_CAST=1 forcing the probe-read path, and with both
# of 6.1's paths (probe reads, and drops taken back through kfree_skb,
# which makes ingress keep each datagram it counted), in interleaved rounds
# on this kernel.  Prints ns per run of each and the ratios.
#   bench/probe-read.sh [rounds] [seconds]
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-5}
SECS=${2:-3}
bench_prepare bpftool

prev=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled=$prev; bench_cleanup' EXIT

# ns_per_run PROG: run_time_ns / run_cnt of the loaded program
ns_per_run() {
	bpftool prog show name "$1" 2>/dev/null |
		sed -n 's/.*run_time_ns \([0-9]*\) run_cnt \([0-9]*\).*/\1 \2/p' |
		awk '$2 > 0 { printf "%.1f\n", $1 / $2; exit }'
}

one() { # MODE
	unset PICOSNITCH_NO_RDONLY_CAST PICOSNITCH_SKIP_HOOKS
	[ "$1" = direct ] || export PICOSNITCH_NO_RDONLY_CAST=1
	[ "$1" = v61 ] && export PICOSNITCH_SKIP_HOOKS=ps_udp_drop
	rm -rf "$PICOSNITCH_DIR"
	monitor_start '{"Desktop notifications": false}' || exit 1
	"$BENCH/udp_stream" "$SECS" 64 >/dev/null
	echo "$(ns_per_run ps_ingress) $(ns_per_run ps_egress)"
	monitor_stop
}

di=() de=() pi=() pe=() si=() se=()
for r in $(seq "$ROUNDS"); do
	read -r a b <<<"$(one direct)"
	read -r c d <<<"$(one probe)"
	read -r e f <<<"$(one v61)"
	di+=("$a") de+=("$b") pi+=("$c") pe+=("$d") si+=("$e") se+=("$f")
	echo "round $r: ingress $a / $c / $e ns, egress $b / $d / $f ns (direct / probe reads / as on 6.1)"
done
m() { printf '%s\n' "$@" | median; }
row() { # NAME DIRECT PROBE V61
	printf '  %-11s direct %6s  probe reads %6s (x%.2f)  as on 6.1 %6s (x%.2f)\n' "$1" "$2" "$3" \
		"$(echo "$3 / $2" | bc -l)" "$4" "$(echo "$4 / $2" | bc -l)"
}
echo "medians over $ROUNDS rounds of ${SECS}s, 64-byte UDP over loopback, ns per program run:"
row ps_ingress "$(m "${di[@]}")" "$(m "${pi[@]}")" "$(m "${si[@]}")"
row ps_egress "$(m "${de[@]}")" "$(m "${pe[@]}")" "$(m "${se[@]}")"
