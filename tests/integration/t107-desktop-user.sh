#!/bin/bash
# Who the desktop user is (whose ~/.config/picosnitch holds the state),
# the one rule the daemon, the tests and the docs share:
#   SUDO_UID, else SUDO_USER, else DOAS_USER (when run as root),
#   else the alphabetically first directory in /home that is the name of a
#   user with a uid of 1000 or more; else there is none (a server) and the
#   state is in /var/lib/picosnitch.
# Each case runs `picosnitch version` in a private mount namespace with a
# /home made for it (an empty one, as on a fresh server, included), so the
# answer never depends on this machine's users.
source "$(dirname "$0")/../lib/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespaces, throwaway users)"
command -v unshare >/dev/null || skip_all "needs unshare (util-linux)"
[ -n "$TEST_USER" ] || skip_all "cannot create a throwaway user here (useradd)"

U1=$TEST_USER
U2=psa$$	# sorts before pst...: the first in /home
U3=pszz$$	# a system user (uid < 1000)
test_user_make "$U2" || { not_ok "a second throwaway user"; t_done; exit 1; }
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
	--user-group "$U3" >/dev/null || { not_ok "a throwaway system user"; t_done; exit 1; }
trap 'test_user_remove "$U2"; test_user_remove "$U3"; cleanup' EXIT
home_of() { getent passwd "$1" | cut -d: -f6; }

# state HOME-DIRS [VAR=VALUE...]: the state directory `version` reports
# with /home holding exactly HOME-DIRS (space separated)
state() {
	local dirs=$1
	shift
	env -u PICOSNITCH_DIR -u SUDO_UID -u SUDO_USER -u DOAS_USER "$@" \
		unshare -m --propagation private bash -c '
		mount -t tmpfs tmpfs /home || exit 1
		for d in '"$dirs"'; do mkdir "/home/$d"; done
		exec "$0" version' "$PS_BIN" 2>&1 | sed -n 's/^state directory: //p'
}

check_eq "an empty /home (a fresh server): /var/lib/picosnitch" "/var/lib/picosnitch" "$(state "")"
check_eq "one user in /home: that user" "$(home_of "$U1")/.config/picosnitch" "$(state "$U1")"
check_eq "two users: the first by name" "$(home_of "$U2")/.config/picosnitch" "$(state "$U1 $U2")"
check_eq "a system user's directory is passed over" "$(home_of "$U1")/.config/picosnitch" \
	"$(state "$U3 $U1")"
check_eq "a directory that is no user is passed over" "$(home_of "$U1")/.config/picosnitch" \
	"$(state "a-nobody-$$ $U1")"
check_eq "only system users and strangers: /var/lib/picosnitch" "/var/lib/picosnitch" \
	"$(state "$U3 a-nobody-$$")"
check_eq "SUDO_UID comes first" "$(home_of "$U1")/.config/picosnitch" \
	"$(state "$U2" SUDO_UID="$(id -u "$U1")" SUDO_USER="$U2")"
check_eq "then SUDO_USER" "$(home_of "$U1")/.config/picosnitch" \
	"$(state "$U2" SUDO_USER="$U1" DOAS_USER="$U2")"
check_eq "then DOAS_USER" "$(home_of "$U1")/.config/picosnitch" "$(state "$U2" DOAS_USER="$U1")"
check_eq "an unknown SUDO_UID falls through to the next rule" "$(home_of "$U2")/.config/picosnitch" \
	"$(state "$U2" SUDO_UID=4000000000)"
check_eq "a user running it gets their own" "$(home_of "$U1")/.config/picosnitch" \
	"$(setpriv --reuid="$U1" --regid="$U1" --init-groups env -u PICOSNITCH_DIR SUDO_UID=0 \
		"$(user_bin)" version 2>&1 | sed -n 's/^state directory: //p')"
check_eq "PICOSNITCH_DIR overrides the place, not the owner" "/srv/ps-$$" \
	"$(PICOSNITCH_DIR=/srv/ps-$$ "$PS_BIN" version 2>&1 | sed -n 's/^state directory: //p')"
t_done
