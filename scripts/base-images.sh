#!/usr/bin/env bash
# Build trainform's local base images; nothing is pulled from a registry.
#   bash scripts/base-images.sh [busybox|python|all]      (default: all)
#
#   trainform/busybox:latest        FROM scratch + the static busybox of Debian's
#                                   busybox-static, its applets linked in /bin
#                                   (a ~2 MB image for fast tests)
#   trainform/python:3.11-bookworm  a debootstrapped Debian bookworm (minbase) with
#                                   python3, pip, numpy and scikit-learn, imported
#                                   with `docker import` (~1 min the first time)
#
# Each image is cached: when it already exists it is left alone (FORCE=1 rebuilds).
# The Debian mirror is the one this machine's apt sources name (MIRROR= overrides).
set -euo pipefail

BUSYBOX_IMAGE=${BUSYBOX_IMAGE:-trainform/busybox:latest}
PYTHON_IMAGE=${PYTHON_IMAGE:-trainform/python:3.11-bookworm}
SUITE=${SUITE:-bookworm}
PACKAGES=${PACKAGES:-python3,python3-pip,python3-numpy,python3-sklearn}
what=${1:-all}

have_image() { [ "${FORCE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

# The first mirror URI of this machine's apt sources that serves $SUITE itself
# (not -security/-updates), from deb822 *.sources files or one-line sources.list.
debian_mirror() {
  local f uri
  if [ -n "${MIRROR:-}" ]; then echo "$MIRROR"; return; fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      function flush() { if (ok && uri != "" && !done) { print uri; done = 1 } uri = ""; ok = 0 }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "uris:"   { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      tolower($1) == "enabled:" && tolower($2) == "no" { uri = "" }
      END { flush() }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '$1 == "deb" {
            j = 2; if ($2 ~ /^\[/) { while (j <= NF && $j !~ /\]$/) j++; j++ }
            if ($(j + 1) == suite) { print $j; exit } }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  echo "base-images: no apt source for '$SUITE' found in /etc/apt (set MIRROR=http://...)" >&2
  return 1
}

build_busybox() {
  if have_image "$BUSYBOX_IMAGE"; then echo "base-images: $BUSYBOX_IMAGE present"; return; fi
  local bb; bb=$(command -v busybox || true)
  [ -n "$bb" ] || { echo "base-images: busybox not installed (apt-get install busybox-static)" >&2; exit 1; }
  local ctx; ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  cp "$bb" "$ctx/busybox"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
CMD ["/bin/sh"]
EOF
  docker build -q -t "$BUSYBOX_IMAGE" "$ctx" >/dev/null
  echo "base-images: built $BUSYBOX_IMAGE"
}

build_python() {
  if have_image "$PYTHON_IMAGE"; then echo "base-images: $PYTHON_IMAGE present"; return; fi
  command -v debootstrap >/dev/null || { echo "base-images: debootstrap not installed (apt-get install debootstrap)" >&2; exit 1; }
  local mirror start root
  mirror=$(debian_mirror)
  start=$(date +%s)
  root=$(mktemp -d /var/tmp/trainform-rootfs.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "base-images: debootstrap $SUITE from $mirror (packages: $PACKAGES)"
  if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
    tail -n 20 "$root.log" >&2
    echo "base-images: debootstrap failed (full log: $root.log)" >&2
    exit 1
  fi
  rm -f "$root.log"
  # smaller image: no apt lists or caches
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  tar -C "$root" -c . | docker import \
    -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["python3"]' - "$PYTHON_IMAGE" >/dev/null
  docker run --rm --network none "$PYTHON_IMAGE" python3 -c "import numpy, sklearn; print('numpy', numpy.__version__, 'scikit-learn', sklearn.__version__)"
  echo "base-images: built $PYTHON_IMAGE in $(( $(date +%s) - start )) s"
}

case "$what" in
  busybox) build_busybox ;;
  python) build_python ;;
  all) build_busybox; build_python ;;
  *) echo "usage: $0 [busybox|python|all]" >&2; exit 2 ;;
esac
