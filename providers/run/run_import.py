"""``import`` for runs: adopt an execution trainform already recorded.

The id is the run id (``trainform runs -json`` lists them; a run's directory is
``<artifact root>/runs/<id>/``).  The run's ``record.json`` gives its status,
attempts, metrics and -- for runs recorded by this version -- the input hash,
so a run whose configuration still describes the same inputs is adopted
without running again.  Runs are looked for under the default artifact roots
(``.trainform/workspaces/*``).
"""

from __future__ import annotations

import glob
import os
import re

from engine.providers import Diagnostics, ImportRequest, ImportResponse

__all__ = ["import_run"]


def import_run(provider, req: ImportRequest) -> ImportResponse:
    from providers.run.metrics import read_last_values
    from providers.run.records import RunPaths, parse_iso, read_record

    d = Diagnostics()
    where = os.path.join(provider.ctx.data_dir, "workspaces", "*", "runs")
    shown = os.path.relpath(where, provider.ctx.working_dir)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", req.id or "") or req.id in (".", ".."):
        d.error("Invalid run id", f'"{req.id}" is not a run id: run ids look like default_1764556800_1a2b3c4d (`trainform runs -json` lists them).')
        return ImportResponse(None, d)
    found = sorted(glob.glob(os.path.join(where, req.id, "record.json")))
    record = read_record(found[0]) if found else None
    if record is None:
        d.error("Cannot import non-existent remote object", f'{req.address}: no run with id "{req.id}" is recorded under {shown}, so there is nothing to import. `trainform runs -json` lists the ids of recorded runs.')
        return ImportResponse(None, d)
    run_dir = os.path.dirname(found[0])
    paths = RunPaths.from_dir(run_dir)
    workspace = os.path.basename(os.path.dirname(os.path.dirname(run_dir)))
    attempts = record.get("attempts") or []
    started = attempts[0].get("started_at") if attempts else None
    t0, t1 = parse_iso(started), parse_iso(record.get("ended_at"))
    state = {name: None for name, a in provider.schema().block.attributes.items()}
    state.update(
        workspace=workspace, experiment=record.get("experiment"), id=req.id, status=record.get("status"),
        exit_code=record.get("exit_code"), started_at=started, ended_at=record.get("ended_at"),
        duration_seconds=round(t1 - t0, 3) if t0 is not None and t1 is not None else None,
        attempts=len(attempts), metrics=record.get("metrics") or read_last_values(paths.metrics),
        input_hash=record.get("input_hash"), snapshot_hash=record.get("snapshot_hash"),
        log_path=paths.log(max(len(attempts), 1)), outputs_path=paths.outputs, container_id=None,
    )
    return ImportResponse(state, private={"run_dir": paths.root, "mode": record.get("mode")})
