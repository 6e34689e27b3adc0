# Shell helpers for the integration tests: TAP output, a picosnitch daemon
# in a scratch state directory, unique copies of the traffic generator,
# network namespaces with a veth pair, and queries of the results.
#
# Each test script sources this file, prints TAP lines ("ok N - ...",
# "not ok N - ...", "ok N # skip ...") and ends with `t_done`.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PS_BIN=${PS_BIN:-$ROOT/build/asan/picosnitch}
TRAFFICGEN=$ROOT/build/tests/trafficgen
T_N=0
T_FAILED=0
WORK=$(mktemp -d /tmp/picosnitch-test.XXXXXX)
# the desktop user's processes (helpers, programs run as the user) must
# reach files in here
chmod 0755 "$WORK"
PS_PID=
NS=
VETH_H=
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
skip() { T_N=$((T_N + 1)); echo "ok $T_N # skip $*"; }
# diag TEXT...: a comment in the TAP output, one "# " per line
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (expected '$2', got '$3')"; fi
}

# check_match DESCRIPTION EXTENDED-REGEX ACTUAL
check_match() {
	if [[ $3 =~ $2 ]]; then ok "$1"; else not_ok "$1 ('$3' does not match /$2/)"; fi
}

# skip_all REASON: the whole script cannot run here
skip_all() {
	echo "1..0 # skip $*"
	exit 0
}

need_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (loads BPF programs)"
	[ -r /sys/kernel/btf/vmlinux ] || skip_all "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
}

