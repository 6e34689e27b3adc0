#!/bin/bash
# Privilege separation (docs/privsep.md), and the ways a local user could
# turn the monitor against root that it closes:
#  - the root monitor keeps exactly CAP_BPF, CAP_SYS_PTRACE and
#    CAP_DAC_READ_SEARCH, in its bounding set too, with no_new_privs, and
#    maps none of the network features' client libraries;
#  - the logger runs as the desktop user with no capabilities, in a
#    session of its own, holding no terminal and no descriptor of root's,
#    with no signal blocked; with no desktop user it runs as the
#    picosnitch system user, never root, on /var/lib/picosnitch;
#  - snitch.db is held by the logger only (the user's triggers run with
#    the user's rights), and a lock the user holds on it does not stop
#    the counting;
#  - a program path that turns into a link to a terminal never becomes
#    the monitor's controlling terminal;
#  - a huge command line is bounded;
#  - a user holding a lock on the pidfile does not stop the monitor;
#  - names and paths with newlines and escape sequences forge no log line
#    and reach no terminal;
#  - a FIFO as config.json or record.json does not hang the start.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
[ -n "$TEST_USER" ] || skip_all "cannot create a throwaway desktop user here (useradd)"

SINK=$(prog sink)
SINK_PID=
# a sink for the datagrams (trafficgen ends itself after a minute)
ensure_sink() {
	[ -n "$SINK_PID" ] && kill -0 "$SINK_PID" 2>/dev/null && return
	rm -f "$WORK/sink.port"
	"$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 2>/dev/null &
	SINK_PID=$!
	wait_file "$WORK/sink.port"
	PORT=$(cat "$WORK/sink.port")
}
ensure_sink
send() { "$@" udp-once 127.0.0.1 "$PORT" 100; }
status_of() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
logger_pid() { pgrep -f -P "$1" 'picosnitch logger' | head -1; }
start() { ps_start || { not_ok "the monitor starts"; t_done; exit 1; }; }
fresh() { ensure_sink; rm -rf "$PICOSNITCH_DIR"; ps_config "$1"; }

# ---- capabilities and the logger's process ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
start
M=$PS_PID
L=$(logger_pid "$M")
check_eq "the monitor keeps CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE and CAP_BPF only" \
	"0000008000080004" "$(status_of "$M" CapEff)"
check_eq "  as permitted" "0000008000080004" "$(status_of "$M" CapPrm)"
check_eq "  and in its bounding set (nothing can bring the rest back)" "0000008000080004" \
	"$(status_of "$M" CapBnd)"
check_eq "  none inheritable or ambient" "0000000000000000|0000000000000000" \
	"$(status_of "$M" CapInh)|$(status_of "$M" CapAmb)"
check_eq "  and no_new_privs" 1 "$(status_of "$M" NoNewPrivs)"
# the network features' client libraries are loaded by the process that
# uses them, when it does (src/util/dlopen_lib.h): never by root
check_eq "the monitor maps no client library of the network features (libcurl, libpq, libmariadb, libssl)" \
	"" "$(grep -oE 'lib(curl|pq|mariadb|ssl)\.so[.0-9]*' "/proc/$M/maps" | sort -u | paste -sd' ')"
check_match "the logger runs" '^[0-9]+$' "$L"
# nice is field 19 of stat, counted after the ")" that ends the name
nice_of() { sed 's/.*) //' "/proc/$1/task/$2/stat" | awk '{ print $17 }'; }
check_eq "the monitor runs at nice -20 (a flood must not starve it)" -20 "$(nice_of "$M" "$M")"
check_eq "  its hashing threads at 0" "0" \
	"$(for t in /proc/$M/task/*; do t=${t##*/}; [ "$t" = "$M" ] || nice_of "$M" "$t"; done | sort -u | paste -sd,)"
check_eq "  and the logger at 0 (the user must not inherit a raised priority)" 0 "$(nice_of "$L" "$L")"
check_eq "the logger runs as the desktop user (real, effective, saved, fs uid)" \
	"$TEST_UID	$TEST_UID	$TEST_UID	$TEST_UID" "$(status_of "$L" Uid)"
check_eq "  with no capabilities at all" "0000000000000000|0000000000000000|0000000000000000" \
	"$(status_of "$L" CapEff)|$(status_of "$L" CapPrm)|$(status_of "$L" CapInh)"
