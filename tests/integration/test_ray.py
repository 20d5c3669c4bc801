"""Ray compute and Ray runs against a real Ray head (started on loopback by a fixture).

Modules tested directly: providers.compute.ray_cluster (owned head, existing
cluster, autoscaler YAML) and providers.run.executor_ray driven by the same
attempt loop local runs use (providers.run.execution.run_attempt).
"""

from __future__ import annotations

import os
import signal
import textwrap
import time

import pytest

import tests.fixtures_ray as fixtures
from tests.fixtures_ray import require_ray, stop

ray_head = fixtures.ray_head  # the module's head (a pytest fixture)

TRAIN = textwrap.dedent("""
    import json, os, sys, time
    print("args", sys.argv[1:], flush=True)
    for i in range(3):
        with open(os.environ["TRAINFORM_METRICS_FILE"], "a") as f:
            f.write(json.dumps({"name": "loss", "value": 1.0 / (i + 1), "step": i}) + "\\n")
        print("epoch", i, flush=True)
        time.sleep(float(os.environ.get("STEP_SLEEP", "0.2")))
    with open(os.environ["TRAINFORM_METRICS_FILE"], "a") as f:
        f.write(json.dumps({"name": "accuracy", "value": 0.9}) + "\\n")
    with open("outputs/model.txt", "w") as f:
        f.write("weights")
    print("CUDA", os.environ.get("CUDA_VISIBLE_DEVICES"), "FOO", os.environ.get("FOO"), flush=True)
    sys.exit(int(os.environ.get("EXIT", "0")))
""")

ALLREDUCE = textwrap.dedent("""
    import json, os
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t)
    print(f"rank={rank} world={world} local={os.environ['LOCAL_RANK']} sum={t.item():g}", flush=True)
    assert t.item() == world * (world + 1) / 2, t.item()
    if rank == 0:
        with open(os.environ["TRAINFORM_METRICS_FILE"], "a") as f:
            f.write(json.dumps({"name": "allreduce_sum", "value": t.item()}) + "\\n")
    dist.barrier()
    dist.destroy_process_group()
""")


# ---------------------------------------------------------------- helpers

def _snapshot(tmp_path, name="snap", files=None):
    d = tmp_path / name
    d.mkdir()
    for fname, text in (files or {"train.py": TRAIN}).items():
        (d / fname).write_text(text)
    return str(d)


def _spec(tmp_path, snap, argv=None, env=None, run_id="exp_1_abcd"):
    from providers.run.execution import AttemptSpec
    from providers.run.records import RunPaths

    paths = RunPaths(str(tmp_path / "art"), run_id)
    paths.create()
    base = {"TRAINFORM_RUN_ID": run_id, "TRAINFORM_METRICS_FILE": paths.metrics, "TRAINFORM_OUTPUTS_DIR": paths.outputs,
            "PYTHONUNBUFFERED": "1"}
    return AttemptSpec(run_id=run_id, address="run.r", argv=argv or ["python", "train.py", "--epochs", "3"],
                       env=dict(base, **(env or {})), snapshot_dir=snap, paths=paths)


def _run(executor, spec, timeout_s=None, abort=lambda: False):
    from providers.run.execution import run_attempt

    lines: list[str] = []
    handle = executor.start(spec)
    result = run_attempt(handle, spec, lines.append, timeout_s, abort, time.time())
    return result, lines, handle


class _Ctx:
    """A ProviderContext for calling RayCompute directly."""

    def __new__(cls, data_dir):
        from engine.providers import ProviderContext

        return ProviderContext(working_dir=str(data_dir), data_dir=str(data_dir))


def _compute_cfg(address=None, **kw):
    cfg = {"workspace": "ws-1", "type": "ray", "max_concurrent_runs": 1, "gpus_per_node": 2, "min_nodes": 0,
           "max_nodes": 4, "ray": {"address": address} if address else None}
    cfg.update(kw)
    return cfg


def _create(rc, ctx, cfg, address="compute.cluster"):
    from engine.providers import CREATE, ApplyRequest, PlanRequest

    plan = rc.plan(ctx, PlanRequest(address, None, cfg))
    assert not plan.diagnostics.has_errors
    resp = rc.apply(ctx, ApplyRequest(address, CREATE, None, plan.planned_state, cfg, plan.private))
    return plan, resp


# ---------------------------------------------------------------- no cluster needed

def test_ray_available_says_what_to_install(monkeypatch):
    import importlib.util

    from providers.compute.ray_cluster import ray_available

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    ok, why = ray_available()
    assert not ok
    assert "pip install 'trainform[ray]'" in why


