"""``trainform logs ADDR [-f]`` and ``trainform runs``: look at training runs.

Both read the state only (no plan, no lock): a run's ``log_path`` and run
directory are recorded there by the run provider.  ``logs -f`` follows a run
that is still going -- in another ``apply`` or detached (``wait = false``) --
until its record says it ended.
"""

from __future__ import annotations

import json
import os
import sys
import time

import click

from engine.cli.common import color_flag, fail, get_backend_or_exit, no_color, read_state_or_exit
from engine.diagnostics import Diagnostics


def _state():
    from engine.cli.core import _maybe_config

    backend = get_backend_or_exit(_maybe_config())
    return read_state_or_exit(backend)


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
@click.argument("address")
def logs_cmd(follow, attempt, address):
    """Print (or follow) a run's log."""
    inst = _find_run(_state(), address)
    a = inst.attributes
    private = inst.private or {}
    log_path = a.get("log_path")
    run_dir = private.get("run_dir") or (os.path.dirname(a["outputs_path"]) if a.get("outputs_path") else None)
    if attempt is not None and run_dir:
        log_path = os.path.join(run_dir, "logs", f"attempt-{attempt}.log")
    if follow and a.get("status") == "running" and private.get("mode") == "docker" and (private.get("ident") or a.get("container_id")):
        if _follow_container(private.get("ident") or a.get("container_id")):
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


def _follow_container(ident: str) -> bool:
    """Stream a detached container's output; False when it cannot be found."""
    try:
        import docker

        c = docker.from_env().containers.get(ident)
    except Exception:  # noqa: BLE001 - gone or no daemon: fall back to the saved log
        return False
    for chunk in c.logs(stream=True, follow=True):
        sys.stdout.write(chunk.decode("utf-8", "replace"))
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


@click.command("runs")
@click.option("-experiment", "--experiment", "experiment", default=None, help="Only runs of this experiment.")
@click.option("-json", "--json", "json_out", is_flag=True, help="Print the runs as JSON.")
@color_flag
def runs_cmd(experiment, json_out):
    """List training runs with status, duration and final metrics."""
    state = _state()
    rows = []
    for inst in sorted((state.resources.values() if state else []), key=lambda i: i.address):
        if inst.type != "run":
            continue
        a = inst.attributes
        if experiment is not None and a.get("experiment") != experiment:
            continue
        rows.append({"address": inst.address, "id": a.get("id"), "experiment": a.get("experiment"), "status": a.get("status"),
                     "tainted": inst.status == "tainted", "started_at": a.get("started_at"), "duration_seconds": a.get("duration_seconds"),
                     "metrics": a.get("metrics") or {}})
    if json_out:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        click.echo("No runs" + (f" in experiment {experiment!r}." if experiment else " in the state."))
        return
    from rich.console import Console
    from rich.table import Table

    colors = {"succeeded": "green", "failed": "red", "timed_out": "red", "cancelled": "yellow", "running": "cyan", "queued": "cyan"}
    plain = no_color()
    table = Table(show_header=True, header_style=None if plain else "bold", box=None if plain else None, pad_edge=False)
    for col in ("ADDRESS", "EXPERIMENT", "STATUS", "DURATION", "METRICS"):
        table.add_column(col, no_wrap=col != "METRICS")
    for r in rows:
        status = r["status"] or "-"
        if r["tainted"]:
            status += " (tainted)"
        if not plain:
            status = f"[{colors.get(r['status'], 'white')}]{status}[/]"
        metrics = " ".join(f"{k}={_fmt_metric(v)}" for k, v in sorted(r["metrics"].items())) or "-"
        table.add_row(r["address"], r["experiment"] or "-", status, _fmt_duration(r["duration_seconds"]), metrics)
    console = Console(no_color=plain, highlight=False, width=None if sys.stdout.isatty() else 200, force_terminal=False if plain else None)
    console.print(table)
