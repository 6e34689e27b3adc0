#!/bin/bash
# PID 1 inside a kernel booted by tests/kernels/run.sh: the root is this
# machine's file system (read-only, with a tmpfs overlay).  Mounts what a
# booted Debian 12 has, runs the tests named on the kernel command line
# (ps_tests="...") against the shipped build, prints one KERNEL-RESULT line
# on the console and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# busybox, not util-linux: before /proc is mounted, libmount would read the
# host's mount table through 9p
m() { /bin/busybox mount "$@" || echo "guest: mount $* failed"; }
m -t proc proc /proc
m -t sysfs sysfs /sys
m -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
m -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
m -t tmpfs tmpfs /dev/shm
m -t tmpfs -o mode=0755 tmpfs /run
# a checkout under /tmp would be hidden by a tmpfs there: /tmp is then the
# host's, under the root's overlay (writable, thrown away all the same)
case $ROOT/ in
/tmp/*) echo "guest: $ROOT is under /tmp: no tmpfs on /tmp" ;;
*) m -t tmpfs -o mode=1777 tmpfs /tmp ;;
esac
m -t cgroup2 cgroup2 /sys/fs/cgroup
m -t bpf bpf /sys/fs/bpf
m -t tracefs tracefs /sys/kernel/tracing
mount --make-rshared /
hostname "kernel-$(uname -r)"
ip link set lo up

# which hook variants this kernel gets, and what it lacks
"$ROOT/tests/kernels/uses.sh" | sed 's/^/KERNEL-USES: /'

tests=$(sed -n 's/.*ps_tests="\([^"]*\)".*/\1/p' /proc/cmdline)
echo "guest: $(uname -r), running tests: $tests"
out=$(PS_BIN=$ROOT/build/picosnitch "$ROOT/tests/run" $tests 2>&1)
printf '%s\n' "$out" | grep -E '^ *(not ok|!!)' | head -40
printf '%s\n' "$out" | grep -E '# the monitor.s output' -A12 | head -40
line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
missing=$(printf '%s\n' "$out" | grep -oE 'cannot see [^;]*|not seen[^"]*' | sort -u | head -5 | paste -sd';')
echo "KERNEL-RESULT: ${line:-no summary (the tests did not finish)}"
sync
echo o >/proc/sysrq-trigger
sleep 10
