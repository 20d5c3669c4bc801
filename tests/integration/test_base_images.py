"""The locally built base images (scripts/base-images.sh) are what tests and examples expect."""

from __future__ import annotations

import os
import subprocess

from tests.fixtures.base_images import SCRIPT


def _run(client, image: str, cmd: list[str]) -> str:
    out = client.containers.run(image, cmd, remove=True, network_disabled=True)
    return out.decode().strip()


def test_busybox_image_has_a_shell_and_applets(docker_client, busybox_image):
    out = _run(docker_client, busybox_image, ["sh", "-c", "echo hi && ls /bin | wc -l && test -d /tmp && id -un"])
    hi, count, user = out.splitlines()
    assert hi == "hi" and int(count) > 100 and user == "root"
    info = docker_client.images.get(busybox_image).attrs
    assert any(e.startswith("PATH=") for e in info["Config"]["Env"])


def test_python_image_has_python311_numpy_sklearn_and_usable_pip(docker_client, python_base_image):
    out = _run(docker_client, python_base_image, [
        "python3", "-c",
        "import sys, os, sysconfig, numpy, sklearn, sklearn.datasets as d; "
        "print(sys.version_info[:2] == (3, 11), d.load_digits().images.shape, "
        "os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))",
    ])
    assert out == "True (1797, 8, 8) False"
    assert "pip" in _run(docker_client, python_base_image, ["python3", "-m", "pip", "--version"])


def test_script_skips_existing_images(docker_client, busybox_image):
    before = docker_client.images.get(busybox_image).id
    r = subprocess.run(["bash", SCRIPT, "busybox"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "exists" in r.stdout
    assert docker_client.images.get(busybox_image).id == before


def test_script_reads_the_mirror_from_apt_sources():
    """The mirror comes from this machine's apt sources, never a hard-coded host."""
    text = open(SCRIPT).read()
    assert "deb.debian.org" not in text
    r = subprocess.run(["bash", "-c", f"source <(sed -n '/^debian_mirror()/,/^}}/p' {SCRIPT}); debian_mirror"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        assert "no apt source for Debian bookworm" in r.stderr
        return
    mirror = r.stdout.strip()
    assert mirror.startswith(("http://", "https://"))
    sources = ""
    for p in ["/etc/apt/sources.list"] + [os.path.join("/etc/apt/sources.list.d", f) for f in os.listdir("/etc/apt/sources.list.d")]:
        if os.path.isfile(p):
            sources += open(p, errors="replace").read()
    assert mirror in sources or mirror + "/" in sources
