#!/bin/bash
# Executables checked against their package: a tiny package this test
# builds (dpkg-deb, with one binary and its md5sums) and installs under a
# name of its own; its program talks and is "as installed"; the binary is
# then altered and runs again: "modified since install", in record.json,
# exe.log, a notification (printed: no desktop here) and the dash; a
# program no package owns says so.  A file only the desktop user can read
# (FUSE: hashed by the logger, as the user) that the package lists is
# checked too.  The package is purged at the end (and
# at any exit); no other package is touched.
source "$(dirname "$0")/../lib/lib.sh"

need_root
[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd)"
command -v dpkg-deb >/dev/null && command -v dpkg >/dev/null || skip_all "needs dpkg and dpkg-deb"

PKG=picosnitch-test-pkg-$$
BIN=/opt/$PKG/bin/ptalk
# dpkg waits for no lock of its own: another installer at work is waited for
dpkg_retry() {
	for _ in $(seq 60); do
		"$@" >"$WORK/dpkg.out" 2>&1 && return 0
		grep -q "lock" "$WORK/dpkg.out" || { cat "$WORK/dpkg.out" >&2; return 1; }
		sleep 1
	done
	return 1
}
FUSE_PID=
pkg_cleanup() {
	[ -n "$FUSE_PID" ] && { umount "$WORK/fuse" 2>/dev/null; wait "$FUSE_PID"; }
	dpkg-query -W "$PKG" >/dev/null 2>&1 && dpkg_retry dpkg --purge "$PKG"
}
trap 'pkg_cleanup; cleanup' EXIT

B=$WORK/pkg
mkdir -p "$B/DEBIAN" "$B/opt/$PKG/bin"
cp "$TRAFFICGEN" "$B$BIN"
chmod 0755 "$B$BIN"
cat >"$B/DEBIAN/control" <<EOF
Package: $PKG
Version: 1.0
Architecture: $(dpkg --print-architecture)
Maintainer: picosnitch tests <tests@invalid>
Description: a program for picosnitch's package check test (removed at its end)
EOF
(cd "$B" && md5sum "opt/$PKG/bin/ptalk" >DEBIAN/md5sums)
dpkg-deb --root-owner-group --build "$B" "$WORK/$PKG.deb" >/dev/null || skip_all "dpkg-deb cannot build"
dpkg_retry dpkg -i "$WORK/$PKG.deb" && ok "the test package is installed" ||
	{ not_ok "the test package is installed"; t_done; exit 1; }
check_eq "  dpkg keeps its md5sums" "$(md5sum <"$BIN" | cut -d' ' -f1)  opt/$PKG/bin/ptalk" \
	"$(cat "/var/lib/dpkg/info/$PKG.md5sums")"

# a file root cannot read (FUSE, the user's), which the package also lists
FUSE_OK=
if [ ! -c /dev/fuse ]; then
	skip "needs /dev/fuse (the user-hashed file)"
else
	mkdir -p "$WORK/fuse" && chmod 755 "$WORK" "$WORK/fuse"
	cp "$TRAFFICGEN" "$WORK/fuse-src" && chmod 644 "$WORK/fuse-src"
	"$ROOT/build/tests/fuse-exe" "$WORK/fuse-src" "$WORK/fuse" "$TEST_UID" "$TEST_UID" &
	FUSE_PID=$!
	# (root cannot even stat the mount: /proc/self/mounts says it is there)
	mounted() { awk -v m="$WORK/fuse" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }
	for _ in $(seq 50); do mounted && break; sleep 0.1; done
	if mounted && ! cat "$WORK/fuse/prog" >/dev/null 2>&1; then
		FUSE_OK=1
		echo "$(md5sum <"$WORK/fuse-src" | cut -d' ' -f1)  ${WORK#/}/fuse/prog" \
			>>"/var/lib/dpkg/info/$PKG.md5sums"
	else
		skip "the FUSE mount did not come up unreadable to root"
	fi
fi

