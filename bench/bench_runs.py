"""Run-provider figures: start latency, snapshot hashing, no-op re-apply.

    python bench/bench_runs.py [--size-mb 200] [--runs 50] [--no-docker]

1. Time from starting ``trainform apply`` to the run's first log line on the
   terminal (process mode, and docker mode with a busybox image when Docker
   answers).  Includes interpreter start, plan, snapshot copy and the
   process/container start.
2. Snapshot hashing throughput on a tree of SIZE MB (1 MB files): cold (no
   stat cache), warm (stat cache: nothing re-read), and the first copy.
3. A no-op ``plan`` and ``apply`` with RUNS succeeded runs in the state.

The workspace and environment are the stand-ins of tests/integration/run_fakes
so only the run machinery is measured.  Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, REPO)

from tests.integration.run_fakes import SPEC  # noqa: E402

BUSYBOX = "trainform-test/busybox:runs"


def _env():
    return dict(os.environ, TRAINFORM_EXTRA_PROVIDERS=SPEC, PYTHONPATH=REPO, NO_COLOR="1", PYTHONUNBUFFERED="1")


def _config(docker: bool, runs: str) -> str:
    env_block = f'  docker {{\n    image = "{BUSYBOX}"\n  }}\n' if docker else ""
    return (f'workspace "ws" {{}}\nenvironment "env" {{\n  workspace = workspace.ws.id\n{env_block}}}\n'
            f'compute "local" {{\n  workspace = workspace.ws.id\n  max_concurrent_runs = 4\n}}\n' + runs)


def _run(name: str, extra: str = "") -> str:
    return (f'run "{name}" {{\n  workspace = workspace.ws.id\n  source_directory = "src"\n  command = ["sh", "run.sh"]\n'
            f'  environment = environment.env.id\n  compute = compute.local.id\n{extra}}}\n')


def _cli(d, *args, check=True):
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], cwd=d, env=_env(), capture_output=True, text=True, check=check)


def first_log_latency(docker: bool, repeats: int = 3) -> list[float]:
    out = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "src"))
            with open(os.path.join(d, "src", "run.sh"), "w") as f:
                f.write("echo first-line\n")
            with open(os.path.join(d, "main.hcl"), "w") as f:
                f.write(_config(docker, _run("train")))
            t = time.perf_counter()
            p = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "apply", "-auto-approve", "-no-color"], cwd=d, env=_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            seen = None
            for line in p.stdout:
                if seen is None and line.startswith("run.train: first-line"):
                    seen = time.perf_counter() - t
            p.wait()
            if p.returncode != 0 or seen is None:
                raise SystemExit(f"apply failed (docker={docker})")
            out.append(seen)
    return out


def hashing(size_mb: int) -> dict:
    from providers.run.snapshot import materialize, scan

    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        for i in range(size_mb):
            sub = os.path.join(src, f"dir{i // 50}")
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, f"f{i}.bin"), "wb") as f:
                f.write(os.urandom(1 << 20))
        cache = os.path.join(d, "cache")
        t = time.perf_counter()
        snap = scan(src, None)
        cold = time.perf_counter() - t
        scan(src, cache)  # fill the cache
        t = time.perf_counter()
        snap2 = scan(src, cache)
        warm = time.perf_counter() - t
        assert snap.hash == snap2.hash
        t = time.perf_counter()
        materialize(snap, os.path.join(d, "snapshots"))
        copy = time.perf_counter() - t
    return {"cold_s": cold, "warm_s": warm, "copy_s": copy, "mb": size_mb}


def noop_reapply(n: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "src"))
        with open(os.path.join(d, "src", "run.sh"), "w") as f:
            f.write("true\n")
        runs = "".join(_run(f"r{i}") for i in range(n))
        with open(os.path.join(d, "main.hcl"), "w") as f:
            f.write(_config(False, runs))
        t = time.perf_counter()
        _cli(d, "apply", "-auto-approve", "-no-color")
        first = time.perf_counter() - t
        t = time.perf_counter()
        r = _cli(d, "plan", "-no-color", "-detailed-exitcode", check=False)
        plan = time.perf_counter() - t
        assert r.returncode == 0, r.stdout + r.stderr
        t = time.perf_counter()
        r = _cli(d, "apply", "-auto-approve", "-no-color")
        apply = time.perf_counter() - t
        assert "0 added" in r.stdout
        t = time.perf_counter()
        _cli(d, "--version")
        startup = time.perf_counter() - t
    return {"runs": n, "first_apply_s": first, "noop_plan_s": plan, "noop_apply_s": apply, "cli_startup_s": startup}


def _docker_ok() -> bool:
    try:
        import docker

        c = docker.from_env(timeout=5)
        c.ping()
        try:
            c.images.get(BUSYBOX)
            return True
        except docker.errors.ImageNotFound:
            print(f"(docker figures skipped: image {BUSYBOX} missing; run tests/integration/test_runs.py once to build it)")
            return False
    except Exception:  # noqa: BLE001
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--no-docker", action="store_true")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    lat = first_log_latency(False)
    print(f"apply start -> first log line, process mode: median {sorted(lat)[len(lat) // 2]:.2f}s  (runs: {', '.join(f'{x:.2f}' for x in lat)})")
    if not a.no_docker and _docker_ok():
        lat = first_log_latency(True)
        print(f"apply start -> first log line, docker mode:  median {sorted(lat)[len(lat) // 2]:.2f}s  (runs: {', '.join(f'{x:.2f}' for x in lat)})")
    h = hashing(a.size_mb)
    print(f"snapshot of {h['mb']} MB ({h['mb']} files): cold hash {h['cold_s']:.2f}s ({h['mb'] / h['cold_s']:.0f} MB/s), "
          f"with stat cache {h['warm_s'] * 1000:.1f}ms, first copy {h['copy_s']:.2f}s")
    n = noop_reapply(a.runs)
    print(f"{n['runs']} succeeded runs: first apply {n['first_apply_s']:.1f}s, no-op plan {n['noop_plan_s']:.2f}s, "
          f"no-op apply {n['noop_apply_s']:.2f}s (CLI start-up alone {n['cli_startup_s']:.2f}s)")


if __name__ == "__main__":
    main()
