#!/bin/bash
# The live feed: the logger's live.sock and `picosnitch dash`'s /api/live
# (Server-Sent Events) with a running monitor: each second's traffic per
# executable to the byte, hostile names on one line, history, the bound on
# streams, the monitor going away and coming back, the live view in
# Chromium within 2 s (tests/web/live.mjs).
source "$(dirname "$0")/../lib/lib.sh"

need_root
[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd)"
[ -r /sys/kernel/btf/vmlinux ] || skip_all "the kernel has no BTF, so no monitor can run"

ps_config '{"Desktop notifications": false}'
chown -R "$TEST_USER:" "$PICOSNITCH_DIR"
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
for _ in $(seq 100); do [ -S "$PICOSNITCH_DIR/live.sock" ] && break; sleep 0.05; done
[ -S "$PICOSNITCH_DIR/live.sock" ] && ok "the logger listens on live.sock" ||
	not_ok "the logger listens on live.sock"
check_eq "  which only its user may open" "srwx------ $TEST_USER" \
	"$(stat -c '%A %U' "$PICOSNITCH_DIR/live.sock")"

PORT=$((20000 + RANDOM % 20000))
export PORT
unset HOST
BASE=http://127.0.0.1:$PORT
"$PS_BIN" dash --no-browser >"$WORK/dash.out" 2>"$WORK/dash.err" &
DASH_PID=$!
for _ in $(seq 100); do grep -q "serving on" "$WORK/dash.out" && break; sleep 0.05; done
TOKEN=$(cat "$PICOSNITCH_DIR/dash.token" 2>/dev/null)
[ -n "$TOKEN" ] && ok "dash starts" || { not_ok "dash starts"; cat "$WORK/dash.err"; }

# stream NAME [QUERY]: an SSE reader in the background, into $WORK/NAME
stream() {
	curl -sN -H "X-Picosnitch-Token: $TOKEN" "$BASE/api/live${2:-}" >"$WORK/$1" 2>/dev/null &
	eval "S_$1=\$!"
}
# events FILE KIND: the data lines of one kind of event, one per line
events() {
	python3 - "$1" "$2" <<'PY'
import sys
kind = None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    if line.startswith("event: "):
        kind = line[7:]
    elif line.startswith("data: ") and kind == sys.argv[2]:
        print(line[6:])
PY
}
# sum FILE EXE: "sent received" of an executable over a stream's events
sum() {
	events "$1" traffic | python3 -c '
import json, sys
s = r = 0
for line in sys.stdin:
    for e in json.loads(line)["executables"]:
        if e["executable"] == sys.argv[1]:
            s += e["sent"]; r += e["received"]
print(s, r)' "$2"
}

