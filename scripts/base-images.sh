#!/usr/bin/env bash
# Build trainform's base images on this machine -- nothing is pulled from the
# internet -- and keep them in the local Docker Engine (skipped when present):
#   trainform/busybox:latest          FROM scratch + busybox-static and its applets (fast tests)
#   trainform/python:3.11-bookworm    debootstrap --variant=minbase of Debian bookworm with
#                                     python3, numpy, scikit-learn and pip, via `docker import`
#                                     (2-3 minutes the first time on this machine's network)
#   trainform/python-torch:3.11-bookworm  (only with the `torch` argument) the python image plus
#                                     PyTorch (CPU) from pip's find-links folder (/opt/wheels here)
#                                     and its dependencies, fetched on the host by `pip download`
#                                     and installed in the image with --no-index
# Usage: bash scripts/base-images.sh [all|busybox|python|torch] [--force]      (FORCE=1 = --force)
# The Debian mirror comes from this machine's apt sources (override: DEBIAN_MIRROR=... or MIRROR=...).
set -euo pipefail
cd "$(dirname "$0")/.."

BUSYBOX_IMAGE=${BUSYBOX_IMAGE:-trainform/busybox:latest}
PYTHON_IMAGE=${PYTHON_IMAGE:-trainform/python:3.11-bookworm}
PYTHON_PACKAGES=${PYTHON_PACKAGES:-python3,python3-numpy,python3-sklearn,python3-pip}
TORCH_IMAGE=${TORCH_IMAGE:-trainform/python-torch:3.11-bookworm}
TORCH_REQUIREMENT=${TORCH_REQUIREMENT:-torch}
PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
what=all; force=${FORCE:-0}
for a in "$@"; do
  case $a in
    all|busybox|python|torch) what=$a ;;
    --force) force=1 ;;
    *) echo "usage: $0 [all|busybox|python|torch] [--force]" >&2; exit 2 ;;
  esac
done

docker info >/dev/null 2>&1 || { echo "base-images: no Docker daemon answers; run scripts/setup-system.sh (or: sudo dockerd &)" >&2; exit 1; }
have() { [ "$force" = 0 ] && docker image inspect "$1" >/dev/null 2>&1; }

# The first apt source that serves Debian bookworm (not -security/-updates), one-line or deb822 format.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-${MIRROR:-}}" ]; then echo "${DEBIAN_MIRROR:-$MIRROR}"; return; fi
  python3 - <<'PY'
import glob, re, sys
def one_line(path):
    for line in open(path, errors="replace"):
        line = line.split("#", 1)[0].strip()
        m = re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
        if m:
            yield m.group(1), [m.group(2)]
def deb822(path):
    for stanza in re.split(r"\n\s*\n", open(path, errors="replace").read()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"])[0] != "no":
            for uri in fields.get("uris", []):
                yield uri, fields.get("suites", [])
sources = []
for p in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try: sources += list(one_line(p))
    except OSError: pass
for p in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    try: sources += list(deb822(p))
    except OSError: pass
for uri, suites in sources:
    if "bookworm" in suites and "security" not in uri:
        print(uri.rstrip("/")); sys.exit(0)
sys.exit("base-images: no apt source for Debian bookworm in /etc/apt/sources.list(.d); set DEBIAN_MIRROR")
PY
}

build_busybox() {
  if have "$BUSYBOX_IMAGE"; then echo "base-images: $BUSYBOX_IMAGE exists"; return; fi
  local bb; bb=$(command -v busybox || true)
  [ -n "$bb" ] && "$bb" --list >/dev/null 2>&1 || { echo "base-images: busybox-static is missing (apt-get install busybox-static)" >&2; exit 1; }
  local root; root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root" "$root/workspace"
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list); do [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  tar -C "$root" -c . | docker import --change "ENV $PATH_ENV" --change 'CMD ["/bin/sh"]' - "$BUSYBOX_IMAGE" >/dev/null
  rm -rf "$root"
  echo "base-images: built $BUSYBOX_IMAGE"
}

build_python() {
  if have "$PYTHON_IMAGE"; then echo "base-images: $PYTHON_IMAGE exists"; return; fi
  command -v debootstrap >/dev/null || { echo "base-images: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  local mirror root start took
  mirror=$(debian_mirror)
  root=$(mktemp -d /var/tmp/trainform-rootfs.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "base-images: debootstrap bookworm from $mirror (a few minutes)"
  start=$(date +%s)
  debootstrap --variant=minbase --include="$PYTHON_PACKAGES" bookworm "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; echo "base-images: debootstrap failed (full log: $root.log)" >&2; exit 1; }
  took=$(( $(date +%s) - start ))
  echo "base-images: debootstrap took ${took}s"
  # Images are single-purpose: let pip install into the system Python (PEP 668 marker off), drop apt caches.
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  mkdir -p "$root/workspace"
  tar -C "$root" --numeric-owner -c . | docker import --change "ENV $PATH_ENV" --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["python3"]' - "$PYTHON_IMAGE" >/dev/null
  rm -f "$root.log"
  echo "base-images: built $PYTHON_IMAGE ($(docker run --rm --network none "$PYTHON_IMAGE" python3 -c 'import sys, numpy, sklearn; print("python", sys.version.split()[0], "numpy", numpy.__version__, "scikit-learn", sklearn.__version__)'))"
}

build_torch() {
  if have "$TORCH_IMAGE"; then echo "base-images: $TORCH_IMAGE exists"; return; fi
  build_python
  local ctx start; ctx=$(mktemp -d /var/tmp/trainform-torch.XXXXXX)
  trap 'rm -rf "$ctx"' RETURN
  start=$(date +%s)
  # wheels for the image's Python (3.11, glibc 2.36); pip's configured find-links supply the CPU torch wheel
  echo "base-images: pip download $TORCH_REQUIREMENT and its dependencies for cp311/manylinux_2_28"
  python3 -m pip download -q --only-binary=:all: --python-version 3.11 --implementation cp \
      --platform manylinux_2_28_x86_64 -d "$ctx/wheels" "$TORCH_REQUIREMENT" >"$ctx.log" 2>&1 \
    || { tail -20 "$ctx.log" >&2; echo "base-images: pip download failed (is a torch wheel in pip's find-links, e.g. /opt/wheels?)" >&2; exit 1; }
  printf 'FROM %s\nCOPY wheels /tmp/wheels\nRUN python3 -m pip install --no-index --no-cache-dir /tmp/wheels/*.whl && rm -rf /tmp/wheels\n' \
    "$PYTHON_IMAGE" > "$ctx/Dockerfile"
  docker build -q -t "$TORCH_IMAGE" "$ctx" >"$ctx.log" 2>&1 || { tail -20 "$ctx.log" >&2; echo "base-images: building $TORCH_IMAGE failed" >&2; exit 1; }
  rm -f "$ctx.log"
  echo "base-images: built $TORCH_IMAGE in $(( $(date +%s) - start ))s ($(docker run --rm --network none "$TORCH_IMAGE" python3 -c 'import torch; print("torch", torch.__version__)'))"
}

case $what in
  all) build_busybox; build_python ;;
  torch) build_torch ;;
  busybox) build_busybox ;;
  python) build_python ;;
esac
