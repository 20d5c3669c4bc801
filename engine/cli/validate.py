"""``trainform validate``: is the configuration valid, independent of variable values and state?"""

from __future__ import annotations

import json

import click

from engine.cli.common import color_flag, no_color


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

    from engine.queries import validate

    config, diags = validate()
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
