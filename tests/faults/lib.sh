# Helpers for the fault tests (tests/faults/f*.sh), on top of
# tests/lib/lib.sh: the state directory on a small tmpfs of the test's own
# (filled, remounted read-only), a sink that counts what it receives, and
# traffic of exact sizes.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
[ -n "$TEST_USER" ] || skip_all "cannot create a throwaway desktop user here (useradd)"

FS=
# fs_up SIZE: a tmpfs of SIZE for the state directory
fs_up() {
	FS=$WORK/fs
	mkdir -p "$FS"
	mount -t tmpfs -o "size=$1,mode=0755" picosnitch-faults "$FS" || return 1
	export PICOSNITCH_DIR=$FS/state
}

# ext4_up SIZE: an ext4 file system in a file, mounted with
# errors=remount-ro: the kernel makes it read-only on an error (as it does
# after an I/O error of a real disk), which nothing can do to a file
# system with files open for writing from outside
ext4_up() {
	FS=$WORK/fs
	mkdir -p "$FS"
	truncate -s "$1" "$WORK/ext4.img" && mkfs.ext4 -q -F "$WORK/ext4.img" >/dev/null 2>&1 &&
		mount -o loop,errors=remount-ro "$WORK/ext4.img" "$FS" || return 1
	chmod 0755 "$FS"
	FS_DEV=$(basename "$(findmnt -no SOURCE "$FS")")
	[ -w "/sys/fs/ext4/$FS_DEV/trigger_fs_error" ] || return 1
	export PICOSNITCH_DIR=$FS/state
}

fs_cleanup() {
	if [ -n "$FS" ] && mountpoint -q "$FS"; then
		[ -n "$PS_PID" ] && kill -KILL "$PS_PID" 2>/dev/null
		for _ in $(seq 20); do umount "$FS" 2>/dev/null && break; sleep 0.1; done
		mountpoint -q "$FS" && umount -l "$FS"
	fi
	cleanup
}
trap fs_cleanup EXIT

# fill: the tmpfs full, to the last byte it will give
fill() {
	dd if=/dev/zero of="$FS/filler" bs=64k status=none 2>/dev/null
	dd if=/dev/zero of="$FS/filler-small" bs=512 status=none 2>/dev/null
	return 0
}
unfill() { rm -f "$FS/filler" "$FS/filler-small"; }

# as_user CMD...: run as the desktop user (a reader of snitch.db must not
# leave files of root's next to it)
as_user() { setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --init-groups "$@"; }
udb() { as_user sqlite3 -batch "$PICOSNITCH_DIR/snitch.db" "$@"; }

start() { ps_start || { not_ok "the monitor starts"; t_done; exit 1; }; }

# entries EXE: the number of entries of an executable in snitch.db
entries() { udb "SELECT count(*) FROM connection_log WHERE executable = '$1'"; }
# sent EXE: bytes sent by it, in snitch.db and conn.log
sent_db() { udb "SELECT ifnull(sum(sent),0) FROM connection_log WHERE executable = '$1'"; }
sent_log() {
	awk -F, -v exe="$1" '$4 == exe { s += $2 } END { printf "%.0f\n", s }' \
		"$PICOSNITCH_DIR/conn.log"
}

# now_s: the time, with fractions
now_s() { date +%s.%N; }