def test_autoscaler_yaml_maps_scaling_settings_and_passes_rays_schema():
    import yaml
    from ray.autoscaler._private.util import prepare_config, validate_config

    from providers.compute.ray_cluster import (
        autoscaler_yaml,
        local_autoscaler_config,
        show_extra,
    )

    doc = yaml.safe_load(autoscaler_yaml({"type": "ray", "min_nodes": 1, "max_nodes": 4, "idle_seconds_before_scaledown": 130,
                                          "gpus_per_node": 2, "vm_size": "Standard_NC6"}, "cluster"))
    assert (doc["min_workers"], doc["max_workers"], len(doc["provider"]["worker_ips"])) == (1, 4, 4)
    assert doc["idle_timeout_minutes"] == 3  # 130 s rounded up to whole minutes
    assert doc["worker_start_ray_commands"][-1].endswith("--num-gpus=2")
    full = prepare_config(doc)  # what `ray up` does with the file: Ray's defaults, then its JSON schema
    validate_config(full)
    assert full["available_node_types"]["local.cluster.node"]["min_workers"] == 1
    # the local autoscaler's config (fake multi-node provider) passes the same schema
    local = local_autoscaler_config({"min_nodes": 0, "max_nodes": 2, "idle_seconds_before_scaledown": 30, "gpus_per_node": 1},
                                    "127.0.0.1:6379")
    validate_config(local)
    worker = local["available_node_types"]["trainform.gpu_worker"]
    assert (worker["min_workers"], worker["max_workers"], worker["resources"]) == (0, 2, {"CPU": 1, "GPU": 1})
    assert local["idle_timeout_minutes"] == 0.5
    text = show_extra('compute.cluster', {"type": "ray", "max_nodes": 2})
    assert "max_workers: 2" in text and "idle_timeout_minutes" in text
    assert show_extra("compute.local", {"type": "local"}) is None


def test_environment_plan_sentences():
    from providers.run.executor_ray import environment_plan

    img = {"id": "env-1", "image": "127.0.0.1:5000/env:1", "docker": {"base_image": "busybox"}, "python": {"user_managed_dependencies": True}}
    rt, note = environment_plan(img, {"images": True})
    assert rt == {"image_uri": "127.0.0.1:5000/env:1"} and "image" in note
    rt, note = environment_plan(img, {"images": False})
    assert rt == {} and "cluster's own Python" in note and "cannot run" in note
    pip = {"id": "env-2", "docker": {"base_image": "python:3.11"}, "python": [{"pip_packages": ["numpy==1.26.4"]}]}
    rt, note = environment_plan(pip, {})
    assert rt == {"pip": ["numpy==1.26.4"]} and "pip" in note
    assert environment_plan(None, {})[0] == {}


def test_job_env_and_entrypoint(monkeypatch):
    import sys

    from providers.run.executor_ray import build_entrypoint, job_env

    env = job_env({"PATH": "/usr/bin", "HOME": "/root", "FOO": "bar", "TRAINFORM_RUN_ID": "r", "CUDA_VISIBLE_DEVICES": ""},
                  host_env={"PATH": "/usr/bin", "HOME": "/root", "TRAINFORM_RUN_ID": "r"})
    assert env == {"FOO": "bar", "TRAINFORM_RUN_ID": "r"}
    e = build_entrypoint([sys.executable, "train.py", "--lr", "0.1 x"], 2, 1, 0)
    assert e.startswith("python -m trainform_ray_launcher --nproc 2 --cpus-per-rank 1 --gpus-per-rank 0 -- python train.py")
    assert "'0.1 x'" in e


def test_unreachable_cluster_is_none_and_apply_explains(tmp_path):
    from providers.compute.ray_cluster import RayCompute, check_cluster
    from providers.compute.ray_nodes import _free_port

    dead = f"http://127.0.0.1:{_free_port()}"
    assert check_cluster(dead, timeout=1) is None
    _, resp = _create(RayCompute(), _Ctx(tmp_path), _compute_cfg(dead))
    assert resp.new_state is None
    assert resp.diagnostics.has_errors
    assert "does not answer" in resp.diagnostics[0].summary


# ---------------------------------------------------------------- against the module's head

def test_check_cluster_records_resources(ray_head):
    from providers.compute.ray_cluster import check_cluster

    info = check_cluster(ray_head["dashboard_url"])
    assert info["nodes"] == 1 and info["cpus"] == 2 and info["gpus"] == 2


