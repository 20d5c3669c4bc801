"""Environment replacement builds and pushes the new image before the old tag goes,
and keeps tags that recorded runs still use (issue 12, item 5).

Real Docker Engine, a real registry with htpasswd auth and deletion enabled
(tests/integration/conftest.py), the real workspace, environment, compute
and run providers through the real CLI.
"""

from __future__ import annotations

import os
import uuid

import pytest

from engine.testing.harness import Workdir


def _hcl(reg, ws: str, v: str) -> str:
    return f'''
variable "registry_password" {{
  type      = string
  sensitive = true
}}

workspace "ml" {{
  name = "{ws}"
  registry {{
    address  = "{reg.address}"
    username = "{reg.username}"
    password = var.registry_password
  }}
}}

environment "e" {{
  workspace = workspace.ml.id
  docker {{
    base_image = "trainform/busybox:latest"
  }}
  python {{
    user_managed_dependencies = true
    interpreter               = "sh"
  }}
  env_vars = {{
    V = "{v}"
  }}
}}

compute "local" {{
  workspace = workspace.ml.id
}}

run "train" {{
  workspace        = workspace.ml.id
  source_directory = "src"
  command          = ["sh", "train.sh"]
  environment      = environment.e.id
  compute          = compute.local.id
}}
'''


@pytest.fixture
def setup(tmp_path, workspace_registry, busybox_image):
    ws = "r" + uuid.uuid4().hex[:10]
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_VAR_registry_password": workspace_registry.password,
                                      "TRAINFORM_NVIDIA_SMI": "/nonexistent/nvidia-smi"})
    wd.write("src/train.sh", 'echo "version $V"\n')
    yield wd, workspace_registry, ws
    import docker

    client = docker.from_env()
    for c in client.containers.list(all=True, filters={"label": "trainform.address=run.train"}):
        if (c.labels or {}).get("trainform.run_dir", "").startswith(str(tmp_path) + os.sep):
            c.remove(force=True)
    for img in client.images.list():
        for t in img.tags:
            if f"/{ws}/" in t:
                client.images.remove(t, force=True)


def _image(wd) -> str:
    return wd.resource("environment.e")["attributes"]["image"]


def _in_registry(reg, image: str) -> bool:
    repo, tag = image.split("/", 1)[1].rsplit(":", 1)
    return reg.client().manifest_digest(repo, tag) is not None


def _index(out: str, text: str) -> int:
    i = out.find(text)
    assert i >= 0, f"{text!r} not in:\n{out}"
    return i


def test_new_image_is_pushed_and_run_replaced_before_the_old_tag_is_deleted(setup):
    wd, reg, ws = setup
    wd.write("main.hcl", _hcl(reg, ws, "1"))
    r = wd.apply()
    assert "version 1" in r.out
    old = _image(wd)
    assert _in_registry(reg, old)
    wd.write("main.hcl", _hcl(reg, ws, "2"))
    p = wd.plan()
    assert "environment.e must be replaced" in p.out and "create replacement and then destroy" in p.out, p.out
    r = wd.apply()
    new = _image(wd)
    assert new != old
    out = r.out
    pushed = _index(out, f"Pushing {new}")
    ran = _index(out, "version 2")
    deleted = _index(out, f"deleted {old}")
    assert pushed < ran < deleted  # build+push, then the run on the new image, then the old tag goes
    assert not _in_registry(reg, old) and _in_registry(reg, new)
    assert wd.plan("-detailed-exitcode").code == 0


def test_a_failed_build_leaves_the_old_image_in_place(setup):
    wd, reg, ws = setup
    wd.write("main.hcl", _hcl(reg, ws, "1"))
    wd.apply()
    old = _image(wd)
    broken = _hcl(reg, ws, "2").replace('base_image = "trainform/busybox:latest"', 'dockerfile = "FROM trainform/busybox:latest\\nRUN exit 7\\n"')
    wd.write("main.hcl", broken)
    r = wd.apply(check=False)
    assert r.code == 1 and "Image build failed" in r.err
    assert _in_registry(reg, old)  # still there: nothing was deleted before the new image existed


def test_tags_that_recorded_runs_use_are_kept(setup):
    wd, reg, ws = setup
    wd.write("main.hcl", _hcl(reg, ws, "1"))
    wd.apply()
    old = _image(wd)
    wd.write("main.hcl", _hcl(reg, ws, "2"))
    r = wd.apply("-target=environment.e")  # the run is not replaced: its execution used the old image
    assert f"kept {old}: the recorded execution of run.train still uses it" in r.out
    assert _in_registry(reg, old) and _in_registry(reg, _image(wd))
