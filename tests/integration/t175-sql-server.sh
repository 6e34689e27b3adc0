#!/bin/bash
# "DB sql server" with the real monitor, on a real PostgreSQL 15 and a real
# MariaDB 10.11 started here (tests/lib/sqlservers.sh), whose tables come
# from `picosnitch sql-schema` and whose writer has exactly the README's
# GRANTs.  For each server:
#  - known traffic: the server's entries equal snitch.db's, row for row;
#  - the server stopped in the middle of traffic, then started: every entry
#    arrives, none twice, and error.log says when it failed and when it
#    wrote again;
#  - a wrong password: a clear error in error.log (no password in it),
#    local logging unaffected, the spool fills; the monitor restarted with
#    the right one sends that spool;
#  - the logger killed with SIGKILL mid-traffic, the monitor started again:
#    every batch on the server holds exactly its entries (none twice);
#  - the monitor killed with SIGKILL: `picosnitch sql-status` (as the
#    reader) lists this machine as STOPPED and exits 3.
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v sqlite3 >/dev/null || skip_all "needs the sqlite3 command"
SRV=$ROOT/tests/lib/sqlservers.sh
export PICOSNITCH_SQL_RETRY_MAX=1
OUTAGE=${SQL_OUTAGE_SECONDS:-20}

SINK=$(prog sink)
"$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 &
wait_file "$WORK/sink.port"
PORT=$(cat "$WORK/sink.port")

# the reader's settings for sql-status (a file of the user's)
reader_json() { # KIND PORT
	printf '{"client": "%s", "host": "127.0.0.1", "port": %s, "user": "psreader", "password": "pw-reader", "dbname": "snitch"}\n' \
		"$([ "$1" = pg ] && echo postgresql || echo mariadb)" "$2" >"$WORK/reader-$1.json"
	chmod 0644 "$WORK/reader-$1.json"
}

config() { # KIND PORT PASSWORD-FILE
	ps_config "{\"DB write limit (seconds)\": 1, \"Desktop notifications\": false,
	  \"DB sql server\": {\"client\": \"$([ "$1" = pg ] && echo psycopg || echo pymysql)\",
	    \"host\": \"127.0.0.1\", \"port\": $2, \"user\": \"pswriter\",
	    \"password_file\": \"$3\", \"database\": \"snitch\"}}"
	chown -R "$TEST_USER:" "$PICOSNITCH_DIR"
}

# sql KIND SQL: as the server's superuser, '|' between columns
sql() { "$SRV" "$1-sql" "$WORK" "$2" | tr '\t' '|'; }

spooled() { ls "$PICOSNITCH_DIR/sql-spool" 2>/dev/null | grep -c '\.batch$'; }

