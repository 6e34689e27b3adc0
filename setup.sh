#!/bin/sh
# Set-up on a Debian 12 machine, as root:
#   ./setup.sh start   install what is missing, build, run the monitor in the foreground
#   ./setup.sh test    install what is missing, build, run every test
#   ./setup.sh build   install what is missing and build only
set -eu
cd "$(dirname "$0")"

BUILD_PKGS="make gcc libc6-dev pkg-config clang bpftool libbpf-dev libelf-dev zlib1g-dev
	libsqlite3-dev libjansson-dev uthash-dev libssl-dev libsystemd-dev libcap-dev libncurses-dev
	libmicrohttpd-dev libmaxminddb-dev libcurl4-openssl-dev libpq-dev libmariadb-dev"
TEST_PKGS="sqlite3 strace iproute2 nftables liburing-dev procps dbus-daemon python3-dbusmock fuse3 libfuse3-dev
	libclang-rt-14-dev man-db bsdextrautils systemd valgrind tmux curl libmaxmind-db-writer-perl
	postgresql mariadb-server prometheus e2fsprogs util-linux"

# node and npm bundle the web pages at build time (web/package-lock.json):
# Debian's packages, unless this machine already has them (e.g. NodeSource's
# nodejs, which brings its own npm and conflicts with Debian's)
command -v node >/dev/null 2>&1 || BUILD_PKGS="$BUILD_PKGS nodejs"
command -v npm >/dev/null 2>&1 || BUILD_PKGS="$BUILD_PKGS npm"
# the web pages' tests run in Debian's Chromium
TEST_PKGS="$TEST_PKGS chromium fonts-liberation"

missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
	done
}

install() {
	# shellcheck disable=SC2086
	need=$(missing $*)
	[ -z "$need" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "setup.sh: these packages are missing and installing them needs root:" $need >&2
		exit 1
	fi
	echo "setup.sh: installing" $need
	apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
}

jobs=$(nproc 2>/dev/null || echo 2)
case "${1:-}" in
start)
	install $BUILD_PKGS
	make -j"$jobs"
	exec build/picosnitch start-no-daemon
	;;
test)
	install $BUILD_PKGS $TEST_PKGS
	make -j"$jobs" all asan fuzz
	exec tests/run
	;;
build)
	install $BUILD_PKGS
	make -j"$jobs"
	;;
*)
	echo "usage: ./setup.sh start|test|build" >&2
	exit 2
	;;
esac