cleanup() {
	[ -n "$PS_PID" ] && kill -KILL "$PS_PID" 2>/dev/null
	[ -n "$OWN_TEST_USER" ] && test_user_remove "$OWN_TEST_USER"
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	[ -n "$VETH_H" ] && ip link del "$VETH_H" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	# anything still running from the scratch directory (servers run
	# through runuser, programs under test)
	pkill -KILL -f "$WORK/" 2>/dev/null
	# KEEP_WORK=1 keeps the state directory and logs for a look afterwards
	if [ -n "${KEEP_WORK:-}" ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

t_done() {
	echo "1..$T_N"
	if [ "$T_FAILED" != 0 ] && [ -s "$WORK/daemon.log" ]; then
		echo "# the monitor's output:"
		tail -n 60 "$WORK/daemon.log" | sed 's/^/#   /'
	fi
	[ "$T_FAILED" = 0 ]
}

# ---- the desktop user ----

# Tests never rely on the users this machine happens to have.  The desktop
# user is a throwaway ordinary user: the one tests/run made for the whole
# run (PS_TEST_USER), or one made here and removed at exit.  SUDO_UID names
# it to every monitor a test starts, as `sudo picosnitch` run by that user
# would; t107 checks the rule for when nothing names it.
TEST_USER= TEST_UID= OWN_TEST_USER=

test_user_make() { # NAME
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		--user-group "$1" >/dev/null
}

test_user_remove() { # NAME
	pkill -KILL -u "$1" 2>/dev/null
	userdel "$1" >/dev/null 2>&1
	getent group "$1" >/dev/null && groupdel "$1" >/dev/null 2>&1
	return 0
}

if [ "$(id -u)" = 0 ]; then
	if [ -n "${PS_TEST_USER:-}" ] && id -u "$PS_TEST_USER" >/dev/null 2>&1; then
		TEST_USER=$PS_TEST_USER
	elif command -v useradd >/dev/null && test_user_make "pst$$"; then
		TEST_USER=pst$$
		OWN_TEST_USER=$TEST_USER
	fi
	if [ -n "$TEST_USER" ]; then
		TEST_UID=$(id -u "$TEST_USER")
		export SUDO_UID=$TEST_UID
	fi
fi
unset SUDO_USER DOAS_USER

# user_bin: a copy of the monitor's binary that the test user can run (the
# checkout may be in a home directory only root can enter)
user_bin() {
	if [ ! -x "$WORK/user-bin/picosnitch" ]; then
		mkdir -p "$WORK/user-bin" && chmod 0755 "$WORK/user-bin" &&
			cp "$PS_BIN" "$WORK/user-bin/picosnitch" && chmod 0755 "$WORK/user-bin/picosnitch"
	fi
	echo "$WORK/user-bin/picosnitch"
}

# ---- the daemon ----

export PICOSNITCH_DIR=$WORK/state
export PICOSNITCH_PIDFILE=$WORK/picosnitch.pid
# no test reaches the internet: the monthly GeoIP download is off unless a
# test points it at a server of its own (t165)
export PICOSNITCH_GEOIP_URL=

# ps_config JSON: write config.json (keys not given take their defaults)
ps_config() {
	mkdir -p "$PICOSNITCH_DIR"
	printf '%s\n' "$1" >"$PICOSNITCH_DIR/config.json"
}

# ps_start: start the monitor and wait until it is monitoring.  The log is
# emptied here, in this shell: a '>' on a command run with '&' happens in
# the child, which may not have run yet when the loop first reads the file
# (and would find the line of the previous start)
ps_start() {
	: >"$WORK/daemon.log"
	"$PS_BIN" start-no-daemon >>"$WORK/daemon.log" 2>&1 &
	PS_PID=$!
	for _ in $(seq 200); do
		grep -q "monitoring network traffic" "$WORK/daemon.log" && return 0
		kill -0 "$PS_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# daemon did not start:" >&2
	sed 's/^/#   /' "$WORK/daemon.log" >&2
	return 1
}

# ps_stop: SIGTERM, wait; sets PS_RC to the exit status
ps_stop() {
	kill -TERM "$PS_PID"
	wait "$PS_PID"
	PS_RC=$?
	PS_PID=
}

# ---- programs under test ----

# prog NAME: a private copy of the traffic generator (its own inode and path)
prog() {
	mkdir -p "$WORK/bin"
	cp "$TRAFFICGEN" "$WORK/bin/$1"
	echo "$WORK/bin/$1"
}

# wait_file PATH: until a server announces itself
wait_file() {
	for _ in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	echo "# timed out waiting for $1" >&2
	return 1
}

# ---- test databases ----

# row FIELD...: one line for mkdb (tests/helpers/mkdb.c lists the fields)
row() { local IFS=$'\t'; echo "$*"; }

# mkdb_as_user PATH: write the rows on stdin into PATH, as the test user,
# with the monitor's own writer
mkdb_as_user() {
	if [ ! -x "$WORK/user-mkdb" ]; then
		cp "$ROOT/build/tests/mkdb" "$WORK/user-mkdb" && chmod 0755 "$WORK/user-mkdb" || return 1
	fi
	runuser -u "$TEST_USER" -- "$WORK/user-mkdb" "$1"
}

# ---- results ----

db() { sqlite3 -batch "$PICOSNITCH_DIR/snitch.db" "$@"; }

# db_totals EXE: "<sent> <received>" summed over the whole log
db_totals() {
	db "SELECT ifnull(sum(sent),0) || ' ' || ifnull(sum(received),0) FROM connection_log WHERE executable = '$1'"
}

# log_totals EXE: the same from conn.log
log_totals() {
	awk -F, -v exe="$1" '$4 == exe { s += $2; r += $3 } END { printf "%.0f %.0f\n", s, r }' \
		"$PICOSNITCH_DIR/conn.log"
}

# expect EXE SENT RECEIVED WHAT: totals for check_expected
EXPECT=()
expect() { EXPECT+=("$1|$2|$3|$4"); }

# check_expected: each expected total, in snitch.db and in conn.log
check_expected() {
	local e exe sent recv what
	for e in "${EXPECT[@]}"; do
		IFS='|' read -r exe sent recv what <<<"$e"
		check_eq "$what (snitch.db)" "$sent $recv" "$(db_totals "$exe")"
		check_eq "$what (conn.log)" "$sent $recv" "$(log_totals "$exe")"
	done
	EXPECT=()
}

# ---- a network namespace behind a veth pair ----

# netns_up: host side 198.51.100.1 / 2001:db8:100::1, namespace side .2 / ::2
netns_up() {
	if ip -o addr | grep -qE '198\.51\.100\.|2001:db8:100:'; then
		echo "# 198.51.100.0/24 or 2001:db8:100::/64 is already used here" >&2
		return 1
	fi
	NS=psns$$
	VETH_H=psh$$
	VETH_N=psn$$
	ip netns add "$NS" &&
		ip link add "$VETH_H" type veth peer name "$VETH_N" &&
		ip link set "$VETH_N" netns "$NS" &&
		ip addr add 198.51.100.1/24 dev "$VETH_H" &&
		ip addr add 2001:db8:100::1/64 dev "$VETH_H" nodad &&
		ip link set "$VETH_H" up &&
		ip -n "$NS" link set lo up &&
		ip -n "$NS" addr add 198.51.100.2/24 dev "$VETH_N" &&
		ip -n "$NS" addr add 2001:db8:100::2/64 dev "$VETH_N" nodad &&
		ip -n "$NS" link set "$VETH_N" up || return 1
	# the test peer must be reached through our veth, nowhere else
	ip route get 198.51.100.2 | grep -q "dev $VETH_H" || return 1
	ip -6 route get 2001:db8:100::2 | grep -q "dev $VETH_H" || return 1
	for _ in $(seq 50); do
		[ "$(cat "/sys/class/net/$VETH_H/operstate")" = up ] &&
			[ "$(in_ns cat "/sys/class/net/$VETH_N/operstate")" = up ] && return 0
		sleep 0.1
	done
	return 1
}

in_ns() { ip netns exec "$NS" "$@"; }

# Traffic targets: lo4 lo6 (loopback), veth4 veth6 (the namespace's side)
addr_of() {
	case $1 in
	lo4) echo 127.0.0.1 ;;
	lo6) echo ::1 ;;
	veth4) echo 198.51.100.2 ;;
	veth6) echo 2001:db8:100::2 ;;
	esac
}

# run_server TARGET CMD...: in the namespace for veth targets
run_server() {
	local t=$1
	shift
	case $t in
	veth*) in_ns "$@" ;;
	*) "$@" ;;
	esac
}
