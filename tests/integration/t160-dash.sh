#!/bin/bash
# `picosnitch dash`, the HTTP side: started by root it serves as the owner
# of snitch.db; the JSON API's sums equal what SQLite's connection_log view
# sums; filters (also hostile and SQL-looking values) are values, never
# SQL; and hostile requests are refused with the right status: a Host
# header naming another server (DNS rebinding), methods other than GET,
# bodies, unknown or repeated parameters, path traversal, huge headers, a
# slow client that never finishes; stopping needs the token.
source "$(dirname "$0")/../lib/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (serves as a throwaway user)"
[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd)"
command -v curl >/dev/null || skip_all "needs curl"
command -v python3 >/dev/null || skip_all "needs python3"
MKDB=$ROOT/build/tests/mkdb
[ -x "$MKDB" ] || skip_all "build/tests/mkdb is not built (make asan)"

NOW=1764849620
H1=1111111111111111111111111111111111111111111111111111111111111111
H2=2222222222222222222222222222222222222222222222222222222222222222
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$WORK/asan"
mkdir -p "$PICOSNITCH_DIR"
chown "$TEST_USER:" "$PICOSNITCH_DIR"
{
	row $((NOW - 20)) 1200 34000 2 /usr/bin/curl curl "curl https://example.org" $H1 /usr/bin/bash \
		bash bash $H2 /usr/lib/systemd/systemd "$TEST_UID" 40000 443 198.51.100.1 203.0.113.5 \
		org.example 2 6 4026531840
	row $((NOW - 10)) 2000 900 1 '/usr/bin/\xe7\x81\xab\xe7\x8b\x90' \
		'\xe7\x81\xab\xe7\x8b\x90\xe6\xb5\x8f\xe8\xa7\x88\xe5\x99\xa8' 'fox' $H2 /usr/bin/bash bash \
		bash $H2 /usr/lib/systemd/systemd 0 40001 53 198.51.100.1 203.0.113.53 '' 10 17 4026532000
	row $((NOW - 3620)) 77 88 1 '/opt/evil\npath\xff' "x' OR 1=1--" x $H1 /usr/bin/bash bash bash \
		$H2 '' 4000000000 -1 -1 '' '' '' 0 0 4026531840
	row $((NOW - 129600)) 5000000 10000000 1 /usr/bin/rsync rsync 'rsync -a /home backup:' $H1 \
		/usr/sbin/cron cron cron $H2 /usr/lib/systemd/systemd "$TEST_UID" 40002 22 198.51.100.1 \
		203.0.113.7 net.backup 2 6 4026531840
} | mkdb_as_user "$PICOSNITCH_DIR/snitch.db" ||
	{ not_ok "mkdb writes the test database"; t_done; exit 1; }
# what VirusTotal said of H1 (record.json, as the logger writes it)
printf '{"SHA256": {"/usr/bin/curl": {"%s": {"analysis date": 1764806400, "harmless": 60, "malicious": 2, "suspicious": 1, "undetected": 10}}}}\n' \
	$H1 >"$PICOSNITCH_DIR/record.json"
chown "$TEST_USER:" "$PICOSNITCH_DIR/record.json"
chmod 0600 "$PICOSNITCH_DIR/record.json"

PORT=$((20000 + RANDOM % 20000))
export PORT
unset HOST
BASE=http://127.0.0.1:$PORT

