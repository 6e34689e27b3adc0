#!/bin/bash
# The commands: usage and exit statuses, start/stop/restart/status against
# a live daemon (detached, with its pidfile, writing what it counted when
# stopped), a stale pidfile, a bad config at start, systemd readiness
# (sd_notify) and the unit file, privileged commands run by another user,
# and the man page.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"

P=$PS_BIN
USER_UID=$TEST_UID

# gone PID: "gone" once the process has exited (a zombie counts as gone)
gone() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ] && echo gone || echo alive
}

# run CMD...: sets OUT, ERR, RC
run() {
	OUT=$(timeout 60 "$@" 2>"$WORK/err")
	RC=$?
	ERR=$(cat "$WORK/err")
}

# ---- usage ----
run "$P" help
check_eq "help: exit 0" 0 "$RC"
for c in start stop restart start-no-daemon systemd status dash view lookup geoip-update import version help; do
	check_match "help names '$c'" "  $c " "$OUT"
done
run "$P" frobnicate
check_eq "an unknown command: exit 2" 2 "$RC"
check_match "  with the usage on stderr" "^picosnitch: unknown command 'frobnicate'.*usage: picosnitch <command>" "$(echo $ERR)"
check_eq "  and nothing on stdout" "" "$OUT"
run "$P" status now
check_eq "extra arguments: exit 2" 2 "$RC"
check_match "  with a message" "one command at a time \(got 2 arguments\)" "$ERR"
run "$P"
check_eq "no command: exit 2" 2 "$RC"
run "$P" version
check_eq "version: the version and the state directory (then the build's features: t176)" \
	"picosnitch 0.1.0|state directory: $PICOSNITCH_DIR" "$(head -2 <<<"$OUT" | paste -sd'|')"
run "$P" view
check_eq "view without a terminal: exit 1" 1 "$RC"
check_match "  and says why" "picosnitch view: needs a terminal" "$ERR"

# ---- start / status / stop / restart ----
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
run "$P" status
check_eq "status when not running: exit 3" "3|picosnitch is not running" "$RC|$OUT"

run "$P" start
check_eq "start: exit 0" 0 "$RC"
pid=$(cat "$PICOSNITCH_PIDFILE" 2>/dev/null)
check_eq "  says so, with the pid in the pidfile" \
	"picosnitch started (pid $pid); state directory $PICOSNITCH_DIR" "$OUT"
check_match "  relays the startup messages" "monitoring network traffic" "$ERR"
check_eq "  the daemon runs" "picosnitch start" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed 's/ $//; s|^[^ ]*/||')"
check_eq "  in its own session, without a terminal" "$pid ?" \
	"$(ps -o sid=,tty= -p "$pid" | awk '{ print ($1 == $1 + 0 ? "'"$pid"'" : $1), $2 }')"
run "$P" status
check_eq "status: running, exit 0" "0|picosnitch is running (pid $pid); state directory $PICOSNITCH_DIR" "$RC|$OUT"
run "$P" status --json
check_eq "status --json: running, exit 0" \
	"0|{\"state\":\"running\",\"running\":true,\"pid\":$pid,\"pidfile\":\"$PICOSNITCH_PIDFILE\",\"state_directory\":\"$PICOSNITCH_DIR\",\"version\":\"0.1.0\"}" \
	"$RC|$OUT"
run "$P" start
check_eq "start again: exit 1" 1 "$RC"
check_eq "  already running" "picosnitch is already running (pid $pid)" "$ERR"

C=$(prog detached)
S=$(prog detached.sink)
"$S" udp-sink 127.0.0.1 "$WORK/port" 1 &
wait_file "$WORK/port"
"$C" udp-once 127.0.0.1 "$(cat "$WORK/port")" 777
wait

run "$P" restart
newpid=$(cat "$PICOSNITCH_PIDFILE" 2>/dev/null)
check_eq "restart: exit 0" 0 "$RC"
check_match "  stopped the old one and started a new one" \
	"^picosnitch stopped \(pid $pid\).picosnitch started \(pid $newpid\)" "$(paste -sd. <<<"$OUT")"
check_eq "  the old one is gone" "gone" "$(gone "$pid")"
check_eq "the old daemon wrote what it counted before it exited" "777 0" "$(db_totals "$C")"

run "$P" stop
check_eq "stop: exit 0" "0|picosnitch stopped (pid $newpid)" "$RC|$OUT"
check_eq "  the daemon is gone" "gone" "$(gone "$newpid")"
check_eq "  and so is the pidfile" "no" "$([ -e "$PICOSNITCH_PIDFILE" ] && echo yes || echo no)"
run "$P" stop
check_eq "stop when not running: exit 0" "0|picosnitch is not running" "$RC|$OUT"

