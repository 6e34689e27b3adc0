#!/bin/bash
# Throwaway PostgreSQL 15 and MariaDB 10.11 servers for the "DB sql server"
# tests: started in a directory the test made, on 127.0.0.1 and a unix
# socket there, without systemd; stopped by their own pid.
#
#   sqlservers.sh pg-start DIR       prints "PORT"; data in DIR/pg
#   sqlservers.sh pg-stop DIR
#   sqlservers.sh pg-sql DIR SQL     as the superuser (database snitch)
#   sqlservers.sh my-start DIR       prints "PORT"; data in DIR/my
#   sqlservers.sh my-stop DIR        (SIGTERM, wait)
#   sqlservers.sh my-kill DIR        (SIGKILL)
#   sqlservers.sh my-sql DIR SQL     as root (database snitch)
#   sqlservers.sh why-not pg|my      why the server cannot run here ("" if it can)
#
# Tests run without flushing to disk at each commit (PG_FSYNC=on and
# MY_FLUSH=1 restore the servers' defaults; the benchmark sets them).
# Both get a database `snitch`, the tables of `picosnitch sql-schema` when
# SCHEMA_SQL names a file, a writer `pswriter` (password `pw-writer`) with
# exactly the rights the README documents, and a reader `psreader`
# (`pw-reader`) with SELECT.  Exit status 0 on success.
set -u
PG_BIN=/usr/lib/postgresql/15/bin

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

why_not() {
	[ "$(id -u)" = 0 ] || { echo "needs root (servers run as postgres / root)"; return; }
	case $1 in
	pg)
		[ -x $PG_BIN/initdb ] || { echo "postgresql-15 is not installed"; return; }
		id postgres >/dev/null 2>&1 || { echo "no postgres user"; return; } ;;
	my)
		command -v mariadbd >/dev/null || { echo "mariadb-server is not installed"; return; }
		command -v mariadb-install-db >/dev/null || { echo "mariadb-install-db is missing"; return; } ;;
	esac
	echo ""
}

# pg_run CMD...: as the postgres user, from / (the caller's directory, e.g.
# root's 0700 home on a fresh Debian, is not postgres's to enter, and psql
# says so in the output the tests compare)
pg_run() { (cd / && runuser -u postgres -- "$@"); }

pg_sql() { # DIR SQL
	pg_run $PG_BIN/../bin/psql -X -q -v ON_ERROR_STOP=1 -h "$1/pg" \
		-p "$(cat "$1/pg/port")" -U postgres -d snitch -At -c "$2" 2>&1
}

pg_start() { # DIR
	local d=$1/pg port
	if [ ! -d "$d/data" ]; then
		mkdir -p "$d" && chown postgres "$d" && chmod 0700 "$d" || return 1
		echo "pw-admin" >"$d/pwfile" && chown postgres "$d/pwfile"
		# local (socket) connections: trust, for the test's own admin work;
		# TCP: passwords (scram), as a real server would check them
		pg_run $PG_BIN/initdb -D "$d/data" -A trust --auth-host=scram-sha-256 \
			-U postgres -E UTF8 --locale=C.UTF-8 >"$d/initdb.log" 2>&1 || return 1
		port=$(free_port) || return 1
		echo "$port" >"$d/port"
	fi
	port=$(cat "$d/port")
	pg_run $PG_BIN/pg_ctl -D "$d/data" -l "$d/log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $d -c fsync=${PG_FSYNC:-off}" start >/dev/null 2>&1 || {
		tail -5 "$d/log" >&2
		return 1
	}
	if [ ! -e "$d/made" ]; then
		pg_run $PG_BIN/psql -X -q -h "$d" -p "$port" -U postgres -d postgres \
			-c "CREATE DATABASE snitch" >/dev/null || return 1
		if [ -n "${SCHEMA_SQL:-}" ]; then
			pg_run $PG_BIN/psql -X -q -v ON_ERROR_STOP=1 -h "$d" -p "$port" \
				-U postgres -d snitch <"$SCHEMA_SQL" >/dev/null || return 1
		fi
		pg_sql "$1" "CREATE ROLE pswriter LOGIN PASSWORD 'pw-writer';
			CREATE ROLE psreader LOGIN PASSWORD 'pw-reader';
			CREATE ROLE psnobody LOGIN PASSWORD 'pw-nobody';" >/dev/null || return 1
		if [ -n "${SCHEMA_SQL:-}" ]; then
			# exactly the README's lines
			pg_sql "$1" "GRANT INSERT ON connections, connections_batches TO pswriter;
				GRANT SELECT (machine_id, boot_id, seq) ON connections_batches TO pswriter;
				GRANT SELECT ON connections, connections_batches TO psreader;" >/dev/null || return 1
		fi
		touch "$d/made"
	fi
	echo "$port"
}

