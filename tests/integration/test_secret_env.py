"""Secrets are refused where they would be baked into an image (issue 11, item 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.testing.harness import Workdir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SECRET = "hunter2-baked-secret"

CONFIG = """\
variable "pw" {
  type      = string
  sensitive = true
}
workspace "ws" {}
environment "e" {
  workspace = workspace.ws.id
  docker {
    base_image = "trainform/busybox:latest"
    build_args = {
      VERSION = "1"
      TOKEN   = var.pw
    }
  }
  env_vars = {
    A = "x"
    B = "${var.pw}-suffix"
  }
}
"""


@pytest.fixture
def wd(tmp_path):
    w = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_VAR_pw": SECRET,
                                      "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))})
    w.write("main.hcl", CONFIG)
    return w


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_sensitive_env_vars_and_build_args_are_refused_at_the_attribute(wd, command):
    r = wd.run(command, "-no-color")
    assert r.code == 1, r.text
    assert "Error: Sensitive value in docker.build_args[\"TOKEN\"]" in r.err
    assert "main.hcl:12:17" in r.err and "TOKEN   = var.pw" in r.err  # the frame shows the attribute, not the block
    assert "pass secrets at run time" in r.err.lower() and "run's env_vars" in r.err
    if command == "plan":  # validate sees var.pw unknown inside the template
        assert 'Error: Sensitive value in env_vars["B"]' in r.err and "main.hcl:17:9" in r.err
    assert SECRET not in r.text
    assert "VERSION" not in r.err  # only the sensitive entries are named


def _env_images() -> set[str]:
    docker = pytest.importorskip("docker", reason="docker-py (the Docker Engine client) is not installed")
    return {t for i in docker.from_env().images.list() for t in i.tags if t.startswith("trainform/ws/e:")}


def test_nothing_is_built_or_stored_when_refused(wd):
    before = _env_images()
    r = wd.run("apply", "-auto-approve", "-no-color")
    assert r.code == 1 and "Sensitive value in" in r.err
    st = Path(wd.path, "trainform.tfstate")
    assert not st.exists() or SECRET not in st.read_text()
    assert _env_images() == before  # nothing was built


def test_every_image_input_is_refused_but_base_registry_credentials_are_fine(wd):
    wd.write("main.hcl", """\
variable "pw" {
  type      = string
  sensitive = true
}
workspace "ws" {}
environment "e" {
  workspace = workspace.ws.id
  docker {
    dockerfile = "FROM trainform/busybox:latest\\nRUN echo ${var.pw}\\n"
  }
  python {
    pip_packages = ["requests", "git+https://${var.pw}@example.com/x.git"]
  }
}
environment "ok" {
  workspace = workspace.ws.id
  docker {
    base_image = "127.0.0.1:1/bb:1"
    base_image_registry {
      address  = "127.0.0.1:1"
      username = "u"
      password = var.pw
    }
  }
}
""")
    r = wd.run("plan", "-no-color")
    assert "Sensitive value in docker.dockerfile" in r.err and "Sensitive value in python.pip_packages" in r.err, r.err
    assert r.err.count("Error: Sensitive value") == 2  # base_image_registry's password is not refused
    assert SECRET not in r.text
