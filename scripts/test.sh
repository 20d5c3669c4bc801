#!/usr/bin/env bash
# The README's test command: installs and starts everything the tests need on a
# fresh Debian 12 machine (as root), then runs the whole suite.
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh          # Debian packages, dockerd, registry binary, pip install -e .[test]
bash scripts/base-images.sh           # trainform/busybox and trainform/python base images (cached)
python3 -m compileall -q engine providers >/dev/null || true
python3 -m ruff check .               # lint ([tool.ruff] in pyproject.toml): dead code, undefined names

export TRAINFORM_REQUIRE_COMPONENTS=1  # in CI a missing component is a failure, not a skip
exec python3 -m pytest -q -rs -p no:cacheprovider "$@"