pg_stop() {
	pg_run $PG_BIN/pg_ctl -D "$1/pg/data" -m immediate -w stop >/dev/null 2>&1
}

my_sql() { # DIR SQL
	mariadb --no-defaults --default-character-set=utf8mb4 --socket="$1/my/sock" -uroot -N -B -r snitch -e "$2" 2>&1
}

my_start() { # DIR
	local d=$1/my port
	if [ ! -d "$d/data" ]; then
		mkdir -p "$d" && chmod 0700 "$d" || return 1
		mariadb-install-db --no-defaults --user=root --datadir="$d/data" \
			--auth-root-authentication-method=socket --skip-test-db >"$d/install.log" 2>&1 || return 1
		port=$(free_port) || return 1
		echo "$port" >"$d/port"
	fi
	port=$(cat "$d/port")
	mariadbd --no-defaults --user=root --datadir="$d/data" --socket="$d/sock" --port="$port" \
		--bind-address=127.0.0.1 --pid-file="$d/pid" --log-error="$d/err" --skip-name-resolve \
		--innodb-flush-log-at-trx-commit=${MY_FLUSH:-2} --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
	echo $! >"$d/mypid"
	for _ in $(seq 150); do
		mariadb-admin --no-defaults --socket="$d/sock" -uroot ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	mariadb-admin --no-defaults --socket="$d/sock" -uroot ping >/dev/null 2>&1 || {
		tail -5 "$d/err" >&2
		return 1
	}
	if [ ! -e "$d/made" ]; then
		mariadb --no-defaults --socket="$d/sock" -uroot -e "CREATE DATABASE snitch" || return 1
		if [ -n "${SCHEMA_SQL:-}" ]; then
			mariadb --no-defaults --socket="$d/sock" -uroot snitch <"$SCHEMA_SQL" || return 1
		fi
		my_sql "$1" "CREATE USER 'pswriter'@'%' IDENTIFIED BY 'pw-writer';
			CREATE USER 'psreader'@'%' IDENTIFIED BY 'pw-reader';
			CREATE USER 'psnobody'@'%' IDENTIFIED BY 'pw-nobody';" || return 1
		if [ -n "${SCHEMA_SQL:-}" ]; then
			# exactly the README's lines
			my_sql "$1" "GRANT INSERT ON snitch.connections TO 'pswriter'@'%';
				GRANT INSERT, SELECT (machine_id, boot_id, seq) ON snitch.connections_batches TO 'pswriter'@'%';
				GRANT SELECT ON snitch.connections TO 'psreader'@'%';
				GRANT SELECT ON snitch.connections_batches TO 'psreader'@'%';" || return 1
		fi
		touch "$d/made"
	fi
	echo "$port"
}

my_stop() { # DIR [SIGNAL]
	local pid
	pid=$(cat "$1/my/mypid" 2>/dev/null) || return 0
	kill "-${2:-TERM}" "$pid" 2>/dev/null
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

case ${1:-} in
pg-start) pg_start "$2" ;;
pg-stop) pg_stop "$2" ;;
pg-sql) pg_sql "$2" "$3" ;;
my-start) my_start "$2" ;;
my-stop) my_stop "$2" TERM ;;
my-kill) my_stop "$2" KILL ;;
my-sql) my_sql "$2" "$3" ;;
why-not) why_not "$2" ;;
*) echo "usage: $0 pg-start|pg-stop|pg-sql|my-start|my-stop|my-kill|my-sql|why-not ..." >&2; exit 2 ;;
esac
