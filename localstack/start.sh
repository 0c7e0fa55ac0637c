#!/usr/bin/env bash
# Runs an AWS API double for Cloudgate's AWS provider: LocalStack where a
# container engine (docker or podman) and a LocalStack auth token exist,
# moto (`moto_server`, with Cloudgate's ELBv2 extensions) otherwise. Then
# creates a VPC with tagged public and private subnets in two zones and
# prints the environment that points an AWS SDK at it.
#
#   localstack/start.sh start [options]   start, bootstrap, print `export` lines
#   localstack/start.sh env   [options]   print the environment again
#   localstack/start.sh status [options]  exit 0 when running
#   localstack/start.sh stop  [options]   stop it and forget it
#
#   eval "$(localstack/start.sh start)"   # then: go test ./providers/aws/...
#
# Options (each also an environment variable):
#   --state-dir DIR   CLOUDGATE_AWS_STATE_DIR   where the pid file, log and env live
#                                               (default ${TMPDIR:-/tmp}/cloudgate-aws-$UID)
#   --engine E        CLOUDGATE_AWS_ENGINE      auto (default), moto or localstack
#   --cluster NAME    CLOUDGATE_CLUSTER_NAME    for kubernetes.io/cluster/NAME (default cloudgate-dev)
#   --region R        CLOUDGATE_AWS_REGION      default us-east-1
#   --timeout S       CLOUDGATE_AWS_START_TIMEOUT  seconds to wait for the API (default 60; LocalStack: 180)
#   --watch-pid PID   (moto only) the server exits when PID is gone
# Other variables: CLOUDGATE_MOTO_PIP_INSTALL=0 skips the `pip install
# 'moto[server]'` attempt when moto_server is missing; LOCALSTACK_AUTH_TOKEN
# and CLOUDGATE_LOCALSTACK_IMAGE are passed to LocalStack.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prog="localstack/start.sh"

log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

cmd="${1:-}"
[ $# -gt 0 ] && shift
state_dir="${CLOUDGATE_AWS_STATE_DIR:-${TMPDIR:-/tmp}/cloudgate-aws-$(id -u)}"
engine="${CLOUDGATE_AWS_ENGINE:-auto}"
cluster="${CLOUDGATE_CLUSTER_NAME:-cloudgate-dev}"
region="${CLOUDGATE_AWS_REGION:-us-east-1}"
timeout="${CLOUDGATE_AWS_START_TIMEOUT:-}"
watch_pid=""
while [ $# -gt 0 ]; do
	case "$1" in
	--state-dir) state_dir="$2"; shift 2 ;;
	--engine) engine="$2"; shift 2 ;;
	--cluster) cluster="$2"; shift 2 ;;
	--region) region="$2"; shift 2 ;;
	--timeout) timeout="$2"; shift 2 ;;
	--watch-pid) watch_pid="$2"; shift 2 ;;
	*) die "unknown option $1" ;;
	esac
done
case "$engine" in auto | moto | localstack) ;; *) die "--engine must be auto, moto or localstack, not $engine" ;; esac

# A process that exited but is not reaped yet (its parent is init, which may
# reap late) still answers kill -0: count zombies as gone.
alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
	case "$(ps -o stat= -p "$1" 2>/dev/null)" in Z*) return 1 ;; esac
}

# The python interpreter and boto3 for the bootstrap: moto's own for moto
# (it depends on boto3), python3 from PATH for LocalStack.
bootstrap() { # python endpoint
	local py="$1" endpoint="$2"
	env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_ENDPOINT_URL \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null PYTHONDONTWRITEBYTECODE=1 \
		"$py" "$here/bootstrap.py" --endpoint "$endpoint" --region "$region" \
		--cluster "$cluster" --timeout "$timeout" >"$state_dir/network.env"
}

write_env() { # engine endpoint extensions
	{
		echo "AWS_ENDPOINT_URL=$2"
		echo "AWS_REGION=$region"
		echo "AWS_ACCESS_KEY_ID=test"
		echo "AWS_SECRET_ACCESS_KEY=test"
		echo "AWS_EC2_METADATA_DISABLED=true"
		echo "CLOUDGATE_AWS_ENGINE=$1"
		echo "CLOUDGATE_AWS_EXTENSIONS=$3"
		echo "CLOUDGATE_CLUSTER_NAME=$cluster"
		cat "$state_dir/network.env"
		echo "CLOUDGATE_AWS_STATE_DIR=$state_dir"
	} >"$state_dir/env.tmp"
	mv "$state_dir/env.tmp" "$state_dir/env"
}