check_eq "  and no_new_privs" 1 "$(status_of "$L" NoNewPrivs)"
check_eq "  in a session of its own (it leads it)" "$L" "$(ps -o sid= -p "$L" | tr -d ' ')"
check_eq "  with no controlling terminal" 0 "$(awk '{ print $7 }' "/proc/$L/stat")"
check_eq "  with no signal blocked" "0000000000000000" "$(status_of "$L" SigBlk)"
fds=$(for f in /proc/"$L"/fd/*; do readlink "$f"; done | sed -e 's/:\[[0-9]*\]//' \
	-e "s|^$PICOSNITCH_DIR|STATE|" | sort | uniq -c | awk '{ print $2 }' | paste -sd' ')
check_eq "  holding only /dev/null, the socket to the monitor, its state files and its own" \
	"/dev/null STATE STATE/error.log STATE/exe.log STATE/snitch.db STATE/snitch.db-shm STATE/snitch.db-wal anon_inode:[eventfd] anon_inode:[eventpoll] socket" \
	"$fds"
holders=$(for p in /proc/[0-9]*; do
	ls -l "$p/fd" 2>/dev/null | grep -q "$PICOSNITCH_DIR/snitch.db$" && echo "${p#/proc/}"
done | paste -sd' ')
check_eq "snitch.db is held by the logger alone (the user's triggers run as the user)" "$L" \
	"$holders"
ps_stop
check_eq "the monitor exits cleanly" 0 "$PS_RC"
check_eq "  and so does the logger" "gone" "$(kill -0 "$L" 2>/dev/null && echo alive || echo gone)"

# ---- the logger killed: the monitor stops, the next start says so ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
start
send "$(prog before-kill)"
sleep 1.5
L=$(logger_pid "$PS_PID")
kill -KILL "$L"
for _ in $(seq 50); do kill -0 "$PS_PID" 2>/dev/null || break; sleep 0.1; done
wait "$PS_PID"
rc=$?
PS_PID=
check_eq "when the logger is killed the monitor stops with status 1 (systemd restarts it)" 1 "$rc"
check_match "  saying why" "the logger process ended unexpectedly" "$(cat "$WORK/daemon.log")"
start
ps_stop
check_match "the next start writes the unclean end in error.log" \
	"the previous run \(started [0-9-]+ [0-9:]+\) ended without writing its last window" \
	"$(cat "$PICOSNITCH_DIR/error.log")"
start
ps_stop
check_eq "  once: a clean stop leaves nothing to report" 1 \
	"$(grep -c 'the previous run' "$PICOSNITCH_DIR/error.log")"

# ---- every file is its owner's alone ----
modes=$(cd "$PICOSNITCH_DIR" && stat -c '%n %a' . * | sort | paste -sd' ')
check_eq "the state directory is 700 and every file in it 600" \
	". 700 config.json 600 error.log 600 exe.log 600 metrics.json 600 record.json 600 snitch.db 600" "$modes"

# ---- a lock the user holds on snitch.db ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
start
C=$(prog during-lock)
send "$C"
sleep 2
# the user's own reader, holding an exclusive lock for 5 s
setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --init-groups \
	sqlite3 "$PICOSNITCH_DIR/snitch.db" "BEGIN EXCLUSIVE; SELECT count(*) FROM connections;" \
	".shell sleep 5" "COMMIT;" >/dev/null 2>&1 &
lockpid=$!
sleep 1
for _ in $(seq 3); do send "$C"; sleep 0.5; done
wait "$lockpid"
sleep 3.5
ps_stop
check_eq "traffic while the user held the database is all logged once it let go" "400" \
	"$(db "SELECT sum(sent) FROM connection_log WHERE executable = '$C'")"
check_match "error.log names the lock, and the retry" "database is locked.*will be retried" \
	"$(cat "$PICOSNITCH_DIR/error.log")"

# ---- a trigger the user planted that holds up every write ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
start
send "$(prog before-trigger)"
sleep 2
setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --init-groups sqlite3 "$PICOSNITCH_DIR/snitch.db" \
	"CREATE TRIGGER slow AFTER INSERT ON connections BEGIN
	   SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c
	   WHERE x < 15000000) SELECT x FROM c); END;"
T=$(prog during-trigger)
send "$T"	# its insert runs the trigger: the logger is busy for seconds
sleep 1.2
# meanwhile root still names every new process while it lives
for i in $(seq 20); do send "$(prog "short-$i")"; done
sleep 6
ps_stop
check_eq "while the logger is held up by the user's trigger, root names every process" \
	"20|20" \
	"$(db "SELECT count(DISTINCT name) || '|' || sum(sha256 NOT LIKE '!%') FROM connection_log WHERE name LIKE 'short-%'")"
check_eq "  and nothing was lost" "" "$(grep -i 'lost\|exited before' "$PICOSNITCH_DIR/error.log")"

# ---- exe.log and error.log stay bounded ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
PICOSNITCH_LOG_MAX=3000 start
for i in $(seq 30); do send "$(prog "many-$i")"; done
sleep 2.5
ps_stop
check_eq "past its bound exe.log starts again, one old file kept, none over the bound" "yes|yes" \
	"$([ -s "$PICOSNITCH_DIR/exe.log.1" ] && echo yes)|$([ "$(stat -c %s "$PICOSNITCH_DIR/exe.log")" -le 3000 ] && [ "$(stat -c %s "$PICOSNITCH_DIR/exe.log.1")" -le 3000 ] && echo yes)"

# ---- a program path that becomes a link to a terminal ----
if command -v python3 >/dev/null; then
	python3 -c 'import os, pty, time, sys
m, s = pty.openpty()
open(sys.argv[1], "w").write(os.ttyname(s))
time.sleep(60)' "$WORK/pty.name" &
	ptypid=$!
	wait_file "$WORK/pty.name"
	PTY=$(cat "$WORK/pty.name")
	fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
	# a session leader without a terminal, as under systemd: one that opens
	# a terminal without O_NOCTTY takes it as its controlling terminal
	REAL=$PS_BIN
	cat >"$WORK/leader" <<EOF
#!/bin/sh
exec python3 -c 'import os, sys; os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' "$REAL" "\$@"
EOF
	chmod +x "$WORK/leader"
	PS_BIN=$WORK/leader start
	PS_BIN=$REAL
	P=$(prog ptyprog)
	ln -s "$P" "$WORK/bin/ptylink"
	kill -STOP "$PS_PID"
	send "$WORK/bin/ptylink"	# gone before the monitor can look at it
	ln -sfn "$PTY" "$WORK/bin/ptylink"
	kill -CONT "$PS_PID"
	sleep 2.5
	check_eq "the monitor has no controlling terminal after meeting the link" 0 \
		"$(awk '{ print $7 }' "/proc/$PS_PID/stat")"
	check_eq "  and holds nothing open on the terminal" "" \
		"$(ls -l /proc/"$PS_PID"/fd 2>/dev/null | grep -F "$PTY")"
	ps_stop
	check_eq "  the program is logged as replaced, not hashed as the terminal" "!replaced" \
		"$(db "SELECT DISTINCT sha256 FROM connection_log WHERE name = 'ptylink'")"
	kill "$ptypid" 2>/dev/null
else
	skip "needs python3 for a pseudo-terminal"
fi

# ---- a huge command line ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
# the memory ASan keeps after it is freed (its quarantine, 256 MB at most;
# the package check reads dpkg's md5sums files one by one) is not the
# logger's: a small quarantine leaves what the logger holds
ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=4 start
H=$(prog hugeargv)
big=$(head -c 120000 /dev/zero | tr '\0' 'x')	# one argument may hold 128 kB
for i in $(seq 40); do (exec -a "$big$i" "$H" udp-once 127.0.0.1 "$PORT" 10); done
# until all 40 are written (a slow machine took more than 2.5 s), 15 s at most
for _ in $(seq 150); do
	[ "$(db "SELECT count(*) FROM connection_log WHERE name = 'hugeargv'" 2>/dev/null)" -ge 40 ] 2>/dev/null &&
		break
	sleep 0.1
done
L=$(logger_pid "$PS_PID")
rss=$(status_of "$L" VmHWM | awk '{ print $1 }')
ps_stop
len=$(db "SELECT max(length(cmdline)) FROM connection_log WHERE name = 'hugeargv'")
check_eq "a 120 kB argument is logged cut to at most 4 kB, saying it goes on, for all 40" \
	"yes|40" \
	"$([ "${len:-0}" -le 4200 ] && echo yes)|$(db "SELECT count(*) FROM connection_log WHERE name = 'hugeargv' AND cmdline LIKE '% …'")"
if [ "${rss:-0}" -lt 64000 ]; then ok "  the logger's memory stays bounded (peak ${rss} kB)";
else not_ok "  the logger's memory stays bounded (peak ${rss} kB)"; fi
# ---- a user holding a lock on the pidfile ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
echo 1 >"$PICOSNITCH_PIDFILE" && chmod 644 "$PICOSNITCH_PIDFILE"
setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --init-groups \
	flock -s "$PICOSNITCH_PIDFILE" sleep 30 &
holder=$!
sleep 0.5
if ps_start; then
	ok "the monitor starts while a user holds a lock on the pidfile"
	check_eq "  status, asked by that user, says it runs" "0" \
		"$(setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --init-groups "$(user_bin)" status \
			>/dev/null 2>&1; echo $?)"
	check_eq "  the lock file is root's alone" "600 root" \
		"$(stat -c '%a %U' "$PICOSNITCH_PIDFILE.lock")"
	ps_stop
else
	not_ok "the monitor starts while a user holds a lock on the pidfile"
fi
kill "$holder" 2>/dev/null

# ---- names and paths that try to forge lines or reach a terminal ----
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
start
EVIL=$(prog $'evil\nforged line\e[31m')
send "$EVIL"
sleep 2.5
ps_stop
check_eq "exe.log: its three lines (new, sha256, package), none forged, every line dated" "3|0|0" \
	"$(grep -c 'evil' "$PICOSNITCH_DIR/exe.log")|$(grep -c '^forged line' "$PICOSNITCH_DIR/exe.log")|$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$PICOSNITCH_DIR/exe.log")"
check_match "  its path written as safe text" 'new executable [^ ]*/evil\\x0aforged line\\x1b\[31m ' \
	"$(cat "$PICOSNITCH_DIR/exe.log")"
check_eq "no escape character in exe.log, error.log or the monitor's output" "0" \
	"$(cat "$PICOSNITCH_DIR/exe.log" "$PICOSNITCH_DIR/error.log" "$WORK/daemon.log" | tr -cd '\033' | wc -c)"
check_match "the notification text (printed, as configured) is safe text too" \
	'picosnitch: evil\\x0aforged lin \(.*/evil\\x0aforged line\\x1b\[31m\) uses the network' \
	"$(cat "$WORK/daemon.log")"
check_eq "snitch.db keeps the name (the kernel's 15 bytes) as safe text" 'evil\x0aforged lin' \
	"$(db "SELECT DISTINCT name FROM connection_log WHERE executable LIKE '%/evil%'")"

# ---- FIFOs in place of the files read at start ----
rm -rf "$PICOSNITCH_DIR"
mkdir -p "$PICOSNITCH_DIR"
mkfifo "$PICOSNITCH_DIR/config.json"
out=$(timeout 20 "$PS_BIN" start-no-daemon 2>&1)
rc=$?
check_eq "a FIFO as config.json: refused at once, exit 78" 78 "$rc"
check_match "  saying why" 'config.json: it is not a regular file' "$out"
fresh '{"DB write limit (seconds)": 1, "Desktop notifications": false}'
mkfifo "$PICOSNITCH_DIR/record.json"
if ps_start; then
	ok "a FIFO as record.json: monitoring goes on"
	ps_stop
	check_match "  it is set aside, saying why" \
		'record.json could not be read \(it is not a regular file\): kept as record.json.corrupt-' \
		"$(cat "$PICOSNITCH_DIR/error.log")"
else
	not_ok "a FIFO as record.json: monitoring goes on"
fi

# ---- no desktop user: a system user of its own, never root ----
if getent passwd picosnitch >/dev/null; then made_user=; else made_user=1; fi
out=$(env -u SUDO_UID -u PICOSNITCH_DIR unshare -m --propagation private bash -c '
	mount -t tmpfs tmpfs /home && mount -t tmpfs tmpfs /var/lib || exit 1
	"$0" start-no-daemon >"$1/nouser.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q "monitoring network" "$1/nouser.log" && break; sleep 0.1; done
	lp=$(pgrep -f -P $pid "picosnitch logger")
	echo "$(sed -n "s/^Uid:[[:space:]]*//p" /proc/$lp/status | cut -f1)"
	stat -c "%U %a" /var/lib/picosnitch
	kill -TERM $pid; wait $pid; echo "rc=$?"
	' "$PS_BIN" "$WORK")
check_eq "with no desktop user the logger runs as the picosnitch system user" \
	"$(id -u picosnitch 2>/dev/null)" "$(sed -n 1p <<<"$out")"
check_eq "  which owns /var/lib/picosnitch, mode 700" "picosnitch 700" "$(sed -n 2p <<<"$out")"
check_eq "  and the monitor stops cleanly" "rc=0" "$(sed -n 3p <<<"$out")"
[ -n "$made_user" ] && test_user_remove picosnitch
t_done
