"""The environment provider against a real Docker Engine and real registries.

Everything goes through the real CLI (engine/testing/harness.Workdir).  The
workspace registry and a private base-image registry are Debian's
docker-registry with htpasswd auth (tests/integration/conftest.py); base
images are the locally built trainform/busybox (fast) and trainform/python
(only where Python packages are installed).  Builds are counted from the
"Building image" progress line the provider prints once per build.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile

import pytest

from engine.testing.conformance import ProviderConformance
from engine.testing.harness import Workdir

BUSYBOX = "trainform/busybox:latest"


# ---------------------------------------------------------------- helpers

_WS = {"name": "ml"}


@pytest.fixture(autouse=True)
def _unique_workspace_name():
    """Each test pushes under its own workspace name: content-addressed tags of
    identical test images must not meet in the session's shared registry."""
    import uuid

    _WS["name"] = name = "t" + uuid.uuid4().hex[:10]
    yield
    try:  # leave no test images behind in the local engine
        import docker

        client = docker.from_env(timeout=30)
        for img in client.images.list():
            for t in img.tags:
                if f"/{name}/" in t:
                    client.images.remove(t, force=True)
    except Exception:  # noqa: BLE001 - clean-up only
        pass


def workspace_hcl(reg, name: str = "ml") -> str:
    return f'''
variable "registry_password" {{
  type      = string
  sensitive = true
}}

workspace "{name}" {{
  name = "{_WS['name']}"
  registry {{
    address  = "{reg.address}"
    username = "{reg.username}"
    password = var.registry_password
  }}
}}
'''


def env_hcl(name: str = "e", docker: str = f'base_image = "{BUSYBOX}"', python: str | None = 'user_managed_dependencies = true\n    interpreter = "sh"',
            env_vars: str | None = None, ws: str = "ml") -> str:
    py = f"\n  python {{\n    {python}\n  }}" if python is not None else ""
    ev = f"\n  env_vars = {env_vars}" if env_vars else ""
    return f'''
environment "{name}" {{
  workspace = workspace.{ws}.id
  docker {{
    {docker}
  }}{py}{ev}
}}
'''


def make_wd(tmp_path, reg, extra_env: dict | None = None) -> Workdir:
    env = {"NO_COLOR": "1", "TRAINFORM_VAR_registry_password": reg.password}
    env.update(extra_env or {})
    return Workdir(tmp_path / "work", env=env)


def builds(out: str) -> int:
    return out.count("Building image ")


def attrs(wd: Workdir, address: str = "environment.e") -> dict:
    return wd.resource(address)["attributes"]


def repo_tag(image: str) -> tuple[str, str]:
    ref, tag = image.rsplit(":", 1)
    return ref.split("/", 1)[1], tag


