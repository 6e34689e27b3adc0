#!/bin/bash
# `picosnitch dash`'s /metrics with a running monitor: Prometheus' own
# checker (promtool) accepts it; scraped twice under known traffic, a
# program's bytes and flows are exactly what snitch.db holds and grow by
# exactly what it sent; once the monitor stops, every executable's series
# equals snitch.db's sums; the monitor's and logger's counters are there
# while it runs; who may scrape (the token, also as a Bearer token, which
# Prometheus can send; the Host check).
source "$(dirname "$0")/../lib/lib.sh"

need_root
[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd)"
[ -r /sys/kernel/btf/vmlinux ] || skip_all "the kernel has no BTF, so no monitor can run"
command -v promtool >/dev/null || skip_all "promtool is not installed (Debian's prometheus package)"

ps_config '{"Desktop notifications": false, "DB write limit (seconds)": 1, "Metrics top executables": 1000}'
chown -R "$TEST_USER:" "$PICOSNITCH_DIR"
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }

PORT=$((20000 + RANDOM % 20000))
export PORT
unset HOST
BASE=http://127.0.0.1:$PORT
"$PS_BIN" dash --no-browser >"$WORK/dash.out" 2>"$WORK/dash.err" &
DASH_PID=$!
for _ in $(seq 100); do grep -q "serving on" "$WORK/dash.out" && break; sleep 0.05; done
TOKEN=$(cat "$PICOSNITCH_DIR/dash.token" 2>/dev/null)
[ -n "$TOKEN" ] && ok "dash starts" || { not_ok "dash starts"; cat "$WORK/dash.err"; }

