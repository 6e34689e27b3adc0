#!/bin/bash
# snitch.db corrupt at start: garbage, cut to half its length, or with a
# write-ahead log of another database next to it.  Each is moved aside
# whole (with the time), a new one is started and both are said loudly
# (stderr and error.log); the monitor runs, records exactly, and the next
# start meets no corrupt file again (no crash loop).
source "$(dirname "$0")/lib.sh"

cfg='{"DB write limit (seconds)": 1, "Desktop notifications": false}'

# run_some NAME N: start, N entries of 100 bytes from a program NAME, stop
run_some() {
	start
	local p
	p=$(prog "$1")
	"$p" udp-spray 127.0.0.1 61000 "$2" 100
	sleep 2.5
	ps_stop
	echo "$p"
}

# corrupted CASE: after the state directory was broken, the next start
corrupted() {
	local what=$1 before after p
	before=$(ls "$PICOSNITCH_DIR" | grep -c '^snitch.db.corrupt-[0-9-]*$')
	t0=$(now_s)
	start
	t1=$(now_s)
	check_match "$what: the monitor starts, saying snitch.db is corrupt and moved aside" \
		"snitch.db is corrupt \(.*\): it was moved aside to snitch.db.corrupt-[0-9-]+ and a new, empty snitch.db was started" \
		"$(cat "$WORK/daemon.log")"
	check_match "  error.log says it too" "snitch.db is corrupt .*moved aside" \
		"$(cat "$PICOSNITCH_DIR/error.log")"
	after=$(ls "$PICOSNITCH_DIR" | grep -c '^snitch.db.corrupt-[0-9-]*$')
	check_eq "  the old file is kept beside it" "$((before + 1))" "$after"
	p=$(prog "after-$2")
	"$p" udp-spray 127.0.0.1 61000 20 100
	sleep 2.5
	ps_stop
	check_eq "  the new one records, exactly" "2000" "$(sent_db "$p")"
	start
	ps_stop
	check_eq "  the next start is clean (no crash loop)" \
		"0 $after" "$PS_RC $(ls "$PICOSNITCH_DIR" | grep -c '^snitch.db.corrupt-[0-9-]*$')"
	printf '# %s: detected and set aside in a start of %.1f s\n' "$what" \
		"$(awk "BEGIN { print $t1 - $t0 }")"
	sleep 1	# the next file aside gets its own second
}

# ---- garbage ----
rm -rf "$PICOSNITCH_DIR"
ps_config "$cfg"
head -c 300000 /dev/urandom >"$PICOSNITCH_DIR/snitch.db"
chown -R "$TEST_USER:" "$PICOSNITCH_DIR"
cp "$PICOSNITCH_DIR/snitch.db" "$WORK/garbage"
corrupted "garbage in place of snitch.db" garbage
aside=$(ls "$PICOSNITCH_DIR"/snitch.db.corrupt-* | head -1)
check_eq "  the garbage is kept byte for byte" "same" "$(cmp -s "$aside" "$WORK/garbage" && echo same)"

# ---- cut short ----
rm -rf "$PICOSNITCH_DIR"
ps_config "$cfg"
run_some many 3000 >/dev/null
size=$(stat -c %s "$PICOSNITCH_DIR/snitch.db")
truncate -s $((size / 2)) "$PICOSNITCH_DIR/snitch.db"
corrupted "snitch.db cut to half its length ($size bytes)" cut

# ---- a write-ahead log of another database ----
rm -rf "$PICOSNITCH_DIR"
ps_config "$cfg"
run_some other-db 3000 >/dev/null
# the other database's newest changes, left in its write-ahead log
U=$WORK/user-files
mkdir -p "$U" && chown "$TEST_USER:" "$U"
cp "$PICOSNITCH_DIR/snitch.db" "$U/other.db"
chown "$TEST_USER:" "$U/other.db"
as_user sqlite3 "$U/other.db" "PRAGMA journal_mode=WAL;" "PRAGMA wal_autocheckpoint=0;" \
	"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO addresses(address) SELECT 'x' || x FROM c;" \
	".shell cp $U/other.db-wal $U/foreign-wal" >/dev/null
rm -rf "$PICOSNITCH_DIR"
ps_config "$cfg"
run_some this-db 2000 >/dev/null
cp "$U/foreign-wal" "$PICOSNITCH_DIR/snitch.db-wal"
chown "$TEST_USER:" "$PICOSNITCH_DIR/snitch.db-wal"
corrupted "a write-ahead log of another database beside snitch.db" foreign-wal
t_done