def test_run_succeeds_with_logs_metrics_and_outputs(ray_head, tmp_path):
    from providers.run.executor_ray import MARKER, RayExecutor
    from providers.run.metrics import read_last_values

    spec = _spec(tmp_path, _snapshot(tmp_path), env={"FOO": "bar"})
    result, lines, _ = _run(RayExecutor(ray_head["dashboard_url"], gpus=1), spec)
    assert result.status == "succeeded" and result.exit_code == 0
    assert "args ['--epochs', '3']" in lines and "epoch 2" in lines
    assert "CUDA 0 FOO bar" in lines or "CUDA 1 FOO bar" in lines  # one logical GPU assigned by Ray
    assert not any(MARKER in line for line in lines)
    with open(spec.paths.log(1)) as f:
        saved = f.read()
    assert "epoch 2" in saved and MARKER not in saved
    assert read_last_values(spec.paths.metrics) == {"loss": pytest.approx(1 / 3), "accuracy": 0.9}
    with open(os.path.join(spec.paths.outputs, "model.txt")) as f:  # the head runs on this machine
        assert f.read() == "weights"
    # the snapshot itself is untouched: runs work in a private copy
    assert sorted(os.listdir(spec.snapshot_dir)) == ["train.py"]


@pytest.mark.parametrize("mode", ["tasks", "jobs"])
def test_failing_run_is_failed_with_its_exit_code(ray_head, tmp_path, monkeypatch, mode):
    from providers.run.executor_ray import RayExecutor, RayJobs

    monkeypatch.setenv("TRAINFORM_RAY_MODE", mode)
    spec = _spec(tmp_path, _snapshot(tmp_path), env={"EXIT": "3"})
    ex = RayExecutor(ray_head["dashboard_url"])
    assert ex.run_mode()[0] == mode
    result, lines, handle = _run(ex, spec)
    assert result.status == "failed" and result.exit_code == 3
    assert "epoch 2" in lines
    if mode == "jobs":
        assert RayJobs(ray_head["dashboard_url"]).status(handle.job_id)[0] == "failed"


def test_timeout_stops_the_job(ray_head, tmp_path, monkeypatch):
    from providers.run.executor_ray import RayExecutor, RayJobs

    monkeypatch.setenv("TRAINFORM_RAY_MODE", "jobs")

    spec = _spec(tmp_path, _snapshot(tmp_path), env={"STEP_SLEEP": "60"})
    result, lines, handle = _run(RayExecutor(ray_head["dashboard_url"]), spec, timeout_s=8)
    assert result.status == "timed_out"
    assert RayJobs(ray_head["dashboard_url"]).status(handle.job_id)[0] == "cancelled"  # Ray: STOPPED
    assert "epoch 1" not in lines


def test_detached_run_is_collected_by_inspect(ray_head, tmp_path):
    from providers.run.executor_ray import RayExecutor
    from providers.run.metrics import read_last_values

    ex = RayExecutor(ray_head["dashboard_url"])
    spec = _spec(tmp_path, _snapshot(tmp_path))
    ident = ex.start_detached(spec)
    assert ident.startswith(ray_head["dashboard_url"] + "#")
    reader = RayExecutor()  # refresh in another process: the ident is enough
    deadline = time.time() + 90
    while True:
        kind, code, logs = reader.inspect(ident, spec.paths)
        if kind != "running" or time.time() > deadline:
            break
        time.sleep(0.5)
    assert (kind, code) == ("exited", 0)
    assert "epoch 2" in logs and "##trainform-metric##" not in logs
    assert read_last_values(spec.paths.metrics)["accuracy"] == 0.9
    # and a long one is stopped by kill_detached (destroy / refresh timeout)
    long_spec = _spec(tmp_path, _snapshot(tmp_path, "snap2"), env={"STEP_SLEEP": "60"}, run_id="exp_2_long")
    ident2 = ex.start_detached(long_spec)
    reader.kill_detached(ident2)
    deadline = time.time() + 60
    while reader.inspect(ident2)[0] == "running" and time.time() < deadline:
        time.sleep(0.5)
    assert reader.inspect(ident2)[:2] == ("cancelled", 143)


