#!/bin/bash
# kill -9 of the monitor and its logger together, at a random moment of
# heavy traffic, 20 times: snitch.db passes its integrity check every
# time, the next start reports the gap every time ("picosnitch was not
# running (or not recording) from T1 to T2"), and what is lost is at most
# the window being gathered (1 s here) and the drain not yet handed over
# (1 s).
source "$(dirname "$0")/lib.sh"

KILLS=${FAULT_KILLS:-20}
ps_config '{"DB write limit (seconds)": 1, "DB text log": true, "Desktop notifications": false}'
SINK=$(prog counting-sink)
logger_pid() { pgrep -f -P "$1" 'picosnitch logger' | head -1; }

worst_lost_s=0 worst_gap_s=0 integrity_ok=0 gaps_ok=0 lost_ok=0 total_sent=0
RANDOM=$$
start
for i in $(seq "$KILLS"); do
	rm -f "$WORK/sink.port" "$WORK/sink.count"
	"$SINK" udp-count-sink 127.0.0.1 "$WORK/sink.port" "$WORK/sink.count" &
	sink=$!
	wait_file "$WORK/sink.port"
	port=$(cat "$WORK/sink.port")
	S=$(prog "heavy-$i")
	# 8 KiB datagrams about every millisecond from two senders, and a
	# spray of short-lived entries: several MB/s and many entries a window
	t_begin=$(now_s)
	"$S" udp-paced 127.0.0.1 "$port" 60000 8192 1 &
	s1=$!
	"$S" udp-paced 127.0.0.1 "$port" 60000 4096 1 &
	s2=$!
	"$(prog "spray-$i")" udp-spray 127.0.0.1 61000 500 64
	# 1.5 to 4 s after the traffic began, at a random millisecond
	sleep "$((1 + RANDOM % 3)).$((RANDOM % 1000))"
	L=$(logger_pid "$PS_PID")
	kill -STOP "$s1" "$s2"
	t_end=$(now_s)
	kill_at=$(date +%s)
	kill -KILL "$PS_PID" $L
	wait "$PS_PID" 2>/dev/null
	PS_PID=
	kill -KILL "$s1" "$s2"
	wait "$s1" "$s2" 2>/dev/null
	kill -TERM "$sink"
	wait "$sink"
	for _ in $(seq 30); do [ -n "$L" ] && kill -0 "$L" 2>/dev/null || break; sleep 0.1; done
	sent=$(cat "$WORK/sink.count")
	# the check reads as the user: a reader as root would leave root's
	# files beside snitch.db
	if [ "$(udb 'PRAGMA integrity_check')" = ok ]; then
		integrity_ok=$((integrity_ok + 1))
	else
		echo "# kill $i: integrity check failed: $(udb 'PRAGMA integrity_check' 2>&1 | head -3)"
	fi
	recorded=$(sent_db "$S")
	rate=$(awk "BEGIN { print $sent / ($t_end - $t_begin) }")
	lost_s=$(awk "BEGIN { printf \"%.2f\", ($sent - $recorded) / $rate }")
	total_sent=$((total_sent + sent))
	# the next start reports the gap
	start
	gap=$(grep -o 'picosnitch was not running (or not recording) from [0-9-]* [0-9:]* to [0-9-]* [0-9:]*' \
		"$WORK/daemon.log" | tail -1)
	if [ -n "$gap" ]; then
		from=$(sed -E 's/.* from ([0-9-]+ [0-9:]+) to .*/\1/' <<<"$gap")
		gap_s=$((kill_at - $(date -d "$from" +%s)))
		if [ "$gap_s" -le 3 ] && [ "$gap_s" -ge -1 ]; then
			gaps_ok=$((gaps_ok + 1))
		else
			echo "# kill $i: the gap begins ${gap_s} s before the kill"
		fi
		[ "$gap_s" -gt "$worst_gap_s" ] && worst_gap_s=$gap_s
	else
		echo "# kill $i: no gap reported"
	fi
	# at most one window (1 s) and one drain (1 s) of this traffic, with
	# a quarter second of slack for each on a loaded machine
	if awk "BEGIN { exit !($lost_s <= 2.5 && $recorded <= $sent) }"; then
		lost_ok=$((lost_ok + 1))
	else
		echo "# kill $i: $recorded of $sent bytes recorded, ${lost_s} s of traffic lost"
	fi
	awk "BEGIN { exit !($lost_s > $worst_lost_s) }" && worst_lost_s=$lost_s
	echo "# kill $i: $sent bytes sent, $recorded recorded (${lost_s} s of traffic lost); $gap"
done
ps_stop
check_eq "after each of $KILLS kills, snitch.db passes its integrity check" "$KILLS" "$integrity_ok"
check_eq "  the next start reports the gap, from the last window written (within 3 s of the kill)" \
	"$KILLS" "$gaps_ok"
check_eq "  and what was lost is at most the window and the drain under way (1 s each)" "$KILLS" "$lost_ok"
check_eq "the gap is in conn.log's comments too" "$KILLS" \
	"$(grep -c '^# picosnitch was not running (or not recording) from' "$PICOSNITCH_DIR/conn.log" 2>/dev/null || echo 0)"
echo "# $KILLS kills -9 during $((total_sent / 1000000)) MB of traffic: integrity ok $integrity_ok/$KILLS, gap reported $gaps_ok/$KILLS, worst loss ${worst_lost_s} s of traffic, worst gap start ${worst_gap_s} s before the kill"
t_done
