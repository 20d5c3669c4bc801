"""The workspace provider through the real CLI, against a real registry."""

from __future__ import annotations

import os

import pytest

from engine.testing.conformance import ProviderConformance
from engine.testing.harness import Workdir


def ws_hcl(reg=None, name="ml", extra: str = "", password_var: bool = True) -> str:
    out = ""
    if reg is not None and password_var:
        out += 'variable "registry_password" {\n  type      = string\n  sensitive = true\n}\n\n'
    out += f'workspace "{name}" {{\n'
    if reg is not None:
        out += f'  registry {{\n    address  = "{reg.address}"\n    username = "{reg.username}"\n    password = var.registry_password\n  }}\n'
    out += extra + "}\n"
    return out


def test_apply_checks_registry_and_creates_artifact_root(tmp_path, workspace_registry):
    reg = workspace_registry
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_VAR_registry_password": reg.password})
    wd.write("main.hcl", ws_hcl(reg))
    r = wd.apply()
    a = wd.resource("workspace.ml")["attributes"]
    assert a["id"] == "ml" and a["name"] == "ml" and a["registry_address"] == reg.address
    assert a["artifact_root"] == os.path.join(".trainform", "workspaces", "ml")
    assert os.path.isdir(os.path.join(wd.path, a["artifact_root"]))
    assert reg.password not in open(os.path.join(wd.path, "trainform.tfstate")).read()
    assert reg.password not in r.text
    assert wd.plan("-detailed-exitcode").code == 0


def test_wrong_password_is_a_diagnostic_naming_the_registry(tmp_path, workspace_registry):
    reg = workspace_registry
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_VAR_registry_password": "bad-secret-123"})
    wd.write("main.hcl", ws_hcl(reg))
    r = wd.apply(check=False)
    assert r.code == 1
    assert "Registry credentials rejected" in r.err and reg.address in r.err and "401" in r.err
    assert "bad-secret-123" not in r.text
    assert wd.resource("workspace.ml") is None


def test_unreachable_registry(tmp_path):
    from tests.fixtures.registry import free_port

    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1"})
    wd.write("main.hcl", f'workspace "ml" {{\n  registry {{\n    address = "127.0.0.1:{free_port()}"\n  }}\n}}\n')
    r = wd.apply(check=False)
    assert r.code == 1
    assert "Registry unreachable" in r.err and "registry.sh" in r.err


def test_no_registry_plan_and_custom_artifact_root(tmp_path):
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1"})
    wd.write("main.hcl", ws_hcl(None, extra='  artifact_root = "art"\n'))
    wd.apply()
    a = wd.resource("workspace.ml")["attributes"]
    assert a["artifact_root"] == "art" and a["registry_address"] is None
    assert os.path.isdir(os.path.join(wd.path, "art"))


def test_destroy_keeps_non_empty_root_unless_forced(tmp_path):
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1"})
    wd.write("main.hcl", ws_hcl(None, extra='  artifact_root = "art"\n'))
    wd.apply()
    wd.write("art/runs/keep.txt", "x")
    r = wd.run("destroy", "-auto-approve", "-no-color", check=True)
    assert "Destroy complete!" in r.out
    assert os.path.isfile(os.path.join(wd.path, "art", "runs", "keep.txt"))
    # force_destroy removes it
    wd.write("main.hcl", ws_hcl(None, extra='  artifact_root = "art"\n  force_destroy = true\n'))
    wd.apply()
    wd.run("destroy", "-auto-approve", "-no-color", check=True)
    assert not os.path.exists(os.path.join(wd.path, "art"))
    # an empty root goes without force
    wd.write("main.hcl", ws_hcl(None, extra='  artifact_root = "art2"\n'))
    wd.apply()
    wd.run("destroy", "-auto-approve", "-no-color", check=True)
    assert not os.path.exists(os.path.join(wd.path, "art2"))


def test_invalid_name_and_address(tmp_path):
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1"})
    wd.write("main.hcl", 'workspace "ml" {\n  name = "Bad Name"\n  registry {\n    address = "http://x:5000/v2"\n  }\n}\n')
    r = wd.run("validate", "-no-color")
    assert r.code == 1
    assert "Invalid workspace name" in r.err and "Invalid registry address" in r.err


class TestWorkspaceConformance(ProviderConformance):
    address = "workspace.ml"

    @pytest.fixture(autouse=True)
    def _registry(self, workspace_registry):
        self.reg = workspace_registry

    def env(self):
        return {"NO_COLOR": "1", "TRAINFORM_VAR_registry_password": self.reg.password}

    def config(self, variant, wd):
        extra = {"initial": "", "updated": "  force_destroy = true\n", "replaced": '  name = "ml2"\n'}[variant]
        return ws_hcl(self.reg, extra=extra)

    def drift(self, wd, attributes):
        os.rmdir(os.path.join(wd.path, attributes["artifact_root"]))
        return "delete"
