#!/bin/bash
# The small things of issue 16, without a monitor: bash completion (exact
# words, with the completion loaded into bash), `status --json` (exact
# objects, stopped and stale), `version` (the build's parts and its
# libraries' versions), level prefixes for journald on stderr (only when
# JOURNAL_STREAM names stderr), `systemd --print`, and `picosnitch import`
# of a 1.x snitch.db built here (exact report, idempotent, run as the
# user who owns snitch.db, exact sums afterwards).
source "$(dirname "$0")/../lib/lib.sh"

command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
P=$PS_BIN
# the state directory, the desktop user's (commands started as root
# become that user)
mkdir -p "$PICOSNITCH_DIR"
[ -n "$TEST_USER" ] && chown "$TEST_USER:" "$PICOSNITCH_DIR"
chmod 0700 "$PICOSNITCH_DIR"

# ---- bash completion ----

# complete WORD...: what bash completes for the command line "WORD... <TAB>"
# (the last word is the one being completed), in a clean bash
complete_words() {
	(cd "$WORK/files" && env -i HOME="$WORK" PATH=/usr/bin:/bin bash --norc --noprofile -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_picosnitch picosnitch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd" "' \
		bash "$ROOT/completion/picosnitch.bash" "$@")
}
mkdir -p "$WORK/files/sub"
: >"$WORK/files/old.db"
echo "some text, not a database" >"$WORK/files/other.txt"
check_eq "completion: every command" \
	"dash geoip-update help import lookup restart start start-no-daemon status stop systemd version view" \
	"$(complete_words picosnitch "")"
check_eq "completion: commands by prefix" "start start-no-daemon status stop" \
	"$(complete_words picosnitch st)"
check_eq "completion: status takes --json" "--json" "$(complete_words picosnitch status "")"
check_eq "completion: only once" "" "$(complete_words picosnitch status --json "")"
check_eq "completion: systemd takes --print" "--print" "$(complete_words picosnitch systemd --)"
check_eq "completion: dash takes --no-browser" "--no-browser" "$(complete_words picosnitch dash --n)"
check_eq "completion: import takes a file" "old.db other.txt sub" "$(complete_words picosnitch import "")"
check_eq "completion: by prefix" "old.db" "$(complete_words picosnitch import ol)"
check_eq "completion: one file only" "" "$(complete_words picosnitch import old.db "")"
check_eq "completion: nothing for lookup's addresses or for view" "|" \
	"$(complete_words picosnitch lookup "")|$(complete_words picosnitch view "")"
check_eq "completion: bash-completion's loader finds it by the command's name" \
	"complete -F _picosnitch picosnitch" \
	"$(bash --norc -c "source '$ROOT/completion/picosnitch.bash'; complete -p picosnitch")"

# ---- status --json ----

out=$("$P" status --json 2>&1)
rc=$?
check_eq "status --json, not running: exit 3 and the object" \
	"3 {\"state\":\"stopped\",\"running\":false,\"pid\":null,\"pidfile\":\"$PICOSNITCH_PIDFILE\",\"state_directory\":\"$PICOSNITCH_DIR\",\"version\":\"0.1.0\"}" \
	"$rc $out"
# a pidfile of a process that is gone, with no lock held: stale
sh -c 'exit 0' & dead=$!
wait $dead
echo $dead >"$PICOSNITCH_PIDFILE"
out=$("$P" status --json 2>&1)
rc=$?
check_eq "status --json, stale pidfile: exit 1, its pid" \
	"1 {\"state\":\"stale\",\"running\":false,\"pid\":$dead,\"pidfile\":\"$PICOSNITCH_PIDFILE\",\"state_directory\":\"$PICOSNITCH_DIR\",\"version\":\"0.1.0\"}" \
	"$rc $out"
rm -f "$PICOSNITCH_PIDFILE"
out=$(PICOSNITCH_PIDFILE=$'/tmp/odd"\\\x01' "$P" status --json 2>&1)
check_eq "status --json: a pidfile path with quotes and controls stays valid JSON" \
	'/tmp/odd"\\\x01' "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pidfile"])')"
out=$("$P" status --jsn 2>&1)
check_eq "status with an unknown option: exit 2, named" "2 picosnitch status: unknown option '--jsn'" \
	"$? $out"

# ---- version ----

out=$("$P" version)
check_eq "version: version and state directory first" "picosnitch 0.1.0|state directory: $PICOSNITCH_DIR" \
	"$(head -2 <<<"$out" | paste -sd'|')"
check_match "  the parts built in" \
	"features: bpf-sensor\(CO-RE, embedded\) dash\(web pages embedded, [0-9]+ bytes\) view geoip virustotal notifications\(sd-bus\) systemd-notify import" \
	"$out"
