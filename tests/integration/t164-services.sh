#!/bin/bash
# Grouping by service: programs started in cgroups this test makes under
# the writable cgroup2 hierarchy (found in /proc/self/mounts: /sys/fs/cgroup
# on a unified layout, /sys/fs/cgroup/unified on a hybrid one), named like a
# systemd unit, a user's unit, a docker container and a flatpak app, send
# known traffic; snitch.db's executables.service and connection_log.service
# say exactly which, and so does the query layer's service dimension
# (through the dash's /api/groups, which `view` shares).
source "$(dirname "$0")/../lib/lib.sh"

need_root
[ -n "$TEST_USER" ] || skip_all "needs a throwaway user (useradd)"
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG" ] && [ -w "$CG/cgroup.procs" ] || skip_all "no writable cgroup2 hierarchy"

HEX=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
TOP=$CG/picosnitch-test-$$.slice
CGROUPS=("$CG/picosnitch-test-x-$$.service" "$TOP/docker-$HEX.scope"
	"$TOP/app-flatpak-org.example.Test-4242.scope" "$TOP/user@4242.service/app.slice/foo.service")
cg_cleanup() {
	for d in "${CGROUPS[@]}"; do
		# a process still in it is moved out first (to the root)
		[ -d "$d" ] && while read -r p; do echo "$p" >"$CG/cgroup.procs"; done <"$d/cgroup.procs"
	done 2>/dev/null
	rmdir "$CG/picosnitch-test-x-$$.service" "$TOP/docker-$HEX.scope" \
		"$TOP/app-flatpak-org.example.Test-4242.scope" "$TOP/user@4242.service/app.slice/foo.service" \
		"$TOP/user@4242.service/app.slice" "$TOP/user@4242.service" "$TOP" 2>/dev/null
}
trap 'cg_cleanup; cleanup' EXIT
for d in "${CGROUPS[@]}"; do mkdir -p "$d" || skip_all "cannot make cgroups under $CG"; done
ok "cgroups made under $CG"

ps_config '{"Desktop notifications": false, "DB write limit (seconds)": 1, "DB text log": true}'
chown -R "$TEST_USER:" "$PICOSNITCH_DIR"
ps_start || { not_ok "the monitor starts"; t_done; exit 1; }

SINK=$(prog svc-sink)
("$SINK" udp-sink 127.0.0.1 "$WORK/sink.port" 1000000 2>/dev/null &)
wait_file "$WORK/sink.port"
SPORT=$(cat "$WORK/sink.port")

# in_cgroup DIR PROG SIZE: PROG sends one datagram of SIZE bytes from DIR
# (and lives 1.5 s more, so the monitor names it while it runs: a process
# gone before it is named has no service, docs/schema.md)
in_cgroup() {
	sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" udp-paced 127.0.0.1 "$3" 1 "$4" 1500' sh \
		"$1" "$2" "$SPORT" "$3" &
}
UNIT=$(prog svc-unit)
DOCKER=$(prog svc-docker)
FLATPAK=$(prog svc-flatpak)
USERSVC=$(prog svc-user)
PLAIN=$(prog svc-plain)
in_cgroup "${CGROUPS[0]}" "$UNIT" 1001
in_cgroup "${CGROUPS[1]}" "$DOCKER" 1002
in_cgroup "${CGROUPS[2]}" "$FLATPAK" 1003
in_cgroup "${CGROUPS[3]}" "$USERSVC" 1004
in_cgroup "$CG" "$PLAIN" 1005
wait_programs() { for p in "$UNIT" "$DOCKER" "$FLATPAK" "$USERSVC" "$PLAIN"; do
	for _ in $(seq 100); do pgrep -f "^$p " >/dev/null || break; sleep 0.1; done; done; }
wait_programs

