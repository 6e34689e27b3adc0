#!/bin/bash
# Sockets made before the monitor started have no state in the sensor until
# it first meets them.  Two ways that went wrong, each counted exactly now:
#  - the first datagrams of such a socket on two CPUs at once: one CPU's
#    state was refused (the kernel publishes a socket's first storage with
#    a compare-and-swap), and its datagram was lost as "no memory";
#  - a datagram held back for neighbour resolution that leaves after its
#    socket's last close: the kernel gives a socket it is freeing no state,
#    so the datagram was not counted.  The close now gives the socket its
#    state, owned by the closing program.
# And sockets whose program is gone before it is found are logged without a
# process, with error.log's count of their bytes exact (it counted one flow
# of each socket, as it was when given up); datagrams that leave after the
# monitor read and forgot their sockets' close are counted, and their flows
# do not stay in the sensor's table for good.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
command -v python3 >/dev/null || skip_all "needs python3"
netns_up || skip_all "cannot create a network namespace with a veth pair here"

N=3000		# receiving sockets
PORT0=20000	# their ports: PORT0 .. PORT0+N-1 (below the ephemeral range)
G=50		# sockets of a program gone before it is found
GPORT0=24000
L=50		# sockets whose datagrams leave late
V4=198.51.100.2
PY=$(readlink -f "$(command -v python3)")
# received_on EXE PORT0 COUNT: "<bytes received> <local ports>" of EXE's
# entries on the ports PORT0 .. PORT0+COUNT-1
received_on() {
	db "SELECT sum(received) || ' ' || count(DISTINCT local_port) FROM connection_log
		WHERE executable = '$1' AND local_port BETWEEN $2 AND $(($2 + $3 - 1))"
}

ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'

# ---- made before the start, first datagrams on two CPUs at once ----
# bind.py NAME COUNT PORT0: binds COUNT sockets, says so in $WORK/NAME.ready,
# and holds them until $WORK/NAME.exit appears
cat >"$WORK/bind.py" <<'PY'
import os, resource, socket, sys, time
work, name, n, port0 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port0 + i))
    socks.append(s)
open(f"{work}/{name}.ready", "w").close()
while not os.path.exists(f"{work}/{name}.exit"):
    time.sleep(0.01)
PY
python3 "$WORK/bind.py" "$WORK" recv "$N" "$PORT0" &
rpid=$!
python3 "$WORK/bind.py" "$WORK" gone "$G" "$GPORT0" &
gpid=$!
# the sender made before the start, for the held-back datagram: it sends
# when told, closes at once, and lives on until told to exit
python3 - "$WORK" "$V4" <<'PY' &
import os, socket, sys, time
work, addr = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
open(work + "/held.ready", "w").close()
while not os.path.exists(work + "/held.go"):
    time.sleep(0.01)
port = int(open(work + "/held-sink.port").read())
s.sendto(b"h" * 777, (addr, port))
s.close()
open(work + "/held.closed", "w").close()
while not os.path.exists(work + "/held.exit"):
    time.sleep(0.05)
PY
hpid=$!
wait_file "$WORK/recv.ready" && wait_file "$WORK/held.ready" && wait_file "$WORK/gone.ready" ||
	{ not_ok "the programs made their sockets"; t_done; exit 1; }
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }

cat >"$WORK/send.py" <<'PY'
import socket, sys, time
n, port0, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while time.time() < start:
    pass
for i in range(n):
    s.sendto(b"r", ("127.0.0.1", port0 + i))
PY
if [ "$(nproc)" -ge 2 ]; then
	start=$(python3 -c 'import time; print(time.time() + 1)')
	taskset -c 0 python3 "$WORK/send.py" "$N" "$PORT0" "$start" &
	s0=$!
	taskset -c 1 python3 "$WORK/send.py" "$N" "$PORT0" "$start" &
	s1=$!
	wait "$s0" "$s1"
else
	diag "one CPU: the two senders take turns, so no race is tried"
	python3 "$WORK/send.py" "$N" "$PORT0" 0
	python3 "$WORK/send.py" "$N" "$PORT0" 0
fi

