#!/bin/bash
# A bad config.json stops the monitor before it starts anything, with a
# message that names the key (or the line and column), and the file is left
# as it was.  A good one gets its missing keys added, unknown keys kept.
source "$(dirname "$0")/../lib/lib.sh"

need_root

# refused CONFIG-TEXT EXPECTED-MESSAGE DESCRIPTION
refused() {
	rm -rf "$PICOSNITCH_DIR"
	mkdir -p "$PICOSNITCH_DIR"
	printf '%s' "$1" >"$PICOSNITCH_DIR/config.json"
	local out rc
	out=$(timeout 20 "$PS_BIN" start-no-daemon 2>&1)
	rc=$?
	check_eq "$3: exit status (78: configuration error)" 78 "$rc"
	check_match "$3: message" "$2" "$out"
	check_eq "$3: config.json untouched" "$1" "$(cat "$PICOSNITCH_DIR/config.json")"
	check_eq "$3: nothing logged" "" "$(ls "$PICOSNITCH_DIR" | grep -v config.json)"
}

refused '{"DB write limit (seconds)": 1,
 "DB text log": tru}' \
	'error: config.json line 2 column 19: invalid token near .tru. \(in /tmp/' \
	"malformed JSON"
refused '{"DB write limit (seconds)": "10"}' \
	'error: config.json: "DB write limit \(seconds\)" must be an integer, found a string "10"' \
	"a string for an integer"
refused '{"DB sql log": "yes"}' \
	'error: config.json: "DB sql log" must be true or false, found a string "yes"' \
	"a string for a boolean"
refused '{"Perf ring buffer (pages)": 3}' \
	'error: config.json: "Perf ring buffer \(pages\)" is 3, it must be a power of two' \
	"a ring buffer size that is not a power of two"
refused '{"DB write limit (seconds)": -5}' \
	'error: config.json: "DB write limit \(seconds\)" is -5, it must be between 1 and 86400' \
	"a negative write limit"

refused '{"Log ignore": ["com.example", "not a rule!"]}' \
	'error: config.json: "Log ignore" item 2, "not a rule!", is not a SHA-256 hash, an address or subnet' \
	"a Log ignore item that is no rule"
refused '{"Log ignore": [443, 70000]}' \
	'error: config.json: "Log ignore" item 2: port 70000 is outside 0-65535' \
	"a Log ignore port out of range"
refused '{"Log ignore": ["10.0.0.0/33"]}' \
	'error: config.json: "Log ignore" item 1, "10.0.0.0/33", is not' \
	"a subnet with a bad prefix"
refused '["DB sql log"]' \
	'error: config.json' \
	"a list instead of an object"

# a good file: defaults are added, unknown keys kept
rm -rf "$PICOSNITCH_DIR"
ps_config '{"DB write limit (seconds)": 2, "my note": "keep me"}'
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
ps_stop
check_eq "the monitor stops cleanly" 0 "$PS_RC"
cfg=$(cat "$PICOSNITCH_DIR/config.json")
check_match "a given value is kept" '"DB write limit \(seconds\)": 2' "$cfg"
check_match "an unknown key is kept" '"my note": "keep me"' "$cfg"
check_match "missing keys are added with defaults" '"Log ports": true' "$cfg"
check_eq "all 25 keys (the 20 of the brief, GeoIP database, GeoIP update URL, Metrics top executables, Pending entries, Pending memory) and the unknown one are there" 26 \
	"$(grep -c '^  "' "$PICOSNITCH_DIR/config.json")"
t_done
