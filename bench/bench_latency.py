"""Apply wall time vs the critical-path bound, with a latency-bound provider.

Each `sleepy` resource's create sleeps DELAY seconds.  For a graph and a
-parallelism P, no scheduler can finish before
    bound = max(longest dependency chain * DELAY, N * DELAY / P)
This prints the measured apply time, the bound and their ratio (target:
within 10% of the bound, i.e. ratio <= 1.10).  Process start-up, planning and
state writing are included in the measured time, as a user would see them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def config(n: int, chain: int, delay: float) -> str:
    out = []
    for i in range(n):
        dep = f"\n  input = sleepy.r{i - 1}.id" if i % chain else ""
        out.append(f'sleepy "r{i}" {{\n  delay = {delay}{dep}\n}}\n')
    return "\n".join(out)


def measure(n: int, chain: int, delay: float, parallelism: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "main.hcl"), "w") as f:
            f.write(config(n, chain, delay))
        env = dict(os.environ, TRAINFORM_EXTRA_PROVIDERS="sleepy=engine.testing.sleepy:SleepyProvider", NO_COLOR="1")
        cmd = [sys.executable, "-m", "engine.cli.main"]
        t = time.perf_counter()
        subprocess.run(cmd + ["plan", "-no-color"], cwd=d, env=env, capture_output=True, check=True)
        plan_t = time.perf_counter() - t
        t = time.perf_counter()
        p = subprocess.Popen(cmd + ["apply", "-auto-approve", "-no-color", f"-parallelism={parallelism}"], cwd=d,
                             env=dict(env, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, text=True)
        first = last = None
        for line in p.stdout:
            now = time.perf_counter()
            if "Creating..." in line and first is None:
                first = now
            if "Creation complete" in line:
                last = now
        assert p.wait() == 0
        wall = time.perf_counter() - t
    bound = max(chain * delay, n * delay / parallelism)
    return wall, bound, plan_t, last - first


def main() -> None:
    for n, chain, delay, par in [(100, 10, 0.2, 10), (100, 10, 0.2, 5), (200, 20, 0.1, 10), (60, 3, 0.5, 4)]:
        wall, bound, plan_t, walk = measure(n, chain, delay, par)
        print(f"N={n:4d} chains of {chain:2d} delay={delay}s -parallelism={par:2d}: bound {bound:5.2f} s | "
              f"walk {walk:5.2f} s = {walk / bound:.3f}x | whole command {wall:5.2f} s = {wall / bound:.3f}x "
              f"(start-up + plan alone: {plan_t:.2f} s)")


if __name__ == "__main__":
    main()
