"""``trainform logs ADDR|RUN_ID [-f]`` and ``trainform runs``: look at training runs.

These commands belong to the run provider package; the engine finds them through
the ``trainform.commands`` entry points (engine.providers.registry).

Both read without planning or locking: the state names the current
execution of each run and the workspaces' artifact roots, whose run records
(providers/run/history.py) are the history of every execution.  ``logs -f`` follows a run
that is still going -- in another ``apply`` or detached (``wait = false``) --
until its record says it ended.
"""

from __future__ import annotations

import json
import os
import sys
import time

import click

from engine.providers import Diagnostics
from engine.providers.cli import color_flag, fail, no_color, read_state


def _state():
    return read_state()


def _find_run(state, address: str):
    d = Diagnostics()
    inst = state.resources.get(address) if state is not None else None
    if inst is None:
        runs = sorted(a for a, i in (state.resources.items() if state else []) if i.type == "run")
        hint = f" Runs in the state: {', '.join(runs)}." if runs else " The state has no runs; run trainform apply first."
        d.error("Run not found", f'There is no resource "{address}" in the state.{hint}')
        fail(d)
    if inst.type != "run":
        d.error("Not a run", f'{address} is a {inst.type}, not a run: only runs have logs.')
        fail(d)
    return inst


def _terminal(run_dir: str) -> bool:
    from providers.run.records import TERMINAL, read_record

    rec = read_record(os.path.join(run_dir, "record.json")) or {}
    if rec.get("status") in TERMINAL:
        return True
    attempt = rec.get("attempt") or len(rec.get("attempts") or []) or 1
    if os.path.exists(os.path.join(run_dir, "trainform", f"exit-{attempt}")):
        return True  # a detached process finished (its record is updated at the next refresh)
    return not rec  # no record: nothing will write any more


@click.command("logs")
@click.option("-f", "-follow", "--follow", "follow", is_flag=True, help="Keep printing new output until the run ends.")
@click.option("-attempt", "--attempt", "attempt", type=int, default=None, help="Show this attempt's log (default: the last).")
@color_flag
@click.argument("address", metavar="ADDRESS|RUN_ID")
def logs_cmd(follow, attempt, address):
    """Print (or follow) a run's log (ADDRESS: run.NAME, or a run id from `trainform runs`)."""
    state = _state()
    if state is None or address not in state.resources:
        history, _ = _history(state)
        rec = next((r for r in history if r["run_id"] == address), None)
        if rec is not None:  # any execution of the history, by its id
            n = attempt or rec.get("attempt") or len(rec.get("attempts") or []) or 1
            _cat(os.path.join(rec["run_dir"], "logs", f"attempt-{n}.log"), follow, rec["run_dir"])
            return
    inst = _find_run(state, address)
    a = inst.attributes
    private = inst.private or {}
    log_path = a.get("log_path")
    run_dir = private.get("run_dir") or (os.path.dirname(a["outputs_path"]) if a.get("outputs_path") else None)
    if attempt is not None and run_dir:
        log_path = os.path.join(run_dir, "logs", f"attempt-{attempt}.log")
    if follow and a.get("status") == "running" and private.get("mode") == "docker" and (private.get("ident") or a.get("container_id")):
        if _follow_container(private.get("ident") or a.get("container_id"), private.get("mask")):
            return
    if not log_path or not os.path.exists(log_path):
        if not follow or not run_dir:
            d = Diagnostics()
            d.error("No log yet", f"{address} has no log at {log_path or '(unknown path)'}: the run has not started, or its artifacts were deleted.")
            fail(d)
    _cat(log_path, follow, run_dir)


def _cat(path: str, follow: bool, run_dir: str | None) -> None:
    out = sys.stdout
    pos = 0
    while True:
        ended = (not follow) or run_dir is None or _terminal(run_dir)
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
                pos += len(data)
        except FileNotFoundError:
            data = b""
        if data:
            out.write(data.decode("utf-8", "replace"))
            out.flush()
        if ended and not data:
            return
        if not data:
            time.sleep(0.2)


def _follow_container(ident: str, targets: dict | None = None) -> bool:
    """Stream a detached container's output, line by line through the run's masker
    (built from the container's own settings: ``targets`` names the sensitive
    variables and words); False when it cannot be found."""
    try:
        import docker

        from providers.run.executor_docker import container_masker

        client = docker.from_env()
        c = client.containers.get(ident)
        mask = container_masker(client, ident, targets)
    except Exception:  # noqa: BLE001 - gone or no daemon: fall back to the saved log
        return False
    from providers.run.execution import split_lines

    for line in split_lines(c.logs(stream=True, follow=True)):
        sys.stdout.write((mask(line) if mask is not None else line) + "\n")
        sys.stdout.flush()
    return True