print_env() {
	[ -s "$state_dir/env" ] || die "nothing runs with state dir $state_dir (run: $prog start)"
	while IFS= read -r line; do
		printf "export %s='%s'\n" "${line%%=*}" "${line#*=}"
	done <"$state_dir/env"
}

# --- moto ------------------------------------------------------------------

install_hint() {
	cat >&2 <<-EOF
		$prog: moto_server was not found on PATH${1:+, and $1}.
		  Install moto's server (Cloudgate's extensions are written for moto 5.2.1) and put
		  moto_server on PATH, for example:
		      python3 -m pip install 'moto[server]'     # or: pipx install 'moto[server]'
		  (where the system Python refuses pip, use a virtualenv:
		      python3 -m venv ~/.venvs/moto && ~/.venvs/moto/bin/pip install 'moto[server]'
		      export PATH="\$HOME/.venvs/moto/bin:\$PATH")
		  or run LocalStack instead: CLOUDGATE_AWS_ENGINE=localstack with docker or podman
		  and LOCALSTACK_AUTH_TOKEN set (see localstack/README.md).
	EOF
}

find_moto_server() {
	if command -v moto_server >/dev/null 2>&1; then
		command -v moto_server
		return
	fi
	if [ "${CLOUDGATE_MOTO_PIP_INSTALL:-1}" = 0 ]; then
		install_hint "CLOUDGATE_MOTO_PIP_INSTALL=0 forbids trying pip"
		exit 1
	fi
	local py
	py="$(command -v python3 || true)"
	if [ -z "$py" ]; then
		install_hint "there is no python3 to run pip with"
		exit 1
	fi
	local user=--user
	if "$py" -c 'import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)' 2>/dev/null; then
		user= # a virtualenv: install into it
	fi
	log "moto_server is not on PATH; trying: $py -m pip install $user 'moto[server]'"
	if ! "$py" -m pip install $user -q --disable-pip-version-check --retries 1 --timeout 20 'moto[server]' >&2; then
		install_hint "\`$py -m pip install $user 'moto[server]'\` failed (output above)"
		exit 1
	fi
	# pip puts console scripts into the interpreter's (or the user's)
	# scripts directory, which need not be on PATH.
	local dirs m
	dirs="$("$py" -c 'import os, sysconfig
for scheme in (sysconfig.get_default_scheme(), os.name + "_user"):
    try:
        print(sysconfig.get_path("scripts", scheme))
    except KeyError:
        pass' 2>/dev/null || true)"
	for m in "$(command -v moto_server || true)" $(printf '%s\n' "$dirs" | sed 's|$|/moto_server|'); do
		if [ -n "$m" ] && [ -x "$m" ]; then
			case ":$PATH:" in *":$(dirname "$m"):"*) ;; *) log "using $m; add $(dirname "$m") to PATH to skip this step" ;; esac
			echo "$m"
			return
		fi
	done
	install_hint "pip installed moto, but moto_server is in none of PATH, $(printf '%s' "$dirs" | tr '\n' ' ')"
	exit 1
}

