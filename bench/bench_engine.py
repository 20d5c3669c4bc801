"""Plan/apply benchmark: trainform `value` vs Terraform `terraform_data`.

Same graph in both tools: N resources in chains of 10, local state.
Prints wall times (best of REPS runs, default 3, each in a fresh directory)
and ratios (trainform / terraform) for validate, a fresh plan, the apply and a
no-op plan; then N=10,000 for trainform's growth.  Not a test: run it by hand,
`python bench/bench_engine.py [N ...]` (BENCH_REPS=1 for a quick look).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

TF = shutil.which("terraform")


def chain_hcl(n: int, tf: bool) -> str:
    kind = "terraform_data" if tf else "value"
    out = []
    for i in range(n):
        if i % 10 == 0:
            body = f'  input = "start-{i}"\n'
        else:
            body = f"  input = {kind}.r{i - 1}.output\n"
        if tf:
            out.append(f'resource "terraform_data" "r{i}" {{\n{body}}}\n')
        else:
            out.append(f'value "r{i}" {{\n{body}}}\n')
    return "\n".join(out)


def run(cmd, cwd, env=None) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    el = time.perf_counter() - t
    if p.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return el


def trainform(*args):
    return [sys.executable, "-m", "engine.cli.main", *args]


def bench_n(n: int, with_tf: bool, reps: int) -> dict:
    """Best (smallest) time of each measurement over ``reps`` fresh directories."""
    best: dict = {}
    for _ in range(reps):
        for k, v in bench_once(n, with_tf).items():
            best[k] = min(v, best.get(k, v))
    return best


def bench_once(n: int, with_tf: bool) -> dict:
    res = {}
    with tempfile.TemporaryDirectory() as d:
        tfd = os.path.join(d, "tf")
        trd = os.path.join(d, "tr")
        os.makedirs(tfd)
        os.makedirs(trd)
        with open(os.path.join(trd, "main.hcl"), "w") as f:
            f.write(chain_hcl(n, False))
        env = dict(os.environ, NO_COLOR="1")
        res["tr_validate_cold"] = run(trainform("validate"), trd, env)
        res["tr_validate_warm"] = run(trainform("validate"), trd, env)
        res["tr_plan"] = run(trainform("plan", "-no-color"), trd, env)
        res["tr_apply"] = run(trainform("apply", "-auto-approve", "-no-color"), trd, env)
        res["tr_noop"] = run(trainform("plan", "-no-color", "-detailed-exitcode"), trd, env)
        if with_tf and TF:
            with open(os.path.join(tfd, "main.tf"), "w") as f:
                f.write(chain_hcl(n, True))
            tenv = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
            run([TF, "init", "-input=false"], tfd, tenv)
            res["tf_validate"] = run([TF, "validate"], tfd, tenv)
            res["tf_plan"] = run([TF, "plan", "-input=false", "-no-color"], tfd, tenv)
            res["tf_apply"] = run([TF, "apply", "-auto-approve", "-input=false", "-no-color"], tfd, tenv)
            res["tf_noop"] = run([TF, "plan", "-input=false", "-no-color", "-detailed-exitcode"], tfd, tenv)
    return res


def main(argv):
    # PYTHONDONTWRITEBYTECODE is set on these machines: byte-compile once, as a wheel install would.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-m", "compileall", "-q", "engine", "providers"], cwd=root, capture_output=True)
    sizes = [int(a) for a in argv] or [1000, 10000]
    reps = int(os.environ.get("BENCH_REPS", "3"))
    results = {}
    for n in sizes:
        with_tf = n <= 1000 or os.environ.get("BENCH_TF_LARGE")
        print(f"== N = {n} (best of {reps}; load average {os.getloadavg()[0]:.1f}) ==", flush=True)
        r = bench_n(n, bool(with_tf), reps)
        results[n] = r
        for k, v in r.items():
            print(f"  {k:18s} {v:8.2f} s")
        if "tf_plan" in r:
            print(f"  ratio validate (warm) {r['tr_validate_warm'] / r['tf_validate']:.2f}x  (cold {r['tr_validate_cold'] / r['tf_validate']:.2f}x; target <= 0.6x)")
            print(f"  ratio plan            {r['tr_plan'] / r['tf_plan']:.2f}x  (target <= 0.4x)")
            print(f"  ratio apply           {r['tr_apply'] / r['tf_apply']:.2f}x  (target <= 0.1x)")
            print(f"  ratio no-op plan      {r['tr_noop'] / r['tf_noop']:.2f}x  (target <= 0.4x)")
    if 1000 in results and 10000 in results:
        a, b = results[1000], results[10000]
        for k in ("tr_validate_warm", "tr_plan", "tr_apply", "tr_noop"):
            print(f"  growth 1k->10k {k:18s} {b[k] / a[k]:.1f}x  (target <= 10x)")


if __name__ == "__main__":
    main(sys.argv[1:])