# ---- a stale pidfile ----
run "$P" start
pid=$(cat "$PICOSNITCH_PIDFILE")
kill -KILL "$pid"
sleep 0.5
run "$P" status
check_eq "status with a stale pidfile: exit 1" 1 "$RC"
check_eq "  says so" "picosnitch is not running, but a stale pidfile $PICOSNITCH_PIDFILE names pid $pid (it did not exit cleanly)" "$OUT"
run "$P" start
check_eq "start takes a stale pidfile over" 0 "$RC"
run "$P" stop
run "$P" start
kill -KILL "$(cat "$PICOSNITCH_PIDFILE")"
sleep 0.5
run "$P" stop
check_match "stop removes a stale pidfile" "removed the stale pidfile $PICOSNITCH_PIDFILE" "$OUT"
check_eq "  exit 0" "0|no" "$RC|$([ -e "$PICOSNITCH_PIDFILE" ] && echo yes || echo no)"

# ---- a bad config.json at start ----
ps_config '{"Log ports": "maybe"}'
run "$P" start
check_eq "start with a wrong config.json: exit 78" 78 "$RC"
check_match "  with the message naming the key" '"Log ports" must be true or false, found a string "maybe"' "$ERR"
run "$P" status
check_eq "  and nothing runs" 3 "$RC"

# ---- systemd readiness and the unit ----
ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
/usr/bin/python3 - "$WORK/notify.sock" >"$WORK/notify.msgs" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
try:
    while True:
        msg = s.recv(4096).decode()
        print(msg.replace("\n", ";"), flush=True)
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    pass
EOF
listener=$!
for _ in $(seq 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$WORK/notify.sock "$P" start-no-daemon >"$WORK/fg.log" 2>&1 &
fg=$!
for _ in $(seq 100); do grep -q READY "$WORK/notify.msgs" && break; sleep 0.1; done
kill -TERM "$fg"
wait "$fg"
wait "$listener"
check_match "start-no-daemon tells systemd it is ready (Type=notify)" \
	"^READY=1;STATUS=monitoring; logging to $PICOSNITCH_DIR;MAINPID=$fg$" "$(head -1 "$WORK/notify.msgs")"
check_match "  and that it is stopping" "^STOPPING=1" "$(tail -1 "$WORK/notify.msgs")"

mkdir -p "$WORK/units"
PICOSNITCH_UNIT_DIR=$WORK/units run "$P" systemd
unit=$WORK/units/picosnitch.service
check_eq "systemd: exit 0" 0 "$RC"
check_match "  says what it wrote" "^wrote $unit \(runs $P start-no-daemon\)" "$OUT"
if [ -d /run/systemd/system ]; then
	check_match "  and that systemd was reloaded" "reloaded systemd" "$OUT"
else
	check_match "  and that systemd is not running here" "systemd is not running here, so nothing was reloaded" "$OUT"
fi
for line in "Type=notify" "ExecStart=$P start-no-daemon" "Restart=on-failure" \
	"RestartPreventExitStatus=78" "StartLimitBurst=5" "NoNewPrivileges=yes" \
	"CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_RESOURCE CAP_SYS_NICE CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE CAP_CHOWN CAP_SETUID CAP_SETGID" \
	"ProtectSystem=strict" "UMask=0077" "RestrictAddressFamilies=AF_UNIX" \
	"SystemCallFilter=@system-service bpf perf_event_open fanotify_init fanotify_mark mount capset" \
	"Environment=\"PICOSNITCH_DIR=$PICOSNITCH_DIR\""; do
	check_eq "  the unit has $line" 1 "$(grep -cxF "$line" "$unit")"
done
if command -v systemd-analyze >/dev/null; then
	verify=$(systemd-analyze verify --man=no "$unit" 2>&1)
	check_eq "  it passes systemd-analyze verify (its man page is not installed here: --man=no)" "0|" "$?|$verify"
	score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
		sed -n 's/.*Overall exposure level for picosnitch.service: \([0-9.]*\).*/\1/p')
	check_eq "  systemd-analyze security rates its exposure OK (at most 4.0; README: 3.7)" "yes" \
		"$(awk -v s="${score:-99}" 'BEGIN { print (s <= 4.0) ? "yes" : "no (" s ")" }')"
	# every system call of the shipped build (monitor and logger, start,
	# traffic, stop) is one the unit's filter allows
	if command -v strace >/dev/null && [ -x "$ROOT/build/picosnitch" ]; then
		rm -rf "$PICOSNITCH_DIR"
		ps_config '{"DB write limit (seconds)": 1, "DB text log": true}'
		strace -f -qq -o "$WORK/syscalls" "$ROOT/build/picosnitch" start-no-daemon \
			>"$WORK/strace-run.log" 2>&1 &
		tracer=$!
		for _ in $(seq 100); do grep -q "monitoring network" "$WORK/strace-run.log" && break; sleep 0.1; done
		c=$(prog syscall-probe)
		s=$(prog syscall-sink)
		"$s" udp-sink 127.0.0.1 "$WORK/port.sc" 1 &
		wait_file "$WORK/port.sc" && "$c" udp-once 127.0.0.1 "$(cat "$WORK/port.sc")" 100
		sleep 2.5
		pkill -TERM -f "$ROOT/build/picosnitch start-no-daemon"
		wait "$tracer"
		filter=$(sed -n 's/^SystemCallFilter=//p' "$unit")
		# shellcheck disable=SC2086
		check_eq "  every system call the monitor and the logger made is in its SystemCallFilter" "" \
			"$(python3 "$ROOT/tests/lib/syscall-allowed.py" $filter <"$WORK/syscalls" | paste -sd' ')"
	else
		skip "strace or the release build is missing"
	fi
