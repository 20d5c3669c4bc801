"""Mistakes about GPUs and compute sizes are caught by plan, before anything is built (issue 12, item 4).

Real providers: the builtin workspace, a Docker environment built on the
real Docker Engine, a local compute on this machine with GPU detection
pointed at nothing (a GPU-less machine) or at a fake ``nvidia-smi``.
"""

from __future__ import annotations

import os
import textwrap

import pytest

from engine.testing.harness import Workdir


def _read(path) -> str:
    with open(path) as f:
        return f.read()


def _touch(path) -> None:
    with open(path, "w"):
        pass


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _wd(tmp_path, hcl: str, smi: str = "/nonexistent/nvidia-smi") -> Workdir:
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "PYTHONPATH": REPO, "TRAINFORM_NVIDIA_SMI": smi})
    wd.write("main.hcl", textwrap.dedent(hcl))
    wd.write("src/train.sh", "echo hi\n")
    return wd


def _docker_client():
    try:
        import docker

        c = docker.from_env(timeout=10)
        c.ping()
        c.images.get("trainform/busybox:latest")
        return c
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"needs the Docker Engine and the trainform/busybox base image (scripts/base-images.sh): {type(e).__name__}")


ENV = """
workspace "pc" {}

environment "e" {
  workspace = workspace.pc.id
  docker {
    base_image = "trainform/busybox:latest"
  }
  python {
    user_managed_dependencies = true
    interpreter               = "sh"
  }
}
"""


def test_gpus_on_a_gpu_less_compute_fail_at_plan_before_the_image_is_built(tmp_path):
    client = _docker_client()
    wd = _wd(tmp_path, ENV + """
compute "cpu" {
  workspace = workspace.pc.id
}

run "train" {
  workspace        = workspace.pc.id
  source_directory = "src"
  command          = ["sh", "train.sh"]
  environment      = environment.e.id
  compute          = compute.cpu.id
  gpus             = 1
}
""")
    r = wd.apply(check=False)
    assert r.code == 1
    assert "Not enough GPUs in the compute pool" in r.err and "gpus = 1" in r.err and "CPU-only pool" in r.err
    assert "main.hcl" in r.err
    assert "Building" not in r.out and "Creating..." not in r.out  # nothing built, nothing created
    assert not [t for i in client.images.list() for t in i.tags if t.startswith("trainform/pc/")]


def test_gpus_without_a_compute_fail_at_plan(tmp_path):
    wd = _wd(tmp_path, """
workspace "pc" {}

run "train" {
  workspace        = workspace.pc.id
  source_directory = "src"
  command          = ["sh", "train.sh"]
  gpus             = 2
}
""")
    r = wd.plan()
    assert r.code == 1 and "No GPUs without a compute" in r.err and "compute = compute.NAME.id" in r.err


def test_gpus_all_on_a_gpu_less_machine_fails_at_plan(tmp_path):
    wd = _wd(tmp_path, """
workspace "pc" {}

compute "local" {
  workspace = workspace.pc.id
  gpus      = "all"
}
""")
    r = wd.plan()
    assert r.code == 1 and "No GPU on this machine" in r.err and 'gpus = "all"' in r.err
    # without gpus the same compute is a valid CPU-only pool
    wd.write("main.hcl", 'workspace "pc" {}\n\ncompute "local" {\n  workspace = workspace.pc.id\n}\n')
    assert wd.plan().code == 0


@pytest.mark.parametrize("setting", ['vm_size = "Standard_NC6"', "max_nodes = 4", "min_nodes = 1", "gpus_per_node = 2", "idle_seconds_before_scaledown = 60"])
def test_cluster_sizes_on_a_local_compute_fail_at_plan(tmp_path, setting):
    wd = _wd(tmp_path, f"""
workspace "pc" {{}}

compute "local" {{
  workspace = workspace.pc.id
  {setting}
}}
""")
    r = wd.plan()
    name = setting.split()[0]
    assert r.code == 1 and f"{name} is not supported on a local compute" in r.err and 'type = "ray"' in r.err
    assert "main.hcl" in r.err


def test_gpu_request_within_a_gpu_machine_plans(tmp_path):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '0, Fake GPU, 16384 MiB, GPU-0000'\n")
    smi.chmod(0o755)
    wd = _wd(tmp_path, """
workspace "pc" {}

compute "gpu" {
  workspace = workspace.pc.id
  gpus      = "all"
}

run "train" {
  workspace        = workspace.pc.id
  source_directory = "src"
  command          = ["sh", "train.sh"]
  compute          = compute.gpu.id
  gpus             = 1
}
""", smi=str(smi))
    r = wd.plan()
    assert r.code == 0, r.err
    wd.write("main.hcl", _read(os.path.join(wd.path, "main.hcl")).replace("gpus             = 1", "gpus             = 2"))
    r = wd.plan()
    assert r.code == 1 and "gpus = 2" in r.err and "1 GPU(s)" in r.err
