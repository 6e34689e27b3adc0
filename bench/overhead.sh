#!/bin/bash
# Overhead: what the monitor costs the traffic it watches, measured side by
# side in one run.  Interleaved trials (the order rotates every round) of
# three loopback workloads, each pinned client on CPU 0 / server on CPU 1:
#   tcp64  iperf3 TCP stream with 64-byte writes (syscall-heavy)
#   udp64  iperf3 UDP with 64-byte datagrams, sender unpaced (-b 0); what is
#          received counts
#   rr1    1-byte TCP request/response ping-pong
# run with nothing watching, with picosnitch, and with nethogs (the peer).
# Prints, per workload, the median over rounds of the per-round ratio to the
# unwatched run (1.00 = no cost), and picosnitch's CPU during tcp64.
#   bench/overhead.sh [ROUNDS] [SECONDS-PER-TRIAL]
# WORKLOADS="tcp64 udp64 rr1" and PEERS="picosnitch nethogs" choose a subset;
# a peer bin:PATH runs another build of picosnitch.
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-10}
SECS=${2:-3}
bench_prepare iperf3 nethogs

iperf3 -s -A 1 -p 5399 >/dev/null 2>&1 &
IPERF_PID=$!
trap 'kill $IPERF_PID 2>/dev/null; bench_cleanup' EXIT
sleep 0.5

tcp64() {
	iperf3 -c 127.0.0.1 -p 5399 -l 64 -t "$SECS" -A 0 -J 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'
}
udp64() {
	iperf3 -c 127.0.0.1 -p 5399 -u -b 0 -l 64 -t "$SECS" -A 0 -J 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'
}
rr1() { "$BENCH/rr" "$SECS"; }

RES=$WORK/results
: >"$RES"
read -r -a variants <<<"none ${PEERS:-picosnitch nethogs}"
WORKLOADS=${WORKLOADS:-tcp64 udp64 rr1}
nv=${#variants[@]}
for r in $(seq "$ROUNDS"); do
	for i in $(seq 0 $((nv - 1))); do
		v=${variants[$(((i + r) % nv))]}
		case $v in
		picosnitch) monitor_start || exit 1 ;;
		picosnitch-*) PICOSNITCH_SKIP_HOOKS=${v#picosnitch-} monitor_start || exit 1 ;;
		bin:*) # another build of picosnitch (for development)
			BIN=${v#bin:} monitor_start || exit 1 ;;
		nethogs) nethogs_start lo ;;
		obj:*) # a bare BPF object, attached by a loader (for development)
			"${BPF_LOADER:?}" "${v#obj:}" hold >/dev/null 2>&1 &
			PEER_PID=$!
			sleep 1 ;;
		esac
		tcp=0 udp=0 rr=0 cpu=0
		if [[ " $WORKLOADS " == *" tcp64 "* ]]; then
			c0=0
			[ "$v" = picosnitch ] && c0=$(both_cpu_ticks)
			t0=$(date +%s.%N)
			tcp=$(tcp64)
			t1=$(date +%s.%N)
			[ "$v" = picosnitch ] &&
				cpu=$(awk -v a="$c0" -v b="$(both_cpu_ticks)" -v t="$(echo "$t1 - $t0" | bc)" \
					-v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", 100 * (b - a) / hz / t }')
		fi
		[[ " $WORKLOADS " == *" udp64 "* ]] && udp=$(udp64)
		[[ " $WORKLOADS " == *" rr1 "* ]] && rr=$(rr1)
		echo "$r $v $tcp $udp $rr $cpu" >>"$RES"
		case $v in
		picosnitch* | bin:*) monitor_stop ;;
		nethogs | obj:*) nethogs_stop ;;
		esac
	done
	echo "round $r/$ROUNDS done" >&2
done

ratio() { # VARIANT COLUMN: median over rounds of variant/none
	awk -v v="$1" -v c="$2" '{ val[$1 " " $2] = $c } END {
		for (k in val) { split(k, p, " "); if (p[2] == v && val[p[1] " none"] > 0)
			print val[k] / val[p[1] " none"] } }' "$RES" | median
}

echo
echo "overhead, median of $ROUNDS interleaved rounds of ${SECS}s trials (ratio to no monitor; 1.00 = free)"
printf '%-34s' workload
for v in "${variants[@]:1}"; do printf ' %12s' "$v"; done
echo
row() { # LABEL COLUMN
	printf '%-34s' "$1"
	for v in "${variants[@]:1}"; do printf ' %12.3f' "$(ratio "$v" "$2")"; done
	echo
}
[[ " $WORKLOADS " == *" tcp64 "* ]] && row "tcp64 throughput (iperf3 -l 64)" 3
[[ " $WORKLOADS " == *" udp64 "* ]] && row "udp64 throughput (64-byte UDP)" 4
[[ " $WORKLOADS " == *" rr1 "* ]] && row "rr1 transactions/s (1-byte TCP)" 5
echo
printf 'picosnitch CPU during tcp64: median %s%% of one core\n' \
	"$(awk '$2 == "picosnitch" { print $6 }' "$RES" | median)"
printf 'unwatched medians: tcp64 %.0f Mbit/s, udp64 %.1f MB/s, rr1 %.0f transactions/s\n' \
	"$(awk '$2 == "none" { print $3 / 1e6 }' "$RES" | median)" \
	"$(awk '$2 == "none" { print $4 / 8e6 }' "$RES" | median)" \
	"$(awk '$2 == "none" { print $5 }' "$RES" | median)"
