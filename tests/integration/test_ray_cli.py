"""Runs on a Ray compute through the real CLI: trainform starts and owns a head,
runs a script as a Ray job with live logs and metrics, re-plans to nothing,
shows the autoscaler YAML, and destroy stops the head."""

import os
import signal

import pytest

from engine.testing.harness import Workdir
from tests.fixtures_ray import require_ray

TRAIN = '''
import json, os, sys
print("rank-less training on ray", flush=True)
with open(os.environ["TRAINFORM_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"name": "accuracy", "value": 0.875, "step": 1}) + "\\n")
print("done", sys.argv[1:], flush=True)
'''

CONFIG = '''
workspace "ml" {}

compute "cluster" {
  workspace     = workspace.ml.id
  type          = "ray"
  gpus_per_node = 1
  min_nodes     = 0
  max_nodes     = 4
  idle_seconds_before_scaledown = 300
}

run "train" {
  workspace        = workspace.ml.id
  source_directory = "src"
  script           = "train.py"
  arguments        = ["--epochs", 1]
  compute          = compute.cluster.id
  timeout          = "5m"
}

output "accuracy" {
  value = run.train.metrics.accuracy
}
'''


@pytest.fixture
def wd(tmp_path):
    require_ray()
    w = Workdir(tmp_path / "w", env={"TRAINFORM_RAY_HEAD_CPUS": "2", "TRAINFORM_RAY_OBJECT_STORE_MB": "200", "RAY_DEDUP_LOGS": "0"})
    w.write("main.hcl", CONFIG)
    w.write("src/train.py", TRAIN)
    yield w
    w.run("destroy", "-auto-approve", "-no-color")


def test_run_on_an_owned_ray_head(wd):
    r = wd.apply(timeout=900)
    assert "rank-less training on ray" in r.out
    assert "run.train: Ray:" in r.out  # the plan/apply says how the environment is provided
    assert "accuracy = 0.875" in r.out
    compute = wd.resource("compute.cluster")["attributes"]
    assert compute["cluster"]["owned"] is True and compute["dashboard_url"].startswith("http://127.0.0.1:")
    run = wd.resource("run.train")["attributes"]
    assert run["status"] == "succeeded" and run["metrics"] == {"accuracy": 0.875}
    assert wd.plan("-detailed-exitcode").code == 0
    # a run no node of this fixed-size head can hold is refused by plan, not left pending by apply
    with open(os.path.join(wd.path, "main.hcl"), "a") as f:
        f.write('run "huge" {\n  workspace = workspace.ml.id\n  source_directory = "src"\n  script = "train.py"\n'
                '  compute = compute.cluster.id\n  gpus = 64\n}\n')
    r = wd.plan(check=False)
    assert r.code == 1 and "Not enough GPUs on any Ray node" in r.err and "gpus = 64" in r.err, r.err
    assert f"largest node of the Ray cluster trainform runs has {compute['cluster']['max_node_gpus']:g} GPU(s)" in r.err
    wd.write("main.hcl", CONFIG)
    shown = wd.run("show", "-no-color", check=True).out
    assert "max_workers: 4" in shown and "idle_timeout_minutes: 5" in shown
    # the owned head dies: refresh notices, the next apply starts it again (and the run is kept)
    pid = wd.resource("compute.cluster")["private"]["head"]["pid"]
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    r = wd.plan("-detailed-exitcode")
    assert r.code == 2 and "compute.cluster" in r.out
    wd.apply(timeout=900)
    r = wd.run("destroy", "-auto-approve", "-no-color", check=True)
    assert "Destroy complete!" in r.out
