#!/bin/bash
# The Debian package, end to end (not part of tests/run: it takes minutes
# and Debian's mirror).  As root:
#
#   tests/deb-package.sh [--keep]
#
#   1. clones the committed HEAD, runs `make npm-deps` there (the npm
#      registry), then builds with `dpkg-buildpackage -us -uc -b` in a
#      network namespace without a network: the build is proved offline;
#   2. lintian: no error or warning (the remaining tags are explained in
#      debian/picosnitch.lintian-overrides);
#   3. in a fresh Debian 12 root file system (tests/lib/fresh-root.sh, as
#      tests/fresh-debian.sh makes it) with a desktop user: installs its
#      dependencies with apt, notes every file, installs the package, checks
#      what it installed (the unit enabled, not started), runs
#      `picosnitch start` / `status` / `stop` and a lookup in the installed
#      address data, purges it, and checks that nothing is left but the
#      user's state directory.
#
# Prints one result line: "deb-package: PASS" or "deb-package: FAIL".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEEP=0
for a in "$@"; do
	case $a in
	--keep) KEEP=1 ;;
	*) echo "usage: $0 [--keep]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "deb-package.sh: needs root (mounts, chroot)" >&2; exit 2; }
need=
for p in debhelper lintian dpkg-dev fakeroot; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
fi
# shellcheck source=tests/lib/fresh-root.sh
source "$ROOT/tests/lib/fresh-root.sh"

WORK=$(mktemp -d "${FRESH_WORK:-/var/tmp}/picosnitch-deb.XXXXXX")
res=()
start=$(date +%s)

# ---- 1. build, offline ----
git clone -q "$ROOT" "$WORK/src/picosnitch"
git -C "$WORK/src/picosnitch" log -1 --format='# packaging %h %s'
t0=$(date +%s)
if (cd "$WORK/src/picosnitch" && make npm-deps) >"$WORK/npm.log" 2>&1; then
	res+=("make npm-deps: ok, $(($(date +%s) - t0)) s")
else
	tail -n 20 "$WORK/npm.log" | sed 's/^/#   /'
	res+=("make npm-deps: FAILED (see $WORK/npm.log)")
fi
t0=$(date +%s)
if (cd "$WORK/src/picosnitch" && unshare --net dpkg-buildpackage -us -uc -b -j2) >"$WORK/build.log" 2>&1; then
	res+=("build: ok, offline, $(($(date +%s) - t0)) s")
else
	tail -n 30 "$WORK/build.log" | sed 's/^/#   /'
	res+=("build: FAILED (see $WORK/build.log)")
fi
deb=$(ls "$WORK"/src/picosnitch_*_*.deb 2>/dev/null | head -1)

# ---- 2. lintian ----
if [ -n "$deb" ]; then
	rc=0
	lintian --fail-on error,warning "$deb" >"$WORK/lintian.raw" 2>&1 || rc=$?
	grep -v 'running with root privileges' "$WORK/lintian.raw" >"$WORK/lintian.log" || true
	if [ "$rc" = 0 ]; then
		res+=("lintian: no errors or warnings ($(grep -c . "$WORK/lintian.log" || true) other tags)")
	else
		sed 's/^/#   /' "$WORK/lintian.log"
		res+=("lintian: FAILED")
	fi
	sed 's/^/#   lintian: /' "$WORK/lintian.log"
fi

# ---- 3. install, run, purge in a fresh Debian 12 ----
if [ -n "$deb" ]; then
	fresh_tarball
	R=$WORK/root
	fresh_unpack "$R"
	cp "$deb" "$R/root/picosnitch.deb"
	cat >"$R/root/deb-steps.sh" <<'EOF'
#!/bin/bash
# Runs inside the fresh tree, as root.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root
export DEBIAN_FRONTEND=noninteractive
res=()
check() { # WHAT EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then res+=("ok: $1"); else res+=("FAIL: $1 (expected '$2', got '$3')"); fi
}
# every file but those apt, dpkg, logs and the kernel's own keep
files() {
	find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
		-o -path /var/log -o -path /var/cache -o -path /var/lib/dpkg -o -path /var/lib/apt \
		-o -path /root \) -prune -o -print | sort
}
apt-get update -q >/root/apt.log 2>&1
deps=$(dpkg-deb -f /root/picosnitch.deb Depends | sed -e 's/([^)]*)//g' -e 's/,/ /g')
apt-get install -y -q --no-install-recommends $deps >>/root/apt.log 2>&1
check "its dependencies install from Debian 12" 0 $?
useradd -m -u 1000 -s /bin/bash alice
files >/root/before
apt-get install -y -q --no-install-recommends /root/picosnitch.deb >>/root/apt.log 2>&1
check "the package installs" 0 $?
for f in /usr/bin/picosnitch /usr/share/man/man8/picosnitch.8.gz \
	/usr/share/bash-completion/completions/picosnitch /lib/systemd/system/picosnitch.service \
	/usr/share/picosnitch/country.mmdb /usr/share/picosnitch/asn.bin; do
	check "installed: $f" yes "$([ -s $f ] && echo yes)"