start_moto() {
	local moto pid port py extensions deadline
	moto="$(find_moto_server)"
	rm -f "$state_dir/moto.json" "$state_dir/env"
	# Port 0: the kernel picks a free port; cloudgate_moto writes the one it
	# got into moto.json once the socket is bound (no probe-then-bind race).
	env PYTHONPATH="$here/motoext${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
		CLOUDGATE_MOTO_EXTENSIONS=1 CLOUDGATE_MOTO_STATE_FILE="$state_dir/moto.json" \
		${watch_pid:+CLOUDGATE_MOTO_WATCH_PID=$watch_pid} \
		"$moto" -H 127.0.0.1 -p 0 </dev/null >"$state_dir/moto.log" 2>&1 &
	pid=$!
	echo "$pid" >"$state_dir/pid"
	echo moto >"$state_dir/engine"
	deadline=$((SECONDS + timeout))
	while [ ! -s "$state_dir/moto.json" ]; do
		if ! alive "$pid"; then
			tail -n 20 "$state_dir/moto.log" >&2 || true
			die "$moto exited before it served (log: $state_dir/moto.log)"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			stop_all
			die "$moto did not bind a port within ${timeout}s (log: $state_dir/moto.log)"
		fi
		sleep 0.05
	done
	port="$(sed -n 's/.*"port": *\([0-9][0-9]*\).*/\1/p' "$state_dir/moto.json")"
	py="$(sed -n 's/.*"python": *"\([^"]*\)".*/\1/p' "$state_dir/moto.json")"
	extensions="$(sed -n 's/.*"extensions": *\[\([^]]*\)\].*/\1/p' "$state_dir/moto.json" | tr -d '" ')"
	pid="$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$state_dir/moto.json")"
	echo "$pid" >"$state_dir/pid"
	[ -n "$port" ] && [ -n "$py" ] || { stop_all; die "cannot read $state_dir/moto.json"; }
	[ -n "$extensions" ] || { stop_all; die "moto runs without Cloudgate's extensions (log: $state_dir/moto.log)"; }
	if ! bootstrap "$py" "http://127.0.0.1:$port"; then
		stop_all
		die "bootstrap failed against moto (log: $state_dir/moto.log)"
	fi
	write_env moto "http://127.0.0.1:$port" "$extensions"
}

# --- LocalStack ------------------------------------------------------------

container_engine() {
	local c
	for c in docker podman; do
		if command -v "$c" >/dev/null 2>&1 && "$c" info >/dev/null 2>&1; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

compose() { # container-engine args...
	local c="$1"
	shift
	local project
	project="$(cat "$state_dir/compose-project")"
	if "$c" compose version >/dev/null 2>&1; then
		"$c" compose -p "$project" -f "$here/compose.yaml" "$@"
	elif command -v "$c-compose" >/dev/null 2>&1; then
		"$c-compose" -p "$project" -f "$here/compose.yaml" "$@"
	else
		die "neither \`$c compose\` nor $c-compose is installed"
	fi
}

start_localstack() {
	local c port py
	c="$(container_engine)" || die "no container engine answers (docker info / podman info); use --engine moto"
	[ -n "${LOCALSTACK_AUTH_TOKEN:-}" ] ||
		die "LocalStack's ELBv2 needs LOCALSTACK_AUTH_TOKEN (see localstack/README.md); or use --engine moto"
	py="$(command -v python3 || true)"
	[ -n "$py" ] && "$py" -c 'import boto3' 2>/dev/null ||
		die "the bootstrap needs python3 with boto3: python3 -m pip install boto3"
	rm -f "$state_dir/env"
	# One compose project per state dir, so that parallel runs do not meet.
	echo "cloudgate-$(printf '%s' "$state_dir" | cksum | cut -d' ' -f1)" >"$state_dir/compose-project"
	echo "$c" >"$state_dir/container-engine"
	echo localstack >"$state_dir/engine"
	compose "$c" up -d >&2 || { stop_all; die "LocalStack did not start"; }
	port="$(compose "$c" port localstack 4566 | tail -n 1)"
	port="${port##*:}"
	[ -n "$port" ] || { stop_all; die "cannot find LocalStack's published port"; }
	if ! bootstrap "$py" "http://127.0.0.1:$port"; then
		compose "$c" logs --tail 50 >&2 || true
		stop_all
		die "bootstrap failed against LocalStack"
	fi
	write_env localstack "http://127.0.0.1:$port" ""
}

# --- stop ------------------------------------------------------------------

stop_all() {
	local pid c i
	if [ -s "$state_dir/pid" ]; then
		pid="$(cat "$state_dir/pid")"
		if alive "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			for i in $(seq 1 100); do
				alive "$pid" || break
				sleep 0.05
			done
			if alive "$pid"; then
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
	fi
	if [ -s "$state_dir/compose-project" ]; then
		c="$(cat "$state_dir/container-engine" 2>/dev/null || echo docker)"
		compose "$c" down -v --remove-orphans >&2 || log "compose down failed; check \`$c ps\`"
	fi
	rm -f "$state_dir/pid" "$state_dir/env" "$state_dir/moto.json" "$state_dir/engine" \
		"$state_dir/compose-project" "$state_dir/container-engine" "$state_dir/network.env"
}

running() {
	[ -s "$state_dir/env" ] || return 1
	if [ -s "$state_dir/pid" ]; then
		alive "$(cat "$state_dir/pid")"
		return
	fi
	[ -s "$state_dir/compose-project" ]
}

case "$cmd" in
start)
	mkdir -p "$state_dir"
	if running; then
		log "already running (state dir $state_dir); printing its environment"
		print_env
		exit 0
	fi
	stop_all # leftovers of a run that died
	if [ "$engine" = auto ]; then
		engine=moto
		if container_engine >/dev/null; then
			if [ -n "${LOCALSTACK_AUTH_TOKEN:-}" ]; then
				engine=localstack
			else
				log "a container engine exists, but LOCALSTACK_AUTH_TOKEN is not set; using moto"
			fi
		fi
	fi
	if [ -z "$timeout" ]; then
		if [ "$engine" = localstack ]; then timeout=180; else timeout=60; fi
	fi
	"start_$engine"
	print_env
	;;
env) print_env ;;
status) running ;;
stop) stop_all ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