case $P in
*/asan/*) san="address,undefined" ;;
*) san=none ;;
esac
check_eq "  the sanitizers of this build" "sanitizers: $san" "$(grep '^sanitizers:' <<<"$out")"
libs=$(grep '^libraries:' <<<"$out")
for l in "SQLite $(pkg-config --modversion sqlite3)" "jansson $(pkg-config --modversion jansson)" \
	"libmicrohttpd $(pkg-config --modversion libmicrohttpd)" "libmaxminddb $(pkg-config --modversion libmaxminddb)" \
	"libcurl $(pkg-config --modversion libcurl)" "libcap $(pkg-config --modversion libcap)" \
	"libsystemd $(pkg-config --modversion libsystemd) (built against)"; do
	check_match "  library: $l" "[:,] ${l//[()]/.}(,|$)" "$libs"
done
check_match "  where the address data is looked for" "^address data: /" "$(grep '^address data:' <<<"$out")"

# ---- level prefixes for journald ----

# an error (a file that does not exist), with stderr a file; JOURNAL_STREAM
# naming that file's device and inode, as systemd sets it
: >"$WORK/stderr"
ds=$(stat -c '%d:%i' "$WORK/stderr")
JOURNAL_STREAM=$ds "$P" import "$WORK/none.db" 2>"$WORK/stderr" >/dev/null
check_eq "under systemd, an error line starts with <3>" \
	"<3>picosnitch: error: import: $WORK/none.db: No such file or directory" "$(cat "$WORK/stderr")"
JOURNAL_STREAM=1:2 "$P" import "$WORK/none.db" 2>"$WORK/stderr" >/dev/null
check_eq "JOURNAL_STREAM naming another stream: no prefix" \
	"picosnitch: error: import: $WORK/none.db: No such file or directory" "$(cat "$WORK/stderr")"
"$P" import "$WORK/none.db" 2>"$WORK/stderr" >/dev/null
check_eq "without JOURNAL_STREAM: no prefix" \
	"picosnitch: error: import: $WORK/none.db: No such file or directory" "$(cat "$WORK/stderr")"
# a warning: config.json that cannot be read, by a command that goes on
echo '{' >"$PICOSNITCH_DIR/config.json"
chmod 0644 "$PICOSNITCH_DIR/config.json"
JOURNAL_STREAM=$ds "$P" lookup 127.0.0.1 2>"$WORK/stderr" >/dev/null
check_match "  a warning starts with <4>" "^<4>picosnitch: warning: $PICOSNITCH_DIR/config.json: .*; using the defaults" \
	"$(cat "$WORK/stderr")"
rm -f "$PICOSNITCH_DIR/config.json"

# ---- systemd --print ----

out=$("$P" systemd --print)
check_eq "systemd --print: the unit, for no particular user, without root" \
	"0|ExecStart=$P start-no-daemon|0|WantedBy=multi-user.target" \
	"$?|$(grep '^ExecStart=' <<<"$out")|$(grep -c '^Environment=SUDO_UID' <<<"$out")|$(tail -1 <<<"$out")"

# ---- import ----

V1=$WORK/files/v1.db
sqlite3 "$V1" "CREATE TABLE connections (contime text, send integer, recv integer, exe text,
	name text, cmdline text, sha256 text, pexe text, pname text, pcmdline text, psha256 text,
	uid integer, lport integer, rport integer, laddr text, raddr text, domain text);
	PRAGMA user_version = 3;
	INSERT INTO connections VALUES
	('2024-01-02 03:04:05', 1000, 2000, '/usr/bin/curl', 'curl', 'curl x', 'aa', '/usr/bin/bash',
	 'bash', 'bash', 'bb', 1000, 40000, 443, '10.0.0.1', '93.184.216.34', 'com.example'),
	('2024-01-02 03:04:15', 30, 40, '/usr/bin/curl', 'curl', 'curl x', 'aa', '/usr/bin/bash',
	 'bash', 'bash', 'bb', 1000, 40000, 443, '10.0.0.1', '93.184.216.34', 'com.example'),
	('2024-01-02 03:04:15', 'lots', 40, '/usr/bin/curl', 'curl', 'curl x', 'aa', '/usr/bin/bash',
	 'bash', 'bash', 'bb', 1000, 40000, 443, '10.0.0.1', '93.184.216.34', 'com.example');"
chmod 0644 "$V1"
expected="imported: $V1 (schema 3, picosnitch 1.x)
rows in the file: 3
added: 2
already present: 0
skipped: 1
bytes sent: 1030
bytes received: 2040
time span: 2024-01-02 03:04:05 UTC .. 2024-01-02 03:04:15 UTC
skipped, send: not an integer: 1"
out=$(TZ=UTC "$P" import "$V1" 2>&1)
check_eq "import: exit 0 and the report" "0|$expected" "$?|$out"
out=$(TZ=UTC "$P" import "$V1" 2>&1)
check_eq "import again: nothing added" "0|$(sed -e 's/^added: 2/added: 0/' -e 's/^already present: 0/already present: 2/' <<<"$expected")" \
	"$?|$out"
check_eq "the entries in snitch.db" "2|1030|2040|1704164645,1704164655" \
	"$(db "SELECT count(*), sum(sent), sum(received) FROM connections")|$(db "SELECT group_concat(time) FROM (SELECT time FROM connections ORDER BY time)")"
if [ -n "$TEST_USER" ]; then
	check_eq "snitch.db belongs to the user (import ran as them, never as root)" "$TEST_USER 600" \
		"$(stat -c '%U %a' "$PICOSNITCH_DIR/snitch.db")"
else
	skip "snitch.db's owner: not root, so no other user to become"
fi
"$P" import "$WORK/files/other.txt" >/dev/null 2>"$WORK/stderr"
check_eq "a file that is not a database: exit 1, named" \
	"1|picosnitch: error: import: $WORK/files/other.txt: cannot read it: file is not a database" \
	"$?|$(cat "$WORK/stderr")"
"$P" import "$PICOSNITCH_DIR/snitch.db" >/dev/null 2>"$WORK/stderr"
check_eq "our own snitch.db: refused" \
	"1|picosnitch: error: import: $PICOSNITCH_DIR/snitch.db is this picosnitch's own snitch.db" \
	"$?|$(cat "$WORK/stderr")"
t_done
