#!/bin/bash
# "DB sql server" throughput: throwaway PostgreSQL 15 and MariaDB 10.11
# servers on 127.0.0.1 (tests/lib/sqlservers.sh, the writer with only the
# README's GRANTs), and the real sender (build/bench/sqlsend: spool file,
# thread, one transaction per batch) writing SQL_BENCH_BATCHES windows of
# SQL_BENCH_ROWS entries each; prints entries per second for each.
#   SQL_BENCH_BATCHES=n (30)   SQL_BENCH_ROWS=n (10000)
set -eu
# the servers' durable defaults: every commit flushed to disk
export PG_FSYNC=on MY_FLUSH=1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRV=$ROOT/tests/lib/sqlservers.sh
BATCHES=${SQL_BENCH_BATCHES:-30}
ROWS=${SQL_BENCH_ROWS:-10000}
make -s -C "$ROOT" build/bench/sqlsend build/picosnitch
W=$(mktemp -d /tmp/picosnitch-sql-bench.XXXXXX)
chmod 0755 "$W"
trap 'set +e; "$SRV" pg-stop "$W" >/dev/null 2>&1; "$SRV" my-stop "$W" >/dev/null 2>&1; rm -rf "$W"' EXIT
for K in pg my; do
	why=$("$SRV" why-not "$K")
	if [ -n "$why" ]; then
		echo "$K: skipped: $why"
		continue
	fi
	C=$([ "$K" = pg ] && echo postgresql || echo mariadb)
	mkdir -p "$W/state-$K"
	echo "{\"DB sql server\": {\"client\": \"$C\", \"dbname\": \"snitch\"}}" >"$W/state-$K/config.json"
	PICOSNITCH_DIR=$W/state-$K "$ROOT/build/picosnitch" sql-schema >"$W/schema-$K.sql"
	chmod 0644 "$W/schema-$K.sql"
	P=$(SCHEMA_SQL=$W/schema-$K.sql "$SRV" "$K-start" "$W")
	"$ROOT/build/bench/sqlsend" "{\"client\": \"$C\", \"host\": \"127.0.0.1\", \"port\": $P,
		\"user\": \"pswriter\", \"password\": \"pw-writer\", \"dbname\": \"snitch\"}" \
		"$W/spool-$K" "$BATCHES" "$ROWS"
	"$SRV" "$K-stop" "$W"
done