done
check "the unit is enabled" /lib/systemd/system/picosnitch.service \
	"$(readlink /etc/systemd/system/multi-user.target.wants/picosnitch.service)"
out=$(picosnitch status 2>&1); rc=$?
check "but not started" "3 picosnitch is not running" "$rc $out"
check "the man page documents import" yes "$(zcat /usr/share/man/man8/picosnitch.8.gz | grep -q '^\.BI import' && echo yes)"
check "bash completion, as installed" "start start-no-daemon status stop" \
	"$(bash -c 'source /usr/share/bash-completion/completions/picosnitch
		COMP_WORDS=(picosnitch st); COMP_CWORD=1; _picosnitch; printf "%s\n" "${COMPREPLY[@]}"' |
		sort | paste -sd' ')"
check "libcurl, loaded when needed, comes with the package's dependencies" yes \
	"$(picosnitch version 2>&1 | grep -qE '^libraries: .*libcurl [0-9]' && echo yes)"
check "lookup answers from the installed address data" \
	"8.8.8.8	US	AS15169 Google LLC" "$(picosnitch lookup 8.8.8.8 2>&1)"
out=$(picosnitch start 2>&1); rc=$?
check "picosnitch start" 0 "$rc"
echo "$out" >/root/start.log
pid=$(cat /run/picosnitch.pid 2>/dev/null)
out=$(picosnitch status 2>&1); rc=$?
check "picosnitch status: running" "0 picosnitch is running (pid $pid); state directory /home/alice/.config/picosnitch" \
	"$rc $out"
out=$(picosnitch status --json 2>&1); rc=$?
check "picosnitch status --json" "0 {\"state\":\"running\",\"running\":true,\"pid\":$pid,\"pidfile\":\"/run/picosnitch.pid\",\"state_directory\":\"/home/alice/.config/picosnitch\",\"version\":\"0.1.0\"}" \
	"$rc $out"
out=$(picosnitch stop 2>&1); rc=$?
check "picosnitch stop" 0 "$rc"
out=$(picosnitch status 2>&1); rc=$?
check "stopped" "3 picosnitch is not running" "$rc $out"
check "snitch.db was made, the user's" "alice" "$(stat -c %U /home/alice/.config/picosnitch/snitch.db 2>&1)"
apt-get purge -y -q picosnitch >>/root/apt.log 2>&1
check "the package purges" 0 $?
check "nothing of it in /run" "" "$(ls /run | grep -i picosnitch)"
files >/root/after
check "nothing left but the user's state directory" "" \
	"$(comm -13 /root/before /root/after | grep -v '^/home/alice/.config/picosnitch' | grep -vx '/home/alice/.config' | paste -sd' ')"
check "and nothing of the system's was removed" "" "$(comm -23 /root/before /root/after | paste -sd' ')"
check "the state directory is kept" yes "$([ -s /home/alice/.config/picosnitch/snitch.db ] && echo yes)"
printf '%s\n' "${res[@]}" >/root/deb-result
EOF
	fresh_run "$R" /root/deb-steps.sh 2>&1 | tee "$WORK/inside.log" | grep -v '^#   ' | sed 's/^/   /' || true
	if [ -s "$R/root/deb-result" ]; then
		while read -r l; do res+=("$l"); done <"$R/root/deb-result"
	else
		res+=("FAIL: no result from inside (see $WORK/inside.log)")
	fi
	cp "$R"/root/*.log "$WORK/" 2>/dev/null || true
fi

echo "== the Debian package ($(uname -r), $(($(date +%s) - start)) s):"
printf '   %s\n' "${res[@]}"
ok=1
printf '%s\n' "${res[@]}" | grep -qE 'FAIL' && ok=0
[ -n "$deb" ] || ok=0
if [ "$KEEP" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
if [ $ok = 1 ]; then echo "deb-package: PASS"; else echo "deb-package: FAIL"; exit 1; fi