def test_detached_job_masks_sensitive_values_at_source_and_when_collected(ray_head, tmp_path):
    """A Ray Job's log lives on the cluster (the dashboard shows it): the launcher masks the
    command's output itself, and inspect (a refresh, with no configuration values) masks the
    collected log again with the values read from the job's runtime_env and entrypoint."""
    import base64

    from providers.run.executor_ray import RayExecutor, RayJobs, _parse_ident

    secret, arg = "envsecret-Q7/+:c0ffee", "argsecret-5d1f0b77"
    leak = ("import base64, os, sys\nt = os.environ['TOKEN']\nprint('env=' + t, 'arg=' + sys.argv[2], flush=True)\n"
            "print('b64=' + base64.b64encode(t.encode()).decode(), file=sys.stderr, flush=True)\n"
            "print('inherited=' + os.environ.get('TRAINFORM_MASK_ENV', 'no'), flush=True)\n")
    spec = _spec(tmp_path, _snapshot(tmp_path, files={"leak.py": leak}), argv=["python", "leak.py", "--key", arg], env={"TOKEN": secret})
    spec.mask_targets = {"env": ["TOKEN"], "argv": [3]}
    ident = RayExecutor(ray_head["dashboard_url"]).start_detached(spec)
    deadline = time.time() + 90
    while True:
        kind, code, logs = RayExecutor().inspect(ident, spec.paths, spec.mask_targets)
        if kind != "running" or time.time() > deadline:
            break
        time.sleep(0.5)
    assert (kind, code) == ("exited", 0), logs
    url, job = _parse_ident(ident)
    on_cluster = RayJobs(url).logs(job)  # what the dashboard and `ray job logs` show
    assert "env=*** arg=***" in logs and "b64=***" in logs and "inherited=no" in logs, logs
    assert "env=*** arg=***" in on_cluster, on_cluster
    for form in (secret, base64.b64encode(secret.encode()).decode()):
        assert form not in logs and form not in on_cluster
    assert arg not in logs  # (Ray echoes the entrypoint into its own log: arguments are public, plan warns)
    from pathlib import Path

    # not in the job's own log files on the node (Ray keeps the runtime_env in its job table and
    # logs it in runtime_env_agent.log, both shown by the dashboard: plan warns about it)
    hits = [str(p) for p in Path(ray_head["temp_dir"]).rglob(f"job-driver-{job}*") if secret.encode() in p.read_bytes()]
    assert list(Path(ray_head["temp_dir"]).rglob(f"job-driver-{job}*")) and not hits, hits


def test_task_mode_leaves_no_sensitive_value_on_the_cluster(ray_head, tmp_path, monkeypatch):
    """Task mode (wait = true): the variables travel as a task argument and the output
    comes back over the task's stream, so no file of the cluster (logs, runtime
    resources) holds a sensitive value, and trainform's log of it is masked."""
    from pathlib import Path

    from providers.run.executor_ray import RayExecutor
    from providers.run.masking import Masker

    monkeypatch.setenv("TRAINFORM_RAY_MODE", "tasks")
    secret = "tasksecret-8e1d/c3a9f"
    leak = "import os, sys\nprint('env=' + os.environ['TOKEN'], flush=True)\nprint('err=' + os.environ['TOKEN'], file=sys.stderr)\n"
    spec = _spec(tmp_path, _snapshot(tmp_path, files={"leak.py": leak}), argv=["python", "leak.py"], env={"TOKEN": secret})
    spec.mask, spec.mask_targets = Masker([secret]), {"env": ["TOKEN"]}
    result, lines, handle = _run(RayExecutor(ray_head["dashboard_url"]), spec, timeout_s=120)
    assert result.status == "succeeded" and "#task:" in handle.ident, lines
    assert "env=***" in lines and "err=***" in lines, lines
    assert secret not in Path(spec.paths.log(1)).read_text()
    hits = [str(p) for p in Path(ray_head["temp_dir"]).rglob("*")
            if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes()]
    assert not hits, hits


def test_two_rank_allreduce(ray_head, tmp_path):
    pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0 from the local wheel)")
    from providers.run.executor_ray import RayExecutor
    from providers.run.metrics import read_last_values

    spec = _spec(tmp_path, _snapshot(tmp_path, files={"dist.py": ALLREDUCE}), argv=["python", "dist.py"])
    result, lines, _ = _run(RayExecutor(ray_head["dashboard_url"], instance_count=2), spec, timeout_s=240)
    text = "\n".join(lines)
    assert result.status == "succeeded", text
    assert "[rank 0] rank=0 world=2 local=0 sum=3" in lines, text
    assert "[rank 1] rank=1 world=2 local=1 sum=3" in lines, text
    assert read_last_values(spec.paths.metrics) == {"allreduce_sum": 3.0}


