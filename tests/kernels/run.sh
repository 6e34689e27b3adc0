#!/bin/bash
# Boots Debian 12's own kernels under qemu and runs the traffic-path tests
# (t100, t102, t106 and t108, with their exact expectations) inside each, against the
# monitor as shipped (build/picosnitch); prints one result line per kernel.
#
#   tests/kernels/run.sh [VERSION...]
#
# VERSION: 6.1 (the kernel of Debian 12's linux-image-amd64), 6.12 (the
# newest linux-image-6.12.*+deb12-amd64), a full package version such as
# 6.1.0-57 or 6.12.118+deb12, or "host" (this machine's kernel, run here
# without qemu).  Default: 6.1 6.12 host.
#
# How: the kernel package is fetched with `apt-get download` into
# KERNEL_CACHE (default /var/cache/picosnitch-kernels) and unpacked with
# dpkg-deb (never installed on this machine).  A small initramfs (static
# busybox and the virtio, 9p and overlay modules, loaded in dependency
# order) mounts this machine's root file system read-only over virtio-9p
# with a tmpfs overlay on top, binds the kernel's modules into it, and
# switch_roots into tests/kernels/guest.sh, which mounts what a booted
# Debian has and runs the tests.  The guest has no network device: its
# only traffic is its own loopback and the namespaces the tests create.
# No KVM here: qemu emulates (TCG), so a kernel takes several minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KERNEL_CACHE:-/var/cache/picosnitch-kernels}
TESTS=${KERNEL_TESTS:-t100 t102 t106 t108}
TIMEOUT=${KERNEL_TIMEOUT:-1500}	# seconds per kernel

[ "$(id -u)" = 0 ] || { echo "kernels/run.sh: needs root (apt-get download, the tests inside need root too)" >&2; exit 2; }

need_pkgs() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "# installing ${missing[*]}"
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	fi
}
need_pkgs qemu-system-x86 busybox-static kmod cpio xz-utils zstd
make -C "$ROOT" -s -j"$(nproc)" all helpers >/dev/null

# package NAME for a VERSION argument
package_of() {
	case $1 in
	6.1) apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -1 ;;
	6.12) apt-cache pkgnames linux-image-6.12. | grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -1 ;;
	*) echo "linux-image-$1-amd64" ;;
	esac
}

# fetch PACKAGE: unpacks it under $CACHE/PACKAGE (once); prints that directory
fetch() {
	local pkg=$1 dir=$CACHE/$1 ver
	if [ ! -e "$dir/.done" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		(cd "$CACHE" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
			{ echo "cannot download $pkg" >&2; return 1; }
		dpkg-deb -x "$CACHE/${pkg}"_*.deb "$dir"
		ver=$(ls "$dir/lib/modules")
		# the package leaves modules.dep to its postinst: make it here
		depmod -b "$dir" "$ver"
		touch "$dir/.done"
	fi
	echo "$dir"
}

# initramfs DIR VER OUT: busybox, the boot modules of VER, and /init
initramfs() {
	local dir=$1 ver=$2 out=$3 tmp mods m
	tmp=$(mktemp -d)
	mkdir -p "$tmp"/{bin,dev,proc,sys,mnt/lower,mnt/upper,mnt/root,lib/modules}
	cp /bin/busybox "$tmp/bin/busybox"
	for a in sh mount umount mkdir insmod switch_root sleep cat echo poweroff; do
		ln -s busybox "$tmp/bin/$a"
	done
	# the boot modules and what they need, dependencies first
	mods=$(modprobe -d "$dir" -S "$ver" --show-depends -a virtio_pci 9pnet_virtio 9p overlay 2>/dev/null |
		sed -n 's/^insmod \([^ ]*\).*/\1/p' | awk '!seen[$0]++')
	: >"$tmp/modules"
	for m in $mods; do
		local base
		base=$(basename "$m")
		case $base in
		*.ko.xz) xz -dc "$m" >"$tmp/lib/modules/${base%.xz}"; base=${base%.xz} ;;
		*.ko.zst) zstd -qdc "$m" >"$tmp/lib/modules/${base%.zst}"; base=${base%.zst} ;;
		*) cp "$m" "$tmp/lib/modules/$base" ;;
		esac
		echo "$base" >>"$tmp/modules"
	done
	cat >"$tmp/init" <<EOF
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in \$(cat /modules); do insmod /lib/modules/\$m || echo "init: insmod \$m failed"; done
n=0
until mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /mnt/lower; do
	n=\$((n + 1)); [ \$n -gt 50 ] && { echo "init: cannot mount the host root"; poweroff -f; }
	sleep 0.1
done
mount -t tmpfs -o mode=0755 tmpfs /mnt/upper
mkdir -p /mnt/upper/up /mnt/upper/work
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/upper/up,workdir=/mnt/upper/work overlay /mnt/root ||
	{ echo "init: overlay failed"; poweroff -f; }
mkdir -p /mnt/root/lib/modules/$ver
mount --bind /mnt/lower$dir/lib/modules/$ver /mnt/root/lib/modules/$ver
umount /proc /sys /dev
exec switch_root /mnt/root /bin/bash $ROOT/tests/kernels/guest.sh
EOF
	chmod +x "$tmp/init"
	(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$tmp"
}

# boot VERSION-ARG: one result line
boot() {
	local pkg dir ver out log start took line
	pkg=$(package_of "$1")
	[ -n "$pkg" ] || { echo "kernel $1: no such package in this machine's apt lists"; return 1; }
	dir=$(fetch "$pkg") || { echo "kernel $1: cannot fetch $pkg"; return 1; }
	ver=$(ls "$dir/lib/modules")
	out=$(mktemp -d /tmp/picosnitch-kernel.XXXXXX)
	initramfs "$dir" "$ver" "$out/initrd.gz"
	log=$out/console.log
	start=$(date +%s)
	timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 3072 \
		-nographic -no-reboot -nic none \
		-kernel "$dir/boot/vmlinuz-$ver" -initrd "$out/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 ps_tests=\"$TESTS\"" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		</dev/null >"$log" 2>&1 || true
	took=$(($(date +%s) - start))
	line=$(tr -d '\r' <"$log" | sed -n 's/.*KERNEL-RESULT: //p' | tail -1)
	if [ -n "$line" ]; then
		echo "kernel $ver: $line (${took}s under qemu)"
		tr -d '\r' <"$log" | sed -n 's/.*KERNEL-USES: /    /p'
		tr -d '\r' <"$log" | grep -E '^ *not ok' | head -20 | sed 's/^ */    /'
	else
		echo "kernel $ver: no result after ${took}s; the console said:"
		tr -d '\r' <"$log" | tail -n 30 | sed 's/^/    /'
	fi
	if [ -n "${KEEP_LOGS:-}" ]; then echo "# console log: $log"; else rm -rf "$out"; fi
	case $line in *" 0 failed"*) return 0 ;; *) return 1 ;; esac
}

host() {
	local out line
	out=$(PS_BIN=$ROOT/build/picosnitch "$ROOT/tests/run" $TESTS 2>&1)
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
	echo "kernel $(uname -r): $line (this machine)"
	"$ROOT/tests/kernels/uses.sh" | sed 's/^/    /'
	printf '%s\n' "$out" | grep -E '^ *not ok' | head -20 | sed 's/^/    /'
	case $line in *" 0 failed"*) return 0 ;; *) return 1 ;; esac
}

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(6.1 6.12 host)
mkdir -p "$CACHE"
rc=0
for v in "${versions[@]}"; do
	if [ "$v" = host ]; then host || rc=1; else boot "$v" || rc=1; fi
done
exit $rc
