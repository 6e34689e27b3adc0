#!/bin/bash
# `picosnitch view` driven as a person would: tmux runs it against
# databases this test writes with the monitor's own writer (mkdb), types
# keys with send-keys and reads the screen with capture-pane.  Exact
# screens for the first screen, every tab, filters, exclude, history, time
# ranges, units, sort, search, resizing, hostile and wide names, a missing
# and a locked database; and a running monitor's new traffic showing up in
# live mode.  The clock is fixed (PICOSNITCH_VIEW_NOW) except for live mode.
source "$(dirname "$0")/../lib/lib.sh"

command -v tmux >/dev/null || skip_all "needs tmux"
[ "$(id -u)" = 0 ] || skip_all "needs root (runs the view as a throwaway user, and a monitor)"
[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd)"
MKDB=$ROOT/build/tests/mkdb
[ -x "$MKDB" ] || skip_all "build/tests/mkdb is not built (make asan)"

NOW=1764849620	# 2025-12-04 12:00:20 UTC
H1=1111111111111111111111111111111111111111111111111111111111111111
H2=2222222222222222222222222222222222222222222222222222222222222222
TMUX_SOCK=pstest$$
tm() { tmux -L "$TMUX_SOCK" -f "$WORK/tmux.conf" "$@"; }
printf 'set -g status off\nset -g default-terminal screen\n' >"$WORK/tmux.conf"
trap 'tm kill-server 2>/dev/null; cleanup' EXIT
mkdir -p "$PICOSNITCH_DIR"
chown "$TEST_USER:" "$PICOSNITCH_DIR"
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$WORK/asan"
# the screens here are without countries and network owners: those tabs
# and labels are t165's
ps_config '{"GeoIP lookup": false}'
chown "$TEST_USER:" "$PICOSNITCH_DIR/config.json"


# The entries: fields as tests/helpers/mkdb.c lists them.  curl (sent
# 1200, the test user), a CJK browser name (root, sent 2000), a name with invalid
# UTF-8, a newline and a terminal escape (an unknown uid, no grandparent, an
# exec entry without address or port), and a backup a day and a half ago.
LONGCMD="curl --silent --output /dev/null https://example.org/a/very/long/path/that/does/not/fit"
{
	row $((NOW - 20)) 1200 34000 2 /usr/bin/curl curl "$LONGCMD" $H1 /usr/bin/bash bash bash $H2 \
		/usr/lib/systemd/systemd "$TEST_UID" 40000 443 198.51.100.1 203.0.113.5 org.example 2 6 4026531840
	row $((NOW - 10)) 2000 900 1 '/usr/bin/\xe7\x81\xab\xe7\x8b\x90' \
		'\xe7\x81\xab\xe7\x8b\x90\xe6\xb5\x8f\xe8\xa7\x88\xe5\x99\xa8' 'fox --new-window' $H2 \
		/usr/bin/bash bash bash $H2 /usr/lib/systemd/systemd 0 40001 53 198.51.100.1 203.0.113.53 '' \
		10 17 4026532000
	row $((NOW - 3620)) 77 88 1 '/opt/evil\npath\xff\x1b[31m' '\xff\xfe bad' x $H1 /usr/bin/bash bash \
		bash $H2 '' 4000000000 -1 -1 '' '' '' 0 0 4026531840
	row $((NOW - 129600)) 5000000 10000000 1 /usr/bin/rsync rsync 'rsync -a /home backup:' $H1 \
		/usr/sbin/cron cron cron $H2 /usr/lib/systemd/systemd "$TEST_UID" 40002 22 198.51.100.1 \
		203.0.113.7 net.backup 2 6 4026531840
} | mkdb_as_user "$PICOSNITCH_DIR/snitch.db" || { not_ok "mkdb writes the test database"; t_done; exit 1; }
# what VirusTotal said of H1 (record.json, as the logger writes it)
printf '{"SHA256": {"/usr/bin/curl": {"%s": {"analysis date": 1764806400, "harmless": 60, "malicious": 2, "suspicious": 1, "undetected": 10}}}}\n' \
	$H1 >"$PICOSNITCH_DIR/record.json"
chown "$TEST_USER:" "$PICOSNITCH_DIR/record.json"
chmod 0600 "$PICOSNITCH_DIR/record.json"

