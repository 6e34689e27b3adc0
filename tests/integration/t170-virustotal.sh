#!/bin/bash
# VirusTotal, end to end: the monitor and its logger (the desktop user)
# against a fake VirusTotal on loopback (tests/helpers/fake-vt.py).  New
# programs are looked up; a flagged one is a notification; an unknown one
# is uploaded (read as the user, the bytes checked) and its analysis
# polled; verdicts land in record.json for each program with exact
# content; a hash still waiting when the monitor stops (server errors) is
# kept in vt-queue.json and answered after the restart; the API key is in
# no file, log or command line.  (test-vt covers each failure, the limit,
# the bounds and the upload URL path on their own.)
source "$(dirname "$0")/../lib/lib.sh"

need_root
command -v python3 >/dev/null || skip_all "needs python3 (the fake VirusTotal)"
[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd)"

KEY=t170-secret-key-$$
VT=$WORK/vt
mkdir -p "$VT"
sha() { sha256sum "$1" | cut -d' ' -f1; }
out() { cat "$WORK/daemon.log"; }
# a program of its own content (and so its own hash): the traffic
# generator with bytes after its end
vtprog() {
	local p
	p=$(prog "$1")
	printf 'picosnitch t170 %s\n' "$1" >>"$p"
	echo "$p"
}
# the value record.json holds for (exe, sha256), as sorted JSON
rec() {
	python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["SHA256"].get(sys.argv[2], {}).get(sys.argv[3]), sort_keys=True))' \
		"$PICOSNITCH_DIR/record.json" "$1" "$2" 2>&1
}
# wait_rec EXE SHA: until its value is a verdict (an object), up to 30 s
wait_rec() {
	for _ in $(seq 300); do
		[[ $(rec "$1" "$2") == "{"* ]] && return 0
		sleep 0.1
	done
	return 1
}

C1=$(vtprog vtclean)
C2=$(vtprog vtflagged)
C3=$(vtprog vtupload)
C4=$(vtprog vtlater)
S1=$(sha "$C1") S2=$(sha "$C2") S3=$(sha "$C3") S4=$(sha "$C4")

cat >"$VT/plan.json" <<EOF
{"key": "$KEY", "queued_polls": 1,
 "after_upload": {"stats": {"malicious": 0, "suspicious": 0, "harmless": 1, "undetected": 69}, "date": 1764806500},
 "files": {"$S1": {"stats": {"malicious": 0, "suspicious": 0, "harmless": 60, "undetected": 10}, "date": 1764806400},
           "$S2": {"stats": {"malicious": 12, "suspicious": 1, "harmless": 3, "undetected": 50}, "date": 1764806401},
           "$S4": "503"}}
EOF
python3 "$ROOT/tests/helpers/fake-vt.py" "$VT" &
wait_file "$VT/port" || { not_ok "the fake VirusTotal starts"; t_done; exit 1; }
export PICOSNITCH_VT_URL=http://127.0.0.1:$(cat "$VT/port")
export PICOSNITCH_VT_POLL_MS=200 PICOSNITCH_VT_BACKOFF_MS=200

SINK=$(prog sink)
"$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 &
wait_file "$WORK/sink.port" || { not_ok "the sink starts"; t_done; exit 1; }
PORT=$(cat "$WORK/sink.port")

rm -rf "$PICOSNITCH_DIR"
ps_config "{\"VT API key\": \"$KEY\", \"VT file upload\": true, \"VT request limit (seconds)\": 0,
 \"Desktop notifications\": false, \"DB write limit (seconds)\": 1}"
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }
for c in "$C1" "$C2" "$C3" "$C4"; do "$c" udp-once 127.0.0.1 "$PORT" 100; done

wait_rec "$C1" "$S1"
check_eq "a program VirusTotal knows: its verdict in record.json" \
	"{\"analysis date\": 1764806400, \"harmless\": 60, \"link\": \"https://www.virustotal.com/gui/file/$S1\", \"malicious\": 0, \"suspicious\": 0, \"undetected\": 10}" \
	"$(rec "$C1" "$S1")"
wait_rec "$C2" "$S2"
check_eq "a flagged one: its verdict" \
	"{\"analysis date\": 1764806401, \"harmless\": 3, \"link\": \"https://www.virustotal.com/gui/file/$S2\", \"malicious\": 12, \"suspicious\": 1, \"undetected\": 50}" \
	"$(rec "$C2" "$S2")"
sleep 0.5
check_eq "  and a notification, for it alone" \
	"picosnitch: VirusTotal flags $C2: 12 engines call it malicious, 1 suspicious (SHA-256 ${S2:0:16}…)" \
	"$(out | grep 'VirusTotal flags')"
