"""The registry client and the test registries against a real docker-registry.

Covers what the providers rely on: credential checks (401 names the registry,
never the password), tag -> digest look-ups, a tag moved by re-putting a
manifest, deletion (and the 405 diagnostic when deletes are disabled), and
scripts/registry.sh being idempotent.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from providers.docker.registry_client import RegistryClient, RegistryError
from tests.fixtures.docker_env import build_tiny_image, push_image, remove_image
from tests.fixtures.registry import SCRIPT


@pytest.fixture(scope="module")
def pushed(docker_client, busybox_image, workspace_registry):
    """Two different busybox-based images pushed as rc/tiny:one and rc/tiny:two."""
    reg = workspace_registry
    build_tiny_image(docker_client, "trainform-test/tiny:one", busybox_image, ["ENV WHICH=one"])
    build_tiny_image(docker_client, "trainform-test/tiny:two", busybox_image, ["ENV WHICH=two"])
    d1 = push_image(docker_client, "trainform-test/tiny:one", f"{reg.address}/rc/tiny:one", reg.username, reg.password)
    d2 = push_image(docker_client, "trainform-test/tiny:two", f"{reg.address}/rc/tiny:two", reg.username, reg.password)
    yield reg, d1, d2
    for ref in ("trainform-test/tiny:one", "trainform-test/tiny:two", f"{reg.address}/rc/tiny:one", f"{reg.address}/rc/tiny:two"):
        remove_image(docker_client, ref)


def test_ping_accepts_good_credentials(workspace_registry):
    workspace_registry.client().ping()


def test_wrong_password_is_401_naming_registry_not_password(workspace_registry):
    bad = "not-the-password-" + os.urandom(4).hex()
    with pytest.raises(RegistryError) as ei:
        workspace_registry.client(password=bad).ping()
    e = ei.value
    assert e.kind == "unauthorized" and e.status == 401
    assert workspace_registry.address in str(e)
    assert bad not in str(e) and workspace_registry.password not in str(e)


def test_no_credentials_is_unauthorized(workspace_registry):
    with pytest.raises(RegistryError) as ei:
        RegistryClient(workspace_registry.address).ping()
    assert ei.value.kind == "unauthorized"


def test_unreachable_registry():
    from tests.fixtures.registry import free_port

    with pytest.raises(RegistryError) as ei:
        RegistryClient(f"127.0.0.1:{free_port()}", "u", "p", timeout=3).ping()
    assert ei.value.kind == "unreachable"


def test_digest_lookup_move_and_delete(pushed):
    reg, d1, d2 = pushed
    c = reg.client()
    assert d1 != d2
    assert c.manifest_digest("rc/tiny", "one") == d1
    assert c.manifest_digest("rc/tiny", "missing") is None
    assert c.manifest_digest("rc/nothing-here", "latest") is None
    # move tag "moving" from one to two, as a re-pushed base tag would
    body, ctype, digest = c.get_manifest("rc/tiny", "one")
    assert digest == d1
    c.put_manifest("rc/tiny", "moving", body, ctype)
    assert c.manifest_digest("rc/tiny", "moving") == d1
    body2, ctype2, _ = c.get_manifest("rc/tiny", "two")
    c.put_manifest("rc/tiny", "moving", body2, ctype2)
    assert c.manifest_digest("rc/tiny", "moving") == d2
    assert set(c.tags("rc/tiny")) >= {"one", "two", "moving"}
    # delete by digest: every tag on that manifest goes
    assert c.delete_manifest("rc/tiny", d1) is True
    assert c.manifest_digest("rc/tiny", "one") is None
    assert c.delete_manifest("rc/tiny", d1) is False


def test_deletes_disabled_gives_405_explanation(registry, docker_client, busybox_image):
    reg = registry(username="nodel")
    # rewrite its config with deletion off and restart it on the same port/data
    cfg = os.path.join(reg.data_dir, "config.yml")
    subprocess.run(["bash", SCRIPT, "stop", "--port", str(reg.port), "--data", reg.data_dir], check=True)
    text = open(cfg).read().replace("enabled: true", "enabled: false", 1)
    open(cfg, "w").write(text)
    pid = subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={"PATH": os.environ["PATH"]})
    try:
        import time

        c = reg.client()
        for _ in range(50):
            try:
                c.ping()
                break
            except RegistryError:
                time.sleep(0.1)
        build_tiny_image(docker_client, "trainform-test/tiny:nodel", busybox_image, ["ENV X=1"])
        d = push_image(docker_client, "trainform-test/tiny:nodel", f"{reg.address}/rc/nodel:x", reg.username, reg.password)
        with pytest.raises(RegistryError) as ei:
            c.delete_manifest("rc/nodel", d)
        assert ei.value.kind == "deletes_disabled"
        assert "405" in str(ei.value) and "delete" in str(ei.value)
    finally:
        pid.terminate()
        pid.wait(10)
        remove_image(docker_client, f"{reg.address}/rc/nodel:x")
        remove_image(docker_client, "trainform-test/tiny:nodel")


def test_registry_script_is_idempotent_and_rekeys(registry):
    reg = registry(username="idem")
    env = dict(os.environ, REGISTRY_PASSWORD=reg.password)
    args = ["bash", SCRIPT, "start", "--port", str(reg.port), "--user", reg.username, "--data", reg.data_dir]
    pid_before = open(os.path.join(reg.data_dir, "registry.pid")).read()
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == reg.address
    assert open(os.path.join(reg.data_dir, "registry.pid")).read() == pid_before  # not restarted
    # new password: restarted with the new credentials, the old ones refused
    new_pw = "rotated-" + os.urandom(4).hex()
    r = subprocess.run(args, capture_output=True, text=True, env=dict(env, REGISTRY_PASSWORD=new_pw), timeout=60)
    assert r.returncode == 0, r.stderr
    reg.client(password=new_pw).ping()
    with pytest.raises(RegistryError):
        reg.client().ping()
    reg.password = new_pw
    assert new_pw not in open(os.path.join(reg.data_dir, "config.yml")).read()
