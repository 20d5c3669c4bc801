#!/usr/bin/env bash
# Install and start what trainform's tests and examples need on Debian 12 (as root):
# Debian packages (Docker Engine, registry, htpasswd, debootstrap, busybox-static,
# graphviz, PostgreSQL server binaries), a running Docker daemon, and trainform itself
# (pip install -e '.[test]').  Idempotent; takes about a second when all is in place.
# Nothing here pulls images: scripts/base-images.sh builds them locally.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { echo "setup: $*"; }
export DEBIAN_FRONTEND=noninteractive

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# ---------------------------------------------------------------- Debian packages
need=()
# A Docker Engine from another source (docker-ce...) is fine: only add docker.io when no dockerd exists.
if ! installed docker.io && ! command -v dockerd >/dev/null 2>&1; then need+=(docker.io); fi
for pkg in docker-registry apache2-utils debootstrap busybox-static graphviz; do
  installed "$pkg" || need+=("$pkg")
done
# PostgreSQL server binaries (initdb, pg_ctl) for the pg state backend tests
if ! installed postgresql && ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
# pip for the system Python, when that is the python3 we will use
python3 -c 'import pip' >/dev/null 2>&1 || need+=(python3-pip)

if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  # apt-get update only when the package lists are missing or stale for these packages
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/trainform-apt.log 2>&1; then
    say "apt-get update"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/trainform-apt.log 2>&1 \
      || { tail -20 /tmp/trainform-apt.log >&2; say "apt-get install failed (log: /tmp/trainform-apt.log)" >&2; exit 1; }
  fi
fi

# Debian's docker-registry package starts a service on :5000 with an unusable auth set-up;
# trainform runs its own registries (scripts/registry.sh, test fixtures), so keep that port free.
if [ -d /run/systemd/system ] && systemctl is-active --quiet docker-registry 2>/dev/null; then
  say "stopping the packaged docker-registry service (trainform starts its own: scripts/registry.sh)"
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------- Docker daemon
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ] && systemctl start docker >/dev/null 2>&1; then
    say "started docker.service"
  else
    say "starting dockerd (log: /var/log/trainform-dockerd.log)"
    nohup dockerd >/var/log/trainform-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/trainform-dockerd.log >&2 || true; say "dockerd did not answer within 60 s; see /var/log/trainform-dockerd.log" >&2; exit 1; }
fi

# ---------------------------------------------------------------- trainform itself
# Skipped when this checkout is already installed with the same pyproject.toml.
stamp=$ROOT/.trainform/pip-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && python3 - "$ROOT" <<'PY' 2>/dev/null
import os, sys
import engine, pytest, docker, hcl2, psycopg, ray, mlflow  # noqa: F401
sys.exit(0 if os.path.dirname(os.path.dirname(os.path.abspath(engine.__file__))) == sys.argv[1] else 1)
PY
then
  :
else
  say "pip install -e '.[test]' (includes the mlflow extra the tracking tests use)"
  extra=()
  # Debian's own Python refuses system-wide installs (PEP 668) unless told otherwise
  if python3 -c 'import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) and sys.prefix == sys.base_prefix else 1)'; then
    extra+=(--break-system-packages)
  fi
  python3 -m pip install -q --root-user-action=ignore "${extra[@]}" -e '.[test]'
  mkdir -p "$(dirname "$stamp")"; echo "$want" > "$stamp"
fi
# numpy and scikit-learn on the host: the process-mode example trains with the host's Python
if ! python3 -c "import numpy, sklearn" 2>/dev/null; then
  say "pip install numpy scikit-learn (process-mode example)"
  python3 -m pip install -q --root-user-action=ignore numpy scikit-learn || say "numpy/scikit-learn install failed"
fi

# torch for the distributed (2-rank all-reduce) Ray test: only from a local CPU wheel
# (a plain `pip install torch` would download a multi-GB CUDA build)
if ! python3 -c "import torch" 2>/dev/null; then
  for d in ${PIP_FIND_LINKS:-} /opt/wheels; do
    if ls "$d"/torch-2.13.0*.whl >/dev/null 2>&1; then
      say "pip install torch==2.13.0 (local CPU wheel in $d)"
      python3 -m pip install -q --root-user-action=ignore --find-links "$d" "torch==2.13.0" || say "torch install failed; the 2-rank test will skip"
      break
    fi
  done
fi
say "ready (docker $(docker version -f '{{.Server.Version}}' 2>/dev/null))"