def make_wheel(path: str, version_text: str) -> str:
    """A minimal pure-Python wheel ``hello`` whose module holds ``X = version_text``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    files = {
        "hello/__init__.py": f"X = {version_text!r}\n",
        "hello-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n",
        "hello-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: trainform-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("hello-1.0.dist-info/RECORD,,")
    files["hello-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


def secrets_nowhere(wd: Workdir, outputs: list[str], *secrets: str) -> None:
    """No secret in command output, nor in any file trainform wrote (state, backups, logs, runs)."""
    for s in secrets:
        for out in outputs:
            assert s not in out
        for root, _, files in os.walk(wd.path):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    assert s.encode() not in fh.read(), os.path.join(root, f)


@pytest.fixture
def ws_reg(workspace_registry, busybox_image):
    return workspace_registry


# ---------------------------------------------------------------- tests

def test_busybox_user_managed_builds_once_then_noop(tmp_path, ws_reg, docker_client):
    wd = make_wd(tmp_path, ws_reg)
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl(env_vars='{ GREETING = "hi" }'))
    r1 = wd.apply()
    assert builds(r1.out) == 1, r1.out
    a = attrs(wd)
    assert a["image"].startswith(f"{ws_reg.address}/{_WS['name']}/e:") and a["id"] == a["image"]
    assert a["image_digest"].startswith("sha256:")
    assert a["base_image_digest"] == docker_client.images.get(BUSYBOX).id
    repo, tag = repo_tag(a["image"])
    assert ws_reg.client().manifest_digest(repo, tag) == a["image_digest"]
    # the env var is baked into the image; the image is in the local engine too
    assert "GREETING=hi" in docker_client.images.get(a["image"]).attrs["Config"]["Env"]
    # idempotence: the second plan is empty and a re-apply builds and pushes nothing
    r2 = wd.plan("-detailed-exitcode")
    assert r2.code == 0, r2.text
    r3 = wd.apply()
    assert builds(r3.out) == 0 and "Pushing" not in r3.out
    assert "0 added, 0 changed, 0 destroyed" in r3.out
    secrets_nowhere(wd, [r1.out, r1.err, r2.out, r3.out], ws_reg.password)


def test_env_vars_change_rebuilds_with_reason(tmp_path, ws_reg):
    wd = make_wd(tmp_path, ws_reg)
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl(env_vars='{ A = "1" }'))
    wd.apply()
    old = attrs(wd)["image"]
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl(env_vars='{ A = "2" }'))
    r = wd.plan()
    assert "must be replaced" in r.out and "env_vars changed" in r.out, r.out
    r = wd.apply()
    assert builds(r.out) == 1
    new = attrs(wd)["image"]
    assert new != old
    # the replaced image's tag left the registry
    repo, tag = repo_tag(old)
    assert ws_reg.client().manifest_digest(repo, tag) is None


def test_pip_layer_from_local_wheel(tmp_path, ws_reg, python_base_image, docker_client):
    wd = make_wd(tmp_path, ws_reg)
    make_wheel(os.path.join(wd.path, "wheels", "hello-1.0-py3-none-any.whl"), "v1")
    cfg = lambda: workspace_hcl(ws_reg) + env_hcl(  # noqa: E731
        docker=f'base_image = "{python_base_image}"',
        python='pip_packages = ["wheels/hello-1.0-py3-none-any.whl"]')
    wd.write("main.hcl", cfg())
    r = wd.apply()
    assert builds(r.out) == 1
    assert "--no-index" in r.out  # the pip step's command line in the build log
    image = attrs(wd)["image"]
    out = docker_client.containers.run(image, ["python3", "-c", "import hello; print(hello.X)"], remove=True, network_disabled=True)
    assert out.decode().strip() == "v1"
    assert wd.plan("-detailed-exitcode").code == 0
    # a new wheel with the same name: the content changed, so the image must be rebuilt
    make_wheel(os.path.join(wd.path, "wheels", "hello-1.0-py3-none-any.whl"), "v2")
    r = wd.plan()
    assert "pip_packages changed" in r.out, r.out


def test_missing_wheel_is_a_diagnostic(tmp_path, ws_reg):
    wd = make_wd(tmp_path, ws_reg)
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl(python='pip_packages = ["wheels/nope-1.0-py3-none-any.whl"]'))
    r = wd.plan()
    assert r.code == 1
    assert "Invalid environment build" in r.err and "nope-1.0-py3-none-any.whl" in r.err and "does not exist" in r.err
    assert "Traceback" not in r.err


def test_dockerfile_path_context_and_dockerignore(tmp_path, ws_reg, docker_client):
    wd = make_wd(tmp_path, ws_reg)
    wd.write("docker/Dockerfile", f"FROM {BUSYBOX}\nCOPY data.txt /data.txt\nCOPY . /ctx/\n")
    wd.write("docker/data.txt", "one\n")
    wd.write("docker/scratch/ignored.txt", "ignored 1\n")
    wd.write("docker/.dockerignore", "scratch/\n*.log\n")
    wd.write("docker/build.log", "noise\n")
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl(docker='dockerfile_path = "docker/Dockerfile"', python=None))
    r = wd.apply()
    assert builds(r.out) == 1
    image = attrs(wd)["image"]
    listing = docker_client.containers.run(image, ["sh", "-c", "cat /data.txt; ls -a /ctx"], remove=True).decode()
    assert "one" in listing and "Dockerfile" in listing
    assert "scratch" not in listing and "build.log" not in listing
    # an ignored file's change does not change the image
    wd.write("docker/scratch/ignored.txt", "ignored 2\n")
    wd.write("docker/build.log", "more noise\n")
    assert wd.plan("-detailed-exitcode").code == 0
    # a file that is sent does
    wd.write("docker/data.txt", "two\n")
    r = wd.plan()
    assert "build context files changed" in r.out, r.out
    # and so does the Dockerfile
    wd.write("docker/data.txt", "one\n")
    wd.write("docker/Dockerfile", f"FROM {BUSYBOX}\nCOPY data.txt /data.txt\nCOPY . /ctx/\nRUN echo changed\n")
    r = wd.plan()
    assert "Dockerfile changed" in r.out, r.out


def test_inline_dockerfile_and_build_failure(tmp_path, ws_reg):
    wd = make_wd(tmp_path, ws_reg)
    df = f'dockerfile = "FROM {BUSYBOX}\\nRUN echo built-inline > /marker\\n"'
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl(docker=df, python=None))
    r = wd.apply()
    assert builds(r.out) == 1 and "built-inline" in r.out
    assert wd.plan("-detailed-exitcode").code == 0
    # a failing step: a diagnostic naming the step and its output; nothing recorded
    bad = f'dockerfile = "FROM {BUSYBOX}\\nRUN echo step-output-here && exit 3\\n"'
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl(name="bad", docker=bad, python=None))
    r = wd.apply(check=False)
    assert r.code == 1
    assert "Image build failed" in r.err
    assert "Step 2/2 : RUN echo step-output-here" in r.err and "step-output-here" in r.err
    assert "Traceback" not in r.err
    assert wd.resource("environment.bad") is None


def test_python_check_fails_clearly(tmp_path, ws_reg):
    wd = make_wd(tmp_path, ws_reg)
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl(python="user_managed_dependencies = true"))
    r = wd.apply(check=False)
    assert r.code == 1
    assert "does not run" in r.err and "python3" in r.err
    assert wd.resource("environment.e") is None


def test_private_base_image_with_credentials_and_moved_tag(tmp_path, ws_reg, base_registry, docker_client):
    from tests.fixtures.docker_env import build_tiny_image, push_image, remove_image

    base_ref = f"{base_registry.address}/base/bb:v1"
    build_tiny_image(docker_client, "trainform-test/base-v1:latest", BUSYBOX, ["RUN echo v1 > /version"])
    d1 = push_image(docker_client, "trainform-test/base-v1:latest", base_ref, base_registry.username, base_registry.password)
    remove_image(docker_client, base_ref)  # the build must pull it, with the credentials
    base_block = f'''base_image = "base/bb:v1"
    base_image_registry {{
      address  = "{base_registry.address}"
      username = "{base_registry.username}"
      password = var.base_password
    }}'''
    hcl = workspace_hcl(ws_reg) + '''
variable "base_password" {
  type      = string
  sensitive = true
}
''' + env_hcl(docker=base_block)
    wd = make_wd(tmp_path, ws_reg, {"TRAINFORM_VAR_base_password": base_registry.password})
    wd.write("main.hcl", hcl)
    r1 = wd.apply()
    assert builds(r1.out) == 1
    assert attrs(wd)["base_image_digest"] == d1
    assert not os.path.exists(os.path.expanduser("~/.docker/config.json")) or base_registry.password not in open(os.path.expanduser("~/.docker/config.json")).read()
    assert wd.plan("-detailed-exitcode").code == 0
    # the tag moves in the base registry: the plan names the move
    build_tiny_image(docker_client, "trainform-test/base-v2:latest", BUSYBOX, ["RUN echo v2 > /version"])
    d2 = push_image(docker_client, "trainform-test/base-v2:latest", base_ref, base_registry.username, base_registry.password)
    assert d2 != d1
    r2 = wd.plan()
    want = f"base image {base_ref} moved from {d1[:19]} to {d2[:19]}"
    assert want in r2.out, r2.out
    r3 = wd.apply()
    assert builds(r3.out) == 1
    image = attrs(wd)["image"]
    assert docker_client.containers.run(image, ["cat", "/version"], remove=True).decode().strip() == "v2"
    # a wrong password: a 401 diagnostic naming the registry, never the password
    wrong = "wrong-" + base_registry.password[::-1]
    r4 = wd.plan(env={"TRAINFORM_VAR_base_password": wrong})
    assert r4.code == 1
    assert "401" in r4.err and base_registry.address in r4.err
    assert wrong not in r4.text and base_registry.password not in r4.text
    secrets_nowhere(wd, [r1.out, r2.out, r3.out, r4.out, r4.err], ws_reg.password, base_registry.password)
    for ref in (base_ref, f"{base_registry.address}/base/bb@{d1}", f"{base_registry.address}/base/bb@{d2}"):
        remove_image(docker_client, ref)


def test_wrong_workspace_password_is_named(tmp_path, ws_reg):
    wd = make_wd(tmp_path, ws_reg, {"TRAINFORM_VAR_registry_password": "not-the-password"})
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl())
    r = wd.apply(check=False)
    assert r.code == 1
    assert "Registry credentials rejected" in r.err and ws_reg.address in r.err and "401" in r.err
    assert "not-the-password" not in r.text


@pytest.mark.parametrize("cbd", [False, True], ids=["delete-first", "create-before-destroy"])
def test_image_deleted_from_registry_is_rebuilt(tmp_path, ws_reg, cbd):
    wd = make_wd(tmp_path, ws_reg)
    hcl = workspace_hcl(ws_reg) + env_hcl()
    if cbd:  # the replacement has the same content-addressed name: its delete must not remove the new tag
        hcl = hcl.rstrip().rstrip("}") + "  lifecycle {\n    create_before_destroy = true\n  }\n}\n"
    wd.write("main.hcl", hcl)
    wd.apply()
    a = attrs(wd)
    repo, tag = repo_tag(a["image"])
    assert ws_reg.client().delete_manifest(repo, a["image_digest"])
    r = wd.plan("-detailed-exitcode")
    assert r.code == 2 and "changed outside of trainform" in r.out, r.out
    r = wd.apply()
    assert builds(r.out) == 1
    assert ws_reg.client().manifest_digest(repo, tag) is not None
    assert wd.plan("-detailed-exitcode").code == 0


def test_refresh_sees_deletion_with_docker_login(tmp_path, ws_reg):
    """With `docker login` credentials refresh itself notices the deleted image (drift)."""
    cfg_dir = tmp_path / "dockercfg"
    cfg_dir.mkdir()
    token = base64.b64encode(f"{ws_reg.username}:{ws_reg.password}".encode()).decode()
    (cfg_dir / "config.json").write_text(json.dumps({"auths": {ws_reg.address: {"auth": token}}}))
    wd = make_wd(tmp_path, ws_reg, {"DOCKER_CONFIG": str(cfg_dir)})
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl())
    wd.apply()
    a = attrs(wd)
    repo, tag = repo_tag(a["image"])
    ws_reg.client().delete_manifest(repo, a["image_digest"])
    r = wd.plan("-detailed-exitcode")
    assert r.code == 2
    assert "environment.e has been deleted" in r.out, r.out
    # and `trainform destroy` can delete the tag: docker login's entry stands in for the password
    wd.apply()
    a = attrs(wd)
    r = wd.run("destroy", "-auto-approve", "-no-color", check=True)
    assert ws_reg.client().manifest_digest(repo, tag) is None, r.text


def test_removing_the_block_deletes_tag_and_local_image(tmp_path, ws_reg, docker_client):
    import docker

    wd = make_wd(tmp_path, ws_reg)
    wd.write("main.hcl", workspace_hcl(ws_reg) + env_hcl())
    wd.apply()
    a = attrs(wd)
    repo, tag = repo_tag(a["image"])
    wd.write("main.hcl", workspace_hcl(ws_reg))
    r = wd.apply()
    assert "1 destroyed" in r.out
    assert ws_reg.client().manifest_digest(repo, tag) is None
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(a["image"])


def test_no_registry_keeps_images_local(tmp_path, busybox_image, docker_client):
    wd = Workdir(tmp_path / "work", env={"NO_COLOR": "1"})
    wd.write("main.hcl", 'workspace "loc" {}\n' + env_hcl(ws="loc"))
    r = wd.apply()
    assert builds(r.out) == 1 and "Pushing" not in r.out
    a = attrs(wd)
    assert a["image"].startswith("trainform/loc/e:")
    assert a["image_digest"] == docker_client.images.get(a["image"]).id
    assert wd.plan("-detailed-exitcode").code == 0
    wd.run("destroy", "-auto-approve", "-no-color", check=True)
    import docker

    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(a["image"])


def test_process_mode_environment(tmp_path):
    wd = Workdir(tmp_path / "work", env={"NO_COLOR": "1"})
    base = 'workspace "loc" {}\n\nenvironment "host" {\n  workspace = workspace.loc.id\n  python {\n    user_managed_dependencies = true\n  }\n%s}\n'
    wd.write("main.hcl", base % "")
    wd.apply()
    a = attrs(wd, "environment.host")
    assert a["id"].startswith("process:host:") and a["docker"] is None and a["image"] is None
    assert wd.plan("-detailed-exitcode").code == 0
    wd.write("main.hcl", base % '  env_vars = { A = "1" }\n')
    r = wd.plan()
    assert "must be replaced" in r.out and "env_vars changed" in r.out, r.out
    wd.apply()
    assert attrs(wd, "environment.host")["id"] != a["id"]


def test_conflicting_image_sources_are_reported_with_a_range(tmp_path):
    wd = Workdir(tmp_path / "work", env={"NO_COLOR": "1"})
    wd.write("main.hcl", 'workspace "w" {}\n\nenvironment "e" {\n  workspace = workspace.w.id\n  docker {\n    base_image = "x"\n    dockerfile = "FROM x"\n  }\n}\n')
    r = wd.run("validate", "-no-color")
    assert r.code == 1
    assert "Conflicting configuration arguments" in r.err and "main.hcl:7" in r.err


# ---------------------------------------------------------------- conformance

class TestEnvironmentConformance(ProviderConformance):
    address = "environment.e"

    @pytest.fixture(autouse=True)
    def _registry(self, workspace_registry, busybox_image):
        self.reg = workspace_registry

    def env(self) -> dict:
        return {"NO_COLOR": "1", "TRAINFORM_VAR_registry_password": self.reg.password}

    def config(self, variant, wd):
        py = {"updated": 'user_managed_dependencies = true\n    interpreter = "/bin/sh"'}.get(variant, 'user_managed_dependencies = true\n    interpreter = "sh"')
        ev = '{ V = "2" }' if variant == "replaced" else '{ V = "1" }'
        return workspace_hcl(self.reg) + env_hcl(python=py, env_vars=ev)

    def drift(self, wd, attributes):
        repo, _ = repo_tag(attributes["image"])
        self.reg.client().delete_manifest(repo, attributes["image_digest"])
        return "delete"


def test_daemon_not_reachable_says_how_to_start_it(tmp_path):
    wd = Workdir(tmp_path / "work", env={"NO_COLOR": "1", "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    wd.write("main.hcl", 'workspace "loc" {}\n' + env_hcl(ws="loc"))
    r = wd.plan()
    assert r.code == 1
    assert "Docker daemon not reachable" in r.err and "setup-system.sh" in r.err
    assert "Traceback" not in r.text


def test_base_image_not_found(tmp_path, base_registry, busybox_image):
    wd = Workdir(tmp_path / "work", env={"NO_COLOR": "1", "TRAINFORM_VAR_base_password": base_registry.password})
    wd.write("main.hcl", 'workspace "loc" {}\n' + env_hcl(ws="loc", docker='base_image = "trainform/does-not-exist:1"'))
    r = wd.plan()
    assert r.code == 1 and "Base image not found" in r.err and "trainform/does-not-exist:1" in r.err
    # in a private registry: the registry's "manifest unknown"
    wd.write("main.hcl", 'variable "base_password" {\n  type      = string\n  sensitive = true\n}\n\nworkspace "loc" {}\n' + env_hcl(ws="loc", docker=f'''base_image = "nothing/here:v9"
    base_image_registry {{
      address  = "{base_registry.address}"
      username = "{base_registry.username}"
      password = var.base_password
    }}'''))
    r = wd.plan()
    assert r.code == 1
    assert "manifest unknown" in r.err and base_registry.address in r.err and "nothing/here:v9" in r.err
    assert base_registry.password not in r.text
