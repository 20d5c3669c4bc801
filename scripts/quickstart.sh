#!/usr/bin/env bash
# The README's main job: from a clean clone on a fresh Debian 12 machine (as root),
# set up Docker, the base images and a local registry, then train the quickstart
# CNN with trainform and print its accuracy.
#   bash scripts/quickstart.sh            (REGISTRY_PORT=5001 to use another port)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/setup-system.sh          # Debian packages, dockerd, pip install -e .
bash scripts/base-images.sh           # trainform/python:3.11-bookworm (cached after the first time)

# registry credentials: generated once, kept in .trainform/ (git-ignored), handed to the registry and to trainform
CRED=$ROOT/.trainform/registry-credentials
mkdir -p "$(dirname "$CRED")"
if [ ! -s "$CRED" ]; then
  printf 'trainform\n%s\n' "$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$CRED"
  chmod 600 "$CRED"
fi
export REGISTRY_USER REGISTRY_PASSWORD
REGISTRY_USER=$(sed -n 1p "$CRED")
REGISTRY_PASSWORD=$(sed -n 2p "$CRED")
export REGISTRY_PORT=${REGISTRY_PORT:-5000}
bash scripts/registry.sh start        # docker-registry with htpasswd auth on 127.0.0.1:$REGISTRY_PORT

export TRAINFORM_VAR_registry_address="127.0.0.1:$REGISTRY_PORT"
export TRAINFORM_VAR_registry_username="$REGISTRY_USER"
export TRAINFORM_VAR_registry_password="$REGISTRY_PASSWORD"

cd examples/quickstart
trainform init
trainform apply -auto-approve
echo
echo "accuracy: $(trainform output -raw accuracy)"
echo "model:    $(trainform output -raw model)"
echo "(see all runs with: cd examples/quickstart && trainform runs)"
