"""Environment plan logic that needs no Docker: process mode, reasons, validation, names."""

from __future__ import annotations

from engine.values import UNKNOWN, Unknown
from engine.providers import PlanRequest, ProviderContext, ValidateRequest
from providers.docker.environment import EnvironmentProvider, _Prepared, env_name
from providers.docker.credentials import Credentials, resolve, usable


def _provider(lookup=lambda i: None):
    p = EnvironmentProvider()
    p.configure(ProviderContext(lookup=lookup))
    return p


def _cfg(**kw):
    cfg = {"workspace": "ml", "env_vars": None, "docker": None, "python": {"user_managed_dependencies": True, "interpreter": None, "pip_packages": None, "conda_file": None},
           "id": None, "image": None, "image_digest": None, "content_hash": None, "base_image_digest": None}
    cfg.update(kw)
    return cfg


def test_process_mode_plans_without_docker_and_replaces_on_change():
    p = _provider()
    r = p.plan(PlanRequest("environment.host", None, _cfg()))
    planned = r.planned_state
    assert planned["id"].startswith("process:host:") and planned["image"] is None and planned["image_digest"] is None
    again = p.plan(PlanRequest("environment.host", planned, _cfg(), r.private))
    assert again.requires_replace == [] and again.planned_state == planned
    changed = p.plan(PlanRequest("environment.host", planned, _cfg(env_vars={"A": "1"}), r.private))
    assert changed.requires_replace and changed.reason == "env_vars changed"
    assert changed.planned_state["id"] != planned["id"]


def test_unknown_workspace_makes_everything_unknown():
    p = _provider()
    r = p.plan(PlanRequest("environment.e", None, _cfg(workspace=UNKNOWN, docker={"base_image": "a"})))
    assert all(isinstance(r.planned_state[k], Unknown) for k in ("id", "image", "image_digest"))


def test_unknown_workspace_id_is_a_diagnostic():
    p = _provider()
    r = p.plan(PlanRequest("environment.e", None, _cfg(workspace="nope", docker={"base_image": "a"})))
    assert r.diagnostics.has_errors and "Unknown workspace" in r.diagnostics[0].summary


def test_validate_conflicts_and_missing_source():
    p = _provider()
    d = p.validate(ValidateRequest("environment.e", _cfg(docker={"base_image": "a", "dockerfile": "FROM a"}))).diagnostics
    assert d.has_errors and "base_image and dockerfile" in d[0].detail
    d = p.validate(ValidateRequest("environment.e", _cfg(docker={"build_context": "."}))).diagnostics
    assert d.has_errors and "Missing image source" == d[0].summary
    d = p.validate(ValidateRequest("environment.e", _cfg(python={"pip_packages": ["x"]}))).diagnostics
    assert d.has_errors and "docker block" in d[0].summary


def test_reason_names_base_move_and_inputs():
    p = _provider()
    old = {"inputs": {"base_images": {"reg:5000/b:1": "sha256:" + "a" * 64}, "dockerfile": None, "pip_packages": "x", "env_vars": None}}
    new = _Prepared(parts={"base_images": {"reg:5000/b:1": "sha256:" + "b" * 64}, "dockerfile": None, "pip_packages": "y", "env_vars": None})
    reason = p._reason({"content_hash": "h0"}, old, new)
    assert reason == "base image reg:5000/b:1 moved from sha256:aaaaaaaaaaaa to sha256:bbbbbbbbbbbb; pip_packages changed"


def test_env_names_are_registry_safe():
    assert env_name("environment.digits") == "digits"
    assert env_name('module.m.environment.My_Env["GPU"]') == "my-env-gpu"
    assert env_name("environment.x[0]") == "x-0"


def test_credentials_never_use_state_digests(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no docker login entries
    digest = "sha256:ab12:" + "0" * 64
    assert not usable(digest) and usable("real")
    c = resolve({"address": "r:5000", "username": "u", "password": digest})
    assert c.password is None and c.source == "none"
    c = resolve({"address": "r:5000", "username": "u", "password": "real"})
    assert c.auth_config == {"username": "u", "password": "real"} and "real" not in repr(c)
    assert isinstance(c, Credentials)
