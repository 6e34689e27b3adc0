#!/bin/bash
# `picosnitch dash` on the 10-million-entry database of bench/query-bench.sh:
# each API call the pages make (median of 3 after one warm-up, and one
# cold: page cache dropped, server restarted), the first meaningful paint
# (the charts drawn, measured in Chromium from navigation start), and the
# server's peak memory (VmHWM) for each call and for the paint.  Targets:
# API <= 200 ms, paint <= 1 s, memory <= 30 MB.  Needs root (a throwaway
# user runs the server, as sudo would make it, and the page cache is
# dropped), Debian's chromium and web/node_modules (make).
#
#   PS_BENCH_BIN=path     another build (one side of a side-by-side run)
#   QUERY_BENCH_DB=path   the database (/var/tmp/picosnitch-query-bench.db);
#                         made by bench/query-bench.sh when missing
set -eu
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DB=${QUERY_BENCH_DB:-/var/tmp/picosnitch-query-bench.db}
BIN=${PS_BENCH_BIN:-$ROOT/build/picosnitch}
[ "$(id -u)" = 0 ] || { echo "dash-bench: needs root" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "dash-bench: needs /usr/bin/chromium" >&2; exit 1; }
make -C "$ROOT" -s all build/bench/querygen
[ -s "$DB" ] || "$ROOT/build/bench/querygen" gen "$DB" 10000000

USER_=psdash$$
useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$USER_"
DIR=$(mktemp -d "$(dirname "$DB")/picosnitch-dash-bench.XXXXXX")
OWNER=$(stat -c %u:%g "$DB")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -f "$DIR/snitch.db" "$DIR/snitch.db-wal" "$DIR/snitch.db-shm" "$DIR/dash.token" "$DIR/out"
	chown "$OWNER" "$DB"
	rmdir "$DIR"
	userdel "$USER_" 2>/dev/null
	getent group "$USER_" >/dev/null && groupdel "$USER_"
	return 0
}
trap cleanup EXIT
# the server runs as the owner of snitch.db: lend the file to the bench user
ln "$DB" "$DIR/snitch.db"
chown "$USER_:" "$DB" "$DIR"
PORT=$((20000 + RANDOM % 20000))
BASE=http://localhost:$PORT

start() {
	# no monthly GeoIP download: the build's offline address data
	PICOSNITCH_DIR=$DIR PORT=$PORT PICOSNITCH_GEOIP_URL= "$BIN" dash --no-browser >"$DIR/out" 2>&1 &
	PID=$!
	for _ in $(seq 100); do grep -q "serving on" "$DIR/out" && return; sleep 0.05; done
	echo "dash-bench: the server did not start" >&2
	cat "$DIR/out" >&2
	exit 1
}
stop() { kill "$PID"; wait "$PID" || true; PID=; }

last=$(sqlite3 "file:$DB?mode=ro" "SELECT max(time) FROM connections")
day=$((last - 86400)) month=$((last - 30 * 86400)) year=$((last - 365 * 86400))
# the executable with the most entries over the history (the worst case for
# its page: 14% of the benchmark's entries)
busiest=$(sqlite3 "file:$DB?mode=ro" "SELECT path FROM executables WHERE id = (SELECT exe_id FROM connections GROUP BY exe_id ORDER BY count(*) DESC LIMIT 1)")
# and one of the many that are less busy: the 30th of the last day
typical=$(sqlite3 "file:$DB?mode=ro" "SELECT path FROM executables WHERE id = (SELECT exe_id FROM connections WHERE time > $((last - 86400)) GROUP BY exe_id ORDER BY sum(sent) DESC LIMIT 1 OFFSET 29)")
calls=(
	"groups, executable, year|groups?dim=executable&from=$year&limit=5000"
	"groups, remote_address, year|groups?dim=remote_address&from=$year&sort=sent&limit=5000"
	"groups, domain, 30 days|groups?dim=domain&from=$month&limit=5000"
	"groups, country, year|groups?dim=country&from=$year&limit=5000"
	"groups, asn, year|groups?dim=asn&from=$year&limit=5000"
	"series, country, 30 days|series?dim=country&from=$month&top=10&buckets=300&align=1"
	"series, executable, year|series?dim=executable&from=$year&top=10&buckets=300&align=1"
	"series, remote_address, 30 days|series?dim=remote_address&from=$month&top=10&buckets=300&align=1"
	"series, executable, a day|series?dim=executable&from=$day&top=10&buckets=300&align=1"
	"distinct, executable, year|distinct?dim=executable&from=$year&limit=1000"
	"executable page, year|executable?include=executable:$busiest&from=$year"
	"executable page, 30 days|executable?include=executable:$busiest&from=$month"
	"executable page, year, 30th busiest|executable?include=executable:$typical&from=$year"
	# the busiest executable and a second filter (domain not empty): its
	# executable days are read, entry by entry, not its sums
	"busiest + domain, groups, asn, year|groups?dim=asn&include=executable:$busiest&exclude=domain:&from=$year&limit=5000"
	"busiest + domain, groups, remote_address, year|groups?dim=remote_address&include=executable:$busiest&exclude=domain:&from=$year&limit=5000"
	"busiest + domain, series, remote_address, year|series?dim=remote_address&include=executable:$busiest&exclude=domain:&from=$year&top=10&buckets=300&align=1"
	"status|status"
)
# ms PATH: the time of one call, which must answer 200
ms() {
	curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "X-Picosnitch-Token: $(cat "$DIR/dash.token")" \
		"$BASE/api/$1" | awk '$1 != 200 { print "HTTP " $1 > "/dev/stderr"; exit 1 } { printf "%.0f", $2 * 1000 }'
}

