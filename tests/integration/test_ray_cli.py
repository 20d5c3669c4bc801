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


SECRET_CONFIG = '''
variable "token" {
  type      = string
  sensitive = true
}

workspace "ml" {}

compute "cluster" {
  workspace     = workspace.ml.id
  type          = "ray"
  gpus_per_node = 0
}

run "leak" {
  workspace        = workspace.ml.id
  source_directory = "src"
  script           = "leak.py"
  compute          = compute.cluster.id
  wait             = false
  env_vars = {
    TOKEN = var.token
  }
}
'''

LEAK = '''
import os
print("token=" + os.environ["TOKEN"], flush=True)
'''


def test_detached_ray_run_is_masked_when_refresh_collects_it_and_plan_warns(tmp_path):
    """wait = false on Ray: a Ray Job.  Plan warns that its runtime_env is on the dashboard;
    the refresh that collects it (no configuration values at hand) saves a masked log."""
    import time

    require_ray()
    secret = "raysecret-0f9e/+8d7c"
    w = Workdir(tmp_path / "w", env={"TRAINFORM_RAY_HEAD_CPUS": "2", "TRAINFORM_RAY_OBJECT_STORE_MB": "200",
                                     "TRAINFORM_VAR_token": secret})
    w.write("main.hcl", SECRET_CONFIG)
    w.write("src/leak.py", LEAK)
    try:
        r = w.apply(timeout=900)
        assert "Sensitive value visible on the Ray dashboard" in r.text and "submitted as a Ray Job" in r.text, r.text
        p = w.plan("-no-color")  # the compute is known now: plan says it too
        assert "Sensitive value visible on the Ray dashboard" in p.text and "wait = false" in p.text, p.text
        for _ in range(120):
            w.run("apply", "-refresh-only", "-auto-approve", "-no-color", check=True)
            a = w.resource("run.leak")["attributes"]
            if a["status"] != "running":
                break
            time.sleep(0.5)
        assert a["status"] == "succeeded", a
        saved = open(a["log_path"]).read()
        assert "token=***" in saved and secret not in saved, saved
        assert secret not in w.run("logs", "run.leak", check=True).out
    finally:
        w.run("destroy", "-auto-approve", "-no-color")


def test_sigterm_lets_a_ray_run_finish_and_records_it(tmp_path):
    """A closed session or `kill` (SIGTERM) during a Ray run acts like one Ctrl-C, as
    it does for local runs: the run (a task of trainform's driver subprocess, in its
    own session) finishes, its metrics and outputs are recorded, the next plan is empty."""
    import threading

    from tests.integration.test_run_adoption import Cli

    require_ray()
    w = Workdir(tmp_path / "w", env={"TRAINFORM_RAY_HEAD_CPUS": "2", "TRAINFORM_RAY_OBJECT_STORE_MB": "200", "RAY_DEDUP_LOGS": "0"})
    gate = tmp_path / "go"
    w.write("main.hcl", 'workspace "ml" {}\ncompute "cluster" {\n  workspace = workspace.ml.id\n  type = "ray"\n}\n'
            'run "train" {\n  workspace = workspace.ml.id\n  source_directory = "src"\n  script = "train.py"\n'
            '  compute = compute.cluster.id\n  timeout = "5m"\n}\noutput "acc" {\n  value = run.train.metrics.acc\n}\n')
    w.write("src/train.py", "import json, os, time\nprint('epoch start', flush=True)\n"
            f"while not os.path.exists({str(gate)!r}):\n    time.sleep(0.1)\n"
            "with open(os.environ['TRAINFORM_METRICS_FILE'], 'a') as f:\n    f.write(json.dumps({'name': 'acc', 'value': 0.75}) + '\\n')\n"
            "print('epoch done', flush=True)\n")
    cli = Cli(w)
    try:
        cli.wait_for("epoch start", 300)
        cli.signal(signal.SIGTERM)
        cli.wait_for("interrupt received")
        threading.Timer(1, gate.touch).start()
        assert cli.wait(300) == 0, cli.text
        assert "epoch done" in cli.text and "acc = 0.75" in cli.text, cli.text
        run = w.resource("run.train")["attributes"]
        assert run["status"] == "succeeded" and run["metrics"] == {"acc": 0.75}
        assert w.plan("-detailed-exitcode").code == 0
    finally:
        w.run("destroy", "-auto-approve", "-no-color")