# dash_start [VAR=value...]: the server in the background, until it serves
dash_start() {
	: >"$WORK/dash.out"	# not in the child: see ps_start
	env "$@" "$PS_BIN" dash >"$WORK/dash.out" 2>"$WORK/dash.err" &
	DASH_PID=$!
	for _ in $(seq 100); do
		grep -q "serving on" "$WORK/dash.out" && return 0
		kill -0 "$DASH_PID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}
# get PATH [curl options...]: the body; the status in $CODE.  With the
# access token in its header, as scripts send it (NOAUTH=1: without).
get() {
	local path=$1 auth=()
	shift
	[ -z "${NOAUTH:-}" ] && auth=(-H "X-Picosnitch-Token: $TOKEN")
	CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' "${auth[@]}" "$@" "$BASE$path")
	cat "$WORK/body"
}
token_of() { sed -n 's/.*?token=\([0-9a-f]*\) .*/\1/p' "$WORK/dash.out" | head -1; }
# json EXPR: evaluate a Python expression over the last body (as j)
json() { python3 -c "import json,sys; j=json.load(open('$WORK/body')); print($1)"; }
sq() { sqlite3 -batch "$PICOSNITCH_DIR/snitch.db" "$1"; }

dash_start || { not_ok "dash starts"; sed 's/^/#   /' "$WORK/dash.err"; t_done; exit 1; }
ok "dash starts and says where it serves"
TOKEN=$(token_of)
check_match "  its access token: 128 random bits" "^[0-9a-f]{32}$" "$TOKEN"
check_eq "  it prints the address, with the token" \
	"picosnitch dash: serving on http://localhost:$PORT/?token=$TOKEN (Ctrl-C stops it)" \
	"$(head -1 "$WORK/dash.out")"
check_eq "  the token is kept in the state directory, for the user only" \
	"$TOKEN 600 $TEST_UID" "$(cat "$PICOSNITCH_DIR/dash.token") $(stat -c '%a %u' "$PICOSNITCH_DIR/dash.token")"
check_eq "  it runs as the owner of snitch.db, not root" "$TEST_UID" "$(ps -o uid= -p "$DASH_PID" | tr -d ' ')"

# ---- the API against SQLite's own sums ----
get "/api/groups?dim=executable&sort=value&order=asc" >/dev/null
check_eq "groups: 200" 200 "$CODE"
check_eq "groups by executable: every value (its exact bytes) with its sums" \
	"$(sq "SELECT hex(executable) || '|' || sum(sent) || '|' || sum(received) || '|' || sum(flows)
	       FROM connection_log GROUP BY executable ORDER BY CAST(executable AS BLOB)")" \
	"$(json "'\\n'.join((r['value'].get('hex') or r['value']['text'].encode().hex()).upper() + f\"|{r['sent']}|{r['received']}|{r['flows']}\" for r in j['rows'])")"
check_eq "  totals over all groups" "$(sq "SELECT sum(sent) || ' ' || sum(received) || ' ' || count(DISTINCT executable) FROM connection_log")" \
	"$(json "f\"{j['sent']} {j['received']} {j['groups']}\"")"
get "/api/groups?dim=user&from=$((NOW - 86400))&to=$((NOW + 1))" >/dev/null
check_eq "groups by user in the last day" "0:2000:900 $TEST_UID:1200:34000 4000000000:77:88" \
	"$(json "' '.join(f\"{r['value']['num']}:{r['sent']}:{r['received']}\" for r in sorted(j['rows'], key=lambda r: r['value']['num']))")"
get "/api/groups?dim=protocol" >/dev/null
check_eq "groups by protocol" "|77 tcp|5001200 udp6|2000" \
	"$(json "' '.join(f\"{r['value']['text']}|{r['sent']}\" for r in sorted(j['rows'], key=lambda r: r['value']['text']))")"
get "/api/series?dim=executable&from=$((NOW - 4000))&to=$((NOW))&buckets=4&top=2" >/dev/null
check_eq "series: 4 buckets of 1000 s" "$((NOW - 4000)) $((NOW - 3000)) $((NOW - 2000)) $((NOW - 1000)) $NOW" \
	"$(json "' '.join(map(str, j['bucket_starts']))")"
check_eq "  the two busiest lines (by sent + received) and the rest, per bucket" \
	"/usr/bin/curl:0,0,0,1200 /usr/bin/火狐:0,0,0,2000 other:77,0,0,0" \
	"$(json "' '.join(('other' if l['other'] else l['value']['text']) + ':' + ','.join(map(str, l['sent_points'])) for l in j['lines'])")"