wait_rec "$C3" "$S3"
check_eq "an unknown one is uploaded and its analysis' verdict recorded" \
	"{\"analysis date\": 1764806500, \"harmless\": 1, \"link\": \"https://www.virustotal.com/gui/file/$S3\", \"malicious\": 0, \"suspicious\": 0, \"undetected\": 69}" \
	"$(rec "$C3" "$S3")"
check_eq "  the server got its exact bytes under its base name" "$S3 $(stat -c %s "$C3") vtupload" \
	"$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["method"] == "POST" and e.get("sha256") == sys.argv[2]: print(e["sha256"], e["size"], e["filename"])' "$VT/requests.log" "$S3")"
check_eq "  every request carried the key" 0 \
	"$(python3 -c 'import json,sys; print(sum(not json.loads(l)["key_ok"] for l in open(sys.argv[1])))' "$VT/requests.log")"
check_eq "exe.log: a line per verdict" 3 \
	"$(grep -cE " virustotal ($S1 $C1|$S2 $C2|$S3 $C3): [0-9]+ malicious" "$PICOSNITCH_DIR/exe.log")"
check_eq "one that fails (503) is still waiting" '"VirusTotal: waiting"' "$(rec "$C4" "$S4")"
LOGGER=$(pgrep -u "$TEST_USER" -f 'picosnitch logger' | head -1)
check_eq "the logger (which asks VirusTotal) runs as the desktop user" "$TEST_UID" \
	"$(stat -c %u "/proc/$LOGGER" 2>/dev/null)"
check_eq "  with no key on its command line" 0 "$(tr '\0' ' ' <"/proc/$LOGGER/cmdline" | grep -c "$KEY")"
ps_stop
check_eq "the monitor exits cleanly" 0 "$PS_RC"
check_match "error.log: the server errors, once, with the count at the end" \
	"VirusTotal had server errors \(HTTP 503 TransientError\): retrying.*VirusTotal: [0-9]+ more requests failed \(VirusTotal had server errors\) until picosnitch stopped" \
	"$(tr '\n' ' ' <"$PICOSNITCH_DIR/error.log")"
# (other programs this machine runs meanwhile may wait there too)
check_eq "vt-queue.json keeps the hash still waiting" "$S4 lookup $C4" \
	"$(python3 -c 'import json,sys; print(" ".join(e["sha256"] + " " + e["stage"] + " " + e["exe"] for e in json.load(open(sys.argv[1]))["queue"] if e["sha256"] == sys.argv[2]))' "$PICOSNITCH_DIR/vt-queue.json" "$S4")"
check_eq "record.json, vt-queue.json and config.json are the user's, 0600" \
	"600 $TEST_UID 600 $TEST_UID 600 $TEST_UID" \
	"$(stat -c '%a %u' "$PICOSNITCH_DIR/record.json" "$PICOSNITCH_DIR/vt-queue.json" "$PICOSNITCH_DIR/config.json" | tr '\n' ' ' | sed 's/ $//')"
check_eq "the key is in no file but config.json, nor in the monitor's output" "config.json" \
	"$(grep -rl -- "$KEY" "$PICOSNITCH_DIR" "$WORK/daemon.log" | xargs -r -n1 basename | sort | paste -sd' ')"

# the next run takes the queue from there, without the program running again
python3 - "$VT/plan.json" "$S4" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["files"][sys.argv[2]] = {"stats": {"malicious": 0, "suspicious": 2, "harmless": 0, "undetected": 9}, "date": 1764806600}
json.dump(p, open(sys.argv[1] + ".tmp", "w"))
EOF
mv "$VT/plan.json.tmp" "$VT/plan.json"
ps_start || { not_ok "the monitor starts again"; t_done; exit 1; }
wait_rec "$C4" "$S4"
check_eq "after a restart the waiting hash is answered" \
	"{\"analysis date\": 1764806600, \"harmless\": 0, \"link\": \"https://www.virustotal.com/gui/file/$S4\", \"malicious\": 0, \"suspicious\": 2, \"undetected\": 9}" \
	"$(rec "$C4" "$S4")"
sleep 0.5
check_eq "  suspicious engines alone flag it too" \
	"picosnitch: VirusTotal flags $C4: 0 engines call it malicious, 2 suspicious (SHA-256 ${S4:0:16}…)" \
	"$(out | grep 'VirusTotal flags')"
check_eq "  and nothing is asked twice" 0 \
	"$(python3 -c 'import json,sys
seen = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["method"] == "GET" and e["path"] in ("/api/v3/files/" + sys.argv[2], "/api/v3/files/" + sys.argv[3]): seen[e["path"]] = seen.get(e["path"], 0) + 1
print(sum(n - 1 for n in seen.values()))' "$VT/requests.log" "$S1" "$S2")"
ps_stop
check_eq "the monitor exits cleanly again" 0 "$PS_RC"
t_done