printf '%-46s %8s %8s %8s\n' "API call" "cold ms" "warm ms" "peak MB"
fail=0
peak_max=0
for c in "${calls[@]}"; do
	name=${c%%|*} path=${c#*|}
	sync; echo 3 >/proc/sys/vm/drop_caches
	start
	cold=$(ms "$path")
	ms "$path" >/dev/null
	warm=$( (ms "$path"; echo; ms "$path"; echo; ms "$path"; echo) | sort -n | sed -n 2p)
	peak=$(awk '/VmHWM/ { print int($2 / 1024 + 0.5) }' "/proc/$PID/status")
	[ "$peak" -gt "$peak_max" ] && peak_max=$peak
	stop
	flag=""
	{ [ "$cold" -gt 200 ] || [ "$warm" -gt 200 ]; } && flag=" > 200" && fail=1
	[ "$peak" -gt 30 ] && flag="$flag (memory > 30)" && fail=1
	printf '%-46s %8s %8s %8s%s\n' "$name" "$cold" "$warm" "$peak" "$flag"
done

# first meaningful paint: navigation start to both charts drawn
start
paint=$(cd "$ROOT" && node --input-type=module -e "
import { createRequire } from 'node:module';
const { chromium } = createRequire('$ROOT/web/package.json')('playwright-core');
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox', '--disable-gpu'] });
const ctx = await b.newContext({ viewport: { width: 1280, height: 800 } });
const login = await ctx.newPage();
await login.goto('$BASE/?token=$(cat "$DIR/dash.token")');
await login.close();
const out = [];
for (const [name, hash] of [['all of the history', '#dim=executable&period=0'], ['30 days', '#dim=remote_address&period=14'], ['1 day', '#dim=executable&period=11']]) {
  const p = await ctx.newPage();
  const t0 = Date.now();
  await p.goto('$BASE/' + hash);
  await p.waitForFunction(() => window.picosnitchDash && window.picosnitchDash.chartData().length === 2 && window.picosnitchDash.idle(), null, { timeout: 60000 });
  out.push(name + '|' + (Date.now() - t0));
  await p.close();
}
await b.close();
console.log(out.join('\n'));
")
printf '\n%-46s %8s\n' "first meaningful paint" "ms"
while IFS='|' read -r name t; do
	flag=""
	[ "$t" -gt 1000 ] && flag=" > 1000" && fail=1
	printf '%-46s %8s%s\n' "$name" "$t" "$flag"
done <<<"$paint"
hwm=$(awk '/VmHWM/ { print int($2 / 1024 + 0.5) }' "/proc/$PID/status")
stop
flag=""
[ "$hwm" -gt 30 ] && flag=" > 30" && fail=1
printf '\n%-46s %8s%s\n' "dash peak memory, paint (VmHWM, MB)" "$hwm" "$flag"
printf '%-46s %8s\n' "dash peak memory, any API call above (MB)" "$peak_max"
[ "$fail" = 0 ] && echo "dash-bench: PASS" || echo "dash-bench: FAIL (see the lines marked >)"