get "/api/distinct?dim=remote_port" >/dev/null
check_eq "distinct remote ports, in order" "-1 22 53 443" "$(json "' '.join(v['text'] for v in j['values'])")"
get "/api/status" >/dev/null
check_eq "status: the database and its span; no monitor" "ok $((NOW - 129600)) $((NOW - 10)) None" \
	"$(json "f\"{j['database']} {j['first']} {j['last']} {j['monitor_pid']}\"")"
get "/api/dims" >/dev/null
check_eq "dims: the query layer's dimensions" 23 "$(json "len(j)")"
check_eq "dims: host only in the fleet view (dash --sql)" "False" \
	"$(json "' '.join(str(d['available']) for d in j if d['name'] == 'host')")"
get "/api/groups?dim=host" >/dev/null
check_eq "groups by host outside the fleet view: refused" 400 "$CODE"

get "/api/executable?include=executable:/usr/bin/curl" >/dev/null
check_eq "executable: first and last seen, totals, hashes with their times" \
	"$((NOW - 20)) $((NOW - 20)) 1200 34000 2 $H1:$((NOW - 20)):$((NOW - 20))" \
	"$(json "f\"{j['first']} {j['last']} {j['sent']} {j['received']} {j['flows']} \" + ' '.join(f\"{h['value']['text']}:{h['first']}:{h['last']}\" for h in j['hashes'])")"
check_eq "  what it talked to" "203.0.113.5|443|org.example|/usr/bin/bash|$TEST_USER" \
	"$(json "'|'.join([j['remote_addresses']['rows'][0]['value']['text'], j['remote_ports']['rows'][0]['value']['text'], j['domains']['rows'][0]['value']['text'], j['parents']['rows'][0]['value']['text'], j['users']['rows'][0]['value']['user']])")"
check_eq "  each hash with what VirusTotal said of it (record.json) and a link" \
	"{\"flagged\": true, \"link\": \"https://www.virustotal.com/gui/file/$H1\", \"text\": \"VirusTotal: 2 malicious, 1 suspicious of 73 engines, 2025-12-04\"}" \
	"$(json "json.dumps(j['hashes'][0]['virustotal'], sort_keys=True)")"
get "/api/executable?include=executable:/usr/bin/nothing" >/dev/null
check_eq "  an executable with no entries: 404" 404 "$CODE"
get "/api/executable?include=name:curl" >/dev/null
check_eq "  without include=executable:PATH: 400" 400 "$CODE"

# ---- filters are values ----
get "/api/groups?dim=executable&include=name:x'%20OR%201=1--" >/dev/null
check_eq "an SQL-looking filter value is a value: it matches the one entry with that name" \
	"/opt/evil|77" "$(json "' '.join(r['value']['text'].split(chr(10))[0] + '|' + str(r['sent']) for r in j['rows'])")"
get "/api/groups?dim=executable&include=name:'%20OR%20''='" >/dev/null
check_eq "  and one that matches nothing gives nothing" "0" "$(json "j['groups']")"
get "/api/groups?dim=executable&include_hex=executable:2f6f70742f6576696c0a70617468ff" >/dev/null
check_eq "include_hex: the exact bytes of a value that is not UTF-8" "77 2f6f70742f6576696c0a70617468ff" \
	"$(json "f\"{j['sent']} {j['rows'][0]['value']['hex']}\"")"
get "/api/groups?dim=name&exclude=executable:/usr/bin/rsync&exclude=uid:0" >/dev/null
check_eq "an unknown dimension in a filter: 400" 400 "$CODE"
check_match "  naming it" "unknown dimension 'uid'" "$(cat "$WORK/body")"
get "/api/groups?dim=name&exclude=executable:/usr/bin/rsync&exclude=user:0" >/dev/null
check_eq "two excludes" "curl x' OR 1=1--" "$(json "' '.join(r['value']['text'] for r in j['rows'])")"
check_eq "  the database is untouched" 4 "$(sq "SELECT count(*) FROM connections")"