# wait_spool_empty: the logger has sent everything (at most 60 s)
wait_spool_empty() {
	for _ in $(seq 600); do
		[ "$(spooled)" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

COLS_DB="time, executable, name, cmdline, sha256, parent_executable, parent_name, parent_sha256, grandparent_executable, uid, local_port, remote_port, local_address, remote_address, domain, netns, sent, received, flows"
COLS_SRV="time, exe, name, cmdline, sha256, pexe, pname, psha256, gpexe, uid, lport, rport, laddr, raddr, domain, netns, sent, received, flows"

# every batch on the server holds exactly its entries: nothing twice, nothing cut
check_batches() { # KIND WHAT
	check_eq "$2: every batch on the server holds exactly its entries" "0" \
		"$(sql "$1" "SELECT count(*) FROM connections_batches b WHERE b.entries <> (SELECT count(*) FROM connections c WHERE c.machine_id = b.machine_id AND c.boot_id = b.boot_id AND c.seq = b.seq)")"
}

run_kind() { # pg | my
	local K=$1 NAME P why
	NAME=$([ "$K" = pg ] && echo PostgreSQL || echo MariaDB)
	why=$("$SRV" why-not "$K")
	if [ -n "$why" ]; then
		skip "$NAME: $why"
		return
	fi
	rm -rf "$PICOSNITCH_DIR" "$WORK/pg" "$WORK/my"
	# the tables as `picosnitch sql-schema` prints them for this config
	echo "pw-writer" >"$WORK/pw" && chown "$TEST_USER:" "$WORK/pw" && chmod 0600 "$WORK/pw"
	config "$K" 1 "$WORK/pw"
	"$PS_BIN" sql-schema >"$WORK/schema-$K.sql" 2>"$WORK/schema.err"
	check_match "$NAME: sql-schema prints the tables and the GRANT lines" \
		"CREATE TABLE connections_batches.*GRANT INSERT" "$(tr '\n' ' ' <"$WORK/schema-$K.sql")"
	chmod 0644 "$WORK/schema-$K.sql"
	P=$(SCHEMA_SQL=$WORK/schema-$K.sql "$SRV" "$K-start" "$WORK")
	if ! [[ $P =~ ^[0-9]+$ ]]; then
		not_ok "$NAME starts ($P)"
		return
	fi
	ok "$NAME starts on 127.0.0.1:$P, tables from sql-schema, a writer with only the README's GRANTs"
	reader_json "$K" "$P"

	# ---- known traffic, row for row ----
	config "$K" "$P" "$WORK/pw"
	ps_start || { not_ok "$NAME: the monitor starts"; return; }
	A=$(prog "sqla$K")
	"$A" udp-once 127.0.0.1 "$PORT" 1234
	"$A" udp-once 127.0.0.1 "$PORT" 4321
	sleep 2.5
	ps_stop
	check_eq "$NAME: the monitor stops cleanly" 0 "$PS_RC"
	check_eq "  the spool is empty: the server took every batch" 0 "$(spooled)"
	check_eq "  the known traffic's entry on the server" "5555|$PORT|127.0.0.1" \
		"$(sql "$K" "SELECT sum(sent), min(rport), min(raddr) FROM connections WHERE exe = '$A'")"
	db "SELECT $COLS_DB FROM connection_log" | sort >"$WORK/rows-db"
	sql "$K" "SELECT $COLS_SRV FROM connections" | sort >"$WORK/rows-srv"
	if cmp -s "$WORK/rows-db" "$WORK/rows-srv"; then
		ok "  the server's entries equal snitch.db's, row for row ($(wc -l <"$WORK/rows-db") rows)"
	else
		not_ok "  the server's entries equal snitch.db's, row for row"
		diff "$WORK/rows-db" "$WORK/rows-srv" | head -10 | sed 's/^/#   /'
	fi
	check_eq "  a heartbeat for every window, empty ones too: no gap over 3 s" "0" \
		"$(sql "$K" "SELECT count(*) FROM connections_batches a WHERE EXISTS (SELECT 1 FROM connections_batches b WHERE b.time > a.time) AND NOT EXISTS (SELECT 1 FROM connections_batches b WHERE b.time > a.time AND b.time <= a.time + 3)")"

	# ---- the server down in the middle of traffic ----
	ps_start || { not_ok "$NAME: the monitor starts"; return; }
	B=$(prog "sqlb$K")
	"$B" udp-once 127.0.0.1 "$PORT" 100
	sleep 1.5
	if [ "$K" = pg ]; then "$SRV" pg-stop "$WORK"; else "$SRV" my-kill "$WORK"; fi
	for i in $(seq "$OUTAGE"); do
		"$B" udp-once 127.0.0.1 "$PORT" 10
		sleep 1
	done
	local waiting
	waiting=$(spooled)
	check_match "  with the server down for $OUTAGE s, the batches wait in the spool ($waiting)" \
		'^[1-9][0-9]*$' "$waiting"
	P2=$("$SRV" "$K-start" "$WORK")
	check_eq "  the server is back" "$P" "$P2"
	"$B" udp-once 127.0.0.1 "$PORT" 1000
	sleep 1.5
	wait_spool_empty
	check_eq "  then the spool is sent" 0 "$(spooled)"
	ps_stop
	check_eq "  every byte of the traffic during the outage arrives once" \
		"$((100 + OUTAGE * 10 + 1000))" \
		"$(sql "$K" "SELECT sum(sent) FROM connections WHERE exe = '$B'")"
	check_eq "  as in snitch.db" "$(db "SELECT sum(sent) FROM connection_log WHERE executable = '$B'")" \
		"$(sql "$K" "SELECT sum(sent) FROM connections WHERE exe = '$B'")"
	check_batches "$K" "  after the outage"
	check_match "  error.log says it failed, and the batches wait" \
		"SQL server \($NAME, table connections\): .*batches wait in sql-spool" \
		"$(cat "$PICOSNITCH_DIR/error.log")"
	check_match "  and that it writes again" "SQL server \($NAME, table connections\): writing again; [1-9][0-9]* batches that waited were sent" \
		"$(cat "$PICOSNITCH_DIR/error.log")"

	# ---- a wrong password; then the right one sends the spool ----
	echo "not-the-password" >"$WORK/pw-wrong" && chown "$TEST_USER:" "$WORK/pw-wrong"
	config "$K" "$P" "$WORK/pw-wrong"
	: >"$PICOSNITCH_DIR/error.log"
	ps_start || { not_ok "$NAME: the monitor starts"; return; }
	W=$(prog "sqlw$K")
	"$W" udp-once 127.0.0.1 "$PORT" 777
	sleep 3
	ps_stop
	check_match "  a wrong password: error.log has the server's refusal" \
		"password authentication failed|Access denied" "$(cat "$PICOSNITCH_DIR/error.log")"
	check_eq "  without the password" 0 "$(grep -c 'not-the-password\|pw-writer' "$PICOSNITCH_DIR/error.log")"
	check_eq "  snitch.db is written as always" 777 \
		"$(db "SELECT sum(sent) FROM connection_log WHERE executable = '$W'")"
	check_match "  the windows wait in the spool" '^[1-9][0-9]*$' "$(spooled)"
	config "$K" "$P" "$WORK/pw"
	ps_start || { not_ok "$NAME: the monitor starts"; return; }
	wait_spool_empty
	ps_stop
	check_eq "  restarted with the right password, the spool is sent: the traffic arrives" 777 \
		"$(sql "$K" "SELECT sum(sent) FROM connections WHERE exe = '$W'")"

	# ---- the logger killed with SIGKILL in the middle of traffic ----
	ps_start || { not_ok "$NAME: the monitor starts"; return; }
	X=$(prog "sqlx$K")
	for i in $(seq 30); do "$X" udp-once 127.0.0.1 "$PORT" 5; sleep 0.1; done
	L=$(pgrep -f -P "$PS_PID" 'picosnitch logger' | head -1)
	kill -KILL "$L"
	wait "$PS_PID"
	PS_PID=
	ps_start || { not_ok "$NAME: the monitor starts again"; return; }
	sleep 2
	wait_spool_empty
	ps_stop
	check_batches "$K" "  after the logger was killed with SIGKILL"
	check_eq "  what was written before the kill is on the server as in snitch.db" \
		"$(db "SELECT ifnull(sum(sent),0) FROM connection_log WHERE executable = '$X'")" \
		"$(sql "$K" "SELECT coalesce(sum(sent),0) FROM connections WHERE exe = '$X'")"

	# ---- heartbeats: the monitor killed ----
	ps_start || { not_ok "$NAME: the monitor starts"; return; }
	sleep 3
	OUT=$(runuser -u "$TEST_USER" -- "$(user_bin)" sql-status --server "$WORK/reader-$K.json" --stale 3 2>&1)
	RC=$?
	check_eq "  sql-status while it runs: exit 0" 0 "$RC"
	check_match "  this machine reports" "$(hostname)	[0-9a-f]{32}	[0-9-]+ [0-9:]+	[0-9]+	1	[0-9]+	[0-9]+	reporting" "$OUT"
	kill -KILL "$PS_PID"
	wait "$PS_PID" 2>/dev/null
	PS_PID=
	# the logger writes its last window when the monitor is gone
	sleep 6
	OUT=$(runuser -u "$TEST_USER" -- "$(user_bin)" sql-status --server "$WORK/reader-$K.json" --stale 3 2>&1)
	RC=$?
	check_eq "  after kill -9 of the monitor, sql-status exits 3" 3 "$RC"
	check_match "  and lists this machine as STOPPED" "$(hostname)	.*	STOPPED" "$OUT"
	OUT=$(runuser -u "$TEST_USER" -- "$(user_bin)" sql-status 2>&1)
	check_match "  the writer's own settings cannot read the fleet, and it says to use a reader" \
		"give a reader's settings" "$OUT"
	pkill -KILL -f -u "$TEST_USER" 'picosnitch logger' 2>/dev/null

	# ---- the fleet view: dash --sql, as the reader ----
	local DP=$((20000 + RANDOM % 20000)) TOKEN DASH_PID
	mkdir -p "$WORK/fleet-tmp" && chown "$TEST_USER:" "$WORK/fleet-tmp"
	local DASH_T0
	DASH_T0=$(date +%s)
	# emptied here, not only in the child that '&' starts: the first
	# kind's "serving on" must not be read while the child starts
	: >"$WORK/dash.out"
	TMPDIR=$WORK/fleet-tmp PORT=$DP "$PS_BIN" dash --sql --server "$WORK/reader-$K.json" --machine "$(hostname)" \
		--no-browser >"$WORK/dash.out" 2>"$WORK/dash.err" &
	DASH_PID=$!
	for _ in $(seq 300); do
		grep -q "serving on" "$WORK/dash.out" && break
		kill -0 "$DASH_PID" 2>/dev/null || break
		sleep 0.1
	done
	TOKEN=$(sed -n 's/.*?token=\([0-9a-f]*\) .*/\1/p' "$WORK/dash.out" | head -1)
	if ! grep -q "serving on" "$WORK/dash.out"; then
		diag "dash --sql ($NAME) not serving after $(($(date +%s) - DASH_T0)) s;" \
			"$(kill -0 "$DASH_PID" 2>/dev/null && echo running || echo exited)"
		diag "its stdout: $(cat "$WORK/dash.out")"
		diag "its stderr: $(cat "$WORK/dash.err")"
	fi
	check_match "  dash --sql copies this machine's entries and serves them" \
		"entries copied from the $NAME server for $(hostname)" "$(cat "$WORK/dash.out")"
	curl -s -H "X-Picosnitch-Token: $TOKEN" "http://127.0.0.1:$DP/api/groups?dim=executable&limit=1000" >"$WORK/body"
	check_eq "  the fleet view has the outage's traffic, to the byte" "$((100 + OUTAGE * 10 + 1000))" \
		"$(python3 -c "import json; j=json.load(open('$WORK/body')); print(sum(r['sent'] for r in j['rows'] if r['value']['text'] == '$B'))")"
	curl -s -H "X-Picosnitch-Token: $TOKEN" "http://127.0.0.1:$DP/api/status" >"$WORK/body"
	check_eq "  and /api/status lists the machine and its heartbeat (stopped after a minute)" "$(hostname) 1 False" \
		"$(python3 -c "import json; j=json.load(open('$WORK/body')); print(' '.join(f\"{m['host']} {int(m['batches'] > 0)} {m['stopped']}\" for m in j['fleet']['machines']))")"
	check_eq "  and as of when the copy is (not before the dash started)" "True False" \
		"$(python3 -c "import json,time; f=json.load(open('$WORK/body'))['fleet']; print(f['as_of'] >= $DASH_T0, f['behind'])")"
	curl -s -H "X-Picosnitch-Token: $TOKEN" "http://127.0.0.1:$DP/api/dims" >"$WORK/body"
	check_eq "  the host dimension is offered in the fleet view" "True" \
		"$(python3 -c "import json; print([d['available'] for d in json.load(open('$WORK/body')) if d['name'] == 'host'][0])")"
	curl -s -H "X-Picosnitch-Token: $TOKEN" "http://127.0.0.1:$DP/api/groups?dim=host&limit=10" >"$WORK/body"
	check_eq "  grouped by host: this machine, with every byte of the copy" \
		"$(hostname) $(python3 -c "import json; print(json.load(open('$WORK/body'))['sent'])")" \
		"$(python3 -c "import json; j=json.load(open('$WORK/body')); print(' '.join(f\"{r['value']['text']} {r['sent']}\" for r in j['rows']))")"
	kill -TERM "$DASH_PID"
	wait "$DASH_PID"
	check_eq "  its copy is removed when it stops" "" "$(ls "$WORK/fleet-tmp")"
	"$SRV" "$K-stop" "$WORK"
}

for K in ${T175_KINDS:-pg my}; do run_kind "$K"; done

# libpq and libmariadb read what the servers answer: the client paths
# (connect, check, write, read back, refusals, the fleet's copy) under
# valgrind, with the test built without sanitizers
if command -v valgrind >/dev/null && [ -x "$ROOT/build/tests/sqlserver-valgrind" ]; then
	OUT=$(cd "$ROOT" && SQLTEST_QUICK=1 valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite build/tests/sqlserver-valgrind 2>&1)
	RC=$?
	check_eq "the client paths run clean under valgrind (both servers)" 0 "$RC"
	[ "$RC" = 0 ] || printf '%s\n' "$OUT" | grep -v '^ok' | tail -20 | sed 's/^/#   /'
else
	skip "valgrind or build/tests/sqlserver-valgrind is missing"
fi
t_done
