#!/bin/bash
# Countries and network owners of remote addresses: `picosnitch lookup`
# against small MaxMind DB files and an owner file made here (with
# libmaxmind-db-writer-perl and the build's own converter), "GeoIP
# database" pointing at a file of the user's (GeoLite2's record shape, a
# broken file), the monthly download from a local HTTP server (this month,
# a 404 then last month, garbage, a gzip of something else, a server too
# slow to wait for: the old file is kept and it says why), the download
# dash starts when the file is old, and the country and network-owner
# dimensions and labels of dash's API.
source "$(dirname "$0")/../lib/lib.sh"

command -v python3 >/dev/null || skip_all "needs python3"
command -v curl >/dev/null || skip_all "needs curl"
perl -MMaxMind::DB::Writer::Tree -e1 2>/dev/null ||
	skip_all "needs libmaxmind-db-writer-perl (writes the test's MaxMind DB files)"
CONVERT=$ROOT/build/geo/asn-convert MKDB=$ROOT/build/tests/mkdb
[ -x "$CONVERT" ] && [ -x "$MKDB" ] || skip_all "build/geo/asn-convert or build/tests/mkdb is not built (make all asan)"
if [ "$(id -u)" = 0 ]; then
	[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd): the commands run as the user"
	AS_USER=(runuser -u "$TEST_USER" --)
else
	AS_USER=()
fi
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$WORK/asan"
PS=$(user_bin)
MKMMDB="perl $ROOT/tests/helpers/mkmmdb.pl"
THIS=$(date -u +%Y-%m)
PREV=$(date -u -d "$(date -u +%Y-%m-15) -1 month" +%Y-%m)

# the offline files: countries as @ip-location-db's (country_code)
export PICOSNITCH_DATA_DIR=$WORK/data
mkdir -p "$PICOSNITCH_DATA_DIR" "$PICOSNITCH_DIR"
$MKMMDB "$PICOSNITCH_DATA_DIR/country.mmdb" country_code 8.8.8.0/24=US 1.1.1.0/24=AU \
	2001:4860::/32=US
cat >"$WORK/asn.csv" <<'CSV'
1.1.1.0,1.1.1.255,13335,"Cloudflare, Inc."
8.8.8.0,8.8.8.255,15169,Google LLC
9.9.9.0,9.9.9.255,19281,"Quad9 ""DNS"""
2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC
5.5.5.0,5.5.5.255,64496,Telefónica
not,a,line
8.8.8.128,8.8.9.10,1,overlapping
CSV
printf '6.6.6.0,6.6.6.255,64497,"Evil\033[31mCorp"\n' >>"$WORK/asn.csv"
check_eq "asn-convert: reads the CSV, says what it dropped" \
	"asn-convert: 1 lines unreadable, 1 overlapping ranges dropped, 1 names cleaned" \
	"$("$CONVERT" "test 1" "$PICOSNITCH_DATA_DIR/asn.bin" "$WORK/asn.csv" 2>&1 >/dev/null)"
chmod -R a+rX "$PICOSNITCH_DATA_DIR"
if [ "$(id -u)" = 0 ]; then chown "$TEST_USER:" "$PICOSNITCH_DIR"; fi

lookup() { "${AS_USER[@]}" env PICOSNITCH_DATA_DIR="$PICOSNITCH_DATA_DIR" "$PS" lookup "$@"; }

check_eq "lookup: country and network owner of each address; local ranges; unknown" \
	"8.8.8.8	US	AS15169 Google LLC
