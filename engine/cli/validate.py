"""``trainform validate``: is the configuration valid, independent of variable values and state?"""

from __future__ import annotations

import json
import os

import click

from engine.cli.common import color_flag, no_color
from engine.diagnostics import Diagnostics


def validate_config() -> tuple[object, Diagnostics]:
    """Load, check the graph and evaluate every expression with unknown inputs.

    Like ``terraform validate``: variables are unknown (sensitive ones stay
    marked, so an output leaking one is caught), function names and argument
    counts are checked statically everywhere, and count/for_each values that
    are known without any input are checked too.
    """
    from engine.config.loader import load_config
    from engine.plan.model import PlanOptions
    from engine.session import Session
    from engine.evaluate import check_function_calls, config_expressions
    from engine.state import State
    from engine.values import UNKNOWN, Sensitive

    config, diags = load_config(".", cache_dir=os.path.join(".trainform", "cache"))
    if config is None or diags.has_errors:
        return config, diags
    inputs = {name: Sensitive(UNKNOWN) if var.sensitive else UNKNOWN for name, var in config.module.variables.items()}
    s = Session(config, inputs, State.new(), PlanOptions(validate_only=True, refresh=False))
    s.build_graph()
    from engine.config.variables import check_default_validations

    static = check_default_validations(config)
    for cfg in config.walk():
        for expr, address in config_expressions(cfg):
            check_function_calls(expr, static, address)
    walked = False
    if not s.diags.has_errors:
        s.plan()
        walked = True
    out = Diagnostics(list(diags) + list(s.diags))
    if walked:
        out.extend(_check_expansions(s, include_eval_errors=not s.diags.has_errors))
    return config, _in_source_order(_dedupe(list(out) + list(static)))


def _check_expansions(session, include_eval_errors: bool) -> Diagnostics:
    """count/for_each values known at validate time (literals, locals of literals)
    must be valid, as terraform validate checks them."""
    from engine.config.expr import evaluate
    from engine.evaluate import expand
    from engine.values import contains_unknown

    d = Diagnostics()
    for cfg in session.config.walk():
        scope = session.scopes[cfg.path]
        blocks = [(cfg.prefix + key, res) for key, res in cfg.module.resources.items()]
        blocks += [(cfg.prefix + "module." + name, call) for name, call in cfg.module.module_calls.items()]
        for address, res in blocks:
            expr = res.count if res.count is not None else res.for_each
            if expr is None:
                continue
            value, ed = evaluate(expr, scope.ctx())
            if ed.has_errors:
                if include_eval_errors:
                    d.extend(ed)
                continue
            if contains_unknown(value):
                continue
            expand(res, scope.ctx(), d, address)
    return d


def _in_source_order(diags) -> Diagnostics:
    """Diagnostics with a range sorted by file and position (the order a reader
    fixes them in); those without one (cycles, files) keep their place after."""
    ranged = sorted((d for d in diags if d.range is not None), key=lambda d: (d.range.filename, d.range.start.line, d.range.start.column))
    return Diagnostics(ranged + [d for d in diags if d.range is None])


def _dedupe(diags) -> Diagnostics:
    """One diagnostic per (severity, summary, place): the static pass and the
    evaluation can both find the same problem."""
    seen = set()
    out = Diagnostics()
    for d in diags:
        key = (d.severity, d.summary, str(d.range) if d.range is not None else d.detail)
        if key in seen:
            continue
        seen.add(key)
        out.append(d)
    return out


def diagnostic_json(d) -> dict:
    """A diagnostic as ``terraform validate -json`` writes it: range plus a snippet
    (block context, the source line, 0-based highlight offsets within it)."""
    from engine.diagnostics import global_sources

    out = d.to_json()
    r = d.range
    if r is None:
        return out
    sources = global_sources()
    code = sources.line(r.filename, r.start.line)
    if code is None:
        return out
    start = max(r.start.column - 1, 0)
    end = r.end.column - 1 if r.end.line == r.start.line else len(code)
    out["snippet"] = {
        "context": sources.context(r.filename, r.start),
        "code": code,
        "start_line": r.start.line,
        "highlight_start_offset": start,
        "highlight_end_offset": max(end, start),
        "values": [],
    }
    return out


@click.command("validate")
@click.option("-json", "--json", "json_out", is_flag=True, help="Machine-readable diagnostics with ranges.")
@color_flag
def validate_cmd(json_out):
    """Check whether the configuration is valid."""
    from engine.diagnostics import render

    config, diags = validate_config()
    errors = sum(1 for d in diags if d.severity == "error")
    warnings = len(diags) - errors
    if json_out:
        click.echo(json.dumps({
            "format_version": "1.0",
            "valid": errors == 0,
            "error_count": errors,
            "warning_count": warnings,
            "diagnostics": [diagnostic_json(d) for d in diags],
        }, indent=2))
        raise SystemExit(1 if errors else 0)
    color = not no_color()
    for d in diags:
        click.echo(render(d, color=color), err=True)
        click.echo("", err=True)
    if errors:
        raise SystemExit(1)
    click.echo(("\x1b[32m\x1b[1mSuccess!\x1b[0m" if color else "Success!") + " The configuration is valid" + (", but there were some validation warnings as shown above." if warnings else "."))