# ---- bad parameters ----
bad() { # WHAT QUERY PATTERN
	get "$2" >/dev/null
	check_eq "$1: 400" 400 "$CODE"
	check_match "  $1: says why" "$3" "$(cat "$WORK/body")"
}
bad "an unknown parameter" "/api/groups?dim=executable&colour=red" "unknown parameter 'colour'"
bad "no dimension" "/api/groups" "parameter 'dim' is needed"
bad "an unknown dimension" "/api/groups?dim=%3Bdrop" "unknown dimension ';drop'"
bad "a parameter twice" "/api/groups?dim=name&dim=executable" "'dim' given more than once"
bad "a time that is not a number" "/api/groups?dim=name&from=yesterday" "'from': 'yesterday' is not an integer"
bad "a limit out of range" "/api/groups?dim=name&limit=0" "'limit': '0' is not an integer from 1"
bad "a huge number" "/api/series?dim=name&buckets=99999999999999999999999" "'buckets'"
bad "a bad sort" "/api/groups?dim=name&sort=random" "'sort': 'random' is not one of"
bad "hex that is not hex" "/api/groups?dim=name&include_hex=name:zz" "not hex digits"
bad "a filter without a dimension" "/api/groups?dim=name&include=curl" "takes DIMENSION:VALUE"
bad "a NUL in a parameter name" "/api/groups?dim=name&a%00b=1" "unknown parameter 'a.+x00b'"
long=$(head -c 5000 /dev/zero | tr '\0' a)
bad "a parameter too long" "/api/groups?dim=name&include=name:$long" "longer than 4096 bytes"
get "/api/nothing" >/dev/null
check_eq "an unknown endpoint: 404" 404 "$CODE"

# ---- the access token ----
NOAUTH=1 get "/api/status" >/dev/null
check_eq "without the token: 403 (other users of this machine cannot read it)" 403 "$CODE"
NOAUTH=1 get "/" >/dev/null
check_eq "  the page without it: 403" 403 "$CODE"
check_match "  saying where the key is" "Open the address that <code>picosnitch dash</code> printed" "$(cat "$WORK/body")"
NOAUTH=1 get "/api/status" -H "X-Picosnitch-Token: 0123456789abcdef0123456789abcdef" >/dev/null
check_eq "  another token: 403" 403 "$CODE"
# the token with its last digit changed (to 1 if it was 0, else to 0)
[ "${TOKEN: -1}" = 0 ] && other=${TOKEN%?}1 || other=${TOKEN%?}0
NOAUTH=1 get "/api/status" -b "picosnitch_token=$other" >/dev/null
check_eq "  another cookie: 403" 403 "$CODE"
headers=$(curl -s -D - -o /dev/null "$BASE/?token=$TOKEN" | tr -d '\r')
check_match "the printed address sets an HttpOnly, SameSite=Strict cookie" \
	"Set-Cookie: picosnitch_token=$TOKEN; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000" "$headers"
check_match "  and sends the browser on to / (the token leaves the address bar)" "HTTP/1.1 303.*Location: /" \
	"$(echo $headers)"
check_match "  with the same security headers as every answer" \
	"Content-Security-Policy: default-src 'none'.*X-Frame-Options: DENY.*Cache-Control: no-store" "$(echo $headers)"