1.1.1.1	AU	AS13335 Cloudflare, Inc.
192.168.1.10	local	local
2001:4860:4860::8888	US	AS15169 Google LLC
9.9.9.9	unknown	AS19281 Quad9 \"DNS\"
5.5.5.5	unknown	AS64496 Telefónica
6.6.6.6	unknown	AS64497 Evil?[31mCorp
7.7.7.7	unknown	unknown
fe80::1%eth0	local	local
100.64.0.1	local	local
::ffff:8.8.8.8	US	AS15169 Google LLC" \
	"$(lookup 8.8.8.8 1.1.1.1 192.168.1.10 2001:4860:4860::8888 9.9.9.9 5.5.5.5 6.6.6.6 7.7.7.7 \
		fe80::1%eth0 100.64.0.1 ::ffff:8.8.8.8 2>&1)"
out=$(lookup 8.8.8.8 'nonsense' $'\e[31m' 2>"$WORK/lookup.err")
rc=$?
check_eq "lookup: something that is not an address is an error naming it (exit 2); the others are answered" \
	"2|8.8.8.8	US	AS15169 Google LLC|picosnitch lookup: \"nonsense\" is not an IP address
picosnitch lookup: \"\\x1b[31m\" is not an IP address" "$rc|$out|$(cat "$WORK/lookup.err")"
if [ "$(id -u)" = 0 ]; then
	# started by root from a checkout in root's 0700 home: the files are
	# opened before root is given up and read as the user
	mkdir -m 0700 "$WORK/rootonly"
	cp "$PICOSNITCH_DATA_DIR"/country.mmdb "$PICOSNITCH_DATA_DIR"/asn.bin "$WORK/rootonly/"
	chmod 0644 "$WORK/rootonly"/*
	check_eq "lookup started by root, the data where only root can reach it: still answered, as the user" \
		"8.8.8.8	US	AS15169 Google LLC|" \
		"$(PICOSNITCH_DATA_DIR=$WORK/rootonly "$PS" lookup 8.8.8.8 2>"$WORK/lookup.err")|$(cat "$WORK/lookup.err")"
	check_eq "  and without the early open the user could not reach them" "Permission denied" \
		"$(runuser -u "$TEST_USER" -- cat "$WORK/rootonly/asn.bin" 2>&1 >/dev/null | sed 's/.*: //')"
fi
lookup >/dev/null 2>"$WORK/lookup.err"
check_eq "lookup without an address: usage error" "2 picosnitch lookup: give one or more addresses" \
	"$? $(cat "$WORK/lookup.err")"

# "GeoIP database": a file of the user's, in GeoLite2's shape
$MKMMDB "$WORK/data/mine.mmdb" iso_code 8.8.8.0/24=DE
chmod a+r "$WORK/data/mine.mmdb"
ps_config "{\"GeoIP database\": \"$WORK/data/mine.mmdb\"}"
check_eq "\"GeoIP database\": a file in GeoLite2's shape (country.iso_code)" "8.8.8.8	DE	AS15169 Google LLC" \
	"$(lookup 8.8.8.8 2>&1)"
head -c 3000 /dev/urandom >"$WORK/data/broken.mmdb"
chmod a+r "$WORK/data/broken.mmdb"
ps_config "{\"GeoIP database\": \"$WORK/data/broken.mmdb\"}"
out=$(lookup 8.8.8.8 2>"$WORK/lookup.err")
check_match "  a broken file: countries unknown, said once, owners still known" \
	"^8.8.8.8	unknown	AS15169 Google LLC\|picosnitch: GeoIP database $WORK/data/broken.mmdb: The MaxMind DB file [^|]*; countries are unknown\|rc 0\$" \
	"$out|$(cat "$WORK/lookup.err")|rc $?"
ps_config '{"GeoIP lookup": false}'
check_eq "  \"GeoIP lookup\": false still answers an explicit lookup" "1.1.1.1	AU	AS13335 Cloudflare, Inc." \
	"$(lookup 1.1.1.1 2>&1)"
rm -f "$PICOSNITCH_DIR/config.json"

# ---- the monthly download, from a server on loopback ----
SRV=$WORK/srv
mkdir -p "$SRV/month" "$SRV/prev" "$SRV/garbage" "$SRV/notmmdb" "$SRV/none" "$SRV/dash"
$MKMMDB "$WORK/nl.mmdb" iso_code 8.8.8.0/24=NL 1.1.1.0/24=NL
$MKMMDB "$WORK/se.mmdb" iso_code 8.8.8.0/24=SE 1.1.1.0/24=SE
$MKMMDB "$WORK/fi.mmdb" iso_code 8.8.8.0/24=FI 1.1.1.0/24=FI
gzip -c "$WORK/nl.mmdb" >"$SRV/month/dbip-country-lite-$THIS.mmdb.gz"
gzip -c "$WORK/se.mmdb" >"$SRV/prev/dbip-country-lite-$PREV.mmdb.gz"
gzip -c "$WORK/fi.mmdb" >"$SRV/dash/dbip-country-lite-$THIS.mmdb.gz"
head -c 5000 /dev/urandom >"$SRV/garbage/dbip-country-lite-$THIS.mmdb.gz"
echo "<html>not a database</html>" | gzip -c >"$SRV/notmmdb/dbip-country-lite-$THIS.mmdb.gz"
cat >"$WORK/server.py" <<'PY'
import http.server, os, sys, time
root = sys.argv[1]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        with open(os.path.join(root, 'requests.log'), 'a') as f:
            f.write(self.path + '\n')
    def do_GET(self):
        if self.path.startswith('/slow/'):
            self.log_message()
            self.send_response(200)
            self.send_header('Content-Length', '10000000')
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b'\x1f')
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return
        super().do_GET()
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
s.daemon_threads = True
with open(sys.argv[2] + '.tmp', 'w') as f:
    f.write(str(s.server_address[1]))
os.rename(sys.argv[2] + '.tmp', sys.argv[2])
s.serve_forever()
PY
python3 "$WORK/server.py" "$SRV" "$WORK/port" &
wait_file "$WORK/port" || { not_ok "the HTTP server starts"; t_done; exit 1; }
URL=http://127.0.0.1:$(cat "$WORK/port")
FILE=$PICOSNITCH_DIR/dbip-country-lite.mmdb

update() { # BASE: geoip-update against $URL/BASE/, stderr and stdout in $WORK/update.out
	"${AS_USER[@]}" env PICOSNITCH_GEOIP_URL="$URL/$1/" PICOSNITCH_GEOIP_TIMEOUT=2 "$PS" geoip-update \
		>"$WORK/update.out" 2>&1
}
sum() { sha256sum "$FILE" 2>/dev/null | cut -c1-64; }

update none
check_eq "nothing for this month or the last (404): exit 1, says so for both, no file" \
	"1|picosnitch: could not update the GeoIP database from $URL/none/ ($THIS: HTTP status 404; the month before: HTTP status 404)|no file" \
	"$?|$(cat "$WORK/update.out")|$([ -e "$FILE" ] && echo file || echo no file)"
update month
check_eq "this month's file: downloaded, unpacked, checked, put in place" \
	"0|GeoIP database updated to DB-IP's file of $THIS ($PICOSNITCH_DIR/dbip-country-lite.mmdb)" \
	"$?|$(cat "$WORK/update.out")"
check_eq "  the user's, 0600" "${TEST_UID:-$(id -u)} 600" "$(stat -c '%u %a' "$FILE")"
check_eq "  and lookups use it before the offline file" "8.8.8.8	NL	AS15169 Google LLC" "$(lookup 8.8.8.8 2>&1)"
update prev
check_eq "this month missing (404): last month's file" \
	"0|GeoIP database updated to DB-IP's file of $PREV ($PICOSNITCH_DIR/dbip-country-lite.mmdb)|SE" \
	"$?|$(cat "$WORK/update.out")|$(lookup 1.1.1.1 2>&1 | cut -f2)"
good=$(sum)
update garbage
check_eq "garbage: exit 1, says why, the old file is kept" \
	"1|picosnitch: could not update the GeoIP database from $URL/garbage/ ($THIS: not a gzip file (5000 bytes))|$good" \
	"$?|$(cat "$WORK/update.out")|$(sum)"
update notmmdb
check_match "a gzip of something else: not a MaxMind DB file, the old file is kept" \
	"^1\|picosnitch: could not update the GeoIP database from .*/notmmdb/ \($THIS: not a MaxMind DB file \(.*\)\)\|$good\$" \
	"$?|$(cat "$WORK/update.out")|$(sum)"
start=$(date +%s)
update slow
rc=$? took=$(($(date +%s) - start))
check_match "a server too slow to wait for: given up, the old file is kept" \
	"^1\|picosnitch: could not update the GeoIP database from .*/slow/ \($THIS: Operation too slow.*\)\|$good\$" \
	"$rc|$(cat "$WORK/update.out")|$(sum)"
check_eq "  within the stall time (2 s here), not the server's 300 s" yes "$([ "$took" -le 10 ] && echo yes || echo "no: $took s")"
check_eq "no temporary file is left behind" "" "$(ls -A "$PICOSNITCH_DIR" | grep tmp)"
"${AS_USER[@]}" env PICOSNITCH_GEOIP_URL= "$PS" geoip-update >"$WORK/update.out" 2>&1
check_eq "PICOSNITCH_GEOIP_URL empty (as \"GeoIP update URL\": \"\"): no download" \
	"1|picosnitch: the monthly GeoIP download is off (\"GeoIP update URL\" is \"\")" "$?|$(cat "$WORK/update.out")"
ps_config "{\"GeoIP update URL\": \"$URL/none/\"}"
[ "$(id -u)" = 0 ] && chown "$TEST_USER:" "$PICOSNITCH_DIR/config.json"
"${AS_USER[@]}" env -u PICOSNITCH_GEOIP_URL PICOSNITCH_GEOIP_TIMEOUT=2 "$PS" geoip-update >"$WORK/update.out" 2>&1
check_match "\"GeoIP update URL\" in config.json is the base URL" "from $URL/none/ " "$(cat "$WORK/update.out")"
rm -f "$PICOSNITCH_DIR/config.json"

# ---- dash: the dimensions, the labels, and the refresh it starts ----
NOW=$(date +%s)
H1=1111111111111111111111111111111111111111111111111111111111111111
{
	row $((NOW - 50)) 100 1000 1 /usr/bin/curl curl curl $H1 /usr/bin/bash bash bash $H1 '' 1000 40000 443 \
		10.0.0.2 8.8.8.8 dns.google 2 6 4026531840
	row $((NOW - 40)) 200 2000 2 /usr/bin/curl curl curl $H1 /usr/bin/bash bash bash $H1 '' 1000 40001 443 \
		10.0.0.2 1.1.1.1 one.one 2 6 4026531840
	row $((NOW - 30)) 400 4000 1 /usr/bin/ssh ssh ssh $H1 /usr/bin/bash bash bash $H1 '' 1000 40002 22 \
		10.0.0.2 192.168.1.10 '' 2 6 4026531840
	row $((NOW - 20)) 800 8000 1 /usr/bin/curl curl curl $H1 /usr/bin/bash bash bash $H1 '' 1000 40003 443 \
		'2001:db8::2' 2001:4860:4860::8888 dns.google 10 6 4026531840
	row $((NOW - 10)) 1600 16000 1 /usr/bin/ping ping ping $H1 /usr/bin/bash bash bash $H1 '' 1000 -1 -1 \
		'' 7.7.7.7 '' 2 1 4026531840
} >"$WORK/rows"
if [ "$(id -u)" = 0 ]; then mkdb_as_user "$PICOSNITCH_DIR/snitch.db" <"$WORK/rows"; else "$MKDB" "$PICOSNITCH_DIR/snitch.db" <"$WORK/rows"; fi ||
	{ not_ok "mkdb writes the test database"; t_done; exit 1; }
# no monthly file: dash uses the offline one, and downloads this month's
rm -f "$FILE"
PORT=$((20000 + RANDOM % 20000))
BASE=http://127.0.0.1:$PORT
dash_start() {
	: >"$WORK/dash.out"	# not in the child: see ps_start
	env PORT=$PORT PICOSNITCH_GEOIP_URL="$URL/${GEOBASE:-dash}/" PICOSNITCH_GEOIP_TIMEOUT=2 "$PS_BIN" dash --no-browser \
		>"$WORK/dash.out" 2>"$WORK/dash.err" &
	DASH_PID=$!
	for _ in $(seq 100); do
		grep -q "serving on" "$WORK/dash.out" && break
		sleep 0.05
	done
	TOKEN=$(sed -n 's/.*?token=\([0-9a-f]*\) .*/\1/p' "$WORK/dash.out" | head -1)
}
dash_stop() { kill -TERM "$DASH_PID"; wait "$DASH_PID"; }
get() { CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Picosnitch-Token: $TOKEN" "$BASE$1"); }
json() { python3 -c "import json,sys; j=json.load(open('$WORK/body')); print($1)"; }

dash_start
check_match "dash starts" "^[0-9a-f]{32}$" "$TOKEN"
get "/api/groups?dim=country&sort=value&order=asc"
check_eq "groups by country: US (two addresses), AU, local, unknown" \
	"200 AU:200:2000:2 US:900:9000:2 local:400:4000:1 unknown:1600:16000:1" \
	"$CODE $(json "' '.join(f\"{r['value']['text']}:{r['sent']}:{r['received']}:{r['flows']}\" for r in j['rows'])")"
get "/api/groups?dim=asn&sort=value&order=asc"
check_eq "groups by network owner" \
	"200 AS13335 Cloudflare, Inc.:200 AS15169 Google LLC:900 local:400 unknown:1600" \
	"$CODE $(json "' '.join(f\"{r['value']['text']}:{r['sent']}\" for r in j['rows'])")"
get "/api/groups?dim=remote_address&include=country:US&sort=value&order=asc"
check_eq "a filter on country; remote addresses carry their country and owner" \
	"2001:4860:4860::8888|US|AS15169 Google LLC 8.8.8.8|US|AS15169 Google LLC" \
	"$(json "' '.join(f\"{r['value']['text']}|{r['value']['country']}|{r['value']['owner']}\" for r in j['rows'])")"
# each lookup reads a few pages of the owner file; after a request the
# dash gives them back (a year of addresses would keep all 12 MB)
check_eq "  after the request, the dash holds none of asn.bin's pages" "mapped 0 kB" \
	"$(awk '/^[0-9a-f]+-[0-9a-f]+ / { f = $6 ~ /\/asn\.bin$/; n += f } f && /^Rss:/ { kb += $2 }
		END { printf "%s %d kB", n ? "mapped" : "not mapped", kb }' "/proc/$DASH_PID/smaps")"
get "/api/groups?dim=executable&exclude=asn:local&exclude=asn:unknown"
check_eq "  and on network owner" "/usr/bin/curl:1100" \
	"$(json "' '.join(f\"{r['value']['text']}:{r['sent']}\" for r in j['rows'])")"
get "/api/series?dim=country&top=2&buckets=1&from=$((NOW - 100))&to=$((NOW + 1))"
check_eq "series by country" "unknown:1600 US:900 other:600" \
	"$(json "' '.join(('other' if l['other'] else l['value']['text']) + ':' + str(l['sent']) for l in j['lines'])")"
get "/api/dims"
check_eq "dims: country and asn available" "True True" \
	"$(json "' '.join(str(d['available']) for d in j if d['name'] in ('country', 'asn'))")"
for _ in $(seq 100); do [ -e "$FILE" ] && break; sleep 0.1; done
check_eq "no monthly file: dash downloaded this month's in the background" \
	"FI" "$(lookup 8.8.8.8 2>&1 | cut -f2)"
get "/api/status"
check_match "status names the data, for the credits" "data/country.mmdb \(picosnitch-test-country_code, [0-9-]+\) .*data/asn.bin \(test 1\)" \
	"$(json "j['geo']['countries'] + ' ' + j['geo']['owners']")"
dash_stop
# a failed refresh is said once, and the old file stays
touch -d "$(date -u -d "$(date -u +%Y-%m-15) -1 month")" "$FILE"
good=$(sum)
GEOBASE=garbage dash_start
for _ in $(seq 100); do grep -q "could not update" "$WORK/dash.err" && break; sleep 0.1; done
sleep 0.5
check_eq "a failed refresh in dash: said once, on stderr; the old file stays" \
	"1 $good" "$(grep -c "could not update the GeoIP database" "$WORK/dash.err") $(sum)"
dash_stop

# ---- view: the labels and the two tabs ----
rm -f "$FILE"	# the offline file's countries again
if command -v tmux >/dev/null; then
	TMUX_SOCK=psgeo$$
	tm() { tmux -L "$TMUX_SOCK" -f /dev/null "$@"; }
	trap 'tm kill-server 2>/dev/null; cleanup' EXIT
	tm new-session -d -s v -x 120 -y 30 \
		"exec env TZ=UTC LANG=C.UTF-8 TERM=screen PICOSNITCH_VIEW_NOW=$((NOW + 1)) $PS_BIN view 2>>$WORK/view.err"
	screen_has() { # WHAT REGEX
		for _ in $(seq 50); do
			tm capture-pane -p -t v | grep -qE "$2" && { ok "$1"; return 0; }
			sleep 0.1
		done
		not_ok "$1"
		tm capture-pane -p -t v | sed 's/^/#   /'
	}
	screen_has "view starts" "Executables"
	for _ in $(seq 13); do tm send-keys -t v Right; done
	screen_has "view: remote addresses after their country" "^US +8\.8\.8\.8 "
	screen_has "  local ranges: local" "^local +192\.168\.1\.10 "
	screen_has "  a public address the data does not know: unknown" "^unknown 7\.7\.7\.7 "
	tm send-keys -t v Right Right
	screen_has "the Countries tab" "^AU +0\.2 "
	screen_has "  US: two addresses summed" "^US +0\.9 "
	tm send-keys -t v Right
	screen_has "the Network Owners tab" "^AS15169 Google LLC +0\.9 "
	screen_has "  with Cloudflare" "^AS13335 Cloudflare, Inc\. +0\.2 "
	tm send-keys -t v q
	tm kill-server 2>/dev/null
else
	skip "view: needs tmux"
fi
ps_config '{"GeoIP lookup": false}'
[ "$(id -u)" = 0 ] && chown "$TEST_USER:" "$PICOSNITCH_DIR/config.json"
dash_start
get "/api/dims"
check_eq "\"GeoIP lookup\": false: country and asn are not available" "False False" \
	"$(json "' '.join(str(d['available']) for d in j if d['name'] in ('country', 'asn'))")"
get "/api/groups?dim=country"
check_eq "  grouping by country is refused (400)" 400 "$CODE"
get "/api/groups?dim=remote_address"
check_eq "  and addresses carry no labels" "False" "$(json "any('country' in r['value'] for r in j['rows'])")"
dash_stop
check_eq "no ASan reports" "" "$(cat "$WORK"/asan.* 2>/dev/null | head -5)"
t_done
