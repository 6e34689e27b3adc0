# A fresh Debian 12 root file system, and running a script inside it with a
# mount table like a freshly booted Debian 12; shared by tests/fresh-debian.sh
# and tests/deb-package.sh.  Needs root.
#
#   fresh_tarball                 debootstrap bookworm (minbase + FRESH_EXTRA)
#                                 into FRESH_CACHE once; later runs reuse it
#   fresh_unpack DIR              a new tree from it at DIR (with this
#                                 network's resolver and CA certificates)
#   fresh_run DIR SCRIPT [VAR=VALUE...]
#                                 run /bin/bash SCRIPT (a path inside the tree)
#                                 as root inside, with only the variables given
#
# FRESH_CACHE (default /var/cache/picosnitch-fresh) holds the tarball.

FRESH_CACHE=${FRESH_CACHE:-/var/cache/picosnitch-fresh}
# The packages the "new user" had: minbase plus these.
FRESH_EXTRA=ca-certificates,git,make,sudo,procps,iproute2
FRESH_TARBALL=$FRESH_CACHE/bookworm-minbase.tar

fresh_tarball() {
	if ! command -v debootstrap >/dev/null; then
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
	fi
	mkdir -p "$FRESH_CACHE"
	[ -s "$FRESH_TARBALL" ] && return 0
	echo "# debootstrap bookworm (minbase + $FRESH_EXTRA) into the cache, once"
	local tmp
	tmp=$(mktemp -d "${FRESH_WORK:-/var/tmp}/picosnitch-bootstrap.XXXXXX")
	debootstrap --variant=minbase --include="$FRESH_EXTRA" bookworm "$tmp/root" \
		http://deb.debian.org/debian >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -20 "$tmp/debootstrap.log"; return 1; }
	# a fresh system starts with empty apt lists
	rm -rf "$tmp/root/var/lib/apt/lists/"* "$tmp/root/var/cache/apt/"*.bin
	tar -C "$tmp/root" -cf "$FRESH_TARBALL.tmp" . && mv "$FRESH_TARBALL.tmp" "$FRESH_TARBALL"
	rm -rf "$tmp"
}

fresh_unpack() {
	local R=$1
	mkdir -p "$R"
	tar -C "$R" -xf "$FRESH_TARBALL"
	cp /etc/resolv.conf "$R/etc/resolv.conf"
	# The network's own certificate authorities (a TLS-intercepting proxy, as
	# here): a machine on this network has them, and npm needs them to reach
	# the registry.  They go where Debian keeps local ones, and node is told.
	mkdir -p "$R/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/" 2>/dev/null || true
	cat /usr/local/share/ca-certificates/*.crt >"$R/etc/picosnitch-fresh-extra-ca.pem" 2>/dev/null || true
	echo fresh-debian >"$R/etc/hostname"
	chmod 0700 "$R/root"
}

# The mounts live in a private mount namespace, so they vanish with it.  The
# tree becomes that namespace's root with pivot_root, not chroot: as on a
# booted system, a process that enters a new mount namespace (`ip netns
# exec` does) still has the same root, and the paths the kernel reports for
# its files (/proc/PID/exe) are the ones the tests expect.  Under a plain
# chroot they would be reported from the host's root (/var/tmp/...).
fresh_inner() {
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
	# shellcheck disable=SC2086
	exec chroot . /bin/bash -c '
		umount -l /.host && rmdir /.host || exit 1
		echo "# mount table inside:"
		sed "s/^/#   /" /proc/self/mounts
		exec /usr/bin/env -i '"$FRESH_ENV"' /bin/bash '"$FRESH_SCRIPT"
}

fresh_run() {
	R=$1 FRESH_SCRIPT=$2
	shift 2
	FRESH_ENV="$*"
	export -f fresh_inner
	export R FRESH_SCRIPT FRESH_ENV
	unshare --mount --propagation private bash -c fresh_inner
}
