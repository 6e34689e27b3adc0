#!/bin/bash
# Every loss reaches error.log with its count, and traffic is still logged
# with what is known.  Each case freezes the monitor (SIGSTOP) while
# short-lived programs send, so the loss is certain, not a race:
#  - processes that exit before they can be identified (exec cache off);
#  - a ring buffer too small for the new processes' records;
#  - a flow table too small for the new flows;
#  - a closed-socket table and a listener table too small.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"

# numbers on the error.log lines matching PATTERN, summed (field N)
errsum() {
	grep "$1" "$PICOSNITCH_DIR/error.log" | awk -v n="$2" '{ s += $n } END { print s + 0 }'
}

# burst NAME COUNT: COUNT processes of a fresh program send one 321-byte
# datagram each to a new sink, while the monitor is frozen (the sink's
# first datagram comes before, so the sink itself is known while it lives)
burst() {
	local name=$1 n=$2 s c pf
	s=$(prog "$name.sink")
	c=$(prog "$name")
	pf=$WORK/port.$name
	"$s" udp-sink 127.0.0.1 "$pf" $((n + 1)) &
	local sp=$!
	wait_file "$pf" || return 1
	echo x >"/dev/udp/127.0.0.1/$(cat "$pf")"	# from this shell, which lives on
	sleep 0.5
	kill -STOP "$PS_PID"
	for _ in $(seq "$n"); do "$c" udp-once 127.0.0.1 "$(cat "$pf")" 321; done
	kill -CONT "$PS_PID"
	wait "$sp"
}

sent_by() { db "SELECT ifnull(sum(sent),0) FROM connection_log WHERE name = '$1'"; }

# ---- exited before they could be identified ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1}'
PICOSNITCH_SKIP_HOOKS=ps_exec,ps_fork ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
burst gone-early 5 || not_ok "the programs ran"
sleep 2.5
ps_stop
check_eq "5 processes gone before they could be read are counted in error.log" 5 \
	"$(errsum 'processes exited before they could be identified' 3)"
check_eq "their traffic is still logged, under the name the kernel reported" $((5 * 321)) \
	"$(sent_by gone-early)"
check_eq "with no executable path" "" \
	"$(db "SELECT DISTINCT executable FROM connection_log WHERE name = 'gone-early'")"
check_match "the missing hooks are named in error.log" "does not offer 'ps_exec'" \
	"$(cat "$PICOSNITCH_DIR/error.log")"

# ---- ring buffer full ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Perf ring buffer (pages)": 1}'
ps_start || { not_ok "the monitor starts with a one-page ring buffer"; t_done; exit 1; }
burst ringfull 60 || not_ok "the programs ran"
sleep 2.5
ps_stop
lost=$(errsum 'event ring buffer full' 7)
check_match "records lost on a full ring buffer are counted in error.log" "^[1-9][0-9]*$" "$lost"
check_eq "the traffic of all 60 processes is still counted" $((60 * 321)) "$(sent_by ringfull)"
check_eq "and every one is named from the exec cache" "$WORK/bin/ringfull" \
	"$(db "SELECT group_concat(DISTINCT executable) FROM connection_log WHERE name = 'ringfull'")"

# ---- flow table full ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1}'
PICOSNITCH_FLOW_TABLE=16 ps_start || { not_ok "the monitor starts with a 16-flow table"; t_done; exit 1; }
burst tablefull 40 || not_ok "the programs ran"
sleep 2.5
ps_stop
line=$(grep 'flow table full (16 flows)' "$PICOSNITCH_DIR/error.log" | head -1)
check_match "a full flow table is reported with its size and counts" \
	"flow table full \(16 flows\): [0-9]+ new flows could not be recorded; their [0-9]+ bytes sent and [0-9]+ bytes received are missing" \
	"$line"
lost_sent=$(grep 'flow table full' "$PICOSNITCH_DIR/error.log" | sed -E 's/.*their ([0-9]+) bytes sent.*/\1/' | awk '{ s += $1 } END { print s + 0 }')
logged=$(sent_by tablefull)
check_eq "logged and reported-missing bytes add up to at least what was sent" 1 \
	"$(( logged + lost_sent >= 40 * 321 ))"
check_match "some of it was logged" "^[1-9][0-9]*$" "$logged"
# ---- closed-socket table full ----
# 40 sockets close while the monitor is frozen, into a table of 8: their
# flows cannot be collected, but what they carried is still logged.
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1}'
PICOSNITCH_CLOSED_TABLE=8 ps_start || { not_ok "the monitor starts with an 8-socket closed table"; t_done; exit 1; }
burst closedfull 40 || not_ok "the programs ran"
sleep 2.5
ps_stop
check_match "a full closed-socket table is reported with its count (at least 32 of 40)" \
	"^(3[2-9]|[4-9][0-9]|[1-9][0-9]{2,})$" "$(errsum "table of closed sockets was full" 10)"
check_eq "the bytes of the sockets it could not hold are still logged" $((40 * 321)) \
	"$(sent_by closedfull)"

# ---- listener table full ----
# Five UDP servers bind ports; the table holds two.
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1}'
PICOSNITCH_LISTENER_TABLE=2 ps_start || { not_ok "the monitor starts with a 2-port listener table"; t_done; exit 1; }
lf=$(prog listenfull.sink)
lc=$(prog listenfull.sender)
sinks=()
for i in 1 2 3 4 5; do
	"$lf" udp-sink 127.0.0.1 "$WORK/port.listenfull.$i" 1 &
	sinks+=($!)
done
for i in 1 2 3 4 5; do
	wait_file "$WORK/port.listenfull.$i" && "$lc" udp-once 127.0.0.1 "$(cat "$WORK/port.listenfull.$i")" 123
done
wait "${sinks[@]}"
sleep 2.5
ps_stop
check_match "a full listener table is reported with its count (at least 3 of 5)" \
	"^([3-9]|[1-9][0-9]+)$" "$(errsum "table of listening and bound ports was full" 12)"
check_eq "the servers' traffic is still logged" $((5 * 123)) \
	"$(db "SELECT ifnull(sum(received),0) FROM connection_log WHERE name = 'listenfull.sink'")"
t_done