def test_existing_cluster_mode(ray_head, tmp_path):
    from engine.providers import DELETE, ApplyRequest, ReadRequest
    from providers.compute.ray_cluster import RayCompute, check_cluster

    rc, ctx = RayCompute(), _Ctx(tmp_path)
    cfg = _compute_cfg(ray_head["dashboard_url"])
    _plan, resp = _create(rc, ctx, cfg)
    assert not resp.diagnostics.has_errors, resp.diagnostics
    st = resp.new_state
    assert st["dashboard_url"] == ray_head["dashboard_url"]
    assert st["cluster"]["owned"] is False and st["cluster"]["nodes"] == 1 and st["cluster"]["gpus"] == 2
    assert "head" not in (resp.private or {})
    again = rc.read(ctx, ReadRequest("compute.cluster", st, resp.private))
    assert again.new_state["cluster"] == st["cluster"]
    gone = rc.apply(ctx, ApplyRequest("compute.cluster", DELETE, st, None, None, resp.private))
    assert gone.new_state is None
    assert check_cluster(ray_head["dashboard_url"]) is not None  # destroy only forgets a cluster it does not own


# ---------------------------------------------------------------- heads of their own

def test_owned_head_lifecycle_and_head_killed_mid_run(tmp_path):
    """apply starts a head; a run on it fails clearly when the head dies; refresh
    reads the dead head as gone; the next apply starts it again; destroy stops it."""
    require_ray()
    from engine.providers import DELETE, ApplyRequest, ReadRequest
    from providers.compute.ray_cluster import RayCompute, check_cluster, head_alive
    from providers.run.executor_ray import RayExecutor

    os.environ["TRAINFORM_RAY_HEAD_CPUS"] = "2"
    rc, ctx = RayCompute(), _Ctx(tmp_path)
    cfg = _compute_cfg(None, gpus_per_node=1)
    _plan, resp = _create(rc, ctx, cfg)
    rec = (resp.private or {}).get("head")
    try:
        assert not resp.diagnostics.has_errors, resp.diagnostics
        st = resp.new_state
        assert st["cluster"]["owned"] is True and st["cluster"]["gpus"] == 1
        assert head_alive(rec)
        # a run in flight when the head is killed
        spec = _spec(tmp_path, _snapshot(tmp_path), env={"STEP_SLEEP": "30"})
        ex = RayExecutor.for_run(st, {"gpus": 1})
        from providers.run.execution import run_attempt

        handle = ex.start(spec)
        lines: list[str] = []

        def kill_when_running():
            deadline = time.time() + 60
            while "epoch 0" not in lines and time.time() < deadline:
                time.sleep(0.2)
            os.killpg(rec["pid"], signal.SIGKILL)

        import threading

        threading.Thread(target=kill_when_running, daemon=True).start()
        result = run_attempt(handle, spec, lines.append, 120, lambda: False, time.time())
        assert result.status == "failed", lines
        assert any("stopped answering" in line for line in lines), lines
        stop(rec)  # reap what SIGKILL of the group left
        # refresh: the owned head is gone -> planned again
        read = rc.read(ctx, ReadRequest("compute.cluster", st, resp.private))
        assert read.new_state is None
        assert any("not running" in d.summary for d in read.diagnostics)
        _plan2, resp2 = _create(rc, ctx, cfg)
        rec = resp2.private["head"]
        assert not resp2.diagnostics.has_errors and check_cluster(resp2.new_state["dashboard_url"])["gpus"] == 1
        gone = rc.apply(ctx, ApplyRequest("compute.cluster", DELETE, resp2.new_state, None, None, resp2.private))
        assert gone.new_state is None
        assert check_cluster(resp2.new_state["dashboard_url"], timeout=2) is None
    finally:
        os.environ.pop("TRAINFORM_RAY_HEAD_CPUS", None)
        stop(rec)


def test_impossible_and_queued_runs(ray_head, tmp_path):
    """A run no node can hold is refused on an owned (fixed-size) head; a run
    still queued in Ray when its timeout passes is stopped and reported timed out."""
    from providers.run.executor_ray import RayExecutor

    spec = _spec(tmp_path, _snapshot(tmp_path))
    with pytest.raises(RuntimeError, match="largest node"):
        RayExecutor(ray_head["dashboard_url"], gpus=5, fixed_size=True).start(spec)
    result, _lines, handle = _run(RayExecutor(ray_head["dashboard_url"], gpus=5), spec, timeout_s=4)
    assert result.status == "timed_out"
    assert handle.poll() == 143