else
	skip "systemd-analyze is not installed"
fi

# with a "VT API key" (read as the desktop user), the logger's requests to
# VirusTotal need IP sockets: the unit allows them, and says why
ps_config '{"VT API key": "t130-key"}'
chown -R "$TEST_USER:" "$PICOSNITCH_DIR"
PICOSNITCH_UNIT_DIR=$WORK/units run "$P" systemd
check_match "systemd with a VT API key: says the unit allows IP sockets" \
	'"VT API key" is set: the unit allows IP sockets' "$OUT"
check_eq "  RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6, no IPAddressDeny, no key" "1 0 0" \
	"$(grep -cxF "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "$unit") $(grep -c IPAddressDeny "$unit") $(grep -c t130-key "$unit")"
# a "DB sql server" too (its password never goes into the unit)
ps_config '{"DB sql server": {"client": "postgresql", "host": "db.example", "password": "t130-pw"}}'
chown -R "$TEST_USER:" "$PICOSNITCH_DIR"
PICOSNITCH_UNIT_DIR=$WORK/units run "$P" systemd
check_match "systemd with a DB sql server: says the unit allows IP sockets" \
	'"DB sql server" is set: the unit allows IP sockets' "$OUT"
check_eq "  RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6, no IPAddressDeny, no password" "1 0 0" \
	"$(grep -cxF "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "$unit") $(grep -c IPAddressDeny "$unit") $(grep -c t130-pw "$unit")"
rm -rf "$PICOSNITCH_DIR"
PICOSNITCH_UNIT_DIR=$WORK/units run "$P" systemd
check_eq "  and without one, none again" "1 1" \
	"$(grep -cxF "RestrictAddressFamilies=AF_UNIX" "$unit") $(grep -cxF "IPAddressDeny=any" "$unit")"

# ---- privileged commands run by another user ----
if [ -z "$USER_UID" ]; then
	skip "cannot create a throwaway user here (useradd)"
else
	P=$(user_bin)
	mkdir -p "$WORK/fakebin" "$WORK/nobin" && chown "$USER_UID" "$WORK/fakebin"
	cat >"$WORK/fakebin/sudo" <<EOF
#!/bin/sh
echo "\$@" >$WORK/fakebin/args
EOF
	chmod 755 "$WORK/fakebin/sudo"
	as_user=(setpriv --reuid="$USER_UID" --regid="$USER_UID" --init-groups)
	run "${as_user[@]}" env PATH="$WORK/nobin" "$P" start
	check_eq "start by a user without sudo or doas: exit 1" 1 "$RC"
	check_eq "  says root is needed and why" \
		"picosnitch start needs root: it loads BPF programs into the kernel; run it as root (neither sudo nor doas is available)" "$ERR"
	run "${as_user[@]}" env PATH="$WORK/fakebin:/usr/bin:/bin" "$P" stop
	check_eq "stop by a user re-runs itself through sudo" \
		"--preserve-env=PICOSNITCH_ELEVATED,PICOSNITCH_DIR,PICOSNITCH_PIDFILE $P stop" \
		"$(cat "$WORK/fakebin/args" 2>&1)"
	check_match "  and says so" "picosnitch stop needs root \(the monitor runs as root\): running it through sudo" "$ERR"
	run "${as_user[@]}" env PATH="$WORK/nobin" PICOSNITCH_ELEVATED=1 "$P" start-no-daemon
	check_eq "a re-run that is still not root stops there" "1|picosnitch start-no-daemon needs root: it loads BPF programs into the kernel" "$RC|$ERR"
	run "${as_user[@]}" "$P" status
	check_eq "status works for anyone" "3|picosnitch is not running" "$RC|$OUT"
fi

# ---- the man page ----
warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$ROOT/man/picosnitch.8" 2>&1)
check_eq "the man page renders without warnings" "" "$warnings"
page=$(LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$ROOT/man/picosnitch.8" 2>/dev/null | col -b)
for c in start stop restart start-no-daemon systemd status dash view lookup geoip-update import version help; do
	check_eq "  it documents '$c'" 1 "$(grep -cE "^ {7}([a-z]+, )?$c(,| |$)" <<<"$page" | awk '{ print ($1 > 0) + 0 }')"
done

t_done
