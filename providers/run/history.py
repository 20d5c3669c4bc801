"""Every execution of every run, read from the run records on disk.

The state holds one record per run *address* (the current execution); the
history is every ``<artifact_root>/runs/<id>/record.json`` ever written:
replaced, failed, cancelled and destroyed executions stay, with their logs,
outputs and full metric series (``trainform/metrics.jsonl``).  ``trainform
runs`` lists it; the environment provider asks it which images recorded
runs still use before deleting one.
"""

from __future__ import annotations

import glob
import json
import math
import os
import threading

__all__ = ["artifact_root", "executions", "images_in_use", "metric_series"]


def artifact_root(ws: dict | None, working_dir: str, data_dir: str) -> str | None:
    """A workspace's artifact root as the run provider uses it (absolute), or None."""
    if not isinstance(ws, dict):
        return None
    root = ws.get("artifact_root")
    if not isinstance(root, str) or not root:
        wid = ws.get("id")
        if not isinstance(wid, str):
            return None
        root = os.path.join(data_dir, "workspaces", wid)
    return root if os.path.isabs(root) else os.path.join(working_dir, root)


ROOTS_FILE = "run-history-roots.json"
_ROOTS_LOCK = threading.Lock()  # runs of one apply start in parallel threads


def remember_root(data_dir: str, root: str) -> None:
    """Note an artifact root that holds executions, so ``trainform runs`` still finds
    them after the workspace and runs that pointed there were destroyed."""
    path = os.path.join(data_dir, ROOTS_FILE)
    root = os.path.abspath(root)
    with _ROOTS_LOCK:
        roots = known_roots(data_dir)
        if root in roots:
            return
        os.makedirs(data_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(sorted(roots + [root]), f)
        os.replace(tmp, path)


def known_roots(data_dir: str) -> list[str]:
    try:
        with open(os.path.join(data_dir, ROOTS_FILE)) as f:
            roots = json.load(f)
    except (OSError, ValueError):
        return []
    return [r for r in roots if isinstance(r, str)] if isinstance(roots, list) else []


def executions(roots) -> list[dict]:
    """Records under the given artifact roots, newest first (``run_dir`` added)."""
    from providers.run.records import read_record

    out, seen = [], set()
    for root in roots:
        for path in glob.glob(os.path.join(root, "runs", "*", "record.json")):
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            rec = read_record(path)
            if not rec or not rec.get("run_id"):
                continue
            rec["run_dir"] = os.path.dirname(path)
            out.append(rec)
    out.sort(key=lambda r: (r.get("started_at") or r.get("created_at") or "", r.get("run_id")), reverse=True)
    return out


def images_in_use(root: str) -> dict[str, str]:
    """image -> run address, for executions still current (not destroyed or replaced)."""
    used: dict[str, str] = {}
    for rec in executions([root]):
        if rec.get("destroyed_at") or not rec.get("image"):
            continue
        used.setdefault(rec["image"], rec.get("address") or rec["run_id"])
    return used


def metric_series(run_dir: str) -> dict[str, list[dict]]:
    """name -> every logged point ``{"step", "value", "time"}`` in logging order."""
    out: dict[str, list[dict]] = {}
    path = os.path.join(run_dir, "trainform", "metrics.jsonl")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f):
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if not (isinstance(rec, dict) and isinstance(rec.get("name"), str) and "value" in rec):
                    continue
                v = rec["value"]
                if isinstance(v, float) and math.isnan(v):  # NaN is not JSON-portable
                    v = None
                pts = out.setdefault(rec["name"], [])
                step = rec.get("step")
                pts.append({"step": step if isinstance(step, int) else len(pts), "value": v, "time": rec.get("time")})
    except OSError:
        pass
    return out
