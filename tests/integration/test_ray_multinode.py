"""Ray at scale against a real multi-node cluster on this machine.

One cluster per module (tests/fixtures_ray.py ``ray_cluster``): a head with no
GPU and two worker nodes with one logical GPU each, separate raylets on
loopback.  trainform sees it as an *existing* cluster (``ray { address }``).

Covered: every owned node listens on loopback only; runs that take a GPU land
on worker nodes and their logs, metrics and ./outputs come back (task mode,
the default, and job mode); a sweep spreads over both workers; cancellation
and timeouts stop the command; a worker node killed mid-run fails the attempt
and the provider's retry runs it on the surviving node (recorded once).
"""

from __future__ import annotations

import os
import textwrap
import threading
import time

import pytest

import tests.fixtures_ray as fixtures
from tests.fixtures_ray import kill_node, listening_addresses

ray_cluster = fixtures.ray_cluster  # the module's cluster (a pytest fixture)

TRAIN = textwrap.dedent("""
    import json, os, sys, time
    marks = os.environ.get("MARKS")
    if marks:
        tmp = os.path.join(marks, f"tmp-{os.getpid()}")  # renamed: a reader never sees it empty
        with open(tmp, "w") as f:
            f.write(str(os.getppid()))
        os.rename(tmp, os.path.join(marks, f"start-{os.getpid()}"))
    for i in range(3):
        with open(os.environ["TRAINFORM_METRICS_FILE"], "a") as f:
            f.write(json.dumps({"name": "loss", "value": 1.0 / (i + 1), "step": i}) + "\\n")
        print("epoch", i, flush=True)
        time.sleep(float(os.environ.get("STEP_SLEEP", "0.1")))
    with open(os.environ["TRAINFORM_METRICS_FILE"], "a") as f:
        f.write(json.dumps({"name": "accuracy", "value": 0.9}) + "\\n")
    os.makedirs("outputs/model", exist_ok=True)
    with open("outputs/model/weights.txt", "w") as f:
        f.write("weights of " + os.environ.get("TRAINFORM_RUN_ID", "?"))
    print("GPU", os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
    if marks:
        with open(os.path.join(marks, f"done-{os.getpid()}"), "w") as f:
            f.write("done")
""")


def _spec(tmp_path, run_id, env=None):
    from providers.run.execution import AttemptSpec
    from providers.run.records import RunPaths

    snap = tmp_path / "snap"
    if not snap.exists():
        snap.mkdir()
        (snap / "train.py").write_text(TRAIN)
    paths = RunPaths(str(tmp_path / "art"), run_id)
    paths.create()
    base = {"TRAINFORM_RUN_ID": run_id, "TRAINFORM_METRICS_FILE": paths.metrics, "TRAINFORM_OUTPUTS_DIR": paths.outputs,
            "PYTHONUNBUFFERED": "1"}
    return AttemptSpec(run_id=run_id, address="run.r", argv=["python", "train.py"], env=dict(base, **(env or {})),
                       snapshot_dir=str(snap), paths=paths)


def _run(executor, spec, timeout_s=120, abort=lambda: False):
    from providers.run.execution import run_attempt

    lines: list[str] = []
    handle = executor.start(spec)
    try:
        result = run_attempt(handle, spec, lines.append, timeout_s, abort, time.time())
    finally:
        handle.cleanup()
    return result, lines, handle


def _existing(cluster, tmp_path):
    """The compute state trainform records for the cluster given by address."""
    from engine.providers import CREATE, ApplyRequest, PlanRequest, ProviderContext
    from providers.compute.ray_cluster import RayCompute

    ctx = ProviderContext(working_dir=str(tmp_path), data_dir=str(tmp_path))
    cfg = {"workspace": "ws-1", "type": "ray", "max_concurrent_runs": 1, "ray": {"address": cluster["head"]["dashboard_url"]}}
    plan = RayCompute().plan(ctx, PlanRequest("compute.c", None, cfg))
    resp = RayCompute().apply(ctx, ApplyRequest("compute.c", CREATE, None, plan.planned_state, cfg, plan.private))
    assert not resp.diagnostics.has_errors, resp.diagnostics
    return resp.new_state