ps_config '{"Desktop notifications": false, "DB write limit (seconds)": 1}'
chown -R "$TEST_USER:" "$PICOSNITCH_DIR"
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
SINK=$(prog pkg-sink)
("$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 2>/dev/null &)
wait_file "$WORK/sink.port"
SPORT=$(cat "$WORK/sink.port")
UNOWNED=$(prog pkg-unowned)

# package_of PATH: its Package entries in record.json, "sha=text" sorted
package_of() {
	python3 - "$PICOSNITCH_DIR/record.json" "$1" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    r = {}
e = r.get("Package", {}).get(sys.argv[2], {})
print(";".join("%s=%s" % (k, e[k]) for k in sorted(e)))
PY
}
# wait_package PATH WANT: until record.json says so (15 s at most)
wait_package() {
	for _ in $(seq 150); do
		[ "$(package_of "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

SHA1=$(sha256sum <"$BIN" | cut -d' ' -f1)
"$BIN" udp-paced 127.0.0.1 "$SPORT" 1 100 1500
"$UNOWNED" udp-paced 127.0.0.1 "$SPORT" 1 100 1500
SHA_U=$(sha256sum <"$UNOWNED" | cut -d' ' -f1)
wait_package "$BIN" "$SHA1=as installed ($PKG)"
check_eq "record.json: the packaged program is as installed" "$SHA1=as installed ($PKG)" "$(package_of "$BIN")"
wait_package "$UNOWNED" "$SHA_U=no package owns it"
check_eq "record.json: a program no package owns says so" "$SHA_U=no package owns it" \
	"$(package_of "$UNOWNED")"

if [ -n "$FUSE_OK" ]; then
	FBIN=$WORK/fuse/prog
	SHA_F=$(sha256sum <"$WORK/fuse-src" | cut -d' ' -f1)
	setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --init-groups "$FBIN" udp-paced 127.0.0.1 "$SPORT" 1 100 1500
	wait_package "$FBIN" "$SHA_F=as installed ($PKG)"
	check_eq "hashed as the user (FUSE), listed by the package: as installed" \
		"$SHA_F=as installed ($PKG)" "$(package_of "$FBIN")"
fi

# altered: one byte more (the same file: its fanotify mark sees the write)
printf 'x' >>"$BIN"
SHA2=$(sha256sum <"$BIN" | cut -d' ' -f1)
"$BIN" udp-paced 127.0.0.1 "$SPORT" 1 100 1500
want=$(printf '%s\n' "$SHA1=as installed ($PKG)" "$SHA2=modified since install ($PKG)" | sort | paste -sd';')
wait_package "$BIN" "$want"
check_eq "altered: modified since install, next to the first hash" "$want" "$(package_of "$BIN")"
grep -q "package $SHA2 $BIN: modified since install ($PKG)" "$PICOSNITCH_DIR/exe.log" &&
	ok "  exe.log says so" || not_ok "  exe.log says so"
for _ in $(seq 50); do grep -q "was modified since package" "$WORK/daemon.log" && break; sleep 0.1; done
check_eq "  a notification says so" 1 \
	"$(grep -c "picosnitch: $BIN was modified since package $PKG installed it (SHA-256 ${SHA2:0:16}" "$WORK/daemon.log")"

# the dash's executable page
PORT=$((20000 + RANDOM % 20000))
export PORT
unset HOST
"$PS_BIN" dash --no-browser >"$WORK/dash.out" 2>"$WORK/dash.err" &
DASH_PID=$!
for _ in $(seq 100); do grep -q "serving on" "$WORK/dash.out" && break; sleep 0.05; done
TOKEN=$(cat "$PICOSNITCH_DIR/dash.token" 2>/dev/null)
for _ in $(seq 100); do
	[ "$(db "SELECT count(DISTINCT sha256) FROM connection_log WHERE executable = '$BIN'")" = 2 ] && break
	sleep 0.1
done
page=$(curl -s -m 20 -H "X-Picosnitch-Token: $TOKEN" "http://127.0.0.1:$PORT/api/executable?include=executable:$BIN" |
	python3 -c '
import json, sys
j = json.load(sys.stdin)
print(";".join(sorted("%s=%s" % (h["value"]["text"], h.get("package")) for h in j["hashes"])))')
check_eq "the dash shows it next to each hash" "$want" "$page"
curl -s -m 10 -o /dev/null -X POST -H "X-Picosnitch-Token: $TOKEN" "http://127.0.0.1:$PORT/api/stop"
wait "$DASH_PID"

ps_stop
check_eq "the monitor stops cleanly" 0 "$PS_RC"
dpkg_retry dpkg --purge "$PKG" && ok "the test package is purged" || not_ok "the test package is purged"
dpkg-query -W "$PKG" >/dev/null 2>&1 && not_ok "  dpkg no longer knows it" || ok "  dpkg no longer knows it"
[ ! -e "/opt/$PKG" ] && ok "  its files are gone" || not_ok "  its files are gone"
t_done
