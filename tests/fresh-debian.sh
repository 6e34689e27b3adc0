#!/bin/bash
# Proves the README's set-up on a fresh Debian 12: builds a minimal bookworm
# root file system with debootstrap (cached after the first run), clones the
# committed HEAD into root's home there, gives it a mount table like a
# freshly booted Debian 12 (/ a mount point, cgroup2 alone at /sys/fs/cgroup,
# bpffs, tracefs, /proc, /dev, /run) and, inside it, as root:
#   1. ./setup.sh test        with no user under /home
#   2. ./setup.sh test        again, with a user of uid 1000 added
#   3. ./setup.sh start       for a minute with some traffic; snitch.db is read
# and prints one result line.  Run as root:
#
#   tests/fresh-debian.sh [--quick] [--keep]
#
#   --quick   skip step 1 (one test run instead of two)
#   --keep    keep the root file system and logs afterwards
#
# FRESH_CACHE (default /var/cache/picosnitch-fresh) holds the debootstrap
# tarball; FRESH_WORK (default /var/tmp) the scratch trees.  It needs
# debootstrap (installed if missing) and Debian's mirror; nothing else of the
# host reaches the tree but the kernel.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0 KEEP=0
for a in "$@"; do
	case $a in
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	*) echo "usage: $0 [--quick] [--keep]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "fresh-debian.sh: needs root (debootstrap, mounts, chroot)" >&2; exit 2; }

# shellcheck source=tests/lib/fresh-root.sh
source "$ROOT/tests/lib/fresh-root.sh"
fresh_tarball

WORK=$(mktemp -d "${FRESH_WORK:-/var/tmp}/picosnitch-fresh.XXXXXX")
R=$WORK/root
fresh_unpack "$R"
# the committed HEAD, as a user would clone it, in root's home (mode 0700)
git clone -q "$ROOT" "$R/root/picosnitch"
git -C "$R/root/picosnitch" log -1 --format='# testing %h %s'

cat >"$R/root/fresh-steps.sh" <<'EOF'
#!/bin/bash
# Runs inside the fresh tree, as root, in a Debian-12-like mount table.
set -u
cd /root/picosnitch
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root
unset SUDO_UID SUDO_USER DOAS_USER PICOSNITCH_DIR
res=()
summary() { grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1; }
if [ "$QUICK" != 1 ]; then
	echo "## ./setup.sh test, no user under /home"
	./setup.sh test >/root/test-nouser.log 2>&1
	rc=$?
	tail -n 30 /root/test-nouser.log
	res+=("no user: $(summary /root/test-nouser.log) (exit $rc)")
fi
useradd -m -u 1000 -s /bin/bash alice
echo "## ./setup.sh test, with alice (uid 1000)"
./setup.sh test >/root/test-user.log 2>&1
rc=$?
tail -n 30 /root/test-user.log
res+=("uid 1000: $(summary /root/test-user.log) (exit $rc)")

echo "## ./setup.sh start for a minute, with traffic"
./setup.sh start >/root/start.log 2>&1 &
pid=$!
for _ in $(seq 600); do
	grep -q "monitoring network traffic" /root/start.log && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.5
done
gen=/root/picosnitch/build/tests/trafficgen
if [ -x "$gen" ] && grep -q "monitoring network traffic" /root/start.log; then
	cp "$gen" /usr/local/bin/fresh-traffic
	for i in $(seq 12); do
		fresh-traffic tcp-server 127.0.0.1 /root/port.$i 100000 100000 send >/dev/null 2>&1 &
		spid=$!
		for _ in $(seq 50); do [ -s /root/port.$i ] && break; sleep 0.1; done
		fresh-traffic tcp-client 127.0.0.1 "$(cat /root/port.$i)" 100000 100000 send >/dev/null 2>&1
		wait $spid
		sleep 4
	done
fi
sleep 2
kill -INT $pid 2>/dev/null
wait $pid
src=$?
db=/home/alice/.config/picosnitch/snitch.db
rows=$(sqlite3 "$db" "SELECT ifnull(sum(sent),0) || ' ' || ifnull(sum(received),0) FROM connection_log WHERE executable = '/usr/local/bin/fresh-traffic'" 2>&1)
tail -n 5 /root/start.log
res+=("start: exit $src, fresh-traffic logged '$rows' bytes sent/received (expected '2400000 2400000')")
printf '%s\n' "${res[@]}" >/root/fresh-result
EOF
chmod +x "$R/root/fresh-steps.sh"

start=$(date +%s)
fresh_run "$R" /root/fresh-steps.sh QUICK="$QUICK" NODE_EXTRA_CA_CERTS=/etc/picosnitch-fresh-extra-ca.pem 2>&1 |
	tee "$WORK/fresh.log" | sed 's/^/   /'
took=$(($(date +%s) - start))

echo "== fresh Debian 12 ($(uname -r), $((took / 60)) min):"
if [ -s "$R/root/fresh-result" ]; then
	sed 's/^/   /' "$R/root/fresh-result"
	cp "$R"/root/*.log "$WORK/" 2>/dev/null || true
else
	echo "   no result (see $WORK/fresh.log)"
fi
# one line: every test run ended with 0 failed, and start logged exact bytes
ok=1
grep -qE ' [1-9][0-9]* failed| 0 passed' "$R/root/fresh-result" 2>/dev/null && ok=0
grep -q "exit [1-9]" "$R/root/fresh-result" 2>/dev/null && ok=0
grep -q "logged '2400000 2400000'" "$R/root/fresh-result" 2>/dev/null || ok=0
[ -s "$R/root/fresh-result" ] || ok=0
if [ "$KEEP" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
if [ $ok = 1 ]; then echo "fresh-debian: PASS"; else echo "fresh-debian: FAIL"; exit 1; fi