# ---- a datagram held back for neighbour resolution, its socket closed ----
# The namespace answers no ARP, so the datagram waits in the neighbour's
# queue; the socket is closed; then the neighbour is set by hand and the
# datagram leaves, from a socket the kernel is freeing.
sink=$(prog held-sink)
in_ns "$sink" udp-sink "$V4" "$WORK/held-sink.port" 1 &
kpid=$!
wait_file "$WORK/held-sink.port"
mac=$(in_ns cat "/sys/class/net/$VETH_N/address")
ip -n "$NS" link set "$VETH_N" arp off
ip neigh flush dev "$VETH_H"
touch "$WORK/held.go"
wait_file "$WORK/held.closed"
check_eq "the datagram waits for its neighbour" "INCOMPLETE" \
	"$(ip neigh show "$V4" dev "$VETH_H" | awk '{ print $NF }')"
ip neigh replace "$V4" lladdr "$mac" dev "$VETH_H" nud permanent
if timeout 10 tail --pid="$kpid" -f /dev/null && wait "$kpid"; then
	ok "  then reached the namespace"
else
	not_ok "  then reached the namespace"
fi

# ---- older sockets whose program is gone before it is found ----
# The monitor is frozen while two peers send a byte to each socket (two
# flows a socket) and the program exits: no holder is there to find.
kill -STOP "$PS_PID"
python3 "$WORK/send.py" "$G" "$GPORT0" 0
python3 "$WORK/send.py" "$G" "$GPORT0" 0
touch "$WORK/gone.exit"
wait "$gpid"
kill -CONT "$PS_PID"

sleep 2.5	# a write of the counts with the receiver still there to name
touch "$WORK/recv.exit" "$WORK/held.exit"
wait "$rpid" "$hpid"

# ---- datagrams that leave after their sockets' close was read ----
# L sockets each send a 100-byte datagram that waits for its neighbour (kept
# asking for 20 s), and close; two drains later the neighbour is set and the
# datagrams leave, from sockets whose close the monitor has read and
# forgotten: each makes a flow again, which must be collected.
ip neigh del "$V4" dev "$VETH_H"
sysctl -qw "net.ipv4.neigh.$VETH_H.mcast_solicit=20"
python3 - "$V4" "$L" <<'PY'
import socket, sys
addr, n = sys.argv[1], int(sys.argv[2])
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
for s in socks:
    s.sendto(b"l" * 100, (addr, 9))
for s in socks:
    s.close()
PY
check_eq "the late datagrams wait for their neighbour" "INCOMPLETE" \
	"$(ip neigh show "$V4" dev "$VETH_H" | awk '{ print $NF }')"
sleep 2.5
ip neigh replace "$V4" lladdr "$mac" dev "$VETH_H" nud permanent
sleep 2.5	# drains after they left
touch "$WORK/late.mark"
for _ in $(seq 120); do
	[ "$PICOSNITCH_DIR/metrics.json" -nt "$WORK/late.mark" ] && break
	sleep 0.1
done
flows=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["flow_table"]["flows"])' \
	"$PICOSNITCH_DIR/metrics.json")
if [ "${flows:-999}" -lt "$L" ]; then
	ok "their flows were collected ($flows in the table)"
else
	not_ok "their flows were collected ($flows in the table, $L or more left)"
fi
ps_stop

check_eq "every datagram to the older sockets is counted for their program" \
	"$((2 * N)) $N" "$(received_on "$PY" "$PORT0" "$N")"
check_eq "the held-back datagram is counted for the program that closed its socket" \
	"777 0" \
	"$(db "SELECT ifnull(sum(sent),0) || ' ' || ifnull(sum(received),0) FROM connection_log
		WHERE executable = '$PY' AND remote_address = '$V4'
		AND remote_port = $(cat "$WORK/held-sink.port")")"
check_eq "the late datagrams are counted, once" "$((100 * L)) $L" \
	"$(db "SELECT ifnull(sum(sent),0) || ' ' || count(DISTINCT local_port) FROM connection_log
		WHERE executable = '$PY' AND remote_address = '$V4' AND remote_port = 9")"
check_eq "the gone program's sockets are logged without a process, every byte" \
	"$((2 * G)) $G" "$(received_on "" "$GPORT0" "$G")"
check_eq "error.log says only that, with those bytes (no state refused, no packet uncounted)" \
	"$G sockets carried traffic but no process holding them could be found: logged without a process ($((2 * G)) bytes so logged since the last such line)" \
	"$(cut -d' ' -f3- "$PICOSNITCH_DIR/error.log")"
t_done
