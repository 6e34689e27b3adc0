# bash completion for picosnitch: its commands, each command's options, and
# files for `import`.  Installed as
# /usr/share/bash-completion/completions/picosnitch (bash-completion loads
# it on first use); it needs nothing of bash-completion's own.

_picosnitch()
{
	local cur=${COMP_WORDS[COMP_CWORD]}
	local commands="start stop restart start-no-daemon systemd status dash view lookup import
		geoip-update version help"
	local i cmd=

	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		return 0
	fi
	cmd=${COMP_WORDS[1]}
	# options are offered once: not again after they were given
	for ((i = 2; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--json | --print | --no-browser) return 0 ;;
		esac
	done
	case $cmd in
	status) mapfile -t COMPREPLY < <(compgen -W "--json" -- "$cur") ;;
	systemd) mapfile -t COMPREPLY < <(compgen -W "--print" -- "$cur") ;;
	dash) mapfile -t COMPREPLY < <(compgen -W "--no-browser --sql --machine --server --days --refresh" -- "$cur") ;;
	import)
		# one file: a snitch.db of picosnitch 1.x or 2.x
		if [ "$COMP_CWORD" -eq 2 ]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		;;
	esac
	return 0
}
complete -F _picosnitch picosnitch
