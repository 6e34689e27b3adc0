#!/bin/bash
# The cgroup hooks attach to the root of the cgroup2 hierarchy whatever the
# mount table looks like.  Each case starts the monitor in a private mount
# namespace arranged one way, sends a known number of bytes over loopback
# from an ordinary process, and checks the exact totals:
#  - cgroup2 mounted again over /sys/fs/cgroup (on a hybrid layout this
#    hides the first cgroup2 mount, /sys/fs/cgroup/unified);
#  - no cgroup2 reachable at all (the monitor mounts its own);
#  - the only cgroup2 mount showing a subtree (a bind mount of a child
#    cgroup), which must not be taken for the root.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
command -v unshare >/dev/null || skip_all "needs unshare (util-linux)"

REAL_BIN=$PS_BIN
CG_TMP=$WORK/cg
CHILD=

# wrapper SETUP: a PS_BIN that runs the monitor in a private mount
# namespace prepared by the shell commands SETUP
wrapper() {
	cat >"$WORK/wrapped" <<EOW
#!/bin/bash
exec unshare -m --propagation private bash -c '$1
exec "\$0" "\$@"' "$REAL_BIN" "\$@"
EOW
	chmod +x "$WORK/wrapped"
	PS_BIN=$WORK/wrapped
}

# one_case ID NAME: start, send 7 datagrams of 333 bytes each way, stop, check
one_case() {
	local id=$1 name=$2 c s pf sp
	rm -rf "$PICOSNITCH_DIR"
	ps_config '{"DB write limit (seconds)": 1}'
	if ! ps_start; then
		not_ok "$name: the monitor starts"
		return
	fi
	ok "$name: the monitor starts"
	c=$(prog "cg-$id.client")
	s=$(prog "cg-$id.server")
	pf=$WORK/port.$id
	"$s" udp-server 127.0.0.1 "$pf" 7 333 333 connected &
	sp=$!
	if wait_file "$pf" && "$c" udp-client 127.0.0.1 "$(cat "$pf")" 7 333 333 connected &&
		wait "$sp"; then
		sleep 2.5
		ps_stop
		check_eq "$name: exact bytes of the client" "2331 2331" "$(db_totals "$c")"
		check_eq "$name: exact bytes of the server" "2331 2331" "$(db_totals "$s")"
	else
		not_ok "$name: the programs ran"
		ps_stop
	fi
}

wrapper 'mount -t cgroup2 cgroup2 /sys/fs/cgroup'
one_case over "cgroup2 mounted over /sys/fs/cgroup"

wrapper 'mount -t tmpfs tmpfs /sys/fs/cgroup'
one_case none "no cgroup2 reachable"

# a child cgroup, shown alone where the hierarchy was
mkdir -p "$CG_TMP"
if unshare -m --propagation private bash -c "mount -t cgroup2 cgroup2 '$CG_TMP' && mkdir -p '$CG_TMP/ps-test-$$'"; then
	CHILD=ps-test-$$
	wrapper "mount -t cgroup2 cgroup2 '$CG_TMP' && mount -t tmpfs tmpfs /sys/fs/cgroup &&
mkdir /sys/fs/cgroup/sub && mount --bind '$CG_TMP/$CHILD' /sys/fs/cgroup/sub && umount '$CG_TMP'"
	one_case subtree "only a subtree mounted"
	unshare -m --propagation private bash -c "mount -t cgroup2 cgroup2 '$CG_TMP' && rmdir '$CG_TMP/$CHILD'"
else
	skip "cannot create a child cgroup here"
fi
t_done