def _worker_ids(cluster):
    return {w["node_id"] for w in cluster["workers"]}


def test_owned_nodes_listen_on_loopback_only(ray_cluster):
    from providers.compute.ray_cluster import list_nodes

    nodes = [n for n in list_nodes(ray_cluster["head"]["dashboard_url"]) if n.get("state") == "ALIVE"]
    assert len(nodes) == 3
    assert {n["node_ip"] for n in nodes} == {"127.0.0.1"}  # nothing advertised on another address
    sockets = listening_addresses([ray_cluster["head"]["session_id"]] + [w["session_id"] for w in ray_cluster["workers"]])
    assert len(sockets) >= 10, sockets  # GCS, raylets, agents, dashboard...: the check saw them
    assert {a for a, _, _ in sockets} == {"127.0.0.1"}, sorted(sockets)


def test_existing_cluster_gpu_run_on_a_worker_with_metrics_and_outputs(ray_cluster, tmp_path):
    from providers.run.executor_ray import RayExecutor
    from providers.run.metrics import read_last_values

    state = _existing(ray_cluster, tmp_path)
    assert state["cluster"] == {**state["cluster"], "owned": False, "nodes": 3, "gpus": 2}
    ex = RayExecutor.for_run(state, {"gpus": 1})
    assert ex.run_mode()[0] == "tasks"
    spec = _spec(tmp_path, "exp_1_tasks")
    result, lines, handle = _run(ex, spec)
    assert result.status == "succeeded", lines
    assert handle.node_id in _worker_ids(ray_cluster)  # the head has no GPU
    assert "epoch 2" in lines and "GPU 0" in lines
    with open(spec.paths.log(1)) as f:
        assert "epoch 2" in f.read()
    assert read_last_values(spec.paths.metrics) == {"loss": pytest.approx(1 / 3), "accuracy": 0.9}
    # ./outputs travelled back as an archive (task mode never links the workspace's folder)
    with open(os.path.join(spec.paths.outputs, "model", "weights.txt")) as f:
        assert f.read() == "weights of exp_1_tasks"


def test_existing_cluster_job_mode_keeps_logs_and_metrics(ray_cluster, tmp_path, monkeypatch):
    """Job mode (detached runs, clusters trainform cannot drive): the job's driver
    stays on the head, where Ray keeps its log, and the command runs on a worker."""
    from providers.run.executor_ray import RayExecutor
    from providers.run.metrics import read_last_values

    monkeypatch.setenv("TRAINFORM_RAY_MODE", "jobs")
    ex = RayExecutor.for_run(_existing(ray_cluster, tmp_path), {"gpus": 1})
    spec = _spec(tmp_path, "exp_2_jobs")
    result, lines, _ = _run(ex, spec)
    assert result.status == "succeeded", lines
    assert "epoch 2" in lines and "GPU 0" in lines, lines  # a GPU: only worker nodes have one
    assert not any("INFO worker.py" in line for line in lines), lines
    assert read_last_values(spec.paths.metrics) == {"loss": pytest.approx(1 / 3), "accuracy": 0.9}


def test_sweep_spreads_over_both_workers(ray_cluster, tmp_path):
    from providers.run.executor_ray import RayExecutor
    from providers.run.metrics import read_last_values

    ex = RayExecutor.for_run(_existing(ray_cluster, tmp_path), {"gpus": 1})
    specs = [_spec(tmp_path, f"exp_sweep_{i}", env={"STEP_SLEEP": "0.5"}) for i in range(4)]
    results: list = [None] * len(specs)

    def go(i):
        results[i] = _run(ex, specs[i])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(specs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0].status for r in results] == ["succeeded"] * 4
    assert {r[2].node_id for r in results} == _worker_ids(ray_cluster)
    for spec in specs:
        assert read_last_values(spec.paths.metrics)["accuracy"] == 0.9
        with open(os.path.join(spec.paths.outputs, "model", "weights.txt")) as f:
            assert f.read() == f"weights of {spec.run_id}"  # each run's own outputs