# view_start COLS LINES [VAR=value...]: the view in a fresh tmux session,
# started by root as `sudo picosnitch view` would be
view_start() {
	local cols=$1 lines=$2
	shift 2
	tm kill-server 2>/dev/null
	for _ in $(seq 50); do tm has-session 2>/dev/null || break; sleep 0.1; done
	for _ in 1 2 3; do
		tm new-session -d -s v -x "$cols" -y "$lines" \
			"exec env TZ=UTC LANG=C.UTF-8 TERM=screen PICOSNITCH_VIEW_NOW=$NOW $* $PS_BIN view 2>>$WORK/view.err" \
			7>&- && return 0
		sleep 0.2
	done
	return 1
}
keys() { tm send-keys -t v "$@"; }
screen() { tm capture-pane -p -t v; }
USER_SHOWN="$TEST_USER ($TEST_UID)"
# the user's name and the scratch directory differ from run to run: shown
# as <user> and XXXXXX in the screens
norm() {
	local pad
	pad=$(printf '%*s' ${#USER_SHOWN} '')
	screen | sed -e "s/$USER_SHOWN/<user>${pad:6}/" -e "s|$WORK|/tmp/picosnitch-test.XXXXXX|g"
}

# VIEW_DUMP=DIR: write each screen the checks see to DIR (to review the
# expected screens after a deliberate change) instead of comparing
DUMP_N=0
dump() {
	local a b
	DUMP_N=$((DUMP_N + 1))
	b=$(norm)
	while sleep 0.5; a=$b; b=$(norm); [ "$a" != "$b" ]; do :; done
	printf '%s\n' "$b" | sed "${2:-1},${3:-\$}!d; s/ *\$//" >"$VIEW_DUMP/$(printf %02d $DUMP_N)"
	ok "$1 (dumped)"
}

# screen_is WHAT: the screen equals stdin (trailing blanks ignored) within
# 5 seconds
screen_is() {
	local want got
	want=$(cat)
	[ -n "${VIEW_DUMP:-}" ] && { dump "$1"; return; }
	for _ in $(seq 50); do
		got=$(norm | sed 's/ *$//')
		[ "$got" = "$want" ] && { ok "$1"; return 0; }
		sleep 0.1
	done
	not_ok "$1"
	diff <(echo "$want") <(echo "$got") | sed 's/^/#   /'
	return 1
}

# lines_are WHAT FIRST LAST: lines FIRST..LAST (1-based) equal stdin
lines_are() {
	local want got what=$1 first=$2 last=$3
	want=$(cat)
	[ -n "${VIEW_DUMP:-}" ] && { dump "$1" "$2" "$3"; return; }
	for _ in $(seq 50); do
		got=$(norm | sed -n "${first},${last}p" | sed 's/ *$//')
		[ "$got" = "$want" ] && { ok "$what"; return 0; }
		sleep 0.1
	done
	not_ok "$what"
	diff <(echo "$want") <(echo "$got") | sed 's/^/#   /'
	return 1
}

# screen_has WHAT REGEX [SECONDS]
screen_has() {
	for _ in $(seq $((${3:-5} * 10))); do
		screen | grep -qE "$2" && { ok "$1"; return 0; }
		sleep 0.1
	done
	not_ok "$1 (no /$2/ on the screen)"
	screen | sed 's/^/#   /'
	return 1
}

# ---- the first screen ----
view_start 100 12
screen_is "the first screen: executables over all the history, by name" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: now  time: all  line: 1/4  totals: 5003.3 kB / 10035.0 kB
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable                                                          Sent   Received When
/opt/evil\x0apath\xff\x1b[31m                                     0.1 kB     0.1 kB               █
/usr/bin/curl                                                     1.2 kB    34.0 kB                █
/usr/bin/rsync                                                 5000.0 kB 10000.0 kB    █
/usr/bin/火狐                                                     2.0 kB     0.9 kB                █



sort: name  units: kB  live: off  monitor: not running
EOF
check_eq "it runs as the owner of snitch.db, not as root" "$TEST_UID" \
	"$(ps -o uid= -p "$(tm list-panes -F '#{pane_pid}')" | tr -d ' ')"

# ---- every tab (right arrow; the last wraps to the first) ----
keys Right
lines_are "tab Process Names" 3 10 <<'EOF'
<-                           Executables | Process Names | Commands | SHA256 | Parent Executab... ->
Process Name                                                        Sent   Received When
curl                                                              1.2 kB    34.0 kB                █
rsync                                                          5000.0 kB 10000.0 kB    █
火狐浏览器                                                        2.0 kB     0.9 kB                █
\xff\xfe bad                                                      0.1 kB     0.1 kB               █
EOF
keys Right
lines_are "tab Commands" 3 10 <<'EOF'
<-              Executables | Process Names | Commands | SHA256 | Parent Executables | Parent ... ->
Command                                                             Sent   Received When
curl --silent --output /dev/nu…ry/long/path/that/does/not/fit     1.2 kB    34.0 kB                █
fox --new-window                                                  2.0 kB     0.9 kB                █
rsync -a /home backup:                                         5000.0 kB 10000.0 kB    █
x                                                                 0.1 kB     0.1 kB               █
EOF
keys Right
lines_are "tab SHA256, with what VirusTotal said of a hash (record.json)" 3 10 <<'EOF'
<-    Executables | Process Names | Commands | SHA256 | Parent Executables | Parent Names | Pa... ->
SHA256                                                              Sent   Received When
111111111111111111111111111111…1111111  VT: 2 mal, 1 susp /73  5001.3 kB 10034.1 kB    █          ▁▁
222222222222222222222222222222…222222222222222222222222222222     2.0 kB     0.9 kB                █
EOF
keys Right
lines_are "tab Parent Executables" 3 10 <<'EOF'
<- ...rocess Names | Commands | SHA256 | Parent Executables | Parent Names | Parent Commands |... ->
Parent Executable                                                   Sent   Received When
/usr/bin/bash                                                     3.3 kB    35.0 kB               ▁█
/usr/sbin/cron                                                 5000.0 kB 10000.0 kB    █
EOF
keys Right
lines_are "tab Parent Names" 3 10 <<'EOF'
<- ...mands | SHA256 | Parent Executables | Parent Names | Parent Commands | Parent SHA256 | G... ->
Parent Name                                                         Sent   Received When
bash                                                              3.3 kB    35.0 kB               ▁█
cron                                                           5000.0 kB 10000.0 kB    █
EOF
keys Right
lines_are "tab Parent Commands" 3 10 <<'EOF'
<- ...Parent Executables | Parent Names | Parent Commands | Parent SHA256 | Grandparent Execut... ->
Parent Command                                                      Sent   Received When
bash                                                              3.3 kB    35.0 kB               ▁█
cron                                                           5000.0 kB 10000.0 kB    █
EOF
keys Right
lines_are "tab Parent SHA256" 3 10 <<'EOF'
<- ...s | Parent Names | Parent Commands | Parent SHA256 | Grandparent Executables | Users | L... ->
Parent SHA256                                                       Sent   Received When
222222222222222222222222222222…222222222222222222222222222222  5003.3 kB 10035.0 kB    █          ▁▁
EOF
keys Right
lines_are "tab Grandparent Executables" 3 10 <<'EOF'
<- ...rent Commands | Parent SHA256 | Grandparent Executables | Users | Local Ports | Remote P... ->
Grandparent Executable                                              Sent   Received When
(none)                                                            0.1 kB     0.1 kB               █
/usr/lib/systemd/systemd                                       5003.2 kB 10034.9 kB    █           ▁
EOF
keys Right
lines_are "tab Users" 3 10 <<'EOF'
<- ...arent SHA256 | Grandparent Executables | Users | Local Ports | Remote Ports | Local Addr... ->
User                                                                Sent   Received When
root (0)                                                          2.0 kB     0.9 kB                █
<user>                                                         5001.2 kB 10034.0 kB    █           ▁
??? (4000000000)                                                  0.1 kB     0.1 kB               █
EOF
keys Right
lines_are "tab Local Ports" 3 10 <<'EOF'
<- ...6 | Grandparent Executables | Users | Local Ports | Remote Ports | Local Addresses | Rem... ->
Local Port                                                          Sent   Received When
(none)                                                            0.1 kB     0.1 kB               █
40000                                                             1.2 kB    34.0 kB                █
40001                                                             2.0 kB     0.9 kB                █
40002                                                          5000.0 kB 10000.0 kB    █
EOF
keys Right
lines_are "tab Remote Ports" 3 10 <<'EOF'
<- ...t Executables | Users | Local Ports | Remote Ports | Local Addresses | Remote Addresses ... ->
Remote Port                                                         Sent   Received When
(none)                                                            0.1 kB     0.1 kB               █
22                                                             5000.0 kB 10000.0 kB    █
53                                                                2.0 kB     0.9 kB                █
443                                                               1.2 kB    34.0 kB                █
EOF
keys Right
lines_are "tab Local Addresses" 3 10 <<'EOF'
<- ...sers | Local Ports | Remote Ports | Local Addresses | Remote Addresses | Domains | Proto... ->
Local Address                                                       Sent   Received When
(none)                                                            0.1 kB     0.1 kB               █
198.51.100.1                                                   5003.2 kB 10034.9 kB    █           ▁
EOF
keys Right
lines_are "tab Remote Addresses" 3 10 <<'EOF'
<- ... | Remote Ports | Local Addresses | Remote Addresses | Domains | Protocols | Network Nam... ->
Remote Address                                                      Sent   Received When
(none)                                                            0.1 kB     0.1 kB               █
203.0.113.5                                                       1.2 kB    34.0 kB                █
203.0.113.53                                                      2.0 kB     0.9 kB                █
203.0.113.7                                                    5000.0 kB 10000.0 kB    █
EOF
keys Right
lines_are "tab Domains" 3 10 <<'EOF'
<- ... | Local Addresses | Remote Addresses | Domains | Protocols | Network Namespaces | Entry... ->
Domain                                                              Sent   Received When
(none)                                                            2.1 kB     1.0 kB               ▁█
net.backup                                                     5000.0 kB 10000.0 kB    █
org.example                                                       1.2 kB    34.0 kB                █
EOF
keys Right
lines_are "tab Protocols" 3 10 <<'EOF'
<- ...dresses | Remote Addresses | Domains | Protocols | Network Namespaces | Entry Time | Ser... ->
Protocol                                                            Sent   Received When
(none)                                                            0.1 kB     0.1 kB               █
tcp                                                            5001.2 kB 10034.0 kB    █           ▁
udp6                                                              2.0 kB     0.9 kB                █
EOF
keys Right
lines_are "tab Network Namespaces" 3 10 <<'EOF'
<- ... Addresses | Domains | Protocols | Network Namespaces | Entry Time | Services | Domain S... ->
Network Namespace                                                   Sent   Received When
4026531840 (host)                                              5001.3 kB 10034.1 kB    █          ▁▁
4026532000                                                        2.0 kB     0.9 kB                █
EOF
keys Right
lines_are "tab Entry Time" 3 10 <<'EOF'
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time                                                          Sent   Received When
2025-12-03 00:00:20                                            5000.0 kB 10000.0 kB    █
2025-12-04 11:00:00                                               0.1 kB     0.1 kB               █
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █
EOF
keys Right
lines_are "tab Services (mkdb's entries have none)" 3 10 <<'EOF'
<- ...ols | Network Namespaces | Entry Time | Services | Domain Sources                           ->
Service                                                             Sent   Received When
(none)                                                         5003.3 kB 10035.0 kB    █          ▁▁
EOF
keys Right
lines_are "tab Domain Sources" 3 10 <<'EOF'
<- ...Namespaces | Entry Time | Services | Domain Sources                                         ->
Domain Source                                                       Sent   Received When
(none)                                                            2.1 kB     1.0 kB               ▁█
dns                                                            5001.2 kB 10034.0 kB    █           ▁
EOF
keys Right
lines_are "tab Executables" 3 10 <<'EOF'
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable                                                          Sent   Received When
/opt/evil\x0apath\xff\x1b[31m                                     0.1 kB     0.1 kB               █
/usr/bin/curl                                                     1.2 kB    34.0 kB                █
/usr/bin/rsync                                                 5000.0 kB 10000.0 kB    █
/usr/bin/火狐                                                     2.0 kB     0.9 kB                █
EOF

# ---- filters: include (f, enter, space), exclude (e), and their removal ----
keys Down f
screen_is "f on curl: only curl's entries, the filter in the column header" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: now  time: all  line: 1/1  totals: 1.2 kB / 34.0 kB
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable (where executable = "/usr/bin/curl")                     Sent   Received When
/usr/bin/curl                                                     1.2 kB    34.0 kB                █






sort: name  units: kB  live: off  monitor: not running
EOF
keys Right
lines_are "  the next tab shows curl's process names only" 2 6 <<'EOF'
history: now  time: all  line: 1/1  totals: 1.2 kB / 34.0 kB
<-                           Executables | Process Names | Commands | SHA256 | Parent Executab... ->
Process Name (where executable = "/usr/bin/curl")                   Sent   Received When
curl                                                              1.2 kB    34.0 kB                █
EOF
keys BSpace
screen_is "backspace removes the filter and returns to the tab it was made on" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: now  time: all  line: 1/4  totals: 5003.3 kB / 10035.0 kB
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable                                                          Sent   Received When
/opt/evil\x0apath\xff\x1b[31m                                     0.1 kB     0.1 kB               █
/usr/bin/curl                                                     1.2 kB    34.0 kB                █
/usr/bin/rsync                                                 5000.0 kB 10000.0 kB    █
/usr/bin/火狐                                                     2.0 kB     0.9 kB                █



sort: name  units: kB  live: off  monitor: not running
EOF
keys Down Down e
screen_is "e on rsync hides it" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: now  time: all  line: 1/3  totals: 3.3 kB / 35.0 kB
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable (where executable != "/usr/bin/rsync")                   Sent   Received When
/opt/evil\x0apath\xff\x1b[31m                                     0.1 kB     0.1 kB               █
/usr/bin/curl                                                     1.2 kB    34.0 kB                █
/usr/bin/火狐                                                     2.0 kB     0.9 kB                █




sort: name  units: kB  live: off  monitor: not running
EOF
keys Right Enter
lines_are "enter adds an include filter after the exclude" 2 6 <<'EOF'
history: now  time: all  line: 1/1  totals: 1.2 kB / 34.0 kB
<-                           Executables | Process Names | Commands | SHA256 | Parent Executab... ->
Process Name (where executable != "/usr/bin/rsync" & process        Sent   Received When
curl                                                              1.2 kB    34.0 kB                █
EOF
keys E
lines_are "E removes the last filter (back on its tab, the exclude stays)" 2 8 <<'EOF'
history: now  time: all  line: 1/3  totals: 3.3 kB / 35.0 kB
<-                           Executables | Process Names | Commands | SHA256 | Parent Executab... ->
Process Name (where executable != "/usr/bin/rsync")                 Sent   Received When
curl                                                              1.2 kB    34.0 kB                █
火狐浏览器                                                        2.0 kB     0.9 kB                █
\xff\xfe bad                                                      0.1 kB     0.1 kB               █
EOF
keys F
lines_are "F removes the exclude" 2 9 <<'EOF'
history: now  time: all  line: 1/4  totals: 5003.3 kB / 10035.0 kB
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable                                                          Sent   Received When
/opt/evil\x0apath\xff\x1b[31m                                     0.1 kB     0.1 kB               █
/usr/bin/curl                                                     1.2 kB    34.0 kB                █
/usr/bin/rsync                                                 5000.0 kB 10000.0 kB    █
/usr/bin/火狐                                                     2.0 kB     0.9 kB                █
EOF
keys Left Left Left Space
lines_are "space filters too" 2 6 <<'EOF'
history: now  time: all  line: 1/1  totals: 5000.0 kB / 10000.0 kB
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time (where entry time = "2025-12-03 00:00:20")               Sent   Received When
2025-12-03 00:00:20                                            5000.0 kB 10000.0 kB    █
EOF
keys F
keys F
lines_are "F with no filter left says so" 12 12 <<'EOF'
no filter to remove
EOF

# ---- time ranges (t/T) and history (h/H) ----
keys Home t
screen_is "t: the last minute" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: now  time: 1 minute  line: 1/2  totals: 3.2 kB / 34.9 kB
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time                                                          Sent   Received When
2025-12-04 12:00:00                                               1.2 kB    34.0 kB            █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB              █





sort: name  units: kB  live: off  monitor: not running
EOF
keys t t t t t t
screen_is "t six times more: the last hour" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: now  time: 1 hour  line: 1/2  totals: 3.2 kB / 34.9 kB
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time                                                          Sent   Received When
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █





sort: name  units: kB  live: off  monitor: not running
EOF
keys h
screen_is "h: the hour before" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: 2025-12-04 10:00:21 -> 11:00:21  time: 1 hour  line: 1/1  totals: 0.1 kB / 0.1 kB
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time                                                          Sent   Received When
2025-12-04 11:00:00                                               0.1 kB     0.1 kB                █






sort: name  units: kB  live: off  monitor: not running
EOF
keys h
lines_are "h again: an hour with no traffic" 2 5 <<'EOF'
history: 2025-12-04 09:00:21 -> 10:00:21  time: 1 hour  line: 0/0  totals: 0.0 kB / 0.0 kB
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time                                                          Sent   Received When
no traffic in this time window
EOF
keys H H
lines_are "H twice: the present again" 2 8 <<'EOF'
history: now  time: 1 hour  line: 1/2  totals: 3.2 kB / 34.9 kB
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time                                                          Sent   Received When
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █
EOF
keys H
lines_are "H in the present says so" 12 12 <<'EOF'
already at the present
EOF
keys t t t t t
lines_are "t to 1 day, then 3 days: the backup a day and a half ago shows" 2 9 <<'EOF'
history: now  time: 3 days  line: 3/4  totals: 5003.3 kB / 10035.0 kB
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time                                                          Sent   Received When
2025-12-03 00:00:20                                            5000.0 kB 10000.0 kB          █
2025-12-04 11:00:00                                               0.1 kB     0.1 kB               █
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █
EOF
keys T
lines_are "T back to 1 day: it does not" 2 8 <<'EOF'
history: now  time: 1 day  line: 2/3  totals: 3.3 kB / 35.0 kB
<- ...ins | Protocols | Network Namespaces | Entry Time | Services | Domain Sources               ->
Entry Time                                                          Sent   Received When
2025-12-04 11:00:00                                               0.1 kB     0.1 kB               █
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █
EOF
for p in "3 days" "7 days" "30 days" "365 days" "all"; do
	keys t
	screen_has "t cycles to $p" "time: $p  "
done
keys h
lines_are "h with \"all\" explains that history needs a time range" 12 12 <<'EOF'
"all" has no history to step through: choose a time range with t
EOF

# ---- byte units (u/U) ----
keys u
lines_are "u: MB" 5 8 <<'EOF'
2025-12-03 00:00:20                                               5.0 MB    10.0 MB    █
2025-12-04 11:00:00                                               0.0 MB     0.0 MB               █
2025-12-04 12:00:00                                               0.0 MB     0.0 MB                █
2025-12-04 12:00:10                                               0.0 MB     0.0 MB                █
EOF
keys u
lines_are "u: GB" 5 8 <<'EOF'
2025-12-03 00:00:20                                               0.0 GB     0.0 GB    █
2025-12-04 11:00:00                                               0.0 GB     0.0 GB               █
2025-12-04 12:00:00                                               0.0 GB     0.0 GB                █
2025-12-04 12:00:10                                               0.0 GB     0.0 GB                █
EOF
keys u
lines_are "u: B" 5 8 <<'EOF'
2025-12-03 00:00:20                                            5000000 B 10000000 B    █
2025-12-04 11:00:00                                                 77 B       88 B               █
2025-12-04 12:00:00                                               1200 B    34000 B                █
2025-12-04 12:00:10                                               2000 B      900 B                █
EOF
keys u
lines_are "u: back to kB" 5 8 <<'EOF'
2025-12-03 00:00:20                                            5000.0 kB 10000.0 kB    █
2025-12-04 11:00:00                                               0.1 kB     0.1 kB               █
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █
EOF
keys U
lines_are "U: B" 5 8 <<'EOF'
2025-12-03 00:00:20                                            5000000 B 10000000 B    █
2025-12-04 11:00:00                                                 77 B       88 B               █
2025-12-04 12:00:00                                               1200 B    34000 B                █
2025-12-04 12:00:10                                               2000 B      900 B                █
EOF
keys u

# ---- sort (s) ----
keys s
lines_are "s: by sent, largest first" 5 8 <<'EOF'
2025-12-03 00:00:20                                            5000.0 kB 10000.0 kB    █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 11:00:00                                               0.1 kB     0.1 kB               █
EOF
keys s
lines_are "s: by received" 5 8 <<'EOF'
2025-12-03 00:00:20                                            5000.0 kB 10000.0 kB    █
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █
2025-12-04 11:00:00                                               0.1 kB     0.1 kB               █
EOF
keys s
lines_are "s: by name again" 5 8 <<'EOF'
2025-12-03 00:00:20                                            5000.0 kB 10000.0 kB    █
2025-12-04 11:00:00                                               0.1 kB     0.1 kB               █
2025-12-04 12:00:00                                               1.2 kB    34.0 kB                █
2025-12-04 12:00:10                                               2.0 kB     0.9 kB                █
EOF

# ---- moving: arrows, Home/End, PgUp/PgDn (on the executables again) ----
keys Right Right Right
keys End
screen_has "End: the last row" "line: 4/4  "
keys Home
screen_has "Home: the first row" "line: 1/4  "
keys Up
screen_has "up at the top wraps to the bottom" "line: 4/4  "
keys Down
screen_has "down at the bottom wraps to the top" "line: 1/4  "
keys NPage
screen_has "PgDn: a screen further (the last row)" "line: 4/4  "
keys PPage
screen_has "PgUp: back to the first" "line: 1/4  "

# ---- search (/, n, N) ----
keys / r s y Enter
lines_are "/rsy: the cursor on rsync, the search shown" 2 2 <<'EOF'
history: now  time: all  line: 3/4  totals: 5003.3 kB / 10035.0 kB
EOF
keys n
screen_has "n: the only match again" "line: 3/4  "
keys /
keys -l "火"
keys Enter
screen_has "/ with a CJK character finds the browser" "line: 4/4  "
keys / z z z Enter
lines_are "a search that finds nothing says so" 12 12 <<'EOF'
not found: zzz
EOF
keys / x Escape
screen_has "Esc leaves the prompt without searching" "line: 4/4  "
keys Home

# ---- resizing ----
tm resize-window -t v -x 40 -y 10
screen_is "40x10: narrower columns, no sparklines" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unf
history: now  time: all  line: 1/4  tota
<-            Executables | Proces... ->
Executable               Sent   Received
/opt/evil…\x1b[31m     0.1 kB     0.1 kB
/usr/bin/curl          1.2 kB    34.0 kB
/usr/bin/rsync      5000.0 kB 10000.0 kB
/usr/bin/火狐          2.0 kB     0.9 kB

sort: name  units: kB  live: off  monit
EOF
tm resize-window -t v -x 20 -y 5
screen_is "20x5: too small, said on the screen" <<'EOF'
terminal too small
(20x5): picosnitch
view needs 30x7
EOF
tm resize-window -t v -x 100 -y 12
screen_is "back to 100x12: the first screen again" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: now  time: all  line: 1/4  totals: 5003.3 kB / 10035.0 kB
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable                                                          Sent   Received When
/opt/evil\x0apath\xff\x1b[31m                                     0.1 kB     0.1 kB               █
/usr/bin/curl                                                     1.2 kB    34.0 kB                █
/usr/bin/rsync                                                 5000.0 kB 10000.0 kB    █
/usr/bin/火狐                                                     2.0 kB     0.9 kB                █



sort: name  units: kB  live: off  monitor: not running  search: zzz
EOF

# ---- quitting ----
quits() {
	for _ in $(seq 30); do tm has-session -t v 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
keys q
quits && ok "q quits" || not_ok "q quits"
view_start 100 12
screen_has "started again" "line: 1/4"
keys Escape
quits && ok "Esc quits" || not_ok "Esc quits"

# ---- root becomes the owner of snitch.db, never root's group ----
ORPHAN=$WORK/orphan
mkdir -p "$ORPHAN"
cp "$PICOSNITCH_DIR/snitch.db" "$ORPHAN/snitch.db"
chown -R 4000000001:0 "$ORPHAN"
view_start 100 12 PICOSNITCH_DIR="$ORPHAN"
screen_has "a database of a user who no longer exists, group root: it opens" "line: 1/4"
pane=$(tm list-panes -F '#{pane_pid}')
check_eq "  as that uid, in nogroup, with no supplementary groups and no capabilities" \
	"uid 4000000001 gid $(getent group nogroup | cut -d: -f3) groups - eff 0000000000000000 prm 0000000000000000" \
	"$(awk '/^Uid:/ { u = $2 } /^Gid:/ { g = $2 } /^Groups:/ { gr = ($2 == "" ? "-" : $2) }
		/^CapEff:/ { e = $2 } /^CapPrm:/ { p = $2 }
		END { print "uid " u " gid " g " groups " gr " eff " e " prm " p }' "/proc/$pane/status")"
tm kill-server 2>/dev/null

# ---- the desktop user runs it, without sudo ----
tm kill-server 2>/dev/null
tm new-session -d -s v -x 100 -y 12 \
	"exec runuser -u $TEST_USER -- env TZ=UTC LANG=C.UTF-8 TERM=screen PICOSNITCH_VIEW_NOW=$NOW \
	PICOSNITCH_DIR=$PICOSNITCH_DIR $(user_bin) view 2>>$WORK/view.err"
lines_are "the owner of snitch.db runs it directly" 2 4 <<'EOF'
history: now  time: all  line: 1/4  totals: 5003.3 kB / 10035.0 kB
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable                                                          Sent   Received When
EOF

# ---- a database that does not exist yet, then appears ----
EMPTY=$WORK/empty
mkdir -p "$EMPTY" && chown "$TEST_USER:" "$EMPTY"
view_start 100 12 PICOSNITCH_DIR="$EMPTY"
screen_is "no database: a message on the screen, not an exit" <<'EOF'
f/enter: filter  e: exclude  F/bksp: unfilter  h/H: history  t/T: time  u/U: units  s: sort  /: sear
history: now  time: all  line: 0/0  totals: 0.0 kB / 0.0 kB
<-                                          Executables | Process Names | Commands | SHA256 | ... ->
Executable                                                          Sent   Received When
No database yet: /tmp/picosnitch-test.XXXXXX/empty/snitch.db does not exist. The monitor creates it
when it first writes what it counted (picosnitch start). Trying again every 2 seconds.





sort: name  units: kB  live: off  monitor: not running
EOF
row $((NOW - 5)) 10 20 1 /usr/bin/late late late $H1 /usr/bin/bash bash bash $H2 '' 0 1 2 \
	198.51.100.1 203.0.113.9 '' 2 17 4026531840 | mkdb_as_user "$EMPTY/snitch.db"
screen_has "  and its entries once the database appears (retried every 2 s)" "^/usr/bin/late " 6

# ---- a database of a schema this version does not know ----
FUTURE=$WORK/future
mkdir -p "$FUTURE"
sqlite3 "$FUTURE/snitch.db" "CREATE TABLE connections (x); PRAGMA user_version = 99"
chown -R "$TEST_USER:" "$FUTURE"
view_start 100 12 PICOSNITCH_DIR="$FUTURE"
screen_has "an unknown schema version: said on the screen" "Cannot read .*snitch.db: .*(version|schema).*99"

# ---- a locked database ----
# (an exclusive lock holds readers out only when no one else has the file
# open, as a crashed or hand-run program's could)
tm kill-server 2>/dev/null
sleep 0.5
mkfifo "$WORK/lock.in"
sqlite3 "$EMPTY/snitch.db" <"$WORK/lock.in" >/dev/null 2>&1 &
LOCKER=$!
exec 7>"$WORK/lock.in"
echo "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; SELECT count(*) FROM connections;" >&7
sleep 0.5
view_start 100 12 PICOSNITCH_DIR="$EMPTY"
screen_has "a locked database: said on the screen" "is locked by another program" 8
kill "$LOCKER"
wait "$LOCKER" 2>/dev/null
exec 7>&-
screen_has "  and its entries once the lock is gone" "^/usr/bin/late " 6
tm kill-server 2>/dev/null

# ---- live mode: a running monitor's new traffic within 2 seconds ----
if [ ! -r /sys/kernel/btf/vmlinux ]; then
	skip "live mode: the kernel has no BTF, so no monitor can run"
else
	LIVE=$WORK/live
	export PICOSNITCH_DIR=$LIVE
	ps_config '{"DB write limit (seconds)": 1, "Desktop notifications": false, "GeoIP lookup": false}'
	if ps_start; then
		SINK=$(prog livesink)
		"$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 &
		wait_file "$WORK/sink.port"
		TALKER=$(prog livetalker)
		for _ in $(seq 100); do [ -e "$LIVE/snitch.db" ] && break; sleep 0.1; done
		view_start 100 40 PICOSNITCH_VIEW_NOW=
		keys l
		screen_has "l turns live mode on; the footer names the monitor's pid" \
			"live: on  monitor: pid $PS_PID"
		"$TALKER" udp-once 127.0.0.1 "$(cat "$WORK/sink.port")" 4321
		for _ in $(seq 100); do
			[ "$(db "SELECT count(*) FROM connection_log WHERE executable = '$TALKER'")" != 0 ] &&
				break
			sleep 0.1
		done
		screen_has "live mode shows the new program's traffic within 2 s of its entry" \
			"/livetalker +4\.3 kB +0\.0 kB " 2
		keys l
		screen_has "l again turns it off" "live: off"
		tm kill-server 2>/dev/null
		ps_stop
		check_eq "the monitor stops cleanly" 0 "$PS_RC"
	else
		not_ok "the monitor starts (for live mode)"
	fi
fi

# ---- no sanitizer reports from any view run ----
reports=$(cat "$WORK"/asan.* 2>/dev/null | head -40)
check_eq "no ASan/UBSan reports" "" "$reports"

t_done

