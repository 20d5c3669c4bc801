"""Every configuration under examples/ applies, reports its accuracy, and a
second apply is a no-op.

Each example runs in a copy (its state and artifacts stay out of the
repository).  The quickstart needs Docker, the registry and the Python base
image; process-mode needs only the host's Python with numpy.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

from engine.testing.harness import Workdir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(REPO, "examples")
PYTHON_BASE = "trainform/python:3.11-bookworm"


def _examples():
    return sorted(d for d in os.listdir(EXAMPLES) if os.path.isfile(os.path.join(EXAMPLES, d, "main.hcl")))


def _needs_docker(name: str) -> bool:
    with open(os.path.join(EXAMPLES, name, "main.hcl")) as f:
        return "docker {" in f.read()


def _require_providers():
    for mod in ("providers.builtin.workspace", "providers.docker.environment"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not in this checkout yet (workspace/environment providers)")


def _docker_env(request) -> dict:
    """Docker, the Python base image and a registry with credentials, or skip."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no Docker Engine answers ({type(e).__name__})")
    try:
        request.getfixturevalue("python_base_image")
    except pytest.FixtureLookupError:
        try:
            client.images.get(PYTHON_BASE)
        except Exception:  # noqa: BLE001
            pytest.skip(f"base image {PYTHON_BASE} is missing (scripts/base-images.sh builds it)")
    reg = _registry(request)
    return reg


def _registry(request) -> dict:
    """Address and credentials of a registry: the environment's, or the test fixture's."""
    user = os.environ.get("TRAINFORM_VAR_registry_username")
    password = os.environ.get("TRAINFORM_VAR_registry_password")
    if user and password:
        return {"TRAINFORM_VAR_registry_username": user, "TRAINFORM_VAR_registry_password": password}
    try:
        factory = request.getfixturevalue("registry")
    except pytest.FixtureLookupError:
        pytest.skip("registry: no fixture and no TRAINFORM_VAR_registry_password for the registry on 127.0.0.1:5000")
    reg = factory() if callable(factory) else factory
    get = (lambda k: reg.get(k)) if isinstance(reg, dict) else (lambda k: getattr(reg, k, None))
    out = {"TRAINFORM_VAR_registry_username": get("username") or get("user"), "TRAINFORM_VAR_registry_password": get("password")}
    address = get("address") or (f"127.0.0.1:{get('port')}" if get("port") else None)
    if address:
        out["TRAINFORM_VAR_registry_address"] = address
    return out


@pytest.mark.parametrize("name", _examples())
def test_example(name, tmp_path, request):
    _require_providers()
    env = {"NO_COLOR": "1"}
    if _needs_docker(name):
        env.update(_docker_env(request))
    else:
        if importlib.util.find_spec("numpy") is None:
            pytest.skip("the host's Python has no numpy (process-mode example)")
    # the whole examples/ tree: examples may share code (process-mode reuses the quickstart's train/)
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns(".trainform", "*.tfstate*", "artifacts", "outputs"))
    work = tmp_path / "examples" / name
    wd = Workdir(str(work), env=env)
    wd.run("init", "-no-color", check=True)
    r = wd.apply(timeout=900)
    assert "Apply complete!" in r.out
    acc = wd.run("output", "-raw", "accuracy", check=True).out.strip()
    assert 0.5 < float(acc) <= 1.0, r.out
    # every run succeeded and saved its model (the sweep has one per module instance)
    runs = [r["attributes"] for r in wd.state()["resources"] if r["type"] == "run"]
    assert runs, r.out
    for run in runs:
        assert run["status"] == "succeeded"
        assert os.path.isfile(os.path.join(run["outputs_path"], "model.npz"))
    if name == "sweep":
        import json

        outs = json.loads(wd.run("output", "-json", check=True).out)
        accs = outs["accuracies"]["value"]
        assert len(runs) == len(accs) == 3
        assert accs[outs["best_trial"]["value"]] == max(accs.values()) == float(acc)
    # the second apply is a no-op
    r2 = wd.apply()
    assert "0 added, 0 changed, 0 destroyed" in r2.out
    assert wd.plan("-detailed-exitcode").code == 0
