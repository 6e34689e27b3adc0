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
CACHE=${FRESH_CACHE:-/var/cache/picosnitch-fresh}
QUICK=0 KEEP=0
for a in "$@"; do
	case $a in
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	*) echo "usage: $0 [--quick] [--keep]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "fresh-debian.sh: needs root (debootstrap, mounts, chroot)" >&2; exit 2; }

# The packages the issue's "new user" had: minbase plus these.
EXTRA=ca-certificates,git,make,sudo,procps,iproute2
TARBALL=$CACHE/bookworm-minbase.tar

if ! command -v debootstrap >/dev/null; then
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
fi
mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
	echo "# debootstrap bookworm (minbase + $EXTRA) into the cache, once"
	tmp=$(mktemp -d "${FRESH_WORK:-/var/tmp}/picosnitch-bootstrap.XXXXXX")
	debootstrap --variant=minbase --include="$EXTRA" bookworm "$tmp/root" http://deb.debian.org/debian \
		>"$tmp/debootstrap.log" 2>&1 || { tail -20 "$tmp/debootstrap.log"; exit 1; }
	# a fresh system starts with empty apt lists
	rm -rf "$tmp/root/var/lib/apt/lists/"* "$tmp/root/var/cache/apt/"*.bin
	tar -C "$tmp/root" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
	rm -rf "$tmp"
fi

WORK=$(mktemp -d "${FRESH_WORK:-/var/tmp}/picosnitch-fresh.XXXXXX")
R=$WORK/root
mkdir -p "$R"
tar -C "$R" -xf "$TARBALL"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# The network's own certificate authorities (a TLS-intercepting proxy, as
# here): a machine on this network has them, and npm needs them to reach
# the registry.  They go where Debian keeps local ones, and node is told.
mkdir -p "$R/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/" 2>/dev/null || true
cat /usr/local/share/ca-certificates/*.crt >"$R/etc/picosnitch-fresh-extra-ca.pem" 2>/dev/null || true
echo fresh-debian >"$R/etc/hostname"
# the committed HEAD, as a user would clone it, in root's home (mode 0700)
chmod 0700 "$R/root"
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

# The mounts live in a private mount namespace, so they vanish with it.  The
# tree becomes that namespace's root with pivot_root, not chroot: as on a
# booted system, a process that enters a new mount namespace (`ip netns
# exec` does) still has the same root, and the paths the kernel reports for
# its files (/proc/PID/exe) are the ones the tests expect.  Under a plain
# chroot they would be reported from the host's root (/var/tmp/...).
inner() {
	set -e
	mount --make-rprivate /
	mount --bind "$R" "$R"
	mount -t proc proc "$R/proc"
	mount -t sysfs sysfs "$R/sys"
	mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
	mount -t bpf bpf "$R/sys/fs/bpf"
	mount -t tracefs tracefs "$R/sys/kernel/tracing" 2>/dev/null || true
	mount -t devtmpfs devtmpfs "$R/dev"
	mkdir -p "$R/dev/pts" "$R/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
	mount -t tmpfs tmpfs "$R/dev/shm"
	mount -t tmpfs -o mode=0755 tmpfs "$R/run"
	mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
	mkdir -p "$R/.host"
	cd "$R"
	pivot_root . .host
	exec chroot . /bin/bash -c '
		umount -l /.host && rmdir /.host || exit 1
		echo "# mount table inside:"
		sed "s/^/#   /" /proc/self/mounts
		exec /usr/bin/env -i QUICK="$QUICK" NODE_EXTRA_CA_CERTS=/etc/picosnitch-fresh-extra-ca.pem /bin/bash /root/fresh-steps.sh'
}
export -f inner
export R QUICK
start=$(date +%s)
unshare --mount --propagation private bash -c inner 2>&1 | tee "$WORK/fresh.log" | sed 's/^/   /'
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