def _fmt_duration(s) -> str:
    if not isinstance(s, (int, float)):
        return "-"
    s = float(s)
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def _fmt_metric(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return json.dumps(v) if not isinstance(v, str) else v


def _history(state):
    """(executions newest first, {run id: state instance}) for the runs in ``state``."""
    from providers.run.history import artifact_root, executions

    # workspaces with the default artifact root keep their history under .trainform even after
    # they (or their runs) were destroyed: history outlives the objects that made it
    import glob

    from providers.run.history import known_roots

    data_dir = os.path.join(os.getcwd(), ".trainform")
    roots = sorted(glob.glob(os.path.join(data_dir, "workspaces", "*"))) + known_roots(data_dir)
    current = {}
    for inst in (state.resources.values() if state else []):
        a = inst.attributes
        if inst.type == "workspace":
            root = artifact_root(a, os.getcwd(), os.path.join(os.getcwd(), ".trainform"))
            if root:
                roots.append(root)
        elif inst.type == "run":
            run_dir = (inst.private or {}).get("run_dir") or (os.path.dirname(a["outputs_path"]) if a.get("outputs_path") else None)
            if run_dir:
                roots.append(os.path.dirname(os.path.dirname(run_dir)))
            if a.get("id"):
                current[a["id"]] = inst
    return executions(dict.fromkeys(roots)), current


def _row(rec: dict, inst) -> dict:
    from providers.run.history import metric_series

    a = inst.attributes if inst is not None else {}
    status = a.get("status") if inst is not None else rec.get("status")
    return {"id": rec["run_id"], "address": rec.get("address"), "experiment": rec.get("experiment"), "status": status,
            "current": inst is not None, "tainted": inst is not None and inst.status == "tainted",
            "started_at": a.get("started_at", rec.get("started_at")), "ended_at": a.get("ended_at", rec.get("ended_at")),
            "duration_seconds": a.get("duration_seconds", rec.get("duration_seconds")),
            "exit_code": a.get("exit_code", rec.get("exit_code")), "attempts": len(rec.get("attempts") or []),
            "metrics": (a.get("metrics") if inst is not None else rec.get("metrics")) or {},
            "metric_series": metric_series(rec["run_dir"]), "arguments": rec.get("arguments") or [],
            "image": rec.get("image"), "input_hash": rec.get("input_hash"), "run_dir": rec["run_dir"],
            "log_path": os.path.join(rec["run_dir"], "logs", f"attempt-{rec.get('attempt') or 1}.log"),
            "outputs_path": os.path.join(rec["run_dir"], "outputs"), "mlflow_run_id": rec.get("mlflow_run_id"),
            "tracking_uri": rec.get("tracking_uri")}


@click.command("runs")
@click.option("-experiment", "--experiment", "experiment", default=None, help="Only runs of this experiment.")
@click.option("-status", "--status", "status", default=None, help="Only executions with this status (succeeded, failed, running...).")
@click.option("-address", "--address", "address", default=None, help="Only executions of this run (run.NAME).")
@click.option("-current", "--current", "current_only", is_flag=True, help="Only the executions the state holds now.")
@click.option("-json", "--json", "json_out", is_flag=True, help="Print the executions as JSON (with every metric point).")
@color_flag
def runs_cmd(experiment, status, address, current_only, json_out):
    """List every execution of the runs, newest first: status, duration, metrics."""
    state = _state()
    history, current = _history(state)
    rows = []
    for rec in history:
        row = _row(rec, current.get(rec["run_id"]))
        if experiment is not None and row["experiment"] != experiment:
            continue
        if status is not None and row["status"] != status:
            continue
        if address is not None and row["address"] != address:
            continue
        if current_only and not row["current"]:
            continue
        rows.append(row)
    if json_out:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        what = " matching the filters" if (experiment or status or address or current_only) else ""
        click.echo(f"No runs{what}." if what else "No runs in the state.")
        return
    from rich.console import Console
    from rich.table import Table

    colors = {"succeeded": "green", "failed": "red", "timed_out": "red", "cancelled": "yellow", "running": "cyan", "queued": "cyan"}
    plain = no_color()
    table = Table(show_header=True, header_style=None if plain else "bold", box=None, pad_edge=False)
    for col in ("", "RUN ID", "ADDRESS", "EXPERIMENT", "STATUS", "STARTED", "DURATION", "METRICS"):
        table.add_column(col, no_wrap=col != "METRICS")
    for r in rows:
        st = r["status"] or "-"
        if r["tainted"]:
            st += " (tainted)"
        if not plain:
            st = f"[{colors.get(r['status'], 'white')}]{st}[/]"
        metrics = " ".join(f"{k}={_fmt_metric(v)}" for k, v in sorted(r["metrics"].items())) or "-"
        started = (r["started_at"] or "-")[:19].replace("T", " ")
        table.add_row("*" if r["current"] else "", r["id"], r["address"] or "-", r["experiment"] or "-", st, started,
                      _fmt_duration(r["duration_seconds"]), metrics)
    console = Console(no_color=plain, highlight=False, width=None if sys.stdout.isatty() else 250, force_terminal=False if plain else None)
    console.print(table)
    click.echo("\n* the execution the state holds now; `trainform logs RUN_ID` shows any execution's log.")
    uris = list(dict.fromkeys(r["tracking_uri"] for r in rows if r.get("tracking_uri")))
    if uris:
        from providers.run.tracking import ui_command

        data_dir = os.path.join(os.getcwd(), ".trainform")
        for uri in uris:
            click.echo(f"MLflow runs: {uri}\n  view them: {ui_command(uri, data_dir)}")