SINK=$(prog live-sink)
# (it ends by itself after a minute; the cleanup kills it before)
("$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 2>/dev/null &)
wait_file "$WORK/sink.port"
SPORT=$(cat "$WORK/sink.port")
TALKER=$(prog live-talker)
# a name no terminal or page should run as code: newline, escape, quote
EVIL="$WORK/bin/evil"$'\n'"id: 999"$'\e'"[31m\"x"
cp "$TRAFFICGEN" "$EVIL"

stream main "?history=0"
T0=$(date +%s%N)
sleep 1.5
"$TALKER" udp-once 127.0.0.1 "$SPORT" 4321
"$TALKER" udp-once 127.0.0.1 "$SPORT" 1000
"$EVIL" udp-once 127.0.0.1 "$SPORT" 77
sleep 2.5

check_eq "the first event says the monitor runs" '{"running":true}' \
	"$(events "$WORK/main" state | head -1)"
n=$(events "$WORK/main" traffic | wc -l)
secs=$((($(date +%s%N) - T0) / 1000000000))
[ "$n" -ge $((secs - 1)) ] && [ "$n" -le $((secs + 1)) ] && ok "an event a second ($n in $secs s)" ||
	not_ok "an event a second ($n in $secs s)"
check_eq "a program's bytes, to the byte (sent received)" "5321 0" "$(sum "$WORK/main" "$TALKER")"
check_eq "  and the receiver's" "0 5398" "$(sum "$WORK/main" "$SINK")"
check_eq "a hostile name is one line, as safe text" "77 0" \
	"$(sum "$WORK/main" "$WORK/bin/evil\\x0aid: 999\\x1b[31m\"x")"
bad=$(grep -cvE '^(event: (traffic|state)|id: [0-9]+|data: \{.*\}|retry: 2000|)$' "$WORK/main")
check_eq "  every line of the stream is a field of the protocol" 0 "$bad"
check_eq "  and nothing but ASCII" 0 "$(LC_ALL=C grep -c $'[\x80-\xff]' "$WORK/main")"
events "$WORK/main" traffic | tail -1 | python3 -c '
import json, sys
j = json.loads(sys.stdin.read())
print(sorted(j), 900 <= j["ms"] <= 1100, sorted(j["others"]))' >"$WORK/shape"
check_eq "an event's fields" \
	"['executables', 'ms', 'others', 'time'] True ['executables', 'received', 'sent']" \
	"$(cat "$WORK/shape")"

# history: a page that opens gets the last events at once
stream hist "?history=3"
sleep 0.3
kill "$S_hist" 2>/dev/null
# (a new second may come within the 0.3 s)
n=$(events "$WORK/hist" traffic | wc -l)
[ "$n" = 3 ] || [ "$n" = 4 ] && ok "history=3: the last three seconds at once ($n in 0.3 s)" ||
	not_ok "history=3: the last three seconds at once ($n in 0.3 s)"
check_eq "  after what is known of the monitor" '{"running":true}' \
	"$(events "$WORK/hist" state)"
for q in "?history=301" "?history=-1" "?history=1e2" "?history=" "?since=0" "?history=1&history=2" \
	"?history=%00"; do
	code=$(curl -s -m 10 -o "$WORK/body" -w '%{http_code}' -H "X-Picosnitch-Token: $TOKEN" "$BASE/api/live$q")
	check_eq "a bad parameter ($q) is refused: 400" 400 "$code"
done
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$BASE/api/live")
check_eq "no token, no stream: 403" 403 "$code"

# the bound: 32 streams at once (main and 31 more), the 33rd is told why.
# One program holds the 31 so that nothing but the server decides when
# each is served.  (The history stream closed above leaves the count when
# a later second resumes it and a write fails: its socket on the server's
# side stays in CLOSE-WAIT until then.  On a slow machine that took more
# than the 1.5 s once waited here, so one of the 31 got the 503.)
for _ in $(seq 100); do
	[ -z "$(ss -Htn state close-wait "( sport = :$PORT )")" ] && break
	sleep 0.1
done
check_eq "the closed history stream has left the server" "" "$(ss -Htn state close-wait "( sport = :$PORT )")"
sleep 0.2
python3 - "$PORT" "$TOKEN" >"$WORK/bound" 2>&1 <<'PY'
import socket, sys, time, selectors
port, token = int(sys.argv[1]), sys.argv[2]
def request(path):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
               "X-Picosnitch-Token: %s\r\n\r\n" % (path, port, token)).encode())
    return s
t0 = time.monotonic()
streams = [request("/api/live?history=0") for _ in range(31)]
got = [b""] * 31
sel = selectors.DefaultSelector()
for i, s in enumerate(streams):
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, i)
def read_until(word, limit):
    while time.monotonic() - t0 < limit and not all(word in g for g in got):
        for key, _ in sel.select(0.5):
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(key.fileobj)
            got[key.data] += data
    return sum(word in g for g in got)
print("served", read_until(b"event: state", 30))
print("# all served in %.0f ms" % ((time.monotonic() - t0) * 1000))
extra = request("/api/live")
extra.settimeout(1)
body = b""
deadline = time.monotonic() + 5
try:
    while time.monotonic() < deadline:
        data = extra.recv(65536)
        if not data:
            break
        body += data
