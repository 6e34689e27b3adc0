#!/bin/bash
# Footprint: picosnitch's memory at idle, both processes (proportional set size, so shared
# libraries count by their share), next to nethogs watching the same
# machine, and its CPU over an idle minute.  Target: PSS <= 15 MB.
#   bench/footprint.sh [IDLE-SECONDS]
source "$(dirname "$0")/lib.sh"
IDLE=${1:-20}
bench_prepare nethogs

monitor_start || exit 1
sleep 3	# start-up done: BPF loaded, processes seeded
c0=$(both_cpu_ticks)
sleep "$IDLE"
c1=$(both_cpu_ticks)
mpss=$(pss_kb "$MON_PID")
lpss=$(pss_kb "$LOG_PID")
pss=$((mpss + lpss))
rss=$(($(awk '/^VmRSS:/ { print $2 }' "/proc/$MON_PID/status") + $(awk '/^VmRSS:/ { print $2 }' "/proc/$LOG_PID/status")))
# kernel memory the sensor's maps hold (not in the process's PSS)
maps_kb=$(bpftool map show 2>/dev/null | awk '/memlock/ { for (i = 1; i < NF; i++) if ($i == "memlock") { v = $(i + 1); sub("B", "", v); s += v } } END { printf "%d", s / 1024 }')
monitor_stop

nethogs_start -a
sleep 3
npss=$(pss_kb "$PEER_PID")
nethogs_stop

echo "footprint at idle (after ${IDLE}s)"
printf '  picosnitch, both processes: PSS %.1f MB (monitor %.1f, logger %.1f; RSS %.1f MB), CPU %.2f%% of one core\n' \
	"$(echo "$pss / 1024" | bc -l)" "$(echo "$mpss / 1024" | bc -l)" "$(echo "$lpss / 1024" | bc -l)" \
	"$(echo "$rss / 1024" | bc -l)" \
	"$(echo "100 * ($c1 - $c0) / $(getconf CLK_TCK) / $IDLE" | bc -l)"
printf '  BPF maps in kernel memory (all loaded maps): %.1f MB\n' "$(echo "$maps_kb / 1024" | bc -l)"
printf '  nethogs -a (peer): PSS %.1f MB\n' "$(echo "$npss / 1024" | bc -l)"