# scrape FILE [CURL ARGS...]: GET /metrics with the Bearer token; the status
scrape() {
	local out=$1
	shift
	curl -s -m 20 -o "$out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$@" "$BASE/metrics"
}
# value FILE SERIES: the value of one series (exact name and labels)
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }
# exe_series FILE FAMILY EXE
exe_series() { value "$1" "$2{executable=\"$3\"}"; }
# in_db EXE: "sent received flows" in snitch.db
in_db() {
	db "SELECT ifnull(sum(sent),0) || ' ' || ifnull(sum(received),0) || ' ' || ifnull(sum(flows),0)
	    FROM connection_log WHERE executable = '$1'"
}
in_scrape() {
	echo "$(exe_series "$1" picosnitch_sent_bytes_total "$2") $(exe_series "$1" \
		picosnitch_received_bytes_total "$2") $(exe_series "$1" picosnitch_flows_total "$2")"
}
# wait_db EXE "SENT RECEIVED FLOWS": until the logger wrote it (10 s at most)
wait_db() {
	for _ in $(seq 100); do
		[ "$(in_db "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- who may scrape ----
code=$(curl -s -m 10 -o "$WORK/body" -w '%{http_code}' "$BASE/metrics")
check_eq "no token: 403" 403 "$code"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer x$TOKEN" "$BASE/metrics")
check_eq "a wrong Bearer token: 403" 403 "$code"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "X-Picosnitch-Token: $TOKEN" "$BASE/metrics")
check_eq "the dash's header works too: 200" 200 "$code"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/status")
check_eq "the Bearer token opens /metrics only (the API: 403)" 403 "$code"
code=$(scrape "$WORK/body" -H "Host: evil.example:$PORT")
check_eq "another Host (DNS rebinding): 421" 421 "$code"
code=$(curl -s -m 10 -o /dev/null -w '%{content_type}' -H "Authorization: Bearer $TOKEN" "$BASE/metrics")
check_eq "the exposition format's content type" "text/plain; version=0.0.4; charset=utf-8" "$code"

# ---- two scrapes under known traffic ----
SINK=$(prog metrics-sink)
("$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 2>/dev/null &)
wait_file "$WORK/sink.port"
SPORT=$(cat "$WORK/sink.port")
TALKER=$(prog metrics-talker)
"$TALKER" udp-once 127.0.0.1 "$SPORT" 4321
wait_db "$TALKER" "4321 0 1" && ok "the first datagram is in snitch.db" ||
	not_ok "the first datagram is in snitch.db ($(in_db "$TALKER"))"
# the counters are written every 5 s
for _ in $(seq 70); do grep -q '"monitor_pid"' "$PICOSNITCH_DIR/metrics.json" 2>/dev/null && break; sleep 0.1; done
check_eq "metrics.json: only the user may read it" "-rw------- $TEST_USER" \
	"$(stat -c '%A %U' "$PICOSNITCH_DIR/metrics.json")"
# until the counters written every 5 s cover the first write and hash
for _ in $(seq 60); do
	code=$(scrape "$WORK/m1")
	[ "$(value "$WORK/m1" picosnitch_db_write_seconds_count)" -ge 1 ] 2>/dev/null &&
		[ "$(value "$WORK/m1" picosnitch_hashes_total)" -ge 1 ] 2>/dev/null && break
	sleep 0.25
done
check_eq "first scrape: 200" 200 "$code"
promtool check metrics <"$WORK/m1" >"$WORK/promtool1" 2>&1
check_eq "  promtool check metrics finds no problem" 0 "$?"
check_eq "  the program's series are snitch.db's, exactly" "4321 0 1" "$(in_scrape "$WORK/m1" "$TALKER")"
check_eq "  the monitor runs" 1 "$(value "$WORK/m1" picosnitch_up)"
check_eq "  snitch.db is read" 1 "$(value "$WORK/m1" picosnitch_database_up)"
check_eq "  the ring buffer's size (256 pages)" $((256 * $(getconf PAGESIZE))) \
	"$(value "$WORK/m1" picosnitch_ring_buffer_bytes)"
cap=$(value "$WORK/m1" picosnitch_flow_table_capacity)
flows=$(value "$WORK/m1" picosnitch_flow_table_flows)
[ "${cap:-0}" -gt 0 ] && [ "${flows:--1}" -ge 0 ] && [ "$flows" -le "$cap" ] &&
	ok "  flow table use: $flows of $cap" || not_ok "  flow table use: '$flows' of '$cap'"
[ "$(value "$WORK/m1" picosnitch_hashes_total)" -ge 1 ] && ok "  executables were hashed" ||
	not_ok "  executables were hashed"
[ "$(value "$WORK/m1" picosnitch_ring_buffer_records_total)" -ge 1 ] &&
	ok "  ring buffer records were read" || not_ok "  ring buffer records were read"
w1=$(value "$WORK/m1" picosnitch_db_write_seconds_count)
[ "${w1:-0}" -ge 1 ] && ok "  snitch.db writes were timed ($w1)" || not_ok "  snitch.db writes were timed"
check_eq "  each loss cause is there" 16 "$(grep -c '^picosnitch_sensor_events_total{cause=' "$WORK/m1")"
check_eq "  AF_PACKET frames a reader took first among them" 1 \
	"$(grep -c '^picosnitch_sensor_events_total{cause="packet_frame_taken"} 0$' "$WORK/m1")"

"$TALKER" udp-once 127.0.0.1 "$SPORT" 1000
"$TALKER" udp-once 127.0.0.1 "$SPORT" 1
wait_db "$TALKER" "5322 0 3" && ok "two more datagrams are in snitch.db" ||
	not_ok "two more datagrams are in snitch.db ($(in_db "$TALKER"))"
sleep 5.5	# the counters' next write
code=$(scrape "$WORK/m2")
check_eq "second scrape: 200" 200 "$code"
promtool check metrics <"$WORK/m2" >"$WORK/promtool2" 2>&1
check_eq "  promtool check metrics finds no problem" 0 "$?"
check_eq "  the program's series grew by exactly what it sent" "5322 0 3" "$(in_scrape "$WORK/m2" "$TALKER")"
check_eq "  and the receiver's are snitch.db's" "$(in_db "$SINK")" "$(in_scrape "$WORK/m2" "$SINK")"
w2=$(value "$WORK/m2" picosnitch_db_write_seconds_count)
[ "${w2:-0}" -gt "${w1:-0}" ] && ok "  more writes were timed ($w1, then $w2)" ||
	not_ok "  more writes were timed ($w1, then $w2)"

# ---- the monitor stops: every series against snitch.db ----
ps_stop
check_eq "the monitor stops cleanly" 0 "$PS_RC"
code=$(scrape "$WORK/m3")
check_eq "a scrape without a monitor: 200" 200 "$code"
check_eq "  it says so" 0 "$(value "$WORK/m3" picosnitch_up)"
check_eq "  and leaves out the counters of the monitor that ran" 0 \
	"$(grep -c '^picosnitch_hashes_total' "$WORK/m3")"
promtool check metrics <"$WORK/m3" >"$WORK/promtool3" 2>&1
check_eq "  promtool check metrics finds no problem" 0 "$?"
python3 - "$WORK/m3" "$PICOSNITCH_DIR/snitch.db" >"$WORK/compare" <<'PY'
import re, sqlite3, sys
series = {}
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r'^(picosnitch_(?:sent_bytes|received_bytes|flows)_total)\{(executable|other)="((?:[^"\\]|\\.)*)"\} (\d+)$', line)
    if m:
        v = re.sub(r'\\(.)', lambda g: {"n": "\n"}.get(g.group(1), g.group(1)), m.group(3))
        series[(m.group(1), m.group(2), v)] = int(m.group(4))
db = sqlite3.connect(sys.argv[2])
db.text_factory = bytes
rows = db.execute("SELECT executable, sum(sent), sum(received), sum(flows) FROM connection_log "
                  "GROUP BY executable").fetchall()
bad = 0
def label(b):
    ok = all(0x20 <= c < 0x7f for c in b)
    return b.decode() if ok else None
for exe, s, r, f in rows:
    name = label(exe)
    if name is None:
        continue
    for fam, want in (("picosnitch_sent_bytes_total", s), ("picosnitch_received_bytes_total", r),
                      ("picosnitch_flows_total", f)):
        if series.get((fam, "executable", name)) != want:
            bad += 1
            print("# %s %r: %r, snitch.db %r" % (fam, name, series.get((fam, "executable", name)), want),
                  file=sys.stderr)
print(len(rows), len([k for k in series if k[0] == "picosnitch_sent_bytes_total"]), bad)
PY
read -r n_db n_series n_bad <"$WORK/compare"
check_eq "every executable of snitch.db has its series" "$n_db" "$n_series"
check_eq "  each equal to snitch.db's sums" 0 "$n_bad"
check_eq "  and picosnitch_executables says how many" "$n_db" "$(value "$WORK/m3" picosnitch_executables)"

curl -s -m 10 -o /dev/null -X POST -H "X-Picosnitch-Token: $TOKEN" "$BASE/api/stop"
wait "$DASH_PID"
check_eq "dash stops" 0 "$?"
check_eq "  with nothing on stderr (no ASan report)" "" "$(grep -v '^picosnitch dash' "$WORK/dash.err")"
t_done