# service_of EXE: "service sent" per service of its entries in snitch.db
service_of() {
	db "SELECT group_concat(service || ' ' || s, ',') FROM (SELECT service, sum(sent) AS s
	    FROM connection_log WHERE executable = '$1' GROUP BY service ORDER BY service)"
}
for _ in $(seq 100); do
	[ -n "$(service_of "$PLAIN")" ] && [ -n "$(service_of "$USERSVC")" ] && break
	sleep 0.1
done
check_eq "a cgroup named like a unit: its name" "picosnitch-test-x-$$.service 1001" "$(service_of "$UNIT")"
check_eq "a docker container: docker and its id" "docker:0123456789ab 1002" "$(service_of "$DOCKER")"
check_eq "a flatpak app: its id" "flatpak:org.example.Test 1003" "$(service_of "$FLATPAK")"
check_eq "a user's unit: whose, and which" "user@4242.service/foo.service 1004" "$(service_of "$USERSVC")"
check_eq "the root cgroup: none" " 1005" "$(service_of "$PLAIN")"
# conn.log: the service is its 18th and last field
log_service_of() {
	awk -F, -v e="$1" '$4 == e { s[$18] += $2 } END { for (k in s) print k " " s[k] }' \
		"$PICOSNITCH_DIR/conn.log" | sort | paste -sd,
}
check_eq "conn.log: the unit's" "picosnitch-test-x-$$.service 1001" "$(log_service_of "$UNIT")"
check_eq "conn.log: the container's" "docker:0123456789ab 1002" "$(log_service_of "$DOCKER")"
check_eq "conn.log: the user's unit" "user@4242.service/foo.service 1004" "$(log_service_of "$USERSVC")"
check_eq "conn.log: none, an empty last field" " 1005" "$(log_service_of "$PLAIN")"
check_eq "executables.service holds it" "picosnitch-test-x-$$.service" \
	"$(db "SELECT group_concat(DISTINCT service) FROM executables WHERE path = '$UNIT'")"

# the dimension, through the query layer
PORT=$((20000 + RANDOM % 20000))
export PORT
unset HOST
"$PS_BIN" dash --no-browser >"$WORK/dash.out" 2>"$WORK/dash.err" &
DASH_PID=$!
for _ in $(seq 100); do grep -q "serving on" "$WORK/dash.out" && break; sleep 0.05; done
TOKEN=$(cat "$PICOSNITCH_DIR/dash.token" 2>/dev/null)
api() { curl -s -m 20 -H "X-Picosnitch-Token: $TOKEN" "http://127.0.0.1:$PORT$1"; }
groups=$(api "/api/groups?dim=service&sort=value&order=asc&include=executable:$UNIT&include=executable:$DOCKER&include=executable:$FLATPAK&include=executable:$USERSVC&include=executable:$PLAIN" |
	python3 -c '
import json, sys
j = json.load(sys.stdin)
print(";".join("%s=%d" % (r["value"]["text"], r["sent"]) for r in j["rows"]))')
check_eq "the service dimension: each service's bytes" \
	"=1005;docker:0123456789ab=1002;flatpak:org.example.Test=1003;picosnitch-test-x-$$.service=1001;user@4242.service/foo.service=1004" \
	"$groups"
sent=$(api "/api/groups?dim=executable&include=service:docker:0123456789ab" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(";".join("%s=%d" % (r["value"]["text"], r["sent"]) for r in j["rows"]))')
check_eq "filtered by a service: its program" "$DOCKER=1002" "$sent"
svc=$(api "/api/executable?include=executable:$FLATPAK" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(";".join(r["value"]["text"] for r in j["services"]["rows"]))')
check_eq "the executable's page lists its services" "flatpak:org.example.Test" "$svc"
api /api/dims | grep -q '"name":"service"' && ok "the dash offers the dimension" ||
	not_ok "the dash offers the dimension"
curl -s -m 10 -o /dev/null -X POST -H "X-Picosnitch-Token: $TOKEN" "http://127.0.0.1:$PORT/api/stop"
wait "$DASH_PID"

ps_stop
check_eq "the monitor stops cleanly" 0 "$PS_RC"
t_done