except TimeoutError:
    pass    # a stream, not the refusal: what came is enough to tell
print("33rd", body.split(b" ")[1].decode(errors="replace") if body.startswith(b"HTTP/1.1 ") else "none")
print("why", b"too many live streams" in body)
print("heard", read_until(b"event: traffic", time.monotonic() - t0 + 5))
print("status", sorted({g.split(b"\r\n")[0].decode(errors="replace") for g in got}))
# three pages closed: at once three new ones are served, not a second later
for s in streams[:3]:
    sel.unregister(s)
    s.close()
time.sleep(0.1)
codes = []
for _ in range(3):
    n = request("/api/live?history=0")
    n.settimeout(5)
    try:
        head = n.recv(12)
    except TimeoutError:
        head = b""
    codes.append(head.split(b" ")[1].decode(errors="replace") if head.startswith(b"HTTP/1.1 ") else "none")
print("reopened", " ".join(codes))
PY
sed -n 's/^# /# /p' "$WORK/bound"
check_eq "31 streams beside the first are served" "served 31" "$(grep '^served' "$WORK/bound")"
check_eq "  with 200" "status ['HTTP/1.1 200 OK']" "$(grep '^status' "$WORK/bound")"
check_eq "the 33rd stream: 503" "33rd 503" "$(grep '^33rd' "$WORK/bound")"
check_eq "  saying why (too many live streams)" "why True" "$(grep '^why' "$WORK/bound")"
check_eq "every one of the 32 goes on hearing each second" "heard 31" "$(grep '^heard' "$WORK/bound")"
check_eq "three streams closed by their readers make room at once for three more" "reopened 200 200 200" \
	"$(grep '^reopened' "$WORK/bound")"

# the monitor goes away: the stream says so, and goes on when it is back
ps_stop
check_eq "the monitor stops cleanly" 0 "$PS_RC"
sleep 1.5
check_eq "a stopped monitor is an event" '{"running":false}' \
	"$(events "$WORK/main" state | tail -1)"
[ -e "$PICOSNITCH_DIR/live.sock" ] && not_ok "the logger removes live.sock" ||
	ok "the logger removes live.sock"
size=$(stat -c %s "$WORK/main")
ps_start || not_ok "the monitor starts again"
for _ in $(seq 60); do
	tail -c +$((size + 1)) "$WORK/main" >"$WORK/again"
	[ "$(events "$WORK/again" traffic | wc -l)" -ge 1 ] && break
	sleep 0.1
done
check_eq "a monitor started again is read again" '{"running":true}' \
	"$(events "$WORK/again" state | tail -1)"
[ "$(events "$WORK/again" traffic | wc -l)" -ge 1 ] && ok "  with its traffic" ||
	not_ok "  with its traffic"

# the live view in a browser
if [ -x /usr/bin/chromium ] && command -v node >/dev/null &&
	[ -d "$ROOT/web/node_modules/playwright-core" ]; then
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "${line#ok * - }" ;;
		"not ok "*) not_ok "${line#not ok * - }" ;;
		"# exit "*) check_eq "the page's checks ran to their end" "# exit 0" "$line" ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done < <(cd "$WORK" && timeout 120 node "$ROOT/tests/web/live.mjs" "http://localhost:$PORT" \
		"$TOKEN" "$(prog live-talker2)" 127.0.0.1 "$SPORT" 2345 2>&1; echo "# exit $?")
else
	skip "the live view in a browser: needs Debian's chromium, node and web/node_modules"
fi

# the server stops with a stream open
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -H "X-Picosnitch-Token: $TOKEN" "$BASE/api/stop")
check_eq "stop with a stream open: 200" 200 "$code"
wait "$DASH_PID"
check_eq "  and the server ends cleanly" 0 $?
wait "$S_main" 2>/dev/null
ok "  and so does the stream"
check_eq "no sanitizer reports" "" "$(grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error' \
	"$WORK/dash.err" "$WORK/daemon.log" 2>/dev/null | head -3)"
ps_stop
t_done
