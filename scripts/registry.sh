#!/usr/bin/env bash
# A local container registry for trainform: Debian's docker-registry (distribution v2)
# with htpasswd (bcrypt) basic auth and manifest deletion enabled, on a loopback port.
#   bash scripts/registry.sh start [--port 5000] [--user U] [--password P] [--data DIR]
#   bash scripts/registry.sh stop  [--port 5000] [--data DIR]
#   bash scripts/registry.sh status [--port 5000] [--data DIR]
# Defaults come from REGISTRY_PORT (5000), REGISTRY_USER (trainform), REGISTRY_PASSWORD
# (required for start) and REGISTRY_DATA (.trainform/registry-<port> in the repository).
# `start` prints the address (127.0.0.1:PORT); it is a no-op when this registry already
# runs with the same credentials.  The password is read from the environment or the
# option and handed to htpasswd on stdin, never on a command line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

cmd=${1:-}; [ $# -gt 0 ] && shift
port=${REGISTRY_PORT:-5000}; user=${REGISTRY_USER:-trainform}; password=${REGISTRY_PASSWORD:-}; data=${REGISTRY_DATA:-}
while [ $# -gt 0 ]; do
  case $1 in
    --port) port=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --password) password=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) echo "registry.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
data=${data:-$ROOT/.trainform/registry-$port}
addr=127.0.0.1:$port
pidfile=$data/registry.pid

running() {  # our registry process is alive (a reused pid of another program does not count)
  [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && grep -qa docker-registry "/proc/$(cat "$pidfile")/cmdline" 2>/dev/null
}
answers() {  # the registry's /v2/ endpoint answers (401 without credentials)
  python3 - "$addr" <<'PY'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://{sys.argv[1]}/v2/", timeout=1)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 401 else 1)
except Exception:
    sys.exit(1)
sys.exit(1)  # no auth: not one of ours
PY
}
same_credentials() {  # the stored htpasswd entry accepts user/password
  [ -s "$data/htpasswd" ] && printf '%s' "$password" | htpasswd -iv "$data/htpasswd" "$user" >/dev/null 2>&1
}

stop() {
  if running; then
    local pid; pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case $cmd in
  start)
    [ -n "$password" ] || { echo "registry.sh: set REGISTRY_PASSWORD (or --password)" >&2; exit 2; }
    command -v docker-registry >/dev/null || { echo "registry.sh: docker-registry is missing (scripts/setup-system.sh installs it)" >&2; exit 1; }
    command -v htpasswd >/dev/null || { echo "registry.sh: htpasswd is missing (apt-get install apache2-utils)" >&2; exit 1; }
    mkdir -p "$data/storage"; chmod 700 "$data"
    if running && answers && same_credentials; then echo "$addr"; exit 0; fi
    stop
    if answers; then echo "registry.sh: something else already serves a registry on $addr (systemctl stop docker-registry?)" >&2; exit 1; fi
    printf '%s' "$password" | htpasswd -iBn "$user" > "$data/htpasswd.tmp" 2>/dev/null
    mv "$data/htpasswd.tmp" "$data/htpasswd"; chmod 600 "$data/htpasswd"
    cat > "$data/config.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $data/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
auth:
  htpasswd:
    realm: trainform-registry
    path: $data/htpasswd
YML
    chmod 600 "$data/config.yml"
    # docker-registry reads REGISTRY_* variables as configuration: start it with a clean environment
    env -i PATH="$PATH" nohup docker-registry serve "$data/config.yml" >"$data/registry.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 100); do answers && break; running || break; sleep 0.1; done
    if ! answers; then
      tail -5 "$data/registry.log" >&2 || true
      echo "registry.sh: the registry did not start on $addr (log: $data/registry.log)" >&2
      stop; exit 1
    fi
    echo "$addr"
    ;;
  stop) stop ;;
  status) if running && answers; then echo "$addr running (pid $(cat "$pidfile"))"; else echo "$addr not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status [--port N] [--user U] [--password P] [--data DIR]" >&2; exit 2 ;;
esac