NOAUTH=1 get "/?token=0123456789abcdef0123456789abcdef" >/dev/null
check_eq "  a wrong token there: 403" 403 "$CODE"
NOAUTH=1 get "/api/status" -b "picosnitch_token=$TOKEN" >/dev/null
check_eq "the cookie opens the API" 200 "$CODE"
NOAUTH=1 get "/app.js" -b "picosnitch_token=$TOKEN" >/dev/null
check_eq "  and the script" 200 "$CODE"
get "/api/status" -H "Sec-Fetch-Site: cross-site" >/dev/null
check_eq "a request a browser marks cross-site: 403, even with the token" 403 "$CODE"
get "/api/status" -H "Sec-Fetch-Site: same-site" >/dev/null
check_eq "  same-site (another port of localhost): 403" 403 "$CODE"
get "/api/status" -H "Sec-Fetch-Site: same-origin" >/dev/null
check_eq "  same-origin: 200" 200 "$CODE"
get "/api/status" -H "Host: LOCALHOST:$PORT" >/dev/null
check_eq "the Host header's case does not matter" 200 "$CODE"

# ---- hostile requests ----
get "/api/status" -H "Host: evil.example:$PORT" >/dev/null
check_eq "a Host header naming another server (DNS rebinding): 421" 421 "$CODE"
get "/" -H "Host: localhost:$PORT" >/dev/null
check_eq "  localhost:PORT is this server" 200 "$CODE"
get "/api/status" -H "Host:" >/dev/null
check_eq "  no Host header: 421" 421 "$CODE"
headers=$(curl -s -D - -o /dev/null -H "X-Picosnitch-Token: $TOKEN" "$BASE/api/status")
check_match "every answer has a strict Content-Security-Policy" \
	"Content-Security-Policy: default-src 'none'; script-src 'self'" "$headers"
check_match "  nosniff and no framing" "X-Content-Type-Options: nosniff.*X-Frame-Options: DENY" "$(echo $headers)"
check_eq "  and no CORS header, even when asked" "" \
	"$(curl -s -D - -o /dev/null -H "X-Picosnitch-Token: $TOKEN" -H "Origin: http://evil.example" "$BASE/api/status" | grep -i '^access-control')"
get "/api/groups?dim=name" -X POST >/dev/null
check_eq "POST: 405" 405 "$CODE"
get "/api/groups?dim=name" -X DELETE >/dev/null
check_eq "DELETE: 405" 405 "$CODE"
get "/api/groups?dim=name" --data-binary "x=1" -X GET >/dev/null
check_eq "a body: 413" 413 "$CODE"
head -c 300000 /dev/zero >"$WORK/big.body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Picosnitch-Token: $TOKEN" --data-binary @"$WORK/big.body" "$BASE/api/status")
check_match "  a large body: the connection is closed (or 413)" "^(000|413)$" "$code"
get "/../../etc/passwd" --path-as-is >/dev/null
check_eq "path traversal: 404" 404 "$CODE"
get "/api/../../etc/passwd" --path-as-is >/dev/null
check_eq "  through /api/: 404" 404 "$CODE"
big=$(head -c 100000 /dev/zero | tr '\0' b)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Picosnitch-Token: $TOKEN" -H "X-Big: $big" "$BASE/api/status")
check_match "a 100 kB header is refused (431 or the connection closed)" "^(431|000)$" "$code"
# a client that sends half a request and waits must not hold up others
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nX-Slow: ' "$PORT" >&8
get "/api/status" --max-time 5 >/dev/null
check_eq "a slow client does not hold up the others" 200 "$CODE"
exec 8<&-

# ---- stopping ----
get "/api/stop" >/dev/null
check_eq "stop with GET: 405" 405 "$CODE"
NOAUTH=1 get "/api/stop" -X POST >/dev/null
check_eq "stop without the token: 403" 403 "$CODE"
NOAUTH=1 get "/api/stop" -X POST -H "X-Picosnitch-Token: 0123456789abcdef0123456789abcdef" >/dev/null
check_eq "stop with another token: 403" 403 "$CODE"
NOAUTH=1 get "/api/stop" -X POST -b "picosnitch_token=$TOKEN" >/dev/null
check_eq "stop with the cookie but not the header: 403" 403 "$CODE"
get "/" >/dev/null
check_match "  and in the page, for its own scripts" "<meta name=\"picosnitch-token\" content=\"$TOKEN\">" \
	"$(cat "$WORK/body")"
