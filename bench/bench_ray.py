"""Ray runs vs local runs: first-log-line latency and pool throughput.

1. **Latency**: from ``executor.start(spec)`` to the first output line the
   user sees, for the Ray executor (job submission on a loopback head), the
   local Docker executor (busybox container) and the host-process executor.
2. **Pool**: RUNS runs of DURATION seconds, each taking one GPU, on a pool of
   2 GPUs -- Ray: a head with 2 *logical* GPUs, in *task mode* (one
   long-lived driver, each attempt a streaming task, the default) and in *job
   mode* (one Ray Job per attempt, ``TRAINFORM_RAY_MODE=jobs``); with
   ``--workers N`` the GPUs live on N worker nodes instead (a head without
   GPUs).  Docker: the local pool (providers.compute.pool) with 2 slots (no
   GPU hardware here, so slots stand in for GPUs).  Prints wall time vs the
   ideal ``RUNS * DURATION / GPUs`` side by side, with the machine's load
   (``uptime``) before and after: the figures depend on it.

Not a test: run by hand (needs ray; Docker part skipped when no daemon):
``python bench/bench_ray.py [--runs 20] [--duration 2] [--samples 5] [--workers 0] [--modes tasks,jobs]``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BUSYBOX = os.environ.get("TRAINFORM_BENCH_IMAGE", "trainform/busybox:latest")


def make_spec(root: str, snap: str, run_id: str, argv: list[str], image: str | None = None):
    from providers.run.execution import AttemptSpec
    from providers.run.records import RunPaths

    paths = RunPaths(root, run_id)
    paths.create()
    env = {"TRAINFORM_RUN_ID": run_id, "TRAINFORM_METRICS_FILE": paths.metrics, "TRAINFORM_OUTPUTS_DIR": paths.outputs}
    return AttemptSpec(run_id=run_id, address=f"run.{run_id}", argv=argv, env=env, snapshot_dir=snap, paths=paths, image=image)


def one_run(executor, spec, first: list | None = None) -> tuple[str, float, float]:
    """(status, seconds to the first line, seconds in total)."""
    from providers.run.execution import run_attempt

    t0 = time.time()
    seen: list[float] = []

    def on_line(line):
        if not seen:
            seen.append(time.time() - t0)

    handle = executor.start(spec)
    try:
        r = run_attempt(handle, spec, on_line, 600, lambda: False, t0)
    finally:
        handle.cleanup()
    return r.status, (seen[0] if seen else float("nan")), time.time() - t0


def latency(name, executor, root, snap, argv, samples, image=None):
    firsts, totals = [], []
    for i in range(samples):
        st, first, total = one_run(executor, make_spec(root, snap, f"lat-{name}-{i}", argv, image))
        if st != "succeeded":
            print(f"  {name}: run {i} {st}")
        firsts.append(first)
        totals.append(total)
    return firsts, totals


def pool_ray(url, root, snap, runs, duration, mode="tasks"):
    from providers.run.executor_ray import RayExecutor

    os.environ["TRAINFORM_RAY_MODE"] = mode
    ex = RayExecutor(url, gpus=1)
    results = [None] * runs

    def go(i):
        results[i] = one_run(ex, make_spec(root, snap, f"pool-ray-{mode}-{i}", ["sh", "-c", f"echo start {i}; sleep {duration}; echo done"]))

    t0 = time.time()
    threads = [threading.Thread(target=go, args=(i,)) for i in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.time() - t0, results


def pool_docker(root, snap, runs, duration, slots):
    from providers.compute.pool import Pool
    from providers.run.executor_docker import DockerExecutor

    ex = DockerExecutor()
    pool = Pool(slots, [])
    results = [None] * runs

    def go(i):
        lease = pool.acquire(0)
        try:
            results[i] = one_run(ex, make_spec(root, snap, f"pool-docker-{i}", ["sh", "-c", f"echo start {i}; sleep {duration}; echo done"], BUSYBOX))
        finally:
            lease.release()

    t0 = time.time()
    threads = [threading.Thread(target=go, args=(i,)) for i in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.time() - t0, results


def docker_ok() -> bool:
    try:
        from providers.run.executor_docker import docker_client

        docker_client().images.get(BUSYBOX)
        return True
    except Exception as e:  # noqa: BLE001
        print(f"(Docker part skipped: {e})")
        return False


def fmt(xs):
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return "n/a"
    return f"median {statistics.median(xs):5.2f}s  min {min(xs):5.2f}s  max {max(xs):5.2f}s"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--gpus", type=int, default=2)
    ap.add_argument("--workers", type=int, default=0, help="put the GPUs on this many worker nodes (0: on the head)")
    ap.add_argument("--modes", default="tasks,jobs")
    a = ap.parse_args()
    from providers.compute.ray_cluster import ensure_head, ray_available, stop_head
    from providers.run.executor_process import ProcessExecutor
    from providers.run.executor_ray import RayExecutor

    ok, why = ray_available()
    if not ok:
        print(why)
        return 1
    root = tempfile.mkdtemp(prefix="bench-ray-")
    snap = os.path.join(root, "snap")
    os.makedirs(os.path.join(snap, "outputs"))  # the Docker executor mounts outputs over it
    with open(os.path.join(snap, "first.py"), "w") as f:
        f.write("print('first line', flush=True)\nimport time; time.sleep(0.5)\n")
    from providers.compute.ray_cluster import start_worker

    t = time.time()
    workers = []
    if a.workers:
        rec = ensure_head({"num_cpus": 1, "num_gpus": 0, "object_store_mb": 100}, os.path.join(root, "head"))
        per = a.gpus // a.workers
        workers = [start_worker(rec, {"num_cpus": 1, "num_gpus": per, "object_store_mb": 100}, os.path.join(root, "head"))
                   for _ in range(a.workers)]
        print(f"Ray head + {a.workers} worker nodes ({per} logical GPU(s) each) up in {time.time() - t:.1f}s at {rec['dashboard_url']}")
    else:
        rec = ensure_head({"num_cpus": 2, "num_gpus": a.gpus, "object_store_mb": 200}, os.path.join(root, "head"))
        print(f"Ray head (2 CPUs, {a.gpus} logical GPUs) up in {time.time() - t:.1f}s at {rec['dashboard_url']}")
    print(f"load: {os.popen('uptime').read().strip()}")
    have_docker = docker_ok()
    try:
        print(f"\n1. Submission -> first log line ({a.samples} sequential runs each; first.py / echo)")
        for mode in a.modes.split(","):
            os.environ["TRAINFORM_RAY_MODE"] = mode
            ray_ex = RayExecutor(rec["dashboard_url"], gpus=1 if a.workers else 0)
            one_run(ray_ex, make_spec(root, snap, f"warm-ray-{mode}", ["python", "first.py"]))  # warm the worker pool
            f, tot = latency(f"ray-{mode}", ray_ex, root, snap, ["python", "first.py"], a.samples)
            print(f"  ray {mode:5s} first line {fmt(f)} | whole run {fmt(tot)}")
        if have_docker:
            f, tot = latency("docker", __import__("providers.run.executor_docker", fromlist=["x"]).DockerExecutor(), root, snap,
                             ["sh", "-c", "echo first line; sleep 0.5"], a.samples, BUSYBOX)
            print(f"  docker    first line {fmt(f)} | whole run {fmt(tot)}")
        f, tot = latency("process", ProcessExecutor(), root, snap, [sys.executable, "first.py"], a.samples)
        print(f"  process   first line {fmt(f)} | whole run {fmt(tot)}")

        ideal = a.runs * a.duration / a.gpus
        print(f"\n2. {a.runs} runs x {a.duration:g}s, one GPU each, pool of {a.gpus} GPUs: ideal {ideal:.1f}s")
        for mode in a.modes.split(","):
            wall, res = pool_ray(rec["dashboard_url"], root, snap, a.runs, a.duration, mode)
            bad = sum(1 for r in res if r is None or r[0] != "succeeded")
            print(f"  ray {mode:5s} wall {wall:6.1f}s  = {wall / ideal:4.2f} x ideal  (per run: {fmt([r[2] for r in res if r])}; failed {bad})")
        if have_docker:
            wall, res = pool_docker(root, snap, a.runs, a.duration, a.gpus)
            bad = sum(1 for r in res if r is None or r[0] != "succeeded")
            print(f"  docker    wall {wall:6.1f}s  = {wall / ideal:4.2f} x ideal  (per run: {fmt([r[2] for r in res if r])}; failed {bad})")
        print(f"load: {os.popen('uptime').read().strip()}")
    finally:
        from providers.run.ray_tasks import shutdown_drivers

        shutdown_drivers()
        for w in workers:
            stop_head(w)
        stop_head(rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