def test_timeout_and_cancel_stop_the_command(ray_cluster, tmp_path):
    from providers.run.executor_ray import RayExecutor

    marks = tmp_path / "marks"
    marks.mkdir()
    ex = RayExecutor.for_run(_existing(ray_cluster, tmp_path), {"gpus": 1})
    result, _, _ = _run(ex, _spec(tmp_path, "exp_t", env={"STEP_SLEEP": "60", "MARKS": str(marks)}), timeout_s=6)
    assert result.status == "timed_out" and result.exit_code == 143
    cancel = threading.Event()
    threading.Timer(4, cancel.set).start()
    result2, _, _ = _run(ex, _spec(tmp_path, "exp_c", env={"STEP_SLEEP": "60", "MARKS": str(marks)}), abort=cancel.is_set)
    assert result2.status == "cancelled"
    pids = [int(name.split("-")[1]) for name in os.listdir(marks) if name.startswith("start-")]
    assert len(pids) == 2
    for pid in pids:  # both commands were stopped, not left training
        deadline = time.time() + 10
        while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
            time.sleep(0.2)
        assert not os.path.exists(f"/proc/{pid}")
    assert not [n for n in os.listdir(marks) if n.startswith("done-")]


# ---------------------------------------------------------------- failures (last: they kill a node)

CONFIG = '''
workspace "ml" {}

compute "cluster" {
  workspace = workspace.ml.id
  type      = "ray"
  ray {
    address = "%(url)s"
  }
}

run "train" {
  workspace        = workspace.ml.id
  source_directory = "src"
  script           = "train.py"
  compute          = compute.cluster.id
  gpus             = 1
  max_retries      = 1
  timeout          = "5m"
  env_vars = {
    MARKS      = "%(marks)s"
    STEP_SLEEP = "%(sleep)s"
  }
}

output "accuracy" {
  value = run.train.metrics.accuracy
}
'''


def test_worker_killed_mid_run_is_retried_on_the_surviving_worker(ray_cluster, tmp_path):
    """A worker node dies while the run trains: attempt 1 fails as lost, the
    provider's retry (max_retries = 1) runs attempt 2 on the other worker, the
    run is recorded once (succeeded, 2 attempts), one execution completed, and
    the next plan is empty."""
    from engine.testing.harness import Workdir
    from providers.run.records import read_record

    marks = tmp_path / "marks"
    marks.mkdir()
    wd = Workdir(tmp_path / "w", env={"RAY_DEDUP_LOGS": "0"})
    wd.write("main.hcl", CONFIG % {"url": ray_cluster["head"]["dashboard_url"], "marks": marks, "sleep": "1.5"})
    wd.write("src/train.py", TRAIN)
    killed: list[dict] = []

    def kill_the_first_runs_node():
        deadline = time.time() + 120
        while time.time() < deadline:
            starts = [n for n in os.listdir(marks) if n.startswith("start-")]
            for start in starts:
                ray_worker = int((marks / start).read_text())  # the Ray worker process that runs the command
                sid = os.getsid(ray_worker)
                node = next((w for w in ray_cluster["workers"] if int(w["session_id"]) == sid), None)
                if node is not None:
                    kill_node(node)
                    killed.append(node)
                    return
            time.sleep(0.1)

    t = threading.Thread(target=kill_the_first_runs_node, daemon=True)
    t.start()
    r = wd.apply(timeout=300)
    t.join(5)
    assert killed, "the run never started"
    assert "accuracy = 0.9" in r.out, r.out
    assert "Retrying: attempt 2 of 2" in r.out, r.out
    run = wd.resource("run.train")["attributes"]
    assert run["status"] == "succeeded" and run["attempts"] == 2 and run["exit_code"] == 0
    record = read_record(os.path.join(os.path.dirname(run["outputs_path"]), "record.json"))
    assert [a["status"] for a in record["attempts"]] == ["failed", "succeeded"]
    with open(os.path.join(os.path.dirname(run["outputs_path"]), "logs", "attempt-1.log")) as f:
        assert "died" in f.read()
    # two executions started, one completed: nothing ran twice to success
    assert len([n for n in os.listdir(marks) if n.startswith("start-")]) == 2
    assert len([n for n in os.listdir(marks) if n.startswith("done-")]) == 1
    assert wd.plan("-detailed-exitcode").code == 0
