"""Environment-provider figures: cold builds vs. cached plans, and the cost of a no-op.

    python bench/bench_environments.py [--envs 20] [--keep]

Against the real Docker Engine and a throwaway docker-registry (htpasswd auth):

1. cold: plan + apply of ENVS busybox-based environments (each a different
   image: its env_vars differ), i.e. ENVS builds and ENVS pushes;
2. re-plan of the ENVS unchanged environments (refresh + plan, as
   ``trainform plan`` does): must be ENVS no-ops with zero builds and pushes;
3. "another checkout": plan + apply with no prior state while the tags are
   already in the registry: zero builds, zero pushes (the images are reused);
4. destroy;
5. the same through the CLI (``--cli``, on by default): ``trainform apply`` of
   ENVS environments, then ``trainform plan`` (refresh included) with nothing
   changed -- its wall time, "No changes", builds and pushes.

Builds and pushes are counted from the Docker daemon's event stream (image
``tag`` events for the environments' repositories, image ``push`` events), so
the provider cannot miscount itself.  Figures, not assertions; the script
exits non-zero only when a no-op plan built or pushed something.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, REPO)


def full_config(block, values: dict) -> dict:
    """A configuration dict as the engine hands it over: every schema attribute
    present (None when unset), nested single blocks as dicts or None."""
    out = {}
    for name, attr in block.attributes.items():
        if attr.read_only:
            continue
        out[name] = values.get(name, attr.default)
    for name, nb in block.blocks.items():
        sub = values.get(name)
        if sub is None:
            out[name] = None if nb.nesting == "single" else []
        elif nb.nesting == "single":
            out[name] = full_config(nb.block, sub)
        else:
            out[name] = [full_config(nb.block, s) for s in sub]
    return out


class EventCounter:
    """Counts daemon image events between start() and stop()."""

    def __init__(self, client, repo_prefix: str) -> None:
        self.client, self.prefix = client, repo_prefix
        self.t0 = None

    def start(self) -> None:
        self.t0 = time.time() - 1  # event timestamps have 1 s resolution

    def stop(self) -> dict:
        time.sleep(1.1)
        until = time.time()
        counts = {"builds": 0, "pushes": 0}
        for ev in self.client.events(since=self.t0, until=until, decode=True, filters={"type": "image"}):
            name = (ev.get("Actor") or {}).get("Attributes", {}).get("name", "") or ev.get("id", "")
            if not name.startswith(self.prefix):
                continue
            if ev.get("Action") == "tag":
                counts["builds"] += 1
            elif ev.get("Action") == "push":
                counts["pushes"] += 1
        return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--envs", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the registry and work dir (prints where)")
    ap.add_argument("--no-cli", action="store_true", help="skip the trainform CLI measurement")
    args = ap.parse_args()

    from engine.values import Unknown
    from engine.providers import ApplyRequest, PlanRequest, ProviderContext, ReadRequest
    from providers.builtin.workspace import WorkspaceProvider
    from providers.docker.environment import EnvironmentProvider
    from tests.fixtures import base_images, docker_env
    from tests.fixtures.registry import registry_unavailable, start_registry

    why = docker_env.docker_unavailable() or registry_unavailable()
    if why:
        print(f"skipped: {why}")
        return 0
    client = docker_env.docker_client()
    busybox = base_images.ensure(client, "busybox")
    reg = start_registry(username="bench")
    work = tempfile.mkdtemp(prefix="trainform-bench-env-")
    print(f"registry {reg.address}, base image {busybox}, {args.envs} environments, work dir {work}")

    live: dict[str, tuple[str, dict]] = {}
    log_lines: list[str] = []
    ctx = ProviderContext(working_dir=work, data_dir=os.path.join(work, ".trainform"),
                          log=lambda a, line: log_lines.append(line), lookup=lambda i: live.get(i))
    wsp, envp = WorkspaceProvider(), EnvironmentProvider()
    wsp.configure(ctx)
    envp.configure(ctx)

    def check(resp, what):
        if resp.diagnostics.has_errors:
            raise SystemExit(f"{what} failed: " + "; ".join(f"{d.summary}: {d.detail}" for d in resp.diagnostics))
        return resp

    # the workspace
    ws_cfg = full_config(wsp.schema().block, {"registry": {"address": reg.address, "username": reg.username, "password": reg.password}})
    p = check(wsp.plan(PlanRequest("workspace.bench", None, ws_cfg)), "workspace plan")
    ws_state = check(wsp.apply(ApplyRequest("workspace.bench", "create", None, p.planned_state, ws_cfg)), "workspace apply").new_state
    live[ws_state["id"]] = ("workspace", dict(ws_state, registry=ws_cfg["registry"]))

    env_schema = envp.schema().block
    cfgs = {
        f"environment.e{i:02d}": full_config(env_schema, {
            "workspace": ws_state["id"],
            "docker": {"base_image": busybox},
            "env_vars": {"BENCH_ENV": str(i)},
        })
        for i in range(args.envs)
    }
    counter = EventCounter(client, f"{reg.address}/")
    states: dict[str, dict] = {}
    failed = False
    try:
        # 1. cold: plan + apply (build + push) each
        counter.start()
        t0 = time.perf_counter()
        plan_t = 0.0
        for addr, cfg in cfgs.items():
            tp = time.perf_counter()
            pr = check(envp.plan(PlanRequest(addr, None, cfg)), f"{addr} plan")
            plan_t += time.perf_counter() - tp
            ar = check(envp.apply(ApplyRequest(addr, "create", None, pr.planned_state, cfg, pr.private)), f"{addr} apply")
            states[addr] = ar.new_state
        cold = time.perf_counter() - t0
        c1 = counter.stop()
        print(f"cold   : {args.envs} environments planned+built+pushed in {cold:6.2f} s "
              f"({cold / args.envs:.2f} s each; plan part {plan_t:.2f} s) -- builds {c1['builds']}, pushes {c1['pushes']}")

        # 2. unchanged: refresh + plan
        counter.start()
        t0 = time.perf_counter()
        noops = 0
        for addr, cfg in cfgs.items():
            rr = check(envp.read(ReadRequest(addr, states[addr])), f"{addr} read")
            pr = check(envp.plan(PlanRequest(addr, rr.new_state, cfg)), f"{addr} re-plan")
            if rr.new_state is not None and pr.planned_state == states[addr] and not pr.requires_replace:
                noops += 1
        replan = time.perf_counter() - t0
        c2 = counter.stop()
        print(f"re-plan: {args.envs} unchanged environments refreshed+planned in {replan:6.2f} s "
              f"({replan / args.envs * 1000:.0f} ms each) -- no-ops {noops}/{args.envs}, builds {c2['builds']}, pushes {c2['pushes']}")
        failed = c2["builds"] or c2["pushes"] or noops != args.envs

        # 3. another checkout: no prior state, tags already pushed
        counter.start()
        t0 = time.perf_counter()
        reused = 0
        for addr, cfg in cfgs.items():
            pr = check(envp.plan(PlanRequest(addr, None, cfg)), f"{addr} plan (fresh checkout)")
            ar = check(envp.apply(ApplyRequest(addr, "create", None, pr.planned_state, cfg, pr.private)), f"{addr} apply (fresh checkout)")
            if not isinstance(ar.new_state.get("image_digest"), Unknown) and ar.new_state.get("image_digest") == states[addr].get("image_digest"):
                reused += 1
        fresh = time.perf_counter() - t0
        c3 = counter.stop()
        print(f"reuse  : {args.envs} environments applied from a fresh state in {fresh:6.2f} s "
              f"-- same digest {reused}/{args.envs}, builds {c3['builds']}, pushes {c3['pushes']}")
        print(f"ratio  : cold build+push {cold / args.envs:.2f} s vs cached plan {replan / args.envs * 1000:.0f} ms per environment "
              f"({cold / max(replan, 1e-9):.0f}x)")
        if not args.no_cli:
            failed = bench_cli(client, reg, busybox, args.envs, work) or failed
    finally:
        t0 = time.perf_counter()
        for addr, st in states.items():
            envp.apply(ApplyRequest(addr, "delete", st, None, None))
        wsp.apply(ApplyRequest("workspace.bench", "delete", ws_state, None, None))
        print(f"destroy: {len(states)} environments in {time.perf_counter() - t0:.2f} s")
        if args.keep:
            print(f"kept: registry {reg.address} (data {reg.data_dir}), work dir {work}")
        else:
            reg.stop()
            shutil.rmtree(work, ignore_errors=True)
        if reg.password in "\n".join(log_lines):
            print("ERROR: the registry password appeared in the build log")
            failed = True
    return 1 if failed else 0


def bench_cli(client, reg, busybox: str, n: int, work: str) -> bool:
    """trainform apply of N environments, then a no-op trainform plan; True when it misbehaved."""
    from engine.testing.harness import Workdir

    wd = Workdir(os.path.join(work, "cli"), env={"NO_COLOR": "1", "TRAINFORM_VAR_registry_password": reg.password})
    envs = "".join(
        f'environment "c{i:02d}" {{\n  workspace = workspace.ml.id\n  docker {{\n    base_image = "{busybox}"\n  }}\n'
        f'  env_vars = {{\n    BENCH_CLI = "{i}"\n  }}\n}}\n\n'
        for i in range(n))
    wd.write("main.hcl", f'''variable "registry_password" {{
  type      = string
  sensitive = true
}}

workspace "ml" {{
  registry {{
    address  = "{reg.address}"
    username = "{reg.username}"
    password = var.registry_password
  }}
}}

''' + envs)
    counter = EventCounter(client, f"{reg.address}/")
    counter.start()
    t0 = time.perf_counter()
    r = wd.apply(check=False, timeout=1200)
    cold = time.perf_counter() - t0
    c1 = counter.stop()
    if r.code != 0:
        print(f"cli    : trainform apply failed ({r.code}): {r.text[-800:]}")
        return True
    print(f"cli    : trainform apply of {n} environments in {cold:6.2f} s -- builds {c1['builds']}, pushes {c1['pushes']}")
    counter.start()
    t0 = time.perf_counter()
    r = wd.plan(timeout=600)
    replan = time.perf_counter() - t0
    c2 = counter.stop()
    no_changes = "No changes" in r.out
    print(f"cli    : trainform plan (refresh + plan, nothing changed) in {replan:6.2f} s -- "
          f"{'No changes' if no_changes else 'CHANGES PLANNED'}, builds {c2['builds']}, pushes {c2['pushes']}")
    d = wd.run("destroy", "-auto-approve", "-no-color", timeout=600)
    bad = (not no_changes) or bool(c2["builds"] or c2["pushes"]) or d.code != 0
    if reg.password in r.text + d.text:
        print("ERROR: the registry password appeared in trainform's output")
        bad = True
    return bad


if __name__ == "__main__":
    sys.exit(main())
