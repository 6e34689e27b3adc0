#!/bin/bash
# The pages of `picosnitch dash` in Debian's Chromium, driven by
# playwright-core (tests/web/dash.mjs): the charts' data equals the query
# layer's sums, every control changes what is shown, hostile names stay
# text, deep links restore the view, phone width, no console errors.
source "$(dirname "$0")/../lib/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (serves as a throwaway user)"
[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd)"
[ -x /usr/bin/chromium ] || skip_all "needs Debian's chromium (apt install chromium)"
command -v node >/dev/null || skip_all "needs node"
[ -d "$ROOT/web/node_modules/playwright-core" ] || skip_all "web/node_modules is not installed (make)"
MKDB=$ROOT/build/tests/mkdb
[ -x "$MKDB" ] || skip_all "build/tests/mkdb is not built (make asan)"

NOW=$(date +%s)
H1=1111111111111111111111111111111111111111111111111111111111111111
H2=2222222222222222222222222222222222222222222222222222222222222222
mkdir -p "$PICOSNITCH_DIR"
chown "$TEST_USER:" "$PICOSNITCH_DIR"
{
	row $((NOW - 20)) 1200 34000 2 /usr/bin/curl curl "curl https://example.org" $H1 /usr/bin/bash \
		bash bash $H2 /usr/lib/systemd/systemd "$TEST_UID" 40000 443 198.51.100.1 203.0.113.5 \
		org.example 2 6 4026531840
	row $((NOW - 10)) 2000 900 1 /usr/bin/firefox firefox 'firefox' $H2 /usr/bin/bash bash \
		bash $H2 /usr/lib/systemd/systemd 0 40001 53 198.51.100.1 203.0.113.53 '' 10 17 4026532000
	row $((NOW - 1800)) 77 88 1 '/opt/evil\npath\xff<script>alert(1)</script>' "evil" x $H1 \
		/usr/bin/bash bash bash $H2 '' 4000000000 -1 -1 '' '' '' 0 0 4026531840
	row $((NOW - 7200)) 5000000 10000000 1 /usr/bin/rsync rsync \
		'rsync -a --delete --exclude=.cache /home/alice/ backup.example.org:/srv/backups/alice/' $H1 \
		/usr/sbin/cron cron cron $H2 /usr/lib/systemd/systemd "$TEST_UID" 40002 22 198.51.100.1 \
		203.0.113.7 net.backup 2 6 4026531840
} | mkdb_as_user "$PICOSNITCH_DIR/snitch.db" ||
	{ not_ok "mkdb writes the test database"; t_done; exit 1; }

# browse MODE CONFIG: a server with that config.json, and the browser's
# checks (their TAP renumbered into this script's)
browse() {
	local port=$((20000 + RANDOM % 20000)) line
	printf '%s\n' "$2" >"$PICOSNITCH_DIR/config.json"
	chown "$TEST_USER:" "$PICOSNITCH_DIR/config.json"
	: >"$WORK/dash.out"	# not in the child: see ps_start
	PORT=$port "$PS_BIN" dash >"$WORK/dash.out" 2>"$WORK/dash.err" &
	DASH_PID=$!
	for _ in $(seq 100); do grep -q "serving on" "$WORK/dash.out" && break; sleep 0.05; done
	grep -q "serving on" "$WORK/dash.out" || { not_ok "dash starts"; cat "$WORK/dash.err"; return; }
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "${line#ok * - }" ;;
		"not ok "*) not_ok "${line#not ok * - }" ;;
		"# exit "*) check_eq "the page's checks ($1) ran to their end" "# exit 0" "$line" ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done < <(cd "$WORK" && timeout 300 node "$ROOT/tests/web/dash.mjs" "http://localhost:$port" \
		"$(cat "$PICOSNITCH_DIR/dash.token")" "$1" 2>&1; echo "# exit $?")
	kill -TERM "$DASH_PID"
	wait "$DASH_PID"
	check_eq "the server stops on SIGTERM" 0 $?
}

browse main '{"Dash theme": "darkly", "Dash scroll zoom": true}'
browse plain '{"Dash theme": "", "Dash scroll zoom": false}'
browse plain '{"Dash theme": "<script>", "Dash scroll zoom": false}'
check_match "an unknown theme is a warning, and nothing of it reaches the page" \
	"\"Dash theme\" <script> is not one it knows" "$(cat "$WORK/dash.err")"
t_done