get "/api/stop" -X POST -H "X-Picosnitch-Token: $TOKEN" >/dev/null
check_eq "stop with the token: 200" 200 "$CODE"
wait "$DASH_PID"
check_eq "  and the server exits 0" 0 $?
check_eq "  having said nothing on stderr" "" "$(grep -v '^#' "$WORK/dash.err")"

# ---- the desktop's browser ----
mkdir -p "$WORK/fakebin" && chmod 0755 "$WORK/fakebin"
cat >"$WORK/fakebin/xdg-open" <<EOF
#!/bin/sh
echo "\$(id -u) \$*" >>"$WORK/opened"
EOF
chmod 0755 "$WORK/fakebin/xdg-open"
touch "$WORK/opened" && chmod 0666 "$WORK/opened"
dash_start PATH="$WORK/fakebin:$PATH" DISPLAY=:99 || not_ok "dash starts with a desktop session"
for _ in $(seq 50); do [ -s "$WORK/opened" ] && break; sleep 0.1; done
check_eq "with a desktop session it opens the page with xdg-open, as the user (not root)" \
	"$TEST_UID http://localhost:$PORT/?token=$TOKEN" "$(cat "$WORK/opened")"
check_eq "  with the same token as before (bookmarks keep working)" "$TOKEN" "$(token_of)"
kill -TERM "$DASH_PID"; wait "$DASH_PID"
: >"$WORK/opened"
: >"$WORK/dash.out"	# not in the child: see ps_start
env PATH="$WORK/fakebin:$PATH" DISPLAY=:99 "$PS_BIN" dash --no-browser >"$WORK/dash.out" 2>"$WORK/dash.err" &
DASH_PID=$!
for _ in $(seq 100); do grep -q "serving on" "$WORK/dash.out" && break; sleep 0.05; done
sleep 0.5
check_eq "--no-browser: it does not" "" "$(cat "$WORK/opened")"
kill -TERM "$DASH_PID"; wait "$DASH_PID"
dash_start PATH="$WORK/fakebin:$PATH" DISPLAY= WAYLAND_DISPLAY= || not_ok "dash starts"
sleep 0.5
check_eq "without a desktop session it does not either" "" "$(cat "$WORK/opened")"
kill -TERM "$DASH_PID"; wait "$DASH_PID"
"$PS_BIN" dash --browser >/dev/null 2>"$WORK/err"
check_eq "an unknown option: exit 2" 2 $?

# ---- HOST, PORT and a missing database ----
env PORT=notaport "$PS_BIN" dash >/dev/null 2>"$WORK/err"
check_eq "a PORT that is not a port: exit 1" 1 $?
check_match "  with a message" "PORT=notaport is not a port number" "$(cat "$WORK/err")"
mkdir -p "$WORK/empty" && chown "$TEST_USER:" "$WORK/empty"
dash_start HOST=0.0.0.0 PICOSNITCH_DIR="$WORK/empty" || not_ok "dash starts on 0.0.0.0"
TOKEN=$(token_of)
check_match "a HOST that is not loopback is served with a warning" \
	"not a loopback address: anyone who can reach it can read" "$(cat "$WORK/dash.err")"
get "/api/status" -H "Host: 0.0.0.0:$PORT" >/dev/null
check_match "  no database yet: status says so" "\"database\":\"no database at .*snitch.db\"|no such file|does not exist" "$(cat "$WORK/body")"
get "/api/groups?dim=name" -H "Host: 0.0.0.0:$PORT" >/dev/null
check_eq "  and the API answers 503" 503 "$CODE"
kill -TERM "$DASH_PID"
wait "$DASH_PID"
check_eq "SIGTERM stops it: exit 0" 0 $?

reports=$(cat "$WORK"/asan.* 2>/dev/null | head -40)
check_eq "no ASan/UBSan reports" "" "$reports"
t_done
